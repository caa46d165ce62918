"""The learning-rate range test: what it records, what it suggests, and that it leaves no trace."""
import copy

import numpy as np
import pytest

from nnfast import CNNClassifier, MLPClassifier, MLPRegressor, Perceptron, Sequential
from nnfast.datasets import load_digits_sample
from nnfast.experiments import LRFinderResult, find_learning_rate
from nnfast.layers import Dense, Dropout


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_sample(as_float=True, flatten=True)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1600], order[1600:]
    return X[train], y[train], X[test], y[test]


def _state(net):
    """Everything a range test may touch, copied."""
    opt = net.optimizer
    return {
        "weights": net.get_weights(),
        "optimizer": [[s.copy() for s in slots] for slots in (opt._state or [])],
        "iterations": opt.iterations,
        "learning_rate": opt.learning_rate,
        "rng": copy.deepcopy(net._rng.bit_generator.state),
        "layer_rngs": [copy.deepcopy(layer.random_state()) for layer in net.layers],
    }


def _assert_same_state(before, after):
    assert len(before["weights"]) == len(after["weights"])
    for a, b in zip(before["weights"], after["weights"]):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert len(before["optimizer"]) == len(after["optimizer"])
    for slots_a, slots_b in zip(before["optimizer"], after["optimizer"]):
        for a, b in zip(slots_a, slots_b):
            assert np.array_equal(a, b)
    for key in ("iterations", "learning_rate", "rng", "layer_rngs"):
        assert before[key] == after[key], key


def test_fitted_estimator_is_restored_bit_for_bit(digits):
    X, y, _, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), dropout=0.2, batch_size=64, epochs=2,
                        random_state=0).fit(X[:400], y[:400])
    twin = copy.deepcopy(clf)
    before = _state(clf.model_)
    result = clf.find_learning_rate(X, y, factor=1.1)
    _assert_same_state(before, _state(clf.model_))
    assert result.stop_reason
    # Training on from here is exactly training on from where the twin is.
    clf.partial_fit(X[:400], y[:400])
    twin.partial_fit(X[:400], y[:400])
    for a, b in zip(clf.model_.get_weights(), twin.model_.get_weights()):
        assert np.array_equal(a, b)


def test_unfitted_estimator_stays_unfitted_and_fits_as_before(digits):
    X, y, _, _ = digits
    params = dict(hidden_layer_sizes=(16,), batch_size=64, epochs=2, random_state=3)
    clf = MLPClassifier(**params)
    result = find_learning_rate(clf, X[:512], y[:512], factor=1.2)
    assert not hasattr(clf, "model_") and not hasattr(clf, "classes_")
    fitted = clf.fit(X[:512], y[:512])
    fresh = MLPClassifier(**params).fit(X[:512], y[:512])
    for a, b in zip(fitted.coefs_, fresh.coefs_):
        assert np.array_equal(a, b)
    assert isinstance(result, LRFinderResult)


def test_rates_grow_geometrically_and_losses_are_smoothed(digits):
    X, y, _, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), batch_size=32, random_state=0)
    result = find_learning_rate(clf, X, y, start_lr=1e-5, factor=1.1, smoothing=0.1, max_lr=1e4)
    rates, raw, smooth = result.rates, result.raw_losses, result.losses
    assert rates[0] == pytest.approx(1e-5)
    np.testing.assert_allclose(rates[1:] / rates[:-1], 1.1, rtol=1e-12)
    assert rates.shape == raw.shape == smooth.shape
    # The bias-corrected moving average: the first value is the first loss itself.
    assert smooth[0] == pytest.approx(raw[0])
    average = 0.0
    for i, loss in enumerate(raw):
        average = 0.9 * average + 0.1 * loss
        assert smooth[i] == pytest.approx(average / (1 - 0.9 ** (i + 1)))
    assert result.min_rate == rates[np.argmin(smooth)]
    assert result.suggestion == result.min_rate / 2
    assert rates[0] <= result.steepest <= result.min_rate
    assert "diverged" in result.stop_reason
    assert smooth[-1] > 4 * smooth.min()


