"""Writing into arrays inside traced functions: functional updates, views, and their derivatives.

Each program is checked against NumPy itself (the value) and finite
differences of it (the gradient), on the Python backend; a few run on numba.
The NumPy semantics that matter: the last write wins, overwritten entries get
no gradient, a write through a view (``row = A[0]``, ``A[0][1] = v``) changes
the base, an augmented assignment ``y[i] += v`` reads then writes, and a
repeated index in ``y[idx] = v`` keeps the last value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dcompile as dc
from tests.helpers import fd_gradient


def ode_rhs(x):
    y = np.zeros(4)
    y[0] = x[1]
    y[1] = -np.sin(x[0]) - 0.1 * x[1]
    y[2:] = x[2:] * x[0]
    y[3] += x[3] ** 2
    return np.sum(y * np.array([1.0, 2.0, 3.0, 4.0]))


def stencil(x):
    y = x.copy()
    y[1:-1] += 0.5 * (x[:-2] - 2.0 * x[1:-1] + x[2:])
    y[0] = y[-1] = 0.0
    return np.sum(y**2)


def views(m):
    a = m.copy()
    row = a[0]
    row[1] = m[1, 1] ** 2  # through the view: a changes
    a[1][0] = 3.0 * m[0, 0]  # chained indexing writes into a as well
    return np.sum(a * np.arange(1.0, 7.0).reshape(2, 3)) + np.sum(row)


def loop_fill(x):
    y = np.empty(5)
    for i in range(5):
        y[i] = x[i] * (i + 1.0)
    acc = np.zeros(())
    for i in range(5):
        acc += y[i] * x[4 - i]
    return acc


def index_arrays(x, idx):
    y = np.zeros(6)
    y[idx] = x[:3]
    y[np.array([5, 5])] = x[3:5]  # the last write wins
    y[x > 0.5] = 0.0  # a mask from the arguments: a select
    return np.sum(y * np.arange(1.0, 7.0))


def two_d(m, i):
    a = np.zeros((3, 3))
    a[:, 0] = m[:, 1]
    a[i, 1:] = m[0, :2] * 2.0
    a[np.arange(3), np.array([2, 2, 1])] += m[:, 0]
    return np.sum(a**2)


def sorted_in_place(x):
    y = x.copy()
    y.sort()
    return np.sum(y * np.arange(5.0))


PROGRAMS: dict[str, tuple[Callable[..., Any], Callable[[np.random.Generator], tuple[Any, ...]]]] = {
    "ode_rhs": (ode_rhs, lambda r: (r.normal(size=4),)),
    "stencil": (stencil, lambda r: (r.normal(size=7),)),
    "views": (views, lambda r: (r.normal(size=(2, 3)),)),
    "loop_fill": (loop_fill, lambda r: (r.normal(size=5),)),
    "index_arrays": (index_arrays, lambda r: (r.uniform(-1.0, 0.4, size=6), np.array([0, 2, 4]))),
    "two_d": (two_d, lambda r: (r.normal(size=(3, 3)), np.int64(1))),
    "sorted_in_place": (sorted_in_place, lambda r: (r.normal(size=5),)),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_value_and_gradient_match_numpy(name: str) -> None:
    fn, draw = PROGRAMS[name]
    args = draw(np.random.default_rng(0))
    f = dc.compile(fn, backend="python")
    assert f(*args) == pytest.approx(fn(*args), rel=1e-13)
    g = dc.grad(f, wrt=0)(*args)
    np.testing.assert_allclose(g, fd_gradient(lambda x: fn(x, *args[1:]), args[0], 1e-6), rtol=1e-7, atol=1e-8)


def test_overwritten_entries_get_no_gradient() -> None:
    def f(x):
        y = x * 1.0
        y[1] = 5.0
        return np.sum(y**2)

    g = dc.grad(dc.compile(f, backend="python"))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [2.0, 0.0, 6.0])


def test_writing_into_an_argument_is_refused() -> None:
    def f(x):
        x[0] = 0.0
        return np.sum(x)

    with pytest.raises(dc.UnsupportedError, match=r"copy it first"):
        dc.compile(f, backend="python")(np.ones(3))

    def g(x):
        x += 1.0
        return np.sum(x)

    with pytest.raises(dc.UnsupportedError, match=r"copy it first"):
        dc.compile(g, backend="python")(np.ones(3))


def test_a_mask_from_the_arguments_cannot_select_a_length() -> None:
    def f(x):
        return np.sum(x[x > 0])

    with pytest.raises(dc.UnsupportedError, match=r"np\.where"):
        dc.compile(f, backend="python")(np.ones(3))


def test_many_writes_trace_in_linear_time() -> None:
    """A loop of item writes reads views of the array it writes: refreshing them must not pile up."""

    def f(x):
        y = np.zeros(400)
        for i in range(1, 400):
            y[i] = y[i - 1] * 0.5 + x[i % 4]
            _ = y[: i + 1]  # a slice taken and dropped every iteration
        return np.sum(y)

    x = np.arange(1.0, 5.0)
    assert dc.compile(f, backend="python")(x) == pytest.approx(f(x), rel=1e-13)


@pytest.fixture(scope="module")
def numba_stencil() -> dc.Function:
    return dc.compile(stencil)


@pytest.mark.numba
def test_numba_writes_in_place_and_agrees(numba_stencil: dc.Function) -> None:
    x = np.random.default_rng(1).normal(size=7)
    py = dc.compile(stencil, backend="python")
    assert numba_stencil(x) == py(x)
    np.testing.assert_array_equal(dc.grad(numba_stencil)(x), dc.grad(py)(x))
    src = numba_stencil.source
    assert "y[1:-1] = " in src and ".copy()" in src  # one copy of the argument, then writes into it
