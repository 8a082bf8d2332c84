"""Table-driven tests of array programs.

Each row of ``PROGS`` is a small NumPy function of one or two float arrays
(sometimes with a float scalar or an integer data array beside them) and the
specs of its arguments; the inputs are fixed random draws seeded by the row's
id. For every row the pure-Python backend is checked against

* the plain NumPy function (the value);
* five-point central finite differences of the plain NumPy function: reverse
  mode ``grad`` (scalar results), forward mode ``jvp`` along a random tangent,
  ``vjp`` with a random cotangent, and ``jacobian`` (the rows marked ``jac``);
* finite differences of the compiled gradient: ``hessian`` and ``hvp`` (the
  rows marked ``hess``).

Then come the issue's snippets (Extended Rosenbrock, logistic NLL), shape
specialisation (retracing, kernel reuse, emitted source independent of the
size) and the errors of array programs. The last part compiles a handful of
rows with numba once per module and checks that numba agrees with Python.
"""

# The rows are lambdas on purpose: dc.compile traces a function with named arguments.
# ruff: noqa: PLW0108

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest
from scipy.special import logsumexp as sp_logsumexp

import dcompile as dc
from tests import helpers

H = 1e-4  # five-point stencil step: truncation ~H**4, round-off ~1e-16 / H
FD_RTOL = 1e-7
FD_ATOL = 1e-8  # times the largest entry of the expected result (at least 1)
RTOL = 1e-12  # dcompile vs NumPy, and between derivative modes


# -- argument specs ------------------------------------------------------------------------


@dataclass(frozen=True)
class F:
    """A float array argument (a float scalar for shape ``()``), entries ~ N(0, 1)."""

    shape: tuple[int, ...]
    lo: float | None = None  # uniform(lo, hi) instead of normal
    hi: float | None = None

    def draw(self, rng: np.random.Generator) -> Any:
        a = rng.normal(size=self.shape) if self.lo is None else rng.uniform(self.lo, self.hi, size=self.shape)
        return float(a) if self.shape == () else a


def P(*shape: int) -> F:
    """A positive float array (for log, sqrt, division, powers)."""
    return F(shape, 0.5, 2.0)


def N(*shape: int) -> F:
    return F(shape)


@dataclass(frozen=True)
class Data:
    """A fixed integer or boolean array: an argument that is not differentiated."""

    value: tuple[Any, ...]
    dtype: Any = np.int64

    def draw(self, rng: np.random.Generator) -> Any:
        return np.array(self.value, dtype=self.dtype)


@dataclass(frozen=True)
class Prog:
    id: str
    fn: Callable[..., Any]
    args: Sequence[F | Data]
    hess: bool = False  # check hessian and hvp
    jac: bool = False  # check jacobian (vector results)
    ref: Callable[..., Any] | None = None  # the NumPy reference, where ``fn`` itself is not one


