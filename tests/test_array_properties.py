"""Property tests on random array programs: shapes, broadcasting, reductions.

Hypothesis draws a result shape (rank 0-3, dimensions 1-4) and two argument
shapes that broadcast to it (each a suffix of it, with some dimensions 1), a
binary elementwise operation, a unary one and a reduction (``sum``, ``mean``,
``prod``, ``max``, ``min``, ``dc.logsumexp``, over one random axis or all of
them, with or without ``keepdims``). The program

    r = reduce(unary(binary(x, y)))
    return np.sum(np.sin(r))

is compiled with the Python backend and checked against NumPy (the value) and
five-point central finite differences (the gradient, forward mode along a
random direction, and the vjp of the unreduced broadcast result).
"""

# The tables are lambdas on purpose: one spelling per row, traced as written.
# ruff: noqa: PLW0108

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st
from scipy.special import logsumexp as sp_logsumexp

import dcompile as dc
from tests import helpers

# DCOMPILE_HYPOTHESIS_EXAMPLES=2000 for a longer (random) hunt; the default run is
# derandomized so that CI checks the same programs every time.
_HUNT = "DCOMPILE_HYPOTHESIS_EXAMPLES" in os.environ
SETTINGS = settings(
    max_examples=int(os.environ.get("DCOMPILE_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    derandomize=not _HUNT,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
H = 1e-4  # five-point stencil
FD_RTOL = 1e-7
FD_ATOL = 1e-8  # times the largest entry (at least 1)
KINK_GAP = 1e-2  # inputs stay this far from the kinks of maximum, abs, where, max/min
MAX_MAGNITUDE = 10.0  # larger intermediate values make sin(r) oscillate too fast for finite differences
# A scalar argument that goes through two scalar operations before it is broadcast
# against an array (x / (1.5 + y**2), y a float) once gave a gradient kernel that read
# the scalar's adjoint before the loop accumulating it (a display alias moved with a
# hoisted statement). These binary operations do that; a regression test targets them.
SCALAR_CHAIN_BUG = {"div", "arctan2", "pow"}

# name -> (traced/NumPy function, does it have a kink where x == y)
BINARY: dict[str, tuple[Callable[[Any, Any], Any], bool]] = {
    "add": (lambda x, y: x + y, False),
    "sub": (lambda x, y: x - 2.0 * y, False),
    "mul": (lambda x, y: x * y, False),
    "div": (lambda x, y: x / (1.5 + y**2), False),
    "pow": (lambda x, y: (1.2 + x**2) ** y, False),
    "logaddexp": (lambda x, y: np.logaddexp(x, y), False),
    "arctan2": (lambda x, y: np.arctan2(x, 2.0 + y**2), False),
    "maximum": (lambda x, y: np.maximum(x, y), True),
    "minimum": (lambda x, y: np.minimum(x, y), True),
    "where": (lambda x, y: np.where(x > y, x * y, np.sin(y)), True),
}
UNARY: dict[str, Callable[[Any], Any]] = {  # kinks: abs at 0, clip at -0.5 and 0.7 (avoided below)
    "identity": lambda u: u,
    "sin": lambda u: np.sin(u),
    "tanh": lambda u: np.tanh(u),
    "exp": lambda u: np.exp(0.5 * u),
    "log1p_sq": lambda u: np.log1p(u**2),
    "sqrt": lambda u: np.sqrt(1.0 + u**2),
    "square": lambda u: np.square(u),
    "abs": lambda u: np.abs(u) * u + np.abs(u),
    "clip": lambda u: np.clip(u, -0.5, 0.7),
}
REDUCTIONS = ("sum", "mean", "prod", "max", "min", "logsumexp", "method_sum")


_REDUCE: dict[str, Callable[..., Any]] = {
    "sum": lambda u, **kw: np.sum(u, **kw),
    "method_sum": lambda u, **kw: u.sum(**kw),
    "mean": lambda u, **kw: np.mean(u, **kw),
    "prod": lambda u, **kw: np.prod(u, **kw),
    "max": lambda u, **kw: np.max(u, **kw),
    "min": lambda u, **kw: np.min(u, **kw),
    "logsumexp": lambda u, **kw: dc.logsumexp(u, **kw),
}


def reduce(name: str, u: Any, axis: int | None, keepdims: bool) -> Any:
    return _REDUCE[name](u, axis=axis, keepdims=keepdims)


def reduce_numpy(name: str, u: Any, axis: int | None, keepdims: bool) -> Any:
    if name == "logsumexp":
        return sp_logsumexp(u, axis=axis, keepdims=keepdims)
    return reduce(name, np.asarray(u), axis, keepdims)


@st.composite
def broadcast_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast together: suffixes of one shape, some dimensions 1."""
    rank = draw(st.integers(0, 3))
    full = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))

    def one() -> tuple[int, ...]:
        r = draw(st.integers(0, rank))
        dims = full[rank - r :]
        return tuple(1 if draw(st.booleans()) else n for n in dims)

    return one(), one()


def hits_scalar_chain_bug(p: dict[str, Any]) -> bool:
    ranks = (len(p["sx"]), len(p["sy"]))
    return p["binary"] in SCALAR_CHAIN_BUG and min(ranks) == 0 and max(ranks) > 0


@st.composite
def programs(draw: st.DrawFn, scalar_chain_bug: bool = False) -> dict[str, Any]:
    """A random program; ``scalar_chain_bug``: only programs that hit it, else none."""
    sx, sy = draw(broadcast_shapes())
    if scalar_chain_bug and sx != () and sy != ():
        sx, sy = draw(st.sampled_from([(sx, ()), ((), sy)]))
    out = np.broadcast_shapes(sx, sy)
    axis = None if not out or draw(st.booleans()) else draw(st.integers(-len(out), len(out) - 1))
    binary = sorted(SCALAR_CHAIN_BUG) if scalar_chain_bug else sorted(BINARY)
    p = {
        "sx": sx,
        "sy": sy,
        "binary": draw(st.sampled_from(binary)),
        "unary": draw(st.sampled_from(sorted(UNARY))),
        "reduction": draw(st.sampled_from(REDUCTIONS)),
        "axis": axis,
        "keepdims": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    if scalar_chain_bug:
        assume(sx != sy)
    return p


def draw_input(rng: np.random.Generator, shape: tuple[int, ...]) -> Any:
    a = rng.normal(size=shape)
    return float(a) if shape == () else a


def elementwise(p: dict[str, Any], x: Any, y: Any) -> Any:
    return UNARY[p["unary"]](BINARY[p["binary"]][0](x, y))


def make(p: dict[str, Any], numpy_reduce: bool) -> Callable[[Any, Any], Any]:
    red = reduce_numpy if numpy_reduce else reduce

    def program(x, y):
        r = red(p["reduction"], elementwise(p, x, y), p["axis"], p["keepdims"])
        return np.sum(np.sin(r))

    return program


def away_from_kinks(p: dict[str, Any], x: Any, y: Any) -> bool:
    xb, yb = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    if BINARY[p["binary"]][1] and np.min(np.abs(xb - yb), initial=np.inf) < KINK_GAP:
        return False
    b = np.asarray(BINARY[p["binary"]][0](xb, yb))
    if p["unary"] == "abs" and np.min(np.abs(b), initial=np.inf) < KINK_GAP:
        return False
    if p["unary"] == "clip" and np.min(np.abs(np.subtract.outer(b, [-0.5, 0.7])), initial=np.inf) < KINK_GAP:
        return False
    u = np.asarray(elementwise(p, xb, yb))
    r = np.asarray(reduce_numpy(p["reduction"], u, p["axis"], p["keepdims"]))
    if max(np.max(np.abs(b)), np.max(np.abs(u)), np.max(np.abs(r))) > MAX_MAGNITUDE:
        return False
    if p["reduction"] in ("max", "min"):
        flat = np.sort(np.ravel(u))
        if flat.size > 1 and np.min(np.diff(flat)) < KINK_GAP:  # no ties, along any axis
            return False
    return True


def flat_args(x: Any, y: Any) -> np.ndarray:
    return np.concatenate([np.ravel(x), np.ravel(y)])


def unflat(z: np.ndarray, sx: tuple[int, ...], sy: tuple[int, ...]) -> tuple[Any, Any]:
    nx = int(np.prod(sx))
    x, y = z[:nx], z[nx:]
    return (
        float(x[0]) if sx == () else x.reshape(sx),
        float(y[0]) if sy == () else y.reshape(sy),
    )


close = functools.partial(helpers.close, rtol=FD_RTOL, atol=FD_ATOL)


def setup(p: dict[str, Any]) -> tuple[Any, Any]:
    note(f"program: {p}")
    rng = np.random.default_rng(p["seed"])
    x, y = draw_input(rng, p["sx"]), draw_input(rng, p["sy"])
    assume(away_from_kinks(p, x, y))
    return x, y


@SETTINGS
@given(programs())
def test_reduction_of_broadcast_program_gradient(p: dict[str, Any]) -> None:
    x, y = setup(p)
    ref = make(p, numpy_reduce=True)
    f = dc.compile(make(p, numpy_reduce=False), backend="python", name="prop")
    close(f(x, y), ref(x, y), "value", rtol=1e-12, atol=1e-12)

    gx, gy = dc.grad(f)(x, y)
    assert np.shape(gx) == np.shape(x) and np.shape(gy) == np.shape(y)
    z = flat_args(x, y)
    expected = helpers.fd_gradient(lambda w: ref(*unflat(w, p["sx"], p["sy"])), z, H)
    close(flat_args(gx, gy), expected, "grad vs FD")

    v = np.random.default_rng(p["seed"] + 1).normal(size=z.size)
    value, tangent = dc.jvp(f)((x, y), unflat(v, p["sx"], p["sy"]))
    close(value, ref(x, y), "jvp value", rtol=1e-12, atol=1e-12)
    close(tangent, expected @ v, "jvp vs FD gradient . v")


@SETTINGS
@given(programs())
def test_broadcast_result_vjp(p: dict[str, Any]) -> None:
    """The unreduced broadcast result: cotangents are summed back to each argument's shape."""
    x, y = setup(p)
    f = dc.compile(lambda x, y: elementwise(p, x, y), backend="python", name="prop_vjp")
    out = np.asarray(elementwise(p, x, y), dtype=float)
    close(f(x, y), out, "value", rtol=1e-12, atol=1e-12)
    ct = np.random.default_rng(p["seed"] + 2).normal(size=out.shape)
    value, (cx, cy) = dc.vjp(f)((x, y), float(ct) if out.ndim == 0 else ct)
    close(value, out, "vjp value", rtol=1e-12, atol=1e-12)
    assert np.shape(cx) == np.shape(x) and np.shape(cy) == np.shape(y)
    expected = helpers.fd_gradient(
        lambda w: np.sum(ct * elementwise(p, *unflat(w, p["sx"], p["sy"]))), flat_args(x, y), H
    )
    close(flat_args(cx, cy), expected, "vjp vs FD")


@settings(SETTINGS, max_examples=20, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(programs(scalar_chain_bug=True))
def test_scalar_argument_chain_broadcast_gradient(p: dict[str, Any]) -> None:
    """The programs excluded above: one argument a float, the other an array."""
    test_reduction_of_broadcast_program_gradient.hypothesis.inner_test(p)
