"""NIST StRD nonlinear regression: dc.least_squares against certified values and SciPy.

The 27 problems of NIST's Statistical Reference Datasets for nonlinear least
squares (``benchmarks/data/nist_strd``, public-domain NIST data), each from
its two certified starting points: 54 solves. For each solve and solver the
report gives the *log relative error* of the parameters against the
certified values, ``LRE = -log10(|b - b_cert| / |b_cert|)`` (capped at 11),
its minimum over the parameters, and a verdict: *solved* when the minimum
LRE is at least 4 (four correct digits in every parameter); a *false
success* is a run that reports success without them.

Solvers, all given the same model:

* dcompile: ``dc.least_squares(residual, b0, args=(x, y))`` at its default
  options (Levenberg-Marquardt with Moré's scaled trust region; the
  Jacobian derived and compiled by dcompile), and with ``method="trf"``
  (trust-region reflective);
* SciPy ``least_squares`` with the Jacobian compiled by dcompile
  (``dc.jacobian``), at default options, with ``method="trf"`` (SciPy's
  default) and ``method="lm"`` (MINPACK), and ``trf`` with tight tolerances
  (``ftol = xtol = gtol = 1e-15``, ``max_nfev = 10^5``).

Also reported: dcompile's standard errors (``sqrt(diag(covariance))``)
against NIST's certified standard deviations (LRE), the evaluations, and
the median wall time per solve of each solver (warm).

Two more tables:

* **bounded**: each solve again with a box that cuts the certified solution
  (the first parameter bounded halfway between its start and its certified
  value, the others within 50 % of the certified value around both), by
  dcompile's ``trf`` and ``lm`` (active set) and SciPy's ``trf`` at default
  and tight tolerances. No certified answer exists there: a solver *reaches
  the best* when its sum of squares is within 1e-8 relative of the lowest any
  of them found; a false success reports success more than 1e-6 above it.
* **minimize**: the sum of squares ``0.5 |r|^2`` handed to ``dc.minimize``
  (Newton and L-BFGS, default options) — the path issue 20 measured 10 false
  successes on — to show what its stopping tests report.

Run from the repository root::

    .venv/bin/python benchmarks/bench_nist.py           # all 54 solves (a few minutes: 23 models compile)
    .venv/bin/python benchmarks/bench_nist.py --quick   # 6 problems

Results go to ``benchmarks/results/nist.json`` and ``benchmarks/results/nist.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("DCOMPILE_QUIET", "1")

import numpy as np
from machine import machine_info
from scipy.optimize import least_squares as scipy_least_squares

import dcompile as dc

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "nist_strd"
RESULTS = HERE / "results"
LRE_CAP = 11.0
SOLVED = 4.0


# -- the models: residual(b, x, y) = model(b, x) - y -------------------------------------------------
def _exp3(b, x):
    return b[0] * np.exp(-b[1] * x) + b[2] * np.exp(-b[3] * x) + b[4] * np.exp(-b[5] * x)


def _gauss(b, x):
    return (
        b[0] * np.exp(-b[1] * x)
        + b[2] * np.exp(-((x - b[3]) ** 2) / b[4] ** 2)
        + b[5] * np.exp(-((x - b[6]) ** 2) / b[7] ** 2)
    )


def _rat33(b, x):
    return (b[0] + b[1] * x + b[2] * x**2 + b[3] * x**3) / (1.0 + b[4] * x + b[5] * x**2 + b[6] * x**3)


MODELS: dict[str, Callable[[Any, Any], Any]] = {
    "Misra1a": lambda b, x: b[0] * (1.0 - np.exp(-b[1] * x)),
    "Chwirut2": lambda b, x: np.exp(-b[0] * x) / (b[1] + b[2] * x),
    "Chwirut1": lambda b, x: np.exp(-b[0] * x) / (b[1] + b[2] * x),
    "Lanczos3": _exp3,
    "Gauss1": _gauss,
    "Gauss2": _gauss,
    "DanWood": lambda b, x: b[0] * x ** b[1],
    "Misra1b": lambda b, x: b[0] * (1.0 - (1.0 + b[1] * x / 2.0) ** (-2.0)),
    "Kirby2": lambda b, x: (b[0] + b[1] * x + b[2] * x**2) / (1.0 + b[3] * x + b[4] * x**2),
    "Hahn1": _rat33,
    "Nelson": lambda b, x: b[0] - b[1] * x[:, 0] * np.exp(-b[2] * x[:, 1]),  # fits log(y)
    "MGH17": lambda b, x: b[0] + b[1] * np.exp(-x * b[3]) + b[2] * np.exp(-x * b[4]),
    "Lanczos1": _exp3,
    "Lanczos2": _exp3,
    "Gauss3": _gauss,
    "Misra1c": lambda b, x: b[0] * (1.0 - (1.0 + 2.0 * b[1] * x) ** (-0.5)),
    "Misra1d": lambda b, x: b[0] * b[1] * x * (1.0 + b[1] * x) ** (-1.0),
    "Roszman1": lambda b, x: b[0] - b[1] * x - np.arctan(b[2] / (x - b[3])) / np.pi,
    "ENSO": lambda b, x: (
        b[0]
        + b[1] * np.cos(2.0 * np.pi * x / 12.0)
        + b[2] * np.sin(2.0 * np.pi * x / 12.0)
        + b[4] * np.cos(2.0 * np.pi * x / b[3])
        + b[5] * np.sin(2.0 * np.pi * x / b[3])
        + b[7] * np.cos(2.0 * np.pi * x / b[6])
        + b[8] * np.sin(2.0 * np.pi * x / b[6])
    ),
    "MGH09": lambda b, x: b[0] * (x**2 + x * b[1]) / (x**2 + x * b[2] + b[3]),
    "Thurber": _rat33,
    "BoxBOD": lambda b, x: b[0] * (1.0 - np.exp(-b[1] * x)),
    "Rat42": lambda b, x: b[0] / (1.0 + np.exp(b[1] - b[2] * x)),
    "MGH10": lambda b, x: b[0] * np.exp(b[1] / (x + b[2])),
    "Eckerle4": lambda b, x: (b[0] / b[1]) * np.exp(-0.5 * ((x - b[2]) / b[1]) ** 2),
    "Rat43": lambda b, x: b[0] / ((1.0 + np.exp(b[1] - b[2] * x)) ** (1.0 / b[3])),
    "Bennett5": lambda b, x: b[0] * (b[1] + x) ** (-1.0 / b[2]),
}
QUICK = ("Misra1a", "Lanczos3", "MGH09", "MGH10", "Eckerle4", "Nelson")


def parse(name: str) -> dict[str, Any]:
    """Starting values, certified values and data of one NIST ``.dat`` file."""
    lines = (DATA / f"{name}.dat").read_text().splitlines()
    start1, start2, cert, sd = [], [], [], []
    for line in lines:
        parts = line.split()
        if len(parts) == 6 and parts[0].startswith("b") and parts[1] == "=":
            start1.append(float(parts[2]))
            start2.append(float(parts[3]))
            cert.append(float(parts[4]))
            sd.append(float(parts[5]))
    data_at = max(i for i, line in enumerate(lines) if line.startswith("Data:"))
    rows = [[float(v) for v in line.split()] for line in lines[data_at + 1 :] if line.strip()]
    table = np.array(rows)
    y = table[:, 0].copy()
    x = table[:, 1].copy() if table.shape[1] == 2 else np.ascontiguousarray(table[:, 1:])
    if name == "Nelson":
        y = np.log(y)
    return {"start": [np.array(start1), np.array(start2)], "cert": np.array(cert), "sd": np.array(sd), "x": x, "y": y}


def lre(b: np.ndarray, cert: np.ndarray) -> np.ndarray:
    err = np.abs(b - cert) / np.abs(cert)
    with np.errstate(divide="ignore"):
        out = np.where(err == 0.0, LRE_CAP, -np.log10(err))
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, LRE_CAP)


def residual_function(name: str) -> Any:
    model = MODELS[name]

    def residual(b, x, y):
        return model(b, x) - y

    residual.__name__ = f"{name.lower()}_residual"
    return dc.compile(residual, name=residual.__name__)


def timed(run: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def box_around(b0: np.ndarray, cert: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A box holding ``b0`` that cuts the certified solution: parameter 0 bounded halfway to it."""
    lo = np.minimum(b0, cert) - 0.5 * np.abs(cert) - 1e-3
    hi = np.maximum(b0, cert) + 0.5 * np.abs(cert) + 1e-3
    if b0[0] < cert[0]:
        hi[0] = 0.5 * (b0[0] + cert[0])
    else:
        lo[0] = 0.5 * (b0[0] + cert[0])
    return lo, hi


