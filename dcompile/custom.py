"""Custom derivatives for a block of NumPy/SciPy code: ``dc.custom_vjp`` and ``dc.custom_jvp``.

JAX's interface, which users know::

    @dc.custom_vjp
    def logdet(a):
        return np.linalg.slogdet(a)[1]

    def logdet_fwd(a):
        return logdet(a), np.linalg.inv(a)          # the value and the residuals

    def logdet_bwd(inv_a, g):
        return (g * inv_a.T,)                       # one cotangent per argument

    logdet.defvjp(logdet_fwd, logdet_bwd)

How it fits the pipeline: called on tracers, the function's *forward* code
(``fwd`` for a custom VJP, the function itself for a custom JVP) is traced
inline as ordinary IR, and its result passes through one equation of a
``custom_vjp``/``custom_jvp`` primitive whose inputs are the arguments, the
inlined result and the residuals. That equation prints as the result itself
(no code), and its derivative rules are the user's:

* custom VJP: reverse mode calls ``bwd`` (traced, so it is IR too) for the
  arguments' cotangents; the inlined forward code receives no cotangent.
  Forward mode differentiates the inlined forward code with the ordinary
  rules (JAX refuses forward mode here; dcompile can, since the code is IR).
  Second order (HVPs, Hessians) is forward mode over the reverse sweep, so it
  differentiates ``bwd``'s code: give a ``bwd`` written with differentiable
  functions.
* custom JVP: forward mode calls the user's ``jvp`` once per argument with
  the other tangents zero (the rule is linear in the tangents). Reverse mode
  *transposes* it: the rule is traced into a graph with the tangents as
  inputs and pulled back through dcompile's own reverse transform, which for
  a linear function is exactly the transpose. The function's own code is
  never differentiated.

The body, ``fwd``, ``bwd`` and ``jvp`` are traced (the functions of
docs/coverage.md). A custom VJP declared with ``result_shape`` whose code does
not trace runs as Python instead, called from the compiled code (see
:mod:`dcompile.callback`): the body and ``bwd`` when ``fwd`` fails to trace,
``bwd`` alone when only it fails. Outside a traced function the object is the
plain function. One array or scalar result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.errors import SignatureError, TraceError, UnsupportedError
from dcompile.ir.builder import Builder
from dcompile.ir.primitive import Primitive, register
from dcompile.ir.tracer import Tracer, bind, lift
from dcompile.ir.types import VType
from dcompile.primitives import arrays as A


def _builder(args: Sequence[Any]) -> Builder | None:
    for a in args:
        if isinstance(a, Tracer):
            return a.builder
        if isinstance(a, (list, tuple)):
            b = _builder(a)
            if b is not None:
                return b
    return None


def _traceable(fn: Callable[..., Any]) -> Callable[..., Any]:
    from dcompile.frontend.namespace import with_traceable_globals

    return with_traceable_globals(fn)


def _flat(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _flat(item)]
    return [x]


def _rebuild(structure: Any, leaves: list[Any]) -> Any:
    """``structure`` (nested tuples/lists) with its leaves replaced, in order (``None`` leaves stay)."""
    it = iter(leaves)

    def walk(s: Any) -> Any:
        if isinstance(s, (list, tuple)):
            return type(s)(walk(x) for x in s)
        return None if s is None else next(it)

    return walk(structure)


class _Rule:
    """The user's rule for one call site: hashable by identity (it is an equation parameter)."""

    def __init__(self, owner: Any, n_args: int, residuals: Any = None) -> None:
        self.owner = owner
        self.n_args = n_args
        self.residuals = residuals  # the structure of fwd's residuals
        self._memo: dict[tuple[int, ...], tuple[Any, ...]] = {}

    def __repr__(self) -> str:
        return f"<rule of {getattr(self.owner, '__name__', 'custom')}>"

    def cotangents(self, g: Tracer, ins: Sequence[Tracer]) -> tuple[Any, ...]:
        """bwd(residuals, g), once per (g, inputs)."""
        key = (g.value.id, *(t.value.id for t in ins))
        if key not in self._memo:
            res = _rebuild(self.residuals, list(ins[self.n_args + 1 :]))
            try:
                with self.owner.inside:
                    out = _traceable(self.owner.bwd)(res, g)
            except Exception:
                if getattr(self.owner, "result_shape", None) is None:
                    raise
                from dcompile.callback import bwd_callback  # bwd is not traceable: run it as Python

                structure = self.residuals
                out = bwd_callback(
                    self.owner.bwd,
                    lambda leaves: _rebuild(structure, leaves),
                    list(ins[self.n_args + 1 :]),
                    g,
                    [t.type.shape for t in ins[: self.n_args]],
                    self.owner.__name__,
                )
            if not isinstance(out, (tuple, list)) or len(out) != self.n_args:
                raise TraceError(
                    f"the bwd rule of {self.owner.__name__} must return a tuple of {self.n_args} cotangents "
                    f"(one per argument, None for none), got {type(out).__name__}."
                )
            self._memo[key] = tuple(out)
        return self._memo[key]

    def transposed(self, g: Tracer, ins: Sequence[Tracer]) -> list[Any]:
        """The transpose of the user's (linear) jvp rule applied to ``g``: reverse mode of a custom JVP."""
        from dcompile.frontend.tracing import trace
        from dcompile.transforms import pull_back, replay

        key = (-1, g.value.id, *(t.value.id for t in ins))
        if key in self._memo:
            return list(self._memo[key])
        primals = list(ins[: self.n_args])
        types = [t.type for t in primals]
        jvp = self.owner.jvp

        def tangent_map(*xt: Any) -> Any:
            return jvp(tuple(xt[: self.n_args]), tuple(xt[self.n_args :]))[1]

        names = [f"x{i}" for i in range(self.n_args)] + [f"t{i}" for i in range(self.n_args)]
        with self.owner.inside:
            graph = trace(tangent_map, names, [*types, *types], "tangent", capture_names=False)
        b = g.builder
        zeros = [A.broadcast_to(lift(b, 0.0), t.shape) if t.rank else lift(b, 0.0) for t in types]
        env = replay(b, graph, dict(zip(graph.inputs, [*primals, *zeros], strict=True)))
        adj = pull_back(b, graph, env, {graph.outputs[0]: g})
        out = [adj.get(v) for v in graph.inputs[self.n_args :]]
        self._memo[key] = tuple(out)
        return out


