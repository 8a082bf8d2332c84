"""``dc.minimize``: SciPy's calling convention, iteration loops in machine code."""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.api import Function, compiled_function
from dcompile.api import compile as compile_function
from dcompile.backend import notice
from dcompile.backend.cache import cache_dir
from dcompile.calling import raveled_function, splatted_function
from dcompile.errors import DcompileError, SignatureError, user_traceback
from dcompile.frontend.pytree import LEAF, Unravel, ravel, vector_like
from dcompile.ir.types import DType
from dcompile.optimize import methods as M
from dcompile.optimize.box import parse_bounds
from dcompile.optimize.callback import PythonObjective
from dcompile.optimize.driver import METHODS as _DRIVER_METHODS
from dcompile.optimize.driver import Driver, KernelRef, SharedDriver, load_driver
from dcompile.optimize.methods import IntSlot, State
from dcompile.optimize.progress import Progress
from dcompile.optimize.result import MESSAGES, OptimizeResult, Status

METHODS = tuple(_DRIVER_METHODS)
LINE_SEARCHES = {"armijo": M.ARMIJO, "wolfe": M.WOLFE}
DEFAULTS: dict[str, Any] = {
    "gtol": 1e-6,
    "ftol": 1e-15,
    "xtol": 1e-15,
    "maxiter": 10_000,
    "maxfev": 100_000,
    "m": 10,
    "c1": 1e-4,
    "c2": 0.9,
}
_CHUNK_SECONDS = 0.1  # with progress or a callback: return to Python about this often
# (function, signature, method) -> its driver, loaded (and compiled) once per process
AnyDriver = Driver | SharedDriver
_DRIVERS: dict[tuple[Any, ...], tuple[AnyDriver, float]] = {}
# (method, line_search, step, options) -> validated option arrays (never mutated by the loops)
_SETTINGS: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, str, str]] = {}


def _start(x0: Any) -> np.ndarray:
    x = np.asarray(x0, dtype=np.float64)
    if x.ndim != 1:
        raise SignatureError(f"x0 must be a 1-D array of parameters, got shape {x.shape}.\nFix: pass x0.ravel().")
    if not np.isfinite(x).all():
        raise SignatureError("x0 has non-finite entries (nan or inf).\nFix: start from a finite point.")
    return np.ascontiguousarray(x)


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = dict(DEFAULTS)
    unknown = set(options or {}) - set(opts)
    if unknown:
        raise SignatureError(f"unknown options {sorted(unknown)}; known: {', '.join(sorted(opts))}")
    opts.update(options or {})
    if int(opts["m"]) < 1 or int(opts["maxiter"]) < 0 or int(opts["maxfev"]) < 1:
        raise SignatureError("options need m >= 1, maxiter >= 0 and maxfev >= 1")
    if not 0.0 < float(opts["c1"]) < float(opts["c2"]) < 1.0:
        raise SignatureError(f"line-search constants need 0 < c1 < c2 < 1, got c1={opts['c1']}, c2={opts['c2']}")
    return opts


def _line_search(method: str, line_search: str | None, step: float | None) -> tuple[int, str]:
    """The line-search code for the loops and its name (strong Wolfe by default, Armijo for gd)."""
    if step is not None:
        if not (np.isfinite(step) and step > 0.0):
            raise SignatureError(f"step must be a positive number, got {step!r}")
        return M.FIXED, "fixed"
    name = line_search or ("armijo" if method == "gd" else "wolfe")
    if name not in LINE_SEARCHES:
        raise SignatureError(f"unknown line_search {name!r}; choose armijo or wolfe (or give step=)")
    return LINE_SEARCHES[name], name


