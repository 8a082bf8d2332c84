"""The line searches of ``dcompile.optimize.linesearch``, checked against their conditions.

Every accepted step is checked directly: ``x_new == x + alpha p``, the returned
value and gradient are those of ``vg`` at ``x_new``, sufficient decrease
``f_new <= f0 + c1 alpha g0.p`` and, for strong Wolfe,
``|g_new.p| <= c2 |g0.p|``. Objectives are compiled once per module (each line
search compiles once per objective, since numba specialises on the dispatcher).
"""

from __future__ import annotations

import numpy as np
import pytest

import dcompile as dc
from dcompile.optimize import linesearch as ls

pytestmark = pytest.mark.numba

C1, C2 = 1e-4, 0.9


def quad(x):
    return np.sum((x - 3.0) ** 2)


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def nan_beyond_one(x):
    """(x - 2)^2 summed, but NaN wherever some x_i > 1."""
    return np.sum(dc.where(x > 1.0, np.nan, (x - 2.0) ** 2))


def linear(x):
    """Unbounded below: no step satisfies the curvature condition."""
    return np.sum(x)


def least_squares(w, X, y):
    r = X @ w - y
    return 0.5 * np.sum(r * r)


def _njit(fn, *example, wrt=None):
    vg = dc.value_and_grad(dc.compile(fn), wrt=wrt) if wrt else dc.value_and_grad(dc.compile(fn))
    vg(*example)  # trace and compile for these shapes
    return vg.njit


@pytest.fixture(scope="module")
def vgs():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    return {
        "quad": _njit(quad, np.zeros(1)),
        "rosen2": _njit(rosen, np.zeros(2)),
        "rosen100": _njit(rosen, np.zeros(100)),
        "nan": _njit(nan_beyond_one, np.zeros(3)),
        "linear": _njit(linear, np.zeros(2)),
        "lsq": _njit(least_squares, np.zeros(4), X, y, wrt="w"),
        "data": (X, y),
    }


def _search(kind, vg, x, p, alpha0=1.0, args=(), max_evals=50):  # noqa: PLR0917
    f0, g0 = vg(x, *args)
    if kind == "armijo":
        res = ls.armijo(vg, args, x, f0, g0, p, alpha0, C1, max_evals)
    else:
        res = ls.strong_wolfe(vg, args, x, f0, g0, p, alpha0, C1, C2, max_evals)
    return f0, g0, res


def _check_accepted(kind, vg, x, p, f0, g0, res, args=()):  # noqa: PLR0917
    alpha, x_new, f_new, g_new, nfev, status = res
    assert status == ls.OK, res
    assert alpha > 0.0
    assert nfev >= 1
    np.testing.assert_array_equal(x_new, x + alpha * p)
    f_chk, g_chk = vg(x_new, *args)
    assert f_new == f_chk
    np.testing.assert_array_equal(g_new, g_chk)
    assert np.isfinite(f_new)
    assert np.all(np.isfinite(g_new))
    d0 = g0 @ p
    assert f_new <= f0 + C1 * alpha * d0  # sufficient decrease (Armijo)
    if kind == "wolfe":
        assert abs(g_new @ p) <= C2 * abs(d0)  # strong curvature condition


KINDS = ["armijo", "wolfe"]


def g0_of(vg, x, *args):
    return vg(x, *args)[1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha0", [1.0, 0.3, 1e-3, 10.0])
def test_quadratic_1d(vgs, kind, alpha0):
    vg = vgs["quad"]
    x = np.array([0.0])
    p = -g0_of(vg, x)
    f0, g0, res = _search(kind, vg, x, p, alpha0)
    _check_accepted(kind, vg, x, p, f0, g0, res)


@pytest.mark.parametrize("kind", KINDS)
def test_quadratic_interpolation_is_exact(vgs, kind):
    # phi(a) = 36 (a - 1/2)^2: the first interpolation (quadratic for Armijo,
    # cubic in zoom) lands on the exact minimiser a = 1/2.
    vg = vgs["quad"]
    x = np.array([0.0])
    f0, g0, res = _search(kind, vg, x, np.array([6.0]), alpha0=1.0)
    _check_accepted(kind, vg, x, np.array([6.0]), f0, g0, res)
    assert res[0] == pytest.approx(0.5, rel=1e-12)
    assert res[4] == 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["rosen2", "rosen100"])
