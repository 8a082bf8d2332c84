"""The graph builder: hash-consing construction of SSA graphs.

Equal equations (same primitive, same input values, same parameters) are built
once, so common subexpressions are shared by construction. Constant folding and
algebraic identities are applied one level up, in
:func:`dcompile.ir.tracer.bind`, because they are written with tracers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from dcompile.errors import user_location
from dcompile.ir.graph import Block, Eqn, Graph, Value
from dcompile.ir.literals import format_literal
from dcompile.ir.primitive import Primitive
from dcompile.ir.types import BOOL, F64, DType, VType

# Array constants larger than this are not folded or embedded in generated code
# (they would bloat the source); data that big is passed in as an argument.
MAX_CONST_ELEMENTS = 4096

# Whether traces record the user's source line of each equation (Eqn.loc). Off by default: finding
# the user's frame costs microseconds per operation; dcompile.debug turns it on to explain a NaN.
RECORD_LOCATIONS: ContextVar[bool] = ContextVar("RECORD_LOCATIONS", default=False)


def _const_key(value: Any) -> tuple[str, ...]:
    """A hash key that tells ``0.0`` from ``-0.0`` and makes ``nan == nan``."""
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return ("a", value.dtype.str, str(value.shape), digest)
    if isinstance(value, (bool, np.bool_)):
        return ("b", str(bool(value)))
    if isinstance(value, int):
        return ("i", str(value))
    return ("f", float(value).hex())


def array_type(value: np.ndarray) -> VType:
    """The IR type of a NumPy array constant (float64, int64 or bool elements)."""
    kind = value.dtype.kind
    dtype = DType.BOOL if kind == "b" else DType.I64 if kind in "iu" else DType.F64
    return VType(tuple(int(n) for n in value.shape), dtype)


def normalize_array(value: Any) -> np.ndarray:
    """A read-only copy of an array constant with one of the IR's element types."""
    arr = np.asarray(value)
    kind = arr.dtype.kind
    target = np.bool_ if kind == "b" else np.int64 if kind in "iu" else np.float64
    out = np.array(arr, dtype=target, order="C", copy=True)
    out.setflags(write=False)
    return out


@dataclass
class _BlockDraft:
    position: int
    title: str | None
    source: Eqn | None
    aliases: list[tuple[str, Value]] = field(default_factory=list)


