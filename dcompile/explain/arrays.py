"""Array functions explained in NumPy: the intermediates as statements, the table read off the derivative code.

SymPy formulas do not fit array code (slices, matmul, reductions), so an array
function is explained in NumPy: its intermediates as statements, and the table
read off the derivative graph the pipeline compiles (``dcompile show --mode grad
--stage simplified``), each adjoint (or tangent) one entry in the intermediates
and the entries before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from dcompile.errors import DcompileError
from dcompile.explain.model import ArrayExplanation, ArrayLine, ExplainError
from dcompile.explain.numpy_printer import Printer, shape_text
from dcompile.ir.graph import Eqn, Graph, Value
from dcompile.ir.naming import Namer
from dcompile.ir.tracer import identities
from dcompile.pipeline import derive
from dcompile.transforms import full_names

# A temporary of the derivative graph is inlined at most this deep (longer lines stop being readable).
INLINE_DEPTH = 6


def is_array_graph(graph: Graph) -> bool:
    """Whether any input, intermediate or result of ``graph`` is an array."""
    return any(v.type.rank for v in (*graph.inputs, *(e.out for e in graph.eqns), *graph.outputs))


def _intermediates(graph: Graph, names: dict[Value, str], temps: Namer) -> list[ArrayLine]:
    """The primal statements, one per equation, in the listing's names."""
    printer = Printer(graph, names, set(), temps)
    return [printer.line(e, names[e.out], names[e.out], "intermediate") for e in graph.eqns if not e.prim.literal]


def _signature(e: Eqn, key: dict[Value, Any], consts: dict[Value, Any]) -> tuple[Any, ...] | None:
    """What ``e`` computes from what: equal signatures, equal values."""
    inputs = []
    for v in e.inputs:
        if v in consts:
            inputs.append(("const", repr(consts[v])))
        elif v in key:
            inputs.append(key[v])
        else:
            return None
    return (e.prim.name, repr(e.params), tuple(inputs), e.out.type)


def _primal_signatures(graph: Graph) -> dict[Any, Value]:
    """The primal intermediates by what they compute (see :func:`_signature`)."""
    key: dict[Value, Any] = {v: v for v in graph.inputs}
    consts = {e.out: e.kwargs["value"] for e in graph.eqns if e.prim.literal}
    out: dict[Any, Value] = {}
    for e in graph.eqns:
        sig = None if e.prim.literal else _signature(e, key, consts)
        if sig is not None:
            key[e.out] = e.out
            out.setdefault(sig, e.out)
    return out


def _use_counts(graph: Graph) -> dict[Value, int]:
    """How often each value is read: by equations, display aliases and as a result."""
    reads = [v for e in graph.eqns for v in e.inputs]
    reads += [v for b in graph.blocks for _, v in b.aliases] + list(graph.outputs)
    uses: dict[Value, int] = {}
    for v in reads:
        uses[v] = uses.get(v, 0) + 1
    return uses


