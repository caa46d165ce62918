# Pooling of channels-last (NHWC) images: max, average and global average,
# forward and backward.  A pixel is a run of c contiguous values, so every
# inner loop runs over the channels, which the compiler vectorises; windows
# are valid only.  Forward passes share out rows of output among threads
# (each output row reads its own input rows and writes only itself); the
# backward passes share out images, since overlapping windows add into the
# same input rows.  Indices recorded by max pooling are within one sample,
# ``(row * w + col) * c + channel``, as int32.
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t
from libc.string cimport memcpy, memset


cdef inline void max_pool_row(const floating* x, floating* y, int32_t* arg, Py_ssize_t i,
                              Py_ssize_t w, Py_ssize_t c, Py_ssize_t wo, int ph, int pw,
                              int sh, int sw) noexcept nogil:
    """Output row ``i`` of one image (``x`` its first value): each window's maximum and where.

    The first value of a window is taken, then each later one in row-major
    window order replaces it only when strictly larger, so ties go to the
    first.
    """
    cdef Py_ssize_t j, ch, pos, start
    cdef int di, dj
    cdef floating v, m
    cdef int32_t mask
    cdef floating* out
    cdef int32_t* where
    cdef const floating* src
    for j in range(wo):
        out = y + j * c
        where = arg + j * c
        start = (i * sh * w + j * sw) * c
        memcpy(out, x + start, c * sizeof(floating))
        for ch in range(c):
            where[ch] = <int32_t> (start + ch)
        for di in range(ph):
            for dj in range(pw):
                if di == 0 and dj == 0:
                    continue
                pos = ((i * sh + di) * w + j * sw + dj) * c
                src = x + pos
                # A maximum and a masked select, with no branch: the loop vectorises.
                for ch in range(c):
                    v = src[ch]
                    m = out[ch]
                    mask = -(<int32_t> (v > m))
                    out[ch] = v if v > m else m
                    where[ch] = (where[ch] & ~mask) | (<int32_t> (pos + ch) & mask)


