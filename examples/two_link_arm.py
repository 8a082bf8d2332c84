"""Inverse kinematics of a planar two-link arm from a SymPy model, by Newton's method.

The forward kinematics are written in SymPy; dcompile compiles the squared
distance from the hand to a target, its gradient and its Hessian, and a
damped Newton iteration finds joint angles that reach the target.

    python examples/two_link_arm.py
"""

import numpy as np
import sympy as sp

import dcompile as dc

q1, q2, tx, ty = sp.symbols("q1 q2 tx ty")
L1, L2 = 1.0, 0.7
hand_x = L1 * sp.cos(q1) + L2 * sp.cos(q1 + q2)
hand_y = L1 * sp.sin(q1) + L2 * sp.sin(q1 + q2)
loss = (hand_x - tx) ** 2 + (hand_y - ty) ** 2

f = dc.from_sympy(loss, args=[q1, q2, tx, ty], name="reach")
vg = dc.value_and_grad(f, wrt=("q1", "q2"))
hess = dc.hessian(f, wrt=("q1", "q2"))

target = (1.2, 0.8)
q = np.array([0.2, 1.2])
print(f"target {target}")
for it in range(20):
    value, g = vg(q[0], q[1], *target)
    print(f"  iter {it:2d}  loss {value:.3e}  |g| {np.linalg.norm(g):.1e}  q = {q}")
    if np.linalg.norm(g) < 1e-12:
        break
    H = hess(q[0], q[1], *target)
    # Levenberg-style damping keeps the step a descent direction far from the solution.
    step = np.linalg.solve(H + 1e-3 * np.eye(2), g)
    q = q - step
hand = (L1 * np.cos(q[0]) + L2 * np.cos(q.sum()), L1 * np.sin(q[0]) + L2 * np.sin(q.sum()))
print(f"joint angles {q}, hand at ({hand[0]:.12f}, {hand[1]:.12f})")
assert np.allclose(hand, target, atol=1e-9)
