"""A pointer object for a compiled kernel, to pass to compiled code as a first-class function.

Entry point: :func:`wrapper_address`.

Private things touched: ``numba.core.types.CompileResultWAP`` (numba's
*wrapper address protocol* object for a compile result) and the dispatcher's
``overloads`` (its compile results by argument types).

Why: passing a ``CompileResultWAP`` to compiled code costs an attribute read,
where passing the dispatcher looks its compile result up on every call (tens
of microseconds, which is the whole solve of a small problem). It holds the
compile result, so the machine code stays alive.

Public path: the dispatcher itself, which numba unboxes on each call (slower,
same results); it is what :func:`wrapper_address` returns with the fast paths
off or when the private objects are not there.
"""

from __future__ import annotations

from typing import Any

from dcompile.backend import numba_private


def wrapper_address(dispatcher: Any, sig: Any) -> Any:
    """The ``CompileResultWAP`` of ``dispatcher``'s compile result for signature ``sig`` (a numba
    ``Signature``), or the dispatcher itself (see the module)."""
    if not numba_private.fast_paths():
        return dispatcher
    try:
        from numba.core import types

        return types.CompileResultWAP(dispatcher.overloads[tuple(sig.args)])
    except Exception as exc:
        numba_private.hook_failed("function_pointer", exc)
        return dispatcher
