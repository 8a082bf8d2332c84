"""Generated modules made from real ones (issue 23): the templates of the optimizer drivers and of
the finite sums' row loops are package modules that import, lint and type-check like any other,
and ``optimize/template.py`` copies them with only the per-objective bindings changed."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dcompile.optimize import template
from dcompile.optimize.driver import METHODS, KernelRef, driver_source

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = (
    "dcompile.optimize.driver_template",
    "dcompile.sums.rowloops_template",
    "dcompile.sums.hvp_template",
    "dcompile.sums.distributed_objective",
)


def _path(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


@pytest.mark.parametrize("module", TEMPLATES)
def test_the_templates_are_modules_of_the_package(module):
    assert importlib.import_module(module).__file__ == str(_path(module))


def test_the_templates_are_linted_and_type_checked():
    files = [str(_path(m)) for m in TEMPLATES] + [str(_path("dcompile.optimize.template"))]
    cmd = [sys.executable, "-m", "ruff", "check", *files]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["files"] == ["dcompile"] and "exclude" not in mypy  # mypy reads every module of the package
    for override in mypy.get("overrides", []):
        names = override["module"] if isinstance(override["module"], list) else [override["module"]]
        assert not set(names) & {*TEMPLATES, "dcompile.optimize.template"}, override


def test_data_is_spelled_out_in_code_only():
    source = '''def f(w, data):
    """The data: rows of data."""
    n = data.shape[0]  # data
    return g(w, data[i]) + h(w, 0, n, data)
'''
    expected = '''def f(w, d0, d1):
    """The data: rows of data."""
    n = d0.shape[0]  # data
    return g(w, d0[i], d1[i]) + h(w, 0, n, d0, d1)
'''
    assert template.spell_data(source, 2) == expected


def test_a_driver_is_its_template_with_the_kernels_bound_and_other_methods_left_out():
    vg, d2 = KernelRef("vg_mod_0", "vg"), KernelRef("hvp_mod_0", "hvp")
    text = driver_source("obj", vg, d2, ("newton-cg",))
    tree = ast.parse(text)
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == [
        "newton_cg_iterate", "newton_cg_start", "newton_cg_run", "newton_cg",
    ]  # fmt: skip
    assert template.BEGIN not in text and template.END not in text
    assert f"from {d2.dotted} import hvp as _d2_py\n" in text
    assert "d2 = StaticKernel(" in text
    # every function's text is the template's, unchanged
    source = _path("dcompile.optimize.driver_template").read_text()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            assert ast.get_source_segment(text, node) in source
    first = driver_source("obj", vg, None, ("gd", "lbfgs", "bfgs"))
    served = {n.name for n in ast.parse(first).body if isinstance(n, ast.FunctionDef)}
    entries = ("", "_run", "_start", "_iterate")
    assert served == {f"{METHODS[m][0]}{s}" for m in ("gd", "lbfgs", "bfgs") for s in entries}
    assert re.search(r"^d2 = vg ", first, re.MULTILINE)
