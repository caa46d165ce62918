"""Learning curves and the confusion matrix draw headless, mark what they promise and reject bad input."""
import numpy as np
import pytest
from ._figure_checks import assert_nothing_clipped, assert_png, assert_tick_labels_apart

from nnfast import MLPClassifier
from nnfast.callbacks import History
from nnfast.plotting import overfitting_epoch, plot_confusion_matrix, plot_history, plot_learning_curves

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]

OVERFIT = {
    "loss": [1.2, 0.8, 0.6, 0.45, 0.35, 0.28, 0.22, 0.18],
    "val_loss": [1.1, 0.85, 0.7, 0.66, 0.68, 0.72, 0.77, 0.83],
    "accuracy": [0.55, 0.7, 0.78, 0.83, 0.87, 0.9, 0.92, 0.94],
    "val_accuracy": [0.56, 0.68, 0.74, 0.76, 0.76, 0.75, 0.75, 0.74],
    "lr": [0.01] * 8,
}


def _legend_texts(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_overfitting_epoch():
    assert overfitting_epoch(OVERFIT["val_loss"]) == 4
    assert overfitting_epoch([1.0, 0.8, 0.7, 0.6]) is None  # still improving
    assert overfitting_epoch([1.0, 0.8, 0.7, 0.705]) is None  # within noise of the minimum
    assert overfitting_epoch([1.0]) is None
    assert overfitting_epoch([np.nan, 0.5, 0.9]) == 2


def test_learning_curves_mark_the_overfitting_point(tmp_path):
    fig = plot_learning_curves(OVERFIT, path=tmp_path / "lc.png", title="Overfitting")
    assert_png(tmp_path / "lc.png")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy (%)"
    for ax in (loss_ax, acc_ax):
        assert "overfitting from epoch 4" in _legend_texts(ax)
    # Accuracies are drawn in percent.
    assert max(acc_ax.get_lines()[0].get_ydata()) == pytest.approx(94.0)
    assert_nothing_clipped(fig)


def test_learning_curves_without_overfitting_star_the_best_epoch():
    logs = {"loss": [1.0, 0.7, 0.5], "val_loss": [1.1, 0.8, 0.6]}
    fig = plot_learning_curves(logs)
    assert len(fig.axes) == 1
    assert any("lowest validation loss (epoch 3)" in t for t in _legend_texts(fig.axes[0]))
    assert not any("overfitting" in t for t in _legend_texts(fig.axes[0]))


def test_learning_curves_take_every_kind_of_history(tmp_path):
    history = History()
    for epoch, (loss, mae) in enumerate(zip([3.0, 2.0, 1.5], [1.2, 1.0, 0.9])):
        history.on_epoch_end(epoch, {"loss": loss, "mae": mae, "val_loss": loss + 0.2,
                                     "val_mae": mae + 0.1})
    fig = plot_learning_curves(history, metric="mae")
    assert fig.axes[1].get_ylabel() == "mean absolute error"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    clf = MLPClassifier(hidden_layer_sizes=(4,), epochs=4, early_stopping=True,
                        random_state=0).fit(X, X[:, 0] > 0)
    fig = plot_learning_curves(clf, path=tmp_path / "clf.png")
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    arrays = {k: np.asarray(v) for k, v in OVERFIT.items()}
    arrays["stopped"] = "patience"
    assert len(plot_learning_curves(arrays).axes) == 2
    # The RBM's history has no 'loss': its first curve is used.
    fig = plot_learning_curves({"reconstruction_error": [0.1, 0.08], "epoch_time": [1.0, 1.0]})
    assert fig.axes[0].get_ylabel() == "mean squared error per pixel"


def test_learning_curves_reject_bad_input():
    with pytest.raises(ValueError, match="metric 'f1' is not in the history"):
        plot_learning_curves(OVERFIT, metric="f1")
    with pytest.raises(ValueError, match="no training curves"):
        plot_learning_curves({"lr": [0.1], "val_loss": [1.0]})
    with pytest.raises(TypeError, match="History"):
        plot_learning_curves([1.0, 0.5])


def test_plot_history_still_works(tmp_path):
    fig = plot_history(OVERFIT, path=tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    assert len(fig.axes) == 2


@pytest.fixture(scope="module")
def fashion_matrix():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, size=600)
    pred = np.where(rng.random(600) < 0.8, y, rng.integers(0, 10, size=600))
    from nnfast.metrics import confusion_matrix

    return confusion_matrix(y, pred, 10)


@pytest.mark.parametrize("normalize", ["true", "pred", None])
def test_confusion_matrix_heat_map(tmp_path, fashion_matrix, normalize):
    fig = plot_confusion_matrix(fashion_matrix, class_names=FASHION, normalize=normalize,
                                path=tmp_path / "cm.png")
    assert_png(tmp_path / "cm.png")
    ax, colorbar = fig.axes
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    accuracy = np.trace(fashion_matrix) / fashion_matrix.sum()
    assert ax.get_title() == f"Confusion matrix: {accuracy:.1%} correct of 600"
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == np.count_nonzero(fashion_matrix)
    first = f"{fashion_matrix[0, 0]}"
    if normalize == "true":
        first += f"\n{fashion_matrix[0, 0] / fashion_matrix[0].sum():.0%}"
    elif normalize == "pred":
        first += f"\n{fashion_matrix[0, 0] / fashion_matrix[:, 0].sum():.0%}"
    assert cells[0] == first
    assert colorbar.get_ylabel() in ("fraction of the true class", "fraction of the predicted class",
                                     "samples")
    assert_nothing_clipped(fig)
    assert_tick_labels_apart(ax, "y")


def test_confusion_matrix_many_classes_writes_counts_only(fashion_matrix):
    big = np.kron(fashion_matrix, np.eye(2, dtype=np.int64))  # 20 classes
    fig = plot_confusion_matrix(big)
    assert all("\n" not in t.get_text() for t in fig.axes[0].texts)
    assert not plot_confusion_matrix(np.eye(25, dtype=int)).axes[0].texts


@pytest.mark.parametrize("matrix, kwargs, match", [
    (np.ones((2, 3)), {}, "square"),
    ([[1, -1], [0, 2]], {}, "non-negative"),
    (np.eye(2), {"class_names": ["a"]}, "1 names for 2 classes"),
    (np.eye(2), {"normalize": "all"}, "normalize"),
    (np.eye(2), {"annotate": "percent"}, "annotate"),
])
def test_confusion_matrix_rejects_bad_input(matrix, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_confusion_matrix(matrix, **kwargs)
