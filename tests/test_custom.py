"""``dc.custom_vjp`` and ``dc.custom_jvp``: the user's rule is the one used, in every mode it implies.

Oracles: finite differences of the plain NumPy function (the rule must be
right), and a rule that is deliberately *different* from the true derivative
(the rule must be the one used, not the body's own derivative).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dcompile as dc
from tests.helpers import fd_gradient


@dc.custom_vjp
def logdet(a):
    return np.linalg.slogdet(a)[1]


def logdet_fwd(a):
    return logdet(a), np.linalg.inv(a)


def logdet_bwd(inv_a, g):
    return (g * inv_a.T,)


logdet.defvjp(logdet_fwd, logdet_bwd)


def objective(x, a):
    return logdet(a + np.outer(x, x)) + np.sum(x**2)


def plain_objective(x, a):
    return np.linalg.slogdet(a + np.outer(x, x))[1] + np.sum(x**2)


@dc.custom_jvp
def softclip(x):
    return np.log1p(np.exp(x)) - np.log1p(np.exp(x - 3.0))


@softclip.defjvp
def softclip_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    slope = 1.0 / (1.0 + np.exp(-x)) - 1.0 / (1.0 + np.exp(3.0 - x))
    return softclip(x), slope * t


def objective2(x):
    return np.sum(softclip(x) ** 2 * np.arange(1.0, 5.0))


FD_STEP = 1e-6


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(3, 3))
    return rng.normal(size=3), m @ m.T + 3.0 * np.eye(3)


def test_custom_vjp_value_gradient_and_hessian(data: Any) -> None:
    x, a = data
    f = dc.compile(objective, backend="python")
    assert f(x, a) == pytest.approx(plain_objective(x, a), rel=1e-14)
    g = dc.grad(f, wrt="x")(x, a)
    np.testing.assert_allclose(g, fd_gradient(lambda z: plain_objective(z, a), x, FD_STEP), rtol=1e-7)
    # second order: forward mode over the reverse sweep differentiates bwd's code
    grad = dc.grad(f, wrt="x")
    hess = dc.hessian(f, wrt="x")(x, a)
    np.testing.assert_allclose(hess, fd_gradient(lambda z: grad(z, a), x, FD_STEP), rtol=1e-6, atol=1e-8)
    # forward mode differentiates the inlined forward code
    _, tangent = dc.jvp(f, wrt="x")((x, a), np.ones(3))
    assert tangent == pytest.approx(g.sum(), rel=1e-9)
    assert dc.check_grad(f, x, a, wrt="x").ok


def test_custom_vjp_rule_is_the_one_used() -> None:
    @dc.custom_vjp
    def clipped(x):
        return x * 1.0

    clipped.defvjp(lambda x: (x * 1.0, None), lambda res, g: (np.clip(g, -1.0, 1.0),))
    f = dc.compile(lambda x: np.sum(5.0 * clipped(x)), backend="python")
    np.testing.assert_array_equal(dc.grad(f)(np.ones(3)), [1.0, 1.0, 1.0])  # the true gradient is 5


def test_custom_jvp_forward_reverse_and_second_order() -> None:
    x = np.array([-2.0, 0.5, 2.5, 4.0])
    f = dc.compile(objective2, backend="python")
    g = dc.grad(f)(x)  # reverse mode: the transposed rule
    np.testing.assert_allclose(g, fd_gradient(objective2, x, FD_STEP), rtol=1e-7, atol=1e-8)
    _, tangent = dc.jvp(f)((x,), np.ones(4))
    assert tangent == pytest.approx(g.sum(), rel=1e-9)
    grad = dc.grad(f)
    np.testing.assert_allclose(dc.hessian(f)(x), fd_gradient(grad, x, FD_STEP), rtol=1e-6, atol=1e-8)


def test_custom_jvp_rule_is_the_one_used_in_reverse_mode_too() -> None:
    @dc.custom_jvp
    def f(x):
        return np.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        return f(primals[0]), 2.0 * tangents[0]  # deliberately not cos(x)

    fn = dc.compile(lambda x: np.sum(f(x)), backend="python")
    np.testing.assert_array_equal(dc.grad(fn)(np.zeros(3)), [2.0, 2.0, 2.0])
    assert dc.jvp(fn)((np.zeros(3),), np.ones(3))[1] == 6.0


def test_outside_a_traced_function_it_is_the_plain_function(data: Any) -> None:
    _, a = data
    assert logdet(a) == pytest.approx(np.linalg.slogdet(a)[1])
    assert softclip(1.0) == pytest.approx(np.log1p(np.e) - np.log1p(np.exp(-2.0)))


def test_missing_rules_and_bad_rules_are_clear() -> None:
    @dc.custom_vjp
    def no_rule(x):
        return x * 2.0

    with pytest.raises(dc.TraceError, match=r"defvjp"):
        dc.compile(no_rule, backend="python")(1.0)

    @dc.custom_vjp
    def bad(x):
        return x * 2.0

    bad.defvjp(lambda x: (x * 2.0, None), lambda res, g: g)  # not a tuple
    f = dc.compile(bad, backend="python")
    with pytest.raises(dc.TraceError, match=r"tuple of 1 cotangents"):
        dc.grad(f)(1.0)


@pytest.mark.numba
def test_numba_agrees(data: Any) -> None:
    x, a = data
    f, py = dc.compile(objective), dc.compile(objective, backend="python")
    assert f(x, a) == py(x, a)
    np.testing.assert_allclose(dc.grad(f, wrt="x")(x, a), dc.grad(py, wrt="x")(x, a), rtol=1e-13)
