"""``dcompile cache info|clear``: where generated modules and machine code live."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from dcompile.backend.cache import ENV_VAR, cache_dir
from dcompile.cli.common import echo_json, json_option

SHOWN = 10  # newest modules listed by `cache info`


@click.group(
    short_help="Show or clear the disk cache.",
    epilog="\b\nExamples:\n  dcompile cache info\n  dcompile cache info --json\n  dcompile cache clear --yes",
)
def command() -> None:
    """The disk cache of generated modules and numba machine code."""


def _entries(path: Path) -> tuple[list[Path], int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sorted(path.glob("*.py")), sum(p.stat().st_size for p in files)


@command.command("info")
@json_option
def info(as_json: bool) -> int:
    """Where the cache is, its size and its generated modules."""
    path = cache_dir()
    modules, size = _entries(path)
    if as_json:
        echo_json({"path": str(path), "bytes": size, "modules": [m.name for m in modules]})
        return 0
    click.echo(f"cache: {path}  (set ${ENV_VAR} to move it)")
    click.echo(f"size: {size / 1024:.1f} KiB in {len(modules)} generated modules")
    newest = sorted(modules, key=lambda m: m.stat().st_mtime, reverse=True)[:SHOWN]
    for m in newest:
        click.echo(f"  {m.name}")
    if len(modules) > SHOWN:
        click.echo(f"  ... and {len(modules) - SHOWN} more (--json lists all)")
    return 0


@command.command("clear")
@click.option("--yes", is_flag=True, help="do not ask")
def clear(yes: bool) -> int:
    """Delete every cached module and its machine code."""
    path = cache_dir()
    modules, size = _entries(path)
    if not yes and not click.confirm(f"delete {len(modules)} modules ({size / 1024:.1f} KiB) in {path}?"):
        return 0
    for child in path.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    click.echo(f"cleared {path}")
    return 0
