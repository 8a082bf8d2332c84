"""Tracing: run a Python function on tracers and record its SSA graph.

The function is called once per argument signature with one tracer per
argument. Python control flow over plain values (``for i in range(3)``)
unrolls; control flow on traced values is an error that names the line.
While tracing, a ``sys.settrace`` hook reads the local variables of the user's
frames so that values keep the user's names (``a = x1 + w1`` makes the value
``a`` in every listing and in the generated code).
"""

from __future__ import annotations

import dis
import functools
import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import Any

import numpy as np

from dcompile.errors import IntegerUse, StaticUse, TraceError, is_internal
from dcompile.frontend.namespace import with_traceable_globals
from dcompile.ir.builder import RECORD_LOCATIONS, Builder
from dcompile.ir.graph import Graph, Value
from dcompile.ir.tracer import Tracer, holds_tracer, tracing_into
from dcompile.ir.types import VType


@contextmanager
def _capture_names(builder: Builder) -> Iterator[None]:
    """Name traced values after the user's local variables that hold them."""
    previous = sys.gettrace()

    pending: dict[FrameType, int] = {}  # per frame: the line whose assignments are not scanned yet

    def scan(frame: FrameType, names: Sequence[str] | None) -> None:
        local_vars = frame.f_locals
        for name in local_vars if names is None else names:
            val = local_vars.get(name)
            if isinstance(val, Tracer) and val.builder is builder and not name.startswith("_"):
                builder.set_hint(val.value, name)

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event in ("line", "return"):
            # The first time every local (the arguments), then only the names the line
            # just run assigned: a binding that did not change cannot give a new hint
            # (the first hint wins), and a function of N arguments traces in O(N) steps.
            line = pending.pop(frame, None)
            scan(frame, None if line is None else _stores(frame.f_code).get(line, ()))
            if event == "line":
                pending[frame] = frame.f_lineno
        return local

    # Every Python call while tracing (dcompile's and NumPy's own included) comes through
    # here; deciding by file name once per file keeps the hook to a dictionary lookup
    # (os.path.abspath on every call was 85% of tracing an unrolled chain).
    internal: dict[str, bool] = {}

    def global_(frame: FrameType, event: str, arg: Any) -> Any:
        if event != "call":
            return None
        filename = frame.f_code.co_filename
        found = internal.get(filename)
        if found is None:
            found = internal[filename] = is_internal(filename)
        return None if found else local

    sys.settrace(global_)
    try:
        yield
    finally:
        sys.settrace(previous)


@functools.lru_cache(maxsize=512)
def _stores(code: CodeType) -> dict[int, tuple[str, ...]]:
    """The local names each line of ``code`` assigns (from its bytecode); a line that assigns into
    a subscript (``y[i] = v``) also lists the names it reads, one of which holds the updated array."""
    out: dict[int, list[str]] = {}
    loads: dict[int, list[str]] = {}
    subscript_stores: set[int] = set()
    for ins in dis.get_instructions(code):
        line = ins.positions.lineno if ins.positions else None
        if not line:
            continue
        if ins.opname in ("STORE_FAST", "STORE_NAME", "STORE_DEREF"):
            out.setdefault(line, []).append(ins.argval)
        elif ins.opname in ("LOAD_FAST", "LOAD_DEREF"):
            loads.setdefault(line, []).append(ins.argval)
        elif ins.opname == "STORE_SUBSCR":  # y[i] = v: y holds a new value, named after y
            subscript_stores.add(line)
    for line in subscript_stores:
        out.setdefault(line, []).extend(loads.get(line, ()))
    return {line: tuple(dict.fromkeys(names)) for line, names in out.items()}