# fmt: off
PROGS: list[Prog] = [
    # elementwise ufuncs, scalar * array, constants
    Prog("unary_chain", lambda x: np.sum(np.exp(np.sin(x)) * np.tanh(x) + np.cos(x) ** 2), [N(5)], hess=True),
    Prog("log_sqrt_pos", lambda x: np.sum(np.log(x) * np.sqrt(x) + 1.0 / x + np.log1p(x) - np.expm1(-x)),
         [P(6)], hess=True),
    Prog("binary_ufuncs", lambda x, y: np.sum(np.arctan2(x, y + 3.0) + np.hypot(x, y) + np.logaddexp(x, 2.0 * y)),
         [P(4), P(4)], hess=True),
    Prog("scalar_arg_times_array", lambda s, x: s * np.sum(np.sin(s * x) ** 2), [N(), N(5)], hess=True),
    Prog("const_scalar_times_array", lambda x: 2.5 * x ** 3 - x / 4.0 + 1.0, [N(4)], jac=True),
    Prog("power_array_exponent", lambda x, y: np.sum(x ** y), [P(4), N(4)]),
    Prog("square_reciprocal", lambda x: np.square(x) + np.reciprocal(x), [P(5)]),
    # broadcasting
    Prog("bcast_col_row", lambda a, b: np.sum(np.sin(a * b) + a ** 2 * b), [N(3, 1), N(1, 4)], hess=True),
    Prog("bcast_col_row_matrix", lambda a, b: a * b + np.tanh(b), [N(3, 1), N(1, 4)]),
    Prog("bcast_vec_matrix", lambda x, m: np.sum(np.tanh(x + m) ** 2), [N(4), N(3, 4)]),
    Prog("bcast_vec_matrix_out", lambda x, m: np.exp(0.5 * (m - x)), [N(4), N(3, 4)]),
    Prog("bcast_3d", lambda a, b: np.sum(np.cos(a * b) * a), [N(2, 1, 3), N(4, 1)]),
    # reductions
    Prog("sum_axis0", lambda m, w: np.sum(np.sum(m ** 2, axis=0) * w), [N(3, 4), N(4)]),
    Prog("sum_axis1_keepdims", lambda m: m / np.sum(m ** 2, axis=1, keepdims=True), [N(3, 4)]),
    Prog("sum_negative_axis_method", lambda m: np.sin(m.sum(axis=-1)), [N(3, 4)], jac=True),
    Prog("mean_axis0", lambda m: np.mean(np.exp(m), axis=0), [N(3, 4)], jac=True),
    Prog("mean_keepdims_center", lambda m: np.sum((m - m.mean(axis=0, keepdims=True)) ** 2), [N(4, 3)], hess=True),
    Prog("mean_all", lambda x: np.mean(x ** 3) + x.mean() ** 2, [N(6)]),
    Prog("prod_all", lambda x: np.prod(x), [N(5)], hess=True),
    Prog("prod_axis1", lambda m: np.prod(m, axis=1), [N(3, 4)], jac=True),
    Prog("max_min_all", lambda x: np.max(x) * np.min(x) + x.max(), [N(6)]),
    Prog("max_axis0_min_axis1", lambda m: np.sum(np.max(m, axis=0) ** 2) + np.sum(m.min(axis=1, keepdims=True) * m),
         [N(3, 4)]),
    Prog("logsumexp_all", lambda x: dc.logsumexp(x), [N(6)], hess=True, ref=lambda x: sp_logsumexp(x)),
    Prog("logsumexp_axis1", lambda m: dc.logsumexp(m, axis=1), [N(3, 4)], jac=True,
         ref=lambda m: sp_logsumexp(m, axis=1)),
    Prog("log_softmax", lambda x: x - dc.logsumexp(x), [N(5)], jac=True, ref=lambda x: x - sp_logsumexp(x)),
    # products
    Prog("dot_1d_1d", lambda x, y: np.dot(x, y) * (x @ np.sin(y)), [N(5), N(5)], hess=True),
    Prog("matvec_2d_1d", lambda m, x: np.tanh(m @ x), [N(3, 4), N(4)], jac=True),
    Prog("vecmat_1d_2d", lambda x, m: np.exp(0.3 * (x @ m)), [N(3), N(3, 4)], jac=True),
    Prog("matmul_2d_2d", lambda a, b: np.sum(np.tanh(a @ b)), [N(2, 3), N(3, 4)]),
    Prog("matmul_2d_2d_out", lambda a, b: a @ b, [N(2, 3), N(3, 4)]),
    Prog("outer", lambda x, y: np.sum(np.sin(np.outer(x, y))), [N(3), N(4)]),
    Prog("norm", lambda x: np.linalg.norm(x) + np.linalg.norm(2.0 * x) ** 3, [N(5)], hess=True),
    # indexing
    Prog("int_index", lambda x, m: x[2] * x[0] + m[1, 2] * x[-1] + np.sum(m[0]), [N(5), N(3, 4)]),
    Prog("slices", lambda x: np.sum((x[1:] - x[:-1]) ** 2 * x[1:]), [N(6)]),
    Prog("slice_diff_out", lambda x: x[1:] - x[:-1] ** 2, [N(6)], jac=True),
    # a slice of a value computed in the same loop (reversal keeps the length), a stored mask
    Prog("reverse_of_computed", lambda x: np.sum(np.sin(x)[::-1] * np.cos(x)), [N(7)], hess=True),
    Prog("mask_reused_reversed",
         lambda x: np.sum(np.where(x > 0.1, x, 0.0)) + np.sum(np.where((x > 0.1)[::-1], x * x, 1.0)), [N(7)]),
    Prog("reverse_full_slice_adjoint", lambda x: np.sum(np.exp(x) * x[::-1]), [N(5)], hess=True),
    Prog("reshape_of_input_and_slice", lambda x, y: np.sum(x.reshape(2, 2) * y) + np.sum(x[1:] ** 2),
         [N(4), N(2, 2)]),
    Prog("slice_step_reverse", lambda x: x[::2] * x[::-1][::2] + x[1::2].sum(), [N(6)]),
    Prog("column_and_ellipsis", lambda m: m[:, 1] * m[..., 0] + m[1, ...].sum(), [N(3, 4)]),
    Prog("newaxis", lambda x, m: np.sum(np.sin(x[None] * m + x[:, None][0])), [N(4), N(3, 4)]),
    Prog("gather_const_repeat", lambda x: x[np.array([0, 2, 2, 4, 0])] ** 2, [N(5)], jac=True),
    Prog("gather_list_repeat", lambda x: x[[0, 2, 2, 4, 0]] ** 2, [N(5)], jac=True),
    Prog("gather_list_axis1", lambda m: np.sum(np.sin(m[:, [3, 0, 0]]) * m[1:][:, [1, 1, 2]].sum(axis=0)), [N(3, 4)],
         hess=True),
    Prog("gather_data", lambda x, idx: np.sum(np.sin(x[idx]) * x[idx]), [N(5), Data((4, 1, 1, 0, 3))]),
    # joining and reshaping
    Prog("concatenate", lambda x, y: np.concatenate([x, y ** 2, x[:2] * y[0]]), [N(3), N(4)], jac=True),
    Prog("concatenate_axis1", lambda a, b: np.sum(np.tanh(np.concatenate([a, b], axis=1)) * 2.0), [N(2, 3), N(2, 2)]),
    Prog("stack_axis0", lambda x, y: np.stack([x, x * y, y]), [N(4), N(4)]),
    Prog("stack_axis1", lambda x, y: np.sum(np.stack([x, y ** 2], axis=1) @ np.array([1.0, -2.0])),
         [N(4), N(4)]),
    Prog("hstack", lambda x, y: np.hstack([np.sin(x), y, x * y[:3]]), [N(3), N(4)], jac=True),
    Prog("reshape_matvec", lambda x, y: np.sum(np.tanh(x.reshape(2, 3) @ y)), [N(6), N(3)]),
    Prog("reshape_tuple", lambda m: np.sum(m.reshape((4, 3)) ** 2 * np.arange(12.0).reshape(4, 3)), [N(3, 4)]),
    Prog("transpose", lambda m, x: m.T @ x + np.transpose(m)[:, 0], [N(3, 4), N(3)], jac=True),
    Prog("transpose_axes", lambda t: np.sum(np.transpose(t, (2, 0, 1)) * np.arange(24.0).reshape(4, 2, 3)),
         [N(2, 3, 4)]),
    Prog("zeros_ones_like", lambda x: np.sum(np.zeros_like(x) + 2.0 * np.ones_like(x) * x ** 2), [N(4)]),
    Prog("tuple_of_scalars", lambda x: (np.sum(x ** 2), np.prod(x), x[0]), [N(4)], jac=True),
    Prog("dc_array", lambda x, y: dc.array([np.dot(x, y), np.sum(np.sin(x)), y[1]]), [N(3), N(3)], jac=True,
         ref=lambda x, y: np.array([np.dot(x, y), np.sum(np.sin(x)), y[1]])),
    # selections (inputs are random, away from the kinks)
    Prog("where", lambda x: np.sum(np.where(x > 0, x ** 2, np.sin(x))), [N(6)]),
    Prog("where_two_arrays", lambda x, y: np.where(x > y, x * y, y - x), [N(5), N(5)]),
    Prog("clip", lambda x: np.sum(np.clip(x, -0.5, 0.5) * x), [N(6)]),
    Prog("maximum_minimum", lambda x, y: np.sum(np.maximum(x, y) * np.minimum(x, 0.3) + np.abs(x) * y),
         [N(5), N(5)]),
]
# fmt: on

