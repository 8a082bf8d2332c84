"""NumPy's array API on tracers, written with the primitives.

Each function is declared with the NumPy names it implements
(:func:`~dcompile.primitives.spellings.implements`); the tables that tracing
dispatches on are built from those declarations. Functions here are
compositions of primitives (``np.roll`` is two slices and a concatenation,
``np.kron`` a broadcast product and a reshape), so they need no derivative
rules of their own. Keyword arguments NumPy has but dcompile does not support
(``out=``, a non-float ``dtype=``) raise dcompile's error, never a bare
``TypeError``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import Tracer, active_builder, lift
from dcompile.ir.types import DType
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives import indexing as I
from dcompile.primitives import shapes as S
from dcompile.primitives.spellings import CONSTRUCTOR, VALUES, ZERO, implements


def _builder(*xs: Any) -> Any:
    for x in xs:
        if isinstance(x, Tracer):
            return x.builder
        if isinstance(x, (list, tuple)):
            b = _builder(*x)
            if b is not None:
                return b
    return None


def _traced(*xs: Any) -> bool:
    return _builder(*xs) is not None


def _lift_all(xs: Sequence[Any]) -> list[Tracer]:
    b = _builder(*xs) or active_builder()
    return [asarray(x) if isinstance(x, (list, tuple)) else lift(b, x) for x in xs]


def _no_out(out: Any) -> None:
    E._no_out(out)


def _float_dtype(dtype: Any, what: str) -> None:
    if dtype is not None and E.as_dtype(dtype) is not DType.F64:
        raise trace_error(
            f"{what} with dtype={dtype!r} on traced values.",
            "leave dtype out (results are float64) and convert with .astype() where you need integers",
            UnsupportedError,
        )


def _axis(x: Tracer, axis: Any) -> int:
    a = int(axis)
    if not -x.ndim <= a < x.ndim:
        raise trace_error(f"axis {a} is out of bounds for an array of rank {x.ndim}.", "pick an existing axis")
    return a % x.ndim


def _ints(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer, Tracer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


# -- constructors (inside a traced function they make traced arrays: item assignment works) ----------


def _filled(value: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    target = E.as_dtype(float if dtype is None else dtype)
    b = active_builder()
    if b is None:
        return np.full(shape, value, dtype=target.value)
    if isinstance(value, Tracer):
        v = E.astype(value, target) if value.type.dtype is not target else value
    else:
        v = (
            lift(b, np.asarray(value).astype(target.value)[()])
            if target is DType.BOOL
            else Tracer(b, b.const(value, target))
        )
    out = A.broadcast_to(v, shape)
    return Tracer(out.builder, out.value) if out is v else out


@implements("numpy.zeros", "numpy.empty", derivative=CONSTRUCTOR)
def zeros(shape: Any, dtype: Any = None, order: str = "C", *, like: Any = None) -> Any:
    """``np.zeros`` (and ``np.empty``, which is zeros here: no uninitialised memory is read)."""
    return _filled(0, _ints(shape), dtype)


@implements("numpy.ones", derivative=CONSTRUCTOR)
def ones(shape: Any, dtype: Any = None, order: str = "C", *, like: Any = None) -> Any:
    return _filled(1, _ints(shape), dtype)


@implements("numpy.full", derivative=CONSTRUCTOR)
def full(shape: Any, fill_value: Any, dtype: Any = None, order: str = "C", *, like: Any = None) -> Any:
    """``np.full``; a traced ``fill_value`` is differentiable."""
    if dtype is None and not isinstance(fill_value, (float, Tracer, np.floating)):
        dtype = np.asarray(fill_value).dtype
    return _filled(fill_value, _ints(shape), dtype)


def _like(value: float) -> Any:
    def make(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None) -> Any:
        target = dtype if dtype is not None else (a.dtype if hasattr(a, "dtype") else float)
        return _filled(value, _ints(shape) if shape is not None else tuple(np.shape(a)), target)

    return make


zeros_like = implements("numpy.zeros_like", "numpy.empty_like", derivative=CONSTRUCTOR)(_like(0.0))
ones_like = implements("numpy.ones_like", derivative=CONSTRUCTOR)(_like(1.0))


@implements("numpy.full_like", derivative=CONSTRUCTOR)
def full_like(
    a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None
) -> Any:
    target = dtype if dtype is not None else (a.dtype if hasattr(a, "dtype") else float)
    return _filled(fill_value, _ints(shape) if shape is not None else tuple(np.shape(a)), target)


def _constructed(kind: str, args: Sequence[Any], dtype: DType) -> Any:
    b = active_builder()
    if b is None:
        return S._make_impl(kind=kind, args=tuple(args), dtype=dtype)
    return S.make(b, kind, args, dtype)


@implements("numpy.eye", derivative=CONSTRUCTOR)
def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = float, order: str = "C", *, like: Any = None) -> Any:
    return _constructed("eye", (int(N), None if M is None else int(M), int(k)), E.as_dtype(dtype))


@implements("numpy.identity", derivative=CONSTRUCTOR)
def identity(n: int, dtype: Any = None, *, like: Any = None) -> Any:
    return eye(n, dtype=float if dtype is None else dtype)


@implements("numpy.tri", derivative=CONSTRUCTOR)
def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = float, *, like: Any = None) -> Any:
    return _constructed("tri", (int(N), int(N) if M is None else int(M), int(k)), E.as_dtype(dtype))


@implements("numpy.arange", derivative=CONSTRUCTOR)
def arange(*args: Any, dtype: Any = None, like: Any = None) -> Any:
    """``np.arange(stop)``, ``(start, stop)``, ``(start, stop, step)`` of static numbers."""
    values = [_static_number(a, "np.arange's bounds") for a in args]
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in values) else np.float64
    return _constructed("arange", tuple(values), E.as_dtype(dtype))


@implements("numpy.linspace", derivative=CONSTRUCTOR)
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False, dtype: Any = None,
             axis: int = 0) -> Any:  # fmt: skip
    n = int(num)
    dynamic = any(isinstance(v, Tracer) and v.static() is None for v in (start, stop))
    if dynamic:  # start + frac * (stop - start), with frac the static grid on [0, 1]
        frac = linspace(0.0, 1.0, n, endpoint=endpoint) if endpoint else E.div(arange(n), float(n))
        return E.add(start, E.mul(frac, E.sub(stop, start)))
    a, b = float(_static_number(start, "bounds")), float(_static_number(stop, "bounds"))
    if not endpoint or retstep or axis != 0:
        grid: Any = np.linspace  # (NumPy's overloads need a literal retstep)
        return grid(a, b, num, endpoint=endpoint, retstep=retstep)
    return _constructed("linspace", (a, b, int(num)), E.as_dtype(float if dtype is None else dtype))


def _static_number(a: Any, what: str) -> Any:
    if isinstance(a, Tracer):
        known = a.static()
        if known is None or known.ndim:
            raise trace_error(f"{what} must be known while tracing.", "pass plain numbers", UnsupportedError)
        a = known[()]
    if isinstance(a, (np.integer, int)) and not isinstance(a, bool):
        return int(a)
    return float(a)


@implements("numpy.array", "numpy.asarray", "numpy.asanyarray", "numpy.ascontiguousarray", "numpy.asfortranarray")
def array(object: Any, dtype: Any = None, copy: Any = True, order: str = "K", ndmin: int = 0, **kwargs: Any) -> Any:
    """``np.array([...])``: scalars and arrays (traced or not) stacked, or a traced array (copied)."""
    if isinstance(object, Tracer):
        out = Tracer(object.builder, object.value)  # a new array object: writing into it leaves the original
        return E.astype(out, dtype) if dtype is not None else out
    if isinstance(object, (list, tuple)):
        items = [array(i) if isinstance(i, (list, tuple)) else i for i in object]
        b = _builder(*items)
        if b is None:
            return np.array(items, dtype=np.float64 if dtype is None else dtype)
        ts = [lift(b, i) for i in items]
        dtypes = {t.type.dtype for t in ts}
        if len(dtypes) > 1:
            ts = [E.astype(t, DType.F64) for t in ts]
        out = A.pack(ts) if all(t.ndim == 0 for t in ts) else stack(ts)
        return E.astype(out, dtype) if dtype is not None else out
    return np.array(object, dtype=dtype)


asarray = array


@implements("numpy.copy", "numpy.ndarray.copy")
def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    """A new array object with the same values (writing into it leaves ``a`` as it was)."""
    if isinstance(a, Tracer):
        return Tracer(a.builder, a.value)
    return np.copy(a)


@implements("numpy.ndarray.astype")
def astype(x: Any, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True, copy: bool = True) -> Any:
    """``x.astype(dtype)``: float64, int64 or bool (integers and booleans are data: no derivative)."""
    out = E.astype(x, dtype)
    return Tracer(out.builder, out.value) if out is x else out


# -- shapes --------------------------------------------------------------------------------------------


@implements("numpy.shape")
def shape(a: Any) -> tuple[int, ...]:
    return tuple(a.shape) if isinstance(a, Tracer) else np.shape(a)


@implements("numpy.ndim")
def ndim(a: Any) -> int:
    return a.ndim if isinstance(a, Tracer) else np.ndim(a)


@implements("numpy.size")
def size(a: Any, axis: int | None = None) -> int:
    if not isinstance(a, Tracer):
        return np.size(a, axis)
    return a.size if axis is None else a.shape[_axis(a, axis)]


def _viewed(out: Any, base: Any, read: Any, write: Any) -> Any:
    """Mark ``out`` as a view of ``base`` (a new object, written back through ``write``)."""
    if isinstance(out, Tracer) and isinstance(base, Tracer):
        if out is base:
            out = Tracer(base.builder, base.value)
        I._make_view(out, base, read, write)
    return out


@implements("numpy.reshape", "numpy.ndarray.reshape")
def reshape(a: Any, *shape: Any, newshape: Any = None, order: str = "C", copy: Any = None) -> Any:
    if not isinstance(a, Tracer):
        return np.reshape(a, shape[0] if len(shape) == 1 else shape)
    if order != "C":
        raise trace_error(f"reshape with order={order!r}.", "use the default order='C'", UnsupportedError)
    target = newshape if newshape is not None else (shape[0] if len(shape) == 1 else shape)
    out = A.reshape(a, target)
    old = a.shape
    return _viewed(out, a, lambda base, s=out.shape: A.reshape(base, s), lambda base, new, s=old: A.reshape(new, s))


@implements("numpy.ravel", "numpy.ndarray.ravel")
def ravel(a: Any, order: str = "C") -> Any:
    return reshape(a, (a.size,)) if isinstance(a, Tracer) else np.ravel(a)


@implements("numpy.ndarray.flatten")
def flatten(a: Any, order: str = "C") -> Any:
    return copy(A.reshape(a, (a.size,)))


@implements("numpy.squeeze", "numpy.ndarray.squeeze")
def squeeze(a: Any, axis: Any = None) -> Any:
    axes = range(a.ndim) if axis is None else A.axes_of(a, axis)
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if not (i in axes and n == 1)))


@implements("numpy.expand_dims")
def expand_dims(a: Any, axis: Any) -> Any:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_rank = a.ndim + len(axes)
    positions = sorted(int(ax) % out_rank for ax in axes)
    shape = list(a.shape)
    for p in positions:
        shape.insert(p, 1)
    return reshape(a, tuple(shape))


@implements("numpy.transpose", "numpy.ndarray.transpose", "numpy.permute_dims")
def transpose(a: Any, *axes: Any) -> Any:
    if not isinstance(a, Tracer):
        return np.transpose(a, *axes)
    perm = axes[0] if len(axes) == 1 else (axes or None)
    out = A.transpose(a, perm)
    p = tuple(out_perm(a, perm))
    inv = tuple(int(i) for i in np.argsort(p))
    return _viewed(out, a, lambda base: A.transpose(base, p), lambda base, new: A.transpose(new, inv))


def out_perm(a: Tracer, perm: Any) -> list[int]:
    return list(reversed(range(a.ndim))) if perm is None else [int(i) % max(a.ndim, 1) for i in perm]


@implements("numpy.swapaxes", "numpy.ndarray.swapaxes")
def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    perm = list(range(a.ndim))
    i, j = _axis(a, axis1), _axis(a, axis2)
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, tuple(perm))


@implements("numpy.moveaxis")
def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    src = [_axis(a, s) for s in ((source,) if isinstance(source, (int, np.integer)) else source)]
    dst = [int(d) % a.ndim for d in ((destination,) if isinstance(destination, (int, np.integer)) else destination)]
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(a, tuple(order))


@implements("numpy.flip")
def flip(m: Any, axis: Any = None) -> Any:
    axes = range(m.ndim) if axis is None else A.axes_of(m, axis)
    key = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(m.ndim))
    return m[key]


@implements("numpy.fliplr")
def fliplr(m: Any) -> Any:
    return m[:, ::-1]


@implements("numpy.flipud")
def flipud(m: Any) -> Any:
    return m[::-1]


@implements("numpy.rot90")
def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    k = int(k) % 4
    a0, a1 = _axis(m, axes[0]), _axis(m, axes[1])
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return transpose(flip(m, a1), tuple(perm)) if k == 1 else flip(transpose(m, tuple(perm)), a1)


@implements("numpy.roll")
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    if axis is None:
        return A.reshape(roll(A.reshape(a, (a.size,)), shift, 0), a.shape)
    shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = a
    for s_raw, ax_raw in zip(shifts, axes, strict=True):
        ax = _axis(out, ax_raw)
        n = out.shape[ax]
        s = int(s_raw) % n if n else 0
        if s == 0:
            continue
        lead = tuple((0, m, 1) for m in out.shape[:ax])
        tail = A.index(out, (*lead, (n - s, n, 1)))
        head = A.index(out, (*lead, (0, n - s, 1)))
        out = A.concatenate([tail, head], ax)
    return out


@implements("numpy.tile")
def tile(A_: Any, reps: Any) -> Any:
    reps_t = _ints(reps)
    x = A_
    rank = max(x.ndim, len(reps_t))
    reps_t = (1,) * (rank - len(reps_t)) + reps_t
    x = A.reshape(x, (1,) * (rank - x.ndim) + x.shape)
    # Interleave a repeat axis before each axis: (r0, n0, r1, n1, ...) broadcast, then merged.
    shape = tuple(d for r, n in zip(reps_t, x.shape, strict=True) for d in (1, n))
    target = tuple(d for r, n in zip(reps_t, x.shape, strict=True) for d in (r, n))
    out = A.broadcast_to(A.reshape(x, shape), target)
    return A.reshape(out, tuple(r * n for r, n in zip(reps_t, x.shape, strict=True)))


@implements("numpy.repeat", "numpy.ndarray.repeat")
def repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    if axis is None:
        a, axis = A.reshape(a, (a.size,)), 0
    ax = _axis(a, axis)
    reps = np.asarray(repeats.static() if isinstance(repeats, Tracer) else repeats)
    if reps.ndim == 0:
        r = int(reps)
        shape = (*a.shape[: ax + 1], 1, *a.shape[ax + 1 :])
        target = (*a.shape[: ax + 1], r, *a.shape[ax + 1 :])
        out = A.broadcast_to(A.reshape(a, shape), target)
        return A.reshape(out, (*a.shape[:ax], a.shape[ax] * r, *a.shape[ax + 1 :]))
    idx = np.repeat(np.arange(a.shape[ax]), reps)
    return A.gather(a, lift(a.builder, idx.astype(np.int64)), ax)


@implements("numpy.pad")
def pad(array_: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0, **kwargs: Any) -> Any:
    """``np.pad`` with ``mode="constant"`` (edge and reflect modes by slices too)."""
    x = array_
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    consts = np.broadcast_to(np.asarray(constant_values, dtype=np.float64), (x.ndim, 2))
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise trace_error(f"np.pad with mode={mode!r}.",
                          "use mode='constant', 'edge', 'reflect', 'symmetric' or 'wrap'",
                          UnsupportedError)  # fmt: skip
    out = x
    for ax in range(x.ndim):
        before, after = (int(w) for w in widths[ax])
        if before == after == 0:
            continue
        parts = []
        if before:
            parts.append(_pad_block(out, ax, before, mode, float(consts[ax][0]), first=True))
        parts.append(out)
        if after:
            parts.append(_pad_block(out, ax, after, mode, float(consts[ax][1]), first=False))
        out = A.concatenate(parts, ax)
    return out


def _pad_block(x: Tracer, ax: int, width: int, mode: str, value: float, *, first: bool) -> Any:
    n = x.shape[ax]
    shape = (*x.shape[:ax], width, *x.shape[ax + 1 :])
    if mode == "constant":
        return A.broadcast_to(lift(x.builder, value), shape)
    if mode == "edge":
        edge = _take_range(x, ax, 0, 1) if first else _take_range(x, ax, n - 1, n)
        return A.broadcast_to(edge, shape)
    if mode == "wrap":
        return _take_range(x, ax, n - width, n) if first else _take_range(x, ax, 0, width)
    skip = 1 if mode == "reflect" else 0
    if first:
        return _reverse(_take_range(x, ax, skip, skip + width), ax)
    return _reverse(_take_range(x, ax, n - width - skip, n - skip), ax)


def _take_range(x: Tracer, ax: int, start: int, stop: int) -> Any:
    return A.index(x, (*((0, m, 1) for m in x.shape[:ax]), (start, stop, 1)))


def _reverse(x: Tracer, ax: int) -> Any:
    n = x.shape[ax]
    return A.index(x, (*((0, m, 1) for m in x.shape[:ax]), (n - 1, -1, -1)))


@implements("numpy.tril")
def tril(m: Any, k: int = 0) -> Any:
    return S.tril(m, k)


@implements("numpy.triu")
def triu(m: Any, k: int = 0) -> Any:
    return S.triu(m, k)


@implements("numpy.diag")
def diag(v: Any, k: int = 0) -> Any:
    """``np.diag``: the diagonal of a matrix, or the matrix of a vector."""
    if v.ndim == 1:
        return S.diag_matrix(v, k)
    if v.ndim == 2:
        return S.diagonal(v, k)
    raise trace_error("np.diag takes a vector or a matrix.", "use np.diagonal for stacks", UnsupportedError)


@implements("numpy.diagflat")
def diagflat(v: Any, k: int = 0) -> Any:
    return S.diag_matrix(A.reshape(v, (v.size,)), k)


@implements("numpy.diagonal", "numpy.ndarray.diagonal")
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    if a.ndim == 2 and (_axis(a, axis1), _axis(a, axis2)) == (0, 1):
        return S.diagonal(a, offset)
    # A stack: move the two axes last, then take each matrix's diagonal with a gather.
    i, j = _axis(a, axis1), _axis(a, axis2)
    rest = [k for k in range(a.ndim) if k not in (i, j)]
    moved = A.transpose(a, (*rest, i, j))
    n, m = moved.shape[-2:]
    rows = np.arange(max(0, -offset), min(n, m - offset)) if offset >= 0 else np.arange(-offset, min(n, m - offset))
    flat_idx = (rows * m + rows + offset).astype(np.int64)
    flat = A.reshape(moved, (*moved.shape[:-2], n * m))
    return A.gather(flat, lift(a.builder, flat_idx), flat.ndim - 1)


@implements("numpy.trace", "numpy.ndarray.trace")
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
    _no_out(out)
    return A.total(diagonal(a, offset, axis1, axis2), -1)


def _split_points(n: int, indices_or_sections: Any, even: bool) -> list[int]:
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if even and n % k:
            raise trace_error(f"array split does not result in an equal division ({n} into {k}).",
                              "use np.array_split")  # fmt: skip
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        return list(np.cumsum([0, *sizes]))
    return [0, *[min(int(i), n) for i in indices_or_sections], n]


def _split(ary: Any, indices_or_sections: Any, axis: int, even: bool) -> list[Any]:
    ax = _axis(ary, axis)
    points = _split_points(ary.shape[ax], indices_or_sections, even)
    lead = tuple((0, m, 1) for m in ary.shape[:ax])
    return [A.index(ary, (*lead, (int(a), max(int(a), int(b)), 1))) for a, b in itertools.pairwise(points)]


@implements("numpy.split")
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    return _split(ary, indices_or_sections, axis, even=True)


@implements("numpy.array_split")
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    return _split(ary, indices_or_sections, axis, even=False)


@implements("numpy.hsplit")
def hsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    return _split(ary, indices_or_sections, 1 if ary.ndim > 1 else 0, even=True)


@implements("numpy.vsplit")
def vsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    return _split(ary, indices_or_sections, 0, even=True)


@implements("numpy.dsplit")
def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    return _split(ary, indices_or_sections, 2, even=True)


# -- joining ------------------------------------------------------------------------------------------


@implements("numpy.concatenate", "numpy.concat")
def concatenate(
    arrays: Sequence[Any], axis: Any = 0, out: Any = None, dtype: Any = None, casting: str = "same_kind"
) -> Any:
    _no_out(out)
    ts = _lift_all(arrays)
    if axis is None:
        ts = [A.reshape(t, (t.size,)) for t in ts]
        axis = 0
    if any(t.ndim == 0 for t in ts):
        raise trace_error("np.concatenate joins arrays, not scalars.", "use np.stack or np.array([...]) for scalars")
    ts = _common_dtype(ts)
    return A.concatenate(ts, int(axis) % ts[0].ndim)


def _common_dtype(ts: list[Tracer]) -> list[Tracer]:
    if len({t.type.dtype for t in ts}) > 1:
        return [E.astype(t, DType.F64) for t in ts]
    return ts


@implements("numpy.stack")
def stack(arrays: Sequence[Any], axis: int = 0, out: Any = None, dtype: Any = None, casting: str = "same_kind") -> Any:
    """``np.stack``: arrays of one shape joined along a new axis."""
    _no_out(out)
    ts = _common_dtype(_lift_all(arrays))
    if not ts:
        raise ValueError("need at least one array to stack")
    if len({t.shape for t in ts}) != 1:
        raise trace_error(f"np.stack needs arrays of one shape, got {[t.shape for t in ts]}.", "make them agree")
    if ts[0].ndim == 0 and axis in (0, -1):
        return A.pack(ts)
    axis = int(axis) % (ts[0].ndim + 1)
    shape = (*ts[0].shape[:axis], 1, *ts[0].shape[axis:])
    return A.concatenate([A.reshape(t, shape) for t in ts], axis)


@implements("numpy.hstack")
def hstack(tup: Sequence[Any], dtype: Any = None, casting: str = "same_kind") -> Any:
    ts = [atleast_1d(t) for t in _lift_all(tup)]
    return concatenate(ts, 0 if ts[0].ndim == 1 else 1)


@implements("numpy.vstack")
def vstack(tup: Sequence[Any], dtype: Any = None, casting: str = "same_kind") -> Any:
    return concatenate([atleast_2d(t) for t in _lift_all(tup)], 0)


@implements("numpy.dstack")
def dstack(tup: Sequence[Any]) -> Any:
    return concatenate([atleast_3d(t) for t in _lift_all(tup)], 2)


@implements("numpy.column_stack")
def column_stack(tup: Sequence[Any]) -> Any:
    ts = [A.reshape(t, (t.size, 1)) if t.ndim < 2 else t for t in _lift_all(tup)]
    return concatenate(ts, 1)


@implements("numpy.append")
def append(arr: Any, values: Any, axis: Any = None) -> Any:
    ts = _lift_all([arr, values])
    if axis is None:
        return concatenate([A.reshape(t, (t.size,)) for t in ts], 0)
    return concatenate(ts, axis)


@implements("numpy.atleast_1d")
def atleast_1d(*arys: Any) -> Any:
    out = [A.reshape(t, (1,)) if t.ndim == 0 else t for t in _lift_all(arys)]
    return out[0] if len(out) == 1 else out


@implements("numpy.atleast_2d")
def atleast_2d(*arys: Any) -> Any:
    out = [A.reshape(t, (1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t for t in _lift_all(arys)]
    return out[0] if len(out) == 1 else out


@implements("numpy.atleast_3d")
def atleast_3d(*arys: Any) -> Any:
    out = []
    for t in _lift_all(arys):
        shape = {0: (1, 1, 1), 1: (1, t.size, 1), 2: (*t.shape, 1)}.get(t.ndim, t.shape)
        out.append(A.reshape(t, shape) if shape != t.shape else t)
    return out[0] if len(out) == 1 else out


@implements("numpy.broadcast_to")
def broadcast_to(array_: Any, shape: Any, subok: bool = False) -> Any:
    return A.broadcast_to(array_, _ints(shape))


@implements("numpy.broadcast_arrays")
def broadcast_arrays(*args: Any, subok: bool = False) -> list[Any]:
    ts = _lift_all(args)
    shape = tuple(np.broadcast_shapes(*(t.shape for t in ts)))
    return [A.broadcast_to(t, shape) for t in ts]


# -- selection ------------------------------------------------------------------------------------------


@implements("numpy.where")
def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``np.where(c, a, b)``; the one-argument form only for a condition known while tracing."""
    if x is None and y is None:
        known = condition.static() if isinstance(condition, Tracer) else np.asarray(condition)
        if known is None:
            raise trace_error(
                "np.where(condition) with one argument returns indices whose number is only known at run time.",
                "use np.where(condition, a, b) to select values",
                UnsupportedError,
            )
        return np.nonzero(known)
    return E.where(condition, x, y)


