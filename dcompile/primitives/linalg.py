"""Linear algebra: factorisations and solves with matrix-calculus derivative rules.

Primitives (each on a matrix or a stack of matrices, the batch axes first):
``cholesky``, ``trisolve`` (a triangular solve: BLAS ``dtrsm``), ``solve``,
``inv``, ``slogdet`` and ``det``, ``eigh`` (values and vectors), ``svd``
(reduced), ``svdvals`` and ``qr`` (reduced). NumPy's and SciPy's functions
(``np.linalg.*``, ``scipy.linalg.cho_factor``/``cho_solve``/
``solve_triangular``, ``lstsq``, ``pinv``, ``norm(ord=...)``, ...) are
compositions of them. Under numba the code calls numba's LAPACK-backed
``np.linalg`` (and SciPy's BLAS for the triangular solve); a stack is a loop
over its matrices.

The rules are the standard results of matrix calculus, written with these
same primitives so that they differentiate again (Hessians, HVPs):

* solve: ``dx = A^-1 (db - dA x)``; ``b_bar = A^-T x_bar``, ``A_bar = -b_bar x^T``;
* Cholesky (Murray 2016): ``dL = L Phi(L^-1 dA L^-T)`` and
  ``A_bar = Phi*(L^-T Phi(L^T L_bar) L^-1)``, with triangular solves, never an inverse;
* log-determinant: ``d log|det A| = tr(A^-1 dA)`` (a solve), ``A_bar = A^-T``;
* symmetric eigenproblem: ``dw = diag(V^T dA V)``, ``dV = V (F o V^T dA V)`` with
  ``F_ij = 1 / (w_j - w_i)`` (distinct eigenvalues: documented);
* SVD (Townsend 2016) and QR (for ``m >= n``) likewise.

NumPy's ``cholesky`` and ``eigh`` read only the lower triangle of their
argument; the rules follow that exactly (a perturbation of the upper
triangle has no effect), so finite differences of NumPy agree entry by
entry and a symmetric ``A(theta)`` gets the usual gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcompile.errors import UnsupportedError, trace_error
from dcompile.ir.primitive import PREC_ATOM, Primitive, register
from dcompile.ir.tracer import Tracer, bind, lift
from dcompile.ir.types import DType, VType
from dcompile.primitives import arrays as A
from dcompile.primitives import elementwise as E
from dcompile.primitives import numpy_api as N
from dcompile.primitives import shapes as S
from dcompile.primitives.spellings import VALUES, implements

IMPORT_LINALG = ("from dcompile.runtime import linalg as _dcl",)


# -- emission: a matrix function, looped over the batch axes of a stack -------------------------------


def _tuple_src(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _batch(t: VType, core: int) -> tuple[int, ...]:
    return t.shape[: t.rank - core]


def _looped(
    expr: Callable[[list[str]], str], cores: Sequence[int], out_core: int, pre: Callable[[str], list[str]] | None = None
) -> Any:
    """``emit_lines`` for a function of matrices: one call, or a loop over the stack's batch axes.

    ``expr`` builds the per-matrix expression from the operand names; ``cores``
    are the core ranks of the operands, ``out_core`` the result's. ``pre``
    (given the target) can produce statements instead: it must assign ``target``.
    """

    def lines(
        target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
    ) -> list[str]:
        batch = _batch(types[0], cores[0])
        if not batch:
            return [f"{target} = {expr(list(args))}"]
        count = int(np.prod(batch, dtype=np.int64))
        body = []
        names = []
        for k, (a, t, core) in enumerate(zip(args, types, cores, strict=True)):
            name = f"_{target}_{k}"
            body.append(f"{name} = np.ascontiguousarray({a}).reshape(({count}, {_dims(t.shape[t.rank - core :])}))")
            names.append(f"{name}[_b]")
        core_shape = out.shape[out.rank - out_core :]
        body.append(f"{target} = np.empty(({count}, {', '.join(map(str, core_shape))}))" if core_shape else
                    f"{target} = np.empty({count})")  # fmt: skip
        body.append(f"for _b in range({count}):")
        body.append(f"    {target}[_b] = {expr(names)}")
        body.append(f"{target} = {target}.reshape({_tuple_src(out.shape)})")
        return body

    return lines


def _dims(shape: Sequence[int]) -> str:
    return ", ".join(map(str, shape))


def _display(name: str) -> Any:
    return lambda args, params, types: (f"{name}({', '.join(a for a, _ in args)})", PREC_ATOM)


def _square(t: VType, what: str) -> None:
    if t.rank < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{what} needs a square matrix (or a stack of them), got shape {t.shape}")


def _impl_batched(fn: Callable[..., Any], cores: Sequence[int]) -> Callable[..., Any]:
    """A NumPy implementation of a matrix function applied to each matrix of a stack."""

    def run(*args: Any, **params: Any) -> Any:
        arrays = [np.asarray(a, dtype=np.float64) for a in args]
        batch = arrays[0].shape[: arrays[0].ndim - cores[0]]
        if not batch:
            return fn(*arrays, **params)
        flat = [a.reshape((-1, *a.shape[a.ndim - c :])) for a, c in zip(arrays, cores, strict=True)]
        outs = [fn(*(f[i] for f in flat), **params) for i in range(flat[0].shape[0])]
        stacked = np.stack(outs)
        return stacked.reshape((*batch, *stacked.shape[1:]))

    return run


# -- helpers written with primitives (for the rules) ----------------------------------------------------


def mT(x: Any) -> Any:
    """The transpose of each matrix of a stack."""
    return A.swap_last(x)


def _eye_like(x: Tracer, dtype: DType = DType.F64) -> Any:
    n = x.shape[-1]
    return S.make(x.builder, "eye", (n, None, 0), dtype)


def _phi(x: Any) -> Any:
    """The lower triangle with the diagonal halved (Murray's Phi)."""
    return E.sub(S.tril(x), E.mul(0.5, E.mul(x, _eye_like(x))))


def _sym_low(x: Any) -> Any:
    """The symmetric matrix NumPy's Cholesky and eigh see: the lower triangle mirrored."""
    return E.add(S.tril(x), mT(S.tril(x, -1)))


def _low_adjoint(s: Any) -> Any:
    """The adjoint of :func:`_sym_low`: ``tril(S + S^T) - diag(S)``."""
    return E.sub(S.tril(E.add(s, mT(s))), E.mul(s, _eye_like(s)))


def _diagonal(x: Any) -> Any:
    """The diagonal of each matrix of a stack."""
    if x.ndim == 2:
        return S.diagonal(x)
    return N.diagonal(x, 0, -2, -1)


def _trace(x: Any) -> Any:
    return A.total(_diagonal(x), -1)


def _col(v: Any) -> Any:
    """A vector (or a stack of vectors) as a column (``v[..., None]``)."""
    return A.reshape(v, (*v.shape, 1))


def _row(v: Any) -> Any:
    return A.reshape(v, (*v.shape[:-1], 1, v.shape[-1]))


def _outer_last(a: Any, b: Any) -> Any:
    """``a b^T`` for (stacks of) vectors."""
    return A.outer(a, b) if a.ndim == 1 else E.mul(_col(a), _row(b))


def _scale(g: Any, m: Any) -> Any:
    """A scalar per matrix times each matrix of a stack."""
    return E.mul(g, m) if g.ndim == 0 else E.mul(A.reshape(g, (*g.shape, 1, 1)), m)


# -- Cholesky and triangular solves ------------------------------------------------------------------------


def _cholesky_rule(a: VType) -> VType:
    _square(a, "cholesky")
    return VType(a.shape, DType.F64)


cholesky_p = register(
    Primitive(
        "cholesky",
        _cholesky_rule,
        lambda a: np.linalg.cholesky(np.asarray(a, dtype=np.float64)),
        _display("np.linalg.cholesky"),
        emit_lines=_looped(lambda a: f"np.linalg.cholesky({a[0]})", [2], 2),
    )
)


def cholesky(a: Any) -> Any:
    """The lower Cholesky factor ``L`` of ``a = L L^T`` (only the lower triangle of ``a`` is read)."""
    return bind(cholesky_p, a)


def _trisolve_rule(a: VType, b: VType, *, lower: bool, trans: bool) -> VType:
    _square(a, "a triangular solve")
    core = b.rank - (a.rank - 2)
    if core not in (1, 2) or b.shape[: b.rank - core] != a.shape[:-2] or b.shape[b.rank - core] != a.shape[-1]:
        raise ValueError(f"a right-hand side of shape {b.shape} does not fit a matrix of shape {a.shape}")
    return VType(b.shape, DType.F64)


def _trisolve_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    core = types[1].rank - (types[0].rank - 2)
    expr = lambda a: f"_dcl.solve_triangular({a[0]}, {a[1]}, {params['lower']}, {params['trans']})"
    return _looped(expr, [2, core], core)(target, args, params, types, out)


def _trisolve_impl(a: Any, b: Any, *, lower: bool, trans: bool) -> Any:
    from dcompile.runtime.linalg import solve_triangular

    core = np.ndim(b) - (np.ndim(a) - 2)
    return _impl_batched(lambda m, v: solve_triangular(m, v, lower, trans), [2, core])(a, b)


trisolve_p = register(
    Primitive(
        "trisolve",
        _trisolve_rule,
        _trisolve_impl,
        lambda args, params, types: (
            f"_dcl.solve_triangular({args[0][0]}, {args[1][0]}, {params['lower']}, {params['trans']})",
            PREC_ATOM,
        ),
        emit_lines=_trisolve_lines,
        imports=IMPORT_LINALG,
    )
)


def trisolve(a: Any, b: Any, *, lower: bool, trans: bool = False) -> Any:
    """``op(a)^-1 b`` for a triangular ``a``: ``op`` is the transpose when ``trans``; the other triangle is ignored."""
    return bind(trisolve_p, a, b, lower=bool(lower), trans=bool(trans))


def _triangle(x: Any, lower: bool) -> Any:
    return S.tril(x) if lower else S.triu(x)


def _is_vector_rhs(a: Any, b: Any) -> bool:
    return b.ndim == a.ndim - 1


def _matvec(m: Any, x: Any, vector: bool) -> Any:
    return A.matmul(m, x) if not vector or m.ndim == 2 else A.reshape(A.matmul(m, _col(x)), x.shape)


def _trisolve_jvp_a(t: Any, ans: Any, a: Any, b: Any, *, lower: bool, trans: bool) -> Any:
    dt = _triangle(t, lower)
    op = mT(dt) if trans else dt
    return E.neg(trisolve(a, _matvec(op, ans, _is_vector_rhs(a, b)), lower=lower, trans=trans))


def _trisolve_vjp_a(g: Any, ans: Any, a: Any, b: Any, *, lower: bool, trans: bool) -> Any:
    gb = trisolve(a, g, lower=lower, trans=not trans)
    prod = _outer_last(gb, ans) if _is_vector_rhs(a, b) else A.matmul(gb, mT(ans))
    return E.neg(_triangle(mT(prod) if trans else prod, lower))


E.defjvp(trisolve_p, _trisolve_jvp_a, lambda t, ans, a, b, *, lower, trans: trisolve(a, t, lower=lower, trans=trans))
E.defvjp(
    trisolve_p, _trisolve_vjp_a, lambda g, ans, a, b, *, lower, trans: trisolve(a, g, lower=lower, trans=not trans)
)


def _cholesky_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dL = L Phi(L^-1 sym(dA) L^-T)``."""
    m = _sym_low(t)
    y = trisolve(ans, m, lower=True)  # L^-1 M
    x = mT(trisolve(ans, mT(y), lower=True))  # (L^-1 (L^-1 M)^T)^T = L^-1 M L^-T (M symmetric)
    return A.matmul(ans, _phi(x))


def _cholesky_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``A_bar = tril(S + S^T) - diag(S)``, ``S = L^-T Phi(L^T L_bar) L^-1`` (the adjoint of the JVP)."""
    p = _phi(A.matmul(mT(ans), g))
    y = trisolve(ans, p, lower=True, trans=True)  # L^-T P
    s = mT(trisolve(ans, mT(y), lower=True, trans=True))  # (L^-T (L^-T P)^T)^T = L^-T P L^-1
    return _low_adjoint(s)


E.defjvp(cholesky_p, _cholesky_jvp)
E.defvjp(cholesky_p, _cholesky_vjp)


# -- the SPD shortcuts: log-determinant, solve and inverse through a Cholesky factor ------------------------
#
# ``sum(log(diag(cholesky(K))))`` and ``cho_solve((cholesky(K), True), b)`` are how objectives write
# log det K and K^-1 b. Differentiated literally, the reverse sweep goes back through the Cholesky
# factorisation (Murray's adjoint: a general matrix product and two triangular solves with n
# right-hand sides, ~4 n^3 flops). Their gradients in K are known in closed form — K^-1 / 2 and
# -K^-1 x_bar x^T — and K^-1 comes from the factor already at hand (LAPACK dpotri, ~2 n^3 / 3
# flops). So these patterns are recognised when they are built (identities of ``reduce_sum`` and
# ``trisolve``) and become primitives of (K, L): the factor L = cholesky(K) is an input for the
# value only; the derivative flows through K. Same numbers, about a third of the work.


def _cho_inverse_rule(fac: VType) -> VType:
    _square(fac, "cho_inverse")
    return VType(fac.shape, DType.F64)


def _cho_inverse_impl(fac: Any) -> Any:
    from dcompile.runtime.linalg import cho_inverse

    return _impl_batched(cho_inverse, [2])(fac)


cho_inverse_p = register(
    Primitive(
        "cho_inverse",
        _cho_inverse_rule,
        _cho_inverse_impl,
        _display("_dcl.cho_inverse"),
        emit_lines=_looped(lambda a: f"_dcl.cho_inverse({a[0]})", [2], 2),
        imports=IMPORT_LINALG,
    )
)


def cho_inverse(fac: Any) -> Any:
    """``(L L^T)^-1`` from a lower Cholesky factor (symmetric, both triangles)."""
    return bind(cho_inverse_p, fac)


def _cho_inverse_jvp(t: Any, ans: Any, fac: Any) -> Any:
    """``dY = -Y (dL L^T + L dL^T) Y``."""
    dt = S.tril(t)
    m = A.matmul(dt, mT(fac))
    return E.neg(A.matmul(ans, A.matmul(E.add(m, mT(m)), ans)))


def _cho_inverse_vjp(g: Any, ans: Any, fac: Any) -> Any:
    """``L_bar = -tril((M + M^T) L)``, ``M = Y Y_bar Y``."""
    m = A.matmul(ans, A.matmul(g, ans))
    return E.neg(S.tril(A.matmul(E.add(m, mT(m)), fac)))


E.defjvp(cho_inverse_p, _cho_inverse_jvp)
E.defvjp(cho_inverse_p, _cho_inverse_vjp)


def _spd_logdet_rule(k: VType, fac: VType) -> VType:
    _square(k, "logdet")
    return VType(k.shape[:-2], DType.F64)


def _spd_logdet_impl(k: Any, fac: Any) -> Any:
    return 2.0 * np.sum(np.log(np.diagonal(np.asarray(fac, dtype=np.float64), axis1=-2, axis2=-1)), axis=-1)


spd_logdet_p = register(
    Primitive(
        "spd_logdet",
        _spd_logdet_rule,
        _spd_logdet_impl,
        _display("spd_logdet"),
        emit_lines=_looped(lambda a: f"2.0 * np.sum(np.log(np.diag({a[1]})))", [2, 2], 0),
    )
)
# d log det K = tr(K^-1 sym(dK)) with K read through its lower triangle (as np.linalg.cholesky reads it).
E.defjvp(spd_logdet_p, lambda t, ans, k, fac: _trace(spd_solve(k, fac, _sym_low(t))), None)
E.defvjp(spd_logdet_p, lambda g, ans, k, fac: _scale(g, _low_adjoint(cho_inverse(fac))), None)


def spd_logdet(k: Any, fac: Any) -> Any:
    """``log det K`` from its Cholesky factor ``L`` (the derivative is taken in ``K``)."""
    return bind(spd_logdet_p, k, fac)


def _spd_solve_rule(k: VType, fac: VType, b: VType) -> VType:
    _square(k, "spd_solve")
    return VType(b.shape, DType.F64)


def _spd_solve_impl(k: Any, fac: Any, b: Any) -> Any:
    from dcompile.runtime.linalg import solve_triangular

    core = np.ndim(b) - (np.ndim(fac) - 2)

    def one(m: Any, v: Any) -> Any:
        return solve_triangular(m, solve_triangular(m, v, True, False), True, True)

    return _impl_batched(one, [2, core])(fac, b)


def _spd_solve_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    core = types[2].rank - (types[1].rank - 2)

    def expr(a: list[str]) -> str:
        return f"_dcl.solve_triangular({a[0]}, _dcl.solve_triangular({a[0]}, {a[1]}, True, False), True, True)"

    return _looped(expr, [2, core], core)(target, [args[1], args[2]], params, [types[1], types[2]], out)


spd_solve_p = register(
    Primitive(
        "spd_solve",
        _spd_solve_rule,
        _spd_solve_impl,
        _display("cho_solve"),
        emit_lines=_spd_solve_lines,
        imports=IMPORT_LINALG,
    )
)


def spd_solve(k: Any, fac: Any, b: Any) -> Any:
    """``K^-1 b`` with the Cholesky factor ``L`` of ``K`` (two triangular solves; the derivative is taken in ``K``)."""
    return bind(spd_solve_p, k, fac, b)


def _spd_solve_jvp_k(t: Any, ans: Any, k: Any, fac: Any, b: Any) -> Any:
    return E.neg(spd_solve(k, fac, _matvec(_sym_low(t), ans, _is_vector_rhs(k, b))))


def _spd_solve_vjp_k(g: Any, ans: Any, k: Any, fac: Any, b: Any) -> Any:
    gb = spd_solve(k, fac, g)
    prod = _outer_last(gb, ans) if _is_vector_rhs(k, b) else A.matmul(gb, mT(ans))
    return E.neg(_low_adjoint(prod))


E.defjvp(spd_solve_p, _spd_solve_jvp_k, None, lambda t, ans, k, fac, b: spd_solve(k, fac, t))
E.defvjp(spd_solve_p, _spd_solve_vjp_k, None, lambda g, ans, k, fac, b: spd_solve(k, fac, g))


def _producer(x: Any) -> tuple[Any, list[Tracer], dict[str, Any]]:
    e = x.builder.producer.get(x.value) if isinstance(x, Tracer) else None
    if e is None:
        return None, [], {}
    return e.prim, [Tracer(x.builder, v) for v in e.inputs], e.kwargs


def _factor_of(fac: Any) -> tuple[Any, Any] | None:
    """``(K, L)`` if ``fac`` is ``cholesky(K)`` (a lower factor), else None."""
    prim, ins, _ = _producer(fac)
    return (ins[0], fac) if prim is cholesky_p else None


def _cho_solve_identity(a: Tracer, b: Tracer, *, lower: bool, trans: bool) -> Any:
    """``L^-T (L^-1 b)`` with ``L = cholesky(K)`` is ``spd_solve(K, L, b)`` (and the upper-factor form)."""
    prim, ins, kw = _producer(b)
    if prim is not trisolve_p or ins[0].value is not a.value:
        return None
    if lower and trans and kw == {"lower": True, "trans": False}:
        found = _factor_of(a)
        return spd_solve(found[0], found[1], ins[1]) if found else None
    if not lower and not trans and kw == {"lower": False, "trans": True}:
        tprim, tins, _ = _producer(a)  # U = L^T: a = U^T U = L L^T
        if tprim is A.transpose_p and tins[0].ndim == 2:
            found = _factor_of(tins[0])
            return spd_solve(found[0], found[1], ins[1]) if found else None
    return None


def _logdet_identity(x: Tracer, *, axes: tuple[int, ...]) -> Any:
    """``sum(log(diag(cholesky(K))))`` is ``spd_logdet(K, L) / 2`` (also through the transposed factor)."""
    prim, ins, _ = _producer(x)
    if prim is not E.log_p or x.ndim != 1 or axes != (0,):
        return None
    dprim, dins, dkw = _producer(ins[0])
    if dprim is not S.diagonal_p or dkw.get("k", 0) != 0:
        return None
    factor = dins[0]
    tprim, tins, _ = _producer(factor)
    if tprim is A.transpose_p and tins[0].ndim == 2:
        factor = tins[0]
    found = _factor_of(factor)
    return E.mul(0.5, spd_logdet(found[0], found[1])) if found else None


trisolve_p.add_identity(_cho_solve_identity)
A.reduce_sum_p.add_identity(_logdet_identity)


# -- general solve, inverse, determinants --------------------------------------------------------------


def _solve_rule(a: VType, b: VType) -> VType:
    _square(a, "solve")
    vector = b.rank == 1
    if vector and b.shape[0] != a.shape[-1]:
        raise ValueError(f"b of shape {b.shape} does not fit a of shape {a.shape}")
    if not vector and (b.shape[-2] != a.shape[-1] or b.shape[:-2] != a.shape[:-2]):
        raise ValueError(f"b of shape {b.shape} does not fit a of shape {a.shape}")
    return VType(b.shape if not vector or a.rank == 2 else (*a.shape[:-1],), DType.F64)


solve_p = register(
    Primitive(
        "solve",
        _solve_rule,
        lambda a, b: np.linalg.solve(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)),
        _display("np.linalg.solve"),
        emit_lines=_looped(lambda a: f"np.linalg.solve({a[0]}, {a[1]})", [2, 2], 2),
    )
)


