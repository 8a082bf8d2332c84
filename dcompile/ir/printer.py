"""The IR listing: one line per equation, constants inline.

Example (the worked example of the seed notes)::

    f(x1: f64[], x2: f64[], w1: f64[], w2: f64[]) -> f64[]
      a = add x1 w1
      b = mul x1 w1
      c = mul x2 w2
      d = integer_pow[n=2] a
      e = add b c
      f = mul d e
      return f
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcompile.ir.literals import format_literal
from dcompile.ir.naming import Namer

if TYPE_CHECKING:  # annotations only: Graph.__str__ calls this module, which must not import graph back
    from dcompile.ir.graph import Graph, Value


def _short(t: object) -> str:
    return str(t).replace("float64", "f64").replace("bool", "b1").replace("int64", "i64")


def format_graph(graph: Graph) -> str:
    """The readable SSA listing of ``graph``."""
    namer = Namer(dict(graph.hints))
    consts = {e.out: e.kwargs["value"] for e in graph.eqns if e.prim.literal}

    def ref(v: Value) -> str:
        return format_literal(consts[v])[0] if v in consts else namer(v)

    params = ", ".join(f"{namer(v)}: {_short(v.type)}" for v in graph.inputs)
    out_types = ", ".join(_short(v.type) for v in graph.outputs)
    lines = [f"{graph.name}({params}) -> {out_types}"]
    for e in graph.eqns:
        if e.prim.literal:
            continue
        p = ", ".join(f"{k}={v!r}" for k, v in e.params)
        head = f"{e.prim.name}[{p}]" if p else e.prim.name
        args = " ".join(ref(v) for v in e.inputs)
        lines.append(f"  {namer(e.out)} = {head} {args}")
    lines.append("  return " + ", ".join(ref(v) for v in graph.outputs))
    return "\n".join(lines)
