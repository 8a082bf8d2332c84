"""SymPy front end: lower an expression tree to IR, and raise IR back to SymPy.

Lowering walks the expression bottom-up with a memo, so a subexpression that
SymPy shares is lowered once (and the builder's hash-consing merges equal ones
anyway). n-ary ``Add``/``Mul`` become chains of binary operations (negative
powers in a product become divisions); ``Pow`` becomes ``integer_pow`` for
integer exponents, ``sqrt`` for 1/2 and ``pow`` otherwise; ``Piecewise``
becomes nested selects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from dcompile.errors import SignatureError, UnsupportedError
from dcompile.ir.builder import Builder
from dcompile.ir.graph import Graph, Value
from dcompile.ir.naming import sanitize
from dcompile.ir.tracer import Tracer, lift
from dcompile.ir.types import F64
from dcompile.primitives import elementwise as E

_FUNCTIONS: dict[type, Callable[..., Any]] = {
    sp.exp: E.exp,
    sp.log: lambda x, base=None: E.log(x) if base is None else E.div(E.log(x), E.log(base)),
    sp.sin: E.sin,
    sp.cos: E.cos,
    sp.tan: E.tan,
    sp.asin: E.arcsin,
    sp.acos: E.arccos,
    sp.atan: E.arctan,
    sp.atan2: E.arctan2,
    sp.sinh: E.sinh,
    sp.cosh: E.cosh,
    sp.tanh: E.tanh,
    sp.Abs: E.absolute,
    sp.sign: E.sign,
}
_RELATIONS: dict[type, Callable[..., Any]] = {
    sp.StrictLessThan: E.less,
    sp.LessThan: E.less_equal,
    sp.StrictGreaterThan: E.greater,
    sp.GreaterThan: E.greater_equal,
    sp.Equality: E.equal,
    sp.Unequality: E.not_equal,
}


def arg_names(args: Sequence[sp.Symbol]) -> list[str]:
    """Safe, unique argument names for the symbols (``x); import os`` -> ``x_import_os``)."""
    if isinstance(args, sp.Basic) or not isinstance(args, (list, tuple)):
        raise SignatureError(
            f"from_sympy args must be a list of SymPy symbols, got {type(args).__name__}.\n"
            "Fix: pass args=[x] for a single symbol."
        )
    if len(set(args)) != len(args):
        dup = next(s for s in args if list(args).count(s) > 1)
        raise SignatureError(f"from_sympy args name the symbol {dup} twice; each argument must be a distinct symbol.")
    names: list[str] = []
    for s in args:
        if not isinstance(s, sp.Symbol):
            raise SignatureError(f"from_sympy args must be SymPy symbols; got {s!r} ({type(s).__name__})")
        base = name = sanitize(s.name)
        k = 0
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    return names


def _chain(fn: Callable[[Any, Any], Any], items: list[Any]) -> Any:
    out = items[0]
    for x in items[1:]:
        out = fn(out, x)
    return out


class _Lowerer:
    def __init__(self, builder: Builder, env: dict[sp.Basic, Tracer]) -> None:
        self.b = builder
        self.memo: dict[sp.Basic, Any] = dict(env)

    def __call__(self, e: sp.Basic) -> Any:
        hit = self.memo.get(e)
        if hit is None:
            hit = self.memo[e] = self.lower(e)
        return hit

    def lower_all(self, root: sp.Basic) -> Any:
        """Lower ``root`` children first, with an explicit stack (no recursion limit)."""
        stack: list[tuple[sp.Basic, bool]] = [(root, False)]
        while stack:
            e, expanded = stack.pop()
            if e in self.memo:
                continue
            if isinstance(e, ExprCondPair):  # part of a Piecewise, not a value
                stack.extend((a, False) for a in e.args if a not in self.memo)
            elif expanded or not e.args:
                self(e)
            else:
                stack.append((e, True))
                stack.extend((a, False) for a in e.args if a not in self.memo)
        return self(root)

    def lower(self, e: sp.Basic) -> Any:
        """One node, its arguments already lowered (see :meth:`lower_all`)."""
        if not e.args:  # symbols, numbers, True/False
            return self.atom(e)
        for cls, handler in _HANDLERS:
            if isinstance(e, cls):
                return handler(self, e)
        raise UnsupportedError(
            f"SymPy {type(e).__name__} ({e}) is not supported by dcompile.\n"
            "Fix: rewrite it with supported functions (e.g. expr.rewrite(sp.exp)), or define a "
            "primitive with dcompile.extend."
        )

    def atom(self, e: sp.Basic) -> Any:
        if isinstance(e, sp.Symbol):
            raise SignatureError(
                f"the expression uses symbol {e.name!r}, which is not among args.\n"
                f"Fix: add it to args=[...] or substitute a number with expr.subs({e.name}, value)."
            )
        if e is sp.true or e is sp.false:
            return lift(self.b, bool(e))
        if e is sp.nan:
            return lift(self.b, float("nan"))
        if e.is_number and e.is_extended_real is not False:
            return lift(self.b, float(e))
        raise UnsupportedError(f"the constant {e} in the expression is not a real number")

    def args(self, e: sp.Basic) -> list[Any]:
        return [self(a) for a in e.args]

    def mul(self, e: sp.Mul) -> Any:
        """``c * a * b / d``: the coefficient first, negative powers as divisions."""
        coeff, factors = e.as_coeff_mul()
        numer = [f for f in factors if not (f.is_Pow and f.exp.is_number and f.exp.is_negative)]
        denom = [1 / f for f in factors if f not in numer]
        c = float(coeff)
        if not numer:
            out = lift(self.b, c)
        else:
            out = _chain(E.mul, [self(f) for f in numer])
            out = E.neg(out) if c == -1.0 else out if c == 1.0 else E.mul(c, out)
        for d in denom:
            out = E.div(out, self(d))
        return out

    def pow(self, base: sp.Basic, exp: sp.Basic) -> Any:
        b = self(base)
        if exp.is_Integer:
            return E.integer_pow(b, int(exp))
        if exp == sp.Rational(1, 2):
            return E.sqrt(b)
        if exp == sp.Rational(-1, 2):
            return E.div(1.0, E.sqrt(b))
        if exp.is_number:
            return E.power(b, float(exp))
        return E.power(b, self(exp))

    def piecewise(self, e: sp.Piecewise) -> Any:
        out = None
        for value, cond in reversed(e.args):
            v = self(value)
            if cond is sp.true:
                out = v
                continue
            if out is None:
                out = lift(self.b, float("nan"))  # no branch applies: undefined
            out = E.where(self(cond), v, out)
        return out


def _nary(fn: Callable[[Any, Any], Any]) -> Callable[[_Lowerer, sp.Basic], Any]:
    return lambda lw, e: _chain(fn, lw.args(e))


def _apply(fn: Callable[..., Any]) -> Callable[[_Lowerer, sp.Basic], Any]:
    return lambda lw, e: fn(*lw.args(e))


# Node kinds in the order they are tried; the first isinstance match lowers the node.
_HANDLERS: list[tuple[type, Callable[[_Lowerer, sp.Basic], Any]]] = [
    (sp.Add, _nary(E.add)),
    (sp.Mul, lambda lw, e: lw.mul(e)),
    (sp.Pow, lambda lw, e: lw.pow(e.base, e.exp)),
    (sp.Piecewise, lambda lw, e: lw.piecewise(e)),
    (sp.Max, _nary(E.maximum)),
    (sp.Min, _nary(E.minimum)),
    (sp.And, _nary(E.logical_and)),
    (sp.Or, _nary(E.logical_or)),
    (sp.Not, _apply(E.logical_not)),
    (sp.ITE, _apply(E.where)),  # SymPy's form of a Piecewise inside a condition
    *((cls, _apply(fn)) for cls, fn in _FUNCTIONS.items()),
    *((cls, _apply(fn)) for cls, fn in _RELATIONS.items()),
]


def lower(expr: sp.Basic, args: Sequence[sp.Symbol], name: str) -> Graph:
    """The IR graph of ``expr`` as a function of ``args``."""
    expr = sp.sympify(expr)
    names = arg_names(args)
    builder = Builder()
    inputs: list[Value] = [builder.new_input(F64, n) for n in names]
    lowerer = _Lowerer(builder, {s: Tracer(builder, v) for s, v in zip(args, inputs, strict=True)})
    out = lift(builder, lowerer.lower_all(expr))
    if not out.type.dtype.differentiable:
        raise SignatureError("the expression is a condition (boolean); it must be a number")
    builder.set_hint(out.value, name)
    return builder.build(name, inputs, [out.value])


def to_sympy(graph: Graph, symbols: Sequence[sp.Symbol] | None = None) -> list[sp.Expr]:
    """Raise ``graph`` to SymPy: one expression per output, in the given symbols."""
    if symbols is None:
        symbols = [sp.Symbol(graph.hints.get(v, f"x{i}"), real=True) for i, v in enumerate(graph.inputs)]
    env: dict[Value, Any] = dict(zip(graph.inputs, symbols, strict=True))
    for e in graph.eqns:
        if e.prim.literal:
            value = e.kwargs["value"]
            env[e.out] = sp.true if value is True else sp.false if value is False else sp.Float(value)
            if isinstance(value, float) and value.is_integer():
                env[e.out] = sp.Integer(int(value))
            continue
        if e.prim.to_sympy is None:
            raise UnsupportedError(f"primitive {e.prim.name!r} has no SymPy form")
        env[e.out] = e.prim.to_sympy(*(env[v] for v in e.inputs), **e.kwargs)
    return [env[v] for v in graph.outputs]
