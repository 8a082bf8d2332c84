"""Optimizer benchmark: dcompile's compiled optimizers vs scipy's given the same compiled derivatives.

Problems: every problem in ``dcompile.optimize.problems.PROBLEMS`` at its default dimension (the
Moré-Garbow-Hillstrom set), plus extended Rosenbrock at n = 100 (every method) and n = 10^4 (L-BFGS
and Newton-CG; dense BFGS and Newton would need a 10^4 x 10^4 matrix).

Methods (``--methods``, default all four), each against scipy's nearest method:

* ``lbfgs`` vs L-BFGS-B, with the issue's targets (see below);
* ``bfgs`` vs ``BFGS`` (``gtol`` on max |g_i|, like dcompile);
* ``newton`` vs ``trust-exact`` given ``hess=dc.hessian(f)``: scipy's exact-Hessian method that, like
  dcompile's Newton, factorises the whole Hessian (a Cholesky-based trust region, not a line search;
  its ``gtol`` is on the 2-norm of g);
* ``newton-cg`` vs ``Newton-CG`` given ``hessp=dc.hvp(f)`` (scipy's has no gradient test: it stops on
  its default ``xtol`` 1e-5 on the step).

Contenders (one compile of the objective per problem, shared by every method):

* dcompile: ``dc.minimize(f, x0, method=M, options={"gtol": 1e-6, "maxiter": 10000})``; the
  first call compiles (its ``compile_seconds`` is reported), later calls are timed. Two times per
  solve: the whole warm ``dc.minimize`` call (what a user waits for) and ``res.solve_seconds``
  (the compiled iteration loop alone).
* scipy: ``scipy.optimize.minimize(lambda x: vg(x), x0, jac=True, method=..., options=...)`` with
  ``vg = dc.value_and_grad(f)``, after one warm-up call. For L-BFGS-B (``options={"gtol": 1e-6,
  "maxiter": 10000, "maxfun": 10**7}``) an extra, untimed run with ``ftol=0`` shows scipy's
  evaluation count when it, like dcompile, stops on the gradient test only.

Compile and cache load: for each method (and ``gd``), a fresh subprocess on an empty cache dir imports
dcompile and calls ``dc.minimize`` once on extended Rosenbrock n = 10 (cold), then further processes on
the same dir (warm); each reports ``res.compile_seconds`` and the parent times the whole process.

L-BFGS: both stop on ``max |g_i| <= 1e-6``; scipy also stops on a relative decrease of f below its default
``ftol`` (2.2e-9). Per solve the report gives iterations, evaluations, final f, |f - fmin| (absolute
and relative), success and a "solved" verdict: the final f lies within ``max(1e-8, 1e-6 |fmin|,
half a unit of fmin's last published digit)`` of the published minimum, or (dcompile only) within
``max(1e-8, 1e-6 |f|)`` of scipy's final f (the same local minimum).

Timing: each sample runs a contender back to back for >= ``--target`` seconds; contenders are
timed round-robin in one process; per-solve times are medians over ``--samples`` samples and
ratios the median over samples of the per-sample ratio. BLAS (OpenBLAS, used by scipy's L-BFGS-B
and by numba's ``np.dot``) is limited to one thread unless ``OPENBLAS_NUM_THREADS`` is set: on a
small shared machine its thread pool costs scipy milliseconds per iteration (measured in a
subprocess and reported).

Run from the repository root::

    .venv/bin/python benchmarks/bench_optimize.py          # full run (~20-25 minutes on 2 cores, mostly compiling)
    .venv/bin/python benchmarks/bench_optimize.py --quick  # four problems
    .venv/bin/python benchmarks/bench_optimize.py --methods lbfgs newton --no-cache

Results go to ``benchmarks/results/optimize.json`` and ``benchmarks/results/optimize.md``
(``--quick`` writes ``optimize_quick.*`` so it does not overwrite the full run).
"""

from __future__ import annotations

import os

# before numpy (and OpenBLAS) load: one BLAS thread unless the caller chose otherwise (the BLAS
# diagnostic's worker sets BLAS_DEFAULT_ENV to run with OpenBLAS's own default)
BLAS_DEFAULT_ENV = "BENCH_OPTIMIZE_BLAS_DEFAULT"
if os.environ.get(BLAS_DEFAULT_ENV) != "1":
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from machine import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_ENV = "DCOMPILE_CACHE_DIR"
GTOL = 1e-6
MAXITER = 10_000
MAXFUN = 10**7
DC_OPTIONS = {"gtol": GTOL, "maxiter": MAXITER}
SCIPY_OPTIONS = {"gtol": GTOL, "maxiter": MAXITER, "maxfun": MAXFUN}
EXTRA = (("extended_rosenbrock", 100), ("extended_rosenbrock", 10**4))
QUICK = (("rosenbrock", None), ("wood", None), ("extended_rosenbrock", 100), ("extended_rosenbrock", 10**4))
SMALL_N = 100  # the "n <= 100" group of the time target
LARGE = ("extended_rosenbrock", 10**4)
COMPARED = ("lbfgs", "bfgs", "newton", "newton-cg")
TARGETS = {"nfev_ratio_max": 1.2, "speedup_small_median": 20.0, "speedup_large": 1.0}
WORKER_TIMEOUT_S = 120


# ---------------------------------------------------------------------------
# solved?
# ---------------------------------------------------------------------------
def published_tol(fmin: float) -> float:
    """Half a unit in the last digit ``fmin`` is published with (0 for an exact 0)."""
    if fmin == 0.0:
        return 0.0
    return 0.5 * 10.0 ** Decimal(repr(float(fmin))).normalize().as_tuple().exponent


def fmin_tol(fmin: float) -> float:
    return max(1e-8, 1e-6 * abs(fmin), published_tol(fmin))


def near_fmin(f: float, fmin: float | None) -> bool | None:
    if fmin is None:
        return None
    return bool(math.isfinite(f) and abs(f - fmin) <= fmin_tol(fmin))


def same_local(f: float, f_ref: float) -> bool:
    return bool(math.isfinite(f) and abs(f - f_ref) <= max(1e-8, 1e-6 * max(abs(f), abs(f_ref))))


def outcome(f: float, fmin: float | None) -> dict[str, Any]:
    err = None if fmin is None else abs(f - fmin)
    rel = None if err is None or fmin == 0.0 else err / abs(fmin)
    return {"f": f, "abs_err": err, "rel_err": rel, "near_fmin": near_fmin(f, fmin)}


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------
def _calls(k_target: float, once_s: float, cap: int = 10_000) -> int:
    return max(1, min(cap, math.ceil(k_target / max(once_s, 1e-7))))


def time_round_robin(
    dc_solve: Callable[[], Any], sp_solve: Callable[[], Any], samples: int, target_s: float
) -> dict[str, Any]:
    """Per-solve seconds: dcompile wall, dcompile loop (``solve_seconds``), scipy wall; round-robin."""
    t = time.perf_counter()
    dc_solve()
    k_dc = _calls(target_s, time.perf_counter() - t)
    t = time.perf_counter()
    sp_solve()
    k_sp = _calls(target_s, time.perf_counter() - t)
    runs: dict[str, list[float]] = {"dc_wall": [], "dc_loop": [], "scipy": []}
    for _ in range(samples):
        loop = 0.0
        t = time.perf_counter()
        for _ in range(k_dc):
            loop += dc_solve().solve_seconds
        runs["dc_wall"].append((time.perf_counter() - t) / k_dc)
        runs["dc_loop"].append(loop / k_dc)
        t = time.perf_counter()
        for _ in range(k_sp):
            sp_solve()
        runs["scipy"].append((time.perf_counter() - t) / k_sp)
    out: dict[str, Any] = {
        k: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs_s": v} for k, v in runs.items()
    }
    out["calls_per_sample"] = {"dc": k_dc, "scipy": k_sp}
    out["samples"] = samples
    out["speedup_wall"] = statistics.median(s / d for s, d in zip(runs["scipy"], runs["dc_wall"], strict=True))
    out["speedup_loop"] = statistics.median(s / d for s, d in zip(runs["scipy"], runs["dc_loop"], strict=True))
    return out


