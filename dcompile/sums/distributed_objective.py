"""The objective and Hessian-vector product of a distributed finite sum, for dcompile's optimizer drivers.

Copied as is into the dcompile cache (``DistributedFiniteSum.kernel_ref``,
``hvp_ref``), where the drivers import it: numba checks a cached function
against its own file only, and the copy's name is its content's digest. Each
evaluation calls back into Python (numba ``objmode``): the Dask workers compute
the value and gradient; see :mod:`dcompile.sums.distributed`. ``args = (slot,)``:
which sum.
"""

import numba

from dcompile.sums.distributed import driver_callback, driver_hvp_callback


@numba.njit(cache=True)
def objective(w, slot):
    with numba.objmode(f="float64", g="float64[::1]"):
        f, g = driver_callback(slot[0], w)
    return f, g


@numba.njit(cache=True)
def hvp(w, slot, v):
    with numba.objmode(out="float64[::1]"):
        out = driver_hvp_callback(slot[0], w, v)
    return out
