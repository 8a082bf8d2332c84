"""The worked example of the seed notes, shared by several tests."""

from __future__ import annotations

import numpy as np


def f(x1, x2, w1, w2):
    a = x1 + w1
    b = x1 * w1
    c = x2 * w2
    d = a**2
    e = b + c
    return d * e


def f_oneline(x1, x2, w1, w2):
    return (x1 + w1) ** 2 * (x1 * w1 + x2 * w2)


def expected_grad(x1, x2, w1, w2):
    """The backpropagation table, with the correct df/dx1 = 2ae + d*w1."""
    a = x1 + w1
    b = x1 * w1
    c = x2 * w2
    d = a**2
    e = b + c
    return [2 * a * e + d * w1, d * w2, 2 * a * e + d * x1, d * x2]


def nll(w, X, y):
    """Logistic-regression negative log-likelihood (an array example for the CLI)."""
    return np.sum(np.logaddexp(0.0, -y * (X @ w)))


def branchy(x, y):
    """Cannot be traced: an `if` on a traced value (for the CLI's error path)."""
    if x > y:
        return x
    return y


def rosen(x):
    """The Rosenbrock function (an array example with slices for the CLI)."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
