"""Trust-region reflective least squares on a box, in compiled code (Branch, Coleman and Li).

Minimises ``0.5 |r(x)|^2`` subject to ``lo <= x <= hi`` (either side may be
infinite) with the residual and Jacobian kernels passed as numba function
pointers, like :mod:`dcompile.optimize.lm`. The method is the trust-region
reflective algorithm of Branch, Coleman and Li (1999, "A subspace, interior,
and conjugate gradient method for large-scale bound-constrained minimization
problems"), SciPy's ``method="trf"``, written here on top of Moré's
trust-region solver of ``lm.py``:

* the iterates stay strictly inside the box. Coleman and Li's scaling
  ``v`` (the distance to the bound the gradient points at, 1 where there is
  none) turns the box's first-order conditions into ``v * g = 0``, and the
  change of variables ``x = x_k + d * s`` with ``d = sqrt(v / c)`` (``c``:
  the largest column norms of ``J`` seen so far, as in ``lm``; ``d = 1 / c``
  where no bound is in the way) makes the problem look unconstrained near the
  iterate. Dividing ``v`` by ``c`` inside the root (SciPy's ``x_scale="jac"``
  multiplies ``sqrt(v)`` by ``1 / c``) keeps the step independent of the
  units of ``x``: near an active bound the step then covers the whole
  distance to it (cut at ``theta``) and the iteration converges fast, where
  the other form covers a fraction ``1 / c`` of it per iteration;
* in those variables the model is ``|J_h s + r|^2 / 2 + s' C s / 2`` with
  ``J_h = J d`` and the diagonal ``C = g dv / c`` (the derivative of ``v``);
  it is minimised in a ball of radius ``delta`` by ``lm_parameter`` on the
  stacked matrix ``[J_h; sqrt(C)]`` (a QR, never the normal equations);
* a step that leaves the box is replaced by the best of three, by the
  model's value: the step cut at ``theta`` of the way to the first bound it
  meets, the step *reflected* off that bound (the hit components change
  sign) and minimised along the reflected segment, and the model's minimum
  along the scaled steepest descent direction (a Cauchy step); all of them
  keep ``theta = max(0.995, 1 - optimality)`` of the distance to the box;
* the radius follows the ratio of actual to predicted reduction.

Without bounds ``v = 1`` and ``C = 0``: the method is a plain scaled trust
region (the Levenberg-Marquardt step of ``lm`` in another parameterisation).

Stopping tests, relative like ``lm``'s: ``gtol`` on the largest
first-order measure ``|g_j| / (|r| c_j)`` (the cosine of ``lm``), multiplied
for a variable whose gradient points at a bound by ``min(1, v_j c_j / |r|)``
(the distance to that bound on the scale over which the residual changes by
``|r|``); ``ftol`` on the relative reduction of the sum of squares, actual
and predicted; ``xtol`` on the step relative to the scaled ``x``. Statuses
are ``lm``'s :class:`~dcompile.optimize.lm.LsqStatus` (SciPy's).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dcompile.optimize.lm import (
    FACTOR,
    FTOL,
    GTOL,
    MAX_NFEV,
    XTOL,
    LsqStatus,
    column_norms_and_gradient,
    enorm,
    evaluate_start,
    lm_parameter,
    verdict,
)
from dcompile.optimize.vectors import step_to_box

# ruff: noqa: PLR0917, PLR0912, PLR0915, C901  (numerical kernels keep their state in locals)

_EPS = 2.220446049250313e-16
_ACCEPT = 1e-4  # a trial step is taken when it achieves this fraction of the predicted reduction


@njit(cache=True)
def strictly_inside(x0, lo, hi, x):
    """``x0`` projected into the box and moved off its bounds by a relative 1e-10 (never past the
    middle of a finite interval); a variable with ``lo == hi`` stays at its value."""
    for j in range(x0.shape[0]):
        v = min(max(x0[j], lo[j]), hi[j])
        if lo[j] < hi[j]:
            mid = 0.5 * (lo[j] + hi[j]) if math.isfinite(lo[j] + hi[j]) else v
            if v == lo[j]:
                v = min(lo[j] + 1e-10 * max(1.0, abs(lo[j])), mid)
            elif v == hi[j]:
                v = max(hi[j] - 1e-10 * max(1.0, abs(hi[j])), mid)
        x[j] = v


@njit(cache=True)
def coleman_li(x, g, lo, hi, v, dv):
    """Coleman and Li's scaling: ``v`` the distance to the bound ``-g`` points at (1 if none), ``dv``
    its derivative (``-1``, ``+1`` or 0)."""
    for j in range(x.shape[0]):
        if g[j] < 0.0 and hi[j] < math.inf:
            v[j] = hi[j] - x[j]
            dv[j] = -1.0
        elif g[j] > 0.0 and lo[j] > -math.inf:
            v[j] = x[j] - lo[j]
            dv[j] = 1.0
        else:
            v[j] = 1.0
            dv[j] = 0.0


@njit(cache=True)
def to_sphere(s, u, delta):
    """The ``t >= 0`` with ``|s + t u| = delta`` (``|s| <= delta``; inf if ``u = 0``)."""
    a = np.dot(u, u)
    if a == 0.0:
        return math.inf
    b = np.dot(s, u)
    c = np.dot(s, s) - delta * delta
    disc = math.sqrt(max(b * b - a * c, 0.0))
    if b >= 0.0:
        return max(-c / (b + disc), 0.0) if b + disc > 0.0 else 0.0
    return max((disc - b) / a, 0.0)


@njit(cache=True)
def model(Ja, m, gh, C, s, tmp):
    """The model's change ``gh's + |J_h s|^2 / 2 + s'C s / 2`` (``J_h``: the first ``m`` rows of ``Ja``)."""
    n = s.shape[0]
    q = 0.0
    for j in range(n):
        q += gh[j] * s[j] + 0.5 * C[j] * s[j] * s[j]
    for i in range(m):
        t = 0.0
        for j in range(n):
            t += Ja[i, j] * s[j]
        tmp[i] = t
        q += 0.5 * t * t
    return q


