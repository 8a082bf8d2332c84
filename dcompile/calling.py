"""How a call of a compiled function maps to the flat arguments of its generated code.

Users call compiled functions as they call Python: keywords, default values,
keyword-only parameters, parameters that are structures of arrays (a dict of
weights, a NamedTuple), and ``int``/``bool`` settings (a number of steps, a
flag). Generated code takes a flat list of numbers and arrays. A
:class:`Convention` (one per compiled Python function) binds a call to the
function's signature and makes a :class:`Plan`: per parameter, whether it is
one array or number (a leaf), a structure of them (its :class:`TreeDef`), or
a constant of the trace (a *static* value: a string, a callable, an ``int``
or ``bool`` the function uses as a Python value). The plan's leaves are the
flat arguments; the function is traced once per plan through
:meth:`Plan.rebuild`, which puts the structures and constants back together
around the tracers.

Defaults the caller leaves out are passed like any argument (so one program
serves every call) but are not differentiated unless ``wrt`` names them.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcompile.errors import SignatureError, TraceError
from dcompile.frontend.pytree import LEAF, TreeDef, Unravel, flatten, is_structure, leaf_paths, unflatten
from dcompile.ir.tracer import Tracer

_NUMBER = (int, float, np.integer, np.floating, bool, np.bool_)


@dataclass(frozen=True, eq=False)
class Static:
    """A constant of the trace: compared by value when hashable, else by identity (kept alive here)."""

    value: Any

    def _key(self) -> Any:
        try:
            hash(self.value)
        except TypeError:
            return ("id", id(self.value))
        return (type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Static) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        text = repr(self.value)
        return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Plan:
    """One way of calling the function: per parameter a TreeDef (LEAF for one value) or a Static."""

    names: tuple[str, ...]
    keyword_only: tuple[bool, ...]
    parts: tuple[TreeDef | Static, ...]
    defaulted: frozenset[str]

    @property
    def trivial(self) -> bool:
        """Every parameter is one array or number: the flat arguments are the parameters themselves."""
        return all(p is LEAF for p in self.parts)

    @property
    def leaf_owner(self) -> tuple[int, ...]:
        """The parameter each flat argument comes from."""
        out: list[int] = []
        for i, p in enumerate(self.parts):
            if isinstance(p, TreeDef):
                out += [i] * p.num_leaves
        return tuple(out)

    def leaf_names(self) -> tuple[str, ...]:
        """Names of the flat arguments (identifiers, unique): ``params_W1`` for ``params["W1"]``."""
        raw: list[str] = []
        for name, p in zip(self.names, self.parts, strict=True):
            if isinstance(p, TreeDef):
                raw += [name] if p is LEAF else leaf_paths(p, name)
        out: list[str] = []
        for r in raw:
            base = re.sub(r"\W+", "_", r).strip("_") or "arg"
            name = base
            k = 1
            while name in out:
                name, k = f"{base}_{k}", k + 1
            out.append(name)
        return tuple(out)

    def leaves_of(self, params: Sequence[int]) -> list[int]:
        """The flat positions of the leaves of the parameters ``params`` (in flat order)."""
        wanted = set(params)
        return [k for k, owner in enumerate(self.leaf_owner) if owner in wanted]

    def rebuild(self, leaves: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword arguments of the user's function from the flat arguments."""
        it = iter(leaves)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, kw, p in zip(self.names, self.keyword_only, self.parts, strict=True):
            if isinstance(p, Static):
                value = p.value
            elif p is LEAF:
                value = next(it)
            else:
                value = unflatten(p, [next(it) for _ in range(p.num_leaves)])
            if kw:
                kwargs[name] = value
            else:
                args.append(value)
        return args, kwargs

    def describe(self) -> str:
        parts = [
            f"{n}={p!r}" if isinstance(p, Static) else (n if p is LEAF else f"{n}: {p}")
            for n, p in zip(self.names, self.parts, strict=True)
        ]
        return ", ".join(parts)


def is_leaf_value(x: Any) -> bool:
    """A number, a numeric or boolean array, a tracer, or a flat list/tuple of numbers (one array)."""
    if isinstance(x, (Tracer, *_NUMBER)):
        return True
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype.kind in "biuf"
    if isinstance(x, (list, tuple)) and not hasattr(type(x), "_fields"):
        return len(x) > 0 and all(isinstance(v, _NUMBER) for v in x)  # [1.0, 2.0]: an array, as NumPy reads it
    return False


def holds_tracer(x: Any) -> bool:
    """Whether a traced value is anywhere in ``x`` (an argument, or a structure of them)."""
    if isinstance(x, Tracer):
        return True
    if is_structure(x):
        return any(isinstance(leaf, Tracer) for leaf in flatten(x)[0])
    return False


