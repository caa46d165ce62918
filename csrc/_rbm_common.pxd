# Helpers shared by the kernels of the Bernoulli restricted Boltzmann machine:
#
#   _rbm_cd.pyx        contrastive divergence (CD-k, PCD-k) in mini-batches
#   _rbm_online.pyx    the online rule: CD-k with one sample per update
#   _rbm_sampling.pyx  sampling and the other passes over a batch: the fused
#                      sigmoid and Bernoulli draw, the layer probabilities,
#                      block Gibbs sampling, the free energy
#
# Every dense matrix product goes through the row-major BLAS wrappers of
# _blas.pxd (gemv when a batch has a few rows).  The elementwise work is
# fused into one pass per layer and step (_pass): bias, sigmoid, Bernoulli
# sampling, the squared reconstruction error and the scaling of the
# statistics happen while a row is in cache.
#
# Random numbers: update ``step`` of a run seeded with ``seed`` derives one
# key per sampling pass (_derive), and row ``i`` of that pass draws from the
# stream (key, i); a single-sample update draws as a mini-batch of one row,
# from (key, 0).  The draws therefore depend on the seed, the step and the
# position only, not on the number of threads.  A float stream is eight
# interleaved xoshiro128+ generators (so that drawing vectorises, see
# nnf_simd_kernels.h), a double stream one xoshiro256** generator (53-bit
# uniforms, _rng.pxd), both seeded through splitmix64.
#
# The sigmoid, the float uniform rows and the online rule's sparse row
# kernels come from the instruction-set table that every module shares
# (nnf_simd.h, owned by nnfast._simd); each RBM module attaches to it at
# import.
from cython cimport floating
from libc.stdint cimport uint64_t

cimport numpy as cnp

from _blas cimport gemm, gemv
from _simd cimport nnf_simd
from _rng cimport rng_t, rng_seed, rng_uniform, splitmix64

cdef extern from *:
    """
    /* sum((a - b)^2) with eight partial sums, so the loop vectorises without
     * reassociation flags. */
    #define NNF_SQDIFF(NAME, T)                                              \\
    static inline double NAME(const T* a, const T* b, Py_ssize_t n) {        \\
        T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                 \\
        Py_ssize_t j = 0, l;                                                 \\
        for (; j + 8 <= n; j += 8) {                                         \\
            for (l = 0; l < 8; l++) {                                        \\
                T d = a[j + l] - b[j + l];                                   \\
                acc[l] += d * d;                                             \\
            }                                                                \\
        }                                                                    \\
        double s = 0.0;                                                      \\
        for (l = 0; l < 8; l++) s += acc[l];                                 \\
        for (; j < n; j++) { double d = (double)a[j] - b[j]; s += d * d; }   \\
        return s;                                                            \\
    }
    NNF_SQDIFF(nnf_sqdiff_f, float)
    NNF_SQDIFF(nnf_sqdiff_d, double)

    /* The size of the team of the enclosing parallel region (1 outside one). */
    #ifdef _OPENMP
    #include <omp.h>
    static inline int nnf_team_size(void) { return omp_get_num_threads(); }
    #else
    static inline int nnf_team_size(void) { return 1; }
    #endif

    /* Ask for the n bytes at p to be brought into the caches. */
    static inline void nnf_prefetch(const void* p, Py_ssize_t n) {
    #if defined(__GNUC__) || defined(__clang__)
        const char* c = (const char*) p;
        Py_ssize_t i;
        for (i = 0; i < n; i += 64) __builtin_prefetch(c + i);
    #else
        (void) p; (void) n;
    #endif
    }
    """
    double nnf_sqdiff_f(const float* a, const float* b, Py_ssize_t n) noexcept nogil
    double nnf_sqdiff_d(const double* a, const double* b, Py_ssize_t n) noexcept nogil
    int nnf_team_size() noexcept nogil
    void nnf_prefetch(const void* p, Py_ssize_t n) noexcept nogil


cdef enum:
    # Products of at most this many rows go through one gemv per row.
    _GEMV_ROWS = 16


cdef struct CDArgs:
    # The arguments of a CD-k / PCD-k update, mini-batch or online.  The
    # online rule reads the parameters, the uniforms, and row 0 of V (for
    # vk) and of P (for the visible probabilities) as scratch; the rest is
    # the mini-batch kernel's.
    Py_ssize_t N        # data rows of this batch
    Py_ssize_t C        # chain rows (== N for CD)
    Py_ssize_t nv
    Py_ssize_t nh
    int k
    bint pcd
    double lr
    double momentum
    double wd
    void* W             # IN/OUT (nh, nv)
    void* bv            # IN/OUT (nv,)
    void* bh            # IN/OUT (nh,)
    void* vW            # IN/OUT velocities, NULL when momentum == 0
    void* vbv
    void* vbh
    void* V             # IN/OUT (C + N, nv): rows [0, C) chains, rows [C, C + N) data
    void* H             # scratch (C + N, nh)
    void* Hs            # scratch (C, nh)
    void* P             # scratch (C + N, nv)
    void* coef          # scratch (2, C + N)
    const void* uh      # IN (k, C, nh) uniforms or NULL
    const void* uv      # IN (k, C, nv) uniforms or NULL
    uint64_t key        # random key of this update


cdef inline void* _ptr(object a):
    """Data pointer of a contiguous ndarray, or NULL for None."""
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray> a)


