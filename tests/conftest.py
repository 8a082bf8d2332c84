"""Test configuration: a private disk cache for generated modules.

The cache directory is set before dcompile is imported, so tests never touch
the user's cache, and compiled numba kernels are shared by every test in the
session through it.
"""

from __future__ import annotations

import os
import tempfile

os.environ["DCOMPILE_CACHE_DIR"] = tempfile.mkdtemp(prefix="dcompile-test-cache-")
# No "compiling ... with numba" lines on stderr (tests compare outputs); tests of the notice turn it on.
os.environ.setdefault("DCOMPILE_QUIET", "1")
