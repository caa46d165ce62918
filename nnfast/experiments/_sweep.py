"""Hyperparameter sweeps: one training run per point of a grid, locally or on a Dask cluster.

Every run trains a fresh copy of the estimator with one combination of
parameters on the same training data, and is scored on the same validation
data.  A network estimator (MLP, CNN) is trained one epoch at a time with
``partial_fit`` and scored on the validation data after every epoch, which
gives its validation curve; the sweep applies the estimator's own stopping
rule between epochs (see :func:`sweep`).  Any other estimator is trained
once with ``fit`` and has a curve of one point.

Runs go out through joblib: to worker processes on this machine
(``backend="loky"``) or to the workers of the current ``dask.distributed``
client (``backend="dask"``).  Either way, each run sets nnfast's threads so
that runs times threads does not exceed the cores of the machine it runs on.
"""
import csv
import itertools
import math
import numbers
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .._validation import check_consistent_length, check_fraction
from ..base import BaseEstimator
from ..models._estimator import NetworkEstimator

__all__ = ["SweepResult", "sweep"]

#: The measured columns of every row, after the parameters.
MEASURES = ("val_error", "train_error", "fit_seconds", "epochs")

_SCORINGS = ("error", "mse", "mae")


@dataclass(eq=False)
class SweepResult:
    """The runs of a :func:`sweep`, one per combination of parameters, in grid order.

    Attributes
    ----------
    params : list of dict
        The parameters set in each run.
    rows : list of dict
        One row per run: its parameters, then ``val_error`` (of the final
        model on the validation data), ``train_error`` (on the training
        data), ``fit_seconds`` (training only, not scoring) and ``epochs``
        (epochs run).
    curves : list of list of float
        For each run, the validation error after each epoch.
    param_names : list of str
        The swept parameters, in the order of the table's first columns.
    scoring : str
        What the errors measure (see :func:`sweep`).
    """

    params: list
    rows: list
    curves: list
    param_names: list = field(default_factory=list)
    scoring: str = "error"

    @property
    def columns(self):
        """Column names of :attr:`rows`: the parameters, then the measures."""
        return list(self.param_names) + list(MEASURES)

    @property
    def best_index(self):
        """Index of the run with the lowest validation error (the first among equals)."""
        if not self.rows:
            raise ValueError("the sweep has no runs")
        return int(np.argmin([row["val_error"] for row in self.rows]))

    @property
    def best_params(self):
        """The parameters of the run with the lowest validation error."""
        return dict(self.params[self.best_index])

    def to_csv(self, path):
        """Write the table to ``path`` as CSV (a header line, then one line per run).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        str
            The path written.
        """
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            for row in self.rows:
                writer.writerow([_csv_cell(row[c]) for c in self.columns])
        return os.fspath(path)

    def to_markdown(self, digits=4):
        """The table as Markdown, errors to ``digits`` significant digits, the best run in bold.

        Returns
        -------
        str
        """
        best = self.best_index if self.rows else None
        lines = ["| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" if c in self.param_names else "---:" for c in self.columns) + "|"]
        for i, row in enumerate(self.rows):
            cells = [_text_cell(row[c], c, digits) for c in self.columns]
            if i == best:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def __repr__(self):
        best = f", best_params={self.best_params!r}" if self.rows else ""
        return f"SweepResult({len(self.rows)} runs over {self.param_names}{best})"


def _csv_cell(value):
    if isinstance(value, float):
        return repr(value)
    return str(value) if isinstance(value, (tuple, list)) else value


def _text_cell(value, column, digits):
    if column == "fit_seconds":
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


# --------------------------------------------------------------------- grid
def expand_grid(param_grid):
    """Every combination of a grid, the last parameter varying fastest.

    Parameters
    ----------
    param_grid : dict of str to list, or list of such dicts
        Each dict maps parameter names to the values to try; a list of
        dicts is the union of their grids.

    Returns
    -------
    list of dict
    """
    grids = [param_grid] if isinstance(param_grid, dict) else param_grid
    if not isinstance(grids, (list, tuple)) or not grids:
        raise TypeError(f"param_grid must be a dict of lists or a non-empty list of such dicts, "
                        f"got {param_grid!r}")
    combos = []
    for grid in grids:
        if not isinstance(grid, dict) or not grid:
            raise TypeError(f"each grid must be a non-empty dict of parameter name to values, "
                            f"got {grid!r}")
        for name, values in grid.items():
            if not isinstance(name, str):
                raise TypeError(f"parameter names must be strings, got {name!r}")
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not len(values):
                raise TypeError(f"param_grid[{name!r}] must be a non-empty list of values, "
                                f"got {values!r}")
        names = list(grid)
        for values in itertools.product(*(list(grid[n]) for n in names)):
            combos.append(dict(zip(names, values)))
    return combos


