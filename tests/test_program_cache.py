"""The program cache: a request answered before skips tracing; anything the program reads changes its key.

The rule under test is "miss rather than be wrong": every change that could
change the traced program (code, constants, closures, globals, helpers, data
arrays, the split settings) must give another key, and a damaged record must be
a miss. Most checks run on the Python backend (no numba compile); the numba
path, where a split function's machine code is loaded without its parts'
bytecode, is covered by tests/test_chunking.py's second-process test and one
test here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import dcompile as dc
from dcompile.backend import program_cache
from dcompile.frontend.fingerprint import fingerprint
from tests.helpers import FAST_PATHS


def define(src: str, **globs: object) -> types.FunctionType:
    """A function from source, in a fresh global namespace (as a separate module would have)."""
    ns: dict[str, object] = {"np": np, **globs}
    exec(compile(src, "<test_program_cache>", "exec"), ns)
    fn = ns[src.split("def ", 1)[1].split("(", 1)[0]]
    assert isinstance(fn, types.FunctionType)
    return fn


F = "def f(x, y):\n    return np.sin(x) * y + SCALE * x ** 2\n"


# -- fingerprints --------------------------------------------------------------------
def test_the_same_code_and_globals_give_the_same_fingerprint():
    assert fingerprint(define(F, SCALE=2.0)) == fingerprint(define(F, SCALE=2.0))


@pytest.mark.parametrize(
    "other",
    [
        (F.replace("2", "3"), {"SCALE": 2.0}),  # a constant in the code
        (F.replace("np.sin", "np.cos"), {"SCALE": 2.0}),  # a function called
        (F, {"SCALE": 2.5}),  # a global read
        (F, {"SCALE": np.float64(2.0)}),  # same value, other type: may trace differently
        (F.replace("x, y", "x, z").replace("* y", "* z"), {"SCALE": 2.0}),  # an argument name
        (F.replace("return", "t = 1\n    return"), {"SCALE": 2.0}),  # a line
    ],
)
def test_any_change_the_program_could_see_changes_the_fingerprint(other):
    src, globs = other
    assert fingerprint(define(F, SCALE=2.0)) != fingerprint(define(src, **globs))


def test_an_unrelated_global_does_not_change_the_fingerprint():
    assert fingerprint(define(F, SCALE=2.0, OTHER=1)) == fingerprint(define(F, SCALE=2.0, OTHER=2))


def test_data_arrays_are_keyed_by_content():
    src = "def f(x):\n    return np.sum(W * x)\n"
    a = fingerprint(define(src, W=np.arange(4.0)))
    assert a == fingerprint(define(src, W=np.arange(4.0)))
    assert a != fingerprint(define(src, W=np.arange(4.0) + 1e-300))
    assert a != fingerprint(define(src, W=np.arange(4.0).reshape(2, 2)))
    assert a != fingerprint(define(src, W=np.arange(4)))


def test_helpers_closures_and_defaults_are_followed():
    helper_src = "def helper(t):\n    return np.tanh(t) * K\n"
    user = "def f(x):\n    return helper(x) + 1.0\n"
    h1, h2 = define(helper_src, K=1.0), define(helper_src, K=2.0)
    assert fingerprint(define(user, helper=h1)) != fingerprint(define(user, helper=h2))

    def make(c):
        def g(x, d=0.5):
            return x * c + d

        return g

    assert fingerprint(make(1.0)) == fingerprint(make(1.0))
    assert fingerprint(make(1.0)) != fingerprint(make(2.0))
    g = make(1.0)
    g2 = make(1.0)
    g2.__defaults__ = (0.25,)
    assert fingerprint(g) != fingerprint(g2)


def test_user_modules_are_keyed_by_what_the_code_reads():
    mod = types.ModuleType("user_helpers")
    mod.scale = 2.0
    mod.unrelated = object()  # not fingerprintable, but never read
    src = "def f(x):\n    return user_helpers.scale * x\n"
    a = fingerprint(define(src, user_helpers=mod))
    assert a is not None
    mod.scale = 3.0
    assert fingerprint(define(src, user_helpers=mod)) != a


def test_unfingerprintable_reads_mean_no_key():
    class Params:
        k = 2.0

    src = "def f(x):\n    return P.k * x\n"
    assert fingerprint(define(src, P=Params())) is None
    assert fingerprint(define(src, P=np.random.default_rng(0))) is None
    assert fingerprint(define(src, P=np.array([object()]))) is None


@pytest.mark.parametrize(
    "body",
    [
        'globals()["SCALE"] * x',  # a dynamic lookup
        'np.loadtxt("weights.txt") @ x',  # a file read at trace time
        "np.random.default_rng(0).normal() * x",  # randomness baked into constants
        'float(os.environ.get("K", "1")) * x',  # the environment
    ],
)
def test_code_that_reads_outside_its_globals_has_no_key(body):
    assert fingerprint(define(f"def f(x):\n    return {body}\n", os=os, SCALE=1.0)) is None


def test_recursive_helpers_terminate():
    src = "def f(x):\n    return f(x)\n"
    assert fingerprint(define(src)) is not None


def test_dcompile_functions_are_keyed_by_their_own_fingerprint():
    inner1 = dc.compile(define("def g(x):\n    return x * 2.0\n"), backend="python")
    inner2 = dc.compile(define("def g(x):\n    return x * 3.0\n"), backend="python")
    user = "def f(x):\n    return g(x) + 1.0\n"
    assert fingerprint(define(user, g=inner1)) != fingerprint(define(user, g=inner2))


# -- the cache in use --------------------------------------------------------------------
def fresh(src: str = F, **globs: object) -> dc.Function:
    return dc.compile(define(src, **globs), backend="python")


def test_a_second_function_with_the_same_program_is_not_traced():
    first = dc.value_and_grad(fresh(SCALE=1.25))
    expected = first(0.3, 0.7)
    second = dc.value_and_grad(fresh(SCALE=1.25))
    value, grad = second(0.3, 0.7)
    assert value == expected[0] and np.array_equal(grad, expected[1])
    assert second.fn._graphs == {}  # served from the program cache: no trace
    assert second.source == first.source  # and still shows its code (traced on request)


def test_a_changed_global_is_traced_again_and_gives_its_own_answer():
    a = dc.grad(fresh(SCALE=1.0))(0.3, 0.7)
    b = dc.grad(fresh(SCALE=4.0))(0.3, 0.7)
    expected = np.array([np.cos(0.3) * 0.7 + 2 * 4.0 * 0.3, np.sin(0.3)])
    np.testing.assert_allclose(b, expected, rtol=1e-15)
    assert not np.array_equal(a, b)


def test_turned_off_it_traces(monkeypatch):
    dc.grad(fresh(SCALE=1.5))(0.3, 0.7)
    monkeypatch.setenv(program_cache.ENV_VAR, "0")
    again = dc.grad(fresh(SCALE=1.5))
    again(0.3, 0.7)
    assert again.fn._graphs != {}


def records() -> list:
    return sorted((program_cache.cache_dir() / "programs").glob("*.json"), key=os.path.getmtime)


def test_a_damaged_record_is_a_miss_not_an_error():
    src = "def f(x):\n    return np.exp(x) * 0.125\n"
    want = dc.grad(fresh(src))(0.5)
    record = records()[-1]
    for damage in ("{not json", json.dumps({"format": 1, "module": "../../etc/passwd", "function": "f"}), ""):
        record.write_text(damage)
        again = dc.grad(fresh(src))
        assert again(0.5) == want
        assert again.fn._graphs != {}  # traced: the record was not trusted


def test_a_record_pointing_at_an_edited_module_is_a_miss():
    src = "def f(x):\n    return np.exp(x) * 0.375\n"
    want = dc.grad(fresh(src))(0.5)
    module = program_cache.cache_dir() / json.loads(records()[-1].read_text())["module"]
    text = module.read_text()
    module.write_text(text.replace("0.375", "0.5"))  # hand-edited: its name's hash no longer matches
    try:
        again = dc.grad(fresh(src))
        assert again(0.5) == want
        assert again.fn._graphs != {}
    finally:
        module.write_text(text)


def test_sympy_functions_are_cached_by_expression():
    import sympy

    x, y = sympy.symbols("x y")
    f1 = dc.from_sympy(sympy.sin(x) * y**3, [x, y], backend="python")
    g1 = dc.grad(f1)(0.2, 1.5)
    f2 = dc.from_sympy(sympy.sin(x) * y**3, [x, y], backend="python")
    g2 = dc.grad(f2)
    assert np.array_equal(g2(0.2, 1.5), g1) and f2._graphs == {}
    f3 = dc.from_sympy(sympy.sin(x) * y**2, [x, y], backend="python")
    np.testing.assert_allclose(dc.grad(f3)(0.2, 1.5), [np.cos(0.2) * 1.5**2, 2 * np.sin(0.2) * 1.5])


SCRIPT = """
import json, sys
import numpy as np
import dcompile as dc
def chain(t0, w):
    t = t0
    for k in range({n}):
        t = np.sin(t) * t + w[k]
    return t
