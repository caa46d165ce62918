"""Reference losses: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_losses.CpuLossOps` overrides them and is
tested against these methods.  Conventions: matrices are row-major with
samples along the first axis; ``out=`` lets callers reuse buffers (``out``
may alias an input where a docstring says so).  A loss comes back as a 0-d
array of the backend, so that a training step on a GPU never waits to read it
(the compiled losses return floats).
"""
from ._base import BaseOps


class LossOps(BaseOps):
    """Losses, each with its gradient in the same call."""

    def softmax_cross_entropy(self, logits, targets, grad_out=None):
        """Mean cross-entropy of ``softmax(logits)`` and its gradient in one pass.

        Parameters
        ----------
        logits : ndarray of shape (n_samples, n_classes)
        targets : ndarray of shape (n_samples,) of integer class indices, or
            ndarray of shape (n_samples, n_classes) of target probabilities
        grad_out : ndarray of shape (n_samples, n_classes), optional

        Returns
        -------
        loss : 0-d array
            ``mean_i(logsumexp(z_i) - sum_c t_ic z_ic)``.
        grad : ndarray of shape (n_samples, n_classes)
            ``(softmax(z) - t) / n_samples``.
        """
        xp = self.xp
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        log_z = xp.log(s)
        probs = e / s
        if targets.ndim == 1:
            rows = xp.arange(n)
            loss = (log_z[:, 0] - shifted[rows, targets]).sum() / n
            probs[rows, targets] -= 1
        else:
            loss = (targets * (log_z - shifted)).sum() / n
            probs -= targets
        probs /= n
        if grad_out is None:
            return loss, probs.astype(logits.dtype, copy=False)
        grad_out[...] = probs
        return loss, grad_out

    def sigmoid_binary_cross_entropy(self, logits, targets, grad_out=None):
        """Mean binary cross-entropy of ``sigmoid(logits)`` and its gradient.

        Parameters
        ----------
        logits : ndarray of shape (n_samples, n_outputs)
        targets : ndarray of shape (n_samples, n_outputs) with values in [0, 1]
        grad_out : ndarray of shape (n_samples, n_outputs), optional

        Returns
        -------
        loss : 0-d array
            Mean over all elements of
            ``max(z, 0) - z * t + log(1 + exp(-|z|))``.
        grad : ndarray of shape (n_samples, n_outputs)
            ``(sigmoid(z) - t) / logits.size``.
        """
        z = logits
        loss = (self._softplus(z) - z * targets).sum() / z.size
        grad = (self._sigmoid(z) - targets) / z.size
        if grad_out is None:
            return loss, grad.astype(z.dtype, copy=False)
        grad_out[...] = grad
        return loss, grad_out

    def mean_squared_error(self, pred, targets, grad_out=None):
        """Mean squared error over all elements and its gradient.

        Parameters
        ----------
        pred, targets : ndarray of shape (n_samples, n_outputs)
        grad_out : ndarray of shape (n_samples, n_outputs), optional

        Returns
        -------
        loss : 0-d array
            ``mean((pred - targets) ** 2)``.
        grad : ndarray of shape (n_samples, n_outputs)
            ``2 * (pred - targets) / pred.size``.
        """
        diff = pred - targets
        loss = (diff * diff).sum() / pred.size
        grad = diff * (2.0 / pred.size)
        if grad_out is None:
            return loss, grad.astype(pred.dtype, copy=False)
        grad_out[...] = grad
        return loss, grad_out
