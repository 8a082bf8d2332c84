"""Coverage objectives: value-and-gradient and compile time of NumPy/SciPy objectives dcompile now supports.

Four objectives written with the functions of the coverage work (``scipy.linalg.cho_solve``,
``np.linalg.cholesky``, ``scipy.special.gammaln``, ``np.log1p``, ``scipy.stats.t.logpdf``,
``np.einsum``), one thread each, value and gradient per call with the inputs already in place:

* ``gp``: Gaussian-process negative log marginal likelihood, RBF kernel plus white noise,
  ``theta = log([c, ell, noise])``, gradient w.r.t. the 3 hyperparameters, n = 200 and 2000
  points in 2-D. Contenders: dcompile (``dc.value_and_grad(dc.compile(gp_nll), wrt="theta")``);
  hand-written numba (kernel matrix in loops, the analytic gradient
  ``0.5 tr((alpha alpha^T - K^-1) dK/dtheta_j)`` in one loop over the upper triangle), once with
  ``np.linalg.cholesky`` + ``np.linalg.inv`` and once with LAPACK ``dpotrf`` + ``dpotri`` called
  through ``scipy.linalg.cython_lapack`` (the cheapest K^-1); JAX; and scikit-learn's
  ``GaussianProcessRegressor(ConstantKernel() * RBF() + WhiteKernel(), alpha=1e-10)
  .log_marginal_likelihood(theta, eval_gradient=True)`` (negated) as the NumPy/SciPy reference.
* ``poisson``: Poisson regression ``sum(exp(X w) - y X w + gammaln(y + 1))`` w.r.t. ``w``,
  N = 10^5, d = 20. Contenders: dcompile, hand-written numba (a row loop, and ``np.dot`` for both
  products with one elementwise loop; both take ``sum(gammaln(y + 1))`` precomputed outside the
  call, since it is a constant; a third variant computes it in the call with SciPy's C
  ``gammaln``), JAX (``jax.scipy.special.gammaln``).
* ``student_t``: Student-t negative log-likelihood in ``(mu, log sigma, log nu)``, N = 10^5,
  written with ``gammaln`` and ``np.log1p``. Contenders: dcompile on that formula and on
  ``-np.sum(scipy.stats.t.logpdf(x, nu, mu, sigma))``, hand-written numba (one loop; the
  nu-gradient's digamma is SciPy's C ``psi`` through ``dcompile.runtime.special``), JAX (both
  formulations, ``jax.scipy.stats.t.logpdf`` for the second).
* ``einsum``: ``sum(tanh(einsum("bij,bjk->bik", A, B))) + einsum("bi,bij,bj->", x, A, x)``
  with A (64, 32, 32), B (64, 32, 16), x (64, 32), gradient w.r.t. A and B. Contenders: dcompile,
  hand-written numba (loops; and ``np.dot`` per batch), JAX.

JAX is ``jax.jit(jax.value_and_grad(f))`` of the same source with ``np`` bound to ``jax.numpy`` and
``scipy`` to ``jax.scipy`` (x64, inputs already JAX arrays, ``block_until_ready`` on every call).

One thread each: ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``,
``OPENBLAS_NUM_THREADS=1`` (and ``OMP``/``MKL``/``NUMBA_NUM_THREADS=1``) are set before anything
is imported.

Compile time: dcompile's first call, each contender and size in a fresh ``DCOMPILE_CACHE_DIR``
(tracing, derivation, code generation and numba); numba's first call of dispatchers made afresh
for each size; JAX's first call minus its steady-state median (tracing and XLA compilation).

Agreement: every contender's value and gradient against dcompile's (the first dcompile
contender of the problem): ``|f - f_dc| / |f_dc|`` and, over the gradient's parts,
``max |g - g_dc| / max |g_dc|``; printed, recorded and flagged above 1e-8 (never fatal).

Timing: round-robin in one process (benchmarks/bench_finite_sum.py's ``time_round_robin``): each
sample runs a contender back to back for >= ``--target`` seconds after one untimed call; medians
over samples; ratios are the median of per-sample ratios.

Run from the repository root::

    .venv/bin/python benchmarks/bench_coverage.py          # full run (aim: under 10 minutes)
    .venv/bin/python benchmarks/bench_coverage.py --quick  # smaller sizes, fewer samples (< 3 minutes)
    .venv/bin/python benchmarks/bench_coverage.py --problems gp,einsum  # a subset

Results go to ``benchmarks/results/coverage.json`` and ``benchmarks/results/coverage.md``.
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402  (the thread settings must come first)
import ctypes  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402
from bench_finite_sum import call_runner, paired, time_round_robin  # noqa: E402
from machine import machine_info  # noqa: E402
from numba import njit  # noqa: E402
from numba.extending import get_cython_function_address  # noqa: E402

from dcompile.runtime import special as dcs  # noqa: E402  (SciPy's C gammaln/psi under numba)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE_ENV = "DCOMPILE_CACHE_DIR"
PROBLEMS = ("gp", "poisson", "student_t", "einsum")
SIZES = {
    "full": {"gp": (200, 2000), "poisson": ((10**5, 20),), "student_t": (10**5,), "einsum": ((64, 32, 32, 16),)},
    "quick": {"gp": (100, 300), "poisson": ((10**4, 20),), "student_t": (10**4,), "einsum": ((64, 32, 32, 16),)},
}
AGREE = 1e-8  # relative agreement with dcompile's value and gradient
GP_THETA = (1.0, 0.8, 0.05)  # c, ell, noise
T_PARAMS = (1.4, np.log(0.9), np.log(4.0))  # mu, log sigma, log nu
Contender = tuple[str, Callable[..., Any], tuple[Any, ...], Callable[[Any], Any] | None]  # kind, fn, args, block


# ---------------------------------------------------------------------------
# the objectives (written with ``np`` and ``scipy``; JAX rebinds both)
# ---------------------------------------------------------------------------
def gp_nll(theta, X, y):
    c, ell, noise = np.exp(theta)
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = c * np.exp(-0.5 * sq / ell**2) + (noise + 1e-10) * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    alpha = scipy.linalg.cho_solve((L, True), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * X.shape[0] * np.log(2 * np.pi)


def poisson_nll(w, X, y):
    z = X @ w
    return np.sum(np.exp(z) - y * z + scipy.special.gammaln(y + 1))


def t_nll(p, x):
    mu, log_sigma, log_nu = p[0], p[1], p[2]
    nu = np.exp(log_nu)
    r = (x - mu) / np.exp(log_sigma)
    logpdf = (
        scipy.special.gammaln((nu + 1) / 2)
        - scipy.special.gammaln(nu / 2)
        - 0.5 * np.log(nu * np.pi)
        - log_sigma
        - (nu + 1) / 2 * np.log1p(r**2 / nu)
    )
    return -np.sum(logpdf)


def t_nll_stats(p, x):
    return -np.sum(scipy.stats.t.logpdf(x, np.exp(p[2]), p[0], np.exp(p[1])))


def einsum_obj(A, B, x):
    return np.sum(np.tanh(np.einsum("bij,bjk->bik", A, B))) + np.einsum("bi,bij,bj->", x, A, x)


def gp_data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.uniform(-3.0, 3.0, (n, 2))
    y = np.sin(X[:, 0]) + np.cos(X[:, 1]) + 0.2 * rng.standard_normal(n)
    return np.log(np.array(GP_THETA)), X, y


def poisson_data(n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    w = 0.5 * rng.standard_normal(d)
    y = rng.poisson(np.exp(X @ w)).astype(np.float64)
    return 0.8 * w, X, y


def t_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = 1.5 + 0.8 * rng.standard_t(5.0, n)
    return np.array(T_PARAMS), x


def einsum_data(nb: int, m: int, k: int, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    A = rng.standard_normal((nb, m, k)) / np.sqrt(k)
    B = rng.standard_normal((nb, k, p)) / np.sqrt(k)
    x = rng.standard_normal((nb, m))
    return A, B, x


# ---------------------------------------------------------------------------
# hand-written numba (plain Python functions: each size gets fresh ``njit`` dispatchers)
# ---------------------------------------------------------------------------
def _lapack(name: str) -> Any:
    """A LAPACK routine of SciPy's ``cython_lapack`` with five pointer arguments, callable from numba."""
    vp = ctypes.c_void_p
    return ctypes.CFUNCTYPE(None, vp, vp, vp, vp, vp)(get_cython_function_address("scipy.linalg.cython_lapack", name))


