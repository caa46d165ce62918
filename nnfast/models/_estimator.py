"""What the network estimators share: fitting a :class:`Sequential`, predicting, saving.

:class:`NetworkEstimator` holds the training loop around a model that a
subclass builds (:meth:`NetworkEstimator._build_model`) for inputs that a
subclass checks (:meth:`NetworkEstimator._check_fit_X`); :class:`NetworkClassifier`
adds labels, probabilities and the classifier's scikit-learn interface.
The MLP and CNN estimators are both made of these.
"""
import numpy as np

from .._state_checks import check_keys, read_int, read_labels, read_list
from .._validation import (
    check_consistent_length, check_fraction, check_is_fitted, check_labels, check_positive,
)
from ..backend.ops_activations import check_activation
from ..base import BaseEstimator
from ..callbacks import EarlyStopping, LearningRateScheduler
from ..metrics import accuracy_score
from ..optimizers import OPTIMIZERS
from ._sequential import Sequential


class NetworkEstimator(BaseEstimator):
    """Fits, predicts with and saves a :class:`Sequential` built by the subclass.

    A subclass defines ``__init__`` (with at least ``activation``,
    ``optimizer``, ``learning_rate``, ``batch_size``, ``epochs``, ``dropout``,
    ``weight_decay``, ``early_stopping``, ``validation_fraction``,
    ``patience``, ``tol``, ``shuffle``, ``random_state``, ``verbose``,
    ``dtype``), and:

    - ``_build_model(sample_shape, n_outputs)``: the compiled model;
    - ``_check_fit_X(X)``: the checked training inputs, samples first;
    - ``_check_X(X)``: the checked inputs of a fitted estimator;
    - ``_model_input_shape()``: the sample shape its model takes, for loading.
    """

    _loss = None
    _output_activation = None
    _metrics = ()

    def _check_training_params(self):
        """Check the parameters every network estimator has; returns the hidden activation."""
        act = "identity" if self.activation in (None, "linear") else self.activation
        if act == "softmax":
            raise ValueError("activation must be one of 'identity', 'sigmoid', 'tanh', 'relu' "
                             "for hidden layers")
        check_activation(act)
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        check_positive(self.learning_rate, "learning_rate")
        if self.batch_size != "auto" and self.batch_size is not None:
            check_positive(self.batch_size, "batch_size", integer=True)
        check_positive(self.epochs, "epochs", integer=True)
        check_fraction(self.dropout, "dropout")
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        check_fraction(self.validation_fraction, "validation_fraction", allow_zero=False)
        check_positive(self.patience, "patience", integer=True)
        check_positive(self.tol, "tol", allow_zero=True)
        return act

    def _batch(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        return n if self.batch_size is None else min(int(self.batch_size), n)

    # -------------------------------------------------------------- fitting
    def _fit(self, X, targets, epochs, first_call):
        self._validate_params()
        if first_call:
            self.model_ = self._build_model(X.shape[1:], self._n_outputs)
            self.n_features_in_ = int(np.prod(X.shape[1:]))
            self.loss_curve_, self.validation_scores_ = [], []
            self.n_iter_ = 0
            self.best_loss_ = np.inf
        else:
            # A fit's schedule may have left the rate low; each later call starts from
            # learning_rate again (which set_params may have changed).
            self.model_.optimizer.learning_rate = self.learning_rate
        callbacks, kwargs = [], {}
        if self.early_stopping and first_call and epochs > 1:
            kwargs["validation_split"] = self.validation_fraction
            callbacks.append(EarlyStopping(monitor="val_loss", min_delta=self.tol,
                                           patience=self.patience, restore_best_weights=True))
        elif epochs > 1:
            callbacks.append(EarlyStopping(monitor="loss", min_delta=self.tol, patience=self.patience))
        if getattr(self, "lr_schedule", "constant") == "cosine" and epochs > 1:
            callbacks.append(LearningRateScheduler("cosine", epochs=epochs,
                                                   min_lr=self.learning_rate / 100))
        if kwargs.get("validation_split"):
            n_val = int(len(X) * self.validation_fraction)
            if n_val < 1 or n_val >= len(X):
                raise ValueError(f"validation_fraction={self.validation_fraction} leaves no validation "
                                 f"samples out of {len(X)}")
            # Hold out a random subset (fit() holds out the last rows).
            perm = np.random.default_rng(self.random_state).permutation(len(X))
            # An autoencoder's targets stay its inputs (one copy, checked once, gathered once).
            X, targets = (X[perm],) * 2 if targets is X else (X[perm], targets[perm])
        history = self.model_._fit_checked(X, targets, epochs=epochs,
                                           batch_size=self._batch(len(X)), shuffle=self.shuffle,
                                           callbacks=callbacks, verbose=self.verbose, **kwargs)
        self.history_ = {k: list(v) for k, v in history.history.items()}
        self.loss_curve_ += history.history.get("loss", [])
        self.validation_scores_ += [-v for v in history.history.get("val_loss", [])]
        self.n_iter_ += len(history.epoch)
        if self.loss_curve_:
            self.best_loss_ = min(self.best_loss_, min(self.loss_curve_))
        self.stopped_reason_ = history.stopped_reason
        return self

    def find_learning_rate(self, X, y, **kwargs):
        """Run the learning-rate range test on this network (see :func:`nnfast.experiments.find_learning_rate`).

        The weights, optimizer state and step count are restored afterwards;
        an unfitted estimator stays unfitted.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        **kwargs
            ``start_lr``, ``factor``, ``max_lr``, ``batch_size``,
            ``smoothing``, ``diverge``, ``max_batches``.

        Returns
        -------
        LRFinderResult
        """
        from ..experiments import find_learning_rate

        return find_learning_rate(self, X, y, **kwargs)

    def _forward(self, X):
        X = self._check_X(X)
        return self.model_.predict(X)

    # --------------------------------------------------------------- saving
    def _get_state(self):
        check_is_fitted(self, "model_")
        model_config, arrays = self.model_._get_state()
        config = {"params": _jsonable_params(self.get_params()), "model": model_config,
                  "n_features_in": self.n_features_in_, "n_iter": self.n_iter_,
                  "loss_curve": list(self.loss_curve_),
                  "validation_scores": list(self.validation_scores_), **self._extra_state()}
        return config, arrays

    #: Parameters saved as JSON lists that the constructor takes as tuples.
    _TUPLE_PARAMS = ()

    @classmethod
    def _from_state(cls, config, arrays):
        """Rebuild a fitted estimator; every size in ``config`` is checked before its model is built."""
        check_keys(config, "config", ("params", "model", "n_features_in", "n_iter", "loss_curve",
                                      "validation_scores") + cls._EXTRA_KEYS)
        params = config["params"]
        check_keys(params, "config['params']", tuple(cls._param_names()))
        params = dict(params)
        for key in cls._TUPLE_PARAMS:
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        est = cls(**params)
        try:
            est._validate_params()  # types and ranges; nothing is allocated from them
        except TypeError as exc:
            raise ValueError(f"config['params']: {exc}") from None
        n_features = read_int(config, "n_features_in", "config", low=1)
        n_iter = read_int(config, "n_iter", "config")
        curves = [read_list(config, key, "config", max_length=n_iter)
                  for key in ("loss_curve", "validation_scores")]
        for key, curve in zip(("loss_curve", "validation_scores"), curves):
            if not all(type(v) in (int, float) for v in curve):
                raise ValueError(f"config[{key!r}] must hold numbers")
        extra = est._read_extra_state(config)
        est.n_features_in_ = n_features
        est._load_extra_state(extra)
        expected = est._model_input_shape()
        if int(np.prod(expected)) != n_features:
            raise ValueError(f"config['n_features_in'] is {n_features}, but the saved input "
                             f"shape {expected} holds {int(np.prod(expected))} values")
        model = Sequential._from_state(config["model"], arrays)
        if model.input_shape != expected or model.output_shape != (extra["n_outputs"],):
            raise ValueError(f"the model maps {model.input_shape} to {model.output_shape}, but the "
                             f"estimator was fitted on inputs of shape {expected} and "
                             f"{extra['n_outputs']} outputs")
        est.model_ = model
        est.n_iter_ = n_iter
        est.loss_curve_, est.validation_scores_ = curves
        est.best_loss_ = min(est.loss_curve_) if est.loss_curve_ else np.inf
        return est

    def _model_input_shape(self):
        """The sample shape of the fitted model's input (after :meth:`_load_extra_state`)."""
        return (self.n_features_in_,)

    def _extra_state(self):
        """Subclass-specific fitted state for saving (JSON-serialisable)."""
        return {}

    #: The keys :meth:`_extra_state` adds to the saved config.
    _EXTRA_KEYS = ()

    def _read_extra_state(self, config):
        """What :meth:`_extra_state` saved, checked (it sizes nothing yet).

        Returns a dict holding at least ``n_outputs``, the number of outputs
        the saved state declares.
        """
        return {"n_outputs": read_int(config, "n_outputs", "config", low=1)}

    def _load_extra_state(self, extra):
        """Restore what :meth:`_read_extra_state` read."""


class NetworkClassifier(NetworkEstimator):
    """A :class:`NetworkEstimator` with a softmax output trained on the cross-entropy.

    Labels may be any values (integers, strings, ...); they are encoded as
    indices into ``classes_``.
    """

    _loss = "cross_entropy"
    _output_activation = "softmax"
    _metrics = ("accuracy",)
    _estimator_type = "classifier"

    def fit(self, X, y):
        """Fit to inputs ``X`` (samples first) and labels ``y`` of shape (n_samples,).

        Returns
        -------
        self
        """
        X = self._check_fit_X(X)
        y = check_labels(y, column_warning=True)
        check_consistent_length(X, y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y must hold at least 2 classes, got only one class: "
                             f"{self.classes_.tolist()}")
        self._n_outputs = len(self.classes_)
        return self._fit(X, codes, self.epochs, first_call=True)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (all labels) is required on the first call.

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
        X = self._check_fit_X(X) if first else self._check_X(X)
        y = check_labels(y, column_warning=True)
        check_consistent_length(X, y)
        if first:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            self.classes_ = np.unique(check_labels(classes, name="classes"))
            if len(self.classes_) < 2:
                raise ValueError("classes must hold at least 2 labels")
            self._n_outputs = len(self.classes_)
        return self._fit(X, self._encode(y), 1, first_call=first)

    def _encode(self, y):
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if unknown.any():
            raise ValueError(f"y contains labels not seen in fit: {np.unique(y[unknown]).tolist()[:10]}; "
                             f"known classes are {self.classes_.tolist()[:20]}")
        return codes

    def predict_proba(self, X):
        """Class probabilities: ndarray of shape (n_samples, n_classes), columns in ``classes_`` order."""
        return self._forward(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Most probable class labels: ndarray of shape (n_samples,)."""
        proba = self._forward(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y):
        """Mean accuracy on ``X``, ``y``."""
        y = check_labels(y)
        return accuracy_score(y, self.predict(X))

    def _extra_state(self):
        return {"classes": self.classes_.tolist(), "classes_dtype": self.classes_.dtype.str}

    _EXTRA_KEYS = ("classes", "classes_dtype")

    def _read_extra_state(self, config):
        classes = read_labels(config, "classes", "classes_dtype", "config")
        if len(classes) < 2:
            raise ValueError("config['classes'] must hold at least 2 labels")
        return {"classes": classes, "n_outputs": len(classes)}

    def _load_extra_state(self, extra):
        self.classes_ = extra["classes"]
        self._n_outputs = len(self.classes_)

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.target_tags.required = True
        tags.classifier_tags = ClassifierTags()
        return tags


def _jsonable_params(params):
    out = {}
    for key, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        elif key == "device" and value is not None and not isinstance(value, str):
            value = getattr(value, "name", None)
        out[key] = value
    return out
