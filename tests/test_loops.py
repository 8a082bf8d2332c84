"""Loops that stay loops: dc.scan and dc.fori_loop, their derivatives and their code (issue 19 item 5)."""

from __future__ import annotations

import numpy as np
import pytest

import dcompile as dc
from dcompile.errors import DcompileError, TraceError

DT = 0.01
START = np.array([0.5, 0.0])
TARGET = np.array([np.pi, 0.0])


def pendulum(params, u):
    """Single shooting with RK4: running cost on the angle, terminal cost, control effort."""
    g, length, damping = params[0], params[1], params[2]

    def f(s, uk):
        return np.stack([s[1], -g / length * np.sin(s[0]) - damping * s[1] + uk])

    def step(s, uk):
        k1 = f(s, uk)
        k2 = f(s + 0.5 * DT * k1, uk)
        k3 = f(s + 0.5 * DT * k2, uk)
        k4 = f(s + DT * k3, uk)
        s = s + DT / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return s, s[0] ** 2

    s_final, running = dc.scan(step, START, u)
    return np.sum(running) * DT + np.sum((s_final - TARGET) ** 2) + 1e-3 * np.sum(u**2)


def pendulum_unrolled(params, u):
    """The same program as a Python loop (unrolled by tracing): the oracle for values and derivatives."""
    g, length, damping = params[0], params[1], params[2]

    def f(s, uk):
        return np.stack([s[1], -g / length * np.sin(s[0]) - damping * s[1] + uk])

    s, running = START, 0.0
    for k in range(u.shape[0]):
        uk = u[k]
        k1 = f(s, uk)
        k2 = f(s + 0.5 * DT * k1, uk)
        k3 = f(s + 0.5 * DT * k2, uk)
        k4 = f(s + DT * k3, uk)
        s = s + DT / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        running = running + s[0] ** 2
    return running * DT + np.sum((s - TARGET) ** 2) + 1e-3 * np.sum(u**2)


PARAMS = np.array([9.81, 1.0, 0.1])
U = np.sin(np.linspace(0.0, 3.0, 40))


@pytest.fixture(scope="module", params=["python", pytest.param("numba", marks=pytest.mark.numba)])
def compiled(request):
    return dc.compile(pendulum, backend=request.param, name=f"pendulum_{request.param}")


@pytest.fixture(scope="module")
def unrolled():
    return dc.compile(pendulum_unrolled, backend="python", name="pendulum_unrolled")


def test_scan_value_and_gradient_match_the_unrolled_loop(compiled, unrolled):
    assert compiled(PARAMS, U) == pytest.approx(unrolled(PARAMS, U), rel=1e-13)
    value, (gp, gu) = dc.value_and_grad(compiled)(PARAMS, U)
    ref_p, ref_u = dc.grad(unrolled)(PARAMS, U)
    assert value == pytest.approx(unrolled(PARAMS, U), rel=1e-13)
    np.testing.assert_allclose(gp, ref_p, rtol=1e-11)
    np.testing.assert_allclose(gu, ref_u, rtol=1e-10, atol=1e-14)


def test_scan_second_order_and_forward_mode(unrolled):
    f = dc.compile(pendulum, backend="python", name="pendulum_second")
    v = np.linspace(-1.0, 1.0, 3)
    np.testing.assert_allclose(
        dc.hvp(f, wrt="params")([PARAMS, U], v), dc.hvp(unrolled, wrt="params")([PARAMS, U], v), rtol=1e-9
    )
    _, t = dc.jvp(f, wrt="u")([PARAMS, U], np.cos(U))
    _, t_ref = dc.jvp(unrolled, wrt="u")([PARAMS, U], np.cos(U))
    assert t == pytest.approx(t_ref, rel=1e-11)
    assert dc.check_grad(f, PARAMS, U, order=2).ok


def test_generated_code_does_not_grow_with_the_trip_count():
    sizes = []
    for n in (10, 10_000):
        f = dc.compile(pendulum, backend="python", name=f"pendulum_len{n}")
        g = dc.value_and_grad(f)
        g.specialize(PARAMS, np.zeros(n))
        sizes.append(len(g.source.splitlines()))
    assert sizes[0] == sizes[1]  # the same lines: only the bounds (T, T + 1, tape sizes) differ


