"""Scatters at constant offsets are written once per entry, with carried scalars (emitter ``_write_once``).

Reverse mode of a stencil (``x[1:] - x[:-1]``, ``x[2:]``, ...) adds each term's
adjoint into the gradient at a shifted index: ``g = np.zeros(n)`` and in the loop
``g[1 + i] += a; g[i] += b``, a read-modify-write chain across iterations. The
emitter stores each entry once instead (``g[i] = carry + b; carry = a``), in the
old order of additions, so the gradient is the old one bit for bit (up to the sign
of a zero). The old form is what the emitter prints with ``MAX_SPREAD = -1``: the
tests compare both on the pure-Python backend (the emitted module run as NumPy
code), against finite differences, and check that numba vectorises the new loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dcompile as dc
from dcompile.emit import emitter
from tests.helpers import close, fd_gradient

UNARY: list[Callable[[Any], Any]] = [lambda v: v, np.sin, lambda v: v**2, lambda v: np.exp(0.3 * v)]
# A term: (K, [(a, u), ...]): the product of UNARY[u](x[a : n - (K - a)]) (all of length n - K), summed.
Term = tuple[int, Sequence[tuple[int, int]]]


def stencil(terms: Sequence[Term]) -> Callable[[Any], Any]:
    def f(x):
        n = x.shape[0]
        total = 0.0
        for k, factors in terms:
            prod = 1.0
            for a, u in factors:
                prod = prod * UNARY[u](x[a : n - (k - a)])
            total = total + np.sum(prod)
        return total

    return f


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def second_difference(x):
    return np.sum((x[2:] - 2.0 * x[1:-1] + x[:-2]) ** 2)


def gaps(x):
    return np.sum(x[1:-2] * x[3:] + x[:-3] ** 2)  # offsets 0, 1, 3: three carries


def interior(x):
    return np.sum(np.sin(x[2:-1]))  # one offset: entries 0, 1 and n - 1 are zeroed explicitly


def run(fn: Callable[..., Any], x: np.ndarray, mode: str, *, into: bool = False, write_once: bool = True) -> Any:
    """``mode`` of ``fn`` at ``x`` by the emitted module run as NumPy code (``into``: the variant filling a buffer)."""
    f = dc.compile(fn, backend="python", name=f"wo_{getattr(fn, '__name__', 'f')}")
    sig, _ = f.signature((x,))
    spread = emitter.MAX_SPREAD
    emitter.MAX_SPREAD = spread if write_once else -1
    try:
        em = f.emitted(sig, mode, (0,), into=into)
    finally:
        emitter.MAX_SPREAD = spread
    namespace: dict[str, Any] = {}
    exec(compile(em.source, f"<{em.function}>", "exec"), namespace)
    with np.errstate(all="ignore"):
        if not into:
            return namespace[em.function](x), em.source
        out = np.full(x.shape, np.nan)  # every entry must be written
        value = namespace[em.function](out, x)
        return (value, out) if mode == "value_and_grad" else out, em.source


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal entry for entry (``0.0 == -0.0``: the one difference IEEE allows here)."""
    return a.shape == b.shape and np.array_equal(a, b)


def check_against_old_path(fn: Callable[..., Any], x: np.ndarray) -> str:
    grad, src = run(fn, x, "grad")
    old, _ = run(fn, x, "grad", write_once=False)
    assert same(grad, old), f"{grad}\n{old}"
    value, vgrad = run(fn, x, "value_and_grad")[0]
    old_value, old_vgrad = run(fn, x, "value_and_grad", write_once=False)[0]
    assert value == old_value and same(vgrad, old_vgrad)
    into, _ = run(fn, x, "grad", into=True)
    assert same(into, grad)
    (into_value, into_grad), _ = run(fn, x, "value_and_grad", into=True)
    assert into_value == value and same(into_grad, vgrad)
    return src


