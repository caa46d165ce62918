"""Figures for autoencoders and variational autoencoders.

Originals beside their reconstructions (and the noisy inputs a denoising
autoencoder saw), the codes as a scatter coloured by class (before and after
training, or the VAE's beside a PCA's), the VAE's generation grid over its
latent plane, and reconstruction error against the size of the code.

Every function takes plain arrays (what the models' ``transform``,
``reconstruct`` and ``latent_grid`` return), so the figures work for any
model that produces them.
"""
import numpy as np

from ._rbm import _cmap, _image_axes, _mosaic, image_shape_for
from ._style import PALETTE, new_figure, save, style_axes

__all__ = ["plot_reconstructions", "plot_latent_scatter", "plot_latent_before_after",
           "plot_latent_grid", "plot_vae_vs_pca", "plot_reconstruction_error_curve"]


# ------------------------------------------------------------------ helpers
def _as_images(name, images, n_features=None):
    """``images`` as float64 of shape (n, n_features); (n, h, w) is flattened."""
    images = np.asarray(images.get() if hasattr(images, "get") else images)  # cupy arrays too
    if images.ndim == 3:
        images = images.reshape(len(images), -1)
    if images.ndim != 2:
        raise ValueError(f"{name} must be of shape (n_images, n_features) or (n_images, height, "
                         f"width), got shape {images.shape}")
    if n_features is not None and images.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features per image like the originals, "
                         f"got shape {images.shape}")
    images = images.astype(np.float64)
    if not np.isfinite(images).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return images


def _value_range(*arrays):
    """(0, 1) for images in [0, 1] (the usual case), else their common range."""
    low = min(float(a.min()) for a in arrays)
    high = max(float(a.max()) for a in arrays)
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high if high > low else low + 1.0


def _as_codes(name, codes):
    codes = np.asarray(codes.get() if hasattr(codes, "get") else codes)
    if codes.ndim != 2 or codes.shape[1] < 2 or len(codes) == 0:
        raise ValueError(f"{name} must be of shape (n_samples, n_dims) with n_dims >= 2, got "
                         f"shape {codes.shape}")
    codes = codes.astype(np.float64)
    if not np.isfinite(codes).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return codes


def _plane(codes):
    """The codes in two dimensions and the names of the axes.

    Codes of more than two dimensions are projected on their first two
    principal components (centred SVD), which the axis names say.
    """
    if codes.shape[1] == 2:
        return codes, ("$z_1$", "$z_2$")
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    share = s[:2] ** 2 / max(float((s ** 2).sum()), np.finfo(float).tiny)
    return centred @ vt[:2].T, tuple(f"principal component {i + 1} of the codes "
                                     f"({share[i]:.0%} of variance)" for i in range(2))


def _check_labels(labels, n):
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"labels must be of shape ({n},), one per code, got shape {labels.shape}")
    return labels


def _class_name(value, class_names):
    if class_names is None:
        return str(value)
    if isinstance(class_names, dict):
        return str(class_names.get(value, class_names.get(str(value), value)))
    if np.issubdtype(np.asarray(value).dtype, np.integer) and 0 <= int(value) < len(class_names):
        return str(class_names[int(value)])
    raise ValueError(f"class_names has no name for the label {value!r}; pass a sequence indexed "
                     "by integer labels or a dict from label to name")


def _class_colours(n_classes):
    from matplotlib import colormaps

    if n_classes <= len(PALETTE):
        return PALETTE[:n_classes]
    name = "tab10" if n_classes <= 10 else "tab20" if n_classes <= 20 else "turbo"
    cmap = colormaps[name]
    if name == "turbo":
        return [cmap(i / max(n_classes - 1, 1)) for i in range(n_classes)]
    return [cmap(i) for i in range(n_classes)]


def _scatter(ax, points, labels, classes, colours, marker_size):
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=marker_size, color=PALETTE[0], alpha=0.6,
                   linewidths=0, rasterized=True)
        return
    # Points in a random order, so that no class is drawn over all the others.
    order = np.random.default_rng(0).permutation(len(points))
    from matplotlib.colors import to_rgba_array

    index = np.searchsorted(classes, labels[order])
    ax.scatter(points[order, 0], points[order, 1], s=marker_size,
               c=to_rgba_array(colours)[index], alpha=0.7, linewidths=0, rasterized=True)


