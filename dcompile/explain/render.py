"""Printing an explanation: plain text, LaTeX ``align*`` blocks, or JSON-ready data.

Scalar explanations (:class:`~dcompile.explain.model.Explanation`) print as
``name = formula`` lines or LaTeX; array explanations
(:class:`~dcompile.explain.model.ArrayExplanation`) as NumPy lines with a
shape comment aligned in one column.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from dcompile.explain.model import ArrayExplanation, ArrayLine, Explanation, Line
from dcompile.explain.numpy_printer import shape_text
from dcompile.explain.symbolic import EXPAND_OPS

# Lines up to this long have their shape comments aligned in one column.
ALIGN_WIDTH = 56

# -- scalar functions: SymPy formulas ---------------------------------------------------


def _plain(expr: Any, as_traced: bool = False) -> str:
    """SymPy's text of ``expr`` (``as_traced``: operands in the order they were traced)."""
    return sp.sstr(expr, order="none") if as_traced else sp.sstr(expr)


def format_plain(ex: Explanation) -> str:
    """The intermediates, then each section of the table, then the notes on names and expansion."""
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
    """``  name = formula`` (``= expanded`` when that says more), or ``(none)``."""
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
    """The same as :func:`format_plain`, as LaTeX ``align*`` blocks under ``%`` headings."""
    out = [f"% {ex.function}({', '.join(ex.inputs)}): intermediates", *_align(ex.intermediates, ex.tex_names)]
    for heading, lines in ex.sections:
        out += [f"% {heading}", *_align(lines, ex.tex_names)]
    return "\n".join(out) + "\n"


def _tex(expr: Any, names: dict[sp.Symbol, str], as_traced: bool = False) -> str:
    """LaTeX of ``expr``, an entry's symbol (``df_da``) written as its fraction."""
    return sp.latex(expr, order="none" if as_traced else None, symbol_names=names)


def _align(lines: list[Line], names: dict[sp.Symbol, str]) -> list[str]:
    """One ``align*`` block: a row per line, the expanded form on a row of its own."""
    if not lines:
        return ["% (none)"]
    rows = []
    for line in lines:
        rows.append(f"{line.tex} &= {_tex(line.formula, names, line.as_traced)}")
        if line.new:
            rows.append(f"&= {_tex(line.expanded, names)}")
    return [r"\begin{align*}", *(r + r" \\" for r in rows[:-1]), *rows[-1:], r"\end{align*}"]


def as_data(ex: Explanation) -> dict[str, Any]:
    """The ``--json`` form: each line's formula as text and LaTeX, expanded or ``None``."""

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


# -- array functions: NumPy lines ------------------------------------------------------


def _array_lines(lines: list[ArrayLine]) -> list[str]:
    """``  name = formula   # shape`` with the comments aligned (long lines left out of the alignment)."""
    if not lines:
        return ["  (none)"]
    texts = [f"  {line.name} = {line.formula}" for line in lines]
    width = max((len(t) for t in texts if len(t) <= ALIGN_WIDTH), default=0)
    out = []
    for text, line in zip(texts, lines, strict=True):
        shape = shape_text(line.shape) + ("" if line.dtype == "float64" else f" {line.dtype}")
        out.append(f"{text.ljust(width)}   # {shape}")
    return out


def format_array(ex: ArrayExplanation) -> str:
    """The arguments with their shapes, the intermediates, each section of the table, then the notes."""
    args = ", ".join(f"{n}: {shape_text(ex.shapes[n])}" for n in ex.inputs)
    out = [f"{ex.function}({args}): intermediates, in NumPy", *_array_lines(ex.intermediates)]
    for heading, lines in ex.sections:
        out += ["", heading, *_array_lines(lines)]
    if ex.notes:
        out += ["", *ex.notes]
    return "\n".join(out) + "\n"


def array_data(ex: ArrayExplanation) -> dict[str, Any]:
    """The ``--json`` form, with the keys of :func:`as_data` and each entry's id, shape, dtype, kind and code."""

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
