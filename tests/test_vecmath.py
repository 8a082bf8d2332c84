"""dcompile.runtime.vecmath: accuracy, special values, vectorisation and the Python-level functions.

The reference for the random-point checks is NumPy in 80-bit long double (11 more bits than
float64, so its own error is negligible at the ulp scale); where long double is plain float64
(some platforms) NumPy's float64 functions are the reference and the bound is widened by 2 ulp.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import llvmlite.binding as llb
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from dcompile.runtime import vecmath as vm
from dcompile.runtime import vecmath_check as check
from dcompile.runtime.vecmath_check import ulp_error

NAMES = list(vm.UNARY)
LD = np.longdouble
EXTENDED = np.finfo(LD).nmant >= 63
SLACK = 0.0 if EXTENDED else 2.0

REFERENCE: dict[str, Callable[[Any], Any]] = check.NUMPY
MPMATH: dict[str, Callable[[Any], Any]] = check.mpmath_reference()

INF, NAN, TINY = np.inf, np.nan, 5e-324
HARD_PIO2 = 6381956970095103 * 2.0**797  # the double closest to a multiple of pi/2 (about 2**-61 away)
# Inputs whose results are exact (special values, signed zeros, saturation): compared bitwise with NumPy.
SPECIAL: dict[str, list[float]] = {
    "exp": [0.0, -0.0, INF, -INF, NAN, 1000.0, -1000.0, 709.79, -745.2, TINY, -TINY],
    "expm1": [0.0, -0.0, INF, -INF, NAN, 1000.0, -1000.0, -40.0, -50.0, TINY, -TINY, 1e-300, -1e-300, 709.79],
    "log": [0.0, -0.0, INF, -INF, NAN, -1.0, -TINY, 1.0, -1e308],
    "log1p": [0.0, -0.0, INF, -INF, NAN, -1.0, -1.5, TINY, -TINY, 1e-300, -1e-300, -1e308],
    "tanh": [0.0, -0.0, INF, -INF, NAN, 20.0, -20.0, 1e300, -1e300, TINY, -TINY, 1e-300, -1e-300],
    "sigmoid": [0.0, -0.0, INF, -INF, NAN, 1e308, -1e308, 800.0, -800.0, 40.0, -1000.0],
    "softplus": [INF, -INF, NAN, 1e308, -1e308, 800.0, -800.0, 1e300, -1e300],
    "exp2": [0.0, -0.0, INF, -INF, NAN, 1.0, 10.0, -10.0, 1023.0, 1024.0, -1022.0, -1074.0, -1075.0, -1076.0, 1e300,
             -1e300, TINY, -TINY],
    "log2": [0.0, -0.0, INF, -INF, NAN, -1.0, -TINY, 1.0, 2.0, 0.5, TINY, 1024.0, 2.0**-1022, 2.0**1023, -1e308],
    "log10": [0.0, -0.0, INF, -INF, NAN, -1.0, -TINY, 1.0, 10.0, 100.0, 1e22, -1e308],
    "sinh": [0.0, -0.0, INF, -INF, NAN, 711.0, -711.0, 1e300, -1e300, TINY, -TINY, 1e-300, -1e-300, 1e-310],
    "cosh": [0.0, -0.0, INF, -INF, NAN, 711.0, -711.0, 1e300, -1e300, TINY, -TINY, 1e-300],
    "sin": [0.0, -0.0, INF, -INF, NAN, TINY, -TINY, 1e-300, -1e-300, 1e-310, 1e-9, -1e-9, 2.0**-27],
    "cos": [0.0, -0.0, INF, -INF, NAN, TINY, -TINY, 1e-300, -1e-300, 1e-9, -1e-9, 2.0**-27],
    "arctan": [0.0, -0.0, INF, -INF, NAN, TINY, -TINY, 1e-300, -1e-300, 1e-10, -1e-10, 1e300, -1e300, 1.0, -1.0,
               1.7976931348623157e308],
    "arcsinh": [0.0, -0.0, INF, -INF, NAN, TINY, -TINY, 1e-300, -1e-300, 1e-10, -1e-10, 1e-310],
    "arctanh": [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 1.0000000000000002, -1.0000000000000002, 2.0, -1e300, TINY,
                -TINY, 1e-300, -1e-300, 1e-10, -1e-10],
    "arccosh": [1.0, INF, -INF, NAN, 0.0, -0.0, 0.9999999999999999, -1.0, 0.5, -1e300, TINY],
    "arcsin": [0.0, -0.0, 1.0, -1.0, INF, -INF, NAN, 1.0000000000000002, -1.0000000000000002, 2.0, -1e300, TINY,
               -TINY, 1e-300, -1e-300, 1e-10, -1e-10, 2.0**-29],
    "arccos": [1.0, -1.0, 0.0, -0.0, INF, -INF, NAN, 1.0000000000000002, -1.0000000000000002, 2.0, -1e300, TINY,
               -TINY, 1e-300, -1e-300, 1e-17, -1e-17],
}  # fmt: skip
# Hard but finite cases (thresholds, subnormal results, cancellation): within the bound.
EDGE: dict[str, list[float]] = {
    "exp": [709.78, 709.782712893384, -745.13, -745.1332191019411, -708.5, -740.0, 1e-320, 0.3465, -0.3466, 88.7],
    "expm1": [709.78, 1e-10, -1e-10, 0.3466, -0.3466, 0.36, -0.36, 0.7, 37.0, -37.0, 1e-5, -1e-5],
    "log": [TINY, 1e-310, 2.2250738585072014e-308, 1.0000000000000002, 0.9999999999999999, 1e308,
            1.7976931348623157e308, 2.0, 0.7071067811865476, 1.4142135623730951],
    "log1p": [-0.9999999999999999, 1e-10, -1e-10, 1e308, 2.0**53, 1.7976931348623157e308, -0.5, 0.41421356,
              -0.29289321, 1e-17],
    "tanh": [19.06, -19.06, 1e-10, -1e-10, 0.5, 18.0, 0.17, -0.17, 0.55, 1e-8],
    "sigmoid": [-740.0, -709.0, 36.7, 37.5, -1.0, 1.0, -36.7, 1e-10, -1e-10, 0.0],
    "softplus": [0.0, -0.0, -740.0, -36.0, 36.0, 37.5, 1e-10, -1e-10, 710.0, -708.0],
    "exp2": [1023.9999999999999, 1023.5, -1074.5, -1074.9999, -1022.5, -1060.3, 0.5, -0.5, 1e-10, 156.55517679989248],
    "log2": [TINY, 1e-310, 2.2250738585072014e-308, 1.0000000000000002, 0.9999999999999999, 1e308,
             1.7976931348623157e308, 0.7071067811865476, 1.4142135623730951, 1.4037849165099627],
    "log10": [TINY, 1e-310, 1.0000000000000002, 0.9999999999999999, 1.7976931348623157e308, 0.1, 9.999999999999998,
              0.7071067811865476, 1.4142135623730951, 1.324383694809664],
    "sinh": [0.9999999999999999, 1.0, -1.4181808317158104, 710.4, -710.4, 710.475, 1e-8, 0.5, 20.0, 36.0],
    "cosh": [710.4, -710.4, 710.475, 1e-8, 0.5, 1.0, 3.848094042379559, 20.0, 1e-200, 36.0],
    "sin": [HARD_PIO2, -HARD_PIO2, 1e22, 1.7976931348623157e308, 1.5707963267948966, 3.141592653589793,
            0.7853981633974483, 0.7853981633974484, 2.0**-23, -1e300, 7.641053228459441e68, 1.9735119495402355e223],
    "cos": [HARD_PIO2, -HARD_PIO2, 1e22, 1.7976931348623157e308, 1.5707963267948966, 3.141592653589793,
            0.7853981633974483, 0.7853981633974484, 2.0**-23, -1e300, -9607.776923084053, 2.0879614658168034e154],
    "arctan": [0.4375, 0.43749999999999994, 0.6875, 0.6874999999999999, 1.1875, 1.1874999999999998, 2.4375,
               2.4374999999999996, 1e-8, -3e-9, 1e20, 2.0**66, 0.7667397326442101, 1e-100, 1.5e-100],
    "arcsinh": [2.0**-28, 2.0**-29, 1.5, 1.4999999999999998, 2.0**28, 2.0**28 - 1.0, 1.7976931348623157e308,
                -1.7976931348623157e308, 0.2502333940163055, 1e-8, -1.0, 1e154, 1e155],
    "arctanh": [0.9999999999999999, -0.9999999999999999, 0.5, 0.49999999999999994, 2.0**-28, 2.0**-29, 1e-8,
                0.16759858394372618, 0.999, -0.75, 1e-5],
    "arccosh": [1.0000000000000002, 1.0000000000000004, 2.0, 2.0000000000000004, 2.0**28, 2.0**28 - 1.0,
                1.7976931348623157e308, 1.0295566869919672, 1.5, 1e154, 1e155, 1.0 + 1e-10],
    "arcsin": [0.9999999999999999, -0.9999999999999999, 0.5, -0.5, 0.7071067811865476, 2.0**-28, 2.0**-27, 1e-8,
               0.9, 0.99999, -0.3, 0.43, 0.6, 0.8, 0.92],
    "arccos": [0.9999999999999999, -0.9999999999999999, 0.5, -0.5, 0.7071067811865476, 1e-8, -1e-8, 0.9, 0.99999,
               -0.99999, -0.3, 0.43, 0.34279130330079477, -0.6, 0.92],
}  # fmt: skip


def reference(name: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(REFERENCE[name](np.asarray(x, LD if EXTENDED else np.float64)))


make_loop = check.elementwise_loop


@pytest.fixture(scope="module")
def loops() -> dict[str, Any]:
    """One compiled ``out[i] = vm.f(a[i])`` loop per function (compiled once for the module)."""
    compiled = {}
    for name in NAMES:
        loop = make_loop(vm.UNARY[name])
        loop(np.zeros(1), np.zeros(1))
        compiled[name] = loop
    return compiled


def run(loop: Any, x: Any) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(a)
    loop(a, out)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_random_points_within_bound(loops: dict[str, Any], name: str) -> None:
    x = check.sample_points(name, 1_000_000, np.random.default_rng(NAMES.index(name)))
    err = ulp_error(run(loops[name], x), reference(name, x))
    worst = int(np.argmax(err))
    assert err[worst] <= vm.BOUNDS[name] + SLACK, f"{name}({x[worst]!r}): {err[worst]:.3f} ulp"


@pytest.mark.parametrize("name", NAMES)
def test_special_values_bitwise(loops: dict[str, Any], name: str) -> None:
    x = np.array(SPECIAL[name])
    with np.errstate(all="ignore"):
        want = np.asarray(REFERENCE[name](x), dtype=np.float64)
    got = run(loops[name], x)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), (x, got, want)
    assert np.array_equal(got[~nan].view(np.int64), want[~nan].view(np.int64)), (x, got, want)


def test_special_values_spelled_out(loops: dict[str, Any]) -> None:
    """The NumPy conventions the brief names, independently of NumPy's output."""

    def one(name: str, v: float) -> float:
        return float(run(loops[name], [v])[0])

    assert np.signbit(one("expm1", -0.0)) and one("expm1", -0.0) == 0.0
    assert np.signbit(one("tanh", -0.0)) and np.signbit(one("log1p", -0.0))
    assert one("log", 0.0) == -INF and one("log", -0.0) == -INF and np.isnan(one("log", -2.0))
    assert one("log1p", -1.0) == -INF and np.isnan(one("log1p", -1.0000000000000002))
    assert np.isfinite(one("exp", 709.78)) and one("exp", 709.79) == INF
    assert one("exp", -745.1) == TINY and one("exp", -745.2) == 0.0 and one("exp", -INF) == 0.0
    assert one("log", TINY) == float(np.log(TINY))
    assert one("sigmoid", 1e308) == 1.0 and one("sigmoid", -1e308) == 0.0 and one("sigmoid", -INF) == 0.0
    assert one("softplus", 1e308) == 1e308 and one("softplus", -1e308) == 0.0 and one("softplus", INF) == INF
    assert one("tanh", 19.2) == 1.0 and one("tanh", -INF) == -1.0
    assert one("exp2", -1074.0) == TINY and one("exp2", 1023.0) == 2.0**1023 and one("exp2", 1024.0) == INF
    assert one("log2", TINY) == -1074.0 and one("log2", 0.0) == -INF and np.isnan(one("log2", -1.0))
    assert one("log10", 1000.0) == 3.0 and one("log10", -0.0) == -INF and np.isnan(one("log10", -TINY))
    assert np.signbit(one("sinh", -0.0)) and one("sinh", -0.0) == 0.0 and one("sinh", -TINY) == -TINY
    assert np.isfinite(one("cosh", 710.4)) and one("cosh", 711.0) == INF and one("cosh", -711.0) == INF
    assert np.isfinite(one("sinh", 710.4)) and one("sinh", 711.0) == INF and one("sinh", -711.0) == -INF
    assert one("cosh", 0.0) == 1.0 and one("cosh", -INF) == INF and one("sinh", -INF) == -INF
    assert np.signbit(one("sin", -0.0)) and one("sin", -TINY) == -TINY and one("cos", -0.0) == 1.0
    assert np.isnan(one("sin", INF)) and np.isnan(one("cos", -INF)) and one("cos", 1e-9) == 1.0
    # sin(1e22) = -0.85220084976718880177..., cos(1e22) = 0.52321478539513894549... (mpmath): within an ulp
    assert abs(one("sin", 1e22) + 0.8522008497671888) <= np.spacing(0.85) and np.isfinite(one("sin", 1e300))
    assert abs(one("cos", 1e22) - 0.52321478539513895) <= np.spacing(0.52)
    for name in NAMES:
        assert np.isnan(one(name, NAN)), name


