"""Optimizers take a structure of arrays as the starting point and answer in it (issue 19 item 2)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize

import dcompile as dc

pytestmark = pytest.mark.numba

RNG = np.random.default_rng(3)
X = RNG.normal(size=(60, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.01 * RNG.normal(size=60)


def loss(p, X, y, lam=1e-3):
    r = X @ p["w"] + p["b"] - y
    return np.sum(r**2) + lam * (p["w"] @ p["w"])


def reference():
    def flat(v):
        return loss({"w": v[:3], "b": v[3]}, X, Y)

    return scipy_minimize(flat, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x


def test_minimize_dict_start_compiled_and_plain():
    ref = reference()
    for fun in (dc.compile(loss, name="ridge_struct"), loss):
        res = dc.minimize(fun, {"w": np.zeros(3), "b": 0.0}, args=(X, Y))
        assert res.success and isinstance(res.x, dict) and isinstance(res.jac, dict)
        np.testing.assert_allclose(res.x["w"], ref[:3], rtol=1e-6)
        assert res.x["b"] == pytest.approx(ref[3], rel=1e-6)


def test_minimize_python_objective_with_structured_gradient():
    def value_and_grad(p, X, y):
        r = X @ p["w"] + p["b"] - y
        return float(r @ r + 1e-3 * p["w"] @ p["w"]), {"w": 2 * X.T @ r + 2e-3 * p["w"], "b": 2 * r.sum()}

    res = dc.minimize(value_and_grad, {"w": np.zeros(3), "b": 0.0}, args=(X, Y), jac=True)
    assert res.success
    np.testing.assert_allclose(res.x["w"], reference()[:3], rtol=1e-6)


def test_data_arguments_may_be_structures_and_defaults_fill_in():
    def fit(w, data, lam=1e-3):
        r = data["X"] @ w - data["y"]
        return np.sum(r**2) + lam * (w @ w)

    res = dc.minimize(dc.compile(fit, name="fit_data_dict"), np.zeros(3), args=({"X": X, "y": Y},))
    expected = np.linalg.solve(X.T @ X + 1e-3 * np.eye(3), X.T @ Y)
    assert res.success
    np.testing.assert_allclose(res.x, expected, rtol=1e-6)


def test_adam_and_minimize_on_a_finite_sum_with_dict_parameters():
    def sample_loss(p, x, y):
        return (x @ p["w"] + p["b"] - y) ** 2

    obj = dc.finite_sum(dc.compile(sample_loss, name="sample_struct"), (X, Y), mean=True)
    start = {"w": np.zeros(3), "b": 0.0}
    res = dc.adam(obj, start, epochs=60, batch_size=8, schedule=0.05)
    assert isinstance(res.x, dict) and isinstance(res.x_avg, dict)
    np.testing.assert_allclose(res.x["w"], [1.0, -2.0, 0.5], atol=0.05)
    full = dc.minimize(obj, start)
    assert full.success and isinstance(full.x, dict)
    np.testing.assert_allclose(full.x["w"], [1.0, -2.0, 0.5], atol=0.01)
