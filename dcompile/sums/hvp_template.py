"""The template of a finite sum's Hessian-vector product modules (for Newton-CG; see :mod:`dcompile.sums.finite_sum`).

Made like the row-loop modules (``rowloops_template.py``): the bindings block is
replaced by one objective's kernels and constants, ``data`` is spelled out as
the data items ``d0, d1, ...``.
"""

import numba
import numpy as np

from dcompile.optimize.binding import StaticKernel

# -- bindings: replaced in each generated module --
hv1 = StaticKernel(None)  # the per-sample Hessian-vector product hv1(w, *row, v)
r_hv: StaticKernel | None = None  # the regularizer's r_hv(w, v), or None without one
MEAN = False  # the average instead of the sum
N_PARAMS = 0  # the length of w
# -- end of bindings --


@numba.njit(cache=True)
def rows_hvp(w, lo, hi, data, v):
    """The sum over rows lo..hi-1 of the per-sample Hessian-vector products."""
    if w.shape[0] != N_PARAMS or v.shape[0] != N_PARAMS:
        raise ValueError("this finite-sum module was compiled for another number of parameters")
    out = np.zeros(N_PARAMS)
    for i in range(lo, hi):
        hv = hv1(w, data[i], v)
        for j in range(N_PARAMS):
            out[j] += hv[j]
    return out


@numba.njit(cache=True)
def regularizer_hvp(w, v):
    if r_hv is None:  # a constant: numba compiles one branch
        return np.zeros(N_PARAMS)
    return r_hv(w, v)


@numba.njit(cache=True)
def hvp_objective(w, data, v):
    """(Hessian of F at w) times v: the per-sample products summed over the rows."""
    out = rows_hvp(w, 0, data.shape[0], data, v)
    if MEAN:
        out *= 1.0 / data.shape[0]
    return out + regularizer_hvp(w, v)