def _marker_size(n):
    return float(np.clip(6000.0 / max(n, 1), 3.0, 30.0))


def _legend(fig, classes, colours, class_names, anchor_ax=None):
    """One legend for every panel, right of the figure, a marker per class."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="", marker="o", markersize=7, color=colours[i],
                      label=_class_name(c, class_names)) for i, c in enumerate(classes)]
    n_cols = 1 if len(classes) <= 16 else 2
    target = anchor_ax if anchor_ax is not None else fig
    kwargs = {"loc": "center left", "bbox_to_anchor": (1.01, 0.5)} if anchor_ax is not None \
        else {"loc": "outside right center"}
    return target.legend(handles=handles, title="class", frameon=False, ncols=n_cols,
                         fontsize=8, title_fontsize=9, handletextpad=0.3, **kwargs)


def _centroid_accuracy(points, labels):
    """Share of the points whose nearest class mean (over these points) is their own class's."""
    classes, index = np.unique(labels, return_inverse=True)
    centres = np.stack([points[index == k].mean(axis=0) for k in range(len(classes))])
    distances = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2)
    return float((distances.argmin(axis=1) == index).mean())


def _latent_panel(ax, codes, labels, classes, colours, title, separation):
    points, (xlabel, ylabel) = _plane(codes)
    _scatter(ax, points, labels, classes, colours, _marker_size(len(points)))
    if separation and labels is not None and len(classes) > 1:
        title = (f"{title}\nnearest-centroid accuracy {_centroid_accuracy(points, labels):.2f}"
                 if title else None)
    style_axes(ax, title=title, xlabel=xlabel, ylabel=ylabel)
    ax.title.set_fontsize(10)
    return points


# ------------------------------------------------------------------ figures
def plot_reconstructions(originals, reconstructions, noisy=None, n=10, image_shape=None,
                         path=None, title=None):
    """Originals above their reconstructions (and the noisy inputs, for a denoising model).

    Parameters
    ----------
    originals : ndarray of shape (n_images, n_features) or (n_images, height, width)
        The clean images.
    reconstructions : ndarray of the same shape as ``originals``
        What the model made of them (``model.reconstruct(X)``, or of the
        noisy inputs for a denoising autoencoder).
    noisy : ndarray of the same shape as ``originals``, optional
        The corrupted inputs the model saw; drawn as a row above the originals.
    n : int, default=10
        Images drawn (the first ``n``).
    image_shape : tuple of int, optional
        (height, width) of one image; inferred for square images (784 -> 28x28).
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((4, 64))
    >>> fig = plot_reconstructions(x, 0.9 * x, n=4)
    >>> len(fig.axes)
    2
    """
    originals = _as_images("originals", originals)
    n_features = originals.shape[1]
    reconstructions = _as_images("reconstructions", reconstructions, n_features)
    if len(reconstructions) != len(originals):
        raise ValueError(f"reconstructions must hold one image per original ({len(originals)}), "
                         f"got {len(reconstructions)}")
    rows = []
    if noisy is not None:
        noisy = _as_images("noisy", noisy, n_features)
        if len(noisy) != len(originals):
            raise ValueError(f"noisy must hold one image per original ({len(originals)}), "
                             f"got {len(noisy)}")
    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    n = min(int(n), len(originals))
    if n == 0:
        raise ValueError("originals holds no images")
    h, w = image_shape_for(n_features, image_shape)
    originals, reconstructions = originals[:n], reconstructions[:n]
    if noisy is not None:
        noisy = noisy[:n]
        rows.append(("noisy input", noisy))
    rows += [("original", originals), ("reconstruction", reconstructions)]
    error = ((originals - reconstructions) ** 2).mean(axis=1)
    vmin, vmax = _value_range(*(images for _, images in rows))
    cell = max(0.7, min(1.3, 12.0 / n))
    fig = new_figure(n * cell + 1.1, len(rows) * cell * h / w + 1.1)
    axes = fig.subplots(len(rows), 1)
    cmap = _cmap("gray_r")
    for ax, (label, images) in zip(axes, rows):
        ax.imshow(_mosaic(images.reshape(n, h, w), n), cmap=cmap, vmin=vmin, vmax=vmax,
                  interpolation="nearest")
        _image_axes(ax)
        ax.text(-0.01, 0.5, label, transform=ax.transAxes, rotation=90, ha="right", va="center",
                fontsize=9)
    for i, e in enumerate(error):
        axes[-1].text((i + 0.5) / n, -0.04, f"{e:.3f}", transform=axes[-1].transAxes,
                      ha="center", va="top", fontsize=7, color="#555555")
    against = "clean original" if noisy is not None else "original"
    fig.suptitle(title or "Reconstructions", fontsize=11, fontweight="bold")
    axes[0].set_title(f"under each reconstruction: its mean squared error per pixel against the "
                      f"{against} (mean {error.mean():.4f})", fontsize=8, color="#555555")
    return save(fig, path)


