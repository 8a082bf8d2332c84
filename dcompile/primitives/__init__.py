"""The primitive registry: one module per family of primitives.

Importing this package registers every primitive and installs the tracing
operators. ``REGISTRY`` maps primitive names to :class:`Primitive` objects.
"""

from dcompile.ir.primitive import REGISTRY, Primitive
from dcompile.primitives import arrays, elementwise, numpy_api
from dcompile.primitives.operators import MATH_RULES, install

install()

__all__ = ["MATH_RULES", "REGISTRY", "Primitive", "arrays", "elementwise", "numpy_api"]
