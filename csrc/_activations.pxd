# Activations and their gradients, elementwise (softmax row-wise), over raw
# pointers in small inline helpers so that the compiler sees plain counted
# loops it can vectorise; the parallel versions hand each thread one
# contiguous chunk of the same helper.  The exponential runs the
# instruction-set specific kernels of nnf_simd.h over whole rows or blocks.
#
# Activation codes (shared with nnfast.backend): 0 identity, 1 sigmoid,
# 2 tanh, 3 relu, 4 softmax.
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy

from _parallel cimport chunk_size, n_chunks
from _simd cimport nnf_simd

cdef enum:
    ACT_IDENTITY = 0
    ACT_SIGMOID = 1
    ACT_TANH = 2
    ACT_RELU = 3
    ACT_SOFTMAX = 4

cdef enum:
    BLOCK = 512  # elements per block of intermediate values kept on the stack
    LANES = 16   # independent partial sums of a reduction


cdef inline void exp_shift(const floating* x, floating shift, floating* y,
                           Py_ssize_t n) noexcept nogil:
    """``y = exp(x - shift)`` for ``x - shift <= 0`` (``y`` may be ``x``)."""
    if floating is float:
        nnf_simd.exp_shift_f32(x, shift, y, n)
    else:
        nnf_simd.exp_shift_f64(x, shift, y, n)


