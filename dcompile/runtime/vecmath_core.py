"""The kernels behind :mod:`dcompile.runtime.vecmath`: branch-free float64 polynomial code, emitted as LLVM IR.

Everything here is straight-line arithmetic on one float64: ``fma`` (``llvm.fma.f64``), float
<-> int64 bitcasts, ``fabs``, ``copysign``, ``floor`` (``llvm.floor.f64``), integer shifts and
masks for exponents, :func:`select` (an LLVM ``select``, not a Python conditional, which would
leave branches that block CSE), and for sin/cos loads from a constant table of 2/pi
(:func:`~dcompile.runtime.vecmath_ir.lookup`, a gather in a vector loop). No libm call, no
branch, no exception: a loop using these kernels is vectorised by LLVM (8 lanes with AVX-512, 4
with AVX2).

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

import math
from typing import Any

from numba import types
from numba.extending import intrinsic

from dcompile.runtime.vecmath_ir import V, as_float, as_int, copysign, fabs, floor, fma, lookup, select, sqrt, to_float

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
INV_LN2_LO = 2.0355273740931033e-17  # 1/ln 2 - INV_LN2
LOG10_2 = 0.3010299956639812  # log10(2) rounded
LOG10_2_LO = -2.8037281277851704e-18  # log10(2) - LOG10_2
INV_LN10 = 0.4342944819032518  # 1/ln 10 rounded
INV_LN10_LO = 1.098319650216765e-17  # 1/ln 10 - INV_LN10
EXP2_MAX = 1024.0  # 2**1024 overflows
EXP2_MIN = -1076.0  # 2**-1076 underflows to 0
HALF_EXP_MAX = 711.0  # exp(711)/2 overflows (cosh(710.4) is finite)
SINH_POLY_MAX = 1.0  # sinh by its Taylor series below this |x|, from exp above
SINH_TINY = 1e-100  # sinh(x) = x below (x**3/6 is below 1e-200 |x|)


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


def exp2_kernel(x):
    """2**x: k = round(x) by the shift, r = x - k exact, |r| <= 1/2; 2**r = exp(r ln2) with r ln2 a double-double.

    rh = r*ln2 (|rh| <= ln(2)/2, the range of the exp polynomial); rl = its rounding error
    (fma) plus r ln2_lo; exp(rh + rl) = 1 + (q + rl (1 + q)), q = expm1(rh). 2**k is applied as
    in :func:`exp_kernel`. Integer x: r = 0, so 2**x is exact.
    """
    xc = select(x < EXP2_MAX, x, EXP2_MAX)
    xc = select(xc > EXP2_MIN, xc, EXP2_MIN)
    kd = xc + SHIFT
    ki = as_int(kd) - as_int(SHIFT)
    r = xc - (kd - SHIFT)
    rh = r * LN2
    rl = fma(r, LN2, -rh)
    rl = fma(r, LN2_LO, rl)
    q = _expm1_poly(rh)
    p = 1.0 + (q + fma(rl, q, rl))
    k1 = ki >> 1
    k2 = ki - k1
    y = p * as_float((k1 + 1023) << 52) * as_float((k2 + 1023) << 52)
    return select(fabs(x) <= INF, y, x)  # nan -> nan


def _half_exp(a):
    """exp(a)/2 for a >= 0 (nan gives a finite or infinite number: the caller selects nan).

    As :func:`exp_kernel`, with 2**(k-1) as the scale, so e**a/2 is finite up to a = 710.47;
    a clamped to 711, where it is inf.
    """
    ac = select(a < HALF_EXP_MAX, a, HALF_EXP_MAX)
    ki, r = _reduce(ac)
    p = 1.0 + _expm1_poly(r)
    k1 = ki >> 1
    k2 = ki - k1
    return p * as_float((k1 + 1023) << 52) * as_float((k2 + 1022) << 52)


def sinh_kernel(x):
    """sinh(x): sign(x) times, for |x| < 1, |x| + |x|**3 P(x**2) (Taylor to x**19/19!), else h - 1/(4h), h = e**|x|/2.

    The series keeps sinh(x) = x for tiny x (and -0 -> -0); h - 1/(4h) cancels by at most
    1.16 at |x| = 1 and overflows only with e**|x|/2 (sinh(710.4) finite, sinh(711) = inf).
    """
    a = fabs(x)
    a_s = select(a < SINH_TINY, 0.0, a)  # sinh(a) = a below 1e-100: no subnormal a*a (slow)
    z = a_s * a_s
    p = fma(z, 1.0 / 121645100408832000.0, 1.0 / 355687428096000.0)
    p = fma(p, z, 1.0 / 1307674368000.0)
    p = fma(p, z, 1.0 / 6227020800.0)
    p = fma(p, z, 1.0 / 39916800.0)
    p = fma(p, z, 1.0 / 362880.0)
    p = fma(p, z, 1.0 / 5040.0)
    p = fma(p, z, 1.0 / 120.0)
    p = fma(p, z, 1.0 / 6.0)
    small = fma(a_s * z, p, a)
    h = _half_exp(a)
    big = h - 0.25 / h
    y = copysign(select(a < SINH_POLY_MAX, small, big), x)
    return select(a <= INF, y, x)  # nan -> nan


def cosh_kernel(x):
    """cosh(x) = h + 1/(4h), h = e**|x|/2 (no cancellation; cosh(710.4) finite, cosh(711) = inf)."""
    a = fabs(x)
    h = _half_exp(a)
    y = h + 0.25 / h
    return select(a <= INF, y, a)  # nan -> nan


# --- sin, cos: Payne-Hanek reduction by a table of 2/pi ------------------------------------
PIO2 = 1.5707963267948966  # pi/2 rounded
PIO2_LO = 6.123233995736766e-17  # pi/2 - PIO2
PIO4 = 0.7853981633974483  # pi/4 rounded down: |x| <= PIO4 needs no reduction
TRIG_BMIN = 1000  # the table starts at biased exponent 1000 (|x| >= 2**-23); smaller |x| is not reduced
TRIG_TINY = 1e-100  # below: sin x = x, cos x = 1 (no subnormal x*x in the polynomials)


def _two_over_pi_table() -> tuple[float, ...]:
    """Four doubles per biased exponent b >= TRIG_BMIN: F = (2**E 2/pi) mod 4, E = b - 1075, cut into 52-bit pieces.

    For |x| = M 2**E (M the 53-bit integer significand), x 2/pi = M F (mod 4) exactly, since the
    bits of 2/pi above 2**(1-E) contribute multiples of 4. Piece j holds the bits of F from
    2**(1-52j) to 2**(-50-52j) (exact in a double); the truncation of F below 2**-206 costs at
    most 2**-153 in M F. 2/pi from pi by Machin's formula in integer arithmetic (1400 bits).
    """
    q = 1400

    def atan_inv(n: int) -> int:  # atan(1/n) * 2**q
        total, term, k, sign = 0, (1 << q) // n, 1, 1
        while term:
            total += sign * (term // k)
            term //= n * n
            k += 2
            sign = -sign
        return total

    pi_fixed = 16 * atan_inv(5) - 4 * atan_inv(239)  # pi * 2**q, within a few units
    p = 1300
    g = (2 << (q + p)) // pi_fixed  # 2/pi * 2**p
    mask = (1 << 52) - 1
    out: list[float] = []
    for bexp in range(TRIG_BMIN, 2048):
        e = bexp - 1075
        w = (g >> (p - e - 206)) & ((1 << 208) - 1)  # F * 2**206
        out += [math.ldexp((w >> (156 - 52 * j)) & mask, -50 - 52 * j) for j in range(4)]
    out[-4:] = [0.0] * 4  # inf, nan: the result is chosen elsewhere
    return tuple(out)


TWO_OVER_PI = _two_over_pi_table()


def _two_sum(a, b):
    """(s, e) with s = a + b rounded and s + e = a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _mod4(v):
    """v - 4 floor(v/4), exact: v reduced to [0, 4)."""
    return v - 4.0 * floor(v * 0.25)


