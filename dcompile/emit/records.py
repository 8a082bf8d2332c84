"""Statement records: the emitted body as the emitter knows it (issue 23).

The emitter prints a function body as text for people and numba, and returns
the same body as a list of :class:`Stmt` records: each record is one top-level
statement (or one comment line) with its text, the local names it reads and
writes, and its kind. :mod:`dcompile.emit.chunking` splits long bodies on the
records, so it never reads the text back; the text of a record is copied into
the part functions as it is.

Reads and writes are what the emitter printed from the graph: a read is the
name of a value (or a module global) an expression uses, in the order the
expression printed them; a write is a name the statement binds. A subscript
store (``g[2] += t``) reads ``g`` and binds nothing. Over-approximating reads
is safe (a name no part defines is ignored); missing one is not.

A plain float statement also carries its operation tree (:class:`Assign`, over
:data:`Tree`): what :mod:`dcompile.backend.llvm_parts` lowers to LLVM for a
part of a split function, without reading the text back. The tree is the one
Python parses from the statement's text (the emitter prints each operation of
the tree with the parentheses it needs; ``tests/test_chunking.py`` compares
both on every program of ``tests/test_arrays.PROGS``); a statement without one
(``tree=None``) leaves its part to the text (:func:`dcompile.backend.llvm_parts.split_parts`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Elem:
    """An element of a float64 array at constant indices (``x[3]``, ``_s[12]``, ``w[-1]``: as printed)."""

    array: str
    index: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Op:
    """An operation on float operands.

    ``op`` is a binary operator (``"+"``, ``"-"``, ``"*"``, ``"/"``, ``"**"``), a
    unary one (``"neg"``, ``"pos"``), or a NumPy ufunc called on scalars
    (``"np.sin"``, by its attribute name in ``numpy``).
    """

    op: str
    args: tuple[Tree, ...]


# A local's name, a float constant (never negative: ``-0.5`` is ``Op("neg", (0.5,))``, as
# Python parses it), an integer (only as the exponent of ``"**"``), an element, an operation.
Tree = str | float | int | Elem | Op


@dataclass(frozen=True, slots=True)
class Assign:
    """``target = value``, or with ``op`` (``"+"``, ``"-"``, ``"*"``, ``"/"``) ``target op= value``."""

    target: str | Elem
    value: Tree
    op: str | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """A part function of a split body as plain float statements (what its ``def`` prints, less the docstring)."""

    name: str
    params: tuple[str, ...]
    body: tuple[Assign, ...]


def negated(value: float) -> Tree:
    """A float constant as Python parses its literal: a negative one is the negation of its magnitude."""
    return Op("neg", (-value,)) if math.copysign(1.0, value) < 0 else value


class Kind(enum.Enum):
    """What a statement does, as far as splitting needs to know."""

    COMMENT = "comment"  # a comment line: it heads the statement after it
    ASSIGN = "assign"  # name = expression
    ALIAS = "alias"  # name = other_name, a display alias: dropped when nothing reads it
    ALLOCATION = "allocation"  # name = a new array (np.zeros, x.copy()): hoisted when it reads no local
    STORE = "store"  # name[index] = / op= expression
    COMPOUND = "compound"  # a loop nest, or a template's statement: one unit, never split
    RETURN = "return"  # the last statement


@dataclass(frozen=True, slots=True)
class Stmt:
    """One top-level statement of a body (lines unindented; a compound one indents its inner lines)."""

    lines: tuple[str, ...]
    reads: tuple[str, ...] = ()
    writes: frozenset[str] = frozenset()
    kind: Kind = Kind.ASSIGN
    tree: Assign | None = None  # a plain float statement's operations (see the module docstring)


def comment(line: str) -> Stmt:
    return Stmt((line,), kind=Kind.COMMENT)


def text(stmts: Iterable[Stmt]) -> list[str]:
    """The lines of ``stmts``, in order."""
    return [line for s in stmts for line in s.lines]


def code_lines(stmts: Iterable[Stmt]) -> int:
    """Lines of code in ``stmts`` (not comments, nor the comment lines inside a loop)."""
    n = 0
    for s in stmts:
        if s.kind is Kind.COMPOUND:
            n += sum(1 for line in s.lines if line.strip() and not line.lstrip().startswith("#"))
        elif s.kind is not Kind.COMMENT:
            n += len(s.lines)
    return n


def nest(lines: Iterable[str], inner: Iterable[Stmt], *, reads: Iterable[str] = (), bound: Iterable[str] = ()) -> Stmt:
    """A compound statement (a loop) of ``lines`` whose body holds ``inner``.

    It reads ``reads`` (its header's names), then what each inner statement reads
    before the loop or an earlier inner statement binds it; it writes ``bound``
    (the loop variables) and all that the inner statements write.
    """
    written = set(bound)
    out = list(reads)
    for s in inner:
        out += [n for n in s.reads if n not in written]
        written.update(s.writes)
    return Stmt(tuple(lines), tuple(dict.fromkeys(out)), frozenset(written), Kind.COMPOUND)