def solve(a: Any, b: Any) -> Any:
    """``a^-1 b`` (LU with pivoting); ``b`` a vector, a matrix, or a stack of matrices."""
    if b.ndim == 1 and a.ndim > 2:  # NumPy 2: a vector right-hand side of every matrix of the stack
        return A.reshape(bind(solve_p, a, A.broadcast_to(_col(b), (*a.shape[:-1], 1))), a.shape[:-1])
    return bind(solve_p, a, b)


def _solve_jvp_a(t: Any, ans: Any, a: Any, b: Any) -> Any:
    return E.neg(solve(a, _matvec(t, ans, b.ndim == 1)))


def _solve_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    gb = solve(mT(a), g)
    return E.neg(_outer_last(gb, ans) if b.ndim == 1 else A.matmul(gb, mT(ans)))


E.defjvp(solve_p, _solve_jvp_a, lambda t, ans, a, b: solve(a, t))
E.defvjp(solve_p, _solve_vjp_a, lambda g, ans, a, b: solve(mT(a), g))


def _same_square(a: VType) -> VType:
    _square(a, "inv")
    return VType(a.shape, DType.F64)


inv_p = register(
    Primitive(
        "inv",
        _same_square,
        lambda a: np.linalg.inv(np.asarray(a, dtype=np.float64)),
        _display("np.linalg.inv"),
        emit_lines=_looped(lambda a: f"np.linalg.inv({a[0]})", [2], 2),
    )
)


