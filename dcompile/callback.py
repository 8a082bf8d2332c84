"""Python code inside compiled functions: ``dc.pure_callback`` and custom VJPs whose body is not traceable.

``dc.pure_callback(fn, result_shape, *args)`` (JAX's interface) calls a
Python function from the compiled code: in the generated module it is a
``numba.objmode`` block, so the numba backend leaves machine code for that
call only, with the operands as NumPy arrays; the Python backend simply calls
it. The function must be pure (the same operands give the same result): it
may be called once per evaluation, or not at all when its result is unused.

A callback has no derivative of its own. Differentiating through one is
refused with the fix, unless it is the body of a ``dc.custom_vjp`` declared
with ``result_shape``: then the body runs as a callback for the value, and
reverse mode runs ``bwd(fwd(*args)[1], g)`` as a second callback (``fwd`` is
called again for the residuals, which never cross into compiled code, so
their shapes need not be declared). Forward mode and second derivatives
through a callback are refused: the rules are Python, not IR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.errors import SignatureError, UnsupportedError
from dcompile.frontend.fingerprint import fingerprint
from dcompile.ir.primitive import PREC_ATOM, Primitive, register
from dcompile.ir.tracer import Tracer, bind, lift
from dcompile.ir.types import DType, VType
from dcompile.runtime import callbacks as runtime

IMPORTS = ("import numba", "from dcompile.runtime import callbacks as _dcc")


class Callback:
    """One Python function as generated code calls it: its key, declared shape and derivative (an equation parameter).

    ``cotangents(g, ins)``: the inputs' cotangents as tracers, for a callback
    that has a reverse rule (a custom VJP's body); None: no derivative.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        shape: tuple[int, ...],
        name: str,
        cotangents: Callable[[Tracer, Sequence[Tracer]], Sequence[Any]] | None = None,
    ) -> None:
        self.fn = fn
        self.shape = shape
        self.name = name
        self.key = runtime.register(fn, name, fingerprint(fn))
        self.cotangents = cotangents

    def __repr__(self) -> str:
        return f"<callback {self.name}>"


def _type_rule(*types: VType, fn: Callback) -> VType:
    return VType(fn.shape, DType.F64)


def _impl(*args: Any, fn: Callback) -> Any:
    return runtime.call(fn.key, fn.shape, *args)


def _call_source(args: Sequence[str], fn: Callback) -> str:
    return f"_dcc.call({fn.key!r}, {fn.shape!r}, {', '.join(args)})"


def _emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    return _call_source([a for a, _ in args], params["fn"]), PREC_ATOM


def _emit_lines(target: str, args: Sequence[str], params: dict[str, Any], types: Any, out: VType) -> list[str]:
    fn = params["fn"]
    return [
        f'with numba.objmode({target}="{runtime.numba_type(fn.shape)}"):  # Python: {fn.name}',
        f"    {target} = {_call_source(args, fn)}",
    ]


def _no_forward(k: int) -> Any:
    def rule(t: Tracer, ans: Tracer, *ins: Tracer, fn: Callback) -> Any:
        raise UnsupportedError(
            f"{fn.name} runs as a Python callback, which forward mode (jvp, hvp, hessian, and derivatives of a "
            "custom VJP's bwd) cannot differentiate.\nFix: use reverse mode (grad), or write the code with "
            "functions dcompile traces (docs/coverage.md) so that it compiles."
        )

    return rule


def _reverse(k: int) -> Any:
    def rule(g: Tracer, ans: Tracer, *ins: Tracer, fn: Callback) -> Any:
        if fn.cotangents is None:
            raise UnsupportedError(
                f"dc.pure_callback({fn.name}) has no derivative.\nFix: make it the body of a dc.custom_vjp with "
                "result_shape= and give its bwd rule, or write it with functions dcompile traces."
            )
        return fn.cotangents(g, ins)[k]

    return rule


callback_p = register(
    Primitive(
        "pure_callback",
        _type_rule,
        _impl,
        _emit,
        emit_lines=_emit_lines,
        foldable=False,
        imports=IMPORTS,
        jvp=_no_forward,
        vjp=_reverse,
        entrywise=False,
    )
)


def _builder(args: Sequence[Any]) -> Any:
    for a in args:
        if isinstance(a, Tracer):
            return a.builder
    return None


