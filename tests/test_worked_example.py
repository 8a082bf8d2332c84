"""The worked example of the seed notes, end to end, on both backends."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile.ir.verify import verify
from tests import worked_example as W
from tests.helpers import check_golden

POINT = (1.0, 2.0, 3.0, 4.0)
POINTS = [POINT, (0.5, -1.5, 2.25, -0.75), (-2.0, 0.3, 1.7, 3.1)]


@pytest.fixture(scope="module")
def fnum():
    """The worked example on the numba backend, shared by the module's tests."""
    return dc.compile(W.f)


@pytest.fixture(scope="module")
def fpy():
    return dc.compile(W.f, backend="python")


def sympy_example():
    x1, x2, w1, w2 = syms = sp.symbols("x1 x2 w1 w2")
    return (x1 + w1) ** 2 * (x1 * w1 + x2 * w2), syms


@pytest.mark.parametrize("p", POINTS)
def test_gradient_matches_backpropagation_table(fpy, p):
    np.testing.assert_allclose(dc.grad(fpy)(*p), W.expected_grad(*p), rtol=1e-14)


def test_dx1_uses_w1_not_x1(fpy):
    """df/dx1 = 2ae + d*w1 (the notes' 2ae + d*x1 is a typo): tell them apart."""
    x1, x2, w1, w2 = 1.0, 2.0, 3.0, 4.0
    a, e = x1 + w1, x1 * w1 + x2 * w2
    g = dc.grad(fpy, wrt="x1")(x1, x2, w1, w2)
    assert g[0] == 2 * a * e + a**2 * w1
    assert g[0] != 2 * a * e + a**2 * x1


def test_forward_propagation_along_w1(fpy):
    """The notes' forward table: df/dw1 = d*x1 + 2a*e."""
    x1, x2, w1, w2 = POINT
    a, e = x1 + w1, x1 * w1 + x2 * w2
    value, tangent = dc.jvp(fpy)(POINT, (0.0, 0.0, 1.0, 0.0))
    assert value == a**2 * e
    assert tangent == a**2 * x1 + 2 * a * e


@pytest.mark.parametrize("p", POINTS)
def test_hessian_matches_sympy(fpy, p):
    expr, syms = sympy_example()
    expected = np.array(sp.hessian(expr, syms).subs(dict(zip(syms, p, strict=True))), dtype=float)
    np.testing.assert_allclose(dc.hessian(fpy)(*p), expected, rtol=1e-13)


def test_all_modes_on_numba_match_python(fnum, fpy):
    for p in POINTS:
        assert fnum(*p) == pytest.approx(fpy(*p), rel=1e-15)
        np.testing.assert_allclose(dc.grad(fnum)(*p), dc.grad(fpy)(*p), rtol=1e-15)
        v, g = dc.value_and_grad(fnum, wrt=("w1", "w2"))(*p)
        assert v == pytest.approx(fpy(*p))
        np.testing.assert_allclose(g, dc.grad(fpy, wrt=(2, 3))(*p), rtol=1e-15)
        np.testing.assert_allclose(dc.hessian(fnum)(*p), dc.hessian(fpy)(*p), rtol=1e-15)
        np.testing.assert_allclose(
            dc.hvp(fnum)(p, (1.0, -1.0, 0.5, 2.0)), dc.hessian(fpy)(*p) @ [1.0, -1.0, 0.5, 2.0], rtol=1e-13
        )
        _, ct = dc.vjp(fnum)(p, 2.0)
        np.testing.assert_allclose(ct, 2.0 * np.asarray(W.expected_grad(*p)), rtol=1e-14)
        _, tangent = dc.jvp(fnum)(p, (1.0, 0.0, 0.0, 0.0))
        assert tangent == pytest.approx(W.expected_grad(*p)[0], rel=1e-14)


def test_return_types(fnum):
    g = dc.grad(fnum)(*POINT)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == (4,)
    h = dc.hessian(fnum, wrt=("w1", "w2"))(*POINT)
    assert h.shape == (2, 2) and np.array_equal(h, h.T)
    assert isinstance(fnum(*POINT), float)


def test_int_arguments_are_accepted(fnum):
    np.testing.assert_array_equal(dc.grad(fnum)(1, 2, 3, 4), dc.grad(fnum)(*POINT))


