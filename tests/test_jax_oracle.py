"""JAX as an independent oracle, where it is installed (an optional dependency)."""

from __future__ import annotations

import numpy as np
import pytest

import dcompile as dc

jax = pytest.importorskip("jax", reason="JAX is an optional oracle; install jax to run these checks")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

# (dcompile version, the same function written for JAX)
CASES = {
    "worked-example-like": (
        lambda x, y: (x + y) ** 2 * (x * y + np.sin(y)),
        lambda x, y: (x + y) ** 2 * (x * y + jnp.sin(y)),
    ),
    "exp-atan2": (
        lambda x, y: np.exp(-x * y) / (1.0 + x**2) + np.arctan2(y, x),
        lambda x, y: jnp.exp(-x * y) / (1.0 + x**2) + jnp.arctan2(y, x),
    ),
    "softplus-tanh-log1p": (
        lambda x, y: dc.softplus(x - y) + np.tanh(x) * np.log1p(y**2),
        lambda x, y: jax.nn.softplus(x - y) + jnp.tanh(x) * jnp.log1p(y**2),
    ),
    "where-maximum": (
        lambda x, y: dc.where(x > y, np.sqrt(x**2 + 1.0), y**3) + np.maximum(x, 0.5 * y),
        lambda x, y: jnp.where(x > y, jnp.sqrt(x**2 + 1.0), y**3) + jnp.maximum(x, 0.5 * y),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_gradient_and_hessian_match_jax(name):
    fn, jfn = CASES[name]
    f = dc.compile(fn, backend="python", name="case")
    for p in [(0.3, 1.7), (1.9, -0.4)]:
        np.testing.assert_allclose(dc.grad(f)(*p), jax.grad(jfn, argnums=(0, 1))(*p), rtol=1e-12)
        np.testing.assert_allclose(dc.hessian(f)(*p), np.array(jax.hessian(jfn, argnums=(0, 1))(*p)), rtol=1e-11)


def test_where_gradient_where_jax_gives_nan():
    """JAX's where(x > 0, sqrt(x), 0) has gradient NaN at x < 0; dcompile's is 0."""
    f = dc.compile(lambda x: dc.where(x > 0.0, np.sqrt(x), 0.0), backend="python")
    assert np.isnan(jax.grad(lambda x: jnp.where(x > 0.0, jnp.sqrt(x), 0.0))(-1.0))
    assert dc.grad(f)(-1.0)[0] == 0.0
