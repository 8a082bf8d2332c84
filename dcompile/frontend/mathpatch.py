"""Make ``math.*`` functions traceable for the duration of a trace.

``math.sin(x)`` on a tracer would call ``float(x)``; while a function is being
traced, the ``math`` module's functions are replaced by wrappers that send
tracers to dcompile's primitives and everything else to the original. A
``math`` function dcompile has no rule for raises an error naming it. Names
imported into the traced function's module with ``from math import sin`` are
handled by tracing a copy of the function whose globals point at the wrappers.
"""

from __future__ import annotations

import math
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import Tracer
from dcompile.primitives import MATH_RULES

_LOCK = threading.RLock()
_ORIGINALS: dict[str, Callable[..., Any]] = {
    name: fn for name, fn in vars(math).items() if callable(fn) and not name.startswith("_")
}


def _wrapper(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    rule = MATH_RULES.get(name)

    def traced(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, Tracer) for a in args):
            if rule is None:
                supported = ", ".join(f"math.{n}" for n in sorted(MATH_RULES))
                raise trace_error(
                    f"math.{name} is not supported on traced values.",
                    f"use one of {supported}, or define a primitive with dcompile.extend",
                    UnsupportedError,
                )
            return rule(*args, **kwargs)
        return original(*args, **kwargs)

    traced.__name__ = name
    traced.__wrapped__ = original  # type: ignore[attr-defined]
    return traced


_WRAPPERS = {name: _wrapper(name, fn) for name, fn in _ORIGINALS.items()}
_BY_ORIGINAL = {id(fn): _WRAPPERS[name] for name, fn in _ORIGINALS.items()}


@contextmanager
def traceable_math() -> Iterator[None]:
    """Patch the ``math`` module so its functions accept tracers."""
    with _LOCK:
        for name, wrapper in _WRAPPERS.items():
            setattr(math, name, wrapper)
        try:
            yield
        finally:
            for name, original in _ORIGINALS.items():
                setattr(math, name, original)


def with_traceable_globals(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of ``fn`` whose ``from math import f`` names are traceable."""
    if not isinstance(fn, types.FunctionType):
        return fn
    replaced = {k: _BY_ORIGINAL[id(v)] for k, v in fn.__globals__.items() if id(v) in _BY_ORIGINAL}
    if not replaced:
        return fn
    new_globals = dict(fn.__globals__)
    new_globals.update(replaced)
    copy = types.FunctionType(fn.__code__, new_globals, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy
