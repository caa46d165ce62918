"""Compiled kernels of the Bernoulli restricted Boltzmann machine.

Every dense matrix product goes through the row-major BLAS wrappers of
``_blas.pxd`` (``gemv`` when a batch has a few rows).  The elementwise work
is fused into one pass per layer and step: bias, sigmoid, Bernoulli
sampling, the squared reconstruction error and the scaling of the
statistics happen while a row is in cache.  Mini-batch parameter updates
are fused with the gradient: a single ``gemm`` with ``beta`` set to the
decay factor (or the momentum) accumulates ``h0.T @ v0 - hk.T @ vk``
straight into the weights (or their velocity).

The online rule (one sample per update, :func:`_online`) works on a
transposed copy of the weights instead, with products of its own: those
with a visible vector add up only the rows of its nonzero entries.

Layout of a CD/PCD batch (``C`` chain rows, ``N`` data rows)::

    V  (C + N, n_visible)   rows [0, C): chain states vk; rows [C, C + N): data v0
    H  (C + N, n_hidden)    rows [0, C): -(N / C) * hk;   rows [C, C + N): h0
    dW = H.T @ V / N = h0.T @ v0 / N - hk.T @ vk / C

Random numbers: update ``step`` of a run seeded with ``seed`` derives one
key per sampling pass, and row ``i`` of that pass draws from the stream
``(key, i)``; a single-sample CD update draws as a mini-batch of one row,
from ``(key, 0)``.  The draws therefore depend on the seed, the step and
the position only, not on the number of threads.  A float stream is eight
interleaved xoshiro128+ generators (so that drawing vectorises), a double
stream one xoshiro256** generator (53-bit uniforms), both seeded through
splitmix64.

Threads: every kernel but the online rule shares out rows among its own
OpenMP threads; the online rule runs on one thread.  All call BLAS
single-threaded (the Python wrappers limit BLAS to one thread around each
call), so that OpenBLAS's threads and OpenMP's never compete for the cores.

The float sigmoid and uniform row kernels, and those of the online rule
(``_rbm_simd.pxd``: its products, update and sampling), are compiled for
the baseline, AVX2 and AVX-512 (:func:`select_simd_kernels`).  All versions
of a kernel give bit-identical results.

The Python wrappers in ``nnfast.backend.cpu_rbm`` check shapes, dtypes and
contiguity; these functions trust their arguments and release the GIL.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.math cimport exp, fabs, log1p
from libc.string cimport memcpy

cimport numpy as cnp

from _blas cimport gemm, gemv, axpy
from _omp cimport omp_get_thread_num
from _rbm_simd cimport nnf_rbm_simd, nnf_rbm_select, nnf_prefetch
from _rng cimport rng_t, rng_seed, rng_next, rng_uniform, splitmix64

cnp.import_array()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>

    /* 1 / (1 + exp(-x)) in double precision, split by the sign of x so
     * that exp never overflows (the float version, nnf_sigmoidf, is in
     * _rbm_simd.pxd). */
    static inline double nnf_sigmoid(double x) {
        double e = exp(-fabs(x));
        return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }

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

    /* A sense-reversing barrier for the threads of one kernel call.  Waiting
     * threads spin briefly and then yield their core, so that a thread that
     * was descheduled (on a busy machine) gets to run instead of waiting for
     * a spinning peer's time slice to end.  nnf_barrier_wait returns 1 when it
     * had to wait long; the kernels count these "slow" waits and fall back to one
     * thread (nnf_flag_*) when the machine is too busy for fine-grained
     * sharing.  Other compilers use the OpenMP barrier and never fall back. */
    typedef struct { int count; int sense; int serial; } nnf_barrier_t;
    #if defined(__GNUC__) && !defined(_WIN32)
    #include <sched.h>
    static inline int nnf_barrier_wait(nnf_barrier_t* b, int n, int* local_sense) {
        int s = !*local_sense, spins = 0, slow = 0;
        *local_sense = s;
        if (n <= 1) return 0;
        if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
            __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&b->sense, s, __ATOMIC_RELEASE);
            return 0;
        }
        while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s) {
            if (++spins > 4000) {
                /* Some 100 yields (a wait of the order of 100 microseconds)
                 * mean the peer was not running. */
                if (++slow > 100) slow = 100;
                sched_yield();
            }
        }
        return slow >= 100;
    }
    static inline void nnf_flag_set(nnf_barrier_t* b) {
        __atomic_store_n(&b->serial, 1, __ATOMIC_RELAXED);
    }
    static inline int nnf_flag_get(nnf_barrier_t* b) {
        return __atomic_load_n(&b->serial, __ATOMIC_RELAXED);
    }
    #else
    static inline int nnf_barrier_wait(nnf_barrier_t* b, int n, int* local_sense) {
        (void) b; (void) n; (void) local_sense;
    #ifdef _OPENMP
        _Pragma("omp barrier")
    #endif
        return 0;
    }
    static inline void nnf_flag_set(nnf_barrier_t* b) { (void) b; }
    static inline int nnf_flag_get(nnf_barrier_t* b) { (void) b; return 0; }
    #endif
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
    double nnf_sigmoid(double x) noexcept nogil
    double nnf_sqdiff_f(const float* a, const float* b, Py_ssize_t n) noexcept nogil
    double nnf_sqdiff_d(const double* a, const double* b, Py_ssize_t n) noexcept nogil
    int nnf_team_size() noexcept nogil
    ctypedef struct nnf_barrier_t:
        int count
        int sense
        int serial
    int nnf_barrier_wait(nnf_barrier_t* b, int n, int* local_sense) noexcept nogil
    void nnf_flag_set(nnf_barrier_t* b) noexcept nogil
    int nnf_flag_get(nnf_barrier_t* b) noexcept nogil
    unsigned int nnf_fp_flush_denormals() noexcept nogil
    void nnf_fp_restore(unsigned int old) noexcept nogil


def select_simd_kernels(int max_level=2):
    """Use the widest kernels of the online rule the CPU supports, up to ``max_level``.

    These are the products with the weights, the sparse update, the float
    sigmoid, the visible sample and the search for nonzero entries
    (``csrc/_rbm_simd.pxd``).

    Parameters
    ----------
    max_level : {0, 1, 2}
        0 for the baseline instruction set, 1 for AVX2, 2 for AVX-512.  All
        give bit-identical results.

    Returns
    -------
    int
        The level now in use (made at import with ``max_level=2``).
    """
    if not 0 <= max_level <= 2:
        raise ValueError(f"max_level must be 0, 1 or 2, got {max_level}")
    return nnf_rbm_select(max_level)


select_simd_kernels()


cdef uint64_t _GOLDEN = <uint64_t> 0x9E3779B97F4A7C15ULL


cdef inline uint64_t _derive(uint64_t seed, uint64_t n) noexcept nogil:
    """A well-mixed key for item ``n`` (a step, or a pass within a step) of ``seed``."""
    cdef uint64_t x = seed + n * _GOLDEN
    return splitmix64(&x)


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------

cdef int _GEMV_ROWS = 16


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


# ---------------------------------------------------------------------------
# The fused elementwise pass
# ---------------------------------------------------------------------------

cdef inline void _sigmoid_row(floating* p, const floating* bias, Py_ssize_t n) noexcept nogil:
    """p[j] = sigmoid(p[j] + bias[j]) for j < n (the float kernel of the instruction set)."""
    cdef Py_ssize_t j
    if floating is float:
        nnf_rbm_simd.sigmoid_row_f32(p, bias, n)
    else:
        for j in range(n):
            p[j] = nnf_sigmoid(p[j] + bias[j])


cdef inline void _uniforms(uint64_t key, uint64_t stream, floating* out,
                           Py_ssize_t n) noexcept nogil:
    """out[:n] = uniforms in [0, 1) of the random stream (key, stream)."""
    cdef Py_ssize_t j
    cdef rng_t r
    if floating is float:
        nnf_rbm_simd.uniform_row_f32(key, stream, out, n)
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


cdef double _pass(floating* pre, const floating* bias, Py_ssize_t rows, Py_ssize_t cols,
                  floating* sample, const floating* unif, uint64_t key, Py_ssize_t row0,
                  const floating* target, floating scale) noexcept nogil:
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


# ---------------------------------------------------------------------------
# Contrastive divergence in mini-batches (and PCD)
#
# Threads share out the rows: every product and pass of the chain works on a
# thread's own block of rows (the rows of a batch are independent), and the
# update shares out the rows of W and the entries of the biases.  Two
# barriers per batch: before the update (every thread has finished reading
# W) and after it.  The caller limits BLAS to one thread, so that the only
# threads are these.
# ---------------------------------------------------------------------------

cdef struct CDArgs:
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
    nnf_barrier_t* barrier  # shared by the threads of the call
    int sense           # each thread's barrier sense
    int waits           # each thread's barrier waits so far
    int slow            # ... and how many of them had to yield


cdef enum:
    # A thread whose barrier waits were slow more than 32 times, and in more
    # than 1 of 8 waits, asks the others to let it finish the segment alone.
    _SLOW_WAITS = 32


cdef inline void _wait(CDArgs* a, int n_threads) noexcept nogil:
    """Barrier wait that counts slow waits."""
    a.waits += 1
    a.slow += nnf_barrier_wait(a.barrier, n_threads, &a.sense)


cdef int _serial_after = -1


def _force_serial_after(int waits):
    """Test hook: fall back to one thread after ``waits`` barrier waits (-1: only when slow)."""
    global _serial_after
    _serial_after = waits


cdef inline void _vote_serial(CDArgs* a, int n_threads) noexcept nogil:
    """Ask for one thread when this one's waits were often slow.

    Called only between two barriers of a step, and the flag is read only
    right after the second, so every thread reads the same value.
    """
    if n_threads > 1 and ((a.slow > _SLOW_WAITS and a.slow * 8 > a.waits)
                          or 0 <= _serial_after <= a.waits):
        nnf_flag_set(a.barrier)


cdef double _cd_batch(CDArgs* a, floating* W, int tid, int n_threads) noexcept nogil:
    """Thread ``tid``'s share of one CD-k / PCD-k update (``W`` is ``a.W``, typed).

    Returns this thread's part of the summed squared reconstruction error.
    """
    cdef Py_ssize_t N = a.N, C = a.C, nv = a.nv, nh = a.nh
    cdef floating* V = <floating*> a.V
    cdef floating* H = <floating*> a.H
    cdef floating* Hs = <floating*> a.Hs
    cdef floating* P = <floating*> a.P
    cdef floating* coef = <floating*> a.coef
    cdef floating* ones = coef + (C + N)
    cdef floating* bv = <floating*> a.bv
    cdef floating* bh = <floating*> a.bh
    cdef floating* vW = <floating*> a.vW
    cdef floating* vbv = <floating*> a.vbv
    cdef floating* vbh = <floating*> a.vbh
    cdef const floating* uh = <const floating*> a.uh
    cdef const floating* uv = <const floating*> a.uv
    cdef floating* VC = V
    cdef floating* V0 = V + C * nv
    cdef floating* HC = H
    cdef floating* H0 = H + C * nh
    cdef floating* PD = P + C * nv
    cdef floating neg = -(<floating> N) / <floating> C
    cdef floating lr = <floating> a.lr
    cdef floating alpha = lr / <floating> N
    cdef floating momentum = <floating> a.momentum
    cdef floating wd = <floating> a.wd
    cdef const floating* target
    cdef double err = 0.0, e
    cdef Py_ssize_t d0, d1, c0, c1, i0, i1, j0, j1, r0, r1, i, j, nd, nc
    cdef int s, nvi = <int> nv, nhi = <int> nh, rows = <int> (C + N)
    _split(N, tid, n_threads, &d0, &d1)
    _split(C, tid, n_threads, &c0, &c1)
    nd = d1 - d0
    nc = c1 - c0

    # Positive phase on this thread's data rows; the first hidden sample of the chain.
    if nd > 0:
        _matmul(True, <int> nd, nhi, nvi, <floating> 1, V0 + d0 * nv, W, <floating> 0,
                H0 + d0 * nh)
        if a.pcd:
            _pass(H0 + d0 * nh, bh, nd, nh, <floating*> NULL, <const floating*> NULL, 0, d0,
                  <const floating*> NULL, <floating> 1)
        else:
            _pass(H0 + d0 * nh, bh, nd, nh, Hs + d0 * nh,
                  uh + d0 * nh if uh != NULL else NULL, _derive(a.key, 0), d0,
                  <const floating*> NULL, <floating> 1)
    if a.pcd and nc > 0:
        _matmul(True, <int> nc, nhi, nvi, <floating> 1, VC + c0 * nv, W, <floating> 0,
                HC + c0 * nh)
        _pass(HC + c0 * nh, bh, nc, nh, Hs + c0 * nh, uh + c0 * nh if uh != NULL else NULL,
              _derive(a.key, 0), c0, <const floating*> NULL, <floating> 1)

    # Negative phase: k steps of this thread's chains.
    if nc > 0:
        for s in range(a.k):
            _matmul(False, <int> nc, nvi, nhi, <floating> 1, Hs + c0 * nh, W, <floating> 0,
                    P + c0 * nv)
            target = V0 + c0 * nv if (s == 0 and not a.pcd) else NULL
            e = _pass(P + c0 * nv, bv, nc, nv, VC + c0 * nv,
                      uv + (s * C + c0) * nv if uv != NULL else NULL,
                      _derive(a.key, 2 * s + 1), c0, target, <floating> 1)
            if target != NULL:
                err = e
            _matmul(True, <int> nc, nhi, nvi, <floating> 1, VC + c0 * nv, W, <floating> 0,
                    HC + c0 * nh)
            if s + 1 < a.k:
                _pass(HC + c0 * nh, bh, nc, nh, Hs + c0 * nh,
                      uh + ((s + 1) * C + c0) * nh if uh != NULL else NULL,
                      _derive(a.key, 2 * s + 2), c0, <const floating*> NULL, <floating> 1)
            else:
                # The statistics of the chain enter the gradient with weight -N / C.
                _pass(HC + c0 * nh, bh, nc, nh, <floating*> NULL, <const floating*> NULL, 0,
                      c0, <const floating*> NULL, neg)

    if a.pcd and nd > 0:
        # Mean-field reconstruction of the data, for monitoring.
        _matmul(False, <int> nd, nvi, nhi, <floating> 1, H0 + d0 * nh, W, <floating> 0,
                PD + d0 * nv)
        err = _pass(PD + d0 * nv, bv, nd, nv, <floating*> NULL, <const floating*> NULL, 0, d0,
                    V0 + d0 * nv, <floating> 1)

    # Weights of the rows in the bias gradients.
    _split(C + N, tid, n_threads, &r0, &r1)
    for i in range(r0, r1):
        coef[i] = neg if i < C else 1
        ones[i] = 1
    _wait(a, n_threads)
    _vote_serial(a, n_threads)

    # Update: this thread's columns of W and of the visible biases (each thread
    # packs only its part of V), and its entries of the hidden biases.
    _split(nh, tid, n_threads, &j0, &j1)
    _split(nv, tid, n_threads, &i0, &i1)
    if i1 > i0:
        if momentum == 0:
            gemm(True, False, nhi, <int> (i1 - i0), rows, alpha, H, nhi, V + i0, nvi,
                 1 - lr * wd, W + i0, nvi)
            gemv(True, rows, <int> (i1 - i0), alpha, V + i0, nvi, coef, <floating> 1, bv + i0)
        else:
            gemm(True, False, nhi, <int> (i1 - i0), rows, alpha, H, nhi, V + i0, nvi,
                 momentum, vW + i0, nvi)
            for j in range(nh):
                if wd != 0:
                    axpy(<int> (i1 - i0), -lr * wd, W + j * nv + i0, vW + j * nv + i0)
                axpy(<int> (i1 - i0), <floating> 1, vW + j * nv + i0, W + j * nv + i0)
            gemv(True, rows, <int> (i1 - i0), alpha, V + i0, nvi, coef, momentum, vbv + i0)
            axpy(<int> (i1 - i0), <floating> 1, vbv + i0, bv + i0)
    if j1 > j0:
        if momentum == 0:
            gemv(True, rows, <int> (j1 - j0), alpha, H + j0, nhi, ones, <floating> 1, bh + j0)
        else:
            gemv(True, rows, <int> (j1 - j0), alpha, H + j0, nhi, ones, momentum, vbh + j0)
            axpy(<int> (j1 - j0), <floating> 1, vbh + j0, bh + j0)
    _wait(a, n_threads)
    return err


cdef double _cd_epoch_thread(CDArgs* a, floating* W, const floating* X, const int64_t* order,
                             Py_ssize_t n_rows, Py_ssize_t batch_size, uint64_t seed,
                             uint64_t first_step, int tid, int n_threads) noexcept nogil:
    """Thread ``tid``'s share of a pass over ``X[order]``; batch b is step first_step + b.

    ``a`` is this thread's copy of the arguments (N, C and key change per batch).
    """
    cdef Py_ssize_t start = 0, i, d0, d1
    cdef uint64_t step = first_step
    cdef double err = 0.0
    cdef floating* V = <floating*> a.V
    cdef size_t row_bytes = a.nv * sizeof(floating)
    cdef Py_ssize_t n_chains = a.C
    while start < n_rows:
        a.N = min(batch_size, n_rows - start)
        if not a.pcd:
            a.C = a.N
        _split(a.N, tid, n_threads, &d0, &d1)
        for i in range(d0, d1):
            memcpy(V + (a.C + i) * a.nv, X + order[start + i] * a.nv, row_bytes)
        a.key = _derive(seed, step)
        err += _cd_batch(a, W, tid, n_threads)
        step += 1
        start += a.N
        if n_threads > 1 and nnf_flag_get(a.barrier):
            # The batch is complete (its last barrier has passed): thread 0
            # goes on alone, with the same results.
            if tid != 0:
                break
            n_threads = 1
    a.C = n_chains
    return err


# ---------------------------------------------------------------------------
# The online rule: one sample per update
#
# Single samples run on one thread: a Gibbs step of one sample is too little
# work to share out.  The time goes into reading the weights (from the L2
# cache), so the rule reads as little of them as it can.  For the whole call
# it works on a transposed copy WT (nv, ld) of W (and of the velocity of W),
# in which visible unit i owns the contiguous row WT[i] (padded to ld
# entries, see _rbm_simd.pxd):
#
#   up      h = W @ v is the sum of v[i] * WT[i] over the nonzero v[i] only:
#           the chain's samples are binary and data such as images mostly
#           zeros.  Binary v (the chain's samples, binarised images) need no
#           multiplications; a dense v (more than half nonzero) that is not
#           binary goes through gemv.
#   down    p = WT @ hs, a BLAS gemv.
#   update  WT[i] += lr * (v0[i] * h0 - vk[i] * hk) touches only the rows
#           where v0 or vk is nonzero, unless momentum or weight decay
#           change every row.
#
# Every sampling pass draws the whole row from one stream, (key of the pass,
# 0): a single-sample update draws what a mini-batch of one row would.  The
# indices of the ones of the visible sample are listed as it is drawn; only
# the data row is searched for its nonzero entries, and the rows to update
# come from the flags of both.
# ---------------------------------------------------------------------------


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
        return nnf_rbm_simd.nonzero_f32(a, n, flags, idx, binary)
    else:
        return nnf_rbm_simd.nonzero_f64(a, n, flags, idx, binary)


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
        return nnf_rbm_simd.bernoulli_f32(p, unif, sample, n, flags, idx)
    else:
        return nnf_rbm_simd.bernoulli_f64(p, unif, sample, n, flags, idx)


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
        nnf_rbm_simd.sum_rows_f32(WT, ld, v, idx, n, binary, out)
    else:
        nnf_rbm_simd.sum_rows_f64(WT, ld, v, idx, n, binary, out)


cdef inline void _update_rows(floating* WT, Py_ssize_t ld, const int32_t* rows, Py_ssize_t n,
                              floating lr, const floating* v0, const floating* h0,
                              const floating* vk, const floating* neg_hk,
                              floating* tab) noexcept nogil:
    """WT[i] += lr * v0[i] * h0 + lr * vk[i] * neg_hk for the ``n`` rows i in ``rows``.

    ``tab`` is scratch of 3 * ld entries (see NNF_ADD_ROWS).
    """
    if floating is float:
        nnf_rbm_simd.add_rows_f32(WT, ld, rows, n, lr, v0, vk, h0, neg_hk, tab)
    else:
        nnf_rbm_simd.add_rows_f64(WT, ld, rows, n, lr, v0, vk, h0, neg_hk, tab)


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
            nk = nnf_rbm_simd.union_idx(flags0, flagsk, nv, nzk)
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
# Running an update or a pass
# ---------------------------------------------------------------------------

cdef enum:
    # A pass over the data in mini-batches runs in segments of this many
    # batches, each in its own parallel region: a segment that had to fall
    # back to one thread does not take the next with it.
    _SEGMENT_BATCHES = 64


cdef double _cd_region(CDArgs* args, floating* W, const floating* X, const int64_t* order,
                       Py_ssize_t n_rows, Py_ssize_t batch_size, uint64_t seed,
                       uint64_t first_step, int n_threads) noexcept nogil:
    """One parallel region: a mini-batch update (``X`` NULL) or a pass over ``X[order]``."""
    cdef double errs[64]
    cdef double err = 0.0
    cdef CDArgs local
    cdef nnf_barrier_t barrier
    cdef int tid, team, t
    for t in range(64):
        errs[t] = 0
    tid = 0
    team = 1
    barrier.count = 0
    barrier.sense = 0
    barrier.serial = 0
    args.barrier = &barrier
    args.sense = 0
    args.waits = 0
    args.slow = 0
    if n_threads <= 1:
        if X == NULL:
            return _cd_batch(args, W, 0, 1)
        return _cd_epoch_thread(args, W, X, order, n_rows, batch_size, seed, first_step, 0, 1)
    with parallel(num_threads=n_threads):
        tid = omp_get_thread_num()
        team = nnf_team_size()
        local = args[0]
        if X == NULL:
            errs[tid] = _cd_batch(&local, W, tid, team)
        else:
            errs[tid] = _cd_epoch_thread(&local, W, X, order, n_rows, batch_size, seed,
                                         first_step, tid, team)
    for t in range(64):
        err += errs[t]
    return err


cdef double _cd_run(CDArgs* args, floating* W, const floating* X, const int64_t* order,
                    Py_ssize_t n_rows, Py_ssize_t batch_size, uint64_t seed,
                    uint64_t first_step, int n_threads) noexcept nogil:
    """One update (``X`` NULL: rows already in ``args.V``) or a pass over ``X[order]``.

    Single-sample CD goes through :func:`_online` (on one thread), anything
    else through :func:`_cd_batch`.  Returns the summed squared
    reconstruction error, or -1 when out of memory.
    """
    cdef double err = 0.0
    cdef int64_t zero = 0
    cdef bint online = not args.pcd and (args.N == 1 if X == NULL else batch_size == 1)
    cdef Py_ssize_t start, m, segment
    if online:
        if X == NULL:
            # The sample is row 1 of V (after the chain's row).
            return _online(args, W, (<floating*> args.V) + args.nv, &zero, 1, seed, first_step)
        return _online(args, W, X, order, n_rows, seed, first_step)
    if X == NULL:
        args.key = _derive(seed, first_step)
        return _cd_region(args, W, X, order, n_rows, batch_size, seed, first_step, n_threads)
    segment = _SEGMENT_BATCHES * batch_size
    start = 0
    while start < n_rows:
        m = min(segment, n_rows - start)
        err += _cd_region(args, W, X, order + start, m, batch_size, seed,
                          first_step + <uint64_t> (start // batch_size), n_threads)
        start += m
    return err


# ---------------------------------------------------------------------------
# Row-parallel products: transform, reconstruction, Gibbs sampling
# ---------------------------------------------------------------------------

cdef void _sigmoid_affine_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k, Py_ssize_t n,
                               bint trans_w, const floating* x, const floating* W,
                               const floating* bias, floating* out) noexcept nogil:
    if r1 > r0:
        _matmul(trans_w, <int> (r1 - r0), <int> n, <int> k, <floating> 1, x + r0 * k, W,
                <floating> 0, out + r0 * n)
        _pass(out + r0 * n, bias, r1 - r0, n, <floating*> NULL, <const floating*> NULL, 0, r0,
              <const floating*> NULL, <floating> 1)


cdef void _sigmoid_affine(Py_ssize_t m, Py_ssize_t k, Py_ssize_t n, bint trans_w,
                          const floating* x, const floating* W, const floating* bias,
                          floating* out, int n_threads) noexcept nogil:
    """out[m, n] = sigmoid(x[m, k] @ op(W) + bias), rows shared among threads."""
    cdef Py_ssize_t r0 = 0, r1 = 0
    cdef int tid = 0
    if n_threads <= 1:
        _sigmoid_affine_rows(0, m, k, n, trans_w, x, W, bias, out)
        return
    with parallel(num_threads=n_threads):
        tid = omp_get_thread_num()
        _split(m, tid, nnf_team_size(), &r0, &r1)
        _sigmoid_affine_rows(r0, r1, k, n, trans_w, x, W, bias, out)


cdef void _gibbs_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, Py_ssize_t nv,
                      Py_ssize_t nh, int steps, const floating* v, const floating* W,
                      const floating* bv, const floating* bh, floating* H, floating* Hs,
                      floating* P, floating* out, const floating* uh, const floating* uv,
                      uint64_t seed) noexcept nogil:
    """``steps`` Gibbs steps of rows [r0, r1): samples in ``out``, last probabilities in ``P``.

    ``H`` takes the hidden probabilities, ``Hs`` the hidden samples: the
    uniforms are drawn into the sample before the comparison, so the two
    cannot share memory.
    """
    cdef int s
    cdef Py_ssize_t m = r1 - r0
    cdef const floating* cur = v + r0 * nv
    if m <= 0:
        return
    for s in range(steps):
        _matmul(True, <int> m, <int> nh, <int> nv, <floating> 1, cur, W, <floating> 0,
                H + r0 * nh)
        _pass(H + r0 * nh, bh, m, nh, Hs + r0 * nh,
              uh + (s * n + r0) * nh if uh != NULL else NULL, _derive(seed, 2 * s), r0,
              <const floating*> NULL, <floating> 1)
        _matmul(False, <int> m, <int> nv, <int> nh, <floating> 1, Hs + r0 * nh, W,
                <floating> 0, P + r0 * nv)
        _pass(P + r0 * nv, bv, m, nv, out + r0 * nv,
              uv + (s * n + r0) * nv if uv != NULL else NULL, _derive(seed, 2 * s + 1), r0,
              <const floating*> NULL, <floating> 1)
        cur = out + r0 * nv


cdef void _gibbs(Py_ssize_t n, Py_ssize_t nv, Py_ssize_t nh, int steps, const floating* v,
                 const floating* W, const floating* bv, const floating* bh, floating* H,
                 floating* Hs, floating* P, floating* out, const floating* uh,
                 const floating* uv, uint64_t seed, int n_threads) noexcept nogil:
    """Block Gibbs sampling; the chains (rows) are shared among threads."""
    cdef Py_ssize_t r0 = 0, r1 = 0
    cdef int tid = 0
    if n_threads <= 1:
        _gibbs_rows(0, n, n, nv, nh, steps, v, W, bv, bh, H, Hs, P, out, uh, uv, seed)
        return
    with parallel(num_threads=n_threads):
        tid = omp_get_thread_num()
        _split(n, tid, nnf_team_size(), &r0, &r1)
        _gibbs_rows(r0, r1, n, nv, nh, steps, v, W, bv, bh, H, Hs, P, out, uh, uv, seed)


cdef inline double _softplus(double x) noexcept nogil:
    return (x if x > 0 else 0.0) + log1p(exp(-fabs(x)))


cdef void _free_energy_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t nv, Py_ssize_t nh,
                            const floating* v, const floating* W, const floating* bv,
                            const floating* bh, floating* pre, double* out) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef double fe
    if r1 <= r0:
        return
    _matmul(True, <int> (r1 - r0), <int> nh, <int> nv, <floating> 1, v + r0 * nv, W,
            <floating> 0, pre + r0 * nh)
    for i in range(r0, r1):
        fe = 0.0
        for j in range(nv):
            fe -= <double> v[i * nv + j] * bv[j]
        for j in range(nh):
            fe -= _softplus(<double> pre[i * nh + j] + bh[j])
        out[i] = fe


cdef void _free_energy(Py_ssize_t n, Py_ssize_t nv, Py_ssize_t nh, const floating* v,
                       const floating* W, const floating* bv, const floating* bh,
                       floating* pre, double* out, int n_threads) noexcept nogil:
    """out[n] = -v @ bv - sum_j softplus(v @ W.T + bh) (float64 out), rows shared out."""
    cdef Py_ssize_t r0 = 0, r1 = 0
    cdef int tid = 0
    if n_threads <= 1:
        _free_energy_rows(0, n, nv, nh, v, W, bv, bh, pre, out)
        return
    with parallel(num_threads=n_threads):
        tid = omp_get_thread_num()
        _split(n, tid, nnf_team_size(), &r0, &r1)
        _free_energy_rows(r0, r1, nv, nh, v, W, bv, bh, pre, out)


cdef void _sigmoid_bernoulli(Py_ssize_t rows, Py_ssize_t cols, floating* prob,
                             const floating* bias, floating* sample, const floating* unif,
                             uint64_t key, int n_threads) noexcept nogil:
    cdef Py_ssize_t i
    if n_threads <= 1:
        _pass(prob, bias, rows, cols, sample, unif, key, 0, <const floating*> NULL,
              <floating> 1)
        return
    for i in prange(rows, num_threads=n_threads, schedule="static"):
        _pass_row(prob + i * cols, bias, cols, sample + i * cols,
                  unif + i * cols if unif != NULL else NULL, key, i, <const floating*> NULL,
                  <floating> 1)


# ---------------------------------------------------------------------------
# Python entry points (arguments checked by nnfast.backend.cpu_rbm, which
# also limits BLAS to one thread around the calls)
# ---------------------------------------------------------------------------

cdef inline void* _ptr(object a):
    """Data pointer of a contiguous ndarray, or NULL for None."""
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray> a)


cdef class _Args:
    """Data pointers of the arrays handed to a kernel (NULL for None)."""
    cdef void* p[24]

    def __cinit__(self, *arrays):
        cdef Py_ssize_t i
        for i in range(len(arrays)):
            self.p[i] = _ptr(arrays[i])


def sigmoid_bernoulli(pre, bias, uniform, uint64_t key, prob, sample, int n_threads):
    """prob = sigmoid(pre + bias); sample = (uniform < prob), drawing from ``key`` if no uniform."""
    cdef Py_ssize_t rows = pre.shape[0], cols = pre.shape[1]
    cdef uint64_t pass_key = _derive(key, 0)
    if prob is not pre:
        prob[...] = pre
    cdef _Args a = _Args(prob, bias, sample, uniform)
    if pre.dtype.itemsize == 4:
        with nogil:
            _sigmoid_bernoulli(rows, cols, <float*> a.p[0], <const float*> a.p[1],
                               <float*> a.p[2], <const float*> a.p[3], pass_key, n_threads)
    else:
        with nogil:
            _sigmoid_bernoulli(rows, cols, <double*> a.p[0], <const double*> a.p[1],
                               <double*> a.p[2], <const double*> a.p[3], pass_key, n_threads)


def sigmoid_affine(x, W, bias, bint trans_w, out, int n_threads):
    """out = sigmoid(x @ op(W) + bias), op(W) = W.T when ``trans_w``."""
    cdef Py_ssize_t m = x.shape[0], k = x.shape[1], n = out.shape[1]
    cdef _Args a = _Args(x, W, bias, out)
    if x.dtype.itemsize == 4:
        with nogil:
            _sigmoid_affine(m, k, n, trans_w, <const float*> a.p[0], <const float*> a.p[1],
                            <const float*> a.p[2], <float*> a.p[3], n_threads)
    else:
        with nogil:
            _sigmoid_affine(m, k, n, trans_w, <const double*> a.p[0], <const double*> a.p[1],
                            <const double*> a.p[2], <double*> a.p[3], n_threads)


def free_energy(v, W, b_vis, b_hid, pre, out, int n_threads):
    """Free energy of each row of ``v`` into ``out`` (float64); ``pre`` is scratch (n, nh)."""
    cdef Py_ssize_t n = v.shape[0], nv = v.shape[1], nh = W.shape[0]
    cdef _Args a = _Args(v, W, b_vis, b_hid, pre, out)
    if v.dtype.itemsize == 4:
        with nogil:
            _free_energy(n, nv, nh, <const float*> a.p[0], <const float*> a.p[1],
                         <const float*> a.p[2], <const float*> a.p[3], <float*> a.p[4],
                         <double*> a.p[5], n_threads)
    else:
        with nogil:
            _free_energy(n, nv, nh, <const double*> a.p[0], <const double*> a.p[1],
                         <const double*> a.p[2], <const double*> a.p[3], <double*> a.p[4],
                         <double*> a.p[5], n_threads)


def gibbs(v, W, b_vis, b_hid, int steps, uniform_hid, uniform_vis, uint64_t seed,
          H, Hs, P, out, int n_threads):
    """Block Gibbs sampling; see RBMOps.rbm_gibbs.  ``H`` and ``Hs`` are scratch (n, nh)."""
    cdef Py_ssize_t n = v.shape[0], nv = v.shape[1], nh = W.shape[0]
    cdef _Args a = _Args(v, W, b_vis, b_hid, H, Hs, P, out, uniform_hid, uniform_vis)
    if v.dtype.itemsize == 4:
        with nogil:
            _gibbs(n, nv, nh, steps, <const float*> a.p[0], <const float*> a.p[1],
                   <const float*> a.p[2], <const float*> a.p[3], <float*> a.p[4],
                   <float*> a.p[5], <float*> a.p[6], <float*> a.p[7],
                   <const float*> a.p[8], <const float*> a.p[9], seed, n_threads)
    else:
        with nogil:
            _gibbs(n, nv, nh, steps, <const double*> a.p[0], <const double*> a.p[1],
                   <const double*> a.p[2], <const double*> a.p[3], <double*> a.p[4],
                   <double*> a.p[5], <double*> a.p[6], <double*> a.p[7],
                   <const double*> a.p[8], <const double*> a.p[9], seed, n_threads)


cdef CDArgs _cd_args(W, b_vis, b_hid, double lr, int k, double momentum, double weight_decay,
                     vel_W, vel_vis, vel_hid, chain, V, H, Hs, P, coef, uniform_hid,
                     uniform_vis):
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
    a.barrier = NULL
    a.sense = 0
    a.waits = 0
    a.slow = 0
    return a


def cd_update(v0, W, b_vis, b_hid, double lr, int k, double momentum, double weight_decay,
              vel_W, vel_vis, vel_hid, chain, uint64_t seed, uint64_t step,
              uniform_hid, uniform_vis, V, H, Hs, P, coef, int n_threads):
    """One CD-k / PCD-k update; returns the summed squared reconstruction error."""
    cdef CDArgs a = _cd_args(W, b_vis, b_hid, lr, k, momentum, weight_decay, vel_W, vel_vis,
                             vel_hid, chain, V, H, Hs, P, coef, uniform_hid, uniform_vis)
    cdef double err
    cdef size_t isz = v0.dtype.itemsize
    cdef char* vbuf = <char*> a.V
    a.N = v0.shape[0]
    if not a.pcd:
        a.C = a.N
    # Chains first, then the data (see the module docstring).
    if a.pcd:
        memcpy(vbuf, _ptr(chain), a.C * a.nv * isz)
    memcpy(vbuf + a.C * a.nv * isz, _ptr(v0), a.N * a.nv * isz)
    if isz == 4:
        with nogil:
            err = _cd_run(&a, <float*> a.W, <const float*> NULL, NULL, 0, 0, seed, step,
                          n_threads)
    else:
        with nogil:
            err = _cd_run(&a, <double*> a.W, <const double*> NULL, NULL, 0, 0, seed, step,
                          n_threads)
    if err < 0:
        raise MemoryError("no memory for the transposed weights of the online rule")
    if a.pcd:
        memcpy(_ptr(chain), vbuf, a.C * a.nv * isz)
    return err


def cd_epoch(X, order, Py_ssize_t batch_size, W, b_vis, b_hid, double lr, int k,
             double momentum, double weight_decay, vel_W, vel_vis, vel_hid, chain,
             uint64_t seed, uint64_t first_step, V, H, Hs, P, coef, int n_threads):
    """A pass of CD-k / PCD-k updates over ``X[order]``; returns the summed squared error."""
    cdef CDArgs a = _cd_args(W, b_vis, b_hid, lr, k, momentum, weight_decay, vel_W, vel_vis,
                             vel_hid, chain, V, H, Hs, P, coef, None, None)
    cdef Py_ssize_t n_rows = order.shape[0]
    cdef size_t isz = X.dtype.itemsize
    cdef void* px = _ptr(X)
    cdef const int64_t* po = <const int64_t*> _ptr(order)
    cdef double err
    if a.pcd:
        memcpy(a.V, _ptr(chain), a.C * a.nv * isz)
    if isz == 4:
        with nogil:
            err = _cd_run(&a, <float*> a.W, <const float*> px, po, n_rows, batch_size, seed,
                          first_step, n_threads)
    else:
        with nogil:
            err = _cd_run(&a, <double*> a.W, <const double*> px, po, n_rows, batch_size, seed,
                          first_step, n_threads)
    if err < 0:
        raise MemoryError("no memory for the transposed weights of the online rule")
    if a.pcd:
        memcpy(_ptr(chain), a.V, a.C * a.nv * isz)
    return err
