"""``dcompile explain``: the derivation as the lecture notes write it.

First the intermediates, one per equation of the traced graph, in the user's
variable names (``a = x1 + w1``, ..., ``f = d*e``; unnamed temporaries are
``t0, t1, ...`` as in ``dcompile show --stage ir``); then a chain-rule table
derived symbolically with SymPy, each intermediate a symbol:

* reverse mode (backpropagation, the default): ``df/dv = sum over the
  consumers u of v of df/du * du/dv``, from ``df/df = 1`` back to the inputs;
* forward mode (forward propagation): ``dv/dx = sum over the operands u of v
  of dv/du * du/dx``, from the input ``x`` to the output, one input per table.

Known entries are substituted into later ones (``df/da = df/dd * dd/da =
2*a*e``) while a formula stays short; a longer one refers to earlier entries
by the names the generated code uses (``df_da``), so a deep graph gives a
table that grows linearly. ``--expand`` adds each formula in the inputs.

Array functions (given with ``--shape``) are explained in NumPy instead: the
intermediates as statements with their shapes, then the table read off the
derivative graph that is compiled (``dcompile show --mode grad --stage
simplified``), one entry per adjoint (``drosen/dt3 = 200.0 * t3``) or, with
``--forward``, per tangent along a direction array ``dw``. ``--latex`` and
``--expand`` are for scalar functions only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
import sympy as sp

from dcompile.backend.literals import format_literal
from dcompile.cli.common import CliError, TargetSpec, echo_json, example_args, function_of, json_option, target_options
from dcompile.errors import DcompileError
from dcompile.ir.graph import Eqn, Graph, Value
from dcompile.ir.naming import Namer
from dcompile.ir.primitive import PREC_ATOM
from dcompile.ir.tracer import identities
from dcompile.pipeline import derive
from dcompile.primitives.arrays import index_src
from dcompile.transforms import full_names

# A derivative formula with more operations than this refers to earlier entries by name.
SUBSTITUTE_OPS = 16
# An expanded formula (in the inputs) longer than this is left out: expansion grows exponentially with depth.
EXPAND_OPS = 400
# Formulas with at most this many operations are tried with sympy.simplify (kept only when shorter).
SIMPLIFY_OPS = 16
# ... and at most this many of them per table (about 0.1 s each), so a large graph stays quick.
SIMPLIFY_CALLS = 40


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


class _Expander:
    """Formulas in the inputs: each symbol replaced by its expansion, while that stays short."""

    def __init__(self, inputs: Sequence[sp.Symbol]) -> None:
        self.full: dict[sp.Symbol, Any] = {s: s for s in inputs}  # None: too long
        self.size: dict[sp.Symbol, int] = dict.fromkeys(inputs, 0)

    def __call__(self, expr: Any, symbol: sp.Symbol | None = None) -> Any:
        known = [s for s in expr.free_symbols if s in self.full]
        size = sp.count_ops(expr) + sum(self.size[s] or 1 for s in known)
        full = None
        if size <= EXPAND_OPS and all(self.full[s] is not None for s in known):
            full = expr.xreplace(self.full)
        if symbol is not None:
            self.full[symbol], self.size[symbol] = full, size
        return full


class _Chain:
    """A scalar graph raised to SymPy, one symbol per intermediate, with its local partials."""

    def __init__(self, graph: Graph, fn_name: str) -> None:
        _check_scalar(graph, fn_name)
        namer = Namer(dict(graph.hints))
        self.graph = graph
        self.names: dict[Value, str] = {v: namer(v) for v in graph.inputs}
        self.sym: dict[Value, Any] = {v: sp.Symbol(self.names[v], real=True) for v in graph.inputs}
        self.defn: dict[Value, Any] = {}  # the right-hand side, in the operands' symbols
        self.shown: dict[Value, Any] = {}  # the same, unevaluated: operands in the traced order
        self.expand = _Expander(list(self.sym.values()))
        self.eqns = [e for e in graph.eqns if not e.prim.literal]
        for e in graph.eqns:
            if e.prim.literal:
                self.sym[e.out] = _literal(e.kwargs["value"])
                continue
            self._raise(e, fn_name)
            self.names[e.out] = namer(e.out)
            if e.out.type.dtype.differentiable:
                self.sym[e.out] = sp.Symbol(self.names[e.out], real=True)
            else:  # a condition: used through its definition (Piecewise needs a relation)
                self.sym[e.out] = self.defn[e.out]
        self.output = graph.outputs[0]
        self.out_name = self.names.get(self.output, fn_name)

    def _raise(self, e: Any, fn_name: str) -> None:
        if e.prim.to_sympy is None:
            raise CliError(
                f"explain needs the SymPy form of every operation; {e.prim.name!r} in {fn_name} has none.\n"
                "See its derivative code with: dcompile show TARGET --mode grad"
            )
        args = [self.sym[v] for v in e.inputs]
        self.defn[e.out] = e.prim.to_sympy(*args, **e.kwargs)
        try:
            with sp.evaluate(False):
                self.shown[e.out] = e.prim.to_sympy(*args, **e.kwargs)
        except Exception:  # display only: fall back to SymPy's own order
            self.shown[e.out] = self.defn[e.out]

    def differentiable(self, v: Value) -> bool:
        return v in self.names and v.type.dtype.differentiable

    def operands(self, v: Value, eqn: Any) -> list[Value]:
        """The distinct operands of ``eqn`` that carry derivatives."""
        return [u for u in dict.fromkeys(eqn.inputs) if self.differentiable(u)]

    def local(self, eqn: Any, u: Value) -> Any:
        """dv/du for ``v = eqn.out``, in the intermediates (``d exp(t)/dt = v``)."""
        v = eqn.out
        d = sp.diff(self.defn[v], self.sym[u])
        d = d.replace(sp.DiracDelta, lambda *_: sp.S.Zero)  # sign's derivative: 0, as in the generated code
        return _shortest(d, d.subs(self.defn[v], self.sym[v]))

    def intermediates(self, expand: bool) -> list[Line]:
        lines = []
        for e in self.eqns:
            v = e.out
            full = self.expand(self.defn[v], self.sym[v] if v.type.dtype.differentiable else None) if expand else None
            new = full is not None and full != self.defn[v]
            lines.append(Line(self.names[v], _tex_name(self.names[v]), self.shown[v], full, new, as_traced=True))
        return lines


def _check_scalar(graph: Graph, fn_name: str) -> None:
    arrays = [v for v in (*graph.inputs, *(e.out for e in graph.eqns), *graph.outputs) if v.type.rank]
    if arrays or len(graph.outputs) != 1:
        what = "array values" if arrays else f"{len(graph.outputs)} results"
        raise CliError(
            f"explain writes the chain-rule tables of scalar functions, and {fn_name} has {what}.\n"
            "See its derivative code with: dcompile show TARGET --mode grad --shape NAME=DIMS ..."
        )


def _literal(value: Any) -> Any:
    if value is True or value is False:
        return sp.true if value else sp.false
    if isinstance(value, float) and value.is_integer():
        return sp.Integer(int(value))
    return sp.Float(value)


def _shortest(*candidates: Any) -> Any:
    return min(candidates, key=sp.count_ops)


def _tidy(budget: list[int], expr: Any) -> Any:
    """``expr``, simplified when that is cheap and makes it shorter (``budget[0]``: calls left)."""
    expr = sp.sympify(expr)
    if not 2 < sp.count_ops(expr) <= SIMPLIFY_OPS or budget[0] <= 0:
        return expr
    budget[0] -= 1
    try:
        return _shortest(expr, sp.simplify(expr))
    except Exception:  # simplification is a nicety
        return expr


def _tex_name(name: str) -> str:
    return sp.latex(sp.Symbol(name))


def _ratio(top: str, bottom: str) -> tuple[str, str, sp.Symbol]:
    """``df/da``, its LaTeX and the symbol ``df_da`` that stands for it in longer formulas."""
    plain = f"d{top}/d{bottom}"
    tex = rf"\frac{{\partial {_tex_name(top)}}}{{\partial {_tex_name(bottom)}}}"
    return plain, tex, sp.Symbol(f"d{top}_d{bottom}")


class _Table:
    """Entries in order. Each is known to later ones by its formula while that is short, else by its
    symbol (``df_da``); a long entry is itself shown in terms of the entries it comes from."""

    def __init__(self, chain: _Chain, expand: bool) -> None:
        self.chain = chain
        self.expand = expand
        self.lines: list[Line] = []
        self.ref: dict[Value, Any] = {}  # what later entries substitute for this one
        self.symbol: dict[Value, sp.Symbol] = {}  # the entry's name inside formulas
        self.tex_names: dict[sp.Symbol, str] = {}
        self.plain_names: dict[sp.Symbol, str] = {}
        self.budget = [SIMPLIFY_CALLS]

    def add(self, v: Value, names: tuple[str, str, sp.Symbol], terms: list[tuple[Value, Any]], show: bool) -> None:
        """The entry for ``v``: the sum of ``ref(u) * factor`` over ``(u, factor)`` in ``terms``."""
        plain, tex, symbol = names
        formula = _tidy(self.budget, sp.Add(*(self.ref[u] * factor for u, factor in terms)))
        if sp.count_ops(formula) > SUBSTITUTE_OPS:
            formula = sp.Add(*(self.symbol[u] * factor for u, factor in terms))
            self.ref[v] = symbol
        else:
            self.ref[v] = formula
        self.symbol[v] = symbol
        self.tex_names[symbol] = tex
        self.plain_names[symbol] = plain
        full = self.chain.expand(formula, symbol) if self.expand else None
        if show:
            self.lines.append(Line(plain, tex, formula, full, new=full is not None and full != formula))

    def seed(self, v: Value, names: tuple[str, str, sp.Symbol], value: Any, show: bool) -> None:
        """An entry known outright (``df/df = 1``, ``dw1/dw1 = 1``)."""
        self.ref[v] = value
        self.symbol[v] = names[2]
        self.chain.expand(value, names[2])
        if show:
            self.lines.append(Line(names[0], names[1], value, value if self.expand else None))


def reverse_table(chain: _Chain, wrt: Sequence[Value], expand: bool) -> _Table:
    """Backpropagation: df/df = 1, then df/dv for every intermediate, last first, then the inputs."""
    table = _Table(chain, expand)
    out = chain.out_name
    terms: dict[Value, list[tuple[Value, Any]]] = {}
    for e in reversed(chain.eqns):
        v = e.out
        if not chain.differentiable(v):
            continue
        if v is chain.output:
            table.seed(v, _ratio(out, chain.names[v]), sp.S.One, show=True)
        else:
            table.add(v, _ratio(out, chain.names[v]), terms.get(v, []), show=True)
        for u in chain.operands(v, e):
            terms.setdefault(u, []).append((v, chain.local(e, u)))
    for x in chain.graph.inputs:
        if x is chain.output:
            table.seed(x, _ratio(out, chain.names[x]), sp.S.One, show=x in wrt)
        else:
            table.add(x, _ratio(out, chain.names[x]), terms.get(x, []), show=x in wrt)
    return table


def forward_table(chain: _Chain, x: Value, expand: bool, table: _Table | None = None) -> _Table:
    """Forward propagation along input ``x``: dv/dx for every intermediate, first to last."""
    table = table or _Table(chain, expand)
    x_name = chain.names[x]
    for u in chain.graph.inputs:
        table.seed(u, _ratio(chain.names[u], x_name), sp.S.One if u is x else sp.S.Zero, show=False)
    for e in chain.eqns:
        v = e.out
        if chain.differentiable(v):
            terms = [(u, chain.local(e, u)) for u in chain.operands(v, e)]
            table.add(v, _ratio(chain.names[v], x_name), terms, show=True)
    return table


def explain(graph: Graph, fn_name: str, *, forward: bool, wrt: Sequence[int], expand: bool) -> Explanation:
    """The intermediates of ``graph`` and its chain-rule table (see the module docstring)."""
    chain = _Chain(graph, fn_name)
    intermediates = chain.intermediates(expand)  # first: the tables' expansions build on theirs
    xs = [graph.inputs[i] for i in wrt]
    out = chain.out_name
    if forward:
        table = _Table(chain, expand)
        sections = []
        for x in xs:
            start = len(table.lines)
            forward_table(chain, x, expand, table)
            x_name = chain.names[x]
            sections.append(
                (
                    f"Forward propagation along {x_name}: dv/d{x_name} = sum over the operands u of v of "
                    f"dv/du * du/d{x_name}",
                    table.lines[start:],
                )
            )
    else:
        table = reverse_table(chain, xs, expand)
        rule = f"Backpropagation (reverse mode): d{out}/dv = sum over the consumers u of v of d{out}/du * du/dv"
        sections = [(rule, table.lines)]
    return Explanation(
        function=fn_name,
        inputs=[chain.names[v] for v in graph.inputs],
        output=chain.out_name,
        mode="forward" if forward else "reverse",
        wrt=[chain.names[x] for x in xs],
        intermediates=intermediates,
        table=table.lines,
        sections=sections,
        tex_names=table.tex_names,
        plain_names=table.plain_names,
    )


# -- output --------------------------------------------------------------------


def _plain(expr: Any, as_traced: bool = False) -> str:
    return sp.sstr(expr, order="none") if as_traced else sp.sstr(expr)


def format_plain(ex: Explanation) -> str:
    out = [f"{ex.function}({', '.join(ex.inputs)}): intermediates", *_plain_lines(ex.intermediates)]
    for heading, lines in ex.sections:
        out += ["", heading, *_plain_lines(lines)]
    named = [ref for line in ex.table for ref in line.formula.free_symbols if ref in ex.plain_names]
    if named:
        ref = min(named, key=str)
        out += ["", f"(a name such as {ref} in a formula stands for the entry {ex.plain_names[ref]} above)"]
    if any(line.expanded is None for line in ex.table) and any(line.expanded is not None for line in ex.intermediates):
        out += [f"(formulas whose expansion in the inputs exceeds {EXPAND_OPS} operations are not expanded)"]
    return "\n".join(out) + "\n"


def _plain_lines(lines: list[Line]) -> list[str]:
    if not lines:
        return ["  (none)"]
    out = []
    for line in lines:
        text = f"  {line.name} = {_plain(line.formula, line.as_traced)}"
        if line.new:
            text += f" = {_plain(line.expanded)}"
        out.append(text)
    return out


def format_latex(ex: Explanation) -> str:
    out = [f"% {ex.function}({', '.join(ex.inputs)}): intermediates", *_align(ex.intermediates, ex.tex_names)]
    for heading, lines in ex.sections:
        out += [f"% {heading}", *_align(lines, ex.tex_names)]
    return "\n".join(out) + "\n"


def _tex(expr: Any, names: dict[sp.Symbol, str], as_traced: bool = False) -> str:
    return sp.latex(expr, order="none" if as_traced else None, symbol_names=names)


def _align(lines: list[Line], names: dict[sp.Symbol, str]) -> list[str]:
    if not lines:
        return ["% (none)"]
    rows = []
    for line in lines:
        rows.append(f"{line.tex} &= {_tex(line.formula, names, line.as_traced)}")
        if line.new:
            rows.append(f"&= {_tex(line.expanded, names)}")
    return [r"\begin{align*}", *(r + r" \\" for r in rows[:-1]), *rows[-1:], r"\end{align*}"]


def as_data(ex: Explanation) -> dict[str, Any]:
    def entry(line: Line) -> dict[str, Any]:
        expanded = line.expanded is not None
        return {
            "name": line.name,
            "formula": _plain(line.formula, line.as_traced),
            "latex": _tex(line.formula, ex.tex_names, line.as_traced),
            "expanded": _plain(line.expanded) if expanded else None,
            "expanded_latex": _tex(line.expanded, ex.tex_names) if expanded else None,
        }

    return {
        "function": ex.function,
        "inputs": ex.inputs,
        "output": ex.output,
        "mode": ex.mode,
        "wrt": ex.wrt,
        "intermediates": [entry(line) for line in ex.intermediates],
        "table": [entry(line) for line in ex.table],
    }


# -- array functions ---------------------------------------------------------------
#
# SymPy formulas do not fit array code (slices, matmul, reductions), so an array
# function is explained in NumPy: its intermediates as statements, and the table
# read off the derivative graph the pipeline compiles (``dcompile show --mode grad
# --stage simplified``), each adjoint (or tangent) one entry in the intermediates
# and the entries before it.

# A temporary of the derivative graph is inlined at most this deep (longer lines stop being readable).
INLINE_DEPTH = 6
# Lines up to this long have their shape comments aligned in one column.
ALIGN_WIDTH = 56
# Scatter-like operations: their readable form (``zeros(n) with [i] += g``) is not NumPy, so
# their code is the emitter's statements.
_SCATTERS = frozenset({"pad", "pad_add", "scatter_add"})


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
        return [line for _, lines in self.sections for line in lines]


def is_array_graph(graph: Graph) -> bool:
    return any(v.type.rank for v in (*graph.inputs, *(e.out for e in graph.eqns), *graph.outputs))


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _zeros_src(shape: tuple[int, ...]) -> str:
    return f"zeros({shape[0] if len(shape) == 1 else _shape_text(shape)})"


class _Printer:
    """NumPy expressions for the equations of one graph, in the names ``names`` gives.

    ``inline``: values written into their consumer instead of by name. Each
    expression comes in two forms: readable (what is printed) and code (Python
    that computes it; the same text except for scatters, which become statements).
    """

    def __init__(self, graph: Graph, names: dict[Value, str], inline: set[Value], temps: Namer) -> None:
        self.producer = {e.out: e for e in graph.eqns}
        self.consts = {e.out: e.kwargs["value"] for e in graph.eqns if e.prim.literal}
        self.names = names
        self.inline = inline
        self.temps = temps

    def operand(self, v: Value, code: list[str] | None) -> tuple[str, int]:
        if v in self.consts:
            return format_literal(self.consts[v])
        if v in self.inline:
            return self.expr(self.producer[v], code)
        return self.names[v], PREC_ATOM

    def expr(self, e: Eqn, code: list[str] | None = None) -> tuple[str, int]:
        """The readable form (``code is None``), or the code form with statements appended to ``code``."""
        args = [self.operand(v, code) for v in e.inputs]
        types = [v.type for v in e.inputs]
        name = e.prim.name
        if name not in _SCATTERS:
            return e.prim.emit(args, e.kwargs, types)
        if code is not None:  # the emitter's statements, into a fresh temporary
            target = self.temps.fresh("scatter")
            srcs = [a if p >= PREC_ATOM else f"({a})" for a, p in args]
            code += e.prim.emit_lines(target, srcs, e.kwargs, types, e.out.type)
            return target, PREC_ATOM
        shape = e.out.type.shape
        if name == "pad":
            return f"{_zeros_src(shape)} with [{index_src(e.kwargs['index'], shape)}] += {args[0][0]}", 0
        if name == "pad_add":
            acc, g = args
            update = f"[{index_src(e.kwargs['index'], shape)}] += {g[0]}"
            if acc[1] == 0 and " with [" in acc[0]:  # a scatter inlined into this one: one list of updates
                return f"{acc[0]}, {update}", 0
            return f"{acc[0]} with {update}", 0
        return f"{_zeros_src(shape)} with [{args[1][0]}] += {args[0][0]}", 0  # scatter_add

    def line(self, e: Eqn, name: str, ident: str, kind: str) -> ArrayLine:
        code: list[str] = []
        src = self.expr(e, code)[0]
        return ArrayLine(
            name,
            ident,
            self.expr(e)[0],
            e.out.type.shape,
            e.out.type.dtype.value,
            kind,
            [*code, f"{ident} = {src}"],
        )


def _intermediates(graph: Graph, names: dict[Value, str], temps: Namer) -> list[ArrayLine]:
    printer = _Printer(graph, names, set(), temps)
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
        self.printer = _Printer(dgraph, self.names, self.inline, temps)

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
    try:
        if raw:
            with identities(False):
                return derive(graph, mode, wrt).graph
        return derive(graph, mode, wrt).graph
    except DcompileError as exc:
        raise CliError(str(exc)) from None


def _folded(graph: Graph, mode: str, wrt: Sequence[int], derivative: dict[str, tuple[str, str]], shown: set[str]):
    """Derivatives the chain rule names but simplification folded into others (constants, copies)."""
    raw = _derive(graph, mode, wrt, raw=True)
    hints = [raw.hints.get(e.out) for e in raw.eqns] + [h for b in raw.blocks for h, _ in b.aliases]
    return [derivative[h][0] for h in dict.fromkeys(hints) if h in derivative and derivative[h][0] not in shown]


def explain_array(graph: Graph, fn_name: str, *, forward: bool, wrt: Sequence[int]) -> ArrayExplanation:
    """The intermediates of an array function and its table, in NumPy (see the section comment)."""
    if len(graph.outputs) != 1:
        raise CliError(
            f"explain writes the table of a function with one result, and {fn_name} has {len(graph.outputs)}.\n"
            "See its derivative code with: dcompile show TARGET --mode jacobian --shape NAME=DIMS ..."
        )
    names = full_names(graph)
    temps = Namer({}, taken=set(names.values()))
    intermediates = _intermediates(graph, names, temps)
    result = graph.outputs[0]
    out = names.get(result, fn_name)
    sections: list[tuple[str, list[ArrayLine]]] = []
    notes: list[str] = []
    folded: list[str] = []
    if forward:
        for i in wrt:
            x = names[graph.inputs[i]]
            derivative = {f"d{n}": (f"d{n}/d{x}", f"d{n}_d{x}") for n in names.values() if n != x}
            dgraph = _derive(graph, "jvp", (i,))
            reader = _Reader(graph, names, dgraph, derivative=derivative, kind="tangent", temps=temps)
            direction = reader.names[dgraph.inputs[len(graph.inputs)]]
            lines = reader.lines([(dgraph.outputs[1], f"d{out}/d{x}", f"d{out}_d{x}")])
            shape = graph.inputs[i].type.shape
            what = f"an array shaped like {x}, {_shape_text(shape)}" if shape else f"a number, like {x}"
            heading = (
                f"Forward propagation along the tangent {direction} of {x} ({what}): dv/d{x} is the derivative "
                f"of v in the direction {direction}, the sum over the operands u of v of dv/du applied to du/d{x}"
            )
            sections.append((heading, lines))
            folded += _folded(graph, "jvp", (i,), derivative, {line.name for line in lines})
    else:
        if result.type.rank:
            raise CliError(
                f"backpropagation starts from a scalar result, and {fn_name} returns shape {result.type.shape}.\n"
                "Use --forward --wrt NAME, or see its Jacobian code with: dcompile show TARGET --mode jacobian ..."
            )
        derivative = {f"d{graph.name}_d{n}": (f"d{out}/d{n}", f"d{out}_d{n}") for n in names.values()}
        dgraph = _derive(graph, "grad", wrt)
        reader = _Reader(graph, names, dgraph, derivative=derivative, kind="adjoint", temps=temps)
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
        sections.append((heading, lines))
        folded += _folded(graph, "grad", wrt, derivative, {line.name for line in lines})
    table = [line for _, lines in sections for line in lines]
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
    return ArrayExplanation(
        function=fn_name,
        inputs=[names[v] for v in graph.inputs],
        shapes={names[v]: v.type.shape for v in graph.inputs},
        output=out,
        mode="forward" if forward else "reverse",
        wrt=[names[graph.inputs[i]] for i in wrt],
        intermediates=intermediates,
        sections=sections,
        notes=notes,
    )


def _array_lines(lines: list[ArrayLine]) -> list[str]:
    if not lines:
        return ["  (none)"]
    texts = [f"  {line.name} = {line.formula}" for line in lines]
    width = max((len(t) for t in texts if len(t) <= ALIGN_WIDTH), default=0)
    out = []
    for text, line in zip(texts, lines, strict=True):
        shape = _shape_text(line.shape) + ("" if line.dtype == "float64" else f" {line.dtype}")
        out.append(f"{text.ljust(width)}   # {shape}")
    return out


def format_array(ex: ArrayExplanation) -> str:
    args = ", ".join(f"{n}: {_shape_text(ex.shapes[n])}" for n in ex.inputs)
    out = [f"{ex.function}({args}): intermediates, in NumPy", *_array_lines(ex.intermediates)]
    for heading, lines in ex.sections:
        out += ["", heading, *_array_lines(lines)]
    if ex.notes:
        out += ["", *ex.notes]
    return "\n".join(out) + "\n"


def array_data(ex: ArrayExplanation) -> dict[str, Any]:
    def entry(line: ArrayLine) -> dict[str, Any]:
        return {
            "name": line.name,
            "formula": line.formula,
            "latex": None,
            "expanded": None,
            "expanded_latex": None,
            "id": line.ident,
            "shape": list(line.shape),
            "dtype": line.dtype,
            "kind": line.kind,
            "code": line.code,
        }

    return {
        "function": ex.function,
        "inputs": ex.inputs,
        "shapes": {n: list(s) for n, s in ex.shapes.items()},
        "output": ex.output,
        "mode": ex.mode,
        "wrt": ex.wrt,
        "intermediates": [entry(line) for line in ex.intermediates],
        "table": [entry(line) for line in ex.table],
        "sections": [{"heading": h, "entries": [line.name for line in lines]} for h, lines in ex.sections],
        "notes": ex.notes,
    }


# -- the command -----------------------------------------------------------------


@click.command(
    short_help="Write the derivation as the lecture notes do.",
    epilog="Examples:\n\n  dcompile explain model.py:f   (backpropagation)\n\n"
    "  dcompile explain model.py:f --forward --wrt w1\n\n"
    '  dcompile explain --expr "(x1 + w1)**2 * (x1*w1 + x2*w2)" --args x1,x2,w1,w2 --wrt w1 --expand\n\n'
    "  dcompile explain model.py:f --latex   (align* blocks)\n\n"
    "  dcompile explain model.py:rosen --shape x=100   (an array function: the table in NumPy)",
)
@target_options
@click.option("--wrt", help="comma-separated inputs: the forward direction(s); for reverse, the df/dx listed last")
@click.option(
    "--forward/--reverse",
    default=False,
    help="forward propagation along --wrt, or backpropagation (default)",
)
@click.option("--latex", is_flag=True, help="LaTeX align* blocks instead of plain text (scalar functions)")
@click.option(
    "--expand",
    is_flag=True,
    help="also write each formula in the inputs (the intermediates substituted; scalar functions)",
)
@json_option
def command(
    *,
    spec: TargetSpec,
    wrt: str | None,
    forward: bool,
    latex: bool,
    expand: bool,
    as_json: bool,
) -> int:
    """Write the derivation like the lecture notes: the intermediates, then the
    backpropagation (or forward-propagation) table, derived with SymPy; for
    array functions (--shape), in NumPy read off the derivative code."""
    target, expr, args_, name, shapes = spec.target, spec.expr, spec.args, spec.name, spec.shapes
    fn = function_of(target, expr, args_, name, backend="python")
    names = [w.strip() for w in wrt.split(",")] if wrt else None
    if forward and names is None:
        if len(fn.arg_names) != 1:
            raise CliError(
                f"--forward follows one input per sweep; name it with --wrt (one of {', '.join(fn.arg_names)})"
            )
        names = [fn.arg_names[0]]
    positions = fn.resolve_wrt(names)
    graph = _graph(fn, shapes)
    if is_array_graph(graph):
        _array_options(fn.name, latex=latex, expand=expand)
        if names is None:  # every float argument: integer arrays are data
            positions = tuple(i for i in positions if graph.inputs[i].type.dtype.differentiable) or positions
        arrays = explain_array(graph, fn.name, forward=forward, wrt=positions)
        if as_json:
            echo_json(array_data(arrays))
        else:
            click.echo(format_array(arrays), nl=False)
        return 0
    ex = explain(graph, fn.name, forward=forward, wrt=positions, expand=expand)
    if as_json:
        echo_json(as_data(ex))
    else:
        click.echo(format_latex(ex) if latex else format_plain(ex), nl=False)
    return 0


def _array_options(fn_name: str, *, latex: bool, expand: bool) -> None:
    offered = (
        (latex, "--latex", "LaTeX of array code is not offered"),
        (expand, "--expand", "formulas of array code in the inputs are not offered"),
    )
    for flag, option, why in offered:
        if flag:
            raise CliError(
                f"{option} is for scalar functions, and {fn_name} has array values: {why}.\n"
                f"Drop {option} for the table in NumPy, or see the derivative code with: "
                "dcompile show TARGET --mode grad --shape NAME=DIMS ..."
            )


def _graph(fn: Any, shapes: Sequence[str]) -> Graph:
    try:
        if shapes:
            fn.specialize(*example_args(fn, shapes))
        return fn.ir
    except DcompileError as exc:
        hint = (
            "see the derivative code with: dcompile show TARGET --mode grad --shape NAME=DIMS ..."
            if shapes
            else "without --shape, explain traces scalar functions; give each array argument's shape with "
            "--shape NAME=DIMS (e.g. --shape X=500x20), or see: dcompile show TARGET --mode grad --shape ..."
        )
        raise CliError(f"{exc}\n{hint}") from None
