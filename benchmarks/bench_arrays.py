"""Array benchmark: dcompile's value_and_grad / hvp on array functions vs hand-written numba and JAX.

Four problems:

* ``rosenbrock``: extended Rosenbrock ``np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)``
  at n = 10^2, 10^4, 10^6;
* ``logreg``: logistic-regression NLL ``np.sum(np.logaddexp(0, -y * (X @ w)))`` w.r.t. ``w``
  at (N, d) = (10^4, 20) and (10^5, 100), X Gaussian, y in {-1, +1};
* ``mlp``: one-hidden-layer MLP (10 -> 32 tanh -> 1, batch 256, mean squared error) w.r.t.
  ``(W1, b1, W2, b2)`` (separate arguments; ``b2`` a scalar);
* ``hvp``: Hessian-vector product / gradient cost on Rosenbrock n = 10^4.

Contenders, timed round-robin in one process (so the machine's noise hits all alike):

* dcompile called through its Python object (``vg(w, X, y)``), and its numba dispatcher
  (``vg.njit``) called N times from an ``@njit`` loop;
* a hand-written numba value-and-gradient (Rosenbrock: one fused loop; logreg/MLP: ``np.dot``
  for the matrix products plus fused elementwise loops), called from Python and from the same
  ``@njit`` loop;
* ``jax.jit(jax.value_and_grad(f))`` with x64 enabled, called from Python on JAX arrays
  (``block_until_ready``).

Each sample runs a contender back to back for >= ``--target`` seconds; the report quotes the
median over samples, and ratios are the median over samples of the per-sample ratio. The
in-numba loops perturb one input element per iteration so that nothing is hoisted.

Subprocess measurements (fresh interpreter, empty ``DCOMPILE_CACHE_DIR`` each): the cold
compile time of the Rosenbrock value_and_grad at n = 10^2 and 10^6, and the memory of 20
value_and_grad calls at n = 10^6 (RSS high-water mark, ``/proc/self/status`` VmHWM reset via
``/proc/self/clear_refs`` after warm-up, with glibc's mmap threshold pinned so that freed
large arrays go back to the OS; tracemalloc does not see numba's allocations).

Run from the repository root::

    .venv/bin/python benchmarks/bench_arrays.py          # full run (~4 minutes)
    .venv/bin/python benchmarks/bench_arrays.py --quick  # short run, fewer samples

Results go to ``benchmarks/results/arrays.json`` and ``benchmarks/results/arrays.md``.
The script re-invokes itself with ``--worker`` for the subprocess measurements.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from machine import machine_info

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_ENV = "DCOMPILE_CACHE_DIR"
EPS = 1e-12  # per-iteration input perturbation in the in-numba loops (defeats hoisting)
ROSEN_NS = (10**2, 10**4, 10**6)
LOGREG_SIZES = ((10**4, 20), (10**5, 100))
MLP_SHAPE = {"batch": 256, "d_in": 10, "hidden": 32}
HVP_N = 10**4
MEM_N = 10**6
MEM_CALLS = 20
COMPILE_NS = (10**2, 10**6)
WORKER_TIMEOUT_S = 300
# glibc: never return freed memory to the OS, never mmap (the malloc diagnostic's process only)
MALLOC_KEEP_ENV = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}

TARGETS = {
    "rosen_dc_over_hand": 1.3,
    "hvp_over_grad": 4.0,
}


# ---------------------------------------------------------------------------
# the problems, written once with ``np``; JAX gets the same code with ``np`` rebound to jax.numpy
# ---------------------------------------------------------------------------
def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def nll(w, X, y):
    return np.sum(np.logaddexp(0.0, -y * (X @ w)))


def mlp(W1, b1, W2, b2, X, y):  # noqa: PLR0917  (the benchmark's signature)
    h = np.tanh(X @ W1 + b1)
    pred = h @ W2 + b2
    return np.mean((pred - y) ** 2)


def with_numpy_module(fn: Callable[..., Any], module: Any) -> Callable[..., Any]:
    """``fn`` with its global ``np`` bound to ``module`` (jax.numpy): the same source for JAX."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": module}, fn.__name__)


def rosen_x(n: int) -> np.ndarray:
    return np.linspace(-1.2, 1.2, n)


