"""Structural primitives: constructors, triangles and diagonals, scans, sorting, arg-reductions.

Like :mod:`~dcompile.primitives.arrays`, one array operation is one equation
whatever the size. Constructors (``np.eye(n)``, ``np.arange(n)``) take no
input: they are equations, not embedded constants, so ``np.eye(2000)`` costs
one statement of generated code, and their values are known while tracing
(masks, index arrays and counts built from them work as in NumPy). Linear
primitives (triangles, diagonals, cumulative sums) differentiate into
themselves and their transposes; ``linrec`` (a first-order linear recurrence
``y[i] = a[i] * y[i-1] + b[i]``) gives the cumulative product a derivative
that never divides by an entry, so zeros are exact.

Operations along an axis work on the last axis; the NumPy-level functions
move the axis there and back (transposes are views).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcompile.ir.builder import Builder
from dcompile.ir.primitive import PREC_ATOM, Primitive, register
from dcompile.ir.tracer import Tracer, bind
from dcompile.ir.types import DType, VType
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E

_DTYPE_SRC = {DType.F64: "np.float64", DType.I64: "np.int64", DType.BOOL: "np.bool_"}


def _tuple_src(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _dtype_arg(t: VType) -> str:
    return "" if t.dtype is DType.F64 else f", dtype={_DTYPE_SRC[t.dtype]}"


def _rows(shape: Sequence[int]) -> int:
    return int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1


# -- constructors ------------------------------------------------------------------------------------


def _make_impl(*, kind: str, args: tuple[Any, ...], dtype: DType) -> Any:
    makers: dict[str, Any] = {"eye": np.eye, "arange": np.arange, "linspace": np.linspace, "tri": np.tri}
    fn = makers[kind]
    return np.asarray(fn(*args)).astype(dtype.value)


def _make_rule(*, kind: str, args: tuple[Any, ...], dtype: DType) -> VType:
    return VType(np.shape(_make_impl(kind=kind, args=args, dtype=dtype)) if kind != "eye" else _eye_shape(args), dtype)


def _eye_shape(args: tuple[Any, ...]) -> tuple[int, ...]:
    n, m = args[0], args[1] if len(args) > 1 and args[1] is not None else args[0]
    return (int(n), int(m))


def _emit_make(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    kind, values, dtype = params["kind"], params["args"], params["dtype"]
    inner = ", ".join(repr(v) for v in values)
    src = f"np.{kind}({inner})"
    if kind == "tri" or (kind != "arange" and dtype is not DType.F64):
        src += f".astype({_DTYPE_SRC[dtype]})"
    return src, PREC_ATOM


# An array made from static numbers: np.eye, np.arange, np.linspace, np.tri.
make_p = register(Primitive("make", _make_rule, _make_impl, _emit_make, foldable=False, fusion="eye"))
E.defpartials(make_p)  # no inputs: nothing to differentiate


def make(builder: Builder, kind: str, args: Sequence[Any], dtype: DType = DType.F64) -> Tracer:
    """The constructor ``np.<kind>(*args)`` as an equation of ``builder``."""
    params = {"kind": kind, "args": tuple(args), "dtype": dtype}
    out_type = _make_rule(kind=kind, args=tuple(args), dtype=dtype)
    return Tracer(builder, builder.emit_raw(make_p, (), tuple(sorted(params.items())), out_type))


# -- triangles and diagonals -------------------------------------------------------------------------


def _same_rule(x: VType, **params: Any) -> VType:
    if x.rank < 2:
        raise ValueError("needs a matrix (or a stack of matrices)")
    return x


def _triangle(name: str) -> Primitive:
    fn = getattr(np, name)
    return register(
        Primitive(
            name,
            _same_rule,
            lambda x, *, k: fn(x, k),
            lambda args, params, types: (
                f"np.{name}({args[0][0]}" + (f", {params['k']})" if params["k"] else ")"),
                PREC_ATOM,
            ),
            fusion="mask",
        )
    )


tril_p = _triangle("tril")
triu_p = _triangle("triu")


def tril(x: Any, k: int = 0) -> Any:
    """The lower triangle (``np.tril``): linear, its own transpose."""
    return bind(tril_p, x, k=int(k))


def triu(x: Any, k: int = 0) -> Any:
    """The upper triangle (``np.triu``): linear, its own transpose."""
    return bind(triu_p, x, k=int(k))


E.defpartials(tril_p, lambda t, ans, x, *, k: tril(t, k))
E.defpartials(triu_p, lambda t, ans, x, *, k: triu(t, k))
tril_p.elementwise = triu_p.elementwise = False  # not entry by entry: masking does not apply


def _diagonal_rule(x: VType, *, k: int) -> VType:
    if x.rank != 2:
        raise ValueError("diagonal takes a matrix")
    n, m = x.shape
    length = max(0, min(n, m - k) if k >= 0 else min(n + k, m))
    return VType((length,), x.dtype)


def _diagonal_impl(x: Any, *, k: int) -> Any:
    return np.diagonal(np.asarray(x), k).copy()


def _emit_diag(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    k = params["k"]
    return f"np.diag({args[0][0]}" + (f", {k})" if k else ")"), PREC_ATOM


diagonal_p = register(Primitive("diagonal", _diagonal_rule, _diagonal_impl, _emit_diag))


def _diag_rule(v: VType, *, k: int) -> VType:
    if v.rank != 1:
        raise ValueError("diag takes a vector")
    n = v.shape[0] + abs(k)
    return VType((n, n), v.dtype)


diag_p = register(Primitive("diag", _diag_rule, lambda v, *, k: np.diag(np.asarray(v), k), _emit_diag))


def diagonal(x: Any, k: int = 0) -> Any:
    """The ``k``-th diagonal of a matrix as a vector (a copy)."""
    return bind(diagonal_p, x, k=int(k))


def diag_matrix(v: Any, k: int = 0) -> Any:
    """A square matrix with ``v`` on its ``k``-th diagonal (``np.diag`` of a vector)."""
    return bind(diag_p, v, k=int(k))


def _embed_diagonal(g: Any, shape: tuple[int, ...], k: int) -> Any:
    """A matrix of ``shape`` with ``g`` on its ``k``-th diagonal (the adjoint of taking it)."""
    n, m = shape
    full = diag_matrix(g, k)
    size = full.shape[0]
    if (size, size) == (n, m):
        return full
    cut = A.index(full, ((0, min(size, n), 1), (0, min(size, m), 1)))
    return A.pad(cut, shape, tuple((0, d, 1) for d in cut.shape))


E.defjvp(diagonal_p, lambda t, ans, x, *, k: diagonal(t, k))
E.defvjp(diagonal_p, lambda g, ans, x, *, k: _embed_diagonal(g, x.shape, k))
E.defjvp(diag_p, lambda t, ans, v, *, k: diag_matrix(t, k))
E.defvjp(diag_p, lambda g, ans, v, *, k: diagonal(g, k))


# -- cumulative sums and linear recurrences along the last axis ------------------------------------------


def _scan_rule(x: VType, **params: Any) -> VType:
    dtype = DType.I64 if x.dtype is DType.I64 else DType.F64
    return VType(x.shape, dtype)


def _cumsum_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    (x,) = args
    shape = types[0].shape
    if len(shape) == 1:
        return [f"{target} = np.cumsum({x})"]
    rows, n = _rows(shape), shape[-1]
    zero = "0" if out.dtype is DType.I64 else "0.0"
    return [
        f"_{target}_x = np.ascontiguousarray({x}).reshape(({rows}, {n}))",
        f"{target} = np.empty(({rows}, {n}){_dtype_arg(out)})",
        f"for _r in range({rows}):",
        f"    _acc = {zero}",
        f"    for _c in range({n}):",
        f"        _acc += _{target}_x[_r, _c]",
        f"        {target}[_r, _c] = _acc",
        f"{target} = {target}.reshape({_tuple_src(shape)})",
    ]


cumsum_p = register(
    Primitive(
        "cumsum",
        _scan_rule,
        lambda x: np.cumsum(x, axis=-1),
        lambda args, params, types: (f"np.cumsum({args[0][0]}, axis=-1)", PREC_ATOM),
        emit_lines=_cumsum_lines,
    )
)


def cumsum_last(x: Any) -> Any:
    return bind(cumsum_p, x)


def reverse_last(x: Any) -> Any:
    """``x[..., ::-1]`` (a view)."""
    n = x.shape[-1]
    return A.index(x, (*((0, m, 1) for m in x.shape[:-1]), (n - 1, -1, -1)))


E.defjvp(cumsum_p, lambda t, ans, x: cumsum_last(t))
E.defvjp(cumsum_p, lambda g, ans, x: reverse_last(cumsum_last(reverse_last(g))))


def _linrec_rule(a: VType, b: VType, *, reverse: bool) -> VType:
    if a.shape != b.shape:
        raise ValueError(f"linrec needs operands of one shape, got {a.shape} and {b.shape}")
    return VType(b.shape, DType.F64)


def _linrec_impl(a: Any, b: Any, *, reverse: bool) -> Any:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.empty(b.shape)
    n = b.shape[-1]
    prev = np.zeros(b.shape[:-1])
    for c in range(n - 1, -1, -1) if reverse else range(n):
        prev = a[..., c] * prev + b[..., c]
        out[..., c] = prev
    return out


def _linrec_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    a, b = args
    shape = out.shape
    rows, n = _rows(shape), shape[-1]
    order = f"range({n} - 1, -1, -1)" if params["reverse"] else f"range({n})"
    return [
        f"_{target}_a = np.ascontiguousarray({a}).reshape(({rows}, {n}))",
        f"_{target}_b = np.ascontiguousarray({b}).reshape(({rows}, {n}))",
        f"{target} = np.empty(({rows}, {n}))",
        f"for _r in range({rows}):",
        "    _acc = 0.0",
        f"    for _c in {order}:",
        f"        _acc = _{target}_a[_r, _c] * _acc + _{target}_b[_r, _c]",
        f"        {target}[_r, _c] = _acc",
        f"{target} = {target}.reshape({_tuple_src(shape)})",
    ]


# y[i] = a[i] * y[i-1] + b[i] along the last axis (y[-1] = 0); reverse: y[i] = a[i] * y[i+1] + b[i].
linrec_p = register(
    Primitive(
        "linrec",
        _linrec_rule,
        _linrec_impl,
        lambda args, params, types: (f"linrec({args[0][0]}, {args[1][0]})", PREC_ATOM),
        emit_lines=_linrec_lines,
    )
)


def linrec(a: Any, b: Any, reverse: bool = False) -> Any:
    return bind(linrec_p, a, b, reverse=bool(reverse))


def _shift(y: Any, reverse: bool) -> Any:
    """The previous entry of ``y`` in the recurrence's order (0 before the first)."""
    n = y.shape[-1]
    lead = tuple((0, m, 1) for m in y.shape[:-1])
    if n == 1:
        return A.broadcast_to(0.0, y.shape)
    if reverse:  # y[i + 1]
        return A.pad(A.index(y, (*lead, (1, n, 1))), y.shape, (*lead, (0, n - 1, 1)))
    return A.pad(A.index(y, (*lead, (0, n - 1, 1))), y.shape, (*lead, (1, n, 1)))