@implements("numpy.select")
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0.0) -> Any:
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist, strict=True))):
        out = E.where(cond, choice, out)
    return out


@implements("numpy.clip", "numpy.ndarray.clip")
def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *, min: Any = None, max: Any = None) -> Any:
    _no_out(out)
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    res = a
    if lo is not None:
        res = E.maximum(res, lo)
    if hi is not None:
        res = E.minimum(res, hi)
    return res


@implements("numpy.take", "numpy.ndarray.take")
def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    _no_out(out)
    if axis is None:
        a, axis = A.reshape(a, (a.size,)), 0
    ax = _axis(a, axis)
    idx_known = np.asarray(indices) if not isinstance(indices, Tracer) else indices.static()
    if idx_known is not None and idx_known.ndim == 0:
        key: tuple[Any, ...] = (*(slice(None),) * ax, int(idx_known))
        return a[key]
    idx = lift(a.builder, indices)
    if idx.ndim == 0:
        return a[(*(slice(None),) * ax, idx)]
    flat = A.reshape(idx, (idx.size,))
    out_ = A.gather(a, I._wrap_negative(flat, a.shape[ax]), ax)
    if idx.ndim != 1:
        out_ = A.reshape(out_, (*a.shape[:ax], *idx.shape, *a.shape[ax + 1 :]))
    return out_


