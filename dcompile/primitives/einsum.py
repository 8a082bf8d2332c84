"""``np.einsum`` on tracers: any subscripts, lowered to diagonals, sums, products and matrix products.

The operands are contracted two at a time in the order ``np.einsum_path``
chooses (``greedy``, from the static shapes). A pair is put in the form
``(batch, free, contracted) x (batch, contracted, free)``: with no batch axes
that is one matrix product (BLAS), with batch axes a stack of them, and
with nothing free on either side an elementwise product and a sum (a
row-wise dot product is not a loop of 1 x 1 matrix products). Repeated
labels in one operand take a diagonal; labels that appear once and not in
the output are summed first. Everything is made of primitives, so every
derivative mode works with no rule of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import Tracer
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives import numpy_api as N
from dcompile.primitives.spellings import implements

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str]:
    """Input label strings and the output labels, with ``...`` expanded to fresh letters."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        lhs, out = spec.split("->")
    else:
        lhs, out = spec, None
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise trace_error(f"einsum subscripts {subscripts!r} name {len(ins)} operands, got {len(shapes)}.", "fix them")
    used = set(spec) - set(".,->")
    spare = [c for c in _LETTERS if c not in used]
    ell_rank = max((len(s) - (len(t) - 3) for t, s in zip(ins, shapes, strict=True) if "..." in t), default=0)
    ell = "".join(spare[:ell_rank])
    expanded = []
    for spec_in, shape in zip(ins, shapes, strict=True):
        t = spec_in
        if "..." in t:
            k = len(shape) - (len(t) - 3)
            t = t.replace("...", ell[ell_rank - k :])
        if len(t) != len(shape):
            raise trace_error(f"einsum operand {t!r} has {len(shape)} axes, the subscripts name {len(t)}.", "fix them")
        expanded.append(t)
    if out is None:
        counts: dict[str, int] = {}
        for t in expanded:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return expanded, out


def _diagonals(x: Tracer, labels: str) -> tuple[Tracer, str]:
    """Repeated labels of one operand: take the diagonal (the label keeps one axis, moved last)."""
    while True:
        repeated = next((c for c in labels if labels.count(c) > 1), None)
        if repeated is None:
            return x, labels
        i = labels.index(repeated)
        j = labels.index(repeated, i + 1)
        x = N.diagonal(x, 0, i, j)
        labels = "".join(c for k, c in enumerate(labels) if k not in (i, j)) + repeated


def _sum_out(x: Tracer, labels: str, keep: set[str]) -> tuple[Tracer, str]:
    axes = tuple(k for k, c in enumerate(labels) if c not in keep)
    if not axes:
        return x, labels
    return A.total(x, axes, False), "".join(c for c in labels if c in keep)


def _transpose_to(x: Tracer, labels: str, order: str) -> Tracer:
    perm = tuple(labels.index(c) for c in order)
    return A.transpose(x, perm) if perm != tuple(range(len(perm))) else x


def _pair(a: Tracer, la: str, b: Tracer, lb: str, keep: set[str]) -> tuple[Tracer, str]:
    """Contract two operands, keeping the labels in ``keep`` (needed later or in the output)."""
    batch = [c for c in la if c in lb and c in keep]
    contracted = [c for c in la if c in lb and c not in keep]
    free_a = [c for c in la if c not in lb]
    free_b = [c for c in lb if c not in la]
    size = dict(zip(la, a.shape, strict=True)) | dict(zip(lb, b.shape, strict=True))
    if not contracted or (not free_a and not free_b):
        # A broadcast product (and a sum over the contracted labels): no matrix product to form.
        order = batch + free_a + free_b + contracted
        ea = _transpose_to(a, la, "".join(c for c in order if c in la))
        eb = _transpose_to(b, lb, "".join(c for c in order if c in lb))
        ea = A.reshape(ea, tuple(size[c] if c in la else 1 for c in order))
        eb = A.reshape(eb, tuple(size[c] if c in lb else 1 for c in order))
        prod = E.mul(ea, eb)
        if contracted:
            prod = A.total(prod, tuple(range(len(order) - len(contracted), len(order))), False)
        return prod, "".join(batch + free_a + free_b)
    nb = int(np.prod([size[c] for c in batch], dtype=np.int64))
    nfa = int(np.prod([size[c] for c in free_a], dtype=np.int64))
    nfb = int(np.prod([size[c] for c in free_b], dtype=np.int64))
    nc = int(np.prod([size[c] for c in contracted], dtype=np.int64))
    ma = _transpose_to(a, la, "".join(batch + free_a + contracted))
    mb = _transpose_to(b, lb, "".join(batch + contracted + free_b))
    if batch:
        prod = A.matmul(A.reshape(ma, (nb, nfa, nc)), A.reshape(mb, (nb, nc, nfb)))
    else:
        prod = A.matmul(A.reshape(ma, (nfa, nc)), A.reshape(mb, (nc, nfb)))
    labels = "".join(batch + free_a + free_b)
    return A.reshape(prod, tuple(size[c] for c in labels)), labels


@implements("numpy.einsum")
def einsum(subscripts: Any, *operands: Any, out: Any = None, optimize: Any = "greedy", **kwargs: Any) -> Any:
    """``np.einsum`` with string subscripts (``'ij,jk->ik'``, ``'...ij,...j'``, ``'ii->'``)."""
    E._no_out(out)
    if not isinstance(subscripts, str):
        raise trace_error("einsum in the interleaved (operand, axes) form.", "pass the subscripts as a string",
                          UnsupportedError)  # fmt: skip
    ts = N._lift_all(list(operands))
    ts = [E.astype(t, "float64") if t.type.dtype.value != "float64" else t for t in ts]
    labels, output = _parse(subscripts, [t.shape for t in ts])
    items = []
    for t, lab in zip(ts, labels, strict=True):
        items.append(_diagonals(t, lab))
    # Contraction order from NumPy's own planner (shapes only).
    if len(items) > 2:
        dummies = [np.broadcast_to(np.zeros((), dtype=np.float64), t.shape) for t, _ in items]
        spec = ",".join(lab for _, lab in items) + "->" + output
        path = np.einsum_path(
            spec, *dummies, optimize="greedy" if optimize in (True, "greedy", "optimal") else optimize
        )[0][1:]
    else:
        path = [tuple(range(len(items)))]
    for pair in path:
        step = tuple(sorted(pair, reverse=True))
        chosen = [items.pop(k) for k in step]
        rest_labels = set(output).union(*(set(lab) for _, lab in items))
        if len(chosen) == 1:
            (x, lab) = chosen[0]
            items.append(_sum_out(x, lab, rest_labels))
            continue
        (a, la), (b, lb) = chosen[-1], chosen[-2]
        keep = rest_labels | {c for _, lab in chosen[:-2] for c in lab}
        a, la = _sum_out(a, la, keep | set(lb))
        b, lb = _sum_out(b, lb, keep | set(la))
        x, lab = _pair(a, la, b, lb, keep)
        for c, lc in reversed(chosen[:-2]):  # more than two in one step: fold them in
            x, lab = _pair(x, lab, c, lc, keep)
        items.append((x, lab))
    x, lab = items[0]
    x, lab = _sum_out(x, lab, set(output))
    if set(lab) != set(output):
        raise trace_error(f"einsum output {output!r} names a label no operand has.", "fix the subscripts")
    return _transpose_to(x, lab, output)
