"""NumPy's array API on tracers, written with the array primitives.

Indexing (``x[1:]``, ``A[:, j]``, ``x[idx]``, ``x[None]``), ``np.stack``,
``np.linalg.norm``, ``logsumexp`` with an axis, ``zeros_like`` and friends
are compositions of primitives, so they need no derivative rules of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import Tracer, lift
from dcompile.ir.types import DType
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E


def _builder(*xs: Any) -> Any:
    for x in xs:
        if isinstance(x, Tracer):
            return x.builder
        if isinstance(x, (list, tuple)):
            b = _builder(*x)
            if b is not None:
                return b
    return None


def _static_int(k: Any, what: str) -> int:
    if isinstance(k, Tracer):
        raise trace_error(
            f"{what} is a traced value; dcompile needs indices and slice bounds known when tracing.",
            "index with Python ints or slices, or with an integer array passed as an argument",
            UnsupportedError,
        )
    return int(k)


def _normalize(key: Any, shape: tuple[int, ...]) -> tuple[list[Any], list[int]]:
    """Per-axis index entries (``int``, ``(start, stop, step)`` or an index array) and newaxis positions."""
    items = list(key) if isinstance(key, tuple) else [key]
    dots = [i for i, k in enumerate(items) if k is Ellipsis]  # `is`: items may be arrays
    if len(dots) > 1:
        raise trace_error("an index can only have one Ellipsis (...).", "use one")
    used = sum(1 for k in items if k is not None and k is not Ellipsis)
    if used > len(shape):
        raise trace_error(f"too many indices ({used}) for an array of shape {shape}.", "index each axis at most once")
    if dots:
        items[dots[0] : dots[0] + 1] = [slice(None)] * (len(shape) - used)
    entries: list[Any] = []
    newaxes: list[int] = []
    axis = 0
    for k in items:
        if k is None:
            newaxes.append(sum(1 for e in entries if not isinstance(e, int)) + len(newaxes))
            continue
        n = shape[axis]
        if isinstance(k, slice):
            parts = [None if p is None else _static_int(p, "a slice bound") for p in (k.start, k.stop, k.step)]
            if parts[2] == 0:
                raise trace_error("slice step cannot be zero.", "use a nonzero step")
            entries.append(slice(*parts).indices(n))
        elif isinstance(k, (bool, np.bool_)):
            raise trace_error("indexing with a bool is not supported.", "index with ints or slices", UnsupportedError)
        elif isinstance(k, (int, np.integer)):
            i = int(k)
            if not -n <= i < n:
                raise trace_error(
                    f"index {i} is out of bounds for axis {axis} with size {n}.", "index inside the array"
                )
            entries.append(i % n)
        else:
            entries.append(_index_array(k, n, axis))
        axis += 1
    return entries, newaxes


def _index_array(k: Any, n: int, axis: int) -> Any:
    if isinstance(k, Tracer):
        if k.type.dtype is DType.BOOL:
            raise _mask_error()
        if k.type.dtype is not DType.I64 or k.ndim != 1:
            raise trace_error(
                "an index array must be a 1-D integer array.", "pass indices as an int64 vector", UnsupportedError
            )
        return k
    arr = np.asarray(k)
    if arr.dtype.kind == "b":
        raise _mask_error()
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise trace_error(
            f"cannot index a traced array with {type(k).__name__} {arr!r}.",
            "index with ints, slices, or a 1-D integer array",
            UnsupportedError,
        )
    if arr.size and (arr.min() < -n or arr.max() >= n):
        raise trace_error(f"an index in {arr.tolist()} is out of bounds for axis {axis} with size {n}.", "fix it")
    return arr % max(n, 1)


def _mask_error() -> Exception:
    return trace_error(
        "boolean-mask indexing (x[x > 0]) gives an array whose length is only known when the code runs.",
        "keep the shape and select instead: np.where(mask, x, 0.0), then sum",
        UnsupportedError,
    )


def getitem(x: Tracer, key: Any) -> Any:
    """``x[key]`` for static ints and slices, ``None``/``...``, or one integer index array."""
    if x.ndim == 0:
        raise trace_error("a scalar traced value cannot be indexed.", "index arrays, not scalars")
    entries, newaxes = _normalize(key, x.shape)
    arrays = [i for i, e in enumerate(entries) if not isinstance(e, (int, tuple))]
    if arrays:
        axis = arrays[0]
        rest = [e for i, e in enumerate(entries) if i != axis]
        if len(arrays) > 1 or any(not (isinstance(e, tuple) and e == (0, x.shape[i], 1)) for i, e in enumerate(rest)):
            raise trace_error(
                "an integer index array can only be combined with full slices (x[idx], A[:, idx]).",
                "index in two steps: first the slices, then the index array",
                UnsupportedError,
            )
        out = A.gather(x, lift(x.builder, entries[axis]), axis)
    else:
        out = A.index(x, tuple(entries))
    if newaxes:
        shape = list(out.shape)
        for pos in newaxes:
            shape.insert(pos, 1)
        out = A.reshape(out, tuple(shape))
    return out


def array(items: Sequence[Any]) -> Any:
    """``np.array([...])`` of scalars, or of arrays of one shape (stacked on a new first axis)."""
    items = [array(i) if isinstance(i, (list, tuple)) else i for i in items]
    b = _builder(*items)
    if b is None:  # nothing traced: plain NumPy
        return np.array(items, dtype=np.float64)
    ts = [lift(b, i) for i in items]
    if all(t.ndim == 0 for t in ts):
        return A.pack(ts)
    return stack(ts)


def stack(xs: Sequence[Any], axis: int = 0) -> Any:
    """``np.stack``: arrays of one shape joined along a new axis."""
    b = _builder(*xs)
    ts = [lift(b, x) for x in xs]
    if not ts:
        raise ValueError("need at least one array to stack")
    if len({t.shape for t in ts}) != 1:
        raise trace_error(f"np.stack needs arrays of one shape, got {[t.shape for t in ts]}.", "make them agree")
    if ts[0].ndim == 0 and axis in (0, -1):
        return A.pack(ts)
    axis = int(axis) % (ts[0].ndim + 1)
    shape = (*ts[0].shape[:axis], 1, *ts[0].shape[axis:])
    return A.concatenate([A.reshape(t, shape) for t in ts], axis)


def concatenate(xs: Sequence[Any], axis: int = 0) -> Any:
    b = _builder(*xs)
    ts = [lift(b, x) for x in xs]
    if any(t.ndim == 0 for t in ts):
        raise trace_error("np.concatenate joins arrays, not scalars.", "use np.stack or np.array([...]) for scalars")
    return A.concatenate(ts, int(axis) % ts[0].ndim)


def hstack(xs: Sequence[Any]) -> Any:
    b = _builder(*xs)
    ts = [lift(b, x) for x in xs]
    ts = [A.reshape(t, (1,)) if t.ndim == 0 else t for t in ts]
    return A.concatenate(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(xs: Sequence[Any]) -> Any:
    b = _builder(*xs)
    ts = [lift(b, x) for x in xs]
    ts = [A.reshape(t, (1, t.size)) if t.ndim < 2 else t for t in ts]
    return A.concatenate(ts, 0)


def dot(a: Any, b: Any) -> Any:
    """``np.dot``: scalar products scale, vectors and matrices multiply."""
    if not isinstance(a, Tracer) and not isinstance(b, Tracer):
        return np.dot(a, b)
    bld = _builder(a, b)
    a, b = lift(bld, a), lift(bld, b)
    if a.ndim == 0 or b.ndim == 0:
        return E.mul(a, b)
    return A.matmul(a, b)


def matmul(a: Any, b: Any) -> Any:
    bld = _builder(a, b)
    a, b = lift(bld, a), lift(bld, b)
    if a.ndim == 0 or b.ndim == 0:
        raise trace_error("matmul (@) does not take scalars.", "use * to scale")
    return A.matmul(a, b)


def outer(a: Any, b: Any) -> Any:
    bld = _builder(a, b)
    a, b = lift(bld, a), lift(bld, b)
    return A.outer(A.reshape(a, (a.size,)), A.reshape(b, (b.size,)))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.linalg.norm``: the 2-norm (Frobenius for matrices) over ``axis``."""
    if ord not in (None, 2, "fro") or (ord == 2 and isinstance(x, Tracer) and x.ndim == 2 and axis is None):
        raise trace_error(
            f"np.linalg.norm with ord={ord!r} is not supported.",
            "use the 2-norm (the default), or write the norm out with np.sum and np.abs",
            UnsupportedError,
        )
    return E.sqrt(A.total(E.integer_pow(x, 2), axis, keepdims))


