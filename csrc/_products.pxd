# Matrix products of the dense layers: every one goes through BLAS (the
# row-major wrapper of _blas.pxd), shared out among the kernel's own OpenMP
# threads when it is given more than one (one BLAS call per block, BLAS held
# at one thread meanwhile by nnfast.backend.own_threads).
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy

from _blas cimport gemm
from _parallel cimport chunk_size


cdef inline void gemm_shared(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                             const floating* a, int lda, const floating* b, int ldb,
                             floating beta, floating* c, int ldc, int num_threads) noexcept nogil:
    """The row-major product of ``_blas.gemm``, shared out among ``num_threads`` threads.

    Each thread computes a block of ``c`` with its own BLAS call.  The blocks
    are rows when ``c`` has at least as many rows as columns, else columns:
    then each thread packs only its share of the larger operand (a layer's
    weights, usually) instead of all of it.
    """
    cdef int t, lo, hi, chunk
    if num_threads <= 1:
        gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    elif m >= n:
        chunk = (m + num_threads - 1) // num_threads
        for t in prange(num_threads, num_threads=num_threads, schedule="static"):
            lo = t * chunk
            hi = min(m, lo + chunk)
            if hi > lo:
                # Rows lo:hi of op(a) are columns lo:hi of a when it is transposed.
                gemm(trans_a, trans_b, hi - lo, n, k, alpha,
                     a + (lo if trans_a else <Py_ssize_t> lo * lda), lda, b, ldb,
                     beta, c + <Py_ssize_t> lo * ldc, ldc)
    else:
        # Whole cache lines per block, so that no line of a row is written by two threads.
        chunk = <int> chunk_size(n, num_threads)
        for t in prange(num_threads, num_threads=num_threads, schedule="static"):
            lo = t * chunk
            hi = min(n, lo + chunk)
            if hi > lo:
                gemm(trans_a, trans_b, m, hi - lo, k, alpha, a, lda,
                     b + (<Py_ssize_t> lo * ldb if trans_b else lo), ldb, beta, c + lo, ldc)


cdef inline void fill_rows(floating* out, const floating* row, Py_ssize_t lo, Py_ssize_t hi,
                           Py_ssize_t n_cols) noexcept nogil:
    """Copy ``row`` into rows ``lo:hi`` of ``out``."""
    cdef Py_ssize_t i
    for i in range(lo, hi):
        memcpy(out + i * n_cols, row, n_cols * sizeof(floating))


cdef inline void affine(const floating* x, const floating* w, const floating* b, floating* out,
                        bint trans_w, int n_samples, int n_in, int n_out,
                        int num_threads) noexcept nogil:
    """``out = x @ op(w) + b``: ``b`` copied into every row (when not NULL), then one GEMM.

    ``w`` is (n_in, n_out), or (n_out, n_in) used transposed when ``trans_w``.
    """
    cdef floating beta = 0
    if b != NULL:
        fill_rows(out, b, 0, n_samples, n_out)
        beta = 1
    gemm_shared(False, trans_w, n_samples, n_out, n_in, <floating> 1, x, n_in, w,
                n_in if trans_w else n_out, beta, out, n_out, num_threads)


cdef inline void col_sums(const floating* x, floating* out, Py_ssize_t n_rows, Py_ssize_t n_cols,
                          Py_ssize_t ld, bint add) noexcept nogil:
    """``out[j] (+)= sum_i x[i, j]`` for a block of ``n_cols`` columns with row stride ``ld``.

    Rows are added one after the other, the order numpy uses for
    ``x.sum(axis=0)``, so the two agree to the last bit.  One thread: the loop
    is bound by memory, and two threads each streaming every row (to sum half
    the columns) do not beat one.
    """
    cdef Py_ssize_t i, j
    cdef const floating* row
    if add:
        for i in range(n_rows):
            row = x + i * ld
            for j in range(n_cols):
                out[j] = out[j] + row[j]
        return
    for j in range(n_cols):
        out[j] = x[j]
    for i in range(1, n_rows):
        row = x + i * ld
        for j in range(n_cols):
            out[j] = out[j] + row[j]


cdef inline void backprop_affine(const floating* dz, const floating* x, const floating* w,
                                 floating* dw, floating* db, floating* dx, bint trans_w,
                                 bint add_dw, bint add_db, int n_samples, int n_in, int n_out,
                                 int num_threads) noexcept nogil:
    """Gradients of ``z = x @ op(w) + b``: ``dw``, ``db`` and ``dx``, each skipped when NULL.

    ``dw`` has the shape of ``w`` (so it is ``dz.T @ x`` when ``trans_w``);
    ``add_dw``/``add_db`` add to the gradient instead of writing it (tied
    weights collect the gradients of every layer that uses them).
    """
    if dw != NULL:
        if trans_w:
            gemm_shared(True, False, n_out, n_in, n_samples, <floating> 1, dz, n_out, x, n_in,
                        <floating> (1 if add_dw else 0), dw, n_in, num_threads)
        else:
            gemm_shared(True, False, n_in, n_out, n_samples, <floating> 1, x, n_in, dz, n_out,
                        <floating> (1 if add_dw else 0), dw, n_out, num_threads)
    if db != NULL:
        col_sums(dz, db, n_samples, n_out, n_out, add_db)
    if dx != NULL:
        gemm_shared(False, not trans_w, n_samples, n_in, n_out, <floating> 1, dz, n_out, w,
                    n_in if trans_w else n_out, <floating> 0, dx, n_in, num_threads)
