"""The ``dcompile`` command: see, explain, check, time and export generated code.

Built on click; one module per command. ``main(argv)`` returns the exit code
(0 ok, 1 a check failed, 2 a usage or input error), so tests can call it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import click

from dcompile.cli.common import EXIT_USAGE, CliError, cli_wording
from dcompile.errors import DcompileError

COMMANDS = ("show", "explain", "graph", "check", "bench", "export", "cache", "demo")


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="\b\nExamples:\n  dcompile show model.py:loss --mode grad --shape x=100\n"
    '  dcompile explain --expr "(x1 + w1)**2 * (x1*w1 + x2*w2)" --args x1,x2,w1,w2 --wrt w1\n'
    "  dcompile check model.py:f --at 1,2,3,4",
)
@click.version_option(package_name="dcompile")
def cli() -> None:
    """A derivative compiler: see the code it generates for a function and its derivatives.

    TARGET is path/to/file.py:func or package.module:func; or give a SymPy
    expression with --expr and --args.
    """


for _name in COMMANDS:
    try:
        _module = importlib.import_module(f"dcompile.cli.{_name}_cmd")
    except ModuleNotFoundError as _exc:  # a command not written yet (while developing)
        if _exc.name != f"dcompile.cli.{_name}_cmd":
            raise
        continue
    cli.add_command(_module.command, _name)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dcompile`` console script; returns the exit code."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except click.exceptions.Abort:
        return EXIT_USAGE
    except DcompileError as exc:
        CliError(cli_wording(str(exc))).show()
        return EXIT_USAGE
    return int(result or 0)


__all__ = ["CliError", "cli", "main"]