FIXED = [rosen, second_difference, gaps, interior, stencil([(1, [(1, 0), (0, 1)]), (2, [(0, 2), (2, 3)])])]


@pytest.mark.parametrize("fn", FIXED, ids=["rosen", "second_difference", "gaps", "interior", "mixed"])
@pytest.mark.parametrize("n", [4, 11])
def test_fixed_stencils_match_the_old_path_and_finite_differences(fn, n):
    x = np.random.default_rng(n).uniform(-1.2, 1.2, n)
    check_against_old_path(fn, x)
    close(run(fn, x, "grad")[0], fd_gradient(fn, x, 1e-3), fn.__name__, rtol=1e-7)


terms = st.lists(
    st.integers(0, 5).flatmap(
        lambda k: st.tuples(
            st.just(k), st.lists(st.tuples(st.integers(0, k), st.integers(0, len(UNARY) - 1)), min_size=1, max_size=3)
        )
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(terms, st.integers(6, 12))
def test_random_stencils_match_the_old_path(spec, n):
    fn = stencil(spec)
    x = np.random.default_rng(n).uniform(-1.0, 1.0, n)
    check_against_old_path(fn, x)


def loop_lines(src: str) -> list[str]:
    return [line.strip() for line in src.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_rosenbrock_carries_one_scalar():
    src = check_against_old_path(rosen, np.linspace(-1.0, 1.0, 7))
    lines = loop_lines(src)
    assert "carry = 0.0" in lines and "dwo_rosen_dx = np.empty(7)" in lines and "np.zeros" not in src
    assert "dwo_rosen_dx[i] = carry + dwo_rosen_dt1" in lines and "carry = dwo_rosen_dt3" in lines
    assert "dwo_rosen_dx[6] = carry" in lines and "+=" not in src


def test_a_spread_of_three_carries_three_scalars():
    src = check_against_old_path(gaps, np.linspace(-1.0, 1.0, 9))
    lines = loop_lines(src)
    assert {"carry_1 = carry_2", "dwo_gaps_dx[6] = carry", "dwo_gaps_dx[8] = carry_2"} <= set(lines)


def test_entries_no_iteration_writes_are_zeroed():
    src = check_against_old_path(interior, np.linspace(-1.0, 1.0, 8))
    lines = loop_lines(src)
    assert "dwo_interior_dx[:2] = 0.0" in lines and "dwo_interior_dx[7:] = 0.0" in lines and "carry" not in src


def test_a_wider_spread_keeps_its_scatters():
    src = check_against_old_path(stencil([(5, [(5, 0), (0, 1)])]), np.linspace(-1.0, 1.0, 9))
    assert "np.zeros(9)" in src and "[5 + i] += " in src and "carry" not in src


def test_the_adding_variant_keeps_its_scatters():
    f = dc.compile(rosen, backend="python", name="wo_adding")
    sig, _ = f.signature((np.ones(6),))
    src = f.emitted(sig, "value_and_grad", (0,), into=True, accumulate=True).source
    assert "_out[1 + i] += " in src and "carry" not in src


@pytest.mark.numba
def test_numba_vectorises_the_gradient_loop():
    import numba

    x = np.random.default_rng(0).uniform(-1.2, 1.2, 1000)
    f = dc.compile(rosen, backend="python", name="wo_vector")
    sig, _ = f.signature((x,))
    em = f.emitted(sig, "grad", (0,), into=True)
    namespace: dict[str, Any] = {}
    exec(compile(em.source, f"<{em.function}>", "exec"), namespace)
    kernel = numba.njit(error_model="numpy")(namespace[em.function])  # as the backend, without its disk cache
    out = np.empty_like(x)
    kernel(out, x)
    np.testing.assert_array_equal(out, dc.grad(f)(x))
    ir = "\n".join(kernel.inspect_llvm().values())
    assert any("x double> %" in line and (" fmul " in line or " fsub " in line) for line in ir.splitlines())
