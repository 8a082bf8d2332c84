"""Reading and writing arrays through any index NumPy code uses, as SSA.

Reading (``x[key]``): static ints and slices (views), ``None`` and ``...``,
integer index arrays (constant or traced), integer *traced* scalars
(``z[label]``), several index arrays together (``P[np.arange(n), y]``) and
boolean masks known while tracing (``x[x_data > 0]`` with data known, or a
mask built from ``np.arange``). A mask computed from the arguments has a
length only known at run time and is refused with the fix (``np.where``).

Writing (``y[key] = v``, ``y[key] += v``) is a *functional update*: the
tracer's value becomes a new SSA value (``set_index``, ``scatter_set``), so
the graph stays SSA and reverse mode gives the overwritten entries a zero
gradient. The emitter writes in place when the old version is dead, so the
generated code is the assignment a person writes. Tracers made by basic
indexing, ``reshape`` and ``transpose`` remember their base, so a write
through a view (``row = A[0]; row[1] = v``, ``A[0][1] = v``) reaches the base
and the base's other views, as NumPy's views do. Writing into an argument
would change the caller's array: it is an error that says to copy first.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.primitive import PREC_ATOM, Primitive, register
from dcompile.ir.tracer import Tracer, bind, integer_use, lift
from dcompile.ir.types import DType, VType, broadcast_shapes
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives.arrays import Index, index_src

# -- primitives: writes -----------------------------------------------------------------------------


def _slot_shape(index: Index, shape: Sequence[int]) -> tuple[int, ...]:
    return A.index_shape(index, shape)


def _set_index_rule(x: VType, v: VType, *, index: Index) -> VType:
    slot = _slot_shape(index, x.shape)
    if v.rank and v.shape != slot:
        raise ValueError(f"a value of shape {v.shape} does not fit the slot {slot}")
    return x


def _set_index_impl(x: Any, v: Any, *, index: Index) -> Any:
    out = np.array(x, copy=True)
    out[A.index_tuple(index)] = v
    return out


def _set_index_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    x, v = args
    update = f"{target}[{index_src(params['index'], out.shape)}] = {v}"
    if params.get("_inplace"):
        return [update]
    return [f"{target} = {x}.copy()", update]


def _emit_set_index(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    return f"{args[0][0]} with [{index_src(params['index'], types[0].shape)}] = {args[1][0]}", 0


# y with y[index] = v: the functional form of item and slice assignment.
set_index_p = register(
    Primitive(
        "set_index",
        _set_index_rule,
        _set_index_impl,
        _emit_set_index,
        emit_lines=_set_index_lines,
        inplace=True,
    )
)


def set_index(x: Any, v: Any, index: Index) -> Any:
    """``x`` with ``x[index] = v`` (a static basic index; ``v`` a scalar or of the slot's shape)."""
    return bind(set_index_p, x, v, index=tuple(index))


def _slot_of(x: Any, index: Index) -> tuple[int, ...]:
    return _slot_shape(index, x.shape)


E.defjvp(
    set_index_p,
    lambda t, ans, x, v, *, index: set_index(t, 0.0, index),
    lambda t, ans, x, v, *, index: A.pad(A.broadcast_to(t, _slot_of(x, index)), x.shape, index),
)


def _set_index_x_vjp(g: Any, ans: Any, x: Any, v: Any, *, index: Index) -> Any:
    # The slot's old cotangent (v's share, the next rule) is read first, so the emitter may zero
    # the slot in place: `g[i] = 0.0` after `gv = g[i]`, no copy of g (hash-consing makes the
    # next rule's read this one).
    A.index(g, index)
    return set_index(g, 0.0, index)


E.defvjp(
    set_index_p,
    _set_index_x_vjp,
    lambda g, ans, x, v, *, index: A.index(g, index),
)


def _axis_prefix(axis: int) -> str:
    return ":, " * axis


def _scatter_set_rule(x: VType, idx: VType, v: VType, *, axis: int) -> VType:
    if idx.dtype is not DType.I64 or idx.rank != 1:
        raise ValueError("an index array must be a 1-D integer array")
    slot = (*x.shape[:axis], idx.shape[0], *x.shape[axis + 1 :])
    if v.rank and v.shape != slot:
        raise ValueError(f"a value of shape {v.shape} does not fit the {slot} entries selected")
    return x


def _scatter_set_impl(x: Any, idx: Any, v: Any, *, axis: int) -> Any:
    out = np.array(x, copy=True)
    moved = np.moveaxis(out, axis, 0)
    vals = np.moveaxis(np.asarray(v), axis, 0) if np.ndim(v) else v
    for k, i in enumerate(np.asarray(idx)):
        moved[i] = vals[k] if np.ndim(v) else vals
    return out


def _bounds_check(idx: str, n: int, axis: int) -> list[str]:
    return [
        f"if {idx}.size and (np.min({idx}) < -{n} or np.max({idx}) >= {n}):",
        f'    raise IndexError("index out of bounds for axis {axis} of size {n}")',
    ]


def _scatter_set_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    x, idx, v = args
    axis = params["axis"]
    pre = _axis_prefix(axis)
    value = f"{v}[{pre}_k]" if types[2].rank else v
    lines = _bounds_check(idx, out.shape[axis], axis)
    if not params.get("_inplace"):
        lines.append(f"{target} = {x}.copy()")
    return [*lines, f"for _k in range({idx}.shape[0]):", f"    {target}[{pre}{idx}[_k]] = {value}"]


def _emit_scatter_set(
    args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]
) -> tuple[str, int]:
    pre = _axis_prefix(params["axis"])
    return f"{args[0][0]} with [{pre}{args[1][0]}] = {args[2][0]}", 0


