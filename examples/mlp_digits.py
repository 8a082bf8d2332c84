"""A one-hidden-layer neural network on the digits data: parameters as a dict, trained with ``dc.adam``.

scikit-learn's digits data (1797 images of 8x8 pixels, values 0..16, ten
classes), scaled to [0, 1] (X / 16) and split 75/25 (``random_state=0``).
The network is a dict of arrays, ``params = {"W1", "b1", "W2", "b2"}``: 64
inputs, 32 tanh units, 10 outputs, the softmax cross-entropy of one sample
written with ``dc.logsumexp``:

    z(x) = tanh(x W1 + b1) W2 + b2
    loss(params, x, t) = logsumexp(z) - z . t          (t: the one-hot label)
    F(params) = (1/N) sum_i loss(params, x_i, t_i) + alpha / (2 B) (|W1|^2 + |W2|^2)

``F`` is ``dc.finite_sum(loss, (X_train, T_train), mean=True, regularizer=l2)``:
the per-sample loss and its gradient compiled once, with the loops over rows
and Adam's epoch loop generated around them. The L2 term is scikit-learn's:
``MLPClassifier`` adds ``0.5 alpha |W|^2 / |B|`` to the mean loss of each
mini-batch ``B`` (weights only, not the biases), so with ``|B| = B`` the two
optimizers minimise the same function.

Checks (asserted): the gradient w.r.t. the dict (``dc.grad(loss,
wrt="params")``, a dict like ``params``) against central differences on one
entry of each array, and ``dc.check_grad`` on the raveled loss; the objective
``dc.adam`` reports equals a NumPy evaluation of ``F``; a second ``dc.adam``
run from the same start and seed gives the same weights; dcompile's test
accuracy is at least 0.9 (above 0.5 with ``--fast``).

The comparison: ``MLPClassifier(hidden_layer_sizes=(32,), activation="tanh",
solver="adam")`` with the same alpha, batch size, learning rate and number
of epochs (``n_iter_no_change`` set so that it runs them all). Both start
from the same weights (Glorot uniform, drawn from ``RandomState(0)`` in the
order scikit-learn draws its own: the same numbers); each shuffles the rows
with its own generator, and scikit-learn's Adam adds its ``eps`` to
``sqrt(v)`` before the bias correction, dcompile's after. Reported: test
accuracy, the training objective ``F`` at each optimizer's weights, and wall
times: dcompile's first run (tracing, derivation and numba compilation, or
loading them from the disk cache, plus training), its compile time (the
first run less the median training run), and the median of three further
runs of each optimizer (training alone). Per-epoch losses are not recorded
(``history=False``); scikit-learn's come free with its batches.

    python examples/mlp_digits.py          # 200 epochs
    python examples/mlp_digits.py --fast   # 10 epochs (what the tests run)
"""

import argparse
import itertools
import statistics
import time
import warnings
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import dcompile as dc

HIDDEN = 32
ALPHA = 1e-4  # scikit-learn's default L2 weight
BATCH = 32
LR = 1e-3  # a constant Adam step (scikit-learn's learning_rate_init)
EPOCHS, FAST_EPOCHS = 200, 10
REPEATS = 3  # timed training runs of each optimizer after the first


@dc.compile
def loss(params, x, t):
    """Softmax cross-entropy of one sample: -log softmax(z)[label] with t the one-hot label."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    z = h @ params["W2"] + params["b2"]
    return dc.logsumexp(z) - z @ t


@dc.compile
def l2(params):
    """scikit-learn's penalty on the weights (not the biases), per mini-batch of BATCH rows."""
    return 0.5 * ALPHA / BATCH * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    return X_train, X_test, y_train, y_test


