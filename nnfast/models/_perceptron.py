"""Rosenblatt's perceptron and the logic-gate exercises."""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._state_checks import (
    check_array_names, check_keys, describe, read_array, read_bool, read_float, read_int,
    read_labels, read_list, read_str,
)
from .._validation import (
    check_array, check_consistent_length, check_is_fitted, check_labels, check_positive,
    check_random_state,
)
from ..backend import resolve_ops
from ..backend.ops_perceptron import PERCEPTRON_RULES, check_rule
from ..base import BaseEstimator
from ..datasets import logic_gate
from ..io import register_model

__all__ = ["Perceptron", "GateExercise", "logic_gate_exercise"]


def _seed_from(random_state):
    """A 63-bit kernel seed drawn from ``random_state`` (None, int or Generator)."""
    return int(check_random_state(random_state).integers(2**63))


@register_model
class Perceptron(BaseEstimator):
    """Rosenblatt's single-layer perceptron for two classes.

    The model computes ``s(x) = w . x + b`` and predicts ``classes_[1]`` when
    ``s(x) > 0`` and ``classes_[0]`` otherwise (a step output).  Training
    codes the targets as ``t = +1`` for ``classes_[1]`` and ``t = -1`` for
    ``classes_[0]`` and starts from zero weights.  A sample is an *error*
    when ``t * s(x) <= 0`` (a score of exactly zero counts as an error, which
    is what gets learning going from zero weights); each error moves the
    weights by ``w += learning_rate * t * x`` and ``b += learning_rate * t``.
    Training stops after the first epoch (pass over the data) without errors,
    or after ``max_epochs``.  On linearly separable data the online rule
    always gets there (the perceptron convergence theorem); on other data it
    runs all ``max_epochs``.

    The whole training run executes in compiled code on the ``"cpu"``
    backend.  Inputs are converted to float64.

    Parameters
    ----------
    learning_rate : float, default=1.0
        Step size of each update.  From zero weights it only scales ``w`` and
        ``b``: the decisions, errors and predictions are the same at every
        learning rate (up to rounding).
    max_epochs : int, default=100
        Most passes over the training data.
    rule : {'online', 'batch'}, default='online'
        ``'online'``: the classic rule, one sample at a time, updating after
        each error.  ``'batch'``: every epoch finds all errors under the
        weights of the epoch's start and then applies the sum of their
        updates.
    shuffle : bool, default=True
        Visit the samples in a new random order every epoch (online rule);
        otherwise in the order given.
    fit_intercept : bool, default=True
        Learn the bias ``b``; otherwise it stays 0 and the decision boundary
        passes through the origin.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the shuffling; an int makes training reproducible.
    device : str or None, default=None
        Backend (``'cpu'``, ``'numpy'`` or ``'gpu'``); None uses the current
        one.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels, sorted.
    coef_ : ndarray of shape (n_features,)
        The weights ``w``.
    intercept_ : float
        The bias ``b``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_epochs_ : int
        Epochs run by the last ``fit``.
    converged_ : bool
        Whether the last epoch made no error (the data were learned).
    history_ : dict
        ``history_["errors"]``: list of length ``n_epochs_`` with the number
        of errors made in each epoch.

    Notes
    -----
    Labels may be any two values (+-1, 0/1, strings, booleans).  Data with
    more than two classes raise ``ValueError``: one perceptron separates two
    classes.

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast.models import Perceptron
    >>> X = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]])
    >>> y = np.array(["off", "off", "off", "on"])          # logical AND
    >>> model = Perceptron(shuffle=False).fit(X, y)
    >>> model.predict(X).tolist()
    ['off', 'off', 'off', 'on']
    >>> model.history_["errors"], model.converged_
    ([1, 0], True)
    """

    def __init__(self, learning_rate=1.0, max_epochs=100, rule="online", shuffle=True,
                 fit_intercept=True, random_state=None, device=None):
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.rule = rule
        self.shuffle = shuffle
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.device = device

    def _validate_params(self):
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.max_epochs, "max_epochs", integer=True)
        check_rule(self.rule)
        for name in ("shuffle", "fit_intercept"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def fit(self, X, y):
        """Train on ``X`` and ``y`` from zero weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels of exactly two classes.

        Returns
        -------
        self
        """
        self._validate_params()
        X = check_array(X, dtype=np.float64, ops=self._device_ops())
        y = check_labels(y, column_warning=True)
        check_consistent_length(X, y)
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError(f"y holds a single class ({classes.tolist()[0]!r}); one class is not "
                             f"enough, the perceptron needs samples of two classes")
        if classes.size > 2:
            raise ValueError(f"Only binary classification is supported: y holds {classes.size} "
                             f"classes, and the perceptron separates exactly two (train one "
                             f"perceptron per class against the rest for more)")
        t = np.where(y == classes[1], 1.0, -1.0)
        ops = resolve_ops(self.device)
        w = ops.alloc((X.shape[1],), dtype="float64")
        b = ops.alloc((1,), dtype="float64")
        seed = _seed_from(self.random_state)
        errors = ops.perceptron_fit(
            ops.asarray(X), ops.asarray(t), w, b, lr=float(self.learning_rate),
            max_epochs=int(self.max_epochs), rule=self.rule, shuffle=bool(self.shuffle),
            seed=seed, fit_intercept=bool(self.fit_intercept))
        self.classes_ = classes
        self.coef_ = np.array(ops.to_numpy(w), dtype=np.float64)
        self.intercept_ = float(ops.to_numpy(b)[0])
        self.n_features_in_ = X.shape[1]
        self.n_epochs_ = int(len(errors))
        self.converged_ = bool(errors[-1] == 0)
        self.history_ = {"errors": [int(e) for e in errors]}
        return self

    def decision_function(self, X):
        """The score ``w . x + b`` of each sample (positive means ``classes_[1]``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "coef_")
        X = check_array(X, dtype=np.float64, n_features=self.n_features_in_,
                        model=self, ops=self._device_ops())
        return X @ self.coef_ + self.intercept_

    def predict(self, X):
        """Class labels: ``classes_[1]`` where the score is positive, else ``classes_[0]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]

    def score(self, X, y):
        """Accuracy: the fraction of samples whose predicted label equals ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        float
        """
        y = check_labels(y)
        pred = self.predict(X)
        check_consistent_length(pred, y)
        return float(np.mean(pred == y))

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.target_tags.required = True
        # One perceptron separates two classes; fit refuses more.
        tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags

    # ------------------------------------------------------------- saving
    def _get_state(self):
        params = self.get_params()
        if not (params["device"] is None or isinstance(params["device"], str)):
            params["device"] = None
        seed = params["random_state"]
        params["random_state"] = int(seed) if isinstance(seed, numbers.Integral) else None
        config = {"params": params}
        arrays = {}
        if hasattr(self, "coef_"):
            if self.classes_.dtype.kind not in "biufU":
                raise TypeError(f"cannot save class labels of dtype {self.classes_.dtype}; "
                                f"use numbers or strings")
            config.update(
                classes=self.classes_.tolist(), classes_dtype=self.classes_.dtype.str,
                n_features_in=self.n_features_in_, n_epochs=self.n_epochs_,
                converged=self.converged_, errors=list(self.history_["errors"]),
                intercept=self.intercept_)
            arrays["coef"] = self.coef_
        return config, arrays

    @classmethod
    def _from_state(cls, config, arrays):
        params, fitted = _read_state(config, arrays)
        model = cls(**params)
        for name, value in fitted.items():
            setattr(model, name, value)
        return model


