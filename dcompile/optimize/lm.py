"""Levenberg-Marquardt for nonlinear least squares, in compiled code (Moré's scaled trust region).

Minimises ``0.5 |r(x)|^2`` for a residual vector ``r(x, *args)`` with its
Jacobian ``J(x, *args)`` (both compiled by dcompile and passed in as numba
function pointers, like the objectives of the shared optimizer loops). The
method is Moré's (1978, "The Levenberg-Marquardt algorithm: implementation
and theory"), MINPACK's ``lmder``:

* the step solves ``min |J p + r|^2 + lam |D p|^2`` by a Householder QR of
  the stacked matrix ``[J; sqrt(lam) D]`` (never the normal equations, whose
  squared condition number loses the digits the NIST problems certify);
* ``lam`` is chosen so that the scaled step ``|D p|`` lies within 10% of the
  trust radius, by Newton's method on the secular equation
  ``|D p(lam)| = delta`` with the bounds of Moré's algorithm;
* ``D`` holds the largest column norms of ``J`` seen so far, which makes the
  method invariant to the scaling of the parameters;
* the radius follows the ratio of actual to predicted reduction.

Stopping tests, all relative, so that a success means the same thing for a
residual of 1e-20 and one of 1e6 (MINPACK's; statuses as SciPy's
``least_squares``): ``gtol`` on the largest cosine between ``r`` and a column
of ``J`` (1: the gradient is orthogonal to the residual up to ``gtol``);
``ftol`` on the relative reduction of the sum of squares, actual and
predicted (2); ``xtol`` on the step relative to ``|D x|`` (3; 4 when both);
``0`` when ``max_nfev`` evaluations are spent, ``-2`` on a non-finite
residual at the start. An exact fit (``r = 0``) is status 1. The codes are
:class:`LsqStatus`, an ``IntEnum`` the compiled loops read as numba
constants (``res.status`` is its plain ``int``).
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np
from numba import njit

# ruff: noqa: PLR0917, PLR0911, PLR0912, PLR0915, C901  (numerical kernels keep their state in locals)

FTOL, XTOL, GTOL, FACTOR = 0, 1, 2, 3  # opts_f entries
MAX_NFEV = 0  # opts_i entries
_DWARF = 2.2250738585072014e-308
_EPS = 2.220446049250313e-16


class LsqStatus(IntEnum):
    """Why a least-squares run stopped: SciPy's ``least_squares`` codes (``res.status``; success: > 0)."""

    BAD_START = -2  # the residuals are not finite at x0
    RUNNING = -1  # inside the loops only: the run goes on (never a result's status)
    MAXFEV = 0  # max_nfev evaluations spent
    GTOL_OK = 1  # the gradient test holds (or r = 0)
    FTOL_OK = 2  # the relative reduction of the sum of squares is below ftol
    XTOL_OK = 3  # the step is below xtol relative to x
    BOTH_OK = 4  # ftol and xtol both


@njit(cache=True)
def enorm(v):
    s = 0.0
    for t in v:
        s += t * t
    return math.sqrt(s)


