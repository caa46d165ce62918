"""Activity penalties and the Gaussian sampler in compiled code (kernels in ``_latent.pxd``), and their network nodes.

The functions are behind :mod:`nnfast.backend.cpu_latent`, which has checked
the arrays; the nodes are made by its node makers, which have checked the
settings.
"""
from cython cimport floating
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cimport numpy as cnp
import numpy as np

cimport _latent as k
from _noise cimport nnf_ziggurat_init
from _parallel cimport elementwise_threads, thread_plan
from nnfast._network cimport Node, address

cnp.import_array()
nnf_ziggurat_init()


def activity_penalty(const floating[:, ::1] h,  # IN  (n, m)
                     double l1, double kl, double target,
                     double[::1] mean):         # OUT (m,), the clipped column means
    """``l1 * sum|h| / n + kl * sum_j KL(target || mean_j)``."""
    cdef double value
    with nogil:
        value = k.activity_penalty(&h[0, 0], h.shape[0], h.shape[1], l1, kl, target, &mean[0])
    return value


def backprop_activity_penalty(const floating[:, ::1] dy,  # IN  (n, m)
                              const floating[:, ::1] h,   # IN  (n, m)
                              const double[::1] mean,     # IN  (m,)
                              floating[:, ::1] dx,        # OUT (n, m), may be dy
                              double l1, double kl, double target, double scale,
                              int num_threads):
    """``dx = dy + scale * d(penalty)/dh``."""
    cdef double[::1] column = np.empty(h.shape[1])
    with nogil:
        k.backprop_activity_penalty(&dy[0, 0], &h[0, 0], &mean[0], &dx[0, 0], h.shape[0],
                                    h.shape[1], l1, kl, target, scale, &column[0], num_threads)


def gaussian_sample(const floating[:, ::1] x,  # IN  (n, 2m): [mu, log_var]
                    floating[:, ::1] z,        # OUT (n, m)
                    floating[:, ::1] eps,      # OUT (n, m)
                    uint64_t key, uint64_t draw):
    """``z = mu + exp(log_var / 2) * eps``, ``eps`` standard normals of the stream ``(key, draw)``."""
    with nogil:
        k.gaussian_sample(&x[0, 0], &z[0, 0], &eps[0, 0], z.shape[0], z.shape[1], key, draw)


def gaussian_mean(const floating[:, ::1] x,  # IN  (n, 2m)
                  floating[:, ::1] z):       # OUT (n, m)
    """``z = mu``."""
    with nogil:
        k.gaussian_mean(&x[0, 0], &z[0, 0], z.shape[0], z.shape[1])


