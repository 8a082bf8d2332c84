"""Every test checks something: a test that only runs code passes whatever the code computes."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).parent
# Library functions that raise when what they check is false (dcompile.ir.verify.verify).
CHECKERS = frozenset({"verify"})
# Calls that check by name: pytest.raises / warns / fail, np.testing.assert_*, unittest's assert*.
PYTEST_CHECKS = frozenset({"raises", "warns", "fail", "deprecated_call"})

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _called(node: ast.AST) -> Iterator[str]:
    """The names of the functions called anywhere in ``node`` (``f(...)`` and ``obj.f(...)``)."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            if isinstance(n.func, ast.Name):
                yield n.func.id
            elif isinstance(n.func, ast.Attribute):
                yield n.func.attr


def _checks_itself(fn: Function) -> bool:
    """An ``assert`` or ``raise`` in ``fn``, or a call that checks by its name."""
    if any(isinstance(n, ast.Assert | ast.Raise) for n in ast.walk(fn)):
        return True
    return any(name.startswith("assert") or name in PYTEST_CHECKS | CHECKERS for name in _called(fn))


def _functions(trees: list[ast.Module]) -> dict[str, list[Function]]:
    """Every function defined in the test files (nested ones too), by name."""
    out: dict[str, list[Function]] = {}
    for tree in trees:
        for n in ast.walk(tree):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                out.setdefault(n.name, []).append(n)
    return out


def _checking(functions: dict[str, list[Function]]) -> set[str]:
    """The helpers that check: they assert, or call a helper that does (to a fixed point)."""
    names = {name for name, defs in functions.items() if any(_checks_itself(d) for d in defs)}
    grown = True
    while grown:
        grown = False
        for name, defs in functions.items():
            if name not in names and any(set(_called(d)) & names for d in defs):
                names.add(name)
                grown = True
    return names


def _tests(tree: ast.Module) -> Iterator[Function]:
    """The test functions of a module: ``test*`` at the top level and in ``Test*`` classes."""
    for n in tree.body:
        body = n.body if isinstance(n, ast.ClassDef) and n.name.startswith("Test") else [n]
        for fn in body:
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name.startswith("test"):
                yield fn


def unchecked_tests(folder: Path) -> list[str]:
    """``file:line name`` of each test in ``folder`` that neither asserts nor calls anything that does."""
    trees = {path: ast.parse(path.read_text(), str(path)) for path in sorted(folder.glob("*.py"))}
    checking = _checking(_functions(list(trees.values())))
    return [
        f"{path.name}:{fn.lineno} {fn.name}"
        for path, tree in trees.items()
        for fn in _tests(tree)
        if not _checks_itself(fn) and not set(_called(fn)) & checking
    ]


def test_every_test_checks_something() -> None:
    assert unchecked_tests(TESTS) == []


def test_the_check_finds_a_test_that_only_runs_code(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(
        "def helper(x):\n    assert x\n\n\n"
        "def test_runs_only():\n    exec('1 + 1')\n\n\n"
        "def test_asserts():\n    assert 1 + 1 == 2\n\n\n"
        "def test_through_a_helper():\n    helper(True)\n\n\n"
        "def test_raises():\n    import pytest\n    with pytest.raises(ZeroDivisionError):\n        1 / 0\n"
    )
    assert unchecked_tests(tmp_path) == ["test_sample.py:5 test_runs_only"]
