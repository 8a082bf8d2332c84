"""Elementwise primitives: arithmetic, elementary functions, rounding, comparisons, select.

Each primitive is one declaration (:func:`_define`) that says everything about
it side by side: the NumPy reference implementation, the emitted code, the
names users call it by (``numpy.sin``, ``math.sin``: rows of
:mod:`~dcompile.primitives.spellings`), its SymPy form (both ways: raising a
graph to SymPy and lowering SymPy's ``sin``), its algebraic identities and its
derivative. For an elementwise function the Jacobian is diagonal, so forward
and reverse mode multiply by the same partial derivative: one rule per input,
``d=(lambda t, ans, x: mul(t, cos(x)),)``, receives ``t`` (a tangent in
forward mode, a cotangent in reverse mode) and returns ``t`` times the
partial; it serves as both the JVP and the VJP rule. The AD transforms never
mention a primitive by name. ``ans`` is the primitive's output; a rule is
only called for a nonzero ``t``; an input with no derivative has ``None``.

Shapes follow NumPy broadcasting. Arithmetic on integer operands stays
integer (``i + 1``, ``n % 2``; true division gives floats); every other
result is float64, except comparisons, predicates and logical operations,
which are boolean. Booleans in arithmetic are converted to float first, as
``1.0 * (x > 0)`` means.
"""

# SymPy forms stay lambdas (``lambda x, y: sp.Max(x, y)``): naming ``sp.Max`` directly would import
# SymPy when this module is imported.
# ruff: noqa: PLW0108

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.ir.primitive import (
    PREC_ADD,
    PREC_AND,
    PREC_ATOM,
    PREC_CMP,
    PREC_MUL,
    PREC_NOT,
    PREC_OR,
    PREC_POW,
    PREC_TERNARY,
    PREC_UNARY,
    EmitRule,
    Primitive,
    register,
)
from dcompile.ir.tracer import Tracer, bind
from dcompile.ir.types import BOOL, DType, VType, broadcast_shapes
from dcompile.primitives.spellings import SMOOTH, VALUES, ZERO
from dcompile.primitives.spellings import add as add_spelling

Rule = Callable[..., Any] | None
_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))


class _LazySympy:
    """SymPy, imported on first use: it is only needed to raise graphs to SymPy,
    and importing it costs a quarter of a second at ``import dcompile``."""

    def __getattr__(self, name: str) -> Any:
        import sympy

        return getattr(sympy, name)


sp: Any = _LazySympy()

# -- type rules and code templates ---------------------------------------------


def float_rule(*types: VType, **params: Any) -> VType:
    """The type rule of a float function: float64 over the broadcast shape of the inputs."""
    return VType(broadcast_shapes(*(t.shape for t in types)), DType.F64)


def _bool_rule(*types: VType, **params: Any) -> VType:
    return VType(broadcast_shapes(*(t.shape for t in types)), BOOL.dtype)


def _select_rule(c: VType, a: VType, b: VType) -> VType:
    dtype = a.dtype if a.dtype is b.dtype else DType.F64
    return VType(broadcast_shapes(c.shape, a.shape, b.shape), dtype)


def _call(fn: str) -> EmitRule:
    """Template ``fn(a, b)``."""

    def emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
        return f"{fn}({', '.join(a for a, _ in args)})", PREC_ATOM

    return emit


def _paren(arg: tuple[str, int], need: bool) -> str:
    return f"({arg[0]})" if need else arg[0]


def _infix(op: str, prec: int) -> EmitRule:
    """Template ``a op b`` for a left-associative operator.

    The right operand is parenthesised at equal precedence, so ``a + (b + c)``
    keeps its evaluation order (floating-point addition is not associative);
    comparisons parenthesise both sides because Python chains them.
    """

    def emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
        left, right = args
        left_needs = left[1] < prec or (prec == PREC_CMP and left[1] <= prec)
        return f"{_paren(left, left_needs)} {op} {_paren(right, right[1] <= prec)}", prec

    return emit