@njit(cache=True)
def qr_step(J, r, D, sqlam, A, b, p):
    """Solve ``min |[J; sqlam D] p + [r; 0]|`` by Householder QR: ``p`` and ``R`` (upper ``A[:n]``).

    Columns with a zero pivot (rank deficiency) get a zero step.
    """
    m, n = J.shape
    for i in range(m):
        for j in range(n):
            A[i, j] = J[i, j]
        b[i] = r[i]
    for i in range(n):
        for j in range(n):
            A[m + i, j] = 0.0
        A[m + i, i] = sqlam * D[i]
        b[m + i] = 0.0
    rows = m + n
    for k in range(n):
        norm = 0.0
        for i in range(k, rows):
            norm += A[i, k] * A[i, k]
        norm = math.sqrt(norm)
        if norm == 0.0:
            continue
        alpha = -norm if A[k, k] >= 0.0 else norm
        v0 = A[k, k] - alpha
        vnorm2 = v0 * v0 + (norm * norm - A[k, k] * A[k, k])
        if vnorm2 <= 0.0:
            A[k, k] = alpha
            continue
        for j in range(k + 1, n):
            s = v0 * A[k, j]
            for i in range(k + 1, rows):
                s += A[i, k] * A[i, j]
            s *= 2.0 / vnorm2
            A[k, j] -= s * v0
            for i in range(k + 1, rows):
                A[i, j] -= s * A[i, k]
        s = v0 * b[k]
        for i in range(k + 1, rows):
            s += A[i, k] * b[i]
        s *= 2.0 / vnorm2
        b[k] -= s * v0
        for i in range(k + 1, rows):
            b[i] -= s * A[i, k]
        A[k, k] = alpha
    scale = 0.0
    for k in range(n):
        scale = max(scale, abs(A[k, k]))
    for k in range(n - 1, -1, -1):  # R p = -b[:n]
        if abs(A[k, k]) <= _EPS * scale * n:
            p[k] = 0.0
            continue
        s = -b[k]
        for j in range(k + 1, n):
            s -= A[k, j] * p[j]
        p[k] = s / A[k, k]


@njit(cache=True)
def _rt_solve_norm2(A, z, n):
    """``|R^-T z|^2`` with ``R`` the upper triangle of ``A[:n]`` (0 if R is singular)."""
    w = np.empty(n)
    for i in range(n):
        if A[i, i] == 0.0:
            return 0.0
        s = z[i]
        for k in range(i):
            s -= A[k, i] * w[k]
        w[i] = s / A[i, i]
    return float(np.dot(w, w))


@njit(cache=True)
def lm_parameter(J, r, D, delta, lam0, A, b, p):
    """Moré's choice of ``lam``: ``|D p(lam)|`` within 10% of ``delta`` (or ``lam = 0``). Returns lam."""
    m, n = J.shape
    qr_step(J, r, D, 0.0, A, b, p)
    dp = np.empty(n)
    for j in range(n):
        dp[j] = D[j] * p[j]
    dxnorm = enorm(dp)
    fp = dxnorm - delta
    if fp <= 0.1 * delta:
        return 0.0
    z = np.empty(n)
    full_rank = True
    scale = 0.0
    for k in range(n):
        scale = max(scale, abs(A[k, k]))
    for k in range(n):
        if abs(A[k, k]) <= _EPS * scale * n:
            full_rank = False
    parl = 0.0
    if full_rank and dxnorm > 0.0:
        for j in range(n):
            z[j] = D[j] * dp[j] / dxnorm
        t = _rt_solve_norm2(A, z, n)
        if t > 0.0:
            parl = fp / (delta * t)
    gnorm = 0.0  # |D^-1 J' r|
    for j in range(n):
        s = 0.0
        for i in range(m):
            s += J[i, j] * r[i]
        gnorm += (s / D[j]) ** 2
    gnorm = math.sqrt(gnorm)
    paru = gnorm / delta
    if paru == 0.0:
        paru = _DWARF / min(delta, 0.1)
    lam = min(max(lam0, parl), paru)
    if lam == 0.0:
        lam = gnorm / dxnorm
    for it in range(10):
        if lam == 0.0:
            lam = max(_DWARF, 0.001 * paru)
        qr_step(J, r, D, math.sqrt(lam), A, b, p)
        for j in range(n):
            dp[j] = D[j] * p[j]
        dxnorm = enorm(dp)
        fp_old = fp
        fp = dxnorm - delta
        if abs(fp) <= 0.1 * delta or (parl == 0.0 and fp <= fp_old < 0.0) or it == 9:
            break
        if dxnorm == 0.0:
            break
        for j in range(n):
            z[j] = D[j] * dp[j] / dxnorm
        t = _rt_solve_norm2(A, z, n)
        if t <= 0.0:
            break
        parc = fp / (delta * t)
        if fp > 0.0:
            parl = max(parl, lam)
        if fp < 0.0:
            paru = min(paru, lam)
        lam = max(parl, lam + parc)
    return lam


