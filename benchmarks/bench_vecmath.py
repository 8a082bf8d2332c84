"""dcompile.runtime.vecmath: speed (ns per element) and accuracy (max ulp) of the vectorisable math.

For each function, the loop ``for i in range(n): out[i] = f(a[i])`` compiled by numba with
``error_model="numpy"`` runs with ``f = vm.<name>`` (branch-free polynomial, vectorised) and
with NumPy's function (a scalar libm call per element under numba); NumPy's own ufunc on the
whole array is the third column. Also the logistic-loss row loop (softplus + sigmoid + a
reduction) both ways. Accuracy: max error in ulps against NumPy in 80-bit long double on
``--points`` points per function (log-uniform magnitudes over the whole range, both signs, plus
the central range) and against mpmath at 40 digits on ``--mp-points`` points. Compile: seconds
for the first call of each ``vm.<name>`` loop in this process (after a warm-up loop without
vecmath, which pays numba's first-compile cost), and the same for a loop of ``abs`` (the
baseline: what any new loop costs).

Run: ``.venv/bin/python benchmarks/bench_vecmath.py`` (writes benchmarks/results/vecmath.json
and vecmath.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import scipy.special
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import machine_info

from dcompile.runtime import vecmath as vm
from dcompile.runtime import vecmath_check as check
from dcompile.runtime.vecmath_check import ulp_error

RESULTS = Path(__file__).resolve().parent / "results"
LD = np.longdouble

NUMPY: dict[str, Callable[[Any], Any]] = check.NUMPY
LIBM_IN_NUMBA: dict[str, Callable[[Any], Any]] = {  # NumPy's functions; the two compositions jitted
    **check.NUMPY,
    "sigmoid": njit(lambda x: 1.0 / (1.0 + np.exp(-x))),
    "softplus": njit(lambda x: np.logaddexp(0.0, x)),
}
UFUNC: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {  # NumPy on whole arrays, into o
    **{name: (lambda a, o, f=f: f(a, out=o)) for name, f in check.NUMPY.items() if isinstance(f, np.ufunc)},
    "sigmoid": lambda a, o: scipy.special.expit(a, out=o),
    "softplus": lambda a, o: np.logaddexp(0.0, a, out=o),
}
MPMATH: dict[str, Callable[[Any], Any]] = check.mpmath_reference()
make_loop = check.elementwise_loop


@njit(error_model="numpy")
def logistic_vm(t1, y, d):
    s = 0.0
    for i in range(t1.size):
        t2 = -y[i] * t1[i]
        s = vm.add(s, vm.softplus(t2))
        d[i] = vm.sigmoid(t2) * -y[i]
    return s


@njit(error_model="numpy")
def logistic_libm(t1, y, d):
    s = 0.0
    for i in range(t1.size):
        t2 = -y[i] * t1[i]
        s += np.logaddexp(0.0, t2)
        d[i] = 1.0 / (1.0 + np.exp(-t2)) * -y[i]
    return s


def best_ns(run: Callable[..., Any], run_args: tuple[Any, ...], n: int, repeat: int) -> float:
    """Median time of ``repeat`` calls ``run(*run_args)``, ns per element."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run(*run_args)
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e9 / n


def mp_error(name: str, x: np.ndarray, y: np.ndarray) -> float:
    """Max ulp error of y = f(x) against mpmath at 40 digits."""
    mpmath.mp.dps = 40
    worst = 0.0
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        ref = MPMATH[name](mpmath.mpf(xi))
        if not mpmath.isfinite(ref) or ref == 0:
            continue
        _, e = mpmath.frexp(ref)
        ulp = mpmath.ldexp(1, max(int(e) - 53, -1074))
        if float(ref) == yi:
            continue
        worst = max(worst, float(abs(mpmath.mpf(yi) - ref) / ulp))
    return worst


