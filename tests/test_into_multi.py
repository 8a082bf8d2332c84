"""Writing the gradients of several arguments into a tuple of buffers: ``vg.into(out, ...)``, ``vg.njit_into``.

With several arguments in ``wrt`` (one of them an array), ``out`` is a tuple of
float64 buffers, one per argument in ``wrt`` order, each shaped like it (a 0-d
array for a scalar argument). The generated code binds ``_out0 = _out[0]``, ...
and builds each gradient in its buffer where the single-array logic allows
(tests/test_into_alloc.py), copying it in otherwise. The MLP below is the case
users asked for: a gradient step inside their own numba loop. Allocations are
counted in a fresh process with ``NUMBA_NRT_STATS=1`` (as tests/test_into_alloc.py
does); breadth is checked on the pure-Python backend.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import numpy as np
import pytest

import dcompile as dc
from dcompile.errors import SignatureError
from tests.helpers import close, fd_gradient, nrt_report

WRT = ("W1", "b1", "W2", "b2")


def mlp(W1, b1, W2, b2, X, y):  # noqa: PLR0917
    return np.mean((np.tanh(X @ W1 + b1) @ W2 + b2 - y) ** 2)


def mlp_data(n: int = 256, d: int = 10, h: int = 32, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, d)), rng.standard_normal((n, 1))
    W1, b1 = rng.standard_normal((d, h)) / np.sqrt(d), 0.1 * rng.standard_normal(h)
    W2, b2 = rng.standard_normal((h, 1)) / np.sqrt(h), 0.1 * rng.standard_normal(1)
    return W1, b1, W2, b2, X, y


CHILD = textwrap.dedent(
    """
    import json
    import numba
    import numpy as np
    from numba.core.runtime import rtsys
    import dcompile as dc
    from tests.test_into_multi import WRT, mlp, mlp_data

    def per_call(step, args, calls):
        @numba.njit
        def loop(args, n):
            for _ in range(n):
                step(*args)

        loop(args, 1)

        def allocations(n):
            before = rtsys.get_allocation_stats()
            loop(args, n)
            return rtsys.get_allocation_stats().alloc - before.alloc

        return (allocations(calls) - allocations(0)) / calls

    args = mlp_data()
    params, data = args[:4], args[4:]
    f = dc.compile(mlp, name="multi_mlp")
    vg = dc.value_and_grad(f, wrt=WRT)
    value, grads = vg(*args)  # the allocating call
    report = {"value": value, "grads": [g.ravel().tolist() for g in grads]}
    out = tuple(np.full_like(p, np.nan) for p in params)
    report["into_value"] = vg.njit_into(out, *args)
    report["into_grads"] = [g.ravel().tolist() for g in out]
    report["allocs_into"] = per_call(vg.njit_into, (tuple(np.zeros_like(p) for p in params), *args), 200)
    report["allocs_plain"] = per_call(vg.njit, args, 200)
    report["source"] = f.emitted(vg.sig, "value_and_grad", vg.wrt, into=True).source
    add = f.compiled(vg.sig, "value_and_grad", vg.wrt, accumulate=True).njit
    start = tuple(np.random.default_rng(1).normal(size=p.shape) for p in params)
    out = tuple(s.copy() for s in start)
    report["add_value"] = add(out, *args)
    report["add_grads"] = [(o - s).ravel().tolist() for o, s in zip(out, start)]
    report["allocs_add"] = per_call(add, (tuple(np.zeros_like(p) for p in params), *args), 200)
    g = dc.grad(f, wrt=WRT)
    out = tuple(np.full_like(p, np.nan) for p in params)
    back = g.njit_into(out, *args)
    report["grad_same_tuple"] = all(a is b for a, b in zip(back, out))
    report["grad_grads"] = [o.ravel().tolist() for o in out]

    step_into, step_plain = vg.njit_into, vg.njit

    @numba.njit
    def gd_into(W1, b1, W2, b2, X, y, lr, steps):
        g = (np.empty_like(W1), np.empty_like(b1), np.empty_like(W2), np.empty_like(b2))
        for _ in range(steps):
            loss = step_into(g, W1, b1, W2, b2, X, y)
            W1 -= lr * g[0]
            b1 -= lr * g[1]
            W2 -= lr * g[2]
            b2 -= lr * g[3]
        return loss

    @numba.njit
    def gd_plain(W1, b1, W2, b2, X, y, lr, steps):
        for _ in range(steps):
            loss, g = step_plain(W1, b1, W2, b2, X, y)
            W1 -= lr * g[0]
            b1 -= lr * g[1]
            W2 -= lr * g[2]
            b2 -= lr * g[3]
        return loss

    runs = {}
    for name, gd in (("into", gd_into), ("plain", gd_plain)):
        p = [a.copy() for a in params]
        loss = gd(*p, *data, 0.05, 100)
        runs[name] = {"loss": loss, "params": [a.ravel().tolist() for a in p]}
    report["gd"] = runs
    print(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    return nrt_report(CHILD)


def _same(got: list[list[float]], expected: list[list[float]], rtol: float = 1e-14) -> None:
    for k, (a, b) in enumerate(zip(got, expected, strict=True)):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=rtol, atol=0.0, err_msg=WRT[k])


@pytest.mark.numba
def test_mlp_into_equals_the_allocating_call(measured):
    assert measured["into_value"] == pytest.approx(measured["value"], rel=1e-14, abs=0.0)
    _same(measured["into_grads"], measured["grads"])
    _same(measured["grad_grads"], measured["grads"])
    assert measured["grad_same_tuple"]  # grad returns the buffers it wrote


@pytest.mark.numba
def test_mlp_accumulate_adds_to_the_buffers(measured):
    assert measured["add_value"] == pytest.approx(measured["value"], rel=1e-14, abs=0.0)
    for k, (a, b) in enumerate(zip(measured["add_grads"], measured["grads"], strict=True)):
        close(np.array(a), np.array(b), WRT[k], rtol=1e-12)  # (start + g) - start: rounded once more


# What the into-variant still allocates per call: the matrix products' results and the
# arrays they read (an intermediate of the forward sweep, the adjoints fed to the products).
STILL_ALLOCATED = [
    "t0",
    "t2",
    "t3",
    "dmulti_mlp_dt5",
    "dmulti_mlp_dt2",
    "dmulti_mlp_dW2",
    "dmulti_mlp_dt1",
    "dmulti_mlp_dW1",
]


@pytest.mark.numba
def test_mlp_allocates_only_the_matrix_products_and_their_operands(measured):
    src = measured["source"]
    allocating = re.findall(r"^\s*(\w+) = (?:np\.empty\(|np\.zeros\(|.* @ )", src, re.MULTILINE)
    assert sorted(allocating) == sorted(STILL_ALLOCATED), src
    assert measured["allocs_into"] == len(STILL_ALLOCATED)
    assert measured["allocs_add"] == len(STILL_ALLOCATED)
    # the allocating call also makes the two bias gradients (the 4-tuple is not an NRT allocation)
    assert measured["allocs_plain"] == len(STILL_ALLOCATED) + 2
    # the bias gradients are built in their buffers; the weight gradients (matrix products) are copied
    assert "_out1[:] = 0.0" in src and "_out1[j] += " in src and "_out3[j] += " in src
    assert "_out0[:] = dmulti_mlp_dW1" in src and "_out2[:] = dmulti_mlp_dW2" in src
    assert "_out0 = _out[0]" in src and "_out3 = _out[3]" in src


@pytest.mark.numba
def test_gd_loop_with_njit_into_equals_the_allocating_loop(measured):
    into, plain = measured["gd"]["into"], measured["gd"]["plain"]
    assert into["loss"] == pytest.approx(plain["loss"], rel=1e-14, abs=0.0)
    _same(into["params"], plain["params"])
    assert into["loss"] < measured["value"]  # it did descend


# -- the pure-Python backend: values, finite differences, breadth, errors ------------------------


