"""Calls as Python makes them: defaults, keywords, parameter structures, constants (issue 19 items 1-2)."""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np
import pytest

import dcompile as dc
from dcompile.errors import SignatureError, TraceError


def ridge(w, X, y, lam=0.1):
    return np.sum((X @ w - y) ** 2) + lam * (w @ w)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=6)
W = RNG.normal(size=3)


def ridge_grad_w(w, lam):
    return 2.0 * X.T @ (X @ w - Y) + 2.0 * lam * w


@pytest.fixture(scope="module", params=["python", pytest.param("numba", marks=pytest.mark.numba)])
def backend(request):
    return request.param


def test_defaults_and_keywords(backend):
    f = dc.compile(ridge, backend=backend, name=f"ridge_{backend}")
    assert f(W, X, Y) == pytest.approx(ridge(W, X, Y))
    assert f(W, X, Y, 0.5) == pytest.approx(ridge(W, X, Y, 0.5))
    assert f(W, X, y=Y, lam=0.5) == pytest.approx(ridge(W, X, Y, 0.5))
    assert f(y=Y, X=X, w=W) == pytest.approx(ridge(W, X, Y))
    # A default left out is a constant: not differentiated unless named in wrt.
    gw, gX, gy = dc.grad(f)(W, X, Y)
    np.testing.assert_allclose(gw, ridge_grad_w(W, 0.1), rtol=1e-12)
    assert gX.shape == X.shape and gy.shape == Y.shape
    np.testing.assert_allclose(dc.grad(f, wrt="w")(W, X, Y, lam=0.5), ridge_grad_w(W, 0.5), rtol=1e-12)
    np.testing.assert_allclose(dc.grad(f, wrt="lam")(W, X, Y), [W @ W], rtol=1e-12)
    value, g = dc.value_and_grad(f, wrt=("w", "lam"))(W, X=X, y=Y)
    assert value == pytest.approx(ridge(W, X, Y)) and g[1] == pytest.approx(W @ W)
    np.testing.assert_allclose(dc.hessian(f, wrt="w")(W, X, Y), 2.0 * X.T @ X + 0.2 * np.eye(3), rtol=1e-12)


def test_signature_mistakes_are_explained():
    f = dc.compile(ridge, backend="python", name="ridge_mistakes")
    with pytest.raises(SignatureError, match=r"missing a required argument: 'y'"):
        f(W, X)
    with pytest.raises(SignatureError, match="takes 4 arguments, got 5"):
        f(W, X, Y, 0.1, 3.0)
    with pytest.raises(SignatureError, match="unexpected keyword argument 'mu'"):
        f(W, X, Y, mu=1.0)
    with pytest.raises(SignatureError, match="wrt='v' is not an argument"):
        dc.grad(f, wrt="v")
    with pytest.raises(TraceError, match=r"takes \*xs"):
        dc.compile(lambda *xs: xs[0])


def mlp(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out[:, 0] - y) ** 2)


