"""Parameter structures ("pytrees"): nested tuples, lists, dicts, NamedTuples and dataclasses of arrays.

A neural network's weights are a dict of arrays, a model's parameters a
NamedTuple; users should not flatten them by hand. :func:`flatten` turns a
structure into its *leaves* (numbers and arrays, in a fixed order) and a
hashable :class:`TreeDef` that :func:`unflatten` uses to rebuild the same
structure from new leaves (tracers while tracing, gradients afterwards).

Order: tuples, lists, NamedTuples and dataclasses by position; dicts by
sorted key (as JAX does), so two dicts with the same keys are one structure
whatever their insertion order. ``None`` is an empty structure (no leaves).
Anything else is a leaf.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TreeDef:
    """The shape of a structure without its leaves.

    ``kind``: ``"leaf"``, ``"none"``, ``"tuple"``, ``"list"``, ``"dict"``,
    ``"namedtuple"`` or ``"dataclass"``; ``node``: the class of a NamedTuple
    or dataclass (``None`` otherwise); ``keys``: a dict's sorted keys or a
    dataclass's field names; ``children``: the TreeDefs of the items.
    """

    kind: str
    children: tuple[TreeDef, ...] = ()
    keys: tuple[Any, ...] = ()
    node: type | None = None

    @property
    def is_leaf(self) -> bool:
        return self.kind == "leaf"

    @property
    def num_leaves(self) -> int:
        return 1 if self.kind == "leaf" else sum(c.num_leaves for c in self.children)

    def __str__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(
            f"{k!r}: {c}" if self.kind == "dict" else (f"{k}={c}" if self.keys else str(c))
            for k, c in zip(self.keys or [None] * len(self.children), self.children, strict=True)
        )
        if self.kind == "dict":
            return "{" + inner + "}"
        if self.kind == "list":
            return "[" + inner + "]"
        if self.node is not None:
            return f"{self.node.__name__}({inner})"
        return "(" + inner + ("," if len(self.children) == 1 else "") + ")"


LEAF = TreeDef("leaf")
NONE = TreeDef("none")


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _is_dataclass_instance(x: Any) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def is_structure(x: Any) -> bool:
    """Whether ``x`` is a container (not a leaf): what :func:`flatten` descends into."""
    return x is None or isinstance(x, (tuple, list, dict)) or _is_dataclass_instance(x)


def flatten(x: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any], TreeDef]:
    """The leaves of ``x`` in order and its :class:`TreeDef`; ``is_leaf`` may stop the descent early."""
    leaves: list[Any] = []
    return leaves, _flatten(x, leaves, is_leaf)


def _flatten(x: Any, leaves: list[Any], is_leaf: Callable[[Any], bool] | None) -> TreeDef:  # noqa: PLR0911
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return LEAF
    if x is None:
        return NONE
    if _is_namedtuple(x):
        children = tuple(_flatten(v, leaves, is_leaf) for v in x)
        return TreeDef("namedtuple", children, tuple(type(x)._fields), type(x))
    if isinstance(x, (tuple, list)):
        children = tuple(_flatten(v, leaves, is_leaf) for v in x)
        return TreeDef("tuple" if isinstance(x, tuple) else "list", children)
    if isinstance(x, dict):
        try:
            keys = tuple(sorted(x))
        except TypeError:  # keys of mixed types: their insertion order
            keys = tuple(x)
        children = tuple(_flatten(x[k], leaves, is_leaf) for k in keys)
        return TreeDef("dict", children, keys)
    if _is_dataclass_instance(x):
        names = tuple(f.name for f in dataclasses.fields(x) if f.init)
        children = tuple(_flatten(getattr(x, n), leaves, is_leaf) for n in names)
        return TreeDef("dataclass", children, names, type(x))
    leaves.append(x)
    return LEAF


def unflatten(tree: TreeDef, leaves: list[Any] | Iterator[Any]) -> Any:
    """The structure ``tree`` with ``leaves`` in place of its leaves (in order)."""
    it = iter(leaves)
    out = _unflatten(tree, it)
    rest = next(it, _END)
    if rest is not _END:
        raise ValueError(f"too many leaves for the structure {tree}")
    return out


_END = object()


def _unflatten(tree: TreeDef, it: Iterator[Any]) -> Any:  # noqa: PLR0911
    if tree.kind == "leaf":
        value = next(it, _END)
        if value is _END:
            raise ValueError("too few leaves for the structure")
        return value
    if tree.kind == "none":
        return None
    items = [_unflatten(c, it) for c in tree.children]
    if tree.kind == "tuple":
        return tuple(items)
    if tree.kind == "list":
        return items
    if tree.kind == "dict":
        return dict(zip(tree.keys, items, strict=True))
    assert tree.node is not None
    if tree.kind == "namedtuple":
        return tree.node(*items)
    return tree.node(**dict(zip(tree.keys, items, strict=True)))


def leaf_paths(tree: TreeDef, prefix: str) -> list[str]:
    """A readable name per leaf: ``params.W1``, ``layers[0].b`` (argument names of generated code)."""
    out: list[str] = []

    def walk(t: TreeDef, path: str) -> None:
        if t.kind == "leaf":
            out.append(path)
        elif t.kind in ("tuple", "list"):
            for i, c in enumerate(t.children):
                walk(c, f"{path}[{i}]")
        elif t.kind == "dict":
            for k, c in zip(t.keys, t.children, strict=True):
                walk(c, f"{path}[{k!r}]")
        elif t.kind in ("namedtuple", "dataclass"):
            for k, c in zip(t.keys, t.children, strict=True):
                walk(c, f"{path}.{k}")

    walk(tree, prefix)
    return out


# -- vectors of structures: what optimizers work on -----------------------------------------------


@dataclass(frozen=True)
class Unravel:
    """Rebuilds a structure from the 1-D vector :func:`ravel` made of it."""

    tree: TreeDef
    shapes: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        return sum(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

    def __call__(self, vector: Any) -> Any:
        leaves, offset = [], 0
        for shape in self.shapes:
            n = int(np.prod(shape, dtype=np.int64))
            piece = vector[offset : offset + n]
            leaves.append(piece.reshape(shape) if shape else piece[0])
            offset += n
        return unflatten(self.tree, leaves)


def vector_like(x: Any) -> bool:
    """A vector of parameters (an array, a number, or a list of numbers); False for a structure of arrays."""
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, (list, tuple)) and not hasattr(type(x), "_fields"):
        return all(isinstance(v, (int, float, np.integer, np.floating)) for v in x)
    return not is_structure(x)


def ravel(x: Any) -> tuple[np.ndarray, Unravel]:
    """``x`` (a structure of numbers and float arrays) as one float64 vector, and the function that undoes it.

    ``unravel(vector)`` works on NumPy arrays and on traced vectors alike, so a
    function of the structure becomes a function of one vector:
    ``lambda v, *data: loss(unravel(v), *data)``.
    """
    leaves, tree = flatten(x)
    arrays = [np.asarray(leaf, dtype=np.float64) for leaf in leaves]
    shapes = tuple(a.shape for a in arrays)
    vector = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    return vector, Unravel(tree, shapes)