def _vg(fn: Any, wrt: Any, mode: str = "value_and_grad", name: str | None = None) -> Any:
    f = dc.compile(fn, backend="python", name=name or f"multi_{fn.__name__}")
    return getattr(dc, mode)(f, wrt=wrt)


def test_mlp_against_finite_differences():
    args = mlp_data(n=12, d=3, h=4, seed=2)
    vg = _vg(mlp, WRT)
    out = tuple(np.full_like(p, np.nan) for p in args[:4])
    value = vg.into(out, *args)
    assert value == pytest.approx(mlp(*args), rel=1e-13)
    for k in range(4):

        def along(z, k=k):
            a = list(args)
            a[k] = z
            return mlp(*a)

        close(out[k], fd_gradient(along, args[k], 1e-5), WRT[k], rtol=1e-7)


def test_mlp_python_backend_equals_the_allocating_call_and_adds():
    args = mlp_data(n=20, d=3, h=5, seed=3)
    for mode in ("value_and_grad", "grad"):
        d = _vg(mlp, WRT, mode)
        expected = d(*args)
        grads = expected[1] if mode == "value_and_grad" else expected
        out = tuple(np.full_like(p, np.nan) for p in args[:4])
        got = d.into(out, *args)
        for a, b in zip(out, grads, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-14, atol=0.0)
        if mode == "grad":
            assert all(a is b for a, b in zip(got, out, strict=True))
        else:
            assert got == expected[0]
        f = d.fn
        start = tuple(np.ones_like(p) for p in args[:4])
        buf = tuple(s.copy() for s in start)
        f.compiled(d.sig, mode, d.wrt, accumulate=True).fn(buf, *args)
        for a, s, b in zip(buf, start, grads, strict=True):
            close(a - s, b, mode, rtol=1e-12)


def mixed(s, A, t):
    return np.sum(np.sin(A) * s) + s * t**2


def test_a_scalar_argument_gets_a_0d_buffer():
    A = np.linspace(0.1, 1.0, 6).reshape(2, 3)
    for mode in ("value_and_grad", "grad"):
        d = _vg(mixed, ("s", "A", "t"), mode)
        expected = d(0.7, A, 1.3)
        grads = expected[1] if mode == "value_and_grad" else expected
        out = (np.zeros(()), np.zeros((2, 3)), np.zeros(()))
        got = d.into(out, 0.7, A, 1.3)
        assert float(out[0]) == grads[0] and float(out[2]) == grads[2]
        np.testing.assert_array_equal(out[1], grads[1])
        assert got is out if mode == "grad" else got == expected[0]
        with pytest.raises(SignatureError, match=r"out\[0\], the buffer for s.*0-d array"):
            d.into((np.zeros(1), np.zeros((2, 3)), np.zeros(())), 0.7, A, 1.3)


def twice(x, y):
    return np.sum(x * y)  # d/dx is y, d/dy is x: inputs, copied


def same_adjoint(x, y):
    return np.sum(np.sin(x + y))  # d/dx and d/dy are one array: built in one buffer, copied into the other


@pytest.mark.parametrize("fn", [twice, same_adjoint])
def test_gradients_that_are_inputs_or_shared_are_copied(fn):
    x, y = np.linspace(0, 1, 5), np.linspace(1, 2, 5)
    d = _vg(fn, ("x", "y"))
    value, grads = d(x, y)
    out = (np.full(5, np.nan), np.full(5, np.nan))
    assert d.into(out, x, y) == value
    for a, b in zip(out, grads, strict=True):
        np.testing.assert_array_equal(a, b)
    src = d.fn.emitted(d.sig, d.mode, d.wrt, into=True).source
    assert "_out0 = _out[0]" in src and "_out1 = _out[1]" in src


