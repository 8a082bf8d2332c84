"""Loops that stay loops: ``dc.scan`` and ``dc.fori_loop`` (JAX's semantics).

A Python ``for`` loop is unrolled by tracing: fine for tens of steps, a graph
too large to compile for 10^4. ``dc.scan(body, init, xs)`` traces ``body``
once, into its own graph, and records one equation of the ``scan``
primitive; the emitter prints a ``for`` loop calling the body's function, so
the generated code does not grow with the number of steps.

The equation's single result is the *tape*, a float64 vector holding the carry
before every step and after the last (``(T + 1) * C`` entries for a carry of
``C`` numbers) followed by the per-step outputs (``T * Y``): the final carry
and the stacked outputs are slices of it. Keeping every carry costs memory
``O(T * C)`` and makes reverse mode a second loop over the stored states:

* forward mode: one loop whose body is the body's JVP, carrying the state and
  its tangent together (tangents of the initial carry, the scanned inputs and
  the values the body reads from outside, all at once);
* reverse mode: one loop running backwards over the tape, whose body is the
  body's VJP, carrying the cotangent of the state and accumulating those of
  the values read from outside; the scanned inputs' cotangents are its
  per-step outputs.

Both derivative loops are ``scan`` equations too, so derivatives of
derivatives (Hessians by forward over reverse) follow.

Values of the enclosing function that the body reads (parameters, data) are
captured as inputs of the body's graph (see ``Builder.capture``);
computations on them alone happen once, outside the loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcompile.errors import SignatureError, TraceError
from dcompile.frontend.namespace import with_traceable_globals
from dcompile.frontend.pytree import TreeDef, flatten, unflatten
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Graph, Value
from dcompile.ir.interpret import run_graph
from dcompile.ir.primitive import PREC_ATOM, Primitive, register
from dcompile.ir.tracer import Tracer, active_builder, bind, lift, tracing_into
from dcompile.ir.types import DType, VType
from dcompile.primitives import arrays as A
from dcompile.transforms.scalarize import scalarize

_names = itertools.count()
SPLIT_LIMIT = 16  # carry and output arrays of at most this many entries cross the loop as scalars


def _size(t: VType) -> int:
    return int(np.prod(t.shape, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class Body:
    """A loop body: its graph and how its inputs and outputs divide.

    Graph inputs: ``[index]`` (the step's position in the scanned inputs, an
    int64, when ``indexed``), the carry leaves, one slice of each scanned
    input, the values read from outside. Outputs: the new carry leaves, then
    the per-step outputs. Compared by identity (an equation parameter).
    """

    graph: Graph
    indexed: bool
    n_carry: int
    n_x: int
    name: str

    @property
    def carry_types(self) -> tuple[VType, ...]:
        start = int(self.indexed)
        return tuple(v.type for v in self.graph.inputs[start : start + self.n_carry])

    @property
    def y_types(self) -> tuple[VType, ...]:
        return tuple(v.type for v in self.graph.outputs[self.n_carry :])

    @property
    def carry_size(self) -> int:
        return sum(_size(t) for t in self.carry_types)

    @property
    def y_size(self) -> int:
        return sum(_size(t) for t in self.y_types)

    @property
    def n_const(self) -> int:
        return len(self.graph.inputs) - int(self.indexed) - self.n_carry - self.n_x

    def __repr__(self) -> str:
        return f"<loop body {self.name}>"


def _tape_size(body: Body, length: int) -> int:
    return (length + 1) * body.carry_size + length * body.y_size


def _type_rule(*types: VType, body: Body, length: int, reverse: bool) -> VType:
    return VType((_tape_size(body, length),), DType.F64)


# -- the reference implementation (constant folding, checks) ---------------------------------------


def _impl(*ins: Any, body: Body, length: int, reverse: bool) -> np.ndarray:
    carry = [np.asarray(c, dtype=np.float64) for c in ins[: body.n_carry]]
    xs = ins[body.n_carry : body.n_carry + body.n_x]
    consts = list(ins[body.n_carry + body.n_x :])
    C, Y = body.carry_size, body.y_size
    tape = np.empty(_tape_size(body, length))
    tape[:C] = np.concatenate([np.ravel(c) for c in carry]) if carry else []
    for step in range(length):
        t = length - 1 - step if reverse else step
        head = [np.int64(t)] if body.indexed else []
        out = run_graph(body.graph, [*head, *carry, *(x[t] for x in xs), *consts])
        carry = out[: body.n_carry]
        if C:
            tape[(step + 1) * C : (step + 2) * C] = np.concatenate([np.ravel(c) for c in carry])
        if Y:
            base = (length + 1) * C + t * Y
            tape[base : base + Y] = np.concatenate([np.ravel(y) for y in out[body.n_carry :]])
    return tape


# -- the emitted loop -------------------------------------------------------------------------------


def _emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    body = params["body"]
    return f"scan({body.name}, length={params['length']})", PREC_ATOM


def _emit_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    from dcompile.emit.emitter import emit_function

    body: Body = params["body"]
    length: int = params["length"]
    module = params["_module"]
    fn = module.fresh(f"{target}_body")
    emit_function(scalarize(body.graph) or body.graph, fn, module)
    nc, nx = body.n_carry, body.n_x
    C, Y = body.carry_size, body.y_size
    carry = [f"{target}__c{k}" for k in range(nc)]
    xs = [f"{target}__x{k}" for k in range(nx)]
    consts = [f"{target}__k{k}" for k in range(body.n_const)]
    ys = [f"{target}__y{k}" for k in range(len(body.y_types))]
    step, t = f"{target}__s", f"{target}__t"
    lines = [f"{target} = np.empty({_tape_size(body, length)})"]
    lines += [f"{name} = {src}" for name, src in zip(carry, args[:nc], strict=True)]
    lines += [f"{name} = {src}" for name, src in zip(xs, args[nc : nc + nx], strict=True)]
    lines += [f"{name} = {src}" for name, src in zip(consts, args[nc + nx :], strict=True)]
    lines += _store(target, "0", carry, body.carry_types)
    lines.append(f"for {step} in range({length}):")
    inner = [f"{t} = {length - 1} - {step}" if params["reverse"] else f"{t} = {step}"]
    call_args = ([t] if body.indexed else []) + carry + [f"{x}[{t}]" for x in xs] + consts
    results = carry + ys
    lhs = ", ".join(results) if len(results) != 1 else results[0]
    inner.append(f"{lhs} = {fn}({', '.join(call_args)})" if results else f"{fn}({', '.join(call_args)})")
    if C:
        inner += _store(target, f"({step} + 1) * {C}", carry, body.carry_types)
    if Y:
        inner += _store(target, f"{(length + 1) * C} + {t} * {Y}", ys, body.y_types)
    lines += [f"    {line}" for line in inner]
    return lines


def _store(target: str, base: str, names: Sequence[str], types: Sequence[VType]) -> list[str]:
    """Statements writing the leaves ``names`` into the tape from position ``base`` on."""
    out, offset = [], 0
    for name, t in zip(names, types, strict=True):
        n = _size(t)
        at = f"{base} + {offset}" if offset else base
        if t.rank == 0:
            out.append(f"{target}[{at}] = {name}")
        else:
            out.append(f"{target}[{at}:{at} + {n}] = np.ravel({name})")
        offset += n
    return out


# -- derivatives -------------------------------------------------------------------------------------


def _leaf_slices(tape: Any, start: int, types: Sequence[VType]) -> list[Any]:
    out, offset = [], start
    for t in types:
        n = _size(t)
        piece = tape[offset : offset + n]
        out.append(piece.reshape(t.shape) if t.rank else piece[0])
        offset += n
    return out


def _stacked(tape: Any, start: int, rows: int, width: int, types: Sequence[VType]) -> list[Any]:
    """Per leaf, its value at every step: ``(rows, *shape)`` from a ``rows x width`` block of the tape."""
    block = tape[start : start + rows * width].reshape((rows, width))
    out, offset = [], 0
    for t in types:
        n = _size(t)
        out.append(block[:, offset : offset + n].reshape((rows, *t.shape)))
        offset += n
    return out


def _zeros(b: Builder, t: VType) -> Tracer:
    zero = lift(b, 0.0)
    return A.broadcast_to(zero, t.shape) if t.rank else zero


def _trace_graph(
    fn: Callable[..., list[Any]], types: Sequence[VType], name: str, parent: Builder
) -> tuple[Graph, list[Tracer]]:
    """Trace ``fn`` (a function of tracers, returning a list of values) into a nested graph.

    Returns the graph, whose inputs are ``types`` followed by the values it
    captured from enclosing traces, and those captured values (tracers of the enclosing traces).
    """
    b = Builder()
    b.parent = parent
    b.locate, b.origin = parent.locate, parent.origin  # a body derived by a transform keeps its origin
    inputs = [b.new_input(t) for t in types]
    with tracing_into(b):
        outs = fn(*[Tracer(b, v) for v in inputs])
    values = [o.value if isinstance(o, Tracer) and o.builder is b else lift(b, o).value for o in outs]
    values = [
        b.capture(o) if isinstance(o, Tracer) and o.builder is not b else v for o, v in zip(outs, values, strict=True)
    ]
    captured = [outer for outer, _ in b.captured.values()]
    graph = b.build(name, [*inputs, *(inner for _, inner in b.captured.values())], values)
    return graph, captured


def _split_ins(ins: Sequence[Any], body: Body) -> tuple[list[Any], list[Any], list[Any]]:
    nc, nx = body.n_carry, body.n_x
    return list(ins[:nc]), list(ins[nc : nc + nx]), list(ins[nc + nx :])


def _jvp_joint(tangents: Sequence[Tracer | None], ans: Tracer, ins: Sequence[Tracer], **params: Any) -> Tracer | None:
    """The tangent of the tape: one loop carrying the state and its tangent (see the module doc)."""
    from dcompile.transforms.forward import push_forward
    from dcompile.transforms.replay import replay

    body: Body = params["body"]
    length: int = params["length"]
    b = ans.builder
    carry, xs, consts = _split_ins(ins, body)
    t_carry, t_xs, t_consts = _split_ins(tangents, body)
    graph = body.graph
    head = int(body.indexed)
    x_live = [k for k, t in enumerate(t_xs) if t is not None]
    k_live = [k for k, t in enumerate(t_consts) if t is not None]
    carry_types = list(body.carry_types)
    x_types = [v.type for v in graph.inputs[head + body.n_carry : head + body.n_carry + body.n_x]]
    const_types = [v.type for v in graph.inputs[head + body.n_carry + body.n_x :]]
    nc = body.n_carry

    def step(*vals: Tracer) -> list[Any]:
        it = iter(vals)
        index = [next(it)] if body.indexed else []
        c = [next(it) for _ in range(nc)]
        dc = [next(it) for _ in range(nc)]
        x = [next(it) for _ in range(body.n_x)]
        dx = {k: next(it) for k in x_live}
        k_vals = [next(it) for _ in range(len(const_types))]
        dk = {k: next(it) for k in k_live}
        sb = c[0].builder if c else (x[0].builder if x else k_vals[0].builder)
        env = replay(sb, graph, dict(zip(graph.inputs, [*index, *c, *x, *k_vals], strict=True)))
        seeds: dict[Value, Tracer] = {}
        for k, v in enumerate(graph.inputs[head : head + nc]):
            seeds[v] = dc[k]
        for k in x_live:
            seeds[graph.inputs[head + nc + k]] = dx[k]
        for k in k_live:
            seeds[graph.inputs[head + nc + body.n_x + k]] = dk[k]
        tan = push_forward(sb, graph, env, seeds)
        outs = [env[v] for v in graph.outputs]
        touts = [tan.get(v) for v in graph.outputs]
        touts = [t if t is not None else _zeros(sb, v.type) for t, v in zip(touts, graph.outputs, strict=True)]
        return [*outs[:nc], *touts[:nc], *outs[nc:], *touts[nc:]]

    types = (
        ([VType((), DType.I64)] if body.indexed else [])
        + carry_types * 2
        + x_types
        + [x_types[k] for k in x_live]
        + const_types
        + [const_types[k] for k in k_live]
    )
    jgraph, captured = _trace_graph(step, types, f"{body.name}_jvp", b)
    jbody = Body(jgraph, body.indexed, 2 * nc, body.n_x + len(x_live), f"{body.name}_jvp")
    init_t = [t if t is not None else _zeros(b, ty) for t, ty in zip(t_carry, carry_types, strict=True)]
    tape2 = bind(
        scan_p,
        *carry,
        *init_t,
        *xs,
        *(t_xs[k] for k in x_live),
        *consts,
        *(t_consts[k] for k in k_live),
        *captured,
        body=jbody,
        length=length,
        reverse=params["reverse"],
    )
    C, Y = body.carry_size, body.y_size
    parts = []
    if C:
        parts.append(tape2[: (length + 1) * 2 * C].reshape((length + 1, 2 * C))[:, C:].reshape(((length + 1) * C,)))
    if Y:
        parts.append(tape2[(length + 1) * 2 * C :].reshape((length, 2 * Y))[:, Y:].reshape((length * Y,)))
    from dcompile.primitives.numpy_api import concatenate

    return concatenate(parts) if len(parts) > 1 else parts[0]


class _Reverse:
    """The reverse sweep of one scan equation, made once per cotangent and shared by its inputs."""

    def __init__(self) -> None:
        self.memo: dict[tuple[int, ...], list[Any]] = {}

    def cotangents(self, g: Tracer, ans: Tracer, ins: Sequence[Tracer], params: dict[str, Any]) -> list[Any]:
        key = (g.value.id, ans.value.id, *(t.value.id for t in ins))
        if key not in self.memo:
            self.memo[key] = _reverse_sweep(g, ans, ins, params)
        return self.memo[key]


_REVERSE = _Reverse()


def _reverse_sweep(g: Tracer, ans: Tracer, ins: Sequence[Tracer], params: dict[str, Any]) -> list[Any]:  # noqa: PLR0915
    """Cotangents of every input of a scan from the tape's cotangent ``g`` (see the module doc)."""
    from dcompile.transforms.replay import replay
    from dcompile.transforms.reverse import pull_back

    body: Body = params["body"]
    length: int = params["length"]
    reverse: bool = params["reverse"]
    b = g.builder
    graph = body.graph
    head = int(body.indexed)
    nc, nx = body.n_carry, body.n_x
    _, xs, consts = _split_ins(ins, body)
    carry_types = list(body.carry_types)
    x_types = [v.type for v in graph.inputs[head + nc : head + nc + nx]]
    const_types = [v.type for v in graph.inputs[head + nc + nx :]]
    y_types = list(body.y_types)
    C, Y = body.carry_size, body.y_size
    diff_x = [k for k, t in enumerate(x_types) if t.dtype.differentiable]
    diff_k = [k for k, t in enumerate(const_types) if t.dtype.differentiable]

    # The reverse loop visits step s = T-1 ... 0 of the forward one, whose carry before it is
    # tape row s; it scans (state before step s, its scanned inputs, the cotangents of its
    # outputs and of the stored state after it).
    def step(*vals: Tracer) -> list[Any]:
        it = iter(vals)
        index = [next(it)] if body.indexed else []
        lam: list[Any] = [next(it) for _ in range(nc)]  # cotangent of the carry after this step
        # accumulated cotangents of the outside values (small ones as their entries: no allocation per step)
        acc: list[Any] = [_join([next(it) for _ in range(_parts(t) or 1)], t) for t in acc_types]
        c = [next(it) for _ in range(nc)]  # the carry before this step (from the tape)
        x = [next(it) for _ in range(nx)]
        gy = [next(it) for _ in y_types]
        gc: list[Any] = [next(it) for _ in range(nc)]  # the tape's own cotangent at the carry before this step
        k_vals = [next(it) for _ in const_types]
        sb = (lam + c + x + k_vals)[0].builder
        env = replay(sb, graph, dict(zip(graph.inputs, [*index, *c, *x, *k_vals], strict=True)))
        cot: dict[Value, Any] = {}
        for v, gv in zip(graph.outputs, [*lam, *gy], strict=True):
            cot[v] = gv if v not in cot else cot[v] + gv
        adj = pull_back(sb, graph, env, cot)
        new_lam = []
        for k, v in enumerate(graph.inputs[head : head + nc]):
            a: Any = adj.get(v)
            new_lam.append(gc[k] if a is None else a + gc[k])
        new_acc = []
        for j, k in enumerate(diff_k):
            a = adj.get(graph.inputs[head + nc + nx + k])
            new_acc.append(acc[j] if a is None else acc[j] + a)
        gx = []
        for k in diff_x:
            a = adj.get(graph.inputs[head + nc + k])
            gx.append(a if a is not None else _zeros(sb, x_types[k]))
        return [*new_lam, *_split_all(new_acc), *_split_all(gx)]

    acc_types = [const_types[k] for k in diff_k]
    types = (
        ([VType((), DType.I64)] if body.indexed else [])
        + carry_types
        + _split_types(acc_types)
        + carry_types
        + x_types
        + y_types
        + carry_types
        + const_types
    )
    rgraph, captured = _trace_graph(step, types, f"{body.name}_vjp", b)
    rbody = Body(
        rgraph, body.indexed, nc + len(_split_types(acc_types)), 2 * nc + nx + len(y_types), f"{body.name}_vjp"
    )
    # scanned inputs, indexed by the forward step position t (the reverse scan of a reversed
    # scan is a forward one): the carry before step t is tape row k(t).
    rows = _stacked(ans, 0, length + 1, C, carry_types) if C else []
    gy_rows = _stacked(g, (length + 1) * C, length, Y, y_types) if Y else []
    g_rows = _stacked(g, 0, length + 1, C, carry_types) if C else []

    def by_position(stacked: Any) -> Any:
        """Rows 0..T-1 of per-iteration values, reordered by scanned position when the scan runs backwards."""
        rows_t = stacked[:length]
        return rows_t[::-1] if reverse else rows_t

    lam0: list[Any] = [gr[length] for gr in g_rows]
    acc0 = [_zeros(b, const_types[k]) for k in diff_k]
    rtape = bind(
        scan_p,
        *lam0,
        *_split_all(acc0),
        *(by_position(r) for r in rows),
        *xs,
        *gy_rows,
        *(by_position(gr) for gr in g_rows),
        *consts,
        *captured,
        body=rbody,
        length=length,
        reverse=not reverse,
    )
    RC = rbody.carry_size
    final = _leaf_slices(rtape, length * RC, rbody.carry_types) if RC else []
    g_init = final[:nc]
    g_consts = dict(zip(diff_k, _join_all(final[nc:], acc_types), strict=True))
    gx_types = [x_types[k] for k in diff_x]
    gx_parts = _split_types(gx_types)
    gx_stacked = _join_stacked(
        _stacked(rtape, (length + 1) * RC, length, sum(_size(t) for t in gx_parts), gx_parts) if gx_types else [],
        gx_types,
        length,
    )
    g_xs = dict(zip(diff_x, gx_stacked, strict=True))
    out: list[Any] = list(g_init)
    out += [g_xs.get(k) for k in range(nx)]
    out += [g_consts.get(k) for k in range(len(const_types))]
    return out


