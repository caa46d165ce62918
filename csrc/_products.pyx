"""Matrix products of the dense layers (kernels in ``_products.pxd``).

Behind :mod:`nnfast.backend.cpu_products`, which has checked that the arrays
are C-contiguous numpy arrays of one floating dtype, that their shapes agree
and that none is empty.  The work runs without the GIL; ``num_threads`` > 1
shares a product out among OpenMP threads (the caller holds BLAS at one
thread meanwhile).
"""
from cython cimport floating

cimport _products as k


def gemm(const floating[:, ::1] a,    # IN  (m, k), or (k, m) when trans_a
         const floating[:, ::1] b,    # IN  (k, n), or (n, k) when trans_b
         floating[:, ::1] out,        # OUT (m, n)
         bint trans_a, bint trans_b, double alpha, double beta, int num_threads):
    """``out = alpha * op(a) @ op(b) + beta * out``."""
    cdef int m = out.shape[0]
    cdef int n = out.shape[1]
    cdef int kk = a.shape[0] if trans_a else a.shape[1]
    with nogil:
        k.gemm_shared(trans_a, trans_b, m, n, kk, <floating> alpha, &a[0, 0], a.shape[1],
                      &b[0, 0], b.shape[1], <floating> beta, &out[0, 0], n, num_threads)


def affine(const floating[:, ::1] x,  # IN  (n_samples, n_in)
           const floating[:, ::1] w,  # IN  (n_in, n_out)
           const floating[::1] b,     # IN  (n_out,)
           floating[:, ::1] out,      # OUT (n_samples, n_out)
           int num_threads):
    """``out = x @ w + b``: ``b`` copied into every row, then a GEMM with beta 1."""
    with nogil:
        k.affine(&x[0, 0], &w[0, 0], &b[0], &out[0, 0], False, x.shape[0], x.shape[1],
                 w.shape[1], num_threads)


def sum_rows(const floating[:, ::1] x,  # IN  (n_rows, n_cols)
             floating[::1] out):        # OUT (n_cols,)
    """``out = x.sum(axis=0)``."""
    with nogil:
        k.col_sums(&x[0, 0], &out[0], x.shape[0], x.shape[1], x.shape[1], False)


def backprop_affine(const floating[:, ::1] dz,  # IN  (n_samples, n_out)
                    const floating[:, ::1] x,   # IN  (n_samples, n_in)
                    const floating[:, ::1] w,   # IN  (n_in, n_out)
                    floating[:, ::1] dw,        # OUT (n_in, n_out)
                    floating[::1] db,           # OUT (n_out,)
                    floating[:, ::1] dx,        # OUT (n_samples, n_in), or None
                    int num_threads):
    """``dw = x.T @ dz``, ``db = dz.sum(0)`` and, unless ``dx`` is None, ``dx = dz @ w.T``."""
    cdef floating* dx_ptr = &dx[0, 0] if dx is not None else NULL
    with nogil:
        k.backprop_affine(&dz[0, 0], &x[0, 0], &w[0, 0], &dw[0, 0], &db[0], dx_ptr, False,
                          False, False, dz.shape[0], x.shape[1], dz.shape[1], num_threads)
