"""The result of a minimisation, in ``scipy.optimize.OptimizeResult``'s terms.

Status codes are shared by every method. Success means the gradient test
held (``max |g_i| <= gtol``) where the run had arrived: the last step changed
f or x by at most 1e-8 relative (or f is zero on the scale of the start), or
f could not fall further in floating point. A run that stops because the step
or the decrease became tiny with a large gradient, or hit an iteration or
evaluation limit, reports that, and is not a success.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SUCCESS = 0  # the gradient test holds
MAXITER = 1
MAXFEV = 2
LINE_SEARCH_FAILED = 3
NON_FINITE = 4
STALLED = 5  # f or x stopped changing, but the gradient is not small
CALLBACK = 6  # the user's callback asked to stop
EPOCHS_DONE = 7  # a stochastic method ran its epochs (it has no convergence test)
UNBOUNDED = 8  # f kept falling along a direction as far as the line search went

MESSAGES = {
    SUCCESS: "Optimization terminated successfully: the gradient norm is below gtol.",
    MAXITER: "Maximum number of iterations reached.",
    MAXFEV: "Maximum number of function evaluations reached.",
    LINE_SEARCH_FAILED: "The line search found no acceptable step.",
    NON_FINITE: "The function or its gradient is not finite at the current point.",
    STALLED: "Stalled: f and x stopped changing before the gradient norm reached gtol.",
    CALLBACK: "Stopped by the callback.",
    EPOCHS_DONE: "Completed the requested epochs (stochastic methods have no convergence test).",
    UNBOUNDED: "f kept decreasing as far as the line search extrapolated: the objective may be unbounded below.",
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
