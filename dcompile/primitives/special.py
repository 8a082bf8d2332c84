"""Special functions: ``scipy.special`` and ``math``'s, with numerically careful derivatives.

Each is an elementwise primitive declared once (:func:`~dcompile.primitives.elementwise._define`):
its SciPy and ``math`` spellings, its SymPy form, and one derivative rule per
argument. The emitted code calls :mod:`dcompile.runtime.special` (``_dcs``):
SciPy's own ufunc in Python, SciPy's C function under numba, so both
backends compute the very numbers SciPy does.

Derivatives are written to stay finite where the function is
(``xlogy(0, y)`` has gradient ``(log y, 0)``, the logarithm of the normal
CDF differentiates without dividing underflowed numbers), and each is again
made of primitives, so Hessians work: ``gammaln'' = polygamma(1, .)``.
Functions that are compositions (``logsumexp``, ``softmax``, ``betaln`` for
its derivative, ``multigammaln``) need no rules of their own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.primitive import PREC_ATOM
from dcompile.ir.tracer import Tracer, bind, lift
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives.elementwise import _call, _define, add, div, exp, log, mul, neg, sub, where
from dcompile.primitives.spellings import implements

IMPORT = ("from dcompile.runtime import special as _dcs",)
_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _scipy(name: str) -> Any:
    """The Python implementation generated code calls (SciPy's ufunc), imported on first use."""

    def impl(*args: Any) -> Any:
        from dcompile.runtime import special

        with np.errstate(all="ignore"):
            return getattr(special, name)(*args)

    return impl


def _special(name: str, nargs_sympy: Any, *, spell: tuple[str, ...], d: tuple[Any, ...], runtime: str | None = None):  # type: ignore[no-untyped-def]
    return _define(
        name,
        _scipy(runtime or name),
        _call(f"_dcs.{runtime or name}"),
        nargs_sympy,
        spell=spell,
        d=d,
        imports=IMPORT,
    )


def gammaln(x: Any) -> Any:
    return bind(gammaln_p, x)


def digamma(x: Any) -> Any:
    return bind(digamma_p, x)


@implements("scipy.special.polygamma")
def polygamma(n: Any, x: Any) -> Any:
    """``scipy.special.polygamma(n, x)`` for a static integer order ``n``."""
    known = n.static() if isinstance(n, Tracer) else np.asarray(n)
    if known is None or np.ndim(known) or float(known) != int(known) or int(known) < 0:
        raise trace_error("polygamma needs a non-negative integer order n known while tracing.", "pass n as an int",
                          UnsupportedError)  # fmt: skip
    k = int(known)
    if k == 0:
        return digamma(x)
    return bind(polygamma_p, x, n=k)


def erf(x: Any) -> Any:
    return bind(erf_p, x)


def erfc(x: Any) -> Any:
    return bind(erfc_p, x)


def ndtr(x: Any) -> Any:
    return bind(ndtr_p, x)


def log_ndtr(x: Any) -> Any:
    return bind(log_ndtr_p, x)


def ndtri(p: Any) -> Any:
    return bind(ndtri_p, p)


def xlogy(x: Any, y: Any) -> Any:
    return bind(xlogy_p, x, y)


def xlog1py(x: Any, y: Any) -> Any:
    return bind(xlog1py_p, x, y)


def betaln(a: Any, b: Any) -> Any:
    return bind(betaln_p, a, b)


def _gauss(x: Any) -> Any:
    """``2 / sqrt(pi) * exp(-x**2)``: the derivative of erf."""
    return mul(2.0 / _SQRT_PI, exp(neg(E.integer_pow(x, 2))))


def _phi(x: Any) -> Any:
    """The standard normal density."""
    return div(exp(mul(-0.5, E.integer_pow(x, 2))), _SQRT_2PI)


gammaln_p = _special(
    "gammaln", "loggamma", spell=("scipy.special.gammaln", "math.lgamma"), d=(lambda t, ans, x: mul(t, digamma(x)),)
)
digamma_p = _special(
    "digamma",
    "digamma",
    spell=("scipy.special.digamma", "scipy.special.psi"),
    d=(lambda t, ans, x: mul(t, polygamma(1, x)),),
    runtime="psi",
)
polygamma_p = _define(
    "polygamma",
    lambda x, *, n: _scipy("polygamma")(n, x),
    lambda args, params, types: (f"_dcs.polygamma({params['n']}, {args[0][0]})", PREC_ATOM),
    lambda x, *, n: _sympy().polygamma(n, x),
    d=(lambda t, ans, x, *, n: mul(t, polygamma(n + 1, x)),),
    imports=IMPORT,
)
gamma_p = _special(
    "gamma", "gamma", spell=("scipy.special.gamma", "math.gamma"), d=(lambda t, ans, x: mul(t, mul(ans, digamma(x))),)
)
erf_p = _special("erf", "erf", spell=("scipy.special.erf", "math.erf"), d=(lambda t, ans, x: mul(t, _gauss(x)),))
erfc_p = _special(
    "erfc", "erfc", spell=("scipy.special.erfc", "math.erfc"), d=(lambda t, ans, x: neg(mul(t, _gauss(x))),)
)
erfinv_p = _special(
    "erfinv",
    "erfinv",
    spell=("scipy.special.erfinv",),
    d=(lambda t, ans, x: mul(t, mul(_SQRT_PI / 2.0, exp(E.integer_pow(ans, 2)))),),
)
erfcinv_p = _special(
    "erfcinv",
    "erfcinv",
    spell=("scipy.special.erfcinv",),
    d=(lambda t, ans, x: neg(mul(t, mul(_SQRT_PI / 2.0, exp(E.integer_pow(ans, 2))))),),
)
# erfcx(x) = exp(x**2) erfc(x): derivative 2 x erfcx(x) - 2 / sqrt(pi), with no overflow for large x.
erfcx_p = _special(
    "erfcx",
    lambda x: _sympy().exp(x**2) * _sympy().erfc(x),
    spell=("scipy.special.erfcx",),
    d=(lambda t, ans, x: mul(t, sub(mul(mul(2.0, x), ans), 2.0 / _SQRT_PI)),),
)
ndtr_p = _special(
    "ndtr",
    lambda x: (1 + _sympy().erf(x / _sympy().sqrt(2))) / 2,
    spell=("scipy.special.ndtr",),
    d=(lambda t, ans, x: mul(t, _phi(x)),),
)
ndtri_p = _special(
    "ndtri",
    lambda p: _sympy().sqrt(2) * _sympy().erfinv(2 * p - 1),
    spell=("scipy.special.ndtri",),
    d=(lambda t, ans, p: mul(t, mul(_SQRT_2PI, exp(mul(0.5, E.integer_pow(ans, 2))))),),
)
# d log Phi(x) = phi(x) / Phi(x) = exp(-x**2 / 2 - log Phi(x)) / sqrt(2 pi): no underflow for x << 0.
log_ndtr_p = _special(
    "log_ndtr",
    lambda x: _sympy().log((1 + _sympy().erf(x / _sympy().sqrt(2))) / 2),
    spell=("scipy.special.log_ndtr",),
    d=(lambda t, ans, x: mul(t, div(exp(sub(mul(-0.5, E.integer_pow(x, 2)), ans)), _SQRT_2PI)),),
)
logit_p = _special(
    "logit",
    lambda p: _sympy().log(p / (1 - p)),
    spell=("scipy.special.logit",),
    d=(lambda t, ans, p: div(t, mul(p, sub(1.0, p))),),
)
# x log y, 0 where x == 0 (whatever y): the derivative in x is log y (0 where x == y == 0), in y x / y (0 at x == 0).
xlogy_p = _special(
    "xlogy",
    lambda x, y: x * _sympy().log(y),
    spell=("scipy.special.xlogy",),
    d=(
        lambda t, ans, x, y: mul(t, where(E.logical_and(E.equal(x, 0.0), E.equal(y, 0.0)), 0.0, log(y))),
        lambda t, ans, x, y: where(E.equal(x, 0.0), 0.0, div(mul(t, x), y)),
    ),
)
xlog1py_p = _special(
    "xlog1py",
    lambda x, y: x * _sympy().log(1 + y),
    spell=("scipy.special.xlog1py",),
    d=(
        lambda t, ans, x, y: mul(t, where(E.logical_and(E.equal(x, 0.0), E.equal(y, -1.0)), 0.0, E.log1p(y))),
        lambda t, ans, x, y: where(E.equal(x, 0.0), 0.0, div(mul(t, x), add(1.0, y))),
    ),
)
betaln_p = _special(
    "betaln",
    lambda a, b: _sympy().loggamma(a) + _sympy().loggamma(b) - _sympy().loggamma(a + b),
    spell=("scipy.special.betaln",),
    d=(
        lambda t, ans, a, b: mul(t, sub(digamma(a), digamma(add(a, b)))),
        lambda t, ans, a, b: mul(t, sub(digamma(b), digamma(add(a, b)))),
    ),
)
entr_p = _special(
    "entr",
    lambda x: -x * _sympy().log(x),
    spell=("scipy.special.entr",),
    d=(lambda t, ans, x: neg(mul(t, add(log(x), 1.0))),),
)
rel_entr_p = _special(
    "rel_entr",
    lambda x, y: x * _sympy().log(x / y),
    spell=("scipy.special.rel_entr",),
    d=(
        lambda t, ans, x, y: mul(t, where(E.equal(x, 0.0), 0.0, add(log(div(x, y)), 1.0))),
        lambda t, ans, x, y: neg(mul(t, div(x, y))),
    ),
)
kl_div_p = _special(
    "kl_div",
    lambda x, y: x * _sympy().log(x / y) - x + y,
    spell=("scipy.special.kl_div",),
    d=(
        lambda t, ans, x, y: mul(t, where(E.equal(x, 0.0), 0.0, log(div(x, y)))),
        lambda t, ans, x, y: mul(t, sub(1.0, div(x, y))),
    ),
)


def _sympy() -> Any:
    import sympy

    return sympy


# -- compositions --------------------------------------------------------------------------------------


@implements("scipy.special.expit")
def expit(x: Any) -> Any:
    return E.sigmoid(x)


@implements("scipy.special.log_expit")
def log_expit(x: Any) -> Any:
    """``log(expit(x)) = -softplus(-x)``: no overflow either way."""
    return neg(E.softplus(neg(x)))


@implements("scipy.special.beta")
def beta(a: Any, b: Any) -> Any:
    return exp(bind(betaln_p, a, b))


@implements("scipy.special.multigammaln")
def multigammaln(a: Any, d: int) -> Any:
    """The log multivariate gamma function: ``d(d-1)/4 log(pi) + sum_j gammaln(a + (1 - j) / 2)``."""
    d = int(d)
    out: Any = d * (d - 1) / 4.0 * math.log(math.pi)
    for j in range(1, d + 1):
        out = add(out, gammaln(add(a, (1.0 - j) / 2.0)))
    return out


@implements("scipy.special.logsumexp")
def logsumexp_scipy(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """``scipy.special.logsumexp`` with weights ``b`` (non-negative here) and ``axis``."""
    if return_sign:
        raise trace_error("logsumexp with return_sign=True.", "use return_sign=False (weights >= 0)", UnsupportedError)
    return logsumexp(a, axis=axis, keepdims=keepdims, b=b)


@implements("scipy.special.softmax")
def softmax(x: Any, axis: Any = None) -> Any:
    """``exp(x - logsumexp(x))`` over ``axis``."""
    return exp(sub(x, logsumexp(x, axis=axis, keepdims=True)))


@implements("scipy.special.log_softmax")
def log_softmax(x: Any, axis: Any = None) -> Any:
    return sub(x, logsumexp(x, axis=axis, keepdims=True))


def logsumexp(*xs: Any, axis: Any = None, keepdims: bool = False, b: Any = None) -> Any:
    """``log(sum(exp(x)))`` without overflow: of several scalars, or of an array over ``axis``.

    The shift by the maximum is exact and only avoids overflow, so it is a
    constant for differentiation (``stop_gradient``); the derivative is the
    softmax. ``b`` weights the terms (``log(sum(b exp(x)))``, SciPy's form).
    """
    from dcompile.primitives.numpy_api import _builder

    if len(xs) == 1 and isinstance(xs[0], (np.ndarray, list, tuple)) and _builder(xs[0]) is None and b is None:
        data = np.asarray(xs[0], dtype=np.float64)  # plain NumPy, outside tracing
        top = np.max(data, axis=axis, keepdims=True)
        total = np.log(np.sum(np.exp(data - top), axis=axis, keepdims=True)) + top
        return total if keepdims else np.squeeze(total, axis=axis)
    if len(xs) == 1 and isinstance(xs[0], Tracer) and xs[0].ndim > 0:
        x = xs[0]
        m = A.stop_gradient(A.amax(x, axis, keepdims=True))
        m = where(E.isfinite(m), m, 0.0)  # an all -inf row: log(0) = -inf, not nan
        terms = exp(sub(x, m))
        if b is not None:
            terms = mul(terms, b)
        s = A.total(terms, axis, keepdims=True)
        out = add(log(s), m)
        if not keepdims:
            axes = A.axes_of(x, axis)
            out = A.reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
        return out
    if b is not None:
        raise trace_error("logsumexp weights b need an array argument.", "pass an array", UnsupportedError)
    return E.logsumexp(*xs)


def _lift(x: Any, like: Any) -> Any:
    return lift(like.builder, x) if isinstance(like, Tracer) else x
