"""Compiled kernels as compile-time constants, so optimizer loops can be cached on disk.

An optimizer loop takes the objective's compiled value-and-gradient as an
argument. numba types such an argument by the dispatcher object itself, and
two things then stop its disk cache: a cached function whose *signature* holds
a dispatcher must pickle it (and the key holds a per-process id, numba issues
#2956, #6284); and a cached function that passes a *global* dispatcher on as a
value embeds the dispatcher's address in the machine code ("dynamic globals").

:class:`StaticKernel` wraps a dispatcher so that numba types it as
:class:`StaticKernelType`, a dispatcher type whose value lowers to a null
pointer: the value is never read (calls through it are resolved at compile
time to the dispatcher's compiled code), so nothing process-specific reaches
the machine code. A generated driver module binds the objective's kernels as
module globals of this type and its entry points, compiled with
``cache=True``, load from disk in a later process (see
:mod:`dcompile.optimize.driver`).
"""

from __future__ import annotations

from typing import Any

from numba.core import types
from numba.core.imputils import lower_constant
from numba.extending import models, register_model, typeof_impl


class StaticKernelType(types.Dispatcher):
    """The numba type of a :class:`StaticKernel`: calls resolve like the wrapped dispatcher's."""

    def can_convert_to(self, typingctx: Any, other: Any) -> Any:
        # The optimizer loops are also compiled with kernels as function pointers (optimize/generic.py).
        # When numba rates those overloads for a call with a static kernel, a dispatcher's conversion
        # to a function type compiles the kernel for that signature, which fails for another
        # objective's signature (numba raises instead of answering "no conversion"). A static kernel
        # is never passed as a pointer: no conversion.
        if isinstance(other, types.FunctionType):
            return None
        return super().can_convert_to(typingctx, other)


register_model(StaticKernelType)(models.OpaqueModel)


@lower_constant(StaticKernelType)
def _lower_static_kernel(context: Any, builder: Any, typ: Any, pyval: Any) -> Any:
    return context.get_constant_null(typ)  # never read: calls go straight to compiled code


class StaticKernel:
    """A numba dispatcher to use as a global constant inside cached compiled code.

    Call it from ``@njit`` code (or pass it to a function that calls it) as you
    would the dispatcher; from Python it simply calls the dispatcher.
    """

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher

    def __call__(self, *args: Any) -> Any:
        return self.dispatcher(*args)

    def __repr__(self) -> str:
        return f"StaticKernel({self.dispatcher!r})"


@typeof_impl.register(StaticKernel)
def _typeof_static_kernel(val: StaticKernel, c: Any) -> StaticKernelType:
    return StaticKernelType(val.dispatcher)