def eval_loop() -> Any:
    """An ``@njit`` loop calling a value-and-gradient dispatcher ``k`` times (the array benchmark's)."""
    from bench_arrays import _loops

    return _loops()["vg1"]


def per_call(run: Callable[[int], Any], target_s: float, reps: int = 5) -> float:
    """Median seconds per call of ``run(k)`` (k calls), k sized to ``target_s``."""
    t = time.perf_counter()
    run(1)
    k = _calls(target_s, time.perf_counter() - t, cap=10**6)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        run(k)
        ts.append((time.perf_counter() - t) / k)
    return statistics.median(ts)


# ---------------------------------------------------------------------------
# one problem
# ---------------------------------------------------------------------------
def _dc_summary(r: Any, fmin: float | None) -> dict[str, Any]:
    return {
        "nit": int(r.nit),
        "nfev": int(r.nfev),
        "success": bool(r.success),
        "status": int(r.status),
        "message": r.message,
        **outcome(float(r.fun), fmin),
    }


def _sp_summary(r: Any, fmin: float | None) -> dict[str, Any]:
    return {
        "nit": int(r.nit),
        "nfev": int(r.nfev),
        "success": bool(r.success),
        "status": int(r.status),
        "message": str(r.message),
        "gnorm_inf": float(np.max(np.abs(r.jac))),
        **outcome(float(r.fun), fmin),
    }


def prepare(dc: Any, name: str, n: int | None) -> dict[str, Any]:
    """One problem's compiled objective and value-and-gradient (shared by every method)."""
    from dcompile.optimize.problems import problem

    p = problem(name, n)
    f = dc.compile(p.f)
    vg = dc.value_and_grad(f)
    t = time.perf_counter()
    vg(p.x0)
    ctx: dict[str, Any] = {"p": p, "f": f, "vg": vg, "label": label(name, n), "name": name, "n_arg": n}
    ctx["compile_grad_s"] = time.perf_counter() - t  # trace + kernel compile (or disk-cache load)
    ctx["grad_cache_hit"] = bool(getattr(vg.kernel, "cache_hit", False))
    return ctx


def second_derivative(dc: Any, ctx: dict[str, Any], kind: str) -> Any:
    """``dc.hessian(f)`` or ``dc.hvp(f)``, compiled on first need (its time kept in ``ctx``)."""
    if kind not in ctx:
        p = ctx["p"]
        d = dc.hessian(ctx["f"]) if kind == "hessian" else dc.hvp(ctx["f"])
        t = time.perf_counter()
        if kind == "hessian":
            d(p.x0)
        else:
            d((p.x0,), np.ones(p.n))
        ctx[f"compile_{kind}_s"] = time.perf_counter() - t
        ctx[kind] = d
    return ctx[kind]


def bench_problem(dc: Any, loop: Any, ctx: dict[str, Any], *, samples: int, target_s: float) -> dict[str, Any]:
    from scipy.optimize import minimize as sp_minimize

    p, f, vg, name = ctx["p"], ctx["f"], ctx["vg"], ctx["name"]
    row: dict[str, Any] = {"problem": name, "n": p.n, "m": p.m, "fmin": p.fmin, "label": ctx["label"]}
    row["compile_grad_s"] = ctx["compile_grad_s"]
    row["grad_cache_hit"] = ctx["grad_cache_hit"]

    def dc_solve() -> Any:
        return dc.minimize(f, p.x0, method="lbfgs", options=DC_OPTIONS)

    fun = lambda x: vg(x)  # noqa: PLW0108  (scipy calls the dcompile object from Python, as a user would)

    def sp_solve() -> Any:
        return sp_minimize(fun, p.x0, jac=True, method="L-BFGS-B", options=SCIPY_OPTIONS)

    t = time.perf_counter()
    r_dc = dc_solve()
    row["dc_first_call_s"] = time.perf_counter() - t
    row["compile_optimizer_s"] = r_dc.compile_seconds  # the L-BFGS driver for this objective (cold cache dir)
    row["dc"] = _dc_summary(r_dc, p.fmin)
    r_sp = sp_solve()  # warm-up
    row["scipy"] = _sp_summary(r_sp, p.fmin)
    r_sp0 = sp_minimize(
        fun, p.x0, jac=True, method="L-BFGS-B", options={**SCIPY_OPTIONS, "ftol": 0.0}
    )  # same stopping rule as dcompile: the gradient test only (untimed)
    row["scipy_ftol0"] = _sp_summary(r_sp0, p.fmin)

    sp_ok = bool(row["scipy"]["near_fmin"])
    dc_near = bool(row["dc"]["near_fmin"])
    dc_local = (not dc_near) and same_local(row["dc"]["f"], row["scipy"]["f"])
    row["scipy_solved"] = sp_ok
    row["dc_solved"] = dc_near or dc_local
    row["dc_solved_how"] = "fmin" if dc_near else "same local min as scipy" if dc_local else "no"
    row["nfev_ratio"] = row["dc"]["nfev"] / row["scipy"]["nfev"]
    row["nfev_ratio_ftol0"] = row["dc"]["nfev"] / row["scipy_ftol0"]["nfev"]

    gc.collect()
    row["times"] = time_round_robin(dc_solve, sp_solve, samples, target_s)

    # where the time goes: one evaluation (in numba / from Python) and the loop's fixed cost
    x = p.x0.copy()
    jv = vg.njit
    t = time.perf_counter()
    loop(jv, 1, x)
    row["eval_loop_compile_s"] = time.perf_counter() - t
    row["eval_numba_s"] = per_call(lambda k: loop(jv, k, x), target_s / 4)

    def py_calls(k: int) -> None:
        for _ in range(k):
            vg(x)

    row["eval_py_s"] = per_call(py_calls, target_s / 4)
    fixed = [dc.minimize(f, p.x0, method="lbfgs", options={**DC_OPTIONS, "maxiter": 0}) for _ in range(7)]
    row["dc_fixed_s"] = statistics.median(r.solve_seconds for r in fixed)  # loop call + 1 evaluation, 0 iterations
    row["breakdown"] = breakdown(row)
    return row