def test_inverse_functions_spelled_out(loops: dict[str, Any]) -> None:
    """arctan and the inverse hyperbolic functions at their special points, independently of NumPy's output."""

    def one(name: str, v: float) -> float:
        return float(run(loops[name], [v])[0])

    big = 1.7976931348623157e308
    assert one("arctan", INF) == 1.5707963267948966 and one("arctan", -INF) == -1.5707963267948966
    assert np.signbit(one("arctan", -0.0)) and one("arctan", -1e-300) == -1e-300 and one("arctan", TINY) == TINY
    assert one("arctan", 1.0) == 0.7853981633974483 and one("arctan", -big) == -1.5707963267948966
    assert np.signbit(one("arcsinh", -0.0)) and one("arcsinh", -TINY) == -TINY and one("arcsinh", -INF) == -INF
    # arcsinh(max double) = log(2 max) = 710.47586007394394203... (mpmath): no overflow on the way
    assert abs(one("arcsinh", big) - 710.4758600739439) <= np.spacing(710.0) and one("arcsinh", -big) < -710.0
    assert one("arctanh", 1.0) == INF and one("arctanh", -1.0) == -INF and np.signbit(one("arctanh", -0.0))
    assert np.isnan(one("arctanh", 1.0000000000000002)) and np.isnan(one("arctanh", -INF))
    assert np.isnan(one("arctanh", 2.0)) and np.isnan(one("arccosh", 0.0))
    assert one("arctanh", -1e-300) == -1e-300 and np.isfinite(one("arctanh", 0.9999999999999999))
    assert one("arccosh", 1.0) == 0.0 and not np.signbit(one("arccosh", 1.0)) and one("arccosh", INF) == INF
    assert np.isnan(one("arccosh", 0.9999999999999999)) and np.isnan(one("arccosh", -INF))
    assert abs(one("arccosh", big) - 710.4758600739439) <= np.spacing(710.0)
    assert one("arcsin", 1.0) == 1.5707963267948966 and one("arcsin", -1.0) == -1.5707963267948966
    assert np.signbit(one("arcsin", -0.0)) and one("arcsin", -TINY) == -TINY and one("arcsin", 1e-300) == 1e-300
    assert np.isnan(one("arcsin", 1.0000000000000002)) and np.isnan(one("arcsin", -INF))
    assert one("arcsin", 0.5) == 0.5235987755982989  # pi/6 = 0.52359877559829887307... (mpmath), rounded
    assert one("arccos", 1.0) == 0.0 and not np.signbit(one("arccos", 1.0)) and one("arccos", -1.0) == np.pi
    assert one("arccos", 0.0) == np.pi / 2 and one("arccos", -0.0) == np.pi / 2
    assert np.isnan(one("arccos", -1.0000000000000002)) and np.isnan(one("arccos", INF))


