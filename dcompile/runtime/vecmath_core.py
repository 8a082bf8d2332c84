"""The kernels behind :mod:`dcompile.runtime.vecmath`: branch-free float64 polynomial code, emitted as LLVM IR.

Everything here is straight-line arithmetic on one float64: ``fma`` (``llvm.fma.f64``), float
<-> int64 bitcasts, ``fabs``, ``copysign``, integer shifts and masks for exponents, and
:func:`select` (an LLVM ``select``, not a Python conditional, which would leave branches that
block CSE). No libm call, no branch, no exception: a loop using these kernels is vectorised by
LLVM (8 lanes with AVX-512, 4 with AVX2).

The kernels (``exp_kernel``, ...) are plain Python functions, written once over the operations
of :mod:`dcompile.runtime.vecmath_ir`. Each public function has one numba ``@intrinsic``
(:data:`INTRINSICS`) whose codegen calls the kernel on a :class:`~dcompile.runtime.vecmath_ir.V`
wrapping its argument: the kernel's LLVM IR is emitted straight into the caller's function.
No numba function is compiled per kernel (no typing pipeline, no LLVM module of its own, no
reliance on LLVM's inliner), so a loop using ``vm.exp`` costs about 0.03 s more to compile
than the same loop without it, where the former ``@register_jitable`` kernels cost 0.15-0.35 s
each per process (figures in :mod:`dcompile.runtime.vecmath`). The composite kernels (tanh,
sigmoid, softplus) call the leaf kernels as Python functions, which inlines them by
construction. sigmoid and softplus both compute ``exp_neg_abs(x)``: the same instructions on
the same value, which LLVM's CSE/GVN merges when both are used on one x in one loop.

The operators of :class:`~dcompile.runtime.vecmath_ir.V` emit what numba emits for the same
Python expression, in the same order, so the results are bitwise those of the former numba
kernels. The same functions run on Python floats (with an exact fma): a pure-Python reference
path the tests compare with the IR, bit for bit.

Every polynomial step is ``llvm.fma.f64``, which LLVM lowers to the hardware FMA or,
without one, to a correctly rounded software fma: each operation here is correctly
rounded IEEE arithmetic, so the results are bitwise identical on every machine and for
every vector width (scalar remainder loops included).

Importing this module imports numba; :mod:`dcompile.runtime.vecmath` imports it lazily.
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.extending import intrinsic

from dcompile.runtime.vecmath_ir import V, as_float, as_int, copysign, fabs, fma, select, to_float

INF = float("inf")
NAN = float("nan")

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


def exp_kernel(x):
    """exp(x): 2**k (1 + expm1(r)); 2**k applied as two factors so subnormal results round once."""
    xc = select(x < EXP_MAX, x, EXP_MAX)
    xc = select(xc > EXP_MIN, xc, EXP_MIN)
    ki, r = _reduce(xc)
    p = 1.0 + _expm1_poly(r)
    k1 = ki >> 1
    k2 = ki - k1
    y = p * as_float((k1 + 1023) << 52) * as_float((k2 + 1023) << 52)
    return select(fabs(x) <= INF, y, x)  # nan -> nan


def expm1_kernel(x):
    """expm1(x): 2**k q + (2**k - 1) in one fma, q = expm1(r); exact for k = 0 (|x| < 0.35).

    2**k - 1 is exact for -53 <= k <= 53; for k = 1024 (x > 709.4) the scale is 2**1023 and
    the result is doubled (exactly, or to inf). x == 0 returns x (keeps -0).
    """
    xc = select(x < EXP_MAX, x, EXP_MAX)
    xc = select(xc > EXPM1_MIN, xc, EXPM1_MIN)
    ki, r = _reduce(xc)
    q = _expm1_poly(r)
    kc = select(ki < 1023, ki, 1023)
    s = as_float((kc + 1023) << 52)
    y = fma(s, q, s - 1.0)
    y = select(ki < 1024, y, y * 2.0)
    return select((x != 0.0) & (fabs(x) <= INF), y, x)  # nan, ±0 -> x


def tanh_kernel(x):
    """tanh(x) = sign(x) t / (t + 2), t = expm1(2|x|); |x| clamped to 20 (tanh = 1 there)."""
    a = fabs(x)
    a = select(a > TANH_MAX, TANH_MAX, a)  # nan stays nan
    t = expm1_kernel(a + a)
    return copysign(t / (t + 2.0), x)


def _log_kernel(u, kext, c):
    """log(u) + kext ln2 + c for a positive normal finite u, |c| small against the result.

    u = 2**e m with m in [sqrt(2)/2, sqrt(2)) (from the bits), f = m - 1, s = f/(2+f):
    log(m) = 2 atanh(s) = f - s (f - T), T = 2 s**2/3 + 2 s**4/5 + ... (Taylor to s**22,
    truncation below 3e-18 |log m|). The small terms are summed first, k ln2 last in one fma.
    """
    ix = as_int(u)
    mant = ix & MANT_MASK
    big = mant > SQRT2_MANT
    e = (ix >> 52) - select(big, 1022, 1023)
    m = as_float(mant | select(big, EXP_HALF, EXP_ONE))
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
    k = to_float(e) + kext
    corr = fma(s, f - t, -fma(k, LN2_LO, c))  # s (f - T) - k ln2_lo - c
    return fma(k, LN2, f - corr)


def log_kernel(x):
    """log(x): subnormal x scaled by 2**54 first; 0 -> -inf, x < 0 -> nan, inf and nan -> x."""
    sub = x < MIN_NORMAL
    u = select(sub, x * TWO54, x)
    y = _log_kernel(u, select(sub, -54.0, 0.0), 0.0)
    special = select(x != 0.0, x, -INF)
    special = select(x >= 0.0, special, NAN)
    return select((x > 0.0) & (x < INF), y, special)


def log1p_kernel(x):
    """log1p(x) = log(u) + (x - (u - 1))/u with u = 1 + x rounded; -1 -> -inf, x < -1 -> nan.

    The correction restores what rounding 1 + x lost and is added with the small terms.
    x == 0 returns x (keeps -0).
    """
    u = 1.0 + x
    uc = select(u > MIN_NORMAL, u, 1.0)  # x = -1, x < -1, nan: result chosen below
    uc = select(uc < INF, uc, 1.0)
    c = (x - (uc - 1.0)) / uc
    y = _log_kernel(uc, 0.0, c)
    special = select(x != -1.0, x, -INF)
    special = select(x >= -1.0, special, NAN)
    ok = (x > -1.0) & (x < INF) & (x != 0.0)
    return select(ok, y, special)


def exp_neg_abs(x):
    """exp(-|x|): the one exponential that sigmoid and softplus share (the same IR twice, so CSE merges them)."""
    return exp_kernel(-fabs(x))


def sigmoid_kernel(x):
    """1/(1 + exp(-x)) as (1 if x >= 0 else e)/(1 + e), e = exp(-|x|): no overflow, no cancellation."""
    e = exp_neg_abs(x)
    return select(x >= 0.0, 1.0, e) / (1.0 + e)


def softplus_kernel(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(e), e = exp(-|x|) (NumPy's logaddexp(0, x))."""
    e = exp_neg_abs(x)
    return select(x > 0.0, x, 0.0) + log1p_kernel(e)


