"""Optimizer iteration loops, compiled with numba in nopython mode, resumable.

A run is a *state* plus an *iterate* function per method:

``start(vg, args, x0, opts_f, opts_i, method)``
    evaluates the start and returns the :class:`State`
    ``(x, g, fs, ist, W, w, hist_f, hist_g)``: the current point and
    gradient, the float records ``fs`` (indexed by :class:`FloatSlot`: ``F``,
    and ``ALPHA``, gd's next first step), the integer records ``ist``
    (indexed by :class:`IntSlot`: ``NIT``, ``NFEV``, ``NHEV``, ``STATUS``, a
    :class:`~dcompile.optimize.result.Status`, and the method's own:
    L-BFGS's ``STORED`` pairs and ``NEWEST`` row, BFGS's ``SCALED`` flag),
    the method's work arrays ``W`` (L-BFGS: the ``s`` and ``y`` pairs; BFGS:
    the inverse Hessian) and ``w``, and f and max |g| per iteration (entry 0
    is the start).
``<method>_iterate(vg, d2, args, *state, opts_f, opts_i, it_stop)``
    runs iterations in place until the run stops or ``nit`` reaches
    ``it_stop``. Nothing of a run lives outside the state, so a run split
    into chunks (to show progress or call a callback between them) gives
    bit-for-bit the result of one call.

The state is a ``NamedTuple`` of arrays (numba types it as a heterogeneous
named tuple: it crosses between Python and compiled code and caches on disk
like a plain tuple), read by name in Python (``state.ist``, ``state.nit``).
Compiled code takes its parts as separate arguments, the convention of the
generated drivers (numba cannot ``*``-unpack a named tuple into a call), and
``fs``/``ist`` stay arrays so the loops update them in place; the slot enums
are ``IntEnum`` classes, whose members numba folds to the same constant
indices as plain integers (no change in the loops' speed).

``vg(x, *args) -> (f, g)`` is the compiled value-and-gradient; ``d2`` is the
Hessian ``hess(x, *args)`` for Newton, the Hessian-vector product
``hvp(x, *args, v)`` for Newton-CG and unused (pass ``vg``) otherwise.
Options travel as two arrays, indexed by the constants below. Generated
driver modules (:mod:`dcompile.optimize.driver`) bind ``vg`` and ``d2`` of one
objective and cache these loops on disk.

An iteration allocates only what the line search returns (the trial point
and its gradient): two-loop recursion, curvature pairs, BFGS updates and the
stopping tests work in place on the state.

Stopping rules, in order: the gradient test ``max |g_i| <= gtol`` once f has
settled (success: the last step changed f or x by at most 1e-8 relative, or f
is zero on the scale of its start, ``|f| <= eps^2 |f0|``; see :func:`settled`);
a non-finite value; a failed line search; ``maxfev`` evaluations; a relative
decrease of f below ``ftol`` together with a step below ``xtol`` (stalled);
``maxiter`` iterations. A failed search or a stall where the gradient test
holds is a success: f cannot fall further in floating point there.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import NamedTuple

import numpy as np
from numba import njit

from dcompile.optimize.linesearch import NON_FINITE as SEARCH_NON_FINITE
from dcompile.optimize.linesearch import OK as SEARCH_OK
from dcompile.optimize.linesearch import STILL_DECREASING, armijo, strong_wolfe
from dcompile.optimize.result import Status
from dcompile.optimize.vectors import amax_abs, amax_abs_diff, axpy, dot, set_scaled

# line-search codes
FIXED, ARMIJO, WOLFE = 0, 1, 2
# method codes
GD, LBFGS, BFGS, NEWTON, NEWTON_CG = 0, 1, 2, 3, 4
# opts_f entries
GTOL, FTOL, XTOL, C1, C2, STEP = 0, 1, 2, 3, 4, 5
# opts_i entries
MAXITER_OPT, MAXFEV_OPT, KIND, MEMORY = 0, 1, 2, 3


class IntSlot(IntEnum):
    """The entries of a state's integer records ``ist``."""

    NIT = 0  # iterations done
    NFEV = 1  # evaluations of vg
    NHEV = 2  # Hessians (Newton) or Hessian-vector products (Newton-CG)
    STATUS = 3  # a Status; Status.RUNNING while the run goes on
    STORED = 4  # L-BFGS, L-BFGS-B: how many pairs W holds
    NEWEST = 5  # L-BFGS, L-BFGS-B: the row of W's newest pair
    SCALED = 4  # BFGS (STORED's entry): 1 once the inverse Hessian was scaled by s'y / y'y


