"""Finite-sum benchmark (issue 5): ``dc.finite_sum`` and its SGD epoch vs hand-written numba and JAX.

Three measurements, all on the logistic loss ``logaddexp(0, -y * (x @ w))`` of one sample,
X Gaussian, y in {-1, +1}:

1. **Full-batch value and gradient**, N = 10^5, d = 100:
   ``dc.finite_sum(nll_one, data=(X, y))`` (the Python object ``obj.value_and_grad(w)`` and
   the generated module's ``m.value_and_grad(w, X, y)`` called directly), the same with
   ``parallel=True`` (``numba.prange`` over 64 row blocks), the array formulation
   ``dc.value_and_grad(dc.compile(np.sum(np.logaddexp(0, -y * (X @ w)))), wrt="w")``, a
   hand-written numba loop over rows (two inner loops: the dot product, then the axpy into
   the gradient) and ``jax.jit(jax.value_and_grad(f))`` (x64). Target: finite_sum <= 1.2x
   hand-written.
2. **One SGD epoch**, batch 32, constant step 0.01, N = 10^5, d = 100, ``mean=True`` (the
   mini-batch gradient is the batch average): the generated ``m.sgd_epoch`` called directly
   with a fixed permutation and step array vs a hand-written numba epoch on the same
   permutation (target <= 1.2x) vs a jitted JAX ``lax.scan`` over the batches; and the wall
   time of ``dc.sgd(obj, w0, batch_size=32, epochs=1, ..., history=False)``, which also draws
   the permutation and evaluates the schedule and the final objective.
3. **Time per epoch as N grows**, N = 10^4, 10^5, 10^6, d = 100 (the 10^6 x 100 data set is
   800 MB): time per SGD epoch (and per full-batch value-and-gradient) and per row; the
   ratio max/min of the per-row times says how linear it is. The compiled epoch is also
   timed on the rows in storage order (no shuffle), which separates the loop's cost from the
   cache misses of visiting 800-byte rows in random order.

Every contender's answer is checked against the hand-written one before timing (value and
gradient to 1e-9 relative; SGD: the final w after one epoch from the same w0 with the same
permutation and steps).

Timing: each sample runs a contender back to back for >= ``--target`` seconds, after one
untimed call (so that no contender profits from the data another one has just pulled into the
cache); contenders are timed round-robin in one process (the machine's noise hits all alike);
the report quotes the median over samples, and ratios are the median over samples of the
per-sample ratio. The SGD contenders restart from the same w0 on every call.

Run from the repository root::

    .venv/bin/python benchmarks/bench_finite_sum.py          # full run (~3.5 minutes)
    .venv/bin/python benchmarks/bench_finite_sum.py --quick  # smoke run (~40 s; sweep to 10^5)

Results go to ``benchmarks/results/finite_sum.json`` and ``benchmarks/results/finite_sum.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from machine import machine_info
from numba import njit, prange

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_ENV = "DCOMPILE_CACHE_DIR"
N_MAIN, D = 10**5, 100
BATCH = 32
STEP = 0.01
SWEEP_NS = (10**4, 10**5, 10**6)
QUICK_SWEEP_NS = (10**4, 10**5)
SEED = 0  # dc.sgd's seed; the fixed permutation is the one dc.sgd draws for it
RTOL = 1e-9

TARGETS = {"fs_over_hand": 1.2, "sgd_epoch_over_hand": 1.2}


# ---------------------------------------------------------------------------
# the problem
# ---------------------------------------------------------------------------
def nll_one(w, x, y):
    return np.logaddexp(0.0, -y * (x @ w))


def nll_array(w, X, y):
    return np.sum(np.logaddexp(0.0, -y * (X @ w)))


def logreg_data(n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w = 0.1 * rng.standard_normal(d)
    return w, X, y


# ---------------------------------------------------------------------------
# hand-written numba (plain @njit: no fastmath, no parallel, as dcompile's loops)
# ---------------------------------------------------------------------------
@njit
def loss_and_slope(m):
    """logaddexp(0, m) and its derivative sigmoid(m), without overflow."""
    if m > 0.0:
        e = np.exp(-m)
        return m + np.log1p(e), 1.0 / (1.0 + e)
    e = np.exp(m)
    return np.log1p(e), e / (1.0 + e)


@njit
def hand_vg(w, X, y):
    """Full batch: a loop over rows, two inner loops (dot product, then axpy into the gradient)."""
    n, d = X.shape
    g = np.zeros(d)
    f = 0.0
    for i in range(n):
        z = 0.0
        for j in range(d):
            z += X[i, j] * w[j]
        v, s = loss_and_slope(-y[i] * z)
        f += v
        c = -y[i] * s
        for j in range(d):
            g[j] += c * X[i, j]
    return f, g


@njit
def hand_vg_dot(w, X, y):
    """As :func:`hand_vg` with the row's dot product by ``np.dot`` (BLAS ddot) instead of a loop."""
    n, d = X.shape
    g = np.zeros(d)
    f = 0.0
    for i in range(n):
        v, s = loss_and_slope(-y[i] * np.dot(X[i], w))
        f += v
        c = -y[i] * s
        for j in range(d):
            g[j] += c * X[i, j]
    return f, g


