"""SciPy's special functions for generated code: ``scipy.special`` in Python, its C code under numba.

Each function here is a plain Python function (SciPy's ufunc: the Python
backend and constant folding use it) with a numba implementation registered
by ``numba.extending.overload``. Under numba the call goes to the *same C
function* SciPy's ufunc calls, exported by ``scipy.special.cython_special``:
its address is registered with LLVM under a fixed symbol name
(``dcompile_special_gammaln``) when this module is imported, and the
compiled code calls the symbol. The machine code therefore holds no
process-specific address and numba's disk cache can store it; a later
process resolves the symbol again on import (generated modules import this
module before numba loads their machine code).

``polygamma(n, x)`` for ``n >= 1`` is not exported by SciPy's C API; it is
computed here as ``(-1)**(n+1) n! zeta(n+1, x)`` with the Hurwitz zeta
function summed by the Euler-Maclaurin formula (the method of Cephes'
``zeta``), for ``x > 0`` (NaN otherwise under numba).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as _sc

# Functions taken from SciPy's C API: name -> number of float64 arguments.
EXPORTED: dict[str, int] = {
    "gammaln": 1,
    "psi": 1,
    "gamma": 1,
    "erf": 1,
    "erfc": 1,
    "erfinv": 1,
    "erfcinv": 1,
    "erfcx": 1,
    "ndtr": 1,
    "ndtri": 1,
    "log_ndtr": 1,
    "logit": 1,
    "xlogy": 2,
    "xlog1py": 2,
    "betaln": 2,
    "entr": 1,
    "rel_entr": 2,
    "kl_div": 2,
}


def _scalar(fn: Callable[..., Any]) -> Callable[..., Any]:
    """SciPy's ufunc as the Python implementation: NumPy scalars for scalars (as numba returns floats)."""

    def run(*args: Any) -> Any:
        out = fn(*args)
        return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out

    run.__name__ = getattr(fn, "__name__", "special")
    return run


gammaln = _scalar(_sc.gammaln)
psi = _scalar(_sc.psi)
gamma = _scalar(_sc.gamma)
erf = _scalar(_sc.erf)
erfc = _scalar(_sc.erfc)
erfinv = _scalar(_sc.erfinv)
erfcinv = _scalar(_sc.erfcinv)
erfcx = _scalar(_sc.erfcx)
ndtr = _scalar(_sc.ndtr)
ndtri = _scalar(_sc.ndtri)
log_ndtr = _scalar(_sc.log_ndtr)
logit = _scalar(_sc.logit)
xlogy = _scalar(_sc.xlogy)
xlog1py = _scalar(_sc.xlog1py)
betaln = _scalar(_sc.betaln)
entr = _scalar(_sc.entr)
rel_entr = _scalar(_sc.rel_entr)
kl_div = _scalar(_sc.kl_div)


def polygamma(n: int, x: Any) -> Any:
    """``scipy.special.polygamma(n, x)`` (``n`` a non-negative integer)."""
    out = _sc.polygamma(n, x)
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


# Euler-Maclaurin coefficients (2j)! / B_2j for the Hurwitz zeta tail (the table Cephes' zeta uses).
_EM = (
    12.0,
    -720.0,
    30240.0,
    -1209600.0,
    47900160.0,
    -1.8924375803183791606e9,
    7.47242496e10,
    -2.950130727918164224e12,
    1.1646782814350067249e14,
    -4.5979787224074726105e15,
    1.8152105401943546773e17,
    -7.1661652561756670113e18,
)
_EPS = 2.220446049250313e-16


def hurwitz_zeta(s: float, q: float) -> float:
    """``zeta(s, q) = sum_k (k + q)**-s`` for ``s > 1``, ``q > 0`` (Euler-Maclaurin summation)."""
    if not (q > 0.0) or not (s > 1.0):
        return math.nan
    total = q**-s
    a = q
    b = 0.0
    i = 0
    while i < 9 or a <= 9.0:  # sum directly until the tail formula is accurate; b is the last term
        i += 1
        a += 1.0
        b = a**-s
        total += b
        if abs(b / total) < _EPS:
            return total
    w = a
    total += b * w / (s - 1.0)
    total -= 0.5 * b
    fac = 1.0
    k = 0.0
    for coeff in _EM:
        fac *= s + k
        b /= w
        t = fac * b / coeff
        total += t
        if abs(t / total) < _EPS:
            break
        k += 1.0
        fac *= s + k
        b /= w
        k += 1.0
    return total