def plot_latent_scatter(codes, labels, title="Codes coloured by class", ax=None,
                        class_names=None, path=None):
    """The codes of a model as points coloured by class.

    Two-dimensional codes are drawn as they are; wider codes are projected on
    their first two principal components (the axis labels say so).

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_dims)
        ``model.transform(X)`` or ``vae.encode(X)``; ``n_dims >= 2``.
    labels : array-like of shape (n_samples,) or None
        Class of each sample (colours and legend); None draws one colour.
    title : str, default="Codes coloured by class"
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (of a figure you made) instead of a new figure;
        the legend goes to their right.
    class_names : sequence of str or dict, optional
        Names for the legend: a sequence indexed by integer labels
        (``class_names[3]`` names label 3), or a dict from label to name.
    path : str or os.PathLike, optional
        Where to write the PNG (of the whole figure when ``ax`` is given).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_latent_scatter(rng.normal(size=(50, 2)), rng.integers(0, 3, 50),
    ...                           class_names=["a", "b", "c"])
    >>> fig.axes[0].get_xlabel()
    '$z_1$'
    """
    codes = _as_codes("codes", codes)
    labels = _check_labels(labels, len(codes))
    classes = np.unique(labels) if labels is not None else np.array([])
    colours = _class_colours(len(classes))
    if ax is None:
        fig = new_figure(6.4 if labels is not None else 5.4, 4.8)
        ax = fig.add_subplot()
        own = True
    else:
        fig, own = ax.figure, False
    _latent_panel(ax, codes, labels, classes, colours, title, separation=False)
    if labels is not None:
        _legend(fig, classes, colours, class_names, anchor_ax=None if own else ax)
    return save(fig, path)


def plot_latent_before_after(codes_before, codes_after, labels, class_names=None, path=None,
                             title="Codes before and after training",
                             panel_titles=("Before training", "After training")):
    """The same samples' codes from the untrained and the trained model, side by side.

    Each panel's subtitle gives the accuracy of a nearest-centroid classifier
    on the drawn points (each point to the class whose mean is nearest): a
    number for how far training separated the classes.

    Parameters
    ----------
    codes_before, codes_after : ndarray of shape (n_samples, n_dims)
        Codes of the same samples before and after ``fit``; ``n_dims >= 2``.
    labels : array-like of shape (n_samples,)
    class_names : sequence of str or dict, optional
        As in :func:`plot_latent_scatter`.
    path : str or os.PathLike, optional
    title : str, default="Codes before and after training"
    panel_titles : tuple of two str, default=("Before training", "After training")
        Titles of the left and right panels (the accuracy goes under each).

    Returns
    -------
    matplotlib.figure.Figure
    """
    left, right = _panel_titles(panel_titles)
    return _two_panels(("codes_before", codes_before, left),
                       ("codes_after", codes_after, right), labels, class_names, path, title)


def _panel_titles(titles):
    if isinstance(titles, str) or len(titles) != 2:
        raise ValueError(f"panel_titles must be two titles (left, right), got {titles!r}")
    return str(titles[0]), str(titles[1])


