"""Property tests on random expression programs.

A Hypothesis strategy builds random straight-line programs: up to four inputs
(some unused), constants, and up to twelve operations, each applied to earlier
values (so subexpressions are shared) with each operation at most eight deep.
The result is the last operation (the others may be dead code) or the sum of
every operation no other one uses.
Every primitive appears, wrapped where needed so that it stays inside its
domain for any real argument (``log(1 + x**2)``, ``arcsin(tanh(x) / 2)``).

A program is Python source text. Executed with the real ``np``, ``math`` and
``dc`` modules it is the function ``dc.compile`` traces; executed with
SymPy stand-ins for those modules it builds the same function as a SymPy
expression. The tests check, at random points away from kinks:

* the compiled value equals the SymPy value;
* reverse-mode ``grad`` == forward-mode ``jvp`` along each basis vector ==
  ``sympy.diff``, and the Hessian matches SymPy's second derivatives and ``hvp``;
* the graphs of ``f``, ``grad`` and ``hessian`` pass the IR verifier;
* ``to_sympy(f.ir)`` is the original function;
* ``dc.from_sympy`` of the SymPy expression has the same gradient as tracing.
"""

from __future__ import annotations

import functools
import math
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import dcompile as dc
from dcompile.frontend.sympy_lower import to_sympy
from dcompile.ir.verify import verify
from tests import helpers

