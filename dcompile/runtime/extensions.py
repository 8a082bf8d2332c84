"""Users' primitives in generated code: their NumPy implementation in Python, their numba one in machine code.

:func:`dcompile.extend.primitive` declares a primitive with a NumPy
implementation and, optionally, a numba implementation. Generated modules call
it as ``_dcx.<attribute>(...)``: the attribute is a plain Python function that
runs the NumPy implementation (the Python backend, constant folding), and a
``numba.extending.overload`` of it sends numba to the numba implementation,
which may be

* a numba function (``@numba.njit``), or any Python function numba compiles
  (``math.lgamma``, a user's loop);
* a function of ``scipy.special.cython_special``: the compiled code calls
  SciPy's C function through a fixed symbol, as :mod:`dcompile.runtime.special`
  does for the built-in special functions, so numba's disk cache can store it.

For an elementwise primitive the numba implementation takes scalars; array
operands (outside fused loops) go through a ``numba.vectorize`` ufunc made
from it the first time numba needs one, which broadcasts like NumPy.

A numba implementation that does not compile for the types the generated code
passes is recorded in :data:`FAILURES`, so the compiler can name the primitive
and the fix instead of showing numba's traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.errors import ExtensionError

# Attribute name -> (primitive name, message) of numba implementations that did not compile.
FAILURES: dict[str, tuple[str, str]] = {}

_CYTHON_SIGNATURE = re.compile(r"double \(((?:double, )*)int __pyx_skip_dispatch\)")


def attribute(name: str) -> str:
    """The module attribute generated code calls for the user primitive ``name``."""
    return f"ext_{name}"


def register(name: str, impl: Callable[..., Any], numba_impl: Any, *, elementwise: bool) -> str:
    """Make ``_dcx.ext_<name>`` call ``impl`` in Python and ``numba_impl`` under numba; returns the attribute."""
    attr = attribute(name)

    def run(*args: Any) -> Any:
        out = np.asarray(impl(*args), dtype=np.float64)
        return out[()] if out.ndim == 0 else out

    run.__name__ = run.__qualname__ = attr
    run.__doc__ = f"The user primitive {name!r} (NumPy implementation; numba has its own)."
    globals()[attr] = run
    if numba_impl is not None:
        _overload(run, name, attr, numba_impl, elementwise=elementwise)
    return attr


def cython_arity(fn: Any) -> int | None:
    """The number of float64 arguments of a ``scipy.special.cython_special`` function; None if not one."""
    if getattr(fn, "__module__", None) != "scipy.special.cython_special":
        return None
    from scipy.special import cython_special

    name = fn.__name__
    capi = cython_special.__pyx_capi__  # type: ignore[attr-defined]
    for key, capsule in capi.items():
        if re.fullmatch(rf"(__pyx_fuse_\d+)?{re.escape(name)}", key):
            match = _CYTHON_SIGNATURE.search(str(capsule))
            if match is not None:
                return match.group(1).count("double")
    raise ExtensionError(
        f"scipy.special.cython_special.{name} has no float64 version (double, ...) -> double; "
        "wrap it in a function numba compiles and pass that as numba_impl"
    )


def _overload(run: Callable[..., Any], name: str, attr: str, numba_impl: Any, *, elementwise: bool) -> None:
    """Register numba's implementation of ``run`` (see the module doc).

    The typing functions carry no annotations: numba compares their signature
    with the implementation's, and postponed annotations would make them differ.
    """
    import numba
    from numba import types
    from numba.extending import overload

    arity = cython_arity(numba_impl)
    direct = _cython_call(name, numba_impl.__name__, arity) if arity is not None else _jitted(numba_impl)
    number = (types.Float, types.Integer, types.Boolean)
    made: dict[tuple[str, int], Any] = {}

    def scalar(nargs):
        """The scalar implementation; a builtin (math.lgamma) is wrapped once its number of operands is known."""
        if direct is not None:
            return direct
        if ("scalar", nargs) not in made:
            made["scalar", nargs] = numba.njit(_forwarder(numba_impl, nargs))
        return made["scalar", nargs]

    def vectorized(nargs):
        if ("ufunc", nargs) not in made:
            kernel = _forwarder(scalar(nargs), nargs)
            made["ufunc", nargs] = numba.vectorize([numba.float64(*[numba.float64] * nargs)])(kernel)
        return made["ufunc", nargs]

    @overload(run)
    def typed(*args):
        arg_types = args[0] if len(args) == 1 and isinstance(args[0], types.StarArgTuple) else args
        try:
            if elementwise and not all(isinstance(t, number) for t in arg_types):
                fn = vectorized(len(arg_types))
            else:
                fn = scalar(len(arg_types))
                if arity is None:  # the user's code: compiled first, so its own error is reported
                    fn.compile(tuple(arg_types))
        except Exception as exc:  # numba's typing or lowering error: reported by the compiler
            FAILURES[attr] = (name, _summary(exc))
            raise
        FAILURES.pop(attr, None)

        def impl(*args):
            return fn(*args)

        return impl


def _summary(exc: Exception) -> str:
    """numba's error in one line: its first informative line, without colour codes or its pipeline header."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    useful = [line for line in lines if line and not line.startswith(("Failed in", "During:", "File "))]
    return f"{type(exc).__name__}: {useful[0] if useful else lines[0] if lines else ''}"