@njit(cache=True)
def _new_radius(ratio, actred, dirder, fnorm, fnorm1, pnorm, delta, lam):
    """Moré's update of the trust radius and of ``lam`` after a trial step: ``(delta, lam)``."""
    if ratio <= 0.25:
        temp = 0.5 if actred >= 0.0 or dirder >= 0.0 else 0.5 * dirder / (dirder + 0.5 * actred)
        if 0.1 * fnorm1 >= fnorm or temp < 0.1:
            temp = 0.1
        delta = temp * min(delta, pnorm / 0.1) if pnorm > 0.0 else temp * delta
        lam /= temp
    elif lam == 0.0 or ratio >= 0.75:
        delta = pnorm / 0.5
        lam *= 0.5
    return delta, lam


@njit(cache=True)
def verdict(f_ok, x_ok, fnorm, nfev, max_nfev, f_stuck, x_stuck):
    """The status after a trial step from its tests, in MINPACK's order, or ``LsqStatus.RUNNING``.

    ``f_ok``/``x_ok``: the ``ftol``/``xtol`` tests; ``f_stuck``/``x_stuck``: the same at
    rounding level (no further reduction of the sum of squares, no further change of x
    possible in floating point). Shared by ``lm`` and ``trf``, which differ in the tests only.
    """
    if f_ok and x_ok:
        return LsqStatus.BOTH_OK
    if f_ok:
        return LsqStatus.FTOL_OK
    if x_ok:
        return LsqStatus.XTOL_OK
    if fnorm == 0.0:
        return LsqStatus.GTOL_OK
    if nfev >= max_nfev:
        return LsqStatus.MAXFEV
    if f_stuck:
        return LsqStatus.FTOL_OK
    if x_stuck:
        return LsqStatus.XTOL_OK
    return LsqStatus.RUNNING


@njit(cache=True)
def _status(actred, prered, ratio, delta, xnorm, fnorm, nfev, ftol, xtol, max_nfev):
    """The status after a trial step (the module doc's tests), or ``LsqStatus.RUNNING`` to go on."""
    f_ok = abs(actred) <= ftol and 0.0 <= prered <= ftol and 0.5 * ratio <= 1.0
    f_stuck = abs(actred) <= _EPS and 0.0 <= prered <= _EPS and 0.5 * ratio <= 1.0
    return verdict(f_ok, delta <= xtol * xnorm, fnorm, nfev, max_nfev, f_stuck, delta <= _EPS * xnorm)


@njit
def evaluate_start(res, jac, args, x):
    """The residuals at the start, their norm and the Jacobian: ``(r, |r|, J)``."""
    r = res(x, *args)
    return r, enorm(r), jac(x, *args)


@njit(cache=True)
def column_norms_and_gradient(J, r, cn, g):
    """``cn``: the column norms of ``J``; ``g``: the gradient ``J' r`` of ``|r|^2 / 2`` (one pass over J)."""
    m, n = J.shape
    for j in range(n):
        s = 0.0
        t = 0.0
        for i in range(m):
            s += J[i, j] * J[i, j]
            t += J[i, j] * r[i]
        cn[j] = math.sqrt(s)
        g[j] = t


