"""The user API: the decorator, the SymPy entry point and the derivative makers.

``@dc.compile`` and ``dc.from_sympy`` make a :class:`Function`; ``dc.grad``,
``dc.value_and_grad``, ``dc.jvp``, ``dc.vjp``, ``dc.hessian`` and ``dc.hvp``
make a :class:`Derivative` of it. Both are *compiled objects*: call them,
read ``.source`` (the emitted Python) and ``.ir`` (the SSA listing), and use
``.njit`` (the numba dispatcher) inside your own ``@numba.njit`` code.

Tracing and compilation are lazy and cached: the function is traced on first
need, each derivative is generated and compiled on its first call, and the
same derivative asked for again reuses the compiled kernel (in process) or
numba's disk cache (across processes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.backend.compiler import BACKENDS, Kernel, load_kernel
from dcompile.backend.emitter import Emitted, emit_module
from dcompile.backend.layout import into as into_layout
from dcompile.errors import DcompileError, SignatureError, TraceError
from dcompile.ir.graph import Graph
from dcompile.ir.naming import sanitize
from dcompile.ir.tracer import Tracer, lift
from dcompile.ir.types import F64, DType, VType
from dcompile.pipeline import MODES, Program, derive
from dcompile.transforms import replay

Wrt = int | str | Sequence[int | str] | None

_SCALAR_TYPES = (int, float, np.integer, np.floating, bool, np.bool_)


class Function:
    """A function dcompile can compile and differentiate.

    Calling it runs the compiled primal. Made by :func:`compile` (a traced
    Python function) or :func:`from_sympy` (a SymPy expression).
    """

    def __init__(
        self,
        make_graph: Callable[[], Graph],
        name: str,
        arg_names: Sequence[str],
        backend: str = "numba",
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self._make_graph = make_graph
        self.name = name
        self.arg_names = tuple(arg_names)
        self.backend = backend
        self._graph: Graph | None = None
        self._tracing = False
        self._programs: dict[tuple[str, tuple[int, ...]], Program] = {}
        self._kernels: dict[tuple[str, tuple[int, ...], bool], Kernel] = {}
        self._lock = threading.RLock()
        self._primal = Derivative(self, "f", tuple(range(len(self.arg_names))))

    # -- the primal ------------------------------------------------------------
    @property
    def ir(self) -> Graph:
        """The traced SSA graph of the function (``print(f.ir)`` lists it)."""
        with self._lock:
            if self._graph is None:
                if self._tracing:  # the lock is reentrant: this is recursion on this thread
                    raise TraceError(
                        f"{self.name} calls itself while being traced; recursion cannot be unrolled.\n"
                        "Fix: write it as a loop over a fixed range."
                    )
                self._tracing = True
                try:
                    self._graph = self._make_graph()
                finally:
                    self._tracing = False
            return self._graph

    @property
    def arg_types(self) -> list[VType]:
        """The IR type of each argument (float64 scalars)."""
        return [F64] * len(self.arg_names)

    def __call__(self, *args: Any) -> Any:
        # The primal's hot path, inlined here to save a Python frame per call.
        primal = self._primal
        try:
            return primal._entry(*args)
        except DcompileError:
            raise
        except TypeError:  # numba's dispatcher rejected the arguments
            pass
        return primal._recover(args)

    @property
    def source(self) -> str:
        """The emitted Python source of the primal function."""
        return self._primal.source

    @property
    def njit(self) -> Any:
        """The numba dispatcher of the primal, callable from ``@numba.njit`` code."""
        return self._primal.njit

    @property
    def kernel(self) -> Kernel:
        """The loaded primal kernel: path, backend, compile time, cache hit."""
        return self._primal.kernel

    def with_backend(self, backend: str) -> Function:
        """The same function on another backend (``"numba"`` or ``"python"``)."""
        return Function(self._make_graph, self.name, self.arg_names, backend)

    def __repr__(self) -> str:
        return f"<dcompile.Function {self.name}({', '.join(self.arg_names)}) backend={self.backend}>"

    # -- derivatives -----------------------------------------------------------
    def resolve_wrt(self, wrt: Wrt) -> tuple[int, ...]:
        """Argument positions for ``wrt`` (names or indices; ``None``: all)."""
        if wrt is None:
            return tuple(range(len(self.arg_names)))
        items = [wrt] if isinstance(wrt, (int, str)) else list(wrt)
        out: list[int] = []
        for w in items:
            if isinstance(w, str):
                if w not in self.arg_names:
                    raise SignatureError(
                        f"wrt={w!r} is not an argument of {self.name}; its arguments are "
                        f"{', '.join(self.arg_names)}.\nFix: pass one of those names or its index."
                    )
                i = self.arg_names.index(w)
            elif isinstance(w, (int, np.integer)) and not isinstance(w, bool):
                i = int(w)
                if not -len(self.arg_names) <= i < len(self.arg_names):
                    raise SignatureError(f"wrt={w} is out of range: {self.name} has {len(self.arg_names)} arguments.")
                i %= len(self.arg_names)
            else:
                raise SignatureError(f"wrt entries are argument names or indices, not {w!r}")
            if i in out:
                raise SignatureError(f"wrt names argument {self.arg_names[i]!r} twice")
            out.append(i)
        if not out:
            raise SignatureError("wrt is empty; name at least one argument")
        return tuple(out)

    def program(self, mode: str, wrt: tuple[int, ...]) -> Program:
        """The derived graph of ``mode`` w.r.t. argument positions ``wrt`` (cached)."""
        with self._lock:
            key = (mode, wrt)
            if key not in self._programs:
                if mode not in MODES:
                    raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
                self._programs[key] = derive(self.ir, mode, wrt)
            return self._programs[key]

    def emitted(self, mode: str, wrt: tuple[int, ...], *, into: bool = False) -> Emitted:
        """The generated module of ``mode``; ``into``: the variant writing into ``_out``."""
        prog = self.program(mode, wrt)
        if not into:
            return emit_module(prog.graph, prog.function, prog.layout, prog.doc)
        if mode not in ("grad", "value_and_grad"):
            raise SignatureError(f"only grad and value_and_grad write into a buffer, not {mode}")
        doc = prog.doc.rstrip(".") + ", the gradient written into _out (no allocation)."
        return emit_module(prog.graph, f"{prog.function}_into", into_layout(prog.layout), doc)

    def compiled(self, mode: str, wrt: tuple[int, ...], *, into: bool = False) -> Kernel:
        """The loaded kernel of ``mode`` (compiled on first request, then cached)."""
        with self._lock:
            key = (mode, wrt, into)
            if key not in self._kernels:
                types = [v.type for v in self.program(mode, wrt).graph.inputs]
                if into:
                    types.insert(0, VType((len(wrt),), DType.F64))
                self._kernels[key] = load_kernel(self.emitted(mode, wrt, into=into), types, self.backend)
            return self._kernels[key]

    def check_args(self, args: Sequence[Any], what: str = "arguments") -> None:
        """Raise :class:`SignatureError` unless ``args`` fit the function."""
        n = len(self.arg_names)
        if len(args) != n:
            raise SignatureError(f"{self.name}({', '.join(self.arg_names)}) takes {n} {what}, got {len(args)}.")
        for name, a in zip(self.arg_names, args, strict=True):
            if isinstance(a, np.ndarray) and a.ndim == 0:
                continue
            if not isinstance(a, _SCALAR_TYPES):
                shape = f" of shape {a.shape}" if isinstance(a, np.ndarray) else ""
                raise SignatureError(
                    f"argument {name!r} of {self.name} is a {type(a).__name__}{shape}; "
                    "it must be a number (float or int).\n"
                    "Fix: pass a float, e.g. float(value)."
                )


class Derivative:
    """A compiled mode (``f``, ``grad``, ``jvp``, ...) of a :class:`Function`.

    Call it to compute; ``.source`` is its generated Python, ``.ir`` its graph,
    ``.njit`` its numba dispatcher, ``.kernel`` the loaded kernel with timing.
    """

    def __init__(self, fn: Function, mode: str, wrt: tuple[int, ...]) -> None:
        self.fn = fn
        self.mode = mode
        self.wrt = wrt
        self.wrt_names = tuple(fn.arg_names[i] for i in wrt)
        self._entry: Callable[..., Any] = self._first_call
        self._into_entry: Callable[..., Any] = self._first_into

    @property
    def program(self) -> Program:
        """The derived graph with its output layout and docstring."""
        return self.fn.program(self.mode, self.wrt)

    @property
    def ir(self) -> Graph:
        """The SSA graph of this derivative."""
        return self.program.graph

    @property
    def source(self) -> str:
        """The emitted Python module (as compiled by numba)."""
        return self.fn.emitted(self.mode, self.wrt).source

    # -- the allocation-free variant (grad and value_and_grad) ------------------
    @property
    def njit_into(self) -> Any:
        """The dispatcher of ``(_out, *args)``: writes the gradient into ``_out``.

        ``value_and_grad`` returns the value, ``grad`` returns ``_out``. For
        loops in your own numba code that must not allocate per call.
        """
        return self.fn.compiled(self.mode, self.wrt, into=True).njit

    def into(self, out: np.ndarray, *args: Any) -> Any:
        """Like calling, but write the gradient into ``out`` (float64, C-contiguous)."""
        # The shape is checked here because the machine code does not check bounds;
        # dtype and contiguity are in the dispatcher's signature.
        if type(out) is not np.ndarray or out.shape != (len(self.wrt),):
            self._bad_out(out)
        try:
            return self._into_entry(out, *args)
        except DcompileError:
            raise
        except TypeError:  # numba's dispatcher rejected the arguments
            pass
        if out.dtype != np.float64 or not out.flags.c_contiguous:
            self._bad_out(out)
        self.fn.check_args(args)
        return self._into_entry(out, *[float(a) for a in args])

    def _bad_out(self, out: Any) -> None:
        raise SignatureError(
            f"out must be a C-contiguous float64 array of shape ({len(self.wrt)},), got "
            f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}"
        )

    def _first_into(self, out: np.ndarray, *args: Any) -> Any:
        kernel = self.fn.compiled(self.mode, self.wrt, into=True)
        if kernel.backend == "python":

            def run(out: np.ndarray, *args: Any) -> Any:
                self.fn.check_args(args)
                with np.errstate(all="ignore"):
                    return kernel.fn(out, *args)

            self._into_entry = run
        else:
            self._into_entry = kernel.fn
        return self._into_entry(out, *args)

    @property
    def kernel(self) -> Kernel:
        """The loaded kernel: path, backend, compile time, whether numba's cache served it."""
        return self.fn.compiled(self.mode, self.wrt)

    @property
    def njit(self) -> Any:
        """The numba dispatcher with flat scalar arguments (see ``.source``)."""
        return self.kernel.njit

    def _first_call(self, *flat: Any) -> Any:
        if any(isinstance(a, Tracer) for a in flat):
            return self._inline(flat)  # traced, not run: nothing to compile
        kernel = self.kernel
        if kernel.backend == "python":
            self._entry = self._checked(kernel.fn)
        else:
            self._entry = kernel.fn
        return self._entry(*flat)

    def _checked(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*flat: Any) -> Any:
            if any(isinstance(a, Tracer) for a in flat):
                return self._inline(flat)
            self._validate(flat)
            with np.errstate(all="ignore"):  # numba's semantics: no floating-point warnings
                return fn(*[np.float64(a) for a in flat])  # NumPy semantics, as numba's

        return run

    def _validate(self, flat: Sequence[Any]) -> None:
        n = len(self.fn.arg_names)
        if self.mode not in ("jvp", "vjp", "hvp"):
            self.fn.check_args(flat)
            return
        self.fn.check_args(flat[:n])
        extra = flat[n:]
        for a in extra:
            if not isinstance(a, _SCALAR_TYPES) and not (isinstance(a, np.ndarray) and a.ndim == 0):
                raise SignatureError(f"{self.mode} direction entries must be numbers, got {type(a).__name__}")

    def __call__(self, *args: Any) -> Any:
        # The hot path: straight into the numba dispatcher (one Python frame).
        try:
            return self._entry(*args)
        except DcompileError:
            raise
        except TypeError:  # numba's dispatcher rejected the arguments
            pass
        return self._recover(args)

    def _recover(self, flat: tuple[Any, ...]) -> Any:
        # Outside the handler, so a user mistake is reported without numba's
        # dispatch traceback chained to it.
        if any(isinstance(a, Tracer) for a in flat):
            return self._inline(flat)
        self._validate(flat)
        # Valid but not what the dispatcher's signature takes (a 0-d array, a
        # NumPy bool): convert, as the signature's float64 says.
        return self._entry(*[float(a) for a in flat])

    def _inline(self, flat: tuple[Any, ...]) -> Any:
        """Called on tracers (inside another traced function): splice in the graph."""
        if self.mode != "f":
            raise TraceError(
                f"dc.{self.mode}({self.fn.name}) was called inside a traced function; only the function "
                "itself can be (array-valued derivatives inside traced code come with array support).\n"
                f"Fix: call {self.fn.name} itself, or compute the derivative outside."
            )
        if len(flat) != len(self.fn.arg_names):
            self.fn.check_args(flat)
        builder = next(a.builder for a in flat if isinstance(a, Tracer))
        graph = self.fn.ir
        env = replay(builder, graph, {v: lift(builder, a) for v, a in zip(graph.inputs, flat, strict=True)})
        return env[graph.outputs[0]]

    def __repr__(self) -> str:
        return f"<dcompile {self.mode} of {self.fn.name} wrt ({', '.join(self.wrt_names)})>"