MAX_DEPTH = 8
MAX_OPS = 12
MAX_INPUTS = 4
MAX_MAGNITUDE = 50.0  # reject programs whose intermediate values grow beyond this
RTOL = 1e-9
# DCOMPILE_HYPOTHESIS_EXAMPLES=2000 for a longer (random) hunt; the default run is
# derandomized so that CI checks the same programs every time.
_HUNT = "DCOMPILE_HYPOTHESIS_EXAMPLES" in os.environ
SETTINGS = settings(
    max_examples=int(os.environ.get("DCOMPILE_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    derandomize=not _HUNT,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# The SymPy oracle can take minutes on an unlucky expression (its assumption
# system expands large polynomials); such a program is skipped, not waited for.
SYMPY_SECONDS = 10.0


def sympy_time_limit(test: Callable[..., None]) -> Callable[..., None]:
    """Reject (``assume(False)``) an example whose SymPy work exceeds SYMPY_SECONDS."""

    @functools.wraps(test)
    def limited(*args: Any, **kwargs: Any) -> None:
        if not hasattr(signal, "setitimer"):
            return test(*args, **kwargs)

        def expired(signum: int, frame: Any) -> None:
            raise _SympyTimeout

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, SYMPY_SECONDS)
        try:
            test(*args, **kwargs)
        except _SympyTimeout:
            assume(False)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
            signal.signal(signal.SIGALRM, previous)
        return None

    return limited


class _SympyTimeout(Exception):
    pass


# -- the operations ------------------------------------------------------------------


def _kink_abs(a: float) -> float:
    return abs(a)


def _kink_apart(a: float, b: float) -> float:
    return abs(a - b) / (1.0 + abs(a) + abs(b))


def _kink_atan2(y: float, x: float) -> float:
    return abs(y) if x < 0 else math.hypot(x, y)


def _kink_clip(a: float) -> float:
    return abs(abs(a) - 1.0)


@dataclass(frozen=True)
class Op:
    """An operation: a template over its operands ``{0}``, ``{1}``, ...

    ``kink`` gives the distance of the operands ``kink_args`` from the op's
    kink or branch cut; points closer than ``KINK_MARGIN`` are not sampled
    (except for constant operands: there both sides see the same tie).
    """

    name: str
    arity: int
    template: str
    kink: Callable[..., float] | None = None
    kink_args: tuple[int, ...] = ()
    singular_when_const: bool = False  # NumPy and SymPy differ at the kink even for constants


KINK_MARGIN = 1e-6

OPS: list[Op] = [
    # arithmetic and powers
    Op("neg", 1, "-{0}"),
    Op("add", 2, "{0} + {1}"),
    Op("sub", 2, "{0} - {1}"),
    Op("mul", 2, "{0} * {1}"),
    Op("div", 2, "{0} / (1.0 + {1}**2)"),
    Op("rdiv", 2, "{0} / (2.0 + np.sin({1}))"),
    Op("square", 1, "{0}**2"),
    Op("cube", 1, "{0}**3"),
    Op("ipow_neg", 1, "(1.0 + {0}**2)**-2"),
    Op("fpow", 1, "(1.0 + {0}**2)**0.75"),
    Op("pow", 2, "(1.0 + {0}**2)**np.tanh({1})"),
    Op("math.pow", 2, "math.pow(2.0 + np.cos({0}), {1} / (1.0 + {1}**2))"),
    # exponentials and logarithms
    Op("exp", 1, "np.exp(np.sin({0}))"),
    Op("math.exp", 1, "math.exp(-{0}**2)"),
    Op("expm1", 1, "np.expm1(np.tanh({0}))"),
    Op("log", 1, "np.log(1.0 + {0}**2)"),
    Op("math.log", 1, "math.log(2.0 + math.sin({0}))"),
    Op("log1p", 1, "np.log1p({0}**2)"),
    Op("sqrt", 1, "np.sqrt(1.0 + {0}**2)"),
    # trigonometric and hyperbolic
    Op("sin", 1, "np.sin({0})"),
    Op("math.sin", 1, "math.sin({0})"),
    Op("cos", 1, "math.cos({0})"),
    Op("tan", 1, "np.tan(np.sin({0}))"),
    Op("arcsin", 1, "np.arcsin(np.tanh({0}) / 2.0)"),
    Op("arccos", 1, "np.arccos(np.sin({0}) / 2.0)"),
    Op("arctan", 1, "np.arctan({0})"),
    Op("arctan2", 2, "np.arctan2({0}, {1})", _kink_atan2, (0, 1), True),
    Op("math.atan2", 2, "math.atan2({0}, {1})", _kink_atan2, (0, 1), True),
    Op("math.hypot", 2, "math.hypot({0}, {1})", math.hypot, (0, 1)),
    Op("sinh", 1, "np.sinh(np.sin({0}))"),
    Op("cosh", 1, "np.cosh(np.tanh({0}))"),
    Op("tanh", 1, "np.tanh({0})"),
    # kinks and selects
    Op("abs", 1, "np.abs({0})", _kink_abs, (0,)),
    Op("sign", 1, "np.sign({0})", _kink_abs, (0,)),
    Op("maximum", 2, "np.maximum({0}, {1})", _kink_apart, (0, 1)),
    Op("minimum", 2, "np.minimum({0}, {1})", _kink_apart, (0, 1)),
    Op("clip", 1, "np.clip({0}, -1.0, 1.0)", _kink_clip, (0,)),
    Op("where", 4, "dc.where({0} > {1}, {2}, {3})", _kink_apart, (0, 1)),
    Op("np.where", 3, "np.where({0} <= 0.25, {1}, {2})", lambda a: abs(a - 0.25), (0,)),
    # smooth activations and reductions
    Op("sigmoid", 1, "dc.sigmoid({0})"),
    Op("softplus", 1, "dc.softplus({0})"),
    Op("logaddexp", 2, "np.logaddexp({0}, {1})"),
    Op("logsumexp", 3, "dc.logsumexp({0}, {1}, {2})"),
]
OPS_BY_NAME = {op.name: op for op in OPS}


# -- SymPy stand-ins for np, math and dc ----------------------------------------------------


class Step(sp.Function):
    """1 where the argument is positive, else 0, with derivative 0.

    The differentiable stand-ins write kinks and selects with it, so that
    ``sympy.diff`` never meets ``Abs`` of an argument it cannot prove real,
    nor a ``Piecewise`` in a condition (which SymPy rewrites by solving
    inequalities: slow, and it can fail). Points near a kink are not sampled.
    """

    @classmethod
    def eval(cls, a: Any) -> Any:
        if a.is_number:
            return sp.S.One if a > 0 else sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> Any:
        return sp.S.Zero


def _step_of(c: Any) -> Any:
    """``Step`` of a comparison: 1 where it holds (up to ties)."""
    if isinstance(c, (bool, sp.logic.boolalg.BooleanAtom)):
        return sp.S.One if c else sp.S.Zero
    if isinstance(c, (sp.StrictGreaterThan, sp.GreaterThan)):
        return Step(c.lhs - c.rhs)
    if isinstance(c, (sp.StrictLessThan, sp.LessThan)):
        return 1 - Step(c.lhs - c.rhs)
    raise AssertionError(f"unexpected condition {c!r}")


def _step_where(c: Any, a: Any, b: Any) -> Any:
    return b + (a - b) * _step_of(c)


def _step_max(a: Any, b: Any) -> Any:
    return b + (a - b) * Step(a - b)


def _step_min(a: Any, b: Any) -> Any:
    return b + (a - b) * Step(b - a)


def _atan2(y: Any, x: Any) -> Any:
    if y == 0 and x == 0:  # NumPy's value; SymPy says nan
        return sp.S.Zero
    return sp.atan2(y, x)


def _piecewise(c: Any, a: Any, b: Any) -> Any:
    return sp.Piecewise((a, c), (b, True))


def _sym_namespaces() -> tuple[dict[str, Any], dict[str, Any]]:
    """(natural, differentiable): the SymPy meaning of the program's names.

    The natural one uses ``Abs``, ``sign``, ``Max``, ``Min`` and ``Piecewise``
    (what ``from_sympy`` lowers and ``to_sympy`` raises to); the
    differentiable one writes them with :class:`Step`.
    """
    common = {
        "exp": sp.exp,
        "expm1": lambda a: sp.exp(a) - 1,
        "log": sp.log,
        "log1p": lambda a: sp.log(1 + a),
        "sqrt": sp.sqrt,
        "sin": sp.sin,
        "cos": sp.cos,
        "tan": sp.tan,
        "arcsin": sp.asin,
        "arccos": sp.acos,
        "arctan": sp.atan,
        "arctan2": _atan2,
        "sinh": sp.sinh,
        "cosh": sp.cosh,
        "tanh": sp.tanh,
        "logaddexp": lambda a, b: sp.log(sp.exp(a) + sp.exp(b)),
    }
    natural = {
        "abs": sp.Abs,
        "sign": sp.sign,
        "maximum": sp.Max,
        "minimum": sp.Min,
        "clip": lambda a, lo, hi: sp.Min(sp.Max(a, lo), hi),
        "where": _piecewise,
    }
    smooth = {
        "abs": lambda a: a * (Step(a) - Step(-a)),
        "sign": lambda a: Step(a) - Step(-a),
        "maximum": _step_max,
        "minimum": _step_min,
        "clip": lambda a, lo, hi: _step_min(_step_max(a, lo), hi),
        "where": _step_where,
    }
    out = []
    for kinks in (natural, smooth):
        npns = SimpleNamespace(**common, **kinks)
        mathns = SimpleNamespace(
            exp=sp.exp,
            log=sp.log,
            sin=sp.sin,
            cos=sp.cos,
            atan2=_atan2,
            hypot=lambda a, b: sp.sqrt(a**2 + b**2),
            pow=lambda a, b: a**b,
        )
        dcns = SimpleNamespace(
            where=kinks["where"],
            sigmoid=lambda a: 1 / (1 + sp.exp(-a)),
            softplus=lambda a: sp.log(1 + sp.exp(a)),
            logsumexp=lambda *xs: sp.log(sp.Add(*(sp.exp(x) for x in xs))),
        )
        out.append({"np": npns, "math": mathns, "dc": dcns})
    return out[0], out[1]


SYM_NATURAL, SYM_SMOOTH = _sym_namespaces()
NUMERIC = {"np": np, "math": math, "dc": dc}


# -- programs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    op: Op | None  # None: a leaf
    args: tuple[int, ...]
    ref: str  # how later lines refer to it: an input, a constant or a temporary
    depth: int
    const: bool  # depends on no input


@dataclass(frozen=True)
class Program:
    n_inputs: int
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]  # the result is their sum

    @property
    def arg_names(self) -> list[str]:
        return [f"x{i}" for i in range(self.n_inputs)]

    def reachable_inputs(self) -> set[int]:
        """The inputs the result depends on (through the program, not the math)."""
        seen, stack = set(), list(self.outputs)
        while stack:
            i = stack.pop()
            if i not in seen:
                seen.add(i)
                stack.extend(self.nodes[i].args)
        return {i for i in seen if i < self.n_inputs}

    def select_in_condition(self) -> bool:
        """Whether a select's condition depends on another select.

        SymPy turns such a ``Piecewise`` condition into ``ITE`` (solving
        inequalities on the way), which ``from_sympy`` does not lower; see
        :func:`test_nested_select_roundtrip`.
        """
        selects = {"where", "np.where"}
        has: list[bool] = []
        for n in self.nodes:
            op = n.op
            if op is not None and op.name in selects and any(has[n.args[i]] for i in op.kink_args):
                return True
            has.append((op is not None and op.name in selects) or any(has[i] for i in n.args))
        return False

    def source(self, everything: bool = False) -> str:
        """``def f(x0, ...)``; ``everything``: return every node's value."""
        lines = [f"def f({', '.join(self.arg_names)}):"]
        for n in self.nodes:
            if n.op is not None:
                lines.append(f"    {n.ref} = {n.op.template.format(*(self.nodes[i].ref for i in n.args))}")
        if everything:
            result = f"[{', '.join(n.ref for n in self.nodes)}]"
        else:
            result = " + ".join(self.nodes[i].ref for i in self.outputs)
        lines.append(f"    return {result}")
        return "\n".join(lines) + "\n"

    def function(self, namespace: dict[str, Any], everything: bool = False) -> Callable[..., Any]:
        scope = dict(namespace)
        exec(self.source(everything), scope)
        return scope["f"]

    def __repr__(self) -> str:
        return self.source()


CONSTANTS = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, -1.5, 3.0]),
    st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False).map(lambda c: round(c, 3)),
)


