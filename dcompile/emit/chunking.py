"""Split a long generated function into bounded part functions (issue 7).

numba's compile time grows faster than linearly with the length of one
straight-line function: its lowering has a pass that scans the whole block
once per variable, and LLVM is handed one huge function. The unrolled
gradient of an 800-step scalar chain (6,400 statements) takes minutes as
one function. Split into parts of a few hundred statements, each part costs
about the same to compile, so the whole costs time linear in its length.

The split works on the emitted statements, so it applies to every layout:

* The body (after the shape guards) comes as the emitter's statement records
  (:mod:`dcompile.emit.records`: each top-level statement's lines, the names
  it reads and writes, its kind); the text is not read back. Each statement,
  with the comment lines before it, is one unit. A compound statement (a fused
  ``for`` loop, the ``for _j`` loop of a Jacobian) is one unit and never split.
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
* A part whose statements all carry operation trees (the emitter's plain float
  statements, :class:`~dcompile.emit.records.Assign`) and that returns nothing
  is also given as a :class:`~dcompile.emit.records.Part`: its scratch loads,
  its statements' trees and its scratch stores, which
  :mod:`dcompile.backend.llvm_parts` lowers to LLVM without reading the text.

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
import itertools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dcompile.emit.records import Assign, Elem, Kind, Part, Stmt, code_lines, comment, text

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
        plans: the parts that are plain float code, as operation trees (see the module docstring).
    """

    body: list[str]
    parts: list[list[str]]
    names: list[str]
    plans: list[Part]


@dataclass
class _Unit:
    """One top-level statement with the comment lines before it."""

    lines: list[str]
    size: int  # lines of code
    reads: list[str]  # names read before this statement writes them, in order
    writes: set[str]
    comment: bool  # starts with a comment line (a block boundary)
    kind: Kind
    tree: Assign | None = None  # the statement's operations, if plain float code


def split_body(
    function: str,
    params: Sequence[str],
    body: Sequence[Stmt],
    scalars: Collection[str],
    *,
    size: int | None = None,
    threshold: int | None = None,
) -> Split | None:
    """``body`` split into parts of about ``size`` lines, or None if it is short or not splittable.

    ``params`` are the main function's parameters; ``scalars`` the names known
    to hold float64 scalars (they cross part boundaries through the scratch
    array); ``body`` the main function's statements, unindented, ending with
    its ``return`` (as records: :func:`from_text` makes them from source lines).
    ``size`` and ``threshold`` default to PART_SIZE and THRESHOLD
    (read at call time, so that a benchmark can set them).
    """
    size = PART_SIZE if size is None else size
    threshold = THRESHOLD if threshold is None else threshold
    if code_lines(body) <= threshold:
        return None
    units = _units(body)
    if units is None or len(units) < 3:
        return None
    units = _without_dead_aliases(units)
    head, rest = _hoist_allocations(units[:-1], params)
    bounds = _boundaries(rest, size)
    if len(bounds) < 3:
        return None
    groups = [rest[a:b] for a, b in itertools.pairwise(bounds)]
    return _assemble(function, list(params), groups, set(scalars), head=head, tail=units[-1])


def store_lines(target: str, src: str, length: int | None) -> list[str]:
    """Statements storing one direction's result ``src`` at ``target`` (``_out[:, _j]``, ``_out[_j]``).

    A column or row of a 2-D result is stored entry by entry: numba's first
    slice store of an array in a process compiles its broadcasting machinery,
    about 1.5 s, where the loop compiles in milliseconds. ``length`` is the
    number of entries (None: ``src`` is one number, stored as is).
    """
    if length is None:
        return [f"{target} = {src}"]
    entry = "_out[_k, _j]" if target == "_out[:, _j]" else "_out[_j, _k]"
    return ["_col = " + src, f"for _k in range({length}):", f"{INDENT}{entry} = _col[_k]"]


