"""Forward mode: push tangents from the inputs to the outputs.

For each equation ``y = p(x1, ..., xk)`` in order, the tangent of ``y`` is the
sum over inputs with a nonzero tangent of the primitive's JVP rule for that
input — the chain rule, one input direction per sweep. A tangent that is
``None`` is a symbolic zero: it generates no code.
"""

from __future__ import annotations

from collections.abc import Callable

from dcompile.errors import UnsupportedError
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Eqn, Graph, Value
from dcompile.ir.primitive import input_rules
from dcompile.ir.tracer import Tracer
from dcompile.primitives.arrays import broadcast_to
from dcompile.primitives.elementwise import add
from dcompile.transforms.masking import apply_rule


def push_forward(
    builder: Builder,
    graph: Graph,
    env: dict[Value, Tracer],
    tangents: dict[Value, Tracer],
    tangent_name: Callable[[Value], str | None] | None = None,
) -> dict[Value, Tracer]:
    """Tangents of every value of ``graph`` reached from ``tangents``.

    ``env`` is a replay of ``graph`` into ``builder`` (the primal values);
    ``tangents`` maps some inputs to their tangents. Returns the map of all
    nonzero tangents. ``tangent_name(v)`` gives the hint for ``v``'s tangent.
    """
    tan: dict[Value, Tracer] = dict(tangents)
    origin = builder.origin
    for e in graph.eqns:
        if not e.out.type.dtype.differentiable:
            continue
        ts = [tan.get(v) for v in e.inputs]
        if all(t is None for t in ts):
            continue
        builder.origin = e.loc or origin  # what is derived from e is stamped with e's source line
        if e.prim.jvp_joint is not None:  # one rule for all inputs (a loop)
            out_t = e.prim.jvp_joint(ts, env[e.out], [env[v] for v in e.inputs], **e.kwargs)
        else:
            out_t = _tangent(e, ts, env)
        if out_t is None or out_t.is_const(0.0):
            continue
        tan[e.out] = out_t
        if tangent_name is not None:
            hint = tangent_name(e.out)
            if hint:
                builder.set_hint(out_t.value, hint)
    builder.origin = origin
    return tan


def _tangent(e: Eqn, ts: list[Tracer | None], env: dict[Value, Tracer]) -> Tracer | None:
    """The sum of the per-input JVP rules' contributions to ``e``'s tangent."""
    rules = input_rules(e.prim.jvp, len(e.inputs))
    if rules is None:
        raise UnsupportedError(
            f"primitive {e.prim.name!r} has no forward-mode rule, which jvp, hvp and hessian need; "
            "give it JVP rules (dcompile.extend.defjvp, or jvp=/partials= in extend.primitive) "
            "or use reverse mode (grad, value_and_grad)"
        )
    ins = [env[v] for v in e.inputs]
    out_t: Tracer | None = None
    for t, rule in zip(ts, rules, strict=True):
        if t is None or rule is None:
            continue
        c = apply_rule(rule, t, env[e.out], ins, e.kwargs, elementwise=e.prim.elementwise)
        if c is None or (isinstance(c, Tracer) and c.is_const(0.0)):  # a rule may answer "no derivative"
            continue
        if not isinstance(c, Tracer) or c.shape != e.out.type.shape:
            c = broadcast_to(c, e.out.type.shape)  # a tangent of a broadcast input
        out_t = c if out_t is None else add(out_t, c)
    return out_t