def _reduce_pio2(a):
    """(n, h, l) with a = n pi/2 + h + l, 0 <= n <= 4 (int64), |h + l| <= pi/4 (+ rounding), for finite a >= 0.

    a > pi/4: M F (mod 4) from the table (:func:`_two_over_pi_table`) with fma two-products,
    M t0 reduced mod 4 and summed exactly, the rest as a double-double; n = round(y), then
    (y - n) pi/2 as a double-double. The absolute error of y - n is below 2**-148, so even the
    closest double to a multiple of pi/2 (about 2**-61 away) keeps 80+ correct bits.
    a <= pi/4: n = 0, h = a, l = 0.
    """
    ia = as_int(a)
    bexp = ia >> 52
    idx = (select(bexp > TRIG_BMIN, bexp, TRIG_BMIN) - TRIG_BMIN) * 4
    m = to_float((ia & MANT_MASK) | (1 << 52))
    t0 = lookup(TWO_OVER_PI, "dcompile_vm_two_over_pi", idx)
    t1 = lookup(TWO_OVER_PI, "dcompile_vm_two_over_pi", idx + 1)
    t2 = lookup(TWO_OVER_PI, "dcompile_vm_two_over_pi", idx + 2)
    t3 = lookup(TWO_OVER_PI, "dcompile_vm_two_over_pi", idx + 3)
    p0 = m * t0
    c = _mod4(_mod4(p0) + fma(m, t0, -p0))  # both multiples of 2**-50, |sum| < 8: exact
    p1 = m * t1
    d, e = _two_sum(c, p1)
    d = _mod4(d)
    p2 = m * t2
    th, eb = _two_sum(e + fma(m, t1, -p1), p2)  # e + p1 low: multiples of 2**-102 below 2**-49, exact
    tl = eb + (fma(m, t2, -p2) + m * t3)
    nd = (d + th) + SHIFT
    n = nd - SHIFT
    ni = as_int(nd) - as_int(SHIFT)
    rh, rl = _two_sum(d - n, th)
    rl = rl + tl
    h = rh * PIO2
    lo = fma(rh, PIO2, -h) + fma(rh, PIO2_LO, rl * PIO2)
    yh = h + lo
    yl = lo - (yh - h)
    small = a <= PIO4
    return select(small, 0, ni), select(small, a, yh), select(small, 0.0, yl)


