"""Pooling of NHWC images in compiled code (kernels in ``_pooling.pxd``), and its network nodes.

The functions are behind :mod:`nnfast.backend.cpu_pooling`, which has
checked the arrays; the nodes are made by its node makers, which have
checked the settings.
"""
from cython cimport floating
from libc.stdint cimport int32_t

cimport numpy as cnp
import numpy as np

cimport _pooling as k
from _parallel cimport elementwise_threads, thread_plan
from nnfast._network cimport Node, address

cnp.import_array()


def max_pool2d(const floating[:, :, :, ::1] x,  # IN  (n, h, w, c)
               floating[:, :, :, ::1] out,      # OUT (n, ho, wo, c)
               int32_t[:, :, :, ::1] argmax,    # OUT (n, ho, wo, c)
               int ph, int pw, int sh, int sw, int num_threads):
    """Each window's maximum into ``out``, its index within the sample into ``argmax``."""
    with nogil:
        k.max_pool2d(&x[0, 0, 0, 0], &out[0, 0, 0, 0], &argmax[0, 0, 0, 0], x.shape[0],
                     x.shape[1], x.shape[2], x.shape[3], ph, pw, sh, sw, num_threads)


def max_pool2d_backward(const floating[:, ::1] dy,    # IN  (n, out_size)
                        const int32_t[:, ::1] argmax,  # IN  (n, out_size), in [0, in_size)
                        floating[:, ::1] dx,          # OUT (n, in_size)
                        int num_threads):
    """``dx``: zero but for ``dy`` added at each sample's ``argmax`` indices."""
    with nogil:
        k.max_pool2d_backward(&dy[0, 0], &argmax[0, 0], &dx[0, 0], dy.shape[0], dx.shape[1],
                              dy.shape[1], num_threads)


def avg_pool2d(const floating[:, :, :, ::1] x,  # IN  (n, h, w, c)
               floating[:, :, :, ::1] out,      # OUT (n, ho, wo, c)
               int ph, int pw, int sh, int sw, int num_threads):
    """Each window's mean into ``out``."""
    with nogil:
        k.avg_pool2d(&x[0, 0, 0, 0], &out[0, 0, 0, 0], x.shape[0], x.shape[1], x.shape[2],
                     x.shape[3], ph, pw, sh, sw, num_threads)


def avg_pool2d_backward(const floating[:, :, :, ::1] dy,  # IN  (n, ho, wo, c)
                        floating[:, :, :, ::1] dx,        # OUT (n, h, w, c)
                        int ph, int pw, int sh, int sw, int num_threads):
    """``dx``: each window's ``dy / (ph * pw)`` added over the window."""
    with nogil:
        k.avg_pool2d_backward(&dy[0, 0, 0, 0], &dx[0, 0, 0, 0], dx.shape[0], dx.shape[1],
                              dx.shape[2], dx.shape[3], ph, pw, sh, sw, num_threads)


def global_avg_pool2d(const floating[:, :, ::1] x,  # IN  (n, h * w, c)
                      floating[:, ::1] out,         # OUT (n, c)
                      int num_threads):
    """The mean of each image, per channel, into ``out``."""
    with nogil:
        k.global_avg_pool2d(&x[0, 0, 0], &out[0, 0], x.shape[0], x.shape[1], x.shape[2],
                            num_threads)


def global_avg_pool2d_backward(const floating[:, ::1] dy,  # IN  (n, c)
                               floating[:, :, ::1] dx,     # OUT (n, h * w, c)
                               int num_threads):
    """``dx``: ``dy / (h * w)`` at every pixel."""
    with nogil:
        k.global_avg_pool2d_backward(&dy[0, 0], &dx[0, 0, 0], dx.shape[0], dx.shape[1],
                                     dx.shape[2], num_threads)