# ---------------------------------------------------------------------------
# the other methods: bfgs, newton, newton-cg against scipy's nearest method
# ---------------------------------------------------------------------------
def scipy_counterpart(method: str, ctx: dict[str, Any], dc: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """scipy's method, the derivative keywords (the same compiled kernels) and its options."""
    if method == "bfgs":
        return "BFGS", {}, {"gtol": GTOL, "maxiter": MAXITER}
    if method == "newton":
        hess = second_derivative(dc, ctx, "hessian")
        return "trust-exact", {"hess": hess}, {"gtol": GTOL, "maxiter": MAXITER}
    hv = second_derivative(dc, ctx, "hvp")
    return "Newton-CG", {"hessp": lambda x, v: hv((x,), v)}, {"maxiter": MAXITER}


def _sp_summary_any(r: Any, fmin: float | None) -> dict[str, Any]:
    return {
        "nit": int(r.get("nit", -1)),
        "nfev": int(r.get("nfev", -1)),
        "njev": int(r.get("njev", -1)),
        "nhev": int(r.get("nhev", 0) or 0),
        "success": bool(r.success),
        "status": int(r.status),
        "message": str(r.message),
        "gnorm_inf": float(np.max(np.abs(r.jac))),
        **outcome(float(r.fun), fmin),
    }


def bench_method(dc: Any, ctx: dict[str, Any], method: str, *, samples: int, target_s: float) -> dict[str, Any]:
    """:func:`bench_method_` that records an error (a derivative or loop that fails to compile) as a row."""
    try:
        return bench_method_(dc, ctx, method, samples=samples, target_s=target_s)
    except Exception as e:  # report, do not stop the run
        p = ctx["p"]
        return {
            "problem": ctx["name"],
            "n": p.n,
            "fmin": p.fmin,
            "label": ctx["label"],
            "method": method,
            "scipy_method": {"bfgs": "BFGS", "newton": "trust-exact"}.get(method, "Newton-CG"),
            "dc_error": _error_text(e),
            "dc": None,
            "scipy": None,
            "times": None,
            "scipy_solved": False,
            "dc_solved": False,
            "dc_solved_how": "error",
            "nfev_ratio": None,
            "compile_optimizer_s": math.nan,
        }


def _error_text(e: Exception) -> str:
    """The exception's first line, plus numba's ``>>> signature`` line where there is one."""
    lines = str(e).strip().splitlines() or [""]
    sig = [x.strip() for x in lines if x.strip().startswith(">>>")]
    return f"{type(e).__name__}: {lines[0]}{' ' + sig[0] if sig else ''}"[:300]


def bench_method_(dc: Any, ctx: dict[str, Any], method: str, *, samples: int, target_s: float) -> dict[str, Any]:
    """dcompile ``method`` vs scipy's counterpart on one problem: outcome, time per solve, compile."""
    import warnings

    from scipy.optimize import minimize as sp_minimize

    p, f, vg = ctx["p"], ctx["f"], ctx["vg"]
    row: dict[str, Any] = {"problem": ctx["name"], "n": p.n, "fmin": p.fmin, "label": ctx["label"], "method": method}
    sp_method, derivs, sp_options = scipy_counterpart(method, ctx, dc)
    mode = {"newton": "hessian", "newton-cg": "hvp"}.get(method)
    row["compile_grad_s"] = ctx["compile_grad_s"]
    row["compile_d2_s"] = ctx.get(f"compile_{mode}_s") if mode else None
    row["scipy_method"] = sp_method

    def dc_solve() -> Any:
        return dc.minimize(f, p.x0, method=method, options=DC_OPTIONS)

    fun = lambda x: vg(x)  # noqa: PLW0108

    def sp_solve() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sp_minimize(fun, p.x0, jac=True, method=sp_method, options=sp_options, **derivs)

    t = time.perf_counter()
    r_dc = dc_solve()
    row["dc_first_call_s"] = time.perf_counter() - t
    row["compile_optimizer_s"] = r_dc.compile_seconds
    row["dc"] = {**_dc_summary(r_dc, p.fmin), "njev": int(r_dc.njev), "nhev": int(r_dc.nhev)}
    try:
        r_sp = sp_solve()  # warm-up
    except Exception as e:  # report, do not stop the run
        row["scipy_error"] = f"{type(e).__name__}: {e}"[:300]
        row["scipy"] = None
    else:
        row["scipy"] = _sp_summary_any(r_sp, p.fmin)
    sp_f = row["scipy"]["f"] if row["scipy"] else math.nan
    row["scipy_solved"] = bool(row["scipy"] and row["scipy"]["near_fmin"])
    dc_near = bool(row["dc"]["near_fmin"])
    dc_local = (not dc_near) and same_local(row["dc"]["f"], sp_f)
    row["dc_solved"] = dc_near or dc_local
    row["dc_solved_how"] = "fmin" if dc_near else "same local min as scipy" if dc_local else "no"
    row["nfev_ratio"] = row["dc"]["nfev"] / row["scipy"]["nfev"] if row["scipy"] else None
    if row["scipy"]:
        gc.collect()
        row["times"] = time_round_robin(dc_solve, sp_solve, samples, target_s)
    else:
        row["times"] = None
    return row


def breakdown(row: dict[str, Any]) -> dict[str, float | None]:
    """Per-iteration costs outside the objective, from the medians (µs-level estimates)."""
    t, d, s = row["times"], row["dc"], row["scipy"]
    loop_s, wall_s, sp_s = t["dc_loop"]["median_s"], t["dc_wall"]["median_s"], t["scipy"]["median_s"]
    dc_obj = d["nfev"] * row["eval_numba_s"]
    sp_obj = s["nfev"] * row["eval_py_s"]
    return {
        "dc_objective_s": dc_obj,
        "dc_loop_other_per_iter_s": (loop_s - row["dc_fixed_s"] - (d["nfev"] - 1) * row["eval_numba_s"])
        / max(d["nit"], 1),
        "dc_wrapper_s": wall_s - loop_s,
        "dc_objective_share": dc_obj / loop_s,
        "scipy_objective_s": sp_obj,
        "scipy_other_per_iter_s": (sp_s - sp_obj) / max(s["nit"], 1),
        "scipy_objective_share": sp_obj / sp_s,
    }


def label(name: str, n: int | None) -> str:
    return name if n is None else f"{name} n={n}"


# ---------------------------------------------------------------------------
# subprocess: scipy's L-BFGS-B cost with OpenBLAS's default thread count vs one thread
# ---------------------------------------------------------------------------
def worker_blas() -> dict[str, Any]:
    from scipy.optimize import minimize as sp_minimize

    def rosen_vg(x):
        a = x[1] - x[0] ** 2
        f = 100.0 * a * a + (1.0 - x[0]) ** 2
        return f, np.array([-400.0 * a * x[0] - 2.0 * (1.0 - x[0]), 200.0 * a])

    x0 = np.array([-1.2, 1.0])
    sp_minimize(rosen_vg, x0, jac=True, method="L-BFGS-B", options=SCIPY_OPTIONS)
    ts = []
    for _ in range(7):
        t = time.perf_counter()
        r = sp_minimize(rosen_vg, x0, jac=True, method="L-BFGS-B", options=SCIPY_OPTIONS)
        ts.append(time.perf_counter() - t)
    return {
        "median_s": statistics.median(ts),
        "nit": int(r.nit),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def measure_blas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    base = {k: v for k, v in os.environ.items() if k not in {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}}
    base[BLAS_DEFAULT_ENV] = "1"
    for key, env in (("default_threads", base), ("one_thread", {**base, "OPENBLAS_NUM_THREADS": "1"})):
        try:
            p = subprocess.run(
                [sys.executable, __file__, "--worker", "blas"],
                capture_output=True,
                text=True,
                env=env,
                timeout=WORKER_TIMEOUT_S,
                check=True,
            )
            out[key] = json.loads(p.stdout.strip().splitlines()[-1])
        except (subprocess.SubprocessError, ValueError, IndexError) as e:
            out[key] = {"error": str(e)[:500]}
    return out


# ---------------------------------------------------------------------------
# subprocesses: compile time of each optimizer (cold cache dir) and its load in a second process
# ---------------------------------------------------------------------------
CACHE_PROBLEM = ("extended_rosenbrock", 10)
CACHE_METHODS = ("lbfgs", "bfgs", "newton", "newton-cg", "gd")


def worker_cache(method: str) -> dict[str, Any]:
    """A fresh process: import dcompile, one ``dc.minimize`` (compile or cache load), then a warm one."""
    cache_dir = Path(os.environ[CACHE_ENV])
    before = sorted(q.name for q in cache_dir.glob("*.py"))
    t0 = time.perf_counter()
    import dcompile as dc
    from dcompile.optimize.problems import problem

    t_import = time.perf_counter() - t0
    p = problem(*CACHE_PROBLEM)
    f = dc.compile(p.f)
    opts = {**DC_OPTIONS, "maxiter": MAXITER if method != "gd" else 200}  # gd: the loop, not convergence
    t = time.perf_counter()
    r = dc.minimize(f, p.x0, method=method, options=opts)
    first = time.perf_counter() - t
    t = time.perf_counter()
    r2 = dc.minimize(f, p.x0, method=method, options=opts)
    second = time.perf_counter() - t
    return {
        "import_s": t_import,
        "first_call_s": first,
        "compile_seconds": r.compile_seconds,
        "solve_seconds": r.solve_seconds,
        "second_call_s": second,
        "second_compile_seconds": r2.compile_seconds,
        "nit": int(r.nit),
        "success": bool(r.success),
        "in_process_s": time.perf_counter() - t0,
        "vg_cache_hit": bool(getattr(dc.value_and_grad(f).specialize(p.x0).kernel, "cache_hit", False)),
        "new_modules": sorted(set(q.name for q in cache_dir.glob("*.py")) - set(before)),  # written by this process
    }


def _cache_run(method: str, cache_dir: str) -> dict[str, Any]:
    env = {**os.environ, CACHE_ENV: cache_dir}
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", "cache", "--worker-method", method],
            capture_output=True,
            text=True,
            env=env,
            timeout=WORKER_TIMEOUT_S,
            check=True,
        )
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as e:
        err = getattr(e, "stderr", "") or ""
        return {"error": (str(e) + " " + err[-400:])[:800]}
    out["process_wall_s"] = time.perf_counter() - t  # interpreter start + imports + both calls + exit
    return out


def measure_cache(methods: tuple[str, ...], warm_reps: int) -> dict[str, Any]:
    """Per method: one process on an empty cache dir (cold), then ``warm_reps`` processes reusing it."""
    out: dict[str, Any] = {}
    for m in methods:
        d = tempfile.mkdtemp(prefix=f"dcompile-bench-optimize-cache-{m}-")
        cold = _cache_run(m, d)
        warm = [_cache_run(m, d) for _ in range(warm_reps)]
        ok = [w for w in warm if "error" not in w]
        med = {}
        for k in ("compile_seconds", "first_call_s", "process_wall_s", "import_s", "solve_seconds"):
            if ok:
                med[k] = statistics.median(w[k] for w in ok)
        out[m] = {"cold": cold, "warm_runs": warm, "warm": med}
        c = cold.get("compile_seconds")
        print(
            f"  cache {m:<10} cold compile {c if c is None else round(c, 2)} s, warm load "
            f"{med.get('compile_seconds', math.nan):.3f} s (process {med.get('process_wall_s', math.nan):.2f} s)",
            flush=True,
        )
    return out


# ---------------------------------------------------------------------------
# targets and report
# ---------------------------------------------------------------------------
def evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    solved = [r for r in rows if r["scipy_solved"]]
    missed = [r["label"] for r in solved if not r["dc_solved"]]
    out.append(
        {
            "target": "dcompile L-BFGS solves every problem scipy's L-BFGS-B solves",
            "result": f"{len(solved) - len(missed)}/{len(solved)}"
            + (f"; misses: {', '.join(missed)}" if missed else ""),
            "status": "met" if not missed else "**not met**",
        }
    )
    tgt = TARGETS["nfev_ratio_max"]
    over = [r for r in solved if r["nfev_ratio"] > tgt]
    worst = max(solved, key=lambda r: r["nfev_ratio"], default=None)
    out.append(
        {
            "target": f"nfev dcompile / scipy ≤ {tgt} on every problem scipy solves",
            "result": (f"worst {worst['nfev_ratio']:.2f} ({worst['label']}); " if worst else "")
            + f"{len(over)}/{len(solved)} over"
            + (": " + ", ".join(f"{r['label']} {r['nfev_ratio']:.2f}" for r in over) if over else ""),
            "status": "met" if not over else "**not met**",
        }
    )
    small = [r for r in rows if r["n"] <= SMALL_N]
    tgt = TARGETS["speedup_small_median"]
    for key, what in (("speedup_wall", "whole `dc.minimize` call"), ("speedup_loop", "compiled loop only")):
        xs = [r["times"][key] for r in small]
        if not xs:
            continue
        med = statistics.median(xs)
        out.append(
            {
                "target": f"median over problems with n ≤ {SMALL_N} of scipy time / dcompile time ≥ {tgt:g} ({what})",
                "result": f"{med:.1f}x (range {min(xs):.1f}-{max(xs):.1f}x over {len(xs)} problems)",
                "status": "met" if med >= tgt else "**not met**",
            }
        )
    both = [r for r in small if r["scipy_solved"] and r["dc_solved_how"] == "fmin"]
    for key, what in (("speedup_wall", "whole call"), ("speedup_loop", "loop only")):
        xs = [r["times"][key] for r in both]
        if xs:
            out.append(
                {
                    "target": f"(diagnostic) the same median over the {len(xs)} problems with n ≤ {SMALL_N} that both "
                    f"solve to fmin ({what})",
                    "result": f"{statistics.median(xs):.1f}x (range {min(xs):.1f}-{max(xs):.1f}x)",
                    "status": "-",
                }
            )
    big = [r for r in rows if (r["problem"], r["n"]) == LARGE]
    tgt = TARGETS["speedup_large"]
    for r in big:
        for key, what in (("speedup_wall", "whole `dc.minimize` call"), ("speedup_loop", "compiled loop only")):
            x = r["times"][key]
            out.append(
                {
                    "target": f"extended Rosenbrock n = 10^4: scipy time / dcompile time ≥ {tgt:g} ({what})",
                    "result": f"{x:.2f}x",
                    "status": "met" if x >= tgt else "**not met**",
                }
            )
    return out


SCIPY_LABEL = {
    "lbfgs": "L-BFGS-B (`jac=True`)",
    "bfgs": "BFGS (`jac=True`)",
    "newton": "trust-exact (`jac=True, hess=dc.hessian(f)`)",
    "newton-cg": "Newton-CG (`jac=True, hessp=dc.hvp(f)`)",
}


def summarize_method(method: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of solved problems and median ratios for one method (n <= SMALL_N, and each larger n apart)."""
    small = [r for r in rows if r["n"] <= SMALL_N]
    timed = [r for r in small if r.get("times")]
    both = [r for r in timed if r["scipy_solved"] and r["dc_solved_how"] == "fmin"]
    nf = [r["nfev_ratio"] for r in small if r["scipy_solved"] and r["nfev_ratio"] is not None]

    def med(xs: list[float]) -> dict[str, float] | None:
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)} if xs else None

    return {
        "method": method,
        "scipy": SCIPY_LABEL.get(method, ""),
        "problems": len(small),
        "dc_solved": sum(r["dc_solved"] for r in small),
        "dc_solved_fmin": sum(r["dc_solved_how"] == "fmin" for r in small),
        "dc_success": sum(bool(r["dc"] and r["dc"]["success"]) for r in small),
        "dc_errors": [f"{r['label']} ({r['dc_error']})" for r in rows if r.get("dc_error")],
        "scipy_solved": sum(r["scipy_solved"] for r in small),
        "scipy_success": sum(bool(r["scipy"] and r["scipy"]["success"]) for r in small),
        "dc_misses_scipy_solves": [r["label"] for r in small if r["scipy_solved"] and not r["dc_solved"]],
        "scipy_misses_dc_fmin": [r["label"] for r in small if not r["scipy_solved"] and r["dc_solved_how"] == "fmin"],
        "nfev_ratio_where_scipy_solves": med(nf),
        "speedup_wall": med([r["times"]["speedup_wall"] for r in timed]),
        "speedup_loop": med([r["times"]["speedup_loop"] for r in timed]),
        "speedup_wall_both_fmin": med([r["times"]["speedup_wall"] for r in both]),
        "n_both_fmin": len(both),
        "compile_optimizer_s": med([r["compile_optimizer_s"] for r in rows if r["dc"]]),
        "large": [
            {"label": r["label"], **{k: r["times"][k] for k in ("speedup_wall", "speedup_loop")}}
            for r in rows
            if r["n"] > SMALL_N and r.get("times")
        ],
    }


def _g(x: float | None, fmt: str = ".3g") -> str:
    return "-" if x is None else format(x, fmt)


def _us(s: float) -> str:
    u = s * 1e6
    return f"{u:.3g}" if u < 1000 else f"{u:,.0f}"


def _yn(b: bool | None) -> str:
    return "-" if b is None else ("yes" if b else "**no**")


def _short(msg: str) -> str:
    return msg.replace("CONVERGENCE: ", "").replace("Optimization terminated successfully: ", "")[:48]


def render_markdown(res: dict[str, Any]) -> str:
    m, s, rows = res["machine"], res["settings"], res["rows"]
    L = [
        "# dcompile optimizer benchmark: L-BFGS, BFGS, Newton and Newton-CG vs scipy",
        "",
        f"Command to reproduce (from the repository root): `{m['command']}`",
        "",
        f"- date: {m['date']}",
        f"- machine: {m['cores']} cores, {m['cpu']} ({m['platform']}); a shared, noisy machine: quote medians"
        " and ratios, not single numbers",
        f"- python {m['python']}, numba {m['numba']}, numpy {m['numpy']}, scipy {s['scipy']}, "
        f"dcompile {m['dcompile']} (git {m['git_commit']})",
        f"- BLAS threads: OPENBLAS_NUM_THREADS={s['blas_threads']} (see the note on BLAS threads below)",
        f"- dcompile: `dc.minimize(f, x0, method='lbfgs', options={DC_OPTIONS})`, `f = dc.compile(problem.f)`. "
        f"scipy {s['scipy']}: `minimize(lambda x: vg(x), x0, jac=True, method='L-BFGS-B', "
        f"options={SCIPY_OPTIONS})`, `vg = dc.value_and_grad(f)` (the same compiled kernel; default "
        "`ftol` 2.2e-9, `maxcor` 10 = dcompile's `m`).",
        f"- timing: per-solve time = median over {s['samples']} samples of >= {s['target_s']} s each "
        "(each sample: back-to-back solves), dcompile and scipy round-robin in one process, compile excluded "
        "(dcompile's first call and scipy's warm-up are not timed); speedup = median over samples of the "
        "per-sample ratio scipy / dcompile. `dc call` = the whole warm `dc.minimize` call; `dc loop` = its "
        "`res.solve_seconds` (the compiled iteration loop alone).",
        "- solved: final f within max(1e-8, 1e-6·|fmin|, half a unit of fmin's last published digit) of the "
        "published minimum; for dcompile also: within max(1e-8, 1e-6·|f|) of scipy's final f (same local "
        "minimum).",
        "- other methods: `dc.minimize(f, x0, method=M, options=...)` (the same options) against "
        "`scipy.optimize.minimize(lambda x: vg(x), x0, jac=True, ...)` with scipy's nearest method, given the "
        "same compiled derivatives: `bfgs` vs `BFGS` (options `gtol` 1e-6 on max |g_i|, `maxiter`); `newton` vs "
        "`trust-exact` with `hess=lambda x: H(x)`, `H = dc.hessian(f)` (scipy's exact-Hessian method that, like "
        "dcompile's, factorises the whole Hessian - a Cholesky-based trust region rather than a line search; "
        "its `gtol` 1e-6 is on the 2-norm of g, slightly stricter than max |g_i|); `newton-cg` vs `Newton-CG` "
        "with `hessp=lambda x, v: hv((x,), v)`, `hv = dc.hvp(f)` (scipy's Newton-CG has no gradient test: it "
        "stops when the step's 1-norm falls below its default `xtol` 1e-5, so it may stop before the gradient "
        "is 1e-6).",
        "",
    ]
    if rows:
        L += [
            "## Targets (L-BFGS vs scipy L-BFGS-B)",
            "",
            "| target | result | status |",
            "|---|---|---|",
        ]
        L += [f"| {t['target']} | {t['result']} | {t['status']} |" for t in res["targets"]]
    L += _summary_table(res) + _cache_table(res)
    if rows:
        L += _outcome_table(rows) + _time_table(rows) + _breakdown_table(rows)
    for m, mrows in res.get("methods", {}).items():
        L += _method_table(m, mrows)
    L += _notes(res)
    return "\n".join(L) + "\n"


def _rng(d: dict[str, float] | None, fmt: str = ".1f", unit: str = "x") -> str:
    if not d:
        return "-"
    return f"{d['median']:{fmt}}{unit} ({d['min']:{fmt}}-{d['max']:{fmt}}{unit})"


def _summary_table(res: dict[str, Any]) -> list[str]:
    sums = res.get("summaries", {})
    if not sums:
        return []
    L = [
        "",
        "## Summary per method",
        "",
        f"Over the problems with n ≤ {SMALL_N} (the Moré-Garbow-Hillstrom set at its default dimensions, plus "
        "extended Rosenbrock n = 100). `solved` as defined above; `success` = the method's own success flag. "
        "Speedup = scipy time / dcompile time per solve (compile excluded), median over problems (range).",
        "",
        "| dcompile method | scipy method | problems | dc solved (to fmin) | scipy solved | dc success | "
        "scipy success | solved by scipy, not by dc | nfev dc / scipy where scipy solves | "
        "speedup, whole call | speedup, loop only | speedup, whole call, where both reach fmin | "
        "compile of the loop, cold (s) | larger n (call / loop) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m, u in sums.items():
        large = "; ".join(f"{x['label']}: {x['speedup_wall']:.2f}x / {x['speedup_loop']:.2f}x" for x in u["large"])
        L.append(
            f"| {m} | {u['scipy']} | {u['problems']} | {u['dc_solved']} ({u['dc_solved_fmin']}) | "
            f"{u['scipy_solved']} | {u['dc_success']} | {u['scipy_success']} | "
            f"{', '.join(u['dc_misses_scipy_solves']) or 'none'}"
            + (f"; not run (dcompile error): {', '.join(u['dc_errors'])}" if u.get("dc_errors") else "")
            + " | "
            f"{_rng(u['nfev_ratio_where_scipy_solves'], '.2f', '')} | "
            f"{_rng(u['speedup_wall'])} | {_rng(u['speedup_loop'])} | "
            f"{_rng(u['speedup_wall_both_fmin'])} over {u['n_both_fmin']} | "
            f"{_rng(u['compile_optimizer_s'], '.1f', ' s')} | {large or '-'} |"
        )
    return L


def _cache_table(res: dict[str, Any]) -> list[str]:
    c = res.get("cache")
    if not c:
        return []
    name, n = CACHE_PROBLEM
    L = [
        "",
        "## Compile and cache load (fresh processes)",
        "",
        f"Each figure is a fresh subprocess that imports dcompile, compiles `{name}` (n = {n}) with "
        "`dc.compile` and calls `dc.minimize` once (then once more, warm). *Cold*: an empty "
        "`DCOMPILE_CACHE_DIR`, one process; *warm*: later processes reusing that directory (median of "
        f"{res['settings'].get('cache_warm_reps', '?')}). `compile_seconds` of the first call covers tracing "
        "the objective, generating and compiling (or loading) its value-and-gradient kernel (and Hessian / HVP "
        "kernel for newton / newton-cg), and compiling (or loading) the method's driver loop. `process` = the "
        "whole subprocess wall time: interpreter start, imports (`import dcompile` itself is listed apart), "
        "both calls, exit.",
        "",
        "| method | cold: compile_seconds (s) | cold: process (s) | warm: compile_seconds (s) | warm: process (s) | "
        "import dcompile (s) | warm solve (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, d in c.items():
        cold, warm = d["cold"], d["warm"]
        if "error" in cold:
            L.append(f"| {m} | error: {cold['error'][:120]} | | | | | |")
            continue
        L.append(
            f"| {m} | {cold['compile_seconds']:.2f} | {cold['process_wall_s']:.2f} | "
            f"{_g(warm.get('compile_seconds'), '.3f')} | {_g(warm.get('process_wall_s'), '.2f')} | "
            f"{_g(warm.get('import_s'), '.2f')} | {_g((warm.get('solve_seconds') or 0) * 1e3, '.3f')} |"
        )
    rewrote = [
        f"{m} ({', '.join(w['new_modules'])})" for m, d in c.items() for w in d["warm_runs"] if w.get("new_modules")
    ]
    L += [
        "",
        "Warm processes that wrote new modules into the cache dir (i.e. compiled instead of loading; expected: none): "
        + ("; ".join(rewrote) if rewrote else "none")
        + ".",
    ]
    return L


def _method_table(method: str, rows: list[dict[str, Any]]) -> list[str]:
    sp_name = rows[0]["scipy_method"] if rows else ""
    L = [
        "",
        f"## {method} vs scipy {sp_name}: per problem",
        "",
        "nit / nfev / nhev: iterations, value-and-gradient evaluations, Hessian (newton, trust-exact) or "
        "Hessian-vector product (newton-cg, Newton-CG) evaluations, as each optimizer counts them. Times per "
        "solve in µs, compile excluded; `compile` = `compile_seconds` of the first `dc.minimize` call "
        "(the driver loop of this method for this objective, cold cache dir).",
        "",
        "| problem | n | fmin | scipy nit / nfev / nhev | scipy f | scipy abs / rel err | scipy stop | scipy solved "
        "| dc nit / nfev / nhev | dc f | dc abs / rel err | dc success | dc solved | nfev dc / scipy | "
        "scipy (µs) | dc call (µs) | dc loop (µs) | speedup, call | speedup, loop | compile (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, sp, t = r["dc"], r["scipy"], r["times"]
        how = r["dc_solved_how"]
        if d is None:
            L.append(f"| {r['problem']} | {r['n']} | {_g(r['fmin'], '.6g')} | dcompile error: {r['dc_error']} |")
            continue
        if sp:
            sp_cells = (
                f"{sp['nit']} / {sp['nfev']} / {sp['nhev']} | {sp['f']:.6g} | "
                f"{_g(sp['abs_err'], '.1e')} / {_g(sp['rel_err'], '.1e')} | "
                f"{('' if sp['success'] else 'failed: ') + _short(sp['message'])} | {_yn(r['scipy_solved'])}"
            )
        else:
            sp_cells = f"- | - | - | {r.get('scipy_error', '')[:60]} | **no**"
        t_cells = (
            f"{_us(t['scipy']['median_s'])} | {_us(t['dc_wall']['median_s'])} | {_us(t['dc_loop']['median_s'])} | "
            f"{t['speedup_wall']:.1f}x | {t['speedup_loop']:.1f}x"
            if t
            else "- | - | - | - | -"
        )
        L.append(
            f"| {r['problem']} | {r['n']} | {_g(r['fmin'], '.6g')} | {sp_cells} | "
            f"{d['nit']} / {d['nfev']} / {d['nhev']} | {d['f']:.6g} | "
            f"{_g(d['abs_err'], '.1e')} / {_g(d['rel_err'], '.1e')} | "
            f"{'yes' if d['success'] else 'no (' + _short(d['message']) + ')'} | "
            f"{'yes' if how == 'fmin' else how if how != 'no' else '**no**'} | "
            f"{_g(r['nfev_ratio'], '.2f')} | {t_cells} | {r['compile_optimizer_s']:.2f} |"
        )
    return L


def _outcome_table(rows: list[dict[str, Any]]) -> list[str]:
    L = [
        "",
        "## Results per problem",
        "",
        "| problem | n | fmin | scipy nit / nfev | scipy f | scipy abs / rel err | scipy stop | scipy solved "
        "| dc nit / nfev | dc f | dc abs / rel err | dc success | dc solved | nfev dc / scipy | "
        "nfev dc / scipy(ftol=0) (its nfev, solved?) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sp, d, s0 = r["scipy"], r["dc"], r["scipy_ftol0"]
        how = r["dc_solved_how"]
        L.append(
            f"| {r['problem']} | {r['n']} | {_g(r['fmin'], '.6g')} | {sp['nit']} / {sp['nfev']} | {sp['f']:.6g} | "
            f"{_g(sp['abs_err'], '.1e')} / {_g(sp['rel_err'], '.1e')} | {_short(sp['message'])} | "
            f"{_yn(r['scipy_solved'])} | {d['nit']} / {d['nfev']} | {d['f']:.6g} | "
            f"{_g(d['abs_err'], '.1e')} / {_g(d['rel_err'], '.1e')} | "
            f"{'yes' if d['success'] else 'no (' + _short(d['message']) + ')'} | "
            f"{'yes' if how == 'fmin' else how if how != 'no' else '**no**'} | "
            f"{r['nfev_ratio']:.2f} | {r['nfev_ratio_ftol0']:.2f} "
            f"({s0['nfev']}, {'solved' if s0['near_fmin'] else 'not solved'}) |"
        )
    return L


def _time_table(rows: list[dict[str, Any]]) -> list[str]:
    L = [
        "",
        "## Time per solve (compile excluded) and compile time",
        "",
        "Compile: `grad` = first call of `dc.value_and_grad(f)` (trace + numba compile, fresh cache dir); "
        "`optimizer` = `compile_seconds` of the first `dc.minimize` call (compiling the L-BFGS driver loop and its "
        "line search for this objective; the driver is cached on disk, and this run's cache dir starts empty, so "
        "these are cold compiles - a second process loads them, see the compile and cache table).",
        "",
        "| problem | n | scipy (µs) | dc call (µs) | dc loop (µs) | speedup, call | speedup, loop | "
        "compile grad (s) | compile optimizer (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["times"]
        L.append(
            f"| {r['problem']} | {r['n']} | {_us(t['scipy']['median_s'])} | {_us(t['dc_wall']['median_s'])} | "
            f"{_us(t['dc_loop']['median_s'])} | {t['speedup_wall']:.1f}x | {t['speedup_loop']:.1f}x | "
            f"{r['compile_grad_s']:.2f} | {r['compile_optimizer_s']:.2f} |"
        )
    tot = sum(r["compile_grad_s"] + r["compile_optimizer_s"] for r in rows)
    opt = [r["compile_optimizer_s"] for r in rows]
    L += [
        "",
        f"Compile total {tot:.0f} s over {len(rows)} problems; optimizer compile median {statistics.median(opt):.1f} s "
        f"(range {min(opt):.1f}-{max(opt):.1f} s).",
    ]
    return L


def _breakdown_table(rows: list[dict[str, Any]]) -> list[str]:
    L = [
        "",
        "## Where the time goes",
        "",
        "`eval` = one value-and-gradient call: `in numba` from an `@njit` loop (what dcompile's loop pays), "
        "`from Python` = `vg(x)` (what scipy pays). `dc fixed` = `solve_seconds` with `maxiter=0` (the "
        "Python→numba call of the loop plus one evaluation). `dc other / iter` = (loop - fixed - (nfev-1)·eval) "
        "/ nit: the L-BFGS two-loop recursion, line-search bookkeeping and temporaries. `dc wrapper` = dc call - "
        "dc loop: `dc.minimize`'s Python work per call (building `value_and_grad`, one extra evaluation to check "
        "the arguments, typing the arguments, allocating the history). `scipy other / iter` = (scipy - "
        "nfev·eval from Python) / nit.",
        "",
        "| problem | n | eval in numba (µs) | eval from Python (µs) | objective share of dc loop | dc fixed (µs) "
        "| dc other / iter (µs) | dc wrapper (µs) | scipy other / iter (µs) | objective share of scipy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = r["breakdown"]
        L.append(
            f"| {r['problem']} | {r['n']} | {_us(r['eval_numba_s'])} | {_us(r['eval_py_s'])} | "
            f"{b['dc_objective_share']:.0%} | {_us(r['dc_fixed_s'])} | {_us(b['dc_loop_other_per_iter_s'])} | "
            f"{_us(b['dc_wrapper_s'])} | {_us(b['scipy_other_per_iter_s'])} | {b['scipy_objective_share']:.0%} |"
        )
    return L


def _notes(res: dict[str, Any]) -> list[str]:
    L = ["", "## Notes", ""]
    L += [f"- {n}" for n in res["notes"]]
    return L


def auto_notes(res: dict[str, Any]) -> list[str]:
    rows = res["rows"]
    notes = []
    small = [r for r in rows if r["n"] <= SMALL_N]
    if small:
        wrap = statistics.median(r["breakdown"]["dc_wrapper_s"] for r in small)
        fixed = statistics.median(r["dc_fixed_s"] for r in small)
        other = statistics.median(r["breakdown"]["dc_loop_other_per_iter_s"] for r in small)
        ev = statistics.median(r["eval_numba_s"] for r in small)
        sp_other = statistics.median(r["breakdown"]["scipy_other_per_iter_s"] for r in small)
        notes.append(
            f"n ≤ {SMALL_N} (medians over {len(small)} problems): a warm `dc.minimize` call spends {_us(wrap)} µs "
            f"in Python before and after the compiled loop, the loop call itself costs {_us(fixed)} µs before the "
            f"first iteration, and each iteration costs {_us(other)} µs outside the objective against "
            f"{_us(ev)} µs per objective evaluation; scipy's L-BFGS-B costs {_us(sp_other)} µs per iteration "
            "outside the objective (the medians of the `Where the time goes` table)."
        )
    big = [r for r in rows if (r["problem"], r["n"]) == LARGE]
    for r in big:
        b = r["breakdown"]
        notes.append(
            f"extended Rosenbrock n = 10^4: one evaluation costs {_us(r['eval_numba_s'])} µs in numba; the objective "
            f"is {b['dc_objective_share']:.0%} of dcompile's loop and {b['scipy_objective_share']:.0%} of scipy's "
            f"time; dcompile's loop spends {_us(b['dc_loop_other_per_iter_s'])} µs per iteration outside it, "
            f"scipy {_us(b['scipy_other_per_iter_s'])} µs."
        )
    for r in rows:
        if r["scipy_solved"] and not r["dc_solved"]:
            notes.append(
                f"{r['label']}: scipy reaches fmin, dcompile stops at f = {r['dc']['f']:.6g} ({r['dc']['message']})"
            )
        elif not r["scipy_solved"] and r["dc_solved_how"] == "fmin":
            notes.append(f"{r['label']}: dcompile reaches fmin, scipy stops at f = {r['scipy']['f']:.6g}")
    abs_only = [r for r in rows if r["scipy_solved"] and (r["scipy"]["rel_err"] or 0.0) > 1e-3]
    for r in abs_only:
        notes.append(
            f"{r['label']}: scipy counts as solved only through the 1e-8 absolute tolerance (f = "
            f"{r['scipy']['f']:.6g}, relative error {r['scipy']['rel_err']:.1e} against fmin = {r['fmin']:.6g}); "
            f"dcompile's extra evaluations ({r['dc']['nfev']} vs {r['scipy']['nfev']}) buy the digits scipy skips."
        )
    ftol_stops = [r for r in rows if not r["scipy_solved"] and "REDUCTION" in r["scipy"]["message"]]
    if ftol_stops:
        rescued = [r["label"] for r in ftol_stops if r["scipy_ftol0"]["near_fmin"]]
        notes.append(
            f"scipy misses fmin on {len(ftol_stops)} problems by stopping on its relative-decrease test "
            f"(ftol 2.2e-9) before the gradient test; with ftol=0 it reaches fmin on {len(rescued)} of them"
            + (f" ({', '.join(rescued)})" if rescued else "")
            + ". The time ratios on these problems compare unequal work (scipy stopped early)."
        )
    over = [r for r in rows if r["scipy_solved"] and r["nfev_ratio"] > TARGETS["nfev_ratio_max"]]
    if over:
        notes.append(
            "nfev ratio above target on "
            + ", ".join(
                f"{r['label']} ({r['nfev_ratio']:.2f}; {r['nfev_ratio_ftol0']:.2f} against scipy with ftol=0)"
                for r in over
            )
            + ". scipy stops on its relative-decrease test (ftol 2.2e-9) as soon as f stalls, dcompile only on the "
            "gradient test; the ftol=0 column compares under the same stopping rule."
        )
    bl = res.get("blas")
    if bl and "error" not in bl.get("default_threads", {}) and "error" not in bl.get("one_thread", {}):
        d, o = bl["default_threads"], bl["one_thread"]
        ratio = d["median_s"] / o["median_s"]
        notes.append(
            f"BLAS threads: scipy's L-BFGS-B on Rosenbrock n = 2 (numpy objective, fresh subprocess) took "
            f"{d['median_s'] * 1e3:.2f} ms per solve with OpenBLAS's default thread pool and "
            f"{o['median_s'] * 1e3:.2f} ms with one thread ({ratio:.1f}x) in this run. This benchmark pins one "
            "thread (unless OPENBLAS_NUM_THREADS is set) so that scipy is measured at its best: L-BFGS-B's "
            "small Cholesky/triangular-solve BLAS calls gain nothing from threads, and on this 2-core shared "
            "machine a loaded moment can make the pool stall (while preparing this benchmark one such run cost "
            "scipy ~8 ms per iteration, 0.25 s per Rosenbrock solve, with the default pool, and 1.1 ms with one "
            "thread). With the default pool the speedups above could only be larger."
        )
    notes += method_notes(res)
    notes.append(
        "Compile cost: each method's loop is a numba function specialised to the objective's kernels, written "
        "into a generated driver module in the dcompile cache dir (`dcompile/optimize/driver.py`) and cached "
        "on disk; the per-problem compile columns are cold compiles (this run's cache dir starts empty), the "
        "compile and cache table shows what a second process pays to load them."
    )
    return notes


def method_notes(res: dict[str, Any]) -> list[str]:
    """Where a method and scipy's counterpart disagree on solving a problem."""
    notes = []
    for m, mrows in res.get("methods", {}).items():
        for r in mrows:
            if r["dc"] is None:
                notes.append(f"{m} on {r['label']}: not run, dcompile raised {r['dc_error']}")
            elif r["scipy_solved"] and not r["dc_solved"]:
                notes.append(
                    f"{m} on {r['label']}: scipy {r['scipy_method']} reaches fmin (f = {r['scipy']['f']:.6g}), "
                    f"dcompile stops at f = {r['dc']['f']:.6g} after {r['dc']['nit']} iterations, status "
                    f"{r['dc']['status']}: {r['dc']['message']}"
                )
            elif not r["scipy_solved"] and r["dc_solved_how"] == "fmin":
                sp = r["scipy"]
                notes.append(
                    f"{m} on {r['label']}: dcompile reaches fmin, scipy {r['scipy_method']} stops at f = "
                    + (f"{sp['f']:.6g} ({sp['message']})" if sp else f"- ({r.get('scipy_error', '')})")
                )
            elif not r["dc"]["success"] and r["dc_solved"]:
                notes.append(
                    f"{m} on {r['label']}: dcompile reaches the minimum (f = {r['dc']['f']:.6g}) but reports "
                    f"status {r['dc']['status']}: {r['dc']['message']}"
                )
    return notes


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def problem_lists(methods: tuple[str, ...], quick: bool, only: list[str] | None) -> dict[str, list[tuple[str, Any]]]:
    """Per method, the (name, n) problems it runs."""
    from dcompile.optimize.problems import PROBLEMS

    out = {}
    for m in methods:
        if only:
            todo = [(k, None) for k in only]
        elif quick:
            todo = [q for q in QUICK if m in ("lbfgs", "newton-cg") or q[1] != 10**4]
        else:
            extra = EXTRA if m in ("lbfgs", "newton-cg") else EXTRA[:1]  # dense n = 10^4 (bfgs, newton): no
            todo = [(k, None) for k in PROBLEMS] + list(extra)
        out[m] = todo
    return out


def run_problems(  # noqa: PLR0917
    dc: Any,
    methods: tuple[str, ...],
    lists: dict[str, list[tuple[str, Any]]],
    todo: list[tuple[str, Any]],
    samples: int,
    target_s: float,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Every problem once: compile the objective, then each method that runs it."""
    loop = eval_loop() if "lbfgs" in methods else None
    rows: list[dict[str, Any]] = []
    mrows: dict[str, list[dict[str, Any]]] = {m: [] for m in methods if m != "lbfgs"}
    for name, n in todo:
        t0 = time.perf_counter()
        ctx = prepare(dc, name, n)
        if "lbfgs" in methods and (name, n) in lists["lbfgs"]:
            row = bench_problem(dc, loop, ctx, samples=samples, target_s=target_s)
            rows.append(row)
            t = row["times"]
            print(
                f"  {row['label']:<30} lbfgs     nfev dc/sp {row['dc']['nfev']}/{row['scipy']['nfev']} "
                f"solved dc/sp {row['dc_solved_how']}/{row['scipy_solved']} speedup call {t['speedup_wall']:.1f}x "
                f"loop {t['speedup_loop']:.1f}x  compile {row['compile_grad_s']:.1f}+"
                f"{row['compile_optimizer_s']:.1f} s",
                flush=True,
            )
        for m, out in mrows.items():
            if (name, n) not in lists[m]:
                continue
            r = bench_method(dc, ctx, m, samples=samples, target_s=target_s)
            out.append(r)
            if r["dc"] is None:
                print(f"  {r['label']:<30} {m:<9} error: {r['dc_error']}", flush=True)
                continue
            t = r["times"]
            print(
                f"  {r['label']:<30} {m:<9} nfev dc/sp {r['dc']['nfev']}/{r['scipy']['nfev'] if r['scipy'] else '-'} "
                f"solved dc/sp {r['dc_solved_how']}/{r['scipy_solved']} "
                + (f"speedup call {t['speedup_wall']:.1f}x loop {t['speedup_loop']:.1f}x " if t else "")
                + f"compile {r['compile_optimizer_s']:.1f} s",
                flush=True,
            )
        print(f"  ({ctx['label']}: {time.perf_counter() - t0:.1f} s)", flush=True)

    return rows, mrows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="four problems, fewer samples")
    ap.add_argument("--samples", type=int, default=None, help="timing samples per contender (default 7, quick 5)")
    ap.add_argument("--target", type=float, default=None, help="seconds per sample (default 0.02, quick 0.01)")
    ap.add_argument("--only", nargs="*", default=None, help="problem names to run (default sizes)")
    ap.add_argument(
        "--methods",
        nargs="+",
        default=list(COMPARED),
        choices=COMPARED,
        help="dcompile methods to compare with scipy (default: all four)",
    )
    ap.add_argument("--no-cache", action="store_true", help="skip the compile / cache-load subprocesses")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    ap.add_argument("--worker", choices=("blas", "cache"), help=argparse.SUPPRESS)
    ap.add_argument("--worker-method", default="lbfgs", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker == "blas":
        print(json.dumps(worker_blas()))
        return
    if a.worker == "cache":
        print(json.dumps(worker_cache(a.worker_method)))
        return

    import scipy

    samples = a.samples or (5 if a.quick else 7)
    target_s = a.target or (0.01 if a.quick else 0.02)
    warm_reps = 1 if a.quick else 3
    methods = tuple(m for m in COMPARED if m in a.methods)
    command = " ".join([".venv/bin/python", "benchmarks/bench_optimize.py", *sys.argv[1:]])
    t_start = time.perf_counter()

    cache = None
    if not a.no_cache:  # first, so that the subprocesses do not share the machine with the main run
        cache_methods = tuple(m for m in CACHE_METHODS if m in methods or m == "gd")
        print(f"compile / cache-load subprocesses ({', '.join(cache_methods)}) ...", flush=True)
        cache = measure_cache(cache_methods, warm_reps)

    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="dcompile-bench-optimize-")  # cold compiles
    lists = problem_lists(methods, a.quick, a.only)
    todo: list[tuple[str, Any]] = []
    for m in methods:
        todo += [q for q in lists[m] if q not in todo]

    print("BLAS-thread diagnostic (subprocesses) ...", flush=True)
    blas = measure_blas()

    import dcompile as dc

    rows, mrows = run_problems(dc, methods, lists, todo, samples, target_s)

    res: dict[str, Any] = {
        "machine": machine_info(command),
        "settings": {
            "quick": a.quick,
            "methods": list(methods),
            "samples": samples,
            "target_s": target_s,
            "targets": TARGETS,
            "dc_options": DC_OPTIONS,
            "scipy_options": SCIPY_OPTIONS,
            "scipy": scipy.__version__,
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            "cache_problem": list(CACHE_PROBLEM),
            "cache_warm_reps": warm_reps,
        },
        "blas": blas,
        "rows": rows,
        "methods": mrows,
        "cache": cache,
    }
    res["targets"] = evaluate_targets(rows) if rows else []
    res["summaries"] = {}
    if rows:
        res["summaries"]["lbfgs"] = summarize_method("lbfgs", [{**r, "method": "lbfgs"} for r in rows])
    for m, rs in mrows.items():
        res["summaries"][m] = summarize_method(m, rs)
    res["notes"] = auto_notes(res)
    res["total_s"] = time.perf_counter() - t_start
    a.out.mkdir(parents=True, exist_ok=True)
    stem = "optimize_quick" if a.quick else "optimize"
    (a.out / f"{stem}.json").write_text(json.dumps(res, indent=1, default=float))
    (a.out / f"{stem}.md").write_text(render_markdown(res))
    print(f"wrote {a.out / stem}.json and .md ({res['total_s']:.0f} s)")
    for tr in res["targets"]:
        print(f"  {tr['status']:<12} {tr['target']}: {tr['result']}")
    for m, u in res["summaries"].items():
        print(
            f"  {m:<10} solved dc {u['dc_solved']}/{u['problems']} scipy {u['scipy_solved']}; misses "
            f"{u['dc_misses_scipy_solves'] or 'none'}; speedup call {_rng(u['speedup_wall'])} "
            f"loop {_rng(u['speedup_loop'])}"
        )


if __name__ == "__main__":
    main()
