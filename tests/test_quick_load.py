"""Quick cache loads (dcompile.backend.numba_private.cache_load).

A cached load puts off parsing the LLVM bitcode numba stores beside the object
code; what numba learned from that parse at load, the names the library
defines, comes from the object's ELF symbol table. It must name exactly what
the parse would (numba looks its entry points up by name), and anything that is
not a readable ELF object must fall back to numba's own load. numba's start is
put off too: a later process loads without it, gets the same numbers, and any
numba compile afterwards (code calling the loaded kernels, dicts, BLAS)
still works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dcompile.backend.numba_private.cache_load import elf_defined_symbols
from tests.helpers import requires_fast_paths

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


SCRIPT = """
import json, sys
import numpy as np, numba
import dcompile as dc

@dc.compile
def f(x, y):
    return np.sin(x) * y + x * x

def chain(t0, w):
    t = t0
    for k in range(80):
        t = np.sin(t) * t + w[k]
    return t

vg, vc = dc.value_and_grad(f), dc.value_and_grad(dc.compile(chain))
w = 0.1 * np.cos(np.arange(80))
a, b = vg(1.5, 2.0), vc(0.5, w)
started = "numba.np.arraymath" in sys.modules  # numba's implementations, imported by its start
kf, kc = vg.njit, vc.njit

@numba.njit
def later(x, w):  # compiled after the loads: links both kernels, hashes strings, calls BLAS
    d = {"a": 1.0, "b": 2.0}
    s = np.array([[2.0, 1.0], [1.0, 3.0]]) @ np.array([0.2, 0.2])
    v1, g1 = kf(x, 2.0)
    v2, g2 = kc(0.5, w)
    return d["a"] + d["b"] + s.sum() + v1 + v2 + g1.sum() + g2[1].sum()

expect = 3.0 + 1.4 + a[0] + b[0] + a[1].sum() + b[1][1].sum()
got = later(1.5, w)
print(json.dumps({"hits": [vg.kernel.cache_hit, vc.kernel.cache_hit], "started": started,
                  "bits": [a[0].hex(), b[0].hex()] + [g.hex() for g in a[1]] + [g.hex() for g in b[1][1]],
                  "later": bool(abs(got - expect) <= 1e-12 * abs(expect))}))
"""


@requires_fast_paths
def test_a_later_process_loads_without_numbas_start_and_compiles_after(tmp_path):
    env = {**os.environ, "DCOMPILE_CACHE_DIR": str(tmp_path)}

    def run() -> dict:
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold, warm = run(), run()
    assert cold["hits"] == [False, False] and cold["started"]
    assert warm["hits"] == [True, True]
    assert not warm["started"]  # both kernels (one split, one not) loaded without numba's start
    assert warm["bits"] == cold["bits"]
    assert cold["later"] and warm["later"]
