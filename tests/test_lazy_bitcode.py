"""The symbol table read from numba's cached object code (dcompile.backend.lazy_bitcode).

A program-cache load puts off parsing the LLVM bitcode numba stores beside the
object code; what numba learned from that parse at load, the names the library
defines, comes from the object's ELF symbol table. It must name exactly what
the parse would (numba looks its entry points up by name), and anything that is
not a readable ELF object must fall back to numba's own load.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dcompile.backend.lazy_bitcode import elf_defined_symbols

pytestmark = pytest.mark.numba


@pytest.fixture(scope="module")
def serialized():
    import numba

    @numba.njit
    def f(x, a):
        return np.sin(x) * x + np.sum(a * a)

    f(1.0, np.ones(3))
    library = f.overloads[f.signatures[0]].library
    _name, kind, (object_code, bitcode) = library.serialize_using_object_code()
    assert kind == "object"
    return object_code, bitcode


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numba emits ELF objects on Linux only")
def test_the_elf_symbols_are_the_names_the_bitcode_defines(serialized):
    import llvmlite.binding as ll

    object_code, bitcode = serialized
    module = ll.parse_bitcode(bitcode)
    defined = {g.name for group in (module.functions, module.global_variables) for g in group if not g.is_declaration}
    assert elf_defined_symbols(object_code) == defined
    assert any("cpython" in name for name in defined)  # the entry point numba looks up


@pytest.mark.parametrize("cut", [0, 3, 63, 200])
def test_truncated_or_foreign_data_falls_back(serialized, cut):
    object_code, bitcode = serialized
    assert elf_defined_symbols(object_code[:cut]) is None
    assert elf_defined_symbols(bitcode) is None  # not ELF
    assert elf_defined_symbols(b"\x7fELF" + b"\x01" * 60) is None  # 32-bit class


def test_a_damaged_section_table_falls_back(serialized):
    object_code, _ = serialized
    damaged = bytearray(object_code)
    damaged[0x28:0x30] = (len(object_code) - 8).to_bytes(8, "little")  # section headers past the end
    assert elf_defined_symbols(bytes(damaged)) is None