BY_ID = {p.id: p for p in PROGS}


def _params(progs: Sequence[Prog]) -> list[Any]:
    return [pytest.param(p.id, id=p.id) for p in progs]


# -- helpers -------------------------------------------------------------------------------


@cache
def inputs(pid: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(zlib.crc32(pid.encode()))
    return tuple(spec.draw(rng) for spec in BY_ID[pid].args)


@cache
def function(pid: str) -> dc.Function:
    return dc.compile(BY_ID[pid].fn, backend="python", name=pid)


def float_positions(pid: str) -> list[int]:
    return [i for i, s in enumerate(BY_ID[pid].args) if isinstance(s, F)]


def numpy_value(pid: str, args: Sequence[Any]) -> np.ndarray:
    prog = BY_ID[pid]
    return np.asarray((prog.ref or prog.fn)(*args), dtype=float)


def is_scalar_result(pid: str) -> bool:
    return numpy_value(pid, inputs(pid)).ndim == 0


def flat(out: Any) -> np.ndarray:
    """A gradient (one array, or a tuple of one per argument) as one flat vector."""
    if isinstance(out, tuple):
        return np.concatenate([flat(o) for o in out])
    return np.ravel(np.asarray(out, dtype=float))


def flat_inputs(pid: str) -> np.ndarray:
    args = inputs(pid)
    return flat(tuple(args[i] for i in float_positions(pid)))


def unflatten(pid: str, z: np.ndarray) -> list[Any]:
    """The arguments with the float ones taken from the flat vector ``z``."""
    args = list(inputs(pid))
    k = 0
    for i in float_positions(pid):
        shape = np.shape(args[i])
        size = int(np.prod(shape))
        piece = z[k : k + size]
        args[i] = float(piece[0]) if shape == () else piece.reshape(shape).copy()
        k += size
    return args


def split_like(pid: str, z: np.ndarray) -> tuple[Any, ...]:
    """A flat vector as one entry per float argument (a direction for jvp/hvp)."""
    args = unflatten(pid, z)
    return tuple(args[i] for i in float_positions(pid))


def direction_arg(pid: str, z: np.ndarray) -> Any:
    entries = split_like(pid, z)
    return entries[0] if len(entries) == 1 else entries


def fd_jacobian(g: Callable[[np.ndarray], np.ndarray], z: np.ndarray) -> np.ndarray:
    """Columns: the derivative of ``g`` along each unit vector; shape (m, n)."""
    return helpers.fd_gradient(lambda w: np.ravel(g(w)), z, H).T


close_fd = functools.partial(helpers.close, rtol=FD_RTOL, atol=FD_ATOL)
close = functools.partial(helpers.close, rtol=RTOL)


def g_numpy(pid: str) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: numpy_value(pid, unflatten(pid, z))


def check_grad_shapes(pid: str, grad: Any) -> None:
    """One float argument: an array shaped like it; several: a tuple, one entry per argument."""
    args = inputs(pid)
    floats = [args[i] for i in float_positions(pid)]
    if len(floats) == 1:
        assert isinstance(grad, np.ndarray)
        assert grad.shape == np.shape(floats[0])
    else:
        assert isinstance(grad, tuple) and len(grad) == len(floats)
        for g, a in zip(grad, floats, strict=True):
            assert np.shape(g) == np.shape(a)


def rand(pid: str, salt: int, shape: Any) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(pid.encode()) + salt).normal(size=shape)