def pow_points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) for pow: results over the whole range (subnormal to overflow), x near 1 with huge y, negative x with
    integer y, y near integers, small y over the whole range of x, subnormal x."""
    m = n // 7

    def logu(lo: float, hi: float) -> np.ndarray:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), m))

    x1 = logu(5e-324, 1.7e308)
    x2 = 1.0 + rng.uniform(-1e-3, 1e-3, m) * np.exp(rng.uniform(np.log(1e-16), 0.0, m))
    x2[x2 == 1.0] = 1.0 + 2.0**-52
    xs = [x1, x2, logu(1e-3, 1e3), -logu(1e-5, 1e5), logu(0.5, 2.0), logu(1e-300, 1e300), logu(1e-320, 1e-300)]
    ys = [
        rng.uniform(-746.0, 709.8, m) / np.log(x1),
        rng.uniform(-746.0, 709.8, m) / np.log(x2),
        rng.uniform(-50.0, 50.0, m),
        np.round(rng.uniform(-60.0, 60.0, m)),
        np.round(rng.uniform(-1000.0, 1000.0, m)) + rng.choice([0.0, 1e-12, -1e-12, 1e-9], m),
        rng.uniform(-3.0, 3.0, m),
        rng.uniform(0.9, 1.1, m),
    ]
    return np.concatenate(xs), np.concatenate(ys)


def make_loop2(fn: Callable[[Any, Any], Any]) -> Any:
    """``out[i] = fn(a[i], b[i])`` compiled as dcompile compiles."""

    @njit(error_model="numpy")
    def loop(a, b, out):
        for i in range(a.size):
            out[i] = fn(a[i], b[i])

    return loop


def pair_points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) for hypot and arctan2: both log-uniform over the whole range (subnormals included), both in
    [-10, 10], ratios of 1e-20 .. 1e20 at magnitudes 1e-280 .. 1e280, and both in 1e-3 .. 1e3; both signs."""
    m = n // 4

    def logu(lo: float, hi: float, k: int) -> np.ndarray:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), k)) * rng.choice([-1.0, 1.0], k)

    a3 = logu(1e-280, 1e280, m)
    a = [logu(1e-320, 1.7e308, m), rng.uniform(-10.0, 10.0, m), a3, logu(1e-3, 1e3, n - 3 * m)]
    b = [logu(1e-320, 1.7e308, m), rng.uniform(-10.0, 10.0, m), a3 * logu(1e-20, 1e20, m), logu(1e-3, 1e3, n - 3 * m)]
    return np.concatenate(a), np.concatenate(b)


BINARY_NUMPY: dict[str, Any] = {"pow": np.power, "hypot": np.hypot, "arctan2": np.arctan2}
BINARY_POINTS: dict[str, Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "pow": pow_points,
    "hypot": pair_points,
    "arctan2": pair_points,
}
BINARY_MPMATH: dict[str, Callable[[Any, Any], Any]] = check.mpmath_reference_binary()


