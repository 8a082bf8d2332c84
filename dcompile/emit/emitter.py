"""The emitter: print a graph as a readable Python module.

One statement per equation, in graph order. Constants are printed as exact
literals; an unnamed temporary used exactly once is inlined into its consumer
(with the parentheses its precedence needs), so ``f = (x1 + w1)**2 * (...)``
stays one line. Display blocks become comments quoting the primal statement
an adjoint block differentiates, and alias lines such as ``df_dd = e`` record
a derivative that needed no new code.

The body is built as statement records (:mod:`dcompile.emit.records`: each
statement's lines with the names it reads and writes, tracked as expressions
are printed), whose lines are the text; a long body is split on the records
(:mod:`dcompile.emit.chunking`), never by reading the text back.

The module depends on numpy (and on :mod:`dcompile.runtime` for special
functions and vector math); the backend decides whether the function runs as
Python or under ``numba.njit``.

Vector math (``vector_math=True``, the default; ``DCOMPILE_VECTOR_MATH=0``
turns it off): inside fused loops, the transcendental functions that have a
:mod:`dcompile.runtime.vecmath` twin (``Primitive.vector``) are printed as
``vm.exp(t)`` instead of ``np.exp(t)``, and scalar reductions as
``s = vm.add(s, term)`` instead of ``s += term``. numba's ``np.exp`` on a
float is an opaque libm call and a strict ``+=`` chain cannot be reordered,
so either keeps LLVM from vectorising the loop; the vecmath functions are
branch-free code LLVM inlines and vectorises, and ``vm.add`` carries the
``reassoc`` flag that lets the loop vectoriser keep several partial sums.
The price is a documented ulp bound instead of libm's last-bit accuracy, and
sums whose rounding depends on the vector width LLVM picks for the CPU
(deterministic on one machine; see docs/design.md).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dcompile.emit.chunking import LoopPieces, from_text, split_body, split_loop, store_lines
from dcompile.emit.fusion import FINAL_KINDS, LOOP_VARS, Cluster, Item, fusion_kind, plan, read_index, shifted
from dcompile.emit.records import Assign, Elem, Kind, Op, Part, Stmt, Tree, comment, negated, nest, text
from dcompile.ir.graph import Block, Eqn, Graph, Value
from dcompile.ir.layout import Array, Into, Layout, Loop, Matrix, Pack, Scalar, Vector, layout_values
from dcompile.ir.literals import format_array, format_literal
from dcompile.ir.naming import Namer
from dcompile.ir.primitive import PREC_ADD, PREC_ATOM, PREC_CMP, PREC_MUL, PREC_TERNARY
from dcompile.ir.types import DType, VType
from dcompile.version import __version__

INDENT = "    "
VM_MODULE = "from dcompile.runtime import vecmath as vm"
VECTOR_MATH_ENV = "DCOMPILE_VECTOR_MATH"
# Elementwise primitives without a vecmath twin whose loop code LLVM still vectorises: arithmetic,
# comparisons, selects and the operations numba lowers to LLVM intrinsics (sqrt, floor, fabs, ...).
# Any other elementwise primitive in a loop (a libm or C call) keeps the loop scalar: see _vectorises.
VECTORISABLE = frozenset(
    {
        *("add", "sub", "mul", "div", "neg", "integer_pow", "abs", "sqrt", "sign", "signbit", "copysign"),
        *("floor", "ceil", "trunc", "rint", "maximum", "minimum", "fmax", "fmin", "select", "astype"),
        *("eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite"),
        *("logical_and", "logical_or", "logical_not", "logical_xor"),
    }
)
_VIEW_KINDS: frozenset[str | None] = frozenset({"slice", "transpose"})  # fusion kinds whose arrays are views
# Up to this many entries a vector is returned as np.array([a, b, ...]) (easy to
# read); longer ones are filled into np.empty (numba would build a list first).
LIST_LIMIT = 8
MAX_INLINE_DEPTH = 12
# At most this many carried scalars when a loop's scatters at offsets low..low + MAX_SPREAD are
# written once per entry (_Printer._write_once); a wider stencil keeps its read-modify-writes.
MAX_SPREAD = 4
# Primitives whose template prints ``target = x.copy()`` (unless in place) and one store ``target[...] op= v``.
_UPDATES = frozenset({"set_index", "pad_add"})
_SCALAR = VType((), DType.F64)
# Operation trees (records.Op) of the primitives whose template on float scalars is one operator or one
# call ``np.<name>(...)`` of the NumPy ufunc of that name (tests/test_chunking.py checks the templates).
_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "neg": "neg"}
_UFUNCS = frozenset(
    {
        *("exp", "log", "log1p", "expm1", "sqrt", "cbrt", "exp2", "log2", "log10", "logaddexp", "logaddexp2"),
        *("sin", "cos", "tan", "arcsin", "arccos", "arctan", "hypot", "arctan2"),
        *("sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh"),
        *("abs", "sign", "maximum", "minimum", "fmax", "fmin", "copysign"),
        *("floor", "ceil", "trunc", "rint", "mod", "fmod", "floor_divide"),
    }
)


@functools.cache
def vm_import() -> str:
    """The import line of the vector-math module, with a digest of its kernels' source.

    numba's disk cache keys a generated module on its own text, and the kernels are compiled
    into it: a change to them must change the text, or numba would load machine code built
    from the old kernels.
    """
    runtime = Path(__file__).resolve().parent.parent / "runtime"
    h = hashlib.sha256()
    for path in sorted(runtime.glob("vecmath*.py")):
        h.update(path.read_bytes())
    return f"{VM_MODULE}  # kernels {h.hexdigest()[:12]}"


def vector_math_default() -> bool:
    """Whether fused loops use vector math unless told otherwise: ``DCOMPILE_VECTOR_MATH`` is not ``0``/``off``."""
    return os.environ.get(VECTOR_MATH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Emitted:
    """A generated module: its source, the name of its function and of the part functions it calls.

    ``parts`` is empty unless a long body was split (see :mod:`dcompile.emit.chunking`);
    the backend compiles the parts with numba before the function. ``hot`` names
    the parts that run once per iteration of a loop (the body of a long
    Jacobian or Hessian loop), which LLVM optimises; the others run once.
    """

    source: str
    function: str
    parts: tuple[str, ...] = ()
    hot: tuple[str, ...] = ()
    # The parts that are plain float code, as operation trees (records.Part): lowered to LLVM
    # from these, not from the text. Empty when the module comes from the program cache.
    plans: tuple[Part, ...] = field(default=(), compare=False, repr=False)


@dataclass
class ModuleParts:
    """What nested emissions (a loop body, see dcompile.loops) add to the module being generated:
    functions after the main one (compiled before it, like the parts of a split body), array
    constants and import lines. Names are unique across the module."""

    functions: list[tuple[str, list[str]]] = field(default_factory=list)
    plans: list[Part] = field(default_factory=list)
    globals: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)
    vector_math: bool = True  # fused loops call dcompile.runtime.vecmath (see the module doc)

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}{k}", k + 1
        self.taken.add(name)
        return name


class _Printer:
    def __init__(
        self,
        graph: Graph,
        layout: Layout,
        *,
        fuse: bool = True,
        module: ModuleParts | None = None,
    ) -> None:
        self.graph = graph
        self.layout = layout
        self.namer = Namer(dict(graph.hints))
        self._reads: list[str] = []  # names the expressions printed since the last _take() read
        self.module = module if module is not None else ModuleParts()
        self._cluster_vectorises: dict[int, bool] = {}  # by id of the Cluster (see _vectorises)
        self.consts = {e.out: e.kwargs["value"] for e in graph.eqns if e.prim.literal}
        # Array constants are module globals (numba freezes them into the machine code).
        self.globals: dict[Value, str] = {}
        for e in graph.eqns:
            if e.prim.literal and isinstance(e.kwargs["value"], np.ndarray):
                self.globals[e.out] = self.namer.fresh(self.module.fresh(f"_c{len(self.globals)}"))
        self.producer = {e.out: e for e in graph.eqns}
        uses: Counter[Value] = Counter(v for e in graph.eqns for v in e.inputs)
        uses.update(layout_values(layout))
        shown = _shown(graph)
        pinned = set(shown)
        # In a loop over directions, what does not depend on the direction is
        # computed once before the loop: never inline it into the loop body.
        self.variant = _dependents(graph, layout.direction) if isinstance(layout, Loop) else set()
        self.kinds: dict[Eqn, str | None] = {}  # how each equation joins a fused loop (set by _plan_loops)
        self.written: set[Value] = set()  # loop values also stored in an array (set by _plan_loops)
        for e in graph.eqns:
            if e.out in self.variant:
                pinned.update(v for v in e.inputs if v not in self.variant)
            if e.prim.emit_lines is not None:
                pinned.add(e.out)
        # An array a display comment quotes may still be updated in place (the comment then reads
        # `r = r with [1] = t3`); one an alias line or the signature names may not.
        named = set(graph.inputs) | set(graph.outputs) | {v for b in graph.blocks for _, v in b.aliases}
        self.inplace = self._in_place(uses, named)
        pinned.update(e.inputs[0] for e in self.inplace)
        pinned.update(self.read_before_update)
        self.inlined = self._inlinable(uses, pinned)
        self._plan_loops(fuse, layout, shown)
        # An Into layout's gradient arrays, built in the caller's buffers (see _built_in_out):
        # the values of every such chain, and the first of each (its statement fills the buffer).
        self.adding = isinstance(layout, Into) and layout.accumulate
        self.buffers = _buffer_names(layout)
        self.namer.reserve(*self.buffers)
        chains = self._chains_in_out(layout)
        self.in_out = frozenset(v for chain in chains.values() for v in chain)
        self.out_roots = frozenset(chain[0] for chain in chains.values())
        for buffer, chain in chains.items():
            self.namer.bind(chain[-1], buffer)  # the in-place chain shares it (below)
            self.inlined.discard(chain[0])  # its statement fills the buffer: never an expression
        for v in graph.inputs:
            self.namer(v)
        for e in reversed(graph.eqns):  # an updated array takes the name of its last update
            if e in self.inplace:
                self.namer.share(e.inputs[0], e.out)
        for e in graph.eqns:
            if e.out not in self.consts and e.out not in self.inlined:
                self.namer(e.out)
        self.loop_vars = [self.namer.fresh(v) for v in LOOP_VARS]

    # -- fused loops (see emit/fusion.py) ---------------------------------------
    def _plan_loops(self, fuse: bool, layout: Layout, shown: set[Value]) -> None:
        """Group equations into loops; decide what each loop writes out and what is inlined."""
        eqns = self.graph.eqns
        if fuse:
            self.kinds = {e: fusion_kind(e, self.inplace) for e in eqns}
        parts: list[bool | None] = [False, True] if isinstance(layout, Loop) else [None]
        self.orders = {
            part: [i for i, e in enumerate(eqns) if not e.prim.literal and (part is None or self.is_variant(i) == part)]
            for part in parts
        }
        self.attach = {part: self._attach(part) for part in parts}
        self.plans: dict[bool | None, list[Item]] = {
            part: plan(
                eqns,
                order,
                self.kinds.get,
                # in-place updates keep their place: a read of the old array must not move past them
                lambda i, a=self.attach[part][0]: not _aliased(a.get(i, ())) and eqns[i] not in self.inplace,
            )
            for part, order in self.orders.items()
        }
        for part, items in self.plans.items():
            _keep_comments_in_place(items, self.orders[part], *self.attach[part])
        # Values that live only inside a loop (as scalar locals), unless stored: see _available.
        self.loop_locals = {
            v for items in self.plans.values() for c in items if isinstance(c, Cluster) for v in c.values
        }
        consumers: dict[Value, list[int]] = defaultdict(list)
        for i, e in enumerate(eqns):
            for v in e.inputs:
                consumers[v].append(i)
        returned = set(layout_values(layout)) | set(self.graph.outputs)
        for items in self.plans.values():
            for c in (item for item in items if isinstance(item, Cluster)):
                members = set(c.members)
                for i in c.members:
                    e = eqns[i]
                    outside = any(j not in members for j in consumers[e.out]) or e.out in returned
                    if self.kinds[e] in FINAL_KINDS:
                        self.inlined.discard(e.out)
                    elif outside or (e.out in shown and e.out not in self.graph.hints):
                        self.written.add(e.out)
                        self.inlined.discard(e.out)
                    for v in e.inputs:
                        if v not in c.values:
                            self.inlined.discard(v)  # computed once, before the loop

    def cluster(self, c: Cluster, attach: dict[int, list[Block]]) -> list[Stmt]:
        """The loop nest of a cluster, with the arrays it fills declared before it (and completed after it)."""
        names = self.loop_vars[: len(c.shape)]
        pre: list[Stmt] = []
        inner: list[Stmt] = []
        post: list[Stmt] = []
        once = self._write_once(c)
        for i in c.members:
            e = self.graph.eqns[i]
            inner += self.blocks(attach.get(i, ()), c)
            if e in once:
                self._scatter_once(e, once[e], c, var=names[0], pre=pre, inner=inner, post=post)
            elif e.out not in self.inlined:
                self._member(e, c, names, pre, inner)
        header = [
            f"{INDENT * k}for {var} in range({n}):" for k, (var, n) in enumerate(zip(names, c.shape, strict=True))
        ]
        depth = INDENT * len(names)
        return [*pre, nest([*header, *(f"{depth}{line}" for line in text(inner))], inner, bound=names), *post]

    # -- scatters at constant offsets, written once (see _write_once) --------------
    def _write_once(self, c: Cluster) -> dict[Eqn, _Scatters]:
        """The scatters of ``c`` that fill a fresh array at constant offsets, by member: written once per entry.

        Reverse mode turns the slices ``x[1:]`` and ``x[:-1]`` of a stencil into
        ``g = np.zeros(n)`` and, in the loop, ``g[1 + i] += a`` and ``g[i] += b``:
        read-modify-writes of entries the next iteration writes again, a
        loop-carried memory dependence that keeps LLVM from vectorising the
        loop, after a pass zeroing ``g``. When one loop (1-D, step 1) makes the
        array from zeros and adds every update into it at offsets ``s`` in
        ``[low, low + spread]``, entry ``low + i`` is complete at iteration ``i``
        (its later offsets came in earlier iterations): ``spread`` scalars carry
        the partial entries ``low + i + 1 ...``, and each entry is stored once,
        ``g[i] = carry + b; carry = a``. The additions keep the old order, so
        the result is bitwise the old one except that ``0.0 + a`` (the old first
        addition) is ``a``, which differs only for ``a = -0.0``. Not when adding
        into ``_out`` (its old entries are part of the sum), nor for more than
        :data:`MAX_SPREAD` carries.
        """
        if len(c.shape) != 1:
            return {}
        members = [self.graph.eqns[i] for i in c.members]
        out: dict[Eqn, _Scatters] = {}
        for root in members:
            if self.kinds.get(root) != "scatter" or root.out.type.dtype is not DType.F64:
                continue
            if self.adding and root.out in self.in_out:
                continue
            group = [root]
            for e in members:  # the in-place updates of the array, in loop order
                if self.kinds.get(e) == "scatter_add" and e.inputs[0] is group[-1].out:
                    group.append(e)
            starts = []
            for e in group:
                start, _, step = e.kwargs["index"][0]
                if step != 1 or type(start) is not int or start < 0:
                    break
                starts.append(start)
            else:
                low, spread = min(starts), max(starts) - min(starts)
                if spread <= MAX_SPREAD:
                    plan = _Scatters(group, low, spread, [[] for _ in range(spread + 1)])
                    out.update(dict.fromkeys(group, plan))
        return out

    def _scatter_once(
        self, e: Eqn, plan: _Scatters, c: Cluster, *, var: str, pre: list[Stmt], inner: list[Stmt], post: list[Stmt]
    ) -> None:
        """One scatter of a write-once group (see :meth:`_write_once`): its term, and at the last one the stores."""
        name = self.namer(e.out)
        n, m = e.out.type.shape[0], c.shape[0]
        self._reads = []
        if e is plan.group[0]:  # the array, the entries no iteration writes, the carries
            if e.out not in self.in_out:
                pre.append(Stmt((f"{name} = np.empty({n})",), (), frozenset({name}), Kind.ALLOCATION))
            high = plan.low + plan.spread + m  # the first entry past the last one written
            for part, untouched in ((f":{plan.low}", plan.low > 0), (f"{high}:", high < n)):
                if untouched:
                    pre.append(Stmt((f"{name}[{part}] = 0.0",), (name,), kind=Kind.STORE))
            plan.carries = [self.namer.fresh("carry") for _ in range(plan.spread)]
            for carry in plan.carries:
                pre.append(Stmt((f"{carry} = 0.0",), (), frozenset({carry})))
        src, prec = self.loop_expr(e.inputs[-1], c)
        plan.terms[e.kwargs["index"][0][0] - plan.low].append((src, prec, self._take()))
        if e is not plan.group[-1]:
            return

        def total(first: str | None, terms: list[tuple[str, int, tuple[str, ...]]]) -> tuple[str, tuple[str, ...]]:
            """``first + t0 + t1 ...`` as printed (left to right, the old order), with the names it reads."""
            parts = [] if first is None else [first]
            parts += [f"({t})" if parts and p <= PREC_ADD else t for t, p, _ in terms]
            reads = tuple(r for _, _, rs in terms for r in rs)
            return " + ".join(parts) or "0.0", (*([first] if first else []), *reads)

        carries = plan.carries
        at = var if plan.low == 0 else f"{plan.low} + {var}"
        value, reads = total(carries[0] if carries else None, plan.terms[0])
        inner.append(Stmt((f"{name}[{at}] = {value}",), (name, *dict.fromkeys(reads)), kind=Kind.STORE))
        for d, carry in enumerate(carries):  # carry d holds entry low + i + 1 + d: shift by one
            value, reads = total(carries[d + 1] if d + 1 < len(carries) else None, plan.terms[d + 1])
            inner.append(Stmt((f"{carry} = {value}",), tuple(dict.fromkeys(reads)), frozenset({carry})))
        for d, carry in enumerate(carries):  # the entries only earlier iterations added to
            post.append(Stmt((f"{name}[{plan.low + m + d}] = {carry}",), (name, carry), kind=Kind.STORE))

    def _member(self, e: Eqn, c: Cluster, names: list[str], pre: list[Stmt], inner: list[Stmt]) -> None:
        """The statements of one loop member: before the loop (``pre``) and in it (``inner``)."""
        kind = self.kinds[e]
        v = e.out
        name = self.namer(v)
        self._reads = []

        def alloc(line: str, zeros: bool = False) -> None:
            if v in self.in_out:  # the gradient is built in _out: no array of its own
                if zeros and not self.adding:
                    pre.append(Stmt((f"{name}[:] = 0.0",), (name,), kind=Kind.STORE))
                return
            pre.append(Stmt((line,), (), frozenset({name}), Kind.ALLOCATION))

        def update(line: str, array: str = name) -> None:  # name += ..., name[...] op= ...: reads name first
            inner.append(Stmt((line,), (array, *self._take())))

        if kind in ("sum", "dot"):
            pre.append(Stmt((f"{name} = 0.0",), (), frozenset({name})))
            if kind == "sum":
                term = self.loop_expr(e.inputs[0], c)[0]
            else:
                a, b = (self.loop_expr(x, c)[0] for x in e.inputs)
                term = f"{a} * {b}"
            inner.append(Stmt((self._sum_line(c, name, term),), (name, *self._take()), frozenset({name})))
        elif kind == "sum_axes":
            kept = [var for k, var in enumerate(names) if k not in e.kwargs["axes"]]
            alloc(f"{name} = np.zeros({_shape(v.type.shape)})", zeros=True)
            entry = f"{name}[{', '.join(kept)}]"
            # Along the inner loop the sum is a reduction; otherwise the inner loop runs over its entries.
            update(self._sum_line(c, entry, self.loop_expr(e.inputs[0], c)[0], along=names[-1] not in kept))
        elif kind in ("scatter", "scatter_add"):
            if kind == "scatter":
                alloc(f"{name} = np.zeros({_shape(v.type.shape)})", zeros=True)
            at = shifted(e.kwargs["index"][0], names[0])
            update(f"{name}[{at}] += {self.loop_expr(e.inputs[-1], c)[0]}")
        elif v in self.written and kind in ("slice", "transpose"):
            line = f"{name} = {self.eqn_expr(e)[0]}"  # a view: free to keep as an array
            pre.append(Stmt((line,), self._take(), frozenset({name})))
        elif v in self.written:
            alloc(f"{name} = np.empty({_shape(v.type.shape)}{_dtype_arg(v.type)})")
            op = "+=" if v in self.in_out and self.adding else "="
            update(f"{name}[{', '.join(names)}] {op} {self.member_expr(e, c)[0]}")
        else:
            line = f"{name} = {self.member_expr(e, c)[0]}"
            inner.append(Stmt((line,), self._take(), frozenset({name})))

    def _sum_line(self, c: Cluster, target: str, term: str, along: bool = True) -> str:
        """``target += term`` in a loop; with vector math, a sum ``along`` the inner loop reassociates
        (``target = vm.add(target, term)``) so that the loop vectorises."""
        if along and self._vectorises(c):
            return f"{target} = {self._vm('add')}({target}, {term})"
        return f"{target} += {term}"

    def member_expr(self, e: Eqn, c: Cluster) -> tuple[str, int]:
        """One entry of a loop member, as a scalar expression."""
        kind = self.kinds[e]
        if kind == "identity":
            return self.loop_expr(e.inputs[0], c)
        if kind == "slice":
            src = self.expr(e.inputs[0])[0]
            return f"{src}[{shifted(e.kwargs['index'][0], self.loop_vars[0])}]", PREC_ATOM
        if kind == "outer":  # a[i] * b[j]
            a, b = (f"{self.expr(v)[0]}[{var}]" for v, var in zip(e.inputs, self.loop_vars, strict=False))
            return f"{a} * {b}", PREC_MUL
        if kind in ("transpose", "mask", "eye"):
            return self._indexed_member(e, kind, c)
        args = [self.loop_expr(v, c) for v in e.inputs]
        if e.prim.vector is not None and e.out.type.dtype is DType.F64 and self._vectorises(c):
            return f"{self._vm(e.prim.vector)}({', '.join(a for a, _ in args)})", PREC_ATOM
        return e.prim.emit(args, e.kwargs, [VType((), v.type.dtype) for v in e.inputs])

    def _vectorises(self, c: Cluster) -> bool:
        """Whether the loop of ``c`` uses vector math: it is on, and every member vectorises with it.

        One opaque call (a special function, ``np.tan``, ``np.cbrt``) keeps LLVM from
        vectorising the loop, and then the vecmath kernels, run one entry at a time, are slower
        than libm (measured ~1.4x on a scalar logistic row loop): such a loop keeps NumPy's
        functions and loop-order sums throughout.
        """
        if not self.module.vector_math:
            return False
        key = id(c)
        if key not in self._cluster_vectorises:
            eqns = [self.graph.eqns[i] for i in c.members]
            self._cluster_vectorises[key] = all(
                e.prim.vector is not None or e.prim.name in VECTORISABLE or not e.prim.elementwise for e in eqns
            )
        return self._cluster_vectorises[key]

    def _vm(self, function: str) -> str:
        """``vm.<function>``, the vector-math twin used in a fused loop; the module imports ``vm``."""
        self.module.imports.add(vm_import())
        return f"vm.{function}"

    def _indexed_member(self, e: Eqn, kind: str, c: Cluster) -> tuple[str, int]:
        """An entry that depends on the loop indices: a transposed read, a triangle's mask, ``np.eye``."""
        names = self.loop_vars[: len(c.shape)]
        if kind == "transpose":  # out[i, j] = x[j, i] (any permutation)
            perm = e.kwargs["perm"]
            src = self.globals.get(e.inputs[0]) or self.expr(e.inputs[0])[0]
            self._reads.append(src)
            at = [names[perm.index(a)] for a in range(len(perm))]
            return f"{src}[{', '.join(at)}]", PREC_ATOM
        row, col = names[-2], names[-1]
        k = e.kwargs["k"] if kind == "mask" else e.kwargs["args"][2]
        shift = f"{row} + {k}" if k > 0 else f"{row} - {-k}" if k < 0 else row
        if kind == "eye":
            if e.out.type.dtype is DType.BOOL:
                return f"{col} == {shift}", PREC_CMP
            return f"1.0 if {col} == {shift} else 0.0", PREC_TERNARY
        keep = f"{col} <= {shift}" if e.prim.name == "tril" else f"{col} >= {shift}"
        x = self.loop_expr(e.inputs[0], c)
        zero = "0.0" if e.out.type.dtype is DType.F64 else "0"
        return f"{x[0] if x[1] > PREC_TERNARY else '(' + x[0] + ')'} if {keep} else {zero}", PREC_TERNARY

    def loop_expr(self, v: Value, c: Cluster) -> tuple[str, int]:
        """``v`` at the current entry of the loop of ``c`` (scalars as they are, arrays indexed)."""
        if v.type.rank == 0:
            return self.expr(v)
        if v in c.values and v not in self.written:
            return self.expr(v) if v not in self.inlined else self.member_expr(self.producer[v], c)
        e = self.producer.get(v)
        if e is not None and v in self.loop_locals and v not in self.written and self.kinds.get(e) == "identity":
            # A broadcast that was never stored (it lived in another loop): read what it repeats.
            return self.loop_expr(e.inputs[0], c)
        src = self.globals.get(v) or self.namer(v)
        self._reads.append(src)
        return f"{src}[{read_index(v.type.shape, c.shape, self.loop_vars)}]", PREC_ATOM

    def _in_place(self, uses: Counter[Value], shown: set[Value]) -> set[Eqn]:
        """Statements that may update their first input in place: a fresh array nothing later reads.

        Besides the update itself, ``acc`` may be read by scalar reads that come
        earlier (``y[i] += v`` reads ``y[i]`` first): they are pinned as
        statements before the update unless they flow only into the update's
        own expression, so no read can move past the write.
        """
        out = set()
        position = {e.out: k for k, e in enumerate(self.graph.eqns)}
        readers: dict[Value, list[Eqn]] = defaultdict(list)
        for e in self.graph.eqns:
            for v in e.inputs:
                readers[v].append(e)
        self.read_before_update: set[Value] = set()
        for e in self.graph.eqns:
            if not e.prim.inplace:
                continue
            acc = e.inputs[0]
            src = self.producer.get(acc)
            others = [r for r in readers[acc] if r is not e]
            early_scalar_reads = all(
                r.out.type.rank == 0 and r.prim.name == "index" and position[r.out] < position[e.out] for r in others
            )
            if (
                src is not None
                and not src.prim.literal
                and not self.is_view(acc)
                and (uses[acc] == 1 or (early_scalar_reads and uses[acc] == len(others) + 1))
                and acc not in shown
                and acc not in self.graph.outputs
                and (acc in self.variant) == (e.out in self.variant)
            ):
                out.add(e)
                for r in others:
                    if not _flows_only_into(r.out, e, readers):
                        self.read_before_update.add(r.out)
        return out

    def _chains_in_out(self, layout: Layout) -> dict[str, tuple[Value, ...]]:
        """Each buffer of an ``Into`` layout that a gradient is built in (see :meth:`_built_in_out`), with its chain.

        With several buffers (``_out0, _out1, ...``: an ``Into`` of several gradients) each
        gradient is tried on its own; a value that is two arguments' gradient, or part of
        another's chain, is built in the first buffer only and copied into the others.
        """
        if not isinstance(layout, Into):
            return {}
        if not layout.buffers:
            chain = self._built_in_out(layout.vector.value) if isinstance(layout.vector, Array) else ()
            return {"_out": chain} if chain else {}
        out: dict[str, tuple[Value, ...]] = {}
        taken: set[Value] = set()
        for k, (buffer, item) in enumerate(zip(self.buffers, layout.buffers, strict=True)):
            chain = self._built_in_out(item.value) if isinstance(item, Array) else ()
            # Adding, a buffer holds its old contents plus the gradient: another buffer that reads the
            # same value must not read it there (it would add the first buffer's old contents too).
            others = {o.value for j, o in enumerate(layout.buffers) if j != k} if layout.accumulate else set()
            if chain and not taken.intersection(chain) and not others.intersection(chain):
                out[buffer] = chain
                taken.update(chain)
        return out

    def _built_in_out(self, target: Value) -> tuple[Value, ...]:
        """The values of an ``Into`` layout's gradient ``target`` that are the ``_out`` buffer itself, first to last.

        The gradient array is made by one statement or loop (its *root*) and then
        updated in place (the statements :meth:`_in_place` chose): when nothing reads
        it once built, every array of that chain is one variable, ``_out``. The root's
        allocation becomes ``_out[:] = 0.0`` where the chain starts from zeros (left
        out when adding into ``_out``) or nothing where a loop stores every entry, and
        the return line copies nothing. Empty (the gradient keeps its own array and the
        return line copies or adds it) where the root is not code the emitter can
        redirect (an input, a view, a matrix product's result), where the gradient is
        read after it is built, and, when adding, where an update stores rather than
        adds or a partial gradient is read (it would see ``_out``'s old contents).
        """
        eqns = self.graph.eqns
        if target.type.dtype is not DType.F64 or any(target in e.inputs for e in eqns):
            return ()
        chain = [target]
        while (e := self.producer.get(chain[-1])) is not None and e in self.inplace:
            chain.append(e.inputs[0])
        chain.reverse()
        root = self.producer.get(chain[0])
        if root is None or root.prim.literal or self._out_start(root) is None:
            return ()
        if self.adding:
            updates = [self.producer[v] for v in chain[1:]]
            reads: Counter[Value] = Counter(v for e in eqns for v in e.inputs)
            if any(u.prim.name != "pad_add" for u in updates) or any(reads[v] > 1 for v in chain[:-1]):
                return ()
        return tuple(chain)

    def _out_start(self, root: Eqn) -> str | None:
        """How the gradient's first statement starts it in ``_out``, or None where it cannot.

        ``"zeros"``: a loop adding entries (a scatter, a sum over axes) into zeros;
        ``"entries"``: a loop storing every entry; ``"fill"``: a broadcast scalar;
        ``"pad"``: zeros and one block.
        """
        v = root.out
        kind = self.kinds.get(root)
        if v in self.loop_locals:
            if kind in ("scatter", "sum_axes"):
                return "zeros"
            if v in self.written and kind not in _VIEW_KINDS and kind not in FINAL_KINDS:
                return "entries"
            return None
        if root.prim.name == "broadcast_to" and root.inputs[0].type.rank == 0:
            return "fill"
        if root.prim.name == "pad" and root.prim.emit_lines is not None:
            return "pad"
        return None

    def _inlinable(self, uses: Counter[Value], pinned: set[Value]) -> set[Value]:
        """Single-use unnamed temporaries, inlined into their consumer.

        Never deeper than MAX_INLINE_DEPTH (CPython rejects deeply nested
        parentheses, and long expressions stop being readable): a deeper one
        becomes a statement.
        """
        inlined: set[Value] = set()
        depth: dict[Value, int] = {}
        for e in self.graph.eqns:
            if e.out in self.consts:
                continue
            d = 1 + max((depth.get(v, 0) for v in e.inputs if v in inlined), default=0)
            if uses[e.out] == 1 and e.out not in pinned and e.out not in self.graph.hints and d <= MAX_INLINE_DEPTH:
                inlined.add(e.out)
                depth[e.out] = d
        return inlined

    def expr(self, v: Value) -> tuple[str, int]:
        """Source and precedence of ``v`` where it is used."""
        if v in self.globals:
            self._reads.append(self.globals[v])
            return self.globals[v], PREC_ATOM
        if v in self.consts:
            return format_literal(self.consts[v])
        if v in self.inlined:
            return self.eqn_expr(self.producer[v])
        name = self.namer(v)
        self._reads.append(name)
        return name, PREC_ATOM

    def tree(self, v: Value) -> Tree | None:
        """The operation tree of ``v`` where it is used, as :meth:`expr` prints it (None: not plain float code)."""
        if v in self.globals:
            return self.globals[v]
        if v in self.consts:
            value = self.consts[v]
            if isinstance(value, (np.ndarray, bool, int, np.integer, np.bool_)) or not np.isfinite(value):
                return None  # printed as an array, an integer, np.nan or np.inf: not a float literal
            return negated(float(value))
        if v in self.inlined:
            return self.eqn_tree(self.producer[v])
        return self.namer(v)

    def eqn_tree(self, e: Eqn) -> Tree | None:
        """The tree of ``e``'s expression on float64 scalars, or None (see :data:`_OPERATORS`)."""
        name = e.prim.name
        if e.out.type != _SCALAR:
            return None
        if name == "index":
            x = e.inputs[0]
            base = self.tree(x)
            index = e.kwargs["index"]
            ok = isinstance(base, str) and x.type.dtype is DType.F64 and len(index) == x.type.rank
            return _element(base, index, x.type.shape) if ok else None  # type: ignore[arg-type]
        args = tuple(self.tree(u) if u.type == _SCALAR else None for u in e.inputs)
        if any(a is None for a in args):
            return None
        trees: tuple[Tree, ...] = args  # type: ignore[assignment]
        if name == "integer_pow":
            n = e.kwargs["n"]
            power = Op("**", (trees[0], abs(n)))
            return power if n >= 0 else Op("/", (1.0, power))  # as the template: 1.0 / x**k
        op = _OPERATORS.get(name) or (f"np.{name}" if name in _UFUNCS else None)
        return None if op is None else Op(op, trees)

    def store_tree(self, array: str, index: tuple[int, ...], v: Value, op: str | None = None) -> Assign | None:
        """The tree of ``array[index] (op)= <v>`` (indices as printed), or None."""
        value = self.tree(v) if v.type == _SCALAR else None
        return None if value is None else Assign(Elem(array, index), value, op)

    def _take(self) -> tuple[str, ...]:
        """The names read since the last call (each once, in order); starts a new list."""
        reads = tuple(dict.fromkeys(self._reads))
        self._reads = []
        return reads

    def _reads_of(self, v: Value) -> tuple[str, ...]:
        self._reads = []
        self.expr(v)
        return self._take()

    def is_view(self, v: Value) -> bool:
        """Whether ``v``'s emitted value may share memory with another array."""
        e = self.producer.get(v)
        kind = self.kinds.get(e) if e is not None else None
        if v in self.written and kind not in _VIEW_KINDS:  # filled by a fused loop: a fresh array
            return False
        if e is not None and e.prim.name == "broadcast_to" and e.inputs[0].type.rank == 0:
            return False  # printed as np.zeros / np.full: a fresh array
        return v in self.graph.inputs or v in self.globals or (e is not None and e.prim.view and v.type.rank > 0)

    def args(self, e: Eqn) -> list[tuple[str, int]]:
        args = [self.expr(v) for v in e.inputs]
        if e.prim.needs_contiguous:
            args = [
                (f"np.ascontiguousarray({a[0]})", PREC_ATOM) if self.is_view(v) and v not in self.graph.inputs else a
                for a, v in zip(args, e.inputs, strict=True)
            ]
        return args

    def eqn_expr(self, e: Eqn) -> tuple[str, int]:
        return e.prim.emit(self.args(e), e.kwargs, [v.type for v in e.inputs])

    def statement(self, e: Eqn) -> list[Stmt]:
        if e.out in self.out_roots:
            return self._fill_out(e)
        target = self.namer(e.out)
        if e.prim.emit_lines is not None:
            self._reads = []
            srcs = [a for a, _ in self.args(e)]
            reads = self._take()
            params = {**e.kwargs, "_inplace": True} if e in self.inplace else e.kwargs
            if e.prim.nested:
                params = {**params, "_module": self.module}
            lines = e.prim.emit_lines(target, srcs, params, [v.type for v in e.inputs], e.out.type)
            return self._template(e, target, list(lines), reads)
        self._reads = []
        line = f"{target} = {self.eqn_expr(e)[0]}"
        # A new array (hoisted by the split when it reads no local): not a view of an array input.
        fresh = e.out.type.rank > 0 and not (e.prim.view and e.inputs and e.inputs[0].type.rank > 0)
        value = self.eqn_tree(e)
        tree = None if value is None else Assign(target, value)
        return [Stmt((line,), self._take(), frozenset({target}), Kind.ALLOCATION if fresh else Kind.ASSIGN, tree)]

    def _fill_out(self, e: Eqn) -> list[Stmt]:
        """The statement starting the gradient built in ``_out`` (see :meth:`_built_in_out`): fill, not allocate.

        A broadcast scalar is ``_out[:] = s`` (adding: ``_out += s``, nothing for 0.0); ``pad``
        is ``_out[:] = 0.0`` and its template's store (adding: the store adds, ``_out[2] += v``).
        """
        out = self.namer(e.out)  # the buffer: _out, or _out0, _out1, ... for several gradients
        self._reads = []
        if e.prim.name == "broadcast_to":
            value = self.expr(e.inputs[0])[0]
            if self.adding and value == "0.0":
                return []
            line = f"{out} += {value}" if self.adding else f"{out}[:] = {value}"
            return [Stmt((line,), (out, *self._take()), kind=Kind.STORE)]
        srcs = [a for a, _ in self.args(e)]
        reads = self._take()
        assert e.prim.emit_lines is not None  # _out_start chose pad only so
        zeros, store = e.prim.emit_lines(out, srcs, e.kwargs, [v.type for v in e.inputs], e.out.type)
        # pad's template: _out = np.zeros(shape), then _out[index] = value (no "] = " inside an index)
        assert zeros.startswith(f"{out} = np.zeros(") and store.startswith(f"{out}[") and "] = " in store, (
            zeros,
            store,
        )
        index, shape = e.kwargs["index"], e.out.type.shape
        at = _element(out, index, shape) if len(index) == len(shape) else None
        op = "+" if self.adding else None
        tree = None if at is None else self.store_tree(out, at.index, e.inputs[0], op)
        if self.adding:
            return [Stmt((store.replace("] = ", "] += ", 1),), (out, *reads), kind=Kind.STORE, tree=tree)]
        zero = Stmt((f"{out}[:] = 0.0",), (out,), kind=Kind.STORE)
        return [zero, Stmt((store,), (out, *reads), kind=Kind.STORE, tree=tree)]

    def _template(self, e: Eqn, target: str, lines: list[str], reads: tuple[str, ...]) -> list[Stmt]:
        """Records of the lines a primitive's template printed for ``e``.

        An update (``set_index``, ``pad_add``: the bulk of a long gradient's array
        code) is a store, after a copy unless in place; other templates' few lines
        are read as text (:func:`~dcompile.emit.chunking.from_text`).
        """
        if e.prim.name in _UPDATES and len(lines) == (1 if e in self.inplace else 2):
            values = tuple(n for v in e.inputs[1:] for n in self._reads_of(v))
            tree = None
            index, shape = e.kwargs["index"], e.out.type.shape
            at = _element(target, index, shape) if len(index) == len(shape) else None
            if e.out.type.dtype is DType.F64 and at is not None:
                tree = self.store_tree(target, at.index, e.inputs[1], "+" if e.prim.name == "pad_add" else None)
            store = Stmt((lines[-1],), tuple(dict.fromkeys((target, *values))), kind=Kind.STORE, tree=tree)
            if len(lines) == 1:
                return [store]
            copy = Stmt((lines[0],), self._reads_of(e.inputs[0]), frozenset({target}), Kind.ALLOCATION)
            return [copy, store]
        found = from_text(lines)
        if found is not None and e.prim.name == "pad" and [s.kind for s in found] == [Kind.ALLOCATION, Kind.STORE]:
            # target = np.zeros(shape), then target[index] = v: the store's tree, from the graph
            index, shape = e.kwargs["index"], e.out.type.shape
            at = _element(target, index, shape) if len(index) == len(shape) else None
            tree = None if at is None else self.store_tree(target, at.index, e.inputs[0])
            found[1] = dataclasses.replace(found[1], tree=tree)
        if found is not None:
            return found
        return [Stmt(tuple(lines), reads, frozenset({target}), Kind.COMPOUND)]

    def body(self, part: bool | None = None) -> list[Stmt]:
        """Statements and loops with their display blocks: all, or (in a Loop layout) one part."""
        attach, tail = self.attach[part]
        stmts: list[Stmt] = []
        for item in self.plans[part]:
            if isinstance(item, Cluster):
                stmts += self.cluster(item, attach)
                continue
            stmts += self.blocks(attach.get(item, ()))
            e = self.graph.eqns[item]
            if e.out not in self.inlined:
                stmts += self.statement(e)
        return stmts + self.blocks(tail)

    def _attach(self, part: bool | None) -> tuple[dict[int, list[Block]], list[Block]]:
        """Display blocks by the equation they precede (and those after the last one)."""
        order = self.orders[part]
        attach: dict[int, list[Block]] = defaultdict(list)
        tail: list[Block] = []
        for b in sorted(self.graph.blocks, key=lambda b: b.position):
            if part is not None and self.block_goes(b, b.position) != part:
                continue
            k = bisect.bisect_left(order, b.position)
            (attach[order[k]] if k < len(order) else tail).append(b)
        return attach, tail

    def blocks(self, blocks: Sequence[Block], c: Cluster | None = None) -> list[Stmt]:
        return [line for b in blocks for line in self.block(b, c)]

    def block_goes(self, b: Block, i: int) -> bool:
        """Whether block ``b`` before equation ``i`` belongs with the variant part (see Loop)."""
        if not self.variant:
            return True
        return self.is_variant(i) or any(v in self.variant for _, v in b.aliases)

    def is_variant(self, i: int) -> bool:
        return i < len(self.graph.eqns) and self.graph.eqns[i].out in self.variant

    def block(self, b: Block, c: Cluster | None = None) -> list[Stmt]:
        """A display block; inside a loop (``c``) its aliases name one entry."""
        out = []
        if b.title:
            out.append(comment(f"# {b.title}"))
        if b.source is not None:
            out.append(comment(f"# {self.namer(b.source.out)} = {self.eqn_expr_plain(b.source)}"))
        for name, v in b.aliases:
            if v in self.in_out:  # the gradient built in _out has no array of its own to name
                out.append(comment(f"# {name}: {'added to' if self.adding else 'written into'} {self.namer(v)}"))
                continue
            if not self._available(v, c):
                continue  # a display alias of a value that lived in another loop: nothing to name
            # An entry of the loop only for a value the loop runs over (a (2,) adjoint shown in a
            # (2, 3) loop is the whole array: indexing it by the loop's last index read past its end).
            entry = c is not None and (v in c.values or _broadcasts(v.type.shape, c.shape))
            self._reads = []
            src = self.loop_expr(v, c)[0] if entry else self.expr(v)[0]
            reads = self._take()
            target = self.namer.fresh(name)
            kind = Kind.ALIAS if reads == (src,) else Kind.ASSIGN  # a bare name: dropped when nothing reads it
            value = self.tree(v) if c is None and v.type == _SCALAR else None
            tree = None if value is None else Assign(target, value)
            out.append(Stmt((f"{target} = {src}",), reads, frozenset({target}), kind, tree))
        return out

    def _available(self, v: Value, c: Cluster | None) -> bool:
        """Whether ``v`` can be read here: not a scalar local of another loop (display aliases only)."""
        if c is not None and v in c.after:
            return False  # computed by a statement moved after this loop
        if v not in self.loop_locals or v in self.written or (c is not None and v in c.values):
            return True
        e = self.producer.get(v)
        return (
            c is not None
            and e is not None
            and self.kinds.get(e) == "identity"
            and (e.inputs[0].type.rank == 0 or self._available(e.inputs[0], c))
        )

    def eqn_expr_plain(self, e: Eqn) -> str:
        args = [format_literal(self.consts[v]) if v in self.consts else (self.namer(v), PREC_ATOM) for v in e.inputs]
        return e.prim.emit(args, e.kwargs, [v.type for v in e.inputs])[0]

    def returns(self, layout: Layout) -> list[Stmt]:
        self._reads = []
        if isinstance(layout, Into):
            op = "+=" if layout.accumulate else "="
            lines: list[Stmt] = []
            if layout.buffers:
                lines = self._into_buffers(layout)
            elif isinstance(layout.vector, Array) and not self.in_out:
                lines.append(self._copy_into("_out", layout.vector.value, layout.accumulate))
            elif isinstance(layout.vector, Vector):
                for i, v in enumerate(layout.vector.values):
                    line = f"_out[{i}] {op} {self.expr(v)[0]}"
                    tree = self.store_tree("_out", (i,), v, "+" if layout.accumulate else None)
                    lines.append(Stmt((line,), ("_out", *self._take()), kind=Kind.STORE, tree=tree))
            self._reads = []
            if layout.scalar:
                result = self.value_expr(layout.scalar, lines)
            else:
                result = "_out"
                self._reads.append(result)
            return [*lines, Stmt((f"return {result}",), self._take(), kind=Kind.RETURN)]
        if isinstance(layout, Matrix):
            lines = [Stmt((f"_out = np.empty(({layout.n}, {layout.n}))",), (), frozenset({"_out"}), Kind.ALLOCATION)]
            for (i, j), v in sorted(layout.entries.items()):
                target = f"_out[{i}, {j}]"
                if layout.symmetric and i != j:
                    target += f" = _out[{j}, {i}]"
                line = f"{target} = {self.expr(v)[0]}"
                tree = None if layout.symmetric and i != j else self.store_tree("_out", (i, j), v)
                lines.append(Stmt((line,), ("_out", *self._take()), kind=Kind.STORE, tree=tree))
            return [*lines, Stmt(("return _out",), ("_out",), kind=Kind.RETURN)]
        fill: list[Stmt] = []
        result = self.value_expr(layout, fill)
        return [*fill, Stmt((f"return {result}",), self._take(), kind=Kind.RETURN)]

    def bindings(self) -> list[Stmt]:
        """``_out0 = _out[0]``, ... : the buffers of an ``Into`` of several gradients, named once at the top."""
        return [Stmt((f"{b} = _out[{k}]",), ("_out",), frozenset({b})) for k, b in enumerate(self.buffers)]

    def _into_buffers(self, layout: Into) -> list[Stmt]:
        """The stores of an ``Into`` of several gradients: each gradient not built in its buffer is copied
        (``accumulate``: added) into it; a scalar argument's buffer is a 0-d array (``_out3[()] = ...``)."""
        lines: list[Stmt] = []
        for b, item in zip(self.buffers, layout.buffers, strict=True):
            self._reads = []
            if isinstance(item, Array):
                if item.value in self.in_out and self.namer(item.value) == b:
                    continue  # built in its buffer
                lines.append(self._copy_into(b, item.value, layout.accumulate))
            else:
                line = f"{b}[()] {'+=' if layout.accumulate else '='} {self.expr(item.value)[0]}"
                lines.append(Stmt((line,), (b, *self._take()), kind=Kind.STORE))
        return lines

    def _copy_into(self, buffer: str, v: Value, adding: bool) -> Stmt:
        """``buffer[:] = v`` (``adding``: ``buffer += v``): an array gradient not built in its buffer."""
        self._reads = []
        whole = buffer if adding else f"{buffer}[:]"
        line = f"{whole} {'+=' if adding else '='} {self.expr(v)[0]}"
        writes = frozenset({buffer}) if adding else frozenset()
        return Stmt((line,), (buffer, *self._take()), writes, Kind.ASSIGN if adding else Kind.STORE)

    def value_expr(self, layout: Layout, fill: list[Stmt]) -> str:
        """The returned expression; long vectors are filled by statements added to ``fill``.

        The names the expression reads are added to ``self._reads``.
        """
        if isinstance(layout, Scalar):
            src, prec = self.expr(layout.value)
            return f"({src})" if prec <= PREC_TERNARY else src
        if isinstance(layout, Vector):
            if len(layout.values) > LIST_LIMIT:
                # numba builds a list before copying it into np.array([...]): fill directly.
                reads = self._reads
                fill.append(Stmt((f"_out = np.empty({len(layout.values)})",), (), frozenset({"_out"}), Kind.ALLOCATION))
                for i, v in enumerate(layout.values):
                    self._reads = []
                    line = f"_out[{i}] = {self.expr(v)[0]}"
                    tree = self.store_tree("_out", (i,), v)
                    fill.append(Stmt((line,), ("_out", *self._take()), kind=Kind.STORE, tree=tree))
                self._reads = [*reads, "_out"]
                return "_out"
            return "np.array([" + ", ".join(self.expr(v)[0] for v in layout.values) + "])"
        if isinstance(layout, Array):
            src, _ = self.expr(layout.value)
            return f"{src}.copy()" if self.is_view(layout.value) else src
        if isinstance(layout, Pack) and not any(isinstance(i, Matrix) for i in layout.items):
            items = [self.value_expr(item, fill) for item in layout.items]
            items = [f"({x})" if isinstance(i, Pack) else x for x, i in zip(items, layout.items, strict=True)]
            return ", ".join(items)
        raise NotImplementedError("a matrix inside a tuple")

    def loop_pieces(self, layout: Loop) -> LoopPieces:
        """The pieces of a Loop layout's body (see :class:`~dcompile.emit.chunking.LoopPieces`)."""
        d = self.namer(layout.direction)
        n = layout.direction.type.shape[0]
        target = "_out[:, _j]" if layout.along == "col" and len(layout.shape) == 2 else "_out[_j]"
        inner = self.body(True)
        self._reads = []
        src, _ = self.expr(layout.result)
        reads = self._take()
        outer = [
            *self.body(False),
            Stmt((f"_out = np.empty({_shape(layout.shape)})",), (), frozenset({"_out"}), Kind.ALLOCATION),
            Stmt((f"{d} = np.zeros({n})",), (), frozenset({d}), Kind.ALLOCATION),
        ]
        header = [f"for _j in range({n}):", f"{INDENT}{d}[_j] = 1.0"]
        length = None
        if len(layout.shape) == 2:
            length = layout.shape[0] if layout.along == "col" else layout.shape[1]
        return LoopPieces(outer, header, inner, (target, src), [f"{INDENT}{d}[_j] = 0.0"], length, reads, d)

    def loop(self, layout: Loop) -> list[Stmt]:
        """Invariant statements, then the loop over unit directions (see :class:`Loop`)."""
        p = self.loop_pieces(layout)
        store = store_lines(p.result[0], p.result[1], p.length)
        lines = [*p.header, *(f"{INDENT}{line}" for line in [*text(p.inner), *store]), *p.footer]
        result = Stmt((), ("_out", *p.reads) if p.length is None else (*p.reads, "_out"))  # as chunking's loop
        loop = nest(lines, [*p.inner, result], reads=(p.direction,), bound=("_j", "_col", "_k"))
        return [*p.outer, loop, Stmt(("return _out",), ("_out",), kind=Kind.RETURN)]

    def guards(self, function: str) -> list[str]:
        """Shape checks of array parameters: numba does not check bounds, so a wrong shape must not get in."""
        lines = []
        for v in self.graph.inputs:
            if v.type.rank and not (isinstance(self.layout, Loop) and v is self.layout.direction):
                shape = _shape_tuple(v.type.shape)
                name = self.namer(v)
                lines += [
                    f"if {name}.shape != {shape}:",
                    f'{INDENT}raise ValueError("{function} was compiled for {name} of shape {shape}")',
                ]
        return lines