KERNELS: dict[str, Any] = {
    "exp": exp_kernel,
    "expm1": expm1_kernel,
    "log": log_kernel,
    "log1p": log1p_kernel,
    "tanh": tanh_kernel,
    "sigmoid": sigmoid_kernel,
    "softplus": softplus_kernel,
}
"""The kernels by name: each runs on a Python float (the reference path) or a :class:`V` (IR)."""

_NUMBER = (types.Float, types.Integer, types.Boolean)


def _kernel_intrinsic(name: str, kernel: Any) -> Any:
    """An ``@intrinsic`` ``float64(x)`` whose codegen emits ``kernel`` at the call site.

    x (any float, integer or bool type) is converted to float64 as ``np.float64(x)`` would.
    """

    def codegen(context, builder, signature, args):
        x = context.cast(builder, args[0], signature.args[0], types.float64)
        return kernel(V(builder, x)).v

    def typer(typingctx, x):
        if not isinstance(x, _NUMBER):
            return None
        return types.float64(x), codegen

    typer.__name__ = f"vm_{name}"
    return intrinsic(typer)


INTRINSICS: dict[str, Any] = {name: _kernel_intrinsic(name, k) for name, k in KERNELS.items()}
"""One numba ``@intrinsic`` per function (float64 of any real scalar), emitting its kernel inline."""


def _fadd_reassoc(typingctx, a, b):
    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))

    return types.float64(types.float64, types.float64), codegen


fadd_reassoc: Any = intrinsic(_fadd_reassoc)
"""``a + b`` as an ``fadd reassoc``: LLVM may reorder a reduction of it (and vectorise the loop)."""
