"""Value types of the IR: a shape and a dtype.

Every IR value carries a :class:`VType`. Issue-2 programs are scalar (rank 0),
but shapes are part of the type from the start so that array programs need no
redesign: an elementwise primitive's shape rule is NumPy broadcasting.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DType(enum.Enum):
    """The element types the IR knows."""

    F64 = "float64"
    BOOL = "bool"
    I64 = "int64"

    @property
    def differentiable(self) -> bool:
        """Only floating values carry tangents and adjoints."""
        return self is DType.F64


@dataclass(frozen=True, slots=True)
class VType:
    """The static type of an IR value: its shape and element type."""

    shape: tuple[int, ...]
    dtype: DType

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        dims = ",".join(str(n) for n in self.shape)
        return f"{self.dtype.value}[{dims}]"


F64 = VType((), DType.F64)
BOOL = VType((), DType.BOOL)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of shapes; raises ``ValueError`` when incompatible."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[int] = []
    for axis in range(rank):
        dims = {s[len(s) - rank + axis] for s in shapes if len(s) - rank + axis >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)
