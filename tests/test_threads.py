"""Compiled functions called from several threads at once (issue 10 item 6).

* kernels compiled by numba give every thread its own right answer when
  threads call them at the same time (the generated code has no shared state:
  every temporary is a local, every result a fresh array);
* first calls racing to trace, derive and compile the same new signature are
  safe: ``Function`` holds a reentrant lock around its graph, program and
  kernel caches, so one thread compiles and the others wait and reuse it;
* different functions traced at the same moment in different threads do not
  see each other's values (tracing's hooks are per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dcompile as dc

THREADS = 4


def in_threads(work: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released together; their results (errors re-raised)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=600)
    if errors:
        raise errors[0]
    return results


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_grad(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


@pytest.mark.numba
def test_compiled_kernels_called_from_threads_at_once():
    vg = dc.value_and_grad(dc.compile(rosen))
    vg(np.zeros(50))  # compiled before the threads start

    def work(i: int) -> bool:
        rng = np.random.default_rng(i)
        for _ in range(300):
            x = rng.normal(size=50)
            value, grad = vg(x)
            assert value == pytest.approx(rosen(x), rel=1e-13)
            np.testing.assert_allclose(grad, rosen_grad(x), rtol=1e-12, atol=1e-12)
        return True

    assert all(in_threads(work))


@pytest.mark.numba
def test_first_calls_racing_to_compile_the_same_signature():
    """Every thread's first call is the function's first call: one compiles, all get the right answer."""

    @dc.compile
    def f(x, w):
        return np.sum(np.tanh(x * w) ** 2) + np.sin(np.dot(x, w))

    grad = dc.grad(f)
    hess = dc.hessian(f, wrt="x")
    x = np.linspace(-1.0, 1.0, 6)

    def work(i: int) -> tuple[Any, Any, Any]:
        w = np.cos(np.arange(6.0) + i)
        return f(x, w), grad(x, w), hess(x, w)

    results = in_threads(work)
    for i, (value, (gx, gw), h) in enumerate(results):
        w = np.cos(np.arange(6.0) + i)
        t = np.tanh(x * w)
        assert value == pytest.approx(np.sum(t**2) + np.sin(x @ w), rel=1e-13)
        np.testing.assert_allclose(gx, 2 * t * (1 - t**2) * w + np.cos(x @ w) * w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gw, 2 * t * (1 - t**2) * x + np.cos(x @ w) * x, rtol=1e-12, atol=1e-14)
        assert h.shape == (6, 6)
    # one kernel per mode and signature, shared by the threads
    assert len(f._kernels) == 3 and len(f._graphs) == 1


def test_racing_first_calls_on_the_python_backend():
    @dc.compile(backend="python")
    def g(x, y):
        return np.exp(-x * y) + x**2 * y

    vg = dc.value_and_grad(g)

    def work(i: int) -> Any:
        return vg(0.5 + i, 1.5)

    for i, (value, grad) in enumerate(in_threads(work, 8)):
        x, y = 0.5 + i, 1.5
        assert value == pytest.approx(np.exp(-x * y) + x**2 * y, rel=1e-14)
        np.testing.assert_allclose(grad, [-y * np.exp(-x * y) + 2 * x * y, -x * np.exp(-x * y) + x**2], rtol=1e-13)


def test_different_functions_traced_at_once():
    """Tracing in one thread does not leak values or names into a trace in another."""

    def make(k: int) -> Callable[..., Any]:
        def h(x, y):
            a = x * (k + 1.0)
            for _ in range(20):  # long enough that the traces overlap
                a = np.sin(a) + y
            return a

        return h

    def work(i: int) -> Any:
        f = dc.compile(make(i), backend="python")
        return f(0.3, 0.2), dc.grad(f)(0.3, 0.2), f.ir

    for i, (value, grad, ir) in enumerate(in_threads(work, 6)):
        expected = make(i)(0.3, 0.2)
        assert value == pytest.approx(expected, rel=1e-14)
        h = 1e-6
        fd = (make(i)(0.3 + h, 0.2) - make(i)(0.3 - h, 0.2)) / (2 * h)
        assert grad[0] == pytest.approx(fd, rel=1e-6, abs=1e-8)
        assert len(ir.inputs) == 2
