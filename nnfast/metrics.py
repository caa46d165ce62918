"""Metrics: on batches of network outputs during training, and on labels for estimators.

The functions on labels and probabilities accept numpy arrays, lists and the
GPU backend's (cupy) arrays, which are copied to the host first; they return
plain Python floats or numpy arrays.

Classification: :func:`accuracy_score`, :func:`precision_recall_fscore`
(with :func:`precision_score`, :func:`recall_score`, :func:`f1_score`),
:func:`confusion_matrix`, :func:`classification_report`,
:func:`classification_error` (with a confidence interval),
:func:`predictive_entropy` and :func:`hardest_samples`.  Regression:
:func:`mean_squared_error`, :func:`mean_absolute_error`, :func:`r2_score`.

Zero division: a precision, recall or F1 whose denominator is zero (a class
never predicted, or absent from ``y_true``) is ``zero_division`` (0.0 unless
asked otherwise), silently.
"""
import math
import statistics
from typing import NamedTuple

import numpy as np

BATCH_METRICS = ("accuracy", "mae", "mse")
_ALIASES = {"acc": "accuracy", "mean_absolute_error": "mae", "mean_squared_error": "mse"}


def normalize_metric(name):
    """Canonical metric name, or a ``ValueError`` listing the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"metrics must be given by name, got {name!r}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in BATCH_METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {BATCH_METRICS}")
    return key


def batch_metric(xp, name, output, targets, loss_name, output_activation):
    """Sum of a per-sample metric over one batch (divide by the sample count for the mean).

    Parameters
    ----------
    xp : module
        numpy or cupy.
    name : {'accuracy', 'mae', 'mse'}
    output : ndarray of shape (n_samples, ...)
        The network's final output (probabilities or logits); for the
        cross-entropy, classes along the last axis.
    targets : ndarray
        As prepared by the loss: class indices of shape ``output.shape[:-1]``
        or targets of the output's shape.
    loss_name : str
    output_activation : str
        The output layer's activation ('identity' means logits for
        cross-entropy losses).

    Returns
    -------
    0-d array
        The metric of each sample (its mean over the sample's positions or
        outputs), summed over the batch; left on the backend, so that a
        training step on a GPU does not wait to read it.
    """
    n = output.shape[0]
    if name == "accuracy":
        if loss_name == "cross_entropy":
            labels = targets if targets.ndim == output.ndim - 1 else xp.argmax(targets, axis=-1)
            hits = xp.argmax(output, axis=-1) == labels
        elif loss_name == "binary_cross_entropy":
            threshold = 0.0 if output_activation == "identity" else 0.5
            hits = (output > threshold) == (targets > 0.5)
        else:
            raise ValueError("the 'accuracy' metric needs a cross-entropy loss")
        return hits.reshape(n, -1).mean(axis=1).sum()
    if targets.shape != output.shape:
        raise ValueError(f"the {name!r} metric needs targets with the output's shape")
    diff = output - targets
    per_value = xp.abs(diff) if name == "mae" else diff * diff
    return per_value.reshape(n, -1).mean(axis=1).sum()


# ------------------------------------------------------------------ input checks
def _host(a):
    """``a`` as a numpy array; GPU (cupy) arrays are copied to the host."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "__cuda_array_interface__") and hasattr(a, "get"):
        return a.get()
    return np.asarray(a)


def _labels(y, name):
    y = _host(y)
    if y.ndim != 1:
        hint = ("; for rows of probabilities or one-hot rows pass their argmax(axis=1)"
                if y.ndim == 2 and y.shape[1] > 1 else "")
        raise ValueError(f"{name} must be labels of shape (n_samples,), got shape {y.shape}{hint}")
    if len(y) == 0:
        raise ValueError(f"{name} is empty: metrics need at least one sample")
    return y


def _label_pair(y_true, y_pred):
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred have different lengths: {len(y_true)} and {len(y_pred)}")
    return y_true, y_pred


def _integer_labels(y, name):
    """``y`` as non-negative ``intp`` labels, or a clear error."""
    if y.dtype.kind not in "iub":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if np.any(y < 0):
        raise ValueError(f"{name} holds negative class indices")
    return y.astype(np.intp)


