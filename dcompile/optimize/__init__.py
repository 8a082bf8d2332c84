"""Optimizers that run inside compiled code, and their test problems.

``dc.minimize`` runs a method's whole iteration loop in numba; ``dc.minimizer``
returns that loop as a numba dispatcher for your own ``@njit`` code, with the
line-search codes below for its ``line_search`` keyword.
"""

from dcompile.optimize.methods import ARMIJO, FIXED, WOLFE

__all__ = ["ARMIJO", "FIXED", "WOLFE"]
