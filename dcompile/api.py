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

from dcompile.backend import gcpause, program_cache
from dcompile.backend.compiler import BACKENDS, Kernel, load_kernel
from dcompile.backend.emitter import Emitted, emit_module
from dcompile.backend.layout import Array
from dcompile.backend.layout import into as into_layout
from dcompile.errors import DcompileError, IntegerUse, SignatureError, TraceError
from dcompile.ir.graph import Graph
from dcompile.ir.naming import sanitize
from dcompile.ir.tracer import Tracer, lift
from dcompile.ir.types import F64, DType, VType
from dcompile.pipeline import MODES, Program, derive, parameters
from dcompile.transforms import replay

Wrt = int | str | Sequence[int | str] | None

_SCALAR_TYPES = (int, float, np.integer, np.floating, bool, np.bool_)


Signature = tuple[VType, ...]


I64_SCALAR = VType((), DType.I64)


def _arg_type(fname: str, name: str, a: Any, integer: bool = False) -> tuple[VType, Any]:
    """The IR type of one argument and the argument as the compiled code takes it.

    An integer (Python or NumPy) is taken as a float (``f(1, 2)`` of a float
    function) unless ``integer``: the parameter is annotated ``int``, or the
    function uses it as an index or a count (then it is an integer scalar:
    data, never differentiated).
    """
    if isinstance(a, (np.integer, int)) and not isinstance(a, (bool, np.bool_)) and integer:
        return I64_SCALAR, np.int64(a)
    if isinstance(a, _SCALAR_TYPES):
        return F64, float(a)
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    if isinstance(a, np.ndarray):
        kind = a.dtype.kind
        if a.ndim == 0 and kind in "biuf":
            return F64, float(a)
        if kind == "f":
            return VType(a.shape, DType.F64), np.ascontiguousarray(a, dtype=np.float64)
        if kind in "iu":
            return VType(a.shape, DType.I64), np.ascontiguousarray(a, dtype=np.int64)
        if kind == "b":
            return VType(a.shape, DType.BOOL), np.ascontiguousarray(a)
        what = f"an array of {a.dtype}"
    else:
        what = f"a {type(a).__name__}"
    raise SignatureError(
        f"argument {name!r} of {fname} is {what}; it must be a number or a NumPy array of "
        "floats (or of ints/bools, as data).\nFix: pass a float or np.asarray(value, dtype=float)."
    )


def _fmt_sig(sig: Signature) -> str:
    return ", ".join(str(t) for t in sig)


