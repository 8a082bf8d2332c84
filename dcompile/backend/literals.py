"""Exact source literals for constants (round-trip ``repr``)."""

from __future__ import annotations

import math
from typing import Any

from dcompile.ir.primitive import PREC_ATOM, PREC_UNARY


def format_literal(value: Any) -> tuple[str, int]:
    """Source text and precedence of a constant; ``float(text) == value`` exactly."""
    if isinstance(value, bool):
        return ("True" if value else "False"), PREC_ATOM
    x = float(value)
    if math.isnan(x):
        return "np.nan", PREC_ATOM
    if math.isinf(x):
        return ("np.inf", PREC_ATOM) if x > 0 else ("-np.inf", PREC_UNARY)
    text = repr(x)
    return text, (PREC_UNARY if text.startswith("-") else PREC_ATOM)
