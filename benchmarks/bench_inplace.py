"""In-place style vs functional style: the same objective written with item/slice assignment and without.

dcompile traces ``r[i] = v`` and ``r[1:-1] = ...`` as functional updates (a new SSA value per
assignment) and the generated code writes in place when it can. The claim measured here: code
written the NumPy way, filling a residual or right-hand-side array by assignment, costs about what
the same function written functionally (``np.concatenate``, ``np.roll``, ``np.where``) costs.
Target: in-place value+gradient per call within 1.1x of functional.

Three objectives, each written both ways, differentiated w.r.t. the unknowns:

* ``bvp``: the finite-difference residual of the boundary value problem ``-u'' + u^3 = f`` on
  (0, 1) with ``u(0) = 0``, ``u(1) = 1``, n = 1000 interior points, objective ``0.5 |r|^2``.
  In place: ``r = np.zeros(n); r[0] = ...; r[1:-1] = ...; r[-1] = ...`` (the boundary values in
  the first and last rows); functional: the neighbours by ``np.concatenate`` with the boundary
  values. ``f`` is manufactured from ``u*(x) = sin(pi x) + x``; ``u = u*`` plus noise (1e-3).
* ``lorenz96``: 20 explicit Euler steps (dt = 0.01) of Lorenz-96 with n = 40 states and forcing
  F = 8, objective ``0.5 |x_20 - obs|^2``, gradient w.r.t. the initial state. In place: a loop
  ``for i in range(n): rhs[i] = (x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + F`` into
  ``rhs = np.zeros(n)`` each step; functional: ``(np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1)
  - x + F``.
* ``bratu``: the 5-point residual of the 2-D Bratu problem ``-lap u - lambda e^u = 0`` (lambda = 6)
  on a 64 x 64 grid with ``u = 0`` on the boundary, objective ``0.5 |r|^2``. In place: the interior
  by one slice assignment, the four boundary rows/columns ``r[0, :] = u[0, :]`` etc.; functional:
  the Laplacian of the whole grid by ``np.roll`` along both axes, then ``np.where(interior, lap, u)``
  (this computes ``exp`` and the stencil on the boundary too, and throws them away).

For each: both styles' value and gradient must agree to 1e-12 (relative; checked, flagged, never
fatal) and their values must match NumPy running the same Python function. Then, timed
round-robin in one process (benchmarks/bench_finite_sum.py's ``time_round_robin``: each sample
runs a contender back to back for >= ``--target`` seconds after one untimed call; medians over
samples; ratios are medians of per-sample ratios): ``dc.value_and_grad(dc.compile(f), wrt=...)``
per call, and, as a diagnostic, the value alone (``dc.compile(f)``). Compile time: each
contender's first call in a fresh ``DCOMPILE_CACHE_DIR`` (trace, derive, emit, numba), one
evaluation included. The report also counts the array copies (``.copy()``) in each generated
source, where an assignment was not done in place.

One thread (``NUMBA_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, set before import).

Run from the repository root::

    .venv/bin/python benchmarks/bench_inplace.py          # full run (a few minutes, mostly compilation)
    .venv/bin/python benchmarks/bench_inplace.py --quick  # fewer, shorter samples; Lorenz-96 with 5 steps

Results go to ``benchmarks/results/inplace.json`` and ``benchmarks/results/inplace.md``.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402  (the thread settings must come first)
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_finite_sum import call_runner, paired, time_round_robin  # noqa: E402
from machine import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_ENV = "DCOMPILE_CACHE_DIR"
PROBLEMS = ("bvp", "lorenz96", "bratu")
STYLES = ("inplace", "functional")
TARGET_RATIO = 1.1  # in-place / functional, value and gradient per call
AGREE = 1e-12  # relative agreement of the two styles' value and gradient
SIZES = {
    "full": {"bvp": 1000, "lorenz96": (40, 20), "bratu": 64},
    "quick": {"bvp": 1000, "lorenz96": (40, 5), "bratu": 64},
}


@dataclass
class Problem:
    name: str
    title: str
    inplace: Callable[..., Any]
    functional: Callable[..., Any]
    args: tuple[Any, ...]
    wrt: str
    info: dict[str, Any]


# ---------------------------------------------------------------------------
# the objectives, each written twice
# ---------------------------------------------------------------------------
def make_bvp(n: int) -> Problem:
    h2 = (1.0 / (n + 1)) ** 2
    ua, ub = 0.0, 1.0  # Dirichlet values at x = 0 and x = 1

    def bvp_inplace(u, f):
        r = np.zeros(n)
        r[0] = (2.0 * u[0] - ua - u[1]) / h2 + u[0] ** 3 - f[0]
        r[1:-1] = (2.0 * u[1:-1] - u[:-2] - u[2:]) / h2 + u[1:-1] ** 3 - f[1:-1]
        r[-1] = (2.0 * u[-1] - u[-2] - ub) / h2 + u[-1] ** 3 - f[-1]
        return 0.5 * np.sum(r**2)

    def bvp_functional(u, f):
        left = np.concatenate((np.array([ua]), u[:-1]))
        right = np.concatenate((u[1:], np.array([ub])))
        r = (2.0 * u - left - right) / h2 + u**3 - f
        return 0.5 * np.sum(r**2)

    x = np.linspace(1.0, n, n) / (n + 1)
    exact = np.sin(np.pi * x) + x
    f = np.pi**2 * np.sin(np.pi * x) + exact**3
    u = exact + 1e-3 * np.random.default_rng(0).standard_normal(n)
    title = f"1-D BVP -u'' + u^3 = f, n = {n}, Dirichlet boundaries, 0.5 |r|^2 w.r.t. u"
    return Problem("bvp", title, bvp_inplace, bvp_functional, (u, f), "u", {"n": n})


def make_lorenz96(n: int, steps: int) -> Problem:
    forcing, dt = 8.0, 0.01

    def l96_inplace(x0, obs):
        x = x0
        for _ in range(steps):
            rhs = np.zeros(n)
            for i in range(n):
                rhs[i] = (x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + forcing
            x = x + dt * rhs
        return 0.5 * np.sum((x - obs) ** 2)

    def l96_functional(x0, obs):
        x = x0
        for _ in range(steps):
            rhs = (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + forcing
            x = x + dt * rhs
        return 0.5 * np.sum((x - obs) ** 2)

    rng = np.random.default_rng(1)
    x0 = forcing + rng.standard_normal(n)
    obs = forcing + rng.standard_normal(n)
    title = f"Lorenz-96, n = {n} states, {steps} unrolled Euler steps, 0.5 |x_T - obs|^2 w.r.t. x0"
    return Problem("lorenz96", title, l96_inplace, l96_functional, (x0, obs), "x0", {"n": n, "steps": steps})


def make_bratu(m: int) -> Problem:
    h2 = (1.0 / (m - 1)) ** 2
    lam = 6.0

    def bratu_inplace(u):
        r = np.zeros((m, m))
        r[1:-1, 1:-1] = (
            4.0 * u[1:-1, 1:-1] - u[:-2, 1:-1] - u[2:, 1:-1] - u[1:-1, :-2] - u[1:-1, 2:]
        ) / h2 - lam * np.exp(u[1:-1, 1:-1])
        r[0, :] = u[0, :]
        r[-1, :] = u[-1, :]
        r[:, 0] = u[:, 0]
        r[:, -1] = u[:, -1]
        return 0.5 * np.sum(r**2)

    def bratu_functional(u):
        i = np.arange(m)
        inner = (i > 0) & (i < m - 1)
        interior = inner[:, None] & inner[None, :]
        lap = (
            4.0 * u - np.roll(u, 1, axis=0) - np.roll(u, -1, axis=0) - np.roll(u, 1, axis=1) - np.roll(u, -1, axis=1)
        ) / h2 - lam * np.exp(u)
        r = np.where(interior, lap, u)
        return 0.5 * np.sum(r**2)

    g = np.linspace(0.0, 1.0, m)
    u = 0.5 * np.outer(np.sin(np.pi * g), np.sin(np.pi * g))
    u += 0.01 * np.random.default_rng(2).standard_normal((m, m))
    title = f"2-D Bratu -lap u - 6 e^u = 0, {m} x {m} grid, u = 0 on the boundary, 0.5 |r|^2 w.r.t. u"
    return Problem("bratu", title, bratu_inplace, bratu_functional, (u,), "u", {"m": m})


# ---------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------
def rel(a: Any, b: Any) -> float:
    """max |a - b| / max |b| (relative to the larger entries of the reference)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def first_call(cache: Path, label: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[float, Any]:
    """The first call in a fresh dcompile cache: tracing, derivation, emission, numba, one evaluation."""
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix=f"{label}-", dir=cache)
    t = time.perf_counter()
    r = fn(*args)
    return time.perf_counter() - t, r