def bounded(r: Any, fun: Callable[..., Any], jfun: Callable[..., Any], prob: dict[str, Any], b0: np.ndarray) -> Any:
    """Cost, evaluations and success of each solver on the box of :func:`box_around`."""
    box = box_around(b0, prob["cert"])
    out: dict[str, Any] = {}
    for method in ("trf", "lm"):
        d = dc.least_squares(r, b0, args=(prob["x"], prob["y"]), method=method, bounds=box)
        out[f"dcompile_{method}"] = {"cost": d.cost, "nfev": d.nfev, "success": bool(d.success)}
    for label, kw in (("scipy_trf", {}), ("scipy_trf_tight", {"ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15})):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = scipy_least_squares(fun, b0, jac=jfun, bounds=box, method="trf", max_nfev=100000, **kw)
        out[label] = {"cost": float(s.cost), "nfev": int(s.nfev), "success": bool(s.success)}
    best = min(v["cost"] for v in out.values())
    for v in out.values():
        v["best"] = bool(v["cost"] - best <= 1e-8 * best)
        v["false_success"] = bool(v["success"] and v["cost"] - best > 1e-6 * best)
    return out


_SUMS: dict[str, Any] = {}


def through_minimize(name: str, prob: dict[str, Any], b0: np.ndarray) -> dict[str, Any]:
    """``dc.minimize`` of ``0.5 |r|^2`` with Newton and L-BFGS at default options."""
    f = _SUMS.get(name)
    if f is None:
        model = MODELS[name]

        def ss(b, x, y):
            r = model(b, x) - y
            return 0.5 * np.sum(r * r)

        ss.__name__ = f"{name.lower()}_ss"
        f = _SUMS[name] = dc.compile(ss, name=ss.__name__)
    out = {}
    for method in ("newton", "lbfgs"):
        res = dc.minimize(f, b0, args=(prob["x"], prob["y"]), method=method)
        out[method] = {"min_lre": float(lre(res.x, prob["cert"]).min()), "success": bool(res.success), "nfev": res.nfev}
    return out


def solve_all(names: tuple[str, ...], reps: int) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        prob = parse(name)
        r = residual_function(name)
        jac = dc.jacobian(r, wrt=0)
        t = time.perf_counter()
        first = dc.least_squares(r, prob["start"][0], args=(prob["x"], prob["y"]))
        compile_s = time.perf_counter() - t
        jac(prob["start"][0], prob["x"], prob["y"])  # compile the Jacobian SciPy is given, untimed

        def fun(b, r=r, p=prob):
            return r(b, p["x"], p["y"])

        def jfun(b, jac=jac, p=prob):
            return jac(b, p["x"], p["y"])

        for k, b0 in enumerate(prob["start"]):
            row: dict[str, Any] = {"problem": name, "start": k + 1, "n": int(b0.size), "m": int(prob["y"].size)}
            d = dc.least_squares(r, b0, args=(prob["x"], prob["y"]))
            d_lre = lre(d.x, prob["cert"])
            sd_lre = lre(np.sqrt(np.diag(d.covariance)), prob["sd"]) if np.isfinite(d.covariance).all() else None
            row["dcompile"] = {
                "min_lre": float(d_lre.min()),
                "success": bool(d.success),
                "status": d.status,
                "nfev": d.nfev,
                "njev": d.njev,
                "sd_min_lre": None if sd_lre is None else float(sd_lre.min()),
                "time_s": timed(lambda b0=b0, r=r, p=prob: dc.least_squares(r, b0, args=(p["x"], p["y"])), reps),
            }
            t = dc.least_squares(r, b0, args=(prob["x"], prob["y"]), method="trf")
            row["dcompile_trf"] = {
                "min_lre": float(lre(t.x, prob["cert"]).min()),
                "success": bool(t.success),
                "status": t.status,
                "nfev": t.nfev,
                "time_s": timed(
                    lambda b0=b0, r=r, p=prob: dc.least_squares(r, b0, args=(p["x"], p["y"]), method="trf"), reps
                ),
            }
            row["bounded"] = bounded(r, fun, jfun, prob, b0)
            row["minimize"] = through_minimize(name, prob, b0)
            for label, kw in (
                ("scipy_trf", {"method": "trf"}),
                ("scipy_lm", {"method": "lm"}),
                ("scipy_trf_tight", {"method": "trf", "ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15, "max_nfev": 100000}),
            ):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        s = scipy_least_squares(fun, b0, jac=jfun, **kw)
                        s_lre = lre(s.x, prob["cert"])
                        row[label] = {
                            "min_lre": float(s_lre.min()),
                            "success": bool(s.success),
                            "status": int(s.status),
                            "nfev": int(s.nfev),
                            "time_s": timed(lambda b0=b0, kw=kw: scipy_least_squares(fun, b0, jac=jfun, **kw), reps),
                        }
                    except Exception as exc:
                        row[label] = {"min_lre": 0.0, "success": False, "error": f"{type(exc).__name__}: {exc}"}
            row["compile_s"] = compile_s if k == 0 else None
            rows.append(row)
            print(
                f"{name:9s} start {k + 1}: dcompile LRE {row['dcompile']['min_lre']:5.1f} "
                f"{'ok ' if d.success else 'no '} | trf {row['scipy_trf']['min_lre']:5.1f} "
                f"| lm {row['scipy_lm']['min_lre']:5.1f} | tight {row['scipy_trf_tight']['min_lre']:5.1f}",
                file=sys.stderr,
            )
        del first
    return rows


SOLVERS = ("dcompile", "dcompile_trf", "scipy_trf", "scipy_lm", "scipy_trf_tight")
BOUNDED = ("dcompile_trf", "dcompile_lm", "scipy_trf", "scipy_trf_tight")


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in SOLVERS:
        solved = sum(r[s]["min_lre"] >= SOLVED for r in rows)
        false_success = sum(r[s]["success"] and r[s]["min_lre"] < SOLVED for r in rows)
        times = [r[s]["time_s"] for r in rows if r[s].get("time_s") is not None]
        out[s] = {
            "solved": solved,
            "of": len(rows),
            "false_success": false_success,
            "reported_success": sum(r[s]["success"] for r in rows),
            "median_time_s": statistics.median(times) if times else None,
            "total_nfev": sum(r[s].get("nfev", 0) for r in rows),
        }
    out["bounded"] = {
        b: {
            "best": sum(r["bounded"][b]["best"] for r in rows),
            "false_success": sum(r["bounded"][b]["false_success"] for r in rows),
            "total_nfev": sum(r["bounded"][b]["nfev"] for r in rows),
        }
        for b in BOUNDED
    }
    out["minimize"] = {
        m: {
            "solved": sum(r["minimize"][m]["min_lre"] >= SOLVED for r in rows),
            "false_success": sum(r["minimize"][m]["success"] and r["minimize"][m]["min_lre"] < SOLVED for r in rows),
            "reported_success": sum(r["minimize"][m]["success"] for r in rows),
            "total_nfev": sum(r["minimize"][m]["nfev"] for r in rows),
        }
        for m in ("newton", "lbfgs")
    }
    ratios = [r["scipy_trf"]["time_s"] / r["dcompile"]["time_s"] for r in rows if r["scipy_trf"].get("time_s")]
    out["median_speedup_vs_scipy_trf"] = statistics.median(ratios) if ratios else None
    sds = [r["dcompile"]["sd_min_lre"] for r in rows if r["dcompile"]["sd_min_lre"] is not None]
    out["sd_lre_median"] = statistics.median(sds) if sds else None
    out["sd_lre_min"] = min(sds) if sds else None
    return out


def render(res: dict[str, Any]) -> str:
    s = res["summary"]
    lines = [
        "# NIST StRD nonlinear regression: dc.least_squares vs SciPy",
        "",
        f"Machine: {res['machine'].get('cpu', '?')}, numba {res['machine'].get('numba', '?')}, "
        f"{res['machine'].get('date', '')}. Command: `{res['command']}`.",
        "",
        "Solved = every parameter to at least 4 significant digits of NIST's certified value (minimum LRE >= 4);"
        " a false success reports success without that. Times are medians per solve (warm), the same compiled"
        " residual and Jacobian for every solver.",
        "",
        "| solver | solved | false successes | reported successes | evaluations (total) | median time per solve |",
        "|---|---|---|---|---|---|",
    ]
    for name in SOLVERS:
        t = s[name]
        ms = f"{t['median_time_s'] * 1e3:.3f} ms" if t["median_time_s"] is not None else "-"
        lines.append(
            f"| {name} | {t['solved']}/{t['of']} | {t['false_success']} | {t['reported_success']} | "
            f"{t['total_nfev']} | {ms} |"
        )
    lines += [
        "",
        f"Target (issue 20): at least 53/54 solved and no false success at dcompile's default options: "
        f"**{s['dcompile']['solved']}/{s['dcompile']['of']}, {s['dcompile']['false_success']} false successes**. "
        f"Median speed-up over SciPy's default (trf) per solve: {s['median_speedup_vs_scipy_trf']:.1f}x. "
        f"dcompile's standard errors against NIST's certified standard deviations: median LRE "
        f"{s['sd_lre_median']:.1f}, minimum {s['sd_lre_min']:.1f}.",
        "",
        "**Bounded** (each solve with a box cutting the certified solution; see the script's doc): reaching the"
        " best = within 1e-8 relative of the lowest sum of squares any solver found.",
        "",
        "| solver | reaches the best | false successes | evaluations (total) |",
        "|---|---|---|---|",
        *(
            f"| {b} | {s['bounded'][b]['best']}/{s['dcompile']['of']} | {s['bounded'][b]['false_success']} | "
            f"{s['bounded'][b]['total_nfev']} |"
            for b in BOUNDED
        ),
        "",
        "**Through dc.minimize** (the sum of squares `0.5 |r|^2`, default options; success needs the gradient"
        " test once the run has settled):",
        "",
        "| method | solved | false successes | reported successes | evaluations (total) |",
        "|---|---|---|---|---|",
        *(
            f"| {m} | {s['minimize'][m]['solved']}/{s['dcompile']['of']} | {s['minimize'][m]['false_success']} | "
            f"{s['minimize'][m]['reported_success']} | {s['minimize'][m]['total_nfev']} |"
            for m in ("newton", "lbfgs")
        ),
        "",
        "| problem | start | n | m | dcompile LRE | ok | nfev | SE LRE | dc trf LRE | ok | nfev | SciPy trf LRE | ok "
        "| lm LRE | ok | tight trf LRE |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        d, t = r["dcompile"], r["dcompile_trf"]
        sd = "-" if d["sd_min_lre"] is None else f"{d['sd_min_lre']:.1f}"
        lines.append(
            f"| {r['problem']} | {r['start']} | {r['n']} | {r['m']} | {d['min_lre']:.1f} | "
            f"{'y' if d['success'] else 'n'} | "
            f"{d['nfev']} | {sd} | {t['min_lre']:.1f} | {'y' if t['success'] else 'n'} | {t['nfev']} | "
            f"{r['scipy_trf']['min_lre']:.1f} | {'y' if r['scipy_trf']['success'] else 'n'} | "
            f"{r['scipy_lm']['min_lre']:.1f} | {'y' if r['scipy_lm']['success'] else 'n'} | "
            f"{r['scipy_trf_tight']['min_lre']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    names = QUICK if args.quick else tuple(MODELS)
    rows = solve_all(names, 3 if args.quick else args.reps)
    command = "python benchmarks/bench_nist.py" + (" --quick" if args.quick else "")
    res = {
        "machine": machine_info(command),
        "command": command,
        "rows": rows,
        "summary": summary(rows),
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "nist_quick" if args.quick else "nist"
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=1, default=float))
    (RESULTS / f"{stem}.md").write_text(render(res))
    print(render(res))


if __name__ == "__main__":
    main()
