"""The adding-into-``_out`` variant of value_and_grad: what per-sample loops of finite sums call."""

from __future__ import annotations

import numpy as np
import pytest

import dcompile as dc


def nll_one(w, x, y):
    return np.logaddexp(0.0, -y * (x @ w))


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def matrix_param(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


def half_sq(w, x):
    return 0.5 * np.dot(w - x, w - x)  # the gradient's display name is an alias of another value


def scalars(a, b):
    return a * np.sin(b) + b**2


rng = np.random.default_rng(0)
CASES = [
    (nll_one, (rng.normal(size=6), rng.normal(size=6), -1.0)),
    (rosen, (rng.normal(size=5),)),
    (matrix_param, (rng.normal(size=(3, 4)), rng.normal(size=4))),
    (scalars, (0.3, 1.7)),
    (half_sq, (rng.normal(size=3), rng.normal(size=3))),
]


@pytest.mark.parametrize(("fn", "args"), CASES, ids=[c[0].__name__ for c in CASES])
def test_adding_into_out_adds_the_gradient(fn, args):
    f = dc.compile(fn, backend="python", name=f"acc_{fn.__name__}")
    sig, conv = f.signature(args)
    wrt = (0,) if np.ndim(args[0]) else (0, 1)
    kernel = f.compiled(sig, "value_and_grad", wrt, accumulate=True)
    value, grad = dc.value_and_grad(f, wrt=wrt)(*args)
    start = rng.normal(size=np.shape(grad))
    out = start.copy()
    assert kernel.fn(out, *conv) == value
    np.testing.assert_allclose(out - start, grad, rtol=1e-13, atol=1e-13)
    out2 = out.copy()
    kernel.fn(out2, *conv)  # adds again
    np.testing.assert_allclose(out2 - out, grad, rtol=1e-12, atol=1e-12)


def test_the_gradient_loop_adds_in_place_without_a_temporary():
    f = dc.compile(nll_one, backend="python", name="acc_source")
    sig, _ = f.signature(CASES[0][1])
    source = f.emitted(sig, "value_and_grad", (0,), into=True, accumulate=True).source
    assert "_out[i] += " in source and "np.empty" not in source and "_out +=" not in source
