"""Unconstrained test problems of Moré, Garbow and Hillstrom (1981).

Each problem is a nonlinear least-squares problem: a residual vector
``r(x)`` of ``m`` components and the objective ``f(x) = sum(r(x)**2)``, both
written with NumPy operations that dcompile traces, so ``dc.compile(p.f)``,
``dc.value_and_grad`` and ``dc.hessian`` work on them. Functions whose
dimension ``n`` is variable are written with whole-array operations (slices,
``np.sum``, ``np.concatenate``), so the traced program does not grow with n.

Numbering (``mgh``) and definitions follow

    J. J. Moré, B. S. Garbow, K. E. Hillstrom, "Testing Unconstrained
    Optimization Software", ACM Trans. Math. Softw. 7(1):17-41, 1981,
    doi:10.1145/355934.355936.

``fmin`` is the minimum value the paper reports (to the digits it gives),
``xmin`` a minimizer where the paper states one exactly, else None.

    p = problem("extended_rosenbrock", n=100)
    f0, g0 = dc.value_and_grad(dc.compile(p.f))(p.x0)
    scipy.optimize.minimize(..., p.x0) should reach p.fmin
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["PROBLEMS", "Problem", "names", "problem"]

MGH = (
    "J. J. Moré, B. S. Garbow, K. E. Hillstrom, Testing Unconstrained Optimization Software, ACM TOMS 7(1):17-41 (1981)"
)


@dataclass(frozen=True)
class Problem:
    """One test problem: minimize ``f(x) = sum(residuals(x)**2)`` from ``x0``."""

    name: str
    mgh: int  # problem number in Moré, Garbow & Hillstrom (1981)
    n: int
    m: int  # number of residuals
    x0: np.ndarray  # the standard starting point
    f: Callable  # f(x) = np.sum(residuals(x) ** 2), to pass to dc.compile
    residuals: Callable  # r(x), a vector of m residuals
    fmin: float | None  # published minimum value (None: not published for this n)
    xmin: np.ndarray | None  # a minimizer, where known exactly
    source: str
    scale: str = ""  # notes on scaling and difficulty

    def __repr__(self) -> str:
        return f"Problem({self.name!r}, n={self.n}, m={self.m}, fmin={self.fmin})"


def _objective(residuals: Callable, name: str) -> Callable:
    def f(x):
        return np.sum(residuals(x) ** 2)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Sum of squares of {residuals.__name__}(x)."
    return f


# --------------------------------------------------------------------------
# data (module-level constants)

BEALE_Y = np.array([1.5, 2.25, 2.625])

JENNRICH_SAMPSON_I = np.arange(1.0, 11.0)  # m = 10

BARD_Y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39])
BARD_U = np.arange(1.0, 16.0)
BARD_V = 16.0 - BARD_U
BARD_W = np.minimum(BARD_U, BARD_V)

GAUSSIAN_Y = np.array(
    [
        0.0009,
        0.0044,
        0.0175,
        0.0540,
        0.1295,
        0.2420,
        0.3521,
        0.3989,
        0.3521,
        0.2420,
        0.1295,
        0.0540,
        0.0175,
        0.0044,
        0.0009,
    ]
)
GAUSSIAN_T = (8.0 - np.arange(1.0, 16.0)) / 2.0

MEYER_Y = np.array(
    [
        34780.0,
        28610.0,
        23650.0,
        19630.0,
        16370.0,
        13720.0,
        11540.0,
        9744.0,
        8261.0,
        7030.0,
        6005.0,
        5147.0,
        4427.0,
        3820.0,
        3307.0,
        2872.0,
    ]
)
MEYER_T = 45.0 + 5.0 * np.arange(1.0, 17.0)

BOX_T = 0.1 * np.arange(1.0, 11.0)  # m = 10, as in MINPACK's tests
BOX_C = np.exp(-BOX_T) - np.exp(-10.0 * BOX_T)

KOWALIK_OSBORNE_Y = np.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246])
KOWALIK_OSBORNE_U = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])

BROWN_DENNIS_T = np.arange(1.0, 21.0) / 5.0  # m = 20
BROWN_DENNIS_EXP = np.exp(BROWN_DENNIS_T)
BROWN_DENNIS_SIN = np.sin(BROWN_DENNIS_T)
BROWN_DENNIS_COS = np.cos(BROWN_DENNIS_T)

OSBORNE1_Y = np.array(
    [
        0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
        0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
        0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406,
    ]
)  # fmt: skip
OSBORNE1_T = 10.0 * np.arange(0.0, 33.0)

BIGGS_T = 0.1 * np.arange(1.0, 14.0)  # m = 13
BIGGS_Y = np.exp(-BIGGS_T) - 5.0 * np.exp(-10.0 * BIGGS_T) + 3.0 * np.exp(-4.0 * BIGGS_T)

WATSON_T = np.arange(1.0, 30.0) / 29.0  # t_i = i/29, i = 1..29

PENALTY_A = 1e-5


# --------------------------------------------------------------------------
# fixed-dimension problems


def rosenbrock_r(x):
    return np.stack([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def freudenstein_roth_r(x):
    return np.stack(
        [
            -13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1],
            -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1],
        ]
    )


def powell_badly_scaled_r(x):
    return np.stack([1e4 * x[0] * x[1] - 1.0, np.exp(-x[0]) + np.exp(-x[1]) - 1.0001])


def brown_badly_scaled_r(x):
    return np.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])


def beale_r(x):
    return BEALE_Y - x[0] * (1.0 - np.stack([x[1], x[1] ** 2, x[1] ** 3]))


def jennrich_sampson_r(x):
    i = JENNRICH_SAMPSON_I
    return 2.0 + 2.0 * i - (np.exp(i * x[0]) + np.exp(i * x[1]))


def helical_valley_r(x):
    # theta = atan(x2/x1)/(2 pi), plus 1/2 when x1 < 0 (undefined at x1 = 0)
    a = np.arctan(x[1] / x[0]) / (2.0 * np.pi)
    theta = np.where(x[0] > 0.0, a, a + 0.5)
    return np.stack(
        [
            10.0 * (x[2] - 10.0 * theta),
            10.0 * (np.sqrt(x[0] ** 2 + x[1] ** 2) - 1.0),
            x[2],
        ]
    )


def bard_r(x):
    return BARD_Y - (x[0] + BARD_U / (BARD_V * x[1] + BARD_W * x[2]))


def gaussian_r(x):
    return x[0] * np.exp(-0.5 * x[1] * (GAUSSIAN_T - x[2]) ** 2) - GAUSSIAN_Y


def meyer_r(x):
    return x[0] * np.exp(x[1] / (MEYER_T + x[2])) - MEYER_Y


def box_3d_r(x):
    return np.exp(-BOX_T * x[0]) - np.exp(-BOX_T * x[1]) - x[2] * BOX_C


def powell_singular_r(x):
    return np.stack(
        [
            x[0] + 10.0 * x[1],
            np.sqrt(5.0) * (x[2] - x[3]),
            (x[1] - 2.0 * x[2]) ** 2,
            np.sqrt(10.0) * (x[0] - x[3]) ** 2,
        ]
    )


def wood_r(x):
    return np.stack(
        [
            10.0 * (x[1] - x[0] ** 2),
            1.0 - x[0],
            np.sqrt(90.0) * (x[3] - x[2] ** 2),
            1.0 - x[2],
            np.sqrt(10.0) * (x[1] + x[3] - 2.0),
            (x[1] - x[3]) / np.sqrt(10.0),
        ]
    )


def kowalik_osborne_r(x):
    u = KOWALIK_OSBORNE_U
    return KOWALIK_OSBORNE_Y - x[0] * (u * (u + x[1])) / (u * (u + x[2]) + x[3])


def brown_dennis_r(x):
    a = x[0] + BROWN_DENNIS_T * x[1] - BROWN_DENNIS_EXP
    b = x[2] + BROWN_DENNIS_SIN * x[3] - BROWN_DENNIS_COS
    return a**2 + b**2


def osborne1_r(x):
    t = OSBORNE1_T
    return OSBORNE1_Y - (x[0] + x[1] * np.exp(-t * x[3]) + x[2] * np.exp(-t * x[4]))


def biggs_exp6_r(x):
    t = BIGGS_T
    return x[2] * np.exp(-t * x[0]) - x[3] * np.exp(-t * x[1]) + x[5] * np.exp(-t * x[4]) - BIGGS_Y


# --------------------------------------------------------------------------
# variable-dimension problems (n taken from x.shape)


def watson_r(x):
    n = x.shape[0]
    p = np.arange(n - 1.0)  # powers 0..n-2
    tp = WATSON_T[:, None] ** p[None, :]  # constant (29, n-1): t_i^(j-1)
    s1 = tp @ (np.arange(1.0, n) * x[1:])  # sum_{j>=2} (j-1) x_j t^(j-2)
    s2 = tp @ x[:-1] + (WATSON_T ** (n - 1.0)) * x[n - 1]  # sum_j x_j t^(j-1)
    return np.concatenate([s1 - s2**2 - 1.0, np.stack([x[0], x[1] - x[0] ** 2 - 1.0])])


def extended_rosenbrock_r(x):
    odd, even = x[0::2], x[1::2]  # x_{2i-1}, x_{2i}
    return np.stack([10.0 * (even - odd**2), 1.0 - odd], axis=1).reshape(-1)


def extended_powell_singular_r(x):
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    r = np.stack(
        [
            a + 10.0 * b,
            np.sqrt(5.0) * (c - d),
            (b - 2.0 * c) ** 2,
            np.sqrt(10.0) * (a - d) ** 2,
        ],
        axis=1,
    )
    return r.reshape(-1)


def penalty1_r(x):
    return np.concatenate([np.sqrt(PENALTY_A) * (x - 1.0), np.stack([np.sum(x**2) - 0.25])])


def penalty2_r(x):
    n = x.shape[0]
    i = np.arange(2.0, n + 1.0)
    y = np.exp(i / 10.0) + np.exp((i - 1.0) / 10.0)
    e = np.exp(x / 10.0)
    s = np.sum(np.arange(n, 0.0, -1.0) * x**2) - 1.0  # sum (n-j+1) x_j^2 - 1
    return np.concatenate(
        [
            np.stack([x[0] - 0.2]),
            np.sqrt(PENALTY_A) * (e[1:] + e[:-1] - y),
            np.sqrt(PENALTY_A) * (e[1:] - np.exp(-0.1)),
            np.stack([s]),
        ]
    )


def variably_dimensioned_r(x):
    n = x.shape[0]
    s = np.sum(np.arange(1.0, n + 1.0) * (x - 1.0))
    return np.concatenate([x - 1.0, np.stack([s, s**2])])


def trigonometric_r(x):
    n = x.shape[0]
    i = np.arange(1.0, n + 1.0)
    c = np.cos(x)
    return n - np.sum(c) + i * (1.0 - c) - np.sin(x)


def brown_almost_linear_r(x):
    n = x.shape[0]
    return np.concatenate([x[:-1] + np.sum(x) - (n + 1.0), np.stack([np.prod(x) - 1.0])])


def discrete_boundary_value_r(x):
    n = x.shape[0]
    h = 1.0 / (n + 1.0)
    t = np.arange(1.0, n + 1.0) * h
    zero = np.zeros(1)
    left = np.concatenate([zero, x[:-1]])  # x_{i-1}, x_0 = 0
    right = np.concatenate([x[1:], zero])  # x_{i+1}, x_{n+1} = 0
    return 2.0 * x - left - right + 0.5 * h**2 * (x + t + 1.0) ** 3


def broyden_tridiagonal_r(x):
    zero = np.zeros(1)
    left = np.concatenate([zero, x[:-1]])
    right = np.concatenate([x[1:], zero])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


def linear_full_rank_r(x):
    # m = 2n residuals
    n = x.shape[0]
    s = 2.0 / (2.0 * n) * np.sum(x)
    return np.concatenate([x - s - 1.0, np.zeros(n) - s - 1.0])


# --------------------------------------------------------------------------
# the table


def _make(name, mgh, residuals, x0, fmin, xmin=None, scale="", source=MGH):  # noqa: PLR0917
    x0 = np.asarray(x0, dtype=float)
    m = int(np.shape(residuals(x0))[0])
    return Problem(
        name=name,
        mgh=mgh,
        n=x0.shape[0],
        m=m,
        x0=x0,
        f=_objective(residuals, name),
        residuals=residuals,
        fmin=fmin,
        xmin=None if xmin is None else np.asarray(xmin, dtype=float),
        source=f"{source}, problem {mgh}",
        scale=scale,
    )


def _fixed(name, mgh, residuals, x0, fmin, xmin=None, scale=""):  # noqa: PLR0917
    def make(n=None):
        if n is not None and n != len(x0):
            raise ValueError(f"{name} has fixed n = {len(x0)}, got n = {n}")
        return _make(name, mgh, residuals, x0, fmin, xmin, scale)

    return make


def _need(name, n, ok, what):
    if not ok:
        raise ValueError(f"{name} needs {what}, got n = {n}")


def _extended_rosenbrock(n=None):
    n = 10 if n is None else n
    _need("extended_rosenbrock", n, n >= 2 and n % 2 == 0, "an even n >= 2")
    return _make(
        "extended_rosenbrock", 21, extended_rosenbrock_r, np.tile([-1.2, 1.0], n // 2), 0.0,
        np.ones(n), "curved valley; residuals interleaved as in MGH",
    )  # fmt: skip


def _extended_powell_singular(n=None):
    n = 8 if n is None else n
    _need("extended_powell_singular", n, n >= 4 and n % 4 == 0, "n a multiple of 4")
    return _make(
        "extended_powell_singular", 22, extended_powell_singular_r,
        np.tile([3.0, -1.0, 0.0, 1.0], n // 4), 0.0, np.zeros(n),
        "Hessian singular at the minimizer: linear convergence, |x - x*| ~ f**(1/4)",
    )  # fmt: skip


_PENALTY1_FMIN = {4: 2.24997e-5, 10: 7.08765e-5}
_PENALTY2_FMIN = {4: 9.37629e-6, 10: 2.93660e-4}
_WATSON_FMIN = {6: 2.28767e-3, 9: 1.39976e-6, 12: 4.72238e-10}


def _watson(n=None):
    n = 6 if n is None else n
    _need("watson", n, 2 <= n <= 31, "2 <= n <= 31")
    return _make(
        "watson", 20, watson_r, np.zeros(n), _WATSON_FMIN.get(n),
        scale="polynomial fit; ill-conditioned for n >= 9",
    )  # fmt: skip


def _penalty1(n=None):
    n = 10 if n is None else n
    _need("penalty1", n, n >= 1, "n >= 1")
    return _make(
        "penalty1", 23, penalty1_r, np.arange(1.0, n + 1.0), _PENALTY1_FMIN.get(n),
        scale="fmin ~ 1e-5..1e-4 and f(x0) ~ n**6: compare f relatively",
    )  # fmt: skip


def _penalty2(n=None):
    n = 10 if n is None else n
    _need("penalty2", n, n >= 1, "n >= 1")
    return _make(
        "penalty2", 24, penalty2_r, np.full(n, 0.5), _PENALTY2_FMIN.get(n),
        scale="small weights sqrt(1e-5): fmin ~ 1e-5..1e-4, compare f relatively",
    )  # fmt: skip


def _variably_dimensioned(n=None):
    n = 10 if n is None else n
    _need("variably_dimensioned", n, n >= 1, "n >= 1")
    return _make(
        "variably_dimensioned", 25, variably_dimensioned_r,
        1.0 - np.arange(1.0, n + 1.0) / n, 0.0, np.ones(n),
        "quartic term (sum j(x_j-1))**4 makes f(x0) grow like n**8",
    )  # fmt: skip


def _trigonometric(n=None):
    n = 10 if n is None else n
    _need("trigonometric", n, n >= 1, "n >= 1")
    return _make(
        "trigonometric", 26, trigonometric_r, np.full(n, 1.0 / n), 0.0,
        scale="has local minima with f > 0 (for n = 10 quasi-Newton methods "
        "from x0 usually stop at f = 2.79506e-5)",
    )  # fmt: skip


def _brown_almost_linear(n=None):
    n = 10 if n is None else n
    _need("brown_almost_linear", n, n >= 2, "n >= 2")
    return _make(
        "brown_almost_linear", 27, brown_almost_linear_r, np.full(n, 0.5), 0.0, np.ones(n),
        "also f = 1 at (0, ..., 0, n+1) (dcompile's np.prod gradient is NaN there); "
        "prod(x) makes it badly scaled for large n",
    )  # fmt: skip


def _discrete_boundary_value(n=None):
    n = 10 if n is None else n
    _need("discrete_boundary_value", n, n >= 1, "n >= 1")
    t = np.arange(1.0, n + 1.0) / (n + 1.0)
    return _make(
        "discrete_boundary_value", 28, discrete_boundary_value_r, t * (t - 1.0), 0.0,
        scale="condition number grows like n**2",
    )  # fmt: skip


def _broyden_tridiagonal(n=None):
    n = 10 if n is None else n
    _need("broyden_tridiagonal", n, n >= 2, "n >= 2")
    return _make("broyden_tridiagonal", 30, broyden_tridiagonal_r, np.full(n, -1.0), 0.0)


def _linear_full_rank(n=None):
    n = 10 if n is None else n
    _need("linear_full_rank", n, n >= 1, "n >= 1")
    return _make(
        "linear_full_rank", 32, linear_full_rank_r, np.ones(n), float(n), -np.ones(n),
        "a convex quadratic; m = 2n here, so fmin = m - n = n",
    )  # fmt: skip


_FACTORIES: dict[str, Callable[..., Problem]] = {
    "rosenbrock": _fixed("rosenbrock", 1, rosenbrock_r, [-1.2, 1.0], 0.0, [1.0, 1.0]),
    "freudenstein_roth": _fixed(
        "freudenstein_roth", 2, freudenstein_roth_r, [0.5, -2.0], 0.0, [5.0, 4.0],
        "local minimum f = 48.9842 at (11.41..., -0.8968...) traps descent methods",
    ),
    "powell_badly_scaled": _fixed(
        "powell_badly_scaled", 3, powell_badly_scaled_r, [0.0, 1.0], 0.0, None,
        "minimizer (1.098e-5, 9.106): x1 and x2 differ by 1e6 in scale",
    ),
    "brown_badly_scaled": _fixed(
        "brown_badly_scaled", 4, brown_badly_scaled_r, [1.0, 1.0], 0.0, [1e6, 2e-6],
        "x1 ~ 1e6, x2 ~ 2e-6; f(x0) ~ 1e12",
    ),
    "beale": _fixed("beale", 5, beale_r, [1.0, 1.0], 0.0, [3.0, 0.5]),
    "jennrich_sampson": _fixed(
        "jennrich_sampson", 6, jennrich_sampson_r, [0.3, 0.4], 124.362, None,
        "m = 10; minimizer x1 = x2 = 0.2578; exp(10 x) grows fast away from it",
    ),
    "helical_valley": _fixed(
        "helical_valley", 7, helical_valley_r, [-1.0, 0.0, 0.0], 0.0, [1.0, 0.0, 0.0],
        "theta jumps by 1 across x1 < 0, x2 = 0 and is undefined at x1 = 0",
    ),
    "bard": _fixed(
        "bard", 8, bard_r, [1.0, 1.0, 1.0], 8.21487e-3, None,
        "also f = 17.4286 as x2, x3 -> -inf with x1 = 0.8406",
    ),
    "gaussian": _fixed(
        "gaussian", 9, gaussian_r, [0.4, 1.0, 0.0], 1.12793e-8, None,
        "fmin ~ 1e-8: compare f relatively",
    ),
    "meyer": _fixed(
        "meyer", 10, meyer_r, [0.02, 4000.0, 250.0], 87.9458, None,
        "x ~ (5.6e-3, 6181, 345) and f(x0) ~ 1.7e9: extremely badly scaled",
    ),
    "box_3d": _fixed(
        "box_3d", 12, box_3d_r, [0.0, 10.0, 20.0], 0.0, [1.0, 10.0, 1.0],
        "m = 10; also f = 0 at (10, 1, -1) and wherever x1 = x2, x3 = 0",
    ),
    "powell_singular": _fixed(
        "powell_singular", 13, powell_singular_r, [3.0, -1.0, 0.0, 1.0], 0.0, np.zeros(4),
        "Hessian singular at the minimizer: |x - x*| ~ f**(1/4)",
    ),
    "wood": _fixed("wood", 14, wood_r, [-3.0, -1.0, -3.0, -1.0], 0.0, np.ones(4)),
    "kowalik_osborne": _fixed(
        "kowalik_osborne", 15, kowalik_osborne_r, [0.25, 0.39, 0.415, 0.39], 3.07505e-4, None,
        "also f = 1.02734e-3 as x1 -> inf",
    ),
    "brown_dennis": _fixed(
        "brown_dennis", 16, brown_dennis_r, [25.0, 5.0, -5.0, -1.0], 85822.2, None,
        "m = 20; large residual at the minimum, f(x0) ~ 7.9e6",
    ),
    "osborne1": _fixed(
        "osborne1", 17, osborne1_r, [0.5, 1.5, -1.0, 0.01, 0.02], 5.46489e-5, None,
        "rates x4, x5 ~ 1e-2 against amplitudes ~ 1",
    ),
    "biggs_exp6": _fixed(
        "biggs_exp6", 18, biggs_exp6_r, [1.0, 2.0, 1.0, 1.0, 1.0, 1.0], 0.0,
        [1.0, 10.0, 1.0, 5.0, 4.0, 3.0],
        "m = 13; local minimum f = 5.65565e-3 where descent methods from x0 often stop",
    ),
    "watson": _watson,
    "extended_rosenbrock": _extended_rosenbrock,
    "extended_powell_singular": _extended_powell_singular,
    "penalty1": _penalty1,
    "penalty2": _penalty2,
    "variably_dimensioned": _variably_dimensioned,
    "trigonometric": _trigonometric,
    "brown_almost_linear": _brown_almost_linear,
    "discrete_boundary_value": _discrete_boundary_value,
    "broyden_tridiagonal": _broyden_tridiagonal,
    "linear_full_rank": _linear_full_rank,
}  # fmt: skip


def problem(name: str, n: int | None = None) -> Problem:
    """The problem called ``name``; ``n`` picks the dimension of variable-n problems."""
    try:
        make = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown problem {name!r}; known: {', '.join(_FACTORIES)}") from None
    return make(n)


def names() -> list[str]:
    """The problem names, in MGH order."""
    return list(_FACTORIES)


#: Every problem at its default dimension.
PROBLEMS: dict[str, Problem] = {name: make() for name, make in _FACTORIES.items()}
