"""NumPy text for the equations of a graph: what ``dcompile explain`` prints for array functions.

Each expression comes in two forms: readable (printed in the table) and code
(Python that computes it). They are the same text except for the scatters
(``pad``, ``pad_add``, ``scatter_add``), whose readable form ``zeros(n) with
[i] += g`` is not NumPy, so their code is the emitter's statements.
"""

from __future__ import annotations

from dcompile.explain.model import ArrayLine
from dcompile.ir.graph import Eqn, Graph, Value
from dcompile.ir.literals import format_literal
from dcompile.ir.naming import Namer
from dcompile.ir.primitive import PREC_ATOM
from dcompile.primitives.arrays import index_src

# Scatter-like operations: their readable form (``zeros(n) with [i] += g``) is not NumPy, so
# their code is the emitter's statements.
_SCATTERS = frozenset({"pad", "pad_add", "scatter_add"})


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as Python writes the tuple: ``()``, ``(3,)``, ``(5, 3)``."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _zeros_src(shape: tuple[int, ...]) -> str:
    """``zeros(3)``, ``zeros((5, 3))``: the array a scatter starts from."""
    return f"zeros({shape[0] if len(shape) == 1 else shape_text(shape)})"


class Printer:
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
        """``v`` as an operand: a literal, its inlined expression or its name; with its precedence."""
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
            emit_lines = e.prim.emit_lines
            assert emit_lines is not None, f"{name} is emitted as statements"
            target = self.temps.fresh("scatter")
            srcs = [a if p >= PREC_ATOM else f"({a})" for a, p in args]
            code += emit_lines(target, srcs, e.kwargs, types, e.out.type)
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
        """The entry ``name = e``, computed by code that assigns ``ident``."""
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
