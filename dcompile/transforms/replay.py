"""Re-trace a graph into a builder: the common first step of every transform.

Replaying runs each equation through :func:`~dcompile.ir.tracer.bind` again,
so constant folding, algebraic identities and hash-consing apply to the result
(this *is* the simplifier), and it carries names and display blocks across.
"""

from __future__ import annotations

from dcompile.ir.builder import Builder
from dcompile.ir.graph import Block, Eqn, Graph, Value
from dcompile.ir.naming import Namer
from dcompile.ir.tracer import Tracer, bind


def full_names(graph: Graph) -> dict[Value, str]:
    """A unique name for every value of ``graph``, as its listing shows them.

    Transforms give these names to the values they copy, so that derivative
    code says ``df_dt0`` for the adjoint of the temporary the listing calls
    ``t0``.
    """
    namer = Namer(dict(graph.hints))
    names = {v: namer(v) for v in graph.inputs}
    for e in graph.eqns:
        if not e.prim.literal:
            names[e.out] = namer(e.out)
    consts = {e.out for e in graph.eqns if e.prim.literal}
    for b in graph.blocks:  # values quoted by display blocks, live or not
        if b.source is not None:
            for v in (*b.source.inputs, b.source.out):
                if v not in names and v not in consts and v in graph.hints:
                    names[v] = namer(v)
    return names


def rebind(eqn: Eqn, env: dict[Value, Tracer], builder: Builder, names: dict[Value, str]) -> Eqn:
    """``eqn`` with its values replaced by their images in ``env``.

    Values with no image (dead in the replayed graph) stay as they are and keep
    their names, so a display block can still show the original statement.
    """

    def image(v: Value) -> Value:
        t = env.get(v)
        if t is not None:
            return t.value
        if v in names:
            builder.hints.setdefault(v, names[v])
        return v

    return Eqn(eqn.prim, tuple(image(v) for v in eqn.inputs), eqn.params, image(eqn.out), eqn.loc)


def replay(
    builder: Builder,
    graph: Graph,
    env: dict[Value, Tracer],
    names: dict[Value, str] | None = None,
) -> dict[Value, Tracer]:
    """Re-emit ``graph``'s equations into ``builder``.

    ``env`` maps the graph's inputs to tracers of ``builder``; the result maps
    every value of the graph. ``names`` (default: the graph's hints) become the
    hints of the new values.
    """
    hints = dict(graph.hints) if names is None else names
    env = dict(env)
    blocks = sorted(graph.blocks, key=lambda b: b.position)
    k = 0
    origin = builder.origin
    for i, e in enumerate(graph.eqns):
        while k < len(blocks) and blocks[k].position <= i:
            _replay_block(builder, blocks[k], env, hints)
            k += 1
        builder.origin = e.loc or origin
        if e.inputs:
            out = bind(e.prim, *(env[v] for v in e.inputs), **e.kwargs)
        else:  # a constant: no tracer argument to say which builder
            out = Tracer(builder, builder.emit_raw(e.prim, (), e.params, e.out.type))
        env[e.out] = out
        hint = hints.get(e.out)
        if hint is not None:
            builder.set_hint(out.value, hint)
    builder.origin = origin
    for b in blocks[k:]:
        _replay_block(builder, b, env, hints)
    return env


def _replay_block(builder: Builder, block: Block, env: dict[Value, Tracer], hints: dict[Value, str]) -> None:
    source = rebind(block.source, env, builder, hints) if block.source is not None else None
    builder.open_block(block.title, source)
    for name, v in block.aliases:
        t = env.get(v)
        builder.alias(name, t.value if t is not None else v)
