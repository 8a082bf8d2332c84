"""Python operators, NumPy ufuncs and ``math`` functions on tracers.

This module connects the user-facing surface of tracing to the primitives: it
installs the arithmetic dunders on :class:`~dcompile.ir.tracer.Tracer` and
fills the ufunc and ``math`` dispatch tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import ARRAY_FUNCTION_RULES, HOOKS, UFUNC_RULES, Tracer
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives import numpy_api as N


def _unsupported_operator(symbol: str, fix: str) -> Callable[..., Any]:
    def op(*args: Any) -> Any:
        raise trace_error(f"the operator `{symbol}` is not supported on traced values.", fix, UnsupportedError)

    return op


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


def _clip(x: Any, lo: Any, hi: Any) -> Any:
    out = x
    if lo is not None:
        out = E.maximum(out, lo)
    if hi is not None:
        out = E.minimum(out, hi)
    return out


def install() -> None:
    """Install the operators on Tracer and fill the dispatch tables."""
    T = Tracer
    T.__add__ = E.add  # type: ignore[method-assign]
    T.__radd__ = lambda a, b: E.add(b, a)  # type: ignore[method-assign]
    T.__sub__ = E.sub  # type: ignore[method-assign]
    T.__rsub__ = lambda a, b: E.sub(b, a)  # type: ignore[method-assign]
    T.__mul__ = E.mul  # type: ignore[method-assign]
    T.__rmul__ = lambda a, b: E.mul(b, a)  # type: ignore[method-assign]
    T.__truediv__ = E.div  # type: ignore[method-assign]
    T.__rtruediv__ = lambda a, b: E.div(b, a)  # type: ignore[method-assign]
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
    T.__invert__ = _bool_only(E.logical_not, "~")  # type: ignore[attr-defined]
    fix = "it has no useful derivative; write the expression with supported operations"
    for name, symbol in (("floordiv", "//"), ("mod", "%"), ("divmod", "divmod")):
        setattr(T, f"__{name}__", _unsupported_operator(symbol, fix))
        setattr(T, f"__r{name}__", _unsupported_operator(symbol, fix))

    _install_array_methods()
    UFUNC_RULES.update(
        {
            np.add: E.add,
            np.subtract: E.sub,
            np.multiply: E.mul,
            np.divide: E.div,
            np.negative: E.neg,
            np.positive: lambda x: x,
            np.power: E.power,
            np.square: lambda x: E.integer_pow(x, 2),
            np.reciprocal: lambda x: E.div(1.0, x),
            np.exp: E.exp,
            np.log: E.log,
            np.log1p: E.log1p,
            np.expm1: E.expm1,
            np.sqrt: E.sqrt,
            np.sin: E.sin,
            np.cos: E.cos,
            np.tan: E.tan,
            np.arcsin: E.arcsin,
            np.arccos: E.arccos,
            np.arctan: E.arctan,
            np.arctan2: E.arctan2,
            np.sinh: E.sinh,
            np.cosh: E.cosh,
            np.tanh: E.tanh,
            np.absolute: E.absolute,
            np.sign: E.sign,
            np.maximum: E.maximum,
            np.minimum: E.minimum,
            np.logaddexp: E.logaddexp,
            np.log2: E.log2,
            np.log10: E.log10,
            np.hypot: E.hypot,
            np.less: E.less,
            np.less_equal: E.less_equal,
            np.greater: E.greater,
            np.greater_equal: E.greater_equal,
            np.equal: E.equal,
            np.not_equal: E.not_equal,
            np.logical_and: E.logical_and,
            np.logical_or: E.logical_or,
            np.logical_not: E.logical_not,
            np.matmul: N.matmul,
        }
    )
    ARRAY_FUNCTION_RULES.update(
        {
            np.where: E.where,
            np.clip: _clip,
            np.sum: A.total,
            np.mean: N_mean,
            np.prod: A.prod,
            np.max: A.amax,
            np.amax: A.amax,
            np.min: A.amin,
            np.amin: A.amin,
            np.dot: N.dot,
            np.vdot: N.vdot,
            np.matmul: N.matmul,
            np.outer: N.outer,
            np.linalg.norm: N.norm,
            np.transpose: A.transpose,
            np.reshape: A.reshape,
            np.ravel: N.ravel,
            np.squeeze: N.squeeze,
            np.expand_dims: N.expand_dims,
            np.concatenate: N.concatenate,
            np.stack: N.stack,
            np.hstack: N.hstack,
            np.vstack: N.vstack,
            np.zeros_like: N.zeros_like,
            np.ones_like: N.ones_like,
            np.full_like: N.full_like,
            np.broadcast_to: A.broadcast_to,
            np.trace: N.trace_of,
        }
    )
    HOOKS.update({"array": N.array, "broadcast_to": A.broadcast_to})


def N_mean(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    return A.mean(x, axis, keepdims)


def _install_array_methods() -> None:
    """NumPy's ndarray methods and attributes that make sense on traced arrays."""
    T = Tracer
    T.__getitem__ = N.getitem  # type: ignore[attr-defined]
    T.__matmul__ = N.matmul  # type: ignore[attr-defined]
    T.__rmatmul__ = lambda a, b: N.matmul(b, a)  # type: ignore[attr-defined]
    T.T = property(A.transpose)  # type: ignore[attr-defined]
    T.transpose = lambda self, *axes: A.transpose(self, axes[0] if len(axes) == 1 else (axes or None))  # type: ignore[attr-defined]
    T.reshape = lambda self, *shape: A.reshape(self, shape[0] if len(shape) == 1 else shape)  # type: ignore[attr-defined]
    T.sum = lambda self, axis=None, keepdims=False: A.total(self, axis, keepdims)  # type: ignore[attr-defined]
    T.mean = lambda self, axis=None, keepdims=False: A.mean(self, axis, keepdims)  # type: ignore[attr-defined]
    T.prod = lambda self, axis=None, keepdims=False: A.prod(self, axis, keepdims)  # type: ignore[attr-defined]
    T.max = lambda self, axis=None, keepdims=False: A.amax(self, axis, keepdims)  # type: ignore[attr-defined]
    T.min = lambda self, axis=None, keepdims=False: A.amin(self, axis, keepdims)  # type: ignore[attr-defined]
    T.dot = N.dot  # type: ignore[attr-defined]
    T.ravel = T.flatten = N.ravel  # type: ignore[attr-defined]
    T.squeeze = N.squeeze  # type: ignore[attr-defined]
    T.copy = lambda self: self  # type: ignore[attr-defined]  (values are immutable)
    T.clip = lambda self, lo=None, hi=None: _clip(self, lo, hi)  # type: ignore[attr-defined]


