# 2-D convolution over channels-last (NHWC) images, and its gradients.
#
# An output position p = (s * ho + i) * wo + j (sample s, row i, column j)
# is one row of the (n * ho * wo, f) output matrix.  Each thread takes a
# contiguous range of positions and walks it in blocks of ``rows`` positions
# small enough that a block's patch matrix (its receptive fields, one row of
# kh * kw * c values per position) stays in the thread's L2 cache; every
# product of a block is one single-threaded BLAS call: the block's patches
# are gathered (im2col), then multiplied by the kernel, seen as a
# (kh * kw * c, f) matrix.  A 1x1 kernel with stride 1 and no padding needs
# no gathering: the input rows are the patches.
#
# Small patches (a one-channel image's nine values) go the same way: in
# blocks that stay in cache, BLAS runs even a product of depth 9 at several
# times the speed of a direct loop over the output channels (compiled for
# the portable baseline instruction set); gathering nine values per
# position costs less than the product.
#
# The kernel and bias gradients are sums over every position: each thread
# sums its own range into its own partial (one per thread, in ``part``),
# and the partials are added in thread order afterwards, so that a result
# depends on the number of threads but never on timing.  The input gradient
# needs whole samples per thread (a sample's windows overlap), so a backward
# pass that computes it shares samples, not positions, among the threads.
#
# Padding is handled by explicit bounds: nothing outside an array is read
# or written.
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from _activations cimport ACT_IDENTITY, act_range, bp_act_range
from _blas cimport gemm
from _products cimport col_sums, fill_rows

cdef enum:
    # Bytes of one block's patch matrix: a share of a 1 MB L2 that leaves
    # room for the kernel and the block's output.
    BLOCK_BYTES = 256 * 1024
    MAX_BLOCK_ROWS = 2048


cdef struct conv_geom:
    Py_ssize_t n, h, w, c     # input
    Py_ssize_t kh, kw, f      # kernel
    Py_ssize_t ho, wo         # output
    Py_ssize_t sh, sw         # strides
    Py_ssize_t top, left      # zeros before the first row and column
    Py_ssize_t k              # kh * kw * c


cdef inline void set_geom(conv_geom* g, Py_ssize_t n, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                          Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t f, Py_ssize_t ho,
                          Py_ssize_t wo, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t top,
                          Py_ssize_t left) noexcept nogil:
    g.n, g.h, g.w, g.c, g.kh, g.kw, g.f = n, h, w, c, kh, kw, f
    g.ho, g.wo, g.sh, g.sw, g.top, g.left = ho, wo, sh, sw, top, left
    g.k = kh * kw * c


cdef inline bint is_pointwise(const conv_geom* g) noexcept nogil:
    """A 1x1 kernel, stride 1, no padding: the input rows are the patches."""
    return (g.kh == 1 and g.kw == 1 and g.sh == 1 and g.sw == 1 and g.top == 0
            and g.left == 0 and g.ho == g.h and g.wo == g.w)


cdef inline Py_ssize_t block_rows(const conv_geom* g, Py_ssize_t itemsize) noexcept nogil:
    """Positions per block: a patch matrix of about BLOCK_BYTES."""
    cdef Py_ssize_t rows = BLOCK_BYTES // (g.k * itemsize)
    if rows > MAX_BLOCK_ROWS:
        rows = MAX_BLOCK_ROWS
    return rows if rows > 8 else 8


cdef inline Py_ssize_t scratch_size(const conv_geom* g, Py_ssize_t itemsize,
                                    int num_threads) noexcept nogil:
    """Elements of scratch a pass needs for ``num_threads`` threads.

    Per thread: a block's patches and their gradient (rows x k each) and a
    partial kernel and bias gradient (k x f + f).
    """
    return num_threads * (2 * block_rows(g, itemsize) * g.k + g.k * g.f + g.f)


cdef inline int share_threads(Py_ssize_t units, int num_threads) noexcept nogil:
    """Threads for ``units`` of work: at most one per unit."""
    if num_threads > units:
        return <int> units if units > 1 else 1
    return num_threads if num_threads > 1 else 1