def logreg_data(n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w = 0.1 * rng.standard_normal(d)
    return w, X, y


def mlp_data() -> tuple[Any, ...]:
    rng = np.random.default_rng(2)
    b, d, h = MLP_SHAPE["batch"], MLP_SHAPE["d_in"], MLP_SHAPE["hidden"]
    W1 = rng.standard_normal((d, h)) / np.sqrt(d)
    b1 = 0.1 * rng.standard_normal(h)
    W2 = rng.standard_normal(h) / np.sqrt(h)
    b2 = 0.1
    X = rng.standard_normal((b, d))
    y = rng.standard_normal(b)
    return W1, b1, W2, b2, X, y


# ---------------------------------------------------------------------------
# hand-written numba value-and-gradient
# ---------------------------------------------------------------------------
def rosen_vg_hand(x):
    # one fused loop: value and gradient in a single pass over x
    n = x.shape[0]
    g = np.empty(n)
    g[0] = 0.0
    f = 0.0
    for i in range(n - 1):
        xi = x[i]
        a = x[i + 1] - xi * xi
        b = 1.0 - xi
        f += 100.0 * a * a + b * b
        g[i] += -400.0 * a * xi - 2.0 * b
        g[i + 1] = 200.0 * a
    return f, g


def nll_vg_hand(w, X, y):
    z = np.dot(X, w)
    n = z.shape[0]
    s = np.empty(n)
    f = 0.0
    for i in range(n):
        m = -y[i] * z[i]
        if m > 0.0:
            e = np.exp(-m)
            f += m + np.log1p(e)
            sig = 1.0 / (1.0 + e)
        else:
            e = np.exp(m)
            f += np.log1p(e)
            sig = e / (1.0 + e)
        s[i] = -y[i] * sig
    return f, np.dot(X.T, s)


def mlp_vg_hand(W1, b1, W2, b2, X, y):  # noqa: PLR0917
    n = X.shape[0]
    nh = W1.shape[1]
    a = np.dot(X, W1)
    h = np.empty((n, nh))
    dpred = np.empty(n)
    scale = 1.0 / n
    loss = 0.0
    gb2 = 0.0
    for i in range(n):
        p = b2
        for j in range(nh):
            hij = np.tanh(a[i, j] + b1[j])
            h[i, j] = hij
            p += hij * W2[j]
        r = p - y[i]
        loss += r * r
        dp = 2.0 * r * scale
        dpred[i] = dp
        gb2 += dp
    da = np.empty((n, nh))
    gb1 = np.zeros(nh)
    gW2 = np.zeros(nh)
    for i in range(n):
        dp = dpred[i]
        for j in range(nh):
            hij = h[i, j]
            gW2[j] += hij * dp
            d = dp * W2[j] * (1.0 - hij * hij)
            da[i, j] = d
            gb1[j] += d
    return loss * scale, (np.dot(X.T, da), gb1, gW2, gb2)


# ---------------------------------------------------------------------------
# @njit driver loops: call ``fn`` n times, perturbing the first input element each time
# ---------------------------------------------------------------------------
def _loops() -> dict[str, Any]:
    from numba import njit

    @njit
    def vg1(fn, n, x):
        x0 = x[0]
        s = 0.0
        for i in range(n):
            x[0] = x0 + i * EPS
            v, g = fn(x)
            s += v + g[0]
        x[0] = x0
        return s

    @njit
    def g1(fn, n, x):
        x0 = x[0]
        s = 0.0
        for i in range(n):
            x[0] = x0 + i * EPS
            s += fn(x)[0]
        x[0] = x0
        return s

    @njit
    def hvp1(fn, n, x, v):
        x0 = x[0]
        s = 0.0
        for i in range(n):
            x[0] = x0 + i * EPS
            s += fn(x, v)[0]
        x[0] = x0
        return s

    @njit
    def vg3(fn, n, w, X, y):
        w0 = w[0]
        s = 0.0
        for i in range(n):
            w[0] = w0 + i * EPS
            v, g = fn(w, X, y)
            s += v + g[0]
        w[0] = w0
        return s

    @njit
    def vg_mlp(fn, n, W1, b1, W2, b2, X, y):  # noqa: PLR0917
        w0 = W1[0, 0]
        s = 0.0
        for i in range(n):
            W1[0, 0] = w0 + i * EPS
            v, gs = fn(W1, b1, W2, b2, X, y)
            s += v + gs[0][0, 0] + gs[3]
        W1[0, 0] = w0
        return s

    return {"vg1": vg1, "g1": g1, "hvp1": hvp1, "vg3": vg3, "vg_mlp": vg_mlp}


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------
Runner = Callable[[int], float]  # runner(k): seconds for k back-to-back calls


def py_runner(fn: Callable[..., Any], *args: Any, block: Callable[[Any], Any] | None = None) -> Runner:
    if block is None:

        def run(k: int) -> float:
            t = time.perf_counter()
            for _ in range(k):
                fn(*args)
            return time.perf_counter() - t
    else:

        def run(k: int) -> float:
            t = time.perf_counter()
            for _ in range(k):
                block(fn(*args))
            return time.perf_counter() - t

    return run


def numba_runner(loop: Any, fn: Any, *args: Any) -> Runner:
    loop(fn, 1, *args)  # compile the loop for this fn

    def run(k: int) -> float:
        t = time.perf_counter()
        loop(fn, k, *args)
        return time.perf_counter() - t

    return run


def calibrate(run: Runner, target_s: float) -> int:
    """A call count for which ``run(count)`` takes about ``target_s`` (at least one call)."""
    k = 1
    while True:
        t = run(k)
        if t >= target_s / 4 or k >= 10**8:
            break
        k *= 10 if t < target_s / 40 else 2
    return max(1, int(np.ceil(k * target_s / max(t, 1e-9))))


def time_round_robin(runners: dict[str, Runner], samples: int, target_s: float) -> dict[str, dict[str, Any]]:
    """Per-call seconds of each runner: ``samples`` samples of >= ``target_s`` each, round-robin."""
    counts = {k: calibrate(r, target_s) for k, r in runners.items()}
    runs: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(samples):
        for k, r in runners.items():
            runs[k].append(r(counts[k]) / counts[k])
    return {
        k: {
            "median_s": statistics.median(v),
            "min_s": min(v),
            "max_s": max(v),
            "samples": len(v),
            "calls_per_sample": counts[k],
            "runs_s": v,
        }
        for k, v in runs.items()
    }


def paired(t: dict[str, dict[str, Any]], a: str, b: str) -> float | None:
    """Median over samples of the per-sample ratio a / b (timed round-robin)."""
    if a not in t or b not in t:
        return None
    return statistics.median(x / y for x, y in zip(t[a]["runs_s"], t[b]["runs_s"], strict=True))


def first_call(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    r = fn(*args)
    return time.perf_counter() - t, r


def _agree(a: tuple[Any, Any], b: tuple[Any, Any], rtol: float = 1e-9) -> bool:
    va, ga = a
    vb, gb = b
    if not np.isclose(float(va), float(vb), rtol=rtol, atol=0.0):
        return False
    ga = ga if isinstance(ga, tuple) else (ga,)
    gb = gb if isinstance(gb, tuple) else (gb,)
    return all(
        np.allclose(np.asarray(p), np.asarray(q), rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(q)))))
        for p, q in zip(ga, gb, strict=True)
    )


# ---------------------------------------------------------------------------
# JAX (same process, x64)
# ---------------------------------------------------------------------------
def jax_setup() -> Any:
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_vg(jax: Any, fn: Callable[..., Any], argnums: int | tuple[int, ...], args: tuple[Any, ...]) -> dict[str, Any]:
    """jit(value_and_grad) of ``fn`` on JAX copies of ``args``: runner, compile time, result."""
    import jax.numpy as jnp

    jf = jax.jit(jax.value_and_grad(with_numpy_module(fn, jnp), argnums=argnums))
    jargs = tuple(jnp.asarray(a) for a in args)
    t = time.perf_counter()
    r = jax.block_until_ready(jf(*jargs))
    compile_s = time.perf_counter() - t
    return {"runner": py_runner(jf, *jargs, block=jax.block_until_ready), "compile_s": compile_s, "result": r}


