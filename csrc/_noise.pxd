# Noise for the inputs of a layer: Gaussian noise added, and masking noise
# (values set to 0, none rescaled).  Like dropout, each draw is cut into
# blocks of BLOCK values with one stream per block, ``(draw << 32) ^ block``
# of the layer's seed, so that the noise depends on the seed, the draw's
# number and each value's position, never on how threads split the work.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log, sqrt
from libc.stdint cimport uint64_t

from _activations cimport BLOCK
from _dropout cimport dropout_block
from _rng cimport rng_seed, rng_t, rng_uniform


cdef inline void normal_row(uint64_t key, uint64_t stream, double* out,
                            Py_ssize_t m) noexcept nogil:
    """``out[0:m]``: standard normal draws of the stream ``(key, stream)``.

    Marsaglia's polar method on the xoshiro256** generator of ``_rng.pxd``:
    each accepted pair of uniforms in the unit disc gives two normals,
    without a sine or cosine.
    """
    cdef rng_t r
    cdef double u, v, s, f
    cdef Py_ssize_t i = 0
    rng_seed(&r, key, stream)
    while i < m:
        u = 2.0 * rng_uniform(&r) - 1.0
        v = 2.0 * rng_uniform(&r) - 1.0
        s = u * u + v * v
        if s >= 1.0 or s == 0.0:
            continue
        f = sqrt(-2.0 * log(s) / s)
        out[i] = u * f
        if i + 1 < m:
            out[i + 1] = v * f
        i += 2


cdef inline void gaussian_noise_block(const floating* x, floating* y, Py_ssize_t m,
                                      double stddev, uint64_t key,
                                      uint64_t stream) noexcept nogil:
    cdef double e[BLOCK]
    cdef Py_ssize_t i
    normal_row(key, stream, e, m)
    for i in range(m):
        y[i] = <floating> (x[i] + stddev * e[i])


cdef inline void gaussian_noise(const floating* x, floating* y, Py_ssize_t n, double stddev,
                                uint64_t key, uint64_t draw, int num_threads) noexcept nogil:
    """``y = x + stddev * e`` over ``n`` values, ``e`` draw number ``draw`` of stream ``key``.

    ``y`` may be ``x``.
    """
    cdef Py_ssize_t b, start, n_blocks = (n + BLOCK - 1) // BLOCK
    if num_threads <= 1:
        for b in range(n_blocks):
            start = b * BLOCK
            gaussian_noise_block(x + start, y + start, min(<Py_ssize_t> BLOCK, n - start),
                                 stddev, key, (draw << 32) ^ <uint64_t> b)
    else:
        for b in prange(n_blocks, num_threads=num_threads, schedule="static"):
            start = b * BLOCK
            gaussian_noise_block(x + start, y + start, min(<Py_ssize_t> BLOCK, n - start),
                                 stddev, key, (draw << 32) ^ <uint64_t> b)


cdef inline void normals(floating* e, Py_ssize_t n, uint64_t key, uint64_t draw) noexcept nogil:
    """``e[0:n]``: standard normals, draw number ``draw`` of stream ``key`` (as above)."""
    cdef Py_ssize_t b, i, start, m, n_blocks = (n + BLOCK - 1) // BLOCK
    cdef double buf[BLOCK]
    # Few values (a code layer's): one thread, no parallel region to open.
    for b in range(n_blocks):
        start = b * BLOCK
        m = min(<Py_ssize_t> BLOCK, n - start)
        normal_row(key, (draw << 32) ^ <uint64_t> b, buf, m)
        for i in range(m):
            e[start + i] = <floating> buf[i]


cdef inline void masking_noise(const floating* x, floating* y, floating* mask, Py_ssize_t n,
                               double rate, uint64_t key, uint64_t draw,
                               int num_threads) noexcept nogil:
    """Masking noise of ``x[0:n]`` into ``y`` (may be ``x``): ``mask`` 0 with probability ``rate``, else 1.

    Dropout's masks without the rescaling, from the same uniform rows.
    """
    cdef floating one = 1
    cdef float r = <float> rate
    cdef Py_ssize_t b, start, n_blocks = (n + BLOCK - 1) // BLOCK
    if num_threads <= 1:
        for b in range(n_blocks):
            start = b * BLOCK
            dropout_block(x + start, y + start, mask + start, min(<Py_ssize_t> BLOCK, n - start),
                          r, one, key, (draw << 32) ^ <uint64_t> b)
    else:
        for b in prange(n_blocks, num_threads=num_threads, schedule="static"):
            start = b * BLOCK
            dropout_block(x + start, y + start, mask + start, min(<Py_ssize_t> BLOCK, n - start),
                          r, one, key, (draw << 32) ^ <uint64_t> b)
