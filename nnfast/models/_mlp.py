"""Multilayer perceptron estimators in scikit-learn style, built on :class:`Sequential`."""
import numbers

import numpy as np

from .._state_checks import read_bool
from .._validation import (
    check_array, check_is_fitted, check_n_features, check_target_given,
)
from ..io import register_model
from ..layers import Dense, Dropout
from ..metrics import r2_score
from ..optimizers import get_optimizer
from ._estimator import NetworkClassifier, NetworkEstimator
from ._sequential import Sequential


class _BaseMLP(NetworkEstimator):
    """What :class:`MLPClassifier` and :class:`MLPRegressor` share: their parameters and model."""

    _TUPLE_PARAMS = ("hidden_layer_sizes",)

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
        return sizes, self._check_training_params()

    def _build_model(self, sample_shape, n_outputs):
        sizes, act = self._validate_params()
        layers = []
        for units in sizes:
            layers.append(Dense(units, activation=act))
            if self.dropout:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(n_outputs, activation=self._output_activation))
        model = Sequential(layers, device=self.device, dtype=self.dtype, random_state=self.random_state)
        model.build(tuple(sample_shape))
        model.compile(optimizer=get_optimizer(self.optimizer, learning_rate=self.learning_rate,
                                              weight_decay=self.weight_decay),
                      loss=self._loss, metrics=self._metrics)
        return model

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
        return check_array(X, dtype=self.model_.dtype, n_features=self.n_features_in_,
                           model=self, ops=self._device_ops())

    def _check_fit_X(self, X):
        return check_array(X, dtype=self.dtype, ops=self._device_ops())


@register_model
class MLPClassifier(NetworkClassifier, _BaseMLP):
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
        y = check_array(y, name="y", ndim=(1, 2), dtype=self.dtype, ops=self._device_ops())
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
        X = check_array(X, dtype=self.dtype, ops=self._device_ops())
        y = self._targets(y, len(X))
        self._n_outputs = self.n_outputs_ = y.shape[1]
        return self._fit(X, y, self.epochs, first_call=True)

    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y`` (initialising the model on the first call).

        Returns
        -------
        self
        """
        X = check_array(X, dtype=self.dtype, ops=self._device_ops())
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


__all__ = ["MLPClassifier", "MLPRegressor"]
