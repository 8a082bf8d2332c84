"""Reductions, statistics, scans and sorting on tracers (NumPy's spellings and keyword arguments).

Compositions of the reduction primitives (``np.var`` is a mean and a sum of
squares, ``np.median`` a sort and a static index), so their derivatives come
from the primitives': the gradient of ``np.sort`` scatters back through the
permutation, the gradient of a median or a quantile goes to the entries it
interpolates (NumPy's ``linear`` method, same numbers), ties of ``max`` share
it. ``argmax``, ``argmin``, ``argsort``, ``any``, ``all`` and
``count_nonzero`` are values only: their results are integers or booleans.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import Tracer, lift
from dcompile.ir.types import DType
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives import indexing as I
from dcompile.primitives import shapes as S
from dcompile.primitives.spellings import VALUES, implements


def _no(name: str, value: Any, what: str) -> None:
    if value is not None:
        raise trace_error(f"{what} with {name}= on traced values.", f"leave {name} out", UnsupportedError)


def _float_input(a: Any) -> Any:
    return E.astype(a, DType.F64) if isinstance(a, Tracer) and a.type.dtype is DType.BOOL else a


def _dtype(dtype: Any, x: Any) -> Any:
    """A requested result dtype applied to the input (``np.sum(x, dtype=float)``)."""
    return E.astype(x, dtype) if dtype is not None and isinstance(x, Tracer) else x


def _masked(a: Any, where: Any, fill: float) -> Any:
    return a if where is None or where is True else E.where(where, a, fill)


@implements("numpy.sum", "numpy.ndarray.sum")
def sum_(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
         where: Any = None) -> Any:  # fmt: skip
    E._no_out(out)
    x = _dtype(dtype, _float_input(_masked(a, where, 0.0)))
    total = A.total(x, axis, keepdims)
    return total if initial is None else E.add(total, initial)


@implements("numpy.mean", "numpy.ndarray.mean")
def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, *,
         where: Any = None) -> Any:  # fmt: skip
    E._no_out(out)
    x = _dtype(dtype, _float_input(a))
    if where is None:
        return A.mean(x, axis, keepdims)
    w = E.astype(A.broadcast_to(lift(x.builder, where), x.shape), DType.F64)
    return E.div(A.total(E.mul(x, w), axis, keepdims), A.total(w, axis, keepdims))


@implements("numpy.prod", "numpy.ndarray.prod")
def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
         where: Any = None) -> Any:  # fmt: skip
    E._no_out(out)
    x = _dtype(dtype, _float_input(_masked(a, where, 1.0)))
    p = A.prod(x, axis, keepdims)
    return p if initial is None else E.mul(p, initial)


def _extreme(fn: Callable[..., Any], fill: float) -> Callable[..., Any]:
    def reduce(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
               where: Any = None) -> Any:  # fmt: skip
        E._no_out(out)
        x = _float_input(_masked(a, where, fill))
        m = fn(x, axis, keepdims)
        if initial is not None:
            m = E.maximum(m, initial) if fill < 0 else E.minimum(m, initial)
        return m

    return reduce


amax = implements("numpy.max", "numpy.amax", "numpy.ndarray.max")(_extreme(A.amax, -np.inf))
amin = implements("numpy.min", "numpy.amin", "numpy.ndarray.min")(_extreme(A.amin, np.inf))


@implements("numpy.ptp")
def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    E._no_out(out)
    return E.sub(A.amax(a, axis, keepdims), A.amin(a, axis, keepdims))


@implements("numpy.var", "numpy.ndarray.var")
def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False, *,
        where: Any = None, mean: Any = None, correction: Any = None) -> Any:  # fmt: skip
    """``np.var``: the mean of squared deviations, divided by ``N - ddof``."""
    E._no_out(out)
    _no("where", where, "np.var")
    x = _dtype(dtype, _float_input(a))
    if correction is not None:
        ddof = correction
    axes = A.axes_of(x, axis)
    count = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    m = A.mean(x, axis, keepdims=axis is not None) if mean is None else mean
    d = E.sub(x, m)
    return E.div(A.total(E.mul(d, d), axis, keepdims), float(max(count - ddof, 0)))


@implements("numpy.std", "numpy.ndarray.std")
def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False, *,
        where: Any = None, mean: Any = None, correction: Any = None) -> Any:  # fmt: skip
    """``np.std``: the square root of :func:`var` (its derivative is infinite where the spread is zero)."""
    return E.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction))


@implements("numpy.average")
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *, keepdims: bool = False) -> Any:
    x = _float_input(a)
    if weights is None:
        avg = A.mean(x, axis, keepdims)
        scl = float(x.size if axis is None else np.prod([x.shape[i] for i in A.axes_of(x, axis)]))
        return (avg, scl) if returned else avg
    w = lift(x.builder, weights)
    if w.shape != x.shape:
        if axis is None or w.ndim != 1:
            raise trace_error("np.average: weights must have the array's shape, or be 1-D along axis.",
                              "reshape the weights")  # fmt: skip
        ax = int(axis) % x.ndim
        w = A.reshape(w, tuple(w.shape[0] if i == ax else 1 for i in range(x.ndim)))
    wsum = A.total(A.broadcast_to(w, x.shape), axis, keepdims)
    avg = E.div(A.total(E.mul(x, w), axis, keepdims), wsum)
    return (avg, wsum) if returned else avg


# -- along an axis: moved last, done, moved back -------------------------------------------------------


def _along(a: Any, axis: Any, fn: Callable[[Any], Any], *, keep: bool = True) -> Any:
    """``fn`` applied along ``axis`` (as the last axis); ``axis=None`` works on the raveled array."""
    if axis is None:
        return fn(A.reshape(a, (a.size,)))
    ax = int(axis) % a.ndim
    if ax == a.ndim - 1:
        return fn(a)
    perm = (*[i for i in range(a.ndim) if i != ax], ax)
    out = fn(A.transpose(a, perm))
    if not keep:  # the axis was reduced away
        return out
    return A.transpose(out, tuple(int(i) for i in np.argsort(perm)))


@implements("numpy.cumsum", "numpy.ndarray.cumsum")
def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    E._no_out(out)
    x = _dtype(dtype, a)
    if isinstance(x, Tracer) and x.type.dtype is DType.BOOL:
        x = E.astype(x, DType.I64)
    return _along(x, axis, S.cumsum_last)


@implements("numpy.cumprod", "numpy.ndarray.cumprod")
def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.cumprod``, as a linear recurrence: derivatives exact at zero entries (no division)."""
    E._no_out(out)
    return _along(E.astype(_dtype(dtype, a), DType.F64), axis, S.cumprod_last)