class FloatSlot(IntEnum):
    """The entries of a state's float records ``fs``."""

    F = 0  # f at the current point
    ALPHA = 1  # gd: the first step of the next line search


class State(NamedTuple):
    """A run, all of it (see the module doc): ``start`` makes it, ``<method>_iterate`` updates it in place."""

    x: np.ndarray  # the current point
    g: np.ndarray  # its gradient
    fs: np.ndarray  # float records, by FloatSlot
    ist: np.ndarray  # integer records, by IntSlot
    W: np.ndarray  # the method's work arrays
    w: np.ndarray
    hist_f: np.ndarray  # f per iteration (entry 0: the start)
    hist_g: np.ndarray  # the gradient test's value per iteration

    @property
    def f(self) -> float:
        return float(self.fs[FloatSlot.F])

    @property
    def nit(self) -> int:
        return int(self.ist[IntSlot.NIT])

    @property
    def nfev(self) -> int:
        return int(self.ist[IntSlot.NFEV])

    @property
    def nhev(self) -> int:
        return int(self.ist[IntSlot.NHEV])

    @property
    def status(self) -> int:
        """The run's :class:`~dcompile.optimize.result.Status` as a plain int (negative: running)."""
        return int(self.ist[IntSlot.STATUS])


_INTS, _FLOATS = len(IntSlot), len(FloatSlot)  # the records' lengths (an alias takes no entry)
_CURVATURE = 1e-10  # a pair (s, y) is kept when s'y > 1e-10 |s| |y|
_MAX_EVALS = 50  # per line search
SETTLE = 1e-8  # success needs the last step's relative change of f or of x below this (see settled)
_EPS2 = 4.930380657631324e-32  # eps ** 2


@njit(cache=True)
def first_records(f, gmax, alpha, opts_f, opts_i):
    """The state records of a run's start: ``fs = [f, alpha]``, ``ist`` (its status set if the
    start already ends the run) and the histories with entry 0 (``gmax``: the gradient test's value)."""
    hist_f = np.empty(opts_i[MAXITER_OPT] + 1)
    hist_g = np.empty(opts_i[MAXITER_OPT] + 1)
    hist_f[0] = f
    hist_g[0] = gmax
    fs = np.empty(_FLOATS)
    fs[FloatSlot.F] = f
    fs[FloatSlot.ALPHA] = alpha
    ist = np.zeros(_INTS, dtype=np.int64)
    ist[IntSlot.NFEV] = 1
    ist[IntSlot.STATUS] = Status.RUNNING
    if not (math.isfinite(f) and math.isfinite(gmax)):
        ist[IntSlot.STATUS] = Status.NON_FINITE
    elif gmax <= opts_f[GTOL]:
        ist[IntSlot.STATUS] = Status.SUCCESS
    return fs, ist, hist_f, hist_g


@njit
def start(vg, args, x0, opts_f, opts_i, method):  # noqa: PLR0917
    """Evaluate ``x0`` and allocate the :class:`State` of ``method`` (its status is set if the start ends the run)."""
    n = x0.shape[0]
    x = x0.copy()
    f, g = vg(x, *args)
    f = float(f)
    gmax = amax_abs(g)
    fs, ist, hist_f, hist_g = first_records(f, gmax, 1.0 / max(gmax, 1.0), opts_f, opts_i)  # gd's first step
    m = opts_i[MEMORY]
    if method == LBFGS:
        W = np.zeros((2 * m, n))
        w = np.zeros(2 * m)
    elif method == BFGS:
        W = np.eye(n)
        w = np.zeros(0)
    else:
        W = np.zeros((0, n))
        w = np.zeros(0)
    return State(x, g, fs, ist, W, w, hist_f, hist_g)


@njit
def _search(vg, args, x, f, g, p, alpha0, opts_f, opts_i):  # noqa: PLR0917
    """One step along ``p``: a fixed step, Armijo backtracking or strong Wolfe."""
    kind = opts_i[KIND]
    if kind == FIXED:
        step = opts_f[STEP]
        x_new = x + step * p
        f_new, g_new = vg(x_new, *args)
        f_new = float(f_new)
        return step, x_new, f_new, g_new, 1, SEARCH_OK if math.isfinite(f_new) else SEARCH_NON_FINITE
    if kind == ARMIJO:
        return armijo(vg, args, x, f, g, p, alpha0, opts_f[C1], _MAX_EVALS)
    return strong_wolfe(vg, args, x, f, g, p, alpha0, opts_f[C1], opts_f[C2], _MAX_EVALS)


