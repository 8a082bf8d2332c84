"""Whether numba's disk cache holds machine code for a signature, read from numba's cache index.

Private things touched: the dispatcher's ``_cache`` (a ``FunctionCache``), its
``_index_key(sig, codegen)`` and ``_cache_file._load_index()``, and the
dispatcher's ``targetctx.codegen()``.

Why: a cache hit never types the parts of a split function, so preparing
their direct lowering (parsing the source, planning every part) would be
wasted on the path that should be fastest, and a split module can be loaded
from a stub without its parts' bytecode only when the machine code is cached.
The index holds the same key and freshness test numba's own load applies; only
the index is read, not the machine code, which the load then reads once.

Public path: :func:`in_cache` answers False. numba's own ``njit(sig,
cache=True)`` then loads from its cache when it can (``stats.cache_hits`` says
whether it did), after the parts were prepared for nothing.
"""

from __future__ import annotations

from typing import Any

from dcompile.backend import numba_private


def in_cache(dispatcher: Any, sig: tuple[Any, ...]) -> bool:
    """Whether numba's disk cache index lists machine code of ``dispatcher`` for ``sig`` (False
    when the fast paths are off or numba's cache objects are not as expected)."""
    if not numba_private.fast_paths():
        return False
    try:
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except (AttributeError, TypeError) as exc:  # numba's cache objects changed: the hook is broken
        numba_private.hook_failed("cache_index", exc)
        return False
    except Exception:  # an unreadable index (a damaged cache): numba's load deals with it
        return False
