"""``dc.finite_sum``: a :class:`~dcompile.sums.finite_sum.FiniteSum`, or for Dask data a
:class:`~dcompile.sums.distributed.DistributedFiniteSum`.

The choice sits above both modules: :mod:`dcompile.sums.distributed` builds on
the local :class:`~dcompile.sums.finite_sum.FiniteSum`, so the local module
cannot import it back (issue 23: no import cycles).
"""

from __future__ import annotations

from typing import Any

from dcompile.api import Function
from dcompile.sums import distributed
from dcompile.sums.finite_sum import FiniteSum


def finite_sum(
    fun: Function, data: Any, *, mean: bool = False, regularizer: Function | None = None, parallel: bool = False
) -> FiniteSum:
    """``F(w) = sum_i fun(w, *row_i)`` over the rows of ``data`` (``mean=True``: the average), plus
    ``regularizer(w)`` if given; ``parallel=True`` runs full-batch gradients on all cores
    (the same answer to rounding). See :class:`FiniteSum`. Dask arrays for ``data``: the sum is
    computed where they live (:mod:`dcompile.sums.distributed`)."""
    if distributed.is_dask(data):
        return distributed.DistributedFiniteSum(  # type: ignore[return-value]  # the same interface
            fun, data, mean=mean, regularizer=regularizer, parallel=parallel
        )
    return FiniteSum(fun, data, mean=mean, regularizer=regularizer, parallel=parallel)
