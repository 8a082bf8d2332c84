"""JAX as an independent oracle for array programs (where JAX is installed).

Each case is a dcompile program of float arrays and the same program written
with ``jax.numpy``; gradients, forward-mode JVPs and Hessians (all arguments
flattened and joined) must agree to rounding.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dcompile as dc

jax = pytest.importorskip("jax", reason="JAX is an optional oracle; install jax to run these checks")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

# name -> (dcompile program, JAX program, argument shapes, positive inputs)
CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any], list[tuple[int, ...]], bool]] = {
    "rosenbrock": (
        lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2),
        lambda x: jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2),
        [(6,)],
        False,
    ),
    "logistic_nll": (
        lambda w, X: np.sum(np.logaddexp(0.0, -(X @ w))),
        lambda w, X: jnp.sum(jnp.logaddexp(0.0, -(X @ w))),
        [(3,), (5, 3)],
        False,
    ),
    "mlp": (
        lambda W, x: np.sum(np.tanh(W @ x) ** 2) + 0.1 * np.sum(W**2),
        lambda W, x: jnp.sum(jnp.tanh(W @ x) ** 2) + 0.1 * jnp.sum(W**2),
        [(3, 4), (4,)],
        False,
    ),
    "broadcast_col_row": (
        lambda a, b: np.sum(np.sin(a * b) + np.exp(0.3 * (a - b))),
        lambda a, b: jnp.sum(jnp.sin(a * b) + jnp.exp(0.3 * (a - b))),
        [(3, 1), (1, 4)],
        False,
    ),
    "logsumexp_rows": (
        lambda A: np.sum(dc.logsumexp(A, axis=1) ** 2),
        lambda A: jnp.sum(jax.scipy.special.logsumexp(A, axis=1) ** 2),
        [(3, 4)],
        False,
    ),
    "mean_keepdims": (
        lambda A: np.sum((A - A.mean(axis=0, keepdims=True)) ** 2 * np.cos(A)),
        lambda A: jnp.sum((A - A.mean(axis=0, keepdims=True)) ** 2 * jnp.cos(A)),
        [(4, 3)],
        False,
    ),
    "matmul_outer_norm": (
        lambda A, B, x: np.linalg.norm(A @ B @ x) + np.sum(np.outer(x, x) * (B.T @ B)),
        lambda A, B, x: jnp.linalg.norm(A @ B @ x) + jnp.sum(jnp.outer(x, x) * (B.T @ B)),
        [(2, 3), (3, 4), (4,)],
        False,
    ),
    "slices_concat_stack": (
        lambda x, y: (
            np.sum(np.concatenate([x[::2], y[::-1]]) ** 3)
            + np.sum(np.stack([x[:3], y[1:4]]) @ np.array([0.5, -1.0, 2.0]))
        ),
        lambda x, y: (
            jnp.sum(jnp.concatenate([x[::2], y[::-1]]) ** 3)
            + jnp.sum(jnp.stack([x[:3], y[1:4]]) @ jnp.array([0.5, -1.0, 2.0]))
        ),
        [(6,), (4,)],
        False,
    ),
    "reshape_transpose_prod": (
        lambda x: np.sum(np.prod(x.reshape(2, 3).T, axis=1) * np.array([1.0, 2.0, 3.0])),
        lambda x: jnp.sum(jnp.prod(x.reshape(2, 3).T, axis=1) * jnp.array([1.0, 2.0, 3.0])),
        [(6,)],
        False,
    ),
    "where_clip_maximum": (
        lambda x, y: np.sum(np.where(x > y, x * y, np.sin(y)) + np.clip(x, -0.5, 0.5) ** 2 + np.maximum(x, 0.1) * y),
        lambda x, y: jnp.sum(
            jnp.where(x > y, x * y, jnp.sin(y)) + jnp.clip(x, -0.5, 0.5) ** 2 + jnp.maximum(x, 0.1) * y
        ),
        [(5,), (5,)],
        False,
    ),
    "positive_log_sqrt_pow": (
        lambda x, y: np.sum(np.log(x) * np.sqrt(y) + x**y + np.arctan2(x, y)),
        lambda x, y: jnp.sum(jnp.log(x) * jnp.sqrt(y) + x**y + jnp.arctan2(x, y)),
        [(4,), (4,)],
        True,
    ),
}


def inputs(name: str) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    _, _, shapes, positive = CASES[name]
    return tuple(rng.uniform(0.5, 2.0, size=s) if positive else rng.normal(size=s) for s in shapes)


def flat(parts: Any) -> np.ndarray:
    if isinstance(parts, (tuple, list)):
        return np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts])
    return np.ravel(np.asarray(parts, dtype=float))


def compiled(name: str) -> dc.Function:
    return dc.compile(CASES[name][0], backend="python", name=name)


@pytest.mark.parametrize("name", CASES)
def test_value_and_gradient_match_jax(name: str) -> None:
    _, jfn, _, _ = CASES[name]
    args = inputs(name)
    f = compiled(name)
    np.testing.assert_allclose(f(*args), jfn(*args), rtol=1e-12)
    argnums = tuple(range(len(args)))
    expected = jax.jit(jax.grad(jfn, argnums=argnums))(*args)
    got = dc.grad(f)(*args)
    got = got if isinstance(got, tuple) else (got,)
    for g, e, a in zip(got, expected, args, strict=True):
        assert np.shape(g) == a.shape
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_jvp_matches_jax(name: str) -> None:
    _, jfn, _, _ = CASES[name]
    args = inputs(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 7)
    tangents = tuple(rng.normal(size=a.shape) for a in args)
    value, tangent = dc.jvp(compiled(name))(args, tangents[0] if len(args) == 1 else tangents)
    jvalue, jtangent = jax.jit(lambda a, t: jax.jvp(jfn, a, t))(args, tangents)
    np.testing.assert_allclose(value, jvalue, rtol=1e-12)
    np.testing.assert_allclose(tangent, jtangent, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_hessian_matches_jax(name: str) -> None:
    _, jfn, shapes, _ = CASES[name]
    args = inputs(name)
    sizes = [int(np.prod(s)) for s in shapes]
    splits = np.cumsum(sizes)[:-1]

    def jflat(z):
        parts = jnp.split(z, splits)
        return jfn(*[p.reshape(s) for p, s in zip(parts, shapes, strict=True)])

    z = flat(args)
    expected = np.asarray(jax.jit(jax.hessian(jflat))(z))
    got = dc.hessian(compiled(name))(*args)
    assert got.shape == (z.size, z.size)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-11 * max(1.0, np.max(np.abs(expected))))
    v = np.random.default_rng(3).normal(size=z.size)
    parts = np.split(v, splits)
    direction = tuple(p.reshape(s) for p, s in zip(parts, shapes, strict=True))
    hv = dc.hvp(compiled(name))(args, direction[0] if len(args) == 1 else direction)
    np.testing.assert_allclose(flat(hv), expected @ v, rtol=1e-10, atol=1e-11 * max(1.0, np.max(np.abs(expected))))
