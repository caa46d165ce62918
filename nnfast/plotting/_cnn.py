"""Figures for looking inside a convolutional network: its filters and its feature maps."""
import numpy as np

from ._rbm import _cmap, _grid_size, _image_axes, _mosaic
from ._style import new_figure, save

__all__ = ["plot_conv_filters", "plot_feature_maps"]


def _sequential(model):
    """The :class:`~nnfast.Sequential` of a fitted estimator, or ``model`` itself."""
    inner = getattr(model, "model_", model)
    if not hasattr(inner, "layers") or not getattr(inner, "built", False):
        raise ValueError("expected a fitted CNNClassifier or a built Sequential model, got "
                         f"{type(model).__name__}")
    return inner


def _conv_layers(net):
    from ..layers import Conv2D

    return [layer for layer in net.layers if isinstance(layer, Conv2D)]


def plot_conv_filters(model, layer=0, n_filters=None, n_cols=None, cmap="RdBu_r", path=None,
                      title=None):
    """The kernels of a convolution layer as a grid of images.

    Each filter of a layer that reads one or three channels is one tile (grey
    levels on a diverging scale, or colours); for more input channels each
    filter is a row of tiles, one per channel (up to 8).  Every tile or row
    has its own symmetric range, so weak filters show their shape too.

    Parameters
    ----------
    model : CNNClassifier or Sequential
    layer : int or Conv2D
        Which convolution: its index among the model's Conv2D layers (0 is
        the first), or the layer itself.
    n_filters : int, optional
        Draw only the first ``n_filters``.
    n_cols : int, optional
        Columns of the grid for one- and three-channel filters.
    cmap : str
    path : str or os.PathLike, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    net = _sequential(model)
    convs = _conv_layers(net)
    if not convs:
        raise ValueError("the model has no Conv2D layer")
    if not isinstance(layer, (int, np.integer)):
        if layer not in convs:
            raise ValueError("layer must be the index of a Conv2D layer of the model, or one of them")
        conv = layer
    elif not 0 <= layer < len(convs):
        raise ValueError(f"layer must be in [0, {len(convs)}): the model has {len(convs)} Conv2D "
                         f"layers, got {layer}")
    else:
        conv = convs[layer]
    kernel = np.asarray(net.ops.to_numpy(conv.kernel), dtype=np.float64)
    kh, kw, channels, filters = kernel.shape
    tiles = kernel.transpose(3, 2, 0, 1)[:n_filters]  # (filters, channels, kh, kw)
    n = len(tiles)
    if channels == 3:
        low = tiles.min(axis=(1, 2, 3), keepdims=True)
        span = tiles.max(axis=(1, 2, 3), keepdims=True) - low
        rgb = ((tiles - low) / np.where(span > 0, span, 1.0)).transpose(0, 2, 3, 1)
        n_cols, n_rows = _grid_size(n, n_cols)
        mosaic = np.stack([_mosaic(rgb[..., c], n_cols) for c in range(3)], axis=-1)
        mosaic = np.nan_to_num(mosaic, nan=0.81)
        cmap_arg, vmax = {}, None
    else:
        shown = min(channels, 8)
        if channels == 1:
            flat = tiles[:, 0]
            n_cols, n_rows = _grid_size(n, n_cols)
        else:
            flat = tiles[:, :shown].reshape(n * shown, kh, kw)
            n_cols, n_rows = shown, n
            flat = flat.reshape(n, shown, kh, kw)
            norm = np.abs(flat).max(axis=(1, 2, 3), keepdims=True)
            flat = (flat / np.where(norm > 0, norm, 1.0)).reshape(n * shown, kh, kw)
        if channels == 1:
            norm = np.abs(flat).max(axis=(1, 2), keepdims=True)
            flat = flat / np.where(norm > 0, norm, 1.0)
        mosaic = _mosaic(flat, n_cols)
        cmap_arg, vmax = {"cmap": _cmap(cmap), "vmin": -1.0}, 1.0
    cell = max(0.35, min(0.8, 8.0 / max(n_cols, 1)))
    fig = new_figure(n_cols * cell + 0.4, n_rows * cell + 0.8)
    ax = fig.add_subplot()
    ax.imshow(mosaic, vmax=vmax, interpolation="nearest", **cmap_arg)
    _image_axes(ax)
    if channels not in (1, 3):
        ax.set_title(f"rows: filters; columns: the first {min(channels, 8)} of {channels} "
                     f"input channels", fontsize=9)
    name = conv.name or f"Conv2D {convs.index(conv)}"
    fig.suptitle(title or f"{name}: {n} of {filters} filters, {kh}x{kw}x{channels}",
                 fontsize=11, fontweight="bold")
    return save(fig, path)


def plot_feature_maps(model, image, n_maps=8, cmap="viridis", path=None, title=None):
    """One image and what each layer of the model makes of it, layer by layer.

    A row per layer whose output is still an image (convolutions, pooling,
    batch normalisation, activations, dropout): its first ``n_maps``
    channels, each with its own colour range.

    Parameters
    ----------
    model : CNNClassifier or Sequential
    image : array-like
        One image in any layout the model takes (for a CNNClassifier, the
        layouts its ``predict`` accepts).
    n_maps : int
        Channels drawn per layer.
    cmap : str
    path : str or os.PathLike, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    net = _sequential(model)
    batch = np.asarray(image)[None]
    if net is not model:
        batch = model._check_X(batch)
    outputs = net.layer_outputs(batch)
    rows = [("input", np.asarray(batch, dtype=np.float64).reshape(
        (1,) + tuple(net.input_shape) + (1,) * (3 - len(net.input_shape)))[0])]
    for i, (layer, out) in enumerate(zip(net.layers, outputs)):
        if out.ndim == 4:
            rows.append((f"{i}: {layer.name or type(layer).__name__} {out.shape[1:]}", out[0]))
    n_maps = max(1, int(n_maps))
    cols = min(n_maps, max(r[1].shape[2] for r in rows))
    fig = new_figure(1.2 * cols + 0.6, 1.25 * len(rows) + 0.6)
    grid = fig.add_gridspec(len(rows), cols)
    for r, (label, maps) in enumerate(rows):
        for c in range(min(cols, maps.shape[2])):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(maps[:, :, c], cmap=cmap, interpolation="nearest")
            _image_axes(ax)
            if c == 0:
                ax.set_title(label, fontsize=8, loc="left")
    fig.suptitle(title or "Feature maps, layer by layer", fontsize=11, fontweight="bold")
    return save(fig, path)
