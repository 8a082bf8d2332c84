"""``dcompile explain``: the lecture notes' intermediates and chain-rule tables, checked numerically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import dcompile as dc
from tests import worked_example as W
from tests.helpers import check_golden, read_golden
from tests.helpers import run_cli as run

EXAMPLE = str(Path(__file__).parent / "worked_example.py")
EXPR = ("--expr", "(x1 + w1)**2 * (x1*w1 + x2*w2)", "--args", "x1,x2,w1,w2")
POINTS = [(1.0, 2.0, 3.0, 4.0), (0.5, -1.5, 2.25, -0.75), (-2.0, 0.3, 1.7, 3.1)]

MESSY = """
import numpy as np


def g(x, y):
    t = np.exp(x * y) / (1.0 + y**2)
    s = np.where(x > 0, x, -x) * np.sin(y)
    return t + s + np.sqrt(x * x + 1.0) + np.abs(y) * np.tanh(x) + np.log(1.0 + x * x) ** 3


def deep(x, y):
    a, b = x, y
    for _ in range(9):
        a, b = a * b, a + b
    return a + b
"""


def explain_json(capsys, *argv):
    code, out, err = run(capsys, "explain", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# -- golden files: the worked example ------------------------------------------------


@pytest.mark.parametrize(
    ("golden", "argv"),
    [
        ("explain_reverse.txt", ()),
        ("explain_reverse_latex.txt", ("--latex",)),
        ("explain_reverse_expand.txt", ("--expand",)),
        ("explain_forward_w1.txt", ("--forward", "--wrt", "w1")),
        ("explain_forward_w1_latex.txt", ("--forward", "--wrt", "w1", "--latex", "--expand")),
    ],
)
def test_worked_example_golden(capsys, golden, argv):
    code, out, err = run(capsys, "explain", f"{EXAMPLE}:f", *argv)
    assert code == 0 and err == ""
    check_golden(golden, out)


def test_backpropagation_table_reads_like_the_notes(capsys):
    out = read_golden("explain_reverse.txt")
    intermediates = ["a = x1 + w1", "b = x1*w1", "c = x2*w2", "d = a**2", "e = b + c", "f = d*e"]
    table = ["df/df = 1", "df/de = d", "df/dd = e", "df/dc = d", "df/db = d", "df/da = 2*a*e"]
    table += ["df/dx1 = 2*a*e + d*w1", "df/dx2 = d*w2", "df/dw1 = 2*a*e + d*x1", "df/dw2 = d*x2"]
    lines = [line.strip() for line in out.splitlines()]
    assert [line for line in lines if line in intermediates + table] == intermediates + table
    assert "df/dx1 = 2*a*e + d*x1" not in out  # the notes' typo: the partial is 2ae + d*w1


def test_forward_table_reads_like_the_notes(capsys):
    out = read_golden("explain_forward_w1.txt")
    table = ["da/dw1 = 1", "db/dw1 = x1", "dc/dw1 = 0", "dd/dw1 = 2*a", "de/dw1 = x1", "df/dw1 = 2*a*e + d*x1"]
    assert [line.strip() for line in out.splitlines() if line.startswith("  d") and "/dw1 = " in line] == table


def test_latex_is_an_align_block(capsys):
    out = read_golden("explain_reverse_latex.txt")
    assert out.count(r"\begin{align*}") == 2 and out.count(r"\end{align*}") == 2
    assert r"\frac{\partial f}{\partial a} &= 2 a e \\" in out
    assert r"\frac{\partial f}{\partial w_{1}} &= 2 a e + d x_{1} \\" in out
    assert r"a &= x_{1} + w_{1} \\" in out


def test_expanded_df_dw1_is_the_notes_result(capsys):
    data = explain_json(capsys, f"{EXAMPLE}:f", "--expand", "--wrt", "w1")
    x1, x2, w1, w2 = sp.symbols("x1 x2 w1 w2", real=True)
    entry = {e["name"]: e for e in data["table"]}["df/dw1"]
    notes = 2 * (x1 + w1) * (x1 * w1 + x2 * w2) + (x1 + w1) ** 2 * x1
    assert sp.simplify(_parse(entry["expanded"], ["x1", "x2", "w1", "w2"]) - notes) == 0
    assert [e["name"] for e in data["table"]][-1] == "df/dw1" and data["wrt"] == ["w1"]


# -- every entry checked numerically ---------------------------------------------------------


def _parse(text: str, names: list[str]) -> sp.Expr:
    return sp.sympify(text, locals={n: sp.Symbol(n, real=True) for n in names})


class Chain:
    """The JSON's intermediates evaluated in order at a point, optionally with one value nudged."""

    def __init__(self, data: dict) -> None:
        self.inputs = data["inputs"]
        self.names = self.inputs + [i["name"] for i in data["intermediates"]]
        self.names += [e["name"].replace("/", "_") for e in data["table"]]  # long formulas refer to entries
        self.defs = [(i["name"], _parse(i["formula"], self.names)) for i in data["intermediates"]]
        self.output = data["output"]

    def values(self, point, nudge: tuple[str, float] | None = None) -> dict[str, float]:
        vals = dict(zip(self.inputs, point, strict=True))
        if nudge and nudge[0] in vals:
            vals[nudge[0]] += nudge[1]
        subs = {sp.Symbol(k, real=True): v for k, v in vals.items()}
        for name, expr in self.defs:
            value = expr.subs(subs)
            value = bool(value) if value in (sp.true, sp.false) or value.is_Relational else float(value)
            if nudge and nudge[0] == name:
                value += nudge[1]
            vals[name] = value
            subs[sp.Symbol(name, real=True)] = value
        return vals

    def entries(self, data: dict, point) -> dict[str, float]:
        """Each table entry's formula evaluated at ``point`` (earlier entries bound by name)."""
        subs = {sp.Symbol(k, real=True): v for k, v in self.values(point).items()}
        out = {}
        for e in data["table"]:
            value = float(_parse(e["formula"], self.names).subs(subs))
            out[e["name"]] = value
            subs[sp.Symbol(e["name"].replace("/", "_"), real=True)] = value
            if e["expanded"] is not None:
                assert float(_parse(e["expanded"], self.names).subs(subs)) == pytest.approx(value, rel=1e-10)
        return out