def _forwarder(fn: Any, nargs: int) -> Callable[..., Any]:
    """A Python function of exactly ``nargs`` arguments calling ``fn`` (``numba.vectorize`` wants fixed arity)."""
    forwarders: dict[int, Callable[..., Any]] = {
        1: lambda a: fn(a),
        2: lambda a, b: fn(a, b),
        3: lambda a, b, c: fn(a, b, c),
        4: lambda a, b, c, d: fn(a, b, c, d),
        5: lambda a, b, c, d, e: fn(a, b, c, d, e),
        6: lambda a, b, c, d, e, f: fn(a, b, c, d, e, f),
    }
    if nargs not in forwarders:
        raise ExtensionError(f"an elementwise user primitive takes at most {len(forwarders)} operands, not {nargs}")
    return forwarders[nargs]


def _jitted(numba_impl: Any) -> Any:
    """The user's numba function, or their Python function compiled by numba; None for a builtin."""
    import numba
    from numba.extending import is_jitted

    if is_jitted(numba_impl):
        return numba_impl
    if hasattr(numba_impl, "__code__"):
        return numba.njit(numba_impl)
    return None  # math.lgamma, np.sum: numba knows them; wrapped per number of operands


def _cython_call(name: str, function: str, nargs: int) -> Any:
    """A numba function calling ``cython_special.<function>``'s float64 C version through a fixed symbol."""
    import llvmlite.binding as llb
    import numba
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import get_cython_function_address, intrinsic
    from scipy.special import cython_special

    capi = cython_special.__pyx_capi__  # type: ignore[attr-defined]
    want = "double (" + "double, " * nargs + "int __pyx_skip_dispatch)"
    key = next(
        k for k, c in capi.items() if re.fullmatch(rf"(__pyx_fuse_\d+)?{re.escape(function)}", k) and want in str(c)
    )
    symbol = f"dcompile_ext_{name}_{function}"
    llb.add_symbol(symbol, get_cython_function_address("scipy.special.cython_special", key))
    fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * nargs + [ir.IntType(32)])

    @intrinsic
    def call(typingctx, operands):
        def codegen(context, builder, signature, llargs):
            values = cgutils.unpack_tuple(builder, llargs[0])
            values = [context.cast(builder, v, t, types.float64) for v, t in zip(values, operands, strict=True)]
            fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
            return builder.call(fn, [*values, ir.Constant(ir.IntType(32), 0)])

        if not isinstance(operands, types.BaseTuple) or len(operands) != nargs:
            return None
        return types.float64(operands), codegen

    @numba.njit
    def scalar(*args):
        return call(args)

    return scalar