class Convention:
    """The calling convention of one traced Python function (see the module doc)."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.name = name
        try:
            self.signature = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise TraceError(f"cannot read the signature of {fn!r}: {exc}") from None
        for p in self.signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TraceError(
                    f"{name} takes {'*' if p.kind is p.VAR_POSITIONAL else '**'}{p.name}; dcompile needs a fixed "
                    "list of named arguments.\nFix: name each argument, or pass a tuple or dict as one argument."
                )
        self.params = list(self.signature.parameters.values())
        self.names = tuple(p.name for p in self.params)
        self.keyword_only = tuple(p.kind is p.KEYWORD_ONLY for p in self.params)
        self.static: set[str] = set()  # int/bool parameters learned to be used as Python values

    def __repr__(self) -> str:
        return f"{self.name}{self.signature}"

    def bind(self, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[list[Any], frozenset[str]]:
        """The value of every parameter (defaults filled in) and the names left to their default."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            positional = sum(not k for k in self.keyword_only)
            if "too many positional" in str(exc):
                raise SignatureError(
                    f"{self.name}{self.signature} takes {positional} argument{'s' * (positional != 1)}, "
                    f"got {len(args)}."
                ) from None
            raise SignatureError(f"{self.name}{self.signature}: {exc}.") from None
        values, defaulted = [], set()
        for p in self.params:
            if p.name in bound.arguments:
                values.append(bound.arguments[p.name])
            else:
                values.append(p.default)
                defaulted.add(p.name)
        return values, frozenset(defaulted)

    def plan(self, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[Plan, list[Any]]:
        """The plan of a call and its flat arguments."""
        values, defaulted = self.bind(args, kwargs)
        parts: list[TreeDef | Static] = []
        leaves: list[Any] = []
        for p, v in zip(self.params, values, strict=True):
            if isinstance(v, np.ndarray) and v.dtype.kind not in "biuf":
                raise SignatureError(
                    f"argument {p.name!r} of {self.name} is an array of {v.dtype}; it must be a number or a NumPy "
                    "array of floats (or of ints/bools, as data).\nFix: pass np.asarray(value, dtype=float)."
                )
            if p.name in self.static and isinstance(v, _NUMBER):
                parts.append(Static(v.item() if isinstance(v, np.generic) else v))
            elif is_leaf_value(v):
                parts.append(LEAF)
                leaves.append(v)
            elif is_structure(v):
                sub, tree = flatten(v, is_leaf=is_leaf_value)
                if all(is_leaf_value(x) for x in sub):
                    parts.append(tree)
                    leaves += sub
                else:
                    parts.append(Static(v))  # holds strings, callables, ...: a constant of the trace
            else:
                parts.append(Static(v))
        return Plan(self.names, self.keyword_only, tuple(parts), defaulted), leaves

    def learn_static(self, plan: Plan, position: int | None, leaves: Sequence[Any]) -> bool:
        """After a :class:`~dcompile.errors.StaticUse` at flat ``position``: make that parameter a
        constant if the caller passed an ``int`` or ``bool`` there. False: it stays an error."""
        if position is None or not 0 <= position < len(leaves):
            return False
        owner = plan.leaf_owner[position]
        if plan.parts[owner] is not LEAF:
            return False
        value = leaves[position]
        if not isinstance(value, (int, bool, np.integer, np.bool_)):
            return False
        self.static.add(plan.names[owner])
        return True


def explain_static(plan: Plan, exc: Exception, fname: str) -> Exception:
    """A tracing error caused by a non-numeric argument (a constant of the trace) meeting traced values,
    said in terms of that argument; ``exc`` itself otherwise."""
    text = str(exc)
    for name, p in zip(plan.names, plan.parts, strict=True):
        if isinstance(p, Static) and not isinstance(p.value, _NUMBER):
            kind = type(p.value).__name__
        elif isinstance(p, TreeDef) and p is not LEAF:
            kind = {"none": "NoneType"}.get(p.kind, p.node.__name__ if p.node is not None else p.kind)
        else:
            continue
        if f"a value of type {kind} met a traced value" in text:
            return SignatureError(
                f"argument {name!r} of {fname} is a {kind}; where it meets traced values it must be a number "
                "or a NumPy array of floats (or of ints/bools, as data). Strings, callables and other objects "
                "are constants of the trace, fine as settings.\nFix: pass a float or np.asarray(value, dtype=float)."
            )
    return exc


def resolve_names(names: Sequence[str], wrt: Any, fname: str) -> tuple[int, ...]:
    """Positions in ``names`` of the ``wrt`` entries (names or indices, one or a sequence), checked."""
    items = [wrt] if isinstance(wrt, (int, str, np.integer)) else list(wrt)
    out: list[int] = []
    for w in items:
        if isinstance(w, str):
            if w not in names:
                raise SignatureError(
                    f"wrt={w!r} is not an argument of {fname}; its arguments are {', '.join(names)}.\n"
                    "Fix: pass one of those names or its index."
                )
            i = list(names).index(w)
        elif isinstance(w, (int, np.integer)) and not isinstance(w, bool):
            if not -len(names) <= int(w) < len(names):
                raise SignatureError(f"wrt={w} is out of range: {fname} has {len(names)} arguments.")
            i = int(w) % len(names)
        else:
            raise SignatureError(f"wrt entries are argument names or indices, not {w!r}")
        if i in out:
            raise SignatureError(f"wrt names argument {names[i]!r} twice")
        out.append(i)
    if not out:
        raise SignatureError("wrt is empty; name at least one argument")
    return tuple(out)


def wrt_params(plan: Plan, wrt: Any, fname: str) -> tuple[int, ...] | None:
    """Parameter positions named by ``wrt`` (names or indices); None for ``wrt=None``."""
    if wrt is None:
        return None
    out = resolve_names(plan.names, wrt, fname)
    for i in out:
        if isinstance(plan.parts[i], Static):
            raise SignatureError(
                f"argument {plan.names[i]!r} of {fname} is a constant of the trace ({plan.parts[i]!r}: used as a "
                "Python value, or not numbers), so it has no derivative.\nFix: leave it out of wrt."
            )
    return out


def per_leaf(out: Any, n: int) -> list[Any]:
    """A flat derivative result (one value, a tuple per leaf, or a 1-D vector of scalar leaves) per leaf."""
    if n == 1:
        return [out]
    if isinstance(out, tuple):
        return list(out)
    if isinstance(out, Tracer):
        vector: Any = out
        return [vector[i] for i in range(n)]
    return list(np.asarray(out))


def restructure(plan: Plan, params: Sequence[int], leaf_values: list[Any], scalar: Sequence[bool] = ()) -> Any:
    """Per-leaf results of the ``params``' leaves, rebuilt as those parameters' structures.

    One parameter gives its structure (its array for a leaf); several give a tuple.
    ``scalar`` marks scalar leaves: inside a structure their result is a number
    (a flat result gives a one-entry vector for a lone scalar argument).
    """
    it = iter(zip(leaf_values, list(scalar) or [False] * len(leaf_values), strict=True))

    def nxt() -> Any:
        value, is_scalar = next(it)
        if is_scalar and value is not None and np.ndim(value) == 1 and np.shape(value)[0] == 1:
            return value[0]
        return value

    out = []
    for i in params:
        p = plan.parts[i]
        assert isinstance(p, TreeDef)
        out.append(next(it)[0] if p is LEAF else unflatten(p, [nxt() for _ in range(p.num_leaves)]))
    return out[0] if len(out) == 1 else tuple(out)


def flatten_like(plan: Plan, params: Sequence[int], values: Any, what: str) -> list[Any]:
    """Directions (tangents, ``v``) given per parameter in the parameters' structures, as flat leaves."""
    items = [values] if len(params) == 1 else list(values)
    if len(items) != len(params):
        raise SignatureError(f"{what} needs {len(params)} entries, one per differentiated argument")
    out: list[Any] = []
    for i, item in zip(params, items, strict=True):
        p = plan.parts[i]
        assert isinstance(p, TreeDef)
        if p is LEAF:
            out.append(item)
            continue
        sub, tree = flatten(item, is_leaf=is_leaf_value)
        if tree != p:
            raise SignatureError(f"{what} for {plan.names[i]!r} must have its structure {p}, got {tree}")
        out += sub
    return out


def raveled_function(fun: Callable[..., Any], unravel: Unravel, n_data: int) -> Callable[..., Any]:
    """``theta, *data -> fun(unravel(theta), *data)``, with ``1 + n_data`` named parameters.

    What optimizers compile when the parameters are a structure: they work on
    one vector, and ``unravel`` (see :func:`dcompile.ravel`) rebuilds the
    structure from it inside the traced function.
    """

    def raveled(theta: Any, *data: Any) -> Any:
        return fun(unravel(theta), *data)

    params = [inspect.Parameter("theta", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(f"data{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(n_data)]
    raveled.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    raveled.__name__ = f"{getattr(fun, '__name__', 'f')}_raveled"
    return raveled


def splatted_function(fun: Callable[..., Any], n: int, n_data: int) -> Callable[..., Any]:
    """``theta, *data -> fun(theta[0], ..., theta[n - 1], *data)``: a function of ``n`` scalars as one of a vector.

    What ``dc.minimize(f, x0)`` runs for ``f(a, b, c)`` (the worked example's
    form): optimizers vary one vector.
    """

    def splatted(theta: Any, *data: Any) -> Any:
        return fun(*(theta[k] for k in range(n)), *data)

    params = [inspect.Parameter("theta", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(f"data{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(n_data)]
    splatted.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    splatted.__name__ = f"{getattr(fun, '__name__', getattr(fun, 'name', 'f'))}_of_vector"
    return splatted