def inv(a: Any) -> Any:
    return bind(inv_p, a)


E.defjvp(inv_p, lambda t, ans, a: E.neg(A.matmul(ans, A.matmul(t, ans))))
E.defvjp(inv_p, lambda g, ans, a: E.neg(A.matmul(mT(ans), A.matmul(g, mT(ans)))))


def _slogdet_rule(a: VType) -> VType:
    _square(a, "slogdet")
    return VType((*a.shape[:-2], 2), DType.F64)


def _slogdet_impl(a: Any) -> Any:
    sign, logdet = np.linalg.slogdet(np.asarray(a, dtype=np.float64))
    return np.stack([sign, logdet], axis=-1)


# [sign, log|det|] in one vector: one LU for both.
slogdet_p = register(
    Primitive(
        "slogdet",
        _slogdet_rule,
        _slogdet_impl,
        _display("np.linalg.slogdet"),
        emit_lines=_looped(lambda a: f"np.array(np.linalg.slogdet({a[0]}))", [2], 1),
    )
)


def _logdet_tangent(t: Any, a: Any) -> Any:
    """``tr(A^-1 dA)``, with a solve."""
    return _trace(solve(a, t))


def _slogdet_jvp(t: Any, ans: Any, a: Any) -> Any:
    dl = _logdet_tangent(t, a)
    shape = ans.shape
    lead = tuple((0, n, 1) for n in shape[:-1])
    return A.pad(A.reshape(dl, (*dl.shape, 1)), shape, (*lead, (1, 2, 1)))


