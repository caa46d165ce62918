"""The autoencoder: reconstruction of real digits, tied weights, shared encoder and decoder, saving, bad input."""
import numpy as np
import pytest

from nnfast import Autoencoder, NotFittedError, load_model
from nnfast.datasets import load_digits_sample


@pytest.fixture(scope="module")
def digits():
    """The bundled digits in [0, 1]: (train, test) halves of 1,000 images each."""
    X, _ = load_digits_sample(as_float=True, flatten=True)
    return X[::2], X[1::2]


def _small(**kwargs):
    settings = dict(hidden_layer_sizes=(64,), latent_dim=16, learning_rate=3e-3, batch_size=32,
                    epochs=10, random_state=0)
    settings.update(kwargs)
    return Autoencoder(**settings)


def _mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - b) ** 2))


def test_reconstruction_error_of_held_out_digits_falls_below_a_threshold(digits):
    train, test = digits
    # Predicting every image by the mean training image scores 0.068; PCA with 16
    # components 0.028.  Measured for this model with seeds 0 to 4: 0.032 to 0.034,
    # so the threshold 0.040 leaves 19% of room above the worst of them.
    ae = _small().fit(train)
    baseline = _mse(train.mean(axis=0), test)
    error = _mse(ae.reconstruct(test), test)
    assert error < 0.040 < 0.6 * baseline
    np.testing.assert_allclose(ae.score_samples(test).mean(), error, rtol=1e-5)
    assert ae.score(test) == pytest.approx(-error, rel=1e-5)
    assert ae.loss_curve_[-1] < 0.6 * ae.loss_curve_[0]
    assert ae.n_iter_ == 10 and len(ae.history_["loss"]) == 10


def test_the_default_network_is_the_course_deep_autoencoder(digits):
    ae = Autoencoder(epochs=1, random_state=0).fit(digits[0][:128])
    units = [layer.units for layer in ae.model_.layers]
    assert units == [128, 64, 12, 20, 12, 64, 128, 784]
    assert [layer.activation for layer in ae.model_.layers] == ["relu"] * 7 + ["sigmoid"]
    assert ae.model_.loss.name == "mean_squared_error"
    assert type(ae.model_.optimizer).__name__ == "Adam"
    assert ae.transform(digits[1][:5]).shape == (5, 20)


def test_encoder_and_decoder_share_the_trained_layers(digits):
    train, test = digits
    ae = _small(epochs=2).fit(train)
    assert ae.encoder_.layers == ae.model_.layers[:2]
    assert ae.decoder_.layers == ae.model_.layers[2:]
    codes = ae.encoder_.predict(test)
    np.testing.assert_array_equal(codes, ae.transform(test))
    np.testing.assert_array_equal(ae.decoder_.predict(codes), ae.decode(codes))
    np.testing.assert_allclose(ae.decode(codes), ae.reconstruct(test), atol=1e-6)
    # Training the autoencoder moves what the encoder computes: the layers are the same objects.
    ae.partial_fit(train)
    assert not np.array_equal(ae.encoder_.predict(test), codes)
    np.testing.assert_array_equal(ae.encoder_.predict(test), ae.transform(test))


def test_tied_decoder_layers_use_the_transposed_encoder_weights(digits):
    train, test = digits
    ae = _small(hidden_layer_sizes=(32,), latent_dim=8, tied_weights=True, epochs=3).fit(train)
    layers = ae.model_.layers
    assert [l.tied_to for l in layers[2:]] == [layers[1], layers[0]]
    for decoder_layer, encoder_layer in zip(layers[2:], layers[1::-1]):
        np.testing.assert_array_equal(decoder_layer.W, encoder_layer.W.T)
    untied = _small(hidden_layer_sizes=(32,), latent_dim=8, epochs=3).fit(train)
    # The decoder holds only biases: 784 + 32 values instead of two more weight matrices.
    assert (untied.model_.count_params() - ae.model_.count_params()
            == 784 * 32 + 32 * 8)
    by_hand = test.astype(np.float64)
    for layer in layers:
        z = by_hand @ layer.W + layer.b
        by_hand = np.maximum(z, 0) if layer.activation == "relu" else 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(ae.reconstruct(test), by_hand, atol=1e-5)


def test_binary_cross_entropy_scores_from_the_logits(digits):
    train, test = digits
    ae = _small(loss="binary_cross_entropy", epochs=2).fit(train)
    errors = ae.score_samples(test)
    assert errors.shape == (len(test),) and errors.dtype == np.float64
    # The model's own loss is the mean of the per-sample errors.
    np.testing.assert_allclose(errors.mean(), ae.model_.evaluate(test, test), rtol=1e-4)
    r = np.clip(ae.reconstruct(test).astype(np.float64), 1e-12, 1 - 1e-12)
    by_hand = -np.mean(test * np.log(r) + (1 - test) * np.log(1 - r), axis=1)
    np.testing.assert_allclose(errors, by_hand, rtol=1e-3)