DPOTRF = _lapack("dpotrf")  # (uplo, n, a, lda, info)
DPOTRI = _lapack("dpotri")


def _kinv_numpy(K):
    """K^-1 by ``np.linalg.inv`` (LU) and log det K from ``np.linalg.cholesky``."""
    L = np.linalg.cholesky(K)
    logdet = 0.0
    for i in range(K.shape[0]):
        logdet += np.log(L[i, i])
    return np.linalg.inv(K), 2.0 * logdet


def _kinv_lapack(K):
    """K^-1 (its upper triangle, row-major) and log det K: ``dpotrf`` then ``dpotri`` on a copy of K.

    A row-major symmetric K is its own column-major transpose: LAPACK's lower triangle is the
    row-major upper one.
    """
    n = K.shape[0]
    A = K.copy()
    uplo = np.array([ord("L")], dtype=np.uint8)
    nn = np.array([n], dtype=np.int32)
    info = np.zeros(1, dtype=np.int32)
    DPOTRF(uplo.ctypes, nn.ctypes, A.ctypes, nn.ctypes, info.ctypes)
    if info[0] != 0:
        raise ValueError("K is not positive definite")
    logdet = 0.0
    for i in range(n):
        logdet += np.log(A[i, i])
    DPOTRI(uplo.ctypes, nn.ctypes, A.ctypes, nn.ctypes, info.ctypes)
    return A, 2.0 * logdet


