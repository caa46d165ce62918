"""Reference dense-network operations: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_dense.CpuDenseOps` overrides the hot
paths and is tested against these methods.

Conventions: matrices are row-major with samples along the first axis;
``out=`` lets callers reuse buffers (``out`` may alias an input where a
docstring says so); optimizer updates modify their parameter and state
arrays in place.
"""
from ._base import BaseOps

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "softmax")


def check_activation(name):
    """Raise ``ValueError`` unless ``name`` is a known activation."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    return name


class DenseOps(BaseOps):
    """Matrix products, activations, losses and optimizer updates."""

    # ----------------------------------------------------------------- products
    def gemm(self, a, b, out=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """``out = alpha * op(a) @ op(b) + beta * out``.

        Parameters
        ----------
        a : ndarray of shape (m, k), or (k, m) when ``trans_a``
        b : ndarray of shape (k, n), or (n, k) when ``trans_b``
        out : ndarray of shape (m, n), optional
            Required when ``beta`` is not 0.

        Returns
        -------
        ndarray of shape (m, n)
        """
        a = a.T if trans_a else a
        b = b.T if trans_b else b
        prod = a @ b
        if alpha != 1.0:
            prod *= alpha
        if out is None:
            return prod
        if beta == 0.0:
            out[...] = prod
        else:
            out *= beta
            out += prod
        return out

    def affine(self, x, w, b, out=None):
        """``out = x @ w + b``.

        Parameters
        ----------
        x : ndarray of shape (n_samples, n_in)
        w : ndarray of shape (n_in, n_out)
        b : ndarray of shape (n_out,)
        out : ndarray of shape (n_samples, n_out), optional

        Returns
        -------
        ndarray of shape (n_samples, n_out)
        """
        if out is None:
            out = self.alloc((x.shape[0], w.shape[1]), dtype=x.dtype, zeros=False)
        out[...] = b
        return self.gemm(x, w, out=out, beta=1.0)

    def backprop_affine(self, dz, x, w, dw, db, dx=None):
        """Gradients of ``z = x @ w + b`` given ``dz``.

        Writes ``dw = x.T @ dz`` and ``db = dz.sum(0)`` in place and returns
        ``dx = dz @ w.T`` (into ``dx`` when given; skipped when ``dx`` is
        False, as for the first layer).

        Parameters
        ----------
        dz : ndarray of shape (n_samples, n_out)
        x : ndarray of shape (n_samples, n_in)
        w : ndarray of shape (n_in, n_out)
        dw : ndarray of shape (n_in, n_out)
        db : ndarray of shape (n_out,)
        dx : ndarray of shape (n_samples, n_in), None or False

        Returns
        -------
        ndarray of shape (n_samples, n_in), or None when ``dx`` is False
        """
        self.gemm(x, dz, out=dw, trans_a=True)
        self.sum_rows(dz, out=db)
        if dx is False:
            return None
        return self.gemm(dz, w, out=dx, trans_b=True)

    def dense_stack(self, weights, biases, weight_grads, bias_grads, activations, loss,
                    fused):
        """A fused training step for a stack of dense layers, or None.

        Backends that can run the forward pass, the loss and the backward pass
        of a whole stack of ``Dense`` layers in one call return an object
        whose ``train_step(x, targets, rows=None)`` returns ``(loss,
        output)`` and writes every gradient, exactly as the layers and the
        loss would one after the other.  The reference returns None: its
        layers and losses, called one at a time, are the definition that
        fused steps are tested against.

        Parameters
        ----------
        weights, weight_grads : list of ndarray of shape (n_in, n_out)
            One per layer, each layer's ``n_in`` the previous one's ``n_out``.
        biases, bias_grads : list of ndarray of shape (n_out,)
        activations : list of str
            Each layer's activation.
        loss : {'cross_entropy', 'binary_cross_entropy', 'mean_squared_error'}
        fused : bool
            Whether the output layer's activation (softmax or sigmoid) is
            folded into the cross-entropy, which then takes the logits.

        Returns
        -------
        object or None
        """
        return None

    def sum_rows(self, x, out=None):
        """Column sums of ``x`` (sum over samples): ndarray of shape (n_cols,)."""
        if out is None:
            return x.sum(axis=0)
        out[...] = x.sum(axis=0)
        return out

    # -------------------------------------------------------------- activations
    def activation(self, z, name, out=None):
        """Apply the activation ``name`` to ``z`` (``out`` may be ``z`` itself).

        Parameters
        ----------
        z : ndarray of shape (n_samples, n_units)
        name : {'identity', 'sigmoid', 'tanh', 'relu', 'softmax'}
            Softmax is taken along the last axis.

        Returns
        -------
        ndarray of shape (n_samples, n_units)
        """
        xp = self.xp
        check_activation(name)
        if name == "softmax":
            return self.softmax(z, out=out)
        if out is None:
            out = xp.empty_like(z)
        if name == "identity":
            if out is not z:
                out[...] = z
        elif name == "sigmoid":
            out[...] = self._sigmoid(z)
        elif name == "tanh":
            xp.tanh(z, out=out)
        elif name == "relu":
            xp.maximum(z, 0, out=out)
        return out

    def backprop_activation(self, dy, y, name, out=None):
        """Gradient with respect to the pre-activation, from the output ``y``.

        Parameters
        ----------
        dy : ndarray of shape (n_samples, n_units)
            Gradient with respect to the activation's output.
        y : ndarray of shape (n_samples, n_units)
            The activation's output.
        name : str
        out : ndarray, optional
            May be ``dy`` itself.

        Returns
        -------
        ndarray of shape (n_samples, n_units)
        """
        xp = self.xp
        check_activation(name)
        if name == "identity":
            grad = dy
        elif name == "sigmoid":
            grad = dy * y * (1 - y)
        elif name == "tanh":
            grad = dy * (1 - y * y)
        elif name == "relu":
            grad = dy * (y > 0)
        else:  # softmax
            grad = y * (dy - (dy * y).sum(axis=-1, keepdims=True))
        if out is None:
            return xp.array(grad, dtype=dy.dtype, copy=True)
        out[...] = grad
        return out

    def softmax(self, z, out=None):
        """Row-wise softmax of ``z`` (``out`` may be ``z``)."""
        xp = self.xp
        shifted = z - z.max(axis=-1, keepdims=True)
        e = xp.exp(shifted)
        e /= e.sum(axis=-1, keepdims=True)
        if out is None:
            return e
        out[...] = e
        return out

    # -------------------------------------------------------------------- losses
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
        loss : float
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
            loss = float((log_z[:, 0] - shifted[rows, targets]).sum()) / n
            probs[rows, targets] -= 1
        else:
            loss = float((targets * (log_z - shifted)).sum()) / n
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
        loss : float
            Mean over all elements of
            ``max(z, 0) - z * t + log(1 + exp(-|z|))``.
        grad : ndarray of shape (n_samples, n_outputs)
            ``(sigmoid(z) - t) / logits.size``.
        """
        z = logits
        loss = float((self._softplus(z) - z * targets).sum()) / z.size
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
        loss : float
            ``mean((pred - targets) ** 2)``.
        grad : ndarray of shape (n_samples, n_outputs)
            ``2 * (pred - targets) / pred.size``.
        """
        diff = pred - targets
        loss = float((diff * diff).sum()) / pred.size
        grad = diff * (2.0 / pred.size)
        if grad_out is None:
            return loss, grad.astype(pred.dtype, copy=False)
        grad_out[...] = grad
        return loss, grad_out

    # ------------------------------------------------------------------ dropout
    def dropout_mask(self, rng, shape, rate, dtype="float32"):
        """Inverted-dropout mask: 0 with probability ``rate``, else ``1 / (1 - rate)``."""
        keep = self.random_uniform(rng, shape, dtype=dtype) >= rate
        return (keep * (1.0 / (1.0 - rate))).astype(dtype, copy=False)

    def multiply(self, a, b, out=None):
        """Elementwise product ``a * b`` (``out`` may be ``a``)."""
        return self.xp.multiply(a, b, out=out)

    # --------------------------------------------------------------- optimizers
    # Each update but AdamW's adds ``weight_decay * param`` to the gradient
    # first (L2 regularisation) and then modifies ``param`` and its state in
    # place.
    def _decayed(self, param, grad, weight_decay):
        return grad + weight_decay * param if weight_decay else grad

    def sgd_update(self, param, grad, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        """Stochastic gradient descent with optional (Nesterov) momentum.

        ``v = momentum * v - lr * g``; ``param += v`` (classic) or
        ``param += momentum * v - lr * g`` (Nesterov).  Without momentum:
        ``param -= lr * g`` and ``velocity`` is not used (may be None).
        """
        g = self._decayed(param, grad, weight_decay)
        if momentum == 0.0:
            param -= lr * g
            return
        velocity *= momentum
        velocity -= lr * g
        if nesterov:
            param += momentum * velocity - lr * g
        else:
            param += velocity

    def adam_update(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        """Adam (Kingma & Ba) with bias correction; ``step`` counts from 1.

        ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
        ``param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
        """
        xp = self.xp
        g = self._decayed(param, grad, weight_decay)
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** step)
        v_hat = v / (1 - beta2 ** step)
        param -= lr * m_hat / (xp.sqrt(v_hat) + eps)

    def adamw_update(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        """Adam with decoupled weight decay: ``param *= 1 - lr * weight_decay``, then Adam on ``grad``.

        The decay shrinks the parameter directly instead of joining the
        gradient, so Adam's moments never see it.
        """
        if weight_decay:
            param *= 1 - lr * weight_decay
        self.adam_update(param, grad, m, v, lr, beta1, beta2, eps, step)

    def rmsprop_update(self, param, grad, sq, lr, rho, eps, weight_decay=0.0):
        """RMSprop: ``s = rho s + (1 - rho) g^2``; ``param -= lr g / (sqrt(s) + eps)``."""
        xp = self.xp
        g = self._decayed(param, grad, weight_decay)
        sq *= rho
        sq += (1 - rho) * g * g
        param -= lr * g / (xp.sqrt(sq) + eps)

    def adagrad_update(self, param, grad, acc, lr, eps, weight_decay=0.0):
        """Adagrad: ``a += g^2``; ``param -= lr g / (sqrt(a) + eps)``."""
        xp = self.xp
        g = self._decayed(param, grad, weight_decay)
        acc += g * g
        param -= lr * g / (xp.sqrt(acc) + eps)

    def adadelta_update(self, param, grad, acc_grad, acc_delta, lr, rho, eps, weight_decay=0.0):
        """Adadelta (Zeiler 2012) scaled by ``lr``.

        ``Eg = rho Eg + (1 - rho) g^2``;
        ``d = sqrt(Ed + eps) / sqrt(Eg + eps) * g``;
        ``Ed = rho Ed + (1 - rho) d^2``; ``param -= lr d``.
        """
        xp = self.xp
        g = self._decayed(param, grad, weight_decay)
        acc_grad *= rho
        acc_grad += (1 - rho) * g * g
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(acc_grad + eps) * g
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= lr * delta
