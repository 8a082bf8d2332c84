"""Optimizer drivers: disk cache across processes, chunked runs, callbacks, progress, @njit use."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import dcompile as dc
from dcompile.optimize import methods as M
from dcompile.optimize.minimize import minimize
from dcompile.optimize.progress import Progress
from tests.helpers import FAST_PATHS

pytestmark = pytest.mark.numba


def rosen_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.fixture(scope="module")
def rosen():
    return dc.compile(rosen_np, name="rosen_drv")


@pytest.fixture(scope="module")
def quad():
    def q(x, A, b):
        return 0.5 * np.dot(x, A @ x) - np.dot(b, x)

    return dc.compile(q, name="quad_drv")


X0 = np.array([-1.2, 1.0, -1.2, 1.0, -1.2, 1.0])


def test_a_run_in_chunks_is_bit_for_bit_one_run(rosen):
    whole = minimize(rosen, X0, method="lbfgs")
    seen = []
    chunked = minimize(rosen, X0, method="lbfgs", callback=lambda r: seen.append(r.nit))
    assert seen and seen == sorted(seen) and seen[-1] < chunked.nit  # called between chunks, not after the end
    assert whole.success and chunked.success
    np.testing.assert_array_equal(whole.x, chunked.x)
    np.testing.assert_array_equal(whole.history["f"], chunked.history["f"])
    assert (whole.nit, whole.nfev, whole.fun) == (chunked.nit, chunked.nfev, chunked.fun)


@pytest.mark.parametrize("how", ["return", "raise"])
def test_a_callback_stops_the_run(rosen, how):
    def callback(intermediate):
        assert intermediate.x.shape == X0.shape and intermediate.history["f"].shape == (intermediate.nit + 1,)
        if intermediate.nit >= 3:
            if how == "raise":
                raise StopIteration
            return True
        return None

    res = minimize(rosen, X0, method="lbfgs", callback=callback)
    assert res.status == 6 and not res.success and "callback" in res.message
    assert 3 <= res.nit < 20
    np.testing.assert_allclose(res.fun, rosen(res.x))


def test_progress_writes_a_display_and_the_outcome(rosen, capsys):
    res = minimize(rosen, X0, method="bfgs", progress=True)
    err = capsys.readouterr().err
    assert res.success
    last = err.strip().splitlines()[-1]
    assert last.startswith("bfgs") and f"it {res.nit:>7}" in last and "gradient norm is below gtol" in last


def test_progress_on_a_terminal_rewrites_one_line():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = Progress("lbfgs", out)
    p.update(1, 2.0, 3.0, 4)
    p.update(2, 1.0, 0.5, 6)
    p.close(3, 0.5, 1e-7, 8, "done")
    text = out.getvalue()
    assert text.count("\n") == 1 and text.count("\r") == 3 and text.endswith("done\n")


def test_solver_is_callable_from_users_njit_code(quad):
    """Thousands of small fits in a compiled loop: one solver, many right-hand sides."""
    rng = np.random.default_rng(3)
    R = rng.normal(size=(4, 4))
    A = R @ R.T + 4 * np.eye(4)
    B = rng.normal(size=(500, 4))
    solve = dc.minimizer(quad, np.zeros(4), args=(A, B[0]), method="lbfgs")

    @numba.njit
    def fit_all(A, B):
        out = np.empty_like(B)
        ok = 0
        for i in range(B.shape[0]):
            x, _, _, _, _, _, status = solve(np.zeros(B.shape[1]), (A, B[i].copy()), gtol=1e-10)
            out[i] = x
            ok += status == 0
        return out, ok

    X, ok = fit_all(A, B)
    assert ok == B.shape[0]
    np.testing.assert_allclose(X, np.linalg.solve(A, B.T).T, atol=1e-8)


def test_solver_keywords_match_minimize(rosen):
    solve = dc.minimizer(rosen, X0, method="gd")
    x, _, _, nit, nfev, _, status = solve(X0, (), maxiter=25, line_search=M.WOLFE)
    res = minimize(rosen, X0, method="gd", line_search="wolfe", options={"maxiter": 25})
    np.testing.assert_array_equal(x, res.x)
    assert (nit, nfev, status) == (res.nit, res.nfev, res.status) == (25, res.nfev, 1)


def test_python_backend_is_a_clear_error():
    f = dc.compile(rosen_np, backend="python", name="rosen_py_backend")
    with pytest.raises(dc.SignatureError, match="backend='numba'"):
        minimize(f, X0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"options": {"c1": 0.95}}, "0 < c1 < c2 < 1"),
        ({"options": {"m": 0}}, "m >= 1"),
        ({"method": "gd", "step": -1.0}, "positive"),
    ],
)
def test_bad_settings_are_clear_errors(rosen, kwargs, message):
    with pytest.raises(dc.SignatureError, match=message):
        minimize(rosen, X0, **kwargs)


SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import dcompile as dc

    @dc.compile
    def rosen_cached(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    res = dc.minimize(
        rosen_cached, np.array([-1.2, 1.0, -1.2, 1.0]), method="gd", options={{"maxiter": 50}}, specialize={specialize}
    )
    from dcompile.optimize.minimize import _DRIVERS
    (driver, _), = _DRIVERS.values()
    print(json.dumps({{
        "x": list(res.x), "nfev": res.nfev, "compile": res.compile_seconds, "kind": type(driver).__name__,
        "hits": sum(driver.run.stats.cache_hits.values()), "path": str(driver.path),
    }}))
    """
)


@pytest.mark.parametrize("specialize", [False, True])
def test_a_second_process_loads_the_loop_from_the_disk_cache(tmp_path, specialize):
    env = dict(os.environ, DCOMPILE_CACHE_DIR=str(tmp_path))

    def run() -> dict:
        cmd = [sys.executable, "-c", SCRIPT.format(specialize=specialize)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert out.returncode == 0, out.stderr
        assert "NumbaWarning" not in out.stderr, out.stderr  # e.g. "cannot cache ... dynamic globals"
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    shared = FAST_PATHS and not specialize  # with the fast paths off the loops are compiled per objective
    assert first["kind"] == second["kind"] == ("SharedDriver" if shared else "Driver")
    assert first["hits"] == 0 and second["hits"] == 1
    assert str(tmp_path) in first["path"]  # the loops live in (and are cleared with) the dcompile cache
    assert first["path"] == second["path"]
    assert first["x"] == second["x"] and first["nfev"] == second["nfev"]
