"""Hostile names and input (issue 10 item 4): a clear DcompileError or a right answer, never code
execution from a name, never a crash.

Names reach generated source only through ``dcompile.ir.naming.sanitize``
(``[^0-9A-Za-z_]`` runs become ``_``, leading/trailing underscores are
dropped, keywords and names the module uses get a trailing ``_``), so no
quote, newline or statement in a SymPy symbol, an argument or a function name
survives into the code; the docstring and the shape-guard messages are built
from the same sanitized names.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile.errors import DcompileError, SignatureError

CANARY = "DCOMPILE_HOSTILE_CANARY"
HOSTILE = [
    'x); import os; os.environ.__setitem__("' + CANARY + '", "1"); (',
    "__import__('os').environ.__setitem__('" + CANARY + "', '1')",
    'a"""; import os #',
    "b'''\nimport os\n'''",
    "new\nline",
    "tab\there",
    "lambda",
    "class",
    "None",
    "True",
    "match",
    "_",
    "np",
    "numba",
    "math",
    "_out",
    "_s",
    "_c0",
    "t0",
    "print",
    "\u03b1",
    "é_ü",
    "变量",
    "",
    " ",
    "1x",
    "x-1",
    "x y",
    "\\",
    "#",
    "x" * 300,
]


@pytest.fixture(autouse=True)
def no_canary():
    os.environ.pop(CANARY, None)
    yield
    assert CANARY not in os.environ, "a name was executed as code"


def test_sympy_symbols_with_hostile_names():
    syms = [sp.Symbol(name) for name in HOSTILE]
    expr = sum((k + 1) * s**2 for k, s in enumerate(syms)) + sp.sin(syms[0] * syms[1])
    f = dc.from_sympy(expr, syms, name='f"); import os; ("', backend="python")
    x = np.linspace(0.1, 1.0, len(syms))
    exact = float(expr.subs(dict(zip(syms, x, strict=True))))
    assert f(*x) == pytest.approx(exact, rel=1e-13)
    grad = dc.grad(f)(*x)
    expected = [float(sp.diff(expr, s).subs(dict(zip(syms, x, strict=True)))) for s in syms]
    np.testing.assert_allclose(grad, expected, rtol=1e-13)
    source = dc.grad(f).source
    compile(source, "<check>", "exec")  # valid Python
    for bad in ("import os", "__import__", "\n(", '"""; '):
        assert bad not in source.split('"""', 2)[2]  # nothing of the names but identifiers in the code
    assert len(set(f.arg_names)) == len(syms)  # still distinct
    assert all(n.isidentifier() and not n.startswith("_") for n in f.arg_names)


@pytest.mark.numba
def test_hostile_sympy_names_on_numba():
    syms = [sp.Symbol(n) for n in HOSTILE[:6]]
    expr = sp.Add(*(s * (k + 1) for k, s in enumerate(syms))) ** 2
    f = dc.from_sympy(expr, syms)
    x = np.arange(1.0, 7.0)
    assert f(*x) == pytest.approx(float(np.dot(x, np.arange(1.0, 7.0)) ** 2))


def test_argument_and_function_names_that_shadow_the_module():
    def fn(np_, _out, _s, t0, e, print_):  # what a user may well call their arguments
        return np.sin(np_) * _out + _s * t0 - e**2 + print_

    f = dc.compile(fn, backend="python", name="x); import os; (")
    args = (0.5, 2.0, 3.0, 4.0, 1.5, -1.0)
    assert f(*args) == pytest.approx(fn(*args), rel=1e-14)
    np.testing.assert_allclose(dc.grad(f)(*args), [np.cos(0.5) * 2.0, np.sin(0.5), 4.0, 3.0, -3.0, 1.0], rtol=1e-14)
    assert f.name.isidentifier()

    namespace = {"np": np}
    exec("def g(np, math, numba):\n    return np * math + numba\n", namespace)  # names the module uses
    g = dc.compile(namespace["g"], backend="python")
    assert g(2.0, 3.0, 4.0) == 10.0
    np.testing.assert_array_equal(dc.grad(g)(2.0, 3.0, 4.0), [3.0, 2.0, 1.0])


def test_unicode_argument_names():
    namespace = {"np": np}
    exec("def g(\u03b1, \u03b2, \u53d8\u91cf):\n    return np.exp(\u03b1) * \u03b2 + \u53d8\u91cf**2\n", namespace)
    g = dc.compile(namespace["g"], backend="python")
    assert g(0.0, 2.0, 3.0) == pytest.approx(11.0)
    np.testing.assert_allclose(dc.grad(g)(0.0, 2.0, 3.0), [2.0, 1.0, 6.0])


# -- huge and deep expressions ------------------------------------------------------------------


def test_sympy_expression_nested_5000_deep():
    x = sp.Symbol("x")
    e = x
    for k in range(5000):  # built without evaluation: SymPy itself would recurse
        e = sp.sin(e, evaluate=False) if k % 2 else sp.Add(sp.Mul(e, sp.Float(0.999), evaluate=False), 0.1)
    f = dc.from_sympy(e, [x], backend="python")
    value, dvalue = 0.3, 1.0
    for k in range(5000):
        if k % 2:
            value, dvalue = math.sin(value), math.cos(value) * dvalue
        else:
            value, dvalue = value * 0.999 + 0.1, dvalue * 0.999
    assert sys.getrecursionlimit() <= 10_000  # no recursion limit was raised for this
    assert f(0.3) == pytest.approx(value, rel=1e-12)
    assert dc.grad(f)(0.3)[0] == pytest.approx(dvalue, rel=1e-9, abs=1e-300)