# y with y[idx] = v along an axis, for an integer index array (the last write of a repeated index wins).
scatter_set_p = register(
    Primitive(
        "scatter_set",
        _scatter_set_rule,
        _scatter_set_impl,
        _emit_scatter_set,
        emit_lines=_scatter_set_lines,
        inplace=True,
    )
)


def scatter_set(x: Any, idx: Any, v: Any, axis: int = 0) -> Any:
    return bind(scatter_set_p, x, idx, v, axis=int(axis))


def _last_rule(idx: VType, *, n: int) -> VType:
    return VType(idx.shape, DType.BOOL)


def _last_impl(idx: Any, *, n: int) -> Any:
    flat = np.asarray(idx) % max(n, 1)
    out = np.zeros(flat.shape, dtype=bool)
    seen: set[int] = set()
    for k in range(flat.shape[0] - 1, -1, -1):
        out[k] = int(flat[k]) not in seen
        seen.add(int(flat[k]))
    return out


def _last_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    (idx,) = args
    n = params["n"]
    seen = f"_{target}_seen"
    return [
        f"{seen} = np.zeros({n}, dtype=np.bool_)",
        f"{target} = np.empty({idx}.shape[0], dtype=np.bool_)",
        f"for _k in range({idx}.shape[0] - 1, -1, -1):",
        f"    {target}[_k] = not {seen}[{idx}[_k] % {n}]",
        f"    {seen}[{idx}[_k] % {n}] = True",
    ]


# Which entries of an index array are the last to name their position: the writes that win.
last_occurrence_p = register(
    Primitive(
        "last_occurrence",
        _last_rule,
        _last_impl,
        lambda args, params, types: (f"last_occurrence({args[0][0]})", PREC_ATOM),
        emit_lines=_last_lines,
    )
)


def _along(mask: Any, shape: tuple[int, ...], axis: int) -> Any:
    """A mask over one axis broadcast to ``shape`` (the axis at ``axis``)."""
    keep = tuple(n if i == axis else 1 for i, n in enumerate(shape))
    return A.broadcast_to(A.reshape(mask, keep), shape)


def _scatter_set_v_vjp(g: Any, ans: Any, x: Any, idx: Any, v: Any, *, axis: int) -> Any:
    picked = A.gather(g, idx, axis)
    wins = bind(last_occurrence_p, idx, n=x.shape[axis])
    return E.where(_along(wins, picked.shape, axis), picked, 0.0)


