"""The online rule of the Bernoulli RBM: CD-k with one sample per update.

Single samples run on one thread: a Gibbs step of one sample is too little
work to share out.  The time goes into reading the weights (from the L2
cache), so the rule reads as little of them as it can.  For the whole call
it works on a transposed copy WT (nv, ld) of W (and of the velocity of W),
in which visible unit i owns the contiguous row WT[i] (padded to ld
entries, see ``nnf_simd_kernels.h``)::

    up      h = W @ v is the sum of v[i] * WT[i] over the nonzero v[i] only:
            the chain's samples are binary and data such as images mostly
            zeros.  Binary v (the chain's samples, binarised images) need no
            multiplications; a dense v (more than half nonzero) that is not
            binary goes through gemv.
    down    p = WT @ hs, a BLAS gemv.
    update  WT[i] += lr * (v0[i] * h0 - vk[i] * hk) touches only the rows
            where v0 or vk is nonzero, unless momentum or weight decay
            change every row.

Every sampling pass draws the whole row from one stream, (key of the pass,
0): a single-sample update draws what a mini-batch of one row would
(``_rbm_cd.pyx``).  The indices of the ones of the visible sample are listed
as it is drawn; only the data row is searched for its nonzero entries, and
the rows to update come from the flags of both.

The products, the sparse update, the float sigmoid, the visible sample and
the searches for nonzero entries are compiled for the baseline, AVX2 and
AVX-512 (``nnf_simd_kernels.h``, ``nnfast._simd.select_simd_kernels``); all
versions give bit-identical results.

The Python wrappers in ``nnfast.backend.cpu_rbm`` check shapes, dtypes and
contiguity; these functions trust their arguments and release the GIL.
"""
from cython cimport floating
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free

cimport numpy as cnp

from _blas cimport gemv
from _rbm_common cimport (
    CDArgs, _cd_args, _derive, _pass_row, _ptr, _sigmoid_row, _uniforms, nnf_prefetch,
    nnf_sqdiff_d, nnf_sqdiff_f)
from _simd cimport nnf_simd, nnf_simd_attach

cnp.import_array()

cdef extern from *:
    """
    /* Flush denormal results and inputs to zero in this thread (x86 SSE
     * control register); returns the previous setting for nnf_fp_restore. */
    #if defined(__SSE__) || defined(_M_X64)
    #include <xmmintrin.h>
    static inline unsigned int nnf_fp_flush_denormals(void) {
        unsigned int old = _mm_getcsr();
        _mm_setcsr(old | 0x8040);                    /* FTZ | DAZ */
        return old;
    }
    static inline void nnf_fp_restore(unsigned int old) { _mm_setcsr(old); }
    #else
    static inline unsigned int nnf_fp_flush_denormals(void) { return 0; }
    static inline void nnf_fp_restore(unsigned int old) { (void) old; }
    #endif
    """
    unsigned int nnf_fp_flush_denormals() noexcept nogil
    void nnf_fp_restore(unsigned int old) noexcept nogil


nnf_simd_attach()


cdef void _transpose(Py_ssize_t rows, Py_ssize_t cols, const floating* src, Py_ssize_t ld_src,
                     floating* dst, Py_ssize_t ld_dst) noexcept nogil:
    """dst[j, i] = src[i, j] for i < rows, j < cols (row strides ld_src, ld_dst), by tiles."""
    cdef Py_ssize_t i0, j0, i, j, i1, j1
    for i0 in range(0, rows, 32):
        i1 = min(i0 + 32, rows)
        for j0 in range(0, cols, 32):
            j1 = min(j0 + 32, cols)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    dst[j * ld_dst + i] = src[i * ld_src + j]


cdef inline Py_ssize_t _nonzero(const floating* a, Py_ssize_t n, uint8_t* flags,
                                int32_t* idx, int* binary) noexcept nogil:
    """Write the indices i < n where a[i] is nonzero to ``idx``; returns how many.

    ``flags`` (n bytes) gets 1 where a[i] is nonzero, else 0; ``binary`` 1
    when every a[i] is +0.0 or 1.0, else 0.
    """
    if floating is float:
        return nnf_simd.nonzero_f32(a, n, flags, idx, binary)
    else:
        return nnf_simd.nonzero_f64(a, n, flags, idx, binary)


