"""dc.config(debug_nans=True): the first operation that made a NaN or an infinity, with the user's line.

Breadth on the Python backend; one numba function checks that the compiled
dispatcher is wrapped and unwrapped as the setting changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

import dcompile as dc


def shifted_log(x, y):
    a = np.log(x - 1.0)  # LOG LINE
    return np.sum(a * y)


def norm2(x):
    r = np.sqrt(np.sum(x * x))  # NORM LINE
    return 2.0 * r


def step(c, x):
    c = c + np.log(x)  # BODY LINE
    return c, c


def simulate(xs):
    c, _ = dc.scan(step, 0.0, xs)
    return c


def root_of(p):
    return p["a"] ** 0.5 * p["b"]  # POWER LINE


def _line(marker: str) -> int:
    with open(__file__) as f:
        return next(i for i, text in enumerate(f, 1) if text.rstrip().endswith(f"# {marker}"))


@pytest.fixture
def debug_nans():
    with dc.config(debug_nans=True):
        yield


def _raised(call) -> dc.NonFiniteError:
    with pytest.raises(dc.NonFiniteError) as info:
        call()
    return info.value


def test_value_names_the_operation_the_entry_and_the_line(debug_nans):
    f = dc.compile(shifted_log, backend="python")
    err = _raised(lambda: f(np.array([2.0, 3.0, 1.0]), np.ones(3)))
    text = str(err)
    assert "comes from the value: log(0.0) = -inf at entry [2]" in text
    assert f"line {_line('LOG LINE')}, in shifted_log" in text
    assert "a = np.log(x - 1.0)" in text
    assert "Fix:" in text
    assert isinstance(err, FloatingPointError)  # as jax_debug_nans raises


def test_derivative_rule_is_named(debug_nans):
    g = dc.grad(dc.compile(norm2, backend="python"))
    text = str(_raised(lambda: g(np.zeros(3))))
    assert "grad of norm2 is not finite" in text
    assert "the derivative rule of sqrt" in text
    assert f"line {_line('NORM LINE')}, in norm2" in text


def test_finite_calls_are_unchanged_and_the_switch_is_scoped():
    f = dc.compile(shifted_log, backend="python")
    x, y = np.array([2.0, 3.0, 1.0]), np.ones(3)
    assert f(x, y) == -np.inf  # off: the IEEE result, as NumPy gives it
    with dc.config(debug_nans=True):
        assert f(x + 1.0, y) == pytest.approx(np.sum(np.log(x)))
        with pytest.raises(dc.NonFiniteError):
            f(x, y)
    assert f(x, y) == -np.inf  # off again: the plain runner is back


def test_a_non_finite_argument_is_reported_as_such(debug_nans):
    f = dc.compile(shifted_log, backend="python")
    text = str(_raised(lambda: f(np.array([2.0, np.nan, 3.0]), np.ones(3))))
    assert "got a non-finite argument: x[1] is nan" in text


def test_inside_a_loop_body_the_body_line_is_named(debug_nans):
    f = dc.compile(simulate, backend="python")
    text = str(_raised(lambda: f(np.array([1.0, 0.0, 2.0]))))
    assert "log(0.0) = -inf" in text
    assert f"line {_line('BODY LINE')}, in step" in text


@pytest.mark.parametrize("mode", ["hessian", "jacobian", "hvp", "jvp"])
def test_forward_modes_and_dense_loops(debug_nans, mode):
    f = dc.compile(lambda x: np.sum(np.sqrt(x)) if mode in ("hessian", "hvp") else np.sqrt(x), backend="python")
    x = np.array([1.0, 0.0])
    d = getattr(dc, mode)(f)
    call = (lambda: d(x)) if mode in ("hessian", "jacobian") else (lambda: d((x,), np.ones(2)))
    text = str(_raised(call))
    assert f"{mode} of" in text and "at entry [1]" in text
    assert "np.sqrt(x)" in text  # the user's line


def test_structured_arguments(debug_nans):
    g = dc.grad(dc.compile(root_of, backend="python"))
    text = str(_raised(lambda: g({"a": 0.0, "b": 1.0})))
    assert "the derivative rule of" in text
    assert f"line {_line('POWER LINE')}, in root_of" in text


def test_the_traceback_ends_in_user_code(debug_nans):
    f = dc.compile(shifted_log, backend="python")
    try:
        f(np.array([1.0]), np.ones(1))
    except dc.NonFiniteError as exc:
        files = [fr.filename for fr in traceback.extract_tb(exc.__traceback__)]
    package = os.path.dirname(dc.__file__)
    assert files[0] == __file__
    assert len([p for p in files if p.startswith(package)]) <= 1  # the one frame that re-raises


def test_numba_kernels_are_checked_while_the_switch_is_on():
    f = dc.compile(norm2)
    g = dc.grad(f)
    zero = np.zeros(3)
    assert np.isnan(g(zero)).all()
    with dc.config(debug_nans=True):
        assert g(np.ones(3)) == pytest.approx(2.0 * np.ones(3) / np.sqrt(3.0))
        assert "the derivative rule of sqrt" in str(_raised(lambda: g(zero)))
    assert np.isnan(g(zero)).all()


def test_environment_switch(tmp_path):
    script = tmp_path / "objective.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            import dcompile as dc

            def f(x):
                return np.log(x)

            try:
                dc.compile(f, backend="python")(0.0)
            except dc.NonFiniteError as exc:
                print("RAISED", exc)
            """
        )
    )
    env = {**os.environ, "DCOMPILE_DEBUG_NANS": "1"}
    cmd = [sys.executable, str(script)]
    out = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert "RAISED debug_nans: f is not finite" in out.stdout, out.stderr
    assert "return np.log(x)" in out.stdout