# --------------------------------------------------------------------------
# Checks of a saved state
# --------------------------------------------------------------------------

_FITTED_KEYS = ("classes", "classes_dtype", "n_features_in", "n_epochs", "converged", "errors",
                "intercept")


def _read_state(config, arrays):
    """Check a saved :class:`Perceptron` state before anything is built from it.

    Parameters
    ----------
    config : dict
        The decoded JSON config written by ``Perceptron._get_state``.
    arrays : dict of str to ndarray
        The stored arrays: ``coef`` for a fitted model, none otherwise.

    Returns
    -------
    params : dict
        Keyword arguments of :class:`Perceptron`.
    fitted : dict
        Fitted attributes by name (``classes_``, ``coef_``, ...); empty for an
        unfitted model.

    Raises
    ------
    ValueError
        Naming the first entry of the wrong type, out of range, or
        disagreeing with the stored arrays.
    """
    check_keys(config, "config", ("params",), _FITTED_KEYS)
    p = check_keys(config["params"], "config['params']", (
        "learning_rate", "max_epochs", "rule", "shuffle", "fit_intercept", "random_state",
        "device"))
    where = "config['params']"
    params = {
        "learning_rate": read_float(p, "learning_rate", where, low=0, low_open=True),
        "max_epochs": read_int(p, "max_epochs", where, low=1),
        "rule": read_str(p, "rule", where, choices=PERCEPTRON_RULES),
        "shuffle": read_bool(p, "shuffle", where),
        "fit_intercept": read_bool(p, "fit_intercept", where),
        "random_state": read_int(p, "random_state", where, high=math.inf, allow_none=True),
        "device": read_str(p, "device", where, allow_none=True),
    }
    if not any(key in config for key in _FITTED_KEYS):
        check_array_names(arrays, ())
        return params, {}
    check_keys(config, "config", ("params",) + _FITTED_KEYS)
    check_array_names(arrays, ("coef",))
    n_features = read_int(config, "n_features_in", "config", low=1)
    coef = read_array(arrays, "coef", shape=(n_features,), dtype=np.float64, finite=True,
                      sizes="config['n_features_in']")
    n_epochs = read_int(config, "n_epochs", "config", low=1)
    errors = read_list(config, "errors", "config", length=n_epochs)
    for i, count in enumerate(errors):
        if type(count) is not int or count < 0:
            raise ValueError(f"config['errors'][{i}] must be a count of errors (an integer "
                             f">= 0), got {describe(count)}")
    converged = read_bool(config, "converged", "config")
    if converged != (errors[-1] == 0):
        raise ValueError(f"config['converged'] is {converged}, but the last epoch made "
                         f"{errors[-1]} errors")
    fitted = {
        "classes_": _read_classes(config),
        "coef_": coef,
        "intercept_": float(read_float(config, "intercept", "config")),
        "n_features_in_": n_features,
        "n_epochs_": n_epochs,
        "converged_": converged,
        "history_": {"errors": list(errors)},
    }
    return params, fitted


