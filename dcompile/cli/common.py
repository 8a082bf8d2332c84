"""What every ``dcompile`` command shares: finding the target, array shapes, output, errors.

A *target* is a function in a file (``path/to/model.py:func``), in an
importable module (``package.module:func``), or a SymPy expression given with
``--expr`` and ``--args``. Exit codes: 0 ok, 1 a check failed, 2 a usage or
input error (reported as one message, never a traceback).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from dcompile.api import Derivative, DirectionalDerivative, Function, compile, from_sympy
from dcompile.pipeline import MODES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(click.ClickException):
    """A usage or input problem: one message, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        click.echo(f"dcompile: error: {self.format_message()}", err=True)


def load_target(target: str) -> Any:
    """The object named by ``path/to/file.py:func`` or ``package.module:func``."""
    if ":" not in target:
        raise CliError(f"target {target!r} must look like path/to/file.py:func or package.module:func")
    where, _, attr = target.rpartition(":")
    if where.endswith(".py") or Path(where).is_file():
        path = Path(where)
        if not path.is_file():
            raise CliError(f"no such file: {where}")
        spec = importlib.util.spec_from_file_location(f"_dcompile_target_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise CliError(f"cannot load {where} as Python")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent.resolve()))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's file: report where, not a traceback
            raise CliError(f"{where} failed to import: {type(exc).__name__}: {exc}") from None
        finally:
            sys.path.pop(0)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise CliError(f"cannot import {where}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise CliError(f"{where} has no attribute {attr!r}") from None


def as_function(obj: Any, backend: str = "python") -> Function:
    """A compiled :class:`Function` of ``obj`` (a decorated function or a plain one)."""
    if isinstance(obj, Function):
        return obj.with_backend(backend)
    if callable(obj):
        return compile(obj, backend=backend)
    raise CliError(f"{obj!r} is not a function")


def function_of(target: str | None, expr: str | None, args: str | None, name: str, backend: str = "python") -> Function:
    """The function a command works on: a TARGET, or ``--expr`` with ``--args``."""
    if expr is not None:
        import sympy as sp

        if not args:
            raise CliError("--expr needs --args x,y,... (the argument order)")
        symbols = [sp.Symbol(a.strip()) for a in args.split(",")]
        try:
            parsed = sp.parse_expr(expr, local_dict={s.name: s for s in symbols})
        except (SyntaxError, TypeError, sp.SympifyError) as exc:
            raise CliError(f"cannot parse --expr: {exc}") from None
        return from_sympy(parsed, symbols, name=name, backend=backend)
    if target is None:
        raise CliError("give a TARGET (file.py:func) or --expr")
    return as_function(load_target(target), backend)


def example_args(fn: Function, shapes: Sequence[str]) -> list[Any]:
    """Zero arguments for ``--shape NAME=DIMS[:DTYPE]`` entries (``X=500x20``, ``idx=10:int64``); others 0.0."""
    import numpy as np

    given: dict[str, Any] = {}
    for item in shapes:
        name, sep, spec = item.partition("=")
        dims, _, dtype = spec.partition(":")
        try:
            shape = tuple(int(n) for n in dims.lower().split("x")) if dims else ()
            arr = np.zeros(shape, dtype=dtype or "float64")
        except (ValueError, TypeError):
            raise CliError(f"--shape {item!r}: write NAME=DIMS[:DTYPE], e.g. X=500x20 or idx=10:int64") from None
        if not sep or name not in fn.arg_names:
            raise CliError(f"--shape {item!r}: {name!r} is not an argument of {fn.name} ({', '.join(fn.arg_names)})")
        given[name] = arr
    return [given.get(n, 0.0) for n in fn.arg_names]


def derivative(fn: Function, mode: str, wrt: str | None, shapes: Sequence[str]) -> Derivative:
    """The derivative object of ``mode``, specialised for ``--shape`` when given."""
    names = [w.strip() for w in wrt.split(",")] if wrt else None
    kind = DirectionalDerivative if mode in ("jvp", "vjp", "hvp") else Derivative
    d = kind(fn, mode, fn.resolve_wrt(names), all_float=names is None)
    if shapes:
        d.specialize(*example_args(fn, shapes))
    return d


@dataclass(frozen=True)
class TargetSpec:
    """What names the function a command works on (see :func:`target_options`)."""

    target: str | None
    expr: str | None
    args: str | None
    name: str
    shapes: tuple[str, ...]


def target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that takes a function has, passed to it as one ``spec``."""

    @functools.wraps(f)
    def command(**kwargs: Any) -> Any:
        keys = ("target", "expr", "args_", "name", "shapes")
        spec = TargetSpec(*(kwargs.pop(k) for k in keys))
        return f(spec=spec, **kwargs)

    options = [
        click.argument("target", required=False),
        click.option("--expr", help="a SymPy expression instead of a TARGET"),
        click.option("--args", "args_", help="with --expr: the argument names, in order (x1,x2,...)"),
        click.option("--name", default="f", show_default=True, help="with --expr: the function's name"),
        click.option(
            "--shape",
            "shapes",
            multiple=True,
            metavar="NAME=DIMS[:DTYPE]",
            help="an array argument's shape (and dtype), e.g. X=500x20 or idx=10:int64; repeat per argument",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def mode_option(default: str = "grad") -> Callable[..., Any]:
    return click.option(
        "--mode", default=default, show_default=True, type=click.Choice(MODES), help="which function to generate"
    )


wrt_option = click.option("--wrt", help="comma-separated argument names to differentiate with respect to")
json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def echo_source(source: str) -> None:
    """Python source: syntax-highlighted on a terminal, plain when piped."""
    if sys.stdout.isatty():
        try:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import PythonLexer

            click.echo(highlight(source, PythonLexer(), TerminalFormatter()), nl=False)
            return
        except ImportError:
            pass
    click.echo(source, nl=False)


_SHAPE_HINT = "For array arguments give their shapes: --shape NAME=DIMS, e.g. --shape x=100"


def cli_wording(message: str) -> str:
    """A library error said in the command line's terms (options, not Python calls)."""
    lines = [line for line in message.splitlines() if not line.startswith("Note: ") or "scalar arguments" not in line]
    text = "\n".join(lines)
    text = re.sub(
        r"Fix: add it to args=\[\.\.\.\] or substitute a number with expr\.subs\((\w+), value\)\.",
        r"Fix: add \1 to --args, or put a number in its place in --expr.",
        text,
    )
    if ("scalar traced value" in message or "scalar arguments" in message) and _SHAPE_HINT not in text:
        text += "\n" + _SHAPE_HINT
    return text