def _sin_cos_poly(h, lo):
    """(sin(h + lo), cos(h + lo)) for |h| <= pi/4 + tiny, |lo| <= ulp(h): Taylor series to h**17/17! and h**18/18!."""
    hs = select(fabs(h) < TRIG_TINY, 0.0, h)
    z = hs * hs
    zl = fma(hs, hs, -z)
    ps = fma(z, -1.0 / 355687428096000.0, 1.0 / 1307674368000.0)
    ps = fma(ps, z, -1.0 / 6227020800.0)
    ps = fma(ps, z, 1.0 / 39916800.0)
    ps = fma(ps, z, -1.0 / 362880.0)
    ps = fma(ps, z, 1.0 / 5040.0)
    ps = fma(ps, z, -1.0 / 120.0)
    ps = fma(ps, z, 1.0 / 6.0)
    s = h - fma(hs * z, ps, -lo * (1.0 - 0.5 * z))
    pc = fma(z, 1.0 / 6402373705728000.0, -1.0 / 20922789888000.0)
    pc = fma(pc, z, 1.0 / 87178291200.0)
    pc = fma(pc, z, -1.0 / 479001600.0)
    pc = fma(pc, z, 1.0 / 3628800.0)
    pc = fma(pc, z, -1.0 / 40320.0)
    pc = fma(pc, z, 1.0 / 720.0)
    pc = fma(pc, z, -1.0 / 24.0)
    hz = 0.5 * z
    w = 1.0 - hz
    c = w + (((1.0 - w) - hz) - (fma(z * z, pc, 0.5 * zl) + h * lo))
    return s, c


def sin_kernel(x):
    """sin(x) for every double: :func:`_reduce_pio2` of |x|, the quadrant's polynomial, the sign of x (-0 -> -0)."""
    a = fabs(x)
    n, h, lo = _reduce_pio2(a)
    s, c = _sin_cos_poly(h, lo)
    v = select((n & 1) == 1, c, s)
    flip = ((n >> 1) - (as_int(x) >> 63)) & 1
    y = select(flip == 1, -v, v)
    return select(a < INF, y, x - x)  # inf, nan -> nan


def cos_kernel(x):
    """cos(x) for every double: :func:`_reduce_pio2` of |x|, the quadrant's polynomial and sign."""
    a = fabs(x)
    n, h, lo = _reduce_pio2(a)
    s, c = _sin_cos_poly(h, lo)
    v = select((n & 1) == 1, s, c)
    y = select(((n + 1) & 2) == 2, -v, v)
    return select(a < INF, y, x - x)  # inf, nan -> nan


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


def _log_parts(u):
    """(e, f, s, t) with u = 2**e (1 + f), log(1 + f) = f - s (f - t), for a positive normal finite u.

    u = 2**e m with m in [sqrt(2)/2, sqrt(2)) (from the bits), f = m - 1 (exact), s = f/(2+f):
    log(m) = 2 atanh(s) = f - s (f - T), T = 2 s**2/3 + 2 s**4/5 + ... (Taylor to s**22,
    truncation below 3e-18 |log m|). e is an int64.
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
    return e, f, s, t


def _log_kernel(u, kext, c):
    """log(u) + kext ln2 + c for a positive normal finite u, |c| small against the result.

    :func:`_log_parts`; the small terms are summed first, k ln2 last in one fma.
    """
    e, f, s, t = _log_parts(u)
    k = to_float(e) + kext
    corr = fma(s, f - t, -fma(k, LN2_LO, c))  # s (f - T) - k ln2_lo - c
    return fma(k, LN2, f - corr)


def _log_args(x):
    """(u, kext): x scaled by 2**54 when subnormal, kext = -54 then (for the log kernels)."""
    sub = x < MIN_NORMAL
    return select(sub, x * TWO54, x), select(sub, -54.0, 0.0)


def _log_special(x, y):
    """y where 0 < x < inf; log's special values elsewhere: ±0 -> -inf, x < 0 -> nan, inf and nan -> x."""
    special = select(x != 0.0, x, -INF)
    special = select(x >= 0.0, special, NAN)
    return select((x > 0.0) & (x < INF), y, special)


def log2_kernel(x):
    """log2(x) = k + log(m)/ln2, k = e + kext an exact integer, log(m) = f - c with c = s (f - T).

    f/ln2 is a double-double (f times 1/ln2 in two parts, the first product's error by fma),
    c/ln2 joins its low part, and k + hi is a Fast2Sum (|hi| <= 1/2 <= |k| unless k = 0):
    one final rounding of a sum known to about 2**-60 relative. log2(2**k) = k exactly (f = 0).
    """
    u, kext = _log_args(x)
    e, f, s, t = _log_parts(u)
    k = to_float(e) + kext
    c = s * (f - t)
    hi = f * INV_LN2
    lo = fma(f, INV_LN2, -hi)
    lo = fma(f, INV_LN2_LO, lo)
    lo = fma(-c, INV_LN2, lo)
    yh = k + hi
    err = (k - yh) + hi
    return _log_special(x, yh + (err + lo))


def log10_kernel(x):
    """log10(x) = k log10(2) + log(m)/ln10: both products as double-doubles, summed by Fast2Sum.

    |log(m)/ln10| <= 0.151 < log10(2) <= |k log10(2)| unless k = 0, so Fast2Sum is exact.
    """
    u, kext = _log_args(x)
    e, f, s, t = _log_parts(u)
    k = to_float(e) + kext
    c = s * (f - t)
    ah = k * LOG10_2
    al = fma(k, LOG10_2, -ah)
    al = fma(k, LOG10_2_LO, al)
    bh = f * INV_LN10
    bl = fma(f, INV_LN10, -bh)
    bl = fma(f, INV_LN10_LO, bl)
    bl = fma(-c, INV_LN10, bl)
    yh = ah + bh
    err = (ah - yh) + bh
    return _log_special(x, yh + (err + (al + bl)))


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


