"""Make ``math.*`` functions traceable inside the traced function.

``math.sin(x)`` on a tracer would call ``float(x)``. The traced function is
therefore run as a copy whose globals see a traceable ``math``: the name
``math`` (however it was imported) is bound to a namespace of wrappers, and
names imported with ``from math import sin`` are bound to the wrapper of that
function. A wrapper sends tracers to dcompile's primitives and everything else
to the real function; a ``math`` function dcompile has no rule for raises an
error naming it.

Nothing global is patched: other threads, numba compiling ``math.exp`` while
a trace runs, and nested traces all see the real module. The price is that a
helper function defined elsewhere that calls ``math.sin`` on a traced value is
not covered; it gets an error that says to use ``np.sin``.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.tracer import Tracer
from dcompile.primitives import MATH_RULES

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

# A stand-in for the math module: wrapped functions, and the constants as they are.
TRACEABLE_MATH = types.ModuleType("math", "math, with functions that accept dcompile tracers")
TRACEABLE_MATH.__dict__.update({k: v for k, v in vars(math).items() if not k.startswith("__")})
TRACEABLE_MATH.__dict__.update(_WRAPPERS)


def with_traceable_globals(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of ``fn`` that sees a traceable ``math`` (see the module doc)."""
    if not isinstance(fn, types.FunctionType):
        return fn
    replaced: dict[str, Any] = {}
    for k, v in fn.__globals__.items():
        if v is math:
            replaced[k] = TRACEABLE_MATH
        elif id(v) in _BY_ORIGINAL:
            replaced[k] = _BY_ORIGINAL[id(v)]
    if not replaced:
        return fn
    new_globals = dict(fn.__globals__)
    new_globals.update(replaced)
    copy = types.FunctionType(fn.__code__, new_globals, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy
