"""What ``dcompile explain`` computes, before it is printed.

A scalar function gives an :class:`Explanation`: the intermediates and the
chain-rule table as SymPy formulas (:class:`Line`). An array function gives an
:class:`ArrayExplanation`: the same two lists as NumPy text with shapes and the
Python that computes each entry (:class:`ArrayLine`). Both are built by the
engines (:mod:`dcompile.explain.tables`, :mod:`dcompile.explain.arrays`) and
printed by :mod:`dcompile.explain.render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from dcompile.errors import DcompileError


class ExplainError(DcompileError):
    """A function that cannot be explained, with what to do instead (the CLI prints the message)."""


@dataclass
class Line:
    """``name = formula`` (``= expanded``, the formula in the inputs, with ``--expand``)."""

    name: str
    tex: str
    formula: Any
    expanded: Any = None
    new: bool = False  # the expanded form says more than the formula
    as_traced: bool = False  # the formula is unevaluated: print its operands in the traced order


@dataclass
class Explanation:
    """A scalar function's intermediates and chain-rule table, in SymPy."""

    function: str
    inputs: list[str]
    output: str
    mode: str
    wrt: list[str]
    intermediates: list[Line]
    table: list[Line]
    sections: list[tuple[str, list[Line]]]  # the table under its heading(s): one per forward direction
    tex_names: dict[sp.Symbol, str]
    plain_names: dict[sp.Symbol, str]


@dataclass
class ArrayLine:
    """``name = formula  # shape``; ``code``: the Python statements computing ``ident``."""

    name: str
    ident: str
    formula: str
    shape: tuple[int, ...]
    dtype: str
    kind: str  # intermediate, seed, adjoint, tangent, helper
    code: list[str]


@dataclass
class ArrayExplanation:
    """An array function's intermediates and table, in NumPy, with the notes printed below them."""

    function: str
    inputs: list[str]
    shapes: dict[str, tuple[int, ...]]
    output: str
    mode: str
    wrt: list[str]
    intermediates: list[ArrayLine]
    sections: list[tuple[str, list[ArrayLine]]]
    notes: list[str]

    @property
    def table(self) -> list[ArrayLine]:
        """The entries of every section, in order."""
        return [line for _, lines in self.sections for line in lines]
