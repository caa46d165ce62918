"""The learning-rate finder curve and sweep charts draw from stand-ins of the experiment results."""
import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from nnfast.plotting import plot_lr_finder, plot_sweep

from ._figure_checks import assert_nothing_clipped, assert_png, assert_tick_labels_apart


def _lr_result(**changes):
    """A stand-in with the fields of LRFinderResult: a loss that falls, flattens and explodes."""
    rates = 1e-6 * 1.05 ** np.arange(300)
    x = np.log10(rates)
    raw = 2.3 - 1.8 / (1 + np.exp(-2.5 * (x + 3.5))) + np.where(x > -1.5, (x + 1.5) ** 2 * 8, 0)
    raw = raw + np.random.default_rng(0).normal(0, 0.05, len(raw))
    smooth = np.convolve(raw, np.ones(9) / 9, mode="same")
    i_min = int(np.argmin(smooth))
    fields = dict(rates=rates, losses=smooth, raw_losses=raw, suggestion=rates[i_min] / 2,
                  steepest=rates[120], min_rate=rates[i_min], stop_reason="the loss diverged")
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_lr_finder_plot(tmp_path):
    result = _lr_result()
    fig = plot_lr_finder(result, path=tmp_path / "lr.png")
    assert_png(tmp_path / "lr.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "learning rate (log scale)"
    assert ax.get_title() == f"Learning-rate finder: suggested rate {result.suggestion:.2g}"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["loss of each batch", "smoothed loss"]
    assert f"lowest loss at {result.min_rate:.2g}" in labels
    assert f"steepest descent at {result.steepest:.2g}" in labels
    assert any(t.startswith(f"suggested rate {result.suggestion:.2g}") for t in labels)
    # The explosion is cut: the loss axis ends a little above the starting loss.
    assert ax.get_ylim()[1] < result.raw_losses.max()
    assert_nothing_clipped(fig)


def test_lr_finder_plot_tolerates_missing_marks_and_infinite_losses():
    raw = _lr_result().raw_losses.copy()
    raw[-3:] = np.inf
    fig = plot_lr_finder(_lr_result(raw_losses=raw, suggestion=float("nan"), steepest=None))
    assert fig.axes[0].get_title() == "Learning-rate finder"


@pytest.mark.parametrize("result, error, match", [
    (SimpleNamespace(rates=[1.0, 2.0]), TypeError, "no losses, raw_losses"),
    (_lr_result(rates=np.array([1e-3])), ValueError, "at least two rates"),
    (_lr_result(losses=np.ones(5)), ValueError, "differ in shape"),
    (_lr_result(rates=-np.ones(300)), ValueError, "positive"),
    (_lr_result(losses=np.full(300, np.nan)), ValueError, "no finite loss"),
])
def test_lr_finder_plot_rejects_bad_results(result, error, match):
    with pytest.raises(error, match=match):
        plot_lr_finder(result)


@pytest.fixture(scope="module")
def sweep_result():
    """A stand-in with the fields of SweepResult."""
    rng = np.random.default_rng(0)
    rows = []
    for opt, act, sizes, lr in itertools.product(["sgd", "adam"], ["relu", "tanh"], [(32,), (32, 32)],
                                                 [1e-3, 1e-2, 1e-1]):
        error = 0.2 + 0.05 * (opt == "sgd") + 0.03 * abs(np.log10(lr) + 2) + rng.normal(0, 0.005)
        rows.append({"optimizer": opt, "activation": act, "hidden_layer_sizes": sizes,
                     "learning_rate": lr, "val_error": error, "train_error": error - 0.05,
                     "fit_seconds": rng.uniform(1, 2), "epochs": 10})
    params = [{k: r[k] for k in ("optimizer", "activation", "hidden_layer_sizes", "learning_rate")}
              for r in rows]
    return SimpleNamespace(rows=rows, params=params, curves=[[r["val_error"]] for r in rows])


def test_sweep_plot_numeric_parameter(tmp_path, sweep_result):
    fig = plot_sweep(sweep_result, x="learning_rate", hue="optimizer", path=tmp_path / "sweep.png")
    assert_png(tmp_path / "sweep.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "Validation error against learning rate, by optimizer"
    assert ax.get_ylabel().startswith("validation error (%)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "adam"]
    # Each point is the mean over the other parameters, in percent.
    sgd = ax.get_lines()[0].get_ydata()
    expected = np.mean([r["val_error"] for r in sweep_result.rows
                        if r["optimizer"] == "sgd" and r["learning_rate"] == 1e-3]) * 100
    assert sgd[0] == pytest.approx(expected)
    assert_nothing_clipped(fig)
    assert_tick_labels_apart(ax)


def test_sweep_plot_categorical_parameter(sweep_result):
    fig = plot_sweep(sweep_result, x="hidden_layer_sizes", hue="activation")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["(32)", "(32, 32)"]
    assert_tick_labels_apart(ax)
    fig = plot_sweep(sweep_result.rows, x="optimizer", metric="fit_seconds")
    assert fig.axes[0].get_ylabel().startswith("fit time (s)")
    assert fig.axes[0].get_legend() is None


def test_sweep_plot_one_run_per_point_has_no_bars():
    rows = [{"dropout": d, "val_error": e} for d, e in [(0.0, 0.2), (0.2, 0.15), (0.5, 0.18)]]
    fig = plot_sweep(rows, x="dropout")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "validation error (%)"
    assert ax.get_xscale() == "linear"
    assert fig.get_supxlabel() == "best run: validation error = 15% (dropout=0.2)"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"x": "momentum"}, ValueError, "x='momentum' is not in every row"),
    ({"x": "optimizer", "hue": "optimizer"}, ValueError, "another parameter"),
    ({"x": "optimizer", "metric": "val_accuracy"}, ValueError, "metric='val_accuracy'"),
])
def test_sweep_plot_rejects_bad_arguments(sweep_result, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_sweep(sweep_result, **kwargs)


def test_sweep_plot_rejects_other_objects():
    with pytest.raises(TypeError, match="SweepResult"):
        plot_sweep(SimpleNamespace(rows=[]), x="a")
    with pytest.raises(TypeError, match="SweepResult"):
        plot_sweep("results.csv", x="a")
