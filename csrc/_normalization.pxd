# Batch normalisation of the columns of a row-major (m, c) matrix: rows are
# samples after a dense layer, pixels after a convolution (NHWC), c the
# channels, so every inner loop runs over c contiguous values.
#
# Sums over rows are taken in double, in blocks of BN_ROWS rows whose partial
# sums are then added in block order: the blocks depend only on m, so the
# result is the same whatever the number of threads.  The forward pass reads
# x twice (statistics, then the output); the backward pass reads dy and x
# twice (the sums, then dx).  The statistics are sums of x - x[0], which keeps
# the variance accurate when the mean is far from zero.
#
# Work space: ``work_size(m, c)`` doubles, the caller's (so that a network
# node keeps one across steps).
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

cdef enum:
    BN_ROWS = 256  # rows per block of partial sums


cdef inline Py_ssize_t n_blocks(Py_ssize_t m) noexcept nogil:
    return (m + BN_ROWS - 1) // BN_ROWS


cdef inline Py_ssize_t work_size(Py_ssize_t m, Py_ssize_t c) noexcept nogil:
    """Doubles of work space the kernels need: the partial sums, their totals, per-channel factors."""
    return (2 * n_blocks(m) + 5) * c


cdef inline void shifted_sums(const floating* x, const floating* shift, double* s1, double* s2,
                              Py_ssize_t b, Py_ssize_t m, Py_ssize_t c) noexcept nogil:
    """``s1 = sum (x - shift)``, ``s2 = sum (x - shift)**2`` over the rows of block ``b``."""
    cdef Py_ssize_t r, ch
    cdef double d
    cdef const floating* row
    for ch in range(c):
        s1[ch] = 0
        s2[ch] = 0
    for r in range(b * BN_ROWS, min(m, (b + 1) * BN_ROWS)):
        row = x + r * c
        for ch in range(c):
            d = <double> row[ch] - <double> shift[ch]
            s1[ch] = s1[ch] + d
            s2[ch] = s2[ch] + d * d


cdef inline void grad_sums(const floating* dy, const floating* x, const floating* mean,
                           double* s1, double* s2, Py_ssize_t b, Py_ssize_t m,
                           Py_ssize_t c) noexcept nogil:
    """``s1 = sum dy``, ``s2 = sum dy * (x - mean)`` over the rows of block ``b``."""
    cdef Py_ssize_t r, ch, start
    cdef double g
    for ch in range(c):
        s1[ch] = 0
        s2[ch] = 0
    for r in range(b * BN_ROWS, min(m, (b + 1) * BN_ROWS)):
        start = r * c
        for ch in range(c):
            g = dy[start + ch]
            s1[ch] = s1[ch] + g
            s2[ch] = s2[ch] + g * (<double> x[start + ch] - <double> mean[ch])


cdef inline void add_blocks(double* part, double* total, Py_ssize_t blocks,
                            Py_ssize_t c) noexcept nogil:
    """``total`` (2c,): the blocks' partial sums (each 2c) added in block order."""
    cdef Py_ssize_t b, ch
    for ch in range(2 * c):
        total[ch] = 0
    for b in range(blocks):
        for ch in range(2 * c):
            total[ch] = total[ch] + part[b * 2 * c + ch]


cdef inline void affine_rows(const floating* x, floating* out, const floating* shift,
                             const floating* scale, const floating* offset, Py_ssize_t b,
                             Py_ssize_t m, Py_ssize_t c) noexcept nogil:
    """``out = (x - shift) * scale + offset`` over the rows of block ``b`` (``out`` may be ``x``)."""
    cdef Py_ssize_t r, ch, start
    for r in range(b * BN_ROWS, min(m, (b + 1) * BN_ROWS)):
        start = r * c
        for ch in range(c):
            out[start + ch] = (x[start + ch] - shift[ch]) * scale[ch] + offset[ch]


cdef inline void normalise(const floating* x, floating* out, const floating* mean,
                           const floating* scale, const floating* beta, Py_ssize_t m,
                           Py_ssize_t c, int num_threads) noexcept nogil:
    """``out = (x - mean) * scale + beta``, rows shared out among threads by blocks."""
    cdef Py_ssize_t b, blocks = n_blocks(m)
    if num_threads <= 1:
        for b in range(blocks):
            affine_rows(x, out, mean, scale, beta, b, m, c)
    else:
        for b in prange(blocks, num_threads=num_threads, schedule="static"):
            affine_rows(x, out, mean, scale, beta, b, m, c)


cdef inline void batch_norm_train(const floating* x, const floating* gamma, const floating* beta,
                                  double epsilon, double momentum, floating* moving_mean,
                                  floating* moving_variance, floating* mean, floating* invstd,
                                  floating* out, Py_ssize_t m, Py_ssize_t c, double* work,
                                  int num_threads) noexcept nogil:
    """Batch statistics, the moving statistics' update and ``out`` (may be ``x``), in two reads of ``x``.

    ``mean`` and ``invstd = 1 / sqrt(var + epsilon)`` (c,) are written for
    the backward pass; ``var`` is the biased batch variance.
    """
    cdef Py_ssize_t b, ch, blocks = n_blocks(m)
    cdef double* total = work + 2 * blocks * c
    cdef floating* scale = <floating*> (total + 2 * c)
    cdef double mu, d, var
    if num_threads <= 1:
        for b in range(blocks):
            shifted_sums(x, x, work + 2 * b * c, work + (2 * b + 1) * c, b, m, c)
    else:
        for b in prange(blocks, num_threads=num_threads, schedule="static"):
            shifted_sums(x, x, work + 2 * b * c, work + (2 * b + 1) * c, b, m, c)
    # Each block's sums are [s1 (c), s2 (c)]: add_blocks keeps them apart.
    add_blocks(work, total, blocks, c)
    for ch in range(c):
        d = total[ch] / m
        mu = <double> x[ch] + d
        var = total[c + ch] / m - d * d
        if var < 0:
            var = 0
        mean[ch] = <floating> mu
        invstd[ch] = <floating> (1.0 / sqrt(var + epsilon))
        scale[ch] = gamma[ch] * invstd[ch]
        moving_mean[ch] = <floating> (momentum * moving_mean[ch] + (1.0 - momentum) * mu)
        moving_variance[ch] = <floating> (momentum * moving_variance[ch]
                                          + (1.0 - momentum) * var)
    normalise(x, out, mean, scale, beta, m, c, num_threads)