def plot_vae_vs_pca(vae_codes, pca_codes, labels, class_names=None, path=None,
                    title="VAE latent means beside a PCA of the same data",
                    panel_titles=("VAE latent means", "PCA, two components")):
    """A VAE's latent means beside the first two principal components, coloured by class.

    Parameters
    ----------
    vae_codes : ndarray of shape (n_samples, n_dims)
        ``vae.encode(X)``.
    pca_codes : ndarray of shape (n_samples, n_components)
        ``PCA(n_components=2).fit_transform(X)`` of the same samples.
    labels : array-like of shape (n_samples,)
    class_names : sequence of str or dict, optional
        As in :func:`plot_latent_scatter`.
    path : str or os.PathLike, optional
    title : str
    panel_titles : tuple of two str, default=("VAE latent means", "PCA, two components")
        Titles of the left and right panels (the accuracy goes under each).

    Returns
    -------
    matplotlib.figure.Figure
    """
    left, right = _panel_titles(panel_titles)
    fig = _two_panels(("vae_codes", vae_codes, left), ("pca_codes", pca_codes, right), labels,
                      class_names, None, title)
    pca_ax = fig.axes[1]
    if np.asarray(pca_codes).shape[1] == 2:
        pca_ax.set_xlabel("principal component 1")
        pca_ax.set_ylabel("principal component 2")
    return save(fig, path)


def _two_panels(left, right, labels, class_names, path, title):
    (name_a, codes_a, title_a), (name_b, codes_b, title_b) = left, right
    codes_a, codes_b = _as_codes(name_a, codes_a), _as_codes(name_b, codes_b)
    if len(codes_a) != len(codes_b):
        raise ValueError(f"{name_a} and {name_b} must hold codes of the same samples, got "
                         f"{len(codes_a)} and {len(codes_b)} rows")
    labels = _check_labels(labels, len(codes_a))
    classes = np.unique(labels) if labels is not None else np.array([])
    colours = _class_colours(len(classes))
    fig = new_figure(11.0, 4.9)
    axes = fig.subplots(1, 2)
    for ax, codes, panel_title in ((axes[0], codes_a, title_a), (axes[1], codes_b, title_b)):
        _latent_panel(ax, codes, labels, classes, colours, panel_title, separation=True)
    if labels is not None:
        _legend(fig, classes, colours, class_names)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return save(fig, path)


