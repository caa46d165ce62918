"""Dropout regularisation."""
import numbers

from ._base import Layer
from ._random import RandomStream, check_seed


class Dropout(RandomStream, Layer):
    """Sets a random fraction ``rate`` of inputs to zero while training.

    Inverted dropout: kept inputs are scaled by ``1 / (1 - rate)`` during
    training, so nothing changes at prediction time.  Works on inputs of any
    shape.  Each training pass draws the next mask of the layer's stream
    (its seed and the count of masks drawn, both saved with the model).

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of inputs dropped.
    seed : int, optional
        Seed of the dropout masks; by default derived from the model's
        ``random_state``.
    name : str, optional
    input_shape : tuple of int, optional

    Examples
    --------
    >>> from nnfast.layers import Dropout
    >>> Dropout(0.5, seed=0)
    Dropout(rate=0.5, seed=0)
    """

    def __init__(self, rate, seed=None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = check_seed(seed)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        y, self._mask = self.ops.dropout(x, self.rate, self._seed, self._next_draw(),
                                         out=self._buffer("y", x.shape),
                                         mask_out=self._buffer("mask", x.shape))
        return y

    def backward(self, dy, from_logits=False):
        if self._mask is None:
            return dy
        return self.ops.multiply(dy, self._mask, out=self._buffer("dx", dy.shape))

    def node_spec(self):
        return {"kind": "dropout", "rate": self.rate, "seed": self._seed, "draws": self._draws}

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}