# --- pow: log(|x|) as a double-double (table reduction), y times it, exp of a double-double ----
POW_TABLE_BITS = 8  # 256 sub-intervals of m in [sqrt(2)/2, sqrt(2)), found from the top 8 bits above m's floor
POW_OFF = EXP_HALF | (SQRT2_MANT + 1)  # the bits of the smallest m (just above sqrt(2)/2)
POW_NEAR_ONE = 2.0**-7  # sub-intervals within this of 1 use c = 1: r = m - 1 exactly, no cancellation near x = 1


def _pow_log_table() -> tuple[float, ...]:
    """Three doubles per sub-interval i of m: c (about 1/m, 9 bits), and -log(c) as hi + lo.

    Sub-interval i holds the m whose bits are ``POW_OFF + i 2**44 .. POW_OFF + (i+1) 2**44 - 1``.
    c is 1/(its midpoint) rounded to a multiple of 2**-8 (so |m c - 1| < 2**-8), or 1 for the
    sub-intervals that come within 2**-7 of 1. -log(c) from :mod:`decimal` at 50 digits.
    """
    import decimal

    ctx = decimal.Context(prec=50)
    out: list[float] = []
    shift = 52 - POW_TABLE_BITS
    for i in range(1 << POW_TABLE_BITS):
        lo = as_float(POW_OFF + (i << shift))
        hi = as_float(POW_OFF + ((i + 1) << shift) - 1)
        c = round(256.0 * 2.0 / (lo + hi)) / 256.0
        if lo - POW_NEAR_ONE <= 1.0 <= hi + POW_NEAR_ONE:
            c = 1.0
        neg_log = -ctx.ln(decimal.Decimal(c))
        h = float(neg_log)
        out += [c, h, float(ctx.subtract(neg_log, decimal.Decimal(h)))]
    return tuple(out)


POW_LOG = _pow_log_table()


def _log_dd(u, kext):
    """log(u) + kext ln2 as a double-double (hi, lo) for a positive normal finite u, relative error about 2**-66.

    u = 2**e m, m in [sqrt(2)/2, sqrt(2)) from the bits; c from the table (:func:`_pow_log_table`),
    m c = 1 + rh + pl exactly (pl by fma, rh = m c - 1 exact by Sterbenz; c = 1 near m = 1,
    then pl = 0); log(m) = -log(c) + log1p(rh) + pl/(1 + rh), log1p(rh) = rh - rh**2/2 + rh**3 P(rh)
    with rh - rh**2/2 as an exact Fast2Sum plus the fma error of rh**2, P the Taylor series to
    rh**13 (|rh| < 0.013). k ln2 (ln2 in two parts, the product's error by fma), -log(c) and
    log1p are summed by TwoSums.
    """
    ix = as_int(u)
    mant = ix & MANT_MASK
    big = mant > SQRT2_MANT
    e = (ix >> 52) - select(big, 1022, 1023)
    im = mant | select(big, EXP_HALF, EXP_ONE)
    m = as_float(im)
    idx = ((im - POW_OFF) >> (52 - POW_TABLE_BITS)) * 3
    c = lookup(POW_LOG, "dcompile_vm_pow_log", idx)
    th = lookup(POW_LOG, "dcompile_vm_pow_log", idx + 1)
    tl = lookup(POW_LOG, "dcompile_vm_pow_log", idx + 2)
    ph = m * c
    pl = fma(m, c, -ph)
    r = ph - 1.0
    q = r * r
    ql = fma(r, r, -q)
    hq = -0.5 * q
    s1 = r + hq
    s2 = hq - (s1 - r)  # Fast2Sum: |r| > |q/2|
    p = fma(r, -1.0 / 13.0, 1.0 / 12.0)
    p = fma(p, r, -1.0 / 11.0)
    p = fma(p, r, 1.0 / 10.0)
    p = fma(p, r, -1.0 / 9.0)
    p = fma(p, r, 1.0 / 8.0)
    p = fma(p, r, -1.0 / 7.0)
    p = fma(p, r, 1.0 / 6.0)
    p = fma(p, r, -1.0 / 5.0)
    p = fma(p, r, 1.0 / 4.0)
    p = fma(p, r, -1.0 / 3.0)
    low = fma(q * r, -p, fma(pl, -r, pl) - 0.5 * ql)  # r**3 P + pl (1 - r) - ql/2
    k = to_float(e) + kext
    ah = k * LN2
    al = fma(k, LN2_LO, fma(k, LN2, -ah))
    bh, bl = _two_sum(ah, th)
    ch, cl = _two_sum(bh, s1)
    lo = cl + (((bl + al) + tl) + (s2 + low))
    yh = ch + lo
    return yh, lo - (yh - ch)


def _exp_dd(zh, zl):
    """exp(zh + zl), |zl| <= ulp(zh): exp's reduction of zh, zl joined to r as a double-double, exp(r) (1 + rl)."""
    zc = select(zh < EXP_MAX, zh, EXP_MAX)
    zc = select(zc > EXP_MIN, zc, EXP_MIN)  # nan -> EXP_MIN (the caller selects)
    inside = (zh < EXP_MAX) & (zh > EXP_MIN)
    kd = fma(zc, INV_LN2, SHIFT)
    ki = as_int(kd) - as_int(SHIFT)
    k = kd - SHIFT
    r1 = fma(-k, LN2, zc)  # exact
    r2 = fma(-k, LN2_LO, select(inside, zl, 0.0))
    r, rl = _two_sum(r1, r2)
    q = _expm1_poly(r)
    p = 1.0 + (q + fma(rl, q, rl))
    k1 = ki >> 1
    k2 = ki - k1
    return p * as_float((k1 + 1023) << 52) * as_float((k2 + 1023) << 52)


