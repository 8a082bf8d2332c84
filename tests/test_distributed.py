"""Finite sums over Dask arrays on a LocalCluster (issue 11): values, optimizers, local SGD, faults."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

import dask
import dask.array as da
from dask.distributed import Client, LocalCluster

import dcompile as dc
from dcompile.sums.distributed import DistributedFiniteSum

pytestmark = pytest.mark.numba


def nll_one_np(w, x, y):
    return np.logaddexp(0.0, -y * (x @ w))


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on the loopback interface, shared by the module's tests."""
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
    with Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 5))
    y = np.sign(X @ rng.normal(size=5) + 0.3 * rng.normal(size=1000))
    loss = dc.compile(nll_one_np, name="dist_nll_one")
    l2 = dc.compile(lambda w: 0.05 * np.dot(w, w), name="dist_l2")
    return X, y, loss, l2


def distributed_sum(problem, client, *, mean=True, chunks=300):
    X, y, loss, l2 = problem
    data = (da.from_array(X, chunks=(chunks, 2)), da.from_array(y, chunks=chunks))  # columns rechunked to one
    return dc.finite_sum(loss, data=data, mean=mean, regularizer=l2)


@pytest.mark.parametrize("mean", [False, True])
def test_value_and_gradient_match_the_local_sum(problem, client, mean):
    X, y, loss, l2 = problem
    obj = distributed_sum(problem, client, mean=mean)
    assert isinstance(obj, DistributedFiniteSum) and len(obj.partitions) == 4
    local = dc.finite_sum(loss, data=(X, y), mean=mean, regularizer=l2)
    w = np.linspace(-0.5, 0.5, 5)
    f0, g0 = local.value_and_grad(w)
    f, g = dc.value_and_grad(obj)(w)
    np.testing.assert_allclose(f, f0, rtol=1e-13)
    np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(obj(w), local(w), rtol=1e-13)
    np.testing.assert_allclose(dc.grad(obj)(w), g0, rtol=1e-12, atol=1e-13)


def test_many_partitions_reduce_in_a_tree(problem, client):
    X, y, loss, l2 = problem
    obj = distributed_sum(problem, client, mean=False, chunks=50)  # 20 partitions: two levels of the tree
    local = dc.finite_sum(loss, data=(X, y), regularizer=l2)
    w = np.full(5, 0.2)
    f, g = obj.value_and_grad(w)
    f0, g0 = local.value_and_grad(w)
    np.testing.assert_allclose(f, f0, rtol=1e-13)
    np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def solved(problem, client):
    """The distributed sum (mean, L2) and its L-BFGS solution."""
    obj = distributed_sum(problem, client)
    return obj, dc.minimize(obj, np.zeros(5), method="lbfgs")


def test_lbfgs_matches_the_local_solution(problem, solved):
    from scipy.optimize import minimize

    X, y, loss, l2 = problem
    obj, res = solved
    local = dc.finite_sum(loss, data=(X, y), mean=True, regularizer=l2)
    ref = minimize(local.value_and_grad, np.zeros(5), jac=True, method="L-BFGS-B", options={"gtol": 1e-12})
    assert res.success and res.nfev == obj.nfev
    assert np.max(np.abs(res.jac)) <= 1e-6
    np.testing.assert_allclose(res.fun, ref.fun, rtol=1e-12)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.jac, local.grad(res.x), rtol=1e-10, atol=1e-14)


def test_local_sgd_converges(solved):
    obj, solution = solved
    f_star = solution.fun
    # a_k = h0 / (k + t0) with h0 > 1/mu (mu = 0.1, from the L2 term): the O(1/k) regime
    schedule = dc.schedules.inverse(10.0, 100.0)
    res = dc.sgd(obj, np.zeros(5), batch_size=16, epochs=6, schedule=schedule)
    gap = res.history["loss"] - f_star  # suboptimality after each epoch's averaging
    assert np.all(gap > -1e-12)
    assert np.all(np.diff(gap) < 0)
    assert gap[-1] < 0.2 * gap[0] and gap[-1] < 1e-2
    assert res.fun_avg - f_star < gap[0]
    again = dc.sgd(obj, np.zeros(5), batch_size=16, epochs=6, schedule=schedule)
    np.testing.assert_array_equal(res.x, again.x)  # seeded per (seed, epoch, partition)


def test_partition_with_nan_is_named(problem, client):
    X, y, loss, _ = problem
    Xb = X.copy()
    Xb[650, 3] = np.nan
    with pytest.raises(dc.SignatureError, match=r"partition 2 \(rows 600\.\.899\) of data\[0\].*\(650, 3\)"):
        dc.finite_sum(loss, data=(da.from_array(Xb, chunks=(300, 5)), da.from_array(y, chunks=300)))


def test_partition_of_the_wrong_width_is_named(problem, client):
    X, y, loss, _ = problem
    good = da.from_array(X[:500], chunks=(250, 5))
    bad = da.from_delayed(dask.delayed(np.hstack)([X[500:], X[500:, :1]]), shape=(500, 5), dtype=float)
    Xd = da.concatenate([good, bad])
    with pytest.raises(dc.SignatureError, match=r"partition 2 \(rows 500\.\.999\) of data\[0\] has shape \(500, 6\)"):
        dc.finite_sum(loss, data=(Xd, da.from_array(y, chunks=(250, 250, 500))))


def test_misaligned_row_chunks_are_an_error(problem, client):
    X, y, loss, _ = problem
    with pytest.raises(dc.SignatureError, match="different row chunks"):
        dc.finite_sum(loss, data=(da.from_array(X, chunks=(300, 5)), da.from_array(y, chunks=250)))


def test_adam_and_newton_say_what_is_missing(problem, client):
    obj = distributed_sum(problem, client)
    with pytest.raises(dc.SignatureError, match=r"dc\.adam does not run"):
        dc.adam(obj, np.zeros(5))
    with pytest.raises(dc.SignatureError, match="needs Hessians"):
        dc.minimize(obj, np.zeros(5), method="newton")


def test_newton_cg_with_distributed_hessian_vector_products(problem, solved):
    X, y, loss, l2 = problem
    obj, lbfgs = solved
    local = dc.finite_sum(loss, data=(X, y), mean=True, regularizer=l2)
    w, v = np.linspace(-0.5, 0.5, 5), np.arange(1.0, 6.0)
    np.testing.assert_allclose(obj.hvp(w, v), local.hvp(w, v), rtol=1e-12, atol=1e-14)
    res = dc.minimize(obj, np.zeros(5), method="newton-cg", options={"gtol": 1e-9})
    assert res.success and res.nhev > 0
    np.testing.assert_allclose(res.x, lbfgs.x, rtol=1e-5, atol=1e-7)


def test_a_worker_killed_mid_evaluation_is_retried(solved, tmp_path):
    """Partition 0's task kills its worker once; Dask reruns it and the solve ends where it would have."""
    obj, ref = solved
    marker = tmp_path / "killed"
    obj._fault = str(marker)
    res = dc.minimize(obj, np.zeros(5), method="lbfgs")
    assert marker.exists()  # a worker did die
    assert res.success
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.fun == ref.fun and res.nit == ref.nit
