"""The namespace a traced function runs in: ``math``, ``numpy`` and SciPy that accept tracers.

NumPy's ufuncs and most of its functions reach dcompile through NumPy's own
dispatch protocols, but some of what objectives call does not:
``math.sin(x)`` converts to ``float``, ``scipy.special.logsumexp`` and
``scipy.linalg.cho_solve`` are Python functions that call ``np.asarray``,
``np.zeros(n)`` has no traced argument at all (yet ``y = np.zeros(n);
y[0] = x[0]**2`` must give a traced array), and ``np.array([a, b])`` of
tracers is not dispatched. So the traced function runs as a *copy* whose
globals see stand-ins:

* the modules ``math``, ``numpy`` (``np``), ``numpy.linalg``, ``scipy``,
  ``scipy.special``, ``scipy.linalg`` and ``scipy.stats`` (however they were
  imported) are replaced by :class:`TracingModule` objects: an attribute with
  a spelling in :mod:`dcompile.primitives.spellings` is a function that sends
  tracers to dcompile's implementation and everything else to the original,
  every other attribute is the original's;
* names imported from them (``from scipy.special import gammaln``,
  ``from numpy import zeros``) are replaced the same way;
* the user's own helper functions that it calls through its globals or its
  closure are copied the same way (recursively), so a helper module that
  does ``np.zeros`` or ``math.exp`` works too.

Nothing global is patched: other threads, numba compiling while a trace runs,
and nested traces see the real modules. Methods of user classes are not
copied; inside them, NumPy's dispatch still covers ufuncs and NumPy functions
of traced arrays.
"""

from __future__ import annotations

import functools
import math
import os
import sysconfig
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from dcompile.ir.tracer import Tracer, active_builder
from dcompile.primitives import spellings
from dcompile.primitives.spellings import CONSTRUCTOR

