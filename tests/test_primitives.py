"""Table-driven tests of every elementwise primitive.

Each row of ``ROWS`` states one primitive (or one spelling of it: ``np.``,
``math.``, ``dc.``, an operator) as a Python function, the same function as a
SymPy expression, and the input domain. For every row and every sample point
(drawn inside the domain, away from kinks and branch cuts) the pure-Python
backend is checked against NumPy (the value), ``sympy.diff`` (gradient and
Hessian) and central finite differences (gradient), and the derivative modes
are checked against each other (jvp, vjp, hvp, value_and_grad, wrt subsets).

The last part compiles a handful of multi-primitive functions with numba once
per module and checks that numba agrees with the Python backend.
"""

# The rows wrap np.sin etc. in lambdas on purpose: dc.compile traces a Python
# function with named arguments, which a ufunc or a math builtin is not.
# ruff: noqa: PLW0108

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile.frontend.sympy_lower import to_sympy
from dcompile.ir.verify import verify
from tests import helpers

N_POINTS = 3
RTOL = 1e-10  # dcompile vs exact (SymPy at 30 digits)
FD_RTOL = 1e-6  # dcompile vs a five-point central difference


@dataclass(frozen=True)
class Row:
    """One primitive: the traced function, its SymPy form, and its domain."""

    id: str
    fn: Callable[..., Any]
    sym: Callable[..., sp.Expr]
    domain: Sequence[tuple[float, float]]
    ok: Callable[..., bool] | None = None  # extra condition: away from kinks and cuts

    @property
    def nargs(self) -> int:
        return len(self.domain)


R = (-2.0, 2.0)  # the default domain of an argument
POS = (0.2, 3.0)


def _apart(x: float, y: float) -> bool:
    return abs(x - y) > 0.1


def _not_on_cut(y: float, x: float) -> bool:
    """Away from the origin and from arctan2's branch cut (x < 0, y = 0)."""
    return math.hypot(x, y) > 0.3 and not (x < 0 and abs(y) < 0.3)


