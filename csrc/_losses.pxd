# Losses and their gradients in one pass: softmax cross-entropy (against
# labels or target probabilities), sigmoid binary cross-entropy and the
# squared error.  Sums are returned (the caller divides); each gradient is
# already divided by the number of terms of the mean.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log, logf

from _activations cimport exp_shift, lane_max, lane_sum
from _parallel cimport chunk_size, n_chunks
from _simd cimport nnf_simd

cdef enum:
    LOSS_XENT = 0          # cross-entropy against integer labels
    LOSS_XENT_PROBS = 1    # cross-entropy against target probabilities
    LOSS_BCE = 2
    LOSS_MSE = 3


# Float versions for float32 so that single-precision data stays in single
# precision.
cdef inline floating flog(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline Py_ssize_t label_outside(const Py_ssize_t* labels, Py_ssize_t n_rows,
                                     Py_ssize_t n_classes) noexcept nogil:
    """Index of the first label outside ``[0, n_classes)``, or -1."""
    cdef Py_ssize_t i
    for i in range(n_rows):
        if labels[i] < 0 or labels[i] >= n_classes:
            return i
    return -1


cdef inline double xent_label_row(const floating* z, Py_ssize_t label, floating* g,
                                  Py_ssize_t n, floating n_samples) noexcept nogil:
    """Loss of one row against an integer label; ``(p - onehot) / n_samples`` into ``g``.

    ``g`` may be ``z``: every pass reads ``z[j]`` before it writes ``g[j]``.
    """
    cdef Py_ssize_t j
    cdef floating mx = lane_max(z, n)
    cdef floating z_label = z[label] - mx
    cdef floating s, scale
    cdef floating inv_n = 1 / n_samples
    exp_shift(z, mx, g, n)
    s = lane_sum(g, n)
    scale = 1 / (s * n_samples)
    for j in range(n):
        g[j] = g[j] * scale
    g[label] = g[label] - inv_n
    return <double> flog(s) - <double> z_label


cdef inline double xent_prob_row(const floating* z, const floating* t, floating* g,
                                 Py_ssize_t n, floating n_samples) noexcept nogil:
    """Loss of one row against target probabilities ``t``; gradient ``(p - t) / n_samples``.

    The loss ``sum_c t_c (log Z - (z_c - max))`` is accumulated as
    ``log Z * sum_c t_c - sum_c t_c (z_c - max)``; both terms are
    non-negative for non-negative targets, so nothing cancels.
    """
    cdef Py_ssize_t j
    cdef floating mx = lane_max(z, n)
    cdef floating s, inv_s, inv_n
    cdef double t_sum = 0
    cdef double t_dot = 0
    for j in range(n):
        t_sum += t[j]
        t_dot += <double> t[j] * (z[j] - mx)
    exp_shift(z, mx, g, n)
    s = lane_sum(g, n)
    inv_s = 1 / s
    inv_n = 1 / n_samples
    for j in range(n):
        g[j] = (g[j] * inv_s - t[j]) * inv_n
    return <double> flog(s) * t_sum - t_dot


cdef inline double xent_labels(const floating* zp, const Py_ssize_t* lp, floating* gp,
                               Py_ssize_t n_rows, Py_ssize_t n_cols,
                               int num_threads) noexcept nogil:
    """Summed cross-entropy of softmax rows against labels already checked."""
    cdef floating n_samples = <floating> n_rows
    cdef Py_ssize_t i
    cdef double loss = 0
    if num_threads <= 1:
        for i in range(n_rows):
            loss += xent_label_row(zp + i * n_cols, lp[i], gp + i * n_cols, n_cols, n_samples)
    else:
        for i in prange(n_rows, num_threads=num_threads, schedule="static"):
            loss += xent_label_row(zp + i * n_cols, lp[i], gp + i * n_cols, n_cols, n_samples)
    return loss


cdef inline double xent_probs(const floating* zp, const floating* tp, floating* gp,
                              Py_ssize_t n_rows, Py_ssize_t n_cols, int num_threads) noexcept nogil:
    """Summed cross-entropy of softmax rows against target probabilities."""
    cdef floating n_samples = <floating> n_rows
    cdef Py_ssize_t i
    cdef double loss = 0
    if num_threads <= 1:
        for i in range(n_rows):
            loss += xent_prob_row(zp + i * n_cols, tp + i * n_cols, gp + i * n_cols,
                                  n_cols, n_samples)
    else:
        for i in prange(n_rows, num_threads=num_threads, schedule="static"):
            loss += xent_prob_row(zp + i * n_cols, tp + i * n_cols, gp + i * n_cols,
                                  n_cols, n_samples)
    return loss


cdef inline double bce_range(const floating* z, const floating* t, floating* g,
                             Py_ssize_t n, floating size) noexcept nogil:
    """Summed ``max(z, 0) - z t + log1p(exp(-|z|))``; ``g = (sigmoid(z) - t) / size``.

    The instruction-set specific kernel of ``nnf_simd_kernels.h``; ``g`` may
    be ``z`` or ``t``.
    """
    if floating is float:
        return nnf_simd.bce_f32(z, t, g, n, size)
    return nnf_simd.bce_f64(z, t, g, n, size)


cdef inline double mse_range(const floating* p, const floating* t, floating* g,
                             Py_ssize_t n, floating scale) noexcept nogil:
    """Summed ``(p - t)^2``; ``g = (p - t) * scale`` (``g`` may be ``p`` or ``t``).

    The instruction-set specific kernel of ``nnf_simd_kernels.h``: sixteen
    partial sums in double.
    """
    if floating is float:
        return nnf_simd.mse_f32(p, t, g, n, scale)
    return nnf_simd.mse_f64(p, t, g, n, scale)


cdef inline double pointwise_range(int loss, const floating* z, const floating* t,
                                   floating* g, Py_ssize_t n, Py_ssize_t size) noexcept nogil:
    if loss == LOSS_BCE:
        return bce_range(z, t, g, n, <floating> size)
    return mse_range(z, t, g, n, <floating> (2.0 / size))


cdef inline double pointwise_loss(int loss, const floating* zp, const floating* tp, floating* gp,
                                  Py_ssize_t n, int num_threads) noexcept nogil:
    """The binary cross-entropy (LOSS_BCE) or the squared error (LOSS_MSE), summed,
    in contiguous chunks per thread."""
    cdef Py_ssize_t c, start, chunk
    cdef double total = 0
    if num_threads <= 1:
        return pointwise_range(loss, zp, tp, gp, n, n)
    chunk = chunk_size(n, num_threads)
    for c in prange(n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
        start = c * chunk
        total += pointwise_range(loss, zp + start, tp + start, gp + start,
                                 min(chunk, n - start), n)
    return total
