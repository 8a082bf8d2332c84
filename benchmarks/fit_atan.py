"""The arctan polynomial of dcompile.runtime.vecmath_core (``ATAN_T``), fitted and checked in mpmath.

``atan(t) = t - t**3 q(t**2)`` on ``|t| <= 7/16`` (the reduced argument). ``q(z) = (t - atan t)/t**3`` is
fitted by weighted least squares at Chebyshev nodes of ``[0, (7/16)**2]`` in 60-digit arithmetic
(weight ``z + 1e-3``: the error of ``t**3 q`` relative to ``atan t`` grows like ``z``), and the
coefficients rounded to doubles are checked on a fine grid. Run from the repository root::

    .venv/bin/python benchmarks/fit_atan.py

It prints the coefficients and the polynomial's own maximum error in ulps of ``atan(t)`` (0.06).
"""

from __future__ import annotations

import mpmath as mp

DIGITS = 60
TERMS = 11
NODES = 200


def q(z: mp.mpf) -> mp.mpf:
    """(t - atan t) / t**3 for t = sqrt(z), its limit 1/3 at 0."""
    if z == 0:
        return mp.mpf(1) / 3
    t = mp.sqrt(z)
    return (t - mp.atan(t)) / t**3


def fit() -> list[float]:
    """The ``TERMS`` coefficients of ``q`` in powers of ``z``, rounded to doubles."""
    top = (mp.mpf(7) / 16) ** 2
    nodes = [top * (1 - mp.cos(mp.pi * (k + mp.mpf(1) / 2) / NODES)) / 2 for k in range(NODES)]
    a = mp.matrix(NODES, TERMS)
    b = mp.matrix(NODES, 1)
    for i, z in enumerate(nodes):
        weight = z + mp.mpf("1e-3")
        for j in range(TERMS):
            a[i, j] = weight * z**j
        b[i] = weight * q(z)
    c = mp.lu_solve(a.T * a, a.T * b)
    return [float(c[j]) for j in range(TERMS)]


def worst_ulps(coef: list[float], points: int = 4000) -> float:
    """The largest error of ``t - t**3 P(t**2)`` (exact arithmetic on the rounded coefficients), in ulps."""
    worst = mp.mpf(0)
    for k in range(1, points + 1):
        t = mp.mpf(7) / 16 * k / points
        z = t * t
        approx = t - t**3 * sum(mp.mpf(c) * z**j for j, c in enumerate(coef))
        worst = max(worst, abs(approx - mp.atan(t)) / mp.atan(t))
    return float(worst / mp.mpf(2) ** -53)


def main() -> None:
    mp.mp.dps = DIGITS
    coef = fit()
    print("ATAN_T =", tuple(coef))
    print(f"polynomial error: {worst_ulps(coef):.3f} ulp")


if __name__ == "__main__":
    main()
