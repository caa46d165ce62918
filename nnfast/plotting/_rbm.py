"""Figures for looking inside a restricted Boltzmann machine.

The hidden units' filters as an image grid, originals beside their
reconstructions, the training curves and samples drawn from the model.
Images are drawn as one mosaic per panel (one ``imshow``), so a grid of
hundreds of filters stays fast and crisp.
"""
import math

import numpy as np

from ._style import PALETTE, new_figure, save, style_axes

__all__ = ["plot_rbm_filters", "plot_rbm_reconstructions", "plot_rbm_history",
           "plot_rbm_samples"]

_BACKGROUND = "#cfcfcf"


def image_shape_for(n_features, image_shape=None):
    """The (height, width) of one image of ``n_features`` pixels.

    Parameters
    ----------
    n_features : int
    image_shape : tuple of int, optional
        Returned (after checking) when given; otherwise a square shape when
        ``n_features`` is a perfect square (784 gives (28, 28)).

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> image_shape_for(784)
    (28, 28)
    """
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 2 or shape[0] * shape[1] != n_features:
            raise ValueError(f"image_shape {image_shape} does not hold {n_features} pixels")
        return shape
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"{n_features} features do not form a square image; pass image_shape")
    return side, side


def _mosaic(images, n_cols, pad=1):
    """Tile ``images`` (n, h, w) into one array, NaN in the gaps and empty cells."""
    n, h, w = images.shape
    n_rows = -(-n // n_cols)
    out = np.full((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad), np.nan)
    for i in range(n):
        r, c = divmod(i, n_cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + c * (w + pad):pad + c * (w + pad) + w] = images[i]
    return out


def _cmap(name):
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad=_BACKGROUND)


def _image_axes(ax, title=None):
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, fontweight="bold")


