"""dcompile: a derivative compiler for Python and SymPy functions.

Decorate a function with ``@dc.compile`` (or hand a SymPy expression to
``dc.from_sympy``) and get machine code for it and its derivatives::

    import dcompile as dc

    @dc.compile
    def f(x1, x2, w1, w2):
        return (x1 + w1) ** 2 * (x1 * w1 + x2 * w2)

    dc.grad(f)(1.0, 2.0, 3.0, 4.0)
    print(dc.grad(f, wrt=("w1", "w2")).source)
"""

import importlib
from typing import TYPE_CHECKING, Any

from dcompile import primitives as _primitives  # noqa: F401  (registers primitives)
from dcompile.api import (
    Derivative,
    DirectionalDerivative,
    Function,
    compile,
    from_sympy,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    value_and_grad,
    vjp,
)
from dcompile.callback import pure_callback
from dcompile.check import GradCheck, check_grad
from dcompile.custom import custom_jvp, custom_vjp
from dcompile.debug import config
from dcompile.errors import (
    DcompileError,
    ExtensionError,
    NonFiniteError,
    SignatureError,
    TraceError,
    UnsupportedError,
)
from dcompile.frontend.pytree import ravel
from dcompile.loops import fori_loop, scan, while_loop
from dcompile.primitives.arrays import stop_gradient
from dcompile.primitives.elementwise import sigmoid, softplus, where
from dcompile.primitives.numpy_api import array
from dcompile.primitives.operators import supported
from dcompile.primitives.special import logsumexp
from dcompile.version import __version__ as __version__  # re-exported

# The optimizers and finite sums import numba, which costs more than the rest
# of the package together; they load on first use so that ``import dcompile``
# stays quick (the tracer and the code emitter never need numba).
_LAZY = {
    "minimize": "dcompile.optimize.minimize",
    "least_squares": "dcompile.optimize.lsq",
    "curve_fit": "dcompile.optimize.lsq",
    "minimizer": "dcompile.optimize.minimize",
    "schedules": "dcompile.sums.schedules",
    "FiniteSum": "dcompile.sums.finite_sum",
    "finite_sum": "dcompile.sums.dispatch",
    "adam": "dcompile.sums.sgd",
    "sgd": "dcompile.sums.sgd",
}

if TYPE_CHECKING:
    from dcompile.optimize.lsq import curve_fit, least_squares
    from dcompile.optimize.minimize import minimize, minimizer
    from dcompile.sums import schedules
    from dcompile.sums.dispatch import finite_sum
    from dcompile.sums.finite_sum import FiniteSum
    from dcompile.sums.sgd import adam, sgd


def __getattr__(name: str) -> Any:
    """Load the optimizer and finite-sum names on first use (see ``_LAZY``)."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'dcompile' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if name == "schedules" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DcompileError",
    "Derivative",
    "DirectionalDerivative",
    "ExtensionError",
    "FiniteSum",
    "Function",
    "GradCheck",
    "NonFiniteError",
    "SignatureError",
    "TraceError",
    "UnsupportedError",
    "adam",
    "array",
    "check_grad",
    "compile",
    "config",
    "curve_fit",
    "custom_jvp",
    "custom_vjp",
    "finite_sum",
    "fori_loop",
    "from_sympy",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "least_squares",
    "logsumexp",
    "minimize",
    "minimizer",
    "pure_callback",
    "ravel",
    "scan",
    "schedules",
    "sgd",
    "sigmoid",
    "softplus",
    "stop_gradient",
    "supported",
    "value_and_grad",
    "vjp",
    "where",
    "while_loop",
]
