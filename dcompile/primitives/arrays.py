"""Array primitives: broadcasting, reductions, linear algebra, indexing, joining.

One array operation is one IR equation and one statement of emitted code,
whatever the length of the array, so generated code and numba's compile time
do not grow with the data. As in :mod:`~dcompile.primitives.elementwise`, each
primitive keeps its type rule, NumPy implementation, code template and
derivative rules together; rules are written with the functions of this
module, so a derivative is more array IR.

Index parameters are static: an index is a tuple with one entry per leading
axis, each an ``int`` (the axis is dropped) or a ``(start, stop, step)`` triple
with ``range`` semantics (the axis keeps ``len(range(start, stop, step))``
entries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcompile.ir.primitive import PREC_ATOM, PREC_MUL, Primitive, register
from dcompile.ir.tracer import UNIFORM, Tracer, bind
from dcompile.ir.types import DType, VType
from dcompile.primitives.elementwise import (
    _paren,
    add_p,
    defjvp,
    defvjp,
    div,
    equal,
    mul,
    where,
)

Index = tuple[int | tuple[int, int, int], ...]
Lines = list[str]


# -- source helpers ------------------------------------------------------------


def shape_src(shape: Sequence[int]) -> str:
    """``100`` for a vector's shape, ``(3, 4)`` otherwise (as NumPy accepts)."""
    if len(shape) == 1:
        return str(shape[0])
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _tuple_src(items: Sequence[int]) -> str:
    return "(" + ", ".join(str(n) for n in items) + ("," if len(items) == 1 else "") + ")"


def _near_end(k: int, n: int) -> str:
    """``k`` as written by a person: ``-1`` for the last of ``n`` entries, else ``k``."""
    return str(k - n) if 0 < n - k < k else str(k)


def index_src(index: Index, shape: Sequence[int]) -> str:
    """Python subscript text for a static index (trailing full slices dropped)."""
    parts: list[str] = []
    for item, n in zip(index, shape, strict=False):
        if isinstance(item, int):
            parts.append(_near_end(item, n))
            continue
        start, stop, step = item
        if len(range(start, stop, step)) == 0:
            parts.append("0:0")
            continue
        if step > 0:
            a = "" if start == 0 else _near_end(start, n)
            b = "" if stop >= n else _near_end(stop, n)
        else:
            a = "" if start == n - 1 else _near_end(start, n)
            b = "" if stop < 0 else _near_end(stop, n)
        parts.append(f"{a}:{b}" + ("" if step == 1 else f":{step}"))
    while parts and parts[-1] == ":":
        parts.pop()
    return ", ".join(parts) if parts else "..."


def index_shape(index: Index, shape: Sequence[int]) -> tuple[int, ...]:
    out = [len(range(*item)) for item in index if not isinstance(item, int)]
    return (*out, *shape[len(index) :])


def index_tuple(index: Index) -> tuple[Any, ...]:
    return tuple(
        item if isinstance(item, int) else slice(*item) if item[1] >= 0 else slice(item[0], None, item[2])
        for item in index
    )


# -- broadcast_to -------------------------------------------------------------------


def _broadcast_rule(x: VType, *, shape: tuple[int, ...]) -> VType:
    if np.broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"shape {x.shape} does not broadcast to {shape}")
    return VType(shape, x.dtype)