def _slogdet_vjp(g: Any, ans: Any, a: Any) -> Any:
    return _scale(g[..., 1], mT(inv(a)))


E.defjvp(slogdet_p, _slogdet_jvp)
E.defvjp(slogdet_p, _slogdet_vjp)


def slogdet(a: Any) -> tuple[Any, Any]:
    """``(sign, log|det a|)``; the sign has no derivative."""
    packed = bind(slogdet_p, a)
    return A.stop_gradient(packed[..., 0]), packed[..., 1]


def _det_rule(a: VType) -> VType:
    _square(a, "det")
    return VType(a.shape[:-2], DType.F64)


det_p = register(
    Primitive(
        "det",
        _det_rule,
        lambda a: np.linalg.det(np.asarray(a, dtype=np.float64)),
        _display("np.linalg.det"),
        emit_lines=_looped(lambda a: f"np.linalg.det({a[0]})", [2], 0),
    )
)
E.defjvp(det_p, lambda t, ans, a: E.mul(ans, _logdet_tangent(t, a)))
E.defvjp(det_p, lambda g, ans, a: _scale(E.mul(g, ans), mT(inv(a))))


def det(a: Any) -> Any:
    return bind(det_p, a)


# -- symmetric eigenproblem ------------------------------------------------------------------------------


def _eigh_rule(a: VType) -> VType:
    _square(a, "eigh")
    n = a.shape[-1]
    return VType((*a.shape[:-2], n + 1, n), DType.F64)


def _eigh_impl(a: Any) -> Any:
    w, v = np.linalg.eigh(np.asarray(a, dtype=np.float64))
    return np.concatenate([w[..., None, :], v], axis=-2)


def _eigh_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    a, t = args[0], types[0]
    n = t.shape[-1]
    batch = t.shape[:-2]
    if not batch:
        return [
            f"_{target}_w, _{target}_v = np.linalg.eigh({a})",
            f"{target} = np.empty(({n + 1}, {n}))",
            f"{target}[0] = _{target}_w",
            f"{target}[1:] = _{target}_v",
        ]
    count = int(np.prod(batch, dtype=np.int64))
    return [
        f"_{target}_a = np.ascontiguousarray({a}).reshape(({count}, {n}, {n}))",
        f"{target} = np.empty(({count}, {n + 1}, {n}))",
        f"for _b in range({count}):",
        f"    _{target}_w, _{target}_v = np.linalg.eigh(_{target}_a[_b])",
        f"    {target}[_b, 0] = _{target}_w",
        f"    {target}[_b, 1:] = _{target}_v",
        f"{target} = {target}.reshape({_tuple_src(out.shape)})",
    ]


# Eigenvalues (first row) and eigenvectors (the rest, as columns) of a symmetric matrix, in one array.
eigh_p = register(Primitive("eigh", _eigh_rule, _eigh_impl, _display("np.linalg.eigh"), emit_lines=_eigh_lines))


def _eigh_parts(packed: Any) -> tuple[Any, Any]:
    return packed[..., 0, :], packed[..., 1:, :]


def _gaps(w: Any) -> Any:
    """``F_ij = 1 / (w_j - w_i)`` off the diagonal, 0 on it."""
    diff = E.sub(_row(w), _col(w))
    eye = _eye_like(diff, DType.BOOL)
    return E.where(eye, 0.0, E.div(1.0, E.where(eye, 1.0, diff)))


def _eigh_jvp(t: Any, ans: Any, a: Any) -> Any:
    w, v = _eigh_parts(ans)
    p = A.matmul(mT(v), A.matmul(_sym_low(t), v))
    dw = _diagonal(p)
    dv = A.matmul(v, E.mul(_gaps(w), p))
    return A.concatenate([_row(dw), dv], dv.ndim - 2)