def plot_latent_grid(images, n, image_shape=None, coordinates=None, path=None,
                     title="Images decoded from a grid over the latent plane"):
    """The VAE's generation grid: one decoded image per point of the latent plane.

    Parameters
    ----------
    images : ndarray of shape (n * n, n_features) or (n * n, height, width)
        Decoded images in row-major grid order (``vae.latent_grid(n)[0]``).
    n : int
        Images per side of the grid.
    image_shape : tuple of int, optional
        (height, width) of one image; inferred for square images.
    coordinates : ndarray of shape (n * n, 2), optional
        The latent point of each image (``vae.latent_grid(n)[1]``); when given,
        the axes are labelled with the latent values along the rows and columns.
    path : str or os.PathLike, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_latent_grid(np.random.default_rng(0).random((9, 16)), 3)
    >>> len(fig.axes)
    1
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer (images per side), got {n!r}")
    n = int(n)
    images = _as_images("images", images)
    if len(images) != n * n:
        raise ValueError(f"images must hold n * n = {n * n} images for n={n}, got {len(images)}")
    h, w = image_shape_for(images.shape[1], image_shape)
    vmin, vmax = _value_range(images)
    cell = max(0.45, min(1.0, 9.0 / n))
    labelled = coordinates is not None
    fig = new_figure(n * cell + (1.0 if labelled else 0.3),
                     n * cell * h / w + (1.1 if labelled else 0.6))
    ax = fig.add_subplot()
    ax.imshow(_mosaic(images.reshape(n * n, h, w), n), cmap=_cmap("gray_r"), vmin=vmin, vmax=vmax,
              interpolation="nearest")
    if labelled:
        _grid_axes(ax, _as_codes("coordinates", coordinates), n, h, w)
    else:
        _image_axes(ax)
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return save(fig, path)


def _grid_axes(ax, coordinates, n, h, w):
    """Tick the mosaic with the latent values of its columns and rows."""
    if coordinates.shape != (n * n, 2):
        raise ValueError(f"coordinates must be of shape ({n * n}, 2), one latent point per image, "
                         f"got {coordinates.shape}")
    grid = coordinates.reshape(n, n, 2)
    # Which latent dimension changes along a row of the grid (the other along a column).
    along_row = int(np.argmax(np.abs(grid[0, -1] - grid[0, 0]))) if n > 1 else 0
    along_col = 1 - along_row
    step = max(1, -(-n // 8))
    ticks = list(range(0, n, step))
    centres = [1 + i * (w + 1) + w / 2 - 0.5 for i in ticks]
    ax.set_xticks(centres, [f"{grid[0, i, along_row]:.2g}" for i in ticks], fontsize=8)
    centres = [1 + i * (h + 1) + h / 2 - 0.5 for i in ticks]
    ax.set_yticks(centres, [f"{grid[i, 0, along_col]:.2g}" for i in ticks], fontsize=8)
    ax.set_xlabel(f"$z_{along_row + 1}$")
    ax.set_ylabel(f"$z_{along_col + 1}$")
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)


def plot_reconstruction_error_curve(pca_errors, autoencoder_errors, path=None,
                                    title="Reconstruction error against the size of the code",
                                    ylabel="mean squared error per pixel"):
    """Reconstruction error of PCA and of autoencoders against the width of the code.

    Parameters
    ----------
    pca_errors : dict of int to float
        Number of principal components -> reconstruction error of
        ``inverse_transform(transform(X))``.
    autoencoder_errors : dict of int to float
        Latent size -> the autoencoder's reconstruction error (the same
        measure, on the same data).
    path : str or os.PathLike, optional
    title : str
    ylabel : str, default="mean squared error per pixel"
        What the errors measure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_reconstruction_error_curve({2: 0.06, 10: 0.03, 50: 0.01},
    ...                                       {2: 0.05, 10: 0.02})
    >>> fig.axes[0].get_xlabel()
    'size of the code (components or latent units)'
    """
    curves = [("PCA", _error_points("pca_errors", pca_errors), "o", PALETTE[0]),
              ("autoencoder", _error_points("autoencoder_errors", autoencoder_errors), "s",
               PALETTE[1])]
    from matplotlib.ticker import FuncFormatter, NullLocator

    fig = new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    sizes = sorted({int(s) for _, (x, _), _, _ in curves for s in x})
    for label, (x, y), marker, colour in curves:
        ax.plot(x, y, marker=marker, markersize=5, color=colour, label=label, linewidth=1.6)
    if sizes[-1] / max(sizes[0], 1) >= 20:
        ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    errors = [y for _, (_, ys), _, _ in curves for y in ys]
    if min(errors) > 0 and max(errors) / min(errors) >= 10:
        ax.set_yscale("log")
        # Plain numbers at 1, 2 and 5 times each power of ten, nothing between.
        plain = FuncFormatter(lambda v, _: f"{v:.3g}" if f"{v:.1e}"[0] in "125" else "")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.grid(True, which="minor", axis="y", color="#eeeeee", linewidth=0.5)
    style_axes(ax, title=title, xlabel="size of the code (components or latent units)",
               ylabel=ylabel)
    ax.legend(frameon=False)
    return save(fig, path)


def _error_points(name, errors):
    if not isinstance(errors, dict) or not errors:
        raise ValueError(f"{name} must be a non-empty dict from code size to error, got "
                         f"{type(errors).__name__}")
    points = []
    for size, error in errors.items():
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{name} keys must be positive integers (code sizes), got {size!r}")
        error = float(error)
        if not np.isfinite(error) or error < 0:
            raise ValueError(f"{name}[{size}] must be a finite error >= 0, got {error}")
        points.append((int(size), error))
    points.sort()
    return [p[0] for p in points], [p[1] for p in points]
