"""Reference optimizer updates: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_updates.CpuUpdateOps` overrides them and is
tested against these methods.  Conventions: matrices are row-major with
samples along the first axis; ``out=`` lets callers reuse buffers (``out``
may alias an input where a docstring says so).
"""
from ._base import BaseOps


class UpdateOps(BaseOps):
    """Optimizer updates, applied to a parameter and its state in place."""

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