def _eigh_vjp(g: Any, ans: Any, a: Any) -> Any:
    w, v = _eigh_parts(ans)
    gw, gv = _eigh_parts(g)
    inner = E.add(E.mul(_col(gw), _eye_like(v)), E.mul(_gaps(w), A.matmul(mT(v), gv)))
    s = A.matmul(v, A.matmul(inner, mT(v)))
    return _low_adjoint(s)


E.defjvp(eigh_p, _eigh_jvp)
E.defvjp(eigh_p, _eigh_vjp)


def eigh(a: Any) -> tuple[Any, Any]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix (its lower triangle is read)."""
    return _eigh_parts(bind(eigh_p, a))


# -- singular values and vectors --------------------------------------------------------------------------


def _svd_sizes(a: VType) -> tuple[int, int, int]:
    m, n = a.shape[-2:]
    return m, n, min(m, n)


def _svd_rule(a: VType) -> VType:
    if a.rank < 2:
        raise ValueError("svd needs a matrix")
    m, n, k = _svd_sizes(a)
    return VType((*a.shape[:-2], m * k + k + k * n), DType.F64)


def _svd_impl(a: Any) -> Any:
    u, s, vt = np.linalg.svd(np.asarray(a, dtype=np.float64), full_matrices=False)
    lead = s.shape[:-1]
    return np.concatenate([u.reshape((*lead, -1)), s, vt.reshape((*lead, -1))], axis=-1)


def _svd_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    m, n, k = _svd_sizes(types[0])
    a = args[0]
    batch = types[0].shape[:-2]
    count = int(np.prod(batch, dtype=np.int64)) if batch else 1
    src = f"np.ascontiguousarray({a}).reshape(({count}, {m}, {n}))"
    return [
        f"_{target}_a = {src}",
        f"{target} = np.empty(({count}, {m * k + k + k * n}))",
        f"for _b in range({count}):",
        f"    _{target}_u, _{target}_s, _{target}_vt = np.linalg.svd(_{target}_a[_b], False)",
        f"    {target}[_b, :{m * k}] = _{target}_u.ravel()",
        f"    {target}[_b, {m * k}:{m * k + k}] = _{target}_s",
        f"    {target}[_b, {m * k + k}:] = _{target}_vt.ravel()",
        f"{target} = {target}.reshape({_tuple_src(out.shape)})",
    ]


# U (m x k), s (k) and V^T (k x n) of the reduced SVD, raveled into one vector.
svd_p = register(Primitive("svd", _svd_rule, _svd_impl, _display("np.linalg.svd"), emit_lines=_svd_lines))


def _svd_parts(packed: Any, shape: tuple[int, ...]) -> tuple[Any, Any, Any]:
    m, n = shape[-2:]
    k = min(m, n)
    lead = packed.shape[:-1]
    u = A.reshape(packed[..., : m * k], (*lead, m, k))
    s = packed[..., m * k : m * k + k]
    vt = A.reshape(packed[..., m * k + k :], (*lead, k, n))
    return u, s, vt


def _svd_jvp(t: Any, ans: Any, a: Any) -> Any:
    """The reduced SVD's tangent (distinct nonzero singular values)."""
    u, s, vt = _svd_parts(ans, a.shape)
    v = mT(vt)
    m, n, k = _svd_sizes(a.type)
    ds_mat = A.matmul(mT(u), A.matmul(t, v))  # U^T dA V
    ds = _diagonal(ds_mat)
    s_row, s_col = _row(s), _col(s)
    f = _svd_gaps(s)
    dss = E.mul(s_row, ds_mat)  # dS diag(s)
    sds = E.mul(s_col, ds_mat)  # diag(s) dS
    s_inv = E.div(1.0, s)
    skew = E.mul(E.mul(0.5, E.sub(ds_mat, mT(ds_mat))), E.mul(_row(s_inv), _eye_like(ds_mat)))
    du = A.matmul(u, E.add(E.mul(f, E.add(dss, mT(dss))), skew))
    dv = A.matmul(v, E.mul(f, E.add(sds, mT(sds))))
    if m > n:
        dav = A.matmul(t, v)
        du = E.add(du, E.mul(E.sub(dav, A.matmul(u, A.matmul(mT(u), dav))), _row(s_inv)))
    if n > m:
        dau = A.matmul(mT(t), u)
        dv = E.add(dv, E.mul(E.sub(dau, A.matmul(v, A.matmul(vt, dau))), _row(s_inv)))
    lead = ans.shape[:-1]
    return A.concatenate([A.reshape(du, (*lead, m * k)), ds, A.reshape(mT(dv), (*lead, k * n))], ans.ndim - 1)


def _svd_gaps(s: Any) -> Any:
    """``F_ij = 1 / (s_j^2 - s_i^2)`` off the diagonal, 0 on it."""
    s2 = E.integer_pow(s, 2)
    diff = E.sub(_row(s2), _col(s2))
    eye = _eye_like(diff, DType.BOOL)
    return E.where(eye, 0.0, E.div(1.0, E.where(eye, 1.0, diff)))


def _svd_vjp(g: Any, ans: Any, a: Any) -> Any:
    """Townsend (2016): the adjoint of the reduced SVD."""
    u, s, vt = _svd_parts(ans, a.shape)
    gu, gs, gvt = _svd_parts(g, a.shape)
    v, gv = mT(vt), mT(gvt)
    m, n, _ = _svd_sizes(a.type)
    f = _svd_gaps(s)
    s_row, s_col = _row(s), _col(s)
    s_inv = E.div(1.0, s)
    utgu = A.matmul(mT(u), gu)
    vtgv = A.matmul(vt, gv)
    j = E.mul(f, E.sub(utgu, mT(utgu)))
    k_ = E.mul(f, E.sub(vtgv, mT(vtgv)))
    core = E.add(E.add(E.mul(j, s_row), E.mul(_col(gs), _eye_like(j))), E.mul(s_col, k_))
    out = A.matmul(u, A.matmul(core, vt))
    if m > n:
        proj = E.sub(gu, A.matmul(u, utgu))  # (I - U U^T) U_bar
        out = E.add(out, A.matmul(E.mul(proj, _row(s_inv)), vt))
    if n > m:
        proj = E.sub(gv, A.matmul(v, vtgv))  # (I - V V^T) V_bar
        out = E.add(out, A.matmul(E.mul(u, _row(s_inv)), mT(proj)))
    return out


E.defjvp(svd_p, _svd_jvp)
E.defvjp(svd_p, _svd_vjp)


def svd(a: Any) -> tuple[Any, Any, Any]:
    """``U, s, V^T`` of the reduced SVD (distinct nonzero singular values for derivatives: documented)."""
    return _svd_parts(bind(svd_p, a), a.shape)


def _svdvals_rule(a: VType) -> VType:
    k = _svd_sizes(a)[2]
    return VType((*a.shape[:-2], k), DType.F64)


