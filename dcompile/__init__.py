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

__version__ = "0.1.0"

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
from dcompile.errors import DcompileError, ExtensionError, SignatureError, TraceError, UnsupportedError
from dcompile.frontend.pytree import ravel
from dcompile.loops import fori_loop, scan, while_loop
from dcompile.optimize.minimize import minimize, minimizer
from dcompile.primitives.arrays import stop_gradient
from dcompile.primitives.elementwise import sigmoid, softplus, where
from dcompile.primitives.numpy_api import array
from dcompile.primitives.operators import supported
from dcompile.primitives.special import logsumexp
from dcompile.sums import schedules
from dcompile.sums.finite_sum import FiniteSum, finite_sum
from dcompile.sums.sgd import adam, sgd

__all__ = [
    "DcompileError",
    "Derivative",
    "DirectionalDerivative",
    "ExtensionError",
    "FiniteSum",
    "Function",
    "GradCheck",
    "SignatureError",
    "TraceError",
    "UnsupportedError",
    "adam",
    "array",
    "check_grad",
    "compile",
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