cdef inline void _hidden_pass(floating* p, const floating* bias, Py_ssize_t n,
                              floating* sample, const floating* unif, uint64_t key,
                              floating scale) noexcept nogil:
    """:func:`_pass_row` of a hidden row (stream (key, 0)), without the reconstruction error.

    p[:n] = scale * sigmoid(p + bias); unless ``sample`` is NULL,
    sample[j] = 1 if u[j] < sigmoid(p[j] + bias[j]) else 0, the uniforms u
    taken from ``unif`` or drawn from the stream (key, 0).
    """
    _pass_row(p, bias, n, sample, unif, key, 0, <const floating*> NULL, scale)


cdef inline Py_ssize_t _visible_pass(floating* p, const floating* bias, Py_ssize_t n,
                                     floating* sample, const floating* unif, uint64_t key,
                                     uint8_t* flags, int32_t* idx) noexcept nogil:
    """:func:`_hidden_pass` of a visible row, listing the ones of the sample as it draws it.

    ``idx`` gets the indices of the ones of ``sample`` (not NULL), ``flags``
    (n bytes) 1 at them and 0 elsewhere.  Returns how many ones.
    """
    _sigmoid_row(p, bias, n)
    if unif == NULL:
        _uniforms(key, 0, sample, n)
        unif = sample
    if floating is float:
        return nnf_simd.bernoulli_f32(p, unif, sample, n, flags, idx)
    else:
        return nnf_simd.bernoulli_f64(p, unif, sample, n, flags, idx)


cdef void _up(const floating* WT, Py_ssize_t nv, Py_ssize_t nh, Py_ssize_t ld,
              const floating* v, const int32_t* idx, Py_ssize_t n, bint binary,
              floating* out) noexcept nogil:
    """out[:nh] = W @ v from WT = W.T; ``idx`` lists the ``n`` nonzero v[i].  out[nh:ld] stays 0.

    The sum of the rows of WT, unless v is dense (more than half nonzero)
    and not ``binary`` (all its entries +0.0 or 1.0): a gemv then.  Rows of
    binary entries are added without multiplications, which costs less than
    the gemv's pass over every row.
    """
    if 2 * n > nv and not binary:
        gemv(True, <int> nv, <int> nh, <floating> 1, WT, <int> ld, v, <floating> 0, out)
    elif floating is float:
        # The nonzero entries of a binary v are ones.
        nnf_simd.sum_rows_f32(WT, ld, v, idx, n, binary, out)
    else:
        nnf_simd.sum_rows_f64(WT, ld, v, idx, n, binary, out)


cdef inline void _update_rows(floating* WT, Py_ssize_t ld, const int32_t* rows, Py_ssize_t n,
                              floating lr, const floating* v0, const floating* h0,
                              const floating* vk, const floating* neg_hk,
                              floating* tab) noexcept nogil:
    """WT[i] += lr * v0[i] * h0 + lr * vk[i] * neg_hk for the ``n`` rows i in ``rows``.

    ``tab`` is scratch of 3 * ld entries (see NNF_ADD_ROWS).
    """
    if floating is float:
        nnf_simd.add_rows_f32(WT, ld, rows, n, lr, v0, vk, h0, neg_hk, tab)
    else:
        nnf_simd.add_rows_f64(WT, ld, rows, n, lr, v0, vk, h0, neg_hk, tab)


cdef void _update_all_rows(floating* WT, floating* vWT, Py_ssize_t nv, Py_ssize_t nh,
                           Py_ssize_t ld, floating lr, floating momentum, floating wd,
                           const floating* v0, const floating* h0, const floating* vk,
                           const floating* neg_hk) noexcept nogil:
    """The update of every row of WT with weight decay and, when ``vWT`` is not NULL, momentum.

    With g[i] = v0[i] * h0 + vk[i] * neg_hk:
    without momentum  WT[i] = (1 - lr * wd) * WT[i] + lr * g[i];
    with momentum     vWT[i] = momentum * vWT[i] + lr * g[i] - lr * wd * WT[i]; WT[i] += vWT[i].
    """
    cdef Py_ssize_t i, j
    cdef floating a, b
    cdef floating decay = 1 - lr * wd, lr_wd = lr * wd
    cdef floating* w
    cdef floating* u
    for i in range(nv):
        a = lr * v0[i]
        b = lr * vk[i]
        w = WT + i * ld
        if vWT == NULL:
            for j in range(nh):
                w[j] = decay * w[j] + (a * h0[j] + b * neg_hk[j])
        else:
            u = vWT + i * ld
            for j in range(nh):
                u[j] = momentum * u[j] + (a * h0[j] + b * neg_hk[j]) - lr_wd * w[j]
                w[j] += u[j]


