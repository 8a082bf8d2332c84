"""``dcompile demo``: the worked example end to end."""

from __future__ import annotations

import click


@click.command(short_help="Run the worked example and an optimizer.")
def command() -> int:
    """Compile the worked example, print its gradient code and run an optimizer on it."""
    from dcompile.demo import main as demo_main

    demo_main()
    return 0