def _polygamma_scalar(n: int, x: float) -> float:
    if n == 0:
        return float(_sc.psi(x))
    sign = 1.0 if (n + 1) % 2 == 0 else -1.0
    return sign * math.gamma(n + 1.0) * hurwitz_zeta(n + 1.0, x)


_SIGNATURE = re.compile(r"double \(double(, double)*, int __pyx_skip_dispatch\)")


def cython_name(name: str, nargs: int) -> str | None:
    """The name under which ``scipy.special.cython_special`` exports the float64 version of ``name``."""
    from scipy.special import cython_special

    capi = cython_special.__pyx_capi__  # type: ignore[attr-defined]
    want = "double (" + ", ".join(["double"] * nargs) + ", int __pyx_skip_dispatch)"
    for key, capsule in capi.items():
        if re.fullmatch(rf"(__pyx_fuse_\d+)?{re.escape(name)}", key):
            text = str(capsule)
            if want in text:
                return key
    return None


def _register_numba() -> None:
    """numba implementations of the functions above (see the module doc).

    The typing functions and implementations given to numba carry no annotations: numba
    compares the two signatures and ``from __future__ import annotations`` would make them differ.
    """
    import llvmlite.binding as llb
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import get_cython_function_address, intrinsic, overload, register_jitable

    def external(name: str, nargs: int) -> Any:
        key = cython_name(name, nargs)
        symbol = f"dcompile_special_{name}"
        if key is None:
            return None
        llb.add_symbol(symbol, get_cython_function_address("scipy.special.cython_special", key))
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * nargs + [ir.IntType(32)])

        def codegen(context, builder, signature, args):
            fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
            return builder.call(fn, [*args, ir.Constant(ir.IntType(32), 0)])

        if nargs == 1:

            @intrinsic
            def call1(typingctx, x):
                return types.float64(types.float64), codegen

            return call1

        @intrinsic
        def call2(typingctx, x, y):
            return types.float64(types.float64, types.float64), codegen

        return call2

    module = globals()
    for name, nargs in EXPORTED.items():
        scalar = external(name, nargs)
        if scalar is None:
            continue
        _overload_elementwise(overload, types, module[name], scalar, nargs)

    zeta_jit = register_jitable(hurwitz_zeta)
    psi_scalar = external("psi", 1)

    @register_jitable
    def poly(n, x):
        if n == 0:
            return psi_scalar(x)
        sign = 1.0 if (n + 1) % 2 == 0 else -1.0
        return sign * math.gamma(n + 1.0) * zeta_jit(n + 1.0, x)

    @overload(polygamma)
    def _polygamma(n, x):
        if isinstance(x, (types.Float, types.Integer)):
            return lambda n, x: poly(n, float(x))
        if isinstance(x, types.Array):

            def impl(n, x):
                out = np.empty(x.shape)
                for i in np.ndindex(x.shape):
                    out[i] = poly(n, float(x[i]))
                return out

            return impl
        return None


def _overload_elementwise(overload: Any, types: Any, py_fn: Callable[..., Any], scalar: Any, nargs: int) -> None:
    """Scalars call the C function; arrays loop over it (scalar operands broadcast)."""
    number = (types.Float, types.Integer, types.Boolean)
    if nargs == 1:

        @overload(py_fn)
        def unary(x):
            if isinstance(x, number):
                return lambda x: scalar(float(x))
            if isinstance(x, types.Array):

                def impl(x):
                    out = np.empty(x.shape)
                    for i in np.ndindex(x.shape):
                        out[i] = scalar(float(x[i]))
                    return out

                return impl
            return None

        return

    @overload(py_fn)
    def binary(x, y):
        if isinstance(x, number) and isinstance(y, number):
            return lambda x, y: scalar(float(x), float(y))
        if isinstance(x, types.Array) and isinstance(y, number):

            def left(x, y):
                out = np.empty(x.shape)
                for i in np.ndindex(x.shape):
                    out[i] = scalar(float(x[i]), float(y))
                return out

            return left
        if isinstance(y, types.Array) and isinstance(x, number):

            def right(x, y):
                out = np.empty(y.shape)
                for i in np.ndindex(y.shape):
                    out[i] = scalar(float(x), float(y[i]))
                return out

            return right
        if isinstance(x, types.Array) and isinstance(y, types.Array):

            def both(x, y):  # same shapes (the emitter broadcasts first)
                out = np.empty(x.shape)
                for i in np.ndindex(x.shape):
                    out[i] = scalar(float(x[i]), float(y[i]))
                return out

            return both
        return None


with contextlib.suppress(ImportError):  # numba is a dependency; the Python backend works without it
    _register_numba()
