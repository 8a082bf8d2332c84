"""The `dcompile` command: show generated code and run the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import check_golden, read_golden, without_version
from tests.helpers import run_cli as run

EXAMPLE = str(Path(__file__).parent / "worked_example.py")


def test_show_gradient_source_of_a_file_target(capsys):
    code, out, _ = run(capsys, "show", f"{EXAMPLE}:f", "--mode", "grad")
    assert code == 0
    assert without_version(out) == read_golden("worked_example_grad.py")


def test_show_with_wrt_and_ir_stage(capsys):
    code, out, _ = run(capsys, "show", f"{EXAMPLE}:f", "--wrt", "w1,w2", "--stage", "simplified")
    assert code == 0
    assert out.startswith("f_grad(x1: f64[], x2: f64[], w1: f64[], w2: f64[])")
    code, out, _ = run(capsys, "show", f"{EXAMPLE}:f", "--stage", "ir")
    assert out.startswith("f(x1: f64[], x2: f64[], w1: f64[], w2: f64[]) -> f64[]\n  a = add x1 w1")
    code, out, _ = run(capsys, "show", f"{EXAMPLE}:f", "--mode", "hessian", "--wrt", "w1,w2")
    assert "def f_hessian(x1, x2, w1, w2):" in out and "_out = np.empty((2, 2))" in out


def test_show_module_target(capsys):
    code, out, _ = run(capsys, "show", "tests.worked_example:f_oneline", "--mode", "f")
    assert code == 0 and "def f_oneline(x1, x2, w1, w2):" in out


def test_show_sympy_expression(capsys):
    code, out, _ = run(capsys, "show", "--expr", "(x1 + w1)**2 * (x1*w1 + x2*w2)", "--args", "x1,x2,w1,w2")
    assert code == 0 and "def f_grad(x1, x2, w1, w2):" in out and "df_dw2 =" in out


def test_show_raw_derivative_before_simplification(capsys):
    _, raw, _ = run(capsys, "show", f"{EXAMPLE}:f", "--stage", "derivative-ir")
    _, simple, _ = run(capsys, "show", f"{EXAMPLE}:f", "--stage", "simplified")
    assert "mul 1.0" in raw or "1.0 " in raw  # the seed 1.0 multiplies through the raw chain rule
    assert len(raw.splitlines()) > len(simple.splitlines())


def test_show_json(capsys):
    import json

    code, out, _ = run(capsys, "show", f"{EXAMPLE}:f", "--json", "--wrt", "w1")
    data = json.loads(out)
    assert code == 0 and data["mode"] == "grad" and data["wrt"] == ["w1"] and "def f_grad" in data["text"]


def test_show_array_function_with_shapes(capsys):
    argv = ("show", f"{EXAMPLE}:nll", "--wrt", "w", "--shape", "w=3", "--shape", "X=5x3", "--shape", "y=5:int64")
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "def nll_grad(w, X, y):" in out and "for i in range(5):" in out
    assert "dnll_dw = X.T @ dnll_dt1" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("show", "nowhere.py:f"), "no such file"),
        (("show", f"{EXAMPLE}:missing"), "has no attribute 'missing'"),
        (("show", "no_colon"), "must look like"),
        (("show", f"{EXAMPLE}:f", "--wrt", "z"), "wrt='z' is not an argument"),
        (("show", "--expr", "x +* y", "--args", "x,y"), "cannot parse --expr"),
        (("show", f"{EXAMPLE}:nll", "--shape", "q=3"), "'q' is not an argument of nll"),
        (("show", f"{EXAMPLE}:nll", "--shape", "w=3y"), "write NAME=DIMS[:DTYPE]"),
        (("show", f"{EXAMPLE}:nll", "--shape", "w=3"), "matmul (@) does not take scalars"),
        (("show", f"{EXAMPLE}:nll"), "--shape NAME=DIMS"),
    ],
)
def test_bad_usage_is_one_clear_line(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.numba
def test_demo_runs(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert "df_da = 2.0 * a * e" in out
    assert "Gradient descent with Armijo" in out and "iterations in" in out


def test_cache_info_and_clear(capsys, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("DCOMPILE_CACHE_DIR", str(tmp_path / "c"))
    code, out, _ = run(capsys, "show", f"{EXAMPLE}:f")  # writes nothing: show does not compile
    import dcompile as dc

    dc.grad(dc.compile(lambda x: x * x, backend="python"))(2.0)  # one generated module
    code, out, _ = run(capsys, "cache", "info", "--json")
    data = json.loads(out)
    assert code == 0 and data["path"] == str(tmp_path / "c") and len(data["modules"]) == 1
    code, out, _ = run(capsys, "cache", "clear", "--yes")
    assert code == 0 and "cleared" in out
    assert json.loads(run(capsys, "cache", "info", "--json")[1])["modules"] == []


def test_help_has_examples(capsys):
    code, out, _ = run(capsys, "show", "--help")
    assert code == 0 and "Examples:" in out and "--shape" in out


@pytest.mark.parametrize("stage", ["ir", "derivative-ir", "simplified", "source"])
def test_every_show_stage_of_the_worked_example_is_golden(capsys, stage):
    code, out, _ = run(capsys, "show", f"{EXAMPLE}:f", "--stage", stage)
    assert code == 0
    check_golden(f"show_{stage}.txt", out)


def test_a_function_that_cannot_be_traced_is_reported_with_file_and_line(capsys):
    code, _, err = run(capsys, "show", f"{EXAMPLE}:branchy")
    assert code == 2 and "Traceback" not in err
    assert "worked_example.py" in err and "if x > y:" in err and "dc.where" in err
