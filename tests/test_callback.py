"""Python code inside compiled functions: dc.pure_callback and custom VJPs run as Python (issue 24 item 1)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate as si

import dcompile as dc
from dcompile.errors import SignatureError, UnsupportedError


def gaussian_integral(a):
    """int_0^1 exp(-a t^2) dt by adaptive quadrature: Python that dcompile cannot trace."""
    return si.quad(lambda t: np.exp(-a * t * t), 0.0, 1.0, epsabs=1e-13, epsrel=1e-13)[0]


def gaussian_integral_da(a):
    return -si.quad(lambda t: t * t * np.exp(-a * t * t), 0.0, 1.0, epsabs=1e-13, epsrel=1e-13)[0]


@dc.custom_vjp(result_shape=())
def integral(a):
    return gaussian_integral(a)


def integral_fwd(a):
    return gaussian_integral(a), a


def integral_bwd(a, g):
    return (g * gaussian_integral_da(a),)


integral.defvjp(integral_fwd, integral_bwd)


def objective(x):
    return integral(x[0] ** 2) * x[1] + np.sum(x**2)


X = np.array([0.7, 1.3])


@pytest.fixture(scope="module", params=["python", pytest.param("numba", marks=pytest.mark.numba)])
def compiled(request):
    return dc.compile(objective, backend=request.param, name=f"callback_objective_{request.param}")


def test_untraceable_custom_vjp_runs_as_python_on_both_backends(compiled):
    a = X[0] ** 2
    assert compiled(X) == pytest.approx(gaussian_integral(a) * X[1] + X @ X, rel=1e-14)
    value, g = dc.value_and_grad(compiled)(X)
    assert value == pytest.approx(compiled(X), rel=1e-15)
    expected = [2.0 * X[0] * gaussian_integral_da(a) * X[1] + 2.0 * X[0], gaussian_integral(a) + 2.0 * X[1]]
    np.testing.assert_allclose(g, expected, rtol=1e-13)
    assert "numba.objmode" in dc.grad(compiled).source


def test_callback_gradient_against_finite_differences_and_second_order_is_refused():
    f = dc.compile(objective, backend="python", name="callback_checked")
    result = dc.check_grad(f, X, order=2)
    assert result.ok and "grad . v vs finite difference" in result.errors
    assert any("Python callback" in s for s in result.skipped)
    with pytest.raises(UnsupportedError, match="runs as a Python callback"):
        dc.hessian(f)(X)


def test_traceable_fwd_with_untraceable_bwd_compiles_the_forward_code():
    @dc.custom_vjp(result_shape=lambda shape: ())
    def softnorm(v):
        return np.log(np.sum(np.exp(v)))

    def softnorm_fwd(v):
        e = np.exp(v)
        return np.log(np.sum(e)), e

    def softnorm_bwd(e, g):
        return (g * np.asarray(e) / float(np.sum(np.asarray(e))),)  # np.asarray / float: not traceable

    softnorm.defvjp(softnorm_fwd, softnorm_bwd)
    f = dc.compile(lambda v: softnorm(v) * 2.0, backend="python", name="softnorm_user")
    v = np.array([0.1, -0.4, 0.9])
    np.testing.assert_allclose(dc.grad(f)(v), 2.0 * np.exp(v) / np.exp(v).sum(), rtol=1e-14)
    source = dc.grad(f).source
    assert ("vm.exp(" in source or "np.exp(" in source) and "softnorm_bwd" in source  # fwd compiled, bwd called back


def test_pure_callback_values_and_its_missing_derivative():
    def h(x):
        return np.sum(dc.pure_callback(np.cumsum, x.shape, x) * x)

    for backend in ("python", "numba"):
        f = dc.compile(h, backend=backend, name=f"pure_callback_{backend}")
        x = np.arange(1.0, 5.0)
        assert f(x) == pytest.approx(np.sum(np.cumsum(x) * x))
    with pytest.raises(UnsupportedError, match=r"(?s)pure_callback\(cumsum\) has no derivative.*custom_vjp"):
        dc.grad(f)(x)
    assert dc.pure_callback(np.cumsum, (3,), np.ones(3)).tolist() == [1.0, 2.0, 3.0]  # outside tracing


def test_callback_mistakes_are_explained():
    f = dc.compile(lambda x: dc.pure_callback(np.cumsum, (2,), x).sum(), backend="python", name="wrong_shape")
    with pytest.raises(SignatureError, match=r"returned shape \(3,\).*declared with result shape \(2,\)"):
        f(np.ones(3))

    @dc.custom_vjp
    def undeclared(a):
        return gaussian_integral(a)

    undeclared.defvjp(integral_fwd, integral_bwd)
    g = dc.compile(lambda a: undeclared(a) * 2.0, backend="python", name="undeclared_user")
    with pytest.raises(dc.DcompileError, match=r"result_shape="):
        g(0.5)
