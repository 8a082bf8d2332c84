"""Differential fuzzing: random scalar and array programs against independent oracles.

Hypothesis builds a random straight-line program over one to four inputs of
random shapes (scalars, vectors, matrices; some inputs unused), constants
(scalar literals and small array literals) and up to ten operations drawn from
a table: elementwise functions (each wrapped to stay inside its domain),
broadcasting binary operations, selects, reductions over an axis or all of
them (``keepdims`` or not), static and integer-array indexing, matrix
products, transposes, reshapes, stacking and norms; and the wider surface
(issue 18): SciPy's special functions (``sc.gammaln``, ``sc.log_ndtr``, ...),
variances, cumulative sums and products, sorting and medians, triangles,
diagonals, padding, ``einsum``, ``kron``, and linear algebra on SPD matrices
built from the operands (solve, Cholesky, log-determinant, inverse,
eigenvalues). Operands are earlier
values, so subexpressions are shared. A program is Python source; its shapes
are found by running it with NumPy, so the generator needs no shape rules of
its own.

The same source runs in three worlds: traced by dcompile, executed with NumPy
(and SciPy for ``logsumexp``/``sigmoid``) as the *reference* — never
dcompile's own output — and executed with ``jax.numpy`` where JAX is
installed. Scalar programs also run with SymPy stand-ins (``sympy.diff``,
evaluated at 30 digits). Checked, at random points away from every kink:

* the value against NumPy;
* ``grad`` and ``value_and_grad`` against five-point central differences of
  the NumPy program, JAX's ``grad`` and SymPy;
* ``jvp`` along a random direction against the central difference of the
  NumPy program along it (and JAX's ``jvp``), for array-valued results too;
* ``vjp`` by the dot-product test ``<ct, J v> = <J^T ct, v>`` with ``J v``
  from finite differences (and against JAX's ``vjp``);
* ``hvp`` and ``hessian``: ``u . H v`` against a finite-difference mixed
  second derivative of the NumPy program, against JAX's Hessian and SymPy's;
  the Hessian is symmetric and its columns are ``hvp`` along basis vectors.

Most programs run on the Python backend (the same generated source numba
compiles); a fixed handful also on numba. ``DCOMPILE_FUZZ_EXAMPLES=5000`` runs
a longer random hunt; ``python benchmarks/fuzz.py`` drives it and reports the
figures (see docs/robustness.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.special
import sympy as sp
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from scipy.special import expit
from scipy.special import logsumexp as sp_logsumexp

import dcompile as dc
from tests import helpers
from tests.test_properties import SYM_SMOOTH, sym_eval, sympy_time_limit

EXAMPLES = int(os.environ.get("DCOMPILE_FUZZ_EXAMPLES", "0")) or None
_HUNT = EXAMPLES is not None
SETTINGS = settings(
    max_examples=EXAMPLES or 25,
    deadline=None,
    derandomize=not _HUNT,  # CI checks the same programs every run
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
NUMBA_EXAMPLES = 3

MAX_OPS = 10
MAX_MAGNITUDE = 20.0  # every intermediate value of an admitted point is at most this
KINK_MARGIN = 2e-2  # and at least this far from every kink and tie
H1 = 1e-4  # step of the five-point first difference
H2 = 2e-3  # step of the second differences
FD_RTOL = 2e-6
FD2_RTOL = 5e-5
EXACT_RTOL = 1e-9  # against JAX and SymPy (both exact up to rounding)
VALUE_RTOL = 1e-11

# Counters for benchmarks/fuzz.py: programs tried (admitted) and checks made.
STATS = {"programs": 0, "rejected": 0, "checks": 0, "numba_programs": 0}

# -- the operations --------------------------------------------------------------------

# A kink function gets the operands' NumPy values and returns their distance from
# the operation's kink or tie (inf: none).


def _dist_zero(a: Any) -> float:
    return float(np.min(np.abs(a), initial=np.inf))


def _dist_pair(a: Any, b: Any) -> float:
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    return float(np.min(np.abs(a - b), initial=np.inf))


def _dist_clip(a: Any) -> float:
    return min(_dist_zero(np.asarray(a) - 1.0), _dist_zero(np.asarray(a) + 1.0))


def _dist_ties(a: Any) -> float:
    flat = np.sort(np.ravel(a))
    return float(np.min(np.diff(flat), initial=np.inf))


def _dist_norm(a: Any) -> float:
    return float(np.linalg.norm(np.ravel(a)))


@dataclass(frozen=True)
class Op:
    """An operation: a template over operands ``{0}``, ``{1}``, ... and an optional ``{axis}``."""

    name: str
    arity: int
    template: str
    kink: Callable[..., float] | None = None
    kink_args: tuple[int, ...] = (0,)
    axis: bool = False  # the template takes an axis argument: ``{axis}``
    array_only: bool = False  # needs an operand of rank >= 1


U = [  # elementwise, one operand
    Op("neg", 1, "-{0}"),
    Op("square", 1, "{0}**2"),
    Op("cube", 1, "{0}**3"),
    Op("ipow", 1, "(1.0 + {0}**2)**-2"),
    Op("fpow", 1, "(1.0 + {0}**2)**0.75"),
    Op("scale", 1, "2.5 * {0}"),
    Op("shift", 1, "{0} - 0.5"),
    Op("recip", 1, "1.0 / (1.5 + np.cos({0}))"),
    Op("exp", 1, "np.exp(np.sin({0}))"),
    Op("expm1", 1, "np.expm1(np.tanh({0}))"),
    Op("log", 1, "np.log(1.0 + {0}**2)"),
    Op("log1p", 1, "np.log1p({0}**2)"),
    Op("sqrt", 1, "np.sqrt(1.0 + {0}**2)"),
    Op("sin", 1, "np.sin({0})"),
    Op("cos", 1, "np.cos({0})"),
    Op("tan", 1, "np.tan(np.sin({0}))"),
    Op("arcsin", 1, "np.arcsin(np.tanh({0}) / 2.0)"),
    Op("arccos", 1, "np.arccos(np.sin({0}) / 2.0)"),
    Op("arctan", 1, "np.arctan({0})"),
    Op("sinh", 1, "np.sinh(np.sin({0}))"),
    Op("cosh", 1, "np.cosh(np.tanh({0}))"),
    Op("tanh", 1, "np.tanh({0})"),
    Op("abs", 1, "np.abs({0})", _dist_zero),
    Op("sign", 1, "np.sign({0}) * {0}", _dist_zero),
    Op("clip", 1, "np.clip({0}, -1.0, 1.0)", _dist_clip),
    Op("sigmoid", 1, "dc.sigmoid({0})"),
    Op("softplus", 1, "dc.softplus({0})"),
]
B = [  # elementwise, broadcasting
    Op("add", 2, "{0} + {1}"),
    Op("sub", 2, "{0} - {1}"),
    Op("mul", 2, "{0} * {1}"),
    Op("div", 2, "{0} / (1.0 + {1}**2)"),
    Op("pow", 2, "(1.0 + {0}**2)**np.tanh({1})"),
    Op("arctan2", 2, "np.arctan2({0}, 2.0 + {1}**2)"),
    Op("logaddexp", 2, "np.logaddexp({0}, {1})"),
    Op("maximum", 2, "np.maximum({0}, {1})", _dist_pair, (0, 1)),
    Op("minimum", 2, "np.minimum({0}, {1})", _dist_pair, (0, 1)),
    Op("np.where", 4, "np.where({0} > {1}, {2}, {3})", _dist_pair, (0, 1)),
    Op("dc.where", 3, "dc.where({0} <= 0.25, {1}, {2})", lambda a: _dist_zero(np.asarray(a) - 0.25)),
]
A = [  # arrays: reductions, indexing, linear algebra, shape changes
    Op("sum", 1, "np.sum({0}{axis})", axis=True, array_only=True),
    Op("method_sum", 1, "{0}.sum({axis})", axis=True, array_only=True),
    Op("mean", 1, "np.mean({0}{axis})", axis=True, array_only=True),
    Op("prod", 1, "np.prod({0}{axis})", axis=True, array_only=True),
    Op("max", 1, "np.max({0}{axis})", _dist_ties, axis=True, array_only=True),
    Op("min", 1, "np.min({0}{axis})", _dist_ties, axis=True, array_only=True),
    Op("logsumexp", 1, "dc.logsumexp({0}{axis})", axis=True, array_only=True),
    Op("norm", 1, "np.linalg.norm({0})", _dist_norm, array_only=True),
    Op("first", 1, "{0}[0]", array_only=True),
    Op("last", 1, "{0}[-1]", array_only=True),
    Op("tail", 1, "{0}[1:]", array_only=True),
    Op("head", 1, "{0}[:-1]", array_only=True),
    Op("stride", 1, "{0}[::2]", array_only=True),
    Op("column", 1, "{0}[:, 1]", array_only=True),
    Op("inner_slice", 1, "{0}[..., 1:]", array_only=True),
    Op("gather", 1, "{0}[np.array([1, 0, 1])]", array_only=True),
    Op("newaxis", 1, "{0}[None]", array_only=True),
    Op("transpose", 1, "{0}.T", array_only=True),
    Op("ravel", 1, "{0}.reshape(-1)", array_only=True),
    Op("matmul", 2, "{0} @ {1}", array_only=True),
    Op("dot", 2, "np.dot({0}, {1})", array_only=True),
    Op("outer", 2, "np.outer({0}, {1})", array_only=True),
    Op("stack", 2, "np.stack([{0}, {1}])", array_only=True),
    Op("concatenate", 2, "np.concatenate([{0}, {1}])", array_only=True),
]


def _dist_both_zero(a: Any, b: Any) -> float:
    return min(_dist_zero(a), _dist_zero(b))


def _spd(a: Any) -> Any:
    a = np.atleast_2d(np.asarray(a, dtype=float))
    return a @ a.T + 2.0 * np.eye(a.shape[0])


def _dist_eigen_gaps(a: Any) -> float:
    return _dist_ties(np.linalg.eigvalsh(_spd(a))) if np.ndim(a) == 2 else np.inf


_SPD = "({0} @ {0}.T + 2.0 * np.eye({0}.shape[0]))"
N2 = [  # the coverage issue's functions: elementwise, special, reductions, shapes, linear algebra
    Op("arcsinh", 1, "np.arcsinh({0})"),
    Op("arccosh", 1, "np.arccosh(1.5 + {0}**2)"),
    Op("arctanh", 1, "np.arctanh(np.tanh({0}) / 2.0)"),
    Op("cbrt", 1, "np.cbrt(2.0 + {0}**2)"),
    Op("exp2", 1, "np.exp2(np.sin({0}))"),
    Op("sinc", 1, "np.sinc({0})"),
    Op("hypot", 2, "np.hypot({0}, 1.0 + {1}**2)"),
    Op("logaddexp2", 2, "np.logaddexp2({0}, {1})"),
    Op("copysign", 2, "np.copysign({0}, {1})", _dist_both_zero, (0, 1)),
    Op("fmax", 2, "np.fmax({0}, {1})", _dist_pair, (0, 1)),
    Op("fmin", 2, "np.fmin({0}, {1})", _dist_pair, (0, 1)),
    Op("gammaln", 1, "sc.gammaln(1.0 + {0}**2)"),
    Op("digamma", 1, "sc.digamma(1.0 + {0}**2)"),
    Op("polygamma", 1, "sc.polygamma(1, 1.0 + {0}**2)"),
    Op("erf", 1, "sc.erf({0})"),
    Op("erfc", 1, "sc.erfc({0})"),
    Op("erfinv", 1, "sc.erfinv(np.tanh({0}) / 2.0)"),
    Op("ndtr", 1, "sc.ndtr({0})"),
    Op("log_ndtr", 1, "sc.log_ndtr({0})"),
    Op("ndtri", 1, "sc.ndtri(sc.expit({0}))"),
    Op("xlogy", 2, "sc.xlogy({0}, 1.0 + {1}**2)"),
    Op("xlog1py", 2, "sc.xlog1py({0}, {1}**2)"),
    Op("betaln", 2, "sc.betaln(1.0 + {0}**2, 1.0 + {1}**2)"),
    Op("entr", 1, "sc.entr(1.0 + {0}**2)"),
    Op("var", 1, "np.var({0}{axis})", axis=True, array_only=True),
    Op("cumsum", 1, "np.cumsum({0}{axis})", axis=True, array_only=True),
    Op("cumprod", 1, "np.cumprod({0}{axis})", axis=True, array_only=True),
    Op("sort", 1, "np.sort({0})", _dist_ties, array_only=True),
    Op("median", 1, "np.median({0})", _dist_ties, array_only=True),
    Op("flip", 1, "np.flip({0})", array_only=True),
    Op("roll", 1, "np.roll({0}, 1)", array_only=True),
    Op("tril", 1, "np.tril({0}[:, :])", array_only=True),
    Op("diag", 1, "np.diag({0})", array_only=True),
    Op("trace", 1, "np.trace({0})", array_only=True),
    Op("repeat", 1, "np.repeat({0}, 2)", array_only=True),
    Op("tile", 1, "np.tile({0}, 2)", array_only=True),
    Op("pad", 1, "np.pad({0}, 1)", array_only=True),
    Op("diff", 1, "np.diff({0})", array_only=True),
    Op("einsum_sum", 1, "np.einsum('...i->...', {0})", array_only=True),
    Op("einsum_matmul", 2, "np.einsum('ij,jk->ik', {0}, {1})", array_only=True),
    Op("kron", 2, "np.kron({0}, {1})", array_only=True),
    Op("solve", 2, f"np.linalg.solve({_SPD}, {{1}})", array_only=True),
    Op("cholesky", 1, f"np.linalg.cholesky({_SPD})", array_only=True),
    Op("slogdet", 1, f"np.linalg.slogdet({_SPD})[1]", array_only=True),
    Op("inv", 1, f"np.linalg.inv({_SPD})", array_only=True),
    Op("eigvalsh", 1, f"np.linalg.eigvalsh({_SPD})", _dist_eigen_gaps, array_only=True),
]
OPS = U + B + A + N2
_SYMPY_OPS = {op.name for op in U + B}  # the operations SymPy stand-ins exist for

SHAPES = [(), (), (3,), (2,), (2, 3), (3, 3), (1, 3), (2, 1)]
SCALAR_CONSTANTS = [0.5, -1.5, 2.0, 0.25, 3.0]


# -- the worlds a program runs in ---------------------------------------------------------


def _np_softplus(x: Any) -> Any:
    return np.logaddexp(0.0, x)


NUMPY = {
    "np": np,
    "sc": scipy.special,
    "dc": SimpleNamespace(
        where=np.where,
        sigmoid=expit,
        softplus=_np_softplus,
        logsumexp=lambda x, axis=None, keepdims=False: sp_logsumexp(x, axis=axis, keepdims=keepdims),
    ),
}
TRACED = {"np": np, "sc": scipy.special, "dc": dc}


def _jax_world() -> dict[str, Any] | None:
    try:
        import jax
    except ImportError:  # pragma: no cover - JAX is optional
        return None
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    return {
        "np": jnp,
        "sc": jax.scipy.special,
        "dc": SimpleNamespace(
            where=jnp.where,
            sigmoid=jax.nn.sigmoid,
            softplus=jax.nn.softplus,
            logsumexp=lambda x, axis=None, keepdims=False: jax.scipy.special.logsumexp(x, axis=axis, keepdims=keepdims),
        ),
    }


def _sympy_world() -> dict[str, Any]:
    """SymPy stand-ins (kinks written with a step function, see tests/test_properties.py)."""
    npns = SimpleNamespace(**vars(SYM_SMOOTH["np"]))
    npns.sum = lambda a: a
    dcns = SimpleNamespace(**vars(SYM_SMOOTH["dc"]))
    dcns.where = npns.where
    return {"np": npns, "dc": dcns}


SYMPY = _sympy_world()

# -- programs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    op: Op | None  # None: an input or a constant
    args: tuple[int, ...]
    expr: str  # the right-hand side (for an input or constant: how it is referred to)
    ref: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Program:
    shapes: tuple[tuple[int, ...], ...]  # of the inputs
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]  # the scalar result is the sum of their (summed) values
    vector_output: int  # the node an array-valued variant returns

    @property
    def n_inputs(self) -> int:
        return len(self.shapes)

    @property
    def arg_names(self) -> list[str]:
        return [f"x{i}" for i in range(self.n_inputs)]

    def body(self) -> list[str]:
        return [f"    {n.ref} = {n.expr}" for n in self.nodes if n.op is not None]

    def source(self, result: str = "scalar") -> str:
        """``def f(x0, ...)``; ``result``: "scalar", "vector" or "everything" (every node, for kinks)."""
        if result == "scalar":
            ret = " + ".join(
                self.nodes[i].ref if self.nodes[i].shape == () else f"np.sum({self.nodes[i].ref})" for i in self.outputs
            )
        elif result == "vector":
            ret = self.nodes[self.vector_output].ref
        else:
            ret = "[" + ", ".join(n.ref for n in self.nodes) + "]"
        return "\n".join([f"def f({', '.join(self.arg_names)}):", *self.body(), f"    return {ret}"]) + "\n"

    def function(self, world: dict[str, Any], result: str = "scalar") -> Callable[..., Any]:
        scope = dict(world)
        exec(self.source(result), scope)
        return scope["f"]

    @property
    def all_scalar(self) -> bool:
        return all(n.shape == () for n in self.nodes)

    def reachable_inputs(self, roots: tuple[int, ...]) -> set[int]:
        seen, stack = set(), list(roots)
        while stack:
            i = stack.pop()
            if i not in seen:
                seen.add(i)
                stack.extend(self.nodes[i].args)
        return {i for i in seen if i < self.n_inputs}

    def __repr__(self) -> str:
        return self.source()


def _shape_of(expr: str, operands: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The shape of ``expr`` on arrays of the operands' shapes, or None if NumPy rejects it."""
    scope = dict(NUMPY)
    scope.update({f"o{i}": np.full(s, 0.5) if s else 0.5 for i, s in enumerate(operands)})
    try:
        with np.errstate(all="ignore"):
            out = eval(expr, scope)
    except Exception:
        return None
    shape = np.shape(out)
    return shape if len(shape) <= 3 and math.prod(shape) <= 27 else None