def make_gp_hand(kinv_py: Callable[..., Any]) -> Any:
    """The GP value and gradient with K^-1 and log det K from ``kinv_py`` (which reads K's upper triangle)."""
    kinv = njit(kinv_py)

    def gp_vg(theta, X, y):
        n, d = X.shape
        c, ell, noise = np.exp(theta[0]), np.exp(theta[1]), np.exp(theta[2])
        inv_l2 = 1.0 / (ell * ell)
        K = np.empty((n, n))
        for i in range(n):
            K[i, i] = c + noise + 1e-10
            for j in range(i + 1, n):
                sq = 0.0
                for k in range(d):
                    t = X[i, k] - X[j, k]
                    sq += t * t
                kij = c * np.exp(-0.5 * sq * inv_l2)
                K[i, j] = kij
                K[j, i] = kij
        Ki, logdet = kinv(K)
        alpha = np.zeros(n)  # K^-1 y from the upper triangle
        for i in range(n):
            s = Ki[i, i] * y[i]
            yi = y[i]
            for j in range(i + 1, n):
                s += Ki[i, j] * y[j]
                alpha[j] += Ki[i, j] * yi
            alpha[i] += s
        # d(log likelihood) = 0.5 sum_ij W_ij dK_ij/dtheta, W = alpha alpha^T - K^-1 symmetric: diagonal + 2 x upper
        g_c = 0.0
        g_ell = 0.0
        tr_w = 0.0
        for i in range(n):
            w_ii = alpha[i] * alpha[i] - Ki[i, i]
            tr_w += w_ii
            g_c += w_ii * c
            for j in range(i + 1, n):
                sq = 0.0
                for k in range(d):
                    t = X[i, k] - X[j, k]
                    sq += t * t
                wk = 2.0 * (alpha[i] * alpha[j] - Ki[i, j]) * K[i, j]
                g_c += wk
                g_ell += wk * sq * inv_l2
        f = 0.5 * np.dot(y, alpha) + 0.5 * logdet + 0.5 * n * np.log(2.0 * np.pi)
        return f, -0.5 * np.array([g_c, g_ell, noise * tr_w])  # -d(log likelihood)

    return njit(gp_vg)


def _poisson_rows(w, X, y, const):
    """A loop over rows (dot loop, then axpy loop); ``const`` = sum(gammaln(y + 1)), precomputed."""
    n, d = X.shape
    g = np.zeros(d)
    f = const
    for i in range(n):
        z = 0.0
        for j in range(d):
            z += X[i, j] * w[j]
        e = np.exp(z)
        f += e - y[i] * z
        r = e - y[i]
        for j in range(d):
            g[j] += r * X[i, j]
    return f, g


