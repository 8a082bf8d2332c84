"""How a generated function packs its graph's outputs into return values.

A graph's outputs are a flat list of values; the API decides whether the user
gets a float, a 1-D array (a gradient), a 2-D array (a Hessian, filled from
its upper triangle) or a tuple of those.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcompile.ir.graph import Value


@dataclass(frozen=True)
class Scalar:
    value: Value


@dataclass(frozen=True)
class Vector:
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Matrix:
    """An ``n x n`` matrix; with ``symmetric`` only entries ``i <= j`` are given."""

    n: int
    entries: dict[tuple[int, int], Value]
    symmetric: bool = False


@dataclass(frozen=True)
class Pack:
    items: tuple[Scalar | Vector | Matrix, ...]


Layout = Scalar | Vector | Matrix | Pack


def layout_values(layout: Layout) -> list[Value]:
    """Every value a layout returns, in order."""
    if isinstance(layout, Scalar):
        return [layout.value]
    if isinstance(layout, Vector):
        return list(layout.values)
    if isinstance(layout, Matrix):
        return list(layout.entries.values())
    return [v for item in layout.items for v in layout_values(item)]