class _Reader:
    """The entries of a derivative graph ``dgraph`` of the primal ``graph``.

    A value of ``dgraph`` is a primal intermediate (the same computation under
    the same name: written by its name), a derivative (its hint is a key of
    ``derivative``: an entry of the table), a constant, or a temporary: inlined
    into the entry that uses it when used once, else a helper line of its own.
    """

    def __init__(
        self,
        graph: Graph,
        names: dict[Value, str],
        dgraph: Graph,
        *,
        derivative: dict[str, tuple[str, str]],  # hint -> (entry name, identifier)
        kind: str,
        temps: Namer,
    ) -> None:
        self.dgraph = dgraph
        self.kind = kind
        self.derivative = derivative
        self.names: dict[Value, str] = {}
        self.entry: dict[Value, tuple[str, str]] = {}  # derivative values: (entry name, identifier)
        self._classify(graph, names)
        for v in dgraph.inputs[len(graph.inputs) :]:  # a tangent direction (forward mode)
            self.names[v] = temps.fresh(dgraph.hints.get(v, "d"))
        self.uses = _use_counts(dgraph)
        self.inline, self.helpers = self._temporaries()
        for e in dgraph.eqns:  # in graph order, so helpers read t9, t10, ... as in the listing
            if e.out in self.helpers:
                self.names[e.out] = temps(e.out)
        self.printer = Printer(dgraph, self.names, self.inline, temps)

    def _classify(self, graph: Graph, names: dict[Value, str]) -> None:
        """Name the primal values of ``dgraph`` as the listing does, and find its derivatives."""
        by_signature = _primal_signatures(graph)
        dgraph, hints = self.dgraph, self.dgraph.hints
        consts = {e.out: e.kwargs["value"] for e in dgraph.eqns if e.prim.literal}
        key: dict[Value, Any] = {}
        for v, x in zip(dgraph.inputs, graph.inputs, strict=False):
            key[v] = x
            self.names[v] = names[x]
        taken: set[str] = set()  # derivative hints given to a value (one entry per derivative)
        for e in dgraph.eqns:
            if e.prim.literal:
                continue
            sig = _signature(e, key, consts)
            same = by_signature.get(sig) if sig is not None else None
            hint = hints.get(e.out)
            if same is not None and hint == names[same]:
                key[e.out] = same
                self.names[e.out] = names[same]
            elif hint in self.derivative and hint not in taken:
                taken.add(hint)
                self.entry[e.out] = self.derivative[hint]
                self.names[e.out] = self.entry[e.out][1]

    def _temporaries(self) -> tuple[set[Value], set[Value]]:
        """The temporaries inlined (used once, not too deep) and those listed as helpers."""
        depth: dict[Value, int] = {}
        inline: set[Value] = set()
        helpers: set[Value] = set()
        for e in self.dgraph.eqns:
            v = e.out
            if e.prim.literal or v in self.names:
                continue
            d = 1 + max((depth.get(u, 0) for u in e.inputs if u in inline), default=0)
            if self.uses.get(v, 0) == 1 and d <= INLINE_DEPTH:
                inline.add(v)
                depth[v] = d
            else:
                helpers.add(v)
        return inline, helpers

    def lines(self, finals: list[tuple[Value, str, str]]) -> list[ArrayLine]:
        """The entries in graph order, then ``finals``: (output value, entry name, identifier) each,
        an entry moved last when nothing else reads it, else restated."""
        g = self.dgraph
        aliases: dict[int, list[tuple[str, Value]]] = {}
        for b in g.blocks:
            aliases.setdefault(b.position, []).extend(b.aliases)
        out: list[ArrayLine] = []
        by_value: dict[Value, ArrayLine] = {}
        for i, e in enumerate([*g.eqns, None]):
            for hint, v in aliases.get(i, ()):
                line = self._alias(hint, v)
                if line is not None:
                    out.append(line)
            if e is None or (e.out not in self.entry and e.out not in self.helpers):
                continue
            name, ident = self.entry.get(e.out, (self.names[e.out], self.names[e.out]))
            line = self.printer.line(e, name, ident, self.kind if e.out in self.entry else "helper")
            out.append(line)
            by_value[e.out] = line
        tail = []
        for v, name, ident in finals:
            line = by_value.get(v)
            if line is not None and line.name == name and self.uses.get(v, 0) == 1:
                out.remove(line)
                tail.append(line)
            else:
                tail.append(self._restate(v, name, ident))
        return out + tail

    def _alias(self, hint: str, v: Value) -> ArrayLine | None:
        """``df_dt0 = df_dt3``: a derivative that needed no code of its own."""
        return self._restate(v, *self.derivative[hint]) if hint in self.derivative else None

    def _restate(self, v: Value, name: str, ident: str) -> ArrayLine:
        code: list[str] = []
        src = self.printer.operand(v, code)[0]
        return ArrayLine(
            name,
            ident,
            self.printer.operand(v, None)[0],
            v.type.shape,
            v.type.dtype.value,
            self.kind,
            [*code, f"{ident} = {src}"],
        )


def _derive(graph: Graph, mode: str, wrt: Sequence[int], *, raw: bool = False) -> Graph:
    """The derivative graph the pipeline compiles (``raw``: before simplification folds anything)."""
    try:
        if raw:
            with identities(False):
                return derive(graph, mode, wrt).graph
        return derive(graph, mode, wrt).graph
    except DcompileError as exc:
        raise ExplainError(str(exc)) from None


def _folded(
    graph: Graph, mode: str, wrt: Sequence[int], derivative: dict[str, tuple[str, str]], shown: set[str]
) -> list[str]:
    """Derivatives the chain rule names but simplification folded into others (constants, copies)."""
    raw = _derive(graph, mode, wrt, raw=True)
    hints = [raw.hints.get(e.out) for e in raw.eqns] + [h for b in raw.blocks for h, _ in b.aliases]
    return [derivative[h][0] for h in dict.fromkeys(hints) if h in derivative and derivative[h][0] not in shown]


