"""The worked example of the lecture notes, checked against SymPy.

f = (x1 + w1)^2 (x1 w1 + x2 w2): forward propagation along w1, backpropagation
to every input, the Hessian, and the generated code for each.

    python examples/worked_example.py
    dcompile explain examples/worked_example.py:f   # the tables, as the notes write them
"""

import numpy as np
import sympy as sp

import dcompile as dc


@dc.compile
def f(x1, x2, w1, w2):
    a = x1 + w1
    b = x1 * w1
    c = x2 * w2
    d = a**2
    e = b + c
    return d * e


def main() -> None:
    point = (1.0, 2.0, 3.0, 4.0)
    x1, x2, w1, w2 = syms = sp.symbols("x1 x2 w1 w2")
    expr = (x1 + w1) ** 2 * (x1 * w1 + x2 * w2)
    at = dict(zip(syms, point, strict=True))

    print("Forward propagation along w1 (dc.jvp):")
    value, df_dw1 = dc.jvp(f)(point, (0.0, 0.0, 1.0, 0.0))
    print(f"  f = {value}, df/dw1 = {df_dw1}   sympy: {sp.diff(expr, w1).subs(at)}")

    print("\nBackpropagation (dc.grad), every input in one sweep:")
    g = dc.grad(f)(*point)
    for name, gi, s in zip(f.arg_names, g, syms, strict=True):
        print(f"  df/d{name:<3}= {gi:8.1f}   sympy: {sp.diff(expr, s).subs(at)}")

    print("\nHessian (forward over reverse):")
    H = dc.hessian(f)(*point)
    print(H)
    assert np.allclose(H, np.array(sp.hessian(expr, syms).subs(at), dtype=float))

    print("\nThe generated Hessian code:\n")
    print(dc.hessian(f, wrt=("w1", "w2")).source)


if __name__ == "__main__":
    main()