# math.* name -> function on tracers; every other math function on a tracer is
# reported as unsupported by dcompile.frontend.mathpatch.
MATH_RULES: dict[str, Callable[..., Any]] = {
    "exp": E.exp,
    "log": lambda x, base=None: E.log(x) if base is None else E.div(E.log(x), E.log(base)),
    "log1p": E.log1p,
    "expm1": E.expm1,
    "sqrt": E.sqrt,
    "sin": E.sin,
    "cos": E.cos,
    "tan": E.tan,
    "asin": E.arcsin,
    "acos": E.arccos,
    "atan": E.arctan,
    "atan2": E.arctan2,
    "sinh": E.sinh,
    "cosh": E.cosh,
    "tanh": E.tanh,
    "fabs": E.absolute,
    "pow": E.power,
    "hypot": E.hypot,
    "log2": E.log2,
    "log10": E.log10,
}


def supported() -> dict[str, list[str]]:
    """What tracing accepts on traced values, by kind (for users and error messages)."""
    return {
        "operators": ["+", "-", "*", "/", "**", "unary -", "abs", "< <= > >= == !=", "& | ~ (on comparisons)"],
        "numpy": sorted(f"np.{u.__name__}" for u in UFUNC_RULES),
        "math": sorted(f"math.{name}" for name in MATH_RULES),
        "arrays": [
            *sorted({f"np.{getattr(f, '__name__', str(f))}" for f in ARRAY_FUNCTION_RULES}),
            "x[int, slice, ..., None, int array]",
            "x.T, x.reshape, x.sum/mean/prod/max/min, x.dot, x.ravel, x.squeeze",
        ],
        "dcompile": ["dc.where", "dc.sigmoid", "dc.softplus", "dc.logsumexp", "dc.stop_gradient", "dc.array"],
    }
