"""The template of a finite sum's row-loop modules (see :mod:`dcompile.sums.finite_sum`).

A row-loop module is this file's text with the bindings block replaced by one
objective's kernels and constants (:func:`dcompile.optimize.template.instantiate`)
and the placeholder parameter ``data`` spelled out as the data items
``d0, d1, ...``: ``data[i]`` is row ``i`` of every item, ``data.shape`` the
first item's shape. The kernels are :class:`~dcompile.optimize.binding.StaticKernel`
constants, so the ``cache=True`` loops below inline them and load from numba's
disk cache in a later process. Every loop calls the per-sample kernels and adds
gradients into one buffer: no per-sample gradient is stored.
"""

import numba
import numpy as np

from dcompile.optimize.binding import StaticKernel

# ruff: noqa: PLR0917  (the epoch loops' state travels as positional arrays)

# -- bindings: replaced in each generated module --
f1 = StaticKernel(None)  # the per-sample value f(w, *row)
vg1 = StaticKernel(None)  # adds the per-sample gradient into g and returns the value: vg1(g, w, *row)
g1 = StaticKernel(None)  # adds the per-sample gradient into g, no value (the epochs' kernel): g1(g, w, *row)
r_f: StaticKernel | None = None  # the regularizer's value r(w), or None without one
r_vg: StaticKernel | None = None  # adds grad r into g and returns r(w): r_vg(g, w)
MEAN = False  # the average instead of the sum
N_BLOCKS = 64  # the parallel full batch's row blocks, whatever the thread count
N_PARAMS = 0  # the length of w
PARALLEL = False  # whether objective is the parallel full batch
# -- end of bindings --


@numba.njit(cache=True)
def check(w, g):
    """The kernels do not check shapes per row: every entry point checks w (and g) once."""
    if w.shape[0] != N_PARAMS or g.shape[0] != N_PARAMS:
        raise ValueError("this finite-sum module was compiled for another number of parameters")


@numba.njit(cache=True)
def regularizer_value(w):
    if r_f is None:  # a constant: numba compiles one branch
        return 0.0
    return r_f(w)


@numba.njit(cache=True)
def regularizer_add_grad(g, w):
    if r_vg is None:
        return 0.0
    return r_vg(g, w)


@numba.njit(cache=True)
def rows_value(w, lo, hi, data):
    check(w, w)
    total = 0.0
    for i in range(lo, hi):
        total += f1(w, data[i])
    return total


@numba.njit(cache=True)
def rows_add_grad(g, w, lo, hi, data):
    """Add the gradients of rows lo..hi-1 to g; return the sum of their values."""
    check(w, g)
    total = 0.0
    for i in range(lo, hi):
        total += vg1(g, w, data[i])
    return total


@numba.njit(cache=True)
def batch_add_grad(g, w, idx, data):
    """Add the gradients of the rows in idx to g; return the sum of their values."""
    check(w, g)
    total = 0.0
    for k in range(idx.shape[0]):
        i = idx[k]
        total += vg1(g, w, data[i])
    return total


@numba.njit(cache=True)
def batch_grad(g, w, idx, data):
    """The unbiased mini-batch estimate of grad F on the rows idx, into g (the epochs need no value).

    ``g1`` computes no per-sample value: for a logistic loss one ``exp`` per row instead of an
    ``exp``, a ``log1p`` and a second ``exp`` (SGD epoch 1.5x faster, benchmarks/bench_vector.py).
    """
    check(w, g)
    g[:] = 0.0
    for k in range(idx.shape[0]):
        i = idx[k]
        g1(g, w, data[i])
    scale = 1.0 / idx.shape[0] if MEAN else data.shape[0] / idx.shape[0]
    for j in range(g.shape[0]):
        g[j] *= scale
    regularizer_add_grad(g, w)


@numba.njit(cache=True)
def value(w, data):
    total = rows_value(w, 0, data.shape[0], data)
    if MEAN:
        total /= data.shape[0]
    return total + regularizer_value(w)


@numba.njit(cache=True)
def value_and_grad(w, data):
    g = np.zeros(w.shape[0])
    total = rows_add_grad(g, w, 0, data.shape[0], data)
    if MEAN:
        scale = 1.0 / data.shape[0]
        total *= scale
        g *= scale
    total += regularizer_add_grad(g, w)
    return total, g