@st.composite
def programs(draw: st.DrawFn, scalar: bool = False) -> Program:
    """A random program; ``scalar``: inputs and every value scalars (SymPy can check it)."""
    n_inputs = draw(st.integers(1, 4))
    shapes = tuple(() if scalar else draw(st.sampled_from(SHAPES)) for _ in range(n_inputs))
    nodes = [Node(None, (), "", f"x{i}", s) for i, s in enumerate(shapes)]
    for c in draw(st.lists(st.sampled_from(SCALAR_CONSTANTS), max_size=2)):
        nodes.append(Node(None, (), "", f"({c!r})", ()))
    if not scalar and draw(st.booleans()):
        nodes.append(Node(None, (), "", "np.array([0.5, -1.0, 2.0])", (3,)))
    table = U + B if scalar else OPS
    n_ops = draw(st.integers(1, MAX_OPS))
    k = 0
    for _ in range(4 * n_ops):
        if k == n_ops:
            break
        op = draw(st.sampled_from(table))
        # the first operand is often the latest value (deep chains), the others any
        # earlier one (shared subexpressions, inputs, constants)
        first = len(nodes) - 1 if draw(st.integers(0, 2)) else draw(st.integers(0, len(nodes) - 1))
        args = (first, *(draw(st.integers(0, len(nodes) - 1)) for _ in range(op.arity - 1)))
        if op.array_only and all(nodes[i].shape == () for i in args):
            continue
        axis = ""
        if op.axis:
            rank = len(nodes[args[0]].shape)
            choice = draw(st.integers(-1, rank - 1))
            if choice >= 0:
                sep = "" if op.name == "method_sum" else ", "
                axis = f"{sep}axis={choice - rank if draw(st.booleans()) else choice}"
                if draw(st.booleans()):
                    axis += ", keepdims=True"
        template = op.template.replace("{axis}", axis)
        shape = _shape_of(template.format(*(f"o{i}" for i in range(op.arity))), [nodes[i].shape for i in args])
        if shape is None:
            continue
        expr = template.format(*(nodes[i].ref for i in args))
        nodes.append(Node(op, args, expr, f"t{k}", shape))
        k += 1
    assume(k > 0)
    ops = [i for i, n in enumerate(nodes) if n.op is not None]
    outputs = [ops[-1]]
    if draw(st.booleans()):  # no dead code: every value no other one uses is summed
        used = {i for n in nodes for i in n.args}
        outputs = [i for i in ops if i not in used]
    vector_output = draw(st.sampled_from(ops))
    return Program(shapes, tuple(nodes), tuple(outputs), vector_output)