def test_rosenbrock(vgs, kind, name):
    vg = vgs[name]
    n = 2 if name == "rosen2" else 100
    rng = np.random.default_rng(1)
    starts = [np.tile([-1.2, 1.0], n // 2)] + [rng.uniform(-2.0, 2.0, n) for _ in range(6)]
    for x in starts:
        g = g0_of(vg, x)
        directions = [-g, -g / np.linalg.norm(g), -(g + 0.5 * np.abs(g) * rng.normal(size=n))]
        for p in directions:
            if g @ p >= 0.0:
                continue
            for alpha0 in (1.0, 1e-6, 100.0):
                f0, g0, res = _search(kind, vg, x, p, alpha0)
                _check_accepted(kind, vg, x, p, f0, g0, res)


@pytest.mark.parametrize("kind", KINDS)
def test_wolfe_extrapolates_from_a_short_step(vgs, kind):
    vg = vgs["quad"]
    x = np.array([0.0])
    f0, g0, res = _search(kind, vg, x, np.array([6.0]), alpha0=1e-4)
    _check_accepted(kind, vg, x, np.array([6.0]), f0, g0, res)
    if kind == "wolfe":
        assert res[0] > 0.05  # |phi'(a)| <= 0.9 |phi'(0)| needs a >= 0.025: the step grew


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha0", [1.0, 1e3, 1e12])
def test_nan_beyond_a_radius_shrinks(vgs, kind, alpha0):
    vg = vgs["nan"]
    x = np.zeros(3)
    p = -g0_of(vg, x)  # (4, 4, 4): every step longer than 1/4 gives NaN
    f0, g0, res = _search(kind, vg, x, p, alpha0)
    assert not np.isfinite(vg(x + alpha0 * p)[0])
    _check_accepted(kind, vg, x, p, f0, g0, res)
    assert res[0] <= 0.25


@pytest.mark.parametrize("kind", KINDS)
def test_nan_at_every_step_is_non_finite(vgs, kind):
    vg = vgs["nan"]
    x = np.ones(3)  # finite here, NaN for any x_i > 1
    p = np.array([1.0, 0.0, 0.0])
    f0, _, res = _search(kind, vg, x, p, 1.0, max_evals=200)
    alpha, x_new, f_new, _, nfev, status = res
    assert status == ls.NON_FINITE
    assert alpha == 0.0 and x_new is x and f_new == f0
    assert nfev < 200  # stopped when the step no longer changed x


@pytest.mark.parametrize("kind", KINDS)
def test_nan_with_few_evaluations_is_reported(vgs, kind):
    vg = vgs["nan"]
    x = np.zeros(3)
    p = -g0_of(vg, x)
    f0, _, res = _search(kind, vg, x, p, 1e12, max_evals=3)  # 1e12, 2.5e11, 6e10: all NaN
    alpha, x_new, f_new, _, nfev, status = res
    assert (status, nfev, alpha, f_new) == (ls.NON_FINITE, 3, 0.0, f0)
    assert x_new is x


@pytest.mark.parametrize("kind", KINDS)
def test_not_a_descent_direction(vgs, kind):
    vg = vgs["quad"]
    x = np.array([0.0])
    for p in (g0_of(vg, x), np.zeros(1)):
        f0, _, res = _search(kind, vg, x, p)
        alpha, x_new, f_new, _, nfev, status = res
        assert (status, nfev, alpha, f_new) == (ls.NOT_DESCENT, 0, 0.0, f0)
        assert x_new is x


@pytest.mark.parametrize("kind", KINDS)
def test_max_evals_returns_x_when_nothing_decreased(vgs, kind):
    vg = vgs["rosen2"]
    x = np.array([-1.2, 1.0])
    p = -g0_of(vg, x)
    f0, g0, res = _search(kind, vg, x, p, 1.0, max_evals=1)  # f(x + p) is about 1e11
    alpha, x_new, f_new, g_new, nfev, status = res
    assert (status, nfev, alpha, f_new) == (ls.MAX_EVALS, 1, 0.0, f0)
    assert x_new is x
    np.testing.assert_array_equal(g_new, g0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("max_evals", [2, 3, 4])
def test_max_evals_returns_the_best_point(vgs, kind, max_evals):
    vg = vgs["rosen2"]
    x = np.array([-1.2, 1.0])
    p = -g0_of(vg, x)
    f0, _, res = _search(kind, vg, x, p, 1.0, max_evals=max_evals)
    alpha, x_new, f_new, _, nfev, status = res
    assert status in (ls.OK, ls.MAX_EVALS, ls.STILL_DECREASING)
    assert nfev <= max_evals
    assert f_new <= f0
    if status != ls.OK and alpha > 0.0:
        assert f_new < f0
        np.testing.assert_array_equal(x_new, x + alpha * p)
        assert f_new == vg(x_new)[0]


def test_unbounded_below_has_no_wolfe_point(vgs):
    vg = vgs["linear"]
    x = np.zeros(2)
    p = -g0_of(vg, x)
    f0, _, res = _search("wolfe", vg, x, p, 1.0, max_evals=20)
    alpha, x_new, f_new, _, nfev, status = res
    assert (status, nfev) == (ls.STILL_DECREASING, 20)
    assert alpha == 2.0**19  # the step doubled each time; the last one is the best
    assert f_new == vg(x_new)[0] < f0
    _, _, res = _search("armijo", vg, x, p, 1.0)  # any step decreases enough
    assert res[-1] == ls.OK and res[0] == 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_data_arguments_are_passed_through(vgs, kind):
    vg = vgs["lsq"]
    X, y = vgs["data"]
    rng = np.random.default_rng(2)
    for scale in (1.0, 10.0):
        Xs, ys = scale * X, y + scale
        args = (Xs, ys)
        w = rng.normal(size=4)
        p = -g0_of(vg, w, *args)
        f0, g0, res = _search(kind, vg, w, p, 1.0, args=args)
        np.testing.assert_allclose(f0, 0.5 * np.sum((Xs @ w - ys) ** 2), rtol=1e-12)
        _check_accepted(kind, vg, w, p, f0, g0, res, args=args)
        w_new = res[1]
        np.testing.assert_allclose(res[2], 0.5 * np.sum((Xs @ w_new - ys) ** 2), rtol=1e-12)
        np.testing.assert_allclose(res[3], Xs.T @ (Xs @ w_new - ys), rtol=1e-10, atol=1e-10)
        if kind == "wolfe":
            # a quadratic along p with minimiser a* = -g.p / (p'X'Xp): |phi'(a)| <= 0.9 |phi'(0)|
            # means |a - a*| <= 0.9 a*
            a_star = -(g0 @ p) / np.sum((Xs @ p) ** 2)
            assert abs(res[0] - a_star) <= 0.9 * a_star + 1e-12