def measure(dc: Any, p: Problem, cache: Path, samples: int, target: float) -> dict[str, Any]:
    print(f"[{p.name}] {p.title}", flush=True)
    fns: dict[str, Any] = {}
    for style in STYLES:
        f = dc.compile(getattr(p, style), name=f"{p.name}_{style}")
        fns[f"{style}_vg"] = dc.value_and_grad(f, wrt=p.wrt)
        fns[f"{style}_value"] = f
    compile_s: dict[str, float] = {}
    out: dict[str, Any] = {}
    for k, fn in fns.items():
        compile_s[k], out[k] = first_call(cache, f"{p.name}-{k}", fn, p.args)
        print(f"    {k:18s} first call {compile_s[k]:7.2f} s", flush=True)
    copies = {k: fn.source.count(".copy()") for k, fn in fns.items()}
    numpy_value = {style: float(getattr(p, style)(*p.args)) for style in STYLES}
    (f_in, g_in), (f_fn, g_fn) = out["inplace_vg"], out["functional_vg"]
    diff = {
        "value": abs(f_in - f_fn) / abs(f_fn),
        "grad": rel(g_in, g_fn),
        "value_only_vs_vg": max(abs(out[f"{s}_value"] - out[f"{s}_vg"][0]) / abs(f_fn) for s in STYLES),
        "vs_numpy": max(abs(out[f"{s}_vg"][0] - numpy_value[s]) / abs(numpy_value[s]) for s in STYLES),
    }
    agree = max(diff.values()) <= AGREE
    print(
        f"    in-place vs functional: value {diff['value']:.1e}, gradient {diff['grad']:.1e}; vs NumPy "
        f"{diff['vs_numpy']:.1e}{'' if agree else f'  ** above {AGREE:g} **'}",
        flush=True,
    )
    runners = {k: call_runner(fn, *p.args) for k, fn in fns.items()}
    times = time_round_robin(runners, samples, target)
    ratios = {
        "vg_inplace_over_functional": paired(times, "inplace_vg", "functional_vg"),
        "value_inplace_over_functional": paired(times, "inplace_value", "functional_value"),
    }
    for k in fns:
        print(f"    {k:18s} {times[k]['median_s'] * 1e6:10.2f} µs per call", flush=True)
    print(
        f"    in-place / functional: value+gradient {ratios['vg_inplace_over_functional']:.2f}, "
        f"value {ratios['value_inplace_over_functional']:.2f}",
        flush=True,
    )
    return {
        "problem": p.name,
        "title": p.title,
        **p.info,
        "wrt": p.wrt,
        "first_call_s": compile_s,
        "copies_in_source": copies,
        "rel_diff": diff,
        "agree": agree,
        "times": times,
        "ratios": ratios,
        "target_met": ratios["vg_inplace_over_functional"] <= TARGET_RATIO,
    }


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _us(t: dict[str, Any]) -> str:
    return f"{t['median_s'] * 1e6:.3g}"


