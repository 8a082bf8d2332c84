"""Plain Python objectives in ``dc.minimize`` (callbacks from the compiled loops) against SciPy.

The same Python ``fun`` and ``jac`` (NumPy code) are handed to ``dc.minimize(fun, x0, jac=jac)``
(L-BFGS and BFGS with dcompile's strong Wolfe line search, the loop in numba, each evaluation a
callback into Python) and to ``scipy.optimize.minimize`` (``L-BFGS-B`` and ``BFGS``), gtol 1e-6
for both (SciPy's ``L-BFGS-B`` uses ``pgtol``, the same max-norm test; ``BFGS`` its ``gtol``).

Problems:

* ``rosenbrock``: extended Rosenbrock, n = 100, the standard start.
* ``logistic``: L2-regularised logistic regression, N = 5000 rows, d = 50, synthetic data
  (seed 0): each evaluation is two matrix-vector products, so the evaluation dominates.

Timing: each solver runs ``--repeats`` times after one untimed warm-up (which compiles dcompile's
driver, or loads it from the disk cache); medians of the whole ``minimize`` call. The figure that
matters is per-evaluation overhead (the loop's own cost) and the number of evaluations.

Run from the repository root::

    python benchmarks/bench_python_objective.py [--repeats 15]

Writes benchmarks/results/python_objective.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import scipy.optimize as so

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dcompile as dc

RESULTS = Path(__file__).parent / "results"


def rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def logistic_problem(n=5000, d=50):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d) / np.sqrt(d)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-X @ w_true))).astype(float)

    def fun(w):
        z = X @ w
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * w @ w)

    def jac(w):
        z = X @ w
        return X.T @ (1.0 / (1.0 + np.exp(-z)) - y) + w

    return fun, jac, np.zeros(d)


def problems():
    x0 = np.full(100, -1.2)
    x0[1::2] = 1.0
    yield "rosenbrock", rosen, rosen_grad, x0
    fun, jac, w0 = logistic_problem()
    yield "logistic", fun, jac, w0


def solvers(fun, jac, x0):
    return {
        "dcompile lbfgs": lambda: dc.minimize(fun, x0, jac=jac, method="lbfgs", options={"gtol": 1e-6}),
        "scipy L-BFGS-B": lambda: so.minimize(fun, x0, jac=jac, method="L-BFGS-B", options={"gtol": 1e-6}),
        "dcompile bfgs": lambda: dc.minimize(fun, x0, jac=jac, method="bfgs", options={"gtol": 1e-6}),
        "scipy BFGS": lambda: so.minimize(fun, x0, jac=jac, method="BFGS", options={"gtol": 1e-6}),
    }


def counting(fun, jac):
    calls = [0]

    def f(x):
        calls[0] += 1
        return fun(x)

    return f, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    opts = parser.parse_args()
    rows = []
    for name, fun, jac, x0 in problems():
        t = time.perf_counter()
        fun(x0), jac(x0)
        per_eval = []
        for _ in range(50):
            t = time.perf_counter()
            fun(x0), jac(x0)
            per_eval.append(time.perf_counter() - t)
        eval_s = statistics.median(per_eval)
        for label, run in solvers(fun, jac, x0).items():
            t = time.perf_counter()
            first = run()
            first_s = time.perf_counter() - t
            times = []
            for _ in range(opts.repeats):
                t = time.perf_counter()
                res = run()
                times.append(time.perf_counter() - t)
            median = statistics.median(times)
            nfev = int(res.nfev)
            row = {
                "problem": name,
                "solver": label,
                "median_s": median,
                "first_call_s": first_s,
                "nfev": nfev,
                "nit": int(res.nit),
                "fun": float(res.fun),
                "success": bool(res.success),
                "max_abs_grad": float(np.max(np.abs(jac(res.x)))),
                "overhead_per_eval_us": 1e6 * (median - nfev * eval_s) / max(nfev, 1),
                "eval_s": eval_s,
            }
            rows.append(row)
            print(
                f"{name:11s} {label:15s} {median * 1e3:9.2f} ms  first {first_s:6.2f} s  nfev {nfev:5d}  "
                f"f {row['fun']:.3e}  |g| {row['max_abs_grad']:.1e}  "
                f"overhead/eval {row['overhead_per_eval_us']:7.1f} us  "
                f"{'ok' if row['success'] else 'FAIL'}"
            )
            del first
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "python_objective.json").write_text(json.dumps(rows, indent=2))
    lines = [
        "# Plain Python objectives: dc.minimize (callbacks) vs scipy.optimize",
        "",
        "Same NumPy `fun` and `jac`; gtol 1e-6; median wall time of the whole `minimize` call "
        f"over {opts.repeats} runs after a warm-up; overhead/eval = (median - nfev x one fun+jac) / nfev.",
        "Command: `python benchmarks/bench_python_objective.py`",
        "",
        "| problem | solver | median ms | nfev | f | max abs g | overhead/eval µs | success |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r['problem']} | {r['solver']} | {r['median_s'] * 1e3:.2f} | {r['nfev']} | {r['fun']:.3e} | "
        f"{r['max_abs_grad']:.1e} | {r['overhead_per_eval_us']:.1f} | {r['success']} |"
        for r in rows
    ]
    (RESULTS / "python_objective.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