class Function:
    """A function dcompile can compile and differentiate.

    Calling it runs the compiled primal. Made by :func:`compile` (a traced
    Python function) or :func:`from_sympy` (a SymPy expression). Like
    ``jax.jit``, it is traced and compiled once per *signature* (the shape and
    element type of each argument): a new shape compiles again, a known one
    reuses the machine code. ``.ir``, ``.source`` and ``.kernel`` describe the
    most recently used signature (all-scalar before the first call); use
    :meth:`specialize` to pick one without running it.
    """

    def __init__(
        self,
        make_graph: Callable[[Signature], Graph],
        name: str,
        arg_names: Sequence[str],
        backend: str = "numba",
        *,
        scalars_only: bool = False,
        fingerprint: Callable[[], str | None] | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self._make_graph = make_graph
        self.name = name
        self.arg_names = tuple(arg_names)
        self.backend = backend
        self.scalars_only = scalars_only
        self._fingerprint_of = fingerprint
        self.int_args: frozenset[str] = frozenset()  # parameters annotated `int`: integer scalars
        self._fingerprint: tuple[str | None] | None = None
        self._fallback_sig: Signature = (F64,) * len(self.arg_names)
        self.default_sig = self._fallback_sig
        self._graphs: dict[Signature, Graph] = {}
        self._tracing = False
        self._programs: dict[tuple[Signature, str, tuple[int, ...]], Program] = {}
        self._kernels: dict[tuple[Signature, str, tuple[int, ...], bool], Kernel] = {}
        self._lock = threading.RLock()
        self._primal = Derivative(self, "f", tuple(range(len(self.arg_names))))

    # -- signatures --------------------------------------------------------------
    def signature(self, args: Sequence[Any], what: str = "arguments") -> tuple[Signature, list[Any]]:
        """The signature of ``args`` and the arguments converted for the compiled code.

        Raises :class:`SignatureError` for a wrong count or an unusable argument.
        """
        n = len(self.arg_names)
        if len(args) != n:
            raise SignatureError(f"{self.name}({', '.join(self.arg_names)}) takes {n} {what}, got {len(args)}.")
        ints = self.int_args
        pairs = [_arg_type(self.name, name, a, name in ints) for name, a in zip(self.arg_names, args, strict=True)]
        sig = tuple(t for t, _ in pairs)
        integral = [
            i
            for i, a in enumerate(args)
            if isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) and sig[i] == F64
        ]
        if integral and sig not in self._graphs and not self._tracing:
            # An integer passed where the function indexes or counts with it: trace it as an integer.
            try:
                self.graph(sig)
            except IntegerUse as exc:
                if exc.position not in integral:
                    raise
                self.int_args = self.int_args | {self.arg_names[exc.position]}
                return self.signature(args, what)
        if self.scalars_only and any(t.rank for t in sig):
            raise SignatureError(
                f"{self.name} was made from a SymPy expression: its arguments are scalars, got {_fmt_sig(sig)}.\n"
                "Fix: pass numbers."
            )
        return sig, [a for _, a in pairs]

    def check_args(self, args: Sequence[Any], what: str = "arguments") -> None:
        """Raise :class:`SignatureError` unless ``args`` fit the function."""
        self.signature(args, what)

    def specialize(self, *args: Any) -> Function:
        """Trace for the signature of ``args`` (example values) and make it the one shown."""
        self.default_sig = self.signature(args)[0]
        self.graph(self.default_sig)
        return self

    def graph(self, sig: Signature) -> Graph:
        """The traced SSA graph for argument types ``sig`` (traced once, then cached)."""
        with self._lock:
            if sig not in self._graphs:
                if self._tracing:  # the lock is reentrant: this is recursion on this thread
                    raise TraceError(
                        f"{self.name} calls itself while being traced; recursion cannot be unrolled.\n"
                        "Fix: write it as a loop over a fixed range."
                    )
                self._tracing = True
                try:
                    with gcpause.paused():
                        self._graphs[sig] = self._make_graph(sig)
                except DcompileError as exc:
                    if sig is self._fallback_sig and not self.scalars_only:
                        raise type(exc)(
                            f"{exc}\nNote: {self.name} has not been called yet, so it was traced with scalar "
                            "arguments; call it (or .specialize(*example_args)) first to see array code."
                        ) from None
                    raise
                finally:
                    self._tracing = False
            return self._graphs[sig]

    # -- the primal ------------------------------------------------------------
    @property
    def ir(self) -> Graph:
        """The traced SSA graph of the function (``print(f.ir)`` lists it)."""
        return self.graph(self.default_sig)

    @property
    def arg_types(self) -> list[VType]:
        """The IR type of each argument in the current signature."""
        return list(self.default_sig)

    def __call__(self, *args: Any) -> Any:
        # The primal's hot path, inlined here to save a Python frame per call.
        primal = self._primal
        try:
            return primal._entry(*args)
        except DcompileError:
            raise
        except (TypeError, ValueError):  # see Derivative.__call__
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
        out = Function(
            self._make_graph,
            self.name,
            self.arg_names,
            backend,
            scalars_only=self.scalars_only,
            fingerprint=self._fingerprint_of,
        )
        out.int_args = self.int_args
        return out

    def _dcompile_fingerprint(self) -> str | None:
        """What the traced program depends on, hashed (None: unknown, so never served from the program cache)."""
        if self._fingerprint is None:
            self._fingerprint = (self._fingerprint_of() if self._fingerprint_of is not None else None,)
        return self._fingerprint[0]

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

    def program(self, sig: Signature, mode: str, wrt: tuple[int, ...]) -> Program:
        """The derived graph of ``mode`` w.r.t. argument positions ``wrt`` (cached)."""
        with self._lock:
            key = (sig, mode, wrt)
            if key not in self._programs:
                if mode not in MODES:
                    raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
                with gcpause.paused():
                    self._programs[key] = derive(self.graph(sig), mode, wrt)
            return self._programs[key]

    def emitted(
        self,
        sig: Signature,
        mode: str,
        wrt: tuple[int, ...],
        *,
        into: bool = False,
        accumulate: bool = False,
        checked: bool = True,
    ) -> Emitted:
        """The generated module of ``mode``; ``into``: the variant writing into ``_out``
        (``accumulate``: adding to it); ``checked=False``: without shape checks, for generated
        loops that check shapes once themselves (see :func:`emit_module`)."""
        with gcpause.paused():
            return self._emit(sig, mode, wrt, into=into, accumulate=accumulate, checked=checked)

    def _emit(
        self, sig: Signature, mode: str, wrt: tuple[int, ...], *, into: bool, accumulate: bool, checked: bool
    ) -> Emitted:
        prog = self.program(sig, mode, wrt)
        if not into:
            return emit_module(prog.graph, prog.function, prog.layout, prog.doc, guards=checked)
        if mode not in ("grad", "value_and_grad"):
            raise SignatureError(f"only grad and value_and_grad write into a buffer, not {mode}")
        verb = "added to" if accumulate else "written into"
        doc = prog.doc.rstrip(".") + f", the gradient {verb} _out (no allocation)."
        try:
            layout = into_layout(prog.layout, accumulate=accumulate)
        except ValueError:
            raise SignatureError(
                "writing into a buffer needs one array argument or scalar arguments in wrt; "
                f"{self.name} differentiates several arrays.\nFix: call it without a buffer."
            ) from None
        name = f"{prog.function}_{'add_' if accumulate else ''}into"
        return emit_module(prog.graph, name, layout, doc, guards=checked)

    def compiled(
        self,
        sig: Signature,
        mode: str,
        wrt: tuple[int, ...],
        *,
        into: bool = False,
        accumulate: bool = False,
        checked: bool = True,
    ) -> Kernel:
        """The loaded kernel of ``mode`` (compiled on first request, then cached); ``into``,
        ``accumulate`` and ``checked`` as for :meth:`emitted`."""
        with self._lock:
            key = (sig, mode, wrt, into, accumulate, checked)
            if key not in self._kernels:
                with gcpause.paused():  # see backend/gcpause.py: a quarter of a large compile otherwise
                    self._kernels[key] = self._load(sig, mode, wrt, into=into, accumulate=accumulate, checked=checked)
            return self._kernels[key]

    def _load(
        self, sig: Signature, mode: str, wrt: tuple[int, ...], *, into: bool, accumulate: bool, checked: bool
    ) -> Kernel:
        """Compile (or load) a kernel, from the program cache when this request was answered before.

        A hit skips tracing, deriving and emitting: the recorded module goes straight
        to numba, which loads its machine code (see :mod:`dcompile.backend.program_cache`).
        """
        request = None
        fp = self._dcompile_fingerprint() if program_cache.enabled() and mode in MODES else None
        if fp is not None:
            parts = (self.name, self.arg_names, self.backend, sig, mode, wrt, into, accumulate, checked)
            request = program_cache.request_key(fp, parts)
            found = program_cache.lookup(request) if (sig, mode, wrt) not in self._programs else None
            if found is not None:
                return load_kernel(*found[:2], self.backend, cached=found[2])
        prog = self.program(sig, mode, wrt)
        emitted = self.emitted(sig, mode, wrt, into=into or accumulate, accumulate=accumulate, checked=checked)
        types = [v.type for v in parameters(prog)]
        if into or accumulate:
            types.insert(0, into_shape_type(prog))
        kernel = load_kernel(emitted, types, self.backend)
        if request is not None:
            program_cache.store(request, kernel.path, emitted, types)
        return kernel