cdef inline CDArgs _cd_args(W, b_vis, b_hid, double lr, int k, double momentum,
                            double weight_decay, vel_W, vel_vis, vel_hid, chain, V, H, Hs, P,
                            coef, uniform_hid, uniform_vis):
    """The :c:type:`CDArgs` of these arrays (None: NULL); N is 0 and C the chain's rows."""
    cdef CDArgs a
    a.nv = W.shape[1]
    a.nh = W.shape[0]
    a.k = k
    a.pcd = chain is not None
    a.C = chain.shape[0] if a.pcd else 0
    a.N = 0
    a.lr = lr
    a.momentum = momentum
    a.wd = weight_decay
    a.W = _ptr(W)
    a.bv = _ptr(b_vis)
    a.bh = _ptr(b_hid)
    a.vW = _ptr(vel_W)
    a.vbv = _ptr(vel_vis)
    a.vbh = _ptr(vel_hid)
    a.V = _ptr(V)
    a.H = _ptr(H)
    a.Hs = _ptr(Hs)
    a.P = _ptr(P)
    a.coef = _ptr(coef)
    a.uh = _ptr(uniform_hid)
    a.uv = _ptr(uniform_vis)
    a.key = 0
    return a


cdef inline uint64_t _derive(uint64_t seed, uint64_t n) noexcept nogil:
    """A well-mixed key for item ``n`` (a step, or a pass within a step) of ``seed``."""
    cdef uint64_t x = seed + n * <uint64_t> 0x9E3779B97F4A7C15ULL
    return splitmix64(&x)


cdef inline void _matmul(bint trans_b, int m, int n, int k, floating alpha,
                         const floating* a, const floating* b, floating beta,
                         floating* c) noexcept nogil:
    """c[m, n] = alpha * a[m, k] @ op(b) + beta * c for contiguous row-major arrays.

    ``op(b)`` is ``b.T`` with ``b`` of shape (n, k) when ``trans_b``, else ``b``
    of shape (k, n).  A few rows go through one gemv each: gemm would repack
    all of ``b`` for them.
    """
    cdef int i
    if m <= _GEMV_ROWS:
        for i in range(m):
            if trans_b:
                gemv(False, n, k, alpha, b, k, a + i * k, beta, c + i * n)
            else:
                gemv(True, k, n, alpha, b, n, a + i * k, beta, c + i * n)
    else:
        gemm(False, trans_b, m, n, k, alpha, a, k, b, k if trans_b else n, beta, c, n)


cdef inline void _sigmoid_row(floating* p, const floating* bias, Py_ssize_t n) noexcept nogil:
    """p[j] = sigmoid(p[j] + bias[j]) for j < n (the sigmoid of every layer, nnf_simd.h)."""
    if floating is float:
        nnf_simd.sigmoid_f32(p, bias, p, n)
    else:
        nnf_simd.sigmoid_f64(p, bias, p, n)


cdef inline void _uniforms(uint64_t key, uint64_t stream, floating* out,
                           Py_ssize_t n) noexcept nogil:
    """out[:n] = uniforms in [0, 1) of the random stream (key, stream)."""
    cdef Py_ssize_t j
    cdef rng_t r
    if floating is float:
        nnf_simd.uniform_row_f32(key, stream, out, n)
    else:
        rng_seed(&r, key, stream)
        for j in range(n):
            out[j] = rng_uniform(&r)


cdef inline double _pass_row(floating* p, const floating* bias, Py_ssize_t m,
                             floating* sample, const floating* unif, uint64_t key,
                             Py_ssize_t row, const floating* target,
                             floating scale) noexcept nogil:
    """One row of :func:`_pass`; ``row`` numbers its random stream."""
    cdef Py_ssize_t j
    cdef double err = 0.0
    _sigmoid_row(p, bias, m)
    if target != NULL:
        if floating is float:
            err = nnf_sqdiff_f(target, p, m)
        else:
            err = nnf_sqdiff_d(target, p, m)
    if sample != NULL:
        if unif == NULL:
            # Draw the uniforms into ``sample``, then compare in place.
            _uniforms(key, <uint64_t> row, sample, m)
            unif = sample
        for j in range(m):
            sample[j] = 1 if unif[j] < p[j] else 0
    if scale != 1:
        for j in range(m):
            p[j] *= scale
    return err


cdef inline double _pass(floating* pre, const floating* bias, Py_ssize_t rows,
                         Py_ssize_t cols, floating* sample, const floating* unif, uint64_t key,
                         Py_ssize_t row0, const floating* target,
                         floating scale) noexcept nogil:
    """Fused sigmoid, Bernoulli sampling and reconstruction error over rows (serial).

    pre     IN/OUT (rows, cols): pre-activations in, ``scale * sigmoid(pre + bias)`` out
    bias    IN (cols,)
    sample  OUT (rows, cols) or NULL: ``1`` where the uniform draw < the probability
            (not ``pre``: without ``unif``, the draws go into ``sample`` first)
    unif    IN (rows, cols) or NULL: the uniform draws; NULL draws them from ``key``
    row0    IN: number of the first row (row i draws from stream (key, row0 + i))
    target  IN (rows, cols) or NULL: returns ``sum((target - probability)**2)``
    """
    cdef Py_ssize_t i
    cdef double err = 0.0
    for i in range(rows):
        err += _pass_row(pre + i * cols, bias, cols,
                         sample + i * cols if sample != NULL else NULL,
                         unif + i * cols if unif != NULL else NULL, key, row0 + i,
                         target + i * cols if target != NULL else NULL, scale)
    return err


cdef inline void _split(Py_ssize_t n, int tid, int n_threads, Py_ssize_t* lo,
                        Py_ssize_t* hi) noexcept nogil:
    """Rows [lo, hi) of ``n`` owned by thread ``tid`` of ``n_threads`` (contiguous blocks)."""
    cdef Py_ssize_t q = n // n_threads, r = n % n_threads
    lo[0] = tid * q + (tid if tid < r else r)
    hi[0] = lo[0] + q + (1 if tid < r else 0)
