"""The fully connected layer."""
import math
import numbers

import numpy as np

from ..backend.ops_activations import check_activation
from ._activation import normalize_activation
from ._base import Layer, VariableSpec

INITIALIZERS = ("auto", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros")


def init_weights(rng, fan_in, fan_out, scheme, dtype, shape=None):
    """Initial weights drawn with ``scheme``: shape (fan_in, fan_out) unless ``shape`` is given.

    Glorot (Xavier) schemes keep the variance of activations and gradients
    balanced for tanh, sigmoid and linear units; He schemes double it to make
    up for the half of ReLU inputs that are cut to zero.
    """
    shape = (fan_in, fan_out) if shape is None else shape
    if scheme == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    elif scheme == "glorot_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    elif scheme == "he_uniform":
        limit = math.sqrt(6.0 / fan_in)
        w = rng.uniform(-limit, limit, size=shape)
    elif scheme == "he_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    elif scheme == "zeros":
        w = np.zeros(shape)
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
    tied_to : Dense, optional
        An earlier layer of the same model whose weights this layer uses
        transposed (``W = tied_to.W.T``), as the decoder of an autoencoder
        with tied weights does: ``units`` must be that layer's input width and
        this layer's input its output.  The shared weights get the gradients
        of both layers added together and are updated once; this layer's own
        variable is only its bias.
    name : str, optional

    Attributes
    ----------
    W : ndarray of shape (n_inputs, units)
        (A transposed view of ``tied_to.W`` for a tied layer.)
    b : ndarray of shape (units,), or None without a bias
    dW, db : their gradients

    Examples
    --------
    >>> from nnfast.layers import Dense
    >>> Dense(10, activation="softmax", input_dim=784)
    Dense(units=10, activation='softmax', input_dim=784, kernel_initializer='auto', use_bias=True)
    """

    def __init__(self, units, activation=None, input_dim=None, kernel_initializer="auto",
                 use_bias=True, tied_to=None, name=None):
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        if input_dim is not None and (isinstance(input_dim, bool) or not isinstance(
                input_dim, numbers.Integral) or input_dim < 1):
            raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}")
        super().__init__(name=name, input_shape=None if input_dim is None else (int(input_dim),))
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(f"unknown kernel_initializer {kernel_initializer!r}; expected one of "
                             f"{INITIALIZERS}")
        if tied_to is not None and not isinstance(tied_to, Dense):
            raise TypeError(f"tied_to must be a Dense layer, got {tied_to!r}")
        if tied_to is not None and tied_to.tied_to is not None:
            raise ValueError("tied_to must be a layer with weights of its own, not a tied layer")
        self.units = int(units)
        self.activation = check_activation(normalize_activation(activation))
        self.output_activation = None if self.activation == "identity" else self.activation
        self.input_dim = None if input_dim is None else int(input_dim)
        self.kernel_initializer = kernel_initializer
        self.use_bias = bool(use_bias)
        self.tied_to = tied_to

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects inputs of shape (n_samples, n_features), got per-sample "
                             f"shape {input_shape}; add a Flatten layer first")
        if self.input_dim is not None and input_shape[0] != self.input_dim:
            raise ValueError(f"Dense was declared with input_dim={self.input_dim} but receives "
                             f"{input_shape[0]} features")
        if self.tied_to is not None:
            source = self.tied_to
            if source.input_shape is None:
                raise ValueError("a tied Dense layer must come after the layer it is tied to")
            if input_shape[0] != source.units or self.units != source.input_shape[0]:
                raise ValueError(
                    f"a Dense layer tied to one of shape {source.input_shape[0]} -> {source.units} "
                    f"must map {source.units} -> {source.input_shape[0]} features, got "
                    f"{input_shape[0]} -> {self.units}")
        return (self.units,)

    def variable_specs(self, input_shape):
        specs = []
        if self.tied_to is None:
            scheme = self.kernel_initializer
            if scheme == "auto":
                scheme = "he_uniform" if self.activation == "relu" else "glorot_uniform"
            fan_in = input_shape[0]
            specs.append(VariableSpec(
                "kernel", (fan_in, self.units),
                lambda rng, shape, dtype: init_weights(rng, shape[0], shape[1], scheme, dtype),
                decay=True))
        if self.use_bias:
            specs.append(VariableSpec("bias", (self.units,)))
        return specs

    def _build(self, rng):
        self._kernel = self.tied_to._kernel if self.tied_to is not None else self.variable("kernel")
        self._bias = self.variable("bias") if self.use_bias else None

    def used_variables(self):
        shared = [self._kernel] if self.tied_to is not None else []
        return shared + list(self.variables)

    @property
    def W(self):
        return self._kernel.value.T if self.tied_to is not None else self._kernel.value

    @property
    def dW(self):
        grad = self._kernel.grad
        return grad.T if self.tied_to is not None and grad is not None else grad

    @property
    def b(self):
        return None if self._bias is None else self._bias.value

    @property
    def db(self):
        return None if self._bias is None else self._bias.grad

    def forward(self, x, training=False):
        ops = self.ops
        n = x.shape[0]
        self._x = x
        z = self._buffer("z", (n, self.units))
        if self.tied_to is None and self._bias is not None:
            ops.affine(x, self._kernel.value, self._bias.value, out=z)
        else:
            beta = 0.0
            if self._bias is not None:
                z[...] = self._bias.value
                beta = 1.0
            ops.gemm(x, self._kernel.value, out=z, trans_b=self.tied_to is not None, beta=beta)
        if self.activation == "softmax" or self.keep_preactivation:
            self._z = z
            self._y = ops.activation(z, self.activation, out=self._buffer("y", z.shape))
        else:
            # Elementwise activations are applied in place: their derivatives
            # need only the output.
            self._z = None
            self._y = ops.activation(z, self.activation, out=z)
        return self._y

    def backward(self, dy, from_logits=False):
        ops = self.ops
        if from_logits or self.activation == "identity":
            dz = dy
        else:
            dz = ops.backprop_activation(dy, self._y, self.activation,
                                         out=self._buffer("dz", dy.shape))
        kernel, bias, x = self._kernel, self._bias, self._x
        want_w = self.wants_grad(kernel)
        want_b = bias is not None and self.wants_grad(bias)
        dx = self._buffer("dx", x.shape) if self.needs_input_grad else False
        if (self.tied_to is None and want_w and want_b
                and kernel not in self.accumulate and bias not in self.accumulate):
            return ops.backprop_affine(dz, x, kernel.value, kernel.grad, bias.grad, dx=dx)
        if want_w:
            if self.tied_to is None:
                self._write_grad(kernel, lambda out, beta: ops.gemm(x, dz, out=out, trans_a=True,
                                                                    beta=beta))
            else:
                self._write_grad(kernel, lambda out, beta: ops.gemm(dz, x, out=out, trans_a=True,
                                                                    beta=beta))
        if want_b:
            if bias in self.accumulate:
                bias.grad += ops.sum_rows(dz)
            else:
                ops.sum_rows(dz, out=bias.grad)
        if dx is False:
            return None
        return ops.gemm(dz, kernel.value, out=dx, trans_b=self.tied_to is None)

    def node_spec(self):
        kernel, bias = self._kernel, self._bias
        want_w = self.wants_grad(kernel)
        want_b = bias is not None and self.wants_grad(bias)
        return {"kind": "dense", "W": kernel.value, "b": None if bias is None else bias.value,
                "dW": kernel.grad if want_w else None, "db": bias.grad if want_b else None,
                "activation": self.activation, "transposed": self.tied_to is not None,
                "add_w": kernel in self.accumulate,
                "add_b": bias is not None and bias in self.accumulate}

    @property
    def preactivation(self):
        if self._z is None:
            raise AttributeError("the pre-activation is kept only when keep_preactivation is set")
        return self._z

    def get_config(self):
        config = {"units": self.units, "activation": self.activation, "input_dim": self.input_dim,
                  "kernel_initializer": self.kernel_initializer, "use_bias": self.use_bias}
        if self.tied_to is not None:
            config["tied_to"] = self.tied_to
        config["name"] = self.name
        return config
