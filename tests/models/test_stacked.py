"""Greedy stacked autoencoders, and classifiers made of trained encoder layers."""
import numpy as np
import pytest

from nnfast import Autoencoder, NotFittedError, Sequential, StackedAutoencoder, load_model
from nnfast.datasets import load_digits_sample
from nnfast.layers import Dense
from nnfast.models import classifier_from_encoders


@pytest.fixture(scope="module")
def digits():
    """The bundled digits in [0, 1], split in two halves of 1,000: (X, y) to train and to test."""
    X, y = load_digits_sample(as_float=True, flatten=True)
    return (X[::2], y[::2]), (X[1::2], y[1::2])


@pytest.fixture(scope="module")
def stacked(digits):
    (X, _), _ = digits
    return StackedAutoencoder(hidden_layer_sizes=(64, 32), epochs=10, learning_rate=1e-2,
                              batch_size=32, random_state=0).fit(X)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_each_stage_is_trained_on_the_codes_of_the_one_before(digits, stacked):
    (X, _), (test, _) = digits
    first, second = stacked.autoencoders_
    assert (first.n_features_in_, first.latent_dim) == (784, 64)
    assert (second.n_features_in_, second.latent_dim) == (64, 32)
    assert [layer.units for layer in stacked.encoder_layers_] == [64, 32]
    assert stacked.encoder_layers_[0] is first.encoder_.layers[0]
    # Later stages reconstruct sigmoid codes with a sigmoid; the first, the data.
    assert second.model_.layers[-1].activation == "sigmoid"
    codes = second.transform(first.transform(test))
    np.testing.assert_allclose(stacked.transform(test), codes, atol=1e-6)
    by_hand = test.astype(np.float64)
    for layer in stacked.encoder_layers_:
        by_hand = _sigmoid(by_hand @ layer.W + layer.b)
    np.testing.assert_allclose(stacked.transform(test), by_hand, atol=1e-5)
    back = first.decode(second.decode(codes))
    np.testing.assert_allclose(stacked.reconstruct(test), back, atol=1e-6)
    # Every stage learned: its loss fell, and the data comes back closer than the mean image.
    assert all(h["loss"][-1] < 0.7 * h["loss"][0] for h in stacked.histories_)
    assert np.mean((stacked.reconstruct(test) - test) ** 2) < np.mean((X.mean(0) - test) ** 2)


def test_transferred_classifier_reaches_a_stated_accuracy(digits, stacked):
    (X, y), (test, labels) = digits
    # Measured with seeds 0 to 3 (the stack's and the classifier's): fine-tuned 0.881 to
    # 0.892, the head alone over the frozen codes 0.68 to 0.72; over a frozen encoder that
    # was never trained, the head alone stays near chance (0.09 to 0.13).
    tuned = stacked.to_classifier(10, random_state=0, learning_rate=3e-3)
    tuned.fit(X, y, epochs=10, batch_size=32)
    assert tuned.evaluate(test, labels)[1] > 0.80
    frozen = stacked.to_classifier(10, freeze=True, random_state=0, learning_rate=1e-2)
    frozen.fit(X, y, epochs=10, batch_size=32)
    assert frozen.evaluate(test, labels)[1] > 0.55
    assert (frozen.predict(test).argmax(axis=1) == labels).mean() > 0.55


def test_freezing_trains_only_the_head_and_copies_leave_the_stack_alone(digits, stacked):
    (X, y), _ = digits
    originals = [layer.W.copy() for layer in stacked.encoder_layers_]
    frozen = stacked.to_classifier(10, freeze=True, hidden_layer_sizes=(16,), random_state=1)
    assert [(l.units, l.trainable) for l in frozen.layers] == [
        (64, False), (32, False), (16, True), (10, True)]
    for copy, layer in zip(frozen.layers, stacked.encoder_layers_):
        assert copy is not layer
        np.testing.assert_array_equal(copy.W, layer.W)
        np.testing.assert_array_equal(copy.b, layer.b)
        assert copy.activation == layer.activation
    head = frozen.layers[2].W.copy()
    frozen.fit(X[:200], y[:200], epochs=1, batch_size=50)
    for copy, w in zip(frozen.layers[:2], originals):
        np.testing.assert_array_equal(copy.W, w)
    assert not np.array_equal(frozen.layers[2].W, head)
    tuned = stacked.to_classifier(10, random_state=1)
    tuned.fit(X[:200], y[:200], epochs=1, batch_size=50)
    assert not np.array_equal(tuned.layers[0].W, originals[0])
    for layer, w in zip(stacked.encoder_layers_, originals):
        np.testing.assert_array_equal(layer.W, w)


def test_one_classifier_from_the_encoders_of_three_autoencoders(digits):
    (X, y), (test, labels) = digits
    # The course's chain, narrower: each autoencoder learns the codes of the one before.
    settings = dict(activation="sigmoid", epochs=2, learning_rate=1e-2, batch_size=50,
                    random_state=0)
    first = Autoencoder(hidden_layer_sizes=(64,), latent_dim=32, **settings).fit(X)
    codes = first.transform(X)
    second = Autoencoder(hidden_layer_sizes=(32,), latent_dim=16, output_activation="sigmoid",
                         **settings).fit(codes)
    codes = second.transform(codes)
    third = Autoencoder(hidden_layer_sizes=(16,), latent_dim=8, **settings).fit(codes)
    clf = classifier_from_encoders([first, second, third], 10, random_state=0)
    assert [layer.units for layer in clf.layers] == [64, 32, 32, 16, 16, 8, 10]
    transferred = clf.layer_outputs(test)[5]  # the output of the last transferred layer
    np.testing.assert_allclose(
        transferred, third.transform(second.transform(first.transform(test))), atol=1e-5)
    clf.fit(X, y, epochs=3, batch_size=32)
    assert clf.predict(test).shape == (len(test), 10)


