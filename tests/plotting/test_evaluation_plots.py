"""Decision regions, image grids, hardest samples and regression plots draw headless and check input."""
import numpy as np
import pytest

from nnfast import MLPClassifier, Perceptron
from nnfast.datasets import load_digits_sample
from nnfast.metrics import hardest_samples
from nnfast.plotting import plot_decision_regions, plot_hardest_samples, plot_image_grid, plot_regression

from ._figure_checks import assert_nothing_clipped, assert_png


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 2.5]])
    X = np.vstack([rng.normal(c, 0.8, size=(40, 2)) for c in centres])
    return X, np.repeat(np.array(["left", "right", "top"]), 40)


@pytest.fixture(scope="module")
def digits():
    images, labels = load_digits_sample(as_float=True, flatten=True)
    return images[:60], labels[:60]


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_decision_regions_of_a_probabilistic_classifier(tmp_path, blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(8,), epochs=60, learning_rate=0.02, random_state=0).fit(X, y)
    fig = plot_decision_regions(clf, X, y, resolution=60, path=tmp_path / "regions.png",
                                feature_names=("width (cm)", "height (cm)"))
    assert_png(tmp_path / "regions.png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("width (cm)", "height (cm)")
    texts = _legend_texts(ax)
    assert texts[:3] == ["left", "right", "top"]
    accuracy = np.mean(clf.predict(X) == y)
    assert fig.get_suptitle() == f"Decision regions: {accuracy:.1%} of 120 samples correct"
    if accuracy < 1:
        assert texts[3] == f"misclassified ({round((1 - accuracy) * 120)})"
    background = ax.get_images()[0].get_array()
    assert background.shape == (60, 60, 4)
    # Confidence shades the background: the alpha varies.
    assert np.ptp(background[..., 3]) > 0.1
    assert_nothing_clipped(fig)


def test_decision_regions_of_a_perceptron(tmp_path):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 1])
    model = Perceptron(random_state=0).fit(X, y)
    fig = plot_decision_regions(model, X, y, class_names=["false", "true"], path=tmp_path / "or.png")
    assert_png(tmp_path / "or.png")
    assert _legend_texts(fig.axes[0]) == ["false", "true"]
    assert fig.get_suptitle().startswith("Decision regions: 100.0% of 4")