@njit(cache=True)
def settled(f_old, f_new, f0, x_old, x_new, gmax):  # noqa: PLR0917
    """Whether the last step shows the run has arrived: f fell by at most ``SETTLE`` relative to
    itself, or x moved by at most ``SETTLE`` relative to its size, or f is zero on the scale of
    the start (``|f| <= eps^2 |f0|``: residuals at their rounding level when f is a sum of
    squares), or the gradient is exactly zero.

    The gradient test alone is absolute, and a small gradient is not a minimum
    when f itself is small: on sums of squares with tiny residuals (NIST's
    Lanczos problems, ``f ~ 1e-7``) ``max |g| <= 1e-6`` held while each step
    still cut f by 0.1-40 % and moved x, with no parameter correct. With this
    test too a success means the same at every scale of f: near a minimum a
    superlinear method's steps shrink below ``1e-8 |x|`` within an iteration
    or two of the gradient test holding, and so does the relative decrease
    of f where ``f* != 0``.
    """
    if f_old - f_new <= SETTLE * abs(f_new) or abs(f_new) <= _EPS2 * abs(f0) or gmax == 0.0:
        return True
    return amax_abs_diff(x_new, x_old) <= SETTLE * max(amax_abs(x_old), 1.0)


@njit(cache=True)
def _stop(f_old, f_new, f0, x_old, x_new, gmax, opts_f):  # noqa: PLR0917
    """The status after an accepted step, or ``Status.RUNNING`` to go on (``f0``: f at the start)."""
    if gmax <= opts_f[GTOL] and settled(f_old, f_new, f0, x_old, x_new, gmax):
        return Status.SUCCESS
    if not (math.isfinite(f_new) and math.isfinite(gmax)):
        return Status.NON_FINITE
    small_f = abs(f_old - f_new) <= opts_f[FTOL] * max(abs(f_old), abs(f_new), 1.0)
    if small_f and amax_abs_diff(x_new, x_old) <= opts_f[XTOL] * max(amax_abs(x_old), 1.0):
        return Status.SUCCESS if gmax <= opts_f[GTOL] else Status.STALLED  # nothing left to gain in floating point
    return Status.RUNNING


@njit(cache=True)
def failed_search(gmax, opts_f):
    """The status of a line search that found no decrease at a point whose gradient test gives
    ``gmax``: f cannot fall further in floating point there, so a success if the test holds."""
    return Status.SUCCESS if gmax <= opts_f[GTOL] else Status.LINE_SEARCH_FAILED


@njit
def _step(vg, args, x, f, g, p, alpha0, ist, hist_f, hist_g, opts_f, opts_i):  # noqa: PLR0917
    """Line search along ``p`` and the stopping tests: ``(x, f, g, alpha, status)``; ``Status.RUNNING`` goes on.

    An accepted step counts an iteration and records it; a failed search keeps
    the current point (status ``LINE_SEARCH_FAILED`` or ``NON_FINITE``; ``SUCCESS`` if the
    gradient test holds there).
    """
    a, x_new, f_new, g_new, evals, ls = _search(vg, args, x, f, g, p, alpha0, opts_f, opts_i)
    ist[IntSlot.NFEV] += evals
    unbounded = ls == STILL_DECREASING and a > 0.0  # still falling at the longest step: take it and stop
    if (ls != SEARCH_OK and not unbounded) or a == 0.0:
        if ls == SEARCH_NON_FINITE:
            return x, f, g, 0.0, Status.NON_FINITE
        return x, f, g, 0.0, failed_search(hist_g[ist[IntSlot.NIT]], opts_f)
    it = ist[IntSlot.NIT] + 1
    ist[IntSlot.NIT] = it
    gmax = amax_abs(g_new)
    hist_f[it] = f_new
    hist_g[it] = gmax
    status = _stop(f, f_new, hist_f[0], x, x_new, gmax, opts_f)
    if status == Status.RUNNING and unbounded:
        status = Status.UNBOUNDED
    if status == Status.RUNNING and ist[IntSlot.NFEV] >= opts_i[MAXFEV_OPT]:
        status = Status.MAXFEV
    return x_new, f_new, g_new, a, status


