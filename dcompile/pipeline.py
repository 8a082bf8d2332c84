"""The pass pipeline: from a primal graph to the graph of each derivative mode.

Each mode is a short, readable composition of the transforms:

    f               the primal graph, simplified
    grad            replay + reverse sweep (pull_back) from a seed of 1
    value_and_grad  the same graph, also returning f
    jvp             replay + forward sweep (push_forward) along tangent inputs
    vjp             replay + reverse sweep from a cotangent input
    hvp             forward sweep over the *grad graph* (forward-over-reverse)
    hessian         one forward sweep over the grad graph per input direction,
                    upper triangle only (the Hessian is symmetric); with array
                    arguments, a loop over unit directions around one sweep
    jacobian        forward sweeps along unit directions (columns), or reverse
                    sweeps from unit cotangents (rows) when there are fewer
                    outputs than inputs; a loop, so code size does not grow

Naming convention (documented in docs/design.md): for an output ``f``, the
adjoint of ``v`` is ``df_dv``; the tangent of ``v`` along a general direction
is ``dv``, along the direction of input ``x`` it is ``dv_dx``; a second
derivative is ``d2f_dv_dx``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dcompile.errors import SignatureError
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Graph, Value
from dcompile.ir.layout import Array, Layout, Loop, Matrix, Pack, Scalar, Vector
from dcompile.ir.tracer import Tracer
from dcompile.ir.types import F64, DType, VType
from dcompile.primitives import arrays as A
from dcompile.transforms import full_names, pull_back, push_forward, replay


@dataclass(frozen=True)
class Program:
    """A derivative graph with how to return its outputs and what it computes."""

    graph: Graph
    layout: Layout
    function: str
    doc: str


class _Sweep:
    """A builder holding a replay of ``graph`` under fresh inputs."""

    def __init__(self, graph: Graph, title: str | None, *, name_temporaries: bool = True) -> None:
        self.graph = graph
        self.b = Builder()
        # Derivative code names every primal temporary (t0, t1, ...) so that its
        # adjoint can be called df_dt0; the primal alone keeps temporaries
        # anonymous so the emitter can inline them.
        self.names = full_names(graph) if name_temporaries else dict(graph.hints)
        self.inputs = [self.b.new_input(v.type, self.names[v]) for v in graph.inputs]
        if title:
            self.b.open_block(title)
        self.env = replay(
            self.b, graph, {v: Tracer(self.b, n) for v, n in zip(graph.inputs, self.inputs, strict=True)}, self.names
        )

    def extra_input(self, hint: str, vtype: VType = F64) -> Tracer:
        v = self.b.new_input(vtype, hint)
        self.inputs.append(v)
        return Tracer(self.b, v)

    def value(self, t: Tracer | None, vtype: VType = F64) -> Value:
        """``t``'s value, or zeros of ``vtype`` for a symbolic zero."""
        if t is not None:
            return t.value
        zero = Tracer(self.b, self.b.const(0.0))
        return zero.value if vtype.rank == 0 else A.broadcast_to(zero, vtype.shape).value


def _reverse(s: _Sweep, seed: Tracer) -> dict[Value, Tracer]:
    out = s.graph.outputs[0]
    o = s.graph.name  # adjoints are named after the function: df_dv for f
    s.b.open_block(f"reverse sweep: d{o}_dv is the derivative of {o} with respect to v")
    return pull_back(s.b, s.graph, s.env, {out: seed}, adjoint_name=lambda v: f"d{o}_d{s.names[v]}", names=s.names)


def tangent_hint(name: str, out: str, direction: str | None) -> str:
    """The name of the tangent of ``name`` along ``direction`` (see module doc)."""
    m = re.fullmatch(rf"d(\d*){re.escape(out)}_d(.+)", name)
    if m:
        order = int(m.group(1) or 1) + 1
        return f"d{order}{out}_d{m.group(2)}_d{direction or 'v'}"
    return f"d{name}_d{direction}" if direction else f"d{name}"