def _grid_size(n, n_cols):
    """Columns and rows of a grid for ``n`` images: about square, full when a divisor allows."""
    if n_cols is None:
        side = max(1, math.ceil(math.sqrt(n)))
        n_cols = next((c for c in range(side, int(side * 1.3) + 1) if n % c == 0), side)
    n_cols = max(1, min(int(n_cols), n))
    return n_cols, -(-n // n_cols)


def plot_rbm_filters(weights, image_shape=None, n_filters=None, n_cols=None, scale="tile",
                     cmap="RdBu_r", path=None, title=None):
    """The hidden units' filters (rows of the weight matrix) as a grid of images.

    Parameters
    ----------
    weights : BernoulliRBM or ndarray of shape (n_hidden, n_features)
        A fitted model (its ``components_`` are drawn) or the weights.
    image_shape : tuple of int, optional
        Shape of one filter image; inferred for square images (784 -> 28x28).
    n_filters : int, optional
        Draw only the first ``n_filters`` filters.
    n_cols : int, optional
        Columns of the grid (about square by default).
    scale : {"tile", "global"}, default="tile"
        ``"tile"``: each filter gets its own symmetric colour range
        ``[-max|w|, max|w|]`` (shows the shape of weak filters too);
        ``"global"``: one symmetric range for all, with a colour bar (shows
        which filters are strong).
    cmap : str, default="RdBu_r"
        A diverging colour map: zero is the neutral middle colour.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_rbm_filters(np.random.default_rng(0).normal(size=(12, 64)))
    >>> len(fig.axes)
    1
    """
    W = getattr(weights, "components_", weights)
    W = np.asarray(W.get() if hasattr(W, "get") else W, dtype=np.float64)  # cupy arrays too
    if W.ndim != 2:
        raise ValueError(f"weights must be 2-D of shape (n_hidden, n_features), got shape {W.shape}")
    if scale not in ("tile", "global"):
        raise ValueError(f"scale must be 'tile' or 'global', got {scale!r}")
    if n_filters is not None:
        W = W[:n_filters]
    n, n_features = W.shape
    h, w = image_shape_for(n_features, image_shape)
    n_cols, n_rows = _grid_size(n, n_cols)
    if scale == "tile":
        norm = np.abs(W).max(axis=1, keepdims=True)
        tiles = W / np.where(norm > 0, norm, 1.0)
        vmax = 1.0
    else:
        tiles = W
        vmax = float(np.abs(W).max()) or 1.0
    mosaic = _mosaic(tiles.reshape(n, h, w), n_cols)
    cell = max(0.32, min(0.9, 9.0 / max(n_cols, 1)))
    fig = new_figure(n_cols * cell + (1.0 if scale == "global" else 0.3), n_rows * cell * h / w + 0.7)
    ax = fig.add_subplot()
    im = ax.imshow(mosaic, cmap=_cmap(cmap), vmin=-vmax, vmax=vmax, interpolation="nearest")
    _image_axes(ax)
    if scale == "global":
        fig.colorbar(im, ax=ax, shrink=0.6, label="weight")
    fig.suptitle(title or f"Filters of {n} hidden units ({h}x{w}, "
                 f"{'own range per filter' if scale == 'tile' else 'common range'})",
                 fontsize=11, fontweight="bold")
    return save(fig, path)


def plot_rbm_reconstructions(model, X, n_images=10, image_shape=None, path=None, title=None):
    """Originals (top row) above their one-step reconstructions (bottom row).

    Parameters
    ----------
    model : BernoulliRBM
        A fitted model (anything with ``reconstruct(X)``).
    X : array-like of shape (n_samples, n_features)
        Images; the first ``n_images`` are shown.
    n_images : int, default=10
    image_shape : tuple of int, optional
    path : str or os.PathLike, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    X = np.asarray(X)
    if X.ndim == 3:
        X = X.reshape(len(X), -1)
    X = X[:n_images]
    recon = np.asarray(model.reconstruct(X), dtype=np.float64)
    X = X.astype(np.float64)
    n, n_features = X.shape
    h, w = image_shape_for(n_features, image_shape)
    error = ((X - recon) ** 2).mean(axis=1)
    cell = max(0.7, min(1.3, 12.0 / n))
    fig = new_figure(n * cell + 0.9, 2 * cell * h / w + 1.0)
    axes = fig.subplots(2, 1)
    cmap = _cmap("gray_r")
    for ax, images, label in ((axes[0], X, "original"), (axes[1], recon, "reconstruction")):
        ax.imshow(_mosaic(images.reshape(n, h, w), n), cmap=cmap, vmin=0, vmax=1,
                  interpolation="nearest")
        _image_axes(ax)
        ax.text(-0.01, 0.5, label, transform=ax.transAxes, rotation=90, ha="right", va="center",
                fontsize=9)
    for i, e in enumerate(error):
        axes[1].text((i + 0.5) / n, -0.04, f"{e:.3f}", transform=axes[1].transAxes,
                     ha="center", va="top", fontsize=7, color="#555555")
    fig.suptitle(title or f"Reconstructions (mean squared error per pixel under each; "
                 f"mean {error.mean():.4f})", fontsize=11, fontweight="bold")
    return save(fig, path)


def plot_rbm_history(history, path=None, title=None):
    """Reconstruction error per epoch (and the pseudo-log-likelihood when recorded).

    Parameters
    ----------
    history : BernoulliRBM or dict of str to list of float
        A fitted model or its ``history_``.
    path : str or os.PathLike, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_rbm_history({"reconstruction_error": [0.08, 0.06, 0.05]})
    >>> fig.axes[0].get_ylabel()
    'mean squared error per pixel'
    """
    logs = getattr(history, "history_", history)
    if not isinstance(logs, dict) or not logs.get("reconstruction_error"):
        raise ValueError("the history holds no reconstruction errors; fit the model first")
    panels = [("reconstruction_error", "Reconstruction error", "mean squared error per pixel")]
    if logs.get("pseudo_likelihood"):
        panels.append(("pseudo_likelihood", "Pseudo-log-likelihood", "mean per sample (nats)"))
    fig = new_figure(4.4 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for i, (ax, (key, label, ylabel)) in enumerate(zip(axes, panels)):
        values = logs[key]
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o" if len(values) <= 60 else None, markersize=3,
                color=PALETTE[i])
        style_axes(ax, title=label, xlabel="epoch", ylabel=ylabel)
        ax.annotate(f"{values[-1]:.4g}", (epochs[-1], values[-1]), textcoords="offset points",
                    xytext=(0, 6), ha="right", fontsize=8, color=PALETTE[i])
        if len(values) > 1:
            ax.set_xlim(0.5, len(values) + 0.5)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return save(fig, path)


def plot_rbm_samples(samples, n_samples=36, steps=1000, image_shape=None, n_cols=None,
                     path=None, title=None):
    """Samples drawn from the model by Gibbs sampling, as a grid of images.

    Parameters
    ----------
    samples : BernoulliRBM or ndarray of shape (n, n_features)
        A fitted model, from which ``n_samples`` chains of ``steps`` Gibbs
        steps are drawn (showing the probabilities of the last step), or
        samples already drawn.
    n_samples, steps : int
        Used when ``samples`` is a model.
    image_shape : tuple of int, optional
    n_cols : int, optional
    path : str or os.PathLike, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(samples, "sample"):
        images = samples.sample(n_samples, steps=steps, return_probabilities=True)
        default_title = f"{n_samples} samples from the model ({steps} Gibbs steps each)"
    else:
        images = samples
        default_title = f"{len(images)} samples from the model"
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images.reshape(len(images), -1)
    n, n_features = images.shape
    h, w = image_shape_for(n_features, image_shape)
    n_cols, n_rows = _grid_size(n, n_cols)
    cell = max(0.45, min(1.1, 8.0 / n_cols))
    fig = new_figure(n_cols * cell + 0.3, n_rows * cell * h / w + 0.7)
    ax = fig.add_subplot()
    ax.imshow(_mosaic(images.reshape(n, h, w), n_cols), cmap=_cmap("gray_r"), vmin=0, vmax=1,
              interpolation="nearest")
    _image_axes(ax)
    fig.suptitle(title or default_title, fontsize=11, fontweight="bold")
    return save(fig, path)