def _linrec_a_jvp(t: Any, ans: Any, a: Any, b: Any, *, reverse: bool) -> Any:
    return linrec(a, E.mul(t, _shift(ans, reverse)), reverse)


def _adjoint(g: Any, ans: Any, a: Any, reverse: bool) -> Any:
    """lambda[i] = g[i] + a[next] * lambda[next]: the recurrence run the other way."""
    return linrec(_shift(a, not reverse), g, not reverse)


E.defjvp(linrec_p, _linrec_a_jvp, lambda t, ans, a, b, *, reverse: linrec(a, t, reverse))
E.defvjp(
    linrec_p,
    lambda g, ans, a, b, *, reverse: E.mul(_adjoint(g, ans, a, reverse), _shift(ans, reverse)),
    lambda g, ans, a, b, *, reverse: _adjoint(g, ans, a, reverse),
)


def cumprod_last(x: Any) -> Any:
    """``np.cumprod`` along the last axis as ``linrec(x, [x0, 0, 0, ...])``: exact derivatives at zeros."""
    n = x.shape[-1]
    lead = tuple((0, m, 1) for m in x.shape[:-1])
    first = A.pad(A.index(x, (*lead, (0, 1, 1))), x.shape, (*lead, (0, 1, 1))) if n > 1 else x
    return linrec(x, first)


