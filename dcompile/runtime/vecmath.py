"""Vectorisable elementwise math for generated code: NumPy in Python, branch-free polynomials under numba.

Generated fused loops call ``vm.exp(t)``, ``vm.log1p(t)``, ``vm.cosh(t)``, ... (``from dcompile.runtime import
vecmath as vm``) instead of ``np.exp`` and friends. NumPy's functions are scalar libm calls
under numba, and a loop that calls libm is not vectorised. The numba implementations here
(:mod:`dcompile.runtime.vecmath_core`) are straight-line float64 code — fma polynomials, integer
bit manipulation of the exponent, ``select`` for the special cases, no libm call, no exception
— emitted as LLVM IR directly into the calling loop, which LLVM vectorises (8 lanes with
AVX-512, 4 with AVX2). The loop
must be compiled with ``error_model="numpy"`` (as dcompile compiles): under the Python error
model a division may raise ZeroDivisionError, which blocks vectorisation.

Each public function is a plain Python function with NumPy's semantics (the Python backend and
constant folding call it: ``exp(x)`` is ``np.exp(x)``) and a numba implementation registered
with ``numba.extending.overload`` for float64 (and integer, bool, float32 -> float64) scalars;
arrays are accepted too (an elementwise loop, float64 result). The overload is one call of an
``@intrinsic`` per function, whose codegen emits the kernel's IR at the call site: the kernels
are Python functions over a small value class (:mod:`dcompile.runtime.vecmath_ir`) whose
operators emit LLVM instructions, so no numba function is compiled per kernel.

Compile time (fresh processes, medians of 3, same machine as the speed figures): a new loop
``out[i] = vm.f(a[i])`` with a ``vm.add`` reduction compiles in 0.10-0.11 s for every f (0.06 s
for the same loop with ``abs``; the first loop of a process also pays numba's own 0.3 s start),
where the former ``@register_jitable`` kernels, compiled once per process each, made it 0.27 s
(log1p), 0.33-0.42 s (sigmoid, tanh, softplus) and 0.53 s for the first exp. The logistic-loss
gradient of ``dcompile.compile(..., vector_math=True)`` (``value_and_grad``, fresh cache) compiles
on its first call in 1.21 s, against 1.91 s before and 1.04 s without vector math. Cached loads
are unaffected (no kernel code is compiled at run time either way).

Reproducibility: every rounding step is an IEEE operation or ``llvm.fma.f64``, which is
correctly rounded on every machine (hardware FMA, or LLVM's software fma without one). The
results are therefore bitwise identical across CPUs and vector widths, scalar remainder loops
included. They are *not* bitwise identical to NumPy's libm (which differs between platforms
anyway): within the bounds below.

Algorithms (textbook methods, coefficients from the Taylor series):

* ``exp``: x clamped to [-746, 710]; k = round(x/ln2) by the 1.5*2**52 shift, r = x - k ln2
  with ln2 in two parts (the first fma exact); exp(r) = 1 + (r + r**2 P(r)) with P the
  Taylor series of expm1 to r**14; 2**k applied as two factors built from the exponent bits,
  so subnormal results are rounded once.
* ``expm1``: same reduction; 2**k q + (2**k - 1) in one fma (exact scaling, exact 2**k - 1 for
  |k| <= 53); x = ±0 returned as is.
* ``log``: x = 2**e m from the bits, m in [sqrt(2)/2, sqrt(2)); f = m - 1, s = f/(2+f),
  log m = 2 atanh(s) = f - s (f - T(s**2)) with T the atanh Taylor series to s**22; e ln2 added
  last (fma, ln2 in two parts). Subnormal x is scaled by 2**54 first.
* ``log1p``: u = 1 + x rounded, log(u) as above plus (x - (u - 1))/u (what the rounding of
  1 + x lost), added with the small terms.
* ``tanh``: sign(x) t/(t + 2), t = expm1(2|x|), |x| clamped to 20 (tanh rounds to ±1 above 19.1).
* ``sigmoid``: (1 if x >= 0 else e)/(1 + e); ``softplus``: max(x, 0) + log1p(e); both with
  e = exp(-|x|) computed by the same code (:func:`vecmath_core.exp_neg_abs`), so in a loop
  that needs both on the same x LLVM's CSE keeps one exponential (the logistic loss and its
  gradient cost two transcendental evaluations per row, not three).
* ``exp2``: k = round(x) by the same shift, r = x - k exact (|r| <= 1/2); 2**r = exp(r ln2) with
  r ln2 as a double-double (rh = r*ln2 in the polynomial's range, rl its fma-exact rounding
  error plus r ln2_lo) and 1 + (q + rl (1 + q)), q = expm1(rh); 2**k as for exp. x clamped to
  [-1076, 1024]; integer x gives r = 0, so 2**k exactly.
* ``log2``, ``log10``: log's reduction and series give e, f and c = s (f - T) with
  log m = f - c; f/ln2 (f/ln10) as a double-double (the constant in two parts, the product's
  error by fma), c's share added to the low part, e (e log10(2), itself a double-double) added
  by Fast2Sum, one final rounding. log2(2**k) = k exactly (f = 0); log10 of the powers of ten
  10**-30 .. 10**308 equals NumPy's bitwise (10**k -> k for k = 0 .. 22).
* ``sinh``: |x| < 1: |x| + |x|**3 P(x**2), P the Taylor series to x**19/19! (sinh(x) = x for
  tiny x, -0 kept); |x| >= 1: h - 1/(4h) with h = e**|x|/2 computed by exp's code with 2**(k-1)
  as the scale (finite up to 710.47, so sinh(710.4) is finite like NumPy's); sign of x.
* ``cosh``: h + 1/(4h), h = e**|x|/2 as for sinh (no cancellation).
* ``sin``, ``cos``: every finite argument reduced exactly enough (no wrong results for huge x):
  |x| <= pi/4 is used as is; above, a Payne-Hanek reduction with a table of 2/pi (4 doubles of
  52 bits per exponent: (2**E 2/pi) mod 4 from 2**1 down to 2**-206, built at import from pi by
  Machin's formula): for |x| = M 2**E, x 2/pi mod 4 = M (t0 + t1 + t2 + t3) mod 4, summed with
  fma two-products, exact mod-4 reductions (``llvm.floor``) and double-double tails to an
  absolute error below 2**-148 (the closest double to a multiple of pi/2 is about 2**-61 from
  it); n = round(y), r = (y - n) pi/2 as a double-double, then the Taylor series of sin (to
  r**17) and cos (to r**18) with the low part's first-order term, and the quadrant's sign.
  The table lookup is a load from a 33 KB constant array (a vector gather); both paths run
  for every element.
* ``pow(x, y)`` (``x ** y``, two float64 arguments): log|x| as a double-double: |x| = 2**e m
  with m in [sqrt(2)/2, sqrt(2)), a 256-entry table (the top 8 bits of m) gives c ~ 1/m (9 bits;
  1 within 2**-7 of m = 1) and -log(c) in two parts; m c = 1 + r + pl exactly (fma), log1p(r)
  = r - r**2/2 + r**3 P(r) with the first two terms exact, P Taylor to r**13; e ln2, -log(c),
  log1p summed by TwoSums (relative error about 2**-66). y log|x| = zh + zl (the product's fma
  error plus y times the low part); exp(zh + zl) by exp's reduction of zh with zl joined as a
  double-double, exp(r)(1 + rl), 2**k as for exp. Sign negative iff x has its sign bit and y is
  an odd integer; x < 0 with non-integer y -> NaN; zeros, infinities, NaN and y = ±inf by select
  (C99 / NumPy: x**0 = 1 and 1**y = 1 even for NaN, (-1)**±inf = 1). Exact results (2**k,
  3.0**2, (-3.0)**3, n**2 ** 0.5) come out exact.
* ``arctan``: the classic reduction (fdlibm's intervals), branch-free: |x| in [0, 7/16),
  [7/16, 11/16), [11/16, 19/16), [19/16, 39/16), above, with c = 0, 1/2, 1, 3/2, inf;
  t = (|x| - c)/(1 + c|x|) (for c = inf, -1/|x|) as one division of two fmas whose
  coefficients are selected; atan(t) = t - t**3 P(t**2) with P fitted here by weighted least
  squares in mpmath (|t| <= 7/16; benchmarks/fit_atan.py; Taylor would need 24 terms), added to
  atan(c) in two parts; the sign of x. Tiny x returns x, ±inf gives ±pi/2 rounded.
* ``arcsinh``, ``arccosh``, ``arctanh``: one log kernel (log's, with its small-term input) of an
  argument known as a double-double, so the only rounding that matters is the log's:
  arcsinh(a) = log1p(a + (sqrt(1 + a**2) - 1)) for a = |x| < 1.5, log(a + sqrt(a**2 + 1)) up to
  2**28, log(a) + ln2 above (no a**2, so no overflow up to the largest double), the sign of x,
  x itself below 2**-28; arccosh(x) = log1p(t + sqrt(2t + t**2)), t = x - 1 exact, for x <= 2,
  log(x + sqrt(x**2 - 1)) up to 2**28, log(x) + ln2 above; the squares and sums by fma and
  TwoSum, the square roots (``llvm.sqrt``, correctly rounded) with one Newton correction;
  arctanh(x) = sign(x) log1p(2a/(1 - a))/2 with 1 - a exact as a double-double and the quotient's
  low part from the fma residual, x itself below 2**-28.
* ``hypot(x, y)`` (two arguments): |x| and |y| scaled by the power of two that brings the larger
  into [1, 2) (from its exponent bits, clamped so both factors are normal); a**2 + b**2 as a
  double-double (fma errors, Fast2Sum), its square root with one Newton correction, one rounding,
  scaled back (exact: one rounding in all, two for subnormal results); exact cases (3, 4) -> 5 exact.
* ``arcsin``: sign(x) atan(a/sqrt(1 - a**2)), a = |x|: 1 - a**2 exactly as a double-double (fma
  and TwoSum), its square root with a Newton correction, the quotient's low part from the fma
  residual; atan of the double-double as arctan's reduction and polynomial of the high part with
  tl/(1 + th**2) joined to the small terms before the one final rounding. x itself below 2**-28.
* ``arccos``: 2 atan(sqrt((1 - x)/(1 + x))) (no cancellation anywhere in [-1, 1]): 1 - x and 1 + x
  exactly as double-doubles, the quotient and square root as for arcsin, the same atan, doubled.
* ``arctan2(y, x)`` (two arguments): t = min(|x|, |y|)/max(|x|, |y|) <= 1 as a double-double (the
  low part from the fma residual of the pair scaled by a power of two, so it is exact down to
  the subnormals), atan(t) as for arcsin, then C + sigma atan(t) with C in {0, pi/2, pi} in two
  parts (TwoSum of the high parts, one final rounding) and the sign of y; the quadrant from
  |y| > |x| and x's sign bit (so x = -0 counts as negative); infinities enter as t = 0 or 1.
* ``add(a, b)``: ``a + b`` as an LLVM ``fadd reassoc``: a reduction ``s = vm.add(s, term)``
  may be reordered, so LLVM vectorises it (partial sums per lane). Its result therefore
  depends on the vector width (the one operation here that does).

Special values follow NumPy exactly: NaN -> NaN; exp(±inf) = inf, 0; exp(709.78) finite,
exp(709.79) = inf; subnormal results of exp near -745; expm1(-0) = -0, tanh(-0) = -0,
log1p(-0) = -0; log(±0) = -inf, log(x < 0) = NaN, log of subnormals; log1p(-1) = -inf,
log1p(x < -1) = NaN; sigmoid and softplus of ±1e308 and ±inf; exp2(1024) = inf, exp2(-1074) =
5e-324, exp2(-1075) = 0, exp2 of integers exact; log2 and log10 as log at 0, below 0, inf and
for subnormals; sinh(-0) = -0, sinh(710.4) and cosh(710.4) finite, sinh(±711) = ±inf,
cosh(±711) = inf; sin(±0) = ±0, sin and cos of ±inf are NaN, sin(x) = x and cos(x) = 1 for
tiny x; pow as NumPy for every pair of zeros, ±1, infinities, NaN, odd/even integers, overflow to
±inf and underflow through the subnormals to ±0; arctan(±0) = ±0, arctan(±inf) = ±pi/2 (as NumPy
rounds it), arctan(x) = x for tiny x; arcsinh(±0) = ±0, arcsinh(±inf) = ±inf, arcsinh of ±the largest
double finite; arctanh(±1) = ±inf, arctanh(|x| > 1) = NaN, arctanh(±0) = ±0; arccosh(1) = 0,
arccosh(x < 1) = NaN, arccosh(inf) = inf; hypot(±inf, nan) = inf, hypot(x, nan) = nan otherwise, no
overflow or underflow on the way (hypot(1e308, 1e308), hypot of subnormals); arcsin(±0) = ±0,
arcsin(±1) = ±pi/2 and arccos(1) = 0, arccos(-1) = pi, arccos(±0) = pi/2 (as NumPy rounds them), NaN
outside [-1, 1]; arctan2 as C99: arctan2(±0, +0) = ±0, arctan2(±0, -0) = ±pi, arctan2(±0, x < 0) = ±pi,
arctan2(y != 0, ±0) = ±pi/2, arctan2(±inf, +inf) = ±pi/4, arctan2(±inf, -inf) = ±3pi/4,
arctan2(±y, +inf) = ±0, arctan2(±y, -inf) = ±pi, NaN in either -> NaN.

Measured accuracy: max error in ulps of the exact value, against NumPy in 80-bit long double
on 1.2e7 points per function (arctanh: within (-1, 1), down to 1e-17 from ±1; arccosh: from 1 + 1e-17
up; the others: log-uniform magnitudes from 1e-300 — 5e-324 for log, log2, log10 — to the
overflow limits, both signs, plus uniform points on the central range) and against mpmath at
40 digits on 2e4 points (``benchmarks/bench_vecmath.py``, results in
``benchmarks/results/vecmath.md``). ``BOUNDS`` holds the bound the tests check (the measured
maximum rounded up to the next integer; the tests use 1e6 other points):

=========  ====================  ===============  ===========
function   measured, long dbl.   measured, mpmath  bound (ulp)
=========  ====================  ===============  ===========
exp        0.975                 0.957             1
expm1      1.754                 1.017             2
log        0.889                 0.828             1
log1p      0.886                 0.792             1
tanh       2.559                 2.019             3
sigmoid    2.239                 1.872             3
softplus   1.557                 1.389             2
exp2       1.033                 0.945             2
log2       1.139                 0.871             2
log10      1.068                 0.924             2
sinh       1.624                 1.463             2
cosh       1.453                 1.336             2
sin        0.729                 0.665             1
cos        0.752                 0.654             1
pow        0.985                 0.948             1
arctan     0.751                 0.734             1
arcsinh    0.874                 0.774             1
arctanh    0.866                 0.779             1
arccosh    0.888                 0.726             1
arcsin     0.846                 0.762             1
arccos     0.843                 0.736             1
hypot      0.711                 0.000             1
arctan2    0.873                 0.817             1
=========  ====================  ===============  ===========

arcsin and arccos are measured like arctanh (within [-1, 1], down to 1e-17 from ±1); hypot and
arctan2 on pairs: both log-uniform over the whole range (subnormals included), both in
[-10, 10], ratios 1e-20 .. 1e20 at magnitudes 1e-280 .. 1e280, both in 1e-3 .. 1e3, both signs.
hypot was correctly rounded on every mpmath point; its long-double maximum is a subnormal result
(rounded twice: the square root, then the scaling back).

sin and cos are also checked on the doubles next to k pi/2 (k up to 1e5 and log-uniform k up
to 1e300, 3.6e5 points, within the bound) and on the double closest to a multiple of pi/2,
6381956970095103 * 2**797.

Speed (AMD EPYC Zen 5, AVX-512, 8 lanes): 0.8-1.3 ns per element for the single functions,
against 3-12 ns for the libm call in a numba loop; softplus (an exp and a log1p) 2.4 ns; exp2,
log2, log10 and cosh 0.8-1.0 ns, sinh 1.4 ns (both branches evaluated); sin and cos 3.2-3.8 ns,
against 14-16 ns for libm on |x| < 1e6 and 25 ns on the whole range (the table reduction runs
for every element; a loop using them compiles in about 0.12 s, the 33 KB table included).
Inputs below about 1e-154 in magnitude make r*r subnormal inside the polynomial and run slower
(about 2x on this machine; the results stay correct). pow (a table log in double-double and
an exp) costs about 7 ns per element on a mix that includes subnormal x, against 20 ns for
libm's pow in a numba loop. arctan 1.0 ns (libm 16 ns); arcsinh, arccosh, arctanh 2.0-3.7 ns
(libm 10-14 ns; every branch's argument is computed, then one log). arcsin 1.9 ns, arccos 1.8 ns
(libm 11-12 ns); hypot 1.6 ns (libm 13 ns, NumPy's ufunc 15 ns); arctan2 3.3 ns (libm 20 ns).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

BOUNDS: dict[str, float] = {
    "exp": 1.0,
    "expm1": 2.0,
    "log": 1.0,
    "log1p": 1.0,
    "tanh": 3.0,
    "sigmoid": 3.0,
    "softplus": 2.0,
    "exp2": 2.0,
    "log2": 2.0,
    "log10": 2.0,
    "sinh": 2.0,
    "cosh": 2.0,
    "sin": 1.0,
    "cos": 1.0,
    "pow": 1.0,
    "arctan": 1.0,
    "arcsinh": 1.0,
    "arctanh": 1.0,
    "arccosh": 1.0,
    "arcsin": 1.0,
    "arccos": 1.0,
    "hypot": 1.0,
    "arctan2": 1.0,
}
"""Max error in ulps of each numba implementation (the tests check it; see the table above)."""


def _scalar_if_0d(out: np.ndarray) -> Any:
    """A NumPy result as NumPy gives it for scalar operands: a 0-d array becomes its scalar."""
    return out[()] if out.ndim == 0 else out


def _on_float64(ufunc: Callable[..., Any], *args: Any) -> Any:
    """``ufunc`` on the arguments converted to float64 (as under numba, where integers are converted)."""
    return _scalar_if_0d(ufunc(*(np.asarray(a, dtype=np.float64) for a in args)))


def exp(x: Any) -> Any:
    """e**x (``np.exp``)."""
    return np.exp(x)


def expm1(x: Any) -> Any:
    """e**x - 1, accurate near 0 (``np.expm1``)."""
    return np.expm1(x)


def log(x: Any) -> Any:
    """Natural logarithm (``np.log``): -inf at ±0, NaN below 0."""
    return np.log(x)


def log1p(x: Any) -> Any:
    """log(1 + x), accurate near 0 (``np.log1p``)."""
    return np.log1p(x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent (``np.tanh``)."""
    return np.tanh(x)


