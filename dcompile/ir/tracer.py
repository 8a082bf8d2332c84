"""Tracers: symbolic values that record operations into a :class:`Builder`.

A :class:`Tracer` stands for one IR value while a function is traced. Python
operators, NumPy ufuncs and ``math`` functions applied to it call
:func:`bind`, which folds constants, applies the primitive's algebraic
identities and appends (or reuses) an equation. Derivative rules are written
with the same tracers, so every transform is just more tracing.

Anything that needs a concrete number (``if x > 0:``, ``float(x)``) raises a
:class:`~dcompile.errors.TraceError` that points at the user's line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error, user_location
from dcompile.ir.builder import MAX_CONST_ELEMENTS, Builder
from dcompile.ir.graph import Value
from dcompile.ir.primitive import Primitive
from dcompile.ir.types import VType, broadcast_shapes

# Filled by dcompile.primitives: build an array from a list holding tracers, broadcast a
# value to a shape (used to keep simplified results well-shaped), and find the traced
# implementation of a NumPy/SciPy/math object (``spellings.lookup``).
HOOKS: dict[str, Callable[..., Any]] = {}
# Constant folding and algebraic identities in bind(); off only to show the raw
# chain rule (``dcompile show --stage derivative-ir``).
_IDENTITIES = [True]


@contextmanager
def identities(enabled: bool) -> Iterator[None]:
    """Turn constant folding and the primitives' identities on or off while building."""
    _IDENTITIES.append(enabled)
    try:
        yield
    finally:
        _IDENTITIES.pop()


# Primitives whose output repeats one input (broadcast_to): a repeated scalar
# constant counts as that constant for the algebraic identities.
UNIFORM: set[Primitive] = set()


_ACTIVE: list[Builder] = []  # the builders of the traces running on this thread, innermost last


@contextmanager
def tracing_into(builder: Builder) -> Iterator[None]:
    """Make ``builder`` the trace that array constructors (``np.zeros(n)``) record into."""
    _ACTIVE.append(builder)
    try:
        yield
    finally:
        _ACTIVE.pop()


def active_builder() -> Builder | None:
    """The builder of the innermost running trace, or None outside tracing."""
    return _ACTIVE[-1] if _ACTIVE else None


