"""Compiled batch normalisation (kernels in ``nnfast._normalization``), and its network node.

Each op checks its arguments before a kernel runs: ``x`` and ``dy`` are
(m, c) matrices, every per-channel array has shape (c,) and the dtype of
``x``, and every array written (``out``, ``dx``, the statistics, the
gradients) is C-contiguous and apart from the others; each mismatch is a
``ValueError`` naming what was expected.  ``out`` may be ``x`` and ``dx`` may
be ``dy``.  Inputs that are merely not C-contiguous are copied; an ``x`` that
is not a float32 or float64 numpy array goes to the reference implementation
(see :mod:`nnfast.backend.cpu_arrays`).
"""
import math

import numpy as np

from .. import _normalization
from ._threads import elementwise_threads
from .cpu_arrays import c_order, float_dtype, is_out, shares
from .cpu_network import register_node_maker


def _describe(array):
    if not isinstance(array, np.ndarray):
        return type(array).__name__
    return (f"a {array.dtype} array of shape {array.shape}"
            + ("" if array.flags.c_contiguous else " (not C-contiguous)"))


def _rows(op, name, x):
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{op}: {name} must be a 2-D array of rows of channels, (m, c) with "
                         f"m, c >= 1, got shape {x.shape}")
    return x.shape


def _channel_input(op, name, array, dtype, c):
    """A per-channel input: an ndarray of ``dtype`` and shape (c,), C-ordered."""
    if not (isinstance(array, np.ndarray) and array.dtype == dtype and array.shape == (c,)):
        raise ValueError(f"{op}: {name} must be a {dtype.name} array of shape ({c},), got "
                         f"{_describe(array)}")
    return c_order(array)


def _output(op, name, array, dtype, shape, written, inputs, alias=None):
    """An array the kernel writes: C-contiguous, ``dtype``, ``shape``, apart from the others.

    ``written`` collects the outputs checked so far; ``alias`` is the one
    input it may be exactly.
    """
    if not (is_out(array, dtype) and array.shape == shape):
        raise ValueError(f"{op}: {name} must be a C-contiguous {dtype.name} array of shape "
                         f"{shape}, got {_describe(array)}")
    if shares(array, *written) or shares(array, *(a for a in inputs if a is not alias
                                                 or array is not alias)):
        raise ValueError(f"{op}: {name} must not overlap the other arrays"
                         + ("" if alias is None else " (it may be the input itself)"))
    written.append(array)
    return array


class CpuNormalizationOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_normalization.NormalizationOps`.

    A mixin of ``CpuOps``.
    """

    def batch_norm_train(self, x, gamma, beta, epsilon, momentum, moving_mean, moving_variance,
                         mean, invstd, out=None):
        """Statistics, moving update and output in one kernel: two reads of ``x``, one write.

        See Also
        --------
        nnfast.backend.ops_normalization.NormalizationOps.batch_norm_train : parameters and
            return value.
        """
        op = "batch_norm_train"
        dtype = float_dtype(x)
        if dtype is None:
            return super().batch_norm_train(x, gamma, beta, epsilon, momentum, moving_mean,
                                            moving_variance, mean, invstd, out=out)
        m, c = _rows(op, "x", x)
        x_in = x
        x = c_order(x)
        gamma = _channel_input(op, "gamma", gamma, dtype, c)
        beta = _channel_input(op, "beta", beta, dtype, c)
        inputs = [x_in, gamma, beta]
        written = []
        moving_mean = _output(op, "moving_mean", moving_mean, dtype, (c,), written, inputs)
        moving_variance = _output(op, "moving_variance", moving_variance, dtype, (c,), written,
                                  inputs)
        mean = (np.empty(c, dtype) if mean is None
                else _output(op, "mean", mean, dtype, (c,), written, inputs))
        invstd = (np.empty(c, dtype) if invstd is None
                  else _output(op, "invstd", invstd, dtype, (c,), written, inputs))
        if out is None:
            out = np.empty((m, c), dtype)
        else:
            out = _output(op, "out", out, dtype, (m, c), written, inputs, alias=x_in)
        work = np.empty(_normalization.work_size(m, c))
        _normalization.batch_norm_train(x, gamma, beta, float(epsilon), float(momentum),
                                        moving_mean, moving_variance, mean, invstd, out, work,
                                        elementwise_threads(x.size))
        return out

    def batch_norm_inference(self, x, gamma, beta, moving_mean, moving_variance, epsilon,
                             out=None):
        """``(x - moving_mean) * scale + beta`` in one pass, the scale per channel first.

        See Also
        --------
        nnfast.backend.ops_normalization.NormalizationOps.batch_norm_inference : parameters and
            return value.
        """
        op = "batch_norm_inference"
        dtype = float_dtype(x)
        if dtype is None:
            return super().batch_norm_inference(x, gamma, beta, moving_mean, moving_variance,
                                                epsilon, out=out)
        m, c = _rows(op, "x", x)
        x_in = x
        x = c_order(x)
        inputs = [x_in]
        for name, array in (("gamma", gamma), ("beta", beta), ("moving_mean", moving_mean),
                            ("moving_variance", moving_variance)):
            inputs.append(_channel_input(op, name, array, dtype, c))
        _, gamma, beta, moving_mean, moving_variance = inputs
        if out is None:
            out = np.empty((m, c), dtype)
        else:
            out = _output(op, "out", out, dtype, (m, c), [], inputs, alias=x_in)
        work = np.empty(_normalization.work_size(1, c))
        _normalization.batch_norm_inference(x, gamma, beta, moving_mean, moving_variance,
                                            float(epsilon), out, work,
                                            elementwise_threads(x.size))
        return out

    def batch_norm_backward(self, dy, x, gamma, mean, invstd, dgamma=None, dbeta=None, dx=None):
        """The sums over rows in one read of ``dy`` and ``x``, then ``dx`` in another.

        See Also
        --------
        nnfast.backend.ops_normalization.NormalizationOps.batch_norm_backward : parameters and
            return value.
        """
        op = "batch_norm_backward"
        dtype = float_dtype(x)
        if dtype is None:
            return super().batch_norm_backward(dy, x, gamma, mean, invstd, dgamma=dgamma,
                                               dbeta=dbeta, dx=dx)
        return _backward(op, dtype, dy, x, gamma, {"mean": mean, "invstd": invstd}, dgamma,
                         dbeta, dx, batch_stats=True)

    def batch_norm_inference_backward(self, dy, x, gamma, moving_mean, moving_variance, epsilon,
                                      dgamma=None, dbeta=None, dx=None):
        """The per-channel affine map's gradients: the sums in one read, ``dx`` in another.

        See Also
        --------
        nnfast.backend.ops_normalization.NormalizationOps.batch_norm_inference_backward :
            parameters and return value.
        """
        op = "batch_norm_inference_backward"
        dtype = float_dtype(x)
        if dtype is None:
            return super().batch_norm_inference_backward(dy, x, gamma, moving_mean,
                                                         moving_variance, epsilon, dgamma=dgamma,
                                                         dbeta=dbeta, dx=dx)
        return _backward(op, dtype, dy, x, gamma,
                         {"moving_mean": moving_mean, "moving_variance": moving_variance},
                         dgamma, dbeta, dx, batch_stats=False, epsilon=epsilon)


def _backward(op, dtype, dy, x, gamma, stats, dgamma, dbeta, dx, batch_stats, epsilon=None):
    """Check the arguments of a batch-norm backward op, then run the kernel.

    ``stats`` holds the two per-channel statistics by name: the batch's
    ``mean`` and ``invstd`` (``batch_stats``), or the moving mean and
    variance (then ``invstd`` is taken from the variance and ``epsilon``).
    """
    m, c = _rows(op, "x", x)
    if not (isinstance(dy, np.ndarray) and dy.dtype == dtype and dy.shape == (m, c)):
        raise ValueError(f"{op}: dy must be a {dtype.name} array of the shape of x, "
                         f"{(m, c)}, got {_describe(dy)}")
    dy_in, x_in = dy, x
    dy, x = c_order(dy), c_order(x)
    gamma = _channel_input(op, "gamma", gamma, dtype, c)
    (name0, mean), (name1, second) = stats.items()
    mean = _channel_input(op, name0, mean, dtype, c)
    second = _channel_input(op, name1, second, dtype, c)
    inputs = [dy_in, x_in, gamma, mean, second]
    written = []
    if dgamma is not None:
        dgamma = _output(op, "dgamma", dgamma, dtype, (c,), written, inputs)
    if dbeta is not None:
        dbeta = _output(op, "dbeta", dbeta, dtype, (c,), written, inputs)
    want_dx = dx is not False
    if dx is None:
        dx = np.empty((m, c), dtype)
    elif want_dx:
        dx = _output(op, "dx", dx, dtype, (m, c), written, inputs, alias=dy_in)
    invstd = second if batch_stats else (
        1.0 / np.sqrt(second.astype(np.float64) + epsilon)).astype(dtype)
    work = np.empty(_normalization.work_size(m, c))
    _normalization.batch_norm_backward(dy, x, gamma, mean, invstd, dgamma, dbeta,
                                       dx if want_dx else None, batch_stats, work,
                                       elementwise_threads(x.size))
    return dx if want_dx else None


# ------------------------------------------------------------------ network node
def _batch_norm_node(spec, dtype, fused_output):
    in_shape = tuple(spec["in_shape"])
    c = in_shape[-1] if in_shape else 0
    if c < 1 or tuple(spec["out_shape"]) != in_shape:
        return None
    for name in ("gamma", "beta", "moving_mean", "moving_variance", "dgamma", "dbeta"):
        array = spec[name]
        if array is None and name in ("dgamma", "dbeta"):
            continue
        if not (is_out(array, dtype) and array.shape == (c,)):
            return None
    return _normalization.BatchNormNode(
        math.prod(in_shape), spec["gamma"], spec["beta"], spec["dgamma"], spec["dbeta"],
        spec["moving_mean"], spec["moving_variance"], float(spec["momentum"]),
        float(spec["epsilon"]), bool(spec["use_batch_stats"]))


register_node_maker("batch_norm", _batch_norm_node)