svdvals_p = register(
    Primitive(
        "svdvals",
        _svdvals_rule,
        lambda a: np.linalg.svd(np.asarray(a, dtype=np.float64), compute_uv=False),
        _display("np.linalg.svdvals"),
        emit_lines=_looped(lambda a: f"np.linalg.svd({a[0]}, False)[1]", [2], 1),
    )
)


def _svdvals_jvp(t: Any, ans: Any, a: Any) -> Any:
    u, _, vt = svd(a)
    return _diagonal(A.matmul(mT(u), A.matmul(t, mT(vt))))


def _svdvals_vjp(g: Any, ans: Any, a: Any) -> Any:
    u, _, vt = svd(a)
    return A.matmul(E.mul(u, _row(g)), vt)


E.defjvp(svdvals_p, _svdvals_jvp)
E.defvjp(svdvals_p, _svdvals_vjp)


def svdvals(a: Any) -> Any:
    """The singular values (descending); their gradient is ``U diag(s_bar) V^T`` (distinct values)."""
    return bind(svdvals_p, a)


# -- QR -----------------------------------------------------------------------------------------------------


def _qr_rule(a: VType) -> VType:
    if a.rank < 2:
        raise ValueError("qr needs a matrix")
    m, n, k = _svd_sizes(a)
    return VType((*a.shape[:-2], m * k + k * n), DType.F64)


def _qr_impl(a: Any) -> Any:
    q, r = np.linalg.qr(np.asarray(a, dtype=np.float64))
    lead = q.shape[:-2]
    return np.concatenate([q.reshape((*lead, -1)), r.reshape((*lead, -1))], axis=-1)


def _qr_lines(
    target: str, args: Sequence[str], params: dict[str, Any], types: Sequence[VType], out: VType
) -> list[str]:
    m, n, k = _svd_sizes(types[0])
    batch = types[0].shape[:-2]
    count = int(np.prod(batch, dtype=np.int64)) if batch else 1
    return [
        f"_{target}_a = np.ascontiguousarray({args[0]}).reshape(({count}, {m}, {n}))",
        f"{target} = np.empty(({count}, {m * k + k * n}))",
        f"for _b in range({count}):",
        f"    _{target}_q, _{target}_r = np.linalg.qr(_{target}_a[_b])",
        f"    {target}[_b, :{m * k}] = _{target}_q.ravel()",
        f"    {target}[_b, {m * k}:] = _{target}_r.ravel()",
        f"{target} = {target}.reshape({_tuple_src(out.shape)})",
    ]


# Q (m x k) and R (k x n) of the reduced QR, raveled into one vector.
qr_p = register(Primitive("qr", _qr_rule, _qr_impl, _display("np.linalg.qr"), emit_lines=_qr_lines))