def logsumexp(*xs: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x)))`` without overflow: of several scalars, or of an array over ``axis``."""
    if len(xs) == 1 and isinstance(xs[0], (np.ndarray, list, tuple)) and _builder(xs[0]) is None:
        x = np.asarray(xs[0], dtype=np.float64)  # plain NumPy, outside tracing
        m = np.max(x, axis=axis, keepdims=True)
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)
    if len(xs) == 1 and isinstance(xs[0], Tracer) and xs[0].ndim > 0:
        x = xs[0]
        m = A.stop_gradient(A.amax(x, axis, keepdims=True))  # any shift is exact; the max avoids overflow
        s = A.total(E.exp(E.sub(x, m)), axis, keepdims=True)
        out = E.add(E.log(s), m)
        if not keepdims:
            axes = A._axes(x, axis)
            out = A.reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
        return out
    return E.logsumexp(*xs)


def _like(value: float) -> Any:
    def make(x: Any, dtype: Any = None) -> Any:
        if not isinstance(x, Tracer):
            return np.full_like(x, value, dtype=dtype)
        return A.broadcast_to(lift(x.builder, float(value)), x.shape)

    return make


zeros_like = _like(0.0)
ones_like = _like(1.0)


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Any:
    if not isinstance(x, Tracer):
        return np.full_like(x, fill_value, dtype=dtype)
    return A.broadcast_to(lift(x.builder, fill_value), x.shape)


def ravel(x: Any) -> Any:
    return A.reshape(x, (x.size,))


def squeeze(x: Any, axis: Any = None) -> Any:
    axes = range(x.ndim) if axis is None else A._axes(x, axis)
    return A.reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def expand_dims(x: Any, axis: int) -> Any:
    shape = list(x.shape)
    shape.insert(int(axis) % (x.ndim + 1), 1)
    return A.reshape(x, tuple(shape))


def vdot(a: Any, b: Any) -> Any:
    return A.matmul(ravel(a), ravel(b))


def trace_of(x: Any) -> Any:
    n = min(x.shape)
    return A.total(A.gather(A.reshape(x, (x.size,)), lift(x.builder, np.arange(n) * (x.shape[1] + 1))))