cdef inline void exp_negabs(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """``y = exp(-|x|)`` (``y`` may be ``x``)."""
    if floating is float:
        nnf_simd.exp_negabs_f32(x, y, n)
    else:
        nnf_simd.exp_negabs_f64(x, y, n)


# Reductions: a single running sum is a dependency chain the compiler may not
# reorder (and so cannot vectorise).  Sixteen independent partial sums can be,
# at the price of a different (not worse) rounding than numpy's pairwise sum.
cdef inline floating lane_sum(const floating* x, Py_ssize_t n) noexcept nogil:
    cdef floating acc[LANES]
    cdef floating total = 0
    cdef Py_ssize_t i, j, b
    cdef Py_ssize_t n_main = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
    for b in range(n_main // LANES):
        i = b * LANES
        for j in range(LANES):
            acc[j] = acc[j] + x[i + j]
    for j in range(LANES):
        total = total + acc[j]
    for i in range(n_main, n):
        total = total + x[i]
    return total


cdef inline floating lane_max(const floating* x, Py_ssize_t n) noexcept nogil:
    """Largest element of ``x[0:n]``, ``n >= 1``.

    NaNs may or may not be passed over; the callers subtract the result from
    every element, so a row holding a NaN becomes NaN either way.
    """
    cdef floating acc[LANES]
    cdef floating mx = x[0]
    cdef Py_ssize_t i, j, b
    cdef Py_ssize_t n_main = n - n % LANES
    if n_main:
        for j in range(LANES):
            acc[j] = x[j]
        for b in range(1, n_main // LANES):
            i = b * LANES
            for j in range(LANES):
                acc[j] = x[i + j] if x[i + j] > acc[j] else acc[j]
        for j in range(LANES):
            mx = acc[j] if acc[j] > mx else mx
    for i in range(n_main, n):
        mx = x[i] if x[i] > mx else mx
    return mx


cdef inline floating lane_dot(const floating* x, const floating* y, Py_ssize_t n) noexcept nogil:
    cdef floating acc[LANES]
    cdef floating total = 0
    cdef Py_ssize_t i, j, b
    cdef Py_ssize_t n_main = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
    for b in range(n_main // LANES):
        i = b * LANES
        for j in range(LANES):
            acc[j] = acc[j] + x[i + j] * y[i + j]
    for j in range(LANES):
        total = total + acc[j]
    for i in range(n_main, n):
        total = total + x[i] * y[i]
    return total


cdef inline void sigmoid_range(const floating* z, floating* y, Py_ssize_t n) noexcept nogil:
    """``y = 1 / (1 + e)`` where ``z >= 0`` and ``e / (1 + e)`` elsewhere, ``e = exp(-|z|)``.

    ``y`` may be ``z``.
    """
    if floating is float:
        nnf_simd.sigmoid_f32(z, NULL, y, n)
    else:
        nnf_simd.sigmoid_f64(z, NULL, y, n)


cdef inline void tanh_range(const floating* z, floating* y, Py_ssize_t n) noexcept nogil:
    """``y = tanh(z)`` (``y`` may be ``z``), within a few ulps (see nnf_simd_kernels.h)."""
    if floating is float:
        nnf_simd.tanh_f32(z, y, n)
    else:
        nnf_simd.tanh_f64(z, y, n)


cdef inline void act_range(const floating* z, floating* y, Py_ssize_t n, int kind) noexcept nogil:
    """Elementwise activation ``kind`` (not softmax) of ``z[0:n]`` into ``y`` (may be ``z``)."""
    cdef Py_ssize_t i
    cdef floating zero = 0
    if kind == ACT_IDENTITY:
        if y != z:
            memcpy(y, z, n * sizeof(floating))
    elif kind == ACT_SIGMOID:
        sigmoid_range(z, y, n)
    elif kind == ACT_TANH:
        tanh_range(z, y, n)
    elif kind == ACT_RELU:
        for i in range(n):
            y[i] = zero if z[i] < zero else z[i]


cdef inline void softmax_row(const floating* z, floating* y, Py_ssize_t n) noexcept nogil:
    """Softmax of one row, shifted by its maximum (``y`` may be ``z``)."""
    cdef Py_ssize_t j
    cdef floating mx = lane_max(z, n)
    cdef floating inv_s
    exp_shift(z, mx, y, n)
    inv_s = 1 / lane_sum(y, n)  # a multiply per element instead of a divide
    for j in range(n):
        y[j] = y[j] * inv_s


cdef inline void activation(const floating* zp, floating* op, Py_ssize_t n_rows,
                            Py_ssize_t n_cols, int kind, int num_threads) noexcept nogil:
    """Activation ``kind`` of ``zp`` (n_rows, n_cols) into ``op`` (may be ``zp``)."""
    cdef Py_ssize_t n = n_rows * n_cols
    cdef Py_ssize_t i, c, start, chunk
    if kind == ACT_SOFTMAX:
        if num_threads <= 1:
            for i in range(n_rows):
                softmax_row(zp + i * n_cols, op + i * n_cols, n_cols)
        else:
            for i in prange(n_rows, num_threads=num_threads, schedule="static"):
                softmax_row(zp + i * n_cols, op + i * n_cols, n_cols)
    elif num_threads <= 1:
        act_range(zp, op, n, kind)
    else:
        chunk = chunk_size(n, num_threads)
        for c in prange(n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
            start = c * chunk
            act_range(zp + start, op + start, min(chunk, n - start), kind)


cdef inline void bp_act_range(const floating* dy, const floating* y, floating* dz,
                              Py_ssize_t n, int kind) noexcept nogil:
    """Elementwise ``dz = dy * f'(.)`` written in terms of the output ``y`` (``dz`` may be ``dy``).

    The sigmoid, tanh and ReLU run the instruction-set specific kernel of
    ``nnf_simd_kernels.h`` (whose ReLU factor is a product, as in the
    reference: NaN and infinite gradients behind a dead unit still give NaN).
    """
    if kind == ACT_IDENTITY:
        if dz != dy:
            memcpy(dz, dy, n * sizeof(floating))
    elif floating is float:
        nnf_simd.bp_act_f32(dy, y, dz, n, kind)
    else:
        nnf_simd.bp_act_f64(dy, y, dz, n, kind)


cdef inline void bp_softmax_row(const floating* dy, const floating* y, floating* dz,
                                Py_ssize_t n) noexcept nogil:
    """``dz = y * (dy - <dy, y>)`` for one row (``dz`` may be ``dy`` or ``y``)."""
    cdef Py_ssize_t j
    cdef floating s = lane_dot(dy, y, n)
    for j in range(n):
        dz[j] = y[j] * (dy[j] - s)


cdef inline void backprop_activation(const floating* dyp, const floating* yp, floating* op,
                                     Py_ssize_t n_rows, Py_ssize_t n_cols, int kind,
                                     int num_threads) noexcept nogil:
    """Gradient with respect to the pre-activation, from the output ``yp`` (``op`` may be ``dyp``)."""
    cdef Py_ssize_t n = n_rows * n_cols
    cdef Py_ssize_t i, c, start, chunk
    if kind == ACT_SOFTMAX:
        if num_threads <= 1:
            for i in range(n_rows):
                bp_softmax_row(dyp + i * n_cols, yp + i * n_cols, op + i * n_cols, n_cols)
        else:
            for i in prange(n_rows, num_threads=num_threads, schedule="static"):
                bp_softmax_row(dyp + i * n_cols, yp + i * n_cols, op + i * n_cols, n_cols)
    elif num_threads <= 1:
        bp_act_range(dyp, yp, op, n, kind)
    else:
        chunk = chunk_size(n, num_threads)
        for c in prange(n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
            start = c * chunk
            bp_act_range(dyp + start, yp + start, op + start, min(chunk, n - start), kind)
