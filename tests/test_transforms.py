"""The IR, its transforms and the emitter: CSE, folding, identities, zeros, composition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Eqn, Graph, Value
from dcompile.ir.tracer import Tracer
from dcompile.ir.types import F64
from dcompile.ir.verify import VerificationError, verify
from dcompile.pipeline import derive
from dcompile.primitives import elementwise as E
from dcompile.transforms import push_forward, replay, simplify


def py(fn, name=None):
    return dc.compile(fn, backend="python", name=name)


def prims(graph):
    return [e.prim.name for e in graph.eqns if e.prim.name != "const"]


def test_equal_subexpressions_are_one_value():
    g = py(lambda x, y: (x * y + 1.0) * (x * y + 1.0)).ir
    assert prims(g) == ["mul", "add", "mul"]


def test_constant_folding_and_identities():
    g = py(lambda x: 2.0 * 3.0 * x + 0.0 - 0.0).ir
    assert prims(g) == ["mul"] and g.eqns[-1].inputs[0] in {e.out for e in g.eqns if e.kwargs.get("value") == 6.0}
    assert prims(py(lambda x: 1.0 * x * 1.0 + 0.0).ir) == []
    assert prims(py(lambda x: E.neg(E.neg(x)) - x).ir) == ["sub"]  # x - x is not 0 at inf or nan
    assert prims(py(lambda x: x**1 * x**0).ir) == []
    assert prims(py(lambda x: x - (-x)).ir) == ["add"]


def test_unused_input_has_exact_zero_gradient_and_no_code():
    f = py(lambda x, unused: np.sin(x))
    assert list(dc.grad(f)(1.0, 5.0)) == [math.cos(1.0), 0.0]
    src = dc.grad(f).source
    assert "unused" not in src.split("):", 1)[1].split("return")[0].replace("unused)", "")
    assert "0.0 *" not in src and "* 0.0" not in src


def test_no_trivial_arithmetic_in_generated_code():
    f = py(lambda x, y: np.exp(x) * y + np.log(y) - x / y)
    for d in (dc.grad(f), dc.hessian(f), dc.hvp(f), dc.jvp(f), dc.vjp(f)):
        src = d.source
        for bad in ("0.0 *", "* 0.0", "1.0 *", "* 1.0", "+ 0.0", "- 0.0"):
            assert bad not in src, (d, bad)


def test_dead_code_is_removed():
    def f(x, y):
        _unused = np.exp(x) * np.sin(y)
        return x * y

    assert prims(py(f).ir) == ["mul"]


def test_simplify_pass_is_idempotent_and_verified():
    f = py(lambda x, y: np.sin(x * y) + x * y)
    for mode in ("grad", "hessian", "hvp"):
        g = derive(f.ir, mode, (0, 1)).graph
        s = verify(simplify(g))
        assert prims(s) == prims(g)


def test_verifier_rejects_use_before_definition():
    b = Builder()
    x = b.new_input(F64, "x")
    ghost = Value(F64)
    out = Value(F64)
    bad = Graph("bad", (x,), (Eqn(E.add_p, (x, ghost), (), out),), (out,))
    with pytest.raises(VerificationError, match="before it is defined"):
        verify(bad)


def test_third_derivative_by_composing_transforms():
    """Forward over forward over reverse: d3/dx3 of sin(x) * y**2 * x."""
    f = py(lambda x, y: np.sin(x) * y**2 * x)
    hess = derive(f.ir, "hessian", (0, 1)).graph
    b = Builder()
    ins = [b.new_input(v.type, hess.hints.get(v)) for v in hess.inputs]
    env = replay(b, hess, {v: Tracer(b, n) for v, n in zip(hess.inputs, ins, strict=True)})
    tan = push_forward(b, hess, env, {hess.inputs[0]: Tracer(b, b.const(1.0))})
    third = b.build("third", ins, [tan[hess.outputs[0]].value])
    x, y = sp.symbols("x y")
    expected = sp.diff(sp.sin(x) * y**2 * x, x, 3)
    from dcompile.frontend.sympy_lower import to_sympy

    got = to_sympy(third, [x, y])[0]
    for px, py_ in [(0.3, 1.2), (-1.1, 0.7)]:
        assert float(got.subs({x: px, y: py_})) == pytest.approx(float(expected.subs({x: px, y: py_})), rel=1e-12)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b, c: a - (b - c),
        lambda a, b, c: a / (b * c),
        lambda a, b, c: (a / b) / c,
        lambda a, b, c: (-a) ** 2 + b,
        lambda a, b, c: -(a**2) * c,
        lambda a, b, c: 2.0 ** (-a) + b**c,
        lambda a, b, c: (a + b) ** -3,
        lambda a, b, c: a ** (b - c) if False else (a**b) ** c,
        lambda a, b, c: dc.where((a > b) & (b < c), a, dc.where(a < c, b, c)),
        lambda a, b, c: -(a - b) - -c,
    ],
)
def test_emitted_precedence_matches_python(fn):
    f = py(fn, name="p")
    for args in [(1.5, 0.7, 2.1), (0.3, 2.2, 0.9)]:
        assert f(*args) == fn(*args)


@pytest.mark.parametrize("c", [0.1, 1 / 3, 1e-300, 5e-324, -2.5, 1.7976931348623157e308, float("inf"), -float("inf")])
def test_constants_are_printed_exactly(c):
    f = py(lambda x: x + c, name="k")
    assert f(0.0) == c + 0.0


def test_where_gradient_is_not_poisoned_by_the_other_branch():
    f = py(lambda x: dc.where(x > 0.0, np.sqrt(x), 0.0))
    assert dc.grad(f)(-1.0)[0] == 0.0
    assert dc.grad(f)(4.0)[0] == 0.25
    assert dc.hessian(f)(-1.0)[0, 0] == 0.0


def test_user_variable_names_survive_and_are_made_unique():
    def f(x):
        t = x
        for _ in range(3):
            t = np.sin(t) * t
        return t

    src = py(f).source
    assert "t = " in src and "t_1 = " in src and "t_2 = " in src


def test_sympy_symbol_that_is_a_keyword_is_renamed():
    lam, cls = sp.Symbol("lambda"), sp.Symbol("class")
    f = dc.from_sympy(lam * cls, args=[lam, cls], backend="python")
    assert "def f(lambda_, class_):" in f.source
    assert list(dc.grad(f)(2.0, 3.0)) == [3.0, 2.0]


def chain(K):
    def f(t, w):
        for _ in range(K):
            t = np.sin(t) * t + w
        return t

    return py(f, name="chain")


def test_derivative_code_grows_linearly():
    counts = {K: (chain(K).ir.n_statements, dc.value_and_grad(chain(K)).ir.n_statements) for K in (25, 50, 100)}
    for K, (nf, ng) in counts.items():
        assert ng <= 4 * nf, (K, nf, ng)
    assert counts[100][1] == pytest.approx(2 * counts[50][1], rel=0.05)
    assert counts[50][1] == pytest.approx(2 * counts[25][1], rel=0.05)


def test_hessian_uses_symmetry():
    f = py(lambda x, y, z: x * y * z + np.sin(x * z))
    src = dc.hessian(f).source
    assert "_out[0, 1] = _out[1, 0] =" in src
    x, y, z = sp.symbols("x y z")
    h = np.array(sp.hessian(x * y * z + sp.sin(x * z), (x, y, z)).subs({x: 0.3, y: 0.5, z: 0.7}), dtype=float)
    np.testing.assert_allclose(dc.hessian(f)(0.3, 0.5, 0.7), h, rtol=1e-13)


def test_check_grad_passes_on_correct_derivatives_and_catches_wrong_ones():
    f = py(lambda x, y: np.sin(x) * np.exp(y) + x**3 / y)
    report = dc.check_grad(f, 0.7, 1.3)
    assert report.ok and set(report.errors) >= {"jvp vs finite difference", "hvp vs finite difference"}
    # Break the rule of sin on purpose: the checker must notice.
    saved = E.sin_p.jvp
    E.sin_p.jvp = (lambda t, ans, x: E.mul(t, E.sin(x)),)
    try:
        broken = py(lambda x, y: np.sin(x) * np.exp(y) + x**3 / y, name="broken")
        with pytest.raises(AssertionError, match="FAIL"):
            dc.check_grad(broken, 0.7, 1.3)
    finally:
        E.sin_p.jvp = saved


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_compiled_function_called_inside_a_traced_function_is_inlined(backend):
    inner = dc.compile(lambda x, y: np.sin(x) * y, backend=backend, name="inner")

    @dc.compile(backend="python")
    def outer(a, b):
        return inner(a * b, b) + inner(b, 2.0)

    assert "sin" in prims(outer.ir)
    x, y = 0.4, 1.3
    assert outer(x, y) == pytest.approx(np.sin(x * y) * y + np.sin(y) * 2.0, rel=1e-15)
    expected = [np.cos(x * y) * y * y, np.cos(x * y) * x * y + np.sin(x * y) + 2 * np.cos(y)]
    np.testing.assert_allclose(dc.grad(outer)(x, y), expected, rtol=1e-14)


def test_identities_that_would_change_ieee_results_are_not_applied():
    """x - x, x * 0 and 0 / x are not folded: at inf or nan they are nan, not 0."""
    for fn in (lambda x: x - x, lambda x: x * 0.0):
        f = py(fn, name="ieee")
        assert np.isnan(f(np.inf)) and np.isnan(f(np.nan))
    f = py(lambda x: 0.0 / x, name="ieee")
    assert np.isnan(f(0.0)) and np.isnan(f(np.nan))


def test_logical_operations_on_numbers_follow_numpy():
    f = py(lambda x, y: dc.where(np.logical_and(x, y) == (y > 0.0), 1.0, -1.0), name="logic")
    assert f(2.0, 3.0) == 1.0 and f(0.0, 3.0) == -1.0
    g = py(lambda x: dc.where(np.logical_or(x, 0.0), 1.0, 2.0) + dc.where(np.logical_not(x), 10.0, 20.0))
    assert g(0.0) == 12.0 and g(0.5) == 21.0


def test_long_gradients_are_filled_into_an_array():
    small = chain(2)
    assert "np.array([" in dc.grad(small).source
    names = [f"x{i}" for i in range(12)]
    expr = sp.Add(*[sp.sin(sp.Symbol(n)) * (i + 1) for i, n in enumerate(names)])
    f = dc.from_sympy(expr, args=[sp.Symbol(n) for n in names], backend="python")
    src = dc.value_and_grad(f).source
    assert "_out = np.empty(12)" in src and "np.array([" not in src
    value, g = dc.value_and_grad(f)(*[0.1 * i for i in range(12)])
    np.testing.assert_allclose(g, [(i + 1) * np.cos(0.1 * i) for i in range(12)], rtol=1e-15)
    assert value == pytest.approx(sum((i + 1) * np.sin(0.1 * i) for i in range(12)), rel=1e-14)


def test_deep_expressions_do_not_hit_python_limits():
    def deep(x):
        _t = x
        for _ in range(3000):  # unnamed (underscore) temporaries: all candidates for inlining
            _t = np.sin(_t) * 0.5 + x
        return _t

    f = py(deep, name="deep")
    src = f.source
    compile(src, "<deep>", "exec")  # no "too many nested parentheses"
    x = 0.3
    t = x
    for _ in range(3000):
        t = np.sin(t) * 0.5 + x
    assert f(x) == t
    assert np.isfinite(dc.grad(f)(x)[0])

    def nested_where(x):
        _y = x
        for k in range(400):
            _y = dc.where(_y > -1e9 - k, _y * 1.0001, 0.0)
        return _y

    g = py(nested_where, name="nested")
    assert dc.jvp(g)((1.0,), (1.0,))[1] == pytest.approx(1.0001**400, rel=1e-12)
    xs = sp.Symbol("x")
    e = xs
    expected = 0.5
    for _ in range(400):  # deeper than Python's recursion allows for a recursive lowering
        e = sp.sin(e, evaluate=False)
        expected = np.sin(expected)
    h = dc.from_sympy(e, args=[xs], backend="python")
    assert h(0.5) == expected


def test_alias_lines_never_precede_their_value():
    from dcompile.ir.builder import Builder

    b = Builder()
    x = Tracer(b, b.new_input(F64, "x"))
    b.open_block(title="block")
    y = E.sin(x)
    b.set_hint(y.value, "y")
    b.alias("dz_dy", y.value)
    g = b.build("g", [x.value], [y.value])
    alias_block = next(bl for bl in g.blocks if bl.aliases)
    assert alias_block.position == 1  # after sin's equation, not at the block's start (0)
