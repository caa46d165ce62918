"""Sampling and the other passes of the Bernoulli RBM over a batch.

The fused sigmoid and Bernoulli draw (:func:`sigmoid_bernoulli`), the
probabilities of one layer given the other (:func:`sigmoid_affine`), block
Gibbs sampling (:func:`gibbs`) and the free energy (:func:`free_energy`).
Each shares the rows of the batch out among its OpenMP threads in
contiguous blocks, one product (BLAS) and one fused pass
(``_rbm_common.pxd``) per block; rows are independent, so the results do
not depend on the number of threads.  A thread count above 1 assumes that
BLAS runs on one thread meanwhile (the caller's business).

The Python wrappers in ``nnfast.backend.cpu_rbm`` check shapes, dtypes and
contiguity; these functions trust their arguments and release the GIL.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport uint64_t
from libc.math cimport exp, fabs, log1p

cimport numpy as cnp

from _omp cimport omp_get_thread_num
from _rbm_common cimport (
    _derive, _matmul, _pass, _pass_row, _ptr, _split, nnf_team_size)
from _simd cimport nnf_simd_attach

cnp.import_array()


nnf_simd_attach()


# ---------------------------------------------------------------------------
# Kernels: rows [r0, r1) of a batch, and a driver that shares the rows out
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
# Python entry points (arguments checked by nnfast.backend.cpu_rbm)
# ---------------------------------------------------------------------------

def sigmoid_bernoulli(pre, bias, uniform, uint64_t key, prob, sample, int n_threads):
    """prob = sigmoid(pre + bias); sample = (uniform < prob), drawing from ``key`` if no uniform."""
    cdef Py_ssize_t rows = pre.shape[0], cols = pre.shape[1]
    cdef uint64_t pass_key = _derive(key, 0)
    if prob is not pre:
        prob[...] = pre
    cdef void* p_prob = _ptr(prob)
    cdef void* p_bias = _ptr(bias)
    cdef void* p_sample = _ptr(sample)
    cdef void* p_unif = _ptr(uniform)
    if pre.dtype.itemsize == 4:
        with nogil:
            _sigmoid_bernoulli(rows, cols, <float*> p_prob, <const float*> p_bias,
                               <float*> p_sample, <const float*> p_unif, pass_key, n_threads)
    else:
        with nogil:
            _sigmoid_bernoulli(rows, cols, <double*> p_prob, <const double*> p_bias,
                               <double*> p_sample, <const double*> p_unif, pass_key, n_threads)


def sigmoid_affine(x, W, bias, bint trans_w, out, int n_threads):
    """out = sigmoid(x @ op(W) + bias), op(W) = W.T when ``trans_w``."""
    cdef Py_ssize_t m = x.shape[0], k = x.shape[1], n = out.shape[1]
    cdef void* p_x = _ptr(x)
    cdef void* p_w = _ptr(W)
    cdef void* p_bias = _ptr(bias)
    cdef void* p_out = _ptr(out)
    if x.dtype.itemsize == 4:
        with nogil:
            _sigmoid_affine(m, k, n, trans_w, <const float*> p_x, <const float*> p_w,
                            <const float*> p_bias, <float*> p_out, n_threads)
    else:
        with nogil:
            _sigmoid_affine(m, k, n, trans_w, <const double*> p_x, <const double*> p_w,
                            <const double*> p_bias, <double*> p_out, n_threads)


def free_energy(v, W, b_vis, b_hid, pre, out, int n_threads):
    """Free energy of each row of ``v`` into ``out`` (float64); ``pre`` is scratch (n, nh)."""
    cdef Py_ssize_t n = v.shape[0], nv = v.shape[1], nh = W.shape[0]
    cdef void* p_v = _ptr(v)
    cdef void* p_w = _ptr(W)
    cdef void* p_bv = _ptr(b_vis)
    cdef void* p_bh = _ptr(b_hid)
    cdef void* p_pre = _ptr(pre)
    cdef double* p_out = <double*> _ptr(out)
    if v.dtype.itemsize == 4:
        with nogil:
            _free_energy(n, nv, nh, <const float*> p_v, <const float*> p_w,
                         <const float*> p_bv, <const float*> p_bh, <float*> p_pre, p_out,
                         n_threads)
    else:
        with nogil:
            _free_energy(n, nv, nh, <const double*> p_v, <const double*> p_w,
                         <const double*> p_bv, <const double*> p_bh, <double*> p_pre, p_out,
                         n_threads)


def gibbs(v, W, b_vis, b_hid, int steps, uniform_hid, uniform_vis, uint64_t seed,
          H, Hs, P, out, int n_threads):
    """Block Gibbs sampling; see RBMOps.rbm_gibbs.  ``H`` and ``Hs`` are scratch (n, nh)."""
    cdef Py_ssize_t n = v.shape[0], nv = v.shape[1], nh = W.shape[0]
    cdef void* p_v = _ptr(v)
    cdef void* p_w = _ptr(W)
    cdef void* p_bv = _ptr(b_vis)
    cdef void* p_bh = _ptr(b_hid)
    cdef void* p_h = _ptr(H)
    cdef void* p_hs = _ptr(Hs)
    cdef void* p_p = _ptr(P)
    cdef void* p_out = _ptr(out)
    cdef void* p_uh = _ptr(uniform_hid)
    cdef void* p_uv = _ptr(uniform_vis)
    if v.dtype.itemsize == 4:
        with nogil:
            _gibbs(n, nv, nh, steps, <const float*> p_v, <const float*> p_w,
                   <const float*> p_bv, <const float*> p_bh, <float*> p_h, <float*> p_hs,
                   <float*> p_p, <float*> p_out, <const float*> p_uh, <const float*> p_uv,
                   seed, n_threads)
    else:
        with nogil:
            _gibbs(n, nv, nh, steps, <const double*> p_v, <const double*> p_w,
                   <const double*> p_bv, <const double*> p_bh, <double*> p_h, <double*> p_hs,
                   <double*> p_p, <double*> p_out, <const double*> p_uh, <const double*> p_uv,
                   seed, n_threads)
