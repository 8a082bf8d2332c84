"""The optimizer loops shared by every objective (optimize/generic.py) and the compile notices.

The shared loops take the objective's kernels as numba function pointers: one
compile per method and data types serves every objective. They must give
bit-for-bit the results of the loops compiled per objective.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dcompile as dc
from dcompile.backend import notice, numba_private
from dcompile.backend.cache import cache_dir
from dcompile.optimize.driver import Driver, SharedDriver, shared_loops
from dcompile.optimize.minimize import _DRIVERS
from tests.helpers import requires_fast_paths

pytestmark = [pytest.mark.numba, requires_fast_paths]  # the shared loops are a fast path


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_scaled(x):
    return 3.0 * np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def quad(x, A, b):
    return 0.5 * np.dot(x, A @ x) - np.dot(b, x)


@pytest.fixture(scope="module")
def fns():
    return dc.compile(rosen, name="rosen_shared"), dc.compile(rosen_scaled, name="rosen3_shared")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    R = rng.normal(size=(5, 5))
    return R @ R.T + 5.0 * np.eye(5), rng.normal(size=5)


X0 = np.array([-1.2, 1.0, -1.2, 1.0, -1.2, 1.0])


def _driver_of(fun, method, specialize=False):
    return next(
        d for key, (d, _) in _DRIVERS.items() if len(key) == 5 and key[0] is fun and key[2:4] == (method, specialize)
    )


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "newton", "newton-cg", "gd"])
def test_shared_loops_match_the_specialised_ones_bit_for_bit(fns, method):
    f, _ = fns
    opts = {"maxiter": 200} if method == "gd" else None
    shared = dc.minimize(f, X0, method=method, options=opts)
    special = dc.minimize(f, X0, method=method, options=opts, specialize=True)
    assert isinstance(_driver_of(f, method), SharedDriver)
    assert isinstance(_driver_of(f, method, True), Driver)
    np.testing.assert_array_equal(shared.x, special.x)
    np.testing.assert_array_equal(shared.history["f"], special.history["f"])
    assert (shared.nit, shared.nfev, shared.nhev, shared.status) == (
        special.nit,
        special.nfev,
        special.nhev,
        special.status,
    )
    if method != "gd":  # a stationary point (newton may reach the local minimum near x1 = -1 at n = 6)
        assert shared.success and np.max(np.abs(shared.jac)) <= 1e-6


def test_a_second_objective_reuses_the_compiled_loop(fns):
    f, g = fns
    loops = shared_loops(cache_dir())
    dc.minimize(f, X0)
    before = len(loops.lbfgs_run.signatures)
    res = dc.minimize(g, X0)
    assert res.success and len(loops.lbfgs_run.signatures) == before  # no new loop compiled for g
    np.testing.assert_allclose(res.x, np.ones(6), atol=1e-5)


def test_data_arguments_and_chunked_runs(data):
    A, b = data
    q = dc.compile(quad, name="quad_shared")
    whole = dc.minimize(q, np.zeros(5), args=(A, b), method="lbfgs", options={"gtol": 1e-10})
    seen = []
    chunked = dc.minimize(q, np.zeros(5), args=(A, b), method="lbfgs", options={"gtol": 1e-10}, callback=seen.append)
    assert whole.success and isinstance(_driver_of(q, "lbfgs"), SharedDriver)
    np.testing.assert_allclose(whole.x, np.linalg.solve(A, b), rtol=1e-9)
    np.testing.assert_array_equal(whole.x, chunked.x)
    assert seen


def test_outside_the_tested_numba_range_the_specialised_loops_serve(monkeypatch):
    monkeypatch.setattr(numba_private, "IN_RANGE", False)
    monkeypatch.setattr(numba_private, "_warned", set())
    f = dc.compile(lambda x: np.sum((x - 2.0) ** 2), name="fallback_shared")
    with pytest.warns(RuntimeWarning, match="outside the range"):
        res = dc.minimize(f, np.zeros(3))
    assert res.success and isinstance(_driver_of(f, "lbfgs"), Driver)
    np.testing.assert_allclose(res.x, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        dc.minimize(dc.compile(lambda x: np.sum((x - 1.0) ** 2), name="fallback_shared2"), np.zeros(3))


def test_a_long_compile_is_announced_once_on_stderr(monkeypatch, capsys):
    monkeypatch.setattr(notice, "DELAY", 0.0)
    with dc.config(compile_notices=True):
        f = dc.compile(lambda x: np.sum(np.cosh(x) * np.arange(3.0)), name="noticed_kernel")
        dc.value_and_grad(f)(np.ones(3))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("dcompile: compiling")]
    assert len(lines) == 1 and "with numba" in lines[0] and "cached on disk" in lines[0]
    assert "compile_notices=False" in lines[0]  # how to silence it


def test_notices_can_be_silenced(monkeypatch, capsys):
    monkeypatch.setattr(notice, "DELAY", 0.0)
    with dc.config(compile_notices=False):
        f = dc.compile(lambda x: np.sum(np.sinh(x) * np.arange(3.0)), name="silent_kernel")
        dc.value_and_grad(f)(np.ones(3))
    assert "dcompile: compiling" not in capsys.readouterr().err


def test_a_short_block_says_nothing(capsys):
    with dc.config(compile_notices=True), notice.compiling("nothing much", delay=5.0):
        pass
    assert capsys.readouterr().err == ""


def test_repeated_calls_take_the_fast_path_with_the_new_data(data):
    from dcompile.optimize.minimize import _REPEAT

    A, b = data
    q = dc.compile(quad, name="quad_repeat")
    first = dc.minimize(q, np.zeros(5), args=(A, b))
    assert any(key[0] is q for key in _REPEAT)
    for shift in (1.0, -2.0):
        b2 = b + shift
        res = dc.minimize(q, np.zeros(5), args=(A, b2))  # memoised path, new data
        np.testing.assert_allclose(res.x, np.linalg.solve(A, b2), rtol=1e-5)
    again = dc.minimize(q, np.zeros(5), args=(A, b))
    np.testing.assert_array_equal(first.x, again.x)
    bigger = dc.minimize(q, np.zeros(6), args=(np.eye(6), np.ones(6)))  # another shape: the full path
    np.testing.assert_allclose(bigger.x, np.ones(6), rtol=1e-6)
    with pytest.raises(dc.SignatureError, match="non-finite"):
        dc.minimize(q, np.full(5, np.nan), args=(A, b))


TARGET = 2.0


def to_target(x):
    return np.sum((x - TARGET) ** 2)


def test_retrace_reaches_the_optimizer_caches(monkeypatch):
    import sys

    f = dc.compile(to_target, name="to_target_retrace")
    x0 = np.zeros(3)
    np.testing.assert_allclose(dc.minimize(f, x0).x, 2.0)
    np.testing.assert_allclose(dc.minimize(f, x0).x, 2.0)  # memoised call
    monkeypatch.setattr(sys.modules[__name__], "TARGET", 3.0)
    f.retrace()
    np.testing.assert_allclose(dc.minimize(f, x0).x, 3.0)
    np.testing.assert_allclose(dc.minimize(f, x0, bounds=[(None, 2.5)] * 3).x, 2.5)
