"""Figures for judging a fitted model: decision regions, image grids, hardest samples, regression."""
import numpy as np

from ..metrics import (
    _class_indices, _class_names, _host, _values_pair, check_probabilities, hardest_samples, mean_absolute_error, mean_squared_error,
    predictive_entropy, r2_score,
)
from ._rbm import image_shape_for
from ._style import PALETTE, new_figure, save, style_axes

__all__ = ["plot_decision_regions", "plot_image_grid", "plot_hardest_samples", "plot_regression"]

_WRONG = "#C0392B"
_TEXT = "#222222"


def _class_colors(n):
    if n <= len(PALETTE):
        return PALETTE[:n]
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def plot_decision_regions(model, X, y, resolution=200, path=None, class_names=None,
                          feature_names=None, title=None):
    """The regions of the plane a fitted classifier gives to each class, with the samples on top.

    The background is coloured by predicted class; when the model has
    ``predict_proba`` the colour fades where the model is unsure (its top
    probability near chance), so the margins show.  Dark lines are the
    decision boundaries; misclassified samples are ringed in black.

    Parameters
    ----------
    model : classifier
        Fitted on two features; anything with ``predict`` (``predict_proba``
        is used when present).
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
        True labels (of the model's kind).
    resolution : int, default=200
        Grid points along each axis.
    path : str or os.PathLike, optional
    class_names : sequence of str, optional
        Names of the sorted classes (or ``class_names[k]`` for integer label ``k``).
    feature_names : pair of str, optional
        Axis labels (default "feature 1", "feature 2").
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D

    X = np.asarray(_host(X), dtype=np.float64)
    y = _host(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must be of shape (n_samples, 2) for a map of the plane, got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be labels of shape ({len(X)},), got shape {y.shape}")
    if len(X) == 0 or not np.all(np.isfinite(X)):
        raise ValueError("X must hold at least one sample, all finite")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not 10 <= resolution <= 2000:
        raise ValueError(f"resolution must be an integer in [10, 2000], got {resolution!r}")
    if not hasattr(model, "predict"):
        raise TypeError(f"model must be a fitted classifier with predict(), got {type(model).__name__}")
    if feature_names is not None and len(feature_names) != 2:
        raise ValueError("feature_names must name the two features")

    low, high = X.min(axis=0), X.max(axis=0)
    margin = np.where(high > low, 0.08 * (high - low), 0.5)
    gx = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    gy = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    predicted = np.asarray(_host(model.predict(grid))).ravel()
    pred_samples = np.asarray(_host(model.predict(X))).ravel()
    classes = np.union1d(np.union1d(y, predicted), pred_samples)
    if class_names is not None:
        names = _class_names(classes, class_names)
    else:
        names = [str(c) for c in classes]
    colors = _class_colors(len(classes))
    region = np.searchsorted(classes, predicted).reshape(xx.shape)
    if hasattr(model, "predict_proba"):
        proba = np.asarray(_host(model.predict_proba(grid)), dtype=np.float64)
        k = max(proba.shape[1], 2)
        confidence = ((proba.max(axis=1) - 1 / k) / (1 - 1 / k)).clip(0, 1).reshape(xx.shape)
        alpha = 0.12 + 0.38 * confidence
        shading = "colour fades where the model is unsure"
    else:
        alpha = np.full(xx.shape, 0.3)
        shading = None
    from matplotlib.colors import to_rgb

    rgba = np.empty(xx.shape + (4,))
    rgba[..., :3] = np.asarray([to_rgb(c) for c in colors])[region]
    rgba[..., 3] = alpha

    fig = new_figure(6.4, 5.0)
    ax = fig.add_subplot()
    ax.imshow(rgba, origin="lower", extent=(gx[0], gx[-1], gy[0], gy[-1]), aspect="auto",
              interpolation="bilinear")
    if len(classes) > 1:
        ax.contour(xx, yy, region, levels=np.arange(len(classes) - 1) + 0.5, colors="#333333",
                   linewidths=1.0)
    size = float(np.clip(4000 / len(X), 10, 90))
    true_idx = np.searchsorted(classes, y)
    handles = []
    for i, (name, color) in enumerate(zip(names, colors)):
        mine = true_idx == i
        if mine.any():
            ax.scatter(X[mine, 0], X[mine, 1], s=size, color=color, edgecolors="#1a1a1a",
                       linewidths=0.4, zorder=3)
        handles.append(Line2D([], [], marker="s", linestyle="none", markersize=9, color=color,
                              alpha=0.8, label=name))
    wrong = pred_samples != y
    if wrong.any():
        ax.scatter(X[wrong, 0], X[wrong, 1], s=size * 2.8, facecolors="none", edgecolors="black",
                   linewidths=1.3, zorder=4)
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=8,
                              markerfacecolor="none", markeredgecolor="black",
                              label=f"misclassified ({wrong.sum()})"))
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    xlabel, ylabel = feature_names if feature_names is not None else ("feature 1", "feature 2")
    accuracy = 1.0 - wrong.mean()
    style_axes(ax, xlabel=xlabel, ylabel=ylabel, grid=False)
    fig.suptitle(title or f"Decision regions: {accuracy:.1%} of {len(X)} samples correct",
                 fontsize=11, fontweight="bold")
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                       fontsize=9, title="class\n(region = prediction)", title_fontsize=9)
    legend._legend_box.align = "left"
    if shading:
        ax.text(0.0, -0.13, shading + "; lines: decision boundaries", transform=ax.transAxes,
                fontsize=8, color="#555555", va="top")
    return save(fig, path)


def _as_images(images, image_shape=None):
    """``images`` as (n, h, w) or (n, h, w, 3 or 4) float arrays; flat rows are reshaped."""
    images = np.asarray(_host(images))
    if images.ndim == 2:
        h, w = image_shape_for(images.shape[1], image_shape)
        images = images.reshape(len(images), h, w)
    elif images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (3, 4)):
        if len(images) == 0:
            raise ValueError("there are no images to draw")
        return images.astype(np.float64)
    raise ValueError("images must be of shape (n, height, width), (n, height, width, channels) with "
                     f"1, 3 or 4 channels, or (n, height * width); got shape {images.shape}")


def plot_image_grid(images, titles=None, n_cols=8, image_shape=None, path=None, colors=None,
                    cmap="gray_r", title=None, vmin=None, vmax=None):
    """Images in a grid, each with an optional caption: samples, reconstructions, filters.

    Parameters
    ----------
    images : array-like of shape (n, height, width), (n, height, width, channels) or (n, n_pixels)
        Grey images (drawn with ``cmap``) or RGB(A) images, channels last;
        flat rows are reshaped (square, or by ``image_shape``).
    titles : sequence of str, optional
        One caption per image (may hold line breaks).
    n_cols : int, default=8
    image_shape : tuple of int, optional
        (height, width) of flat rows that are not square.
    path : str or os.PathLike, optional
    colors : sequence of colour, optional
        The colour of each caption (red for mistakes, say).
    cmap : str, default='gray_r'
        Colour map of grey images (dark ink on white); ``'RdBu_r'`` suits
        signed filters.
    title : str, optional
        Heading of the figure.
    vmin, vmax : float, optional
        The value range of the colours, common to all images; by default
        [0, 1] when the values lie there, symmetric about zero for signed
        values, else their minimum and maximum.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_image_grid(np.random.default_rng(0).random((6, 64)), titles=list("abcdef"), n_cols=3)
    >>> len(fig.axes)
    6
    """
    images = _as_images(images, image_shape)
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} images")
    if colors is not None and len(colors) != n:
        raise ValueError(f"colors has {len(colors)} entries for {n} images")
    if isinstance(n_cols, bool) or not isinstance(n_cols, (int, np.integer)) or n_cols < 1:
        raise ValueError(f"n_cols must be a positive integer, got {n_cols!r}")
    finite = images[np.isfinite(images)]
    if finite.size == 0:
        raise ValueError("the images hold no finite values")
    if vmin is None and vmax is None:
        if finite.min() >= 0 and finite.max() <= 1:
            vmin, vmax = 0.0, 1.0
        elif finite.min() < 0 < finite.max():
            # Signed values (filters, differences): zero at the middle of the colour map.
            vmax = float(np.abs(finite).max())
            vmin = -vmax
    vmin = float(finite.min()) if vmin is None else vmin
    vmax = float(finite.max()) if vmax is None else vmax
    n_cols = min(int(n_cols), n)
    n_rows = -(-n // n_cols)
    h, w = images.shape[1:3]
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    cell = max(0.75, min(1.4, 11.0 / n_cols))
    fig = new_figure(n_cols * cell + 0.2, n_rows * (cell * h / w + 0.16 * lines) + (0.45 if title else 0.1))
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        rgb = images.ndim == 4
        img = images[i].clip(vmin, vmax) if rgb else images[i]
        if rgb:
            img = (img - vmin) / ((vmax - vmin) or 1.0)
        ax.imshow(img, cmap=None if rgb else cmap, vmin=None if rgb else vmin,
                  vmax=None if rgb else vmax, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7.5, linespacing=1.15, pad=2,
                         color=colors[i] if colors is not None else _TEXT)
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    return save(fig, path)


def plot_hardest_samples(images, proba, y_true, class_names=None, k=16, path=None, classes=None,
                         n_cols=8, image_shape=None, title=None):
    """The samples the model is least sure about, mistakes first, with what it predicted.

    Each image is captioned with the predicted class and its probability,
    the true class and the predictive entropy ``H`` (in nats); mistakes
    are in red.  The ranking is :func:`nnfast.metrics.hardest_samples`
    with ``y_true``: misclassified samples first, most uncertain first.

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width) or (n_samples, n_pixels)
    proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities (``predict_proba``).
    y_true : array-like of shape (n_samples,)
        Column indices of the true classes (or labels, with ``classes``).
    class_names : sequence of str, optional
        Name of each column of ``proba``.
    k : int, default=16
    path : str or os.PathLike, optional
    classes : array-like of shape (n_classes,), optional
        The labels of ``proba``'s columns (a classifier's ``classes_``).
    n_cols : int, default=8
    image_shape : tuple of int, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    proba = check_probabilities(proba)
    images = _as_images(images, image_shape)
    if len(images) != len(proba):
        raise ValueError(f"{len(images)} images for {len(proba)} rows of proba")
    n_classes = proba.shape[1]
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"class_names has {len(class_names)} names for {n_classes} classes")
    order = hardest_samples(proba, k=k, y_true=y_true, classes=classes)
    truth = _class_indices(y_true, n_classes, classes)
    if class_names is not None:
        names = [str(c) for c in class_names]
    elif classes is not None:
        names = [str(c) for c in _host(classes)]
    else:
        names = [str(c) for c in range(n_classes)]
    entropy = predictive_entropy(proba)
    predicted = proba.argmax(axis=1)
    titles, colors = [], []
    for i in order:
        p, t = predicted[i], truth[i]
        titles.append(f"{names[p]} {proba[i, p]:.0%}\ntrue: {names[t]}\nH = {entropy[i]:.2f}")
        colors.append(_WRONG if p != t else _TEXT)
    n_wrong = int(np.count_nonzero(predicted[order] != truth[order]))
    heading = title or (f"The {len(order)} hardest samples ({n_wrong} misclassified, in red): "
                        "prediction and its probability, true class, entropy H in nats")
    return plot_image_grid(images[order], titles=titles, colors=colors, n_cols=n_cols, path=path,
                           title=heading)