@dataclass
class _Scatters:
    """Scatters of one loop filling a fresh array, printed write-once (see ``_Printer._write_once``).

    ``group``: the scatter making the array and the in-place updates adding into it, in
    loop order; they write entries ``low + i`` to ``low + spread + i`` at iteration ``i``.
    ``terms[d]``: the printed terms (source, precedence, names read) at offset ``low + d``;
    ``carries``: the scalars holding entries ``low + i + 1 + d`` (set when printed).
    """

    group: list[Eqn]
    low: int
    spread: int
    terms: list[list[tuple[str, int, tuple[str, ...]]]]
    carries: list[str] = field(default_factory=list)


def _keep_comments_in_place(
    items: Sequence[Item], order: Sequence[int], attach: dict[int, list[Block]], tail: list[Block]
) -> None:
    """Comments of a statement hoisted before a loop stay where the statement was.

    They head the derivative code of a primal statement, and the rest of that
    code comes after the hoisted piece; they move to the next equation that
    was not hoisted.
    """
    hoisted: set[int] = set()
    pending: list[int] = []
    for item in items:
        if isinstance(item, Cluster):
            hoisted.update(i for i in pending if i > min(item.members))
            pending = []
        else:
            pending.append(item)
    for h in sorted(hoisted, reverse=True):
        blocks = attach.pop(h, [])
        if not blocks:
            continue
        later = [j for j in order if j > h and j not in hoisted]
        if later:
            attach[later[0]][:0] = blocks
        else:
            tail[:0] = blocks


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether NumPy broadcasts ``shape`` to ``target`` (aligned at the last axis)."""
    return len(shape) <= len(target) and all(a in (1, b) for a, b in zip(shape[::-1], target[::-1], strict=False))


def _aliased(blocks: Sequence[Block]) -> bool:
    return any(b.aliases for b in blocks)


def _shown(graph: Graph) -> set[Value]:
    """Values the code or its comments name: inputs, outputs, and those display blocks quote."""
    shown: set[Value] = set(graph.outputs) | set(graph.inputs)
    for b in graph.blocks:
        shown.update(v for _, v in b.aliases)
        if b.source is not None:
            shown.update(b.source.inputs)
            shown.add(b.source.out)
    return shown


def _near_end(k: int, n: int) -> int:
    """An index as the templates print it (``dcompile.primitives.arrays.index_src``): ``-1`` for the last of ``n``."""
    return k - n if 0 < n - k < k else k


def _element(array: str, index: Sequence[object], shape: tuple[int, ...]) -> Elem | None:
    """``array[index]`` as printed, if every index is an integer (one entry), else None."""
    if not all(type(i) is int for i in index):
        return None
    return Elem(array, tuple(_near_end(i, n) for i, n in zip(index, shape, strict=True)))  # type: ignore[arg-type]


def _dtype_arg(t: VType) -> str:
    """``, dtype=...`` for arrays that do not hold floats."""
    return "" if t.dtype is DType.F64 else f", dtype=np.{'bool_' if t.dtype is DType.BOOL else 'int64'}"


def _shape(shape: tuple[int, ...]) -> str:
    return str(shape[0]) if len(shape) == 1 else _shape_tuple(shape)


def _shape_tuple(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _flows_only_into(v: Value, target: Eqn, readers: dict[Value, list[Eqn]], depth: int = 0) -> bool:
    """Whether ``v`` reaches nothing but ``target`` (through single-use values): it is evaluated in its statement."""
    if depth > MAX_INLINE_DEPTH:
        return False
    users = readers.get(v, [])
    if len(users) != 1:
        return False
    (user,) = users
    return user is target or _flows_only_into(user.out, target, readers, depth + 1)


def _imports(graph: Graph) -> list[str]:
    """Import lines the primitives of ``graph`` need (runtime helpers), each once, in a stable order."""
    return sorted({line for e in graph.eqns for line in e.prim.imports})


def _dependents(graph: Graph, root: Value) -> set[Value]:
    """Values computed from ``root``."""
    out = {root}
    for e in graph.eqns:
        if any(v in out for v in e.inputs):
            out.add(e.out)
    return out


def emit_function(graph: Graph, function: str, module: ModuleParts) -> None:
    """Add ``def function(*inputs)`` returning ``graph``'s outputs (one, or a tuple) to ``module``.

    For nested graphs (a loop body): no shape checks, no docstring; its constants,
    imports and own nested functions go to ``module`` too.
    """
    items = tuple(Scalar(v) if v.type.rank == 0 else Array(v) for v in graph.outputs)
    layout: Layout = items[0] if len(items) == 1 else Pack(items)
    p = _Printer(graph, layout, module=module)
    params = [p.namer(v) for v in graph.inputs]
    body = p.body() + p.returns(layout)
    scalars = {name for v, name in p.namer.named().items() if v.type == VType((), DType.F64)}
    split = split_body(function, params, body, scalars)
    lines = [f"def {function}({', '.join(params)}):"]
    lines += [f"{INDENT}{line}" for line in (split.body if split is not None else text(body))]
    module.globals += [f"{p.globals[v]} = {format_array(p.consts[v])}" for v in p.globals]
    module.imports.update(_imports(graph))
    if split is not None:
        module.functions += list(zip(split.names, split.parts, strict=True))
        module.plans += split.plans
    module.functions.append((function, lines))


def emit_module(
    graph: Graph,
    function: str,
    layout: Layout,
    doc: str,
    *,
    fuse: bool = True,
    guards: bool = True,
    vector_math: bool | None = None,
) -> Emitted:
    """The Python module computing ``graph``'s outputs, packed by ``layout``.

    ``fuse``: elementwise array work of one shape is printed as one loop
    (see :mod:`dcompile.emit.fusion`) instead of one NumPy statement each.
    ``guards=False`` leaves out the shape checks of array parameters: only for
    kernels that generated loops call with shapes they checked once themselves
    (a raise in a callee costs a per-call status check: 0.67 -> 1.30 ms per
    10^4 rows of a d = 20 logistic loss).
    ``vector_math``: fused loops call :mod:`dcompile.runtime.vecmath` (see the
    module doc); ``None`` reads ``DCOMPILE_VECTOR_MATH`` (:func:`vector_math_default`).
    """
    if vector_math is None:
        vector_math = vector_math_default()
    module = ModuleParts(taken={function}, vector_math=vector_math)
    p = _Printer(graph, layout, fuse=fuse, module=module)
    inputs = [v for v in graph.inputs if not (isinstance(layout, Loop) and v is layout.direction)]
    param_names = ["_out"] * isinstance(layout, Into) + [p.namer(v) for v in inputs]
    params = ", ".join(param_names)
    checks = p.guards(function) if guards else []
    scalars = {name for v, name in p.namer.named().items() if v.type == VType((), DType.F64)}
    looped = None
    if isinstance(layout, Loop):
        pieces = p.loop_pieces(layout)
        looped = split_loop(function, param_names, pieces, scalars)
        end = Stmt(("return _out",), ("_out",), kind=Kind.RETURN)
        body = [*pieces.outer, *looped.lines, end] if looped is not None else p.loop(layout)
    else:
        body = p.bindings() + p.body() + p.returns(layout)
    split = split_body(function, param_names, body, scalars)
    lines_of_body = checks + (split.body if split is not None else text(body))
    doc_lines = doc.strip().splitlines()
    imports = sorted(set(_imports(graph)) | module.imports)
    needs = "NumPy and dcompile.runtime" if any("dcompile.runtime" in line for line in imports) else "only NumPy"
    lines = [
        f'"""Generated by dcompile {__version__}: {doc_lines[0]}',
        "",
        f"Needs {needs}; compile with numba.njit for machine code.",
        '"""',
        "",
        "import numpy as np",
        *imports,
        "",
        *(f"{p.globals[v]} = {format_array(p.consts[v])}" for v in p.globals),
        *module.globals,
        *([""] if p.globals or module.globals else []),
        "",
        f"def {function}({params}):",
        f'{INDENT}"""{doc_lines[0]}',
        *(f"{INDENT}{line}" if line else "" for line in doc_lines[1:]),
        f'{INDENT}"""' if len(doc_lines) > 1 else "",
    ]
    if len(doc_lines) == 1:
        lines[-2] += '"""'
        lines.pop()
    lines += [f"{INDENT}{line}" for line in lines_of_body]
    names: list[str] = []
    plans: list[Part] = []
    if looped is not None:  # the loop's body function and its parts come right after the main function
        for part in [looped.function, *looped.parts]:
            lines += ["", "", *part]
        names += [looped.name, *looped.names]
        plans += looped.plans
    if split is not None:
        for part in split.parts:
            lines += ["", "", *part]
        names += split.names
        plans += split.plans
    for name, part in module.functions:  # loop bodies (dcompile.loops), nested ones first
        lines += ["", "", *part]
        names.append(name)
    hot = tuple(looped.names) if looped is not None else ()
    hot += tuple(name for name, _ in module.functions)
    plans += module.plans
    return Emitted("\n".join(lines) + "\n", function, tuple(names), hot, tuple(plans))


def _buffer_names(layout: Layout) -> tuple[str, ...]:
    """The names ``_out0, _out1, ...`` of an ``Into`` layout's buffers (empty: one buffer, ``_out``)."""
    return tuple(f"_out{k}" for k in range(len(layout.buffers))) if isinstance(layout, Into) else ()