# --------------------------------------------------------------------- nodes
cdef class MaxPoolNode(Node):
    """Max pooling: the forward pass records each maximum's index, the backward pass scatters.

    Parameters
    ----------
    h, w, c : int
        Shape of one input image.
    ph, pw, sh, sw : int
        Window and strides (checked: at least 1, the window inside the image).
    itemsize : int
        4 (float32) or 8 (float64).
    """
    cdef Py_ssize_t h, w, c
    cdef int ph, pw, sh, sw
    cdef object argmax  # int32, grown to the largest batch

    def __init__(self, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, int ph, int pw, int sh, int sw,
                 int itemsize):
        self.h, self.w, self.c = h, w, c
        self.ph, self.pw, self.sh, self.sw = ph, pw, sh, sw
        self.in_size = h * w * c
        self.out_size = ((h - ph) // sh + 1) * ((w - pw) // sw + 1) * c
        self.itemsize = itemsize
        self.argmax = None

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef int t = elementwise_threads(plan, n * self.in_size)
        cdef int32_t* arg
        if self.argmax is None or self.argmax.shape[0] < n * self.out_size:
            self.argmax = np.empty(n * self.out_size, np.int32)
        arg = <int32_t*> address(self.argmax)
        with nogil:
            if self.itemsize == 4:
                k.max_pool2d(<const float*> x, <float*> y, arg, n, self.h, self.w, self.c,
                             self.ph, self.pw, self.sh, self.sw, t)
            else:
                k.max_pool2d(<const double*> x, <double*> y, arg, n, self.h, self.w, self.c,
                             self.ph, self.pw, self.sh, self.sw, t)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef int t = elementwise_threads(plan, n * self.in_size)
        cdef const int32_t* arg = <const int32_t*> address(self.argmax)
        if dx == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                k.max_pool2d_backward(<const float*> dy, arg, <float*> dx, n, self.in_size,
                                      self.out_size, t)
            else:
                k.max_pool2d_backward(<const double*> dy, arg, <double*> dx, n, self.in_size,
                                      self.out_size, t)
        return 0


cdef class AvgPoolNode(Node):
    """Average pooling over windows of ``ph`` by ``pw`` at strides ``sh``, ``sw``.

    Parameters as :class:`MaxPoolNode`.
    """
    cdef Py_ssize_t h, w, c
    cdef int ph, pw, sh, sw

    def __init__(self, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, int ph, int pw, int sh, int sw,
                 int itemsize):
        self.h, self.w, self.c = h, w, c
        self.ph, self.pw, self.sh, self.sw = ph, pw, sh, sw
        self.in_size = h * w * c
        self.out_size = ((h - ph) // sh + 1) * ((w - pw) // sw + 1) * c
        self.itemsize = itemsize

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef int t = elementwise_threads(plan, n * self.in_size)
        with nogil:
            if self.itemsize == 4:
                k.avg_pool2d(<const float*> x, <float*> y, n, self.h, self.w, self.c, self.ph,
                             self.pw, self.sh, self.sw, t)
            else:
                k.avg_pool2d(<const double*> x, <double*> y, n, self.h, self.w, self.c, self.ph,
                             self.pw, self.sh, self.sw, t)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef int t = elementwise_threads(plan, n * self.in_size)
        if dx == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                k.avg_pool2d_backward(<const float*> dy, <float*> dx, n, self.h, self.w, self.c,
                                      self.ph, self.pw, self.sh, self.sw, t)
            else:
                k.avg_pool2d_backward(<const double*> dy, <double*> dx, n, self.h, self.w,
                                      self.c, self.ph, self.pw, self.sh, self.sw, t)
        return 0


cdef class GlobalAvgPoolNode(Node):
    """The mean of each image per channel: ``hw`` pixels of ``c`` channels to ``c`` values."""
    cdef Py_ssize_t hw, c

    def __init__(self, Py_ssize_t hw, Py_ssize_t c, int itemsize):
        self.hw, self.c = hw, c
        self.in_size, self.out_size = hw * c, c
        self.itemsize = itemsize

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef int t = elementwise_threads(plan, n * self.in_size)
        with nogil:
            if self.itemsize == 4:
                k.global_avg_pool2d(<const float*> x, <float*> y, n, self.hw, self.c, t)
            else:
                k.global_avg_pool2d(<const double*> x, <double*> y, n, self.hw, self.c, t)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef int t = elementwise_threads(plan, n * self.in_size)
        if dx == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                k.global_avg_pool2d_backward(<const float*> dy, <float*> dx, n, self.hw, self.c,
                                             t)
            else:
                k.global_avg_pool2d_backward(<const double*> dy, <double*> dx, n, self.hw,
                                             self.c, t)
        return 0