def _passthrough_rule(*types: VType, rule: _Rule) -> VType:
    return types[rule.n_args]


def _passthrough_impl(*args: Any, rule: _Rule) -> Any:
    return np.asarray(args[rule.n_args])


def _emit_passthrough(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
    return args[params["rule"].n_args]


def _vjp_rule(k: int) -> Any:
    def rule(g: Tracer, ans: Tracer, *ins: Tracer, rule: _Rule) -> Any:
        if k >= rule.n_args:
            return None
        return rule.cotangents(g, ins)[k]

    return rule


def _vjp_jvp_rule(k: int) -> Any:
    # Forward mode through a custom VJP: the tangent of the inlined forward code.
    def rule(t: Tracer, ans: Tracer, *ins: Tracer, rule: _Rule) -> Any:
        return t if k == rule.n_args else None

    return rule


custom_vjp_p = register(Primitive("custom_vjp", _passthrough_rule, _passthrough_impl, _emit_passthrough))
custom_vjp_p.jvp = _vjp_jvp_rule
custom_vjp_p.vjp = _vjp_rule


def _jvp_rule(k: int) -> Any:
    def rule(t: Tracer, ans: Tracer, *ins: Tracer, rule: _Rule) -> Any:
        if k >= rule.n_args:
            return None  # the function's own code is not differentiated
        primals = tuple(ins[: rule.n_args])
        b = t.builder
        tangents = tuple(
            t if i == k else (A.broadcast_to(lift(b, 0.0), p.shape) if p.ndim else lift(b, 0.0))
            for i, p in enumerate(primals)
        )
        with rule.owner.inside:
            return _traceable(rule.owner.jvp)(primals, tangents)[1]

    return rule


def _jvp_vjp_rule(k: int) -> Any:
    def rule(g: Tracer, ans: Tracer, *ins: Tracer, rule: _Rule) -> Any:
        if k >= rule.n_args:
            return None
        return rule.transposed(g, ins)[k]

    return rule


custom_jvp_p = register(Primitive("custom_jvp", _passthrough_rule, _passthrough_impl, _emit_passthrough))
custom_jvp_p.jvp = _jvp_rule
custom_jvp_p.vjp = _jvp_vjp_rule


def _arguments(args: Sequence[Any], b: Builder) -> list[Tracer]:
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            raise SignatureError("custom derivatives take array or number arguments, not sequences.\nFix: pass arrays.")
        out.append(lift(b, a))
    return out


class _Reentry:
    """Inside its own rules (``fwd`` calls ``f(x)`` for the value, as in JAX) the function is its plain body."""

    def __init__(self) -> None:
        self.depth = 0

    def __enter__(self) -> None:
        self.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1


class custom_vjp:  # JAX's name (lower case), which users know
    """A function with a hand-written reverse-mode rule (see the module doc); ``defvjp(fwd, bwd)`` sets it.

    ``@dc.custom_vjp(result_shape=...)`` (the shape of the function's result, ``()`` for a scalar)
    lets code dcompile cannot trace run as Python callbacks (see :mod:`dcompile.callback`).
    """

    def __new__(cls, fun: Callable[..., Any] | None = None, *, result_shape: Any = None) -> Any:
        if fun is None:  # @dc.custom_vjp(result_shape=...)
            return functools.partial(cls, result_shape=result_shape)
        return super().__new__(cls)

    def __init__(self, fun: Callable[..., Any] | None = None, *, result_shape: Any = None) -> None:
        assert fun is not None
        functools.update_wrapper(self, fun)
        self.__name__: str = getattr(fun, "__name__", "custom_vjp")
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self.inside = _Reentry()
        self.result_shape = result_shape

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> custom_vjp:
        """``fwd(*args) -> (value, residuals)`` and ``bwd(residuals, g) -> tuple of cotangents`` (``None``: zero)."""
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args: Any) -> Any:
        b = _builder(args)
        if b is None:
            return self.fun(*args)
        if self.inside.depth:
            return _traceable(self.fun)(*args)
        if self.fwd is None or self.bwd is None:
            raise TraceError(f"{self.__name__} is a dc.custom_vjp without rules.\nFix: call .defvjp(fwd, bwd) first.")
        ins = _arguments(args, b)
        try:
            with self.inside:
                result = _traceable(self.fwd)(*ins)
        except Exception as exc:
            return self._as_callback(ins, exc)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TraceError(f"the fwd rule of {self.__name__} must return (value, residuals).")
        value, residuals = result
        out = lift(b, value)
        leaves = [lift(b, r) for r in _flat(residuals) if r is not None]
        rule = _Rule(self, len(ins), residuals)
        return bind(custom_vjp_p, *ins, out, *leaves, rule=rule)

    def _as_callback(self, ins: list[Tracer], exc: Exception) -> Any:
        """The function and its rules run as Python (declared ``result_shape``), or the tracing error with the fix."""
        if self.result_shape is None:
            if isinstance(exc, (TraceError, UnsupportedError)):
                raise type(exc)(
                    f"{exc}\nNote: to run {self.__name__} and its rules as Python instead (a callback), declare "
                    f"its result's shape: @dc.custom_vjp(result_shape=...)"
                ) from None
            raise exc
        from dcompile.callback import result_shape_of, vjp_callback

        shape = self.result_shape
        if callable(shape):
            shape = shape(*(t.type.shape for t in ins))
        assert self.fwd is not None and self.bwd is not None
        return vjp_callback(self.fun, self.fwd, self.bwd, result_shape_of(shape, self.__name__), ins, self.__name__)


class custom_jvp:  # JAX's name (lower case), which users know
    """A function with a hand-written forward-mode rule; reverse mode is its transpose (see the module doc)."""

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.__name__: str = getattr(fun, "__name__", "custom_jvp")
        self.fun = fun
        self.jvp: Callable[..., Any] | None = None
        self.inside = _Reentry()

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """``jvp(primals, tangents) -> (value, tangent)``, linear in the tangents; usable as a decorator."""
        self.jvp = jvp
        return jvp

    def __call__(self, *args: Any) -> Any:
        b = _builder(args)
        if b is None:
            return self.fun(*args)
        if self.inside.depth:
            return _traceable(self.fun)(*args)
        if self.jvp is None:
            raise TraceError(f"{self.__name__} is a dc.custom_jvp without a rule.\nFix: call .defjvp(jvp) first.")
        ins = _arguments(args, b)
        out = lift(b, _traceable(self.fun)(*ins))
        return bind(custom_jvp_p, *ins, out, rule=_Rule(self, len(ins)))