ROWS: list[Row] = [
    # arithmetic
    Row("neg", lambda x: -x, lambda x: -x, [R]),
    Row("pos", lambda x: +x, lambda x: x, [R]),
    Row("add", lambda x, y: x + y, lambda x, y: x + y, [R, R]),
    Row("add_const", lambda x: 1.5 + x, lambda x: 1.5 + x, [R]),
    Row("sub", lambda x, y: x - y, lambda x, y: x - y, [R, R]),
    Row("rsub_const", lambda x: 1.5 - x, lambda x: 1.5 - x, [R]),
    Row("mul", lambda x, y: x * y, lambda x, y: x * y, [R, R]),
    Row("mul_self", lambda x: x * x, lambda x: x * x, [R]),
    Row("div", lambda x, y: x / y, lambda x, y: x / y, [R, R], lambda x, y: abs(y) > 0.3),
    Row("rdiv_const", lambda x: 2.0 / x, lambda x: 2 / x, [R], lambda x: abs(x) > 0.3),
    Row("np.reciprocal", lambda x: np.reciprocal(x), lambda x: 1 / x, [R], lambda x: abs(x) > 0.3),
    # integer powers
    Row("ipow0", lambda x: x**0, lambda x: sp.Integer(1), [R]),
    Row("ipow1", lambda x: x**1, lambda x: x, [R]),
    Row("ipow2", lambda x: x**2, lambda x: x**2, [R]),
    Row("ipow3", lambda x: x**3, lambda x: x**3, [R]),
    Row("ipow7", lambda x: x**7, lambda x: x**7, [R]),
    Row("ipow-1", lambda x: x**-1, lambda x: x**-1, [R], lambda x: abs(x) > 0.3),
    Row("ipow-3", lambda x: x**-3, lambda x: x**-3, [R], lambda x: abs(x) > 0.3),
    Row("ipow_float2.0", lambda x: x**2.0, lambda x: x**2, [R]),
    Row("np.square", lambda x: np.square(x), lambda x: x**2, [R]),
    Row("np.power_int", lambda x: np.power(x, 3), lambda x: x**3, [R]),
    # real and symbolic powers
    Row("pow2.5", lambda x: x**2.5, lambda x: x**2.5, [POS]),
    Row("pow-0.5", lambda x: x**-0.5, lambda x: x**-0.5, [POS]),
    Row("pow0.5", lambda x: x**0.5, lambda x: sp.sqrt(x), [POS]),
    Row("pow_xy", lambda x, y: x**y, lambda x, y: x**y, [POS, R]),
    Row("rpow_const_base", lambda x: 2.0**x, lambda x: 2**x, [R]),
    Row("math.pow", lambda x, y: math.pow(x, y), lambda x, y: x**y, [POS, R]),
    # exponentials and logarithms
    Row("exp", lambda x: np.exp(x), sp.exp, [R]),
    Row("log", lambda x: np.log(x), sp.log, [POS]),
    Row("log1p", lambda x: np.log1p(x), lambda x: sp.log(1 + x), [(-0.8, 3.0)]),
    Row("expm1", lambda x: np.expm1(x), lambda x: sp.exp(x) - 1, [R]),
    Row("sqrt", lambda x: np.sqrt(x), sp.sqrt, [POS]),
    # trigonometric
    Row("sin", lambda x: np.sin(x), sp.sin, [(-4.0, 4.0)]),
    Row("cos", lambda x: np.cos(x), sp.cos, [(-4.0, 4.0)]),
    Row("tan", lambda x: np.tan(x), sp.tan, [(-1.2, 1.2)]),
    Row("arcsin", lambda x: np.arcsin(x), sp.asin, [(-0.9, 0.9)]),
    Row("arccos", lambda x: np.arccos(x), sp.acos, [(-0.9, 0.9)]),
    Row("arctan", lambda x: np.arctan(x), sp.atan, [(-3.0, 3.0)]),
    Row("arctan2", lambda y, x: np.arctan2(y, x), sp.atan2, [R, R], _not_on_cut),
    # hyperbolic
    Row("sinh", lambda x: np.sinh(x), sp.sinh, [R]),
    Row("cosh", lambda x: np.cosh(x), sp.cosh, [R]),
    Row("tanh", lambda x: np.tanh(x), sp.tanh, [(-3.0, 3.0)]),
    # kinks
    Row("abs", lambda x: abs(x), sp.Abs, [R], lambda x: abs(x) > 0.1),
    Row("np.abs", lambda x: np.abs(x), sp.Abs, [R], lambda x: abs(x) > 0.1),
    Row("sign", lambda x: np.sign(x), sp.sign, [R], lambda x: abs(x) > 0.1),
    Row(
        "sign_times", lambda x, y: np.sign(x) * y**2, lambda x, y: sp.sign(x) * y**2, [R, R], lambda x, y: abs(x) > 0.1
    ),
    Row("maximum", lambda x, y: np.maximum(x, y), sp.Max, [R, R], _apart),
    Row("minimum", lambda x, y: np.minimum(x, y), sp.Min, [R, R], _apart),
    Row(
        "np.clip",
        lambda x: np.clip(x, -1.0, 1.0),
        lambda x: sp.Min(sp.Max(x, -1), 1),
        [R],
        lambda x: abs(abs(x) - 1.0) > 0.1,
    ),
    Row(
        "where_gt",
        lambda x, y: dc.where(x > y, x * y, x - y**2),
        lambda x, y: sp.Piecewise((x * y, x > y), (x - y**2, True)),
        [R, R],
        _apart,
    ),
    Row(
        "where_le_const",
        lambda x: dc.where(x <= 0.5, np.sin(x), 2.0),
        lambda x: sp.Piecewise((sp.sin(x), x <= sp.Rational(1, 2)), (2, True)),
        [R],
        lambda x: abs(x - 0.5) > 0.1,
    ),
    Row(
        "np.where",
        lambda x, y: np.where(x < y, np.exp(x), y**3),
        lambda x, y: sp.Piecewise((sp.exp(x), x < y), (y**3, True)),
        [R, R],
        _apart,
    ),
    # smooth activations and reductions
    Row("sigmoid", lambda x: dc.sigmoid(x), lambda x: 1 / (1 + sp.exp(-x)), [(-5.0, 5.0)]),
    Row("softplus", lambda x: dc.softplus(x), lambda x: sp.log(1 + sp.exp(x)), [(-5.0, 5.0)]),
    Row("logaddexp", lambda x, y: np.logaddexp(x, y), lambda x, y: sp.log(sp.exp(x) + sp.exp(y)), [R, R]),
    Row(
        "logsumexp",
        lambda x, y, z: dc.logsumexp(x, y, z),
        lambda x, y, z: sp.log(sp.exp(x) + sp.exp(y) + sp.exp(z)),
        [R, R, R],
    ),
    Row("logsumexp_list", lambda x, y: dc.logsumexp([x, y]), lambda x, y: sp.log(sp.exp(x) + sp.exp(y)), [R, R]),
    # math.* spellings
    Row("math.sin", lambda x: math.sin(x), sp.sin, [(-4.0, 4.0)]),
    Row("math.cos", lambda x: math.cos(x), sp.cos, [(-4.0, 4.0)]),
    Row("math.exp", lambda x: math.exp(x), sp.exp, [R]),
    Row("math.log", lambda x: math.log(x), sp.log, [POS]),
    Row("math.log_base", lambda x: math.log(x, 3.0), lambda x: sp.log(x) / sp.log(3), [POS]),
    Row("math.log10", lambda x: math.log10(x), lambda x: sp.log(x) / sp.log(10), [POS]),
    Row("math.sqrt", lambda x: math.sqrt(x), sp.sqrt, [POS]),
    Row("math.tanh", lambda x: math.tanh(x), sp.tanh, [R]),
    Row("math.atan", lambda x: math.atan(x), sp.atan, [R]),
    Row("math.fabs", lambda x: math.fabs(x), sp.Abs, [R], lambda x: abs(x) > 0.1),
    Row("math.atan2", lambda y, x: math.atan2(y, x), sp.atan2, [R, R], _not_on_cut),
    Row(
        "math.hypot",
        lambda x, y: math.hypot(x, y),
        lambda x, y: sp.sqrt(x**2 + y**2),
        [R, R],
        lambda x, y: math.hypot(x, y) > 0.3,
    ),
]
ROW_IDS = [r.id for r in ROWS]
assert len(set(ROW_IDS)) == len(ROW_IDS), "row ids must be unique"
MULTI = [r for r in ROWS if r.nargs > 1]


