"""The reference interpreter: a graph run with its primitives' NumPy implementations.

Loops run their bodies with it (a loop primitive's implementation), and
:mod:`dcompile.debug` runs a graph with an *observer*: a function called after
each equation, at every nesting level (a loop body's equations included),
which finds the first operation that made a NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from dcompile.ir.graph import Graph, Value

# observer(graph, index of the equation, its input values, its output value)
Observer = Callable[[Graph, int, list[Any], np.ndarray], None]
_OBSERVER: ContextVar[Observer | None] = ContextVar("_OBSERVER", default=None)


def run_graph(graph: Graph, inputs: Sequence[Any]) -> list[Any]:
    """``graph``'s outputs computed with the primitives' NumPy implementations."""
    env: dict[Value, Any] = dict(zip(graph.inputs, inputs, strict=True))
    observe = _OBSERVER.get()
    with np.errstate(all="ignore"):
        for i, e in enumerate(graph.eqns):
            ins = [env[v] for v in e.inputs]
            out = env[e.out] = np.asarray(e.prim.impl(*ins, **e.kwargs))
            if observe is not None:
                observe(graph, i, ins, out)
    return [env[v] for v in graph.outputs]


@contextmanager
def observing(observer: Observer) -> Any:
    """Call ``observer`` after every equation :func:`run_graph` runs inside the block."""
    token = _OBSERVER.set(observer)
    try:
        yield
    finally:
        _OBSERVER.reset(token)