@dataclass(frozen=True)
class LoopPieces:
    """A loop over unit directions as the emitter prints it (lines unindented unless said).

    Attributes:
        outer: the statements before the loop.
        header: the loop's first lines (``for _j ...:`` and the indented ``e[_j] = 1.0``).
        inner: the body (unindented), without the store of its result.
        result: the store's target and the stored expression (``_out[:, _j]``, ``d2f_dx_de``).
        footer: the loop's last lines (indented ``e[_j] = 0.0``).
        length: the entries of one stored result (None: one number); see :func:`store_lines`.
        reads: the names the stored expression reads.
        direction: the name of the unit vector the header and footer set (``e``).
    """

    outer: list[Stmt]
    header: list[str]
    inner: list[Stmt]
    result: tuple[str, str]
    footer: list[str]
    length: int | None = None
    reads: tuple[str, ...] = ()
    direction: str = ""

    def loop(self, call: str, reads: Sequence[str]) -> Stmt:
        """The loop as one statement, storing ``call``, its result in one direction, which reads ``reads``."""
        store = store_lines(self.result[0], call, self.length)
        lines = [*self.header, *(f"{INDENT}{x}" for x in [*_wrap(store[0]), *store[1:]]), *self.footer]
        # _out[:, _j] = call reads _out first; _col = call, then a loop storing _col into _out, last
        order = ("_out", *reads) if self.length is None else (*reads, "_out")
        reads = tuple(dict.fromkeys((self.direction, *order)))
        return Stmt(tuple(lines), reads, frozenset({"_j", "_col", "_k"}), Kind.COMPOUND)


@dataclass(frozen=True)
class LoopSplit:
    """A long loop over unit directions with its body moved to a function of its own.

    Attributes:
        lines: what replaces the loop in the main body (records): the invariant
            float scalars the body reads stored into a scratch array, then the loop,
            which calls the body function once per direction.
        function: the body function's lines (a module-level ``def``), itself split
            into parts when long (``parts``/``names``/``plans``, as :class:`Split`).
        name: the body function's name.
    """

    lines: list[Stmt]
    function: list[str]
    name: str
    parts: list[list[str]]
    names: list[str]
    plans: list[Part]


def split_loop(
    function: str,
    params: Sequence[str],
    pieces: LoopPieces,
    scalars: Collection[str],
    *,
    threshold: int | None = None,
) -> LoopSplit | None:
    """The loop ``header + inner + footer`` with ``inner`` moved to a function, or None if it is short.

    A Jacobian's or Hessian's ``for _j`` loop is one unit of :func:`split_body`:
    its body, the forward sweep over the gradient along one unit direction, can
    be thousands of lines (2,300 for a 2,000-operation Hessian), which numba
    compiles as one function. Here the body becomes ``<function>_column``,
    called inside the loop; the float scalars computed before the loop that it
    reads cross through a scratch array filled once before the loop (plain float
    stores, which :func:`split_body` puts into parts like any statement), the
    arrays and the loop index as arguments. The body function is split into parts
    as any long function (its parts are lowered to LLVM where plain).

    ``params`` are the main function's parameters; ``pieces`` the loop as the
    emitter prints it. The body function returns the result, which the loop
    stores (``_out[:, _j] = <function>_column(...)``): a slice store inside the
    body would leave its last part to numba's front end.
    """
    outer = pieces.outer
    src = pieces.result[1]
    inner = [*pieces.inner, Stmt((f"_result = {src}",), pieces.reads, frozenset({"_result"}))]
    threshold = THRESHOLD if threshold is None else threshold
    if code_lines(inner) <= threshold:
        return None
    outer_units = _units([*outer, _RETURN_NONE])
    inner_units = _units([*inner, _RETURN_NONE])
    if outer_units is None or inner_units is None:
        return None
    defined = set(params).union(*(u.writes for u in outer_units))
    reads: list[str] = []
    written: set[str] = set()
    for u in inner_units:
        reads += [n for n in u.reads if n not in written and n not in reads]
        written.update(u.writes)
    inputs = [n for n in reads if n in defined or n == "_j"]
    used = set(params) | defined | written | set(reads) | {"_j"}
    scratch = _fresh("_v", used)
    name = _fresh(f"{function}_column", used)
    through = [n for n in inputs if n in scalars and n in defined and n not in params]
    args = ([scratch] if through else []) + [n for n in inputs if n not in through]
    lines: list[Stmt] = []
    if through:
        lines.append(Stmt((f"{scratch} = np.empty({len(through)})",), (), frozenset({scratch}), Kind.ALLOCATION))
        lines += [
            Stmt((f"{scratch}[{k}] = {n}",), (scratch, n), kind=Kind.STORE, tree=Assign(Elem(scratch, (k,)), n))
            for k, n in enumerate(through)
        ]
    lines.append(pieces.loop(f"{name}({', '.join(args)})", args))
    loads = [
        Stmt((f"{n} = {scratch}[{k}]",), (scratch,), frozenset({n}), tree=Assign(n, Elem(scratch, (k,))))
        for k, n in enumerate(through)
    ]
    body = [*loads, *inner[:-1], Stmt((f"return {src}",), pieces.reads, kind=Kind.RETURN)]
    split = split_body(name, args, body, scalars)
    head = _wrap(f"def {name}({', '.join(args)}):", indent="")
    doc = f'{INDENT}"""One direction of the loop of {function}: its body, called once per unit vector."""'
    if split is None:
        return LoopSplit(lines, [*head, doc, *(f"{INDENT}{x}" if x else "" for x in text(body))], name, [], [], [])
    own = [*head, doc, *(f"{INDENT}{x}" if x else "" for x in split.body)]
    return LoopSplit(lines, own, name, split.parts, split.names, split.plans)


