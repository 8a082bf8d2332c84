"""Every NumPy/SciPy function of the coverage issue, traced and differentiated against oracles.

Each row is a function of float arguments drawn in the row's domain. On the
pure-Python backend every row is checked against the plain NumPy/SciPy
function (the value) and, per its ``order``, against five-point central
finite differences along a random direction: reverse mode (``grad . v``),
forward mode (``jvp``) and, at order 2, the Hessian-vector product against
finite differences of the compiled gradient. A last test checks that the
table covers every spelling the issue names, so a function cannot be listed
as supported without a row. A handful of multi-function programs are then
compiled with numba once per module and compared with the Python backend.
"""

# Rows are lambdas (dc.compile traces functions with named arguments) in a table of long lines.
# ruff: noqa: E501

from __future__ import annotations

import functools
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.special as sc
import scipy.stats as st

import dcompile as dc
from dcompile.primitives import spellings
from tests import helpers

H = 1e-4
FD_RTOL = 2e-7


@dataclass(frozen=True)
class Arg:
    """A float argument: normal, uniform in ``(lo, hi)``, or an SPD matrix."""

    shape: tuple[int, ...]
    lo: float | None = None
    hi: float | None = None
    spd: bool = False

    def draw(self, rng: np.random.Generator) -> Any:
        if self.spd:
            n = self.shape[-1]
            m = rng.normal(size=self.shape)
            return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)
        a = rng.normal(size=self.shape) if self.lo is None else rng.uniform(self.lo, self.hi, size=self.shape)
        return float(a) if self.shape == () else a


def R(*shape: int) -> Arg:
    return Arg(shape)


def U(lo: float, hi: float, *shape: int) -> Arg:
    return Arg(shape, lo, hi)


def SPD(*shape: int) -> Arg:
    return Arg(shape, spd=True)


@dataclass(frozen=True)
class Row:
    id: str
    fn: Callable[..., Any]
    args: Sequence[Arg]
    order: int = 2  # 0: value only (integer/boolean results), 1: + grad and jvp, 2: + hvp
    covers: tuple[str, ...] = ()  # the spellings this row exercises


def W(x: Any) -> Any:
    """A scalar from any result: a fixed weighted sum (no symmetric cancellation)."""
    x = np.asarray(x) if not hasattr(x, "shape") else x
    weights = np.cos(np.arange(1, int(np.prod(x.shape)) + 1, dtype=float)).reshape(x.shape) if x.shape else 1.0
    return np.sum(x * weights)


