"""Lower the float-arithmetic parts of a split function straight to LLVM IR (issue 7).

numba spends about a millisecond of Python per operation before LLVM sees
any code (building its IR, type inference, lowering one instruction at a
time through its registries). Unrolled gradient code is tens of thousands of
operations, so that floor alone is minutes; splitting the function into
parts (:mod:`dcompile.emit.chunking`) removes the superlinear part of
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

This lowering is a fast path on numba's internals: the target context's
lowering methods, and the hooks of :mod:`dcompile.backend.numba_private`
(``text_function``, ``exception_channel``, ``array_layout``,
``target_context``, ``ufunc_loops``). With the fast paths off (numba outside
the tested range, or ``DCOMPILE_FAST_PATHS=0``) :func:`split_parts` lowers
nothing and every part is compiled by ``numba.njit``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.backend.llvm_lower import (
    _BINOPS,
    _INPLACE,
    _UNARY,
    Plan,
    _indices,
    _int_constant,
    _Lowering,
    _NotLowerable,
)
from dcompile.backend.llvm_text import TextLowering
from dcompile.backend.numba_private import fast_paths, target_context
from dcompile.backend.numba_private.text_function import text_function


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

        context = target_context.cpu_context()
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


def _codegen(p: Plan) -> Callable[..., Any]:
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        from llvmlite import ir

        module = builder.module
        argtys = list(sig.args)
        lltypes = [
            context.get_value_type(ty).as_pointer() if name in p.arrays else context.get_value_type(ty)
            for name, ty in zip(p.params, argtys, strict=True)
        ]
        fn = text_function(module, ir.FunctionType(ir.VoidType(), lltypes), module.get_unique_name(p.name))
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


def lower_parts(source: str, parts: tuple[str, ...], *, hot: tuple[str, ...] = ()) -> dict[str, Any]:
    """Intrinsics for the parts of ``source`` that can be lowered directly (by name).

    Parts named in ``hot`` run once per iteration of a loop and are optimised by
    LLVM; the others run once per call and are not (see :func:`_codegen`).
    None with the fast paths off (:mod:`dcompile.backend.numba_private`).
    """
    return split_parts(source, parts, hot=hot)[0] if fast_paths() else {}


def split_parts(
    source: str, parts: tuple[str, ...], *, hot: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[ast.FunctionDef]]:
    """The intrinsics of the parts that lower directly, and the parsed definitions of the others
    (all of them with the fast paths off: :mod:`dcompile.backend.numba_private`)."""
    direct = fast_paths()
    wanted = set(parts)
    out: dict[str, Any] = {}
    rest: list[ast.FunctionDef] = []
    # The parts follow the main function: parse from the first one (the module's head and
    # main function are not needed here); blank lines in their place keep the line numbers.
    start = source.find(f"\ndef {parts[0]}(") if parts else -1
    text = "\n" * source.count("\n", 0, start + 1) + source[start + 1 :] if start >= 0 else source
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name in wanted:
            p = plan(node, optimize=node.name in hot) if direct else None
            if p is not None:
                out[node.name] = intrinsic_for(p)
            else:
                rest.append(node)
    return out, rest