@st.composite
def programs(draw: st.DrawFn) -> Program:
    n_inputs = draw(st.integers(1, MAX_INPUTS))
    nodes = [Node(None, (), f"x{i}", 0, False) for i in range(n_inputs)]
    for c in draw(st.lists(CONSTANTS, max_size=3)):
        nodes.append(Node(None, (), f"({c!r})", 0, True))
    for k in range(draw(st.integers(1, MAX_OPS))):
        op = draw(st.sampled_from(OPS))
        usable = [i for i, n in enumerate(nodes) if n.depth < MAX_DEPTH]
        # the first operand is often the latest value (deep trees), the others
        # any earlier one (shared subexpressions, inputs, constants)
        first = usable[-1] if draw(st.integers(0, 3)) else draw(st.sampled_from(usable))
        args = (first, *(draw(st.sampled_from(usable)) for _ in range(op.arity - 1)))
        depth = 1 + max(nodes[i].depth for i in args)
        const = all(nodes[i].const for i in args)
        nodes.append(Node(op, args, f"t{k}", depth, const))
    outputs = [len(nodes) - 1]
    if draw(st.booleans()):  # no dead code: every operation reaches the result
        used = {i for n in nodes for i in n.args}
        outputs = [i for i, n in enumerate(nodes) if n.op is not None and i not in used]
    return Program(n_inputs, tuple(nodes), tuple(outputs))