class Tracer:
    """A traced value: an IR value plus the builder that records into.

    Values are immutable, but a tracer is a Python object a program may update
    (``y[0] = v``): item assignment rebinds ``value`` to a new SSA value, and
    ``view`` records that the tracer is a slice of another one (``row = A[0]``),
    so that writing into either is seen through both, as NumPy's views are.
    """

    __slots__ = ("__weakref__", "builder", "readonly", "value", "view", "views")
    __array_priority__ = 1000.0

    def __init__(self, builder: Builder, value: Value) -> None:
        self.builder = builder
        self.value = value
        self.view: Any = None
        self.views: Any = None
        self.readonly = False

    # -- static information -------------------------------------------------
    @property
    def type(self) -> VType:
        return self.value.type

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.type.shape

    @property
    def ndim(self) -> int:
        return self.value.type.rank

    @property
    def size(self) -> int:
        return int(np.prod(self.value.type.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.value.type.dtype.value)

    @property
    def const(self) -> Any | None:
        """The scalar constant this tracer holds (in every entry, for a broadcast one), else ``None``."""
        c = self.builder.const_of(self.value)
        if c is None:
            e = self.builder.producer.get(self.value)
            if e is not None and e.prim in UNIFORM:
                c = self.builder.const_of(e.inputs[0])
        return c

    def is_const(self, literal: float) -> bool:
        c = self.const
        return c is not None and not isinstance(c, bool) and c == literal

    def static(self) -> np.ndarray | None:
        """The value as a NumPy array when it does not depend on the traced function's arguments.

        ``np.arange(5) % 2 == 0`` or ``np.zeros(3)`` after item assignments of
        numbers are known while tracing: they can be used as masks, indices,
        loop counts and ``if`` conditions, as in NumPy. None for anything that
        depends on an argument.
        """
        return self.builder.evaluate(self.value)

    def __repr__(self) -> str:
        return f"Tracer({self.value.type})"

    __hash__ = object.__hash__

    # -- things that need a concrete value --------------------------------
    def __bool__(self) -> bool:
        known = self.static()
        if known is not None:
            return bool(known)
        loc = user_location()
        line = loc.source_line if loc else ""
        if line.startswith("while"):
            construct, fix = (
                "a `while` loop whose condition depends on a traced value",
                "loop a fixed number of times (`for _ in range(n)`) and select results with dcompile.where(cond, a, b)",
            )
        elif line.startswith(("if", "elif")):
            construct, fix = (
                "an `if` on a traced value",
                "compute both branches and select with dcompile.where(cond, a, b), e.g. `y = dc.where(x > 0, x, 0.0)`",
            )
        else:
            construct, fix = (
                "the truth value of a traced value (`and`, `or`, `not`, `if`, `assert`, `min`/`max` of Python)",
                "use dcompile.where(cond, a, b), np.maximum/np.minimum, or `&`, `|`, `~` on comparisons",
            )
        raise self._static_use(
            trace_error(
                f"dcompile cannot trace {construct}: the value is only known when the compiled code runs.",
                fix,
            )
        )

    def _static_use(self, err: Any) -> Exception:
        """``err``, or a :class:`StaticUse` carrying it when this is a scalar argument of the function
        (an ``int`` or ``bool`` passed there then becomes a constant of the trace)."""
        if self.ndim == 0 and self.builder.producer.get(self.value) is None:
            from dcompile.errors import StaticUse

            return StaticUse(err, self.value)
        return err  # type: ignore[no-any-return]

    def _concrete(self, what: str) -> Exception:
        return self._static_use(
            trace_error(
                f"dcompile cannot trace {what} of a traced value: it would need the number, "
                "which is only known when the compiled code runs (a `math` function called in a "
                "helper outside the traced function does this too).",
                "keep the value symbolic: drop the conversion, use np.* functions in helpers, "
                "or pass the number in as a constant",
            )
        )

    def __float__(self) -> float:
        known = self.static()
        if known is not None and known.ndim == 0:
            return float(known)
        raise self._concrete("float()")

    def __int__(self) -> int:
        known = self.static()
        if known is not None and known.ndim == 0:
            return int(known)
        raise self._concrete("int()")

    def __index__(self) -> int:
        known = self.static()
        if known is not None and known.ndim == 0 and known.dtype.kind in "iub":
            return int(known)
        if self.type.dtype.value == "float64" and self.ndim == 0:
            raise integer_use(self)
        raise self._concrete("an integer use (range(), indexing)")

    def __complex__(self) -> complex:
        raise trace_error(
            "complex numbers are not supported by dcompile.",
            "keep real and imaginary parts as two float values",
            UnsupportedError,
        )

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise trace_error("dcompile cannot iterate over a scalar traced value.", "index arrays, not scalars")
        return (self[i] for i in range(self.shape[0]))  # unrolls: for short leading axes

    def __len__(self) -> int:
        if self.ndim == 0:
            raise trace_error("len() of a scalar traced value.", "scalars have no length")
        return self.shape[0]

    # -- numpy protocols ----------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        known = self.static()
        if known is not None:
            return known if dtype is None else known.astype(dtype)
        raise trace_error(
            "a traced value was converted to a NumPy array (np.asarray, np.array, or a "
            "function dcompile does not know, called on it).",
            "use the NumPy/SciPy functions dcompile supports on traced values (dcompile.supported() lists "
            "them); build arrays of traced values with np.stack, np.array([...]) or dc.array",
            UnsupportedError,
        )

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return HOOKS["ufunc"](ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return HOOKS["function"](func, args, kwargs)


def integer_use(t: Tracer) -> Exception:
    """The error for a float traced scalar used as an integer (an index, a count, a range)."""
    from dcompile.errors import IntegerUse

    loc = user_location()
    where = f"\n{loc.render()}" if loc else ""
    err = IntegerUse(
        "a float traced value was used as an integer (an index, range(), a count)."
        f"{where}\nFix: pass an integer for that argument (an int argument used as an index is traced as an "
        "integer); for a computed value, convert it with .astype(int)",
        t.value if t.builder.producer.get(t.value) is None else None,
    )
    return err


def _builder_of(args: tuple[Any, ...]) -> Builder | None:
    """The builder to record into: the innermost trace among the operands' (a loop body reads
    values of the function around it; they become inputs of the body, see Builder.capture)."""
    builder = None
    for a in args:
        if isinstance(a, Tracer):
            if builder is None or a.builder is builder:
                builder = builder or a.builder
            elif a.builder.encloses(builder):
                builder = a.builder
            elif not builder.encloses(a.builder):
                raise trace_error(
                    "a traced value from one dcompile trace was used in another "
                    "(it escaped its function, e.g. through a global or a closure).",
                    "pass values in as arguments instead of storing tracers",
                )
    return builder


def holds_tracer(items: Any) -> bool:
    """Whether ``items`` is a tracer or a (nested) list or tuple holding one."""
    if isinstance(items, (list, tuple)):
        return any(holds_tracer(x) for x in items)
    return isinstance(items, Tracer)


def _as_value(builder: Builder, a: Any) -> Value:
    if isinstance(a, np.ndarray) and a.dtype == object and a.ndim == 0:
        a = a[()]  # one entry held by an object array (implementations run entry by entry: scalarize)
    if isinstance(a, Tracer):
        if a.builder is not builder:  # a value of an enclosing trace, read in a loop body
            return builder.capture(a)
        return a.value
    if isinstance(a, (bool, np.bool_, int, float, np.integer, np.floating)):
        return builder.const(a)
    if isinstance(a, (list, tuple)):
        if holds_tracer(a):
            return HOOKS["array"](a).value
        a = np.asarray(a)
    if isinstance(a, np.ndarray) and a.dtype.kind in "biuf":
        if a.ndim == 0:
            return builder.const(a.item())
        if a.size > MAX_CONST_ELEMENTS:
            raise trace_error(
                f"a NumPy array of shape {a.shape} ({a.size} elements) is used as a constant of the traced "
                f"function; constants over {MAX_CONST_ELEMENTS} elements are not embedded in generated code.",
                "pass the array in as an argument (data arguments need not be differentiated: use wrt=...)",
                UnsupportedError,
            )
        return builder.const(a)
    raise trace_error(
        f"a value of type {type(a).__name__} met a traced value.",
        "use numbers (float, int, bool) or NumPy arrays of them with traced values",
        UnsupportedError,
    )


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply ``prim`` to tracers or numbers; the one entry to the builder.

    With no tracer among ``args`` the NumPy implementation runs eagerly.
    Otherwise constants are folded, the primitive's ``simplify`` identities are
    tried, and the equation is appended unless an equal one exists.
    """
    builder = _builder_of(args)
    if builder is None:
        with np.errstate(all="ignore"):
            return np.asarray(prim.impl(*args, **params))[()]
    values = tuple(_as_value(builder, a) for a in args)
    simplify = _IDENTITIES[-1]
    if prim.elementwise and len(values) > 1 and simplify:
        values = _unbroadcast_constants(builder, values)
    try:
        out_type = prim.type_rule(*(v.type for v in values), **params)
    except ValueError as exc:
        shapes = ", ".join(str(v.type.shape) for v in values)
        raise trace_error(
            f"{prim.name} cannot combine operands of shapes {shapes}: {exc}.",
            "make the shapes agree (NumPy broadcasting rules), e.g. reshape or index one operand",
        ) from None
    consts = [builder.literal_of(v) for v in values]
    if simplify and prim.foldable and all(c is not None for c in consts) and _small(out_type):
        with np.errstate(all="ignore"):
            folded = np.asarray(prim.impl(*[np.asarray(c) for c in consts], **params))
        return Tracer(builder, builder.const(folded))
    if prim.simplify is not None and simplify:
        tracers = [Tracer(builder, v) for v in values]
        simpler = prim.simplify(*tracers, **params)
        if simpler is not None:
            t = simpler if isinstance(simpler, Tracer) else Tracer(builder, builder.const(simpler))
            if t.shape != out_type.shape:  # an identity like x * 1 must keep the broadcast shape
                t = HOOKS["broadcast_to"](t, out_type.shape)
            return t
    out = builder.emit_raw(prim, values, tuple(sorted(params.items())), out_type)
    return Tracer(builder, out)


def _unbroadcast_constants(builder: Builder, values: tuple[Value, ...]) -> tuple[Value, ...]:
    """Elementwise operands that repeat a scalar constant become the scalar (``x * np.full(n, 2.0)`` is ``x * 2.0``)."""
    out = list(values)
    for i, v in enumerate(values):
        e = builder.producer.get(v)
        if e is None or e.prim not in UNIFORM or builder.const_of(e.inputs[0]) is None:
            continue
        others = [w.type.shape for j, w in enumerate(out) if j != i]
        try:
            if broadcast_shapes(*others) == broadcast_shapes(*others, v.type.shape):
                out[i] = e.inputs[0]
        except ValueError:
            pass
    return tuple(out)


def _small(t: VType) -> bool:
    return int(np.prod(t.shape, dtype=np.int64)) <= MAX_CONST_ELEMENTS


def lift(builder: Builder, x: Any) -> Tracer:
    """``x`` as a tracer of ``builder`` (numbers become constants)."""
    return x if isinstance(x, Tracer) else Tracer(builder, _as_value(builder, x))
