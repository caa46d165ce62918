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
# position costs less than the product.  With one channel and stride 1
# along rows, the patches are gathered as the columns of a (k, positions)
# matrix instead, whose rows are runs of consecutive pixels (copied whole),
# and BLAS multiplies by its transpose: a fifth off a one-channel forward
# pass, a quarter off its kernel gradient.
#
# The kernel and bias gradients are sums over every position: each thread
# sums its own range into its own partial (one per thread, in ``part``),
# and the partials are added in thread order afterwards, so that a result
# depends on the number of threads but never on timing.  The input gradient
# needs whole samples per thread (a sample's windows overlap), so a backward
# pass that computes it shares samples, not positions, among the threads.
#
# A 3x3 kernel with stride 1 (and enough channels to fill the products)
# goes by Winograd's F(4x4, 3x3) instead, or F(2x2, 3x3) where the output
# has fewer than 4 rows or columns.  Each 6x6 tile of input, four pixels
# from the next, gives a 4x4 tile of output from 36 products of its
# transformed values (V = B^T d B, one row of c channels per tile in each of
# 36 matrices) with the transformed kernel (U = G g G^T, 36 matrices
# (c, f)): 2.25 multiply-adds per output, channel and filter, where im2col
# needs 9 and F(2x2, 3x3) (4x4 tiles, 16 products) 4.  A block of whole
# tile rows (a tile row: the tiles of four output rows of one sample, so
# that a block's outputs are contiguous rows) is transformed, multiplied
# (one BLAS call per matrix) and transformed back (Y = A^T M A) while it
# stays in cache.  The gradients go through the adjoints of the same
# stages: dM = A dY A^T, then dU = V^T dM (summed per thread, as the kernel
# gradient of im2col) and dV = dM U^T, whose tiles (dd = B dV B^T) are
# added to the input gradient, samples shared among threads as before.  The
# backward pass transforms the input tiles again rather than keeping V from
# the forward pass: that transform takes about a tenth of the pass, and V
# (36 values per channel for every 16 outputs, about three times the input)
# would leave the L2 caches between the passes.  Tiles past the bottom and right edges compute outputs that
# are thrown away: for a 14x14 output, F(4x4, 3x3) computes 16x16.  The
# transforms (nnf_winograd.h) have entries up to 8 (F(4x4, 3x3)) and 1/2
# (F(2x2, 3x3)): float32 results differ from im2col's by about 1e-6 (F(2x2,
# 3x3)) or a few times that (F(4x4, 3x3)) of the largest values.
#
# Padding is handled by explicit bounds: nothing outside an array is read
# or written.
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from _activations cimport ACT_IDENTITY, act_range, bp_act_range
from _blas cimport gemm
from _products cimport col_sums, fill_rows

cdef extern from "nnf_winograd.h":
    void nnf_wino_input_f32(const float*, const float*, const float*, const float*, Py_ssize_t,
                            float*, Py_ssize_t) noexcept nogil
    void nnf_wino_input_f64(const double*, const double*, const double*, const double*,
                            Py_ssize_t, double*, Py_ssize_t) noexcept nogil
    void nnf_wino_input_add_f32(const float*, Py_ssize_t, Py_ssize_t, float*, float*, float*,
                                float*) noexcept nogil
    void nnf_wino_input_add_f64(const double*, Py_ssize_t, Py_ssize_t, double*, double*,
                                double*, double*) noexcept nogil
    void nnf_wino_kernel_f32(const float*, Py_ssize_t, Py_ssize_t, float*) noexcept nogil
    void nnf_wino_kernel_f64(const double*, Py_ssize_t, Py_ssize_t, double*) noexcept nogil
    void nnf_wino_kernel_adjoint_f32(const float*, Py_ssize_t, Py_ssize_t, float*) noexcept nogil
    void nnf_wino_kernel_adjoint_f64(const double*, Py_ssize_t, Py_ssize_t, double*) noexcept nogil
    void nnf_wino_output_f32(const float*, Py_ssize_t, Py_ssize_t, const float*, float*, float*,
                             float*, float*) noexcept nogil
    void nnf_wino_output_f64(const double*, Py_ssize_t, Py_ssize_t, const double*, double*,
                             double*, double*, double*) noexcept nogil
    void nnf_wino_output_adjoint_f32(const float*, const float*, const float*, const float*,
                                     Py_ssize_t, float*, Py_ssize_t) noexcept nogil
    void nnf_wino_output_adjoint_f64(const double*, const double*, const double*,
                                     const double*, Py_ssize_t, double*, Py_ssize_t) noexcept nogil
    void nnf_wino4_input_f32(const float**, Py_ssize_t, float*, Py_ssize_t) noexcept nogil
    void nnf_wino4_input_f64(const double**, Py_ssize_t, double*, Py_ssize_t) noexcept nogil
    void nnf_wino4_input_add_f32(const float*, Py_ssize_t, Py_ssize_t, float**) noexcept nogil
    void nnf_wino4_input_add_f64(const double*, Py_ssize_t, Py_ssize_t, double**) noexcept nogil
    void nnf_wino4_kernel_f32(const float*, Py_ssize_t, Py_ssize_t, float*) noexcept nogil
    void nnf_wino4_kernel_f64(const double*, Py_ssize_t, Py_ssize_t, double*) noexcept nogil
    void nnf_wino4_kernel_adjoint_f32(const float*, Py_ssize_t, Py_ssize_t, float*) noexcept nogil
    void nnf_wino4_kernel_adjoint_f64(const double*, Py_ssize_t, Py_ssize_t, double*) noexcept nogil
    void nnf_wino4_output_f32(const float*, Py_ssize_t, Py_ssize_t, const float*,
                              float**) noexcept nogil
    void nnf_wino4_output_f64(const double*, Py_ssize_t, Py_ssize_t, const double*,
                              double**) noexcept nogil
    void nnf_wino4_output_adjoint_f32(const float**, Py_ssize_t, float*, Py_ssize_t) noexcept nogil
    void nnf_wino4_output_adjoint_f64(const double**, Py_ssize_t, double*,
                                      Py_ssize_t) noexcept nogil

