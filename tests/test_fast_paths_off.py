"""The core with every fast path off (``DCOMPILE_FAST_PATHS=0``: numba's public paths only).

CI runs ``pytest`` once, with the fast paths on; this module runs a focused
subset of the core again in fresh processes with the switch off: the worked
example's gradient and Hessian, a function long enough to be split into parts
(compiled by ``numba.njit``, none lowered straight to LLVM), a cached reload of
both in a second process (numba's own loader), and one ``dc.minimize`` (the
loops compiled per objective, not the shared ones). No hook of
:mod:`dcompile.backend.numba_private` may run: the child turns warnings into
errors (a hook that failed would warn) and records any call of the quick load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.numba

SCRIPT = """
import json, sys, warnings
warnings.simplefilter("error")
import numpy as np
import dcompile as dc
from dcompile.backend import numba_private
from dcompile.backend.numba_private import cache_load
from dcompile.optimize.driver import Driver, SharedDriver
from dcompile.optimize.minimize import _DRIVERS

calls = []
real = cache_load.quick_load
def spy(*args, **kwargs):
    calls.append("quick_load")
    return real(*args, **kwargs)
cache_load.quick_load = spy

sys.path.insert(0, {tests!r})
from worked_example import expected_grad, f

p = (1.0, 2.0, 3.0, 4.0)
fn, fpy = dc.compile(f), dc.compile(f, backend="python")
g, h = dc.grad(fn), dc.hessian(fn)
grad, hess = g(*p), h(*p)

def chain(t0, w):
    t = t0
    for k in range(80):
        t = np.sin(t) * t + w[k]
    return t

vc = dc.value_and_grad(dc.compile(chain))
w = 0.1 * np.cos(np.arange(80))
value, dw = vc(0.5, w)
vc_py = dc.value_and_grad(dc.compile(chain, backend="python"))(0.5, w)

def bowl(x):
    return np.sum((x - 2.0) ** 2)

objective = dc.compile(bowl)
res = dc.minimize(objective, np.zeros(3))
drivers = [type(d).__name__ for key, (d, _) in _DRIVERS.items() if key[0] is objective]
# the loops with no generated per-objective driver: numba compiles them for the kernels' dispatchers
boxed = dc.minimize(objective, np.zeros(3), bounds=[(0.0, 1.0)] * 3)
fit = dc.least_squares(dc.compile(lambda x: x - 2.0), np.zeros(3), method="trf", bounds=(0.0, 1.5))

print(json.dumps({{
    "fast": numba_private.fast_paths(),
    "calls": calls,
    "grad_ok": bool(np.allclose(grad, expected_grad(*p), rtol=1e-14, atol=0)),
    "hess_ok": bool(np.allclose(hess, dc.hessian(fpy)(*p), rtol=1e-14, atol=0)),
    "chain_ok": bool(np.allclose(value, vc_py[0], rtol=1e-13) and np.allclose(dw[1], vc_py[1][1], rtol=1e-12)),
    "hits": [g.kernel.cache_hit, h.kernel.cache_hit, vc.kernel.cache_hit],
    "split": len(vc.kernel.path.read_text().splitlines()) > 300,
    "lowered": list(vc.kernel.lowered),
    "bits": [float(x).hex() for x in (*np.ravel(grad), *np.ravel(hess), value, *dw[1])],
    "minimize": [bool(res.success), bool(np.allclose(res.x, 2.0, atol=1e-6)), drivers],
    "bounded": [bool(boxed.success), bool(np.allclose(boxed.x, 1.0)), bool(fit.success), bool(np.allclose(fit.x, 1.5))],
}}))
"""


def test_the_core_runs_on_numbas_public_paths(tmp_path):
    env = {**os.environ, "DCOMPILE_CACHE_DIR": str(tmp_path), "DCOMPILE_FAST_PATHS": "0"}
    script = SCRIPT.format(tests=str(Path(__file__).parent))

    def run() -> dict:
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold, warm = run(), run()
    for r in (cold, warm):
        assert r["fast"] is False and r["calls"] == []
        assert r["grad_ok"] and r["hess_ok"] and r["chain_ok"]
        assert r["split"] and r["lowered"] == []  # parts compiled by numba.njit, none lowered directly
        assert r["minimize"][:2] == [True, True]
        assert "SharedDriver" not in r["minimize"][2] and "Driver" in r["minimize"][2]
        assert r["bounded"] == [True, True, True, True]
    assert cold["hits"] == [False, False, False]
    assert warm["hits"] == [True, True, True]  # numba's own loader
    assert warm["bits"] == cold["bits"]
