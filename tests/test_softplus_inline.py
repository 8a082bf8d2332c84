"""``logaddexp(0, z)`` (issue 9): built as ``softplus(z)``, written out inline in fused loops.

The written-out scalar formula must give the same double as NumPy's
``np.logaddexp(0.0, x)`` everywhere (it performs NumPy's operations), and the
derivative ``sigmoid(z)`` that replaces ``exp(z - ans)`` must agree with the
old form to well within 1e-12 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import dcompile as dc
from dcompile.ir.primitive import PREC_ATOM
from dcompile.ir.types import F64
from dcompile.primitives.elementwise import _emit_softplus


def _points() -> np.ndarray:
    """About 2.2 million doubles: uniform over [-800, 800], log-uniform magnitudes from the
    subnormals to the largest double (both signs), a dense grid around 0, and the edges."""
    rng = np.random.default_rng(9)
    mags = 10.0 ** rng.uniform(-320, 308, 600_000)
    edges = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308,
         np.finfo(float).max, -np.finfo(float).max, 709.78, -709.78, 745.2, -745.2, 36.7, -36.7, 1.0, -1.0],
    )  # fmt: skip
    return np.concatenate([rng.uniform(-800, 800, 1_000_000), mags, -mags, np.linspace(-1e-3, 1e-3, 10_001), edges])


def _inline_loop() -> object:
    expr, _ = _emit_softplus([("x[i]", PREC_ATOM)], {}, [F64])
    assert "logaddexp" not in expr  # written out
    src = f"def loop(x, out):\n    for i in range(x.shape[0]):\n        out[i] = {expr}\n"
    ns: dict[str, object] = {"np": np}
    exec(src, ns)
    return ns["loop"]


def _same_doubles(a: np.ndarray, b: np.ndarray) -> None:
    nan = np.isnan(b)
    np.testing.assert_array_equal(np.isnan(a), nan)
    bad = np.flatnonzero(a[~nan] != b[~nan])
    assert bad.size == 0, f"{bad.size} differences, e.g. at {b[~nan][bad[:5]]}"


def test_inline_softplus_is_numpys_logaddexp_bit_for_bit_compiled() -> None:
    x = _points()
    out = np.empty_like(x)
    njit(_inline_loop())(x, out)
    with np.errstate(invalid="ignore"):  # NaN in, NaN out
        ref = np.logaddexp(0.0, x)
    _same_doubles(out, ref)


def test_inline_softplus_is_numpys_logaddexp_in_plain_python() -> None:
    """Without numba the scalar ``np.exp`` is NumPy's own (not libm's as inside
    ``np.logaddexp``): the same to 1 ulp."""
    x = _points()[::97].copy()
    out = np.empty_like(x)
    with np.errstate(invalid="ignore"):
        _inline_loop()(x, out)
        ref = np.logaddexp(0.0, x)
    nan = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(out), nan)
    np.testing.assert_array_max_ulp(out[~nan], ref[~nan], maxulp=1)


def test_array_operand_and_complex_expression_keep_the_call() -> None:
    assert _emit_softplus([("t", PREC_ATOM)], {}, [dc.ir.types.VType((3,), F64.dtype)])[0] == "np.logaddexp(0.0, t)"
    assert _emit_softplus([("a * b", 10)], {}, [F64])[0] == "np.logaddexp(0.0, a * b)"


def _logreg(n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d)) * 4.0  # margins up to ~+-100: both branches, far tails
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return 0.5 * rng.standard_normal(d), X, y


def test_logistic_value_and_gradient_against_the_strict_formula() -> None:
    w, X, y = _logreg(2000, 30)
    vg = dc.value_and_grad(dc.compile(lambda w, X, y: np.sum(np.logaddexp(0.0, -y * (X @ w)))), wrt="w")
    f, g = vg(w, X, y)
    m = -y * (X @ w)
    ans = np.logaddexp(0.0, m)
    f_strict = np.sum(ans)
    g_strict = X.T @ (np.exp(m - ans) * -y)  # the derivative dcompile emitted before
    assert abs(f - f_strict) <= 1e-12 * abs(f_strict)
    np.testing.assert_allclose(g, g_strict, rtol=1e-12, atol=1e-12 * np.max(np.abs(g_strict)))
    # and against long double
    mL = -y.astype(np.longdouble) * (X.astype(np.longdouble) @ w.astype(np.longdouble))
    gL = X.astype(np.longdouble).T @ (-y / (1 + np.exp(-mL)))
    assert float(np.max(np.abs(g - gL)) / np.max(np.abs(gL))) < 1e-13


def test_softplus_written_out_in_the_fused_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """With vector math off (with it on the loop calls ``vm.softplus``: tests/test_vector_loops.py)."""
    monkeypatch.setenv("DCOMPILE_VECTOR_MATH", "0")
    w, X, y = _logreg(50, 4)
    vg = dc.value_and_grad(dc.compile(lambda w, X, y: np.sum(np.logaddexp(0.0, -y * (X @ w)))), wrt="w")
    vg(w, X, y)
    code = "\n".join(line for line in vg.source.splitlines() if not line.strip().startswith("#"))
    assert "np.log1p(np.exp(-abs(" in code
    assert "logaddexp" not in code


@pytest.mark.parametrize("zero_first", [True, False])
def test_broadcasting_zero_keeps_the_shape(zero_first: bool) -> None:
    """``logaddexp(zeros((3, 4)), z)`` with ``z`` of shape (4,) is not ``softplus(z)``: shape (3, 4)."""
    z = np.array([-2.0, 0.0, 1.5, 40.0])

    def f(z):
        zeros = np.zeros((3, 4))
        a = np.logaddexp(zeros, z) if zero_first else np.logaddexp(z, zeros)
        return np.sum(a * np.arange(1.0, 13.0).reshape(3, 4))

    vg = dc.value_and_grad(dc.compile(f))
    val, grad = vg(z)
    weights = np.arange(1.0, 13.0).reshape(3, 4)
    np.testing.assert_allclose(val, np.sum(np.logaddexp(0.0, z) * weights), rtol=1e-14)
    np.testing.assert_allclose(grad, (weights * (1 / (1 + np.exp(-z)))).sum(axis=0), rtol=1e-14)


def test_derivative_at_the_edges() -> None:
    """sigmoid(z): 1/2 at 0, 1 at +800, 0 at -800 (no overflow), first and second order."""
    g = dc.grad(dc.compile(lambda x: np.logaddexp(0.0, x)))
    assert g(0.0) == 0.5
    assert g(800.0) == 1.0
    assert g(-800.0) == 0.0
    assert g(np.inf) == 1.0
    assert np.isnan(g(np.nan))
