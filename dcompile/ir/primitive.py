"""The primitive interface: what every operation of the IR provides.

A :class:`Primitive` bundles, side by side, everything the compiler needs to
know about one operation: its shape rule, a NumPy reference implementation
(constant folding and the reference interpreter), the code template the
emitter prints, algebraic simplifications, and its forward (JVP) and reverse
(VJP) derivative rules. Rules are written with the same tracer API that user
code is traced with, so a derivative is just more IR.

Primitives are registered by name in :data:`REGISTRY`; the AD transforms look
rules up on the primitive object and never mention a primitive by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dcompile.ir.types import VType

# Operator precedence used by the emitter to parenthesise inlined expressions
# (higher binds tighter), following Python's grammar.
PREC_ATOM = 100
PREC_POW = 16
PREC_UNARY = 14
PREC_MUL = 12
PREC_ADD = 11
PREC_CMP = 6
PREC_NOT = 5
PREC_AND = 4
PREC_OR = 3
PREC_TERNARY = 1

ShapeRule = Callable[..., VType]
# emit(args, params, input_types) -> (expression source, precedence); args are
# (source, precedence) pairs of the operands.
EmitRule = Callable[[Sequence[tuple[str, int]], dict[str, Any], Sequence[VType]], tuple[str, int]]
# emit_lines(target, args, params, input_types, out_type) -> statements assigning
# ``target``; for operations that are not one expression (scatters, loops).
LinesRule = Callable[[str, Sequence[str], dict[str, Any], Sequence[VType], VType], list[str]]


@dataclass(eq=False)
class Primitive:
    """One operation of the IR with all its rules.

    Attributes:
        name: the primitive's name in IR listings.
        type_rule: ``(*input_types, **params) -> VType``.
        impl: NumPy reference implementation ``(*arrays, **params) -> array``.
        emit: code template, see :data:`EmitRule`.
        jvp: one rule per input, ``(t, ans, *inputs, **params) -> tangent``,
            the contribution of that input's (nonzero) tangent ``t`` to the
            output's tangent; ``None`` for an input with no derivative.
        vjp: one rule per input, ``(g, ans, *inputs, **params) -> cotangent``,
            that input's share of the output cotangent ``g``; ``None`` for an
            input with no derivative. Zeros are never passed in (symbolic).
            A primitive with any number of inputs gives a function from the
            input position to its rule instead.
        simplify: ``(*inputs, **params) -> tracer | None``: an algebraic
            identity applied when the equation is built (``x * 1 -> x``).
        to_sympy: ``(*sympy_args, **params) -> sympy expression``.
        foldable: whether constant inputs may be folded with ``impl``.
        literal: true only for the constant primitive (``params = (("value", v),)``).
        emit_lines: statements computing the output, for operations that are
            not one expression; ``emit`` then only serves display comments.
        view: the emitted expression may be a view of its input (a slice, a
            transpose, a broadcast): copied before it is returned, made
            contiguous before a reshape.
        needs_contiguous: operands that are views are made contiguous first.
        inplace: the statement can update its first input in place when
            nothing else reads it; the emitter then gives both one name.
        elementwise: each output entry depends only on the matching (broadcast)
            input entries; the select-aware masking of derivative rules
            relies on it.
        imports: lines the generated module needs for this primitive's code
            (``from dcompile.runtime import special as _dcs``).
        vector: the name of the function in :mod:`dcompile.runtime.vecmath`
            that computes one entry inside a fused loop (``vm.exp(t)``):
            branch-free code LLVM inlines and vectorises, where NumPy's scalar
            function is an opaque libm call that keeps the loop scalar.
    """

    name: str
    type_rule: ShapeRule
    impl: Callable[..., Any]
    emit: EmitRule
    jvp: tuple[Callable[..., Any] | None, ...] | Callable[[int], Any] = ()
    vjp: tuple[Callable[..., Any] | None, ...] | Callable[[int], Any] = ()
    simplify: Callable[..., Any] | None = None
    to_sympy: Callable[..., Any] | None = None
    foldable: bool = True
    literal: bool = False  # the constant primitive: inlined as a literal, never a statement
    emit_lines: LinesRule | None = None
    view: bool = False
    needs_contiguous: bool = False
    elementwise: bool = False  # output entry i depends on input entries i only (broadcasting)
    inplace: bool = False  # emit_lines may update its first input in place (params["_inplace"])
    fusion: str | None = None  # how it joins a fused loop besides elementwise (see emit/fusion.py)
    imports: tuple[str, ...] = ()  # import lines the emitted code needs (runtime helpers)
    vector: str | None = None  # its vecmath function for entries of a fused loop (see emit/emitter.py)
    # jvp_joint(tangents, ans, ins, **params) -> tangent: one forward rule for all inputs at once
    # (``None`` for a zero tangent), for operations whose JVP is one computation (a loop).
    jvp_joint: Callable[..., Any] | None = None
    nested: bool = False  # emit_lines receives "_module" to add functions (a loop body) to the module
    # impl may run on object arrays of scalar tracers (transforms/scalarize.py); False for operations
    # whose implementation runs code of its own (a loop, a Python callback)
    entrywise: bool = True

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def add_identity(self, rule: Callable[..., Any]) -> None:
        """Try ``rule`` after the primitive's own identities (a family defined later adds its own:
        array code adds ``pad(g) + y -> pad_add(y, g)`` to ``add``)."""
        first = self.simplify

        def simplify(*args: Any, **params: Any) -> Any:
            out = first(*args, **params) if first is not None else None
            return out if out is not None else rule(*args, **params)

        self.simplify = simplify


def input_rules(rules: Any, n: int) -> tuple[Callable[..., Any] | None, ...] | None:
    """The ``n`` per-input rules of ``rules`` (a tuple, or a position -> rule function); ``None`` if missing."""
    if callable(rules):
        return tuple(rules(k) for k in range(n))
    return tuple(rules) if len(rules) == n else None


REGISTRY: dict[str, Primitive] = {}


def register(prim: Primitive) -> Primitive:
    """Add ``prim`` to the registry; names are unique."""
    if prim.name in REGISTRY:
        raise ValueError(f"primitive {prim.name!r} is already registered")
    REGISTRY[prim.name] = prim
    return prim
