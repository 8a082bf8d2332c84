"""Long generated functions are split into part functions (issue 7), with bit-for-bit the same results.

Most tests shrink the split's threshold and part size (module globals of
``dcompile.emit.chunking``) so that small, fast graphs are split into many
parts; a few use the defaults. Results of the split code are compared with
the unsplit code's bit for bit, on the Python backend for many shapes and
lengths (a property test over chain lengths around the threshold) and on
numba for a few, sharing compiled kernels through module-scoped fixtures.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dcompile as dc
from dcompile.emit import chunking
from dcompile.emit.chunking import Split, from_text, split_body
from dcompile.emit.emitter import _Printer
from dcompile.emit.records import Assign, Elem, Kind, Op, Part, Stmt
from dcompile.ir.layout import Loop
from tests.helpers import requires_fast_paths
from tests.test_arrays import PROGS

SMALL = {"THRESHOLD": 40, "PART_SIZE": 16}
UNSPLIT = {"THRESHOLD": 10**9}


@contextmanager
def split_settings(**values: int) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in values.items():
            mp.setattr(chunking, name, value)
        yield


def make_chain(n: int) -> Callable[..., Any]:
    """``t = sin(t) * t + w_k`` for n steps, a function of the n + 1 scalars ``t0, w0, ...``."""
    params = ["t0"] + [f"w{k}" for k in range(n)]
    body = ["    t = t0"] + [f"    t = np.sin(t) * t + w{k}" for k in range(n)] + ["    return t"]
    ns: dict[str, Any] = {"np": np}
    exec(f"def chain({', '.join(params)}):\n" + "\n".join(body) + "\n", ns)
    return ns["chain"]


def chain_args(n: int, seed: int = 0) -> tuple[float, ...]:
    rng = np.random.default_rng(seed)
    return (float(rng.uniform(0.2, 0.9)), *(float(v) for v in rng.uniform(-0.3, 0.3, n)))


def bits(result: Any) -> list[bytes]:
    """Every number of a (nested) result as the bytes of its float64: equal means bit-for-bit equal."""
    if isinstance(result, tuple):
        return [b for item in result for b in bits(item)]
    return [np.asarray(result, dtype=np.float64).tobytes()]


def evaluate(fn: Callable[..., Any], mode: Callable[..., Any], args: tuple[Any, ...], backend: str, **values: int):
    """``mode(fn)(*args)`` and its source, under the given split settings."""
    with split_settings(**values):
        d = mode(dc.compile(fn, backend=backend))
        return d(*args), d.source


def parts_of(source: str) -> list[str]:
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and "_part" in n.name]


# -- the split itself, on hand-written bodies -----------------------------------------------
def split_text(function: str, params: list[str], body: list[str], scalars: set[str], **kw: int) -> Split | None:
    """``split_body`` of source lines (as statement records: ``from_text``), None if they are not splittable."""
    stmts = from_text(body)
    return None if stmts is None else split_body(function, params, stmts, scalars, **kw)


def test_short_bodies_are_left_alone():
    body = ["a = x * 2.0", "b = a + 1.0", "return b"]
    assert split_text("f", ["x"], body, {"a", "b"}, size=1, threshold=3) is None
    assert split_text("f", ["x"], body, {"a", "b"}, size=1, threshold=2) is not None


def run_split(body: list[str], params: list[str], scalars: set[str], args: tuple[Any, ...], size: int = 2) -> Any:
    """Execute ``body`` as one function and split into parts; both results."""
    whole = "def f({}):\n{}\n".format(", ".join(params), textwrap.indent("\n".join(body), "    "))
    split = split_text("f", params, body, scalars, size=size, threshold=1)
    assert split is not None and len(split.parts) >= 2
    lines = ["def f({}):".format(", ".join(params)), *(f"    {line}" for line in split.body)]
    for part in split.parts:
        lines += ["", *part]
    ns1: dict[str, Any] = {"np": np}
    ns2: dict[str, Any] = {"np": np}
    exec(whole, ns1)
    exec("\n".join(lines) + "\n", ns2)
    return ns1["f"](*args), ns2["f"](*args), "\n".join(lines)


def test_floats_cross_through_the_scratch_array_and_other_values_as_arguments():
    body = [
        "a = x * 2.0",
        "g = np.zeros(3)",
        "flag = a > 1.0",
        "b = a + y",
        "# a comment block",
        "g[0] += b",
        "c = b * a if flag else b",
        "g[1] += c",
        "return c, g",
    ]
    (c1, g1), (c2, g2), src = run_split(body, ["x", "y"], {"a", "b", "c"}, (1.5, 0.25))
    assert c1 == c2 and np.array_equal(g1, g2)
    assert "_s = np.empty(" in src and "_s[" in src  # floats through the scratch array
    assert "g = f_part" in src or "g, flag = f_part" in src or "flag, g = f_part" in src  # the array is returned


def test_names_assigned_again_in_a_later_part_and_loops_stay_whole():
    body = [
        "s = 0.0",
        "for i in range(3):",
        "    s += x[i] * x[i]",
        "r = s * 2.0",
        "s = r + 1.0",
        "u = np.empty(3)",
        "for i in range(3):",
        "    u[i] = x[i] * s",
        "return s, u",
    ]
    (s1, u1), (s2, u2), src = run_split(body, ["x"], {"s", "r"}, (np.array([1.0, 2.0, 3.0]),), size=1)
    assert s1 == s2 and np.array_equal(u1, u2)
    tree = ast.parse(src)
    loops = [n for n in ast.walk(tree) if isinstance(n, ast.For)]
    assert len(loops) == 2 and all(len(n.body) == 1 for n in loops)  # each loop in one part, whole


def test_unsupported_bodies_are_not_split():
    body = ["a = x * 2.0", "h = lambda z: z + a", "b = h(a)", "return b"]
    assert split_text("f", ["x"], body, {"a", "b"}, size=1, threshold=1) is None
    early = ["a = x * 2.0", "if a > 0:", "    return a", "b = a + 1.0", "return b"]
    assert split_text("f", ["x"], early, {"a", "b"}, size=1, threshold=1) is None


# -- generated code: small functions are unchanged -------------------------------------------
def test_small_functions_are_one_function():
    source = dc.grad(dc.compile(make_chain(5), backend="python")).source
    assert parts_of(source) == [] and "_s" not in source


def test_default_threshold_splits_a_long_chain_and_parts_are_bounded():
    (value, source) = evaluate(make_chain(120), dc.value_and_grad, chain_args(120), "python")
    (whole, _) = evaluate(make_chain(120), dc.value_and_grad, chain_args(120), "python", **UNSPLIT)
    assert bits(value) == bits(whole)
    names = parts_of(source)
    assert len(names) >= 2
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            own = [s for s in node.body[1:] if "_s[" not in ast.unparse(s)]  # not the loads and stores
            assert len(own) <= chunking.HIGH * chunking.PART_SIZE


# -- bit-for-bit on the Python backend ------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(n=st.integers(min_value=2, max_value=16), seed=st.integers(0, 2**16))
def test_property_chain_lengths_around_the_threshold(n, seed):
    args = chain_args(n, seed)
    for mode in (dc.value_and_grad, dc.grad):
        split, source = evaluate(make_chain(n), mode, args, "python", **SMALL)
        whole, _ = evaluate(make_chain(n), mode, args, "python", **UNSPLIT)
        assert bits(split) == bits(whole)
        if n <= 4 or n >= 8:  # the threshold (40 lines) is crossed at n = 5
            assert bool(parts_of(source)) == (n >= 8)


def mixed(x, y):
    """Arrays (fused loops, an array adjoint crossing parts) and a long scalar chain."""
    s = np.sum(x * x)
    t = y
    for k in range(12):
        t = np.sin(t) * t + s * 0.1 + x[k % 4]
    return t + np.sum(np.exp(x) * t)


def steps(a, b, c):
    t = a
    for _ in range(6):
        t = np.sin(t) * b + np.cos(c * t)
    return t * a


def vector_chain(x):
    y = x
    for _ in range(8):
        y = np.sin(y) * y + x[0]
    return y


def mixing(x):
    """A Hessian whose loop body (one direction) is long: moved to a function and split."""
    t = x[0]
    for k in range(12):
        t = np.sin(t) * x[k % 4] + x[(7 * k + 3) % 4]
    return t


X4 = np.array([0.3, -0.2, 0.5, 0.1])
CASES = [
    ("hessian (loop layout, body split)", mixing, dc.hessian, (X4,)),
    ("mixed grad", mixed, dc.grad, (X4, 0.4)),
    ("mixed value_and_grad", mixed, dc.value_and_grad, (X4, 0.4)),
    ("hessian (matrix layout)", steps, dc.hessian, (0.3, 0.7, -0.4)),
    ("jacobian (loop layout)", vector_chain, dc.jacobian, (np.array([0.2, 0.5, -0.1]),)),
]


@pytest.mark.parametrize(("name", "fn", "mode", "args"), CASES, ids=[c[0] for c in CASES])
def test_layouts_split_bit_for_bit_on_python(name, fn, mode, args):
    split, source = evaluate(fn, mode, args, "python", **SMALL)
    whole, whole_source = evaluate(fn, mode, args, "python", **UNSPLIT)
    assert bits(split) == bits(whole)
    assert parts_of(whole_source) == []
    if name != "jacobian (loop layout)":  # its variant part is one loop: only the rest may split
        assert len(parts_of(source)) >= 2
    if "body split" in name:
        assert "def mixing_hessian_column(" in source and "def mixing_hessian_column_part1(" in source


def test_a_long_loop_body_runs_as_a_function_of_its_own():
    """The loop stores what the body function returns; invariant scalars cross through a scratch array."""
    with split_settings(**SMALL):
        h = dc.hessian(dc.compile(mixing, backend="python")).specialize(X4)
        emitted = h.fn.emitted(h.sig, h.mode, h.wrt)
    source = emitted.source
    loop = source[source.index("for _j in range(4):") :].splitlines()[:5]
    assert loop[1].strip() == "e[_j] = 1.0" and loop[2].strip().startswith("_col = mixing_hessian_column(")
    assert loop[3].strip() == "for _k in range(4):" and loop[4].strip() == "_out[_k, _j] = _col[_k]"
    assert emitted.parts[0] == "mixing_hessian_column"  # first after the main function (the cached load cuts there)
    assert emitted.hot and all(name.startswith("mixing_hessian_column_part") for name in emitted.hot)
    assert source.index("def mixing_hessian_column(") < source.index("def mixing_hessian_part1(")


def test_writing_into_a_buffer_splits_too():
    with split_settings(**SMALL):
        vg = dc.value_and_grad(dc.compile(make_chain(10), backend="python"))
        out = np.empty(11)
        value = vg.into(out, *chain_args(10))
        assert parts_of(vg.fn.emitted(vg.sig, vg.mode, vg.wrt, into=True).source)
    with split_settings(**UNSPLIT):
        whole = dc.value_and_grad(dc.compile(make_chain(10), backend="python"))(*chain_args(10))
    assert bits((value, out)) == bits(whole)


# -- numba: a focused few -------------------------------------------------------------------
N_NUMBA = 14


@pytest.fixture(scope="module")
def numba_chain():
    """value_and_grad of a 14-step chain compiled split (many small parts) and unsplit."""
    with split_settings(**SMALL):
        split = dc.value_and_grad(dc.compile(make_chain(N_NUMBA)))
        split(*chain_args(N_NUMBA))
    with split_settings(**UNSPLIT):
        whole = dc.value_and_grad(dc.compile(make_chain(N_NUMBA)))
        whole(*chain_args(N_NUMBA))
    return split, whole


@pytest.mark.numba
def test_numba_split_matches_unsplit_and_python_bit_for_bit(numba_chain):
    split, whole = numba_chain
    assert len(split.kernel.path.read_text().split("_part")) > 3
    for seed in range(5):
        args = chain_args(N_NUMBA, seed)
        python, _ = evaluate(make_chain(N_NUMBA), dc.value_and_grad, args, "python", **SMALL)
        assert bits(split(*args)) == bits(whole(*args)) == bits(python)


@pytest.mark.numba
def test_numba_split_is_callable_from_user_numba_code(numba_chain):
    import numba

    split, whole = numba_chain
    kernel = split.njit

    @numba.njit
    def twice(args):
        value, grad = kernel(*args)
        return 2.0 * value, grad

    args = chain_args(N_NUMBA, 3)
    value, grad = twice(args)
    assert bits((value / 2.0, grad)) == bits(whole(*args))


SCRIPT = """
import json, sys
import numpy as np
import dcompile as dc
from dcompile.emit import chunking
chunking.THRESHOLD, chunking.PART_SIZE = {threshold}, {size}
sys.path.insert(0, {tests!r})
from test_chunking import make_chain, chain_args
vg = dc.value_and_grad(dc.compile(make_chain({n})))
value, grad = vg(*chain_args({n}))
print(json.dumps({{"hit": vg.kernel.cache_hit, "value": value.hex(), "grad": [g.hex() for g in grad]}}))
"""


@pytest.mark.numba
def test_numba_split_loads_from_the_disk_cache_in_a_second_process(tmp_path, numba_chain):
    script = SCRIPT.format(
        threshold=SMALL["THRESHOLD"], size=SMALL["PART_SIZE"], n=N_NUMBA, tests=os.path.dirname(__file__)
    )
    env = {**os.environ, "DCOMPILE_CACHE_DIR": str(tmp_path)}
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=300
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(2)
    ]
    assert runs[0]["hit"] is False and runs[1]["hit"] is True
    assert runs[0]["value"] == runs[1]["value"] and runs[0]["grad"] == runs[1]["grad"]
    split, _ = numba_chain
    value, grad = split(*chain_args(N_NUMBA))
    assert runs[1]["value"] == value.hex() and runs[1]["grad"] == [g.hex() for g in grad]


@pytest.mark.numba
def test_numba_hessian_with_a_split_loop_body_matches_unsplit_bit_for_bit():
    split, source = evaluate(mixing, dc.hessian, (X4,), "numba", **SMALL)
    whole, _ = evaluate(mixing, dc.hessian, (X4,), "numba", **UNSPLIT)
    assert "def mixing_hessian_column_part1(" in source
    assert bits(split) == bits(whole)


@pytest.mark.numba
def test_numba_matrix_layout_split_matches_unsplit_bit_for_bit():
    """A Hessian of scalars stores into a 2-D ``_out``: those parts take the llvmlite.ir path, not the text one."""
    split, source = evaluate(steps, dc.hessian, (0.3, 0.7, -0.4), "numba", **SMALL)
    whole, _ = evaluate(steps, dc.hessian, (0.3, 0.7, -0.4), "numba", **UNSPLIT)
    assert "_out[0, 1]" in source and len(parts_of(source)) >= 2
    assert bits(split) == bits(whole)


def test_parts_are_written_as_llvm_text_where_they_can_be():
    from llvmlite import ir
    from numba.core import types
    from numba.core.registry import cpu_target

    from dcompile.backend.llvm_parts import _NotLowerable, from_ast, plan
    from dcompile.backend.llvm_text import TextLowering

    context = cpu_target.target_context
    module = ir.Module("t")
    src = "def p(_s, x, a):\n    t = np.sin(a) * x[-1] + a ** 3\n    _s[0] = -t / 2.0\n    _s[1] += np.hypot(t, a)\n"
    node = ast.parse(src).body[0]
    assert isinstance(node, ast.FunctionDef)
    part = from_ast(node)
    assert part is not None
    p = plan(part)
    assert p is not None
    vec = types.Array(types.float64, 1, "C")
    with context.push_code_library(context.codegen().create_library("t")):  # as during a compile
        text = TextLowering(context, module, p, [vec, vec, types.float64], ["%a0", "%a1", "%a2"]).body()
    assert 'call double @"llvm.sin.f64"' in text and "fsub double 0x8000000000000000" in text
    assert text.count("fmul double") == 3 and text.rstrip().endswith("ret void")
    mat = types.Array(types.float64, 2, "C")
    with pytest.raises(_NotLowerable):  # 2-D arrays: left to the llvmlite.ir path
        TextLowering(context, module, p, [vec, mat, types.float64], ["%a0", "%a1", "%a2"])


# -- the parts numba would compile slowly are lowered straight to LLVM ----------------------
def zoo(a, b, c):
    """Every operator and a range of ufuncs the direct lowering handles, repeated past the threshold."""
    t = a
    for _ in range(3):
        u = np.sin(t) * b - np.cos(c) / (t * t + 1.5)
        v = np.exp(-(u**2)) + np.log(b * b + 0.5) * np.sqrt(c * c + 0.25) + u**3 - 1.0 / (u**2 + 2.0)
        w = np.tanh(v) + np.arctan2(u, v) + np.hypot(u, t) + np.log1p(v * v) + np.expm1(-u * u)
        t = -w + v * 0.5 + np.sinh(u * 0.1) * np.cosh(v * 0.1) + np.arctan(t) + np.abs(u) ** 0.5
        t = t + (u * u + 1.0) ** -2 + t**5 * 1e-3
    return t


ZOO_ARGS = [(0.3, 0.7, -0.4), (-1.2, 2.5, 0.0), (0.0, -0.0, 3.0), (5.0, -4.0, 1e-8)]


@pytest.fixture(scope="module")
def numba_zoo():
    """value_and_grad of ``zoo`` compiled split (parts lowered to LLVM) and unsplit."""
    with split_settings(**SMALL):
        split = dc.value_and_grad(dc.compile(zoo))
        split(*ZOO_ARGS[0])
        emitted = split.fn.emitted(split.sig, split.mode, split.wrt)
    with split_settings(**UNSPLIT):
        whole = dc.value_and_grad(dc.compile(zoo))
        whole(*ZOO_ARGS[0])
    return split, whole, emitted


@pytest.mark.numba
@requires_fast_paths
def test_numba_direct_parts_match_numba_bit_for_bit(numba_zoo):
    from dcompile.backend.llvm_parts import lower_parts

    split, whole, emitted = numba_zoo
    direct = lower_parts(emitted.source, emitted.parts, plans=emitted.plans)
    assert len(emitted.parts) >= 3 and len(direct) >= len(emitted.parts) - 1  # (nearly) all parts direct
    assert set(lower_parts(emitted.source, emitted.parts)) == set(direct)  # the same parts from the text
    # and the compile used them (no silent fall-back to numba's front end for every part)
    assert split.kernel.cache_hit or set(split.kernel.lowered) == set(direct)
    for args in ZOO_ARGS:  # (numba's libm and NumPy's may differ in the last bit: compare numba with numba)
        assert bits(split(*args)) == bits(whole(*args))


def test_direct_lowering_plans_only_plain_float_code():
    from dcompile.backend.llvm_lower import Plan
    from dcompile.backend.llvm_parts import from_ast, plan

    def first_def(src: str) -> Plan | None:
        node = ast.parse(textwrap.dedent(src)).body[0]
        assert isinstance(node, ast.FunctionDef)
        part = from_ast(node)
        return None if part is None else plan(part)

    ok = plan(first_def("def p(_s, x, g):\n    a = _s[3] * x[-1]\n    g[2] += np.sin(a) ** 2\n    _s[4] = -a / 2.0\n"))
    assert ok is not None and ok.arrays == frozenset({"_s", "x", "g"})
    for body in (
        "a = np.empty(3)",  # an allocation
        "a = x if x > 0.0 else 0.0",  # a select
        "a = np.sum(x)",  # not a ufunc
        "a = _c0[1]",  # a global array
        "a = x[i]",  # a variable index
        "return x",
    ):
        assert first_def(f"def p(x, i):\n    {body}\n") is None, body
    # trees as the emitter gives them: the same checks (a global, an integer outside an exponent)
    assert plan(Part("p", ("x",), (Assign("a", Op("*", ("x", "y"))),))) is None
    assert plan(Part("p", ("x",), (Assign("a", Op("*", ("x", 2))),))) is None
    assert plan(Part("p", ("x",), (Assign("a", Op("np.sum", ("x",))),))) is None
    assert plan(Part("p", ("x", "g"), (Assign(Elem("g", (0,)), Op("**", ("x", 3)), "+"),))) is not None


@pytest.mark.numba
@requires_fast_paths
def test_parts_are_lowered_from_the_emitters_trees_not_the_text(numba_zoo):
    """Every part the text lowers has the emitter's trees, the same as the text's; with them the text is not read."""
    from dcompile.backend.llvm_parts import from_ast, lower_parts

    _, _, emitted = numba_zoo
    defs = {n.name: n for n in ast.parse(emitted.source).body if isinstance(n, ast.FunctionDef)}
    planned = {p.name: p for p in emitted.plans}
    for name in emitted.parts:
        assert from_ast(defs[name]) == planned.get(name), name
    assert planned
    assert set(lower_parts("not Python (", tuple(planned), plans=emitted.plans)) == set(planned)


@pytest.mark.parametrize(
    "line",
    [
        "a = x * 2.0",
        "t_3 = np.sin(t_2) * t_2 + w[-1]",
        "g[2] += b * np.cos(a)",
        "_out[4, 1] = d2f_dx_dy",
        "s += x[i] * 1e-05",
        "c = a if flag else -b",
        "m = np.maximum(a, b) ** 2",
    ],
)
def test_text_reading_of_one_line_agrees_with_the_parser(line):
    import keyword

    from dcompile.emit.chunking import _parsed, _simple

    fast = _simple(line)
    assert fast is not None
    slow = _parsed([line], last=False)
    assert slow is not None
    names = {n for n in fast[0] if not keyword.iskeyword(n)}
    assert names == set(slow[0]) and fast[1] == slow[1]  # the order may differ (a if c else b: ast reads c first)


@pytest.mark.parametrize(
    "line",
    ["x = x + 1.0", "a = b = c", "g = np.zeros(3, dtype=np.int64)", 'e = f("a")', "h = (a +", "k = [v for v in w]"],
)
def test_lines_the_text_reading_leaves_to_the_parser(line):
    from dcompile.emit.chunking import _simple

    assert _simple(line) is None


@pytest.mark.numba
def test_exported_module_of_a_split_function_compiles_its_parts(tmp_path, capsys):
    """``dcompile export`` wraps the part functions in numba.njit too (they are called from the main one)."""
    import importlib.util

    from dcompile.cli import main

    source = tmp_path / "model.py"
    params = ", ".join(["t0"] + [f"w{k}" for k in range(10)])
    steps = "".join(f"    t = np.sin(t) * t + w{k}\n" for k in range(10))
    source.write_text(f"import numpy as np\n\n\ndef chain({params}):\n    t = t0\n{steps}    return t\n")
    target = tmp_path / "chain_compiled.py"
    with split_settings(**SMALL):
        assert main(["export", f"{source}:chain", "--mode", "value_and_grad", "-o", str(target)]) == 0
    capsys.readouterr()
    text = target.read_text()
    assert "chain_value_and_grad_part1 = numba.njit(" in text
    spec = importlib.util.spec_from_file_location("chain_compiled", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = chain_args(10)
    with split_settings(**UNSPLIT):
        whole = dc.value_and_grad(dc.compile(make_chain(10)))(*args)
    assert bits(module.chain_value_and_grad(*args)) == bits(whole)


# -- the emitter's statement records agree with its text ------------------------------------
def test_tree_templates_are_one_operator_or_one_ufunc_call():
    """The primitives the emitter gives operation trees print what their tree says on float scalars."""
    from dcompile.emit.emitter import _OPERATORS, _UFUNCS
    from dcompile.ir.primitive import PREC_ATOM, REGISTRY
    from dcompile.ir.types import DType, VType

    f64 = VType((), DType.F64)
    for name in _UFUNCS:
        assert isinstance(getattr(np, name), np.ufunc), name
        for n in (1, 2):
            src, prec = REGISTRY[name].emit([("a", PREC_ATOM), ("b", PREC_ATOM)][:n], {}, [f64] * n)
            assert (src, prec) == (f"np.{name}({', '.join('ab'[:n])})", PREC_ATOM), name
    for name, op in _OPERATORS.items():
        args = [("a", PREC_ATOM), ("b", PREC_ATOM)][: 1 if op == "neg" else 2]
        src, _ = REGISTRY[name].emit(args, {}, [f64] * len(args))
        want = {"+": "a + b", "-": "a - b", "*": "a * b", "/": "a / b", "**": "a**b", "neg": "-a"}[op]
        assert src == want, name


def _check_records(params: list[str], records: list[Stmt]) -> None:
    """Every name a statement's text reads (of the function's locals) is among its record's reads, its
    text's bindings among the record's writes; allocations, aliases and the return are recorded as such."""
    parsed = []
    for r in records:
        if r.kind is Kind.COMMENT:
            continue
        found = from_text(list(r.lines))
        assert found is not None, r.lines
        (t,) = [s for s in found if s.kind is not Kind.COMMENT]
        parsed.append((r, t))
    local = set(params).union(*(t.writes for _, t in parsed))
    for r, t in parsed:
        assert t.writes <= r.writes, (r.lines, t.writes, r.writes)
        if r.tree is not None:  # the operation tree is the one Python parses from the text
            from dcompile.backend.llvm_parts import _statement

            (line,) = r.lines
            assert _statement(ast.parse(line).body[0]) == r.tree, (line, r.tree)
        assert set(t.reads) & local <= set(r.reads), (r.lines, t.reads, r.reads)
        if t.kind in (Kind.ALLOCATION, Kind.ALIAS, Kind.RETURN):
            assert r.kind is t.kind, (r.lines, r.kind, t.kind)
    assert parsed[-1][0].kind is Kind.RETURN


def _derivatives(pid: str) -> list[dc.Derivative]:
    from tests.test_arrays import BY_ID, float_positions, function

    f, p = function(pid), BY_ID[pid]
    wrt = tuple(float_positions(pid))
    if not wrt:
        return []
    out = [dc.jacobian(f, wrt=wrt) if p.jac else dc.value_and_grad(f, wrt=wrt)]
    return [*out, dc.hessian(f, wrt=wrt)] if p.hess else out


@pytest.mark.parametrize("pid", [p.id for p in PROGS])
def test_records_read_and_write_what_their_text_does(pid: str) -> None:
    from tests.test_arrays import inputs

    for d in _derivatives(pid):
        try:
            d.specialize(*inputs(pid))
        except dc.SignatureError:  # a gradient of an array-valued program
            continue
        prog = d.program
        p = _Printer(prog.graph, prog.layout)
        params = ["_out", *(p.namer(v) for v in prog.graph.inputs)]
        layout = prog.layout
        _check_records(params, p.loop(layout) if isinstance(layout, Loop) else p.body() + p.returns(layout))
