"""Load generated modules and compile their function with numba or run it as Python.

``backend="numba"`` (the default) compiles with ``numba.njit(signature,
cache=True, error_model="numpy")``: the explicit signature compiles eagerly (so compile time is
measured where it happens) and the dispatcher never compiles again behind the
user's back; numba loads machine code from its on-disk cache when another
process compiled the same module before. ``backend="python"`` runs the very
same source as plain Python, for fast tests and debugging.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcompile.backend import memory, notice
from dcompile.backend.cache import VerifiedFinder, VerifiedLoader, cache_error, drop_numba_cache, write_module
from dcompile.backend.llvm_parts import lower_parts, split_parts
from dcompile.backend.numba_private import cache_index, cache_load
from dcompile.emit.emitter import Emitted
from dcompile.errors import ExtensionError
from dcompile.ir.types import DType, VType
from dcompile.runtime import extensions

BACKENDS = ("numba", "python")
# error_model="numpy": IEEE results (1/0 -> inf, 0/0 -> nan) as NumPy gives them, instead of
# Python's ZeroDivisionError, so both backends agree.
_NJIT = {"cache": True, "error_model": "numpy"}


@dataclass
class Kernel:
    """A loaded generated function.

    Attributes:
        fn: what to call (the numba dispatcher, or the Python function).
        py_function: the plain Python function in the generated module.
        path: the module's file.
        compile_seconds: time spent loading and compiling (or loading from cache).
        cache_hit: whether numba loaded machine code from its disk cache.
        lowered: the part functions lowered straight to LLVM in this compile
            (empty on a cache hit, or if the direct lowering fell back to numba).
    """

    fn: Callable[..., Any]
    py_function: Callable[..., Any]
    path: Path
    backend: str
    compile_seconds: float
    cache_hit: bool
    lowered: tuple[str, ...] = ()

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


def load_module(path: Path) -> Any:
    """Import the generated module at ``path`` as ``PACKAGE.<stem>``, from the text whose hash names it."""
    _package(path.parent)
    name = f"{PACKAGE}.{path.stem}"
    # From the text whose hash names the file, never a .pyc or a file edited since (backend/cache.py).
    spec = importlib.util.spec_from_file_location(name, path, loader=VerifiedLoader(name, str(path)))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def _numba_type(t: VType | tuple[VType, ...]) -> Any:
    """The numba type of a parameter; a tuple of types is a tuple of C arrays (the buffers of an
    into-variant writing several gradients; rank 0: a 0-d array)."""
    import numba

    if isinstance(t, tuple):
        return numba.types.BaseTuple.from_types(
            [numba.types.Array(_numba_type(VType((), x.dtype)), x.rank, "C") for x in t]
        )
    scalar = {DType.F64: numba.float64, DType.BOOL: numba.boolean, DType.I64: numba.int64}[t.dtype]
    return scalar if t.rank == 0 else numba.types.Array(scalar, t.rank, "C")


def _compile(module: Any, emitted: Emitted, sig: tuple[Any, ...], *, direct: bool) -> Any:
    """The numba dispatcher of the module's function, its part functions compiled first.

    The parts of a split body (emit/chunking.py) that are plain float
    arithmetic are lowered straight to LLVM (backend/llvm_parts.py, with
    ``direct``), the others are ``numba.njit`` functions; either way they are
    compiled as the function's callees, and numba's cache of the function holds
    their machine code.
    """
    import numba

    py_fn = getattr(module, emitted.function)
    if not emitted.parts:
        cached = _from_numba_cache(py_fn, sig)
        if cached is not None:
            cached._dcompile_lowered = ()
            return cached
    direct = direct and bool(emitted.parts) and not cache_index.in_cache(numba.njit(**_NJIT)(py_fn), sig)
    direct_parts = lower_parts(emitted.source, emitted.parts, hot=emitted.hot, plans=emitted.plans) if direct else {}
    for name in emitted.parts:
        part = direct_parts.get(name) or numba.njit(error_model="numpy")(getattr(module, name))
        setattr(module, name, part)
    dispatcher = numba.njit(sig, **_NJIT)(py_fn)
    dispatcher._dcompile_lowered = tuple(direct_parts)
    return dispatcher


def _raise_for_extension(source: str, exc: Exception) -> None:
    """Name the user primitive whose numba implementation failed to compile (not numba's traceback)."""
    for attr, (name, message) in extensions.FAILURES.items():
        if f"_dcx.{attr}(" in source:
            raise ExtensionError(
                f"the numba implementation of user primitive {name!r} does not compile for the arguments the "
                f"generated code passes ({message}); make it compile under numba.njit for those types "
                "(scalars for an elementwise primitive, arrays otherwise), or use backend='python'"
            ) from None


def _from_numba_cache(py_fn: Callable[..., Any], sig: tuple[Any, ...]) -> Any:
    """``numba.njit(sig)`` of ``py_fn`` loaded from numba's disk cache, or None if the cache lacks it.

    Whether the cache has it is read from numba's cache index
    (:mod:`~dcompile.backend.numba_private.cache_index`; on the public path the
    answer is no, and :func:`_compile`'s ``numba.njit(sig, cache=True)`` loads it).
    Loaded through :mod:`~dcompile.backend.numba_private.cache_load` (numba's
    linking bitcode and its full start put off until numba next compiles; numba's
    own loader if that raises).
    """
    import numba

    dispatcher = numba.njit(**_NJIT)(py_fn)
    if not cache_index.in_cache(dispatcher, sig):
        return None
    cache_load.load(dispatcher, sig)  # loads the machine code
    dispatcher.disable_compile()  # as numba.njit(sig): never compiles behind the user's back
    return dispatcher


def _stub(path: Path, emitted: Emitted) -> Any:
    """The module of a split function without its part functions' text, or None if not cut.

    A split module is mostly part functions (after the main function in the
    file): those lowered straight to LLVM are never called from Python, yet
    compiling their text to bytecode takes seconds at 100,000+ lines. The main
    function is compiled from the same lines at the same line numbers, so
    numba's cache keys (bytecode, file, line) are the ones of the whole module.
    """
    marker = f"\ndef {emitted.parts[0]}("
    cut = emitted.source.find(marker)
    if cut < 0:
        return None
    module = types.ModuleType(f"{PACKAGE}.{path.stem}")
    module.__file__ = str(path)
    exec(compile(emitted.source[: cut + 1], str(path), "exec", dont_inherit=True), module.__dict__)
    return module


@contextmanager
def _standing_in(module: types.ModuleType) -> Iterator[None]:
    """``module`` registered under its name while numba compiles or loads (its environment names it).

    Unregistered afterwards, so that a later import by name gets the whole module.
    """
    _package(Path(str(module.__file__)).parent)
    sys.modules[module.__name__] = module
    try:
        yield
    finally:
        if sys.modules.get(module.__name__) is module:
            del sys.modules[module.__name__]


def _compile_split(module: types.ModuleType, path: Path, emitted: Emitted, sig: tuple[Any, ...]) -> Any:
    """Compile a split function from its stub, its lowered parts and the other parts' definitions.

    The cold counterpart of :func:`_load_from_numba_cache`: the parts with plans
    (``emitted.plans``) are lowered to LLVM from their trees; only the others are
    parsed from the source and compiled to bytecode, for ``numba.njit`` (or, without
    a plan, lowered from the parsed text: :func:`~dcompile.backend.llvm_parts.split_parts`).
    """
    import numba

    lowered, rest = split_parts(emitted.source, emitted.parts, hot=emitted.hot, plans=emitted.plans)
    for node in rest:
        code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    for name in emitted.parts:
        setattr(module, name, lowered.get(name) or numba.njit(error_model="numpy")(getattr(module, name)))
    with _standing_in(module):
        dispatcher = numba.njit(sig, **_NJIT)(getattr(module, emitted.function))
    setattr(dispatcher, "_dcompile_lowered", tuple(lowered))  # noqa: B010 (numba's type has no such field)
    return dispatcher


def _load_from_numba_cache(module: types.ModuleType, emitted: Emitted, sig: tuple[Any, ...]) -> Any:
    """The dispatcher of a split function whose machine code numba's cache holds, or None.

    A split module is mostly its part functions (after the main function in the
    file); with the machine code cached they are never called from Python, yet
    compiling their text to bytecode takes longer than numba's load (0.9 s of a
    172,000-line module). The main function is compiled from the same lines at the
    same line numbers, so numba finds its cache entry. numba's cached environment
    names the module, so the short module stands in for it while numba loads, and
    is unregistered afterwards: a later import by name gets the whole module.
    """
    with _standing_in(module):
        return _from_numba_cache(getattr(module, emitted.function), sig)


def load_kernel(
    emitted: Emitted,
    arg_types: Sequence[VType | tuple[VType, ...]],
    backend: str,
    *,
    retry: bool = True,
    cached: Path | None = None,
) -> Kernel:
    """Write, load and (for numba) compile ``emitted``; a compile longer than a second is announced
    on stderr (see :mod:`dcompile.backend.notice`)."""
    if backend != "numba":
        return _load_kernel(emitted, arg_types, backend, retry=retry, cached=cached)
    memory.tune_malloc()  # the kernels' temporaries stay in the heap between calls (backend/memory.py)
    with notice.compiling(f"{emitted.function}"):
        return _load_kernel(emitted, arg_types, backend, retry=retry, cached=cached)


def _load_kernel(
    emitted: Emitted,
    arg_types: Sequence[VType | tuple[VType, ...]],
    backend: str,
    *,
    retry: bool = True,
    cached: Path | None = None,
) -> Kernel:
    """Write, load and (for numba) compile ``emitted``.

    If numba fails on its own cache files for the module (truncated, corrupted),
    they are removed and the module compiled afresh (``retry``); a cache numba
    cannot write raises :class:`~dcompile.backend.cache.CacheError`. ``cached``:
    the module's verified file, found by the program cache; numba's cache likely
    holds its machine code (a split function is then loaded without its parts'
    bytecode).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    start = time.perf_counter()
    path = cached or write_module(emitted.function, emitted.source)
    if backend == "numba" and emitted.parts:
        sig = tuple(_numba_type(t) for t in arg_types)
        try:
            # numba's cache may hold the machine code (likely, from the program cache); else compile.
            # The stub is None if the module cannot be cut; a module loaded already takes the full path.
            module = _stub(path, emitted)
            dispatcher = None
            if module is not None and module.__name__ not in sys.modules:
                dispatcher = _load_from_numba_cache(module, emitted, sig)
                if dispatcher is None:
                    dispatcher = _compile_split(module, path, emitted, sig)
        except Exception:
            dispatcher = None  # anything unexpected (a damaged numba cache, a part that does not type): below
        if dispatcher is not None:
            hits = sum(dispatcher.stats.cache_hits.values())
            lowered = () if hits else getattr(dispatcher, "_dcompile_lowered", ())
            return Kernel(dispatcher, dispatcher.py_func, path, backend, time.perf_counter() - start, hits > 0, lowered)
    module = load_module(path)
    py_fn = getattr(module, emitted.function)
    if backend == "python":
        return Kernel(py_fn, py_fn, path, backend, time.perf_counter() - start, False)
    sig = tuple(_numba_type(t) for t in arg_types)
    try:
        dispatcher = _compile(module, emitted, sig, direct=True)
    except Exception as exc:
        _raise_for_extension(emitted.source, exc)
        if retry and drop_numba_cache(path):
            return _load_kernel(emitted, arg_types, backend, retry=False)
        if isinstance(exc, OSError):
            raise cache_error("numba cannot save machine code there", path.parent, exc) from exc
        if not emitted.parts:
            raise
        # A part lowered directly did not type (an argument of another type than the
        # statements imply): compile every part with numba.njit instead.
        module = load_module(path)
        py_fn = getattr(module, emitted.function)
        dispatcher = _compile(module, emitted, sig, direct=False)
    hits = sum(dispatcher.stats.cache_hits.values())
    lowered = () if hits else dispatcher._dcompile_lowered
    return Kernel(dispatcher, py_fn, path, backend, time.perf_counter() - start, hits > 0, lowered)