_RETURN_NONE = Stmt(("return None",), kind=Kind.RETURN)


def _without_dead_aliases(units: list[_Unit]) -> list[_Unit]:
    """``units`` with the code of ``a = b`` statements whose ``a`` nothing reads removed.

    The emitter writes an alias line for each share of an adjoint that passes
    unchanged (``dchain_dt5 = dchain_dt_1`` after ``t_1 = t5 + t6``), so that a
    short gradient reads like the backpropagation table; most are never read. In a
    body long enough to split they are 15% of the statements (N = 10,000 chain:
    20,000 of 130,000) that every later stage would parse and lower for nothing.
    Their comment lines stay.
    """
    read = set().union(*(u.reads for u in units))
    out = []
    for u in units:
        if u.kind is Kind.ALIAS and not u.writes & read:
            out.append(_Unit(u.lines[:-1], 0, [], set(), u.comment, Kind.COMMENT))
        else:
            out.append(u)
    return out


def _hoist_allocations(units: list[_Unit], params: Sequence[str]) -> tuple[list[_Unit], list[_Unit]]:
    """Allocations (``g = np.zeros(3)``, ``g = _c0.copy()``) moved to the main function, and the other units.

    An allocation reads no local name, so it may run first; in the main
    function it leaves the parts that fill the array (``_out[4] = ...``) as plain
    float code that :mod:`dcompile.backend.llvm_parts` can lower. Its comment
    lines stay in place, with the next unit.
    """
    local = set(params)
    writers: dict[str, int] = {}
    for u in units:
        local.update(u.writes)
        for name in u.writes:
            writers[name] = writers.get(name, 0) + 1
    head: list[_Unit] = []
    rest: list[_Unit] = []
    carry: list[str] = []
    for unit in units:
        allocation = unit.kind is Kind.ALLOCATION
        if allocation and not set(unit.reads) & local and all(writers[n] == 1 for n in unit.writes):
            code = unit.size
            carry += unit.lines[: len(unit.lines) - code]
            head.append(
                _Unit(unit.lines[len(unit.lines) - code :], unit.size, unit.reads, unit.writes, False, unit.kind)
            )
        elif carry:
            rest.append(_Unit(carry + unit.lines, unit.size, unit.reads, unit.writes, True, unit.kind, unit.tree))
            carry = []
        else:
            rest.append(unit)
    if carry and rest:
        last = rest[-1]
        rest[-1] = _Unit(last.lines + carry, last.size, last.reads, last.writes, last.comment, last.kind, last.tree)
    return head, rest


_ALLOCATORS = frozenset({"empty", "zeros", "ones", "full"})


def _is_allocation(node: ast.stmt | None) -> bool:
    if node is None or not (
        isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    ):
        return False
    call = node.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return False
    func = call.func
    if isinstance(func.value, ast.Name) and func.value.id == "np" and func.attr in _ALLOCATORS:
        return True
    return func.attr == "copy" and isinstance(func.value, ast.Name) and not call.args


# -- analysis -----------------------------------------------------------------------
def _units(body: Sequence[Stmt]) -> list[_Unit] | None:
    """The statements of ``body``, each with the comment lines before it; None without a final ``return``."""
    units: list[_Unit] = []
    pending: list[str] = []
    for s in body:
        if s.kind is Kind.COMMENT:
            pending += s.lines
            continue
        units.append(
            _Unit([*pending, *s.lines], len(s.lines), list(s.reads), set(s.writes), bool(pending), s.kind, s.tree)
        )
        pending = []
    if pending and units:  # trailing comments
        last = units[-1]
        lines = [*last.lines, *pending]
        units[-1] = _Unit(lines, last.size, last.reads, last.writes, last.comment, last.kind, last.tree)
    if not units or units[-1].kind is not Kind.RETURN or any(u.kind is Kind.RETURN for u in units[:-1]):
        return None
    return units