# -- evaluation at a point --------------------------------------------------------------------


def flatten(args: list[Any]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in args]) if args else np.zeros(0)


def unflatten(z: np.ndarray, shapes: tuple[tuple[int, ...], ...]) -> list[Any]:
    out, k = [], 0
    for s in shapes:
        n = math.prod(s)
        out.append(float(z[k]) if s == () else z[k : k + n].reshape(s).copy())
        k += n
    return out


def admissible(prog: Program, args: list[Any]) -> bool:
    """Every value finite and moderate, every kink and tie at least KINK_MARGIN away."""
    with np.errstate(all="ignore"):
        values = [np.asarray(v, dtype=float) for v in prog.function(NUMPY, "everything")(*args)]
    for n, v in zip(prog.nodes, values, strict=True):
        if not np.all(np.isfinite(v)) or np.max(np.abs(v), initial=0.0) > MAX_MAGNITUDE:
            return False
        kink = n.op.kink if n.op is not None else None
        if kink is not None and kink(*(values[n.args[i]] for i in n.op.kink_args)) < KINK_MARGIN:
            return False
    return True


def fd_second(g: Callable[[np.ndarray], float], z: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
    """``u . H v`` by polarization of second directional differences (fourth order)."""

    def d2(w: np.ndarray) -> float:
        h = H2
        return (-g(z + 2 * h * w) + 16 * g(z + h * w) - 30 * g(z) + 16 * g(z - h * w) - g(z - 2 * h * w)) / (12 * h * h)

    return (d2(u + v) - d2(u - v)) / 4.0


def close(got: Any, expected: Any, what: str, rtol: float, scale: float | None = None) -> None:
    """Relative agreement, with an absolute floor ``rtol * scale`` for entries near zero; counted."""
    helpers.close(got, expected, what, rtol, scale=scale)
    STATS["checks"] += 1


def direction(parts: list[Any]) -> Any:
    """A jvp/hvp direction as dcompile takes it: the array itself for one input."""
    return parts[0] if len(parts) == 1 else parts


def as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


@dataclass
class Case:
    prog: Program
    args: list[Any]
    z: np.ndarray
    rng: np.random.Generator
    ref: Callable[..., Any]  # the NumPy program
    ref_flat: Callable[[np.ndarray], Any]
    wrt: list[int]  # the inputs dcompile differentiates (all of them: every input is float)


def make_case(prog: Program, seed: int, result: str) -> Case:
    note(prog.source(result))
    rng = np.random.default_rng(seed)
    args = [float(rng.normal()) if s == () else rng.normal(size=s) for s in prog.shapes]
    ok = admissible(prog, args)
    if not ok:
        STATS["rejected"] += 1
    assume(ok)
    STATS["programs"] += 1
    ref = prog.function(NUMPY, result)

    def ref_flat(w: np.ndarray) -> Any:
        with np.errstate(all="ignore"):
            return np.asarray(ref(*unflatten(w, prog.shapes)), dtype=float)

    return Case(prog, args, flatten(args), rng, ref, ref_flat, list(range(prog.n_inputs)))


# -- the checks ---------------------------------------------------------------------------------


def check_scalar_program(prog: Program, seed: int, backend: str, jax_world: dict[str, Any] | None) -> None:
    c = make_case(prog, seed, "scalar")
    f = dc.compile(prog.function(TRACED), backend=backend, name="fz")
    n = c.z.size
    expected = float(c.ref(*c.args))
    close(f(*c.args), expected, "value vs NumPy", VALUE_RTOL, scale=MAX_MAGNITUDE)

    # gradient: central differences of the NumPy program, coordinate by coordinate
    fd_grad = helpers.fd_gradient(c.ref_flat, c.z, H1)
    grad = flatten(as_list(dc.grad(f)(*c.args)))
    close(grad, fd_grad, "grad vs finite differences", FD_RTOL)
    value, vg = dc.value_and_grad(f)(*c.args)
    close(value, expected, "value_and_grad value", VALUE_RTOL, scale=MAX_MAGNITUDE)
    np.testing.assert_array_equal(flatten(as_list(vg)), grad)
    offsets = np.cumsum([0, *(math.prod(s) for s in prog.shapes)])
    for i in set(range(prog.n_inputs)) - prog.reachable_inputs(prog.outputs):
        assert np.all(grad[offsets[i] : offsets[i + 1]] == 0.0), "an unused input has a zero gradient"

    # forward mode along a random direction
    v = c.rng.normal(size=n)
    value, tangent = dc.jvp(f)(c.args, direction(unflatten(v, prog.shapes)))
    close(value, expected, "jvp value", VALUE_RTOL, scale=MAX_MAGNITUDE)
    close(tangent, helpers.fd_along(c.ref_flat, c.z, v, H1), "jvp vs finite differences", FD_RTOL)

    # second order: u . H v, H symmetric, hessian columns = hvp
    u = c.rng.normal(size=n)
    hv = flatten(as_list(dc.hvp(f)(c.args, direction(unflatten(v, prog.shapes)))))
    mixed = fd_second(c.ref_flat, c.z, u, v)
    hess = np.asarray(dc.hessian(f)(*c.args), dtype=float).reshape(n, n)
    scale2 = max(1.0, float(np.max(np.abs(hess), initial=0.0)) * n)
    close(u @ hv, mixed, "u . hvp(v) vs finite differences", FD2_RTOL, scale=scale2)
    close(hess, hess.T, "hessian symmetric", 1e-12, scale=scale2)
    close(hess @ v, hv, "hessian @ v vs hvp", 1e-9, scale=scale2)

    if jax_world is not None:
        import jax

        jf = prog.function(jax_world, "scalar")

        def jflat(w: Any) -> Any:
            k, parts = 0, []
            for s in prog.shapes:
                m = math.prod(s)
                parts.append(w[k] if s == () else w[k : k + m].reshape(s))
                k += m
            return jax.numpy.sum(jax.numpy.asarray(jf(*parts)))

        z = jax.numpy.asarray(c.z)
        close(grad, np.asarray(jax.grad(jflat)(z)), "grad vs JAX", EXACT_RTOL)
        close(hess, np.asarray(jax.hessian(jflat)(z)), "hessian vs JAX", EXACT_RTOL, scale=scale2)

    if prog.all_scalar and all(n.op is None or n.op.name in _SYMPY_OPS for n in prog.nodes):
        check_sympy(prog, c, grad, hess)


@sympy_time_limit
def check_sympy(prog: Program, c: Case, grad: np.ndarray, hess: np.ndarray) -> None:
    syms = [sp.Symbol(f"x{i}", real=True) for i in range(prog.n_inputs)]
    expr = sp.sympify(prog.function(SYMPY, "scalar")(*syms))
    n = len(syms)
    grads = [sp.diff(expr, s) for s in syms]
    exact = sym_eval([*grads, *(sp.diff(g, s) for g in grads for s in syms)], syms, c.args)
    close(grad, exact[:n], "grad vs sympy.diff", EXACT_RTOL)
    close(hess, exact[n:].reshape(n, n), "hessian vs sympy.diff", EXACT_RTOL * 10)


def check_vector_program(prog: Program, seed: int, backend: str, jax_world: dict[str, Any] | None) -> None:
    c = make_case(prog, seed, "vector")
    f = dc.compile(prog.function(TRACED, "vector"), backend=backend, name="fzv")
    n = c.z.size
    expected = c.ref(*c.args)
    close(f(*c.args), expected, "value vs NumPy", VALUE_RTOL, scale=MAX_MAGNITUDE)
    out_shape = np.shape(expected)

    v = c.rng.normal(size=n)
    jv_fd = helpers.fd_along(c.ref_flat, c.z, v, H1)
    value, jv = dc.jvp(f)(c.args, direction(unflatten(v, prog.shapes)))
    close(value, expected, "jvp value", VALUE_RTOL, scale=MAX_MAGNITUDE)
    close(jv, jv_fd, "jvp vs finite differences", FD_RTOL)

    ct = c.rng.normal(size=out_shape)
    value, vjp = dc.vjp(f)(c.args, float(ct) if out_shape == () else ct)
    close(value, expected, "vjp value", VALUE_RTOL, scale=MAX_MAGNITUDE)
    ctv = flatten(as_list(vjp))
    assert ctv.size == n
    scale = max(1.0, float(np.sum(np.abs(ct) * np.abs(jv_fd))))
    close(ctv @ v, np.sum(ct * jv_fd), "dot-product test <vjp(ct), v> = <ct, J v>", FD_RTOL, scale=scale)

    if jax_world is not None:
        import jax

        jf = prog.function(jax_world, "vector")
        jargs = [jax.numpy.asarray(a) for a in c.args]
        _, jvp_jax = jax.jvp(jf, tuple(jargs), tuple(jax.numpy.asarray(t) for t in unflatten(v, prog.shapes)))
        close(jv, np.asarray(jvp_jax), "jvp vs JAX", EXACT_RTOL)
        _, pull = jax.vjp(jf, *jargs)
        close(ctv, flatten([np.asarray(t) for t in pull(jax.numpy.asarray(ct))]), "vjp vs JAX", EXACT_RTOL)


JAX = _jax_world()


# -- the tests ----------------------------------------------------------------------------------

SEEDS = st.integers(0, 2**32 - 1)


@SETTINGS
@given(programs(), SEEDS)
def test_fuzz_array_programs(prog: Program, seed: int) -> None:
    """Scalar-valued programs over arrays: value, grad, jvp, hvp, hessian vs NumPy, FD and JAX."""
    check_scalar_program(prog, seed, "python", JAX)


@SETTINGS
@given(programs(), SEEDS)
def test_fuzz_array_valued_programs(prog: Program, seed: int) -> None:
    """Array-valued programs: jvp vs FD and JAX; vjp by the dot-product test and vs JAX."""
    check_vector_program(prog, seed, "python", JAX)


@settings(SETTINGS, max_examples=(EXAMPLES or 45) // 3)
@given(programs(scalar=True), SEEDS)
def test_fuzz_scalar_programs(prog: Program, seed: int) -> None:
    """Programs of scalars only: the same checks, plus sympy.diff at 30 digits."""
    check_scalar_program(prog, seed, "python", JAX)


@pytest.mark.numba
@settings(SETTINGS, max_examples=NUMBA_EXAMPLES if not _HUNT else max(3, EXAMPLES // 50))
@given(programs(), SEEDS)
def test_fuzz_on_numba(prog: Program, seed: int) -> None:
    """A few programs compiled by numba: every mode against the same oracles."""
    STATS["numba_programs"] += 1
    check_scalar_program(prog, seed, "numba", None)


# -- regressions: bugs the fuzzer found ---------------------------------------------------------


def test_regression_display_alias_of_an_adjoint_not_shaped_like_the_loop():
    """Found by the fuzzer: the adjoint of ``t5`` (shape (2,)) equals that of ``t8`` (both ones,
    hash-consed), and its display alias was printed inside a (2, 3) loop as ``df_dt5 = df_dt8[j]``:
    an IndexError on the Python backend and a read past the array's end under numba."""

    def f(x2, x3):
        t4 = np.cos(x3 * np.ones(3))
        t5 = np.dot(t4, x2)
        t8 = x2[::2]
        return np.sum(t5) + np.sum(t8)

    rng = np.random.default_rng(0)
    x2, x3 = rng.normal(size=3), rng.normal(size=(2, 1))
    gx2, gx3 = dc.grad(dc.compile(f, backend="python"))(x2, x3)
    z = flatten([x2, x3])
    expected = helpers.fd_gradient(lambda w: f(w[:3], w[3:].reshape(2, 1)), z, H1)
    close(flatten([gx2, gx3]), expected, "grad vs finite differences", FD_RTOL)
