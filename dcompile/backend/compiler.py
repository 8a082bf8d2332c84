"""Load generated modules and compile their function with numba or run it as Python.

``backend="numba"`` (the default) compiles with ``numba.njit(signature,
cache=True, error_model="numpy")``: the explicit signature compiles eagerly (so compile time is
measured where it happens) and the dispatcher never compiles again behind the
user's back; numba loads machine code from its on-disk cache when another
process compiled the same module before. ``backend="python"`` runs the very
same source as plain Python, for fast tests and debugging.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcompile.backend.cache import VerifiedFinder, VerifiedLoader, cache_error, drop_numba_cache, write_module
from dcompile.backend.emitter import Emitted
from dcompile.backend.llvm_parts import lower_parts
from dcompile.ir.types import DType, VType

BACKENDS = ("numba", "python")


@dataclass
class Kernel:
    """A loaded generated function.

    Attributes:
        fn: what to call (the numba dispatcher, or the Python function).
        py_function: the plain Python function in the generated module.
        path: the module's file.
        compile_seconds: time spent loading and compiling (or loading from cache).
        cache_hit: whether numba loaded machine code from its disk cache.
    """

    fn: Callable[..., Any]
    py_function: Callable[..., Any]
    path: Path
    backend: str
    compile_seconds: float
    cache_hit: bool

    @property
    def njit(self) -> Any:
        """The numba dispatcher, callable from the user's own ``@numba.njit`` code."""
        if self.backend != "numba":
            raise AttributeError("this function runs on the Python backend; compile it with backend='numba'")
        return self.fn


PACKAGE = "dcompile_generated"


def _package(directory: Path) -> None:
    """Make ``dcompile_generated.<module>`` importable from the cache directory.

    numba's cache pickles a function that takes a generated kernel as an
    argument (an optimizer loop) by reference to the kernel's module, and
    imports it again in the next process.
    """
    package = sys.modules.get(PACKAGE)
    if package is None:
        package = types.ModuleType(PACKAGE)
        package.__path__ = []
        sys.modules[PACKAGE] = package
        sys.meta_path.insert(0, VerifiedFinder(PACKAGE))  # imports by name check the hash too
    if str(directory) not in package.__path__:
        package.__path__.append(str(directory))


def _load_module(path: Path) -> Any:
    _package(path.parent)
    name = f"{PACKAGE}.{path.stem}"
    # From the text whose hash names the file, never a .pyc or a file edited since (backend/cache.py).
    spec = importlib.util.spec_from_file_location(name, path, loader=VerifiedLoader(name, str(path)))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def _numba_type(t: VType) -> Any:
    import numba

    scalar = {DType.F64: numba.float64, DType.BOOL: numba.boolean, DType.I64: numba.int64}[t.dtype]
    return scalar if t.rank == 0 else numba.types.Array(scalar, t.rank, "C")


def _compile(module: Any, emitted: Emitted, sig: tuple[Any, ...], *, direct: bool) -> Any:
    """The numba dispatcher of the module's function, its part functions compiled first.

    The parts of a split body (backend/chunking.py) that are plain float
    arithmetic are lowered straight to LLVM (backend/llvm_parts.py, with
    ``direct``), the others are ``numba.njit`` functions; either way they are
    compiled as the function's callees, and numba's cache of the function holds
    their machine code.
    """
    import numba

    py_fn = getattr(module, emitted.function)
    # error_model="numpy": IEEE results (1/0 -> inf, 0/0 -> nan) as NumPy gives them,
    # instead of Python's ZeroDivisionError, so both backends agree.
    options = {"cache": True, "error_model": "numpy"}
    direct = direct and bool(emitted.parts) and not _in_numba_cache(numba.njit(**options)(py_fn), sig)
    direct_parts = lower_parts(emitted.source, emitted.parts) if direct else {}
    for name in emitted.parts:
        part = direct_parts.get(name) or numba.njit(error_model="numpy")(getattr(module, name))
        setattr(module, name, part)
    return numba.njit(sig, **options)(py_fn)


def _in_numba_cache(dispatcher: Any, sig: tuple[Any, ...]) -> bool:
    """Whether numba's disk cache holds machine code of ``dispatcher`` for ``sig``.

    A cache hit never types the parts, so preparing their direct lowering (parsing
    the source, planning every part) would be wasted on the path that should be
    fastest. Uses numba's cache object; if that is not available, answers False.
    """
    try:
        return dispatcher._cache.load_overload(sig, dispatcher.targetctx) is not None
    except Exception:
        return False


def load_kernel(emitted: Emitted, arg_types: list[VType], backend: str, *, retry: bool = True) -> Kernel:
    """Write, load and (for numba) compile ``emitted``.

    If numba fails on its own cache files for the module (truncated, corrupted),
    they are removed and the module compiled afresh (``retry``); a cache numba
    cannot write raises :class:`~dcompile.backend.cache.CacheError`.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    start = time.perf_counter()
    path = write_module(emitted.function, emitted.source)
    module = _load_module(path)
    py_fn = getattr(module, emitted.function)
    if backend == "python":
        return Kernel(py_fn, py_fn, path, backend, time.perf_counter() - start, False)
    sig = tuple(_numba_type(t) for t in arg_types)
    try:
        dispatcher = _compile(module, emitted, sig, direct=True)
    except Exception as exc:
        if retry and drop_numba_cache(path):
            return load_kernel(emitted, arg_types, backend, retry=False)
        if isinstance(exc, OSError):
            raise cache_error("numba cannot save machine code there", path.parent, exc) from exc
        if not emitted.parts:
            raise
        # A part lowered directly did not type (an argument of another type than the
        # statements imply): compile every part with numba.njit instead.
        module = _load_module(path)
        py_fn = getattr(module, emitted.function)
        dispatcher = _compile(module, emitted, sig, direct=False)
    hits = sum(dispatcher.stats.cache_hits.values())
    return Kernel(dispatcher, py_fn, path, backend, time.perf_counter() - start, hits > 0)