@implements("numpy.sort", "numpy.msort")
def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    """Sorted values (stable); the gradient goes back through the permutation."""
    _no("order", order, "np.sort")

    def sort_last(x: Any) -> Any:
        return I.take_along_last(x, S.argsort_last(x))

    return _along(a, axis, sort_last)


@implements("numpy.argsort", "numpy.ndarray.argsort", derivative=VALUES)
def argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    _no("order", order, "np.argsort")
    return _along(a, axis, S.argsort_last)


def _arg(fn: Callable[[Any], Any]) -> Callable[..., Any]:
    def arg(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
        E._no_out(out)
        res = _along(a, axis, fn, keep=False)
        if keepdims:
            shape = (
                (1,) * a.ndim
                if axis is None
                else tuple(1 if i == int(axis) % a.ndim else n for i, n in enumerate(a.shape))
            )
            res = A.reshape(res, shape)
        return res

    return arg


argmax = implements("numpy.argmax", "numpy.ndarray.argmax", derivative=VALUES)(_arg(S.argmax_last))
argmin = implements("numpy.argmin", "numpy.ndarray.argmin", derivative=VALUES)(_arg(S.argmin_last))


def _count(a: Any, axis: Any, keepdims: bool) -> Any:
    truth = E._truth(a)
    return A.total(E.astype(truth, DType.F64), axis, keepdims)


@implements("numpy.count_nonzero", derivative=VALUES)
def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Any:
    return E.astype(_count(a, axis, keepdims), DType.I64)


@implements("numpy.any", "numpy.ndarray.any", derivative=VALUES)
def any_(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *, where: Any = None) -> Any:
    E._no_out(out)
    _no("where", where, "np.any")
    return E.greater(_count(a, axis, keepdims), 0.0)


@implements("numpy.all", "numpy.ndarray.all", derivative=VALUES)
def all_(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *, where: Any = None) -> Any:
    E._no_out(out)
    _no("where", where, "np.all")
    n = a.size if axis is None else int(np.prod([a.shape[i] for i in A.axes_of(a, axis)]))
    return E.equal(_count(a, axis, keepdims), float(n))


# -- quantiles ---------------------------------------------------------------------------------------------


def _lerp(a: Any, b: Any, t: float) -> Any:
    """NumPy's ``_lerp``: ``a + (b - a) t``, computed from ``b`` when ``t >= 0.5`` (same numbers)."""
    diff = E.sub(b, a)
    return E.sub(b, E.mul(diff, 1.0 - t)) if t >= 0.5 else E.add(a, E.mul(diff, t))


def _quantile_last(s: Any, q: float) -> Any:
    """The ``q`` quantile of each row of the sorted ``s`` (NumPy's default ``linear`` method)."""
    n = s.shape[-1]
    virtual = n * q + (1.0 + q * (1.0 - 1.0 - 1.0)) - 1.0
    lo = int(np.clip(np.floor(virtual), 0, n - 1))
    hi = int(np.clip(lo + 1, 0, n - 1))
    t = float(virtual - np.floor(virtual)) if 0 <= virtual <= n - 1 else 0.0
    a, b = s[..., lo], s[..., hi]
    return a if t == 0.0 or lo == hi else _lerp(a, b, t)


@implements("numpy.quantile")
def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:  # fmt: skip
    """Quantiles at static ``q`` (NumPy's ``linear`` method); the gradient goes to the interpolated entries."""
    E._no_out(out)
    _no("weights", weights, "np.quantile")
    if method != "linear":
        raise trace_error(f"np.quantile with method={method!r}.", "use the default method='linear'", UnsupportedError)
    qs = np.asarray(q.static() if isinstance(q, Tracer) else q, dtype=np.float64)
    if isinstance(q, Tracer) and q.static() is None:
        raise trace_error("np.quantile with a traced q.", "pass q as numbers", UnsupportedError)
    x = _float_input(a)
    s = sort(x, axis=axis)
    if axis is None:
        rows = s
    else:
        ax = int(axis) % x.ndim
        rows = A.transpose(s, (*[i for i in range(x.ndim) if i != ax], ax)) if ax != x.ndim - 1 else s
    vals = [_quantile_last(rows, float(v)) for v in qs.ravel()]
    out_ = vals[0] if qs.ndim == 0 else A.reshape(_stack(vals), (*qs.shape, *vals[0].shape))
    if keepdims:
        kept = (
            (1,) * x.ndim if axis is None else tuple(1 if i == int(axis) % x.ndim else n for i, n in enumerate(x.shape))
        )
        out_ = A.reshape(out_, (*qs.shape, *kept))
    return out_


def _stack(vals: list[Any]) -> Any:
    from dcompile.primitives.numpy_api import stack

    return stack(vals)


@implements("numpy.percentile")
def percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:  # fmt: skip
    qs = np.asarray(q.static() if isinstance(q, Tracer) else q, dtype=np.float64) / 100.0
    return quantile(a, qs, axis, out, overwrite_input, method, keepdims, weights=weights)


@implements("numpy.median")
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False) -> Any:
    """The median: the middle entry, or the mean of the middle two (the gradient splits between them)."""
    return quantile(a, 0.5, axis, out, overwrite_input, keepdims=keepdims)


