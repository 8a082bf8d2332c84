"""`dcompile check` and `dcompile bench`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli as run

EXAMPLE = str(Path(__file__).parent / "worked_example.py")
NLL = ("--wrt", "w", "--shape", "w=3", "--shape", "X=5x3", "--shape", "y=5")

WRONG_VJP = """
import numpy as np
from dcompile import extend as ext

bad_sin = ext.primitive("cli_check_bad_sin", impl=np.sin, code="np.sin({0})")
ext.defjvp(bad_sin, lambda t, ans, x: t * np.cos(x))
ext.defvjp(bad_sin, lambda g, ans, x: 2.0 * g * np.cos(x))  # wrong: the factor 2


def f(x, y):
    return bad_sin(x) * y
"""


def rows(out):
    """The table rows of a check report: check name -> status."""
    found = {}
    for line in out.splitlines():
        for status in ("pass", "FAIL", "skip"):
            if f"  {status}" in line and line.startswith("  "):
                found[line.split("  ")[1].strip()] = status
    return found


def test_check_passes_on_the_worked_example(capsys):
    code, out, _ = run(capsys, "check", f"{EXAMPLE}:f", "--at", "1,2,3,4")
    assert code == 0, out
    assert "point 1: x1=1, x2=2, w1=3, w2=4" in out
    assert rows(out) == {
        "grad vs finite differences": "pass",
        "jvp vs grad.v": "pass",
        "grad vs sympy": "pass",
        "hessian vs finite differences of grad": "pass",
        "hvp vs hessian @ v": "pass",
        "hessian vs sympy": "pass",
    }
    assert "all 6 checks passed" in out


def test_check_passes_on_a_sympy_expression_at_random_points(capsys):
    code, out, _ = run(capsys, "check", "--expr", "sin(x)*exp(y)/(1 + x**2)", "--args", "x,y", "--random", "3")
    assert code == 0, out
    assert "3 random points, seed 0" in out and "point 3:" in out
    assert "FAIL" not in out and "all 18 checks passed" in out


def test_check_passes_on_an_array_function(capsys):
    code, out, _ = run(capsys, "check", f"{EXAMPLE}:nll", *NLL)
    assert code == 0, out
    assert "X=<5x3 float64>" in out
    table = rows(out)
    assert table["grad vs finite differences"] == "pass" and table["hvp vs hessian @ v"] == "pass"
    assert table["grad vs sympy"] == "skip"  # SymPy checks are for scalar arguments


def test_check_fails_on_a_wrong_vjp_rule(capsys, tmp_path):
    module = tmp_path / "wrong_vjp.py"
    module.write_text(WRONG_VJP)
    code, out, _ = run(capsys, "check", f"{module}:f", "--at", "0.7,1.3")
    assert code == 1, out
    table = rows(out)
    assert table["grad vs finite differences"] == "FAIL"
    assert table["jvp vs grad.v"] == "FAIL"  # the forward rule is right, the reverse one is not
    assert table["grad vs sympy"] == "skip"  # the primitive has no SymPy form
    assert "checks FAILED" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--at", "1,2,3"), "--at gives 3 values, but f(x1, x2, w1, w2) takes 4 scalar arguments"),
        (("--at", "1,2,3,4,5"), "--at gives 5 values"),
        (("--at", "1,two,3,4"), "give comma-separated numbers"),
        (("--at", "1,2,3,4", "--random", "2"), "give --at or --random, not both"),
    ],
)
def test_check_usage_errors_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "check", f"{EXAMPLE}:f", *argv)
    assert code == 2 and message in err and out == ""


def test_check_at_counts_only_scalar_arguments(capsys):
    code, _, err = run(capsys, "check", f"{EXAMPLE}:nll", *NLL, "--at", "1")
    assert code == 2 and "takes 0 scalar arguments; w, X, y have --shape" in err


def test_check_json(capsys):
    code, out, _ = run(capsys, "check", f"{EXAMPLE}:f", "--random", "2", "--seed", "3", "--json")
    assert code == 0
    records = json.loads(out)
    assert len(records) == 12 and {r["point"] for r in records} == {1, 2}
    first = records[0]
    assert set(first) == {
        "point",
        "seed",
        "args",
        "check",
        "order",
        "max_abs_error",
        "max_rel_error",
        "tolerance",
        "status",
        "note",
    }
    assert set(first["args"]) == {"x1", "x2", "w1", "w2"} and first["tolerance"] == 1e-6
    assert all(r["status"] == "pass" for r in records)


def test_check_tolerance_is_applied(capsys):
    code, out, _ = run(capsys, "check", f"{EXAMPLE}:f", "--at", "1,2,3,4", "--tol", "1e-30")
    assert code == 1 and rows(out)["grad vs finite differences"] == "FAIL"


@pytest.mark.numba
def test_bench_json(capsys):
    code, out, err = run(capsys, "bench", "--expr", "x*y + sin(x)", "--args", "x,y", "--at", "0.5,2", "--repeat", "3")
    assert code == 0, err
    assert "value_and_grad" in out and "vg / f" in out and "(cache hit)" in out
    code, out, err = run(
        capsys, "bench", "--expr", "x*y + sin(x)", "--args", "x,y", "--at", "0.5,2", "--repeat", "3", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert {"function", "wrt", "numba_init_seconds", "compile", "cached_load", "call", "ratio_vg_over_f"} <= set(report)
    assert set(report["compile"]) == set(report["call"]) == {"f", "value_and_grad"}
    assert report["compile"]["value_and_grad"]["cache_hit"] is False  # a fresh cache: compiled cold
    assert report["cached_load"]["cache_hit"] is True  # the fresh process loaded the machine code
    assert report["call"]["f"]["samples"] == 3
    assert report["ratio_vg_over_f"]["call"] > 0 and report["ratio_vg_over_f"]["compile"] > 0
