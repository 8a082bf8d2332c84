"""numba's CPU target context, outside a compile.

Entry point: :func:`cpu_context`.

Private thing touched: ``numba.core.registry.cpu_target`` (the registry's CPU
target; its ``target_context``, refreshed so every implementation is
registered).

Why: :mod:`dcompile.backend.llvm_parts` tries once per process whether numba's
implementation of an operation lowers inside a part (``_probe``), into a
throwaway module, before any part is compiled; that needs the context a
compile would get.

Public path: none needed: with the fast paths off no part is lowered
directly, so nothing is probed.
"""

from __future__ import annotations

from typing import Any


def cpu_context() -> Any:
    """numba's CPU target context, refreshed (its implementations installed)."""
    from numba.core.registry import cpu_target

    context = cpu_target.target_context
    context.refresh()
    return context