def binary_row(name: str, args: argparse.Namespace, rng: np.random.Generator) -> dict[str, Any]:
    """The row of ``vm.<name>`` of two arguments (against NumPy's function per element under numba, and its ufunc)."""
    npf = BINARY_NUMPY[name]
    vm_loop, libm_loop = make_loop2(vm.BINARY[name]), make_loop2(npf)
    a, b = BINARY_POINTS[name](args.n, rng)
    perm = rng.permutation(a.size)
    a, b = a[perm], b[perm]
    out = np.empty_like(a)
    t = time.perf_counter()
    vm_loop(a, b, out)
    compile_vm = time.perf_counter() - t
    libm_loop(a, b, out)
    ir_text = vm_loop.inspect_llvm(vm_loop.signatures[0])
    width = next((w for w in (8, 4, 2) if f"<{w} x double>" in ir_text), 1)
    with np.errstate(all="ignore"):
        t_vm = best_ns(vm_loop, (a, b, out), a.size, args.repeat)
        t_libm = best_ns(libm_loop, (a, b, out), a.size, args.repeat)
        t_np = best_ns(lambda a, b, o: npf(a, b, out=o), (a, b, out), a.size, args.repeat)
        x, y = BINARY_POINTS[name](args.points, rng)
        z = np.empty_like(x)
        vm_loop(x, y, z)
        ulp_ld = float(ulp_error(z, npf(x.astype(LD), y.astype(LD))).max())
    xm, ym = BINARY_POINTS[name](args.mp_points, rng)
    zm = np.empty_like(xm)
    vm_loop(xm, ym, zm)
    mpmath.mp.dps = 40
    worst = 0.0
    for xi, yi, zi in zip(xm.tolist(), ym.tolist(), zm.tolist(), strict=True):
        ref = BINARY_MPMATH[name](mpmath.mpf(xi), mpmath.mpf(yi))
        if not mpmath.isfinite(ref) or ref == 0 or float(ref) == zi:
            continue
        _, e = mpmath.frexp(ref)
        worst = max(worst, float(abs(mpmath.mpf(zi) - ref) / mpmath.ldexp(1, max(int(e) - 53, -1074))))
    return {
        "function": name, "vector_width": width, "ns_vm": round(t_vm, 3), "ns_libm_numba": round(t_libm, 3),
        "ns_numpy_ufunc": round(t_np, 3), "speedup_vs_libm": round(t_libm / t_vm, 1),
        "max_ulp_longdouble": round(ulp_ld, 3), "max_ulp_mpmath": round(worst, 3), "bound_ulp": vm.BOUNDS[name],
        "compile_s_vm": round(compile_vm, 3),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="elements per timed loop")
    parser.add_argument("--points", type=int, default=12_000_000, help="points per function for the long-double check")
    parser.add_argument("--mp-points", type=int, default=20_000, help="points per function for the mpmath check")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", nargs="*", default=[], help="run only these functions (default: all)")
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    rows: list[dict[str, Any]] = []
    make_loop(abs)(np.zeros(1), np.zeros(1))  # numba's first compile in the process: not charged below
    t = time.perf_counter()
    make_loop(abs)(np.zeros(1), np.zeros(1))
    compile_abs = time.perf_counter() - t
    for name, fn in vm.UNARY.items():
        if args.only and name not in args.only:
            continue
        vm_loop, libm_loop = make_loop(fn), make_loop(LIBM_IN_NUMBA[name])
        a = check.sample_points(name, args.n, rng)
        rng.shuffle(a)
        out = np.empty_like(a)
        t = time.perf_counter()
        vm_loop(a, out)
        compile_vm = time.perf_counter() - t
        libm_loop(a, out)
        ir_text = vm_loop.inspect_llvm(vm_loop.signatures[0])
        width = next((w for w in (8, 4, 2) if f"<{w} x double>" in ir_text), 1)
        with np.errstate(all="ignore"):
            t_vm = best_ns(vm_loop, (a, out), a.size, args.repeat)
            t_libm = best_ns(libm_loop, (a, out), a.size, args.repeat)
            t_np = best_ns(UFUNC[name], (a, out), a.size, args.repeat)
            x = check.sample_points(name, args.points, rng)
            y = np.empty_like(x)
            vm_loop(x, y)
            ulp_ld = float(ulp_error(y, NUMPY[name](x.astype(LD))).max())
        xm = check.sample_points(name, args.mp_points, rng)
        ym = np.empty_like(xm)
        vm_loop(xm, ym)
        ulp_mp = mp_error(name, xm, ym)
        rows.append({
            "function": name, "vector_width": width, "ns_vm": round(t_vm, 3), "ns_libm_numba": round(t_libm, 3),
            "ns_numpy_ufunc": round(t_np, 3), "speedup_vs_libm": round(t_libm / t_vm, 1),
            "max_ulp_longdouble": round(ulp_ld, 3), "max_ulp_mpmath": round(ulp_mp, 3), "bound_ulp": vm.BOUNDS[name],
            "compile_s_vm": round(compile_vm, 3),
        })  # fmt: skip
        print(rows[-1], flush=True)
    for name in vm.BINARY:
        if args.only and name not in args.only:
            continue
        rows.append(binary_row(name, args, rng))
        print(rows[-1], flush=True)
    n = 1_000_000
    t1 = rng.normal(size=n)
    yy = np.sign(rng.normal(size=n))
    d = np.empty(n)
    logistic_vm(t1, yy, d)
    logistic_libm(t1, yy, d)
    logistic = {
        "ns_per_row_vm": round(best_ns(logistic_vm, (t1, yy, d), n, args.repeat), 3),
        "ns_per_row_libm": round(best_ns(logistic_libm, (t1, yy, d), n, args.repeat), 3),
    }
    print(logistic)
    command = "python benchmarks/bench_vecmath.py " + " ".join(sys.argv[1:])
    result = {
        "machine": machine_info(command.strip()),
        "args": vars(args),
        "functions": rows,
        "compile_s_abs_loop": round(compile_abs, 3),
        "logistic_loss": logistic,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "vecmath.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# vecmath: vectorisable exp/log/sinh/pow/... under numba",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; numba {result['machine']['numba']}, "
        f"NumPy {result['machine']['numpy']}; {result['machine']['date']}",
        "",
        f"Loop `out[i] = f(a[i])` over {args.n} float64 (median of {args.repeat}); ulp: max error against NumPy in "
        f"long double on {args.points} points and mpmath (40 digits) on {args.mp_points} points per function.",
        "",
        "| function | width | vm ns/elt | libm in numba ns/elt | NumPy ufunc ns/elt | speedup vs libm "
        "| max ulp (long double) | max ulp (mpmath) | bound | compile s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    lines += [
        f"| {r['function']} | {r['vector_width']} | {r['ns_vm']} | {r['ns_libm_numba']} | {r['ns_numpy_ufunc']} | "
        f"{r['speedup_vs_libm']}x | {r['max_ulp_longdouble']} | {r['max_ulp_mpmath']} | {r['bound_ulp']} | "
        f"{r['compile_s_vm']} |"
        for r in rows
    ]
    lines += [
        "",
        f"Logistic loss row loop (softplus + sigmoid + reduction by `vm.add`), {n} rows: "
        f"{logistic['ns_per_row_vm']} ns/row with vecmath, {logistic['ns_per_row_libm']} ns/row with libm.",
        "",
        f"Compile s: first call of the loop in this process (numba's first-compile cost paid by a warm-up loop); "
        f"the same loop with `abs` instead of a vecmath function compiles in {round(compile_abs, 3)} s.",
        "",
    ]
    (RESULTS / "vecmath.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