def points(n: int) -> st.SearchStrategy[tuple[float, ...]]:
    return st.tuples(*[st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False) for _ in range(n)])


@st.composite
def programs_and_points(draw: st.DrawFn) -> tuple[Program, tuple[float, ...]]:
    prog = draw(programs())
    return prog, draw(points(prog.n_inputs))


def admissible(prog: Program, p: Sequence[float]) -> bool:
    """Whether every value at ``p`` is finite and moderate and away from kinks."""
    with np.errstate(all="ignore"):
        values = [float(v) for v in prog.function(NUMERIC, everything=True)(*p)]
    for n, v in zip(prog.nodes, values, strict=True):
        if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE:
            return False
        if n.op is not None and n.op.kink is not None:
            kink_args = [n.args[i] for i in n.op.kink_args]
            if all(prog.nodes[i].const for i in kink_args) and not n.op.singular_when_const:
                continue
            if n.op.kink(*(values[i] for i in kink_args)) < KINK_MARGIN:
                return False
    return True


# -- SymPy evaluation ------------------------------------------------------------------------


def symbols(n: int) -> list[sp.Symbol]:
    return [sp.Symbol(f"x{i}", real=True) for i in range(n)]


def sym_eval(exprs: Any, syms: Sequence[sp.Symbol], p: Sequence[float]) -> np.ndarray:
    """SymPy expressions at ``p``, evaluated by mpmath at 30 digits (``p`` taken exactly)."""
    exprs = [sp.sympify(e) for e in np.ravel(np.asarray(exprs, dtype=object))]
    # DiracDelta: SymPy may turn sqrt(x**2) into Abs(x); off the kink its second derivative is 0.
    kinks = {"Step": lambda a: 1 if a > 0 else 0, "DiracDelta": lambda *a: 0}
    fn = sp.lambdify(syms, exprs, modules=[kinks, "mpmath"], cse=True)
    with mpmath.workdps(30):
        values = fn(*(mpmath.mpf(v) for v in p))
    return np.array([float(v) for v in values])


