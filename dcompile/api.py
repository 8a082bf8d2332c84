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

import contextlib
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile import debug
from dcompile.backend import gcpause, program_cache
from dcompile.backend.compiler import BACKENDS, Kernel, load_kernel
from dcompile.calling import (
    Convention,
    Plan,
    explain_static,
    flatten_like,
    holds_tracer,
    is_leaf_value,
    per_leaf,
    resolve_names,
    restructure,
    wrt_params,
)
from dcompile.emit.emitter import Emitted, emit_module, vector_math_default
from dcompile.errors import DcompileError, IntegerUse, SignatureError, StaticUse, TraceError, user_traceback
from dcompile.frontend.pytree import TreeDef
from dcompile.ir.graph import Graph
from dcompile.ir.layout import Array, Vector
from dcompile.ir.layout import into as into_layout
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
        convention: Convention | None = None,
        user_fn: Callable[..., Any] | None = None,
        vector_math: bool | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self._make_graph = make_graph
        self.name = name
        self.arg_names = tuple(arg_names)
        self.backend = backend
        # Fused loops call dcompile.runtime.vecmath (emit/emitter.py); None: DCOMPILE_VECTOR_MATH, read now.
        self.vector_math = vector_math_default() if vector_math is None else vector_math
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
        # How calls map to arguments (dcompile.calling): keywords, defaults, structures, constants.
        self.convention = convention
        self._user_fn = user_fn
        self._variants: dict[Plan, Function] = {}
        self.generation = 0  # bumped by retrace()
        self._primal = Derivative(self, "f", tuple(range(len(self.arg_names))))

    # -- signatures --------------------------------------------------------------
    def signature(self, args: Sequence[Any], what: str = "arguments") -> tuple[Signature, list[Any]]:
        """The signature of ``args`` and the arguments converted for the compiled code.

        Raises :class:`SignatureError` for a wrong count or an unusable argument.
        """
        n = len(self.arg_names)
        if len(args) != n:
            noun = what if n != 1 else what.rstrip("s")
            raise SignatureError(f"{self.name}({', '.join(self.arg_names)}) takes {n} {noun}, got {len(args)}.")
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
                except StaticUse:
                    raise  # the caller may make that argument a constant and trace again
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

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The primal's hot path, inlined here to save a Python frame per call.
        primal = self._primal
        if not kwargs:
            try:
                return primal._entry(*args)
            except DcompileError as exc:
                raise user_traceback(exc) from None
            except (TypeError, ValueError):  # see Derivative.__call__
                pass
        try:
            return primal._recover(args, kwargs)
        except DcompileError as exc:
            raise user_traceback(exc) from None

    def retrace(self) -> Function:
        """Forget every trace, derivative and kernel of this function, so the next call traces again.

        A compiled function is traced once per signature and keeps what it read
        then: a module-level global changed afterwards (``scale = 3.0``) is not
        seen in this process until ``f.retrace()`` (as with ``jax.jit``). A new
        process sees it (the program cache keys on the globals' values).
        Derivative objects made earlier keep their own compiled kernels: make
        them again after retracing.
        """
        with self._lock:
            self._graphs.clear()
            self._programs.clear()
            self._kernels.clear()
            self._variants.clear()
            self._fingerprint = None
            self._primal = Derivative(self, "f", tuple(range(len(self.arg_names))))
            self.generation += 1  # caches keyed on this function (the optimizers') see a new one
        return self

    def variant(self, plan: Plan) -> Function:
        """The flat function of a call plan (structures and constants rebuilt around its arguments)."""
        if plan.trivial:
            return self
        with self._lock:
            found = self._variants.get(plan)
            if found is not None:
                return found
            assert self._user_fn is not None
            user, names, fname = self._user_fn, plan.leaf_names(), self.name
            from dcompile.frontend.tracing import trace

            def make(sig: Signature) -> Graph:
                return trace(user, names, sig, fname, rebuild=plan.rebuild)

            out = Function(
                make,
                fname,
                names,
                self.backend,
                fingerprint=lambda: self._plan_fingerprint(plan),
                vector_math=self.vector_math,
            )
            owner = plan.leaf_owner
            out.int_args = frozenset(n for n, i in zip(names, owner, strict=True) if plan.names[i] in self.int_args)
            self._variants[plan] = out
            return out

    def _plan_fingerprint(self, plan: Plan) -> str | None:
        base = self._dcompile_fingerprint()
        plain = all(
            isinstance(p, TreeDef) or isinstance(p.value, (int, float, str, bool, type(None))) for p in plan.parts
        )
        return f"{base}|{plan.describe()}" if base is not None and plain else None

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
            convention=self.convention,
            user_fn=self._user_fn,
            vector_math=self.vector_math,
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
        return resolve_names(self.arg_names, wrt, self.name)

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
            return emit_module(
                prog.graph, prog.function, prog.layout, prog.doc, guards=checked, vector_math=self.vector_math
            )
        if mode not in ("grad", "value_and_grad"):
            raise SignatureError(f"only grad and value_and_grad write into a buffer, not {mode}")
        verb = "added to" if accumulate else "written into"
        doc = prog.doc.rstrip(".") + f", the gradient {verb} _out."
        try:
            layout = into_layout(prog.layout, value=mode == "value_and_grad", accumulate=accumulate)
        except ValueError:
            raise SignatureError(
                f"{self.name}: this gradient cannot be written into buffers.\nFix: call it without a buffer."
            ) from None
        name = f"{prog.function}_{'add_' if accumulate else ''}into"
        return emit_module(prog.graph, name, layout, doc, guards=checked, vector_math=self.vector_math)

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
            vm = self.vector_math  # the emitted text depends on it
            parts = (self.name, self.arg_names, self.backend, sig, mode, wrt, into, accumulate, checked, vm)
            request = program_cache.request_key(fp, parts)
            found = program_cache.lookup(request) if (sig, mode, wrt) not in self._programs else None
            if found is not None:
                return load_kernel(*found[:2], self.backend, cached=found[2])
        prog = self.program(sig, mode, wrt)
        emitted = self.emitted(sig, mode, wrt, into=into or accumulate, accumulate=accumulate, checked=checked)
        types: list[VType | tuple[VType, ...]] = [v.type for v in parameters(prog)]
        if into or accumulate:
            types.insert(0, into_shape_type(prog, mode))
        kernel = load_kernel(emitted, types, self.backend)
        if request is not None:
            program_cache.store(request, kernel.path, emitted, types)
        return kernel