def _check_output(out: Any, fn_name: str) -> Any:
    if isinstance(out, (list, tuple)) and out and holds_tracer(out):
        from dcompile.primitives.numpy_api import array

        out = array(out)
    if isinstance(out, Tracer):
        if not out.type.dtype.differentiable:
            raise TraceError(
                f"{fn_name} returned a boolean (a comparison); it must return a number.\n"
                "Fix: select numbers with dcompile.where(cond, a, b)."
            )
        return out
    if out is None:
        raise TraceError(f"{fn_name} returned None; it must return a scalar.\nFix: add a `return` statement.")
    if isinstance(out, (bool, np.bool_)):
        raise TraceError(f"{fn_name} returned a bool; it must return a number.")
    if isinstance(out, (int, float, np.integer, np.floating)):
        return out
    if isinstance(out, np.ndarray) and out.ndim == 0:
        return out.item()
    if isinstance(out, np.ndarray) and out.dtype.kind in "iuf":
        return np.asarray(out, dtype=np.float64)
    kind = type(out).__name__
    raise TraceError(
        f"{fn_name} returned a {kind}; a dcompile function returns one scalar.\n"
        "Fix: return a single value or one array (np.stack or np.concatenate the outputs)."
    )


def trace(
    fn: Callable[..., Any],
    arg_names: Sequence[str],
    arg_types: Sequence[VType],
    name: str,
    *,
    capture_names: bool = True,
    rebuild: Callable[[list[Any]], tuple[list[Any], dict[str, Any]]] | None = None,
) -> Graph:
    """Trace ``fn`` on one tracer per argument and return its graph.

    ``rebuild`` turns the tracers into the call's positional and keyword
    arguments (structures and constants around them; see dcompile.calling).
    """
    builder = Builder()
    builder.locate = RECORD_LOCATIONS.get()
    inputs: list[Value] = [builder.new_input(t, n) for n, t in zip(arg_names, arg_types, strict=True)]
    args = [Tracer(builder, v) for v in inputs]
    for a in args:
        a.readonly = True  # writing into an argument would change the caller's array
    target = with_traceable_globals(fn)
    call_args, call_kwargs = rebuild(list(args)) if rebuild is not None else (list(args), {})
    try:
        with tracing_into(builder):
            if capture_names:
                with _capture_names(builder):
                    out = target(*call_args, **call_kwargs)
            else:
                out = target(*call_args, **call_kwargs)
    except (IntegerUse, StaticUse) as exc:  # say which argument (the caller may retrace it)
        exc.position = inputs.index(exc.value) if exc.value in inputs else None
        raise
    out = _check_output(out, name)
    value = out.value if isinstance(out, Tracer) else builder.const(out)
    if value not in builder.hints and value not in inputs:
        builder.set_hint(value, name)
    return builder.build(name, inputs, [value])


def positional_names(fn: Callable[..., Any]) -> list[str]:
    """The parameters that become traced inputs: every positional one.

    Keyword-only parameters with a default (including those bound by
    ``functools.partial(f, a=2.0)``) are constants of the trace.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TraceError(f"cannot read the signature of {fn!r}: {exc}") from None
    names = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TraceError(
                f"{getattr(fn, '__name__', fn)} takes *{p.name}; dcompile needs a fixed list of "
                "named arguments.\nFix: name each argument (or pass a vector once arrays are supported)."
            )
        if p.kind is p.KEYWORD_ONLY:
            if p.default is not p.empty:
                continue  # a constant: functools.partial(f, a=2.0), or `def f(x, *, a=2.0)`
            raise TraceError(
                f"{getattr(fn, '__name__', fn)} has keyword-only argument {p.name!r} without a default.\n"
                "Fix: give it a default, or bind it with functools.partial(f, name=value) before compiling."
            )
        names.append(p.name)
    return names


def integer_parameters(fn: Callable[..., Any]) -> frozenset[str]:
    """Parameters annotated ``int`` (or ``np.integer``): integer scalars, data that can index and count."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return frozenset()
    out = set()
    for p in sig.parameters.values():
        ann = p.annotation
        if ann in (int, "int", np.int64, "np.int64") or (isinstance(ann, type) and issubclass(ann, np.integer)):
            out.add(p.name)
    return frozenset(out)
