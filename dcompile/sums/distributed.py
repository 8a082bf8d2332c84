"""Finite sums over Dask arrays: the compiled row loops run where the data live.

``dc.finite_sum(f, data=(X, y))`` with Dask arrays (or Dask data frames) for
data returns a :class:`DistributedFiniteSum`, with the interface of
:class:`~dcompile.sums.finite_sum.FiniteSum`: ``obj(w)``, ``dc.grad(obj)``,
``dc.value_and_grad(obj)``, ``dc.minimize(obj, w0)`` (gd, lbfgs, bfgs) and
``dc.sgd(obj, w0)``. It needs a ``dask.distributed`` client (the default one,
or ``client=``).

How an evaluation runs:

* At construction the data are cast as ``finite_sum`` casts them, chunked along
  rows only (the other axes are rechunked to one chunk; the data items must
  share their row chunks), persisted on the workers, and checked once there:
  a partition with a non-finite entry or rows of the wrong shape is an error
  that names it.
* The per-sample kernels and the row-loop module are generated and compiled on
  the driver as for a single-machine finite sum. Workers receive their
  *source text* (small, content addressed), once per worker: they write it into
  their own dcompile cache directory and import it, and numba's disk cache
  serves the machine code when the cache directory is shared (on one machine,
  or a shared file system); otherwise each worker compiles it once. No numba
  object is pickled.
* Each evaluation sends ``w`` to one task per partition, which returns the
  partition's ``(sum of values, sum of gradients)`` from the module's
  ``rows_add_grad``; a tree of tasks adds them (``SPLIT_EVERY`` at a time, in
  partition order, so the answer does not depend on which worker ran what) and
  the driver receives one value and one gradient. The mean's ``1/N`` and the
  regularizer are applied on the driver.
* Tasks are pure functions of the data and ``w``: a worker that dies is
  replaced by Dask, its partitions are recomputed from their lineage and its
  tasks rerun, with the same result.

``dc.minimize`` binds the sum's objective into its cached numba driver like a
local finite sum's: the objective here is a small generated function that calls
back into Python (numba's ``objmode``) for each evaluation, so gd, lbfgs and
bfgs run exactly the loops of :mod:`dcompile.optimize.methods` (the
evaluation's network and scheduling cost, milliseconds, dwarfs the callback's
microseconds).

``dc.sgd`` runs *local SGD with averaging* (see :func:`sgd`).
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dcompile.api import Function
from dcompile.backend.cache import cache_dir, write_module
from dcompile.backend.compiler import PACKAGE, load_module
from dcompile.errors import SignatureError
from dcompile.optimize.driver import KernelRef
from dcompile.optimize.progress import Progress
from dcompile.optimize.result import MESSAGES, OptimizeResult, Status
from dcompile.sums.finite_sum import FiniteSum, sum_derivative
from dcompile.sums.schedules import as_schedule

SPLIT_EVERY = 8  # the tree reduction adds this many partial results per task
AVERAGING = ("none", "step_weighted", "tail")

# the objective and Hessian-vector product the optimizer drivers bind, copied into the cache (see kernel_ref)
_OBJECTIVE = Path(__file__).with_name("distributed_objective.py")

# a part function of a split kernel body (dcompile.emit.chunking): compiled before the kernel
_PART = re.compile(r"^def (\w+_part\d+(?:_\d+)?)\(", re.MULTILINE)
# the generated modules a row-loop module imports
_IMPORT = re.compile(rf"^from {PACKAGE}\.(\w+) import ", re.MULTILINE)

# slot -> live distributed sum (the optimizer drivers pass the slot, see distributed_objective.py)
_LIVE: weakref.WeakValueDictionary[int, DistributedFiniteSum] = weakref.WeakValueDictionary()
_NEXT_SLOT = [0]


def is_dask(data: Any) -> bool:
    """Whether ``data`` (one item or a tuple of them) holds a Dask collection."""
    if "dask" not in sys.modules:  # nothing made a Dask collection in this process
        return False
    import dask

    items = data if isinstance(data, (tuple, list)) else (data,)
    return any(dask.is_dask_collection(d) for d in items)


# -- what the workers run ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """What a worker needs to evaluate: the generated sources and the shape of the data.

    ``kernels`` and ``module`` are ``(module name, source)`` pairs: the per-sample
    kernels the row-loop module imports, and the row-loop module itself.
    """

    key: str
    kernels: tuple[tuple[str, str], ...]
    module: tuple[str, str]
    tails: tuple[tuple[int, ...], ...]
    dim: int


_LOADED: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()


def _worker_module(spec: _Spec) -> Any:
    """The row-loop module of ``spec`` in this process: written, imported and compiled once."""
    module = _LOADED.get(spec.key)
    if module is None:
        with _LOAD_LOCK:
            module = _LOADED.get(spec.key)
            if module is None:
                module = _load_spec(spec)
                _LOADED[spec.key] = module
    return module


def _load_spec(spec: _Spec) -> Any:
    import numba

    directory = cache_dir()
    for stem, source in (*spec.kernels, spec.module):  # the kernels first: the module imports them
        if f"{PACKAGE}.{stem}" in sys.modules:  # this process generated it (the driver, or a thread worker)
            continue
        path = write_module(stem[:-21], source, directory)  # the name less "_<20 hex digits>"
        if path.stem != stem:
            raise RuntimeError(f"generated module {stem} was written as {path.stem}: a different dcompile version?")
        module = load_module(path)
        for part in _PART.findall(source):
            setattr(module, part, numba.njit(error_model="numpy")(getattr(module, part)))
    return sys.modules[f"{PACKAGE}.{spec.module[0]}"]


def _blocks(spec: _Spec, k: int, lo: int, blocks: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """The partition's blocks, C-contiguous, after an O(1) check of their shapes."""
    n = blocks[0].shape[0]
    for j, b in enumerate(blocks):
        if b.shape[1:] != spec.tails[j] or b.shape[0] != n:
            raise SignatureError(
                f"partition {k} (rows {lo}..{lo + n - 1}) of data[{j}] has shape {b.shape}; "
                f"its rows should have shape {spec.tails[j]} and it should have {n} rows"
            )
    return tuple(np.ascontiguousarray(b) for b in blocks)


