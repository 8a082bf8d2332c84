"""Vector math in fused loops (issue 22): what the emitter prints, and that the loops vectorise.

With vector math on (the default), the transcendental functions inside fused
loops are the branch-free :mod:`dcompile.runtime.vecmath` twins and scalar
reductions go through ``vm.add`` (reassociable), so LLVM vectorises the loop;
``DCOMPILE_VECTOR_MATH=0`` prints NumPy's scalar functions and strict ``+=``.
Values are checked against the strict version (within the vecmath ulp bounds,
well inside 1e-12 relative here) and finite differences; the vectorisation
check reads the LLVM IR numba produced for the kernel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dcompile as dc
from dcompile.emit.emitter import VECTOR_MATH_ENV
from tests.helpers import close, fd_gradient


def nll(w, X, y):
    return np.sum(np.logaddexp(0.0, -y * (X @ w)))


def mlp(W1, b1, W2, b2, X, y):  # noqa: PLR0917
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 + b2 - y) ** 2)


def mixed(x):
    return np.sum(np.log1p(x**2) + np.exp(-(x**2)) + np.expm1(0.1 * x) * np.log(2.0 + np.tanh(x)))


def _code(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.strip().startswith("#"))


def _logreg(n: int = 400, d: int = 6) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(22)
    X = rng.standard_normal((n, d)) * 3.0
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return 0.3 * rng.standard_normal(d), X, y


def _mlp_args() -> tuple[Any, ...]:
    rng = np.random.default_rng(7)
    return (
        0.5 * rng.standard_normal((5, 8)),
        0.1 * rng.standard_normal(8),
        0.5 * rng.standard_normal(8),
        0.2,
        rng.standard_normal((64, 5)),
        rng.standard_normal(64),
    )


def _pair(fn: Callable[..., Any], **kw: Any) -> tuple[Any, Any]:
    """The value-and-gradient of ``fn`` with vector math on and off."""
    on = dc.value_and_grad(dc.compile(fn, vector_math=True), **kw)
    off = dc.value_and_grad(dc.compile(fn, vector_math=False), **kw)
    return on, off


def _same_as_strict(on: tuple[Any, Any], off: tuple[Any, Any], fd: Any) -> None:
    """Vector math against the strict loop (value and gradient within 1e-13 relative) and finite differences."""
    (f1, g1), (f0, g0) = on, off
    assert abs(f1 - f0) <= 1e-13 * abs(f0)
    close(g1, g0, "gradient", rtol=1e-13)
    close(g1, fd, "finite differences", rtol=1e-7)


def _vectorised_without(d: Any, libm: str) -> bool:
    """Whether ``d``'s kernel has vector polynomial code (vector fma) and no call matching ``libm``."""
    ir = d.njit.inspect_llvm(d.njit.signatures[0])
    return bool(re.search(r"@llvm\.fma\.v\d+f64", ir)) and not re.search(libm, ir)


@pytest.fixture(scope="module")
def logistic() -> Any:
    on, off = _pair(nll, wrt="w")
    on(*_logreg())
    off(*_logreg())
    return on, off


def test_the_environment_variable_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VECTOR_MATH_ENV, "0")
    assert not dc.compile(nll).vector_math
    monkeypatch.setenv(VECTOR_MATH_ENV, "1")
    assert dc.compile(nll).vector_math
    monkeypatch.delenv(VECTOR_MATH_ENV)
    f = dc.compile(nll)
    assert f.vector_math
    monkeypatch.setenv(VECTOR_MATH_ENV, "off")  # read when compiled: the source does not change later
    assert "vm.softplus(" in dc.value_and_grad(f, wrt="w").specialize(*_logreg(8, 2)).source


def test_the_logistic_loop_calls_vecmath(logistic: Any) -> None:
    on, off = logistic
    code = _code(on.source)
    assert "from dcompile.runtime import vecmath as vm" in on.source
    assert "vm.softplus(" in code and "vm.sigmoid(" in code
    assert re.search(r"(\w+) = vm\.add\(\1, ", code), code
    assert "np.exp" not in code and "np.log1p" not in code
    strict = _code(off.source)
    assert "vm." not in strict and "np.log1p(np.exp(-abs(" in strict and " += " in strict
    assert "Needs only NumPy" in off.source and "Needs NumPy and dcompile.runtime" in on.source


