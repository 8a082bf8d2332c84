"""The pass pipeline: from a primal graph to the graph of each derivative mode.

Each mode is a short, readable composition of the transforms:

    f               the primal graph, simplified
    grad            replay + reverse sweep (pull_back) from a seed of 1
    value_and_grad  the same graph, also returning f
    jvp             replay + forward sweep (push_forward) along tangent inputs
    vjp             replay + reverse sweep from a cotangent input
    hvp             forward sweep over the *grad graph* (forward-over-reverse)
    hessian         one forward sweep over the grad graph per input direction,
                    upper triangle only (the Hessian is symmetric)

Naming convention (documented in docs/design.md): for an output ``f``, the
adjoint of ``v`` is ``df_dv``; the tangent of ``v`` along a general direction
is ``dv``, along the direction of input ``x`` it is ``dv_dx``; a second
derivative is ``d2f_dv_dx``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dcompile.backend.layout import Layout, Matrix, Pack, Scalar, Vector
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Graph, Value
from dcompile.ir.tracer import Tracer
from dcompile.ir.types import F64
from dcompile.transforms import full_names, pull_back, push_forward, replay

MODES = ("f", "grad", "value_and_grad", "jvp", "vjp", "hessian", "hvp")


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

    def extra_input(self, hint: str) -> Tracer:
        v = self.b.new_input(F64, hint)
        self.inputs.append(v)
        return Tracer(self.b, v)

    def value(self, t: Tracer | None) -> Value:
        return t.value if t is not None else self.b.const(0.0)


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


def derive(graph: Graph, mode: str, wrt: Sequence[int]) -> Program:
    """The program computing ``mode`` of ``graph`` with respect to inputs ``wrt``."""
    name = graph.name
    arg_names = [graph.hints.get(v, f"x{i}") for i, v in enumerate(graph.inputs)]
    wrt_names = ", ".join(arg_names[i] for i in wrt)
    sig = f"{name}({', '.join(arg_names)})"
    if mode == "f":
        s = _Sweep(graph, None, name_temporaries=False)
        out = s.env[graph.outputs[0]].value
        g = s.b.build(name, s.inputs, [out])
        return Program(g, Scalar(out), name, f"{sig}.")
    if mode in ("grad", "value_and_grad"):
        s = _Sweep(graph, "forward sweep")
        adj = _reverse(s, Tracer(s.b, s.b.const(1.0)))
        grads = tuple(s.value(adj.get(graph.inputs[i])) for i in wrt)
        f = s.env[graph.outputs[0]].value
        if mode == "grad":
            g = s.b.build(f"{name}_grad", s.inputs, grads)
            return Program(g, Vector(grads), f"{name}_grad", f"Gradient of {sig} with respect to ({wrt_names}).")
        g = s.b.build(f"{name}_value_and_grad", s.inputs, (f, *grads))
        return Program(
            g,
            Pack((Scalar(f), Vector(grads))),
            f"{name}_value_and_grad",
            f"Value and gradient of {sig} with respect to ({wrt_names}).",
        )
    if mode == "vjp":
        s = _Sweep(graph, "forward sweep")
        ct = s.extra_input("ct")
        adj = _reverse(s, ct)
        cts = tuple(s.value(adj.get(graph.inputs[i])) for i in wrt)
        f = s.env[graph.outputs[0]].value
        g = s.b.build(f"{name}_vjp", s.inputs, (f, *cts))
        return Program(
            g,
            Pack((Scalar(f), Vector(cts))),
            f"{name}_vjp",
            f"Value of {sig} and ct times its gradient with respect to ({wrt_names}) (reverse mode).",
        )
    if mode == "jvp":
        s = _Sweep(graph, "forward sweep with tangents dv")
        tangents = {graph.inputs[i]: s.extra_input(f"d{arg_names[i]}") for i in wrt}
        tan = push_forward(s.b, graph, s.env, tangents, lambda v: f"d{s.names[v]}")
        out = graph.outputs[0]
        f, t = s.env[out].value, s.value(tan.get(out))
        g = s.b.build(f"{name}_jvp", s.inputs, (f, t))
        return Program(
            g,
            Pack((Scalar(f), Scalar(t))),
            f"{name}_jvp",
            f"Value of {sig} and its directional derivative along tangents of ({wrt_names}) (forward mode).",
        )
    if mode in ("hvp", "hessian"):
        return _second_order(graph, mode, wrt, sig, wrt_names)
    raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


def _second_order(graph: Graph, mode: str, wrt: Sequence[int], sig: str, wrt_names: str) -> Program:
    """Forward mode over the reverse-mode graph (the grad graph, composed)."""
    grad = derive(graph, "grad", wrt).graph
    name = graph.name
    o = name
    s = _Sweep(grad, None)
    wrt_inputs = [grad.inputs[i] for i in wrt]
    if mode == "hvp":
        v = {x: s.extra_input(f"v_{s.names[x]}") for x in wrt_inputs}
        s.b.open_block("forward sweep over the gradient along v: Hessian times v")
        tan = push_forward(s.b, grad, s.env, v, lambda val: tangent_hint(s.names[val], o, None))
        outs = tuple(s.value(tan.get(gi)) for gi in grad.outputs)
        g = s.b.build(f"{name}_hvp", s.inputs, outs)
        return Program(g, Vector(outs), f"{name}_hvp", f"Hessian of {sig} with respect to ({wrt_names}) times v.")
    entries: dict[tuple[int, int], Value] = {}
    for j, xj in enumerate(wrt_inputs):
        d = s.names[xj]
        s.b.open_block(f"forward sweep over the gradient along {d}: column {j} of the Hessian")
        one = Tracer(s.b, s.b.const(1.0))
        tan = push_forward(s.b, grad, s.env, {xj: one}, lambda val, d=d: tangent_hint(s.names[val], o, d))
        for i in range(j + 1):
            entries[(i, j)] = s.value(tan.get(grad.outputs[i]))
    g = s.b.build(f"{name}_hessian", s.inputs, tuple(entries.values()))
    return Program(
        g,
        Matrix(len(wrt), entries, symmetric=True),
        f"{name}_hessian",
        f"Hessian of {sig} with respect to ({wrt_names}).",
    )
