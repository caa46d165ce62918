"""The Gaussian sampler of a variational autoencoder (the reparameterisation)."""
from ._random import RandomStream, check_seed
from ._regularization import PenaltyLayer, check_weight


class GaussianSampler(RandomStream, PenaltyLayer):
    """Samples a Gaussian code from its means and log-variances, adding its KL divergence.

    The input of each sample is ``[mu, log_var]`` (2 * L values), the output
    a code ``z`` of L values.  While training,
    ``z = mu + exp(log_var / 2) * eps`` with ``eps`` standard normal draws
    from the layer's own seeded stream, so that gradients reach ``mu`` and
    ``log_var`` (the reparameterisation); at prediction time ``z = mu``.
    The layer adds ``beta * KL(N(mu, sigma**2) || N(0, 1))`` to the
    objective, the divergence summed over the L dimensions and averaged over
    the batch: ``0.5 * sum_j (sigma_j**2 + mu_j**2 - 1 - log_var_j)``.  The
    divergence is computed in evaluation too, from ``mu`` and ``log_var``.

    Parameters
    ----------
    beta : float, at least 0
        Weight of the KL term (1 for the evidence lower bound; more trades
        reconstruction for a smoother latent space).
    seed : int, optional
        Seed of the draws; by default derived from the model's
        ``random_state``.
    penalty_scale : float, at least 0
        See :class:`~nnfast.layers.PenaltyLayer`: ``1 / n_features`` makes
        the objective the evidence lower bound divided by ``n_features`` when
        the reconstruction loss is a mean over the output's values.
    name : str, optional
    input_shape : tuple of int, optional

    Attributes
    ----------
    penalty : float
        The last batch's KL divergence (without ``beta``), reported under
        ``"kl"``.
    penalty_weight : float
        ``beta``.

    Notes
    -----
    Input: ndarray of shape (n_samples, 2 * L); output: (n_samples, L).
    Each training pass takes the next draw of the layer's stream (its seed
    and count of draws, both saved with the model).

    Examples
    --------
    >>> from nnfast.layers import GaussianSampler
    >>> GaussianSampler(beta=1.0, seed=0)
    GaussianSampler(beta=1.0, seed=0, penalty_scale=1.0)
    """

    penalty_name = "kl"

    def __init__(self, beta=1.0, seed=None, penalty_scale=1.0, name=None, input_shape=None):
        self._beta = check_weight(beta, "beta")
        self.seed = check_seed(seed)
        super().__init__(penalty_scale=penalty_scale, name=name, input_shape=input_shape)

    @property
    def beta(self):
        """The weight of the KL term (settable; a compiled network follows)."""
        return self._beta

    @beta.setter
    def beta(self, value):
        self._beta = check_weight(value, "beta")
        self._update_coefficient()

    @property
    def penalty_weight(self):
        """``beta``."""
        return self._beta

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1 or input_shape[0] % 2:
            raise ValueError(f"GaussianSampler expects samples of 2 * L values [mu, log_var], got "
                             f"per-sample shape {tuple(input_shape)}")
        return (input_shape[0] // 2,)

    def forward(self, x, training=False):
        n, m = x.shape[0], self.output_shape[0]
        self._x = x
        draw = self._next_draw() if training else 0
        z, self._eps = self.ops.gaussian_sample(
            x, self._seed, draw, training=training, out=self._buffer("z", (n, m)),
            eps_out=self._buffer("eps", (n, m)) if training else None)
        self._report(self.ops.gaussian_kl(x))
        return z

    def backward(self, dy, from_logits=False):
        return self.ops.backprop_gaussian_sample(dy, self._x, self._eps, self.penalty_coefficient,
                                                 out=self._buffer("dx", self._x.shape))

    def node_spec(self):
        return {"kind": "gaussian_sampler", "seed": self._seed, "draws": self._draws,
                "penalty_io": self._penalty_io}

    def get_config(self):
        return {"beta": self.beta, "seed": self.seed, **super().get_config()}
