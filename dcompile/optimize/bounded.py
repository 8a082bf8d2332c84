"""L-BFGS-B: limited-memory BFGS on a box ``lo <= x <= hi`` (Byrd, Lu, Nocedal and Zhu, 1995).

Each iteration, in compiled code like the other methods (:mod:`dcompile.optimize.methods`):

1. **Generalized Cauchy point.** Along the projected steepest-descent path
   ``x(t) = P(x - t g)`` the quadratic model ``m(y) = f + g'(y - x) +
   (y - x)' B (y - x) / 2`` is piecewise quadratic, with a breakpoint where
   a variable reaches its bound. The breakpoints are visited in order and the
   first local minimiser of the model along the path is the Cauchy point
   ``xc``; the variables at a bound there form the active set. ``B`` is the
   L-BFGS matrix in compact form ``B = theta I - W M W'`` with
   ``W = [Y, theta S]`` (``n x 2k`` for ``k`` stored pairs) and ``M`` the
   inverse of the ``2k x 2k`` matrix ``[[-D, L'], [L, theta S'S]]``, formed
   through the positive definite ``theta S'S + L D^-1 L'`` as L-BFGS-B does
   (``D = diag(s_i'y_i)``, ``L`` the strictly lower part of ``S'Y``); each
   breakpoint costs ``O(k^2)`` updates of the path's slope and curvature
   (the recurrences of the paper's Algorithm CP).
2. **Subspace minimisation.** The model is minimised over the free variables
   with the active ones held (the direct primal method: a Newton step of the
   reduced model through the Sherman-Morrison-Woodbury formula, one
   ``2k x 2k`` solve), then projected into the box; when the projected point
   is not a descent direction the step is cut back to the box instead
   (Morales and Nocedal's 2011 remark on L-BFGS-B 3.0).
3. **Line search** along ``d = xbar - x``, starting at the step 1 (``xbar``)
   and extrapolating up to the longest step that stays in the box (the strong
   Wolfe search of :mod:`dcompile.optimize.linesearch`, bracketing capped at
   that step, which is accepted if f still falls there). The first iteration
   starts at ``min(1, 1/|d|)`` and stays within ``xbar``, as L-BFGS-B does.

The pair ``(s, y)`` is kept when ``s'y`` is safely positive, so ``B`` stays
positive definite. The gradient test is on the projected gradient,
``max_i |P(x - g)_i - x_i| <= gtol`` (SciPy's ``pgtol``), and ``hist_g``
records it; the other stopping rules are those of the unbounded methods.
State and chunking as in :mod:`dcompile.optimize.methods` (``W`` holds the
pairs as for L-BFGS; ``w`` holds ``s_k'y_k`` and the pairs' inner products ``S'Y``,
``S'S`` and ``Y'Y``, updated as each pair arrives, so an iteration costs ``O(k n)``
besides the breakpoints).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dcompile.optimize.linesearch import NON_FINITE as SEARCH_NON_FINITE
from dcompile.optimize.linesearch import OK as SEARCH_OK
from dcompile.optimize.linesearch import strong_wolfe
from dcompile.optimize.methods import (
    C1,
    C2,
    MAXFEV_OPT,
    MAXITER_OPT,
    MEMORY,
    FloatSlot,
    IntSlot,
    State,
    _finish,
    _stop,
    failed_search,
    first_records,
)
from dcompile.optimize.result import Status
from dcompile.optimize.vectors import dot, step_to_box

# ruff: noqa: PLR0917, PLR0912, PLR0915, C901  (the loops' state travels as positional arrays)

_CURVATURE = 1e-10  # a pair (s, y) is kept when s'y > 1e-10 |s| |y|, as in L-BFGS
_EPS = 2.220446049250313e-16
_MAX_EVALS = 50  # per line search
_EXTRAPOLATE = 4.0  # bracketing grows the step fourfold (MINPACK-2's dcsrch grows it up to fivefold)


@njit(cache=True)
def projected_gradient_max(x, g, lo, hi):
    """``max_i |P(x - g)_i - x_i|``: zero exactly at a first-order point of the box problem."""
    out = 0.0
    for i in range(x.shape[0]):
        v = x[i] - g[i]
        v = min(max(v, lo[i]), hi[i])
        out = max(out, abs(v - x[i]))
    return out


@njit
def start_bounded(vg, args, x0, lo, hi, opts_f, opts_i):
    """Project ``x0`` into the box, evaluate it and allocate the ``State`` (as ``methods.start``)."""
    n = x0.shape[0]
    x = np.empty(n)
    for i in range(n):
        x[i] = min(max(x0[i], lo[i]), hi[i])
    f, g = vg(x, *args)
    f = float(f)
    fs, ist, hist_f, hist_g = first_records(f, projected_gradient_max(x, g, lo, hi), 1.0, opts_f, opts_i)
    m = opts_i[MEMORY]
    return State(x, g, fs, ist, np.zeros((2 * m, n)), np.zeros(2 * m + 3 * m * m), hist_f, hist_g)


# -- the compact L-BFGS matrix ------------------------------------------------------------------


@njit(cache=True)
def _solve_small(A, B):
    """``A^-1 B`` for a small dense ``A`` (Gaussian elimination with partial pivoting); A, B copied."""
    n = A.shape[0]
    a = A.copy()
    b = B.copy()
    for col in range(n):
        piv = col
        for r in range(col + 1, n):
            if abs(a[r, col]) > abs(a[piv, col]):
                piv = r
        if piv != col:
            for c in range(n):
                a[col, c], a[piv, c] = a[piv, c], a[col, c]
            for c in range(b.shape[1]):
                b[col, c], b[piv, c] = b[piv, c], b[col, c]
        p = a[col, col]
        if p == 0.0:
            p = _EPS  # singular (should not happen with positive curvature pairs): a tiny pivot
            a[col, col] = p
        for r in range(col + 1, n):
            factor = a[r, col] / p
            if factor != 0.0:
                for c in range(col, n):
                    a[r, c] -= factor * a[col, c]
                for c in range(b.shape[1]):
                    b[r, c] -= factor * b[col, c]
    for col in range(n - 1, -1, -1):
        for c in range(b.shape[1]):
            s = b[col, c]
            for k in range(col + 1, n):
                s -= a[col, k] * b[k, c]
            b[col, c] = s / a[col, col]
    return b


@njit(cache=True)
def _products(w, m):
    """The pairs' inner products kept in ``w``: ``S'Y``, ``S'S`` and ``Y'Y`` by slot (``m x m`` views)."""
    base = 2 * m
    sy = w[base : base + m * m].reshape((m, m))
    ss = w[base + m * m : base + 2 * m * m].reshape((m, m))
    yy = w[base + 2 * m * m : base + 3 * m * m].reshape((m, m))
    return sy, ss, yy


@njit(cache=True)
def store_pair(W, w, slot, stored, newest, s, y):
    """Put the pair ``(s, y)`` in ``slot`` and update its inner products with the stored pairs: O(k n)."""
    m = W.shape[0] // 2
    n = W.shape[1]
    for i in range(n):
        W[slot, i] = s[i]
        W[m + slot, i] = y[i]
    sy, ss, yy = _products(w, m)
    for j in range(stored):
        other = (newest - j) % m
        if other == slot:
            continue
        a = b = c = e = 0.0
        for i in range(n):
            a += s[i] * W[m + other, i]
            b += W[other, i] * y[i]
            c += s[i] * W[other, i]
            e += y[i] * W[m + other, i]
        sy[slot, other] = a
        sy[other, slot] = b
        ss[slot, other] = ss[other, slot] = c
        yy[slot, other] = yy[other, slot] = e
    a = c = e = 0.0
    for i in range(n):
        a += s[i] * y[i]
        c += s[i] * s[i]
        e += y[i] * y[i]
    sy[slot, slot] = a
    ss[slot, slot] = c
    yy[slot, slot] = e
    w[slot] = a


@njit(cache=True)
def _compact(W, w, stored, newest):
    """The pairs oldest to newest as ``(order, theta, M, WtW)``: ``B = theta I - W_k M W_k'`` and
    ``W_k' W_k``, from the inner products kept in ``w`` (no pass over the pairs)."""
    m = W.shape[0] // 2
    k = stored
    order = np.empty(k, dtype=np.int64)
    for j in range(k):
        order[j] = (newest - k + 1 + j) % m
    if k == 0:
        return order, 1.0, np.zeros((0, 0)), np.zeros((0, 0))
    sy, ss, yy = _products(w, m)
    last = order[k - 1]
    theta = yy[last, last] / sy[last, last]
    K = np.zeros((2 * k, 2 * k))
    WtW = np.empty((2 * k, 2 * k))
    for a in range(k):
        sa = order[a]
        K[a, a] = -sy[sa, sa]  # -D
        for b in range(k):
            sb = order[b]
            if a > b:  # L[a, b] = s_a' y_b below the diagonal, and L'
                K[k + a, b] = sy[sa, sb]
                K[b, k + a] = sy[sa, sb]
            K[k + a, k + b] = theta * ss[sa, sb]
            WtW[a, b] = yy[sa, sb]  # W = [Y, theta S]
            WtW[a, k + b] = theta * sy[sb, sa]
            WtW[k + a, b] = theta * sy[sa, sb]
            WtW[k + a, k + b] = theta * theta * ss[sa, sb]
    return order, theta, _middle_inverse(K, k), WtW


