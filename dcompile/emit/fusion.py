"""Loop fusion: elementwise array statements of one shape become one loop.

Printed one NumPy statement per equation, the gradient of the extended
Rosenbrock function allocates a dozen temporary arrays and passes over memory
a dozen times; hand-written numba does one loop. So the emitter groups
consecutive equations that work entry by entry over the same iteration shape
(elementwise operations, broadcasts, 1-D slices, full sums, and the scatters
of reverse mode) into a *cluster*, printed as one loop nest in which each
value is a scalar local. A value is written to an array only when something
outside the loop reads it; a full sum is an accumulator; the adjoint of a
slice adds into its array at the shifted index.

A statement that does not depend on the open cluster (a matrix product, a
scalar) is hoisted before the loop so that it does not split the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dcompile.ir.graph import Eqn, Value


@dataclass
class Cluster:
    """Equations (by index) fused into one loop nest over ``shape``."""

    shape: tuple[int, ...]
    members: list[int] = field(default_factory=list)
    values: set[Value] = field(default_factory=set)
    finals: set[Value] = field(default_factory=set)  # sums and scatters: complete only after the loop
    after: set[Value] = field(default_factory=set)  # statements moved after the loop (see plan)


Item = int | Cluster  # a plain statement (equation index) or a loop


def fusion_kind(e: Eqn, inplace: set[Eqn]) -> str | None:
    """How ``e`` takes part in a loop, or ``None``.

    ``map`` (elementwise), ``identity`` (a broadcast), ``outer``, ``slice``
    (a 1-D slice read at a shifted index), ``transpose`` (a read at permuted
    indices), ``mask`` (``tril``/``triu``: the entry or 0 by its indices),
    ``eye`` (``np.eye``: 1 or 0 by its indices), ``sum`` (an accumulator),
    ``sum_axes`` (a partial sum accumulated into an array), ``scatter`` and
    ``scatter_add`` (a slice adjoint added at a shifted index), ``dot`` (the
    scalar product of two vectors of at most ``DOT_LOOP_MAX`` entries,
    accumulated like a sum).
    """
    p = e.prim
    kind = "map" if p.elementwise else p.fusion
    if p.name == "matmul" and all(v.type.rank == 1 for v in e.inputs) and e.inputs[0].type.shape[0] <= DOT_LOOP_MAX:
        return "dot"  # a short scalar product: a loop beats a BLAS call
    if p.literal or kind is None:
        return None
    if kind in ("slice", "scatter", "scatter_add"):
        index = e.kwargs["index"]
        one_slice = len(index) == 1 and not isinstance(index[0], int)
        ok = one_slice and e.inputs[0 if kind == "slice" else -1].type.rank == 1 and e.inputs[0].type.rank == 1
        ok = ok and (kind != "scatter_add" or e in inplace)
    elif kind == "sum":
        ok = e.inputs[0].type.rank > 0
        if len(e.kwargs["axes"]) < e.inputs[0].type.rank:
            kind = "sum_axes"
    elif kind in ("mask", "transpose"):  # tril/triu of the last two axes; a transposed read
        ok = e.out.type.rank >= 2
    elif kind == "eye":  # np.eye: an entry from its indices
        ok = e.kwargs.get("kind") == "eye"
    else:  # map, identity, outer: entry by entry over the output
        ok = e.out.type.rank > 0
    return kind if ok else None


# Kinds that only read another array (views): a loop of nothing but these stays statements.
VIEW_KINDS = ("slice", "identity", "transpose")
# Kinds whose value is complete only after the loop: nothing in the loop reads them.
FINAL_KINDS = ("sum", "sum_axes", "scatter", "scatter_add", "dot")
# Scalar products up to this length are loops (fused with their operands): calling BLAS's
# ddot costs more than the arithmetic (measured: a per-sample logistic loss with d = 20
# in a row loop, 1.18 -> 0.70 ms per 10^4 rows); longer ones stay np.dot.
DOT_LOOP_MAX = 128


def loop_shape(e: Eqn, kind: str) -> tuple[int, ...]:
    """The iteration shape of a fusable equation."""
    if kind in ("sum", "sum_axes", "dot"):
        return e.inputs[0].type.shape
    if kind in ("scatter", "scatter_add"):
        return e.inputs[-1].type.shape
    return e.out.type.shape


def plan(
    eqns: Sequence[Eqn],
    order: Sequence[int],
    kind_of: Callable[[Eqn], str | None],
    movable: Callable[[int], bool] = lambda i: True,
) -> list[Item]:
    """Group the equations ``order`` (indices into ``eqns``, topologically sorted) into loops.

    Greedy and order-preserving, except that a statement independent of the
    open cluster is moved before it, and one that needs the cluster's results
    (a sum's use, a scalar step between the forward and the reverse sweep) is
    moved after it, so that later work of the same shape still joins the
    loop. Moving before needs ``movable`` (a statement that carries display
    aliases stays where they make sense); moving after is always right.
    Work that needs a moved-after statement closes the loop.
    """
    items: list[Item] = []
    hoisted: list[int] = []
    deferred: list[int] = []
    waiting: set[Value] = set()  # the values of the deferred statements
    cur: Cluster | None = None

    def close() -> None:
        nonlocal cur
        items.extend(hoisted)
        hoisted.clear()
        if cur is not None:
            items.append(cur)
            cur.after.update(eqns[i].out for i in deferred)
        cur = None
        items.extend(deferred)
        deferred.clear()
        waiting.clear()

    for i in order:
        e = eqns[i]
        kind = kind_of(e)
        if kind is not None:
            shape = loop_shape(e, kind)
            # A scatter may keep adding into its array; nothing else reads a sum or scatter mid-loop.
            if cur is None or shape != cur.shape or not _joins(e, kind, cur) or any(v in waiting for v in e.inputs):
                close()
                cur = Cluster(shape)
            cur.members.append(i)
            cur.values.add(e.out)
            if kind in FINAL_KINDS:
                cur.finals.add(e.out)
        elif cur is not None and movable(i) and not any(v in cur.values or v in waiting for v in e.inputs):
            hoisted.append(i)
        elif cur is not None:
            # Everything a statement's display aliases name is computed by the time it runs
            # after the loop, so moving it later is always right.
            deferred.append(i)
            waiting.add(e.out)
        else:
            close()
            items.append(i)
    close()
    return _finish(items, eqns, kind_of)


def _joins(e: Eqn, kind: str, cur: Cluster) -> bool:
    """Whether ``e`` may join the open cluster ``cur`` (of its shape).

    Nothing reads a sum or a scatter before the loop ends; a slice reads its
    input at other entries, so the input must be complete; a scatter adds
    into other entries of its array, which is only right for an array other
    scatters of this loop fill (zeroed before it) or one made before the loop.
    """
    if kind in ("slice", "transpose"):  # reads its input at other entries: it must be complete
        return e.inputs[0] not in cur.values
    if kind == "scatter_add":
        acc, g = e.inputs
        return (acc not in cur.values or acc in cur.finals) and g not in cur.finals
    return not any(v in cur.finals for v in e.inputs)


def _finish(items: list[Item], eqns: Sequence[Eqn], kind_of: Callable[[Eqn], str | None]) -> list[Item]:
    """Clusters with no arithmetic (only views) stay plain statements: a view costs nothing."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Cluster) and all(kind_of(eqns[i]) in VIEW_KINDS for i in item.members):
            out.extend(item.members)
        else:
            out.append(item)
    return out


LOOP_VARS = ("i", "j", "k", "l", "m")


def read_index(shape: tuple[int, ...], loop: tuple[int, ...], names: Sequence[str]) -> str:
    """The subscript reading an array of ``shape`` at the current entry of a loop over ``loop`` (broadcasting)."""
    offset = len(loop) - len(shape)
    parts = ["0" if n == 1 and loop[offset + k] != 1 else names[offset + k] for k, n in enumerate(shape)]
    return ", ".join(parts)


def shifted(item: tuple[int, int, int], var: str) -> str:
    """``start + step * var`` as short source: the entry a slice reads at loop index ``var``."""
    start, _, step = item
    term = var if step == 1 else f"{-step} * {var}" if step < 0 else f"{step} * {var}"
    if step < 0:
        return f"{start} - {term}" if step != -1 else f"{start} - {var}"
    return term if start == 0 else f"{start} + {term}"
