"""Dropout regularisation."""
import numbers

import numpy as np

from ._base import Layer


class Dropout(Layer):
    """Sets a random fraction ``rate`` of inputs to zero while training.

    Inverted dropout: kept inputs are scaled by ``1 / (1 - rate)`` during
    training, so nothing changes at prediction time.

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of inputs dropped.
    seed : int, optional
        Seed of the dropout masks; by default derived from the model's
        ``random_state``.
    name : str, optional

    Examples
    --------
    >>> from nnfast.layers import Dropout
    >>> Dropout(0.5, seed=0)
    Dropout(rate=0.5, seed=0)
    """

    trainable = False

    def __init__(self, rate, seed=None, name=None):
        super().__init__(name=name)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed

    def _build(self, rng):
        seed = self.seed if self.seed is not None else int(rng.integers(2**63))
        self._rng = self.ops.rng(seed)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        self._mask = self.ops.dropout_mask(self._rng, x.shape, self.rate, dtype=x.dtype)
        return self.ops.multiply(x, self._mask, out=self._buffer("y", x.shape))

    def backward(self, dy, from_logits=False):
        if self._mask is None:
            return dy
        return self.ops.multiply(dy, self._mask, out=self._buffer("dx", dy.shape))

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name}


class Flatten(Layer):
    """Flattens each sample to one axis: (n, d1, d2, ...) -> (n, d1 * d2 * ...).

    Examples
    --------
    >>> from nnfast.layers import Flatten
    >>> Flatten().compute_output_shape((28, 28))
    (784,)
    """

    trainable = False

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, from_logits=False):
        return dy.reshape(self._in_shape)