cdef enum:
    # Bytes of one block's patch matrix: a share of a 1 MB L2 that leaves
    # room for the kernel and the block's output.
    BLOCK_BYTES = 256 * 1024
    MAX_BLOCK_ROWS = 2048
    # Bytes of a Winograd block's transformed tiles and products (16 x tiles
    # x (c + f) values).
    WINO_BLOCK_BYTES = 512 * 1024
    # Fewer channels than this leave the 16 products of a block too shallow
    # to beat im2col.
    WINO_MIN_CHANNELS = 2
    # Smaller outputs than this go by F(2x2, 3x3).
    WINO4_MIN_SIDE = 4


cdef struct conv_geom:
    Py_ssize_t n, h, w, c     # input
    Py_ssize_t kh, kw, f      # kernel
    Py_ssize_t ho, wo         # output
    Py_ssize_t sh, sw         # strides
    Py_ssize_t top, left      # zeros before the first row and column
    Py_ssize_t k              # kh * kw * c
    Py_ssize_t wino           # Winograd's output tile (2 or 4), or 0 (see winograd_tile)


cdef inline void set_geom(conv_geom* g, Py_ssize_t n, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                          Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t f, Py_ssize_t ho,
                          Py_ssize_t wo, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t top,
                          Py_ssize_t left) noexcept nogil:
    g.n, g.h, g.w, g.c, g.kh, g.kw, g.f = n, h, w, c, kh, kw, f
    g.ho, g.wo, g.sh, g.sw, g.top, g.left = ho, wo, sh, sw, top, left
    g.k = kh * kw * c
    g.wino = 0


cdef inline Py_ssize_t winograd_tile(const conv_geom* g) noexcept nogil:
    """The output tile of the Winograd scheme for this convolution: 4, 2, or 0 for none.

    Winograd needs a 3x3 kernel of stride 1.  Not for a single row or
    column of output: half of each tile would be computed for nothing (1.7
    times slower than im2col for a 1x1 output).  F(4x4, 3x3) takes 2.25
    multiplies per output, filter and channel where F(2x2, 3x3) takes 4,
    but computes up to three rows and columns for nothing on the far edges.
    """
    if not (g.kh == 3 and g.kw == 3 and g.sh == 1 and g.sw == 1
            and g.c >= WINO_MIN_CHANNELS and g.ho >= 2 and g.wo >= 2):
        return 0
    if g.ho >= WINO4_MIN_SIDE and g.wo >= WINO4_MIN_SIDE:
        return 4
    return 2


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


cdef inline Py_ssize_t wino_mats(const conv_geom* g) noexcept nogil:
    """Matrices of a Winograd block: one per value of an input tile."""
    return (g.wino + 2) * (g.wino + 2)


cdef inline Py_ssize_t wino_tiles_down(const conv_geom* g) noexcept nogil:
    return (g.ho + g.wino - 1) // g.wino


cdef inline Py_ssize_t wino_tiles_across(const conv_geom* g) noexcept nogil:
    return (g.wo + g.wino - 1) // g.wino


cdef inline Py_ssize_t wino_stride(Py_ssize_t tiles, Py_ssize_t n,
                                   Py_ssize_t itemsize) noexcept nogil:
    """Elements from one of a block's matrices (tiles x n) to the next.

    An odd number of cache lines: matrices a power of two apart would put
    the values that a transform reads or writes together, one from each of
    16 or 36 matrices, in too few sets of the L1 cache (36 matrices of 9 KB
    slowed the F(4x4, 3x3) transforms by half).
    """
    cdef Py_ssize_t per_line = 64 // itemsize
    cdef Py_ssize_t lines = (tiles * n + per_line - 1) // per_line
    if lines % 2 == 0:
        lines += 1
    return lines * per_line