def test_exact_powers(loops: dict[str, Any]) -> None:
    """exp2 of every integer, log2 of every power of two exact; log10 of the powers of ten bitwise NumPy's."""
    k = np.arange(-1080, 1030).astype(np.float64)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(run(loops["exp2"], k), np.exp2(k))
    e = np.arange(-1074, 1024)
    np.testing.assert_array_equal(run(loops["log2"], np.ldexp(1.0, e)), e.astype(np.float64))
    np.testing.assert_array_equal(run(loops["log10"], 10.0 ** np.arange(23.0)), np.arange(23.0))
    p10 = np.array([10.0**j for j in range(-30, 309)])
    np.testing.assert_array_equal(run(loops["log10"], p10), np.log10(p10))


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_cos_near_multiples_of_pi_over_2(loops: dict[str, Any], name: str) -> None:
    """The doubles next to k pi/2 (k up to 1e5, and 2e4 log-uniform k up to 1e300): the reduction's hard cases."""
    rng = np.random.default_rng(3)
    k = np.concatenate([np.arange(1.0, 100_001.0), np.round(np.exp(rng.uniform(0.0, np.log(1e300), 20_000)))])
    x = (k.astype(LD) * (2 * np.arctan(LD(1.0)))).astype(np.float64)  # k pi/2 to 64 bits, rounded
    x = np.concatenate([x, np.nextafter(x, INF), np.nextafter(x, -INF), [HARD_PIO2]])
    err = ulp_error(run(loops[name], x), reference(name, x))
    assert err.max() <= vm.BOUNDS[name] + SLACK, (x[np.argmax(err)], err.max())


