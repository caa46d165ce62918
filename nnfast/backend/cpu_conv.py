"""Compiled 2-D convolution (kernels in ``nnfast._conv``) and its network node.

Each product of the convolution is one BLAS call per block of output
positions (36 per block of tiles for a 3x3 kernel of stride 1 over several
channels, which runs by Winograd F(4x4, 3x3), or 16 by F(2x2, 3x3) for
outputs under 4x4: see ``csrc/_conv.pxd``), the
blocks shared out among nnfast's own threads while BLAS is
held at one thread (the ops enter :func:`~nnfast.backend.own_threads`
themselves, nearly free inside a model's ``fit``).  The arguments are
checked here, before any compiled code runs: a bad argument raises
``ValueError`` naming what was expected.
Inputs that are merely not C-contiguous are copied; arrays written to must
be C-contiguous arrays of the inputs' dtype, apart from every input.

In the compiled network, a one-channel convolution of stride 1 (ReLU or no
activation) followed by 2x2 max pooling of stride 2, the first block of the
course's CNNs, runs as one node (``nnfast._conv.ConvPoolNode``, made by
:func:`_conv_pool_node`) that writes only the pooled map: the
convolution's own output and its gradient, four times the size, are never
written.  It is used where the convolution's input gradient is not wanted
(the first layer).
"""
import operator

import numpy as np

from .. import _conv
from ._threads import own_threads, product_threads
from .cpu_activations import ACTIVATION_CODES
from .cpu_arrays import F32, F64, INT_MAX, c_order, shares
from .cpu_network import register_node_fuser, register_node_maker
from .ops_conv import conv_output_size


def _pair(op, name, value, low):
    """``value`` as a tuple of 2 ints, each at least ``low``."""
    return _ints(op, name, value, 2, low)


def _ints(op, name, value, count, low):
    try:
        values = tuple(operator.index(v) for v in value)
    except TypeError:
        values = ()
    if len(values) != count or any(v < low for v in values):
        raise ValueError(f"{op}: {name} must be {count} integers, each at least {low}; "
                         f"got {value!r}")
    return values


def _float_dtype(op, **arrays):
    """The one float dtype of ``arrays`` (numpy arrays of float32 or float64), else ValueError."""
    dtype = None
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype not in (F32, F64):
            kind = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(f"{op}: {name} must be a float32 or float64 numpy array, got {kind}")
        if dtype is None:
            dtype = F32 if a.dtype == F32 else F64
        elif a.dtype != dtype:
            raise ValueError(f"{op}: {name} has dtype {a.dtype} but the other arrays have "
                             f"{dtype}; all must have one dtype")
    return dtype


def _check_output(op, name, array, dtype, shape, *inputs):
    """A C-contiguous array of ``dtype`` and ``shape`` apart from ``inputs``, else ValueError."""
    if (type(array) is not np.ndarray or array.dtype != dtype or array.shape != shape
            or not array.flags.c_contiguous or not array.flags.writeable):
        desc = (f"array of dtype {array.dtype}, shape {array.shape}"
                if isinstance(array, np.ndarray) else type(array).__name__)
        raise ValueError(f"{op}: {name} must be a writeable C-contiguous {dtype} array of "
                         f"shape {shape}, got {desc}")
    if shares(array, *inputs):
        raise ValueError(f"{op}: {name} must not overlap the arrays it is computed from")


def _geometry(op, x, kernel, strides, padding):
    """Checked shapes: (n, h, w, c), (kh, kw, f), (ho, wo), strides and padding."""
    if x.ndim != 4:
        raise ValueError(f"{op}: x must have 4 dimensions (n, h, w, c), got shape {x.shape}")
    if kernel.ndim != 4:
        raise ValueError(f"{op}: kernel must have 4 dimensions (kh, kw, c, f), got shape "
                         f"{kernel.shape}")
    n, h, w, c = x.shape
    kh, kw, kc, f = kernel.shape
    if kc != c:
        raise ValueError(f"{op}: kernel has shape {kernel.shape} but x has {c} channels; "
                         f"expected kernel.shape[2] == {c}")
    if min(kh, kw, c, f) < 1:
        raise ValueError(f"{op}: kernel of shape {kernel.shape} and x of shape {x.shape} "
                         f"must have at least one row, column, channel and filter")
    sh, sw = _pair(op, "strides", strides, 1)
    top, bottom, left, right = _ints(op, "padding", padding, 4, 0)
    if kh > h + top + bottom or kw > w + left + right:
        raise ValueError(f"{op}: the kernel ({kh}, {kw}) is larger than the padded input "
                         f"({h + top + bottom}, {w + left + right})")
    ho = conv_output_size(h, kh, sh, top, bottom)
    wo = conv_output_size(w, kw, sw, left, right)
    return (n, h, w, c), (kh, kw, f), (ho, wo), (sh, sw), (top, bottom, left, right)


