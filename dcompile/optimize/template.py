"""Generated modules made from real ones: a template module, copied with its bindings replaced.

numba caches module-level functions on disk, not closures, so one objective's
loops live in a module of their own that binds the objective's compiled
kernels as globals (:mod:`dcompile.optimize.driver`,
:mod:`dcompile.sums.finite_sum`). Their code is written once, in ordinary
modules of the package that ruff and mypy check (``driver_template.py``,
``sums/rowloops_template.py``, ``sums/hvp_template.py``); each binds
placeholders between two marker lines::

    # -- bindings: replaced in each generated module --
    vg = StaticKernel(None)
    # -- end of bindings --

:func:`instantiate` copies such a template with a new docstring, the block
between the markers replaced by the objective's imports and bindings, the
functions it does not serve left out and, for the row loops, the data
placeholder ``data`` spelled out as the data items ``d0, d1, ...``. Nothing
else of the text changes.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Collection
from pathlib import Path

BEGIN = "# -- bindings: replaced in each generated module --"
END = "# -- end of bindings --"
DATA = "data"  # the placeholder for the data items, in templates with rows


def instantiate(
    template: Path,
    header: str,
    bindings: str,
    *,
    omit: Collection[str] = (),
    n_data: int | None = None,
) -> str:
    """The generated module's text: ``header`` (its docstring, comments) and ``template`` after its
    docstring, with the bindings block replaced by ``bindings``, the top-level functions named in
    ``omit`` left out and (``n_data`` given) the placeholder ``data`` spelled out for ``n_data`` items."""
    source = template.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    drop: set[int] = set()  # 0-based line numbers
    first = tree.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        drop.update(range(first.end_lineno or 0))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in omit:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            end = node.end_lineno or start
            while end < len(lines) and not lines[end].strip():  # and the blank lines after it
                end += 1
            drop.update(range(start, end))
    begin, end = lines.index(BEGIN + "\n"), lines.index(END + "\n")
    kept = [*(lines[k] for k in range(begin) if k not in drop), bindings]
    kept += (lines[k] for k in range(end + 1, len(lines)) if k not in drop)
    body = "".join(kept).lstrip("\n")
    if n_data is not None:
        body = spell_data(body, n_data)
    return f"{header.rstrip()}\n\n{body}"


def spell_data(source: str, n_data: int) -> str:
    """``source`` with the placeholder ``data`` spelled out for ``n_data`` data items:
    ``data[i]`` (a row) becomes ``d0[i], d1[i], ...``, ``data.shape`` (the first item's)
    ``d0.shape``, any other ``data`` (parameters, arguments) ``d0, d1, ...``. Only the name
    is replaced, never the word in a docstring or comment."""
    items = [f"d{k}" for k in range(n_data)]
    lines = source.splitlines(keepends=True)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for k in reversed(range(len(tokens))):  # right to left: a replacement keeps the columns before it
        token = tokens[k]
        if token.type != tokenize.NAME or token.string != DATA:
            continue
        after = [t.string for t in tokens[k + 1 : k + 4]]
        end = token.end
        if after == ["[", "i", "]"]:
            end, text = tokens[k + 3].end, ", ".join(f"{d}[i]" for d in items)
        elif after[:1] == ["."]:
            text = items[0]
        else:
            text = ", ".join(items)
        (row, col), (_, end_col) = token.start, end
        line = lines[row - 1]
        lines[row - 1] = line[:col] + text + line[end_col:]
    return "".join(lines)