def test_njit_dispatcher_callable_from_user_numba_code(fnum):
    vg = dc.value_and_grad(fnum).njit

    @numba.njit
    def total(n):
        s = 0.0
        for i in range(n):
            v, g = vg(1.0 + i, 2.0, 3.0, 4.0)
            s += v + g[0]
        return s

    expected = sum(W.f(1.0 + i, 2.0, 3.0, 4.0) + W.expected_grad(1.0 + i, 2.0, 3.0, 4.0)[0] for i in range(5))
    assert total(5) == pytest.approx(expected, rel=1e-14)


def test_sympy_front_end_gives_the_same_object_kind(fpy):
    expr, syms = sympy_example()
    g = dc.from_sympy(expr, args=list(syms), backend="python")
    assert isinstance(g, dc.Function)
    for p in POINTS:
        np.testing.assert_allclose(dc.grad(g)(*p), W.expected_grad(*p), rtol=1e-14)
        np.testing.assert_allclose(dc.hessian(g)(*p), dc.hessian(fpy)(*p), rtol=1e-14)


def test_graphs_verify(fpy):
    for mode in (dc.grad, dc.value_and_grad, dc.jvp, dc.vjp, dc.hessian, dc.hvp):
        verify(mode(fpy).ir)
    verify(fpy.ir)


def test_golden_ir(fpy):
    check_golden("worked_example.ir.txt", str(fpy.ir) + "\n")


def test_golden_gradient_source(fpy):
    """The gradient code reads like the backpropagation table."""
    check_golden("worked_example_grad.py", dc.grad(fpy).source)


def test_golden_gradient_wrt_weights(fpy):
    check_golden("worked_example_grad_w.py", dc.grad(fpy, wrt=("w1", "w2")).source)


def test_gradient_source_reads_like_the_table(fpy):
    src = dc.grad(fpy).source
    for line in ("df_dd = e", "df_de = d", "df_db = d", "df_dc = d", "df_da = 2.0 * a * e", "df_dw2 = d * x2"):
        assert f"    {line}\n" in src
    assert "# f = d * e" in src
    assert "0.0 *" not in src and "1.0 *" not in src


def test_one_line_definition_gives_the_same_numbers():
    f1 = dc.compile(W.f_oneline, backend="python", name="f")
    src = f1.source
    assert "f = (x1 + w1)**2 * (x1 * w1 + x2 * w2)" in src
    np.testing.assert_allclose(dc.grad(f1)(*POINT), W.expected_grad(*POINT))


def test_value_and_grad_into_a_caller_buffer(fnum, fpy):
    out = np.zeros(2)
    for f in (fnum, fpy):
        vg = dc.value_and_grad(f, wrt=("w1", "w2"))
        assert vg.into(out, *POINT) == 176.0
        np.testing.assert_array_equal(out, [104.0, 32.0])
        out[:] = 0.0
        assert dc.grad(f, wrt=("w1", "w2")).into(out, *POINT) is out
        np.testing.assert_array_equal(out, [104.0, 32.0])
    with pytest.raises(dc.SignatureError, match="shape"):
        dc.grad(fpy).into(np.zeros(3), *POINT)
    into = dc.value_and_grad(fnum).njit_into

    @numba.njit
    def loop(buf):
        s = 0.0
        for i in range(3):
            s += into(buf, 1.0 + i, 2.0, 3.0, 4.0)
        return s

    buf = np.empty(4)
    assert loop(buf) == sum(W.f(1.0 + i, 2.0, 3.0, 4.0) for i in range(3))
    np.testing.assert_allclose(buf, W.expected_grad(3.0, 2.0, 3.0, 4.0))


def test_numpy_scalars_and_zero_d_arrays_are_accepted(fnum):
    args = (np.float32(1.0), np.array(2.0), np.int64(3), True)
    np.testing.assert_array_equal(dc.grad(fnum)(*args), dc.grad(fnum)(1.0, 2.0, 3.0, 1.0))


def test_into_rejects_wrong_buffers_before_running_machine_code(fnum):
    vg = dc.value_and_grad(fnum)
    for bad in (np.zeros(3), np.zeros(4, dtype=np.float32), np.zeros(8)[::2], [0.0] * 4):
        with pytest.raises(dc.SignatureError, match="C-contiguous float64"):
            vg.into(bad, *POINT)
    with pytest.raises(dc.SignatureError, match="is a str"):
        vg.into(np.zeros(4), 1.0, "2", 3.0, 4.0)