def _param_names(combos):
    names = []
    for combo in combos:
        names += [n for n in combo if n not in names]
    return names


# ------------------------------------------------------------------- scoring
def _scorer(scoring, classifier):
    """The function ``score(estimator, X, y) -> error`` that ``scoring`` names."""
    if callable(scoring):
        return scoring
    if scoring not in _SCORINGS:
        raise ValueError(f"scoring must be one of {_SCORINGS} or a callable(estimator, X, y) "
                         f"returning an error, got {scoring!r}")
    if scoring == "error":
        return _classification_error if classifier else _mean_squared_error
    if classifier:
        raise ValueError(f"scoring={scoring!r} is for regressors; use 'error' for a classifier")
    return _mean_squared_error if scoring == "mse" else _mean_absolute_error


def _is_classifier(estimator, y):
    """Whether ``estimator`` classifies: as it declares, else by its targets (labels or numbers)."""
    kind = getattr(estimator, "_estimator_type", None)
    if kind is not None:
        return kind == "classifier"
    return np.asarray(y).dtype.kind not in "fc"


def _classification_error(estimator, X, y):
    return float(np.mean(estimator.predict(X) != y))


def _regression_residuals(estimator, X, y):
    pred = np.asarray(estimator.predict(X), dtype=np.float64)
    return pred.reshape(len(X), -1) - np.asarray(y, dtype=np.float64).reshape(len(X), -1)


def _mean_squared_error(estimator, X, y):
    return float(np.mean(_regression_residuals(estimator, X, y) ** 2))


def _mean_absolute_error(estimator, X, y):
    return float(np.mean(np.abs(_regression_residuals(estimator, X, y))))