SCALAR_PROGS = [p for p in PROGS if is_scalar_result(p.id)]
VECTOR_PROGS = [p for p in PROGS if not is_scalar_result(p.id)]


def test_table_covers_both_kinds_of_result() -> None:
    assert len(SCALAR_PROGS) >= 25 and len(VECTOR_PROGS) >= 15
    assert sum(p.hess for p in PROGS) >= 10


# -- the table -------------------------------------------------------------------------------


@pytest.mark.parametrize("pid", _params(PROGS))
def test_value_matches_numpy(pid: str) -> None:
    args = inputs(pid)
    got = function(pid)(*args)
    expected = numpy_value(pid, args)
    close(got, expected, "value")
    assert np.shape(got) == expected.shape


@pytest.mark.parametrize("pid", _params(SCALAR_PROGS))
def test_grad_matches_finite_differences(pid: str) -> None:
    f, args = function(pid), inputs(pid)
    grad = dc.grad(f)(*args)
    check_grad_shapes(pid, grad)
    close_fd(flat(grad), fd_jacobian(g_numpy(pid), flat_inputs(pid))[0], "grad vs FD")
    value, grad2 = dc.value_and_grad(f)(*args)
    close(value, numpy_value(pid, args), "value_and_grad value")
    close(flat(grad2), flat(grad), "value_and_grad grad")


