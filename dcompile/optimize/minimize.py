"""``dc.minimize``: SciPy's calling convention, iteration loops in machine code."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from dcompile.api import Function
from dcompile.errors import SignatureError
from dcompile.ir.types import DType
from dcompile.optimize.result import MESSAGES, SUCCESS, OptimizeResult

METHODS = ("lbfgs", "bfgs", "newton", "newton-cg", "gd")
# (loop, objective dispatcher, signature) already compiled in this process: the
# lookup numba would do again on every call costs more than a small solve.
_COMPILED: set[tuple[Any, ...]] = set()
LINE_SEARCHES = {"armijo": 1, "wolfe": 2}
DEFAULTS: dict[str, Any] = {
    "gtol": 1e-6,
    "ftol": 1e-15,
    "xtol": 1e-15,
    "maxiter": 10_000,
    "maxfev": 100_000,
    "m": 10,
    "c1": 1e-4,
    "c2": 0.9,
}


def _start(x0: Any) -> np.ndarray:
    x = np.asarray(x0, dtype=np.float64)
    if x.ndim != 1:
        raise SignatureError(f"x0 must be a 1-D array of parameters, got shape {x.shape}.\nFix: pass x0.ravel().")
    if not np.all(np.isfinite(x)):
        raise SignatureError("x0 has non-finite entries (nan or inf).\nFix: start from a finite point.")
    return np.ascontiguousarray(x)


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = dict(DEFAULTS)
    unknown = set(options or {}) - set(opts)
    if unknown:
        raise SignatureError(f"unknown options {sorted(unknown)}; known: {', '.join(sorted(opts))}")
    opts.update(options or {})
    return opts


def _line_search(method: str, line_search: str | None, step: float | None) -> tuple[int, str]:
    """The line-search code for the loops and its name (strong Wolfe by default, Armijo for gd)."""
    from dcompile.optimize.methods import FIXED

    if step is not None:
        return FIXED, "fixed"
    name = line_search or ("armijo" if method == "gd" else "wolfe")
    if name not in LINE_SEARCHES:
        raise SignatureError(f"unknown line_search {name!r}; choose armijo or wolfe (or give step=)")
    return LINE_SEARCHES[name], name


def _loop(
    fun: Function,
    sig: Any,
    *,
    method: str,
    kind: int,
    step: float | None,
    opts: dict[str, Any],
    x: np.ndarray,
    data: tuple[Any, ...],
    hist_f: np.ndarray,
    hist_g: np.ndarray,
) -> tuple[Any, tuple[Any, ...]]:
    """The compiled loop of ``method`` and its arguments (types fixed: one compile per objective)."""
    from dcompile.optimize import methods as M

    vg = fun.compiled(sig, "value_and_grad", (0,)).fn  # traced and compiled once per signature
    tol = [float(opts[k]) for k in ("gtol", "ftol", "xtol")]
    limits = [int(opts[k]) for k in ("maxiter", "maxfev")]
    common = (*tol, *limits, float(opts["c1"]), float(opts["c2"]), hist_f, hist_g)
    if method == "lbfgs":
        return M.lbfgs, (vg, data, x, int(opts["m"]), kind, *common)
    if method == "bfgs":
        return M.bfgs, (vg, data, x, kind, *common)
    if method == "newton":
        return M.newton, (vg, fun.compiled(sig, "hessian", (0,)).fn, data, x, kind, *common)
    if method == "newton-cg":
        return M.newton_cg, (vg, fun.compiled(sig, "hvp", (0,)).fn, data, x, kind, *common)
    return M.gradient_descent, (vg, data, x, kind, float(step or 0.0), *common)


def minimize(
    fun: Function,
    x0: Any,
    args: Sequence[Any] = (),
    *,
    method: str = "lbfgs",
    line_search: str | None = None,
    step: float | None = None,
    options: dict[str, Any] | None = None,
) -> OptimizeResult:
    """Minimise ``fun(x, *args)`` over the vector ``x`` from ``x0``.

    ``method``: ``"lbfgs"`` (default), ``"bfgs"`` (dense inverse-Hessian
    updates), ``"newton"`` (the exact Hessian, shifted by a multiple of the
    identity where it is not positive definite), ``"newton-cg"`` (truncated
    CG with Hessian-vector products, for large n) — all with a strong Wolfe
    line search by default — or ``"gd"`` (gradient descent with
    ``line_search="armijo"`` (default) or ``"wolfe"``, or a fixed ``step``). ``options``: ``gtol`` (success when
    ``max |g_i| <= gtol``), ``ftol``/``xtol`` (stall detection), ``maxiter``,
    ``maxfev``, ``m`` (L-BFGS history), ``c1``/``c2`` (line-search constants).
    The iteration loop runs in numba; ``compile_seconds`` (first use only)
    is reported apart from ``solve_seconds``.
    """
    if not isinstance(fun, Function):
        raise SignatureError("dc.minimize takes a function made by @dc.compile (or dc.from_sympy).")
    if method not in METHODS:
        raise SignatureError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    opts = _options(options)
    kind, line_search = _line_search(method, line_search, step)
    x = _start(x0)
    start = time.perf_counter()
    sig, conv_all = fun.signature((x, *args))  # a SignatureError names a bad argument
    if sig[0].dtype is not DType.F64 or sig[0].rank != 1:
        raise SignatureError(f"the first argument of {fun.name} is what dc.minimize varies: x0 must be a float vector")
    hist_f = np.full(opts["maxiter"] + 1, np.nan)
    hist_g = np.full(opts["maxiter"] + 1, np.nan)
    loop, call = _loop(
        fun,
        sig,
        method=method,
        kind=kind,
        step=step,
        opts=opts,
        x=x,
        data=tuple(conv_all[1:]),
        hist_f=hist_f,
        hist_g=hist_g,
    )
    key = (loop, call[0], sig)
    if key not in _COMPILED:  # compile the loop for this objective once per process, timed apart
        import numba

        loop.compile(tuple(numba.typeof(a) for a in call))
        _COMPILED.add(key)
    compile_s = time.perf_counter() - start
    t0 = time.perf_counter()
    out = loop(*call)
    solve_s = time.perf_counter() - t0
    # the Newton methods also count Hessian (or Hessian-vector) evaluations
    xs, f, g, nit, nfev, nhev, status = out if len(out) == 7 else (*out[:5], 0, out[5])
    return OptimizeResult(
        x=xs,
        fun=float(f),
        jac=g,
        nit=int(nit),
        nfev=int(nfev),
        njev=int(nfev),
        nhev=int(nhev),
        status=int(status),
        success=status == SUCCESS,
        message=MESSAGES[int(status)],
        history={"f": hist_f[: nit + 1].copy(), "gnorm": hist_g[: nit + 1].copy()},
        method=method if step is None else f"{method} (fixed step)",
        line_search=line_search,
        compile_seconds=compile_s,
        solve_seconds=solve_s,
    )