def _status(x: float) -> str:
    return "met" if x <= TARGET_RATIO else f"**not met** ({(x / TARGET_RATIO - 1) * 100:.0f}% over)"


def render(res: dict[str, Any]) -> str:
    mi, st = res["machine"], res["settings"]
    L = [
        "# In-place style vs functional style: value and gradient per call",
        "",
        f"Command to reproduce (from the repository root): `{mi['command']}`",
        "",
        f"- date: {mi['date']}",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); load average {res['load_avg'][0]} at the "
        f"start, {res['load_avg'][1]} at the end (a shared machine: absolute times are noisy, ratios are measured "
        "round-robin in one run)",
        f"- python {mi['python']}, numba {mi['numba']}, numpy {mi['numpy']}, dcompile {mi['dcompile']} "
        f"(git {mi['git_commit']})",
        "- one thread: `NUMBA_NUM_THREADS=1`, `OPENBLAS_NUM_THREADS=1`, set before import",
        f"- timing: median over {st['samples']} samples of >= {st['target_s']} s, round-robin in one process; "
        "ratios = median of per-sample ratios in-place / functional (< 1: in-place faster)",
        "- value + gradient: `dc.value_and_grad(dc.compile(f), wrt=...)`; value: `dc.compile(f)` (a diagnostic)",
        "- compile: each contender's first call in a fresh `DCOMPILE_CACHE_DIR` (trace, derive, emit, numba; one "
        "evaluation included)",
        "- copies: `.copy()` calls in the generated source (an assignment not done in place copies the array)",
        f"- agreement: the two styles' value and gradient, relative (max |g_in - g_fn| / max |g_fn|), and the value "
        f"against NumPy running the same Python function; bold above {AGREE:g}",
        "",
    ]
    if st["quick"]:
        L += ["**Quick run** (`--quick`): fewer, shorter samples and fewer Lorenz-96 steps than the full run.", ""]
    L += [
        f"## Target: in-place value + gradient within {TARGET_RATIO}x of functional",
        "",
        "| problem | in-place / functional (value + gradient) | status |",
        "|---|---|---|",
    ]
    for r in res["problems"]:
        x = r["ratios"]["vg_inplace_over_functional"]
        L.append(f"| {r['problem']} | {x:.2f} | {_status(x)} |")
    L += [""]
    for r in res["problems"]:
        t, c, n = r["times"], r["first_call_s"], r["copies_in_source"]
        d = r["rel_diff"]
        agree = f"value {d['value']:.1e}, gradient {d['grad']:.1e}, vs NumPy {d['vs_numpy']:.1e}"
        L += [
            f"## {r['title']}",
            "",
            "| style | value + gradient (µs/call) | compile (s) | copies "
            "| value only (µs/call) | compile (s) | copies |",
            "|---|---|---|---|---|---|---|",
        ]
        for style, label in (("inplace", "in-place (assignment)"), ("functional", "functional")):
            vg, v = f"{style}_vg", f"{style}_value"
            L.append(f"| {label} | {_us(t[vg])} | {c[vg]:.2f} | {n[vg]} | {_us(t[v])} | {c[v]:.2f} | {n[v]} |")
        ratio_c_vg = c["inplace_vg"] / c["functional_vg"]
        ratio_c_v = c["inplace_value"] / c["functional_value"]
        L += [
            f"| **in-place / functional** | **{r['ratios']['vg_inplace_over_functional']:.2f}** | {ratio_c_vg:.2f} | "
            f"| {r['ratios']['value_inplace_over_functional']:.2f} | {ratio_c_v:.2f} | |",
            "",
            f"Agreement: {agree if r['agree'] else f'**{agree}**'}.",
            "",
        ]
    if res["notes"]:
        L += ["## Notes", ""] + [f"- {n}" for n in res["notes"]] + [""]
    return "\n".join(L)


