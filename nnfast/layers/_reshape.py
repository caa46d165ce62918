"""Layers that change only the shape of each sample."""
import math

import numpy as np

from ._base import Layer, _check_shape


class Reshape(Layer):
    """Gives each sample a new shape with the same number of values.

    Parameters
    ----------
    target_shape : tuple of int
        Shape of one sample after the layer (without the batch axis); one
        entry may be -1 and is then inferred.
    name : str, optional
    input_shape : tuple of int, optional

    Examples
    --------
    >>> from nnfast.layers import Reshape
    >>> Reshape((28, 28)).compute_output_shape((784,))
    (28, 28)
    >>> Reshape((-1, 7)).compute_output_shape((4, 7))
    (4, 7)
    """

    def __init__(self, target_shape, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        shape = tuple(target_shape) if not np.isscalar(target_shape) else (target_shape,)
        if shape.count(-1) > 1:
            raise ValueError(f"target_shape may hold at most one -1, got {target_shape!r}")
        _check_shape(tuple(1 if s == -1 else s for s in shape), "target_shape")
        self.target_shape = tuple(int(s) for s in shape)

    def compute_output_shape(self, input_shape):
        size = math.prod(input_shape)
        known = math.prod(s for s in self.target_shape if s != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"cannot reshape samples of shape {input_shape} ({size} values) "
                                 f"to {self.target_shape}")
            return tuple(size // known if s == -1 else s for s in self.target_shape)
        if known != size:
            raise ValueError(f"cannot reshape samples of shape {input_shape} ({size} values) to "
                             f"{self.target_shape} ({known} values)")
        return self.target_shape

    def forward(self, x, training=False):
        self._in_shape = x.shape
        return x.reshape((x.shape[0],) + self.output_shape)

    def backward(self, dy, from_logits=False):
        return dy.reshape(self._in_shape)

    def node_spec(self):
        return {"kind": "reshape"}

    def get_config(self):
        return {"target_shape": list(self.target_shape), **super().get_config()}


class Flatten(Reshape):
    """Flattens each sample to one axis: (n, d1, d2, ...) -> (n, d1 * d2 * ...).

    Examples
    --------
    >>> from nnfast.layers import Flatten
    >>> Flatten().compute_output_shape((28, 28))
    (784,)
    """

    def __init__(self, name=None, input_shape=None):
        super().__init__((-1,), name=name, input_shape=input_shape)

    def get_config(self):
        return Layer.get_config(self)
