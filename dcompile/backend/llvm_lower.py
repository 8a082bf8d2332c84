"""Lower the statements of one part to LLVM with numba's implementation of each operation.

The lowering shared by :mod:`dcompile.backend.llvm_parts` (which decides what
a part is, turns it into a numba intrinsic and writes its function) and
:mod:`dcompile.backend.llvm_text` (which writes the common instructions as
LLVM text and lowers every other operation once per module into a helper
with :class:`_Lowering`): the subset's operator tables (keyed by the
operation of :class:`~dcompile.emit.records.Op`), :class:`Plan` (a part's
statements as the emitter's operation trees, :mod:`dcompile.emit.records`),
:class:`_Lowering` over ``llvmlite.ir`` objects, and
:func:`without_exception_channel` (from :mod:`dcompile.backend.numba_private`).
Both modules import it; it imports neither, so the two do not import each
other (issue 23).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcompile.backend.numba_private import ufunc_loops
from dcompile.backend.numba_private.exception_channel import without_exception_channel
from dcompile.emit.records import Assign, Elem, Op, Tree

_BINOPS: dict[str, Callable[..., Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}
_INPLACE: dict[str, Callable[..., Any]] = {
    "+": operator.iadd,
    "-": operator.isub,
    "*": operator.imul,
    "/": operator.itruediv,
}
_UNARY: dict[str, Callable[..., Any]] = {"neg": operator.neg, "pos": operator.pos}
UFUNC = "np."  # the prefix of a ufunc call's operation (records.Op)


def ufunc_of(op: str) -> Any:
    """The NumPy ufunc of operation ``op`` (``"np.sin"``), or None."""
    if not op.startswith(UFUNC):
        return None
    fn = getattr(np, op[len(UFUNC) :], None)
    return fn if isinstance(fn, np.ufunc) else None


def int_exponent(node: Op) -> int | None:
    """The exponent of ``x ** k`` for a constant integer ``k`` (lowered as multiplications), else None."""
    k = node.args[1] if node.op == "**" else None
    return k if type(k) is int else None


class _NotLowerable(Exception):
    """A statement outside the subset this module lowers."""


@dataclass(frozen=True)
class Plan:
    """A part that can be lowered: its parameters, which are arrays, and its statements' operation trees."""

    name: str
    params: tuple[str, ...]
    arrays: frozenset[str]
    body: tuple[Assign, ...]
    optimize: bool = False