E.defjvp(
    scatter_set_p,
    lambda t, ans, x, idx, v, *, axis: scatter_set(t, idx, 0.0, axis),
    None,
    lambda t, ans, x, idx, v, *, axis: scatter_set(A.broadcast_to(0.0, x.shape), idx, t, axis),
)
E.defvjp(
    scatter_set_p,
    lambda g, ans, x, idx, v, *, axis: scatter_set(g, idx, 0.0, axis),
    None,
    _scatter_set_v_vjp,
)


# -- primitives: gathers along an axis with an index array of the same rank --------------------------


def _rows(shape: Sequence[int]) -> int:
    return int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1


def _take_along_rule(x: VType, idx: VType) -> VType:
    if idx.dtype is not DType.I64 or idx.rank != x.rank or idx.shape[:-1] != x.shape[:-1]:
        raise ValueError(f"take_along_axis needs integer indices of shape (..., k) for {x.shape}, got {idx}")
    return VType(idx.shape, x.dtype)


def _take_along_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    x, idx = args
    xs, ks = types[0].shape, types[1].shape
    rows, n, k = _rows(xs), xs[-1], ks[-1]
    return [
        f"_{target}_x = np.ascontiguousarray({x}).reshape(({rows}, {n}))",
        f"_{target}_i = np.ascontiguousarray({idx}).reshape(({rows}, {k}))",
        f"{target} = np.empty(({rows}, {k}){_dtype_arg(out)})",
        f"for _r in range({rows}):",
        f"    for _c in range({k}):",
        f"        {target}[_r, _c] = _{target}_x[_r, _{target}_i[_r, _c]]",
        f"{target} = {target}.reshape({_tuple_src(out.shape)})",
    ]


def _dtype_arg(t: VType) -> str:
    return "" if t.dtype is DType.F64 else f", dtype=np.{'bool_' if t.dtype is DType.BOOL else 'int64'}"