cdef inline void max_pool2d(const floating* x, floating* y, int32_t* arg, Py_ssize_t n,
                            Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, int ph, int pw, int sh,
                            int sw, int num_threads) noexcept nogil:
    """``y`` (n, ho, wo, c): the maximum of each window of ``x`` (n, h, w, c); ``arg`` where."""
    cdef Py_ssize_t ho = (h - ph) // sh + 1
    cdef Py_ssize_t wo = (w - pw) // sw + 1
    cdef Py_ssize_t r, row = wo * c, image = h * w * c
    if num_threads <= 1:
        for r in range(n * ho):
            max_pool_row(x + (r // ho) * image, y + r * row, arg + r * row, r % ho, w, c, wo,
                         ph, pw, sh, sw)
    else:
        for r in prange(n * ho, num_threads=num_threads, schedule="static"):
            max_pool_row(x + (r // ho) * image, y + r * row, arg + r * row, r % ho, w, c, wo,
                         ph, pw, sh, sw)


cdef inline void scatter_image(const floating* dy, const int32_t* arg, floating* dx,
                               Py_ssize_t in_size, Py_ssize_t out_size) noexcept nogil:
    cdef Py_ssize_t k
    memset(dx, 0, in_size * sizeof(floating))
    for k in range(out_size):
        dx[arg[k]] += dy[k]


cdef inline void max_pool2d_backward(const floating* dy, const int32_t* arg, floating* dx,
                                     Py_ssize_t n, Py_ssize_t in_size, Py_ssize_t out_size,
                                     int num_threads) noexcept nogil:
    """``dx`` (n, in_size): zero, plus each ``dy`` (n, out_size) at its sample's ``arg`` index.

    Every index must lie in ``[0, in_size)``.
    """
    cdef Py_ssize_t s
    if num_threads <= 1:
        for s in range(n):
            scatter_image(dy + s * out_size, arg + s * out_size, dx + s * in_size, in_size,
                          out_size)
    else:
        for s in prange(n, num_threads=num_threads, schedule="static"):
            scatter_image(dy + s * out_size, arg + s * out_size, dx + s * in_size, in_size,
                          out_size)


cdef inline void avg_pool_row(const floating* x, floating* y, Py_ssize_t i, Py_ssize_t w,
                              Py_ssize_t c, Py_ssize_t wo, int ph, int pw, int sh,
                              int sw) noexcept nogil:
    """Output row ``i`` of one image: each window's values added in row-major order, scaled."""
    cdef Py_ssize_t j, ch
    cdef int di, dj
    cdef floating scale = <floating> (1.0 / (ph * pw))
    cdef floating* out
    cdef const floating* src
    for j in range(wo):
        out = y + j * c
        memcpy(out, x + (i * sh * w + j * sw) * c, c * sizeof(floating))
        for di in range(ph):
            for dj in range(pw):
                if di == 0 and dj == 0:
                    continue
                src = x + ((i * sh + di) * w + j * sw + dj) * c
                for ch in range(c):
                    out[ch] = out[ch] + src[ch]
        for ch in range(c):
            out[ch] = out[ch] * scale


cdef inline void avg_pool2d(const floating* x, floating* y, Py_ssize_t n, Py_ssize_t h,
                            Py_ssize_t w, Py_ssize_t c, int ph, int pw, int sh, int sw,
                            int num_threads) noexcept nogil:
    """``y`` (n, ho, wo, c): the mean of each window of ``x`` (n, h, w, c)."""
    cdef Py_ssize_t ho = (h - ph) // sh + 1
    cdef Py_ssize_t wo = (w - pw) // sw + 1
    cdef Py_ssize_t r, row = wo * c, image = h * w * c
    if num_threads <= 1:
        for r in range(n * ho):
            avg_pool_row(x + (r // ho) * image, y + r * row, r % ho, w, c, wo, ph, pw, sh, sw)
    else:
        for r in prange(n * ho, num_threads=num_threads, schedule="static"):
            avg_pool_row(x + (r // ho) * image, y + r * row, r % ho, w, c, wo, ph, pw, sh, sw)


cdef inline void spread_image(const floating* dy, floating* dx, Py_ssize_t h, Py_ssize_t w,
                              Py_ssize_t c, Py_ssize_t ho, Py_ssize_t wo, int ph, int pw,
                              int sh, int sw) noexcept nogil:
    """One image's ``dx``: each window's ``dy`` scaled and added over the window."""
    cdef Py_ssize_t i, j, ch
    cdef int di, dj
    cdef floating scale = <floating> (1.0 / (ph * pw))
    cdef const floating* g
    cdef floating* d
    memset(dx, 0, h * w * c * sizeof(floating))
    for i in range(ho):
        for j in range(wo):
            g = dy + (i * wo + j) * c
            for di in range(ph):
                for dj in range(pw):
                    d = dx + ((i * sh + di) * w + j * sw + dj) * c
                    for ch in range(c):
                        d[ch] = d[ch] + g[ch] * scale


cdef inline void avg_pool2d_backward(const floating* dy, floating* dx, Py_ssize_t n,
                                     Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, int ph, int pw,
                                     int sh, int sw, int num_threads) noexcept nogil:
    """``dx`` (n, h, w, c) from ``dy`` (n, ho, wo, c), the gradient of :func:`avg_pool2d`."""
    cdef Py_ssize_t ho = (h - ph) // sh + 1
    cdef Py_ssize_t wo = (w - pw) // sw + 1
    cdef Py_ssize_t s, out_size = ho * wo * c, in_size = h * w * c
    if num_threads <= 1:
        for s in range(n):
            spread_image(dy + s * out_size, dx + s * in_size, h, w, c, ho, wo, ph, pw, sh, sw)
    else:
        for s in prange(n, num_threads=num_threads, schedule="static"):
            spread_image(dy + s * out_size, dx + s * in_size, h, w, c, ho, wo, ph, pw, sh, sw)


cdef enum:
    GAP_LANES = 64  # channels summed at a time, in double, on the stack


cdef inline void mean_image(const floating* x, floating* y, Py_ssize_t hw,
                            Py_ssize_t c) noexcept nogil:
    """``y`` (c,): the mean of the ``hw`` pixels of one image, summed in double."""
    cdef double acc[GAP_LANES]
    cdef Py_ssize_t c0, k, ch, width, block
    cdef const floating* src
    for block in range((c + GAP_LANES - 1) // GAP_LANES):
        c0 = block * GAP_LANES
        width = min(<Py_ssize_t> GAP_LANES, c - c0)
        for ch in range(width):
            acc[ch] = 0
        for k in range(hw):
            src = x + k * c + c0
            for ch in range(width):
                acc[ch] = acc[ch] + src[ch]
        for ch in range(width):
            y[c0 + ch] = <floating> (acc[ch] / hw)


cdef inline void global_avg_pool2d(const floating* x, floating* y, Py_ssize_t n, Py_ssize_t hw,
                                   Py_ssize_t c, int num_threads) noexcept nogil:
    """``y`` (n, c): the mean over the ``hw`` pixels of each image of ``x`` (n, hw, c)."""
    cdef Py_ssize_t s
    if num_threads <= 1:
        for s in range(n):
            mean_image(x + s * hw * c, y + s * c, hw, c)
    else:
        for s in prange(n, num_threads=num_threads, schedule="static"):
            mean_image(x + s * hw * c, y + s * c, hw, c)


cdef inline void fill_image(const floating* dy, floating* dx, Py_ssize_t hw,
                            Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t k, ch
    cdef floating scale = <floating> (1.0 / hw)
    for ch in range(c):
        dx[ch] = dy[ch] * scale
    for k in range(1, hw):
        memcpy(dx + k * c, dx, c * sizeof(floating))


cdef inline void global_avg_pool2d_backward(const floating* dy, floating* dx, Py_ssize_t n,
                                            Py_ssize_t hw, Py_ssize_t c,
                                            int num_threads) noexcept nogil:
    """``dx`` (n, hw, c): ``dy / hw`` (n, c) at every pixel."""
    cdef Py_ssize_t s
    if num_threads <= 1:
        for s in range(n):
            fill_image(dy + s * c, dx + s * hw * c, hw, c)
    else:
        for s in prange(n, num_threads=num_threads, schedule="static"):
            fill_image(dy + s * c, dx + s * hw * c, hw, c)
