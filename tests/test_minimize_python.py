"""dc.minimize with plain Python objectives: callbacks from the compiled loops (issue 24 item 5)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize as so

import dcompile as dc
from dcompile.errors import DcompileError, SignatureError

pytestmark = pytest.mark.numba


def rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def x0(n=10):
    x = np.full(n, -1.2)
    x[1::2] = 1.0
    return x


def test_python_objective_with_gradient_function_matches_scipy():
    res = dc.minimize(rosen, x0(), jac=rosen_grad, options={"gtol": 1e-8})
    ref = so.minimize(rosen, x0(), jac=rosen_grad, method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 0})
    assert res.success and res.status == 0
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    np.testing.assert_allclose(res.x, np.ones(10), atol=1e-6)
    assert np.max(np.abs(rosen_grad(res.x))) <= 1e-8 and res.nfev >= res.nit > 0


def test_jac_true_args_and_the_compiled_objective_take_the_same_path():
    def shifted(x, c):
        return rosen(x - c), rosen_grad(x - c)

    c = np.linspace(-0.1, 0.1, 10)
    res = dc.minimize(shifted, x0() + c, args=(c,), jac=True)
    compiled = dc.minimize(dc.compile(rosen_np, name="rosen_for_python_check"), x0())
    assert res.success and compiled.success
    np.testing.assert_allclose(res.x - c, np.ones(10), atol=1e-5)
    # Same method and line search on the same function: the same iterations.
    plain = dc.minimize(rosen, x0(), jac=rosen_grad)
    assert plain.nit == compiled.nit and plain.nfev == compiled.nfev
    np.testing.assert_allclose(plain.x, compiled.x, rtol=1e-9)


def rosen_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_newton_with_hess_and_newton_cg_with_hessp():
    newton = dc.minimize(rosen, x0(4), jac=rosen_grad, hess=so.rosen_hess, method="newton")
    ncg = dc.minimize(rosen, x0(), jac=rosen_grad, hessp=so.rosen_hess_prod, method="newton-cg")
    assert newton.success and newton.nhev > 0
    np.testing.assert_allclose(newton.x, np.ones(4), atol=1e-6)
    assert ncg.success and ncg.nhev > 0
    np.testing.assert_allclose(ncg.x, np.ones(10), atol=1e-6)
    with pytest.raises(SignatureError, match=r"(?s)needs the Hessian.*hess="):
        dc.minimize(rosen, x0(), jac=rosen_grad, method="newton")
    with pytest.raises(SignatureError, match=r"(?s)Hessian-vector products.*hessp="):
        dc.minimize(rosen, x0(), jac=rosen_grad, method="newton-cg")


def test_the_users_exception_reaches_the_caller():
    def crashes(x):
        if x[0] > -1.0:
            raise RuntimeError("simulator crashed")
        return rosen(x)

    with pytest.raises(RuntimeError, match="simulator crashed"):
        dc.minimize(crashes, x0(), jac=rosen_grad)
    with pytest.raises(SignatureError, match=r"gradient of .* has 3 entries"):
        dc.minimize(rosen, x0(), jac=lambda x: np.zeros(3))
    with pytest.raises(SignatureError, match="must return a scalar"):
        dc.minimize(lambda x: x, x0(), jac=rosen_grad)
    # The driver is fine afterwards.
    assert dc.minimize(rosen, x0(), jac=rosen_grad).success


def test_callback_and_a_nan_objective():
    seen = []
    res = dc.minimize(rosen, x0(), jac=rosen_grad, callback=lambda r: seen.append(r.nit) or len(seen) >= 2)
    assert res.status == 6 and seen
    nan = dc.minimize(lambda x: np.nan, x0(), jac=rosen_grad)
    assert not nan.success and nan.status == 4


def test_a_plain_function_without_jac_is_compiled_by_dcompile():
    res = dc.minimize(rosen_np, x0())
    assert res.success
    np.testing.assert_allclose(res.x, np.ones(10), atol=1e-5)

    def untraceable(x):
        return float(so.rosen(x))  # float() of a traced value: not traceable

    with pytest.raises(DcompileError, match=r"jac=True"):
        dc.minimize(untraceable, x0())
    assert dc.minimize(untraceable, x0(), jac=so.rosen_der).success


def test_mistakes_are_explained():
    f = dc.compile(rosen_np, name="rosen_jac_refused")
    with pytest.raises(SignatureError, match="derives its own derivatives"):
        dc.minimize(f, x0(), jac=rosen_grad)
    with pytest.raises(SignatureError, match="jac must be True"):
        dc.minimize(rosen, x0(), jac="2-point")
    with pytest.raises(SignatureError, match="come with jac"):
        dc.minimize(rosen, x0(), hess=so.rosen_hess)
