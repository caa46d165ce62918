"""The autoencoder: a network trained to reproduce its input through a narrow code."""
import json
import numbers

import numpy as np

from .._state_checks import describe, read_int, read_list
from .._validation import check_array, check_is_fitted, check_positive, value_range
from ..io import register_model
from ..layers import ActivityRegularization, Dense, GaussianNoise, MaskingNoise
from ..layers._activation import normalize_activation
from ..losses import BinaryCrossEntropy, MeanSquaredError, get_loss
from ..optimizers import get_optimizer
from ._estimator import NetworkEstimator
from ._sequential import Sequential, _config_with_references

#: Output activations an autoencoder may end with.
OUTPUT_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu")

#: The reconstruction losses, by the name ``get_loss`` gives them.
RECONSTRUCTION_LOSSES = (MeanSquaredError.name, BinaryCrossEntropy.name)


# --------------------------------------------------------------------------
# Helpers shared by the autoencoders
# --------------------------------------------------------------------------

def check_sizes(sizes, name, allow_empty=True):
    """``sizes`` (an int or a sequence of them) as a tuple of positive ints, or raise."""
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of positive integers, got {sizes!r}") from None
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        raise ValueError(f"{name} must hold positive integers, got {sizes!r}")
    if not sizes and not allow_empty:
        raise ValueError(f"{name} must hold at least one size, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def check_reconstruction_loss(loss):
    """The name of a reconstruction loss ('mean_squared_error' or 'binary_cross_entropy')."""
    try:
        name = get_loss(loss).name
    except ValueError:
        name = None
    if name not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"loss must be 'mse' (also 'mean_squared_error') or "
                         f"'binary_cross_entropy' (also 'bce'), got {loss!r}")
    return name


def check_output_activation(activation, loss):
    """The normalised output activation, checked against the reconstruction ``loss``."""
    act = normalize_activation(activation)
    if act not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got {activation!r}")
    if loss == BinaryCrossEntropy.name and act not in ("sigmoid", "identity"):
        raise ValueError(f"binary cross-entropy needs output_activation='sigmoid' (or 'identity' "
                         f"for logits), got {activation!r}")
    return act


def check_unit_range(X, name="X", why="loss='binary_cross_entropy'"):
    """Raise unless every value of ``X`` is finite and lies in [0, 1] (one pass over ``X``)."""
    if not X.size:
        return X
    low, high = value_range(X)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if low < 0 or high > 1:
        raise ValueError(f"{name} must hold values in [0, 1] for {why} (binary data, or grey "
                         f"levels divided by 255), got values from {low:g} to {high:g}; "
                         f"scale it, or use loss='mse'")
    return X


def check_inputs(X, loss, **kwargs):
    """``check_array(X, **kwargs)``, and for binary cross-entropy values in [0, 1].

    With binary cross-entropy the range check's pass over ``X`` finds
    non-finite values too, so ``check_array`` does not make its own.
    """
    bce = loss == BinaryCrossEntropy.name
    X = check_array(X, allow_nan=bce, **kwargs)
    return check_unit_range(X) if bce else X


def submodel(model, layers, name=None):
    """A :class:`Sequential` over ``layers``, already built layers of ``model``, sharing them.

    Nothing is allocated or initialised: the new model computes with the
    very arrays of ``model``, so it follows ``model``'s training, and training
    it trains ``model``'s layers.
    """
    sub = Sequential(layers, name=name, device=model.device, dtype=model.dtype,
                     random_state=model.random_state)
    sub.ops = model.ops
    sub.input_shape = tuple(layers[0].input_shape)
    sub.output_shape = tuple(layers[-1].output_shape)
    sub._rng = np.random.default_rng(model.random_state)
    return sub


def layer_configs(layers):
    """The layer descriptions a saved :class:`Sequential` holds, without ``trainable``.

    They are passed through JSON, as a file's are, so that the two compare equal.
    """
    index = {id(layer): i for i, layer in enumerate(layers)}
    return json.loads(json.dumps([
        {"class_name": type(l).__name__, "config": _config_with_references(l.get_config(), index)}
        for l in layers]))


