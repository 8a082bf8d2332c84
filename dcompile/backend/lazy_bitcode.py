"""Load numba's cached machine code without parsing the LLVM bitcode stored beside it.

numba caches a function as its object code *and* the bitcode of its whole LLVM
module: the bitcode is what a later numba function that calls this one links in
(to inline it). Loading parses that bitcode at once, though most processes never
link against it. For a split function the module holds every part: at
N = 10,000 steps of a chain it is 2 MB and parsing it was 0.2 s of a 0.24 s load
(issue 7: any size loads in <= 0.3 s). (The rest of a fresh process's first load
is numba's own start, loading its typing and lowering registries, 0.25 s: the
loaded machine code needs them, skipping it crashed.)

:func:`deferred_bitcode` loads a cache entry with the parse put off until
something links against the library (``_get_module_for_linking``, numba's one
way in). What the parse also did at load, telling numba's engine which symbols
the library defines (it looks the entry point up by name), is done from the
object code's ELF symbol table instead. Where the object code is not ELF (macOS,
Windows), or the table cannot be read, numba's own eager load runs.
"""

from __future__ import annotations

import struct
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
        shoff, = struct.unpack_from("<Q", data, 0x28)
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


def _unserialize(cls: Any, codegen: Any, state: Any, *, eager: Any) -> Any:
    """numba's ``CPUCodeLibrary._unserialize`` for object code, with the bitcode parse put off."""
    name, kind, data = state
    if kind != "object":
        return eager(codegen, state)
    object_code, shared_bitcode = data
    defined = elf_defined_symbols(object_code)
    if defined is None:
        return eager(codegen, state)
    library = codegen.create_library(name)
    library.enable_object_caching()
    library._set_compiled_object(object_code)
    library._dcompile_bitcode = shared_bitcode
    library._get_module_for_linking = types.MethodType(_linking_module, library)
    library._finalize_final_module()
    library._codegen._engine._defined_symbols |= defined
    return library


@contextmanager
def deferred_bitcode() -> Iterator[None]:
    """numba cache loads inside this block put off parsing their bitcode (see the module).

    Holds numba's compiler lock, so no other thread loads or compiles while numba's
    class is patched; every load in the block is served by the same code, which
    falls back to numba's own for anything but ELF object code.
    """
    from numba.core.codegen import JITCodeLibrary
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        own = JITCodeLibrary.__dict__.get("_unserialize")
        eager = JITCodeLibrary._unserialize
        patched = classmethod(lambda cls, codegen, state: _unserialize(cls, codegen, state, eager=eager))
        JITCodeLibrary._unserialize = patched  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            if own is None:
                del JITCodeLibrary._unserialize  # back to the inherited CPUCodeLibrary._unserialize
            else:
                JITCodeLibrary._unserialize = own  # type: ignore[method-assign]

