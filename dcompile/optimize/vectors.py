"""Small vector kernels for the optimizer loops: no temporaries, no BLAS call per dot.

The loops run thousands of iterations on vectors of a few entries, where one
NumPy temporary (tens of nanoseconds) costs as much as the objective. These
helpers work in place or reduce in one pass, and are cached on disk (they take
no function arguments).
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def dot(a, b):
    """``a . b``."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@njit(cache=True)
def axpy(a, x, y):
    """``y += a * x``, in place."""
    for i in range(y.shape[0]):
        y[i] += a * x[i]


@njit(cache=True)
def amax_abs(a):
    """``max |a_i|`` (0 for an empty vector); NaN if any entry is NaN, inf if any is infinite."""
    top = 0.0
    for i in range(a.shape[0]):
        v = abs(a[i])
        if math.isnan(v):
            return math.nan
        top = max(top, v)
    return top


@njit(cache=True)
def amax_abs_diff(a, b):
    """``max |a_i - b_i|``."""
    top = 0.0
    for i in range(a.shape[0]):
        top = max(top, abs(a[i] - b[i]))
    return top


@njit(cache=True)
def same(a, b):
    """Whether two vectors are identical (a step too small to change x)."""
    for i in range(a.shape[0]):  # noqa: SIM110 (a loop that numba compiles without allocating)
        if a[i] != b[i]:
            return False
    return True


@njit(cache=True)
def set_scaled(out, a, x):
    """``out = a * x``, in place."""
    for i in range(out.shape[0]):
        out[i] = a * x[i]


@njit(cache=True)
def step_to_box(x, p, lo, hi):
    """The longest ``t >= 0`` with ``x + t p`` in the box ``[lo, hi]`` (inf if ``p`` never leaves it)."""
    t = math.inf
    for i in range(x.shape[0]):
        if p[i] > 0.0:
            t = min(t, (hi[i] - x[i]) / p[i])
        elif p[i] < 0.0:
            t = min(t, (lo[i] - x[i]) / p[i])
    return max(t, 0.0)
