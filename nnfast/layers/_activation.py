"""A stand-alone activation layer."""
from ..backend.ops_activations import check_activation
from ._base import Layer


class Activation(Layer):
    """Applies an activation elementwise (softmax row-wise).

    Parameters
    ----------
    activation : {'identity', 'linear', 'sigmoid', 'tanh', 'relu', 'softmax'}
    name : str, optional
    input_shape : tuple of int, optional

    Examples
    --------
    >>> from nnfast.layers import Activation
    >>> Activation("tanh")
    Activation(activation='tanh')
    """

    def __init__(self, activation, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.activation = check_activation(normalize_activation(activation))
        self.output_activation = self.activation

    def forward(self, x, training=False):
        self._x = x
        self._y = self.ops.activation(x, self.activation, out=self._buffer("y", x.shape))
        return self._y

    def backward(self, dy, from_logits=False):
        if from_logits:
            return dy
        return self.ops.backprop_activation(dy, self._y, self.activation,
                                            out=self._buffer("dx", dy.shape))

    def node_spec(self):
        return {"kind": "activation", "activation": self.activation}

    @property
    def preactivation(self):
        return self._x

    def get_config(self):
        return {"activation": self.activation, **super().get_config()}


def normalize_activation(name):
    """Map ``None`` and Keras' 'linear' to 'identity'; lower-case names."""
    if name is None:
        return "identity"
    if not isinstance(name, str):
        raise TypeError(f"activation must be a string, got {name!r}")
    name = name.lower()
    return "identity" if name == "linear" else name
