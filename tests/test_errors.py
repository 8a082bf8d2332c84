"""User mistakes give clear errors: the construct, the user's line, the fix."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile.errors import SignatureError, TraceError, UnsupportedError

THIS_FILE = __file__


def branch(x):
    if x > 0:
        return x
    return -x


def loop(x):
    while x < 10.0:
        x = x * 2.0
    return x


def to_float(x):
    return float(x) * 2.0


def comb(x):
    return math.comb(x, 2) + 1.0


def spacing(x):
    return np.spacing(x)


def no_return(x):
    x * 2.0


def pair(x, y):
    return x, y


def boolean(x):
    return x > 1.0


def varargs(*xs):
    return xs[0]


def python_max(x, y):
    return max(x, y)


def f2(x, y):
    return x * y


def line_of(fn, text):
    import inspect

    lines, start = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(text)


def trace_error(fn, cls=TraceError):
    with pytest.raises(cls) as info:
        dc.compile(fn, backend="python").ir  # noqa: B018 - tracing happens on access
    return str(info.value)


def test_if_on_traced_value_names_line_and_suggests_where():
    msg = trace_error(branch)
    assert "`if` on a traced value" in msg
    assert f'"{THIS_FILE}", line {line_of(branch, "if x > 0")}' in msg
    assert "if x > 0:" in msg
    assert "^" in msg  # caret under the expression
    assert "dcompile.where" in msg


def test_while_on_traced_value():
    msg = trace_error(loop)
    assert "`while` loop" in msg
    assert f"line {line_of(loop, 'while')}" in msg
    assert "range(n)" in msg


def test_float_of_traced_value():
    msg = trace_error(to_float)
    assert "float()" in msg
    assert f"line {line_of(to_float, 'return float(x)')}" in msg


def test_unsupported_math_function_is_named():
    msg = trace_error(comb, UnsupportedError)
    assert "math.comb is not supported" in msg
    assert f"line {line_of(comb, 'math.comb')}" in msg
    assert "dcompile.supported()" in msg  # says where the supported ones are listed


def test_unsupported_numpy_ufunc_is_named():
    msg = trace_error(spacing, UnsupportedError)
    assert "numpy.spacing is not supported" in msg


def test_none_return():
    assert "returned None" in trace_error(no_return)


def test_tuple_of_scalars_returns_a_vector():
    f = dc.compile(pair, backend="python")
    assert f.ir.outputs[0].type.shape == (2,)


def test_dict_return():
    assert "returned a dict" in trace_error(lambda x: {"x": x})


def test_boolean_return():
    assert "boolean" in trace_error(boolean)


def test_varargs_rejected():
    with pytest.raises(TraceError, match=r"\*xs"):
        dc.compile(varargs)


def test_python_max_on_tracers_points_to_np_maximum():
    msg = trace_error(python_max)
    assert "np.maximum" in msg


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_string_argument(backend):
    f = dc.compile(f2, backend=backend)
    with pytest.raises(SignatureError, match="argument 'y' of f2 is a str") as info:
        f(1.0, "2")
    assert info.value.__context__ is None  # no numba traceback chained to it
    with pytest.raises(SignatureError, match="takes 2 arguments, got 3"):
        dc.grad(f)(1.0, 2.0, 3.0)


def test_array_argument_specializes_a_traced_function():
    f = dc.compile(f2, backend="python")
    assert f(2.0, 3.0) == 6.0
    np.testing.assert_array_equal(f(np.ones(3), 2.0), [2.0, 2.0, 2.0])


def test_array_argument_is_rejected_by_sympy_functions():
    import sympy as sp

    x, y = sp.symbols("x y")
    f = dc.from_sympy(x * y, [x, y], backend="python")
    with pytest.raises(SignatureError, match="SymPy expression: its arguments are scalars"):
        f(np.ones(3), 1.0)


def test_unknown_wrt():
    f = dc.compile(f2, backend="python")
    with pytest.raises(SignatureError, match="wrt='z' is not an argument of f2; its arguments are x, y"):
        dc.grad(f, wrt="z")
    with pytest.raises(SignatureError, match="out of range"):
        dc.grad(f, wrt=5)
    with pytest.raises(SignatureError, match="twice"):
        dc.grad(f, wrt=("x", 0))


def test_direction_length_checked():
    f = dc.compile(f2, backend="python")
    with pytest.raises(SignatureError, match=r"tangents has 1 entry;"):
        dc.jvp(f)((1.0, 2.0), (1.0,))


def test_grad_of_a_plain_function_compiles_it():
    np.testing.assert_allclose(dc.grad(f2)(2.0, 3.0), [3.0, 2.0])
    with pytest.raises(SignatureError, match=r"@dc\.compile"):
        dc.grad(42)


def test_sympy_unknown_symbol_and_function():
    x, y = sp.symbols("x y")
    with pytest.raises(SignatureError, match="symbol 'y', which is not among args"):
        dc.from_sympy(x * y, args=[x]).ir  # noqa: B018
    with pytest.raises(UnsupportedError, match="gamma"):
        dc.from_sympy(sp.gamma(x), args=[x]).ir  # noqa: B018


def test_hostile_symbol_name_never_reaches_source_as_code():
    evil = sp.Symbol("x); import os; os.system('echo pwned')  #")
    f = dc.from_sympy(evil**2 + 1, args=[evil], backend="python")
    for src in (f.source, dc.grad(f).source):
        assert "import os" not in src
        assert "os.system" not in src
        compile(src, "<generated>", "exec")  # still valid Python
    assert dc.grad(f)(3.0)[0] == 6.0


def test_supported_lists_what_error_messages_point_to():
    s = dc.supported()
    assert "numpy.exp" in s["numpy"] and "math.atan2" in s["math"] and "dc.where" in s["dcompile"]
    assert "numpy.linalg.cholesky" in s["numpy.linalg"] and "scipy.special.gammaln" in s["scipy.special"]
    assert "numpy.floor (zero derivative)" in s["numpy"] and "numpy.argmax (values only)" in s["numpy"]
    assert "np.floor" not in s["numpy"]


@dc.compile(backend="python")
def recursive(x):
    return recursive(x) + 1.0


def test_recursion_is_reported_not_a_recursion_error():
    with pytest.raises(TraceError, match="recursive calls itself"):
        recursive.ir  # noqa: B018


def test_math_stays_traceable_after_a_nested_trace_and_numba_sees_the_real_math():
    import numba

    inner = dc.compile(lambda x: math.exp(x) * 2.0, backend="python", name="inner")

    @numba.njit
    def helper(v):
        return math.exp(v)

    def outer(x):
        y = inner(x)  # traced lazily, inside this trace
        z = helper(1.0)  # numba compiles math.exp while a trace runs
        return math.sin(y) * z

    f = dc.compile(outer, backend="python")
    x = 0.3
    assert f(x) == pytest.approx(math.sin(2.0 * math.exp(x)) * math.e, rel=1e-15)
    assert math.sin is math.__dict__["sin"] and type(math.sin).__name__ == "builtin_function_or_method"


def helper_using_math(x):
    return math.sin(x)


def uses_helper(x):
    return helper_using_math(x) * 2.0


def test_math_in_a_helper_is_traced_too():
    # Helpers the traced function calls see the traceable math as well (their copies do).
    f = dc.compile(uses_helper, backend="python")
    x = 0.7
    assert f(x) == pytest.approx(uses_helper(x), rel=1e-15)
    h = 1e-6
    fd = (uses_helper(x + h) - uses_helper(x - h)) / (2 * h)
    assert dc.grad(f)(x)[0] == pytest.approx(fd, rel=1e-8)


def test_from_sympy_argument_mistakes():
    x, y = sp.symbols("x y")
    with pytest.raises(SignatureError, match="twice"):
        dc.from_sympy(x * y, args=[x, x, y])
    with pytest.raises(SignatureError, match=r"args=\[x\]"):
        dc.from_sympy(x * 2, args=x)
    with pytest.raises(UnsupportedError, match="not a real number"):
        dc.from_sympy(x + sp.I, args=[x]).ir  # noqa: B018
    assert np.isnan(dc.from_sympy(x + sp.nan, args=[x], backend="python")(1.0))


def rounding(x):
    return round(x) * x


def test_rounding_a_traced_value_has_a_zero_derivative():
    # round() is piecewise constant: the derivative of round(x) * x is round(x) (documented).
    f = dc.compile(rounding, backend="python")
    assert f(2.4) == pytest.approx(2.0 * 2.4)
    assert dc.grad(f)(2.4)[0] == pytest.approx(2.0)


def test_check_grad_takes_a_sequence_and_checks_the_count():
    f = dc.compile(f2, backend="python")
    assert dc.check_grad(f, [1.0, 2.0]).ok
    with pytest.raises(SignatureError, match="missing a required argument"):
        dc.check_grad(f, 1.0)


def test_hessian_has_no_buffer_variant():
    f = dc.compile(f2, backend="python")
    with pytest.raises(SignatureError, match="only grad and value_and_grad"):
        dc.hessian(f).into(np.zeros(2), 1.0, 2.0)


def scaled(x, *, a):
    return a * x


def test_keyword_constants_via_partial():
    import functools

    f = dc.compile(functools.partial(scaled, a=3.0), backend="python", name="scaled3")
    # A bound keyword is a parameter with a default: not differentiated unless named, and overridable.
    assert f.arg_names == ("x", "a") and list(dc.grad(f)(2.0)) == [3.0]
    assert f(2.0, a=4.0) == scaled(2.0, a=4.0) and dc.grad(f, wrt="a")(2.0).tolist() == [2.0]
    with pytest.raises(SignatureError, match="missing a required argument: 'a'"):
        dc.compile(scaled, backend="python")(2.0)