# ---------------------------------------------------------------------------
# the benchmarks
# ---------------------------------------------------------------------------
def bench_rosen(dc: Any, loops: dict[str, Any], jax: Any, samples: int, target_s: float) -> list[dict[str, Any]]:
    from numba import njit

    hand = njit(rosen_vg_hand)
    f = dc.compile(rosen)
    out = []
    for n in ROSEN_NS:
        print(f"  [rosenbrock n={n}] compile + time ...", flush=True)
        x = rosen_x(n)
        row: dict[str, Any] = {"n": n}
        vg = dc.value_and_grad(f, wrt="x")
        row["dc_first_call_s"], r_dc = first_call(vg, x)
        row["dc_kernel_compile_s"] = vg.kernel.compile_seconds
        row["dc_cache_hit"] = vg.kernel.cache_hit
        vgj = vg.njit
        row["hand_compile_s"], r_hand = first_call(hand, x)
        row["agree_hand"] = _agree(r_dc, r_hand)
        runners = {
            "dc_py": py_runner(vg, x),
            "dc_njit_py": py_runner(vgj, x),
            "hand_py": py_runner(hand, x),
            "dc_in_numba": numba_runner(loops["vg1"], vgj, x),
            "hand_in_numba": numba_runner(loops["vg1"], hand, x),
        }
        if jax is not None:
            j = jax_vg(jax, rosen, 0, (x,))
            runners["jax"] = j["runner"]
            row["jax_compile_s"] = j["compile_s"]
            row["agree_jax"] = _agree(r_dc, j["result"])
        t = time_round_robin(runners, samples, target_s)
        row["times"] = t
        row["ratios"] = {
            "dc_py_over_hand_py": paired(t, "dc_py", "hand_py"),
            "dc_njit_py_over_hand_py": paired(t, "dc_njit_py", "hand_py"),
            "dc_in_numba_over_hand_in_numba": paired(t, "dc_in_numba", "hand_in_numba"),
            "dc_py_over_jax": paired(t, "dc_py", "jax"),
            "dc_in_numba_over_jax": paired(t, "dc_in_numba", "jax"),
            "hand_py_over_jax": paired(t, "hand_py", "jax"),
        }
        row["n_statements"] = vg.ir.n_statements
        row["source"] = vg.source
        row["minor_faults_per_call"] = {"dc": minor_faults_per_call(vgj, x), "hand": minor_faults_per_call(hand, x)}
        out.append(row)
    return out


