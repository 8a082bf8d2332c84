"""The numba plumbing of the shared optimizer loops (:mod:`dcompile.optimize.generic`).

Three things are needed from numba: the *function type* of a compiled kernel
(``numba.types.FunctionType`` of the kernel's compiled signature, public, so
a loop takes a pointer to it instead of being compiled for it), a pointer
object for the kernel, and the compiled entry of one signature of a loop,
called with those pointers. Calling the loop's dispatcher itself would type
the kernels by their dispatchers and compile the loop once per objective
again.

The last two are numba internals, fenced in
:mod:`dcompile.backend.numba_private` (``function_pointer`` and
``compiled_entry``) with the package's tested numba range and its switch
(``DCOMPILE_FAST_PATHS=0``). Outside the range or with the switch off,
:func:`bind` returns None and ``dc.minimize`` falls back to the loops compiled
per objective (the public path; slower first solve, same results); outside
the range it warns once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from dcompile.backend.numba_private import compiled_entry, function_pointer

_warned: set[str] = set()


def pointer(dispatcher: Any, arg_values: Sequence[Any]) -> tuple[Any, Any] | None:
    """``(pointer, function type)`` of ``dispatcher``'s machine code for arguments like ``arg_values``;
    None if the kernel does not compile for them.

    The pointer is numba's ``CompileResultWAP`` (see
    :mod:`dcompile.backend.numba_private.function_pointer`), or, on the public
    path, the dispatcher itself (numba unboxes it on each call: slower).
    """
    import numba

    wanted = tuple(numba.typeof(a) for a in arg_values)
    sig = next((s for s in dispatcher.nopython_signatures if tuple(s.args) == wanted), None)
    if sig is None:  # a kernel not yet compiled for these types (a Python objective's callback)
        try:
            dispatcher.compile(wanted)
        except Exception:  # then there is no pointer: the caller falls back
            return None
        sig = next((s for s in dispatcher.nopython_signatures if tuple(s.args) == wanted), None)
        if sig is None:
            return None
    return function_pointer.wrapper_address(dispatcher, sig), numba.types.FunctionType(sig)


def bind(loop: Any, kernel_types: Sequence[Any], arg_values: Sequence[Any]) -> Callable[..., Any] | None:
    """The compiled entry of ``loop`` (a ``cache=True`` dispatcher) for kernels of ``kernel_types``
    followed by arguments like ``arg_values``: compiled, or loaded from numba's disk cache, once.

    None when the fast paths are off (``DCOMPILE_FAST_PATHS=0``, or a numba outside the tested
    range) or the entry cannot be had: then use the loops specialised per objective.
    """
    import numba

    try:
        sig = (*kernel_types, *(numba.typeof(a) for a in arg_values))
        return compiled_entry.entry_point(loop, sig)
    except Exception as exc:
        _warn_once(
            "bind",
            f"dcompile: the shared optimizer loops are unavailable ({type(exc).__name__}: {exc}); each "
            "objective gets its own compiled loops instead (slower first solve, same results).",
        )
        return None


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def entry_or_loop(loop: Any, kernels: Sequence[Any], kernel_types: Sequence[Any], arg_values: Sequence[Any]) -> Any:
    """:func:`bind`'s entry, or, where it is None and the kernels are numba dispatchers (what
    :func:`pointer` gives on the public path), ``loop`` itself: numba then compiles the loop for
    these kernels, once per objective and process, through its public API. None otherwise.

    For the loops that have no generated per-objective driver to fall back to (bounds, least squares).
    """
    from numba.extending import is_jitted

    found = bind(loop, kernel_types, arg_values)
    if found is None and all(is_jitted(k) for k in kernels):
        return loop
    return found