def check_saved_layers(model_config, expected, loss, where="config['model']"):
    """Raise unless the saved network is the one the parameters describe.

    A file whose network differs (a layer more, other units, another tie)
    would load into an estimator whose encoder and decoder are cut at the
    wrong places; one compiled with another loss than ``loss`` would score
    with a loss its parameters do not name.  A malformed network config is
    left for :meth:`Sequential._from_state` to report.
    """
    if not isinstance(model_config, dict) or not isinstance(model_config.get("layers"), list):
        return
    compiled = model_config.get("compile")
    if isinstance(compiled, dict) and compiled.get("loss") != loss:
        raise ValueError(f"{where} is compiled with the loss {_short(compiled.get('loss'))}, but "
                         f"the parameters name {loss!r}")
    saved = [{"class_name": s.get("class_name"), "config": s.get("config")} if isinstance(s, dict)
             else s for s in model_config["layers"]]
    want = layer_configs(expected)
    if len(saved) != len(want):
        raise ValueError(f"{where} holds {len(saved)} layers, but the parameters describe a "
                         f"network of {len(want)}")
    for i, (have, need) in enumerate(zip(saved, want)):
        if have != need:
            raise ValueError(f"{where}: layer {i} is {_short(have)}, but the parameters describe "
                             f"{_short(need)}")


def _short(value, limit=160):
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_history(config, n_iter, key="history"):
    """A saved history: a dict of lists of at most ``n_iter`` numbers each."""
    history = config[key]
    if type(history) is not dict:
        raise ValueError(f"config[{key!r}] must be a JSON object, got {describe(history)}")
    out = {}
    for name in history:
        values = read_list(history, name, f"config[{key!r}]", max_length=n_iter)
        if not all(type(v) in (int, float) for v in values):
            raise ValueError(f"config[{key!r}][{name!r}] must hold numbers")
        out[name] = list(values)
    return out


# --------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------

class ReconstructionEstimator(NetworkEstimator):
    """What the autoencoder and the VAE share: a network trained to give back its input.

    A subclass defines ``_validate_params`` (a dict with at least ``loss``),
    ``_check_width(n_features)`` and ``_make_layers(n_features)``, which
    returns the unbuilt layers and the slices of them that are the encoder
    (input to code) and the decoder (code to output); ``encoder_`` and
    ``decoder_`` are models of their own made of those layers.
    """

    def _check_fit_X(self, X):
        settings = self._validate_params()
        X = check_inputs(X, settings["loss"], dtype=self.dtype, ops=self._device_ops())
        self._check_width(X.shape[1])
        return X

    def _check_X(self, X, targets=False):
        """Inputs of a fitted model; ``targets``: they are also compared with reconstructions."""
        check_is_fitted(self, "model_")
        return check_inputs(X, self.model_.loss.name if targets else None,
                            dtype=self.model_.dtype, n_features=self.n_features_in_, model=self,
                            ops=self._device_ops())

    def _build_model(self, sample_shape, n_outputs):
        n_features = int(np.prod(sample_shape))
        layers, _, _ = self._make_layers(n_features)
        model = Sequential(layers, device=self.device, dtype=self.dtype,
                           random_state=self.random_state)
        model.build((n_features,))
        model.compile(optimizer=get_optimizer(self.optimizer, learning_rate=self.learning_rate),
                      loss=self._validate_params()["loss"])
        return model

    def _share_layers(self):
        """Make ``encoder_`` and ``decoder_`` from the layers of ``model_``."""
        _, encoder, decoder = self._make_layers(self.n_features_in_)
        layers = self.model_.layers
        self.encoder_ = submodel(self.model_, layers[encoder], name="encoder")
        self.decoder_ = submodel(self.model_, layers[decoder], name="decoder")

    # -------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Train from scratch to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite; in [0, 1] with binary cross-entropy.
        y : ignored

        Returns
        -------
        self
        """
        X = self._check_fit_X(X)
        self._n_outputs = X.shape[1]
        self._fit(X, X, self.epochs, first_call=True)
        self._share_layers()
        return self

    def partial_fit(self, X, y=None):
        """One epoch over ``X`` (building the network on the first call).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
        X = self._check_fit_X(X) if first else self._check_X(X, targets=True)
        if first:
            self._n_outputs = X.shape[1]
        self._fit(X, X, 1, first_call=first)
        if first:
            self._share_layers()
        return self

    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its codes.

        Returns
        -------
        ndarray of shape (n_samples, latent_dim)
        """
        return self.fit(X).transform(X)

    # ------------------------------------------------------------ inference
    def transform(self, X):
        """The codes of ``X`` (as :meth:`encode`): ndarray of shape (n_samples, latent_dim)."""
        return self.encode(X)

    def decode(self, Z):
        """Reconstructions from codes.

        Parameters
        ----------
        Z : array-like of shape (n_samples, latent_dim)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "model_")
        Z = check_array(Z, name="Z", dtype=self.model_.dtype, ops=self._device_ops())
        if Z.shape[1] != self.latent_dim:
            raise ValueError(f"Z has {Z.shape[1]} columns, but the codes of this model have "
                             f"latent_dim={self.latent_dim}")
        return self.decoder_.predict(Z)

    def reconstruct(self, X):
        """``decode(encode(X))``: ndarray of shape (n_samples, n_features)."""
        X = self._check_X(X)
        return self.model_.predict(X)

    def score(self, X, y=None):
        """Minus the mean of :meth:`score_samples` over ``X`` (higher is better)."""
        return -float(np.mean(self.score_samples(X)))

    # --------------------------------------------------------------- saving
    def _extra_state(self):
        return {"history": getattr(self, "history_", {})}

    _EXTRA_KEYS = ("history",)

    def _read_extra_state(self, config):
        n_features = read_int(config, "n_features_in", "config", low=1)
        n_iter = read_int(config, "n_iter", "config")
        self._check_width(n_features)
        layers, _, _ = self._make_layers(n_features)
        check_saved_layers(config["model"], layers, self._validate_params()["loss"])
        return {"n_outputs": n_features, "history": read_history(config, n_iter)}

    def _load_extra_state(self, extra):
        self._n_outputs = extra["n_outputs"]
        self.history_ = extra["history"]

    @classmethod
    def _from_state(cls, config, arrays):
        est = super()._from_state(config, arrays)
        est._share_layers()
        return est

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        # transform returns the model's dtype, whatever the dtype of X.
        tags.transformer_tags = TransformerTags(preserves_dtype=[np.dtype(self.dtype).name])
        return tags