cdef inline void batch_norm_inference(const floating* x, const floating* gamma,
                                      const floating* beta, const floating* moving_mean,
                                      const floating* moving_variance, double epsilon,
                                      floating* out, Py_ssize_t m, Py_ssize_t c, double* work,
                                      int num_threads) noexcept nogil:
    """``out = (x - moving_mean) * gamma / sqrt(moving_variance + epsilon) + beta``."""
    cdef floating* scale = <floating*> work
    cdef Py_ssize_t ch
    for ch in range(c):
        scale[ch] = <floating> (gamma[ch] / sqrt(<double> moving_variance[ch] + epsilon))
    normalise(x, out, moving_mean, scale, beta, m, c, num_threads)


cdef inline void dx_rows(const floating* dy, const floating* x, floating* dx,
                         const floating* mean, const floating* a, const floating* k1,
                         const floating* k2, Py_ssize_t b, Py_ssize_t m,
                         Py_ssize_t c) noexcept nogil:
    """``dx = a * dy + (x - mean) * k2 + k1`` over the rows of block ``b``."""
    cdef Py_ssize_t r, ch, start
    for r in range(b * BN_ROWS, min(m, (b + 1) * BN_ROWS)):
        start = r * c
        for ch in range(c):
            dx[start + ch] = a[ch] * dy[start + ch] + (x[start + ch] - mean[ch]) * k2[ch] + k1[ch]


cdef inline void scale_rows(const floating* dy, floating* dx, const floating* a, Py_ssize_t b,
                            Py_ssize_t m, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t r, ch, start
    for r in range(b * BN_ROWS, min(m, (b + 1) * BN_ROWS)):
        start = r * c
        for ch in range(c):
            dx[start + ch] = a[ch] * dy[start + ch]


cdef inline void batch_norm_backward(const floating* dy, const floating* x, const floating* gamma,
                                     const floating* mean, const floating* invstd,
                                     floating* dgamma, floating* dbeta, floating* dx,
                                     bint batch_stats, Py_ssize_t m, Py_ssize_t c, double* work,
                                     int num_threads) noexcept nogil:
    """Gradients of the normalisation by ``mean`` and ``invstd``; NULL outputs are skipped.

    With ``xhat = (x - mean) * invstd``: ``dbeta = sum dy``, ``dgamma = sum
    dy * xhat``.  With ``batch_stats`` (``mean`` and ``invstd`` are the
    batch's own) ``dx = gamma * invstd / m * (m * dy - dbeta - xhat *
    dgamma)``; without (moving statistics, constants of the batch) ``dx =
    dy * gamma * invstd``, and the sums are taken only when wanted.
    """
    cdef Py_ssize_t b, ch, blocks = n_blocks(m)
    cdef double* total = work + 2 * blocks * c
    cdef floating* a = <floating*> (total + 2 * c)
    cdef floating* k1 = a + c
    cdef floating* k2 = k1 + c
    cdef double sum_dy, sum_dy_xhat
    if batch_stats or dgamma != NULL or dbeta != NULL:
        if num_threads <= 1:
            for b in range(blocks):
                grad_sums(dy, x, mean, work + 2 * b * c, work + (2 * b + 1) * c, b, m, c)
        else:
            for b in prange(blocks, num_threads=num_threads, schedule="static"):
                grad_sums(dy, x, mean, work + 2 * b * c, work + (2 * b + 1) * c, b, m, c)
        add_blocks(work, total, blocks, c)
        for ch in range(c):
            sum_dy = total[ch]
            sum_dy_xhat = total[c + ch] * invstd[ch]
            if dbeta != NULL:
                dbeta[ch] = <floating> sum_dy
            if dgamma != NULL:
                dgamma[ch] = <floating> sum_dy_xhat
            a[ch] = gamma[ch] * invstd[ch]
            k1[ch] = <floating> (-a[ch] * sum_dy / m)
            k2[ch] = <floating> (-a[ch] * <double> invstd[ch] * sum_dy_xhat / m)
    else:
        for ch in range(c):
            a[ch] = gamma[ch] * invstd[ch]
    if dx == NULL:
        return
    if num_threads <= 1:
        for b in range(blocks):
            if batch_stats:
                dx_rows(dy, x, dx, mean, a, k1, k2, b, m, c)
            else:
                scale_rows(dy, dx, a, b, m, c)
    else:
        for b in prange(blocks, num_threads=num_threads, schedule="static"):
            if batch_stats:
                dx_rows(dy, x, dx, mean, a, k1, k2, b, m, c)
            else:
                scale_rows(dy, dx, a, b, m, c)
