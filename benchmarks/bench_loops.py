"""Loops that stay loops: single shooting of a damped pendulum with RK4, value and gradient.

The objective (``pendulum`` below) integrates a damped pendulum
``theta'' = -g / l sin(theta) - b theta' + u(t)`` from ``(0.5, 0)`` with T steps of classical RK4
(``DT = 0.01``), the control ``u_k`` held constant over step k, and returns
``DT * sum_k theta_k^2 + |s_T - (pi, 0)|^2 + 1e-3 |u|^2``; value and gradient with respect to the
controls ``u`` (length T) and the parameters ``(g, l, b)``, for T = 200, 10^4 and 10^5.
Contenders, one thread each:

* ``dcompile``: ``dc.value_and_grad(dc.compile(pendulum))`` with the time loop written as
  ``dc.scan`` (JAX ``lax.scan`` semantics): a loop in the generated code, a taped reverse loop
  for the gradient.
* ``hand``: a hand-written numba adjoint: a forward loop on scalars (theta, omega; RK4 written
  out, no small arrays) storing the state at every step, then a backward loop that recomputes
  the four stages of each step from the stored state and applies the exact adjoint of the
  discrete RK4 map (the derivative of the same floating-point computation, not of the ODE), for
  ``u`` and for ``(g, l, b)`` at once.
* ``jax``: the same source with ``np`` bound to ``jax.numpy`` and ``dc.scan`` to ``jax.lax.scan``,
  ``jax.jit(jax.value_and_grad(f, argnums=(0, 1)))``, x64, inputs already device arrays,
  ``block_until_ready`` on every call.

One thread each: ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``,
``OPENBLAS_NUM_THREADS=1`` (and ``OMP``/``MKL``/``NUMBA_NUM_THREADS=1``) are set before anything
is imported.

Compile time, per T:

* dcompile: a fresh Python process with an empty ``DCOMPILE_CACHE_DIR`` imports dcompile and
  numba, runs numba's one-off per-process initialisation (``cpu_target.target_context.refresh()``,
  reported apart, as in ``dcompile bench``), then times the first call (trace, derivation,
  emission, numba, one evaluation; numba's part is ``vg.kernel.compile_seconds``). A second
  fresh process on the same cache directory times the cached first call (a warm start).
* hand: a fresh process (numba initialised the same way) times the first call of freshly made
  ``numba.njit`` dispatchers.
* JAX: first call minus the steady-state median, in the benchmark process.

The benchmark process also makes its own dcompile and numba objects (dcompile in a fresh cache
directory); their first calls are recorded in the JSON as ``in_process_first_call_s``.

Agreement: ``|f - f_dc| / |f_dc|`` and, over the gradient's two parts, ``max |g - g_dc| / max |g_dc|``
for the hand adjoint and JAX against dcompile (expected ~1e-12: the same discrete computation);
and a central finite difference of the value (hand-written numba forward pass, step
``1e-6 max(1, |x|)``) on the three parameters and a few entries of ``u``, against the hand adjoint
and dcompile.

Per-call time: round-robin in one process (benchmarks/bench_finite_sum.py's
``time_round_robin``): after one untimed call, each sample runs each contender back to back for
>= ``--target`` seconds (at large T a sample is one or a few calls); medians over samples; the
ratios ``/ hand`` and ``/ JAX`` are medians of per-sample ratios.

Targets (issue "loops that stay loops"): compile <= 2 s at every T (size independent), per call
<= 1.3x the hand adjoint, and faster than JAX.

Run from the repository root::

    .venv/bin/python benchmarks/bench_loops.py          # full run: T = 200, 10^4, 10^5 (about 1 minute)
    .venv/bin/python benchmarks/bench_loops.py --quick  # smoke run: T = 200, 10^4, fewer samples (< 1 minute)

Results go to ``benchmarks/results/loops.json`` (every raw sample) and
``benchmarks/results/loops.md``.
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
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

import dcompile as dc  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_ENV = "DCOMPILE_CACHE_DIR"
TS = {"full": (200, 10_000, 100_000), "quick": (200, 10_000)}
PARAMS = (9.81, 1.0, 0.1)  # g, l, b
AGREE = 1e-10  # relative agreement of the hand adjoint with dcompile (same discrete computation)
FD_AGREE = 1e-4  # a central finite difference (step 1e-6) agrees to about 1e-6 here; flagged above this
TARGETS = {"compile_s": 2.0, "over_hand": 1.3, "over_jax": 1.0}
CONTENDERS = ("dcompile", "hand", "jax")
LABELS = {
    "dcompile": "dcompile: `dc.value_and_grad(dc.compile(pendulum))`, `dc.scan`",
    "hand": "hand-written numba adjoint (scalars, stored states)",
    "jax": "JAX: `jit(value_and_grad(argnums=(0, 1)))`, `lax.scan`",
}

DT = 0.01
START = np.array([0.5, 0.0])
TARGET = np.array([np.pi, 0.0])


# ---------------------------------------------------------------------------
# the objective: dcompile's source (JAX runs the same code with ``np`` and ``dc`` rebound)
# ---------------------------------------------------------------------------
def pendulum(params, u):
    g, length, damping = params[0], params[1], params[2]

    def f(s, uk):
        return np.stack([s[1], -g / length * np.sin(s[0]) - damping * s[1] + uk])

    def step(s, uk):
        k1 = f(s, uk)
        k2 = f(s + 0.5 * DT * k1, uk)
        k3 = f(s + 0.5 * DT * k2, uk)
        k4 = f(s + DT * k3, uk)
        s = s + DT / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return s, s[0] ** 2

    s_final, running = dc.scan(step, START, u)
    return np.sum(running) * DT + np.sum((s_final - TARGET) ** 2) + 1e-3 * np.sum(u**2)


def problem_data(t: int) -> tuple[np.ndarray, np.ndarray]:
    """(params, u): the pendulum's parameters and a smooth control with some noise (seeded)."""
    rng = np.random.default_rng(11)
    time_s = DT * np.arange(t)
    u = 0.8 * np.sin(0.7 * time_s) + 0.3 * rng.standard_normal(t)
    return np.array(PARAMS), u


