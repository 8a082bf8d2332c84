"""Compile time against graph size (issue 7): f + gradient of an N-step chain.

The chain is ``t = sin(t) * t + w[k]`` for ``k < N``, returning ``t``; its value
and gradient (``dc.value_and_grad``) are compiled for N = 100, 200, 400, 800,
1000, 2000, 10000, in two calling forms:

* ``array``: ``chain(t0, w)`` with ``w`` an array of N floats (the idiomatic form);
* ``scalars``: ``chain(t0, w0, ..., w{N-1})``, N + 1 float arguments (the form of
  ``benchmarks/bench_core.py``).

For each size and form it measures, each in a fresh subprocess:

* dcompile's **cold compile**: an empty cache directory; the time of the first
  call of ``value_and_grad`` (trace, derive, emit, numba compile), after numba's
  one-off per-process initialisation (reported apart);
* the **cached load**: a second process on the same cache directory; the time of
  the first call (numba loads the machine code), with ``kernel.cache_hit``;
* the **call time**: median of timed repeats of ``vg(...)`` from Python;
* the same for **plain numba on the unsplit source** (dcompile's emitter with the
  split turned off: one straight-line function), under a time cap;
* **JAX** ``jit(value_and_grad)`` of the same Python loop (array form), where
  installed, under a time cap.

The results of dcompile and unsplit numba are compared bit for bit (a digest of
the float64 bytes). Separately it measures the **Hessian of a 50-input function
built from 2,000 operations** (cold compile and cached load).

Run from the repository root::

    .venv/bin/python benchmarks/compile_scaling.py           # full run (about 20 minutes on 2 cores)
    .venv/bin/python benchmarks/compile_scaling.py --quick   # N <= 400, small caps

Results go to ``benchmarks/results/compile_scaling.json`` and ``.md``, and the
plot to ``docs/compile_scaling.png``. The script re-invokes itself with
``--worker`` for every measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PLOT = ROOT / "docs" / "compile_scaling.png"
SIZES = (100, 200, 400, 800, 1000, 2000, 10000)
FORMS = ("array", "scalars")
DC_CAP_S = 600
NUMBA_CAP_S = 300
JAX_CAP_S = 120
# Beyond these sizes the reference compilers are not run: numba's unsplit compile took 250 s at
# N = 2000 (run of 2026-11-26, git 6264199) and grows superlinearly; JAX's passed 120 s at N = 800.
# With N + 1 scalar arguments, numba's argument-unboxing wrapper dominates past N = 2000
# (docs/design.md), so that form stops there.
MAX_N = {("numba", "array"): 1000, ("numba", "scalars"): 1000, ("jax", "array"): 800, ("dc", "scalars"): 2000}
HESSIAN_INPUTS, HESSIAN_OPS = 50, 2000


# ---------------------------------------------------------------------------
# workers (run in fresh subprocesses)
# ---------------------------------------------------------------------------
def chain_function(n: int, form: str, np_module: Any) -> Any:
    """The N-step chain as a Python function of ``(t0, w)`` or of N + 1 scalars."""
    if form == "array":
        src = (
            f"def chain(t0, w):\n    t = t0\n    for k in range({n}):\n        t = np.sin(t) * t + w[k]\n    return t\n"
        )
    else:
        params = ", ".join(["t0"] + [f"w{k}" for k in range(n)])
        body = "\n".join(f"    t = np.sin(t) * t + w{k}" for k in range(n))
        src = f"def chain({params}):\n    t = t0\n{body}\n    return t\n"
    ns: dict[str, Any] = {"np": np_module}
    exec(src, ns)
    return ns["chain"]


def chain_args(n: int, form: str) -> tuple[Any, ...]:
    import numpy as np

    w = 0.1 * np.cos(np.arange(n))
    return (0.5, w) if form == "array" else (0.5, *(float(v) for v in w))


def hessian_function() -> Any:
    """A function of a 50-vector built from 2,000 operations (sin, multiply, add; indexing)."""
    import numpy as np

    def h(x):
        t = x[0]
        for k in range(HESSIAN_OPS // 4):
            t = np.sin(t) * x[k % HESSIAN_INPUTS] + x[(7 * k + 3) % HESSIAN_INPUTS]
        return t

    return h


def time_calls(fn: Any, args: tuple[Any, ...], target_s: float = 0.05, repeats: int = 9) -> float:
    """Median seconds per call over ``repeats`` timed batches of about ``target_s`` each."""
    fn(*args)
    start = time.perf_counter()
    fn(*args)
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(target_s / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn(*args)
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def digest(result: Any) -> str:
    import hashlib

    import numpy as np

    def flat(r: Any) -> list[Any]:
        return [x for item in r for x in flat(item)] if isinstance(r, tuple) else [np.asarray(r, dtype=np.float64)]

    return hashlib.sha256(b"".join(a.tobytes() for a in flat(result))).hexdigest()[:16]


def worker(tool: str, n: int, form: str) -> dict[str, Any]:
    """One measurement in this (fresh) process; the cache directory comes from the environment."""
    import numpy as np

    if tool == "jax":
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        args = chain_args(n, "array")
        vg = jax.jit(jax.value_and_grad(chain_function(n, "array", jnp), argnums=(0, 1)))
        start = time.perf_counter()
        jax.block_until_ready(vg(*args))
        compile_s = time.perf_counter() - start
        call_s = time_calls(lambda *a: jax.block_until_ready(vg(*a)), args)
        return {"compile_s": compile_s, "call_s": call_s}

    import numba

    init_s = None
    if not os.environ.get("DCOMPILE_BENCH_FRESH"):
        start = time.perf_counter()
        numba.njit(lambda a: np.sin(a) * a)(1.0)  # numba's one-off per-process initialisation
        init_s = time.perf_counter() - start

    import dcompile as dc
    from dcompile.emit import chunking

    if tool == "numba":
        chunking.THRESHOLD = 10**9  # the emitter's unsplit source: one straight-line function
    if tool == "hessian":
        fn, mode, args = hessian_function(), dc.hessian, (np.linspace(0.1, 0.5, HESSIAN_INPUTS),)
    else:
        fn, mode, args = chain_function(n, form, np), dc.value_and_grad, chain_args(n, form)
    start = time.perf_counter()
    d = mode(dc.compile(fn))
    result = d(*args)
    first_s = time.perf_counter() - start
    emitted = d.fn.emitted(d.sig, d.mode, d.wrt)
    return {
        "numba_init_s": init_s,
        "first_call_s": first_s,
        "kernel_s": d.kernel.compile_seconds,
        "cache_hit": d.kernel.cache_hit,
        "call_s": time_calls(d, args),
        "parts": len(emitted.parts),
        "lines": emitted.source.count("\n"),
        "digest": digest(result),
    }


# ---------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------
def run_worker(tool: str, n: int, form: str, cache: Path, cap: float, *, fresh: bool = False) -> dict[str, Any]:
    """One measurement in a subprocess; `fresh` skips the warm-up, so numba's start is in the first call."""
    env = {**os.environ, "DCOMPILE_CACHE_DIR": str(cache)}
    if fresh:
        env["DCOMPILE_BENCH_FRESH"] = "1"
    cmd = [sys.executable, __file__, "--worker", tool, str(n), form]
    load = _loadavg()
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=cap, check=False)
    except subprocess.TimeoutExpired:
        return {"capped": True, "cap_s": cap}
    wall = time.perf_counter() - start
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    res["loadavg_before"] = load  # other work on the machine inflates every figure
    return res