@njit(cache=True)
def _finish(x, g, fs, ist, xc, gc, f, status, opts_i):  # noqa: PLR0917
    """Write the chunk's point back into the state and settle the status."""
    if status == Status.RUNNING and ist[IntSlot.NIT] >= opts_i[MAXITER_OPT]:
        status = Status.MAXITER
    ist[IntSlot.STATUS] = status
    x[:] = xc
    g[:] = gc
    fs[FloatSlot.F] = f


@njit
def gd_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):  # noqa: PLR0917
    """Steepest descent with a fixed step or a line search (the next search starts at twice the last step)."""
    if ist[IntSlot.STATUS] != Status.RUNNING:
        return
    xc, gc, f = x, g, fs[FloatSlot.F]
    alpha = fs[FloatSlot.ALPHA]
    p = np.empty(x.shape[0])
    status = Status.RUNNING
    stop = min(it_stop, opts_i[MAXITER_OPT])
    while ist[IntSlot.NIT] < stop:
        set_scaled(p, -1.0, gc)
        x_new, f_new, g_new, a, status = _step(vg, args, xc, f, gc, p, alpha, ist, hist_f, hist_g, opts_f, opts_i)
        if status in (Status.LINE_SEARCH_FAILED, Status.NON_FINITE):
            break
        xc, gc, f = x_new, g_new, f_new
        if status != Status.RUNNING:
            break
        alpha = min(2.0 * a, 1e10)
    fs[FloatSlot.ALPHA] = alpha
    _finish(x, g, fs, ist, xc, gc, f, status, opts_i)


@njit(cache=True)
def _two_loop(W, w, stored, newest, gc, q):  # noqa: PLR0917
    """``q = -H g`` for the L-BFGS matrix of the stored pairs.

    Pair ``k`` is row ``k`` (s) and row ``m + k`` (y) of ``W``; ``w[k]`` holds
    ``1 / s'y`` and ``w[m + k]`` the first loop's coefficient. Rows are read
    by index, not as views: at small n a view costs more than the arithmetic.
    """
    m = W.shape[0] // 2
    n = q.shape[0]
    for i in range(n):
        q[i] = gc[i]
    k = newest
    for _ in range(stored):  # newest to oldest
        a = 0.0
        for i in range(n):
            a += W[k, i] * q[i]
        a *= w[k]
        w[m + k] = a
        for i in range(n):
            q[i] -= a * W[m + k, i]
        k = k - 1 if k > 0 else m - 1
    if stored > 0:  # initial matrix (s'y / y'y) I of the newest pair, and the sign of -H g
        sy = yy = 0.0
        for i in range(n):
            sy += W[newest, i] * W[m + newest, i]
            yy += W[m + newest, i] * W[m + newest, i]
        scale = -sy / yy
    else:
        scale = -1.0 / max(math.sqrt(dot(gc, gc)), 1.0)  # a first step of length at most 1
    for i in range(n):
        q[i] *= scale
    for _ in range(stored):  # oldest to newest; q holds -(H g), so the signs flip
        k = k + 1 if k < m - 1 else 0
        b = 0.0
        for i in range(n):
            b += W[m + k, i] * q[i]
        b = -w[m + k] - w[k] * b
        for i in range(n):
            q[i] += b * W[k, i]


