"""Line searches that run in numba nopython mode.

Both searches look along a descent direction ``p`` from ``x`` at
``phi(a) = f(x + a p)``, whose slope is ``phi'(a) = g(x + a p) . p``, calling
the compiled value-and-gradient ``vg(x, *args) -> (f, g)`` directly (pass
``value_and_grad(f).njit`` as ``vg`` and the data arguments as the tuple
``args``, ``()`` when there are none). ``x``, ``g0`` and ``p`` are 1-D float64
arrays.

``armijo``
    Backtracking until the sufficient-decrease (Armijo) condition
    ``phi(a) <= phi(0) + c1 a phi'(0)`` holds. The first backtrack minimises the
    quadratic through ``phi(0), phi'(0), phi(a)``, later ones the cubic through
    ``phi(0), phi'(0)`` and the last two trials; the new step is kept in
    ``[0.1 a, 0.5 a]`` (Nocedal & Wright, Numerical Optimization, sec. 3.5).
``strong_wolfe``
    A step satisfying sufficient decrease and the strong curvature condition
    ``|phi'(a)| <= c2 |phi'(0)|``: a bracketing phase that doubles the step
    until an interval is known to contain such a point, then a zoom that
    shrinks the interval with the minimiser of the cubic through both ends'
    values and slopes, falling back to a quadratic and to bisection when the
    cubic lands within 10% of an end (Nocedal & Wright, Algorithms 3.5, 3.6).
    A trial whose Armijo test fails only by rounding (the decrease is below
    the accuracy of f near a minimiser) is accepted when Hager and Zhang's
    approximate Wolfe conditions hold: the slope shows the decrease the
    Armijo test could not see, and f rose by no more than ``1e-10 |f0|``.

Both return ``(alpha, x_new, f_new, g_new, nfev, status)``; ``nfev`` counts
calls of ``vg``. ``status`` is one of

* ``OK`` (0): ``alpha`` satisfies the search's conditions.
* ``MAX_EVALS`` (1): no acceptable step within ``max_evals`` evaluations, or the
  step became too small to change ``x`` in floating point. The best point seen
  with ``f < f0`` is returned, or ``x`` itself (the same array) with ``alpha = 0``,
  ``f0`` and ``g0``.
* ``NOT_DESCENT`` (2): ``g0 . p >= 0``; nothing is evaluated, ``x`` is returned.
* ``NON_FINITE`` (3): every trial step gave a non-finite value or slope (or ``f0``
  or ``g0 . p`` is not finite); ``x`` is returned.
* ``STILL_DECREASING`` (4, strong Wolfe only): the budget ran out while the
  step was still doubling and f still falling (no bracket was found): the last,
  best point is returned; f may be unbounded below along ``p``.

A trial whose value or slope is NaN or infinite is never accepted: the step
shrinks (to a quarter of the distance from the last finite point), so a
function undefined beyond some radius is handled. Every loop counts
evaluations and stops at ``max_evals``, so both searches always terminate.

Caching: the functions that take ``vg`` are compiled with ``cache=False``: numba
types a dispatcher argument by the dispatcher object itself, so an on-disk entry
would have to pickle it (numba issues #2956, #6284). They are compiled into the
cached entry points of a generated driver module instead, which binds one
objective's kernels as constants (:mod:`dcompile.optimize.binding`,
:mod:`dcompile.optimize.driver`); the helpers without ``vg`` are cached.
"""

from __future__ import annotations

import math

from numba import njit

from dcompile.optimize.vectors import dot as _dot
from dcompile.optimize.vectors import same as _same

OK = 0
MAX_EVALS = 1
NOT_DESCENT = 2
NON_FINITE = 3
STILL_DECREASING = 4

