"""Count regression with ``gammaln``: Poisson and negative-binomial likelihoods, fitted and checked.

scikit-learn's diabetes data: the target (disease progression, integers
25..346) as a count, ten standardised covariates and an intercept. Two
likelihoods, written the way a statistician writes them:

* Poisson, the full log-likelihood with the ``log y!`` term by
  ``scipy.special.gammaln``: the maximum-likelihood coefficients must match
  ``sklearn.linear_model.PoissonRegressor(alpha=0)`` (which minimises the
  mean deviance: the same minimiser): the same log-likelihood to 1e-9 and coefficients
  to 1e-5 (two covariates are nearly collinear);
* negative binomial (NB2, mean ``mu``, dispersion ``1/r`` on the log
  scale), through ``scipy.stats.nbinom.logpmf`` itself: the fit must match
  SciPy's ``minimize`` (L-BFGS-B on SciPy's own ``nbinom.logpmf`` with
  finite-difference gradients) to 1e-4 in the parameters, with a
  log-likelihood at least as high, and the counts' overdispersion must show
  (the NB fit far better than the Poisson one).

    python examples/poisson_regression.py
    python examples/poisson_regression.py --fast   # the first 150 patients (what the tests run)
"""

import argparse

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats
from sklearn.datasets import load_diabetes
from sklearn.linear_model import PoissonRegressor

import dcompile as dc


@dc.compile
def poisson_nll(w, X, y):
    """-log L of y ~ Poisson(exp(X w)) (the intercept is the last column of X)."""
    eta = X @ w
    return np.sum(np.exp(eta) - y * eta + scipy.special.gammaln(y + 1.0))


@dc.compile
def nbinom_nll(params, X, y):
    """-log L of y ~ NB(mean exp(X w), dispersion exp(log_alpha)); params = (w, log_alpha)."""
    w, log_alpha = params[:-1], params[-1]
    mu = np.exp(X @ w)
    r = np.exp(-log_alpha)  # the number of "successes"; variance mu + alpha mu^2
    return -np.sum(scipy.stats.nbinom.logpmf(y, r, r / (r + mu)))


def load(n: int | None) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    if n is not None:
        X, y = X[:n], y[:n]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return np.hstack([X, np.ones((X.shape[0], 1))]), y.astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the first 150 patients only")
    args = parser.parse_args()
    Xb, y = load(150 if args.fast else None)
    n, d = Xb.shape
    print(f"count regression on {n} patients, {d - 1} covariates + intercept")

    # Poisson: dcompile's L-BFGS vs scikit-learn.
    w0 = np.zeros(d)
    w0[-1] = np.log(y.mean())
    res = dc.minimize(poisson_nll, w0, args=(Xb, y), method="lbfgs", options={"gtol": 1e-9})
    sk = PoissonRegressor(alpha=0.0, max_iter=10_000, tol=1e-12).fit(Xb[:, :-1], y)
    sk_w = np.append(sk.coef_, sk.intercept_)
    sk_nll = float(poisson_nll(sk_w, Xb, y))
    grad_sk = np.max(np.abs(dc.grad(poisson_nll, wrt="w")(sk_w, Xb, y)))
    print(f"  Poisson  {res.message}  nit {res.nit}, -log L {res.fun:.9f}, |gradient| {np.max(np.abs(res.jac)):.1e}")
    print(f"           scikit-learn: -log L {sk_nll:.9f}, |gradient| {grad_sk:.1e}; "
          f"max |w - w_sklearn| = {np.max(np.abs(res.x - sk_w)):.2e}")  # fmt: skip
    assert res.success
    assert res.fun <= sk_nll + 1e-9 * sk_nll
    # s1 and s2 (total and LDL cholesterol) are nearly collinear: the coefficients agree to the
    # conditioning of the problem, the likelihoods to rounding.
    np.testing.assert_allclose(res.x, sk_w, atol=1e-5)

    # Negative binomial: dcompile's L-BFGS vs SciPy's minimize on SciPy's own logpmf.
    p0 = np.append(res.x, 0.0)
    nb = dc.minimize(nbinom_nll, p0, args=(Xb, y), method="lbfgs")

    def scipy_nll(p: np.ndarray) -> float:
        mu = np.exp(Xb @ p[:-1])
        r = np.exp(-p[-1])
        return -np.sum(scipy.stats.nbinom.logpmf(y, r, r / (r + mu)))

    ref = scipy.optimize.minimize(
        scipy_nll, p0, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000}
    )
    print(f"  NB2      {nb.message}  nit {nb.nit}, -log L {nb.fun:.6f}, alpha = {np.exp(nb.x[-1]):.4f}")
    print(f"           SciPy L-BFGS-B (finite differences): -log L {ref.fun:.6f} after {ref.nfev} evaluations")
    print(f"           max |params - params_scipy| = {np.max(np.abs(nb.x - ref.x)):.2e}")
    assert nb.success
    assert nb.fun <= ref.fun + 1e-6
    np.testing.assert_allclose(nb.x, ref.x, atol=1e-4)
    assert nb.fun < res.fun - 100.0, "the counts are overdispersed: NB must fit far better than Poisson"
    g = dc.grad(nbinom_nll, wrt="params")(nb.x, Xb, y)
    print(f"           |gradient| at the optimum {np.max(np.abs(g)):.1e}; "
          f"Poisson vs NB deviance gap {2 * (res.fun - nb.fun):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