@njit
def lbfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):  # noqa: PLR0917
    """Limited-memory BFGS (two-loop recursion over ``m`` pairs).

    The initial inverse Hessian is scaled by ``s'y / y'y`` of the newest pair;
    a pair with ``s'y`` not safely positive is skipped, so the implicit matrix
    stays positive definite and every direction is a descent direction.
    """
    if ist[IntSlot.STATUS] != Status.RUNNING:
        return
    n = x.shape[0]
    m = W.shape[0] // 2
    stored, newest = ist[IntSlot.STORED], ist[IntSlot.NEWEST]
    xc, gc, f = x, g, fs[FloatSlot.F]
    p = np.empty(n)
    status = Status.RUNNING
    stop = min(it_stop, opts_i[MAXITER_OPT])
    while ist[IntSlot.NIT] < stop:
        _two_loop(W, w, stored, newest, gc, p)
        if dot(p, gc) >= 0.0:  # not a descent direction (rounding): restart from steepest descent
            stored = 0
            set_scaled(p, -1.0 / max(math.sqrt(dot(gc, gc)), 1.0), gc)
        x_new, f_new, g_new, _, status = _step(vg, args, xc, f, gc, p, 1.0, ist, hist_f, hist_g, opts_f, opts_i)
        if status in (Status.LINE_SEARCH_FAILED, Status.NON_FINITE):
            break
        sy = ss = yy = 0.0
        for i in range(n):
            s_i = x_new[i] - xc[i]
            y_i = g_new[i] - gc[i]
            sy += s_i * y_i
            ss += s_i * s_i
            yy += y_i * y_i
        if status == Status.RUNNING and sy > _CURVATURE * math.sqrt(ss * yy):  # safely positive curvature: keep it
            newest = (newest + 1) % m
            for i in range(n):
                W[newest, i] = x_new[i] - xc[i]
                W[m + newest, i] = g_new[i] - gc[i]
            w[newest] = 1.0 / sy
            stored = min(stored + 1, m)
        xc, gc, f = x_new, g_new, f_new
        if status != Status.RUNNING:
            break
    ist[IntSlot.STORED], ist[IntSlot.NEWEST] = stored, newest
    _finish(x, g, fs, ist, xc, gc, f, status, opts_i)


@njit(cache=True)
def _bfgs_update(H, s, y, sy, Hy):
    """``H <- (I - rho s y') H (I - rho y s') + rho s s'`` with ``rho = 1 / s'y``, in place."""
    n = s.shape[0]
    for i in range(n):
        total = 0.0
        for j in range(n):
            total += H[i, j] * y[j]
        Hy[i] = total
    rho = 1.0 / sy
    coef = rho * rho * dot(y, Hy) + rho
    for i in range(n):
        for j in range(n):
            H[i, j] += coef * s[i] * s[j] - rho * (s[i] * Hy[j] + Hy[i] * s[j])


@njit
def bfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):  # noqa: C901, PLR0917
    """Dense BFGS on the inverse Hessian ``W`` (scaled by ``s'y / y'y`` after the first step)."""
    if ist[IntSlot.STATUS] != Status.RUNNING:
        return
    n = x.shape[0]
    H = W
    scaled = ist[IntSlot.SCALED] != 0
    xc, gc, f = x, g, fs[FloatSlot.F]
    p = np.empty(n)
    s = np.empty(n)
    y = np.empty(n)
    Hy = np.empty(n)
    status = Status.RUNNING
    stop = min(it_stop, opts_i[MAXITER_OPT])
    while ist[IntSlot.NIT] < stop:
        for i in range(n):
            total = 0.0
            for j in range(n):
                total -= H[i, j] * gc[j]
            p[i] = total
        gnorm = math.sqrt(dot(gc, gc))
        if dot(p, gc) >= 0.0:  # lost positive definiteness to rounding: restart
            H[:, :] = 0.0
            for i in range(n):
                H[i, i] = 1.0
            scaled = False
            set_scaled(p, -1.0 / max(gnorm, 1.0), gc)
        elif not scaled:
            p *= 1.0 / max(gnorm, 1.0)  # a first step of length at most 1
        x_new, f_new, g_new, _, status = _step(vg, args, xc, f, gc, p, 1.0, ist, hist_f, hist_g, opts_f, opts_i)
        if status in (Status.LINE_SEARCH_FAILED, Status.NON_FINITE):
            break
        for i in range(n):
            s[i] = x_new[i] - xc[i]
            y[i] = g_new[i] - gc[i]
        xc, gc, f = x_new, g_new, f_new
        if status != Status.RUNNING:
            break
        sy = dot(s, y)
        if sy > _CURVATURE * math.sqrt(dot(s, s) * dot(y, y)):
            if not scaled:
                H *= sy / dot(y, y)
                scaled = True
            _bfgs_update(H, s, y, sy, Hy)
    ist[IntSlot.SCALED] = 1 if scaled else 0
    _finish(x, g, fs, ist, xc, gc, f, status, opts_i)


@njit(cache=True)
def _cholesky(A, L):
    """``A = L L'`` into ``L``; False if ``A`` is not (numerically) positive definite."""
    n = A.shape[0]
    L[:, :] = 0.0
    for j in range(n):
        d = A[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:
            return False
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, n):
            v = A[i, j]
            for k in range(j):
                v -= L[i, k] * L[j, k]
            L[i, j] = v / L[j, j]
    return True