_NONFINITE_SHRINK = 0.25  # a non-finite trial: go to this fraction of the way from the last finite point
_BACKTRACK_MIN = 0.1  # Armijo: the next step lies in [0.1 a, 0.5 a]
_BACKTRACK_MAX = 0.5
_ZOOM_MARGIN = 0.1  # zoom: an interpolated step must stay this fraction of the interval away from its ends
_EXTRAPOLATE = 2.0  # bracketing: the step grows by this factor
_APPROX_F = 1e-10  # approximate Wolfe: f may exceed f0 by this fraction of |f0| (rounding)


@njit(cache=False)  # takes vg: see the module docstring on caching
def _evaluate(vg, args, xn, p):
    """``f, g, slope, finite`` at ``xn``; finite means value and slope (so every g_i) are."""
    f, g = vg(xn, *args)
    f = float(f)
    d = _dot(g, p)
    return f, g, d, math.isfinite(f) and math.isfinite(d)


@njit(cache=True)
def _check_start(f0, d0):
    """``-1`` when a search may start, else the status to return at once."""
    if not (math.isfinite(f0) and math.isfinite(d0)):
        return NON_FINITE
    if d0 >= 0.0:
        return NOT_DESCENT
    return -1


@njit(cache=True)
def _failure(nfev, any_finite):
    return MAX_EVALS if any_finite or nfev == 0 else NON_FINITE


# -- Armijo backtracking ------------------------------------------------------------


@njit(cache=True)
def _backtrack_step(f0, d0, a, fa, a_prev, f_prev):  # noqa: PLR0917
    """The next, smaller step after ``a`` failed the Armijo test.

    Minimiser of the quadratic through ``phi(0), phi'(0), phi(a)`` when there is no
    earlier finite trial ``a_prev`` (``a_prev == 0``), else of the cubic through
    ``phi(0), phi'(0), phi(a_prev), phi(a)``; kept in ``[0.1 a, 0.5 a]``.
    """
    if a_prev > 0.0:
        r1 = fa - f0 - d0 * a
        r0 = f_prev - f0 - d0 * a_prev
        den = a * a * a_prev * a_prev * (a - a_prev)
        c3 = (a_prev * a_prev * r1 - a * a * r0) / den
        c2 = (-a_prev * a_prev * a_prev * r1 + a * a * a * r0) / den
        disc = c2 * c2 - 3.0 * c3 * d0
        if disc < 0.0:
            new = math.nan
        elif c2 >= 0.0:  # -d0 / (c2 + sqrt(disc)): no cancellation, and fine for c3 == 0
            new = -d0 / (c2 + math.sqrt(disc))
        else:
            new = (-c2 + math.sqrt(disc)) / (3.0 * c3)
    else:
        new = -d0 * a * a / (2.0 * (fa - f0 - d0 * a))
    lo, hi = _BACKTRACK_MIN * a, _BACKTRACK_MAX * a
    if not (new >= lo):  # also NaN
        return lo if math.isfinite(new) else hi
    return min(new, hi)


@njit(cache=False)  # takes vg: see the module docstring on caching
def armijo(vg, args, x, f0, g0, p, alpha0, c1, max_evals):  # noqa: PLR0917
    """Backtracking under Armijo's rule. Returns (alpha, x_new, f_new, g_new, nfev, status).

    Tries ``alpha0`` first and accepts the first step with
    ``f(x + a p) <= f0 + c1 a g0 . p`` (and a finite value and slope).
    """
    f0 = float(f0)
    d0 = _dot(g0, p)
    status = _check_start(f0, d0)
    if status >= 0:
        return 0.0, x, f0, g0, 0, status
    best_a, best_x, best_f, best_g = 0.0, x, f0, g0
    a = float(alpha0)
    a_prev, f_prev = 0.0, 0.0  # the last finite rejected trial (a_prev == 0: none)
    nfev = 0
    any_finite = False
    while nfev < max_evals and a > 0.0:
        xn = x + a * p
        if _same(xn, x):
            break
        f, g, _, finite = _evaluate(vg, args, xn, p)
        nfev += 1
        if not finite:
            a_prev = 0.0
            a *= _NONFINITE_SHRINK
            continue
        any_finite = True
        if f <= f0 + c1 * a * d0:
            return a, xn, f, g, nfev, OK
        if f < best_f:
            best_a, best_x, best_f, best_g = a, xn, f, g
        a_new = _backtrack_step(f0, d0, a, f, a_prev, f_prev)
        a_prev, f_prev = a, f
        a = a_new
    return best_a, best_x, best_f, best_g, nfev, _failure(nfev, any_finite)