@pytest.mark.parametrize("pid", _params(PROGS))
def test_jvp_matches_finite_differences(pid: str) -> None:
    f, args = function(pid), inputs(pid)
    z = flat_inputs(pid)
    v = rand(pid, 1, z.size)
    value, tangent = dc.jvp(f)(args, direction_arg(pid, v))
    close(value, numpy_value(pid, args), "jvp value")
    close_fd(tangent, helpers.fd_along(g_numpy(pid), z, v, H), "jvp vs FD")


@pytest.mark.parametrize("pid", _params(PROGS))
def test_vjp_matches_finite_differences(pid: str) -> None:
    f, args = function(pid), inputs(pid)
    out = numpy_value(pid, args)
    ct = rand(pid, 2, out.shape)
    ct_arg = float(ct) if out.ndim == 0 else ct
    value, pulled = dc.vjp(f)(args, ct_arg)
    close(value, out, "vjp value")
    check_grad_shapes(pid, pulled)
    g = g_numpy(pid)
    expected = fd_jacobian(lambda z: np.sum(ct * g(z)), flat_inputs(pid))[0]
    close_fd(flat(pulled), expected, "vjp vs FD of ct . f")


@pytest.mark.parametrize("pid", _params([p for p in PROGS if p.jac]))
def test_jacobian_matches_finite_differences(pid: str) -> None:
    f, args = function(pid), inputs(pid)
    jac = dc.jacobian(f)(*args)
    z = flat_inputs(pid)
    expected = fd_jacobian(g_numpy(pid), z)
    assert jac.shape == (numpy_value(pid, args).size, z.size)
    close_fd(jac, expected, "jacobian vs FD")


@pytest.mark.parametrize("pid", _params([p for p in PROGS if p.hess]))
def test_hessian_and_hvp_match_finite_differences_of_grad(pid: str) -> None:
    f, args = function(pid), inputs(pid)
    z = flat_inputs(pid)
    g = dc.grad(f)
    expected = fd_jacobian(lambda w: flat(g(*unflatten(pid, w))), z)
    hess = dc.hessian(f)(*args)
    assert hess.shape == (z.size, z.size)
    close_fd(hess, expected, "hessian vs FD of grad")
    close(hess, hess.T, "hessian symmetric", rtol=1e-10)
    v = rand(pid, 3, z.size)
    hv = dc.hvp(f)(args, direction_arg(pid, v))
    check_grad_shapes(pid, hv)
    close(flat(hv), hess @ v, "hvp vs hessian @ v", rtol=1e-10)