def _tuple_src(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


take_along_p = register(
    Primitive(
        "take_along",
        _take_along_rule,
        lambda x, idx: np.take_along_axis(np.asarray(x), np.asarray(idx), -1),
        lambda args, params, types: (f"np.take_along_axis({args[0][0]}, {args[1][0]}, -1)", PREC_ATOM),
        emit_lines=_take_along_lines,
    )
)


def _put_along_rule(g: VType, idx: VType, *, n: int) -> VType:
    return VType((*g.shape[:-1], n), DType.F64)


def _put_along_impl(g: Any, idx: Any, *, n: int) -> Any:
    g = np.asarray(g, dtype=np.float64)
    out = np.zeros((*g.shape[:-1], n))
    o2, g2, i2 = out.reshape(-1, n), g.reshape(-1, g.shape[-1]), np.asarray(idx).reshape(-1, g.shape[-1])
    for r in range(o2.shape[0]):
        np.add.at(o2[r], i2[r], g2[r])
    return out


def _put_along_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    g, idx = args
    gs = types[0].shape
    rows, k, n = _rows(gs), gs[-1], params["n"]
    return [
        f"_{target}_g = np.ascontiguousarray({g}).reshape(({rows}, {k}))",
        f"_{target}_i = np.ascontiguousarray({idx}).reshape(({rows}, {k}))",
        f"{target} = np.zeros(({rows}, {n}))",
        f"for _r in range({rows}):",
        f"    for _c in range({k}):",
        f"        {target}[_r, _{target}_i[_r, _c]] += _{target}_g[_r, _c]",
        f"{target} = {target}.reshape({_tuple_src(out.shape)})",
    ]


# The adjoint of take_along: zeros with the entries added back where they were taken from.
put_along_add_p = register(
    Primitive(
        "put_along_add",
        _put_along_rule,
        _put_along_impl,
        lambda args, params, types: (f"put_along_add({args[0][0]}, {args[1][0]})", PREC_ATOM),
        emit_lines=_put_along_lines,
    )
)


def take_along_last(x: Any, idx: Any) -> Any:
    """``np.take_along_axis(x, idx, -1)``."""
    return bind(take_along_p, x, idx)


def put_along_add(g: Any, idx: Any, n: int) -> Any:
    return bind(put_along_add_p, g, idx, n=int(n))


E.defjvp(take_along_p, lambda t, ans, x, idx: take_along_last(t, idx), None)
E.defvjp(take_along_p, lambda g, ans, x, idx: put_along_add(g, idx, x.shape[-1]), None)
E.defjvp(put_along_add_p, lambda t, ans, g, idx, *, n: put_along_add(t, idx, n), None)
E.defvjp(put_along_add_p, lambda gout, ans, g, idx, *, n: take_along_last(gout, idx), None)


def take_along_axis(x: Any, indices: Any, axis: int | None) -> Any:
    """``np.take_along_axis``: the axis is moved last, gathered, and moved back."""
    b = _builder(x, indices)
    x, idx = lift(b, x), lift(b, indices)
    if axis is None:
        x, axis = A.reshape(x, (x.size,)), 0
    axis = int(axis) % x.ndim
    if idx.type.dtype is not DType.I64:
        raise trace_error("take_along_axis needs integer indices.", "pass an integer array", UnsupportedError)
    idx = _wrap_negative(idx, x.shape[axis])
    if x.ndim == 1:
        return take_along_last(x, idx)
    perm = (*[i for i in range(x.ndim) if i != axis], axis)
    back = tuple(int(i) for i in np.argsort(perm))
    shape = tuple(x.shape[i] for i in perm[:-1])
    it = A.transpose(idx, perm)
    it = A.broadcast_to(it, (*shape, it.shape[-1]))
    return A.transpose(take_along_last(A.transpose(x, perm), it), back)


# -- helpers -----------------------------------------------------------------------------------------


def _builder(*xs: Any) -> Any:
    for x in xs:
        if isinstance(x, Tracer):
            return x.builder
        if isinstance(x, (list, tuple)):
            b = _builder(*x)
            if b is not None:
                return b
    return None


def _wrap_negative(idx: Tracer, n: int) -> Tracer:
    """Negative entries of an integer index counted from the end (constants are folded)."""
    known = idx.static()
    if known is not None:
        if known.size and (known.min() < -n or known.max() >= n):
            raise trace_error(f"an index in {known.tolist()} is out of bounds for an axis of size {n}.", "fix it")
        return lift(idx.builder, np.asarray(known % max(n, 1), dtype=np.int64))
    return E.where(E.less(idx, 0), E.add(idx, n), idx)


def _static_int(k: Any, what: str) -> int:
    if isinstance(k, Tracer):
        known = k.static()
        if known is not None and known.ndim == 0:
            return int(known)
        raise trace_error(
            f"{what} is a traced value; dcompile needs slice bounds known when tracing.",
            "slice with Python ints; to pick one entry by a traced integer index, use x[i]",
            UnsupportedError,
        )
    return int(k)


class _Dyn:
    """A traced integer scalar index at one axis (``z[label]``)."""

    __slots__ = ("i",)

    def __init__(self, i: Tracer) -> None:
        self.i = i


def _entries(key: Any, shape: tuple[int, ...]) -> tuple[list[Any], list[int]]:
    """Per-axis entries (``int``, ``(start, stop, step)``, an index array, or :class:`_Dyn`) and newaxes.

    Boolean masks are expanded into index arrays first (see :func:`_expand_masks`).
    """
    items = list(key) if isinstance(key, tuple) else [key]
    dots = [i for i, k in enumerate(items) if k is Ellipsis]
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
            newaxes.append(sum(1 for e in entries if not isinstance(e, (int, _Dyn))) + len(newaxes))
            continue
        entries.append(_entry(k, shape[axis], axis))
        axis += 1
    return entries, newaxes


def _entry(k: Any, n: int, axis: int) -> Any:
    if isinstance(k, slice):
        parts = [None if p is None else _static_int(p, "a slice bound") for p in (k.start, k.stop, k.step)]
        if parts[2] == 0:
            raise trace_error("slice step cannot be zero.", "use a nonzero step")
        return slice(*parts).indices(n)
    if isinstance(k, (bool, np.bool_)):
        raise trace_error("indexing with a bool is not supported.", "index with ints or slices", UnsupportedError)
    if isinstance(k, (int, np.integer)):
        i = int(k)
        if not -n <= i < n:
            raise trace_error(f"index {i} is out of bounds for axis {axis} with size {n}.", "index inside the array")
        return i % n
    if isinstance(k, Tracer) and k.ndim == 0:
        known = k.static()
        if known is not None and known.dtype.kind in "iu":
            return _entry(int(known), n, axis)
        if k.type.dtype is DType.F64:
            raise integer_use(k)
        if k.type.dtype is not DType.I64:
            raise trace_error(
                f"a {k.type.dtype.value} traced value is used as an index.",
                "index with an integer (a computed value can be converted with .astype(int))",
                UnsupportedError,
            )
        return _Dyn(k)
    return _index_array(k, n, axis)


def _index_array(k: Any, n: int, axis: int) -> Any:
    if isinstance(k, Tracer):
        if k.type.dtype is DType.BOOL:
            raise _mask_error()
        known = k.static()
        if known is not None:
            return _index_array(known, n, axis)
        if k.type.dtype is not DType.I64:
            raise trace_error(
                "an index array must be an integer array.", "pass indices as an int64 array", UnsupportedError
            )
        if k.ndim != 1:
            raise trace_error("an index array must be 1-D here.", "ravel it first", UnsupportedError)
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
    return (arr % max(n, 1)).astype(np.int64)


def _mask_error() -> Exception:
    return trace_error(
        "boolean-mask indexing with a mask computed from the arguments (x[x > 0]) gives an array whose "
        "length is only known when the code runs.",
        "keep the shape and select instead: np.where(mask, x, 0.0), then sum (a mask known while tracing, "
        "e.g. built from data or np.arange, works)",
        UnsupportedError,
    )


def _expand_masks(key: Any, shape: tuple[int, ...]) -> Any:
    """Boolean masks known while tracing become index arrays (``np.nonzero``), as NumPy does."""
    items = list(key) if isinstance(key, tuple) else [key]
    out: list[Any] = []
    for k in items:
        mask = None
        if isinstance(k, (np.ndarray, list)) and np.asarray(k).dtype.kind == "b":
            mask = np.asarray(k)
        elif isinstance(k, Tracer) and k.type.dtype is DType.BOOL and k.ndim > 0:
            mask = k.static()
            if mask is None:
                raise _mask_error()
        if mask is None:
            out.append(k)
        else:
            out.extend(np.nonzero(mask))
    return tuple(out) if isinstance(key, tuple) or len(out) != 1 else out[0]


def _is_array(e: Any) -> bool:
    return not isinstance(e, (int, tuple, _Dyn))


# -- reading -----------------------------------------------------------------------------------------


def getitem(x: Tracer, key: Any) -> Any:
    """``x[key]`` (see the module doc); a basic index gives a view (writes through it reach ``x``)."""
    out = _getitem(x, key)
    basic = isinstance(out, Tracer) and out is not x and out.ndim > 0 and _is_basic(key)
    if basic:
        _make_view(out, x, *_view_functions(key))
    return out


def _view_functions(key: Any) -> tuple[Callable[[Tracer], Any], Callable[[Tracer, Tracer], Any]]:
    """How a view by ``key`` reads its base, and writes a new value of itself back into it."""

    def read(base: Tracer) -> Any:
        return _getitem(base, key)

    def write(base: Tracer, new: Tracer) -> Any:
        return setitem_value(base, key, new)

    return read, write


def _is_basic(key: Any) -> bool:
    """Ints, slices, None and ``...`` only (NumPy's basic indexing, which makes views)."""
    items = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer)) for k in items)