def from_text(body: Sequence[str]) -> list[Stmt] | None:
    """Statement records of source lines, or None if the split does not handle them.

    For code the emitter did not build from the graph (the lines a primitive's
    template prints, hand-written bodies in tests). A statement starts at a line
    in column 0 that is not a comment; indented lines after it belong to it (a
    loop body). One-line assignments are read with a regular expression (see
    :func:`_simple`); anything else is parsed with :mod:`ast`. A ``return`` is
    allowed only as the last statement.
    """
    out: list[Stmt] = []
    i = 0
    while i < len(body):
        line = body[i]
        if not line.strip() or line.startswith("#"):
            out.append(comment(line))
            i += 1
            continue
        if line[0] in " \t":
            return None  # an indented line that belongs to no statement
        j = i + 1
        while j < len(body) and body[j][:1] in (" ", "\t"):
            j += 1
        code = body[i:j]
        found = _simple(code[0]) if len(code) == 1 else None
        simple = found is not None
        if found is None:
            found = _parsed(code, last=j >= len(body) or not any(x.strip() for x in body[j:]))
        if found is None:
            return None
        reads, writes, node = found
        out.append(Stmt(tuple(code), tuple(reads), frozenset(writes), _kind(code, node, writes, simple=simple)))
        i = j
    return out


_ALIAS = re.compile(r"[A-Za-z_]\w* = [A-Za-z_]\w*")


def _kind(code: Sequence[str], node: ast.stmt | None, writes: set[str], *, simple: bool) -> Kind:
    if isinstance(node, ast.Return):
        return Kind.RETURN
    if _is_allocation(node):
        return Kind.ALLOCATION
    if len(code) > 1 or not (simple or isinstance(node, (ast.Assign, ast.AugAssign))):
        return Kind.COMPOUND
    if simple and _ALIAS.fullmatch(code[0]):
        return Kind.ALIAS
    return Kind.ASSIGN if writes else Kind.STORE


# ``name = expr``, ``name op= expr``, ``name[index] = expr``, ``name[index] op= expr`` on one line.
_SIMPLE = re.compile(r"([A-Za-z_]\w*)(\[[^\]]*\])? (=|\+=|-=|\*=|/=) (.*)")
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_BARE_EQUALS = re.compile(r"(?<![=<>!])=(?!=)")
_NOT_SIMPLE = ("'", '"', "#", ";", ":=", "lambda", " for ", "yield", "await")
_ALLOCATION_HINT = re.compile(r"np\.(empty|zeros|ones|full)\(|\.copy\(\)$")


def _simple(line: str) -> tuple[list[str], set[str], ast.stmt | None] | None:
    """Reads and writes of a one-line assignment, from its text; None if it needs the parser.

    Every identifier not after a dot is a read (a global such as ``np`` is
    ignored later, as are keywords: no local has their names); the target is
    written if it is a name. Chained or keyword ``=``, strings, comments and
    brackets that do not close on the line go to the parser.
    """
    m = _SIMPLE.fullmatch(line)
    if m is None or any(x in line for x in _NOT_SIMPLE) or _ALLOCATION_HINT.search(m.group(4)):
        return None
    target, index, op, value = m.groups()
    if _BARE_EQUALS.search(value) or _BARE_EQUALS.search(index or ""):
        return None
    if any(line.count(o) != line.count(c) for o, c in ("()", "[]", "{}")):
        return None
    reads: list[str] = []
    if index is not None or op != "=":
        reads.append(target)
    for name in _NAME.findall(f"{index or ''} {value}"):
        if name not in reads:
            reads.append(name)
    writes = set() if index is not None else {target}
    if index is None and op == "=" and target in reads:
        return None  # x = x + 1: read before written; the parser's order is needed
    return reads, writes, None


def _parsed(code: Sequence[str], *, last: bool) -> tuple[list[str], set[str], ast.stmt | None] | None:
    """Reads and writes of one statement, from :mod:`ast`; a ``return`` only as the last one."""
    try:
        stmts = ast.parse("\n".join(code)).body
    except SyntaxError:
        return None
    if len(stmts) != 1 or (isinstance(stmts[0], ast.Return) and not last):
        return None
    node = stmts[0]
    reads: list[str] = []
    writes: set[str] = set()
    try:
        if isinstance(node, ast.Return):
            if node.value is not None:
                _loads(node.value, reads, writes)
        else:
            _scan([node], reads, writes)
    except _Unsupported:
        return None
    return reads, writes, node


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
    if type(target) is ast.Name:
        writes.add(target.id)  # type: ignore[attr-defined]
        return
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
@dataclass
class _Flow:
    """Which values cross which boundaries: per part (and the final return, last) its inputs and outputs."""

    inputs: list[list[str]]  # names a part reads that an earlier part or the main function holds
    source: list[dict[str, int]]  # of those, the ones an earlier part wrote, and which part
    outputs: list[list[str]]  # names a part wrote that a later part (or the return) reads
    slots: dict[str, int]  # the scratch-array index of each float that crosses


