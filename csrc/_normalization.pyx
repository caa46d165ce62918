"""Batch normalisation in compiled code (kernels in ``_normalization.pxd``), and its network node.

The functions are behind :mod:`nnfast.backend.cpu_normalization`, which has
checked the arrays; the node is made by its node maker.
"""
from cython cimport floating

from libc.math cimport sqrt

cimport numpy as cnp
import numpy as np

cimport _normalization as k
from _parallel cimport elementwise_threads, thread_plan
from nnfast._network cimport Node, address

cnp.import_array()


def work_size(Py_ssize_t m, Py_ssize_t c):
    """Doubles of work space the kernels need for an (m, c) matrix."""
    return k.work_size(m, c)


cdef inline floating* maybe(floating[::1] a) noexcept:
    return NULL if a is None else &a[0]


def batch_norm_train(const floating[:, ::1] x,     # IN  (m, c)
                     const floating[::1] gamma,    # IN  (c,)
                     const floating[::1] beta,     # IN  (c,)
                     double epsilon, double momentum,
                     floating[::1] moving_mean,    # IN/OUT (c,)
                     floating[::1] moving_variance,  # IN/OUT (c,)
                     floating[::1] mean,           # OUT (c,)
                     floating[::1] invstd,         # OUT (c,)
                     floating[:, ::1] out,         # OUT (m, c), may be x
                     double[::1] work,             # scratch, work_size(m, c)
                     int num_threads):
    """Normalise by the batch statistics; update the moving ones in place."""
    with nogil:
        k.batch_norm_train(&x[0, 0], &gamma[0], &beta[0], epsilon, momentum, &moving_mean[0],
                           &moving_variance[0], &mean[0], &invstd[0], &out[0, 0], x.shape[0],
                           x.shape[1], &work[0], num_threads)


def batch_norm_inference(const floating[:, ::1] x,          # IN  (m, c)
                         const floating[::1] gamma,         # IN  (c,)
                         const floating[::1] beta,          # IN  (c,)
                         const floating[::1] moving_mean,   # IN  (c,)
                         const floating[::1] moving_variance,  # IN  (c,)
                         double epsilon,
                         floating[:, ::1] out,              # OUT (m, c), may be x
                         double[::1] work,                  # scratch, work_size(m, c)
                         int num_threads):
    """Normalise by the moving statistics."""
    with nogil:
        k.batch_norm_inference(&x[0, 0], &gamma[0], &beta[0], &moving_mean[0],
                               &moving_variance[0], epsilon, &out[0, 0], x.shape[0], x.shape[1],
                               &work[0], num_threads)


def batch_norm_backward(const floating[:, ::1] dy,   # IN  (m, c)
                        const floating[:, ::1] x,    # IN  (m, c)
                        const floating[::1] gamma,   # IN  (c,)
                        const floating[::1] mean,    # IN  (c,)
                        const floating[::1] invstd,  # IN  (c,)
                        floating[::1] dgamma,        # OUT (c,) or None
                        floating[::1] dbeta,         # OUT (c,) or None
                        floating[:, ::1] dx,         # OUT (m, c) or None
                        bint batch_stats,
                        double[::1] work,            # scratch, work_size(m, c)
                        int num_threads):
    """Gradients of the normalisation by ``mean`` and ``invstd`` (see ``_normalization.pxd``).

    ``batch_stats`` False: ``mean`` and ``invstd`` were constants (the moving
    statistics), ``dx = dy * gamma * invstd``.
    """
    cdef floating* dgamma_ptr = maybe(dgamma)
    cdef floating* dbeta_ptr = maybe(dbeta)
    cdef floating* dx_ptr = NULL if dx is None else &dx[0, 0]
    with nogil:
        k.batch_norm_backward(&dy[0, 0], &x[0, 0], &gamma[0], &mean[0], &invstd[0], dgamma_ptr,
                              dbeta_ptr, dx_ptr, batch_stats, x.shape[0], x.shape[1], &work[0],
                              num_threads)