@njit
def lm_solve(res, jac, args, x0, opts_f, opts_i):
    """Levenberg-Marquardt from ``x0``: ``(x, r, J, nfev, njev, nit, status)`` (see the module doc)."""
    n = x0.shape[0]
    x = x0.copy()
    r, fnorm, J = evaluate_start(res, jac, args, x)
    nfev, njev, nit = 1, 1, 0
    m = r.shape[0]
    if not math.isfinite(fnorm):
        return x, r, J, nfev, njev, nit, LsqStatus.BAD_START
    ftol, xtol, gtol, factor = opts_f[FTOL], opts_f[XTOL], opts_f[GTOL], opts_f[FACTOR]
    max_nfev = opts_i[MAX_NFEV]
    D = np.empty(n)
    cn = np.empty(n)
    A = np.empty((m + n, n))
    b = np.empty(m + n)
    p = np.empty(n)
    xn = np.empty(n)
    jp = np.empty(m)
    delta = 0.0
    xnorm = 0.0
    lam = 0.0
    status = LsqStatus.RUNNING
    first = True
    while status == LsqStatus.RUNNING:
        for j in range(n):
            s = 0.0
            for i in range(m):
                s += J[i, j] * J[i, j]
            cn[j] = math.sqrt(s)
        if first:
            for j in range(n):
                D[j] = cn[j] if cn[j] != 0.0 else 1.0
            for j in range(n):
                xn[j] = D[j] * x[j]
            xnorm = enorm(xn)
            delta = factor * xnorm if xnorm != 0.0 else factor
        else:
            for j in range(n):
                D[j] = max(D[j], cn[j])
        gnorm = 0.0  # the largest cosine between r and a column of J
        if fnorm != 0.0:
            for j in range(n):
                if cn[j] != 0.0:
                    s = 0.0
                    for i in range(m):
                        s += J[i, j] * r[i]
                    gnorm = max(gnorm, abs(s / fnorm) / cn[j])
        if gnorm <= gtol:
            status = LsqStatus.GTOL_OK
            break
        while True:  # trial steps until one reduces the sum of squares (or a test ends the run)
            lam = lm_parameter(J, r, D, delta, lam, A, b, p)
            for j in range(n):
                xn[j] = D[j] * p[j]
            pnorm = enorm(xn)
            if first:
                delta = min(delta, pnorm)
                first = False
            for j in range(n):
                xn[j] = x[j] + p[j]
            r_new = res(xn, *args)
            nfev += 1
            fnorm1 = enorm(r_new)
            if not math.isfinite(fnorm1):
                fnorm1 = math.inf
            actred = 1.0 - (fnorm1 / fnorm) ** 2 if 0.1 * fnorm1 < fnorm else -1.0
            for i in range(m):
                s = 0.0
                for j in range(n):
                    s += J[i, j] * p[j]
                jp[i] = s
            temp1 = enorm(jp) / fnorm
            temp2 = math.sqrt(lam) * pnorm / fnorm
            prered = temp1 * temp1 + temp2 * temp2 / 0.5
            dirder = -(temp1 * temp1 + temp2 * temp2)
            ratio = actred / prered if prered != 0.0 else 0.0
            delta, lam = _new_radius(ratio, actred, dirder, fnorm, fnorm1, pnorm, delta, lam)
            if ratio >= 1e-4:  # accept the step
                for j in range(n):
                    x[j] = xn[j]
                r = r_new
                fnorm = fnorm1
                for j in range(n):
                    xn[j] = D[j] * x[j]
                xnorm = enorm(xn)
                nit += 1
            status = _status(actred, prered, ratio, delta, xnorm, fnorm, nfev, ftol, xtol, max_nfev)
            if ratio >= 1e-4:
                J = jac(x, *args)
                njev += 1
                break
            if status != LsqStatus.RUNNING:
                break
    return x, r, J, nfev, njev, nit, status