def notes(res: dict[str, Any]) -> list[str]:
    """What the numbers say about where the time goes (computed from the results, not fixed text)."""
    out = []
    for r in res["problems"]:
        n = r["copies_in_source"]
        if n["inplace_vg"] > n["inplace_value"]:
            out.append(
                f"{r['problem']}: the in-place function's value-and-gradient code copies an array "
                f"{n['inplace_vg']} times ({n['inplace_value']} in its value-only code, {n['functional_vg']} in the "
                "functional style's gradient): assignments the value code does in place are copies in the "
                "derivative code."
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter samples; Lorenz-96 with 5 steps")
    ap.add_argument("--problems", default=",".join(PROBLEMS), help=f"comma-separated subset of {','.join(PROBLEMS)}")
    ap.add_argument("--samples", type=int, default=None, help="timing samples per contender (default 9, quick 3)")
    ap.add_argument("--target", type=float, default=None, help="seconds per sample (default 0.2, quick 0.05)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    a = ap.parse_args()
    problems = [p.strip() for p in a.problems.split(",") if p.strip()]
    unknown = set(problems) - set(PROBLEMS)
    if unknown:
        ap.error(f"unknown problems {sorted(unknown)}; choose from {PROBLEMS}")
    samples = a.samples or (3 if a.quick else 9)
    target = a.target or (0.05 if a.quick else 0.2)
    sizes = SIZES["quick" if a.quick else "full"]
    command = " ".join([".venv/bin/python", "benchmarks/bench_inplace.py", *sys.argv[1:]])
    t0 = time.perf_counter()
    load0 = round(os.getloadavg()[0], 2)
    cache = Path(tempfile.mkdtemp(prefix="dcompile-bench-inplace-"))
    os.environ[CACHE_ENV] = str(cache)
    import dcompile as dc

    makers = {
        "bvp": lambda: make_bvp(sizes["bvp"]),
        "lorenz96": lambda: make_lorenz96(*sizes["lorenz96"]),
        "bratu": lambda: make_bratu(sizes["bratu"]),
    }
    res: dict[str, Any] = {
        "settings": {"quick": a.quick, "samples": samples, "target_s": target, "sizes": sizes},
        "target_ratio": TARGET_RATIO,
    }
    try:
        res["problems"] = [measure(dc, makers[p](), cache, samples, target) for p in problems]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    res["machine"] = machine_info(command)
    res["load_avg"] = [load0, round(os.getloadavg()[0], 2)]
    res["notes"] = notes(res)
    res["wall_s"] = time.perf_counter() - t0
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "inplace.json").write_text(json.dumps(res, indent=2) + "\n")
    md = render(res)
    (a.out / "inplace.md").write_text(md)
    print(md)
    print(f"wrote {a.out / 'inplace.json'} and {a.out / 'inplace.md'} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