@njit(cache=True)
def _middle_inverse(K, k):
    """``M = K^-1`` for ``K = [[-D, L'], [L, theta S'S]]`` by its Schur complement.

    ``K`` is indefinite and, on badly scaled problems, spans many orders of
    magnitude, where plain elimination loses the digits the model needs. As
    L-BFGS-B does, the solve goes through ``T = theta S'S + L D^-1 L'``, which
    is symmetric positive definite (Cholesky): ``z2 = T^-1 (v2 + L D^-1 v1)``,
    ``z1 = D^-1 (L' z2 - v1)``; applied to the identity's columns.
    """
    d = np.empty(k)
    for a in range(k):
        d[a] = -K[a, a]  # D
    T = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            s = K[k + a, k + b]
            for c in range(k):
                s += K[k + a, c] * K[k + b, c] / d[c]  # (L D^-1 L')[a, b]
            T[a, b] = s
    C = np.zeros((k, k))  # Cholesky factor of T (lower)
    for a in range(k):
        for b in range(a + 1):
            s = T[a, b]
            for c in range(b):
                s -= C[a, c] * C[b, c]
            if a == b:
                C[a, a] = math.sqrt(s) if s > 0.0 else math.sqrt(_EPS * max(abs(T[a, a]), 1e-300))
            else:
                C[a, b] = s / C[b, b]
    M = np.empty((2 * k, 2 * k))
    rhs = np.empty(k)
    z2 = np.empty(k)
    for col in range(2 * k):
        for a in range(k):  # v2 + L D^-1 v1 with v = e_col
            s = 1.0 if col == k + a else 0.0
            for c in range(k):
                if col == c:
                    s += K[k + a, c] / d[c]
            rhs[a] = s
        for a in range(k):  # C C' z2 = rhs
            s = rhs[a]
            for c in range(a):
                s -= C[a, c] * z2[c]
            z2[a] = s / C[a, a]
        for a in range(k - 1, -1, -1):
            s = z2[a]
            for c in range(a + 1, k):
                s -= C[c, a] * z2[c]
            z2[a] = s / C[a, a]
        for a in range(k):  # z1 = D^-1 (L' z2 - v1)
            s = -1.0 if col == a else 0.0
            for c in range(k):
                s += K[k + c, a] * z2[c]
            M[a, col] = s / d[a]
            M[k + a, col] = z2[a]
    return M


