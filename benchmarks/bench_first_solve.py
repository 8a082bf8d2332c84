"""First-solve latency and per-iteration cost of ``dc.minimize``'s shared optimizer loops.

``dc.minimize(f, x0, method=M)`` runs its iteration loop in numba. By default the loops are compiled
once per method and data-argument types and cached on disk (in ``$DCOMPILE_CACHE_DIR``), and a new
objective's compiled derivative kernels are passed to them as numba function pointers ("shared loops",
``dcompile/optimize/generic.py``); ``dc.minimize(..., specialize=True)`` compiles the loops for each
objective instead (the old behaviour: its kernels inlined, seconds of compile per objective). Three parts:

1. ``latency`` -- the first ``dc.minimize`` on a *new* objective, loop cache warm (target: <= 1.0 s,
   the objective's own compile included). Per method (lbfgs, bfgs, newton, newton-cg, gd) a fresh cache
   dir; one warm-up subprocess solves some objective there (which compiles the shared loop of that method
   for no data arguments); then fresh subprocesses each build a NEW objective -- extended Rosenbrock
   n = 20 times a per-process constant written into the function's source (source text built and
   ``exec``'d), so no cache can serve its kernels -- and time ``import dcompile``, the first
   ``dc.minimize(f, x0, method=M)`` call (perf_counter around the call) and its ``compile_seconds`` /
   ``solve_seconds``; the same with ``specialize=True`` (same warm dir, new objective). For comparison,
   fresh processes running SciPy ``minimize(fun, x0, jac=True, method="L-BFGS-B")`` on the same kind of
   new objective, with (i) ``jax.jit(jax.value_and_grad(f_jax))`` (x64; the first call includes jax's
   trace and XLA compile) and (ii) ``dc.value_and_grad(f)`` (the first call includes dcompile's kernel
   compile). Each fresh-process figure is the median of ``--reps`` processes (default 3). A diagnostic
   process times the imports (dcompile, then numba, scipy.optimize and jax) to show where a first call's
   time goes.
2. ``iteration`` -- per-iteration cost, shared vs specialised loop (target: shared within 1.2x). In ONE
   process (fresh cache dir), both warm, repeated ``dc.minimize`` calls timed round-robin; the figure is
   ``res.solve_seconds`` (the compiled loop alone), median per solve over samples, and the ratio the
   median over samples of shared / specialised. Cases: extended Rosenbrock n = 6, 100, 1000 (lbfgs), a
   quadratic with data arguments ``q(x, A, b) = 0.5 x.Ax - b.x`` (n = 5, 50; lbfgs, gtol 1e-10) and
   Rosenbrock n = 20 with newton and bfgs. Iteration counts and results are checked to be identical
   (bit for bit).
3. ``overhead`` -- whole-call overhead on small problems: the Moré-Garbow-Hillstrom problems of
   ``dcompile.optimize.problems`` with n <= 100 (default dimensions, plus extended Rosenbrock n = 100):
   the whole warm ``dc.minimize(f, x0, method="lbfgs", options={"gtol": 1e-6})`` call against SciPy
   L-BFGS-B fed the same compiled gradient (``vg = dc.value_and_grad(f)``; ``minimize(vg, x0, jac=True,
   method="L-BFGS-B", options={"gtol": 1e-6, "maxiter": 10000, "maxfun": 10**7})``), both warm, round-robin
   in one process (target: median over problems of scipy time / dcompile time >= 20x). Also
   ``solve_seconds`` (loop only) and the Python overhead (whole call minus ``solve_seconds``).

BLAS (OpenBLAS, used by scipy's L-BFGS-B and numba's ``np.dot``) is limited to one thread unless
``OPENBLAS_NUM_THREADS`` is set, as in ``bench_optimize.py``. Subprocesses run with ``DCOMPILE_QUIET=1``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_first_solve.py                    # all parts (~8-9 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_first_solve.py --part latency     # one part (merged into the results)
    .venv/bin/python benchmarks/bench_first_solve.py --quick            # fewer methods, cases, problems, samples

Results go to ``benchmarks/results/first_solve.json`` and ``benchmarks/results/first_solve.md``
(``--quick`` writes ``first_solve_quick.*``). A run of one ``--part`` replaces that part in the existing
results and keeps the others (each part records its own date, commit and command). The script
re-invokes itself with ``--worker`` for the fresh-process measurements.
"""

from __future__ import annotations

import os

# before numpy (and OpenBLAS) load: one BLAS thread unless the caller chose otherwise
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from machine import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_ENV = "DCOMPILE_CACHE_DIR"
QUIET_ENV = "DCOMPILE_QUIET"
METHODS = ("lbfgs", "bfgs", "newton", "newton-cg", "gd")
QUICK_METHODS = ("lbfgs", "newton")
PARTS = ("latency", "iteration", "overhead")
LATENCY_N = 20  # extended Rosenbrock dimension of the new objectives
TARGETS = {"first_solve_s": 1.0, "iteration_ratio_max": 1.2, "overhead_median_min": 20.0}
WORKER_TIMEOUT_S = 600
GTOL = 1e-6
SCIPY_OPTIONS = {"gtol": GTOL, "maxiter": 10_000, "maxfun": 10**7}
SMALL_N = 100
QUICK_PROBLEMS = (
    ("rosenbrock", None),
    ("beale", None),
    ("wood", None),
    ("watson", None),
    ("extended_rosenbrock", 100),
)
# (label, objective, n, method, options)
ITERATION_CASES: tuple[tuple[str, str, int, str, dict[str, Any]], ...] = (
    ("rosenbrock n=6", "rosenbrock", 6, "lbfgs", {"gtol": GTOL}),
    ("rosenbrock n=100", "rosenbrock", 100, "lbfgs", {"gtol": GTOL}),
    ("rosenbrock n=1000", "rosenbrock", 1000, "lbfgs", {"gtol": GTOL}),
    ("quadratic n=5 (data args)", "quadratic", 5, "lbfgs", {"gtol": 1e-10}),
    ("quadratic n=50 (data args)", "quadratic", 50, "lbfgs", {"gtol": 1e-10}),
    ("rosenbrock n=20", "rosenbrock", 20, "newton", {"gtol": GTOL}),
    ("rosenbrock n=20", "rosenbrock", 20, "bfgs", {"gtol": GTOL}),
)
QUICK_ITERATION = (0, 3, 5)  # indices into ITERATION_CASES


