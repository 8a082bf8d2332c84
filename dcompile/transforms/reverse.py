"""Reverse mode: pull cotangents from the outputs back to the inputs.

After a forward sweep (the replayed primal graph), equations are visited in
reverse order; each equation with a nonzero output cotangent ``g`` passes to
each differentiable input its VJP rule's share of ``g``, and shares arriving at
the same value are summed — the multivariate chain rule. Each equation's
adjoint code is opened by a display block quoting the primal statement, and
every adjoint is named ``d<out>_d<value>`` as soon as it is complete, so the
emitted code reads like a backpropagation table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from dcompile.errors import UnsupportedError
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Eqn, Graph, Value
from dcompile.ir.primitive import input_rules
from dcompile.ir.tracer import Tracer, lift
from dcompile.primitives.arrays import broadcast_to, sum_to_shape
from dcompile.primitives.elementwise import add
from dcompile.transforms.masking import apply_rule
from dcompile.transforms.replay import rebind


def pull_back(
    builder: Builder,
    graph: Graph,
    env: dict[Value, Tracer],
    cotangents: dict[Value, Tracer],
    *,
    adjoint_name: Callable[[Value], str | None] | None = None,
    names: dict[Value, str] | None = None,
) -> dict[Value, Tracer]:
    """Adjoints of the values of ``graph`` for output cotangents ``cotangents``.

    Returns a map holding a tracer for every value with a nonzero adjoint
    (inputs included). ``adjoint_name(v)`` gives the hint for ``v``'s adjoint.
    """
    uses = Counter(v for e in graph.eqns for v in e.inputs)
    adj: dict[Value, Tracer] = dict(cotangents)

    def name(v: Value) -> None:
        hint = adjoint_name(v) if adjoint_name else None
        if hint and v in adj:
            builder.name_derivative(adj[v].value, hint)

    origin = builder.origin
    for e in reversed(graph.eqns):
        g = adj.get(e.out)
        if g is None or not e.out.type.dtype.differentiable:
            continue
        builder.origin = e.loc or origin  # what is derived from e is stamped with e's source line
        if uses[e.out] > 1:
            name(e.out)  # complete now: every consumer has been visited
        if input_rules(e.prim.vjp, len(e.inputs)) is None:
            raise UnsupportedError(
                f"primitive {e.prim.name!r} has no reverse-mode rule, which grad needs; give it VJP rules "
                "(dcompile.extend.defvjp, or vjp=/partials= in extend.primitive) or use forward mode (jvp)"
            )
        builder.open_block(source=rebind(e, env, builder, names or {}))
        for v, c in _shares(e, g, env):
            adj[v] = add(adj[v], c) if v in adj else c
            if uses[v] == 1:
                name(v)
    builder.origin = origin
    for v in graph.inputs:
        if uses[v] > 1:
            name(v)
    return adj


def _shares(e: Eqn, g: Tracer, env: dict[Value, Tracer]) -> list[tuple[Value, Tracer]]:
    """Each differentiable input's nonzero share of the cotangent ``g`` of ``e``."""
    ins = [env[v] for v in e.inputs]
    rules = input_rules(e.prim.vjp, len(e.inputs)) or ()
    out = []
    for v, t, rule in zip(e.inputs, ins, rules, strict=True):
        if rule is None or not v.type.dtype.differentiable or t.builder.literal_of(t.value) is not None:
            continue
        c = apply_rule(rule, g, env[e.out], ins, e.kwargs, elementwise=e.prim.elementwise)
        if c is None or (isinstance(c, Tracer) and c.is_const(0.0)):  # a rule may answer "no derivative"
            continue
        # The share of an input that was broadcast sums over the broadcast axes.
        c = sum_to_shape(lift(t.builder, c), v.type.shape)
        if c.shape != v.type.shape:
            c = broadcast_to(c, v.type.shape)
        out.append((v, c))
    return out
