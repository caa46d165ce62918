"""Compiled losses with their gradients in one pass (kernels in ``nnfast._losses``).

See :mod:`nnfast.backend.cpu_arrays` for the checks made before a kernel runs.
"""
import numpy as np

from .. import _losses
from ._threads import elementwise_threads
from .cpu_arrays import INTP, c_order, check_out_shape, check_same_shape, flat, float_dtype, is_out


def _pointwise_loss(op, name, kernel, x, targets, grad_out):
    """``(mean loss, gradient)`` of a loss taken element by element, or None.

    ``kernel`` is the compiled loss (``x`` and ``targets`` of one shape);
    None means the arrays are not for the kernels and the reference must run.
    """
    dtype = float_dtype(x, targets)
    if dtype is None or x.size == 0 or (grad_out is not None and not is_out(grad_out, dtype)):
        return None
    check_same_shape(op, "targets", targets, name, x)
    if grad_out is None:
        grad_out = np.empty(x.shape, dtype=dtype)
    else:
        check_out_shape(op, "grad_out", grad_out, x.shape)
        if ((grad_out is not x and np.may_share_memory(grad_out, x))
                or (grad_out is not targets and np.may_share_memory(grad_out, targets))):
            return None
    total = kernel(flat(c_order(x)), flat(c_order(targets)), flat(grad_out), elementwise_threads(x.size))
    return total / x.size, grad_out


class CpuLossOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_losses.LossOps`, a mixin of ``CpuOps``.

    Every method falls back to the reference through ``super()`` when the
    kernels cannot take the arguments as given.
    """

    def softmax_cross_entropy(self, logits, targets, grad_out=None):
        """Mean softmax cross-entropy and its gradient in one pass over the logits.

        See Also
        --------
        nnfast.backend.ops_losses.LossOps.softmax_cross_entropy : parameters and return value.

        Notes
        -----
        Integer labels must lie in ``[0, n_classes)``; otherwise ``ValueError``
        is raised before anything is written (the kernel checks the range
        without the GIL).  ``grad_out`` may be ``logits`` itself.
        """
        dtype = float_dtype(logits)
        if (dtype is None or logits.ndim != 2 or logits.size == 0
                or type(targets) is not np.ndarray
                or (grad_out is not None and not is_out(grad_out, dtype))):
            return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
        n_samples = logits.shape[0]
        if targets.ndim == 1:
            if targets.dtype.kind not in "iu":
                return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
            if targets.shape[0] != n_samples:
                raise ValueError(f"softmax_cross_entropy: targets has shape {targets.shape} "
                                 f"but logits has shape {logits.shape}; expected "
                                 f"({n_samples},) integer labels")
        elif targets.ndim == 2:
            if targets.dtype != dtype:
                return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
            check_same_shape("softmax_cross_entropy", "targets", targets, "logits", logits)
        else:
            raise ValueError(f"softmax_cross_entropy: targets has shape {targets.shape}; "
                             f"expected ({n_samples},) labels or {logits.shape} probabilities")
        if grad_out is None:
            grad_out = np.empty(logits.shape, dtype=dtype)
        else:
            check_out_shape("softmax_cross_entropy", "grad_out", grad_out, logits.shape)
            if ((grad_out is not logits and np.may_share_memory(grad_out, logits))
                    or np.may_share_memory(grad_out, targets)):
                return super().softmax_cross_entropy(logits, targets, grad_out=grad_out)
        n_threads = elementwise_threads(logits.size)
        if targets.ndim == 1:
            if targets.dtype != INTP or not targets.flags.c_contiguous:
                # Wider unsigned values wrap to negatives here and are rejected.
                targets = targets.astype(INTP, order="C")
            total = _losses.softmax_cross_entropy_labels(c_order(logits), targets, grad_out, n_threads)
        else:
            total = _losses.softmax_cross_entropy_probs(c_order(logits), c_order(targets), grad_out,
                                                       n_threads)
        return total / n_samples, grad_out

    def sigmoid_binary_cross_entropy(self, logits, targets, grad_out=None):
        """Mean binary cross-entropy of ``sigmoid(logits)`` and its gradient in one pass.

        See Also
        --------
        nnfast.backend.ops_losses.LossOps.sigmoid_binary_cross_entropy :
            parameters and return value.

        Notes
        -----
        ``targets`` must have the shape of ``logits`` (no broadcasting);
        ``grad_out`` may be ``logits`` or ``targets``.
        """
        result = _pointwise_loss("sigmoid_binary_cross_entropy", "logits",
                                 _losses.sigmoid_binary_cross_entropy, logits, targets, grad_out)
        if result is None:
            return super().sigmoid_binary_cross_entropy(logits, targets, grad_out=grad_out)
        return result

    def mean_squared_error(self, pred, targets, grad_out=None):
        """Mean squared error and its gradient in one pass.

        See Also
        --------
        nnfast.backend.ops_losses.LossOps.mean_squared_error : parameters and return value.

        Notes
        -----
        ``targets`` must have the shape of ``pred`` (no broadcasting);
        ``grad_out`` may be ``pred`` or ``targets``.
        """
        result = _pointwise_loss("mean_squared_error", "pred", _losses.mean_squared_error,
                                 pred, targets, grad_out)
        if result is None:
            return super().mean_squared_error(pred, targets, grad_out=grad_out)
        return result
