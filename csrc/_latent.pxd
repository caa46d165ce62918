# Penalties on a layer's activity, and the Gaussian sampler of a variational
# autoencoder.  A penalty's value is a mean over the batch's samples, summed
# in double in a fixed order (one thread: these are code layers, a few values
# per sample), so that it never depends on the thread count.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, fabs, log
from libc.stdint cimport uint64_t

from _noise cimport normals
from _parallel cimport chunk_size, n_chunks

cdef inline double clip_rate(double rho) noexcept nogil:
    """``rho`` kept 1e-7 away from 0 and 1 (``ops_latent.KL_CLIP``) before the KL term's logarithms."""
    return 1e-7 if rho < 1e-7 else (1.0 - 1e-7 if rho > 1.0 - 1e-7 else rho)


cdef inline double activity_penalty(const floating* h, Py_ssize_t n, Py_ssize_t m, double l1,
                                    double kl, double target, double* mean) noexcept nogil:
    """``l1 * sum|h| / n + kl * sum_j KL(target || mean_j)`` of ``h`` (n, m).

    ``mean`` (m,) receives the column means (clipped) when ``kl`` is not 0.
    """
    cdef Py_ssize_t i, j
    cdef double total = 0, rho, value = 0
    if l1 != 0:
        for i in range(n * m):
            total += fabs(<double> h[i])
        value += l1 * total / n
    if kl != 0:
        for j in range(m):
            mean[j] = 0
        for i in range(n):
            for j in range(m):
                mean[j] += h[i * m + j]
        total = 0
        for j in range(m):
            rho = clip_rate(mean[j] / n)
            mean[j] = rho
            total += target * log(target / rho) + (1 - target) * log((1 - target) / (1 - rho))
        value += kl * total
    return value


cdef inline void backprop_activity_penalty(const floating* dy, const floating* h,
                                           const double* mean, floating* dx, Py_ssize_t n,
                                           Py_ssize_t m, double l1, double kl, double target,
                                           double scale, double* column,
                                           int num_threads) noexcept nogil:
    """``dx = dy + scale * d(penalty)/dh`` (``dx`` may be ``dy``); ``column`` (m,) is scratch."""
    cdef Py_ssize_t i, j, c, chunk, start, stop
    cdef floating a = <floating> (scale * l1 / n)
    cdef floating zero = 0
    for j in range(m):
        column[j] = (scale * kl / n * (-target / mean[j] + (1 - target) / (1 - mean[j]))
                     if kl != 0 else 0.0)
    if num_threads <= 1:
        for i in range(n):
            for j in range(m):
                dx[i * m + j] = (dy[i * m + j] + <floating> column[j]
                                 + (a if h[i * m + j] > zero else
                                    (-a if h[i * m + j] < zero else zero)))
        return
    chunk = chunk_size(n, num_threads)
    for c in prange(n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
        start = c * chunk
        stop = min(start + chunk, n)
        for i in range(start, stop):
            for j in range(m):
                dx[i * m + j] = (dy[i * m + j] + <floating> column[j]
                                 + (a if h[i * m + j] > zero else
                                    (-a if h[i * m + j] < zero else zero)))


cdef inline void gaussian_sample(const floating* x, floating* z, floating* eps, Py_ssize_t n,
                                 Py_ssize_t m, uint64_t key, uint64_t draw) noexcept nogil:
    """``z = mu + exp(log_var / 2) * eps`` for ``x = [mu, log_var]`` (n, 2m); ``eps`` (n, m) drawn."""
    cdef Py_ssize_t i, j
    normals(eps, n * m, key, draw)
    for i in range(n):
        for j in range(m):
            z[i * m + j] = <floating> (x[i * 2 * m + j]
                                       + exp(0.5 * <double> x[i * 2 * m + m + j]) * eps[i * m + j])


cdef inline void gaussian_mean(const floating* x, floating* z, Py_ssize_t n,
                               Py_ssize_t m) noexcept nogil:
    """``z = mu``: the first ``m`` values of each row of ``x`` (n, 2m)."""
    cdef Py_ssize_t i, j
    for i in range(n):
        for j in range(m):
            z[i * m + j] = x[i * 2 * m + j]


cdef inline double gaussian_kl(const floating* x, Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    """``KL(N(mu, exp(log_var)) || N(0, 1))`` summed over the ``m`` dimensions, mean over rows."""
    cdef Py_ssize_t i, j
    cdef double mu, lv, total = 0
    for i in range(n):
        for j in range(m):
            mu = x[i * 2 * m + j]
            lv = x[i * 2 * m + m + j]
            total += exp(lv) + mu * mu - 1.0 - lv
    return 0.5 * total / n


cdef inline void backprop_gaussian_sample(const floating* dz, const floating* x,
                                          const floating* eps, floating* dx, Py_ssize_t n,
                                          Py_ssize_t m, double scale) noexcept nogil:
    """``dx`` (n, 2m): the gradient through ``z`` (``eps`` NULL: ``z = mu``) plus ``scale`` times the KL's."""
    cdef Py_ssize_t i, j
    cdef double mu, lv, s, c = scale / n
    for i in range(n):
        for j in range(m):
            mu = x[i * 2 * m + j]
            lv = x[i * 2 * m + m + j]
            s = exp(0.5 * lv)
            dx[i * 2 * m + j] = <floating> (dz[i * m + j] + c * mu)
            if eps == NULL:
                dx[i * 2 * m + m + j] = <floating> (c * 0.5 * (s * s - 1.0))
            else:
                dx[i * 2 * m + m + j] = <floating> (0.5 * s * dz[i * m + j] * eps[i * m + j]
                                                    + c * 0.5 * (s * s - 1.0))
