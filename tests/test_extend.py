"""A primitive defined through dcompile.extend works like a built-in one."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile import extend as ext
from dcompile.errors import ExtensionError
from dcompile.frontend.sympy_lower import to_sympy

log_cosh = ext.primitive(
    "test_log_cosh",
    impl=lambda x: np.log(np.cosh(x)),
    code="np.log(np.cosh({0}))",
    to_sympy=lambda x: sp.log(sp.cosh(x)),
)
ext.defjvp(log_cosh, lambda t, ans, x: t * np.tanh(x))
ext.defvjp(log_cosh, lambda g, ans, x: g * np.tanh(x))


def loss(x, y):
    return log_cosh(x - y) * y


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_user_primitive_differentiates_and_compiles(backend):
    f = dc.compile(loss, backend=backend)
    x, y = 0.3, -1.1
    assert f(x, y) == pytest.approx(np.log(np.cosh(x - y)) * y, rel=1e-15)
    np.testing.assert_allclose(
        dc.grad(f)(x, y), [np.tanh(x - y) * y, -np.tanh(x - y) * y + np.log(np.cosh(x - y))], rtol=1e-14
    )
    dc.check_grad(f, x, y)
    assert "test_log_cosh" in str(f.ir)


def test_user_primitive_raises_to_sympy_and_folds_constants():
    f = dc.compile(loss, backend="python")
    xs, ys = sp.symbols("x y")
    assert sp.simplify(to_sympy(f.ir, [xs, ys])[0] - sp.log(sp.cosh(xs - ys)) * ys) == 0
    g = dc.compile(lambda y: log_cosh(0.5) * y, backend="python", name="g")
    assert [e.prim.name for e in g.ir.eqns if e.prim.name != "const"] == ["mul"]


def test_declaring_a_name_again_replaces_it_but_builtin_names_are_refused():
    first = ext.primitive("test_redeclared", impl=np.exp, code="np.exp({0})", partials=[lambda t, ans, x: t * ans])
    again = ext.primitive(
        "test_redeclared", impl=np.sin, code="np.sin({0})", partials=[lambda t, ans, x: t * np.cos(x)]
    )

    def f(x):
        return again(x)

    assert dc.compile(f, backend="python")(0.5) == pytest.approx(np.sin(0.5))
    assert first.prim is not again.prim
    with pytest.raises(ExtensionError, match="taken by one of dcompile's own primitives"):
        ext.primitive("exp", impl=np.exp, code="np.exp({0})")


# -- primitives with a numba implementation, of any shape (issue 24 item 2) ---------------------------

import math  # noqa: E402

import numba  # noqa: E402
import scipy.special as sc  # noqa: E402
from scipy.special import cython_special as cs  # noqa: E402

from dcompile.errors import UnsupportedError  # noqa: E402
from dcompile.runtime import extensions  # noqa: E402

lgamma_math = ext.primitive(
    "test_lgamma_math", impl=sc.gammaln, numba_impl=math.lgamma, partials=[lambda t, ans, x: t * sc.digamma(x)]
)
lgamma_c = ext.primitive(
    "test_lgamma_c", impl=sc.gammaln, numba_impl=cs.gammaln, partials=[lambda t, ans, x: t * sc.digamma(x)]
)
betaln_c = ext.primitive(
    "test_betaln_c",
    impl=sc.betaln,
    numba_impl=cs.betaln,
    partials=[
        lambda t, ans, a, b: t * (sc.digamma(a) - sc.digamma(a + b)),
        lambda t, ans, a, b: t * (sc.digamma(b) - sc.digamma(a + b)),
    ],
)


@numba.njit
def _logdet_cholesky(a):
    return 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(a))))


logdet = ext.primitive(
    "test_logdet",
    impl=lambda a: np.linalg.slogdet(a)[1],
    numba_impl=_logdet_cholesky,
    shape=lambda s: (),
    vjp=[lambda g, ans, a: g * np.linalg.inv(a).T],
    jvp=[lambda t, ans, a: np.sum(np.linalg.inv(a).T * t)],
)


def _row_sums(a):
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i] += a[i, j]
    return out


row_sums = ext.primitive(
    "test_row_sums",
    impl=lambda a: a.sum(axis=1),
    numba_impl=_row_sums,  # a plain Python loop: numba compiles it
    shape=lambda s: (s[0],),
    vjp=[lambda g, ans, a: g[:, None] * np.ones_like(a)],
    jvp=[lambda t, ans, a: t.sum(axis=1)],
)
logdet_reverse_only = ext.primitive(
    "test_logdet_rev",
    impl=lambda a: np.linalg.slogdet(a)[1],
    numba_impl=_logdet_cholesky,
    shape=(),
    vjp=[lambda g, ans, a: g * np.linalg.inv(a).T],
)


def likelihood(x, a):
    """Every kind of user primitive in one objective."""
    spd = a @ a.T + (1.0 + x[0] ** 2) * np.eye(3)
    return (
        np.sum(lgamma_math(x) + lgamma_c(2.0 * x)) + np.sum(betaln_c(x, 2.5)) + logdet(spd) + np.sum(row_sums(a) ** 2)
    )


def likelihood_reference(x, a):
    spd = a @ a.T + (1.0 + x[0] ** 2) * np.eye(3)
    return (
        np.sum(sc.gammaln(x) + sc.gammaln(2.0 * x))
        + np.sum(sc.betaln(x, 2.5))
        + np.linalg.slogdet(spd)[1]
        + np.sum(a.sum(axis=1) ** 2)
    )


X = np.linspace(0.7, 2.9, 5)
A = np.arange(9.0).reshape(3, 3) / 10.0


@pytest.fixture(scope="module", params=["python", "numba"])
def compiled_likelihood(request):
    return dc.compile(likelihood, backend=request.param)


def test_user_primitives_of_any_shape_match_scipy_on_both_backends(compiled_likelihood):
    f = compiled_likelihood
    assert f(X, A) == pytest.approx(likelihood_reference(X, A), rel=1e-13)
    value, (gx, ga) = dc.value_and_grad(f)(X, A)
    assert value == pytest.approx(likelihood_reference(X, A), rel=1e-13)
    spd = A @ A.T + (1.0 + X[0] ** 2) * np.eye(3)
    inv = np.linalg.inv(spd)
    expected_x = sc.digamma(X) + 2.0 * sc.digamma(2.0 * X) + sc.digamma(X) - sc.digamma(X + 2.5)
    expected_x[0] += np.trace(inv) * 2.0 * X[0]
    np.testing.assert_allclose(gx, expected_x, rtol=1e-12)
    expected_a = 2.0 * inv @ A + 2.0 * A.sum(axis=1)[:, None] * np.ones((3, 3))
    np.testing.assert_allclose(ga, expected_a, rtol=1e-12, atol=1e-14)


def test_user_primitive_rules_pass_the_derivative_checker_to_second_order():
    f = dc.compile(likelihood, backend="python", name="likelihood_py")
    result = dc.check_grad(f, X, A, order=2)
    assert result.ok and not result.skipped
    assert "hessian @ v vs hvp" in result.errors


def test_numba_runs_scipy_c_function_and_user_numba_code():
    f = dc.compile(likelihood, backend="numba", name="likelihood_nb")
    assert f(X, A) == pytest.approx(likelihood_reference(X, A), rel=1e-13)
    g = dc.grad(f)
    g(X, A)
    assert "_dcx.ext_test_lgamma_c(" in f.source and "_dcx.ext_test_logdet(" in f.source
    calls = [line for line in g.source.splitlines() if "_dcx.ext_test_logdet(" in line]
    assert all(line.strip().startswith("#") for line in calls)  # the gradient needs only the VJP rule


def test_elementwise_numba_implementation_broadcasts_whole_arrays():
    # Outside fused loops generated code passes arrays: numba.vectorize of the scalar implementation.
    fn = extensions.ext_test_betaln_c  # type: ignore[attr-defined]

    @numba.njit
    def call(a, b):
        return fn(a, b)

    a, b = np.linspace(0.5, 3.0, 6).reshape(2, 3), np.array([1.0, 2.0, 3.5])
    np.testing.assert_allclose(call(a, b), sc.betaln(a, b), rtol=1e-14)
    assert call(2.0, 3.0) == pytest.approx(sc.betaln(2.0, 3.0), rel=1e-15)


def test_reverse_only_primitive_refuses_forward_mode_clearly():
    f = dc.compile(lambda a: logdet_reverse_only(a @ a.T + np.eye(3)), backend="python", name="rev_only")
    np.testing.assert_allclose(dc.grad(f)(A), 2.0 * np.linalg.inv(A @ A.T + np.eye(3)) @ A, rtol=1e-12)
    with pytest.raises(UnsupportedError, match=r"test_logdet_rev.*no forward-mode rule.*defjvp"):
        dc.jvp(f)([A], A)
    # The Hessian is forward mode over the reverse sweep, which holds the VJP rule's code only.
    result = dc.check_grad(f, A, order=2)
    assert result.ok and "hvp vs finite difference" in result.errors
    assert any("jvp" in s for s in result.skipped) and "skipped" in str(result)


def test_numba_implementation_that_does_not_compile_is_named():
    broken = ext.primitive("test_broken", impl=np.sum, numba_impl=lambda a: a.no_such_method(), shape=())
    f = dc.compile(lambda a: broken(a) * 2.0, backend="numba", name="broken_user")
    with pytest.raises(ExtensionError, match=r"'test_broken' does not compile.*no_such_method"):
        f(np.ones(3))
    assert dc.compile(lambda a: broken(a) * 2.0, backend="python", name="broken_py")(np.ones(3)) == 6.0


def test_code_template_may_use_math():
    softplus = ext.primitive(
        "test_softplus_math",
        impl=lambda x: np.logaddexp(0.0, x),
        code="math.log1p(math.exp({0}))",
        partials=[lambda t, ans, x: t / (1.0 + np.exp(-x))],
    )
    f = dc.compile(lambda x: np.sum(softplus(x)), backend="numba", name="softplus_user")
    x = np.linspace(-2.0, 2.0, 5)
    assert f(x) == pytest.approx(np.sum(np.logaddexp(0.0, x)), rel=1e-14)
    assert "import math" in f.source


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "scipy.special.gammaln({0})"}, "numba cannot call"),
        ({"code": "np.sin({0})", "shape": ()}, "code template is for elementwise"),
        ({"partials": [None], "shape": ()}, "partials are for elementwise"),
        ({"numba_impl": cs.eval_legendre}, "no float64 version"),
    ],
)
def test_declaration_mistakes_are_explained(kwargs, message):
    with pytest.raises(ExtensionError, match=message):
        ext.primitive("test_mistake_" + str(abs(hash(message)) % 10_000), impl=np.sin, **kwargs)


def test_bad_names_and_shape_rules_are_explained():
    with pytest.raises(ExtensionError, match="Python identifier"):
        ext.primitive("not a name", impl=np.sin)
    odd = ext.primitive("test_odd_shape", impl=np.sum, shape=lambda s: "scalar")
    with pytest.raises(ExtensionError, match="shape rule of primitive 'test_odd_shape'"):

        def uses_odd(x):
            return odd(x)

        dc.compile(uses_odd, backend="python")(np.ones(2))


def test_user_primitives_keep_the_program_cache_key_stable():
    f1 = dc.compile(likelihood, backend="python", name="fp1")
    f2 = dc.compile(likelihood, backend="python", name="fp2")
    assert f1._dcompile_fingerprint() is not None
    assert f1._dcompile_fingerprint() == f2._dcompile_fingerprint()
    other = ext.primitive("test_lgamma_other", impl=sc.gammaln, numba_impl=math.lgamma)
    assert lgamma_math._dcompile_fingerprint() != other._dcompile_fingerprint()