def _poisson_blas(w, X, y, const):
    """``np.dot`` for both products, one elementwise loop; ``const`` = sum(gammaln(y + 1)), precomputed."""
    z = np.dot(X, w)
    r = np.empty_like(z)
    f = const
    for i in range(z.shape[0]):
        e = np.exp(z[i])
        f += e - y[i] * z[i]
        r[i] = e - y[i]
    return f, np.dot(X.T, r)


def _poisson_blas_gammaln(w, X, y):
    """As :func:`_poisson_blas`, with ``gammaln(y + 1)`` computed in the call (SciPy's C function)."""
    z = np.dot(X, w)
    r = np.empty_like(z)
    f = 0.0
    for i in range(z.shape[0]):
        e = np.exp(z[i])
        f += e - y[i] * z[i] + dcs.gammaln(y[i] + 1.0)
        r[i] = e - y[i]
    return f, np.dot(X.T, r)


def _t_vg(p, x):
    """Student-t NLL and its gradient in (mu, log sigma, log nu): one loop for three sums."""
    mu, log_sigma = p[0], p[1]
    sigma, nu = np.exp(log_sigma), np.exp(p[2])
    n = x.shape[0]
    inv_s = 1.0 / sigma
    inv_nu = 1.0 / nu
    s_log = 0.0  # sum log1p(q)
    s_r = 0.0  # sum r / (1 + q)
    s_q = 0.0  # sum q / (1 + q)
    for i in range(n):
        r = (x[i] - mu) * inv_s
        q = r * r * inv_nu
        s_log += np.log1p(q)
        u = 1.0 / (1.0 + q)
        s_r += r * u
        s_q += q * u
    h = 0.5 * (nu + 1.0)
    const = dcs.gammaln(h) - dcs.gammaln(0.5 * nu) - 0.5 * np.log(nu * np.pi) - log_sigma
    f = -n * const + h * s_log
    d_nu = -n * 0.5 * (dcs.psi(h) - dcs.psi(0.5 * nu) - inv_nu) + 0.5 * s_log - h * inv_nu * s_q
    g = np.array([-(nu + 1.0) * inv_nu * inv_s * s_r, n - (nu + 1.0) * s_q, nu * d_nu])
    return f, g


def _einsum_loops(A, B, x):
    """Loops only, a row of C = A_b B_b at a time: t = 1 - tanh(c)^2, dA_b = T B_b^T + x_b x_b^T, dB_b = A_b^T T.

    Every innermost loop is an axpy over contiguous memory (B_b^T is copied once per batch), so that
    it vectorises without reassociating a sum.
    """
    nb, m, k = A.shape
    p = B.shape[2]
    gA = np.empty_like(A)
    gB = np.zeros_like(B)
    c = np.empty(p)
    Bt = np.empty((p, k))
    f = 0.0
    for b in range(nb):
        Bt[:, :] = B[b].T
        for i in range(m):
            c[:] = 0.0
            xi = x[b, i]
            for q in range(k):
                a = A[b, i, q]
                f += xi * a * x[b, q]
                gA[b, i, q] = xi * x[b, q]
                for j in range(p):
                    c[j] += a * B[b, q, j]
            for j in range(p):
                t = np.tanh(c[j])
                f += t
                c[j] = 1.0 - t * t
            for j in range(p):
                cj = c[j]
                for q in range(k):
                    gA[b, i, q] += cj * Bt[j, q]
            for q in range(k):
                a = A[b, i, q]
                for j in range(p):
                    gB[b, q, j] += a * c[j]
    return f, (gA, gB)


def _einsum_blas(A, B, x):
    """``np.dot`` per batch for the three products, loops for the elementwise parts."""
    nb, m, _ = A.shape
    p = B.shape[2]
    gA = np.empty_like(A)
    gB = np.empty_like(B)
    f = 0.0
    for b in range(nb):
        C = np.dot(A[b], B[b])
        for i in range(m):
            for j in range(p):
                t = np.tanh(C[i, j])
                f += t
                C[i, j] = 1.0 - t * t
        Ax = np.dot(A[b], x[b])
        f += np.dot(x[b], Ax)
        gA[b] = np.dot(C, B[b].T) + np.outer(x[b], x[b])
        gB[b] = np.dot(A[b].T, C)
    return f, (gA, gB)


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------
def jax_setup() -> Any:
    try:
        import jax
        import jax.scipy.linalg
        import jax.scipy.special
        import jax.scipy.stats  # t.logpdf
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def with_jax(fn: Any) -> Any:
    """``fn`` with ``np`` bound to ``jax.numpy`` and ``scipy`` to ``jax.scipy``."""
    import jax
    import jax.numpy as jnp

    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": jnp, "scipy": jax.scipy}, fn.__name__)


