"""The result of a minimisation, in ``scipy.optimize.OptimizeResult``'s terms.

Status codes (:class:`Status`) are shared by every method. Success means the
gradient test held (``max |g_i| <= gtol``) where the run had arrived: the last
step changed f or x by at most 1e-8 relative (or f is zero on the scale of
the start), or f could not fall further in floating point. A run that stops
because the step or the decrease became tiny with a large gradient, or hit an
iteration or evaluation limit, reports that, and is not a success.

``Status`` is an ``IntEnum``: the compiled loops read its members as numba
constants (``return Status.SUCCESS``; functions using them cache on disk like
any other), and ``res.status`` is the plain ``int`` of one (SciPy's
convention), the key of its message in :data:`MESSAGES`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np


class Status(IntEnum):
    """Why a run of ``dc.minimize``, ``dc.sgd`` or ``dc.adam`` stopped (``res.status``)."""

    RUNNING = -1  # inside the loops only: the run goes on (never a result's status)
    SUCCESS = 0  # the gradient test holds
    MAXITER = 1
    MAXFEV = 2
    LINE_SEARCH_FAILED = 3
    NON_FINITE = 4
    STALLED = 5  # f or x stopped changing, but the gradient is not small
    CALLBACK = 6  # the user's callback asked to stop
    EPOCHS_DONE = 7  # a stochastic method ran its epochs (it has no convergence test)
    UNBOUNDED = 8  # f kept falling along a direction as far as the line search went


MESSAGES: dict[int, str] = {  # keyed by the plain codes too (an IntEnum member hashes as its int)
    Status.SUCCESS: "Optimization terminated successfully: the gradient norm is below gtol.",
    Status.MAXITER: "Maximum number of iterations reached.",
    Status.MAXFEV: "Maximum number of function evaluations reached.",
    Status.LINE_SEARCH_FAILED: "The line search found no acceptable step.",
    Status.NON_FINITE: "The function or its gradient is not finite at the current point.",
    Status.STALLED: "Stalled: f and x stopped changing before the gradient norm reached gtol.",
    Status.CALLBACK: "Stopped by the callback.",
    Status.EPOCHS_DONE: "Completed the requested epochs (stochastic methods have no convergence test).",
    Status.UNBOUNDED: "f kept decreasing as far as the line search extrapolated: the objective may be unbounded below.",
}


class OptimizeResult(dict):
    """``x, fun, jac, nit, nfev, njev, status, success, message`` plus ``history``
    (f and max |g| per iteration), ``method``, ``compile_seconds`` and
    ``solve_seconds``; readable as attributes or keys, like SciPy's."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __repr__(self) -> str:
        keys = ("message", "success", "status", "fun", "x", "nit", "nfev", "njev", "method")
        lines = []
        for k in keys:
            v = self.get(k)
            text = np.array2string(v, threshold=8) if isinstance(v, np.ndarray) else repr(v)
            lines.append(f"{k:>15}: {text}")
        lines.append(
            f"{'times':>15}: compile {self.get('compile_seconds', 0.0):.3f} s, "
            f"solve {self.get('solve_seconds', 0.0):.4f} s"
        )
        return "\n".join(lines)