@njit(cache=True)
def _row(W, order, theta, i, out):
    """Row ``i`` of ``W_k = [Y, theta S]`` into ``out`` (length 2k)."""
    m = W.shape[0] // 2
    k = order.shape[0]
    for j in range(k):
        out[j] = W[m + order[j], i]
        out[k + j] = theta * W[order[j], i]


@njit(cache=True)
def _wt(W, order, theta, v, out):
    """``W_k' v`` into ``out``."""
    m = W.shape[0] // 2
    k = order.shape[0]
    for j in range(k):
        a = 0.0
        b = 0.0
        for i in range(v.shape[0]):
            a += W[m + order[j], i] * v[i]
            b += W[order[j], i] * v[i]
        out[j] = a
        out[k + j] = theta * b


@njit(cache=True)
def _matvec(M, v, out):
    for a in range(out.shape[0]):
        t = 0.0
        for b in range(v.shape[0]):
            t += M[a, b] * v[b]
        out[a] = t


# -- one iteration's direction ----------------------------------------------------------------


@njit(cache=True)
def cauchy_point(x, g, lo, hi, W, order, theta, M, xc, c):
    """The generalized Cauchy point into ``xc`` and ``c = W' (xc - x)`` (the paper's Algorithm CP)."""
    n = x.shape[0]
    k2 = M.shape[0]
    t = np.empty(n)
    d = np.zeros(n)
    for i in range(n):
        xc[i] = x[i]
        gi = g[i]
        if gi < 0.0:
            ti = (x[i] - hi[i]) / gi if hi[i] < np.inf else np.inf
        elif gi > 0.0:
            ti = (x[i] - lo[i]) / gi if lo[i] > -np.inf else np.inf
        else:
            ti = np.inf
        t[i] = ti
        if ti > 0.0 and gi != 0.0:
            d[i] = -gi
    for j in range(k2):
        c[j] = 0.0
    p = np.zeros(k2)
    _wt(W, order, theta, d, p)
    f1 = -dot(d, d)
    if f1 == 0.0:
        return  # no descent along the projected path: xc = x
    Mp = np.empty(k2)
    _matvec(M, p, Mp)
    f2 = -theta * f1 - dot(p, Mp)
    f2_org = f2
    dtmin = -f1 / f2
    told = 0.0
    count = 0
    for i in range(n):
        if d[i] != 0.0 and t[i] < np.inf:
            count += 1
    breaks = np.empty(count, dtype=np.int64)
    count = 0
    for i in range(n):
        if d[i] != 0.0 and t[i] < np.inf:
            breaks[count] = i
            count += 1
    ranked = breaks[np.argsort(t[breaks], kind="mergesort")]
    wb = np.empty(k2)
    Mc = np.zeros(k2)  # M c and M p follow c and p: one product with M per breakpoint
    Mw = np.empty(k2)
    for b in ranked:
        dt = t[b] - told
        if dtmin < dt:
            break
        xc[b] = hi[b] if d[b] > 0.0 else lo[b]
        zb = xc[b] - x[b]
        for j in range(k2):
            c[j] += dt * p[j]
            Mc[j] += dt * Mp[j]
        gb = g[b]
        _row(W, order, theta, b, wb)
        _matvec(M, wb, Mw)
        f1 += dt * f2 + gb * gb + theta * gb * zb - gb * dot(wb, Mc)
        f2 += -theta * gb * gb - 2.0 * gb * dot(wb, Mp) - gb * gb * dot(wb, Mw)
        f2 = max(_EPS * f2_org, f2)
        for j in range(k2):
            p[j] += gb * wb[j]
            Mp[j] += gb * Mw[j]
        d[b] = 0.0
        dtmin = -f1 / f2
        told = t[b]
    dtmin = max(dtmin, 0.0)
    told += dtmin
    for i in range(n):
        if d[i] != 0.0:
            xc[i] = x[i] + told * d[i]
    for j in range(k2):
        c[j] += dtmin * p[j]


