"""Optimizer loops compiled once, for every objective: the objective is a first-class function.

The loops of :mod:`dcompile.optimize.methods` are written against any
callable ``vg(x, *args) -> (f, g)``. Here they are compiled with the
objective's kernels typed as numba *function types* (a pointer to compiled
code with a fixed signature) instead of as the dispatchers themselves, so the
machine code does not depend on which objective it runs: numba compiles each
entry point once per method and data-argument types and caches it on disk,
and a new objective costs only its own kernels' compile. Calls through the
pointer cost an indirect call per evaluation (measured in
``benchmarks/bench_optimize.py``); ``dc.minimize(..., specialize=True)`` keeps
the loops compiled per objective (:mod:`dcompile.optimize.driver`), where the
kernels are inlined.

Each entry point mirrors a generated driver's: ``<method>_run`` (the whole
run), ``<method>_start`` and ``<method>_iterate`` (chunks, for progress and
callbacks). They are written out per method rather than made by a factory:
numba caches module-level functions on disk, not closures. The numba-specific
plumbing (building the function types, taking the compiled entry of one
signature) lives in :mod:`dcompile.optimize.fptr`.
"""

from __future__ import annotations

from numba import njit

from dcompile.optimize import bounded as _b
from dcompile.optimize import lm as _lm
from dcompile.optimize import methods as _m
from dcompile.optimize import trf as _trf

# ruff: noqa: PLR0917  (the loops' state travels as positional arrays, as in methods.py)


@njit(cache=True)
def gd_start(vg, x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.GD)


@njit(cache=True)
def gd_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.gd_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@njit(cache=True)
def gd_run(vg, d2, x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.GD)
    _m.gd_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@njit(cache=True)
def lbfgs_start(vg, x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.LBFGS)


@njit(cache=True)
def lbfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.lbfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@njit(cache=True)
def lbfgs_run(vg, d2, x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.LBFGS)
    _m.lbfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@njit(cache=True)
def bfgs_start(vg, x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.BFGS)


@njit(cache=True)
def bfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.bfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@njit(cache=True)
def bfgs_run(vg, d2, x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.BFGS)
    _m.bfgs_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@njit(cache=True)
def newton_start(vg, x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON)


@njit(cache=True)
def newton_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.newton_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@njit(cache=True)
def newton_run(vg, d2, x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON)
    _m.newton_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


@njit(cache=True)
def newton_cg_start(vg, x0, args, opts_f, opts_i):
    return _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON_CG)


@njit(cache=True)
def newton_cg_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop):
    _m.newton_cg_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@njit(cache=True)
def newton_cg_run(vg, d2, x0, args, opts_f, opts_i):
    x, g, fs, ist, W, w, hist_f, hist_g = _m.start(vg, args, x0, opts_f, opts_i, _m.NEWTON_CG)
    _m.newton_cg_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


# L-BFGS-B (optimize/bounded.py): the box travels after the other arguments, so the entry points are
# called like the others with (lo, hi) appended.
@njit(cache=True)
def lbfgsb_start(vg, x0, args, opts_f, opts_i, lo, hi):
    return _b.start_bounded(vg, args, x0, lo, hi, opts_f, opts_i)


@njit(cache=True)
def lbfgsb_iterate(vg, d2, args, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop, lo, hi):
    _b.lbfgsb_iterate(vg, args, lo, hi, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, it_stop)


@njit(cache=True)
def lbfgsb_run(vg, d2, x0, args, opts_f, opts_i, lo, hi):
    x, g, fs, ist, W, w, hist_f, hist_g = _b.start_bounded(vg, args, x0, lo, hi, opts_f, opts_i)
    _b.lbfgsb_iterate(vg, args, lo, hi, x, g, fs, ist, W, w, hist_f, hist_g, opts_f, opts_i, opts_i[_m.MAXITER_OPT])
    return x, g, fs, ist, W, w, hist_f, hist_g


# Levenberg-Marquardt (optimize/lm.py): the residual and Jacobian kernels are the two pointers.
@njit(cache=True)
def lm_run(res, jac, x0, args, opts_f, opts_i):
    return _lm.lm_solve(res, jac, args, x0, opts_f, opts_i)


@njit(cache=True)
def lm_box_run(res, jac, x0, args, opts_f, opts_i, lo, hi):
    return _lm.lm_solve_box(res, jac, args, x0, lo, hi, opts_f, opts_i)


# Trust-region reflective (optimize/trf.py): the box is always passed (infinite bounds: none).
@njit(cache=True)
def trf_run(res, jac, x0, args, opts_f, opts_i, lo, hi):
    return _trf.trf_solve(res, jac, args, x0, lo, hi, opts_f, opts_i)