def plot_regression(y_true, y_pred, path=None, output_names=None, title=None):
    """Predicted against true values, one panel per output, with the diagonal of perfect predictions.

    Each panel states R^2, the mean squared and mean absolute errors.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
    path : str or os.PathLike, optional
    output_names : sequence of str, optional
        A name per output, used in the axis labels.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_regression([0.0, 1.0, 2.0, 3.0], [0.1, 0.9, 2.2, 2.8])
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('true value', 'predicted value')
    """
    y_true, y_pred = _values_pair(y_true, y_pred)
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true and y_pred must be finite")
    n, n_outputs = y_true.shape
    if output_names is not None and len(output_names) != n_outputs:
        raise ValueError(f"output_names has {len(output_names)} names for {n_outputs} outputs")
    n_cols = min(n_outputs, 3)
    n_rows = -(-n_outputs // n_cols)
    fig = new_figure(4.2 * n_cols, 4.0 * n_rows + 0.3)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    alpha = float(np.clip(300 / n, 0.15, 0.8))
    for j, ax in enumerate(axes):
        if j >= n_outputs:
            ax.set_axis_off()
            continue
        t, p = y_true[:, j], y_pred[:, j]
        lo, hi = min(t.min(), p.min()), max(t.max(), p.max())
        pad = 0.05 * (hi - lo) or 0.5
        lo, hi = lo - pad, hi + pad
        ax.plot([lo, hi], [lo, hi], color="#555555", linestyle="--", linewidth=1,
                label="perfect prediction", zorder=1)
        ax.scatter(t, p, s=float(np.clip(3000 / n, 6, 30)), color=PALETTE[0], alpha=alpha,
                   edgecolors="none", label=f"samples ({n})", zorder=2)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", adjustable="box")
        name = output_names[j] if output_names is not None else None
        style_axes(ax, title=name or (f"Output {j + 1}" if n_outputs > 1 else None),
                   xlabel=f"true {name}" if name else "true value",
                   ylabel=f"predicted {name}" if name else "predicted value")
        ax.text(0.03, 0.97, f"R² = {r2_score(t, p):.3f}\nMSE = {mean_squared_error(t, p):.4g}\n"
                f"MAE = {mean_absolute_error(t, p):.4g}", transform=ax.transAxes, va="top",
                fontsize=9, bbox=dict(boxstyle="round,pad=0.35", facecolor="white",
                                      edgecolor="#cccccc"))
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle(title or "Predicted against true values", fontsize=12, fontweight="bold")
    return save(fig, path)
