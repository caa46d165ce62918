"""Figures of training: learning curves, confusion matrices, predictions on images."""
import numpy as np

from ._style import PALETTE, new_figure, save, style_axes


def _history_dict(history):
    if hasattr(history, "history") and isinstance(history.history, dict):
        return history.history
    if isinstance(getattr(history, "history_", None), dict):
        return history.history_
    if isinstance(history, dict):
        return history
    raise TypeError(f"expected a History, an estimator with history_ or a dict of per-epoch lists, "
                    f"got {type(history).__name__}")


def plot_history(history, path=None, title=None):
    """Learning curves: the loss and each metric per epoch, training beside validation.

    Parameters
    ----------
    history : History or dict of str to list of float
        What ``fit`` returns (or its ``history`` dict, or an estimator's
        ``history_``).
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    logs = _history_dict(history)
    names = [k for k in logs if not k.startswith("val_") and k != "lr"]
    if not names:
        raise ValueError("the history holds no training curves")
    fig = new_figure(4.2 * len(names), 3.6)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], marker="o", markersize=3, color=PALETTE[0], label="training")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], marker="s", markersize=3, color=PALETTE[1],
                    label="validation")
        label = name.replace("_", " ")
        style_axes(ax, title=label.capitalize(), xlabel="epoch", ylabel=label)
        if name == "loss" and min(min(v) for k, v in logs.items() if k.endswith("loss")) > 0:
            ax.set_yscale("log")
        ax.legend(frameon=False)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return save(fig, path)


#: Logged quantities that are not learning curves.
_NOT_CURVES = ("lr", "epoch_time")

_LABELS = {
    "loss": "loss (mean per sample)",
    "accuracy": "accuracy (%)",
    "acc": "accuracy (%)",
    "mae": "mean absolute error",
    "mse": "mean squared error",
    "reconstruction_error": "mean squared error per pixel",
    "errors": "misclassified samples",
}


def _as_percent(name, values):
    """Whether a curve is a fraction best read in percent (accuracies)."""
    return "acc" in name and all(0.0 <= v <= 1.0 for v in values)


def overfitting_epoch(val_loss, rise=0.02):
    """The epoch (from 1) after which the validation loss only got worse, or None.

    That is the epoch of the lowest validation loss, provided it is not the
    last epoch and the last validation loss ends at least ``rise`` (relative)
    above it; otherwise the model did not overfit yet (or the rise is noise).

    Parameters
    ----------
    val_loss : sequence of float
        Validation loss per epoch.
    rise : float, default=0.02
        The smallest relative rise of the last loss over the minimum that
        counts as overfitting.

    Returns
    -------
    int or None

    Examples
    --------
    >>> overfitting_epoch([1.0, 0.6, 0.5, 0.55, 0.62])
    3
    >>> overfitting_epoch([1.0, 0.6, 0.5, 0.45]) is None
    True
    """
    v = np.asarray(val_loss, dtype=np.float64)
    if v.ndim != 1 or len(v) < 2 or not np.isfinite(v).any():
        return None
    best = int(np.nanargmin(v))
    last = v[np.isfinite(v)][-1]
    if best == len(v) - 1 or last <= v[best] + rise * abs(v[best]):
        return None
    return best + 1


def _numeric_logs(logs):
    """The per-epoch series of ``logs`` as lists of float (entries that are not numbers left out)."""
    out = {}
    for key, values in logs.items():
        try:
            out[key] = np.asarray(values, dtype=np.float64).ravel().tolist()
        except (TypeError, ValueError):
            continue
    return out


def _curve_names(logs):
    return [k for k in logs if not k.startswith("val_") and k not in _NOT_CURVES
            and not k.endswith("_time") and len(logs[k]) > 0]


def plot_learning_curves(history, metric=None, title=None, path=None):
    """Training and validation loss (and a metric) per epoch, with the overfitting point marked.

    The overfitting point is the epoch of the lowest validation loss when
    the validation loss rises after it (see :func:`overfitting_epoch`): a
    dashed line marks it on every panel and the epochs after it are shaded.
    Otherwise the lowest validation loss is marked with a star.

    Parameters
    ----------
    history : History, estimator or dict of str to list of float
        What ``fit`` returns, an estimator with ``history_`` or the dict
        itself (``loss``, ``val_loss``, a metric and ``val_<metric>``).
    metric : str, optional
        The metric of the second panel; by default the first one logged
        (``accuracy`` for classifiers); none when only the loss is logged.
    title : str, optional
    path : str or os.PathLike, optional
        Where to write the PNG.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_learning_curves({"loss": [0.9, 0.5, 0.4, 0.35], "val_loss": [0.8, 0.5, 0.55, 0.6],
    ...                             "accuracy": [0.6, 0.8, 0.85, 0.9],
    ...                             "val_accuracy": [0.6, 0.78, 0.77, 0.75]})
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss (mean per sample)', 'accuracy (%)']
    """
    from matplotlib.ticker import MaxNLocator

    logs = _numeric_logs(_history_dict(history))
    names = _curve_names(logs)
    if not names:
        raise ValueError(f"the history holds no training curves (keys: {sorted(logs)})")
    primary = "loss" if "loss" in names else names[0]
    if metric is None:
        panels = [primary] + [k for k in names if k != primary][:1]
    elif metric in logs and not metric.startswith("val_"):
        panels = [primary] + ([metric] if metric != primary else [])
    else:
        raise ValueError(f"metric {metric!r} is not in the history; logged curves: {names}")
    n_epochs = max(len(logs[k]) for k in panels)
    val_primary = logs.get(f"val_{primary}")
    marked = overfitting_epoch(val_primary) if val_primary else None

    fig = new_figure(4.6 * len(panels), 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, name in zip(axes, panels):
        scale = 100.0 if _as_percent(name, logs[name] + logs.get(f"val_{name}", [])) else 1.0
        series = [("training", logs[name], PALETTE[0], "o")]
        if logs.get(f"val_{name}"):
            series.append(("validation", logs[f"val_{name}"], PALETTE[1], "s"))
        for label, values, color, marker in series:
            values = np.asarray(values, dtype=np.float64) * scale
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, color=color, marker=marker if len(values) <= 40 else None,
                    markersize=3.5, linewidth=1.6, label=f"{label} (last {values[-1]:.4g})")
        if val_primary:
            val = np.asarray(logs.get(f"val_{name}", []), dtype=np.float64) * scale
            best = marked or int(np.nanargmin(val_primary)) + 1
            if marked:
                ax.axvline(marked, color="#555555", linestyle="--", linewidth=1.1,
                           label=f"overfitting from epoch {marked}")
                ax.axvspan(marked, n_epochs + 0.5, color="#C0392B", alpha=0.07, linewidth=0)
            elif len(val) >= best:
                ax.plot(best, val[best - 1], marker="*", markersize=13, color=PALETTE[1],
                        markeredgecolor="white", linestyle="none",
                        label=f"lowest validation {primary.replace('_', ' ')} (epoch {best})")
        label = _LABELS.get(name, name.replace("_", " "))
        style_axes(ax, title=name.replace("_", " ").capitalize(), xlabel="epoch", ylabel=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, n_epochs + 0.5)
        values = [v for k in (name, f"val_{name}") for v in logs.get(k, []) if np.isfinite(v)]
        if name == "loss" and values and min(values) > 0 and max(values) / min(values) > 30:
            ax.set_yscale("log")
        elif values and scale == 1.0 and all(float(v).is_integer() for v in values):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts, such as errors
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title or "Learning curves", fontsize=12, fontweight="bold")
    return save(fig, path)


_ANNOTATE = ("auto", "both", "counts", "rates", None)


def plot_confusion_matrix(matrix, class_names=None, path=None, title=None, normalize="true",
                          annotate="auto"):
    """A confusion matrix as a heat map: counts and percentages in the cells, a colour bar.

    Parameters
    ----------
    matrix : ndarray of shape (n_classes, n_classes)
        ``matrix[i, j]`` counts samples of class ``i`` predicted as ``j``
        (see :func:`nnfast.metrics.confusion_matrix`).
    class_names : list of str, optional
    path : str or os.PathLike, optional
    title : str, optional
        By default the accuracy and the number of samples.
    normalize : {'true', 'pred', None}, default='true'
        What the colours and percentages show: the fraction of each true
        class (rows, the diagonal is each class's recall), of each predicted
        class (columns, the diagonal is the precision), or the raw counts.
    annotate : {'auto', 'both', 'counts', 'rates', None}, default='auto'
        The text in each non-empty cell; ``'auto'`` writes counts and
        percentages up to 10 classes, counts up to 20, nothing beyond.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_confusion_matrix([[8, 2], [1, 9]], class_names=["cat", "dog"])
    >>> fig.axes[0].get_title()
    'Confusion matrix: 85.0% correct of 20'
    """
    raw = np.asarray(matrix.get() if hasattr(matrix, "get") else matrix)
    if raw.ndim != 2 or raw.shape[0] != raw.shape[1] or raw.shape[0] == 0:
        raise ValueError(f"matrix must be square of shape (n_classes, n_classes), got shape {raw.shape}")
    if raw.dtype.kind not in "iuf" or np.any(raw < 0) or not np.all(np.isfinite(raw)):
        raise ValueError("matrix must hold non-negative counts")
    if normalize not in ("true", "pred", None):
        raise ValueError(f"normalize must be 'true', 'pred' or None, got {normalize!r}")
    if annotate not in _ANNOTATE:
        raise ValueError(f"annotate must be one of {_ANNOTATE}, got {annotate!r}")
    n = raw.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    if len(names) != n:
        raise ValueError(f"class_names has {len(names)} names for {n} classes")
    if normalize == "true":
        values, bar = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1), "fraction of the true class"
    elif normalize == "pred":
        values, bar = raw / np.maximum(raw.sum(axis=0, keepdims=True), 1), "fraction of the predicted class"
    else:
        values, bar = raw, "samples"
    if annotate == "auto":
        annotate = "both" if n <= 10 else "counts" if n <= 20 else None
    vmax = 1.0 if normalize else max(float(raw.max()), 1.0)
    cell = 0.62 if annotate == "both" else 0.45
    longest = max(map(len, names))
    fig = new_figure(1.9 + cell * n + 0.06 * longest, 1.0 + cell * n + 0.05 * longest)
    ax = fig.subplots()
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax)
    count_fmt = "{:d}" if raw.dtype.kind in "iu" else "{:.3g}"
    for i in range(n):
        for j in range(n):
            if not raw[i, j] or annotate is None:
                continue
            count = count_fmt.format(raw[i, j].item())
            rate = f"{values[i, j]:.0%}" if normalize else ""
            text = {"both": f"{count}\n{rate}" if normalize else count, "counts": count,
                    "rates": rate or count}[annotate]
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if n <= 10 else 7,
                    linespacing=1.1, fontweight="bold" if i == j else "normal",
                    color="white" if values[i, j] > 0.55 * vmax else "#222222")
    rotate = longest > 2
    ax.set_xticks(range(n), names, rotation=40 if rotate else 0,
                  ha="right" if rotate else "center", rotation_mode="anchor")
    ax.set_yticks(range(n), names)
    ax.tick_params(length=0)
    total = raw.sum()
    heading = title or (f"Confusion matrix: {np.trace(raw) / total:.1%} correct of {total:,.0f}"
                        if total else "Confusion matrix")
    style_axes(ax, title=heading, xlabel="predicted class", ylabel="true class", grid=False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    colorbar = fig.colorbar(im, ax=ax, shrink=0.8, label=bar)
    if normalize:
        colorbar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return save(fig, path)


def plot_image_predictions(images, y_true, y_pred, class_names=None, path=None, n_cols=8,
                           title="Predictions"):
    """A grid of images captioned with predicted and true labels (mistakes in red).

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width) or (n_images, height * width)
        Square images may be given flattened.
    y_true, y_pred : array-like of shape (n_images,)
    class_names : list of str, optional
    path : str or os.PathLike, optional
    n_cols : int
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError("flattened images must be square")
        images = images.reshape(-1, side, side)
    n = len(images)
    n_cols = min(n_cols, n)
    n_rows = int(np.ceil(n / n_cols))
    fig = new_figure(1.2 * n_cols, 1.35 * n_rows + 0.4)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
    name = (lambda c: str(class_names[c])) if class_names is not None else str
    for ax, img, t, p in zip(axes, images, y_true, y_pred):
        ax.imshow(img, cmap="gray_r")
        ok = t == p
        ax.set_title(name(p) if ok else f"{name(p)} ({name(t)})", fontsize=8,
                     color="#222222" if ok else "#C0392B")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return save(fig, path)