def gaussian_kl(const floating[:, ::1] x):  # IN  (n, 2m)
    """``KL(N(mu, exp(log_var)) || N(0, 1))`` summed over dimensions, averaged over rows."""
    cdef double value
    with nogil:
        value = k.gaussian_kl(&x[0, 0], x.shape[0], x.shape[1] // 2)
    return value


def backprop_gaussian_sample(const floating[:, ::1] dz,  # IN  (n, m)
                             const floating[:, ::1] x,   # IN  (n, 2m)
                             eps,                        # IN  (n, m) or None
                             floating[:, ::1] dx,        # OUT (n, 2m)
                             double scale):
    """``dx``: the gradient through ``z`` plus ``scale`` times the KL term's."""
    cdef const floating[:, ::1] e
    cdef const floating* e_ptr = NULL
    if eps is not None:
        e = eps
        e_ptr = &e[0, 0]
    with nogil:
        k.backprop_gaussian_sample(&dz[0, 0], &x[0, 0], e_ptr, &dx[0, 0], dz.shape[0],
                                   dz.shape[1], scale)


# --------------------------------------------------------------------- nodes
cdef class PenaltyNode(Node):
    """A node that adds a penalty to the objective.

    ``io`` is the layer's float64 array (3,): ``io[0]`` the penalty's
    coefficient in the objective (the layer keeps it current), ``io[1]``
    where the node writes the value of each forward pass, ``io[2]`` set to
    0 to tell the layer that this value is the newest.
    """
    cdef double* io

    cdef void _report(self, double value) noexcept:
        self.io[1] = value
        self.io[2] = 0
        self.penalty = self.io[0] * value


cdef class ActivityNode(PenaltyNode):
    """The identity, with an L1 and/or KL penalty on the activity.

    Parameters
    ----------
    size : int
        Values per sample.
    l1, kl, target : float
    io : ndarray of shape (3,), float64
    itemsize : int
    """
    cdef double l1, kl, target
    cdef object mean, column

    def __init__(self, Py_ssize_t size, double l1, double kl, double target, cnp.ndarray io,
                 int itemsize):
        self.in_size = self.out_size = size
        self.l1, self.kl, self.target, self.itemsize = l1, kl, target, itemsize
        self.keep = [io]
        self.io = <double*> cnp.PyArray_DATA(io)
        self.mean = np.zeros(size)
        self.column = np.zeros(size)

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef double value
        cdef double* mean = <double*> address(self.mean)
        memcpy(y, x, n * self.out_size * self.itemsize)
        with nogil:
            if self.itemsize == 4:
                value = k.activity_penalty(<const float*> x, n, self.out_size, self.l1, self.kl,
                                           self.target, mean)
            else:
                value = k.activity_penalty(<const double*> x, n, self.out_size, self.l1,
                                           self.kl, self.target, mean)
        self._report(value)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef int t = elementwise_threads(plan, n * self.out_size)
        cdef double* mean = <double*> address(self.mean)
        cdef double* column = <double*> address(self.column)
        cdef double scale = self.io[0]
        if dx == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                k.backprop_activity_penalty(<const float*> dy, <const float*> x, mean,
                                            <float*> dx, n, self.out_size, self.l1, self.kl,
                                            self.target, scale, column, t)
            else:
                k.backprop_activity_penalty(<const double*> dy, <const double*> x, mean,
                                            <double*> dx, n, self.out_size, self.l1, self.kl,
                                            self.target, scale, column, t)
        return 0


cdef class SamplerNode(PenaltyNode):
    """``[mu, log_var]`` (2m values) to ``z`` (m): sampled while training, ``mu`` otherwise.

    Its penalty is the KL divergence from the standard normal, computed in
    both modes.

    Parameters
    ----------
    m : int
        The latent width.
    seed : int
    draws : ndarray of shape (1,), uint64
        The layer's count of draws (see ``GaussianNoiseNode``).
    io : ndarray of shape (3,), float64
    itemsize : int
    """
    cdef uint64_t seed
    cdef uint64_t* draws
    cdef object eps
    cdef bint sampled

    def __init__(self, Py_ssize_t m, uint64_t seed, cnp.ndarray draws, cnp.ndarray io,
                 int itemsize):
        self.in_size, self.out_size = 2 * m, m
        self.seed, self.itemsize = seed, itemsize
        self.keep = [draws, io]
        self.draws = <uint64_t*> cnp.PyArray_DATA(draws)
        self.io = <double*> cnp.PyArray_DATA(io)
        self.eps = None
        self.sampled = False

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef double value
        cdef Py_ssize_t m = self.out_size
        cdef char* eps
        if training:
            if self.eps is None or self.eps.shape[0] < n * m:
                self.eps = np.empty(n * m, np.float32 if self.itemsize == 4 else np.float64)
            eps = address(self.eps)
        with nogil:
            if self.itemsize == 4:
                if training:
                    k.gaussian_sample(<const float*> x, <float*> y, <float*> eps, n, m,
                                      self.seed, self.draws[0])
                else:
                    k.gaussian_mean(<const float*> x, <float*> y, n, m)
                value = k.gaussian_kl(<const float*> x, n, m)
            else:
                if training:
                    k.gaussian_sample(<const double*> x, <double*> y, <double*> eps, n, m,
                                      self.seed, self.draws[0])
                else:
                    k.gaussian_mean(<const double*> x, <double*> y, n, m)
                value = k.gaussian_kl(<const double*> x, n, m)
        if training:
            self.draws[0] += 1
        self.sampled = training
        self._report(value)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef char* eps = address(self.eps) if self.sampled else NULL
        cdef double scale = self.io[0]
        if dx == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                k.backprop_gaussian_sample(<const float*> dy, <const float*> x,
                                           <const float*> eps, <float*> dx, n, self.out_size,
                                           scale)
            else:
                k.backprop_gaussian_sample(<const double*> dy, <const double*> x,
                                           <const double*> eps, <double*> dx, n,
                                           self.out_size, scale)
        return 0
