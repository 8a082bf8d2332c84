"""A scalar graph raised to SymPy: one symbol per intermediate, with its local partials.

:class:`Chain` gives each input and intermediate of a traced scalar graph a
real SymPy symbol named as the listing names it (``a``, ``b``, ``t0``, ...),
its defining formula in its operands' symbols, and the local partial
``dv/du`` of each equation. :class:`Expander` writes formulas in the inputs
instead, while that stays short. The chain-rule tables
(:mod:`dcompile.explain.tables`) are built from these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp

from dcompile.explain.model import ExplainError, Line
from dcompile.ir.graph import Eqn, Graph, Value
from dcompile.ir.naming import Namer

# An expanded formula (in the inputs) longer than this is left out: expansion grows exponentially with depth.
EXPAND_OPS = 400


class Expander:
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


class Chain:
    """A scalar graph raised to SymPy, one symbol per intermediate, with its local partials."""

    def __init__(self, graph: Graph, fn_name: str) -> None:
        check_scalar(graph, fn_name)
        namer = Namer(dict(graph.hints))
        self.graph = graph
        self.names: dict[Value, str] = {v: namer(v) for v in graph.inputs}
        self.sym: dict[Value, Any] = {v: sp.Symbol(self.names[v], real=True) for v in graph.inputs}
        self.defn: dict[Value, Any] = {}  # the right-hand side, in the operands' symbols
        self.shown: dict[Value, Any] = {}  # the same, unevaluated: operands in the traced order
        self.expand = Expander(list(self.sym.values()))
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

    def _raise(self, e: Eqn, fn_name: str) -> None:
        """Record ``e``'s formula in its operands' symbols, evaluated and as traced."""
        if e.prim.to_sympy is None:
            raise ExplainError(
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
        """Whether ``v`` is an input or intermediate that carries derivatives (not a constant or condition)."""
        return v in self.names and v.type.dtype.differentiable

    def operands(self, v: Value, eqn: Eqn) -> list[Value]:
        """The distinct operands of ``eqn`` that carry derivatives."""
        return [u for u in dict.fromkeys(eqn.inputs) if self.differentiable(u)]

    def local(self, eqn: Eqn, u: Value) -> Any:
        """dv/du for ``v = eqn.out``, in the intermediates (``d exp(t)/dt = v``)."""
        v = eqn.out
        d = sp.diff(self.defn[v], self.sym[u])
        d = d.replace(sp.DiracDelta, lambda *_: sp.S.Zero)  # sign's derivative: 0, as in the generated code
        return shortest(d, d.subs(self.defn[v], self.sym[v]))

    def intermediates(self, expand: bool) -> list[Line]:
        """``v = formula`` for each equation, as traced (with ``expand``: also in the inputs)."""
        lines = []
        for e in self.eqns:
            v = e.out
            full = self.expand(self.defn[v], self.sym[v] if v.type.dtype.differentiable else None) if expand else None
            new = full is not None and full != self.defn[v]
            lines.append(Line(self.names[v], tex_name(self.names[v]), self.shown[v], full, new, as_traced=True))
        return lines


def check_scalar(graph: Graph, fn_name: str) -> None:
    """Refuse a graph with array values or several results: its table is not SymPy's to write."""
    arrays = [v for v in (*graph.inputs, *(e.out for e in graph.eqns), *graph.outputs) if v.type.rank]
    if arrays or len(graph.outputs) != 1:
        what = "array values" if arrays else f"{len(graph.outputs)} results"
        raise ExplainError(
            f"explain writes the chain-rule tables of scalar functions, and {fn_name} has {what}.\n"
            "See its derivative code with: dcompile show TARGET --mode grad --shape NAME=DIMS ..."
        )


def _literal(value: Any) -> Any:
    """A constant of the graph as SymPy writes it (``2.0`` as ``2``, so ``a**2`` reads as in the notes)."""
    if value is True or value is False:
        return sp.true if value else sp.false
    if isinstance(value, float) and value.is_integer():
        return sp.Integer(int(value))
    return sp.Float(value)


def shortest(*candidates: Any) -> Any:
    """The candidate with the fewest SymPy operations (the first of equals)."""
    return min(candidates, key=sp.count_ops)


def tex_name(name: str) -> str:
    """The LaTeX of a variable name (``w1`` -> ``w_{1}``)."""
    return sp.latex(sp.Symbol(name))
