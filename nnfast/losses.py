"""Loss functions.

A loss maps the network's output and the targets to a scalar and returns the
gradient with respect to that output in the same call.  Cross-entropy losses
work on logits: when the output layer ends with the matching activation
(softmax for :class:`CrossEntropy`, sigmoid for :class:`BinaryCrossEntropy`),
the model hands the loss that layer's pre-activation, which is both cheaper
and numerically safer than differentiating through the activation.

Outputs may have any shape (n_samples, ...).  The cross-entropy takes the
classes along the last axis and averages over every other position; the
elementwise losses average over every output value.
"""
import numpy as np

from ._validation import value_range


class Loss:
    """Base class.

    Attributes
    ----------
    name : str
    fuses : str or None
        The output activation this loss absorbs (its gradient is taken with
        respect to that activation's input).
    accepts_outputs : tuple of str or None
        Output activations this loss works with (None: any).
    """

    name = None
    fuses = None
    accepts_outputs = None

    def __call__(self, ops, output, targets, grad_out=None):
        """Return ``(loss, gradient)`` for a batch.

        Parameters
        ----------
        ops : Ops
        output : ndarray of shape (n_samples, ...)
            Logits for fused losses, the network's output otherwise
            (C-contiguous).
        targets : ndarray
            As returned by :meth:`prepare_targets`.
        grad_out : ndarray of the shape of ``output``, optional
            C-contiguous.

        Returns
        -------
        loss : float
            Mean loss over the batch.
        grad : ndarray of the shape of ``output``
        """
        if grad_out is not None and not grad_out.flags.c_contiguous:
            loss, grad = self(ops, output, targets)
            grad_out[...] = grad
            return loss, grad_out
        shape = output.shape
        rows = self._rows(output)
        loss, grad = self._compute(ops, output.reshape(rows), targets.reshape(
            self._target_rows(targets, rows)), None if grad_out is None else grad_out.reshape(rows))
        return loss, grad.reshape(shape)

    def _rows(self, output):
        """The 2-D shape the kernels see: one row per sample, every output value a column."""
        return (output.shape[0], -1)

    def _target_rows(self, targets, rows):
        return rows

    def prepare_targets(self, y, output_shape, dtype, check_values=True):
        """Validate targets and convert them to the form the loss consumes.

        Parameters
        ----------
        y : array-like of shape (n_samples, *output_shape)
            (n_samples,) or (n_samples, size) are accepted too where they
            hold one value per output.
        output_shape : tuple of int or int
            The shape of one sample of the model's output.
        dtype : numpy dtype
        check_values : bool
            False skips the pass over the values (finite, and in the range
            the loss needs), for targets an estimator has checked already.
        """
        output_shape = _shape(output_shape)
        size = int(np.prod(output_shape))
        y = np.asarray(y)
        if y.ndim >= 1 and (y.shape[1:] == output_shape or (
                y.ndim <= 2 and int(np.prod(y.shape[1:])) == size)):
            y = y.reshape((len(y),) + output_shape)
        else:
            hint = " or (n_samples,)" if size == 1 else ""
            raise ValueError(f"{self.name} expects targets of shape (n_samples, "
                             f"{', '.join(map(str, output_shape))}){hint}, got shape {y.shape}")
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{self.name} expects numeric targets, got dtype {y.dtype}")
        y = np.ascontiguousarray(y, dtype=dtype)
        if check_values and y.size:
            self._check_target_range(*value_range(y))
        return y

    def _check_target_range(self, low, high):
        """Raise unless targets whose values run from ``low`` to ``high`` suit the loss."""
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError("targets contain NaN or infinite values")

    def check_output_activation(self, activation):
        """Raise when the model's output activation does not suit this loss."""
        if self.accepts_outputs is not None and activation not in self.accepts_outputs:
            raise ValueError(f"loss {self.name!r} needs an output layer with activation "
                             f"{' or '.join(map(repr, self.accepts_outputs))}, got {activation!r}")

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class CrossEntropy(Loss):
    """Categorical cross-entropy of softmax outputs.

    Targets are integer class indices of shape (n_samples,) (Keras'
    'sparse_categorical_crossentropy') or class probabilities / one-hot rows
    of shape (n_samples, n_classes) ('categorical_crossentropy').  The output
    layer must end with softmax (fused) or be linear (its outputs are taken as
    logits).
    """

    name = "cross_entropy"
    fuses = "softmax"
    accepts_outputs = ("softmax", "identity")

    def _compute(self, ops, logits, targets, grad_out=None):
        return ops.softmax_cross_entropy(logits, targets, grad_out=grad_out)

    def _rows(self, output):
        # Classes along the last axis; every other position is a sample of the mean.
        return (-1, output.shape[-1])

    def _target_rows(self, targets, rows):
        return rows if targets.dtype.kind == "f" else (-1,)

    def prepare_targets(self, y, output_shape, dtype, check_values=True):
        output_shape = _shape(output_shape)
        n_classes, label_shape = output_shape[-1], output_shape[:-1]
        y = np.asarray(y)
        if y.ndim >= 1 and y.shape[1:] == label_shape + (1,):
            y = y.reshape(y.shape[:-1])
        if y.ndim >= 1 and y.shape[1:] == label_shape:
            if y.dtype.kind == "f":
                if not np.isfinite(y).all() or np.any(y != np.round(y)):
                    raise ValueError("cross-entropy with class-index targets expects integers")
            elif y.dtype.kind not in "biu":
                raise TypeError(f"cross-entropy expects integer class indices, got dtype {y.dtype}")
            if y.size and (y.min() < 0 or y.max() >= n_classes):
                raise ValueError(f"class indices must lie in [0, {n_classes}), got values in "
                                 f"[{y.min()}, {y.max()}]")
            return np.ascontiguousarray(y, dtype=np.intp)
        if y.ndim >= 1 and y.shape[1:] == output_shape:
            if y.dtype.kind not in "biuf":
                raise TypeError(f"cross-entropy expects numeric target probabilities, got dtype {y.dtype}")
            y = np.ascontiguousarray(y, dtype=dtype)
            if check_values and y.size:
                low, high = value_range(y)
                if not (np.isfinite(low) and np.isfinite(high)) or low < 0:
                    raise ValueError("target probabilities must be finite and non-negative")
            return y
        labels = ", ".join(map(str, ("n_samples",) + label_shape))
        probs = ", ".join(map(str, ("n_samples",) + output_shape))
        raise ValueError(f"cross-entropy targets must have shape ({labels}) (class indices) or "
                         f"({probs}) (class probabilities), got {y.shape}")


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy of sigmoid outputs, averaged over every output.

    Targets in [0, 1] of the output's shape (or (n_samples,) for
    one output).  The output layer must end with sigmoid (fused) or be linear
    (logits).
    """

    name = "binary_cross_entropy"
    fuses = "sigmoid"
    accepts_outputs = ("sigmoid", "identity")

    def _compute(self, ops, logits, targets, grad_out=None):
        return ops.sigmoid_binary_cross_entropy(logits, targets, grad_out=grad_out)

    def _check_target_range(self, low, high):
        super()._check_target_range(low, high)
        if low < 0 or high > 1:
            raise ValueError("binary cross-entropy targets must lie in [0, 1]")


class MeanSquaredError(Loss):
    """Mean of squared differences over every output (any output activation)."""

    name = "mean_squared_error"

    def _compute(self, ops, output, targets, grad_out=None):
        return ops.mean_squared_error(output, targets, grad_out=grad_out)


_LOSSES = {
    "cross_entropy": CrossEntropy, "categorical_crossentropy": CrossEntropy,
    "sparse_categorical_crossentropy": CrossEntropy, "crossentropy": CrossEntropy,
    "binary_cross_entropy": BinaryCrossEntropy, "binary_crossentropy": BinaryCrossEntropy,
    "bce": BinaryCrossEntropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
}


def get_loss(loss):
    """Return a :class:`Loss` for a name or an instance.

    Names: 'cross_entropy' (also 'categorical_crossentropy',
    'sparse_categorical_crossentropy'), 'binary_cross_entropy' (also
    'binary_crossentropy', 'bce'), 'mean_squared_error' (also 'mse').
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in _LOSSES:
        return _LOSSES[loss.lower()]()
    raise ValueError(f"unknown loss {loss!r}; expected a Loss or one of {sorted(_LOSSES)}")


def _shape(output_shape):
    if isinstance(output_shape, (int, np.integer)):
        return (int(output_shape),)
    return tuple(int(s) for s in output_shape)


__all__ = ["Loss", "CrossEntropy", "BinaryCrossEntropy", "MeanSquaredError", "get_loss"]