# ---------------------------------------------------------------- one run
def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads_here(threads):
    """Threads for a run: an int, or ``{host: runs at once on that host}`` on a Dask worker."""
    if isinstance(threads, dict):
        from distributed import get_worker

        host = _host(get_worker().address)
        return max(1, _cores() // max(1, threads.get(host, 1)))
    return threads


def _host(address):
    return address.split("://")[-1].rsplit(":", 1)[0]


def _run(estimator, params, data, score, threads):
    """Train one copy of ``estimator`` with ``params``; return its row (without params) and curve."""
    from ..backend import set_num_threads

    threads = _threads_here(threads)
    if threads is not None:
        set_num_threads(threads)
    X, y, X_val, y_val, classes = data
    est = _configured(estimator, params)
    if isinstance(est, NetworkEstimator):
        seconds, curve = _train_by_epoch(est, X, y, X_val, y_val, classes, score)
        epochs = len(curve)
    else:
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
        curve = [score(est, X_val, y_val)]
        epochs = int(getattr(est, "n_iter_", 1))
    row = {"val_error": float(score(est, X_val, y_val)), "train_error": float(score(est, X, y)),
           "fit_seconds": float(seconds), "epochs": epochs}
    return row, [float(v) for v in curve]


def _train_by_epoch(est, X, y, X_val, y_val, classes, score):
    """Epochs of ``partial_fit`` with the estimator's stopping rule; returns seconds and curve.

    As ``fit`` does: with ``early_stopping`` a run stops once the validation
    error has not improved by ``tol`` for ``patience`` epochs and keeps the
    weights of its best epoch; without it, once the training loss has not
    improved by ``tol`` for ``patience`` epochs.  A run also stops when its
    loss stops being finite (``partial_fit`` then restores the weights of
    the epoch before).
    """
    kwargs = {"classes": classes} if classes is not None else {}
    curve, seconds = [], 0.0
    watch_val = bool(est.early_stopping)
    best, best_weights, wait = math.inf, None, 0
    for _ in range(int(est.epochs)):
        start = time.perf_counter()
        est.partial_fit(X, y, **kwargs)
        seconds += time.perf_counter() - start
        curve.append(float(score(est, X_val, y_val)))
        if est.stopped_reason_ is not None:
            break
        value = curve[-1] if watch_val else est.loss_curve_[-1]
        if value < best - est.tol:
            best, wait = value, 0
            if watch_val:
                best_weights = est.model_.get_weights()
        else:
            wait += 1
            if wait >= est.patience:
                break
    if best_weights is not None:
        est.model_.set_weights(best_weights)
    return seconds, curve


def _configured(estimator, params):
    est = type(estimator)(**estimator.get_params())
    return est.set_params(**params)


# -------------------------------------------------------------------- sweep
def sweep(estimator, param_grid, X, y, X_val=None, y_val=None, validation_fraction=0.2,
          n_iter=None, n_jobs=1, backend=None, random_state=0, scoring="error"):
    """Train ``estimator`` over a grid of parameters and tabulate each run's errors.

    Parameters
    ----------
    estimator : estimator
        An nnfast estimator (unfitted; it is not changed).  Each run trains
        a copy with its parameters set from the grid.
    param_grid : dict of str to list, or list of such dicts
        The values to try for each parameter (any of the estimator's
        parameters: optimizer, activation, hidden_layer_sizes,
        learning_rate, dropout, early_stopping, ...).  Every combination is
        one run; a list of dicts is the union of their grids.
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    X_val, y_val : array-like, optional
        Validation data.  When not given, ``validation_fraction`` of ``X``,
        ``y`` (drawn with ``random_state``) is held out, the same for every
        run.
    validation_fraction : float in (0, 1)
    n_iter : int, optional
        Run only this many combinations, drawn at random (without
        repetition, with ``random_state``) from the grid; all of them when
        ``n_iter`` is at least the size of the grid.
    n_jobs : int
        Worker processes on this machine (-1: one per core), at most one
        per core and one per run.  Ignored with ``backend="dask"``, where
        the cluster's workers decide.
    backend : {None, 'loky', 'dask'}
        None runs in this process when ``n_jobs`` is 1 and in loky worker
        processes otherwise.  ``'dask'`` sends each run to the workers of
        the current ``dask.distributed`` client (``pip install
        "nnfast[dask]"``; start a ``Client`` first).  Each run is a task of
        its own: when a worker dies, the run it was training (and any run
        whose finished result it still held) is run again on another
        worker, and the sweep goes on.
    random_state : int or None
        Seeds the validation split, the sample of the grid and, for an
        estimator whose ``random_state`` is None and not swept, every
        run's weights (the same seed for all runs, so that they differ
        only by their parameters).  None draws fresh seeds.
    scoring : {'error', 'mse', 'mae'} or callable
        'error' is the classification error (1 - accuracy) for classifiers
        and the mean squared error for regressors; 'mse' and 'mae' are for
        regressors.  A callable ``scoring(estimator, X, y)`` returns an
        error (lower is better).

    Returns
    -------
    SweepResult
        ``rows`` in grid order; the table is the same whichever backend
        and however many processes ran it, but for ``fit_seconds``.

    Notes
    -----
    A network estimator (MLP, CNN) is trained one epoch at a time with
    ``partial_fit`` (for ``epochs`` epochs at most) and scored on the
    validation data after each epoch: that is its curve.  The sweep stops a
    run as the estimator's ``fit`` would: with ``early_stopping=True``, once
    the validation error has not improved by ``tol`` for ``patience``
    epochs, keeping the weights of its best epoch (the sweep's validation
    data stands in for the estimator's own ``validation_fraction``);
    otherwise once the training loss has not improved by ``tol`` for
    ``patience`` epochs.  Other estimators are trained once with ``fit``.

    Each run sets nnfast's threads (and BLAS's) to the cores of its machine
    divided by the number of runs that machine carries at once (processes
    on this machine, or the threads of the Dask workers on that host), so
    that processes times threads does not exceed the cores.

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import MLPClassifier
    >>> from nnfast.experiments import sweep
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
    >>> result = sweep(MLPClassifier(epochs=5, batch_size=20),
    ...                {"activation": ["relu", "tanh"], "hidden_layer_sizes": [(4,), (8,)]}, X, y)
    >>> len(result.rows), result.columns[:2]
    (4, ['activation', 'hidden_layer_sizes'])
    >>> [len(curve) for curve in result.curves]
    [5, 5, 5, 5]
    """
    if not isinstance(estimator, BaseEstimator) or not hasattr(estimator, "fit"):
        raise TypeError(f"estimator must be an nnfast estimator, got {estimator!r}")
    if random_state is not None and (isinstance(random_state, bool)
                                     or not isinstance(random_state, numbers.Integral)):
        raise TypeError(f"random_state must be an integer or None, got {random_state!r}")
    if backend not in (None, "loky", "dask"):
        raise ValueError(f"backend must be None, 'loky' or 'dask', got {backend!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0 \
            or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    if n_iter is not None and (isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral)
                               or n_iter < 1):
        raise ValueError(f"n_iter must be a positive integer or None, got {n_iter!r}")
    if y is None:
        raise ValueError("sweep needs targets y to measure validation errors")
    score = _scorer(scoring, _is_classifier(estimator, y))
    rng = np.random.default_rng(random_state)

    combos = expand_grid(param_grid)
    if n_iter is not None and n_iter < len(combos):
        chosen = np.sort(rng.choice(len(combos), size=n_iter, replace=False))
        combos = [combos[i] for i in chosen]
    names = _param_names(combos)
    seed = int(rng.integers(2**31 - 1))
    own = estimator.get_params()
    for combo in combos:
        try:
            _check_run(estimator, combo)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"parameters {combo}: {exc}") from None
    runs = [dict(combo) for combo in combos]
    if "random_state" in own and own["random_state"] is None and "random_state" not in names:
        for run in runs:
            run["random_state"] = seed

    data = _split(estimator, X, y, X_val, y_val, validation_fraction, rng)
    results = _execute(estimator, runs, data, score, n_jobs, backend)
    rows = [{**combo, **row} for combo, (row, _) in zip(combos, results)]
    return SweepResult(params=combos, rows=rows, curves=[curve for _, curve in results],
                       param_names=names, scoring=scoring if isinstance(scoring, str) else
                       getattr(scoring, "__name__", "custom"))


