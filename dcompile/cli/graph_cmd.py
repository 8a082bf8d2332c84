"""``dcompile graph``: the computational graph of a function or derivative as Graphviz DOT.

:func:`to_dot` turns a :class:`~dcompile.ir.graph.Graph` into DOT text: each
input is a box, each equation an ellipse labelled ``name = prim[params]`` with
its operands in order underneath (constants written there as literals, so the
picture needs no extra constant nodes), an edge from every value to each of
its uses, and a double border on the outputs, which also feed a ``return``
node. Values are named as in ``dcompile show --stage ir``. ``--format svg`` or
``png`` pipes the DOT through Graphviz's ``dot`` program when it is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import numpy as np

from dcompile.cli.common import (
    CliError,
    TargetSpec,
    cli_wording,
    derivative,
    function_of,
    mode_option,
    target_options,
    wrt_option,
)
from dcompile.errors import DcompileError
from dcompile.ir.graph import Graph, Value
from dcompile.ir.literals import format_literal
from dcompile.ir.naming import Namer

FORMATS = ("dot", "svg", "png")
NO_DOT = "Graphviz's dot program is not installed; install graphviz, or use --format dot and render elsewhere"
# Array constants longer than this are shown by their type, not their entries.
ARRAY_LABEL_LIMIT = 6


def _short(t: object) -> str:
    """``f64[3]`` for ``float64[3]``, as the IR listing writes types."""
    return str(t).replace("float64", "f64").replace("bool", "b1").replace("int64", "i64")


def _quote(text: str) -> str:
    """A DOT string literal (``\\n`` in ``text`` stays a centred line break)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _const_label(value: object) -> str:
    """A constant as an operand in a label: its literal, or ``[1.0, 2.0]``, or its type when large."""
    if not isinstance(value, np.ndarray):
        return format_literal(value)[0]
    if value.ndim == 1 and value.size <= ARRAY_LABEL_LIMIT:
        items = (str(x.item()) if value.dtype.kind in "biu" else format_literal(x.item())[0] for x in value)
        return "[" + ", ".join(items) + "]"
    return f"const {_short(value.dtype)}[{','.join(str(n) for n in value.shape)}]"


def _type_line(v: Value) -> str:
    """The type of a value, shown under its node unless it is a plain float scalar."""
    return "" if v.type.rank == 0 and _short(v.type) == "f64[]" else "\n" + _short(v.type)


class _Dot:
    """Names and labels of one graph's nodes (named as the IR listing names them)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.namer = Namer(dict(graph.hints))
        self.consts = {e.out: e.kwargs["value"] for e in graph.eqns if e.prim.literal}
        for v in graph.inputs:
            self.namer(v)
        for e in graph.eqns:
            if not e.prim.literal:
                self.namer(e.out)
        self.outputs = set(graph.outputs)

    def node(self, v: Value) -> str:
        return _quote(self.namer(v))

    def ref(self, v: Value) -> str:
        """How an operand is written in a label: its name, or a constant's literal."""
        return _const_label(self.consts[v]) if v in self.consts else self.namer(v)

    def attrs(self, v: Value, label: str) -> str:
        return f"label={_quote(label)}" + (", peripheries=2" if v in self.outputs else "")

    def inputs(self) -> list[str]:
        style = "shape=box, style=filled, fillcolor=lightblue"
        return [
            f"  {self.node(v)} [{style}, {self.attrs(v, self.namer(v) + _type_line(v))}];" for v in self.graph.inputs
        ]

    def equations(self) -> tuple[list[str], list[str]]:
        """The equation nodes, and the edges from each value to its uses."""
        nodes: list[str] = []
        edges: list[str] = []
        for e in self.graph.eqns:
            if e.prim.literal:
                continue
            params = ", ".join(f"{k}={v!r}" for k, v in e.params)
            head = f"{e.prim.name}[{params}]" if params else e.prim.name
            operands = ", ".join(self.ref(v) for v in e.inputs)
            label = f"{self.namer(e.out)} = {head}\n({operands}){_type_line(e.out)}"
            nodes.append(f"  {self.node(e.out)} [shape=ellipse, {self.attrs(e.out, label)}];")
            # One edge per distinct operand: the label gives their order.
            edges += [
                f"  {self.node(v)} -> {self.node(e.out)};" for v in dict.fromkeys(e.inputs) if v not in self.consts
            ]
        return nodes, edges

    def returns(self) -> list[str]:
        """The ``return`` node, fed by each output (a constant output gets a small node of its own)."""
        outputs = self.graph.outputs
        ret = _quote("#return")
        lines = [f"  {ret} [shape=plaintext, label={_quote('return ' + ', '.join(self.ref(v) for v in outputs))}];"]
        for k, v in enumerate(outputs):
            label = f" [label={_quote(str(k))}]" if len(outputs) > 1 else ""
            if v in self.consts:
                const = _quote(f"#const{k}")
                lines.append(f"  {const} [shape=plaintext, fontsize=9, label={_quote(self.ref(v))}];")
                lines.append(f"  {const} -> {ret}{label};")
            else:
                lines.append(f"  {self.node(v)} -> {ret}{label};")
        return lines


