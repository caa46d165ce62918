"""Gaussian input noise in compiled code (kernels in ``_noise.pxd``), and its network node.

Masking noise is dropout without the rescaling (``_dropout``, and
``nnfast._network.DropoutNode``).

The functions are behind :mod:`nnfast.backend.cpu_noise`, which has checked
the arrays; the nodes are made by its node makers, which have checked the
settings.
"""
from cython cimport floating
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cimport numpy as cnp

cimport _noise as k
from _noise cimport nnf_ziggurat_init
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
