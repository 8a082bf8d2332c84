"""The implementation numba uses for one inner loop of a NumPy ufunc on scalars.

Entry point: :func:`scalar_loop`.

Private thing touched: ``numba.np.ufunc_db.get_ufunc_info`` (numba's table of
ufunc loop implementations, keyed by NumPy loop signature such as ``"d->d"``).

Why: numba lowers a ufunc on scalars through its generic ufunc kernel, which
casts the arguments to the chosen loop's types (float64: nothing to cast) and
calls that loop's implementation; calling the implementation directly emits
the same instructions without the kernel's per-call bookkeeping
(:mod:`dcompile.backend.llvm_lower`).

Public path: None, and the caller lowers the call with the target context's
``get_function`` for the ufunc's signature (the generic kernel).
"""

from __future__ import annotations

from typing import Any


def scalar_loop(ufunc: Any, loop: str) -> Any:
    """numba's implementation of ``ufunc``'s inner loop ``loop`` (``"dd->d"``), or None."""
    try:
        from numba.np import ufunc_db

        return ufunc_db.get_ufunc_info(ufunc).get(loop)
    except Exception:
        return None
