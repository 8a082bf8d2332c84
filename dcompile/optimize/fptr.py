"""The numba plumbing of the shared optimizer loops (:mod:`dcompile.optimize.generic`), fenced.

Three things are needed from numba: the *function type* of a compiled kernel
(``numba.core.types.FunctionType`` of the kernel's compiled signature, so a
loop takes a pointer to it instead of being compiled for it), a pointer
object for the kernel (``numba.core.types.CompileResultWAP`` of its compile
result), and the compiled entry of one signature of a loop
(``dispatcher.overloads[sig]``'s ``entry_point``), called with those
pointers. Calling the loop's dispatcher itself would type the kernels by
their dispatchers and compile the loop once per objective again.

``overloads``, ``entry_point`` and ``CompileResultWAP`` are not numba's
documented API. They are
used for numba ``TESTED`` versions; on any other version, or if anything
here raises, :func:`bind` returns None and ``dc.minimize`` falls back to the
loops compiled per objective (the public path; slower first solve, same
results), with one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

TESTED = ((0, 59), (0, 68))  # tested with numba 0.59.1 (numpy 1.26) and 0.68.1: the shared-loop, bounds and lsq tests
_warned: set[str] = set()


def _version_ok() -> bool:
    import numba

    parts = tuple(int(p) for p in numba.__version__.split(".")[:2] if p.isdigit())
    return len(parts) == 2 and TESTED[0] <= parts <= TESTED[1]


def pointer(dispatcher: Any, arg_values: Sequence[Any]) -> tuple[Any, Any] | None:
    """``(pointer, function type)`` of ``dispatcher``'s machine code for arguments like ``arg_values``.

    The pointer is numba's ``CompileResultWAP`` (the *wrapper address protocol*
    of first-class functions): passing it to compiled code costs an attribute
    read, where passing the dispatcher looks its compile result up on every
    call (tens of microseconds, which is the whole solve of a small problem).
    It holds the compile result, so the machine code stays alive.
    """
    import numba
    from numba.core import types

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
    try:
        wap = types.CompileResultWAP(dispatcher.overloads[tuple(sig.args)])
    except Exception:  # a numba without it: pass the dispatcher, which numba unboxes (slower)
        wap = dispatcher
    return wap, types.FunctionType(sig)


def bind(loop: Any, kernel_types: Sequence[Any], arg_values: Sequence[Any]) -> Callable[..., Any] | None:
    """The compiled entry of ``loop`` (a ``cache=True`` dispatcher) for kernels of ``kernel_types``
    followed by arguments like ``arg_values``: compiled, or loaded from numba's disk cache, once.

    None when this numba is outside the tested range or the entry cannot be had (then use the
    loops specialised per objective).
    """
    if not _version_ok():
        _warn_once(
            "version",
            "dcompile: this numba version is outside the range dcompile's shared optimizer loops are tested "
            f"with ({TESTED[0][0]}.{TESTED[0][1]} to {TESTED[1][0]}.{TESTED[1][1]}); each objective gets its "
            "own compiled loops instead (slower first solve, same results).",
        )
        return None
    import numba

    try:
        sig = (*kernel_types, *(numba.typeof(a) for a in arg_values))
        loop.compile(sig)
        return loop.overloads[sig].entry_point  # type: ignore[no-any-return]
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
