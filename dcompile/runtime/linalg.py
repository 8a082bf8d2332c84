"""Triangular solves for generated code: SciPy's in Python, BLAS ``dtrsm`` under numba.

NumPy has no triangular solve and numba supports none, yet the Cholesky
adjoint and ``scipy.linalg.solve_triangular``/``cho_solve`` need one (an LU
solve of a triangular matrix would cost three times as much). Under numba
the call goes to the BLAS ``dtrsm`` that SciPy exports through
``scipy.linalg.cython_blas``; as in :mod:`dcompile.runtime.special`, its
address is registered under a fixed LLVM symbol name when this module is
imported, so numba's disk cache can store the calling code.

Row-major arrays are column-major transposes: ``L X = B`` with ``L``, ``B``
row-major is ``X^T L^T = B^T`` column-major, a right-side ``dtrsm`` with the
triangle flipped.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np


def solve_triangular(a: Any, b: Any, lower: bool, trans: bool) -> Any:
    """``op(a)^-1 b`` for a triangular ``a`` (``op`` the transpose when ``trans``); the other triangle is ignored."""
    from scipy.linalg import solve_triangular as scipy_solve

    return scipy_solve(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), lower=bool(lower),
                       trans=1 if trans else 0, check_finite=False)  # fmt: skip


def cho_inverse(c: Any) -> Any:
    """``(c c^T)^-1`` from a lower Cholesky factor ``c`` (LAPACK ``dpotri``), both triangles filled."""
    from scipy.linalg.lapack import dpotri

    # c^T, upper, as numba's version calls it (the same LAPACK path: the same bits).
    inv, info = dpotri(np.asarray(c, dtype=np.float64).T, lower=0)
    if info != 0:
        return np.full(inv.shape, np.nan)
    return np.triu(inv) + np.triu(inv, 1).T


def _register_numba() -> None:
    """numba's version of :func:`solve_triangular` (typing functions and implementations carry no annotations)."""
    import llvmlite.binding as llb
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import get_cython_function_address, intrinsic, overload, register_jitable

    symbol = "dcompile_blas_dtrsm"
    llb.add_symbol(symbol, get_cython_function_address("scipy.linalg.cython_blas", "dtrsm"))
    i8p = ir.IntType(8).as_pointer()
    i32p = ir.IntType(32).as_pointer()
    dp = ir.DoubleType().as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i8p, i8p, i8p, i32p, i32p, dp, dp, i32p, dp, i32p])

    @intrinsic
    def dtrsm_right(typingctx, uplo, transa, m, n, a, b):
        """X op(A) = B in column-major terms, in place in b (side 'R', no unit diagonal, alpha 1)."""

        def codegen(context, builder, signature, args):
            uplo_v, trans_v, m_v, n_v, a_v, b_v = args
            a_data = context.make_array(signature.args[4])(context, builder, a_v).data
            b_data = context.make_array(signature.args[5])(context, builder, b_v).data

            def char(v):
                return cgutils.alloca_once_value(builder, builder.trunc(v, ir.IntType(8)))

            def int32(v):
                return cgutils.alloca_once_value(builder, builder.trunc(v, ir.IntType(32)))

            side = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(8), ord("R")))
            diag = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(8), ord("N")))
            alpha = cgutils.alloca_once_value(builder, ir.Constant(ir.DoubleType(), 1.0))
            mm, nn = int32(m_v), int32(n_v)
            fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
            builder.call(
                fn,
                [side, char(uplo_v), char(trans_v), diag, mm, nn, alpha, builder.bitcast(a_data, dp), nn,
                 builder.bitcast(b_data, dp), mm],
            )  # fmt: skip
            return context.get_dummy_value()

        return types.void(uplo, transa, m, n, a, b), codegen

    @register_jitable
    def trsm(a, b, lower, trans):
        aa = np.ascontiguousarray(a).astype(np.float64)
        x = np.ascontiguousarray(b).astype(np.float64)  # a fresh copy: dtrsm overwrites it
        n = aa.shape[0]
        k = x.size // n if n else 0
        if n == 0 or k == 0:
            return x
        # Row-major a is column-major a^T: its lower triangle is an upper one there.
        uplo = 85 if lower else 76  # 'U' / 'L'
        transa = 84 if trans else 78  # 'T' / 'N'
        dtrsm_right(uplo, transa, k, n, aa, x)
        return x

    @overload(solve_triangular)
    def _solve_triangular(a, b, lower, trans):
        if isinstance(a, types.Array) and isinstance(b, types.Array):
            return lambda a, b, lower, trans: trsm(a, b, lower, trans)
        return None

    potri = "dcompile_lapack_dpotri"
    llb.add_symbol(potri, get_cython_function_address("scipy.linalg.cython_lapack", "dpotri"))
    potri_ty = ir.FunctionType(ir.VoidType(), [i8p, i32p, dp, i32p, i32p])

    @intrinsic
    def dpotri_upper(typingctx, n, a):
        """LAPACK dpotri('U', n, a, n, info) in place; returns info."""

        def codegen(context, builder, signature, args):
            n_v, a_v = args
            a_data = context.make_array(signature.args[1])(context, builder, a_v).data
            uplo = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(8), ord("U")))
            nn = cgutils.alloca_once_value(builder, builder.trunc(n_v, ir.IntType(32)))
            info = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(32), 0))
            fn = cgutils.get_or_insert_function(builder.module, potri_ty, potri)
            builder.call(fn, [uplo, nn, builder.bitcast(a_data, dp), nn, info])
            return builder.sext(builder.load(info), ir.IntType(64))

        return types.int64(n, a), codegen

    @register_jitable
    def potri_inverse(c):
        n = c.shape[0]
        a = np.ascontiguousarray(c).astype(np.float64)  # a fresh copy: dpotri overwrites it
        if n == 0:
            return a
        # Row-major lower c is column-major upper: dpotri('U') leaves the inverse in the lower triangle here.
        if dpotri_upper(n, a) != 0:
            return np.full((n, n), np.nan)
        for i in range(n):
            for j in range(i + 1, n):
                a[i, j] = a[j, i]
        return a

    @overload(cho_inverse)
    def _cho_inverse(c):
        if isinstance(c, types.Array):
            return lambda c: potri_inverse(c)
        return None


with contextlib.suppress(ImportError):  # numba is a dependency; the Python backend works without it
    _register_numba()