# ---------------------------------------------------------------------------
# the new objectives of part 1: source text with a per-process constant
# ---------------------------------------------------------------------------
def objective_source(c: float, jax: bool = False) -> str:
    """Extended Rosenbrock (even n) times ``c``, as module source (``np`` or ``jnp`` operations)."""
    lib = "jnp" if jax else "np"
    head = "import jax.numpy as jnp\n" if jax else "import numpy as np\n"
    return (
        f"{head}\n\n"
        "def rosen(x):\n"
        f"    return {c!r} * {lib}.sum(100.0 * (x[1::2] - x[::2] ** 2) ** 2 + (1.0 - x[::2]) ** 2)\n"
    )


def new_objective(c: float, jax: bool = False) -> Callable[..., Any]:
    """The function ``rosen`` of :func:`objective_source`, built with ``exec`` (a new function each time)."""
    ns: dict[str, Any] = {}
    exec(compile(objective_source(c, jax), f"<rosen c={c!r}>", "exec"), ns)
    return ns["rosen"]  # type: ignore[no-any-return]


def rosen_x0(n: int) -> np.ndarray:
    return np.tile([-1.2, 1.0], n // 2)


def src_fingerprint(root: Path = HERE.parent) -> str:
    """A hash of the Python sources of the ``dcompile`` package under ``root``."""
    import hashlib

    h = hashlib.sha256()
    for q in sorted((root / "dcompile").rglob("*.py")):
        h.update(str(q.relative_to(root)).encode())
        h.update(q.read_bytes())
    return h.hexdigest()[:12]


def snapshot_sources() -> Path:
    """Copy the working tree's ``dcompile`` package to a temporary dir and put it first on ``PYTHONPATH``.

    Every measurement runs in a subprocess, which then imports this copy: edits made to the working tree
    while the benchmark runs (a shared repository) cannot change the code under test half-way, nor make a
    "warm" process recompile the shared loops (their cache key is a hash of their source).
    """
    root = Path(tempfile.mkdtemp(prefix="dcompile-first-solve-src-"))
    shutil.copytree(HERE.parent / "dcompile", root / "dcompile", ignore=shutil.ignore_patterns("__pycache__"))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return root


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def _new_files(before: set[str], directory: Path) -> dict[str, Any]:
    new = sorted(_files(directory) - before)
    return {
        "count": len(new),
        "shared_loops": [p for p in new if "shared_loops" in p],
        "kernels": [p for p in new if p.endswith(".py") and "shared_loops" not in p],
    }


# ---------------------------------------------------------------------------
# part 1 workers (fresh processes)
# ---------------------------------------------------------------------------
def _dc_result(r: Any) -> dict[str, Any]:
    return {
        "nit": int(r.nit),
        "nfev": int(r.nfev),
        "fun": float(r.fun),
        "success": bool(r.success),
        "compile_s": float(r.compile_seconds),
        "solve_s": float(r.solve_seconds),
    }


def worker_dc(method: str, c: float, specialize: bool) -> dict[str, Any]:
    """Fresh process: ``import dcompile``, then the first and a second ``dc.minimize`` on a new objective."""
    cache = Path(os.environ[CACHE_ENV])
    before = _files(cache)
    t = time.perf_counter()
    import dcompile as dc

    t_import = time.perf_counter() - t
    f = dc.compile(new_objective(c))
    x0 = rosen_x0(LATENCY_N)
    numba_before = "numba" in sys.modules
    t = time.perf_counter()
    r = dc.minimize(f, x0, method=method, specialize=specialize)
    first = time.perf_counter() - t
    t = time.perf_counter()
    r2 = dc.minimize(f, x0, method=method, specialize=specialize)
    second = time.perf_counter() - t
    return {
        "method": method,
        "c": c,
        "specialize": specialize,
        "import_dcompile_s": t_import,
        "first_call_s": first,
        "first": _dc_result(r),
        "other_s": first - r.compile_seconds - r.solve_seconds,
        "second_call_s": second,
        "second": _dc_result(r2),
        "numba_loaded_before_first_call": numba_before,
        "dcompile_file": dc.__file__,
        "new_files": _new_files(before, cache),
    }


def _scipy_fun(vg: Any, to_numpy: bool) -> Callable[[np.ndarray], Any]:
    if not to_numpy:
        return vg  # type: ignore[no-any-return]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = vg(x)
        return float(v), np.asarray(g, dtype=np.float64)

    return fun


def worker_scipy(kind: str, c: float) -> dict[str, Any]:
    """Fresh process: SciPy L-BFGS-B on a new objective, its gradient from jax (``jax``) or dcompile (``dc``)."""
    out: dict[str, Any] = {"kind": kind, "c": c}
    t = time.perf_counter()
    from scipy.optimize import minimize as sp_minimize

    out["import_scipy_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if kind == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        vg = jax.jit(jax.value_and_grad(new_objective(c, jax=True)))
        fun = _scipy_fun(vg, to_numpy=True)
        out["import_lib_s"] = time.perf_counter() - t
        out["lib_version"] = jax.__version__
    else:
        import dcompile as dc

        out["import_lib_s"] = time.perf_counter() - t
        f = dc.compile(new_objective(c))
        fun = dc.value_and_grad(f)  # scipy calls it as fun(x)
        out["lib_version"] = dc.__version__
    x0 = rosen_x0(LATENCY_N)
    t = time.perf_counter()
    r = sp_minimize(fun, x0, jac=True, method="L-BFGS-B")
    out["first_call_s"] = time.perf_counter() - t
    t = time.perf_counter()
    r2 = sp_minimize(fun, x0, jac=True, method="L-BFGS-B")
    out["second_call_s"] = time.perf_counter() - t
    out["first"] = {"nit": int(r.nit), "nfev": int(r.nfev), "fun": float(r.fun), "success": bool(r.success)}
    out["second_nit"] = int(r2.nit)
    return out


def worker_breakdown(method: str, c: float) -> dict[str, Any]:
    """Fresh process: the pieces of a first ``dc.minimize`` on a new objective, one after another.

    ``import numba``, the value-and-gradient kernel (``dc.value_and_grad(f)(x0)``), the Hessian or HVP
    kernel for newton / newton-cg, then ``dc.minimize`` itself (which reuses those kernels, so what is
    left is the shared loop's load from the disk cache, binding and the solve).
    """
    out: dict[str, Any] = {"method": method, "c": c}
    t = time.perf_counter()
    import dcompile as dc

    out["import_dcompile_s"] = time.perf_counter() - t
    t = time.perf_counter()
    import numba  # noqa: F401

    out["import_numba_s"] = time.perf_counter() - t
    f = dc.compile(new_objective(c))
    x0 = rosen_x0(LATENCY_N)
    t = time.perf_counter()
    dc.value_and_grad(f)(x0)
    out["vg_kernel_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if method == "newton":
        dc.hessian(f)(x0)
    elif method == "newton-cg":
        dc.hvp(f)((x0,), np.ones_like(x0))
    out["d2_kernel_s"] = time.perf_counter() - t
    t = time.perf_counter()
    r = dc.minimize(f, x0, method=method)
    out["minimize_after_kernels_s"] = time.perf_counter() - t
    out["minimize_compile_s"] = float(r.compile_seconds)
    out["minimize_solve_s"] = float(r.solve_seconds)
    return out


def worker_imports() -> dict[str, Any]:
    """Fresh process: import times of dcompile, then numba, scipy.optimize and jax (in that order)."""
    out: dict[str, Any] = {}
    t = time.perf_counter()
    import dcompile  # noqa: F401

    out["dcompile_s"] = time.perf_counter() - t
    out["numba_loaded_by_dcompile"] = "numba" in sys.modules
    t = time.perf_counter()
    import numba  # noqa: F401

    out["numba_after_dcompile_s"] = time.perf_counter() - t
    t = time.perf_counter()
    import scipy.optimize  # noqa: F401

    out["scipy_optimize_s"] = time.perf_counter() - t
    t = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", True)
    out["jax_s"] = time.perf_counter() - t
    return out


# ---------------------------------------------------------------------------
# part 1 driver
# ---------------------------------------------------------------------------
def run_worker(args: list[str], cache: Path) -> dict[str, Any]:
    """Run ``--worker ...`` in a fresh process on cache dir ``cache``; its JSON plus the process wall time."""
    env = {**os.environ, CACHE_ENV: str(cache), QUIET_ENV: "1"}
    t = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, __file__, "--worker", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s", "process_s": time.perf_counter() - t}
    wall = time.perf_counter() - t
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": (p.stderr.strip() or p.stdout.strip())[-800:], "rc": p.returncode, "process_s": wall}
    out["process_s"] = wall
    if p.stderr.strip():
        out["stderr_tail"] = p.stderr.strip()[-400:]
    return out


def _med(rows: list[dict[str, Any]], *path: str) -> float:
    vals = []
    for r in rows:
        v: Any = r
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, int | float) and math.isfinite(v):
            vals.append(float(v))
    return statistics.median(vals) if vals else math.nan


def _summ(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repeated fresh processes (errors dropped, counted)."""
    ok = [r for r in rows if "error" not in r]
    keys = {
        "import_dcompile_s": ("import_dcompile_s",),
        "import_scipy_s": ("import_scipy_s",),
        "import_lib_s": ("import_lib_s",),
        "first_call_s": ("first_call_s",),
        "compile_s": ("first", "compile_s"),
        "solve_s": ("first", "solve_s"),
        "other_s": ("other_s",),
        "second_call_s": ("second_call_s",),
        "process_s": ("process_s",),
    }
    out: dict[str, Any] = {k: _med(ok, *p) for k, p in keys.items()}
    out["first_call_range_s"] = [min(r["first_call_s"] for r in ok), max(r["first_call_s"] for r in ok)] if ok else []
    out["n"] = len(ok)
    out["errors"] = [r["error"] for r in rows if "error" in r]
    return out


def part_latency(methods: tuple[str, ...], reps: int, keep_cache: bool) -> dict[str, Any]:
    counter = iter(range(1, 10_000))

    def const() -> float:  # a new constant per process: a new objective the program cache cannot serve
        return round(1.0 + next(counter) / 997.0, 12)

    out: dict[str, Any] = {"n": LATENCY_N, "reps": reps, "methods": {}, "cache_dirs": {}}
    dirs: list[Path] = []
    for m in methods:
        cache = Path(tempfile.mkdtemp(prefix=f"dcompile-first-solve-{m}-"))
        dirs.append(cache)
        out["cache_dirs"][m] = str(cache)
        print(f"[latency] {m}: warm-up (compiles the shared loop) ...", flush=True)
        warm = run_worker(["dc", m, repr(const()), "0"], cache)
        rows: dict[str, list[dict[str, Any]]] = {"shared": [], "specialized": []}
        for i in range(reps):  # interleaved: shared, specialised, shared, ...
            for kind in ("shared", "specialized"):
                r = run_worker(["dc", m, repr(const()), "1" if kind == "specialized" else "0"], cache)
                rows[kind].append(r)
                print(
                    f"[latency] {m} {kind} #{i + 1}: first call {r.get('first_call_s', math.nan):.3f} s "
                    f"(compile {r.get('first', {}).get('compile_s', math.nan):.3f} s) {r.get('error', '')[:200]}",
                    flush=True,
                )
        bd = [run_worker(["breakdown", m, repr(const())], cache) for _ in range(reps)]
        keys = (
            "import_numba_s",
            "vg_kernel_s",
            "d2_kernel_s",
            "minimize_after_kernels_s",
            "minimize_compile_s",
            "minimize_solve_s",
        )
        out["methods"][m] = {
            "warmup": warm,
            "runs": rows,
            "summary": {k: _summ(v) for k, v in rows.items()},
            "breakdown": {"runs": bd, "median": {k: _med([r for r in bd if "error" not in r], k) for k in keys}},
        }
    # scipy L-BFGS-B on a new objective, fresh processes (the lbfgs dir: its kernel is new there too)
    sc_dir = Path(out["cache_dirs"].get("lbfgs", str(dirs[0])))
    sc: dict[str, list[dict[str, Any]]] = {"jax": [], "dc": []}
    for i in range(reps):
        for kind in ("jax", "dc"):
            r = run_worker(["scipy", kind, repr(const())], sc_dir)
            sc[kind].append(r)
            print(
                f"[latency] scipy+{kind} #{i + 1}: first call {r.get('first_call_s', math.nan):.3f} s "
                f"{r.get('error', '')[:200]}",
                flush=True,
            )
    out["scipy"] = {"runs": sc, "summary": {k: _summ(v) for k, v in sc.items()}}
    imports = [run_worker(["imports"], sc_dir) for _ in range(reps)]
    out["imports"] = {
        "runs": imports,
        "median": {
            k: _med([r for r in imports if "error" not in r], k)
            for k in ("dcompile_s", "numba_after_dcompile_s", "scipy_optimize_s", "jax_s")
        },
    }
    if not keep_cache:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------
# timing (parts 2 and 3)
# ---------------------------------------------------------------------------
def _calls(target_s: float, once_s: float, cap: int = 10_000) -> int:
    return max(1, min(cap, math.ceil(target_s / max(once_s, 1e-7))))


def round_robin(contenders: dict[str, Callable[[], Any]], samples: int, target_s: float) -> dict[str, Any]:
    """Per-call seconds of each contender (whole call, and ``solve_seconds`` where the result has it).

    Each sample runs each contender back to back for about ``target_s``, contenders in turn.
    """
    k: dict[str, int] = {}
    for name, fn in contenders.items():
        t = time.perf_counter()
        fn()
        k[name] = _calls(target_s, time.perf_counter() - t)
    wall: dict[str, list[float]] = {n: [] for n in contenders}
    loop: dict[str, list[float]] = {n: [] for n in contenders}
    for _ in range(samples):
        for name, fn in contenders.items():
            acc = 0.0
            t = time.perf_counter()
            for _ in range(k[name]):
                r = fn()
                acc += getattr(r, "solve_seconds", math.nan) if r is not None else math.nan
            wall[name].append((time.perf_counter() - t) / k[name])
            loop[name].append(acc / k[name])
    out: dict[str, Any] = {"samples": samples, "calls_per_sample": k}
    for name in contenders:
        out[name] = {"wall_s": statistics.median(wall[name]), "wall_runs_s": wall[name]}
        if all(math.isfinite(v) for v in loop[name]):
            out[name]["loop_s"] = statistics.median(loop[name])
            out[name]["loop_runs_s"] = loop[name]
    return out


def _ratio(a: list[float], b: list[float]) -> float:
    """Median over samples of the per-sample ratio a / b."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------
# part 2: per-iteration cost, shared vs specialised (one process)
# ---------------------------------------------------------------------------
def _quadratic(dc: Any) -> Any:
    def quadratic(x, A, b):
        return 0.5 * (x @ (A @ x)) - b @ x

    return dc.compile(quadratic)


def worker_iteration(indices: list[int], samples: int, target_s: float) -> dict[str, Any]:
    import dcompile as dc
    from dcompile.optimize.problems import problem

    quad = _quadratic(dc)
    rows = []
    for i in indices:
        label, obj, n, method, options = ITERATION_CASES[i]
        t0 = time.perf_counter()
        if obj == "rosenbrock":
            p = problem("extended_rosenbrock", n)
            f, x0, args = dc.compile(p.f), p.x0, ()
        else:
            rng = np.random.default_rng(n)
            mat = rng.standard_normal((n, n))
            A = mat @ mat.T / n + np.eye(n)
            f, x0, args = quad, np.zeros(n), (A, rng.standard_normal(n))

        def shared(f: Any = f, x0: Any = x0, args: Any = args, method: str = method, options: Any = options) -> Any:
            return dc.minimize(f, x0, args, method=method, options=options)

        def special(f: Any = f, x0: Any = x0, args: Any = args, method: str = method, options: Any = options) -> Any:
            return dc.minimize(f, x0, args, method=method, options=options, specialize=True)

        r_sh, r_sp = shared(), special()  # compile (kernels, shared loop, specialised loop)
        row: dict[str, Any] = {
            "case": label,
            "n": n,
            "method": method,
            "options": options,
            "compile_shared_s": r_sh.compile_seconds,
            "compile_specialized_s": r_sp.compile_seconds,
        }
        r_sh, r_sp = shared(), special()
        row["nit"] = {"shared": int(r_sh.nit), "specialized": int(r_sp.nit)}
        row["nfev"] = {"shared": int(r_sh.nfev), "specialized": int(r_sp.nfev)}
        row["fun"] = float(r_sh.fun)
        row["success"] = bool(r_sh.success and r_sp.success)
        row["identical"] = bool(
            r_sh.nit == r_sp.nit
            and r_sh.nfev == r_sp.nfev
            and r_sh.nhev == r_sp.nhev
            and r_sh.status == r_sp.status
            and np.array_equal(r_sh.x, r_sp.x)
            and float(r_sh.fun) == float(r_sp.fun)
            and np.array_equal(r_sh.jac, r_sp.jac)
        )
        gc.collect()
        t = round_robin({"shared": shared, "specialized": special}, samples, target_s)
        row["times"] = t
        row["ratio_loop"] = _ratio(t["shared"]["loop_runs_s"], t["specialized"]["loop_runs_s"])
        row["ratio_wall"] = _ratio(t["shared"]["wall_runs_s"], t["specialized"]["wall_runs_s"])
        nit = max(row["nit"]["shared"], 1)
        row["per_iter_s"] = {k: t[k]["loop_s"] / nit for k in ("shared", "specialized")}
        row["case_s"] = time.perf_counter() - t0
        print(
            f"[iteration] {label} {method}: loop shared/specialised {row['ratio_loop']:.3f} "
            f"(nit {row['nit']}, identical {row['identical']}) {row['case_s']:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        rows.append(row)
    return {"rows": rows, "dcompile_file": dc.__file__}


# ---------------------------------------------------------------------------
# part 3: whole-call overhead on the MGH problems with n <= 100 (one process)
# ---------------------------------------------------------------------------
def overhead_problems(quick: bool) -> list[tuple[str, int | None]]:
    if quick:
        return list(QUICK_PROBLEMS)
    from dcompile.optimize.problems import PROBLEMS

    todo: list[tuple[str, int | None]] = [(name, None) for name, p in PROBLEMS.items() if p.n <= SMALL_N]
    return [*todo, ("extended_rosenbrock", 100)]


def worker_overhead(quick: bool, samples: int, target_s: float, specialized: bool) -> dict[str, Any]:
    from scipy.optimize import minimize as sp_minimize

    import dcompile as dc
    from dcompile.optimize.problems import problem

    dc_options = {"gtol": GTOL}
    rows = []
    for name, n in overhead_problems(quick):
        t0 = time.perf_counter()
        p = problem(name, n)
        row: dict[str, Any] = {"problem": name, "n": p.n, "label": name if n is None else f"{name} n={n}"}
        try:
            f = dc.compile(p.f)
            vg = dc.value_and_grad(f)

            def dc_solve(f: Any = f, x0: np.ndarray = p.x0) -> Any:
                return dc.minimize(f, x0, method="lbfgs", options=dc_options)

            def sp_solve(vg: Any = vg, x0: np.ndarray = p.x0) -> Any:
                sp_minimize(vg, x0, jac=True, method="L-BFGS-B", options=SCIPY_OPTIONS)

            def spec_solve(f: Any = f, x0: np.ndarray = p.x0) -> Any:
                return dc.minimize(f, x0, method="lbfgs", options=dc_options, specialize=True)

            r_dc = dc_solve()
            row["dc_compile_s"] = r_dc.compile_seconds  # the kernel's compile, the shared loop's load
            contenders = {"dc": dc_solve, "scipy": sp_solve}
            if specialized:
                r_spec = spec_solve()
                row["spec_compile_s"] = r_spec.compile_seconds
                row["spec_identical"] = bool(r_spec.nit == r_dc.nit and np.array_equal(r_spec.x, r_dc.x))
                contenders["spec"] = spec_solve
                spec_solve()
            r_sp = sp_minimize(vg, p.x0, jac=True, method="L-BFGS-B", options=SCIPY_OPTIONS)
            row["dc"] = {"nit": int(r_dc.nit), "nfev": int(r_dc.nfev), "fun": float(r_dc.fun)}
            row["scipy"] = {"nit": int(r_sp.nit), "nfev": int(r_sp.nfev), "fun": float(r_sp.fun)}
            dc_solve()
            gc.collect()
            t = round_robin(contenders, samples, target_s)
            row["times"] = t
            row["dc_wall_s"] = t["dc"]["wall_s"]
            row["dc_loop_s"] = t["dc"]["loop_s"]
            row["dc_overhead_s"] = statistics.median(
                w - lp for w, lp in zip(t["dc"]["wall_runs_s"], t["dc"]["loop_runs_s"], strict=True)
            )
            row["scipy_s"] = t["scipy"]["wall_s"]
            row["ratio_wall"] = _ratio(t["scipy"]["wall_runs_s"], t["dc"]["wall_runs_s"])
            row["ratio_loop"] = _ratio(t["scipy"]["wall_runs_s"], t["dc"]["loop_runs_s"])
            if specialized:
                row["spec_wall_s"] = t["spec"]["wall_s"]
                row["spec_loop_s"] = t["spec"]["loop_s"]
                row["ratio_wall_spec"] = _ratio(t["scipy"]["wall_runs_s"], t["spec"]["wall_runs_s"])
                row["shared_over_spec_loop"] = _ratio(t["dc"]["loop_runs_s"], t["spec"]["loop_runs_s"])
        except Exception as e:  # report, do not stop the run
            row["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]
        row["case_s"] = time.perf_counter() - t0
        print(
            f"[overhead] {row['label']}: scipy/dc {row.get('ratio_wall', math.nan):.1f}x, dc call "
            f"{row.get('dc_wall_s', math.nan) * 1e6:.0f} us, loop {row.get('dc_loop_s', math.nan) * 1e6:.0f} us "
            f"{row.get('error', '')}",
            file=sys.stderr,
            flush=True,
        )
        rows.append(row)
    return {"rows": rows, "dcompile_file": dc.__file__}


def run_inprocess_part(args: list[str], keep_cache: bool) -> dict[str, Any]:
    """Run a one-process part in a subprocess on a fresh cache dir (compiles included in its run time)."""
    cache = Path(tempfile.mkdtemp(prefix=f"dcompile-first-solve-{args[0]}-"))
    env = {**os.environ, CACHE_ENV: str(cache), QUIET_ENV: "1"}
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        stdout=subprocess.PIPE,
        stderr=None,  # progress lines go straight to the terminal
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t
    if not keep_cache:
        shutil.rmtree(cache, ignore_errors=True)
    try:
        out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": p.stdout.strip()[-800:] or f"worker exited {p.returncode}", "process_s": wall}
    out["process_s"] = wall
    out["cache_dir"] = str(cache)
    return out


# ---------------------------------------------------------------------------
# summaries and markdown
# ---------------------------------------------------------------------------
def _status(ok: bool | None) -> str:
    return "-" if ok is None else "met" if ok else "**not met**"


def _s(x: Any, fmt: str = ".3f") -> str:
    return "-" if not isinstance(x, int | float) or not math.isfinite(x) else format(x, fmt)


def _ms(x: Any) -> str:
    return _s(x * 1e3 if isinstance(x, int | float) else x, ".2f")


def _us(x: Any) -> str:
    return _s(x * 1e6 if isinstance(x, int | float) else x, ".1f")


def targets_latency(lat: dict[str, Any]) -> list[dict[str, Any]]:
    tgt = TARGETS["first_solve_s"]
    out = []
    for m, d in lat["methods"].items():
        s = d["summary"]["shared"]
        out.append(
            {
                "target": f"first `dc.minimize(f, x0, method='{m}')` on a new objective (Rosenbrock n = "
                f"{lat['n']}), loop cache warm, objective's compile included: ≤ {tgt:g} s",
                "result": f"{_s(s['first_call_s'])} s (median of {s['n']}; compile_seconds {_s(s['compile_s'])} s)",
                "status": _status(s["first_call_s"] <= tgt if math.isfinite(s["first_call_s"]) else None),
            }
        )
    return out


def targets_iteration(it: dict[str, Any]) -> list[dict[str, Any]]:
    tgt = TARGETS["iteration_ratio_max"]
    out = []
    for r in it["rows"]:
        out.append(
            {
                "target": f"{r['case']}, {r['method']}: solve_seconds shared / specialised ≤ {tgt:g}",
                "result": f"{r['ratio_loop']:.2f}x (nit {r['nit']['shared']} / {r['nit']['specialized']}, "
                f"{'identical results' if r['identical'] else 'RESULTS DIFFER'})",
                "status": _status(r["ratio_loop"] <= tgt),
            }
        )
    return out


def targets_overhead(ov: dict[str, Any]) -> list[dict[str, Any]]:
    tgt = TARGETS["overhead_median_min"]
    ok = [r for r in ov["rows"] if "error" not in r]
    if not ok:
        return []
    wall = [r["ratio_wall"] for r in ok]
    loop = [r["ratio_loop"] for r in ok]
    out = [
        {
            "target": f"median over problems with n ≤ {SMALL_N} of scipy L-BFGS-B time / whole warm "
            f"`dc.minimize` call ≥ {tgt:g}x (was 12.4x)",
            "result": f"{statistics.median(wall):.1f}x (range {min(wall):.1f}-{max(wall):.1f}x "
            f"over {len(ok)} problems)",
            "status": _status(statistics.median(wall) >= tgt),
        },
        {
            "target": f"(diagnostic) the same against dcompile's loop alone (`solve_seconds`) ≥ {tgt:g}x",
            "result": f"{statistics.median(loop):.1f}x (range {min(loop):.1f}-{max(loop):.1f}x)",
            "status": _status(statistics.median(loop) >= tgt),
        },
    ]
    spec = [r["ratio_wall_spec"] for r in ok if "ratio_wall_spec" in r]
    if spec:
        out.append(
            {
                "target": "(diagnostic, same machine and run) the same whole-call median with `specialize=True` "
                "(per-objective loops, the old behaviour)",
                "result": f"{statistics.median(spec):.1f}x (range {min(spec):.1f}-{max(spec):.1f}x)",
                "status": "-",
            }
        )
    return out


def _run_line(run: dict[str, Any]) -> str:
    changed = (
        " **dcompile's sources changed while this part ran** (edited concurrently): figures may mix versions."
        if run.get("dcompile_src_changed_during_part")
        else ""
    )
    snap = " (a copy taken at the start of the run, imported by every measuring process)" if run.get("snapshot") else ""
    return (
        f"_Run: {run['date']}, git {run['git_commit']}, dcompile sources {run.get('dcompile_src', '?')}{snap}, "
        f"`{run['command']}`, {run.get('part_s', math.nan):.0f} s, 1-min load average at start / end "
        f"{' / '.join(f'{x:.2f}' for x in run.get('loadavg_1min_start_end', []))}._{changed}"
    )


def md_latency(lat: dict[str, Any]) -> list[str]:
    L = [
        "## 1. First-solve latency on a new objective (loop cache warm)",
        "",
        _run_line(lat["run"]),
        "",
        f"Each figure: median of {lat['reps']} fresh processes (range of the first call in brackets). Per method a "
        "fresh `DCOMPILE_CACHE_DIR`; one warm-up process solved another objective there first (compiling the "
        f"shared loop: its first call is the *cold* column). Each measured process builds a NEW objective, extended "
        f"Rosenbrock n = {lat['n']} times a per-process constant written into its source (`exec`), so its kernels "
        "are compiled in that process; `dc.compile(f)` then `dc.minimize(f, x0, method=M)` timed by perf_counter "
        "around the call (default options). `other` = first call - compile_seconds - solve_seconds: work outside "
        "the timed compile, mostly `import numba` (dcompile imports it lazily; with numba imported beforehand "
        "`other` drops to about 0.02 s). `import` = `import dcompile` (numpy already "
        "loaded). `process` = the subprocess's whole wall time (interpreter start, imports, both calls, exit).",
        "",
        "### Targets",
        "",
        "| target | result | status |",
        "|---|---|---|",
    ]
    L += [f"| {t['target']} | {t['result']} | {t['status']} |" for t in targets_latency(lat)]
    L += [
        "",
        "### dcompile: shared loops (default) vs `specialize=True` (per-objective loops, the old behaviour)",
        "",
        "| method | loops | first call (s) | compile_seconds (s) | solve_seconds (ms) | other (s) | second call (ms) "
        "| import dcompile (s) | process (s) | target ≤ 1 s | cold: warm-up first call (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m, d in lat["methods"].items():
        warm = d["warmup"]
        for kind in ("shared", "specialized"):
            s = d["summary"][kind]
            rng = s["first_call_range_s"]
            cold = _s(warm.get("first_call_s"), ".2f") if kind == "shared" else ""
            L.append(
                f"| {m} | {'shared' if kind == 'shared' else 'specialize=True'} | {_s(s['first_call_s'])} "
                f"({_s(rng[0] if rng else None, '.2f')}-{_s(rng[1] if rng else None, '.2f')}) | {_s(s['compile_s'])} "
                f"| {_ms(s['solve_s'])} | {_s(s['other_s'])} | {_ms(s['second_call_s'])} | "
                f"{_s(s['import_dcompile_s'])} | {_s(s['process_s'], '.2f')} | "
                f"{_status(s['first_call_s'] <= TARGETS['first_solve_s'])} | {cold} |"
            )
            if s["errors"]:
                L.append(f"| {m} | {kind} | errors: {'; '.join(e[:150] for e in s['errors'])} |||||||||")
    L += [
        "",
        "Where a shared-loop first call goes (separate fresh processes on the same warm dirs, another new objective "
        "each, the pieces timed one after another, medians): `import numba` (dcompile imports it lazily, on the "
        "first compile); the value-and-gradient kernel (`dc.value_and_grad(f)(x0)`: trace + numba compile); the "
        "Hessian (newton) or Hessian-vector-product (newton-cg) kernel; then `dc.minimize`, which reuses those "
        "kernels, so what is left is the shared loop's load from the disk cache, binding, and the solve.",
        "",
        "| method | import numba (s) | value-and-grad kernel (s) | Hessian / HVP kernel (s) | then dc.minimize (s) "
        "| of which compile_seconds (s) | of which solve_seconds (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, d in lat["methods"].items():
        b = d["breakdown"]["median"]
        L.append(
            f"| {m} | {_s(b['import_numba_s'])} | {_s(b['vg_kernel_s'])} | {_s(b['d2_kernel_s'])} | "
            f"{_s(b['minimize_after_kernels_s'])} | {_s(b['minimize_compile_s'])} | {_ms(b['minimize_solve_s'])} |"
        )
    sc = lat["scipy"]["summary"]
    L += [
        "",
        f"### SciPy L-BFGS-B on a new objective (fresh processes, Rosenbrock n = {lat['n']}, default options)",
        "",
        "`minimize(fun, x0, jac=True, method='L-BFGS-B')`; the first call includes the gradient's compile "
        "(jax: trace + XLA compile of `jax.jit(jax.value_and_grad(f))`, x64; dcompile: `dc.value_and_grad(f)`'s "
        "trace and kernel compile). Imports are timed apart.",
        "",
        "| gradient | first call (s) | second call (ms) | import scipy.optimize (s) | import jax / dcompile (s) "
        "| imports + first call (s) | process (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, lbl in (("jax", "jax.jit(jax.value_and_grad(f))"), ("dc", "dc.value_and_grad(f)")):
        s = sc[kind]
        tot = s["import_scipy_s"] + s["import_lib_s"] + s["first_call_s"]
        L.append(
            f"| `{lbl}` | {_s(s['first_call_s'])} | {_ms(s['second_call_s'])} | {_s(s['import_scipy_s'])} | "
            f"{_s(s['import_lib_s'])} | {_s(tot)} | {_s(s['process_s'], '.2f')} |"
        )
    if "lbfgs" in lat["methods"]:
        s = lat["methods"]["lbfgs"]["summary"]["shared"]
        L.append(
            f"| (dcompile `dc.minimize`, lbfgs, shared loop, for comparison) | {_s(s['first_call_s'])} | "
            f"{_ms(s['second_call_s'])} | - | {_s(s['import_dcompile_s'])} | "
            f"{_s(s['import_dcompile_s'] + s['first_call_s'])} | {_s(s['process_s'], '.2f')} |"
        )
    im = lat["imports"]["median"]
    L += [
        "",
        f"Import times (fresh processes, median of {len(lat['imports']['runs'])}, in this order): `import dcompile` "
        f"{_s(im['dcompile_s'])} s, then `import numba` {_s(im['numba_after_dcompile_s'])} s (dcompile imports numba "
        f"lazily, so a first `dc.minimize` pays this, outside its `compile_seconds`: the `other` column), "
        f"`import scipy.optimize` {_s(im['scipy_optimize_s'])} s, `import jax` (+ x64) {_s(im['jax_s'])} s.",
        "",
    ]
    bad = [
        f"{m} {k} #{i + 1}: {r['new_files']['shared_loops']}"
        for m, d in lat["methods"].items()
        for k in ("shared",)
        for i, r in enumerate(d["runs"][k])
        if r.get("new_files", {}).get("shared_loops")
    ]
    hits = [
        f"{m} {k} #{i + 1}"
        for m, d in lat["methods"].items()
        for k in ("shared", "specialized")
        for i, r in enumerate(d["runs"][k])
        if "error" not in r and not r.get("new_files", {}).get("kernels")
    ]
    L.append(
        "Checks: measured shared-loop processes that wrote shared-loop cache files (i.e. compiled the loop instead "
        f"of loading it; expected none): {', '.join(bad) or 'none'}. Measured processes that wrote no new kernel "
        f"module (i.e. a cache served the 'new' objective; expected none): {', '.join(hits) or 'none'}."
    )
    L.append("")
    return L


def md_iteration(it: dict[str, Any]) -> list[str]:
    rows = it["rows"]
    s0 = rows[0]["times"]["samples"] if rows else 0
    L = [
        "## 2. Per-iteration cost: shared loop vs specialised loop",
        "",
        _run_line(it["run"]),
        "",
        "One process, fresh cache dir; for each case both variants were called twice first (compile, warm), then "
        f"timed round-robin: {s0} samples, each running one variant back to back for ≥ {it['target_s']} s. "
        "`loop` = `res.solve_seconds` (the compiled loop alone), median per solve; ratio = median over samples "
        "of shared / specialised. `identical`: same nit, nfev, nhev, status and bit-for-bit equal x, f and g.",
        "",
        "### Targets",
        "",
        "| target | result | status |",
        "|---|---|---|",
    ]
    L += [f"| {t['target']} | {t['result']} | {t['status']} |" for t in targets_iteration(it)]
    L += [
        "",
        "| case | method | options | nit | nfev | identical | shared loop (µs) | specialised loop (µs) | "
        "per iteration shared / specialised (µs) | loop ratio | whole-call ratio | compile shared / specialised (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["times"]
        L.append(
            f"| {r['case']} | {r['method']} | {r['options']} | {r['nit']['shared']} | {r['nfev']['shared']} | "
            f"{'yes' if r['identical'] else '**no**'} | {_us(t['shared']['loop_s'])} | "
            f"{_us(t['specialized']['loop_s'])} | {_us(r['per_iter_s']['shared'])} / "
            f"{_us(r['per_iter_s']['specialized'])} | {r['ratio_loop']:.2f} | {r['ratio_wall']:.2f} | "
            f"{r['compile_shared_s']:.2f} / {r['compile_specialized_s']:.2f} |"
        )
    L.append("")
    return L


def md_overhead(ov: dict[str, Any]) -> list[str]:
    rows = ov["rows"]
    ok = [r for r in rows if "error" not in r]
    L = [
        f"## 3. Whole-call overhead on small problems (MGH, n ≤ {SMALL_N})",
        "",
        _run_line(ov["run"]),
        "",
        f"One process, fresh cache dir. dcompile: `dc.minimize(f, x0, method='lbfgs', options={{'gtol': {GTOL}}})` "
        f"(shared loop), `f = dc.compile(problem.f)`; scipy: `minimize(vg, x0, jac=True, method='L-BFGS-B', "
        f"options={SCIPY_OPTIONS})`, `vg = dc.value_and_grad(f)` (the same compiled kernel). Both warm; round-robin, "
        f"{ov['samples']} samples of ≥ {ov['target_s']} s each; per-solve medians; ratio = median over samples of "
        "scipy / dcompile. `overhead` = whole call - `solve_seconds` (Python work around the compiled loop). "
        "`specialize=True`: the same dcompile call with per-objective loops (the old behaviour), timed in the same "
        "round-robin, for a same-machine baseline (the 12.4x of the issue was measured by `bench_optimize.py` on "
        "another machine, with scipy calling `lambda x: vg(x)`).",
        "",
        "### Targets",
        "",
        "| target | result | status |",
        "|---|---|---|",
    ]
    L += [f"| {t['target']} | {t['result']} | {t['status']} |" for t in targets_overhead(ov)]
    if ok:
        L += [
            "",
            f"Medians over the {len(ok)} problems: dcompile whole call "
            f"{_us(statistics.median(r['dc_wall_s'] for r in ok))} µs, loop only "
            f"{_us(statistics.median(r['dc_loop_s'] for r in ok))} µs, overhead per call "
            f"{_us(statistics.median(r['dc_overhead_s'] for r in ok))} µs "
            f"(range {_us(min(r['dc_overhead_s'] for r in ok))}-{_us(max(r['dc_overhead_s'] for r in ok))} µs); "
            f"scipy {_us(statistics.median(r['scipy_s'] for r in ok))} µs.",
        ]
        sp = [r for r in ok if "spec_wall_s" in r]
        if sp:
            same = sum(bool(r.get("spec_identical")) for r in sp)
            rat = [r["shared_over_spec_loop"] for r in sp]
            L.append(
                f"With `specialize=True` ({len(sp)} problems): whole call "
                f"{_us(statistics.median(r['spec_wall_s'] for r in sp))} µs, loop only "
                f"{_us(statistics.median(r['spec_loop_s'] for r in sp))} µs, overhead per call "
                f"{_us(statistics.median(r['spec_wall_s'] - r['spec_loop_s'] for r in sp))} µs; shared / specialised "
                f"loop time median {statistics.median(rat):.2f} (range {min(rat):.2f}-{max(rat):.2f}); "
                f"same nit and bit-identical x on {same}/{len(sp)} problems."
            )
    L += [
        "",
        "| problem | n | dc nit / nfev | scipy nit / nfev | dc f | scipy f | scipy (µs) | dc call (µs) | dc loop (µs) "
        "| dc overhead (µs) | scipy / dc call | scipy / dc loop | kernel compile (s) "
        "| specialize=True call / loop (µs) | scipy / specialised call | shared / specialised loop |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            L.append(f"| {r['label']} | {r['n']} | error: {r['error']} ||||||||||||||")
            continue
        L.append(
            f"| {r['label']} | {r['n']} | {r['dc']['nit']} / {r['dc']['nfev']} | {r['scipy']['nit']} / "
            f"{r['scipy']['nfev']} | {r['dc']['fun']:.6g} | {r['scipy']['fun']:.6g} | {_us(r['scipy_s'])} | "
            f"{_us(r['dc_wall_s'])} | {_us(r['dc_loop_s'])} | {_us(r['dc_overhead_s'])} | {r['ratio_wall']:.1f}x | "
            f"{r['ratio_loop']:.1f}x | {r['dc_compile_s']:.2f} | {_us(r.get('spec_wall_s'))} / "
            f"{_us(r.get('spec_loop_s'))} | {_s(r.get('ratio_wall_spec'), '.1f')}x | "
            f"{_s(r.get('shared_over_spec_loop'), '.2f')} |"
        )
    L.append("")
    return L


def render_markdown(res: dict[str, Any]) -> str:
    mi = res["machine"]
    parts = res["parts"]
    L = [
        "# dcompile first-solve benchmark: shared optimizer loops",
        "",
        f"Command to reproduce (from the repository root): `{mi['command']}`",
        "",
        f"- date: {mi['date']}",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); a shared, noisy machine: quote medians "
        "and ratios, not single numbers",
        f"- python {mi['python']}, numba {mi['numba']}, numpy {mi['numpy']}, scipy {res.get('scipy')}, jax "
        f"{mi['jax']}, dcompile {mi['dcompile']} (git {mi['git_commit']})",
        f"- BLAS threads: OPENBLAS_NUM_THREADS={res.get('blas_threads')}; subprocesses run with DCOMPILE_QUIET=1",
        f"- parts in this file: {', '.join(p for p in PARTS if p in parts)}",
        "",
        "## Summary",
        "",
        "| part | target | result | status |",
        "|---|---|---|---|",
    ]
    for part, fn in (("latency", targets_latency), ("iteration", targets_iteration), ("overhead", targets_overhead)):
        if part in parts and "error" not in parts[part]:
            L += [f"| {part} | {t['target']} | {t['result']} | {t['status']} |" for t in fn(parts[part])]
    L.append("")
    for part, fn in (("latency", md_latency), ("iteration", md_iteration), ("overhead", md_overhead)):
        if part not in parts:
            continue
        if "error" in parts[part]:
            L += [f"## {part}: error", "", "```", str(parts[part]["error"]), "```", ""]
            continue
        L += fn(parts[part])
    return "\n".join(L)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def run_worker_mode(w: list[str]) -> None:
    """``--worker KIND ...``: one fresh-process measurement, its JSON on the last line of stdout."""
    if w[0] == "dc":
        out = worker_dc(w[1], float(w[2]), w[3] == "1")
    elif w[0] == "scipy":
        out = worker_scipy(w[1], float(w[2]))
    elif w[0] == "breakdown":
        out = worker_breakdown(w[1], float(w[2]))
    elif w[0] == "imports":
        out = worker_imports()
    elif w[0] == "iteration":
        out = worker_iteration(json.loads(w[1]), int(w[2]), float(w[3]))
    elif w[0] == "overhead":
        out = worker_overhead(w[1] == "1", int(w[2]), float(w[3]), w[4] == "1")
    else:
        raise SystemExit(f"unknown worker {w[0]}")
    print(json.dumps(out, default=float))


def run_part(part: str, quick: bool, reps: int, keep_cache: bool, no_specialized: bool) -> dict[str, Any]:
    if part == "latency":
        return part_latency(QUICK_METHODS if quick else METHODS, reps, keep_cache)
    if part == "iteration":
        idx = list(QUICK_ITERATION) if quick else list(range(len(ITERATION_CASES)))
        samples, target_s = (5, 0.02) if quick else (15, 0.05)
        out = run_inprocess_part(["iteration", json.dumps(idx), str(samples), str(target_s)], keep_cache)
    else:
        samples, target_s = (5, 0.02) if quick else (7, 0.02)
        spec = "0" if no_specialized else "1"
        out = run_inprocess_part(["overhead", "1" if quick else "0", str(samples), str(target_s), spec], keep_cache)
    out.update(samples=samples, target_s=target_s)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer methods, cases, problems and samples")
    ap.add_argument("--part", choices=(*PARTS, "all"), default="all", help="which part to run (default all)")
    ap.add_argument("--reps", type=int, default=None, help="fresh processes per latency figure (default 3, quick 2)")
    ap.add_argument("--keep-cache", action="store_true", help="keep the temporary cache dirs")
    ap.add_argument(
        "--no-specialized",
        action="store_true",
        help="overhead part: skip the specialize=True comparison (one loop compile per problem)",
    )
    ap.add_argument(
        "--no-snapshot",
        action="store_true",
        help="measure the working tree's dcompile directly instead of a copy taken at the start",
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        run_worker_mode(a.worker)
        return

    import scipy

    command = " ".join([".venv/bin/python", "benchmarks/bench_first_solve.py", *sys.argv[1:]])
    parts = PARTS if a.part == "all" else (a.part,)
    reps = a.reps or (2 if a.quick else 3)
    stem = "first_solve_quick" if a.quick else "first_solve"
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"{stem}.json"
    res: dict[str, Any] = {"parts": {}}
    if a.part != "all" and path.exists():  # one part: keep the others
        try:
            res = json.loads(path.read_text())
        except ValueError:
            res = {"parts": {}}
    t_all = time.perf_counter()
    mi_start = machine_info(command)  # the commit the snapshot is taken from
    snap = None if a.no_snapshot else snapshot_sources()
    src = src_fingerprint(snap or HERE.parent)
    for part in parts:
        t0 = time.perf_counter()
        print(f"== part {part} ==", flush=True)
        load0 = os.getloadavg()[0]
        date = machine_info(command)["date"] if part != parts[0] else mi_start["date"]
        out = run_part(part, a.quick, reps, a.keep_cache, a.no_specialized)
        out["run"] = {
            "date": date,
            "git_commit": mi_start["git_commit"],
            "command": command,
            "part_s": time.perf_counter() - t0,
            "dcompile_src": src,
            "snapshot": snap is not None,
            "dcompile_src_changed_during_part": None if snap is not None else src != src_fingerprint(),
            "loadavg_1min_start_end": [load0, os.getloadavg()[0]],
        }
        res["parts"][part] = out
        print(f"== part {part}: {time.perf_counter() - t0:.0f} s ==", flush=True)
    if snap is not None and not a.keep_cache:
        shutil.rmtree(snap, ignore_errors=True)
    res["machine"] = mi_start
    res["scipy"] = scipy.__version__
    res["blas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS")
    res["targets"] = TARGETS
    res["total_s"] = time.perf_counter() - t_all
    path.write_text(json.dumps(res, indent=1, default=float))
    (a.out / f"{stem}.md").write_text(render_markdown(res))
    print(f"wrote {path} and {stem}.md ({res['total_s']:.0f} s)")
    for part, fn in (("latency", targets_latency), ("iteration", targets_iteration), ("overhead", targets_overhead)):
        if part in res["parts"] and "error" not in res["parts"][part]:
            for t in fn(res["parts"][part]):
                print(f"  {t['status']:<12} {t['target']}: {t['result']}")


if __name__ == "__main__":
    main()