def test_the_logistic_loop_vectorises(logistic: Any) -> None:
    on, off = logistic
    vec = re.compile(r"<(\d+) x double>")
    ir_on = on.njit.inspect_llvm(on.njit.signatures[0])
    ir_off = off.njit.inspect_llvm(off.njit.signatures[0])
    assert any(int(n) >= 2 for n in vec.findall(ir_on)), "the vector-math loop did not vectorise"
    assert re.search(r"@llvm\.fma\.v\d+f64", ir_on), "no vector polynomial in the loop"
    assert "@llvm.exp" not in ir_on
    # the control: the strict loop calls libm's exp one entry at a time
    assert "@llvm.exp.f64" in ir_off and not re.search(r"@llvm\.fma\.v\d+f64", ir_off)


def test_the_logistic_values_match_the_strict_loop(logistic: Any) -> None:
    on, off = logistic
    args = _logreg()
    f1, g1 = on(*args)
    f0, g0 = off(*args)
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(lambda w: nll(w, *args[1:]), args[0], 1e-4))


def test_mlp_and_mixed_functions_match_the_strict_loops() -> None:
    args = _mlp_args()
    on, off = _pair(mlp, wrt=("W1", "b1", "W2", "b2"))
    (f1, g1), (f0, g0) = on(*args), off(*args)
    assert "vm.tanh(" in _code(on.source) and "vm." not in _code(off.source)
    assert abs(f1 - f0) <= 1e-13 * abs(f0)
    for a, b in zip(g1, g0, strict=True):
        close(a, b, "mlp gradient", rtol=1e-13)
    x = np.linspace(-3.0, 4.0, 301)
    on, off = _pair(mixed)
    (f1, g1), (f0, g0) = on(x), off(x)
    code = _code(on.source)
    for fn in ("log1p", "exp", "expm1", "log", "tanh"):
        assert f"vm.{fn}(" in code, fn
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(mixed, x, 1e-4))


def trig(x):
    return np.sum(np.sin(3.0 * x) * np.cos(x) + np.sinh(0.5 * x) - np.cosh(0.2 * x) + np.exp2(x) * np.log2(2.5 + x))


def test_trigonometric_and_base_two_functions_match_the_strict_loops() -> None:
    x = np.linspace(-2.0, 2.0, 257)  # (sin and cos of large arguments: tests/test_vecmath.py)
    on, off = _pair(trig)
    (f1, g1), (f0, g0) = on(x), off(x)
    code = _code(on.source)
    for fn in ("sin", "cos", "sinh", "cosh", "exp2", "log2"):
        assert f"vm.{fn}(" in code, fn
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(trig, x, 1e-4))


def test_every_vector_twin_exists() -> None:
    from dcompile.ir.primitive import REGISTRY
    from dcompile.runtime import vecmath

    twins = {p.name: p.vector for p in REGISTRY.values() if p.vector is not None}
    assert set(twins.values()) <= set(vecmath.UNARY) | set(vecmath.BINARY)
    assert {"exp", "log", "log1p", "tanh", "sin", "cos"} <= set(twins)


def test_the_python_backend_runs_the_same_source() -> None:
    args = _logreg(50, 3)
    py = dc.value_and_grad(dc.compile(nll, backend="python"), wrt="w")
    f, g = py(*args)
    assert "vm.softplus(" in py.source
    ref = dc.value_and_grad(dc.compile(nll), wrt="w")(*args)
    assert abs(f - ref[0]) <= 1e-13 * abs(ref[0])
    close(g, ref[1], "python backend", rtol=1e-13)


def test_scalar_code_outside_loops_keeps_numpy() -> None:
    """Straight-line scalar code (no loop to vectorise) keeps libm's last-bit accuracy."""
    vg = dc.value_and_grad(dc.compile(lambda a, b: np.exp(a) * np.log1p(b * b)))
    vg(0.3, 0.4)
    code = _code(vg.source)
    assert "vm." not in code and "np.exp(a)" in code


