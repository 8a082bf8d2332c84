"""Lower the float-arithmetic parts of a split function straight to LLVM IR (issue 7).

numba spends about a millisecond of Python per operation before LLVM sees
any code (building its IR, type inference, lowering one instruction at a
time through its registries). Unrolled gradient code is tens of thousands of
operations, so that floor alone is minutes; splitting the function into
parts (:mod:`dcompile.backend.chunking`) removes the superlinear part of
the cost, not the floor.

The parts of a split function are mostly plain float arithmetic:
``name = expr`` statements over float64 scalars, subscripts of float64 arrays
with constant indices (``_s[12]``, ``x[3]``, ``_out[4] = ...``,
``g[2] += ...``), ``+ - * / **``, unary minus and NumPy ufunc calls
(``np.sin(t)``). Such a part is compiled here: its statements are read from
the emitted source (the readable artefact stays the one source of truth) and
each operation is lowered with numba's *own* implementation of that operation
(``context.get_function(op, signature)``, the ufunc kernels of
``numba.np.ufunc_db``), looked up once per distinct signature instead of once
per statement. The generated machine code is therefore the code numba
generates for the same statement, bit for bit, while the per-statement cost
drops from about a millisecond to tens of microseconds.

Each such part becomes a numba ``intrinsic`` that emits one LLVM function
(array arguments by pointer, scalars by value) and a call to it; the main
function is compiled by numba as usual, so ``.njit`` works from user numba
code and numba's disk cache stores the whole machine code. A part with any
other statement (an allocation, a fused loop, a select, a call numba would
type differently) is compiled by ``numba.njit`` as before.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

_BINOPS: dict[type[ast.operator], Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_INPLACE: dict[type[ast.operator], Callable[..., Any]] = {
    ast.Add: operator.iadd,
    ast.Sub: operator.isub,
    ast.Mult: operator.imul,
    ast.Div: operator.itruediv,
}
_UNARY: dict[type[ast.unaryop], Callable[..., Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class _NotLowerable(Exception):
    """A statement outside the subset this module lowers."""


@dataclass(frozen=True)
class Plan:
    """A part that can be lowered: its parameters, which are arrays, and its statements."""

    name: str
    params: tuple[str, ...]
    arrays: frozenset[str]
    body: tuple[ast.stmt, ...]
    optimize: bool = False


def plan(fn: ast.FunctionDef, *, optimize: bool = False) -> Plan | None:
    """The lowering plan of a part function, or None if it has a statement outside the subset."""
    params = tuple(a.arg for a in fn.args.args)
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    arrays: set[str] = set()
    local: set[str] = set(params)
    try:
        for stmt in body:
            _check_stmt(stmt, arrays, local)
    except _NotLowerable:
        return None
    if not arrays <= set(params):
        return None  # an array made inside the part, or a global (an array constant)
    return Plan(fn.name, params, frozenset(arrays), tuple(body), optimize)


def _check_stmt(stmt: ast.stmt, arrays: set[str], local: set[str]) -> None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        _check_expr(stmt.value, arrays, local)
        if isinstance(target, ast.Name):
            local.add(target.id)
        else:
            _check_subscript(target, arrays)
    elif isinstance(stmt, ast.AugAssign) and type(stmt.op) in _INPLACE and isinstance(stmt.target, ast.Subscript):
        _check_expr(stmt.value, arrays, local)
        _check_subscript(stmt.target, arrays)
    else:
        raise _NotLowerable


def _check_subscript(node: ast.expr, arrays: set[str]) -> None:
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        raise _NotLowerable
    _indices(node)
    arrays.add(node.value.id)


def _indices(node: ast.Subscript) -> tuple[int, ...]:
    index = node.slice
    items = index.elts if isinstance(index, ast.Tuple) else [index]
    out = []
    for item in items:
        value = _int_constant(item)
        if value is None:
            raise _NotLowerable
        out.append(value)
    return tuple(out)


def _int_constant(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_constant(node.operand)
        return None if inner is None else -inner
    return None


def _check_expr(node: ast.expr, arrays: set[str], local: set[str]) -> None:
    if isinstance(node, ast.Name):
        if node.id not in local:
            raise _NotLowerable  # a global (an array constant): left to numba
    elif isinstance(node, ast.Constant):
        if type(node.value) is not float:
            raise _NotLowerable
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        _check_expr(node.left, arrays, local)
        if isinstance(node.op, ast.Pow) and _int_constant(node.right) is not None:
            return
        if isinstance(node.op, ast.Pow) and not _probe("a ** b"):
            raise _NotLowerable
        _check_expr(node.right, arrays, local)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check_expr(node.operand, arrays, local)
    elif isinstance(node, ast.Subscript):
        _check_subscript(node, arrays)
    elif isinstance(node, ast.Call):
        _check_call(node, arrays, local)
    else:
        raise _NotLowerable


def _check_call(node: ast.Call, arrays: set[str], local: set[str]) -> None:
    """A NumPy ufunc called on plain float expressions, whose implementation lowers in a part."""
    func = node.func
    if not (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "np"
        and isinstance(getattr(np, func.attr, None), np.ufunc)
        and not node.keywords
        and _probe(f"np.{func.attr}({', '.join('abc'[: len(node.args)])})")
    ):
        raise _NotLowerable
    for arg in node.args:
        _check_expr(arg, arrays, local)


_PROBED: dict[str, bool] = {}


def _probe(expr: str) -> bool:
    """Whether numba's implementation of ``expr`` (over float64 ``a, b, c``) lowers inside a part.

    Some implementations compile an internal helper and propagate its error
    status through numba's calling convention (``np.hypot``, ``x ** y``): a part
    function, a plain ``void`` LLVM function, has no such channel. Each distinct
    operation is lowered once per process into a throwaway module; one that
    fails leaves its part to ``numba.njit``.
    """
    found = _PROBED.get(expr)
    if found is None:
        from llvmlite import ir
        from numba.core import types
        from numba.core.registry import cpu_target

        context = cpu_target.target_context
        context.refresh()
        params = ("_s", "a", "b", "c")
        argtys = [types.Array(types.float64, 1, "C"), types.float64, types.float64, types.float64]
        p = Plan("probe", params, frozenset({"_s"}), tuple(ast.parse(f"_s[0] = {expr}").body))
        module = ir.Module("dcompile_probe")
        lltypes = [context.get_value_type(argtys[0]).as_pointer()] + [context.get_value_type(t) for t in argtys[1:]]
        fn = ir.Function(module, ir.FunctionType(ir.VoidType(), lltypes), name="probe")
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        try:
            # A code library to link internal helpers into, as during a real compile.
            with context.push_code_library(context.codegen().create_library("dcompile_probe")):
                _Lowering(context, builder, p, argtys, fn.args).run()
            found = True
        except Exception:
            found = False
        _PROBED[expr] = found
    return found


def intrinsic_for(p: Plan) -> Any:
    """A numba intrinsic that compiles part ``p`` to one LLVM function and calls it."""
    from numba.core import types
    from numba.core.errors import TypingError
    from numba.extending import intrinsic

    def typer(typingctx: Any, argtys: tuple[Any, ...]) -> Any:
        for name, ty in zip(p.params, argtys, strict=True):
            want_array = name in p.arrays
            ok = (
                isinstance(ty, types.Array) and ty.dtype == types.float64 and ty.layout == "C"
                if want_array
                else ty == types.float64
            )
            if not ok:
                raise TypingError(
                    f"{p.name}: argument {name} is {ty}, not {'a float64 array' if want_array else 'float64'}"
                )
        return types.none(*argtys), _codegen(p)

    names = [f"a{k}" for k in range(len(p.params))]
    src = f"def {p.name}(typingctx, {', '.join(names)}):\n    return typer(typingctx, ({', '.join(names)},))\n"
    ns: dict[str, Any] = {"typer": typer}
    exec(src, ns)
    return intrinsic(ns[p.name])


@functools.cache
def _text_function_class() -> Any:
    """An ``llvmlite.ir.Function`` whose body may be given as LLVM assembly text (``.text``)."""
    from llvmlite import ir

    class TextFunction(ir.Function):  # type: ignore[misc]
        text: str | None = None

        def descr_body(self, buf: list[str]) -> None:
            if self.text is None:
                super().descr_body(buf)
            else:
                buf.append(self.text)

    return TextFunction


def _codegen(p: Plan) -> Callable[..., Any]:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        from llvmlite import ir

        module = builder.module
        argtys = list(sig.args)
        lltypes = [
            context.get_value_type(ty).as_pointer() if name in p.arrays else context.get_value_type(ty)
            for name, ty in zip(p.params, argtys, strict=True)
        ]
        fn = _text_function_class()(
            module, ir.FunctionType(ir.VoidType(), lltypes), name=module.get_unique_name(p.name)
        )
        fn.linkage = "internal"
        # Kept a function of its own: inlined into its single caller, every part would
        # make one huge function again, and LLVM's code generation is superlinear in that.
        fn.attributes.add("noinline")
        if not p.optimize:
            # Not optimised: a part that runs once per call is straight-line float
            # arithmetic that LLVM's passes barely improve (calls 4-7% slower) but that
            # they took a third of the compile time on (N = 2,000 chain: 5.5 -> 3.5 s;
            # docs/design.md). A part of a loop body runs once per direction, and there
            # optimising pays (2,000-operation Hessian: 575 -> 361 us per call).
            fn.attributes.add("optnone")
        # A block even when the body is text: llvmlite prints a function without blocks as a declaration.
        inner = ir.IRBuilder(fn.append_basic_block("entry"))
        argnames = [f"a{k}" for k in range(len(p.params))]
        for arg, name in zip(fn.args, argnames, strict=True):
            arg.name = name
        try:  # the body as LLVM text (backend/llvm_text.py), else through llvmlite.ir objects
            from dcompile.backend.llvm_text import TextLowering

            fn.text = TextLowering(context, module, p, argtys, [f'%"{n}"' for n in argnames]).body()
        except _NotLowerable:
            fn.text = None
            _Lowering(context, inner, p, argtys, fn.args).run()
            inner.ret_void()
        call_args = []
        for name, value in zip(p.params, args, strict=True):
            if name in p.arrays:
                slot = builder.alloca(value.type)
                builder.store(value, slot)
                call_args.append(slot)
            else:
                call_args.append(value)
        builder.call(fn, call_args)
        return context.get_dummy_value()

    return codegen


@contextmanager
def without_exception_channel(context: Any) -> Iterator[None]:
    """numba's internal helpers called without status propagation while the block runs.

    Some implementations (``np.abs``, ``np.hypot``, ``x ** y``) compile a helper with
    ``context.compile_internal`` and propagate its error status through numba's
    calling convention, which a part or helper function (a plain LLVM function)
    does not have. A float result whose helper reported an error becomes NaN; under
    the NumPy error model these float helpers do not raise.
    """
    from numba.core import types

    nan = context.get_constant(types.float64, float("nan"))

    def call_internal(builder: Any, fndesc: Any, sig: Any, args: Any) -> Any:
        status, res = context.call_internal_no_propagate(builder, fndesc, sig, args)
        if sig.return_type == types.float64:
            res = builder.select(status.is_error, nan, res)
        return res

    context.call_internal = call_internal
    try:
        yield
    finally:
        del context.call_internal


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
            if isinstance(stmt, ast.Assign):
                target = stmt.targets[0]
                value, ty = self.expr(stmt.value)
                if isinstance(target, ast.Name):
                    self.env[target.id] = (value, ty)
                else:
                    self.store(target, value, ty)
            else:
                assert isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Subscript)
                old = self.load(stmt.target)
                new = self.expr(stmt.value)
                fn = _INPLACE[type(stmt.op)]
                self.store(stmt.target, *self.binop(fn, (*old, None), (*new, None)))

    # -- array elements --------------------------------------------------------------
    def pointer(self, node: ast.Subscript) -> tuple[Any, Any]:
        """The address of an element at constant indices (negative ones count from the end).

        The address, not the code that computes it, is what matters: the load or
        store is the one numba emits. Shapes, strides and the data pointer are
        unpacked once per array and each element's address computed once per part
        (a part is one basic block on the main line, so the first computation
        dominates every later use).
        """
        from numba.core import cgutils

        assert isinstance(node.value, ast.Name)
        name = node.value.id
        aryty, ary = self.arrays[name]
        indices = _indices(node)
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

    def load(self, node: ast.Subscript) -> tuple[Any, Any]:
        # float64 arrays only (see the typer): numba's data model stores a float64 as a double.
        aryty, ptr = self.pointer(node)
        return self.builder.load(ptr), aryty.dtype

    def store(self, node: ast.expr, value: Any, ty: Any) -> None:
        assert isinstance(node, ast.Subscript)
        aryty, ptr = self.pointer(node)
        if ty != aryty.dtype:
            value = self.context.cast(self.builder, value, ty, aryty.dtype)
        self.builder.store(value, ptr)

    # -- expressions -----------------------------------------------------------------
    def expr(self, node: ast.expr) -> tuple[Any, Any]:
        """LLVM value and numba type of an expression."""
        if isinstance(node, ast.Name):
            return self.env[node.id]
        if isinstance(node, ast.Constant):
            return self.context.get_constant(self.types.float64, node.value), self.types.float64
        if isinstance(node, ast.Subscript):
            return self.load(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            value, ty = self.expr(node.operand)
            return self.call(_UNARY[type(node.op)], [(value, ty)])
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        return self.call(getattr(np, node.func.attr), [self.expr(a) for a in node.args])

    def binary(self, node: ast.BinOp) -> tuple[Any, Any]:
        lhs = (*self.expr(node.left), None)
        k = _int_constant(node.right) if isinstance(node.op, ast.Pow) else None
        if k is not None:
            return self.int_power(lhs[0], lhs[1], k)
        rhs = (*self.expr(node.right), None)
        return self.binop(_BINOPS[type(node.op)], lhs, rhs)

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
        and calls the loop's implementation from ``numba.np.ufunc_db``; calling
        that implementation directly emits the same instructions, without the
        kernel's per-call bookkeeping.
        """
        fnty = self.typing.resolve_value_type(fn)
        sig = fnty.get_call_type(self.typing, argtys, {})
        if sig is None:
            raise _NotLowerable
        if isinstance(fn, np.ufunc) and fn.nout == 1:
            from numba.np import ufunc_db

            loop = "d" * fn.nin + "->d"
            kernel = ufunc_db.get_ufunc_info(fn).get(loop)
            if kernel is not None and all(t == self.types.float64 for t in (*sig.args, sig.return_type)):
                return sig, kernel, True
        return sig, self.context.get_function(fnty, sig), False


def lower_parts(source: str, parts: tuple[str, ...], *, hot: tuple[str, ...] = ()) -> dict[str, Any]:
    """Intrinsics for the parts of ``source`` that can be lowered directly (by name).

    Parts named in ``hot`` run once per iteration of a loop and are optimised by
    LLVM; the others run once per call and are not (see :func:`_codegen`).
    """
    return split_parts(source, parts, hot=hot)[0]


def split_parts(
    source: str, parts: tuple[str, ...], *, hot: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[ast.FunctionDef]]:
    """The intrinsics of the parts that lower directly, and the parsed definitions of the others."""
    wanted = set(parts)
    out: dict[str, Any] = {}
    rest: list[ast.FunctionDef] = []
    # The parts follow the main function: parse from the first one (the module's head and
    # main function are not needed here); blank lines in their place keep the line numbers.
    start = source.find(f"\ndef {parts[0]}(") if parts else -1
    text = "\n" * source.count("\n", 0, start + 1) + source[start + 1 :] if start >= 0 else source
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name in wanted:
            p = plan(node, optimize=node.name in hot)
            if p is not None:
                out[node.name] = intrinsic_for(p)
            else:
                rest.append(node)
    return out, rest
