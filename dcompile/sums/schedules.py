"""Step-size schedules for SGD: ``schedule(k)`` is the step of iteration ``k = 1, 2, ...``.

The seed notes' two regimes: a constant step ``h`` converges fast and then
stalls in a noise ball of size about ``G^2 h / 2``; steps with
``sum a_k = inf`` and ``sum a_k^2 < inf`` (``h / k``) keep converging.
A schedule is evaluated in Python for a whole epoch at once (a vector of
steps), so the compiled epoch loop reads an array and any schedule, also a
user's callable, costs nothing per iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcompile.errors import SignatureError


@dataclass(frozen=True)
class Schedule:
    """Steps ``steps(k)`` for iteration numbers ``k`` (1-based int64 array)."""

    name: str
    rule: Callable[[np.ndarray], np.ndarray]

    def steps(self, k: np.ndarray) -> np.ndarray:
        out = np.asarray(self.rule(k), dtype=np.float64)
        if out.shape != k.shape:
            out = np.broadcast_to(out, k.shape).copy()
        if not np.all(np.isfinite(out)) or np.any(out < 0.0):
            bad = k[~(np.isfinite(out) & (out >= 0.0))][0]
            raise SignatureError(
                f"schedule {self.name} gave step {out[k == bad][0]!r} at iteration {bad}; steps must be finite and >= 0"
            )
        return out

    def __repr__(self) -> str:
        return f"<schedule {self.name}>"


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0.0):
        raise SignatureError(f"{name} must be a positive number, got {value!r}")
    return value


def constant(h: float) -> Schedule:
    """``a_k = h``."""
    h = _positive("h", h)
    return Schedule(f"constant(h={h:g})", lambda k: np.full(k.shape, h))


def inverse(h0: float, t0: float = 0.0) -> Schedule:
    """``a_k = h0 / (k + t0)``: ``sum a_k = inf``, ``sum a_k^2 < inf`` (converges)."""
    h0 = _positive("h0", h0)
    if not t0 >= 0.0:
        raise SignatureError(f"t0 must be >= 0, got {t0!r}")
    return Schedule(f"inverse(h0={h0:g}, t0={t0:g})", lambda k: h0 / (k + t0))


def inverse_sqrt(h0: float, t0: float = 0.0) -> Schedule:
    """``a_k = h0 / sqrt(k + t0)``."""
    h0 = _positive("h0", h0)
    if not t0 >= 0.0:
        raise SignatureError(f"t0 must be >= 0, got {t0!r}")
    return Schedule(f"inverse_sqrt(h0={h0:g}, t0={t0:g})", lambda k: h0 / np.sqrt(k + t0))


def step_decay(h0: float, factor: float = 0.5, every: int = 1000) -> Schedule:
    """``a_k = h0 * factor ** floor((k - 1) / every)``: piecewise constant, shrinking."""
    h0 = _positive("h0", h0)
    if not 0.0 < factor <= 1.0:
        raise SignatureError(f"factor must be in (0, 1], got {factor!r}")
    if int(every) < 1:
        raise SignatureError(f"every must be >= 1 iterations, got {every!r}")
    every = int(every)
    return Schedule(
        f"step_decay(h0={h0:g}, factor={factor:g}, every={every})", lambda k: h0 * factor ** ((k - 1) // every)
    )


def as_schedule(schedule: Any) -> Schedule:
    """A :class:`Schedule` from a schedule, a number (constant), an array (``a[k - 1]``) or a callable ``f(k)``."""
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, (int, float, np.floating, np.integer)) and not isinstance(schedule, bool):
        return constant(float(schedule))
    if isinstance(schedule, (list, tuple, np.ndarray)):
        table = np.asarray(schedule, dtype=np.float64)
        if table.ndim != 1 or table.size == 0:
            raise SignatureError("a schedule given as an array must be a non-empty 1-D array of steps")

        def lookup(k: np.ndarray) -> np.ndarray:
            if k.max() > table.size:
                raise SignatureError(
                    f"the step array has {table.size} entries but iteration {int(k.max())} needs one.\n"
                    "Fix: give a step per iteration (epochs * batches per epoch) or a callable."
                )
            return table[k - 1]

        return Schedule(f"array[{table.size}]", lookup)
    if callable(schedule):

        def call(k: np.ndarray) -> np.ndarray:
            try:
                out = np.asarray(schedule(k), dtype=np.float64)
                if out.shape == k.shape:
                    return out
            except Exception:  # a scalar-only callable: call it per iteration below
                pass
            return np.array([float(schedule(int(i))) for i in k])

        return Schedule(getattr(schedule, "__name__", "callable"), call)
    raise SignatureError(
        "schedule must be a dcompile schedule, a number, an array of steps or a callable, "
        f"got {type(schedule).__name__}"
    )
