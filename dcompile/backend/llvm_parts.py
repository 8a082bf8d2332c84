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
(``np.sin(t)``). Such a part is compiled here from its operation trees
(:class:`~dcompile.emit.records.Part`: the emitter records each plain float
statement's operations as it prints it, and the split adds its scratch loads
and stores), not from its text, and each operation is lowered with numba's *own* implementation of that operation
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

The text is read back in one case only: a part without trees (a module found
by the program cache, which keeps only the source; a part whose statements the
emitter gives no trees, such as a primitive's multi-line template). Its
``def`` is parsed and turned into the same trees (:func:`from_ast`), so both
ways lower through one code path.

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

from dcompile.backend.llvm_lower import (
    _BINOPS,
    _INPLACE,
    _UNARY,
    Plan,
    _Lowering,
    _NotLowerable,
    int_exponent,
    ufunc_of,
)
from dcompile.backend.llvm_text import TextLowering
from dcompile.backend.numba_private import fast_paths, target_context
from dcompile.backend.numba_private.text_function import text_function
from dcompile.emit.records import Assign, Elem, Op, Part, Tree


def plan(part: Part, *, optimize: bool = False) -> Plan | None:
    """The lowering plan of a part, or None if it has an operation outside the subset.

    The trees are plain float code by construction; what is checked here is what
    the lowering needs besides: every name read is a parameter or an earlier
    statement's (not a module global), every array a parameter, every operation
    one numba's implementation lowers inside a part (:func:`_probe`).
    """
    arrays: set[str] = set()
    local: set[str] = set(part.params)
    try:
        for stmt in part.body:
            if stmt.op is not None and (stmt.op not in _INPLACE or not isinstance(stmt.target, Elem)):
                raise _NotLowerable
            _check_expr(stmt.value, arrays, local)
            if isinstance(stmt.target, str):
                local.add(stmt.target)
            else:
                arrays.add(stmt.target.array)
    except _NotLowerable:
        return None
    if not arrays <= set(part.params):
        return None  # an array made inside the part, or a global (an array constant)
    return Plan(part.name, part.params, frozenset(arrays), part.body, optimize)


def _check_expr(node: Tree, arrays: set[str], local: set[str]) -> None:
    if isinstance(node, str):
        if node not in local:
            raise _NotLowerable  # a global (an array constant): left to numba
    elif isinstance(node, Elem):
        arrays.add(node.array)
    elif type(node) is not float:
        if not isinstance(node, Op):
            raise _NotLowerable  # an integer outside an exponent
        if node.op in _BINOPS:
            _check_expr(node.args[0], arrays, local)
            if int_exponent(node) is not None:
                return
            if node.op == "**" and not _probe("**", 2):
                raise _NotLowerable
            _check_expr(node.args[1], arrays, local)
        elif node.op in _UNARY:
            _check_expr(node.args[0], arrays, local)
        elif ufunc_of(node.op) is not None and _probe(node.op, len(node.args)):
            for arg in node.args:
                _check_expr(arg, arrays, local)
        else:
            raise _NotLowerable


# -- the text fallback ---------------------------------------------------------------
def from_ast(fn: ast.FunctionDef) -> Part | None:
    """The trees of a parsed part function, or None if it has a statement outside the subset.

    For the parts the emitter gave no trees (see the module docstring): the same
    trees as the emitter's for the same text.
    """
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    try:
        trees = tuple(_statement(s) for s in body)
    except _NotLowerable:
        return None
    return Part(fn.name, tuple(a.arg for a in fn.args.args), trees)


_AST_OPS: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.USub: "neg",
    ast.UAdd: "pos",
}


def _statement(stmt: ast.stmt) -> Assign:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        value = _tree(stmt.value)
        return Assign(target.id if isinstance(target, ast.Name) else _element(target), value)
    if isinstance(stmt, ast.AugAssign) and type(stmt.op) in _AST_OPS:
        return Assign(_element(stmt.target), _tree(stmt.value), _AST_OPS[type(stmt.op)])
    raise _NotLowerable


def _element(node: ast.expr) -> Elem:
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        raise _NotLowerable
    index = node.slice
    items = index.elts if isinstance(index, ast.Tuple) else [index]
    out = []
    for item in items:
        value = _int_constant(item)
        if value is None:
            raise _NotLowerable
        out.append(value)
    return Elem(node.value.id, tuple(out))