def jax_contender(jax: Any, fn: Any, args: tuple[Any, ...], argnums: Any = 0) -> Contender:
    import jax.numpy as jnp

    jf = jax.jit(jax.value_and_grad(with_jax(fn), argnums=argnums))
    return ("jax", jf, tuple(jnp.asarray(a) for a in args), jax.block_until_ready)


# ---------------------------------------------------------------------------
# the measurements
# ---------------------------------------------------------------------------
def dc_contender(dc: Any, fn: Any, wrt: Any, args: tuple[Any, ...]) -> Contender:
    return ("dcompile", dc.value_and_grad(dc.compile(fn), wrt=wrt), args, None)


def as_value_grad(r: Any) -> tuple[float, list[np.ndarray]]:
    """(value, [gradient parts]) as NumPy from any contender's result."""
    value, grad = r
    parts = list(grad) if isinstance(grad, tuple | list) else [grad]
    return float(np.asarray(value)), [np.asarray(g, dtype=np.float64) for g in parts]


def rel_diff(r: tuple[float, list[np.ndarray]], ref: tuple[float, list[np.ndarray]]) -> dict[str, float]:
    """|f - f_ref| / |f_ref| and the largest max |g - g_ref| / max |g_ref| over the gradient's parts (NaN: no match)."""
    fv, gv = r
    f0, g0 = ref
    try:
        grad = max(
            float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300)) for a, b in zip(gv, g0, strict=True)
        )
    except ValueError:  # a gradient of another structure or shape
        grad = float("nan")
    return {"value": abs(fv - f0) / max(abs(f0), 1e-300), "grad": grad}


def measure(
    calls: dict[str, Contender],
    hand_key: str | None,
    *,
    cache: Path,
    samples: int,
    target: float,
    info: dict[str, Any],
) -> dict[str, Any]:
    """First call (compile), agreement with dcompile, round-robin timing and ratios of ``calls``."""
    first: dict[str, float] = {}
    results: dict[str, tuple[float, list[np.ndarray]]] = {}
    errors: dict[str, str] = {}
    for k, (kind, fn, args, block) in calls.items():
        if kind == "dcompile":  # a fresh disk cache: the first call traces, derives, emits and compiles
            os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix=f"{info['problem']}-{k}-", dir=cache)
        try:
            t = time.perf_counter()
            r = fn(*args)
            if block is not None:
                block(r)
            first[k] = time.perf_counter() - t
            results[k] = as_value_grad(r)
        except Exception as exc:  # recorded in the report; the others still run
            errors[k] = f"{type(exc).__name__}: {exc}"
            print(f"    {k}: FAILED {errors[k]}", flush=True)
            traceback.print_exc()
    ok = {k: c for k, c in calls.items() if k in results}
    ref_key = next((k for k, c in ok.items() if c[0] == "dcompile"), None)
    diff = {k: rel_diff(results[k], results[ref_key]) for k in ok} if ref_key else {}
    for k, d in diff.items():
        flag = "" if max(d.values()) <= AGREE else f"  ** above {AGREE:g} **"
        print(f"    {k:22s} vs {ref_key}: value {d['value']:.1e}, grad {d['grad']:.1e}{flag}", flush=True)
    runners = {k: call_runner(fn, *args, block=block) for k, (_, fn, args, block) in ok.items()}
    t = time_round_robin(runners, samples, target)
    jax_key = "jax" if "jax" in ok else None
    over_hand = {k: paired(t, k, hand_key) for k in ok if hand_key in ok}
    over_jax = {k: paired(t, k, jax_key) for k in ok if jax_key}
    compile_s: dict[str, float | None] = {}
    for k, (kind, *_) in ok.items():
        if kind == "jax":
            compile_s[k] = first[k] - t[k]["median_s"]
        elif kind in {"dcompile", "numba"}:
            compile_s[k] = first[k]
        else:
            compile_s[k] = None
    for k in ok:
        print(
            f"    {k:22s} {t[k]['median_s'] * 1e3:10.4f} ms  / hand {_r(over_hand.get(k))}  / jax "
            f"{_r(over_jax.get(k))}  compile {_r(compile_s[k])}",
            flush=True,
        )
    return {
        **info,
        "kinds": {k: c[0] for k, c in calls.items()},
        "hand_reference": hand_key,
        "agreement_reference": ref_key,
        "first_call_s": first,
        "compile_s": compile_s,
        "rel_diff_vs_dcompile": diff,
        "agree_within": {k: bool(max(d.values()) <= AGREE) for k, d in diff.items()},
        "times": t,
        "over_hand": over_hand,
        "over_jax": over_jax,
        "errors": errors,
    }


