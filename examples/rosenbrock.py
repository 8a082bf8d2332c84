"""Rosenbrock's function with every optimizer of ``dc.minimize``, and a convergence plot.

f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, minimum 0 at x = (1, ..., 1)
(for n >= 4 also a local minimum with f ~ 3.99 near x[0] = -1), from the classic
start (-1.2, 1) repeated. One compiled objective; each method runs its whole
iteration loop in numba:

- ``lbfgs``, ``bfgs``: quasi-Newton (limited-memory / dense), strong Wolfe line search;
- ``newton``: the exact Hessian (Cholesky, shifted where it is not positive definite);
- ``newton-cg``: truncated conjugate gradients on Hessian-vector products;
- ``gd``: steepest descent with Armijo backtracking, and with the strong Wolfe search.

    python examples/rosenbrock.py                # n = 10, writes docs/rosenbrock_convergence.png
    python examples/rosenbrock.py --n 100        # a larger problem
    python examples/rosenbrock.py --fast         # n = 2, no plot (what the tests run)
"""

import argparse
from pathlib import Path

import numpy as np

import dcompile as dc


@dc.compile
def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


RUNS = (  # label, dc.minimize keywords
    ("lbfgs", {"method": "lbfgs"}),
    ("bfgs", {"method": "bfgs"}),
    ("newton", {"method": "newton"}),
    ("newton-cg", {"method": "newton-cg"}),
    ("gd, Armijo", {"method": "gd", "line_search": "armijo"}),
    ("gd, Wolfe", {"method": "gd", "line_search": "wolfe"}),
)


def run_all(n: int, maxiter: int) -> dict:
    x0 = np.tile([-1.2, 1.0], n // 2)
    print(f"Rosenbrock, n = {n}, from (-1.2, 1, ...): f(x0) = {rosen(x0):.1f}, gtol = 1e-8 on max |g_i|")
    print(f"  {'method':<11} {'iterations':>10} {'f evals':>8} {'H evals':>8} {'f(x)':>10} {'max|x-1|':>9}  message")
    results = {}
    for label, kw in RUNS:
        res = dc.minimize(rosen, x0, options={"gtol": 1e-8, "maxiter": maxiter}, **kw)
        results[label] = res
        err = np.abs(res.x - 1.0).max()
        print(f"  {label:<11} {res.nit:>10} {res.nfev:>8} {res.nhev:>8} {res.fun:>10.2e} {err:>9.1e}  {res.message}")
    for label in ("lbfgs", "bfgs", "newton", "newton-cg"):  # the second-order methods all reach a minimum
        res = results[label]
        assert res.success, label
        # For n >= 4 Rosenbrock has a second local minimum (f ~ 3.99, x[0] ~ -1); from this start Newton's
        # first steps can fall into it. Either way the Hessian there is positive definite.
        assert np.allclose(res.x, 1.0, atol=1e-6) or (n >= 4 and abs(res.fun - 3.9866) < 1e-3), label
        if not np.allclose(res.x, 1.0, atol=1e-6):
            print(f"  ({label} stopped at the other local minimum: f = {res.fun:.6f}, x[0] = {res.x[0]:.4f})")
    for label in ("gd, Armijo", "gd, Wolfe"):  # steepest descent crawls along the valley but goes downhill
        assert results[label].fun < 1e-2 * rosen(x0), label
    return results


def plot(results: dict, n: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, res in results.items():
        f = res.history["f"]
        where = "" if res.fun < 1e-6 else ", local min."
        ax.plot(np.arange(len(f)), np.maximum(f, 1e-30), label=f"{label} ({res.nit} it.{where})", lw=1.5)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("f(x_k)  (f* = 0)")
    ax.set_title(f"dc.minimize on Rosenbrock, n = {n}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="dimension (even)")
    parser.add_argument("--fast", action="store_true", help="n = 2 and no plot (the tests)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "rosenbrock.png")
    args = parser.parse_args()
    n = 2 if args.fast else args.n
    results = run_all(n, maxiter=50_000)
    if args.fast or args.no_plot:
        return
    try:
        plot(results, n, args.out)
    except ImportError:
        print("\nmatplotlib is not installed: no figure (pip install matplotlib)")


if __name__ == "__main__":
    main()
