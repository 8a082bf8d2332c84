"""Split a long generated function into bounded part functions (issue 7).

numba's compile time grows faster than linearly with the length of one
straight-line function: its lowering has a pass that scans the whole block
once per variable, and LLVM is handed one huge function. The unrolled
gradient of an 800-step scalar chain (6,400 statements) takes minutes as
one function. Split into parts of a few hundred statements, each part costs
about the same to compile, so the whole costs time linear in its length.

The split works on the emitted statements, so it applies to every layout:

* The body (after the shape guards) is parsed with :mod:`ast`; each top-level
  statement, with the comment lines before it, is one unit. A compound
  statement (a fused ``for`` loop, the ``for _j`` loop of a Jacobian) is one
  unit and never split.
* Units are grouped into consecutive parts of about ``size`` lines. Within a
  window around each target size the boundary goes where the fewest values
  are live (defined before, read after), preferring the start of a comment
  block (the adjoint block of one primal statement).
* Each part becomes a function ``<function>_part<k>`` in the same module.
  Values one part computes and a later part reads cross the boundary in one
  of two ways: float scalars (the bulk of an unrolled graph) are stored into
  a scratch array ``_s`` that the main function allocates, and loaded by the
  parts that read them (``t_40 = _s[12]``); anything else (arrays, booleans,
  integers, values of unknown type) is returned by its part and passed as an
  argument to the parts that read it. Arguments of the main function go to
  the parts that read them. The last part ends with the original ``return``.
  A float stored and loaded again is the same float: results are
  bit-for-bit those of the unsplit function.

The main function is then a short list of calls. Scalars travel through
``_s`` rather than as arguments because the gradient's forward sweep keeps
every intermediate alive until the reverse sweep: passed as arguments, the
main function would bind thousands of names, and it would be the long
straight-line function again.

Small functions (at most ``threshold`` lines, the ones users read most) are
left as they are, byte for byte. Bodies the split does not understand (a
``return`` before the end, nested functions, ``global``) are left whole.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Collection, Sequence
from dataclasses import dataclass

INDENT = "    "
# Lines per part, and the body length above which a function is split. Chosen by
# measurement (docs/design.md, "Compile time that scales"): parts of this size
# compile in roughly constant time each, and small functions stay one function.
PART_SIZE = 300
THRESHOLD = 600
# A boundary is placed within [LOW, HIGH] x PART_SIZE lines of the part's start.
LOW, HIGH = 0.75, 1.25
LINE_WIDTH = 100

_UNSUPPORTED = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.Global,
    ast.Nonlocal,
    ast.Yield,
    ast.YieldFrom,
    ast.Await,
    ast.Try,
    ast.With,
    ast.Import,
    ast.ImportFrom,
    ast.Delete,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.NamedExpr,
    ast.Return,  # only as the last statement, which is scanned apart
)


@dataclass(frozen=True)
class Split:
    """A function body split into parts.

    Attributes:
        body: the new body of the main function (unindented lines): allocate
            the scratch array, call the parts in order, return the last one's result.
        parts: the part functions, each as the unindented lines of a module-level ``def``.
        names: the part functions' names, in order.
    """

    body: list[str]
    parts: list[list[str]]
    names: list[str]


@dataclass
class _Unit:
    """One top-level statement with the comment lines before it."""

    lines: list[str]
    size: int  # lines of code
    reads: list[str]  # names read before this statement writes them, in order
    writes: set[str]
    comment: bool  # starts with a comment line (a block boundary)


def split_body(
    function: str,
    params: Sequence[str],
    body: Sequence[str],
    scalars: Collection[str],
    *,
    size: int | None = None,
    threshold: int | None = None,
) -> Split | None:
    """``body`` split into parts of about ``size`` lines, or None if it is short or not splittable.

    ``params`` are the main function's parameters; ``scalars`` the names known
    to hold float64 scalars (they cross part boundaries through the scratch
    array); ``body`` the main function's statements, unindented, ending with
    its ``return``. ``size`` and ``threshold`` default to PART_SIZE and THRESHOLD
    (read at call time, so that a benchmark can set them).
    """
    size = PART_SIZE if size is None else size
    threshold = THRESHOLD if threshold is None else threshold
    if sum(1 for line in body if line.strip() and not line.lstrip().startswith("#")) <= threshold:
        return None
    units = _units(body)
    if units is None or len(units) < 2:
        return None
    bounds = _boundaries(units, size)
    if len(bounds) < 3:
        return None
    groups = [units[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return _assemble(function, list(params), groups, set(scalars))


# -- analysis -----------------------------------------------------------------------
def _units(body: Sequence[str]) -> list[_Unit] | None:
    """The top-level statements of ``body`` with what they read and write; None if unsupported."""
    try:
        tree = ast.parse("\n".join(body))
    except SyntaxError:
        return None
    stmts = tree.body
    if not stmts or not isinstance(stmts[-1], ast.Return):
        return None
    if any(b.lineno <= (a.end_lineno or a.lineno) for a, b in zip(stmts, stmts[1:], strict=False)):
        return None  # two statements on one line
    units: list[_Unit] = []
    start = 0
    for k, node in enumerate(stmts):
        end = len(body) if k == len(stmts) - 1 else node.end_lineno or node.lineno
        lines = list(body[start:end])
        reads: list[str] = []
        writes: set[str] = set()
        try:
            if isinstance(node, ast.Return):  # the last statement
                if node.value is not None:
                    _loads(node.value, reads, writes)
            else:
                _scan([node], reads, writes)
        except _Unsupported:
            return None
        comment = bool(lines) and lines[0].lstrip().startswith("#")
        code = (node.end_lineno or node.lineno) - node.lineno + 1
        units.append(_Unit(lines, code, reads, writes, comment))
        start = end
    return units


def _scan(stmts: Sequence[ast.stmt], reads: list[str], writes: set[str]) -> None:
    """Names read before being written (appended to ``reads``) and names written, in execution order."""
    for node in stmts:
        if isinstance(node, ast.For):
            _loads(node.iter, reads, writes)
            _stores(node.target, reads, writes)
            _scan(node.body, reads, writes)
            _scan(node.orelse, reads, writes)
        elif isinstance(node, (ast.If, ast.While)):
            _loads(node.test, reads, writes)
            _scan(node.body, reads, writes)
            _scan(node.orelse, reads, writes)
        else:
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                _read(node.target.id, reads, writes)
            _loads(node, reads, writes)
            for target in _targets(node):
                _stores(target, reads, writes)


def _targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    return []


class _Unsupported(Exception):
    """A construct the split does not handle (see _UNSUPPORTED)."""


def _read(name: str, reads: list[str], writes: set[str]) -> None:
    if name not in writes and name not in reads:
        reads.append(name)


def _loads(node: ast.AST, reads: list[str], writes: set[str]) -> None:
    """Names an expression (or a statement's non-target parts) reads, in source order.

    A hand-written walk: ``ast.walk`` over the tens of thousands of statements of
    a large gradient costs seconds.
    """
    kind = type(node)
    if kind is ast.Name:
        if isinstance(node.ctx, ast.Load):  # type: ignore[attr-defined]
            _read(node.id, reads, writes)  # type: ignore[attr-defined]
        return
    if kind is ast.Constant:
        return
    if kind in _UNSUPPORTED:
        raise _Unsupported
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    _loads(item, reads, writes)
        elif isinstance(value, ast.AST):
            _loads(value, reads, writes)


def _stores(target: ast.AST, reads: list[str], writes: set[str]) -> None:
    for sub in ast.walk(target):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            writes.add(sub.id)
        elif isinstance(sub, ast.Name):
            _read(sub.id, reads, writes)


def _boundaries(units: Sequence[_Unit], size: int) -> list[int]:
    """Unit indices where parts start (with 0 and len(units)).

    Live values at a boundary before unit ``p`` are approximated by the names
    first written before ``p`` and last read at or after it.
    """
    n = len(units)
    first_write: dict[str, int] = {}
    last_read: dict[str, int] = {}
    for k, u in enumerate(units):
        for name in u.writes:
            first_write.setdefault(name, k)
        for name in u.reads:
            last_read[name] = k
    delta = [0] * (n + 2)
    for name, w in first_write.items():
        r = last_read.get(name, -1)
        if r > w:
            delta[w + 1] += 1
            delta[r + 1] -= 1
    live = [0] * (n + 1)
    running = 0
    for p in range(n + 1):
        running += delta[p]
        live[p] = running
    offsets = [0]
    for u in units:
        offsets.append(offsets[-1] + u.size)
    bounds = [0]
    start = 0
    while offsets[n] - offsets[start] > HIGH * size:
        lo, hi = offsets[start] + LOW * size, offsets[start] + HIGH * size
        first = max(bisect.bisect_left(offsets, lo), start + 1)
        candidates = range(first, min(bisect.bisect_right(offsets, hi), n))
        if not candidates:  # one unit longer than the window: cut right after it
            if first >= n:
                break
            candidates = range(first, first + 1)
        p = min(candidates, key=lambda q: (live[q] + (0 if units[q].comment else 0.5), q))
        bounds.append(p)
        start = p
    bounds.append(n)
    return bounds


# -- code ---------------------------------------------------------------------------
def _assemble(function: str, params: list[str], groups: list[list[_Unit]], scalars: set[str]) -> Split:
    """The main function's new body and the part functions."""
    used = set(params)
    for group in groups:
        for u in group:
            used.update(u.reads)
            used.update(u.writes)
    scratch = _fresh("_s", used)
    names = [_fresh(f"{function}_part{k + 1}", used) for k in range(len(groups))]
    param_set = set(params)

    # What each part reads from before it, and which earlier part wrote it.
    reads: list[list[str]] = []
    writes: list[set[str]] = []
    for group in groups:
        r: list[str] = []
        w: set[str] = set()
        for u in group:
            for name in u.reads:
                if name not in w and name not in r:
                    r.append(name)
            w.update(u.writes)
        reads.append(r)
        writes.append(w)
    # Each input of part k comes from the last earlier part that wrote it (or is a parameter).
    writer: dict[str, int] = {}
    inputs: list[list[str]] = []
    source: list[dict[str, int]] = []
    outputs: list[list[str]] = [[] for _ in groups]
    for k, r in enumerate(reads):
        inputs.append([name for name in r if name in writer or name in param_set])
        source.append({name: writer[name] for name in inputs[k] if name in writer})
        for name, j in source[k].items():
            if name not in outputs[j]:
                outputs[j].append(name)
        for name in writes[k]:
            writer[name] = k
    slots: dict[str, int] = {}
    for outs in outputs:
        for name in outs:
            if name in scalars and name not in slots:
                slots[name] = len(slots)

    body = [
        f"# {len(groups)} parts (the functions below), so that numba compiles this in time linear in its length;",
        f"# the float scalars one part computes and a later part reads pass through {scratch}.",
    ]
    if slots:
        body.append(f"{scratch} = np.empty({len(slots)})")
    parts: list[list[str]] = []
    for k, group in enumerate(groups):
        loaded = [name for name in inputs[k] if name in source[k] and name in slots]
        passed = [name for name in inputs[k] if name not in loaded]
        args = ([scratch] if slots else []) + passed
        returned = [name for name in outputs[k] if name not in slots]
        stored = [name for name in outputs[k] if name in slots]
        call = f"{names[k]}({', '.join(args)})"
        if k == len(groups) - 1:
            body += _wrap(f"return {call}")
        elif returned:
            body += _wrap(f"{', '.join(returned)} = {call}")
        else:
            body += _wrap(call)
        lines = _wrap(f"def {names[k]}({', '.join(args)}):", indent="")
        lines.append(f'{INDENT}"""Part {k + 1} of {len(groups)} of {function}."""')
        lines += [f"{INDENT}{name} = {scratch}[{slots[name]}]" for name in loaded]
        lines += [f"{INDENT}{line}" if line else "" for u in group for line in u.lines]
        lines += [f"{INDENT}{scratch}[{slots[name]}] = {name}" for name in stored]
        if returned:
            lines.append(f"{INDENT}return {', '.join(returned)}")
        parts.append(lines)
    return Split(body, parts, names)


def _fresh(base: str, used: set[str]) -> str:
    name, k = base, 0
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def _wrap(line: str, indent: str = "") -> list[str]:
    """``line`` (a call or a ``def`` header) broken after commas to stay near LINE_WIDTH columns."""
    if len(line) <= LINE_WIDTH:
        return [line]
    head, _, rest = line.partition("(")
    items = rest[: rest.rindex(")")].split(", ")
    tail = rest[rest.rindex(")") :]
    out = [f"{head}("]
    current = INDENT
    for item in items:
        piece = f"{item},"
        if len(current) + len(piece) + 1 > LINE_WIDTH and current.strip():
            out.append(current.rstrip())
            current = INDENT
        current += piece + " "
    out.append(current.rstrip())
    out.append(tail)
    return [f"{indent}{x}" for x in out]
