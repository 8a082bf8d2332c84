"""Plain Python objectives in the compiled optimizers: ``dc.minimize(fun, x0, jac=...)``.

A user whose objective dcompile cannot trace (a simulator, a call into
another library) still gets dcompile's methods, line searches and honest
statuses: the iteration loop runs in numba as for a compiled objective, and
each evaluation calls back into Python (numba's ``objmode``), as the
distributed finite sum does.

One driver serves every Python objective: its kernels are the functions
below, which receive a *slot* (an int64 array, the driver's ``args``) and
look up the live objective in it. So the loops compile once per machine
(numba's disk cache) and a new objective costs no compilation at all.

An exception raised by the user's function is kept in its slot, the
callback returns NaN, the loop stops with status NON_FINITE at once, and
:func:`dcompile.minimize` re-raises the user's exception with its traceback.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np

from dcompile.errors import SignatureError

_LIVE: dict[int, PythonObjective] = {}
_SLOTS = itertools.count()
_LOCK = threading.Lock()


class PythonObjective:
    """``fun(x, *args)`` with its derivatives given as Python callables, SciPy's conventions.

    ``jac=True``: ``fun`` returns ``(f, g)``; ``jac`` callable: ``jac(x, *args) -> g``.
    ``hess(x, *args) -> H`` serves ``method="newton"``; ``hessp(x, p, *args) -> H p``
    serves ``"newton-cg"``.
    """

    def __init__(
        self,
        fun: Callable[..., Any],
        jac: Callable[..., Any] | bool,
        args: Sequence[Any] = (),
        hess: Callable[..., Any] | None = None,
        hessp: Callable[..., Any] | None = None,
    ) -> None:
        if not (jac is True or callable(jac)):
            raise SignatureError("jac must be True (fun returns (f, g)) or a function jac(x, *args) -> gradient")
        self.fun, self.jac, self.args, self.hess, self.hessp = fun, jac, tuple(args), hess, hessp
        self.name = getattr(fun, "__name__", "objective")
        self.error: BaseException | None = None
        self.n = 0

    # -- evaluations (called from the compiled loop) ----------------------------------------
    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        if self.jac is True:
            out = self.fun(x, *self.args)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise SignatureError(f"with jac=True, {self.name} must return (f, gradient), got {type(out).__name__}")
            f, g = out
        else:
            f = self.fun(x, *self.args)
            g = self.jac(x, *self.args)
        return _scalar(f, self.name), self._vector(g, "gradient")

    def hessian(self, x: np.ndarray) -> np.ndarray:
        assert self.hess is not None
        h = np.ascontiguousarray(self.hess(x, *self.args), dtype=np.float64)
        if h.shape != (self.n, self.n):
            raise SignatureError(
                f"hess returned shape {h.shape}; the Hessian of {self.n} parameters is {(self.n,) * 2}"
            )
        return h

    def product(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        assert self.hessp is not None
        return self._vector(self.hessp(x, v, *self.args), "Hessian-vector product")

    def _vector(self, g: Any, what: str) -> np.ndarray:
        out = np.ascontiguousarray(np.asarray(g, dtype=np.float64).reshape(-1))
        if out.shape != (self.n,):
            raise SignatureError(f"the {what} of {self.name} has {out.size} entries; x has {self.n}")
        return out

    # -- the driver's view -------------------------------------------------------------------
    def open(self, n: int) -> np.ndarray:
        """Register in a slot for a run over ``n`` parameters; the driver's ``args`` are ``(slot,)``."""
        self.n, self.error = n, None
        with _LOCK:
            slot = next(_SLOTS)
            _LIVE[slot] = self
        return np.array([slot], dtype=np.int64)

    @staticmethod
    def close(slot: np.ndarray) -> None:
        with _LOCK:
            _LIVE.pop(int(slot[0]), None)

    def raise_error(self) -> None:
        """Re-raise what the user's function raised during the run (the loop stopped there)."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _scalar(f: Any, name: str) -> float:
    value = np.asarray(f, dtype=np.float64)
    if value.size != 1:
        raise SignatureError(f"{name} must return a scalar, got shape {value.shape}")
    return float(value.reshape(()))


def _run(slot: int, call: Callable[[PythonObjective], Any], fallback: Any) -> Any:
    """Call the live objective of ``slot``; an exception is kept for minimize to raise, NaN goes back."""
    obj = _LIVE.get(int(slot))
    if obj is None or obj.error is not None:
        return fallback
    try:
        return call(obj)
    except BaseException as exc:
        obj.error = exc
        return fallback


def evaluate(slot: int, x: np.ndarray) -> tuple[float, np.ndarray]:
    """``(f, g)`` of the objective in ``slot`` (NaN after an exception, which stops the loop)."""
    return _run(slot, lambda obj: obj.value_and_grad(x.copy()), (np.nan, np.full(x.shape, np.nan)))


def evaluate_hessian(slot: int, x: np.ndarray) -> np.ndarray:
    return _run(slot, lambda obj: obj.hessian(x.copy()), np.full((x.size, x.size), np.nan))


def evaluate_product(slot: int, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _run(slot, lambda obj: obj.product(x.copy(), v.copy()), np.full(x.shape, np.nan))


@numba.njit(cache=True)
def objective(x, slot):  # type: ignore[no-untyped-def]
    """The driver's value-and-gradient kernel: a callback into Python."""
    with numba.objmode(f="float64", g="float64[::1]"):
        f, g = evaluate(slot[0], x)
    return f, g


@numba.njit(cache=True)
def hessian(x, slot):  # type: ignore[no-untyped-def]
    """The Newton driver's Hessian kernel: a callback into Python."""
    with numba.objmode(h="float64[:, ::1]"):
        h = evaluate_hessian(slot[0], x)
    return h


@numba.njit(cache=True)
def hvp(x, slot, v):  # type: ignore[no-untyped-def]
    """The Newton-CG driver's Hessian-vector product kernel: a callback into Python."""
    with numba.objmode(out="float64[::1]"):
        out = evaluate_product(slot[0], x, v)
    return out


def module_path() -> Path:
    return Path(__file__)
