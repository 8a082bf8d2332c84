"""Exact source literals for constants (round-trip ``repr``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dcompile.ir.primitive import PREC_ATOM, PREC_UNARY


def format_literal(value: Any) -> tuple[str, int]:
    """Source text and precedence of a constant; ``float(text) == value`` exactly."""
    if isinstance(value, np.ndarray):
        return format_array(value), PREC_ATOM
    if isinstance(value, bool):
        return ("True" if value else "False"), PREC_ATOM
    if isinstance(value, (int, np.integer)):
        return str(int(value)), (PREC_UNARY if value < 0 else PREC_ATOM)
    x = float(value)
    if math.isnan(x):
        return "np.nan", PREC_ATOM
    if math.isinf(x):
        return ("np.inf", PREC_ATOM) if x > 0 else ("-np.inf", PREC_UNARY)
    text = repr(x)
    return text, (PREC_UNARY if text.startswith("-") else PREC_ATOM)


def format_array(value: np.ndarray) -> str:
    """Source for an array constant: ``np.array([...], dtype=...)`` of its exact entries."""
    flat = value.ravel()
    if value.dtype.kind == "b":
        items, dtype = [str(bool(x)) for x in flat], "np.bool_"
    elif value.dtype.kind in "iu":
        items, dtype = [str(int(x)) for x in flat], "np.int64"
    else:
        items, dtype = [format_literal(float(x))[0] for x in flat], "np.float64"
    src = f"np.array([{', '.join(items)}], dtype={dtype})"
    if value.ndim != 1:
        src += f".reshape({tuple(int(n) for n in value.shape)})"
    return src
