"""Dropout regularisation."""
import numbers

from ._base import Layer


class Dropout(Layer):
    """Sets a random fraction ``rate`` of inputs to zero while training.

    Inverted dropout: kept inputs are scaled by ``1 / (1 - rate)`` during
    training, so nothing changes at prediction time.  Works on inputs of any
    shape.

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
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
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
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}
