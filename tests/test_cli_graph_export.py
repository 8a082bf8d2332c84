"""``dcompile graph`` (Graphviz DOT of a graph) and ``dcompile export`` (a standalone module)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from dcompile.cli.graph_cmd import NO_DOT, to_dot
from tests import worked_example as W
from tests.helpers import check_golden
from tests.helpers import run_cli as run

EXAMPLE = str(Path(__file__).parent / "worked_example.py")
POINT = (1.0, 2.0, 3.0, 4.0)
NLL_SHAPES = ("--shape", "w=3", "--shape", "X=5x3", "--shape", "y=5")


def _edges(dot: str) -> set[tuple[str, str]]:
    return set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', dot, flags=re.MULTILINE))


def _load(path: Path) -> dict:
    """The exported module's namespace, run as plain NumPy (JIT off: no numba compile)."""
    text = path.read_text()
    assert "JIT = True" in text
    namespace: dict = {"__name__": path.stem}
    exec(compile(text.replace("JIT = True", "JIT = False", 1), str(path), "exec"), namespace)
    return namespace


def _imports(text: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    return modules


# -- graph ------------------------------------------------------------------------------


def test_graph_of_the_worked_example(capsys):
    code, out, _ = run(capsys, "graph", f"{EXAMPLE}:f")
    assert code == 0
    check_golden("graph_f.dot", out)
    for name in "abcdef":
        assert re.search(rf'^  "{name}" \[shape=ellipse, label="{name} = ', out, flags=re.MULTILINE)
    for name in ("x1", "x2", "w1", "w2"):
        assert f'"{name}" [shape=box' in out
    assert _edges(out) == {
        ("x1", "a"), ("w1", "a"), ("x1", "b"), ("w1", "b"), ("x2", "c"), ("w2", "c"),
        ("a", "d"), ("b", "e"), ("c", "e"), ("d", "f"), ("e", "f"), ("f", "#return"),
    }  # fmt: skip
    assert 'label="d = integer_pow[n=2]\\n(a)"' in out
    assert 'label="f = mul\\n(d, e)", peripheries=2' in out  # the output is marked


def test_to_dot_is_the_cli_output_and_shows_constants_inline(capsys):
    fn = dc.compile(W.f, backend="python")
    _, out, _ = run(capsys, "graph", f"{EXAMPLE}:f")
    assert to_dot(fn.ir) == out
    grad = to_dot(dc.grad(fn).ir)
    assert 'label="t0 = mul\\n(2.0, a)"' in grad  # the constant 2.0 is in the label, not a node
    assert '-> "#return" [label="3"]' in grad  # four outputs, numbered


def test_graph_of_an_array_derivative_writes_a_file(capsys, tmp_path):
    target = tmp_path / "g.dot"
    argv = ("graph", f"{EXAMPLE}:nll", "--mode", "value_and_grad", "--wrt", "w", *NLL_SHAPES, "-o", str(target))
    code, out, err = run(capsys, *argv)
    dot = target.read_text()
    assert code == 0 and out == "" and f"wrote {target}" in err
    assert dot.startswith('digraph "nll_value_and_grad" {')
    assert 'label="X\\nf64[5,3]"' in dot and 'label="return nll, dnll_dw"' in dot
    assert ("dnll_dw", "#return") in _edges(dot)


def test_graph_svg_without_graphviz_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    code, out, err = run(capsys, "graph", f"{EXAMPLE}:f", "--format", "svg")
    assert code == 2 and out == ""
    assert NO_DOT in err and "Graphviz's dot program is not installed" in err


def test_graph_svg_runs_dot(capsys, monkeypatch, tmp_path):
    """With a stand-in ``dot`` on PATH: the DOT text goes in, its output comes out."""
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write('<svg>' + sys.argv[1] + sys.stdin.read()[:9])\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    target = tmp_path / "f.svg"
    code, _, _ = run(capsys, "graph", f"{EXAMPLE}:f", "--format", "svg", "-o", str(target))
    assert code == 0 and target.read_text() == '<svg>-Tsvgdigraph "'


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_svg_with_graphviz(capsys):
    code, out, _ = run(capsys, "graph", f"{EXAMPLE}:f", "--format", "svg")
    assert code == 0 and "<svg" in out and "d = integer_pow[n=2]" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("graph", f"{EXAMPLE}:nll"), "--shape NAME=DIMS"),
        (("graph", f"{EXAMPLE}:f", "-o", "/no/such/dir/f.dot"), "no such directory"),
        (("graph", f"{EXAMPLE}:f", "--format", "pdf"), "'pdf' is not one of"),
    ],
)
def test_graph_errors(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


# -- export -----------------------------------------------------------------------------


def test_export_default_modes(capsys, tmp_path):
    target = tmp_path / "f_compiled.py"
    code, out, _ = run(capsys, "export", f"{EXAMPLE}:f", "-o", str(target))
    assert code == 0 and out.startswith(f"wrote {target}: f, f_value_and_grad")
    text = target.read_text()
    assert _imports(text) == {"numpy", "numba"} and "dcompile" not in _imports(text)
    assert text.count("import numpy as np") == 1
    assert f"Generated by dcompile {dc.__version__} on " in text and f"{EXAMPLE}:f" in text
    assert "from f_compiled import f, f_value_and_grad" in text
    assert 'f = numba.njit(cache=True, error_model="numpy")(f)' in text
    ns = _load(target)
    fn = dc.compile(W.f, backend="python")
    assert ns["f"](*POINT) == fn(*POINT)
    value, grad = ns["f_value_and_grad"](*POINT)
    assert value == fn(*POINT)
    np.testing.assert_array_equal(grad, dc.grad(fn)(*POINT))


def test_export_array_function_with_shapes(capsys, tmp_path):
    target = tmp_path / "nll_compiled.py"
    argv = ("export", f"{EXAMPLE}:nll", "--mode", "grad", "--mode", "hessian", "--wrt", "w", *NLL_SHAPES)
    code, _, _ = run(capsys, *argv, "-o", str(target))
    text = target.read_text()
    assert code == 0 and "Argument shapes: w=3, X=5x3, y=5." in text
    rng = np.random.default_rng(0)
    w, X, y = rng.normal(size=3), rng.normal(size=(5, 3)), rng.choice([-1.0, 1.0], size=5)
    ns = _load(target)
    fn = dc.compile(W.nll, backend="python")
    np.testing.assert_allclose(ns["nll_grad"](w, X, y), dc.grad(fn, wrt="w")(w, X, y), rtol=1e-14)
    np.testing.assert_allclose(ns["nll_hessian"](w, X, y), dc.hessian(fn, wrt="w")(w, X, y), rtol=1e-14)
    with pytest.raises(ValueError, match="compiled for w of shape"):
        ns["nll_grad"](np.zeros(4), X, y)
    # standalone: its fused loops use NumPy's functions and sums, not dcompile.runtime.vecmath
    assert "dcompile" not in "".join(line for line in text.splitlines() if line.startswith(("import", "from")))
    assert "vm." not in text and "np.exp(" in text


def test_export_renames_array_constants_per_function(capsys, tmp_path):
    source = tmp_path / "consts.py"
    source.write_text(
        "import numpy as np\n\nC = np.array([1.0, 2.0, 3.0])\n\n\n"
        "def g(x):\n    return np.sum(C * x * x) + np.sum(np.array([0.5, 0.25, 2.0]) * x)\n"
    )
    target = tmp_path / "g_compiled.py"
    code, _, _ = run(
        capsys, "export", f"{source}:g", "--shape", "x=3", "--mode", "f", "--mode", "grad", "-o", str(target)
    )
    text = target.read_text()
    assert code == 0 and text.count("import numpy as np") == 1
    tree = ast.parse(text)
    globals_ = [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
    assert len(globals_) == len(set(globals_)) and {"_g_c0", "_g_grad_c0"} <= set(globals_)
    x = np.array([1.0, -2.0, 0.5])
    ns = _load(target)
    assert ns["g"](x) == pytest.approx(np.sum([1.0, 2.0, 3.0] * x * x) + np.sum([0.5, 0.25, 2.0] * x), rel=1e-15)
    np.testing.assert_allclose(ns["g_grad"](x), 2 * np.array([1.0, 2.0, 3.0]) * x + [0.5, 0.25, 2.0], rtol=1e-15)


def test_export_sympy_expression(capsys, tmp_path):
    target = tmp_path / "expr_compiled.py"
    argv = ("export", "--expr", "sin(x)*y**2 + exp(x*y)", "--args", "x,y", "--mode", "grad", "--mode", "hessian")
    code, out, _ = run(capsys, *argv, "-o", str(target))
    text = target.read_text()
    assert code == 0 and "f_grad, f_hessian" in out
    assert "the SymPy expression sin(x)*y**2 + exp(x*y) with arguments (x, y)" in " ".join(text.split())
    x, y = sp.symbols("x y")
    expr = sp.sin(x) * y**2 + sp.exp(x * y)
    at = {x: 0.7, y: -1.3}
    ns = _load(target)
    grad = [float(sp.diff(expr, s).subs(at)) for s in (x, y)]
    np.testing.assert_allclose(ns["f_grad"](0.7, -1.3), grad, rtol=1e-13)
    hess = np.array(sp.hessian(expr, (x, y)).subs(at), dtype=float)
    np.testing.assert_allclose(ns["f_hessian"](0.7, -1.3), hess, rtol=1e-13)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("-o", "/no/such/dir/m.py"), "no such directory /no/such/dir"),
        (("-o", "{tmp}"), "is a directory"),
        (("--mode", "gradient", "-o", "{tmp}/m.py"), "'gradient' is not one of"),
        ((), "Missing option '-o'"),
    ],
)
def test_export_errors(capsys, tmp_path, argv, message):
    argv = tuple(a.replace("{tmp}", str(tmp_path)) for a in argv)
    code, _, err = run(capsys, "export", f"{EXAMPLE}:f", *argv)
    assert code == 2 and message in err
    assert list(tmp_path.iterdir()) == []