@pytest.mark.parametrize("name", NAMES)
def test_edge_values_within_bound(loops: dict[str, Any], name: str) -> None:
    x = np.array(EDGE[name])
    err = ulp_error(run(loops[name], x), reference(name, x))
    assert err.max() <= vm.BOUNDS[name] + SLACK, dict(zip(x.tolist(), err.tolist(), strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_mpmath_sample(loops: dict[str, Any], name: str) -> None:
    x = check.sample_points(name, 300, np.random.default_rng(100 + NAMES.index(name)))
    y = run(loops[name], x)
    mpmath.mp.dps = 40
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        ref = MPMATH[name](mpmath.mpf(xi))
        if float(ref) == yi:
            continue
        _, e = mpmath.frexp(ref)
        ulp = mpmath.ldexp(1, max(int(e) - 53, -1074))
        assert float(abs(mpmath.mpf(yi) - ref) / ulp) <= vm.BOUNDS[name], (name, xi, yi, ref)


def has_simd() -> bool:
    features = llb.get_host_cpu_features()
    return any(features.get(f, False) for f in ("sse2", "avx", "avx2", "avx512f", "neon", "asimd", "sve"))


def vector_width(dispatcher: Any) -> int:
    """The widest ``<w x double>`` vector type in the compiled LLVM IR (1 if none)."""
    text = dispatcher.inspect_llvm(dispatcher.signatures[0])
    return max([int(w) for w in re.findall(r"<(\d+) x double>", text)] or [1])


def vector_calls(dispatcher: Any, intrinsic: str) -> int:
    """How many calls to a vector ``llvm.<intrinsic>.v<w>f64`` the widest vector body makes."""
    text = dispatcher.inspect_llvm(dispatcher.signatures[0])
    w = vector_width(dispatcher)
    return len(re.findall(rf"call <{w} x double> @llvm\.{intrinsic}\.v{w}f64\(", text))


LIBM = re.compile(
    r"call [^@]*@(llvm\.)?(exp|expm1|exp2|log|log1p|log2|log10|tanh|pow|sin|cos|sinh|cosh|atan|asinh|atanh|acosh"
    r"|asin|acos|atan2|hypot)"
    r"(\.v?\d*f64)?\("
)


def vectorised_without_libm(dispatcher: Any) -> bool:
    """The loop runs on vectors of doubles and calls no libm function.

    Both are needed: LLVM also "vectorises" ``np.exp`` into ``llvm.exp.v8f64``, which the
    backend expands into 8 scalar libm calls.
    """
    text = dispatcher.inspect_llvm(dispatcher.signatures[0])
    w = vector_width(dispatcher)
    return w >= 2 and f"@llvm.fma.v{w}f64(" in text and not LIBM.search(text)


@pytest.mark.skipif(not has_simd(), reason="the host CPU has no SIMD unit: LLVM cannot vectorise anything")
@pytest.mark.parametrize("name", NAMES)
def test_loop_vectorises(loops: dict[str, Any], name: str) -> None:
    assert vectorised_without_libm(loops[name])


@pytest.mark.skipif(not has_simd(), reason="the host CPU has no SIMD unit: LLVM cannot vectorise anything")
def test_libm_loop_does_not_vectorise() -> None:
    """The control for the test above: the same loop with np.exp calls libm (the check can fail)."""
    loop = make_loop(np.exp)
    loop(np.zeros(1), np.zeros(1))
    assert not vectorised_without_libm(loop)


@pytest.mark.skipif(not has_simd(), reason="the host CPU has no SIMD unit: LLVM cannot vectorise anything")
def test_sigmoid_and_softplus_share_one_exp(loops: dict[str, Any]) -> None:
    """sigmoid(x) and softplus(x) in one loop cost one exp and one log1p (CSE merges the two exp(-|x|))."""

    @njit(error_model="numpy")
    def both(a, out):
        for i in range(a.size):
            out[i] = vm.sigmoid(a[i]) + vm.softplus(a[i])

    both(np.zeros(1), np.zeros(1))
    fmas = vector_calls(both, "fma")
    assert fmas > 0
    assert fmas == vector_calls(loops["exp"], "fma") + vector_calls(loops["log1p"], "fma")


@pytest.mark.skipif(not has_simd(), reason="the host CPU has no SIMD unit: LLVM cannot vectorise anything")
def test_add_makes_reduction_vectorise() -> None:
    @njit(error_model="numpy")
    def with_add(a):
        s = 0.0
        for i in range(a.size):
            s = vm.add(s, vm.exp(a[i]))
        return s

    @njit(error_model="numpy")
    def plain(a):
        s = 0.0
        for i in range(a.size):
            s += vm.exp(a[i])
        return s

    a = np.random.default_rng(0).uniform(-5, 5, 10_001)
    assert with_add(a) == pytest.approx(np.exp(a).sum(), rel=1e-13)
    assert plain(a) == pytest.approx(np.exp(a).sum(), rel=1e-13)
    assert vectorised_without_libm(with_add)
    assert "fadd reassoc <" in with_add.inspect_llvm(with_add.signatures[0])
    assert not vectorised_without_libm(plain)  # strict order: the control


def test_python_level_functions_are_numpy() -> None:
    x = np.concatenate(
        [check.sample_points("exp", 5000, np.random.default_rng(7)), [0.0, -0.0, INF, -INF, NAN, 709.79, -745.2]]
    )
    with np.errstate(all="ignore"):
        for name in ("exp", "expm1", "log", "log1p", "tanh", "exp2", "log2", "log10", "sinh", "cosh", "sin", "cos",
                     "arctan", "arcsinh", "arctanh", "arccosh", "arcsin", "arccos"):  # fmt: skip
            np.testing.assert_array_equal(vm.UNARY[name](x), REFERENCE[name](x), err_msg=name)
        np.testing.assert_array_equal(vm.softplus(x), np.logaddexp(0.0, x))
        e = np.exp(-np.abs(x))
        np.testing.assert_array_equal(vm.sigmoid(x), np.where(x >= 0, 1.0, e) / (1.0 + e))
        assert np.nanmax(ulp_error(vm.sigmoid(x), reference("sigmoid", x))) <= 3.0
    assert isinstance(vm.exp(1.0), np.floating) and isinstance(vm.sigmoid(0.5), np.floating)
    assert vm.sigmoid(-0.0) == 0.5 and vm.sigmoid(np.array([[1.0]])).shape == (1, 1)
    assert vm.add(1, 2) == 3 and vm.add(0.5, 0.25) == 0.75
    np.testing.assert_array_equal(vm.add(x, 1.0), x + 1.0)


def test_numba_scalar_int_bool_and_array_arguments() -> None:
    @njit(error_model="numpy")
    def scalars(x, n):
        return vm.exp(x), vm.log(n), vm.tanh(True), vm.add(n, n), vm.add(x, n), vm.sigmoid(np.float32(0.0))

    got = scalars(1.0, 3)
    assert got[0] == pytest.approx(np.e, rel=2e-16) and got[1] == pytest.approx(np.log(3), rel=2e-16)
    assert got[2] == pytest.approx(np.tanh(1.0), rel=5e-16)
    assert got[3] == 6 and got[4] == 4.0 and got[5] == 0.5

    @njit(error_model="numpy")
    def arrays(a):
        return vm.softplus(a), vm.log1p(a), vm.add(a, a)

    a = np.linspace(-3, 3, 12).reshape(3, 4)
    sp, lp, twice = arrays(a)
    np.testing.assert_allclose(sp, np.logaddexp(0.0, a), rtol=1e-15)
    np.testing.assert_allclose(lp[a > -1], np.log1p(a[a > -1]), rtol=1e-15)
    np.testing.assert_array_equal(twice, 2 * a)


@pytest.fixture(scope="module")
def scalar_all() -> Any:
    @njit(error_model="numpy")
    def all_of(x):
        return (
            vm.exp(x),
            vm.expm1(x),
            vm.log(x),
            vm.log1p(x),
            vm.tanh(x),
            vm.sigmoid(x),
            vm.softplus(x),
            vm.exp2(x),
            vm.log2(x),
            vm.log10(x),
            vm.sinh(x),
            vm.cosh(x),
            vm.sin(x),
            vm.cos(x),
            vm.arctan(x),
            vm.arcsinh(x),
            vm.arctanh(x),
            vm.arccosh(x),
            vm.arcsin(x),
            vm.arccos(x),
        )

    all_of(0.0)
    return all_of


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=True, allow_infinity=True))
def test_property_bound_symmetry_monotonicity(scalar_all: Any, x: float) -> None:
    """On any float: the bound; tanh, sinh, sin odd, cosh, cos even; sigmoid(-x) = 1 - sigmoid(x); monotone to an ulp.

    No drop over one ulp from x to the next float (a function within 1.5 ulp need not be
    monotone: softplus(0.25) > softplus(next(0.25)) by one ulp).
    """
    values = scalar_all(x)
    for name, y in zip(NAMES, values, strict=True):
        err = ulp_error(np.array([y]), reference(name, np.array([x])))[0]
        assert err <= vm.BOUNDS[name] + SLACK, (name, x, y)
    neg = scalar_all(-x)
    odd_even = [(4, -1.0)] + [
        (NAMES.index(f), sign)
        for f, sign in (
            ("sinh", -1.0),
            ("cosh", 1.0),
            ("sin", -1.0),
            ("cos", 1.0),
            ("arctan", -1.0),
            ("arcsinh", -1.0),
            ("arctanh", -1.0),
            ("arcsin", -1.0),
        )
    ]
    for i, sign in odd_even:
        assert np.array_equal(np.array(neg[i]).view(np.int64), np.array(sign * values[i]).view(np.int64)) or np.isnan(x)
    if np.isfinite(x) and abs(x) < 1.7e308:
        up = scalar_all(float(np.nextafter(x, INF)))
        for name, lo, hi in zip(NAMES, values, up, strict=True):
            if (name == "cosh" and x < 0) or name in ("sin", "cos", "arccos"):  # not increasing there
                continue
            if np.isfinite(lo) and not np.isnan(hi):  # monotone up to the rounding: one step down at most
                assert hi >= lo - np.spacing(abs(lo)), (name, x)
        if abs(x) < 30:
            s_pos, s_neg = values[5], scalar_all(-x)[5]
            assert abs(s_pos + s_neg - 1.0) <= 4e-16


