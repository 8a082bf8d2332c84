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

from dcompile.backend.literals import format_literal
from dcompile.cli.common import CliError, derivative, function_of, mode_option, target_options, wrt_option
from dcompile.errors import DcompileError
from dcompile.ir.graph import Graph, Value
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
    if isinstance(value, np.ndarray) and value.size > ARRAY_LABEL_LIMIT:
        return f"const {_short(value.dtype)}[{','.join(str(n) for n in value.shape)}]"
    return format_literal(value)[0]


def _type_line(v: Value) -> str:
    """The type of a value, shown under its node unless it is a plain float scalar."""
    return "" if v.type.rank == 0 and _short(v.type) == "f64[]" else "\n" + _short(v.type)


def to_dot(graph: Graph) -> str:
    """The Graphviz DOT source of ``graph`` (deterministic: same graph, same text)."""
    namer = Namer(dict(graph.hints))
    consts = {e.out: e.kwargs["value"] for e in graph.eqns if e.prim.literal}
    for v in graph.inputs:
        namer(v)
    for e in graph.eqns:
        if not e.prim.literal:
            namer(e.out)
    outputs = set(graph.outputs)

    def node(v: Value) -> str:
        return _quote(namer(v))

    def ref(v: Value) -> str:
        return _const_label(consts[v]) if v in consts else namer(v)

    def extra(v: Value) -> str:
        return ", peripheries=2" if v in outputs else ""

    lines = [
        f"digraph {_quote(graph.name)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
        "  // inputs",
    ]
    for v in graph.inputs:
        label = namer(v) + _type_line(v)
        lines.append(f"  {node(v)} [shape=box, style=filled, fillcolor=lightblue, label={_quote(label)}{extra(v)}];")
    lines.append("  // equations: name = prim[params], operands below")
    edges: list[str] = []
    for e in graph.eqns:
        if e.prim.literal:
            continue
        params = ", ".join(f"{k}={v!r}" for k, v in e.params)
        head = f"{e.prim.name}[{params}]" if params else e.prim.name
        operands = ", ".join(ref(v) for v in e.inputs)
        label = f"{namer(e.out)} = {head}\n({operands}){_type_line(e.out)}"
        lines.append(f"  {node(e.out)} [shape=ellipse, label={_quote(label)}{extra(e.out)}];")
        for v in dict.fromkeys(e.inputs):  # one edge per distinct operand; the label gives the order
            if v not in consts:
                edges.append(f"  {node(v)} -> {node(e.out)};")
    lines.append("  // edges: from each value to its uses")
    lines += edges
    lines.append("  // outputs")
    ret = _quote("#return")
    returned = ", ".join(ref(v) for v in graph.outputs)
    lines.append(f"  {ret} [shape=plaintext, label={_quote('return ' + returned)}];")
    for k, v in enumerate(graph.outputs):
        label = f" [label={_quote(str(k))}]" if len(graph.outputs) > 1 else ""
        if v in consts:  # a constant output (a zero derivative): a small node of its own
            const = _quote(f"#const{k}")
            lines.append(f"  {const} [shape=plaintext, fontsize=9, label={_quote(ref(v))}];")
            lines.append(f"  {const} -> {ret}{label};")
        else:
            lines.append(f"  {node(v)} -> {ret}{label};")
    lines.append("}")
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
    epilog="Examples:\n\n  dcompile graph model.py:f > f.dot\n\n"
    "  dcompile graph model.py:f --mode grad --format svg -o f_grad.svg   (needs Graphviz)\n\n"
    "  dcompile graph model.py:loss --shape w=20 --shape X=500x20 --shape y=500"
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
    target: str | None,
    expr: str | None,
    args_: str | None,
    name: str,
    shapes: tuple[str, ...],
    mode: str,
    wrt: str | None,
    fmt: str,
    output: Path | None,
) -> int:
    """Print the computational graph of a function (or of its derivative, with --mode) as Graphviz DOT."""
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
        raise CliError(f"{exc}\nFor array arguments give their shapes: --shape NAME=DIMS, e.g. --shape x=100") from None
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