def dc_pendulum() -> Any:
    """A fresh ``dc.value_and_grad(dc.compile(pendulum))`` (compiled at its first call)."""
    return dc.value_and_grad(dc.compile(pendulum))


# ---------------------------------------------------------------------------
# the hand-written numba adjoint (plain Python: every ``make_hand`` call makes fresh dispatchers)
# ---------------------------------------------------------------------------
def _hand_value(params, u, start, target):
    """The objective alone (scalar RK4): the finite-difference reference."""
    n = u.shape[0]
    na = -params[0] / params[1]
    damping = params[2]
    hh = 0.5 * DT
    c6 = DT / 6.0
    x0 = start[0]
    x1 = start[1]
    run = 0.0
    reg = 0.0
    for k in range(n):
        uk = u[k]
        reg += uk * uk
        b1 = na * np.sin(x0) - damping * x1 + uk
        y0 = x0 + hh * x1
        y1 = x1 + hh * b1
        a2 = y1
        b2 = na * np.sin(y0) - damping * y1 + uk
        y0 = x0 + hh * a2
        y1 = x1 + hh * b2
        a3 = y1
        b3 = na * np.sin(y0) - damping * y1 + uk
        y0 = x0 + DT * a3
        y1 = x1 + DT * b3
        a4 = y1
        b4 = na * np.sin(y0) - damping * y1 + uk
        x0 = x0 + c6 * (x1 + 2.0 * a2 + 2.0 * a3 + a4)
        x1 = x1 + c6 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
        run += x0 * x0
    e0 = x0 - target[0]
    e1 = x1 - target[1]
    return run * DT + (e0 * e0 + e1 * e1) + 1e-3 * reg


