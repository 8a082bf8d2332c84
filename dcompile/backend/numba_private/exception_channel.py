"""numba's internal helpers called without status propagation.

Entry point: :func:`without_exception_channel`.

Private thing touched: the target context's ``call_internal`` is replaced,
while the block runs, by a version built on ``call_internal_no_propagate``
(both are methods of numba's ``BaseContext``, not documented API).

Why: some implementations (``np.abs``, ``np.hypot``, ``x ** y``) compile a helper
with ``context.compile_internal`` and propagate its error status through
numba's calling convention, which a part or helper function (a plain LLVM
function) does not have. A float result whose helper reported an error becomes
NaN; under the NumPy error model these float helpers do not raise.

Public path: the operation is left to ``numba.njit`` (the part is not lowered
directly); with the fast paths off, no part is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def without_exception_channel(context: Any) -> Iterator[None]:
    """numba's internal helpers called without status propagation while the block runs (see the module)."""
    from numba.core import types

    nan = context.get_constant(types.float64, float("nan"))
    no_propagate = context.call_internal_no_propagate

    def call_internal(builder: Any, fndesc: Any, sig: Any, args: Any) -> Any:
        status, res = no_propagate(builder, fndesc, sig, args)
        if sig.return_type == types.float64:
            res = builder.select(status.is_error, nan, res)
        return res

    context.call_internal = call_internal
    try:
        yield
    finally:
        del context.call_internal
