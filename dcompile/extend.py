"""The extension API: declare a new primitive, of any shape, with its derivative rules.

Three layers, as in autograd and JAX: ``dcompile`` for users, this module for
extenders, everything else internal. A primitive declared here works
everywhere a built-in one does: tracing, forward and reverse mode (and so
Hessians), the emitter, both backends, SymPy raising when given a SymPy form.

An elementwise primitive (the default) takes scalars in its numba
implementation; numba calls it per entry inside fused loops and through a
``numba.vectorize`` ufunc on whole arrays::

    import math
    import numpy as np
    import scipy.special as sc
    from dcompile import extend as ext

    lgamma = ext.primitive(
        "lgamma",
        impl=sc.gammaln,                # NumPy/SciPy: the Python backend, constant folding
        numba_impl=math.lgamma,         # numba: math.*, an @njit function, a cython_special function
        partials=[lambda t, ans, x: t * sc.digamma(x)],   # d out / d x, both modes
    )

A primitive of another shape gives ``shape`` (the output shape from the input
shapes) and its rules work on whole arrays; its numba implementation takes
and returns arrays::

    @numba.njit
    def logdet_chol(a):
        return 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(a))))

    logdet = ext.primitive(
        "logdet", impl=lambda a: np.linalg.slogdet(a)[1], numba_impl=logdet_chol,
        shape=lambda a: (),
        vjp=[lambda g, ans, a: g * np.linalg.inv(a).T],
    )

Rules receive tracers, so they are written with operators, ``np.*`` and
``scipy.*`` functions and the functions in :mod:`dcompile`: one per input,
``None`` for an input with no derivative. A JVP rule ``(t, ans, *inputs)``
returns the output tangent contributed by input tangent ``t``; a VJP rule
``(g, ans, *inputs)`` returns the input's share of the output cotangent ``g``
(the input's shape; broadcasting is summed away for elementwise primitives).
Give both, or ``partials`` for an elementwise primitive (its Jacobian is
diagonal, so one rule serves both modes). A primitive with only VJP rules is
refused in forward mode (and so in Hessians) with a message that says so.

Limits: the output is one float64 array or scalar; parameters are operands
(make one primitive per static setting, e.g. per axis); the NumPy
implementation must accept what the numba one does.
"""

from __future__ import annotations

import keyword
import operator
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from dcompile.errors import ExtensionError
from dcompile.frontend.fingerprint import fingerprint
from dcompile.frontend.namespace import with_traceable_globals
from dcompile.ir.primitive import PREC_ATOM, REGISTRY, Primitive, register
from dcompile.ir.tracer import bind
from dcompile.ir.types import DType, VType, broadcast_shapes
from dcompile.primitives.elementwise import float_rule
from dcompile.runtime import extensions

Rule = Callable[..., Any] | None
Shape = tuple[int, ...]
_DECLARED: set[str] = set()  # names of the primitives declared here (which a later declaration may replace)


class UserPrimitive:
    """A callable user-level function bound to its :class:`Primitive`."""

    def __init__(self, prim: Primitive, identity: Sequence[Any] = ()) -> None:
        self.prim = prim
        self.__name__ = prim.name
        self._identity = tuple(identity)

    def __call__(self, *args: Any) -> Any:
        return bind(self.prim, *args)

    def __repr__(self) -> str:
        return f"<dcompile primitive {self.prim.name}>"

    def _dcompile_fingerprint(self) -> str | None:
        """What code using this primitive depends on: its implementations and rules (None: unknown)."""
        rules = [getattr(r, "__wrapped__", r) for r in (*_tuple(self.prim.jvp), *_tuple(self.prim.vjp))]
        return fingerprint((*self._identity, *rules))


def _tuple(rules: Any) -> tuple[Any, ...]:
    return tuple(rules) if isinstance(rules, tuple) else (rules,)