def _values_pair(y_true, y_pred):
    """Regression targets as float64 columns of equal shape (n_samples, n_outputs)."""
    y_true = _host(y_true).astype(np.float64)
    y_pred = _host(y_pred).astype(np.float64)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.ndim not in (1, 2):
            raise ValueError(f"{name} must be of shape (n_samples,) or (n_samples, n_outputs), "
                             f"got shape {y.shape}")
        if y.shape[0] == 0:
            raise ValueError(f"{name} is empty: metrics need at least one sample")
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred have different shapes: {y_true.shape} and {y_pred.shape}")
    return y_true, y_pred


def check_probabilities(proba, atol=1e-3):
    """``proba`` as a float64 array of rows that are probability distributions.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Each row non-negative and summing to 1 within ``atol``.
    atol : float, default=1e-3
        Tolerance on the row sums (float32 softmax outputs sum to 1 within
        about 1e-6).

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
    """
    proba = _host(proba)
    if proba.ndim != 2 or proba.shape[1] < 2:
        hint = (" (for one probability per sample, pass np.column_stack([1 - p, p]))"
                if proba.ndim == 1 else "")
        raise ValueError(f"proba must be of shape (n_samples, n_classes) with at least two "
                         f"classes, got shape {proba.shape}{hint}")
    if proba.shape[0] == 0:
        raise ValueError("proba is empty: metrics need at least one sample")
    proba = proba.astype(np.float64)
    if not np.all(np.isfinite(proba)) or np.any(proba < -atol):
        raise ValueError("proba must hold finite, non-negative probabilities")
    sums = proba.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if len(bad):
        raise ValueError(f"each row of proba must sum to 1 (within {atol:g}); row {bad[0]} sums to "
                         f"{sums[bad[0]]:.6g} ({len(bad)} such rows). Pass probabilities, not "
                         "logits or scores")
    return proba


