"""Fingerprints of the Python functions dcompile traces: the key of the program cache.

A second process that asks for a derivative it compiled before should not
trace, derive and emit again: for unrolled graphs of tens of thousands of
operations that front end takes seconds, while numba loads the machine code in
a fraction of one (issue 7). :mod:`dcompile.backend.program_cache` keeps the
generated module of each derivative under a key that must change whenever the
traced program could: this module computes the function's part of that key.

The fingerprint covers everything tracing reads from the function:

* its code, recursively (bytecode, constants, names, nested code objects, the
  file and line numbers that error messages and the generated comments use);
* its defaults and closure cells;
* every global its code (or nested code) names: numbers, strings, tuples,
  NumPy arrays (by content), other functions (recursively), dcompile
  functions (by their own fingerprint), modules (NumPy, math, SciPy, SymPy and
  dcompile by name and version; any other module by the attributes the code
  names).

Anything else (an instance of a user class, a random generator, a bound
method, an object array) makes the function *unstable*: :func:`fingerprint`
returns None and the function is traced every time, as without the cache. So
does code that names a dynamic lookup, a file reader, a random source, the clock
or the environment (:data:`DYNAMIC`): what tracing reads through them is not in
the code. The rule is to miss rather than to be wrong.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import importlib.metadata
import sys
import types
from typing import Any

import numpy as np

# Packages whose functions and modules are named, not hashed: their code is fixed by
# their version (which is part of the key), and hashing NumPy's own code would be slow.
TRUSTED = frozenset({"numpy", "math", "cmath", "dcompile", "scipy", "sympy", "operator", "builtins", "functools"})


# Names whose use means tracing may read something outside the code and its globals: dynamic
# lookups, files, randomness, the clock, the environment. A function (or helper) whose code names
# one of them is traced every time: a file edited or a seed changed must not serve an old program.
DYNAMIC = frozenset(
    {
        "globals", "locals", "vars", "eval", "exec", "getattr", "__import__", "import_module",
        "open", "load", "loads", "loadtxt", "genfromtxt", "fromfile", "read", "read_csv", "read_text",
        "read_bytes", "random", "default_rng", "rand", "randn", "randint", "normal", "uniform", "seed",
        "time", "perf_counter", "monotonic", "now", "today", "urandom", "environ", "getenv", "input",
    }
)  # fmt: skip


class Unstable(Exception):
    """Something the function reads cannot be fingerprinted."""


def fingerprint(fn: Any) -> str | None:
    """The SHA-256 fingerprint of a traced function (or any value it could read), None if unstable."""
    hasher = _Hasher()
    try:
        hasher.value(fn)
    except (Unstable, RecursionError):
        return None
    return hasher.digest()


def sympy_fingerprint(expr: Any, args: Any) -> str:
    """The fingerprint of a SymPy expression and its argument symbols, without recursion.

    ``srepr`` recurses once per nesting level (a 5,000-deep expression exceeds
    Python's limit); this walks the tree with a stack: each node's class and
    number of arguments, each atom's ``srepr`` (symbols with their assumptions).
    """
    import sympy

    hasher = _Hasher()
    stack = [*reversed(list(args)), expr]
    while stack:
        node = stack.pop()
        if isinstance(node, sympy.Basic) and node.args:
            hasher.put(type(node).__name__, len(node.args))
            stack.extend(reversed(node.args))
        else:
            hasher.put(sympy.srepr(node) if isinstance(node, sympy.Basic) else repr(node))
    return hasher.digest()


def _top(module_name: str | None) -> str:
    return (module_name or "").split(".", 1)[0]


@functools.cache
def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return sys.version if package in sys.builtin_module_names or package in ("math", "cmath") else "?"


class _Hasher:
    """Feeds a canonical description of values into one SHA-256."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.seen: dict[int, int] = {}  # id -> order of first visit (cycles: recursive helpers)
        self.keep: list[Any] = []  # keeps visited objects alive so ids stay unique

    def digest(self) -> str:
        return self.h.hexdigest()

    def put(self, *items: Any) -> None:
        for item in items:
            data = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogatepass")
            self.h.update(len(data).to_bytes(8, "little"))
            self.h.update(data)

    # -- values -----------------------------------------------------------------------
    def revisit(self, obj: Any) -> bool:
        """Hash a back-reference if `obj` was hashed before (shared or cyclic values);
        otherwise number it and return False so the caller hashes its content."""
        key = id(obj)
        if key in self.seen:
            self.put("ref", self.seen[key])
            return True
        self.seen[key] = len(self.seen)
        self.keep.append(obj)
        return False

    def value(self, obj: Any) -> None:
        if self.plain(obj) or self.revisit(obj):
            return
        if isinstance(obj, (tuple, list)):
            self.put(type(obj).__name__, len(obj))
            for item in obj:
                self.value(item)
        elif isinstance(obj, (set, frozenset)):
            self.put(type(obj).__name__, *sorted(_alone(item) for item in obj))
        elif isinstance(obj, dict):
            self.put("dict", *sorted(_alone(k) + _alone(v) for k, v in obj.items()))
        elif isinstance(obj, types.ModuleType):
            self.module(obj, ())
        else:
            self.callable(obj)

    def plain(self, obj: Any) -> bool:
        """Hash a value that is data (numbers, strings, NumPy scalars and arrays); False if it is not."""
        if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
            self.put(type(obj).__name__, repr(obj))
        elif isinstance(obj, np.generic):
            self.put("np", obj.dtype.str, obj.tobytes())
        elif isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise Unstable("an object array")
            self.put("ndarray", obj.dtype.str, obj.shape, hashlib.sha256(np.ascontiguousarray(obj).tobytes()).digest())
        elif isinstance(obj, np.dtype):
            self.put("dtype", obj.str)
        else:
            return False
        return True

    def callable(self, obj: Any) -> None:
        """Hash a function-like object: by code, by dcompile's fingerprint, or by name if trusted."""
        if isinstance(obj, functools.partial):
            self.put("partial")
            self.value(obj.func)
            self.value(obj.args)
            self.value(obj.keywords)
        elif hasattr(obj, "_dcompile_fingerprint"):  # a dcompile Function or Derivative
            fp = obj._dcompile_fingerprint()
            if fp is None:
                raise Unstable(repr(obj))
            self.put("dcompile", fp)
        elif isinstance(obj, types.FunctionType):
            self.function(obj)
        elif isinstance(obj, np.ufunc) and _top(getattr(obj, "__module__", None)) in ("", *TRUSTED):
            # NumPy's and SciPy's ufuncs (SciPy's name no module): by name, loops and versions.
            self.put("ufunc", obj.__name__, obj.nin, obj.nout, *obj.types, _version("numpy"), _version("scipy"))
        elif isinstance(getattr(obj, "py_func", None), types.FunctionType):  # a numba function: its Python code
            self.put("numba", type(obj).__name__)
            self.function(obj.py_func)
        elif _top(getattr(obj, "__module__", None)) in TRUSTED and (
            isinstance(obj, (type, types.BuiltinFunctionType, np.ufunc))
            or (callable(obj) and hasattr(obj, "__qualname__"))
        ):
            # NumPy's functions and ufuncs, math's builtins, dcompile's helpers: named.
            module = getattr(obj, "__module__", "")
            name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
            self.put("named", module, name, _version(_top(module)))
        else:
            raise Unstable(type(obj).__qualname__)

    def module(self, mod: types.ModuleType, names: tuple[str, ...] | frozenset[str]) -> None:
        top = _top(mod.__name__)
        if top in TRUSTED:
            self.put("module", mod.__name__, _version(top))
            return
        # A user module: what the code reads from it (``helpers.scale`` names ``scale``).
        self.put("usermodule", mod.__name__)
        for name in sorted(names):
            if hasattr(mod, name):
                self.put(name)
                self.value(getattr(mod, name))

    def function(self, fn: types.FunctionType) -> None:
        if _top(fn.__module__) in TRUSTED:
            self.put("named", fn.__module__, fn.__qualname__, _version(_top(fn.__module__)))
            return
        code = fn.__code__
        names: set[str] = set()
        self.code(code, names)
        dynamic = names & DYNAMIC
        if dynamic:
            raise Unstable(f"{fn.__qualname__} uses {', '.join(sorted(dynamic))}")
        self.put("defaults")
        self.value(fn.__defaults__)
        self.value(fn.__kwdefaults__)
        self.put("closure", len(fn.__closure__ or ()))
        for cell in fn.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:
                self.put("empty cell")
                continue
            self.value(contents)
        frozen = frozenset(names)
        glb = fn.__globals__
        for name in sorted(names):
            if name in glb:
                self.put("global", name)
                value = glb[name]
                if isinstance(value, types.ModuleType):
                    if not self.revisit(value):
                        self.module(value, frozen)
                else:
                    self.value(value)
            elif hasattr(builtins, name):
                self.put("builtin", name)
            else:
                self.put("missing", name)

    def code(self, code: types.CodeType, names: set[str]) -> None:
        self.put(
            "code",
            code.co_filename,
            code.co_qualname,
            code.co_firstlineno,
            code.co_argcount,
            code.co_posonlyargcount,
            code.co_kwonlyargcount,
            code.co_flags,
            code.co_code,
            code.co_linetable,
            code.co_names,
            code.co_varnames,
            code.co_freevars,
            code.co_cellvars,
        )
        names.update(code.co_names)
        self.put("consts", len(code.co_consts))
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self.code(const, names)
            else:
                self.value(const)


def _alone(obj: Any) -> str:
    """The fingerprint of one value on its own (to sort set members and dict items)."""
    hasher = _Hasher()
    hasher.value(obj)
    return hasher.digest()
