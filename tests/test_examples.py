"""The scripts in examples/ run to completion (they assert their own results)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
# Command-line flags per example: each has a fast mode with no figure (no matplotlib needed). Every new
# objective's optimizer loop compiles once per test session (the cache is shared), so the fast modes keep
# their objectives and problem sizes small; every example must be listed here.
ARGV = {
    "logistic_regression.py": ["--no-plot"],
    "rosenbrock.py": ["--fast"],
    "curve_fit.py": ["--fast"],
    "two_link_arm.py": ["--fast"],
    "numba_loop.py": ["--fast"],
    "worked_example.py": [],
    "gaussian_process.py": ["--fast"],
    "poisson_regression.py": ["--fast"],
    "student_t.py": ["--fast"],
    "mlp_digits.py": ["--fast"],
}


def test_every_example_has_its_fast_mode_listed():
    assert {p.name for p in EXAMPLES} == set(ARGV)


@pytest.mark.numba
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(path), *ARGV.get(path.name, [])])
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out
