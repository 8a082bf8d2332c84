"""Nonlinear least squares: fit an exponential decay to noisy data with Newton and L-BFGS.

Model y(t) = A exp(-k t) + c, data with Gaussian noise (sigma = 0.05, seeded).
The objective is half the sum of squared residuals,

    S(p) = 1/2 sum_i (A exp(-k t_i) + c - y_i)^2,   p = (A, k, c),

with the data (t, y) passed as arguments, so one compiled objective fits any
data set of the same length. Newton uses the exact Hessian of S (not the
Gauss-Newton J^T J); L-BFGS only the gradient. The standard errors come from
the same Hessian at the optimum, cov = s^2 H^-1 with s^2 = 2 S / (N - 3), and
scipy.optimize.curve_fit (Levenberg-Marquardt, finite-difference Jacobian)
is the reference.

    python examples/curve_fit.py          # writes docs/curve_fit.png
    python examples/curve_fit.py --fast   # no plot (what the tests run)
"""

import argparse
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit

import dcompile as dc

TRUE = np.array([2.5, 1.3, 0.4])  # A, k, c
SIGMA = 0.05


@dc.compile
def sse(p, t, y):
    r = p[0] * np.exp(-p[1] * t) + p[2] - y
    return 0.5 * np.dot(r, r)


def data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 4.0, n)
    y = TRUE[0] * np.exp(-TRUE[1] * t) + TRUE[2] + SIGMA * rng.normal(size=n)
    return t, y


def fit(t: np.ndarray, y: np.ndarray) -> dict:
    p0 = np.array([1.0, 0.1, 0.0])  # a poor start: ten times too slow a decay
    print(f"y = A exp(-k t) + c, N = {len(t)} points, noise sigma = {SIGMA}; true (A, k, c) = {tuple(TRUE.tolist())}")
    print(f"start p0 = {tuple(p0.tolist())}, S(p0) = {sse(p0, t, y):.3f}\n")
    fits = {}
    for method in ("newton", "lbfgs"):
        res = dc.minimize(sse, p0, args=(t, y), method=method, options={"gtol": 1e-10})
        fits[method] = res
        A, k, c = res.x
        print(f"  {method:<7} {res.nit:3d} iterations, {res.nfev:3d} evaluations, S = {res.fun:.10f}, "
              f"(A, k, c) = ({A:.6f}, {k:.6f}, {c:.6f})  {'ok' if res.success else res.message}")  # fmt: skip
        assert res.success, res.message
    p_ref, cov_ref = curve_fit(lambda t, A, k, c: A * np.exp(-k * t) + c, t, y, p0=p0)
    print(f"  scipy curve_fit         S = {sse(p_ref, t, y):.10f}, "
          f"(A, k, c) = ({p_ref[0]:.6f}, {p_ref[1]:.6f}, {p_ref[2]:.6f})")  # fmt: skip
    best = fits["newton"].x
    assert np.allclose(fits["lbfgs"].x, best, atol=1e-7)
    assert np.allclose(p_ref, best, atol=1e-5)

    H = dc.hessian(sse, wrt="p")(best, t, y)  # the exact Hessian of S at the optimum
    s2 = 2.0 * fits["newton"].fun / (len(t) - 3)
    stderr = np.sqrt(np.diag(s2 * np.linalg.inv(H)))
    print("\n  parameter  estimate  std. error from dcompile's Hessian  from curve_fit  true")
    for i, name in enumerate("Akc"):
        print(f"  {name:<9}  {best[i]:8.5f}  {stderr[i]:33.5f}  {np.sqrt(cov_ref[i, i]):14.5f}  {TRUE[i]:4.2f}")
    assert np.all(np.abs(best - TRUE) < 4.0 * stderr)  # the truth lies within the error bars
    assert np.allclose(stderr, np.sqrt(np.diag(cov_ref)), rtol=0.05)
    return {"t": t, "y": y, "p": best, "fits": fits}


def plot(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, y, p = out["t"], out["y"], out["p"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax.plot(t, y, ".", ms=3, color="0.5", label="data")
    ax.plot(t, p[0] * np.exp(-p[1] * t) + p[2], color="tab:red", label=f"fit A={p[0]:.3f} k={p[1]:.3f} c={p[2]:.3f}")
    ax.set_xlabel("t")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    for method, res in out["fits"].items():
        f = res.history["f"]
        ax2.semilogy(np.arange(len(f)), f - out["fits"]["newton"].fun + 1e-16, marker=".", label=method)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("S(p_k) - S(p*)")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="no plot (the tests)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "curve_fit.png")
    args = parser.parse_args()
    out = fit(*data())
    if args.fast:
        return
    try:
        plot(out, args.out)
    except ImportError:
        print("\nmatplotlib is not installed: no figure (pip install matplotlib)")


if __name__ == "__main__":
    main()