# --------------------------------------------------------------------- node
cdef class BatchNormNode(Node):
    """Batch normalisation of rows of ``channels`` values (the last axis of each sample).

    While training with ``use_batch_stats``, each batch is normalised by its
    own statistics and the moving statistics are updated in place; otherwise
    (inference, or a frozen layer) by the moving statistics, and the backward
    pass is the per-channel affine map's.

    Parameters
    ----------
    size : int
        Values per sample (a multiple of the channels).
    gamma, beta, moving_mean, moving_variance : ndarray of shape (channels,)
    dgamma, dbeta : ndarray of shape (channels,) or None
        Where the gradients go; None when not wanted (a frozen layer).
    momentum, epsilon : float
    use_batch_stats : bool
    """
    cdef Py_ssize_t c
    cdef char* gamma
    cdef char* beta
    cdef char* dgamma
    cdef char* dbeta
    cdef char* moving_mean
    cdef char* moving_variance
    cdef double momentum, epsilon
    cdef bint use_batch_stats
    cdef bint batch_mode  # the last forward pass used the batch's statistics
    cdef object mean, invstd, work

    def __init__(self, Py_ssize_t size, cnp.ndarray gamma, cnp.ndarray beta, dgamma, dbeta,
                 cnp.ndarray moving_mean, cnp.ndarray moving_variance, double momentum,
                 double epsilon, bint use_batch_stats):
        self.keep = [gamma, beta, dgamma, dbeta, moving_mean, moving_variance]
        self.gamma, self.beta = address(gamma), address(beta)
        self.dgamma, self.dbeta = address(dgamma), address(dbeta)
        self.moving_mean, self.moving_variance = address(moving_mean), address(moving_variance)
        self.c = gamma.shape[0]
        self.in_size = self.out_size = size
        self.itemsize = gamma.itemsize
        self.momentum, self.epsilon = momentum, epsilon
        self.use_batch_stats = use_batch_stats
        self.batch_mode = False
        self.mean = np.empty(self.c, gamma.dtype)
        self.invstd = np.empty(self.c, gamma.dtype)
        self.work = None

    cdef double* _work(self, Py_ssize_t m):
        cdef Py_ssize_t size = k.work_size(m, self.c)
        if self.work is None or self.work.shape[0] < size:
            self.work = np.empty(size, np.float64)
        return <double*> address(self.work)

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef Py_ssize_t m = n * self.in_size // self.c
        cdef int t = elementwise_threads(plan, n * self.in_size)
        cdef double* work = self._work(m)
        self.batch_mode = training and self.use_batch_stats
        if self.batch_mode:
            if self.itemsize == 4:
                self._train(<const float*> x, <float*> y, m, work, t)
            else:
                self._train(<const double*> x, <double*> y, m, work, t)
        elif self.itemsize == 4:
            self._moving(<const float*> x, <float*> y, m, t)
        else:
            self._moving(<const double*> x, <double*> y, m, t)
        return 0

    cdef void _train(self, const floating* x, floating* y, Py_ssize_t m, double* work,
                     int t) noexcept:
        cdef floating* mean = <floating*> address(self.mean)
        cdef floating* invstd = <floating*> address(self.invstd)
        with nogil:
            k.batch_norm_train(x, <const floating*> self.gamma, <const floating*> self.beta,
                               self.epsilon, self.momentum, <floating*> self.moving_mean,
                               <floating*> self.moving_variance, mean, invstd, y, m, self.c,
                               work, t)

    cdef void _moving(self, const floating* x, floating* y, Py_ssize_t m, int t) noexcept:
        # The moving statistics stand in for the batch's: mean and invstd
        # keep them for the backward pass (they do not change before it).
        cdef floating* mean = <floating*> address(self.mean)
        cdef floating* invstd = <floating*> address(self.invstd)
        cdef floating* scale = <floating*> address(self.work)
        cdef const floating* gamma = <const floating*> self.gamma
        cdef const floating* moving_mean = <const floating*> self.moving_mean
        cdef const floating* moving_variance = <const floating*> self.moving_variance
        cdef Py_ssize_t ch
        with nogil:
            for ch in range(self.c):
                mean[ch] = moving_mean[ch]
                invstd[ch] = <floating> (1.0 / sqrt(<double> moving_variance[ch]
                                                      + self.epsilon))
                scale[ch] = <floating> (gamma[ch] / sqrt(<double> moving_variance[ch]
                                                           + self.epsilon))
            k.normalise(x, y, mean, scale, <const floating*> self.beta, m, self.c, t)

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef Py_ssize_t m = n * self.in_size // self.c
        cdef int t = elementwise_threads(plan, n * self.in_size)
        cdef double* work = self._work(m)
        cdef char* mean = address(self.mean)
        cdef char* invstd = address(self.invstd)
        if dx == NULL and self.dgamma == NULL and self.dbeta == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                k.batch_norm_backward(<const float*> dy, <const float*> x,
                                      <const float*> self.gamma, <const float*> mean,
                                      <const float*> invstd, <float*> self.dgamma,
                                      <float*> self.dbeta, <float*> dx, self.batch_mode, m,
                                      self.c, work, t)
            else:
                k.batch_norm_backward(<const double*> dy, <const double*> x,
                                      <const double*> self.gamma, <const double*> mean,
                                      <const double*> invstd, <double*> self.dgamma,
                                      <double*> self.dbeta, <double*> dx, self.batch_mode, m,
                                      self.c, work, t)
        return 0
