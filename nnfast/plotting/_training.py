"""Figures of training: learning curves, confusion matrices, predictions on images."""
import numpy as np

from ._style import PALETTE, new_figure, save, style_axes


def _history_dict(history):
    if hasattr(history, "history"):
        return history.history
    if isinstance(history, dict):
        return history
    raise TypeError(f"expected a History or a dict of per-epoch lists, got {type(history).__name__}")


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


def plot_confusion_matrix(matrix, class_names=None, path=None, title="Confusion matrix"):
    """A confusion matrix as a heat map with counts, rows normalised for colour.

    Parameters
    ----------
    matrix : ndarray of shape (n_classes, n_classes)
        ``matrix[i, j]`` counts samples of class ``i`` predicted as ``j``.
    class_names : list of str, optional
    path : str or os.PathLike, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    n = matrix.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig = new_figure(1.0 + 0.55 * n, 0.6 + 0.5 * n)
    ax = fig.subplots()
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.6 else "#222222")
    ax.set_xticks(range(n), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right"
                  if max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(n), names)
    style_axes(ax, title=title, xlabel="predicted", ylabel="true", grid=False)
    fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of the true class")
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
