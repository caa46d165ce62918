"""Metrics: on batches of network outputs during training, and on labels for estimators."""
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
    float
        The metric of each sample (its mean over the sample's positions or
        outputs), summed over the batch.
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
        return float(hits.reshape(n, -1).mean(axis=1).sum())
    if targets.shape != output.shape:
        raise ValueError(f"the {name!r} metric needs targets with the output's shape")
    diff = output - targets
    per_value = xp.abs(diff) if name == "mae" else diff * diff
    return float(per_value.reshape(n, -1).mean(axis=1).sum())


def accuracy_score(y_true, y_pred):
    """Fraction of labels predicted exactly."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred have different shapes: {y_true.shape} and {y_pred.shape}")
    return float(np.mean(y_true == y_pred))


def r2_score(y_true, y_pred):
    """Coefficient of determination R^2, averaged uniformly over outputs."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred have different shapes: {y_true.shape} and {y_pred.shape}")
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                      np.where(ss_res > 0, 0.0, 1.0))
    return float(r2.mean())


def confusion_matrix(y_true, y_pred, n_classes=None):
    """Counts ``C[i, j]`` of samples of class ``i`` predicted as ``j`` (integer labels)."""
    y_true = np.asarray(y_true, dtype=np.intp)
    y_pred = np.asarray(y_pred, dtype=np.intp)
    n = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    out = np.zeros((n, n), dtype=np.int64)
    np.add.at(out, (y_true, y_pred), 1)
    return out


__all__ = ["accuracy_score", "r2_score", "confusion_matrix", "batch_metric", "normalize_metric"]