# fmt: off
ROWS: list[Row] = [
    # -- elementwise --------------------------------------------------------------------------------
    Row("arcsinh", lambda x: W(np.arcsinh(x)), [R(4)], covers=("numpy.arcsinh",)),
    Row("arccosh", lambda x: W(np.arccosh(x)), [U(1.2, 3.0, 4)], covers=("numpy.arccosh",)),
    Row("arctanh", lambda x: W(np.arctanh(x)), [U(-0.8, 0.8, 4)], covers=("numpy.arctanh",)),
    Row("exp2_cbrt", lambda x: W(np.exp2(x) + np.cbrt(x)), [U(0.3, 2.0, 4)], covers=("numpy.exp2", "numpy.cbrt")),
    Row("deg_rad", lambda x: W(np.sin(np.deg2rad(x)) + np.rad2deg(x) + np.degrees(x) + np.cos(np.radians(x))),
        [R(4)], covers=("numpy.deg2rad", "numpy.rad2deg", "numpy.degrees", "numpy.radians")),
    Row("sinc", lambda x: W(np.sinc(x)), [U(-2.0, 2.0, 6)], covers=("numpy.sinc",)),
    Row("sinc_near_zero", lambda x: W(np.sinc(1e-3 * x)), [R(5)]),
    Row("fmax_fmin", lambda x, y: W(np.fmax(x, y) * np.fmin(x, 0.2)), [R(5), R(5)], covers=("numpy.fmax", "numpy.fmin")),
    Row("copysign", lambda x, y: W(np.copysign(x, y) * x), [R(5), R(5)], covers=("numpy.copysign",)),
    Row("heaviside", lambda x, y: W(np.heaviside(x, 0.5) * y), [R(5), R(5)], covers=("numpy.heaviside",)),
    Row("logaddexp2", lambda x, y: W(np.logaddexp2(x, y)), [R(4), R(4)], covers=("numpy.logaddexp2",)),
    Row("float_power", lambda x, y: W(np.float_power(x, y)), [U(0.5, 2.0, 4), R(4)], covers=("numpy.float_power",)),
    Row("nan_to_num", lambda x: W(np.nan_to_num(x / (x > -0.5)) ** 2), [R(6)], covers=("numpy.nan_to_num",)),
    Row("rounding", lambda x: W((np.floor(x) + np.ceil(x) + np.round(x) + np.rint(x) + np.trunc(x) + np.fix(x)) * x
                                + np.around(x, 1)),
        [U(-3.0, 3.0, 6)],
        covers=("numpy.floor", "numpy.ceil", "numpy.round", "numpy.rint", "numpy.trunc", "numpy.fix", "numpy.around")),
    Row("mod", lambda x, y: W(np.mod(x, 0.7) + np.remainder(x, y) + np.fmod(x, y) + x % 0.3 + 0.5 % y),
        [U(0.1, 3.0, 5), U(0.5, 1.5, 5)], covers=("numpy.mod", "numpy.remainder", "numpy.fmod")),
    Row("floor_divide", lambda x, y: W((x // y) * x + np.floor_divide(x, 0.4)), [U(0.1, 3.0, 5), U(0.5, 1.5, 5)],
        covers=("numpy.floor_divide",)),
    Row("predicates", lambda x: W(np.where(np.isfinite(x) & ~np.isnan(x) & ~np.isinf(x), x ** 2, 0.0)), [R(5)],
        covers=("numpy.isfinite", "numpy.isnan", "numpy.isinf")),
    Row("math_special", lambda x, y: math.lgamma(x) + math.erf(y) + math.erfc(y) * math.gamma(x), [U(0.5, 3.0), R()],
        covers=("math.lgamma", "math.erf", "math.erfc", "math.gamma")),
    Row("math_misc", lambda x, y: math.asinh(x) + math.atanh(y / 3) + math.cbrt(x + 3) + math.log(x + 3, 2.0) * math.fsum([x, y]),
        [R(), R()], covers=("math.asinh", "math.atanh", "math.fsum")),
    # -- scipy.special ---------------------------------------------------------------------------------
    Row("gammaln_digamma", lambda x: W(sc.gammaln(x) + sc.digamma(x) + sc.psi(x) * 0.5), [U(0.3, 5.0, 5)],
        covers=("scipy.special.gammaln", "scipy.special.digamma", "scipy.special.psi")),
    Row("polygamma", lambda x: W(sc.polygamma(1, x) + sc.polygamma(2, x) + sc.polygamma(0, x)), [U(0.5, 5.0, 4)],
        covers=("scipy.special.polygamma",)),
    Row("gamma", lambda x: W(sc.gamma(x)), [U(0.5, 4.0, 4)], covers=("scipy.special.gamma",)),
    Row("erf_family", lambda x: W(sc.erf(x) + sc.erfc(x) + sc.erfcx(x)), [R(5)],
        covers=("scipy.special.erf", "scipy.special.erfc", "scipy.special.erfcx")),
    Row("erfinv", lambda x: W(sc.erfinv(x) + sc.erfcinv(x + 1.0)), [U(-0.8, 0.8, 4)],
        covers=("scipy.special.erfinv", "scipy.special.erfcinv")),
    Row("expit_logit", lambda x: W(sc.expit(x) + sc.log_expit(x) + sc.logit(sc.expit(0.5 * x))), [R(5)],
        covers=("scipy.special.expit", "scipy.special.logit", "scipy.special.log_expit")),
    Row("xlogy", lambda x, y: W(sc.xlogy(x, y) + sc.xlog1py(x, y)), [U(0.1, 2.0, 4), U(0.2, 2.0, 4)],
        covers=("scipy.special.xlogy", "scipy.special.xlog1py")),
    Row("normal_cdf", lambda x: W(sc.ndtr(x) + sc.log_ndtr(x) + sc.log_ndtr(x - 30.0) + sc.ndtri(sc.ndtr(0.3 * x))),
        [R(5)], covers=("scipy.special.ndtr", "scipy.special.log_ndtr", "scipy.special.ndtri")),
    Row("betaln", lambda a, b: W(sc.betaln(a, b) + sc.beta(a, 1.5)), [U(0.5, 3.0, 4), U(0.5, 3.0, 4)],
        covers=("scipy.special.betaln", "scipy.special.beta")),
    Row("entropy", lambda x, y: W(sc.entr(x) + sc.rel_entr(x, y) + sc.kl_div(x, y)), [U(0.2, 2.0, 4), U(0.2, 2.0, 4)],
        covers=("scipy.special.entr", "scipy.special.rel_entr", "scipy.special.kl_div")),
    Row("logsumexp_softmax", lambda x: W(sc.logsumexp(x, axis=1)) + W(sc.softmax(x, axis=0)) + W(sc.log_softmax(x))
        + sc.logsumexp(x, b=np.arange(1.0, 13.0).reshape(3, 4)),
        [R(3, 4)], covers=("scipy.special.logsumexp", "scipy.special.softmax", "scipy.special.log_softmax")),
    Row("multigammaln", lambda a: sc.multigammaln(a, 3), [U(2.0, 5.0)], covers=("scipy.special.multigammaln",)),
    # -- reductions and scans ------------------------------------------------------------------------------
    Row("var_std", lambda x: np.var(x) + np.std(x, ddof=1) + W(np.var(x, axis=0)) + W(x.std(axis=1, keepdims=True)),
        [R(3, 4)], covers=("numpy.var", "numpy.std", "numpy.ndarray.var", "numpy.ndarray.std")),
    Row("cumsum_cumprod", lambda x: W(np.cumsum(x)) + W(np.cumsum(x, axis=0)) + W(np.cumprod(x, axis=1))
        + W(x.cumsum(axis=1)) + W(x.cumprod()), [U(0.5, 1.5, 3, 4)],
        covers=("numpy.cumsum", "numpy.cumprod", "numpy.ndarray.cumsum", "numpy.ndarray.cumprod")),
    Row("cumprod_zero", lambda x: W(np.cumprod(x * np.array([1.0, 0.0, 1.0, 1.0, 0.0]))), [R(5)]),
    Row("average", lambda x, w: np.average(x, weights=w) + W(np.average(x.reshape(2, 3), axis=1, weights=w[:3])),
        [R(6), U(0.5, 2.0, 6)], covers=("numpy.average",)),
    Row("logsumexp_axis", lambda x: W(dc.logsumexp(x, axis=0)), [R(3, 4)]),
    Row("sort", lambda x: W(np.sort(x)) + W(np.sort(x.reshape(2, 3), axis=0)) + W(np.sort(x, axis=None)), [R(6)],
        covers=("numpy.sort",)),
    Row("median_quantile", lambda x: np.median(x) + W(np.quantile(x, [0.1, 0.75])) + np.percentile(x, 30.0)
        + W(np.median(x.reshape(2, 4), axis=1)), [R(8)],
        covers=("numpy.median", "numpy.quantile", "numpy.percentile")),
    Row("arg_and_counts", lambda x: x[np.argmax(x)] * x[np.argmin(x)] + np.count_nonzero(x > 0) * np.sum(x)
        + np.any(x > 3.0) + np.all(x > -9.0) + W(x.reshape(2, 3)[:, 0] * np.argmax(x.reshape(2, 3), axis=1)),
        [R(6)], covers=("numpy.argmax", "numpy.argmin", "numpy.count_nonzero", "numpy.any", "numpy.all")),
    Row("argsort", lambda x: W(x[np.argsort(x)] * np.arange(6.0)), [R(6)], covers=("numpy.argsort",)),
    Row("ptp", lambda x: np.ptp(x) + W(np.ptp(x.reshape(2, 3), axis=1)), [R(6)], covers=("numpy.ptp",)),
    Row("nan_reductions", lambda x: np.nansum(x) + np.nanmean(x) + np.nanmax(x) + np.nanmin(x) + np.nanvar(x) + np.nanstd(x),
        [R(5)], covers=("numpy.nansum", "numpy.nanmean", "numpy.nanmax", "numpy.nanmin", "numpy.nanvar", "numpy.nanstd")),
    # -- shapes and indexing ---------------------------------------------------------------------------------
    Row("tril_triu", lambda m: W(np.tril(m) + np.triu(m, 1) * 2 + np.tril(m, -1)), [R(3, 4)],
        covers=("numpy.tril", "numpy.triu")),
    Row("diag", lambda m, v: W(np.diag(m)) + W(np.diag(v, 1)) + W(np.diagonal(m, 1)) + np.trace(m, offset=-1)
        + W(np.diagflat(v)), [R(3, 4), R(3)], covers=("numpy.diag", "numpy.diagonal", "numpy.trace", "numpy.diagflat")),
    Row("repeat_tile", lambda x: W(np.repeat(x, 2)) + W(np.repeat(x.reshape(2, 2), [1, 3], axis=0)) + W(np.tile(x, 3))
        + W(np.tile(x.reshape(2, 2), (2, 1))), [R(4)], covers=("numpy.repeat", "numpy.tile")),
    Row("roll_flip", lambda x: W(np.roll(x, 2) * np.flip(x) + np.fliplr(x.reshape(2, 3)).ravel()
                                 + np.flipud(x.reshape(3, 2)).ravel() + np.roll(x.reshape(2, 3), -1, axis=1).ravel()),
        [R(6)], covers=("numpy.roll", "numpy.flip", "numpy.fliplr", "numpy.flipud")),
    Row("axes", lambda t: W(np.swapaxes(t, 0, 2)) + W(np.moveaxis(t, 0, -1)) + W(np.rot90(t[0])) + W(np.rot90(t[1], 3)),
        [R(2, 3, 3)], covers=("numpy.swapaxes", "numpy.moveaxis", "numpy.rot90")),
    Row("pad", lambda m: W(np.pad(m, 1)) + W(np.pad(m, ((0, 1), (2, 0)), constant_values=3.0)) + W(np.pad(m, 2, mode="edge"))
        + W(np.pad(m, 1, mode="reflect")), [R(3, 3)], covers=("numpy.pad",)),
    Row("split", lambda x: sum(W(p * (k + 1)) for k, p in enumerate(np.split(x, 3)))
        + sum(W(p) for p in np.array_split(x, 4)) + sum(W(p) for p in np.hsplit(x, [2]))
        + sum(W(p) for p in np.vsplit(x.reshape(2, 3), 2)), [R(6)],
        covers=("numpy.split", "numpy.array_split", "numpy.hsplit", "numpy.vsplit")),
    Row("append_stack", lambda x, y: W(np.append(x, y)) + W(np.column_stack([x, y[:3]])) + W(np.atleast_2d(x))
        + W(np.atleast_1d(y[0])) + W(np.append(x.reshape(1, 3), y[:3].reshape(1, 3), axis=0)),
        [R(3), R(4)], covers=("numpy.append", "numpy.column_stack", "numpy.atleast_1d", "numpy.atleast_2d")),
    Row("take", lambda x: W(np.take(x, [3, 0, 0])) + W(np.take(x.reshape(2, 3), [2, 0], axis=1))
        + W(np.take_along_axis(x.reshape(2, 3), np.array([[2, 0], [1, 1]]), axis=1)), [R(6)],
        covers=("numpy.take", "numpy.take_along_axis")),
    Row("r_c", lambda x, y: W(np.r_[x, y, 1.0]) + W(np.c_[x, y[:3]]), [R(3), R(4)]),
    Row("shape_queries", lambda x: np.sum(x) * np.ndim(x) + np.size(x) + np.shape(x)[0] * x.size, [R(2, 3)],
        covers=("numpy.ndim", "numpy.shape", "numpy.size")),
    Row("astype_array", lambda x, y: W(x.astype(float) * np.array([x[0], y, 2.0]) + np.asarray([y, y, x[1]])),
        [R(3), R()], covers=("numpy.ndarray.astype", "numpy.array", "numpy.asarray")),
    Row("static_mask", lambda x: W(x[np.arange(6) % 2 == 0]) + W(x[np.array([True, False, True, True, False, False])]),
        [R(6)]),
    Row("matmul_stack", lambda a, b: W(a @ b) + W(np.matmul(a, b[0])) + W(np.dot(a[0], b[1])), [R(2, 3, 4), R(2, 4, 2)]),
    Row("einsum", lambda a, b, v: W(np.einsum("ij,jk->ik", a, b)) + np.einsum("ij,j,ij->", a, v, a)
        + W(np.einsum("ii->i", a[:, :3])) + W(np.einsum("...j,j->...", a, v)), [R(3, 4), R(4, 2), R(4)],
        covers=("numpy.einsum",)),
    Row("tensordot_inner", lambda a, b: W(np.tensordot(a, b, axes=([1], [0]))) + W(np.inner(a, a)) + np.tensordot(a, a),
        [R(3, 4), R(4, 2)], covers=("numpy.tensordot", "numpy.inner")),
    Row("kron_cross", lambda a, u, v: W(np.kron(a, a[:2, :2])) + W(np.cross(u, v)) + W(np.kron(u, v)), [R(2, 3), R(3), R(3)],
        covers=("numpy.kron", "numpy.cross")),
    Row("diff_interp_polyval", lambda x: W(np.diff(x)) + W(np.diff(x, n=2)) + W(np.polyval([1.0, -2.0, 0.5], x))
        + W(np.interp(x, [-1.0, 0.0, 2.0], [0.0, 1.0, -1.0])) + np.trapezoid(x) + W(np.convolve(x, [1.0, 0.5, -0.25])),
        [R(6)], covers=("numpy.diff", "numpy.polyval", "numpy.interp", "numpy.convolve")),
    # -- linear algebra -----------------------------------------------------------------------------------------
    Row("cholesky", lambda a: W(np.linalg.cholesky(a)), [SPD(4, 4)], covers=("numpy.linalg.cholesky",)),
    Row("solve", lambda a, b: W(np.linalg.solve(a, b)) + W(np.linalg.solve(a, np.outer(b, b[:2]))), [R(4, 4), R(4)],
        covers=("numpy.linalg.solve",)),
    Row("inv_det", lambda a: W(np.linalg.inv(a)) + np.linalg.det(a) + np.linalg.slogdet(a)[1], [SPD(3, 3)],
        covers=("numpy.linalg.inv", "numpy.linalg.det", "numpy.linalg.slogdet")),
    Row("eigh", lambda a: W(np.linalg.eigh(a)[0]) + W(np.abs(np.linalg.eigh(a)[1])) + W(np.linalg.eigvalsh(a)),
        [SPD(4, 4)], covers=("numpy.linalg.eigh", "numpy.linalg.eigvalsh")),
    Row("svd", lambda a: W(np.linalg.svd(a, compute_uv=False)) + W(np.abs(np.linalg.svd(a, full_matrices=False)[0])),
        [R(5, 3)], covers=("numpy.linalg.svd",)),
    Row("qr", lambda a: W(np.linalg.qr(a)[0]) + W(np.linalg.qr(a)[1]), [R(5, 3)], covers=("numpy.linalg.qr",)),
    Row("norms", lambda a, x: np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf) + np.linalg.norm(x, 3)
        + np.linalg.norm(a, "fro") + np.linalg.norm(a, "nuc") + np.linalg.norm(a, 2) + np.linalg.norm(a, -np.inf)
        + W(np.linalg.norm(a, axis=0)), [R(3, 4), R(5)], covers=("numpy.linalg.norm",)),
    Row("pinv_lstsq", lambda a, b: W(np.linalg.pinv(a)) + W(np.linalg.lstsq(a, b, rcond=None)[0]), [R(5, 3), R(5)],
        covers=("numpy.linalg.pinv", "numpy.linalg.lstsq")),
    Row("matrix_power_multi_dot", lambda a, b: W(np.linalg.matrix_power(a, 3)) + W(np.linalg.matrix_power(a, -1))
        + W(np.linalg.multi_dot([a, b, b.T, a])), [SPD(3, 3), R(3, 4)],
        covers=("numpy.linalg.matrix_power", "numpy.linalg.multi_dot")),
    Row("scipy_cho", lambda a, b: W(sl.cho_solve(sl.cho_factor(a), b)) + W(sl.cho_solve(sl.cho_factor(a, lower=True), b))
        + W(sl.cholesky(a)), [SPD(4, 4), R(4)],
        covers=("scipy.linalg.cho_factor", "scipy.linalg.cho_solve", "scipy.linalg.cholesky")),
    Row("solve_triangular", lambda a, b: W(sl.solve_triangular(a, b, lower=True)) + W(sl.solve_triangular(a.T, b, trans=1))
        + W(sl.solve_triangular(a, b, lower=True, unit_diagonal=True)), [SPD(4, 4), R(4, 2)],
        covers=("scipy.linalg.solve_triangular",)),
    # -- the other spellings: aliases, methods, constructors, predicates ---------------------------------------
    Row("ufunc_aliases", lambda x, y: W(np.absolute(x) + np.fabs(y) + np.add(x, y) * np.subtract(x, 2.0)
        + np.multiply(x, y) + np.divide(x, 2.0 + y**2) + np.true_divide(y, 3.0) + np.negative(x) + np.positive(y)
        + np.log2(2.0 + x**2) + np.log10(1.0 + y**2)) + np.divmod(x, 0.7)[1][0] + np.amax(x) * np.amin(y),
        [U(0.2, 2.0, 4), U(0.2, 2.0, 4)],
        covers=("numpy.absolute", "numpy.fabs", "numpy.add", "numpy.subtract", "numpy.multiply", "numpy.divide",
                "numpy.true_divide", "numpy.negative", "numpy.positive", "numpy.log2", "numpy.log10", "numpy.divmod",
                "numpy.amax", "numpy.amin")),
    Row("shape_aliases", lambda x, m: W(np.squeeze(x.reshape(1, 4))) + W(np.expand_dims(x, 0)) + W(np.reshape(m, (3, 2)))
        + W(np.permute_dims(m, (1, 0))) + W(np.broadcast_to(x[:2], (3, 2))) + W(np.conj(x) + np.conjugate(x) + np.real(x))
        + W(np.copy(m)) + W(np.asanyarray(m) + np.ascontiguousarray(m) + np.asfortranarray(m))
        + W(np.concat([x, x])) + W(np.vstack([m, m])) + W(np.dstack([m, m]))
        + sum(W(p) for p in np.dsplit(m.reshape(1, 2, 3), 3)) + W(np.atleast_3d(x)) + W(np.ediff1d(x))
        + np.trapezoid(x, dx=0.5) + np.trapezoid(x, x=np.array([0.0, 1.0, 3.0, 4.0])), [R(4), R(2, 3)],
        covers=("numpy.squeeze", "numpy.expand_dims", "numpy.reshape", "numpy.permute_dims", "numpy.broadcast_to",
                "numpy.conj", "numpy.conjugate", "numpy.real", "numpy.copy", "numpy.asanyarray", "numpy.ascontiguousarray",
                "numpy.asfortranarray", "numpy.concat", "numpy.vstack", "numpy.dstack", "numpy.dsplit",
                "numpy.atleast_3d", "numpy.ediff1d", "numpy.trapezoid")),
    Row("products_aliases", lambda a, x: W(np.matmul(a, x)) + np.vdot(a, a) + W(np.vecdot(a, a)) + W(np.linalg.matmul(a.T, a))
        + W(np.linalg.outer(x, x)) + W(np.linalg.tensordot(a, a.T, axes=1)) + W(np.linalg.vecdot(a, a)), [R(3, 3), R(3)],
        covers=("numpy.matmul", "numpy.vdot", "numpy.vecdot", "numpy.linalg.matmul", "numpy.linalg.outer",
                "numpy.linalg.tensordot", "numpy.linalg.vecdot")),
    Row("comparisons", lambda x, y: W(np.where(np.less(x, y) | np.greater(x, 2.0) | np.equal(x, 9.0) | np.logical_xor(
        np.less_equal(x, 0.1), np.greater_equal(y, 0.0)) & np.not_equal(x, y), x * y, x - y) + np.where(np.signbit(x), x, 0.0)
        + np.select([x < -1.0, x > 1.0], [x**2, -x], 0.5 * x) + np.where(np.isclose(x, y), 0.0, x)), [R(6), R(6)],
        covers=("numpy.less", "numpy.greater", "numpy.equal", "numpy.logical_xor", "numpy.less_equal",
                "numpy.greater_equal", "numpy.not_equal", "numpy.signbit", "numpy.select", "numpy.isclose")),
    Row("constructors", lambda x: W(x * np.identity(3)[0]) + W(np.full_like(x, 2.0) * x) + W(np.tri(3) @ x)
        + W(x[np.nonzero(np.arange(3) > 0)[0]]) + W(x[np.flatnonzero(np.arange(3) != 1)])
        + W(x[np.argwhere(np.arange(3) < 2)[:, 0]]), [R(3)],
        covers=("numpy.identity", "numpy.full_like", "numpy.tri", "numpy.nonzero", "numpy.flatnonzero", "numpy.argwhere")),
    Row("methods", lambda m: W(m.sum(axis=0)) + m.mean() + m.max() * m.min() + m.prod() + W(m.clip(-0.5, 0.5))
        + W(m.conj()) + W(m.conjugate()) + W(m.copy()) + W(m.diagonal()) + W(m.dot(m.T)) + W(m.flatten()) + W(m.ravel())
        + W(m.repeat(2, axis=0)) + W(m.reshape(3, 3)) + W(m.round(1) * m) + W(m[None].squeeze()) + W(m.swapaxes(0, 1))
        + W(m.take([2, 0], axis=1)) + m.trace() + W(m.transpose()) + m[0, m.argmax(axis=1)[0]] + m.ravel()[m.argmin()]
        + W(m.ravel()[m.ravel().argsort()]) + m.any() + m.all(), [R(3, 3)],
        covers=tuple(f"numpy.ndarray.{n}" for n in ("sum", "mean", "max", "min", "prod", "clip", "conj", "conjugate", "copy",
                "diagonal", "dot", "flatten", "ravel", "repeat", "reshape", "round", "squeeze", "swapaxes", "take", "trace",
                "transpose", "argmax", "argmin", "argsort", "any", "all"))),
    Row("linalg_more", lambda a, b: np.linalg.cond(a) + W(np.linalg.diagonal(a)) + np.linalg.matrix_norm(a)
        + np.linalg.matrix_rank(a) + W(np.linalg.svdvals(b)) + np.linalg.trace(a) + np.linalg.vector_norm(b)
        + W(np.linalg.vector_norm(b, axis=0, ord=1)), [SPD(3, 3), R(4, 3)],
        covers=("numpy.linalg.cond", "numpy.linalg.diagonal", "numpy.linalg.matrix_norm", "numpy.linalg.matrix_rank",
                "numpy.linalg.svdvals", "numpy.linalg.trace", "numpy.linalg.vector_norm")),
    Row("math_all", lambda x, y: math.acos(x / 3) + math.acosh(2 + y**2) + math.asin(x / 3) + math.cbrt(3 + x) + math.ceil(x)
        + math.copysign(x, y) + math.cosh(x) + math.degrees(x) + math.exp2(x) + math.expm1(y) + math.floor(x) * y
        + math.fmod(x, 0.7) + math.log1p(y**2) + math.log2(2 + x**2) + math.radians(y) + math.sinh(y) + math.tan(x / 3)
        + math.trunc(y) + dc.where(math.isfinite(x) & ~math.isinf(y) & ~math.isnan(x), x, 0.0), [U(0.2, 1.5), U(0.2, 1.5)],
        covers=("math.acos", "math.acosh", "math.asin", "math.cbrt", "math.ceil", "math.copysign", "math.cosh", "math.degrees",
                "math.exp2", "math.expm1", "math.floor", "math.fmod", "math.log1p", "math.log2", "math.radians", "math.sinh",
                "math.tan", "math.trunc", "math.isfinite", "math.isinf", "math.isnan")),
    Row("scipy_linalg_more", lambda a, b: sl.det(a) + W(sl.inv(a)) + W(sl.eigh(a)[0]) + W(sl.eigvalsh(a))
        + W(np.abs(sl.eigh(a)[1][:, 0])) + W(sl.lstsq(b, b[:, 0] + 1.0)[0]) + sl.norm(b) + W(sl.pinv(b))
        + W(sl.qr(b, mode="economic")[1]) + W(sl.solve(a, b[:3, 0])) + W(sl.solve(a, b[:3], assume_a="pos"))
        + W(sl.svd(b, full_matrices=False)[1]) + W(sl.svdvals(b)) + W(sl.block_diag(a, b[:2, :2])), [SPD(3, 3), R(4, 3)],
        covers=("scipy.linalg.det", "scipy.linalg.inv", "scipy.linalg.eigh", "scipy.linalg.eigvalsh", "scipy.linalg.lstsq",
                "scipy.linalg.norm", "scipy.linalg.pinv", "scipy.linalg.qr", "scipy.linalg.solve", "scipy.linalg.svd",
                "scipy.linalg.svdvals", "scipy.linalg.block_diag")),
    Row("stats_more", lambda x, mu, s: np.sum(st.cauchy.pdf(x, mu, s) + st.cauchy.cdf(x, mu, s) + st.expon.pdf(np.abs(x), 0.0, s)
        + st.expon.cdf(np.abs(x), scale=s) + st.expon.sf(np.abs(x), scale=s) + st.laplace.pdf(x, mu, s) + st.laplace.cdf(x, mu, s)
        + st.logistic.pdf(x, mu, s) + st.logistic.cdf(x, mu, s) + st.logistic.logcdf(x, mu, s)
        + st.lognorm.pdf(np.abs(x) + 0.1, s) + st.gamma.pdf(np.abs(x) + 0.1, 2.0 + s) + st.beta.pdf(0.4, 1.5 + s, 2.0))
        + st.bernoulli.pmf(1.0, 0.3 + 0.1 * s) + st.binom.pmf(2.0, 5, 0.3 + 0.1 * s) + st.geom.logpmf(2.0, 0.3 + 0.1 * s)
        + st.geom.pmf(3.0, 0.3 + 0.1 * s) + st.nbinom.pmf(2.0, 3.0 * s, 0.4)
        + st.multivariate_normal.pdf(x[:2], mean=np.array([mu, 0.0]), cov=s * np.eye(2)), [R(4), R(), U(0.5, 2.0)],
        covers=("scipy.stats.cauchy.pdf", "scipy.stats.cauchy.cdf", "scipy.stats.expon.pdf", "scipy.stats.expon.cdf",
                "scipy.stats.expon.sf", "scipy.stats.laplace.pdf", "scipy.stats.laplace.cdf", "scipy.stats.logistic.pdf",
                "scipy.stats.logistic.cdf", "scipy.stats.logistic.logcdf", "scipy.stats.lognorm.pdf", "scipy.stats.gamma.pdf",
                "scipy.stats.beta.pdf", "scipy.stats.bernoulli.pmf", "scipy.stats.binom.pmf", "scipy.stats.geom.logpmf",
                "scipy.stats.geom.pmf", "scipy.stats.nbinom.pmf", "scipy.stats.multivariate_normal.pdf")),
    # -- scipy.stats -------------------------------------------------------------------------------------------
    Row("stats_norm", lambda x, mu, s: np.sum(st.norm.logpdf(x, mu, s) + st.norm.logcdf(x, loc=mu, scale=s)
        + st.norm.sf(x, mu, s) + st.norm.pdf(x, mu) + st.norm.cdf(x) + st.norm.logsf(x, mu, s)) + st.norm.ppf(0.3, mu, s),
        [R(4), R(), U(0.5, 2.0)],
        covers=("scipy.stats.norm.logpdf", "scipy.stats.norm.pdf", "scipy.stats.norm.cdf", "scipy.stats.norm.logcdf",
                "scipy.stats.norm.sf", "scipy.stats.norm.logsf", "scipy.stats.norm.ppf")),
    Row("stats_t", lambda x, mu, s: np.sum(st.t.logpdf(x, 3.0 + s, mu, s) + st.t(4.0, loc=mu).logpdf(x)
        + st.t.pdf(x, df=5.0, scale=s)), [R(4), R(), U(0.5, 2.0)], covers=("scipy.stats.t.logpdf", "scipy.stats.t.pdf")),
    Row("stats_counts", lambda mu, p: np.sum(st.poisson.logpmf(np.arange(5.0), np.exp(mu))
        + st.nbinom.logpmf(np.arange(5.0), 3.0 * p, p) + st.binom.logpmf(np.arange(5.0), 6, p)
        + st.bernoulli.logpmf(np.array([0.0, 1.0]), p).sum() + st.poisson.pmf(2.0, np.exp(mu))),
        [R(), U(0.2, 0.8)], covers=("scipy.stats.poisson.logpmf", "scipy.stats.poisson.pmf", "scipy.stats.nbinom.logpmf",
                                    "scipy.stats.binom.logpmf", "scipy.stats.bernoulli.logpmf")),
    Row("stats_families", lambda x, mu, s: np.sum(st.laplace.logpdf(x, mu, s) + st.cauchy.logpdf(x, mu, s)
        + st.logistic.logpdf(x, mu, s) + st.expon.logpdf(np.abs(x) + 0.1, 0.0, s) + st.lognorm.logpdf(np.abs(x) + 0.1, s, scale=np.exp(mu))
        + st.gamma.logpdf(np.abs(x) + 0.1, 2.0 + s, scale=s) + st.beta.logpdf(0.3, 2.0 + s, s + 1.0)),
        [R(4), R(), U(0.5, 2.0)],
        covers=("scipy.stats.laplace.logpdf", "scipy.stats.cauchy.logpdf", "scipy.stats.logistic.logpdf",
                "scipy.stats.expon.logpdf", "scipy.stats.lognorm.logpdf", "scipy.stats.gamma.logpdf", "scipy.stats.beta.logpdf")),
    Row("stats_mvn", lambda x, m, s: st.multivariate_normal.logpdf(x, mean=m, cov=s * np.eye(3) + 0.1)
        + np.sum(st.multivariate_normal.logpdf(np.stack([x, m]), np.zeros(3), s * np.eye(3))), [R(3), R(3), U(0.5, 2.0)],
        covers=("scipy.stats.multivariate_normal.logpdf",)),
    Row("batched_linalg", lambda a, b: W(np.linalg.cholesky(a)) + W(np.linalg.solve(a, b)) + np.sum(np.linalg.slogdet(a)[1])
        + W(np.linalg.inv(a)), [SPD(2, 3, 3), R(2, 3, 2)]),
]
# fmt: on

BY_ID = {r.id: r for r in ROWS}
assert len(BY_ID) == len(ROWS), "row ids must be unique"
DIFF = [r for r in ROWS if r.order >= 1]
SECOND = [r for r in ROWS if r.order >= 2]


def _ids(rows: Sequence[Row]) -> list[Any]:
    return [pytest.param(r.id, id=r.id) for r in rows]


@cache
def inputs(rid: str) -> tuple[Any, ...]:
    rng = np.random.default_rng(zlib.crc32(rid.encode()))
    return tuple(a.draw(rng) for a in BY_ID[rid].args)


@cache
def function(rid: str) -> dc.Function:
    return dc.compile(BY_ID[rid].fn, backend="python", name=rid.replace("-", "_"))


def direction(rid: str, salt: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(zlib.crc32(rid.encode()) + salt)
    return tuple(rng.normal(size=np.shape(a)) if np.shape(a) else float(rng.normal()) for a in inputs(rid))


def shifted(args: Sequence[Any], v: Sequence[Any], h: float) -> list[Any]:
    return [a + h * d for a, d in zip(args, v, strict=True)]


def fd(g: Callable[..., Any], args: Sequence[Any], v: Sequence[Any]) -> Any:
    """Five-point central difference of ``g`` along ``v``."""
    return helpers.five_point(lambda t: np.asarray(g(*shifted(args, v, t)), dtype=float), H)


def flat(out: Any) -> np.ndarray:
    if isinstance(out, tuple):
        return np.concatenate([flat(o) for o in out])
    return np.ravel(np.asarray(out, dtype=float))


close = functools.partial(helpers.close, same_shape=False)


@pytest.mark.parametrize("rid", _ids(ROWS))
def test_value_matches_numpy(rid: str) -> None:
    args = inputs(rid)
    with np.errstate(all="ignore"):
        expected = BY_ID[rid].fn(*args)
    close(function(rid)(*args), expected, "value", 1e-12)


@pytest.mark.parametrize("rid", _ids(DIFF))
def test_reverse_and_forward_match_finite_differences(rid: str) -> None:
    f, args = function(rid), inputs(rid)
    v = direction(rid, 1)
    expected = fd(BY_ID[rid].fn, args, v)
    grad = dc.grad(f)(*args)
    close(float(flat(grad) @ flat(v)), expected, "grad . v", FD_RTOL)
    _, tangent = dc.jvp(f)(args, v if len(v) > 1 else v[0])
    close(tangent, expected, "jvp", FD_RTOL)


@pytest.mark.parametrize("rid", _ids(SECOND))
def test_hvp_matches_finite_differences_of_the_gradient(rid: str) -> None:
    f, args = function(rid), inputs(rid)
    v = direction(rid, 2)
    g = dc.grad(f)
    expected = fd(lambda *a: flat(g(*a)), args, v)
    hv = dc.hvp(f)(args, v if len(v) > 1 else v[0])
    close(flat(hv), expected, "hvp", 1e-6)


# The spellings the coverage issue names (elementwise, scipy.special, reductions, shapes, linear algebra).
ISSUE_SPELLINGS = sorted({s for r in ROWS for s in r.covers})


def test_every_named_spelling_is_registered_and_has_a_row() -> None:
    missing = [s for s in ISSUE_SPELLINGS if s not in spellings.BY_NAME]
    assert not missing, f"listed in rows but not registered: {missing}"
    assert len(ISSUE_SPELLINGS) >= 150


def test_unsupported_names_the_full_dotted_name_and_the_alternative() -> None:
    def f(a: Any) -> Any:
        return np.sum(np.linalg.matrix_exp(a)) if hasattr(np.linalg, "matrix_exp") else np.sum(np.linalg.eig(a)[0])

    with pytest.raises(dc.UnsupportedError, match=r"numpy\.linalg\.(matrix_exp|eig) is not supported"):
        dc.compile(f, backend="python")(np.eye(2))

    def g(x: Any) -> Any:
        return np.sum(sc.zeta(x, 2.0))

    with pytest.raises(dc.UnsupportedError, match=r"scipy\.special\.zeta is not supported"):
        dc.compile(g, backend="python")(np.ones(2))


def test_bad_keyword_arguments_get_dcompiles_error() -> None:
    def f(x: Any) -> Any:
        return np.sum(x, out=np.zeros(()))

    with pytest.raises(dc.UnsupportedError, match="out="):
        dc.compile(f, backend="python")(np.ones(3))

    def g(x: Any) -> Any:
        return np.cumsum(x, bogus=1)

    with pytest.raises(dc.UnsupportedError, match=r"numpy\.cumsum was called with arguments"):
        dc.compile(g, backend="python")(np.ones(3))


# -- numba: a few programs that use many of the functions at once, compiled once per module ---------------------


def _gp(log_p: Any, X: Any, y: Any) -> Any:
    ell, sf, sn = np.exp(log_p)
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = sf**2 * np.exp(-0.5 * d2 / ell**2) + sn**2 * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    alpha = sl.cho_solve((L, True), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L)))