def _int_constant(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_constant(node.operand)
        return None if inner is None else -inner
    return None


def _tree(node: ast.expr) -> Tree:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and type(node.value) is float:
        return node.value
    if isinstance(node, ast.Subscript):
        return _element(node)
    if isinstance(node, ast.BinOp) and type(node.op) in _AST_OPS:
        k = _int_constant(node.right) if isinstance(node.op, ast.Pow) else None
        return Op(_AST_OPS[type(node.op)], (_tree(node.left), _tree(node.right) if k is None else k))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _AST_OPS:
        return Op(_AST_OPS[type(node.op)], (_tree(node.operand),))
    func = node.func if isinstance(node, ast.Call) else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np":
        assert isinstance(node, ast.Call)
        if not node.keywords:
            return Op(f"np.{func.attr}", tuple(_tree(a) for a in node.args))
    raise _NotLowerable


_PROBED: dict[tuple[str, int], bool] = {}


def _probe(op: str, nargs: int) -> bool:
    """Whether numba's implementation of operation ``op`` (over float64 ``a, b, c``) lowers inside a part.

    Some implementations compile an internal helper and propagate its error
    status through numba's calling convention (``np.hypot``, ``x ** y``): a part
    function, a plain ``void`` LLVM function, has no such channel. Each distinct
    operation is lowered once per process into a throwaway module; one that
    fails leaves its part to ``numba.njit``.
    """
    found = _PROBED.get((op, nargs))
    if found is None:
        from llvmlite import ir
        from numba.core import types

        context = target_context.cpu_context()
        params = ("_s", "a", "b", "c")
        argtys = [types.Array(types.float64, 1, "C"), types.float64, types.float64, types.float64]
        p = Plan("probe", params, frozenset({"_s"}), (Assign(Elem("_s", (0,)), Op(op, tuple("abc"[:nargs]))),))
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
        _PROBED[(op, nargs)] = found
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


def lower_parts(
    source: str, parts: tuple[str, ...], *, hot: tuple[str, ...] = (), plans: tuple[Part, ...] = ()
) -> dict[str, Any]:
    """Intrinsics for the parts of ``source`` that can be lowered directly (by name).

    Parts named in ``hot`` run once per iteration of a loop and are optimised by
    LLVM; the others run once per call and are not (see :func:`_codegen`).
    ``plans``: the parts' trees as the emitter gave them (the others are read
    from ``source``). None with the fast paths off (:mod:`dcompile.backend.numba_private`).
    """
    return split_parts(source, parts, hot=hot, plans=plans, definitions=False)[0] if fast_paths() else {}


def split_parts(
    source: str,
    parts: tuple[str, ...],
    *,
    hot: tuple[str, ...] = (),
    plans: tuple[Part, ...] = (),
    definitions: bool = True,
) -> tuple[dict[str, Any], list[ast.FunctionDef]]:
    """The intrinsics of the parts that lower directly, and the parsed definitions of the others
    (all of them with the fast paths off: :mod:`dcompile.backend.numba_private`).

    A part in ``plans`` is lowered from its trees; the source is parsed only when
    some part is not lowered that way: for its trees (:func:`from_ast`, a part
    without a plan) or, with ``definitions``, for its ``def`` to compile.
    """
    direct = fast_paths()
    given = {p.name: p for p in plans}
    out: dict[str, Any] = {}
    for name in parts:
        part = given.get(name) if direct else None
        p = plan(part, optimize=name in hot) if part is not None else None
        if p is not None:
            out[name] = intrinsic_for(p)
    rest: list[ast.FunctionDef] = []
    todo = [name for name in parts if name not in out and (definitions or name not in given)]
    if not todo:
        return out, rest
    wanted = set(todo)
    for node in _definitions(source, todo):
        if isinstance(node, ast.FunctionDef) and node.name in wanted:
            found = from_ast(node) if direct and node.name not in given else None
            p = plan(found, optimize=node.name in hot) if found is not None else None
            if p is not None:
                out[node.name] = intrinsic_for(p)
            elif definitions:
                rest.append(node)
    return out, rest


def _definitions(source: str, names: list[str]) -> list[ast.stmt]:
    """The parsed ``def`` of each part in ``names``, at its line numbers in ``source``.

    Each part is a module-level function after the main function, two blank lines
    before it: only its own text is parsed. If one is not found so, the module is
    parsed from the first part named on.
    """
    out: list[ast.stmt] = []
    for name in names:
        start = source.find(f"\n\n\ndef {name}(")
        if start < 0:
            break
        start += 3
        end = source.find("\n\n\ndef ", start)
        tree = ast.parse(source[start : end + 1 if end >= 0 else len(source)])
        ast.increment_lineno(tree, source.count("\n", 0, start))
        out += tree.body
    else:
        return out
    start = source.find(f"\ndef {names[0]}(")
    text = "\n" * source.count("\n", 0, start + 1) + source[start + 1 :] if start >= 0 else source
    return ast.parse(text).body