cdef inline Py_ssize_t scratch_size(const conv_geom* g, Py_ssize_t itemsize,
                                    int num_threads) noexcept nogil:
    """Elements of scratch a pass needs for ``num_threads`` threads.

    Per thread: a block's patches and their gradient (rows x k each) and a
    partial kernel and bias gradient (k x f + f).  By Winograd: the
    transformed kernel and room to make it (2 x mats x c x f), then per
    thread what ``wino_work_size`` says.
    """
    if g.wino:
        return 2 * wino_mats(g) * g.c * g.f + num_threads * wino_work_size(g, itemsize)
    return num_threads * (2 * block_rows(g, itemsize) * g.k + g.k * g.f + g.f)


cdef inline Py_ssize_t wino_rows(const conv_geom* g, Py_ssize_t itemsize) noexcept nogil:
    """Tile rows per Winograd block: its V and M in about WINO_BLOCK_BYTES."""
    cdef Py_ssize_t rows = WINO_BLOCK_BYTES // (wino_mats(g) * wino_tiles_across(g)
                                                * (g.c + g.f) * itemsize)
    return rows if rows > 1 else 1


cdef inline Py_ssize_t wino_work_size(const conv_geom* g, Py_ssize_t itemsize) noexcept nogil:
    """Elements of one thread's Winograd scratch.

    A block's V (mats x tiles x c) and M (mats x tiles x f), each matrix
    ``wino_stride`` from the next, a tile's border
    copy (mats x c) and spare output rows (m^2 x f), and a partial kernel
    gradient in the transformed domain (mats x c x f) and bias gradient (f).
    """
    cdef Py_ssize_t tiles = wino_rows(g, itemsize) * wino_tiles_across(g)
    cdef Py_ssize_t mats = wino_mats(g)
    return (mats * (wino_stride(tiles, g.c, itemsize) + wino_stride(tiles, g.f, itemsize))
            + mats * g.c + g.wino * g.wino * g.f + mats * g.c * g.f + g.f)


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


cdef inline bint gathers_transposed(const conv_geom* g) noexcept nogil:
    """Whether the patches are gathered as columns (see :func:`im2col_t`)."""
    return g.c == 1 and g.sw == 1 and not is_pointwise(g)