def pow_kernel(x, y):
    """x**y as ``np.power`` on float64: exp(y log|x|) in double-double, the sign and the special cases by select.

    log|x| is :func:`_log_dd` (subnormal |x| scaled by 2**54 first); y (hi + lo) is
    yh + (fma error + y lo); :func:`_exp_dd` of that. Sign: negative iff x has its sign bit
    set and y is an odd integer; x < 0 finite with y not an integer -> NaN. Special values as
    C99's pow: x**±0 = 1 and 1**y = 1 (NaN included), ±0 and ±inf bases, y = ±inf by |x|
    against 1 ((-1)**±inf = 1), NaN otherwise.
    """
    ax = fabs(x)
    finite_x = (ax > 0.0) & (ax < INF)
    u = select(finite_x, ax, 1.0)
    sub = u < MIN_NORMAL
    lh, ll = _log_dd(select(sub, u * TWO54, u), select(sub, -54.0, 0.0))
    zh = y * lh
    zl = fma(y, lh, -zh) + y * ll
    mag = _exp_dd(zh, zl)
    up = y > 0.0
    yint = floor(y) == y  # inf: an (even) integer; nan: not one
    yodd = yint & (floor(y * 0.5) != y * 0.5)
    mag = select(ax == 0.0, select(up, 0.0, INF), mag)
    mag = select(ax == INF, select(up, INF, 0.0), mag)
    away = select(ax > 1.0, select(up, INF, 0.0), select(up, 0.0, INF))
    mag = select(fabs(y) == INF, select(ax == 1.0, 1.0, away), mag)
    res = select((as_int(x) < 0) & yodd, -mag, mag)
    res = select((x < 0.0) & (ax < INF), select(yint, res, NAN), res)
    res = select((fabs(x) <= INF) & (fabs(y) <= INF), res, x + y)  # nan (the exceptions below aside)
    return select((y == 0.0) | (x == 1.0), 1.0, res)


# --- arctan: the classic reduction to |t| < 7/16 (as in fdlibm) and a polynomial fitted here -------
ATAN_HI = (0.0, 0.4636476090008061, 0.7853981633974483, 0.982793723247329, 1.5707963267948966)  # atan(c) rounded
ATAN_LO = (0.0, 2.2698777452961687e-17, 3.061616997868383e-17, 1.3903311031230998e-17, 6.123233995736766e-17)
# (t - atan(t))/t**3 as a polynomial in z = t**2 on |t| <= 7/16: weighted least squares (weight z + 1e-3) at
# 200 Chebyshev nodes in 60-digit mpmath, rounded to doubles (benchmarks/fit_atan.py); the polynomial's own
# error is below 0.06 ulp of atan(t).
ATAN_T = (
    0.3333333333333303,
    -0.19999999999895568,
    0.14285714273880007,
    -0.11111110456926625,
    0.09090888272586234,
    -0.07691892131541021,
    0.06661217697870465,
    -0.05834420575818918,
    0.04980007552584435,
    -0.036597053998398126,
    0.016345290188391814,
)
ATAN_TINY = 1e-100  # below: t**2 would be subnormal; atan(t) = t there


def arctan_kernel(x):
    """arctan(x): |x| reduced by atan(|x|) = atan(c) + atan((|x| - c)/(1 + c |x|)), c in {0, 1/2, 1, 3/2, inf}.

    The classic intervals (breaks at 7/16, 11/16, 19/16, 39/16): t = (p a - q)/(r + s a) with the
    coefficients chosen by select (a - 1/2 as (2a - 1)/(2 + a), c = inf as -1/a), one division,
    the numerator and denominator each one fma; |t| <= 7/16. atan(t) = t - t**3 P(t**2) with
    the fitted P (:data:`ATAN_T`; odd and even terms by two Horner chains in t**4), atan(c) as hi + lo,
    hi - ((t**3 P - lo) - t). Sign of x (-0 kept); tiny x returns x; ±inf -> ±pi/2 rounded.
    """
    a = fabs(x)
    hi, lo, t, ts, s = _atan_reduce(a)
    y = hi - (fma(ts, s, -lo) - t)
    y = copysign(y, x)
    return select(a <= INF, y, x)  # nan -> nan


def _atan_reduce(a):
    """arctan's reduction and polynomial for a >= 0: (hi, lo, t, ts, s), atan(a) = hi - (fma(ts, s, -lo) - t).

    hi + lo is atan(c), t the reduced argument (ts: t, or 0 where tiny), s = P(t**2) with
    t - t**3 P = atan(t) (:func:`arctan_kernel`; a = inf gives t = -0, atan = hi = pi/2).
    """
    i1 = a >= 0.4375
    i2 = a >= 0.6875
    i3 = a >= 1.1875
    i4 = a >= 2.4375
    p = select(i2, 1.0, select(i1, 2.0, 1.0))
    q = select(i3, 1.5, select(i1, 1.0, 0.0))
    r = select(i4, 0.0, select(i3, 1.0, select(i2, 1.0, select(i1, 2.0, 1.0))))
    sc = select(i4, 1.0, select(i3, 1.5, select(i2, 1.0, select(i1, 1.0, 0.0))))
    hi = select(i4, ATAN_HI[4], select(i3, ATAN_HI[3], select(i2, ATAN_HI[2], select(i1, ATAN_HI[1], 0.0))))
    lo = select(i4, ATAN_LO[4], select(i3, ATAN_LO[3], select(i2, ATAN_LO[2], select(i1, ATAN_LO[1], 0.0))))
    t = select(i4, -1.0, fma(a, p, -q)) / fma(a, sc, r)  # -1/a for a >= 39/16 (inf -> -0)
    ts = select(fabs(t) < ATAN_TINY, 0.0, t)
    z = ts * ts
    w = z * z
    s1 = fma(w, ATAN_T[10], ATAN_T[8])
    s1 = fma(s1, w, ATAN_T[6])
    s1 = fma(s1, w, ATAN_T[4])
    s1 = fma(s1, w, ATAN_T[2])
    s1 = fma(s1, w, ATAN_T[0])
    s2 = fma(w, ATAN_T[9], ATAN_T[7])
    s2 = fma(s2, w, ATAN_T[5])
    s2 = fma(s2, w, ATAN_T[3])
    s2 = fma(s2, w, ATAN_T[1])
    s = fma(z, s1, w * s2)
    return hi, lo, t, ts, s