# -- helpers -----------------------------------------------------------------------


@cache
def symbols(n: int) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"x{i}", real=True) for i in range(n))


@cache
def points(row_id: str) -> list[tuple[float, ...]]:
    """``N_POINTS`` reproducible sample points inside the row's domain."""
    row = ROWS[ROW_IDS.index(row_id)]
    rng = np.random.default_rng(zlib.crc32(row.id.encode()))
    out: list[tuple[float, ...]] = []
    for _ in range(10_000):
        # shrink the domain a little so finite differences stay inside it
        p = tuple(float(rng.uniform(lo + 0.02 * (hi - lo), hi - 0.02 * (hi - lo))) for lo, hi in row.domain)
        if row.ok is None or row.ok(*p):
            out.append(p)
        if len(out) == N_POINTS:
            return out
    raise AssertionError(f"no sample points for {row.id}")


@cache
def function(row_id: str, backend: str = "python") -> dc.Function:
    row = ROWS[ROW_IDS.index(row_id)]
    return dc.compile(row.fn, backend=backend, name=f"prim_{row.nargs}")


@cache
def sym_expr(row_id: str) -> sp.Expr:
    row = ROWS[ROW_IDS.index(row_id)]
    return sp.sympify(row.sym(*symbols(row.nargs)))


def sym_eval(expr: sp.Expr, syms: Sequence[sp.Symbol], p: Sequence[float]) -> float:
    """``expr`` at ``p`` to 30 digits (the doubles in ``p`` taken exactly)."""
    value = expr.xreplace({s: sp.Float(v, 30) for s, v in zip(syms, p, strict=True)}).evalf(30)
    return float(value)


@cache
def sym_grad(row_id: str) -> list[sp.Expr]:
    e = sym_expr(row_id)
    return [sp.diff(e, s) for s in symbols(ROWS[ROW_IDS.index(row_id)].nargs)]


@cache
def sym_hessian(row_id: str) -> list[list[sp.Expr]]:
    syms = symbols(ROWS[ROW_IDS.index(row_id)].nargs)
    return [[sp.diff(g, s) for s in syms] for g in sym_grad(row_id)]


def exact_grad(row: Row, p: Sequence[float]) -> np.ndarray:
    return np.array([sym_eval(g, symbols(row.nargs), p) for g in sym_grad(row.id)])


def exact_hessian(row: Row, p: Sequence[float]) -> np.ndarray:
    return np.array([[sym_eval(h, symbols(row.nargs), p) for h in hrow] for hrow in sym_hessian(row.id)])


# ``actual`` ~ ``expected`` with an absolute floor scaled to the largest entry (a scalar result
# compares with a one-entry gradient).
close = functools.partial(helpers.close, rtol=RTOL, same_shape=False)


def direction(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.5, 1.5, n)


# -- the table, on the pure-Python backend --------------------------------------------------


@pytest.fixture(params=ROWS, ids=ROW_IDS)
def row(request: pytest.FixtureRequest) -> Row:
    return request.param


def test_sample_points_respect_domain(row: Row) -> None:
    for p in points(row.id):
        assert all(lo <= v <= hi for v, (lo, hi) in zip(p, row.domain, strict=True))
        assert row.ok is None or row.ok(*p)


