"""Student-t likelihoods: a location-scale-df fit against ``scipy.stats.t.fit``, and robust regression.

scikit-learn's diabetes data again: LDL cholesterol (``s2``) explained by
the nine other baseline measurements (standardised). It is almost a linear
function of total and HDL cholesterol, but not for a few patients: the
least-squares residuals are heavy-tailed (kurtosis ~ 11). First the
residuals are modelled as Student-t with unknown degrees of freedom,
location and scale; the maximum-likelihood fit
must agree with ``scipy.stats.t.fit`` (SciPy's own optimiser on the same
likelihood) to 1e-4 with a log-likelihood at least as high. Then the
regression itself with t errors (robust to the outliers least squares
chases), against SciPy's ``minimize`` on SciPy's ``t.logpdf``. The
likelihood is written with ``scipy.stats.t.logpdf``; its parameters are on
unconstrained scales (``log sigma``, ``log(nu - 1)``).

    python examples/student_t.py
    python examples/student_t.py --fast   # the first 200 patients (what the tests run)
"""

import argparse

import numpy as np
import scipy.optimize
import scipy.stats
from sklearn.datasets import load_diabetes

import dcompile as dc


@dc.compile
def t_nll(params, r):
    """-log L of r ~ t(nu, loc, sigma); params = (loc, log sigma, log(nu - 1))."""
    loc, log_sigma, log_nu1 = params[0], params[1], params[2]
    return -np.sum(scipy.stats.t.logpdf(r, 1.0 + np.exp(log_nu1), loc, np.exp(log_sigma)))


@dc.compile
def t_regression_nll(params, X, y, nu):
    """-log L of y ~ t(nu, X w, sigma) for a fixed nu; params = (w, log sigma)."""
    w, sigma = params[:-1], np.exp(params[-1])
    return -np.sum(scipy.stats.t.logpdf(y, nu, X @ w, sigma))


def load(n: int | None) -> tuple[np.ndarray, np.ndarray]:
    data = load_diabetes().data
    if n is not None:
        data = data[:n]
    y = data[:, 5]  # s2: LDL cholesterol
    X = np.delete(data, 5, axis=1)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return np.hstack([X, np.ones((X.shape[0], 1))]), (y - y.mean()) / y.std()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the first 200 patients only")
    args = parser.parse_args()
    Xb, y = load(200 if args.fast else None)
    n = Xb.shape[0]
    w_ls = np.linalg.lstsq(Xb, y, rcond=None)[0]
    r = y - Xb @ w_ls
    print(f"Student-t fits on {n} patients")

    # 1. t.fit of the least-squares residuals.
    res = dc.minimize(t_nll, np.array([0.0, np.log(r.std()), np.log(2.0)]), args=(r,), method="newton",
                      options={"gtol": 1e-10})  # fmt: skip
    df, loc, scale = scipy.stats.t.fit(r)
    ours = np.array([1.0 + np.exp(res.x[2]), res.x[0], np.exp(res.x[1])])
    sp_nll = -np.sum(scipy.stats.t.logpdf(r, df, loc, scale))
    print(f"  t.fit:    dcompile (Newton, {res.nit} iterations) nu {ours[0]:.6f} loc {ours[1]:.6f} scale {ours[2]:.6f}"
          f"  -log L {res.fun:.9f}")  # fmt: skip
    print(f"            scipy.stats.t.fit                  nu {df:.6f} loc {loc:.6f} scale {scale:.6f}"
          f"  -log L {sp_nll:.9f}")  # fmt: skip
    assert res.success and res.fun <= sp_nll + 1e-7
    np.testing.assert_allclose(ours, [df, loc, scale], rtol=1e-3, atol=1e-4)

    # 2. Robust regression with t errors (nu = 4, the usual robust choice; the free-nu fit runs to
    # the Cauchy boundary nu -> 1 on these data).
    nu = 4.0
    p0 = np.append(w_ls, np.log(r.std()))
    fit = dc.minimize(t_regression_nll, p0, args=(Xb, y, nu), method="lbfgs", options={"gtol": 1e-9})

    def scipy_nll(p: np.ndarray) -> float:
        return -np.sum(scipy.stats.t.logpdf(y, nu, Xb @ p[:-1], np.exp(p[-1])))

    ref = scipy.optimize.minimize(
        scipy_nll, p0, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000}
    )
    print(f"  regression (nu = 4): dcompile {fit.message}  nit {fit.nit}, -log L {fit.fun:.9f}")
    print(f"              SciPy L-BFGS-B (finite differences): -log L {ref.fun:.9f} after {ref.nfev} evaluations")
    print(f"              max |params - params_scipy| = {np.max(np.abs(fit.x - ref.x)):.2e}")
    assert fit.success and fit.fun <= ref.fun + 1e-7
    np.testing.assert_allclose(fit.x, ref.x, atol=2e-4)
    H = dc.hessian(t_regression_nll, wrt="params")(fit.x, Xb, y, nu)
    se = np.sqrt(np.diag(np.linalg.inv(H)))
    print("              standard errors of the coefficients (from the compiled Hessian):",
          np.array2string(se[:-1], precision=3))  # fmt: skip
    print(
        f"              least squares moved by the outliers: max |w_t - w_ls| = {np.max(np.abs(fit.x[:-1] - w_ls)):.3f}"
    )


if __name__ == "__main__":
    main()
