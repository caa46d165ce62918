# Gaussian noise for the inputs of a layer (masking noise is dropout without
# the rescaling: ``_dropout.pxd``).  Like dropout, each draw is cut into
# blocks of BLOCK values with one stream per block, ``(draw << 32) ^ block``
# of the layer's seed, so that the noise depends on the seed, the draw's
# number and each value's position, never on how threads split the work.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, fabs, log
from libc.stdint cimport uint64_t

from _activations cimport BLOCK
from _rng cimport rng_next, rng_seed, rng_t, rng_uniform


cdef extern from "nnf_ziggurat.h":
    double NNF_ZIG_R
    double nnf_zig_x[129]
    double nnf_zig_f[129]
    void nnf_ziggurat_init() noexcept nogil


cdef inline double normal(rng_t* r) noexcept nogil:
    """One standard normal draw by the ziggurat method (tables in ``nnf_ziggurat.h``).

    One 64-bit draw picks the layer (its low 7 bits) and a signed position
    in it (its high 53 bits); about 99% of draws fall in a layer's inner
    rectangle, under the curve, and cost no more.  The rest test the wedge
    against the density, or draw from the tail beyond R by Marsaglia's
    exponential method.
    """
    cdef uint64_t bits
    cdef int i
    cdef double u, x, a, b
    while True:
        bits = rng_next(r)
        i = <int> (bits & 127)
        u = 2.0 * ((bits >> 11) * (1.0 / 9007199254740992.0)) - 1.0
        x = u * nnf_zig_x[i]
        if fabs(x) < nnf_zig_x[i + 1]:
            return x
        if i == 0:
            while True:
                a = -log(1.0 - rng_uniform(r)) / NNF_ZIG_R
                b = -log(1.0 - rng_uniform(r))
                if 2.0 * b > a * a:
                    return NNF_ZIG_R + a if u > 0 else -(NNF_ZIG_R + a)
        if nnf_zig_f[i] + rng_uniform(r) * (nnf_zig_f[i + 1] - nnf_zig_f[i]) < exp(-0.5 * x * x):
            return x


cdef inline void normal_row(uint64_t key, uint64_t stream, double* out,
                            Py_ssize_t m) noexcept nogil:
    """``out[0:m]``: standard normal draws of the stream ``(key, stream)``.

    From the xoshiro256** generator of ``_rng.pxd``; a module that calls
    this calls ``nnf_ziggurat_init()`` once at import.
    """
    cdef rng_t r
    cdef Py_ssize_t i
    rng_seed(&r, key, stream)
    for i in range(m):
        out[i] = normal(&r)


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
