"""Input noise in compiled code (kernels in ``_noise.pxd``), and its network nodes.

The functions are behind :mod:`nnfast.backend.cpu_noise`, which has checked
the arrays; the nodes are made by its node makers, which have checked the
settings.
"""
from cython cimport floating
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cimport numpy as cnp
import numpy as np

cimport _noise as k
from _noise cimport nnf_ziggurat_init
from _dropout cimport multiply
from _parallel cimport elementwise_threads, thread_plan
from _simd cimport nnf_simd_attach
from nnfast._network cimport Node, address

cnp.import_array()
nnf_simd_attach()
nnf_ziggurat_init()


def gaussian_noise(const floating[::1] x,  # IN  (size,)
                   floating[::1] out,      # OUT (size,), may be x
                   double stddev, uint64_t key, uint64_t draw, int num_threads):
    """``out = x + stddev * e``, ``e`` standard normals of the stream ``(key, draw)``."""
    with nogil:
        k.gaussian_noise(&x[0], &out[0], x.shape[0], stddev, key, draw, num_threads)


def masking_noise(const floating[::1] x,  # IN  (size,)
                  floating[::1] out,      # OUT (size,), may be x
                  floating[::1] mask,     # OUT (size,)
                  double rate, uint64_t key, uint64_t draw, int num_threads):
    """``mask`` 0 with probability ``rate``, else 1, from the stream ``(key, draw)``; ``out = x * mask``."""
    with nogil:
        k.masking_noise(&x[0], &out[0], &mask[0], x.shape[0], rate, key, draw, num_threads)


def normals(floating[::1] out,  # OUT (size,)
            uint64_t key, uint64_t draw):
    """``out``: standard normals of the stream ``(key, draw)``."""
    with nogil:
        k.normals(&out[0], out.shape[0], key, draw)


# --------------------------------------------------------------------- nodes
cdef class GaussianNoiseNode(Node):
    """Gaussian noise added while training, the identity otherwise; the gradient passes unchanged.

    Parameters
    ----------
    size : int
    stddev : float
    seed : int
    draws : ndarray of shape (1,), uint64
        The layer's count of draws, shared with it (and so saved with the
        model); each training pass takes the next draw.
    itemsize : int
    """
    cdef double stddev
    cdef uint64_t seed
    cdef uint64_t* draws

    def __init__(self, Py_ssize_t size, double stddev, uint64_t seed, cnp.ndarray draws,
                 int itemsize):
        self.in_size = self.out_size = size
        self.stddev, self.seed, self.itemsize = stddev, seed, itemsize
        self.keep = [draws]
        self.draws = <uint64_t*> cnp.PyArray_DATA(draws)

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef Py_ssize_t size = n * self.out_size
        cdef int t = elementwise_threads(plan, size)
        if not training or self.stddev == 0:
            memcpy(y, x, size * self.itemsize)
            return 0
        with nogil:
            if self.itemsize == 4:
                k.gaussian_noise(<const float*> x, <float*> y, size, self.stddev, self.seed,
                                 self.draws[0], t)
            else:
                k.gaussian_noise(<const double*> x, <double*> y, size, self.stddev, self.seed,
                                 self.draws[0], t)
        self.draws[0] += 1
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        if dx != NULL:
            memcpy(dx, dy, n * self.out_size * self.itemsize)
        return 0


cdef class MaskingNoiseNode(Node):
    """Masking noise while training (values set to 0 with probability ``rate``), the identity otherwise.

    Parameters as :class:`GaussianNoiseNode`, with ``rate`` for ``stddev``.
    """
    cdef double rate
    cdef uint64_t seed
    cdef uint64_t* draws
    cdef object mask

    def __init__(self, Py_ssize_t size, double rate, uint64_t seed, cnp.ndarray draws,
                 int itemsize):
        self.in_size = self.out_size = size
        self.rate, self.seed, self.itemsize = rate, seed, itemsize
        self.keep = [draws]
        self.draws = <uint64_t*> cnp.PyArray_DATA(draws)
        self.mask = None

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef Py_ssize_t size = n * self.out_size
        cdef int t = elementwise_threads(plan, size)
        cdef char* mask
        if not training or self.rate == 0:
            memcpy(y, x, size * self.itemsize)
            return 0
        if self.mask is None or self.mask.shape[0] < size:
            self.mask = np.empty(size, np.float32 if self.itemsize == 4 else np.float64)
        mask = address(self.mask)
        with nogil:
            if self.itemsize == 4:
                k.masking_noise(<const float*> x, <float*> y, <float*> mask, size, self.rate,
                                self.seed, self.draws[0], t)
            else:
                k.masking_noise(<const double*> x, <double*> y, <double*> mask, size, self.rate,
                                self.seed, self.draws[0], t)
        self.draws[0] += 1
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef Py_ssize_t size = n * self.out_size
        cdef int t = elementwise_threads(plan, size)
        cdef char* mask = address(self.mask)
        if dx == NULL:
            return 0
        if self.rate == 0:
            memcpy(dx, dy, size * self.itemsize)
            return 0
        with nogil:
            if self.itemsize == 4:
                multiply(<const float*> dy, <const float*> mask, <float*> dx, size, t)
            else:
                multiply(<const double*> dy, <const double*> mask, <double*> dx, size, t)
        return 0