def _qr_parts(packed: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    m, n = shape[-2:]
    k = min(m, n)
    lead = packed.shape[:-1]
    return A.reshape(packed[..., : m * k], (*lead, m, k)), A.reshape(packed[..., m * k :], (*lead, k, n))


def _tall(a: Any) -> None:
    m, n = a.shape[-2:]
    if m < n:
        raise trace_error(
            f"the derivative of QR of a wide matrix ({m} x {n}) is not supported.",
            "differentiate the QR of the transpose (m >= n)",
            UnsupportedError,
        )


def _right_rinv(x: Any, r: Any) -> Any:
    """``x R^-1`` for an upper triangular ``R``: ``(R^-T x^T)^T``."""
    return mT(trisolve(r, mT(x), lower=False, trans=True))


def _qr_jvp(t: Any, ans: Any, a: Any) -> Any:
    _tall(a)
    q, r = _qr_parts(ans, a.shape)
    z = _right_rinv(t, r)  # dA R^-1
    c = A.matmul(mT(q), z)
    low = S.tril(c, -1)
    do = E.sub(low, mT(low))
    dq = E.add(A.matmul(q, E.sub(do, c)), z)
    dr = A.matmul(E.sub(c, do), r)
    lead = ans.shape[:-1]
    flat_q = A.reshape(dq, (*lead, dq.shape[-2] * dq.shape[-1]))
    flat_r = A.reshape(dr, (*lead, dr.shape[-2] * dr.shape[-1]))
    return A.concatenate([flat_q, flat_r],
                         ans.ndim - 1)  # fmt: skip


def _qr_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``A_bar = (Q_bar + Q N) R^-T``, ``N`` the upper triangle of ``M = R R_bar^T - Q^T Q_bar`` mirrored."""
    _tall(a)
    q, r = _qr_parts(ans, a.shape)
    gq, gr = _qr_parts(g, a.shape)
    m_ = E.sub(A.matmul(gr, mT(r)), A.matmul(mT(q), gq))
    n_ = E.add(S.triu(m_), mT(S.triu(m_, 1)))
    y = E.add(gq, A.matmul(q, n_))
    return mT(trisolve(r, mT(y), lower=False))  # y R^-T = (R^-1 y^T)^T


E.defjvp(qr_p, _qr_jvp)
E.defvjp(qr_p, _qr_vjp)


def qr(a: Any, mode: str = "reduced") -> Any:
    """``Q, R`` of the reduced QR (``mode="r"``: ``R`` only)."""
    if mode not in ("reduced", "r", "economic"):
        if mode == "complete" and a.shape[-2] <= a.shape[-1]:
            mode = "reduced"  # the same factors for a square or wide matrix
        else:
            raise trace_error(f"np.linalg.qr with mode={mode!r}.", "use mode='reduced'", UnsupportedError)
    q, r = _qr_parts(bind(qr_p, a), a.shape)
    return r if mode == "r" else (q, r)


# -- NumPy's and SciPy's spellings --------------------------------------------------------------------------


def _lift2(*xs: Any) -> list[Tracer]:
    return N._lift_all(list(xs))


@implements("numpy.linalg.cholesky")
def np_cholesky(a: Any, /, *, upper: bool = False) -> Any:
    (a,) = _lift2(a)
    return mT(cholesky(mT(a))) if upper else cholesky(a)  # the upper factor reads the upper triangle


@implements("numpy.linalg.solve")
def np_solve(a: Any, b: Any) -> Any:
    a, b = _lift2(a, b)
    return solve(a, b)


@implements("numpy.linalg.inv")
def np_inv(a: Any) -> Any:
    (a,) = _lift2(a)
    return inv(a)


@implements("numpy.linalg.det")
def np_det(a: Any) -> Any:
    (a,) = _lift2(a)
    return det(a)


@implements("numpy.linalg.slogdet")
def np_slogdet(a: Any) -> tuple[Any, Any]:
    (a,) = _lift2(a)
    return slogdet(a)


@implements("numpy.linalg.eigh")
def np_eigh(a: Any, UPLO: str = "L") -> tuple[Any, Any]:
    (a,) = _lift2(a)
    return eigh(a if UPLO == "L" else mT(a))


@implements("numpy.linalg.eigvalsh")
def np_eigvalsh(a: Any, UPLO: str = "L") -> Any:
    return np_eigh(a, UPLO)[0]


@implements("numpy.linalg.svd")
def np_svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    (a,) = _lift2(a)
    if not compute_uv:
        return svdvals(a)
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        raise trace_error(
            "np.linalg.svd with full_matrices=True of a non-square matrix (the extra columns have no derivative).",
            "pass full_matrices=False (the reduced SVD)",
            UnsupportedError,
        )
    return svd(a)


@implements("numpy.linalg.svdvals")
def np_svdvals(x: Any) -> Any:
    (x,) = _lift2(x)
    return svdvals(x)


@implements("numpy.linalg.qr")
def np_qr(a: Any, mode: str = "reduced") -> Any:
    (a,) = _lift2(a)
    return qr(a, mode)


@implements("numpy.linalg.lstsq")
def np_lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, Any, Any]:
    """Least squares by QR (full rank): ``(x, residuals, rank, s)`` as NumPy returns them."""
    a, b = _lift2(a, b)
    x = lstsq_solution(a, b)
    m, n = a.shape
    s = svdvals(a)
    cutoff = (np.finfo(np.float64).eps * max(m, n)) if rcond is None else float(rcond)
    rank = E.astype(
        A.total(E.astype(E.greater(s, E.mul(cutoff, A.amax(s, None, False))), DType.F64), None, False), DType.I64
    )
    if m > n:
        r = E.sub(b, A.matmul(a, x))
        res = A.total(E.integer_pow(r, 2), 0, False)
        residuals = A.reshape(res, (1,)) if res.ndim == 0 else res
    else:
        residuals = np.zeros(0)
    return x, residuals, rank, s


def lstsq_solution(a: Any, b: Any) -> Any:
    """The least-squares solution of full rank ``a`` (minimum norm when ``a`` is wide)."""
    m, n = a.shape[-2:]
    if m >= n:
        q, r = qr(a)
        return trisolve(r, A.matmul(mT(q), b), lower=False)
    q, r = qr(mT(a))  # a = R^T Q^T: x = Q R^-T b
    return A.matmul(q, trisolve(r, b, lower=False, trans=True))


@implements("numpy.linalg.pinv")
def np_pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    """The pseudo-inverse ``V diag(1/s) U^T``, small singular values cut as NumPy does (rcond 1e-15)."""
    (a,) = _lift2(a)
    u, s, vt = svd(a)
    cut = 1e-15 if rcond is None and rtol is None else float(rcond if rcond is not None else rtol)
    keep = E.greater(s, E.mul(cut, A.stop_gradient(A.amax(s, -1, True))))
    s_inv = E.where(keep, E.div(1.0, E.where(keep, s, 1.0)), 0.0)
    return A.matmul(E.mul(mT(vt), _row(s_inv)), mT(u))


@implements("numpy.linalg.matrix_power")
def matrix_power(a: Any, n: int) -> Any:
    (a,) = _lift2(a)
    k = int(n)
    if k == 0:
        return A.broadcast_to(_eye_like(a), a.shape)
    base = inv(a) if k < 0 else a
    k = abs(k)
    result: Any = None
    while k:  # binary powering
        if k & 1:
            result = base if result is None else A.matmul(result, base)
        k >>= 1
        if k:
            base = A.matmul(base, base)
    return result


@implements("numpy.linalg.multi_dot")
def multi_dot(arrays: Sequence[Any], *, out: Any = None) -> Any:
    """A chain of products in the cheapest order (the classic dynamic programme over static shapes)."""
    E._no_out(out)
    ts = N._lift_all(list(arrays))
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vec:
        ts[0] = _row(ts[0])
    if last_vec:
        ts[-1] = _col(ts[-1])
    dims = [ts[0].shape[0], *(t.shape[1] for t in ts)]
    n = len(ts)
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def chain(i: int, j: int) -> Any:
        if i == j:
            return ts[i]
        k = split[i][j]
        return A.matmul(chain(i, k), chain(k + 1, j))

    out_ = chain(0, n - 1)
    if first_vec:
        out_ = A.reshape(out_, out_.shape[1:])
    if last_vec:
        out_ = A.reshape(out_, out_.shape[:-1])
    return out_


@implements("numpy.linalg.norm")
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.linalg.norm``: vector p-norms, and Frobenius, nuclear, 1, 2 and inf norms of matrices."""
    (x,) = _lift2(x)
    x = E.astype(x, DType.F64) if x.type.dtype is not DType.F64 else x
    if axis is None and ord is None:
        return _keep(E.sqrt(A.total(E.integer_pow(x, 2), None, False)), x, tuple(range(x.ndim)), keepdims)
    axes = tuple(range(x.ndim)) if axis is None else A.axes_of(x, axis)
    if len(axes) == 1:
        return _keep(_vector_norm(x, ord, axes[0]), x, axes, keepdims)
    if len(axes) == 2:
        return _keep(_matrix_norm(x, ord, axes), x, axes, keepdims)
    raise trace_error("np.linalg.norm over more than two axes.", "reshape first", UnsupportedError)


def _keep(out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return out
    return A.reshape(out, tuple(1 if i in axes else n for i, n in enumerate(x.shape)))


def _vector_norm(x: Any, ord: Any, axis: int) -> Any:
    ab = E.absolute(x)
    if ord is None or ord == 2:
        return E.sqrt(A.total(E.integer_pow(x, 2), axis, False))
    if ord == np.inf:
        return A.amax(ab, axis, False)
    if ord == -np.inf:
        return A.amin(ab, axis, False)
    if ord == 0:
        return A.total(E.astype(E.not_equal(x, 0.0), DType.F64), axis, False)
    if ord == 1:
        return A.total(ab, axis, False)
    p = float(ord)
    return E.power(A.total(E.power(ab, p), axis, False), 1.0 / p)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, ...]) -> Any:
    r, c = axes
    if ord in (None, "fro", "f"):
        return E.sqrt(A.total(E.integer_pow(x, 2), axes, False))
    if ord in (1, -1):
        col = A.total(E.absolute(x), r, False)
        return (A.amax if ord == 1 else A.amin)(col, c - 1 if c > r else c, False)
    if ord in (np.inf, -np.inf):
        row = A.total(E.absolute(x), c, False)
        return (A.amax if ord == np.inf else A.amin)(row, r - 1 if r > c else r, False)
    moved = N.moveaxis(x, (r, c), (-2, -1))
    s = svdvals(moved)
    if ord == "nuc":
        return A.total(s, -1, False)
    if ord == 2:
        return A.amax(s, -1, False)
    if ord == -2:
        return A.amin(s, -1, False)
    raise trace_error(f"np.linalg.norm with ord={ord!r} for a matrix.",
                      "use None, 'fro', 'nuc', 1, 2, inf or -1, -2, -inf",
                      UnsupportedError)  # fmt: skip


@implements("numpy.linalg.vector_norm")
def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    (x,) = _lift2(x)
    if axis is None:
        flat = A.reshape(x, (x.size,))
        out = _vector_norm(flat, ord, 0)
        return A.reshape(out, (1,) * x.ndim) if keepdims else out
    return norm(x, ord, axis, keepdims)


@implements("numpy.linalg.matrix_norm")
def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    (x,) = _lift2(x)
    return norm(x, ord, (-2, -1), keepdims)


