"""One line on stderr when a compile runs long: what is compiled, and that it is cached.

A first ``dc.minimize`` or first call can spend seconds in numba; silence
there reads as a hang. :func:`compiling` starts a timer: if the block is still
running after :data:`DELAY` seconds, one line says what is being compiled and
that the result is cached on disk (so the wait is once). Nested blocks (a
kernel compiled while an optimizer loop is being prepared) print only the
outermost line. ``dc.config(compile_notices=False)`` or
``DCOMPILE_QUIET=1`` silences it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DELAY = 1.0  # seconds a compile runs before it is announced
_state = {"on": os.environ.get("DCOMPILE_QUIET", "").strip().lower() not in ("1", "true", "yes", "on")}
_local = threading.local()


def enabled() -> bool:
    """Whether long compiles are announced on stderr."""
    return _state["on"]


def set_enabled(on: bool) -> None:
    _state["on"] = bool(on)


@contextmanager
def compiling(what: str, delay: float | None = None) -> Iterator[None]:
    """Announce ``what`` on stderr if the block takes longer than ``delay`` seconds (default :data:`DELAY`)."""
    if not _state["on"] or getattr(_local, "active", False):
        yield
        return
    timer = threading.Timer(DELAY if delay is None else delay, _say, (what,))
    timer.daemon = True
    _local.active = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _local.active = False


def _say(what: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr closed
        print(
            f"dcompile: compiling {what} with numba (once: the machine code is cached on disk; "
            "dc.config(compile_notices=False) silences this)",
            file=sys.stderr,
            flush=True,
        )
