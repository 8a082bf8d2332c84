"""Load numba's cached machine code without the work the machine code does not need.

Entry point: :func:`load` (``dispatcher.compile(sig)`` for a signature numba's
cache holds, served by the quick load below; numba's own loader when the fast
paths are off, or when the quick load raises).

Private things touched: ``numba.core.codegen.JITCodeLibrary._unserialize`` is
replaced while a load runs (under numba's ``global_compiler_lock``), and the
library it builds is assembled from numba's private steps
(``create_library``, ``enable_object_caching``, ``_set_compiled_object``,
``_finalize_final_module``, ``_shared_module``, ``_get_module_for_linking``,
the JIT engine's ``_defined_symbols`` and ``_load_defined_symbols``); the
dispatcher's target context gets an instance ``refresh`` for the load, which
starts ``numba.core.runtime.rtsys`` alone.

Why: two costs of numba's own cache load, both paid before a cached function
runs, are put off until something needs them (issue 7: any size loads in
<= 0.3 s):

* **The linking bitcode.** numba caches a function as its object code *and* the
  bitcode of its whole LLVM module, which a later numba function calling this
  one links in (to inline it), and parses that bitcode at load. For a split
  function the module holds every part: 2 MB at N = 10,000 steps of a chain,
  0.2 s of a 0.24 s load. Here it is parsed when something links against the
  library (``_get_module_for_linking``, numba's one way in). What the parse also
  told numba at load, the symbols the library defines (it looks the entry point
  up by name), is read from the object code's ELF symbol table. Object code that
  is not ELF (macOS, Windows) or a table that cannot be read: numba's eager load.
* **numba's start** (:func:`_runtime_only`): the first load in a process
  refreshes numba's target context, importing every implementation numba has
  (and SciPy), about 0.25 s; the loaded code needs only numba's runtime.

A fresh process's first call of a cached gradient: worked example 0.38 -> 0.05 s,
an unrolled 10,000-step chain 0.51 -> 0.1 s.

Public path and fallback: ``dispatcher.compile(sig)`` alone, numba's own
loader. It serves when the fast paths are off, and whenever the quick load
raises (a renamed private attribute): the load is then done again by numba's
loader, with one warning per process, and numba's cache files are kept. Only
if numba's own loader fails too does the error reach the caller (a damaged
cache, whose files the backend then drops and compiles afresh).
"""

from __future__ import annotations

import struct
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dcompile.backend import numba_private

_SHT_SYMTAB = 2
_STT_SECTION, _STT_FILE = 3, 4
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")  # ELF64 section header, little-endian
_SYMBOL = struct.Struct("<IBBHQQ")  # ELF64 symbol table entry