def _special_mix(x: Any, y: Any) -> Any:
    return np.sum(
        sc.gammaln(x + 1.0) + sc.xlogy(y, x) - sc.log_ndtr(y) + sc.erf(x) * np.arcsinh(y) + np.sinc(y)
    ) + np.var(x) * np.median(y)


def _shapes_mix(x: Any, m: Any) -> Any:
    s = np.sort(x)
    c = np.cumsum(s) * np.cumprod(np.tril(m)[0] + 1.0)[0]
    return np.sum(np.roll(c, 1) * np.repeat(x[:2], 2)[0]) + np.einsum("ij,jk->", m, m) + np.trace(np.kron(m, m[:1, :1]))


def _linalg_mix(a: Any, b: Any) -> Any:
    w, v = np.linalg.eigh(a)
    _, s, _ = np.linalg.svd(b, full_matrices=False)
    _, r = np.linalg.qr(b)
    return (np.sum(w**2) + np.sum(np.abs(v[:, -1])) + np.sum(s) + np.linalg.slogdet(a)[1] + np.sum(r * r)
            + np.sum(np.linalg.solve(a, b[:3])) + np.sum(np.linalg.inv(a)))  # fmt: skip


def _writes(x: Any, k: Any) -> Any:
    y = np.zeros(6)
    y[0] = x[0] ** 2
    y[1:3] = x[1:] * 2.0
    y[k] += x[0]
    y[np.array([5, 4])] = x[1:3]
    return np.sum(y * np.arange(1.0, 7.0)) + x[k] * y[k]


