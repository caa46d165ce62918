"""Loss functions.

A loss maps the network's output and the targets to a scalar and returns the
gradient with respect to that output in the same call.  Cross-entropy losses
work on logits: when the output layer ends with the matching activation
(softmax for :class:`CrossEntropy`, sigmoid for :class:`BinaryCrossEntropy`),
the model hands the loss that layer's pre-activation, which is both cheaper
and numerically safer than differentiating through the activation.
"""
import numpy as np


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
        output : ndarray of shape (n_samples, n_outputs)
            Logits for fused losses, the network's output otherwise.
        targets : ndarray
            As returned by :meth:`prepare_targets`.
        grad_out : ndarray of shape (n_samples, n_outputs), optional

        Returns
        -------
        loss : float
            Mean loss over the batch.
        grad : ndarray of shape (n_samples, n_outputs)
        """
        return self._compute(ops, output, targets, grad_out)

    def prepare_targets(self, y, n_outputs, dtype):
        """Validate targets and convert them to the form the loss consumes."""
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(f"{self.name} expects targets of shape (n_samples, {n_outputs})"
                             f"{' or (n_samples,)' if n_outputs == 1 else ''}, got shape {y.shape}")
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{self.name} expects numeric targets, got dtype {y.dtype}")
        y = np.ascontiguousarray(y, dtype=dtype)
        if not np.isfinite(y).all():
            raise ValueError("targets contain NaN or infinite values")
        return y

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

    def prepare_targets(self, y, n_outputs, dtype):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim == 1:
            if y.dtype.kind == "f":
                if not np.isfinite(y).all() or np.any(y != np.round(y)):
                    raise ValueError("cross-entropy with 1-D targets expects integer class indices")
            elif y.dtype.kind not in "biu":
                raise TypeError(f"cross-entropy expects integer class indices, got dtype {y.dtype}")
            if y.size and (y.min() < 0 or y.max() >= n_outputs):
                raise ValueError(f"class indices must lie in [0, {n_outputs}), got values in "
                                 f"[{y.min()}, {y.max()}]")
            return np.ascontiguousarray(y, dtype=np.intp)
        if y.ndim == 2:
            if y.shape[1] != n_outputs:
                raise ValueError(f"one-hot targets must have {n_outputs} columns, got shape {y.shape}")
            y = np.ascontiguousarray(y, dtype=dtype)
            if not np.isfinite(y).all() or y.min() < 0:
                raise ValueError("target probabilities must be finite and non-negative")
            return y
        raise ValueError(f"cross-entropy targets must have shape (n_samples,) or "
                         f"(n_samples, {n_outputs}), got {y.shape}")


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy of sigmoid outputs, averaged over every output.

    Targets in [0, 1] of shape (n_samples, n_outputs) (or (n_samples,) for
    one output).  The output layer must end with sigmoid (fused) or be linear
    (logits).
    """

    name = "binary_cross_entropy"
    fuses = "sigmoid"
    accepts_outputs = ("sigmoid", "identity")

    def _compute(self, ops, logits, targets, grad_out=None):
        return ops.sigmoid_binary_cross_entropy(logits, targets, grad_out=grad_out)

    def prepare_targets(self, y, n_outputs, dtype):
        y = super().prepare_targets(y, n_outputs, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError("binary cross-entropy targets must lie in [0, 1]")
        return y


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


__all__ = ["Loss", "CrossEntropy", "BinaryCrossEntropy", "MeanSquaredError", "get_loss"]