def into_shape_type(prog: Program, mode: str) -> VType | tuple[VType, ...]:
    """The type of the ``_out`` buffer of a program's writing-into variant; a tuple of array
    types (a scalar argument's: rank 0, a 0-d array) where it writes several gradients."""
    layout = into_layout(prog.layout, value=mode == "value_and_grad")
    if layout.buffers:
        return tuple(item.value.type for item in layout.buffers)
    if isinstance(layout.vector, Array):
        return layout.vector.value.type
    assert isinstance(layout.vector, Vector)
    return VType((len(layout.vector.values),), DType.F64)


class Derivative:
    """A compiled mode (``f``, ``grad``, ``jvp``, ...) of a :class:`Function`.

    Call it to compute; ``.source`` is its generated Python, ``.ir`` its graph,
    ``.njit`` its numba dispatcher, ``.kernel`` the loaded kernel with timing
    (for the signature of the latest call; see :meth:`specialize`).
    """

    def __init__(
        self, fn: Function, mode: str, wrt: tuple[int, ...], *, all_float: bool = False, spec: Wrt = None
    ) -> None:
        self.fn = fn
        self.mode = mode
        self._wrt = wrt
        self._all_float = all_float  # wrt=None: every float argument (integer arrays are data)
        self.spec = spec  # wrt as the user wrote it: parameters, resolved per call plan
        self._plans: dict[tuple[Plan, tuple[int, ...]], Derivative] = {}
        self.wrt_names = tuple(fn.arg_names[i] for i in wrt)
        self._sig: Signature | None = None
        self._entry: Callable[..., Any] = self._first_call
        self._into_entry: Callable[..., Any] = self._first_into
        self._into_shape: tuple[int, ...] | None = None  # the buffer shape of the compiled variant
        self._into_shapes: tuple[tuple[int, ...], ...] | None = None  # several gradients: each buffer's
        self._by_sig: dict[Signature, Callable[..., Any]] = {}
        debug.track(self)

    def _forget_runners(self) -> None:
        """Drop the runners held for fast calls (the ``debug_nans`` setting changed)."""
        self._by_sig.clear()
        self._entry = self._first_call

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

        ``value_and_grad`` returns the value, ``grad`` returns ``_out``. With several
        arguments in ``wrt``, one of them an array, ``_out`` is a tuple of buffers, one per
        argument in ``wrt`` order, each shaped like its argument (a scalar argument's is a
        0-d array, ``np.zeros(())``): ``out = tuple(np.empty_like(p) for p in params)``;
        the generated code names them ``_out0 = _out[0]``, ... and builds each gradient in
        its buffer where it can (with all-scalar ``wrt``, ``_out`` is one 1-D array). For
        loops in your own numba code that must not allocate per call: where
        the gradient is built by loops and in-place updates (elementwise
        terms, sums, slices and their scatters: Rosenbrock-like code), the
        generated code writes it straight into ``_out``, zeroing it first when
        it starts from zeros, and allocates no gradient array. What still
        allocates are the temporaries the code needs besides the gradient
        (an intermediate array read by a later loop, a matrix product's
        result, an array constant such as ``np.arange``), and the gradient
        itself where it is a NumPy call's result or a view (a matrix product,
        a reshape, a broadcast), which is then copied into ``_out``; the
        ``into`` variant's ``.source`` (``fn.emitted(..., into=True)``) shows
        which.

        ``_out`` (each of its buffers) must be a C-contiguous float64 array of the
        gradient's shape that shares no memory with an argument nor another buffer:
        the gradient is written while the arguments are still read, and this
        dispatcher checks neither shapes nor overlaps (:meth:`into` does).
        """
        return self.fn.compiled(self.sig, self.mode, self.wrt, into=True).njit

    def into(self, out: np.ndarray, *args: Any) -> Any:
        """Like calling, but write the gradient into ``out`` (float64, C-contiguous, not sharing an argument's memory).

        No gradient array is allocated where the generated code builds the gradient in
        ``out`` (see :attr:`njit_into` for what still allocates). ``out`` overlapping an
        argument raises :class:`SignatureError`: the code writes ``out`` while it reads
        the arguments. With several arguments in ``wrt`` (one an array), ``out`` is a
        tuple of buffers, one per argument in ``wrt`` order, each shaped like it (a
        scalar's: a 0-d array); each is checked, and buffers sharing memory are refused.
        """
        if type(out) is tuple or type(out) is list or self._into_shapes is not None:
            return self._into_several(out, args)
        # The shape is checked here because the machine code does not check bounds;
        # dtype and contiguity are in the dispatcher's signature.
        if self._into_shape is not None and type(out) is np.ndarray and out.shape == self._into_shape:
            for a in args:  # inline: the per-call cost of the fast path (0.2 us, against 0.45 us for the call)
                if type(a) is np.ndarray and np.may_share_memory(out, a):
                    self._check_apart(out, args)  # raises where they truly overlap
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

    def _check_apart(self, out: np.ndarray, args: Sequence[Any], names: Sequence[str] = (), what: str = "out") -> None:
        """Refuse an ``out`` that shares memory with an array in ``args`` (the code writes it while reading them).

        ``names``: the arguments' names, where ``args`` are the parameters as given (default: the
        function's); ``what``: the buffer as the message names it.
        """
        names = names or self.fn.arg_names
        for k, a in enumerate(args):
            if type(a) is np.ndarray and np.may_share_memory(out, a) and np.shares_memory(out, a):
                name = names[k] if k < len(names) else f"argument {k}"
                raise SignatureError(
                    f"{what} shares memory with the argument {name}: the gradient is written into it "
                    f"while {name} is still read, so the result would be wrong.\n"
                    "Fix: pass a separate buffer, e.g. np.empty_like(out)."
                )

    def _into_several(self, out: Any, args: tuple[Any, ...]) -> Any:
        """:meth:`into` with a tuple of buffers (several gradients): every call checks each buffer."""
        if not self._plain(args) and any(isinstance(a, (dict, list, tuple)) for a in args):
            return self._into_structured(out, args)
        sig, conv = self.fn.signature(args)
        self._sig = self.fn.default_sig = sig
        typ = into_shape_type(self.program, self.mode)
        if not isinstance(typ, tuple):
            self._into_shapes = None
            if type(out) is tuple or type(out) is list:
                what = "one C-contiguous float64 array of shape " + str(typ.shape)
                raise SignatureError(
                    f"out must be {what} here ({self.mode} of {self.fn.name} wrt "
                    f"({', '.join(self.fn.arg_names[i] for i in self.wrt)})), got a {type(out).__name__}."
                )
            return self._first_into(out, *args)
        self._into_shapes = shapes = tuple(t.shape for t in typ)
        names = [self.fn.arg_names[i] for i in self.wrt]
        if type(out) is list:
            out = tuple(out)
        if type(out) is not tuple or len(out) != len(shapes):
            got = f"a tuple of {len(out)}" if type(out) is tuple else type(out).__name__
            raise SignatureError(
                f"out must be a tuple of {len(shapes)} float64 arrays, one per argument in wrt "
                f"({', '.join(names)}), each shaped like it; got {got}.\n"
                "Fix: out = tuple(np.zeros_like(p, dtype=float) for p in (" + ", ".join(names) + "))."
            )
        self._check_buffers(out, shapes, names, conv)
        kernel = self.fn.compiled(sig, self.mode, self.wrt, into=True)
        if kernel.backend == "python":
            with np.errstate(all="ignore"):
                return kernel.fn(out, *[_py_arg(a) for a in conv])
        return kernel.fn(out, *conv)

    def _check_buffers(
        self, out: tuple[Any, ...], shapes: tuple[tuple[int, ...], ...], names: list[str], conv: list[Any]
    ) -> None:
        """Each buffer of ``out``: its shape, dtype and contiguity, and that it overlaps no argument nor buffer."""
        for k, (b, shape) in enumerate(zip(out, shapes, strict=True)):
            if type(b) is not np.ndarray or b.shape != shape or b.dtype != np.float64 or not b.flags.c_contiguous:
                hint = " (a 0-d array, np.zeros(()), for a scalar argument)" if shape == () else ""
                raise SignatureError(
                    f"out[{k}], the buffer for {names[k]}, must be a C-contiguous float64 array of shape "
                    f"{shape}{hint}, got {getattr(b, 'dtype', type(b).__name__)} {getattr(b, 'shape', '')}"
                    + ("" if not isinstance(b, np.ndarray) or b.flags.c_contiguous else " (not C-contiguous)")
                )
            for j in range(k):
                if np.may_share_memory(b, out[j]) and np.shares_memory(b, out[j]):
                    raise SignatureError(
                        f"out[{j}] (for {names[j]}) and out[{k}] (for {names[k]}) share memory: "
                        "each gradient needs a buffer of its own.\nFix: pass separate arrays."
                    )
            self._check_apart(b, conv, what=f"out[{k}] (for {names[k]})")

    def _into_structured(self, out: Any, args: tuple[Any, ...]) -> Any:
        """:meth:`into` for structured arguments: ``out`` mirrors the differentiated parameters
        (one: its structure; several: a tuple of them), and its arrays are the flat buffers."""
        conv = self.fn.convention
        if conv is None:
            self.fn.check_args(args)
            raise SignatureError(f"{self.fn.name} takes positional arguments only")
        plan, leaves = conv.plan(args, {})
        d, params = self._plan_derivative(plan)
        if not isinstance(d, Derivative) or d.mode not in ("grad", "value_and_grad"):
            raise SignatureError(f"only grad and value_and_grad write into a buffer, not {self.mode}")
        flat = flatten_like(plan, params, out, "out")
        if d.wrt_for(d.fn.signature(leaves)[0]) != d._wrt:
            raise SignatureError(
                "out for structured arguments needs every leaf of the differentiated arguments to be a float "
                "array or number.\nFix: call it without a buffer."
            )
        got = d.into(flat[0] if len(flat) == 1 else tuple(flat), *leaves)
        return out if self.mode == "grad" else got

    def _first_into(self, out: np.ndarray, *args: Any) -> Any:
        if not self._plain(args) and any(isinstance(a, (dict, list, tuple)) for a in args):
            return self._into_structured(out, args)
        self._check_apart(out, args)
        sig, conv = self.fn.signature(args)
        self._sig = self.fn.default_sig = sig
        kernel = self.fn.compiled(sig, self.mode, self.wrt, into=True)
        typ = into_shape_type(self.program, self.mode)
        if isinstance(typ, tuple):
            self._into_shapes = tuple(t.shape for t in typ)
            return self._into_several(out, args)
        self._into_shape = typ.shape
        if (
            type(out) is not np.ndarray
            or out.shape != self._into_shape
            or out.dtype != np.float64
            or not out.flags.c_contiguous
        ):
            self._bad_out(out, self._into_shape)
        # the flat arrays the kernel reads (an array inside a structured argument, too)
        self._check_apart(out, conv, [f"array {k} of the flattened arguments" for k in range(len(conv))])
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
            if debug.debug_nans():
                fn = debug.checked(fn, self, sig)
            self._by_sig[sig] = fn
        return fn

    def _first_call(self, *flat: Any) -> Any:
        return self._recover(flat)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The hot path: straight into the numba dispatcher of the latest signature
        # (one Python frame). Its type check rejects other dtypes and ranks
        # (TypeError); the generated shape guard rejects other shapes (ValueError).
        if not kwargs:
            try:
                return self._entry(*args)
            except DcompileError as exc:
                raise user_traceback(exc) from None
            except (TypeError, ValueError):
                pass
        try:
            return self._recover(args, kwargs)
        except DcompileError as exc:
            raise user_traceback(exc) from None

    def _plain(self, args: Sequence[Any]) -> bool:
        """A positional call with one number or array per parameter: the flat arguments as given."""
        conv = self.fn.convention
        return conv is None or (
            len(args) == len(self.fn.arg_names) and not conv.static and all(is_leaf_value(a) for a in args)
        )

    def _recover(self, flat: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> Any:
        # Outside the handler, so a user mistake is reported without numba's
        # dispatch traceback chained to it.
        kwargs = kwargs or {}
        if holds_tracer(flat) or holds_tracer(list(kwargs.values())):
            return self._inline(flat, kwargs)  # traced, not run: nothing to compile
        if kwargs or not self._plain(flat):
            return self._structured(flat, kwargs)
        try:
            fn, conv = self._resolve(flat)
        except StaticUse as exc:
            return self._after_static(exc, flat, kwargs)
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
        if not self._plain(args) or holds_tracer(args):
            return self._recover(args)
        try:
            fn, conv = self._resolve(args)
        except StaticUse as exc:
            return self._after_static(exc, args, {})
        return fn(*conv)

    # -- calls with keywords, defaults, structures and constants (dcompile.calling) ------------
    def _after_static(self, exc: StaticUse, args: Sequence[Any], kwargs: dict[str, Any], direction: Any = None) -> Any:
        """An ``int``/``bool`` argument was used as a Python value: trace again with it as a constant."""
        conv = self.fn.convention
        if conv is None:
            raise exc  # a plan's flat function: the owner's _structured retries with its plan
        plan, leaves = conv.plan(args, kwargs)
        if not conv.learn_static(plan, exc.position, leaves):
            raise exc.original from None
        return self._structured(args, kwargs, direction)

    def _structured(self, args: Sequence[Any], kwargs: dict[str, Any], direction: Any = None) -> Any:
        conv = self.fn.convention
        if conv is None:
            self.fn.check_args(args)  # a SymPy function: positional numbers only
            raise SignatureError(f"{self.fn.name} takes positional arguments only")
        for _ in range(len(conv.names) + 1):
            plan, leaves = conv.plan(args, kwargs)
            better: Exception | None = None
            try:
                return self._run_plan(plan, leaves, direction)
            except StaticUse as exc:
                if not conv.learn_static(plan, exc.position, leaves):
                    raise exc.original from None
            except DcompileError as exc:
                better = explain_static(plan, exc, self.fn.name)
                if better is exc:
                    raise
            if better is not None:
                raise better  # outside the handler: no traceback chained to it
        raise AssertionError("unreachable: each retry makes one more argument a constant")

    def _plan_derivative(self, plan: Plan) -> tuple[Derivative, tuple[int, ...]]:
        """The flat derivative serving ``plan`` and the parameters it differentiates."""
        params = wrt_params(plan, self.spec, self.fn.name) if self.mode != "f" else ()
        if params is None:  # every argument the caller passed (defaults are constants unless named)
            params = tuple(
                i
                for i, p in enumerate(plan.parts)
                if isinstance(p, TreeDef) and p.num_leaves and plan.names[i] not in plan.defaulted
            )
        leaf_wrt = tuple(plan.leaves_of(params)) if self.mode != "f" else ()
        if self.mode != "f" and not leaf_wrt:
            raise SignatureError(f"{self.fn.name}: no argument to differentiate in this call ({plan.describe()})")
        key = (plan, leaf_wrt)
        d = self._plans.get(key)
        if d is None:
            variant = self.fn.variant(plan)
            if self.mode == "f":
                d = variant._primal
            else:
                d = type(self)(variant, self.mode, leaf_wrt, all_float=self.spec is None)
            self._plans[key] = d
        return d, params

    def _run_plan(self, plan: Plan, leaves: list[Any], direction: Any) -> Any:
        d, params = self._plan_derivative(plan)
        if self.mode == "f":
            return d(*leaves)
        if isinstance(d, DirectionalDerivative):
            dirs = flatten_like(plan, params, direction, d._dir_name()) if self.mode != "vjp" else direction
            out = d(leaves, dirs if self.mode == "vjp" or len(dirs) != 1 else dirs[0])
        else:
            out = d(*leaves)
        self._sig = d._sig
        if self.mode in ("jvp", "hessian", "jacobian"):
            return out  # outputs are not structured (Hessians and Jacobians over the flat leaves)
        sig = d.sig
        used = d.wrt_for(sig)

        def back(flat_out: Any) -> Any:
            got = dict(zip(used, per_leaf(flat_out, len(used)), strict=True))
            return restructure(plan, params, [got.get(k) for k in d._wrt], [sig[k].rank == 0 for k in d._wrt])

        if self.mode in ("value_and_grad", "vjp"):
            return out[0], back(out[1])
        return back(out)

    def _inline(self, flat: tuple[Any, ...], kwargs: dict[str, Any] | None = None, direction: Any = None) -> Any:
        """Called on tracers (inside another traced function): splice in the graph of this mode.

        A derivative is IR like the function, so ``dc.grad(f)`` inside a traced
        function is its reverse sweep replayed there, and differentiating the
        outer function differentiates that code: derivatives compose to any order.
        """
        kwargs = kwargs or {}
        fn = self.fn
        if kwargs or not self._plain(flat):
            if fn.convention is None:
                fn.check_args(flat)
            assert fn.convention is not None
            plan, leaves = fn.convention.plan(flat, kwargs)
            d, params = self._plan_derivative(plan)
            dirs = direction
            if isinstance(d, DirectionalDerivative) and self.mode != "vjp":
                dirs = flatten_like(plan, params, direction, d._dir_name())
                dirs = dirs if len(dirs) != 1 else dirs[0]
            out = d._inline(tuple(leaves), {}, dirs)
            if self.mode in ("f", "jvp", "hessian", "jacobian"):
                return out
            leaf_wrt = d._wrt
            scalar = [np.ndim(leaves[k]) == 0 for k in leaf_wrt]

            def back(flat_out: Any) -> Any:
                return restructure(plan, params, per_leaf(flat_out, len(leaf_wrt)), scalar)

            return (out[0], back(out[1])) if self.mode in ("value_and_grad", "vjp") else back(out)
        if len(flat) != len(fn.arg_names):
            fn.check_args(flat)
        builder = next(a.builder for a in _leaves(flat) if isinstance(a, Tracer))
        tracers = [lift(builder, a) for a in flat]
        sig = tuple(t.type for t in tracers)
        if self.mode == "f":
            graph = fn.graph(sig)
            env = replay(builder, graph, dict(zip(graph.inputs, tracers, strict=True)))
            return env[graph.outputs[0]]
        wrt = tuple(i for i in self._wrt if sig[i].dtype.differentiable) if self._all_float else self._wrt
        prog = fn.program(sig, self.mode, wrt or self._wrt)
        inputs = list(tracers)
        if isinstance(self, DirectionalDerivative):
            wanted = [v.type for v in parameters(prog)][len(tracers) :]
            inputs += [lift(builder, a) for a in self._direction_values(direction, wanted, traced=True)]
        return _pack(builder, prog, inputs)

    def __repr__(self) -> str:
        return f"<dcompile {self.mode} of {self.fn.name} wrt ({', '.join(self.wrt_names)})>"


def _leaves(items: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for a in items:
        out += list(a) if isinstance(a, (list, tuple)) else [a]
    return out


_INLINE_DIRECTIONS = 256  # a dense Jacobian or Hessian inlined by replaying its loop body per direction


def _pack(builder: Any, prog: Program, inputs: list[Tracer]) -> Any:
    """The outputs of a derived program replayed on ``inputs``, as the Python values its call returns."""
    from dcompile.ir.layout import Loop, Matrix, Pack, Scalar, Vector
    from dcompile.primitives.numpy_api import stack

    graph, layout = prog.graph, prog.layout
    if isinstance(layout, Loop):
        n = layout.shape[1] if layout.along == "col" else layout.shape[0]
        if n > _INLINE_DIRECTIONS:
            raise TraceError(
                f"a dense {prog.function} of {n} directions inside a traced function would be unrolled {n} times.\n"
                "Fix: use hvp or jvp inside traced code (one direction each), or compute it outside."
            )
        params = [v for v in graph.inputs if v is not layout.direction]
        results = []
        for j in range(n):
            e = np.zeros(layout.direction.type.shape)
            e.reshape(-1)[j] = 1.0
            env = replay(builder, graph, {**dict(zip(params, inputs, strict=True)), layout.direction: lift(builder, e)})
            results.append(env[layout.result])
        return stack(results, axis=1 if layout.along == "col" else 0).reshape(layout.shape)
    env = replay(builder, graph, dict(zip(graph.inputs, inputs, strict=True)))

    def build(item: Any) -> Any:
        if isinstance(item, Scalar):
            return env[item.value]
        if isinstance(item, Vector):
            return stack([env[v] for v in item.values])
        if isinstance(item, Matrix):

            def entry(i: int, j: int) -> Any:
                key = (i, j) if not item.symmetric or i <= j else (j, i)
                v = item.entries.get(key)
                return env[v] if v is not None else lift(builder, 0.0)

            return stack([stack([entry(i, j) for j in range(item.n)]) for i in range(item.n)])
        if isinstance(item, Pack):
            return tuple(build(x) for x in item.items)
        return env[item.value]  # Array

    return build(layout)


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

    def _forget_runners(self) -> None:
        super()._forget_runners()
        self._fast = None

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
        try:
            if holds_tracer(primals) or holds_tracer(direction):
                return self._inline(primals, {}, direction)
            if not self._plain(primals):
                return self._structured(primals, {}, direction)
            try:
                return self._call_flat(primals, direction)
            except StaticUse as exc:
                return self._after_static(exc, primals, {}, direction)
        except DcompileError as exc:
            raise user_traceback(exc) from None

    def _call_flat(self, primals: tuple[Any, ...], direction: Any) -> Any:
        sig, conv = self.fn.signature(primals, "primals")
        self._sig = self.fn.default_sig = sig
        prog = self.fn.program(sig, self.mode, self.wrt_for(sig))
        wanted = [v.type for v in parameters(prog)][len(primals) :]
        dirs = self._directions(direction, wanted)
        fn = self._callable(sig)
        self._fast = fn if self.fn.backend == "numba" else None
        return fn(*conv, *dirs)

    def _direction_values(self, direction: Any, wanted: list[VType], *, traced: bool = False) -> list[Any]:
        """Like :meth:`_directions`, for a call inside a traced function: entries may be tracers."""
        if not traced:
            return self._directions(direction, wanted)
        if len(wanted) == 1:
            items = [direction]
        elif isinstance(direction, (list, tuple)):
            items = list(direction)
        elif isinstance(direction, Tracer) and direction.ndim == 1 and all(t.rank == 0 for t in wanted):
            items = [direction[i] for i in range(direction.shape[0])]
        else:
            items = [direction]
        if len(items) != len(wanted):
            raise SignatureError(
                f"{self._dir_name()} has {_entries(len(items))}; {self.mode} with respect to "
                f"({', '.join(self.wrt_names)}) needs {len(wanted)}."
            )
        for a, t in zip(items, wanted, strict=True):
            if tuple(np.shape(a) if not isinstance(a, Tracer) else a.shape) != t.shape:
                raise SignatureError(f"{self._dir_name()} entries must have shapes {[w.shape for w in wanted]}")
        return items

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
                f"{name} has {_entries(len(items))}; {self.mode} with respect to "
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


def _entries(n: int) -> str:
    return "1 entry" if n == 1 else f"{n} entries"


def _items(direction: Any) -> list[Any]:
    if isinstance(direction, (list, tuple)):
        return list(direction)
    return list(np.ravel(direction))


def compile(
    fn: Callable[..., Any] | None = None,
    *,
    backend: str = "numba",
    name: str | None = None,
    vector_math: bool | None = None,
) -> Any:
    """Decorator: trace ``fn`` into SSA and compile it (and its derivatives) on demand.

    Use as ``@dc.compile`` or ``@dc.compile(backend="python")``. Arguments are
    float scalars or NumPy arrays (float arrays can be differentiated; integer
    and boolean arrays are data), structures of them (dicts, tuples, ...), or
    settings (strings, callables, ints used as Python values); keywords and
    defaults work as in Python. The function returns a scalar or an array.

    The function is traced once per signature: globals it reads are read then.
    Changing a module-level global later needs ``f.retrace()`` in the same
    process (a new process sees the new value).

    ``vector_math`` (default: on unless ``DCOMPILE_VECTOR_MATH=0``): inside the
    generated loops over array entries, the transcendental functions (``exp``,
    ``log``, ``log1p``, ``tanh``, ``sin``, ``pow``, ``sigmoid``, ... : the
    ``UNARY``/``BINARY`` tables of :mod:`dcompile.runtime.vecmath`) are that
    module's branch-free versions, and sums may be reassociated, so the loops
    vectorise (several times faster on data-heavy objectives). They agree with
    NumPy to the 1-3 ulps that module documents; ``vector_math=False`` gives
    libm's functions and sums in loop order.
    """
    from dcompile.frontend.fingerprint import fingerprint
    from dcompile.frontend.pytree import LEAF
    from dcompile.frontend.tracing import integer_parameters, trace

    def wrap(f: Callable[..., Any]) -> Function:
        raw = name or getattr(f, "__name__", "f")
        fname = "f" if raw == "<lambda>" else sanitize(raw)
        convention = Convention(f, fname)
        arg_names = list(convention.names)
        # The plain plan: one number or array per parameter (keyword-only ones passed by keyword).
        plain = Plan(convention.names, convention.keyword_only, (LEAF,) * len(arg_names), frozenset())

        def make(sig: Signature) -> Graph:
            return trace(f, arg_names, sig, fname, rebuild=plain.rebuild)

        out = Function(
            make,
            fname,
            arg_names,
            backend,
            fingerprint=lambda: fingerprint(f),
            convention=convention,
            user_fn=f,
            vector_math=vector_math,
        )
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


# plain Python function -> its Function, for dc.grad(fn) and friends on functions not compiled yet
_AUTO: weakref.WeakKeyDictionary[Any, Function] = weakref.WeakKeyDictionary()


def compiled_function(f: Callable[..., Any]) -> Function:
    """``f`` compiled by :func:`compile`, once per function object (weakly cached)."""
    try:
        found = _AUTO.get(f)
    except TypeError:  # not weakly referenceable: compiled each time
        found = None
    if found is None:
        found = compile(f)
        with contextlib.suppress(TypeError):
            _AUTO[f] = found
    return found


def as_function(f: Any, maker: str) -> Function:
    """``f`` as a :class:`Function` (a plain callable is compiled), or a ``SignatureError`` naming ``dc.<maker>``."""
    if isinstance(f, Function):
        return f
    if callable(f) and not isinstance(f, (Derivative, type)) and not hasattr(f, "_dcompile_derivative"):
        return compiled_function(f)
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
    fn = as_function(f, "grad")
    return Derivative(fn, "grad", fn.resolve_wrt(wrt), all_float=wrt is None, spec=wrt)


def value_and_grad(f: Function, wrt: Wrt = None) -> Derivative:
    """``(f(x), grad f(x))`` from one forward and one reverse sweep."""
    if hasattr(f, "_dcompile_derivative") and wrt is None:  # a finite sum: its own loops
        return f._dcompile_derivative("value_and_grad")
    fn = as_function(f, "value_and_grad")
    return Derivative(fn, "value_and_grad", fn.resolve_wrt(wrt), all_float=wrt is None, spec=wrt)


def jvp(f: Function, wrt: Wrt = None) -> Derivative:
    """Forward mode: ``jvp(f)(primals, tangents) -> (f(primals), df . tangents)``."""
    fn = as_function(f, "jvp")
    return DirectionalDerivative(fn, "jvp", fn.resolve_wrt(wrt), all_float=wrt is None, spec=wrt)


def vjp(f: Function, wrt: Wrt = None) -> Derivative:
    """Reverse mode: ``vjp(f)(primals, ct) -> (f(primals), ct * grad f)``."""
    fn = as_function(f, "vjp")
    return DirectionalDerivative(fn, "vjp", fn.resolve_wrt(wrt), all_float=wrt is None, spec=wrt)


def hessian(f: Function, wrt: Wrt = None) -> Derivative:
    """The Hessian w.r.t. ``wrt`` as a symmetric 2-D array (forward over reverse)."""
    fn = as_function(f, "hessian")
    return Derivative(fn, "hessian", fn.resolve_wrt(wrt), all_float=wrt is None, spec=wrt)


def jacobian(f: Function, wrt: Wrt = None) -> Derivative:
    """The dense Jacobian of a vector-valued ``f``: shape ``(m, n)`` for ``m`` outputs, ``n`` inputs.

    The ``wrt`` arguments are flattened and joined into one vector of ``n``
    entries. Forward mode fills it a column per input, reverse mode a row per
    output, whichever needs fewer sweeps; a scalar ``f`` gives its flat gradient.
    """
    fn = as_function(f, "jacobian")
    return Derivative(fn, "jacobian", fn.resolve_wrt(wrt), all_float=wrt is None, spec=wrt)


def hvp(f: Function, wrt: Wrt = None) -> Derivative:
    """``hvp(f)(primals, v) -> H v`` (forward over reverse, no Hessian formed)."""
    fn = as_function(f, "hvp")
    return DirectionalDerivative(fn, "hvp", fn.resolve_wrt(wrt), all_float=wrt is None, spec=wrt)