def _getitem(x: Tracer, key: Any) -> Any:
    if x.ndim == 0:
        raise trace_error("a scalar traced value cannot be indexed.", "index arrays, not scalars")
    key = _flat_mask_key(x, key)
    if isinstance(key, _Flat):
        return A.gather(key.flat, lift(x.builder, key.idx), 0)
    entries, newaxes = _entries(_expand_masks(key, x.shape), x.shape)
    out = _read(x, entries)
    if newaxes:
        shape = list(out.shape)
        for pos in newaxes:
            shape.insert(pos, 1)
        out = A.reshape(out, tuple(shape))
    return out


_FULL_MASK = object()


def _flat_mask_key(x: Tracer, key: Any) -> Any:
    """A static mask of ``x``'s full shape (``x[mask]``) picks from the raveled array."""
    mask = None
    if isinstance(key, np.ndarray) and key.dtype.kind == "b":
        mask = key
    elif isinstance(key, Tracer) and key.type.dtype is DType.BOOL:
        mask = key.static()
        if mask is None:
            raise _mask_error()
    if mask is None or mask.ndim < 2:
        return key
    if mask.shape != x.shape[: mask.ndim]:
        raise trace_error(f"a mask of shape {mask.shape} does not match an array of shape {x.shape}.", "fix it")
    flat = A.reshape(x, (int(np.prod(mask.shape)), *x.shape[mask.ndim :]))
    return _Flat(flat, np.flatnonzero(mask))