NUMBA_PROGRAMS: dict[
    str, tuple[Callable[..., Any], Callable[[np.random.Generator], tuple[Any, ...]], tuple[int, ...]]
] = {
    "gp": (_gp, lambda r: (np.array([0.1, 0.2, -0.5]), r.normal(size=(12, 2)), r.normal(size=12)), (0,)),
    "special": (_special_mix, lambda r: (r.uniform(0.5, 2.0, 5), r.uniform(0.2, 1.5, 5)), (0, 1)),
    "shapes": (_shapes_mix, lambda r: (r.normal(size=4), r.normal(size=(3, 3))), (0, 1)),
    "linalg": (_linalg_mix, lambda r: (SPD(3, 3).draw(r), r.normal(size=(4, 3))), (0, 1)),
    "writes": (_writes, lambda r: (r.normal(size=3), np.int64(2)), (0,)),
}


@pytest.fixture(scope="module", params=list(NUMBA_PROGRAMS))
def numba_program(request: Any) -> tuple[str, dc.Function, dc.Function, tuple[Any, ...], tuple[int, ...]]:
    fn, draw, wrt = NUMBA_PROGRAMS[request.param]
    args = draw(np.random.default_rng(zlib.crc32(request.param.encode())))
    return request.param, dc.compile(fn), dc.compile(fn, backend="python"), args, wrt


