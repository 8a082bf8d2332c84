"""Select-aware derivatives: keep the unselected branch out of the chain rule.

Through ``y = where(c, sqrt(x), 0)`` the adjoint of ``sqrt(x)`` is
``where(c, g, 0)``; the naive next step multiplies it by ``1 / (2 sqrt(x))``,
and at ``x < 0`` that is ``0 * nan = nan`` — the classic NaN-gradient of
``where`` in JAX. Derivative rules are linear in the incoming tangent or
cotangent, so ``rule(where(c, g, 0)) == where(c, rule(g), 0)`` mathematically;
:func:`masked` applies the rule to ``g`` and selects afterwards, and because a
scalar select only evaluates the chosen branch, the unselected partial
derivative is never multiplied in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcompile.ir.tracer import Tracer
from dcompile.primitives.elementwise import select_parts, where


def zero_select_parts(t: Tracer) -> tuple[Tracer, Tracer, bool] | None:
    """``(cond, inner, inner_on_true)`` if ``t`` is ``where(cond, inner, 0)`` or ``where(cond, 0, inner)``."""
    parts = select_parts(t)
    if parts is None:
        return None
    c, a, b = parts
    if b.is_const(0.0):
        return c, a, True
    if a.is_const(0.0):
        return c, b, False
    return None


def apply_rule(
    rule: Callable[..., Any],
    t: Tracer,
    ans: Tracer,
    ins: list[Tracer],
    params: dict[str, Any],
    *,
    elementwise: bool = True,
) -> Any:
    """A derivative rule applied to the nonzero tangent or cotangent ``t``.

    Select-aware for elementwise primitives; a rule that moves entries around
    (a reduction, a transpose) is applied to ``t`` as it is, since its select
    mask would no longer line up with the result.
    """
    if not elementwise:
        return rule(t, ans, *ins, **params)
    return masked(lambda inner: rule(inner, ans, *ins, **params), t)


def masked(rule: Callable[[Tracer], Any], t: Tracer) -> Any:
    """``rule(t)``, with any zero-branch selects around ``t`` moved outside."""
    layers: list[tuple[Tracer, bool]] = []
    while (parts := zero_select_parts(t)) is not None:  # iterative: selects may nest deeply
        cond, t, on_true = parts
        layers.append((cond, on_true))
    out = rule(t)
    for cond, on_true in reversed(layers):
        if isinstance(out, Tracer) and out.is_const(0.0):
            return out
        out = where(cond, out, 0.0) if on_true else where(cond, 0.0, out)
    return out
