"""The ``dcompile`` command: show generated code, run the demo.

dcompile show path/to/file.py:func [--mode grad] [--wrt a,b] [--stage source|ir]
dcompile show file.py:loss --shape w=20 --shape X=500x20 --shape y=500   (array arguments)
dcompile show package.module:func ...
dcompile show --expr "(x1 + w1)**2 * (x1*w1 + x2*w2)" --args x1,x2,w1,w2
dcompile demo
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcompile.api import Derivative, DirectionalDerivative, Function, compile, from_sympy
from dcompile.errors import DcompileError
from dcompile.pipeline import MODES


class CliError(Exception):
    """A usage problem reported as one line, exit code 2."""


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
    if isinstance(obj, Function):
        return obj.with_backend(backend)
    if callable(obj):
        return compile(obj, backend=backend)
    raise CliError(f"{obj!r} is not a function")


def _function_from_args(args: argparse.Namespace) -> Function:
    if args.expr is not None:
        import sympy as sp

        if not args.args:
            raise CliError("--expr needs --args x,y,... (the argument order)")
        symbols = [sp.Symbol(a.strip()) for a in args.args.split(",")]
        try:
            expr = sp.parse_expr(args.expr, local_dict={s.name: s for s in symbols})
        except (SyntaxError, TypeError, sp.SympifyError) as exc:
            raise CliError(f"cannot parse --expr: {exc}") from None
        return from_sympy(expr, symbols, name=args.name, backend="python")
    if args.target is None:
        raise CliError("give a TARGET (file.py:func) or --expr")
    return as_function(load_target(args.target))


def example_args(fn: Function, shapes: Sequence[str]) -> list[Any]:
    """Zero arguments for ``--shape NAME=DIMS[:DTYPE]`` entries (``X=500x20``, ``idx=10:int64``); others scalars."""
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


def cmd_show(args: argparse.Namespace) -> int:
    fn = _function_from_args(args)
    wrt = [w.strip() for w in args.wrt.split(",")] if args.wrt else None
    wrt_idx = fn.resolve_wrt(wrt)
    kind = DirectionalDerivative if args.mode in ("jvp", "vjp", "hvp") else Derivative
    d = kind(fn, args.mode, wrt_idx, all_float=wrt is None)
    if args.shape:
        d.specialize(*example_args(fn, args.shape))
    try:
        text = d.ir if args.stage == "ir" else d.source
    except DcompileError as exc:
        if args.shape:
            raise
        raise CliError(f"{exc}\nFor array arguments give their shapes: --shape NAME=DIMS, e.g. --shape x=100") from None
    print(text, end="" if args.stage == "source" else "\n")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dcompile.demo import main as demo_main

    demo_main()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dcompile", description="A derivative compiler: see the code it generates.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the generated source (or SSA listing) of a function or derivative")
    show.add_argument("target", nargs="?", help="path/to/file.py:func or package.module:func")
    show.add_argument("--mode", default="grad", choices=MODES, help="which function to generate (default: grad)")
    show.add_argument("--wrt", help="comma-separated argument names to differentiate with respect to")
    show.add_argument("--stage", default="source", choices=("source", "ir"), help="emitted source or SSA listing")
    show.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="NAME=DIMS[:DTYPE]",
        help="an array argument's shape (and dtype), e.g. X=500x20 or idx=10:int64; repeat per argument",
    )
    show.add_argument("--expr", help="a SymPy expression instead of a TARGET")
    show.add_argument("--args", help="with --expr: the argument names, in order")
    show.add_argument("--name", default="f", help="with --expr: the function's name")
    show.set_defaults(run=cmd_show)
    demo = sub.add_parser("demo", help="compile the worked example, print its gradient code, run an optimizer")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dcompile`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (CliError, DcompileError) as exc:
        print(f"dcompile: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
