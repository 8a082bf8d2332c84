"""Derivatives inside traced functions: inlined as IR, so they compose to any order (issue 19 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import dcompile as dc

RNG = np.random.default_rng(1)
X = RNG.normal(size=(30, 3))
Y = np.sign(RNG.normal(size=30))
W = RNG.normal(size=3) * 0.5


def logistic(w, X, y):
    return np.sum(np.log1p(np.exp(-y * (X @ w))))


def penalized(w, X, y):
    """Gradient-norm penalty: f(w) + 0.1 |grad f(w)|^2."""
    g = dc.grad(logistic, wrt="w")(w, X, y)
    return logistic(w, X, y) + 0.1 * (g @ g)


def penalty_reference(w):
    """The same by hand: grad f = -X^T (y * s), s = sigmoid(-y X w); its gradient via the Hessian."""
    z = Y * (X @ w)
    s = 1.0 / (1.0 + np.exp(z))
    g = -X.T @ (Y * s)
    H = X.T @ (X * (s * (1 - s))[:, None])
    return logistic(w, X, Y) + 0.1 * g @ g, g + 0.2 * H @ g


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba)])
def test_gradient_norm_penalty_matches_the_hand_derivation(backend):
    f = dc.compile(penalized, backend=backend, name=f"penalized_{backend}")
    value, grad = dc.value_and_grad(f, wrt="w")(W, X, Y)
    ref_value, ref_grad = penalty_reference(W)
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-11)


def test_gradient_norm_penalty_second_order_and_minimised():
    f = dc.compile(penalized, backend="python", name="penalized_check")
    assert dc.check_grad(f, W, X, Y, wrt="w", order=2).ok
    res = dc.minimize(dc.compile(penalized, name="penalized_min"), W, args=(X, Y))
    assert res.success and np.max(np.abs(penalty_reference(res.x)[1])) < 1e-5


def test_jacobian_of_gradient_is_the_hessian():
    def gradient(w, X, y):
        return dc.grad(logistic, wrt="w")(w, X, y)

    grad_fn = dc.compile(gradient, backend="python", name="logistic_g")
    f = dc.compile(logistic, backend="python", name="logistic_plain")
    np.testing.assert_allclose(
        dc.jacobian(grad_fn, wrt="w")(W, X, Y), dc.hessian(f, wrt="w")(W, X, Y), rtol=1e-12, atol=1e-13
    )


def test_third_and_fourth_derivatives_against_sympy():
    def s(x):
        return np.sin(x) * np.exp(x) / (1.0 + x**2)

    def d1(x):
        return dc.grad(s)(x)[0]

    def d2(x):
        return dc.grad(d1)(x)[0]

    def d3(x):
        return dc.grad(d2)(x)[0]

    t = sp.Symbol("x")
    expr = sp.sin(t) * sp.exp(t) / (1 + t**2)
    f3 = dc.compile(d3, backend="python", name="third")
    f4 = dc.compile(lambda x: dc.grad(d3)(x)[0], backend="python", name="fourth")
    for x in (-0.8, 0.3, 1.7):
        assert f3(x) == pytest.approx(float(sp.diff(expr, t, 3).subs(t, x)), rel=1e-12)
        assert f4(x) == pytest.approx(float(sp.diff(expr, t, 4).subs(t, x)), rel=1e-11)
    # the fifth by the outer function's own gradient
    assert dc.grad(f4)(0.3)[0] == pytest.approx(float(sp.diff(expr, t, 5).subs(t, 0.3)), rel=1e-10)


def test_every_mode_inside_a_traced_function():
    def inner(v):
        return np.sum(v**3) + v[0] * v[1]

    def outer(v, u):
        value, g = dc.value_and_grad(inner)(v)
        _, tangent = dc.jvp(inner)([v], u)
        _, cot = dc.vjp(inner)([v], 2.0)
        hv = dc.hvp(inner)([v], u)
        hess = dc.hessian(inner)(v)
        return value + g @ u + tangent + cot @ u + hv @ u + np.sum(hess)

    v, u = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, -0.25])
    g = 3 * v**2 + np.array([v[1], v[0], 0.0])
    H = np.diag(6 * v) + np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0.0]])
    expected = inner(v) + g @ u + g @ u + 2 * g @ u + u @ H @ u + H.sum()
    f = dc.compile(outer, backend="python", name="every_mode")
    assert f(v, u) == pytest.approx(expected, rel=1e-13)
    assert dc.check_grad(f, v, u).ok


def test_grad_of_plain_python_functions_outside_tracing():
    np.testing.assert_allclose(dc.grad(lambda x: np.sum(np.sin(x)))(np.arange(3.0)), np.cos(np.arange(3.0)))
    assert dc.grad(lambda x, y: x * y**2, wrt="y")(3.0, 2.0).tolist() == [12.0]


def test_nested_derivatives_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def jlogistic(w):
        return jnp.sum(jnp.log1p(jnp.exp(-Y * (X @ w))))

    def jpen(w):
        g = jax.grad(jlogistic)(w)
        return jlogistic(w) + 0.1 * g @ g

    f = dc.compile(penalized, backend="python", name="penalized_jax")
    np.testing.assert_allclose(dc.grad(f, wrt="w")(W, X, Y), np.asarray(jax.grad(jpen)(W)), rtol=1e-11)
    np.testing.assert_allclose(dc.hessian(f, wrt="w")(W, X, Y), np.asarray(jax.hessian(jpen)(W)), rtol=1e-9, atol=1e-11)
