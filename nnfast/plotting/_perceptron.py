"""Figures of the perceptron: errors per epoch, decision lines, capacity."""
import numpy as np
from matplotlib.ticker import MaxNLocator

from ._style import PALETTE, new_figure, save, style_axes

__all__ = ["plot_perceptron_errors", "plot_decision_line", "plot_gate_exercise", "plot_capacity"]

_BLUE, _ORANGE, _GREEN, _PINK = PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[3]
_GREY = "#555555"


def _errors_of(source):
    if hasattr(source, "history_"):
        source = source.history_
    if isinstance(source, dict):
        if "errors" not in source:
            raise ValueError("the history holds no 'errors' list")
        source = source["errors"]
    errors = np.asarray(source)
    if errors.ndim != 1 or errors.size == 0 or errors.dtype.kind not in "iuf":
        raise ValueError("expected a non-empty sequence of error counts per epoch")
    return errors


def _label(value):
    """Class labels as people write them: -1 and +1 rather than -1.0 and 1.0."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return f"{value:+d}" if value else "0"
    return str(value)


def plot_perceptron_errors(errors, path=None, title="Errors per epoch", ax=None):
    """Number of training errors (updates) in each epoch.

    Parameters
    ----------
    errors : Perceptron, dict or sequence of int
        A fitted :class:`~nnfast.models.Perceptron`, its ``history_`` or the
        error counts themselves.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    errors = _errors_of(errors)
    fig = ax.figure if ax is not None else new_figure(5.0, 3.4)
    if ax is None:
        ax = fig.subplots()
    epochs = np.arange(1, errors.size + 1)
    learned = errors[-1] == 0
    if errors.size <= 60:
        colors = [_GREEN if e == 0 else _BLUE for e in errors]
        ax.bar(epochs, errors, color=colors, width=0.6)
        if learned:  # the error-free epoch has no bar; mark it
            ax.plot(epochs[-1], 0, marker="v", color=_GREEN, markersize=8, clip_on=False)
    else:
        ax.plot(epochs, errors, color=_BLUE, linewidth=1.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.3, errors.size + 0.7)
    ax.set_ylim(0, max(1, errors.max()) * 1.15)
    if learned:
        note = f"learned: no error in epoch {errors.size}"
    else:
        note = f"not learned: errors in all {errors.size} epochs"
    ax.text(0.98, 0.96, note, transform=ax.transAxes, ha="right", va="top", fontsize=9,
            color=_GREEN if learned else _ORANGE)
    style_axes(ax, title=title, xlabel="epoch", ylabel="errors (updates)")
    return save(fig, path)


def plot_decision_line(model, X, y, path=None, title="Decision line", ax=None):
    """The points of a two-feature problem and the perceptron's decision line.

    Shades the two half-planes by predicted class, draws the line
    ``w . x + b = 0`` with the weight vector ``w`` as its normal, and rings
    the points the model gets wrong.

    Parameters
    ----------
    model : Perceptron
        Fitted on two features.
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
        Labels (two classes, as given to ``fit``).
    path : str or os.PathLike, optional
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if getattr(model, "n_features_in_", None) != 2 or X.ndim != 2 or X.shape[1] != 2:
        raise ValueError("plot_decision_line needs a model fitted on two features and X of "
                         "shape (n_samples, 2)")
    fig = ax.figure if ax is not None else new_figure(4.6, 4.2)
    if ax is None:
        ax = fig.subplots()
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.35 * np.maximum(hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    score = model.decision_function(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    colors = (_BLUE, _ORANGE)
    ax.contourf(gx, gy, score > 0, levels=[-0.5, 0.5, 1.5], colors=colors, alpha=0.12)
    w, b = model.coef_, model.intercept_
    if np.any(w != 0):
        ax.contour(gx, gy, score, levels=[0.0], colors="k", linewidths=1.6)
        # The weight vector, the line's normal, drawn from a point of the line
        # beside the middle of the plot (the middle itself is often a data point).
        span = np.min(hi - lo)
        centre = (lo + hi) / 2
        along = np.array([-w[1], w[0]]) / np.linalg.norm(w)
        foot = centre - (w @ centre + b) / (w @ w) * w + 0.22 * span * along
        arrow = w / np.linalg.norm(w) * 0.16 * span
        ax.annotate("", xy=foot + arrow, xytext=foot,
                    arrowprops=dict(arrowstyle="-|>", color="k", lw=1.2))
        ax.text(*(foot + arrow + 0.05 * span * along), "w", fontsize=11, fontstyle="italic",
                ha="center", va="center")
    else:
        ax.text(0.5, 0.5, "w = 0: no decision line", transform=ax.transAxes, ha="center",
                va="center", fontsize=9.5, color=_GREY,
                bbox=dict(facecolor="white", edgecolor="#cccccc", alpha=0.9, pad=4))
    wrong = model.predict(X) != y
    for cls, color, marker in zip(model.classes_, colors, ("o", "s")):
        mask = y == cls
        ax.scatter(X[mask, 0], X[mask, 1], s=90, color=color, marker=marker,
                   edgecolor="white", linewidth=1.2, zorder=3, label=f"y = {_label(cls)}")
    if wrong.any():
        ax.scatter(X[wrong, 0], X[wrong, 1], s=260, facecolor="none", edgecolor="#c00000",
                   linewidth=1.6, zorder=4, label="misclassified")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    equation = f"{w[0]:+.3g} x1 {w[1]:+.3g} x2 {b:+.3g} = 0"
    ax.text(0.02, 0.02, equation, transform=ax.transAxes, fontsize=8.5, color=_GREY,
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=2))
    style_axes(ax, title=title, xlabel="x1", ylabel="x2")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8.5,
              frameon=False, handletextpad=0.3, columnspacing=1.2)
    return save(fig, path)


def plot_gate_exercise(exercise, path=None):
    """Errors per epoch of a logic-gate exercise and, for two inputs, its decision line.

    Parameters
    ----------
    exercise : GateExercise
        What :func:`nnfast.models.logic_gate_exercise` returns.
    path : str or os.PathLike, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    name = f"{exercise.gate.upper()}, {exercise.n_inputs} input{'s' * (exercise.n_inputs > 1)}"
    two = exercise.n_inputs == 2
    fig = new_figure(9.4 if two else 5.2, 4.0)
    axes = fig.subplots(1, 2 if two else 1, squeeze=False)[0]
    plot_perceptron_errors(exercise.model, ax=axes[0], title="Errors per epoch")
    if two:
        plot_decision_line(exercise.model, exercise.X, exercise.y, ax=axes[1],
                           title="Learned decision line")
    verdict = "learned" if exercise.learned else "not learned"
    fig.suptitle(f"Perceptron on {name} (\u00b11 coding): {verdict}", fontsize=12,
                 fontweight="bold")
    return save(fig, path)


