"""``dc.check_grad``: a derivative checker that ships with the package.

A random-direction test in the style of autograd's ``check_grads``: along a
random unit direction ``v`` it compares the forward-mode derivative
(``jvp``), the reverse-mode gradient dotted with ``v`` (``grad . v``) and a
central finite difference of ``f``; at order 2 it compares ``hvp`` with a
central difference of the gradient and with the Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dcompile.api import Function, Wrt, as_function, grad, hessian, hvp, jvp
from dcompile.calling import is_leaf_value, wrt_params
from dcompile.errors import UnsupportedError
from dcompile.frontend.pytree import TreeDef


@dataclass(frozen=True)
class GradCheck:
    """Relative errors of each comparison; ``ok`` when all are within ``rtol``."""

    errors: dict[str, float]
    rtol: float
    skipped: tuple[str, ...] = ()  # comparisons not made, with the reason (a mode the function refuses)

    @property
    def ok(self) -> bool:
        return all(e <= self.rtol for e in self.errors.values())

    def __str__(self) -> str:
        width = max((len(k) for k in self.errors), default=0) + 1
        rows = [f"  {k:<{width}} {v:.2e} {'ok' if v <= self.rtol else 'FAIL'}" for k, v in self.errors.items()]
        rows += [f"  {k:<{width}} skipped" for k in self.skipped]
        return "derivative check (relative errors):\n" + "\n".join(rows)


def _rel(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(1.0, float(np.max(np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale


def _flat(out: Any) -> np.ndarray:
    if isinstance(out, tuple):
        return np.concatenate([_flat(o) for o in out]) if out else np.zeros(0)
    return np.ravel(np.asarray(out, dtype=float))


def _direction(parts: list[Any]) -> Any:
    """A direction as ``jvp``/``hvp`` take it: numbers for scalar arguments, the array for one argument."""
    if all(np.ndim(p) == 0 for p in parts):
        return [float(p) for p in parts]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _arguments(f: Function, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``check_grad(f, [x1, x2])`` and ``check_grad(f, np.array([x1, x2]))`` as ``check_grad(f, x1, x2)``."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)) and len(f.arg_names) != 1:
        return tuple(args[0])
    if len(args) == 1 and isinstance(args[0], np.ndarray) and len(f.arg_names) == np.size(args[0]) > 1:
        return tuple(float(a) for a in np.ravel(args[0]))  # a vector of the scalar arguments
    return args


def _flat_call(f: Any, args: tuple[Any, ...], wrt: Wrt) -> tuple[Function, tuple[Any, ...], Wrt]:
    """The flat function, arguments and ``wrt`` of a call with structures or defaults (see dcompile.calling)."""
    conv = f.convention
    if conv is None or (len(args) == len(f.arg_names) and all(is_leaf_value(a) for a in args)):
        return f, args, wrt
    plan, leaves = conv.plan(args, {})
    params = wrt_params(plan, wrt, f.name)
    if params is None:
        params = tuple(
            i for i, p in enumerate(plan.parts) if isinstance(p, TreeDef) and plan.names[i] not in plan.defaulted
        )
    return f.variant(plan), tuple(leaves), tuple(plan.leaves_of(params))


def check_grad(
    f: Function,
    *args: Any,
    wrt: Wrt = None,
    order: int = 2,
    eps: float = 1e-5,
    rtol: float = 1e-5,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> GradCheck:
    """Check ``f``'s forward and reverse derivatives (and order 2) at ``args``, against finite differences.

    ``args`` are ``f``'s arguments (numbers and arrays; integer and boolean
    arrays are data). Along a random unit direction ``v`` in the ``wrt``
    arguments (default: every float argument) it compares the forward-mode
    derivative (``jvp``) with a five-point central difference of ``f``, the
    reverse-mode gradient dotted with ``v`` with both, and, per argument, the
    gradient's part against a difference along that argument alone; at order
    2, ``hvp`` against a difference of the gradient and (up to 200 entries)
    the Hessian against ``hvp``. Raises ``AssertionError`` with the table of
    relative errors if one exceeds ``rtol`` and ``raise_on_failure``;
    returns the :class:`GradCheck` otherwise.
    """
    f = as_function(f, "check_grad")
    f, args, wrt = _flat_call(f, _arguments(f, args), wrt)
    sig, conv = f.signature(args)
    idx = tuple(i for i in f.resolve_wrt(wrt) if wrt is not None or sig[i].dtype.differentiable)
    names = [f.arg_names[i] for i in idx]
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal(np.shape(conv[i])) if sig[i].rank else float(rng.standard_normal()) for i in idx]
    scale = float(np.sqrt(sum(np.sum(np.square(p)) for p in parts)))
    parts = [p / scale for p in parts]

    def along(fn: Any, v: list[Any], h: float) -> Any:
        moved = list(conv)
        for i, d in zip(idx, v, strict=True):
            moved[i] = conv[i] + h * d
        return fn(*moved)

    def derivative(fn: Any, v: list[Any]) -> Any:
        terms = ((-1.0, 2.0), (8.0, 1.0), (-8.0, -1.0), (1.0, -2.0))
        return sum(c * np.asarray(along(fn, v, k * eps), dtype=float) for c, k in terms) / (12 * eps)

    fd = float(derivative(f, parts))
    g = grad(f, idx)
    flat_g = _flat(g(*conv))
    flat_v = _flat(tuple(np.asarray(p, dtype=float) for p in parts))
    errors: dict[str, float] = {}
    skipped: list[str] = []
    try:
        _, forward = jvp(f, idx)(list(conv), _direction(parts))
        errors["jvp vs finite difference"] = _rel(forward, fd)
    except UnsupportedError as exc:  # a primitive or custom rule with reverse mode only
        skipped.append(f"jvp ({str(exc).splitlines()[0]})")
    errors["grad . v vs finite difference"] = _rel(flat_g @ flat_v, fd)
    offset = 0
    for name, p in zip(names, parts, strict=True):
        size = int(np.size(p))
        alone = [q if q is p else (np.zeros(np.shape(q)) if np.ndim(q) else 0.0) for q in parts]
        part_fd = float(derivative(f, alone))
        part_rev = float(flat_g[offset : offset + size] @ np.ravel(p))
        errors[f"grad[{name}] vs finite difference"] = _rel(part_rev, part_fd)
        offset += size
    if order >= 2:
        try:
            hv = _flat(hvp(f, idx)(list(conv), _direction(parts)))
        except UnsupportedError as exc:  # a Python callback in the reverse sweep: no second order
            skipped.append(f"hvp and hessian ({str(exc).splitlines()[0]})")
        else:
            fd2 = derivative(lambda *a: _flat(g(*a)), parts)
            errors["hvp vs finite difference"] = _rel(hv, fd2)
            if flat_v.size <= 200:
                errors["hessian @ v vs hvp"] = _rel(np.asarray(hessian(f, idx)(*conv)) @ flat_v, hv)
    result = GradCheck(errors, rtol, tuple(skipped))
    if raise_on_failure and not result.ok:
        raise AssertionError(str(result))
    return result
