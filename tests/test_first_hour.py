"""What a new user trips on in the first hour (issue 21): each fixed behaviour, tested."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback

import numpy as np
import pytest

import dcompile as dc
from dcompile.cli import main
from dcompile.errors import SignatureError, TraceError


def _np_power(x, y):
    return np.power(x, y)


def test_power_of_zero_has_a_finite_derivative_in_the_exponent():
    f = dc.compile(lambda x, y: x**y, backend="python", name="pow_zero")
    np.testing.assert_array_equal(dc.grad(f)(0.0, 2.0), [0.0, 0.0])
    g = dc.compile(_np_power, backend="python", name="np_pow_zero")
    np.testing.assert_array_equal(dc.grad(g)(0.0, 2.5), [0.0, 0.0])
    np.testing.assert_allclose(dc.grad(f)(2.0, 3.0), [12.0, 8.0 * np.log(2.0)], rtol=1e-15)


def test_comparisons_used_as_numbers():
    assert dc.compile(lambda x, y: (x < y) + 0.0, backend="python", name="cmp_plus")(1.0, 2.0) == 1.0
    assert dc.compile(lambda x, y: 1.0 * (x < y), backend="python", name="cmp_times")(3.0, 2.0) == 0.0


def _frames(exc: BaseException) -> list[str]:
    return [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]


def test_tracebacks_show_the_users_frames_not_dcompiles():
    def f(x):
        if x > 0:
            return x
        return -x

    compiled = dc.compile(f, backend="python", name="tb_user")
    with pytest.raises(TraceError) as info:
        compiled(1.0)
    package = os.path.dirname(dc.__file__)
    internal = [p for p in _frames(info.value) if p.startswith(package)]
    assert len(internal) <= 1  # the one frame that re-raises
    assert any(p == __file__ for p in _frames(info.value))


def test_full_tracebacks_on_request(monkeypatch):
    monkeypatch.setenv("DCOMPILE_TRACEBACK", "full")
    compiled = dc.compile(lambda x: x if x > 0 else -x, backend="python", name="tb_full")
    with pytest.raises(TraceError) as info:
        compiled(1.0)
    package = os.path.dirname(dc.__file__)
    assert len([p for p in _frames(info.value) if p.startswith(package)]) > 3


SCALE = 2.0


def scaled(x):
    return x * SCALE


def test_retrace_sees_a_changed_global(monkeypatch):
    f = dc.compile(scaled, backend="python", name="scaled_global")
    assert f(1.0) == 2.0
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 3.0)
    assert f(1.0) == 2.0  # traced once: documented
    assert f.retrace()(1.0) == 3.0
    assert dc.grad(f)(1.0).tolist() == [3.0]


def _total(x):
    return np.sum(x)


def test_messages_say_what_to_do():
    f = dc.compile(_total, backend="python", name="one_arg")
    with pytest.raises(SignatureError, match="takes 1 argument, got 2"):
        f(1.0, 2.0)
    g = dc.compile(lambda x, y: x * y, backend="python", name="two_args")
    with pytest.raises(SignatureError, match="tangents has 1 entry;"):
        dc.jvp(g)([1.0, 2.0], [1.0])


@pytest.mark.numba
def test_minimize_a_function_of_several_scalars():
    f = dc.compile(lambda a, b, c: (a - 1.0) ** 2 + (b + 2.0) ** 2 + (c - a) ** 2, name="three_scalars")
    res = dc.minimize(f, np.zeros(3))
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, -2.0, 1.0], atol=1e-6)


def test_cli_errors_speak_in_options(tmp_path, capsys):
    module = tmp_path / "arr.py"
    module.write_text("import numpy as np\n\ndef rosen(x):\n    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2)\n")
    assert main(["check", f"{module}:rosen", "--backend", "python"]) != 0
    assert "--shape NAME=DIMS" in capsys.readouterr().err
    assert main(["show", "--expr", "sin(x)*y", "--args", "x"]) != 0
    err = capsys.readouterr().err
    assert "add y to --args" in err and "args=[" not in err and "--shape" not in err


def test_import_does_not_load_numba_or_scipy():
    code = (
        "import sys, dcompile as dc\n"
        "assert 'numba' not in sys.modules and 'scipy' not in sys.modules, sorted(sys.modules)\n"
        "assert callable(dc.minimize) and callable(dc.sgd) and dc.schedules.constant\n"
        "assert 'numba' in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