def test_a_user_name_vm_is_renamed() -> None:
    def f(vm):
        return np.sum(np.exp(vm))

    vg = dc.value_and_grad(dc.compile(f))
    x = np.linspace(-1.0, 1.0, 9)
    val, grad = vg(x)
    assert "def f_value_and_grad(vm_):" in vg.source, vg.source
    close(val, np.sum(np.exp(x)), rtol=1e-15)
    close(grad, np.exp(x), rtol=1e-15)


def test_the_import_names_a_digest_of_the_kernels(logistic: Any) -> None:
    """numba caches a generated module by its text: a change to the kernels compiled into it must change it."""
    on, _ = logistic
    assert re.search(r"^from dcompile\.runtime import vecmath as vm  # kernels [0-9a-f]{12}$", on.source, re.M)


@pytest.mark.parametrize("backend", ["numba", "python"])
def test_partial_max_and_min_are_numpys_with_nan_and_infinities(backend: str) -> None:
    """np.max/np.min along an axis, written out as a loop of comparisons: NumPy's values, NaN kept."""

    def f(x):
        parts = (np.max(x, axis=1), np.min(x, axis=1), np.max(x, axis=0), np.min(x, axis=(0, 2)))
        return np.concatenate([p.ravel() for p in parts])

    rng = np.random.default_rng(11)
    x = rng.normal(size=(6, 5, 4))
    x[0, 0, 0] = np.nan  # first entry of a row
    x[1, 4, 3] = np.nan  # last
    x[2, 2, 1] = np.inf
    x[3, 1, 2] = -np.inf
    x[4] = -0.0
    fn = dc.compile(f, backend=backend, name=f"extremes_{backend}")
    np.testing.assert_array_equal(fn(x), f(x))
    assert "_m if " in fn.source  # the written-out loop


def test_a_loop_with_an_opaque_call_keeps_numpys_functions() -> None:
    """A special function (a C call) keeps the loop scalar: there vecmath would only be slower than libm."""
    import scipy.special as sc

    def poisson(w, X, y):
        eta = X @ w
        return np.sum(np.exp(eta) - y * eta + sc.gammaln(y + 1.0))

    def plain(w, X, y):
        eta = X @ w
        return np.sum(np.exp(eta) - y * eta)

    rng = np.random.default_rng(2)
    X, y, w = rng.normal(size=(40, 3)), rng.poisson(2.0, 40).astype(float), 0.1 * rng.normal(size=3)
    opaque = dc.value_and_grad(dc.compile(poisson), wrt="w")
    f, g = opaque(w, X, y)
    assert f == pytest.approx(poisson(w, X, y), rel=1e-13)
    code = _code(opaque.source)
    assert "_dcs.gammaln(" in code and "vm." not in code and "np.exp(" in code
    assert "vm.exp(" in _code(dc.value_and_grad(dc.compile(plain), wrt="w").specialize(w, X, y).source)
    close(g, fd_gradient(lambda w: poisson(w, X, y), w, 1e-5), "finite differences", rtol=1e-7)


def powers(x):
    return np.sum(np.abs(x) ** 1.5 + (1.0 + x**2) ** -2.5 + (2.0 + x) ** (0.5 * x))


def test_float_powers_call_vecmath_pow_and_match_the_strict_loop() -> None:
    """x ** y with a non-integer exponent: ``vm.pow(`` in the loop (``x**2`` stays a multiplication)."""
    x = np.linspace(-1.5, 2.0, 263)
    on, off = _pair(powers)
    (f1, g1), (f0, g0) = on(x), off(x)
    code = _code(on.source)
    assert "vm.pow(" in code and "vm." not in _code(off.source)
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(powers, x, 1e-5))
    assert _vectorised_without(on, r"@(llvm\.)?pow(\.v?\d*f64)?\(")


def inverse_trig(x):
    return np.sum(np.arctan(3.0 * x) * x + np.arctanh(0.9 * x) * x + np.arccosh(1.5 + x**2) * x)