cdef inline void _prefetch_third(const floating* row, Py_ssize_t n, int part) noexcept nogil:
    """Ask for third ``part`` (0, 1 or 2) of ``row`` (``n`` entries; NULL: nothing) to be cached.

    The next sample is likely in main memory only.  Fetched all at once, its
    cache lines would hold up this sample's own reads.
    """
    cdef Py_ssize_t lo = part * n // 3, hi = (part + 1) * n // 3
    if row != NULL:
        nnf_prefetch(row + lo, (hi - lo) * sizeof(floating))


cdef inline void* _align64(void* p) noexcept nogil:
    """The first address at or after ``p`` on a 64-byte boundary (a cache line)."""
    return <void*> ((<size_t> p + 63) & ~(<size_t> 63))


cdef double _online(CDArgs* a, floating* W, const floating* X, const int64_t* order,
                    Py_ssize_t n_rows, uint64_t seed, uint64_t first_step) noexcept nogil:
    """``n_rows`` single-sample CD-k updates: sample X[order[t]] is update first_step + t.

    Returns the summed squared reconstruction error, or -1 when memory for
    the transposed copies runs out (nothing has changed then).  Scratch of
    ``a``: row 0 of V holds vk, row 0 of P the visible probabilities.
    """
    cdef Py_ssize_t nv = a.nv, nh = a.nh
    # Rows of WT padded to whole cache lines (with zeros, which stay 0).
    cdef Py_ssize_t ld = (nh + 15) // 16 * 16
    cdef floating* vk = <floating*> a.V
    cdef floating* p = <floating*> a.P
    cdef floating* bv = <floating*> a.bv
    cdef floating* bh = <floating*> a.bh
    cdef floating* vW = <floating*> a.vW
    cdef floating* vbv = <floating*> a.vbv
    cdef floating* vbh = <floating*> a.vbh
    cdef const floating* uh = <const floating*> a.uh
    cdef const floating* uv = <const floating*> a.uv
    cdef floating lr = <floating> a.lr
    cdef floating momentum = <floating> a.momentum
    cdef floating wd = <floating> a.wd
    cdef bint use_velocity = a.momentum != 0
    cdef bint sparse_update = not use_velocity and a.wd == 0
    cdef Py_ssize_t n_mats = 2 if use_velocity else 1
    cdef const floating* x
    cdef const floating* nxt
    cdef double err = 0.0
    cdef Py_ssize_t t, i, n0, nk
    cdef int s, binary = 0
    cdef uint64_t key
    cdef unsigned int fp
    cdef floating* WT
    cdef floating* vWT = NULL
    cdef floating* h0
    cdef floating* neg_hk
    cdef floating* hs
    cdef floating* tab
    cdef int32_t* nz0
    cdef int32_t* nzk
    cdef uint8_t* flags0
    cdef uint8_t* flagsk
    # One block: WT and vWT, then h0, -hk and the hidden sample (ld entries
    # each, zeros past nh), the scratch of _update_rows (3 * ld), then two
    # index lists and the flags of the data row and of the chain's visible
    # sample.
    cdef void* block = calloc(1, (n_mats * nv + 6) * ld * sizeof(floating)
                              + 2 * nv * sizeof(int32_t) + 2 * nv + 64)
    if block == NULL:
        return -1
    WT = <floating*> _align64(block)
    if use_velocity:
        vWT = WT + nv * ld
    h0 = WT + n_mats * nv * ld
    neg_hk = h0 + ld
    hs = neg_hk + ld
    tab = hs + ld
    nz0 = <int32_t*> (tab + 3 * ld)
    nzk = nz0 + nv
    flags0 = <uint8_t*> (nzk + nv)
    flagsk = flags0 + nv
    _transpose(nh, nv, W, nv, WT, ld)
    if use_velocity:
        _transpose(nh, nv, vW, nv, vWT, ld)
    # Hidden probabilities go down to the smallest normal numbers, so that
    # lr * h0 is often subnormal, and arithmetic on subnormals can be a
    # hundred times slower.
    fp = nnf_fp_flush_denormals()
    for t in range(n_rows):
        key = _derive(seed, first_step + t)
        x = X + order[t] * nv
        nxt = X + order[t + 1] * nv if t + 1 < n_rows else NULL
        # Positive phase and the first hidden sample.
        n0 = _nonzero(x, nv, flags0, nz0, &binary)
        _prefetch_third(nxt, nv, 0)
        _up(WT, nv, nh, ld, x, nz0, n0, binary, h0)
        _prefetch_third(nxt, nv, 1)
        _hidden_pass(h0, bh, nh, hs, uh, _derive(key, 0), <floating> 1)
        for s in range(a.k):
            # p = WT @ hs, then the visible sample, then W @ vk.
            gemv(False, <int> nv, <int> nh, <floating> 1, WT, <int> ld, hs, <floating> 0, p)
            nk = _visible_pass(p, bv, nv, vk, uv + s * nv if uv != NULL else NULL,
                               _derive(key, 2 * s + 1), flagsk, nzk)
            _up(WT, nv, nh, ld, vk, nzk, nk, True, neg_hk)
            if s == 0:
                _prefetch_third(nxt, nv, 2)
                if floating is float:
                    err += nnf_sqdiff_f(x, p, nv)
                else:
                    err += nnf_sqdiff_d(x, p, nv)
            if s + 1 < a.k:
                _hidden_pass(neg_hk, bh, nh, hs, uh + (s + 1) * nh if uh != NULL else NULL,
                             _derive(key, 2 * s + 2), <floating> 1)
            else:
                _hidden_pass(neg_hk, bh, nh, <floating*> NULL, <const floating*> NULL, 0,
                             <floating> -1)
        if sparse_update:
            # nzk is free again: it takes the rows where x or vk is nonzero.
            nk = nnf_simd.union_idx(flags0, flagsk, nv, nzk)
            _update_rows(WT, ld, nzk, nk, lr, x, h0, vk, neg_hk, tab)
        else:
            _update_all_rows(WT, vWT, nv, nh, ld, lr, momentum, wd, x, h0, vk, neg_hk)
        if not use_velocity:
            for i in range(nh):
                bh[i] += lr * (h0[i] + neg_hk[i])
            for i in range(nv):
                bv[i] += lr * (x[i] - vk[i])
        else:
            for i in range(nh):
                vbh[i] = momentum * vbh[i] + lr * (h0[i] + neg_hk[i])
                bh[i] += vbh[i]
            for i in range(nv):
                vbv[i] = momentum * vbv[i] + lr * (x[i] - vk[i])
                bv[i] += vbv[i]
    nnf_fp_restore(fp)
    _transpose(nv, nh, WT, ld, W, nv)
    if use_velocity:
        _transpose(nv, nh, vWT, ld, vW, nv)
    free(block)
    return err


