"""The numba kernels behind :mod:`dcompile.runtime.vecmath`: branch-free float64 polynomial code.

Everything here is straight-line arithmetic on one float64: LLVM intrinsics for the
bit-level steps (``fma``, float <-> int64 bitcasts, ``fabs``, ``copysign``), integer
shifts and masks for exponents, and :func:`select` (an LLVM ``select``, not a Python
conditional, which would leave branches that block CSE). No libm call, no branch, no exception:
a loop calling these kernels is vectorised by LLVM (8 lanes with AVX-512, 4 with AVX2).

Every polynomial step is ``llvm.fma.f64``, which LLVM lowers to the hardware FMA or,
without one, to a correctly rounded software fma: each operation here is correctly
rounded IEEE arithmetic, so the results are bitwise identical on every machine and for
every vector width (scalar remainder loops included).

Importing this module imports numba; :mod:`dcompile.runtime.vecmath` imports it lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, register_jitable

_F64 = ir.DoubleType()
_I64 = ir.IntType(64)


def _float_intrinsic(name: str, nargs: int) -> Any:
    """An ``@intrinsic`` calling ``llvm.<name>.f64`` on ``nargs`` float64 arguments.

    Declared with an explicit ``FunctionType``: ``Module.declare_intrinsic('llvm.fma', ...)``
    produces a one-argument signature for the three-argument ``fma``.
    """
    fnty = ir.FunctionType(_F64, [_F64] * nargs)

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.{name}.f64")
        return builder.call(fn, args)

    if nargs == 1:

        def typer1(typingctx, x):
            return types.float64(types.float64), codegen

        typer1.__name__ = f"vm_{name}"
        return intrinsic(typer1)
    if nargs == 2:

        def typer2(typingctx, x, y):
            return types.float64(types.float64, types.float64), codegen

        typer2.__name__ = f"vm_{name}"
        return intrinsic(typer2)

    def typer3(typingctx, x, y, z):
        return types.float64(types.float64, types.float64, types.float64), codegen

    typer3.__name__ = f"vm_{name}"
    return intrinsic(typer3)


fma: Any = _float_intrinsic("fma", 3)
fabs: Any = _float_intrinsic("fabs", 1)
copysign: Any = _float_intrinsic("copysign", 2)


def _as_int(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _I64)

    return types.int64(types.float64), codegen


def _as_float(typingctx, n):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _F64)

    return types.float64(types.int64), codegen


def _fadd_reassoc(typingctx, a, b):
    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))

    return types.float64(types.float64, types.float64), codegen


def _select(typingctx, cond, a, b):
    if not isinstance(cond, types.Boolean) or a != b or a not in (types.float64, types.int64):
        return None

    def codegen(context, builder, signature, args):
        return builder.select(args[0], args[1], args[2])

    return a(cond, a, b), codegen


as_int: Any = intrinsic(_as_int)
"""The IEEE bits of a float64 as an int64 (a bitcast)."""
as_float: Any = intrinsic(_as_float)
"""The float64 whose IEEE bits are an int64 (a bitcast)."""
select: Any = intrinsic(_select)
"""``a if cond else b`` as one LLVM ``select`` (float64 or int64 operands of one type): no branch."""
fadd_reassoc: Any = intrinsic(_fadd_reassoc)
"""``a + b`` as an ``fadd reassoc``: LLVM may reorder a reduction of it (and vectorise the loop)."""

# --- constants -------------------------------------------------------------------------------
INV_LN2 = 1.4426950408889634  # 1/ln 2 rounded
LN2 = 0.6931471805599453  # ln 2 rounded (0x3fe62e42fefa39ef)
LN2_LO = 2.3190468138462996e-17  # ln 2 - LN2
SHIFT = 6755399441055744.0  # 1.5 * 2**52: x + SHIFT rounds x to an integer held in the low bits
TWO54 = 18014398509481984.0  # 2**54: scales subnormal inputs of log to normal ones
MIN_NORMAL = 2.2250738585072014e-308
MANT_MASK = 0x000FFFFFFFFFFFFF
SQRT2_MANT = 0x0006A09E667F3BCD  # mantissa bits of sqrt(2)
EXP_ONE = 0x3FF0000000000000  # exponent field of [1, 2)
EXP_HALF = 0x3FE0000000000000  # exponent field of [0.5, 1)
EXP_MAX = 710.0  # exp(710) overflows; clamping here keeps 2**k inside the two-halves scaling
EXP_MIN = -746.0  # exp(-746) underflows to 0
EXPM1_MIN = -40.0  # expm1(x) rounds to -1 below -38
TANH_MAX = 20.0  # tanh(x) rounds to 1 above 19.06


@register_jitable
def _expm1_poly(r):
    """expm1(r) for |r| <= ln(2)/2 (+ rounding): Taylor series to r**14/14!, Horner by fma.

    Returned as ``r + r*r*P(r)``: the leading term exact, the rounding error below 1 ulp.
    The truncated terms are below 2e-18 |r| (0.02 ulp).
    """
    p = fma(r, 1.0 / 87178291200.0, 1.0 / 6227020800.0)
    p = fma(p, r, 1.0 / 479001600.0)
    p = fma(p, r, 1.0 / 39916800.0)
    p = fma(p, r, 1.0 / 3628800.0)
    p = fma(p, r, 1.0 / 362880.0)
    p = fma(p, r, 1.0 / 40320.0)
    p = fma(p, r, 1.0 / 5040.0)
    p = fma(p, r, 1.0 / 720.0)
    p = fma(p, r, 1.0 / 120.0)
    p = fma(p, r, 1.0 / 24.0)
    p = fma(p, r, 1.0 / 6.0)
    p = fma(p, r, 0.5)
    return fma(r * r, p, r)


@register_jitable
def _reduce(x):
    """(k, r) with x = k ln2 + r, k an integer (int64), |r| <= ln(2)/2 + tiny.

    ``fma(x, 1/ln2, 1.5*2**52)`` rounds x/ln2 to an integer held in the low mantissa bits (no
    float -> int conversion); ``fma(-k, LN2, x)`` is exact (the result fits 53 bits of the
    grid of x and k*LN2), and the second fma adds the tail of ln 2.
    """
    kd = fma(x, INV_LN2, SHIFT)
    ki = as_int(kd) - as_int(SHIFT)
    k = kd - SHIFT
    r = fma(-k, LN2, x)
    r = fma(-k, LN2_LO, r)
    return ki, r


@register_jitable
def exp_kernel(x):
    """exp(x): 2**k (1 + expm1(r)); 2**k applied as two factors so subnormal results round once."""
    xc = select(x < EXP_MAX, x, EXP_MAX)
    xc = select(xc > EXP_MIN, xc, EXP_MIN)
    ki, r = _reduce(xc)
    p = 1.0 + _expm1_poly(r)
    k1 = ki >> 1
    k2 = ki - k1
    y = p * as_float((k1 + 1023) << 52) * as_float((k2 + 1023) << 52)
    return select(fabs(x) <= np.inf, y, x)  # nan -> nan


@register_jitable
def expm1_kernel(x):
    """expm1(x): 2**k q + (2**k - 1) in one fma, q = expm1(r); exact for k = 0 (|x| < 0.35).

    2**k - 1 is exact for -53 <= k <= 53; for k = 1024 (x > 709.4) the scale is 2**1023 and
    the result is doubled (exactly, or to inf). x == 0 returns x (keeps -0).
    """
    xc = select(x < EXP_MAX, x, EXP_MAX)
    xc = select(xc > EXPM1_MIN, xc, EXPM1_MIN)
    ki, r = _reduce(xc)
    q = _expm1_poly(r)
    kc = select(ki < 1023, ki, np.int64(1023))
    s = as_float((kc + 1023) << 52)
    y = fma(s, q, s - 1.0)
    y = select(ki < 1024, y, y * 2.0)
    return select((x != 0.0) & (fabs(x) <= np.inf), y, x)  # nan, ±0 -> x


@register_jitable(inline="always")
def tanh_kernel(x):
    """tanh(x) = sign(x) t / (t + 2), t = expm1(2|x|); |x| clamped to 20 (tanh = 1 there)."""
    a = fabs(x)
    a = select(a > TANH_MAX, TANH_MAX, a)  # nan stays nan
    t = expm1_kernel(a + a)
    return copysign(t / (t + 2.0), x)


@register_jitable
def _log_kernel(u, kext, c):
    """log(u) + kext ln2 + c for a positive normal finite u, |c| small against the result.

    u = 2**e m with m in [sqrt(2)/2, sqrt(2)) (from the bits), f = m - 1, s = f/(2+f):
    log(m) = 2 atanh(s) = f - s (f - T), T = 2 s**2/3 + 2 s**4/5 + ... (Taylor to s**22,
    truncation below 3e-18 |log m|). The small terms are summed first, k ln2 last in one fma.
    """
    ix = as_int(u)
    mant = ix & MANT_MASK
    big = mant > SQRT2_MANT
    e = (ix >> 52) - select(big, np.int64(1022), np.int64(1023))
    m = as_float(mant | select(big, np.int64(EXP_HALF), np.int64(EXP_ONE)))
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    p = fma(z, 2.0 / 23.0, 2.0 / 21.0)
    p = fma(p, z, 2.0 / 19.0)
    p = fma(p, z, 2.0 / 17.0)
    p = fma(p, z, 2.0 / 15.0)
    p = fma(p, z, 2.0 / 13.0)
    p = fma(p, z, 2.0 / 11.0)
    p = fma(p, z, 2.0 / 9.0)
    p = fma(p, z, 2.0 / 7.0)
    p = fma(p, z, 2.0 / 5.0)
    p = fma(p, z, 2.0 / 3.0)
    t = z * p
    k = float(e) + kext
    corr = fma(s, f - t, -fma(k, LN2_LO, c))  # s (f - T) - k ln2_lo - c
    return fma(k, LN2, f - corr)


@register_jitable
def log_kernel(x):
    """log(x): subnormal x scaled by 2**54 first; 0 -> -inf, x < 0 -> nan, inf and nan -> x."""
    sub = x < MIN_NORMAL
    u = select(sub, x * TWO54, x)
    y = _log_kernel(u, select(sub, -54.0, 0.0), 0.0)
    special = select(x != 0.0, x, -np.inf)
    special = select(x >= 0.0, special, np.nan)
    return select((x > 0.0) & (x < np.inf), y, special)


@register_jitable
def log1p_kernel(x):
    """log1p(x) = log(u) + (x - (u - 1))/u with u = 1 + x rounded; -1 -> -inf, x < -1 -> nan.

    The correction restores what rounding 1 + x lost and is added with the small terms.
    x == 0 returns x (keeps -0).
    """
    u = 1.0 + x
    uc = select(u > MIN_NORMAL, u, 1.0)  # x = -1, x < -1, nan: result chosen below
    uc = select(uc < np.inf, uc, 1.0)
    c = (x - (uc - 1.0)) / uc
    y = _log_kernel(uc, 0.0, c)
    special = select(x != -1.0, x, -np.inf)
    special = select(x >= -1.0, special, np.nan)
    ok = (x > -1.0) & (x < np.inf) & (x != 0.0)
    return select(ok, y, special)


@register_jitable(inline="always")
def exp_neg_abs(x):
    """exp(-|x|): the one exponential that sigmoid and softplus share (spelled once, so CSE merges them)."""
    return exp_kernel(-fabs(x))


@register_jitable(inline="always")
def sigmoid_kernel(x):
    """1/(1 + exp(-x)) as (1 if x >= 0 else e)/(1 + e), e = exp(-|x|): no overflow, no cancellation."""
    e = exp_neg_abs(x)
    return select(x >= 0.0, 1.0, e) / (1.0 + e)


@register_jitable(inline="always")
def softplus_kernel(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(e), e = exp(-|x|) (NumPy's logaddexp(0, x))."""
    e = exp_neg_abs(x)
    return select(x > 0.0, x, 0.0) + log1p_kernel(e)
