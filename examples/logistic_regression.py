"""L2-regularised logistic regression on scikit-learn's breast-cancer data: L-BFGS and the two SGD regimes.

The objective is a finite sum over the N = 569 samples (30 standardised
features, labels in {-1, +1}, an intercept column of ones appended, so
w = (weights, intercept)) with an L2 term on the weights only:

    F(w) = (1/N) sum_i log(1 + exp(-y_i x_i.w)) + (lam/2) |w[:-1]|^2

This is scikit-learn's problem 0.5 |coef|^2 + C sum_i log(1 + exp(-y_i (x_i.coef + b)))
(intercept unpenalised) divided by C N, with C = 1 / (N lam): the same
minimiser. L-BFGS must match ``LogisticRegression(C=C)`` to 1e-6 in the
objective. Then SGD (batch 32) reproduces section 3 of the seed notes:

- a constant step h stalls at a suboptimality that grows with h;
- the step h0 / (k + t0) keeps converging: the last iterate steadily, the
  step-weighted average sum a_k w_k / sum a_k (what the bound is stated for)
  slowly, since the early, large steps keep a large weight in it.

    python examples/logistic_regression.py            # also writes docs/sgd_regimes.png
    python examples/logistic_regression.py --no-plot  # numbers only (what the tests run)
"""

import argparse
import itertools
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import dcompile as dc

LAM = 1e-2  # L2 weight (mean loss); scikit-learn's C = 1 / (N * LAM)
CONSTANT_STEPS = (0.25, 0.5, 1.0, 2.0)
INVERSE = {"h0": 100.0, "t0": 100.0}  # a_k = h0 / (k + t0): a_1 ~ 1, a_5400 ~ 0.018
BATCH = 32
EPOCHS = 300
SHOW = (1, 5, 10, 25, 50, 100, 150, 200, 250, 300)  # epochs in the table


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, label = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = np.where(label == 1, 1.0, -1.0)
    Xb = np.hstack([X, np.ones((X.shape[0], 1))])  # last column: the intercept
    return X, Xb, y


@dc.compile
def nll_one(w, x, y):
    return np.logaddexp(0.0, -y * (x @ w))


l2 = dc.compile(lambda w: 0.5 * LAM * np.dot(w[:-1], w[:-1]), name="l2_weights")


def fit_and_compare(obj, X: np.ndarray, Xb: np.ndarray, y: np.ndarray) -> float:
    """L-BFGS with dcompile vs scikit-learn on the same problem; returns F(w*)."""
    n, d = Xb.shape
    res = dc.minimize(obj, np.zeros(d), method="lbfgs", options={"gtol": 1e-10})
    C = 1.0 / (n * LAM)
    sk = LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=10000).fit(X, y)
    w_sk = np.r_[sk.coef_.ravel(), sk.intercept_]

    def sklearn_objective(w):  # scikit-learn's own scaling
        return 0.5 * w[:-1] @ w[:-1] + C * np.logaddexp(0.0, -y * (Xb @ w)).sum()

    f_dc, f_sk = obj(res.x), obj(w_sk)
    rel = abs(f_dc - f_sk) / abs(f_sk)
    print(f"breast cancer: N = {n}, {d - 1} features + intercept, lam = {LAM:g} (scikit-learn C = {C:.6g})")
    print(f"  dcompile L-BFGS : {res.nit} iterations, |grad| = {np.linalg.norm(res.jac):.1e}")
    print(f"  scikit-learn    : {int(sk.n_iter_[0])} iterations (lbfgs, tol 1e-12)")
    print(f"  F(w) (mean loss + lam/2 |w|^2)   dcompile {f_dc:.15f}   scikit-learn {f_sk:.15f}")
    print(f"  C N F(w) (scikit-learn scaling)  dcompile {sklearn_objective(res.x):.12f}   "
          f"scikit-learn {sklearn_objective(w_sk):.12f}")  # fmt: skip
    print(f"  relative difference {rel:.1e}, max |w_dc - w_sk| = {np.abs(res.x - w_sk).max():.1e}")
    assert rel < 1e-6, rel
    assert f_dc <= f_sk * (1.0 + 1e-12)  # dcompile's solution is at least as good
    return f_dc