@pytest.mark.parametrize("X, y, kwargs, match", [
    (np.zeros((5, 3)), np.zeros(5), {}, r"shape \(n_samples, 2\)"),
    (np.zeros((5, 2)), np.zeros(4), {}, r"labels of shape \(5,\)"),
    (np.zeros((5, 2)), np.zeros(5), {"resolution": 3}, "resolution"),
    (np.full((5, 2), np.nan), np.zeros(5), {}, "finite"),
    (np.zeros((5, 2)), np.zeros(5), {"feature_names": ("a",)}, "two features"),
])
def test_decision_regions_reject_bad_input(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_decision_regions(Perceptron(), X, y, **kwargs)


def test_decision_regions_need_a_model():
    with pytest.raises(TypeError, match="predict"):
        plot_decision_regions(object(), np.zeros((3, 2)), np.zeros(3))


def test_image_grid(tmp_path, digits):
    images, labels = digits
    fig = plot_image_grid(images[:10], titles=[f"digit {d}" for d in labels[:10]], n_cols=4,
                          colors=["red"] * 10, title="Ten digits", path=tmp_path / "grid.png")
    assert_png(tmp_path / "grid.png")
    assert len(fig.axes) == 12  # 3 rows of 4, the last two empty
    assert [ax.get_title() for ax in fig.axes[:2]] == [f"digit {labels[0]}", f"digit {labels[1]}"]
    assert not fig.axes[11].get_images()
    assert fig.get_suptitle() == "Ten digits"
    assert_nothing_clipped(fig)


def test_image_grid_shapes_and_ranges():
    rng = np.random.default_rng(0)
    square = plot_image_grid(rng.random((3, 8, 8)))
    assert square.axes[0].get_images()[0].get_clim() == (0.0, 1.0)
    channels = plot_image_grid(rng.random((3, 8, 8, 1)))
    assert channels.axes[0].get_images()[0].get_array().shape == (8, 8)
    rgb = plot_image_grid(rng.random((2, 5, 6, 3)))
    assert rgb.axes[0].get_images()[0].get_array().shape == (5, 6, 3)
    signed = plot_image_grid(rng.normal(size=(2, 12)), image_shape=(3, 4), cmap="RdBu_r")
    lo, hi = signed.axes[0].get_images()[0].get_clim()
    assert lo == -hi and hi > 0
    pixels = rng.integers(5, 255, size=(2, 4, 4))
    counts = plot_image_grid(pixels)
    assert counts.axes[0].get_images()[0].get_clim() == (pixels.min(), pixels.max())


@pytest.mark.parametrize("images, kwargs, match", [
    (np.zeros((2, 10)), {}, "square"),
    (np.zeros((2, 4, 4, 2)), {}, "1, 3 or 4 channels"),
    (np.zeros((0, 4, 4)), {}, "no images"),
    (np.zeros((2, 4, 4)), {"titles": ["a"]}, "titles has 1 entries for 2 images"),
    (np.zeros((2, 4, 4)), {"colors": ["red"] * 3}, "colors has 3"),
    (np.zeros((2, 4, 4)), {"n_cols": 0}, "n_cols"),
    (np.full((2, 4, 4), np.nan), {}, "no finite values"),
])
def test_image_grid_rejects_bad_input(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_image_grid(images, **kwargs)


def test_hardest_samples_plot(tmp_path, digits):
    images, labels = digits
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(60, 10)) + 3 * np.eye(10)[labels]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = [f"digit {k}" for k in range(10)]
    fig = plot_hardest_samples(images, proba, labels, class_names=names, k=8,
                               path=tmp_path / "hard.png")
    assert_png(tmp_path / "hard.png")
    order = hardest_samples(proba, k=8, y_true=labels)
    first = order[0]
    p = proba[first].argmax()
    title = fig.axes[0].get_title()
    assert title.startswith(f"digit {p} {proba[first, p]:.0%}\ntrue: digit {labels[first]}\nH = ")
    wrong = proba[order].argmax(axis=1) != labels[order]
    colours = [ax.title.get_color() for ax in fig.axes[:8]]
    assert [c == "#C0392B" for c in colours] == wrong.tolist()
    assert f"({wrong.sum()} misclassified, in red)" in fig.get_suptitle()
    assert_nothing_clipped(fig)


def test_hardest_samples_plot_with_string_labels(digits):
    images, _ = digits
    proba = np.full((60, 2), 0.5)
    y = np.array(["cat", "dog"] * 30)
    fig = plot_hardest_samples(images, proba, y, classes=["cat", "dog"], k=2)
    # A tie predicts the first class, so the dogs are the mistakes and come first.
    assert fig.axes[0].get_title() == "cat 50%\ntrue: dog\nH = 0.69"


def test_hardest_samples_plot_rejects_bad_input(digits):
    images, labels = digits
    proba = np.full((60, 10), 0.1)
    with pytest.raises(ValueError, match="59 images for 60 rows"):
        plot_hardest_samples(images[:59], proba, labels)
    with pytest.raises(ValueError, match="sum to 1"):
        plot_hardest_samples(images, proba * 2, labels)
    with pytest.raises(ValueError, match="class_names has 2 names for 10"):
        plot_hardest_samples(images, proba, labels, class_names=["a", "b"])


def test_regression_plot(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    pred = y + rng.normal(scale=0.3, size=200)
    fig = plot_regression(y, pred, path=tmp_path / "reg.png")
    assert_png(tmp_path / "reg.png")
    ax = fig.axes[0]
    stats = ax.texts[0].get_text()
    from nnfast.metrics import r2_score

    assert stats.startswith(f"R² = {r2_score(y, pred):.3f}\nMSE = ")
    assert ax.get_xlim() == ax.get_ylim()
    assert_nothing_clipped(fig)
    two = plot_regression(np.column_stack([y, 2 * y]), np.column_stack([pred, 2 * pred]),
                          output_names=["speed (m/s)", "force (N)"])
    assert [a.get_xlabel() for a in two.axes] == ["true speed (m/s)", "true force (N)"]


@pytest.mark.parametrize("y_true, y_pred, kwargs, match", [
    ([1.0, 2.0], [1.0], {}, "different shapes"),
    ([], [], {}, "empty"),
    ([1.0, np.inf], [1.0, 2.0], {}, "finite"),
    ([1.0, 2.0], [1.0, 2.0], {"output_names": ["a", "b"]}, "2 names for 1 outputs"),
])
def test_regression_plot_rejects_bad_input(y_true, y_pred, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_regression(y_true, y_pred, **kwargs)
