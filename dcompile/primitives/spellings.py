"""Where each traceable function is spelled: one table from the user's names to dcompile's rules.

A user writes ``np.sin(x)``, ``math.sin(x)``, ``scipy.special.gammaln(x)``,
``np.linalg.solve(A, b)`` or ``scipy.linalg.cho_solve((c, low), b)``; each
spelling is one row of this table: the dotted name, the object the user
calls, and the function on tracers that implements it. Tracing reaches the
table three ways, all through :func:`lookup`:

* NumPy's protocols: a ufunc applied to a tracer calls
  ``Tracer.__array_ufunc__``, a dispatched NumPy function
  ``Tracer.__array_function__`` (``np.linalg.*`` included);
* the traced function's namespace (:mod:`dcompile.frontend.namespace`):
  ``math``, ``scipy.special``, ``scipy.linalg`` and ``numpy`` itself are seen
  through stand-ins whose attributes come from this table (SciPy's Python
  functions and ``np.zeros``, ``np.array`` are not dispatched by NumPy);
* error messages and :func:`supported`, which list the table by module.

A declaration (:func:`implements`) names every spelling of one function
once; nothing else is edited to add one. Spellings in a module that is not
imported yet (SciPy) are resolved to objects the first time the module is
found in ``sys.modules``, so ``import dcompile`` imports no SciPy.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# What a spelling's derivative is, for supported() and the coverage table.
SMOOTH = "differentiable"
ZERO = "zero derivative"  # floor, round, mod in its second argument: piecewise constant
VALUES = "values only"  # predicates, argmax, counts: no derivative (integer or boolean results)
CONSTRUCTOR = "constructor"  # np.zeros, np.eye: no inputs to differentiate


@dataclass(frozen=True)
class Spelling:
    """One name a user calls, and the function on tracers behind it."""

    dotted: str  # "numpy.linalg.solve"
    rule: Callable[..., Any]
    derivative: str = SMOOTH
    note: str = ""

    @property
    def module(self) -> str:
        """The module a user imports (``scipy.stats`` for ``scipy.stats.t.logpdf``; ``numpy.ndarray`` for methods)."""
        if self.dotted.startswith("numpy.ndarray."):
            return "numpy.ndarray"
        return _module_of(self.dotted)

    @property
    def name(self) -> str:
        """The name within :attr:`module` (``t.logpdf``, ``sum``)."""
        return self.dotted[len(self.module) + 1 :]


BY_NAME: dict[str, Spelling] = {}
_BY_OBJECT: dict[int, tuple[Any, Spelling]] = {}  # id(original) -> (original kept alive, spelling)
_PENDING: dict[str, list[Spelling]] = {}  # module name -> spellings not resolved to objects yet


def implements(*dotted: str, derivative: str = SMOOTH, note: str = "") -> Callable[[F], F]:
    """Declare ``fn`` as the traced implementation of each dotted name (decorator).

    ``@implements("numpy.cumsum", "numpy.ndarray.cumsum")`` registers both
    spellings; the names need not exist in every NumPy/SciPy version (a
    missing one is skipped when resolved).
    """

    def register(fn: F) -> F:
        for name in dotted:
            add(name, fn, derivative=derivative, note=note)
        return fn

    return register


def add(dotted: str, rule: Callable[..., Any], *, derivative: str = SMOOTH, note: str = "") -> Spelling:
    """Register one spelling (see :func:`implements`)."""
    s = Spelling(dotted, rule, derivative, note)
    BY_NAME[dotted] = s
    module = _module_of(dotted)
    if module in sys.modules:
        _resolve(s, module)
    else:
        _PENDING.setdefault(module, []).append(s)
    return s


def _module_of(dotted: str) -> str:
    """The importable module of a dotted name (``numpy.ndarray.sum`` -> ``numpy``)."""
    parts = dotted.split(".")
    for k in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in sys.modules or candidate in _KNOWN_MODULES:
            return candidate
    return parts[0]


_KNOWN_MODULES = frozenset(
    {"math", "numpy", "numpy.linalg", "scipy", "scipy.special", "scipy.linalg", "scipy.stats", "sympy", "dcompile"}
)


def _resolve(s: Spelling, module: str) -> None:
    obj: Any = sys.modules[module]
    for part in s.dotted[len(module) + 1 :].split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return  # not in this version
    _BY_OBJECT[id(obj)] = (obj, s)


def _resolve_pending() -> None:
    for module in [m for m in _PENDING if m in sys.modules]:
        for s in _PENDING.pop(module):
            _resolve(s, module)


def lookup(obj: Any) -> Spelling | None:
    """The spelling of the NumPy/SciPy/math object ``obj``, or None."""
    hit = _BY_OBJECT.get(id(obj))
    if hit is None and _PENDING:
        _resolve_pending()
        hit = _BY_OBJECT.get(id(obj))
    return hit[1] if hit is not None and hit[0] is obj else None


def for_module(module: str) -> dict[str, Spelling]:
    """The spellings of one module by attribute name (``"scipy.special"`` -> ``{"gammaln": ...}``)."""
    return {s.name: s for s in BY_NAME.values() if s.module == module}


def dotted_name(obj: Any) -> str:
    """The full name a user wrote for ``obj`` (``numpy.linalg.inv``, ``scipy.special.gammaln``)."""
    for module_name in ("numpy", "numpy.linalg", "numpy.fft", "numpy.random", "scipy.special", "scipy.linalg", "math"):
        module = sys.modules.get(module_name)
        name = getattr(obj, "__name__", None)
        if module is not None and name is not None and getattr(module, name, None) is obj:
            return f"{module_name}.{name}"
    module_name = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    if module_name.startswith("numpy.") and hasattr(sys.modules.get("numpy"), name):
        module_name = "numpy"
    return f"{module_name}.{name}" if module_name else str(name)


def alternative(dotted: str) -> str | None:
    """A supported spelling with the same last name in another module, if any (``scipy.special.logsumexp``)."""
    name = dotted.rpartition(".")[2]
    for s in BY_NAME.values():
        if (
            s.dotted.rpartition(".")[2] == name
            and s.dotted != dotted
            and not s.dotted.startswith(("sympy.", "numpy.ndarray."))
        ):
            return s.dotted
    return None


def check_call(s: Spelling, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Raise dcompile's own error for arguments the rule does not accept (never a bare TypeError)."""
    from dcompile.errors import UnsupportedError, trace_error

    try:
        signature = _signature(s.rule)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        accepted = [p for p in signature.parameters if not p.startswith("_")]
        raise trace_error(
            f"{s.dotted} was called with arguments dcompile does not accept on traced values ({exc}).",
            f"call it as {s.name}({', '.join(accepted)}); other options of NumPy/SciPy are not supported",
            UnsupportedError,
        ) from None


_SIGNATURES: dict[int, inspect.Signature] = {}


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    sig = _SIGNATURES.get(id(fn))
    if sig is None:
        sig = _SIGNATURES[id(fn)] = inspect.signature(fn)
    return sig


def modules() -> list[str]:
    """The modules that have spellings, in a stable order."""
    order = ["operators", "numpy", "numpy.ndarray", "numpy.linalg", "math", "scipy.special", "scipy.linalg"]
    found = {s.module for s in BY_NAME.values()}
    return [m for m in order if m in found] + sorted(found - set(order))