def _vjp(k: int) -> Callable[..., Any]:
    def rule(g: Tracer, ans: Tracer, *ins: Tracer, body: Body, length: int, reverse: bool) -> Any:
        return _REVERSE.cotangents(g, ans, ins, {"body": body, "length": length, "reverse": reverse})[k]

    return rule


scan_p = register(
    Primitive(
        "scan",
        _type_rule,
        _impl,
        _emit,
        emit_lines=_emit_lines,
        foldable=False,
        vjp=_vjp,
        jvp_joint=_jvp_joint,
        nested=True,
        entrywise=False,
    )
)


# -- the user-level functions ------------------------------------------------------------------------


def _float_leaf(x: Any, b: Builder | None, what: str) -> Any:
    assert b is not None
    t: Any = lift(b, x)
    if t.type.dtype is not DType.F64:
        t = t.astype(float)
    return t


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    *,
    reverse: bool = False,
    _indexed: bool = False,
) -> tuple[Any, Any]:
    """Run ``carry, y = f(carry, x)`` over the leading axis of ``xs``; return the last carry and the stacked ``y``.

    JAX's ``lax.scan``: ``init`` and the carry are a number, an array or a
    structure of them (the carry keeps its structure and shapes); ``xs`` is
    an array or a structure of arrays with a common leading length (or
    ``None`` with ``length``); ``y`` may be ``None``. Inside a traced function
    the loop is emitted as a loop whatever its length, and differentiated as
    one (see :mod:`dcompile.loops`); outside, it runs in Python.
    """
    b = active_builder()
    if b is None:
        return _python_scan(f, init, xs, length, reverse)
    carry_leaves, carry_tree = flatten(init)
    x_leaves, x_tree = flatten(xs)
    n = _scan_length(x_leaves, length)
    carry0 = [_float_leaf(c, b, "carry") for c in carry_leaves]
    x_tr = [lift(b, x) for x in x_leaves]
    carry_types = [c.type for c in carry0]
    x_types = [VType(x.type.shape[1:], x.type.dtype) for x in x_tr]
    name = f"{getattr(f, '__name__', 'body')}"
    body_fn = with_traceable_globals(f)
    y_tree: list[TreeDef] = []
    y_types: list[VType] = []
    # Small carry and output arrays cross the loop as their entries: the body then allocates
    # nothing per step (see dcompile.transforms.scalarize); the user sees the arrays.
    carry_parts = [_parts(t) for t in carry_types]

    def traced(*vals: Tracer) -> list[Any]:
        it = iter(vals)
        index = next(it) if _indexed else None
        c = unflatten(
            carry_tree,
            [_join([next(it) for _ in range(k or 1)], t) for t, k in zip(carry_types, carry_parts, strict=True)],
        )
        x = unflatten(x_tree, [next(it) for _ in x_types])
        out = body_fn(index, c) if _indexed else body_fn(c, x)
        if _indexed:
            new_c, y = out, None
        else:
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise TraceError(f"the body of dc.scan ({name}) must return (carry, y); y may be None")
            new_c, y = out
        new_leaves, new_tree = flatten(new_c)
        if new_tree != carry_tree:
            raise TraceError(
                f"the body of dc.scan ({name}) returned a carry of structure {new_tree}; it must keep "
                f"the structure of the initial carry, {carry_tree}"
            )
        sb = vals[0].builder if vals else active_builder()
        new_leaves = [_float_leaf(v, sb, "carry") for v in new_leaves]
        for v, t in zip(new_leaves, carry_types, strict=True):
            if v.type.shape != t.shape:
                raise TraceError(
                    f"the body of dc.scan ({name}) changes the shape of a carry entry from {t.shape} to "
                    f"{v.type.shape}; a carry keeps its shape"
                )
        y_leaves, yt = flatten(y)
        y_tree.append(yt)
        y_vals = [_float_leaf(v, sb, "output") for v in y_leaves]
        y_types[:] = [v.type for v in y_vals]
        return [*_split_all(new_leaves), *_split_all(y_vals)]

    index_type = [VType((), DType.I64)] if _indexed else []
    inner_types = [t for t, k in zip(carry_types, carry_parts, strict=True) for t in ([F64_SCALAR] * k if k else [t])]
    graph, captured = _trace_graph(traced, [*index_type, *inner_types, *x_types], f"{name}_{next(_names)}", b)
    body = Body(graph, _indexed, len(inner_types), len(x_types), graph.name)
    tape = bind(scan_p, *_split_all(carry0), *x_tr, *captured, body=body, length=n, reverse=reverse)
    C, Y = body.carry_size, body.y_size
    final_parts = _leaf_slices(tape, n * C, body.carry_types) if C else []
    final = _join_all(final_parts, carry_types)
    y_columns = _stacked(tape, (n + 1) * C, n, Y, list(body.y_types)) if Y else []
    ys = _join_stacked(y_columns, y_types, n)
    return unflatten(carry_tree, final), unflatten(y_tree[0], ys)


