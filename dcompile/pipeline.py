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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dcompile.backend.layout import Layout, Matrix, Pack, Scalar, Vector
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Graph, Value
from dcompile.ir.tracer import Tracer
from dcompile.ir.types import F64
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
        return ", ".join(self.arg_names[i] for i in self.wrt)

    def program(self, s: _Sweep, suffix: str, outputs: Sequence[Value], layout: Layout, doc: str) -> Program:
        function = f"{self.name}_{suffix}" if suffix else self.name
        return Program(s.b.build(function, s.inputs, outputs), layout, function, doc)


def _primal(r: _Request) -> Program:
    s = _Sweep(r.graph, None, name_temporaries=False)
    f = s.env[r.graph.outputs[0]].value
    return r.program(s, "", [f], Scalar(f), f"{r.sig}.")


def _gradient(r: _Request, seed: str | None) -> tuple[_Sweep, Value, tuple[Value, ...]]:
    """Forward sweep, then a reverse sweep from 1 (or from a cotangent input named ``seed``)."""
    s = _Sweep(r.graph, "forward sweep")
    adj = _reverse(s, s.extra_input(seed) if seed else Tracer(s.b, s.b.const(1.0)))
    grads = tuple(s.value(adj.get(r.graph.inputs[i])) for i in r.wrt)
    return s, s.env[r.graph.outputs[0]].value, grads


def _grad(r: _Request) -> Program:
    s, _, grads = _gradient(r, None)
    return r.program(s, "grad", grads, Vector(grads), f"Gradient of {r.sig} with respect to ({r.wrt_names}).")


def _value_and_grad(r: _Request) -> Program:
    s, f, grads = _gradient(r, None)
    doc = f"Value and gradient of {r.sig} with respect to ({r.wrt_names})."
    return r.program(s, "value_and_grad", (f, *grads), Pack((Scalar(f), Vector(grads))), doc)


def _vjp(r: _Request) -> Program:
    s, f, cts = _gradient(r, "ct")
    doc = f"Value of {r.sig} and ct times its gradient with respect to ({r.wrt_names}) (reverse mode)."
    return r.program(s, "vjp", (f, *cts), Pack((Scalar(f), Vector(cts))), doc)


def _jvp(r: _Request) -> Program:
    s = _Sweep(r.graph, "forward sweep with tangents dv")
    tangents = {r.graph.inputs[i]: s.extra_input(f"d{r.arg_names[i]}") for i in r.wrt}
    tan = push_forward(s.b, r.graph, s.env, tangents, lambda v: f"d{s.names[v]}")
    out = r.graph.outputs[0]
    f, t = s.env[out].value, s.value(tan.get(out))
    doc = f"Value of {r.sig} and its directional derivative along tangents of ({r.wrt_names}) (forward mode)."
    return r.program(s, "jvp", (f, t), Pack((Scalar(f), Scalar(t))), doc)


def _over_gradient(r: _Request) -> tuple[Graph, _Sweep, list[Value]]:
    """Second order is forward mode over the reverse-mode graph: the grad graph, replayed."""
    grad = _grad(r).graph
    s = _Sweep(grad, None)
    return grad, s, [grad.inputs[i] for i in r.wrt]


def _hvp(r: _Request) -> Program:
    grad, s, wrt_inputs = _over_gradient(r)
    v = {x: s.extra_input(f"v_{s.names[x]}") for x in wrt_inputs}
    s.b.open_block("forward sweep over the gradient along v: Hessian times v")
    tan = push_forward(s.b, grad, s.env, v, lambda val: tangent_hint(s.names[val], r.name, None))
    outs = tuple(s.value(tan.get(gi)) for gi in grad.outputs)
    return r.program(s, "hvp", outs, Vector(outs), f"Hessian of {r.sig} with respect to ({r.wrt_names}) times v.")


def _hessian(r: _Request) -> Program:
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
}
MODES = tuple(_BUILDERS)


def derive(graph: Graph, mode: str, wrt: Sequence[int]) -> Program:
    """The program computing ``mode`` of ``graph`` with respect to inputs ``wrt``."""
    builder = _BUILDERS.get(mode)
    if builder is None:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return builder(_Request(graph, tuple(wrt)))
