"""Everything dcompile does with numba's and llvmlite's private internals, behind one fence.

dcompile's fast paths reach past numba's documented API in a few places. Each
place is one module of this package with one entry point, whose docstring
says what private thing it touches, why, and what the public path is:

==========================  =============================================  ==================================
module                      entry point                                    public path (fast paths off)
==========================  =============================================  ==================================
:mod:`.cache_index`         ``in_cache(dispatcher, sig)``                  False: numba's own load decides
:mod:`.cache_load`          ``load(dispatcher, sig)``                      ``dispatcher.compile(sig)``
:mod:`.target_context`      ``cpu_context()``                              (only used to lower parts)
:mod:`.text_function`       ``text_function(module, fnty, name)``          (only used to lower parts)
:mod:`.exception_channel`   ``without_exception_channel(context)``         (only used to lower parts)
:mod:`.ufunc_loops`         ``scalar_loop(ufunc, loop)``                   None: the ufunc's generic kernel
:mod:`.array_layout`        ``array_fields(context, ty)``                  None: the ``llvmlite.ir`` lowering
:mod:`.function_pointer`    ``wrapper_address(dispatcher, sig)``           the dispatcher itself
:mod:`.compiled_entry`      ``entry_point(dispatcher, sig)``               None: loops compiled per objective
==========================  =============================================  ==================================

Lowering a long function's parts straight to LLVM
(:mod:`dcompile.backend.llvm_parts`, :func:`~dcompile.backend.llvm_parts.split_parts`)
runs only when :func:`fast_paths` allows; with them off every part is
compiled by ``numba.njit``. Nothing else in dcompile
imports a numba or llvmlite private name. What stays outside, as numba's
public extension API: ``numba.njit``, ``numba.types`` (= ``numba.core.types``),
``numba.extending`` (``intrinsic``, ``overload``, ``models``,
``register_model``, ``typeof_impl``, ``get_cython_function_address``), and,
inside an intrinsic's code generator, ``llvmlite.ir``, ``numba.core.cgutils``
and the target context's ``make_array``/``cast``/``get_dummy_value`` (the
tools numba's own low-level extension documentation uses), plus
``numba.core.imputils.lower_constant`` (the registration decorator of that
same API) and ``llvmlite.binding.add_symbol``.

Two controls, both read here:

* :data:`SUPPORTED`: the numba versions the hooks are tested with (first and
  last minor release, inclusive). The installed version is checked when this
  package is imported (from the package metadata, without importing numba);
  outside the range every fast path is off and the first use warns once per
  process (:func:`fast_paths`).
* ``DCOMPILE_FAST_PATHS=0`` in the environment turns every fast path off (no
  warning: it was asked for). Read at each decision, so a test may set it.

And one rule: a hook that raises inside the range falls back to the public
path for that call and warns once per hook (:func:`hook_failed`); numba's
cache files are never dropped because a hook failed (:mod:`.cache_load`).
"""

from __future__ import annotations

import os
import warnings
from importlib import metadata

SUPPORTED = ((0, 59), (0, 68))  # tested with numba 0.59.1 (numpy 1.26) and 0.68.1
ENV = "DCOMPILE_FAST_PATHS"

_warned: set[str] = set()


def numba_version() -> tuple[int, ...]:
    """The installed numba's ``(major, minor)`` (``()`` if it cannot be read)."""
    try:
        text = metadata.version("numba")
    except metadata.PackageNotFoundError:
        try:
            import numba

            text = numba.__version__
        except ImportError:
            return ()
    parts = text.split(".")[:2]
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()


def in_range(version: tuple[int, ...]) -> bool:
    """Whether ``version`` (``(major, minor)``) lies in :data:`SUPPORTED`."""
    return len(version) == 2 and SUPPORTED[0] <= version <= SUPPORTED[1]


VERSION = numba_version()
IN_RANGE = in_range(VERSION)  # checked once, at import


def switched_off() -> bool:
    """Whether ``DCOMPILE_FAST_PATHS`` asks for the public paths (``0``, ``false``, ``no``, ``off``)."""
    return os.environ.get(ENV, "1").strip().lower() in {"0", "false", "no", "off"}


def fast_paths() -> bool:
    """Whether the hooks of this package may run: the switch is on and numba in :data:`SUPPORTED`.

    Outside the range: False, with one ``RuntimeWarning`` per process (at the first call).
    """
    if switched_off():
        return False
    if not IN_RANGE:
        shown = ".".join(map(str, VERSION)) or "unknown"
        low, high = (".".join(map(str, v)) for v in SUPPORTED)
        _warn_once(
            "version",
            f"dcompile: numba {shown} is outside the range dcompile's fast paths are tested with ({low} to {high}); "
            "numba's public paths serve instead (slower compiles, cache loads and first solves, same results). "
            f"Set {ENV}=0 to choose that and silence this warning.",
        )
        return False
    return True


def hook_failed(hook: str, exc: BaseException) -> None:
    """Report (once per hook and process) that a hook raised and its public path served instead."""
    _warn_once(
        hook,
        f"dcompile: the fast path {hook} failed with this numba ({type(exc).__name__}: {exc}); numba's public path "
        f"serves instead (slower, same results). Please report it; {ENV}=0 silences this warning.",
    )


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)
