"""Simplification: constant folding, algebraic identities, CSE and dead code.

The identities are the primitives' ``simplify`` rules (``x * 1 -> x``,
``x + 0 -> x``, ``--x -> x``, ``where(c, a, a) -> a``, ...), applied by
:func:`~dcompile.ir.tracer.bind` whenever an equation is built. Simplifying a
graph is therefore replaying it into a fresh builder and dropping dead code.
"""

from __future__ import annotations

from dcompile.ir.builder import Builder
from dcompile.ir.graph import Graph
from dcompile.ir.tracer import Tracer
from dcompile.transforms.replay import replay


def simplify(graph: Graph) -> Graph:
    """A graph computing the same outputs with identities applied and no dead code."""
    builder = Builder()
    inputs = [builder.new_input(v.type, graph.hints.get(v)) for v in graph.inputs]
    env = replay(builder, graph, {v: Tracer(builder, n) for v, n in zip(graph.inputs, inputs, strict=True)})
    return builder.build(graph.name, inputs, [env[v].value for v in graph.outputs])