def test_export_array_function_without_shapes(capsys, tmp_path):
    code, _, err = run(capsys, "export", f"{EXAMPLE}:nll", "-o", str(tmp_path / "m.py"))
    assert code == 2 and "--shape NAME=DIMS" in err and not (tmp_path / "m.py").exists()


@pytest.mark.numba
def test_exported_module_runs_compiled_without_dcompile(capsys, tmp_path):
    """In a fresh, isolated interpreter where dcompile cannot be imported: numba-compiled, same numbers."""
    target = tmp_path / "f_compiled.py"
    assert run(capsys, "export", f"{EXAMPLE}:f", "-o", str(target))[0] == 0
    script = (
        "import json, sys\n"
        "sys.modules['dcompile'] = None  # any import of dcompile now fails\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import numba, f_compiled as m\n"
        f"p = {POINT!r}\n"
        "v, g = m.f_value_and_grad(*p)\n"
        "print(json.dumps({'jit': isinstance(m.f, numba.core.registry.CPUDispatcher), 'f': m.f(*p),\n"
        "                  'v': v, 'g': g.tolist(), 'dc': [k for k in sys.modules if k.startswith('dcompile')]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], check=False, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    fn = dc.compile(W.f, backend="python")
    assert got["jit"] and got["dc"] == ["dcompile"]  # only the blocked entry
    assert got["f"] == fn(*POINT) and got["v"] == fn(*POINT)
    assert got["g"] == list(dc.grad(fn)(*POINT))
