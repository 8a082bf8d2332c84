"""``debug_nans``: find the operation that first made a NaN or an infinity, and the user's line.

With ``dcompile.config(debug_nans=True)`` (or ``DCOMPILE_DEBUG_NANS=1`` in the
environment) every call of a compiled function or derivative from Python
checks its outputs. Finite outputs cost one ``isfinite`` pass and nothing
else; the compiled code is unchanged. A NaN or an infinity raises
:class:`~dcompile.errors.NonFiniteError`, after the function is traced again
with each operation's source line recorded and its graph run operation by
operation with the NumPy implementations on the same arguments: the error
names the first operation whose output is not finite although its inputs
are, whether it belongs to the value or to a derivative rule, its inputs at
the first bad entry, and the user's line that made it. This is
``jax_debug_nans``'s approach (re-run the computation un-fused, one operation
at a time, once a NaN is seen) applied to dcompile's IR.

What is checked: calls of ``dc.compile`` functions and of ``grad``,
``value_and_grad``, ``jacobian``, ``hessian``, ``jvp``, ``vjp`` and ``hvp``
from Python. Machine code that calls the kernels directly (``.njit``,
``.into``, the compiled optimizer loops of ``dc.minimize``) is not checked:
run the objective or its gradient once from Python at the failing point.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from dcompile.backend import notice
from dcompile.errors import NonFiniteError
from dcompile.ir.builder import RECORD_LOCATIONS
from dcompile.ir.graph import Eqn, Graph
from dcompile.ir.interpret import observing, run_graph

_ENV = "DCOMPILE_DEBUG_NANS"
_state = {"debug_nans": os.environ.get(_ENV, "").strip().lower() in ("1", "true", "yes", "on")}
# Every derivative object (the primal of a function is one): a switch of the setting drops the
# runners they hold, so the next call picks the checked or the plain one.
_tracked: weakref.WeakSet[Any] = weakref.WeakSet()


def debug_nans() -> bool:
    """Whether calls check their outputs for NaN and infinity (see the module doc)."""
    return _state["debug_nans"]


class config:  # used like a function: dc.config(debug_nans=True)
    """Set dcompile's switches; also a context manager that restores them.

    ``debug_nans``: check every call's outputs for NaN and infinity and name
    the operation and line that made one (see :mod:`dcompile.debug`;
    ``DCOMPILE_DEBUG_NANS=1``). ``compile_notices``: say on stderr what is
    being compiled when a compile runs longer than a second (on by default;
    ``DCOMPILE_QUIET=1`` turns it off).

    ``dc.config(debug_nans=True)`` sets a switch for the rest of the process;
    ``with dc.config(debug_nans=True): ...`` only inside the block. ``None``
    leaves a setting as it is.
    """

    def __init__(self, *, debug_nans: bool | None = None, compile_notices: bool | None = None) -> None:
        self._before = (_state["debug_nans"], notice.enabled())
        if debug_nans is not None:
            _set(bool(debug_nans))
        if compile_notices is not None:
            notice.set_enabled(compile_notices)

    def __enter__(self) -> config:
        return self

    def __exit__(self, *exc: object) -> None:
        _set(self._before[0])
        notice.set_enabled(self._before[1])


def _set(on: bool) -> None:
    if _state["debug_nans"] == on:
        return
    _state["debug_nans"] = on
    for d in list(_tracked):
        d._forget_runners()


def track(derivative: Any) -> None:
    """Register a derivative object, so that switching ``debug_nans`` resets its runners."""
    _tracked.add(derivative)


def checked(run: Callable[..., Any], derivative: Any, sig: Any) -> Callable[..., Any]:
    """``run`` followed by a finiteness check of its result (see the module doc)."""

    def run_checked(*args: Any) -> Any:
        out = run(*args)
        if not _finite(out):
            raise diagnose(derivative, sig, args)
        return out

    return run_checked


def _finite(out: Any) -> bool:
    if isinstance(out, (tuple, list)):
        return all(_finite(o) for o in out)
    if isinstance(out, np.ndarray):
        return out.dtype.kind != "f" or bool(np.isfinite(out).all())
    if isinstance(out, (float, np.floating)):
        return math.isfinite(out)
    return True


# -- finding the operation ------------------------------------------------------------------------


def diagnose(derivative: Any, sig: Any, args: Sequence[Any]) -> NonFiniteError:
    """The error explaining a non-finite output of ``derivative`` called with ``args`` (flat)."""
    fn = derivative.fn
    what = fn.name if derivative.mode == "f" else f"{derivative.mode} of {fn.name}"
    names = [*fn.arg_names, *(derivative._dir_name() for _ in args[len(fn.arg_names) :])]
    for name, a in zip(names, args, strict=False):
        where = _bad_entry(a)
        if where is not None:
            return NonFiniteError(
                f"debug_nans: {what} got a non-finite argument: {name}{_at(where, a)} is {_entry(a, where)}.\n"
                "Fix: pass finite values (an optimizer that stepped to this point has diverged: "
                "try a smaller step or bounds)."
            )
    clone = fn.with_backend("python")  # traced afresh, with each operation's source line
    with locations_recorded():
        primal = clone.graph(sig)
        prog = clone.program(sig, derivative.mode, derivative.wrt_for(sig)) if derivative.mode != "f" else None
    n = len(fn.arg_names)
    found = _first_bad(primal, list(args[:n]))
    part = "value"
    if found is None and prog is not None:
        part = "derivative"
        for inputs in _program_inputs(prog, list(args)):
            found = _first_bad(prog.graph, inputs)
            if found is not None:
                break
    if found is None:
        return NonFiniteError(
            f"debug_nans: {what} returned a NaN or an infinity, but running its graph one operation at a "
            "time with NumPy on the same arguments gives finite values: the compiled code and the "
            "reference differ here (an overflow in a different order of operations, or a bug in dcompile).\n"
            f"Fix: compare with dc.compile(..., backend='python'); if they differ, please report it."
        )
    return NonFiniteError(_explain(what, part, found))


def _program_inputs(prog: Any, args: list[Any]) -> Iterator[list[Any]]:
    """The inputs of a derived graph for a call with ``args``; a loop over directions, per direction."""
    from dcompile.ir.layout import Loop

    layout = prog.layout
    if not isinstance(layout, Loop):
        yield args
        return
    shape = layout.direction.type.shape
    position = prog.graph.inputs.index(layout.direction)
    for j in range(int(np.prod(shape, dtype=np.int64))):
        e = np.zeros(shape)
        e.flat[j] = 1.0
        yield [*args[:position], e if shape else 1.0, *args[position:]]


class _Found(Exception):
    def __init__(self, graph: Graph, index: int, ins: list[Any], out: np.ndarray) -> None:
        self.found = (graph, index, ins, out)


def _watch(graph: Graph, index: int, ins: list[Any], out: np.ndarray) -> None:
    if graph.eqns[index].prim.nested:
        return  # a loop: the observer has seen its body's equations (or nothing went wrong inside)
    if out.dtype.kind == "f" and not np.isfinite(out).all() and all(_bad_entry(a) is None for a in ins):
        raise _Found(graph, index, ins, out)


def _first_bad(graph: Graph, inputs: list[Any]) -> tuple[Graph, int, list[Any], np.ndarray] | None:
    """The first equation run (in ``graph`` or a loop body inside it) whose float output is not
    finite while its inputs are."""
    try:
        with observing(_watch):
            run_graph(graph, inputs)
    except _Found as hit:
        return hit.found
    return None


def _bad_entry(a: Any) -> tuple[int, ...] | None:
    arr = np.asarray(a)
    if arr.dtype.kind != "f":
        return None
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    return tuple(int(k) for k in np.argwhere(bad)[0])


def _at(where: tuple[int, ...], a: Any) -> str:
    return "" if np.ndim(a) == 0 else f"[{', '.join(map(str, where))}]"


def _entry(a: Any, where: tuple[int, ...]) -> str:
    return repr(float(np.asarray(a)[where])) if where or np.ndim(a) == 0 else repr(a)


def _explain(what: str, part: str, found: tuple[Graph, int, list[Any], np.ndarray]) -> str:
    """The message for the first bad equation ``found`` (its graph, index, inputs and output)."""
    graph, index, ins, out = found
    e = graph.eqns[index]
    where = _bad_entry(out) or ()
    if e.prim.elementwise:
        values = [float(np.broadcast_to(np.asarray(a), out.shape)[where]) for a in ins]
        shown = f"{e.prim.name}({', '.join(repr(v) for v in values)}) = {float(out[where])!r}"
    else:
        shapes = ", ".join(f"shape {np.shape(a)}" if np.ndim(a) else repr(float(a)) for a in ins)
        shown = f"{e.prim.name} of ({shapes}) gives {float(out[where])!r}"
    entry = f" at entry [{', '.join(map(str, where))}]" if where else ""
    source = _derived_from(graph, index) if part != "value" else None
    if part == "value":
        lead = f"the value: {shown}{entry}"
        fix = (
            "keep the operation's inputs inside its domain (np.clip, np.maximum(x, tiny)), or select a safe "
            "input with dc.where before the operation"
        )
    else:
        rule = f"the derivative rule of {source.prim.name}" if source is not None else "the derivative code"
        lead = f"{rule}: {shown}{entry}"
        fix = (
            "the derivative is infinite or undefined at this point (sqrt or a norm at 0, x**p with p < 1 at 0, "
            "log at 0): move off it (np.sqrt(x + tiny)), or select a safe input with dc.where before the "
            "operation (a where after it still differentiates the unsafe branch)"
        )
    loc = e.loc if e.loc is not None else (source.loc if source is not None else None)
    where_text = f", made by this line:\n{loc.render()}" if loc is not None else " (in code dcompile added)"
    return f"debug_nans: {what} is not finite; the first NaN or infinity comes from {lead}{where_text}\nFix: {fix}."


def _derived_from(graph: Graph, index: int) -> Eqn | None:
    """The primal equation whose derivative code holds equation ``index`` (its display block)."""
    source = None
    for b in sorted(graph.blocks, key=lambda b: b.position):
        if b.position > index:
            break
        if b.source is not None:
            source = b.source
        elif b.title is not None:
            source = None
    return source


@contextmanager
def locations_recorded() -> Iterator[None]:
    """Record the user's source line of every traced operation inside the block (Eqn.loc)."""
    token = RECORD_LOCATIONS.set(True)
    try:
        yield
    finally:
        RECORD_LOCATIONS.reset(token)