def result_shape_of(spec: Any, name: str) -> tuple[int, ...]:
    """A declared result shape: a tuple of ints, ``()`` for a scalar, or anything with ``.shape``."""
    shape = getattr(spec, "shape", spec)
    try:
        return tuple(int(n) for n in shape)
    except TypeError:
        raise SignatureError(
            f"the result shape of {name} must be a tuple of ints (() for a scalar) or an array, got {spec!r}"
        ) from None


def pure_callback(fn: Callable[..., Any], result_shape: Any, *args: Any) -> Any:
    """Call the Python function ``fn(*args)`` from compiled code; its result is float64 of ``result_shape``.

    Outside a traced function it is ``fn(*args)``. See the module doc.
    """
    name = getattr(fn, "__name__", "callback")
    shape = result_shape_of(result_shape, name)
    b = _builder(args)
    if b is None:
        return runtime.call(runtime.register(fn, name, None), shape, *args)
    ins = [lift(b, a) for a in args]
    return bind(callback_p, *ins, fn=Callback(fn, shape, name))


def _flat_cotangents(out: Any, shapes: Sequence[tuple[int, ...]], name: str) -> np.ndarray:
    """``bwd``'s tuple of cotangents (``None``: zero) as one float64 vector, in argument order."""
    if not isinstance(out, (tuple, list)) or len(out) != len(shapes):
        raise SignatureError(f"the bwd rule of {name} must return a tuple of {len(shapes)} cotangents")
    parts = [
        np.zeros(s) if c is None else np.broadcast_to(np.asarray(c, dtype=np.float64), s)
        for c, s in zip(out, shapes, strict=True)
    ]
    return np.concatenate([np.ravel(p) for p in parts]) if parts else np.zeros(0)


def _cotangent_call(
    flat_fn: Callable[..., np.ndarray], operands: Sequence[Any], shapes: Sequence[tuple[int, ...]], name: str
) -> list[Any]:
    """One callback computing every cotangent as a flat vector, split and reshaped by argument."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    flat = bind(callback_p, *operands, fn=Callback(flat_fn, (sum(sizes),), name))
    out, offset = [], 0
    for s, n in zip(shapes, sizes, strict=True):
        piece = flat[offset : offset + n]
        out.append(piece.reshape(s) if s else piece[0])
        offset += n
    return out


def vjp_callback(  # noqa: PLR0917
    fun: Callable[..., Any],
    fwd: Callable[..., Any],
    bwd: Callable[..., Any],
    shape: tuple[int, ...],
    ins: Sequence[Tracer],
    name: str,
) -> Tracer:
    """A custom VJP run as Python: the value from ``fun``, the cotangents from ``bwd(fwd(*args)[1], g)``."""
    shapes = [t.type.shape for t in ins]

    def cotangents_flat(*operands: Any) -> np.ndarray:
        return _flat_cotangents(bwd(fwd(*operands[:-1])[1], operands[-1]), shapes, name)

    cotangents_flat.__name__ = f"{name}_bwd"
    memo: dict[tuple[int, ...], list[Any]] = {}

    def cotangents(g: Tracer, operands: Sequence[Tracer]) -> list[Any]:
        key = (g.value.id, *(t.value.id for t in operands))
        if key not in memo:
            memo[key] = _cotangent_call(cotangents_flat, [*operands, g], shapes, f"{name}_bwd")
        return memo[key]

    return bind(callback_p, *ins, fn=Callback(fun, shape, name, cotangents))


def bwd_callback(  # noqa: PLR0917
    bwd: Callable[..., Any],
    rebuild: Callable[[list[Any]], Any],
    residuals: Sequence[Tracer],
    g: Tracer,
    shapes: Sequence[tuple[int, ...]],
    name: str,
) -> list[Any]:
    """A custom VJP's ``bwd`` run as Python on the compiled residuals (its forward code compiled)."""

    def cotangents_flat(*operands: Any) -> np.ndarray:
        return _flat_cotangents(bwd(rebuild(list(operands[:-1])), operands[-1]), shapes, name)

    cotangents_flat.__name__ = f"{name}_bwd"
    return _cotangent_call(cotangents_flat, [*residuals, g], shapes, f"{name}_bwd")
