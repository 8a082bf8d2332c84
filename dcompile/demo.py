"""The demo behind ``dcompile demo``: the worked example end to end.

1. Compile ``f = (x1 + w1)^2 (x1 w1 + x2 w2)`` of the seed notes, print its SSA
   listing and its generated gradient code (which reads like the
   backpropagation table), and check the gradient against that table.
2. Minimise the Rosenbrock function by gradient descent with an Armijo
   backtracking line search, the whole loop running in numba and calling the
   compiled value-and-gradient directly.
"""

from __future__ import annotations

import time

import numba
import numpy as np

import dcompile as dc


def worked_example(x1, x2, w1, w2):
    a = x1 + w1
    b = x1 * w1
    c = x2 * w2
    d = a**2
    e = b + c
    return d * e


def rosenbrock(x, y):
    return 100.0 * (y - x**2) ** 2 + (1.0 - x) ** 2


def make_gradient_descent(value_and_grad):
    """An all-compiled gradient descent with Armijo backtracking on a 2-D function."""

    @numba.njit(cache=False)
    def descend(x, y, max_iter, gtol, c1):
        f, g = value_and_grad(x, y)
        alpha = 1.0
        for k in range(max_iter):
            gnorm2 = g[0] * g[0] + g[1] * g[1]
            if np.sqrt(gnorm2) < gtol:
                return x, y, f, np.sqrt(gnorm2), k
            alpha = min(1.0, 2.0 * alpha)  # try a longer step than last time
            while True:  # Armijo: f(x - a g) <= f(x) - c1 a |g|^2
                xn, yn = x - alpha * g[0], y - alpha * g[1]
                fn, gn = value_and_grad(xn, yn)
                if fn <= f - c1 * alpha * gnorm2 or alpha < 1e-16:
                    break
                alpha *= 0.5
            x, y, f, g = xn, yn, fn, gn
        return x, y, f, np.sqrt(g[0] * g[0] + g[1] * g[1]), max_iter

    return descend


def main() -> None:
    f = dc.compile(worked_example, name="f")
    grad = dc.grad(f)
    args = (1.0, 2.0, 3.0, 4.0)
    print("== The worked example: f = (x1 + w1)^2 (x1 w1 + x2 w2) ==\n")
    print("SSA graph (print(f.ir)):")
    print(f.ir)
    print("\nGenerated gradient code (print(dc.grad(f).source)):\n")
    print(grad.source)
    t0 = time.perf_counter()
    g = grad(*args)
    t1 = time.perf_counter()
    x1, x2, w1, w2 = args
    a, d, e = x1 + w1, (x1 + w1) ** 2, x1 * w1 + x2 * w2
    table = np.array([2 * a * e + d * w1, d * w2, 2 * a * e + d * x1, d * x2])
    print(f"f{args} = {f(*args)}")
    how = "machine code loaded from the cache" if grad.kernel.cache_hit else "compiled by numba"
    print(f"grad f = {g}   ({how} in {t1 - t0:.2f} s)")
    print(f"table  = {table}   (2ae + d*w1, d*w2, 2ae + d*x1, d*x2)")
    assert np.allclose(g, table)
    print(f"Hessian w.r.t. (w1, w2) =\n{dc.hessian(f, wrt=('w1', 'w2'))(*args)}")

    print("\n== Gradient descent with Armijo backtracking on Rosenbrock, compiled end to end ==\n")
    vg = dc.value_and_grad(dc.compile(rosenbrock))
    descend = make_gradient_descent(vg.njit)
    t0 = time.perf_counter()
    descend(-1.2, 1.0, 1, 1e-6, 1e-4)  # compile
    t1 = time.perf_counter()
    x, y, fx, gnorm, iters = descend(-1.2, 1.0, 200_000, 1e-6, 1e-4)
    t2 = time.perf_counter()
    print(f"start (-1.2, 1.0)  ->  x = ({x:.8f}, {y:.8f}), f = {fx:.3e}, |g| = {gnorm:.1e}")
    print(f"{iters} iterations in {1e3 * (t2 - t1):.1f} ms ({1e9 * (t2 - t1) / max(iters, 1):.0f} ns/iteration)")
    print(f"compiling the loop took {t1 - t0:.2f} s")


if __name__ == "__main__":
    main()
