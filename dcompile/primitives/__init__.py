"""The primitive registry: one module per family of primitives.

Importing this package registers every primitive and every spelling (the
NumPy, ``math``, SciPy and SymPy names users call) and installs the tracing
operators. ``REGISTRY`` maps primitive names to :class:`Primitive` objects;
:mod:`~dcompile.primitives.spellings` maps user-facing names to their traced
implementations.
"""

from dcompile.ir.primitive import REGISTRY, Primitive
from dcompile.primitives import (
    arrays,
    einsum,
    elementwise,
    indexing,
    linalg,
    numpy_api,
    reductions,
    shapes,
    special,
    stats,
)
from dcompile.primitives.operators import install

install()

__all__ = [
    "REGISTRY",
    "Primitive",
    "arrays",
    "einsum",
    "elementwise",
    "indexing",
    "linalg",
    "numpy_api",
    "reductions",
    "shapes",
    "special",
    "stats",
]
