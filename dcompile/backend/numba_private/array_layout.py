"""Where numba's array structure keeps its data pointer and its shape, read from numba's data model.

Entry point: :func:`array_fields`.

Private thing touched: the target context's ``data_model_manager`` and the
array's ``ArrayModel.get_field_position`` (numba's data models are part of
its extension API, the field names of its array model are not documented).

Why: :mod:`dcompile.backend.llvm_text` writes element loads and stores as
LLVM text, addressing the data pointer and the first shape entry of numba's
array structure (``{meminfo, parent, nitems, itemsize, data, shape, strides}``
in numba 0.59-0.68) by field position. The positions are read from the
model, not assumed, and the field types are checked against the structure's
LLVM type, so a reordered or retyped structure is noticed instead of read
at the wrong field.

Public path: None, and the part's body is built through ``llvmlite.ir``
objects with ``context.make_array`` (numba's own accessors by field name).
"""

from __future__ import annotations

from typing import Any


def array_fields(context: Any, ty: Any) -> tuple[int, int] | None:
    """``(data, shape)``: the positions of numba array type ``ty``'s data pointer and shape tuple
    in its LLVM structure, or None if the model does not have them as expected (a pointer to the
    element type, and an array of ``ty.ndim`` pointer-sized integers)."""
    try:
        model = context.data_model_manager.lookup(ty)
        data, shape = model.get_field_position("data"), model.get_field_position("shape")
        struct = context.get_value_type(ty)
        element = context.get_data_type(ty.dtype)
        intp = context.get_value_type(_intp())
        data_ty, shape_ty = struct.elements[data], struct.elements[shape]
        ok = (
            getattr(data_ty, "pointee", None) == element
            and getattr(shape_ty, "count", None) == ty.ndim
            and getattr(shape_ty, "element", None) == intp
        )
    except Exception:
        return None
    return (data, shape) if ok else None


def _intp() -> Any:
    from numba.core import types

    return types.intp
