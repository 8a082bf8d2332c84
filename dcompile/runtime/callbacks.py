"""Python functions called from generated code: ``dc.pure_callback`` and custom VJPs run as Python.

Generated code calls ``_dcc.call(key, shape, *operands)``; under numba the
call sits in a ``numba.objmode`` block, so it runs in the interpreter with the
operands as NumPy arrays. ``key`` names the function in :data:`REGISTRY`; it
is derived from the function's fingerprint where it has one, so the same
program in a later process has the same source and numba's disk cache serves
its machine code (the lookup happens at run time, in that process).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.errors import SignatureError

# key -> the Python function generated code calls
REGISTRY: dict[str, Callable[..., Any]] = {}


def register(fn: Callable[..., Any], name: str, identity: str | None) -> str:
    """A key for ``fn`` (stable across processes when ``identity``, a fingerprint, is given)."""
    label = re.sub(r"\W", "_", name)[:40] or "callback"
    key = f"{label}_{(identity or uuid.uuid4().hex)[:16]}"
    REGISTRY[key] = fn
    return key


def call(key: str, shape: tuple[int, ...], *args: Any) -> Any:
    """Run the function registered as ``key``; its result as float64 of ``shape`` (contiguous), or a float."""
    fn = REGISTRY[key]
    out = np.asarray(fn(*args), dtype=np.float64)
    if out.shape != tuple(shape) and out.size == int(np.prod(shape, dtype=np.int64)) and not shape:
        out = out.reshape(())
    if out.shape != tuple(shape):
        raise SignatureError(
            f"the Python callback {getattr(fn, '__name__', key)} returned shape {out.shape}; "
            f"it was declared with result shape {tuple(shape)}"
        )
    return float(out) if not shape else np.ascontiguousarray(out)


def numba_type(shape: tuple[int, ...]) -> str:
    """The ``numba.objmode`` type of a result of ``shape``: ``float64`` or a C-contiguous array."""
    if not shape:
        return "float64"
    return "float64[" + ", ".join([":"] * (len(shape) - 1) + ["::1"]) + "]"
