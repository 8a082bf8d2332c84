"""Bound-constrained benchmark: dcompile's L-BFGS-B (``dc.minimize(..., bounds=)``) vs SciPy's L-BFGS-B.

The issue's target: on bound-constrained problems of the Moré-Garbow-Hillstrom / CUTEst tradition,
against SciPy's L-BFGS-B given the same compiled gradient, the same or a better solution, fewer
evaluations, less time.

Problems (all built here):

* ``driver1``: the example of the L-BFGS-B distribution (``driver1.f`` of Zhu, Byrd, Lu and Nocedal's
  L-BFGS-B 3.0), ``f(x) = (x_1 - 1)^2 + 4 sum_{i>=2} (x_i - x_{i-1}^2)^2``, an extended Rosenbrock-like
  chain; 1-based odd entries (0-based even) in ``[1, 100]``, the others in ``[-100, 100]``;
  ``x0 = 3``; at n = 25 (the distribution's size), 1000 and 10^4.
* ``<mgh name> (box)``: every problem of ``dcompile.optimize.problems`` (the Moré-Garbow-Hillstrom
  set, ``f = sum r_i^2``) at its default dimension, in a box built from a minimiser ``x*`` of the
  unconstrained problem (``p.xmin`` where the module gives one exactly, else the point
  ``dc.minimize(f, p.x0, options={"gtol": 1e-8, "maxiter": 10000})`` returns; its success is
  reported) and the standard start ``x0``, about half the variables active at the solution:

  - 0-based even ``i``: ``lo_i = -inf``, ``hi_i = x*_i - 0.1 (1 + |x*_i|)`` (cuts off the
    unconstrained minimiser, so the bound is normally active);
  - 0-based odd ``i``: ``lo_i = x0_i - 10 (1 + |x0_i|)``, ``hi_i = +inf`` (a far bound, normally
    inactive);
  - the start is ``x0`` projected into the box (both solvers get the same, feasible, start).

* ``lsq m x n``: box-constrained linear least squares ``f(x) = 0.5 |A x - b|^2`` with ``A`` and ``b``
  standard normal (numpy ``default_rng`` seeds fixed), m x n = 200 x 50 and 2000 x 500, ``x0 = 0``,
  the box ``|x_i| <= s`` with ``s`` the median of ``|x_ls|`` (``x_ls`` the unconstrained solution, so
  about half the bounds bind). ``scipy.optimize.lsq_linear(A, b, bounds, method="bvls", tol=1e-14)``
  gives the exact answer; each solver's ``max |x - x_bvls|`` and ``f - f_bvls`` are reported. ``A``
  and ``b`` are passed as data arguments (``args=(A, b)``; gradient with respect to ``x`` only).

Contenders (one ``dc.compile`` of the objective per problem; ``vg = dc.value_and_grad(f)``):

* ``dc``: ``dc.minimize(f, x0, args, bounds=Bounds(lo, hi), options={"gtol": 1e-6, "maxiter":
  10000})`` (success when ``max_i |P(x - g)_i - x_i| <= gtol``). Two times: the whole warm call
  and its ``res.solve_seconds`` (the compiled loop alone).
* ``scipy``: ``scipy.optimize.minimize(lambda x: vg(x, *args), x0, jac=True, method="L-BFGS-B",
  bounds=Bounds(lo, hi), options={"gtol": 1e-6})`` - SciPy's defaults otherwise: ``ftol``
  2.2e-9 (stops on a small relative decrease of f), ``maxiter`` = ``maxfun`` = 15000, ``maxcor``
  10 (= dcompile's ``m``).
* ``scipy tight``: the same with ``options={"ftol": 0, "gtol": 1e-6, "maxfun": 10**7, "maxiter":
  10**5}``: SciPy asked for dcompile's stopping test (the projected gradient only).

Per problem and solver: final f and the projected-gradient norm ``pg = max_i |clip(x - g, lo, hi)_i -
x_i|``, both recomputed here from the returned ``x`` with a fresh ``vg`` call (the same code for every
solver); ``nfev`` (value-and-gradient evaluations, as each solver counts them); success; the box
violation of ``x``; how many bounds are active at ``x``.

Verdicts, dcompile against each SciPy run: f ``better`` / ``same`` / ``worse`` (same = the two within
``max(1e-8, 1e-8 max(|f_dc|, |f_sp|))``); ``fewer evaluations`` (``nfev`` strictly lower); ``faster``
(time ratio scipy / dcompile > 1, whole call). Counts over the set and the median over problems of the
time ratio. Flagged as suspected bugs: dcompile reports success but its recomputed ``pg`` exceeds
``gtol``; its f is worse than either SciPy run's by more than the tolerance; its ``x`` leaves the box;
``success`` disagrees with ``status == 0``.

Timing: after one untimed call per contender, ``--samples`` samples per contender, each running it
back to back for >= ``--target`` seconds (at least once); contenders round-robin in one process;
per-solve time = median over samples; ratio = median over samples of the per-sample ratio. One BLAS
thread (``OPENBLAS_NUM_THREADS=1`` unless set): the lsq objectives' ``A @ x`` and SciPy's own BLAS
calls run single-threaded on both sides.

Run from the repository root::

    DCOMPILE_QUIET=1 .venv/bin/python benchmarks/bench_bounds.py          # full run (~5-10 minutes)
    DCOMPILE_QUIET=1 .venv/bin/python benchmarks/bench_bounds.py --quick  # five problems, fewer samples
    DCOMPILE_QUIET=1 .venv/bin/python benchmarks/bench_bounds.py --only driver1 rosenbrock

Results go to ``benchmarks/results/bounds.json`` and ``benchmarks/results/bounds.md`` (``--quick`` and
``--only`` write ``bounds_quick.*`` so they do not overwrite the full run).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from machine import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
GTOL = 1e-6
DC_OPTIONS = {"gtol": GTOL, "maxiter": 10_000}
SCIPY_DEFAULT = {"gtol": GTOL}
SCIPY_TIGHT = {"ftol": 0.0, "gtol": GTOL, "maxfun": 10**7, "maxiter": 10**5}
PRESOLVE_OPTIONS = {"gtol": 1e-8, "maxiter": 10_000}
DRIVER1_NS = (25, 1000, 10**4)
LSQ_SIZES = ((200, 50, 0), (2000, 500, 1))  # (m, n, seed)
QUICK = ("driver1 n=25", "driver1 n=1000", "rosenbrock (box)", "wood (box)", "lsq 200x50")
SOLVERS = ("dc", "scipy", "scipy_tight")
SP_RUNS = ("scipy", "scipy_tight")
SLOW_S = 1.0  # a first solve slower than this: fewer samples


def f_tol(a: float, b: float) -> float:
    return max(1e-8, 1e-8 * max(abs(a), abs(b)))


# ---------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------
@dataclass
class Case:
    label: str
    family: str  # driver1 / mgh / lsq
    f: Callable  # the NumPy objective given to dc.compile
    x0: np.ndarray  # already inside the box
    lo: np.ndarray
    hi: np.ndarray
    args: tuple = ()
    wrt: Any = None  # value_and_grad's wrt (0 when args carry data)
    info: dict[str, Any] = field(default_factory=dict)
    ref_x: np.ndarray | None = None  # the exact solution (lsq)
    ref_f: float | None = None
    compiled: Any = None  # dc.compile(f), shared with the pre-solve


def driver1_f(x):
    """L-BFGS-B 3.0's driver1.f: 4 (0.25 (x_1 - 1)^2 + sum (x_i - x_{i-1}^2)^2)."""
    return (x[0] - 1.0) ** 2 + 4.0 * np.sum((x[1:] - x[:-1] ** 2) ** 2)


def lsq_f(x, A, b):
    r = A @ x - b
    return 0.5 * np.sum(r * r)


def driver1_case(n: int) -> Case:
    even = np.arange(n) % 2 == 0  # 1-based odd
    lo = np.where(even, 1.0, -100.0)
    hi = np.full(n, 100.0)
    return Case(
        f"driver1 n={n}",
        "driver1",
        driver1_f,
        np.full(n, 3.0),
        lo,
        hi,
        info={"box": "0-based even entries in [1, 100], others in [-100, 100]", "x0": "3"},
    )


def lsq_case(m: int, n: int, seed: int) -> Case:
    from scipy.optimize import lsq_linear

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    b = rng.standard_normal(m)
    x_ls = np.linalg.lstsq(A, b, rcond=None)[0]
    s = float(np.median(np.abs(x_ls)))
    lo, hi = np.full(n, -s), np.full(n, s)
    t = time.perf_counter()
    ref = lsq_linear(A, b, bounds=(lo, hi), method="bvls", tol=1e-14)
    ref_s = time.perf_counter() - t
    x_ref = np.clip(ref.x, lo, hi)
    r = A @ x_ref - b
    return Case(
        f"lsq {m}x{n}",
        "lsq",
        lsq_f,
        np.zeros(n),
        lo,
        hi,
        args=(A, b),
        wrt=0,
        ref_x=x_ref,
        ref_f=float(0.5 * r @ r),
        info={
            "seed": seed,
            "box": f"-s <= x_i <= s, s = median abs(x_ls) = {s:.6g}",
            "bvls_status": int(ref.status),
            "bvls_nit": int(ref.nit),
            "bvls_seconds": ref_s,
            "active_at_bvls": int(np.sum(at_bound(x_ref, lo, hi))),
        },
    )


def mgh_case(dc: Any, name: str) -> Case:
    """A Moré-Garbow-Hillstrom problem in the box of the module doc (pre-solved where x* is unknown)."""
    from dcompile.optimize.problems import problem

    p = problem(name)
    fc = dc.compile(p.f)
    info: dict[str, Any] = {"mgh": p.mgh, "fmin_unconstrained": p.fmin}
    if p.xmin is not None:
        xs = np.asarray(p.xmin, dtype=float)
        info["x_star"] = "p.xmin (published)"
    else:
        r = dc.minimize(fc, p.x0, options=PRESOLVE_OPTIONS)
        xs = np.asarray(r.x, dtype=float)
        info["x_star"] = "unconstrained dc.minimize"
        info["presolve"] = {"f": float(r.fun), "success": bool(r.success), "message": r.message, "nit": int(r.nit)}
    i = np.arange(p.n)
    even = i % 2 == 0
    lo = np.where(even, -np.inf, p.x0 - 10.0 * (1.0 + np.abs(p.x0)))
    hi = np.where(even, xs - 0.1 * (1.0 + np.abs(xs)), np.inf)
    info["x_star_values"] = xs.tolist()
    info["x0_standard"] = p.x0.tolist()
    case = Case(f"{name} (box)", "mgh", p.f, np.clip(p.x0, lo, hi), lo, hi, info=info)
    case.compiled = fc
    return case


def case_list(dc: Any, quick: bool, only: list[str] | None) -> list[Case | dict[str, Any]]:
    from dcompile.optimize.problems import names

    want = set(QUICK) if quick else None
    labels = [f"driver1 n={n}" for n in DRIVER1_NS]
    labels += [f"{nm} (box)" for nm in names()]
    labels += [f"lsq {m}x{n}" for m, n, _ in LSQ_SIZES]

    def keep(lab: str) -> bool:
        if only:
            return any(lab == o or lab.startswith(o) for o in only)
        return want is None or lab in want

    out: list[Case | dict[str, Any]] = []
    for lab in labels:
        if not keep(lab):
            continue
        try:
            if lab.startswith("driver1"):
                out.append(driver1_case(int(lab.split("=")[1])))
            elif lab.startswith("lsq"):
                m, n, seed = next(s for s in LSQ_SIZES if lab == f"lsq {s[0]}x{s[1]}")
                out.append(lsq_case(m, n, seed))
            else:
                out.append(mgh_case(dc, lab.removesuffix(" (box)")))
        except Exception as e:  # a problem that cannot be built (pre-solve raised): skipped, reported
            out.append({"label": lab, "skipped": f"building the problem raised {_err(e)}"})
    return out


# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------
def _err(e: BaseException) -> str:
    lines = str(e).strip().splitlines() or [""]
    return f"{type(e).__name__}: {lines[0]}"[:300]


