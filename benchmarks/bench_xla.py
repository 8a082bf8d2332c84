"""Against XLA (issue 9): dcompile's value-and-gradient vs hand-written numba and JAX, one thread each.

Problems (value and gradient per call, inputs already in place; JAX x64 with ``block_until_ready``):

* ``logreg``: ``np.sum(np.logaddexp(0.0, -y * (X @ w)))`` w.r.t. ``w`` at (N, d) = (10^4, 20) and
  (10^5, 100), X Gaussian, y = +-1. Contenders: the dcompile array formulation
  (``dc.value_and_grad(dc.compile(f), wrt="w")``), ``dc.finite_sum`` of the one-row loss, a
  hand-written numba row loop (strict IEEE, no BLAS), a hand-written numba BLAS variant
  (``np.dot`` for both products, one elementwise loop) with and without ``fastmath=True``, and
  ``jax.jit(jax.value_and_grad(f))``.
* ``mlp``: one hidden layer, batch 256, 20 -> 64 tanh -> 1, mean squared error, w.r.t.
  ``(W1, b1, W2, b2)``: the dcompile array formulation vs hand-written numba (BLAS products,
  fused elementwise loops; strict and ``fastmath=True``) vs JAX.
* ``gd``: 100 gradient-descent steps (fixed step) on the logistic loss at N = 10^4, d = 20:
  ``dc.minimize(f, w0, (X, y), method="gd", step=...)``, an ``@njit`` loop calling dcompile's
  ``dc.value_and_grad(f).njit``, the same loop calling the hand-written BLAS gradient, and JAX
  ``jit(lax.fori_loop)``.

One thread each: ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``,
``OPENBLAS_NUM_THREADS=1`` (and ``OMP``/``MKL``/``NUMBA_NUM_THREADS=1``) are set before anything
is imported. Accuracy: every contender's value and gradient (GD: final w) against a reference
computed in ``np.longdouble`` (x87 80-bit, 64-bit mantissa) from the same float64 inputs.

Timing: round-robin in one process (benchmarks/bench_finite_sum.py's ``time_round_robin``): each
sample runs a contender back to back for >= ``--target`` seconds after one untimed call; medians
over samples; ratios are the median of per-sample ratios.

Run from the repository root::

    .venv/bin/python benchmarks/bench_xla.py          # full run (~2 minutes)
    .venv/bin/python benchmarks/bench_xla.py --quick  # smoke run

Results go to ``benchmarks/results/xla.json`` and ``benchmarks/results/xla.md``.
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402  (the thread settings must come first)
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_finite_sum import call_runner, paired, time_round_robin  # noqa: E402
from machine import machine_info  # noqa: E402
from numba import njit  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LOGREG_SIZES = ((10**4, 20), (10**5, 100))
MLP_SHAPE = (256, 20, 64)  # batch, inputs, hidden
GD_SIZE = (10**4, 20)
GD_STEPS = 100
GD_STEP = 1e-4
LD = np.longdouble


# ---------------------------------------------------------------------------
# problems (written with ``np``; JAX rebinds ``np`` to jax.numpy)
# ---------------------------------------------------------------------------
def nll(w, X, y):
    return np.sum(np.logaddexp(0.0, -y * (X @ w)))


def nll_one(w, x, y):
    return np.logaddexp(0.0, -y * (x @ w))


def mlp(W1, b1, W2, b2, X, y):  # noqa: PLR0917
    h = np.tanh(X @ W1 + b1)
    pred = h @ W2 + b2
    return np.mean((pred - y) ** 2)


def logreg_data(n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    w = 0.1 * rng.standard_normal(d)
    return w, X, y


def mlp_data() -> tuple[Any, ...]:
    rng = np.random.default_rng(2)
    b, d, h = MLP_SHAPE
    W1 = rng.standard_normal((d, h)) / np.sqrt(d)
    b1 = 0.1 * rng.standard_normal(h)
    W2 = rng.standard_normal(h) / np.sqrt(h)
    X = rng.standard_normal((b, d))
    y = rng.standard_normal(b)
    return W1, b1, W2, 0.1, X, y


# ---------------------------------------------------------------------------
# hand-written numba
# ---------------------------------------------------------------------------
def _logreg_rows(w, X, y):
    """Strict: a loop over rows, dot loop then axpy loop (no BLAS)."""
    n, d = X.shape
    g = np.zeros(d)
    f = 0.0
    for i in range(n):
        z = 0.0
        for j in range(d):
            z += X[i, j] * w[j]
        m = -y[i] * z
        if m > 0.0:
            e = np.exp(-m)
            f += m + np.log1p(e)
            s = 1.0 / (1.0 + e)
        else:
            e = np.exp(m)
            f += np.log1p(e)
            s = e / (1.0 + e)
        c = -y[i] * s
        for j in range(d):
            g[j] += c * X[i, j]
    return f, g


def _logreg_blas(w, X, y):
    """BLAS for both products (``np.dot``), one elementwise loop between them."""
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


def _mlp_vg(W1, b1, W2, b2, X, y):  # noqa: PLR0917
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


HAND = {
    "rows": njit(_logreg_rows),
    "blas": njit(_logreg_blas),
    "blas_fast": njit(fastmath=True)(_logreg_blas),
    "mlp": njit(_mlp_vg),
    "mlp_fast": njit(fastmath=True)(_mlp_vg),
}


@njit
def gd_loop(vg, w0, X, y, steps, step):  # noqa: PLR0917
    """``steps`` fixed-step gradient-descent steps from ``w0`` with the value-and-gradient ``vg``."""
    w = w0.copy()
    for _ in range(steps):
        _, g = vg(w, X, y)
        for j in range(w.shape[0]):
            w[j] -= step * g[j]
    return w


# ---------------------------------------------------------------------------
# references in long double
# ---------------------------------------------------------------------------
def ref_logreg(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray]:
    m = -y.astype(LD) * (X.astype(LD) @ w.astype(LD))
    f = np.sum(np.logaddexp(LD(0), m))
    s = 1 / (1 + np.exp(-m))  # sigmoid(m) = d logaddexp(0, m) / dm
    return f, X.astype(LD).T @ (-y.astype(LD) * s)


def ref_mlp(W1, b1, W2, b2, X, y):  # noqa: PLR0917
    W1, b1, W2, X, y = (np.asarray(a, dtype=LD) for a in (W1, b1, W2, X, y))
    b2 = LD(b2)
    h = np.tanh(X @ W1 + b1)
    r = h @ W2 + b2 - y
    n = X.shape[0]
    dp = 2 * r / n
    da = np.outer(dp, W2) * (1 - h * h)
    return np.sum(r * r) / n, (X.T @ da, da.sum(axis=0), h.T @ dp, dp.sum())


def ref_gd(w0: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    w = w0.astype(LD)
    XL, yL = X.astype(LD), y.astype(LD)
    for _ in range(GD_STEPS):
        m = -yL * (XL @ w)
        w = w - LD(GD_STEP) * (XL.T @ (-yL / (1 + np.exp(-m))))
    return w


def rel_err(a: Any, ref: Any) -> float:
    """max |a - ref| / max |ref| (in long double)."""
    a, ref = np.asarray(a, dtype=LD), np.asarray(ref, dtype=LD)
    return float(np.max(np.abs(a - ref)) / max(np.max(np.abs(ref)), LD(1e-300)))


def vg_err(r: Any, ref: Any) -> dict[str, float]:
    """Relative error of the value and (the largest over the gradient's parts) of the gradient."""
    gr, gref = r[1], ref[1]
    if not isinstance(gref, tuple):
        gr, gref = (gr,), (gref,)
    return {
        "value": rel_err(r[0], ref[0]),
        "grad": max(rel_err(np.asarray(a), b) for a, b in zip(gr, gref, strict=True)),
    }


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------
def jax_setup() -> Any:
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def with_jnp(fn: Any) -> Any:
    import types

    import jax.numpy as jnp

    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": jnp}, fn.__name__)


def jax_gd(jax: Any) -> Any:
    g = jax.grad(with_jnp(nll))

    def run(w0, X, y):
        return jax.lax.fori_loop(0, GD_STEPS, lambda _, w: w - GD_STEP * g(w, X, y), w0)

    return jax.jit(run)


def _np(r: Any) -> Any:
    """JAX results as NumPy (value, gradient or tuple of gradients)."""
    if isinstance(r, tuple):
        return tuple(_np(x) for x in r)
    return np.asarray(r)


# ---------------------------------------------------------------------------
# the measurements
# ---------------------------------------------------------------------------
def bench_logreg(dc: Any, jax: Any, n: int, d: int, samples: int, target: float) -> dict[str, Any]:  # noqa: PLR0917
    print(f"[logreg] N={n} d={d}", flush=True)
    w, X, y = logreg_data(n, d)
    arr = dc.value_and_grad(dc.compile(nll), wrt="w")
    obj = dc.finite_sum(dc.compile(nll_one), data=(X, y))
    calls: dict[str, tuple[Any, tuple[Any, ...], Any]] = {
        "dc_array": (arr, (w, X, y), None),
        "dc_finite_sum": (obj.value_and_grad, (w,), None),
        "hand_strict": (HAND["rows"], (w, X, y), None),
        "hand_blas": (HAND["blas"], (w, X, y), None),
        "hand_blas_fastmath": (HAND["blas_fast"], (w, X, y), None),
    }
    if jax is not None:
        import jax.numpy as jnp

        jf = jax.jit(jax.value_and_grad(with_jnp(nll)))
        calls["jax"] = (jf, (jnp.asarray(w), jnp.asarray(X), jnp.asarray(y)), jax.block_until_ready)
    return measure(calls, ref_logreg(w, X, y), samples, target, {"N": n, "d": d})


def bench_mlp(dc: Any, jax: Any, samples: int, target: float) -> dict[str, Any]:
    print("[mlp]", flush=True)
    args = mlp_data()
    vg = dc.value_and_grad(dc.compile(mlp), wrt=("W1", "b1", "W2", "b2"))
    calls: dict[str, tuple[Any, tuple[Any, ...], Any]] = {
        "dc_array": (vg, args, None),
        "hand_blas": (HAND["mlp"], args, None),
        "hand_blas_fastmath": (HAND["mlp_fast"], args, None),
    }
    if jax is not None:
        import jax.numpy as jnp

        jf = jax.jit(jax.value_and_grad(with_jnp(mlp), argnums=(0, 1, 2, 3)))
        calls["jax"] = (jf, tuple(jnp.asarray(a) for a in args), jax.block_until_ready)
    b, di, h = MLP_SHAPE
    return measure(calls, ref_mlp(*args), samples, target, {"batch": b, "d_in": di, "hidden": h})


def bench_gd(dc: Any, jax: Any, samples: int, target: float) -> dict[str, Any]:
    n, d = GD_SIZE
    print(f"[gd] {GD_STEPS} steps, N={n} d={d}", flush=True)
    w0, X, y = logreg_data(n, d)
    f = dc.compile(nll)
    vg = dc.value_and_grad(f, wrt="w")
    vg(w0, X, y)
    opts = {"maxiter": GD_STEPS, "gtol": 0.0, "ftol": 0.0, "xtol": 0.0}

    def dc_minimize() -> np.ndarray:
        return dc.minimize(f, w0, (X, y), method="gd", step=GD_STEP, options=opts).x

    calls: dict[str, tuple[Any, tuple[Any, ...], Any]] = {
        "dc_minimize": (dc_minimize, (), None),
        "dc_njit_loop": (gd_loop, (vg.njit, w0, X, y, GD_STEPS, GD_STEP), None),
        "hand_blas_loop": (gd_loop, (HAND["blas"], w0, X, y, GD_STEPS, GD_STEP), None),
    }
    if jax is not None:
        import jax.numpy as jnp

        calls["jax_fori_loop"] = (
            jax_gd(jax),
            (jnp.asarray(w0), jnp.asarray(X), jnp.asarray(y)),
            jax.block_until_ready,
        )
    res = measure(calls, ref_gd(w0, X, y), samples, target, {"N": n, "d": d, "steps": GD_STEPS, "step": GD_STEP})
    res["nit_dc_minimize"] = int(dc.minimize(f, w0, (X, y), method="gd", step=GD_STEP, options=opts).nit)
    return res


def measure(
    calls: dict[str, tuple[Any, tuple[Any, ...], Any]],
    ref: Any,
    samples: int,
    target: float,
    info: dict[str, Any],
) -> dict[str, Any]:
    first, err = {}, {}
    for k, (fn, args, block) in calls.items():
        t = time.perf_counter()
        r = fn(*args)
        if block is not None:
            block(r)
        first[k] = time.perf_counter() - t
        r = _np(r)
        err[k] = vg_err(r, ref) if isinstance(r, tuple) else {"w": rel_err(r, ref)}
    print(f"    errors vs long double: {err}", flush=True)
    runners = {k: call_runner(fn, *args, block=block) for k, (fn, args, block) in calls.items()}
    t = time_round_robin(runners, samples, target)
    jax_key = next((k for k in calls if k.startswith("jax")), None)
    ratios = {k: paired(t, k, jax_key) for k in calls if jax_key and k != jax_key}
    for k in calls:
        print(f"    {k:20s} {t[k]['median_s'] * 1e3:9.3f} ms  / jax {ratios.get(k)}", flush=True)
    return {**info, "first_call_s": first, "rel_err_vs_longdouble": err, "times": t, "over_jax": ratios}


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
LABELS = {
    "dc_array": "dcompile array formulation `dc.value_and_grad(dc.compile(f))`",
    "dc_finite_sum": "dcompile `dc.finite_sum` `obj.value_and_grad(w)`",
    "hand_strict": "hand-written numba, row loop (no BLAS, strict)",
    "hand_blas": "hand-written numba, `np.dot` + fused loop (strict)",
    "hand_blas_fastmath": "hand-written numba, `np.dot` + fused loop, `fastmath=True`",
    "jax": "JAX `jit(value_and_grad)`",
    "dc_minimize": '`dc.minimize(f, w0, (X, y), method="gd", step=...)`',
    "dc_njit_loop": "`@njit` loop calling `dc.value_and_grad(f).njit`",
    "hand_blas_loop": "`@njit` loop calling the hand-written BLAS gradient",
    "jax_fori_loop": "JAX `jit(lax.fori_loop)`",
}


def _fmt_err(e: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1e}" for k, v in e.items())


def table(res: dict[str, Any], unit: float, unit_name: str) -> list[str]:
    L = [f"| contender | {unit_name} | / JAX | rel. error vs long double | first call (s) |", "|---|---|---|---|---|"]
    for k, tk in res["times"].items():
        r = res["over_jax"].get(k)
        L.append(
            f"| {LABELS[k]} | {tk['median_s'] / unit:.4g} | {'1.00' if r is None else f'{r:.2f}'} | "
            f"{_fmt_err(res['rel_err_vs_longdouble'][k])} | {res['first_call_s'][k]:.2f} |"
        )
    return L


def render(res: dict[str, Any]) -> str:
    mi = res["machine"]
    L = [
        "# Against XLA (issue 9): value and gradient, one thread each",
        "",
        f"Command to reproduce (from the repository root): `{mi['command']}`",
        "",
        f"- date: {mi['date']}",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); **shared and busy** (load average "
        f"{res['load_avg'][0]} at the start, {res['load_avg'][1]} at the end): absolute times are noisy, "
        "ratios are measured round-robin in one run",
        f"- python {mi['python']}, numba {mi['numba']}, numpy {mi['numpy']}, jax {mi['jax']}, "
        f"dcompile {mi['dcompile']} (git {mi['git_commit']})",
        "- one thread each: `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`, "
        "`OPENBLAS_NUM_THREADS=1`, `NUMBA_NUM_THREADS=1`, set before import; JAX x64, inputs already JAX "
        "arrays, `block_until_ready` on every call",
        f"- timing: median over {res['settings']['samples']} samples of >= {res['settings']['target_s']} s, "
        "round-robin; `/ JAX` = median of per-sample ratios (< 1: faster than JAX)",
        "- error: max |x - ref| / max |ref| of the value and of the gradient (GD: the final w), "
        "ref computed in `np.longdouble` from the same float64 inputs",
        "",
    ]
    for lr in res["logreg"]:
        L += [f"## Logistic loss, N = {lr['N']:.0e}, d = {lr['d']}", "", *table(lr, 1e-3, "ms per call"), ""]
    m = res["mlp"]
    L += [
        f"## MLP, batch {m['batch']}, {m['d_in']} -> {m['hidden']} tanh -> 1, squared error",
        "",
        *table(m, 1e-6, "µs per call"),
        "",
    ]
    g = res["gd"]
    L += [
        f"## {g['steps']} gradient-descent steps, logistic loss N = {g['N']:.0e}, d = {g['d']}, step {g['step']}",
        "",
        *table(g, 1e-3, "ms per 100 steps"),
        "",
        f"`dc.minimize` ran {g['nit_dc_minimize']} iterations; its time includes the Python-side setup of the "
        "call (signature, options, result object).",
        "",
    ]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--target", type=float, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    samples = a.samples or (3 if a.quick else 7)
    target = a.target or (0.05 if a.quick else 0.2)
    command = " ".join([".venv/bin/python", "benchmarks/bench_xla.py", *sys.argv[1:]])
    t0 = time.perf_counter()
    load0 = round(os.getloadavg()[0], 2)
    cache = Path(tempfile.mkdtemp(prefix="dcompile-bench-xla-"))
    os.environ["DCOMPILE_CACHE_DIR"] = str(cache)
    jax = None if a.no_jax else jax_setup()
    import dcompile as dc

    res: dict[str, Any] = {"settings": {"quick": a.quick, "samples": samples, "target_s": target}}
    res["logreg"] = [bench_logreg(dc, jax, n, d, samples, target) for n, d in LOGREG_SIZES]
    res["mlp"] = bench_mlp(dc, jax, samples, target)
    res["gd"] = bench_gd(dc, jax, samples, target)
    res["machine"] = machine_info(command)
    res["load_avg"] = [load0, round(os.getloadavg()[0], 2)]
    res["wall_s"] = time.perf_counter() - t0
    shutil.rmtree(cache, ignore_errors=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "xla.json").write_text(json.dumps(res, indent=2) + "\n")
    md = render(res)
    (a.out / "xla.md").write_text(md)
    print(md)
    print(f"wrote {a.out / 'xla.json'} and {a.out / 'xla.md'} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
