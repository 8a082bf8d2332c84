"""``dc.least_squares`` and ``dc.curve_fit``: nonlinear least squares with compiled Jacobians.

SciPy's calling conventions (``scipy.optimize.least_squares`` and
``curve_fit``); the residual and its Jacobian are compiled by dcompile (the
Jacobian by forward mode, one column per parameter: least-squares problems
have far more residuals than parameters) and the Levenberg-Marquardt loop
(:mod:`dcompile.optimize.lm`) runs in numba, compiled once per data types
and cached on disk like the shared optimizer loops.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.api import Function, compiled_function
from dcompile.api import compile as compile_function
from dcompile.backend import notice
from dcompile.backend.cache import cache_dir
from dcompile.errors import DcompileError, SignatureError, user_traceback
from dcompile.ir.types import DType
from dcompile.optimize.box import parse_lsq_bounds
from dcompile.optimize.lm import LsqStatus
from dcompile.optimize.result import OptimizeResult

MESSAGES: dict[int, str] = {  # keyed by the plain codes too (an IntEnum member hashes as its int)
    LsqStatus.BAD_START: "The residuals are not finite at x0.",
    LsqStatus.MAXFEV: "The maximum number of function evaluations is exceeded.",
    LsqStatus.GTOL_OK: "`gtol` termination condition is satisfied.",
    LsqStatus.FTOL_OK: "`ftol` termination condition is satisfied.",
    LsqStatus.XTOL_OK: "`xtol` termination condition is satisfied.",
    LsqStatus.BOTH_OK: "Both `ftol` and `xtol` termination conditions are satisfied.",
}
# The first trust radius is _FACTOR * |D x0| (MINPACK's `factor`, 100 there). On NIST's set (both
# starts, benchmarks/bench_nist.py) 100 lets the first step of BoxBOD jump onto a plateau where the
# model is flat in one parameter (a "success" with no correct digit); 10 and 1 solve all 54, and 1
# with the fewest evaluations.
_FACTOR = 1.0
# (function, signature) -> (residual pointer, Jacobian pointer, the loop's compiled entry, m)
_LOOPS: dict[tuple[Any, ...], tuple[Any, Any, Any, int]] = {}


def least_squares(
    fun: Any,
    x0: Any,
    args: Sequence[Any] = (),
    *,
    method: str = "lm",
    ftol: float = 1e-10,
    xtol: float = 1e-10,
    gtol: float = 1e-10,
    max_nfev: int | None = None,
    x_scale: Any = None,
    bounds: Any = None,
) -> OptimizeResult:
    """Minimise ``0.5 * sum(fun(x, *args) ** 2)`` over the vector ``x`` from ``x0``.

    ``fun`` returns the residual vector; it is a dcompile function or a plain
    NumPy function (compiled here once per function object). Its Jacobian is
    derived and compiled by dcompile. ``method="lm"``: Levenberg-Marquardt
    with Moré's scaled trust region (MINPACK's ``lmder``), the step from a
    QR factorisation, never the normal equations; with ``bounds=(lb, ub)``
    (arrays or scalars; ``scipy.optimize.Bounds`` too) an active-set
    variant, which fixes the variables at a bound whose gradient points out of
    the box, steps on the others and projects into the box. ``method="trf"``:
    Branch, Coleman and Li's trust-region reflective method (SciPy's
    default), whose iterates stay strictly inside the box and whose steps
    reflect off the bounds they meet (:mod:`dcompile.optimize.trf`). ``x0``
    is projected into the box first; ``active_mask`` reports -1/+1 for
    variables at (for ``trf``: within a relative 1e-10 of) their lower/upper
    bound.

    Stopping (all relative, so a success means the same at any scale of the
    residual): ``gtol`` on the largest cosine between the residual and a
    column of the Jacobian (``trf``: scaled down by the distance to the bound
    the gradient points at), ``ftol`` on the relative reduction of the sum of
    squares, ``xtol`` on the step relative to the scaled ``x``;
    ``max_nfev`` (default ``1000 * (n + 1)`` residual evaluations). Defaults
    are tighter than SciPy's (1e-10 against 1e-8): a few more iterations, and
    the NIST reference problems' certified digits (see the benchmarks).

    Returns SciPy's fields: ``x``, ``cost`` (``0.5 |r|^2``), ``fun`` (the
    residuals), ``jac``, ``grad`` (``J' r``), ``optimality`` (``max |grad|``),
    ``active_mask``, ``nfev``, ``njev``, ``status`` (SciPy's codes: 1 gtol,
    2 ftol, 3 xtol, 4 ftol and xtol, 0 evaluation limit, -2 non-finite start),
    ``message``, ``success`` (status > 0); and ``covariance``, the estimated
    covariance of the parameters ``s^2 (J'J)^-1`` with ``s^2 = |r|^2 / (m -
    n)`` (from the SVD of ``J``; infinite where ``J`` is rank deficient, or
    when there are no more residuals than parameters), ``nit``,
    ``compile_seconds`` and ``solve_seconds``.
    """
    try:
        return _least_squares(fun, x0, args, method, ftol, xtol, gtol, max_nfev, x_scale, bounds)
    except DcompileError as exc:
        raise user_traceback(exc) from None


def _least_squares(  # noqa: PLR0917
    fun: Any,
    x0: Any,
    args: Sequence[Any],
    method: str,
    ftol: float,
    xtol: float,
    gtol: float,
    max_nfev: int | None,
    x_scale: Any,
    bounds: Any = None,
) -> OptimizeResult:
    if method not in {"lm", "trf"}:
        raise SignatureError(
            f"unknown method {method!r}; least_squares has method='lm' (Levenberg-Marquardt) and "
            "method='trf' (trust-region reflective)"
        )
    if x_scale is not None:
        raise SignatureError("x_scale is not needed: the method scales by the Jacobian's column norms")
    x = np.ascontiguousarray(np.asarray(x0, dtype=np.float64))
    if x.ndim != 1 or x.size == 0:
        raise SignatureError(f"x0 must be a non-empty 1-D array of parameters, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise SignatureError("x0 has non-finite entries (nan or inf).\nFix: start from a finite point.")
    for name, tol in (("ftol", ftol), ("xtol", xtol), ("gtol", gtol)):
        if not (tol >= 0.0 and math.isfinite(tol)):
            raise SignatureError(f"{name} must be a finite number >= 0, got {tol!r}")
    n = x.size
    nfev_limit = 1000 * (n + 1) if max_nfev is None else int(max_nfev)
    if nfev_limit < 1:
        raise SignatureError("max_nfev must be at least 1")
    box = parse_lsq_bounds(bounds, n) if bounds is not None else None
    if method == "trf" and box is None:
        box = (np.full(n, -np.inf), np.full(n, np.inf))
    target = fun if isinstance(fun, Function) else _compiled(fun)
    t0 = time.perf_counter()
    with notice.compiling(f"the residuals of {target.name} and their Jacobian for least_squares"):
        res_ptr, jac_ptr, entry, data, m = _loop(target, x, args, method, box)
    compile_s = time.perf_counter() - t0
    opts_f = np.array([ftol, xtol, gtol, _FACTOR], dtype=np.float64)
    opts_i = np.array([nfev_limit], dtype=np.int64)
    t0 = time.perf_counter()
    extra = () if box is None else box
    xs, r, J, nfev, njev, nit, status = entry(res_ptr, jac_ptr, x, data, opts_f, opts_i, *extra)
    solve_s = time.perf_counter() - t0
    grad = J.T @ r
    active = np.zeros(n, dtype=np.int64)
    if box is not None:  # trf stays strictly inside: a bound within a relative 1e-10 counts as active
        lo, hi = box
        with np.errstate(invalid="ignore"):
            active[np.isfinite(lo) & (xs - lo <= 1e-10 * np.maximum(1.0, np.abs(lo)))] = -1
            active[np.isfinite(hi) & (hi - xs <= 1e-10 * np.maximum(1.0, np.abs(hi)))] = 1
    return OptimizeResult(
        x=xs,
        cost=0.5 * float(np.dot(r, r)),
        fun=r,
        jac=J,
        grad=grad,
        optimality=float(np.max(np.abs(grad))) if grad.size else 0.0,
        active_mask=active,
        nfev=int(nfev),
        njev=int(njev),
        nit=int(nit),
        status=int(status),
        success=int(status) > LsqStatus.MAXFEV,
        message=MESSAGES[int(status)],
        covariance=covariance(J, r, m),
        method=method,
        compile_seconds=compile_s,
        solve_seconds=solve_s,
    )


def covariance(J: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    """``s^2 (J'J)^-1`` with ``s^2 = |r|^2 / (m - n)``, through the SVD of ``J`` (as ``curve_fit``).

    Singular values below ``eps * max(m, n) * s_max`` count as zero; a rank-deficient ``J``
    or ``m <= n`` gives infinities (the parameters are not determined by the data).
    """
    n = J.shape[1]
    if m <= n:
        return np.full((n, n), np.inf)
    _, s, vt = np.linalg.svd(J, full_matrices=False)
    cutoff = np.finfo(np.float64).eps * max(J.shape) * (s[0] if s.size else 0.0)
    if s.size < n or np.any(s <= cutoff):
        return np.full((n, n), np.inf)
    inv = (vt.T / s**2) @ vt
    return inv * (float(np.dot(r, r)) / (m - n))


def _compiled(fun: Any) -> Function:
    if not callable(fun):
        raise SignatureError(f"least_squares needs a function of (x, *args), got {type(fun).__name__}")
    return compiled_function(fun)


def _loop(
    fun: Function,
    x: np.ndarray,
    args: Sequence[Any],
    method: str,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Any, Any, Any, tuple[Any, ...], int]:
    """The residual and Jacobian pointers, the compiled entry of ``method`` (LM's box variant with
    ``box``), the data arguments and ``m``."""
    from dcompile.optimize import fptr
    from dcompile.optimize.driver import shared_loops

    if fun.backend != "numba":
        raise SignatureError(f"{fun.name} runs on the {fun.backend!r} backend; least_squares runs in numba")
    sig, conv = fun.signature((x, *args))
    if sig[0].dtype is not DType.F64 or sig[0].rank != 1:
        raise SignatureError(f"the first argument of {fun.name} is what least_squares varies: a float vector")
    data = tuple(conv[1:])
    key = (fun, fun.generation, sig, method, box is not None)
    hit = _LOOPS.get(key)
    if hit is None:
        prog = fun.program(sig, "f", tuple(range(len(sig))))
        out = prog.graph.outputs[0].type
        if out.rank != 1 or out.dtype is not DType.F64:
            raise SignatureError(
                f"{fun.name} must return a 1-D vector of residuals for least_squares, got {out}.\n"
                "Fix: return the residual vector (ravel it); for a scalar objective use dc.minimize."
            )
        res = fptr.pointer(fun.compiled(sig, "f", tuple(range(len(sig)))).njit, (x, *data))
        jac = fptr.pointer(fun.compiled(sig, "jacobian", (0,)).njit, (x, *data))
        if res is None or jac is None:
            raise SignatureError("least_squares needs dcompile's shared loops, which this numba cannot build")
        loops = shared_loops(cache_dir())
        opts = (np.zeros(4), np.zeros(1, dtype=np.int64))
        loop = loops.lm_run if box is None else loops.trf_run if method == "trf" else loops.lm_box_run
        entry = fptr.entry_or_loop(loop, (res[0], jac[0]), (res[1], jac[1]), (x, data, *opts, *(box or ())))
        if entry is None:
            raise SignatureError("least_squares needs dcompile's shared loops, which this numba cannot build")
        hit = _LOOPS[key] = (res[0], jac[0], entry, out.shape[0])
    res_ptr, jac_ptr, entry, m = hit
    return res_ptr, jac_ptr, entry, data, m


# (model, number of parameters, weighted) -> the residual function of curve_fit
_MODELS: dict[tuple[Any, int, bool], Function] = {}


def curve_fit(
    model: Callable[..., Any],
    xdata: Any,
    ydata: Any,
    p0: Any,
    *,
    sigma: Any = None,
    absolute_sigma: bool = False,
    full_output: bool = False,
    **kwargs: Any,
) -> Any:
    """Fit ``ydata ~ model(xdata, *params)`` from ``p0``: ``(popt, pcov)``, as ``scipy.optimize.curve_fit``.

    ``model`` is traced by dcompile (NumPy code of ``xdata`` and the scalar
    parameters). ``sigma``: the standard deviations of ``ydata`` (residuals
    are divided by them); ``pcov`` is scaled by the reduced chi-square unless
    ``absolute_sigma``. ``kwargs`` go to :func:`least_squares` (``ftol``,
    ``xtol``, ``gtol``, ``max_nfev``). With ``full_output`` the least-squares
    result comes third. Unlike SciPy, a fit that did not converge is not an
    exception: check ``full_output``'s ``success`` when it matters.
    """
    p = np.asarray(p0, dtype=np.float64).ravel()
    x = np.asarray(xdata, dtype=np.float64)
    y = np.ascontiguousarray(np.asarray(ydata, dtype=np.float64).ravel())
    weighted = sigma is not None
    w = np.ones_like(y) if sigma is None else 1.0 / np.broadcast_to(np.asarray(sigma, dtype=np.float64), y.shape)
    residual = _residual_of(model, p.size, weighted)
    data = (np.ascontiguousarray(x), y, np.ascontiguousarray(w)) if weighted else (np.ascontiguousarray(x), y)
    res = least_squares(residual, p, args=data, **kwargs)
    pcov = res.covariance
    if absolute_sigma and np.isfinite(pcov).all():
        dof = y.size - p.size
        pcov = pcov / (2.0 * res.cost / dof)  # undo the reduced chi-square scaling
    return (res.x, pcov, res) if full_output else (res.x, pcov)


def _residual_of(model: Callable[..., Any], n: int, weighted: bool) -> Function:
    """The compiled residual ``(model(x, *p) - y) [* w]`` of a model with ``n`` parameters."""
    key = (model, n, weighted)
    found = _MODELS.get(key)
    if found is not None:
        return found
    name = getattr(model, "__name__", "model")

    if weighted:

        def residual(p: Any, x: Any, y: Any, w: Any) -> Any:
            return (model(x, *[p[i] for i in range(n)]) - y) * w

    else:

        def residual(p: Any, x: Any, y: Any) -> Any:  # type: ignore[misc]
            return model(x, *[p[i] for i in range(n)]) - y

    residual.__name__ = f"{name}_residuals"
    found = _MODELS[key] = compile_function(residual, name=residual.__name__)
    return found