cdef inline void im2col_t(const floating* x,  # IN  (n, h, w, 1)
                          const conv_geom* g, Py_ssize_t p0, Py_ssize_t p1,
                          floating* cols_t) noexcept nogil:  # OUT (k, p1 - p0)
    """The patches of positions ``p0:p1`` of a one-channel image, as the columns of ``cols_t``.

    With one channel and stride 1, row ``(di, dj)`` of the transposed patch
    matrix is, for each output row, a run of consecutive pixels of one image
    row: copied whole, where the patch rows would take one value at a time.
    """
    cdef Py_ssize_t n_rows = p1 - p0
    cdef Py_ssize_t di, dj, r, ja, jb, ii, lo, hi
    cdef floating* out
    for di in range(g.kh):
        for dj in range(g.kw):
            for r in range(p0 // g.wo, (p1 - 1) // g.wo + 1):
                ja = p0 - r * g.wo if p0 > r * g.wo else 0
                jb = p1 - r * g.wo if p1 < (r + 1) * g.wo else g.wo
                out = cols_t + (di * g.kw + dj) * n_rows + r * g.wo - p0
                ii = (r % g.ho) * g.sh - g.top + di
                if ii < 0 or ii >= g.h:
                    memset(out + ja, 0, (jb - ja) * sizeof(floating))
                    continue
                # Columns lo:hi read inside the image: 0 <= j - left + dj < w.
                lo = min(max(g.left - dj, ja), jb)
                hi = min(max(g.w + g.left - dj, lo), jb)
                if lo > ja:
                    memset(out + ja, 0, (lo - ja) * sizeof(floating))
                if hi > lo:
                    memcpy(out + lo, x + ((r // g.ho) * g.h + ii) * g.w + lo - g.left + dj,
                           (hi - lo) * sizeof(floating))
                if jb > hi:
                    memset(out + hi, 0, (jb - hi) * sizeof(floating))


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


# ------------------------------------------------------------ Winograd
# A tile of output is m x m (m = g.wino, 2 or 4); its tile of input is
# (m + 2) x (m + 2), and a block's transformed values are (m + 2)^2
# matrices.  The functions below dispatch each tile to the transforms of
# its size and dtype.
cdef inline void wino_input(Py_ssize_t tile, const floating** rows, Py_ssize_t n, floating* v,
                            Py_ssize_t stride) noexcept nogil:
    if tile == 2:
        if floating is float:
            nnf_wino_input_f32(rows[0], rows[1], rows[2], rows[3], n, v, stride)
        else:
            nnf_wino_input_f64(rows[0], rows[1], rows[2], rows[3], n, v, stride)
    elif floating is float:
        nnf_wino4_input_f32(rows, n, v, stride)
    else:
        nnf_wino4_input_f64(rows, n, v, stride)


cdef inline void wino_input_add(Py_ssize_t tile, const floating* dv, Py_ssize_t stride,
                                Py_ssize_t n, floating** rows) noexcept nogil:
    if tile == 2:
        if floating is float:
            nnf_wino_input_add_f32(dv, stride, n, rows[0], rows[1], rows[2], rows[3])
        else:
            nnf_wino_input_add_f64(dv, stride, n, rows[0], rows[1], rows[2], rows[3])
    elif floating is float:
        nnf_wino4_input_add_f32(dv, stride, n, rows)
    else:
        nnf_wino4_input_add_f64(dv, stride, n, rows)


cdef inline void wino_kernel(Py_ssize_t tile, const floating* w, Py_ssize_t n, Py_ssize_t s,
                             floating* u) noexcept nogil:
    """U = G w G^T of ``n`` entries of a 3x3 kernel whose 9 rows are ``s`` apart, as U's."""
    if tile == 2:
        if floating is float:
            nnf_wino_kernel_f32(w, n, s, u)
        else:
            nnf_wino_kernel_f64(w, n, s, u)
    elif floating is float:
        nnf_wino4_kernel_f32(w, n, s, u)
    else:
        nnf_wino4_kernel_f64(w, n, s, u)


cdef inline void wino_kernel_adjoint(Py_ssize_t tile, const floating* du, Py_ssize_t n,
                                     Py_ssize_t s, floating* dw) noexcept nogil:
    """The adjoint of :func:`wino_kernel`."""
    if tile == 2:
        if floating is float:
            nnf_wino_kernel_adjoint_f32(du, n, s, dw)
        else:
            nnf_wino_kernel_adjoint_f64(du, n, s, dw)
    elif floating is float:
        nnf_wino4_kernel_adjoint_f32(du, n, s, dw)
    else:
        nnf_wino4_kernel_adjoint_f64(du, n, s, dw)


cdef inline void wino_output(Py_ssize_t tile, const floating* m, Py_ssize_t stride,
                             Py_ssize_t n, const floating* b, floating** ys) noexcept nogil:
    if tile == 2:
        if floating is float:
            nnf_wino_output_f32(m, stride, n, b, ys[0], ys[1], ys[2], ys[3])
        else:
            nnf_wino_output_f64(m, stride, n, b, ys[0], ys[1], ys[2], ys[3])
    elif floating is float:
        nnf_wino4_output_f32(m, stride, n, b, ys)
    else:
        nnf_wino4_output_f64(m, stride, n, b, ys)


cdef inline void wino_output_adjoint(Py_ssize_t tile, const floating** dys, Py_ssize_t n,
                                     floating* dm, Py_ssize_t stride) noexcept nogil:
    if tile == 2:
        if floating is float:
            nnf_wino_output_adjoint_f32(dys[0], dys[1], dys[2], dys[3], n, dm, stride)
        else:
            nnf_wino_output_adjoint_f64(dys[0], dys[1], dys[2], dys[3], n, dm, stride)
    elif floating is float:
        nnf_wino4_output_adjoint_f32(dys, n, dm, stride)
    else:
        nnf_wino4_output_adjoint_f64(dys, n, dm, stride)


cdef inline void wino_tile_row_span(const conv_geom* g, Py_ssize_t j0, Py_ssize_t* lo,
                                    Py_ssize_t* hi) noexcept nogil:
    """Pixels ``lo:hi`` of a tile row that starts at column ``j0`` lie inside the image."""
    cdef Py_ssize_t e = g.wino + 2
    lo[0] = -j0 if j0 < 0 else 0
    hi[0] = g.w - j0 if j0 + e > g.w else e
    if hi[0] < lo[0]:
        hi[0] = lo[0]


cdef inline void wino_transform_tiles(const floating* x,  # IN  (n, h, w, c)
                                      const conv_geom* g, Py_ssize_t q0, Py_ssize_t q1,
                                      floating* v,         # OUT mats x (tiles, c)
                                      floating* border) noexcept nogil:  # mats x c
    """V = B^T d B of every tile of tile rows ``q0:q1``.

    A tile row ``q`` is the tiles of output rows ``m * (q % th)`` to the
    m-th after of sample ``q // th``.  A row of a tile that reaches past the
    image is first copied into ``border``, zeros for the pixels outside.
    """
    cdef Py_ssize_t m = g.wino, e = g.wino + 2
    cdef Py_ssize_t th = wino_tiles_down(g), tw = wino_tiles_across(g), c = g.c
    cdef Py_ssize_t stride = wino_stride((q1 - q0) * tw, c, sizeof(floating))
    cdef Py_ssize_t q, s, tj, a, i0, j0, ii, lo, hi, t = 0
    cdef const floating* rows[6]
    cdef floating* dst
    for q in range(q0, q1):
        s = q // th
        i0 = m * (q % th) - g.top
        for tj in range(tw):
            j0 = m * tj - g.left
            wino_tile_row_span(g, j0, &lo, &hi)
            for a in range(e):
                ii = i0 + a
                if 0 <= ii < g.h and lo == 0 and hi == e:
                    rows[a] = x + ((s * g.h + ii) * g.w + j0) * c
                    continue
                dst = border + e * a * c
                rows[a] = dst
                if ii < 0 or ii >= g.h:
                    memset(dst, 0, e * c * sizeof(floating))
                    continue
                memset(dst, 0, lo * c * sizeof(floating))
                memcpy(dst + lo * c, x + ((s * g.h + ii) * g.w + j0 + lo) * c,
                       (hi - lo) * c * sizeof(floating))
                memset(dst + hi * c, 0, (e - hi) * c * sizeof(floating))
            wino_input(m, rows, c, v + t * c, stride)
            t += 1


cdef inline void wino_add_input_grad(const floating* dv,  # IN  mats x (tiles, c)
                                     const conv_geom* g, Py_ssize_t q0, Py_ssize_t q1,
                                     floating* dx,        # IN/OUT (n, h, w, c)
                                     floating* border) noexcept nogil:  # mats x c
    """Add dd = B dV B^T of every tile of tile rows ``q0:q1`` to the pixels it covers.

    A row of a tile that reaches past the image is made in ``border`` and
    its pixels inside added from there.
    """
    cdef Py_ssize_t m = g.wino, e = g.wino + 2
    cdef Py_ssize_t th = wino_tiles_down(g), tw = wino_tiles_across(g), c = g.c
    cdef Py_ssize_t stride = wino_stride((q1 - q0) * tw, c, sizeof(floating))
    cdef Py_ssize_t q, s, tj, a, i0, j0, ii, lo, hi, r, t = 0
    cdef bint whole
    cdef floating* rows[6]
    cdef floating* dst
    cdef const floating* src
    for q in range(q0, q1):
        s = q // th
        i0 = m * (q % th) - g.top
        for tj in range(tw):
            j0 = m * tj - g.left
            wino_tile_row_span(g, j0, &lo, &hi)
            whole = lo == 0 and hi == e
            for a in range(e):
                ii = i0 + a
                if 0 <= ii < g.h and whole:
                    rows[a] = dx + ((s * g.h + ii) * g.w + j0) * c
                else:
                    rows[a] = border + e * a * c
                    memset(rows[a], 0, e * c * sizeof(floating))
            wino_input_add(m, dv + t * c, stride, c, rows)
            if not whole:
                # Rows outside the image are dropped.
                for a in range(e):
                    ii = i0 + a
                    if ii < 0 or ii >= g.h:
                        continue
                    dst = dx + ((s * g.h + ii) * g.w + j0 + lo) * c
                    src = border + (e * a + lo) * c
                    for r in range((hi - lo) * c):
                        dst[r] = dst[r] + src[r]
            t += 1


cdef inline void wino_outputs(const floating* mm,  # IN  mats x (tiles, f)
                              const floating* b,   # IN  (f,)
                              floating* y,         # OUT (n, ho, wo, f)
                              const conv_geom* g, Py_ssize_t q0, Py_ssize_t q1,
                              floating* spare) noexcept nogil:  # m^2 x f
    """Y = A^T M A + b of every tile of tile rows ``q0:q1``.

    Outputs past the bottom or right edge are written to ``spare`` instead
    (a row of it each, the first never: the top left output of a tile is
    always inside).
    """
    cdef Py_ssize_t m = g.wino
    cdef Py_ssize_t th = wino_tiles_down(g), tw = wino_tiles_across(g), f = g.f
    cdef Py_ssize_t stride = wino_stride((q1 - q0) * tw, f, sizeof(floating))
    cdef Py_ssize_t q, i, j, tj, a, e, t = 0
    cdef floating* ys[16]
    cdef floating* top
    for q in range(q0, q1):
        i = m * (q % th)
        for tj in range(tw):
            j = m * tj
            top = y + (((q // th) * g.ho + i) * g.wo + j) * f
            for a in range(m):
                for e in range(m):
                    if i + a < g.ho and j + e < g.wo:
                        ys[a * m + e] = top + (a * g.wo + e) * f
                    else:
                        ys[a * m + e] = spare + (a * m + e) * f
            wino_output(m, mm + t * f, stride, f, b, ys)
            t += 1


cdef inline void wino_output_grads(const floating* dy,  # IN  (n, ho, wo, f)
                                   const conv_geom* g, Py_ssize_t q0, Py_ssize_t q1,
                                   floating* dm,        # OUT mats x (tiles, f)
                                   const floating* zeros) noexcept nogil:  # (f,) of zeros
    """dM = A dY A^T of every tile of tile rows ``q0:q1``, zero for outputs past the edge."""
    cdef Py_ssize_t m = g.wino
    cdef Py_ssize_t th = wino_tiles_down(g), tw = wino_tiles_across(g), f = g.f
    cdef Py_ssize_t stride = wino_stride((q1 - q0) * tw, f, sizeof(floating))
    cdef Py_ssize_t q, i, j, tj, a, e, t = 0
    cdef const floating* dys[16]
    cdef const floating* top
    for q in range(q0, q1):
        i = m * (q % th)
        for tj in range(tw):
            j = m * tj
            top = dy + (((q // th) * g.ho + i) * g.wo + j) * f
            for a in range(m):
                for e in range(m):
                    if i + a < g.ho and j + e < g.wo:
                        dys[a * m + e] = top + (a * g.wo + e) * f
                    else:
                        dys[a * m + e] = zeros
            wino_output_adjoint(m, dys, f, dm + t * f, stride)
            t += 1


cdef inline Py_ssize_t wino_first_row(const conv_geom* g, Py_ssize_t q) noexcept nogil:
    """The first output row (counted over the batch, ``s * ho + i``) of tile row ``q``."""
    cdef Py_ssize_t th = wino_tiles_down(g)
    return (q // th) * g.ho + g.wino * (q % th)


cdef inline Py_ssize_t wino_end_row(const conv_geom* g, Py_ssize_t q) noexcept nogil:
    """One past the last output row of tile row ``q``."""
    cdef Py_ssize_t th = wino_tiles_down(g)
    return (q // th) * g.ho + min(g.wino * (q % th) + g.wino, g.ho)


cdef inline void wino_forward_range(const floating* x, const floating* u, const floating* b,
                                    floating* y, const conv_geom* g, int act, Py_ssize_t lo,
                                    Py_ssize_t hi, Py_ssize_t rows,
                                    floating* work) noexcept nogil:
    """Tile rows ``lo:hi``, ``rows`` at a time, the activation applied to each block."""
    cdef Py_ssize_t tw = wino_tiles_across(g), mats = wino_mats(g), c = g.c, f = g.f
    cdef floating* v = work
    cdef floating* m = v + mats * wino_stride(rows * tw, c, sizeof(floating))
    cdef floating* border = m + mats * wino_stride(rows * tw, f, sizeof(floating))
    cdef floating* spare = border + mats * c
    cdef Py_ssize_t blk, q0, q1, tiles, xi, r0, r1, sv, sm
    if b == NULL:
        # The first of the spare rows is never written: zeros for the bias.
        memset(spare, 0, f * sizeof(floating))
        b = spare
    for blk in range((hi - lo + rows - 1) // rows):
        q0 = lo + blk * rows
        q1 = min(hi, q0 + rows)
        tiles = (q1 - q0) * tw
        sv = wino_stride(tiles, c, sizeof(floating))
        sm = wino_stride(tiles, f, sizeof(floating))
        wino_transform_tiles(x, g, q0, q1, v, border)
        for xi in range(mats):
            gemm(False, False, <int> tiles, <int> f, <int> c, <floating> 1, v + xi * sv,
                 <int> c, u + xi * c * f, <int> f, <floating> 0, m + xi * sm, <int> f)
        wino_outputs(m, b, y, g, q0, q1, spare)
        if act != ACT_IDENTITY:
            r0 = wino_first_row(g, q0) * g.wo * f
            r1 = wino_end_row(g, q1 - 1) * g.wo * f
            act_range(y + r0, y + r0, r1 - r0, act)


cdef inline void wino_forward(const floating* x, const floating* w, const floating* b,
                              floating* y, const conv_geom* g, int act, floating* scratch,
                              int num_threads) noexcept nogil:
    """:func:`conv_forward` by Winograd."""
    cdef Py_ssize_t total = g.n * wino_tiles_down(g)
    cdef Py_ssize_t rows = wino_rows(g, sizeof(floating))
    cdef Py_ssize_t per = wino_work_size(g, sizeof(floating))
    cdef floating* work = scratch + 2 * wino_mats(g) * g.c * g.f
    cdef Py_ssize_t cf = g.c * g.f
    cdef Py_ssize_t lo, hi
    cdef int t
    cdef int n_threads = share_threads((total + rows - 1) // rows, num_threads)
    if n_threads == 1:
        wino_kernel(g.wino, w, cf, cf, scratch)
        wino_forward_range(x, scratch, b, y, g, act, 0, total, rows, work)
        return
    # The kernel is transformed by every thread, a share of its entries each,
    # before any thread starts on its tiles.
    for t in prange(n_threads, num_threads=n_threads, schedule="static"):
        lo = cf * t // n_threads
        hi = cf * (t + 1) // n_threads
        wino_kernel(g.wino, w + lo, hi - lo, cf, scratch + lo)
    for t in prange(n_threads, num_threads=n_threads, schedule="static"):
        wino_forward_range(x, scratch, b, y, g, act, total * t // n_threads,
                           total * (t + 1) // n_threads, rows, work + t * per)


cdef inline void wino_transposed_kernel(Py_ssize_t tile, const floating* w, const conv_geom* g,
                                        Py_ssize_t j0, Py_ssize_t j1, floating* spare,
                                        floating* ut) noexcept nogil:
    """Filters ``j0:j1`` of the kernel's 9 matrices transposed (f, c) into ``spare``, then
    transformed entry by entry into ``ut``."""
    cdef Py_ssize_t cf = g.c * g.f
    cdef Py_ssize_t e, i, j
    for e in range(9):
        for j in range(j0, j1):
            for i in range(g.c):
                spare[e * cf + j * g.c + i] = w[e * cf + i * g.f + j]
    wino_kernel(tile, spare + j0 * g.c, (j1 - j0) * g.c, cf, ut + j0 * g.c)


cdef inline void wino_backward_range(const floating* x, const floating* ut, const floating* y,
                                     floating* dy, floating* du, floating* db, floating* dx,
                                     const conv_geom* g, int act, Py_ssize_t lo, Py_ssize_t hi,
                                     Py_ssize_t rows, floating* work) noexcept nogil:
    """Gradients of tile rows ``lo:hi``: ``du`` (transformed) and ``db`` written, ``dx`` added to.

    Each is skipped when NULL; ``dy`` first goes back through the activation
    in place.  ``ut`` is the transformed kernel with each of its matrices
    transposed, (f, c): BLAS multiplies by it untransposed half as fast
    again as by U transposed.
    """
    cdef Py_ssize_t tw = wino_tiles_across(g), mats = wino_mats(g), c = g.c, f = g.f
    cdef floating* v = work
    cdef floating* m = v + mats * wino_stride(rows * tw, c, sizeof(floating))
    cdef floating* border = m + mats * wino_stride(rows * tw, f, sizeof(floating))
    cdef floating* zeros = border + mats * c
    cdef Py_ssize_t blk, q0, q1, tiles, xi, r0, r1, sv, sm
    cdef bint first = True
    memset(zeros, 0, f * sizeof(floating))
    for blk in range((hi - lo + rows - 1) // rows):
        q0 = lo + blk * rows
        q1 = min(hi, q0 + rows)
        tiles = (q1 - q0) * tw
        sv = wino_stride(tiles, c, sizeof(floating))
        sm = wino_stride(tiles, f, sizeof(floating))
        r0 = wino_first_row(g, q0) * g.wo
        r1 = wino_end_row(g, q1 - 1) * g.wo
        if act != ACT_IDENTITY:
            bp_act_range(dy + r0 * f, y + r0 * f, dy + r0 * f, (r1 - r0) * f, act)
        if db != NULL:
            col_sums(dy + r0 * f, db, r1 - r0, f, f, not first)
        if du == NULL and dx == NULL:
            first = False
            continue
        wino_output_grads(dy, g, q0, q1, m, zeros)
        if du != NULL:
            wino_transform_tiles(x, g, q0, q1, v, border)
            for xi in range(mats):
                gemm(True, False, <int> c, <int> f, <int> tiles, <floating> 1, v + xi * sv,
                     <int> c, m + xi * sm, <int> f, <floating> (0 if first else 1),
                     du + xi * c * f, <int> f)
        if dx != NULL:
            for xi in range(mats):
                gemm(False, False, <int> tiles, <int> c, <int> f, <floating> 1, m + xi * sm,
                     <int> f, ut + xi * c * f, <int> c, <floating> 0, v + xi * sv, <int> c)
            wino_add_input_grad(v, g, q0, q1, dx, border)
        first = False


cdef inline void wino_backward(const floating* x, const floating* w, const floating* y,
                               floating* dy, floating* dw, floating* db, floating* dx,
                               const conv_geom* g, int act, floating* scratch,
                               int num_threads) noexcept nogil:
    """:func:`conv_backward` by Winograd."""
    cdef Py_ssize_t th = wino_tiles_down(g)
    cdef Py_ssize_t total = g.n * th
    cdef Py_ssize_t rows = wino_rows(g, sizeof(floating))
    cdef Py_ssize_t per = wino_work_size(g, sizeof(floating))
    cdef Py_ssize_t cf = g.c * g.f
    cdef Py_ssize_t mats = wino_mats(g)
    cdef Py_ssize_t sample = g.h * g.w * g.c
    # The partial gradients lie after a thread's block buffers.
    cdef Py_ssize_t off = per - mats * cf - g.f
    cdef floating* work = scratch + 2 * mats * cf
    cdef floating* spare = scratch + mats * cf
    cdef bint by_sample = dx != NULL
    cdef Py_ssize_t units = g.n if by_sample else (total + rows - 1) // rows
    cdef int n_threads = share_threads(units, num_threads)
    cdef int t
    cdef Py_ssize_t lo, hi, xi
    if n_threads == 1:
        if dx != NULL:
            wino_transposed_kernel(g.wino, w, g, 0, g.f, spare, scratch)
            memset(dx, 0, g.n * sample * sizeof(floating))
        wino_backward_range(x, scratch, y, dy, NULL if dw == NULL else work + off, db, dx, g, act,
                            0, total, rows, work)
        if dw != NULL:
            wino_kernel_adjoint(g.wino, work + off, cf, cf, dw)
        return
    if dx != NULL:
        for t in prange(n_threads, num_threads=n_threads, schedule="static"):
            wino_transposed_kernel(g.wino, w, g, g.f * t // n_threads, g.f * (t + 1) // n_threads,
                                   spare, scratch)
    for t in prange(n_threads, num_threads=n_threads, schedule="static"):
        if by_sample:
            lo = g.n * t // n_threads
            hi = g.n * (t + 1) // n_threads
            memset(dx + lo * sample, 0, (hi - lo) * sample * sizeof(floating))
            lo = lo * th
            hi = hi * th
        else:
            lo = total * t // n_threads
            hi = total * (t + 1) // n_threads
        wino_backward_range(x, scratch, y, dy, NULL if dw == NULL else work + t * per + off,
                            NULL if db == NULL else work + t * per + off + mats * cf, dx, g, act,
                            lo, hi, rows, work + t * per)
    if dw != NULL:
        # The threads' partials added and taken back through the transform, a
        # share of the entries by each thread.
        for t in prange(n_threads, num_threads=n_threads, schedule="static"):
            lo = cf * t // n_threads
            hi = cf * (t + 1) // n_threads
            for xi in range(mats):
                add_partials(spare + xi * cf + lo, work + off + xi * cf + lo, hi - lo, per,
                             n_threads)
            wino_kernel_adjoint(g.wino, spare + lo, hi - lo, cf, dw + lo)
    if db != NULL:
        add_partials(db, work + off + mats * cf, g.f, per, n_threads)


# ------------------------------------------------------------ passes
cdef inline void forward_range(const floating* x, const floating* w, const floating* b,
                               floating* y, const conv_geom* g, int act, Py_ssize_t lo,
                               Py_ssize_t hi, Py_ssize_t rows, floating* cols) noexcept nogil:
    """Output rows ``lo:hi``, block by block, the activation applied to each block."""
    cdef Py_ssize_t blk, p0, p1
    cdef floating beta
    cdef const floating* a
    cdef bint pointwise = is_pointwise(g)
    cdef bint transposed = gathers_transposed(g)
    for blk in range((hi - lo + rows - 1) // rows):
        p0 = lo + blk * rows
        p1 = min(hi, p0 + rows)
        beta = 0
        if b != NULL:
            fill_rows(y + p0 * g.f, b, 0, p1 - p0, g.f)
            beta = 1
        if transposed:
            im2col_t(x, g, p0, p1, cols)
            gemm(True, False, <int> (p1 - p0), <int> g.f, <int> g.k, <floating> 1, cols,
                 <int> (p1 - p0), w, <int> g.f, beta, y + p0 * g.f, <int> g.f)
        else:
            if pointwise:
                a = x + p0 * g.c
            else:
                im2col(x, g, p0, p1, cols)
                a = cols
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
    if g.wino:
        wino_forward(x, w, b, y, g, act, scratch, num_threads)
        return
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
    cdef bint transposed = gathers_transposed(g)
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
        if dw != NULL and transposed:
            im2col_t(x, g, p0, p1, cols)
            gemm(False, False, <int> g.k, <int> g.f, <int> n_rows, <floating> 1, cols,
                 <int> n_rows, dyb, <int> g.f, <floating> (0 if first else 1), dw, <int> g.f)
        elif dw != NULL:
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
    if g.wino:
        wino_backward(x, w, y, dy, dw, db, dx, g, act, scratch, num_threads)
        return
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
