"""Straight-line float64 code written once, run two ways: emitted as LLVM IR, or on Python numbers.

The kernels of :mod:`dcompile.runtime.vecmath_core` are ordinary Python functions of one
float64. Called on a :class:`V` (an LLVM value with the ``IRBuilder`` that made it) they emit
their LLVM IR at the builder's position: an ``@intrinsic``'s codegen calls the kernel on its
argument, so the whole kernel lands in the caller's function, with no numba function compiled
for it (no typing pipeline, no separate LLVM module, nothing left for LLVM's inliner). Called on
Python floats they compute the same values in Python (:func:`fma` is exact there), a reference
path for the tests.

A :class:`V` has one of three kinds: float64 (``double``), int64 (``i64``) or i1 (a comparison
result). The operators emit what numba emits for the same Python expression on float64/int64,
so a kernel gives bitwise what it gave as a ``@register_jitable`` numba function:

* float: ``+ - * /`` are ``fadd fsub fmul fdiv`` (no fast-math flags); unary ``-`` is
  ``fsub -0.0, x`` (numba's negation); ``< <= > >= ==`` are ordered ``fcmp``, ``!=`` unordered;
* int: ``+ - *``, ``&``, ``|``, ``<<``, ``>>`` (arithmetic), signed comparisons;
* i1: ``&`` and ``|``.

Python numbers mixed with a :class:`V` become constants: ``float`` -> double, ``int`` -> i64
(or double beside a double), ``bool`` -> i1. The functions :func:`fma`, :func:`select`,
:func:`as_int`, :func:`as_float`, :func:`fabs`, :func:`copysign`, :func:`to_float`, :func:`floor`,
:func:`sqrt` and :func:`lookup` (a load from a constant table) take either kind of argument.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from typing import Any

from llvmlite import ir

F64 = ir.DoubleType()
I64 = ir.IntType(64)
I1 = ir.IntType(1)

Num = Any  # a V, or a Python float / int / bool


class V:
    """An LLVM value (double, i64 or i1) and its builder, with Python's operators emitting IR."""

    __slots__ = ("b", "v")
    __hash__ = None  # type: ignore[assignment]  # == emits a comparison

    def __init__(self, builder: ir.IRBuilder, value: ir.Value) -> None:
        self.b = builder
        self.v = value

    @property
    def is_float(self) -> bool:
        return self.v.type == F64

    def const(self, x: Any) -> V:
        """A Python number as a constant beside this value (a V passes through)."""
        if isinstance(x, V):
            return x
        if isinstance(x, bool):
            return V(self.b, ir.Constant(I1, int(x)))
        if isinstance(x, int) and not self.is_float:
            return V(self.b, ir.Constant(I64, x))
        if isinstance(x, (int, float)):
            return V(self.b, ir.Constant(F64, float(x)))
        raise TypeError(f"not a float64/int64 constant: {x!r}")

    def _bin(self, other: Any, fop: str, iop: str, swap: bool = False) -> V:
        a, c = self, self.const(other)
        if swap:
            a, c = c, a
        if a.v.type != c.v.type:
            raise TypeError(f"{fop}/{iop} of {a.v.type} and {c.v.type}")
        op = fop if a.is_float else iop
        if not op:
            raise TypeError(f"no {fop or iop} for {a.v.type}")
        return V(self.b, getattr(self.b, op)(a.v, c.v))

    def __add__(self, o: Any) -> V:
        return self._bin(o, "fadd", "add")

    def __radd__(self, o: Any) -> V:
        return self._bin(o, "fadd", "add", swap=True)

    def __sub__(self, o: Any) -> V:
        return self._bin(o, "fsub", "sub")

    def __rsub__(self, o: Any) -> V:
        return self._bin(o, "fsub", "sub", swap=True)

    def __mul__(self, o: Any) -> V:
        return self._bin(o, "fmul", "mul")

    def __rmul__(self, o: Any) -> V:
        return self._bin(o, "fmul", "mul", swap=True)

    def __truediv__(self, o: Any) -> V:
        return self._bin(o, "fdiv", "")

    def __rtruediv__(self, o: Any) -> V:
        return self._bin(o, "fdiv", "", swap=True)

    def __and__(self, o: Any) -> V:
        return self._bin(o, "", "and_")

    def __rand__(self, o: Any) -> V:
        return self._bin(o, "", "and_", swap=True)

    def __or__(self, o: Any) -> V:
        return self._bin(o, "", "or_")

    def __ror__(self, o: Any) -> V:
        return self._bin(o, "", "or_", swap=True)

    def __lshift__(self, o: Any) -> V:
        return self._bin(o, "", "shl")

    def __rshift__(self, o: Any) -> V:
        return self._bin(o, "", "ashr")

    def __neg__(self) -> V:
        return 0 - self if not self.is_float else -0.0 - self  # numba: fsub -0.0, x

    def _cmp(self, o: Any, op: str) -> V:
        c = self.const(o)
        if self.is_float:
            fcmp = self.b.fcmp_unordered if op == "!=" else self.b.fcmp_ordered
            return V(self.b, fcmp(op, self.v, c.v))
        return V(self.b, self.b.icmp_signed(op, self.v, c.v))

    def __lt__(self, o: Any) -> V:
        return self._cmp(o, "<")

    def __le__(self, o: Any) -> V:
        return self._cmp(o, "<=")

    def __gt__(self, o: Any) -> V:
        return self._cmp(o, ">")

    def __ge__(self, o: Any) -> V:
        return self._cmp(o, ">=")

    def __eq__(self, o: Any) -> V:  # type: ignore[override]
        return self._cmp(o, "==")

    def __ne__(self, o: Any) -> V:  # type: ignore[override]
        return self._cmp(o, "!=")

    def __bool__(self) -> bool:
        raise TypeError("an IR value has no truth value: use select(), not if/and/or")