def _central(chain: Chain, point, nudged: str, of: str, h: float = 1e-6) -> float:
    up = chain.values(point, (nudged, h))[of]
    down = chain.values(point, (nudged, -h))[of]
    return (up - down) / (2 * h)


def check_reverse(capsys, fn, argv, points):
    data = explain_json(capsys, *argv, "--expand")
    chain = Chain(data)
    assert data["mode"] == "reverse"
    for p in points:
        got = chain.entries(data, p)
        for name, value in got.items():  # df/dv: nudge v, everything after it recomputed
            v = name.split("/d", 1)[1]
            assert value == pytest.approx(_central(chain, p, v, chain.output), rel=1e-5, abs=1e-6), name
        expected = dc.grad(fn)(*p)
        finals = [got[f"d{chain.output}/d{x}"] for x in data["wrt"]]
        np.testing.assert_allclose(finals, expected, rtol=1e-12)
    return data


def check_forward(capsys, fn, argv, wrt, points):
    data = explain_json(capsys, *argv, "--forward", "--wrt", wrt, "--expand")
    chain = Chain(data)
    assert data["mode"] == "forward" and data["wrt"] == [wrt]
    for p in points:
        got = chain.entries(data, p)
        for name, value in got.items():  # dv/dx: nudge the input x
            v = name.split("/", 1)[0][1:]
            assert value == pytest.approx(_central(chain, p, wrt, v), rel=1e-5, abs=1e-6), name
        assert got[f"d{chain.output}/d{wrt}"] == pytest.approx(dc.grad(fn, wrt=wrt)(*p)[0], rel=1e-12)
    return data


