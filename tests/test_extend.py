"""A primitive defined through dcompile.extend works like a built-in one."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile import extend as ext
from dcompile.frontend.sympy_lower import to_sympy

log_cosh = ext.primitive(
    "test_log_cosh",
    impl=lambda x: np.log(np.cosh(x)),
    code="np.log(np.cosh({0}))",
    to_sympy=lambda x: sp.log(sp.cosh(x)),
)
ext.defjvp(log_cosh, lambda t, ans, x: t * np.tanh(x))
ext.defvjp(log_cosh, lambda g, ans, x: g * np.tanh(x))


def loss(x, y):
    return log_cosh(x - y) * y


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_user_primitive_differentiates_and_compiles(backend):
    f = dc.compile(loss, backend=backend)
    x, y = 0.3, -1.1
    assert f(x, y) == pytest.approx(np.log(np.cosh(x - y)) * y, rel=1e-15)
    np.testing.assert_allclose(
        dc.grad(f)(x, y), [np.tanh(x - y) * y, -np.tanh(x - y) * y + np.log(np.cosh(x - y))], rtol=1e-14
    )
    dc.check_grad(f, x, y)
    assert "test_log_cosh" in str(f.ir)


def test_user_primitive_raises_to_sympy_and_folds_constants():
    f = dc.compile(loss, backend="python")
    xs, ys = sp.symbols("x y")
    assert sp.simplify(to_sympy(f.ir, [xs, ys])[0] - sp.log(sp.cosh(xs - ys)) * ys) == 0
    g = dc.compile(lambda y: log_cosh(0.5) * y, backend="python", name="g")
    assert [e.prim.name for e in g.ir.eqns if e.prim.name != "const"] == ["mul"]


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        ext.primitive("test_log_cosh", impl=np.exp, code="np.exp({0})")