def _emit_broadcast(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    (x,) = args
    shape = params["shape"]
    if types[0].rank == 0:
        if x[0] == "0.0":
            return f"np.zeros({shape_src(shape)})", PREC_ATOM
        return f"np.full({shape_src(shape)}, {x[0]})", PREC_ATOM
    return f"np.broadcast_to({x[0]}, {_tuple_src(shape)})", PREC_ATOM


broadcast_to_p = register(
    Primitive(
        "broadcast_to",
        _broadcast_rule,
        lambda x, *, shape: np.broadcast_to(x, shape).copy(),
        _emit_broadcast,
        view=True,
        foldable=False,  # np.ones(n) stays one statement, not an n-entry literal
        fusion="identity",
    )
)
UNIFORM.add(broadcast_to_p)


def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    """``x`` repeated to ``shape`` by NumPy broadcasting."""
    shape = tuple(int(n) for n in shape)
    if isinstance(x, Tracer) and x.shape == shape:
        return x
    return bind(broadcast_to_p, x, shape=shape)


def sum_to_shape(x: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``x`` over the axes that broadcasting added to reach its shape from ``shape``.

    The adjoint of broadcasting: reverse mode applies it to every share of a
    cotangent whose input was broadcast.
    """
    if not isinstance(x, Tracer) or x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    y = reduce_sum(x, axes) if axes else x
    return reshape(y, shape) if y.shape != shape else y


def _expand(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """``g`` (reduced over ``axes``) broadcast back to ``shape``."""
    if not isinstance(g, Tracer) or g.ndim == 0 or axes == tuple(range(len(axes))):
        return broadcast_to(g, shape)
    keep = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return broadcast_to(reshape(g, keep), shape)


defjvp(broadcast_to_p, lambda t, ans, x, *, shape: broadcast_to(t, shape))
defvjp(broadcast_to_p, lambda g, ans, x, *, shape: sum_to_shape(g, x.shape))


# -- reductions -----------------------------------------------------------------------


def _reduce_rule(x: VType, *, axes: tuple[int, ...]) -> VType:
    return VType(tuple(n for i, n in enumerate(x.shape) if i not in axes), DType.F64)


def _emit_reduce(fn: str) -> Any:
    def emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
        (x,) = args
        axes = params["axes"]
        if len(axes) == types[0].rank:
            return f"{fn}({x[0]})", PREC_ATOM
        src = x[0]
        for axis in sorted(axes, reverse=True):
            src = f"{fn}({src}, axis={axis})"
        return src, PREC_ATOM

    return emit


_EXTREMES = {"np.max": ">=", "np.min": "<="}  # partial max/min along axes: a loop of comparisons


def _reduce_lines(fn: str) -> Any:
    """Statements for a partial reduction numba has no ``axis`` form of: a loop over rows."""

    def lines(
        target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
    ) -> list[str]:
        (x,) = args
        axes = params["axes"]
        shape = types[0].shape
        if len(axes) == len(shape):
            return [f"{target} = {fn}({x})"]
        kept = [i for i in range(len(shape)) if i not in axes]
        rows = int(np.prod([shape[i] for i in kept]))
        width = int(np.prod([shape[i] for i in axes]))
        perm = (*kept, *axes)
        src = x if perm == tuple(range(len(shape))) else f"np.transpose({x}, {_tuple_src(perm)})"
        body = [
            f"_{target}_rows = np.ascontiguousarray({src}).reshape(({rows}, {width}))",
            f"{target} = np.empty({rows})",
            f"for _i in range({rows}):",
        ]
        if fn in _EXTREMES and width > 0:
            # written out: numba's np.max of each row view costs ~25 ns a row (a view, NaN checks) for
            # 10 entries; NumPy's own rule (maximum: a if a >= b or a is NaN else b) keeps NaN
            m = f"_{target}_m"
            body += [
                f"    {m} = _{target}_rows[_i, 0]",
                f"    for _j in range(1, {width}):",
                f"        _{target}_v = _{target}_rows[_i, _j]",
                f"        {m} = {m} if {m} {_EXTREMES[fn]} _{target}_v or {m} != {m} else _{target}_v",
                f"    {target}[_i] = {m}",
            ]
        else:
            body.append(f"    {target}[_i] = {fn}(_{target}_rows[_i])")
        if len(out.shape) != 1:
            body.append(f"{target} = {target}.reshape({_tuple_src(out.shape)})")
        return body

    return lines


def as_float(x: Any) -> Any:
    """``x`` as float64 for an implementation, except an object array of scalar tracers, kept as it is
    (see dcompile.transforms.scalarize, which runs implementations entry by entry)."""
    if isinstance(x, Tracer) or (isinstance(x, np.ndarray) and x.dtype == object):
        return x
    return np.asarray(x, dtype=np.float64)


def zeros_for(shape: tuple[int, ...], *like: Any) -> Any:
    """Float zeros of ``shape``, or object zeros when an operand is an object array of tracers."""
    if any(isinstance(a, np.ndarray) and a.dtype == object for a in like):
        out = np.empty(shape, dtype=object)
        out.fill(0.0)
        return out
    return np.zeros(shape)


def _reduction(name: str, impl: Any, fn: str, lines: bool) -> Primitive:
    return register(
        Primitive(
            name,
            _reduce_rule,
            lambda x, *, axes: impl(as_float(x), axis=axes),
            _emit_reduce(fn),
            emit_lines=_reduce_lines(fn) if lines else None,
            fusion="sum" if name == "reduce_sum" else None,
        )
    )


reduce_sum_p = _reduction("reduce_sum", np.sum, "np.sum", lines=False)
reduce_max_p = _reduction("reduce_max", np.max, "np.max", lines=True)
reduce_min_p = _reduction("reduce_min", np.min, "np.min", lines=True)
reduce_prod_p = _reduction("reduce_prod", np.prod, "np.prod", lines=True)


def axes_of(x: Tracer, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for item in items:
        a = int(item)
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"axis {a} is out of bounds for an array of rank {x.ndim}")
        out.append(a % x.ndim)
    return tuple(sorted(set(out)))


def _reduce(prim: Primitive, x: Any, axis: Any, keepdims: bool) -> Any:
    if not isinstance(x, Tracer):
        return getattr(np, prim.name.removeprefix("reduce_"))(x, axis=axis, keepdims=keepdims)
    axes = axes_of(x, axis)
    if x.ndim == 0 or not axes:
        return x
    out = bind(prim, x, axes=axes)
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    return out


def reduce_sum(x: Any, axes: tuple[int, ...]) -> Any:
    return bind(reduce_sum_p, x, axes=axes)


def total(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.sum`` on traced arrays."""
    return _reduce(reduce_sum_p, x, axis, keepdims)


def amax(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.max``; the derivative is shared equally among tied maxima."""
    return _reduce(reduce_max_p, x, axis, keepdims)


def amin(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.min``; the derivative is shared equally among tied minima."""
    return _reduce(reduce_min_p, x, axis, keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.prod``. Its derivative never divides by a zero entry: first derivatives are exact
    everywhere, second derivatives wherever a reduced group has at most one zero."""
    return _reduce(reduce_prod_p, x, axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.mean``: the sum divided by the number of summed entries."""
    if not isinstance(x, Tracer):
        return np.mean(x, axis=axis, keepdims=keepdims)
    axes = axes_of(x, axis)
    count = int(np.prod([x.shape[a] for a in axes]))
    return div(total(x, axis, keepdims), float(count))


def _extremum_vjp(g: Any, ans: Any, x: Any, *, axes: tuple[int, ...]) -> Any:
    hit = equal(x, _expand(ans, x.shape, axes))
    count = reduce_sum(where(hit, 1.0, 0.0), axes)
    return where(hit, _expand(div(g, count), x.shape, axes), 0.0)


def _extremum_jvp(t: Any, ans: Any, x: Any, *, axes: tuple[int, ...]) -> Any:
    hit = equal(x, _expand(ans, x.shape, axes))
    return div(reduce_sum(where(hit, t, 0.0), axes), reduce_sum(where(hit, 1.0, 0.0), axes))


defjvp(reduce_sum_p, lambda t, ans, x, *, axes: reduce_sum(t, axes))
defvjp(reduce_sum_p, lambda g, ans, x, *, axes: _expand(g, x.shape, axes))
for _p in (reduce_max_p, reduce_min_p):
    defjvp(_p, _extremum_jvp)
    defvjp(_p, _extremum_vjp)


def _prod_others(ans: Any, x: Any, axes: tuple[int, ...]) -> Any:
    """The product of the other entries of each reduced group: d prod / d x_i, without dividing by 0.

    With no zero in the group it is ``prod / x_i``. With one zero entry
    ``x_k``: the product ``p`` of the nonzero entries at ``k``, and
    ``x_k * p / x_i`` elsewhere (0, but with the right derivative in ``x_k``,
    so second derivatives stay exact). With two or more zeros it is 0 (first
    derivatives exact; second derivatives there are not: documented).
    """
    zero = equal(x, 0.0)
    safe = where(zero, 1.0, x)
    zeros = reduce_sum(where(zero, 1.0, 0.0), axes)
    none = _expand(equal(zeros, 0.0), x.shape, axes)
    one = _expand(equal(zeros, 1.0), x.shape, axes)
    nonzero = _expand(bind(reduce_prod_p, safe, axes=axes), x.shape, axes)
    x_k = _expand(reduce_sum(where(zero, x, 0.0), axes), x.shape, axes)  # the zero entry, as a value of x
    with_one_zero = where(zero, nonzero, div(mul(x_k, nonzero), safe))
    return where(none, div(_expand(ans, x.shape, axes), safe), where(one, with_one_zero, 0.0))


defjvp(reduce_prod_p, lambda t, ans, x, *, axes: reduce_sum(mul(t, _prod_others(ans, x, axes)), axes))
defvjp(reduce_prod_p, lambda g, ans, x, *, axes: mul(_expand(g, x.shape, axes), _prod_others(ans, x, axes)))


# -- stop_gradient ----------------------------------------------------------------------

stop_gradient_p = register(
    Primitive("stop_gradient", lambda x: x, np.asarray, lambda args, params, types: args[0], fusion="identity")
)
defjvp(stop_gradient_p, None)
defvjp(stop_gradient_p, None)


def stop_gradient(x: Any) -> Any:
    """``x``, treated as a constant by differentiation."""
    return bind(stop_gradient_p, x) if isinstance(x, Tracer) else x


# -- linear algebra -----------------------------------------------------------------------


def _matmul_rule(a: VType, b: VType) -> VType:
    if a.rank == 0 or b.rank == 0 or a.rank > 2 or b.rank > 2:
        raise ValueError("matmul takes vectors and matrices (rank 1 or 2); use * for scalars")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: {a.shape} @ {b.shape}")
    return VType((*a.shape[:-1], *b.shape[1:]), DType.F64)


def _as_float(arg: tuple[str, int], t: VType) -> tuple[str, int]:
    if t.dtype is DType.F64:
        return arg
    return f"{_paren(arg, arg[1] < PREC_ATOM)}.astype(np.float64)", PREC_ATOM


def _emit_matmul(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    a, b = (_as_float(x, t) for x, t in zip(args, types, strict=True))
    if types[0].rank == types[1].rank == 1:
        return f"np.dot({a[0]}, {b[0]})", PREC_ATOM
    return f"{_paren(a, a[1] < PREC_MUL)} @ {_paren(b, b[1] <= PREC_MUL)}", PREC_MUL


matmul_p = register(Primitive("matmul", _matmul_rule, np.matmul, _emit_matmul))


def _outer_rule(a: VType, b: VType) -> VType:
    if a.rank != 1 or b.rank != 1:
        raise ValueError("outer takes two vectors")
    return VType((a.shape[0], b.shape[0]), DType.F64)


def _emit_outer(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    a, b = (_as_float(x, t) for x, t in zip(args, types, strict=True))
    return f"np.outer({a[0]}, {b[0]})", PREC_ATOM


outer_p = register(Primitive("outer", _outer_rule, np.outer, _emit_outer, fusion="outer"))


def _bmm_rule(a: VType, b: VType) -> VType:
    if a.rank < 3 or a.rank != b.rank or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"stacks of matrices with one batch shape and matching inner dimensions: {a.shape} @ {b.shape}"
        )
    return VType((*a.shape[:-1], b.shape[-1]), DType.F64)


def _bmm_lines(target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType) -> Lines:
    a, b = args
    (n, k), m = types[0].shape[-2:], types[1].shape[-1]
    batch = int(np.prod(types[0].shape[:-2], dtype=np.int64))
    return [
        f"_{target}_a = np.ascontiguousarray({a}).reshape(({batch}, {n}, {k}))",
        f"_{target}_b = np.ascontiguousarray({b}).reshape(({batch}, {k}, {m}))",
        f"{target} = np.empty(({batch}, {n}, {m}))",
        f"for _i in range({batch}):",
        f"    {target}[_i] = _{target}_a[_i] @ _{target}_b[_i]",
        f"{target} = {target}.reshape({_tuple_src(out.shape)})",
    ]


# Stacks of matrices (rank > 2, one batch shape): a loop of matrix products (numba's @ is 2-D).
batch_matmul_p = register(
    Primitive(
        "batch_matmul",
        _bmm_rule,
        np.matmul,
        lambda args, params, types: (f"np.matmul({args[0][0]}, {args[1][0]})", PREC_ATOM),
        emit_lines=_bmm_lines,
    )
)


def swap_last(x: Any) -> Any:
    """``x.mT``: the last two axes swapped (a matrix transpose, stack by stack)."""
    perm = (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)
    return transpose(x, perm)


defjvp(batch_matmul_p, lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t))
defvjp(
    batch_matmul_p,
    lambda g, ans, a, b: matmul(g, swap_last(b)),
    lambda g, ans, a, b: matmul(swap_last(a), g),
)


def matmul(a: Any, b: Any) -> Any:
    """``a @ b`` for vectors, matrices and stacks of matrices (batch axes broadcast, as NumPy's)."""
    if _rank(a) > 2 or _rank(b) > 2:
        return _stacked_matmul(a, b)
    return bind(matmul_p, a, b)


def _rank(x: Any) -> int:
    return x.ndim if isinstance(x, Tracer) else int(np.ndim(x))


def _stacked_matmul(a: Any, b: Any) -> Any:
    squeeze_a = a.ndim == 1
    squeeze_b = b.ndim == 1
    if squeeze_a:
        a = reshape(a, (1, a.shape[0]))
    if squeeze_b:
        b = reshape(b, (b.shape[0], 1))
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = broadcast_to(a, (*batch, *a.shape[-2:]))
    b = broadcast_to(b, (*batch, *b.shape[-2:]))
    out = bind(batch_matmul_p, a, b)
    if squeeze_a or squeeze_b:
        shape = [*batch, *([] if squeeze_a else [out.shape[-2]]), *([] if squeeze_b else [out.shape[-1]])]
        out = reshape(out, tuple(shape))
    return out


def outer(a: Any, b: Any) -> Any:
    """``np.outer`` of two vectors."""
    return bind(outer_p, a, b)


def _matmul_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    if b.ndim == 1:
        return mul(g, b) if a.ndim == 1 else outer(g, b)
    return matmul(b, g) if a.ndim == 1 else matmul(g, transpose(b))


def _matmul_vjp_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    if a.ndim == 1:
        return mul(g, a) if b.ndim == 1 else outer(a, g)
    return matmul(transpose(a), g)


defjvp(matmul_p, lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t))
defvjp(matmul_p, _matmul_vjp_a, _matmul_vjp_b)
defjvp(outer_p, lambda t, ans, a, b: outer(t, b), lambda t, ans, a, b: outer(a, t))
defvjp(outer_p, lambda g, ans, a, b: matmul(g, b), lambda g, ans, a, b: matmul(a, g))


# -- shape changes -------------------------------------------------------------------------


def _transpose_rule(x: VType, *, perm: tuple[int, ...]) -> VType:
    if sorted(perm) != list(range(x.rank)):
        raise ValueError(f"axes {perm} are not a permutation of the {x.rank} axes")
    return VType(tuple(x.shape[i] for i in perm), x.dtype)


def _emit_transpose(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    (x,) = args
    perm = params["perm"]
    if perm == tuple(reversed(range(len(perm)))):
        return f"{_paren(x, x[1] < PREC_ATOM)}.T", PREC_ATOM
    return f"np.transpose({x[0]}, {_tuple_src(perm)})", PREC_ATOM


transpose_p = register(
    Primitive(
        "transpose",
        _transpose_rule,
        lambda x, *, perm: np.transpose(x, perm),
        _emit_transpose,
        view=True,
        fusion="transpose",
    )
)


def transpose(x: Any, perm: Sequence[int] | None = None) -> Any:
    """``x.T`` (reversed axes) or ``np.transpose(x, perm)``."""
    if not isinstance(x, Tracer):
        return np.transpose(x, perm)
    p = tuple(reversed(range(x.ndim))) if perm is None else tuple(int(i) % max(x.ndim, 1) for i in perm)
    if p == tuple(range(x.ndim)):
        return x
    return bind(transpose_p, x, perm=p)


defjvp(transpose_p, lambda t, ans, x, *, perm: transpose(t, perm))
defvjp(transpose_p, lambda g, ans, x, *, perm: transpose(g, tuple(np.argsort(perm).tolist())))


def _reshape_rule(x: VType, *, shape: tuple[int, ...]) -> VType:
    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(x.shape, dtype=np.int64)):
        raise ValueError(f"cannot reshape an array of shape {x.shape} into shape {shape}")
    return VType(shape, x.dtype)


def _emit_reshape(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    (x,) = args
    shape = params["shape"]
    if types[0].rank == 0:
        return f"np.full({_tuple_src(shape)}, {x[0]})", PREC_ATOM
    if not shape:
        return f"{_paren(x, x[1] < PREC_ATOM)}.ravel()[0]", PREC_ATOM
    return f"{_paren(x, x[1] < PREC_ATOM)}.reshape({_tuple_src(shape)})", PREC_ATOM


reshape_p = register(
    Primitive(
        "reshape",
        _reshape_rule,
        lambda x, *, shape: np.reshape(x, shape),
        _emit_reshape,
        needs_contiguous=True,
        view=True,  # a reshape of an input or of a shared array shares its memory
    )
)


def reshape(x: Any, shape: Any) -> Any:
    """``x.reshape(shape)`` (one ``-1`` entry is inferred)."""
    if not isinstance(x, Tracer):
        return np.reshape(x, shape)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1], dtype=np.int64))
        shape = tuple(x.size // max(known, 1) if n == -1 else n for n in shape)
    if shape == x.shape:
        return x
    return bind(reshape_p, x, shape=shape)


defjvp(reshape_p, lambda t, ans, x, *, shape: reshape(t, shape))
defvjp(reshape_p, lambda g, ans, x, *, shape: reshape(g, x.shape))


# -- indexing ------------------------------------------------------------------------------


def _index_rule(x: VType, *, index: Index) -> VType:
    if len(index) > x.rank:
        raise ValueError(f"too many indices ({len(index)}) for an array of rank {x.rank}")
    return VType(index_shape(index, x.shape), x.dtype)


def _emit_index(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    (x,) = args
    return f"{_paren(x, x[1] < PREC_ATOM)}[{index_src(params['index'], types[0].shape)}]", PREC_ATOM


index_p = register(
    Primitive(
        "index",
        _index_rule,
        lambda x, *, index: np.asarray(x)[index_tuple(index)],
        _emit_index,
        view=True,
        fusion="slice",
    )
)


def _pad_rule(g: VType, *, shape: tuple[int, ...], index: Index) -> VType:
    if index_shape(index, shape) != g.shape:
        raise ValueError(f"a {g.shape} block does not fit index {index} of shape {shape}")
    return VType(shape, DType.F64)


def _pad_impl(g: Any, *, shape: tuple[int, ...], index: Index) -> Any:
    out = zeros_for(shape, g)
    out[index_tuple(index)] = g
    return out


def _pad_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    return [
        f"{target} = np.zeros({shape_src(params['shape'])})",
        f"{target}[{index_src(params['index'], params['shape'])}] = {args[0]}",
    ]


def _emit_pad(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    return f"zeros {shape_src(params['shape'])} with [{index_src(params['index'], params['shape'])}] = {args[0][0]}", 0


pad_p = register(Primitive("pad", _pad_rule, _pad_impl, _emit_pad, emit_lines=_pad_lines, fusion="scatter"))


def _pad_add_rule(acc: VType, g: VType, *, index: Index) -> VType:
    if index_shape(index, acc.shape) != g.shape:
        raise ValueError(f"a {g.shape} block does not fit index {index} of shape {acc.shape}")
    return VType(acc.shape, DType.F64)


def _pad_add_impl(acc: Any, g: Any, *, index: Index) -> Any:
    out = np.array(as_float(acc), copy=True)
    out[index_tuple(index)] += g
    return out


def _pad_add_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> Lines:
    acc, g = args
    update = f"{target}[{index_src(params['index'], out.shape)}] += {g}"
    if params.get("_inplace"):  # the emitter gave acc this statement's name: it is dead after
        return [update]
    return [f"{target} = {acc}.copy()", update]


def _emit_pad_add(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    return f"{args[0][0]} with [{index_src(params['index'], types[0].shape)}] += {args[1][0]}", 0


# acc + pad(g): how reverse mode sums the adjoints of overlapping slices. The
# emitter updates acc in place when nothing else reads it.
pad_add_p = register(
    Primitive(
        "pad_add",
        _pad_add_rule,
        _pad_add_impl,
        _emit_pad_add,
        emit_lines=_pad_add_lines,
        inplace=True,
        fusion="scatter_add",
    )
)
defjvp(
    pad_add_p,
    lambda t, ans, acc, g, *, index: t,
    lambda t, ans, acc, g, *, index: pad(t, ans.shape, index),
)
defvjp(
    pad_add_p,
    lambda gout, ans, acc, g, *, index: gout,
    lambda gout, ans, acc, g, *, index: bind(index_p, gout, index=index),
)


def _pad_into_add(x: Tracer, y: Tracer) -> Any:
    """``pad(g) + y`` is ``pad_add(y, g)`` when ``y`` has the full shape: no zero-filled temporary."""
    for a, b in ((x, y), (y, x)):
        e = a.builder.producer.get(a.value)
        if e is not None and e.prim is pad_p and b.shape == a.shape and b.type.dtype is DType.F64:
            return bind(pad_add_p, b, Tracer(a.builder, e.inputs[0]), index=e.kwargs["index"])
    return None


add_p.add_identity(_pad_into_add)


def is_whole(idx: Index, shape: Sequence[int]) -> bool:
    """Whether ``idx`` selects every entry (full slices only)."""
    return all(not isinstance(i, int) and i == (0, n, 1) for i, n in zip(idx, shape, strict=False))


def index(x: Any, idx: Index) -> Any:
    """``x[idx]`` for a static index (see the module doc)."""
    if isinstance(x, Tracer) and is_whole(idx, x.shape):
        return x
    return bind(index_p, x, index=tuple(idx))


def pad(g: Any, shape: tuple[int, ...], idx: Index) -> Any:
    """A zero array of ``shape`` with ``g`` written at ``idx``: the adjoint of indexing."""
    if isinstance(g, Tracer) and is_whole(idx, shape):
        return g
    return bind(pad_p, g, shape=tuple(shape), index=tuple(idx))


defjvp(index_p, lambda t, ans, x, *, index: bind(index_p, t, index=index))
defvjp(index_p, lambda g, ans, x, *, index: pad(g, x.shape, index))
defjvp(pad_p, lambda t, ans, g, *, shape, index: pad(t, shape, index))
defvjp(pad_p, lambda gout, ans, g, *, shape, index: bind(index_p, gout, index=index))


def _axis_prefix(axis: int) -> str:
    return ":, " * axis


def _gather_rule(x: VType, idx: VType, *, axis: int) -> VType:
    if idx.dtype is not DType.I64 or idx.rank != 1:
        raise ValueError("an index array must be a 1-D integer array")
    return VType((*x.shape[:axis], idx.shape[0], *x.shape[axis + 1 :]), x.dtype)


def _gather_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    x, idx = args
    axis = params["axis"]
    n = types[0].shape[axis]
    return [
        f"if {idx}.size and (np.min({idx}) < -{n} or np.max({idx}) >= {n}):",
        f'    raise IndexError("index out of bounds for axis {axis} of size {n}")',
        f"{target} = {x}[{_axis_prefix(axis)}{idx}]",
    ]


def _emit_gather(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    return f"{args[0][0]}[{_axis_prefix(params['axis'])}{args[1][0]}]", PREC_ATOM


gather_p = register(
    Primitive(
        "gather",
        _gather_rule,
        lambda x, idx, *, axis: np.take(x, idx, axis=axis),
        _emit_gather,
        emit_lines=_gather_lines,
    )
)


def _scatter_rule(g: VType, idx: VType, *, shape: tuple[int, ...], axis: int) -> VType:
    return VType(shape, DType.F64)


def _scatter_impl(g: Any, idx: Any, *, shape: tuple[int, ...], axis: int) -> Any:
    out = zeros_for(shape, g)
    np.add.at(np.moveaxis(out, axis, 0), np.asarray(idx), np.moveaxis(as_float(g), axis, 0))
    return out


def _scatter_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    g, idx = args
    pre = _axis_prefix(params["axis"])
    return [
        f"{target} = np.zeros({shape_src(params['shape'])})",
        f"for _k in range({idx}.shape[0]):",
        f"    {target}[{pre}{idx}[_k]] += {g}[{pre}_k]",
    ]


def _emit_scatter(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    return f"zeros {shape_src(params['shape'])} with [{args[1][0]}] += {args[0][0]}", 0


scatter_add_p = register(
    Primitive("scatter_add", _scatter_rule, _scatter_impl, _emit_scatter, emit_lines=_scatter_lines)
)


def gather(x: Any, idx: Any, axis: int = 0) -> Any:
    """``x[idx]`` along ``axis`` for a 1-D integer index array."""
    return bind(gather_p, x, idx, axis=axis)


def scatter_add(g: Any, idx: Any, shape: tuple[int, ...], axis: int = 0) -> Any:
    """Zeros of ``shape`` with slices of ``g`` added at ``idx`` (repeats add up): the adjoint of gather."""
    return bind(scatter_add_p, g, idx, shape=tuple(shape), axis=axis)


defjvp(gather_p, lambda t, ans, x, idx, *, axis: gather(t, idx, axis), None)
defvjp(gather_p, lambda g, ans, x, idx, *, axis: scatter_add(g, idx, x.shape, axis), None)
defjvp(scatter_add_p, lambda t, ans, g, idx, *, shape, axis: scatter_add(t, idx, shape, axis), None)
defvjp(scatter_add_p, lambda gout, ans, g, idx, *, shape, axis: gather(gout, idx, axis), None)


# -- joining ---------------------------------------------------------------------------------


def _concat_rule(*xs: VType, axis: int) -> VType:
    first = xs[0]
    for x in xs[1:]:
        off_axis = [(a, b) for i, (a, b) in enumerate(zip(x.shape, first.shape, strict=False)) if i != axis]
        if x.rank != first.rank or any(a != b for a, b in off_axis):
            raise ValueError(f"shapes {[t.shape for t in xs]} differ off axis {axis}")
    total = sum(x.shape[axis] for x in xs)
    dtype = first.dtype if all(x.dtype is first.dtype for x in xs) else DType.F64
    return VType((*first.shape[:axis], total, *first.shape[axis + 1 :]), dtype)


def _emit_concat(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    inner = ", ".join(a for a, _ in args) + ("," if len(args) == 1 else "")
    axis = params["axis"]
    return f"np.concatenate(({inner})" + (f", axis={axis})" if axis else ")"), PREC_ATOM


def _concat_part(k: int) -> Any:
    def span(xs: Sequence[Any], axis: int, shape: tuple[int, ...]) -> Index:
        start = sum(x.shape[axis] for x in xs[:k])
        stop = start + xs[k].shape[axis]
        return (*((0, n, 1) for n in shape[:axis]), (start, stop, 1))

    def jvp(t: Any, ans: Any, *xs: Any, axis: int) -> Any:
        return pad(t, ans.shape, span(xs, axis, ans.shape))

    def vjp(g: Any, ans: Any, *xs: Any, axis: int) -> Any:
        return index(g, span(xs, axis, ans.shape))

    return jvp, vjp


concatenate_p = register(
    Primitive("concatenate", _concat_rule, lambda *xs, axis: np.concatenate(xs, axis=axis), _emit_concat)
)


def _pack_rule(*xs: VType) -> VType:
    if any(x.rank for x in xs):
        raise ValueError("pack takes scalars")
    dtype = xs[0].dtype if all(x.dtype is xs[0].dtype for x in xs) else DType.F64
    return VType((len(xs),), dtype)


def _emit_pack(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    return "np.array([" + ", ".join(a for a, _ in args) + "])", PREC_ATOM


pack_p = register(Primitive("pack", _pack_rule, lambda *xs: np.array(xs), _emit_pack))


def _pack_part(k: int) -> tuple[Any, Any]:
    return (lambda t, ans, *xs: pad(t, ans.shape, (k,)), lambda g, ans, *xs: index(g, (k,)))


# Any number of inputs: the rules are made per input position.
concatenate_p.jvp = lambda k: _concat_part(k)[0]
concatenate_p.vjp = lambda k: _concat_part(k)[1]
pack_p.jvp = lambda k: _pack_part(k)[0]
pack_p.vjp = lambda k: _pack_part(k)[1]


def concatenate(xs: Sequence[Any], axis: int = 0) -> Any:
    """``np.concatenate`` of traced arrays."""
    xs = list(xs)
    if len(xs) == 1:
        return xs[0]
    return bind(concatenate_p, *xs, axis=int(axis))


def pack(xs: Sequence[Any]) -> Any:
    """A vector from scalars: ``np.array([a, b, c])``."""
    return bind(pack_p, *xs)