def _flow(groups: list[list[_Unit]], scalars: set[str], available: set[str]) -> _Flow:
    """Reaching definitions over the parts: each input comes from the last earlier part that wrote it."""
    reads: list[list[str]] = []
    writes: list[set[str]] = []
    for group in groups:
        r: list[str] = []
        w: set[str] = set()
        for u in group:
            r += [name for name in u.reads if name not in w and name not in r]
            w.update(u.writes)
        reads.append(r)
        writes.append(w)
    writer: dict[str, int] = {}
    flow = _Flow([], [], [[] for _ in groups], {})
    for k, r in enumerate(reads):
        flow.inputs.append([name for name in r if name in writer or name in available])
        flow.source.append({name: writer[name] for name in flow.inputs[k] if name in writer})
        for name, j in flow.source[k].items():
            if name not in flow.outputs[j]:
                flow.outputs[j].append(name)
        writer.update(dict.fromkeys(writes[k], k))
    for name in (name for outs in flow.outputs for name in outs):
        if name in scalars and name not in flow.slots:
            flow.slots[name] = len(flow.slots)
    return flow


# -- code ---------------------------------------------------------------------------
def _assemble(
    function: str, params: list[str], groups: list[list[_Unit]], scalars: set[str], *, head: list[_Unit], tail: _Unit
) -> Split:
    """The main function's new body (``head``, the calls, ``tail``: the return) and the part functions."""
    used = set(params)
    for u in [*head, *(u for group in groups for u in group), tail]:
        used.update(u.reads)
        used.update(u.writes)
    scratch = _fresh("_s", used)
    names = [_fresh(f"{function}_part{k + 1}", used) for k in range(len(groups))]
    available = set(params).union(*(u.writes for u in head))  # names the main function holds from the start
    flow = _flow([*groups, [tail]], scalars, available)  # the return is run by the main function
    slots = flow.slots

    body = [
        f"# {len(groups)} parts (the functions below), so that numba compiles this in time linear in its length;",
        f"# the float scalars one part computes and a later part reads pass through {scratch}.",
        *(line for u in head for line in u.lines),
    ]
    if slots:
        body.append(f"{scratch} = np.empty({len(slots)})")
    parts: list[list[str]] = []
    plans: list[Part] = []
    for k, group in enumerate(groups):
        loaded = [name for name in flow.inputs[k] if name in flow.source[k] and name in slots]
        args = ([scratch] if slots else []) + [name for name in flow.inputs[k] if name not in loaded]
        returned = [name for name in flow.outputs[k] if name not in slots]
        call = f"{names[k]}({', '.join(args)})"
        body += _wrap(f"{', '.join(returned)} = {call}" if returned else call)
        lines = _wrap(f"def {names[k]}({', '.join(args)}):", indent="")
        lines.append(f'{INDENT}"""Part {k + 1} of {len(groups)} of {function}."""')
        lines += [f"{INDENT}{name} = {scratch}[{slots[name]}]" for name in loaded]
        lines += [f"{INDENT}{line}" if line else "" for u in group for line in u.lines]
        lines += [f"{INDENT}{scratch}[{slots[name]}] = {name}" for name in flow.outputs[k] if name in slots]
        if returned:
            lines.append(f"{INDENT}return {', '.join(returned)}")
        elif all(u.tree is not None or u.kind is Kind.COMMENT for u in group):
            trees = [Assign(name, Elem(scratch, (slots[name],))) for name in loaded]
            trees += [u.tree for u in group if u.tree is not None]
            trees += [Assign(Elem(scratch, (slots[name],)), name) for name in flow.outputs[k] if name in slots]
            plans.append(Part(names[k], tuple(args), tuple(trees)))
        parts.append(lines)
    body += [
        f"{name} = {scratch}[{slots[name]}]" for name in flow.inputs[-1] if name in flow.source[-1] and name in slots
    ]
    body += tail.lines
    return Split(body, parts, names, plans)


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
