"""Full-gradient time of a finite sum over Dask arrays vs N, on a LocalCluster with 1 and 2 workers (issue 11).

The objective is L2-regularised logistic regression, ``F(w) = (1/N) sum_i
log(1 + exp(-y_i x_i.w)) + 0.05 |w|^2`` with ``d`` features. The data are
generated on the workers (``dask.array.random``, ``PARTITIONS`` row chunks),
persisted there, and the same rows are computed into the driver for the
single-process ``dc.finite_sum`` (serial, and ``parallel=True``). For each N
the table gives the median seconds of one ``value_and_grad``:

* ``local``: single-process ``finite_sum`` (one core);
* ``local parallel``: ``finite_sum(parallel=True)`` on all the cores;
* ``1 worker`` / ``2 workers``: the distributed sum on a ``LocalCluster`` of
  1 or 2 single-threaded worker processes on this machine (loopback TCP); both
  clusters run side by side and the contenders are timed round-robin.

The smallest N measures the *overhead per evaluation* (scheduling two levels
of tasks, sending ``w`` out and ``(f, g)`` back): the distributed time minus
the local one. The first evaluation of each distributed sum (workers import
the generated modules, loading numba's cache) is timed apart and not in the
medians. Results go to ``benchmarks/results/distributed.json`` and ``.md``.

Run: ``.venv/bin/python benchmarks/bench_distributed.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
D = 20
PARTITIONS = 8
SWEEP_NS = (1_000, 10_000, 100_000, 1_000_000)
QUICK_NS = (1_000, 10_000, 100_000)


def nll_one(w: Any, x: Any, y: Any) -> Any:
    return np.logaddexp(0.0, -y * (x @ w))


def data(n: int) -> tuple[Any, Any]:
    """X (n x D, normal) and y (+-1 labels of a noisy linear model) as Dask arrays made on the workers."""
    import dask.array as da

    rs = da.random.RandomState(0)
    chunk = -(-n // PARTITIONS)
    X = rs.normal(size=(n, D), chunks=(chunk, D))
    w_true = np.linspace(-1.0, 1.0, D)
    y = da.sign(X @ w_true + 0.5 * rs.normal(size=n, chunks=chunk))
    return X, y


def interleaved(fns: dict[str, Any], samples: int) -> dict[str, float]:
    """The median seconds of each callable, timed round-robin (load changes hit all alike)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(samples):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def run(ns: tuple[int, ...], samples: int) -> dict[str, Any]:
    """Time every contender at every N, round-robin; clusters of 1 and 2 workers run side by side."""
    from dask.distributed import Client, LocalCluster

    import dcompile as dc
    from dcompile.sums.distributed import DistributedFiniteSum

    loss = dc.compile(nll_one, name="bench_dist_nll")
    l2 = dc.compile(lambda w: 0.05 * np.dot(w, w), name="bench_dist_l2")
    w = np.linspace(-0.3, 0.3, D)
    clusters = {
        k: LocalCluster(n_workers=k, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
        for k in (1, 2)
    }
    clients = {k: Client(c, set_as_default=False) for k, c in clusters.items()}
    rows = []
    try:
        for n in ns:
            X, y = data(n)
            row: dict[str, Any] = {"n": n}
            Xl, yl = clients[1].compute([X, y], sync=True)  # the same rows, in this process
            local = dc.finite_sum(loss, data=(Xl, yl), mean=True, regularizer=l2)
            par = dc.finite_sum(loss, data=(Xl, yl), mean=True, regularizer=l2, parallel=True)
            f0, g0 = local.value_and_grad(w)
            par.value_and_grad(w)
            fns = {"local_s": local.value_and_grad, "local_parallel_s": par.value_and_grad}
            diffs = []
            for k, client in clients.items():
                obj = DistributedFiniteSum(loss, (X, y), mean=True, regularizer=l2, client=client)
                t0 = time.perf_counter()
                f, g = obj.value_and_grad(w)
                row[f"first_{k}w_s"] = time.perf_counter() - t0
                diffs.append(max(abs(f - f0) / abs(f0), float(np.max(np.abs(g - g0)) / np.max(np.abs(g0)))))
                fns[f"dist_{k}w_s"] = obj.value_and_grad
            row.update(interleaved({k: (lambda fn=fn: fn(w)) for k, fn in fns.items()}, samples))
            row["max_rel_diff"] = max(diffs)
            rows.append(row)
            print(row, flush=True)
    finally:
        for c in clients.values():
            c.close()
        for c in clusters.values():
            c.close()
    return {"rows": rows}


def render(res: dict[str, Any]) -> str:
    mi = res["machine"]
    lines = [
        "# Distributed finite sum: full-gradient time vs N",
        "",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); load average "
        f"{res['load_avg'][0]} at the start, {res['load_avg'][1]} at the end (a shared machine: timings are noisy)",
        f"- python {mi['python']}, numba {mi['numba']}, numpy {mi['numpy']}, dask {res['dask']}; "
        f"commit {mi['git_commit']}; {mi['date']}",
        f"- command: `{mi['command']}`",
        f"- problem: mean logistic loss + L2, d = {D}, {PARTITIONS} row partitions; median of "
        f"{res['samples']} evaluations of value_and_grad; LocalCluster workers are single-threaded processes",
        "",
        "| N | local (ms) | local parallel (ms) | 1 worker (ms) | 2 workers (ms) | 2w overhead vs local (ms) "
        "| speed-up 1w to 2w | first eval 1w / 2w (s) | max rel diff |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['n']:,} | {1e3 * r['local_s']:.2f} | {1e3 * r['local_parallel_s']:.2f} | "
            f"{1e3 * r['dist_1w_s']:.1f} | {1e3 * r['dist_2w_s']:.1f} | "
            f"{1e3 * (r['dist_2w_s'] - r['local_s']):.1f} | {r['dist_1w_s'] / r['dist_2w_s']:.2f} | "
            f"{r['first_1w_s']:.2f} / {r['first_2w_s']:.2f} | {r['max_rel_diff']:.1e} |"
        )
    lines += [
        "",
        "The overhead per evaluation is the distributed time at the smallest N (where computing is",
        "negligible) minus the local time. On one machine the workers add no cores that `parallel=True`",
        "does not already use, so distribution pays off only when the data do not fit one machine's",
        "memory, or across machines (see docs/distributed.md).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N up to 10^5, 5 samples")
    ap.add_argument("--samples", type=int, default=None, help="evaluations timed per contender (default 15)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    a = ap.parse_args()
    samples = a.samples or (5 if a.quick else 15)
    ns = QUICK_NS if a.quick else SWEEP_NS
    command = " ".join([".venv/bin/python", "benchmarks/bench_distributed.py", *sys.argv[1:]])
    cache = Path(tempfile.mkdtemp(prefix="dcompile-bench-distributed-"))
    os.environ["DCOMPILE_CACHE_DIR"] = str(cache)  # inherited by the worker processes
    t_start = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)
    import dask

    res = run(ns, samples)
    res.update(
        samples=samples,
        dask=dask.__version__,
        machine=machine_info(command),
        load_avg=[load_start, round(os.getloadavg()[0], 2)],
        wall_s=time.perf_counter() - t_start,
    )
    shutil.rmtree(cache, ignore_errors=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "distributed.json").write_text(json.dumps(res, indent=2) + "\n")
    md = render(res)
    (a.out / "distributed.md").write_text(md)
    print(md)
    print(f"wrote {a.out / 'distributed.json'} and {a.out / 'distributed.md'} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