def to_dot(graph: Graph) -> str:
    """The Graphviz DOT source of ``graph`` (deterministic: same graph, same text)."""
    dot = _Dot(graph)
    nodes, edges = dot.equations()
    lines = [
        f"digraph {_quote(graph.name)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
        "  // inputs",
        *dot.inputs(),
        "  // equations: name = prim[params], operands below",
        *nodes,
        "  // edges: from each value to its uses",
        *edges,
        "  // outputs",
        *dot.returns(),
        "}",
    ]
    return "\n".join(lines) + "\n"


def render(dot_source: str, fmt: str) -> bytes:
    """``dot_source`` rendered by Graphviz's ``dot`` as ``fmt`` (svg or png)."""
    exe = shutil.which("dot")
    if exe is None:
        raise CliError(NO_DOT)
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=dot_source.encode(), capture_output=True, check=False)
    except OSError as exc:
        raise CliError(f"cannot run {exe}: {exc}") from None
    if done.returncode != 0:
        raise CliError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


@click.command(
    short_help="Print the computational graph.",
    epilog="Examples:\n\n  dcompile graph model.py:f > f.dot\n\n"
    "  dcompile graph model.py:f --mode grad --format svg -o f_grad.svg   (needs Graphviz)\n\n"
    "  dcompile graph model.py:loss --shape w=20 --shape X=500x20 --shape y=500",
)
@target_options
@mode_option(default="f")
@wrt_option
@click.option("--format", "fmt", default="dot", show_default=True, type=click.Choice(FORMATS), help="output format")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write to this file (default: standard output; needed for png)",
)
def command(
    *,
    spec: TargetSpec,
    mode: str,
    wrt: str | None,
    fmt: str,
    output: Path | None,
) -> int:
    """Print the computational graph of a function (or of its derivative, with --mode) as Graphviz DOT."""
    target, expr, args_, name, shapes = spec.target, spec.expr, spec.args, spec.name, spec.shapes
    if fmt != "dot" and shutil.which("dot") is None:
        raise CliError(NO_DOT)
    if fmt == "png" and output is None and sys.stdout.isatty():
        raise CliError("--format png writes binary data: give -o FILE or redirect the output")
    if output is not None and not output.parent.is_dir():
        raise CliError(f"cannot write {output}: no such directory {output.parent}")
    fn = function_of(target, expr, args_, name)
    d = derivative(fn, mode, wrt, shapes)
    try:
        graph = d.ir
    except DcompileError as exc:
        if shapes:
            raise
        raise CliError(cli_wording(str(exc))) from None
    text = to_dot(graph)
    data = text.encode() if fmt == "dot" else render(text, fmt)
    if output is not None:
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output} ({fmt}, {len(graph.inputs)} inputs, {graph.n_statements} equations)", err=True)
    elif fmt == "dot":
        click.echo(text, nl=False)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0