def test_value_matches_numpy_and_sympy(row: Row) -> None:
    f = function(row.id)
    for p in points(row.id):
        got = f(*p)
        assert isinstance(got, float), type(got)
        close(got, row.fn(*p), rtol=1e-14, what=f"numpy at {p}")
        close(got, sym_eval(sym_expr(row.id), symbols(row.nargs), p), rtol=1e-13, what=f"sympy at {p}")


def test_grad_matches_sympy(row: Row) -> None:
    g = dc.grad(function(row.id))
    for p in points(row.id):
        got = g(*p)
        assert isinstance(got, np.ndarray) and got.shape == (row.nargs,) and got.dtype == np.float64
        close(got, exact_grad(row, p), what=f"grad at {p}")


def test_grad_matches_finite_differences(row: Row) -> None:
    f = function(row.id)
    g = dc.grad(f)
    for p in points(row.id):
        close(
            g(*p),
            helpers.fd_gradient(lambda z: float(f(*z.tolist())), p, 1e-3),
            rtol=FD_RTOL,
            what=f"grad vs finite differences at {p}",
        )


def test_hessian_matches_sympy(row: Row) -> None:
    h = dc.hessian(function(row.id))
    for p in points(row.id):
        got = h(*p)
        assert got.shape == (row.nargs, row.nargs)
        np.testing.assert_array_equal(got, got.T)
        close(got, exact_hessian(row, p), what=f"hessian at {p}")


def test_value_and_grad(row: Row) -> None:
    f = function(row.id)
    vg = dc.value_and_grad(f)
    g = dc.grad(f)
    for p in points(row.id):
        value, grad = vg(*p)
        assert value == f(*p)
        np.testing.assert_array_equal(grad, g(*p))


def test_jvp_matches_grad(row: Row) -> None:
    f = function(row.id)
    jvp, g = dc.jvp(f), dc.grad(f)
    for k, p in enumerate(points(row.id)):
        grad = g(*p)
        v = direction(row.nargs, k)
        value, tangent = jvp(p, v)
        assert value == f(*p)
        close(tangent, grad @ v, rtol=1e-12, scale=max(1.0, float(np.abs(grad).sum())), what=f"jvp at {p}")
        for i in range(row.nargs):  # basis directions give single partials
            e = np.zeros(row.nargs)
            e[i] = 1.0
            close(jvp(p, e)[1], grad[i], rtol=1e-12, what=f"jvp along e{i} at {p}")


def test_vjp_matches_grad(row: Row) -> None:
    f = function(row.id)
    vjp, g = dc.vjp(f), dc.grad(f)
    for p in points(row.id):
        value, ct_grad = vjp(p, -2.5)
        assert value == f(*p)
        close(ct_grad, -2.5 * g(*p), rtol=1e-13, what=f"vjp at {p}")


def test_hvp_matches_hessian(row: Row) -> None:
    f = function(row.id)
    hvp, h = dc.hvp(f), dc.hessian(f)
    for k, p in enumerate(points(row.id)):
        hess = h(*p)
        v = direction(row.nargs, 100 + k)
        got = hvp(p, v)
        assert got.shape == (row.nargs,)
        close(got, hess @ v, rtol=1e-12, scale=max(1.0, float(np.abs(hess).sum())), what=f"hvp at {p}")


def test_ir_verifies(row: Row) -> None:
    f = function(row.id)
    verify(f.ir)
    for make in (dc.grad, dc.value_and_grad, dc.jvp, dc.vjp, dc.hessian, dc.hvp):
        verify(make(f).ir)


def test_to_sympy_roundtrip(row: Row) -> None:
    """Raising the traced graph to SymPy gives the same function."""
    syms = symbols(row.nargs)
    (raised,) = to_sympy(function(row.id).ir, syms)
    for p in points(row.id):
        close(sym_eval(raised, syms, p), sym_eval(sym_expr(row.id), syms, p), rtol=1e-13, what=f"to_sympy at {p}")


def test_from_sympy_matches_tracing(row: Row) -> None:
    """The SymPy form compiled by ``dc.from_sympy`` has the traced function's gradient."""
    syms = symbols(row.nargs)
    fs = dc.from_sympy(sym_expr(row.id), args=list(syms), backend="python")
    f = function(row.id)
    for p in points(row.id):
        close(fs(*p), f(*p), rtol=1e-13, what=f"value at {p}")
        close(dc.grad(fs)(*p), dc.grad(f)(*p), rtol=1e-11, what=f"grad at {p}")


