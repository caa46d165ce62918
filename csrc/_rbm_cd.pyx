"""Contrastive divergence of the Bernoulli RBM in mini-batches (CD-k and PCD-k).

Layout of a batch (``C`` chain rows, ``N`` data rows)::

    V  (C + N, n_visible)   rows [0, C): chain states vk; rows [C, C + N): data v0
    H  (C + N, n_hidden)    rows [0, C): -(N / C) * hk;   rows [C, C + N): h0
    dW = H.T @ V / N = h0.T @ v0 / N - hk.T @ vk / C

The parameter update is fused with the gradient: a single ``gemm`` with
``beta`` set to the decay factor (or the momentum) accumulates
``h0.T @ v0 - hk.T @ vk`` straight into the weights (or their velocity).
A CD update of a single sample is the online rule's (``_rbm_online.pyx``).

Threads share out the rows: every product and pass of the chain works on a
thread's own block of rows (the rows of a batch are independent), and the
update shares out the columns of W and the entries of the biases.  Two
barriers per batch: before the update (every thread has finished reading
W) and after it.  A call (a single update or a whole pass over the data) is
one parallel region.  A thread count above 1 assumes that BLAS
runs on one thread meanwhile (the caller's business), so that the only
threads are these.

The Python wrappers in ``nnfast.backend.cpu_rbm`` check shapes, dtypes and
contiguity; these functions trust their arguments and release the GIL.
"""
from cython cimport floating
from cython.parallel cimport parallel
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

cimport numpy as cnp

from _blas cimport gemm, gemv, axpy
from _omp cimport omp_get_thread_num
from _rbm_common cimport (
    CDArgs, _cd_args, _derive, _matmul, _pass, _ptr, _split, nnf_team_size)
from _simd cimport nnf_simd_attach

cnp.import_array()

cdef extern from *:
    """
    /* A sense-reversing barrier for the threads of one parallel region.
     * Waiting threads spin briefly and then yield their core, so that on a
     * busy machine a peer that was descheduled gets to run instead of
     * waiting for a spinning thread's time slice to end.  GCC's OpenMP
     * barrier spins far longer before it sleeps, and an epoch then takes
     * noticeably longer while another process keeps a core busy (see
     * "RBM mini-batch barrier" in benchmarks/RESULTS.md).  Other compilers
     * use the OpenMP barrier. */
    typedef struct { int count; int sense; } nnf_barrier_t;
    #if defined(__GNUC__) && !defined(_WIN32)
    #include <sched.h>
    static inline void nnf_barrier_wait(nnf_barrier_t* b, int n, int* local_sense) {
        int s = !*local_sense, spins = 0;
        *local_sense = s;
        if (n <= 1) return;
        if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
            __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&b->sense, s, __ATOMIC_RELEASE);
            return;
        }
        while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s) {
            if (spins < 4000)
                spins++;
            else
                sched_yield();
        }
    }
    #else
    static inline void nnf_barrier_wait(nnf_barrier_t* b, int n, int* local_sense) {
        (void) b; (void) n; (void) local_sense;
    #ifdef _OPENMP
        _Pragma("omp barrier")
    #endif
    }
    #endif
    """
    ctypedef struct nnf_barrier_t:
        int count
        int sense
    void nnf_barrier_wait(nnf_barrier_t* b, int n, int* local_sense) noexcept nogil


nnf_simd_attach()


cdef struct _Sync:
    # A thread's side of the barrier of its parallel region.
    nnf_barrier_t* barrier  # shared by the threads of the region
    int sense               # this thread's barrier sense


cdef inline void _wait(_Sync* sync, int n_threads) noexcept nogil:
    """Wait for the other threads of the region (``n_threads`` of them, this one included)."""
    nnf_barrier_wait(sync.barrier, n_threads, &sync.sense)


cdef double _cd_batch(CDArgs* a, _Sync* sync, floating* W, int tid,
                      int n_threads) noexcept nogil:
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
    _wait(sync, n_threads)

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
    _wait(sync, n_threads)
    return err


cdef double _cd_epoch_thread(CDArgs* a, _Sync* sync, floating* W, const floating* X,
                             const int64_t* order, Py_ssize_t n_rows, Py_ssize_t batch_size,
                             uint64_t seed, uint64_t first_step, int tid,
                             int n_threads) noexcept nogil:
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
        err += _cd_batch(a, sync, W, tid, n_threads)
        step += 1
        start += a.N
    a.C = n_chains
    return err


cdef double _cd_run(CDArgs* args, floating* W, const floating* X, const int64_t* order,
                    Py_ssize_t n_rows, Py_ssize_t batch_size, uint64_t seed,
                    uint64_t first_step, int n_threads) noexcept nogil:
    """One update (``X`` NULL: rows already in ``args.V``) or a pass over ``X[order]``.

    One parallel region for the whole call.  Returns the summed squared
    reconstruction error.
    """
    cdef double errs[64]
    cdef double err = 0.0
    cdef CDArgs local
    cdef nnf_barrier_t barrier
    cdef _Sync sync0, sync
    cdef int tid, team, t
    barrier.count = 0
    barrier.sense = 0
    sync0.barrier = &barrier
    sync0.sense = 0
    if X == NULL:
        args.key = _derive(seed, first_step)
    if n_threads <= 1:
        if X == NULL:
            return _cd_batch(args, &sync0, W, 0, 1)
        return _cd_epoch_thread(args, &sync0, W, X, order, n_rows, batch_size, seed,
                                first_step, 0, 1)
    for t in range(64):
        errs[t] = 0
    tid = 0
    team = 1
    with parallel(num_threads=n_threads):
        tid = omp_get_thread_num()
        team = nnf_team_size()
        local = args[0]
        sync = sync0
        if X == NULL:
            errs[tid] = _cd_batch(&local, &sync, W, tid, team)
        else:
            errs[tid] = _cd_epoch_thread(&local, &sync, W, X, order, n_rows, batch_size, seed,
                                         first_step, tid, team)
    for t in range(64):
        err += errs[t]
    return err


# ---------------------------------------------------------------------------
# Python entry points (arguments checked by nnfast.backend.cpu_rbm)
# ---------------------------------------------------------------------------

def cd_update(v0, W, b_vis, b_hid, double lr, int k, double momentum, double weight_decay,
              vel_W, vel_vis, vel_hid, chain, uint64_t seed, uint64_t step,
              uniform_hid, uniform_vis, V, H, Hs, P, coef, int n_threads):
    """One CD-k / PCD-k update of a mini-batch; returns the summed squared error."""
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
    if a.pcd:
        memcpy(_ptr(chain), a.V, a.C * a.nv * isz)
    return err