def test_arctan_arctanh_arccosh_call_vecmath_and_match_the_strict_loop() -> None:
    """np.arctan, np.arctanh, np.arccosh in a fused loop: ``vm.<name>(`` printed, the loop vectorised."""
    x = np.linspace(-0.95, 0.97, 257)
    on, off = _pair(inverse_trig)
    (f1, g1), (f0, g0) = on(x), off(x)
    code = _code(on.source)
    for name in ("arctan", "arctanh", "arccosh"):
        assert f"vm.{name}(" in code, code
    assert "vm." not in _code(off.source)
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(inverse_trig, x, 1e-5))
    assert _vectorised_without(on, r"@(llvm\.)?(atan|atanh|acosh)(\.v?\d*f64)?\(")


def asinh_sum(x):
    return np.sum(np.arcsinh(4.0 * x) * x)


def test_arcsinh_calls_vecmath_where_its_loop_vectorises() -> None:
    """np.arcsinh has a twin, and so has its derivative's ``np.hypot``: the gradient's loop calls ``vm.hypot(``."""
    x = np.linspace(-2.0, 3.0, 263)
    value_on = dc.compile(asinh_sum, vector_math=True).specialize(x)
    assert "vm.arcsinh(" in _code(value_on.source)
    assert abs(value_on(x) - asinh_sum(x)) <= 1e-13 * abs(asinh_sum(x))
    assert _vectorised_without(value_on, r"@(llvm\.)?asinh(\.v?\d*f64)?\(")
    on, off = _pair(asinh_sum)
    (f1, g1), (f0, g0) = on(x), off(x)
    assert "vm.hypot(" in _code(on.source) and "np.hypot(" not in _code(on.source)
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(asinh_sum, x, 1e-5))


def hypot_sum(x):
    return np.sum(np.hypot(x, 0.5 * x + 1.0) + np.arcsinh(2.0 * x) * x)


def test_hypot_calls_vecmath_and_the_arcsinh_gradient_vectorises() -> None:
    """np.hypot in a fused loop (and in arcsinh's derivative): ``vm.hypot(`` printed, the gradient loop vectorised."""
    x = np.linspace(-2.0, 3.0, 263)
    on, off = _pair(hypot_sum)
    (f1, g1), (f0, g0) = on(x), off(x)
    code = _code(on.source)
    assert "vm.hypot(" in code and "vm.arcsinh(" in code and "np.hypot(" not in code, code
    assert "vm." not in _code(off.source)
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(hypot_sum, x, 1e-5))
    assert _vectorised_without(on, r"@(llvm\.)?(hypot|asinh)(\.v?\d*f64)?\(")


def arcsin_arccos_sum(x):
    return np.sum(np.arcsin(0.9 * x) * x + np.arccos(0.8 * x + 0.1) * x)


def test_arcsin_arccos_call_vecmath_and_match_the_strict_loop() -> None:
    """np.arcsin and np.arccos in a fused loop: ``vm.arcsin(``, ``vm.arccos(`` printed, the loop vectorised."""
    x = np.linspace(-0.97, 0.98, 257)
    on, off = _pair(arcsin_arccos_sum)
    (f1, g1), (f0, g0) = on(x), off(x)
    code = _code(on.source)
    assert "vm.arcsin(" in code and "vm.arccos(" in code, code
    assert "vm." not in _code(off.source)
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(arcsin_arccos_sum, x, 1e-6))
    assert _vectorised_without(on, r"@(llvm\.)?(asin|acos)(\.v?\d*f64)?\(")


def angle_sum(x, y):
    return np.sum(np.arctan2(y, x) * x + np.arctan2(x - 1.0, y * y + 0.1))


def test_arctan2_calls_vecmath_and_matches_the_strict_loop() -> None:
    """np.arctan2 in a fused loop (all four quadrants): ``vm.arctan2(`` printed, the loop vectorised."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=241), rng.normal(size=241)
    on, off = _pair(angle_sum, wrt="x")
    (f1, g1), (f0, g0) = on(x, y), off(x, y)
    code = _code(on.source)
    assert "vm.arctan2(" in code, code
    assert "vm." not in _code(off.source)
    _same_as_strict((f1, g1), (f0, g0), fd_gradient(lambda x: angle_sum(x, y), x, 1e-6))
    assert _vectorised_without(on, r"@(llvm\.)?atan2(\.v?\d*f64)?\(")
