"""Noise on a layer's input while training: Gaussian noise and masking noise."""
import math
import numbers

from ._base import Layer
from ._random import RandomStream, check_seed


class GaussianNoise(RandomStream, Layer):
    """Adds normal noise of standard deviation ``stddev`` to its input while training.

    The identity at prediction time.  Works on inputs of any shape; the
    gradient passes through unchanged.  With it as the first layer, a model
    trained to reproduce its clean input is a denoising autoencoder.

    Parameters
    ----------
    stddev : float, at least 0
        Standard deviation of the noise.
    seed : int, optional
        Seed of the noise; by default derived from the model's
        ``random_state``.
    name : str, optional
    input_shape : tuple of int, optional

    Notes
    -----
    Input and output: ndarray of shape (n_samples, *input_shape).  Each
    training pass takes the next draw of the layer's stream (its seed and
    the count of draws, both saved with the model).

    Examples
    --------
    >>> from nnfast.layers import GaussianNoise
    >>> GaussianNoise(0.1, seed=0)
    GaussianNoise(stddev=0.1, seed=0)
    """

    def __init__(self, stddev, seed=None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if (isinstance(stddev, bool) or not isinstance(stddev, numbers.Real)
                or not math.isfinite(stddev) or stddev < 0):
            raise ValueError(f"stddev must be a finite number at least 0, got {stddev!r}")
        self.stddev = float(stddev)
        self.seed = check_seed(seed)

    def forward(self, x, training=False):
        if not training or self.stddev == 0.0:
            return x
        return self.ops.gaussian_noise(x, self.stddev, self._seed, self._next_draw(),
                                       out=self._buffer("y", x.shape))

    def backward(self, dy, from_logits=False):
        return dy

    def node_spec(self):
        return {"kind": "gaussian_noise", "stddev": self.stddev, "seed": self._seed,
                "draws": self._draws}

    def get_config(self):
        return {"stddev": self.stddev, "seed": self.seed, **super().get_config()}


class MaskingNoise(RandomStream, Layer):
    """Sets each input value to 0 with probability ``rate`` while training (no rescaling).

    The corruption of a denoising autoencoder: unlike :class:`Dropout`, the
    values kept are left as they are, so the network learns to fill in what
    is missing.  The identity at prediction time; works on inputs of any
    shape.

    Parameters
    ----------
    rate : float in [0, 1)
        Probability that a value is masked.
    seed : int, optional
        Seed of the masks; by default derived from the model's
        ``random_state``.
    name : str, optional
    input_shape : tuple of int, optional

    Notes
    -----
    Input and output: ndarray of shape (n_samples, *input_shape).  The
    gradient is passed where a value was kept and is 0 where it was masked.

    Examples
    --------
    >>> from nnfast.layers import MaskingNoise
    >>> MaskingNoise(0.3, seed=0)
    MaskingNoise(rate=0.3, seed=0)
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
        y, self._mask = self.ops.masking_noise(x, self.rate, self._seed, self._next_draw(),
                                               out=self._buffer("y", x.shape),
                                               mask_out=self._buffer("mask", x.shape))
        return y

    def backward(self, dy, from_logits=False):
        if self._mask is None:
            return dy
        return self.ops.multiply(dy, self._mask, out=self._buffer("dx", dy.shape))

    def node_spec(self):
        return {"kind": "masking_noise", "rate": self.rate, "seed": self._seed,
                "draws": self._draws}

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}
