"""Batch normalisation."""
import numbers

import numpy as np

from ._base import Layer, VariableSpec


def _ones(rng, shape, dtype):
    return np.ones(shape, dtype)


class BatchNormalization(Layer):
    """Normalises each feature (channel) over the batch, then scales and shifts it.

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``, features on the
    last axis: the units of a :class:`Dense` layer, the channels of an image
    (over every position of every image in the batch).  While training, the
    mean and variance are the batch's, and running averages of them are
    kept (``moving = momentum * moving + (1 - momentum) * batch``); they are
    saved with the model and used at inference.  A frozen layer
    (``trainable = False``) uses its running statistics in training too, as
    in Keras.

    Parameters
    ----------
    momentum : float in [0, 1)
        Weight of the old running statistics in each update.
    epsilon : float > 0
        Added to the variance before its square root.
    name : str, optional
    input_shape : tuple of int, optional

    Attributes
    ----------
    gamma, beta : ndarray of shape (features,)
        Trainable scale and shift.
    moving_mean, moving_variance : ndarray of shape (features,)
        Running statistics (saved, not trained).

    Examples
    --------
    >>> from nnfast import Sequential
    >>> from nnfast.layers import BatchNormalization, Dense
    >>> model = Sequential([Dense(16, input_dim=4), BatchNormalization(), Dense(2)])
    >>> model.build((4,))
    >>> [v.name for v in model.layers[1].variables]
    ['gamma', 'beta', 'moving_mean', 'moving_variance']
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) \
                or not 0 <= momentum < 1:
            raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def variable_specs(self, input_shape):
        features = (input_shape[-1],)
        return [VariableSpec("gamma", features, _ones), VariableSpec("beta", features),
                VariableSpec("moving_mean", features, trainable=False),
                VariableSpec("moving_variance", features, _ones, trainable=False)]

    @property
    def gamma(self):
        return self.variable("gamma").value

    @property
    def beta(self):
        return self.variable("beta").value

    @property
    def moving_mean(self):
        return self.variable("moving_mean").value

    @property
    def moving_variance(self):
        return self.variable("moving_variance").value

    def _stats(self, features):
        return (self._buffer("mean", (features,)), self._buffer("invstd", (features,)))

    def forward(self, x, training=False):
        ops = self.ops
        features = self.input_shape[-1]
        self._x = x2 = x.reshape(-1, features)
        out = self._buffer("y", x.shape).reshape(-1, features)
        v = {var.name: var.value for var in self.variables}
        self._batch_stats = training and self.trainable
        if self._batch_stats:
            mean, invstd = self._stats(features)
            ops.batch_norm_train(x2, v["gamma"], v["beta"], self.epsilon, self.momentum,
                                 v["moving_mean"], v["moving_variance"], mean, invstd, out=out)
        else:
            ops.batch_norm_inference(x2, v["gamma"], v["beta"], v["moving_mean"],
                                     v["moving_variance"], self.epsilon, out=out)
        return out.reshape(x.shape)

    def backward(self, dy, from_logits=False):
        ops = self.ops
        features = self.input_shape[-1]
        dy2 = dy.reshape(-1, features)
        gamma, beta = self.variable("gamma"), self.variable("beta")
        dgamma = gamma.grad if self.wants_grad(gamma) else None
        dbeta = beta.grad if self.wants_grad(beta) else None
        dx = self._buffer("dx", dy.shape).reshape(-1, features) if self.needs_input_grad else False
        if self._batch_stats:
            mean, invstd = self._stats(features)
            dx = ops.batch_norm_backward(dy2, self._x, gamma.value, mean, invstd, dgamma, dbeta,
                                         dx=dx)
        else:
            dx = ops.batch_norm_inference_backward(
                dy2, self._x, gamma.value, self.variable("moving_mean").value,
                self.variable("moving_variance").value, self.epsilon, dgamma, dbeta, dx=dx)
        return None if dx is None else dx.reshape(dy.shape)

    def node_spec(self):
        v = {var.name: var for var in self.variables}
        gamma, beta = v["gamma"], v["beta"]
        return {"kind": "batch_norm", "gamma": gamma.value, "beta": beta.value,
                "dgamma": gamma.grad if self.wants_grad(gamma) else None,
                "dbeta": beta.grad if self.wants_grad(beta) else None,
                "moving_mean": v["moving_mean"].value,
                "moving_variance": v["moving_variance"].value,
                "momentum": self.momentum, "epsilon": self.epsilon,
                "use_batch_stats": self.trainable}

    def get_config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon, **super().get_config()}