# -- the snippets ------------------------------------------------------------------


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_grad_exact(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def rosen_hess_exact(x: np.ndarray) -> np.ndarray:
    n = x.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i + 1, i + 1] += 200.0
        h[i, i + 1] = h[i + 1, i] = -400.0 * x[i]
    return h


@pytest.fixture(scope="module")
def frosen() -> dc.Function:
    return dc.compile(rosen, backend="python")


def test_rosenbrock_grad_value_and_grad_hvp_hessian(frosen: dc.Function) -> None:
    x = np.random.default_rng(0).uniform(-1.5, 1.5, size=10)
    close(frosen(x), rosen(x))
    g = dc.grad(frosen)(x)
    close(g, rosen_grad_exact(x), "grad")
    value, g2 = dc.value_and_grad(frosen)(x)
    close(value, rosen(x))
    close(g2, g)
    hess = dc.hessian(frosen)(x)
    close(hess, rosen_hess_exact(x), "hessian")
    v = np.random.default_rng(1).normal(size=10)
    close(dc.hvp(frosen)((x,), v), rosen_hess_exact(x) @ v, "hvp")
    # the minimum
    ones = np.ones(10)
    close(dc.grad(frosen)(ones), np.zeros(10))


def test_rosenbrock_source_does_not_grow_with_n(frosen: dc.Function) -> None:
    d = dc.grad(frosen)
    small = d.specialize(np.zeros(10)).source
    large = d.specialize(np.zeros(1000)).source
    assert len(small.splitlines()) == len(large.splitlines())
    assert "(10,)" in small and "(1000,)" in large
    # n and n - 1 are the only numbers that differ
    assert re.sub(r"\b999\b", "9", re.sub(r"\b1000\b", "10", large)) == small
    close(dc.grad(frosen)(np.full(1000, 0.5)), rosen_grad_exact(np.full(1000, 0.5)))


def test_new_shape_retraces_same_shape_reuses_kernel() -> None:
    f = dc.compile(rosen, backend="python")
    d = dc.grad(f)
    x5, x7 = np.linspace(-1, 1, 5), np.linspace(-1, 1, 7)
    close(d(x5), rosen_grad_exact(x5))
    k5 = d.kernel
    close(d(x7), rosen_grad_exact(x7))
    k7 = d.kernel
    assert k7 is not k5
    assert d(x7 + 0.1).shape == (7,)
    assert d.kernel is k7
    close(d(x5 * 0.5), rosen_grad_exact(x5 * 0.5))
    assert d.kernel is k5
    assert f(x5) == pytest.approx(rosen(x5)) and f(x7) == pytest.approx(rosen(x7))


def nll(w, X, y):
    return np.sum(np.logaddexp(0.0, -y * (X @ w)))