def primitive(
    name: str,
    *,
    impl: Callable[..., Any],
    code: str | None = None,
    numba_impl: Any = None,
    shape: Callable[..., Shape] | Shape | None = None,
    partials: Sequence[Rule] | None = None,
    jvp: Sequence[Rule] | None = None,
    vjp: Sequence[Rule] | None = None,
    to_sympy: Callable[..., Any] | None = None,
    imports: Sequence[str] = (),
    type_rule: Callable[..., VType] | None = None,
) -> UserPrimitive:
    """Register a primitive and return the function that applies it (see the module doc).

    Args:
        name: unique primitive name, a Python identifier (IR listings, generated code).
        impl: NumPy/SciPy implementation: the Python backend, constant folding,
            and numba's when neither ``numba_impl`` nor ``code`` is given.
        code: for an elementwise primitive, the emitted expression instead of a
            call, with ``{0}``, ``{1}``, ... for the operands; it may use ``np.*``
            and ``math.*`` (imported for it) and modules named in ``imports``.
        numba_impl: what numba runs: an ``@numba.njit`` function, a Python
            function numba compiles, a ``math`` function, or a function of
            ``scipy.special.cython_special`` (called through its C symbol).
        shape: the output shape: a function of the input shapes, or a fixed
            tuple. Omitted: elementwise (NumPy broadcasting of the inputs).
        partials: elementwise only: per input, ``(t, ans, *inputs) -> t * d out/d input``,
            the rule of both modes.
        jvp: per input, ``(t, ans, *inputs) -> output tangent``.
        vjp: per input, ``(g, ans, *inputs) -> input cotangent``.
        to_sympy: the SymPy form, for ``to_sympy`` and checks.
        imports: import lines the ``code`` template needs (``"import scipy.special"``
            does not help under numba: use ``numba_impl``).
        type_rule: the full result type from the input types (advanced; overrides ``shape``).
    """
    _check_name(name)
    if name in REGISTRY and name not in _DECLARED:
        raise ExtensionError(f"primitive name {name!r} is taken by one of dcompile's own primitives; choose another")
    REGISTRY.pop(name, None)  # declared again (a notebook cell run twice): the new declaration wins
    _DECLARED.add(name)
    elementwise = shape is None and type_rule is None
    if code is not None and not elementwise:
        raise ExtensionError(f"primitive {name!r}: a code template is for elementwise primitives; give numba_impl")
    if code is not None and numba_impl is not None:
        raise ExtensionError(f"primitive {name!r}: give code or numba_impl, not both")
    if partials is not None and (not elementwise or jvp is not None or vjp is not None):
        raise ExtensionError(f"primitive {name!r}: partials are for elementwise primitives, instead of jvp and vjp")
    rule = type_rule or (float_rule if shape is None else _shape_rule(name, shape))
    reference = impl
    if code is not None:
        emit, lines = _template(name, code, imports), _template_imports(code, imports)
    else:
        attr = extensions.register(name, impl, impl if numba_impl is None else numba_impl, elementwise=elementwise)
        reference = getattr(extensions, attr)
        token = fingerprint((name, impl, numba_impl)) or uuid.uuid4().hex
        emit = _call(f"_dcx.{attr}")
        lines = (f"from dcompile.runtime import extensions as _dcx  # {name}: implementation {token[:16]}",)
    prim = register(
        Primitive(
            name,
            rule,
            reference,
            emit,
            to_sympy=to_sympy,
            elementwise=elementwise,
            imports=lines,
        )
    )
    out = UserPrimitive(prim, (name, impl, numba_impl, code, shape, tuple(imports)))
    if partials is not None:
        prim.jvp = prim.vjp = _rules(partials)
    if jvp is not None:
        defjvp(out, *jvp)
    if vjp is not None:
        defvjp(out, *vjp)
    return out


def _check_name(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ExtensionError(f"primitive name {name!r} must be a Python identifier (it names generated code)")


def _shape_rule(name: str, shape: Callable[..., Shape] | Shape) -> Callable[..., VType]:
    """The type rule from the user's shape rule: float64 of the shape it gives."""

    def rule(*types: VType, **params: Any) -> VType:
        out = shape(*(t.shape for t in types)) if callable(shape) else shape
        try:
            dims = tuple(operator.index(n) for n in out)
        except TypeError:
            raise ExtensionError(
                f"the shape rule of primitive {name!r} returned {out!r}; it must return a tuple of ints"
            ) from None
        return VType(dims, DType.F64)

    return rule


def _call(fn: str) -> Callable[..., tuple[str, int]]:
    def emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
        return f"{fn}({', '.join(a for a, _ in args)})", PREC_ATOM

    return emit


def _template(name: str, code: str, imports: Sequence[str]) -> Callable[..., tuple[str, int]]:
    if re.search(r"\bscipy\.", code) and not any("scipy" in line for line in imports):
        raise ExtensionError(
            f"primitive {name!r}: code {code!r} names scipy, which numba cannot call; pass "
            "numba_impl=scipy.special.cython_special.<function> (or an @njit function) instead of code"
        )

    def emit(args: Sequence[tuple[str, int]], params: dict[str, Any], types: Any) -> tuple[str, int]:
        return f"({code.format(*(a for a, _ in args))})", PREC_ATOM

    return emit


def _template_imports(code: str, imports: Sequence[str]) -> tuple[str, ...]:
    needed = ["import math"] if re.search(r"\bmath\.", code) else []
    return tuple(dict.fromkeys([*needed, *imports]))


def _prim(p: UserPrimitive | Primitive) -> Primitive:
    return p.prim if isinstance(p, UserPrimitive) else p


def _traceable(rule: Rule) -> Rule:
    """``rule`` run as traced code is: its ``np``, ``scipy.stats.norm``... see tracing's stand-ins.

    The copy is made at each application, so names the rule's module defines later are seen.
    """
    if rule is None:
        return None

    def traced(*args: Any, **params: Any) -> Any:
        return with_traceable_globals(rule)(*args, **params)

    traced.__wrapped__ = rule  # type: ignore[attr-defined]  # the fingerprint hashes the user's rule
    return traced


def _rules(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    return tuple(_traceable(r) for r in rules)


def defjvp(p: UserPrimitive | Primitive, *rules: Rule) -> None:
    """Forward rules, one per input: ``(t, ans, *inputs) -> tangent contribution``."""
    _prim(p).jvp = _rules(rules)


def defvjp(p: UserPrimitive | Primitive, *rules: Rule) -> None:
    """Reverse rules, one per input: ``(g, ans, *inputs) -> cotangent share``."""
    _prim(p).vjp = _rules(rules)


__all__ = [
    "ExtensionError",
    "Primitive",
    "UserPrimitive",
    "bind",
    "broadcast_shapes",
    "defjvp",
    "defvjp",
    "primitive",
]