@register_model
class Autoencoder(ReconstructionEstimator):
    """Autoencoder: an encoder to a code of ``latent_dim`` values and a decoder back.

    The encoder is a dense layer per entry of ``hidden_layer_sizes`` and the
    code layer of ``latent_dim`` units, all with ``activation``; the decoder
    mirrors the hidden layers (or has ``decoder_layer_sizes``) and ends with
    a layer as wide as the input with ``output_activation``.  The network is
    trained to reproduce its input: the target of every sample is the
    sample itself.  With the defaults it is the course's deep autoencoder,
    784-128-64-12-20 and back on MNIST images, ReLU, a sigmoid output, mean
    squared error and Adam.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Units of the encoder's hidden layers, input side first (may be
        empty: the code layer alone).
    latent_dim : int
        Width of the code.  A code wider than the input (more than
        ``n_features``) can copy the input unchanged, and is refused.
    activation : {'relu', 'tanh', 'sigmoid', 'identity'}
        Activation of the hidden layers and the code.
    output_activation : {'sigmoid', 'identity', 'tanh', 'relu'}
        Activation of the reconstruction: sigmoid for data in [0, 1]
        (pixels), identity for unbounded data.
    loss : {'mse', 'binary_cross_entropy'}
        Reconstruction loss, averaged over every value; binary cross-entropy
        needs data in [0, 1] and a sigmoid (or identity, for logits) output.
    optimizer : {'adam', 'sgd', 'rmsprop', 'adagrad', 'adadelta', 'adamw'}
    learning_rate : float
    batch_size : int, 'auto' or None
    epochs : int
    tied_weights : bool
        Each decoder layer uses the transpose of the weights of the encoder
        layer it mirrors (``Dense(tied_to=...)``), with a bias of its own;
        needs the mirrored decoder (``decoder_layer_sizes`` None).
    noise : float
        Corruption of the input during training only, for a denoising
        autoencoder; the target stays the clean input.  0 for none.
    noise_type : {'masking', 'gaussian'}
        'masking' sets each input value to 0 with probability ``noise``
        (in [0, 1)); 'gaussian' adds normal noise of standard deviation
        ``noise``.
    sparsity : float
        Weight of a sparsity penalty on the code (0 for none), reported
        separately in ``history_['sparsity']``.
    sparsity_type : {'l1', 'kl'}
        'l1': the mean over the batch of the sum of the code's absolute
        values; 'kl': the Kullback-Leibler divergence of each code unit's
        mean activation from ``sparsity_target`` (needs
        ``activation='sigmoid'``, whose codes lie in (0, 1)).
    sparsity_target : float in (0, 1)
    decoder_layer_sizes : tuple of int, optional
        Units of the decoder's hidden layers, code side first; by default
        ``hidden_layer_sizes`` reversed.
    early_stopping : bool
        Hold out ``validation_fraction`` of the data and stop when its loss
        has not improved by ``tol`` for ``patience`` epochs, restoring the
        best weights; without it, training stops when the training loss
        stalls that way.
    validation_fraction : float in (0, 1)
    patience : int
    tol : float
    shuffle : bool
    random_state : int, optional
    verbose : {0, 1, 2}
    dtype : {'float32', 'float64'}
    device : {'cpu', 'numpy', 'gpu'}, optional

    Attributes
    ----------
    model_ : Sequential
        The whole network.
    encoder_ : Sequential
        The encoder's layers of ``model_`` (shared, not copied):
        ``encoder_.predict(X)`` is :meth:`encode`.
    decoder_ : Sequential
        The decoder's layers of ``model_`` (shared): ``decoder_.predict(Z)``
        is :meth:`decode`.
    history_ : dict of list
        The last fit's per-epoch logs: 'loss' (the objective), 'lr', and
        'val_loss' with early stopping, 'sparsity' with a sparsity penalty.
    loss_curve_ : list of float
        Training loss per epoch over every fit.
    validation_scores_ : list of float
        Negative validation loss per epoch (with ``early_stopping``).
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import Autoencoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((256, 2)) @ rng.random((2, 8))   # 8 features on a plane
    >>> ae = Autoencoder(hidden_layer_sizes=(16,), latent_dim=2, activation="tanh",
    ...                  output_activation="identity", learning_rate=0.01, batch_size=16,
    ...                  epochs=50, tol=0.0, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (256, 2)
    >>> error = ae.score_samples(X).mean()          # per value, against the data's variance:
    >>> bool(error < 0.01 * X.var(axis=0).mean())
    True
    """

    _TUPLE_PARAMS = ("hidden_layer_sizes", "decoder_layer_sizes")
    # The shared checks of NetworkEstimator look at these; autoencoders have neither.
    dropout = 0.0
    weight_decay = 0.0

    def __init__(self, hidden_layer_sizes=(128, 64, 12), latent_dim=20, activation="relu",
                 output_activation="sigmoid", loss="mse", optimizer="adam", learning_rate=1e-3,
                 batch_size=64, epochs=10, tied_weights=False, noise=0.0, noise_type="masking",
                 sparsity=0.0, sparsity_type="l1", sparsity_target=0.05, decoder_layer_sizes=None,
                 early_stopping=False, validation_fraction=0.1, patience=5, tol=1e-4,
                 shuffle=True, random_state=None, verbose=0, dtype="float32", device=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.tied_weights = tied_weights
        self.noise = noise
        self.noise_type = noise_type
        self.sparsity = sparsity
        self.sparsity_type = sparsity_type
        self.sparsity_target = sparsity_target
        self.decoder_layer_sizes = decoder_layer_sizes
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
        """Check every parameter; returns the settings the network is built from."""
        sizes = check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        decoder = (None if self.decoder_layer_sizes is None
                   else check_sizes(self.decoder_layer_sizes, "decoder_layer_sizes"))
        check_positive(self.latent_dim, "latent_dim", integer=True)
        act = self._check_training_params()
        loss = check_reconstruction_loss(self.loss)
        out_act = check_output_activation(self.output_activation, loss)
        if not isinstance(self.tied_weights, (bool, np.bool_)):
            raise TypeError(f"tied_weights must be True or False, got {self.tied_weights!r}")
        if self.tied_weights and decoder is not None and decoder != sizes[::-1]:
            raise ValueError(f"tied_weights needs the decoder to mirror the encoder: "
                             f"decoder_layer_sizes must be None or {sizes[::-1]}, got {decoder}")
        if self.noise_type not in ("masking", "gaussian"):
            raise ValueError(f"noise_type must be 'masking' or 'gaussian', got {self.noise_type!r}")
        check_positive(self.noise, "noise", allow_zero=True)
        if self.noise_type == "masking" and not self.noise < 1:
            raise ValueError(f"noise is the probability of masking an input value with "
                             f"noise_type='masking', and must be in [0, 1), got {self.noise!r}")
        check_positive(self.sparsity, "sparsity", allow_zero=True)
        if self.sparsity_type not in ("l1", "kl"):
            raise ValueError(f"sparsity_type must be 'l1' or 'kl', got {self.sparsity_type!r}")
        check_positive(self.sparsity_target, "sparsity_target")
        if not self.sparsity_target < 1:
            raise ValueError(f"sparsity_target must be in (0, 1), got {self.sparsity_target!r}")
        if self.sparsity and self.sparsity_type == "kl" and act != "sigmoid":
            raise ValueError(f"sparsity_type='kl' compares mean activations with a rate in (0, 1) "
                             f"and needs activation='sigmoid', got {self.activation!r}")
        return {"sizes": sizes, "decoder": sizes[::-1] if decoder is None else decoder,
                "act": act, "out_act": out_act, "loss": loss}

    def _check_width(self, n_features):
        """Refuse a code wider than the input when nothing keeps it from copying the input."""
        if self.latent_dim > n_features and not (self.noise or self.sparsity):
            raise ValueError(
                f"latent_dim={self.latent_dim} is larger than the input: X has {n_features} "
                f"feature(s), and a code wider than its input can learn to copy it; use a "
                f"latent_dim of at most {n_features}, or add noise or sparsity")

    # -------------------------------------------------------------- network
    def _make_layers(self, n_features):
        """The unbuilt layers and where the encoder and decoder sit among them.

        Returns
        -------
        layers : list of Layer
            The noise layer (with ``noise``), the encoder's Dense layers, the
            sparsity penalty (with ``sparsity``) and the decoder's Dense layers.
        encoder, decoder : slice
            The positions of the encoder's Dense layers (input to code) and
            of the decoder's (code to reconstruction) in ``layers``.
        """
        s = self._validate_params()
        encoder = [Dense(units, activation=s["act"], name=f"encoder_{i}")
                   for i, units in enumerate(s["sizes"])]
        encoder.append(Dense(self.latent_dim, activation=s["act"], name="code"))
        if self.tied_weights:
            # Encoder layer i maps widths[i] -> widths[i + 1]; its mirror maps back.
            widths = (n_features,) + s["sizes"]
            decoder = [Dense(widths[i], activation=s["out_act"] if i == 0 else s["act"],
                             tied_to=encoder[i],
                             name="reconstruction" if i == 0 else f"decoder_{len(encoder) - i}")
                       for i in reversed(range(len(encoder)))]
        else:
            decoder = [Dense(units, activation=s["act"], name=f"decoder_{i}")
                       for i, units in enumerate(s["decoder"], start=1)]
            decoder.append(Dense(n_features, activation=s["out_act"], name="reconstruction"))
        noise = []
        if self.noise:
            noise = [MaskingNoise(self.noise, name="noise") if self.noise_type == "masking"
                     else GaussianNoise(self.noise, name="noise")]
        sparsity = []
        if self.sparsity:
            weights = {"l1": self.sparsity} if self.sparsity_type == "l1" else {
                "kl": self.sparsity, "target": self.sparsity_target}
            sparsity = [ActivityRegularization(**weights, name="sparsity")]
        layers = noise + encoder + sparsity + decoder
        start = len(noise) + len(encoder) + len(sparsity)
        return layers, slice(len(noise), len(noise) + len(encoder)), slice(start, len(layers))

    # ------------------------------------------------------------ inference
    def encode(self, X):
        """The codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, latent_dim)
            In the model's dtype.
        """
        X = self._check_X(X)
        return self.encoder_.predict(X)

    def score_samples(self, X):
        """Reconstruction error of each sample: the loss averaged over its features.

        The mean squared error, or with binary cross-entropy
        ``mean_j [log(1 + exp(z_j)) - x_j z_j]`` of the output logits ``z``
        (exact where the sigmoid saturates).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            float64.
        """
        X = self._check_X(X, targets=True)
        return reconstruction_error(self.model_, X, X, self.model_.loss.name)



def reconstruction_error(net, inputs, X, loss):
    """Per-sample loss of the reconstructions that ``net`` makes from ``inputs``, against ``X``.

    Parameters
    ----------
    net : Sequential
        Built; its last layer is the Dense output layer.
    inputs : ndarray of shape (n_samples, *net.input_shape)
    X : ndarray of shape (n_samples, n_features)
        The data to be reconstructed.
    loss : str
        'mean_squared_error' or 'binary_cross_entropy'.

    Returns
    -------
    ndarray of shape (n_samples,)
        float64: the mean over features of the squared error, or of the
        binary cross-entropy computed from the output layer's logits
        (``log(1 + exp(z)) - x z``, exact where the sigmoid saturates).
    """
    if loss != BinaryCrossEntropy.name:
        diff = net.predict(inputs).astype(np.float64) - X
        return np.mean(diff * diff, axis=1)
    last = net.layers[-1]
    if last.activation == "identity":
        z = net.predict(inputs).astype(np.float64)
    else:
        h = inputs if len(net.layers) == 1 else submodel(net, net.layers[:-1]).predict(inputs)
        z = h.astype(np.float64) @ net.ops.to_numpy(last.W).astype(np.float64)
        if last.b is not None:
            z += net.ops.to_numpy(last.b)
    return np.mean(np.logaddexp(0.0, z) - X * z, axis=1)


__all__ = ["Autoencoder"]
