"""The autoencoder figures draw headless into PNG files and reject arrays of the wrong shape."""
import numpy as np
import pytest

from nnfast.datasets import load_digits_sample
from nnfast.plotting import (
    plot_latent_before_after, plot_latent_grid, plot_latent_scatter,
    plot_reconstruction_error_curve, plot_reconstructions, plot_vae_vs_pca,
)

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


@pytest.fixture(scope="module")
def digits():
    images, labels = load_digits_sample(as_float=True, flatten=True)
    return images[::4], labels[::4]  # 500 images, 50 of each digit


@pytest.fixture(scope="module")
def pca(digits):
    """Centred data, its principal directions and its mean (a stand-in for a model's codes)."""
    x = digits[0].astype(np.float64)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return x - mean, vt, mean


def _written(path):
    assert path.stat().st_size > 1000
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def _legend_texts(fig):
    return [t.get_text() for legend in fig.legends + [a.get_legend() for a in fig.axes]
            if legend is not None for t in legend.get_texts()]


def test_reconstructions(tmp_path, digits, pca):
    centred, vt, mean = pca
    x = digits[0]
    recon = np.clip(centred @ vt[:10].T @ vt[:10] + mean, 0, 1)
    fig = plot_reconstructions(x, recon, n=8, path=tmp_path / "recon.png")
    _written(tmp_path / "recon.png")
    assert len(fig.axes) == 2
    noisy = x * (np.random.default_rng(0).random(x.shape) > 0.3)
    fig = plot_reconstructions(x.reshape(-1, 28, 28), recon, noisy=noisy, n=5,
                               path=tmp_path / "denoise.png", title="Denoising")
    _written(tmp_path / "denoise.png")
    assert len(fig.axes) == 3  # noisy, original, reconstruction
    expected = ((x[:5] - recon[:5]) ** 2).mean(axis=1)
    shown = [float(t.get_text()) for t in fig.axes[-1].texts[1:]]  # after the row label
    np.testing.assert_allclose(shown, expected, atol=6e-4)


def test_reconstructions_reject_mismatched_arrays(digits):
    x = digits[0]
    with pytest.raises(ValueError, match="784 features per image"):
        plot_reconstructions(x, x[:, :100])
    with pytest.raises(ValueError, match="one image per original"):
        plot_reconstructions(x, x[:3])
    with pytest.raises(ValueError, match="noisy must have 784"):
        plot_reconstructions(x, x, noisy=x[:, :10])
    with pytest.raises(ValueError, match=r"shape \(n_images, n_features\)"):
        plot_reconstructions(x.ravel(), x.ravel())
    with pytest.raises(ValueError, match="image_shape"):
        plot_reconstructions(x[:, :90], x[:, :90])
    with pytest.raises(ValueError, match="NaN"):
        plot_reconstructions(x, np.full_like(x, np.nan))
    with pytest.raises(ValueError, match="n must be at least 1"):
        plot_reconstructions(x, x, n=0)


def test_latent_scatter_two_dimensions_and_wider(tmp_path, digits, pca):
    centred, vt, _ = pca
    labels = digits[1]
    fig = plot_latent_scatter(centred @ vt[:2].T, labels, path=tmp_path / "two.png")
    _written(tmp_path / "two.png")
    assert fig.axes[0].get_xlabel() == "$z_1$"
    assert _legend_texts(fig) == [str(d) for d in range(10)]
    fig = plot_latent_scatter(centred @ vt[:20].T, labels, class_names=FASHION,
                              path=tmp_path / "wide.png")
    _written(tmp_path / "wide.png")
    assert "principal component 1" in fig.axes[0].get_xlabel()
    assert _legend_texts(fig) == FASHION
    fig = plot_latent_scatter(centred @ vt[:2].T, None, title=None)
    assert not _legend_texts(fig)