def test_fori_loop_with_an_index_and_data():
    def weighted(w, data, idx):
        def body(i, acc):
            return acc + np.tanh(w @ data[idx[i]])

        return dc.fori_loop(0, idx.shape[0], body, 0.0)

    rng = np.random.default_rng(0)
    w, data, idx = rng.normal(size=3), rng.normal(size=(6, 3)), np.array([0, 2, 2, 5, 1])
    f = dc.compile(weighted, backend="python", name="fori_weighted")
    expected = sum(np.tanh(w @ data[i]) for i in idx)
    assert f(w, data, idx) == pytest.approx(expected, rel=1e-14)
    g = dc.grad(f, wrt="w")(w, data, idx)
    np.testing.assert_allclose(g, sum((1 - np.tanh(w @ data[i]) ** 2) * data[i] for i in idx), rtol=1e-13)
    assert dc.fori_loop(1, 4, lambda i, v: v * i, 1.0) == 6.0  # outside tracing: Python


def test_reverse_scan_structured_carry_and_outputs():
    def discounted(rewards, gamma):
        def step(carry, r):
            total = carry["total"] * gamma + r
            return {"total": total, "count": carry["count"] + 1.0}, (total, total**2)

        final, (returns, squares) = dc.scan(step, {"total": 0.0, "count": 0.0}, rewards, reverse=True)
        return np.sum(returns) + 0.1 * np.sum(squares) + final["count"]

    def reference(rewards, gamma):
        total, out = 0.0, []
        for r in rewards[::-1]:
            total = total * gamma + r
            out.append(total)
        out = np.array(out)
        return np.sum(out) + 0.1 * np.sum(out**2) + len(rewards)

    rewards = np.array([1.0, -0.5, 2.0, 0.25])
    f = dc.compile(discounted, backend="python", name="discounted")
    assert f(rewards, 0.9) == pytest.approx(reference(rewards, 0.9), rel=1e-14)
    g = dc.grad(f)(rewards, 0.9)
    h = 1e-6
    fd_gamma = (reference(rewards, 0.9 + h) - reference(rewards, 0.9 - h)) / (2 * h)
    assert g[1] == pytest.approx(fd_gamma, rel=1e-7)
    fd_r = [(reference(rewards + h * e, 0.9) - reference(rewards - h * e, 0.9)) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(g[0], fd_r, rtol=1e-7)


def test_nested_loops_and_scanned_structures():
    def f(a, xs):
        def outer(c, row):
            def inner(d, x):
                return d * a + x, None

            d, _ = dc.scan(inner, c, row["v"])
            return d + row["s"], d

        c, ds = dc.scan(outer, 0.0, {"v": xs, "s": xs[:, 0]})
        return c + np.sum(ds**2)

    def reference(a, xs):
        c, ds = 0.0, []
        for row in xs:
            d = c
            for x in row:
                d = d * a + x
            ds.append(d)
            c = d + row[0]
        return c + np.sum(np.array(ds) ** 2)

    xs = np.arange(12.0).reshape(4, 3) / 10
    g = dc.compile(f, backend="python", name="nested_scan")
    assert g(0.7, xs) == pytest.approx(reference(0.7, xs), rel=1e-14)
    assert dc.check_grad(g, 0.7, xs).ok


def test_scan_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def jpendulum(params, u):
        g, length, damping = params

        def f(s, uk):
            return jnp.stack([s[1], -g / length * jnp.sin(s[0]) - damping * s[1] + uk])

        def step(s, uk):
            k1 = f(s, uk)
            k2 = f(s + 0.5 * DT * k1, uk)
            k3 = f(s + 0.5 * DT * k2, uk)
            k4 = f(s + DT * k3, uk)
            s = s + DT / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            return s, s[0] ** 2

        s_final, running = jax.lax.scan(step, jnp.asarray(START), u)
        return jnp.sum(running) * DT + jnp.sum((s_final - TARGET) ** 2) + 1e-3 * jnp.sum(u**2)

    f = dc.compile(pendulum, backend="python", name="pendulum_jax")
    gp, gu = dc.grad(f)(PARAMS, U)
    jp, ju = jax.grad(jpendulum, argnums=(0, 1))(PARAMS, U)
    np.testing.assert_allclose(gp, np.asarray(jp), rtol=1e-10)
    np.testing.assert_allclose(gu, np.asarray(ju), rtol=1e-10, atol=1e-14)


def test_loop_mistakes_are_explained():
    def bad_structure(x):
        return dc.scan(lambda c, v: ((c, c), None), x, np.ones(3))[0]

    def bad_shape(x):
        return dc.scan(lambda c, v: (np.stack([c, c]), None), x, np.ones(3))[0]

    def writes_outside(x):
        out = np.zeros(3)

        def body(c, i):
            out[0] = c
            return c, None

        dc.scan(body, x, np.ones(3))
        return np.sum(out)

    for fn, message in (
        (bad_structure, "must keep the structure"),
        (bad_shape, "changes the shape of a carry entry"),
        (writes_outside, "made outside the loop"),
    ):
        with pytest.raises(DcompileError, match=message):
            dc.compile(fn, backend="python")(1.0)
    with pytest.raises(TraceError, match=r"must return \(carry, y\)"):
        dc.compile(lambda x: dc.scan(lambda c, v: c, x, np.ones(2))[0], backend="python")(1.0)


def test_while_loop_values_and_bounded_derivatives():
    def newton_sqrt(a):
        return dc.while_loop(lambda x: np.abs(x * x - a) > 1e-12, lambda x: 0.5 * (x + a / x), a)

    def bounded(a):
        return dc.while_loop(lambda x: np.abs(x * x - a) > 1e-12, lambda x: 0.5 * (x + a / x), a, max_steps=40)

    for backend in ("python", "numba"):
        f = dc.compile(newton_sqrt, backend=backend, name=f"newton_sqrt_{backend}")
        assert f(2.0) == pytest.approx(np.sqrt(2.0), rel=1e-14)
    with pytest.raises(DcompileError, match="max_steps"):
        dc.grad(dc.compile(newton_sqrt, backend="python", name="newton_sqrt_grad"))(2.0)
    g = dc.compile(bounded, backend="python", name="newton_bounded")
    assert g(3.0) == pytest.approx(np.sqrt(3.0), rel=1e-14)
    assert dc.grad(g)(3.0)[0] == pytest.approx(0.5 / np.sqrt(3.0), rel=1e-10)
    assert dc.while_loop(lambda v: v < 10, lambda v: v * 2, 1) == 16  # outside tracing: Python


def test_small_array_bodies_are_scalar_code():
    """Bodies on small arrays (matrix products, reductions, stacking, selections) run on scalars:
    no array is allocated per step, and values and gradients match the unrolled loop."""

    def step_fn(s, x, M):
        z = M @ s + np.outer(s, x).sum(axis=1) + np.cumsum(s)[::-1]
        z = np.where(z > 0.0, np.tanh(z), 0.1 * z) + np.concatenate([s[1:], s[:1]])
        return np.maximum(z, -2.0) * 0.5

    def looped(s0, xs, M):
        def step(s, x):
            s = step_fn(s, x, M)
            return s, np.sum(s * s) + (M.T @ s)[0]

        s, ys = dc.scan(step, s0, xs)
        return np.sum(s) + np.sum(ys)

    def unrolled(s0, xs, M):
        s, total = s0, 0.0
        for k in range(xs.shape[0]):
            s = step_fn(s, xs[k], M)
            total = total + np.sum(s * s) + (M.T @ s)[0]
        return np.sum(s) + total

    rng = np.random.default_rng(4)
    s0, xs, M = rng.normal(size=3), rng.normal(size=(12, 3)), rng.normal(size=(3, 3)) * 0.5
    reference = dc.compile(unrolled, backend="python", name="small_unrolled")
    ref_value, ref_grad = dc.value_and_grad(reference)(s0, xs, M)
    for backend in ("python", "numba"):
        f = dc.compile(looped, backend=backend, name=f"small_looped_{backend}")
        value, grad = dc.value_and_grad(f)(s0, xs, M)
        assert value == pytest.approx(ref_value, rel=1e-13)
        for g, r in zip(grad, ref_grad, strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-13)
    source = dc.value_and_grad(f).source
    bodies = source[source.index("\ndef ", source.index("def ") + 1) :]  # the functions after the main one
    assert "_body(" in bodies
    assert "np.empty(" not in bodies and "np.array(" not in bodies and "np.zeros(" not in bodies