def _masked(X, rate, seed=1):
    return X * (np.random.default_rng(seed).random(X.shape) >= rate)


def test_denoising_autoencoder_restores_clean_digits_better_than_the_identity(digits):
    train, test = digits
    noisy = _masked(test, 0.5)
    # Half the pixels set to 0: the noisy images themselves are 0.057 from the clean ones.
    # Measured with seeds 0 to 4: the denoising model's reconstructions 0.035 to 0.038, a
    # plain model's 0.040 to 0.041; 0.75 of the identity's error (0.043) leaves 14% of room.
    dae = _small(noise=0.5).fit(train)
    plain = _small().fit(train)
    identity = _mse(noisy, test)
    denoised = _mse(dae.reconstruct(noisy), test)
    assert denoised < 0.75 * identity
    assert denoised < _mse(plain.reconstruct(noisy), test)
    # The noise is a training-time layer only: predictions are deterministic, and the
    # encoder starts at the first Dense layer.
    assert type(dae.model_.layers[0]).__name__ == "MaskingNoise"
    assert dae.encoder_.layers[0] is dae.model_.layers[1]
    np.testing.assert_array_equal(dae.reconstruct(noisy), dae.reconstruct(noisy))


def test_gaussian_noise_corrupts_the_input_in_training_only(digits):
    train, test = digits
    dae = _small(noise=0.3, noise_type="gaussian", epochs=3).fit(train)
    assert type(dae.model_.layers[0]).__name__ == "GaussianNoise"
    np.testing.assert_array_equal(dae.model_.predict(test),
                                  dae.decoder_.predict(dae.encoder_.predict(test)))
    noisy = test + np.random.default_rng(2).normal(0, 0.3, test.shape)
    # The identity scores 0.090; after 3 epochs the model 0.050 to 0.053 (seeds 0 to 4).
    assert _mse(dae.reconstruct(noisy), test) < 0.7 * _mse(noisy, test)


def test_l1_sparsity_shrinks_the_codes_and_is_reported_apart(digits):
    train, test = digits
    # Measured with seeds 0 and 1: the codes' L1 norm 3.0 with the penalty, 62 without.
    sparse = _small(sparsity=1e-3).fit(train)
    plain = _small().fit(train)
    l1 = np.abs(sparse.transform(test)).sum(axis=1).mean()
    assert l1 < 0.25 * np.abs(plain.transform(test)).sum(axis=1).mean()
    assert len(sparse.history_["sparsity"]) == sparse.n_iter_
    assert "sparsity" not in plain.history_
    # The objective is the reconstruction error plus the weighted penalty.
    logs = sparse.model_.evaluate(test, test, return_dict=True)
    np.testing.assert_allclose(logs["sparsity"], 1e-3 * l1, rtol=1e-4)
    np.testing.assert_allclose(logs["loss"], sparse.score_samples(test).mean() + logs["sparsity"],
                               rtol=1e-4)


def test_kl_sparsity_pulls_each_code_unit_to_the_target_rate(digits):
    train, test = digits
    # Measured with seeds 0 and 1: every unit's mean activation within 0.001 of 0.05;
    # without the penalty they spread from 0.03 to 0.98.
    sparse = _small(activation="sigmoid", sparsity=0.1, sparsity_type="kl").fit(train)
    means = sparse.transform(test).mean(axis=0)
    np.testing.assert_allclose(means, 0.05, atol=0.01)
    assert sparse.history_["sparsity"][-1] < 0.01 * sparse.history_["sparsity"][0]


def test_partial_fit_over_the_batches_equals_fit(digits):
    X = digits[0][:96]
    settings = dict(batch_size=len(X), epochs=1, shuffle=False)
    whole = _small(**settings).fit(X)
    parts = _small(**settings).partial_fit(X)
    np.testing.assert_array_equal(parts.reconstruct(X), whole.reconstruct(X))
    parts.partial_fit(X)
    assert parts.n_iter_ == 2 and len(parts.loss_curve_) == 2


def test_frozen_layers_keep_their_weights(digits):
    train, _ = digits
    ae = _small(epochs=1).fit(train)
    first = ae.model_.layers[0]
    first.trainable = False
    before = first.W.copy()
    others = [layer.W.copy() for layer in ae.model_.layers[1:]]
    ae.partial_fit(train)
    np.testing.assert_array_equal(first.W, before)
    assert all(not np.array_equal(layer.W, w) for layer, w in zip(ae.model_.layers[1:], others))