def sigmoid(x: Any) -> Any:
    """The logistic function 1/(1 + e**-x), as (1 if x >= 0 else e)/(1 + e) with e = e**-|x|.

    The form never overflows and has no cancellation; it is the formula of the numba
    implementation (with NumPy's exp).
    """
    a = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(a))
    return _scalar_if_0d(np.where(a >= 0.0, 1.0, e) / (1.0 + e))


def softplus(x: Any) -> Any:
    """log(1 + e**x) without overflow (``np.logaddexp(0, x)``)."""
    return np.logaddexp(0.0, x)


def exp2(x: Any) -> Any:
    """2**x (``np.exp2``); exact for integer x."""
    return np.exp2(x)


def log2(x: Any) -> Any:
    """Base-2 logarithm (``np.log2``): log2(2**k) = k exactly, -inf at ±0, NaN below 0."""
    return np.log2(x)


def log10(x: Any) -> Any:
    """Base-10 logarithm (``np.log10``): -inf at ±0, NaN below 0."""
    return np.log10(x)


def sinh(x: Any) -> Any:
    """Hyperbolic sine (``np.sinh``)."""
    return np.sinh(x)


def cosh(x: Any) -> Any:
    """Hyperbolic cosine (``np.cosh``)."""
    return np.cosh(x)


