"""Gradients stay finite where the math is defined (issue 10, item 2).

Each case is a function, a point where it and its derivative are finite and
well defined, and the exact value, derivative and second derivative there.
The unselected branch of a ``where`` must not poison the derivative (its
adjoint is masked by the condition), and compositions that overflow when
taken literally (``log(sigmoid(-800))``) are rewritten into stable forms when
they are built.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dcompile as dc

CASES = [
    ("where(x > 0, sqrt(x), 0) at x < 0", lambda x: dc.where(x > 0, np.sqrt(x), 0.0), -1.0, (0.0, 0.0, 0.0)),
    ("where(x < 100, exp(x), 0) at 1000", lambda x: dc.where(x < 100, np.exp(x), 0.0), 1000.0, (0.0, 0.0, 0.0)),
    ("where(x > 0, log(x), x) at -2", lambda x: dc.where(x > 0, np.log(x), x), -2.0, (-2.0, 1.0, 0.0)),
    ("0 * sqrt(x) + x at 0", lambda x: 0.0 * np.sqrt(x) + x, 0.0, (0.0, 1.0, 0.0)),
    ("x ** 0.0 + x at 0", lambda x: x**0.0 + x, 0.0, (1.0, 1.0, 0.0)),
    ("log(sigmoid(x)) at -800", lambda x: np.log(dc.sigmoid(x)), -800.0, (-800.0, 1.0, 0.0)),
    ("log(1 - sigmoid(x)) at 800", lambda x: np.log(1.0 - dc.sigmoid(x)), 800.0, (-800.0, -1.0, 0.0)),
    ("log(1 / (1 + exp(-x))) at -800", lambda x: np.log(1.0 / (1.0 + np.exp(-x))), -800.0, (-800.0, 1.0, 0.0)),
    ("log(1 + exp(x)) at 800", lambda x: np.log(1.0 + np.exp(x)), 800.0, (800.0, 1.0, 0.0)),
    ("log1p(exp(x)) at 800", lambda x: np.log1p(np.exp(x)), 800.0, (800.0, 1.0, 0.0)),
    ("log(exp(x)) at 800", lambda x: np.log(np.exp(x)), 800.0, (800.0, 1.0, 0.0)),
    ("softplus(x) at 800", dc.softplus, 800.0, (800.0, 1.0, 0.0)),
    ("softplus(x) at -800", dc.softplus, -800.0, (0.0, 0.0, 0.0)),
    ("logaddexp(0, x) at 800", lambda x: np.logaddexp(0.0, x), 800.0, (800.0, 1.0, 0.0)),
    ("log(sigmoid(x)) at 3", lambda x: np.log(dc.sigmoid(x)), 3.0, (-math.log1p(math.exp(-3.0)), None, None)),
]


def _exact_log_sigmoid_3() -> tuple[float, float]:
    s = 1.0 / (1.0 + math.exp(-3.0))
    return 1.0 - s, -s * (1.0 - s)


@pytest.mark.parametrize(("name", "fn", "x", "expect"), CASES, ids=[c[0] for c in CASES])
def test_value_and_derivatives_are_finite_and_right(name, fn, x, expect):
    f = dc.compile(fn, backend="python", name="nan_case")
    value, d1, d2 = expect
    if d1 is None:
        d1, d2 = _exact_log_sigmoid_3()
    with np.errstate(all="raise"):  # no overflow or invalid operation on the way either
        got = (f(x), dc.grad(f)(x)[0], dc.hessian(f)(x)[0, 0])
    np.testing.assert_allclose(got, (value, d1, d2), rtol=1e-12, atol=1e-300)


@pytest.mark.numba
def test_the_same_on_numba():
    for name, fn, x, expect in CASES[:8]:
        f = dc.compile(fn, name="nan_case_numba")
        value, d1, _ = expect
        assert (f(x), dc.grad(f)(x)[0]) == pytest.approx((value, d1), rel=1e-12, abs=1e-300), name