@pytest.mark.parametrize("name", NAMES)
def test_ir_path_equals_python_path(loops: dict[str, Any], name: str) -> None:
    """The kernels run on Python floats (exact fma) give bitwise what their emitted IR gives.

    One kernel source, two interpretations (:mod:`dcompile.runtime.vecmath_ir`): this checks
    the operators' IR (operation, operand order, comparison predicates, integer kinds).
    """
    from dcompile.runtime.vecmath_core import KERNELS

    x = np.concatenate(
        [check.sample_points(name, 600, np.random.default_rng(200 + NAMES.index(name))), SPECIAL[name], EDGE[name]]
    )
    got = run(loops[name], x)
    want = np.array([KERNELS[name](float(v)) for v in x])
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), x[np.isnan(got) != nan]
    bad = got[~nan].view(np.int64) != want[~nan].view(np.int64)
    assert not bad.any(), (x[~nan][bad][:5], got[~nan][bad][:5], want[~nan][bad][:5])


def test_value_class_operators() -> None:
    """The IR of the value class: numba's operations for each Python operator."""
    from llvmlite import ir

    from dcompile.runtime import vecmath_ir as vi

    fn = ir.Function(ir.Module(), ir.FunctionType(vi.F64, [vi.F64, vi.I64]), "f")
    b = ir.IRBuilder(fn.append_basic_block())
    x, n = vi.V(b, fn.args[0]), vi.V(b, fn.args[1])
    y = vi.select((x != 0.0) & (n >> 1 < 3), -x / (2.0 - x), vi.to_float(n << 2 | 1))
    b.ret(vi.fma(y, 0.5, 1).v)
    text = str(fn)
    for piece in ("fcmp une double", "ashr i64", "icmp slt i64", "and i1", "fsub double 0x8000000000000000",
                  "fdiv double", "fsub double 0x4000000000000000", "shl i64", "or i64", "sitofp i64", "select",
                  "call double @\"llvm.fma.f64\"(double"):  # fmt: skip
        assert piece in text, (piece, text)
    with pytest.raises(TypeError):
        bool(x < 1.0)
    assert vi.fma(0.1, 10.0, -1.0) == 5.551115123125783e-17  # exact product, one rounding
    assert vi.select(True, 1.0, 2.0) == 1.0 and vi.as_float(vi.as_int(-2.5)) == -2.5


# --- pow: two arguments ------------------------------------------------------------------------
POW_SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 1.5, -1.5, INF, -INF, NAN, TINY, -TINY,
               1e308, -1e308, 1e-308, 0.9999999999999999, 1.0000000000000002, 2.0**53, 2.0**53 + 2.0, 1e300,
               -(2.0**53) - 2.0]  # fmt: skip


@pytest.fixture(scope="module")
def pow_loop() -> Any:
    @njit(error_model="numpy")
    def loop(a, b, out):
        for i in range(a.size):
            out[i] = vm.pow(a[i], b[i])

    loop(np.zeros(1), np.zeros(1), np.zeros(1))
    return loop


def run2(loop: Any, x: Any, y: Any) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    a, b = np.ascontiguousarray(a).ravel(), np.ascontiguousarray(b).ravel()
    out = np.empty_like(a)
    loop(a, b, out)
    return out