def sin(x: Any) -> Any:
    """Sine (``np.sin``), accurate for every finite argument."""
    return np.sin(x)


def cos(x: Any) -> Any:
    """Cosine (``np.cos``), accurate for every finite argument."""
    return np.cos(x)


def arctan(x: Any) -> Any:
    """Inverse tangent (``np.arctan``): odd, ±inf -> ±pi/2."""
    return np.arctan(x)


def arcsinh(x: Any) -> Any:
    """Inverse hyperbolic sine (``np.arcsinh``): odd, finite up to the largest double."""
    return np.arcsinh(x)


def arctanh(x: Any) -> Any:
    """Inverse hyperbolic tangent (``np.arctanh``): ±1 -> ±inf, NaN outside [-1, 1]."""
    return np.arctanh(x)


def arccosh(x: Any) -> Any:
    """Inverse hyperbolic cosine (``np.arccosh``): 1 -> 0, NaN below 1."""
    return np.arccosh(x)


def arcsin(x: Any) -> Any:
    """Inverse sine (``np.arcsin``): odd, ±1 -> ±pi/2, NaN outside [-1, 1]."""
    return np.arcsin(x)


def arccos(x: Any) -> Any:
    """Inverse cosine (``np.arccos``): 1 -> 0, -1 -> pi, NaN outside [-1, 1]."""
    return np.arccos(x)