F64_SCALAR = VType((), DType.F64)


def _scan_length(x_leaves: Sequence[Any], length: int | None) -> int:
    """The one trip count of a scan: the scanned inputs' leading size, or ``length``."""
    lengths = {int(np.shape(x)[0]) for x in x_leaves if np.ndim(x) > 0}
    if any(np.ndim(x) == 0 for x in x_leaves):
        raise SignatureError("dc.scan: every entry of xs needs a leading axis to scan over")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise SignatureError(
            f"dc.scan needs one length: xs have leading sizes {sorted(lengths)}" if lengths else
            "dc.scan needs xs or length="
        )  # fmt: skip
    return lengths.pop()


def _parts(t: VType) -> int:
    """How many scalars a carry or output entry crosses the loop as (0: as the array itself)."""
    size = _size(t)
    return size if t.rank > 0 and size <= SPLIT_LIMIT else 0


def _split_types(types: Sequence[VType]) -> list[VType]:
    """The types that ``types`` cross a loop as (small arrays as their scalar entries)."""
    return [u for t in types for u in ([F64_SCALAR] * _parts(t) if _parts(t) else [t])]


def _split_all(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        k = _parts(v.type)
        if k:
            flat = v.reshape((k,))
            out += [flat[i] for i in range(k)]
        else:
            out.append(v)
    return out


def _join(scalars: list[Any], t: VType) -> Any:
    """An entry of type ``t`` from its scalars (or the value itself when it was not split)."""
    if not _parts(t):
        return scalars[0]
    from dcompile.primitives.numpy_api import stack

    return stack(scalars).reshape(t.shape)


def _join_all(values: list[Any], types: Sequence[VType]) -> list[Any]:
    it = iter(values)
    return [_join([next(it) for _ in range(_parts(t) or 1)], t) for t in types]


def _join_stacked(columns: list[Any], types: Sequence[VType], n: int) -> list[Any]:
    """Per output entry, its ``(n, *shape)`` stack from the stacks of its scalars."""
    from dcompile.primitives.numpy_api import stack

    it = iter(columns)
    out = []
    for t in types:
        k = _parts(t)
        if not k:
            out.append(next(it))
            continue
        cols = [next(it) for _ in range(k)]
        out.append(stack(cols, axis=1).reshape((n, *t.shape)))
    return out


def _python_scan(f: Callable[..., Any], init: Any, xs: Any, length: int | None, reverse: bool) -> tuple[Any, Any]:
    x_leaves, x_tree = flatten(xs)
    n = length if length is not None else int(np.shape(x_leaves[0])[0])
    carry, ys = init, []
    order = range(n - 1, -1, -1) if reverse else range(n)
    for t in order:
        carry, y = f(carry, unflatten(x_tree, [x[t] for x in x_leaves]))
        ys.append((t, y))
    ys.sort(key=lambda p: p[0])
    if not ys or ys[0][1] is None:
        return carry, None
    leaves = [flatten(y)[0] for _, y in ys]
    tree = flatten(ys[0][1])[1]
    return carry, unflatten(tree, [np.stack([row[k] for row in leaves]) for k in range(len(leaves[0]))])


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; JAX's ``lax.fori_loop``.

    ``lower`` and ``upper`` are numbers known while tracing; ``i`` is an
    integer (it may index arrays). The loop is emitted as a loop and
    differentiated as one (see :func:`scan`).
    """
    lo, hi = int(lower), int(upper)
    if active_builder() is None:
        val = init_val
        for i in range(lo, hi):
            val = body_fun(i, val)
        return val
    if hi <= lo:
        return init_val

    def body(index: Any, val: Any) -> Any:
        return body_fun(index + lo if lo else index, val)

    body.__name__ = getattr(body_fun, "__name__", "body")
    carry, _ = scan(body, init_val, None, hi - lo, _indexed=True)
    return carry


# -- while loops ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WhileBody:
    """A while loop's condition and body graphs over the carry leaves (then the captured values)."""

    cond: Graph
    body: Graph
    n_carry: int
    name: str

    @property
    def carry_types(self) -> tuple[VType, ...]:
        return tuple(v.type for v in self.body.inputs[: self.n_carry])

    def __repr__(self) -> str:
        return f"<while loop {self.name}>"


def _while_type(*types: VType, loop: WhileBody) -> VType:
    return VType((sum(_size(t) for t in loop.carry_types),), DType.F64)


def _while_impl(*ins: Any, loop: WhileBody) -> np.ndarray:
    n = loop.n_carry
    carry = list(ins[:n])
    n_cond = len(loop.cond.inputs) - n
    cond_consts, body_consts = list(ins[n : n + n_cond]), list(ins[n + n_cond :])
    while bool(run_graph(loop.cond, [*carry, *cond_consts])[0]):
        carry = run_graph(loop.body, [*carry, *body_consts])
    return np.concatenate([np.ravel(np.asarray(c, dtype=np.float64)) for c in carry])


def _while_emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    return f"while_loop({params['loop'].name})", PREC_ATOM


def _while_lines(target: str, args: Sequence[str], params: dict[str, Any], types: Any, out: VType) -> list[str]:
    from dcompile.emit.emitter import emit_function

    loop: WhileBody = params["loop"]
    module = params["_module"]
    cond_fn, body_fn = module.fresh(f"{target}_cond"), module.fresh(f"{target}_body")
    emit_function(scalarize(loop.cond) or loop.cond, cond_fn, module)
    emit_function(scalarize(loop.body) or loop.body, body_fn, module)
    n = loop.n_carry
    n_cond = len(loop.cond.inputs) - n
    carry = [f"{target}__c{k}" for k in range(n)]
    cond_k = [f"{target}__a{k}" for k in range(n_cond)]
    body_k = [f"{target}__b{k}" for k in range(len(args) - n - n_cond)]
    lines = [f"{name} = {src}" for name, src in zip([*carry, *cond_k, *body_k], args, strict=True)]
    lhs = ", ".join(carry) if n != 1 else carry[0]
    lines.append(f"while {cond_fn}({', '.join([*carry, *cond_k])}):")
    lines.append(f"    {lhs} = {body_fn}({', '.join([*carry, *body_k])})")
    lines.append(f"{target} = np.empty({out.shape[0]})")
    lines += _store(target, "0", carry, loop.carry_types)
    return lines


def _while_no_derivative(k: int) -> Callable[..., Any]:
    def rule(*args: Any, loop: WhileBody) -> Any:
        from dcompile.errors import UnsupportedError

        raise UnsupportedError(
            f"dc.while_loop ({loop.name}) runs until its condition fails, a number of steps known only when it "
            "runs, so it has no derivative as written.\nFix: give max_steps=N (a bound on the steps): the loop "
            "is then a scan of N masked steps, differentiable wherever the number of steps does not change."
        )

    return rule


while_p = register(
    Primitive(
        "while_loop",
        _while_type,
        _while_impl,
        _while_emit,
        emit_lines=_while_lines,
        foldable=False,
        jvp=_while_no_derivative,
        vjp=_while_no_derivative,
        nested=True,
        entrywise=False,
    )
)


def while_loop(
    cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any, *, max_steps: int | None = None
) -> Any:
    """``while cond_fun(val): val = body_fun(val)``; JAX's ``lax.while_loop``.

    The number of steps depends on values, so as written the loop has no
    derivative (differentiating through it is refused with the fix). With
    ``max_steps=N`` it is a :func:`scan` of ``N`` steps that stop changing the
    carry once the condition fails: differentiable where the number of steps
    is locally constant, at the cost of running all ``N`` steps.
    """
    b = active_builder()
    if b is None:
        val = init_val
        steps = 0
        while cond_fun(val) and (max_steps is None or steps < max_steps):
            val = body_fun(val)
            steps += 1
        return val
    if max_steps is not None:
        from dcompile.primitives.elementwise import where

        def step(carry: Any, _: Any) -> tuple[Any, None]:
            go = cond_fun(carry)
            new = body_fun(carry)
            leaves, tree = flatten(carry)
            new_leaves, new_tree = flatten(new)
            if new_tree != tree:
                raise TraceError(f"the body of dc.while_loop must keep the carry's structure {tree}")
            return unflatten(tree, [where(go, n, o) for n, o in zip(new_leaves, leaves, strict=True)]), None

        return scan(step, init_val, None, int(max_steps))[0]
    leaves, tree = flatten(init_val)
    carry0 = [_float_leaf(c, b, "carry") for c in leaves]
    types = [c.type for c in carry0]
    cond_traced = with_traceable_globals(cond_fun)
    body_traced = with_traceable_globals(body_fun)

    def cond(*vals: Tracer) -> list[Any]:
        out = cond_traced(unflatten(tree, list(vals)))
        sb = vals[0].builder if vals else active_builder()
        assert sb is not None
        t = lift(sb, out)
        if t.ndim != 0:
            raise TraceError("the condition of dc.while_loop must return one boolean")
        return [t]

    def body(*vals: Tracer) -> list[Any]:
        new_leaves, new_tree = flatten(body_traced(unflatten(tree, list(vals))))
        if new_tree != tree:
            raise TraceError(f"the body of dc.while_loop must keep the carry's structure {tree}")
        return [_float_leaf(v, vals[0].builder, "carry") for v in new_leaves]

    name = f"{getattr(body_fun, '__name__', 'body')}_{next(_names)}"
    cond_graph, cond_captured = _trace_graph(cond, types, f"{name}_cond", b)
    body_graph, body_captured = _trace_graph(body, types, name, b)
    loop = WhileBody(cond_graph, body_graph, len(types), name)
    packed = bind(while_p, *carry0, *cond_captured, *body_captured, loop=loop)
    return unflatten(tree, _leaf_slices(packed, 0, types))