def nll_grad_exact(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    m = -y * (X @ w)
    return X.T @ (-y / (1.0 + np.exp(-m)))


@pytest.mark.parametrize("ydtype", [np.float64, np.int64])
def test_logistic_nll(ydtype: Any) -> None:
    rng = np.random.default_rng(5)
    w, X = rng.normal(size=4), rng.normal(size=(20, 4))
    y = rng.choice([-1, 1], size=20).astype(ydtype)
    f = dc.compile(nll, backend="python")
    close(f(w, X, y), nll(w, X, y))
    g = dc.grad(f, wrt="w")(w, X, y)
    assert g.shape == (4,)
    close(g, nll_grad_exact(w, X, y), "grad wrt w")
    close(dc.grad(f, wrt=0)(w, X, y), g)
    if ydtype is np.int64:  # wrt=None: every float argument, the int labels are data
        gw, gX = dc.grad(f)(w, X, y)
        close(gw, g)
        assert gX.shape == X.shape


def test_dc_array_outside_tracing_is_np_array() -> None:
    np.testing.assert_array_equal(dc.array([1.0, 2.0]), np.array([1.0, 2.0]))


def test_dc_logsumexp_outside_tracing_reduces() -> None:
    m = np.arange(6.0).reshape(2, 3)
    close(dc.logsumexp(m), sp_logsumexp(m))
    close(dc.logsumexp(m, axis=1), sp_logsumexp(m, axis=1))


def test_scalar_argument_chain_broadcast_into_array() -> None:
    """The gradient kernel reads dy's partial adjoint before the loop that accumulates it."""
    f = dc.compile(lambda x, y: np.sum(x * (1.0 + y**2)), backend="python", name="scalar_chain")
    x, y = np.array([0.3, 0.9]), 0.4
    gx, gy = dc.grad(f)(x, y)
    close(gx, np.full(2, 1.0 + y**2))
    close(gy, 2.0 * y * np.sum(x))


def test_traced_logsumexp_does_not_overflow() -> None:
    f = dc.compile(lambda x: dc.logsumexp(x), backend="python")
    x = np.array([1000.0, 1001.0, -5.0])
    close(f(x), sp_logsumexp(x))
    close(dc.grad(f)(x), np.exp(x - sp_logsumexp(x)))


# -- errors --------------------------------------------------------------------------------


def test_grad_wrt_int_array_raises_signature_error() -> None:
    f = dc.compile(nll, backend="python")
    rng = np.random.default_rng(5)
    w, X, y = rng.normal(size=3), rng.normal(size=(6, 3)), np.array([1, -1, 1, 1, -1, 1])
    with pytest.raises(dc.SignatureError, match=r"(?s)\by\b.*(int|integer)"):
        dc.grad(f, wrt="y")(w, X, y)


def test_shape_mismatch_raises_trace_error_naming_shapes() -> None:
    f = dc.compile(lambda x, y: np.sum(x + y), backend="python")
    with pytest.raises(dc.TraceError, match=r"(?s)\(3,\).*\(4,\)"):
        f(np.ones(3), np.ones(4))


def test_boolean_mask_indexing_suggests_where() -> None:
    f = dc.compile(lambda x: np.sum(x[x > 0]), backend="python")
    with pytest.raises(dc.UnsupportedError, match="where"):
        f(np.ones(3))


@pytest.mark.numba
def test_njit_called_with_wrong_shape_raises_value_error() -> None:
    f = dc.compile(rosen, backend="numba", name="rosen_shape_guard")
    d = dc.grad(f)
    close(d(np.full(5, 0.5)), rosen_grad_exact(np.full(5, 0.5)))
    with pytest.raises(ValueError, match=r"\(5,\)"):
        d.njit(np.ones(6))


# -- numba agrees with the Python backend ----------------------------------------------------

NUMBA_IDS = [
    "unary_chain",
    "bcast_col_row",
    "mean_keepdims_center",
    "logsumexp_axis1",
    "matvec_2d_1d",
    "gather_list_repeat",
    "concatenate",
    "scalar_arg_times_array",
    "slice_diff_out",
    "norm",
]


@pytest.fixture(scope="module")
def numba_pairs() -> dict[str, tuple[dc.Function, dc.Function]]:
    """(python, numba) functions; each numba kernel compiles once, on first use."""
    return {pid: (function(pid), function(pid).with_backend("numba")) for pid in NUMBA_IDS}


def _numba_call(f: dc.Function, pid: str, mode: str) -> Any:
    args = inputs(pid)
    if mode == "jacobian" or (mode == "grad" and not is_scalar_result(pid)):
        return dc.jacobian(f)(*args)
    if mode == "hessian" and not is_scalar_result(pid):
        out = numpy_value(pid, args)
        return dc.vjp(f)(args, rand(pid, 2, out.shape))
    return getattr(dc, mode)(f)(*args)


@pytest.mark.numba
@pytest.mark.parametrize("mode", ["f", "grad", "hessian", "jacobian"])
@pytest.mark.parametrize("pid", NUMBA_IDS)
def test_numba_matches_python(numba_pairs: dict[str, tuple[dc.Function, dc.Function]], pid: str, mode: str) -> None:
    py, nb = numba_pairs[pid]
    assert nb.backend == "numba"
    if mode == "f":
        expected, got = py(*inputs(pid)), nb(*inputs(pid))
    else:
        expected, got = _numba_call(py, pid, mode), _numba_call(nb, pid, mode)
    e, g = flat(expected), flat(got)
    assert e.shape == g.shape
    assert np.all(np.isfinite(e))
    close(g, e, f"{pid} {mode}", rtol=1e-12)


def rosen_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba)])
def test_gradient_into_a_buffer_for_array_arguments(backend):
    f = dc.compile(rosen_np, backend=backend, name="rosen_into")
    x = np.linspace(-1.0, 1.5, 9)
    vg = dc.value_and_grad(f)
    value, grad = vg(x)
    out = np.full(9, np.nan)
    assert vg.into(out, x) == value
    np.testing.assert_array_equal(out, grad)
    with pytest.raises(dc.SignatureError, match=r"shape \(9,\)"):
        vg.into(np.zeros(8), x)
    if backend == "numba":
        import numba

        step = vg.njit_into

        @numba.njit
        def descend(x, n):
            g = np.empty_like(x)
            for _ in range(n):
                step(g, x)
                x = x - 1e-4 * g
            return x

        x1 = descend(x.copy(), 3)
        expected = x.copy()
        for _ in range(3):
            expected = expected - 1e-4 * vg(expected)[1]
        np.testing.assert_allclose(x1, expected, rtol=1e-12)


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba)])
def test_arguments_are_never_written_to(backend):
    f = dc.compile(lambda x, y: np.sum(x.reshape(2, 2) * y) + np.sum(x[1:] ** 2), backend=backend, name="no_alias")
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.ones((2, 2))
    first = dc.grad(f, wrt=0)(x, y)
    np.testing.assert_array_equal(y, np.ones((2, 2)))
    np.testing.assert_array_equal(dc.grad(f, wrt=0)(x, y), first)
    g = dc.compile(lambda x: x.reshape(4) + np.sum(x[0]), backend=backend, name="no_alias_vjp")
    ct = np.ones(4)
    dc.vjp(g)((np.arange(4.0).reshape(2, 2),), ct)
    np.testing.assert_array_equal(ct, np.ones(4))
    out = g(np.arange(4.0).reshape(2, 2))
    x2 = np.arange(4.0).reshape(2, 2)
    out2 = dc.compile(lambda x: x.reshape(4), backend=backend, name="no_alias_return")(x2)
    out2[0] = 123.0
    assert x2[0, 0] == 0.0 and out.shape == (4,)


def test_scalar_call_then_array_call_on_python_backend():
    f = dc.compile(lambda x: np.sum(x**2), backend="python", name="scalar_then_array")
    assert f(2.0) == 4.0
    assert f(np.arange(3.0)) == 5.0
    g = dc.grad(f)
    g(2.0)
    np.testing.assert_array_equal(g(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_prod_derivatives_at_zero_entries():
    f = dc.compile(lambda x: np.prod(x), backend="python", name="prod_zero")
    for x, grad, hess in [
        ([0.0, 2.0, 3.0], [6.0, 0.0, 0.0], [[0, 3, 2], [3, 0, 0], [2, 0, 0]]),
        ([1.0, 2.0, 3.0], [6.0, 3.0, 2.0], [[0, 3, 2], [3, 0, 1], [2, 1, 0]]),
        ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0], None),  # second derivatives with two zeros: documented limit
    ]:
        _, g = dc.value_and_grad(f)(np.array(x))
        np.testing.assert_array_equal(g, grad)
        if hess is not None:
            np.testing.assert_array_equal(dc.hessian(f)(np.array(x)), hess)