# Module names whose stand-ins a traced function sees.
PROXIED = ("math", "numpy", "numpy.linalg", "scipy", "scipy.special", "scipy.linalg", "scipy.stats")
# Packages whose functions are library code: never copied.
_LIBRARIES = frozenset(
    {"numpy", "scipy", "sympy", "numba", "llvmlite", "dcompile", "math", "builtins", "functools", "operator",
     "jax", "torch", "sklearn", "pandas", "dask", "typing", "collections", "itertools"}
)  # fmt: skip
_LIBRARY_DIRS = tuple(
    os.path.normcase(os.path.abspath(p)) + os.sep
    for p in {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)


def _holds_tracer(items: Any, depth: int = 0) -> bool:
    if isinstance(items, Tracer):
        return True
    if depth < 3 and isinstance(items, (list, tuple)):
        return any(_holds_tracer(x, depth + 1) for x in items)
    if depth < 3 and isinstance(items, dict):
        return any(_holds_tracer(x, depth + 1) for x in items.values())
    return False


def traced_call(original: Callable[..., Any], s: spellings.Spelling) -> Callable[..., Any]:
    """A stand-in for ``original``: dcompile's rule on tracers (and for constructors while tracing)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        if _holds_tracer(args) or _holds_tracer(kwargs) or (s.derivative == CONSTRUCTOR and active_builder()):
            spellings.check_call(s, args, kwargs)
            return s.rule(*args, **kwargs)
        return original(*args, **kwargs)

    call.__name__ = getattr(original, "__name__", s.name)
    call.__doc__ = getattr(original, "__doc__", None)
    call.__wrapped__ = original  # type: ignore[attr-defined]
    return call


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, np.ufunc)


def refused_call(original: Callable[..., Any], dotted: str) -> Callable[..., Any]:
    """A stand-in for a function dcompile has no rule for: dcompile's error on tracers, else the original."""

    def call(*args: Any, **kwargs: Any) -> Any:
        if _holds_tracer(args) or _holds_tracer(kwargs):
            from dcompile.primitives.operators import unsupported

            raise unsupported(dotted)
        return original(*args, **kwargs)

    call.__name__ = getattr(original, "__name__", dotted)
    call.__wrapped__ = original  # type: ignore[attr-defined]
    return call


class TracingModule(types.ModuleType):
    """A module whose functions accept tracers (see the module doc); other attributes are the original's."""

    def __init__(self, original: types.ModuleType) -> None:
        super().__init__(original.__name__, original.__doc__)
        self.__dict__["_original"] = original
        self.__dict__["_table"] = spellings.for_module(original.__name__)

    def __getattr__(self, name: str) -> Any:
        original = self.__dict__["_original"]
        value = getattr(original, name)
        s = self.__dict__["_table"].get(name) or (spellings.lookup(value) if callable(value) else None)
        if s is not None and callable(value):
            value = traced_call(value, s)
        elif isinstance(value, _FUNCTION_TYPES) and not name.startswith("_"):
            value = refused_call(value, f"{original.__name__}.{name}")
        elif isinstance(value, types.ModuleType):
            value = proxy(value) if value.__name__ in PROXIED else value
        elif _has_members(self.__dict__["_table"], name):
            value = TracingObject(value, f"{original.__name__}.{name}")
        elif name in ("r_", "c_") and original.__name__ == "numpy":
            value = _CONCATENATORS[name]
        self.__dict__[name] = value
        return value

    def __dir__(self) -> list[str]:
        return dir(self.__dict__["_original"])


def _has_members(table: dict[str, spellings.Spelling], name: str) -> bool:
    prefix = name + "."
    return any(key.startswith(prefix) for key in table)


class TracingObject:
    """A stand-in for an object with traced methods (``scipy.stats.norm``): its spelled methods accept tracers.

    Calling it with tracers (``scipy.stats.t(df, loc=mu)``) gives a frozen
    stand-in whose methods pass those arguments on, as SciPy's frozen
    distributions do.
    """

    def __init__(
        self, original: Any, dotted: str, frozen: tuple[tuple[Any, ...], dict[str, Any]] | None = None
    ) -> None:
        self._original = original
        self._dotted = dotted
        self._frozen = frozen

    def __getattr__(self, name: str) -> Any:
        s = spellings.BY_NAME.get(f"{self._dotted}.{name}")
        value = getattr(self._original, name)
        if s is None:
            return value
        call = traced_call(value, s)
        if self._frozen is None:
            return call
        args, kwargs = self._frozen

        def frozen_call(x: Any, *more: Any, **kw: Any) -> Any:
            return call(x, *args, *more, **kwargs, **kw)

        return frozen_call

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _holds_tracer(args) or _holds_tracer(kwargs):
            return TracingObject(self._original, self._dotted, (args, kwargs))
        frozen = self._original(*args, **kwargs)
        return TracingObject(frozen, self._dotted, (args, kwargs))

    def __repr__(self) -> str:
        return f"<traceable {self._dotted}>"


_PROXIES: dict[str, TracingModule] = {}


def proxy(module: types.ModuleType) -> TracingModule:
    """The (cached) stand-in of a proxied module."""
    found = _PROXIES.get(module.__name__)
    if found is None or found.__dict__["_original"] is not module:
        found = _PROXIES[module.__name__] = TracingModule(module)
    return found


class _Concatenator:
    """``np.r_[a, b]`` and ``np.c_[a, b]`` of tracers (slices ``a:b:c`` become ``np.arange``/``linspace``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, key: Any) -> Any:
        import numpy as np

        from dcompile.primitives import numpy_api as N

        items = key if isinstance(key, tuple) else (key,)
        if not _holds_tracer(items):
            return getattr(np, self.name)[key]
        parts = []
        for item in items:
            if isinstance(item, slice):
                step = item.step if item.step is not None else 1
                if isinstance(step, complex):
                    parts.append(N.linspace(item.start or 0, item.stop, int(abs(step))))
                else:
                    parts.append(N.arange(item.start or 0, item.stop, step))
            else:
                parts.append(item)
        if self.name == "c_":
            return N.column_stack(parts)
        return N.concatenate([N.atleast_1d(p) for p in parts])


_CONCATENATORS = {"r_": _Concatenator("r_"), "c_": _Concatenator("c_")}


def _distribution_name(v: Any) -> str | None:
    """``scipy.stats.norm`` for SciPy's ``norm`` object imported by name (``from scipy.stats import norm``)."""
    module = type(v).__module__ or ""
    if not module.startswith("scipy.stats"):
        return None
    name = getattr(v, "name", None) or type(v).__name__.removesuffix("_gen").removesuffix("_frozen")
    dotted = f"scipy.stats.{name}"
    return dotted if any(k.startswith(dotted + ".") for k in spellings.BY_NAME) else None


def _is_user_function(fn: Any) -> bool:
    if not isinstance(fn, types.FunctionType):
        return False
    top = (fn.__module__ or "").split(".", 1)[0]
    if top in _LIBRARIES:
        return False
    filename = os.path.normcase(os.path.abspath(fn.__code__.co_filename))
    return not filename.startswith(_LIBRARY_DIRS)


class _Copier:
    """Copies of user functions that see the stand-ins, memoised for one trace (cycles allowed)."""

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}
        self.keep: list[Any] = []

    def value(self, v: Any) -> Any:
        """What a global or closure value becomes in a copied function (``v`` itself if nothing)."""
        if isinstance(v, TracingModule):  # a function defined inside a traced one sees the stand-ins already
            return v
        if isinstance(v, types.ModuleType):
            return proxy(v) if v.__name__ in PROXIED else v
        try:
            s = spellings.lookup(v)
        except TypeError:
            s = None
        dist = _distribution_name(v) if s is None else None
        if s is not None and callable(v):
            out: Any = traced_call(v, s)
        elif dist is not None:
            out = TracingObject(v, dist)
        elif _is_user_function(v):
            out = self.function(v)
        else:
            out = v
        return out

    def function(self, fn: types.FunctionType) -> types.FunctionType:
        found = self.done.get(id(fn))
        if found is not None:
            return found  # type: ignore[no-any-return]
        new_globals: dict[str, Any] = {}
        copy = types.FunctionType(fn.__code__, new_globals, fn.__name__, fn.__defaults__, self._closure(fn))
        self.done[id(fn)] = copy
        self.keep.append(fn)
        names = set(_names(fn.__code__))
        new_globals.update(fn.__globals__)
        for name in names:
            if name in fn.__globals__:
                new_globals[name] = self.value(fn.__globals__[name])
        copy.__kwdefaults__ = fn.__kwdefaults__
        copy.__dict__.update(fn.__dict__)
        copy.__qualname__ = fn.__qualname__
        copy.__module__ = fn.__module__
        return copy

    def _closure(self, fn: types.FunctionType) -> tuple[types.CellType, ...] | None:
        if fn.__closure__ is None:
            return None
        cells = []
        for cell in fn.__closure__:
            try:
                v = cell.cell_contents
            except ValueError:  # an empty cell (a name assigned later)
                cells.append(cell)
                continue
            new = self.value(v)
            cells.append(cell if new is v else types.CellType(new))
        return tuple(cells)


def _names(code: types.CodeType) -> list[str]:
    """Global names a code object (and its nested code) reads."""
    out = list(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out += _names(c)
    return out


def with_traceable_globals(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of ``fn`` that sees the stand-ins (see the module doc); ``fn`` itself if it is not a function."""
    if isinstance(fn, functools.partial):
        return functools.partial(with_traceable_globals(fn.func), *fn.args, **fn.keywords)
    if not isinstance(fn, types.FunctionType):
        return fn
    return _Copier().function(fn)


TRACEABLE_MATH = proxy(math)
