"""Stacked autoencoders trained greedily, and classifiers made from trained encoders."""
import numbers

import numpy as np

from .._state_checks import check_keys, read_int, read_list
from .._validation import check_array, check_is_fitted, check_positive
from ..base import BaseEstimator
from ..io import register_model
from ..layers import Dense
from ..layers._activation import normalize_activation
from ..losses import BinaryCrossEntropy
from ..optimizers import get_optimizer
from ._autoencoder import (
    Autoencoder, check_inputs, check_output_activation, check_reconstruction_loss, check_sizes,
    submodel,
)
from ._estimator import _jsonable_params
from ._sequential import Sequential


@register_model
class StackedAutoencoder(BaseEstimator):
    """Autoencoders stacked by greedy layer-wise pretraining.

    The first autoencoder learns a code of ``hidden_layer_sizes[0]`` units
    for the data; each next one learns a narrower code for the codes of the
    one before, with the others left as they are.  The trained encoder
    layers, one per size, map the data to the last code (:meth:`transform`),
    and can be carried into a classifier (:meth:`to_classifier`) to be
    fine-tuned with labels, or kept fixed while only a new head learns.

    Each stage is an :class:`Autoencoder` with one code layer and no hidden
    layers: ``width -> size -> width``.  The first reconstructs the data with
    ``output_activation``; the others reconstruct codes, which lie in the
    range of ``activation``, with ``activation``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        The code width of each stage, input side first; each at most the
        width before it (the data's for the first) unless ``noise`` is set,
        since a plain autoencoder whose code is wider than its input can
        learn to copy it.
    activation : {'sigmoid', 'relu', 'tanh', 'identity'}
        Activation of the codes.
    output_activation : {'sigmoid', 'identity', 'tanh', 'relu'}
        Activation of the first stage's reconstruction of the data.
    loss : {'mse', 'binary_cross_entropy'}
        Reconstruction loss of every stage; binary cross-entropy needs data in
        [0, 1] and, with more than one stage, ``activation='sigmoid'``.
    optimizer : str
    learning_rate : float
    batch_size : int, 'auto' or None
    epochs : int
        Epochs of each stage.
    tied_weights : bool
        Each stage's decoder uses the transpose of its encoder's weights.
    noise : float
        Corruption of each stage's input while it trains (0 for none): the
        stages are then denoising autoencoders, and a code may be wider than
        its input.
    noise_type : {'masking', 'gaussian'}
        As for :class:`Autoencoder`.
    early_stopping : bool
    validation_fraction : float in (0, 1)
    patience : int
    tol : float
    shuffle : bool
    random_state : int, optional
        Each stage gets its own seed drawn from it.
    verbose : {0, 1, 2}
    dtype : {'float32', 'float64'}
    device : {'cpu', 'numpy', 'gpu'}, optional

    Attributes
    ----------
    autoencoders_ : list of Autoencoder
        The trained stages, input side first.
    encoder_layers_ : list of Dense
        Each stage's code layer (shared with ``autoencoders_``).
    encoder_ : Sequential
        ``encoder_layers_`` as one model: ``encoder_.predict(X)`` is
        :meth:`transform`.
    decoder_ : Sequential
        The stages' reconstruction layers, last stage first: it maps the
        last code back to the data.
    histories_ : list of dict
        Each stage's ``history_``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import StackedAutoencoder
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((200, 16)) < 0.3).astype(np.float32)
    >>> sae = StackedAutoencoder(hidden_layer_sizes=(8, 4), epochs=2, random_state=0).fit(X)
    >>> [layer.units for layer in sae.encoder_layers_]
    [8, 4]
    >>> sae.transform(X).shape
    (200, 4)
    >>> clf = sae.to_classifier(2, freeze=True)
    >>> [layer.trainable for layer in clf.layers]
    [False, False, True]
    """

    def __init__(self, hidden_layer_sizes=(256, 128, 64), activation="sigmoid",
                 output_activation="sigmoid", loss="mse", optimizer="adam", learning_rate=1e-3,
                 batch_size=64, epochs=10, tied_weights=False, noise=0.0, noise_type="masking",
                 early_stopping=False,
                 validation_fraction=0.1, patience=5, tol=1e-4, shuffle=True, random_state=None,
                 verbose=0, dtype="float32", device=None):
        self.hidden_layer_sizes = hidden_layer_sizes
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
        sizes = check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes", allow_empty=False)
        loss = check_reconstruction_loss(self.loss)
        check_output_activation(self.output_activation, loss)
        act = normalize_activation(self.activation)
        if loss == BinaryCrossEntropy.name and len(sizes) > 1 and act != "sigmoid":
            raise ValueError(f"with binary cross-entropy the stages after the first reconstruct "
                             f"codes, which must lie in [0, 1]: activation must be 'sigmoid', "
                             f"got {self.activation!r}")
        if self.random_state is not None and (isinstance(self.random_state, bool) or not isinstance(
                self.random_state, numbers.Integral) or self.random_state < 0):
            raise ValueError(f"random_state must be None or a non-negative integer, got "
                             f"{self.random_state!r}")
        for i in range(len(sizes)):  # every stage's own checks
            self._stage(i, sizes)._validate_params()
        return sizes

    def _stage(self, i, sizes):
        """The unfitted :class:`Autoencoder` of stage ``i``."""
        seed = None if self.random_state is None else int(
            np.random.SeedSequence([int(self.random_state), i]).generate_state(1)[0])
        return Autoencoder(
            hidden_layer_sizes=(), latent_dim=sizes[i], activation=self.activation,
            output_activation=self.output_activation if i == 0 else self.activation,
            loss=self.loss, optimizer=self.optimizer, learning_rate=self.learning_rate,
            batch_size=self.batch_size, epochs=self.epochs, tied_weights=self.tied_weights,
            noise=self.noise, noise_type=self.noise_type,
            early_stopping=self.early_stopping, validation_fraction=self.validation_fraction,
            patience=self.patience, tol=self.tol, shuffle=self.shuffle, random_state=seed,
            verbose=self.verbose, dtype=self.dtype, device=self.device)

    def _check_widths(self, sizes, n_features):
        width = n_features
        for i, size in enumerate(sizes):
            if size > width and not self.noise:
                before = f"X has {n_features} feature(s)" if i == 0 else \
                    f"the code before it has {width} units"
                raise ValueError(f"hidden_layer_sizes[{i}]={size} is larger than the layer before "
                                 f"it ({before}); a stage whose code is wider than its input can "
                                 f"learn to copy it, unless noise corrupts that input")
            width = size

    # -------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Pretrain the stages one after the other.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        sizes = self._validate_params()
        X = check_inputs(X, check_reconstruction_loss(self.loss), dtype=self.dtype,
                         ops=self._device_ops())
        self._check_widths(sizes, X.shape[1])
        stages, codes = [], X
        for i in range(len(sizes)):
            if self.verbose:
                print(f"stage {i + 1}/{len(sizes)}: {codes.shape[1]} -> {sizes[i]}")
            stage = self._stage(i, sizes).fit(codes)
            stages.append(stage)
            if i + 1 < len(sizes):
                codes = stage.transform(codes)
        self._set_stages(stages, X.shape[1])
        return self

    def _set_stages(self, stages, n_features):
        self.autoencoders_ = stages
        self.encoder_layers_ = [stage.encoder_.layers[0] for stage in stages]
        first = stages[0].model_
        self.encoder_ = submodel(first, self.encoder_layers_, name="encoder")
        self.decoder_ = submodel(first, [stage.decoder_.layers[-1] for stage in stages[::-1]],
                                 name="decoder")
        self.histories_ = [stage.history_ for stage in stages]
        self.n_features_in_ = n_features

    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its last codes: ndarray of shape (n_samples, hidden_layer_sizes[-1])."""
        return self.fit(X).transform(X)

    def _check_X(self, X):
        check_is_fitted(self, "autoencoders_")
        return check_array(X, dtype=self.encoder_.dtype, n_features=self.n_features_in_,
                           model=self, ops=self._device_ops())

    def transform(self, X):
        """The last stage's codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, hidden_layer_sizes[-1])
        """
        X = self._check_X(X)
        return self.encoder_.predict(X)

    def reconstruct(self, X):
        """``X`` encoded through every stage and decoded back: ndarray of shape (n_samples, n_features)."""
        return self.decoder_.predict(self.transform(X))

    def to_classifier(self, n_classes, freeze=False, **kwargs):
        """A classifier whose first layers are copies of the trained encoder layers.

        See :func:`classifier_from_encoders`, which this calls with ``[self]``.

        Returns
        -------
        Sequential
            Compiled, to be trained with ``fit(X, y)`` on integer labels in
            [0, n_classes).
        """
        check_is_fitted(self, "autoencoders_")
        return classifier_from_encoders([self], n_classes, freeze=freeze, **kwargs)

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=[np.dtype(self.dtype).name])
        return tags

    # --------------------------------------------------------------- saving
    def _get_state(self):
        config = {"params": _jsonable_params(self.get_params())}
        arrays = {}
        if hasattr(self, "autoencoders_"):
            config["n_features_in"] = self.n_features_in_
            config["stages"] = []
            for i, stage in enumerate(self.autoencoders_):
                stage_config, stage_arrays = stage._get_state()
                config["stages"].append(stage_config)
                arrays.update({f"stages/{i}/{k}": v for k, v in stage_arrays.items()})
        return config, arrays

    @classmethod
    def _from_state(cls, config, arrays):
        """Rebuild; every stage's parameters are compared with those the stack implies first."""
        check_keys(config, "config", ("params",), ("n_features_in", "stages"))
        params = dict(check_keys(config["params"], "config['params']", tuple(cls._param_names())))
        for key in ("hidden_layer_sizes",):
            if isinstance(params[key], list):
                params[key] = tuple(params[key])
        est = cls(**params)
        try:
            sizes = est._validate_params()
        except TypeError as exc:
            raise ValueError(f"config['params']: {exc}") from None
        if "n_features_in" not in config and "stages" not in config:
            if arrays:
                raise ValueError(f"the file holds arrays ({sorted(arrays)[:3]}) but no fitted stages")
            return est
        check_keys(config, "config", ("params", "n_features_in", "stages"))
        n_features = read_int(config, "n_features_in", "config", low=1)
        est._check_widths(sizes, n_features)
        stage_configs = read_list(config, "stages", "config", length=len(sizes))
        stage_arrays = [{} for _ in sizes]
        for name, arr in arrays.items():
            head, _, rest = name.partition("/")
            index, _, key = rest.partition("/")
            if head != "stages" or not index.isdigit() or int(index) >= len(sizes) or not key:
                raise ValueError(f"the file holds the unexpected array {name!r}")
            stage_arrays[int(index)][key] = arr
        width = n_features
        for i, stage_config in enumerate(stage_configs):
            where = f"config['stages'][{i}]"
            if not isinstance(stage_config, dict):
                raise ValueError(f"{where} must be a JSON object")
            expected = _jsonable_params(est._stage(i, sizes).get_params())
            if stage_config.get("params") != expected:
                raise ValueError(f"{where}['params'] are not those stage {i} of the stack has")
            if stage_config.get("n_features_in") != width:
                raise ValueError(f"{where}['n_features_in'] must be {width}, the width of the "
                                 f"stage's input, got {stage_config.get('n_features_in')!r}")
            width = sizes[i]
        stages = []
        for i, stage_config in enumerate(stage_configs):
            try:
                stages.append(Autoencoder._from_state(stage_config, stage_arrays[i]))
            except ValueError as exc:
                raise ValueError(f"stage {i}: {exc}") from None
        est._set_stages(stages, n_features)
        return est


