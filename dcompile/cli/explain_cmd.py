"""``dcompile explain``: the derivation as the lecture notes write it.

The command parses its options, traces the function and prints what the
engine in :mod:`dcompile.explain` derives: for a scalar function the
intermediates and a chain-rule table in SymPy (plain text, ``--latex``, with
``--expand`` each formula also in the inputs); for an array function (given
with ``--shape``) the same in NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from dcompile.cli.common import CliError, TargetSpec, echo_json, example_args, function_of, json_option, target_options
from dcompile.errors import DcompileError
from dcompile.explain import (
    ExplainError,
    array_data,
    as_data,
    explain,
    explain_array,
    format_array,
    format_latex,
    format_plain,
    is_array_graph,
)
from dcompile.ir.graph import Graph


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
    try:
        if is_array_graph(graph):
            _array_options(fn.name, latex=latex, expand=expand)
            if names is None:  # every float argument: integer arrays are data
                positions = tuple(i for i in positions if graph.inputs[i].type.dtype.differentiable) or positions
            arrays = explain_array(graph, fn.name, forward=forward, wrt=positions)
            _echo(array_data(arrays) if as_json else format_array(arrays))
            return 0
        ex = explain(graph, fn.name, forward=forward, wrt=positions, expand=expand)
    except ExplainError as exc:
        raise CliError(str(exc)) from None
    _echo(as_data(ex) if as_json else format_latex(ex) if latex else format_plain(ex))
    return 0


def _echo(out: str | dict[str, Any]) -> None:
    """Text as it is, data as JSON."""
    if isinstance(out, str):
        click.echo(out, nl=False)
    else:
        echo_json(out)


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