def bench_gp(dc: Any, jax: Any, n: int, cache: Path, samples: int, target: float) -> dict[str, Any]:  # noqa: PLR0917
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    print(f"[gp] n={n}", flush=True)
    theta, X, y = gp_data(n)
    gpr = GaussianProcessRegressor(kernel=ConstantKernel() * RBF() + WhiteKernel(), alpha=1e-10, optimizer=None)
    gpr.fit(X, y)

    def sklearn_nll(theta):
        lml, grad = gpr.log_marginal_likelihood(theta, eval_gradient=True)
        return -lml, -grad

    calls: dict[str, Contender] = {
        "dc": dc_contender(dc, gp_nll, "theta", (theta, X, y)),
        "hand_inv": ("numba", make_gp_hand(_kinv_numpy), (theta, X, y), None),
        "hand_lapack": ("numba", make_gp_hand(_kinv_lapack), (theta, X, y), None),
        "sklearn": ("numpy", sklearn_nll, (theta,), None),
    }
    if jax is not None:
        calls["jax"] = jax_contender(jax, gp_nll, (theta, X, y))
    info = {"problem": "gp", "n": n, "dim": 2}
    return measure(calls, "hand_lapack", cache=cache, samples=samples, target=target, info=info)


def bench_poisson(dc: Any, jax: Any, size: tuple[int, int], cache: Path, samples: int, target: float) -> dict[str, Any]:  # noqa: PLR0917
    n, d = size
    print(f"[poisson] N={n} d={d}", flush=True)
    w, X, y = poisson_data(n, d)
    const = float(np.sum(scipy.special.gammaln(y + 1.0)))  # the constant term, outside the hand-written calls
    calls: dict[str, Contender] = {
        "dc": dc_contender(dc, poisson_nll, "w", (w, X, y)),
        "hand_rows": ("numba", njit(_poisson_rows), (w, X, y, const), None),
        "hand_blas": ("numba", njit(_poisson_blas), (w, X, y, const), None),
        "hand_blas_gammaln": ("numba", njit(_poisson_blas_gammaln), (w, X, y), None),
    }
    if jax is not None:
        calls["jax"] = jax_contender(jax, poisson_nll, (w, X, y))
    info = {"problem": "poisson", "N": n, "d": d, "gammaln_const": const}
    return measure(calls, "hand_blas", cache=cache, samples=samples, target=target, info=info)


def bench_t(dc: Any, jax: Any, n: int, cache: Path, samples: int, target: float) -> dict[str, Any]:  # noqa: PLR0917
    print(f"[student_t] N={n}", flush=True)
    p, x = t_data(n)
    calls: dict[str, Contender] = {
        "dc": dc_contender(dc, t_nll, "p", (p, x)),
        "dc_stats": dc_contender(dc, t_nll_stats, "p", (p, x)),
        "hand": ("numba", njit(_t_vg), (p, x), None),
    }
    if jax is not None:
        calls["jax"] = jax_contender(jax, t_nll, (p, x))
        calls["jax_stats"] = jax_contender(jax, t_nll_stats, (p, x))
    return measure(calls, "hand", cache=cache, samples=samples, target=target, info={"problem": "student_t", "N": n})


