"""Elementwise primitives: arithmetic, elementary functions, comparisons, select.

Each primitive is defined in one place with all its rules side by side: the
NumPy reference implementation, the emitted code, the SymPy raising, the
algebraic identities, and one JVP and one VJP rule per input. Derivative rules
are written with the functions of this module acting on tracers, so the AD
transforms never mention a primitive by name. ``t`` is an input's tangent,
``g`` the output's cotangent, ``ans`` the primitive's output; a rule is only
called for a nonzero ``t`` or ``g``.

Shapes follow NumPy broadcasting; the results are float64, except comparisons
and logical operations, which are boolean.
"""

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


def _float_rule(*types: VType, **params: Any) -> VType:
    return VType(broadcast_shapes(*(t.shape for t in types)), DType.F64)


def _bool_rule(*types: VType, **params: Any) -> VType:
    return VType(broadcast_shapes(*(t.shape for t in types)), BOOL.dtype)


def _select_rule(c: VType, a: VType, b: VType) -> VType:
    dtype = DType.BOOL if a.dtype is b.dtype is DType.BOOL else DType.F64
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


def _define(
    name: str,
    impl: Callable[..., Any],
    emit: EmitRule,
    to_sympy: Callable[..., Any] | str,
    *,
    type_rule: Callable[..., VType] = _float_rule,
    simplify: Callable[..., Any] | None = None,
) -> Primitive:
    if isinstance(to_sympy, str):  # a SymPy function's name, looked up when first used
        to_sympy = _sympy_function(to_sympy)
    return register(Primitive(name, type_rule, impl, emit, to_sympy=to_sympy, simplify=simplify, elementwise=True))


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


neg_p = _define("neg", np.negative, _emit_neg, lambda x: -x, simplify=_simplify_neg)
add_p = _define("add", np.add, _infix("+", PREC_ADD), lambda x, y: x + y, simplify=_simplify_add)
sub_p = _define("sub", np.subtract, _infix("-", PREC_ADD), lambda x, y: x - y, simplify=_simplify_sub)
mul_p = _define("mul", np.multiply, _infix("*", PREC_MUL), lambda x, y: x * y, simplify=_simplify_mul)
div_p = _define("div", np.divide, _infix("/", PREC_MUL), lambda x, y: x / y, simplify=_simplify_div)
integer_pow_p = _define(
    "integer_pow",
    lambda x, *, n: np.power(np.asarray(x, dtype=np.float64), n),
    _emit_integer_pow,
    lambda x, *, n: x**n,
    simplify=_simplify_integer_pow,
)
pow_p = _define("pow", np.power, _emit_pow, lambda x, y: x**y, simplify=_simplify_pow)
exp_p = _define("exp", np.exp, _call("np.exp"), "exp")
log_p = _define("log", np.log, _call("np.log"), "log", simplify=_simplify_log)
log1p_p = _define("log1p", np.log1p, _call("np.log1p"), lambda x: sp.log(1 + x), simplify=_simplify_log1p)
expm1_p = _define("expm1", np.expm1, _call("np.expm1"), lambda x: sp.exp(x) - 1)
sqrt_p = _define("sqrt", np.sqrt, _call("np.sqrt"), "sqrt")
sin_p = _define("sin", np.sin, _call("np.sin"), "sin")
cos_p = _define("cos", np.cos, _call("np.cos"), "cos")
tan_p = _define("tan", np.tan, _call("np.tan"), "tan")
arcsin_p = _define("arcsin", np.arcsin, _call("np.arcsin"), "asin")
arccos_p = _define("arccos", np.arccos, _call("np.arccos"), "acos")
arctan_p = _define("arctan", np.arctan, _call("np.arctan"), "atan")
log2_p = _define("log2", np.log2, _call("np.log2"), lambda x: sp.log(x, 2))
log10_p = _define("log10", np.log10, _call("np.log10"), lambda x: sp.log(x, 10))
hypot_p = _define("hypot", np.hypot, _call("np.hypot"), lambda x, y: sp.sqrt(x**2 + y**2))
arctan2_p = _define("arctan2", np.arctan2, _call("np.arctan2"), "atan2")
sinh_p = _define("sinh", np.sinh, _call("np.sinh"), "sinh")
cosh_p = _define("cosh", np.cosh, _call("np.cosh"), "cosh")
tanh_p = _define("tanh", np.tanh, _call("np.tanh"), "tanh")
abs_p = _define("abs", np.abs, _call("np.abs"), "Abs")
sign_p = _define("sign", np.sign, _call("np.sign"), "sign")
maximum_p = _define("maximum", np.maximum, _call("np.maximum"), "Max")
minimum_p = _define("minimum", np.minimum, _call("np.minimum"), "Min")
sigmoid_p = _define(
    "sigmoid",
    lambda x: 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))),
    _emit_sigmoid,
    lambda x: 1 / (1 + sp.exp(-x)),
)
softplus_p = _define("softplus", lambda x: np.logaddexp(0.0, x), _emit_softplus, lambda x: sp.log(1 + sp.exp(x)))
logaddexp_p = _define(
    "logaddexp",
    np.logaddexp,
    _call("np.logaddexp"),
    lambda x, y: sp.log(sp.exp(x) + sp.exp(y)),
    simplify=_simplify_logaddexp,
)
select_p = _define(
    "select",
    np.where,
    _emit_select,
    lambda c, a, b: sp.Piecewise((a, c), (b, True)),
    type_rule=_select_rule,
    simplify=_simplify_select,
)