# ------------------------------------------------------------ gather/scatter
cdef inline void im2col_row(const floating* x, const conv_geom* g, Py_ssize_t s,
                            Py_ssize_t i, Py_ssize_t ja, Py_ssize_t jb,
                            floating* dst) noexcept nogil:
    """The patches of positions ``(s, i, ja:jb)`` into ``dst`` (one row of k values each).

    Short runs (a window row of few channels) are copied value by value,
    each value to every position in turn: a call to ``memcpy`` per run would
    cost more than the copy.  Long runs are copied whole.
    """
    cdef Py_ssize_t j, di, dj, ci, ii, c0, jlo, jhi, lo, hi, t
    cdef Py_ssize_t c = g.c, kw = g.kw, k = g.k, run = g.kw * g.c
    cdef const floating* xrow
    cdef floating* out
    for di in range(g.kh):
        ii = i * g.sh - g.top + di
        if ii < 0 or ii >= g.h:
            for j in range(jb - ja):
                memset(dst + j * k + di * run, 0, run * sizeof(floating))
            continue
        xrow = x + (s * g.h + ii) * g.w * c
        if run >= 16:
            for j in range(ja, jb):
                out = dst + (j - ja) * k + di * run
                c0 = j * g.sw - g.left
                # Columns jlo:jhi of the window lie inside the image.
                jlo = -c0 if c0 < 0 else 0
                if jlo > kw:
                    jlo = kw
                jhi = g.w - c0
                if jhi > kw:
                    jhi = kw
                if jhi < jlo:
                    jhi = jlo
                if jlo > 0:
                    memset(out, 0, jlo * c * sizeof(floating))
                if jhi > jlo:
                    memcpy(out + jlo * c, xrow + (c0 + jlo) * c, (jhi - jlo) * c * sizeof(floating))
                if jhi < kw:
                    memset(out + jhi * c, 0, (kw - jhi) * c * sizeof(floating))
            continue
        for dj in range(kw):
            # Positions lo:hi read inside the image: 0 <= j * sw - left + dj < w.
            t = g.left - dj
            lo = (t + g.sw - 1) // g.sw if t > 0 else 0
            t = g.w - 1 + g.left - dj
            hi = t // g.sw + 1 if t >= 0 else 0
            lo = min(max(lo, ja), jb)
            hi = min(max(hi, lo), jb)
            for ci in range(c):
                out = dst + (di * kw + dj) * c + ci - ja * k
                for j in range(ja, lo):
                    out[j * k] = 0
                for j in range(lo, hi):
                    out[j * k] = xrow[(j * g.sw - g.left + dj) * c + ci]
                for j in range(hi, jb):
                    out[j * k] = 0


