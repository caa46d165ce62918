"""The variational autoencoder on real digits: its loss, its codes, generation, saving, bad input."""
import numpy as np
import pytest

from nnfast import VAE, load_model
from nnfast.datasets import load_digits_sample


@pytest.fixture(scope="module")
def digits():
    """The bundled digits in [0, 1], split in two halves of 1,000: (X, y) to train and to test."""
    X, y = load_digits_sample(as_float=True, flatten=True)
    return (X[::2], y[::2]), (X[1::2], y[1::2])


def _vae(**kwargs):
    # The course's VAE (784-64 ReLU, a 2-D code, binary cross-entropy, Adam), with a larger
    # step and smaller batches so that 1,000 images train it in a few seconds.
    settings = dict(learning_rate=3e-3, batch_size=32, epochs=15, random_state=0)
    settings.update(kwargs)
    return VAE(**settings)


@pytest.fixture(scope="module")
def trained(digits):
    (X, _), _ = digits
    return _vae().fit(X)


def nearest_centroid_accuracy(train_codes, train_labels, test_codes, test_labels):
    """Accuracy of labelling each test code by the class whose mean training code is nearest."""
    classes = np.unique(train_labels)
    centroids = np.stack([train_codes[train_labels == c].mean(axis=0) for c in classes])
    distances = ((test_codes[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    return float(np.mean(classes[distances.argmin(axis=1)] == test_labels))


def test_the_loss_falls_and_its_parts_add_up(trained):
    h = trained.history_
    assert set(h) == {"loss", "reconstruction", "kl", "lr"}
    assert len(h["loss"]) == trained.n_iter_ == 15
    # Measured with seeds 0 to 2: from 275-284 to 170-171 nats per image.
    assert h["loss"][-1] < 0.7 * h["loss"][0]
    np.testing.assert_allclose(np.add(h["reconstruction"], h["kl"]), h["loss"], rtol=1e-9)
    assert all(k > 0 for k in h["kl"])
    assert trained.loss_curve_ == h["loss"]


def test_latent_means_separate_the_classes_better_than_at_initialisation(digits, trained):
    (X, y), (test, labels) = digits
    # The measure: nearest-centroid accuracy of the test images' 2-D mean codes, with the
    # centroids of the training codes (chance is 0.1).  The same network before training
    # (learning rate 1e-12: its initial weights) scores 0.20 to 0.23 with seeds 0 to 2;
    # trained, 0.45 to 0.50.
    untrained = _vae(epochs=1, learning_rate=1e-12).fit(X)
    before = nearest_centroid_accuracy(untrained.encode(X), y, untrained.encode(test), labels)
    after = nearest_centroid_accuracy(trained.encode(X), y, trained.encode(test), labels)
    assert before < 0.3 and after > 0.4 and after > before + 0.15


def test_scores_are_the_per_sample_loss_in_whole_units(digits, trained):
    (X, _), (test, _) = digits
    scores = trained.score_samples(test)
    assert scores.shape == (len(test),) and scores.dtype == np.float64
    # The network's own evaluation (the code at its mean) is the loss over n_features.
    np.testing.assert_allclose(scores.mean(), 784 * trained.model_.evaluate(test, test),
                               rtol=1e-4)
    mu, log_var = trained.encode(test, return_log_var=True)
    mu, log_var = mu.astype(np.float64), log_var.astype(np.float64)
    kl = 0.5 * np.sum(np.exp(log_var) + mu ** 2 - 1 - log_var, axis=1)
    r = np.clip(trained.decode(mu).astype(np.float64), 1e-12, 1 - 1e-12)
    bce = -np.sum(test * np.log(r) + (1 - test) * np.log(1 - r), axis=1)
    np.testing.assert_allclose(scores, bce + kl, rtol=1e-3)
    assert trained.score(test) == pytest.approx(-scores.mean())


def test_encoder_decoder_and_generation(digits, trained):
    _, (test, _) = digits
    out = trained.encoder_.predict(test)
    mu, log_var = trained.encode(test, return_log_var=True)
    np.testing.assert_array_equal(out, np.hstack([mu, log_var]))
    np.testing.assert_array_equal(trained.transform(test), mu)
    np.testing.assert_allclose(trained.reconstruct(test), trained.decode(mu), atol=1e-6)
    samples = trained.sample(6, random_state=3)
    assert samples.shape == (6, 784) and samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, trained.sample(6, random_state=3))
    z = np.random.default_rng(3).standard_normal((6, 2))
    np.testing.assert_array_equal(samples, trained.decode(z))


def test_the_latent_grid_walks_the_plane_row_by_row(trained):
    images, coordinates = trained.latent_grid(n=5, span=2.0)
    assert images.shape == (25, 784) and coordinates.shape == (25, 2)
    np.testing.assert_array_equal(coordinates[0], [-2, 2])
    np.testing.assert_array_equal(coordinates[4], [2, 2])
    np.testing.assert_array_equal(coordinates[24], [2, -2])
    np.testing.assert_allclose(coordinates[:5, 0], np.linspace(-2, 2, 5))
    np.testing.assert_array_equal(images, trained.decode(coordinates))


def test_beta_weighs_the_kl_term(digits):
    (X, _), _ = digits
    loose = _vae(epochs=3).fit(X[:400])
    tight = _vae(epochs=3, beta=4.0).fit(X[:400])
    assert tight.history_["kl"][-1] < loose.history_["kl"][-1]
    h = tight.history_
    np.testing.assert_allclose(np.add(h["reconstruction"], 4.0 * np.array(h["kl"])), h["loss"],
                               rtol=1e-9)


def test_gaussian_decoder_and_early_stopping(digits):
    (X, _), _ = digits
    vae = _vae(loss="mse", output_activation="identity", hidden_layer_sizes=(32,), latent_dim=4,
               early_stopping=True, epochs=3).fit(X[:400])
    assert set(vae.history_) >= {"val_loss", "val_kl", "val_reconstruction"}
    assert len(vae.validation_scores_) == 3
    assert vae.validation_scores_[-1] == -vae.history_["val_loss"][-1]


@pytest.mark.parametrize("kwargs", [{}, {"loss": "mse", "latent_dim": 3, "beta": 0.5,
                                         "dtype": "float64", "decoder_layer_sizes": (16, 8)}])
def test_saving_and_loading_reproduce_the_outputs(tmp_path, digits, kwargs):
    (X, _), (test, _) = digits
    vae = _vae(epochs=2, hidden_layer_sizes=(16,), **kwargs).fit(X[:200])
    vae.save(tmp_path / "vae.nnf")
    loaded = load_model(tmp_path / "vae.nnf")
    assert type(loaded) is VAE and loaded.get_params() == vae.get_params()
    for method in ("transform", "reconstruct", "score_samples"):
        np.testing.assert_array_equal(getattr(loaded, method)(test), getattr(vae, method)(test))
    np.testing.assert_array_equal(loaded.sample(5, random_state=1), vae.sample(5, random_state=1))
    assert loaded.history_ == vae.history_ and loaded.loss_curve_ == vae.loss_curve_
    # The sampler's stream is saved: training goes on with the same draws.
    vae.partial_fit(X[:200])
    loaded.partial_fit(X[:200])
    np.testing.assert_array_equal(loaded.reconstruct(test), vae.reconstruct(test))
    assert loaded.history_ == vae.history_


@pytest.mark.parametrize("kwargs, X, match", [
    ({"latent_dim": 9}, np.random.default_rng(0).random((20, 6)),
     r"latent_dim=9 is larger than the layer before it \(8 units\)"),
    ({"hidden_layer_sizes": (), "latent_dim": 7}, np.random.default_rng(0).random((20, 6)),
     "larger than the layer before it: X has 6 feature"),
    ({}, np.random.default_rng(0).random((20, 6)) * 2 - 0.5,
     r"X must hold values in \[0, 1\] for loss='binary_cross_entropy'"),
    ({}, np.full((20, 6), np.nan), "NaN or infinite"),
    ({"beta": -1.0}, np.random.default_rng(0).random((20, 6)), "beta must be >= 0"),
    ({"loss": "hinge"}, np.random.default_rng(0).random((20, 6)), "loss must be"),
    ({"output_activation": "softmax"}, np.random.default_rng(0).random((20, 6)),
     "output_activation must be one of"),
])
def test_bad_parameters_and_input_are_refused(kwargs, X, match):
    settings = dict(hidden_layer_sizes=(8,), epochs=1)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=match):
        VAE(**settings).fit(X)


def test_bad_input_to_a_fitted_model_is_refused(digits):
    (X, _), _ = digits
    vae = _vae(epochs=1, latent_dim=3).fit(X[:100])
    with pytest.raises(ValueError, match="X has 10 features, but the model expects 784"):
        vae.encode(X[:5, :10])
    with pytest.raises(ValueError, match="Z has 2 columns, but the codes of this model have "
                                         "latent_dim=3"):
        vae.decode(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="latent_grid walks a 2-D latent plane"):
        vae.latent_grid()
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        vae.score_samples(X[:5] + 1)
    with pytest.raises(ValueError, match="n must be > 0"):
        vae.sample(0)