@implements("numpy.linalg.cond")
def cond(x: Any, p: Any = None) -> Any:
    (x,) = _lift2(x)
    if p is None or p == 2:
        s = svdvals(x)
        return E.div(A.amax(s, -1, False), A.amin(s, -1, False))
    return E.mul(norm(x, p, (-2, -1)), norm(inv(x), p, (-2, -1)))


@implements("numpy.linalg.matrix_rank", derivative=VALUES)
def matrix_rank(A_: Any, tol: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    (a,) = _lift2(A_)
    s = svdvals(a)
    m, n = a.shape[-2:]
    cut = E.mul(A.amax(s, -1, True), float(np.finfo(np.float64).eps * max(m, n))) if tol is None else tol
    return E.astype(A.total(E.astype(E.greater(s, cut), DType.F64), -1, False), DType.I64)


@implements("numpy.linalg.trace")
def linalg_trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    return N.trace(x, offset, -2, -1)


@implements("numpy.linalg.diagonal")
def linalg_diagonal(x: Any, /, *, offset: int = 0) -> Any:
    return N.diagonal(x, offset, -2, -1)


@implements("numpy.linalg.matmul")
def linalg_matmul(x1: Any, x2: Any, /) -> Any:
    return N.matmul(x1, x2)


@implements("numpy.linalg.outer")
def linalg_outer(x1: Any, x2: Any, /) -> Any:
    return N.outer(x1, x2)


@implements("numpy.linalg.tensordot")
def linalg_tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    return N.tensordot(x1, x2, axes)


@implements("numpy.linalg.vecdot", "numpy.vecdot")
def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    x1, x2 = _lift2(x1, x2)
    return A.total(E.mul(x1, x2), axis, False)


# -- scipy.linalg ------------------------------------------------------------------------------------------------


@implements("scipy.linalg.cholesky")
def sp_cholesky(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """SciPy's default is the *upper* factor ``U`` with ``a = U^T U`` (from the upper triangle of ``a``)."""
    (a,) = _lift2(a)
    return cholesky(a) if lower else mT(cholesky(mT(a)))


@implements("scipy.linalg.cho_factor")
def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, bool]:
    """``(c, lower)`` for :func:`cho_solve`; the other triangle of ``c`` is zeros (SciPy leaves it arbitrary)."""
    return sp_cholesky(a, lower), bool(lower)


@implements("scipy.linalg.cho_solve")
def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """``a^-1 b`` from a Cholesky factor: two triangular solves."""
    c, lower = c_and_lower
    c, b = _lift2(c, b)
    if lower:  # a = L L^T
        return trisolve(c, trisolve(c, b, lower=True), lower=True, trans=True)
    return trisolve(c, trisolve(c, b, lower=False, trans=True), lower=False)  # a = U^T U


@implements("scipy.linalg.solve_triangular")
def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, check_finite: bool = True) -> Any:  # fmt: skip
    a, b = _lift2(a, b)
    if unit_diagonal:
        eye = _eye_like(a)
        a = E.add(E.mul(a, E.sub(1.0, eye)), eye)
    t = {0: False, 1: True, "N": False, "T": True, "C": True}[trans]
    return trisolve(a, b, lower=lower, trans=t)


@implements("scipy.linalg.solve")
def sp_solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
             check_finite: bool = True, assume_a: Any = None, transposed: bool = False) -> Any:  # fmt: skip
    a, b = _lift2(a, b)
    if transposed:
        a = mT(a)
    if assume_a in ("pos", "positive definite"):
        return cho_solve((cholesky(a if lower else mT(a)), True), b)
    return solve(a, b)


@implements("scipy.linalg.inv")
def sp_inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    return np_inv(a)


@implements("scipy.linalg.det")
def sp_det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    return np_det(a)


@implements("scipy.linalg.eigh")
def sp_eigh(a: Any, b: Any = None, *, lower: bool = True, eigvals_only: bool = False, **kwargs: Any) -> Any:
    if b is not None:
        raise trace_error("scipy.linalg.eigh with b (a generalized problem).", "solve the standard problem",
                          UnsupportedError)  # fmt: skip
    w, v = np_eigh(a, "L" if lower else "U")
    return w if eigvals_only else (w, v)


@implements("scipy.linalg.eigvalsh")
def sp_eigvalsh(a: Any, b: Any = None, *, lower: bool = True, **kwargs: Any) -> Any:
    return sp_eigh(a, b, lower=lower, eigvals_only=True)


@implements("scipy.linalg.svd")
def sp_svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
           check_finite: bool = True, lapack_driver: str = "gesdd") -> Any:  # fmt: skip
    return np_svd(a, full_matrices, compute_uv)


@implements("scipy.linalg.svdvals")
def sp_svdvals(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    return np_svdvals(a)


@implements("scipy.linalg.qr")
def sp_qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full", pivoting: bool = False,
          check_finite: bool = True) -> Any:  # fmt: skip
    if pivoting:
        raise trace_error("scipy.linalg.qr with pivoting.", "use pivoting=False", UnsupportedError)
    (a,) = _lift2(a)
    m, n = a.shape[-2:]
    if mode == "full" and m > n:
        raise trace_error("scipy.linalg.qr with mode='full' of a tall matrix.", "use mode='economic'", UnsupportedError)
    return qr(a, "r" if mode == "r" else "reduced")


@implements("scipy.linalg.lstsq")
def sp_lstsq(a: Any, b: Any, cond: Any = None, overwrite_a: bool = False, overwrite_b: bool = False,
             check_finite: bool = True, lapack_driver: Any = None) -> Any:  # fmt: skip
    x, residues, rank, s = np_lstsq(a, b, cond)
    return x, residues, rank, s


@implements("scipy.linalg.pinv")
def sp_pinv(a: Any, *, atol: Any = None, rtol: Any = None, return_rank: bool = False, check_finite: bool = True) -> Any:
    return np_pinv(a, rtol=rtol)


@implements("scipy.linalg.norm")
def sp_norm(a: Any, ord: Any = None, axis: Any = None, keepdims: bool = False, check_finite: bool = True) -> Any:
    return norm(a, ord, axis, keepdims)


@implements("scipy.linalg.block_diag")
def block_diag(*arrs: Any) -> Any:
    """A block-diagonal matrix of the given blocks (zero padding by concatenation)."""
    ts = [
        t if t.ndim == 2 else A.reshape(t, (1, t.size)) if t.ndim == 1 else A.reshape(t, (1, 1))
        for t in N._lift_all(list(arrs))
    ]
    cols = sum(t.shape[1] for t in ts)
    rows = []
    offset = 0
    for t in ts:
        parts = []
        if offset:
            parts.append(A.broadcast_to(lift(t.builder, 0.0), (t.shape[0], offset)))
        parts.append(t)
        if cols - offset - t.shape[1]:
            parts.append(A.broadcast_to(lift(t.builder, 0.0), (t.shape[0], cols - offset - t.shape[1])))
        rows.append(A.concatenate(parts, 1) if len(parts) > 1 else t)
        offset += t.shape[1]
    return A.concatenate(rows, 0) if len(rows) > 1 else rows[0]
