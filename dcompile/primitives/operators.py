"""Python operators, ndarray methods and NumPy's dispatch protocols on tracers.

This module connects the user-facing surface of tracing to the spellings
table (:mod:`~dcompile.primitives.spellings`): it installs the arithmetic
dunders and the ndarray methods on :class:`~dcompile.ir.tracer.Tracer`, and
answers NumPy's ``__array_ufunc__`` / ``__array_function__`` protocols by
looking the called object up in the table. A function that is not there is
refused with its full dotted name (``numpy.linalg.matrix_rank``) and, where
one exists, the supported alternative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import HOOKS, Tracer
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives import indexing as I
from dcompile.primitives import numpy_api as N
from dcompile.primitives import reductions as R
from dcompile.primitives import spellings


def _bool_only(fn: Callable[..., Any], symbol: str) -> Callable[..., Any]:
    def op(*args: Any) -> Any:
        for a in args:
            if isinstance(a, Tracer) and a.type.dtype.differentiable:
                raise trace_error(
                    f"`{symbol}` on a float traced value: it is a logical operator here.",
                    "use it on comparisons, e.g. `(x > 0) & (y < 1)`",
                    UnsupportedError,
                )
        return fn(*args)

    return op


def _inplace(fn: Callable[[Any, Any], Any]) -> Callable[[Tracer, Any], Any]:
    """``a += b`` on an array updates the array (as NumPy does: its views and other names see it)."""

    def op(self: Tracer, other: Any) -> Any:
        if self.ndim == 0:
            return fn(self, other)  # a scalar: Python rebinds the name
        new = fn(self, other)
        if new.shape != self.shape:
            raise trace_error(
                f"an in-place operation would change the shape {self.shape} to {new.shape}.",
                "write `a = a op b` instead",
            )
        if new.type.dtype is not self.type.dtype:
            new = E.astype(new, self.type.dtype)
        I.assign(self, new)
        return self

    return op


def install() -> None:
    """Install the operators and methods on Tracer and the dispatch hooks."""
    T = Tracer
    T.__add__ = E.add  # type: ignore[method-assign]
    T.__radd__ = lambda a, b: E.add(b, a)  # type: ignore[method-assign]
    T.__sub__ = E.sub  # type: ignore[method-assign]
    T.__rsub__ = lambda a, b: E.sub(b, a)  # type: ignore[method-assign]
    T.__mul__ = E.mul  # type: ignore[method-assign]
    T.__rmul__ = lambda a, b: E.mul(b, a)  # type: ignore[method-assign]
    T.__truediv__ = E.div  # type: ignore[method-assign]
    T.__rtruediv__ = lambda a, b: E.div(b, a)  # type: ignore[method-assign]
    T.__floordiv__ = E.floor_divide  # type: ignore[attr-defined]
    T.__rfloordiv__ = lambda a, b: E.floor_divide(b, a)  # type: ignore[attr-defined]
    T.__mod__ = E.mod  # type: ignore[attr-defined]
    T.__rmod__ = lambda a, b: E.mod(b, a)  # type: ignore[attr-defined]
    T.__divmod__ = E.divmod_  # type: ignore[attr-defined]
    T.__rdivmod__ = lambda a, b: E.divmod_(b, a)  # type: ignore[attr-defined]
    T.__pow__ = E.power  # type: ignore[method-assign]
    T.__rpow__ = lambda a, b: E.power(b, a)  # type: ignore[method-assign]
    T.__neg__ = E.neg  # type: ignore[method-assign]
    T.__pos__ = lambda a: a  # type: ignore[method-assign]
    T.__abs__ = E.absolute  # type: ignore[method-assign]
    T.__lt__ = E.less  # type: ignore[method-assign]
    T.__le__ = E.less_equal  # type: ignore[method-assign]
    T.__gt__ = E.greater  # type: ignore[method-assign]
    T.__ge__ = E.greater_equal  # type: ignore[method-assign]
    T.__eq__ = E.equal  # type: ignore[method-assign,assignment]
    T.__ne__ = E.not_equal  # type: ignore[method-assign,assignment]
    T.__and__ = T.__rand__ = _bool_only(E.logical_and, "&")  # type: ignore[attr-defined]
    T.__or__ = T.__ror__ = _bool_only(E.logical_or, "|")  # type: ignore[attr-defined]
    T.__xor__ = T.__rxor__ = _bool_only(E.logical_xor, "^")  # type: ignore[attr-defined]
    T.__invert__ = _bool_only(E.logical_not, "~")  # type: ignore[attr-defined]
    T.__round__ = lambda a, ndigits=None: E.round_(a, ndigits or 0)  # type: ignore[attr-defined]
    T.__floor__ = E.floor  # type: ignore[attr-defined]
    T.__ceil__ = E.ceil  # type: ignore[attr-defined]
    T.__trunc__ = E.trunc  # type: ignore[attr-defined]
    for name, fn in (
        ("add", E.add),
        ("sub", E.sub),
        ("mul", E.mul),
        ("truediv", E.div),
        ("floordiv", E.floor_divide),
        ("mod", E.mod),
        ("pow", E.power),
        ("matmul", N.matmul),
    ):
        setattr(T, f"__i{name}__", _inplace(fn))
    _install_array_methods()
    HOOKS.update({"array": N.array, "broadcast_to": A.broadcast_to, "ufunc": _ufunc, "function": _function})
    for name, fn in _UFUNC_SPELLINGS.items():
        spellings.add(
            f"numpy.{name}", fn, derivative=spellings.VALUES if name.startswith("logical") else spellings.SMOOTH
        )


# numpy ufuncs whose traced form is an operator function (the others come with their primitive's declaration).
_UFUNC_SPELLINGS: dict[str, Callable[..., Any]] = {
    "add": E.add,
    "subtract": E.sub,
    "multiply": E.mul,
    "divide": E.div,
    "true_divide": E.div,
    "negative": E.neg,
    "positive": lambda x: x,
    "power": E.power,
    "square": lambda x: E.integer_pow(x, 2),
    "reciprocal": lambda x: E.div(1.0, x),
    "logical_and": E.logical_and,
    "logical_or": E.logical_or,
    "logical_not": E.logical_not,
    "logical_xor": E.logical_xor,
    "divmod": E.divmod_,
}


def _method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A NumPy function as a method: ``x.sum(axis=0)`` is ``np.sum(x, axis=0)``."""

    def method(self: Tracer, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__name__ = getattr(fn, "__name__", "method")
    return method


def _in_place_sort(self: Tracer, axis: int = -1, kind: Any = None, order: Any = None) -> None:
    I.assign(self, R.sort(self, axis, kind, order))


def _fill(self: Tracer, value: Any) -> None:
    I.assign(self, N.full(self.shape, value, dtype=self.dtype))


def _item(self: Tracer, *args: Any) -> Any:
    known = self.static()
    if known is None:
        raise trace_error(".item() of a traced value needs its number.", "keep it as an array value")
    return known.item(*args)


def _tolist(self: Tracer) -> Any:
    known = self.static()
    if known is None:
        return [self[i] for i in range(self.shape[0])] if self.ndim else self
    return known.tolist()


def _install_array_methods() -> None:
    """NumPy's ndarray methods and attributes that make sense on traced arrays."""
    T = Tracer
    T.__getitem__ = I.getitem  # type: ignore[attr-defined]
    T.__setitem__ = I.setitem  # type: ignore[attr-defined]
    T.__matmul__ = N.matmul  # type: ignore[attr-defined]
    T.__rmatmul__ = lambda a, b: N.matmul(b, a)  # type: ignore[attr-defined]
    T.T = property(N.transpose)  # type: ignore[attr-defined]
    T.mT = property(lambda self: N.swapaxes(self, -1, -2))  # type: ignore[attr-defined]
    T.real = property(lambda self: self)  # type: ignore[attr-defined]
    T.sort = _in_place_sort  # type: ignore[attr-defined]
    T.fill = _fill  # type: ignore[attr-defined]
    T.item = _item  # type: ignore[attr-defined]
    T.tolist = _tolist  # type: ignore[attr-defined]
    T.nonzero = N.nonzero_static  # type: ignore[attr-defined]
    for dotted, s in list(spellings.BY_NAME.items()):
        if dotted.startswith("numpy.ndarray."):
            name = dotted.rpartition(".")[2]
            if name not in ("sort",):
                setattr(T, name, _method(s.rule))


def unsupported(dotted: str, extra: str = "") -> Exception:
    alt = spellings.alternative(dotted)
    fix = f"use {alt}" if alt else "use a supported function (dcompile.supported() lists them by module)"
    return trace_error(
        f"{dotted}{extra} is not supported on traced values.",
        f"{fix}, or define a primitive with dcompile.extend (or wrap a block with dcompile.custom_vjp)",
        UnsupportedError,
    )


_UFUNC_REDUCE = {"add": R.sum_, "multiply": R.prod, "maximum": R.amax, "minimum": R.amin, "fmax": R.nanmax,
                 "fmin": R.nanmin, "logical_and": R.all_, "logical_or": R.any_}  # fmt: skip
_UFUNC_ACCUMULATE = {"add": R.cumsum, "multiply": R.cumprod}


def _ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tracer.__array_ufunc__``: a call, or the reduce/accumulate/outer methods of a known ufunc."""
    dotted = spellings.dotted_name(ufunc)
    s = spellings.lookup(ufunc)
    if s is None:
        raise unsupported(dotted)
    out = kwargs.pop("out", None)
    if out is not None and not (isinstance(out, tuple) and all(o is None for o in out)):
        E._no_out(out)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("casting", None)
    kwargs.pop("order", None)
    kwargs.pop("subok", None)
    where = kwargs.pop("where", True)
    if method == "reduce":
        fn = _UFUNC_REDUCE.get(ufunc.__name__)
        if fn is None:
            raise unsupported(dotted, ".reduce")
        axis = kwargs.pop("axis", 0)
        return fn(inputs[0], axis, keepdims=kwargs.pop("keepdims", False))
    if method == "accumulate":
        fn = _UFUNC_ACCUMULATE.get(ufunc.__name__)
        if fn is None:
            raise unsupported(dotted, ".accumulate")
        return fn(inputs[0], kwargs.pop("axis", 0))
    if method == "outer":
        a, b = (N.asarray(x) if isinstance(x, (list, tuple)) else x for x in inputs)
        a_shape, b_shape = np.shape(a), np.shape(b)
        a = A.reshape(a, (*a_shape, *(1,) * len(b_shape))) if isinstance(a, Tracer) else np.reshape(
            a, (*a_shape, *(1,) * len(b_shape)))  # fmt: skip
        return s.rule(a, b)
    if method != "__call__":
        raise unsupported(dotted, f".{method}")
    if kwargs:
        raise unsupported(dotted, f" with keyword arguments {sorted(kwargs)}")
    result = s.rule(*inputs)
    if where is not True:
        raise unsupported(dotted, " with where=")
    if dtype is not None:
        result = E.astype(result, dtype)
    return result


def _function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tracer.__array_function__``: the traced implementation of a NumPy function."""
    s = spellings.lookup(func)
    if s is None:
        raise unsupported(spellings.dotted_name(func))
    spellings.check_call(s, args, kwargs)
    return s.rule(*args, **kwargs)


def supported() -> dict[str, list[str]]:
    """What tracing accepts on traced values, by module (for users and error messages).

    Each entry is the name a user calls; a note in parentheses says when its
    derivative is zero or absent (``values only``: integer or boolean results).
    """
    out: dict[str, list[str]] = {
        "operators": [
            "+ - * / // % ** (and their in-place forms +=, -=, ...)",
            "unary - +, abs(), round(), math.floor/ceil/trunc",
            "< <= > >= == !=",
            "& | ^ ~ (on comparisons)",
            "x[...] indexing: ints, slices, None, ..., integer arrays, traced ints, static masks",
            "x[...] = v and x[...] += v (item and slice assignment)",
            "x.T, x.mT, x.shape, x.ndim, x.size, x.dtype",
        ],
    }
    for module in spellings.modules():
        names = []
        for name, s in sorted(spellings.for_module(module).items()):
            if module == "sympy":
                continue
            note = "" if s.derivative == spellings.SMOOTH else f" ({s.derivative})"
            names.append(f"{module.removeprefix('numpy.ndarray').lstrip('.') or 'x'}.{name}{note}"
                         if module == "numpy.ndarray" else f"{module}.{name}{note}")  # fmt: skip
        if names:
            out[module] = names
    out["dcompile"] = ["dc.where", "dc.sigmoid", "dc.softplus", "dc.logsumexp", "dc.stop_gradient", "dc.array"]
    return out
