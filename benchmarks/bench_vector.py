"""Data-heavy objectives vs XLA: value and gradient per call and inside compiled loops, one thread each.

Rows (float64; every contender's answer against a reference computed in ``np.longdouble`` from
the same float64 inputs):

1. ``mlp_call``: MLP 10 -> 32 tanh -> 1, batch 256, mean squared error, w.r.t. ``(W1, b1, W2, b2)``:
   ``dc.value_and_grad(dc.compile(mlp), wrt=("W1", "b1", "W2", "b2"))`` vs hand-written numba
   (one fused row loop, strict ``@njit`` and ``fastmath=True``; and ``np.dot`` for the products
   with fused elementwise loops) vs ``jax.jit(jax.value_and_grad(...))``.
2. ``mlp_loop``: 100 gradient-descent steps on the MLP in an ``@njit`` loop calling dcompile's
   dispatcher ``vg.njit``, the same loop calling each hand-written gradient, JAX ``jit(lax.fori_loop)``.
3. ``logreg_call``: ``np.sum(np.logaddexp(0.0, -y * (X @ w)))``, N = 10^4, d = 20, per call.
4. ``logreg_loop``: 100 GD steps on it: an ``@njit`` loop calling ``vg.njit``, one calling
   ``vg.njit_into`` (writes the gradient into a buffer, returns the value), the hand-written loops,
   JAX ``jit(lax.fori_loop)``.
5. ``rosen_call``: extended Rosenbrock ``np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)``,
   n = 10^4: dcompile's value and gradient per call, ``vg.njit_into`` called 100 times from an
   ``@njit`` loop (time per call), a hand-written loop computing each ``g[i]`` once (strict and
   ``fastmath=True``), JAX.
6. ``logreg_epoch``: one SGD epoch (batch 32, constant step, fixed permutation) on the logistic loss,
   N = 10^5, d = 20: ``dc.finite_sum(nll_one, data=(X, y), mean=True)``'s generated ``m.sgd_epoch``
   vs the hand-written numba epochs of benchmarks/bench_finite_sum.py (strict, ``fastmath=True``,
   ``np.dot`` per row) vs a JAX ``lax.scan`` epoch. ``mlp_epoch``: the MLP on N = 8192 rows, batch 32:
   an ``@njit`` epoch loop (gathers each batch's rows ``X[order[lo:hi]]``) calling ``vg.njit`` vs the
   same loop calling the hand-written gradients vs JAX ``lax.scan``.

One thread each: ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``,
``OPENBLAS_NUM_THREADS=1`` (and ``OMP``/``MKL``/``NUMBA_NUM_THREADS=1``), set before anything is
imported. dcompile's disk cache goes to a fresh temporary directory, so first calls are cold compiles.

Timing: round-robin in one process (benchmarks/bench_finite_sum.py's ``time_round_robin``); each
sample runs a contender back to back for >= ``--target`` seconds after one untimed call; medians over
samples; ratios are the median of per-sample ratios (to JAX, and to the fastest hand-written numba).

Run from the repository root::

    .venv/bin/python benchmarks/bench_vector.py          # full run (~2.5 minutes)
    .venv/bin/python benchmarks/bench_vector.py --quick  # smoke run (< 1 minute)

Results go to ``benchmarks/results/<--out>.json`` and ``.md`` (default ``vector``).
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402  (the thread settings must come first)
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_finite_sum import (  # noqa: E402
    call_runner,
    hand_sgd_epoch,
    hand_sgd_epoch_dot,
    jax_sgd_epoch,
    logreg_data,
    paired,
    restart_runner,
    time_round_robin,
)
from bench_xla import GD_STEP as LOGREG_STEP  # noqa: E402
from bench_xla import GD_STEPS as STEPS  # noqa: E402
from bench_xla import (  # noqa: E402
    _logreg_blas,
    _logreg_rows,
    _mlp_vg,
    _np,
    gd_loop,
    jax_gd,
    jax_setup,
    nll,
    nll_one,
    ref_gd,
    ref_logreg,
    ref_mlp,
    rel_err,
    vg_err,
    with_jnp,
)
from machine import machine_info  # noqa: E402
from numba import njit  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LD = np.longdouble
MLP_SHAPE = (256, 10, 32)  # batch, inputs, hidden
MLP_LR = 0.05  # GD step (100 steps, full batch of 256)
LOGREG_SIZE = (10**4, 20)
ROSEN_N = 10**4
INTO_REPS = 100  # njit_into calls per timed call of the Rosenbrock loop
EPOCH_LOGREG = (10**5, 20)
EPOCH_MLP_N = 8192
BATCH = 32  # must equal bench_finite_sum.BATCH (its JAX epoch)
SGD_STEP = 0.01
SEED = 0
TARGETS = {
    "mlp_call": 1.0,
    "logreg_call": 0.9,
    "mlp_loop": 1.5,
    "logreg_loop": 1.0,
    "rosen_call": 1.1,
}


# ---------------------------------------------------------------------------
# problems (written with ``np``; JAX rebinds ``np`` to jax.numpy); nll, nll_one from bench_xla
# ---------------------------------------------------------------------------
def mlp(W1, b1, W2, b2, X, y):  # noqa: PLR0917
    h = np.tanh(X @ W1 + b1)
    pred = h @ W2 + b2
    return np.mean((pred - y) ** 2)


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp_data(n: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(2)
    _, d, h = MLP_SHAPE
    W1 = rng.standard_normal((d, h)) / np.sqrt(d)
    b1 = 0.1 * rng.standard_normal(h)
    W2 = rng.standard_normal(h) / np.sqrt(h)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d)) + 0.1 * rng.standard_normal(n)
    return W1, b1, W2, 0.1, X, y


def rosen_data(n: int) -> np.ndarray:
    return 1.0 + 0.5 * np.random.default_rng(3).standard_normal(n)


# ---------------------------------------------------------------------------
# hand-written numba
# ---------------------------------------------------------------------------
def _mlp_rows(W1, b1, W2, b2, X, y):  # noqa: PLR0917
    """One loop over rows, no BLAS: forward and backward of each row in a hidden-size buffer."""
    n, d = X.shape
    nh = W1.shape[1]
    gW1 = np.zeros((d, nh))
    gb1 = np.zeros(nh)
    gW2 = np.zeros(nh)
    a = np.empty(nh)
    scale = 1.0 / n
    loss = 0.0
    gb2 = 0.0
    for i in range(n):
        for j in range(nh):
            a[j] = b1[j]
        for k in range(d):
            xik = X[i, k]
            for j in range(nh):
                a[j] += xik * W1[k, j]
        p = b2
        for j in range(nh):
            hj = np.tanh(a[j])
            a[j] = hj
            p += hj * W2[j]
        r = p - y[i]
        loss += r * r
        dp = 2.0 * r * scale
        gb2 += dp
        for j in range(nh):
            hj = a[j]
            gW2[j] += hj * dp
            dj = dp * W2[j] * (1.0 - hj * hj)
            a[j] = dj
            gb1[j] += dj
        for k in range(d):
            xik = X[i, k]
            for j in range(nh):
                gW1[k, j] += xik * a[j]
    return loss * scale, (gW1, gb1, gW2, gb2)


def _rosen_vg(x):
    """One loop, each ``g[i]`` written once: its own term plus the carried term of ``x[i - 1]``."""
    n = x.shape[0]
    g = np.empty(n)
    f = 0.0
    carry = 0.0  # 200 (x[i] - x[i-1]^2), the derivative of the previous term w.r.t. x[i]
    for i in range(n - 1):
        xi = x[i]
        t = x[i + 1] - xi * xi
        u = 1.0 - xi
        f += 100.0 * t * t + u * u
        g[i] = carry - 400.0 * xi * t - 2.0 * u
        carry = 200.0 * t
    g[n - 1] = carry
    return f, g


HAND = {
    "mlp_strict": njit(_mlp_rows),
    "mlp_fastmath": njit(fastmath=True)(_mlp_rows),
    "mlp_blas": njit(_mlp_vg),
    "logreg_strict": njit(_logreg_rows),
    "logreg_fastmath": njit(fastmath=True)(_logreg_rows),
    "logreg_blas": njit(_logreg_blas),
    "rosen_strict": njit(_rosen_vg),
    "rosen_fastmath": njit(fastmath=True)(_rosen_vg),
    "epoch_strict": hand_sgd_epoch,
    "epoch_fastmath": njit(fastmath=True)(hand_sgd_epoch.py_func),
    "epoch_blas": hand_sgd_epoch_dot,
}


# ---------------------------------------------------------------------------
# compiled loops (each takes the value-and-gradient dispatcher as its first argument)
# ---------------------------------------------------------------------------
@njit
def _mlp_update(W1, b1, W2, b2, g, lr):  # noqa: PLR0917
    gW1, gb1, gW2, gb2 = g
    for k in range(W1.shape[0]):
        for j in range(W1.shape[1]):
            W1[k, j] -= lr * gW1[k, j]
    for j in range(b1.shape[0]):
        b1[j] -= lr * gb1[j]
        W2[j] -= lr * gW2[j]
    return b2 - lr * gb2


@njit
def mlp_gd_loop(vg, W1, b1, W2, b2, X, y, steps, lr):  # noqa: PLR0917
    """``steps`` fixed-step GD steps on all four parameters, from copies of the inputs."""
    W1, b1, W2 = W1.copy(), b1.copy(), W2.copy()
    for _ in range(steps):
        _, g = vg(W1, b1, W2, b2, X, y)
        b2 = _mlp_update(W1, b1, W2, b2, g, lr)
    return W1, b1, W2, b2


@njit
def mlp_epoch_loop(vg, W1, b1, W2, b2, X, y, order, batch, lr):  # noqa: PLR0917
    """One SGD epoch over ``order``: gather each batch's rows, mean-loss gradient, fixed step."""
    W1, b1, W2 = W1.copy(), b1.copy(), W2.copy()
    for b in range(order.shape[0] // batch):
        idx = order[b * batch : (b + 1) * batch]
        _, g = vg(W1, b1, W2, b2, X[idx], y[idx])
        b2 = _mlp_update(W1, b1, W2, b2, g, lr)
    return W1, b1, W2, b2


@njit
def gd_loop_into(vg_into, w0, X, y, steps, step):  # noqa: PLR0917
    """As bench_xla's ``gd_loop`` with the allocation-free ``vg_into(out, w, X, y)``."""
    w = w0.copy()
    g = np.empty_like(w)
    for _ in range(steps):
        vg_into(g, w, X, y)
        for j in range(w.shape[0]):
            w[j] -= step * g[j]
    return w


@njit
def repeat_into(vg_into, out, x, reps):
    """``reps`` calls of ``vg_into(out, x)``; returns the last value (the gradient is in ``out``)."""
    f = 0.0
    for _ in range(reps):
        f = vg_into(out, x)
    return f


# ---------------------------------------------------------------------------
# references in long double
# ---------------------------------------------------------------------------
def ref_rosen(x: np.ndarray) -> tuple[Any, np.ndarray]:
    x = x.astype(LD)
    t = x[1:] - x[:-1] ** 2
    u = 1 - x[:-1]
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * t - 2 * u
    g[1:] += 200 * t
    return np.sum(100 * t * t + u * u), g


def _ld_step(p: tuple[Any, ...], X: np.ndarray, y: np.ndarray, lr: Any) -> tuple[Any, ...]:
    _, g = ref_mlp(*p, X, y)
    return tuple(a - lr * b for a, b in zip(p, g, strict=True))


def ref_mlp_gd(W1, b1, W2, b2, X, y, steps: int, lr: float) -> tuple[Any, ...]:  # noqa: PLR0917
    p = (W1.astype(LD), b1.astype(LD), W2.astype(LD), LD(b2))
    for _ in range(steps):
        p = _ld_step(p, X, y, LD(lr))
    return p


def ref_mlp_epoch(W1, b1, W2, b2, X, y, order, batch, lr) -> tuple[Any, ...]:  # noqa: PLR0917
    p = (W1.astype(LD), b1.astype(LD), W2.astype(LD), LD(b2))
    for b in range(order.size // batch):
        idx = order[b * batch : (b + 1) * batch]
        p = _ld_step(p, X[idx], y[idx], LD(lr))
    return p


def ref_logreg_epoch(w0: np.ndarray, X: np.ndarray, y: np.ndarray, order: np.ndarray, batch: int, lr: float):  # noqa: PLR0917
    w = w0.astype(LD)
    for b in range(order.size // batch):
        idx = order[b * batch : (b + 1) * batch]
        XL, yL = X[idx].astype(LD), y[idx].astype(LD)
        m = -yL * (XL @ w)
        w = w - LD(lr) * (XL.T @ (-yL / (1 + np.exp(-m)))) / idx.size
    return w


def parts_err(r: Any, ref: Any) -> dict[str, float]:
    """Largest relative error over the parts of a parameter tuple (or of one array)."""
    if not isinstance(ref, tuple):
        return {"params": rel_err(r, ref)}
    return {"params": max(rel_err(np.asarray(a), b) for a, b in zip(r, ref, strict=True))}


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------
def jax_mlp_gd(jax: Any, steps: int, lr: float) -> Any:
    g = jax.grad(with_jnp(mlp), argnums=(0, 1, 2, 3))

    def run(W1, b1, W2, b2, X, y):  # noqa: PLR0917
        def body(_, p):
            return tuple(a - lr * b for a, b in zip(p, g(*p, X, y), strict=True))

        return jax.lax.fori_loop(0, steps, body, (W1, b1, W2, b2))

    return jax.jit(run)


def jax_mlp_epoch(jax: Any, lr: float) -> Any:
    g = jax.grad(with_jnp(mlp), argnums=(0, 1, 2, 3))

    def epoch(W1, b1, W2, b2, X, y, order2d):  # noqa: PLR0917
        def body(p, idx):
            return tuple(a - lr * b for a, b in zip(p, g(*p, X[idx], y[idx]), strict=True)), None

        p, _ = jax.lax.scan(body, (W1, b1, W2, b2), order2d)
        return p

    return jax.jit(epoch)


def jnp_args(*args: Any) -> tuple[Any, ...]:
    import jax.numpy as jnp

    return tuple(jnp.asarray(a) for a in args)


# ---------------------------------------------------------------------------
# the measurement
# ---------------------------------------------------------------------------
# a contender: fn, args (or lazy_args), block; optional runner, reps, setup_s (extra first-call seconds),
# result (maps the first call's return to what the error is computed on)
Call = dict[str, Any]


def contender(fn: Any, args: tuple[Any, ...] = (), *, block: Any = None, **kw: Any) -> Call:
    return {"fn": fn, "args": args, "block": block, **kw}


def measure(
    name: str, calls: dict[str, Call], err_of: Any, info: dict[str, Any], *, samples: int, target: float
) -> dict[str, Any]:
    """First call (and error), then round-robin timing; per-call times divided by each one's ``reps``."""
    first, err = {}, {}
    for k, c in calls.items():
        t = time.perf_counter()
        if "lazy_args" in c:  # arguments that compile (a dispatcher fetched after an earlier contender ran)
            c["args"] = c["lazy_args"]()
        r = c["fn"](*c["args"])
        if c["block"] is not None:
            c["block"](r)
        first[k] = time.perf_counter() - t + c.get("setup_s", 0.0)
        r = _np(r)
        if "result" in c:  # the answer lives in a buffer (in-place epoch, njit_into)
            r = c["result"](r)
        err[k] = err_of(r)
    print(f"    errors vs long double: {err}", flush=True)
    runners = {k: c.get("runner") or call_runner(c["fn"], *c["args"], block=c["block"]) for k, c in calls.items()}
    t = time_round_robin(runners, samples, target)
    for k, c in calls.items():
        reps = c.get("reps", 1)
        if reps != 1:
            tk = t[k]
            tk["runs_s"] = [x / reps for x in tk["runs_s"]]
            for s in ("median_s", "min_s", "max_s"):
                tk[s] /= reps
            tk["reps_per_call"] = reps
    jax_key = next((k for k in calls if k.startswith("jax")), None)
    hands = [k for k in calls if k.startswith("hand")]
    best_hand = min(hands, key=lambda k: t[k]["median_s"]) if hands else None
    over_jax = {k: paired(t, k, jax_key) for k in calls if jax_key and k != jax_key}
    over_hand = {k: paired(t, k, best_hand) for k in calls if best_hand and k != best_hand}
    for k in calls:
        print(
            f"    {k:22s} {t[k]['median_s'] * 1e3:9.4f} ms  / jax {_r(over_jax.get(k))}  "
            f"/ best hand {_r(over_hand.get(k))}",
            flush=True,
        )
    return {
        "name": name,
        **info,
        "first_call_s": first,
        "rel_err_vs_longdouble": err,
        "times": t,
        "jax_key": jax_key,
        "best_hand": best_hand,
        "over_jax": over_jax,
        "over_best_hand": over_hand,
    }


def bench_mlp_call(dc: Any, jax: Any, samples: int, target: float) -> tuple[dict[str, Any], Any]:
    b, d, h = MLP_SHAPE
    print(f"[1 mlp_call] batch {b}, {d} -> {h} tanh -> 1", flush=True)
    args = mlp_data(b)
    vg = dc.value_and_grad(dc.compile(mlp), wrt=("W1", "b1", "W2", "b2"))
    calls = {
        "dc": contender(vg, args),
        "hand_strict": contender(HAND["mlp_strict"], args),
        "hand_fastmath": contender(HAND["mlp_fastmath"], args),
        "hand_blas": contender(HAND["mlp_blas"], args),
    }
    if jax is not None:
        jf = jax.jit(jax.value_and_grad(with_jnp(mlp), argnums=(0, 1, 2, 3)))
        calls["jax"] = contender(jf, jnp_args(*args), block=jax.block_until_ready)
    ref = ref_mlp(*args)
    res = measure(
        "mlp_call",
        calls,
        lambda r: vg_err(r, ref),
        {"batch": b, "d_in": d, "hidden": h},
        samples=samples,
        target=target,
    )
    return res, vg


def bench_mlp_loop(vg: Any, jax: Any, samples: int, target: float) -> dict[str, Any]:
    b, d, h = MLP_SHAPE
    print(f"[2 mlp_loop] {STEPS} GD steps, batch {b}, {d} -> {h} -> 1", flush=True)
    args = mlp_data(b)
    tail = (STEPS, MLP_LR)
    calls = {
        "dc_njit_loop": contender(mlp_gd_loop, lazy_args=lambda: (vg.njit, *args, *tail)),
        "hand_strict_loop": contender(mlp_gd_loop, (HAND["mlp_strict"], *args, *tail)),
        "hand_fastmath_loop": contender(mlp_gd_loop, (HAND["mlp_fastmath"], *args, *tail)),
        "hand_blas_loop": contender(mlp_gd_loop, (HAND["mlp_blas"], *args, *tail)),
    }
    if jax is not None:
        calls["jax_fori_loop"] = contender(jax_mlp_gd(jax, *tail), jnp_args(*args), block=jax.block_until_ready)
    ref = ref_mlp_gd(*args, *tail)
    info = {"batch": b, "d_in": d, "hidden": h, "steps": STEPS, "lr": MLP_LR}
    return measure("mlp_loop", calls, lambda r: parts_err(r, ref), info, samples=samples, target=target)


def bench_logreg_call(dc: Any, jax: Any, samples: int, target: float) -> tuple[dict[str, Any], Any]:
    n, d = LOGREG_SIZE
    print(f"[3 logreg_call] N={n} d={d}", flush=True)
    w, X, y = logreg_data(n, d)
    vg = dc.value_and_grad(dc.compile(nll), wrt="w")
    args = (w, X, y)
    calls = {
        "dc": contender(vg, args),
        "hand_strict": contender(HAND["logreg_strict"], args),
        "hand_fastmath": contender(HAND["logreg_fastmath"], args),
        "hand_blas": contender(HAND["logreg_blas"], args),
    }
    if jax is not None:
        jf = jax.jit(jax.value_and_grad(with_jnp(nll)))
        calls["jax"] = contender(jf, jnp_args(*args), block=jax.block_until_ready)
    ref = ref_logreg(*args)
    return measure("logreg_call", calls, lambda r: vg_err(r, ref), {"N": n, "d": d}, samples=samples, target=target), vg


def bench_logreg_loop(vg: Any, jax: Any, samples: int, target: float) -> dict[str, Any]:
    n, d = LOGREG_SIZE
    print(f"[4 logreg_loop] {STEPS} GD steps, N={n} d={d}", flush=True)
    w0, X, y = logreg_data(n, d)
    tail = (STEPS, LOGREG_STEP)
    calls = {
        "dc_njit_loop": contender(gd_loop, lazy_args=lambda: (vg.njit, w0, X, y, *tail)),
        "dc_njit_into_loop": contender(gd_loop_into, lazy_args=lambda: (vg.njit_into, w0, X, y, *tail)),
        "hand_strict_loop": contender(gd_loop, (HAND["logreg_strict"], w0, X, y, *tail)),
        "hand_fastmath_loop": contender(gd_loop, (HAND["logreg_fastmath"], w0, X, y, *tail)),
        "hand_blas_loop": contender(gd_loop, (HAND["logreg_blas"], w0, X, y, *tail)),
    }
    if jax is not None:
        calls["jax_fori_loop"] = contender(jax_gd(jax), jnp_args(w0, X, y), block=jax.block_until_ready)
    ref = ref_gd(w0, X, y)
    info = {"N": n, "d": d, "steps": STEPS, "step": LOGREG_STEP}
    return measure("logreg_loop", calls, lambda r: parts_err(r, ref), info, samples=samples, target=target)


def bench_rosen(dc: Any, jax: Any, samples: int, target: float) -> dict[str, Any]:
    print(f"[5 rosen_call] n={ROSEN_N}", flush=True)
    x = rosen_data(ROSEN_N)
    vg = dc.value_and_grad(dc.compile(rosen))
    out = np.empty(ROSEN_N)
    calls = {
        "dc": contender(vg, (x,)),
        "dc_njit_into_loop": contender(
            repeat_into,
            lazy_args=lambda: (vg.njit_into, out, x, INTO_REPS),
            reps=INTO_REPS,
            result=lambda f: (f, out.copy()),
        ),
        "hand_strict": contender(HAND["rosen_strict"], (x,)),
        "hand_fastmath": contender(HAND["rosen_fastmath"], (x,)),
    }
    if jax is not None:
        jf = jax.jit(jax.value_and_grad(with_jnp(rosen)))
        calls["jax"] = contender(jf, jnp_args(x), block=jax.block_until_ready)
    ref = ref_rosen(x)
    res = measure("rosen_call", calls, lambda r: vg_err(r, ref), {"n": ROSEN_N}, samples=samples, target=target)
    res["note"] = (
        "dc_njit_into_loop's first call includes compiling dc's value-and-gradient (the `dc` row already traced "
        "and derived it) and the into variant"
    )
    return res


def bench_logreg_epoch(dc: Any, jax: Any, samples: int, target: float) -> dict[str, Any]:
    n, d = EPOCH_LOGREG
    print(f"[6a logreg_epoch] one SGD epoch, batch {BATCH}, N={n} d={d}", flush=True)
    w0, X, y = logreg_data(n, d)
    order = np.random.default_rng(SEED).permutation(n)
    steps = np.full(n // BATCH, SGD_STEP)
    obj = dc.finite_sum(dc.compile(nll_one), data=(X, y), mean=True)
    t0 = time.perf_counter()
    m = obj.module(w0)
    module_s = time.perf_counter() - t0
    bufs = {k: (w0.copy(), np.empty(d)) for k in ("dc", "strict", "fastmath", "blas")}
    w_dc, g_dc = bufs["dc"]
    vel, avg = np.zeros(d), np.zeros(d)
    dc_epoch = partial(m.sgd_epoch, w_dc, vel, avg, g_dc, order, BATCH, steps, 0.0, 0, X, y)
    calls = {
        "dc_epoch": contender(
            dc_epoch, setup_s=module_s, runner=restart_runner(dc_epoch, w_dc, w0), result=lambda _: w_dc.copy()
        )
    }
    for kind in ("strict", "fastmath", "blas"):
        w, g = bufs[kind]
        fn = partial(HAND[f"epoch_{kind}"], w, g, order, BATCH, steps, X, y)
        calls[f"hand_{kind}_epoch"] = contender(fn, runner=restart_runner(fn, w, w0), result=lambda _, w=w: w.copy())
    if jax is not None:
        je = jax_sgd_epoch(jax)
        jargs = jnp_args(w0, X, y, order.reshape(-1, BATCH), steps)
        calls["jax_scan_epoch"] = contender(je, jargs, block=jax.block_until_ready)
    ref = ref_logreg_epoch(w0, X, y, order, BATCH, SGD_STEP)
    info = {"N": n, "d": d, "batch": BATCH, "step": SGD_STEP, "batches": n // BATCH}
    res = measure("logreg_epoch", calls, lambda r: parts_err(r, ref), info, samples=samples, target=target)
    res["note"] = (
        "dc_epoch: `dc.finite_sum(nll_one, data=(X, y), mean=True).module(w0).sgd_epoch(...)`, first call "
        "includes `obj.module(w0)`; hand_fastmath_epoch calls the strict `loss_and_slope` helper"
    )
    return res


def bench_mlp_epoch(dc: Any, jax: Any, samples: int, target: float) -> dict[str, Any]:
    _, d, h = MLP_SHAPE
    n = EPOCH_MLP_N
    print(f"[6b mlp_epoch] one SGD epoch, batch {BATCH}, N={n}, {d} -> {h} -> 1", flush=True)
    W1, b1, W2, b2, X, y = mlp_data(n)
    order = np.random.default_rng(SEED).permutation(n)
    vg = dc.value_and_grad(dc.compile(mlp), wrt=("W1", "b1", "W2", "b2"))
    tail = (order, BATCH, SGD_STEP)

    def dc_args() -> tuple[Any, ...]:
        vg(W1, b1, W2, b2, X[:BATCH], y[:BATCH])  # compile for the batch shape; .njit is that dispatcher
        return (vg.njit, W1, b1, W2, b2, X, y, *tail)

    calls = {"dc_njit_epoch": contender(mlp_epoch_loop, lazy_args=dc_args)}
    for kind in ("strict", "fastmath", "blas"):
        calls[f"hand_{kind}_epoch"] = contender(mlp_epoch_loop, (HAND[f"mlp_{kind}"], W1, b1, W2, b2, X, y, *tail))
    if jax is not None:
        je = jax_mlp_epoch(jax, SGD_STEP)
        calls["jax_scan_epoch"] = contender(
            je, jnp_args(W1, b1, W2, b2, X, y, order.reshape(-1, BATCH)), block=jax.block_until_ready
        )
    ref = ref_mlp_epoch(W1, b1, W2, b2, X, y, order, BATCH, SGD_STEP)
    info = {"N": n, "d_in": d, "hidden": h, "batch": BATCH, "step": SGD_STEP, "batches": n // BATCH}
    res = measure("mlp_epoch", calls, lambda r: parts_err(r, ref), info, samples=samples, target=target)
    res["note"] = "dc_njit_epoch's first call includes tracing, deriving and compiling for the batch-32 shapes"
    return res


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
SECTIONS = {
    "mlp_call": ("1. MLP 10 -> 32 tanh -> 1, batch 256, value and gradient", 1e-6, "µs per call"),
    "mlp_loop": ("2. MLP, 100 GD steps inside a compiled loop", 1e-3, "ms per 100 steps"),
    "logreg_call": ("3. Logistic NLL, N = 10^4, d = 20, value and gradient", 1e-6, "µs per call"),
    "logreg_loop": ("4. Logistic NLL, 100 GD steps inside a compiled loop", 1e-3, "ms per 100 steps"),
    "rosen_call": ("5. Extended Rosenbrock, n = 10^4, value and gradient", 1e-6, "µs per call"),
    "logreg_epoch": ("6a. One SGD epoch, logistic, N = 10^5, d = 20, batch 32", 1e-3, "ms per epoch"),
    "mlp_epoch": ("6b. One SGD epoch, MLP 10 -> 32 -> 1, N = 8192, batch 32", 1e-3, "ms per epoch"),
}

LABELS = {
    "dc": "dcompile `dc.value_and_grad(dc.compile(f))`",
    "hand_strict": "hand numba, loops, strict `@njit`",
    "hand_fastmath": "hand numba, loops, `fastmath=True`",
    "hand_blas": "hand numba, `np.dot` products + fused loops (strict)",
    "jax": "JAX `jit(value_and_grad)`",
    "dc_njit_loop": "`@njit` loop calling dcompile's `vg.njit`",
    "dc_njit_into_loop": "`@njit` loop calling dcompile's `vg.njit_into(out, ...)`",
    "hand_strict_loop": "`@njit` loop calling hand strict loops",
    "hand_fastmath_loop": "`@njit` loop calling hand `fastmath=True` loops",
    "hand_blas_loop": "`@njit` loop calling hand `np.dot` version",
    "jax_fori_loop": "JAX `jit(lax.fori_loop)`",
    "dc_epoch": "dcompile `dc.finite_sum(..., mean=True)` generated `m.sgd_epoch`",
    "dc_njit_epoch": "`@njit` epoch loop calling dcompile's `vg.njit` on gathered batches",
    "hand_strict_epoch": "hand numba epoch, strict",
    "hand_fastmath_epoch": "hand numba epoch, `fastmath=True`",
    "hand_blas_epoch": "hand numba epoch, `np.dot` products",
    "jax_scan_epoch": "JAX `jit(lax.scan)` over batches",
}


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _fmt_err(e: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1e}" for k, v in e.items())


def table(res: dict[str, Any], unit: float, unit_name: str) -> list[str]:
    L = [
        f"| contender | {unit_name} | / JAX | / best hand | first call (s) | rel. error vs long double |",
        "|---|---|---|---|---|---|",
    ]
    for k, tk in res["times"].items():
        label = LABELS[k] + (f" (x{tk['reps_per_call']} in one loop, per call)" if "reps_per_call" in tk else "")
        if k == res["best_hand"]:
            label += " **(best hand)**"
        oj = "1.00" if k == res["jax_key"] else _r(res["over_jax"].get(k))
        oh = "1.00" if k == res["best_hand"] else _r(res["over_best_hand"].get(k))
        L.append(
            f"| {label} | {tk['median_s'] / unit:.4g} | {oj} | {oh} | {res['first_call_s'][k]:.2f} | "
            f"{_fmt_err(res['rel_err_vs_longdouble'][k])} |"
        )
    return L


def evaluate_targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        ("mlp_call", "dc", "over_jax", "MLP per call: dc / JAX"),
        ("logreg_call", "dc", "over_jax", "logistic per call: dc / JAX"),
        ("mlp_loop", "dc_njit_loop", "over_jax", "MLP 100 GD steps: dc `vg.njit` loop / JAX fori_loop"),
        ("logreg_loop", "dc_njit_loop", "over_jax", "logistic 100 GD steps: dc `vg.njit` loop / JAX fori_loop"),
        ("logreg_loop", "dc_njit_into_loop", "over_jax", "logistic 100 GD steps: dc `njit_into` loop / JAX fori_loop"),
        ("rosen_call", "dc", "over_fastmath", "Rosenbrock per call: dc / hand fastmath"),
        ("rosen_call", "dc_njit_into_loop", "over_fastmath", "Rosenbrock: dc `njit_into` (in loop) / hand fastmath"),
        ("rosen_call", "dc", "over_best_hand", "Rosenbrock per call: dc / best hand (reported, no target)"),
    ]
    out = []
    for sec, key, kind, label in rows:
        s = res.get(sec)
        if s is None:
            continue
        if kind == "over_best_hand":
            x = s["over_best_hand"].get(key)
            out.append({"target": f"{label}: {s['best_hand']}", "section": sec, "contender": key, "result": x})
            out[-1]["status"] = "reported"
            continue
        x = paired(s["times"], key, "hand_fastmath") if kind == "over_fastmath" else s["over_jax"].get(key)
        lim = TARGETS[sec]
        status = "-" if x is None else ("met" if x <= lim else "not met")
        out.append({"target": f"{label} ≤ {lim}", "section": sec, "contender": key, "result": x, "status": status})
    return out


def targets_block(targets: list[dict[str, Any]]) -> list[str]:
    L = ["| target | result | status |", "|---|---|---|"]
    for t in targets:
        st = t["status"] if t["status"] != "not met" else "**not met**"
        L.append(f"| {t['target']} | {_r(t['result'])} | {st} |")
    return L


def render(res: dict[str, Any]) -> str:
    mi = res["machine"]
    st = res["settings"]
    L = [
        "# Data-heavy objectives vs XLA: per call and inside compiled loops, one thread each",
        "",
        f"Command to reproduce (from the repository root): `{mi['command']}`",
        "",
        f"- date: {mi['date']}",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); **shared and busy** (load average "
        f"{res['load_avg'][0]} at the start, {res['load_avg'][1]} at the end): absolute times are noisy, "
        "ratios are measured round-robin in one run",
        f"- python {mi['python']}, numba {mi['numba']}, numpy {mi['numpy']}, jax {mi['jax']}, "
        f"dcompile {mi['dcompile']} (git {mi['git_commit']}, imported from `{res['dcompile_file']}`)",
        "- one thread each: `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`, "
        "`OPENBLAS_NUM_THREADS=1`, `NUMBA_NUM_THREADS=1`, set before import; JAX x64, inputs already JAX "
        "arrays, `block_until_ready` on every call; dcompile cache in a fresh temporary directory",
        f"- timing: median over {st['samples']} samples of >= {st['target_s']} s, round-robin; `/ JAX` and "
        "`/ best hand` = median of per-sample ratios (< 1: faster); best hand = the fastest hand-written numba "
        "contender of the row" + ("; **quick run**" if st["quick"] else ""),
        "- error: max |x - ref| / max |ref| of the value and (worst part of) the gradient, or of the final "
        "parameters for loops and epochs; ref computed in `np.longdouble` from the same float64 inputs",
        "",
        "## Targets",
        "",
        *targets_block(res["targets"]),
        "",
    ]
    for sec, (title, unit, unit_name) in SECTIONS.items():
        if sec not in res:
            continue
        L += [f"## {title}", "", *table(res[sec], unit, unit_name), ""]
        if "note" in res[sec]:
            L += [f"Note: {res[sec]['note']}.", ""]
    if res["notes"]:
        L += ["## Notes", "", *[f"- {n}" for n in res["notes"]], ""]
    return "\n".join(L)


def dcompile_git(dc: Any) -> str:
    """The commit of the imported dcompile's checkout (which may be another worktree than this script's)."""
    where = Path(dc.__file__).resolve().parent
    git = ["git", "-C", str(where)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=False)
    rev = commit.stdout.strip() or "unknown"
    return rev + (" + uncommitted changes under dcompile/" if dirty.stdout.strip() else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: fewer, shorter samples")
    ap.add_argument("--no-jax", action="store_true", help="skip JAX even when installed")
    ap.add_argument("--samples", type=int, default=None, help="timing samples per contender (default 15, quick 2)")
    ap.add_argument("--target", type=float, default=None, help="seconds per sample (default 0.2, quick 0.02)")
    ap.add_argument("--out", default="vector", help="results file stem under benchmarks/results (default vector)")
    a = ap.parse_args()
    samples = a.samples or (2 if a.quick else 15)
    target = a.target or (0.02 if a.quick else 0.2)
    command = " ".join([".venv/bin/python", "benchmarks/bench_vector.py", *sys.argv[1:]])
    if os.environ.get("PYTHONPATH"):  # e.g. a worktree's dcompile (see the dcompile line of the report)
        command = f"PYTHONPATH={os.environ['PYTHONPATH']} {command}"
    t0 = time.perf_counter()
    load0 = round(os.getloadavg()[0], 2)
    cache = Path(tempfile.mkdtemp(prefix="dcompile-bench-vector-"))
    os.environ["DCOMPILE_CACHE_DIR"] = str(cache)
    jax = None if a.no_jax else jax_setup()
    import dcompile as dc

    dc.config(compile_notices=False)
    print(f"dcompile imported from {dc.__file__} (git {dcompile_git(dc)}); cache dir {cache}", flush=True)
    res: dict[str, Any] = {"settings": {"quick": a.quick, "samples": samples, "target_s": target, "targets": TARGETS}}
    res["mlp_call"], mlp_vg = bench_mlp_call(dc, jax, samples, target)
    res["mlp_loop"] = bench_mlp_loop(mlp_vg, jax, samples, target)
    res["logreg_call"], nll_vg = bench_logreg_call(dc, jax, samples, target)
    res["logreg_loop"] = bench_logreg_loop(nll_vg, jax, samples, target)
    res["rosen_call"] = bench_rosen(dc, jax, samples, target)
    res["logreg_epoch"] = bench_logreg_epoch(dc, jax, samples, target)
    res["mlp_epoch"] = bench_mlp_epoch(dc, jax, samples, target)
    res["notes"] = [] if jax is not None else ["JAX: not installed or --no-jax; skipped."]
    res["targets"] = evaluate_targets(res)
    res["machine"] = machine_info(command)
    res["machine"]["git_commit"] = dcompile_git(dc)
    res["dcompile_file"] = dc.__file__
    res["load_avg"] = [load0, round(os.getloadavg()[0], 2)]
    res["wall_s"] = time.perf_counter() - t0
    shutil.rmtree(cache, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{a.out}.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    md = render(res)
    (RESULTS / f"{a.out}.md").write_text(md)
    print(md)
    print("targets:")
    for t in res["targets"]:
        print(f"    {t['target']:70s} {_r(t['result']):>6s}  {t['status']}")
    print(f"wrote {RESULTS / a.out}.json and .md ({res['wall_s']:.0f} s); dcompile from {dc.__file__}")


if __name__ == "__main__":
    main()