def _partial(  # noqa: PLR0917
    spec: _Spec, k: int, lo: int, w: np.ndarray, grad: bool, fault: str | None, *blocks: np.ndarray
) -> Any:
    """Partition ``k``'s ``(sum of values, sum of gradients or None)``."""
    module = _worker_module(spec)
    data = _blocks(spec, k, lo, blocks)
    if fault is not None and k == 0 and not os.path.exists(fault):  # tests only: die once, mid-evaluation
        Path(fault).touch()
        os._exit(1)
    n = data[0].shape[0]
    if not grad:
        return float(module.rows_value(w, 0, n, *data)), None
    g = np.zeros(spec.dim)
    return float(module.rows_add_grad(g, w, 0, n, *data)), g


def _partial_hvp(spec: _Spec, k: int, lo: int, w: np.ndarray, v: np.ndarray, *blocks: np.ndarray) -> np.ndarray:
    """Partition ``k``'s sum of per-sample Hessian-vector products."""
    module = _worker_module(spec)
    data = _blocks(spec, k, lo, blocks)
    return np.asarray(module.rows_hvp(w, 0, data[0].shape[0], *data, v))


def _add_arrays(*parts: np.ndarray) -> np.ndarray:
    """The sum of partial products, in the order given."""
    out = parts[0].copy()
    for p in parts[1:]:
        out += p
    return out


def _add(*parts: tuple[float, np.ndarray | None]) -> tuple[float, np.ndarray | None]:
    """The sum of partial results, in the order given."""
    f = 0.0
    g = None
    for fk, gk in parts:
        f += fk
        if gk is not None:
            g = gk.copy() if g is None else g + gk
    return f, g