def test_sequential_and_dense_layers_can_be_transferred():
    rng = np.random.default_rng(0)
    net = Sequential([Dense(6, activation="tanh", input_dim=4), Dense(3, activation="relu")],
                     random_state=0)
    net.build(4)
    extra = Sequential([Dense(2, activation="sigmoid", input_dim=3)], random_state=1)
    extra.build(3)
    clf = classifier_from_encoders([net, extra.layers[0]], 2, dtype="float64")
    X = rng.random((5, 4))
    np.testing.assert_allclose(clf.layer_outputs(X)[2], extra.predict(net.predict(X)), atol=1e-6)
    assert clf.dtype == np.float64


def test_saved_classifier_and_stack_reproduce_their_outputs(tmp_path, digits, stacked):
    (X, y), (test, _) = digits
    clf = stacked.to_classifier(10, freeze=True, random_state=0)
    clf.fit(X[:200], y[:200], epochs=1, batch_size=50)
    clf.save(tmp_path / "clf.nnf")
    again = load_model(tmp_path / "clf.nnf")
    np.testing.assert_array_equal(again.predict(test), clf.predict(test))
    assert [l.trainable for l in again.layers] == [l.trainable for l in clf.layers]
    stacked.save(tmp_path / "sae.nnf")
    loaded = load_model(tmp_path / "sae.nnf")
    assert loaded.get_params() == stacked.get_params()
    np.testing.assert_array_equal(loaded.transform(test), stacked.transform(test))
    np.testing.assert_array_equal(loaded.reconstruct(test), stacked.reconstruct(test))
    assert loaded.histories_ == stacked.histories_
    np.testing.assert_array_equal(loaded.to_classifier(10, random_state=0).predict(test),
                                  stacked.to_classifier(10, random_state=0).predict(test))
    unfitted = StackedAutoencoder(hidden_layer_sizes=(5, 2))
    unfitted.save(tmp_path / "unfitted.nnf")
    assert not hasattr(load_model(tmp_path / "unfitted.nnf"), "autoencoders_")


def test_denoising_stages_may_widen_the_code(digits):
    (X, _), (test, _) = digits
    X, test = X[:, ::16], test[:, ::16]  # 49 pixels: the first code is wider
    sae = StackedAutoencoder(hidden_layer_sizes=(64, 16), noise=0.3, epochs=2, batch_size=50,
                             random_state=0).fit(X)
    for stage in sae.autoencoders_:
        assert type(stage.model_.layers[0]).__name__ == "MaskingNoise"
        assert stage.noise == 0.3
    # The noise acts in training only: the codes are those of the Dense layers.
    by_hand = test.astype(np.float64)
    for layer in sae.encoder_layers_:
        by_hand = _sigmoid(by_hand @ layer.W + layer.b)
    np.testing.assert_allclose(sae.transform(test), by_hand, atol=1e-5)
    with pytest.raises(ValueError, match="unless noise corrupts"):
        StackedAutoencoder(hidden_layer_sizes=(64, 16), epochs=1).fit(X)


@pytest.mark.parametrize("kwargs, X, match", [
    ({"hidden_layer_sizes": (8, 4)}, np.random.default_rng(0).random((20, 6)),
     r"hidden_layer_sizes\[0\]=8 is larger than the layer before it \(X has 6 feature"),
    ({"hidden_layer_sizes": (4, 5)}, np.random.default_rng(0).random((20, 6)),
     r"hidden_layer_sizes\[1\]=5 is larger than the layer before it \(the code before it has 4"),
    ({"hidden_layer_sizes": ()}, np.random.default_rng(0).random((20, 6)), "at least one size"),
    ({"loss": "bce", "activation": "relu"}, np.random.default_rng(0).random((20, 6)),
     "activation must be 'sigmoid'"),
    ({"loss": "bce"}, np.random.default_rng(0).random((20, 6)) * 3, r"values in \[0, 1\]"),
    ({}, np.full((20, 6), np.inf), "NaN or infinite"),
    ({"random_state": -1}, np.random.default_rng(0).random((20, 6)), "random_state"),
])
def test_bad_parameters_and_input_are_refused(kwargs, X, match):
    settings = dict(hidden_layer_sizes=(4, 2), epochs=1)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=match):
        StackedAutoencoder(**settings).fit(X)


def test_bad_transfers_are_refused(digits, stacked):
    (X, _), _ = digits
    other = Autoencoder(hidden_layer_sizes=(), latent_dim=8, epochs=1).fit(X[:50])
    with pytest.raises(ValueError, match="do not chain: a layer of 32 units is followed by one "
                                         "taking 784 inputs"):
        classifier_from_encoders([stacked, other], 10)
    with pytest.raises(TypeError, match="list of encoders"):
        classifier_from_encoders(stacked, 10)
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        stacked.to_classifier(1)
    with pytest.raises(NotFittedError):
        classifier_from_encoders([Autoencoder()], 10)
    with pytest.raises(TypeError, match="must be a fitted Autoencoder"):
        classifier_from_encoders([np.eye(3)], 10)
    with pytest.raises(NotFittedError):
        StackedAutoencoder().to_classifier(10)
    with pytest.raises(ValueError, match="X has 783 features"):
        stacked.transform(X[:, 1:])