class _Flat:
    """A key that was a full-rank mask: gather ``idx`` from ``flat``."""

    def __init__(self, flat: Tracer, idx: np.ndarray) -> None:
        self.flat = flat
        self.idx = idx


def _read(x: Tracer, entries: list[Any]) -> Any:
    """Basic entries first (a view), then gathers for the index arrays and traced integers."""
    arrays = [k for k, e in enumerate(entries) if _is_array(e)]
    if len(arrays) > 1:
        return _pointwise(x, entries, arrays)
    static = [e if isinstance(e, (int, tuple)) else (0, x.shape[k], 1) for k, e in enumerate(entries)]
    out = A.index(x, tuple(static))
    # Positions of the remaining (dynamic) axes in ``out``: axes not removed by an int.
    pos = 0
    dyn: list[tuple[int, Any]] = []
    for e in entries:
        if isinstance(e, int):
            continue
        if not isinstance(e, tuple):
            dyn.append((pos, e))
        pos += 1
    for p, e in reversed(dyn):
        if isinstance(e, _Dyn):
            i = _wrap_negative(A.reshape(e.i, (1,)), out.shape[p])
            g = A.gather(out, i, p)
            out = A.reshape(g, tuple(n for k, n in enumerate(g.shape) if k != p))
        else:
            out = A.gather(out, lift(x.builder, e), p)
            if _advanced_first(entries):
                out = A.transpose(out, (p, *[k for k in range(out.ndim) if k != p]))
    return out


def _advanced_first(entries: list[Any]) -> bool:
    """NumPy puts the axis of an index array first when ints and the array are not adjacent."""
    adv = [k for k, e in enumerate(entries) if isinstance(e, int) or _is_array(e)]
    return len(adv) > 1 and adv != list(range(adv[0], adv[-1] + 1))


def _pointwise(x: Tracer, entries: list[Any], arrays: list[int]) -> Any:
    """Several index arrays: ``A[rows, cols]`` pairs them entry by entry (1-D arrays of one length)."""
    if arrays != list(range(arrays[0], arrays[-1] + 1)) or any(
        not (e == (0, x.shape[k], 1)) for k, e in enumerate(entries) if k not in arrays
    ):
        raise trace_error(
            "several index arrays are supported side by side with full slices only (A[rows, cols], A[:, i, j]).",
            "index in two steps",
            UnsupportedError,
        )
    b = x.builder
    idx = [lift(b, entries[k]) for k in arrays]
    sizes = [x.shape[k] for k in arrays]
    lengths = {t.shape[0] for t in idx if t.ndim == 1}
    if len(lengths) > 1:
        raise trace_error(f"index arrays of lengths {sorted(lengths)} do not broadcast.", "make them agree")
    flat: Any = None
    for raw, n in zip(idx, sizes, strict=True):
        t = _wrap_negative(raw, n)
        flat = t if flat is None else E.add(E.mul(flat, n), t)
    first = arrays[0]
    shape = (*x.shape[:first], int(np.prod(sizes)), *x.shape[arrays[-1] + 1 :])
    return A.gather(A.reshape(x, shape), flat, first)