def init_params(seed: int, sizes: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Glorot-uniform weights and biases, bound sqrt(6 / (fan_in + fan_out)), drawn as scikit-learn draws them."""
    rng = np.random.RandomState(seed)
    params = {}
    for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{k}"] = rng.uniform(-bound, bound, (fan_in, fan_out))
        params[f"b{k}"] = rng.uniform(-bound, bound, fan_out)
    return params


def logits(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return np.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def accuracy(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits(params, X), axis=1) == y))


def objective(params: dict[str, np.ndarray], X: np.ndarray, T: np.ndarray) -> float:
    """F in NumPy, over all rows at once: the reference for dcompile's value."""
    z = logits(params, X)
    zmax = z.max(axis=1, keepdims=True)
    lse = zmax[:, 0] + np.log(np.sum(np.exp(z - zmax), axis=1))
    reg = 0.5 * ALPHA / BATCH * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    return float(np.mean(lse - np.sum(z * T, axis=1)) + reg)


def check_gradient(params: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray) -> None:
    """The gradient w.r.t. the dict against central differences, one entry of each array."""
    grads = dc.grad(loss, wrt="params")(params, x, t)
    assert set(grads) == set(params)
    h = 1e-6
    worst = 0.0
    for key, entry in (("W1", (int(np.argmax(x)), 5)), ("b1", (7,)), ("W2", (3, 4)), ("b2", (2,))):
        up = {k: v.copy() for k, v in params.items()}
        down = {k: v.copy() for k, v in params.items()}
        up[key][entry] += h
        down[key][entry] -= h
        fd = (loss(up, x, t) - loss(down, x, t)) / (2 * h)
        worst = max(worst, abs(grads[key][entry] - fd) / max(1.0, abs(fd)))
    vector, unravel = dc.ravel(params)
    raveled = dc.compile(lambda w, x, t: loss(unravel(w), x, t), name="loss_flat")
    report = dc.check_grad(raveled, vector, x, t, wrt="w", order=1)
    rel = max(report.errors.values())
    print(f"gradient w.r.t. the dict: vs central differences {worst:.1e}; dc.check_grad (raveled) {rel:.1e}")
    assert worst < 1e-7, worst


def fit_dcompile(obj: dc.FiniteSum, p0: dict[str, np.ndarray], epochs: int) -> tuple[Any, float, list[float]]:
    def run():
        return dc.adam(obj, p0, epochs=epochs, batch_size=BATCH, schedule=LR, seed=0, history=False)

    t0 = time.perf_counter()
    res = run()
    first = time.perf_counter() - t0
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        again = run()
        times.append(time.perf_counter() - t0)
        assert all(np.array_equal(again.x[k], res.x[k]) for k in res.x), "a seeded run is reproducible"
    return res, first, times


def fit_sklearn(X: np.ndarray, y: np.ndarray, epochs: int) -> tuple[MLPClassifier, list[float]]:
    times = []
    for _ in range(REPEATS):
        clf = MLPClassifier(
            hidden_layer_sizes=(HIDDEN,), activation="tanh", solver="adam", alpha=ALPHA, batch_size=BATCH,
            learning_rate_init=LR, max_iter=epochs, n_iter_no_change=epochs, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached: the budget we set
            t0 = time.perf_counter()
            clf.fit(X, y)
            times.append(time.perf_counter() - t0)
    assert clf.n_iter_ == epochs, clf.n_iter_
    return clf, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help=f"{FAST_EPOCHS} epochs instead of {EPOCHS}")
    args = parser.parse_args()
    epochs = FAST_EPOCHS if args.fast else EPOCHS
    X_train, X_test, y_train, y_test = load()
    T_train = np.eye(10)[y_train]
    n, d = X_train.shape
    print(f"digits: {n} training and {X_test.shape[0]} test images, {d} pixels; network {d}-{HIDDEN}-10 (tanh)")
    print(f"Adam: {epochs} epochs, batch {BATCH}, step {LR:g}, alpha {ALPHA:g}")

    p0 = init_params(0, (d, HIDDEN, 10))
    check_gradient(p0, X_train[0], T_train[0])

    obj = dc.finite_sum(loss, (X_train, T_train), mean=True, regularizer=l2)
    res, first, dc_times = fit_dcompile(obj, p0, epochs)
    assert isinstance(res.x, dict) and set(res.x) == set(p0)
    f_dc = objective(res.x, X_train, T_train)
    assert abs(res.fun - f_dc) <= 1e-10 * max(1.0, abs(f_dc)), (res.fun, f_dc)
    clf, sk_times = fit_sklearn(X_train, y_train, epochs)
    sk_params = {"W1": clf.coefs_[0], "b1": clf.intercepts_[0], "W2": clf.coefs_[1], "b2": clf.intercepts_[1]}

    acc_dc, acc_sk = accuracy(res.x, X_test, y_test), clf.score(X_test, y_test)
    dc_train, sk_train = statistics.median(dc_times), statistics.median(sk_times)
    compile_s = first - dc_train  # tracing, derivation and numba (or loading them from the disk cache)
    widths = (14, 14, 10, 11, 9, 10, 11)  # the first column left-aligned
    rows = [
        ("", "test accuracy", "train F", "first run", "compile", "training", "per epoch"),
        ("dcompile", f"{acc_dc:.4f}", f"{f_dc:.5f}", f"{first:.2f}s", f"{compile_s:.2f}s", f"{dc_train:.3f}s",
         f"{dc_train / epochs * 1e3:.2f}ms"),
        ("scikit-learn", f"{acc_sk:.4f}", f"{objective(sk_params, X_train, T_train):.5f}", "-", "-",
         f"{sk_train:.3f}s", f"{sk_train / epochs * 1e3:.2f}ms"),
    ]  # fmt: skip
    print()
    for row in rows:
        print(f"  {row[0]:<{widths[0]}}" + "".join(f"{c:>{w}}" for c, w in zip(row[1:], widths[1:], strict=True)))
    print(f"  first run: dcompile's first dc.adam; compile = first run - training; training: the median of {REPEATS}")
    print(f"  runs of each (dcompile / scikit-learn = {dc_train / sk_train:.2f}); train F: F at each one's weights")
    threshold = 0.5 if args.fast else 0.9
    assert acc_dc > threshold if args.fast else acc_dc >= threshold, f"test accuracy {acc_dc:.4f}"


if __name__ == "__main__":
    main()