def test_worked_example_entries_are_right_numerically(capsys):
    fn = dc.compile(W.f, backend="python")
    data = check_reverse(capsys, fn, (f"{EXAMPLE}:f",), POINTS)
    assert [e["name"] for e in data["table"]][-4:] == ["df/dx1", "df/dx2", "df/dw1", "df/dw2"]
    for wrt in ("x1", "x2", "w1", "w2"):
        check_forward(capsys, fn, (f"{EXAMPLE}:f",), wrt, POINTS)
    # the backpropagation table against the notes' own numbers (with the correct df/dx1)
    got = Chain(data).entries(data, POINTS[0])
    x1, x2, w1, w2 = POINTS[0]
    a, e = x1 + w1, x1 * w1 + x2 * w2
    d = a**2
    notes = {"df/dd": e, "df/de": d, "df/db": d, "df/dc": d, "df/da": 2 * a * e}
    assert {k: got[k] for k in notes} == notes
    assert [got[k] for k in ("df/dx1", "df/dx2", "df/dw1", "df/dw2")] == W.expected_grad(*POINTS[0])


def test_sympy_expression(capsys):
    code, out, _ = run(capsys, "explain", *EXPR, "--wrt", "w1")
    assert code == 0
    assert "f(x1, x2, w1, w2): intermediates" in out and "df/df = 1" in out
    assert out.rstrip().splitlines()[-1].startswith("  df/dw1 = ")  # the chosen input's entry last
    fn = dc.from_sympy(sp.sympify(EXPR[1]), list(sp.symbols("x1 x2 w1 w2")), backend="python")
    check_reverse(capsys, fn, EXPR, POINTS)
    check_forward(capsys, fn, EXPR, "w1", POINTS)


def test_messy_function_every_entry(capsys, tmp_path):
    """Division, where, sqrt, abs, tanh, log, powers: each entry against finite differences and dc.grad."""
    path = tmp_path / "messy.py"
    path.write_text(MESSY)
    namespace: dict = {}
    exec(compile(MESSY, str(path), "exec"), namespace)
    fn = dc.compile(namespace["g"], backend="python")
    points = [(0.7, -1.3), (-0.4, 0.9)]
    check_reverse(capsys, fn, (f"{path}:g",), points)
    check_forward(capsys, fn, (f"{path}:g",), "x", points)


def test_deep_graph_refers_to_earlier_entries(capsys, tmp_path):
    """Formulas stay short on a deep graph: long ones name the entries they come from."""
    path = tmp_path / "deep.py"
    path.write_text(MESSY)
    namespace: dict = {}
    exec(compile(MESSY, str(path), "exec"), namespace)
    fn = dc.compile(namespace["deep"], backend="python")
    code, out, _ = run(capsys, "explain", f"{path}:deep")
    assert code == 0 and "stands for the entry" in out
    assert max(len(line) for line in out.splitlines()) < 400
    data = explain_json(capsys, f"{path}:deep")
    got = Chain(data).entries(data, (0.3, 0.2))
    out_name = data["output"]
    np.testing.assert_allclose([got[f"d{out_name}/dx"], got[f"d{out_name}/dy"]], dc.grad(fn)(0.3, 0.2), rtol=1e-12)


