"""dc.finite_sum, dc.sgd, dc.adam and the step-size schedules (issue 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dcompile as dc
from dcompile.sums import schedules

pytestmark = pytest.mark.numba


def nll_one_np(w, x, y):
    return np.logaddexp(0.0, -y * (x @ w))


def half_sq_np(w, x):
    return 0.5 * np.dot(w - x, w - x)


@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = np.sign(X @ rng.normal(size=5) + 0.3 * rng.normal(size=300))
    loss = dc.compile(nll_one_np, name="fs_nll_one")
    l2 = dc.compile(lambda w: 0.05 * np.dot(w, w), name="fs_l2")
    return X, y, loss, l2


def reference(w, X, y, mean, lam):
    z = -y * (X @ w)
    f = np.logaddexp(0.0, z)
    g = X * (-y / (1.0 + np.exp(-z)))[:, None]
    scale = 1.0 / len(y) if mean else 1.0
    return scale * f.sum() + lam * w @ w, scale * g.sum(0) + 2 * lam * w


@pytest.mark.parametrize("mean", [False, True])
def test_value_and_gradient_match_numpy(logistic, mean):
    X, y, loss, l2 = logistic
    obj = dc.finite_sum(loss, data=(X, y), mean=mean, regularizer=l2)
    w = np.linspace(-0.5, 0.5, 5)
    f_ref, g_ref = reference(w, X, y, mean, 0.05)
    np.testing.assert_allclose(obj(w), f_ref, rtol=1e-13)
    f, g = dc.value_and_grad(obj)(w)
    np.testing.assert_allclose(f, f_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dc.grad(obj)(w), g_ref, rtol=1e-12, atol=1e-14)


def test_mini_batch_estimate_is_the_scaled_batch_sum(logistic):
    X, y, loss, l2 = logistic
    obj = dc.finite_sum(loss, data=(X, y), regularizer=l2)
    w = np.full(5, 0.1)
    idx = np.array([3, 7, 7, 250])
    f, g = obj.batch_value_and_grad(w, idx)
    f_b, g_b = reference(w, X[idx], y[idx], False, 0.0)
    np.testing.assert_allclose(f, len(y) / len(idx) * f_b + 0.05 * w @ w, rtol=1e-13)
    np.testing.assert_allclose(g, len(y) / len(idx) * g_b + 0.1 * w, rtol=1e-12)


def test_integer_labels_and_matrix_rows_are_data(logistic):
    X, y, loss, _ = logistic
    obj = dc.finite_sum(loss, data=(X, y.astype(np.int64)))
    w = np.full(5, -0.2)
    np.testing.assert_allclose(obj(w), reference(w, X, y, False, 0.0)[0], rtol=1e-13)


def test_parallel_gives_the_same_answer_to_rounding(logistic):
    X, y, loss, l2 = logistic
    w = np.linspace(1.0, -1.0, 5)
    serial = dc.finite_sum(loss, data=(X, y), regularizer=l2)
    parallel = dc.finite_sum(loss, data=(X, y), regularizer=l2, parallel=True)
    f1, g1 = serial.value_and_grad(w)
    f2, g2 = parallel.value_and_grad(w)
    np.testing.assert_allclose(f2, f1, rtol=1e-13)
    np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-13)


def test_lbfgs_on_a_finite_sum_matches_the_array_formulation(logistic):
    X, y, loss, l2 = logistic
    obj = dc.finite_sum(loss, data=(X, y), mean=True, regularizer=l2)
    whole = dc.compile(lambda w, X, y: np.mean(np.logaddexp(0.0, -y * (X @ w))) + 0.05 * np.dot(w, w), name="fs_arr")
    a = dc.minimize(obj, np.zeros(5), options={"gtol": 1e-10})
    b = dc.minimize(whole, np.zeros(5), args=(X, y), options={"gtol": 1e-10})
    assert a.success and b.success
    np.testing.assert_allclose(a.x, b.x, atol=1e-9)
    with pytest.raises(dc.SignatureError, match="needs Hessians"):
        dc.minimize(obj, np.zeros(5), method="newton")
    w, v = np.linspace(-0.3, 0.3, 5), np.arange(5.0)
    np.testing.assert_allclose(obj.hvp(w, v), dc.hessian(whole, wrt="w")(w, X, y) @ v, rtol=1e-12, atol=1e-14)
    c = dc.minimize(obj, np.zeros(5), method="newton-cg", options={"gtol": 1e-10})
    assert c.success and c.nhev > 0
    np.testing.assert_allclose(c.x, b.x, atol=1e-9)


@pytest.fixture(scope="module")
def means():
    """f(w, x) = |w - x|^2 / 2: SGD on it is a recursion we can replay in NumPy."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    return X, dc.finite_sum(dc.compile(half_sq_np, name="fs_half_sq"), data=X, mean=True)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_sgd_replays_the_recursion_with_step_weighted_averaging(means, momentum):
    X, obj = means
    w0 = np.array([1.0, -2.0, 0.5])
    res = dc.sgd(obj, w0, batch_size=8, epochs=3, schedule=schedules.inverse(h0=1.0, t0=1.0), momentum=momentum, seed=4)
    rng = np.random.default_rng(4)
    w, v, k = w0.copy(), np.zeros(3), 0
    num, den = np.zeros(3), 0.0
    for _ in range(3):
        order = rng.permutation(40)
        for b in range(5):
            k += 1
            a = 1.0 / (k + 1.0)
            num += a * w
            den += a
            g = (w - X[order[8 * b : 8 * b + 8]]).mean(0)
            v = momentum * v + g
            w = w - a * v
    np.testing.assert_allclose(res.x, w, rtol=1e-13)
    np.testing.assert_allclose(res.x_avg, num / den, rtol=1e-13)
    np.testing.assert_allclose(res.history["step"], 1.0 / (np.arange(1, 16) + 1.0))
    assert res.success and res.nit == 15 and res.epochs == 3 and len(res.history["loss"]) == 3