cdef inline void im2col(const floating* x,  # IN  (n, h, w, c)
                        const conv_geom* g, Py_ssize_t p0, Py_ssize_t p1,
                        floating* cols) noexcept nogil:  # OUT (p1 - p0, k)
    """The patches of positions ``p0:p1``, zeros where a window leaves the image."""
    cdef Py_ssize_t r, ja, jb
    for r in range(p0 // g.wo, (p1 - 1) // g.wo + 1):
        ja = p0 - r * g.wo if p0 > r * g.wo else 0
        jb = p1 - r * g.wo if p1 < (r + 1) * g.wo else g.wo
        im2col_row(x, g, r // g.ho, r % g.ho, ja, jb, cols + (r * g.wo + ja - p0) * g.k)


cdef inline void col2im_add(const floating* dcols,  # IN  (p1 - p0, k)
                            const conv_geom* g, Py_ssize_t p0, Py_ssize_t p1,
                            floating* dx) noexcept nogil:  # IN/OUT (n, h, w, c)
    """Add the gradient of each patch of positions ``p0:p1`` to the pixels it was gathered from."""
    cdef Py_ssize_t p, i, j, s, r, di, dj, ii, jj, q
    cdef Py_ssize_t c = g.c
    cdef const floating* src
    cdef floating* dst
    for p in range(p0, p1):
        j = p % g.wo
        r = p // g.wo
        i = r % g.ho
        s = r // g.ho
        for di in range(g.kh):
            ii = i * g.sh - g.top + di
            if ii < 0 or ii >= g.h:
                continue
            for dj in range(g.kw):
                jj = j * g.sw - g.left + dj
                if jj < 0 or jj >= g.w:
                    continue
                src = dcols + (p - p0) * g.k + (di * g.kw + dj) * c
                dst = dx + ((s * g.h + ii) * g.w + jj) * c
                for q in range(c):
                    dst[q] = dst[q] + src[q]


# ------------------------------------------------------------ passes
cdef inline void forward_range(const floating* x, const floating* w, const floating* b,
                               floating* y, const conv_geom* g, int act, Py_ssize_t lo,
                               Py_ssize_t hi, Py_ssize_t rows, floating* cols) noexcept nogil:
    """Output rows ``lo:hi``, block by block, the activation applied to each block."""
    cdef Py_ssize_t blk, p0, p1
    cdef floating beta
    cdef const floating* a
    cdef bint pointwise = is_pointwise(g)
    for blk in range((hi - lo + rows - 1) // rows):
        p0 = lo + blk * rows
        p1 = min(hi, p0 + rows)
        if pointwise:
            a = x + p0 * g.c
        else:
            im2col(x, g, p0, p1, cols)
            a = cols
        beta = 0
        if b != NULL:
            fill_rows(y + p0 * g.f, b, 0, p1 - p0, g.f)
            beta = 1
        gemm(False, False, <int> (p1 - p0), <int> g.f, <int> g.k, <floating> 1, a,
             <int> g.k, w, <int> g.f, beta, y + p0 * g.f, <int> g.f)
        if act != ACT_IDENTITY:
            act_range(y + p0 * g.f, y + p0 * g.f, (p1 - p0) * g.f, act)


cdef inline void conv_forward(const floating* x,  # IN  (n, h, w, c)
                              const floating* w,  # IN  (kh, kw, c, f)
                              const floating* b,  # IN  (f,) or NULL
                              floating* y,        # OUT (n, ho, wo, f)
                              const conv_geom* g, int act,
                              floating* scratch,  # scratch_size(g, sizeof(floating), num_threads)
                              int num_threads) noexcept nogil:
    """``y = act(conv(x, w) + b)``."""
    cdef Py_ssize_t total = g.n * g.ho * g.wo
    cdef Py_ssize_t rows = block_rows(g, sizeof(floating))
    cdef Py_ssize_t per = rows * g.k
    cdef int t
    cdef int n_threads = share_threads((total + rows - 1) // rows, num_threads)
    if n_threads == 1:
        forward_range(x, w, b, y, g, act, 0, total, rows, scratch)
        return
    for t in prange(n_threads, num_threads=n_threads, schedule="static"):
        forward_range(x, w, b, y, g, act, total * t // n_threads, total * (t + 1) // n_threads,
                      rows, scratch + t * per)


cdef inline void backward_range(const floating* x, const floating* w, const floating* y,
                                floating* dy, floating* dw, floating* db, floating* dx,
                                const conv_geom* g, int act, Py_ssize_t lo, Py_ssize_t hi,
                                Py_ssize_t rows, floating* cols,
                                floating* dcols) noexcept nogil:
    """Gradients of output rows ``lo:hi``: ``dw`` and ``db`` written, ``dx`` added to.

    Each is skipped when NULL; ``dy`` first goes back through the activation
    in place.
    """
    cdef Py_ssize_t blk, p0, p1, n_rows
    cdef bint first = True
    cdef bint pointwise = is_pointwise(g)
    cdef floating* dyb
    cdef const floating* a
    for blk in range((hi - lo + rows - 1) // rows):
        p0 = lo + blk * rows
        p1 = min(hi, p0 + rows)
        n_rows = p1 - p0
        dyb = dy + p0 * g.f
        if act != ACT_IDENTITY:
            bp_act_range(dyb, y + p0 * g.f, dyb, n_rows * g.f, act)
        if db != NULL:
            col_sums(dyb, db, n_rows, g.f, g.f, not first)
        if dw != NULL:
            if pointwise:
                a = x + p0 * g.c
            else:
                im2col(x, g, p0, p1, cols)
                a = cols
            gemm(True, False, <int> g.k, <int> g.f, <int> n_rows, <floating> 1, a,
                 <int> g.k, dyb, <int> g.f, <floating> (0 if first else 1), dw, <int> g.f)
        if dx != NULL:
            if pointwise:
                gemm(False, True, <int> n_rows, <int> g.c, <int> g.f, <floating> 1, dyb,
                     <int> g.f, w, <int> g.f, <floating> 0, dx + p0 * g.c, <int> g.c)
            else:
                gemm(False, True, <int> n_rows, <int> g.k, <int> g.f, <floating> 1, dyb,
                     <int> g.f, w, <int> g.f, <floating> 0, dcols, <int> g.k)
                col2im_add(dcols, g, p0, p1, dx)
        first = False


cdef inline void add_partials(floating* out, const floating* part, Py_ssize_t size,
                              Py_ssize_t stride, int n_parts) noexcept nogil:
    """``out = part[0] + part[1] + ...``, the partials ``stride`` elements apart, in order."""
    cdef Py_ssize_t i
    cdef int t
    for i in range(size):
        out[i] = part[i]
    for t in range(1, n_parts):
        for i in range(size):
            out[i] = out[i] + part[t * stride + i]


cdef inline void conv_backward(const floating* x,  # IN  (n, h, w, c)
                               const floating* w,  # IN  (kh, kw, c, f)
                               const floating* y,  # IN  (n, ho, wo, f): the output (for act)
                               floating* dy,       # IN  (n, ho, wo, f), overwritten unless act is identity
                               floating* dw,       # OUT (kh, kw, c, f) or NULL
                               floating* db,       # OUT (f,) or NULL
                               floating* dx,       # OUT (n, h, w, c) or NULL
                               const conv_geom* g, int act,
                               floating* scratch,  # scratch_size(g, sizeof(floating), num_threads)
                               int num_threads) noexcept nogil:
    """Gradients of ``y = act(conv(x, w) + b)`` with respect to ``w``, ``b`` and ``x``."""
    cdef Py_ssize_t sample = g.ho * g.wo
    cdef Py_ssize_t total = g.n * sample
    cdef Py_ssize_t rows = block_rows(g, sizeof(floating))
    cdef Py_ssize_t per = 2 * rows * g.k
    cdef Py_ssize_t part = g.k * g.f + g.f
    cdef floating* parts = scratch + num_threads * per
    cdef bint by_sample = dx != NULL and not is_pointwise(g)
    cdef Py_ssize_t units = g.n if by_sample else (total + rows - 1) // rows
    cdef int n_threads = share_threads(units, num_threads)
    cdef int t
    cdef Py_ssize_t lo, hi
    if dx != NULL and not is_pointwise(g):
        if n_threads == 1:
            memset(dx, 0, g.n * g.h * g.w * g.c * sizeof(floating))
    if n_threads == 1:
        backward_range(x, w, y, dy, dw, db, dx, g, act, 0, total, rows, scratch,
                       scratch + rows * g.k)
        return
    for t in prange(n_threads, num_threads=n_threads, schedule="static"):
        if by_sample:
            lo = g.n * t // n_threads
            hi = g.n * (t + 1) // n_threads
            memset(dx + lo * g.h * g.w * g.c, 0, (hi - lo) * g.h * g.w * g.c * sizeof(floating))
            lo = lo * sample
            hi = hi * sample
        else:
            lo = total * t // n_threads
            hi = total * (t + 1) // n_threads
        backward_range(x, w, y, dy, NULL if dw == NULL else parts + t * part,
                       NULL if db == NULL else parts + t * part + g.k * g.f, dx, g, act, lo, hi,
                       rows, scratch + t * per, scratch + t * per + rows * g.k)
    if dw != NULL:
        add_partials(dw, parts, g.k * g.f, part, n_threads)
    if db != NULL:
        add_partials(db, parts + g.k * g.f, g.f, part, n_threads)
