"""Optimizer iteration loops, compiled with numba in nopython mode.

Each loop calls the compiled value-and-gradient ``vg(x, *args) -> (f, g)``
directly, so an iteration costs machine code only. They take and return
plain arrays and numbers and are usable from your own ``@numba.njit`` code
(pass ``value_and_grad(f).njit`` as ``vg``). ``hist_f`` and ``hist_g`` are
filled with f and max |g| per iteration (entry 0 is the start).

They are not cached on disk: numba's cache keys a function that takes a
dispatcher argument on that dispatcher and pickles it by reference, and a
later process (with another cache directory) fails to load the entry
instead of recompiling. Each process compiles a loop once per objective.

Stopping rules, in order: the gradient test ``max |g_i| <= gtol`` (success);
a non-finite value; a failed line search; ``maxfev`` evaluations; a relative
decrease of f below ``ftol`` together with a step below ``xtol`` (stalled);
``maxiter`` iterations.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dcompile.optimize.linesearch import armijo, strong_wolfe
from dcompile.optimize.result import LINE_SEARCH_FAILED, MAXFEV, MAXITER, NON_FINITE, STALLED, SUCCESS

# line_search codes
FIXED, ARMIJO, WOLFE = 0, 1, 2


@njit
def _search(vg, args, x, f, g, p, alpha0, kind, step, c1, c2, max_evals):  # noqa: PLR0917
    """One step along ``p``: a fixed step, Armijo backtracking or strong Wolfe."""
    if kind == FIXED:
        x_new = x + step * p
        f_new, g_new = vg(x_new, *args)
        status = 0 if np.isfinite(f_new) else 3
        return step, x_new, f_new, g_new, 1, status
    if kind == ARMIJO:
        return armijo(vg, args, x, f, g, p, alpha0, c1, max_evals)
    return strong_wolfe(vg, args, x, f, g, p, alpha0, c1, c2, max_evals)


@njit
def _stop(f_old, f_new, x_old, x_new, g, gtol, ftol, xtol):  # noqa: PLR0917
    """The status after an accepted step, or -1 to go on."""
    if np.max(np.abs(g)) <= gtol:
        return SUCCESS
    if not (np.isfinite(f_new) and np.all(np.isfinite(g))):
        return NON_FINITE
    small_f = abs(f_old - f_new) <= ftol * max(abs(f_old), abs(f_new), 1.0)
    small_x = np.max(np.abs(x_new - x_old)) <= xtol * max(np.max(np.abs(x_old)), 1.0)
    if small_f and small_x:
        return STALLED
    return -1


@njit(cache=True)
def _dot(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@njit(cache=True)
def _axpy(a, x, y):
    """y += a * x, in place."""
    for i in range(y.shape[0]):
        y[i] += a * x[i]


@njit
def _first(vg, args, x0, gtol, hist_f, hist_g):  # noqa: PLR0917
    """Evaluate the start; its status when it already ends the run (-1 otherwise)."""
    x = x0.copy()
    f, g = vg(x, *args)
    hist_f[0] = f
    hist_g[0] = np.max(np.abs(g))
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        return x, f, g, NON_FINITE
    if hist_g[0] <= gtol:
        return x, f, g, SUCCESS
    return x, f, g, -1


@njit
def gradient_descent(vg, args, x0, kind, step, gtol, ftol, xtol, maxiter, maxfev, c1, c2, hist_f, hist_g):  # noqa: PLR0917
    """Steepest descent with a fixed step or a line search. Returns ``(x, f, g, nit, nfev, status)``."""
    x, f, g, status = _first(vg, args, x0, gtol, hist_f, hist_g)
    nfev = 1
    if status >= 0:
        return x, f, g, 0, nfev, status
    alpha = 1.0 / max(hist_g[0], 1.0)
    for it in range(1, maxiter + 1):
        x_new, f_new, g_new, nfev, status, a = _step(
            vg, args, x, f, g, -g, alpha, kind, step, c1, c2, gtol, ftol, xtol, it, nfev, maxfev, hist_f, hist_g
        )
        if status in (LINE_SEARCH_FAILED, NON_FINITE):
            return x, f, g, it - 1, nfev, status
        x, f, g = x_new, f_new, g_new
        if status >= 0:
            return x, f, g, it, nfev, status
        alpha = min(2.0 * a, 1e10)  # start the next search a little further
    return x, f, g, maxiter, nfev, MAXITER


@njit
def lbfgs(vg, args, x0, m, kind, gtol, ftol, xtol, maxiter, maxfev, c1, c2, hist_f, hist_g):  # noqa: PLR0917
    """Limited-memory BFGS (two-loop recursion, history ``m``). Returns ``(x, f, g, nit, nfev, status)``.

    The initial inverse Hessian is scaled by ``s'y / y'y`` of the newest pair;
    a pair with ``s'y`` not safely positive is skipped, so the implicit matrix
    stays positive definite and every direction is a descent direction.
    """
    n = x0.shape[0]
    S = np.zeros((m, n))
    Y = np.zeros((m, n))
    rho = np.zeros(m)
    alpha_k = np.zeros(m)
    stored = 0
    newest = -1
    x, f, g, status = _first(vg, args, x0, gtol, hist_f, hist_g)
    nfev = 1
    if status >= 0:
        return x, f, g, 0, nfev, status
    q = np.empty(n)
    for it in range(1, maxiter + 1):
        # two-loop recursion: q = H g (explicit loops: no temporaries, no BLAS call per dot)
        q[:] = g
        for j in range(stored):
            k = (newest - j) % m
            alpha_k[k] = rho[k] * _dot(S[k], q)
            _axpy(-alpha_k[k], Y[k], q)
        if stored > 0:
            q *= _dot(S[newest], Y[newest]) / _dot(Y[newest], Y[newest])
        else:
            q *= 1.0 / max(np.sqrt(_dot(g, g)), 1.0)  # a first step of length at most 1
        for j in range(stored - 1, -1, -1):
            k = (newest - j) % m
            _axpy(alpha_k[k] - rho[k] * _dot(Y[k], q), S[k], q)
        p = -q
        if _dot(p, g) >= 0.0:  # not a descent direction (rounding): restart from steepest descent
            stored = 0
            p = -g / max(np.sqrt(_dot(g, g)), 1.0)
        x_new, f_new, g_new, nfev, status, _ = _step(
            vg, args, x, f, g, p, 1.0, kind, 1.0, c1, c2, gtol, ftol, xtol, it, nfev, maxfev, hist_f, hist_g
        )
        if status in (LINE_SEARCH_FAILED, NON_FINITE):
            return x, f, g, it - 1, nfev, status
        s = x_new - x
        y = g_new - g
        sy = _dot(s, y)
        x, f, g = x_new, f_new, g_new
        if status >= 0:
            return x, f, g, it, nfev, status
        if sy > 1e-10 * np.sqrt(_dot(s, s) * _dot(y, y)):  # curvature safely positive
            newest = (newest + 1) % m
            S[newest] = s
            Y[newest] = y
            rho[newest] = 1.0 / sy
            stored = min(stored + 1, m)
    return x, f, g, maxiter, nfev, MAXITER


@njit
def _step(vg, args, x, f, g, p, alpha0, kind, step, c1, c2, gtol, ftol, xtol, it, nfev, maxfev, hist_f, hist_g):  # noqa: PLR0917
    """Line search along ``p`` and the stopping tests: ``(x, f, g, nfev, status, alpha)``; status -1 goes on.

    A failed search keeps the current point (status LINE_SEARCH_FAILED or NON_FINITE).
    """
    a, x_new, f_new, g_new, evals, ls = _search(vg, args, x, f, g, p, alpha0, kind, step, c1, c2, 50)
    nfev += evals
    if ls != 0 or a == 0.0:
        return x, f, g, nfev, NON_FINITE if ls == 3 else LINE_SEARCH_FAILED, 0.0
    status = _stop(f, f_new, x, x_new, g_new, gtol, ftol, xtol)
    hist_f[it] = f_new
    hist_g[it] = np.max(np.abs(g_new))
    if status < 0 and nfev >= maxfev:
        status = MAXFEV
    return x_new, f_new, g_new, nfev, status, a


@njit
def bfgs(vg, args, x0, kind, gtol, ftol, xtol, maxiter, maxfev, c1, c2, hist_f, hist_g):  # noqa: PLR0917
    """Dense BFGS on the inverse Hessian (scaled by ``s'y / y'y`` after the first step)."""
    n = x0.shape[0]
    H = np.eye(n)
    scaled = False
    x, f, g, status = _first(vg, args, x0, gtol, hist_f, hist_g)
    nfev = 1
    if status >= 0:
        return x, f, g, 0, nfev, status
    for it in range(1, maxiter + 1):
        p = -(H @ g)
        if _dot(p, g) >= 0.0:  # lost positive definiteness to rounding: restart
            H = np.eye(n)
            scaled = False
            p = -g / max(np.sqrt(_dot(g, g)), 1.0)
        elif not scaled:
            p = p / max(np.sqrt(_dot(g, g)), 1.0)  # a first step of length at most 1
        x_new, f_new, g_new, nfev, status, _ = _step(
            vg, args, x, f, g, p, 1.0, kind, 1.0, c1, c2, gtol, ftol, xtol, it, nfev, maxfev, hist_f, hist_g
        )
        if status in (LINE_SEARCH_FAILED, NON_FINITE):
            return x, f, g, it - 1, nfev, status
        s = x_new - x
        y = g_new - g
        x, f, g = x_new, f_new, g_new
        if status >= 0:
            return x, f, g, it, nfev, status
        sy = _dot(s, y)
        if sy > 1e-10 * np.sqrt(_dot(s, s) * _dot(y, y)):
            if not scaled:
                H *= sy / _dot(y, y)
                scaled = True
            rho = 1.0 / sy
            Hy = H @ y
            H += (rho * rho * _dot(y, Hy) + rho) * np.outer(s, s) - rho * (np.outer(s, Hy) + np.outer(Hy, s))
    return x, f, g, maxiter, nfev, MAXITER


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
def newton(vg, hess, args, x0, kind, gtol, ftol, xtol, maxiter, maxfev, c1, c2, hist_f, hist_g):  # noqa: PLR0917
    """Newton's method with the exact Hessian, shifted by a multiple of I where not positive definite.

    Returns ``(x, f, g, nit, nfev, nhev, status)``.
    """
    x, f, g, status = _first(vg, args, x0, gtol, hist_f, hist_g)
    nfev = 1
    nhev = 0
    if status >= 0:
        return x, f, g, 0, nfev, nhev, status
    for it in range(1, maxiter + 1):
        H = hess(x, *args)
        nhev += 1
        p, _ = newton_direction(H, g)
        x, f, g, nfev, status, _ = _step(
            vg, args, x, f, g, p, 1.0, kind, 1.0, c1, c2, gtol, ftol, xtol, it, nfev, maxfev, hist_f, hist_g
        )
        if status in (LINE_SEARCH_FAILED, NON_FINITE):
            return x, f, g, it - 1, nfev, nhev, status
        if status >= 0:
            return x, f, g, it, nfev, nhev, status
    return x, f, g, maxiter, nfev, nhev, MAXITER


@njit
def newton_cg(vg, hvp, args, x0, kind, gtol, ftol, xtol, maxiter, maxfev, c1, c2, hist_f, hist_g):  # noqa: PLR0917
    """Truncated Newton: CG on ``H p = -g`` with Hessian-vector products, stopped on negative
    curvature or when the residual is below ``min(0.5, sqrt|g|) |g|``. Returns ``(x, f, g, nit, nfev, nhev, status)``.
    """
    n = x0.shape[0]
    x, f, g, status = _first(vg, args, x0, gtol, hist_f, hist_g)
    nfev = 1
    nhev = 0
    if status >= 0:
        return x, f, g, 0, nfev, nhev, status
    for it in range(1, maxiter + 1):
        gnorm = np.sqrt(_dot(g, g))
        eta = min(0.5, np.sqrt(gnorm)) * gnorm
        z = np.zeros(n)
        r = g.copy()
        d = -r
        p = -g
        rr = _dot(r, r)
        for j in range(2 * n + 10):
            Hd = hvp(x, *(args + (d,)))  # noqa: RUF005  (numba: a tuple built by concatenation)
            nhev += 1
            curvature = _dot(d, Hd)
            if curvature <= 1e-14 * _dot(d, d):  # negative curvature: use what CG has so far
                p = -g if j == 0 else z
                break
            a = rr / curvature
            z += a * d
            r += a * Hd
            rr_new = _dot(r, r)
            p = z
            if np.sqrt(rr_new) <= eta:
                break
            d = -r + (rr_new / rr) * d
            rr = rr_new
        x, f, g, nfev, status, _ = _step(
            vg, args, x, f, g, p, 1.0, kind, 1.0, c1, c2, gtol, ftol, xtol, it, nfev, maxfev, hist_f, hist_g
        )
        if status in (LINE_SEARCH_FAILED, NON_FINITE):
            return x, f, g, it - 1, nfev, nhev, status
        if status >= 0:
            return x, f, g, it, nfev, nhev, status
    return x, f, g, maxiter, nfev, nhev, MAXITER