def _first_v(*args: Any) -> V | None:
    for a in args:
        if isinstance(a, V):
            return a
    return None


def _call(name: str, *args: V) -> V:
    b = args[0].b
    fnty = ir.FunctionType(F64, [F64] * len(args))
    # Declared with an explicit FunctionType: Module.declare_intrinsic('llvm.fma', ...) gives a
    # one-argument signature for the three-argument fma.
    fn = b.module.globals.get(f"llvm.{name}.f64") or ir.Function(b.module, fnty, f"llvm.{name}.f64")
    return V(b, b.call(fn, [a.v for a in args]))


def _floats(v: V, *args: Any) -> list[V]:
    out = [v.const(float(a) if isinstance(a, (int, float)) and not isinstance(a, V) else a) for a in args]
    if any(not a.is_float for a in out):
        raise TypeError("float64 operands expected")
    return out


# --- the functions, on V (IR) or on Python numbers ------------------------------------------


def fma(a: Num, b: Num, c: Num) -> Num:
    """a*b + c rounded once (``llvm.fma.f64``)."""
    v = _first_v(a, b, c)
    if v is not None:
        return _call("fma", *_floats(v, a, b, c))
    return _py_fma(float(a), float(b), float(c))


def fabs(x: Num) -> Num:
    """|x| (``llvm.fabs.f64``: clears the sign bit, NaN included)."""
    if isinstance(x, V):
        return _call("fabs", x)
    return math.fabs(x)


def copysign(x: Num, y: Num) -> Num:
    """|x| with the sign of y (``llvm.copysign.f64``)."""
    v = _first_v(x, y)
    if v is not None:
        return _call("copysign", *_floats(v, x, y))
    return math.copysign(x, y)


def select(cond: Num, a: Num, b: Num) -> Num:
    """``a if cond else b`` as one LLVM ``select`` (no branch); a and b of one kind."""
    if not isinstance(cond, V):
        return a if cond else b
    v = _first_v(a, b)
    if v is None:  # two constants: their own kinds
        x, y = cond.const(a), cond.const(b)
    else:
        x, y = v.const(a), v.const(b)
    if x.v.type != y.v.type:
        raise TypeError(f"select of {x.v.type} and {y.v.type}")
    return V(cond.b, cond.b.select(cond.v, x.v, y.v))


def as_int(x: Num) -> Num:
    """The IEEE bits of a float64 as an int64 (a bitcast)."""
    if isinstance(x, V):
        return V(x.b, x.b.bitcast(_floats(x, x)[0].v, I64))
    return struct.unpack("<q", struct.pack("<d", x))[0]


def as_float(n: Num) -> Num:
    """The float64 whose IEEE bits are an int64 (a bitcast)."""
    if isinstance(n, V):
        if n.is_float:
            raise TypeError("as_float of a double")
        return V(n.b, n.b.bitcast(n.v, F64))
    return struct.unpack("<d", struct.pack("<Q", n & 0xFFFFFFFFFFFFFFFF))[0]


def to_float(n: Num) -> Num:
    """An int64 converted to float64 (``sitofp``, numba's ``float(n)``)."""
    if isinstance(n, V):
        return V(n.b, n.b.sitofp(n.v, F64))
    return float(n)


def floor(x: Num) -> Num:
    """The largest integer <= x, as a float64 (``llvm.floor.f64``: no libm call, vectorisable)."""
    if isinstance(x, V):
        return _call("floor", x)
    return float(math.floor(x)) if math.isfinite(x) else x


def sqrt(x: Num) -> Num:
    """The square root, correctly rounded (``llvm.sqrt.f64``: one vector instruction, no libm call); NaN below 0."""
    if isinstance(x, V):
        return _call("sqrt", x)
    return math.sqrt(x) if x >= 0.0 else math.nan


def lookup(table: tuple[float, ...], name: str, i: Num) -> Num:
    """``table[i]`` for an int64 index in range: a load from the constant global array ``name`` (a vector gather).

    The array is added to the builder's module on first use (internal linkage, so modules that
    numba links together each keep their own copy).
    """
    if not isinstance(i, V):
        return table[i]
    b = i.b
    g = b.module.globals.get(name)
    if g is None:
        arr = ir.ArrayType(F64, len(table))
        g = ir.GlobalVariable(b.module, arr, name)
        g.global_constant = True
        g.linkage = "internal"
        g.initializer = ir.Constant(arr, [float(t) for t in table])
        g.align = 64
    ptr = b.gep(g, [ir.Constant(I64, 0), i.v], inbounds=True)
    return V(b, b.load(ptr, align=8))


def _py_fma(a: float, b: float, c: float) -> float:
    """a*b + c with one rounding, in exact rational arithmetic (Python 3.11 has no math.fma)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return a * b + c  # inf or nan: the product is exact
    if not math.isfinite(c):
        return c
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:  # the sign of an exact zero: -0 only if a*b and c are both -0
        prod_neg = (math.copysign(1.0, a) * math.copysign(1.0, b)) < 0
        return -0.0 if prod_neg and math.copysign(1.0, c) < 0 else 0.0
    try:
        return exact.numerator / exact.denominator  # int / int is correctly rounded
    except OverflowError:
        return math.inf if exact > 0 else -math.inf