vg = dc.value_and_grad(dc.compile(chain))
value, grad = vg(0.5, 0.1 * np.cos(np.arange({n})))
bits = [value.hex()] + [g.hex() for g in np.atleast_1d(grad[0])] + [g.hex() for g in grad[1]]
library = next(iter(vg.kernel.fn.overloads.values())).library
deferred = library._shared_module is None  # the parts' bitcode not parsed at load
linked = None
if "LINK" in sys.argv:  # numba code calling the loaded kernel links (and so parses) it
    import numba
    kernel = vg.njit
    @numba.njit
    def twice(t0, w):
        a, _ = kernel(t0, w)
        b, _ = kernel(t0, w)
        return a + b
    linked = twice(0.5, 0.1 * np.cos(np.arange({n}))).hex() == (2 * value).hex()
print(json.dumps({{"hit": vg.kernel.cache_hit, "traced": bool(vg.fn._graphs), "bits": bits,
                  "deferred": deferred, "linked": linked}}))
"""


@pytest.mark.numba
def test_a_second_process_loads_a_split_function_without_tracing(tmp_path):
    env = {**os.environ, "DCOMPILE_CACHE_DIR": str(tmp_path)}
    script = SCRIPT.format(n=80)  # about 1,300 lines: split into parts, some lowered straight to LLVM

    def run(extra: dict[str, str], *argv: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", script, *argv],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second, off = run({}), run({}, "LINK"), run({program_cache.ENV_VAR: "0"})
    assert (first["hit"], first["traced"]) == (False, True)
    assert (second["hit"], second["traced"]) == (True, False)
    assert (off["hit"], off["traced"]) == (True, True)
    assert first["bits"] == second["bits"] == off["bits"]
    # loaded from the program cache, the LLVM bitcode numba keeps for linking is parsed only when
    # numba code calling the kernel is compiled, and that code gets the same numbers
    assert (first["deferred"], second["deferred"]) == (False, FAST_PATHS)  # deferring is numba_private's load
    assert second["linked"] is True


def test_the_collector_is_paused_during_a_compile_and_restored_after():
    import gc

    from dcompile.backend import gcpause

    seen = []
    src = "def f(x):\n    return np.sin(x) * 0.8125\n"
    fn = define(src)

    def spy(x):
        seen.append(gc.isenabled())
        return fn(x)

    assert gc.isenabled()
    dc.grad(dc.compile(spy, backend="python"))(0.5)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with gcpause.paused(), gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a collector the user had disabled stays disabled
    finally:
        gc.enable()