@dataclass(frozen=True)
class _Request:
    """What to derive: the primal graph, the inputs to differentiate, and their names."""

    graph: Graph
    wrt: tuple[int, ...]

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def arg_names(self) -> list[str]:
        return [self.graph.hints.get(v, f"x{i}") for i, v in enumerate(self.graph.inputs)]

    @property
    def sig(self) -> str:
        return f"{self.name}({', '.join(self.arg_names)})"

    @property
    def wrt_names(self) -> str:
        names = self.arg_names  # computed once: a chain of N scalars has N + 1 arguments
        return ", ".join(names[i] for i in self.wrt)

    @property
    def wrt_types(self) -> list[VType]:
        return [self.graph.inputs[i].type for i in self.wrt]

    @property
    def out_type(self) -> VType:
        return self.graph.outputs[0].type

    def need_scalar_output(self, mode: str) -> None:
        if self.out_type.rank:
            raise SignatureError(
                f"dc.{mode} needs a function with a scalar result; {self.name} returns an array of shape "
                f"{self.out_type.shape}.\nFix: use dc.jacobian or dc.vjp, or reduce the result (e.g. np.sum)."
            )

    def grads_layout(self, values: Sequence[Value]) -> Layout:
        """Scalars' gradients as one vector; one array's shaped like it; several as a tuple."""
        if all(t.rank == 0 for t in self.wrt_types):
            return Vector(tuple(values))
        if len(values) == 1:
            return Array(values[0])
        return Pack(tuple(_result(v) for v in values))

    @property
    def n_flat(self) -> int:
        """The number of entries of the ``wrt`` arguments together."""
        return sum(int(np.prod(t.shape, dtype=np.int64)) for t in self.wrt_types)

    def program(self, s: _Sweep, suffix: str, outputs: Sequence[Value], layout: Layout, doc: str) -> Program:
        function = f"{self.name}_{suffix}" if suffix else self.name
        return Program(s.b.build(function, s.inputs, outputs), layout, function, doc)


def _result(v: Value) -> Scalar | Array:
    return Scalar(v) if v.type.rank == 0 else Array(v)


def _primal(r: _Request) -> Program:
    s = _Sweep(r.graph, None, name_temporaries=False)
    f = s.env[r.graph.outputs[0]].value
    return r.program(s, "", [f], _result(f), f"{r.sig}.")


def _gradient(r: _Request, seed: str | None) -> tuple[_Sweep, Value, tuple[Value, ...]]:
    """Forward sweep, then a reverse sweep from 1 (or from a cotangent input named ``seed``)."""
    s = _Sweep(r.graph, "forward sweep")
    adj = _reverse(s, s.extra_input(seed, r.out_type) if seed else Tracer(s.b, s.b.const(1.0)))
    grads = tuple(s.value(adj.get(r.graph.inputs[i]), t) for i, t in zip(r.wrt, r.wrt_types, strict=True))
    return s, s.env[r.graph.outputs[0]].value, grads


def _grad(r: _Request) -> Program:
    r.need_scalar_output("grad")
    s, _, grads = _gradient(r, None)
    doc = f"Gradient of {r.sig} with respect to ({r.wrt_names})."
    return r.program(s, "grad", grads, r.grads_layout(grads), doc)


def _value_and_grad(r: _Request) -> Program:
    r.need_scalar_output("value_and_grad")
    s, f, grads = _gradient(r, None)
    doc = f"Value and gradient of {r.sig} with respect to ({r.wrt_names})."
    return r.program(s, "value_and_grad", (f, *grads), Pack((Scalar(f), r.grads_layout(grads))), doc)


def _vjp(r: _Request) -> Program:
    s, f, cts = _gradient(r, "ct")
    doc = f"Value of {r.sig} and ct times its derivative with respect to ({r.wrt_names}) (reverse mode)."
    return r.program(s, "vjp", (f, *cts), Pack((_result(f), r.grads_layout(cts))), doc)


