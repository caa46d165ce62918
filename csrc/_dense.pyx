"""Compiled kernels behind :class:`nnfast.backend.cpu_dense.CpuDenseOps`.

Every function here trusts its arguments: ``cpu_dense.py`` has already checked
that the arrays are C-contiguous numpy arrays of one floating dtype, that their
shapes agree and that none of them is empty.  The work itself runs without the
GIL.  ``num_threads`` comes from :func:`nnfast.backend.threads_for`; with 1 the
kernel runs serially and never opens an OpenMP parallel region.

Threads: a product given more than one thread shares blocks of its output
out among the kernel's own OpenMP threads, one BLAS call per block, so that
a single team of threads does all the work; the caller holds BLAS to one
thread meanwhile (``nnfast.backend.own_threads``).  The thread that wrote a
block of a weight gradient is the one that goes on to update it.

Elementwise loops are written over raw pointers in small ``cdef inline``
helpers so that the compiler sees plain counted loops it can vectorise; the
parallel versions hand each thread one contiguous chunk of the same helper.
Matrix products go through the row-major BLAS wrapper in ``_blas.pxd``.

Activation codes (shared with ``cpu_dense.py``): 0 identity, 1 sigmoid,
2 tanh, 3 relu, 4 softmax.  Forward tanh is left to numpy's vectorised
``np.tanh`` (one pass already, and faster than a portable build of
``tanhf``), so :func:`activation` does not take code 2.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log, logf
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

cimport numpy as cnp

from _blas cimport gemm as _gemm
from _dense_simd cimport nnf_dense_select, nnf_dense_simd

ctypedef Py_ssize_t intp_t

cnp.import_array()

# Chunks handed to threads start on multiples of this many elements (one
# 64-byte cache line of float32), so two threads never write the same line.
cdef enum:
    _ALIGN = 16

# Losses of the dense stack's step (cross-entropy against labels or target
# probabilities, by the targets' shape), and of _pointwise_loss.
cdef enum:
    LOSS_XENT = 0
    LOSS_XENT_PROBS = 1
    LOSS_BCE = 2
    LOSS_MSE = 3

cdef enum:
    ACT_IDENTITY = 0
    ACT_SIGMOID = 1
    ACT_TANH = 2
    ACT_RELU = 3
    ACT_SOFTMAX = 4


# ---------------------------------------------------------------- math helpers
# Float versions for float32 so that single-precision data stays in single
# precision.
cdef inline floating _log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


def select_simd_kernels(int max_level=2):
    """Use the widest exponential and optimizer kernels the CPU supports, up to ``max_level``.

    Parameters
    ----------
    max_level : {0, 1, 2}
        0 for the baseline instruction set, 1 for AVX2, 2 for AVX-512.

    Returns
    -------
    int
        The level now in use (made at import with ``max_level=2``).
    """
    if not 0 <= max_level <= 2:
        raise ValueError(f"max_level must be 0, 1 or 2, got {max_level}")
    return nnf_dense_select(max_level)


select_simd_kernels()


# The exponential runs the instruction-set specific kernels of
# _dense_simd.pxd over whole rows or blocks: libm's exp is an opaque call that
# keeps a loop scalar.  ``_log1p_unit`` is plain arithmetic for the same
# reason.
cdef inline void _exp_shift(const floating* x, floating shift, floating* y,
                            intp_t n) noexcept nogil:
    """``y = exp(x - shift)`` for ``x - shift <= 0`` (``y`` may be ``x``)."""
    if floating is float:
        nnf_dense_simd.exp_shift_f32(x, shift, y, n)
    else:
        nnf_dense_simd.exp_shift_f64(x, shift, y, n)


cdef inline void _exp_negabs(const floating* x, floating* y, intp_t n) noexcept nogil:
    """``y = exp(-|x|)`` (``y`` may be ``x``)."""
    if floating is float:
        nnf_dense_simd.exp_negabs_f32(x, y, n)
    else:
        nnf_dense_simd.exp_negabs_f64(x, y, n)


cdef inline floating _log1p_unit(floating y) noexcept nogil:
    """``log(1 + y)`` for ``0 <= y <= 1`` as ``2 atanh(s)``, ``s = y / (2 + y) <= 1/3``.

    The series ``atanh(s) = s + s^3/3 + s^5/5 + ...`` is truncated below half
    an ulp: 8 terms in float32, 17 in float64.
    """
    cdef floating s = y / (<floating> 2 + y)
    cdef floating q = s * s
    if floating is float:
        return <float> 2 * s * (<float> 1.0 + q * (<float> (1.0 / 3) + q * (<float> (1.0 / 5) + q * (
            <float> (1.0 / 7) + q * (<float> (1.0 / 9) + q * (<float> (1.0 / 11) + q * (
                <float> (1.0 / 13) + q * <float> (1.0 / 15))))))))
    else:
        return 2 * s * (1.0 + q * (1.0 / 3 + q * (1.0 / 5 + q * (1.0 / 7 + q * (1.0 / 9 + q * (
            1.0 / 11 + q * (1.0 / 13 + q * (1.0 / 15 + q * (1.0 / 17 + q * (1.0 / 19 + q * (
                1.0 / 21 + q * (1.0 / 23 + q * (1.0 / 25 + q * (1.0 / 27 + q * (
                    1.0 / 29 + q * (1.0 / 31 + q * (1.0 / 33)))))))))))))))))


cdef enum:
    _BLOCK = 512  # elements per block of intermediate values kept on the stack


cdef inline void _sigmoid_range(const floating* z, floating* y, intp_t n) noexcept nogil:
    """``y = 1 / (1 + e)`` where ``z >= 0`` and ``e / (1 + e)`` elsewhere, ``e = exp(-|z|)``.

    ``y`` may be ``z``.
    """
    cdef floating e[_BLOCK]
    cdef floating zero = 0
    cdef floating one = 1
    cdef intp_t i, blk, start, m
    for blk in range((n + _BLOCK - 1) // _BLOCK):
        start = blk * _BLOCK
        m = min(<intp_t> _BLOCK, n - start)
        _exp_negabs(z + start, e, m)
        for i in range(m):
            y[start + i] = (one if z[start + i] >= zero else e[i]) / (one + e[i])


# Reductions: a single running sum is a dependency chain the compiler may not
# reorder (and so cannot vectorise).  Sixteen independent partial sums can be,
# at the price of a different (not worse) rounding than numpy's pairwise sum.
cdef enum:
    _LANES = 16


cdef inline floating _sum(const floating* x, intp_t n) noexcept nogil:
    cdef floating acc[_LANES]
    cdef floating total = 0
    cdef intp_t i, j, b
    cdef intp_t n_main = n - n % _LANES
    for j in range(_LANES):
        acc[j] = 0
    for b in range(n_main // _LANES):
        i = b * _LANES
        for j in range(_LANES):
            acc[j] = acc[j] + x[i + j]
    for j in range(_LANES):
        total = total + acc[j]
    for i in range(n_main, n):
        total = total + x[i]
    return total


cdef inline floating _max(const floating* x, intp_t n) noexcept nogil:
    """Largest element of ``x[0:n]``, ``n >= 1``.

    NaNs may or may not be passed over; the callers subtract the result from
    every element, so a row holding a NaN becomes NaN either way.
    """
    cdef floating acc[_LANES]
    cdef floating mx = x[0]
    cdef intp_t i, j, b
    cdef intp_t n_main = n - n % _LANES
    if n_main:
        for j in range(_LANES):
            acc[j] = x[j]
        for b in range(1, n_main // _LANES):
            i = b * _LANES
            for j in range(_LANES):
                acc[j] = x[i + j] if x[i + j] > acc[j] else acc[j]
        for j in range(_LANES):
            mx = acc[j] if acc[j] > mx else mx
    for i in range(n_main, n):
        mx = x[i] if x[i] > mx else mx
    return mx


cdef inline intp_t _chunk_size(intp_t n, int num_threads) noexcept nogil:
    """Elements per thread: ``n / num_threads`` rounded up to a multiple of _ALIGN."""
    cdef intp_t chunk = (n + num_threads - 1) // num_threads
    return ((chunk + _ALIGN - 1) // _ALIGN) * _ALIGN


cdef inline intp_t _n_chunks(intp_t n, intp_t chunk) noexcept nogil:
    return (n + chunk - 1) // chunk


cdef void _gemm_shared(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                       const floating* a, int lda, const floating* b, int ldb,
                       floating beta, floating* c, int ldc, int num_threads) noexcept nogil:
    """The row-major product of ``_blas.gemm``, shared out among ``num_threads`` threads.

    Each thread computes a block of ``c`` with its own BLAS call, so BLAS must
    be on one thread when ``num_threads`` > 1 (``nnfast.backend.own_threads``).  The blocks are rows when ``c``
    has at least as many rows as columns, else columns: then each thread packs
    only its share of the larger operand (a layer's weights, usually) instead
    of all of it.
    """
    cdef int t, lo, hi, chunk
    if num_threads <= 1:
        _gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    elif m >= n:
        chunk = (m + num_threads - 1) // num_threads
        for t in prange(num_threads, num_threads=num_threads, schedule="static"):
            lo = t * chunk
            hi = min(m, lo + chunk)
            if hi > lo:
                # Rows lo:hi of op(a) are columns lo:hi of a when it is transposed.
                _gemm(trans_a, trans_b, hi - lo, n, k, alpha,
                      a + (lo if trans_a else <intp_t> lo * lda), lda, b, ldb,
                      beta, c + <intp_t> lo * ldc, ldc)
    else:
        # Whole cache lines per block, so that no line of a row is written by two threads.
        chunk = <int> _chunk_size(n, num_threads)
        for t in prange(num_threads, num_threads=num_threads, schedule="static"):
            lo = t * chunk
            hi = min(n, lo + chunk)
            if hi > lo:
                _gemm(trans_a, trans_b, m, hi - lo, k, alpha, a, lda,
                      b + (<intp_t> lo * ldb if trans_b else lo), ldb, beta, c + lo, ldc)


# -------------------------------------------------------------------- products
def gemm(const floating[:, ::1] a,    # IN  (m, k), or (k, m) when trans_a
         const floating[:, ::1] b,    # IN  (k, n), or (n, k) when trans_b
         floating[:, ::1] out,        # OUT (m, n)
         bint trans_a, bint trans_b, double alpha, double beta, int num_threads):
    """``out = alpha * op(a) @ op(b) + beta * out``."""
    cdef int m = out.shape[0]
    cdef int n = out.shape[1]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    with nogil:
        _gemm_shared(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0], a.shape[1],
                     &b[0, 0], b.shape[1], <floating> beta, &out[0, 0], n, num_threads)


def affine(const floating[:, ::1] x,  # IN  (n_samples, n_in)
           const floating[:, ::1] w,  # IN  (n_in, n_out)
           const floating[::1] b,     # IN  (n_out,)
           floating[:, ::1] out,      # OUT (n_samples, n_out)
           int num_threads):
    """``out = x @ w + b``: ``b`` copied into every row, then a GEMM with beta 1."""
    with nogil:
        _affine(&x[0, 0], &w[0, 0], &b[0], &out[0, 0], x.shape[0], x.shape[1], w.shape[1],
                num_threads)


cdef inline void _affine(const floating* x, const floating* w, const floating* b,
                         floating* out, int n_samples, int n_in, int n_out,
                         int num_threads) noexcept nogil:
    """``out = x @ w + b`` (see :func:`affine`); ``num_threads`` share the product."""
    _fill_rows(out, b, 0, n_samples, n_out)
    _gemm_shared(False, False, n_samples, n_out, n_in, <floating> 1, x, n_in, w, n_out,
                 <floating> 1, out, n_out, num_threads)


cdef inline void _fill_rows(floating* out, const floating* row, intp_t lo, intp_t hi,
                            intp_t n_cols) noexcept nogil:
    """Copy ``row`` into rows ``lo:hi`` of ``out``."""
    cdef intp_t i
    for i in range(lo, hi):
        memcpy(out + i * n_cols, row, n_cols * sizeof(floating))


cdef inline void _col_sums(const floating* x, floating* out, intp_t n_rows,
                           intp_t n_cols, intp_t ld) noexcept nogil:
    """``out[j] = sum_i x[i, j]`` for a block of ``n_cols`` columns with row stride ``ld``.

    Rows are added one after the other, the order numpy uses for
    ``x.sum(axis=0)``, so the two agree to the last bit.  One thread: the loop
    is bound by memory, and two threads each streaming every row (to sum half
    the columns) measured slower than one.
    """
    cdef intp_t i, j
    cdef const floating* row
    for j in range(n_cols):
        out[j] = x[j]
    for i in range(1, n_rows):
        row = x + i * ld
        for j in range(n_cols):
            out[j] = out[j] + row[j]


def sum_rows(const floating[:, ::1] x,  # IN  (n_rows, n_cols)
             floating[::1] out):        # OUT (n_cols,)
    """``out = x.sum(axis=0)``."""
    with nogil:
        _col_sums(&x[0, 0], &out[0], x.shape[0], x.shape[1], x.shape[1])


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
        _backprop_affine(&dz[0, 0], &x[0, 0], &w[0, 0], &dw[0, 0], &db[0], dx_ptr,
                         dz.shape[0], x.shape[1], dz.shape[1], num_threads)


cdef inline void _backprop_affine(const floating* dz, const floating* x, const floating* w,
                                  floating* dw, floating* db, floating* dx, int n_samples,
                                  int n_in, int n_out, int num_threads) noexcept nogil:
    """The gradients of :func:`backprop_affine`; no ``dx`` when it is NULL."""
    _gemm_shared(True, False, n_in, n_out, n_samples, <floating> 1, x, n_in, dz, n_out,
                 <floating> 0, dw, n_out, num_threads)
    _col_sums(dz, db, n_samples, n_out, n_out)
    if dx != NULL:
        _gemm_shared(False, True, n_samples, n_in, n_out, <floating> 1, dz, n_out, w, n_out,
                     <floating> 0, dx, n_in, num_threads)


# ----------------------------------------------------------------- activations
cdef inline void _act_range(const floating* z, floating* y, intp_t n, int kind) noexcept nogil:
    """Elementwise activation ``kind`` (identity, sigmoid or relu) of ``z[0:n]`` into ``y`` (may be ``z``)."""
    cdef intp_t i
    cdef floating zero = 0
    if kind == ACT_IDENTITY:
        if y != z:
            memcpy(y, z, n * sizeof(floating))
    elif kind == ACT_SIGMOID:
        _sigmoid_range(z, y, n)
    elif kind == ACT_RELU:
        for i in range(n):
            y[i] = zero if z[i] < zero else z[i]


cdef inline void _softmax_row(const floating* z, floating* y, intp_t n) noexcept nogil:
    """Softmax of one row, shifted by its maximum (``y`` may be ``z``)."""
    cdef intp_t j
    cdef floating mx = _max(z, n)
    cdef floating inv_s
    _exp_shift(z, mx, y, n)
    inv_s = 1 / _sum(y, n)  # a multiply per element instead of a divide
    for j in range(n):
        y[j] = y[j] * inv_s


def activation(const floating[:, ::1] z,  # IN  (n_samples, n_units)
               floating[:, ::1] out,      # OUT (n_samples, n_units), may be z
               int kind, int num_threads):
    """Apply activation ``kind`` to ``z`` (see the module docstring for the codes)."""
    with nogil:
        _activation(&z[0, 0], &out[0, 0], z.shape[0], z.shape[1], kind, num_threads)


cdef void _activation(const floating* zp, floating* op, intp_t n_rows, intp_t n_cols,
                      int kind, int num_threads) noexcept nogil:
    """:func:`activation` on raw pointers (``op`` may be ``zp``)."""
    cdef intp_t n = n_rows * n_cols
    cdef intp_t i, c, start, chunk
    if kind == ACT_SOFTMAX:
        if num_threads <= 1:
            for i in range(n_rows):
                _softmax_row(zp + i * n_cols, op + i * n_cols, n_cols)
        else:
            for i in prange(n_rows, num_threads=num_threads, schedule="static"):
                _softmax_row(zp + i * n_cols, op + i * n_cols, n_cols)
    elif num_threads <= 1:
        _act_range(zp, op, n, kind)
    else:
        chunk = _chunk_size(n, num_threads)
        for c in prange(_n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
            start = c * chunk
            _act_range(zp + start, op + start, min(chunk, n - start), kind)


cdef inline void _bp_act_range(const floating* dy, const floating* y, floating* dz,
                               intp_t n, int kind) noexcept nogil:
    """Elementwise ``dz = dy * f'(.)`` written in terms of the output ``y`` (``dz`` may be ``dy``)."""
    cdef intp_t i
    cdef floating zero = 0
    cdef floating one = 1
    if kind == ACT_IDENTITY:
        if dz != dy:
            memcpy(dz, dy, n * sizeof(floating))
    elif kind == ACT_SIGMOID:
        for i in range(n):
            dz[i] = dy[i] * y[i] * (one - y[i])
    elif kind == ACT_TANH:
        for i in range(n):
            dz[i] = dy[i] * (one - y[i] * y[i])
    elif kind == ACT_RELU:
        for i in range(n):
            # A product rather than a select, as in the reference: NaN and
            # infinite gradients behind a dead unit still give NaN.
            dz[i] = dy[i] * (one if y[i] > zero else zero)


cdef inline floating _dot(const floating* x, const floating* y, intp_t n) noexcept nogil:
    cdef floating acc[_LANES]
    cdef floating total = 0
    cdef intp_t i, j, b
    cdef intp_t n_main = n - n % _LANES
    for j in range(_LANES):
        acc[j] = 0
    for b in range(n_main // _LANES):
        i = b * _LANES
        for j in range(_LANES):
            acc[j] = acc[j] + x[i + j] * y[i + j]
    for j in range(_LANES):
        total = total + acc[j]
    for i in range(n_main, n):
        total = total + x[i] * y[i]
    return total


cdef inline void _bp_softmax_row(const floating* dy, const floating* y, floating* dz,
                                 intp_t n) noexcept nogil:
    """``dz = y * (dy - <dy, y>)`` for one row (``dz`` may be ``dy`` or ``y``)."""
    cdef intp_t j
    cdef floating s = _dot(dy, y, n)
    for j in range(n):
        dz[j] = y[j] * (dy[j] - s)


def backprop_activation(const floating[:, ::1] dy,  # IN  (n_samples, n_units)
                        const floating[:, ::1] y,   # IN  (n_samples, n_units)
                        floating[:, ::1] out,       # OUT (n_samples, n_units), may be dy
                        int kind, int num_threads):
    """Gradient with respect to the pre-activation of activation ``kind``."""
    with nogil:
        _backprop_activation(&dy[0, 0], &y[0, 0], &out[0, 0], dy.shape[0], dy.shape[1], kind,
                             num_threads)


cdef void _backprop_activation(const floating* dyp, const floating* yp, floating* op,
                               intp_t n_rows, intp_t n_cols, int kind,
                               int num_threads) noexcept nogil:
    """:func:`backprop_activation` on raw pointers (``op`` may be ``dyp``)."""
    cdef intp_t n = n_rows * n_cols
    cdef intp_t i, c, start, chunk
    if kind == ACT_SOFTMAX:
        if num_threads <= 1:
            for i in range(n_rows):
                _bp_softmax_row(dyp + i * n_cols, yp + i * n_cols, op + i * n_cols, n_cols)
        else:
            for i in prange(n_rows, num_threads=num_threads, schedule="static"):
                _bp_softmax_row(dyp + i * n_cols, yp + i * n_cols, op + i * n_cols, n_cols)
    elif num_threads <= 1:
        _bp_act_range(dyp, yp, op, n, kind)
    else:
        chunk = _chunk_size(n, num_threads)
        for c in prange(_n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
            start = c * chunk
            _bp_act_range(dyp + start, yp + start, op + start, min(chunk, n - start), kind)


# ---------------------------------------------------------------------- losses
cdef inline double _xent_label_row(const floating* z, intp_t label, floating* g,
                                   intp_t n, floating n_samples) noexcept nogil:
    """Loss of one row against an integer label; ``(p - onehot) / n_samples`` into ``g``.

    ``g`` may be ``z``: every pass reads ``z[j]`` before it writes ``g[j]``.
    """
    cdef intp_t j
    cdef floating mx = _max(z, n)
    cdef floating z_label = z[label] - mx
    cdef floating s, scale
    cdef floating inv_n = 1 / n_samples
    _exp_shift(z, mx, g, n)
    s = _sum(g, n)
    scale = 1 / (s * n_samples)
    for j in range(n):
        g[j] = g[j] * scale
    g[label] = g[label] - inv_n
    return <double> _log(s) - <double> z_label


cdef inline double _xent_prob_row(const floating* z, const floating* t, floating* g,
                                  intp_t n, floating n_samples) noexcept nogil:
    """Loss of one row against target probabilities ``t``; gradient ``(p - t) / n_samples``.

    The loss ``sum_c t_c (log Z - (z_c - max))`` is accumulated as
    ``log Z * sum_c t_c - sum_c t_c (z_c - max)``; both terms are
    non-negative for non-negative targets, so nothing cancels.
    """
    cdef intp_t j
    cdef floating mx = _max(z, n)
    cdef floating s, inv_s, inv_n
    cdef double t_sum = 0
    cdef double t_dot = 0
    for j in range(n):
        t_sum += t[j]
        t_dot += <double> t[j] * (z[j] - mx)
    _exp_shift(z, mx, g, n)
    s = _sum(g, n)
    inv_s = 1 / s
    inv_n = 1 / n_samples
    for j in range(n):
        g[j] = (g[j] * inv_s - t[j]) * inv_n
    return <double> _log(s) * t_sum - t_dot


def softmax_cross_entropy_labels(const floating[:, ::1] logits,  # IN  (n_samples, n_classes)
                                 const intp_t[::1] labels,       # IN  (n_samples,)
                                 floating[:, ::1] grad,          # OUT (n_samples, n_classes), may be logits
                                 int num_threads):
    """Summed cross-entropy of softmax(logits) against integer labels; gradient into ``grad``.

    Raises ``ValueError`` (before anything is written) when a label lies
    outside ``[0, n_classes)``.
    """
    cdef intp_t n_rows = logits.shape[0]
    cdef intp_t n_cols = logits.shape[1]
    cdef intp_t bad
    cdef double loss
    with nogil:
        bad = _label_outside(&labels[0], n_rows, n_cols)
    if bad != -1:
        _raise_bad_label(labels[bad], n_cols)
    with nogil:
        loss = _xent_labels(&logits[0, 0], &labels[0], &grad[0, 0], n_rows, n_cols, num_threads)
    return loss


cdef inline intp_t _label_outside(const intp_t* labels, intp_t n_rows,
                                  intp_t n_classes) noexcept nogil:
    """Index of the first label outside ``[0, n_classes)``, or -1."""
    cdef intp_t i
    for i in range(n_rows):
        if labels[i] < 0 or labels[i] >= n_classes:
            return i
    return -1


cdef _raise_bad_label(intp_t label, intp_t n_classes):
    raise ValueError(f"softmax_cross_entropy: label {label} is outside [0, {n_classes}) "
                     f"for logits with {n_classes} classes")


cdef double _xent_labels(const floating* zp, const intp_t* lp, floating* gp, intp_t n_rows,
                         intp_t n_cols, int num_threads) noexcept nogil:
    """:func:`softmax_cross_entropy_labels` for labels already checked."""
    cdef floating n_samples = <floating> n_rows
    cdef intp_t i
    cdef double loss = 0
    if num_threads <= 1:
        for i in range(n_rows):
            loss += _xent_label_row(zp + i * n_cols, lp[i], gp + i * n_cols, n_cols, n_samples)
    else:
        for i in prange(n_rows, num_threads=num_threads, schedule="static"):
            loss += _xent_label_row(zp + i * n_cols, lp[i], gp + i * n_cols, n_cols, n_samples)
    return loss


def softmax_cross_entropy_probs(const floating[:, ::1] logits,   # IN  (n_samples, n_classes)
                                const floating[:, ::1] targets,  # IN  (n_samples, n_classes)
                                floating[:, ::1] grad,           # OUT (n_samples, n_classes), may be logits
                                int num_threads):
    """Summed cross-entropy of softmax(logits) against target probabilities; gradient into ``grad``."""
    cdef double loss
    with nogil:
        loss = _xent_probs(&logits[0, 0], &targets[0, 0], &grad[0, 0], logits.shape[0],
                           logits.shape[1], num_threads)
    return loss


cdef double _xent_probs(const floating* zp, const floating* tp, floating* gp, intp_t n_rows,
                        intp_t n_cols, int num_threads) noexcept nogil:
    """:func:`softmax_cross_entropy_probs` on raw pointers."""
    cdef floating n_samples = <floating> n_rows
    cdef intp_t i
    cdef double loss = 0
    if num_threads <= 1:
        for i in range(n_rows):
            loss += _xent_prob_row(zp + i * n_cols, tp + i * n_cols, gp + i * n_cols,
                                   n_cols, n_samples)
    else:
        for i in prange(n_rows, num_threads=num_threads, schedule="static"):
            loss += _xent_prob_row(zp + i * n_cols, tp + i * n_cols, gp + i * n_cols,
                                   n_cols, n_samples)
    return loss


cdef inline double _sum_double(const floating* x, intp_t n) noexcept nogil:
    """``sum(x[0:n])`` accumulated in double, in ``_LANES`` partial sums."""
    cdef double acc[_LANES]
    cdef double total = 0
    cdef intp_t i, j, b
    cdef intp_t n_main = n - n % _LANES
    for j in range(_LANES):
        acc[j] = 0
    for b in range(n_main // _LANES):
        i = b * _LANES
        for j in range(_LANES):
            acc[j] += x[i + j]
    for j in range(_LANES):
        total += acc[j]
    for i in range(n_main, n):
        total += x[i]
    return total


cdef inline double _bce_range(const floating* z, const floating* t, floating* g,
                              intp_t n, floating size) noexcept nogil:
    """Summed ``max(z, 0) - z t + log1p(exp(-|z|))``; ``g = (sigmoid(z) - t) / size``.

    Works through blocks: the exponentials, then one loop (which vectorises)
    writing the gradient and each element's loss term, then the terms' sum.
    ``g`` may be ``z`` or ``t``.
    """
    cdef floating e[_BLOCK]
    cdef floating pos[_BLOCK]
    cdef floating terms[_BLOCK]
    cdef floating zero = 0
    cdef floating one = 1
    cdef floating zi, ti
    cdef double total = 0
    cdef intp_t i, blk, start, m
    for blk in range((n + _BLOCK - 1) // _BLOCK):
        start = blk * _BLOCK
        m = min(<intp_t> _BLOCK, n - start)
        _exp_negabs(z + start, e, m)
        for i in range(m):
            pos[i] = zero if z[start + i] < zero else z[start + i]
        for i in range(m):
            zi = z[start + i]
            ti = t[start + i]
            g[start + i] = ((one if zi >= zero else e[i]) / (one + e[i]) - ti) / size
            terms[i] = pos[i] - zi * ti + _log1p_unit(e[i])
        total += _sum_double(terms, m)
    return total


def sigmoid_binary_cross_entropy(const floating[::1] logits,   # IN  (size,)
                                 const floating[::1] targets,  # IN  (size,)
                                 floating[::1] grad,           # OUT (size,), may be logits
                                 int num_threads):
    """Summed binary cross-entropy of sigmoid(logits); gradient ``(sigmoid(z) - t) / size``."""
    cdef double loss
    with nogil:
        loss = _pointwise_loss(LOSS_BCE, &logits[0], &targets[0], &grad[0], logits.shape[0],
                               num_threads)
    return loss


cdef inline double _mse_range(const floating* p, const floating* t, floating* g,
                              intp_t n, floating scale) noexcept nogil:
    """Summed ``(p - t)^2``; ``g = (p - t) * scale`` (partial sums as in ``_bce_range``)."""
    cdef double acc[_LANES]
    cdef double total = 0
    cdef floating d
    cdef intp_t i, j, b
    cdef intp_t n_main = n - n % _LANES
    for j in range(_LANES):
        acc[j] = 0
    for b in range(n_main // _LANES):
        i = b * _LANES
        for j in range(_LANES):
            d = p[i + j] - t[i + j]
            g[i + j] = d * scale
            acc[j] += d * d
    for j in range(_LANES):
        total += acc[j]
    for i in range(n_main, n):
        d = p[i] - t[i]
        g[i] = d * scale
        total += d * d
    return total


def mean_squared_error(const floating[::1] pred,     # IN  (size,)
                       const floating[::1] targets,  # IN  (size,)
                       floating[::1] grad,           # OUT (size,), may be pred
                       int num_threads):
    """Summed squared error; gradient ``2 (pred - targets) / size``."""
    cdef double loss
    with nogil:
        loss = _pointwise_loss(LOSS_MSE, &pred[0], &targets[0], &grad[0], pred.shape[0],
                               num_threads)
    return loss


cdef inline double _pointwise_range(int loss, const floating* z, const floating* t,
                                    floating* g, intp_t n, intp_t size) noexcept nogil:
    if loss == LOSS_BCE:
        return _bce_range(z, t, g, n, <floating> size)
    return _mse_range(z, t, g, n, <floating> (2.0 / size))


cdef double _pointwise_loss(int loss, const floating* zp, const floating* tp, floating* gp,
                            intp_t n, int num_threads) noexcept nogil:
    """:func:`sigmoid_binary_cross_entropy` (LOSS_BCE) or :func:`mean_squared_error`
    (LOSS_MSE) on raw pointers, in contiguous chunks per thread."""
    cdef intp_t c, start, chunk
    cdef double total = 0
    if num_threads <= 1:
        return _pointwise_range(loss, zp, tp, gp, n, n)
    chunk = _chunk_size(n, num_threads)
    for c in prange(_n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
        start = c * chunk
        total += _pointwise_range(loss, zp + start, tp + start, gp + start,
                                  min(chunk, n - start), n)
    return total


# ------------------------------------------------------------------ optimizers
# One pass over each parameter: weight decay, state update and parameter update
# for element i happen together.  The arithmetic follows the reference formulas
# term by term (same order of operations, scalars rounded to the array dtype),
# so results agree with numpy to within an ulp or two.  SGD is bound by memory
# and stays here; the updates with a square root and a division per element
# run the instruction-set specific kernels of _dense_simd.pxd (see
# select_simd_kernels).


cdef inline void _sgd_range(floating* p, const floating* g, intp_t n, floating lr,
                            floating wd) noexcept nogil:
    cdef intp_t i
    cdef floating gi
    for i in range(n):
        gi = g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        p[i] = p[i] - lr * gi


cdef inline void _momentum_range(floating* p, const floating* g, floating* v, intp_t n,
                                 floating lr, floating mu, bint nesterov,
                                 floating wd) noexcept nogil:
    # Two loops rather than a test of ``nesterov`` per element: the compiler
    # takes only the weight-decay test out of the loop by itself.
    cdef intp_t i
    cdef floating gi, vi
    if nesterov:
        for i in range(n):
            gi = g[i]
            if wd != 0:
                gi = gi + wd * p[i]
            vi = v[i] * mu - lr * gi
            v[i] = vi
            p[i] = p[i] + (mu * vi - lr * gi)
    else:
        for i in range(n):
            gi = g[i]
            if wd != 0:
                gi = gi + wd * p[i]
            vi = v[i] * mu - lr * gi
            v[i] = vi
            p[i] = p[i] + vi


# Update rules of _update; ``hyper`` holds their scalars as doubles (rounded to
# the arrays' dtype where the update uses them).
cdef enum:
    RULE_NONE = 0
    RULE_SGD = 1        # hyper: lr
    RULE_MOMENTUM = 2   # lr, momentum
    RULE_NESTEROV = 3   # lr, momentum
    RULE_ADAM = 4       # lr, beta1, beta2, eps, 1 - beta1**t, 1 - beta2**t
    RULE_RMSPROP = 5    # lr, rho, eps
    RULE_ADAGRAD = 6    # lr, eps
    RULE_ADADELTA = 7   # lr, rho, eps


cdef inline void _update_range(int rule, floating* p, const floating* g, floating* s0,
                               floating* s1, intp_t n, const double* h,
                               floating wd) noexcept nogil:
    """Update rule ``rule`` on ``n`` elements; ``s0``, ``s1`` its state (or NULL)."""
    if rule == RULE_SGD:
        _sgd_range(p, g, n, <floating> h[0], wd)
    elif rule == RULE_MOMENTUM or rule == RULE_NESTEROV:
        _momentum_range(p, g, s0, n, <floating> h[0], <floating> h[1], rule == RULE_NESTEROV, wd)
    elif rule == RULE_ADAM:
        _adam_range(p, g, s0, s1, n, <floating> (h[0] / h[4]), <floating> h[1],
                    <floating> (1.0 - h[1]), <floating> h[2], <floating> (1.0 - h[2]),
                    <floating> (1.0 / h[5]), <floating> h[3], wd)
    elif rule == RULE_RMSPROP:
        _rmsprop_range(p, g, s0, n, <floating> h[0], <floating> h[1], <floating> (1.0 - h[1]),
                       <floating> h[2], wd)
    elif rule == RULE_ADAGRAD:
        _adagrad_range(p, g, s0, n, <floating> h[0], <floating> h[1], wd)
    elif rule == RULE_ADADELTA:
        _adadelta_range(p, g, s0, s1, n, <floating> h[0], <floating> h[1],
                        <floating> (1.0 - h[1]), <floating> h[2], wd)


cdef void _update(int rule, floating* p, const floating* g, floating* s0, floating* s1,
                  intp_t n, const double* h, double weight_decay,
                  int num_threads) noexcept nogil:
    """Update rule ``rule`` over a whole parameter, in contiguous chunks per thread."""
    cdef floating wd = <floating> weight_decay
    cdef intp_t c, start, chunk
    if num_threads <= 1:
        _update_range(rule, p, g, s0, s1, n, h, wd)
    else:
        chunk = _chunk_size(n, num_threads)
        for c in prange(_n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
            start = c * chunk
            _update_range(rule, p + start, g + start, s0 + start if s0 != NULL else NULL,
                          s1 + start if s1 != NULL else NULL, min(chunk, n - start), h, wd)


def sgd_update(floating[::1] param,       # IN/OUT (size,)
               const floating[::1] grad,  # IN     (size,)
               floating[::1] velocity,    # IN/OUT (size,), None without momentum
               double lr, double momentum, bint nesterov, double weight_decay,
               int num_threads):
    """SGD step, with (Nesterov) momentum when ``momentum`` is not 0."""
    cdef double h[2]
    cdef int rule = RULE_SGD if momentum == 0 else (RULE_NESTEROV if nesterov else RULE_MOMENTUM)
    h[0] = lr
    h[1] = momentum
    with nogil:
        _update(rule, &param[0], &grad[0], &velocity[0] if momentum != 0 else NULL,
                <floating*> NULL, param.shape[0], h, weight_decay, num_threads)


cdef inline void _adam_range(floating* p, const floating* g, floating* m, floating* v,
                             intp_t n, floating lr_c1, floating b1, floating omb1,
                             floating b2, floating omb2, floating c2, floating eps,
                             floating wd) noexcept nogil:
    if floating is float:
        nnf_dense_simd.adam_f32(p, g, m, v, n, lr_c1, b1, omb1, b2, omb2, c2, eps, wd)
    else:
        nnf_dense_simd.adam_f64(p, g, m, v, n, lr_c1, b1, omb1, b2, omb2, c2, eps, wd)


def adam_update(floating[::1] param,       # IN/OUT (size,)
                const floating[::1] grad,  # IN     (size,)
                floating[::1] m,           # IN/OUT (size,)
                floating[::1] v,           # IN/OUT (size,)
                double lr, double beta1, double beta2, double eps,
                double bias1, double bias2, double weight_decay, int num_threads):
    """Adam step; ``bias1 = 1 - beta1**t`` and ``bias2 = 1 - beta2**t`` come precomputed.

    ``param -= (lr / bias1) * m / (sqrt(v / bias2) + eps)``.
    """
    cdef double h[6]
    h[0], h[1], h[2], h[3], h[4], h[5] = lr, beta1, beta2, eps, bias1, bias2
    with nogil:
        _update(RULE_ADAM, &param[0], &grad[0], &m[0], &v[0], param.shape[0], h,
                weight_decay, num_threads)


cdef inline void _rmsprop_range(floating* p, const floating* g, floating* sq, intp_t n,
                                floating lr, floating rho, floating omrho, floating eps,
                                floating wd) noexcept nogil:
    if floating is float:
        nnf_dense_simd.rmsprop_f32(p, g, sq, n, lr, rho, omrho, eps, wd)
    else:
        nnf_dense_simd.rmsprop_f64(p, g, sq, n, lr, rho, omrho, eps, wd)


def rmsprop_update(floating[::1] param,       # IN/OUT (size,)
                   const floating[::1] grad,  # IN     (size,)
                   floating[::1] sq,          # IN/OUT (size,)
                   double lr, double rho, double eps, double weight_decay,
                   int num_threads):
    """RMSprop step."""
    cdef double h[3]
    h[0], h[1], h[2] = lr, rho, eps
    with nogil:
        _update(RULE_RMSPROP, &param[0], &grad[0], &sq[0], <floating*> NULL, param.shape[0], h,
                weight_decay, num_threads)


cdef inline void _adagrad_range(floating* p, const floating* g, floating* acc, intp_t n,
                                floating lr, floating eps, floating wd) noexcept nogil:
    if floating is float:
        nnf_dense_simd.adagrad_f32(p, g, acc, n, lr, eps, wd)
    else:
        nnf_dense_simd.adagrad_f64(p, g, acc, n, lr, eps, wd)


def adagrad_update(floating[::1] param,       # IN/OUT (size,)
                   const floating[::1] grad,  # IN     (size,)
                   floating[::1] acc,         # IN/OUT (size,)
                   double lr, double eps, double weight_decay, int num_threads):
    """Adagrad step."""
    cdef double h[2]
    h[0], h[1] = lr, eps
    with nogil:
        _update(RULE_ADAGRAD, &param[0], &grad[0], &acc[0], <floating*> NULL, param.shape[0],
                h, weight_decay, num_threads)


cdef inline void _adadelta_range(floating* p, const floating* g, floating* eg,
                                 floating* ed, intp_t n, floating lr, floating rho,
                                 floating omrho, floating eps, floating wd) noexcept nogil:
    if floating is float:
        nnf_dense_simd.adadelta_f32(p, g, eg, ed, n, lr, rho, omrho, eps, wd)
    else:
        nnf_dense_simd.adadelta_f64(p, g, eg, ed, n, lr, rho, omrho, eps, wd)


def adadelta_update(floating[::1] param,       # IN/OUT (size,)
                    const floating[::1] grad,  # IN     (size,)
                    floating[::1] acc_grad,    # IN/OUT (size,)
                    floating[::1] acc_delta,   # IN/OUT (size,)
                    double lr, double rho, double eps, double weight_decay,
                    int num_threads):
    """Adadelta step scaled by ``lr``."""
    cdef double h[3]
    h[0], h[1], h[2] = lr, rho, eps
    with nogil:
        _update(RULE_ADADELTA, &param[0], &grad[0], &acc_grad[0], &acc_delta[0],
                param.shape[0], h, weight_decay, num_threads)


# --------------------------------------------------------- stacks of dense layers
# One training step of a stack of dense layers (forward pass, loss, backward
# pass and, optionally, the optimizer's update) in a single call: the same
# kernels and thread counts as the layers, the loss and the optimizer calling
# the functions above one at a time, without a trip through Python between
# them.  Each layer's parameters are updated as soon as its gradients are
# known (and its weights have served for the gradient of its input), while
# the gradients are still in cache; the updates are elementwise, so their
# order changes nothing.

cdef struct _StackLayer:
    int n_in
    int n_out
    int act        # applied in place after the affine map (identity for a fused output layer)
    char* w        # (n_in, n_out)
    char* b        # (n_out,)
    char* dw       # (n_in, n_out)
    char* db       # (n_out,)
    char* y        # (max_rows, n_out): the layer's output (the logits of a fused output layer)
    char* dz       # (max_rows, n_out): gradient with respect to the pre-activation
    char* w_state[2]   # the optimizer's state of w and b (NULL where the rule has none)
    char* b_state[2]


cdef class DenseStack:
    """Pointers to the parameters, gradients and buffers of a stack of dense layers.

    Built by ``nnfast.backend.cpu_dense.CpuDenseStack``, which checks every
    array and keeps them alive; this class only records their addresses.

    Parameters
    ----------
    addresses : list of tuple of int
        Per layer ``(w, b, dw, db, y, dz)`` data addresses.
    sizes : list of tuple of int
        Per layer ``(n_in, n_out, activation code)``.
    x_buffer, prob_buffer : int
        Addresses of the gathered input rows (max_rows, n_in of the first
        layer) and of the output of a fused output layer (max_rows, n_out),
        0 when there is none.
    label_buffer, target_buffer : int
        Addresses of the gathered labels (max_rows,) (intp) and targets
        (max_rows, n_out).
    fused_act : int
        Activation of a fused output layer (softmax or sigmoid), -1 for none.
    loss : int
        0 for the cross-entropy, 2 for the binary cross-entropy, 3 for the
        mean squared error.
    itemsize : int
        4 for float32, 8 for float64.
    """
    cdef _StackLayer* layers
    cdef int n_layers
    cdef char* x_buffer
    cdef char* prob_buffer
    cdef char* label_buffer
    cdef char* target_buffer
    cdef int fused_act
    cdef int loss
    cdef int itemsize

    def __cinit__(self, list addresses, list sizes, size_t x_buffer, size_t prob_buffer,
                  size_t label_buffer, size_t target_buffer, int fused_act, int loss,
                  int itemsize):
        cdef int i
        self.n_layers = len(sizes)
        self.layers = <_StackLayer*> calloc(max(1, self.n_layers), sizeof(_StackLayer))
        if self.layers == NULL:
            raise MemoryError()
        for i in range(self.n_layers):
            w, b, dw, db, y, dz = addresses[i]
            self.layers[i].n_in, self.layers[i].n_out, self.layers[i].act = sizes[i]
            self.layers[i].w = <char*> <size_t> w
            self.layers[i].b = <char*> <size_t> b
            self.layers[i].dw = <char*> <size_t> dw
            self.layers[i].db = <char*> <size_t> db
            self.layers[i].y = <char*> <size_t> y
            self.layers[i].dz = <char*> <size_t> dz
        self.x_buffer = <char*> x_buffer
        self.prob_buffer = <char*> prob_buffer
        self.label_buffer = <char*> label_buffer
        self.target_buffer = <char*> target_buffer
        self.fused_act = fused_act
        self.loss = loss
        self.itemsize = itemsize

    def __dealloc__(self):
        free(self.layers)

    def bind_state(self, list addresses):
        """Record the optimizer state's addresses: per layer ``(w0, w1, b0, b1)``, 0 for none."""
        cdef int i, j
        for i in range(self.n_layers):
            for j in range(2):
                self.layers[i].w_state[j] = <char*> <size_t> addresses[i][j]
                self.layers[i].b_state[j] = <char*> <size_t> addresses[i][2 + j]

    def step(self, cnp.ndarray x, rows, int n, cnp.ndarray targets, cnp.ndarray threads,
             int rule=RULE_NONE, cnp.ndarray hyper=None, double weight_decay=0):
        """Forward pass, loss, backward pass and update on one batch; returns the summed loss.

        Parameters
        ----------
        x : ndarray
            The batch itself, of shape (n, n_in), when ``rows`` is None; else
            every sample, of which the batch takes rows ``rows[0:n]``.
        rows : intp ndarray of shape (n,) or None
        targets : ndarray
            intp labels, or targets with n_out columns, for the same rows as
            ``x`` (every sample when ``rows`` is given).
        threads : int32 ndarray of shape (4 * n_layers + 3,)
            Threads of each layer's products, elementwise loop, weight update
            and bias update, then of the loss, of the fused output activation
            and of the gathering of rows.
        rule : int
            One of the RULE_* codes: the update applied to every parameter,
            with the state bound by :meth:`bind_state` (RULE_NONE: none).
        hyper : float64 ndarray
            The rule's scalars (see the RULE_* codes).
        weight_decay : float
            L2 coefficient added to the weights' gradients (not the biases').

        Raises ``ValueError`` for a row index or label out of range (before
        anything is written).
        """
        cdef const intp_t* row_ptr = NULL if rows is None else <const intp_t*> cnp.PyArray_DATA(rows)
        cdef Py_ssize_t n_source_rows = x.shape[0]
        cdef void* targets_ptr = cnp.PyArray_DATA(targets)
        cdef size_t target_row_bytes
        cdef const int* thread_ptr = <const int*> cnp.PyArray_DATA(threads)
        cdef const double* hyper_ptr = NULL if hyper is None else <const double*> cnp.PyArray_DATA(hyper)
        cdef _StackLayer* last = &self.layers[self.n_layers - 1]
        cdef intp_t bad = -1
        cdef int loss_code = self.loss
        cdef double loss
        if loss_code == LOSS_XENT and targets.ndim == 2:
            loss_code = LOSS_XENT_PROBS
        with nogil:
            if row_ptr != NULL:
                bad = _label_outside(row_ptr, n, n_source_rows)
        if bad != -1:
            raise ValueError(f"row index {row_ptr[bad]} is outside [0, {n_source_rows})")
        if row_ptr != NULL:
            if targets.ndim == 1:
                target_row_bytes = sizeof(intp_t)
                _gather_rows(<const char*> targets_ptr, row_ptr, n, target_row_bytes,
                             self.label_buffer, 1)
                targets_ptr = self.label_buffer
            else:
                target_row_bytes = <size_t> last.n_out * self.itemsize
                _gather_rows(<const char*> targets_ptr, row_ptr, n, target_row_bytes,
                             self.target_buffer, 1)
                targets_ptr = self.target_buffer
        if loss_code == LOSS_XENT:
            with nogil:
                bad = _label_outside(<const intp_t*> targets_ptr, n, last.n_out)
            if bad != -1:
                _raise_bad_label((<const intp_t*> targets_ptr)[bad], last.n_out)
        with nogil:
            if self.itemsize == 4:
                loss = _stack_step(self, <const float*> cnp.PyArray_DATA(x), row_ptr, n,
                                   loss_code, targets_ptr, thread_ptr, rule, hyper_ptr,
                                   weight_decay)
            else:
                loss = _stack_step(self, <const double*> cnp.PyArray_DATA(x), row_ptr, n,
                                   loss_code, targets_ptr, thread_ptr, rule, hyper_ptr,
                                   weight_decay)
        return loss


cdef void _gather_rows(const char* source, const intp_t* rows, intp_t n, size_t row_bytes,
                       char* out, int num_threads) noexcept nogil:
    """Copy rows ``rows[0:n]`` of ``source`` (rows of ``row_bytes``) into ``out``.

    Rows picked at random from a large array come from main memory; two
    threads keep twice as many of those reads in flight.
    """
    cdef intp_t i
    if num_threads <= 1:
        for i in range(n):
            memcpy(out + i * row_bytes, source + rows[i] * row_bytes, row_bytes)
    else:
        for i in prange(n, num_threads=num_threads, schedule="static"):
            memcpy(out + i * row_bytes, source + rows[i] * row_bytes, row_bytes)


cdef double _stack_step(DenseStack s, const floating* x, const intp_t* rows, int n,
                        int loss_code, const void* targets, const int* threads, int rule,
                        const double* hyper, double weight_decay) noexcept nogil:
    """:meth:`DenseStack.step` for one dtype."""
    cdef _StackLayer* layer
    cdef _StackLayer* last = &s.layers[s.n_layers - 1]
    cdef floating* gathered = <floating*> s.x_buffer
    cdef const floating* inp
    cdef floating* z
    cdef floating* dz
    cdef intp_t i, n_in0 = s.layers[0].n_in
    cdef int l, t_prod, t_elem
    cdef int t_loss = threads[4 * s.n_layers]
    cdef int t_out = threads[4 * s.n_layers + 1]
    cdef double loss = 0
    if rows != NULL:
        _gather_rows(<const char*> x, rows, n, n_in0 * sizeof(floating), <char*> gathered,
                     threads[4 * s.n_layers + 2])
        x = gathered

    # Forward: each layer's affine map, then its activation in place.
    inp = x
    for l in range(s.n_layers):
        layer = &s.layers[l]
        t_prod = threads[4 * l]
        t_elem = threads[4 * l + 1]
        z = <floating*> layer.y
        _affine(inp, <const floating*> layer.w, <const floating*> layer.b, z, n,
                layer.n_in, layer.n_out, t_prod)
        if layer.act != ACT_IDENTITY:
            _activation(z, z, n, layer.n_out, layer.act, t_elem)
        inp = z

    # The loss and its gradient, into the output layer's delta.
    z = <floating*> last.y
    dz = <floating*> last.dz
    if s.fused_act != -1:
        _activation(z, <floating*> s.prob_buffer, n, last.n_out, s.fused_act, t_out)
    if loss_code == LOSS_XENT:
        loss = _xent_labels(z, <const intp_t*> targets, dz, n, last.n_out, t_loss)
    elif loss_code == LOSS_XENT_PROBS:
        loss = _xent_probs(z, <const floating*> targets, dz, n, last.n_out, t_loss)
    else:
        loss = _pointwise_loss(loss_code, z, <const floating*> targets, dz,
                               <intp_t> n * last.n_out, t_loss)

    # Backward: the input gradient of layer l is written into the delta of
    # layer l - 1, which then goes through that layer's activation in place.
    for l in range(s.n_layers - 1, -1, -1):
        layer = &s.layers[l]
        t_prod = threads[4 * l]
        t_elem = threads[4 * l + 1]
        dz = <floating*> layer.dz
        if layer.act != ACT_IDENTITY:
            _backprop_activation(dz, <const floating*> layer.y, dz, n, layer.n_out,
                                 layer.act, t_elem)
        _backprop_affine(dz, x if l == 0 else <const floating*> s.layers[l - 1].y,
                         <const floating*> layer.w, <floating*> layer.dw, <floating*> layer.db,
                         <floating*> s.layers[l - 1].dz if l > 0 else <floating*> NULL,
                         n, layer.n_in, layer.n_out, t_prod)
        if rule != RULE_NONE:
            _update(rule, <floating*> layer.w, <const floating*> layer.dw,
                    <floating*> layer.w_state[0], <floating*> layer.w_state[1],
                    <intp_t> layer.n_in * layer.n_out, hyper, weight_decay, threads[4 * l + 2])
            _update(rule, <floating*> layer.b, <const floating*> layer.db,
                    <floating*> layer.b_state[0], <floating*> layer.b_state[1], layer.n_out,
                    hyper, 0.0, threads[4 * l + 3])
    return loss