@njit
def hand_sgd_epoch(w, g, order, batch_size, steps, X, y):  # noqa: PLR0917
    """One epoch over ``order`` in batches: ``w -= a_b * (mean gradient of batch b)``."""
    n = order.shape[0]
    d = w.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    for b in range(n_batches):
        lo = b * batch_size
        hi = min(lo + batch_size, n)
        for j in range(d):
            g[j] = 0.0
        for k in range(lo, hi):
            i = order[k]
            z = 0.0
            for j in range(d):
                z += X[i, j] * w[j]
            _, s = loss_and_slope(-y[i] * z)
            c = -y[i] * s
            for j in range(d):
                g[j] += c * X[i, j]
        scale = 1.0 / (hi - lo)
        a = steps[b]
        for j in range(d):
            w[j] -= a * (g[j] * scale)


@njit
def hand_sgd_epoch_dot(w, g, order, batch_size, steps, X, y):  # noqa: PLR0917
    """As :func:`hand_sgd_epoch` with the row's dot product by ``np.dot``."""
    n = order.shape[0]
    d = w.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    for b in range(n_batches):
        lo = b * batch_size
        hi = min(lo + batch_size, n)
        for j in range(d):
            g[j] = 0.0
        for k in range(lo, hi):
            i = order[k]
            _, s = loss_and_slope(-y[i] * np.dot(X[i], w))
            c = -y[i] * s
            for j in range(d):
                g[j] += c * X[i, j]
        scale = 1.0 / (hi - lo)
        a = steps[b]
        for j in range(d):
            w[j] -= a * (g[j] * scale)