def into_shape_type(prog: Program) -> VType:
    """The type of the ``_out`` buffer of a program's writing-into variant."""
    layout = into_layout(prog.layout)
    if isinstance(layout.vector, Array):
        return layout.vector.value.type
    return VType((len(layout.vector.values),), DType.F64)


class Derivative:
    """A compiled mode (``f``, ``grad``, ``jvp``, ...) of a :class:`Function`.

    Call it to compute; ``.source`` is its generated Python, ``.ir`` its graph,
    ``.njit`` its numba dispatcher, ``.kernel`` the loaded kernel with timing
    (for the signature of the latest call; see :meth:`specialize`).
    """

    def __init__(self, fn: Function, mode: str, wrt: tuple[int, ...], *, all_float: bool = False) -> None:
        self.fn = fn
        self.mode = mode
        self._wrt = wrt
        self._all_float = all_float  # wrt=None: every float argument (integer arrays are data)
        self.wrt_names = tuple(fn.arg_names[i] for i in wrt)
        self._sig: Signature | None = None
        self._entry: Callable[..., Any] = self._first_call
        self._into_entry: Callable[..., Any] = self._first_into
        self._into_shape: tuple[int, ...] | None = None  # the buffer shape of the compiled variant
        self._by_sig: dict[Signature, Callable[..., Any]] = {}

    def _dcompile_fingerprint(self) -> str | None:
        fp = self.fn._dcompile_fingerprint()
        return None if fp is None else f"{fp}|{self.mode}|{self._wrt}|{self._all_float}"

    @property
    def sig(self) -> Signature:
        """The signature shown by ``.source``, ``.ir`` and ``.kernel``."""
        return self._sig if self._sig is not None else self.fn.default_sig

    def wrt_for(self, sig: Signature) -> tuple[int, ...]:
        if not self._all_float:
            return self._wrt
        return tuple(i for i in self._wrt if sig[i].dtype.differentiable) or self._wrt

    @property
    def wrt(self) -> tuple[int, ...]:
        return self.wrt_for(self.sig)

    def specialize(self, *args: Any) -> Derivative:
        """Pick the signature of the example arguments ``args`` for ``.source``, ``.ir``, ``.kernel``."""
        self._sig = self.fn.default_sig = self.fn.signature(args)[0]
        self.program  # noqa: B018  (derive now: errors show here)
        return self

    @property
    def program(self) -> Program:
        """The derived graph with its output layout and docstring."""
        return self.fn.program(self.sig, self.mode, self.wrt)

    @property
    def ir(self) -> Graph:
        """The SSA graph of this derivative."""
        return self.program.graph

    @property
    def source(self) -> str:
        """The emitted Python module (as compiled by numba)."""
        return self.fn.emitted(self.sig, self.mode, self.wrt).source

    # -- the allocation-free variant (grad and value_and_grad) ------------------
    @property
    def njit_into(self) -> Any:
        """The dispatcher of ``(_out, *args)``: writes the gradient into ``_out``.

        ``value_and_grad`` returns the value, ``grad`` returns ``_out``. For
        loops in your own numba code that must not allocate per call.
        """
        return self.fn.compiled(self.sig, self.mode, self.wrt, into=True).njit

    def into(self, out: np.ndarray, *args: Any) -> Any:
        """Like calling, but write the gradient into ``out`` (float64, C-contiguous)."""
        # The shape is checked here because the machine code does not check bounds;
        # dtype and contiguity are in the dispatcher's signature.
        if self._into_shape is not None and type(out) is np.ndarray and out.shape == self._into_shape:
            try:
                return self._into_entry(out, *args)
            except DcompileError:
                raise
            except (TypeError, ValueError):  # rejected by numba's type check or the shape guard
                pass
        return self._first_into(out, *args)

    def _bad_out(self, out: Any, shape: tuple[int, ...]) -> None:
        raise SignatureError(
            f"out must be a C-contiguous float64 array of shape {shape}, got "
            f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}"
        )

    def _first_into(self, out: np.ndarray, *args: Any) -> Any:
        sig, conv = self.fn.signature(args)
        self._sig = self.fn.default_sig = sig
        kernel = self.fn.compiled(sig, self.mode, self.wrt, into=True)
        self._into_shape = into_shape_type(self.program).shape
        if (
            type(out) is not np.ndarray
            or out.shape != self._into_shape
            or out.dtype != np.float64
            or not out.flags.c_contiguous
        ):
            self._bad_out(out, self._into_shape)
        if kernel.backend == "python":

            def run(out: np.ndarray, *args: Any) -> Any:
                conv = self.fn.signature(args)[1]
                with np.errstate(all="ignore"):
                    return kernel.fn(out, *[_py_arg(a) for a in conv])

            self._into_entry = run
        else:
            self._into_entry = kernel.fn
        return self._into_entry(out, *conv)

    @property
    def kernel(self) -> Kernel:
        """The loaded kernel: path, backend, compile time, whether numba's cache served it."""
        return self.fn.compiled(self.sig, self.mode, self.wrt)

    @property
    def njit(self) -> Any:
        """The numba dispatcher (see ``.source`` for its parameters)."""
        return self.kernel.njit

    # -- calling ------------------------------------------------------------------
    def _callable(self, sig: Signature) -> Callable[..., Any]:
        """What runs the compiled code for ``sig`` (the dispatcher itself on numba)."""
        fn = self._by_sig.get(sig)
        if fn is None:
            kernel = self.fn.compiled(sig, self.mode, self.wrt_for(sig))
            fn = kernel.fn if kernel.backend == "numba" else _python_runner(kernel.fn)
            self._by_sig[sig] = fn
        return fn

    def _first_call(self, *flat: Any) -> Any:
        return self._recover(flat)

    def __call__(self, *args: Any) -> Any:
        # The hot path: straight into the numba dispatcher of the latest signature
        # (one Python frame). Its type check rejects other dtypes and ranks
        # (TypeError); the generated shape guard rejects other shapes (ValueError).
        try:
            return self._entry(*args)
        except DcompileError:
            raise
        except (TypeError, ValueError):
            pass
        return self._recover(args)

    def _recover(self, flat: tuple[Any, ...]) -> Any:
        # Outside the handler, so a user mistake is reported without numba's
        # dispatch traceback chained to it.
        if any(isinstance(a, Tracer) for a in flat):
            return self._inline(flat)  # traced, not run: nothing to compile
        fn, conv = self._resolve(flat)
        # numba: the dispatcher directly from now on (its type check and the shape
        # guard send other signatures back here); Python: keep checking, since a
        # scalar kernel would silently broadcast an array.
        self._entry = fn if self.fn.backend == "numba" else self._dispatch
        return fn(*conv)

    def _resolve(self, args: Sequence[Any]) -> tuple[Callable[..., Any], list[Any]]:
        """The runner of the arguments' signature (compiled on first need) and the converted arguments."""
        sig, conv = self.fn.signature(args)
        self._sig = self.fn.default_sig = sig
        return self._callable(sig), conv

    def _dispatch(self, *args: Any) -> Any:
        fn, conv = self._resolve(args)
        return fn(*conv)

    def _inline(self, flat: tuple[Any, ...]) -> Any:
        """Called on tracers (inside another traced function): splice in the graph."""
        if self.mode != "f":
            raise TraceError(
                f"dc.{self.mode}({self.fn.name}) was called inside a traced function; only the function "
                "itself can be.\n"
                f"Fix: call {self.fn.name} itself, or compute the derivative outside."
            )
        if len(flat) != len(self.fn.arg_names):
            self.fn.check_args(flat)
        builder = next(a.builder for a in flat if isinstance(a, Tracer))
        tracers = [lift(builder, a) for a in flat]
        graph = self.fn.graph(tuple(t.type for t in tracers))
        env = replay(builder, graph, dict(zip(graph.inputs, tracers, strict=True)))
        return env[graph.outputs[0]]

    def __repr__(self) -> str:
        return f"<dcompile {self.mode} of {self.fn.name} wrt ({', '.join(self.wrt_names)})>"