def _hand_vg(params, u, start, target):
    """Value and exact adjoint of the discrete RK4 map: (f, (d f / d params, d f / d u)).

    f(x, u) = (x1, na sin x0 - b x1 + u) with na = -g / l; its transpose Jacobian applied to a
    cotangent (p, q): x0 <- na cos(x0) q, x1 <- p - b q, u <- q, na <- sin(x0) q, b <- -x1 q.
    """
    n = u.shape[0]
    g = params[0]
    length = params[1]
    damping = params[2]
    na = -g / length
    hh = 0.5 * DT
    c6 = DT / 6.0
    th = np.empty(n + 1)
    om = np.empty(n + 1)
    x0 = start[0]
    x1 = start[1]
    th[0] = x0
    om[0] = x1
    run = 0.0
    reg = 0.0
    for k in range(n):  # forward: the states s_0 .. s_T
        uk = u[k]
        reg += uk * uk
        b1 = na * np.sin(x0) - damping * x1 + uk
        y0 = x0 + hh * x1
        y1 = x1 + hh * b1
        a2 = y1
        b2 = na * np.sin(y0) - damping * y1 + uk
        y0 = x0 + hh * a2
        y1 = x1 + hh * b2
        a3 = y1
        b3 = na * np.sin(y0) - damping * y1 + uk
        y0 = x0 + DT * a3
        y1 = x1 + DT * b3
        a4 = y1
        b4 = na * np.sin(y0) - damping * y1 + uk
        x0 = x0 + c6 * (x1 + 2.0 * a2 + 2.0 * a3 + a4)
        x1 = x1 + c6 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
        th[k + 1] = x0
        om[k + 1] = x1
        run += x0 * x0
    e0 = x0 - target[0]
    e1 = x1 - target[1]
    value = run * DT + (e0 * e0 + e1 * e1) + 1e-3 * reg
    gu = np.empty(n)
    l0 = 2.0 * e0  # d value / d s_k, k = T .. 0 (the running cost of s_k is added in its step)
    l1 = 2.0 * e1
    g_na = 0.0
    g_b = 0.0
    for k in range(n - 1, -1, -1):
        l0 += 2.0 * DT * th[k + 1]
        x0 = th[k]
        x1 = om[k]
        uk = u[k]
        # the four stages again, from the stored state
        b1 = na * np.sin(x0) - damping * x1 + uk
        y0_2 = x0 + hh * x1
        y1_2 = x1 + hh * b1
        b2 = na * np.sin(y0_2) - damping * y1_2 + uk
        y0_3 = x0 + hh * y1_2
        y1_3 = x1 + hh * b2
        b3 = na * np.sin(y0_3) - damping * y1_3 + uk
        y0_4 = x0 + DT * y1_3
        y1_4 = x1 + DT * b3
        # s' = s + c6 (k1 + 2 k2 + 2 k3 + k4): s gets l, k1 and k4 get c6 l, k2 and k3 2 c6 l
        p = c6 * l0
        q = c6 * l1
        m0 = l0
        m1 = l1
        # k4 = f(y4), y4 = s + DT k3
        gu_k = q
        g_na += np.sin(y0_4) * q
        g_b -= y1_4 * q
        r0 = na * np.cos(y0_4) * q
        r1 = p - damping * q
        m0 += r0
        m1 += r1
        # k3 = f(y3), y3 = s + DT/2 k2; k3's cotangent 2 c6 l + DT r
        p3 = 2.0 * p + DT * r0
        q3 = 2.0 * q + DT * r1
        gu_k += q3
        g_na += np.sin(y0_3) * q3
        g_b -= y1_3 * q3
        r0 = na * np.cos(y0_3) * q3
        r1 = p3 - damping * q3
        m0 += r0
        m1 += r1
        # k2 = f(y2), y2 = s + DT/2 k1
        p2 = 2.0 * p + hh * r0
        q2 = 2.0 * q + hh * r1
        gu_k += q2
        g_na += np.sin(y0_2) * q2
        g_b -= y1_2 * q2
        r0 = na * np.cos(y0_2) * q2
        r1 = p2 - damping * q2
        m0 += r0
        m1 += r1
        # k1 = f(s)
        p1 = p + hh * r0
        q1 = q + hh * r1
        gu_k += q1
        g_na += np.sin(x0) * q1
        g_b -= x1 * q1
        m0 += na * np.cos(x0) * q1
        m1 += p1 - damping * q1
        gu[k] = gu_k + 2e-3 * uk
        l0 = m0
        l1 = m1
    g_params = np.array([-g_na / length, g_na * g / (length * length), g_b])
    return value, (g_params, gu)