@implements("numpy.take_along_axis")
def take_along_axis(arr: Any, indices: Any, axis: Any) -> Any:
    return I.take_along_axis(arr, indices, axis)


def _known(a: Any, what: str) -> np.ndarray:
    known = a.static() if isinstance(a, Tracer) else np.asarray(a)
    if known is None:
        raise trace_error(
            f"{what} of a traced value: the number of indices is only known when the code runs.",
            "select with np.where(mask, x, 0.0) instead",
            UnsupportedError,
        )
    return known


@implements("numpy.nonzero", derivative=VALUES)
def nonzero_static(a: Any) -> Any:
    """Indices of nonzero entries: only of an array known while tracing (the count is otherwise dynamic)."""
    return np.nonzero(_known(a, "np.nonzero"))


@implements("numpy.flatnonzero", derivative=VALUES)
def flatnonzero_static(a: Any) -> Any:
    return np.flatnonzero(_known(a, "np.flatnonzero"))


@implements("numpy.argwhere", derivative=VALUES)
def argwhere_static(a: Any) -> Any:
    return np.argwhere(_known(a, "np.argwhere"))


# -- products -----------------------------------------------------------------------------------------


@implements("numpy.dot", "numpy.ndarray.dot")
def dot(a: Any, b: Any, out: Any = None) -> Any:
    """``np.dot``: scalar products scale, vectors and matrices multiply."""
    _no_out(out)
    if not _traced(a, b):
        return np.dot(a, b)
    a, b = _lift_all([a, b])
    if a.ndim == 0 or b.ndim == 0:
        return E.mul(a, b)
    if b.ndim > 2:  # np.dot sums over a's last axis and b's second-to-last
        return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 2,)))
    return matmul(a, b)


