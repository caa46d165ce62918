"""Compiled matrix products of the dense layers (kernels in ``nnfast._products``).

Every product goes through BLAS.  Inside :func:`~nnfast.backend.own_threads`
(which models hold for a whole ``fit`` or ``predict``) a product is shared
out among the kernels' own OpenMP threads, one BLAS call per block, while
BLAS is held at one thread; called on its own, a product is one BLAS call
that BLAS runs on its own threads.
See :mod:`nnfast.backend.cpu_arrays` for the checks made before a kernel runs.
"""
import numpy as np

from .. import _products
from ._threads import product_threads
from .cpu_arrays import (
    INT_MAX, c_order, check_out_shape, float_dtype, is_out, shares,
)


class CpuProductOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_products.ProductOps`, a mixin of ``CpuOps``.

    Every method falls back to the reference through ``super()`` when the
    kernels cannot take the arguments as given.
    """

    def gemm(self, a, b, out=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """``out = alpha * op(a) @ op(b) + beta * out`` in one BLAS call.

        See Also
        --------
        nnfast.backend.ops_products.ProductOps.gemm : parameters and return value.

        Notes
        -----
        A Fortran-ordered operand (such as ``x.T``) is passed to BLAS as the
        transpose of a C-ordered one rather than copied.  ``out`` must not
        overlap ``a`` or ``b`` for the compiled path (otherwise the reference
        runs).
        """
        dtype = float_dtype(a, b)
        if (dtype is None or a.ndim != 2 or b.ndim != 2
                or (out is not None and not is_out(out, dtype))):
            return super().gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b,
                                alpha=alpha, beta=beta)
        m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
        kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
        if k != kb:
            raise ValueError(
                f"gemm: a has shape {a.shape} but b has shape {b.shape} "
                f"(trans_a={bool(trans_a)}, trans_b={bool(trans_b)}): op(a) has {k} "
                f"columns but op(b) has {kb} rows")
        if out is None:
            out = np.empty((m, n), dtype=dtype)
            beta = 0.0  # as in the reference, beta only scales an existing out
        else:
            check_out_shape("gemm", "out", out, (m, n))
            if shares(out, a, b):
                return super().gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b,
                                    alpha=alpha, beta=beta)
        if not (0 < m <= INT_MAX and 0 < n <= INT_MAX and 0 < k <= INT_MAX):
            return super().gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b,
                                alpha=alpha, beta=beta)
        if not a.flags.c_contiguous:
            if a.flags.f_contiguous:
                a, trans_a = a.T, not trans_a
            else:
                a = np.ascontiguousarray(a)
        if not b.flags.c_contiguous:
            if b.flags.f_contiguous:
                b, trans_b = b.T, not trans_b
            else:
                b = np.ascontiguousarray(b)
        _products.gemm(a, b, out, trans_a, trans_b, alpha, beta, product_threads(m, n, k))
        return out

    def affine(self, x, w, b, out=None):
        """``out = x @ w + b``: the bias copied into ``out``, then one GEMM with beta 1.

        See Also
        --------
        nnfast.backend.ops_products.ProductOps.affine : parameters and return value.
        """
        dtype = float_dtype(x, w, b)
        if (dtype is None or x.ndim != 2 or w.ndim != 2 or b.ndim != 1
                or (out is not None and not is_out(out, dtype))):
            return super().affine(x, w, b, out=out)
        n_samples, n_in = x.shape
        if w.shape[0] != n_in:
            raise ValueError(f"affine: x has shape {x.shape} but w has shape {w.shape}; "
                             f"w must have {n_in} rows")
        n_out = w.shape[1]
        if b.shape[0] != n_out:
            raise ValueError(f"affine: w has shape {w.shape} but b has shape {b.shape}, "
                             f"expected ({n_out},)")
        if out is None:
            out = np.empty((n_samples, n_out), dtype=dtype)
        else:
            check_out_shape("affine", "out", out, (n_samples, n_out))
            if shares(out, x, w, b):
                return super().affine(x, w, b, out=out)
        if not (0 < n_samples <= INT_MAX and 0 < n_in <= INT_MAX and 0 < n_out <= INT_MAX):
            return super().affine(x, w, b, out=out)
        _products.affine(c_order(x), c_order(w), c_order(b), out,
                         product_threads(n_samples, n_in, n_out))
        return out

    def backprop_affine(self, dz, x, w, dw, db, dx=None):
        """``dw = x.T @ dz``, ``db = dz.sum(0)`` and ``dx = dz @ w.T`` in one compiled call.

        See Also
        --------
        nnfast.backend.ops_products.ProductOps.backprop_affine : parameters and return value.
        """
        dtype = float_dtype(dz, x, w)
        want_dx = dx is not False
        if (dtype is None or dz.ndim != 2 or x.ndim != 2 or w.ndim != 2
                or not is_out(dw, dtype) or not is_out(db, dtype)
                or (want_dx and dx is not None and not is_out(dx, dtype))):
            return super().backprop_affine(dz, x, w, dw, db, dx=dx)
        n_samples, n_out = dz.shape
        n_in = x.shape[1]
        if x.shape[0] != n_samples:
            raise ValueError(f"backprop_affine: dz has shape {dz.shape} but x has shape "
                             f"{x.shape}; they need the same number of rows")
        if w.shape != (n_in, n_out):
            raise ValueError(f"backprop_affine: w has shape {w.shape}, expected {(n_in, n_out)} "
                             f"for x of shape {x.shape} and dz of shape {dz.shape}")
        check_out_shape("backprop_affine", "dw", dw, (n_in, n_out))
        check_out_shape("backprop_affine", "db", db, (n_out,))
        if want_dx:
            if dx is None:
                dx = np.empty((n_samples, n_in), dtype=dtype)
            else:
                check_out_shape("backprop_affine", "dx", dx, (n_samples, n_in))
        if (not (0 < n_samples <= INT_MAX and 0 < n_in <= INT_MAX and 0 < n_out <= INT_MAX)
                or shares(dw, dz, x, w) or shares(db, dz, x, w, dw)
                or (want_dx and shares(dx, dz, x, w, dw, db))):
            return super().backprop_affine(dz, x, w, dw, db, dx=dx if want_dx else False)
        _products.backprop_affine(c_order(dz), c_order(x), c_order(w), dw, db,
                                  dx if want_dx else None, product_threads(n_samples, n_in, n_out))
        return dx if want_dx else None

    def sum_rows(self, x, out=None):
        """Column sums of ``x`` (the sum over samples), added row by row as numpy does.

        See Also
        --------
        nnfast.backend.ops_products.ProductOps.sum_rows : parameters and return value.
        """
        dtype = float_dtype(x)
        if (dtype is None or x.ndim != 2 or x.size == 0
                or (out is not None and not is_out(out, dtype))):
            return super().sum_rows(x, out=out)
        if out is None:
            out = np.empty(x.shape[1], dtype=dtype)
        else:
            check_out_shape("sum_rows", "out", out, (x.shape[1],))
            if np.may_share_memory(out, x):
                return super().sum_rows(x, out=out)
        _products.sum_rows(c_order(x), out)
        return out
