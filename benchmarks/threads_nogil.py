"""Does compiling kernels with numba's ``nogil=True`` speed up calls from several threads?

    python benchmarks/threads_nogil.py

Compiles the value and gradient of the extended Rosenbrock function (n = 10^6)
twice from the same generated source, with and without ``nogil``, and times
``CALLS`` calls made from one thread and split over two threads. Reports the
speed-up of two threads over one for each (a ratio measured in one run).
"""

from __future__ import annotations

import threading
import time

import numba
import numpy as np

import dcompile as dc

N = 1_000_000
CALLS = 40
REPEATS = 7


@dc.compile
def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def run(fn, x: np.ndarray, threads: int) -> float:
    def work() -> None:
        for _ in range(CALLS // threads):
            fn(x)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    x = np.linspace(-1.0, 1.0, N)
    vg = dc.value_and_grad(rosen)
    vg(x)
    py = vg.kernel.py_function
    sig = vg.kernel.njit.signatures[0]
    kernels = {
        "gil": numba.njit(sig, error_model="numpy")(py),
        "nogil": numba.njit(sig, error_model="numpy", nogil=True)(py),
    }
    best: dict[tuple[str, int], float] = {}
    for fn in kernels.values():
        fn(x)
    for _ in range(REPEATS):  # interleaved, so that the load of a busy machine hits both alike
        for name, fn in kernels.items():
            for threads in (1, 2):
                t = run(fn, x, threads)
                best[name, threads] = min(best.get((name, threads), t), t)
    for name in kernels:
        one, two = best[name, 1], best[name, 2]
        print(f"{name:6s} 1 thread {one:.3f} s, 2 threads {two:.3f} s: speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