def minor_faults_per_call(fn: Callable[..., Any], *args: Any, calls: int = 5) -> float:
    """Page faults (minor) per call: each is the kernel zero-filling a fresh page of a new allocation."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn(*args)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def bench_logreg(dc: Any, loops: dict[str, Any], jax: Any, samples: int, target_s: float) -> list[dict[str, Any]]:
    from numba import njit

    hand = njit(nll_vg_hand)
    f = dc.compile(nll)
    out = []
    for n, d in LOGREG_SIZES:
        print(f"  [logreg N={n} d={d}] compile + time ...", flush=True)
        w, X, y = logreg_data(n, d)
        row: dict[str, Any] = {"N": n, "d": d}
        vg = dc.value_and_grad(f, wrt="w")
        row["dc_first_call_s"], r_dc = first_call(vg, w, X, y)
        row["dc_kernel_compile_s"] = vg.kernel.compile_seconds
        vgj = vg.njit
        row["hand_compile_s"], r_hand = first_call(hand, w, X, y)
        row["agree_hand"] = _agree(r_dc, r_hand)
        row["source"] = vg.source
        runners = {
            "dc_py": py_runner(vg, w, X, y),
            "hand_py": py_runner(hand, w, X, y),
            "dc_in_numba": numba_runner(loops["vg3"], vgj, w, X, y),
            "hand_in_numba": numba_runner(loops["vg3"], hand, w, X, y),
        }
        if jax is not None:
            j = jax_vg(jax, nll, 0, (w, X, y))
            runners["jax"] = j["runner"]
            row["jax_compile_s"] = j["compile_s"]
            row["agree_jax"] = _agree(r_dc, j["result"])
        t = time_round_robin(runners, samples, target_s)
        row["times"] = t
        row["ratios"] = {
            "dc_py_over_hand_py": paired(t, "dc_py", "hand_py"),
            "dc_in_numba_over_hand_in_numba": paired(t, "dc_in_numba", "hand_in_numba"),
            "dc_py_over_jax": paired(t, "dc_py", "jax"),
            "hand_py_over_jax": paired(t, "hand_py", "jax"),
        }
        out.append(row)
    return out


def bench_mlp(dc: Any, loops: dict[str, Any], jax: Any, samples: int, target_s: float) -> dict[str, Any]:
    from numba import njit

    print("  [mlp] compile + time ...", flush=True)
    hand = njit(mlp_vg_hand)
    args = mlp_data()
    f = dc.compile(mlp)
    vg = dc.value_and_grad(f, wrt=("W1", "b1", "W2", "b2"))
    row: dict[str, Any] = dict(MLP_SHAPE)
    row["dc_first_call_s"], r_dc = first_call(vg, *args)
    row["dc_kernel_compile_s"] = vg.kernel.compile_seconds
    vgj = vg.njit
    row["hand_compile_s"], r_hand = first_call(hand, *args)
    row["agree_hand"] = _agree(r_dc, r_hand)
    row["source"] = vg.source
    runners = {
        "dc_py": py_runner(vg, *args),
        "hand_py": py_runner(hand, *args),
        "dc_in_numba": numba_runner(loops["vg_mlp"], vgj, *args),
        "hand_in_numba": numba_runner(loops["vg_mlp"], hand, *args),
    }
    if jax is not None:
        j = jax_vg(jax, mlp, (0, 1, 2, 3), args)
        runners["jax"] = j["runner"]
        row["jax_compile_s"] = j["compile_s"]
        row["agree_jax"] = _agree(r_dc, (j["result"][0], tuple(j["result"][1])))
    t = time_round_robin(runners, samples, target_s)
    row["times"] = t
    row["ratios"] = {
        "dc_py_over_hand_py": paired(t, "dc_py", "hand_py"),
        "dc_in_numba_over_hand_in_numba": paired(t, "dc_in_numba", "hand_in_numba"),
        "dc_py_over_jax": paired(t, "dc_py", "jax"),
        "hand_py_over_jax": paired(t, "hand_py", "jax"),
    }
    return row


def bench_hvp(dc: Any, loops: dict[str, Any], samples: int, target_s: float) -> dict[str, Any]:
    print(f"  [hvp rosenbrock n={HVP_N}] compile + time ...", flush=True)
    f = dc.compile(rosen)
    x = rosen_x(HVP_N)
    v = np.cos(np.arange(HVP_N))
    g = dc.grad(f, wrt="x")
    hv = dc.hvp(f, wrt="x")
    row: dict[str, Any] = {"n": HVP_N}
    row["grad_first_call_s"], _ = first_call(g, x)
    row["hvp_first_call_s"], hx = first_call(hv, (x,), v)
    gj, hj = g.njit, hv.njit
    # check H v against a central difference of the gradient
    h = 1e-6
    fd = (gj(x + h * v) - gj(x - h * v)) / (2 * h)
    row["hvp_fd_rel_err"] = float(np.max(np.abs(np.asarray(hx) - fd)) / np.max(np.abs(fd)))
    row["grad_n_statements"] = g.ir.n_statements
    row["hvp_n_statements"] = hv.ir.n_statements
    row["source"] = hv.source
    row["grad_source"] = g.source
    runners = {
        "grad_in_numba": numba_runner(loops["g1"], gj, x),
        "hvp_in_numba": numba_runner(loops["hvp1"], hj, x, v),
        "grad_py": py_runner(g, x),
        "hvp_py": py_runner(hv, (x,), v),
    }
    t = time_round_robin(runners, samples, target_s)
    row["times"] = t
    row["ratios"] = {
        "hvp_over_grad_in_numba": paired(t, "hvp_in_numba", "grad_in_numba"),
        "hvp_over_grad_py": paired(t, "hvp_py", "grad_py"),
    }
    return row


# ---------------------------------------------------------------------------
# subprocess workers
# ---------------------------------------------------------------------------
def worker_compile(n: int) -> dict[str, Any]:
    """Cold compile of Rosenbrock value_and_grad at size n (empty $DCOMPILE_CACHE_DIR)."""
    t = time.perf_counter()
    import numba  # noqa: F401
    from numba.core.registry import cpu_target

    import dcompile as dc

    import_s = time.perf_counter() - t
    t = time.perf_counter()
    cpu_target.target_context.refresh()  # numba's one-off per-process initialisation, not dcompile's
    numba_init_s = time.perf_counter() - t
    x = rosen_x(n)
    f = dc.compile(rosen)
    vg = dc.value_and_grad(f, wrt="x")
    first_s, _ = first_call(vg, x)
    return {
        "n": n,
        "import_s": import_s,
        "numba_init_s": numba_init_s,
        "first_call_s": first_s,
        "kernel_compile_s": vg.kernel.compile_seconds,
        "cache_hit": vg.kernel.cache_hit,
    }


def worker_malloc(n: int, samples: int, target_s: float) -> dict[str, Any]:
    """Rosenbrock at size n, dc vs hand in numba, in a process whose glibc keeps freed memory
    (no trimming, no mmap): how much of dcompile's time is fresh pages for its temporaries."""
    from numba import njit

    import dcompile as dc

    loops = _loops()
    x = rosen_x(n)
    vg = dc.value_and_grad(dc.compile(rosen), wrt="x")
    vg(x)
    hand = njit(rosen_vg_hand)
    runners = {
        "dc_in_numba": numba_runner(loops["vg1"], vg.njit, x),
        "hand_in_numba": numba_runner(loops["vg1"], hand, x),
    }
    t = time_round_robin(runners, samples, target_s)
    return {
        "n": n,
        "env": {k: os.environ.get(k) for k in MALLOC_KEEP_ENV},
        "times": t,
        "dc_over_hand": paired(t, "dc_in_numba", "hand_in_numba"),
        "minor_faults_per_call": {"dc": minor_faults_per_call(vg.njit, x), "hand": minor_faults_per_call(hand, x)},
    }


def _proc_status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def worker_memory(impl: str, n: int) -> dict[str, Any]:
    """RSS above the post-warm-up baseline during MEM_CALLS value_and_grad calls at size n."""
    x = rosen_x(n)
    if impl == "dc":
        import dcompile as dc

        fn: Callable[..., Any] = dc.value_and_grad(dc.compile(rosen), wrt="x")
        args: tuple[Any, ...] = (x,)
        block: Callable[[Any], Any] = lambda r: r
    elif impl == "hand":
        from numba import njit

        fn, args, block = njit(rosen_vg_hand), (x,), (lambda r: r)
    else:
        import jax.numpy as jnp

        jax = jax_setup()
        fn = jax.jit(jax.value_and_grad(with_numpy_module(rosen, jnp)))
        args, block = (jnp.asarray(x),), jax.block_until_ready
        del x
    for _ in range(3):
        block(fn(*args))
    gc.collect()
    base_kb = _proc_status_kb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        hwm_reset = _proc_status_kb("VmHWM") <= base_kb + 1024
    except OSError:
        hwm_reset = False
    maxrss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(MEM_CALLS):
        block(fn(*args))
    peak_kb = _proc_status_kb("VmHWM")
    maxrss_after_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "impl": impl,
        "n": n,
        "calls": MEM_CALLS,
        "baseline_rss_bytes": base_kb * 1024,
        "peak_rss_bytes": peak_kb * 1024,
        "delta_bytes": (peak_kb - base_kb) * 1024,
        "hwm_reset": hwm_reset,
        "ru_maxrss_before_bytes": maxrss_before_kb * 1024,
        "ru_maxrss_after_bytes": maxrss_after_kb * 1024,
    }