# --- the inverse hyperbolic functions: one log kernel of a double-double argument ----------------
AH_TINY = 2.0**-28  # arcsinh(x), arctanh(x) round to x below
AH_BIG = 2.0**28  # above: sqrt(x**2 +- 1) rounds to x, so arcsinh, arccosh = log(x) + ln2
AH_SMALL = 1.5  # arcsinh by log1p below, arccosh by log1p at or below 2


def _log1p_dd(vh, vl):
    """log1p(vh + vl) for vh >= 0 finite, |vl| <= ulp(vh): as :func:`log1p_kernel`, vl added to the correction."""
    u = 1.0 + vh
    return u, ((vh - (u - 1.0)) + vl) / u


def _sqrt_dd(ph, pl):
    """sqrt(ph + pl) as (s, sl) for ph > 0: the square root and one Newton correction."""
    s = sqrt(ph)
    return s, (fma(-s, s, ph) + pl) / (s + s)


def arcsinh_kernel(x):
    """arcsinh(x) = sign(x) log(a + sqrt(a**2 + 1)), a = |x|, as one log of a double-double (u, c).

    a < 1.5: log1p(v), v = a + (sqrt(1 + a**2) - 1), 1 + a**2 and its square root as
    double-doubles (fma errors, a Newton step), s - 1 exact (Sterbenz); 1.5 <= a < 2**28:
    log(a + h), h = sqrt(a**2 + 1) the same way, the sum's error by TwoSum; a >= 2**28:
    log(a) + ln2 (no a**2: no overflow). a < 2**-28 returns x (-0 kept); ±inf, nan -> x.
    """
    a = fabs(x)
    ac = select(a < AH_TINY, 1.0, select(a < AH_BIG, a, 1.0))  # a normal, moderate value: no subnormal, no overflow
    q = ac * ac
    ql = fma(ac, ac, -q)
    ph, pl = _two_sum(1.0, q)
    s, sl = _sqrt_dd(ph, pl + ql)
    # small: v = a + (s - 1) + sl
    vh, vl = _two_sum(ac, s - 1.0)
    vh, vl2 = _two_sum(vh, vl + sl)
    u1, c1 = _log1p_dd(vh, vl2)
    # mid: u = a + s + sl
    uh, ul = _two_sum(s, ac)
    u2 = uh + (ul + sl)
    c2 = ((uh - u2) + (ul + sl)) / u2
    small = a < AH_SMALL
    big = a >= AH_BIG
    u = select(big, a, select(small, u1, u2))
    c = select(big, 0.0, select(small, c1, c2))
    y = _log_kernel(select(a < INF, u, 1.0), select(big, 1.0, 0.0), c)
    y = copysign(y, x)
    return select((a >= AH_TINY) & (a < INF), y, x)  # tiny, ±inf, nan -> x


def arctanh_kernel(x):
    """arctanh(x) = sign(x) log1p(2a/(1 - a))/2, a = |x|, with 2a/(1 - a) as a double-double.

    1 - a = d + dl exactly (Fast2Sum), the quotient q + ql with ql from the fma residual;
    log1p of it as :func:`log1p_kernel`. a < 2**-28 returns x (-0 kept); ±1 -> ±inf,
    |x| > 1 -> nan, nan -> nan.
    """
    a = fabs(x)
    ac = select(a < 1.0, a, 0.5)
    d = 1.0 - ac
    dl = (1.0 - d) - ac
    n = ac + ac
    qh = n / d
    ql = (fma(-qh, d, n) - qh * dl) / d
    u, c = _log1p_dd(qh, ql)
    y = 0.5 * _log_kernel(u, 0.0, c)
    y = select(a == 1.0, INF, select(a < 1.0, y, NAN))
    y = copysign(y, x)
    return select((a >= AH_TINY) & (a <= 1.0), y, select(a < AH_TINY, x, NAN))  # nan: a <= 1 false -> NAN