def make_hand() -> tuple[Any, Any]:
    """Fresh numba dispatchers (value and gradient, value alone) called as ``vg(params, u)``."""
    vg_nb = njit(_hand_vg)
    value_nb = njit(_hand_value)
    start, target = START.copy(), TARGET.copy()

    def vg(params, u):
        return vg_nb(params, u, start, target)

    def value(params, u):
        return value_nb(params, u, start, target)

    return vg, value


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------
def jax_setup() -> Any:
    try:
        import jax
        import jax.numpy
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_vg(jax: Any) -> Any:
    """``jax.jit(jax.value_and_grad(pendulum, argnums=(0, 1)))`` on the same source."""
    import jax.numpy as jnp

    namespace = {**pendulum.__globals__, "np": jnp, "dc": types.SimpleNamespace(scan=jax.lax.scan)}
    fn = types.FunctionType(pendulum.__code__, namespace, "pendulum")
    return jax.jit(jax.value_and_grad(fn, argnums=(0, 1)))


# ---------------------------------------------------------------------------
# compile-time workers (fresh processes)
# ---------------------------------------------------------------------------
def _numba_init() -> float:
    """numba's one-off per-process initialisation (seconds), which every process pays at its first compile."""
    from numba.core.registry import cpu_target

    t = time.perf_counter()
    cpu_target.target_context.refresh()
    return time.perf_counter() - t


def worker(kind: str, t_steps: int) -> dict[str, Any]:
    """One cold (or, with a filled cache, warm) first call in this fresh process."""
    init_s = _numba_init()
    params, u = problem_data(t_steps)
    out: dict[str, Any] = {"kind": kind, "T": t_steps, "numba_init_s": init_s}
    if kind == "dcompile":
        vg = dc_pendulum()
        t = time.perf_counter()
        r = vg(params, u)  # trace, derive, emit, numba (or the cache's load), one evaluation
        out["first_call_s"] = out["compile_s"] = time.perf_counter() - t
        out["kernel_compile_s"] = vg.kernel.compile_seconds  # numba's part (compile or load)
        out["cache_hit"] = bool(vg.kernel.cache_hit)
        out["n_statements"] = vg.ir.n_statements  # of the derived graph (cached by the call)
    else:
        vg, _ = make_hand()
        t = time.perf_counter()
        r = vg(params, u)
        out["first_call_s"] = out["compile_s"] = time.perf_counter() - t
    out["value"] = float(r[0])
    return out


def run_worker(kind: str, t_steps: int, cache: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if cache is not None:
        env[CACHE_ENV] = cache
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--T", str(t_steps)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=1800)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"kind": kind, "T": t_steps, "error": (p.stderr or p.stdout)[-2000:], "returncode": p.returncode}
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------
def as_value_grad(r: Any) -> tuple[float, list[np.ndarray]]:
    """(value, [g_params, g_u]) as NumPy from any contender's result."""
    value, grad = r
    return float(np.asarray(value)), [np.asarray(g, dtype=np.float64) for g in grad]


def rel_diff(r: tuple[float, list[np.ndarray]], ref: tuple[float, list[np.ndarray]]) -> dict[str, float]:
    """|f - f_ref| / |f_ref| and the largest max |g - g_ref| / max |g_ref| over the gradient's parts."""
    (fv, gv), (f0, g0) = r, ref
    grad = max(
        float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300)) for a, b in zip(gv, g0, strict=True)
    )
    return {"value": abs(fv - f0) / max(abs(f0), 1e-300), "grad": grad}


