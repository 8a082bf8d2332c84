"""The SSA graph: values, equations, blocks and the immutable :class:`Graph`.

Grammar (what :func:`dcompile.ir.verify.verify` checks)::

    graph   ::= name "(" input* ")" eqn* "return" output+
    input   ::= value                      a fresh value, defined once
    eqn     ::= value "=" prim "(" value* ";" params ")"
    output  ::= value                      an input or an equation's value
    value   ::= id ":" dtype "[" shape "]"

Equations are in topological order; every value is defined exactly once
(static single assignment) before it is used. Constants are equations of the
``const`` primitive; the printer and the emitter inline them as literals.

Values are compared by identity. Names do not belong to values: a value may
carry a *hint* (the user's variable name, ``df_da`` for an adjoint) and the
printer makes hints unique. Blocks are display-only annotations: a position in
the equation list where the emitter prints a comment (``# f = d * e``) and
alias lines (``df_dd = e``) that make derivative code read like the chain-rule
tables of a textbook.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dcompile.ir.primitive import Primitive
from dcompile.ir.types import VType

_ids = itertools.count()


@dataclass(frozen=True, slots=True, eq=False)
class Value:
    """An SSA value: compared and hashed by identity."""

    type: VType
    id: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        return f"%{self.id}:{self.type}"


@dataclass(frozen=True, slots=True, eq=False)
class Eqn:
    """``out = prim(*inputs; **params)``. ``params`` is a sorted item tuple.

    ``loc`` is the user's source line that made the equation (a
    :class:`dcompile.errors.Location`), recorded only while locations are
    recorded (see :data:`dcompile.ir.builder.RECORD_LOCATIONS`); transforms
    copy it to the equations they derive from this one.
    """

    prim: Primitive
    inputs: tuple[Value, ...]
    params: tuple[tuple[str, Any], ...]
    out: Value
    loc: Any = None

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True, slots=True, eq=False)
class Block:
    """A display annotation at equation index ``position``.

    ``title`` is a section heading; ``source`` the primal equation (rebound to
    this graph's values) whose derivative follows; ``aliases`` are
    ``(name, value)`` pairs printed as ``name = value`` to show a derivative
    that needed no new code (``df_dd = e``).
    """

    position: int
    title: str | None = None
    source: Eqn | None = None
    aliases: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable typed SSA graph with named inputs and outputs."""

    name: str
    inputs: tuple[Value, ...]
    eqns: tuple[Eqn, ...]
    outputs: tuple[Value, ...]
    hints: Mapping[Value, str] = field(default_factory=lambda: MappingProxyType({}))
    blocks: tuple[Block, ...] = ()

    @property
    def n_statements(self) -> int:
        """Equations that are not constants: the size of the emitted code."""
        return sum(1 for e in self.eqns if not e.prim.literal)

    def __str__(self) -> str:
        from dcompile.ir.printer import format_graph

        return format_graph(self)
