"""2-D convolution over channels-last images (kernels in ``_conv.pxd``).

3x3 kernels of stride 1 over several channels run by Winograd F(4x4, 3x3),
or F(2x2, 3x3) where the output is smaller than 4x4, the others by im2col;
:func:`uses_winograd` says which a shape takes, and :func:`set_winograd`
can choose the tile or send every shape through im2col (for comparisons).

A one-channel convolution of stride 1 followed by 2x2 max pooling of stride
2 (the first two layers of the course's CNNs) also runs as one layer,
:class:`ConvPoolNode`, by the kernels ``conv_pool`` and ``conv_pool_grad``
of ``csrc/nnf_simd_kernels.h``: :func:`conv_pool2d` and
:func:`conv_pool2d_backward` run them on whole arrays.

The functions are behind :mod:`nnfast.backend.cpu_conv`, which has checked
that the arrays are C-contiguous numpy arrays of one floating dtype, that
their shapes agree with the strides and padding given, and that none is
empty.  :class:`ConvNode` is a convolution layer with its bias and
activation in the compiled network (``nnfast._network``); its maker in
``cpu_conv`` checks its arrays.  The work runs without the GIL;
``num_threads`` > 1 shares it out among OpenMP threads, each making its own
single-threaded BLAS calls (the caller holds BLAS at one thread meanwhile).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint8_t
from libc.string cimport memset

cimport numpy as cnp
import numpy as np

from nnfast._network cimport Node, address
from _activations cimport ACT_IDENTITY
from _parallel cimport product_threads, thread_plan
from _simd cimport nnf_simd, nnf_simd_attach
cimport _conv as k

cnp.import_array()
# The activations' exponential and tanh run the kernels of nnfast._simd.
nnf_simd_attach()

# The Winograd output tile that convolutions which fit it take (set_winograd):
# AUTO for the choice of k.winograd_tile, else 0 (im2col), 2 or 4.
cdef enum:
    AUTO = -1
cdef Py_ssize_t winograd_setting = AUTO


def set_winograd(tile="auto"):
    """Choose the Winograd scheme of the convolutions that fit it, or send all through im2col.

    For comparisons in tests and benchmarks: the choice holds for every call
    of :func:`conv2d` and :func:`conv2d_backward` after it, and for every
    :class:`ConvNode` made after it.

    Parameters
    ----------
    tile : {"auto", 4, 2, 0}
        The output tile: "auto" (the default) takes F(4x4, 3x3) where the
        output is at least 4x4 and F(2x2, 3x3) where it is smaller; 4 or 2
        force F(4x4, 3x3) or F(2x2, 3x3) where the shape fits Winograd at
        all (3x3, stride 1, several channels, at least 2x2 out); 0 sends
        every shape through im2col.

    Returns
    -------
    str or int
        The setting before.
    """
    global winograd_setting
    before = "auto" if winograd_setting == AUTO else winograd_setting
    if isinstance(tile, str) and tile == "auto":
        winograd_setting = AUTO
    elif not isinstance(tile, str) and tile in (0, 2, 4):
        winograd_setting = tile
    else:
        raise ValueError(f"tile must be 'auto', 4, 2 or 0, got {tile!r}")
    return before


cdef k.conv_geom geometry(const Py_ssize_t* x_shape, const Py_ssize_t* kernel_shape,
                          Py_ssize_t ho, Py_ssize_t wo, Py_ssize_t sh, Py_ssize_t sw,
                          Py_ssize_t top, Py_ssize_t left) noexcept:
    cdef k.conv_geom g
    k.set_geom(&g, x_shape[0], x_shape[1], x_shape[2], x_shape[3], kernel_shape[0],
               kernel_shape[1], kernel_shape[3], ho, wo, sh, sw, top, left)
    g.wino = k.winograd_tile(&g)
    if g.wino and winograd_setting != AUTO:
        g.wino = winograd_setting
    return g


cdef k.conv_geom shape_geometry(tuple x_shape, tuple kernel_shape, Py_ssize_t ho, Py_ssize_t wo,
                                tuple strides):
    cdef Py_ssize_t xs[4]
    cdef Py_ssize_t ks[4]
    xs[0], xs[1], xs[2], xs[3] = x_shape
    ks[0], ks[1], ks[2], ks[3] = kernel_shape
    return geometry(xs, ks, ho, wo, strides[0], strides[1], 0, 0)


def scratch_elements(tuple x_shape, tuple kernel_shape, Py_ssize_t ho, Py_ssize_t wo,
                     tuple strides, Py_ssize_t itemsize, int num_threads):
    """Elements of the scratch array that :func:`conv2d` and :func:`conv2d_backward` need.

    Parameters
    ----------
    x_shape, kernel_shape : tuple of 4 int
        ``(n, h, w, c)`` and ``(kh, kw, c, f)``.
    ho, wo : int
        The output's height and width.
    strides : tuple of 2 int
    itemsize : int
        Bytes per value (4 or 8).
    num_threads : int
    """
    cdef k.conv_geom g = shape_geometry(x_shape, kernel_shape, ho, wo, strides)
    return k.scratch_size(&g, itemsize, num_threads)


def uses_winograd(tuple x_shape, tuple kernel_shape, Py_ssize_t ho, Py_ssize_t wo,
                  tuple strides):
    """The Winograd output tile :func:`conv2d` and :func:`conv2d_backward` take for these shapes.

    Parameters as :func:`scratch_elements`.

    Returns
    -------
    int
        4 for F(4x4, 3x3), 2 for F(2x2, 3x3), 0 for im2col.
    """
    cdef k.conv_geom g = shape_geometry(x_shape, kernel_shape, ho, wo, strides)
    return int(g.wino)


def conv2d(const floating[:, :, :, ::1] x,       # IN  (n, h, w, c)
           const floating[:, :, :, ::1] kernel,  # IN  (kh, kw, c, f)
           const floating[::1] bias,             # IN  (f,), or None
           floating[:, :, :, ::1] out,           # OUT (n, ho, wo, f)
           floating[::1] scratch,                # scratch_elements(...) values
           Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t top, Py_ssize_t left, int num_threads):
    """``out = conv(x, kernel) + bias``."""
    cdef k.conv_geom g = geometry(&x.shape[0], &kernel.shape[0], out.shape[1], out.shape[2],
                                  sh, sw, top, left)
    cdef const floating* b = NULL
    if bias is not None:
        b = &bias[0]
    with nogil:
        k.conv_forward(&x[0, 0, 0, 0], &kernel[0, 0, 0, 0], b, &out[0, 0, 0, 0], &g,
                       ACT_IDENTITY, &scratch[0], num_threads)


def conv2d_backward(const floating[:, :, :, ::1] dy,      # IN  (n, ho, wo, f)
                    const floating[:, :, :, ::1] x,       # IN  (n, h, w, c)
                    const floating[:, :, :, ::1] kernel,  # IN  (kh, kw, c, f)
                    floating[:, :, :, ::1] dkernel,       # OUT (kh, kw, c, f), or None
                    floating[::1] dbias,                  # OUT (f,), or None
                    floating[:, :, :, ::1] dx,            # OUT (n, h, w, c), or None
                    floating[::1] scratch,                # scratch_elements(...) values
                    Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t top, Py_ssize_t left,
                    int num_threads):
    """The kernel, bias and input gradients of :func:`conv2d`, each skipped when None."""
    cdef k.conv_geom g = geometry(&x.shape[0], &kernel.shape[0], dy.shape[1], dy.shape[2],
                                  sh, sw, top, left)
    cdef floating* dw = NULL if dkernel is None else &dkernel[0, 0, 0, 0]
    cdef floating* db = NULL if dbias is None else &dbias[0]
    cdef floating* dxp = NULL if dx is None else &dx[0, 0, 0, 0]
    with nogil:
        # With the identity, ``dy`` is only read.
        k.conv_backward(&x[0, 0, 0, 0], &kernel[0, 0, 0, 0], NULL, <floating*> &dy[0, 0, 0, 0],
                        dw, db, dxp, &g, ACT_IDENTITY, &scratch[0], num_threads)


cdef class ConvNode(Node):
    """A convolution layer with its bias and activation: ``y = act(conv(x, K) + b)``.

    Samples are the rows of the network's flat buffers, each an image
    ``(h, w, c)`` in, ``(ho, wo, f)`` out.

    Parameters
    ----------
    kernel : ndarray of shape (kh, kw, c, f)
    bias : ndarray of shape (f,) or None
    dkernel, dbias : ndarray or None
        Where the gradients go; None when not wanted (a frozen layer, or no
        bias).
    in_shape, out_shape : tuple of 3 int
        ``(h, w, c)`` and ``(ho, wo, f)``.
    strides : tuple of 2 int
    top, left : int
        Zeros before the first row and the first column (those after the
        last follow from the output's shape).
    act : int
        Activation code, applied to each block of the output as it is made.
    """
    cdef char* kernel
    cdef char* bias
    cdef char* dkernel
    cdef char* dbias
    cdef k.conv_geom g
    cdef int act
    cdef object scratch

    def __init__(self, cnp.ndarray kernel, bias, dkernel, dbias, tuple in_shape,
                 tuple out_shape, tuple strides, Py_ssize_t top, Py_ssize_t left, int act):
        self.keep = [kernel, bias, dkernel, dbias]
        self.kernel, self.bias = address(kernel), address(bias)
        self.dkernel, self.dbias = address(dkernel), address(dbias)
        cdef Py_ssize_t xs[4]
        xs[0] = 0
        xs[1], xs[2], xs[3] = in_shape
        self.g = geometry(xs, <Py_ssize_t*> cnp.PyArray_DIMS(kernel), out_shape[0], out_shape[1],
                          strides[0], strides[1], top, left)
        self.in_size = in_shape[0] * in_shape[1] * in_shape[2]
        self.out_size = out_shape[0] * out_shape[1] * out_shape[2]
        self.itemsize = kernel.itemsize
        self.act = act
        self.scratch = None

    cdef char* _scratch(self, Py_ssize_t n, int num_threads):
        """Scratch for a pass on ``num_threads`` threads, grown as needed, kept across steps."""
        cdef Py_ssize_t size = k.scratch_size(&self.g, self.itemsize, num_threads)
        if self.scratch is None or self.scratch.shape[0] < size:
            self.scratch = np.empty(size, np.float32 if self.itemsize == 4 else np.float64)
        return address(self.scratch)

    cdef int _threads(self, Py_ssize_t n, const thread_plan* plan):
        return product_threads(plan, n * self.g.ho * self.g.wo, self.g.k, self.g.f)

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef int t = self._threads(n, plan)
        cdef char* scratch = self._scratch(n, t)
        cdef k.conv_geom g = self.g
        g.n = n
        with nogil:
            if self.itemsize == 4:
                k.conv_forward(<const float*> x, <const float*> self.kernel,
                               <const float*> self.bias, <float*> y, &g, self.act,
                               <float*> scratch, t)
            else:
                k.conv_forward(<const double*> x, <const double*> self.kernel,
                               <const double*> self.bias, <double*> y, &g, self.act,
                               <double*> scratch, t)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef int t = self._threads(n, plan)
        cdef char* scratch = self._scratch(n, t)
        cdef k.conv_geom g = self.g
        g.n = n
        with nogil:
            if self.itemsize == 4:
                k.conv_backward(<const float*> x, <const float*> self.kernel,
                                <const float*> y, <float*> dy, <float*> self.dkernel,
                                <float*> self.dbias, <float*> dx, &g, self.act,
                                <float*> scratch, t)
            else:
                k.conv_backward(<const double*> x, <const double*> self.kernel,
                                <const double*> y, <double*> dy, <double*> self.dkernel,
                                <double*> self.dbias, <double*> dx, &g, self.act,
                                <double*> scratch, t)
        return 0


# ------------------------------------------------------- convolution and pooling
#: Filters are padded to a multiple of the widest vector (16 floats).
cdef enum:
    FILTER_ALIGN = 16


def conv_pool_supported():
    """Whether this build has the fused one-channel convolution and pooling kernels."""
    return nnf_simd.conv_pool_f32 != NULL


cdef inline Py_ssize_t padded_filters(Py_ssize_t f) noexcept nogil:
    return (f + FILTER_ALIGN - 1) // FILTER_ALIGN * FILTER_ALIGN


cdef inline Py_ssize_t conv_pool_rows(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t wp) noexcept nogil:
    """Values of a thread's row buffer: kh + 1 rows of 2 * wp + kw - 1."""
    return (kh + 1) * (2 * wp + kw - 1)


cdef void pack_kernel(const floating* kernel, const floating* bias, Py_ssize_t taps, Py_ssize_t f,
                      Py_ssize_t fp, floating* kp) noexcept nogil:
    """The kernel (taps, f) and bias (f,) into (taps + 1, fp), zero past f (bias zero if NULL)."""
    cdef Py_ssize_t t, j
    memset(kp, 0, (taps + 1) * fp * sizeof(floating))
    for t in range(taps):
        for j in range(f):
            kp[t * fp + j] = kernel[t * f + j]
    if bias != NULL:
        for j in range(f):
            kp[taps * fp + j] = bias[j]


cdef void conv_pool_run(const floating* x, const floating* kernel, const floating* bias,
                        floating* y, uint8_t* pos, Py_ssize_t n, Py_ssize_t h, Py_ssize_t w,
                        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t f, Py_ssize_t hp, Py_ssize_t wp,
                        Py_ssize_t top, Py_ssize_t left, bint relu, floating* work,
                        int num_threads) noexcept nogil:
    """Pooled ``y`` (n, hp, wp, f) and window positions ``pos`` of every image of ``x`` (n, h, w).

    ``work``: (kh * kw + 1) * fp values for the packed kernel, then a row
    buffer per thread.
    """
    cdef Py_ssize_t fp = padded_filters(f), taps = kh * kw
    cdef Py_ssize_t per = conv_pool_rows(kh, kw, wp), size = hp * wp * f
    cdef floating* rows = work + (taps + 1) * fp
    cdef Py_ssize_t s
    cdef int t
    pack_kernel(kernel, bias, taps, f, fp, work)
    for t in prange(num_threads, num_threads=num_threads, schedule="static"):
        for s in range(n * t // num_threads, n * (t + 1) // num_threads):
            if floating is float:
                nnf_simd.conv_pool_f32(x + s * h * w, h, w, work, work + taps * fp, kh, kw, f, fp,
                                       top, left, relu, 0, hp, wp, y + s * size, pos + s * size,
                                       rows + t * per)
            else:
                nnf_simd.conv_pool_f64(x + s * h * w, h, w, work, work + taps * fp, kh, kw, f, fp,
                                       top, left, relu, 0, hp, wp, y + s * size, pos + s * size,
                                       rows + t * per)


cdef void conv_pool_grad_run(const floating* x, const floating* dy, const floating* y,
                             const uint8_t* pos, floating* dkernel, floating* dbias, Py_ssize_t n,
                             Py_ssize_t h, Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                             Py_ssize_t f, Py_ssize_t hp, Py_ssize_t wp, Py_ssize_t top,
                             Py_ssize_t left, bint relu, floating* work,
                             int num_threads) noexcept nogil:
    """The kernel (kh, kw, 1, f) and bias (f,) gradients, each skipped when NULL.

    Each thread sums its images into its own partial ((kh * kw + 1) * fp
    values of ``work``, then its row buffer); the partials are added in
    thread order, so that a result depends on the number of threads but
    never on timing.
    """
    cdef Py_ssize_t fp = padded_filters(f), taps = kh * kw
    cdef Py_ssize_t per = (taps + 1) * fp + conv_pool_rows(kh, kw, wp), size = hp * wp * f
    cdef Py_ssize_t s, j, e
    cdef floating* part
    cdef int t
    for t in prange(num_threads, num_threads=num_threads, schedule="static"):
        part = work + t * per
        memset(part, 0, (taps + 1) * fp * sizeof(floating))
        for s in range(n * t // num_threads, n * (t + 1) // num_threads):
            if floating is float:
                nnf_simd.conv_pool_grad_f32(x + s * h * w, h, w, dy + s * size, y + s * size,
                                            pos + s * size, kh, kw, f, fp, top, left, relu, 0, hp,
                                            wp, part, part + taps * fp,
                                            part + (taps + 1) * fp)
            else:
                nnf_simd.conv_pool_grad_f64(x + s * h * w, h, w, dy + s * size, y + s * size,
                                            pos + s * size, kh, kw, f, fp, top, left, relu, 0, hp,
                                            wp, part, part + taps * fp,
                                            part + (taps + 1) * fp)
    for e in range(taps):
        for j in range(f):
            if dkernel != NULL:
                dkernel[e * f + j] = work[e * fp + j]
                for t in range(1, num_threads):
                    dkernel[e * f + j] += work[t * per + e * fp + j]
    if dbias != NULL:
        for j in range(f):
            dbias[j] = work[taps * fp + j]
            for t in range(1, num_threads):
                dbias[j] += work[t * per + taps * fp + j]


def conv_pool_work(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t f, Py_ssize_t wp, int num_threads):
    """Values of the ``work`` array :func:`conv_pool2d` and :func:`conv_pool2d_backward` need."""
    return num_threads * ((kh * kw + 1) * padded_filters(f) + conv_pool_rows(kh, kw, wp))


cdef tuple shape4(Py_ssize_t* shape):
    return (shape[0], shape[1], shape[2], shape[3])


def _check_conv_pool(Py_ssize_t n, Py_ssize_t taps, Py_ssize_t f, tuple pooled, tuple pos,
                     Py_ssize_t work, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t top,
                     Py_ssize_t left, int num_threads):
    """ValueError unless the shapes agree, so that the kernels stay inside every array."""
    if kh < 1 or kw < 1 or taps != kh * kw or f < 1:
        raise ValueError(f"kernel must have kh * kw = {kh * kw} rows and at least one column")
    if top < 0 or left < 0 or num_threads < 1:
        raise ValueError("top and left must be at least 0, num_threads at least 1")
    if pooled[0] != n or pooled[3] != f or pos != pooled:
        raise ValueError(f"the pooled arrays must have shape ({n}, hp, wp, {f}), got {pooled} "
                         f"and {pos}")
    if work < conv_pool_work(kh, kw, f, pooled[2], num_threads):
        raise ValueError(f"work must have conv_pool_work(...) = "
                         f"{conv_pool_work(kh, kw, f, pooled[2], num_threads)} values")


def conv_pool2d(const floating[:, :, ::1] x,      # IN  (n, h, w)
                const floating[:, ::1] kernel,    # IN  (kh * kw, f)
                const floating[::1] bias,         # IN  (f,), or None
                floating[:, :, :, ::1] out,       # OUT (n, hp, wp, f)
                uint8_t[:, :, :, ::1] pos,        # OUT (n, hp, wp, f)
                floating[::1] work,               # conv_pool_work(...) values
                Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t top, Py_ssize_t left, bint relu,
                int num_threads):
    """``out``: 2x2 max pooling of ``act(conv(x, kernel) + bias)``; ``pos`` each maximum's window position.

    ``out`` has half the rows and columns of the convolution's output (of
    stride 1), rounded down; rows and columns past the image are zeros, so
    ``out``'s shape sets the padding at the bottom and the right.  The
    shapes are checked (ValueError) before the kernels run.
    """
    cdef const floating* b = NULL if bias is None else &bias[0]
    _check_conv_pool(x.shape[0], kernel.shape[0], kernel.shape[1], shape4(out.shape),
                     shape4(pos.shape), work.shape[0], kh, kw, top, left, num_threads)
    if bias is not None and bias.shape[0] != kernel.shape[1]:
        raise ValueError(f"bias must have {kernel.shape[1]} values, got {bias.shape[0]}")
    with nogil:
        conv_pool_run(&x[0, 0, 0], &kernel[0, 0], b, &out[0, 0, 0, 0], &pos[0, 0, 0, 0],
                      x.shape[0], x.shape[1], x.shape[2], kh, kw, kernel.shape[1], out.shape[1],
                      out.shape[2], top, left, relu, &work[0], num_threads)


def conv_pool2d_backward(const floating[:, :, :, ::1] dy,  # IN  (n, hp, wp, f)
                         const floating[:, :, ::1] x,      # IN  (n, h, w)
                         const floating[:, :, :, ::1] y,   # IN  (n, hp, wp, f): the output
                         const uint8_t[:, :, :, ::1] pos,  # IN  (n, hp, wp, f)
                         floating[:, ::1] dkernel,         # OUT (kh * kw, f), or None
                         floating[::1] dbias,              # OUT (f,), or None
                         floating[::1] work,               # conv_pool_work(...) values
                         Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t top, Py_ssize_t left,
                         bint relu, int num_threads):
    """The kernel and bias gradients of :func:`conv_pool2d`, each skipped when None."""
    cdef floating* dk = NULL if dkernel is None else &dkernel[0, 0]
    cdef floating* db = NULL if dbias is None else &dbias[0]
    _check_conv_pool(x.shape[0], kh * kw, dy.shape[3], shape4(dy.shape), shape4(pos.shape),
                     work.shape[0], kh, kw, top, left, num_threads)
    if shape4(y.shape) != shape4(dy.shape):
        raise ValueError(f"y must have the shape of dy, {shape4(dy.shape)}")
    if ((dkernel is not None and (dkernel.shape[0], dkernel.shape[1]) != (kh * kw, dy.shape[3]))
            or (dbias is not None and dbias.shape[0] != dy.shape[3])):
        raise ValueError(f"dkernel must have shape ({kh * kw}, {dy.shape[3]}) and dbias "
                         f"{dy.shape[3]} values")
    with nogil:
        conv_pool_grad_run(&x[0, 0, 0], &dy[0, 0, 0, 0], &y[0, 0, 0, 0], &pos[0, 0, 0, 0], dk,
                           db, x.shape[0], x.shape[1], x.shape[2], kh, kw, dy.shape[3],
                           dy.shape[1], dy.shape[2], top, left, relu, &work[0], num_threads)


cdef class ConvPoolNode(Node):
    """A one-channel convolution of stride 1 with its bias and ReLU (or none), then 2x2 max
    pooling of stride 2: two layers as one node, neither the convolution's output nor its
    gradient ever written.

    Parameters
    ----------
    kernel : ndarray of shape (kh, kw, 1, f)
    bias : ndarray of shape (f,) or None
    dkernel, dbias : ndarray or None
        Where the gradients go; None when not wanted.
    in_shape : tuple of 3 int
        ``(h, w, 1)``.
    pooled : tuple of 2 int
        ``(hp, wp)``: half the convolution's output rows and columns, rounded down.
    top, left : int
        Zeros before the first row and the first column.
    relu : bool
        ReLU after the bias, else no activation.
    """
    cdef char* kernel
    cdef char* bias
    cdef char* dkernel
    cdef char* dbias
    cdef Py_ssize_t h, w, kh, kw, f, hp, wp, top, left
    cdef bint relu
    cdef object pos
    cdef object work

    def __init__(self, cnp.ndarray kernel, bias, dkernel, dbias, tuple in_shape, tuple pooled,
                 Py_ssize_t top, Py_ssize_t left, bint relu):
        self.keep = [kernel, bias, dkernel, dbias]
        self.kernel, self.bias = address(kernel), address(bias)
        self.dkernel, self.dbias = address(dkernel), address(dbias)
        self.h, self.w = in_shape[0], in_shape[1]
        self.kh, self.kw, self.f = kernel.shape[0], kernel.shape[1], kernel.shape[3]
        self.hp, self.wp = pooled
        self.top, self.left, self.relu = top, left, relu
        self.in_size = self.h * self.w
        self.out_size = self.hp * self.wp * self.f
        self.itemsize = kernel.itemsize
        self.pos = None
        self.work = None

    cdef int _threads(self, Py_ssize_t n, const thread_plan* plan):
        return product_threads(plan, n * 4 * self.hp * self.wp, self.kh * self.kw, self.f)

    cdef char* _work(self, int num_threads):
        """Room for the packed kernel and the row buffers, grown as needed, kept across steps."""
        cdef Py_ssize_t size = num_threads * ((self.kh * self.kw + 1) * padded_filters(self.f)
                                              + conv_pool_rows(self.kh, self.kw, self.wp))
        if self.work is None or self.work.shape[0] < size:
            self.work = np.empty(size, np.float32 if self.itemsize == 4 else np.float64)
        return address(self.work)

    cdef int forward(self, char* x, char* y, Py_ssize_t n, bint training,
                     const thread_plan* plan) except -1:
        cdef int t = self._threads(n, plan)
        cdef char* work = self._work(t)
        cdef uint8_t* pos
        if self.pos is None or self.pos.shape[0] < n * self.out_size:
            self.pos = np.empty(n * self.out_size, np.uint8)
        pos = <uint8_t*> address(self.pos)
        with nogil:
            if self.itemsize == 4:
                conv_pool_run(<const float*> x, <const float*> self.kernel,
                              <const float*> self.bias, <float*> y, pos, n, self.h, self.w,
                              self.kh, self.kw, self.f, self.hp, self.wp, self.top, self.left,
                              self.relu, <float*> work, t)
            else:
                conv_pool_run(<const double*> x, <const double*> self.kernel,
                              <const double*> self.bias, <double*> y, pos, n, self.h, self.w,
                              self.kh, self.kw, self.f, self.hp, self.wp, self.top, self.left,
                              self.relu, <double*> work, t)
        return 0

    cdef int backward(self, char* x, char* y, char* dy, char* dx, Py_ssize_t n,
                      const thread_plan* plan) except -1:
        cdef int t = self._threads(n, plan)
        cdef char* work = self._work(t)
        cdef const uint8_t* pos = <const uint8_t*> address(self.pos)
        if dx != NULL:
            raise RuntimeError("ConvPoolNode has no input gradient: it is made only where none "
                               "is wanted")
        if self.dkernel == NULL and self.dbias == NULL:
            return 0
        with nogil:
            if self.itemsize == 4:
                conv_pool_grad_run(<const float*> x, <const float*> dy, <const float*> y, pos,
                                   <float*> self.dkernel, <float*> self.dbias, n, self.h, self.w,
                                   self.kh, self.kw, self.f, self.hp, self.wp, self.top,
                                   self.left, self.relu, <float*> work, t)
            else:
                conv_pool_grad_run(<const double*> x, <const double*> dy, <const double*> y,
                                   pos, <double*> self.dkernel, <double*> self.dbias, n, self.h,
                                   self.w, self.kh, self.kw, self.f, self.hp, self.wp, self.top,
                                   self.left, self.relu, <double*> work, t)
        return 0
