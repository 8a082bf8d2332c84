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
The tables are for scalar functions: array programs are refused with a
pointer to ``dcompile show``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
import sympy as sp

from dcompile.cli.common import CliError, echo_json, example_args, function_of, json_option, target_options
from dcompile.errors import DcompileError
from dcompile.ir.graph import Graph, Value
from dcompile.ir.naming import Namer

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


# -- the command -----------------------------------------------------------------


@click.command(
    epilog="Examples:\n\n  dcompile explain model.py:f   (backpropagation)\n\n"
    "  dcompile explain model.py:f --forward --wrt w1\n\n"
    '  dcompile explain --expr "(x1 + w1)**2 * (x1*w1 + x2*w2)" --args x1,x2,w1,w2 --wrt w1 --expand\n\n'
    "  dcompile explain model.py:f --latex   (align* blocks)"
)
@target_options
@click.option("--wrt", help="comma-separated inputs: the forward direction(s); for reverse, the df/dx listed last")
@click.option(
    "--forward/--reverse",
    default=False,
    help="forward propagation along --wrt, or backpropagation (default)",
)
@click.option("--latex", is_flag=True, help="LaTeX align* blocks instead of plain text")
@click.option("--expand", is_flag=True, help="also write each formula in the inputs (the intermediates substituted)")
@json_option
def command(
    *,
    target: str | None,
    expr: str | None,
    args_: str | None,
    name: str,
    shapes: tuple[str, ...],
    wrt: str | None,
    forward: bool,
    latex: bool,
    expand: bool,
    as_json: bool,
) -> int:
    """Write the derivation like the lecture notes: the intermediates, then the
    backpropagation (or forward-propagation) table, derived with SymPy."""
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
    ex = explain(graph, fn.name, forward=forward, wrt=positions, expand=expand)
    if as_json:
        echo_json(as_data(ex))
    else:
        click.echo(format_latex(ex) if latex else format_plain(ex), nl=False)
    return 0


def _graph(fn: Any, shapes: Sequence[str]) -> Graph:
    try:
        if shapes:
            fn.specialize(*example_args(fn, shapes))
        return fn.ir
    except DcompileError as exc:
        raise CliError(
            f"{exc}\nexplain writes the chain-rule tables of scalar functions; for array code use "
            "dcompile show TARGET --mode grad --shape NAME=DIMS ..."
        ) from None
