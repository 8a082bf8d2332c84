"""Inverse kinematics of a planar two-link arm from a SymPy model.

The forward kinematics are written in SymPy; dcompile compiles the squared
distance from the hand to a target with its gradient and Hessian. First a
hand-written damped Newton iteration (``dc.value_and_grad``, ``dc.hessian``),
then ``dc.minimize`` (Newton and L-BFGS, loops in numba) on the same symbolic
objective wrapped as a function of the joint-angle vector, for several
targets, one of them out of reach (the arm then stretches towards it).

    python examples/two_link_arm.py
    python examples/two_link_arm.py --fast   # fewer targets (what the tests run)
"""

import argparse

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


@dc.compile
def reach_q(q, target):  # the SymPy-built function, inlined: a function of the vector q for dc.minimize
    return f(q[0], q[1], target[0], target[1])


def hand(q: np.ndarray) -> np.ndarray:
    return np.array([L1 * np.cos(q[0]) + L2 * np.cos(q.sum()), L1 * np.sin(q[0]) + L2 * np.sin(q.sum())])


def newton_by_hand(target: tuple[float, float]) -> None:
    q = np.array([0.2, 1.2])
    print(f"SymPy model: |hand(q) - t|^2 = {sp.simplify(loss)}")
    print(f"\nDamped Newton by hand (dc.value_and_grad and dc.hessian of the SymPy expression), target {target}:")
    for it in range(20):
        value, g = vg(q[0], q[1], *target)
        print(f"  iter {it:2d}  loss {value:.3e}  |g| {np.linalg.norm(g):.1e}  q = {q}")
        if np.linalg.norm(g) < 1e-12:
            break
        H = hess(q[0], q[1], *target)
        # Levenberg-style damping keeps the step a descent direction far from the solution.
        q = q - np.linalg.solve(H + 1e-3 * np.eye(2), g)
    h = hand(q)
    print(f"joint angles {q}, hand at ({h[0]:.12f}, {h[1]:.12f})")
    assert np.allclose(h, target, atol=1e-9)


def with_minimize(targets: list[tuple[float, float]]) -> None:
    print("\ndc.minimize on reach_q(q, target) (the same expression; loops in numba):")
    print(f"  {'target':<14} {'method':<7} {'iters':>5}  {'q (rad)':<22} {'hand':<22} {'distance':>9}")
    for target in targets:
        t = np.array(target)
        for method in ("newton", "lbfgs"):
            res = dc.minimize(reach_q, np.array([0.2, 1.2]), args=(t,), method=method, options={"gtol": 1e-10})
            h = hand(res.x)
            dist = np.linalg.norm(h - t)
            q_txt = f"({res.x[0]:+.4f}, {res.x[1]:+.4f})"
            h_txt = f"({h[0]:+.4f}, {h[1]:+.4f})"
            print(f"  {target!s:<14} {method:<7} {res.nit:>5}  {q_txt:<22} {h_txt:<22} {dist:9.2e}")
            assert res.success, res.message
            if np.linalg.norm(t) < L1 + L2:  # reachable: the hand gets there
                assert dist < 1e-8
            else:  # out of reach: the arm points at the target, fully stretched
                assert abs(dist - (np.linalg.norm(t) - L1 - L2)) < 1e-8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="two targets (the tests)")
    args = parser.parse_args()
    newton_by_hand((1.2, 0.8))
    targets = [(1.2, 0.8), (2.0, 1.0)] if args.fast else [(1.2, 0.8), (0.3, 1.1), (-1.0, 0.5), (0.5, -0.4), (2.0, 1.0)]
    with_minimize(targets)


if __name__ == "__main__":
    main()
