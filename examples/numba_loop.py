"""Compiled derivatives inside your own ``@numba.njit`` code.

Two loops that stay in machine code from start to end:

1. Hamiltonian Monte Carlo on a banana-shaped density. The sampler is your
   own ``@numba.njit`` function; each leapfrog step calls
   ``dc.value_and_grad(logp).njit``, the numba dispatcher of the generated
   gradient, like any other jitted function (no Python in the loop).
2. Many small fits: ``dc.minimizer(sse, ...)`` hands out the compiled L-BFGS
   solver of an objective, and an ``@njit`` loop fits an exponential decay to
   each of a few hundred noisy series.

    python examples/numba_loop.py
    python examples/numba_loop.py --fast   # fewer samples and series (what the tests run)
"""

import argparse
import time

import numba
import numpy as np

import dcompile as dc


# -- 1. HMC with a compiled gradient ------------------------------------------------------
@dc.compile
def logp(x):  # x0 ~ N(0, 2^2), x1 | x0 ~ N(x0^2 / 2, 1): E[x0] = 0, E[x1] = 2
    return -0.5 * (x[0] ** 2 / 4.0 + (x[1] - 0.5 * x[0] ** 2) ** 2)


logp_vg = dc.value_and_grad(logp).specialize(np.zeros(2)).njit  # a numba dispatcher: (x) -> (value, gradient)


@numba.njit(cache=True)
def hmc(x0, n_samples, step, n_leapfrog, seed):
    np.random.seed(seed)
    samples = np.empty((n_samples, x0.size))
    x = x0.copy()
    lp, g = logp_vg(x)
    accepted = 0
    for i in range(n_samples):
        p = np.random.normal(0.0, 1.0, x.size)
        h0 = -lp + 0.5 * np.dot(p, p)
        xn, gn = x.copy(), g.copy()
        p = p + 0.5 * step * gn  # leapfrog on H(x, p) = -logp(x) + |p|^2 / 2
        for j in range(n_leapfrog):
            xn = xn + step * p
            lpn, gn = logp_vg(xn)
            if j < n_leapfrog - 1:
                p = p + step * gn
        p = p + 0.5 * step * gn
        h1 = -lpn + 0.5 * np.dot(p, p)
        if np.log(np.random.random()) < h0 - h1:  # Metropolis correction
            x, lp, g = xn, lpn, gn
            accepted += 1
        samples[i] = x
    return samples, accepted / n_samples


def sample(n: int) -> None:
    t0 = time.perf_counter()
    samples, rate = hmc(np.zeros(2), n, 0.2, 15, 0)
    seconds = time.perf_counter() - t0
    burn = samples[n // 10 :]
    mean = burn.mean(axis=0)
    print(f"HMC on the banana density: {n} samples x 15 leapfrog steps, each step one call of the compiled")
    print(f"  value and gradient from inside @njit ({seconds:.2f} s including numba's compile or cache load)")
    print(f"  acceptance rate {rate:.2f}; mean of x = ({mean[0]:+.3f}, {mean[1]:+.3f}), exact (0, 2);"
          f" sd of x0 {burn[:, 0].std():.3f}, exact 2")  # fmt: skip
    assert 0.5 < rate <= 1.0
    assert abs(mean[0]) < 0.5 and abs(mean[1] - 2.0) < 0.5  # loose: Monte-Carlo error of a short chain


# -- 2. many fits with dc.minimizer ------------------------------------------------------
@dc.compile
def sse(p, t, y):  # half the sum of squared residuals of y = A exp(-k t) + c (as in examples/curve_fit.py)
    r = p[0] * np.exp(-p[1] * t) + p[2] - y
    return 0.5 * np.dot(r, r)


def many_fits(n_series: int) -> None:
    rng = np.random.default_rng(1)
    t = np.linspace(0.0, 4.0, 200)
    truth = np.column_stack([rng.uniform(1, 3, n_series), rng.uniform(0.5, 2, n_series), rng.uniform(-1, 1, n_series)])
    Y = truth[:, :1] * np.exp(-truth[:, 1:2] * t) + truth[:, 2:] + 0.05 * rng.normal(size=(n_series, t.size))

    solve = dc.minimizer(sse, np.ones(3), args=(t, Y[0]), method="lbfgs")  # the compiled solver, a dispatcher

    @numba.njit
    def fit_all(t, Y):
        out = np.empty((Y.shape[0], 3))
        status = np.empty(Y.shape[0], dtype=np.int64)
        for i in range(Y.shape[0]):
            x, _f, _g, _nit, _nfev, _nhev, st = solve(np.array([1.0, 1.0, 0.0]), (t, Y[i].copy()), gtol=1e-9)
            out[i] = x
            status[i] = st
        return out, status

    t0 = time.perf_counter()
    P, status = fit_all(t, Y)
    seconds = time.perf_counter() - t0
    err = np.abs(P - truth).max(axis=0)
    print(f"\n{n_series} exponential-decay fits (200 points each) in one @njit loop calling dc.minimizer's L-BFGS:")
    print(f"  {seconds:.2f} s including numba's compile of the loop; statuses {sorted(set(status.tolist()))}"
          " (0 = success)")  # fmt: skip
    print(f"  largest error against the true parameters: A {err[0]:.3f}, k {err[1]:.3f}, c {err[2]:.3f}")
    assert np.all(status == 0)
    assert np.all(err < 0.2)
    i = n_series // 2  # one of them again through dc.minimize from Python: the same answer
    res = dc.minimize(sse, np.array([1.0, 1.0, 0.0]), args=(t, Y[i]), method="lbfgs", options={"gtol": 1e-9})
    assert np.allclose(res.x, P[i], atol=1e-12), (res.x, P[i])
    print(f"  series {i} through dc.minimize from Python: the same parameters ({res.nit} iterations)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="fewer samples and series (the tests)")
    args = parser.parse_args()
    sample(2_000 if args.fast else 50_000)
    many_fits(20 if args.fast else 500)


if __name__ == "__main__":
    main()