class _Lowering:
    """Lower a part's statements, each operation with numba's implementation of it."""

    def __init__(self, context: Any, builder: Any, p: Plan, argtys: list[Any], llargs: Any) -> None:
        from numba.core import types

        self.types = types
        self.context = context
        self.typing = context.typing_context
        self.builder = builder
        self.plan = p
        self.env: dict[str, tuple[Any, Any]] = {}
        self.binops: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.calls: dict[tuple[Any, ...], tuple[Any, Any, bool]] = {}
        self.layouts: dict[str, tuple[list[Any], list[Any], Any]] = {}
        self.pointers: dict[tuple[str, tuple[int, ...]], Any] = {}
        self.intp = context.get_value_type(types.intp)
        self.f64 = context.get_value_type(types.float64)
        self.arrays: dict[str, tuple[Any, Any]] = {}
        for name, ty, value in zip(p.params, argtys, llargs, strict=True):
            if name in p.arrays:
                self.arrays[name] = (ty, context.make_array(ty)(context, builder, value=builder.load(value)))
            else:
                self.env[name] = (value, ty)

    def run(self) -> None:
        """Lower every statement (numba's internal helpers without an exception channel: see
        :func:`without_exception_channel`)."""
        with without_exception_channel(self.context):
            self.statements()

    def statements(self) -> None:
        for stmt in self.plan.body:
            target = stmt.target
            if stmt.op is None:
                value, ty = self.expr(stmt.value)
                if isinstance(target, str):
                    self.env[target] = (value, ty)
                else:
                    self.store(target, value, ty)
            else:
                assert isinstance(target, Elem)
                old = self.load(target)
                new = self.expr(stmt.value)
                fn = _INPLACE[stmt.op]
                self.store(target, *self.binop(fn, (*old, None), (*new, None)))

    # -- array elements --------------------------------------------------------------
    def pointer(self, node: Elem) -> tuple[Any, Any]:
        """The address of an element at constant indices (negative ones count from the end).

        The address, not the code that computes it, is what matters: the load or
        store is the one numba emits. Shapes, strides and the data pointer are
        unpacked once per array and each element's address computed once per part
        (a part is one basic block on the main line, so the first computation
        dominates every later use).
        """
        from numba.core import cgutils

        name = node.array
        aryty, ary = self.arrays[name]
        indices = node.index
        key = (name, indices)
        found = self.pointers.get(key)
        if found is not None:
            return aryty, found
        if len(indices) != aryty.ndim:
            raise _NotLowerable
        layout = self.layouts.get(name)
        if layout is None:
            shapes = cgutils.unpack_tuple(self.builder, ary.shape, count=aryty.ndim)
            strides = cgutils.unpack_tuple(self.builder, ary.strides, count=aryty.ndim)
            layout = self.layouts[name] = (shapes, strides, ary.data)
        shapes, strides, data = layout
        if aryty.ndim == 1:
            intp = self.intp
            index = intp(indices[0]) if indices[0] >= 0 else self.builder.add(shapes[0], intp(indices[0]))
            # The element type given: llvmlite otherwise derives it through new type objects per GEP.
            ptr = self.builder.gep(data, [index], source_etype=self.f64)
        else:
            inds = [self.context.get_constant(self.types.intp, i) for i in indices]
            ptr = cgutils.get_item_pointer2(
                self.context, self.builder, data, shapes, strides, aryty.layout, inds, wraparound=True
            )
        self.pointers[key] = ptr
        return aryty, ptr

    def load(self, node: Elem) -> tuple[Any, Any]:
        # float64 arrays only (see the typer): numba's data model stores a float64 as a double.
        aryty, ptr = self.pointer(node)
        return self.builder.load(ptr), aryty.dtype

    def store(self, node: Elem, value: Any, ty: Any) -> None:
        aryty, ptr = self.pointer(node)
        if ty != aryty.dtype:
            value = self.context.cast(self.builder, value, ty, aryty.dtype)
        self.builder.store(value, ptr)

    # -- expressions -----------------------------------------------------------------
    def expr(self, node: Tree) -> tuple[Any, Any]:
        """LLVM value and numba type of an expression."""
        if isinstance(node, str):
            return self.env[node]
        if isinstance(node, float):
            return self.context.get_constant(self.types.float64, node), self.types.float64
        if isinstance(node, Elem):
            return self.load(node)
        assert isinstance(node, Op)
        if node.op in _BINOPS:
            return self.binary(node)
        if node.op in _UNARY:
            value, ty = self.expr(node.args[0])
            return self.call(_UNARY[node.op], [(value, ty)])
        return self.call(ufunc_of(node.op), [self.expr(a) for a in node.args])

    def binary(self, node: Op) -> tuple[Any, Any]:
        lhs = (*self.expr(node.args[0]), None)
        k = int_exponent(node)
        if k is not None:
            return self.int_power(lhs[0], lhs[1], k)
        rhs = (*self.expr(node.args[1]), None)
        return self.binop(_BINOPS[node.op], lhs, rhs)

    def int_power(self, base: Any, ty: Any, k: int) -> tuple[Any, Any]:
        """``base ** k`` for a constant integer ``k``, as numba computes a float to an integer power.

        numba lowers it with ``int_power`` (``numba/cpython/numbers.py``), compiled as
        an internal function whose calling convention a part function does not
        have; its loop, unrolled for the constant: square-and-multiply from
        ``r = 1`` over the bits of ``|k|``, then ``1 / r`` for a negative ``k``.
        With ``k`` known, ``1 * a`` is ``a`` and the instructions are those numba's
        optimiser leaves (``a ** 3``: ``a * a``, then ``a * (a * a)``).
        """
        f64 = self.types.float64
        if ty != f64 or abs(k) > 0x10000:  # numba switches to math.pow beyond that
            raise _NotLowerable
        builder = self.builder
        a = base
        r = None
        e = abs(k)
        while e:
            if e & 1:
                r = a if r is None else builder.fmul(r, a)
            e >>= 1
            if e:
                a = builder.fmul(a, a)
        one = self.context.get_constant(f64, 1.0)
        if r is None:
            r = one
        return (builder.fdiv(one, r) if k < 0 else r), f64

    def binop(self, op: Any, lhs: tuple[Any, Any, Any], rhs: tuple[Any, Any, Any]) -> tuple[Any, Any]:
        """``lhs op rhs`` as numba's ``Lower.lower_binop`` lowers it (static operands first).

        The resolution (signature, which static form applies, implementation) is
        cached per operator, operand types and static operands.
        """
        (lval, lty, lstatic), (rval, rty, rstatic) = lhs, rhs
        key = (op, lty, rty, lstatic, rstatic)
        builder = self.builder
        found = self.binops.get(key)
        if found is None:
            found = self.resolve_binop(op, lhs, rhs)
            self.binops[key] = found
            return found[3]
        sig, mode, impl, _ = found
        lcast = self.context.cast(builder, lval, lty, sig.args[0])
        rcast = self.context.cast(builder, rval, rty, sig.args[1])
        vals = {"both": (lstatic, rstatic), "lhs": (lstatic, rcast), "rhs": (lcast, rstatic), "generic": (lcast, rcast)}
        return impl(builder, vals[mode]), found[3][1]

    def resolve_binop(self, op: Any, lhs: tuple[Any, Any, Any], rhs: tuple[Any, Any, Any]) -> tuple[Any, ...]:
        """First lowering of a binary operation: numba's order of attempts; returns what to cache and the result."""
        from numba.core.errors import TypingError

        fnty = self.typing.resolve_value_type(op)
        (lval, lty, lstatic), (rval, rty, rstatic) = lhs, rhs
        sig = fnty.get_call_type(self.typing, (lty, rty), {})
        if sig is None:
            raise _NotLowerable
        builder = self.builder
        lcast = self.context.cast(builder, lval, lty, sig.args[0])
        rcast = self.context.cast(builder, rval, rty, sig.args[1])
        lit = self.types.literal
        tries = []
        if lstatic is not None and rstatic is not None:
            tries.append(("both", (lit(lstatic), lit(rstatic)), (lstatic, rstatic)))
        if lstatic is not None:
            tries.append(("lhs", (lit(lstatic), rty), (lstatic, rcast)))
        if rstatic is not None:
            tries.append(("rhs", (lty, lit(rstatic)), (lcast, rstatic)))
        for mode, tys, vals in tries:
            try:
                static_sig = fnty.get_call_type(self.typing, tys, {})
                if static_sig is None:
                    continue
                impl = self.context.get_function(fnty, static_sig)
                res = impl(builder, vals)
            except (TypingError, NotImplementedError, AttributeError, TypeError):
                # AttributeError/TypeError: typing dropped the literal (``x ** 2`` types as
                # (float64, int64)) and the implementation found wants an LLVM value, not
                # the Python constant; numba's lowering ends up in the generic form too.
                continue
            return sig, mode, impl, (res, static_sig.return_type)
        generic = fnty.get_call_type(self.typing, sig.args, {})
        impl = self.context.get_function(fnty, generic)
        return sig, "generic", impl, (impl(builder, (lcast, rcast)), generic.return_type)

    def call(self, fn: Any, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """A unary operator or ufunc call as numba lowers a call: casts to the signature, then its implementation."""
        argtys = tuple(ty for _, ty in args)
        found = self.calls.get((fn, argtys))
        if found is None:
            found = self.calls[(fn, argtys)] = self.resolve_call(fn, argtys)
        sig, impl, kernel = found
        vals = [self.context.cast(self.builder, v, ty, want) for (v, ty), want in zip(args, sig.args, strict=True)]
        if kernel:  # a ufunc's scalar loop, called as numba's ufunc machinery calls it
            return impl(self.context, self.builder, sig, vals), sig.return_type
        return impl(self.builder, vals), sig.return_type

    def resolve_call(self, fn: Any, argtys: tuple[Any, ...]) -> tuple[Any, Any, bool]:
        """Signature and implementation of a call; for a ufunc on float64 scalars, its ``d->d`` loop.

        numba lowers a ufunc on scalars through its generic ufunc kernel, which
        casts the arguments to the chosen loop's types (float64: nothing to cast)
        and calls the loop's implementation from ``numba.np.ufunc_db`` (fenced:
        :mod:`dcompile.backend.numba_private.ufunc_loops`); calling
        that implementation directly emits the same instructions, without the
        kernel's per-call bookkeeping.
        """
        fnty = self.typing.resolve_value_type(fn)
        sig = fnty.get_call_type(self.typing, argtys, {})
        if sig is None:
            raise _NotLowerable
        if isinstance(fn, np.ufunc) and fn.nout == 1:
            kernel = ufunc_loops.scalar_loop(fn, "d" * fn.nin + "->d")
            if kernel is not None and all(t == self.types.float64 for t in (*sig.args, sig.return_type)):
                return sig, kernel, True
        return sig, self.context.get_function(fnty, sig), False