def test_wide_sympy_expression():
    xs = sp.symbols("x0:3")
    expr = sp.Add(*(sp.sin(k * xs[k % 3]) / (k + 1) for k in range(3000)))
    f = dc.from_sympy(expr, list(xs), backend="python")
    p = (0.1, 0.2, 0.3)
    exact = sum(math.sin(k * p[k % 3]) / (k + 1) for k in range(3000))
    assert f(*p) == pytest.approx(exact, rel=1e-12)
    assert dc.grad(f)(*p)[1] == pytest.approx(sum(k * math.cos(k * 0.2) / (k + 1) for k in range(1, 3000, 3)))


def test_traced_chain_of_20000_operations():
    def chain(x, w):
        t = x
        for _ in range(6667):  # three operations a step
            t = np.sin(t) * w + x
        return t

    f = dc.compile(chain, backend="python")
    value, dvalue = 0.3, 1.0  # forward-mode by hand, d/dx
    for _ in range(6667):
        value, dvalue = math.sin(value) * 0.5 + 0.3, math.cos(value) * dvalue * 0.5 + 1.0
    assert len(f.specialize(0.3, 0.5).ir.eqns) >= 20_000
    assert f(0.3, 0.5) == pytest.approx(value, rel=1e-12)
    assert dc.grad(f, wrt="x")(0.3, 0.5)[0] == pytest.approx(dvalue, rel=1e-10)


# -- non-finite input ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba)])
def test_nan_and_inf_inputs_propagate(backend):
    f = dc.compile(lambda x, y: np.sin(x) * y + np.exp(-(x**2)), backend=backend)
    vg = dc.value_and_grad(f)
    value, grad = vg(np.nan, 1.0)
    assert np.isnan(value) and np.isnan(grad[0])
    value, grad = vg(np.inf, 2.0)
    assert np.isnan(value)  # sin(inf)
    value, grad = vg(1.0, np.inf)
    assert value == np.inf and grad[1] == np.sin(1.0)
    g = dc.compile(lambda x: np.sum(np.log(x)), backend=backend)
    value, grad = dc.value_and_grad(g)(np.array([0.0, -1.0, np.inf, 1.0]))
    assert np.isnan(value)
    np.testing.assert_array_equal(grad, [np.inf, -1.0, 0.0, 1.0])


# -- wrong dtypes and shapes at call time ----------------------------------------------------------


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba)])
def test_wrong_arguments_give_clear_errors(backend):
    f = dc.compile(lambda x, y: np.sum(x * y), backend=backend)
    x = np.arange(3.0)
    assert f(x, 2.0) == 6.0
    bad = [
        ("a string", 1.0),
        (None, 1.0),
        (np.array(["a", "b"]), 1.0),
        (np.array([1 + 2j, 3j]), 1.0),
        (np.array([object(), 1.0], dtype=object), 1.0),
        ({"x": 1.0}, 1.0),
    ]
    for args in bad:
        with pytest.raises(SignatureError, match="Fix:"):
            f(*args)
    with pytest.raises(SignatureError, match="missing a required argument: 'y'"):
        f(x)
    with pytest.raises(SignatureError):
        dc.grad(f)(x, 1.0, 2.0)
    with pytest.raises(DcompileError):  # the shapes do not broadcast: a trace error naming the line
        f(np.ones(3), np.ones(4))
    # other dtypes, shapes and layouts that are fine: converted or compiled for
    assert f(np.arange(3.0, dtype=np.float32), 2.0) == 6.0
    assert f(np.arange(6.0)[::2], 1.0) == 6.0  # not contiguous
    assert f(np.ones((2, 2)), 1.0) == 4.0  # a new shape compiles again
    assert f(x, 2.0) == 6.0  # and the first one still works
    assert f([0.0, 1.0, 2.0], 2) == 6.0


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba)])
def test_wrong_directions_and_buffers(backend):
    f = dc.compile(lambda x: np.sum(np.sin(x)), backend=backend)
    x = np.linspace(0.0, 1.0, 4)
    with pytest.raises(SignatureError, match="shape"):
        dc.jvp(f)((x,), np.ones(5))
    with pytest.raises(SignatureError, match="shape"):
        dc.hvp(f)((x,), np.ones((2, 2)))
    with pytest.raises(SignatureError):
        dc.jvp(f)((x,), np.ones(4), np.ones(4))
    g = dc.grad(f)
    with pytest.raises(SignatureError, match="out must be"):
        g.into(np.empty(4, dtype=np.float32), x)
    with pytest.raises(SignatureError, match="out must be"):
        g.into(np.empty(3), x)
    out = np.empty(4)
    g.into(out, x)
    np.testing.assert_allclose(out, np.cos(x))
    with pytest.raises(SignatureError, match="wrt"):
        dc.grad(f, wrt="nope")
    with pytest.raises(SignatureError):
        dc.grad(f, wrt=5)
