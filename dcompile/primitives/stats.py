"""``scipy.stats`` distributions' densities and distribution functions on tracers.

Likelihoods are written with ``scipy.stats.norm.logpdf(y, loc=mu, scale=s)``
as often as with the formula; these are the formulas, as compositions of
primitives (``gammaln``, ``log_ndtr``, ``xlogy``, ...), so every derivative
mode works, in the parameters as well as in ``x``. Each method takes
SciPy's arguments (shape parameters, then ``loc`` and ``scale``); a frozen
distribution (``scipy.stats.t(df, loc, scale).logpdf(x)``) works the same
way through :mod:`dcompile.frontend.namespace`. Discrete ``logpmf`` methods
take ``k`` as data (no derivative in ``k``) and return ``-inf`` outside the
support, as SciPy does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives import special as SP
from dcompile.primitives.spellings import implements

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)


def _std(x: Any, loc: Any, scale: Any) -> Any:
    return E.div(E.sub(x, loc), scale)


def _continuous(name: str, logpdf: Callable[..., Any], cdf: Callable[..., Any] | None = None,
                logcdf: Callable[..., Any] | None = None, sf: Callable[..., Any] | None = None,
                logsf: Callable[..., Any] | None = None, ppf: Callable[..., Any] | None = None,
                nshape: int = 0) -> None:  # fmt: skip
    """Register a location-scale family's methods; ``logpdf(z, *shape)`` is the standard density's log."""

    def split(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, tuple[Any, ...], Any, Any]:
        """SciPy's argument order: x, the shape parameters, loc, scale (any of them by keyword)."""
        x, rest = args[0], list(args[1:])
        names = _SHAPE_NAMES.get(name, ())
        shape = tuple(rest.pop(0) if rest else kwargs.pop(names[k]) for k in range(nshape))
        loc = kwargs.pop("loc") if "loc" in kwargs else rest.pop(0) if rest else 0.0
        scale = kwargs.pop("scale") if "scale" in kwargs else rest.pop(0) if rest else 1.0
        if kwargs or rest:
            raise TypeError(f"scipy.stats.{name}: unexpected arguments {sorted(kwargs) or rest}")
        return x, shape, loc, scale

    def method(fn: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def apply(*args: Any, **kwargs: Any) -> Any:
            x, shape, loc, scale = split(args, dict(kwargs))
            z = _std(x, loc, scale)
            if kind == "logpdf":
                return E.sub(fn(z, *shape), E.log(scale))
            if kind == "pdf":
                return E.div(E.exp(fn(z, *shape)), scale)
            if kind == "ppf":
                return E.add(loc, E.mul(scale, fn(x, *shape)))
            return fn(z, *shape)

        apply.__name__ = f"{name}_{kind}"
        return apply

    implements(f"scipy.stats.{name}.logpdf")(method(logpdf, "logpdf"))
    implements(f"scipy.stats.{name}.pdf")(method(logpdf, "pdf"))
    for kind, fn in (("cdf", cdf), ("logcdf", logcdf), ("sf", sf), ("logsf", logsf), ("ppf", ppf)):
        if fn is not None:
            implements(f"scipy.stats.{name}.{kind}")(method(fn, kind))


_SHAPE_NAMES = {"t": ("df",), "gamma": ("a",), "beta": ("a", "b"), "lognorm": ("s",), "weibull_min": ("c",)}

# -- continuous ----------------------------------------------------------------------------------------------

_continuous(
    "norm",
    lambda z: E.sub(E.mul(-0.5, E.integer_pow(z, 2)), 0.5 * _LOG_2PI),
    cdf=SP.ndtr,
    logcdf=SP.log_ndtr,
    sf=lambda z: SP.ndtr(E.neg(z)),
    logsf=lambda z: SP.log_ndtr(E.neg(z)),
    ppf=SP.ndtri,
)


def _t_logpdf(z: Any, df: Any) -> Any:
    half = E.mul(0.5, E.add(df, 1.0))
    norm = E.sub(E.sub(SP.gammaln(half), SP.gammaln(E.mul(0.5, df))), E.mul(0.5, E.add(E.log(df), _LOG_PI)))
    return E.sub(norm, E.mul(half, E.log1p(E.div(E.integer_pow(z, 2), df))))


_continuous("t", _t_logpdf, nshape=1)
_continuous(
    "laplace",
    lambda z: E.sub(E.neg(E.absolute(z)), math.log(2.0)),
    cdf=lambda z: E.where(E.less(z, 0.0), E.mul(0.5, E.exp(z)), E.sub(1.0, E.mul(0.5, E.exp(E.neg(z))))),
)
_continuous(
    "cauchy",
    lambda z: E.neg(E.add(_LOG_PI, E.log1p(E.integer_pow(z, 2)))),
    cdf=lambda z: E.add(0.5, E.div(E.arctan(z), math.pi)),
)
_continuous(
    "logistic",
    lambda z: E.sub(E.neg(z), E.mul(2.0, E.softplus(E.neg(z)))),
    cdf=E.sigmoid,
    logcdf=lambda z: E.neg(E.softplus(E.neg(z))),
)
_continuous(
    "expon",
    lambda z: E.where(E.less(z, 0.0), -math.inf, E.neg(z)),
    cdf=lambda z: E.where(E.less(z, 0.0), 0.0, E.neg(E.expm1(E.neg(z)))),
    sf=lambda z: E.where(E.less(z, 0.0), 1.0, E.exp(E.neg(z))),
)


def _gamma_logpdf(z: Any, a: Any) -> Any:
    return E.sub(E.sub(SP.xlogy(E.sub(a, 1.0), z), z), SP.gammaln(a))


_continuous("gamma", _gamma_logpdf, nshape=1)


def _beta_logpdf(z: Any, a: Any, b: Any) -> Any:
    return E.sub(E.add(SP.xlogy(E.sub(a, 1.0), z), SP.xlog1py(E.sub(b, 1.0), E.neg(z))), SP.betaln(a, b))


_continuous("beta", _beta_logpdf, nshape=2)


def _lognorm_logpdf(z: Any, s: Any) -> Any:
    lz = E.log(z)
    return E.sub(E.sub(E.sub(E.mul(-0.5, E.integer_pow(E.div(lz, s), 2)), E.log(s)), lz), 0.5 * _LOG_2PI)


_continuous("lognorm", _lognorm_logpdf, nshape=1)

# -- discrete --------------------------------------------------------------------------------------------------


def _discrete(name: str, logpmf: Callable[..., Any], nshape: int) -> None:
    def logpmf_method(k: Any, *args: Any, loc: Any = 0.0, **kwargs: Any) -> Any:
        shape = list(args[:nshape]) + [
            kwargs.pop(n) for n in _DISCRETE_SHAPES[name][len(args[:nshape]) :] if n in kwargs
        ]
        if len(args) > nshape:
            loc = args[nshape]
        kk = E.sub(k, loc)
        out = logpmf(kk, *shape)
        return E.where(E.logical_or(E.less(kk, 0.0), E.not_equal(E.floor(kk), kk)), -math.inf, out)

    def pmf_method(k: Any, *args: Any, **kwargs: Any) -> Any:
        return E.exp(logpmf_method(k, *args, **kwargs))

    implements(f"scipy.stats.{name}.logpmf")(logpmf_method)
    implements(f"scipy.stats.{name}.pmf")(pmf_method)


_DISCRETE_SHAPES = {"poisson": ("mu",), "binom": ("n", "p"), "nbinom": ("n", "p"), "bernoulli": ("p",),
                    "geom": ("p",)}  # fmt: skip

_discrete("poisson", lambda k, mu: E.sub(E.sub(SP.xlogy(k, mu), mu), SP.gammaln(E.add(k, 1.0))), 1)


def _log_choose(n: Any, k: Any) -> Any:
    return E.sub(SP.gammaln(E.add(n, 1.0)), E.add(SP.gammaln(E.add(k, 1.0)), SP.gammaln(E.add(E.sub(n, k), 1.0))))


_discrete(
    "binom",
    lambda k, n, p: E.add(E.add(_log_choose(n, k), SP.xlogy(k, p)), SP.xlog1py(E.sub(n, k), E.neg(p))),
    2,
)
_discrete(
    "nbinom",
    lambda k, n, p: E.add(
        E.add(E.sub(SP.gammaln(E.add(k, n)), E.add(SP.gammaln(n), SP.gammaln(E.add(k, 1.0)))), SP.xlogy(n, p)),
        SP.xlog1py(k, E.neg(p)),
    ),
    2,
)
_discrete("bernoulli", lambda k, p: E.add(SP.xlogy(k, p), SP.xlog1py(E.sub(1.0, k), E.neg(p))), 1)
_discrete("geom", lambda k, p: E.add(SP.xlog1py(E.sub(k, 1.0), E.neg(p)), E.log(p)), 1)

# -- multivariate normal -------------------------------------------------------------------------------------------


@implements("scipy.stats.multivariate_normal.logpdf")
def mvn_logpdf(x: Any, mean: Any = None, cov: Any = 1.0, allow_singular: bool = False) -> Any:
    """The log density through a Cholesky factor: ``-(d log 2 pi + log|C| + |L^-1 (x - m)|^2) / 2``."""
    from dcompile.ir.tracer import Tracer, active_builder, lift
    from dcompile.primitives import linalg as LA

    b = next((v.builder for v in (x, mean, cov) if isinstance(v, Tracer)), None) or active_builder()
    assert b is not None, "called while tracing"
    xt = lift(b, x)
    d = xt.shape[-1]
    c = lift(b, cov)
    if c.ndim == 0:
        c = E.mul(c, LA._eye_like(A.broadcast_to(lift(b, 0.0), (d, d))))
    diff = xt if mean is None else E.sub(xt, mean)
    L = LA.cholesky(c)
    if diff.ndim == 1:
        z = LA.trisolve(L, diff, lower=True)
        quad = A.total(E.integer_pow(z, 2), None, False)
    else:  # rows of x: solve for all at once
        z = LA.trisolve(L, LA.mT(diff), lower=True)
        quad = A.total(E.integer_pow(z, 2), 0, False)
    logdet = E.mul(2.0, A.total(E.log(LA._diagonal(L)), -1, False))
    return E.mul(-0.5, E.add(E.add(d * _LOG_2PI, logdet), quad))


@implements("scipy.stats.multivariate_normal.pdf")
def mvn_pdf(x: Any, mean: Any = None, cov: Any = 1.0, allow_singular: bool = False) -> Any:
    return E.exp(mvn_logpdf(x, mean, cov, allow_singular))