def _loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def measure(
    sizes: tuple[int, ...],
    caps: dict[str, float],
    forms: tuple[str, ...],
    jax_ok: bool,
    tools: tuple[str, ...] = ("dc", "numba", "jax"),
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    capped: dict[tuple[str, str], int] = {}
    for n in sizes:
        for form in forms:
            row: dict[str, Any] = {"n": n, "form": form}
            for tool in tools:
                if tool == "jax" and (form != "array" or not jax_ok):
                    continue
                if (tool, form) in capped:
                    row[tool] = {"skipped": f"capped at N = {capped[(tool, form)]}"}
                    continue
                if n > MAX_N.get((tool, form), n):
                    row[tool] = {"skipped": f"not run beyond N = {MAX_N[(tool, form)]}"}
                    continue
                with tempfile.TemporaryDirectory(prefix="dcompile-scaling-") as tmp:
                    cold = run_worker(tool, n, form, Path(tmp), caps[tool])
                    if tool == "dc" and "first_call_s" in cold:
                        cold["cached"] = run_worker(tool, n, form, Path(tmp), caps[tool])
                        cold["fresh"] = run_worker(tool, n, form, Path(tmp), caps[tool], fresh=True)
                if cold.get("capped"):
                    capped[(tool, form)] = n
                row[tool] = cold
                print(f"N={n:>6} {form:<7} {tool:<5} {summary(cold)}", flush=True)
            rows.append(row)
    return {"rows": rows}


def summary(res: dict[str, Any]) -> str:
    if res.get("capped"):
        return f"> {res['cap_s']:.0f} s (capped)"
    if "error" in res:
        return f"error: {res['error']}"
    if "first_call_s" in res:
        text = f"cold {res['first_call_s']:.2f} s, call {res['call_s'] * 1e6:.1f} us, parts {res['parts']}"
        cached = res.get("cached")
        if cached and "first_call_s" in cached:
            text += f", cached {cached['first_call_s']:.3f} s (+{cached['numba_init_s']:.2f} s numba init)"
            text += f" hit={cached['cache_hit']}"
        fresh = res.get("fresh")
        if fresh and "first_call_s" in fresh:
            text += f"; fresh process {fresh['first_call_s']:.3f} s"
        return text
    return f"compile {res['compile_s']:.2f} s, call {res['call_s'] * 1e6:.1f} us"


def hessian(caps: dict[str, float]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dcompile-scaling-") as tmp:
        cold = run_worker("hessian", HESSIAN_OPS, "array", Path(tmp), caps["dc"])
        if "first_call_s" in cold:
            cold["cached"] = run_worker("hessian", HESSIAN_OPS, "array", Path(tmp), caps["dc"])
            cold["fresh"] = run_worker("hessian", HESSIAN_OPS, "array", Path(tmp), caps["dc"], fresh=True)
    print(f"Hessian {HESSIAN_INPUTS} inputs, {HESSIAN_OPS} ops: {summary(cold)}", flush=True)
    return cold


def fmt(x: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "" if x is None else f"{x * scale:.{digits}f}"


def cell(res: dict[str, Any] | None, key: str, scale: float = 1.0, digits: int = 2) -> str:
    if not res:
        return ""
    if res.get("capped"):
        return f"> {res['cap_s']:.0f} (cap)"
    if "skipped" in res:
        return "not run"
    if "error" in res:
        return "error"
    return fmt(res.get(key), scale, digits)


def markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    lines = [
        "# Compile time against graph size (issue 7)",
        "",
        f"Machine: {info.get('cpu', '?')}, {info.get('cores', '?')} cores; Python {info.get('python')}, "
        f"numba {info.get('numba')}, numpy {info.get('numpy')}, jax {info.get('jax')}; git {info.get('git_commit')}; "
        f"{info.get('date')}. Command: `{info.get('command')}`.",
        "",
        "Times in seconds (call times in µs). *cold*: first call in a fresh process with an empty cache, "
        "after numba's one-off initialisation; *cached*: the same in a second process (numba loads the "
        "machine code), timed after numba's initialisation; *user sees*: the first call in a third, fresh process "
        "with no warm-up (numba's one-off start included, as a user meets it). *numba unsplit*: the same "
        "source as one straight-line function. Caps: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in results["caps"].items())
        + ".",
        "",
        *(
            [
                f"dcompile's rows and the Hessian are from this run; numba's and JAX's from the run of "
                f"{results['reference_from'].get('date')} (git {results['reference_from'].get('git_commit')}).",
                "",
            ]
            if results.get("reference_from")
            else []
        ),
        "| N | form | statements | parts | dc cold | dc cached | user sees | dc call µs | numba unsplit cold "
        "| unsplit call µs | same bits | JAX jit | JAX call µs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        dc_, nb, jx = row.get("dc", {}), row.get("numba", {}), row.get("jax")
        cached = dc_.get("cached", {})
        user = (dc_.get("fresh") or {}).get("first_call_s")
        same = ""
        if dc_.get("digest") and nb.get("digest"):
            same = "yes" if dc_["digest"] == nb["digest"] else "**no**"
        lines.append(
            f"| {row['n']} | {row['form']} | {dc_.get('lines', '')} | {dc_.get('parts', '')} "
            f"| {cell(dc_, 'first_call_s')} | {cell(cached, 'first_call_s', digits=3)} | {fmt(user)} "
            f"| {cell(dc_, 'call_s', 1e6, 1)} | {cell(nb, 'first_call_s')} | {cell(nb, 'call_s', 1e6, 1)} | {same} "
            f"| {cell(jx, 'compile_s')} | {cell(jx, 'call_s', 1e6, 1)} |"
        )
    h = results.get("hessian") or {}
    if h:
        hc = h.get("cached", {})
        lines += [
            "",
            f"Hessian of a {HESSIAN_INPUTS}-input function of {HESSIAN_OPS} operations: cold "
            f"{cell(h, 'first_call_s')} s ({h.get('parts', '?')} parts, {h.get('lines', '?')} lines), cached "
            f"{cell(hc, 'first_call_s', digits=3)} s (user sees {cell(h.get('fresh'), 'first_call_s', digits=3)} s), "
            f"call {cell(h, 'call_s', 1e6, 1)} µs.",
        ]
    loads = [
        res["loadavg_before"]
        for row in results["rows"]
        for res in (row.get(t) or {} for t in ("dc", "numba", "jax"))
        if res.get("loadavg_before") is not None
    ]
    if loads:
        lines += [
            "",
            f"Load average (1 min) before each measurement: median {statistics.median(loads):.1f}, "
            f"range {min(loads):.1f}-{max(loads):.1f}, on {info.get('cores', '?')} cores. Above the core count, "
            "other work shared the CPU and every time above is inflated by about that ratio; figures in one row "
            "were measured minutes apart, under similar load.",
        ]
    lines += ["", *results.get("notes", [])]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = [
        ("dc", "array", "dcompile, array form", "o-"),
        ("dc", "scalars", "dcompile, N+1 scalars", "s-"),
        ("numba", "array", "numba, unsplit source, array form", "o--"),
        ("numba", "scalars", "numba, unsplit source, N+1 scalars", "s--"),
        ("jax", "array", "JAX jit (unrolled loop)", "^:"),
    ]
    for tool, form, label, style in series:
        pts = []
        for row in results["rows"]:
            res = row.get(tool) or {}
            if row["form"] != form:
                continue
            t = res.get("first_call_s", res.get("compile_s"))
            if t is not None:
                pts.append((row["n"], t))
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chain length N (steps)")
    ax.set_ylabel("cold compile of f + gradient (s)")
    ax.set_title("Compile time against graph size (lower is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N <= 400 and small caps")
    ap.add_argument(
        "--only-dc",
        action="store_true",
        help="rerun dcompile's rows (and the Hessian) only, keeping the reference compilers' figures from the last run",
    )
    ap.add_argument("--report", action="store_true", help="rewrite the .md and the plot from the .json only")
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "N", "FORM"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        tool, n, form = a.worker
        print(json.dumps(worker(tool, int(n), form)))
        return
    if a.report:
        results = json.loads((RESULTS / "compile_scaling.json").read_text())
        (RESULTS / "compile_scaling.md").write_text(markdown(results))
        plot(results)
        return
    sys.path.insert(0, str(HERE))
    from machine import machine_info

    try:
        import jax  # noqa: F401

        jax_ok = True
    except ImportError:
        jax_ok = False
    sizes = tuple(n for n in SIZES if n <= 400) if a.quick else SIZES
    caps = {"dc": DC_CAP_S, "numba": 60 if a.quick else NUMBA_CAP_S, "jax": 30 if a.quick else JAX_CAP_S}
    command = "benchmarks/compile_scaling.py" + (" --quick" if a.quick else "") + (" --only-dc" if a.only_dc else "")
    results: dict[str, Any] = {"machine": machine_info(command), "caps": caps, "sizes": sizes}
    if a.only_dc:
        old = json.loads((RESULTS / "compile_scaling.json").read_text())
        fresh = measure(sizes, caps, FORMS, jax_ok, tools=("dc",))
        for row, new in zip(old["rows"], fresh["rows"], strict=True):
            row["dc"] = new["dc"]
        results.update(rows=old["rows"], caps=old["caps"], reference_from=old.get("reference_from") or old["machine"])
    else:
        results.update(measure(sizes, caps, FORMS, jax_ok))
    results["hessian"] = hessian(caps)
    results["notes"] = [] if jax_ok else ["JAX is not installed: its column is empty."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compile_scaling.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (RESULTS / "compile_scaling.md").write_text(markdown(results))
    plot(results)
    print(f"wrote {RESULTS / 'compile_scaling.json'}, {RESULTS / 'compile_scaling.md'} and {PLOT}")


if __name__ == "__main__":
    main()
