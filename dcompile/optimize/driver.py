"""Driver modules: one objective's optimizer loops, compiled once and cached on disk.

The loops in :mod:`dcompile.optimize.methods` take the objective's kernels as
arguments, which numba cannot cache across processes. A driver is a small
generated module (written to the dcompile cache directory beside the
objective's kernels, so it shows in ``dcompile cache`` and is cleared with it)
that binds those kernels as :class:`~dcompile.optimize.binding.StaticKernel`
constants and defines, for each method it serves, ``cache=True`` entry points:

``<method>(x0, args, gtol=1e-6, maxiter=10000, ...)``
    the whole solve, callable from Python or from the user's own ``@njit``
    code; returns ``(x, f, g, nit, nfev, nhev, status)``.
``<method>_run(x0, args, opts_f, opts_i)`` / ``start`` + ``<method>_iterate``
    what :func:`dcompile.minimize` calls: the whole run at once, or in chunks
    when it shows progress or calls a callback.

Their code is ``driver_template.py``, a module of the package (linted and
type-checked), copied with the objective's kernels bound in place of its
placeholders (:mod:`dcompile.optimize.template`). The first process compiles
them (seconds: the method and its line searches specialised to the
objective); later processes load machine code in tens of milliseconds. A
driver's file name is content addressed like a kernel's, and the content
names the kernels' modules and a digest of the optimizer sources, so a
changed objective or a new dcompile version gets a new driver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from dcompile.backend.cache import write_module
from dcompile.backend.compiler import PACKAGE, Kernel, load_module
from dcompile.optimize.template import instantiate

# method -> (python name, method code in methods.py, second-derivative kernel mode or None)
METHODS: dict[str, tuple[str, str, str | None]] = {
    "gd": ("gd", "GD", None),
    "lbfgs": ("lbfgs", "LBFGS", None),
    "bfgs": ("bfgs", "BFGS", None),
    "newton": ("newton", "NEWTON", "hessian"),
    "newton-cg": ("newton_cg", "NEWTON_CG", "hvp"),
}
_SOURCES = (
    "methods.py",
    "linesearch.py",
    "vectors.py",
    "binding.py",
    "result.py",
    "driver.py",
    "callback.py",
    "generic.py",
    "bounded.py",
    "lm.py",
    "trf.py",
    "fptr.py",
    "driver_template.py",
    "template.py",
)

_TEMPLATE = Path(__file__).with_name("driver_template.py")  # the entry points; see template.py
_ENTRY_POINTS = ("", "_run", "_start", "_iterate")  # per method, in driver_template.py


@cache
def sources_digest() -> str:
    """A digest of the optimizer sources: a new dcompile version writes new drivers."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def shared_loops(directory: Path) -> Any:
    """The shared loops (optimize/generic.py) as numba caches them: a copy in the cache directory.

    numba checks a cached function against its own file only, not against the
    functions it calls; the copy's name carries the digest of every optimizer
    source, so a change to methods.py or the line searches gets fresh machine
    code (and the cache shows in ``dcompile cache`` and is cleared with it).
    """
    found = _SHARED.get(directory)
    if found is None:
        from dcompile.optimize import generic

        source = Path(generic.__file__).read_text(encoding="utf-8")
        source += f"\n# optimizer sources digest: {sources_digest()}\n"
        found = _SHARED[directory] = load_module(write_module("shared_loops", source, directory))
    return found


_SHARED: dict[Path, Any] = {}


@dataclass(frozen=True)
class KernelRef:
    """Where a driver imports a kernel from: a generated module and a function in it.

    ``jitted``: the module attribute is already a numba dispatcher (a finite
    sum's generated loop); otherwise it is plain generated Python that the
    driver compiles like the kernel loader does. ``package``: where the
    module lives (generated modules: the cache's package; the callbacks of
    Python objectives: ``dcompile.optimize``).
    """

    module: str
    name: str
    jitted: bool = False
    package: str = PACKAGE

    @property
    def dotted(self) -> str:
        return f"{self.package}.{self.module}"

    @classmethod
    def of(cls, kernel: Kernel) -> KernelRef:
        return cls(kernel.path.stem, kernel.py_function.__name__)

    def binding(self, alias: str) -> str:
        return alias if self.jitted else f'numba.njit(cache=True, error_model="numpy")({alias})'


