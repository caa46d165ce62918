"""Compiled activations and their gradients (kernels in ``nnfast._activations``).

The exponential (sigmoid, softmax) and tanh run code compiled for the widest
instruction set the CPU has (``nnfast._simd``).  See
:mod:`nnfast.backend.cpu_arrays` for the checks made before a kernel runs.
"""
import numpy as np

from .. import _activations
from ._threads import elementwise_threads
from .cpu_arrays import c_order, check_out_shape, check_same_shape, float_dtype, is_out, rows_of
from .ops_activations import check_activation

#: Activation codes of the compiled kernels.
ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4}


class CpuActivationOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_activations.ActivationOps`, a mixin of ``CpuOps``.

    Every method falls back to the reference through ``super()`` when the
    kernels cannot take the arguments as given.
    """

    def activation(self, z, name, out=None):
        """Apply the activation ``name`` to ``z`` in one pass (``out`` may be ``z`` itself).

        See Also
        --------
        nnfast.backend.ops_activations.ActivationOps.activation : parameters and return value.

        """
        check_activation(name)
        dtype = float_dtype(z)
        if (dtype is None or z.ndim == 0 or z.size == 0
                or (out is not None and not is_out(out, dtype))):
            return super().activation(z, name, out=out)
        if out is None:
            out = np.empty(z.shape, dtype=dtype)
        else:
            check_out_shape("activation", "out", out, z.shape)
            if out is not z and np.may_share_memory(out, z):
                return super().activation(z, name, out=out)
        _activations.activation(rows_of(c_order(z)), rows_of(out), ACTIVATION_CODES[name],
                          elementwise_threads(z.size))
        return out

    def backprop_activation(self, dy, y, name, out=None):
        """Gradient with respect to the pre-activation, in one pass (``out`` may be ``dy``).

        See Also
        --------
        nnfast.backend.ops_activations.ActivationOps.backprop_activation : parameters and return value.
        """
        check_activation(name)
        dtype = float_dtype(dy, y)
        if (dtype is None or dy.ndim == 0 or dy.size == 0
                or (out is not None and not is_out(out, dtype))):
            return super().backprop_activation(dy, y, name, out=out)
        check_same_shape("backprop_activation", "y", y, "dy", dy)
        if out is None:
            out = np.empty(dy.shape, dtype=dtype)
        else:
            check_out_shape("backprop_activation", "out", out, dy.shape)
            # Each element (each row for softmax) is read before it is written,
            # so out may be exactly dy or y but must not partly overlap them.
            if ((out is not dy and np.may_share_memory(out, dy))
                    or (out is not y and np.may_share_memory(out, y))):
                return super().backprop_activation(dy, y, name, out=out)
        _activations.backprop_activation(rows_of(c_order(dy)), rows_of(c_order(y)), rows_of(out),
                                   ACTIVATION_CODES[name], elementwise_threads(dy.size))
        return out

    def softmax(self, z, out=None):
        """Row-wise softmax of ``z``, shifted by each row's maximum (``out`` may be ``z``).

        See Also
        --------
        nnfast.backend.ops_activations.ActivationOps.softmax : parameters and return value.
        """
        dtype = float_dtype(z)
        if (dtype is None or z.ndim == 0 or z.size == 0
                or (out is not None and not is_out(out, dtype))):
            return super().softmax(z, out=out)
        if out is None:
            out = np.empty(z.shape, dtype=dtype)
        else:
            check_out_shape("softmax", "out", out, z.shape)
            if out is not z and np.may_share_memory(out, z):
                return super().softmax(z, out=out)
        _activations.activation(rows_of(c_order(z)), rows_of(out), ACTIVATION_CODES["softmax"],
                          elementwise_threads(z.size))
        return out
