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
    """Scalars returned as one 1-D array (the gradient over scalar arguments)."""

    values: tuple[Value, ...]


@dataclass(frozen=True)
class Array:
    """An array value returned as a whole (a gradient shaped like its argument)."""

    value: Value


@dataclass(frozen=True)
class Loop:
    """A dense Jacobian or Hessian filled one basis direction at a time.

    ``direction`` is a graph input that the function does not take: the emitted
    code sets it to each unit vector in turn, recomputes only what depends on
    it, and stores ``result`` as column (``along="col"``) or row ``j`` of an
    array of ``shape``. Code size does not grow with the number of directions.
    """

    direction: Value
    result: Value
    shape: tuple[int, ...]
    along: str = "col"


@dataclass(frozen=True)
class Matrix:
    """An ``n x n`` matrix; with ``symmetric`` only entries ``i <= j`` are given."""

    n: int
    entries: dict[tuple[int, int], Value]
    symmetric: bool = False


@dataclass(frozen=True)
class Pack:
    """A tuple of results (nested packs become nested tuples)."""

    items: tuple[Scalar | Vector | Array | Matrix | Pack, ...]


@dataclass(frozen=True)
class Into:
    """Write ``vector`` into a caller-supplied array ``_out`` and return ``scalar``.

    No gradient array per call: the form optimizer loops want. An ``Array``
    gradient built by loops and in-place updates is built in ``_out`` itself
    (see ``_Printer._built_in_out`` in :mod:`dcompile.emit.emitter`); other
    temporaries of the code still allocate. Without a scalar the function
    returns ``_out``. With ``accumulate`` the vector is *added* to ``_out``
    (``_out[i] += ...`` inside the loop that computes it), the form a loop
    summing per-sample gradients wants.

    A :class:`Pack` ``vector`` (the gradients of several arguments, one of them an
    array) makes ``_out`` a tuple of arrays, one per argument in ``wrt`` order:
    ``_out{k}`` (bound to ``_out[k]`` at the top) holds the ``k``-th gradient, a
    0-d array for a scalar argument. Each array gradient is built in its buffer
    where the single-array logic allows.
    """

    scalar: Scalar | None
    vector: Vector | Array | Pack
    accumulate: bool = False

    @property
    def buffers(self) -> tuple[Scalar | Array, ...]:
        """The gradients written into the buffers ``_out0, _out1, ...`` (empty: one buffer, ``_out``)."""
        if not isinstance(self.vector, Pack):
            return ()
        items = self.vector.items
        assert all(isinstance(i, (Scalar, Array)) for i in items), items
        return items  # type: ignore[return-value]


Layout = Scalar | Vector | Array | Matrix | Pack | Into | Loop


def _gradients(layout: Layout) -> bool:
    """A gradient layout: a vector (scalar arguments), an array, or a tuple of arrays and scalars (several)."""
    if isinstance(layout, Pack):
        return bool(layout.items) and all(isinstance(i, (Scalar, Array)) for i in layout.items)
    return isinstance(layout, (Vector, Array))


def into(layout: Layout, *, value: bool, accumulate: bool = False) -> Into:
    """The writing-into-``_out`` (or adding-into, ``accumulate``) form of a gradient layout
    (``value``: of a value-and-gradient layout, ``Pack((Scalar, gradients))``)."""
    if not value and _gradients(layout):
        return Into(None, layout, accumulate)  # type: ignore[arg-type]
    if value and isinstance(layout, Pack) and len(layout.items) == 2:
        scalar, vector = layout.items
        if isinstance(scalar, Scalar) and _gradients(vector):
            return Into(scalar, vector, accumulate)  # type: ignore[arg-type]
    raise ValueError("only gradients and (value, gradient) pairs can be written into an array")


def layout_values(layout: Layout) -> list[Value]:
    """Every value a layout returns, in order."""
    if isinstance(layout, (Scalar, Array)):
        return [layout.value]
    if isinstance(layout, Loop):
        return [layout.result]
    if isinstance(layout, Vector):
        return list(layout.values)
    if isinstance(layout, Matrix):
        return list(layout.entries.values())
    if isinstance(layout, Into):
        return [*(layout_values(layout.scalar) if layout.scalar else []), *layout_values(layout.vector)]
    return [v for item in layout.items for v in layout_values(item)]