class DirectionalDerivative(Derivative):
    """``jvp``, ``vjp`` and ``hvp``: called as ``(primals, direction)``."""

    def __call__(self, primals: Sequence[Any], direction: Any, *rest: Any) -> Any:  # type: ignore[override]
        if rest:
            raise SignatureError(f"{self.mode}(f) is called as ({self.mode}(f))(primals, {self._dir_name()})")
        primals = tuple(primals)
        self.fn.check_args(primals, "primals")
        if self.mode == "vjp":
            flat = (*primals, direction)
        else:
            d = tuple(np.ravel(direction)) if not isinstance(direction, (list, tuple)) else tuple(direction)
            if len(d) != len(self.wrt):
                raise SignatureError(
                    f"{self._dir_name()} has {len(d)} entries; {self.mode} with respect to "
                    f"({', '.join(self.wrt_names)}) needs {len(self.wrt)}."
                )
            flat = (*primals, *d)
        return Derivative.__call__(self, *flat)

    def _dir_name(self) -> str:
        return {"jvp": "tangents", "vjp": "cotangent", "hvp": "v"}[self.mode]


def compile(fn: Callable[..., Any] | None = None, *, backend: str = "numba", name: str | None = None) -> Any:
    """Decorator: trace ``fn`` into SSA and compile it (and its derivatives) on demand.

    Use as ``@dc.compile`` or ``@dc.compile(backend="python")``. Every argument
    is a float scalar that derivatives may be taken with respect to.
    """
    from dcompile.frontend.tracing import positional_names, trace

    def wrap(f: Callable[..., Any]) -> Function:
        arg_names = positional_names(f)
        raw = name or getattr(f, "__name__", "f")
        fname = "f" if raw == "<lambda>" else sanitize(raw)

        def make() -> Graph:
            return trace(f, arg_names, [F64] * len(arg_names), fname)

        out = Function(make, fname, arg_names, backend)
        out.__doc__ = getattr(f, "__doc__", None)
        out.__wrapped__ = f  # type: ignore[attr-defined]
        return out

    return wrap(fn) if fn is not None else wrap