@njit(cache=True)
def subspace_point(x, g, lo, hi, W, order, theta, M, WtW, xc, c, xbar):
    """Minimise the model over the variables free at ``xc``, into ``xbar`` (direct primal method)."""
    n = x.shape[0]
    k2 = M.shape[0]
    free = np.empty(n, dtype=np.bool_)
    nfree = 0
    for i in range(n):
        free[i] = lo[i] < xc[i] < hi[i]
        nfree += free[i]
        xbar[i] = xc[i]
    if nfree == 0:
        return
    Mc = np.empty(k2)
    _matvec(M, c, Mc)
    wi = np.empty(k2)
    r = np.zeros(n)
    v = np.zeros(k2)
    G = np.zeros((k2, k2))  # sum over free i of w_i w_i'
    direct = 2 * nfree <= n  # G = sum over free rows, or W'W minus the fixed rows: whichever is shorter
    if not direct:
        for a in range(k2):
            for b in range(k2):
                G[a, b] = WtW[a, b]
    for i in range(n):
        if not free[i]:
            if not direct and k2 > 0:
                _row(W, order, theta, i, wi)
                for a in range(k2):
                    for b in range(k2):
                        G[a, b] -= wi[a] * wi[b]
            continue
        _row(W, order, theta, i, wi)
        r[i] = g[i] + theta * (xc[i] - x[i]) - dot(wi, Mc)
        for a in range(k2):
            v[a] += wi[a] * r[i]
            if direct:
                for b in range(k2):
                    G[a, b] += wi[a] * wi[b]
    dhat = np.zeros(n)
    if k2 > 0:
        Mv = np.empty(k2)
        _matvec(M, v, Mv)
        N = np.eye(k2) - (M @ G) / theta
        sol = _solve_small(N, Mv.reshape((k2, 1)))
        for i in range(n):
            if free[i]:
                _row(W, order, theta, i, wi)
                s = 0.0
                for a in range(k2):
                    s += wi[a] * sol[a, 0]
                dhat[i] = -r[i] / theta - s / (theta * theta)
    else:
        for i in range(n):
            if free[i]:
                dhat[i] = -r[i] / theta
    slope = 0.0
    for i in range(n):  # the projected Newton point
        if free[i]:
            xbar[i] = min(max(xc[i] + dhat[i], lo[i]), hi[i])
        slope += (xbar[i] - x[i]) * g[i]
    if slope < 0.0:
        return
    alpha = 1.0  # not a descent direction: cut the step back to the box instead
    for i in range(n):
        if free[i] and dhat[i] != 0.0:
            room = (hi[i] - xc[i]) / dhat[i] if dhat[i] > 0.0 else (lo[i] - xc[i]) / dhat[i]
            alpha = min(alpha, room)
    for i in range(n):
        xbar[i] = xc[i] + alpha * dhat[i] if free[i] else xc[i]


# -- the line search on a box -------------------------------------------------------------------


@njit(cache=True)
def max_step(x, p, lo, hi):
    """The longest step ``a`` with ``x + a p`` in the box (at most 1e10; at least 1 for our directions)."""
    return min(step_to_box(x, p, lo, hi), 1e10)


# -- the iteration ------------------------------------------------------------------------------


@njit
def lbfgsb_iterate(vg, args, lo, hi, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    """L-BFGS-B iterations (see the module doc) until the run stops or ``nit`` reaches ``it_stop``."""
    if ist[IntSlot.STATUS] != Status.RUNNING:
        return
    n = x.shape[0]
    m = W.shape[0] // 2
    stored, newest = ist[IntSlot.STORED], ist[IntSlot.NEWEST]
    xc, gc, f = x.copy(), g.copy(), fs[FloatSlot.F]
    cauchy = np.empty(n)
    xbar = np.empty(n)
    p = np.empty(n)
    status = Status.RUNNING
    stop = min(it_stop, opts_i[MAXITER_OPT])
    while ist[IntSlot.NIT] < stop:
        order, theta, M, WtW = _compact(W, w, stored, newest)
        c = np.empty(M.shape[0])
        cauchy_point(xc, gc, lo, hi, W, order, theta, M, cauchy, c)
        subspace_point(xc, gc, lo, hi, W, order, theta, M, WtW, cauchy, c, xbar)
        slope = 0.0
        for i in range(n):
            p[i] = xbar[i] - xc[i]
            slope += p[i] * gc[i]
        if not slope < 0.0:  # rounding in the model: fall back to the Cauchy point, then restart
            slope = 0.0
            for i in range(n):
                p[i] = cauchy[i] - xc[i]
                slope += p[i] * gc[i]
            if not slope < 0.0:
                if stored == 0:
                    status = Status.LINE_SEARCH_FAILED
                    break
                stored = 0
                continue
        alpha0, alpha_max = 1.0, max_step(xc, p, lo, hi)
        if ist[IntSlot.NIT] == 0:  # the first step: length at most 1 and not past xbar (as L-BFGS-B)
            alpha0 = min(1.0, 1.0 / max(math.sqrt(dot(p, p)), 1e-300))
            alpha_max = 1.0
        a, x_new, f_new, g_new, evals, ls = strong_wolfe(
            vg, args, xc, f, gc, p, alpha0, opts_f[C1], opts_f[C2], _MAX_EVALS, alpha_max, _EXTRAPOLATE
        )
        ist[IntSlot.NFEV] += evals
        if ls != SEARCH_OK or a == 0.0:
            if stored > 0 and ls != SEARCH_NON_FINITE:  # a stale model: forget the pairs, try steepest descent
                stored = 0
                continue
            status = Status.NON_FINITE if ls == SEARCH_NON_FINITE else failed_search(hist_g[ist[IntSlot.NIT]], opts_f)
            break
        for i in range(n):  # rounding may leave the box by an ulp
            x_new[i] = min(max(x_new[i], lo[i]), hi[i])
        it = ist[IntSlot.NIT] + 1
        ist[IntSlot.NIT] = it
        gmax = projected_gradient_max(x_new, g_new, lo, hi)
        hist_f[it] = f_new
        hist_g[it] = gmax
        status = _stop(f, f_new, hist_f[0], xc, x_new, gmax, opts_f)
        if status == Status.RUNNING and ist[IntSlot.NFEV] >= opts_i[MAXFEV_OPT]:
            status = Status.MAXFEV
        sy = ss = yy = 0.0
        for i in range(n):
            s_i = x_new[i] - xc[i]
            y_i = g_new[i] - gc[i]
            sy += s_i * y_i
            ss += s_i * s_i
            yy += y_i * y_i
        if status == Status.RUNNING and sy > _CURVATURE * math.sqrt(ss * yy):
            slot = (newest + 1) % m
            store_pair(W, w, slot, min(stored, m - 1), newest, x_new - xc, g_new - gc)
            newest = slot
            stored = min(stored + 1, m)
        xc, gc, f = x_new, g_new, f_new
        if status != Status.RUNNING:
            break
    ist[IntSlot.STORED], ist[IntSlot.NEWEST] = stored, newest
    _finish(x, g, fs, ist, xc, gc, f, status, opts_i)