def _emit_neg(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    (x,) = args
    return f"-{_paren(x, x[1] < PREC_UNARY)}", PREC_UNARY


def _emit_not(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    (x,) = args
    if types[0].rank:
        return f"np.logical_not({x[0]})", PREC_ATOM
    return f"not {_paren(x, x[1] < PREC_NOT)}", PREC_NOT


def _logical(op: str, prec: int) -> EmitRule:
    """``a and b`` on scalars, ``np.logical_and(a, b)`` on arrays."""
    scalar = _infix(op, prec)

    def emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
        if any(t.rank for t in types):
            return f"np.logical_{op}({args[0][0]}, {args[1][0]})", PREC_ATOM
        return scalar(args, params, types)

    return emit


def _emit_integer_pow(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    (x,) = args
    n = params["n"]
    power = f"{_paren(x, x[1] <= PREC_POW)}**{abs(n)}"
    if n >= 0:
        return power, PREC_POW
    # 1.0 / x**k, not x**(-k): numba computes an integer power with an internal function
    # that raises ZeroDivisionError for 0.0**(-k) whatever the error model; the division
    # is the one numba's int_power ends with, so the bits are the same and 0.0 gives inf.
    return f"1.0 / {power}", PREC_MUL


def _emit_pow(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    x, y = args
    return f"{_paren(x, x[1] <= PREC_POW)}**{_paren(y, y[1] < PREC_UNARY)}", PREC_POW


def _emit_select(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    c, a, b = args
    if all(t.rank == 0 for t in types):
        # A scalar select evaluates only the chosen branch: no NaN or overflow
        # from the other one, and no wasted work.
        return (
            f"{_paren(a, a[1] <= PREC_TERNARY)} if {_paren(c, c[1] <= PREC_TERNARY)} "
            f"else {_paren(b, b[1] < PREC_TERNARY)}",
            PREC_TERNARY,
        )
    return f"np.where({c[0]}, {a[0]}, {b[0]})", PREC_ATOM


def _emit_sigmoid(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    (x,) = args
    return f"1.0 / (1.0 + np.exp(-{_paren(x, x[1] < PREC_UNARY)}))", PREC_MUL


_SIMPLE_OPERAND = re.compile(r"[A-Za-z_]\w*(\[[\w, ]+\])?")


def _emit_softplus(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    """``np.logaddexp(0.0, x)``; on a scalar name (an entry in a fused loop) the same formula written out.

    numba's scalar ``np.logaddexp`` is an opaque call; written out, the same
    operations as NumPy's ``npy_logaddexp(0, x)`` (``max(x, 0) + log1p(exp(-|x|))``,
    NaN in, NaN out) inline into the loop, about a third faster. At ``x = 0``
    NumPy adds the constant ``log(2)``, here ``log1p(1.0)``: the same double.
    """
    (x,) = args
    if types[0].rank == 0 and _SIMPLE_OPERAND.fullmatch(x[0]):
        return f"({x[0]} if {x[0]} > 0.0 else 0.0) + np.log1p(np.exp(-abs({x[0]})))", PREC_ADD
    return f"np.logaddexp(0.0, {x[0]})", PREC_ATOM


def _numeric_rule(*types: VType, **params: Any) -> VType:
    """Integers stay integers (``i + 1``, ``n % 2``); anything else is float64."""
    dtype = DType.I64 if all(t.dtype is DType.I64 for t in types) else DType.F64
    return VType(broadcast_shapes(*(t.shape for t in types)), dtype)


def _define(
    name: str,
    impl: Callable[..., Any],
    emit: EmitRule,
    to_sympy: Callable[..., Any] | str | None,
    *,
    spell: Sequence[str] = (),
    d: Sequence[Rule] | None = None,
    type_rule: Callable[..., VType] = float_rule,
    simplify: Callable[..., Any] | None = None,
    derivative: str = SMOOTH,
    imports: tuple[str, ...] = (),
    vector: str | None = None,
) -> Primitive:
    """Declare an elementwise primitive with everything about it (see the module doc).

    ``spell`` are the dotted names users call it by (each bound to ``bind(prim, ...)``;
    a function that needs more than that registers its own spelling). A SymPy
    function named by a string is also lowered from SymPy. ``d`` holds one
    derivative rule per input (``None``: no derivative): both the JVP and the VJP.
    ``vector`` names its :mod:`dcompile.runtime.vecmath` function for fused loops.
    """
    sympy_name = to_sympy if isinstance(to_sympy, str) else None
    raise_to_sympy = _sympy_function(to_sympy) if isinstance(to_sympy, str) else to_sympy
    prim = register(
        Primitive(
            name,
            type_rule,
            impl,
            emit,
            to_sympy=raise_to_sympy,
            simplify=simplify,
            elementwise=True,
            imports=imports,
            vector=vector,
        )
    )
    if d is not None:
        defpartials(prim, *d)
    fn = applier(prim)
    for dotted in spell:
        add_spelling(dotted, fn, derivative=derivative)
    if sympy_name is not None:
        add_spelling(f"sympy.{sympy_name}", fn, derivative=derivative)
    return prim


def applier(prim: Primitive) -> Callable[..., Any]:
    """The function applying ``prim`` to tracers or numbers."""

    def apply(*args: Any) -> Any:
        return bind(prim, *args)

    apply.__name__ = apply.__qualname__ = prim.name
    return apply


def _sympy_function(name: str) -> Callable[..., Any]:
    def raise_to_sympy(*args: Any) -> Any:
        return getattr(sp, name)(*args)

    return raise_to_sympy


def defjvp(prim: Primitive, *rules: Rule) -> None:
    """Set the forward rules of ``prim``, one per input (``None``: no derivative)."""
    prim.jvp = tuple(rules)


def defvjp(prim: Primitive, *rules: Rule) -> None:
    """Set the reverse rules of ``prim``, one per input (``None``: no derivative)."""
    prim.vjp = tuple(rules)


def defpartials(prim: Primitive, *rules: Rule) -> None:
    """One rule per input, ``(t, ans, *inputs) -> t * d out / d input``, for both modes.

    For an elementwise primitive the Jacobian is diagonal, so the tangent
    contribution of an input and its share of the cotangent are the same
    product; ``t`` is the tangent in forward mode and the cotangent in reverse
    mode. ``None`` marks an input with no derivative (a zero derivative, or
    data such as a predicate's argument).
    """
    prim.jvp = tuple(rules)
    prim.vjp = tuple(rules)


# -- primitives ------------------------------------------------------------------


def _simplify_neg(x: Tracer) -> Any:
    e = x.builder.producer.get(x.value)
    if e is not None and e.prim is neg_p:
        return Tracer(x.builder, e.inputs[0])
    return None


def select_parts(x: Tracer) -> tuple[Tracer, Tracer, Tracer] | None:
    """``(cond, a, b)`` if ``x`` is ``where(cond, a, b)``, else ``None``."""
    e = x.builder.producer.get(x.value)
    if e is not None and e.prim is select_p:
        c, a, b = (Tracer(x.builder, v) for v in e.inputs)
        return c, a, b
    return None


def _simplify_add(x: Tracer, y: Tracer) -> Any:
    if x.is_const(0.0):
        return y
    if y.is_const(0.0):
        return x
    # where(c, a, 0) + where(c, 0, b) -> where(c, a, b): the shape of a
    # forward derivative through a select.
    sx, sy = select_parts(x), select_parts(y)
    if sx and sy and sx[0].value is sy[0].value and sx[2].is_const(0.0) and sy[1].is_const(0.0):
        return where(sx[0], sx[1], sy[2])
    if _producer_is(y, neg_p):
        return sub(x, neg(y))
    return None


def _simplify_sub(x: Tracer, y: Tracer) -> Any:
    if y.is_const(0.0):
        return x
    if x.is_const(0.0):
        return neg(y)
    if _producer_is(y, neg_p):
        return add(x, neg(y))
    return None


def _simplify_mul(x: Tracer, y: Tracer) -> Any:
    for a, b in ((x, y), (y, x)):
        if a.is_const(1.0):
            return b
        if a.is_const(-1.0):
            return neg(b)
    if _producer_is(x, neg_p) and _producer_is(y, neg_p):
        return mul(neg(x), neg(y))
    merged = _merge_factors(x, y)
    return merged if merged is not None else _merge_factors(y, x)


def _merge_factors(c: Tracer, m: Tracer) -> Any:
    """``c1 * (c2 * z) -> (c1 c2) * z`` when that is bit-for-bit the same.

    It is when one factor is a power of two (scaling by 2**k commutes with
    rounding) and both are at least 1 in magnitude (so the two forms overflow
    together; underflow cannot happen).
    """
    c1 = c.const
    e = m.builder.producer.get(m.value)
    if not isinstance(c1, float) or e is None or e.prim is not mul_p:
        return None
    for k in (0, 1):
        c2 = Tracer(m.builder, e.inputs[k]).const
        if isinstance(c2, float) and _exact_product(c1, c2):
            z = Tracer(m.builder, e.inputs[1 - k])
            return mul(c1 * c2, z) if k == 0 else mul(z, c1 * c2)
    return None


def _exact_product(a: float, b: float) -> bool:
    power_of_two = any(math.isfinite(v) and v != 0.0 and math.frexp(abs(v))[0] == 0.5 for v in (a, b))
    return power_of_two and min(abs(a), abs(b)) >= 1.0 and math.isfinite(a * b)


def _simplify_div(x: Tracer, y: Tracer) -> Any:
    if y.is_const(1.0):
        return x
    return None


def _simplify_integer_pow(x: Tracer, *, n: int) -> Any:
    if n == 0:
        return 1.0
    if n == 1:
        return x
    return None


def _simplify_pow(x: Tracer, y: Tracer) -> Any:
    c = y.const
    if c is not None and float(c).is_integer() and abs(c) <= 64:
        return integer_pow(x, int(c))
    if c == 0.5:
        return sqrt(x)
    return None


def _producer(x: Tracer) -> tuple[Primitive | None, list[Tracer]]:
    e = x.builder.producer.get(x.value)
    if e is None:
        return None, []
    return e.prim, [Tracer(x.builder, v) for v in e.inputs]


def _simplify_log(x: Tracer) -> Any:
    """Stable forms of logarithms that overflow or lose everything to rounding when taken literally.

    ``log(sigmoid(z)) = -softplus(-z)`` (``log(sigmoid(-800))`` is -800, not
    ``-inf``), ``log(1 - sigmoid(z)) = -softplus(z)``, ``log(1 + exp(z)) =
    softplus(z)``, ``log(exp(z)) = z``, ``log(1 / y) = -log(y)``. Their
    derivatives follow (``sigmoid``, finite), so gradients stay finite too.
    """
    prim, ins = _producer(x)
    if prim is sigmoid_p:
        return neg(softplus(neg(ins[0])))
    if prim is exp_p:
        return ins[0]
    if prim is sub_p and ins[0].is_const(1.0) and _producer_is(ins[1], sigmoid_p):
        return neg(softplus(_producer(ins[1])[1][0]))
    if prim is add_p:
        for one, e in (ins, ins[::-1]):
            if one.is_const(1.0) and _producer_is(e, exp_p):
                return softplus(_producer(e)[1][0])
    if prim is div_p and ins[0].is_const(1.0):
        return neg(log(ins[1]))
    return None


def _simplify_log1p(x: Tracer) -> Any:
    """``log1p(exp(z)) = softplus(z)`` (no overflow for large ``z``)."""
    if _producer_is(x, exp_p):
        return softplus(_producer(x)[1][0])
    return None


def _simplify_logaddexp(x: Tracer, y: Tracer) -> Any:
    """``logaddexp(0, z) = softplus(z)`` (the same value; its derivative ``sigmoid(z)``
    needs no ``exp(z - ans)`` after the value, so the reverse sweep does not wait on it)."""
    for zero, z in ((x, y), (y, x)):
        if zero.is_const(0.0) and z.value.type.shape == broadcast_shapes(x.value.type.shape, y.value.type.shape):
            return softplus(z)
    return None


def _simplify_select(c: Tracer, a: Tracer, b: Tracer) -> Any:
    if c.const is not None:
        return a if c.const else b
    if a.value is b.value:
        return a
    return None


def _producer_is(x: Tracer, prim: Primitive) -> bool:
    e = x.builder.producer.get(x.value)
    return e is not None and e.prim is prim


def _hypot2(y: Any, x: Any) -> Any:
    return add(integer_pow(x, 2), integer_pow(y, 2))


def _integer_pow_impl(x: Any, *, n: int) -> Any:
    a = np.asarray(x)
    return np.power(a, n) if a.dtype.kind in "iu" and n >= 0 else np.power(np.asarray(a, dtype=np.float64), n)


def _bool_float(x: Any) -> Any:
    """A boolean tracer as float64 (``1.0 * (x > 0)``); anything else as it is."""
    if isinstance(x, Tracer) and x.type.dtype is DType.BOOL:
        return astype(x, DType.F64)
    return x


def _numeric_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Arithmetic operands: booleans as floats, Python integers as integers beside an integer tracer."""
    args = tuple(_bool_float(a) for a in args)
    ints = [a for a in args if isinstance(a, Tracer) and a.type.dtype is DType.I64]
    if ints and all(isinstance(a, (Tracer, int, np.integer)) for a in args):
        b = ints[0].builder
        args = tuple(a if isinstance(a, Tracer) else Tracer(b, b.const(int(a), DType.I64)) for a in args)
    return args


def _arith(name: str, impl: Callable[..., Any], emit: EmitRule, to_sympy: Any, **kw: Any) -> Primitive:
    """An arithmetic primitive: integer operands give an integer result (see :func:`_numeric_rule`)."""
    return _define(name, impl, emit, to_sympy, type_rule=_numeric_rule, **kw)


neg_p = _arith("neg", np.negative, _emit_neg, lambda x: -x, simplify=_simplify_neg)
add_p = _arith("add", np.add, _infix("+", PREC_ADD), lambda x, y: x + y, simplify=_simplify_add)
sub_p = _arith("sub", np.subtract, _infix("-", PREC_ADD), lambda x, y: x - y, simplify=_simplify_sub)
mul_p = _arith("mul", np.multiply, _infix("*", PREC_MUL), lambda x, y: x * y, simplify=_simplify_mul)
div_p = _define("div", np.divide, _infix("/", PREC_MUL), lambda x, y: x / y, simplify=_simplify_div)
integer_pow_p = _define(
    "integer_pow",
    _integer_pow_impl,
    _emit_integer_pow,
    lambda x, *, n: x**n,
    simplify=_simplify_integer_pow,
    type_rule=lambda x, *, n: VType(x.shape, DType.I64 if x.dtype is DType.I64 and n >= 0 else DType.F64),
)
pow_p = _define("pow", np.power, _emit_pow, lambda x, y: x**y, simplify=_simplify_pow, vector="pow")
exp_p = _define(
    "exp",
    np.exp,
    _call("np.exp"),
    "exp",
    spell=("numpy.exp", "math.exp"),
    d=(lambda t, ans, x: mul(t, ans),),
    vector="exp",
)
log_p = _define(
    "log",
    np.log,
    _call("np.log"),
    "log",
    simplify=_simplify_log,
    spell=("numpy.log",),
    d=(lambda t, ans, x: div(t, x),),
    vector="log",
)
log1p_p = _define(
    "log1p",
    np.log1p,
    _call("np.log1p"),
    lambda x: sp.log(1 + x),
    simplify=_simplify_log1p,
    spell=("numpy.log1p", "math.log1p"),
    d=(lambda t, ans, x: div(t, add(1.0, x)),),
    vector="log1p",
)
expm1_p = _define(
    "expm1",
    np.expm1,
    _call("np.expm1"),
    lambda x: sp.exp(x) - 1,
    spell=("numpy.expm1", "math.expm1"),
    d=(lambda t, ans, x: mul(t, add(ans, 1.0)),),
    vector="expm1",
)
sqrt_p = _define(
    "sqrt",
    np.sqrt,
    _call("np.sqrt"),
    "sqrt",
    spell=("numpy.sqrt", "math.sqrt"),
    d=(lambda t, ans, x: div(t, mul(2.0, ans)),),
)
cbrt_p = _define(
    "cbrt",
    np.cbrt,
    _call("np.cbrt"),
    "cbrt",
    spell=("numpy.cbrt", "math.cbrt"),
    d=(lambda t, ans, x: div(t, mul(3.0, integer_pow(ans, 2))),),
)
sin_p = _define(
    "sin",
    np.sin,
    _call("np.sin"),
    "sin",
    spell=("numpy.sin", "math.sin"),
    d=(lambda t, ans, x: mul(t, cos(x)),),
    vector="sin",
)
cos_p = _define(
    "cos",
    np.cos,
    _call("np.cos"),
    "cos",
    spell=("numpy.cos", "math.cos"),
    d=(lambda t, ans, x: neg(mul(t, sin(x))),),
    vector="cos",
)
tan_p = _define(
    "tan",
    np.tan,
    _call("np.tan"),
    "tan",
    spell=("numpy.tan", "math.tan"),
    d=(lambda t, ans, x: mul(t, add(1.0, integer_pow(ans, 2))),),
)
arcsin_p = _define(
    "arcsin",
    np.arcsin,
    _call("np.arcsin"),
    "asin",
    spell=("numpy.arcsin", "math.asin"),
    d=(lambda t, ans, x: div(t, sqrt(sub(1.0, integer_pow(x, 2)))),),
    vector="arcsin",
)
arccos_p = _define(
    "arccos",
    np.arccos,
    _call("np.arccos"),
    "acos",
    spell=("numpy.arccos", "math.acos"),
    d=(lambda t, ans, x: neg(div(t, sqrt(sub(1.0, integer_pow(x, 2))))),),
    vector="arccos",
)
arctan_p = _define(
    "arctan",
    np.arctan,
    _call("np.arctan"),
    "atan",
    spell=("numpy.arctan", "math.atan"),
    d=(lambda t, ans, x: div(t, add(1.0, integer_pow(x, 2))),),
    vector="arctan",
)
log2_p = _define(
    "log2",
    np.log2,
    _call("np.log2"),
    lambda x: sp.log(x, 2),
    spell=("numpy.log2", "math.log2"),
    d=(lambda t, ans, x: div(t, mul(x, _LN2)),),
    vector="log2",
)
log10_p = _define(
    "log10",
    np.log10,
    _call("np.log10"),
    lambda x: sp.log(x, 10),
    spell=("numpy.log10", "math.log10"),
    d=(lambda t, ans, x: div(t, mul(x, _LN10)),),
    vector="log10",
)
exp2_p = _define(
    "exp2",
    np.exp2,
    _call("np.exp2"),
    lambda x: 2**x,
    spell=("numpy.exp2", "math.exp2"),
    d=(lambda t, ans, x: mul(t, mul(ans, _LN2)),),
    vector="exp2",
)
hypot_p = _define(
    "hypot",
    np.hypot,
    _call("np.hypot"),
    lambda x, y: sp.sqrt(x**2 + y**2),
    spell=("numpy.hypot",),
    d=(lambda t, ans, x, y: mul(t, div(x, ans)), lambda t, ans, x, y: mul(t, div(y, ans))),
    vector="hypot",
)
arctan2_p = _define(
    "arctan2",
    np.arctan2,
    _call("np.arctan2"),
    "atan2",
    spell=("numpy.arctan2", "math.atan2"),
    d=(
        lambda t, ans, y, x: div(mul(t, x), _hypot2(y, x)),
        lambda t, ans, y, x: neg(div(mul(t, y), _hypot2(y, x))),
    ),
    vector="arctan2",
)
sinh_p = _define(
    "sinh",
    np.sinh,
    _call("np.sinh"),
    "sinh",
    spell=("numpy.sinh", "math.sinh"),
    d=(lambda t, ans, x: mul(t, cosh(x)),),
    vector="sinh",
)
cosh_p = _define(
    "cosh",
    np.cosh,
    _call("np.cosh"),
    "cosh",
    spell=("numpy.cosh", "math.cosh"),
    d=(lambda t, ans, x: mul(t, sinh(x)),),
    vector="cosh",
)
tanh_p = _define(
    "tanh",
    np.tanh,
    _call("np.tanh"),
    "tanh",
    spell=("numpy.tanh", "math.tanh"),
    d=(lambda t, ans, x: mul(t, sub(1.0, integer_pow(ans, 2))),),
    vector="tanh",
)
# The inverse hyperbolic functions: hypot(x, 1) and (1 - x)(1 + x) instead of x**2 +- 1,
# which overflow or cancel near the ends of the domain.
arcsinh_p = _define(
    "arcsinh",
    np.arcsinh,
    _call("np.arcsinh"),
    "asinh",
    spell=("numpy.arcsinh", "math.asinh"),
    d=(lambda t, ans, x: div(t, hypot(x, 1.0)),),
    vector="arcsinh",
)
arccosh_p = _define(
    "arccosh",
    np.arccosh,
    _call("np.arccosh"),
    "acosh",
    spell=("numpy.arccosh", "math.acosh"),
    d=(lambda t, ans, x: div(t, sqrt(mul(sub(x, 1.0), add(x, 1.0)))),),
    vector="arccosh",
)
arctanh_p = _define(
    "arctanh",
    np.arctanh,
    _call("np.arctanh"),
    "atanh",
    spell=("numpy.arctanh", "math.atanh"),
    d=(lambda t, ans, x: div(t, mul(sub(1.0, x), add(1.0, x))),),
    vector="arctanh",
)
abs_p = _arith(
    "abs",
    np.abs,
    _call("np.abs"),
    "Abs",
    spell=("numpy.absolute", "numpy.fabs", "math.fabs"),
    d=(lambda t, ans, x: mul(t, sign(x)),),
)
sign_p = _arith("sign", np.sign, _call("np.sign"), "sign", spell=("numpy.sign",), d=(None,), derivative=ZERO)
# max/min: the derivative follows the selected argument; ties go to the first.
maximum_p = _arith(
    "maximum",
    np.maximum,
    _call("np.maximum"),
    lambda x, y: sp.Max(x, y),
    spell=("numpy.maximum",),
    d=(
        lambda t, ans, x, y: where(greater_equal(x, y), t, 0.0),
        lambda t, ans, x, y: where(greater_equal(x, y), 0.0, t),
    ),
)
minimum_p = _arith(
    "minimum",
    np.minimum,
    _call("np.minimum"),
    lambda x, y: sp.Min(x, y),
    spell=("numpy.minimum",),
    d=(
        lambda t, ans, x, y: where(less_equal(x, y), t, 0.0),
        lambda t, ans, x, y: where(less_equal(x, y), 0.0, t),
    ),
)
# fmax/fmin ignore a NaN operand: the derivative follows the number that is returned.
fmax_p = _arith(
    "fmax",
    np.fmax,
    _call("np.fmax"),
    lambda x, y: sp.Max(x, y),
    spell=("numpy.fmax",),
    d=(
        lambda t, ans, x, y: where(logical_or(greater_equal(x, y), isnan(y)), t, 0.0),
        lambda t, ans, x, y: where(logical_or(greater_equal(x, y), isnan(y)), 0.0, t),
    ),
)
fmin_p = _arith(
    "fmin",
    np.fmin,
    _call("np.fmin"),
    lambda x, y: sp.Min(x, y),
    spell=("numpy.fmin",),
    d=(
        lambda t, ans, x, y: where(logical_or(less_equal(x, y), isnan(y)), t, 0.0),
        lambda t, ans, x, y: where(logical_or(less_equal(x, y), isnan(y)), 0.0, t),
    ),
)
copysign_p = _define(
    "copysign",
    np.copysign,
    _call("np.copysign"),
    lambda x, y: sp.Abs(x) * sp.sign(y),
    spell=("numpy.copysign", "math.copysign"),
    d=(lambda t, ans, x, y: mul(t, mul(sign(x), copysign(1.0, y))), None),
)
sigmoid_p = _define(
    "sigmoid",
    lambda x: 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))),
    _emit_sigmoid,
    lambda x: 1 / (1 + sp.exp(-x)),
    d=(lambda t, ans, x: mul(t, mul(ans, sub(1.0, ans))),),
    vector="sigmoid",
)
softplus_p = _define(
    "softplus",
    lambda x: np.logaddexp(0.0, x),
    _emit_softplus,
    lambda x: sp.log(1 + sp.exp(x)),
    d=(lambda t, ans, x: mul(t, sigmoid(x)),),
    vector="softplus",
)
logaddexp_p = _define(
    "logaddexp",
    np.logaddexp,
    _call("np.logaddexp"),
    lambda x, y: sp.log(sp.exp(x) + sp.exp(y)),
    simplify=_simplify_logaddexp,
    spell=("numpy.logaddexp",),
    d=(lambda t, ans, x, y: mul(t, exp(sub(x, ans))), lambda t, ans, x, y: mul(t, exp(sub(y, ans)))),
)
logaddexp2_p = _define(
    "logaddexp2",
    np.logaddexp2,
    _call("np.logaddexp2"),
    lambda x, y: sp.log(2**x + 2**y, 2),
    spell=("numpy.logaddexp2",),
    d=(lambda t, ans, x, y: mul(t, exp2(sub(x, ans))), lambda t, ans, x, y: mul(t, exp2(sub(y, ans)))),
)
select_p = _define(
    "select",
    np.where,
    _emit_select,
    lambda c, a, b: sp.Piecewise((a, c), (b, True)),
    type_rule=_select_rule,
    simplify=_simplify_select,
    d=(None, lambda t, ans, c, a, b: where(c, t, 0.0), lambda t, ans, c, a, b: where(c, 0.0, t)),
)

# -- rounding and remainders: piecewise constant in x, zero derivative (documented) ----------------
floor_p = _arith("floor", np.floor, _call("np.floor"), "floor", spell=("numpy.floor",), d=(None,), derivative=ZERO)
ceil_p = _arith("ceil", np.ceil, _call("np.ceil"), "ceiling", spell=("numpy.ceil",), d=(None,), derivative=ZERO)
trunc_p = _arith(
    "trunc",
    np.trunc,
    _call("np.trunc"),
    lambda x: sp.sign(x) * sp.floor(sp.Abs(x)),
    spell=("numpy.trunc", "numpy.fix"),
    d=(None,),
    derivative=ZERO,
)
rint_p = _arith("rint", np.rint, _call("np.rint"), None, spell=("numpy.rint",), d=(None,), derivative=ZERO)
for _p in (floor_p, ceil_p, trunc_p, rint_p):  # numpy gives floats for integer input too
    _p.type_rule = float_rule
round_p = _define(
    "round",
    lambda x, *, decimals: np.round(x, decimals),
    lambda args, params, types: (f"np.round({args[0][0]}, {params['decimals']})", PREC_ATOM),
    None,
    d=(None,),
)
# x mod y = x - floor(x / y) * y: derivative 1 in x, -floor(x / y) in y (fmod: trunc), almost everywhere.
mod_p = _arith(
    "mod",
    np.mod,
    _call("np.mod"),
    "Mod",
    spell=("numpy.mod", "numpy.remainder"),
    d=(lambda t, ans, x, y: t, lambda t, ans, x, y: neg(mul(t, floor(div(x, y))))),
)
fmod_p = _arith(
    "fmod",
    np.fmod,
    _call("np.fmod"),
    None,
    spell=("numpy.fmod", "math.fmod"),
    d=(lambda t, ans, x, y: t, lambda t, ans, x, y: neg(mul(t, bind(trunc_p, div(x, y))))),
)
floor_divide_p = _arith(
    "floor_divide",
    np.floor_divide,
    _call("np.floor_divide"),
    lambda x, y: sp.floor(x / y),
    spell=("numpy.floor_divide",),
    d=(None, None),
    derivative=ZERO,
)


# -- comparisons, predicates, logic: boolean results, no derivative --------------------------------
def _compare(name: str, impl: Callable[..., Any], symbol: str, sympy_name: str, numpy_name: str) -> Primitive:
    return _define(
        name,
        impl,
        _infix(symbol, PREC_CMP),
        sympy_name,
        type_rule=_bool_rule,
        spell=(f"numpy.{numpy_name}",),
        d=(None, None),
        derivative=VALUES,
    )


lt_p = _compare("lt", np.less, "<", "Lt", "less")
le_p = _compare("le", np.less_equal, "<=", "Le", "less_equal")
gt_p = _compare("gt", np.greater, ">", "Gt", "greater")
ge_p = _compare("ge", np.greater_equal, ">=", "Ge", "greater_equal")
eq_p = _compare("eq", np.equal, "==", "Eq", "equal")
ne_p = _compare("ne", np.not_equal, "!=", "Ne", "not_equal")
and_p = _define(
    "logical_and",
    np.logical_and,
    _logical("and", PREC_AND),
    lambda x, y: sp.And(x, y),
    type_rule=_bool_rule,
    d=(None, None),
)
or_p = _define(
    "logical_or", np.logical_or, _logical("or", PREC_OR), lambda x, y: sp.Or(x, y), type_rule=_bool_rule, d=(None, None)
)
not_p = _define("logical_not", np.logical_not, _emit_not, "Not", type_rule=_bool_rule, d=(None,))
xor_p = _define(
    "logical_xor",
    np.logical_xor,
    _call("np.logical_xor"),
    lambda x, y: sp.Xor(x, y),
    type_rule=_bool_rule,
    d=(None, None),
)
isnan_p = _define(
    "isnan",
    np.isnan,
    _call("np.isnan"),
    None,
    type_rule=_bool_rule,
    spell=("numpy.isnan", "math.isnan"),
    d=(None,),
    derivative=VALUES,
)
isinf_p = _define(
    "isinf",
    np.isinf,
    _call("np.isinf"),
    None,
    type_rule=_bool_rule,
    spell=("numpy.isinf", "math.isinf"),
    d=(None,),
    derivative=VALUES,
)
isfinite_p = _define(
    "isfinite",
    np.isfinite,
    _call("np.isfinite"),
    None,
    type_rule=_bool_rule,
    spell=("numpy.isfinite", "math.isfinite"),
    d=(None,),
    derivative=VALUES,
)
signbit_p = _define(
    "signbit",
    np.signbit,
    _call("np.signbit"),
    None,
    type_rule=_bool_rule,
    spell=("numpy.signbit",),
    d=(None,),
    derivative=VALUES,
)


# -- conversion -----------------------------------------------------------------------------------
_DTYPE_SRC = {DType.F64: "np.float64", DType.I64: "np.int64", DType.BOOL: "np.bool_"}


def _emit_astype(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Sequence[VType]) -> tuple[str, int]:
    (x,) = args
    target = _DTYPE_SRC[params["dtype"]]
    if types[0].rank == 0:
        return f"{target}({x[0]})", PREC_ATOM
    return f"{_paren(x, x[1] < PREC_ATOM)}.astype({target})", PREC_ATOM


astype_p = register(
    Primitive(
        "astype",
        lambda x, *, dtype: VType(x.shape, dtype),
        lambda x, *, dtype: np.asarray(x).astype(dtype.value),
        _emit_astype,
        to_sympy=lambda x, *, dtype: x,
        elementwise=True,
    )
)
# Float to float is the identity; from booleans or integers there is no derivative.
defpartials(astype_p, lambda t, ans, x, *, dtype: t if x.type.dtype is DType.F64 else None)


def astype(x: Any, dtype: Any) -> Any:
    """``x.astype(dtype)`` for float64, int64 and bool (``float``, ``int``, ``bool`` and NumPy's names)."""
    target = as_dtype(dtype)
    if not isinstance(x, Tracer):
        return np.asarray(x).astype(target.value)
    if x.type.dtype is target:
        return x
    return bind(astype_p, x, dtype=target)


def as_dtype(dtype: Any) -> DType:
    """The IR element type of a NumPy/Python dtype spelling; refused (dcompile's error) otherwise."""
    from dcompile.errors import UnsupportedError, trace_error

    if isinstance(dtype, DType):
        return dtype
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = "?"
    if kind == "f" and np.dtype(dtype).itemsize == 8:
        return DType.F64
    if kind in "iu":
        return DType.I64
    if kind == "b":
        return DType.BOOL
    if kind == "c":
        raise trace_error(
            "complex numbers are not supported by dcompile.",
            "keep real and imaginary parts as two float arrays",
            UnsupportedError,
        )
    raise trace_error(
        f"dtype {dtype!r} is not supported on traced values.",
        "use float (float64); integer and boolean arrays are data",
        UnsupportedError,
    )


# -- the functions tracing and rules use ------------------------------------------------


def _plain(x: Any) -> bool:
    """A float operand (the common case): no conversion needed before an arithmetic primitive."""
    return type(x) is float or (type(x) is Tracer and x.value.type.dtype is DType.F64)


def _arith2(prim: Primitive, x: Any, y: Any) -> Any:
    if not (_plain(x) and _plain(y)):
        x, y = _numeric_args((x, y))
    return bind(prim, x, y)


def neg(x: Any) -> Any:
    return bind(neg_p, _bool_float(x))


def add(x: Any, y: Any) -> Any:
    return _arith2(add_p, x, y)


def sub(x: Any, y: Any) -> Any:
    return _arith2(sub_p, x, y)


def mul(x: Any, y: Any) -> Any:
    return _arith2(mul_p, x, y)


def div(x: Any, y: Any) -> Any:
    return bind(div_p, _bool_float(x), _bool_float(y))


def integer_pow(x: Any, n: int) -> Any:
    return bind(integer_pow_p, _bool_float(x), n=int(n))


def power(x: Any, y: Any) -> Any:
    """``x ** y``: an integral constant exponent becomes ``integer_pow``."""
    if not isinstance(y, Tracer) and np.ndim(y) == 0 and float(y).is_integer() and abs(y) <= 64:
        return integer_pow(x, int(y))
    return bind(pow_p, _bool_float(x), _bool_float(y))


def float_power(x: Any, y: Any) -> Any:
    """``np.float_power``: ``x ** y`` in float64."""
    return power(_as_float(x), y)


def _as_float(x: Any) -> Any:
    return astype(x, DType.F64) if isinstance(x, Tracer) else x


def log2(x: Any) -> Any:
    return bind(log2_p, x)


def log10(x: Any) -> Any:
    return bind(log10_p, x)


def exp2(x: Any) -> Any:
    return bind(exp2_p, x)


def hypot(x: Any, y: Any) -> Any:
    """``sqrt(x**2 + y**2)`` without overflow or underflow in the squares."""
    return bind(hypot_p, x, y)


def exp(x: Any) -> Any:
    return bind(exp_p, x)


def log(x: Any) -> Any:
    return bind(log_p, x)


def log1p(x: Any) -> Any:
    return bind(log1p_p, x)


def expm1(x: Any) -> Any:
    return bind(expm1_p, x)


def sqrt(x: Any) -> Any:
    return bind(sqrt_p, x)


def sin(x: Any) -> Any:
    return bind(sin_p, x)


def cos(x: Any) -> Any:
    return bind(cos_p, x)


def tan(x: Any) -> Any:
    return bind(tan_p, x)


def arcsin(x: Any) -> Any:
    return bind(arcsin_p, x)


def arccos(x: Any) -> Any:
    return bind(arccos_p, x)


def arctan(x: Any) -> Any:
    return bind(arctan_p, x)


def arctan2(y: Any, x: Any) -> Any:
    return bind(arctan2_p, y, x)


def sinh(x: Any) -> Any:
    return bind(sinh_p, x)


def cosh(x: Any) -> Any:
    return bind(cosh_p, x)


def tanh(x: Any) -> Any:
    return bind(tanh_p, x)


def absolute(x: Any) -> Any:
    return bind(abs_p, _bool_float(x))


def sign(x: Any) -> Any:
    return bind(sign_p, _bool_float(x))


def copysign(x: Any, y: Any) -> Any:
    return bind(copysign_p, x, y)


def maximum(x: Any, y: Any) -> Any:
    return _arith2(maximum_p, x, y)


def minimum(x: Any, y: Any) -> Any:
    return _arith2(minimum_p, x, y)


def fmax(x: Any, y: Any) -> Any:
    return _arith2(fmax_p, x, y)


def fmin(x: Any, y: Any) -> Any:
    return _arith2(fmin_p, x, y)


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``."""
    return bind(sigmoid_p, x)


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, computed without overflow."""
    return bind(softplus_p, x)


def logaddexp(x: Any, y: Any) -> Any:
    """``log(exp(x) + exp(y))``, computed without overflow."""
    return bind(logaddexp_p, x, y)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` holds, else ``b``; the traceable form of ``if``.

    Gradients flow only through the selected branch, so a NaN or an overflow in
    the other branch does not reach the result or its derivatives.
    """
    return bind(select_p, _truth(cond), a, b)


def floor(x: Any) -> Any:
    return bind(floor_p, x)


def ceil(x: Any) -> Any:
    return bind(ceil_p, x)


def trunc(x: Any) -> Any:
    return bind(trunc_p, x)


def rint(x: Any) -> Any:
    return bind(rint_p, x)


def round_(x: Any, decimals: int = 0, out: Any = None) -> Any:
    """``np.round`` (half to even, as NumPy); zero derivative."""
    _no_out(out)
    if isinstance(x, Tracer) and x.type.dtype is DType.I64 and decimals >= 0:
        return x
    return bind(round_p, _as_float(x), decimals=int(decimals))


def mod(x: Any, y: Any) -> Any:
    """``x % y`` with the sign of ``y`` (Python's and NumPy's ``%``)."""
    return _arith2(mod_p, x, y)


def fmod(x: Any, y: Any) -> Any:
    """C's ``fmod``: the remainder with the sign of ``x``."""
    return _arith2(fmod_p, x, y)


def floor_divide(x: Any, y: Any) -> Any:
    """``x // y``; zero derivative."""
    return _arith2(floor_divide_p, x, y)


def divmod_(x: Any, y: Any) -> Any:
    return floor_divide(x, y), mod(x, y)


def less(x: Any, y: Any) -> Any:
    return bind(lt_p, x, y)


def less_equal(x: Any, y: Any) -> Any:
    return bind(le_p, x, y)


def greater(x: Any, y: Any) -> Any:
    return bind(gt_p, x, y)


def greater_equal(x: Any, y: Any) -> Any:
    return bind(ge_p, x, y)


def equal(x: Any, y: Any) -> Any:
    return bind(eq_p, x, y)


def not_equal(x: Any, y: Any) -> Any:
    return bind(ne_p, x, y)


def isnan(x: Any) -> Any:
    return bind(isnan_p, x)


def isinf(x: Any) -> Any:
    return bind(isinf_p, x)


def isfinite(x: Any) -> Any:
    return bind(isfinite_p, x)


def _truth(x: Any) -> Any:
    """``x`` as a boolean with NumPy's meaning (nonzero is true)."""
    if isinstance(x, Tracer) and x.type.dtype is not DType.BOOL:
        return not_equal(x, 0.0)
    return x


def logical_and(x: Any, y: Any) -> Any:
    return bind(and_p, _truth(x), _truth(y))


def logical_or(x: Any, y: Any) -> Any:
    return bind(or_p, _truth(x), _truth(y))


def logical_not(x: Any) -> Any:
    return bind(not_p, _truth(x))


def logical_xor(x: Any, y: Any) -> Any:
    return bind(xor_p, _truth(x), _truth(y))


def _no_out(out: Any) -> None:
    if out is not None:
        from dcompile.errors import UnsupportedError, trace_error

        raise trace_error(
            "out= is not supported on traced values (dcompile's values are not written in place).",
            "assign the result instead: y = f(x)",
            UnsupportedError,
        )


# -- compositions --------------------------------------------------------------------------------


def deg2rad(x: Any) -> Any:
    """``x * (pi / 180)``, as NumPy computes it."""
    return mul(x, math.pi / 180.0)


def rad2deg(x: Any) -> Any:
    """``x * (180 / pi)``, as NumPy computes it."""
    return mul(x, 180.0 / math.pi)


def heaviside(x: Any, h0: Any) -> Any:
    """0 below zero, 1 above, ``h0`` at zero, NaN at NaN; zero derivative in ``x``."""
    inner = where(less(x, 0.0), 0.0, where(greater(x, 0.0), 1.0, h0))
    return where(isnan(x), math.nan, inner)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    """NaN and infinities replaced by finite numbers (derivative 1 where ``x`` is finite, else 0)."""
    big = float(np.finfo(np.float64).max)
    hi = big if posinf is None else posinf
    lo = -big if neginf is None else neginf
    return where(isnan(x), nan, where(equal(x, math.inf), hi, where(equal(x, -math.inf), lo, x)))


_SINC_SERIES = 10  # terms of the series of sinc' used near zero (see sinc)


def sinc(x: Any) -> Any:
    """``np.sinc``: ``sin(pi x) / (pi x)``, 1 at 0, as a primitive with a derivative safe at 0."""
    return bind(sinc_p, x)


def _sinc_derivative(x: Any, ans: Any) -> Any:
    """``(cos(pi x) - sinc(x)) / x``, by its Taylor series where that difference cancels (|x| < 1/4).

    sinc(x) = sum_k (-1)^k (pi x)^(2k) / (2k+1)!, so
    sinc'(x) = pi sum_{k>=1} (-1)^k 2k (pi x)^(2k-1) / (2k+1)!; ten terms reach
    rounding at |pi x| = pi / 4. Both branches are expressions, so every order
    of derivative is right at 0 too.
    """
    z = mul(math.pi, x)
    z2 = integer_pow(z, 2)
    series: Any = 0.0
    for k in range(_SINC_SERIES, 0, -1):  # Horner in z**2
        coef = (-1) ** k * 2 * k / math.factorial(2 * k + 1)
        series = add(coef, mul(series, z2)) if not isinstance(series, float) or series else coef
    near = mul(math.pi, mul(z, series))
    far = div(sub(cos(z), ans), x)
    small = less(absolute(x), 0.25)
    return where(small, near, far)


sinc_p = _define(
    "sinc",
    np.sinc,
    _call("np.sinc"),
    lambda x: sp.sin(sp.pi * x) / (sp.pi * x),
    spell=("numpy.sinc",),
    d=(lambda t, ans, x: mul(t, _sinc_derivative(x, ans)),),
)

# -- derivative rules of arithmetic: forward and reverse written apart, to keep the emitted
# products in the order the textbook tables show (df_da = 2.0 * a * e) ----------------------------

defjvp(neg_p, lambda t, ans, x: neg(t))
defvjp(neg_p, lambda g, ans, x: neg(g))
defjvp(add_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
defvjp(add_p, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
defjvp(sub_p, lambda t, ans, x, y: t, lambda t, ans, x, y: neg(t))
defvjp(sub_p, lambda g, ans, x, y: g, lambda g, ans, x, y: neg(g))
defjvp(mul_p, lambda t, ans, x, y: mul(t, y), lambda t, ans, x, y: mul(x, t))
defvjp(mul_p, lambda g, ans, x, y: mul(g, y), lambda g, ans, x, y: mul(g, x))
# d(x/y)/dy = -(x/y)/y: written -(g/y) * ans, so the division g/y is shared with x's share (hash-consed):
# one division per quotient in the reverse sweep instead of two.
defjvp(div_p, lambda t, ans, x, y: div(t, y), lambda t, ans, x, y: neg(mul(div(t, y), ans)))
defvjp(div_p, lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: neg(mul(div(g, y), ans)))
defjvp(integer_pow_p, lambda t, ans, x, *, n: mul(t, mul(n, integer_pow(x, n - 1))))
defvjp(integer_pow_p, lambda g, ans, x, *, n: mul(mul(n, integer_pow(x, n - 1)), g))
defpartials(
    pow_p,
    lambda t, ans, x, y: mul(t, mul(y, power(x, sub(y, 1.0)))),
    # d/dy x**y = log(x) x**y, which is 0 where x**y is 0 (x = 0, y > 0): not -inf * 0
    lambda t, ans, x, y: mul(t, where(equal(ans, 0.0), 0.0, mul(log(x), ans))),
)


# -- math's spellings that are not one primitive ---------------------------------------------------


def _math_log(x: Any, base: Any = None) -> Any:
    return log(x) if base is None else div(log(x), log(base))


def _math_hypot(*xs: Any) -> Any:
    out = xs[0] if len(xs) == 1 else hypot(xs[0], xs[1])
    for x in xs[2:]:
        out = hypot(out, x)
    return absolute(out) if len(xs) == 1 else out


def _math_sum(xs: Any, start: Any = 0.0) -> Any:
    out = start
    for x in xs:
        out = add(out, x)
    return out


def _math_prod(xs: Any, *, start: Any = 1.0) -> Any:
    out = start
    for x in xs:
        out = mul(out, x)
    return out


add_spelling("math.log", _math_log)
add_spelling("math.pow", power)
add_spelling("math.hypot", _math_hypot)
add_spelling("math.fsum", _math_sum)
add_spelling("math.prod", _math_prod)
for _name, _fn in (("floor", floor), ("ceil", ceil), ("trunc", trunc)):
    add_spelling(f"math.{_name}", _fn, derivative=ZERO)


def logsumexp(*xs: Any) -> Any:
    """``log(sum(exp(x) for x in xs))`` of several scalars, without overflow."""
    if not xs:
        raise TypeError("logsumexp needs at least one argument")
    if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
        xs = tuple(xs[0])
    m = xs[0]
    for x in xs[1:]:
        m = maximum(m, x)
    total = exp(sub(xs[0], m))
    for x in xs[1:]:
        total = add(total, exp(sub(x, m)))
    return add(m, log(total))
