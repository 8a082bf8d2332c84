"""How :mod:`dcompile.runtime.vecmath` is measured: sample points, exact references, errors in ulps.

Shared by ``tests/test_vecmath.py`` (which checks the bounds in ``vecmath.BOUNDS``) and
``benchmarks/bench_vecmath.py`` (which measures them and the speed): the points cover each
function's whole range with log-uniform magnitudes of both signs plus its central range; the exact
values come from long double (x87, 64-bit mantissa) or from mpmath.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

LD = np.longdouble

# NumPy's function of each name: evaluated on long double arrays it is the reference of the
# large samples (x87's 64-bit mantissa: about 2**-11 ulp of double), and under numba a libm call.
NUMPY: dict[str, Callable[[Any], Any]] = {
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "exp2": np.exp2,
    "log2": np.log2,
    "log10": np.log10,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "sin": np.sin,
    "cos": np.cos,
    "arctan": np.arctan,
    "arcsinh": np.arcsinh,
    "arctanh": np.arctanh,
    "arccosh": np.arccosh,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
}


def ulp_error(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|y - ref| in ulps of the exact value ``ref``; 0 where y equals ref rounded to float64 (inf, nan included)."""
    ref = np.asarray(ref, LD)
    _, e = np.frexp(ref)
    ulp = np.ldexp(np.ones(ref.shape, LD), np.maximum(e.astype(np.int64) - 53, -1074))
    with np.errstate(all="ignore"):
        err = np.abs(np.asarray(y, LD) - ref) / ulp
        rounded = ref.astype(np.float64)
    same = (y == rounded) | (np.isnan(y) & np.isnan(ref))
    return np.where(same, 0.0, err).astype(np.float64)


def sample_points(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Test points for one function: log-uniform magnitudes over its range, both signs, and its central range."""

    def logu(lo: float, hi: float, m: int, signed: bool = True) -> np.ndarray:
        mag = np.exp(rng.uniform(np.log(lo), np.log(hi), m))
        return mag * rng.choice([-1.0, 1.0], m) if signed else mag

    h = n // 2
    if name == "exp":
        parts = [rng.uniform(-746.0, 710.0, h), logu(1e-300, 750.0, n - h)]
    elif name == "expm1":
        parts = [rng.uniform(-45.0, 710.0, h), logu(1e-300, 2.0, n - h)]
    elif name in ("log", "log2", "log10"):
        parts = [logu(5e-324, 1.7e308, h, signed=False), rng.uniform(0.5, 2.0, n - h)]
    elif name == "exp2":
        parts = [rng.uniform(-1080.0, 1025.0, h), logu(1e-300, 1100.0, n - h)]
    elif name in ("sinh", "cosh"):
        parts = [logu(1e-300, 720.0, h), rng.uniform(-5.0, 5.0, n - h)]
    elif name in ("sin", "cos", "arctan", "arcsinh"):
        parts = [logu(1e-300, 1.7e308, h), rng.uniform(-10.0, 10.0, n - h)]
    elif name == "log1p":
        t = n // 3
        big, small = logu(1e-300, 1.7e308, t, signed=False), -logu(1e-300, 1.0, n - 2 * t, signed=False)
        parts = [big, rng.uniform(-1.0, 1.0, t), small]
    elif name == "tanh":
        parts = [logu(1e-300, 25.0, h), rng.uniform(-3.0, 3.0, n - h)]
    elif name in ("arctanh", "arccosh", "arcsin", "arccos"):  # the range, the middle, and just beside ±1
        t = n // 3
        beside_one = logu(1e-17, 1.0, n - 2 * t, signed=False)  # 1 - 1e-17 rounds to 1
        if name != "arccosh":
            parts = [
                logu(1e-300, 1.0, t),
                rng.uniform(-1.0, 1.0, t),
                (1.0 - beside_one) * rng.choice([-1.0, 1.0], n - 2 * t),
            ]
        else:
            parts = [logu(1.0, 1.7e308, t, signed=False), rng.uniform(1.0, 10.0, t), 1.0 + beside_one]
    else:
        parts = [logu(1e-300, 800.0, h), rng.uniform(-40.0, 40.0, n - h)]
    return np.concatenate(parts)


def elementwise_loop(fn: Callable[[Any], Any]) -> Any:
    """``out[i] = fn(a[i])`` compiled as dcompile compiles its kernels (``error_model="numpy"``)."""
    from numba import njit

    @njit(error_model="numpy")
    def loop(a, out):
        for i in range(a.size):
            out[i] = fn(a[i])

    return loop


def mpmath_reference() -> dict[str, Callable[[Any], Any]]:
    """The exact function each unary kernel is measured against, in mpmath (the bounds in ``BOUNDS``
    come from it and from long double)."""
    import mpmath  # type: ignore[import-untyped]

    return {
        "exp": mpmath.exp,
        "expm1": mpmath.expm1,
        "log": mpmath.log,
        "log1p": mpmath.log1p,
        "tanh": mpmath.tanh,
        "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
        "softplus": lambda x: mpmath.log1p(mpmath.exp(x)),
        "exp2": lambda x: mpmath.power(2, x),
        "log2": lambda x: mpmath.log(x, 2),
        "log10": mpmath.log10,
        "sinh": mpmath.sinh,
        "cosh": mpmath.cosh,
        "sin": mpmath.sin,
        "cos": mpmath.cos,
        "arctan": mpmath.atan,
        "arcsinh": mpmath.asinh,
        "arctanh": mpmath.atanh,
        "arccosh": mpmath.acosh,
        "arcsin": mpmath.asin,
        "arccos": mpmath.acos,
    }


def mpmath_reference_binary() -> dict[str, Callable[[Any, Any], Any]]:
    """The exact function of each kernel of two arguments, in mpmath (as :func:`mpmath_reference`)."""
    import mpmath  # type: ignore[import-untyped]

    return {"pow": mpmath.power, "hypot": mpmath.hypot, "arctan2": mpmath.atan2}