def _check_run(estimator, combo):
    est = _configured(estimator, combo)
    if hasattr(est, "_validate_params"):
        est._validate_params()


def _split(estimator, X, y, X_val, y_val, validation_fraction, rng):
    """(X, y, X_val, y_val, classes): the training and validation data of every run."""
    X = np.asarray(X) if not hasattr(X, "shape") else X
    y = np.asarray(y)
    check_consistent_length(X, y)
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is None:
        check_fraction(validation_fraction, "validation_fraction", allow_zero=False)
        n_val = int(round(len(X) * validation_fraction))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(f"validation_fraction={validation_fraction} leaves no "
                             f"{'validation' if n_val < 1 else 'training'} samples out of {len(X)}")
        order = rng.permutation(len(X))
        val, train = order[:n_val], order[n_val:]
        X, y, X_val, y_val = X[train], y[train], X[val], y[val]
    else:
        X_val = np.asarray(X_val) if not hasattr(X_val, "shape") else X_val
        y_val = np.asarray(y_val)
        check_consistent_length(X_val, y_val, names=("X_val", "y_val"))
    classes = None
    if isinstance(estimator, NetworkEstimator) and _is_classifier(estimator, y):
        classes = np.unique(np.concatenate([np.ravel(y), np.ravel(y_val)]))
    return X, y, X_val, y_val, classes


def _execute(estimator, runs, data, score, n_jobs, backend):
    """Each run's (row, curve), in order, through joblib."""
    from joblib import Parallel, delayed, parallel_config

    if backend == "dask":
        client = _dask_client()
        with parallel_config(backend="dask", client=client):
            threads = _dask_host_slots(client)
            tasks = [delayed(_run)(estimator, run, data, score, threads) for run in runs]
            return Parallel(n_jobs=-1, batch_size=1)(tasks)
    cores = _cores()
    processes = min(cores if n_jobs == -1 else int(n_jobs), cores, len(runs))
    if processes == 1 and backend is None:
        return [_run(estimator, run, data, score, None) for run in runs]
    threads = max(1, cores // processes)
    tasks = [delayed(_run)(estimator, run, data, score, threads) for run in runs]
    with parallel_config(backend="loky", inner_max_num_threads=threads):
        return Parallel(n_jobs=processes, batch_size=1)(tasks)


def _dask_client():
    try:
        from distributed import get_client
    except ImportError:
        raise ImportError('backend="dask" needs dask.distributed: pip install "nnfast[dask]"') from None
    try:
        return get_client()
    except ValueError:
        raise RuntimeError('backend="dask" runs on the current dask.distributed client, and there '
                           'is none: start one first, e.g. `from distributed import Client; '
                           'client = Client(scheduler_address)`') from None


def _dask_host_slots(client):
    """``{host: tasks its workers run at once}`` over the cluster's workers."""
    workers = client.scheduler_info()["workers"]
    if not workers:
        raise RuntimeError("the dask.distributed cluster has no workers")
    slots = {}
    for address, info in workers.items():
        host = info.get("host") or _host(address)
        slots[host] = slots.get(host, 0) + int(info.get("nthreads", 1))
    return slots
