"""Multilayer perceptron estimators in scikit-learn style, built on :class:`Sequential`."""
import numbers

import numpy as np

from .._state_checks import check_keys, read_bool, read_int, read_labels, read_list
from .._validation import (
    check_array, check_consistent_length, check_fraction, check_is_fitted, check_labels,
    check_n_features, check_positive, check_target_given,
)
from ..backend.ops_activations import check_activation
from ..base import BaseEstimator
from ..callbacks import EarlyStopping
from ..io import register_model
from ..layers import Dense, Dropout
from ..metrics import accuracy_score, r2_score
from ..optimizers import OPTIMIZERS, get_optimizer
from ._sequential import Sequential


class _BaseMLP(BaseEstimator):
    """Shared fitting logic of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _loss = None
    _output_activation = None
    _metrics = ()

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam",
                 learning_rate=0.001, batch_size=200, epochs=200, dropout=0.0, weight_decay=0.0,
                 early_stopping=False, validation_fraction=0.1, patience=10, tol=1e-4,
                 shuffle=True, random_state=None, verbose=0, device=None, dtype="float32"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.dtype = dtype

    # --------------------------------------------------------------- checks
    def _validate_params(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        sizes = tuple(sizes)
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}")
        act = "identity" if self.activation in (None, "linear") else self.activation
        if act == "softmax":
            raise ValueError("activation must be one of 'identity', 'sigmoid', 'tanh', 'relu' for hidden layers")
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
        return sizes, act

    def _build_model(self, n_features, n_outputs, sizes, act):
        layers = []
        for units in sizes:
            layers.append(Dense(units, activation=act))
            if self.dropout:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(n_outputs, activation=self._output_activation))
        model = Sequential(layers, device=self.device, dtype=self.dtype, random_state=self.random_state)
        model.build((n_features,))
        model.compile(optimizer=get_optimizer(self.optimizer, learning_rate=self.learning_rate,
                                              weight_decay=self.weight_decay),
                      loss=self._loss, metrics=self._metrics)
        return model

    def _batch(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        return n if self.batch_size is None else min(int(self.batch_size), n)

    # -------------------------------------------------------------- fitting
    def _fit(self, X, targets, epochs, first_call):
        sizes, act = self._validate_params()
        if first_call:
            self.model_ = self._build_model(X.shape[1], self._n_outputs, sizes, act)
            self.n_features_in_ = X.shape[1]
            self.loss_curve_, self.validation_scores_ = [], []
            self.n_iter_ = 0
            self.best_loss_ = np.inf
        callbacks, kwargs = [], {}
        if self.early_stopping and first_call and epochs > 1:
            kwargs["validation_split"] = self.validation_fraction
            callbacks.append(EarlyStopping(monitor="val_loss", min_delta=self.tol,
                                           patience=self.patience, restore_best_weights=True))
        elif epochs > 1:
            callbacks.append(EarlyStopping(monitor="loss", min_delta=self.tol, patience=self.patience))
        if kwargs.get("validation_split"):
            n_val = int(len(X) * self.validation_fraction)
            if n_val < 1 or n_val >= len(X):
                raise ValueError(f"validation_fraction={self.validation_fraction} leaves no validation "
                                 f"samples out of {len(X)}")
            # Hold out a random subset (fit() holds out the last rows).
            perm = np.random.default_rng(self.random_state).permutation(len(X))
            X, targets = X[perm], targets[perm]
        history = self.model_.fit(X, targets, epochs=epochs, batch_size=self._batch(len(X)),
                                  shuffle=self.shuffle, callbacks=callbacks, verbose=self.verbose, **kwargs)
        self.history_ = {k: list(v) for k, v in history.history.items()}
        self.loss_curve_ += history.history.get("loss", [])
        self.validation_scores_ += [-v for v in history.history.get("val_loss", [])]
        self.n_iter_ += len(history.epoch)
        if self.loss_curve_:
            self.best_loss_ = min(self.best_loss_, min(self.loss_curve_))
        self.stopped_reason_ = history.stopped_reason
        return self

    @property
    def coefs_(self):
        """Weight matrices, ``coefs_[i]`` of shape (n_units_in, n_units_out)."""
        check_is_fitted(self, "model_")
        return [self.model_.ops.to_numpy(l.W) for l in self.model_.layers if isinstance(l, Dense)]

    @property
    def intercepts_(self):
        """Bias vectors, ``intercepts_[i]`` of shape (n_units_out,)."""
        check_is_fitted(self, "model_")
        return [self.model_.ops.to_numpy(l.b) for l in self.model_.layers if isinstance(l, Dense)]

    def _check_X(self, X):
        check_is_fitted(self, "model_")
        return check_array(X, dtype=self.model_.dtype, n_features=self.n_features_in_, model=self)

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

    @classmethod
    def _from_state(cls, config, arrays):
        """Rebuild a fitted estimator; every size in ``config`` is checked before its model is built."""
        check_keys(config, "config", ("params", "model", "n_features_in", "n_iter", "loss_curve",
                                      "validation_scores") + cls._EXTRA_KEYS)
        params = config["params"]
        check_keys(params, "config['params']", tuple(cls._param_names()))
        params = dict(params)
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
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
        model = Sequential._from_state(config["model"], arrays)
        if model.input_shape != (n_features,) or model.output_shape != (extra["n_outputs"],):
            raise ValueError(f"the model maps {model.input_shape} to {model.output_shape}, but the "
                             f"estimator was fitted on {n_features} features and "
                             f"{extra['n_outputs']} outputs")
        est.model_ = model
        est.n_features_in_, est.n_iter_ = n_features, n_iter
        est.loss_curve_, est.validation_scores_ = curves
        est.best_loss_ = min(est.loss_curve_) if est.loss_curve_ else np.inf
        est._load_extra_state(extra)
        return est

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


@register_model
class MLPClassifier(_BaseMLP):
    """Multilayer perceptron classifier trained by backpropagation.

    A softmax output layer with cross-entropy loss; labels may be any values
    (integers, strings, ...).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Units in each hidden layer, e.g. (500, 300).
    activation : {'relu', 'tanh', 'sigmoid', 'identity'}
        Hidden-layer activation (weights start He-initialised for ReLU,
        Glorot-initialised otherwise).
    optimizer : {'adam', 'sgd', 'rmsprop', 'adagrad', 'adadelta'}
    learning_rate : float
    batch_size : int, 'auto' or None
        Samples per update; 1 is online learning, None the full set,
        'auto' is min(200, n_samples).
    epochs : int
        Maximum passes over the data.
    dropout : float in [0, 1)
        Dropout rate after each hidden layer.
    weight_decay : float
        L2 penalty on the weights.
    early_stopping : bool
        Hold out ``validation_fraction`` of the data and stop when its loss
        has not improved by ``tol`` for ``patience`` epochs, restoring the
        best weights.  Without it, training stops when the training loss
        stalls the same way.
    validation_fraction : float in (0, 1)
    patience : int
    tol : float
    shuffle : bool
    random_state : int, optional
    verbose : {0, 1, 2}
    device : {'cpu', 'numpy', 'gpu'}, optional
    dtype : {'float32', 'float64'}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : Sequential
    coefs_, intercepts_ : list of ndarray
    loss_curve_ : list of float
        Training loss per epoch.
    validation_scores_ : list of float
        Negative validation loss per epoch (with ``early_stopping``).
    history_ : dict
        The last fit's per-epoch logs.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int

    Examples
    --------
    >>> from nnfast import MLPClassifier
    >>> X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    >>> clf = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", learning_rate=0.05,
    ...                     batch_size=4, epochs=500, random_state=1).fit(X, ["no", "yes", "yes", "no"])
    >>> clf.predict(X).tolist()
    ['no', 'yes', 'yes', 'no']
    """

    _loss = "cross_entropy"
    _output_activation = "softmax"
    _metrics = ("accuracy",)
    _estimator_type = "classifier"

    def fit(self, X, y):
        """Fit to ``X`` of shape (n_samples, n_features) and labels ``y`` of shape (n_samples,).

        Returns
        -------
        self
        """
        X = check_array(X, dtype=self.dtype)
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
        X = check_array(X, dtype=self.dtype)
        y = check_labels(y, column_warning=True)
        check_consistent_length(X, y)
        first = not hasattr(self, "model_")
        if first:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            self.classes_ = np.unique(check_labels(classes, name="classes"))
            if len(self.classes_) < 2:
                raise ValueError("classes must hold at least 2 labels")
            self._n_outputs = len(self.classes_)
        else:
            check_n_features(self, X)
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


@register_model
class MLPRegressor(_BaseMLP):
    """Multilayer perceptron regressor: a linear output layer trained on squared error.

    Parameters are those of :class:`MLPClassifier`.

    Attributes
    ----------
    model_ : Sequential
    coefs_, intercepts_ : list of ndarray
    loss_curve_ : list of float
    n_iter_ : int
    n_features_in_ : int
    n_outputs_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import MLPRegressor
    >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", learning_rate=0.01,
    ...                    epochs=300, batch_size=16, random_state=0).fit(X, X.ravel() ** 2)
    >>> reg.score(X, X.ravel() ** 2) > 0.9
    True
    """

    _loss = "mean_squared_error"
    _output_activation = "identity"
    _estimator_type = "regressor"

    def _targets(self, y, n_samples):
        check_target_given(y)
        y = check_array(y, name="y", ndim=(1, 2), dtype=self.dtype)
        if len(y) != n_samples:
            raise ValueError(f"X and y have different numbers of samples: {n_samples} and {len(y)}")
        self._y_1d = y.ndim == 1
        return y.reshape(n_samples, -1)

    def fit(self, X, y):
        """Fit to ``X`` of shape (n_samples, n_features) and ``y`` of shape (n_samples,) or (n_samples, n_outputs).

        Returns
        -------
        self
        """
        X = check_array(X, dtype=self.dtype)
        y = self._targets(y, len(X))
        self._n_outputs = self.n_outputs_ = y.shape[1]
        return self._fit(X, y, self.epochs, first_call=True)

    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y`` (initialising the model on the first call).

        Returns
        -------
        self
        """
        X = check_array(X, dtype=self.dtype)
        first = not hasattr(self, "model_")
        y = self._targets(y, len(X))
        if first:
            self._n_outputs = self.n_outputs_ = y.shape[1]
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} outputs, but the model was fitted with {self.n_outputs_}")
        else:
            check_n_features(self, X)
        return self._fit(X, y, 1, first_call=first)

    def predict(self, X):
        """Predictions: float64 ndarray of shape (n_samples,) for a single output, else (n_samples, n_outputs).

        Float64 whatever the model's ``dtype``, as scikit-learn's regressors
        return them.
        """
        out = self._forward(X).astype(np.float64, copy=False)
        return out.ravel() if self._y_1d else out

    def score(self, X, y):
        """Coefficient of determination R^2 on ``X``, ``y``."""
        return r2_score(np.asarray(y, dtype=np.float64), self.predict(X))

    def _extra_state(self):
        return {"y_1d": self._y_1d, "n_outputs": self.n_outputs_}

    _EXTRA_KEYS = ("y_1d", "n_outputs")

    def _read_extra_state(self, config):
        return {"y_1d": read_bool(config, "y_1d", "config"), **super()._read_extra_state(config)}

    def _load_extra_state(self, extra):
        self._y_1d = extra["y_1d"]
        self._n_outputs = self.n_outputs_ = extra["n_outputs"]

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.target_tags.required = True
        # y of shape (n_samples, n_outputs) is fitted with one output unit per column.
        tags.target_tags.multi_output = True
        tags.regressor_tags = RegressorTags()
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


__all__ = ["MLPClassifier", "MLPRegressor"]
