"""Bounds as users write them (SciPy's forms) turned into two arrays, for every bounded method."""

from __future__ import annotations

from typing import Any

import numpy as np

from dcompile.errors import SignatureError


def parse_bounds(bounds: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` arrays from SciPy's forms: a sequence of ``(lo, hi)`` pairs (``None``: no bound),
    or an object with ``lb`` and ``ub`` (``scipy.optimize.Bounds``; scalars broadcast)."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lo = np.broadcast_to(np.asarray(bounds.lb, dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(bounds.ub, dtype=np.float64), (n,)).copy()
    else:
        try:
            pairs = list(bounds)
        except TypeError:
            pairs = None
        if pairs is None or len(pairs) != n or any(not isinstance(b, (tuple, list)) or len(b) != 2 for b in pairs):
            raise SignatureError(
                f"bounds must be {n} pairs (lo, hi), one per entry of x0 (None for no bound), or "
                "scipy.optimize.Bounds(lb, ub)"
            )
        lo = np.array([-np.inf if b[0] is None else b[0] for b in pairs], dtype=np.float64)
        hi = np.array([np.inf if b[1] is None else b[1] for b in pairs], dtype=np.float64)
    if np.isnan(lo).any() or np.isnan(hi).any() or (lo > hi).any():
        bad = int(np.argmax(np.isnan(lo) | np.isnan(hi) | (lo > hi)))
        raise SignatureError(f"bounds[{bad}] = ({lo[bad]}, {hi[bad]}) is not an interval: each needs lo <= hi")
    return lo, hi


def parse_lsq_bounds(bounds: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` from ``least_squares``'s forms: ``(lb, ub)`` (arrays or scalars, broadcast) or
    ``scipy.optimize.Bounds``."""
    if not (hasattr(bounds, "lb") and hasattr(bounds, "ub")):
        try:
            lb, ub = bounds
        except (TypeError, ValueError):
            raise SignatureError("bounds must be (lb, ub), arrays or scalars, or scipy.optimize.Bounds") from None
        bounds = _Pair(lb, ub)
    try:
        return parse_bounds(bounds, n)
    except ValueError:
        raise SignatureError(f"bounds (lb, ub) must broadcast to the {n} parameters") from None


class _Pair:
    def __init__(self, lb: Any, ub: Any) -> None:
        self.lb = -np.inf if lb is None else lb
        self.ub = np.inf if ub is None else ub
