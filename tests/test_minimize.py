"""dc.minimize: L-BFGS and gradient descent with their loops in numba (issue 4, first part)."""

from __future__ import annotations

import numpy as np
import pytest

import dcompile as dc

pytestmark = pytest.mark.numba


def rosen_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.fixture(scope="module")
def rosen():
    return dc.compile(rosen_np, name="rosen_opt")


@pytest.fixture(scope="module")
def quad():
    def q(x, A, b):
        return 0.5 * np.dot(x, A @ x) - np.dot(b, x)

    return dc.compile(q, name="quad_opt")


def x0_rosen(n):
    x = np.full(n, -1.2)
    x[1::2] = 1.0
    return x


def test_lbfgs_solves_extended_rosenbrock(rosen):
    res = dc.minimize(rosen, x0_rosen(10), method="lbfgs", options={"gtol": 1e-8})
    assert res.success and res.status == 0 and "gradient" in res.message
    np.testing.assert_allclose(res.x, np.ones(10), atol=1e-6)
    assert res.fun < 1e-12 and np.max(np.abs(res.jac)) <= 1e-8
    assert res.nfev >= res.nit > 0 and res.njev == res.nfev
    h = res.history
    assert len(h["f"]) == res.nit + 1 and h["f"][0] == rosen_np(x0_rosen(10)) and h["f"][-1] == res.fun
    assert res.compile_seconds >= 0 and res.solve_seconds >= 0


def test_lbfgs_matches_scipy_on_a_quadratic_with_data(quad):
    rng = np.random.default_rng(0)
    M = rng.normal(size=(8, 8))
    A, b = M @ M.T + 8 * np.eye(8), rng.normal(size=8)
    res = dc.minimize(quad, np.zeros(8), args=(A, b), options={"gtol": 1e-6})
    assert res.success
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-5)


def test_gradient_descent_fixed_step_and_armijo(quad):
    A, b = np.diag([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 1.0])
    exact = b / np.diag(A)
    fixed = dc.minimize(quad, np.zeros(3), args=(A, b), method="gd", step=0.2, options={"gtol": 1e-9})
    armijo = dc.minimize(quad, np.zeros(3), args=(A, b), method="gd", options={"gtol": 1e-9})
    for res in (fixed, armijo):
        assert res.success
        np.testing.assert_allclose(res.x, exact, atol=1e-8)
    assert fixed.method == "gd (fixed step)" and armijo.line_search == "armijo"


def test_limits_are_reported_not_success(rosen):
    res = dc.minimize(rosen, x0_rosen(10), options={"maxiter": 3})
    assert not res.success and res.status == 1 and res.nit == 3 and "iterations" in res.message


def test_too_large_fixed_step_is_not_a_success(quad):
    A, b = np.diag([1.0, 2.0, 4.0]), np.ones(3)
    res = dc.minimize(quad, np.zeros(3), args=(A, b), method="gd", step=2.0, options={"maxiter": 2000})
    assert not res.success  # diverges to inf: non-finite, never success
    assert res.status in (1, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x0": np.zeros((2, 2))}, "1-D array"),
        ({"x0": np.array([np.nan, 1.0])}, "non-finite"),
        ({"method": "simplex"}, "unknown method"),
        ({"options": {"gtoll": 1.0}}, "unknown options"),
        ({"line_search": "exact"}, "unknown line_search"),
    ],
)
def test_bad_input_is_a_clear_error(rosen, kwargs, message):
    call = {"x0": np.zeros(4), **kwargs}
    with pytest.raises(dc.SignatureError, match=message):
        dc.minimize(rosen, call.pop("x0"), **call)


@pytest.mark.parametrize("method", ["bfgs", "newton", "newton-cg"])
def test_second_order_and_quasi_newton_methods_on_a_quadratic(quad, method):
    rng = np.random.default_rng(1)
    M = rng.normal(size=(6, 6))
    A, b = M @ M.T + np.eye(6), rng.normal(size=6)
    res = dc.minimize(quad, np.zeros(6), args=(A, b), method=method, options={"gtol": 1e-8})
    assert res.success, res.message
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), atol=1e-6)
    if method == "newton":
        assert res.nit <= 2 and res.nhev == res.nit  # exact on a quadratic: one Newton step
    if method == "newton-cg":
        assert res.nhev > 0


@pytest.mark.parametrize("method", ["bfgs", "newton-cg"])
def test_bfgs_and_newton_cg_solve_rosenbrock(rosen, method):
    res = dc.minimize(rosen, x0_rosen(10), method=method, options={"gtol": 1e-8})
    assert res.success
    np.testing.assert_allclose(res.x, np.ones(10), atol=1e-6)