def from_sympy(expr: Any, args: Sequence[Any], *, name: str = "f", backend: str = "numba") -> Function:
    """Compile a SymPy expression as a function of the symbols ``args`` (in order)."""
    from dcompile.frontend.sympy_lower import arg_names, lower

    names = arg_names(args)
    fname = sanitize(name)
    return Function(lambda: lower(expr, list(args), fname), fname, names, backend)


def _function(f: Any, maker: str) -> Function:
    if isinstance(f, Function):
        return f
    if isinstance(f, Derivative):
        raise SignatureError(
            f"dc.{maker} takes a function made by @dc.compile or dc.from_sympy, not a derivative.\n"
            "Fix: for second derivatives use dc.hessian or dc.hvp."
        )
    raise SignatureError(
        f"dc.{maker} takes a function made by @dc.compile or dc.from_sympy, got {type(f).__name__}.\n"
        "Fix: decorate the function with @dc.compile first."
    )


def grad(f: Function, wrt: Wrt = None) -> Derivative:
    """The gradient of ``f`` w.r.t. ``wrt``: a 1-D float64 array in ``wrt`` order (reverse mode)."""
    fn = _function(f, "grad")
    return Derivative(fn, "grad", fn.resolve_wrt(wrt))


def value_and_grad(f: Function, wrt: Wrt = None) -> Derivative:
    """``(f(x), grad f(x))`` from one forward and one reverse sweep."""
    fn = _function(f, "value_and_grad")
    return Derivative(fn, "value_and_grad", fn.resolve_wrt(wrt))


def jvp(f: Function, wrt: Wrt = None) -> Derivative:
    """Forward mode: ``jvp(f)(primals, tangents) -> (f(primals), df . tangents)``."""
    fn = _function(f, "jvp")
    return DirectionalDerivative(fn, "jvp", fn.resolve_wrt(wrt))


def vjp(f: Function, wrt: Wrt = None) -> Derivative:
    """Reverse mode: ``vjp(f)(primals, ct) -> (f(primals), ct * grad f)``."""
    fn = _function(f, "vjp")
    return DirectionalDerivative(fn, "vjp", fn.resolve_wrt(wrt))


def hessian(f: Function, wrt: Wrt = None) -> Derivative:
    """The Hessian w.r.t. ``wrt`` as a symmetric 2-D array (forward over reverse)."""
    fn = _function(f, "hessian")
    return Derivative(fn, "hessian", fn.resolve_wrt(wrt))


def hvp(f: Function, wrt: Wrt = None) -> Derivative:
    """``hvp(f)(primals, v) -> H v`` (forward over reverse, no Hessian formed)."""
    fn = _function(f, "hvp")
    return DirectionalDerivative(fn, "hvp", fn.resolve_wrt(wrt))