def test_latent_scatter_into_given_axes(tmp_path, digits, pca):
    from matplotlib.figure import Figure

    centred, vt, _ = pca
    fig = Figure(figsize=(9, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    out = plot_latent_scatter(centred @ vt[:2].T, digits[1], ax=right, title="mine",
                              class_names={d: f"digit {d}" for d in range(10)},
                              path=tmp_path / "axes.png")
    assert out is fig
    assert right.get_title() == "mine" and not left.collections
    assert right.get_legend().get_texts()[3].get_text() == "digit 3"
    _written(tmp_path / "axes.png")


def test_latent_scatter_rejects_bad_codes_and_labels(digits):
    codes = np.zeros((len(digits[1]), 2))
    with pytest.raises(ValueError, match="n_dims >= 2"):
        plot_latent_scatter(codes[:, :1], digits[1])
    with pytest.raises(ValueError, match="n_dims >= 2"):
        plot_latent_scatter(codes[:, 0], digits[1])
    with pytest.raises(ValueError, match=r"labels must be of shape \(500,\)"):
        plot_latent_scatter(codes, digits[1][:10])
    with pytest.raises(ValueError, match="no name for the label"):
        plot_latent_scatter(codes, digits[1], class_names=["zero", "one"])


def test_before_after_and_vae_vs_pca(tmp_path, digits, pca):
    centred, vt, _ = pca
    labels = digits[1]
    after = centred @ vt[:2].T
    before = np.random.default_rng(0).normal(size=after.shape)
    fig = plot_latent_before_after(before, after, labels, path=tmp_path / "before_after.png")
    _written(tmp_path / "before_after.png")
    titles = [ax.get_title() for ax in fig.axes]
    accuracy = [float(t.rsplit(" ", 1)[1]) for t in titles]
    assert titles[0].startswith("Before") and titles[1].startswith("After")
    assert accuracy[0] < 0.2 < 0.35 < accuracy[1]  # noise near chance; PCA separates digits
    assert _legend_texts(fig) == [str(d) for d in range(10)]
    fig = plot_vae_vs_pca(after[:, ::-1], after, labels, class_names=FASHION,
                          path=tmp_path / "vae_pca.png")
    _written(tmp_path / "vae_pca.png")
    assert fig.axes[1].get_xlabel() == "principal component 1"
    assert _legend_texts(fig) == FASHION
    fig = plot_latent_before_after(before, after, labels, panel_titles=("Pixels", "Codes"))
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["Pixels", "Codes"]
    with pytest.raises(ValueError, match="two titles"):
        plot_vae_vs_pca(after, after, labels, panel_titles="one")
    with pytest.raises(ValueError, match="same samples"):
        plot_vae_vs_pca(after[:10], after, labels)
    with pytest.raises(ValueError, match="codes_after must be of shape"):
        plot_latent_before_after(before, after[:, :1], labels)


def test_latent_grid(tmp_path, pca):
    _, vt, mean = pca
    n, axis = 5, np.linspace(-2, 2, 5)
    coordinates = np.array([(a, b) for b in axis[::-1] for a in axis])
    images = np.clip(mean + coordinates @ vt[:2] * 3, 0, 1)
    fig = plot_latent_grid(images, n, coordinates=coordinates, path=tmp_path / "grid.png")
    _written(tmp_path / "grid.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$z_1$" and ax.get_ylabel() == "$z_2$"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-2", "-1", "0", "1", "2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2", "1", "0", "-1", "-2"]
    # The other order: z_2 along the rows.
    fig = plot_latent_grid(images, n, coordinates=coordinates[:, ::-1])
    assert fig.axes[0].get_xlabel() == "$z_2$"
    fig = plot_latent_grid(images.reshape(-1, 28, 28), n, path=tmp_path / "plain.png")
    _written(tmp_path / "plain.png")
    assert not fig.axes[0].axison


def test_latent_grid_rejects_wrong_counts(pca):
    images = np.zeros((9, 784))
    with pytest.raises(ValueError, match="n \\* n = 16"):
        plot_latent_grid(images, 4)
    with pytest.raises(ValueError, match="positive integer"):
        plot_latent_grid(images, 3.0)
    with pytest.raises(ValueError, match=r"coordinates must be of shape \(9, 2\)"):
        plot_latent_grid(images, 3, coordinates=np.zeros((8, 2)))


def test_reconstruction_error_curve(tmp_path, digits, pca):
    centred, vt, _ = pca
    x = centred

    def error(k):
        return float(((x @ vt[:k].T @ vt[:k] - x) ** 2).mean())

    pca_errors = {k: error(k) for k in (2, 5, 10, 20, 50, 100)}
    ae_errors = {np.int64(k): 0.8 * error(k) for k in (2, 10, 20)}
    fig = plot_reconstruction_error_curve(pca_errors, ae_errors, path=tmp_path / "curve.png")
    _written(tmp_path / "curve.png")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["PCA"].get_ydata(), list(pca_errors.values()))
    assert list(lines["autoencoder"].get_xdata()) == [2, 10, 20]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_reconstruction_error_curve({}, ae_errors)
    with pytest.raises(ValueError, match="positive integers"):
        plot_reconstruction_error_curve({0.5: 0.1}, ae_errors)
    with pytest.raises(ValueError, match="finite error"):
        plot_reconstruction_error_curve(pca_errors, {2: float("nan")})