def test_max_batches_and_max_lr_end_the_test(digits):
    X, y, _, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), optimizer="sgd", batch_size=100, random_state=0)
    result = find_learning_rate(clf, X, y, max_batches=25)
    assert len(result.rates) == 25 and "max_batches" in result.stop_reason
    result = find_learning_rate(clf, X, y, start_lr=1e-4, max_lr=1e-3, factor=1.5)
    assert result.rates.max() <= 1e-3 and "max_lr" in result.stop_reason


def test_suggested_rate_trains_the_mlp(digits):
    """The bar: 10 epochs of plain SGD at the suggested rate classify at least 90 % of the
    400 held-out digits, where a rate of 1e-4 stays below 50 % in the same epochs."""
    X, y, X_test, y_test = digits
    params = dict(hidden_layer_sizes=(64,), optimizer="sgd", batch_size=32, epochs=10,
                  random_state=0)
    result = MLPClassifier(**params).find_learning_rate(X, y, factor=1.05)
    assert 1e-3 < result.suggestion < 5
    good = MLPClassifier(**params, learning_rate=result.suggestion).fit(X, y)
    assert good.score(X_test, y_test) >= 0.9
    slow = MLPClassifier(**params, learning_rate=1e-4).fit(X, y)
    assert slow.score(X_test, y_test) < 0.5


def test_sequential_is_restored_on_each_backend(digits):
    X, y, _, _ = digits
    for device in ("cpu", "numpy"):
        model = Sequential([Dense(16, activation="relu", input_dim=784), Dropout(0.1),
                            Dense(10, activation="softmax")], device=device, random_state=1)
        model.compile(optimizer="adam", loss="cross_entropy")
        model.fit(X[:256], y[:256], epochs=1, batch_size=64)
        before = _state(model)
        result = find_learning_rate(model, X[:512], y[:512], factor=1.2, batch_size=64)
        _assert_same_state(before, _state(model))
        assert len(result.rates) > 10


def test_regressor_and_cnn(digits):
    rng = np.random.default_rng(0)
    Xr = rng.uniform(-1, 1, size=(400, 3))
    reg = MLPRegressor(hidden_layer_sizes=(16,), batch_size=32, random_state=0)
    result = reg.find_learning_rate(Xr, Xr.sum(axis=1), factor=1.1)
    assert not hasattr(reg, "_y_1d") and result.suggestion > 0
    X, y, _, _ = digits
    cnn = CNNClassifier(architecture="tinyvgg", filters=(4,), batch_size=32, random_state=0)
    result = cnn.find_learning_rate(X[:256].reshape(-1, 28, 28), y[:256], max_batches=20)
    assert len(result.rates) == 20 and not hasattr(cnn, "input_shape_")


def test_bad_settings_and_models_are_refused(digits):
    X, y, _, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(4,))
    for kwargs, message in [({"factor": 1.0}, "factor must be > 1"),
                            ({"max_lr": 1e-8}, "max_lr"),
                            ({"smoothing": 0.0}, "smoothing"),
                            ({"diverge": 0.5}, "diverge"),
                            ({"batch_size": 0}, "batch_size"),
                            ({"max_batches": 2.5}, "max_batches")]:
        with pytest.raises((ValueError, TypeError), match=message):
            find_learning_rate(clf, X, y, **kwargs)
    with pytest.raises(TypeError, match="network estimator"):
        find_learning_rate(Perceptron(), X, y)
    with pytest.raises(ValueError, match="2 classes"):
        find_learning_rate(clf, X[:10], np.zeros(10))
    model = Sequential([Dense(10, activation="softmax", input_dim=784)])
    with pytest.raises(RuntimeError, match="compiled"):
        find_learning_rate(model, X, y)