def plot_capacity(result, path=None, title=None):
    """Fraction of random dichotomies learned against p / N, with Cover's curve.

    Left: the measured fraction (with its standard error over the trials)
    and Cover's fraction of separable dichotomies, a vertical line at the
    capacity ``p = 2 D`` (``D = N``, or ``N + 1`` with a bias).  Right: the
    mean number of epochs the learned trials needed.

    Parameters
    ----------
    result : CapacityResult
        What :func:`nnfast.models.perceptron_capacity` returns.
    path : str or os.PathLike, optional
    title : str, optional
        Defaults to a description of the experiment.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..models._capacity import cover_fraction

    n, d = result.n_features, result.n_dims
    alpha, frac = result.alpha, result.fraction_learned
    fig = new_figure(10.0, 4.0)
    ax, ax_ep = fig.subplots(1, 2, width_ratios=[1.5, 1])
    p_max = max(int(result.n_patterns.max()), 2 * d) * 1.08
    p_grid = np.arange(1, int(p_max) + 1)
    cover_label = r"Cover: $C(p, N)\,/\,2^p$" if d == n else r"Cover: $C(p, N{+}1)\,/\,2^p$"
    ax.plot(p_grid / n, cover_fraction(p_grid, d), color=_GREY, linewidth=1.8, label=cover_label)
    stderr = np.sqrt(frac * (1 - frac) / result.n_trials)
    ax.errorbar(alpha, frac, yerr=stderr, color=_BLUE, marker="o", markersize=5, linewidth=1.2,
                capsize=2.5, label=f"perceptron ({result.n_trials} trials each)")
    capacity = 2 * d / n
    ax.axvline(capacity, color=_ORANGE, linestyle="--", linewidth=1.2,
               label="p = 2N" if d == n else "p = 2(N+1)")
    ax.set_ylim(-0.04, 1.06)
    ax.set_xlim(0, p_max / n)
    style_axes(ax, title="Fraction of random dichotomies learned", xlabel="load p / N",
           ylabel="fraction learned")
    ax.legend(loc="lower left", fontsize=9, framealpha=0.9)

    mean_epochs = result.mean_epochs
    ok = ~np.isnan(mean_epochs)
    ax_ep.plot(alpha[ok], mean_epochs[ok], color=_GREEN, marker="o", markersize=5, linewidth=1.2,
               label="mean of learned trials")
    ax_ep.axhline(result.max_epochs, color=_PINK, linestyle=":", linewidth=1.2,
                  label=f"max_epochs = {result.max_epochs}")
    ax_ep.axvline(capacity, color=_ORANGE, linestyle="--", linewidth=1.2)
    ax_ep.set_yscale("log")
    ax_ep.set_xlim(0, p_max / n)
    style_axes(ax_ep, title="Epochs to learn", xlabel="load p / N", ylabel="epochs")
    ax_ep.legend(loc="lower right", fontsize=9, framealpha=0.9)
    if title is None:
        bias = "with" if result.fit_intercept else "without"
        title = f"Perceptron capacity: N = {n} \u00b11 inputs, {bias} bias"
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return save(fig, path)