@njit
def lm_solve_box(res, jac, args, x0, lo, hi, opts_f, opts_i):
    """Levenberg-Marquardt on the box ``lo <= x <= hi``: an active-set variant (see the module doc).

    Each iteration fixes the variables at a bound whose gradient component
    points out of the box, takes Moré's step on the free ones (the same
    ``lm_parameter`` on the Jacobian's free columns) and projects the trial
    point into the box; the ratio test uses the reduction the linear model
    predicts for the projected step. The ``gtol`` test is on the free
    variables' cosines, the others satisfying the box's first-order
    conditions by construction.
    """
    n = x0.shape[0]
    x = np.empty(n)
    for j in range(n):
        x[j] = min(max(x0[j], lo[j]), hi[j])
    r, fnorm, J = evaluate_start(res, jac, args, x)
    nfev, njev, nit = 1, 1, 0
    m = r.shape[0]
    if not math.isfinite(fnorm):
        return x, r, J, nfev, njev, nit, LsqStatus.BAD_START
    ftol, xtol, gtol, factor = opts_f[FTOL], opts_f[XTOL], opts_f[GTOL], opts_f[FACTOR]
    max_nfev = opts_i[MAX_NFEV]
    D = np.empty(n)
    cn = np.empty(n)
    g = np.empty(n)
    xn = np.empty(n)
    step = np.empty(n)
    js = np.empty(m)
    delta = 0.0
    xnorm = 0.0
    lam = 0.0
    status = LsqStatus.RUNNING
    first = True
    while status == LsqStatus.RUNNING:
        column_norms_and_gradient(J, r, cn, g)
        if first:
            for j in range(n):
                D[j] = cn[j] if cn[j] != 0.0 else 1.0
                xn[j] = D[j] * x[j]
            xnorm = enorm(xn)
            delta = factor * xnorm if xnorm != 0.0 else factor
        else:
            for j in range(n):
                D[j] = max(D[j], cn[j])
        free = np.empty(n, dtype=np.bool_)
        nf = 0
        gnorm = 0.0
        for j in range(n):
            free[j] = not ((x[j] <= lo[j] and g[j] > 0.0) or (x[j] >= hi[j] and g[j] < 0.0))
            if free[j]:
                nf += 1
                if fnorm != 0.0 and cn[j] != 0.0:
                    gnorm = max(gnorm, abs(g[j] / fnorm) / cn[j])
        if gnorm <= gtol or nf == 0:
            status = LsqStatus.GTOL_OK
            break
        Jf = np.empty((m, nf))
        Df = np.empty(nf)
        k = 0
        for j in range(n):
            if free[j]:
                for i in range(m):
                    Jf[i, k] = J[i, j]
                Df[k] = D[j]
                k += 1
        A = np.empty((m + nf, nf))
        b = np.empty(m + nf)
        pf = np.empty(nf)
        while True:
            lam = lm_parameter(Jf, r, Df, delta, lam, A, b, pf)
            k = 0
            for j in range(n):
                p_j = 0.0
                if free[j]:
                    p_j = pf[k]
                    k += 1
                xn[j] = min(max(x[j] + p_j, lo[j]), hi[j])
                step[j] = xn[j] - x[j]
            pnorm = 0.0
            for j in range(n):
                pnorm += (D[j] * step[j]) ** 2
            pnorm = math.sqrt(pnorm)
            if first:
                delta = min(delta, pnorm) if pnorm > 0.0 else delta
                first = False
            r_new = res(xn, *args)
            nfev += 1
            fnorm1 = enorm(r_new)
            if not math.isfinite(fnorm1):
                fnorm1 = math.inf
            actred = 1.0 - (fnorm1 / fnorm) ** 2 if 0.1 * fnorm1 < fnorm else -1.0
            rjs = 0.0
            for i in range(m):
                s = 0.0
                for j in range(n):
                    s += J[i, j] * step[j]
                js[i] = s
                rjs += r[i] * s
            jsn = enorm(js)
            prered = -(2.0 * rjs + jsn * jsn) / (fnorm * fnorm)  # the model's relative reduction
            dirder = 2.0 * rjs / (fnorm * fnorm)
            ratio = actred / prered if prered > 0.0 else 0.0
            delta, lam = _new_radius(ratio, actred, dirder, fnorm, fnorm1, pnorm, delta, lam)
            if ratio >= 1e-4:
                for j in range(n):
                    x[j] = xn[j]
                r = r_new
                fnorm = fnorm1
                for j in range(n):
                    xn[j] = D[j] * x[j]
                xnorm = enorm(xn)
                nit += 1
            status = _status(actred, prered, ratio, delta, xnorm, fnorm, nfev, ftol, xtol, max_nfev)
            if ratio >= 1e-4:
                J = jac(x, *args)
                njev += 1
                break
            if status != LsqStatus.RUNNING:
                break
    return x, r, J, nfev, njev, nit, status