# ---------------------------------------------------------------------------
# Python entry points (arguments checked by nnfast.backend.cpu_rbm)
# ---------------------------------------------------------------------------

def online_update(v0, W, b_vis, b_hid, double lr, int k, double momentum, double weight_decay,
                  vel_W, vel_vis, vel_hid, uint64_t seed, uint64_t step, uniform_hid,
                  uniform_vis, V, P):
    """One single-sample CD-k update from ``v0`` (1, nv); returns the squared reconstruction error.

    ``V`` and ``P`` are scratch with at least one row of ``nv`` entries.
    """
    cdef CDArgs a = _cd_args(W, b_vis, b_hid, lr, k, momentum, weight_decay, vel_W, vel_vis,
                             vel_hid, None, V, None, None, P, None, uniform_hid, uniform_vis)
    cdef void* px = _ptr(v0)
    cdef int64_t zero = 0
    cdef double err
    if v0.dtype.itemsize == 4:
        with nogil:
            err = _online(&a, <float*> a.W, <const float*> px, &zero, 1, seed, step)
    else:
        with nogil:
            err = _online(&a, <double*> a.W, <const double*> px, &zero, 1, seed, step)
    if err < 0:
        raise MemoryError("no memory for the transposed weights of the online rule")
    return err


def online_epoch(X, order, W, b_vis, b_hid, double lr, int k, double momentum,
                 double weight_decay, vel_W, vel_vis, vel_hid, uint64_t seed,
                 uint64_t first_step, V, P):
    """Single-sample CD-k updates over ``X[order]`` (update ``first_step + t`` from row ``order[t]``).

    Returns the summed squared reconstruction error.  ``V`` and ``P`` are
    scratch with at least one row of ``nv`` entries.
    """
    cdef CDArgs a = _cd_args(W, b_vis, b_hid, lr, k, momentum, weight_decay, vel_W, vel_vis,
                             vel_hid, None, V, None, None, P, None, None, None)
    cdef Py_ssize_t n_rows = order.shape[0]
    cdef void* px = _ptr(X)
    cdef const int64_t* po = <const int64_t*> _ptr(order)
    cdef double err
    if X.dtype.itemsize == 4:
        with nogil:
            err = _online(&a, <float*> a.W, <const float*> px, po, n_rows, seed, first_step)
    else:
        with nogil:
            err = _online(&a, <double*> a.W, <const double*> px, po, n_rows, seed, first_step)
    if err < 0:
        raise MemoryError("no memory for the transposed weights of the online rule")
    return err