def _jvp(r: _Request) -> Program:
    s = _Sweep(r.graph, "forward sweep with tangents dv")
    tangents = {
        r.graph.inputs[i]: s.extra_input(f"d{r.arg_names[i]}", t) for i, t in zip(r.wrt, r.wrt_types, strict=True)
    }
    tan = push_forward(s.b, r.graph, s.env, tangents, lambda v: f"d{s.names[v]}")
    out = r.graph.outputs[0]
    f, t = s.env[out].value, s.value(tan.get(out), out.type)
    doc = f"Value of {r.sig} and its directional derivative along tangents of ({r.wrt_names}) (forward mode)."
    return r.program(s, "jvp", (f, t), Pack((_result(f), _result(t))), doc)


def _over_gradient(r: _Request) -> tuple[Graph, _Sweep, list[Value]]:
    """Second order is forward mode over the reverse-mode graph: the grad graph, replayed."""
    grad = _grad(r).graph
    s = _Sweep(grad, None)
    return grad, s, [grad.inputs[i] for i in r.wrt]


def _hvp(r: _Request) -> Program:
    r.need_scalar_output("hvp")
    grad, s, wrt_inputs = _over_gradient(r)
    v = {x: s.extra_input(f"v_{s.names[x]}", x.type) for x in wrt_inputs}
    s.b.open_block("forward sweep over the gradient along v: Hessian times v")
    tan = push_forward(s.b, grad, s.env, v, lambda val: tangent_hint(s.names[val], r.name, None))
    outs = tuple(s.value(tan.get(gi), gi.type) for gi in grad.outputs)
    doc = f"Hessian of {r.sig} with respect to ({r.wrt_names}) times v."
    return r.program(s, "hvp", outs, r.grads_layout(outs), doc)


def _split(s: _Sweep, e: Tracer, types: Sequence[VType]) -> list[Tracer]:
    """Pieces of the flat direction ``e`` shaped like each of ``types`` (in order)."""
    pieces, offset = [], 0
    for t in types:
        size = int(np.prod(t.shape, dtype=np.int64))
        if t.rank == 0:
            pieces.append(A.index(e, (offset,)))
        else:
            pieces.append(A.reshape(A.index(e, ((offset, offset + size, 1),)), t.shape))
        offset += size
    return pieces


def _flat(values: Sequence[Tracer]) -> Tracer:
    """The values raveled and joined into one vector."""
    parts = [A.reshape(v, (v.size,)) if v.ndim != 1 else v for v in values]
    if all(v.ndim == 0 for v in values):
        return A.pack(values)
    return A.concatenate(parts) if len(parts) > 1 else parts[0]


def _tracers(s: _Sweep, values: Sequence[Value]) -> list[Tracer]:
    return [Tracer(s.b, v) for v in values]


def _hessian_loop(r: _Request) -> Program:
    """The Hessian over array arguments: a loop of Hessian-vector products with unit vectors."""
    grad, s, wrt_inputs = _over_gradient(r)
    n = r.n_flat
    e = s.extra_input("e", VType((n,), DType.F64))
    s.b.open_block("forward sweep over the gradient along the unit vector e: one column of the Hessian")
    tangents = dict(zip(wrt_inputs, _split(s, e, r.wrt_types), strict=True))
    tan = push_forward(s.b, grad, s.env, tangents, lambda val: tangent_hint(s.names[val], r.name, "e"))
    col = _flat([Tracer(s.b, s.value(tan.get(g), g.type)) for g in grad.outputs])
    doc = f"Hessian of {r.sig} with respect to ({r.wrt_names}), one column per unit vector e."
    return r.program(s, "hessian", (col.value,), Loop(e.value, col.value, (n, n)), doc)