@implements("numpy.matmul")
def matmul(a: Any, b: Any, out: Any = None, **kwargs: Any) -> Any:
    _no_out(out)
    a, b = _lift_all([a, b])
    if a.ndim == 0 or b.ndim == 0:
        raise trace_error("matmul (@) does not take scalars.", "use * to scale")
    return A.matmul(a, b)


@implements("numpy.vdot")
def vdot(a: Any, b: Any) -> Any:
    a, b = _lift_all([a, b])
    return A.matmul(A.reshape(a, (a.size,)), A.reshape(b, (b.size,)))


@implements("numpy.inner")
def inner(a: Any, b: Any) -> Any:
    a, b = _lift_all([a, b])
    if a.ndim == 0 or b.ndim == 0:
        return E.mul(a, b)
    return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 1,)))


@implements("numpy.outer")
def outer(a: Any, b: Any, out: Any = None) -> Any:
    _no_out(out)
    a, b = _lift_all([a, b])
    return A.outer(A.reshape(a, (a.size,)), A.reshape(b, (b.size,)))


@implements("numpy.tensordot")
def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Contract ``axes`` of ``a`` with ``axes`` of ``b``: transposes, reshapes and one matrix product."""
    a, b = _lift_all([a, b])
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        ax_a, ax_b = tuple(range(a.ndim - k, a.ndim)), tuple(range(k))
    else:
        ax_a_raw, ax_b_raw = axes
        ax_a = tuple(_axis(a, i) for i in ((ax_a_raw,) if isinstance(ax_a_raw, (int, np.integer)) else ax_a_raw))
        ax_b = tuple(_axis(b, i) for i in ((ax_b_raw,) if isinstance(ax_b_raw, (int, np.integer)) else ax_b_raw))
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    inner_size = int(np.prod([a.shape[i] for i in ax_a], dtype=np.int64))
    if inner_size != int(np.prod([b.shape[i] for i in ax_b], dtype=np.int64)):
        raise trace_error(f"tensordot: shape mismatch for sum over {ax_a} and {ax_b}.", "fix the axes")
    fa = [a.shape[i] for i in free_a]
    fb = [b.shape[i] for i in free_b]
    a2 = A.reshape(A.transpose(a, (*free_a, *ax_a)), (int(np.prod(fa, dtype=np.int64)), inner_size))
    b2 = A.reshape(A.transpose(b, (*ax_b, *free_b)), (inner_size, int(np.prod(fb, dtype=np.int64))))
    return A.reshape(A.matmul(a2, b2), (*fa, *fb))


@implements("numpy.kron")
def kron(a: Any, b: Any) -> Any:
    a, b = _lift_all([a, b])
    rank = max(a.ndim, b.ndim)
    a = A.reshape(a, (1,) * (rank - a.ndim) + a.shape)
    b = A.reshape(b, (1,) * (rank - b.ndim) + b.shape)
    # a[i, None, j, None] * b[None, k, None, l] -> (i k, j l)
    sa = tuple(d for n in a.shape for d in (n, 1))
    sb = tuple(d for n in b.shape for d in (1, n))
    prod = E.mul(A.reshape(a, sa), A.reshape(b, sb))
    return A.reshape(prod, tuple(m * n for m, n in zip(a.shape, b.shape, strict=True)))


@implements("numpy.cross")
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: Any = None) -> Any:
    a, b = _lift_all([a, b])
    if a.shape[-1] != 3 or b.shape[-1] != 3 or axis not in (None, -1):
        raise trace_error("np.cross of 3-vectors along the last axis is supported.", "pass (..., 3) arrays",
                          UnsupportedError)  # fmt: skip
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    c = [E.sub(E.mul(a1, b2), E.mul(a2, b1)), E.sub(E.mul(a2, b0), E.mul(a0, b2)), E.sub(E.mul(a0, b1), E.mul(a1, b0))]
    return stack(c, axis=-1)


# -- differences, polynomials, integration ---------------------------------------------------------------


@implements("numpy.diff")
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    x = a
    ax = _axis(x, axis)
    if prepend is not None or append is not None:
        parts = []
        if prepend is not None:
            parts.append(_edge_like(x, prepend, ax))
        parts.append(x)
        if append is not None:
            parts.append(_edge_like(x, append, ax))
        x = A.concatenate(_common_dtype(_lift_all(parts)), ax)
    for _ in range(int(n)):
        m = x.shape[ax]
        x = E.sub(_take_range(x, ax, 1, m), _take_range(x, ax, 0, m - 1))
    return x


def _edge_like(x: Tracer, value: Any, ax: int) -> Any:
    v = lift(x.builder, value)
    if v.ndim == 0:
        return A.broadcast_to(v, (*x.shape[:ax], 1, *x.shape[ax + 1 :]))
    return v


@implements("numpy.ediff1d")
def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    return diff(A.reshape(ary, (ary.size,)), prepend=to_begin, append=to_end)


@implements("numpy.polyval")
def polyval(p: Any, x: Any) -> Any:
    """Horner's rule; ``p`` a sequence (or an array) of coefficients, highest power first."""
    coeffs = list(p) if not isinstance(p, Tracer) else [p[i] for i in range(p.shape[0])]
    out: Any = coeffs[0] if coeffs else 0.0
    if isinstance(x, Tracer) and not isinstance(out, Tracer):
        out = A.broadcast_to(lift(x.builder, out), x.shape) if x.ndim else lift(x.builder, out)
    for c in coeffs[1:]:
        out = E.add(E.mul(out, x), c)
    return out