lt_p = _define("lt", np.less, _infix("<", PREC_CMP), "Lt", type_rule=_bool_rule)
le_p = _define("le", np.less_equal, _infix("<=", PREC_CMP), "Le", type_rule=_bool_rule)
gt_p = _define("gt", np.greater, _infix(">", PREC_CMP), "Gt", type_rule=_bool_rule)
ge_p = _define("ge", np.greater_equal, _infix(">=", PREC_CMP), "Ge", type_rule=_bool_rule)
eq_p = _define("eq", np.equal, _infix("==", PREC_CMP), "Eq", type_rule=_bool_rule)
ne_p = _define("ne", np.not_equal, _infix("!=", PREC_CMP), "Ne", type_rule=_bool_rule)
and_p = _define("logical_and", np.logical_and, _logical("and", PREC_AND), "And", type_rule=_bool_rule)
or_p = _define("logical_or", np.logical_or, _logical("or", PREC_OR), "Or", type_rule=_bool_rule)
not_p = _define("logical_not", np.logical_not, _emit_not, "Not", type_rule=_bool_rule)

# -- the functions tracing and rules use ------------------------------------------------


def neg(x: Any) -> Any:
    return bind(neg_p, x)


def add(x: Any, y: Any) -> Any:
    return bind(add_p, x, y)


def sub(x: Any, y: Any) -> Any:
    return bind(sub_p, x, y)


def mul(x: Any, y: Any) -> Any:
    return bind(mul_p, x, y)


def div(x: Any, y: Any) -> Any:
    return bind(div_p, x, y)


def integer_pow(x: Any, n: int) -> Any:
    return bind(integer_pow_p, x, n=int(n))


def power(x: Any, y: Any) -> Any:
    """``x ** y``: an integral constant exponent becomes ``integer_pow``."""
    if not isinstance(y, Tracer) and np.ndim(y) == 0 and float(y).is_integer() and abs(y) <= 64:
        return integer_pow(x, int(y))
    return bind(pow_p, x, y)


def log2(x: Any) -> Any:
    return bind(log2_p, x)


def log10(x: Any) -> Any:
    return bind(log10_p, x)


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
    return bind(abs_p, x)


def sign(x: Any) -> Any:
    return bind(sign_p, x)


def maximum(x: Any, y: Any) -> Any:
    return bind(maximum_p, x, y)


def minimum(x: Any, y: Any) -> Any:
    return bind(minimum_p, x, y)


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
    return bind(select_p, cond, a, b)


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