class Builder:
    """Accumulates equations for one graph."""

    def __init__(self) -> None:
        self.eqns: list[Eqn] = []
        self.producer: dict[Value, Eqn] = {}
        self.hints: dict[Value, str] = {}
        self._table: dict[tuple[Any, ...], Value] = {}
        self._index: dict[Value, int] = {}
        self._blocks: list[_BlockDraft] = []
        self._static: dict[Value, np.ndarray | None] = {}
        # A nested trace (a loop body) records into its own builder; values of the enclosing
        # traces it reads become its inputs, in the order first read (see capture()).
        self.parent: Builder | None = None
        self.captured: dict[int, tuple[Any, Value]] = {}  # id(outer value) -> (outer tracer, inner input)
        # Source locations (Eqn.loc): a trace of user code finds the user's frame per equation
        # (``locate``); a transform stamps what it derives from an equation with that equation's
        # location (``origin``).
        self.locate = False
        self.origin: Any = None

    def encloses(self, other: Builder) -> bool:
        """Whether ``other`` is this builder or an enclosing trace of it."""
        b: Builder | None = self
        while b is not None:
            if b is other:
                return True
            b = b.parent
        return False

    def capture(self, outer: Any) -> Value:
        """The input of this nested trace standing for ``outer``, a tracer of an enclosing trace."""
        found = self.captured.get(id(outer.value))
        if found is None:
            found = (outer, self.new_input(outer.value.type, outer.builder.hints.get(outer.value)))
            self.captured[id(outer.value)] = found
        return found[1]

    # -- values -----------------------------------------------------------
    def new_input(self, vtype: VType, hint: str | None = None) -> Value:
        v = Value(vtype)
        if hint:
            self.hints[v] = hint
        return v

    def const(self, value: Any, dtype: DType | None = None) -> Value:
        """The constant ``value`` (a Python or NumPy scalar, or an array) as a value.

        A scalar is float64 (booleans stay boolean) unless ``dtype`` says
        otherwise: ``DType.I64`` keeps an integer (``i + 1`` on an integer tracer).
        """
        if isinstance(value, np.ndarray) and value.ndim > 0:
            arr = normalize_array(value)
            return self.emit_raw(CONST, (), (("value", arr),), array_type(arr))
        if isinstance(value, np.ndarray):
            value = value.item()
        if dtype is DType.I64:
            return self.emit_raw(CONST, (), (("value", int(value)),), VType((), DType.I64))
        if isinstance(value, (bool, np.bool_)) and dtype is not DType.F64:
            return self.emit_raw(CONST, (), (("value", bool(value)),), BOOL)
        return self.emit_raw(CONST, (), (("value", float(value)),), F64)

    def literal_of(self, v: Value) -> Any | None:
        """The constant held by ``v`` (a scalar or an array), or ``None``."""
        e = self.producer.get(v)
        if e is not None and e.prim is CONST:
            return e.params[0][1]
        return None

    def const_of(self, v: Value) -> Any | None:
        """The scalar constant held by ``v``, or ``None`` (also for array constants)."""
        c = self.literal_of(v)
        return None if isinstance(c, np.ndarray) else c

    def evaluate(self, v: Value) -> np.ndarray | None:
        """``v``'s value computed with the primitives' NumPy implementations, if no input reaches it.

        Memoised (values are immutable); None when ``v`` depends on an input.
        """
        known = self._static
        if v in known:
            return known[v]
        stack = [v]
        while stack:  # iterative post-order: a long chain of updates is not a deep recursion
            w = stack[-1]
            if w in known:
                stack.pop()
                continue
            e = self.producer.get(w)
            if e is None:  # an input
                known[w] = None
                stack.pop()
                continue
            pending = [u for u in e.inputs if u not in known]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            args = [known[u] for u in e.inputs]
            if any(a is None for a in args):
                known[w] = None
                continue
            if e.prim is CONST:
                known[w] = np.asarray(e.params[0][1])
                continue
            with np.errstate(all="ignore"):
                out = np.asarray(e.prim.impl(*args, **dict(e.params)))
            known[w] = out.astype(_NUMPY_DTYPES[w.type.dtype], copy=False)
        return known[v]

    def emit_raw(
        self,
        prim: Primitive,
        inputs: tuple[Value, ...],
        params: tuple[tuple[str, Any], ...],
        out_type: VType,
    ) -> Value:
        """Append ``prim(*inputs; params)`` unless an equal equation exists."""
        if prim is CONST:
            key: tuple[Any, ...] = (prim, _const_key(params[0][1]))
        else:
            key = (prim, tuple(v.id for v in inputs), params)
        found = self._table.get(key)
        if found is not None:
            return found
        out = Value(out_type)
        loc = self.origin
        if loc is None and self.locate:
            loc = user_location()
        eqn = Eqn(prim, inputs, params, out, loc)
        self._index[out] = len(self.eqns)
        self.eqns.append(eqn)
        self.producer[out] = eqn
        self._table[key] = out
        return out

    def set_hint(self, v: Value, hint: str) -> bool:
        """Give ``v`` a name hint unless it has one or is a constant."""
        if v in self.hints or self.const_of(v) is not None:
            return False
        self.hints[v] = hint
        return True

    # -- display blocks ---------------------------------------------------
    def open_block(self, title: str | None = None, source: Eqn | None = None) -> None:
        """Start a display block at the next equation."""
        self._blocks.append(_BlockDraft(len(self.eqns), title, source))

    def alias(self, name: str, v: Value) -> None:
        """Record a display alias ``name = v`` in the current block.

        Alias lines print at their block's start; a value defined inside the
        current block gets a continuation block after it, so the line never
        names a value before its definition.
        """
        if not self._blocks:
            self.open_block()
        e = self.producer.get(v)
        if e is not None and self._index[v] >= self._blocks[-1].position:
            self.open_block()
        self._blocks[-1].aliases.append((name, v))

    def name_derivative(self, v: Value, hint: str) -> None:
        """Name a derivative value: a hint if fresh, else a display alias."""
        if not self.set_hint(v, hint):
            self.alias(hint, v)

    # -- result -----------------------------------------------------------
    def build(
        self,
        name: str,
        inputs: Sequence[Value],
        outputs: Sequence[Value],
        extra_blocks: Iterable[Block] = (),
    ) -> Graph:
        """Freeze into a :class:`Graph`, dropping equations no output needs."""
        blocks = [Block(b.position, b.title, b.source, tuple(b.aliases)) for b in self._blocks]
        blocks.extend(extra_blocks)
        blocks.sort(key=lambda b: b.position)
        return eliminate_dead_code(
            Graph(
                name=name,
                inputs=tuple(inputs),
                eqns=tuple(self.eqns),
                outputs=tuple(outputs),
                hints=MappingProxyType(dict(self.hints)),
                blocks=tuple(blocks),
            )
        )


def eliminate_dead_code(graph: Graph) -> Graph:
    """Drop equations whose values reach no output; remap block positions."""
    live: set[Value] = set(graph.outputs)
    # Constants quoted by display blocks stay, so the comment prints a literal
    # (constants are inlined, never statements, so they cost nothing).
    quoted = {v for b in graph.blocks if b.source is not None for v in (*b.source.inputs, b.source.out)}
    keep = [False] * len(graph.eqns)
    for i in range(len(graph.eqns) - 1, -1, -1):
        e = graph.eqns[i]
        if e.out in live or (e.prim is CONST and e.out in quoted):
            keep[i] = True
            live.update(e.inputs)
    defined = live | set(graph.inputs)
    # Positions: number of kept equations before each old index.
    new_pos = [0] * (len(graph.eqns) + 1)
    for i, k in enumerate(keep):
        new_pos[i + 1] = new_pos[i] + int(k)
    blocks = tuple(
        Block(
            new_pos[b.position],
            b.title,
            b.source,
            tuple((n, v) for n, v in b.aliases if v in defined),
        )
        for b in graph.blocks
    )
    return Graph(
        name=graph.name,
        inputs=graph.inputs,
        eqns=tuple(e for e, k in zip(graph.eqns, keep, strict=True) if k),
        outputs=graph.outputs,
        hints=graph.hints,
        blocks=blocks,
    )


_NUMPY_DTYPES = {DType.F64: np.float64, DType.I64: np.int64, DType.BOOL: np.bool_}


def _const_type(value: Any) -> VType:
    if isinstance(value, np.ndarray):
        return array_type(value)
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    return VType((), DType.I64) if isinstance(value, int) else F64


def _const_emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    return format_literal(params["value"])


CONST = Primitive(
    name="const",
    type_rule=lambda *, value: _const_type(value),
    impl=lambda *, value: np.asarray(value),
    emit=_const_emit,
    foldable=False,
    literal=True,
)

__all__ = ["CONST", "MAX_CONST_ELEMENTS", "Builder", "DType", "eliminate_dead_code"]