close = functools.partial(helpers.close, rtol=RTOL, same_shape=False)


def compiled(prog: Program) -> dc.Function:
    return dc.compile(prog.function(NUMERIC), backend="python")


# -- the properties ----------------------------------------------------------------------------


def admitted(case: tuple[Program, tuple[float, ...]]) -> tuple[Program, tuple[float, ...], int, list, sp.Expr]:
    """Reject inadmissible points; the program, point, arity, symbols and SymPy expression."""
    prog, p = case
    assume(admissible(prog, p))
    note(prog.source())
    syms = symbols(prog.n_inputs)
    return prog, p, prog.n_inputs, syms, sp.sympify(prog.function(SYM_SMOOTH)(*syms))


@SETTINGS
@given(programs_and_points())
@sympy_time_limit
def test_derivatives_agree(case: tuple[Program, tuple[float, ...]]) -> None:
    """Value, reverse mode, forward mode and SymPy agree; the Hessian too."""
    prog, p, n, syms, expr = admitted(case)
    f = compiled(prog)

    exact_value, *rest = sym_eval([expr, *(sp.diff(expr, s) for s in syms)], syms, p)
    exact_grad = np.array(rest)
    assume(np.all(np.abs(exact_grad) < 1e6))

    close(f(*p), exact_value, "value vs sympy")
    with np.errstate(all="ignore"):
        direct = float(prog.function(NUMERIC)(*p))
    close(f(*p), direct, "value vs calling the function on floats", rtol=1e-11, scale=MAX_MAGNITUDE)

    reverse = dc.grad(f)(*p)
    assert reverse.shape == (n,)
    jvp = dc.jvp(f)
    forward = np.array([jvp(p, np.eye(n)[i])[1] for i in range(n)])
    close(reverse, forward, "reverse mode vs forward mode")
    close(reverse, exact_grad, "reverse mode vs sympy.diff")
    close(forward, exact_grad, "forward mode vs sympy.diff")
    value, vg = dc.value_and_grad(f)(*p)
    close(value, exact_value, "value_and_grad value")
    np.testing.assert_array_equal(vg, reverse)
    for i in set(range(n)) - prog.reachable_inputs():  # an input not used has a zero gradient
        assert reverse[i] == 0.0
        assert forward[i] == 0.0


@SETTINGS
@given(programs_and_points())
@sympy_time_limit
def test_hessian_agrees(case: tuple[Program, tuple[float, ...]]) -> None:
    prog, p, n, syms, expr = admitted(case)
    grads = [sp.diff(expr, s) for s in syms]
    exact = sym_eval([[sp.diff(g, s) for s in syms] for g in grads], syms, p).reshape(n, n)
    assume(np.all(np.abs(exact) < 1e6))
    f = compiled(prog)
    hess = dc.hessian(f)(*p)
    assert hess.shape == (n, n)
    np.testing.assert_array_equal(hess, hess.T)
    close(hess, exact, "hessian vs sympy")
    hvp = dc.hvp(f)
    columns = np.array([hvp(p, np.eye(n)[i]) for i in range(n)]).T
    close(columns, hess, "hvp along basis vectors vs hessian")