def pow_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) pairs over pow's whole range: results from the subnormals to overflow, x near 1 with huge y,
    negative x with integer y, y near integers, subnormal x, small y on the whole range of x."""
    rng = np.random.default_rng(seed)
    m = n // 7

    def logu(lo: float, hi: float) -> np.ndarray:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), m))

    xs, ys = [], []
    x = logu(TINY, 1.7e308)
    xs.append(x)
    ys.append(rng.uniform(-746.0, 709.8, m) / np.log(x))
    x = 1.0 + rng.uniform(-1e-3, 1e-3, m) * np.exp(rng.uniform(np.log(1e-16), 0.0, m))
    x[x == 1.0] = 1.0 + 2.0**-52
    xs.append(x)
    ys.append(rng.uniform(-746.0, 709.8, m) / np.log(x))
    xs.append(logu(1e-3, 1e3))
    ys.append(rng.uniform(-50.0, 50.0, m))
    xs.append(-logu(1e-5, 1e5))
    ys.append(np.round(rng.uniform(-60.0, 60.0, m)))
    xs.append(logu(0.5, 2.0))
    ys.append(np.round(rng.uniform(-1000.0, 1000.0, m)) + rng.choice([0.0, 1e-12, -1e-12, 1e-9], m))
    xs.append(logu(1e-300, 1e300))
    ys.append(rng.uniform(-3.0, 3.0, m))
    xs.append(logu(1e-320, 1e-300))
    ys.append(rng.uniform(0.9, 1.1, m))
    return np.concatenate(xs), np.concatenate(ys)


def pow_reference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    t = LD if EXTENDED else np.float64
    with np.errstate(all="ignore"):
        return np.power(np.asarray(x, t), np.asarray(y, t))


def test_pow_random_points_within_bound(pow_loop: Any) -> None:
    x, y = pow_points(1_050_000, seed=50)
    err = ulp_error(run2(pow_loop, x, y), pow_reference(x, y))
    worst = int(np.argmax(err))
    assert err[worst] <= vm.BOUNDS["pow"] + SLACK, f"pow({x[worst]!r}, {y[worst]!r}): {err[worst]:.3f} ulp"


def test_pow_special_values_bitwise(pow_loop: Any) -> None:
    """Every pair of special values (signed zeros, ±inf, NaN, ±1, odd/even integers, huge, tiny): NumPy's bits."""
    x, y = np.meshgrid(POW_SPECIAL, [*POW_SPECIAL, 0.25, -0.25, 1023.0, -1074.0, 1e-300, -1e-300])
    x, y = x.ravel(), y.ravel()
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    got = run2(pow_loop, x, y)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), (x[np.isnan(got) != nan], y[np.isnan(got) != nan])
    exact = ~np.isfinite(want) | (want == 0) | ~np.isfinite(x) | ~np.isfinite(y) | (x == 0) | (np.abs(x) == 1)
    exact = (exact | (y == 0) | (y == 1)) & ~nan
    bad = got[exact].view(np.int64) != want[exact].view(np.int64)
    assert not bad.any(), list(zip(x[exact][bad], y[exact][bad], got[exact][bad], want[exact][bad], strict=True))[:5]
    assert ulp_error(got, pow_reference(x, y)).max() <= vm.BOUNDS["pow"] + SLACK  # the rest (3**-1, 2**0.5)


def test_pow_special_values_spelled_out(pow_loop: Any) -> None:
    def one(x: float, y: float) -> float:
        return float(run2(pow_loop, [x], [y])[0])

    assert one(NAN, 0.0) == 1.0 and one(NAN, -0.0) == 1.0 and one(1.0, NAN) == 1.0 and one(1.0, -INF) == 1.0
    assert one(-1.0, INF) == 1.0 and one(-1.0, -INF) == 1.0 and np.isnan(one(NAN, 1.0)) and np.isnan(one(2.0, NAN))
    assert one(-0.0, -3.0) == -INF and one(0.0, -3.0) == INF and one(-0.0, -2.0) == INF and one(-0.0, -0.5) == INF
    assert np.signbit(one(-0.0, 3.0)) and not np.signbit(one(-0.0, 2.0)) and not np.signbit(one(-0.0, 0.5))
    assert one(-INF, 3.0) == -INF and one(-INF, 2.0) == INF and np.signbit(one(-INF, -3.0)) and one(-INF, -3.0) == 0.0
    assert one(0.5, INF) == 0.0 and one(0.5, -INF) == INF and one(2.0, INF) == INF and one(2.0, -INF) == 0.0
    assert one(-0.5, INF) == 0.0 and one(-2.0, -INF) == 0.0 and one(INF, -1.0) == 0.0 and one(INF, 0.5) == INF
    assert np.isnan(one(-2.0, 0.5)) and np.isnan(one(-TINY, 1.5)) and one(-2.0, 3.0) == -8.0 and one(-2.0, 2.0) == 4.0
    assert one(2.0, 1024.0) == INF and one(2.0, -1074.0) == TINY and one(2.0, -1075.0) == 0.0
    assert one(10.0, 309.0) == INF and one(10.0, -400.0) == 0.0
    assert one(-2.0, 1025.0) == -INF and np.signbit(one(-2.0, -1075.0)) and one(-(2.0**53) - 2.0, 2.0) > 0


def test_pow_small_integers_exact(pow_loop: Any) -> None:
    """x**n for integers where the result is exact (NumPy's is): bitwise NumPy's, negative bases included."""
    x, n = np.meshgrid(np.arange(-30.0, 31.0), np.arange(-12.0, 25.0))
    x, n = x.ravel(), n.ravel()
    with np.errstate(all="ignore"):
        want = np.power(x, n)
    got = run2(pow_loop, x, n)
    exact = np.abs(want) < 2.0**53
    np.testing.assert_array_equal(got[exact & (n >= 0)], want[exact & (n >= 0)])
    assert ulp_error(got, pow_reference(x, n)).max() <= vm.BOUNDS["pow"] + SLACK
    halves = np.arange(0.0, 200.0) ** 2  # sqrt of perfect squares, x**0.5
    np.testing.assert_array_equal(run2(pow_loop, halves, 0.5), np.arange(0.0, 200.0))


def test_pow_mpmath_sample(pow_loop: Any) -> None:
    x, y = pow_points(700, seed=150)
    got = run2(pow_loop, x, y)
    mpmath.mp.dps = 40
    for xi, yi, gi in zip(x.tolist(), y.tolist(), got.tolist(), strict=True):
        ref = mpmath.power(mpmath.mpf(xi), mpmath.mpf(yi))
        if float(ref) == gi or ref == 0:
            continue
        _, e = mpmath.frexp(ref)
        ulp = mpmath.ldexp(1, max(int(e) - 53, -1074))
        assert float(abs(mpmath.mpf(gi) - ref) / ulp) <= vm.BOUNDS["pow"], (xi, yi, gi, ref)