def driver_source(name: str, vg: KernelRef, d2: KernelRef | None, methods: tuple[str, ...]) -> str:
    """The text of the driver module for ``methods``, all sharing the kernels ``vg`` and ``d2``:
    driver_template.py with these kernels bound and the other methods' entry points left out."""
    header = (
        f'"""Optimizer loops bound to {name}\'s compiled derivatives (generated by dcompile).\n\n'
        "Entry points are numba dispatchers cached on disk; call them from Python or\n"
        f"from @njit code. {', '.join(METHODS[m][0] for m in methods)}(x0, args, ...) solves and returns\n"
        '(x, f, g, nit, nfev, nhev, status); see dcompile.optimize.driver.\n"""\n\n'
        f"# optimizer sources digest: {sources_digest()}\n"
    )
    bindings = f"from {vg.dotted} import {vg.name} as _vg_py\n"
    if d2 is not None:
        bindings += f"from {d2.dotted} import {d2.name} as _d2_py\n"
    bindings += f"\nvg = StaticKernel({vg.binding('_vg_py')})\n"
    bindings += "d2 = vg  # unused by these methods\n" if d2 is None else f"d2 = StaticKernel({d2.binding('_d2_py')})\n"
    served = {METHODS[m][0] for m in methods}
    omit = {f"{py}{suffix}" for py, _, _ in METHODS.values() if py not in served for suffix in _ENTRY_POINTS}
    return instantiate(_TEMPLATE, header, bindings, omit=omit)


class _Entry:
    """An entry point of the shared loops (:mod:`dcompile.optimize.generic`) with an objective's
    kernels bound as its first arguments; called like a generated driver's entry point.

    ``direct``: where the compiled entry cannot be bound (the fast paths off), call the loop's
    dispatcher with the kernels' dispatchers (numba compiles it per objective through its public
    API); for drivers without generated per-objective loops to fall back to.
    """

    def __init__(  # noqa: PLR0917
        self,
        loop: Any,
        kernels: tuple[Any, ...],
        kernel_types: tuple[Any, ...],
        suffix: tuple[Any, ...] = (),
        cell: list[Any] | None = None,
        direct: bool = False,
    ) -> None:
        self.loop, self.kernels, self.kernel_types, self.suffix = loop, kernels, kernel_types, suffix
        self.cell = cell if cell is not None else [None]  # the compiled entry, shared by copies with other boxes
        self.direct = direct

    @property
    def _fn(self) -> Any:
        return self.cell[0]

    def with_suffix(self, suffix: tuple[Any, ...]) -> _Entry:
        """The same entry called with other trailing arguments (a box of the same types)."""
        return _Entry(self.loop, self.kernels, self.kernel_types, suffix, self.cell, self.direct)

    def prepare(self, values: tuple[Any, ...]) -> bool:
        """Compile (or load from numba's cache) the entry for arguments like ``values``; False if it cannot be."""
        from dcompile.optimize import fptr

        values = (*values, *self.suffix)
        if self.direct:
            self.cell[0] = fptr.entry_or_loop(self.loop, self.kernels, self.kernel_types, values)
        else:
            self.cell[0] = fptr.bind(self.loop, self.kernel_types, values)
        return self._fn is not None

    @property
    def stats(self) -> Any:
        """numba's compile statistics of the shared loop (cache hits and misses)."""
        return self.loop.stats

    def __call__(self, *args: Any) -> Any:
        if self._fn is None and not self.prepare(args):
            raise RuntimeError("the shared optimizer loop is unavailable")  # prepare() is checked first
        return self._fn(*self.kernels, *args, *self.suffix)


