"""The README's code examples run and print what it says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).parent.parent / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_examples_run_and_show_the_real_gradient_code():
    namespace: dict = {}
    first, *_ = python_blocks()
    exec(compile(first, "README.md", "exec"), namespace)
    dc, f = namespace["dc"], namespace["f"]
    np.testing.assert_array_equal(dc.grad(f)(1.0, 2.0, 3.0, 4.0), [136.0, 64.0, 104.0, 32.0])
    shown = python_blocks()[1]
    assert shown.strip() in dc.grad(f).source  # the README shows the real generated code


def test_readme_sympy_example():
    namespace: dict = {"dc": __import__("dcompile")}
    exec(compile(python_blocks()[2], "README.md", "exec"), namespace)
    dc, g = namespace["dc"], namespace["g"]
    # the first example's function, written in SymPy: the same gradient
    np.testing.assert_array_equal(dc.grad(g)(1.0, 2.0, 3.0, 4.0), [136.0, 64.0, 104.0, 32.0])


def test_readme_array_example_and_its_generated_code():
    namespace: dict = {}
    exec(compile(python_blocks()[3], "README.md", "exec"), namespace)
    dc, rosen, x0 = namespace["dc"], namespace["rosen"], namespace["x0"]
    assert rosen(x0) == 6493.5
    assert namespace["H"].shape == (10, 10)
    assert namespace["g"].shape == (1000,)
    shown = python_blocks()[4]
    assert shown.strip() in dc.grad(rosen).specialize(x0).source