# -- writing -----------------------------------------------------------------------------------------


def _root(t: Tracer) -> Tracer:
    view = t.view
    return t if view is None else _root(view[0])


def _make_view(
    out: Tracer, base: Tracer, read: Callable[[Tracer], Any], write: Callable[[Tracer, Tracer], Any]
) -> None:
    """Record that ``out`` reads ``base`` through ``read`` and writes back through ``write``."""
    out.view = (base, read, write)
    views = base.views
    if views is None:  # weak: a view the program no longer holds is not refreshed
        base.views = views = weakref.WeakSet()
    views.add(out)


def assign(t: Tracer, new: Tracer) -> None:
    """Make ``t`` hold ``new``: through its base if it is a view, then refresh every view below."""
    view = t.view
    if view is not None:
        base, _, write = view
        assign(base, write(base, new))
        return
    if t.readonly:
        raise trace_error(
            "this writes into an argument of the traced function; in NumPy it would change the caller's array.",
            "copy it first (`y = x.copy()`) and write into the copy, or build the result with np.where",
            UnsupportedError,
        )
    if new.builder is not t.builder:  # a loop body writing into an array of the function around it
        raise trace_error(
            "this writes, inside a dc.scan / dc.fori_loop body, into an array made outside the loop.",
            "carry the array through the loop (return it as part of the carry), or return per-step "
            "values as the body's outputs (dc.scan stacks them)",
            UnsupportedError,
        )
    t.value = new.value
    _refresh(t)


def _refresh(t: Tracer) -> None:
    for v in list(t.views or ()):
        v.value = v.view[1](t).value
        _refresh(v)


def setitem(x: Tracer, key: Any, v: Any) -> None:
    """``x[key] = v`` as a functional update of the tracer ``x`` (see the module doc)."""
    if x.ndim == 0:
        raise trace_error("a scalar traced value cannot be assigned into.", "assign the name instead")
    _check_writable(x)
    assign(x, setitem_value(x, key, v))


def _check_writable(x: Tracer) -> None:
    if _root(x).readonly:
        assign(x, x)  # raises the argument error with the user's line


def setitem_value(x: Tracer, key: Any, v: Any) -> Tracer:
    """The value of ``x`` after ``x[key] = v``, without changing ``x``."""
    b = x.builder
    v = lift(b, v)
    if v.view is not None and v.view[0] is x and _is_basic(key) and _getitem(x, key).value is v.value:
        return x  # y[k] += d: the view's in-place update already wrote into x; this store changes nothing
    if v.type.dtype is not x.type.dtype:
        v = E.astype(v, x.type.dtype)
    mask = _dynamic_mask(x, key)
    if mask is not None:  # y[mask] = v with a mask from the arguments: a select, shape kept
        if v.ndim and v.shape != x.shape:
            raise _mask_error()
        return E.where(mask, v, x)
    key = _flat_mask_key(x, key)
    if isinstance(key, _Flat):
        flat = _write(key.flat, [lift(b, key.idx)], v)
        return A.reshape(flat, x.shape)
    entries, newaxes = _entries(_expand_masks(key, x.shape), x.shape)
    if newaxes:
        raise trace_error("None (np.newaxis) in an assignment index.", "drop it", UnsupportedError)
    return _write(x, entries, v)


def _dynamic_mask(x: Tracer, key: Any) -> Tracer | None:
    if isinstance(key, Tracer) and key.type.dtype is DType.BOOL and key.static() is None:
        if broadcast_shapes(key.shape, x.shape) != x.shape:
            raise trace_error(f"a mask of shape {key.shape} does not fit an array of shape {x.shape}.", "fix it")
        return key
    return None


