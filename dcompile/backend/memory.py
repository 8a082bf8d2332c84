"""Keep freed temporaries in the heap: glibc's ``mallopt`` thresholds, set once per process.

Generated kernels allocate their temporary arrays afresh on every call (numba's
runtime calls ``malloc``). glibc serves a request above its mmap threshold
(128 KiB at start, raised dynamically up to the size of the largest chunk
freed) from a fresh ``mmap``, and returns free memory at the top of the heap
to the system once it exceeds the trim threshold (twice the mmap threshold).
A kernel whose temporaries add up to a few MiB (a softmax cross-entropy over
10^4 x 10 entries: five 800 KB arrays) therefore gives its pages back at the
end of every call and takes page faults on all of them in the next one:
measured, 38 % of the call in the kernel's page-fault handler, 2.1 ms per
call, 1.2 ms with the thresholds below (XLA reuses its buffers).

When dcompile loads its first numba kernel it sets ``M_MMAP_THRESHOLD`` to
32 MiB and ``M_TRIM_THRESHOLD`` to 64 MiB (both are needed: setting either
one turns glibc's dynamic adjustment off), so temporaries up to 32 MiB are
reused from the heap and up to 64 MiB of freed memory stays mapped. This is
a process-wide setting, like a caching allocator's: it is skipped when the
C library is not glibc, when the user set ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_TRIM_THRESHOLD_`` in the environment (their choice wins), or with
``DCOMPILE_MALLOC_TUNING=0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

ENV = "DCOMPILE_MALLOC_TUNING"
M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")

_state = {"done": False, "applied": False}


def wanted() -> bool:
    """Whether the tuning applies here: glibc on Linux, not switched off, no user setting of its own."""
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def tune_malloc() -> bool:
    """Set the thresholds once per process (see the module doc); whether they are set."""
    if _state["done"]:
        return _state["applied"]
    _state["done"] = True
    if not wanted():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _state["applied"] = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _state["applied"]
