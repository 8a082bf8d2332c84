"""A part's body as LLVM assembly text, for the common case (issue 7).

:mod:`dcompile.backend.llvm_parts` lowers each operation of a part with
numba's own implementation through ``llvmlite.ir`` objects. That costs about
10 µs of Python per instruction to build and as much again to print as text
for LLVM to parse: at N = 10,000 steps of an unrolled chain, 450,000
instructions and three seconds. Most of a part is the same few instructions
over and over, so this module writes the text directly:

* ``+ - * /`` on float64 are ``fadd``/``fsub``/``fmul``/``fdiv``, unary minus
  ``fsub -0.0, x``, as numba's implementations emit them (numba's division adds
  a branch on a zero divisor that does nothing under the NumPy error model);
* ``x ** k`` for a constant integer ``k`` is the multiplication chain of
  :meth:`~dcompile.backend.llvm_lower._Lowering.int_power`;
* element loads and stores of 1-D float64 arrays at constant indices address
  the data pointer read once from numba's array structure (negative indices
  from its first shape entry), at the field positions numba's data model
  gives (:mod:`dcompile.backend.numba_private.array_layout`);
* every other operation (a NumPy ufunc, ``x ** y``) is lowered *once per part
  signature* with numba's implementation into a small helper function of the
  module, which the text calls; a helper that is only a call to a declared
  function (``llvm.sin.f64``, ``tanh``) is skipped and that function called
  directly, which is the instruction numba emits.

So the instructions are those of the ``llvmlite.ir`` path, and the results are
the same bit for bit (tested on the operator zoo of ``tests/test_chunking.py``).
Anything else (an N-D array, an operation whose helper does not lower) raises
:class:`~dcompile.backend.llvm_lower._NotLowerable` and the part goes through
the ``llvmlite.ir`` path.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from dcompile.backend import llvm_lower as lp
from dcompile.backend.numba_private.array_layout import array_fields
from dcompile.emit.records import Elem, Op, Tree

_FOPS = {"+": "fadd", "-": "fsub", "*": "fmul", "/": "fdiv"}


def double(value: float) -> str:
    """A double constant as LLVM assembly writes it exactly (its bits in hex)."""
    return "0x" + struct.pack(">d", value).hex().upper()


def callees_of(module: Any) -> dict[tuple[Any, ...], str]:
    """Per LLVM module: the callee of each operation not written out (a declared function or a helper)."""
    found: dict[tuple[Any, ...], str] | None = getattr(module, "_dcompile_callees", None)
    if found is None:
        found = module._dcompile_callees = {}
    return found


class TextLowering:
    """The body text of one part (see the module docstring)."""

    def __init__(self, context: Any, module: Any, p: lp.Plan, argtys: list[Any], argnames: list[str]) -> None:
        from numba.core import types

        self.context = context
        self.module = module
        self.plan = p
        self.types = types
        self.lines: list[str] = []
        self.count = 0
        self.env: dict[str, str] = {}
        self.data: dict[str, str] = {}
        self.length: dict[str, str] = {}
        self.pointers: dict[tuple[str, int], str] = {}
        self.struct: dict[str, tuple[str, str, int, int]] = {}
        self.callees = callees_of(module)
        for name, ty, arg in zip(p.params, argtys, argnames, strict=True):
            if name in p.arrays:
                if not (isinstance(ty, types.Array) and ty.ndim == 1 and ty.dtype == types.float64):
                    raise lp._NotLowerable
                # Field positions from numba's data model (None: not the layout this text assumes).
                fields = array_fields(context, ty)
                if fields is None or str(context.get_value_type(types.intp)) != "i64":
                    raise lp._NotLowerable
                self.struct[name] = (str(context.get_value_type(ty)), arg, *fields)
            else:
                self.env[name] = arg

    def fresh(self) -> str:
        self.count += 1
        return f"%v{self.count}"

    def emit(self, text: str) -> str:
        out = self.fresh()
        self.lines.append(f"  {out} = {text}")
        return out

    def body(self) -> str:
        """The entry block's text, ending with ``ret void``."""
        for stmt in self.plan.body:
            target = stmt.target
            if stmt.op is None:
                value = self.expr(stmt.value)
                if isinstance(target, str):
                    self.env[target] = value
                else:
                    self.lines.append(f"  store double {value}, double* {self.pointer(target)}")
            else:
                assert isinstance(target, Elem)
                op = _FOPS.get(stmt.op)
                if op is None:
                    raise lp._NotLowerable
                ptr = self.pointer(target)
                old = self.emit(f"load double, double* {ptr}")
                new = self.emit(f"{op} double {old}, {self.expr(stmt.value)}")
                self.lines.append(f"  store double {new}, double* {ptr}")
        return "entry:\n" + "\n".join(self.lines) + "\n  ret void\n"

    # -- arrays -------------------------------------------------------------------------
    def pointer(self, node: Elem) -> str:
        name = node.array
        if len(node.index) != 1:
            raise lp._NotLowerable  # 1-D arrays only (checked in __init__)
        (index,) = node.index
        key = (name, index)
        found = self.pointers.get(key)
        if found is not None:
            return found
        sty, arg, data_at, shape_at = self.struct[name]
        data = self.data.get(name)
        if data is None:
            field = self.emit(f"getelementptr inbounds {sty}, {sty}* {arg}, i32 0, i32 {data_at}")
            data = self.data[name] = self.emit(f"load double*, double** {field}")
        if index >= 0:
            at = str(index)
        else:
            length = self.length.get(name)
            if length is None:
                field = self.emit(f"getelementptr inbounds {sty}, {sty}* {arg}, i32 0, i32 {shape_at}, i32 0")
                length = self.length[name] = self.emit(f"load i64, i64* {field}")
            at = self.emit(f"add i64 {length}, {index}")
        ptr = self.pointers[key] = self.emit(f"getelementptr double, double* {data}, i64 {at}")
        return ptr

    # -- expressions --------------------------------------------------------------------
    def expr(self, node: Tree) -> str:
        if isinstance(node, str):
            return self.env[node]
        if isinstance(node, (int, float)):
            return double(float(node))
        if isinstance(node, Elem):
            return self.emit(f"load double, double* {self.pointer(node)}")
        if node.op in lp._BINOPS:
            return self.binary(node)
        if node.op in lp._UNARY:
            return self.unary(node)
        if node.op.startswith(lp.UFUNC):
            return self.call(("ufunc", node.op[len(lp.UFUNC) :], len(node.args)), [self.expr(a) for a in node.args])
        raise lp._NotLowerable

    def binary(self, node: Op) -> str:
        left = self.expr(node.args[0])
        if node.op == "**":
            k = lp.int_exponent(node)
            if k is not None:
                return self.int_power(left, k)
            return self.call(("pow",), [left, self.expr(node.args[1])])
        op = _FOPS.get(node.op)
        if op is None:
            raise lp._NotLowerable
        return self.emit(f"{op} double {left}, {self.expr(node.args[1])}")

    def unary(self, node: Op) -> str:
        operand = self.expr(node.args[0])
        if node.op == "neg":
            return self.emit(f"fsub double {double(-0.0)}, {operand}")
        if node.op == "pos":
            return operand
        raise lp._NotLowerable

    def int_power(self, base: str, k: int) -> str:
        """As :meth:`~dcompile.backend.llvm_lower._Lowering.int_power`, in text."""
        if abs(k) > 0x10000:
            raise lp._NotLowerable
        a, r, e = base, None, abs(k)
        while e:
            if e & 1:
                r = a if r is None else self.emit(f"fmul double {r}, {a}")
            e >>= 1
            if e:
                a = self.emit(f"fmul double {a}, {a}")
        if r is None:
            r = double(1.0)
        return self.emit(f"fdiv double {double(1.0)}, {r}") if k < 0 else r

    def call(self, key: tuple[Any, ...], args: list[str]) -> str:
        callee = self.callees.get(key)
        if callee is None:
            callee = self.callees[key] = self.make_helper(key, len(args))
        return self.emit(f'call double @"{callee}"({", ".join(f"double {a}" for a in args)})')

    def make_helper(self, key: tuple[Any, ...], nargs: int) -> str:
        """The function to call for operation ``key``: numba's implementation, lowered once.

        The helper is a ``double(double, ...)`` function of the module made with
        :class:`~dcompile.backend.llvm_lower._Lowering`; if its body is a single call
        of a declared function on its arguments, that function is the callee and
        the helper is dropped.
        """
        from llvmlite import ir

        names = "abc"[:nargs]
        expr = Op(f"{lp.UFUNC}{key[1]}" if key[0] == "ufunc" else "**", tuple(names))
        if key[0] == "ufunc" and not isinstance(getattr(np, key[1], None), np.ufunc):
            raise lp._NotLowerable
        f64 = self.types.float64
        p = lp.Plan("helper", tuple(names), frozenset(), ())
        dbl = ir.DoubleType()
        fnty = ir.FunctionType(dbl, [dbl] * nargs)
        name = self.module.get_unique_name(f"dcompile_{key[-2] if key[0] == 'ufunc' else 'pow'}")
        fn = ir.Function(self.module, fnty, name=name)
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        low = lp._Lowering(self.context, builder, p, [f64] * nargs, list(fn.args))
        builder.ret(_lower_value(low, expr))
        block = fn.blocks[0]
        if len(fn.blocks) == 1 and len(block.instructions) == 2:
            first = block.instructions[0]
            if (
                isinstance(first, ir.CallInstr)
                and isinstance(first.callee, ir.Function)
                and list(first.args) == list(fn.args)
                and not first.attributes
                and first.callee.is_declaration
            ):
                del self.module.globals[name]
                return first.callee.name
        return name


def _lower_value(low: Any, node: Op) -> Any:
    """The LLVM value of ``node`` through the ``llvmlite.ir`` lowering (numba's exception channel bypassed)."""
    with lp.without_exception_channel(low.context):
        value, ty = low.expr(node)
    if ty != low.types.float64:
        raise lp._NotLowerable
    return value