def _check_partition(k: int, lo: int, tails: tuple[tuple[int, ...], ...], *blocks: np.ndarray) -> str | None:
    """What is wrong with partition ``k`` (its shape or a non-finite entry), or None."""
    n = blocks[0].shape[0]
    for j, b in enumerate(blocks):
        where = f"partition {k} (rows {lo}..{lo + n - 1}) of data[{j}]"
        if b.shape[1:] != tails[j] or b.shape[0] != n:
            return (
                f"{where} has shape {b.shape}, but its rows should have shape {tails[j]} "
                f"(the array's declared shape) and it should have {n} rows like data[0]'s partition"
            )
        if b.dtype.kind == "f" and not np.all(np.isfinite(b)):
            bad = np.argwhere(~np.isfinite(b))[0]
            index = (lo + int(bad[0]), *(int(i) for i in bad[1:]))
            return f"{where} has a non-finite entry (nan or inf) at index {index} of data[{j}]"
    return None


def _local_sgd(  # noqa: PLR0917
    spec: _Spec,
    k: int,
    lo: int,
    w: np.ndarray,
    steps: np.ndarray,
    batch_size: int,
    scale: float,
    replace: bool,
    seed: Any,
    *blocks: np.ndarray,
) -> tuple[float, np.ndarray]:
    """One epoch of SGD on partition ``k`` alone from ``w``; returns ``(n_k, n_k * w_k)``.

    Each step's gradient estimate is ``scale / |B| * sum_B grad f + grad r``
    (``scale`` is N for a sum, 1 for a mean): an unbiased estimate of the whole
    objective's gradient from this partition's rows.
    """
    module = _worker_module(spec)
    data = _blocks(spec, k, lo, blocks)
    n = data[0].shape[0]
    rng = np.random.default_rng(seed)
    order = np.asarray(rng.integers(0, n, size=n) if replace else rng.permutation(n), dtype=np.int64)
    w = w.copy()
    g = np.empty_like(w)
    for b, a in enumerate(steps):
        idx = order[b * batch_size : (b + 1) * batch_size]
        g[:] = 0.0
        module.batch_add_grad(g, w, idx, *data)
        g *= scale / idx.shape[0]
        module.regularizer_add_grad(g, w)
        w -= a * g
    return float(n), n * w


# -- the driver -------------------------------------------------------------------------------


def driver_callback(slot: int, w: np.ndarray) -> tuple[float, np.ndarray]:
    """``(F(w), grad F(w))`` of the distributed sum in ``slot`` (called by the optimizer drivers)."""
    obj = _LIVE.get(int(slot))
    if obj is None:
        raise RuntimeError("this distributed finite sum no longer exists")
    f, g = obj.value_and_grad(w)
    return f, np.ascontiguousarray(g, dtype=np.float64)


