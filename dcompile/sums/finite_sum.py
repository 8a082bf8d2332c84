"""``dc.finite_sum``: ``F(w) = sum_i f(w, data_i)`` as compiled loops over the rows of the data.

The per-sample function is compiled once (value, and value-and-gradient in
the form that *adds* its gradient into a buffer; the SGD and Adam epochs use
the gradient alone, compiled with the first epoch, which skips the value's
transcendental calls); a generated module (in the
dcompile cache, beside the kernels, cached by numba on disk) holds the loops
over rows that call them: full-batch value and gradient, a mini-batch over an
index array, a parallel full batch (``numba.prange`` over a fixed number of
row blocks, each with its own gradient accumulator, so the answer does not
depend on the thread count), and the SGD and Adam epoch loops. No
per-sample gradient is ever stored. The loops' code is ``rowloops_template.py``
(and ``hvp_template.py`` for Newton-CG), ordinary modules of the package copied
with the objective's kernels bound (:mod:`dcompile.optimize.template`).

With ``mean=True`` the sum is an average (``1/N``). A ``regularizer`` ``r(w)``
(a compiled function of the parameters alone) is added once, not per sample.
A mini-batch ``B`` estimates the same objective without bias: ``(N/|B|) sum_B
f + r`` (``(1/|B|) sum_B f + r`` for the mean).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dcompile.api import Function, Signature
from dcompile.api import compile as compile_function
from dcompile.backend.cache import write_module
from dcompile.backend.compiler import PACKAGE, Kernel, load_module
from dcompile.calling import raveled_function
from dcompile.errors import SignatureError
from dcompile.frontend.pytree import Unravel
from dcompile.ir.types import DType
from dcompile.optimize.driver import KernelRef
from dcompile.optimize.template import instantiate

_N_BLOCKS = 64  # parallel full batch: row blocks, whatever the thread count

_ROWLOOPS = Path(__file__).with_name("rowloops_template.py")  # the loops' code; see instantiate
_HVP = Path(__file__).with_name("hvp_template.py")


@dataclass(frozen=True)
class Unloaded:
    """A generated kernel written to the cache but not compiled: numba compiles it when a loop that
    calls it is compiled (the epochs' gradient-only kernel costs nothing until SGD runs)."""

    path: Path
    function: str


def _kernel(alias: str, kernel: Kernel | Unloaded) -> tuple[str, str]:
    """The import of a generated kernel and its binding as a StaticKernel named ``alias``."""
    function = kernel.function if isinstance(kernel, Unloaded) else kernel.py_function.__name__
    return (
        f"from {PACKAGE}.{kernel.path.stem} import {function} as _{alias}_py\n",
        f'{alias} = StaticKernel(numba.njit(cache=True, error_model="numpy")(_{alias}_py))\n',
    )


def _bindings(kernels: dict[str, Kernel | Unloaded | None], constants: dict[str, object]) -> str:
    """A generated module's bindings block: the kernels' imports, their bindings (None for an
    absent one) and the constants."""
    imports = bindings = ""
    for alias, kernel in kernels.items():
        if kernel is None:
            bindings += f"{alias} = None\n"
        else:
            line, binding = _kernel(alias, kernel)
            imports += line
            bindings += binding
    return imports + "\n" + bindings + "".join(f"{name} = {value!r}\n" for name, value in constants.items())


def _validate(name: str, data: Any) -> tuple[np.ndarray, ...]:
    """The data as C-contiguous arrays with one row per sample (1-D numeric columns as float64)."""
    if isinstance(data, np.ndarray) or not isinstance(data, Sequence) or isinstance(data, str):
        data = (data,)
    if len(data) == 0:
        raise SignatureError(f"finite_sum({name}) needs data: a tuple of arrays with one row per sample")
    out = []
    rows = None
    for k, d in enumerate(data):
        a = np.asarray(d)
        if a.ndim == 0:
            raise SignatureError(f"data[{k}] of finite_sum({name}) is a scalar; each data item needs a row per sample")
        if a.dtype.kind not in "biuf":
            raise SignatureError(f"data[{k}] of finite_sum({name}) has dtype {a.dtype}; use numbers")
        if a.ndim == 1 or a.dtype.kind == "f":
            a = np.ascontiguousarray(a, dtype=np.float64)  # a row of a 1-D column is a scalar: float, as traced
        else:
            a = np.ascontiguousarray(a, dtype=np.bool_ if a.dtype.kind == "b" else np.int64)
        if a.shape[0] == 0:
            raise SignatureError(f"data[{k}] of finite_sum({name}) is empty: there are no samples to sum over")
        if rows is not None and a.shape[0] != rows:
            raise SignatureError(
                f"the data of finite_sum({name}) disagree on the number of samples: data[0] has {rows} rows, "
                f"data[{k}] has {a.shape[0]}.\nFix: pass arrays with one row per sample each."
            )
        rows = a.shape[0]
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            bad = np.argwhere(~np.isfinite(a))[0]
            raise SignatureError(
                f"data[{k}] of finite_sum({name}) has a non-finite entry (nan or inf) at index {tuple(bad.tolist())}.\n"
                "Fix: drop or impute those rows first."
            )
        out.append(a)
    return tuple(out)


class FiniteSum:
    """``F(w) = sum_i f(w, *data_i)`` (``mean=True``: the average) plus an optional regularizer ``r(w)``.

    Call it for ``F(w)``; ``dc.grad``, ``dc.value_and_grad``, ``dc.minimize``
    (gd, lbfgs, bfgs), ``dc.sgd`` and ``dc.adam`` accept it. See the module
    docstring for what is compiled.
    """

    def __init__(
        self,
        fun: Function,
        data: Any,
        *,
        mean: bool = False,
        regularizer: Function | None = None,
        parallel: bool = False,
    ) -> None:
        if not isinstance(fun, Function):
            raise SignatureError("dc.finite_sum takes the per-sample loss made by @dc.compile: f(w, *row)")
        if regularizer is not None and not isinstance(regularizer, Function):
            raise SignatureError("regularizer must be made by @dc.compile: r(w) of the parameters alone")
        if fun.backend != "numba" or (regularizer is not None and regularizer.backend != "numba"):
            raise SignatureError("dc.finite_sum compiles loops with numba: compile the loss with backend='numba'")
        self.fun = fun
        self.name = fun.name
        self.data = _validate(fun.name, data)
        self.n = self.data[0].shape[0]
        self.mean = bool(mean)
        self.regularizer = regularizer
        self.parallel = bool(parallel)
        self._modules: dict[tuple[Any, ...], Any] = {}
        self._raveled: dict[Unravel, FiniteSum] = {}

    def raveled(self, unravel: Unravel) -> FiniteSum:
        """The same sum over the raveled vector of a structure of parameters (``dc.ravel``): what
        ``dc.sgd``, ``dc.adam`` and ``dc.minimize`` run when ``w0`` is a dict or tuple of arrays."""
        found = self._raveled.get(unravel)
        if found is None:
            fun = compile_function(raveled_function(self.fun, unravel, len(self.data)), name=f"{self.name}_raveled")
            reg = self.regularizer
            if reg is not None:
                reg = compile_function(raveled_function(reg, unravel, 0), name=f"{reg.name}_raveled")
            found = FiniteSum(fun, self.data, mean=self.mean, regularizer=reg, parallel=self.parallel)
            self._raveled[unravel] = found
        return found

    def __repr__(self) -> str:
        kind = "mean" if self.mean else "sum"
        reg = f" + {self.regularizer.name}(w)" if self.regularizer is not None else ""
        return f"<dcompile.FiniteSum {kind} of {self.name}(w, ...) over {self.n} rows{reg}>"

    # -- the generated module ---------------------------------------------------
    def _check_w(self, w: Any) -> np.ndarray:
        w = np.ascontiguousarray(np.asarray(w, dtype=np.float64))
        if w.ndim != 1:
            raise SignatureError(f"the parameters of finite_sum({self.name}) are a 1-D vector, got shape {w.shape}")
        return w

    def module(self, w: Any) -> Any:
        """The loaded module of loops for parameters shaped like ``w`` (generated and compiled once)."""
        w = self._check_w(w)
        hit = self._modules.get(w.shape)
        if hit is not None:
            return hit
        row = tuple(d[0] for d in self.data)
        sig, _ = self.fun.signature((w, *row))  # a SignatureError names a bad argument
        if sig[0].dtype is not DType.F64:
            raise SignatureError(f"the first argument of {self.name} is the parameter vector w")
        # without per-call shape checks: the module's entry points check w once (rows are
        # validated at construction), and a check in the per-row callee costs as much as the row
        f_kernel = self.fun.compiled(sig, "f", tuple(range(len(sig))), checked=False)
        vg_kernel = self.fun.compiled(sig, "value_and_grad", (0,), accumulate=True, checked=False)
        source = self._source(f_kernel, vg_kernel, self._grad_kernel(sig), w)
        path = write_module(f"{self.name}_sum", source, vg_kernel.path.parent)
        module = load_module(path)
        self._modules[w.shape] = module
        return module

    def _grad_kernel(self, sig: Signature) -> Kernel | Unloaded:
        """The per-sample gradient added into g, without the value (the SGD and Adam epochs'
        kernel): written now, compiled by numba with the first epoch. A kernel split into parts
        (a very long per-sample function) is compiled now, as its parts must be."""
        if self.fun.backend != "numba":
            return self.fun.compiled(sig, "grad", (0,), accumulate=True, checked=False)
        emitted = self.fun.emitted(sig, "grad", (0,), into=True, accumulate=True, checked=False)
        if emitted.parts:
            return self.fun.compiled(sig, "grad", (0,), accumulate=True, checked=False)
        return Unloaded(write_module(emitted.function, emitted.source), emitted.function)

    def _source(self, f_kernel: Kernel, vg_kernel: Kernel, g_kernel: Kernel | Unloaded, w: np.ndarray) -> str:
        rf = rvg = None
        if self.regularizer is not None:
            rsig, _ = self.regularizer.signature((w,))
            rf = self.regularizer.compiled(rsig, "f", (0,), checked=False)
            rvg = self.regularizer.compiled(rsig, "value_and_grad", (0,), accumulate=True, checked=False)
        rows = ", ".join(f"d{k}_i" for k in range(len(self.data)))
        formula = ("(1/N) " if self.mean else "") + f"sum_i {self.name}(w, {rows})"
        if self.regularizer is not None:
            formula += f" + {self.regularizer.name}(w)"
        header = (
            f'"""Finite sum of {self.name} over the rows of its data (generated by dcompile).\n\n'
            f"F(w) = {formula}. Every loop calls the per-sample kernels and adds gradients\n"
            'into one buffer; see dcompile.sums.finite_sum and dcompile/sums/rowloops_template.py.\n"""\n\n'
            f"# sources digest: {_digest()}\n"
        )
        bindings = _bindings(
            {"f1": f_kernel, "vg1": vg_kernel, "g1": g_kernel, "r_f": rf, "r_vg": rvg},
            {"MEAN": self.mean, "N_BLOCKS": _N_BLOCKS, "N_PARAMS": w.shape[0], "PARALLEL": self.parallel},
        )
        omit = () if self.parallel else ("value_and_grad_parallel",)
        return instantiate(_ROWLOOPS, header, bindings, omit=omit, n_data=len(self.data))

    # -- evaluation ---------------------------------------------------------------
    def __call__(self, w: Any) -> float:
        """``F(w)`` over the whole data set."""
        w = self._check_w(w)
        return float(self.module(w).value(w, *self.data))

    def value_and_grad(self, w: Any) -> tuple[float, np.ndarray]:
        """``(F(w), grad F(w))`` over the whole data set (in parallel when made with ``parallel=True``)."""
        w = self._check_w(w)
        f, g = self.module(w).objective(w, *self.data)
        return float(f), g

    def grad(self, w: Any) -> np.ndarray:
        return self.value_and_grad(w)[1]

    def batch_value_and_grad(self, w: Any, idx: Any) -> tuple[float, np.ndarray]:
        """The unbiased estimate of ``(F, grad F)`` on the rows ``idx`` (an integer array)."""
        w = self._check_w(w)
        idx = np.ascontiguousarray(np.asarray(idx, dtype=np.int64))
        if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= self.n:
            raise SignatureError(f"idx must be a non-empty 1-D array of row indices in [0, {self.n})")
        g = np.empty_like(w)
        f = self.module(w).batch_value_and_grad(g, w, idx, *self.data)
        return float(f), g

    def hvp_module(self, w: Any) -> Any:
        """The loaded module with ``hvp_objective(w, *data, v)`` (generated on first use: Newton-CG)."""
        w = self._check_w(w)
        key = ("hvp", *w.shape)
        hit = self._modules.get(key)
        if hit is not None:
            return hit
        sig, _ = self.fun.signature((w, *(d[0] for d in self.data)))
        hv = self.fun.compiled(sig, "hvp", (0,), checked=False)
        rhv = None
        if self.regularizer is not None:
            rsig, _ = self.regularizer.signature((w,))
            rhv = self.regularizer.compiled(rsig, "hvp", (0,), checked=False)
        header = (
            f'"""Hessian-vector products of the finite sum of {self.name} (generated by dcompile, for Newton-CG).\n\n'
            'See dcompile.sums.finite_sum and dcompile/sums/hvp_template.py.\n"""\n\n'
            f"# sources digest: {_digest()}\n"
        )
        bindings = _bindings({"hv1": hv, "r_hv": rhv}, {"MEAN": self.mean, "N_PARAMS": w.shape[0]})
        text = instantiate(_HVP, header, bindings, n_data=len(self.data))
        module = load_module(write_module(f"{self.name}_sum_hvp", text, hv.path.parent))
        self._modules[key] = module
        return module

    def hvp(self, w: Any, v: Any) -> np.ndarray:
        """``(Hessian of F at w) v`` over the whole data set."""
        w = self._check_w(w)
        v = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
        return self.hvp_module(w).hvp_objective(w, *self.data, v)

    def hvp_ref(self, w: Any) -> KernelRef:
        """Where a Newton-CG driver imports the Hessian-vector product from."""
        return KernelRef(Path(self.hvp_module(w).__file__).stem, "hvp_objective", jitted=True)

    def kernel_ref(self, w: Any) -> tuple[KernelRef, Path]:
        """Where an optimizer driver imports the full-batch value-and-gradient from."""
        module = self.module(w)
        return KernelRef(Path(module.__file__).stem, "objective", jitted=True), Path(module.__file__).parent

    def _dcompile_derivative(self, mode: str) -> Any:
        """What ``dc.grad(obj)`` / ``dc.value_and_grad(obj)`` return for a finite sum."""
        return sum_derivative(self, mode)


def sum_derivative(obj: Any, mode: str) -> Any:
    """``obj.grad`` or ``obj.value_and_grad`` for ``dc.grad(obj)`` / ``dc.value_and_grad(obj)`` of a
    finite sum (local or distributed); other modes are a clear error."""
    if mode == "grad":
        return obj.grad
    if mode == "value_and_grad":
        return obj.value_and_grad
    raise SignatureError(
        f"dc.{mode} of a finite sum is not available; finite sums give F, grad F and value_and_grad.\n"
        f"Fix: apply dc.{mode} to the per-sample function {obj.name}."
    )


def _digest() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
