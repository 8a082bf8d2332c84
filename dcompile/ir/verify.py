"""The IR verifier: checks the invariants every pass must preserve."""

from __future__ import annotations

from dcompile.ir.builder import _const_key
from dcompile.ir.graph import Eqn, Graph, Value


class VerificationError(AssertionError):
    """A graph broke an IR invariant: a bug in dcompile, not in user code."""


def verify(graph: Graph) -> Graph:
    """Check SSA, topological order, types and hash-consing; return the graph.

    Raises :class:`VerificationError` naming the first broken invariant.
    """
    defined: set[Value] = set()
    for v in graph.inputs:
        if v in defined:
            raise VerificationError(f"input {v} appears twice")
        defined.add(v)
    seen_keys: set[tuple[object, ...]] = set()
    for i, e in enumerate(graph.eqns):
        _check_eqn(i, e, defined, seen_keys)
        defined.add(e.out)
    for v in graph.outputs:
        if v not in defined:
            raise VerificationError(f"output {v} is not defined")
    for b in graph.blocks:
        if not 0 <= b.position <= len(graph.eqns):
            raise VerificationError(f"block at {b.position} is out of range")
    return graph


def _check_eqn(i: int, e: Eqn, defined: set[Value], seen_keys: set[tuple[object, ...]]) -> None:
    for v in e.inputs:
        if v not in defined:
            raise VerificationError(f"equation {i} ({e.prim.name}) uses {v} before it is defined")
    if e.out in defined:
        raise VerificationError(f"equation {i} ({e.prim.name}) redefines {e.out}")
    expected = e.prim.type_rule(*(v.type for v in e.inputs), **e.kwargs)
    if expected != e.out.type:
        raise VerificationError(f"equation {i} ({e.prim.name}) has type {e.out.type}, rule says {expected}")
    if e.prim.literal:
        key: tuple[object, ...] = ("const", _const_key(e.kwargs["value"]))
    else:
        key = (e.prim.name, tuple(v.id for v in e.inputs), e.params)
    if key in seen_keys:
        raise VerificationError(f"equation {i} ({e.prim.name}) duplicates an earlier one (hash-consing)")
    seen_keys.add(key)