# -- derivative rules: t tangent of the input, g cotangent of the output -------------------

defjvp(neg_p, lambda t, ans, x: neg(t))
defvjp(neg_p, lambda g, ans, x: neg(g))
defjvp(add_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
defvjp(add_p, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
defjvp(sub_p, lambda t, ans, x, y: t, lambda t, ans, x, y: neg(t))
defvjp(sub_p, lambda g, ans, x, y: g, lambda g, ans, x, y: neg(g))
defjvp(mul_p, lambda t, ans, x, y: mul(t, y), lambda t, ans, x, y: mul(x, t))
defvjp(mul_p, lambda g, ans, x, y: mul(g, y), lambda g, ans, x, y: mul(g, x))
defjvp(div_p, lambda t, ans, x, y: div(t, y), lambda t, ans, x, y: neg(div(mul(t, ans), y)))
defvjp(div_p, lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: neg(div(mul(g, ans), y)))
defjvp(integer_pow_p, lambda t, ans, x, *, n: mul(t, mul(n, integer_pow(x, n - 1))))
defvjp(integer_pow_p, lambda g, ans, x, *, n: mul(mul(n, integer_pow(x, n - 1)), g))
defjvp(
    pow_p,
    lambda t, ans, x, y: mul(t, mul(y, power(x, sub(y, 1.0)))),
    lambda t, ans, x, y: mul(t, mul(log(x), ans)),
)
defvjp(
    pow_p,
    lambda g, ans, x, y: mul(g, mul(y, power(x, sub(y, 1.0)))),
    lambda g, ans, x, y: mul(g, mul(log(x), ans)),
)
defjvp(exp_p, lambda t, ans, x: mul(t, ans))
defvjp(exp_p, lambda g, ans, x: mul(g, ans))
defjvp(log_p, lambda t, ans, x: div(t, x))
defvjp(log_p, lambda g, ans, x: div(g, x))
defjvp(log1p_p, lambda t, ans, x: div(t, add(1.0, x)))
defvjp(log1p_p, lambda g, ans, x: div(g, add(1.0, x)))
defjvp(log2_p, lambda t, ans, x: div(t, mul(x, _LN2)))
defvjp(log2_p, lambda g, ans, x: div(g, mul(x, _LN2)))
defjvp(log10_p, lambda t, ans, x: div(t, mul(x, _LN10)))
defvjp(log10_p, lambda g, ans, x: div(g, mul(x, _LN10)))
defjvp(hypot_p, lambda t, ans, x, y: mul(t, div(x, ans)), lambda t, ans, x, y: mul(t, div(y, ans)))
defvjp(hypot_p, lambda g, ans, x, y: mul(g, div(x, ans)), lambda g, ans, x, y: mul(g, div(y, ans)))
defjvp(expm1_p, lambda t, ans, x: mul(t, add(ans, 1.0)))
defvjp(expm1_p, lambda g, ans, x: mul(g, add(ans, 1.0)))
defjvp(sqrt_p, lambda t, ans, x: div(t, mul(2.0, ans)))
defvjp(sqrt_p, lambda g, ans, x: div(g, mul(2.0, ans)))
defjvp(sin_p, lambda t, ans, x: mul(t, cos(x)))
defvjp(sin_p, lambda g, ans, x: mul(g, cos(x)))
defjvp(cos_p, lambda t, ans, x: neg(mul(t, sin(x))))
defvjp(cos_p, lambda g, ans, x: neg(mul(g, sin(x))))
defjvp(tan_p, lambda t, ans, x: mul(t, add(1.0, integer_pow(ans, 2))))
defvjp(tan_p, lambda g, ans, x: mul(g, add(1.0, integer_pow(ans, 2))))
defjvp(arcsin_p, lambda t, ans, x: div(t, sqrt(sub(1.0, integer_pow(x, 2)))))
defvjp(arcsin_p, lambda g, ans, x: div(g, sqrt(sub(1.0, integer_pow(x, 2)))))
defjvp(arccos_p, lambda t, ans, x: neg(div(t, sqrt(sub(1.0, integer_pow(x, 2))))))
defvjp(arccos_p, lambda g, ans, x: neg(div(g, sqrt(sub(1.0, integer_pow(x, 2))))))
defjvp(arctan_p, lambda t, ans, x: div(t, add(1.0, integer_pow(x, 2))))
defvjp(arctan_p, lambda g, ans, x: div(g, add(1.0, integer_pow(x, 2))))


def _hypot2(y: Any, x: Any) -> Any:
    return add(integer_pow(x, 2), integer_pow(y, 2))


defjvp(
    arctan2_p,
    lambda t, ans, y, x: div(mul(t, x), _hypot2(y, x)),
    lambda t, ans, y, x: neg(div(mul(t, y), _hypot2(y, x))),
)
defvjp(
    arctan2_p,
    lambda g, ans, y, x: div(mul(g, x), _hypot2(y, x)),
    lambda g, ans, y, x: neg(div(mul(g, y), _hypot2(y, x))),
)
defjvp(sinh_p, lambda t, ans, x: mul(t, cosh(x)))
defvjp(sinh_p, lambda g, ans, x: mul(g, cosh(x)))
defjvp(cosh_p, lambda t, ans, x: mul(t, sinh(x)))
defvjp(cosh_p, lambda g, ans, x: mul(g, sinh(x)))
defjvp(tanh_p, lambda t, ans, x: mul(t, sub(1.0, integer_pow(ans, 2))))
defvjp(tanh_p, lambda g, ans, x: mul(g, sub(1.0, integer_pow(ans, 2))))
defjvp(abs_p, lambda t, ans, x: mul(t, sign(x)))
defvjp(abs_p, lambda g, ans, x: mul(g, sign(x)))
defjvp(sign_p, None)
defvjp(sign_p, None)
# max/min: the derivative follows the selected argument; ties go to the first.
defjvp(
    maximum_p,
    lambda t, ans, x, y: where(greater_equal(x, y), t, 0.0),
    lambda t, ans, x, y: where(greater_equal(x, y), 0.0, t),
)
defvjp(
    maximum_p,
    lambda g, ans, x, y: where(greater_equal(x, y), g, 0.0),
    lambda g, ans, x, y: where(greater_equal(x, y), 0.0, g),
)
defjvp(
    minimum_p,
    lambda t, ans, x, y: where(less_equal(x, y), t, 0.0),
    lambda t, ans, x, y: where(less_equal(x, y), 0.0, t),
)
defvjp(
    minimum_p,
    lambda g, ans, x, y: where(less_equal(x, y), g, 0.0),
    lambda g, ans, x, y: where(less_equal(x, y), 0.0, g),
)
defjvp(sigmoid_p, lambda t, ans, x: mul(t, mul(ans, sub(1.0, ans))))
defvjp(sigmoid_p, lambda g, ans, x: mul(g, mul(ans, sub(1.0, ans))))
defjvp(softplus_p, lambda t, ans, x: mul(t, sigmoid(x)))
defvjp(softplus_p, lambda g, ans, x: mul(g, sigmoid(x)))
defjvp(
    logaddexp_p,
    lambda t, ans, x, y: mul(t, exp(sub(x, ans))),
    lambda t, ans, x, y: mul(t, exp(sub(y, ans))),
)
defvjp(
    logaddexp_p,
    lambda g, ans, x, y: mul(g, exp(sub(x, ans))),
    lambda g, ans, x, y: mul(g, exp(sub(y, ans))),
)
defjvp(select_p, None, lambda t, ans, c, a, b: where(c, t, 0.0), lambda t, ans, c, a, b: where(c, 0.0, t))
defvjp(select_p, None, lambda g, ans, c, a, b: where(c, g, 0.0), lambda g, ans, c, a, b: where(c, 0.0, g))
for _p in (lt_p, le_p, gt_p, ge_p, eq_p, ne_p, and_p, or_p):
    defjvp(_p, None, None)
    defvjp(_p, None, None)
defjvp(not_p, None)
defvjp(not_p, None)


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
