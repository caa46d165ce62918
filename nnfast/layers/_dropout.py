"""Dropout regularisation."""
import numbers

import numpy as np

from ._base import Layer


class Dropout(Layer):
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
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.rate = float(rate)
        self.seed = seed

    def _build(self, rng):
        self._seed = self.seed if self.seed is not None else int(rng.integers(2**63))
        # One counter shared with a compiled network, which draws masks too.
        self._draws = np.zeros(1, np.uint64)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        y, self._mask = self.ops.dropout(x, self.rate, self._seed, int(self._draws[0]),
                                         out=self._buffer("y", x.shape),
                                         mask_out=self._buffer("mask", x.shape))
        self._draws[0] += 1
        return y

    def backward(self, dy, from_logits=False):
        if self._mask is None:
            return dy
        return self.ops.multiply(dy, self._mask, out=self._buffer("dx", dy.shape))

    def node_spec(self):
        return {"kind": "dropout", "rate": self.rate, "seed": self._seed, "draws": self._draws}

    def random_state(self):
        return {"seed": self._seed, "draws": int(self._draws[0])}

    def set_random_state(self, state):
        if (not isinstance(state, dict) or set(state) != {"seed", "draws"}
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64
                           for v in state.values())):
            raise ValueError(f"a dropout stream is a seed and a count of draws, got {state!r}")
        self._seed = state["seed"]
        self._draws[0] = state["draws"]

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}