# -- strong Wolfe ---------------------------------------------------------------------


@njit(cache=True)
def _cubic_min(a1, f1, d1, a2, f2, d2):  # noqa: PLR0917
    """Minimiser of the cubic with values ``f1, f2`` and slopes ``d1, d2`` at ``a1, a2`` (NaN if none)."""
    e1 = d1 + d2 - 3.0 * (f1 - f2) / (a1 - a2)
    disc = e1 * e1 - d1 * d2
    if not (disc >= 0.0):
        return math.nan
    e2 = math.copysign(math.sqrt(disc), a2 - a1)
    den = d2 - d1 + 2.0 * e2
    if den == 0.0:
        return math.nan
    return a2 - (a2 - a1) * (d2 + e2 - e1) / den


@njit(cache=True)
def _approx_wolfe(f, d, f0, d0, c1, c2):  # noqa: PLR0917
    """Hager and Zhang's approximate Wolfe test, for steps whose decrease is lost in rounding.

    Near a minimiser the decrease ``c1 a |phi'(0)|`` falls below the rounding
    error of ``f`` itself and the Armijo test fails on noise. The slopes are
    still accurate there: ``phi'(a) <= (1 - 2 c1) |phi'(0)|`` is the Armijo
    condition of the quadratic model, so a step that meets it, the strong
    curvature condition, and does not raise ``f`` by more than rounding
    (``1e-10 |f0|``) is accepted (Hager & Zhang, SIAM J. Optim. 16, 2005).
    """
    return f <= f0 + _APPROX_F * abs(f0) and d <= (2.0 * c1 - 1.0) * d0 and abs(d) <= -c2 * d0


@njit(cache=True)
def _zoom_step(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi, hi_finite):  # noqa: PLR0917
    """The next trial inside the bracket: cubic, else quadratic, else bisection.

    An interpolated step must lie at least 10% of the interval away from both
    ends; a non-finite ``hi`` end moves a quarter of the way from ``lo``.
    """
    width = a_hi - a_lo
    if not hi_finite:
        return a_lo + _NONFINITE_SHRINK * width
    left, right = min(a_lo, a_hi), max(a_lo, a_hi)
    margin = _ZOOM_MARGIN * abs(width)
    a = _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi)
    if left + margin <= a <= right - margin:
        return a
    curv = (f_hi - f_lo - d_lo * width) / (width * width)  # quadratic through phi(lo), phi'(lo), phi(hi)
    if curv > 0.0:
        a = a_lo - d_lo / (2.0 * curv)
        if left + margin <= a <= right - margin:
            return a
    return a_lo + 0.5 * width