@pytest.mark.parametrize("row", MULTI, ids=[r.id for r in MULTI])
def test_grad_wrt_subsets(row: Row) -> None:
    f = function(row.id)
    names = f.arg_names
    for p in points(row.id):
        full = dc.grad(f)(*p)
        np.testing.assert_array_equal(dc.grad(f, wrt=names[::-1])(*p), full[::-1])
        for i, name in enumerate(names):
            np.testing.assert_array_equal(dc.grad(f, wrt=name)(*p), full[i : i + 1])
        hess = dc.hessian(f)(*p)
        sub = dc.hessian(f, wrt=(names[-1], names[0]))(*p)
        close(sub, hess[np.ix_([-1, 0], [-1, 0])], rtol=1e-14)


# -- numba agrees with the Python backend ------------------------------------------------

NUMBA_FUNCTIONS: dict[str, tuple[Callable[..., Any], list[tuple[float, float]]]] = {
    "readme": (lambda x1, x2, w1, w2: (x1 + w1) ** 2 * (x1 * w1 + x2 * w2), [R, R, R, R]),
    "transcendental": (
        lambda x, y: (
            np.exp(np.sin(x) * y)
            + np.log1p(x**2) / np.sqrt(1 + y**2)
            + np.arctan2(y, 2.5 + x)
            - np.cosh(np.tanh(y)) * np.arccos(0.4 * np.cos(x))
            + np.arcsin(np.tanh(x) / 2) * np.expm1(-(y**2))
        ),
        [R, R],
    ),
    "kinks": (
        lambda x, y, z: (
            dc.where(x > y, np.tanh(x * z), dc.sigmoid(y) * np.cosh(z))
            + np.maximum(x, z) * np.minimum(y, z)
            + np.abs(x - 0.3) * np.sign(z)
            + np.clip(y, -1.0, 1.0)
        ),
        [R, R, R],
    ),
    "smooth_max": (
        lambda a, b: dc.logsumexp(a, b, a * b) + dc.softplus(a - b) * np.logaddexp(a, 2 * b) - 1 / (1 + a**2),
        [R, R],
    ),
    "powers": (lambda x, y: x**2.5 * y**x + 2.0**y + x**-2 + np.tan(y / 2) ** 3, [POS, POS]),
    "math": (
        lambda x, y: math.sin(x) * math.exp(y) + math.atan2(x, y + 3.0) + math.hypot(x, y) + math.log(1 + x * x),
        [(0.3, 2.0), (0.3, 2.0)],
    ),
}
NUMBA_MODES = ("f", "grad", "value_and_grad", "jvp", "vjp", "hessian", "hvp")


@pytest.fixture(scope="module")
def numba_pairs() -> dict[str, tuple[dc.Function, dc.Function]]:
    """(python, numba) functions; each numba kernel compiles once, on first use."""
    out = {}
    for name, (fn, _) in NUMBA_FUNCTIONS.items():
        py = dc.compile(fn, backend="python", name=name)
        out[name] = (py, py.with_backend("numba"))
    return out


def _numba_points(name: str) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    domain = NUMBA_FUNCTIONS[name][1]
    return [tuple(float(rng.uniform(lo, hi)) for lo, hi in domain) for _ in range(N_POINTS)]


def _call(fn: dc.Function, mode: str, p: tuple[float, ...], v: np.ndarray) -> Any:
    if mode == "f":
        return fn(*p)
    d = getattr(dc, mode)(fn)
    if mode in ("jvp", "hvp"):
        return d(p, v)
    if mode == "vjp":
        return d(p, 0.75)
    return d(*p)


def _flatten(out: Any) -> np.ndarray:
    if isinstance(out, tuple):
        return np.concatenate([np.ravel(np.asarray(o, dtype=float)) for o in out])
    return np.ravel(np.asarray(out, dtype=float))


@pytest.mark.numba
@pytest.mark.parametrize("mode", NUMBA_MODES)
@pytest.mark.parametrize("name", list(NUMBA_FUNCTIONS))
def test_numba_matches_python(numba_pairs: dict[str, tuple[dc.Function, dc.Function]], name: str, mode: str) -> None:
    py, nb = numba_pairs[name]
    assert nb.backend == "numba"
    for k, p in enumerate(_numba_points(name)):
        v = direction(len(p), 200 + k)
        expected, got = _call(py, mode, p, v), _call(nb, mode, p, v)
        assert type(got) is type(expected) or (np.isscalar(got) and np.isscalar(expected))
        e, g = _flatten(expected), _flatten(got)
        assert e.shape == g.shape
        assert np.all(np.isfinite(e))
        close(g, e, rtol=1e-12, what=f"{name} {mode} at {p}")