@dataclass
class SharedDriver:
    """The shared loops of one method, bound to one objective's kernels (numba function pointers).

    Same interface as :class:`Driver` for :func:`dcompile.minimize`; nothing is compiled per
    objective (see :mod:`dcompile.optimize.generic`).
    """

    method: str
    vg: Any  # the numba dispatchers of the kernels
    d2: Any
    vg_type: Any  # their numba function types
    d2_type: Any
    fallback: Callable[[], Driver] | None  # the loops specialised to the objective (None: there are none)
    bounds: tuple[Any, ...] = ()  # (lo, hi) for L-BFGS-B, passed after the other arguments
    compiled: set[str] = field(default_factory=set)
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def with_bounds(self, box: tuple[Any, ...]) -> SharedDriver:
        """This driver solving on the box ``(lo, hi)``: a copy sharing the compiled entries (same
        types), so concurrent solves on other boxes do not interfere."""
        for kind in ("run", "start", "iterate"):
            self._entry(kind)
        out = SharedDriver(self.method, self.vg, self.d2, self.vg_type, self.d2_type, self.fallback, box, self.compiled)
        out._entries = {kind: entry.with_suffix(box) for kind, entry in self._entries.items()}
        return out

    def _entry(self, kind: str) -> _Entry:
        found = self._entries.get(kind)
        if found is None:
            from dcompile.backend.cache import cache_dir

            prefix = METHODS[self.method][0] if self.method in METHODS else self.method
            loop = getattr(shared_loops(cache_dir()), f"{prefix}_{kind}")
            direct = self.fallback is None  # no generated per-objective loops (L-BFGS-B)
            if kind == "start":
                found = _Entry(loop, (self.vg,), (self.vg_type,), self.bounds, direct=direct)
            else:
                found = _Entry(loop, (self.vg, self.d2), (self.vg_type, self.d2_type), self.bounds, direct=direct)
            self._entries[kind] = found
        return found

    def prepare(self, kind: str, values: tuple[Any, ...]) -> bool:
        """Compile (or load) entry point ``kind`` for arguments like ``values``; False if unavailable."""
        return self._entry(kind).prepare(values)

    @property
    def run(self) -> Any:
        return self._entry("run")

    @property
    def path(self) -> Path:
        """The file of the shared loops (a copy of optimize/generic.py in the cache directory)."""
        return Path(self._entry("run").loop.py_func.__code__.co_filename)

    @property
    def start(self) -> Any:
        return self._entry("start")

    @property
    def iterate(self) -> Any:
        return self._entry("iterate")


@dataclass
class Driver:
    """A loaded driver module and the entry points of one method.

    ``compiled`` names the entry points :func:`dcompile.minimize` has compiled
    (or loaded) in this process, so it can time that apart from solving.
    """

    module: Any
    method: str
    compiled: set[str] = field(default_factory=set)

    @property
    def py(self) -> str:
        return METHODS[self.method][0]

    @property
    def solve(self) -> Any:
        """The numba-callable whole solve ``(x0, args, gtol=..., ...) -> (x, f, g, nit, nfev, nhev, status)``."""
        return getattr(self.module, self.py)

    @property
    def run(self) -> Any:
        return getattr(self.module, f"{self.py}_run")

    @property
    def start(self) -> Any:
        return getattr(self.module, f"{self.py}_start")

    @property
    def iterate(self) -> Any:
        return getattr(self.module, f"{self.py}_iterate")

    @property
    def path(self) -> Path:
        return Path(self.module.__file__)

    def prepare(self, kind: str, values: tuple[Any, ...]) -> bool:
        """Compile (or load from numba's cache) entry point ``kind`` for arguments like ``values``."""
        import numba

        getattr(self, kind).compile(tuple(numba.typeof(v) for v in values))
        return True


def load_driver(name: str, vg: KernelRef, d2: KernelRef | None, method: str, directory: Path) -> Driver:
    """Write (if new) and import the driver serving ``method`` for these kernels.

    One module serves every method that needs the same kernels (gd, lbfgs and
    bfgs share one); numba compiles an entry point on its first call only.
    """
    mode = METHODS[method][2]
    served = tuple(m for m, (_, _, d) in METHODS.items() if d == mode)
    source = driver_source(name, vg, d2, served)
    path = write_module(f"{name}_optimize", source, directory)
    return Driver(load_module(path), method)
