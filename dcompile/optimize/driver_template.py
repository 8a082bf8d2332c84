"""The template of the driver modules: one objective's optimizer loops (see :mod:`dcompile.optimize.driver`).

A driver module is this file's text with the bindings block replaced by the
objective's kernels (:func:`dcompile.optimize.template.instantiate`): ``vg``
its value-and-gradient and ``d2`` its second-derivative kernel (the Hessian
for Newton, the Hessian-vector product for Newton-CG; ``vg`` again, unused,
for the first-order methods), both as :class:`~dcompile.optimize.binding.StaticKernel`
constants so the ``cache=True`` entry points below inline them and load from
numba's disk cache in a later process. A driver keeps the entry points of the
methods it serves and leaves out the others. Per method ``<m>``:

``<m>(x0, args, gtol=1e-6, ...)``
    the whole solve, callable from Python or from the user's own ``@njit``
    code; returns ``(x, f, g, nit, nfev, nhev, status)``.
``<m>_run(x0, args, opts_f, opts_i)`` / ``<m>_start`` + ``<m>_iterate``
    what :func:`dcompile.minimize` calls: the whole run at once, or in chunks.

The functions are written out per method, as in :mod:`dcompile.optimize.generic`:
numba caches module-level functions on disk, not closures.
"""

import numba
import numpy as np

from dcompile.optimize import methods as _m
from dcompile.optimize.binding import StaticKernel

# ruff: noqa: PLR0917  (the loops' state travels as positional arrays, as in methods.py)

# -- bindings: replaced in each generated module --
vg = StaticKernel(None)  # the objective's value and gradient: vg(x, *args) -> (f, g)
d2 = StaticKernel(None)  # its Hessian or Hessian-vector product (vg for first-order methods)
# -- end of bindings --


@numba.njit(cache=True)
def gd_iterate(args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.gd_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@numba.njit(cache=True)
def gd_start(x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.GD)


@numba.njit(cache=True)
def gd_run(x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.GD)
    _m.gd_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@numba.njit(cache=True)
def gd(x0, args, gtol=1e-6, maxiter=10000, maxfev=100000, ftol=1e-15, xtol=1e-15,
       line_search=_m.ARMIJO, memory=10, c1=1e-4, c2=0.9, step=1.0):  # fmt: skip
    """Minimise from x0; returns (x, f, g, nit, nfev, nhev, status)."""
    opts_f = np.array([gtol, ftol, xtol, c1, c2, step], dtype=np.float64)
    opts_i = np.array([maxiter, maxfev, line_search, memory], dtype=np.int64)
    x, g, fs, ist, _W, _w, _hist_f, _hist_g = gd_run(x0, args, opts_f, opts_i)
    return x, fs[0], g, ist[0], ist[1], ist[2], ist[3]


@numba.njit(cache=True)
def lbfgs_iterate(args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.lbfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@numba.njit(cache=True)
def lbfgs_start(x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.LBFGS)


@numba.njit(cache=True)
def lbfgs_run(x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.LBFGS)
    _m.lbfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@numba.njit(cache=True)
def lbfgs(x0, args, gtol=1e-6, maxiter=10000, maxfev=100000, ftol=1e-15, xtol=1e-15,
          line_search=_m.WOLFE, memory=10, c1=1e-4, c2=0.9, step=1.0):  # fmt: skip
    """Minimise from x0; returns (x, f, g, nit, nfev, nhev, status)."""
    opts_f = np.array([gtol, ftol, xtol, c1, c2, step], dtype=np.float64)
    opts_i = np.array([maxiter, maxfev, line_search, memory], dtype=np.int64)
    x, g, fs, ist, _W, _w, _hist_f, _hist_g = lbfgs_run(x0, args, opts_f, opts_i)
    return x, fs[0], g, ist[0], ist[1], ist[2], ist[3]


@numba.njit(cache=True)
def bfgs_iterate(args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.bfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@numba.njit(cache=True)
def bfgs_start(x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.BFGS)


@numba.njit(cache=True)
def bfgs_run(x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.BFGS)
    _m.bfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@numba.njit(cache=True)
def bfgs(x0, args, gtol=1e-6, maxiter=10000, maxfev=100000, ftol=1e-15, xtol=1e-15,
         line_search=_m.WOLFE, memory=10, c1=1e-4, c2=0.9, step=1.0):  # fmt: skip
    """Minimise from x0; returns (x, f, g, nit, nfev, nhev, status)."""
    opts_f = np.array([gtol, ftol, xtol, c1, c2, step], dtype=np.float64)
    opts_i = np.array([maxiter, maxfev, line_search, memory], dtype=np.int64)
    x, g, fs, ist, _W, _w, _hist_f, _hist_g = bfgs_run(x0, args, opts_f, opts_i)
    return x, fs[0], g, ist[0], ist[1], ist[2], ist[3]


@numba.njit(cache=True)
def newton_iterate(args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.newton_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@numba.njit(cache=True)
def newton_start(x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON)


@numba.njit(cache=True)
def newton_run(x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON)
    _m.newton_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@numba.njit(cache=True)
def newton(x0, args, gtol=1e-6, maxiter=10000, maxfev=100000, ftol=1e-15, xtol=1e-15,
           line_search=_m.WOLFE, memory=10, c1=1e-4, c2=0.9, step=1.0):  # fmt: skip
    """Minimise from x0; returns (x, f, g, nit, nfev, nhev, status)."""
    opts_f = np.array([gtol, ftol, xtol, c1, c2, step], dtype=np.float64)
    opts_i = np.array([maxiter, maxfev, line_search, memory], dtype=np.int64)
    x, g, fs, ist, _W, _w, _hist_f, _hist_g = newton_run(x0, args, opts_f, opts_i)
    return x, fs[0], g, ist[0], ist[1], ist[2], ist[3]


@numba.njit(cache=True)
def newton_cg_iterate(args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.newton_cg_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@numba.njit(cache=True)
def newton_cg_start(x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON_CG)


@numba.njit(cache=True)
def newton_cg_run(x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON_CG)
    _m.newton_cg_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@numba.njit(cache=True)
def newton_cg(x0, args, gtol=1e-6, maxiter=10000, maxfev=100000, ftol=1e-15, xtol=1e-15,
              line_search=_m.WOLFE, memory=10, c1=1e-4, c2=0.9, step=1.0):  # fmt: skip
    """Minimise from x0; returns (x, f, g, nit, nfev, nhev, status)."""
    opts_f = np.array([gtol, ftol, xtol, c1, c2, step], dtype=np.float64)
    opts_i = np.array([maxiter, maxfev, line_search, memory], dtype=np.int64)
    x, g, fs, ist, _W, _w, _hist_f, _hist_g = newton_cg_run(x0, args, opts_f, opts_i)
    return x, fs[0], g, ist[0], ist[1], ist[2], ist[3]