def _jacobian(r: _Request) -> Program:
    out, n = r.out_type, r.n_flat
    if out.rank > 1:
        raise SignatureError(
            f"dc.jacobian needs a scalar or vector result; {r.name} returns shape {out.shape}.\n"
            "Fix: return a raveled result (x.ravel())."
        )
    doc = f"Jacobian of {r.sig} with respect to ({r.wrt_names})"
    if out.rank == 0:  # the gradient, flattened
        s, _, grads = _gradient(r, None)
        flat = _flat(_tracers(s, grads))
        return r.program(s, "jacobian", (flat.value,), _result(flat.value), doc + ": the flat gradient.")
    m = out.shape[0]
    if m < n:  # fewer outputs: one reverse sweep per row
        s = _Sweep(r.graph, "forward sweep")
        e = s.extra_input("e", out)
        adj = _reverse(s, e)
        row = _flat(
            [Tracer(s.b, s.value(adj.get(r.graph.inputs[i]), t)) for i, t in zip(r.wrt, r.wrt_types, strict=True)]
        )
        return r.program(s, "jacobian", (row.value,), Loop(e.value, row.value, (m, n), "row"), doc + ", by rows.")
    s = _Sweep(r.graph, "forward sweep")
    e = s.extra_input("e", VType((n,), DType.F64))
    s.b.open_block("tangents along the unit vector e: one column of the Jacobian")
    tangents = dict(zip([r.graph.inputs[i] for i in r.wrt], _split(s, e, r.wrt_types), strict=True))
    tan = push_forward(s.b, r.graph, s.env, tangents, lambda v: f"d{s.names[v]}_de")
    col = s.value(tan.get(r.graph.outputs[0]), out)
    return r.program(s, "jacobian", (col,), Loop(e.value, col, (m, n)), doc + ", by columns.")


def _hessian(r: _Request) -> Program:
    r.need_scalar_output("hessian")
    if any(t.rank for t in r.wrt_types):
        return _hessian_loop(r)
    grad, s, wrt_inputs = _over_gradient(r)
    entries: dict[tuple[int, int], Value] = {}
    for j, xj in enumerate(wrt_inputs):
        d = s.names[xj]
        s.b.open_block(f"forward sweep over the gradient along {d}: column {j} of the Hessian")
        one = Tracer(s.b, s.b.const(1.0))
        tan = push_forward(s.b, grad, s.env, {xj: one}, lambda val, d=d: tangent_hint(s.names[val], r.name, d))
        for i in range(j + 1):  # symmetric: the upper triangle only
            entries[(i, j)] = s.value(tan.get(grad.outputs[i]))
    layout = Matrix(len(r.wrt), entries, symmetric=True)
    doc = f"Hessian of {r.sig} with respect to ({r.wrt_names})."
    return r.program(s, "hessian", tuple(entries.values()), layout, doc)


_BUILDERS: dict[str, Callable[[_Request], Program]] = {
    "f": _primal,
    "grad": _grad,
    "value_and_grad": _value_and_grad,
    "jvp": _jvp,
    "vjp": _vjp,
    "hessian": _hessian,
    "hvp": _hvp,
    "jacobian": _jacobian,
}
MODES = tuple(_BUILDERS)


def derive(graph: Graph, mode: str, wrt: Sequence[int]) -> Program:
    """The program computing ``mode`` of ``graph`` with respect to inputs ``wrt``."""
    builder = _BUILDERS.get(mode)
    if builder is None:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    request = _Request(graph, tuple(wrt))
    if mode != "f":
        for i, t in zip(request.wrt, request.wrt_types, strict=True):
            if not t.dtype.differentiable:
                floats = [n for n, v in zip(request.arg_names, graph.inputs, strict=True) if v.type.dtype is DType.F64]
                kind = f"a {t.dtype.value} array" if t.rank else f"an integer ({t.dtype.value}) scalar"
                raise SignatureError(
                    f"argument {request.arg_names[i]!r} of {request.name} is {kind}: data, with no "
                    f"derivative.\nFix: leave it out of wrt (the float arguments are {', '.join(floats) or 'none'})."
                )
    return builder(request)


def parameters(program: Program) -> tuple[Value, ...]:
    """The inputs the generated function takes (a loop's direction is made inside)."""
    if isinstance(program.layout, Loop):
        return tuple(v for v in program.graph.inputs if v is not program.layout.direction)
    return program.graph.inputs
