"""Figures of experiments: the learning-rate range test and hyperparameter sweeps."""
import numbers
import textwrap

import numpy as np

from ._style import PALETTE, new_figure, save, style_axes

__all__ = ["plot_lr_finder", "plot_sweep"]


def _rate(value):
    return f"{value:.2g}"


def plot_lr_finder(result, path=None, title=None):
    """Loss against learning rate (log axis) from a learning-rate range test, with its suggestion.

    Draws each batch's loss faintly and the smoothed loss boldly, and marks
    the rate of the minimum smoothed loss, the steepest descent and the
    suggested rate (half the minimum's).  The loss axis stops a little
    above the starting loss, so the explosion at the end does not flatten
    the interesting part.

    Parameters
    ----------
    result : LRFinderResult
        What :func:`nnfast.experiments.find_learning_rate` returns (anything
        with ``rates``, ``losses``, ``raw_losses``, ``suggestion``,
        ``steepest`` and ``min_rate``).
    path : str or os.PathLike, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    missing = [a for a in ("rates", "losses", "raw_losses", "suggestion", "steepest", "min_rate")
               if not hasattr(result, a)]
    if missing:
        raise TypeError(f"expected a learning-rate finder result; {type(result).__name__} has no "
                        f"{', '.join(missing)}")
    rates = np.asarray(result.rates, dtype=np.float64)
    losses = np.asarray(result.losses, dtype=np.float64)
    raw = np.asarray(result.raw_losses, dtype=np.float64)
    if rates.ndim != 1 or len(rates) < 2:
        raise ValueError(f"the result needs at least two rates, got shape {rates.shape}")
    if losses.shape != rates.shape or raw.shape != rates.shape:
        raise ValueError(f"rates, losses and raw_losses differ in shape: {rates.shape}, "
                         f"{losses.shape}, {raw.shape}")
    if not np.all(np.isfinite(rates)) or np.any(rates <= 0):
        raise ValueError("the rates must be positive and finite")
    finite = np.isfinite(losses)
    if not finite.any():
        raise ValueError("the result holds no finite loss")

    fig = new_figure(6.6, 4.2)
    ax = fig.add_subplot()
    ok = np.isfinite(raw)
    ax.plot(rates[ok], raw[ok], color="#9bb7cf", linewidth=0.8, label="loss of each batch")
    ax.plot(rates[finite], losses[finite], color=PALETTE[0], linewidth=2.2, label="smoothed loss")
    ax.set_xscale("log")
    log_rates = np.log(rates[finite])

    def loss_at(rate):
        return float(np.interp(np.log(rate), log_rates, losses[finite]))

    marks = [("min_rate", "v", PALETTE[4], "lowest loss at {}"),
             ("steepest", "o", PALETTE[2], "steepest descent at {}")]
    for attr, marker, color, label in marks:
        rate = getattr(result, attr)
        if rate is not None and np.isfinite(rate) and rate > 0:
            ax.plot(rate, loss_at(rate), marker=marker, markersize=9, color=color,
                    markeredgecolor="white", linestyle="none", zorder=4, label=label.format(_rate(rate)))
    suggestion = result.suggestion
    if suggestion is not None and np.isfinite(suggestion) and suggestion > 0:
        ax.axvline(suggestion, color=PALETTE[1], linestyle="--", linewidth=1.4,
                   label=f"suggested rate {_rate(suggestion)} (half the lowest loss's)")
        heading = f"Learning-rate finder: suggested rate {_rate(suggestion)}"
    else:
        heading = "Learning-rate finder"

    best = int(np.nanargmin(np.where(finite, losses, np.inf)))
    low = float(min(losses[finite].min(), np.percentile(raw[ok], 2) if ok.any() else np.inf))
    top = float(np.nanmax(losses[:best + 1]))
    span = (top - low) or abs(top) or 1.0
    ax.set_ylim(low - 0.05 * span, top + 0.3 * span)
    ax.set_xlim(rates[0], rates[-1])
    reason = getattr(result, "stop_reason", None)
    style_axes(ax, title=title or heading, xlabel="learning rate (log scale)",
               ylabel="training loss (per batch)")
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    if reason:
        ax.text(1.0, -0.16, f"{len(rates)} batches; stopped: {reason}", transform=ax.transAxes,
                ha="right", va="top", fontsize=8, color="#555555")
    return save(fig, path)


_METRIC_LABELS = {
    "val_error": "validation error",
    "train_error": "training error",
    "fit_seconds": "fit time (s)",
    "epochs": "epochs run",
}


_SCORING_LABELS = {"mse": "mean squared error", "mae": "mean absolute error"}


def _value_label(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_value_label(v) for v in value) + ")"
    return str(value)


def _key(value):
    return tuple(value) if isinstance(value, list) else value


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def plot_sweep(result, x, hue=None, metric="val_error", path=None, title=None, percent=None):
    """A sweep's validation error against one parameter, one line per value of another.

    When other parameters varied too, each point is the mean over those
    runs and its bar spans the best to the worst run.  A numeric parameter
    gets a numeric axis (logarithmic when its values are positive and span
    more than a factor 20, as learning rates do); any other (optimizer
    names, layer sizes) one tick per value, in the order of the grid.

    Parameters
    ----------
    result : SweepResult or list of dict
        What :func:`nnfast.experiments.sweep` returns (its ``rows``: one dict
        per run, with the parameters and the measurements) or the rows.
    x : str
        The parameter along the horizontal axis.
    hue : str, optional
        The parameter that gets one line per value.
    metric : str, default='val_error'
        The measurement on the vertical axis (``val_error``,
        ``train_error``, ``fit_seconds``, ``epochs``, ...); errors are drawn
        in percent.
    path : str or os.PathLike, optional
    title : str, optional
    percent : bool, optional
        Whether to draw the metric in percent; by default yes for
        classification errors (``scoring='error'`` and every value in
        [0, 1]).  A regressor's ``'error'`` is its mean squared error: pass
        False.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [{"learning_rate": lr, "optimizer": opt, "val_error": e}
    ...         for (lr, opt), e in zip([(0.01, "sgd"), (0.1, "sgd"), (0.01, "adam"), (0.1, "adam")],
    ...                                 [0.3, 0.2, 0.15, 0.25])]
    >>> fig = plot_sweep(rows, x="learning_rate", hue="optimizer")
    >>> fig.axes[0].get_ylabel()
    'validation error (%)'
    """
    rows = getattr(result, "rows", result)
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, dict) for r in rows):
        raise TypeError("expected a SweepResult or a non-empty list of dicts (one per run)")
    for name, role in ((x, "x"), (hue, "hue"), (metric, "metric")):
        if name is not None and not all(name in r for r in rows):
            raise ValueError(f"{role}={name!r} is not in every row; the rows hold {sorted(rows[0])}")
    if hue is not None and hue == x:
        raise ValueError("hue must be another parameter than x")
    values = np.asarray([r[metric] for r in rows], dtype=np.float64)
    scoring = getattr(result, "scoring", "error")
    scoring = scoring if isinstance(scoring, str) else "error"
    is_error = metric in ("val_error", "train_error")
    if percent is None:
        percent = (is_error and scoring == "error"
                   and bool(np.all((values >= 0) & (values <= 1))))
    scale = 100.0 if percent else 1.0

    def order(key):
        seen = {}
        for r in rows:
            seen.setdefault(_key(r[key]), r[key])
        return list(seen.values())

    xs = order(x)
    numeric = all(_is_number(v) for v in xs)
    if numeric:
        xs = sorted(xs)
    hues = order(hue) if hue is not None else [None]
    log_x = numeric and min(xs) > 0 and max(xs) / min(xs) > 20
    several = False

    fig = new_figure(7.0, 4.4)
    ax = fig.add_subplot()
    markers = "osD^vP*X"
    for h_i, h in enumerate(hues):
        points = []
        for x_i, xv in enumerate(xs):
            runs = [r[metric] * scale for r in rows if _key(r[x]) == _key(xv)
                    and (hue is None or _key(r[hue]) == _key(h))]
            runs = [v for v in runs if v is not None and np.isfinite(v)]
            if runs:
                several |= len(runs) > 1
                points.append((xv if numeric else x_i, np.mean(runs), min(runs), max(runs)))
        if not points:
            continue
        pos, mean, lo, hi = (np.asarray(c, dtype=np.float64) for c in zip(*points))
        if not numeric and len(hues) > 1:
            pos = pos + 0.08 * (h_i - (len(hues) - 1) / 2)
        color = PALETTE[h_i % len(PALETTE)]
        label = _value_label(h) if hue is not None else None
        ax.errorbar(pos, mean, yerr=[mean - lo, hi - mean] if several else None, color=color,
                    marker=markers[h_i % len(markers)], markersize=6, linewidth=1.8, capsize=3,
                    elinewidth=1, label=label)
    if log_x:
        ax.set_xscale("log")
    if numeric:
        ax.set_xticks(xs, [_value_label(v) for v in xs])
        ax.minorticks_off()
    else:
        labels = [_value_label(v) for v in xs]
        ax.set_xticks(range(len(xs)), labels, rotation=30 if max(map(len, labels)) > 8 else 0,
                      ha="right" if max(map(len, labels)) > 8 else "center")
        ax.set_xlim(-0.5, len(xs) - 0.5)
    base = _METRIC_LABELS.get(metric, metric.replace("_", " "))
    if is_error and scoring in _SCORING_LABELS:
        base = base.replace("error", _SCORING_LABELS[scoring])
    ylabel = f"{base} (%)" if percent else base
    if several:
        ylabel = f"{ylabel}\nmean; bars: best to worst run"
    heading = title or (f"{base.capitalize()} against {x.replace('_', ' ')}"
                        + (f", by {hue.replace('_', ' ')}" if hue else ""))
    style_axes(ax, title=heading, xlabel=x.replace("_", " ") + (" (log scale)" if log_x else ""),
               ylabel=ylabel)
    if hue is not None:
        ax.legend(title=hue.replace("_", " "), frameon=False, fontsize=9, title_fontsize=9,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0))
    higher_is_better = any(k in metric for k in ("acc", "score", "r2"))
    best = rows[int(np.nanargmax(values) if higher_is_better else np.nanargmin(values))]
    names = list(getattr(result, "param_names", None) or
                 [k for k in best if k not in _METRIC_LABELS and k != metric])
    described = ", ".join(f"{k}={_value_label(best[k])}" for k in names if k in best)
    note = (f"best run: {base} = {best[metric] * scale:.3g}{'%' if percent else ''}"
            + (f" ({described})" if described else ""))
    fig.supxlabel(textwrap.fill(note, 110), x=0.01, ha="left", fontsize=8, color="#555555")
    return save(fig, path)