def driver_hvp_callback(slot: int, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(Hessian of F at w) v`` of the distributed sum in ``slot`` (called by the Newton-CG driver)."""
    obj = _LIVE.get(int(slot))
    if obj is None:
        raise RuntimeError("this distributed finite sum no longer exists")
    return np.ascontiguousarray(obj.hvp(w, v), dtype=np.float64)


def _flatten(keys: Any) -> Iterator[Any]:
    if isinstance(keys, list):
        for item in keys:
            yield from _flatten(item)
    else:
        yield keys


def _client(client: Any) -> Any:
    if client is not None:
        return client
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        raise SignatureError(
            "dc.finite_sum over Dask arrays computes on a dask.distributed cluster, and there is no client.\n"
            "Fix: from dask.distributed import Client; client = Client(...) before dc.finite_sum."
        ) from None


def _as_array(name: str, k: int, d: Any) -> Any:
    """Data item ``k`` as a Dask array cast as finite_sum casts (or a NumPy array, to chunk like the rest)."""
    import dask
    import dask.array as da

    if hasattr(d, "to_dask_array"):  # a Dask data frame or series
        d = d.to_dask_array(lengths=True)
    elif not dask.is_dask_collection(d):
        d = np.asarray(d)
    elif not isinstance(d, da.Array):
        raise SignatureError(f"data[{k}] of finite_sum({name}) is a Dask {type(d).__name__}; pass Dask arrays")
    if d.ndim == 0:
        raise SignatureError(f"data[{k}] of finite_sum({name}) is a scalar; each data item needs a row per sample")
    kind = d.dtype.kind
    if kind not in "biuf":
        raise SignatureError(f"data[{k}] of finite_sum({name}) has dtype {d.dtype}; use numbers")
    dtype = np.float64 if d.ndim == 1 or kind == "f" else (np.bool_ if kind == "b" else np.int64)
    return d.astype(dtype) if d.dtype != dtype else d


def _prepare(name: str, data: Any) -> list[Any]:
    """The data as Dask arrays chunked along rows only, with the same row chunks."""
    import dask.array as da

    items = list(data) if isinstance(data, (tuple, list)) else [data]
    if not items:
        raise SignatureError(f"finite_sum({name}) needs data: a tuple of arrays with one row per sample")
    arrays = [_as_array(name, k, d) for k, d in enumerate(items)]
    first = next(a for a in arrays if isinstance(a, da.Array))
    if any(math.isnan(c) for c in first.chunks[0]):
        first = first.compute_chunk_sizes()
    rows = first.shape[0]
    out = []
    for k, item in enumerate(arrays):
        a = item
        if not isinstance(a, da.Array):
            a = da.from_array(a, chunks=(first.chunks[0], *(-1,) * (a.ndim - 1)))
        if any(math.isnan(c) for c in a.chunks[0]):
            a = a.compute_chunk_sizes()
        if a.shape[0] != rows:
            raise SignatureError(
                f"the data of finite_sum({name}) disagree on the number of samples: "
                f"data[0] has {rows} rows, data[{k}] has {a.shape[0]}.\nFix: pass arrays with one row per sample each."
            )
        if any(len(c) > 1 for c in a.chunks[1:]):  # one chunk across the other axes: a partition is whole rows
            a = a.rechunk({i: -1 for i in range(1, a.ndim)})
        if a.chunks[0] != first.chunks[0]:
            raise SignatureError(
                f"the data of finite_sum({name}) are split into different row chunks: data[{k}] has "
                f"{a.chunks[0]}, the first Dask array {first.chunks[0]}.\n"
                f"Fix: rechunk them alike, e.g. data[{k}].rechunk({{0: X.chunks[0]}})."
            )
        out.append(a)
    if rows == 0:
        raise SignatureError(f"the data of finite_sum({name}) are empty: there are no samples to sum over")
    return out


class DistributedFiniteSum:
    """``F(w) = sum_i f(w, *data_i)`` (``mean=True``: the average) plus ``r(w)``, data on a Dask cluster.

    Made by ``dc.finite_sum`` when the data are Dask collections; see the module
    docstring. ``parallel`` is accepted and ignored (each worker thread runs one
    partition at a time; give workers several threads for parallelism).
    """

    distributed = True

    def __init__(
        self,
        fun: Function,
        data: Any,
        *,
        mean: bool = False,
        regularizer: Function | None = None,
        parallel: bool = False,
        client: Any = None,
    ) -> None:
        if not isinstance(fun, Function):
            raise SignatureError("dc.finite_sum takes the per-sample loss made by @dc.compile: f(w, *row)")
        self.client = _client(client)
        self.fun = fun
        self.name = fun.name
        self.mean = bool(mean)
        self.regularizer = regularizer
        arrays = _prepare(fun.name, data)
        self.n = int(arrays[0].shape[0])
        self.tails = tuple(tuple(int(s) for s in a.shape[1:]) for a in arrays)
        # the first row, locally: the sum over it generates the kernels and the row-loop module
        head = tuple(np.asarray(x) for x in self.client.compute([a[:1] for a in arrays], sync=True))
        self.local = FiniteSum(fun, head, mean=mean, regularizer=regularizer)
        self.arrays = self.client.persist(arrays)
        self._partitions(self.arrays)
        self._check_data()
        self._specs: dict[tuple[Any, ...], Any] = {}
        self._fault: str | None = None  # tests: a file name; partition 0's task kills its worker once
        self.nfev = 0
        slot = _NEXT_SLOT[0]
        _NEXT_SLOT[0] += 1
        _LIVE[slot] = self
        self.data = (np.array([slot], dtype=np.int64),)  # what the optimizer drivers pass the objective

    def _partitions(self, arrays: list[Any]) -> None:
        """The futures of each partition's blocks, and its first row and length."""
        from distributed import futures_of

        futures = {f.key: f for a in arrays for f in futures_of(a)}
        keys = [list(_flatten(a.__dask_keys__())) for a in arrays]
        sizes = arrays[0].chunks[0]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.partitions: list[tuple[int, int, int, list[Any]]] = [
            (k, int(starts[k]), int(sizes[k]), [futures[ks[k]] for ks in keys])
            for k in range(len(sizes))
            if sizes[k] > 0
        ]

    def _check_data(self) -> None:
        checks = [
            self.client.submit(_check_partition, k, lo, self.tails, *blocks, pure=False)
            for k, lo, _, blocks in self.partitions
        ]
        for problem in self.client.gather(checks):
            if problem is not None:
                raise SignatureError(
                    f"finite_sum({self.name}): {problem}.\nFix: drop, impute or repair that partition first."
                )

    def __repr__(self) -> str:
        kind = "mean" if self.mean else "sum"
        reg = f" + {self.regularizer.name}(w)" if self.regularizer is not None else ""
        return (
            f"<dcompile.DistributedFiniteSum {kind} of {self.name}(w, ...) over {self.n} rows "
            f"in {len(self.partitions)} partitions{reg}>"
        )

    # -- the generated code, on the workers ---------------------------------------------
    def _check_w(self, w: Any) -> np.ndarray:
        return self.local._check_w(w)

    def module(self, w: Any) -> Any:
        """The row-loop module for parameters shaped like ``w`` on the driver (as ``FiniteSum.module``)."""
        return self.local.module(w)

    def _spec(self, w: np.ndarray, what: str = "rows") -> Any:
        """The future of the sources the workers load for ``w``'s shape (sent once); ``what``:
        the row loops, or (``"hvp"``) the Hessian-vector product loop."""
        hit = self._specs.get((what, *w.shape))
        if hit is not None:
            return hit
        module = self.module(w) if what == "rows" else self.local.hvp_module(w)
        path = Path(module.__file__)
        text = path.read_text(encoding="utf-8")
        kernels = tuple(
            (stem, (path.parent / f"{stem}.py").read_text(encoding="utf-8")) for stem in _IMPORT.findall(text)
        )
        spec = _Spec(path.stem, kernels, (path.stem, text), self.tails, int(w.shape[0]))
        # a task's result, not scattered data: a lost copy is recomputed from the task
        future = self.client.submit(_identity, spec, key=f"dcompile-spec-{path.stem}-{id(self)}")
        self._specs[(what, *w.shape)] = future
        return future

    def _reduce(self, w: np.ndarray, grad: bool) -> tuple[float, np.ndarray | None]:
        """The sum over all rows of the values (and gradients): a task per partition, then a tree."""
        spec = self._spec(w)
        submit = self.client.submit
        level = [
            submit(_partial, spec, k, lo, w, grad, self._fault, *blocks, pure=False)
            for k, lo, _, blocks in self.partitions
        ]
        while len(level) > 1:
            groups = [level[i : i + SPLIT_EVERY] for i in range(0, len(level), SPLIT_EVERY)]
            level = [submit(_add, *g, pure=False) if len(g) > 1 else g[0] for g in groups]
        self.nfev += 1
        return level[0].result()

    # -- evaluation -------------------------------------------------------------------------
    def __call__(self, w: Any) -> float:
        """``F(w)`` over the whole data set."""
        w = self._check_w(w)
        total, _ = self._reduce(w, grad=False)
        if self.mean:
            total /= self.n
        return float(total + self.module(w).regularizer_value(w))

    def value_and_grad(self, w: Any) -> tuple[float, np.ndarray]:
        """``(F(w), grad F(w))`` over the whole data set."""
        w = self._check_w(w)
        total, g = self._reduce(w, grad=True)
        assert g is not None
        if self.mean:
            scale = 1.0 / self.n
            total *= scale
            g *= scale
        total += self.module(w).regularizer_add_grad(g, w)
        return float(total), g

    def grad(self, w: Any) -> np.ndarray:
        """``grad F(w)`` over the whole data set."""
        return self.value_and_grad(w)[1]

    def hvp(self, w: Any, v: Any) -> np.ndarray:
        """``(Hessian of F at w) v`` over the whole data set: a task per partition, then a tree."""
        w = self._check_w(w)
        v = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
        spec = self._spec(w, "hvp")
        submit = self.client.submit
        level = [submit(_partial_hvp, spec, k, lo, w, v, *blocks, pure=False) for k, lo, _, blocks in self.partitions]
        while len(level) > 1:
            groups = [level[i : i + SPLIT_EVERY] for i in range(0, len(level), SPLIT_EVERY)]
            level = [submit(_add_arrays, *g, pure=False) if len(g) > 1 else g[0] for g in groups]
        out = np.asarray(level[0].result(), dtype=np.float64)
        if self.mean:
            out = out / self.n
        return out + self.local.hvp_module(w).regularizer_hvp(w, v)

    def hvp_ref(self, w: Any) -> KernelRef:
        """The Hessian-vector product a Newton-CG driver binds: a callback to :meth:`hvp`."""
        self.local.hvp_module(self._check_w(w))  # generated (and compiled) here first
        path = _objective_module()
        return KernelRef(path.stem, "hvp", jitted=True)

    def kernel_ref(self, w: Any) -> tuple[KernelRef, Path]:
        """The objective an optimizer driver binds: a callback to :meth:`value_and_grad` (distributed_objective.py)."""
        path = _objective_module()
        return KernelRef(path.stem, "objective", jitted=True), path.parent

    def _dcompile_derivative(self, mode: str) -> Any:
        """What ``dc.grad(obj)`` / ``dc.value_and_grad(obj)`` return for a finite sum."""
        return sum_derivative(self, mode)

    # -- local SGD -------------------------------------------------------------------------
    def sgd_epoch(
        self, w: np.ndarray, steps: list[np.ndarray], batch_size: int, replace: bool, seed: Any
    ) -> np.ndarray:
        """One epoch of local SGD: partition ``k`` takes the steps ``steps[k]``; the average of the results."""
        spec = self._spec(w)
        scale = 1.0 if self.mean else float(self.n)
        submit = self.client.submit
        level = [
            submit(_local_sgd, spec, k, lo, w, steps[i], batch_size, scale, replace,
                   None if seed is None else (*seed, k), *blocks, pure=False)
            for i, (k, lo, _, blocks) in enumerate(self.partitions)
        ]  # fmt: skip
        while len(level) > 1:
            groups = [level[i : i + SPLIT_EVERY] for i in range(0, len(level), SPLIT_EVERY)]
            level = [submit(_add, *g, pure=False) if len(g) > 1 else g[0] for g in groups]
        n, total = level[0].result()
        return total / n


def _objective_module() -> Path:
    """distributed_objective.py copied into the cache directory (content addressed) and imported."""
    path = write_module("distributed_objective", _OBJECTIVE.read_text(encoding="utf-8"), cache_dir())
    load_module(path)
    return path


def _identity(x: Any) -> Any:
    return x


def sgd(
    obj: Any,
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
    """Local SGD with averaging on a distributed finite sum (what ``dc.sgd`` runs for one).

    Each epoch every partition starts from the same ``w`` and runs one pass of
    mini-batch SGD over its own rows (a shuffled order, or draws with
    ``replace=True``; batches of ``batch_size``), each step using an unbiased
    estimate of the *whole* objective's gradient from its batch (``N/|B|``
    times the batch's sum, ``1/|B|`` for a mean, plus ``grad r``); then the
    driver averages the partitions' results, weighted by their number of rows,
    into the next epoch's ``w`` (``d`` floats each way per partition per epoch).
    Step ``k`` of a partition in epoch ``e`` uses the schedule at iteration
    ``e * B_max + k`` (``B_max``: the largest partition's batch count).

    ``x_avg``: ``"step_weighted"`` averages the epochs' averaged iterates
    weighted by the sum of the epoch's steps, ``"tail"`` uniformly over the last
    ``tail`` fraction of the epochs, ``"none"`` is ``x``. ``momentum`` is not
    supported. The orders are drawn from ``(seed, epoch, partition)``, so a run
    is reproducible whichever workers run it. The result is that of ``dc.sgd``;
    ``nfev`` counts per-sample gradients.
    """
    w = _check_sgd(obj, w0, batch_size, epochs, averaging, tail, momentum)
    sched = as_schedule(schedule)
    sizes = [size for _, _, size, _ in obj.partitions]
    batches = [(s + batch_size - 1) // batch_size for s in sizes]
    per_epoch = max(batches)
    tail_start = epochs - max(1, round(tail * epochs))
    record = history or progress or callback is not None
    display = Progress("sgd (local)", unit="epoch") if progress else None
    avg_sum, weight = np.zeros_like(w), 0.0
    losses: list[float] = []
    all_steps: list[np.ndarray] = []
    status = Status.EPOCHS_DONE
    t_start = time.perf_counter()
    compile_s = solve_s = 0.0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        first = epoch * per_epoch + 1
        steps = [sched.steps(np.arange(first, first + b)) for b in batches]
        w = obj.sgd_epoch(w, steps, batch_size, replace, None if seed is None else (seed, epoch))
        if epoch == 0:
            compile_s = time.perf_counter() - t_start
        else:
            solve_s += time.perf_counter() - t0
        all_steps.append(steps[int(np.argmax(batches))])
        ew = _epoch_weight(averaging, steps, epoch >= tail_start)
        avg_sum += ew * w
        weight += ew
        if not np.all(np.isfinite(w)):
            status = Status.NON_FINITE
            break
        if record:
            losses.append(obj(w))
        if display is not None:
            display.update(epoch + 1, losses[-1], math.nan, (epoch + 1) * obj.n)
        if callback is not None:
            partial = OptimizeResult(x=w.copy(), fun=losses[-1], epoch=epoch + 1, history={"loss": np.array(losses)})
            try:
                stop = callback(partial)
            except StopIteration:
                stop = True
            if stop:
                status = Status.CALLBACK
                break
    done = len(all_steps)
    x_avg = avg_sum / weight if weight > 0.0 else w.copy()
    fun = losses[-1] if len(losses) == done else obj(w)
    fun_avg = obj(x_avg) if weight > 0.0 else fun
    if display is not None:
        display.close(done, fun, math.nan, done * obj.n, MESSAGES[status])
    steps_all = np.concatenate(all_steps)
    return OptimizeResult(
        x=w,
        x_avg=x_avg,
        fun=fun,
        fun_avg=fun_avg,
        nit=steps_all.size,
        epochs=done,
        nfev=done * obj.n,
        status=int(status),
        success=status == Status.EPOCHS_DONE,
        message=MESSAGES[status],
        history={"loss": np.array(losses), "step": steps_all},
        method="sgd (local, averaged per epoch)",
        schedule=sched.name,
        averaging=averaging,
        compile_seconds=compile_s,
        solve_seconds=solve_s,
    )


def _epoch_weight(averaging: str, steps: list[np.ndarray], in_tail: bool) -> float:
    """The weight of an epoch's averaged iterate in ``x_avg``."""
    if averaging == "step_weighted":
        return float(np.mean([s.mean() for s in steps]))
    return 1.0 if averaging == "tail" and in_tail else 0.0


def _check_sgd(  # noqa: PLR0917
    obj: Any, w0: Any, batch_size: int, epochs: int, averaging: str, tail: float, momentum: float
) -> np.ndarray:
    if not isinstance(obj, DistributedFiniteSum):
        raise SignatureError("local SGD takes a finite sum over Dask arrays")
    w = np.array(w0, dtype=np.float64)
    if w.ndim != 1:
        raise SignatureError(f"w0 must be a 1-D vector of parameters, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise SignatureError("w0 has non-finite entries (nan or inf).\nFix: start from a finite point.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise SignatureError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size > obj.n:
        raise SignatureError(f"batch_size {batch_size} is larger than the data ({obj.n} rows)")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise SignatureError(f"epochs must be a positive integer, got {epochs!r}")
    if averaging not in AVERAGING:
        raise SignatureError(f"unknown averaging {averaging!r}; choose one of {', '.join(AVERAGING)}")
    if not 0.0 < tail <= 1.0:
        raise SignatureError(f"tail must be a fraction in (0, 1], got {tail!r}")
    if momentum != 0.0:
        raise SignatureError("momentum is not supported by local SGD on a distributed finite sum.\nFix: momentum=0.0")
    return np.ascontiguousarray(w)