@implements("numpy.trapezoid", "numpy.trapz")
def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    ax = _axis(y, axis)
    m = y.shape[ax]
    mid = E.add(_take_range(y, ax, 1, m), _take_range(y, ax, 0, m - 1))
    if x is None:
        return E.mul(A.total(mid, ax), 0.5 * dx)
    xt = lift(y.builder, x)
    widths = diff(xt, axis=-1 if xt.ndim == 1 else ax)
    if xt.ndim == 1 and y.ndim > 1:
        shape = [1] * y.ndim
        shape[ax] = m - 1
        widths = A.reshape(widths, tuple(shape))
    return E.mul(A.total(E.mul(mid, widths), ax), 0.5)


@implements("numpy.convolve")
def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """1-D convolution as a sum of shifted copies (the shorter operand's length of them)."""
    a, v = _lift_all([a, v])
    if a.ndim != 1 or v.ndim != 1:
        raise trace_error("np.convolve takes two vectors.", "ravel them", UnsupportedError)
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    n, m = a.shape[0], v.shape[0]
    length = n + m - 1
    out: Any = None
    for k in range(m):  # out[i] += a[i - k] * v[k]
        term = A.pad(E.mul(a, v[k]), (length,), ((k, k + n, 1),))
        out = term if out is None else E.add(out, term)
    if mode == "full":
        return out
    if mode == "same":
        start = (m - 1) // 2
        return A.index(out, ((start, start + n, 1),))
    if mode == "valid":
        return A.index(out, ((m - 1, n, 1),))
    raise trace_error(f"np.convolve with mode={mode!r}.", "use 'full', 'same' or 'valid'", UnsupportedError)


