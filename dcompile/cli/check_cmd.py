"""``dcompile check``: check a function's derivatives at one or more points.

Each point gets a table of comparisons, first and second order: the reverse
gradient against central finite differences of ``f``, forward mode (``jvp``
along a random unit direction ``v``) against ``grad . v``, the Hessian against
central differences of the gradient, ``hvp`` against ``hessian @ v`` and, for
small all-scalar functions, the gradient and Hessian against SymPy's
derivatives of the traced graph. A check passes when its largest absolute
error is at most ``tol * max(1, max|reference|)`` (absolute for small values,
relative for large ones). Exit 0 when every check passes, 1 when one fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import click
import numpy as np

import dcompile as dc
from dcompile.api import Function
from dcompile.cli.common import (
    EXIT_FAILED,
    CliError,
    TargetSpec,
    echo_json,
    example_args,
    function_of,
    json_option,
    target_options,
    wrt_option,
)

SYMPY_MAX_EQNS = 200  # SymPy checks for graphs up to this size (with scalar arguments only)
FULL_MAX = 100  # coordinate-wise finite differences and full Hessians up to this many variables
EPS = 1e-5  # central-difference step, scaled by max(1, |x|)
LOW, HIGH = 0.5, 2.0  # random points: each float drawn from U(LOW, HIGH)


@dataclass
class Row:
    """One comparison at one point."""

    check: str
    order: int
    max_abs_error: float | None
    max_rel_error: float | None
    tolerance: float
    status: str  # "pass", "FAIL" or "skip"
    note: str = ""


# -- points -----------------------------------------------------------------------------


def scalar_names(fn: Function, shapes: Sequence[str]) -> list[str]:
    """The arguments without a ``--shape``: the ones ``--at`` gives values for."""
    shaped = {s.partition("=")[0] for s in shapes}
    return [n for n in fn.arg_names if n not in shaped]


def parse_at(fn: Function, at: str, shapes: Sequence[str]) -> list[float]:
    """The ``--at`` values, checked against the number of scalar arguments."""
    names = scalar_names(fn, shapes)
    items = [s.strip() for s in at.split(",")] if at.strip() else []
    try:
        values = [float(s) for s in items]
    except ValueError:
        raise CliError(f"--at {at!r}: give comma-separated numbers, e.g. --at 1,2.5,-3") from None
    if len(values) != len(names):
        shaped = [n for n in fn.arg_names if n not in names]
        extra = f"; {', '.join(shaped)} have --shape and get random arrays" if shaped else ""
        raise CliError(
            f"--at gives {len(values)} value{'s' * (len(values) != 1)}, but {fn.name}({', '.join(fn.arg_names)}) "
            f"takes {len(names)} scalar argument{'s' * (len(names) != 1)}"
            f"{' (' + ', '.join(names) + ')' if names else ''}{extra}"
        )
    return values


def make_point(fn: Function, shapes: Sequence[str], at: list[float] | None, rng: np.random.Generator) -> list[Any]:
    """Arguments for ``fn``: ``at`` for the scalars (random if None), random arrays of their ``--shape``.

    Float arrays and scalars are drawn from U(0.5, 2); boolean arrays at random;
    integer arrays (data such as indices) stay zero.
    """
    args = example_args(fn, shapes)
    scalars = iter(at) if at is not None else None
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                args[i] = rng.uniform(LOW, HIGH, size=a.shape)
            elif a.dtype.kind == "b":
                args[i] = rng.random(a.shape) < 0.5
        else:
            args[i] = next(scalars) if scalars is not None else float(rng.uniform(LOW, HIGH))
    return args


def _arg_text(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"<{'x'.join(str(d) for d in a.shape) or 'scalar'} {a.dtype}>"
    return f"{a:.6g}"


def describe(fn: Function, args: Sequence[Any]) -> str:
    return ", ".join(f"{n}={_arg_text(a)}" for n, a in zip(fn.arg_names, args, strict=True))


# -- comparisons ------------------------------------------------------------------------


def _flat(x: Any) -> np.ndarray:
    if isinstance(x, (tuple, list)):
        parts = [np.ravel(np.asarray(p, dtype=float)) for p in x]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.ravel(np.asarray(x, dtype=float))


def compare(check: str, order: int, got: Any, ref: Any, tol: float) -> Row:
    a, b = _flat(got), _flat(ref)
    if a.shape != b.shape:
        return Row(check, order, None, None, tol, "FAIL", f"shapes differ: {a.shape} vs {b.shape}")
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    rel = err / scale if scale > 0 else (0.0 if err == 0 else math.inf)
    ok = bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and err <= tol * max(1.0, scale))
    return Row(check, order, err, rel, tol, "pass" if ok else "FAIL")


def skip(check: str, order: int, tol: float, why: str) -> Row:
    return Row(check, order, None, None, tol, "skip", why)


class Problem:
    """``fn`` at a point, seen as a function of the flat vector of its ``wrt`` entries."""

    def __init__(self, fn: Function, args: list[Any], wrt: tuple[int, ...]) -> None:
        self.fn, self.args, self.wrt = fn, args, wrt
        self.shapes = [np.shape(args[i]) for i in wrt]
        self.theta = _flat([args[i] for i in wrt])
        self.n = self.theta.size

    def pieces(self, vec: np.ndarray) -> list[Any]:
        out: list[Any] = []
        start = 0
        for shape in self.shapes:
            size = math.prod(shape)
            chunk = vec[start : start + size]
            out.append(float(chunk[0]) if shape == () else chunk.reshape(shape).copy())
            start += size
        return out

    def at(self, theta: np.ndarray) -> list[Any]:
        args = list(self.args)
        for i, piece in zip(self.wrt, self.pieces(theta), strict=True):
            args[i] = piece
        return args

    def direction(self, vec: np.ndarray) -> Any:
        """``vec`` as jvp/hvp take it: one array alone, else a list of entries."""
        pieces = self.pieces(vec)
        return pieces[0] if len(pieces) == 1 and self.shapes[0] != () else pieces

    def step(self, theta: np.ndarray) -> float:
        return EPS * max(1.0, float(np.max(np.abs(theta))) if theta.size else 1.0)

    def central(self, g: Callable[..., Any], along: np.ndarray) -> np.ndarray:
        """Central difference of ``g`` (f or grad) along ``along``."""
        h = self.step(self.theta)
        plus, minus = _flat(g(*self.at(self.theta + h * along))), _flat(g(*self.at(self.theta - h * along)))
        return (plus - minus) / (2 * h)

    def fd_jacobian(self, g: Callable[..., Any]) -> np.ndarray:
        """Coordinate-wise central differences: one column per variable."""
        eye = np.eye(self.n)
        return np.stack([self.central(g, eye[k]) for k in range(self.n)], axis=-1)


class SympyReference:
    """Gradient and Hessian from ``sympy.diff`` of the traced graph (built once, lazily)."""

    def __init__(self, fn: Function, args: list[Any], wrt: tuple[int, ...]) -> None:
        self.why = ""
        self._eval: Callable[..., Any] | None = None
        self._fn, self._args, self._wrt = fn, args, wrt
        if any(isinstance(a, np.ndarray) for a in args):
            self.why = "array arguments"
        else:
            n = len(fn.graph(fn.signature(args)[0]).eqns)
            if n > SYMPY_MAX_EQNS:
                self.why = f"{n} equations > {SYMPY_MAX_EQNS}"

    def evaluate(self, args: Sequence[Any]) -> tuple[np.ndarray, np.ndarray] | None:
        if self.why:
            return None
        if self._eval is None:
            try:
                self._eval = self._build()
            except Exception as exc:  # no SymPy form, or SymPy cannot differentiate it
                self.why = f"{type(exc).__name__}: {exc}"
                return None
        grad, hess = self._eval(*[float(a) for a in args])
        return np.asarray(grad, dtype=float), np.asarray(hess, dtype=float)

    def _build(self) -> Callable[..., Any]:
        import sympy as sp

        from dcompile.frontend.sympy_lower import to_sympy

        fn = self._fn
        symbols = [sp.Symbol(f"_s{i}") for i in range(len(fn.arg_names))]
        (expr,) = to_sympy(fn.graph(fn.signature(self._args)[0]), symbols)
        grad = [sp.diff(expr, symbols[i]) for i in self._wrt]
        hess = [[sp.diff(g, symbols[j]) for j in self._wrt] for g in grad]
        return sp.lambdify(symbols, [grad, hess], modules="numpy")


@dataclass
class Derivatives:
    grad: Any
    jvp: Any
    hessian: Any
    hvp: Any

    @classmethod
    def of(cls, fn: Function, wrt: tuple[int, ...]) -> Derivatives:
        return cls(dc.grad(fn, wrt), dc.jvp(fn, wrt), dc.hessian(fn, wrt), dc.hvp(fn, wrt))


def check_point(p: Problem, d: Derivatives, sym: SympyReference, tol: float, rng: np.random.Generator) -> list[Row]:
    """Every comparison at one point."""
    v = rng.standard_normal(p.n)
    v /= np.linalg.norm(v) or 1.0
    g = _flat(d.grad(*p.args))
    gv = float(g @ v)
    rows = []
    if p.n <= FULL_MAX:
        rows.append(compare("grad vs finite differences", 1, g, p.fd_jacobian(p.fn), tol))
    else:
        rows.append(compare("grad.v vs finite difference", 1, gv, p.central(p.fn, v), tol))
    _, forward = d.jvp(p.args, p.direction(v))
    rows.append(compare("jvp vs grad.v", 1, forward, gv, tol))
    hv = _flat(d.hvp(p.args, p.direction(v)))
    hess = None
    if p.n <= FULL_MAX:
        hess = np.asarray(d.hessian(*p.args), dtype=float).reshape(p.n, p.n)
        rows.append(compare("hessian vs finite differences of grad", 2, hess, p.fd_jacobian(d.grad), tol))
        rows.append(compare("hvp vs hessian @ v", 2, hv, hess @ v, tol))
    else:
        rows.append(compare("hvp vs finite difference of grad", 2, hv, p.central(d.grad, v), tol))
        rows.append(skip("hvp vs hessian @ v", 2, tol, f"{p.n} variables > {FULL_MAX}: Hessian not formed"))
    ref = sym.evaluate(p.args)
    if ref is None:
        rows.append(skip("grad vs sympy", 1, tol, sym.why))
        rows.append(skip("hessian vs sympy", 2, tol, sym.why))
    else:
        rows.append(compare("grad vs sympy", 1, g, ref[0], tol))
        if hess is None:
            rows.append(skip("hessian vs sympy", 2, tol, f"{p.n} variables > {FULL_MAX}: Hessian not formed"))
        else:
            rows.append(compare("hessian vs sympy", 2, hess, ref[1], tol))
    return sorted(rows, key=lambda r: r.order)


# -- output -----------------------------------------------------------------------------


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def echo_table(rows: Sequence[Row]) -> None:
    width = max(len(r.check) for r in rows)
    click.echo(f"  {'check':<{width}}  order  max abs err  max rel err  tolerance  status")
    for r in rows:
        line = (
            f"  {r.check:<{width}}  {r.order:>5}  {_num(r.max_abs_error):>11}  {_num(r.max_rel_error):>11}"
            f"  {r.tolerance:>9.0e}  {r.status}"
        )
        click.echo(line + (f"  ({r.note})" if r.note else ""))


def _record(point: int, seed: int, fn: Function, args: Sequence[Any], row: Row) -> dict[str, Any]:
    """A JSON record: scalars by value, arrays as ``"<5x3 float64>"`` (``seed`` regenerates them)."""
    values = {n: _arg_text(a) if isinstance(a, np.ndarray) else a for n, a in zip(fn.arg_names, args, strict=True)}
    rec = {"point": point, "seed": seed, "args": values, **asdict(row)}
    for key in ("max_abs_error", "max_rel_error"):
        if rec[key] is not None and not math.isfinite(rec[key]):
            rec[key] = None  # keep the output strict JSON
    return rec


@click.command(
    short_help="Check derivatives against oracles.",
    epilog="Examples:\n\n  dcompile check model.py:f --at 1,2,3,4\n\n"
    "  dcompile check model.py:f --random 5 --seed 1 --tol 1e-8\n\n"
    '  dcompile check --expr "sin(x)*exp(y)" --args x,y --at 0.3,1.2\n\n'
    "  dcompile check model.py:loss --wrt w --shape w=3 --shape X=5x3 --shape y=5",
)
@target_options
@wrt_option
@click.option("--at", "at", metavar="X1,X2,...", help="the point: one value per scalar argument, in order")
@click.option("--random", "n_random", metavar="N", type=click.IntRange(min=1), help="check at N random points")
@click.option("--seed", default=0, show_default=True, help="seed of the random points, arrays and directions")
@click.option("--tol", default=1e-6, show_default=True, help="tolerance (absolute below 1, relative above)")
@click.option(
    "--backend",
    type=click.Choice(["numba", "python"]),
    default="numba",
    show_default=True,
    help="run the machine code users run (numba), or the same generated source in Python (starts faster)",
)
@json_option
def command(
    *,
    spec: TargetSpec,
    wrt: str | None,
    at: str | None,
    n_random: int | None,
    seed: int,
    tol: float,
    backend: str,
    as_json: bool,
) -> int:
    """Check derivatives against finite differences, SymPy, and forward vs reverse mode.

    The point is --at (scalar arguments; array arguments with --shape get random
    values), or N random points with --random (one random point by default).
    Exit 0 when every check passes, 1 when one fails.
    """
    target, expr, args_, name, shapes = spec.target, spec.expr, spec.args, spec.name, spec.shapes
    if at is not None and n_random is not None:
        raise CliError("give --at or --random, not both")
    fn = function_of(target, expr, args_, name, backend=backend)
    fixed = parse_at(fn, at, shapes) if at is not None else None
    rng = np.random.default_rng(seed)
    points = [make_point(fn, shapes, fixed, rng) for _ in range(n_random or 1)]
    sig = fn.signature(points[0])[0]
    names = [w.strip() for w in wrt.split(",")] if wrt else None
    wrt_idx = tuple(i for i in fn.resolve_wrt(names) if names or sig[i].dtype.differentiable)
    derivs = Derivatives.of(fn, wrt_idx)
    sym = SympyReference(fn, points[0], wrt_idx)
    results = [check_point(Problem(fn, args, wrt_idx), derivs, sym, tol, rng) for args in points]
    failed = sum(r.status == "FAIL" for rows in results for r in rows)
    if as_json:
        echo_json(
            [
                _record(k + 1, seed, fn, args, r)
                for k, (args, rows) in enumerate(zip(points, results, strict=True))
                for r in rows
            ]
        )
        return EXIT_FAILED if failed else 0
    where = f"{len(points)} random point{'s' * (len(points) > 1)}, seed {seed}" if fixed is None else "--at"
    wrt_names = ", ".join(fn.arg_names[i] for i in wrt_idx)
    click.echo(f"check {fn.name}({', '.join(fn.arg_names)}) wrt {wrt_names}: {where}, {backend} backend")
    for k, (args, rows) in enumerate(zip(points, results, strict=True)):
        click.echo(f"\npoint {k + 1}: {describe(fn, args)}")
        echo_table(rows)
    total = sum(r.status != "skip" for rows in results for r in rows)
    click.echo(f"\n{failed} of {total} checks FAILED" if failed else f"\nall {total} checks passed")
    return EXIT_FAILED if failed else 0