def bench_einsum(dc: Any, jax: Any, shape: tuple[int, ...], cache: Path, samples: int, target: float) -> dict[str, Any]:  # noqa: PLR0917
    nb, m, k, p = shape
    print(f"[einsum] A ({nb}, {m}, {k}), B ({nb}, {k}, {p})", flush=True)
    args = einsum_data(nb, m, k, p)
    calls: dict[str, Contender] = {
        "dc": dc_contender(dc, einsum_obj, ("A", "B"), args),
        "hand_loops": ("numba", njit(_einsum_loops), args, None),
        "hand_blas": ("numba", njit(_einsum_blas), args, None),
    }
    if jax is not None:
        calls["jax"] = jax_contender(jax, einsum_obj, args, argnums=(0, 1))
    info = {"problem": "einsum", "A": [nb, m, k], "B": [nb, k, p], "x": [nb, m]}
    return measure(calls, "hand_loops", cache=cache, samples=samples, target=target, info=info)


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
LABELS = {
    "gp": {
        "dc": '`dc.value_and_grad(dc.compile(gp_nll), wrt="theta")`',
        "hand_inv": "hand-written numba: kernel loops, `np.linalg.cholesky` + `np.linalg.inv`, analytic gradient",
        "hand_lapack": "hand-written numba: kernel loops, LAPACK `dpotrf` + `dpotri`, analytic gradient",
        "sklearn": "scikit-learn `GaussianProcessRegressor.log_marginal_likelihood(theta, eval_gradient=True)`",
        "jax": "JAX `jit(value_and_grad)`, `jax.scipy.linalg.cho_solve`",
    },
    "poisson": {
        "dc": '`dc.value_and_grad(dc.compile(poisson_nll), wrt="w")`',
        "hand_rows": "hand-written numba, row loop (sum gammaln(y+1) precomputed outside)",
        "hand_blas": "hand-written numba, `np.dot` + fused loop (sum gammaln(y+1) precomputed outside)",
        "hand_blas_gammaln": "hand-written numba, `np.dot` + fused loop, gammaln(y+1) in the call",
        "jax": "JAX `jit(value_and_grad)`, `jax.scipy.special.gammaln`",
    },
    "student_t": {
        "dc": "dcompile, explicit formula (`gammaln`, `np.log1p`)",
        "dc_stats": "dcompile, `scipy.stats.t.logpdf`",
        "hand": "hand-written numba, one loop (digamma: SciPy's C `psi`)",
        "jax": "JAX `jit(value_and_grad)`, explicit formula",
        "jax_stats": "JAX `jit(value_and_grad)`, `jax.scipy.stats.t.logpdf`",
    },
    "einsum": {
        "dc": '`dc.value_and_grad(dc.compile(f), wrt=("A", "B"))`',
        "hand_loops": "hand-written numba, loops",
        "hand_blas": "hand-written numba, `np.dot` per batch",
        "jax": "JAX `jit(value_and_grad)`",
    },
}
TITLES = {
    "gp": lambda r: f"Gaussian-process NLL (RBF + white noise), n = {r['n']} points in 2-D, gradient w.r.t. theta (3)",
    "poisson": lambda r: f"Poisson regression NLL with `gammaln`, N = {r['N']:.0e}, d = {r['d']}",
    "student_t": lambda r: f"Student-t NLL in (mu, log sigma, log nu), N = {r['N']:.0e}",
    "einsum": lambda r: f"einsum objective, A {tuple(r['A'])}, B {tuple(r['B'])}, x {tuple(r['x'])}, w.r.t. A and B",
}


