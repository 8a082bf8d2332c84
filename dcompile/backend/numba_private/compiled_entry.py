"""The compiled entry of one signature of a dispatcher, callable from Python with pointer arguments.

Entry point: :func:`entry_point`.

Private things touched: the dispatcher's ``overloads`` (its compile results
by argument types) and a compile result's ``entry_point`` (the Python-callable
wrapper of its machine code).

Why: the shared optimizer loops (:mod:`dcompile.optimize.generic`) take the
objective's kernels as function pointers (:mod:`.function_pointer`) and are
compiled once per method and data types, not per objective. Calling the loop's
dispatcher itself would type the kernels by their dispatchers and compile the
loop once per objective again; its entry for the pointer signature is called
directly instead.

Public path: None, and the caller compiles the loops once per objective
(:mod:`dcompile.optimize.driver`'s specialised drivers: a slower first solve,
the same results).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcompile.backend import numba_private


def entry_point(dispatcher: Any, sig: tuple[Any, ...]) -> Callable[..., Any] | None:
    """``dispatcher`` compiled (or loaded from numba's disk cache) for argument types ``sig``, and
    that compile result's entry point; None with the fast paths off or if the private objects are
    not there. Compile errors of the loop itself propagate."""
    if not numba_private.fast_paths():
        return None
    dispatcher.compile(sig)
    try:
        return dispatcher.overloads[sig].entry_point  # type: ignore[no-any-return]
    except Exception as exc:
        numba_private.hook_failed("compiled_entry", exc)
        return None