@njit(cache=True)
def line_min(Ja, m, gh, C, s0, u, t_lo, t_hi, tmp):
    """The ``t`` in ``[t_lo, t_hi]`` minimising the model along ``s0 + t u``, and the model there."""
    n = s0.shape[0]
    a = 0.0  # q(s0 + t u) = q(s0) + b t + a t^2 / 2
    b = 0.0
    for j in range(n):
        a += C[j] * u[j] * u[j]
        b += gh[j] * u[j] + C[j] * s0[j] * u[j]
    for i in range(m):
        js0 = 0.0
        ju = 0.0
        for j in range(n):
            js0 += Ja[i, j] * s0[j]
            ju += Ja[i, j] * u[j]
        a += ju * ju
        b += js0 * ju
    q0 = model(Ja, m, gh, C, s0, tmp)
    # convex: the stationary point, clipped; linear: the end where it is lower
    t = min(max(-b / a, t_lo), t_hi) if a > 0.0 else (t_hi if b < 0.0 else t_lo)
    return t, q0 + b * t + 0.5 * a * t * t


@njit(cache=True)
def select_step(x, lo, hi, d, Ja, m, gh, C, ph, delta, theta, step_h, w):
    """The step in the scaled variables (into ``step_h``) and the model's predicted reduction.

    ``ph``: the trust-region step. Inside the box it is the step; otherwise the
    best of the cut, reflected and Cauchy steps (module doc). ``w``: work,
    ``(5, max(m, n))``.
    """
    n = x.shape[0]
    p = w[0, :n]
    xb = w[1, :n]
    rh = w[2, :n]
    cand = w[3, :n]
    tmp = w[4, :m]
    inside = True
    for j in range(n):
        p[j] = d[j] * ph[j]
        xj = x[j] + p[j]
        if p[j] != 0.0 and not (lo[j] < xj < hi[j]):
            inside = False
    if inside:
        for j in range(n):
            step_h[j] = ph[j]
        return -model(Ja, m, gh, C, step_h, tmp)
    tb = step_to_box(x, p, lo, hi)
    # 1. the step cut short of the bound
    for j in range(n):
        step_h[j] = theta * tb * ph[j]
    best = model(Ja, m, gh, C, step_h, tmp)
    # 2. reflected off the bound(s) it hits first: from the point on the bound along the mirrored step
    for j in range(n):
        cand[j] = tb * ph[j]  # the scaled step to the bound
        rh[j] = ph[j]
        xb[j] = min(max(x[j] + tb * p[j], lo[j]), hi[j])
        if p[j] > 0.0 and (hi[j] - x[j]) / p[j] <= tb:
            rh[j] = -ph[j]
            xb[j] = hi[j]
        elif p[j] < 0.0 and (lo[j] - x[j]) / p[j] <= tb:
            rh[j] = -ph[j]
            xb[j] = lo[j]
    t_tr = to_sphere(cand, rh, delta)
    for j in range(n):
        p[j] = d[j] * rh[j]
    t_up = min(t_tr, step_to_box(xb, p, lo, hi))
    if math.isfinite(t_up) and t_up > 0.0:
        t, q = line_min(Ja, m, gh, C, cand, rh, (1.0 - theta) * t_up, theta * t_up, tmp)
        if q < best:
            best = q
            for j in range(n):
                step_h[j] = cand[j] + t * rh[j]
    # 3. the Cauchy step: the model's minimum along -gh, inside the ball and the box
    gnorm = 0.0
    for j in range(n):
        rh[j] = -gh[j]
        p[j] = d[j] * rh[j]
        cand[j] = 0.0
        gnorm += gh[j] * gh[j]
    if gnorm > 0.0:
        t_up = theta * min(delta / math.sqrt(gnorm), step_to_box(x, p, lo, hi))
        t, q = line_min(Ja, m, gh, C, cand, rh, 0.0, t_up, tmp)
        if q < best:
            best = q
            for j in range(n):
                step_h[j] = t * rh[j]
    return -best