def elf_defined_symbols(data: bytes) -> set[str] | None:
    """The names an ELF64 little-endian object defines (functions and data), or None if not one.

    A symbol is defined when its section index is not ``SHN_UNDEF`` (0); section and
    file symbols carry no name numba looks up and are left out.
    """
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    try:
        (shoff,) = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        if shentsize != _SECTION_HEADER.size or shnum == 0:
            return None
        sections = [_SECTION_HEADER.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        names: set[str] = set()
        for sh in sections:
            if sh[1] != _SHT_SYMTAB:
                continue
            offset, size, link, entsize = sh[4], sh[5], sh[6], sh[9]
            strtab = sections[link]
            str_off, str_end = strtab[4], strtab[4] + strtab[5]
            if entsize != _SYMBOL.size or str_end > len(data) or offset + size > len(data):
                return None
            for k in range(offset, offset + size, entsize):
                name_at, info, _other, shndx, _value, _size = _SYMBOL.unpack_from(data, k)
                if name_at == 0 or shndx == 0 or (info & 0xF) in (_STT_SECTION, _STT_FILE):
                    continue
                end = data.index(b"\0", str_off + name_at, str_end)
                names.add(data[str_off + name_at : end].decode("utf-8"))
        return names or None
    except (struct.error, ValueError, IndexError, UnicodeDecodeError):
        return None


def _linking_module(library: Any) -> Any:
    """``_get_module_for_linking`` of a library loaded with its bitcode put off: parse it now."""
    if library._shared_module is None:
        import llvmlite.binding as ll

        library._shared_module = ll.parse_bitcode(library._dcompile_bitcode)
        library._dcompile_bitcode = None
        library._codegen._engine._load_defined_symbols(library._shared_module)
    return library._shared_module


def load(dispatcher: Any, sig: tuple[Any, ...]) -> None:
    """``dispatcher.compile(sig)`` for a ``sig`` whose machine code numba's cache holds: a quick load
    (see the module), or numba's own when the fast paths are off or the quick load raises."""
    if numba_private.fast_paths():
        try:
            with quick_load(dispatcher.targetctx):
                dispatcher.compile(sig)
        except Exception as exc:
            failure: Exception | None = exc
        else:
            return
    else:
        failure = None
    dispatcher.compile(sig)  # numba's loader; a damaged cache raises here, for the caller to handle
    if failure is not None:
        numba_private.hook_failed("cache_load", failure)


def _unserialize(codegen: Any, state: Any, *, eager: Any) -> Any:
    """numba's ``CPUCodeLibrary._unserialize`` for object code, with the bitcode parse put off
    (numba's own, ``eager``, for anything else or if a private step raises)."""
    try:
        return _quick_unserialize(codegen, state, eager=eager)
    except Exception as exc:
        numba_private.hook_failed("cache_load", exc)
        return eager(codegen, state)


def _quick_unserialize(codegen: Any, state: Any, *, eager: Any) -> Any:
    name, kind, data = state
    if kind != "object":
        return eager(codegen, state)
    object_code, shared_bitcode = data
    defined = elf_defined_symbols(object_code)
    if defined is None:
        return eager(codegen, state)
    engine = codegen._engine
    symbols = engine._defined_symbols
    if not callable(getattr(engine, "_load_defined_symbols", None)):  # needed later, at link time: check now
        raise AttributeError("numba's JIT engine has no _load_defined_symbols")
    library = codegen.create_library(name)
    library.enable_object_caching()
    library._set_compiled_object(object_code)
    library._dcompile_bitcode = shared_bitcode
    library._get_module_for_linking = types.MethodType(_linking_module, library)
    library._finalize_final_module()
    symbols |= defined
    return library


@contextmanager
def quick_load(target_context: Any = None) -> Iterator[None]:
    """numba cache loads inside this block put off parsing their bitcode and numba's start (see the module).

    Holds numba's compiler lock, so no other thread loads or compiles while numba's
    class is patched; every load in the block is served by the same code, which
    falls back to numba's own for anything but ELF object code. With the
    dispatcher's ``target_context``, numba's first refresh is put off too
    (:func:`_runtime_only`).
    """
    from numba.core.codegen import JITCodeLibrary
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock, _runtime_only(target_context):
        own = JITCodeLibrary.__dict__.get("_unserialize")
        eager = JITCodeLibrary._unserialize
        patched = classmethod(lambda _cls, codegen, state: _unserialize(codegen, state, eager=eager))
        JITCodeLibrary._unserialize = patched  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            if own is None:
                del JITCodeLibrary._unserialize  # back to the inherited CPUCodeLibrary._unserialize
            else:
                JITCodeLibrary._unserialize = own  # type: ignore[method-assign]


@contextmanager
def _runtime_only(target_context: Any) -> Iterator[None]:
    """A cache load that starts numba's runtime but not its compiler.

    ``load_overload`` refreshes the target context first: the first time in a
    process that imports every typing and lowering implementation numba has (and
    SciPy, to look for BLAS), about 0.25 s, though machine code loaded from the
    cache needs none of it, only the runtime (NRT: allocation, reference counts),
    which the refresh also starts. Inside this block the refresh starts the
    runtime alone. The rest is put off, not lost: numba's compiler refreshes the
    context on entry, so the first compile of anything (numba code calling the
    loaded kernel included) loads the implementations then. Only the first
    refresh in the block is cut short: if the load misses and numba compiles
    instead, that compile gets the whole refresh.
    """
    if target_context is None or "refresh" in vars(target_context):
        yield
        return
    from numba.core.runtime import rtsys

    def start_runtime() -> None:
        # Once: the load refreshes first; should it miss, numba compiles, and that
        # compile's own refresh must load everything.
        del target_context.refresh
        rtsys.initialize(target_context)
        # The one implementation module that gives LLVM symbols on import (the hash
        # secret): a loaded function that hashes (a user primitive with a dict) needs them.
        import numba.cpython.hashing  # noqa: F401

    target_context.refresh = start_runtime
    try:
        yield
    finally:
        vars(target_context).pop("refresh", None)
