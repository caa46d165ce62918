"""The variational autoencoder: a Gaussian code, sampled by reparameterisation."""
import numpy as np

from .._validation import check_is_fitted, check_positive, check_random_state
from ..io import register_model
from ..layers import Dense, GaussianSampler
from ._autoencoder import (
    ReconstructionEstimator, check_output_activation, check_reconstruction_loss, check_sizes,
    reconstruction_error,
)


@register_model
class VAE(ReconstructionEstimator):
    """Variational autoencoder with a Gaussian code and a Bernoulli (or Gaussian) decoder.

    The encoder (a dense layer per entry of ``hidden_layer_sizes``) ends in a
    linear layer of ``2 * latent_dim`` values, the mean ``mu`` and the
    log-variance ``log_var`` of the code.  While training, a code is drawn as
    ``z = mu + exp(log_var / 2) * eps`` with ``eps`` standard normal from the
    model's own seeded stream (the reparameterisation, through which the
    gradients reach ``mu`` and ``log_var``); the decoder (the hidden layers
    mirrored) maps it back to the data.  Training minimises, per sample,

        reconstruction + beta * KL(N(mu, sigma^2) || N(0, 1))

    averaged over the batch: the negative evidence lower bound for
    ``beta=1``.  With binary cross-entropy the reconstruction term is the
    cross-entropy summed over the features (a Bernoulli decoder, data in
    [0, 1]); with 'mse' it is the sum of squared errors (a Gaussian decoder
    of variance 1/2).  At prediction time the code is ``mu``.  With the
    defaults it is the course's model: 784-64 ReLU to a 2-D code and back to
    784 sigmoid outputs, binary cross-entropy, Adam, batches of 64.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Units of the encoder's hidden layers, input side first.
    latent_dim : int
        Dimensions of the code; at most the width of the layer before it
        (the last hidden layer, or the data without hidden layers), since
        the means are an affine map of that layer's output and cannot span
        more dimensions than it has.
    activation : {'relu', 'tanh', 'sigmoid', 'identity'}
        Activation of the hidden layers.
    loss : {'binary_cross_entropy', 'mse'}
    beta : float, at least 0
        Weight of the KL term.
    output_activation : {'sigmoid', 'identity', 'tanh', 'relu'}
        Activation of the decoder's output (sigmoid, or identity for
        logits, with binary cross-entropy).
    decoder_layer_sizes : tuple of int, optional
        Units of the decoder's hidden layers, code side first; by default
        ``hidden_layer_sizes`` reversed.
    optimizer : str
    learning_rate : float
    batch_size : int, 'auto' or None
    epochs : int
    early_stopping : bool
        Hold out ``validation_fraction`` of the data and stop when its loss
        has not improved by ``tol`` for ``patience`` epochs; without it,
        training stops when the training loss stalls that way.
    validation_fraction : float in (0, 1)
    patience : int
    tol : float
        In the units the network minimises: the loss above divided by
        ``n_features``.
    shuffle : bool
    random_state : int, optional
        Seed of the initial weights, the draws of ``eps`` and shuffling.
    verbose : {0, 1, 2}
    dtype : {'float32', 'float64'}
    device : {'cpu', 'numpy', 'gpu'}, optional

    Attributes
    ----------
    model_ : Sequential
        The whole network; its :class:`~nnfast.layers.GaussianSampler`
        carries ``penalty_scale = 1 / n_features``, so that the network's
        objective (its reconstruction loss being a mean over the features)
        is the loss above divided by ``n_features``.
    encoder_ : Sequential
        The encoder's layers of ``model_`` (shared): it maps ``X`` to
        ``[mu, log_var]``, of shape (n_samples, 2 * latent_dim).
    decoder_ : Sequential
        The decoder's layers of ``model_`` (shared): codes to data.
    history_ : dict of list
        The last fit's per-epoch means over the samples: 'loss',
        'reconstruction' and 'kl' (without beta), in the units above (sums
        over features and latent dimensions), their 'val_' versions with
        early stopping, and 'lr'.
    loss_curve_ : list of float
        'loss' per epoch over every fit.
    validation_scores_ : list of float
        Minus 'val_loss' per epoch (with ``early_stopping``).
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import VAE
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((300, 16)) < np.where(rng.random(300) < 0.5, 0.2, 0.8)[:, None]).astype(float)
    >>> vae = VAE(hidden_layer_sizes=(16,), latent_dim=2, learning_rate=0.01, epochs=20,
    ...           random_state=0).fit(X)
    >>> vae.encode(X).shape, vae.sample(4, random_state=0).shape
    ((300, 2), (4, 16))
    >>> bool(vae.history_["loss"][-1] < vae.history_["loss"][0])
    True
    """

    _TUPLE_PARAMS = ("hidden_layer_sizes", "decoder_layer_sizes")
    # The shared checks of NetworkEstimator look at these; the VAE has neither.
    dropout = 0.0
    weight_decay = 0.0

    def __init__(self, hidden_layer_sizes=(64,), latent_dim=2, activation="relu",
                 loss="binary_cross_entropy", beta=1.0, output_activation="sigmoid",
                 decoder_layer_sizes=None, optimizer="adam", learning_rate=1e-3, batch_size=64,
                 epochs=10, early_stopping=False, validation_fraction=0.1, patience=5, tol=1e-4,
                 shuffle=True, random_state=None, verbose=0, dtype="float32", device=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.activation = activation
        self.loss = loss
        self.beta = beta
        self.output_activation = output_activation
        self.decoder_layer_sizes = decoder_layer_sizes
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.device = device

    # --------------------------------------------------------------- checks
    def _validate_params(self):
        sizes = check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        decoder = (sizes[::-1] if self.decoder_layer_sizes is None
                   else check_sizes(self.decoder_layer_sizes, "decoder_layer_sizes"))
        check_positive(self.latent_dim, "latent_dim", integer=True)
        if sizes and self.latent_dim > sizes[-1]:
            raise ValueError(f"latent_dim={self.latent_dim} is larger than the layer before it "
                             f"({sizes[-1]} units): the means are an affine map of that layer "
                             f"and cannot span more than {sizes[-1]} dimensions")
        act = self._check_training_params()
        loss = check_reconstruction_loss(self.loss)
        out_act = check_output_activation(self.output_activation, loss)
        check_positive(self.beta, "beta", allow_zero=True)
        return {"sizes": sizes, "decoder": decoder, "act": act,
                "out_act": out_act, "loss": loss}

    def _check_width(self, n_features):
        if not check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes") \
                and self.latent_dim > n_features:
            raise ValueError(f"latent_dim={self.latent_dim} is larger than the layer before it: "
                             f"X has {n_features} feature(s) and no hidden layer comes between")

    # -------------------------------------------------------------- network
    def _make_layers(self, n_features):
        """The unbuilt layers, and the slices of them that are the encoder (through
        ``[mu, log_var]``) and the decoder (after the sampler)."""
        s = self._validate_params()
        encoder = [Dense(units, activation=s["act"], name=f"encoder_{i}")
                   for i, units in enumerate(s["sizes"])]
        encoder.append(Dense(2 * self.latent_dim, name="mean_log_var"))
        sampler = GaussianSampler(beta=float(self.beta), penalty_scale=1.0 / n_features,
                                  name="sampler")
        decoder = [Dense(units, activation=s["act"], name=f"decoder_{i}")
                   for i, units in enumerate(s["decoder"], start=1)]
        decoder.append(Dense(n_features, activation=s["out_act"], name="reconstruction"))
        layers = encoder + [sampler] + decoder
        return layers, slice(0, len(encoder)), slice(len(encoder) + 1, len(layers))

    # -------------------------------------------------------------- fitting
    def _fit(self, X, targets, epochs, first_call):
        curve = 0 if first_call else len(self.loss_curve_)
        scores = 0 if first_call else len(self.validation_scores_)
        super()._fit(X, targets, epochs, first_call)
        # The network minimises the loss divided by n_features; report it whole.
        d = self.n_features_in_
        self.loss_curve_[curve:] = [v * d for v in self.loss_curve_[curve:]]
        self.validation_scores_[scores:] = [v * d for v in self.validation_scores_[scores:]]
        if self.loss_curve_:
            self.best_loss_ = min(self.loss_curve_)
        self.history_ = self._whole_units(self.history_, d)
        return self

    def _whole_units(self, history, d):
        out = dict(history)
        beta = float(self.beta)
        for prefix in ("", "val_"):
            if prefix + "loss" in history:
                loss = [v * d for v in history[prefix + "loss"]]
                kl = history[prefix + "kl"]
                out[prefix + "loss"] = loss
                out[prefix + "reconstruction"] = [a - beta * b for a, b in zip(loss, kl)]
        return out

    # ------------------------------------------------------------ inference
    def encode(self, X, return_log_var=False):
        """The means (and log-variances) of the codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_log_var : bool

        Returns
        -------
        mu : ndarray of shape (n_samples, latent_dim)
        log_var : ndarray of shape (n_samples, latent_dim)
            Only with ``return_log_var``.
        """
        X = self._check_X(X)
        out = self.encoder_.predict(X)
        mu = np.ascontiguousarray(out[:, :self.latent_dim])
        if not return_log_var:
            return mu
        return mu, np.ascontiguousarray(out[:, self.latent_dim:])

    def sample(self, n=16, random_state=None):
        """New data: codes drawn from the prior N(0, I), decoded.

        Parameters
        ----------
        n : int
        random_state : int or numpy Generator, optional

        Returns
        -------
        ndarray of shape (n, n_features)
            The decoder's output (its means: pixel probabilities with a
            sigmoid output).
        """
        check_is_fitted(self, "model_")
        check_positive(n, "n", integer=True)
        rng = check_random_state(random_state)
        return self.decode(rng.standard_normal((int(n), self.latent_dim)))

    def latent_grid(self, n=15, span=3.0):
        """Decode a square grid of codes walking the latent plane (2-D codes only).

        The grid spans ``[-span, span]`` evenly on both axes (the prior's
        standard deviations: 3 covers nearly all of it).  Images come row by
        row, as they are shown: the first row has the largest second
        coordinate, and along a row the first coordinate grows.

        Parameters
        ----------
        n : int
            Codes per side, at least 2.
        span : float
            Half the side of the square.

        Returns
        -------
        images : ndarray of shape (n * n, n_features)
        coordinates : ndarray of shape (n * n, 2)
            The code of each image.
        """
        check_is_fitted(self, "model_")
        if self.latent_dim != 2:
            raise ValueError(f"latent_grid walks a 2-D latent plane; this model has "
                             f"latent_dim={self.latent_dim}")
        check_positive(n, "n", integer=True)
        if n < 2:
            raise ValueError(f"n must be at least 2, got {n}")
        check_positive(span, "span")
        steps = np.linspace(-span, span, int(n))
        first, second = np.meshgrid(steps, steps[::-1])
        coordinates = np.column_stack([first.ravel(), second.ravel()])
        return self.decode(coordinates), coordinates

    def score_samples(self, X):
        """The loss of each sample with its code at its mean: reconstruction + beta * KL.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            float64, in the units of ``history_`` (sums over the features
            and the latent dimensions).
        """
        X = self._check_X(X, targets=True)
        mu, log_var = self.encode(X, return_log_var=True)
        mu, log_var = mu.astype(np.float64), log_var.astype(np.float64)
        kl = 0.5 * np.sum(np.exp(log_var) + mu * mu - 1.0 - log_var, axis=1)
        per_value = reconstruction_error(self.decoder_, mu.astype(self.model_.dtype), X,
                                         self.model_.loss.name)
        return per_value * X.shape[1] + float(self.beta) * kl



__all__ = ["VAE"]