def hypot(x: Any, y: Any) -> Any:
    """sqrt(x**2 + y**2) without overflow or underflow (``np.hypot`` on float64): ±inf with NaN -> inf."""
    return _on_float64(np.hypot, x, y)


def arctan2(y: Any, x: Any) -> Any:
    """The angle of the point (x, y) in (-pi, pi] (``np.arctan2`` on float64): C99's zeros and infinities."""
    return _on_float64(np.arctan2, y, x)


def pow(x: Any, y: Any) -> Any:
    """x**y in float64 (``np.power`` on float64 arguments; integer arguments are converted, as under numba)."""
    return _on_float64(np.power, x, y)


def add(a: Any, b: Any) -> Any:
    """``a + b``; under numba a reassociable float add, so a reduction ``s = add(s, t)`` vectorises."""
    return a + b


UNARY: dict[str, Callable[[Any], Any]] = {
    "exp": exp,
    "expm1": expm1,
    "log": log,
    "log1p": log1p,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "softplus": softplus,
    "exp2": exp2,
    "log2": log2,
    "log10": log10,
    "sinh": sinh,
    "cosh": cosh,
    "sin": sin,
    "cos": cos,
    "arctan": arctan,
    "arcsinh": arcsinh,
    "arctanh": arctanh,
    "arccosh": arccosh,
    "arcsin": arcsin,
    "arccos": arccos,
}
"""The elementwise functions of one argument, by name (the tests and the benchmark iterate it)."""