def test_epochs_use_the_gradient_only_kernel_and_match_the_batch_gradients(logistic):
    """One epoch of the compiled loop = the same steps taken with the value-and-gradient batch estimate.

    The epoch calls the per-sample *gradient* kernel (no value: one exp per row instead of three
    transcendental calls); its numbers must be those of the value-and-gradient kernel.
    """
    X, y, loss, l2 = logistic
    obj = dc.finite_sum(loss, data=(X, y), mean=True, regularizer=l2)
    w0 = np.linspace(-0.5, 0.5, 5)
    m = obj.module(w0)
    source = Path(m.__file__).read_text()
    assert "_grad_add_into as _g1_py" in source and "_value_and_grad_add_into as _vg1_py" in source
    order = np.random.default_rng(3).permutation(300).astype(np.int64)
    steps = np.full(10, 0.3)
    w = w0.copy()
    m.sgd_epoch(w, np.zeros(5), np.zeros(5), np.zeros(5), order, 30, steps, 0.0, 0, X, y)
    ref = w0.copy()
    for b in range(10):
        ref -= 0.3 * obj.batch_value_and_grad(ref, order[30 * b : 30 * b + 30])[1]
    np.testing.assert_allclose(w, ref, rtol=1e-15, atol=1e-15)


def test_runs_are_reproducible_and_seeds_differ(means):
    _, obj = means
    w0 = np.zeros(3)
    a = dc.sgd(obj, w0, batch_size=4, epochs=2, schedule=0.1, seed=1)
    b = dc.sgd(obj, w0, batch_size=4, epochs=2, schedule=0.1, seed=1)
    c = dc.sgd(obj, w0, batch_size=4, epochs=2, schedule=0.1, seed=2)
    d = dc.sgd(obj, w0, batch_size=4, epochs=2, schedule=0.1, seed=1, replace=True)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x) and not np.array_equal(a.x, d.x)
    np.testing.assert_array_equal(w0, np.zeros(3))  # w0 is not modified


def test_tail_averaging_averages_the_last_epochs_uniformly(means):
    X, obj = means
    res = dc.sgd(obj, np.zeros(3), batch_size=40, epochs=4, schedule=0.5, averaging="tail", tail=0.5)
    w, iterates = np.zeros(3), []
    for _ in range(4):  # full batches: the order does not matter
        iterates.append(w.copy())
        w = w - 0.5 * (w - X.mean(0))
    np.testing.assert_allclose(res.x_avg, np.mean(iterates[2:], axis=0), rtol=1e-13)