@pytest.mark.skipif(not has_simd(), reason="the host CPU has no SIMD unit: LLVM cannot vectorise anything")
def test_pow_loop_vectorises(pow_loop: Any) -> None:
    assert vectorised_without_libm(pow_loop)


def test_pow_ir_path_equals_python_path(pow_loop: Any) -> None:
    from dcompile.runtime.vecmath_core import BINARY_KERNELS

    x, y = pow_points(2100, seed=250)
    sx, sy = np.meshgrid(POW_SPECIAL, POW_SPECIAL)
    x, y = np.concatenate([x, sx.ravel()]), np.concatenate([y, sy.ravel()])
    got = run2(pow_loop, x, y)
    want = np.array([BINARY_KERNELS["pow"](float(a), float(b)) for a, b in zip(x, y, strict=True)])
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    bad = got[~nan].view(np.int64) != want[~nan].view(np.int64)
    assert not bad.any(), (x[~nan][bad][:5], y[~nan][bad][:5])


def test_pow_python_level_and_argument_types() -> None:
    x, y = pow_points(700, seed=7)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(vm.pow(x, y), np.power(x, y))
    assert isinstance(vm.pow(2, 3), np.floating) and vm.pow(2, -1) == 0.5
    assert set(vm.BINARY) == {"pow", "hypot", "arctan2"} and "pow" in vm.BOUNDS

    @njit(error_model="numpy")
    def mixed(x, n, a):
        return vm.pow(x, n), vm.pow(n, x), vm.pow(n, n), vm.pow(True, x), vm.pow(a, 2.0), vm.pow(2, a), vm.pow(a, a)

    p1, p2, p3, p4, pa, pb, pc = mixed(1.5, 3, np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert p1 == 3.375 and p2 == pytest.approx(3**1.5, rel=2e-16) and p3 == 27.0 and p4 == 1.0
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(pa, a**2)
    np.testing.assert_array_equal(pb, 2.0**a)
    np.testing.assert_allclose(pc, a**a, rtol=2e-16)


# --- hypot and arctan2: two arguments ----------------------------------------------------------
BINARY_NUMPY: dict[str, Callable[[Any, Any], Any]] = {"hypot": np.hypot, "arctan2": np.arctan2}
PAIR_SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0, 0.5, INF, -INF, NAN, TINY, -TINY, 1e308,
                -1e308, 1.7976931348623157e308, 2.2250738585072014e-308, -1e-310, 1e-300, 1e300, 2.0**-1022,
                0.9999999999999999, 1.0000000000000002]  # fmt: skip


def pair_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b): both log-uniform over the whole range (subnormals included), both in [-10, 10], ratios 1e-20 .. 1e20
    at magnitudes 1e-280 .. 1e280, ratios near 1 and both in 1e-3 .. 1e3; both signs."""
    rng = np.random.default_rng(seed)
    m = n // 5

    def logu(lo: float, hi: float, k: int) -> np.ndarray:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), k)) * rng.choice([-1.0, 1.0], k)

    a3, a4 = logu(1e-280, 1e280, m), logu(1e-280, 1e280, m)
    a = [logu(1e-320, 1.7e308, m), rng.uniform(-10.0, 10.0, m), a3, a4, logu(1e-3, 1e3, n - 4 * m)]
    b = [logu(1e-320, 1.7e308, m), rng.uniform(-10.0, 10.0, m), a3 * logu(1e-20, 1e20, m),
         a4 * logu(0.5, 2.0, m), logu(1e-3, 1e3, n - 4 * m)]  # fmt: skip
    return np.concatenate(a), np.concatenate(b)


def pair_reference(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    t = LD if EXTENDED else np.float64
    with np.errstate(all="ignore"):
        return np.asarray(BINARY_NUMPY[name](np.asarray(x, t), np.asarray(y, t)))


@pytest.fixture(scope="module")
def pair_loops() -> dict[str, Any]:
    compiled = {}
    for name in BINARY_NUMPY:
        fn = vm.BINARY[name]

        @njit(error_model="numpy")
        def loop(a, b, out, fn=fn):
            for i in range(a.size):
                out[i] = fn(a[i], b[i])

        loop(np.zeros(1), np.zeros(1), np.zeros(1))
        compiled[name] = loop
    return compiled


@pytest.mark.parametrize("name", list(BINARY_NUMPY))
def test_pair_random_points_within_bound(pair_loops: dict[str, Any], name: str) -> None:
    x, y = pair_points(1_000_000, seed=60 + list(BINARY_NUMPY).index(name))
    err = ulp_error(run2(pair_loops[name], x, y), pair_reference(name, x, y))
    worst = int(np.argmax(err))
    assert err[worst] <= vm.BOUNDS[name] + SLACK, f"{name}({x[worst]!r}, {y[worst]!r}): {err[worst]:.3f} ulp"


@pytest.mark.parametrize("name", list(BINARY_NUMPY))
def test_pair_special_values_bitwise(pair_loops: dict[str, Any], name: str) -> None:
    """Every pair of special values: NumPy's bits where the result is exact (zeros, infinities, NaN, 3-4-5, the
    quadrant constants), within the bound elsewhere."""
    gx, gy = np.meshgrid(PAIR_SPECIAL, PAIR_SPECIAL)
    x, y = gx.ravel(), gy.ravel()
    with np.errstate(all="ignore"):
        want = BINARY_NUMPY[name](x, y)
    got = run2(pair_loops[name], x, y)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), (x[np.isnan(got) != nan], y[np.isnan(got) != nan])
    special = ~np.isfinite(x) | ~np.isfinite(y) | (x == 0) | (y == 0)
    if name == "hypot":
        special |= (np.abs(x) == np.abs(y) * 0.75) | (np.abs(y) == np.abs(x) * 0.75) | (np.abs(x) == np.abs(y))
    else:
        special |= np.abs(x) == np.abs(y)
    exact = special & ~nan
    bad = got[exact].view(np.int64) != want[exact].view(np.int64)
    assert not bad.any(), list(zip(x[exact][bad], y[exact][bad], got[exact][bad], want[exact][bad], strict=True))[:5]
    assert ulp_error(got, pair_reference(name, x, y)).max() <= vm.BOUNDS[name] + SLACK


def test_hypot_special_values_spelled_out(pair_loops: dict[str, Any]) -> None:
    def one(x: float, y: float) -> float:
        return float(run2(pair_loops["hypot"], [x], [y])[0])

    big = 1.7976931348623157e308
    assert one(INF, NAN) == INF and one(NAN, -INF) == INF and np.isnan(one(NAN, 1.0)) and np.isnan(one(0.0, NAN))
    assert one(3.0, 4.0) == 5.0 and one(-3.0, 4.0) == 5.0 and one(5.0, 12.0) == 13.0 and one(-0.0, -0.0) == 0.0
    assert not np.signbit(one(-0.0, -0.0)) and one(-2.5, 0.0) == 2.5 and one(-TINY, 0.0) == TINY
    assert one(3e300, 4e300) == 5e300 and one(3 * TINY, 4 * TINY) == 5 * TINY and one(3e-310, 4e-310) == 5e-310
    assert one(big, big) == INF and one(big, 1.0) == big and one(1e308, 1e308) == float(np.hypot(1e308, 1e308))
    assert one(2.0**-1074, 2.0**-1074) == float(np.hypot(TINY, TINY)) and one(1.0, 1e-300) == 1.0


def test_arctan2_special_values_spelled_out(pair_loops: dict[str, Any]) -> None:
    """C99 atan2 (arguments y, x): signed zeros, the axes, infinities, NaN, independently of NumPy's output."""

    def one(y: float, x: float) -> float:
        return float(run2(pair_loops["arctan2"], [y], [x])[0])

    pi, pio2, pio4 = 3.141592653589793, 1.5707963267948966, 0.7853981633974483
    assert one(0.0, 0.0) == 0.0 and not np.signbit(one(0.0, 0.0)) and np.signbit(one(-0.0, 0.0))
    assert one(0.0, -0.0) == pi and one(-0.0, -0.0) == -pi and one(0.0, -1.0) == pi and one(-0.0, -1.0) == -pi
    assert np.signbit(one(-0.0, 2.0)) and one(-0.0, 2.0) == 0.0 and one(1.0, 0.0) == pio2 and one(-1.0, -0.0) == -pio2
    assert one(INF, 1.0) == pio2 and one(-INF, -1.0) == -pio2 and one(INF, INF) == pio4 and one(-INF, INF) == -pio4
    assert one(INF, -INF) == 2.356194490192345 and one(-INF, -INF) == -2.356194490192345
    assert one(1.0, INF) == 0.0 and np.signbit(one(-1.0, INF)) and one(1.0, -INF) == pi and one(-1.0, -INF) == -pi
    assert np.isnan(one(NAN, INF)) and np.isnan(one(INF, NAN)) and np.isnan(one(NAN, 0.0)) and np.isnan(one(0.0, NAN))
    assert one(1.0, 1.0) == pio4 and one(-1.0, -1.0) == -2.356194490192345 and one(1e-300, 1e10) == 1e-310
    assert one(TINY, 1.0) == TINY and one(1.0, -1e300) == pi and one(1e300, 1e-300) == pio2