def run_sgd(obj, f_star: float, n_params: int) -> dict[str, dict[str, np.ndarray]]:
    """Suboptimality per epoch (last iterate, and step-weighted average) of each run."""
    w0 = np.zeros(n_params)
    runs: dict[str, dict[str, np.ndarray]] = {}
    for h in CONSTANT_STEPS:
        res = dc.sgd(obj, w0, batch_size=BATCH, epochs=EPOCHS, schedule=h, averaging="step_weighted", seed=0)
        runs[f"constant h={h:g}"] = {"last": res.history["loss"] - f_star, "avg": res.history["loss_avg"] - f_star}
    sched = dc.schedules.inverse(**INVERSE)
    res = dc.sgd(obj, w0, batch_size=BATCH, epochs=EPOCHS, schedule=sched, averaging="step_weighted", seed=0)
    name = f"h0/(k+t0), h0={INVERSE['h0']:g}, t0={INVERSE['t0']:g}"
    runs[name] = {"last": res.history["loss"] - f_star, "avg": res.history["loss_avg"] - f_star}
    return runs


def report(runs: dict[str, dict[str, np.ndarray]], n: int) -> None:
    print(f"\nSGD, batch {BATCH} ({-(-n // BATCH)} steps per epoch), w0 = 0, seed 0: F(w) - F(w*) after each epoch")
    print("  last = the last iterate; avg = the step-weighted average sum a_k w_k / sum a_k")
    header = f"  {'run':<28} {'':>4}" + "".join(f"{e:>9}" for e in SHOW)
    print(header)
    for name, sub in runs.items():
        for kind in ("last", "avg"):
            cells = "".join(f"{sub[kind][e - 1]:9.1e}" for e in SHOW)
            print(f"  {name if kind == 'last' else '':<28} {kind:>4}{cells}")
    tail = EPOCHS // 3
    print(f"\nplateau of the last iterate (mean suboptimality over the last {tail} epochs):")
    plateaus = []
    for name, sub in list(runs.items())[: len(CONSTANT_STEPS)]:
        plateaus.append(sub["last"][-tail:].mean())
        print(f"  {name:<28} {plateaus[-1]:.2e}")
    *_, (inv_name, inv) = runs.items()
    print(f"  {inv_name:<28} {inv['last'][-tail:].mean():.2e}  (last epoch {inv['last'][-1]:.1e}, "
          f"step-weighted average {inv['avg'][-1]:.1e})")  # fmt: skip
    # The two regimes: constant steps stall higher for larger h; h/k keeps decreasing.
    assert all(a < b for a, b in itertools.pairwise(plateaus)), plateaus
    assert inv["last"][-tail:].mean() < plateaus[0]
    assert inv["avg"][-1] < inv["avg"][EPOCHS // 3 - 1] < inv["avg"][9]


def plot(runs: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, EPOCHS + 1)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(CONSTANT_STEPS)))
    items = list(runs.items())
    for (name, sub), color in zip(items[: len(CONSTANT_STEPS)], colors, strict=True):
        ax.plot(epochs, sub["last"], color=color, lw=0.8, alpha=0.8, label=f"{name} (last iterate)")
        tail = EPOCHS // 3  # the plateau: the mean over the last third, as printed
        ax.hlines(sub["last"][-tail:].mean(), EPOCHS - tail + 1, EPOCHS, color=color, lw=2.5)
    inv_name, inv = items[-1]
    ax.plot(epochs, inv["last"], color="tab:red", lw=1.5, label=f"{inv_name} (last iterate)")
    ax.plot(epochs, inv["avg"], color="tab:red", lw=1.5, ls="--", label=f"{inv_name} (step-weighted average)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("F(w) - F(w*)")
    ax.set_title(f"SGD on L2 logistic regression (breast cancer, batch {BATCH}); bars: plateau means")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-plot", action="store_true", help="skip the figure (docs/sgd_regimes.png)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "sgd_regimes.png")
    args = parser.parse_args()
    X, Xb, y = load()
    obj = dc.finite_sum(nll_one, data=(Xb, y), mean=True, regularizer=l2)
    f_star = fit_and_compare(obj, X, Xb, y)
    runs = run_sgd(obj, f_star, Xb.shape[1])
    report(runs, Xb.shape[0])
    if args.no_plot:
        return
    try:
        plot(runs, args.out)
    except ImportError:
        print("\nmatplotlib is not installed: no figure (pip install matplotlib)")


if __name__ == "__main__":
    main()