def test_a_list_of_buffers_is_accepted():
    args = mlp_data(n=8, d=2, h=3)
    d = _vg(mlp, WRT, "grad")
    out = [np.zeros_like(p) for p in args[:4]]
    d.into(out, *args)
    for a, b in zip(out, d(*args), strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrong_buffers_are_refused():
    args = mlp_data(n=8, d=2, h=3)
    W1, b1, W2, b2, X, y = args
    d = _vg(mlp, WRT)
    good = [np.zeros_like(p) for p in args[:4]]
    d.into(tuple(good), *args)  # compiled; every call below is checked too

    def refused(out: Any, match: str, call_args: tuple[Any, ...] = args) -> None:
        with pytest.raises(SignatureError, match=match):
            d.into(out, *call_args)

    refused(tuple(good[:3]), r"tuple of 4 float64 arrays, one per argument in wrt \(W1, b1, W2, b2\)")
    refused(good[0], r"tuple of 4 float64 arrays")
    refused((good[0], np.zeros(4), good[2], good[3]), r"out\[1\], the buffer for b1, .* shape \(3,\)")
    refused((good[0], good[1], good[2].astype(np.float32), good[3]), r"out\[2\], the buffer for W2, .*float32")
    F = np.asfortranarray(np.zeros((2, 3)))
    refused((F, good[1], good[2], good[3]), r"out\[0\], the buffer for W1.*not C-contiguous")
    both = np.zeros(6)
    refused((good[0], both[:3], good[2], both[2:3]), r"out\[1\] \(for b1\) and out\[3\] \(for b2\) share memory")
    with_b2 = (W1, b1, W2, good[3], X, y)
    refused(tuple(good), r"out\[3\] \(for b2\) shares memory with the argument b2", with_b2)
    shared = np.zeros((8, 2))
    inside = (shared.reshape(-1)[:6].reshape(2, 3), good[1], good[2], good[3])
    refused(inside, r"out\[0\] \(for W1\) shares memory with the argument X", (W1, b1, W2, b2, shared, y))


def test_one_array_in_wrt_still_takes_one_buffer():
    args = mlp_data(n=8, d=2, h=3)
    d = _vg(mlp, ("W1",))
    with pytest.raises(SignatureError, match=r"out must be one C-contiguous float64 array of shape \(2, 3\)"):
        d.into((np.zeros((2, 3)),), *args)
    out = np.zeros((2, 3))
    assert d.into(out, *args) == d(*args)[0]


def tree_loss(p, X, y):
    return np.mean((np.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"] - y) ** 2)


def test_a_dict_of_arrays_takes_an_out_of_the_same_structure():
    W1, b1, W2, b2, X, y = mlp_data(n=8, d=2, h=3)
    p = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    vg = _vg(tree_loss, "p")
    value, grads = vg(p, X, y)
    out = {k: np.full_like(v, np.nan) for k, v in p.items()}
    assert vg.into(out, p, X, y) == value
    for k in p:
        np.testing.assert_allclose(out[k], grads[k], rtol=1e-14, atol=0.0, err_msg=k)
    g = _vg(tree_loss, "p", "grad", name="multi_tree_grad")
    assert g.into(out, p, X, y) is out
    with pytest.raises(SignatureError, match="must have its structure"):
        vg.into(tuple(out.values()), p, X, y)


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize(
    "fn",
    [
        lambda x, y: np.sum(np.exp(x + y)),
        lambda x, y: np.sum(x + y),
        lambda x, y: np.sum(np.exp(x[1:] + y[1:])),
    ],
    ids=["exp", "linear", "slices"],
)
def test_adding_a_gradient_two_arguments_share(backend: str, fn: Any) -> None:
    """Adding into several buffers when x and y have one gradient value: each buffer gets its old contents
    plus the gradient (the value is not built in the first buffer and then read back from it)."""
    f = dc.compile(fn, backend=backend)
    x, y = np.array([0.0, 0.5, 1.0]), np.array([0.0, -0.5, 1.0])
    sig, conv = f.signature((x, y))
    g = dc.grad(f, wrt=("x", "y"))(x, y)
    for mode in ("grad", "value_and_grad"):
        out = (np.full(3, 10.0), np.full(3, 100.0))
        f.compiled(sig, mode, (0, 1), accumulate=True).fn(out, *conv)
        close(out[0], 10.0 + g[0], f"{mode} x", rtol=1e-15)
        close(out[1], 100.0 + g[1], f"{mode} y", rtol=1e-15)