@pytest.mark.parametrize("name", list(BINARY_NUMPY))
def test_pair_mpmath_sample(pair_loops: dict[str, Any], name: str) -> None:
    x, y = pair_points(500, seed=160 + list(BINARY_NUMPY).index(name))
    got = run2(pair_loops[name], x, y)
    ref_fn = check.mpmath_reference_binary()[name]
    mpmath.mp.dps = 40
    for xi, yi, gi in zip(x.tolist(), y.tolist(), got.tolist(), strict=True):
        ref = ref_fn(mpmath.mpf(xi), mpmath.mpf(yi))
        if float(ref) == gi or ref == 0:
            continue
        _, e = mpmath.frexp(ref)
        ulp = mpmath.ldexp(1, max(int(e) - 53, -1074))
        assert float(abs(mpmath.mpf(gi) - ref) / ulp) <= vm.BOUNDS[name], (name, xi, yi, gi, ref)


@pytest.mark.skipif(not has_simd(), reason="the host CPU has no SIMD unit: LLVM cannot vectorise anything")
@pytest.mark.parametrize("name", list(BINARY_NUMPY))
def test_pair_loop_vectorises(pair_loops: dict[str, Any], name: str) -> None:
    assert vectorised_without_libm(pair_loops[name])


@pytest.mark.parametrize("name", list(BINARY_NUMPY))
def test_pair_ir_path_equals_python_path(pair_loops: dict[str, Any], name: str) -> None:
    from dcompile.runtime.vecmath_core import BINARY_KERNELS

    x, y = pair_points(1500, seed=260 + list(BINARY_NUMPY).index(name))
    sx, sy = np.meshgrid(PAIR_SPECIAL, PAIR_SPECIAL)
    x, y = np.concatenate([x, sx.ravel()]), np.concatenate([y, sy.ravel()])
    got = run2(pair_loops[name], x, y)
    want = np.array([BINARY_KERNELS[name](float(a), float(b)) for a, b in zip(x, y, strict=True)])
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    bad = got[~nan].view(np.int64) != want[~nan].view(np.int64)
    assert not bad.any(), (x[~nan][bad][:5], y[~nan][bad][:5])


def test_pair_python_level_and_argument_types() -> None:
    x, y = pair_points(700, seed=8)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(vm.hypot(x, y), np.hypot(x, y))
        np.testing.assert_array_equal(vm.arctan2(x, y), np.arctan2(x, y))
    assert isinstance(vm.hypot(3, 4), np.floating) and vm.hypot(3, 4) == 5.0 and vm.arctan2(0, -1) == np.pi

    @njit(error_model="numpy")
    def mixed(x, n, a):
        return vm.hypot(x, n), vm.hypot(n, n), vm.arctan2(n, x), vm.arctan2(True, 0), vm.hypot(a, 4.0), vm.arctan2(a, a)

    h1, h2, t1, t2, ha, ta = mixed(3.0, 4, np.array([[3.0, -3.0]]))
    assert h1 == 5.0 and h2 == float(np.hypot(4.0, 4.0)) and t1 == pytest.approx(np.arctan2(4.0, 3.0), rel=2e-16)
    assert t2 == np.pi / 2
    np.testing.assert_array_equal(ha, [[5.0, 5.0]])
    np.testing.assert_array_equal(ta, [[np.pi / 4, -3 * np.pi / 4]])