def mlp_flat(W1, b1, W2, b2, x, y):  # noqa: PLR0917  (the flat form the structure replaces)
    return mlp({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, x, y)


PARAMS = {
    "W1": RNG.normal(size=(2, 4)),
    "b1": RNG.normal(size=4),
    "W2": RNG.normal(size=(4, 1)),
    "b2": np.zeros(1),
}
XS, YS = RNG.normal(size=(7, 2)), RNG.normal(size=7)


def test_dict_parameters_give_gradients_in_the_same_structure(backend):
    f = dc.compile(mlp, backend=backend, name=f"mlp_{backend}")
    flat = dc.compile(mlp_flat, backend="python", name="mlp_flat")
    g = dc.grad(f, wrt="params")(PARAMS, XS, YS)
    assert isinstance(g, dict) and set(g) == set(PARAMS)
    expected = dc.grad(flat, wrt=("W1", "b1", "W2", "b2"))(*PARAMS.values(), XS, YS)
    for k, e in zip(PARAMS, expected, strict=True):
        np.testing.assert_allclose(g[k], e, rtol=1e-12)
    value, g2 = dc.value_and_grad(f, wrt=0)(PARAMS, XS, YS)
    assert value == pytest.approx(mlp(PARAMS, XS, YS), rel=1e-13)
    np.testing.assert_allclose(g2["W2"], g["W2"], rtol=1e-14)
    # insertion order does not matter: the same structure
    reordered = {k: PARAMS[k] for k in reversed(list(PARAMS))}
    np.testing.assert_allclose(dc.grad(f, wrt="params")(reordered, XS, YS)["b1"], g["b1"], rtol=1e-14)


def test_structure_directions_and_flat_second_derivatives():
    f = dc.compile(mlp, backend="python", name="mlp_directions")
    hv = dc.hvp(f, wrt="params")([PARAMS, XS, YS], PARAMS)
    assert isinstance(hv, dict) and hv["W1"].shape == (2, 4)
    value, tangent = dc.jvp(f, wrt="params")([PARAMS, XS, YS], PARAMS)
    assert value == pytest.approx(mlp(PARAMS, XS, YS), rel=1e-13)
    g = dc.grad(f, wrt="params")(PARAMS, XS, YS)
    assert tangent == pytest.approx(sum(np.sum(g[k] * PARAMS[k]) for k in PARAMS), rel=1e-12)
    hess = dc.hessian(f, wrt="params")(PARAMS, XS, YS)  # over the raveled leaves, in dc.ravel order
    vec, _ = dc.ravel(PARAMS)
    hv_vec, _ = dc.ravel(hv)
    np.testing.assert_allclose(hess @ vec, hv_vec, rtol=1e-10, atol=1e-12)


class Line(NamedTuple):
    slope: np.ndarray
    intercept: float


@dataclasses.dataclass
class Model:
    line: Line
    scale: float
    layers: list


def test_namedtuples_dataclasses_lists_and_scalars_inside():
    def loss(m, x):
        pred = (x @ m.line.slope + m.line.intercept) * m.scale
        return np.sum(pred**2) + sum(np.sum(layer**2) for layer in m.layers)

    f = dc.compile(loss, backend="python", name="structured_model")
    x = RNG.normal(size=(5, 2))
    m = Model(Line(np.array([0.5, -1.0]), 0.3), 2.0, [np.ones(2), np.full(3, 2.0)])
    g = dc.grad(f, wrt="m")(m, x)
    assert isinstance(g, Model) and isinstance(g.line, Line) and isinstance(g.layers, list)
    pred = (x @ m.line.slope + m.line.intercept) * m.scale
    np.testing.assert_allclose(g.line.slope, 2 * m.scale * x.T @ pred, rtol=1e-12)
    assert g.line.intercept == pytest.approx(2 * m.scale * pred.sum(), rel=1e-12)
    assert g.scale == pytest.approx(2 * np.sum(pred * pred / m.scale), rel=1e-12)
    np.testing.assert_allclose(g.layers[1], 2 * m.layers[1])


def test_int_and_bool_settings_become_constants_of_the_trace():
    def simulate(x, steps: int, clip=True):
        for _ in range(steps):
            x = np.sin(x) + 0.1
        return np.sum(np.minimum(x, 0.5)) if clip else np.sum(x)

    f = dc.compile(simulate, backend="python", name="simulate_static")
    x = np.linspace(0.0, 1.0, 3)

    def reference(x, steps, clip=True):
        for _ in range(steps):
            x = np.sin(x) + 0.1
        return np.sum(np.minimum(x, 0.5)) if clip else np.sum(x)

    assert f(x, 3) == pytest.approx(reference(x, 3))
    assert f(x, 5, clip=False) == pytest.approx(reference(x, 5, False))
    g = dc.grad(f)(x, 4, False)  # steps and clip are constants: the gradient is x's alone
    h = 1e-6
    fd = [(reference(x + h * e, 4, False) - reference(x - h * e, 4, False)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    with pytest.raises(SignatureError, match="constant of the trace"):
        dc.grad(f, wrt="steps")(x, 4)
    with pytest.raises(TraceError, match="truth value of a traced value"):
        dc.compile(lambda x, t: x if t > 0 else -x, backend="python")(1.0, 0.5)  # a float stays traced


def test_strings_and_callables_are_settings():
    def act(x, w, kind="tanh", fn=np.sin):
        z = x @ w
        return np.sum(np.tanh(z) if kind == "tanh" else fn(z))

    f = dc.compile(act, backend="python", name="settings")
    x, w = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    assert f(x, w) == pytest.approx(np.sum(np.tanh(x @ w)))
    assert f(x, w, kind="other", fn=np.cos) == pytest.approx(np.sum(np.cos(x @ w)))
    np.testing.assert_allclose(dc.grad(f, wrt="w")(x, w, "other"), np.cos(x @ w) @ x, rtol=1e-12)


def test_partial_and_keyword_only_parameters():
    def scaled(x, *, a, b=1.0):
        return a * np.sum(x) + b

    f = dc.compile(functools.partial(scaled, a=3.0), backend="python", name="partial_kwonly")
    assert f(np.ones(2)) == 7.0 and f(np.ones(2), b=2.0, a=1.0) == 4.0
    np.testing.assert_allclose(dc.grad(f)(np.ones(2)), [3.0, 3.0])
    np.testing.assert_allclose(dc.grad(f, wrt="a")(np.ones(2)), [2.0])


def test_ravel_and_unravel():
    vec, unravel = dc.ravel(PARAMS)
    assert vec.shape == (2 * 4 + 4 + 4 + 1,)
    back = unravel(vec)
    for k, v in PARAMS.items():
        np.testing.assert_array_equal(back[k], v)
    assert dc.ravel(Line(np.ones(2), 3.0))[0].tolist() == [1.0, 1.0, 3.0]


def test_compiled_function_with_structures_inside_another():
    inner = dc.compile(mlp, backend="python", name="mlp_inner")

    def outer(W1, b1, W2, b2):
        return inner({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, XS, YS) * 2.0

    f = dc.compile(outer, backend="python", name="mlp_outer")
    assert f(*PARAMS.values()) == pytest.approx(2.0 * mlp(PARAMS, XS, YS), rel=1e-13)
