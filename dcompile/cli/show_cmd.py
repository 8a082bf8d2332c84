"""``dcompile show``: print one stage of the pipeline for a function or derivative."""

from __future__ import annotations

from typing import Any

import click

from dcompile.cli.common import (
    CliError,
    TargetSpec,
    cli_wording,
    derivative,
    echo_json,
    echo_source,
    function_of,
    json_option,
    mode_option,
    target_options,
    wrt_option,
)
from dcompile.errors import DcompileError
from dcompile.ir.tracer import identities
from dcompile.pipeline import derive

STAGES = ("ir", "derivative-ir", "simplified", "source")


@click.command(
    short_help="Print the SSA graph or the generated code.",
    epilog="\b\nExamples:\n  dcompile show model.py:f --mode grad --wrt w1,w2\n"
    "  dcompile show model.py:f --stage derivative-ir   # the raw chain rule, before simplification\n"
    "  dcompile show model.py:loss --shape w=20 --shape X=500x20 --shape y=500\n"
    '  dcompile show --expr "sin(x) * y" --args x,y --mode hessian',
)
@target_options
@mode_option()
@wrt_option
@click.option(
    "--stage",
    default="source",
    show_default=True,
    type=click.Choice(STAGES),
    help="ir: the traced function; derivative-ir: the derivative before simplification; "
    "simplified: after it (what is compiled); source: the emitted Python",
)
@json_option
def command(
    *,
    spec: TargetSpec,
    mode: str,
    wrt: str | None,
    stage: str,
    as_json: bool,
) -> int:
    """Print the SSA graph, the derivative graph or the generated Python source."""
    target, expr, args_, name, shapes = spec.target, spec.expr, spec.args, spec.name, spec.shapes
    fn = function_of(target, expr, args_, name)
    d = derivative(fn, mode, wrt, shapes)
    try:
        text = _stage_text(d, stage)
    except DcompileError as exc:
        if shapes:
            raise
        raise CliError(cli_wording(str(exc))) from None
    if as_json:
        echo_json({"function": fn.name, "mode": mode, "wrt": list(d.wrt_names), "stage": stage, "text": text})
    elif stage == "source":
        echo_source(text)
    else:
        click.echo(text)
    return 0


def _stage_text(d: Any, stage: str) -> str:
    if stage == "ir":
        return str(d.fn.graph(d.sig))
    if stage == "derivative-ir":
        with identities(False):
            return str(derive(d.fn.graph(d.sig), d.mode, d.wrt).graph)
    if stage == "simplified":
        return str(d.ir)
    return d.source