@SETTINGS
@given(programs())
def test_graphs_verify(prog: Program) -> None:
    note(prog.source())
    f = compiled(prog)
    verify(f.ir)
    for make in (dc.grad, dc.hessian, dc.jvp, dc.vjp, dc.hvp):
        verify(make(f).ir)
    if prog.n_inputs > 1:
        verify(dc.grad(f, wrt=prog.arg_names[::-2]).ir)
        verify(dc.hessian(f, wrt=prog.arg_names[1:]).ir)


@SETTINGS
@given(programs(), st.data())
@sympy_time_limit
def test_to_sympy_is_the_function(prog: Program, data: st.DataObject) -> None:
    """The traced graph raised to SymPy is the original expression."""
    assume(not prog.select_in_condition())
    note(prog.source())
    n = prog.n_inputs
    syms = symbols(n)
    expr = sp.sympify(prog.function(SYM_NATURAL)(*syms))
    (raised,) = to_sympy(compiled(prog).ir, syms)
    checked = 0
    for _ in range(3):
        p = data.draw(points(n))
        if not admissible(prog, p):
            continue
        checked += 1
        got, expected = sym_eval([raised, expr], syms, p)
        close(got, expected, f"to_sympy at {p}")
    assume(checked > 0)


@SETTINGS
@given(programs_and_points())
@sympy_time_limit
def test_from_sympy_matches_tracing(case: tuple[Program, tuple[float, ...]]) -> None:
    """``dc.from_sympy`` of the program's SymPy expression has the traced gradient."""
    prog, p = case
    assume(not prog.select_in_condition())
    assume(admissible(prog, p))
    note(prog.source())
    syms = symbols(prog.n_inputs)
    expr = sp.sympify(prog.function(SYM_NATURAL)(*syms))
    note(f"sympy: {expr}")
    traced = compiled(prog)
    lowered = dc.from_sympy(expr, args=syms, backend="python")
    verify(lowered.ir)
    close(lowered(*p), traced(*p), "from_sympy value vs traced value")
    close(dc.grad(lowered)(*p), dc.grad(traced)(*p), "from_sympy grad vs traced grad")


def test_nested_select_roundtrip() -> None:
    """A select whose condition is a select survives to_sympy and from_sympy.

    ``to_sympy`` raises it to ``Piecewise((x, ITE(...)), ...)`` (SymPy's
    canonical form of a ``Piecewise`` in a condition) and ``from_sympy`` must
    lower that back.
    """

    def f(x, y):
        t = dc.where(x > y, x, y)
        return dc.where(t <= 0.25, x * y, np.sin(y))

    traced = dc.compile(f, backend="python")
    syms = symbols(2)
    (raised,) = to_sympy(traced.ir, syms)
    lowered = dc.from_sympy(raised, args=syms, backend="python")
    for p in [(0.1, 0.2), (0.1, -0.5), (0.6, 0.3), (-0.4, 0.9)]:
        close(lowered(*p), traced(*p), f"value at {p}")
        close(dc.grad(lowered)(*p), dc.grad(traced)(*p), f"grad at {p}")


# -- the generator itself ----------------------------------------------------------------------


def test_generator_covers_every_op() -> None:
    """Every op's template runs on tracers and on SymPy symbols."""
    for op in OPS:
        args = ", ".join(f"x{i}" for i in range(op.arity))
        prog_src = f"def f({args}):\n    return {op.template.format(*args.split(', '))}\n"
        scope = dict(NUMERIC)
        exec(prog_src, scope)
        f = dc.compile(scope["f"], backend="python")
        p = [0.3 + 0.4 * i for i in range(op.arity)]
        expected = float(scope["f"](*p))
        assert f(*p) == pytest.approx(expected, rel=1e-12), op.name
        syms = symbols(op.arity)
        for ns in (SYM_NATURAL, SYM_SMOOTH):
            sym_scope = dict(ns)
            exec(prog_src, sym_scope)
            (got,) = sym_eval([sym_scope["f"](*syms)], syms, p)
            assert got == pytest.approx(expected, rel=1e-12), op.name


@settings(max_examples=200, deadline=None)
@given(programs())
def test_generator_respects_limits(prog: Program) -> None:
    assert 1 <= prog.n_inputs <= MAX_INPUTS
    assert all(n.depth <= MAX_DEPTH for n in prog.nodes)
    assert prog.nodes[-1].op is not None