def test_newton_shifts_an_indefinite_hessian():
    f = dc.compile(lambda x: x[0] ** 4 - x[0] ** 2 + x[1] ** 2, name="double_well")
    res = dc.minimize(f, np.array([0.1, 1.0]), method="newton", options={"gtol": 1e-10})
    assert res.success  # the Hessian is indefinite at the start: the shift keeps the step downhill
    np.testing.assert_allclose(np.abs(res.x), [1 / np.sqrt(2), 0.0], atol=1e-8)
    assert res.fun < f(np.array([0.1, 1.0]))


# Classic problems (Moré, Garbow & Hillstrom 1981) with their published minima.
MGH = ["beale", "helical_valley", "wood"]


@pytest.fixture(scope="module")
def mgh():
    from dcompile.optimize.problems import PROBLEMS

    return {name: (PROBLEMS[name], dc.compile(PROBLEMS[name].f, name=f"mgh_{name}")) for name in MGH}


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "newton"])
@pytest.mark.parametrize("name", MGH)
def test_methods_reach_the_published_minimum(mgh, name, method):
    problem, f = mgh[name]
    res = dc.minimize(f, problem.x0, method=method, options={"gtol": 1e-7, "maxiter": 5000})
    assert res.success, f"{name} {method}: {res.message}"
    assert abs(res.fun - problem.fmin) <= 1e-10 + 1e-8 * abs(problem.fmin)


@pytest.fixture(scope="module")
def barrier():
    """Defined only inside the unit disc: long trial steps land where f is NaN."""

    def f(x):
        return 10.0 * (x[0] - 0.9) ** 2 + x[1] ** 2 - np.log(1.0 - x[0] ** 2 - x[1] ** 2)

    return dc.compile(f, name="barrier_opt")


@pytest.mark.parametrize("method", ["lbfgs", "gd"])
def test_nan_during_the_line_search_shrinks_the_step(barrier, method):
    res = dc.minimize(barrier, np.array([0.0, 0.5]), method=method, options={"gtol": 1e-8})
    assert res.success, res.message
    assert np.all(np.isfinite(res.history["f"])) and np.all(np.diff(res.history["f"]) <= 0)
    np.testing.assert_allclose(dc.grad(barrier)(res.x), 0.0, atol=1e-8)


def test_a_non_finite_start_is_reported_not_success(barrier):
    res = dc.minimize(barrier, np.array([2.0, 0.0]))  # outside the disc: log of a negative number
    assert not res.success and res.status == 4 and res.nit == 0 and "not finite" in res.message


def test_an_unreachable_gtol_stalls_and_terminates(quad):
    rng = np.random.default_rng(7)
    M = rng.normal(size=(8, 8))
    A, b = M @ M.T + np.eye(8), rng.normal(size=8)
    res = dc.minimize(quad, np.zeros(8), args=(A, b), options={"gtol": 1e-300, "maxiter": 100_000})
    assert not res.success and res.status in (3, 5), res.message  # a failed search or a stall, never success
    assert res.nit < 100_000
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-10)


# Hostile objectives (issue 10, item 5): each run ends, in bounded time, with an honest status.
HOSTILE = {
    "unbounded_linear": (lambda x: x[0] + x[1], [0.0, 0.0], {8}),
    "unbounded_quartic": (lambda x: -(x[0] ** 4) + x[1] ** 2, [0.5, 1.0], {4, 8}),
    "flat": (lambda x: 0.0 * x[0] + 3.0, [1.0, 2.0], {0}),  # the gradient is exactly 0: a minimiser
    "nan_gradient_at_start": (lambda x: np.sqrt(x[0]) + x[1] ** 2, [0.0, 1.0], {4}),
    "wall_of_inf": (lambda x: dc.where(x[0] > 2.0, np.inf, (x[0] - 3.0) ** 2) + x[1] ** 2, [0.0, 1.0], {3, 5}),
    "jump": (lambda x: dc.where(x[0] > 0.3, 1.0 + x[0] ** 2, x[0] ** 2) + x[1] ** 2, [1.0, 1.0], {0, 3, 5}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_objectives_end_with_an_honest_status(name):
    fn, x0, statuses = HOSTILE[name]
    f = dc.compile(fn, name=f"hostile_{name}")
    res = dc.minimize(f, np.array(x0), options={"maxiter": 2000})
    assert res.status in statuses, res.message
    assert res.success == (res.status == 0)
    if res.success:
        assert np.max(np.abs(dc.grad(f)(res.x))) <= 1e-6
    assert res.nit <= 2000 and res.nfev <= 100_000
    assert np.isfinite(res.fun) or res.status == 4