@njit(cache=False)  # takes vg: see the module docstring on caching
def _zoom(vg, args, x, f0, d0, p, c1, c2, max_evals, nfev, lo, hi, any_finite):  # noqa: PLR0917
    """Algorithm 3.6: shrink the bracket ``lo = (a, f, d, x, g)``, ``hi = (a, f, d, finite)``.

    Invariants: ``lo`` satisfies sufficient decrease and has the lowest value
    seen among such points, and ``phi'(lo) (a_hi - a_lo) < 0``; so the bracket
    holds a strong-Wolfe point.
    """
    a_lo, f_lo, d_lo, x_lo, g_lo = lo
    a_hi, f_hi, d_hi, hi_finite = hi
    while nfev < max_evals:
        a = _zoom_step(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi, hi_finite)
        if not (min(a_lo, a_hi) < a < max(a_lo, a_hi)):
            break  # the bracket is down to adjacent floats
        xn = x + a * p
        if _same(xn, x_lo):
            break  # too close to lo to change x
        f, g, d, finite = _evaluate(vg, args, xn, p)
        nfev += 1
        any_finite = any_finite or finite
        if finite and _approx_wolfe(f, d, f0, d0, c1, c2):
            return a, xn, f, g, nfev, OK
        if not finite or f > f0 + c1 * a * d0 or f >= f_lo:
            a_hi, f_hi, d_hi, hi_finite = a, f, d, finite
            continue
        if abs(d) <= -c2 * d0:
            return a, xn, f, g, nfev, OK
        if d * (a_hi - a_lo) >= 0.0:
            a_hi, f_hi, d_hi, hi_finite = a_lo, f_lo, d_lo, True
        a_lo, f_lo, d_lo, x_lo, g_lo = a, f, d, xn, g
    return a_lo, x_lo, f_lo, g_lo, nfev, _failure(nfev, any_finite)


@njit(cache=False)  # takes vg: see the module docstring on caching
def strong_wolfe(vg, args, x, f0, g0, p, alpha0, c1, c2, max_evals, alpha_max=math.inf, grow=_EXTRAPOLATE):  # noqa: PLR0911, PLR0917
    """Strong Wolfe line search (bracketing + zoom with safeguarded cubic interpolation). Same return.

    The accepted step satisfies ``f(x + a p) <= f0 + c1 a g0 . p`` and
    ``|g(x + a p) . p| <= c2 |g0 . p|`` (``0 < c1 < c2 < 1``). Bracketing
    multiplies the step by ``grow``; with a finite ``alpha_max`` (the edge of
    a box, L-BFGS-B) it stops there and takes that step if f still falls.
    """
    f0 = float(f0)
    d0 = _dot(g0, p)
    status = _check_start(f0, d0)
    if status >= 0:
        return 0.0, x, f0, g0, 0, status
    a_prev, f_prev, d_prev, x_prev, g_prev = 0.0, f0, d0, x, g0
    a = min(float(alpha0), alpha_max)
    nfev = 0
    any_finite = False
    while nfev < max_evals and a > 0.0:
        xn = x + a * p
        if _same(xn, x):
            break
        f, g, d, finite = _evaluate(vg, args, xn, p)
        nfev += 1
        if finite and _approx_wolfe(f, d, f0, d0, c1, c2):
            return a, xn, f, g, nfev, OK
        if not finite or f > f0 + c1 * a * d0 or (a_prev > 0.0 and f >= f_prev):
            lo = (a_prev, f_prev, d_prev, x_prev, g_prev)
            return _zoom(vg, args, x, f0, d0, p, c1, c2, max_evals, nfev, lo, (a, f, d, finite), any_finite or finite)
        any_finite = True
        if abs(d) <= -c2 * d0:
            return a, xn, f, g, nfev, OK
        if d >= 0.0:
            lo = (a, f, d, xn, g)
            return _zoom(vg, args, x, f0, d0, p, c1, c2, max_evals, nfev, lo, (a_prev, f_prev, d_prev, True), True)
        if a >= alpha_max:
            return a, xn, f, g, nfev, OK  # still falling at the longest step allowed: take it
        a_prev, f_prev, d_prev, x_prev, g_prev = a, f, d, xn, g
        a = min(grow * a, alpha_max)
    # out of evaluations while the step was still growing and f still falling: the
    # last step is the best, and f may be unbounded below along p
    if a_prev > 0.0 and f_prev < f0:
        return a_prev, x_prev, f_prev, g_prev, nfev, STILL_DECREASING
    return 0.0, x, f0, g0, nfev, _failure(nfev, any_finite)