@implements("numpy.interp")
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None) -> Any:
    """Piecewise-linear interpolation with breakpoints ``xp`` known while tracing (``fp`` may be traced)."""
    xp_known = xp.static() if isinstance(xp, Tracer) else np.asarray(xp, dtype=np.float64)
    if xp_known is None or period is not None:
        raise trace_error("np.interp needs breakpoints xp known while tracing (and no period).",
                          "pass xp as a constant or data", UnsupportedError)  # fmt: skip
    b = _builder(x, fp) or active_builder()
    f = lift(b, fp)
    xt = lift(b, x)
    k = len(xp_known)
    out: Any = A.broadcast_to(f[0] if left is None else lift(b, left), xt.shape) if xt.ndim else (
        f[0] if left is None else lift(b, left))  # fmt: skip
    for i in range(k - 1):
        x0, x1 = float(xp_known[i]), float(xp_known[i + 1])
        if x1 == x0:
            continue
        seg = E.add(f[i], E.mul(E.div(E.sub(xt, x0), x1 - x0), E.sub(f[i + 1], f[i])))
        out = E.where(E.greater_equal(xt, x0), seg, out)
    last = f[k - 1] if right is None else lift(b, right)
    return E.where(E.greater(xt, float(xp_known[-1])), last, E.where(E.equal(xt, float(xp_known[-1])), f[k - 1], out))