@njit(cache=True)
def _cholesky_solve(L, b):
    n = b.shape[0]
    z = np.empty(n)
    for i in range(n):
        v = b[i]
        for k in range(i):
            v -= L[i, k] * z[k]
        z[i] = v / L[i, i]
    out = np.empty(n)
    for i in range(n - 1, -1, -1):
        v = z[i]
        for k in range(i + 1, n):
            v -= L[k, i] * out[k]
        out[i] = v / L[i, i]
    return out


@njit(cache=True)
def newton_direction(H, g):
    """Solve ``(H + tau I) p = -g`` with the smallest tried ``tau >= 0`` that makes it positive definite."""
    n = g.shape[0]
    L = np.empty((n, n))
    scale = 0.0
    for i in range(n):
        scale = max(scale, abs(H[i, i]))
    tau = 0.0
    shifted = H.copy()
    for _ in range(80):
        for i in range(n):
            shifted[i, i] = H[i, i] + tau
        if _cholesky(shifted, L):
            return _cholesky_solve(L, -g), tau
        tau = max(10.0 * tau, 1e-3 * max(scale, 1e-8))
    return -g, np.inf


@njit
def newton_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):  # noqa: PLR0917
    """Newton's method with the exact Hessian ``d2``, shifted by a multiple of I where not positive definite."""
    if ist[IntSlot.STATUS] != Status.RUNNING:
        return
    xc, gc, f = x, g, fs[FloatSlot.F]
    status = Status.RUNNING
    stop = min(it_stop, opts_i[MAXITER_OPT])
    while ist[IntSlot.NIT] < stop:
        H = d2(xc, *args)
        ist[IntSlot.NHEV] += 1
        p, _ = newton_direction(H, gc)
        x_new, f_new, g_new, _, status = _step(vg, args, xc, f, gc, p, 1.0, ist, hist_f, hist_g, opts_f, opts_i)
        if status in (Status.LINE_SEARCH_FAILED, Status.NON_FINITE):
            break
        xc, gc, f = x_new, g_new, f_new
        if status != Status.RUNNING:
            break
    _finish(x, g, fs, ist, xc, gc, f, status, opts_i)


@njit
def _truncated_cg(d2, args, xc, gc, ist):
    """CG on ``H p = -g`` with products ``d2(x, *args, v)``, stopped on negative curvature or when the
    residual is below ``min(0.5, sqrt|g|) |g|``."""
    n = xc.shape[0]
    gnorm = math.sqrt(dot(gc, gc))
    eta = min(0.5, math.sqrt(gnorm)) * gnorm
    z = np.zeros(n)
    r = gc.copy()
    d = -r
    p = -gc
    rr = dot(r, r)
    for j in range(2 * n + 10):
        Hd = d2(xc, *(args + (d,)))  # noqa: RUF005  (numba: a tuple built by concatenation)
        ist[IntSlot.NHEV] += 1
        curvature = dot(d, Hd)
        if curvature <= 1e-14 * dot(d, d):  # negative curvature: use what CG has so far
            return -gc if j == 0 else z
        a = rr / curvature
        axpy(a, d, z)
        axpy(a, Hd, r)
        rr_new = dot(r, r)
        p = z
        if math.sqrt(rr_new) <= eta:
            break
        d = -r + (rr_new / rr) * d
        rr = rr_new
    return p


@njit
def newton_cg_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):  # noqa: PLR0917
    """Truncated Newton: directions from :func:`_truncated_cg` with Hessian-vector products ``d2``."""
    if ist[IntSlot.STATUS] != Status.RUNNING:
        return
    xc, gc, f = x, g, fs[FloatSlot.F]
    status = Status.RUNNING
    stop = min(it_stop, opts_i[MAXITER_OPT])
    while ist[IntSlot.NIT] < stop:
        p = _truncated_cg(d2, args, xc, gc, ist)
        x_new, f_new, g_new, _, status = _step(vg, args, xc, f, gc, p, 1.0, ist, hist_f, hist_g, opts_f, opts_i)
        if status in (Status.LINE_SEARCH_FAILED, Status.NON_FINITE):
            break
        xc, gc, f = x_new, g_new, f_new
        if status != Status.RUNNING:
            break
    _finish(x, g, fs, ist, xc, gc, f, status, opts_i)