def _scratch(x_shape, kernel_shape, ho, wo, strides, dtype, threads):
    size = _conv.scratch_elements(x_shape, kernel_shape, ho, wo, strides, dtype.itemsize,
                                  threads)
    return np.empty(size, dtype)


def _fits(c, kh, kw, f):
    """Whether BLAS's int dimensions hold the products of the kernels (blocks of rows)."""
    return max(kh * kw * c, f) <= INT_MAX


class CpuConvOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_conv.ConvOps`, a mixin of ``CpuOps``."""

    def conv2d(self, x, kernel, bias=None, strides=(1, 1), padding=(0, 0, 0, 0), out=None):
        """Cross-correlate a batch of images with a bank of kernels, compiled.

        See Also
        --------
        nnfast.backend.ops_conv.ConvOps.conv2d : parameters and return value.

        Raises
        ------
        ValueError
            For arrays of other ranks, shapes or dtypes than expected, an
            ``out`` that is not C-contiguous or overlaps an input, strides
            below 1, negative padding, or a kernel larger than the padded
            input.
        """
        op = "conv2d"
        arrays = {"x": x, "kernel": kernel} if bias is None else {"x": x, "kernel": kernel,
                                                                   "bias": bias}
        dtype = _float_dtype(op, **arrays)
        (n, h, w, c), (kh, kw, f), (ho, wo), (sh, sw), pad = _geometry(op, x, kernel, strides,
                                                                       padding)
        if bias is not None and bias.shape != (f,):
            raise ValueError(f"{op}: bias has shape {bias.shape}, expected ({f},)")
        shape = (n, ho, wo, f)
        if out is None:
            out = np.empty(shape, dtype)
        else:
            _check_output(op, "out", out, dtype, shape, *arrays.values())
        if n == 0 or not _fits(c, kh, kw, f):
            return super().conv2d(x, kernel, bias, (sh, sw), pad, out=out)
        x, kernel = c_order(x), c_order(kernel)
        bias = None if bias is None else c_order(bias)
        with own_threads():
            threads = product_threads(n * ho * wo, kh * kw * c, f)
            scratch = _scratch(x.shape, kernel.shape, ho, wo, (sh, sw), dtype, threads)
            _conv.conv2d(x, kernel, bias, out, scratch, sh, sw, pad[0], pad[2], threads)
        return out

    def conv2d_backward(self, dy, x, kernel, strides=(1, 1), padding=(0, 0, 0, 0),
                        dkernel=None, dbias=None, dx=None):
        """Kernel, bias and input gradients of :meth:`conv2d`, compiled.

        See Also
        --------
        nnfast.backend.ops_conv.ConvOps.conv2d_backward : parameters and return value.

        Raises
        ------
        ValueError
            As :meth:`conv2d`, and for a ``dy`` not of the output's shape or
            gradients not of their parameters' shapes.
        """
        op = "conv2d_backward"
        dtype = _float_dtype(op, dy=dy, x=x, kernel=kernel)
        (n, h, w, c), (kh, kw, f), (ho, wo), (sh, sw), pad = _geometry(op, x, kernel, strides,
                                                                       padding)
        if dy.shape != (n, ho, wo, f):
            raise ValueError(f"{op}: dy has shape {dy.shape}, expected {(n, ho, wo, f)} for x "
                             f"of shape {x.shape}, kernel of shape {kernel.shape}, strides "
                             f"{(sh, sw)} and padding {pad}")
        inputs = (dy, x, kernel)
        if dkernel is not None:
            _check_output(op, "dkernel", dkernel, dtype, kernel.shape, *inputs)
        if dbias is not None:
            _check_output(op, "dbias", dbias, dtype, (f,), *inputs)
        want_dx = dx is not False
        if want_dx:
            if dx is None:
                dx = np.empty(x.shape, dtype)
            else:
                _check_output(op, "dx", dx, dtype, x.shape, *inputs)
        written = [a for a in (dkernel, dbias, dx if want_dx else None) if a is not None]
        for i, a in enumerate(written):
            if shares(a, *written[i + 1:]):
                raise ValueError(f"{op}: dkernel, dbias and dx must not overlap one another")
        if n == 0 or not _fits(c, kh, kw, f):
            return super().conv2d_backward(dy, x, kernel, (sh, sw), pad, dkernel=dkernel,
                                           dbias=dbias, dx=dx if want_dx else False)
        dy, x, kernel = c_order(dy), c_order(x), c_order(kernel)
        with own_threads():
            threads = product_threads(n * ho * wo, kh * kw * c, f)
            scratch = _scratch(x.shape, kernel.shape, ho, wo, (sh, sw), dtype, threads)
            _conv.conv2d_backward(dy, x, kernel, dkernel, dbias, dx if want_dx else None,
                                  scratch, sh, sw, pad[0], pad[2], threads)
        return dx if want_dx else None


def _plain(array, dtype, shape):
    return (type(array) is np.ndarray and array.dtype == dtype and array.shape == shape
            and array.flags.c_contiguous and array.flags.writeable)


def _conv_fits(spec, dtype, activation):
    """Whether a ``conv2d`` spec's arrays and settings have a compiled node."""
    kernel, bias, dkernel, dbias = spec["kernel"], spec["bias"], spec["dkernel"], spec["dbias"]
    if type(kernel) is not np.ndarray or kernel.dtype != dtype or kernel.ndim != 4 \
            or not kernel.flags.c_contiguous or kernel.size == 0:
        return False
    kh, kw, c, f = kernel.shape
    for array, shape in ((bias, (f,)), (dkernel, kernel.shape), (dbias, (f,))):
        if array is not None and not _plain(array, dtype, shape):
            return False
    if activation not in ACTIVATION_CODES or activation == "softmax":
        return False
    in_shape, out_shape = tuple(spec["in_shape"]), tuple(spec["out_shape"])
    (sh, sw), (top, bottom, left, right) = tuple(spec["strides"]), tuple(spec["padding"])
    h, w, cin = in_shape
    return (cin == c and min(sh, sw) >= 1 and min(top, bottom, left, right) >= 0
            and out_shape == (conv_output_size(h, kh, sh, top, bottom),
                              conv_output_size(w, kw, sw, left, right), f)
            and min(out_shape) >= 1 and _fits(c, kh, kw, f))


def _conv_node(spec, dtype, fused_output):
    """The compiled node of a ``conv2d`` spec, or None when its arrays have none."""
    activation = "identity" if fused_output else spec["activation"]
    if not _conv_fits(spec, dtype, activation):
        return None
    top, _, left, _ = tuple(spec["padding"])
    return _conv.ConvNode(spec["kernel"], spec["bias"], spec["dkernel"], spec["dbias"],
                          tuple(spec["in_shape"]), tuple(spec["out_shape"]),
                          tuple(spec["strides"]), top, left, ACTIVATION_CODES[activation])


def _conv_pool_node(spec, pool, dtype):
    """One node for a one-channel convolution of stride 1 (ReLU or no activation) and the
    2x2 max pooling of stride 2 after it, or None when they do not fit it."""
    if not _conv_fits(spec, dtype, spec["activation"]) or not _conv.conv_pool_supported():
        return None
    kh, kw, c, f = spec["kernel"].shape
    ho, wo, _ = spec["out_shape"]
    if (c != 1 or tuple(spec["strides"]) != (1, 1)
            or spec["activation"] not in ("relu", "identity")
            or tuple(pool["pool_size"]) != (2, 2) or tuple(pool["strides"]) != (2, 2)
            or tuple(pool["in_shape"]) != (ho, wo, f) or min(ho, wo) < 2
            or tuple(pool["out_shape"]) != (ho // 2, wo // 2, f)):
        return None
    top, _, left, _ = tuple(spec["padding"])
    return _conv.ConvPoolNode(spec["kernel"], spec["bias"], spec["dkernel"], spec["dbias"],
                              tuple(spec["in_shape"]), (ho // 2, wo // 2), top, left,
                              spec["activation"] == "relu")


register_node_maker("conv2d", _conv_node)
register_node_fuser(("conv2d", "max_pool2d"), _conv_pool_node)
