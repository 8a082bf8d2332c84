"""``dc.sgd`` and ``dc.adam``: mini-batch stochastic optimization of a finite sum.

Each epoch is one call of a compiled loop (``sgd_epoch`` / ``adam_epoch`` in
the finite sum's generated module) over the batches of a shuffled order of
the rows (``replace=False``, every row once per epoch) or of ``N`` rows drawn
with replacement. Python runs between epochs only: it draws the order from a
seeded ``numpy.random.Generator`` (so runs are reproducible), evaluates the
schedule for the epoch's iterations, records the full-batch loss, and shows
progress or calls the callback.

Averaging (section 3 of the seed notes): ``"step_weighted"`` returns
``x_avg = sum_k a_k w_k / sum_k a_k`` over all iterates ``w_k`` a step was
taken from, the average the convergence bound is stated for; ``"tail"`` the
plain average of the iterates of the last ``tail`` fraction of the epochs;
``"none"`` no average (``x_avg`` is ``x``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.backend import notice
from dcompile.errors import SignatureError
from dcompile.frontend.pytree import Unravel, ravel, vector_like
from dcompile.optimize.progress import Progress
from dcompile.optimize.result import MESSAGES, OptimizeResult, Status
from dcompile.sums.finite_sum import FiniteSum
from dcompile.sums.schedules import as_schedule

AVERAGING = {"none": 0, "step_weighted": 1, "tail": 2}


def _check(obj: Any, w0: Any, *, batch_size: int, epochs: int, averaging: str, tail: float) -> np.ndarray:
    if getattr(obj, "distributed", False):
        raise SignatureError("dc.adam does not run on a finite sum over Dask arrays; dc.sgd does (local SGD)")
    if not isinstance(obj, FiniteSum):
        raise SignatureError(
            "dc.sgd and dc.adam take a finite sum: obj = dc.finite_sum(loss_of_one_sample, data=(X, y))"
        )
    w = np.array(w0, dtype=np.float64)  # a copy: the loops update it in place
    if w.ndim != 1:
        raise SignatureError(f"w0 must be a 1-D vector of parameters, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise SignatureError("w0 has non-finite entries (nan or inf).\nFix: start from a finite point.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise SignatureError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size > obj.n:
        raise SignatureError(
            f"batch_size {batch_size} is larger than the data ({obj.n} rows).\n"
            f"Fix: use batch_size <= {obj.n} (batch_size={obj.n} is full-batch gradient descent)."
        )
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise SignatureError(f"epochs must be a positive integer, got {epochs!r}")
    if averaging not in AVERAGING:
        raise SignatureError(f"unknown averaging {averaging!r}; choose one of {', '.join(AVERAGING)}")
    if not 0.0 < tail <= 1.0:
        raise SignatureError(f"tail must be a fraction in (0, 1], got {tail!r}")
    return np.ascontiguousarray(w)


def _unravel_result(res: OptimizeResult, unravel: Unravel) -> OptimizeResult:
    for key in ("x", "x_avg", "jac"):
        if isinstance(res.get(key), np.ndarray) and res[key].ndim == 1:
            res[key] = unravel(res[key])
    return res


def _run(
    obj: FiniteSum,
    w0: Any,
    method: str,
    step_epoch: Callable[..., float],
    *,
    batch_size: int,
    epochs: int,
    schedule: Any,
    averaging: str,
    tail: float,
    replace: bool,
    seed: int | None,
    progress: bool,
    callback: Callable[[OptimizeResult], Any] | None,
    history: bool,
) -> OptimizeResult:
    if not vector_like(w0):  # a structure of arrays: run on its raveled vector, answer in its structure
        vector, unravel = ravel(w0)
        wrapped = None if callback is None else (lambda r: callback(_unravel_result(r, unravel)))
        res = _run(
            obj.raveled(unravel), vector, method, step_epoch, batch_size=batch_size, epochs=epochs,
            schedule=schedule, averaging=averaging, tail=tail, replace=replace, seed=seed, progress=progress,
            callback=wrapped, history=history,
        )  # fmt: skip
        return _unravel_result(res, unravel)
    w = _check(obj, w0, batch_size=batch_size, epochs=epochs, averaging=averaging, tail=tail)
    sched = as_schedule(schedule)
    module = obj.module(w)
    run = _Run(obj, module, Progress(method, unit="epoch") if progress else None, callback, history or progress)
    rng = np.random.default_rng(seed)
    n_batches = (obj.n + batch_size - 1) // batch_size
    avg_sum = np.zeros_like(w)
    tail_start = epochs - max(1, round(tail * epochs))
    t_start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.integers(0, obj.n, size=obj.n) if replace else rng.permutation(obj.n)
        steps = sched.steps(np.arange(epoch * n_batches + 1, (epoch + 1) * n_batches + 1))
        mode = AVERAGING[averaging]
        weighting = 0 if mode == 0 or (mode == 2 and epoch < tail_start) else mode
        t0 = time.perf_counter()
        if epoch == 0:  # the first epoch compiles (or loads) the loop
            with notice.compiling(f"the {method} loop of {obj.name}"):
                run.weight += step_epoch(module, w, avg_sum, order, batch_size, steps, weighting, 0)
        else:
            run.weight += step_epoch(module, w, avg_sum, order, batch_size, steps, weighting, epoch * n_batches)
        if epoch == 0:  # the first epoch also compiled (or loaded) the loop: reported as compile time
            run.compile_s = time.perf_counter() - t_start
        else:
            run.solve_s += time.perf_counter() - t0
        run.steps.append(steps)
        if run.after_epoch(w, avg_sum):
            break
    averaged = run.weight > 0.0
    x_avg = avg_sum / run.weight if averaged else w.copy()
    # the last epoch's recorded losses are the final ones: no extra pass over the data
    recorded = run.recorded == len(run.steps)
    fun = run.losses[-1] if recorded else float(module.value(w, *obj.data))
    fun_avg = fun
    if averaged:
        fun_avg = run.losses_avg[-1] if recorded else float(module.value(x_avg, *obj.data))
    if run.display is not None:
        run.display.close(len(run.steps), fun, math.nan, len(run.steps) * obj.n, MESSAGES[run.status])
    steps_all = np.concatenate(run.steps)
    return OptimizeResult(
        x=w,
        x_avg=x_avg,
        fun=fun,
        fun_avg=fun_avg,
        nit=steps_all.size,
        epochs=len(run.steps),
        nfev=len(run.steps) * obj.n,  # per-sample gradient evaluations
        status=int(run.status),
        success=run.status == Status.EPOCHS_DONE,
        message=MESSAGES[run.status],
        history={"loss": np.array(run.losses), "loss_avg": np.array(run.losses_avg), "step": steps_all},
        method=method,
        schedule=sched.name,
        averaging=averaging,
        compile_seconds=run.compile_s,
        solve_seconds=run.solve_s,
    )


class _Run:
    """What a run keeps between epochs: losses, steps, averaging weight, status and timings."""

    def __init__(
        self,
        obj: FiniteSum,
        module: Any,
        display: Progress | None,
        callback: Callable[[OptimizeResult], Any] | None,
        record: bool,
    ) -> None:
        self.obj, self.module, self.display, self.callback = obj, module, display, callback
        self.record = record or callback is not None
        self.losses: list[float] = []
        self.losses_avg: list[float] = []
        self.steps: list[np.ndarray] = []
        self.weight = 0.0
        self.recorded = -1  # the last epoch whose losses were recorded
        self.status = Status.EPOCHS_DONE
        self.compile_s = self.solve_s = 0.0

    def after_epoch(self, w: np.ndarray, avg_sum: np.ndarray) -> bool:
        """Record the epoch, show progress, call the callback; whether to stop."""
        if not np.all(np.isfinite(w)):
            self.status = Status.NON_FINITE
            return True
        if self.record:
            self.losses.append(float(self.module.value(w, *self.obj.data)))
            if self.weight > 0.0:
                self.losses_avg.append(float(self.module.value(avg_sum / self.weight, *self.obj.data)))
            self.recorded = len(self.steps)
        epoch = len(self.steps)
        if self.display is not None:
            self.display.update(epoch, self.losses[-1], math.nan, epoch * self.obj.n)
        if self.callback is None:
            return False
        partial = OptimizeResult(x=w.copy(), fun=self.losses[-1], epoch=epoch, history={"loss": np.array(self.losses)})
        try:
            stop = self.callback(partial)
        except StopIteration:
            stop = True
        if stop:
            self.status = Status.CALLBACK
        return bool(stop)


def sgd(
    obj: FiniteSum,
    w0: Any,
    *,
    batch_size: int = 32,
    epochs: int = 10,
    schedule: Any = 0.01,
    averaging: str = "step_weighted",
    tail: float = 0.5,
    momentum: float = 0.0,
    replace: bool = False,
    seed: int | None = 0,
    progress: bool = False,
    callback: Callable[[OptimizeResult], Any] | None = None,
    history: bool = True,
) -> OptimizeResult:
    """Mini-batch SGD on ``obj = dc.finite_sum(...)`` from ``w0``: ``w_{k+1} = w_k - a_k g_k``.

    ``g_k`` is the unbiased mini-batch estimate of the gradient; ``schedule``
    gives ``a_k`` (a ``dc.schedules`` schedule, a number for a constant step,
    an array or a callable of the 1-based iteration); ``momentum`` > 0 adds
    heavy-ball momentum. The result has ``x``, ``x_avg`` (see the module
    docstring on averaging), ``fun`` and ``fun_avg`` (the full objective at
    each), ``history["loss"]``/``["loss_avg"]`` per epoch and
    ``history["step"]`` per iteration. ``history=False`` skips the per-epoch
    full-batch losses.
    """
    if getattr(obj, "distributed", False):  # data on a Dask cluster: local SGD with averaging
        from dcompile.sums.distributed import sgd as local_sgd

        return local_sgd(
            obj, w0, batch_size=batch_size, epochs=epochs, schedule=schedule, averaging=averaging, tail=tail,
            momentum=momentum, replace=replace, seed=seed, progress=progress, callback=callback, history=history,
        )  # fmt: skip
    if not 0.0 <= momentum < 1.0:
        raise SignatureError(f"momentum must be in [0, 1), got {momentum!r}")
    velocity: list[np.ndarray] = []

    def step_epoch(module, w, avg_sum, order, batch_size, steps, weighting, t0):  # noqa: PLR0917
        if not velocity:
            velocity.append(np.zeros_like(w))
            velocity.append(np.empty_like(w))
        return module.sgd_epoch(
            w, velocity[0], avg_sum, velocity[1], order, batch_size, steps, float(momentum), weighting, *obj.data
        )

    return _run(
        obj, w0, "sgd", step_epoch, batch_size=batch_size, epochs=epochs, schedule=schedule, averaging=averaging,
        tail=tail, replace=replace, seed=seed, progress=progress, callback=callback, history=history,
    )  # fmt: skip


def adam(
    obj: FiniteSum,
    w0: Any,
    *,
    batch_size: int = 32,
    epochs: int = 10,
    schedule: Any = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    averaging: str = "none",
    tail: float = 0.5,
    replace: bool = False,
    seed: int | None = 0,
    progress: bool = False,
    callback: Callable[[OptimizeResult], Any] | None = None,
    history: bool = True,
) -> OptimizeResult:
    """Adam (Kingma and Ba 2015, with bias correction) on a finite sum; arguments and result as :func:`sgd`."""
    if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0 and eps > 0.0):
        raise SignatureError(f"Adam needs 0 <= beta1, beta2 < 1 and eps > 0, got {beta1}, {beta2}, {eps}")
    state: list[np.ndarray] = []

    def step_epoch(module, w, avg_sum, order, batch_size, steps, weighting, t0):  # noqa: PLR0917
        if not state:
            state.extend([np.zeros_like(w), np.zeros_like(w), np.empty_like(w)])
        return module.adam_epoch(
            w, state[0], state[1], avg_sum, state[2], order, batch_size, steps, float(beta1), float(beta2),
            float(eps), int(t0), weighting, *obj.data,
        )  # fmt: skip

    return _run(
        obj, w0, "adam", step_epoch, batch_size=batch_size, epochs=epochs, schedule=schedule, averaging=averaging,
        tail=tail, replace=replace, seed=seed, progress=progress, callback=callback, history=history,
    )  # fmt: skip