def fd_check(
    value: Callable[..., float], params: np.ndarray, u: np.ndarray, grads: dict[str, list[np.ndarray]]
) -> dict[str, Any]:
    """Central differences of ``value`` on the parameters and a few controls against each gradient."""
    t_steps = u.shape[0]
    entries = [("params", i) for i in range(3)] + [("u", i) for i in sorted({0, 1, t_steps // 2, t_steps - 1})]
    rows = []
    for part, i in entries:
        x = params if part == "params" else u
        h = 1e-6 * max(1.0, abs(float(x[i])))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        args_p = (xp, u) if part == "params" else (params, xp)
        args_m = (xm, u) if part == "params" else (params, xm)
        fd = (value(*args_p) - value(*args_m)) / (2.0 * h)
        row: dict[str, Any] = {"part": part, "index": i, "fd": fd}
        for k, g in grads.items():
            gi = float(g[0 if part == "params" else 1][i])
            row[k] = gi
            row[f"{k}_rel_err"] = abs(gi - fd) / max(abs(fd), 1e-8)
        rows.append(row)
    worst = {k: max(r[f"{k}_rel_err"] for r in rows) for k in grads}
    return {"entries": rows, "max_rel_err": worst}


def bench_t(t_steps: int, jax: Any, cache_root: Path, samples: int, target: float) -> dict[str, Any]:
    from bench_finite_sum import call_runner, paired, time_round_robin

    print(f"[T = {t_steps}]", flush=True)
    params, u = problem_data(t_steps)
    res: dict[str, Any] = {"T": t_steps, "errors": {}}

    # compile times in fresh processes
    cache = tempfile.mkdtemp(prefix=f"T{t_steps}-", dir=cache_root)
    workers = {
        "dcompile": run_worker("dcompile", t_steps, cache),
        "dcompile_cached": run_worker("dcompile", t_steps, cache),  # the same cache again: a warm start
        "hand": run_worker("hand", t_steps, None),
    }
    res["workers"] = workers
    for k, w in workers.items():
        if "error" in w:
            print(f"    worker {k}: FAILED\n{w['error']}", flush=True)
        else:
            print(
                f"    worker {k:16s} compile {w['compile_s']:.3f} s (numba init {w['numba_init_s']:.3f} s)",
                flush=True,
            )

    # the timed objects, in this process
    calls: dict[str, tuple[Callable[..., Any], tuple[Any, ...], Callable[[Any], Any] | None]] = {}
    first: dict[str, float] = {}
    results: dict[str, tuple[float, list[np.ndarray]]] = {}
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix=f"T{t_steps}-main-", dir=cache_root)
    dc_vg = dc_pendulum()
    hand_vg, hand_value = make_hand()
    calls["dcompile"] = (dc_vg, (params, u), None)
    calls["hand"] = (hand_vg, (params, u), None)
    if jax is not None:
        import jax.numpy as jnp

        calls["jax"] = (jax_vg(jax), (jnp.asarray(params), jnp.asarray(u)), jax.block_until_ready)
    for k, (fn, args, block) in list(calls.items()):
        try:
            t = time.perf_counter()
            r = fn(*args)
            if block is not None:
                block(r)
            first[k] = time.perf_counter() - t
            results[k] = as_value_grad(r)
        except Exception as exc:  # recorded in the report; the others still run
            res["errors"][k] = f"{type(exc).__name__}: {exc}"
            print(f"    {k}: FAILED {res['errors'][k]}", flush=True)
            del calls[k]
    res["in_process_first_call_s"] = first

    # agreement
    ref = results.get("dcompile")
    res["rel_diff_vs_dcompile"] = {k: rel_diff(r, ref) for k, r in results.items()} if ref else {}
    res["rel_diff_hand_vs_jax"] = rel_diff(results["hand"], results["jax"]) if {"hand", "jax"} <= set(results) else None
    grads = {k: results[k][1] for k in ("hand", "dcompile") if k in results}
    res["finite_difference"] = fd_check(hand_value, params, u, grads)
    res["values"] = {k: r[0] for k, r in results.items()}
    for k, d in res["rel_diff_vs_dcompile"].items():
        flag = "" if max(d.values()) <= AGREE else f"  ** above {AGREE:g} **"
        print(f"    {k:10s} vs dcompile: value {d['value']:.1e}, grad {d['grad']:.1e}{flag}", flush=True)
    print(f"    finite difference, max rel. err: {res['finite_difference']['max_rel_err']}", flush=True)

    # per-call times, round-robin
    runners = {k: call_runner(fn, *args, block=block) for k, (fn, args, block) in calls.items()}
    times = time_round_robin(runners, samples, target)
    res["times"] = times
    res["over_hand"] = {k: paired(times, k, "hand") for k in times}
    res["over_jax"] = {k: paired(times, k, "jax") for k in times}
    compile_s: dict[str, float | None] = {k: workers[k].get("compile_s") for k in ("dcompile", "hand")}
    if "jax" in times and "jax" in first:
        compile_s["jax"] = first["jax"] - times["jax"]["median_s"]
    res["compile_s"] = compile_s
    for k in times:
        print(
            f"    {k:10s} {times[k]['median_s'] * 1e3:10.4f} ms  / hand {_r(res['over_hand'][k])}  / jax "
            f"{_r(res['over_jax'][k])}  compile {_r(compile_s.get(k))} s",
            flush=True,
        )
    return res


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _r(x: float | None, fmt: str = ".2f") -> str:
    return "—" if x is None else format(x, fmt)


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def evaluate_targets(runs: list[dict[str, Any]]) -> list[str]:
    lines = []
    comp = {r["T"]: r["compile_s"].get("dcompile") for r in runs}
    known = [c for c in comp.values() if c is not None]
    ok = bool(known) and len(known) == len(comp) and max(known) <= TARGETS["compile_s"]
    spread = f"; max/min over T {max(known) / min(known):.2f}" if known else ""
    listing = ", ".join(f"T = {t}: {_r(c)} s" for t, c in comp.items())
    lines.append(
        f"- compile <= {TARGETS['compile_s']:g} s at every T (size independent): {_met(ok)} ({listing}{spread})"
    )
    for key, name in (("over_hand", "per call <= 1.3x the hand adjoint"), ("over_jax", "faster than JAX")):
        vals = {r["T"]: r[key].get("dcompile") for r in runs}
        ok = all(v is not None and v <= TARGETS[key] for v in vals.values())
        if key == "over_jax":
            ok = all(v is not None and v < TARGETS[key] for v in vals.values())
        listing = ", ".join(f"T = {t}: {_r(v)}x" for t, v in vals.items())
        lines.append(f"- {name}: {_met(ok)} ({listing})")
    return lines


def _diff(d: dict[str, float] | None) -> str:
    if d is None:
        return "—"
    s = f"value {d['value']:.1e}, grad {d['grad']:.1e}"
    return s if max(d.values()) <= AGREE else f"**{s}**"


def table(res: dict[str, Any]) -> list[str]:
    lines = [
        "| contender | ms per call | / hand | / JAX | compile s | rel. diff vs dcompile |",
        "|---|---|---|---|---|---|",
    ]
    for k, tk in res["times"].items():
        lines.append(
            f"| {LABELS[k]} | {tk['median_s'] * 1e3:.4g} | {_r(res['over_hand'].get(k))} | "
            f"{_r(res['over_jax'].get(k))} | {_r(res['compile_s'].get(k))} | "
            f"{_diff(res['rel_diff_vs_dcompile'].get(k))} |"
        )
    for k, e in res["errors"].items():
        lines.append(f"| {LABELS[k]} | failed: `{e}` | | | | |")
    w = res["workers"]
    notes = []
    dcw, cached, hand = w["dcompile"], w["dcompile_cached"], w["hand"]
    if "error" not in dcw:
        total = dcw["compile_s"] + dcw["numba_init_s"]
        notes.append(
            f"dcompile compile {dcw['compile_s']:.2f} s = numba {dcw['kernel_compile_s']:.2f} s + trace, derive, "
            f"emit and one evaluation {dcw['compile_s'] - dcw['kernel_compile_s']:.2f} s (derived graph: "
            f"{dcw['n_statements']} statements); with numba's one-off process initialisation "
            f"({dcw['numba_init_s']:.2f} s) {total:.2f} s"
        )
    if "error" not in cached:
        notes.append(
            f"dcompile warm start (second fresh process, same cache; one evaluation included): "
            f"{cached['compile_s']:.3f} s "
            f"(cache hit: {cached['cache_hit']})"
        )
    if "error" not in hand:
        notes.append(
            f"hand-written compile with numba's process initialisation ({hand['numba_init_s']:.2f} s): "
            f"{hand['compile_s'] + hand['numba_init_s']:.2f} s"
        )
    fd = res["finite_difference"]["max_rel_err"]
    notes.append(
        "central finite difference (3 parameters, u at "
        f"{sorted({e['index'] for e in res['finite_difference']['entries'] if e['part'] == 'u'})}), max rel. err: "
        + ", ".join(f"{k} {v:.1e}" if v <= FD_AGREE else f"**{k} {v:.1e}**" for k, v in fd.items())
    )
    if res.get("rel_diff_hand_vs_jax"):
        notes.append(f"hand vs JAX: {_diff(res['rel_diff_hand_vs_jax'])}")
    spc = {k: f"{v['samples']} x {v['calls_per_sample']}" for k, v in res["times"].items()}
    notes.append("samples x calls per sample: " + ", ".join(f"{k} {v}" for k, v in spc.items()))
    return [*lines, "", *(f"- {n}" for n in notes)]


def render(res: dict[str, Any]) -> str:
    mi = res["machine"]
    s = res["settings"]
    lines = [
        "# Loops that stay loops: damped pendulum, RK4 single shooting, value and gradient",
        "",
        f"Command to reproduce (from the repository root): `{mi['command']}`",
        "",
        f"- date: {mi['date']}",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); load average {res['load_avg'][0]} at the "
        f"start, {res['load_avg'][1]} at the end (a shared machine: absolute times are noisy, ratios are measured "
        "round-robin in one run)",
        f"- python {mi['python']}, numpy {mi['numpy']}, numba {mi['numba']}, jax {mi['jax']}, "
        f"dcompile {mi['dcompile']} (git {mi['git_commit']})",
        "- problem: `theta'' = -g/l sin(theta) - b theta' + u`, RK4 with DT = 0.01 from (0.5, 0), objective "
        "`DT sum theta_k^2 + |s_T - (pi, 0)|^2 + 1e-3 |u|^2`, gradient w.r.t. `(g, l, b)` and `u` (length T)",
        "- one thread each: `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`, "
        "`OPENBLAS_NUM_THREADS=1`, `OMP_NUM_THREADS=1`, `NUMBA_NUM_THREADS=1`, set before import; JAX x64, "
        "inputs already JAX arrays, `block_until_ready` on every call",
        f"- per call: median over {s['samples']} round-robin samples, each >= {s['target_s']} s of back-to-back "
        "calls after one untimed call; `/ hand` and `/ JAX` = median of per-sample ratios (< 1: faster)",
        "- compile: dcompile and hand-written numba in a fresh process each (dcompile with an empty "
        "`DCOMPILE_CACHE_DIR` per T), after numba's one-off per-process initialisation (reported below each "
        "table); dcompile's figure is the first call (trace, derive, emit, numba, one evaluation), numba's is the "
        "first call of fresh dispatchers (one evaluation included); JAX: first call minus its steady-state median",
        f"- rel. diff vs dcompile: |f - f_dc| / |f_dc| and max |g - g_dc| / max |g_dc| over (g_params, g_u) "
        f"(bold: above {AGREE:g})",
        "",
    ]
    if s["quick"]:
        lines += ["**Quick run** (`--quick`): T = 200 and 10^4 only, fewer samples.", ""]
    lines += ["## Targets", "", *evaluate_targets(res["runs"]), ""]
    for r in res["runs"]:
        lines += [f"## T = {r['T']:,} steps", "", *table(r), ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T = 200 and 10^4 only, fewer samples")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--target", type=float, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", choices=("dcompile", "hand"), help=argparse.SUPPRESS)
    ap.add_argument("--T", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.T)), flush=True)
        return
    sys.path.insert(0, str(HERE))
    from machine import machine_info

    samples = a.samples or (3 if a.quick else 7)
    target = a.target or (0.05 if a.quick else 0.2)
    ts = TS["quick" if a.quick else "full"]
    command = " ".join([".venv/bin/python", "benchmarks/bench_loops.py", *sys.argv[1:]])
    t0 = time.perf_counter()
    load0 = round(os.getloadavg()[0], 2)
    cache_root = Path(tempfile.mkdtemp(prefix="dcompile-bench-loops-"))
    jax = None if a.no_jax else jax_setup()
    res: dict[str, Any] = {"settings": {"quick": a.quick, "samples": samples, "target_s": target, "T": list(ts)}}
    try:
        res["runs"] = [bench_t(t, jax, cache_root, samples, target) for t in ts]
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    res["machine"] = machine_info(command)
    res["load_avg"] = [load0, round(os.getloadavg()[0], 2)]
    res["wall_s"] = time.perf_counter() - t0
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "loops.json").write_text(json.dumps(res, indent=2) + "\n")
    md = render(res)
    (a.out / "loops.md").write_text(md)
    print(md)
    print(f"wrote {a.out / 'loops.json'} and {a.out / 'loops.md'} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