def _write(x: Tracer, entries: list[Any], v: Tracer) -> Tracer:
    """``x`` with the entries selected by ``entries`` set to ``v`` (recursive over the key)."""
    b = x.builder
    full = [(0, n, 1) for n in x.shape]
    entries = list(entries) + full[len(entries) :]
    if all(isinstance(e, (int, tuple)) for e in entries):
        slot = A.index_shape(tuple(entries), x.shape)
        if A.is_whole(tuple(entries), x.shape):
            return _fill(v, x)
        return set_index(x, _fit(v, slot), tuple(entries))
    arrays = [k for k, e in enumerate(entries) if _is_array(e)]
    if len(arrays) > 1:
        first = arrays[0]
        sizes = [x.shape[k] for k in arrays]
        flat_shape = (*x.shape[:first], int(np.prod(sizes)), *x.shape[arrays[-1] + 1 :])
        flat_idx: Any = None
        for k, n in zip(arrays, sizes, strict=True):
            t = _wrap_negative(lift(b, entries[k]), n)
            flat_idx = t if flat_idx is None else E.add(E.mul(flat_idx, n), t)
        rest = [e for k, e in enumerate(entries) if k not in arrays]
        new_entries = [*rest[:first], flat_idx, *rest[first:]]
        return A.reshape(_write(A.reshape(x, flat_shape), new_entries, v), x.shape)
    k = next(k for k, e in enumerate(entries) if not (isinstance(e, tuple) and e == (0, x.shape[k], 1)))
    e = entries[k]
    if isinstance(e, (int, tuple)):  # a static entry before a dynamic one: write into the sub-block
        static: list[Any] = [(0, n, 1) for n in x.shape]
        static[k] = e
        sub = A.index(x, tuple(static))
        sub_entries = entries[k + 1 :] if isinstance(e, int) else [(0, sub.shape[k], 1), *entries[k + 1 :]]
        sub_entries = [(0, n, 1) for n in sub.shape[:k]] + sub_entries
        return set_index(x, _write(sub, sub_entries, v), tuple(static))
    idx = lift(b, e) if not isinstance(e, _Dyn) else A.reshape(e.i, (1,))
    idx = _wrap_negative(idx, x.shape[k])
    slab_shape = (*x.shape[:k], idx.shape[0], *x.shape[k + 1 :])
    rest = entries[k + 1 :]
    if all(isinstance(r, tuple) and r == (0, x.shape[k + 1 + j], 1) for j, r in enumerate(rest)):
        if isinstance(e, _Dyn) and v.ndim:  # the value lands on an axis of length 1 at k
            v = A.reshape(_fit(v, x.shape[:k] + x.shape[k + 1 :]), slab_shape)
        return scatter_set(x, idx, _fit(v, slab_shape), k)
    slab = A.gather(x, idx, k)
    at: list[Any] = [0] if isinstance(e, _Dyn) else [(0, slab.shape[k], 1)]
    sub_entries = [(0, n, 1) for n in slab.shape[:k]] + at + rest
    return scatter_set(x, idx, _write(slab, sub_entries, v), k)


def _fit(v: Tracer, slot: tuple[int, ...]) -> Tracer:
    """``v`` as NumPy broadcasts it into a slot: a scalar stays one, an array takes the slot's shape."""
    if v.ndim == 0 or v.shape == slot:
        return v
    try:
        shape = broadcast_shapes(v.shape, slot)
    except ValueError:
        shape = None
    if shape != slot:
        raise trace_error(
            f"could not broadcast a value of shape {v.shape} into an index of shape {slot}.",
            "make the value's shape match the selected entries",
        )
    return A.broadcast_to(v, slot)


def _fill(v: Tracer, x: Tracer) -> Tracer:
    """``x[...] = v``: every entry replaced (a new array of ``x``'s shape)."""
    return A.broadcast_to(_fit(v, x.shape), x.shape)