# -- NaN-ignoring reductions -------------------------------------------------------------------------------


def _not_nan(a: Any) -> Any:
    return E.logical_not(E.isnan(a))


@implements("numpy.nansum")
def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    E._no_out(out)
    return A.total(E.where(E.isnan(a), 0.0, a), axis, keepdims)


@implements("numpy.nanmean")
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    E._no_out(out)
    count = A.total(E.astype(_not_nan(a), DType.F64), axis, keepdims)
    return E.div(nansum(a, axis, keepdims=keepdims), count)


@implements("numpy.nanmax")
def nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    E._no_out(out)
    return A.amax(E.where(E.isnan(a), -np.inf, a), axis, keepdims)


@implements("numpy.nanmin")
def nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    E._no_out(out)
    return A.amin(E.where(E.isnan(a), np.inf, a), axis, keepdims)


@implements("numpy.nanvar")
def nanvar(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False
) -> Any:
    E._no_out(out)
    ok = _not_nan(a)
    count = A.total(E.astype(ok, DType.F64), axis, keepdims=True)
    m = E.div(A.total(E.where(ok, a, 0.0), axis, keepdims=True), count)
    d = E.where(ok, E.sub(a, m), 0.0)
    n = A.total(E.astype(ok, DType.F64), axis, keepdims)
    return E.div(A.total(E.mul(d, d), axis, keepdims), E.sub(n, float(ddof)))


@implements("numpy.nanstd")
def nanstd(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False
) -> Any:
    return E.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims))