def _read_classes(config):
    """The two class labels of a saved state as an array of the saved dtype."""
    return read_labels(config, "classes", "classes_dtype", "config", length=2)


# --------------------------------------------------------------------------
# The logic-gate exercises
# --------------------------------------------------------------------------

@dataclass(repr=False)
class GateExercise:
    """A perceptron trained on the full truth table of a logic gate.

    Made by :func:`logic_gate_exercise`.

    Attributes
    ----------
    gate : str
        The gate's name.
    n_inputs : int
    X : ndarray of shape (2**n_inputs, n_inputs)
        Every input pattern, coded -1 (false) and +1 (true).
    y : ndarray of shape (2**n_inputs,)
        The gate's output for each pattern, coded -1 and +1.
    model : Perceptron
        The fitted perceptron.

    Examples
    --------
    >>> from nnfast.models import logic_gate_exercise
    >>> ex = logic_gate_exercise("or", n_inputs=2)
    >>> ex.learned, ex.errors, ex.model.coef_.tolist(), ex.model.intercept_
    (True, [3, 0], [1.0, 1.0], 1.0)
    """

    gate: str
    n_inputs: int
    X: np.ndarray
    y: np.ndarray
    model: Perceptron

    @property
    def errors(self):
        """Errors made in each training epoch (list of int)."""
        return self.model.history_["errors"]

    @property
    def n_epochs(self):
        """Epochs the training ran."""
        return self.model.n_epochs_

    @property
    def training_errors(self):
        """Patterns of the truth table the trained perceptron gets wrong."""
        return int(np.sum(self.model.predict(self.X) != self.y))

    @property
    def learned(self):
        """True when the perceptron reproduces the whole truth table."""
        return self.training_errors == 0

    def plot(self, path=None):
        """Errors per epoch and, for two inputs, the learned decision line.

        Parameters
        ----------
        path : str or path-like, optional
            Also write the figure there as a PNG.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plotting._perceptron import plot_gate_exercise

        return plot_gate_exercise(self, path=path)

    def __repr__(self):
        return (f"GateExercise(gate={self.gate!r}, n_inputs={self.n_inputs}, "
                f"learned={self.learned}, n_epochs={self.n_epochs})")


def logic_gate_exercise(gate, n_inputs=2, *, learning_rate=1.0, max_epochs=100, rule="online",
                        shuffle=False, random_state=None, path=None):
    """Train a perceptron on a logic gate's truth table, in one line.

    The truth table (all ``2**n_inputs`` patterns) comes from
    :func:`nnfast.datasets.logic_gate` with inputs and outputs coded -1
    (false) and +1 (true).  AND, OR, NAND and NOR are linearly separable and
    are learned; XOR (parity, for more than two inputs) and XNOR are not, and
    the training history then shows errors in every epoch.

    Parameters
    ----------
    gate : {'and', 'or', 'xor', 'nand', 'nor', 'xnor'}
    n_inputs : int, default=2
    learning_rate, max_epochs, rule, shuffle, random_state
        As for :class:`Perceptron`; the samples are visited in truth-table
        order unless ``shuffle`` is true.
    path : str or path-like, optional
        Write the exercise's figure (see :meth:`GateExercise.plot`) there as
        a PNG.

    Returns
    -------
    GateExercise

    Examples
    --------
    >>> from nnfast.models import logic_gate_exercise
    >>> logic_gate_exercise("and", n_inputs=4)
    GateExercise(gate='and', n_inputs=4, learned=True, n_epochs=2)
    >>> ex = logic_gate_exercise("xor", max_epochs=20)
    >>> ex.learned, min(ex.errors) > 0, ex.n_epochs
    (False, True, 20)
    """
    X, y = logic_gate(gate, n_inputs=n_inputs, coding="pm1")
    model = Perceptron(learning_rate=learning_rate, max_epochs=max_epochs, rule=rule,
                       shuffle=shuffle, random_state=random_state).fit(X, y)
    exercise = GateExercise(gate=gate.lower(), n_inputs=n_inputs, X=X, y=y, model=model)
    if path is not None:
        exercise.plot(path=path)
    return exercise