def arccosh_kernel(x):
    """arccosh(x) = log(x + sqrt(x**2 - 1)) for x >= 1, as one log of a double-double (u, c).

    x <= 2: log1p(v), t = x - 1 exact, v = t + sqrt(t (t + 2)) with t (t + 2) = 2t + t**2 and its
    square root as double-doubles; 2 < x < 2**28: log(x + h), h = sqrt(x**2 - 1) likewise;
    x >= 2**28: log(x) + ln2 (no overflow). x < 1 -> nan, 1 -> 0, inf -> inf, nan -> nan.
    """
    xc = select(x >= 1.0, select(x < AH_BIG, x, 2.0), 2.0)
    t = xc - 1.0
    tq = t * t
    tql = fma(t, t, -tq)
    ph, pl = _two_sum(t + t, tq)
    s, sl = _sqrt_dd(select(ph > 0.0, ph, 1.0), pl + tql)
    s = select(ph > 0.0, s, 0.0)
    sl = select(ph > 0.0, sl, 0.0)
    vh, vl = _two_sum(s, t)
    vh, vl2 = _two_sum(vh, vl + sl)
    u1, c1 = _log1p_dd(vh, vl2)
    xm = select(x > 2.0, xc, 3.0)  # the mid branch's argument: x**2 - 1 >= 3
    q = xm * xm
    ql = fma(xm, xm, -q)
    mh, ml = _two_sum(q, -1.0)
    h, hl = _sqrt_dd(mh, ml + ql)
    uh, ul = _two_sum(xm, h)
    u2 = uh + (ul + hl)
    c2 = ((uh - u2) + (ul + hl)) / u2
    small = x <= 2.0
    big = x >= AH_BIG
    u = select(big, x, select(small, u1, u2))
    c = select(big, 0.0, select(small, c1, c2))
    y = _log_kernel(select(x < INF, u, 1.0), select(big, 1.0, 0.0), c)
    y = select(x == 1.0, 0.0, y)
    y = select(x < INF, y, x)
    return select(x >= 1.0, y, NAN)  # x < 1 and nan -> nan


# --- hypot, arcsin, arccos, arctan2 --------------------------------------------------------------
PI_HI = 3.141592653589793  # pi rounded
PI_LO = 1.2246467991473532e-16  # pi - PI_HI
PIO2_HI = 1.5707963267948966  # pi/2 rounded
PIO2_LO = 6.123233995736766e-17  # pi/2 - PIO2_HI
ASIN_TINY = 2.0**-28  # arcsin(x) rounds to x below
ATAN2_TINY = 2.0**-960  # below: atan(t) = t rounded, the quotient's low part is not needed


def _pow2_scale(a):
    """(down, up) powers of two for a >= 0 (inf and nan included): a down in [1, 4) for a normal, up = 1/down.

    From a's exponent field f clamped to [1, 2045]: down = 2**(1023 - f), up = 2**(f - 1023), both normal.
    """
    f = as_int(a) >> 52
    f = select(f < 1, 1, select(f > 2045, 2045, f))
    return as_float((2046 - f) << 52), as_float(f << 52)


def _atan_dd(ah, al):
    """atan(ah + al) for ah >= 0, |al| <= ulp(ah), as hi + m (hi = atan(c) exact, m one rounding).

    :func:`_atan_reduce` of ah, and al/(1 + ah**2) (the derivative's term) joined to the small part.
    """
    hi, lo, t, ts, s = _atan_reduce(ah)
    corr = al / fma(ah, ah, 1.0)
    return hi, t - (fma(ts, s, -lo) - corr)


def hypot_kernel(x, y):
    """hypot(x, y) = sqrt(x**2 + y**2): both scaled by a power of two from the larger's exponent.

    a >= b the scaled magnitudes (a in [1, 4)); a**2 + b**2 as a double-double (fma errors, Fast2Sum),
    its square root with one Newton correction, one rounding, scaled back (exact unless the result
    is subnormal). ±inf with anything (nan included) -> inf; nan -> nan; hypot(0, 0) = 0.
    """
    ax = fabs(x)
    ay = fabs(y)
    big = select(ax >= ay, ax, ay)
    small = select(ax >= ay, ay, ax)
    down, up = _pow2_scale(big)
    a = big * down
    b = small * down
    ph = a * a
    pl = fma(a, a, -ph)
    qh = b * b
    ql = fma(b, b, -qh)
    sh = ph + qh
    sl = (qh - (sh - ph)) + (pl + ql)  # Fast2Sum: ph >= qh
    sc = select(big > 0.0, sh, 1.0)
    s = sqrt(sc)
    r = (fma(-s, s, sc) + sl) / (s + s)
    h = (s + r) * up
    h = select(big > 0.0, h, 0.0)
    h = select((ax <= INF) & (ay <= INF), h, x + y)  # nan
    return select((ax == INF) | (ay == INF), INF, h)


def arcsin_kernel(x):
    """arcsin(x) = sign(x) atan(a / sqrt(1 - a**2)), a = |x|, with the argument as a double-double.

    1 - a**2 exactly as dh + dl (a**2 by fma, TwoSum), its square root with a Newton correction,
    the quotient's low part from the fma residual; atan by :func:`_atan_dd`. a < 2**-28 returns x
    (-0 kept); ±1 -> ±pi/2 rounded; |x| > 1 and nan -> nan.
    """
    a = fabs(x)
    ac = select((a < 1.0) & (a >= ASIN_TINY), a, 0.5)  # tiny: x is returned (no subnormal a**2)
    q = ac * ac
    ql = fma(ac, ac, -q)
    dh, dl = _two_sum(1.0, -q)
    s, sl = _sqrt_dd(dh, dl - ql)
    th = ac / s
    tl = (fma(-th, s, ac) - th * sl) / s
    hi, m = _atan_dd(th, tl)
    y = select(a < 1.0, hi + m, PIO2_HI)
    y = copysign(y, x)
    return select(a <= 1.0, select(a < ASIN_TINY, x, y), NAN)  # nan: a <= 1 false