class _Sections:
    """The table's sections and the derivatives simplification folded away, one mode's worth."""

    def __init__(self, graph: Graph, fn_name: str, names: dict[Value, str], temps: Namer) -> None:
        self.graph = graph
        self.fn_name = fn_name
        self.names = names
        self.temps = temps
        self.out = names.get(graph.outputs[0], fn_name)
        self.sections: list[tuple[str, list[ArrayLine]]] = []
        self.folded: list[str] = []

    def forward(self, wrt: Sequence[int]) -> None:
        """One section per input in ``wrt``: the tangents along a direction array ``dx``."""
        graph, names, out = self.graph, self.names, self.out
        for i in wrt:
            x = names[graph.inputs[i]]
            derivative = {f"d{n}": (f"d{n}/d{x}", f"d{n}_d{x}") for n in names.values() if n != x}
            dgraph = _derive(graph, "jvp", (i,))
            reader = _Reader(graph, names, dgraph, derivative=derivative, kind="tangent", temps=self.temps)
            direction = reader.names[dgraph.inputs[len(graph.inputs)]]
            lines = reader.lines([(dgraph.outputs[1], f"d{out}/d{x}", f"d{out}_d{x}")])
            shape = graph.inputs[i].type.shape
            what = f"an array shaped like {x}, {shape_text(shape)}" if shape else f"a number, like {x}"
            heading = (
                f"Forward propagation along the tangent {direction} of {x} ({what}): dv/d{x} is the derivative "
                f"of v in the direction {direction}, the sum over the operands u of v of dv/du applied to du/d{x}"
            )
            self.sections.append((heading, lines))
            self.folded += _folded(graph, "jvp", (i,), derivative, {line.name for line in lines})

    def reverse(self, wrt: Sequence[int]) -> None:
        """One section: the seed ``df/df = 1``, the adjoints, and the gradients ``df/dx`` last."""
        graph, names, out = self.graph, self.names, self.out
        result = graph.outputs[0]
        if result.type.rank:
            raise ExplainError(
                f"backpropagation starts from a scalar result, and {self.fn_name} returns shape {result.type.shape}.\n"
                "Use --forward --wrt NAME, or see its Jacobian code with: dcompile show TARGET --mode jacobian ..."
            )
        derivative = {f"d{graph.name}_d{n}": (f"d{out}/d{n}", f"d{out}_d{n}") for n in names.values()}
        dgraph = _derive(graph, "grad", wrt)
        reader = _Reader(graph, names, dgraph, derivative=derivative, kind="adjoint", temps=self.temps)
        finals = [
            (g, f"d{out}/d{names[graph.inputs[i]]}", f"d{out}_d{names[graph.inputs[i]]}")
            for g, i in zip(dgraph.outputs, wrt, strict=True)
        ]
        seed = ArrayLine(f"d{out}/d{out}", f"d{out}_d{out}", "1.0", (), "float64", "seed", [f"d{out}_d{out} = 1.0"])
        lines = [seed, *reader.lines(finals)]
        heading = (
            f"Backpropagation (reverse mode): d{out}/dv = sum over the consumers u of v of d{out}/du * du/dv, "
            "as NumPy code; each entry is shaped like v"
        )
        self.sections.append((heading, lines))
        self.folded += _folded(graph, "grad", wrt, derivative, {line.name for line in lines})


def _notes(table: list[ArrayLine], folded: list[str], forward: bool) -> list[str]:
    """The remarks under the table: names standing for entries, scatters, helpers, folded derivatives."""
    notes: list[str] = []
    idents = {line.ident: line.name for line in table if line.ident != line.name}
    used = [m for line in table for m in re.findall(r"[A-Za-z_]\w*", line.formula) if m in idents]
    if used:
        notes.append(f"({used[0]} in a formula stands for the entry {idents[used[0]]} above)")
    if any(" with [" in line.formula for line in table):
        notes.append("(A with [i] += g: a copy of A with g added at index i, repeated indices adding up)")
    helpers = [line.name for line in table if line.kind == "helper"]
    if helpers:
        notes.append(f"({', '.join(helpers)}: temporaries of the derivative code, each used more than once)")
    if folded:
        listed = ", ".join(dict.fromkeys(folded))
        stage = "--mode jvp" if forward else "--mode grad"
        notes.append(
            f"(simplification folded {listed} into the entries that use them; "
            f"dcompile show TARGET {stage} --stage derivative-ir --shape ... lists them)"
        )
    return notes


def explain_array(graph: Graph, fn_name: str, *, forward: bool, wrt: Sequence[int]) -> ArrayExplanation:
    """The intermediates of an array function and its table, in NumPy (see the module docstring)."""
    if len(graph.outputs) != 1:
        raise ExplainError(
            f"explain writes the table of a function with one result, and {fn_name} has {len(graph.outputs)}.\n"
            "See its derivative code with: dcompile show TARGET --mode jacobian --shape NAME=DIMS ..."
        )
    names = full_names(graph)
    temps = Namer({}, taken=set(names.values()))
    intermediates = _intermediates(graph, names, temps)
    sections = _Sections(graph, fn_name, names, temps)
    if forward:
        sections.forward(wrt)
    else:
        sections.reverse(wrt)
    table = [line for _, lines in sections.sections for line in lines]
    return ArrayExplanation(
        function=fn_name,
        inputs=[names[v] for v in graph.inputs],
        shapes={names[v]: v.type.shape for v in graph.inputs},
        output=sections.out,
        mode="forward" if forward else "reverse",
        wrt=[names[graph.inputs[i]] for i in wrt],
        intermediates=intermediates,
        sections=sections.sections,
        notes=_notes(table, sections.folded, forward),
    )
