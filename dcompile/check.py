"""``dc.check_grad``: a derivative checker that ships with the package.

A random-direction test in the style of autograd's ``check_grads``: along a
random unit direction ``v`` it compares the forward-mode derivative
(``jvp``), the reverse-mode gradient dotted with ``v`` (``grad . v``) and a
central finite difference of ``f``; at order 2 it compares ``hvp`` with a
central difference of the gradient and with the Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dcompile.api import Function, Wrt, grad, hessian, hvp, jvp


@dataclass(frozen=True)
class GradCheck:
    """Relative errors of each comparison; ``ok`` when all are within ``rtol``."""

    errors: dict[str, float]
    rtol: float

    @property
    def ok(self) -> bool:
        return all(e <= self.rtol for e in self.errors.values())

    def __str__(self) -> str:
        rows = [f"  {k:<28} {v:.2e} {'ok' if v <= self.rtol else 'FAIL'}" for k, v in self.errors.items()]
        return "derivative check (relative errors):\n" + "\n".join(rows)


def _rel(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(1.0, float(np.max(np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale


def check_grad(
    f: Function,
    *args: float,
    wrt: Wrt = None,
    order: int = 2,
    eps: float = 1e-5,
    rtol: float = 1e-5,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> GradCheck:
    """Check ``f``'s forward and reverse derivatives (and order 2) at ``args``.

    Raises ``AssertionError`` with the table of errors if a check fails and
    ``raise_on_failure`` is true; returns the :class:`GradCheck` otherwise.
    """
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
        args = tuple(args[0])  # check_grad(f, [x1, x2]) as well as check_grad(f, x1, x2)
    f.check_args(args)
    idx = f.resolve_wrt(wrt)
    x = np.array(args, dtype=float)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(len(idx))
    v /= np.linalg.norm(v)

    def shifted(h: float) -> list[float]:
        y = x.copy()
        y[list(idx)] += h * v
        return list(y)

    fd = (f(*shifted(eps)) - f(*shifted(-eps))) / (2 * eps)
    _, forward = jvp(f, idx)(list(x), list(v))
    reverse = float(grad(f, idx)(*x) @ v)
    errors = {"jvp vs finite difference": _rel(forward, fd), "grad.v vs jvp": _rel(reverse, forward)}
    if order >= 2:
        g = grad(f, idx)
        fd2 = (g(*shifted(eps)) - g(*shifted(-eps))) / (2 * eps)
        hv = hvp(f, idx)(list(x), list(v))
        errors["hvp vs finite difference"] = _rel(hv, fd2)
        errors["hessian @ v vs hvp"] = _rel(hessian(f, idx)(*x) @ v, hv)
    result = GradCheck(errors, rtol)
    if raise_on_failure and not result.ok:
        raise AssertionError(str(result))
    return result
