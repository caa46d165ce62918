# Dropout: masks drawn from the uniform rows of nnf_simd.h, one stream per
# block of BLOCK values, so that a mask depends on the layer's seed, the
# draw's number and the position of each value, not on how threads split
# the work.
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint64_t

from _activations cimport BLOCK
from _parallel cimport chunk_size, n_chunks
from _simd cimport nnf_simd


cdef inline void dropout_block(const floating* x, floating* y, floating* mask, Py_ssize_t m,
                               float rate, floating scale, uint64_t key,
                               uint64_t stream) noexcept nogil:
    """``mask = scale`` where a uniform draw is at least ``rate``, else 0; ``y = x * mask``."""
    cdef float u[BLOCK]
    cdef floating zero = 0
    cdef Py_ssize_t i
    nnf_simd.uniform_row_f32(key, stream, u, m)
    for i in range(m):
        mask[i] = scale if u[i] >= rate else zero
    for i in range(m):
        y[i] = x[i] * mask[i]


cdef inline void dropout(const floating* x, floating* y, floating* mask, Py_ssize_t n,
                         double rate, bint rescale, uint64_t key, uint64_t draw,
                         int num_threads) noexcept nogil:
    """Dropout of ``x[0:n]`` into ``y`` (may be ``x``), its mask into ``mask``.

    Each value is dropped with probability ``rate``; kept values are scaled
    by ``1 / (1 - rate)`` when ``rescale`` (inverted dropout), else kept as
    they are (masking noise).  Draw number ``draw`` of the layer seeded
    ``key`` uses the streams ``(draw << 32) ^ block``.
    """
    cdef floating scale = <floating> (1.0 / (1.0 - rate)) if rescale else 1
    cdef float r = <float> rate
    cdef Py_ssize_t b, start, n_blocks = (n + BLOCK - 1) // BLOCK
    if num_threads <= 1:
        for b in range(n_blocks):
            start = b * BLOCK
            dropout_block(x + start, y + start, mask + start, min(<Py_ssize_t> BLOCK, n - start),
                          r, scale, key, (draw << 32) ^ <uint64_t> b)
    else:
        for b in prange(n_blocks, num_threads=num_threads, schedule="static"):
            start = b * BLOCK
            dropout_block(x + start, y + start, mask + start, min(<Py_ssize_t> BLOCK, n - start),
                          r, scale, key, (draw << 32) ^ <uint64_t> b)


cdef inline void multiply(const floating* a, const floating* b, floating* out, Py_ssize_t n,
                          int num_threads) noexcept nogil:
    """``out = a * b`` elementwise (``out`` may be ``a`` or ``b``), in chunks per thread."""
    cdef Py_ssize_t i, c, start, chunk, m
    if num_threads <= 1:
        for i in range(n):
            out[i] = a[i] * b[i]
        return
    chunk = chunk_size(n, num_threads)
    for c in prange(n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
        start = c * chunk
        m = min(chunk, n - start)
        for i in range(start, start + m):
            out[i] = a[i] * b[i]