def test_single_input_forward_needs_no_wrt(capsys):
    code, out, _ = run(capsys, "explain", "--expr", "sin(x)**2", "--args", "x", "--forward")
    assert code == 0 and "Forward propagation along x" in out and "df/dx = " in out


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((f"{EXAMPLE}:f", "--wrt", "z"), "wrt='z' is not an argument"),
        ((f"{EXAMPLE}:f", "--forward"), "--forward follows one input per sweep; name it with --wrt"),
        ((*EXPR, "--forward"), "one of x1, x2, w1, w2"),
        (("--expr", "x*y"), "--expr needs --args"),
        ((f"{EXAMPLE}:nll",), "scalar functions"),
        ((f"{EXAMPLE}:nll", "--shape", "w=3", "--shape", "X=5x3", "--shape", "y=5", "--latex"), "scalar functions"),
        ((f"{EXAMPLE}:nll", "--shape", "w=3", "--shape", "X=5x3", "--shape", "y=5", "--latex"), "dcompile show"),
    ],
)
def test_bad_usage_is_one_clear_line(capsys, argv, message):
    code, out, err = run(capsys, "explain", *argv)
    assert code == 2 and message in err and "Traceback" not in err and out == ""


# -- array functions: the table in NumPy ---------------------------------------------------

NLL = (f"{EXAMPLE}:nll", "--shape", "w=3", "--shape", "X=5x3", "--shape", "y=5")
ROSEN = (f"{EXAMPLE}:rosen", "--shape", "x=100")


@pytest.mark.parametrize(
    ("golden", "argv"),
    [
        ("explain_array_nll.txt", (*NLL, "--wrt", "w")),
        ("explain_array_rosen.txt", ROSEN),
    ],
)
def test_array_golden(capsys, golden, argv):
    code, out, err = run(capsys, "explain", *argv)
    assert code == 0 and err == ""
    check_golden(golden, out)


def test_array_tables_read_like_numpy():
    rosen = read_golden("explain_array_rosen.txt")
    for line in ["t0 = x[1:]", "t2 = t1**2", "rosen = np.sum(t8)", "drosen/dt3 = 200.0 * t3"]:
        assert f"  {line} " in rosen, line
    assert "  drosen/dx = zeros(100) with [1:] += drosen_dt3, [:-1] += drosen_dt1   # (100,)" in rosen
    first = rosen.splitlines()[1]
    assert first.startswith("  t0 = x[1:]   ") and first.endswith("   # (99,)")
    nll = read_golden("explain_array_nll.txt").splitlines()
    assert [line.split("#")[0].strip() for line in nll if line.startswith("  dnll/")] == [
        "dnll/dnll = 1.0",
        "dnll/dt2 = 1.0 / (1.0 + np.exp(-t2))",
        "dnll/dt1 = dnll_dt2 * t0",
        "dnll/dw = X.T @ dnll_dt1",
    ]
    assert nll[[i for i, line in enumerate(nll) if line.startswith("  dnll/")][-1]].endswith("# (3,)")


def _execute(data: dict, args: dict[str, np.ndarray]) -> dict:
    """The intermediates and table entries run in order as Python, with their shapes checked.

    An entry's printed formula is its code (``name = formula``, with ``d/d`` names as
    identifiers) except for the scatters (``A with [i] += g``), whose code is statements.
    """
    env = {"np": np, **args}
    for line in data["intermediates"] + data["table"]:
        if " with [" not in line["formula"]:
            assert line["code"] == [f"{line['id']} = {line['formula']}"], line
            assert line["id"] == line["name"].replace("/", "_"), line
        exec("\n".join(line["code"]), env)
        assert np.shape(env[line["id"]]) == tuple(line["shape"]), line["name"]
    return env


ARRAY_CASES = [
    (NLL, W.nll, None),
    (NLL, W.nll, "w"),
    (ROSEN, W.rosen, None),
    ((f"{EXAMPLE}:rosen", "--shape", "x=7"), W.rosen, None),
]


