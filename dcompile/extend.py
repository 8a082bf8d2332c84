"""The extension API: define a new primitive with its derivative rules.

Three layers, as in autograd and JAX: ``dcompile`` for users, this module for
extenders, everything else internal. A primitive defined here works
everywhere a built-in one does: tracing, forward and reverse mode (and so
Hessians), the emitter, numba and SymPy raising::

    import numpy as np
    from dcompile import extend as ext

    log_cosh = ext.primitive(
        "log_cosh", impl=lambda x: np.log(np.cosh(x)), code="np.log(np.cosh({0}))"
    )
    ext.defjvp(log_cosh, lambda t, ans, x: t * np.tanh(x))
    ext.defvjp(log_cosh, lambda g, ans, x: g * np.tanh(x))

Rules receive tracers, so they are written with operators, ``np.*`` functions
and the functions in :mod:`dcompile` — one line per input, ``None`` for an
input with no derivative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dcompile.ir.primitive import PREC_ATOM, Primitive, register
from dcompile.ir.tracer import bind
from dcompile.ir.types import VType
from dcompile.primitives.elementwise import _float_rule

Rule = Callable[..., Any] | None


class UserPrimitive:
    """A callable user-level function bound to its :class:`Primitive`."""

    def __init__(self, prim: Primitive) -> None:
        self.prim = prim
        self.__name__ = prim.name

    def __call__(self, *args: Any) -> Any:
        return bind(self.prim, *args)

    def __repr__(self) -> str:
        return f"<dcompile primitive {self.prim.name}>"


def primitive(
    name: str,
    *,
    impl: Callable[..., Any],
    code: str,
    to_sympy: Callable[..., Any] | None = None,
    type_rule: Callable[..., VType] = _float_rule,
) -> UserPrimitive:
    """Register an elementwise primitive and return the function that applies it.

    Args:
        name: unique primitive name (shown in IR listings).
        impl: NumPy reference implementation (constant folding, reference runs).
        code: the emitted expression, with ``{0}``, ``{1}``, ... for the
            operands; it may use ``np.*`` and must compile under numba.
        to_sympy: the SymPy form, for ``to_sympy`` and checks.
        type_rule: result type from input types (default: broadcast, float64).
    """

    def emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
        return f"({code.format(*(a for a, _ in args))})", PREC_ATOM

    prim = register(Primitive(name, type_rule, impl, emit, to_sympy=to_sympy, elementwise=True))
    return UserPrimitive(prim)


def _prim(p: UserPrimitive | Primitive) -> Primitive:
    return p.prim if isinstance(p, UserPrimitive) else p


def defjvp(p: UserPrimitive | Primitive, *rules: Rule) -> None:
    """Forward rules, one per input: ``(t, ans, *inputs) -> tangent contribution``."""
    _prim(p).jvp = tuple(rules)


def defvjp(p: UserPrimitive | Primitive, *rules: Rule) -> None:
    """Reverse rules, one per input: ``(g, ans, *inputs) -> cotangent share``."""
    _prim(p).vjp = tuple(rules)


__all__ = ["Primitive", "UserPrimitive", "bind", "defjvp", "defvjp", "primitive"]