def test_early_stopping_holds_out_validation_data(digits):
    ae = _small(early_stopping=True, epochs=3).fit(digits[0])
    assert len(ae.history_["val_loss"]) == ae.n_iter_ == 3
    assert len(ae.validation_scores_) == 3


@pytest.mark.parametrize("kwargs", [
    {}, {"tied_weights": True, "hidden_layer_sizes": (24, 12), "latent_dim": 6},
    {"loss": "binary_cross_entropy", "decoder_layer_sizes": (40, 20)},
    {"dtype": "float64", "output_activation": "identity", "activation": "tanh"},
    {"noise": 0.3, "sparsity": 1e-4, "tied_weights": True},
    {"noise": 0.2, "noise_type": "gaussian", "activation": "sigmoid", "sparsity": 0.1,
     "sparsity_type": "kl"},
])
def test_saving_and_loading_reproduce_the_outputs(tmp_path, digits, kwargs):
    train, test = digits
    ae = _small(epochs=2, **kwargs).fit(train[:200])
    path = tmp_path / "ae.nnf"
    ae.save(path)
    loaded = load_model(path)
    assert type(loaded) is Autoencoder and loaded.get_params() == ae.get_params()
    for method in ("transform", "reconstruct", "score_samples"):
        np.testing.assert_array_equal(getattr(loaded, method)(test), getattr(ae, method)(test))
    codes = ae.transform(test[:10])
    np.testing.assert_array_equal(loaded.decode(codes), ae.decode(codes))
    np.testing.assert_array_equal(loaded.encoder_.predict(test), ae.encoder_.predict(test))
    assert loaded.history_ == ae.history_ and loaded.loss_curve_ == ae.loss_curve_
    # Training goes on from the same weights, optimizer state and random streams.
    ae.partial_fit(train[:200])
    loaded.partial_fit(train[:200])
    np.testing.assert_array_equal(loaded.reconstruct(test), ae.reconstruct(test))


def test_an_unfitted_model_refuses_to_transform():
    with pytest.raises(NotFittedError):
        Autoencoder().transform(np.zeros((2, 4)))


@pytest.mark.parametrize("kwargs, X, match", [
    ({}, np.full((10, 4), np.nan), "NaN or infinite"),
    ({}, np.ones((10, 4, 2)), "2-D array"),
    ({"loss": "binary_cross_entropy"}, np.linspace(-1, 2, 40).reshape(10, 4),
     r"X must hold values in \[0, 1\] for loss='binary_cross_entropy'.*from -1 to 2"),
    ({"latent_dim": 5}, np.random.default_rng(0).random((10, 4)),
     "latent_dim=5 is larger than the input: X has 4 feature"),
    ({"noise": 1.0}, np.random.default_rng(0).random((10, 4)), r"must be in \[0, 1\)"),
    ({"noise": -0.1}, np.random.default_rng(0).random((10, 4)), "noise must be >= 0"),
    ({"loss": "cross_entropy"}, np.random.default_rng(0).random((10, 4)), "loss must be 'mse'"),
    ({"loss": "bce", "output_activation": "tanh"}, np.random.default_rng(0).random((10, 4)),
     "output_activation='sigmoid'"),
    ({"tied_weights": True, "decoder_layer_sizes": (2,)}, np.random.default_rng(0).random((10, 4)),
     "decoder to mirror the encoder"),
    ({"hidden_layer_sizes": (4, 0)}, np.random.default_rng(0).random((10, 4)), "positive integers"),
    ({"noise_type": "salt"}, np.random.default_rng(0).random((10, 4)), "noise_type"),
    ({"sparsity": 0.1, "sparsity_type": "kl", "activation": "relu"},
     np.random.default_rng(0).random((10, 4)), "needs activation='sigmoid'"),
    ({"sparsity_target": 1.0}, np.random.default_rng(0).random((10, 4)), "sparsity_target"),
])
def test_bad_parameters_and_input_are_refused(kwargs, X, match):
    settings = dict(hidden_layer_sizes=(3,), latent_dim=2, epochs=1)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Autoencoder(**settings).fit(X)


def test_bad_input_to_a_fitted_model_is_refused(digits):
    train, test = digits
    ae = _small(loss="binary_cross_entropy", epochs=1).fit(train[:100])
    with pytest.raises(ValueError, match="X has 783 features, but the model expects 784"):
        ae.transform(test[:, 1:])
    with pytest.raises(ValueError, match="Z has 15 columns, but the codes of this model have "
                                         "latent_dim=16"):
        ae.decode(np.zeros((3, 15)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        ae.decode(np.full((3, 16), np.inf))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        ae.score_samples(test * 2)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        ae.partial_fit(test - 0.5)