def proj_grad(x: np.ndarray, g: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    return float(np.max(np.abs(np.clip(x - g, lo, hi) - x))) if x.size else 0.0


def at_bound(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Entries within 1e-10 (1 + |bound|) of a finite bound."""
    fin_lo, fin_hi = np.isfinite(lo), np.isfinite(hi)
    lo_f, hi_f = np.where(fin_lo, lo, 0.0), np.where(fin_hi, hi, 0.0)
    near_lo = fin_lo & (x <= lo_f + 1e-10 * (1.0 + np.abs(lo_f)))
    near_hi = fin_hi & (x >= hi_f - 1e-10 * (1.0 + np.abs(hi_f)))
    return near_lo | near_hi


def assess(case: Case, vg: Any, x: np.ndarray) -> dict[str, Any]:
    """f, projected gradient, box violation and active bounds at ``x``, from a fresh evaluation."""
    f, g = vg(x, *case.args)
    g = np.asarray(g, dtype=float)
    viol = float(max(np.max(case.lo - x, initial=0.0), np.max(x - case.hi, initial=0.0)))
    active = int(np.sum(at_bound(x, case.lo, case.hi)))
    out = {"f": float(f), "pg": proj_grad(x, g, case.lo, case.hi), "box_violation": viol, "active": active}
    if case.ref_x is not None:
        out["err_x_inf"] = float(np.max(np.abs(x - case.ref_x)))
        out["err_f"] = float(f) - case.ref_f
    return out


def summary(r: Any, kind: str) -> dict[str, Any]:
    out = {
        "nit": int(r.nit),
        "nfev": int(r.nfev),
        "success": bool(r.success),
        "status": int(r.status),
        "message": str(r.message),
        "fun_reported": float(r.fun),
    }
    if kind == "dc":
        out["compile_seconds"] = float(r.compile_seconds)
        out["solve_seconds"] = float(r.solve_seconds)
    return out


def _calls(target_s: float, once_s: float) -> int:
    return max(1, min(10_000, math.ceil(target_s / max(once_s, 1e-7))))


def time_round_robin(solves: dict[str, Callable[[], Any]], once: dict[str, float], samples: int, target_s: float):
    """Per-solve seconds of each contender (and dcompile's ``solve_seconds``), round-robin."""
    k = {name: _calls(target_s, once[name]) for name in solves}
    runs: dict[str, list[float]] = {name: [] for name in solves}
    runs["dc_loop"] = []
    for _ in range(samples):
        for name, solve in solves.items():
            loop = 0.0
            t = time.perf_counter()
            for _ in range(k[name]):
                r = solve()
                if name == "dc":
                    loop += r.solve_seconds
            runs[name].append((time.perf_counter() - t) / k[name])
            if name == "dc":
                runs["dc_loop"].append(loop / k[name])
    out: dict[str, Any] = {
        name: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs_s": v}
        for name, v in runs.items()
    }
    out["calls_per_sample"] = k
    out["samples"] = samples
    for sp in SP_RUNS:
        out[f"ratio_{sp}"] = statistics.median(s / d for s, d in zip(runs[sp], runs["dc"], strict=True))
        out[f"ratio_{sp}_loop"] = statistics.median(s / d for s, d in zip(runs[sp], runs["dc_loop"], strict=True))
    return out


def verdicts(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    d = row["dc"]
    out = {}
    for sp in SP_RUNS:
        s = row[sp]
        tol = f_tol(d["f"], s["f"])
        fv = "worse" if d["f"] > s["f"] + tol else "better" if d["f"] < s["f"] - tol else "same"
        ev = "fewer" if d["nfev"] < s["nfev"] else "equal" if d["nfev"] == s["nfev"] else "more"
        ratio = row["times"][f"ratio_{sp}"]
        out[sp] = {
            "f": fv,
            "f_diff": d["f"] - s["f"],
            "nfev": ev,
            "nfev_ratio": d["nfev"] / max(s["nfev"], 1),
            "faster": bool(ratio > 1.0),
            "time_ratio": ratio,
            "time_ratio_loop": row["times"][f"ratio_{sp}_loop"],
        }
    return out


def _vec(a: np.ndarray) -> list[float] | str:
    a = np.asarray(a, dtype=float)
    if a.size <= 50:
        return a.tolist()
    return f"n={a.size}: first 10 {np.round(a[:10], 6).tolist()}"


def flags(case: Case, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Suspected dcompile bugs on this problem (see the module doc), each with what reproduces it."""
    d = row["dc"]
    found = []
    if d["success"] and d["pg"] > GTOL:
        found.append(f"success but recomputed projected gradient {d['pg']:.3g} > gtol {GTOL:g}")
    if d["success"] != (d["status"] == 0):
        found.append(f"success={d['success']} but status={d['status']}")
    if d["box_violation"] > 0.0:
        found.append(f"x outside the box by {d['box_violation']:.3g}")
    for sp in SP_RUNS:
        v = row["verdicts"][sp]
        if v["f"] == "worse":
            found.append(f"f worse than {sp}'s by {v['f_diff']:.3g} (dc {d['f']:.10g}, {sp} {row[sp]['f']:.10g})")
    if not found:
        return []
    return [
        {
            "problem": case.label,
            "what": what,
            "x0": _vec(case.x0),
            "lo": _vec(case.lo),
            "hi": _vec(case.hi),
            "dc": {k: row["dc"][k] for k in ("f", "pg", "nit", "nfev", "status", "message")}
            | {"x": _vec(row["x"]["dc"])},
            **{
                sp: {k: row[sp][k] for k in ("f", "pg", "nit", "nfev", "message")} | {"x": _vec(row["x"][sp])}
                for sp in SP_RUNS
            },
        }
        for what in found
    ]


def bench_case(dc: Any, case: Case, samples: int, target_s: float) -> dict[str, Any]:
    from scipy.optimize import Bounds
    from scipy.optimize import minimize as sp_minimize

    n = case.x0.size
    row: dict[str, Any] = {"problem": case.label, "family": case.family, "n": n, "info": case.info}
    f = case.compiled if case.compiled is not None else dc.compile(case.f)
    vg = dc.value_and_grad(f) if case.wrt is None else dc.value_and_grad(f, wrt=case.wrt)
    t = time.perf_counter()
    vg(case.x0, *case.args)
    row["compile_grad_s"] = time.perf_counter() - t
    bounds = Bounds(case.lo, case.hi)
    args = case.args
    row["active_at_x0"] = int(np.sum(at_bound(case.x0, case.lo, case.hi)))

    def dc_solve() -> Any:
        return dc.minimize(f, case.x0, args=args, bounds=bounds, options=DC_OPTIONS)

    fun = lambda x: vg(x, *args)  # scipy calls the compiled kernel from Python, as a user would

    def sp_solve(options: dict[str, Any]) -> Callable[[], Any]:
        def solve() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return sp_minimize(fun, case.x0, jac=True, method="L-BFGS-B", bounds=bounds, options=options)

        return solve

    solves = {"dc": dc_solve, "scipy": sp_solve(SCIPY_DEFAULT), "scipy_tight": sp_solve(SCIPY_TIGHT)}
    first: dict[str, Any] = {}
    once: dict[str, float] = {}
    for name, solve in solves.items():
        t = time.perf_counter()
        try:
            first[name] = solve()  # untimed (dcompile: compile or cache load)
        except Exception as e:
            row["skipped"] = f"{name} raised {_err(e)}"
            row["traceback"] = traceback.format_exc()[-2000:]
            return row
        once[name] = time.perf_counter() - t
    row["dc_first_call_s"] = once["dc"]
    t = time.perf_counter()
    dc_solve()
    once["dc"] = time.perf_counter() - t
    row["x"] = {}
    for name in SOLVERS:
        r = first[name]
        x = np.asarray(r.x, dtype=float)
        row["x"][name] = x
        row[name] = summary(r, "dc" if name == "dc" else "scipy") | assess(case, vg, x)
    if max(once.values()) > SLOW_S:
        samples = min(samples, 3)
    gc.collect()
    row["times"] = time_round_robin(solves, once, samples, target_s)
    row["verdicts"] = verdicts(row)
    row["flags"] = flags(case, row)
    return row


# ---------------------------------------------------------------------------
# summary and report
# ---------------------------------------------------------------------------
def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if "verdicts" in r]
    out: dict[str, Any] = {"problems": len(done), "skipped": [r["problem"] for r in rows if "skipped" in r]}
    for sp in SP_RUNS:
        vs = [r["verdicts"][sp] for r in done]
        ratios = [v["time_ratio"] for v in vs]
        loops = [v["time_ratio_loop"] for v in vs]
        nf = [v["nfev_ratio"] for v in vs]
        out[sp] = {
            "f_better": sum(v["f"] == "better" for v in vs),
            "f_same": sum(v["f"] == "same" for v in vs),
            "f_worse": sum(v["f"] == "worse" for v in vs),
            "nfev_fewer": sum(v["nfev"] == "fewer" for v in vs),
            "nfev_equal": sum(v["nfev"] == "equal" for v in vs),
            "nfev_more": sum(v["nfev"] == "more" for v in vs),
            "faster": sum(v["faster"] for v in vs),
            "median_time_ratio": statistics.median(ratios) if ratios else None,
            "min_time_ratio": min(ratios, default=None),
            "max_time_ratio": max(ratios, default=None),
            "median_time_ratio_loop": statistics.median(loops) if loops else None,
            "median_nfev_ratio": statistics.median(nf) if nf else None,
        }
    out["success"] = {s: sum(r[s]["success"] for r in done) for s in SOLVERS}
    out["pg_le_gtol"] = {s: sum(r[s]["pg"] <= GTOL for r in done) for s in SOLVERS}
    out["flags"] = [fl for r in done for fl in r["flags"]]
    return out


def outliers(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if "verdicts" not in r:
            continue
        v, d = r["verdicts"]["scipy"], r["dc"]
        why = []
        if v["f"] == "worse":
            why.append(f"f worse ({d['f']:.6g} vs {r['scipy']['f']:.6g})")
        if v["nfev_ratio"] > 1.0:
            t = r["scipy_tight"]["nfev"]
            why.append(
                f"more evaluations ({d['nfev']} vs {r['scipy']['nfev']}; scipy tight {t}"
                + (", also more" if d["nfev"] > t else "")
                + ")"
            )
        if v["time_ratio"] < 1.0:
            why.append(f"slower (scipy/dc {v['time_ratio']:.2f}x)")
        if not d["success"]:
            why.append(f"dc not successful ({_short(d['message'])})")
        if d["pg"] > GTOL:
            why.append(f"dc pg {d['pg']:.2g} > gtol")
        if all(r[x]["pg"] > GTOL for x in SOLVERS):
            why.append("no solver reaches pg <= gtol: " + ", ".join(f"{x} pg {r[x]['pg']:.2g}" for x in SOLVERS))
        if why:
            out.append(f"{r['problem']}: " + "; ".join(why))
    return out


def _short(msg: str) -> str:
    return (
        msg.replace("CONVERGENCE: ", "")
        .replace("Optimization terminated successfully: ", "")
        .replace("NORM OF PROJECTED GRADIENT <= PGTOL", "pg <= pgtol")
        .replace("RELATIVE REDUCTION OF F <= FACTR*EPSMCH", "rel. reduction of f <= factr*eps")[:44]
    )


def _g(x: float | None, fmt: str = ".3g") -> str:
    return "-" if x is None else format(x, fmt)


def _us(s: float) -> str:
    u = s * 1e6
    return f"{u:.3g}" if u < 1000 else f"{u:,.0f}"


def render_markdown(res: dict[str, Any]) -> str:
    m, st, rows, su = res["machine"], res["settings"], res["rows"], res["summary"]
    L = [
        "# dcompile L-BFGS-B (`dc.minimize(..., bounds=)`) vs SciPy L-BFGS-B on bound-constrained problems",
        "",
        f"Command to reproduce (from the repository root): `{m['command']}`",
        "",
        f"- date: {m['date']}",
        f"- machine: {m['cores']} cores, {m['cpu']} ({m['platform']}); shared and noisy: quote medians and ratios",
        f"- python {m['python']}, numba {m['numba']}, numpy {m['numpy']}, scipy {st['scipy']}, "
        f"dcompile {m['dcompile']} (git {m['git_commit']}); OPENBLAS_NUM_THREADS={st['blas_threads']}",
        f"- dcompile: `dc.minimize(f, x0, args, bounds=Bounds(lo, hi), options={DC_OPTIONS})`. SciPy: "
        "`minimize(lambda x: vg(x, *args), x0, jac=True, method='L-BFGS-B', bounds=Bounds(lo, hi), options=...)` "
        f"with `vg = dc.value_and_grad(f)` (the same compiled kernel): **scipy** `options={SCIPY_DEFAULT}` "
        f"(defaults otherwise: ftol 2.2e-9, maxiter = maxfun = 15000, maxcor 10); **scipy tight** "
        f"`options={SCIPY_TIGHT}` (SciPy asked for dcompile's stopping test).",
        "- f and pg = max abs(clip(x - g, lo, hi) - x) recomputed from each returned x with a fresh `vg` call. "
        "f verdict: same = within max(1e-8, 1e-8 max(abs(f_dc), abs(f_sp))). nfev: value-and-gradient evaluations as "
        "each solver counts them.",
        f"- time per solve: median over {st['samples']} samples (3 where one solve takes > {SLOW_S:g} s) of >= "
        f"{st['target_s']} s each, after one untimed call, contenders round-robin; ratio = median over samples "
        "of scipy time / dcompile time (whole warm `dc.minimize` call; `loop` = against `res.solve_seconds`).",
        "- problems and boxes: see the script's docstring. MGH boxes: 0-based even i: "
        "hi_i = x*_i - 0.1 (1 + abs(x*_i)), lo_i = -inf; odd i: lo_i = x0_i - 10 (1 + abs(x0_i)), hi_i = +inf; "
        "start = x0 projected into the box.",
        "",
        "## Summary",
        "",
        f"{su['problems']} problems run"
        + (f"; skipped (a solver or the problem build raised): {', '.join(su['skipped'])}" if su["skipped"] else "")
        + ". dcompile against each SciPy run:",
        "",
        "| against | f better / same / worse | fewer / equal / more evaluations | faster | "
        "median time ratio scipy/dc, whole call (range) | median, loop only | median nfev dc/scipy |",
        "|---|---|---|---|---|---|---|",
    ]
    for sp in SP_RUNS:
        u = su[sp]
        L.append(
            f"| {sp.replace('_', ' ')} | {u['f_better']} / {u['f_same']} / {u['f_worse']} | "
            f"{u['nfev_fewer']} / {u['nfev_equal']} / {u['nfev_more']} | {u['faster']}/{su['problems']} | "
            f"{_g(u['median_time_ratio'], '.2f')}x ({_g(u['min_time_ratio'], '.2f')}-{_g(u['max_time_ratio'], '.2f')}x)"
            f" | {_g(u['median_time_ratio_loop'], '.2f')}x | {_g(u['median_nfev_ratio'], '.2f')} |"
        )
    L += [
        "",
        f"Success flags: dc {su['success']['dc']}, scipy {su['success']['scipy']}, scipy tight "
        f"{su['success']['scipy_tight']} of {su['problems']}. Recomputed pg <= gtol: dc {su['pg_le_gtol']['dc']}, "
        f"scipy {su['pg_le_gtol']['scipy']}, scipy tight {su['pg_le_gtol']['scipy_tight']}.",
        "",
        "## Suspected dcompile bugs (success with pg > gtol, f worse than SciPy's, x outside the box)",
        "",
    ]
    if su["flags"]:
        for fl in su["flags"]:
            L.append(f"- **{fl['problem']}**: {fl['what']} (details and x in the JSON `summary.flags`)")
    else:
        L.append("none")
    L += ["", "## Outliers (against scipy default)", ""]
    L += [f"- {o}" for o in res["outliers"]] or ["none"]
    L += [
        "",
        "## Per problem",
        "",
        "f and pg recomputed; `act` = active bounds at x (of n); nfev; `ok` = the solver's success flag. Times in "
        "µs per solve; ratio = scipy / dc (whole call).",
        "",
        "| problem | n | act x0 | dc f | dc pg | dc nfev | dc ok | dc act | scipy f | scipy pg | scipy nfev | scipy ok "
        "| tight f | tight pg | tight nfev | tight ok | f vs scipy / tight | dc call (µs) | dc loop (µs) | scipy (µs) "
        "| tight (µs) | ratio scipy | ratio tight | dc compile (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "verdicts" not in r:
            L.append(f"| {r['problem']} | skipped: {r['skipped']} |")
            continue
        d, s, t, tm, v = r["dc"], r["scipy"], r["scipy_tight"], r["times"], r["verdicts"]

        def ok(x: dict[str, Any]) -> str:
            return "yes" if x["success"] else f"no ({_short(x['message'])})"

        L.append(
            f"| {r['problem']} | {r['n']} | {r['active_at_x0']} | {d['f']:.8g} | {d['pg']:.1e} | {d['nfev']} | "
            f"{ok(d)} | {d['active']} | {s['f']:.8g} | {s['pg']:.1e} | {s['nfev']} | {ok(s)} | {t['f']:.8g} | "
            f"{t['pg']:.1e} | {t['nfev']} | {ok(t)} | {v['scipy']['f']} / {v['scipy_tight']['f']} | "
            f"{_us(tm['dc']['median_s'])} | {_us(tm['dc_loop']['median_s'])} | {_us(tm['scipy']['median_s'])} | "
            f"{_us(tm['scipy_tight']['median_s'])} | {v['scipy']['time_ratio']:.2f}x | "
            f"{v['scipy_tight']['time_ratio']:.2f}x | {d['compile_seconds']:.2f} |"
        )
    lsq = [r for r in rows if r["family"] == "lsq" and "verdicts" in r]
    if lsq:
        L += [
            "",
            "## Linear least squares against the exact BVLS solution",
            "",
            "| problem | box | active at x_bvls | f_bvls | dc max abs(x - x_bvls) | dc f - f_bvls | "
            "scipy max abs(x - x_bvls) | scipy f - f_bvls | tight max abs(x - x_bvls) | tight f - f_bvls |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in lsq:
            i = r["info"]
            L.append(
                f"| {r['problem']} | {i['box']} | {i['active_at_bvls']} | {r['ref_f']:.10g} | "
                + " | ".join(f"{r[s]['err_x_inf']:.2e} | {r[s]['err_f']:.2e}" for s in SOLVERS)
                + " |"
            )
    mgh = [r for r in rows if r["family"] == "mgh"]
    if mgh:
        L += [
            "",
            "## MGH boxes: where x* came from",
            "",
            "| problem | n | x* | unconstrained pre-solve (f, success) |",
            "|---|---|---|---|",
        ]
        for r in mgh:
            i = r["info"]
            pre = i.get("presolve")
            L.append(
                f"| {r['problem']} | {r['n']} | {i['x_star']} | "
                + (f"{pre['f']:.6g}, {pre['success']}" if pre else "-")
                + " |"
            )
    L += ["", f"Total run time: {res['total_s']:.0f} s."]
    return "\n".join(L) + "\n"


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        r = dict(row)
        x = r.pop("x", None)
        if x is not None and r["n"] <= 50:
            r["x"] = {k: v.tolist() for k, v in x.items()}
        out.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"{len(QUICK)} problems, fewer samples")
    ap.add_argument("--samples", type=int, default=None, help="timing samples per contender (default 7, quick 3)")
    ap.add_argument("--target", type=float, default=None, help="seconds per sample (default 0.05, quick 0.01)")
    ap.add_argument("--only", nargs="*", default=None, help="problem labels (or label prefixes) to run")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    a = ap.parse_args()

    import scipy

    import dcompile as dc

    samples = a.samples or (3 if a.quick else 7)
    target_s = a.target or (0.01 if a.quick else 0.05)
    command = " ".join(["DCOMPILE_QUIET=1", ".venv/bin/python", "benchmarks/bench_bounds.py", *sys.argv[1:]])
    t_start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for case in case_list(dc, a.quick, a.only):
        if isinstance(case, dict):
            rows.append({**case, "family": "?", "n": 0})
            print(f"  {case['label']:<32} skipped: {case['skipped']}", flush=True)
            continue
        t = time.perf_counter()
        try:
            row = bench_case(dc, case, samples, target_s)
        except Exception as e:  # report, do not stop the run
            row = {"problem": case.label, "family": case.family, "n": case.x0.size, "skipped": _err(e)}
            row["traceback"] = traceback.format_exc()[-2000:]
        if case.ref_f is not None:
            row["ref_f"] = case.ref_f
        rows.append(row)
        if "verdicts" in row:
            v = row["verdicts"]["scipy"]
            print(
                f"  {case.label:<32} dc f {row['dc']['f']:.6g} pg {row['dc']['pg']:.1e} nfev {row['dc']['nfev']:>5} | "
                f"scipy f {row['scipy']['f']:.6g} nfev {row['scipy']['nfev']:>5} | tight nfev "
                f"{row['scipy_tight']['nfev']:>5} | f {v['f']}, x{v['time_ratio']:.2f} "
                f"({time.perf_counter() - t:.1f} s){' FLAG' if row['flags'] else ''}",
                flush=True,
            )
        else:
            print(f"  {case.label:<32} skipped: {row['skipped']}", flush=True)

    res: dict[str, Any] = {
        "machine": machine_info(command),
        "settings": {
            "quick": a.quick,
            "only": a.only,
            "samples": samples,
            "target_s": target_s,
            "gtol": GTOL,
            "dc_options": DC_OPTIONS,
            "scipy_default_options": SCIPY_DEFAULT,
            "scipy_tight_options": SCIPY_TIGHT,
            "presolve_options": PRESOLVE_OPTIONS,
            "scipy": scipy.__version__,
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        },
        "rows": rows,
    }
    res["summary"] = summarize(rows)
    res["outliers"] = outliers(rows)
    res["total_s"] = time.perf_counter() - t_start
    a.out.mkdir(parents=True, exist_ok=True)
    stem = "bounds_quick" if (a.quick or a.only) else "bounds"
    res["rows"] = _jsonable(rows)
    (a.out / f"{stem}.json").write_text(json.dumps(res, indent=1, default=float))
    (a.out / f"{stem}.md").write_text(render_markdown(res))
    su = res["summary"]
    print(f"wrote {a.out / stem}.json and .md ({res['total_s']:.0f} s)")
    for sp in SP_RUNS:
        u = su[sp]
        print(
            f"  vs {sp:<12} f better/same/worse {u['f_better']}/{u['f_same']}/{u['f_worse']}; nfev fewer/equal/more "
            f"{u['nfev_fewer']}/{u['nfev_equal']}/{u['nfev_more']}; faster {u['faster']}/{su['problems']}; median "
            f"time ratio {_g(u['median_time_ratio'], '.2f')}x (loop {_g(u['median_time_ratio_loop'], '.2f')}x)"
        )
    for fl in su["flags"]:
        print(f"  FLAG {fl['problem']}: {fl['what']}")


if __name__ == "__main__":
    main()