def _settings(
    method: str, line_search: str | None, step: float | None, options: dict[str, Any] | None
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """The option arrays of the loops, the line search's name and the method's label (memoised)."""
    try:
        key = (method, line_search, step, tuple(sorted((options or {}).items())))
        hit = _SETTINGS.get(key)
    except TypeError:  # an unhashable option value: validate it the long way
        key, hit = None, None
    if hit is not None:
        return hit
    if method not in METHODS:
        raise SignatureError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    opts = _options(options)
    kind, ls_name = _line_search(method, line_search, step)
    opts_f = np.array([opts["gtol"], opts["ftol"], opts["xtol"], opts["c1"], opts["c2"], step or 1.0], dtype=np.float64)
    opts_i = np.array([opts["maxiter"], opts["maxfev"], kind, opts["m"]], dtype=np.int64)
    label = method if step is None else f"{method} (fixed step)"
    settings = (opts_f, opts_i, ls_name, label)
    if key is not None and len(_SETTINGS) < 256:
        _SETTINGS[key] = settings
    return settings


def _bounded_driver(
    key: Any, vg: Callable[[], Any], x: np.ndarray, data: tuple[Any, ...], box: tuple[np.ndarray, np.ndarray]
) -> tuple[SharedDriver, float]:
    """L-BFGS-B's shared loop bound to the value-and-gradient dispatcher ``vg()`` and the box
    (memoised per ``key``; the box is set per call) and the seconds it took to get it."""
    from dcompile.optimize import fptr

    hit = _DRIVERS.get(key)
    start = time.perf_counter()
    if hit is None:
        found = fptr.pointer(vg(), (x, *data))
        if found is None:
            raise SignatureError("bounds need dcompile's shared optimizer loops, which this numba cannot build")
        _DRIVERS[key] = hit = (SharedDriver("lbfgsb", found[0], found[0], found[1], found[1], None), 0.0)
    driver = hit[0]
    assert isinstance(driver, SharedDriver)
    return driver.with_bounds(box), time.perf_counter() - start


def _signature(fun: Function, x: np.ndarray, args: Sequence[Any]) -> tuple[Any, tuple[Any, ...]]:
    if not isinstance(fun, Function):
        raise SignatureError("dc.minimize takes a function made by @dc.compile (or dc.from_sympy).")
    if fun.backend != "numba":
        raise SignatureError(
            f"{fun.name} runs on the {fun.backend!r} backend; dc.minimize runs its loops in numba.\n"
            "Fix: compile it with backend='numba' (the default)."
        )
    sig, conv_all = fun.signature((x, *args))  # a SignatureError names a bad argument
    if sig[0].dtype is not DType.F64 or sig[0].rank != 1:
        raise SignatureError(f"the first argument of {fun.name} is what dc.minimize varies: x0 must be a float vector")
    return sig, tuple(conv_all[1:])


def _driver(  # noqa: PLR0917
    fun: Function, sig: Any, method: str, x: np.ndarray, data: tuple[Any, ...], specialize: bool = False
) -> tuple[AnyDriver, float]:
    """The driver of ``method`` for ``fun`` at ``sig`` and the seconds it took to get it (0 when memoised).

    By default the shared loops (compiled once per method and data types, the kernels passed as
    function pointers; see optimize/generic.py); ``specialize``: loops compiled for this objective.
    """
    key = (fun, sig, method, specialize, fun.generation)
    hit = _DRIVERS.get(key)
    if hit is not None:
        return hit[0], 0.0
    start = time.perf_counter()
    vg = fun.compiled(sig, "value_and_grad", (0,))  # traced and compiled once per signature
    mode = _DRIVER_METHODS[method][2]
    d2 = fun.compiled(sig, mode, (0,)) if mode else None

    def specialized() -> Driver:
        return load_driver(fun.name, KernelRef.of(vg), KernelRef.of(d2) if d2 else None, method, vg.path.parent)

    driver: AnyDriver | None = None if specialize else _shared(method, vg, d2, mode, x, data, specialized)
    if driver is None:
        driver = specialized()
    _DRIVERS[key] = (driver, 0.0)
    return driver, time.perf_counter() - start


def _shared(  # noqa: PLR0917
    method: str, vg: Any, d2: Any, mode: str | None, x: np.ndarray, data: tuple[Any, ...], fallback: Any
) -> SharedDriver | None:
    """The shared loops bound to these kernels, or None when their function types cannot be had."""
    from dcompile.optimize import fptr

    first = fptr.pointer(vg.njit, (x, *data))
    second = first
    if d2 is not None:
        second = fptr.pointer(d2.njit, (x, *data, x) if mode == "hvp" else (x, *data))
    if first is None or second is None:
        return None
    return SharedDriver(method, first[0], second[0], first[1], second[1], fallback)


def _sum_driver(obj: Any, x: np.ndarray, args: Sequence[Any], method: str) -> tuple[AnyDriver, float, tuple[Any, ...]]:
    """The driver of ``method`` for a finite sum (its full-batch loop is the objective)."""
    if args:
        raise SignatureError("a finite sum carries its data: call dc.minimize(obj, w0) without args")
    mode = _DRIVER_METHODS[method][2]
    if mode == "hessian" or (mode == "hvp" and not hasattr(obj, "hvp_ref")):
        raise SignatureError(
            f"method {method!r} needs {'Hessians' if mode == 'hessian' else 'Hessian-vector products'}, "
            "which this finite sum does not provide.\n"
            "Fix: use lbfgs, bfgs, gd or newton-cg (or minimize the array formulation of the objective)."
        )
    key = (obj, x.shape, method)
    hit = _DRIVERS.get(key)
    if hit is not None:
        return hit[0], 0.0, obj.data
    start = time.perf_counter()
    ref, directory = obj.kernel_ref(x)
    d2 = obj.hvp_ref(x) if mode == "hvp" else None
    driver = load_driver(obj.name + "_sum", ref, d2, method, directory)
    _DRIVERS[key] = (driver, 0.0)
    return driver, time.perf_counter() - start, obj.data


def _python_driver(obj: PythonObjective, method: str) -> tuple[AnyDriver, float]:
    """The one driver of ``method`` that serves every Python objective (its kernels call back; see callback.py)."""
    mode = _DRIVER_METHODS[method][2]
    if mode == "hessian" and obj.hess is None:
        raise SignatureError(f"method {method!r} needs the Hessian of a Python objective.\nFix: pass hess=.")
    if mode == "hvp" and obj.hessp is None:
        raise SignatureError(
            f"method {method!r} needs Hessian-vector products of a Python objective.\nFix: pass hessp=."
        )
    key = ("python objective", method)
    hit = _DRIVERS.get(key)
    if hit is not None:
        return hit[0], 0.0
    start = time.perf_counter()
    vg = KernelRef("callback", "objective", jitted=True, package="dcompile.optimize")
    d2 = KernelRef("callback", mode, jitted=True, package="dcompile.optimize") if mode else None
    driver = load_driver("python_objective", vg, d2, method, cache_dir())
    _DRIVERS[key] = (driver, 0.0)
    return driver, time.perf_counter() - start


def _objective(fun: Any, jac: Any, hess: Any, hessp: Any, args: Sequence[Any]) -> Function | PythonObjective | Any:
    """What ``dc.minimize`` runs: a dcompile function or finite sum as given, a Python one with its ``jac``.

    A plain Python function without ``jac`` is compiled by dcompile (once per function object).
    """
    if isinstance(fun, Function) or hasattr(fun, "kernel_ref"):
        if jac is not None or hess is not None or hessp is not None:
            raise SignatureError(
                "fun is compiled by dcompile, which derives its own derivatives.\nFix: drop jac, hess and hessp."
            )
        return fun
    if not callable(fun):
        raise SignatureError(f"dc.minimize needs a function, got {type(fun).__name__}")
    if jac is not None:
        return PythonObjective(fun, jac, args, hess, hessp)
    if hess is not None or hessp is not None:
        raise SignatureError(
            "hess and hessp come with jac: pass jac= as well (or drop them to let dcompile derive all)"
        )
    return compiled_function(fun)


def _unraveled(res: OptimizeResult, unravel: Unravel) -> OptimizeResult:
    res.x = unravel(res.x)
    if "jac" in res:
        res.jac = unravel(res.jac)
    return res


# objective -> {(unravel, number of data arguments): its function of the raveled vector}
_RAVELED: weakref.WeakKeyDictionary[Any, dict[tuple[Unravel, int], Function]] = weakref.WeakKeyDictionary()


def _on_vector(  # noqa: PLR0917
    fun: Any, jac: Any, hess: Any, hessp: Any, unravel: Unravel, n_data: int
) -> tuple[Any, Any, Any, Any]:
    """The objective (and its Python derivatives) as functions of the raveled parameter vector."""
    if jac is not None and not isinstance(fun, Function):  # a Python objective: wrap each callable

        def fun_v(theta: np.ndarray, *data: Any) -> Any:
            out = fun(unravel(theta), *data)
            return (out[0], ravel(out[1])[0]) if jac is True else out

        def jac_v(theta: np.ndarray, *data: Any) -> np.ndarray:
            return ravel(jac(unravel(theta), *data))[0]

        def hessp_v(theta: np.ndarray, p: np.ndarray, *data: Any) -> np.ndarray:
            return ravel(hessp(unravel(theta), unravel(p), *data))[0]

        def hess_v(theta: np.ndarray, *data: Any) -> Any:
            return hess(unravel(theta), *data)  # a matrix over the raveled vector

        return (
            fun_v,
            True if jac is True else jac_v,
            None if hess is None else hess_v,
            None if hessp is None else hessp_v,
        )
    if hasattr(fun, "raveled"):  # a finite sum
        return fun.raveled(unravel), None, None, None
    cache = _RAVELED.setdefault(fun, {}) if _weakable(fun) else {}
    found = cache.get((unravel, n_data))
    if found is None:
        found = compile_function(raveled_function(fun, unravel, n_data))
        cache[unravel, n_data] = found
    return found, None, None, None


def _weakable(obj: Any) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


def _takes_scalars(fun: Function, x: np.ndarray, args: Sequence[Any]) -> bool:
    """``f(a, b, c, *data)`` minimised from a vector ``x0`` of 3 numbers: its first parameters are the scalars."""
    names = fun.convention.names if fun.convention is not None else fun.arg_names
    if fun.convention is not None:
        required = [p for p in fun.convention.params if p.default is p.empty and p.kind is not p.KEYWORD_ONLY]
        names = tuple(p.name for p in required)
    return x.size > 1 and len(names) == x.size + len(args)


_OF_VECTOR: weakref.WeakKeyDictionary[Function, dict[tuple[int, int], Function]] = weakref.WeakKeyDictionary()


def _of_vector(fun: Function, n: int, n_data: int) -> Function:
    cache = _OF_VECTOR.setdefault(fun, {})
    found = cache.get((n, n_data))
    if found is None:
        found = cache[n, n_data] = compile_function(splatted_function(fun, n, n_data), backend=fun.backend)
    return found


def _flat_call(fun: Function, x: np.ndarray, args: Sequence[Any]) -> tuple[Function, tuple[Any, ...]]:
    """The flat function and data arguments of ``fun(x, *args)``: defaults filled, structures flattened."""
    assert fun.convention is not None
    plan, leaves = fun.convention.plan((x, *args), {})
    if plan.parts[0] is not LEAF:
        raise SignatureError(f"the first argument of {fun.name} is what dc.minimize varies: x0 must be a vector")
    return fun.variant(plan), tuple(leaves[1:])


def minimizer(fun: Function, x0: Any, args: Sequence[Any] = (), *, method: str = "lbfgs") -> Any:
    """The compiled solver of ``method`` for ``fun``, callable from your own ``@numba.njit`` code.

    ``x0`` and ``args`` are example values that fix the signature. The result
    is a numba dispatcher ``solve(x0, args, gtol=1e-6, maxiter=10000,
    maxfev=100000, ftol=1e-15, xtol=1e-15, line_search=..., memory=10,
    c1=1e-4, c2=0.9, step=1.0)`` returning ``(x, f, g, nit, nfev, nhev,
    status)``, with ``args`` the tuple of data arguments (``()`` when none)
    and ``line_search`` one of ``dcompile.optimize.FIXED/ARMIJO/WOLFE``. It is
    cached on disk: a second process loads it without compiling.
    """
    if method not in METHODS:
        raise SignatureError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    x = _start(x0)
    sig, data = _signature(fun, x, args)
    driver = _driver(fun, sig, method, x, data, specialize=True)[0]
    assert isinstance(driver, Driver)
    return driver.solve


def _intermediate(state: State, method: str) -> OptimizeResult:
    nit = state.nit
    return OptimizeResult(
        x=state.x.copy(),
        fun=state.f,
        jac=state.g.copy(),
        nit=nit,
        nfev=state.nfev,
        history={"f": state.hist_f[: nit + 1].copy(), "gnorm": state.hist_g[: nit + 1].copy()},
        method=method,
    )


def _chunked(  # noqa: PLR0917
    driver: AnyDriver,
    x: np.ndarray,
    data: tuple[Any, ...],
    opts_f: np.ndarray,
    opts_i: np.ndarray,
    callback: Callable[[OptimizeResult], Any] | None,
    progress: Progress | None,
) -> State:
    """Run in chunks of iterations, returning to Python about every ``_CHUNK_SECONDS``.

    The state carries the whole run, so the result is bit-for-bit that of one call.
    """
    state = State(*driver.start(x, data, opts_f, opts_i))
    chunk = 1
    while state.status == Status.RUNNING:
        t0 = time.perf_counter()
        driver.iterate(data, *state, opts_f, opts_i, state.nit + chunk)
        if time.perf_counter() - t0 < _CHUNK_SECONDS / 2:
            chunk *= 2
        if progress is not None:
            progress.update(state.nit, state.f, float(state.hist_g[state.nit]), state.nfev)
        if callback is not None and state.status == Status.RUNNING:
            try:
                stop = callback(_intermediate(state, driver.method))
            except StopIteration:
                stop = True
            if stop:
                state.ist[IntSlot.STATUS] = Status.CALLBACK
    return state


def minimize(
    fun: Function,
    x0: Any,
    args: Sequence[Any] = (),
    *,
    method: str = "lbfgs",
    line_search: str | None = None,
    step: float | None = None,
    options: dict[str, Any] | None = None,
    callback: Callable[[OptimizeResult], Any] | None = None,
    progress: bool = False,
    jac: Callable[..., Any] | bool | None = None,
    hess: Callable[..., Any] | None = None,
    hessp: Callable[..., Any] | None = None,
    bounds: Any = None,
    specialize: bool = False,
) -> OptimizeResult:
    """Minimise ``fun(x, *args)`` over the vector ``x`` from ``x0``.

    ``method``: ``"lbfgs"`` (default), ``"bfgs"`` (dense inverse-Hessian
    updates), ``"newton"`` (the exact Hessian, shifted by a multiple of the
    identity where it is not positive definite), ``"newton-cg"`` (truncated
    CG with Hessian-vector products, for large n) — all with a strong Wolfe
    line search by default — or ``"gd"`` (gradient descent with
    ``line_search="armijo"`` (default) or ``"wolfe"``, or a fixed ``step``).
    ``options``: ``gtol`` (success when ``max |g_i| <= gtol``), ``ftol``/``xtol``
    (stall detection), ``maxiter``, ``maxfev``, ``m`` (L-BFGS history),
    ``c1``/``c2`` (line-search constants).

    ``bounds``: a box ``lo <= x <= hi``, as ``n`` pairs ``(lo, hi)`` (``None``
    for no bound) or ``scipy.optimize.Bounds(lb, ub)``; solved by L-BFGS-B
    (``method="lbfgs"``: the generalized Cauchy point and subspace
    minimisation of Byrd, Lu, Nocedal and Zhu), ``x0`` projected into the box,
    success when the projected gradient ``max |P(x - g) - x|`` is at most
    ``gtol``.

    The iteration loops run in numba. They are compiled once per method and
    data-argument types and cached on disk, with the objective's compiled
    derivatives passed in as function pointers: a new objective costs only
    its own kernels' compile, and ``compile_seconds`` reports that (and the
    loop's load from the cache) apart from ``solve_seconds``.
    ``specialize=True`` compiles the loops for this objective instead (its
    derivatives inlined: seconds of compile once, cached per objective; for a
    tiny objective solved many times). With
    ``progress=True`` (a one-line display on stderr) or a ``callback`` (called
    with the intermediate result; return True or raise ``StopIteration`` to
    stop), the loop runs in chunks of iterations and returns to Python about
    every 0.1 s, so the display costs nothing per iteration and the result is
    the same as without it.

    ``fun`` is normally a dcompile function (or finite sum), whose derivatives
    are compiled with it. A plain Python function is compiled by dcompile
    when no ``jac`` is given; with ``jac`` (``True``: ``fun`` returns ``(f,
    g)``; or a function ``jac(x, *args)``), and ``hess(x, *args)`` for newton
    or ``hessp(x, p, *args)`` for newton-cg, it runs as Python, called back
    from the same compiled loops: SciPy's conventions, dcompile's line
    searches and statuses.
    """
    key = None
    if callback is None and not progress and jac is hess is hessp is bounds is None and not specialize:
        key = _repeat_key(fun, x0, args, method, line_search, step, options)
        hit = _REPEAT.get(key) if key is not None else None
        if hit is not None and np.isfinite(x0).all():  # the same call as before: straight to the loop
            driver, (opts_f, opts_i, ls_name, label) = hit
            return _solve(driver, x0, tuple(args), opts_f, opts_i, 0.0, None, False, ls_name, label)
    try:
        return _minimize(
            fun, x0, args, method=method, line_search=line_search, step=step, options=options,
            callback=callback, progress=progress, jac=jac, hess=hess, hessp=hessp, bounds=bounds,
            specialize=specialize, remember=key,
        )  # fmt: skip
    except DcompileError as exc:
        raise user_traceback(exc) from None


# Repeated solves of one compiled objective from Python (many small fits): the checks, the call
# plan and the driver lookup of a call are memoised per function, method, options and the exact
# types and shapes of x0 and the data, and a call that matches goes straight to the loop.
_REPEAT: dict[tuple[Any, ...], tuple[AnyDriver, tuple[np.ndarray, np.ndarray, str, str]]] = {}


def _array_key(a: Any) -> Any:
    if type(a) is np.ndarray and a.flags.c_contiguous and a.dtype.kind in "fib":
        return (a.dtype.char, a.shape)
    if type(a) is float:
        return float
    raise TypeError  # anything else takes the full path


def _repeat_key(  # noqa: PLR0917
    fun: Any, x0: Any, args: Sequence[Any], method: str, line_search: Any, step: Any, options: Any
) -> tuple[Any, ...] | None:
    """The memo key of a call that may take the fast path, or None."""
    if not isinstance(fun, Function) or type(x0) is not np.ndarray or x0.dtype != np.float64 or x0.ndim != 1:
        return None
    if not x0.flags.c_contiguous or not isinstance(args, (tuple, list)):
        return None
    try:
        opts = tuple(sorted(options.items())) if options else ()
        key = (fun, fun.generation, method, line_search, step, opts, x0.shape, tuple(_array_key(a) for a in args))
        hash(key)
    except TypeError:
        return None
    return key


def _minimize(
    fun: Any,
    x0: Any,
    args: Sequence[Any],
    *,
    method: str,
    line_search: str | None,
    step: float | None,
    options: dict[str, Any] | None,
    callback: Callable[[OptimizeResult], Any] | None,
    progress: bool,
    jac: Any,
    hess: Any,
    hessp: Any,
    bounds: Any = None,
    specialize: bool = False,
    remember: tuple[Any, ...] | None = None,
) -> OptimizeResult:
    opts_f, opts_i, ls_name, label = _settings(method, line_search, step, options)
    if bounds is not None and method != "lbfgs":
        raise SignatureError(
            f"bounds work with method='lbfgs' (L-BFGS-B), not {method!r}.\nFix: drop method= or the bounds."
        )
    if bounds is not None and not vector_like(x0):
        raise SignatureError("bounds need x0 as a vector.\nFix: pass dc.ravel(x0)[0] and bounds for its entries.")
    if not vector_like(x0):  # a structure of arrays (a dict of weights): solve over its raveled vector
        vector, unravel = ravel(x0)
        fun, jac, hess, hessp = _on_vector(fun, jac, hess, hessp, unravel, len(args))
        res = _minimize(
            fun, vector, args, method=method, line_search=line_search, step=step, options=options,
            callback=None if callback is None else (lambda r: callback(_unraveled(r, unravel))),
            progress=progress, jac=jac, hess=hess, hessp=hessp, specialize=specialize,
        )  # fmt: skip
        return _unraveled(res, unravel)
    x = _start(x0)
    box = parse_bounds(bounds, x.size) if bounds is not None else None
    if box is not None:
        label, ls_name = "lbfgs (bounded)", "wolfe"
    target = _objective(fun, jac, hess, hessp, args)
    if isinstance(target, Function) and _takes_scalars(target, x, args):
        target = _of_vector(target, x.size, len(args))
    if isinstance(target, Function) and target.convention is not None:
        target, args = _flat_call(target, x, args)
    if isinstance(target, PythonObjective):
        data = (target.open(x.size),)
        try:
            driver, compile_s = _python_objective_driver(target, x, data, method, label, box)
            result = _solve(driver, x, data, opts_f, opts_i, compile_s, callback, progress, ls_name, label)
        finally:
            PythonObjective.close(data[0])
        target.raise_error()
        return result
    driver, compile_s, data = _compiled_driver(target, fun, x, args, method, box, specialize)
    plain = target is fun and x is x0 and len(data) == len(args)
    plain = plain and all(d is a for d, a in zip(data, args, strict=True))
    if remember is not None and plain and box is None:  # a call that needed no conversion: memoise it
        if len(_REPEAT) >= 256:
            _REPEAT.clear()
        _REPEAT[remember] = (driver, (opts_f, opts_i, ls_name, label))
    return _solve(driver, x, data, opts_f, opts_i, compile_s, callback, progress, ls_name, label)


def _python_objective_driver(  # noqa: PLR0917
    target: PythonObjective, x: np.ndarray, data: tuple[Any, ...], method: str, label: str, box: Any
) -> tuple[AnyDriver, float]:
    """The loop for a Python objective: the shared callback driver, or L-BFGS-B on its callbacks."""
    if box is not None:
        from dcompile.optimize import callback as python_kernels

        key = ("python objective", "lbfgsb")
        return _bounded_driver(key, lambda: python_kernels.objective, x, data, box)
    with notice.compiling(f"the {label} loop for Python objectives"):
        return _python_driver(target, method)


def _compiled_driver(  # noqa: PLR0917
    target: Any, fun: Any, x: np.ndarray, args: Sequence[Any], method: str, box: Any, specialize: bool
) -> tuple[AnyDriver, float, tuple[Any, ...]]:
    """The loop, the seconds it took to get it and the data arguments, for a dcompile function or finite sum."""
    if hasattr(target, "kernel_ref"):  # a finite sum: its data are its arguments
        if box is not None:
            raise SignatureError("bounds are not supported for finite sums yet.\nFix: minimize without bounds.")
        with notice.compiling(f"the finite sum {target.name} for dc.minimize"):
            return _sum_driver(target, x, args, method)
    try:
        sig, data = _signature(target, x, args)
        with notice.compiling(f"the derivatives of {target.name} for dc.minimize"):
            if box is None:
                driver, compile_s = _driver(target, sig, method, x, data, specialize)
                return driver, compile_s, data
            kernel = functools.partial(target.compiled, sig, "value_and_grad", (0,))
            key = (target, sig, "lbfgsb", target.generation)
            driver, compile_s = _bounded_driver(key, lambda: kernel().njit, x, data, box)
            return driver, compile_s, data
    except DcompileError as exc:
        if target is fun:
            raise
        raise type(exc)(
            f"{exc}\nNote: dc.minimize compiled the plain Python function {target.name} with dcompile; "
            "to run it as Python instead, pass its gradient: jac=True (it returns (f, g)) or jac=grad_fn."
        ) from None


def _solve(  # noqa: PLR0917
    driver: AnyDriver,
    x: np.ndarray,
    data: tuple[Any, ...],
    opts_f: np.ndarray,
    opts_i: np.ndarray,
    compile_s: float,
    callback: Callable[[OptimizeResult], Any] | None,
    progress: bool,
    ls_name: str,
    label: str,
) -> OptimizeResult:
    """Run the driver's loop (at once, or in chunks for a callback or progress) and make the result."""
    display: Progress | None = None
    if callback is None and not progress:
        if "run" not in driver.compiled:  # first use: compile (or load) the loop, timed apart from the solve
            t0 = time.perf_counter()
            with notice.compiling(f"the {label} loop for these argument types"):
                driver = _prepared(driver, "run", (x, data, opts_f, opts_i))
            compile_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        state = State(*driver.run(x, data, opts_f, opts_i))  # the drivers return a plain tuple
        solve_s = time.perf_counter() - t0
    else:
        if "iterate" not in driver.compiled:
            t0 = time.perf_counter()
            with notice.compiling(f"the {label} loop for these argument types"):
                driver = _prepared(driver, "start", (x, data, opts_f, opts_i))
                first = driver.start(x, data, opts_f, opts_i)
                driver = _prepared(driver, "iterate", (data, *first, opts_f, opts_i, 0))
            compile_s += time.perf_counter() - t0
        display = Progress(label) if progress else None
        t0 = time.perf_counter()
        state = _chunked(driver, x, data, opts_f, opts_i, callback, display)
        solve_s = time.perf_counter() - t0
    nit, status = state.nit, state.status
    if display is not None:
        display.close(nit, state.f, float(state.hist_g[nit]), state.nfev, MESSAGES[status])
    return OptimizeResult(
        x=state.x,
        fun=state.f,
        jac=state.g,
        nit=nit,
        nfev=state.nfev,
        njev=state.nfev,
        nhev=state.nhev,
        status=status,
        success=status == Status.SUCCESS,
        message=MESSAGES[status],
        history={"f": state.hist_f[: nit + 1].copy(), "gnorm": state.hist_g[: nit + 1].copy()},
        method=label,
        line_search=ls_name,
        compile_seconds=compile_s,
        solve_seconds=solve_s,
    )


def _prepared(driver: AnyDriver, kind: str, values: tuple[Any, ...]) -> AnyDriver:
    """``driver`` with entry point ``kind`` compiled (or loaded) for ``values``; the loops specialised to
    the objective when the shared ones are unavailable (see optimize/fptr.py)."""
    if not driver.prepare(kind, values):
        assert isinstance(driver, SharedDriver)
        if driver.fallback is None:
            raise SignatureError("bounds need dcompile's shared optimizer loops, which this numba cannot build")
        shared, driver = driver, driver.fallback()
        for key, (d, seconds) in list(_DRIVERS.items()):
            if d is shared:
                _DRIVERS[key] = (driver, seconds)
        driver.prepare(kind, values)
    driver.compiled.add(kind)
    return driver
