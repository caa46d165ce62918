"""The fully connected layer."""
import math

import numpy as np

from ..backend.ops_dense import check_activation
from ._activation import normalize_activation
from ._base import Layer

INITIALIZERS = ("auto", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros")


def init_weights(rng, fan_in, fan_out, scheme, dtype):
    """Initial weight matrix of shape (fan_in, fan_out) drawn with ``scheme``.

    Glorot (Xavier) schemes keep the variance of activations and gradients
    balanced for tanh, sigmoid and linear units; He schemes double it to make
    up for the half of ReLU inputs that are cut to zero.
    """
    if scheme == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    elif scheme == "glorot_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))
    elif scheme == "he_uniform":
        limit = math.sqrt(6.0 / fan_in)
        w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    elif scheme == "he_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    elif scheme == "zeros":
        w = np.zeros((fan_in, fan_out))
    else:
        raise ValueError(f"unknown initializer {scheme!r}; expected one of {INITIALIZERS}")
    return w.astype(dtype)


class Dense(Layer):
    """Fully connected layer ``y = activation(x @ W + b)``.

    Parameters
    ----------
    units : int
        Number of output units.
    activation : str or None
        'identity' (also None or 'linear'), 'sigmoid', 'tanh', 'relu' or
        'softmax', fused with the affine map.
    input_dim : int, optional
        Input width; needed only on a model's first layer when the model is
        built before it sees data.
    kernel_initializer : str
        'auto' picks He uniform for ReLU and Glorot uniform otherwise; or one
        of 'glorot_uniform', 'glorot_normal', 'he_uniform', 'he_normal', 'zeros'.
    use_bias : bool
    name : str, optional

    Attributes
    ----------
    W : ndarray of shape (n_inputs, units)
    b : ndarray of shape (units,)
    dW, db : gradients of the same shapes

    Examples
    --------
    >>> from nnfast.layers import Dense
    >>> Dense(10, activation="softmax", input_dim=784)
    Dense(units=10, activation='softmax', input_dim=784, kernel_initializer='auto', use_bias=True)
    """

    def __init__(self, units, activation=None, input_dim=None, kernel_initializer="auto",
                 use_bias=True, name=None):
        super().__init__(name=name)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        if input_dim is not None and (not isinstance(input_dim, (int, np.integer)) or input_dim < 1):
            raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}")
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(f"unknown kernel_initializer {kernel_initializer!r}; expected one of {INITIALIZERS}")
        self.units = int(units)
        self.activation = check_activation(normalize_activation(activation))
        self.output_activation = None if self.activation == "identity" else self.activation
        self.input_dim = None if input_dim is None else int(input_dim)
        self.kernel_initializer = kernel_initializer
        self.use_bias = bool(use_bias)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects inputs of shape (n_samples, n_features), got per-sample "
                             f"shape {input_shape}; add a Flatten layer first")
        if self.input_dim is not None and input_shape[0] != self.input_dim:
            raise ValueError(f"Dense was declared with input_dim={self.input_dim} but receives "
                             f"{input_shape[0]} features")
        return (self.units,)

    def _build(self, rng):
        fan_in = self.input_shape[0]
        scheme = self.kernel_initializer
        if scheme == "auto":
            scheme = "he_uniform" if self.activation == "relu" else "glorot_uniform"
        ops = self.ops
        self.W = ops.asarray(init_weights(rng, fan_in, self.units, scheme, self.dtype))
        self.b = ops.alloc((self.units,), dtype=self.dtype)
        self.dW = ops.alloc(self.W.shape, dtype=self.dtype)
        self.db = ops.alloc(self.b.shape, dtype=self.dtype)
        self.params, self.grads, self.decay = [self.W, self.b], [self.dW, self.db], [True, False]
        if not self.use_bias:
            self.params, self.grads, self.decay = [self.W], [self.dW], [True]

    def forward(self, x, training=False):
        n = x.shape[0]
        self._x = x
        z = self.ops.affine(x, self.W, self.b, out=self._buffer("z", (n, self.units)))
        if self.activation == "softmax" or self.keep_preactivation:
            self._z = z
            self._y = self.ops.activation(z, self.activation, out=self._buffer("y", z.shape))
        else:
            # Elementwise activations are applied in place: their derivatives
            # need only the output.
            self._z = None
            self._y = self.ops.activation(z, self.activation, out=z)
        return self._y

    def backward(self, dy, from_logits=False):
        ops = self.ops
        if from_logits or self.activation == "identity":
            dz = dy
        else:
            dz = ops.backprop_activation(dy, self._y, self.activation, out=self._buffer("dz", dy.shape))
        dx = self._buffer("dx", self._x.shape) if self.needs_input_grad else False
        if not self.use_bias:
            ops.gemm(self._x, dz, out=self.dW, trans_a=True)
            return ops.gemm(dz, self.W, out=dx, trans_b=True) if self.needs_input_grad else None
        return ops.backprop_affine(dz, self._x, self.W, self.dW, self.db, dx=dx)

    @property
    def preactivation(self):
        if self._z is None:
            raise AttributeError("the pre-activation is kept only when keep_preactivation is set")
        return self._z

    def get_config(self):
        return {"units": self.units, "activation": self.activation, "input_dim": self.input_dim,
                "kernel_initializer": self.kernel_initializer, "use_bias": self.use_bias,
                "name": self.name}