def run_worker(argv: list[str], env_extra: dict[str, str]) -> dict[str, Any]:
    env = dict(os.environ, **env_extra)
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}", "process_wall_s": wall}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def measure_compile(root: Path, runs: int) -> dict[str, Any]:
    """Cold compiles, each in a fresh process with its own empty cache dir, sizes interleaved."""
    all_runs: dict[int, list[dict[str, Any]]] = {n: [] for n in COMPILE_NS}
    for i in range(runs):
        for n in COMPILE_NS:
            print(f"  [compile n={n}] cold compile {i + 1}/{runs} in a fresh process ...", flush=True)
            d = root / f"compile-{n}-{i}"
            d.mkdir()
            all_runs[n].append(run_worker(["--worker", "compile", "--n", str(n)], {CACHE_ENV: str(d)}))
    out: dict[str, Any] = {"runs": {str(n): r for n, r in all_runs.items()}}
    for n, rs in all_runs.items():
        ok = [r for r in rs if "error" not in r]
        out[str(n)] = (
            {
                "first_call_s": statistics.median(r["first_call_s"] for r in ok),
                "kernel_compile_s": statistics.median(r["kernel_compile_s"] for r in ok),
                "numba_init_s": statistics.median(r["numba_init_s"] for r in ok),
                "cache_hit": any(r["cache_hit"] for r in ok),
                "runs": len(ok),
            }
            if ok
            else {"error": rs[0]["error"]}
        )
    return out


def measure_memory(root: Path, with_jax: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"n": MEM_N, "theoretical_min_x_plus_g_bytes": 2 * MEM_N * 8}
    for impl in ("dc", "hand", *(("jax",) if with_jax else ())):
        print(f"  [memory {impl} n={MEM_N}] in a fresh process ...", flush=True)
        d = root / f"memory-{impl}"
        d.mkdir()
        # glibc: a fixed mmap threshold, so every large array is its own mapping, returned to
        # the OS on free (else the heap keeps freed arrays and the baseline hides them)
        env = {CACHE_ENV: str(d), "MALLOC_MMAP_THRESHOLD_": "131072"}
        out[impl] = run_worker(["--worker", "memory", "--impl", impl, "--n", str(MEM_N)], env)
    return out


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _us(t: dict[str, Any] | None) -> str:
    if t is None:
        return "-"
    s = t["median_s"] * 1e6
    return f"{s:.3g}" if s < 1000 else f"{s:,.0f}"


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _status(x: float | None, target: float) -> str:
    if x is None:
        return "-"
    return "met" if x <= target else f"**not met** ({(x / target - 1) * 100:.0f}% over)"


def _mb(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:.1f}"