@pytest.mark.parametrize(("argv", "fn", "wrt"), ARRAY_CASES)
def test_array_reverse_table_computes_the_gradient(capsys, argv, fn, wrt):
    data = explain_json(capsys, *argv, *(("--wrt", wrt) if wrt else ()))
    assert data["mode"] == "reverse" and data["table"][0]["name"] == f"d{data['output']}/d{data['output']}"
    finals = [f"d{data['output']}/d{x}" for x in data["wrt"]]
    assert [e["name"] for e in data["table"][-len(finals) :]] == finals  # the gradients last
    compiled = dc.compile(fn, backend="python")
    rng = np.random.default_rng(7)
    for _ in range(3):
        args = {n: rng.standard_normal(s) for n, s in data["shapes"].items()}
        env = _execute(data, args)
        assert env[data["output"]] == pytest.approx(fn(*args.values()), rel=1e-12)
        expected = dc.grad(compiled, wrt=data["wrt"])(*args.values())
        expected = expected if isinstance(expected, tuple) else (expected,)
        for name, g in zip(finals, expected, strict=True):
            np.testing.assert_allclose(env[name.replace("/", "_")], g, rtol=1e-12)


@pytest.mark.parametrize(("argv", "fn", "wrt"), [(NLL, W.nll, "w"), (NLL, W.nll, "X"), (ROSEN, W.rosen, "x")])
def test_array_forward_table_is_the_directional_derivative(capsys, argv, fn, wrt):
    code, out, _ = run(capsys, "explain", *argv, "--forward", "--wrt", wrt)
    assert code == 0 and f"along the tangent d{wrt} of {wrt}" in out
    data = explain_json(capsys, *argv, "--forward", "--wrt", wrt)
    assert data["mode"] == "forward" and data["table"][-1]["name"] == f"d{data['output']}/d{wrt}"
    rng = np.random.default_rng(3)
    args = {n: rng.standard_normal(s) for n, s in data["shapes"].items()}
    direction = rng.standard_normal(data["shapes"][wrt])
    env = _execute(data, {**args, f"d{wrt}": direction})
    g = dc.grad(dc.compile(fn, backend="python"), wrt=wrt)(*args.values())
    assert env[f"d{data['output']}_d{wrt}"] == pytest.approx(np.sum(g * direction), rel=1e-10)


def test_array_helpers_and_scatters_compute_the_gradient(capsys, tmp_path):
    """A temporary used twice is a helper line; index arrays scatter with repeats adding up."""
    path = tmp_path / "arrays.py"
    path.write_text(
        "import numpy as np\n\n\n"
        "def h(x, a, idx):\n"
        "    s = np.sin(x) * a\n"
        "    return np.sum(s * s * x + np.exp(s)) + np.sum(x[idx] ** 2) + np.sum(x[::2] * x[1::2])\n"
    )
    argv = (f"{path}:h", "--shape", "x=6", "--shape", "idx=5:int64")
    code, out, _ = run(capsys, "explain", *argv)
    assert code == 0 and "temporaries of the derivative code, each used more than once" in out
    assert "with [idx] += " in out and "repeated indices adding up" in out
    data = explain_json(capsys, *argv)
    assert data["wrt"] == ["x", "a"]  # the integer index array is data
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    args = {"x": np.linspace(-1.0, 2.0, 6), "a": 0.7, "idx": np.array([0, 3, 3, 5, 0])}
    env = _execute(data, args)
    expected = dc.grad(dc.compile(namespace["h"], backend="python"), wrt=["x", "a"])(*args.values())
    np.testing.assert_allclose(env["dh_dx"], expected[0], rtol=1e-12)
    assert env["dh_da"] == pytest.approx(expected[1], rel=1e-12)


@pytest.mark.parametrize(
    ("flag", "message"),
    [("--latex", "LaTeX of array code is not offered"), ("--expand", "formulas of array code in the inputs")],
)
def test_array_latex_and_expand_are_refused(capsys, flag, message):
    for argv in (NLL, ROSEN):
        code, out, err = run(capsys, "explain", *argv, flag)
        assert code == 2 and out == "" and "Traceback" not in err
        assert message in err and f"Drop {flag}" in err and "dcompile show" in err


def test_array_without_shapes_asks_for_them(capsys):
    code, out, err = run(capsys, "explain", f"{EXAMPLE}:nll")
    assert code == 2 and out == "" and "--shape NAME=DIMS" in err