@njit(parallel=True)
def hand_vg_parallel(w, X, y):
    """:func:`hand_vg` over 64 row blocks in ``prange``, one gradient accumulator per block (as dcompile's)."""
    n, d = X.shape
    blocks = min(64, n)
    partial_g = np.zeros((blocks, d))
    partial_f = np.zeros(blocks)
    for b in prange(blocks):
        f = 0.0
        for i in range(b * n // blocks, (b + 1) * n // blocks):
            z = 0.0
            for j in range(d):
                z += X[i, j] * w[j]
            v, s = loss_and_slope(-y[i] * z)
            f += v
            c = -y[i] * s
            for j in range(d):
                partial_g[b, j] += c * X[i, j]
        partial_f[b] = f
    g = np.zeros(d)
    f = 0.0
    for b in range(blocks):
        f += partial_f[b]
        for j in range(d):
            g[j] += partial_g[b, j]
    return f, g


HAND = {
    "vg": hand_vg,
    "vg_dot": hand_vg_dot,
    "vg_parallel": hand_vg_parallel,
    "sgd_epoch": hand_sgd_epoch,
    "sgd_epoch_dot": hand_sgd_epoch_dot,
}


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


def jax_full_batch(jax: Any) -> Any:
    import jax.numpy as jnp

    def f(w, X, y):
        return jnp.sum(jnp.logaddexp(0.0, -y * (X @ w)))

    return jax.jit(jax.value_and_grad(f))


def jax_sgd_epoch(jax: Any) -> Any:
    """One epoch: ``lax.scan`` over the batches (rows of ``order2d``), ``w -= a * mean-batch gradient``."""
    import jax.numpy as jnp

    def batch_loss(w, xb, yb):
        return jnp.mean(jnp.logaddexp(0.0, -yb * (xb @ w)))

    grad = jax.grad(batch_loss)

    def epoch(w, X, y, order2d, steps):
        def body(w, batch):
            idx, a = batch
            return w - a * grad(w, X[idx], y[idx]), None

        w, _ = jax.lax.scan(body, w, (order2d, steps))
        return w

    return jax.jit(epoch)


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------
Runner = Callable[[int], float]  # runner(k): seconds for k back-to-back calls


def call_runner(fn: Callable[..., Any], *args: Any, block: Callable[[Any], Any] | None = None) -> Runner:
    def run(k: int) -> float:
        t = time.perf_counter()
        for _ in range(k):
            r = fn(*args)
            if block is not None:
                block(r)
        return time.perf_counter() - t

    return run


def restart_runner(fn: Callable[[], Any], w: np.ndarray, w0: np.ndarray) -> Runner:
    """``fn()`` updates ``w`` in place: every call restarts from ``w0`` (an 800-byte copy)."""

    def run(k: int) -> float:
        t = time.perf_counter()
        for _ in range(k):
            w[:] = w0
            fn()
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
    counts = {}
    for k, r in runners.items():
        r(1)  # a first call may still compile or load
        counts[k] = calibrate(r, target_s)
    runs: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(samples):
        for k, r in runners.items():
            r(1)  # untimed: every sample starts with the data as warm as this contender leaves them
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


def rel_diff(a: Any, b: Any) -> float:
    """max |a - b| / max(1, max |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def vg_diff(r: tuple[Any, Any], ref: tuple[Any, Any]) -> float:
    """The larger of the value's relative difference and the gradient's (as :func:`rel_diff`)."""
    fv, gv = float(r[0]), np.asarray(r[1])
    f0, g0 = float(ref[0]), np.asarray(ref[1])
    return max(abs(fv - f0) / max(1.0, abs(f0)), rel_diff(gv, g0))


# ---------------------------------------------------------------------------
# 1. full batch
# ---------------------------------------------------------------------------
def bench_full_batch(dc: Any, hand: dict[str, Any], jax: Any, samples: int, target_s: float) -> dict[str, Any]:
    import numba

    print(f"[1] full-batch value_and_grad, N={N_MAIN} d={D}: compile ...", flush=True)
    w, X, y = logreg_data(N_MAIN, D)
    row: dict[str, Any] = {"N": N_MAIN, "d": D, "numba_threads": numba.get_num_threads()}
    one = dc.compile(nll_one)
    obj = dc.finite_sum(one, data=(X, y))
    obj_par = dc.finite_sum(one, data=(X, y), parallel=True)
    arr = dc.value_and_grad(dc.compile(nll_array), wrt="w")
    compile_s, results = {}, {}
    compile_s["fs"], results["fs"] = first_call(obj.value_and_grad, w)
    m = obj.module(w)
    compile_s["fs_module"], results["fs_module"] = first_call(m.value_and_grad, w, X, y)
    compile_s["fs_parallel"], results["fs_parallel"] = first_call(obj_par.value_and_grad, w)
    compile_s["array"], results["array"] = first_call(arr, w, X, y)
    compile_s["hand"], results["hand"] = first_call(hand["vg"], w, X, y)
    compile_s["hand_dot"], results["hand_dot"] = first_call(hand["vg_dot"], w, X, y)
    compile_s["hand_parallel"], results["hand_parallel"] = first_call(hand["vg_parallel"], w, X, y)
    runners = {
        "fs": call_runner(obj.value_and_grad, w),
        "fs_module": call_runner(m.value_and_grad, w, X, y),
        "fs_parallel": call_runner(obj_par.value_and_grad, w),
        "array": call_runner(arr, w, X, y),
        "hand": call_runner(hand["vg"], w, X, y),
        "hand_dot": call_runner(hand["vg_dot"], w, X, y),
        "hand_parallel": call_runner(hand["vg_parallel"], w, X, y),
    }
    if jax is not None:
        import jax.numpy as jnp

        jf = jax_full_batch(jax)
        jargs = (jnp.asarray(w), jnp.asarray(X), jnp.asarray(y))
        compile_s["jax"], results["jax"] = first_call(lambda: jax.block_until_ready(jf(*jargs)))
        runners["jax"] = call_runner(jf, *jargs, block=jax.block_until_ready)
    row["compile_s"] = compile_s
    row["max_rel_diff_vs_hand"] = {k: vg_diff(r, results["hand"]) for k, r in results.items()}
    row["agree"] = all(v <= RTOL for v in row["max_rel_diff_vs_hand"].values())
    print(f"    agree with hand-written: {row['max_rel_diff_vs_hand']}", flush=True)
    print("    timing ...", flush=True)
    t = time_round_robin(runners, samples, target_s)
    row["times"] = t
    row["ratios"] = {
        "fs_over_hand": paired(t, "fs", "hand"),
        "fs_module_over_hand": paired(t, "fs_module", "hand"),
        "fs_over_hand_dot": paired(t, "fs", "hand_dot"),
        "hand_dot_over_hand": paired(t, "hand_dot", "hand"),
        "fs_parallel_over_hand": paired(t, "fs_parallel", "hand"),
        "fs_parallel_over_fs": paired(t, "fs_parallel", "fs"),
        "hand_parallel_over_hand": paired(t, "hand_parallel", "hand"),
        "fs_parallel_over_hand_parallel": paired(t, "fs_parallel", "hand_parallel"),
        "array_over_hand": paired(t, "array", "hand"),
        "fs_over_array": paired(t, "fs", "array"),
        "fs_over_jax": paired(t, "fs", "jax"),
        "hand_over_jax": paired(t, "hand", "jax"),
    }
    return row


# ---------------------------------------------------------------------------
# 2. one SGD epoch
# ---------------------------------------------------------------------------
def epoch_inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The permutation ``dc.sgd(seed=SEED)`` draws for its first epoch, and the constant steps."""
    order = np.random.default_rng(SEED).permutation(n)
    steps = np.full((n + BATCH - 1) // BATCH, STEP)
    return order, steps


def bench_sgd(dc: Any, hand: dict[str, Any], jax: Any, samples: int, target_s: float) -> dict[str, Any]:
    print(f"[2] one SGD epoch, batch {BATCH}, N={N_MAIN} d={D}: compile ...", flush=True)
    w0, X, y = logreg_data(N_MAIN, D)
    obj = dc.finite_sum(dc.compile(nll_one), data=(X, y), mean=True)
    m = obj.module(w0)
    order, steps = epoch_inputs(N_MAIN)
    row: dict[str, Any] = {"N": N_MAIN, "d": D, "batch": BATCH, "step": STEP, "batches": steps.size}

    w_dc, w_hand, w_dot = w0.copy(), w0.copy(), w0.copy()
    vel, avg, g_dc, g_hand, g_dot = np.zeros(D), np.zeros(D), np.empty(D), np.empty(D), np.empty(D)
    dc_epoch = partial(m.sgd_epoch, w_dc, vel, avg, g_dc, order, BATCH, steps, 0.0, 0, X, y)
    hand_epoch = partial(hand["sgd_epoch"], w_hand, g_hand, order, BATCH, steps, X, y)
    hand_epoch_dot = partial(hand["sgd_epoch_dot"], w_dot, g_dot, order, BATCH, steps, X, y)
    dc_sgd = partial(
        dc.sgd, obj, w0, batch_size=BATCH, epochs=1, schedule=STEP, averaging="none", history=False, seed=SEED
    )
    compile_s, final = {}, {}
    for name, fn, w in (
        ("dc_epoch", dc_epoch, w_dc),
        ("hand_epoch", hand_epoch, w_hand),
        ("hand_epoch_dot", hand_epoch_dot, w_dot),
    ):
        compile_s[name], _ = first_call(fn)
        final[name] = w.copy()
    compile_s["dc_sgd"], res = first_call(dc_sgd)
    final["dc_sgd"] = res.x
    runners = {
        "dc_epoch": restart_runner(dc_epoch, w_dc, w0),
        "hand_epoch": restart_runner(hand_epoch, w_hand, w0),
        "hand_epoch_dot": restart_runner(hand_epoch_dot, w_dot, w0),
        "dc_sgd": call_runner(dc_sgd),
    }
    if jax is not None and N_MAIN % BATCH == 0:
        import jax.numpy as jnp

        je = jax_sgd_epoch(jax)
        jargs = (
            jnp.asarray(w0),
            jnp.asarray(X),
            jnp.asarray(y),
            jnp.asarray(order.reshape(-1, BATCH)),
            jnp.asarray(steps),
        )
        compile_s["jax_epoch"], wj = first_call(lambda: jax.block_until_ready(je(*jargs)))
        final["jax_epoch"] = np.asarray(wj)
        runners["jax_epoch"] = call_runner(je, *jargs, block=jax.block_until_ready)
    row["compile_s"] = compile_s
    row["w_moved"] = rel_diff(final["hand_epoch"], w0)
    row["max_rel_diff_vs_hand"] = {k: rel_diff(v, final["hand_epoch"]) for k, v in final.items()}
    row["agree"] = all(v <= RTOL for v in row["max_rel_diff_vs_hand"].values())
    print(f"    final w agrees with hand-written: {row['max_rel_diff_vs_hand']}", flush=True)

    # what dc.sgd does besides the epoch (measured apart, for the breakdown)
    row["parts_s"] = {
        "permutation": statistics.median(
            first_call(np.random.default_rng(SEED).permutation, N_MAIN)[0] for _ in range(5)
        ),
        "full_value": statistics.median(first_call(m.value, w0, X, y)[0] for _ in range(5)),
    }
    print("    timing ...", flush=True)
    t = time_round_robin(runners, samples, target_s)
    row["times"] = t
    row["ratios"] = {
        "dc_epoch_over_hand": paired(t, "dc_epoch", "hand_epoch"),
        "dc_epoch_over_hand_dot": paired(t, "dc_epoch", "hand_epoch_dot"),
        "hand_dot_over_hand": paired(t, "hand_epoch_dot", "hand_epoch"),
        "dc_sgd_over_hand": paired(t, "dc_sgd", "hand_epoch"),
        "dc_sgd_over_dc_epoch": paired(t, "dc_sgd", "dc_epoch"),
        "dc_epoch_over_jax": paired(t, "dc_epoch", "jax_epoch"),
        "hand_over_jax": paired(t, "hand_epoch", "jax_epoch"),
    }
    return row


# ---------------------------------------------------------------------------
# 3. time per epoch as N grows
# ---------------------------------------------------------------------------
def bench_sweep(dc: Any, hand: dict[str, Any], ns: tuple[int, ...], samples: int, target_s: float) -> dict[str, Any]:
    n_max = max(ns)
    print(f"[3] sweep N = {ns}, d={D}: data ({n_max * D * 8 / 1e6:.0f} MB) ...", flush=True)
    w0, X_all, y_all = logreg_data(n_max, D)
    one = dc.compile(nll_one)
    runners: dict[str, Runner] = {}
    agree: dict[str, float] = {}
    for n in ns:
        X, y = X_all[:n], y_all[:n]  # leading rows: contiguous views, no copy
        obj = dc.finite_sum(one, data=(X, y), mean=True)
        m = obj.module(w0)
        order, steps = epoch_inputs(n)
        seq = np.arange(n)
        w_dc, w_seq, w_hand = w0.copy(), w0.copy(), w0.copy()
        vel, avg, g1, g2, g3 = np.zeros(D), np.zeros(D), np.empty(D), np.empty(D), np.empty(D)
        dc_epoch = partial(m.sgd_epoch, w_dc, vel, avg, g1, order, BATCH, steps, 0.0, 0, X, y)
        dc_seq = partial(m.sgd_epoch, w_seq, vel, avg, g2, seq, BATCH, steps, 0.0, 0, X, y)
        hand_epoch = partial(hand["sgd_epoch"], w_hand, g3, order, BATCH, steps, X, y)
        dc_epoch()
        hand_epoch()
        agree[str(n)] = rel_diff(w_dc, w_hand)
        runners[f"dc_epoch_{n}"] = restart_runner(dc_epoch, w_dc, w0)
        runners[f"hand_epoch_{n}"] = restart_runner(hand_epoch, w_hand, w0)
        runners[f"dc_epoch_sequential_{n}"] = restart_runner(dc_seq, w_seq, w0)
        runners[f"fs_full_batch_{n}"] = call_runner(m.value_and_grad, w0, X, y)
        runners[f"hand_full_batch_{n}"] = call_runner(hand["vg"], w0, X, y)
    print(f"    final w agrees with hand-written: {agree}", flush=True)
    print("    timing ...", flush=True)
    t = time_round_robin(runners, samples, target_s)
    rows = []
    linearity = {}
    for kind in ("dc_epoch", "hand_epoch", "dc_epoch_sequential", "fs_full_batch", "hand_full_batch"):
        per_row = [t[f"{kind}_{n}"]["median_s"] / n for n in ns]
        linearity[kind] = max(per_row) / min(per_row)
    for n in ns:
        rows.append(
            {
                "N": n,
                **{f"{kind}_s": t[f"{kind}_{n}"]["median_s"] for kind in linearity},
                **{f"{kind}_ns_per_row": t[f"{kind}_{n}"]["median_s"] / n * 1e9 for kind in linearity},
                "dc_over_hand": paired(t, f"dc_epoch_{n}", f"hand_epoch_{n}"),
                "full_batch_dc_over_hand": paired(t, f"fs_full_batch_{n}", f"hand_full_batch_{n}"),
            }
        )
    return {
        "d": D,
        "ns": list(ns),
        "rows": rows,
        "linearity_max_over_min_per_row": linearity,
        "dc_epoch_step_ratios": {
            f"{b:.0e}/{a:.0e}": (t[f"dc_epoch_{b}"]["median_s"] / b) / (t[f"dc_epoch_{a}"]["median_s"] / a)
            for a, b in pairwise(ns)
        },
        "max_rel_diff_dc_vs_hand": agree,
        "agree": all(v <= RTOL for v in agree.values()),
        "times": t,
    }


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _ms(t: dict[str, Any] | None) -> str:
    if t is None:
        return "-"
    s = t["median_s"] * 1e3
    return f"{s:.3g}" if s < 1000 else f"{s:,.0f}"


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _status(x: float | None, target: float) -> str:
    if x is None:
        return "-"
    return "met" if x <= target else f"**not met** ({(x / target - 1) * 100:.0f}% over)"


def evaluate_targets(res: dict[str, Any]) -> list[dict[str, str]]:
    fb, sg, sw = res["full_batch"], res["sgd"], res["sweep"]
    out = []
    for key, label in (("fs_over_hand", "`obj.value_and_grad(w)`"), ("fs_module_over_hand", "`m.value_and_grad`")):
        x = fb["ratios"][key]
        out.append(
            {
                "target": f"full batch N=10^5 d=100: finite_sum {label} / hand-written ≤ {TARGETS['fs_over_hand']}",
                "result": _r(x),
                "status": _status(x, TARGETS["fs_over_hand"]),
            }
        )
    x = sg["ratios"]["dc_epoch_over_hand"]
    out.append(
        {
            "target": f"SGD epoch (batch 32): `m.sgd_epoch` / hand-written ≤ {TARGETS['sgd_epoch_over_hand']}",
            "result": _r(x),
            "status": _status(x, TARGETS["sgd_epoch_over_hand"]),
        }
    )
    lin = sw["linearity_max_over_min_per_row"]
    ns = sw["ns"]
    out.append(
        {
            "target": f"time per epoch linear in N ({ns[0]:.0e} to {ns[-1]:.0e}): per-row time max / min",
            "result": f"{lin['dc_epoch']:.2f} shuffled; {lin['dc_epoch_sequential']:.2f} in storage order; "
            f"hand-written shuffled {lin['hand_epoch']:.2f}",
            "status": "reported",
        }
    )
    out.append(
        {
            "target": "all contenders agree before timing (relative difference ≤ 1e-9)",
            "result": str(fb["agree"] and sg["agree"] and sw["agree"]),
            "status": "met" if fb["agree"] and sg["agree"] and sw["agree"] else "**not met**",
        }
    )
    return out


def render_markdown(res: dict[str, Any]) -> str:
    mi = res["machine"]
    st = res["settings"]
    fb, sg, sw = res["full_batch"], res["sgd"], res["sweep"]
    t, r = fb["times"], fb["ratios"]
    L = [
        "# dcompile finite-sum benchmark (issue 5)",
        "",
        f"Command to reproduce (from the repository root): `{mi['command']}`",
        "",
        f"- date: {mi['date']}",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); shared with other benchmarks running "
        "at the same time: absolute times are noisy, ratios are measured round-robin in one run",
        f"- python {mi['python']}, numba {mi['numba']} ({fb['numba_threads']} threads), numpy {mi['numpy']}, "
        f"jax {mi['jax']}, dcompile {mi['dcompile']} (git {mi['git_commit']})",
        f"- timing: per-call time = median over {st['samples']} samples of >= {st['target_s']} s each "
        "(each after one untimed call), contenders round-robin in one process; ratios = median over samples of "
        "the per-sample ratio" + ("; **quick run**" if st["quick"] else ""),
        "- loss of one sample: `np.logaddexp(0.0, -y * (x @ w))`, X Gaussian, y = ±1. Hand-written numba: plain "
        "`@njit` (no fastmath, no parallel), a loop over rows with two inner loops (dot product, then axpy into "
        "the gradient). JAX: x64, inputs already JAX arrays, `block_until_ready` on every call (XLA may use both "
        "cores; the serial numba loops use one).",
        "",
        f"## 1. Full-batch value and gradient, N = {fb['N']:.0e}, d = {fb['d']}",
        "",
        "| contender | ms per call | / hand-written | first call (s) | max rel. diff vs hand |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "fs": "`dc.finite_sum` serial, `obj.value_and_grad(w)`",
        "fs_module": "`dc.finite_sum` serial, generated `m.value_and_grad(w, X, y)`",
        "fs_parallel": f"`dc.finite_sum(parallel=True)` ({fb['numba_threads']} threads, 64 row blocks)",
        "array": "array formulation `dc.value_and_grad(np.sum(np.logaddexp(0, -y * (X @ w))))`",
        "hand": "hand-written numba loop (dot loop, axpy loop)",
        "hand_dot": "hand-written numba loop, `np.dot(X[i], w)` for the dot (reference)",
        "hand_parallel": f"hand-written numba loop, `prange` over 64 row blocks ({fb['numba_threads']} threads)",
        "jax": "JAX `jit(value_and_grad)`",
    }
    for k, label in labels.items():
        if k not in t:
            continue
        ratio = 1.0 if k == "hand" else paired(t, k, "hand")
        L.append(
            f"| {label} | {_ms(t[k])} | {_r(ratio)} | {fb['compile_s'][k]:.2f} | {fb['max_rel_diff_vs_hand'][k]:.1e} |"
        )
    L += [
        "",
        f"finite_sum / array formulation: {_r(r['fs_over_array'])}; finite_sum / JAX: {_r(r['fs_over_jax'])}; "
        f"hand-written / JAX: {_r(r['hand_over_jax'])}. First call of the serial object includes compiling the "
        "per-sample kernels and the generated module (fresh cache directory).",
        "",
        f"Parallel / serial: {_r(r['fs_parallel_over_fs'])} for `dc.finite_sum`, "
        f"{_r(r['hand_parallel_over_hand'])} for the hand-written `prange` loop (dc parallel / hand parallel: "
        f"{_r(r['fs_parallel_over_hand_parallel'])}). The load average was {res['load_avg'][0]} at the start of "
        f"the run and {res['load_avg'][1]} at the end on {mi['cores']} cores: with the cores already "
        "oversubscribed by other processes, a second thread cannot speed anything up, and the parallel figures "
        "say nothing about a quiet machine.",
        "",
        f"## 2. One SGD epoch, batch {sg['batch']}, step {sg['step']}, N = {sg['N']:.0e}, d = {sg['d']} "
        f"({sg['batches']} steps)",
        "",
        "`dc.finite_sum(nll_one, data=(X, y), mean=True)`; the same permutation (the one `dc.sgd(seed=0)` draws) "
        "and step array for every contender, each call restarting from the same w0.",
        "",
        "| contender | ms per epoch | / hand-written | first call (s) | final w: max rel. diff vs hand |",
        "|---|---|---|---|---|",
    ]
    t2 = sg["times"]
    labels2 = {
        "dc_epoch": "generated `m.sgd_epoch` (fixed permutation and steps)",
        "hand_epoch": "hand-written numba epoch (dot loop, axpy loop)",
        "hand_epoch_dot": "hand-written numba epoch, `np.dot(X[i], w)` for the dot (reference)",
        "jax_epoch": "JAX `jit(lax.scan)` over batches",
        "dc_sgd": "`dc.sgd(obj, w0, epochs=1, history=False)` wall time",
    }
    for k, label in labels2.items():
        if k not in t2:
            continue
        ratio = 1.0 if k == "hand_epoch" else paired(t2, k, "hand_epoch")
        L.append(
            f"| {label} | {_ms(t2[k])} | {_r(ratio)} | {sg['compile_s'][k]:.2f} | {sg['max_rel_diff_vs_hand'][k]:.1e} |"
        )
    ps = sg["parts_s"]
    L += [
        "",
        f"One epoch moves w by {sg['w_moved']:.2g} (relative), so the agreement is not trivial. "
        f"`dc.sgd` / `m.sgd_epoch`: {_r(sg['ratios']['dc_sgd_over_dc_epoch'])}. Besides the epoch, `dc.sgd` "
        f"draws the permutation ({ps['permutation'] * 1e3:.2g} ms here) and, even with `history=False`, "
        f"evaluates the full objective at `x` and at `x_avg` on return (`m.value`: {ps['full_value'] * 1e3:.3g} ms "
        "each).",
        "",
        f"## 3. Time per epoch as N grows (d = {sw['d']})",
        "",
        "SGD epoch, batch 32, mean loss; shuffled = the seeded permutation, storage order = `np.arange(N)` "
        "(the same loop, rows visited in memory order). The data sets are the leading rows of one "
        f"{max(sw['ns']):.0e} x {sw['d']} array.",
        "",
        "| N | dc epoch shuffled (ms) | ns / row | hand epoch shuffled (ms) | ns / row | dc / hand | "
        "dc epoch storage order (ms) | ns / row | full batch `m.value_and_grad` (ms) | ns / row | "
        "full batch hand-written (ms) | ns / row | full batch dc / hand |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sw["rows"]:
        L.append(
            f"| {row['N']:.0e} | {row['dc_epoch_s'] * 1e3:.3g} | {row['dc_epoch_ns_per_row']:.0f} | "
            f"{row['hand_epoch_s'] * 1e3:.3g} | {row['hand_epoch_ns_per_row']:.0f} | {_r(row['dc_over_hand'])} | "
            f"{row['dc_epoch_sequential_s'] * 1e3:.3g} | {row['dc_epoch_sequential_ns_per_row']:.0f} | "
            f"{row['fs_full_batch_s'] * 1e3:.3g} | {row['fs_full_batch_ns_per_row']:.0f} | "
            f"{row['hand_full_batch_s'] * 1e3:.3g} | {row['hand_full_batch_ns_per_row']:.0f} | "
            f"{_r(row['full_batch_dc_over_hand'])} |"
        )
    lin = sw["linearity_max_over_min_per_row"]
    L += [
        "",
        "Per-row time, max / min over N: "
        + ", ".join(f"{k} {v:.2f}" for k, v in lin.items())
        + ". Per-row time of the shuffled epoch, each N against the previous: "
        + ", ".join(f"{k}: {v:.2f}" for k, v in sw["dc_epoch_step_ratios"].items())
        + f". dc and hand-written final w agree at every N (max rel. diff "
        f"{max(sw['max_rel_diff_dc_vs_hand'].values()):.1e}). Caches: {res['caches']}; the data are "
        + ", ".join(f"{n * sw['d'] * 8 / 1e6:.0f} MB" for n in sw["ns"])
        + ".",
        "",
        "## Targets",
        "",
        "| target | result | status |",
        "|---|---|---|",
    ]
    for tr in res["targets"]:
        L.append(f"| {tr['target']} | {tr['result']} | {tr['status']} |")
    if res["notes"]:
        L += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    return "\n".join(L) + "\n"


def cache_sizes() -> str:
    """The CPU's cache sizes as Linux reports them (``L1d 48K, L2 2048K, ...``)."""
    out = []
    for d in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (d / "type").read_text().strip()
            if kind == "Instruction":
                continue
            level = (d / "level").read_text().strip()
            out.append(f"L{level}{'d' if kind == 'Data' else ''} {(d / 'size').read_text().strip()}")
        except OSError:
            continue
    return ", ".join(out) or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter samples; sweep to N = 10^5 only")
    ap.add_argument("--no-jax", action="store_true", help="skip JAX even when installed")
    ap.add_argument("--samples", type=int, default=None, help="timing samples per contender (default 9, quick 3)")
    ap.add_argument("--target", type=float, default=None, help="seconds per sample (default 0.3, quick 0.1)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    a = ap.parse_args()
    samples = a.samples or (3 if a.quick else 9)
    target_s = a.target or (0.1 if a.quick else 0.3)
    ns = QUICK_SWEEP_NS if a.quick else SWEEP_NS
    command = " ".join([".venv/bin/python", "benchmarks/bench_finite_sum.py", *sys.argv[1:]])
    t_start = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)

    cache = Path(tempfile.mkdtemp(prefix="dcompile-bench-finite-sum-"))
    os.environ[CACHE_ENV] = str(cache)  # first calls are cold compiles
    print(f"cache dir {cache}", flush=True)
    jax = None if a.no_jax else jax_setup()
    import dcompile as dc

    hand = HAND
    res: dict[str, Any] = {
        "settings": {"quick": a.quick, "samples": samples, "target_s": target_s, "targets": TARGETS, "sweep_ns": ns}
    }
    notes: list[str] = []
    if jax is None:
        notes.append("JAX: not installed or --no-jax; skipped.")
    res["full_batch"] = bench_full_batch(dc, hand, jax, samples, target_s)
    res["sgd"] = bench_sgd(dc, hand, jax, samples, target_s)
    res["sweep"] = bench_sweep(dc, hand, ns, samples, target_s)
    for key in ("full_batch", "sgd"):
        if not res[key]["agree"]:
            notes.append(f"{key}: a contender differs from the hand-written result: {res[key]['max_rel_diff_vs_hand']}")
    if not res["sweep"]["agree"]:
        notes.append(f"sweep: dc and hand-written final w differ: {res['sweep']['max_rel_diff_dc_vs_hand']}")
    res["machine"] = machine_info(command)
    res["load_avg"] = [load_start, round(os.getloadavg()[0], 2)]
    res["caches"] = cache_sizes()
    res["targets"] = evaluate_targets(res)
    res["notes"] = notes
    res["wall_s"] = time.perf_counter() - t_start
    shutil.rmtree(cache, ignore_errors=True)

    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "finite_sum.json").write_text(json.dumps(res, indent=2) + "\n")
    md = render_markdown(res)
    (a.out / "finite_sum.md").write_text(md)
    print(md)
    print(f"wrote {a.out / 'finite_sum.json'} and {a.out / 'finite_sum.md'} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