def render_markdown(res: dict[str, Any]) -> str:
    m, s = res["machine"], res["settings"]
    tgt = TARGETS["rosen_dc_over_hand"]
    L = [
        "# dcompile array benchmark",
        "",
        f"Command to reproduce (from the repository root): `{m['command']}`",
        "",
        f"- date: {m['date']}",
        f"- machine: {m['cores']} cores, {m['cpu']} ({m['platform']}); a shared, noisy machine: quote medians"
        " and ratios, not single numbers",
        f"- python {m['python']}, numba {m['numba']}, numpy {m['numpy']}, jax {m['jax']}, "
        f"dcompile {m['dcompile']} (git {m['git_commit']})",
        f"- timing: per-call time = median over {s['samples']} samples of >= {s['target_s']} s each "
        "(each sample: N back-to-back calls), contenders round-robin in one process; ratios = median over "
        "samples of the per-sample ratio. `from Python` = a Python `for` loop calling the object; `in numba` = "
        "an `@njit` loop calling the dispatcher N times (perturbing one input element per call).",
        "- dcompile: `vg = dc.value_and_grad(dc.compile(f), wrt=...)`; `dc py` = `vg(*args)` (the Python "
        "object), `dc njit` = `vg.njit`. Hand-written numba: plain `@njit` (no fastmath, no parallel), as is "
        "dcompile's kernel. JAX: `jax.jit(jax.value_and_grad(f))`, x64, inputs already JAX arrays, "
        "`block_until_ready` on every call (XLA may use both cores; numba uses one).",
        "",
        "## 1. Extended Rosenbrock value-and-gradient",
        "",
        "`np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)`; hand-written: one fused loop.",
        "",
        "Per-call time (µs, median):",
        "",
        "| n | dc py | dc `.njit` from Python | hand from Python | dc in numba | hand in numba | JAX jit |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in res["rosenbrock"]:
        t = row["times"]
        L.append(
            f"| {row['n']:.0e} | {_us(t['dc_py'])} | {_us(t['dc_njit_py'])} | {_us(t['hand_py'])} | "
            f"{_us(t['dc_in_numba'])} | {_us(t['hand_in_numba'])} | {_us(t.get('jax'))} |"
        )
    L += [
        "",
        f"Ratios (target dcompile / hand-written ≤ {tgt}):",
        "",
        "| n | dc py / hand py | status | dc in numba / hand in numba | status | dc py / JAX | "
        "hand py / JAX | agrees with hand / JAX |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in res["rosenbrock"]:
        r = row["ratios"]
        L.append(
            f"| {row['n']:.0e} | {_r(r['dc_py_over_hand_py'])} | {_status(r['dc_py_over_hand_py'], tgt)} | "
            f"{_r(r['dc_in_numba_over_hand_in_numba'])} | {_status(r['dc_in_numba_over_hand_in_numba'], tgt)} | "
            f"{_r(r['dc_py_over_jax'])} | {_r(r['hand_py_over_jax'])} | "
            f"{row['agree_hand']} / {row.get('agree_jax', '-')} |"
        )
    L += [
        "",
        "What dominates dcompile's time here (diagnostics measured in this run):",
        "",
        "| n | dc py - dc `.njit` from Python (µs): Python-object dispatch (within noise at large n) "
        "| minor page faults per call, dc / hand |",
        "|---|---|---|",
    ]
    for row in res["rosenbrock"]:
        t = row["times"]
        mf = row["minor_faults_per_call"]
        over = (t["dc_py"]["median_s"] - t["dc_njit_py"]["median_s"]) * 1e6
        L.append(f"| {row['n']:.0e} | {over:.3g} | {mf['dc']:.0f} / {mf['hand']:.0f} |")
    md = res.get("malloc_diagnostic")
    if md and "error" not in md:
        t = md["times"]
        mf = md["minor_faults_per_call"]
        L += [
            "",
            f"Same n = 10^6 in-numba timing in a fresh process with glibc told to keep freed memory "
            f"(`{' '.join(f'{k}={v}' for k, v in MALLOC_KEEP_ENV.items())}`): dc {_us(t['dc_in_numba'])} µs, "
            f"hand {_us(t['hand_in_numba'])} µs, dc / hand = {_r(md['dc_over_hand'])} "
            f"(page faults per call {mf['dc']:.0f} / {mf['hand']:.0f}). "
            + (
                "The difference from the table above is the cost of the fresh, zero-filled pages that dcompile's "
                "n-sized temporaries get on every call under glibc's default malloc settings."
                if res["rosenbrock"][-1]["minor_faults_per_call"]["dc"] > 100
                else "dcompile's kernel takes no fresh pages per call under the default settings either, so "
                "allocation is not what separates it from the hand-written loop here."
            ),
        ]
    elif md:
        L += ["", f"malloc diagnostic failed: {md['error'][:300]}"]
    L += _render_compile_memory(res)
    return _render_rest(res, L)


def _render_compile_memory(res: dict[str, Any]) -> list[str]:
    c = res["compile"]
    L = [
        "",
        "Cold compile of dcompile's value_and_grad (each run a fresh process with an empty "
        "`DCOMPILE_CACHE_DIR`; numba's one-off per-process initialisation done before the clock starts and "
        "reported apart; median over runs):",
        "",
        "| n | first call (s) | `vg.kernel.compile_seconds` | numba init (s, not included) | cache_hit | runs |",
        "|---|---|---|---|---|---|",
    ]
    for n in COMPILE_NS:
        cc = c[str(n)]
        if "error" in cc:
            L.append(f"| {n:.0e} | error: {cc['error'][:200]} | | | | |")
        else:
            L.append(
                f"| {n:.0e} | {cc['first_call_s']:.3f} | {cc['kernel_compile_s']:.3f} | {cc['numba_init_s']:.3f} | "
                f"{cc['cache_hit']} | {cc['runs']} |"
            )
    ce = res["compile_equal"]
    if ce is not None:
        L += [
            "",
            f"Compile time n=10^6 / n=10^2: {ce['ratio']:.2f} (per-run spread at n=10^2: "
            f"{ce['spread_small'][0]:.3f}-{ce['spread_small'][1]:.3f} s, at n=10^6: "
            f"{ce['spread_large'][0]:.3f}-{ce['spread_large'][1]:.3f} s; equal = the medians differ by no more "
            "than the larger spread) → "
            f"{'equal within noise' if ce['equal'] else '**not equal within noise**'}.",
        ]
    mem = res["memory"]
    L += [
        "",
        f"Memory at n = 10^6 ({MEM_CALLS} value_and_grad calls, each process fresh): extra RSS = peak during "
        "the calls (VmHWM, reset after 3 warm-up calls) - RSS after warm-up; x (8 MB) is resident in the "
        f"baseline. Theoretical minimum for x and g together: 2·n·8 B = "
        f"{_mb(mem['theoretical_min_x_plus_g_bytes'])} MiB, i.e. {_mb(MEM_N * 8)} MiB extra (g).",
        "",
        "| implementation | extra RSS during calls (MiB) | x + extra (MiB) | / theoretical min (x + g) | "
        "baseline RSS (MiB) | VmHWM reset worked |",
        "|---|---|---|---|---|---|",
    ]
    for impl, label in (("dc", "dcompile"), ("hand", "hand-written numba"), ("jax", "JAX jit")):
        r = mem.get(impl)
        if r is None:
            continue
        if "error" in r:
            L.append(f"| {label} | error: {r['error'][:200]} | | | | |")
            continue
        tot = r["delta_bytes"] + MEM_N * 8
        L.append(
            f"| {label} | {_mb(r['delta_bytes'])} | {_mb(tot)} | "
            f"{tot / mem['theoretical_min_x_plus_g_bytes']:.1f}x | {_mb(r['baseline_rss_bytes'])} | "
            f"{r['hwm_reset']} |"
        )
    return L


def _render_rest(res: dict[str, Any], L: list[str]) -> str:
    L += [
        "",
        "## 2. Logistic-regression NLL value-and-gradient w.r.t. w",
        "",
        "`np.sum(np.logaddexp(0.0, -y * (X @ w)))`, X Gaussian (N, d), y ∈ {-1, +1}. Hand-written: "
        "`np.dot(X, w)`, one fused stable log1p/sigmoid loop, `np.dot(X.T, s)`.",
        "",
        "| N, d | dc py (µs) | hand py (µs) | dc in numba (µs) | hand in numba (µs) | JAX (µs) | dc py / hand py |"
        " dc in numba / hand in numba | dc py / JAX | hand py / JAX | agrees hand / JAX |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in res["logreg"]:
        t, r = row["times"], row["ratios"]
        L.append(
            f"| {row['N']:.0e}, {row['d']} | {_us(t['dc_py'])} | {_us(t['hand_py'])} | {_us(t['dc_in_numba'])} | "
            f"{_us(t['hand_in_numba'])} | {_us(t.get('jax'))} | {_r(r['dc_py_over_hand_py'])} | "
            f"{_r(r['dc_in_numba_over_hand_in_numba'])} | {_r(r['dc_py_over_jax'])} | {_r(r['hand_py_over_jax'])} | "
            f"{row['agree_hand']} / {row.get('agree_jax', '-')} |"
        )
    row = res["mlp"]
    t, r = row["times"], row["ratios"]
    L += [
        "",
        "## 3. One-hidden-layer MLP value-and-gradient w.r.t. (W1, b1, W2, b2)",
        "",
        "10 → 32 tanh → 1, batch 256, `np.mean((np.tanh(X @ W1 + b1) @ W2 + b2 - y) ** 2)`. Hand-written: "
        "`np.dot` for X @ W1 and X.T @ dA, fused loops for the rest.",
        "",
        "| dc py (µs) | hand py (µs) | dc in numba (µs) | hand in numba (µs) | JAX (µs) | dc py / hand py |"
        " dc in numba / hand in numba | dc py / JAX | hand py / JAX | agrees hand / JAX |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {_us(t['dc_py'])} | {_us(t['hand_py'])} | {_us(t['dc_in_numba'])} | {_us(t['hand_in_numba'])} | "
        f"{_us(t.get('jax'))} | {_r(r['dc_py_over_hand_py'])} | {_r(r['dc_in_numba_over_hand_in_numba'])} | "
        f"{_r(r['dc_py_over_jax'])} | {_r(r['hand_py_over_jax'])} | "
        f"{row['agree_hand']} / {row.get('agree_jax', '-')} |",
    ]
    row = res["hvp"]
    t, r = row["times"], row["ratios"]
    tgt_h = TARGETS["hvp_over_grad"]
    L += [
        "",
        f"## 4. Hessian-vector product / gradient, Rosenbrock n = {HVP_N:.0e}",
        "",
        "`dc.hvp(f, wrt='x')` vs `dc.grad(f, wrt='x')`; in numba = `.njit(x, v)` / `.njit(x)` from an `@njit` "
        "loop; from Python = `hv((x,), v)` / `g(x)` (the Python objects). "
        f"H·v agrees with a central difference of the gradient to {row['hvp_fd_rel_err']:.1e} (relative).",
        "",
        f"| path | grad (µs) | hvp (µs) | hvp / grad | target ≤ {tgt_h} |",
        "|---|---|---|---|---|",
        f"| in numba (`.njit`) | {_us(t['grad_in_numba'])} | {_us(t['hvp_in_numba'])} | "
        f"{_r(r['hvp_over_grad_in_numba'])} | {_status(r['hvp_over_grad_in_numba'], tgt_h)} |",
        f"| from Python (objects) | {_us(t['grad_py'])} | {_us(t['hvp_py'])} | {_r(r['hvp_over_grad_py'])} | "
        f"{_status(r['hvp_over_grad_py'], tgt_h)} |",
        "",
        f"Statements: grad {row['grad_n_statements']}, hvp {row['hvp_n_statements']}.",
        "",
        "## Targets",
        "",
        "| target | result | status |",
        "|---|---|---|",
    ]
    for tr in res["targets"]:
        L.append(f"| {tr['target']} | {tr['result']} | {tr['status']} |")
    L += ["", "## Compile times in the benchmark process (fresh cache dir, numba initialised)", ""]
    L.append("| problem | dc first call (s) | dc kernel compile (s) | hand numba first call (s) | JAX compile (s) |")
    L.append("|---|---|---|---|---|")
    for row in res["rosenbrock"]:
        L.append(
            f"| rosenbrock n={row['n']:.0e} | {row['dc_first_call_s']:.2f} | {row['dc_kernel_compile_s']:.2f} | "
            f"{row['hand_compile_s']:.2f} | {row.get('jax_compile_s', float('nan')):.2f} |"
        )
    for row in res["logreg"]:
        L.append(
            f"| logreg N={row['N']:.0e} d={row['d']} | {row['dc_first_call_s']:.2f} | "
            f"{row['dc_kernel_compile_s']:.2f} | {row['hand_compile_s']:.2f} | "
            f"{row.get('jax_compile_s', float('nan')):.2f} |"
        )
    row = res["mlp"]
    L.append(
        f"| mlp | {row['dc_first_call_s']:.2f} | {row['dc_kernel_compile_s']:.2f} | {row['hand_compile_s']:.2f} | "
        f"{row.get('jax_compile_s', float('nan')):.2f} |"
    )
    if res["notes"]:
        L += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    src = res["rosenbrock"][0].get("source")
    if src:
        L += ["", "## Generated Rosenbrock value_and_grad (n = 10^2)", "", "```python", src.strip(), "```"]
    return "\n".join(L) + "\n"


def evaluate_targets(res: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    tgt = TARGETS["rosen_dc_over_hand"]
    for row in res["rosenbrock"]:
        for key, label in (
            ("dc_py_over_hand_py", "called from Python"),
            ("dc_in_numba_over_hand_in_numba", "in numba (`.njit`)"),
        ):
            x = row["ratios"][key]
            out.append(
                {
                    "target": f"Rosenbrock n={row['n']:.0e}: dc / hand-written numba ≤ {tgt}, {label}",
                    "result": _r(x),
                    "status": _status(x, tgt),
                }
            )
    ce = res["compile_equal"]
    if ce is not None:
        out.append(
            {
                "target": "Rosenbrock cold compile: n=10^6 equal to n=10^2 within noise",
                "result": f"{ce['large_s']:.3f} s vs {ce['small_s']:.3f} s ({ce['ratio']:.2f}x)",
                "status": "met" if ce["equal"] else "**not met**",
            }
        )
    tgt_h = TARGETS["hvp_over_grad"]
    x = res["hvp"]["ratios"]["hvp_over_grad_in_numba"]
    out.append(
        {
            "target": f"Rosenbrock n={HVP_N:.0e}: hvp / grad ≤ {tgt_h} (in numba)",
            "result": _r(x),
            "status": _status(x, tgt_h),
        }
    )
    return out


def compile_equal(c: dict[str, Any]) -> dict[str, Any] | None:
    small, large = c[str(COMPILE_NS[0])], c[str(COMPILE_NS[1])]
    if "error" in small or "error" in large:
        return None
    rs = [r["kernel_compile_s"] for r in c["runs"][str(COMPILE_NS[0])] if "error" not in r]
    rl = [r["kernel_compile_s"] for r in c["runs"][str(COMPILE_NS[1])] if "error" not in r]
    ratio = large["kernel_compile_s"] / small["kernel_compile_s"]
    # "equal within noise": the medians differ by no more than the run-to-run spread of either size
    noise = max(max(rs) - min(rs), max(rl) - min(rl))
    return {
        "small_s": small["kernel_compile_s"],
        "large_s": large["kernel_compile_s"],
        "ratio": ratio,
        "spread_small": [min(rs), max(rs)],
        "spread_large": [min(rl), max(rl)],
        "equal": abs(large["kernel_compile_s"] - small["kernel_compile_s"]) <= noise,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter samples; one compile run per size")
    ap.add_argument("--no-jax", action="store_true", help="skip JAX even when installed")
    ap.add_argument("--samples", type=int, default=None, help="timing samples per contender (default 7, quick 3)")
    ap.add_argument("--target", type=float, default=None, help="seconds per sample (default 0.2, quick 0.05)")
    ap.add_argument("--compile-runs", type=int, default=None, help="cold-compile processes per size (default 3)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    ap.add_argument("--worker", choices=("compile", "memory", "malloc"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--impl", choices=("dc", "hand", "jax"), help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker == "compile":
        print(json.dumps(worker_compile(a.n)))
        return
    if a.worker == "memory":
        print(json.dumps(worker_memory(a.impl, a.n)))
        return

    samples = a.samples or (3 if a.quick else 7)
    target_s = a.target or (0.05 if a.quick else 0.2)
    if a.worker == "malloc":
        print(json.dumps(worker_malloc(a.n, samples, target_s)))
        return
    compile_runs = a.compile_runs or (1 if a.quick else 3)
    command = " ".join([".venv/bin/python", "benchmarks/bench_arrays.py", *sys.argv[1:]])
    t_start = time.perf_counter()

    tmp_root = Path(tempfile.mkdtemp(prefix="dcompile-bench-arrays-"))
    main_cache = tmp_root / "main"
    main_cache.mkdir()
    os.environ[CACHE_ENV] = str(main_cache)  # cold compiles in this process too
    print(f"cache dirs under {tmp_root}", flush=True)
    jax = None if a.no_jax else jax_setup()
    res: dict[str, Any] = {
        "settings": {
            "quick": a.quick,
            "samples": samples,
            "target_s": target_s,
            "compile_runs": compile_runs,
            "targets": TARGETS,
        },
    }
    notes: list[str] = []
    if jax is None:
        notes.append("JAX: not installed or --no-jax; skipped.")

    print("cold compiles (subprocesses) ...", flush=True)
    res["compile"] = measure_compile(tmp_root, compile_runs)
    res["compile_equal"] = compile_equal(res["compile"])
    print("memory (subprocesses) ...", flush=True)
    res["memory"] = measure_memory(tmp_root, jax is not None)

    print("malloc diagnostic (subprocess) ...", flush=True)
    d = tmp_root / "malloc"
    d.mkdir()
    argv = ["--worker", "malloc", "--n", str(MEM_N), "--samples", str(samples), "--target", str(target_s)]
    res["malloc_diagnostic"] = run_worker(argv, {CACHE_ENV: str(d), **MALLOC_KEEP_ENV})

    import dcompile as dc

    loops = _loops()
    res["rosenbrock"] = bench_rosen(dc, loops, jax, samples, target_s)
    res["logreg"] = bench_logreg(dc, loops, jax, samples, target_s)
    res["mlp"] = bench_mlp(dc, loops, jax, samples, target_s)
    res["hvp"] = bench_hvp(dc, loops, samples, target_s)

    for key in ("rosenbrock", "logreg"):
        for row in res[key]:
            size = f"n={row['n']}" if key == "rosenbrock" else f"N={row['N']} d={row['d']}"
            if not row["agree_hand"]:
                notes.append(f"{key} {size}: dcompile's value/gradient differs from the hand-written one!")
            if row.get("agree_jax") is False:
                notes.append(f"{key} {size}: dcompile's value/gradient differs from JAX's!")
    if not res["mlp"]["agree_hand"] or res["mlp"].get("agree_jax") is False:
        notes.append("mlp: dcompile's value/gradient differs from the hand-written one or JAX's!")
    res["machine"] = machine_info(command)
    res["targets"] = evaluate_targets(res)
    res["notes"] = notes + analysis_notes(res)
    res["wall_s"] = time.perf_counter() - t_start

    shutil.rmtree(tmp_root, ignore_errors=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "arrays.json").write_text(json.dumps(res, indent=2) + "\n")
    md = render_markdown(res)
    (a.out / "arrays.md").write_text(md)
    print(md)
    print(f"wrote {a.out / 'arrays.json'} and {a.out / 'arrays.md'} ({res['wall_s']:.0f} s)")


def analysis_notes(res: dict[str, Any]) -> list[str]:
    """What the generated code looks like (read from the sources kept in the results)."""
    out = []
    for key, label in (("rosenbrock", "Rosenbrock"), ("logreg", "logistic regression"), ("mlp", "MLP"), ("hvp", "hvp")):
        rows = res[key] if isinstance(res[key], list) else [res[key]]
        src = rows[0].get("source", "")
        skip = ("#", '"', "if ", "raise", "import", "def ", "Needs ", "Generated ")
        body = [ln.strip() for ln in src.splitlines() if ln.strip() and not ln.strip().startswith(skip)]
        loops = sum(ln.startswith("for ") for ln in body)
        allocs = sum(ln.count(tok) for ln in body for tok in ("np.zeros(", "np.empty(", "np.outer(", " @ "))
        out.append(
            f"{label}: generated kernel (`.source`, kept in arrays.json) has {len(body)} statements, "
            f"{loops} explicit loop(s), {allocs} explicit allocations/matrix products"
            + (" - the element-wise part is fused into loops." if loops else " - one array operation per statement.")
        )
    out.append(
        "Memory: VmHWM is reset through /proc/self/clear_refs; the memory processes pin glibc's mmap threshold "
        "to 128 KiB (MALLOC_MMAP_THRESHOLD_) so that freed arrays leave the RSS and the post-warm-up baseline "
        "does not already contain them."
    )
    return out


if __name__ == "__main__":
    main()