def arccos_kernel(x):
    """arccos(x) = 2 atan(sqrt((1 - x)/(1 + x))), the argument as a double-double.

    1 - x and 1 + x exactly as double-doubles (TwoSum), the quotient's low part from the fma
    residual, the square root with a Newton correction; atan by :func:`_atan_dd`, doubled (exact).
    1 -> 0, -1 -> pi rounded, 0 -> pi/2 rounded; |x| > 1 and nan -> nan.
    """
    xc = select(fabs(x) < 1.0, x, 0.5)
    nh, nl = _two_sum(1.0, -xc)
    dh, dl = _two_sum(1.0, xc)
    qh = nh / dh
    ql = ((fma(-qh, dh, nh) + nl) - qh * dl) / dh
    s, sl = _sqrt_dd(qh, ql)
    hi, m = _atan_dd(s, sl)
    y = 2.0 * (hi + m)
    y = select(x == 1.0, 0.0, select(x == -1.0, PI_HI, y))
    return select(fabs(x) <= 1.0, y, NAN)  # nan: false


def arctan2_kernel(y, x):
    """arctan2(y, x) = sign(y) (C + sigma atan(t)), t = min(|x|, |y|)/max(|x|, |y|) <= 1, as a double-double.

    C + sigma: 0 + (|y| <= |x|, x >= +0), pi/2 - (|y| > |x|, x >= +0), pi/2 + (|y| > |x|, x <= -0),
    pi - (|y| <= |x|, x <= -0) (the sign bit of x decides); C in two parts, atan(t) = hi + m
    (:func:`_atan_dd`; t's low part from the fma residual of the quotient of the two scaled by a
    power of two), C_hi + sigma hi by TwoSum, one final rounding. Zeros and infinities as C99's
    atan2 (both infinite: t = 1; one: t = 0; both zero: t = 0); nan -> nan.
    """
    ax = fabs(x)
    ay = fabs(y)
    both_inf = (ax == INF) & (ay == INF)
    ax1 = select(both_inf, 1.0, select(ay == INF, 0.0, select(ax == INF, 1.0, ax)))
    ay1 = select(both_inf, 1.0, select(ax == INF, 0.0, select(ay == INF, 1.0, ay)))
    swap = ay1 > ax1
    num = select(swap, ax1, ay1)
    den = select(swap, ay1, ax1)
    den = select(den > 0.0, den, 1.0)  # both zero: t = 0
    th = num / den
    down, _ = _pow2_scale(den)
    dn = den * down
    tl = fma(-th, dn, num * down) / dn
    tl = select(th < ATAN2_TINY, 0.0, tl)
    hi, m = _atan_dd(th, tl)
    neg_x = as_int(x) < 0
    ch = select(swap, PIO2_HI, select(neg_x, PI_HI, 0.0))
    cl = select(swap, PIO2_LO, select(neg_x, PI_LO, 0.0))
    minus = select(swap, select(neg_x, False, True), neg_x)  # swap xor neg_x
    sh = select(minus, -hi, hi)
    sm = select(minus, -m, m)
    rh, rl = _two_sum(ch, sh)
    r = rh + ((rl + cl) + sm)
    r = copysign(r, y)
    return select((ax <= INF) & (ay <= INF), r, x + y)  # nan


KERNELS: dict[str, Any] = {
    "exp": exp_kernel,
    "expm1": expm1_kernel,
    "log": log_kernel,
    "log1p": log1p_kernel,
    "tanh": tanh_kernel,
    "sigmoid": sigmoid_kernel,
    "softplus": softplus_kernel,
    "exp2": exp2_kernel,
    "log2": log2_kernel,
    "log10": log10_kernel,
    "sinh": sinh_kernel,
    "cosh": cosh_kernel,
    "sin": sin_kernel,
    "cos": cos_kernel,
    "arctan": arctan_kernel,
    "arcsinh": arcsinh_kernel,
    "arctanh": arctanh_kernel,
    "arccosh": arccosh_kernel,
    "arcsin": arcsin_kernel,
    "arccos": arccos_kernel,
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


BINARY_KERNELS: dict[str, Any] = {"pow": pow_kernel, "hypot": hypot_kernel, "arctan2": arctan2_kernel}
"""The kernels of two arguments, by name (as :data:`KERNELS`)."""


def _binary_intrinsic(name: str, kernel: Any) -> Any:
    """An ``@intrinsic`` ``float64(x, y)`` emitting ``kernel`` at the call site (both converted to float64)."""

    def codegen(context, builder, signature, args):
        x = context.cast(builder, args[0], signature.args[0], types.float64)
        y = context.cast(builder, args[1], signature.args[1], types.float64)
        return kernel(V(builder, x), V(builder, y)).v

    def typer(typingctx, x, y):
        if not (isinstance(x, _NUMBER) and isinstance(y, _NUMBER)):
            return None
        return types.float64(x, y), codegen

    typer.__name__ = f"vm_{name}"
    return intrinsic(typer)


BINARY_INTRINSICS: dict[str, Any] = {name: _binary_intrinsic(name, k) for name, k in BINARY_KERNELS.items()}
"""One numba ``@intrinsic`` per function of two arguments (float64 of two real scalars)."""


def _fadd_reassoc(typingctx, a, b):
    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))

    return types.float64(types.float64, types.float64), codegen


fadd_reassoc: Any = intrinsic(_fadd_reassoc)
"""``a + b`` as an ``fadd reassoc``: LLVM may reorder a reduction of it (and vectorise the loop)."""
