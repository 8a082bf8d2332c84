"""dc.minimize with bounds: L-BFGS-B (optimize/bounded.py) against independent oracles.

Oracles: SciPy's ``lsq_linear`` (an exact bounded least-squares solver) on
box-constrained quadratics, SciPy's L-BFGS-B at tight tolerances on the
L-BFGS-B paper's bounded Rosenbrock, the first-order (KKT) conditions of
the box problem, and the unbounded solve when the box is inactive.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import Bounds, lsq_linear
from scipy.optimize import minimize as scipy_minimize

import dcompile as dc

pytestmark = pytest.mark.numba


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def lsq(x, A, b):
    r = A @ x - b
    return 0.5 * np.dot(r, r)


@pytest.fixture(scope="module")
def f():
    return dc.compile(rosen, name="rosen_bounded")


@pytest.fixture(scope="module")
def q():
    return dc.compile(lsq, name="lsq_bounded")


def kkt_violation(x, g, lo, hi):
    """max |P(x - g) - x| (zero at a first-order point of the box problem)."""
    return np.max(np.abs(np.clip(x - g, lo, hi) - x))


@pytest.mark.parametrize("seed", range(6))
def test_box_constrained_least_squares_match_an_exact_solver(q, seed):
    rng = np.random.default_rng(seed)
    m, n = 30, 8
    A = rng.normal(size=(m, n))
    b = rng.normal(size=m) * 3.0
    lo = rng.uniform(-1.0, 0.0, size=n)
    hi = lo + rng.uniform(0.2, 1.5, size=n)
    lo[0], hi[1] = -np.inf, np.inf  # some one-sided and free entries
    exact = lsq_linear(A, b, bounds=(lo, hi), tol=1e-14, lsmr_tol="auto", method="bvls").x
    res = dc.minimize(q, np.zeros(n), args=(A, b), bounds=list(zip(lo, hi, strict=True)), options={"gtol": 1e-10})
    assert res.success, res.message
    assert np.all(res.x >= lo) and np.all(res.x <= hi)
    np.testing.assert_allclose(res.x, exact, atol=1e-7)
    assert kkt_violation(res.x, res.jac, lo, hi) <= 1e-10


def test_the_papers_bounded_rosenbrock_matches_scipy(f):
    """driver1 of L-BFGS-B: n = 25, odd entries in [1, 100], even in [-100, 100], x0 = 3."""
    n = 25
    lo = np.where(np.arange(n) % 2 == 0, 1.0, -100.0)
    hi = np.full(n, 100.0)
    x0 = np.full(n, 3.0)
    res = dc.minimize(f, x0, bounds=Bounds(lo, hi), options={"gtol": 1e-8})
    vg = dc.value_and_grad(f)
    ref = scipy_minimize(
        vg, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)),
        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000},
    )  # fmt: skip
    assert res.success
    assert res.fun <= ref.fun + 1e-9 * abs(ref.fun)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-5)
    assert kkt_violation(res.x, res.jac, lo, hi) <= 1e-8
    assert res.nfev <= 2 * ref.nfev  # same order of evaluations as SciPy


def test_an_inactive_box_gives_the_unbounded_minimum(f):
    x0 = np.array([-1.2, 1.0, -1.2, 1.0])
    res = dc.minimize(f, x0, bounds=[(-5.0, 5.0)] * 4)
    assert res.success
    np.testing.assert_allclose(res.x, np.ones(4), atol=1e-5)


def test_the_start_is_projected_and_infinite_bounds_are_none(f):
    x0 = np.array([10.0, -10.0, 0.5])
    res = dc.minimize(f, x0, bounds=[(None, 0.5), (0.0, None), (None, None)])
    assert res.success and res.x[0] <= 0.5 and res.x[1] >= 0.0
    assert kkt_violation(res.x, res.jac, [-np.inf, 0.0, -np.inf], [0.5, np.inf, np.inf]) <= 1e-6
    assert res.history["f"][0] == pytest.approx(rosen(np.array([0.5, 0.0, 0.5])))  # started from P(x0)


def test_chunked_runs_and_callbacks_with_bounds(f):
    x0 = np.full(6, 2.0)
    box = [(-0.5, 0.8)] * 6
    whole = dc.minimize(f, x0, bounds=box)
    seen = []
    chunked = dc.minimize(f, x0, bounds=box, callback=seen.append)
    assert seen and whole.success
    np.testing.assert_array_equal(whole.x, chunked.x)
    assert whole.nfev == chunked.nfev


def test_python_objectives_take_bounds():
    def fun(x):
        return float(np.sum((x - 3.0) ** 2)), 2.0 * (x - 3.0)

    res = dc.minimize(fun, np.zeros(4), jac=True, bounds=[(0.0, 1.0)] * 2 + [(4.0, 5.0)] * 2)
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, 1.0, 4.0, 4.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bounds": [(0.0, 1.0)] * 3}, "4 pairs"),
        ({"bounds": [(1.0, 0.0)] * 4}, "lo <= hi"),
        ({"bounds": [(0.0, 1.0)] * 4, "method": "newton"}, "method='lbfgs'"),
        ({"bounds": "box"}, "pairs"),
    ],
)
def test_bad_bounds_are_clear_errors(f, kwargs, message):
    with pytest.raises(dc.SignatureError, match=message):
        dc.minimize(f, np.zeros(4), **kwargs)
