"""The chain-rule tables, derived with SymPy from a :class:`~dcompile.explain.symbolic.Chain`.

* reverse mode (backpropagation, the default): ``df/dv = sum over the
  consumers u of v of df/du * du/dv``, from ``df/df = 1`` back to the inputs;
* forward mode (forward propagation): ``dv/dx = sum over the operands u of v
  of dv/du * du/dx``, from the input ``x`` to the output, one input per table.

Known entries are substituted into later ones (``df/da = df/dd * dd/da =
2*a*e``) while a formula stays short; a longer one refers to earlier entries
by the names the generated code uses (``df_da``), so a deep graph gives a
table that grows linearly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp

from dcompile.explain.model import Explanation, Line
from dcompile.explain.symbolic import Chain, shortest, tex_name
from dcompile.ir.graph import Graph, Value

# A derivative formula with more operations than this refers to earlier entries by name.
SUBSTITUTE_OPS = 16
# Formulas with at most this many operations are tried with sympy.simplify (kept only when shorter).
SIMPLIFY_OPS = 16
# ... and at most this many of them per table (about 0.1 s each), so a large graph stays quick.
SIMPLIFY_CALLS = 40


def _tidy(budget: list[int], expr: Any) -> Any:
    """``expr``, simplified when that is cheap and makes it shorter (``budget[0]``: calls left)."""
    expr = sp.sympify(expr)
    if not 2 < sp.count_ops(expr) <= SIMPLIFY_OPS or budget[0] <= 0:
        return expr
    budget[0] -= 1
    try:
        return shortest(expr, sp.simplify(expr))
    except Exception:  # simplification is a nicety
        return expr


def _ratio(top: str, bottom: str) -> tuple[str, str, sp.Symbol]:
    """``df/da``, its LaTeX and the symbol ``df_da`` that stands for it in longer formulas."""
    plain = f"d{top}/d{bottom}"
    tex = rf"\frac{{\partial {tex_name(top)}}}{{\partial {tex_name(bottom)}}}"
    return plain, tex, sp.Symbol(f"d{top}_d{bottom}")


class Table:
    """Entries in order. Each is known to later ones by its formula while that is short, else by its
    symbol (``df_da``); a long entry is itself shown in terms of the entries it comes from."""

    def __init__(self, chain: Chain, expand: bool) -> None:
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


def reverse_table(chain: Chain, wrt: Sequence[Value], expand: bool) -> Table:
    """Backpropagation: df/df = 1, then df/dv for every intermediate, last first, then the inputs."""
    table = Table(chain, expand)
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


def forward_table(chain: Chain, x: Value, expand: bool, table: Table | None = None) -> Table:
    """Forward propagation along input ``x``: dv/dx for every intermediate, first to last."""
    table = table or Table(chain, expand)
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
    chain = Chain(graph, fn_name)
    intermediates = chain.intermediates(expand)  # first: the tables' expansions build on theirs
    xs = [graph.inputs[i] for i in wrt]
    out = chain.out_name
    if forward:
        table = Table(chain, expand)
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