def _py_arg(a: Any) -> Any:
    if isinstance(a, np.integer):
        return a  # an integer scalar argument stays one
    return np.float64(a) if isinstance(a, _SCALAR_TYPES) else a


def _python_runner(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        with np.errstate(all="ignore"):  # numba's semantics: no floating-point warnings
            return fn(*[_py_arg(a) for a in args])  # NumPy semantics, as numba's

    return run


class DirectionalDerivative(Derivative):
    """``jvp``, ``vjp`` and ``hvp``: called as ``(primals, direction)``."""

    _fast: Callable[..., Any] | None = None  # the dispatcher of the latest signature (numba)

    def __call__(self, primals: Sequence[Any], direction: Any, *rest: Any) -> Any:  # type: ignore[override]
        if rest:
            raise SignatureError(f"{self.mode}(f) is called as ({self.mode}(f))(primals, {self._dir_name()})")
        primals = tuple(primals)
        fast = self._fast
        if fast is not None:  # straight in: numba checks types, the generated guard shapes
            try:
                return fast(*primals, *(direction if isinstance(direction, (list, tuple)) else (direction,)))
            except (TypeError, ValueError):
                pass
        sig, conv = self.fn.signature(primals, "primals")
        self._sig = self.fn.default_sig = sig
        prog = self.fn.program(sig, self.mode, self.wrt_for(sig))
        wanted = [v.type for v in parameters(prog)][len(primals) :]
        dirs = self._directions(direction, wanted)
        fn = self._callable(sig)
        self._fast = fn if self.fn.backend == "numba" else None
        return fn(*conv, *dirs)

    def _directions(self, direction: Any, wanted: list[VType]) -> list[Any]:
        """The direction as one entry per expected input, checked against its type."""
        name = self._dir_name()
        if all(t.rank == 0 for t in wanted) and not any(
            isinstance(a, (list, tuple, np.ndarray)) for a in _items(direction)
        ):
            items = _items(direction)
        elif len(wanted) == 1:
            items = [direction]
        else:
            items = list(direction) if isinstance(direction, (list, tuple)) else [direction]
        if len(items) != len(wanted):
            raise SignatureError(
                f"{name} has {len(items)} entries; {self.mode} with respect to "
                f"({', '.join(self.wrt_names)}) needs {len(wanted)}."
            )
        out = []
        for a, t in zip(items, wanted, strict=True):
            if t.rank == 0:
                x = a.item() if isinstance(a, np.ndarray) and a.ndim == 0 else a
                if not isinstance(x, _SCALAR_TYPES):
                    raise SignatureError(f"{self.mode} {name} entries must be numbers here, got {type(x).__name__}")
                out.append(float(x))
                continue
            arr = np.ascontiguousarray(a, dtype=np.float64)
            if arr.shape != t.shape:
                raise SignatureError(f"{name} must have shape {t.shape}, got {arr.shape}")
            out.append(arr)
        return out

    def _dir_name(self) -> str:
        return {"jvp": "tangents", "vjp": "cotangent", "hvp": "v"}[self.mode]


def _items(direction: Any) -> list[Any]:
    if isinstance(direction, (list, tuple)):
        return list(direction)
    return list(np.ravel(direction))


def compile(fn: Callable[..., Any] | None = None, *, backend: str = "numba", name: str | None = None) -> Any:
    """Decorator: trace ``fn`` into SSA and compile it (and its derivatives) on demand.

    Use as ``@dc.compile`` or ``@dc.compile(backend="python")``. Arguments are
    float scalars or NumPy arrays (float arrays can be differentiated; integer
    and boolean arrays are data). The function returns a scalar or an array.
    """
    from dcompile.frontend.fingerprint import fingerprint
    from dcompile.frontend.tracing import integer_parameters, positional_names, trace

    def wrap(f: Callable[..., Any]) -> Function:
        arg_names = positional_names(f)
        raw = name or getattr(f, "__name__", "f")
        fname = "f" if raw == "<lambda>" else sanitize(raw)

        def make(sig: Signature) -> Graph:
            return trace(f, arg_names, sig, fname)

        out = Function(make, fname, arg_names, backend, fingerprint=lambda: fingerprint(f))
        out.int_args = integer_parameters(f)
        out.__doc__ = getattr(f, "__doc__", None)
        out.__wrapped__ = f  # type: ignore[attr-defined]
        return out

    return wrap(fn) if fn is not None else wrap


def from_sympy(expr: Any, args: Sequence[Any], *, name: str = "f", backend: str = "numba") -> Function:
    """Compile a SymPy expression as a function of the symbols ``args`` (in order)."""
    from dcompile.frontend.sympy_lower import arg_names, lower

    names = arg_names(args)
    fname = sanitize(name)

    def fingerprint() -> str:
        from dcompile.frontend.fingerprint import sympy_fingerprint

        return sympy_fingerprint(expr, args)

    return Function(
        lambda sig: lower(expr, list(args), fname), fname, names, backend, scalars_only=True, fingerprint=fingerprint
    )


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
    if hasattr(f, "_dcompile_derivative") and wrt is None:  # a finite sum: its own loops
        return f._dcompile_derivative("grad")
    fn = _function(f, "grad")
    return Derivative(fn, "grad", fn.resolve_wrt(wrt), all_float=wrt is None)


def value_and_grad(f: Function, wrt: Wrt = None) -> Derivative:
    """``(f(x), grad f(x))`` from one forward and one reverse sweep."""
    if hasattr(f, "_dcompile_derivative") and wrt is None:  # a finite sum: its own loops
        return f._dcompile_derivative("value_and_grad")
    fn = _function(f, "value_and_grad")
    return Derivative(fn, "value_and_grad", fn.resolve_wrt(wrt), all_float=wrt is None)


def jvp(f: Function, wrt: Wrt = None) -> Derivative:
    """Forward mode: ``jvp(f)(primals, tangents) -> (f(primals), df . tangents)``."""
    fn = _function(f, "jvp")
    return DirectionalDerivative(fn, "jvp", fn.resolve_wrt(wrt), all_float=wrt is None)


def vjp(f: Function, wrt: Wrt = None) -> Derivative:
    """Reverse mode: ``vjp(f)(primals, ct) -> (f(primals), ct * grad f)``."""
    fn = _function(f, "vjp")
    return DirectionalDerivative(fn, "vjp", fn.resolve_wrt(wrt), all_float=wrt is None)


def hessian(f: Function, wrt: Wrt = None) -> Derivative:
    """The Hessian w.r.t. ``wrt`` as a symmetric 2-D array (forward over reverse)."""
    fn = _function(f, "hessian")
    return Derivative(fn, "hessian", fn.resolve_wrt(wrt), all_float=wrt is None)


def jacobian(f: Function, wrt: Wrt = None) -> Derivative:
    """The dense Jacobian of a vector-valued ``f``: shape ``(m, n)`` for ``m`` outputs, ``n`` inputs.

    The ``wrt`` arguments are flattened and joined into one vector of ``n``
    entries. Forward mode fills it a column per input, reverse mode a row per
    output, whichever needs fewer sweeps; a scalar ``f`` gives its flat gradient.
    """
    fn = _function(f, "jacobian")
    return Derivative(fn, "jacobian", fn.resolve_wrt(wrt), all_float=wrt is None)


def hvp(f: Function, wrt: Wrt = None) -> Derivative:
    """``hvp(f)(primals, v) -> H v`` (forward over reverse, no Hessian formed)."""
    fn = _function(f, "hvp")
    return DirectionalDerivative(fn, "hvp", fn.resolve_wrt(wrt), all_float=wrt is None)