# -- rounding spellings with NumPy's keyword arguments -------------------------------------------------


@implements("numpy.round", "numpy.around", "numpy.ndarray.round", derivative=ZERO)
def round_(a: Any, decimals: int = 0, out: Any = None) -> Any:
    return E.round_(a, decimals, out)


@implements("numpy.float_power")
def float_power(x1: Any, x2: Any, out: Any = None, **kwargs: Any) -> Any:
    _no_out(out)
    return E.float_power(x1, x2)


@implements("numpy.nan_to_num")
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    return E.nan_to_num(x, copy, nan, posinf, neginf)


@implements("numpy.heaviside")
def heaviside(x1: Any, x2: Any, out: Any = None, **kwargs: Any) -> Any:
    _no_out(out)
    return E.heaviside(x1, x2)


@implements("numpy.deg2rad", "numpy.radians", "math.radians")
def deg2rad(x: Any, out: Any = None, **kwargs: Any) -> Any:
    _no_out(out)
    return E.deg2rad(x)


@implements("numpy.rad2deg", "numpy.degrees", "math.degrees")
def rad2deg(x: Any, out: Any = None, **kwargs: Any) -> Any:
    _no_out(out)
    return E.rad2deg(x)


@implements("numpy.isclose", derivative=VALUES)
def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Any:
    diff_ = E.absolute(E.sub(a, b))
    close = E.less_equal(diff_, E.add(atol, E.mul(rtol, E.absolute(b))))
    if equal_nan:
        close = E.logical_or(close, E.logical_and(E.isnan(a), E.isnan(b)))
    return close


@implements("numpy.real", "numpy.conj", "numpy.conjugate", "numpy.ndarray.conj", "numpy.ndarray.conjugate")
def real(val: Any) -> Any:
    """Real arrays are their own real part and conjugate (complex numbers are not supported)."""
    return val