def test_constant_steps_stall_in_a_noise_ball_that_grows_with_the_step(logistic):
    X, y, loss, l2 = logistic
    obj = dc.finite_sum(loss, data=(X, y), mean=True, regularizer=l2)
    best = dc.minimize(obj, np.zeros(5), options={"gtol": 1e-10}).fun
    gaps = []
    for h in (0.05, 0.5):
        res = dc.sgd(obj, np.zeros(5), batch_size=4, epochs=30, schedule=h, averaging="none", seed=0)
        gaps.append(np.mean(res.history["loss"][-10:]) - best)
    assert 0 < gaps[0] < gaps[1]
    # h/k: the iterate keeps converging past both noise balls; the step-weighted average
    # decreases every epoch (slowly: its bound falls like 1/log k)
    decaying = dc.sgd(obj, np.zeros(5), batch_size=4, epochs=30, schedule=schedules.inverse(h0=5.0, t0=10.0))
    assert decaying.fun - best < gaps[0] / 10
    assert np.all(np.diff(decaying.history["loss_avg"]) < 0)


def test_adam_reaches_the_minimum(logistic):
    X, y, loss, l2 = logistic
    obj = dc.finite_sum(loss, data=(X, y), mean=True, regularizer=l2)
    best = dc.minimize(obj, np.zeros(5), options={"gtol": 1e-10}).fun
    res = dc.adam(obj, np.zeros(5), batch_size=30, epochs=60, schedule=schedules.step_decay(0.05, 0.5, every=200))
    assert res.success and res.fun - best < 1e-4


def test_a_callback_stops_between_epochs(means):
    _, obj = means
    res = dc.sgd(obj, np.zeros(3), epochs=10, callback=lambda r: r.epoch >= 2)
    assert res.status == 6 and res.epochs == 2 and not res.success


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda loss, X, y: dc.finite_sum(loss, data=(X, y[:-1])), "disagree on the number of samples"),
        (lambda loss, X, y: dc.finite_sum(loss, data=(np.where(X > 2, np.nan, X), y)), "non-finite entry"),
        (lambda loss, X, y: dc.finite_sum(loss, data=(X[:0], y[:0])), "empty"),
        (lambda loss, X, y: dc.sgd(dc.finite_sum(loss, data=(X, y)), np.zeros(5), batch_size=301), "larger than"),
        (lambda loss, X, y: dc.sgd(loss, np.zeros(5)), "take a finite sum"),
        (lambda loss, X, y: dc.sgd(dc.finite_sum(loss, data=(X, y)), np.zeros(5), schedule=-1.0), "positive"),
        (lambda loss, X, y: dc.sgd(dc.finite_sum(loss, data=(X, y)), np.zeros(5), averaging="ema"), "averaging"),
    ],
)
def test_bad_input_is_a_clear_error(logistic, call, message):
    X, y, loss, _ = logistic
    with pytest.raises(dc.SignatureError, match=message):
        call(loss, X, y)


def test_schedules():
    k = np.arange(1, 6)
    np.testing.assert_allclose(schedules.constant(0.3).steps(k), 0.3)
    np.testing.assert_allclose(schedules.inverse(2.0).steps(k), 2.0 / k)
    np.testing.assert_allclose(schedules.inverse_sqrt(2.0, t0=3.0).steps(k), 2.0 / np.sqrt(k + 3.0))
    np.testing.assert_allclose(schedules.step_decay(1.0, 0.5, every=2).steps(k), [1, 1, 0.5, 0.5, 0.25])
    np.testing.assert_allclose(schedules.as_schedule([5.0, 4, 3, 2, 1]).steps(k), [5, 4, 3, 2, 1])
    np.testing.assert_allclose(schedules.as_schedule(lambda i: 1.0 / (1 + i)).steps(k), 1.0 / (1 + k))
    np.testing.assert_allclose(schedules.as_schedule(lambda i: float(i > 2)).steps(k), [0, 0, 1, 1, 1])  # scalar-only
    with pytest.raises(dc.SignatureError, match="iteration 7 needs one"):
        schedules.as_schedule([1.0] * 5).steps(np.arange(1, 8))
    with pytest.raises(dc.SignatureError, match="finite"):
        schedules.as_schedule(lambda i: np.where(i > 3, np.nan, 1.0)).steps(k)


def test_progress_shows_epochs(means, capsys):
    _, obj = means
    res = dc.sgd(obj, np.zeros(3), epochs=3, progress=True)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("sgd") and "epoch       3" in last and "|g|" not in last and res.success
