"""Compiled pooling of NHWC images (kernels in ``nnfast._pooling``), and its network nodes.

Each op checks its arguments before a kernel runs: the windows (see
:func:`~nnfast.backend.ops_pooling.pool_output_shape`), the shapes, and the
arrays it writes (``out``, ``argmax``, ``dx``: C-contiguous, of the input's
dtype -- int32 for ``argmax`` --, apart from the inputs), each mismatch a
``ValueError`` that names what was expected.  Inputs that are merely not
C-contiguous are copied; inputs that are not float32 or float64 numpy arrays
go to the reference implementation (see :mod:`nnfast.backend.cpu_arrays`).
"""
import math

import numpy as np

from .. import _pooling
from ._threads import elementwise_threads
from .cpu_arrays import INT_MAX, c_order, float_dtype, is_out, shares
from .cpu_network import register_node_maker
from .ops_pooling import pool_output_shape, sample_shape

_INT32 = np.dtype(np.int32)


def _describe(array):
    if not isinstance(array, np.ndarray):
        return type(array).__name__
    return (f"a {array.dtype} array of shape {array.shape}"
            + ("" if array.flags.c_contiguous else " (not C-contiguous)"))


def _writable(op, name, array, dtype, shape, *inputs):
    """``array`` checked as an output: a C-contiguous ndarray of ``dtype`` and ``shape``, apart from ``inputs``."""
    if not (is_out(array, dtype) and array.shape == shape):
        raise ValueError(f"{op}: {name} must be a C-contiguous {dtype.name} array of shape "
                         f"{shape}, got {_describe(array)}")
    if shares(array, *inputs):
        raise ValueError(f"{op}: {name} must not overlap the inputs")
    return array


def _window(pool_size, strides):
    """``(ph, pw, sh, sw)`` as ints (already checked by ``pool_output_shape``)."""
    return tuple(int(v) for v in tuple(pool_size) + tuple(strides))


def _check_index_range(op, shape):
    if math.prod(shape) > INT_MAX:
        raise ValueError(f"{op}: images of shape {shape} have more values than int32 indices "
                         f"can address")


class CpuPoolingOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_pooling.PoolingOps`, a mixin of ``CpuOps``."""

    def max_pool2d(self, x, pool_size, strides, out=None, argmax=None):
        """Each window's maximum and its index, one pass over ``x``.

        See Also
        --------
        nnfast.backend.ops_pooling.PoolingOps.max_pool2d : parameters and return value.
        """
        op = "max_pool2d"
        shape = pool_output_shape(op, np.shape(x), pool_size, strides)
        dtype = float_dtype(x)
        if dtype is None or x.size == 0:
            return super().max_pool2d(x, pool_size, strides, out=out, argmax=argmax)
        _check_index_range(op, x.shape[1:])
        out = np.empty(shape, dtype) if out is None else _writable(op, "out", out, dtype, shape, x)
        argmax = (np.empty(shape, _INT32) if argmax is None
                  else _writable(op, "argmax", argmax, _INT32, shape, x, out))
        _pooling.max_pool2d(c_order(x), out, argmax, *_window(pool_size, strides),
                            elementwise_threads(x.size))
        return out, argmax

    def max_pool2d_backward(self, dy, argmax, x_shape, dx=None):
        """``dx`` zeroed, then ``dy`` added at the ``argmax`` indices, image by image.

        See Also
        --------
        nnfast.backend.ops_pooling.PoolingOps.max_pool2d_backward : parameters and return value.
        """
        op = "max_pool2d_backward"
        h, w, c = sample_shape(op, x_shape)
        dtype = float_dtype(dy)
        if dtype is None:
            return super().max_pool2d_backward(dy, argmax, x_shape, dx=dx)
        if dy.ndim != 4 or dy.shape[3] != c:
            raise ValueError(f"{op}: dy must have shape (n, ho, wo, {c}) for images of shape "
                             f"{(h, w, c)}, got {dy.shape}")
        if not (isinstance(argmax, np.ndarray) and argmax.dtype == _INT32
                and argmax.shape == dy.shape):
            raise ValueError(f"{op}: argmax must be an int32 array of the shape of dy, "
                             f"{dy.shape}, as max_pool2d returns it")
        _check_index_range(op, (h, w, c))
        n, size = dy.shape[0], h * w * c
        shape = (n, h, w, c)
        if dy.size and (argmax.min() < 0 or argmax.max() >= size):
            raise ValueError(f"{op}: argmax holds indices outside [0, {size}), the values of "
                             f"an image of shape {(h, w, c)}")
        dx = np.empty(shape, dtype) if dx is None else _writable(op, "dx", dx, dtype, shape,
                                                                 dy, argmax)
        if dx.size == 0:
            return dx
        if dy.size == 0:
            dx[...] = 0
            return dx
        _pooling.max_pool2d_backward(c_order(dy).reshape(n, -1), c_order(argmax).reshape(n, -1),
                                     dx.reshape(n, size), elementwise_threads(dx.size))
        return dx

    def avg_pool2d(self, x, pool_size, strides, out=None):
        """Each window's mean, one pass over ``x``.

        See Also
        --------
        nnfast.backend.ops_pooling.PoolingOps.avg_pool2d : parameters and return value.
        """
        op = "avg_pool2d"
        shape = pool_output_shape(op, np.shape(x), pool_size, strides)
        dtype = float_dtype(x)
        if dtype is None or x.size == 0:
            return super().avg_pool2d(x, pool_size, strides, out=out)
        out = np.empty(shape, dtype) if out is None else _writable(op, "out", out, dtype, shape, x)
        _pooling.avg_pool2d(c_order(x), out, *_window(pool_size, strides),
                            elementwise_threads(x.size))
        return out

    def avg_pool2d_backward(self, dy, x_shape, pool_size, strides, dx=None):
        """Each window's ``dy`` spread over it, image by image.

        See Also
        --------
        nnfast.backend.ops_pooling.PoolingOps.avg_pool2d_backward : parameters and return value.
        """
        op = "avg_pool2d_backward"
        h, w, c = sample_shape(op, x_shape)
        n = np.shape(dy)[0] if np.ndim(dy) else 0
        expected = pool_output_shape(op, (n, h, w, c), pool_size, strides)
        dtype = float_dtype(dy)
        if dtype is None:
            return super().avg_pool2d_backward(dy, x_shape, pool_size, strides, dx=dx)
        if dy.shape != expected:
            raise ValueError(f"{op}: dy has shape {dy.shape}, expected {expected} for images of "
                             f"shape {(h, w, c)}")
        shape = (n, h, w, c)
        dx = np.empty(shape, dtype) if dx is None else _writable(op, "dx", dx, dtype, shape, dy)
        if dx.size:
            _pooling.avg_pool2d_backward(c_order(dy), dx, *_window(pool_size, strides),
                                         elementwise_threads(dx.size))
        return dx

    def global_avg_pool2d(self, x, out=None):
        """The mean of each image per channel, summed in double.

        See Also
        --------
        nnfast.backend.ops_pooling.PoolingOps.global_avg_pool2d : parameters and return value.
        """
        op = "global_avg_pool2d"
        if np.ndim(x) != 4:
            raise ValueError(f"{op}: expected a batch of images of shape (n, height, width, "
                             f"channels), got shape {np.shape(x)}")
        dtype = float_dtype(x)
        if dtype is None or x.size == 0:
            return super().global_avg_pool2d(x, out=out)
        n, h, w, c = x.shape
        out = (np.empty((n, c), dtype) if out is None
               else _writable(op, "out", out, dtype, (n, c), x))
        _pooling.global_avg_pool2d(c_order(x).reshape(n, h * w, c), out,
                                   elementwise_threads(x.size))
        return out

    def global_avg_pool2d_backward(self, dy, x_shape, dx=None):
        """``dy / (h * w)`` copied to every pixel.

        See Also
        --------
        nnfast.backend.ops_pooling.PoolingOps.global_avg_pool2d_backward : parameters and
            return value.
        """
        op = "global_avg_pool2d_backward"
        h, w, c = sample_shape(op, x_shape)
        dtype = float_dtype(dy)
        if dtype is None:
            return super().global_avg_pool2d_backward(dy, x_shape, dx=dx)
        if dy.ndim != 2 or dy.shape[1] != c:
            raise ValueError(f"{op}: dy must have shape (n, {c}) for images of shape "
                             f"{(h, w, c)}, got {dy.shape}")
        shape = (dy.shape[0], h, w, c)
        dx = np.empty(shape, dtype) if dx is None else _writable(op, "dx", dx, dtype, shape, dy)
        if dx.size:
            _pooling.global_avg_pool2d_backward(c_order(dy), dx.reshape(shape[0], h * w, c),
                                                elementwise_threads(dx.size))
        return dx


# ------------------------------------------------------------------ network nodes
def _window_node(node_class):
    def make(spec, dtype, fused_output):
        in_shape = tuple(spec["in_shape"])
        try:
            _, ho, wo, c = pool_output_shape(spec["kind"], (1,) + in_shape, spec["pool_size"],
                                             spec["strides"])
        except ValueError:
            return None  # the layer reports its own settings
        if math.prod(spec["out_shape"]) != ho * wo * c or math.prod(in_shape) > INT_MAX:
            return None
        return node_class(*in_shape, *_window(spec["pool_size"], spec["strides"]),
                          dtype.itemsize)
    return make


def _global_avg_pool_node(spec, dtype, fused_output):
    in_shape = tuple(spec["in_shape"])
    if len(in_shape) != 3 or math.prod(spec["out_shape"]) != in_shape[2]:
        return None
    return _pooling.GlobalAvgPoolNode(in_shape[0] * in_shape[1], in_shape[2], dtype.itemsize)


register_node_maker("max_pool2d", _window_node(_pooling.MaxPoolNode))
register_node_maker("avg_pool2d", _window_node(_pooling.AvgPoolNode))
register_node_maker("global_avg_pool2d", _global_avg_pool_node)