@pytest.mark.numba
def test_numba_matches_python_to_second_order(numba_program: Any) -> None:
    name, fn, py, args, wrt = numba_program
    close(fn(*args), py(*args), f"{name} value", 1e-12)
    close(flat(dc.grad(fn, wrt=wrt)(*args)), flat(dc.grad(py, wrt=wrt)(*args)), f"{name} grad", 1e-11)
    v = tuple(np.random.default_rng(3).normal(size=np.shape(args[i])) for i in wrt)
    direction_ = v[0] if len(v) == 1 else v
    close(
        flat(dc.hvp(fn, wrt=wrt)(args, direction_)), flat(dc.hvp(py, wrt=wrt)(args, direction_)), f"{name} hvp", 1e-10
    )
    # and against finite differences of NumPy itself
    f0 = NUMBA_PROGRAMS[name][0]
    full_v = [
        np.zeros_like(np.asarray(a, dtype=float)) if i not in wrt else v[wrt.index(i)] for i, a in enumerate(args)
    ]
    expected = fd(lambda *a: f0(*[np.int64(x) if isinstance(args[i], np.integer) else x for i, x in enumerate(a)]),
                  [np.asarray(a, dtype=float) if not isinstance(a, np.integer) else a for a in args], full_v)  # fmt: skip
    close(float(flat(dc.grad(fn, wrt=wrt)(*args)) @ flat(v)), expected, f"{name} grad vs FD", FD_RTOL)


def test_the_coverage_page_lists_every_spelling() -> None:
    """docs/coverage.md is generated from the spellings table (benchmarks/coverage_table.py): it cannot drift."""
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "coverage.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \|", page, flags=re.MULTILINE))
    import importlib

    def exists(s: spellings.Spelling) -> bool:
        if s.module == "numpy.ndarray":
            return True
        obj: Any = importlib.import_module(s.module)
        for part in s.name.split("."):
            obj = getattr(obj, part, None)
        return obj is not None

    expected = {
        (f"x.{s.name}" if s.module == "numpy.ndarray" else s.dotted)
        for s in spellings.BY_NAME.values()
        if s.module != "sympy" and exists(s)
    }
    assert expected - listed == set(), "rerun benchmarks/coverage_table.py"
    assert listed - expected == set()