BINARY: dict[str, Callable[[Any, Any], Any]] = {"pow": pow, "hypot": hypot, "arctan2": arctan2}
"""The elementwise functions of two arguments, by name (the tests and the benchmark iterate it)."""


def _register_numba() -> None:
    """Register the numba implementations (see the module doc).

    Each overload is one call of the function's ``@intrinsic`` (``vecmath_core.INTRINSICS``),
    which converts the argument to float64 and emits the whole kernel's IR into the caller.
    The overloads are inlined at numba level (``inline="always"``): without it each would be a
    numba function of its own, compiled separately and left to LLVM's inliner (which may
    refuse a large one, and then the loop does not vectorise); inlined, they cost about
    0.02 s of compile time per loop.
    The typing functions carry no annotations: numba compares the implementation's signature
    with the typing function's, and ``from __future__ import annotations`` would make them differ.
    """
    from numba import types
    from numba.extending import overload

    from dcompile.runtime import vecmath_core as core

    number = (types.Float, types.Integer, types.Boolean)

    def register(py_fn: Callable[[Any], Any], kernel: Any) -> None:
        @overload(py_fn, inline="always")
        def unary(x):
            if isinstance(x, number):
                return lambda x: kernel(x)
            if isinstance(x, types.Array):

                def impl(x):
                    out = np.empty(x.shape)
                    for i in np.ndindex(x.shape):
                        out[i] = kernel(x[i])
                    return out

                return impl
            return None

    for name, kernel in core.INTRINSICS.items():
        register(UNARY[name], kernel)

    def register_binary(py_fn: Callable[[Any, Any], Any], kernel: Any) -> None:
        @overload(py_fn, inline="always")
        def binary(x, y):
            if isinstance(x, number) and isinstance(y, number):
                return lambda x, y: kernel(x, y)
            if isinstance(x, types.Array) and isinstance(y, number):

                def impl_array_scalar(x, y):
                    out = np.empty(x.shape)
                    for i in np.ndindex(x.shape):
                        out[i] = kernel(x[i], y)
                    return out

                return impl_array_scalar
            if isinstance(x, number) and isinstance(y, types.Array):

                def impl_scalar_array(x, y):
                    out = np.empty(y.shape)
                    for i in np.ndindex(y.shape):
                        out[i] = kernel(x, y[i])
                    return out

                return impl_scalar_array
            if isinstance(x, types.Array) and isinstance(y, types.Array):

                def impl_arrays(x, y):
                    xb, yb = np.broadcast_arrays(x, y)
                    out = np.empty(xb.shape)
                    for i in np.ndindex(xb.shape):
                        out[i] = kernel(xb[i], yb[i])
                    return out

                return impl_arrays
            return None

    for name, kernel in core.BINARY_INTRINSICS.items():
        register_binary(BINARY[name], kernel)

    fadd = core.fadd_reassoc

    @overload(add, inline="always")
    def _add(a, b):
        if isinstance(a, types.Integer) and isinstance(b, types.Integer):
            return lambda a, b: a + b
        if isinstance(a, number) and isinstance(b, number):
            return lambda a, b: fadd(np.float64(a), np.float64(b))
        if isinstance(a, (types.Array, *number)) and isinstance(b, (types.Array, *number)):
            return lambda a, b: a + b
        return None


with contextlib.suppress(ImportError):  # numba is a dependency; the Python backend works without it
    _register_numba()
