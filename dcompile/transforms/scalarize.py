"""Small arrays as scalars: a loop body on 2- or 4-entry arrays without allocating them.

A loop body that works on a pendulum's state ``[theta, omega]`` builds a
handful of 2-entry arrays per step (``np.stack`` of the derivatives, the RK4
stages, their adjoints); numba allocates each one on the heap, which costs
more than the arithmetic. A hand-written adjoint keeps every entry in a
scalar variable. :func:`scalarize` rewrites a graph whose values all have few
entries into the same computation on scalars: every array value becomes an
array of scalar tracers (a NumPy object array), and each equation is applied
entry by entry:

* an elementwise primitive is bound once per (broadcast) entry;
* any other primitive runs its NumPy implementation on the object arrays,
  which for data movement (indexing, reshapes, stacking, transposes) moves
  the scalar tracers around, and for sums and matrix products calls the
  tracers' ``+`` and ``*``: the arithmetic is recorded entry by entry;
* an implementation that cannot run on object arrays (a factorisation, a
  comparison-based sort) leaves the graph as it is (None).

The interface stays: array inputs are read entry by entry (``a[i]``, which
does not allocate) and array outputs are assembled once at the end. The
result computes the same numbers in the same order of operations per entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dcompile.ir.builder import Builder
from dcompile.ir.graph import Graph, Value
from dcompile.ir.tracer import Tracer, bind, lift, tracing_into
from dcompile.ir.types import DType

LIMIT = 16  # entries: arrays at most this big are split into scalars


def _entries(t: Any) -> np.ndarray:
    """An object array of the scalar tracers (or numbers) of ``t``'s entries."""
    if isinstance(t, np.ndarray) and t.dtype == object:
        return t
    if not isinstance(t, Tracer) or t.ndim == 0:
        out0 = np.empty((), dtype=object)  # not np.array(t): it would ask the tracer for its values
        out0[()] = t
        return out0
    array: Any = t  # a traced array: indexing is installed on Tracer at import (primitives.operators)
    out = np.empty(t.shape, dtype=object)
    for index in np.ndindex(*t.shape):
        out[index] = array[index]
    return out


def _assemble(b: Builder, entries: np.ndarray, dtype: DType) -> Tracer:
    from dcompile.primitives.numpy_api import array

    if entries.ndim == 0:
        return lift(b, entries[()])
    flat = [lift(b, e) for e in entries.ravel()]
    out = array(flat).reshape(entries.shape)
    return out if dtype is DType.F64 else out.astype(bool if dtype is DType.BOOL else int)


def scalarize(graph: Graph, limit: int = LIMIT) -> Graph | None:
    """``graph`` computed on scalars (see the module doc), or None if it has a big array or a primitive
    whose implementation does not run entry by entry."""
    values = [*graph.inputs, *(e.out for e in graph.eqns)]
    if not any(v.type.rank for v in values):
        return None  # nothing to do
    if any(int(np.prod(v.type.shape, dtype=np.int64)) > limit for v in values):
        return None
    if any(not e.prim.entrywise for e in graph.eqns):
        return None  # loops, callbacks: their implementations run code of their own
    b = Builder()
    inputs = [b.new_input(v.type, graph.hints.get(v)) for v in graph.inputs]
    env: dict[Value, np.ndarray] = {}
    try:
        with tracing_into(b), np.errstate(all="ignore"):
            for v, new in zip(graph.inputs, inputs, strict=True):
                env[v] = _entries(Tracer(b, new))
            for e in graph.eqns:
                b.origin = e.loc
                env[e.out] = _apply(b, e, [env[v] for v in e.inputs])
            b.origin = None
            outputs = [_assemble(b, env[v], v.type.dtype).value for v in graph.outputs]
    except Exception:  # an implementation that does not run on tracers entry by entry
        return None
    return b.build(graph.name, inputs, outputs)


def _apply(b: Builder, e: Any, args: list[np.ndarray]) -> np.ndarray:
    shape = e.out.type.shape
    if e.prim.literal:
        value = np.asarray(e.kwargs["value"])
        out = np.empty(value.shape, dtype=object)
        for index in np.ndindex(*value.shape):
            out[index] = value[index].item()
        return out
    if e.prim.elementwise:
        broadcast = np.broadcast_arrays(*args) if args else []
        out = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            out[index] = bind(e.prim, *(a[index] for a in broadcast), **e.kwargs)
        return out
    result = e.prim.impl(*args, **e.kwargs)
    out = result if isinstance(result, np.ndarray) and result.dtype == object else _entries(result)
    if out.shape != shape:
        raise ValueError(f"{e.prim.name} on entries gave shape {out.shape}, not {shape}")
    for index in np.ndindex(*shape):
        x = out[index]
        while isinstance(x, np.ndarray) and x.ndim == 0:  # an entry wrapped by a stacking implementation
            x = out[index] = x[()]
        if not isinstance(x, (Tracer, int, float, bool, np.number, np.bool_)):
            raise TypeError(f"{e.prim.name} on entries gave a {type(x).__name__}")
    return out