def _encoder_layers(encoder, i):
    """The trained Dense layers that ``encoder`` (item ``i`` of the list) contributes."""
    if isinstance(encoder, Autoencoder):
        check_is_fitted(encoder, "model_")
        return list(encoder.encoder_.layers)
    if isinstance(encoder, StackedAutoencoder):
        check_is_fitted(encoder, "autoencoders_")
        return list(encoder.encoder_layers_)
    if isinstance(encoder, Sequential):
        layers = list(encoder.layers)
    elif isinstance(encoder, Dense):
        layers = [encoder]
    else:
        raise TypeError(f"encoders[{i}] must be a fitted Autoencoder or StackedAutoencoder, a "
                        f"built Sequential of Dense layers or a Dense layer, got "
                        f"{type(encoder).__name__}")
    for layer in layers:
        if not isinstance(layer, Dense):
            raise TypeError(f"encoders[{i}] holds a {type(layer).__name__} layer; only Dense "
                            f"layers can be transferred")
        if not layer.built:
            raise ValueError(f"encoders[{i}] is not built: train it before transferring it")
    return layers


def classifier_from_encoders(encoders, n_classes, freeze=False, hidden_layer_sizes=(),
                             activation="relu", optimizer="adam", learning_rate=1e-3,
                             random_state=None, dtype=None, device=None):
    """One classifier from the trained encoder layers of several autoencoders.

    The encoder layers of each item of ``encoders``, in order, are copied
    (weights, biases and activations) into a new network, followed by
    ``hidden_layer_sizes`` new dense layers and a softmax layer of
    ``n_classes`` units.  This is the course's transfer: autoencoders of
    784-256-128-64, then 64-128-64-32 on its codes, then 32-64-32-16 on
    those, whose encoders make up one 784-...-16 network under a softmax.
    The copies are independent of the autoencoders: training the classifier
    leaves them unchanged.

    Parameters
    ----------
    encoders : sequence
        Each a fitted :class:`Autoencoder` (its ``encoder_``), a fitted
        :class:`StackedAutoencoder` (its ``encoder_layers_``), a built
        :class:`Sequential` of Dense layers, or a built Dense layer; each
        takes the output of the one before.
    n_classes : int
        At least 2.
    freeze : bool
        Keep the transferred layers fixed (``trainable = False``): training
        then fits only the new layers.  Set ``layer.trainable`` back to
        True later to fine-tune them as well.
    hidden_layer_sizes : tuple of int
        New dense layers between the transferred ones and the softmax.
    activation : str
        Activation of those new layers.
    optimizer : str or Optimizer
    learning_rate : float
        Used when ``optimizer`` is a name.
    random_state : int, optional
        Seed of the new layers' initial weights and of shuffling.
    dtype : {'float32', 'float64'}, optional
        By default the first transferred layer's.
    device : optional
        By default the current backend.

    Returns
    -------
    Sequential
        Built and compiled with the cross-entropy and the 'accuracy' metric:
        ``fit(X, y, epochs=..., batch_size=...)`` on integer labels in
        [0, n_classes), ``predict(X)`` gives class probabilities of shape
        (n_samples, n_classes), ``evaluate(X, y)`` the loss and accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import Autoencoder
    >>> from nnfast.models import classifier_from_encoders
    >>> X = np.random.default_rng(0).random((100, 12))
    >>> first = Autoencoder(hidden_layer_sizes=(), latent_dim=6, epochs=1, random_state=0).fit(X)
    >>> second = Autoencoder(hidden_layer_sizes=(), latent_dim=3, epochs=1,
    ...                      random_state=0).fit(first.transform(X))
    >>> clf = classifier_from_encoders([first, second], n_classes=2, freeze=True)
    >>> [(layer.units, layer.trainable) for layer in clf.layers]
    [(6, False), (3, False), (2, True)]
    """
    if isinstance(encoders, (Autoencoder, StackedAutoencoder, Sequential, Dense)):
        raise TypeError("encoders must be a list of encoders; put a single one in a list")
    layers = [layer for i, enc in enumerate(encoders) for layer in _encoder_layers(enc, i)]
    if not layers:
        raise ValueError("encoders must hold at least one encoder")
    check_positive(n_classes, "n_classes", integer=True)
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    sizes = check_sizes(hidden_layer_sizes, "hidden_layer_sizes")
    if not isinstance(freeze, (bool, np.bool_)):
        raise TypeError(f"freeze must be True or False, got {freeze!r}")
    for before, after in zip(layers, layers[1:]):
        if after.input_shape[0] != before.units:
            raise ValueError(f"the encoders do not chain: a layer of {before.units} units is "
                             f"followed by one taking {after.input_shape[0]} inputs")
    first = layers[0]
    copies = [Dense(layer.units, activation=layer.activation, use_bias=layer.b is not None,
                    name=f"transferred_{i}") for i, layer in enumerate(layers)]
    head = [Dense(units, activation=activation, name=f"hidden_{i}") for i, units in enumerate(sizes)]
    head.append(Dense(int(n_classes), activation="softmax", name="classes"))
    model = Sequential(copies + head, device=device, dtype=first.dtype if dtype is None else dtype,
                       random_state=random_state)
    model.build(first.input_shape)
    for copy, layer in zip(copies, layers):
        weights = [layer.ops.to_numpy(layer.W)] + ([] if layer.b is None else
                                                   [layer.ops.to_numpy(layer.b)])
        for var, value in zip(copy.variables, weights):
            var.value[...] = model.ops.asarray(np.ascontiguousarray(value), dtype=model.dtype)
        copy.trainable = not freeze
    model.compile(optimizer=get_optimizer(optimizer, learning_rate=learning_rate),
                  loss="cross_entropy", metrics=["accuracy"])
    return model


__all__ = ["StackedAutoencoder", "classifier_from_encoders"]
