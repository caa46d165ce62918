"""Reference activations: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_activations.CpuActivationOps` overrides them and is
tested against these methods.  Conventions: matrices are row-major with
samples along the first axis; ``out=`` lets callers reuse buffers (``out``
may alias an input where a docstring says so).
"""
from ._base import BaseOps

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "softmax")


def check_activation(name):
    """Raise ``ValueError`` unless ``name`` is a known activation."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    return name


class ActivationOps(BaseOps):
    """Activations, elementwise (softmax along the last axis), and their gradients."""

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