@njit(cache=True)
def _status(actred, prered, ratio, dxn, xnorm, fnorm, nfev, ftol, xtol, max_nfev):
    """The status after a trial step, or ``LsqStatus.RUNNING`` to go on (``actred``, ``prered``: relative to ``f``)."""
    f_ok = abs(actred) <= ftol and 0.0 <= prered <= ftol and ratio >= 0.25
    f_stuck = abs(actred) <= _EPS and 0.0 <= prered <= _EPS
    return verdict(f_ok, dxn <= xtol * (xtol + xnorm), fnorm, nfev, max_nfev, f_stuck, dxn <= _EPS * xnorm)


@njit
def trf_solve(res, jac, args, x0, lo, hi, opts_f, opts_i):
    """Trust-region reflective from ``x0``: ``(x, r, J, nfev, njev, nit, status)`` (module doc)."""
    n = x0.shape[0]
    x = np.empty(n)
    strictly_inside(x0, lo, hi, x)
    r, fnorm, J = evaluate_start(res, jac, args, x)
    nfev, njev, nit = 1, 1, 0
    m = r.shape[0]
    if not math.isfinite(fnorm):
        return x, r, J, nfev, njev, nit, LsqStatus.BAD_START
    ftol, xtol, gtol, factor = opts_f[FTOL], opts_f[XTOL], opts_f[GTOL], opts_f[FACTOR]
    max_nfev = opts_i[MAX_NFEV]
    g = np.empty(n)
    cn = np.empty(n)
    c = np.empty(n)
    v = np.empty(n)
    dv = np.empty(n)
    d = np.empty(n)
    C = np.empty(n)
    gh = np.empty(n)
    ones = np.ones(n)
    ph = np.empty(n)
    step_h = np.empty(n)
    xn = np.empty(n)
    Ja = np.zeros((m + n, n))
    ra = np.zeros(m + n)
    A = np.empty((m + 2 * n, n))
    b = np.empty(m + 2 * n)
    w = np.empty((5, max(m, n)))
    delta = 0.0
    lam = 0.0
    status = LsqStatus.RUNNING
    first = True
    while status == LsqStatus.RUNNING:
        column_norms_and_gradient(J, r, cn, g)
        for j in range(n):
            if first:
                c[j] = cn[j] if cn[j] != 0.0 else 1.0
            else:
                c[j] = max(c[j], cn[j])
        coleman_li(x, g, lo, hi, v, dv)
        for j in range(n):  # v is a length in x's units; unscaled in the scaled variables where no bound
            d[j] = math.sqrt(v[j] / c[j]) if dv[j] != 0.0 else 1.0 / c[j]
        if first:
            s = 0.0
            for j in range(n):
                s += (x[j] / d[j]) ** 2 if d[j] > 0.0 else 0.0
            delta = factor * math.sqrt(s) if s > 0.0 else factor
            first = False
        optimality = 0.0
        if fnorm != 0.0:
            for j in range(n):
                if cn[j] != 0.0:
                    o = abs(g[j]) / (fnorm * cn[j])
                    if dv[j] != 0.0:
                        o *= min(1.0, v[j] * cn[j] / fnorm)
                    optimality = max(optimality, o)
        if optimality <= gtol:
            status = LsqStatus.GTOL_OK
            break
        for j in range(n):
            C[j] = g[j] * dv[j] / c[j]
            gh[j] = d[j] * g[j]
            for i in range(m):
                Ja[i, j] = J[i, j] * d[j]
            Ja[m + j, j] = math.sqrt(C[j])
        for i in range(m):
            ra[i] = r[i]
        theta = max(0.995, 1.0 - optimality)
        f = 0.5 * fnorm * fnorm
        xnorm = 0.0
        for j in range(n):
            xnorm += (c[j] * x[j]) ** 2
        xnorm = math.sqrt(xnorm)
        while True:  # trial steps with this Jacobian until one is taken or a test ends the run
            lam = lm_parameter(Ja, ra, ones, delta, lam, A, b, ph)
            pred = select_step(x, lo, hi, d, Ja, m, gh, C, ph, delta, theta, step_h, w)
            hn = enorm(step_h)
            dxn = 0.0
            for j in range(n):
                step = d[j] * step_h[j]
                xn[j] = min(max(x[j] + step, lo[j]), hi[j])
                if lo[j] < hi[j]:  # strictly inside: off a bound by one ulp
                    if xn[j] == lo[j]:
                        xn[j] = np.nextafter(lo[j], math.inf)
                    elif xn[j] == hi[j]:
                        xn[j] = np.nextafter(hi[j], -math.inf)
                dxn += (c[j] * (xn[j] - x[j])) ** 2
            dxn = math.sqrt(dxn)
            r_new = res(xn, *args)
            nfev += 1
            fnorm1 = enorm(r_new)
            if not math.isfinite(fnorm1):
                fnorm1 = math.inf
            f_new = 0.5 * fnorm1 * fnorm1
            ratio = (f - f_new) / pred if pred > 0.0 else -1.0
            if ratio < 0.25:
                delta = 0.25 * hn
            elif ratio > 0.75 and hn > 0.95 * delta:
                delta *= 2.0
            actred = (f - f_new) / f if math.isfinite(f_new) else -1.0
            taken = ratio >= _ACCEPT
            if taken:
                for j in range(n):
                    x[j] = xn[j]
                r = r_new
                fnorm = fnorm1
                nit += 1
            status = _status(actred, pred / f, ratio, dxn, xnorm, fnorm, nfev, ftol, xtol, max_nfev)
            if taken:
                J = jac(x, *args)
                njev += 1
                break
            if status != LsqStatus.RUNNING:
                break
    return x, r, J, nfev, njev, nit, status
