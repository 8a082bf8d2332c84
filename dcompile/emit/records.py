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
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


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