# -- sorting and arg-reductions (integer results: values only) -------------------------------------------


def _argsort_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    (x,) = args
    shape = types[0].shape
    if len(shape) == 1:
        return [f"{target} = np.argsort({x}, kind='mergesort')"]
    rows, n = _rows(shape), shape[-1]
    return [
        f"_{target}_x = np.ascontiguousarray({x}).reshape(({rows}, {n}))",
        f"{target} = np.empty(({rows}, {n}), dtype=np.int64)",
        f"for _r in range({rows}):",
        f"    {target}[_r] = np.argsort(_{target}_x[_r], kind='mergesort')",
        f"{target} = {target}.reshape({_tuple_src(shape)})",
    ]


argsort_p = register(
    Primitive(
        "argsort",
        lambda x: VType(x.shape, DType.I64),
        lambda x: np.argsort(x, axis=-1, kind="stable"),
        lambda args, params, types: (f"np.argsort({args[0][0]}, axis=-1)", PREC_ATOM),
        emit_lines=_argsort_lines,
    )
)
E.defpartials(argsort_p, None)


def argsort_last(x: Any) -> Any:
    return bind(argsort_p, x)


def _arg_lines(fn: str) -> Any:
    def lines(
        target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
    ) -> list[str]:
        (x,) = args
        shape = types[0].shape
        if len(shape) == 1:
            return [f"{target} = np.{fn}({x})"]
        rows, n = _rows(shape), shape[-1]
        return [
            f"_{target}_x = np.ascontiguousarray({x}).reshape(({rows}, {n}))",
            f"{target} = np.empty({rows}, dtype=np.int64)",
            f"for _r in range({rows}):",
            f"    {target}[_r] = np.{fn}(_{target}_x[_r])",
            f"{target} = {target}.reshape({_tuple_src(out.shape)})",
        ]

    return lines


def _arg_prim(fn: str) -> Primitive:
    prim = register(
        Primitive(
            fn,
            lambda x: VType(x.shape[:-1], DType.I64),
            lambda x: getattr(np, fn)(x, axis=-1),
            lambda args, params, types: (f"np.{fn}({args[0][0]}, axis=-1)", PREC_ATOM),
            emit_lines=_arg_lines(fn),
        )
    )
    E.defpartials(prim, None)
    return prim


argmax_p = _arg_prim("argmax")
argmin_p = _arg_prim("argmin")


def argmax_last(x: Any) -> Any:
    return bind(argmax_p, x)


def argmin_last(x: Any) -> Any:
    return bind(argmin_p, x)