def _r(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _diff(d: dict[str, float] | None) -> str:
    if d is None:
        return "—"
    s = f"value {d['value']:.1e}, grad {d['grad']:.1e}"
    return s if max(d.values()) <= AGREE else f"**{s}**"


def table(res: dict[str, Any]) -> list[str]:
    labels = LABELS[res["problem"]]
    slowest = max(v["median_s"] for v in res["times"].values())
    unit, unit_name = (1e-3, "ms per call") if slowest > 1e-3 else (1e-6, "µs per call")
    L = [
        f"| contender | {unit_name} | / hand-written | / JAX | rel. diff vs dcompile | compile (s) |",
        "|---|---|---|---|---|---|",
    ]
    for k, tk in res["times"].items():
        L.append(
            f"| {labels.get(k, k)} | {tk['median_s'] / unit:.4g} | {_r(res['over_hand'].get(k))} | "
            f"{_r(res['over_jax'].get(k))} | {_diff(res['rel_diff_vs_dcompile'].get(k))} | {_r(res['compile_s'][k])} |"
        )
    for k, e in res["errors"].items():
        L.append(f"| {labels.get(k, k)} | failed: `{e}` | | | | |")
    hand = labels.get(res["hand_reference"], res["hand_reference"])
    L += ["", f"/ hand-written: against {hand}."]
    return L


def render(res: dict[str, Any]) -> str:
    mi = res["machine"]
    L = [
        "# Coverage objectives: value and gradient, one thread each",
        "",
        f"Command to reproduce (from the repository root): `{mi['command']}`",
        "",
        f"- date: {mi['date']}",
        f"- machine: {mi['cores']} cores, {mi['cpu']} ({mi['platform']}); load average {res['load_avg'][0]} at the "
        f"start, {res['load_avg'][1]} at the end (a shared machine: absolute times are noisy, ratios are measured "
        "round-robin in one run)",
        f"- python {mi['python']}, numba {mi['numba']}, numpy {mi['numpy']}, jax {mi['jax']}, "
        f"dcompile {mi['dcompile']} (git {mi['git_commit']})",
        "- one thread each: `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`, "
        "`OPENBLAS_NUM_THREADS=1`, `NUMBA_NUM_THREADS=1`, set before import; JAX x64, inputs already JAX "
        "arrays, `block_until_ready` on every call",
        f"- timing: median over {res['settings']['samples']} samples of >= {res['settings']['target_s']} s, "
        "round-robin; `/ hand-written` and `/ JAX` = median of per-sample ratios (< 1: faster)",
        "- compile: dcompile's first call in a fresh `DCOMPILE_CACHE_DIR` (trace, derive, emit, numba); numba's "
        "first call (fresh dispatchers per size); both include one evaluation; JAX's first call minus its "
        "steady-state median; the reference has none",
        f"- rel. diff vs dcompile: |f - f_dc| / |f_dc| and max |g - g_dc| / max |g_dc| (bold: above {AGREE:g})",
        "",
    ]
    if res["settings"]["quick"]:
        L += ["**Quick run** (`--quick`): smaller sizes and fewer samples than the full run.", ""]
    for p in PROBLEMS:
        for r in res.get(p, []):
            L += [f"## {TITLES[p](r)}", "", *table(r), ""]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few samples (< 3 minutes)")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--problems", default=",".join(PROBLEMS), help=f"comma-separated subset of {','.join(PROBLEMS)}")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--target", type=float, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    problems = [p.strip() for p in a.problems.split(",") if p.strip()]
    unknown = set(problems) - set(PROBLEMS)
    if unknown:
        ap.error(f"unknown problems {sorted(unknown)}; choose from {PROBLEMS}")
    samples = a.samples or (3 if a.quick else 7)
    target = a.target or (0.05 if a.quick else 0.2)
    sizes = SIZES["quick" if a.quick else "full"]
    command = " ".join([".venv/bin/python", "benchmarks/bench_coverage.py", *sys.argv[1:]])
    t0 = time.perf_counter()
    load0 = round(os.getloadavg()[0], 2)
    cache = Path(tempfile.mkdtemp(prefix="dcompile-bench-coverage-"))
    os.environ[CACHE_ENV] = str(cache)
    jax = None if a.no_jax else jax_setup()
    import dcompile as dc

    benches = {"gp": bench_gp, "poisson": bench_poisson, "student_t": bench_t, "einsum": bench_einsum}
    res: dict[str, Any] = {"settings": {"quick": a.quick, "samples": samples, "target_s": target, "sizes": sizes}}
    try:
        for p in problems:
            res[p] = [benches[p](dc, jax, size, cache, samples, target) for size in sizes[p]]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    res["machine"] = machine_info(command)
    res["load_avg"] = [load0, round(os.getloadavg()[0], 2)]
    res["wall_s"] = time.perf_counter() - t0
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "coverage.json").write_text(json.dumps(res, indent=2) + "\n")
    md = render(res)
    (a.out / "coverage.md").write_text(md)
    print(md)
    print(f"wrote {a.out / 'coverage.json'} and {a.out / 'coverage.md'} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