@numba.njit(cache=True)
def batch_value_and_grad(g, w, idx, data):
    """The unbiased mini-batch estimate of F and its gradient (into g) on the rows idx."""
    g[:] = 0.0
    total = batch_add_grad(g, w, idx, data)
    scale = 1.0 / idx.shape[0] if MEAN else data.shape[0] / idx.shape[0]
    total *= scale
    for j in range(g.shape[0]):
        g[j] *= scale
    total += regularizer_add_grad(g, w)
    return total


@numba.njit(cache=True)
def add_to_average(avg_sum, w, a, weighting):
    """Add w to the averaging sum with weight a (weighting 1: step-weighted), 1 (2: uniform) or
    nothing (0); return the weight."""
    weight = a if weighting == 1 else (1.0 if weighting == 2 else 0.0)
    if weight > 0.0:
        for j in range(w.shape[0]):
            avg_sum[j] += weight * w[j]
    return weight


@numba.njit(cache=True)
def sgd_epoch(w, velocity, avg_sum, g, order, batch_size, steps, momentum, weighting, data):
    """One pass over order in batches: w -= a_k g_k (heavy-ball momentum when momentum > 0).

    weighting: 0 no averaging, 1 add a_k w_k to avg_sum (step-weighted), 2 add w_k
    (uniform); w_k is the iterate the step is taken from. Returns the weights' sum.
    """
    total_weight = 0.0
    n_batches = (order.shape[0] + batch_size - 1) // batch_size
    for b in range(n_batches):
        lo = b * batch_size
        hi = min(lo + batch_size, order.shape[0])
        a = steps[b]
        total_weight += add_to_average(avg_sum, w, a, weighting)
        batch_grad(g, w, order[lo:hi], data)
        if momentum > 0.0:
            for j in range(w.shape[0]):
                velocity[j] = momentum * velocity[j] + g[j]
                w[j] -= a * velocity[j]
        else:
            for j in range(w.shape[0]):
                w[j] -= a * g[j]
    return total_weight


@numba.njit(cache=True)
def adam_epoch(w, m1, m2, avg_sum, g, order, batch_size, steps, beta1, beta2, eps, t0, weighting, data):
    """One pass of Adam (Kingma and Ba, with bias correction); t0 steps were taken before.

    Averaging as for sgd_epoch. Returns the weights' sum.
    """
    total_weight = 0.0
    n_batches = (order.shape[0] + batch_size - 1) // batch_size
    for b in range(n_batches):
        lo = b * batch_size
        hi = min(lo + batch_size, order.shape[0])
        a = steps[b]
        total_weight += add_to_average(avg_sum, w, a, weighting)
        batch_grad(g, w, order[lo:hi], data)
        t = t0 + b + 1
        c1 = 1.0 - beta1**t
        c2 = 1.0 - beta2**t
        for j in range(w.shape[0]):
            m1[j] = beta1 * m1[j] + (1.0 - beta1) * g[j]
            m2[j] = beta2 * m2[j] + (1.0 - beta2) * g[j] * g[j]
            w[j] -= a * (m1[j] / c1) / (np.sqrt(m2[j] / c2) + eps)
    return total_weight


@numba.njit(cache=True, parallel=True)
def value_and_grad_parallel(w, data):
    """value_and_grad with row blocks in parallel, one gradient accumulator per block."""
    n = data.shape[0]
    blocks = min(N_BLOCKS, n)
    partial_g = np.zeros((blocks, w.shape[0]))
    partial_f = np.zeros(blocks)
    for b in numba.prange(blocks):
        partial_f[b] = rows_add_grad(partial_g[b], w, b * n // blocks, (b + 1) * n // blocks, data)
    g = np.zeros(w.shape[0])
    total = 0.0
    for b in range(blocks):
        total += partial_f[b]
        for j in range(w.shape[0]):
            g[j] += partial_g[b, j]
    if MEAN:
        scale = 1.0 / n
        total *= scale
        g *= scale
    total += regularizer_add_grad(g, w)
    return total, g


# what dc.minimize binds as the objective (a serial module leaves value_and_grad_parallel out)
objective = value_and_grad_parallel if PARALLEL else value_and_grad
