"""Gaussian-process regression: the negative log marginal likelihood, written as NumPy/SciPy, fitted.

scikit-learn's diabetes data (442 patients; inputs: body-mass index and
blood pressure, standardised; target: disease progression after a year,
standardised). The model is scikit-learn's
``ConstantKernel * RBF + WhiteKernel`` with its default jitter
``alpha = 1e-10`` on the diagonal, hyperparameters on the log scale
``theta = log([c, ell, noise])``:

    K = c exp(-|x - x'|^2 / (2 ell^2)) + (noise + 1e-10) I
    NLL(theta) = y^T K^-1 y / 2 + sum log diag(L) + n log(2 pi) / 2,   K = L L^T

The function below is what a user writes: ``np.linalg.cholesky``,
``scipy.linalg.cho_solve``, ``np.diag`` and broadcasting. dcompile traces
it, derives the gradient (through the Cholesky factorisation: Murray's
adjoint, triangular solves) and the Hessian, and compiles them with numba.

Checks (asserted): the value and the gradient equal scikit-learn's
``log_marginal_likelihood(theta, eval_gradient=True)`` (negated) to 1e-9;
L-BFGS from the same start reaches a likelihood at least as high as
scikit-learn's fitted kernel (its own L-BFGS-B), and the two optima agree;
Newton with the compiled Hessian converges to the same point.

    python examples/gaussian_process.py          # all 442 points
    python examples/gaussian_process.py --fast   # the first 120 (what the tests run)
"""

import argparse
import time

import numpy as np
import scipy.linalg
from sklearn.datasets import load_diabetes
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

import dcompile as dc

JITTER = 1e-10  # scikit-learn's default alpha


@dc.compile
def gp_nll(theta, X, y):
    """Negative log marginal likelihood of a GP with an RBF kernel plus white noise."""
    c, ell, noise = np.exp(theta)
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = c * np.exp(-0.5 * sq / ell**2) + (noise + JITTER) * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    alpha = scipy.linalg.cho_solve((L, True), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * X.shape[0] * np.log(2 * np.pi)


def load(n: int | None) -> tuple[np.ndarray, np.ndarray]:
    data = load_diabetes()
    X = data.data[:, [2, 3]]  # bmi, bp
    y = data.target
    if n is not None:
        X, y = X[:n], y[:n]
    return (X - X.mean(axis=0)) / X.std(axis=0), (y - y.mean()) / y.std()


def sklearn_gp() -> GaussianProcessRegressor:
    kernel = ConstantKernel(1.0, (1e-5, 1e5)) * RBF(1.0, (1e-5, 1e5)) + WhiteKernel(1.0, (1e-5, 1e5))
    return GaussianProcessRegressor(kernel, alpha=JITTER, normalize_y=False, n_restarts_optimizer=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the first 120 points only")
    args = parser.parse_args()
    X, y = load(120 if args.fast else None)
    n = X.shape[0]
    theta0 = np.zeros(3)
    print(f"GP on {n} points of the diabetes data (bmi, bp -> progression)")

    # The same likelihood and gradient as scikit-learn at the start.
    gpr = sklearn_gp()
    gpr.fit(X, y)  # scikit-learn's own optimum (L-BFGS-B)
    lml, lml_grad = gpr.log_marginal_likelihood(theta0, eval_gradient=True)
    t0 = time.perf_counter()
    value, grad = dc.value_and_grad(gp_nll, wrt="theta")(theta0, X, y)
    compile_s = time.perf_counter() - t0
    print(f"  NLL at theta = 0:   dcompile {value:.12f}   scikit-learn {-lml:.12f}")
    print(f"  gradient:           dcompile {np.array2string(grad, precision=9)}")
    print(f"                      sklearn  {np.array2string(-lml_grad, precision=9)}")
    assert abs(value + lml) <= 1e-9 * max(1.0, abs(lml))
    np.testing.assert_allclose(grad, -lml_grad, rtol=1e-9, atol=1e-9)

    # Fit with dcompile's L-BFGS and compare with scikit-learn's fitted kernel.
    res = dc.minimize(gp_nll, theta0, args=(X, y), method="lbfgs", options={"gtol": 1e-8})
    sk_theta = gpr.kernel_.theta
    sk_nll = -gpr.log_marginal_likelihood(sk_theta)
    print(f"  L-BFGS:  {res.message}  nit {res.nit}, NLL {res.fun:.10f} at exp(theta) = {np.exp(res.x)}")
    print(f"  sklearn: NLL {sk_nll:.10f} at exp(theta) = {np.exp(sk_theta)}")
    assert res.success
    assert res.fun <= sk_nll + 1e-7, "dcompile's optimum should be at least as good as scikit-learn's"
    np.testing.assert_allclose(res.x, sk_theta, atol=2e-3)

    # Newton with the exact Hessian (forward over reverse through the Cholesky adjoint).
    H = dc.hessian(gp_nll, wrt="theta")(res.x, X, y)
    print(f"  Hessian at the optimum: eigenvalues {np.linalg.eigvalsh(H)} (positive: a minimum)")
    assert np.all(np.linalg.eigvalsh(H) > 0)
    newton = dc.minimize(gp_nll, theta0, args=(X, y), method="newton", options={"gtol": 1e-8})
    print(f"  Newton:  {newton.message}  nit {newton.nit}, NLL {newton.fun:.10f}")
    assert newton.success and abs(newton.fun - res.fun) <= 1e-8 * max(1.0, abs(res.fun))

    # Per-call cost of value + gradient against scikit-learn's (NumPy/SciPy) implementation.
    vg = dc.value_and_grad(gp_nll, wrt="theta")
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        vg(res.x, X, y)
    dc_s = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for _ in range(reps):
        gpr.log_marginal_likelihood(res.x, eval_gradient=True)
    sk_s = (time.perf_counter() - t0) / reps
    print(f"  value + gradient per call: dcompile {dc_s * 1e3:.2f} ms, scikit-learn {sk_s * 1e3:.2f} ms "
          f"(first call incl. compile {compile_s:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