# ------------------------------------------------------------------ classification
def accuracy_score(y_true, y_pred):
    """Fraction of labels predicted exactly.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    float

    Examples
    --------
    >>> accuracy_score([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    y_true, y_pred = _host(y_true), _host(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred have different shapes: {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true is empty: metrics need at least one sample")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, n_classes=None):
    """Counts ``C[i, j]`` of samples of class ``i`` predicted as ``j`` (integer labels).

    Parameters
    ----------
    y_true, y_pred : array-like of int of shape (n_samples,)
        Class indices ``0, 1, ...``.
    n_classes : int, optional
        Size of the matrix; by default one more than the largest label.

    Returns
    -------
    ndarray of int64 of shape (n_classes, n_classes)

    Examples
    --------
    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2]).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    """
    y_true, y_pred = _label_pair(y_true, y_pred)
    y_true = _integer_labels(y_true, "y_true")
    y_pred = _integer_labels(y_pred, "y_pred")
    largest = int(max(y_true.max(), y_pred.max()))
    n = n_classes or largest + 1
    if largest >= n:
        raise ValueError(f"labels go up to {largest}, beyond n_classes={n_classes}")
    out = np.zeros((n, n), dtype=np.int64)
    np.add.at(out, (y_true, y_pred), 1)
    return out


class PrecisionRecallF1(NamedTuple):
    """Precision, recall, F1 and support: per class (arrays) or averaged (floats).

    For an average, ``support`` is the number of samples of the classes
    averaged over.
    """

    precision: object
    recall: object
    f1: object
    support: object


_AVERAGES = (None, "macro", "weighted", "micro", "binary")


def _ratio(num, den, zero_division):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), zero_division)


def precision_recall_fscore(y_true, y_pred, average=None, labels=None, pos_label=1,
                            zero_division=0.0):
    """Precision, recall and F1 score per class, or averaged over the classes.

    Precision of class ``c``: the fraction of samples predicted ``c`` that
    are ``c``; recall: the fraction of samples of class ``c`` predicted
    ``c``; F1: their harmonic mean, ``2 tp / (2 tp + fp + fn)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Labels of any sortable type (integers, strings).
    average : {None, 'macro', 'weighted', 'micro', 'binary'}, default=None
        None: one value per class.  ``'macro'``: the unweighted mean over the
        classes; ``'weighted'``: the mean weighted by each class's support;
        ``'micro'``: computed from the total counts (for single-label data all
        three equal the accuracy); ``'binary'``: the values of ``pos_label``.
    labels : array-like, optional
        The classes to report, in this order; by default every label found
        in ``y_true`` or ``y_pred``, sorted.
    pos_label : label, default=1
        The positive class for ``average='binary'``.
    zero_division : {0.0, 1.0, nan}, default=0.0
        The value of a ratio whose denominator is zero (a class never
        predicted has no precision, a class absent from ``y_true`` no
        recall).  No warning is issued.

    Returns
    -------
    PrecisionRecallF1
        ``(precision, recall, f1, support)``: arrays of shape (n_classes,)
        when ``average`` is None, floats (and the int support) otherwise.

    Examples
    --------
    >>> p, r, f, s = precision_recall_fscore([0, 0, 1, 1, 2], [0, 1, 1, 1, 0])
    >>> p.round(3).tolist(), r.tolist(), s.tolist()
    ([0.5, 0.667, 0.0], [0.5, 1.0, 0.0], [2, 2, 1])
    >>> round(precision_recall_fscore([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], average="macro").f1, 4)
    0.4333
    """
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
    zd = float(zero_division)
    if not (zd in (0.0, 1.0) or math.isnan(zd)):
        raise ValueError(f"zero_division must be 0.0, 1.0 or nan, got {zero_division!r}")
    y_true, y_pred = _label_pair(y_true, y_pred)
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    else:
        labels = _host(labels)
        if labels.ndim != 1 or len(labels) == 0 or len(np.unique(labels)) != len(labels):
            raise ValueError("labels must be a non-empty 1-D sequence of distinct classes")
    if average == "binary":
        if len(np.union1d(y_true, y_pred)) > 2:
            raise ValueError("average='binary' needs at most two classes; use 'macro', 'weighted' "
                             "or 'micro' for more")
        if not np.any(labels == pos_label):
            raise ValueError(f"pos_label={pos_label!r} is not among the labels {labels.tolist()}")
        labels = np.asarray([pos_label], dtype=labels.dtype)
    hit = y_true == y_pred
    tp = np.array([np.count_nonzero(hit & (y_true == c)) for c in labels], dtype=np.int64)
    predicted = np.array([np.count_nonzero(y_pred == c) for c in labels], dtype=np.int64)
    support = np.array([np.count_nonzero(y_true == c) for c in labels], dtype=np.int64)
    if average == "micro":
        tp, predicted, support_sum = tp.sum(), predicted.sum(), support.sum()
        return PrecisionRecallF1(float(_ratio(tp, predicted, zd)), float(_ratio(tp, support_sum, zd)),
                                 float(_ratio(2 * tp, predicted + support_sum, zd)), int(support_sum))
    precision = _ratio(tp, predicted, zd).astype(np.float64)
    recall = _ratio(tp, support, zd).astype(np.float64)
    f1 = _ratio(2 * tp, predicted + support, zd).astype(np.float64)
    if average is None:
        return PrecisionRecallF1(precision, recall, f1, support)
    if average == "weighted":
        total = support.sum()
        if total == 0:
            return PrecisionRecallF1(zd, zd, zd, 0)
        weights = support / total
    else:
        weights = np.full(len(labels), 1.0 / len(labels))
    return PrecisionRecallF1(float(precision @ weights), float(recall @ weights),
                             float(f1 @ weights), int(support.sum()))


def precision_score(y_true, y_pred, average="macro", **kwargs):
    """Precision: of the samples predicted as a class, the fraction that are of that class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    average : {'macro', 'weighted', 'micro', 'binary', None}, default='macro'
        See :func:`precision_recall_fscore` (None gives one value per class).
    **kwargs
        ``labels``, ``pos_label``, ``zero_division`` of :func:`precision_recall_fscore`.

    Returns
    -------
    float or ndarray of shape (n_classes,)

    Examples
    --------
    >>> precision_score([0, 0, 1, 1], [0, 1, 1, 1])
    0.8333333333333333
    """
    return precision_recall_fscore(y_true, y_pred, average=average, **kwargs).precision


def recall_score(y_true, y_pred, average="macro", **kwargs):
    """Recall: of the samples of a class, the fraction predicted as that class.

    Parameters are those of :func:`precision_score`.

    Returns
    -------
    float or ndarray of shape (n_classes,)

    Examples
    --------
    >>> recall_score([0, 0, 1, 1], [0, 1, 1, 1])
    0.75
    """
    return precision_recall_fscore(y_true, y_pred, average=average, **kwargs).recall


def f1_score(y_true, y_pred, average="macro", **kwargs):
    """F1 score: the harmonic mean of precision and recall.

    Parameters are those of :func:`precision_score`.

    Returns
    -------
    float or ndarray of shape (n_classes,)

    Examples
    --------
    >>> round(f1_score([0, 0, 1, 1], [0, 1, 1, 1]), 4)
    0.7333
    """
    return precision_recall_fscore(y_true, y_pred, average=average, **kwargs).f1


def _class_names(labels, class_names):
    """Display names of ``labels``: ``class_names[label]`` for integer labels, else by position."""
    if class_names is None:
        return [str(c) for c in labels]
    names = [str(c) for c in class_names]
    if labels.dtype.kind in "iu":
        if labels.min() < 0 or labels.max() >= len(names):
            raise ValueError(f"class_names has {len(names)} names but the labels go up to "
                             f"{labels.max()}")
        return [names[int(c)] for c in labels]
    if len(names) != len(labels):
        raise ValueError(f"class_names has {len(names)} names for {len(labels)} classes")
    return names


def classification_report(y_true, y_pred, class_names=None, digits=3):
    """Precision, recall, F1 and support per class, with accuracy and averages, as text.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    class_names : sequence of str, optional
        For integer labels, ``class_names[k]`` names label ``k``; for other
        labels, one name per class in sorted order.
    digits : int, default=3
        Decimals of the ratios.

    Returns
    -------
    str
        One row per class found in ``y_true`` or ``y_pred``, then the
        accuracy, the macro and the weighted averages.

    Examples
    --------
    >>> print(classification_report([0, 0, 1, 1], [0, 1, 1, 1], class_names=["cat", "dog"]))
                  precision  recall  f1-score  support
    <BLANKLINE>
             cat      1.000   0.500     0.667        2
             dog      0.667   1.000     0.800        2
    <BLANKLINE>
        accuracy                        0.750        4
       macro avg      0.833   0.750     0.733        4
    weighted avg      0.833   0.750     0.733        4
    """
    y_true, y_pred = _label_pair(y_true, y_pred)
    labels = np.union1d(y_true, y_pred)
    names = _class_names(labels, class_names)
    per_class = precision_recall_fscore(y_true, y_pred, labels=labels)
    width = max(12, *(len(n) for n in names))
    num = max(9, digits + 6)
    header = f"{'':>{width}} {'precision':>{num}} {'recall':>{num - 2}} {'f1-score':>{num}} {'support':>8}"

    def row(name, p, r, f, s):
        return (f"{name:>{width}} {p:>{num}.{digits}f} {r:>{num - 2}.{digits}f} "
                f"{f:>{num}.{digits}f} {s:>8d}")

    lines = [header.rstrip(), ""]
    for i, name in enumerate(names):
        lines.append(row(name, per_class.precision[i], per_class.recall[i], per_class.f1[i],
                         int(per_class.support[i])))
    lines.append("")
    accuracy = accuracy_score(y_true, y_pred)
    lines.append(f"{'accuracy':>{width}} {'':>{num}} {'':>{num - 2}} {accuracy:>{num}.{digits}f} "
                 f"{len(y_true):>8d}")
    for average in ("macro", "weighted"):
        p, r, f, s = precision_recall_fscore(y_true, y_pred, average=average, labels=labels)
        lines.append(row(f"{average} avg", p, r, f, s))
    return "\n".join(lines)


class _ErrorFields(NamedTuple):
    error: float
    low: float
    high: float
    n: int
    method: str


class ErrorEstimate(_ErrorFields):
    """A classification error with its confidence interval.

    A named tuple ``(error, low, high, n, method)``; the interval's
    confidence level is the attribute ``confidence``.

    Attributes
    ----------
    error : float
        Fraction of samples misclassified.
    low, high : float
        Bounds of the confidence interval, within [0, 1].
    n : int
        Number of samples.
    method : {'wilson', 'normal'}
    confidence : float
        Confidence level of the interval (0.95 for 95 %).

    Examples
    --------
    >>> est = ErrorEstimate(0.1, 0.07, 0.14, 400, "wilson")
    >>> print(est)
    error 10.00% (95% wilson interval 7.00% to 14.00%, n=400)
    >>> error, low, high, n, method = est
    """

    confidence = 0.95

    def __new__(cls, error, low, high, n, method, confidence=0.95):
        self = super().__new__(cls, float(error), float(low), float(high), int(n), str(method))
        self.confidence = float(confidence)
        return self

    def _replace(self, **changes):
        confidence = changes.pop("confidence", self.confidence)
        return ErrorEstimate(*super()._replace(**changes), confidence=confidence)

    def __repr__(self):
        return (f"ErrorEstimate(error={self.error:.4f}, low={self.low:.4f}, high={self.high:.4f}, "
                f"n={self.n}, method={self.method!r}, confidence={self.confidence:g})")

    def __str__(self):
        return (f"error {self.error:.2%} ({self.confidence:.0%} {self.method} interval "
                f"{self.low:.2%} to {self.high:.2%}, n={self.n})")


def _z_score(confidence):
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def error_interval(n_errors, n, confidence=0.95, method="wilson"):
    """Confidence interval of an error rate from ``n_errors`` mistakes out of ``n`` samples.

    ``'normal'``: ``e +- z sqrt(e (1 - e) / n)``, clipped to [0, 1] (too
    narrow when ``e`` is near 0 or 1 or ``n`` is small; zero width when no
    sample is misclassified).  ``'wilson'``: the Wilson score interval,
    ``(e + z^2/2n +- z sqrt(e (1 - e) / n + z^2/4n^2)) / (1 + z^2/n)``, which
    stays inside [0, 1] and keeps its coverage for small ``n``.  ``z`` is the
    standard normal quantile of ``0.5 + confidence / 2`` (1.96 for 95 %).

    Parameters
    ----------
    n_errors, n : int
    confidence : float in (0, 1), default=0.95
    method : {'wilson', 'normal'}, default='wilson'

    Returns
    -------
    ErrorEstimate

    Examples
    --------
    >>> error_interval(10, 100, method="normal")
    ErrorEstimate(error=0.1000, low=0.0412, high=0.1588, n=100, method='normal', confidence=0.95)
    """
    if method not in ("wilson", "normal"):
        raise ValueError(f"method must be 'wilson' or 'normal', got {method!r}")
    n, n_errors = int(n), int(n_errors)
    if n < 1 or not 0 <= n_errors <= n:
        raise ValueError(f"need 0 <= n_errors <= n and n >= 1, got n_errors={n_errors}, n={n}")
    z = _z_score(confidence)
    e = n_errors / n
    if method == "normal":
        half = z * math.sqrt(e * (1 - e) / n)
        low, high = max(0.0, e - half), min(1.0, e + half)
    else:
        z2 = z * z
        centre = (e + z2 / (2 * n)) / (1 + z2 / n)
        half = z * math.sqrt(e * (1 - e) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        # The interval always holds e; the clamp only removes rounding at e = 0 or 1.
        low, high = min(e, max(0.0, centre - half)), max(e, min(1.0, centre + half))
    return ErrorEstimate(e, low, high, n, method, float(confidence))


def classification_error(y_true, y_pred, confidence=0.95, method="wilson"):
    """Fraction of misclassified samples, with a confidence interval.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    confidence : float in (0, 1), default=0.95
    method : {'wilson', 'normal'}, default='wilson'
        The Wilson score interval or the normal approximation; see
        :func:`error_interval`.

    Returns
    -------
    ErrorEstimate
        ``(error, low, high, n, method)``, with ``confidence`` as an attribute.

    Examples
    --------
    >>> est = classification_error([0, 1, 1, 0] * 25, [0, 1, 0, 0] * 25)
    >>> est
    ErrorEstimate(error=0.2500, low=0.1755, high=0.3430, n=100, method='wilson', confidence=0.95)
    >>> print(est)
    error 25.00% (95% wilson interval 17.55% to 34.30%, n=100)
    """
    y_true, y_pred = _label_pair(y_true, y_pred)
    return error_interval(np.count_nonzero(y_true != y_pred), len(y_true), confidence, method)


def predictive_entropy(proba, base=None):
    """The entropy of each predicted distribution: 0 when certain, ``log(n_classes)`` at most.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Rows of probabilities (each summing to 1 within 1e-3).
    base : float, optional
        Base of the logarithm: natural (nats) by default, 2 for bits.

    Returns
    -------
    ndarray of shape (n_samples,)

    Examples
    --------
    >>> predictive_entropy([[1.0, 0.0], [0.5, 0.5]], base=2).tolist()
    [0.0, 1.0]
    """
    proba = np.clip(check_probabilities(proba), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(np.where(proba > 0, proba, 1.0)), 0.0)
    entropy = np.maximum(-terms.sum(axis=1), 0.0)
    if base is not None:
        if not base > 0 or base == 1:
            raise ValueError(f"base must be positive and not 1, got {base!r}")
        entropy /= math.log(base)
    return entropy


def _class_indices(y_true, n_classes, classes=None):
    y = _labels(y_true, "y_true")
    if classes is not None:
        classes = _host(classes)
        pos = np.searchsorted(classes, y).clip(0, len(classes) - 1)
        if len(classes) != n_classes or np.any(classes[pos] != y):
            raise ValueError("y_true holds labels outside classes, or classes does not name "
                             "proba's columns")
        return pos
    y = _integer_labels(y, "y_true")
    if y.max() >= n_classes:
        raise ValueError(f"y_true holds class index {y.max()} but proba has {n_classes} columns; "
                         "pass classes= (e.g. the model's classes_) for other labels")
    return y


def hardest_samples(proba, k=16, y_true=None, classes=None):
    """Indices of the hardest samples: the most uncertain predictions first.

    Uncertainty is the :func:`predictive_entropy`.  With ``y_true``, the
    misclassified samples (those whose most probable class is wrong) come
    first, most uncertain first, then the correctly classified ones, most
    uncertain first.  Ties keep the order of the samples.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
    k : int or None, default=16
        How many indices to return (all when None or larger than n_samples).
    y_true : array-like of shape (n_samples,), optional
        Column indices of the true classes into ``proba`` (or labels, with
        ``classes``).
    classes : array-like of shape (n_classes,), optional
        The sorted labels of ``proba``'s columns (a classifier's
        ``classes_``), when ``y_true`` holds labels rather than indices.

    Returns
    -------
    ndarray of int of shape (min(k, n_samples),)

    Examples
    --------
    >>> proba = [[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.6, 0.4]]
    >>> hardest_samples(proba, k=3).tolist()
    [1, 3, 2]
    >>> hardest_samples(proba, k=3, y_true=[1, 0, 1, 0]).tolist()
    [0, 1, 3]
    """
    proba = check_probabilities(proba)
    n = len(proba)
    if k is None:
        k = n
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    entropy = predictive_entropy(proba)
    order = np.argsort(-entropy, kind="stable")
    if y_true is not None:
        y = _class_indices(y_true, proba.shape[1], classes)
        if len(y) != n:
            raise ValueError(f"y_true has {len(y)} labels for {n} rows of proba")
        wrong = np.argmax(proba, axis=1) != y
        order = order[np.argsort(~wrong[order], kind="stable")]
    return order[:min(int(k), n)]


# ------------------------------------------------------------------ regression
def mean_squared_error(y_true, y_pred):
    """Mean of the squared differences, averaged uniformly over outputs.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    float

    Examples
    --------
    >>> mean_squared_error([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    1.3333333333333333
    """
    y_true, y_pred = _values_pair(y_true, y_pred)
    return float(((y_true - y_pred) ** 2).mean())


def mean_absolute_error(y_true, y_pred):
    """Mean of the absolute differences, averaged uniformly over outputs.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    float

    Examples
    --------
    >>> mean_absolute_error([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    0.6666666666666666
    """
    y_true, y_pred = _values_pair(y_true, y_pred)
    return float(np.abs(y_true - y_pred).mean())


def r2_score(y_true, y_pred):
    """Coefficient of determination R^2, averaged uniformly over outputs.

    ``1 - sum (y - y_pred)^2 / sum (y - mean y)^2``: 1 for perfect
    predictions, 0 for predicting the mean, negative when worse.  An output
    whose targets are constant scores 1 when predicted exactly, else 0.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    float

    Examples
    --------
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    y_true, y_pred = _values_pair(y_true, y_pred)
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                      np.where(ss_res > 0, 0.0, 1.0))
    return float(r2.mean())


__all__ = [
    "accuracy_score", "precision_recall_fscore", "precision_score", "recall_score", "f1_score",
    "PrecisionRecallF1", "confusion_matrix", "classification_report", "classification_error",
    "error_interval", "ErrorEstimate", "predictive_entropy", "hardest_samples",
    "check_probabilities", "mean_squared_error", "mean_absolute_error", "r2_score",
    "batch_metric", "normalize_metric",
]
