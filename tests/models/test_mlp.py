"""MLPClassifier and MLPRegressor: the scikit-learn conventions and bad input."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnfast
from nnfast import MLPClassifier, MLPRegressor, NotFittedError, _simd
from nnfast.datasets import xyz_regression


def blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0], [4, 4], [0, 4]])
    labels = rng.integers(0, 3, n)
    return centers[labels] + rng.normal(size=(n, 2)), labels


def test_classifier_with_string_labels_and_probabilities():
    X, labels = blobs()
    names = np.array(["cat", "dog", "eel"])[labels]
    clf = MLPClassifier(hidden_layer_sizes=(16,), epochs=60, batch_size=32, learning_rate=0.01,
                        random_state=0).fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "eel"]
    assert clf.score(X, names) > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert np.array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))
    assert len(clf.coefs_) == 2 and clf.coefs_[0].shape == (2, 16) and clf.intercepts_[1].shape == (3,)
    assert clf.n_iter_ == len(clf.loss_curve_) and clf.n_features_in_ == 2


def test_classifier_stops_when_training_loss_stalls():
    X, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(8,), epochs=500, patience=3, tol=1e-2, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500


def test_early_stopping_uses_a_validation_split():
    X, y = blobs(400)
    noisy = np.where(np.random.default_rng(1).uniform(size=400) < 0.15, (y + 1) % 3, y)
    clf = MLPClassifier(hidden_layer_sizes=(32,), epochs=300, early_stopping=True, patience=5,
                        validation_fraction=0.2, learning_rate=0.01, random_state=0).fit(X, noisy)
    assert clf.n_iter_ < 300
    assert len(clf.validation_scores_) == clf.n_iter_
    # The best epoch's weights are restored, and they still fit the clean labels.
    assert clf.score(X, y) > 0.9


def test_partial_fit_needs_classes_then_learns():
    X, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    for _ in range(30):
        clf.partial_fit(X[:150], y[:150], classes=[0, 1, 2])
        clf.partial_fit(X[150:], y[150:])
    assert clf.score(X, y) > 0.9
    assert clf.n_iter_ == 60
    with pytest.raises(ValueError, match="not seen in fit"):
        clf.partial_fit(X[:3], [0, 1, 7])


@pytest.fixture
def non_fused_update_kernels():
    """The optimizer kernels of an instruction set that does not fuse multiply-adds.

    The AVX-512 Adam kernel fuses them in its vector loop but not in its
    scalar fallback, which it takes when small arrays lie within one vector
    of each other: where the allocator put a bias and its moments can change
    the last bit of a float32 update (see
    ``test_adam_does_not_depend_on_where_the_arrays_lie`` in
    tests/backend/test_dense_ops.py).  Baseline and AVX2 kernels compute the
    same bits wherever the arrays lie.
    """
    _simd.select_simd_kernels(1)
    try:
        yield
    finally:
        _simd.select_simd_kernels()


def _one_epoch_both_ways(cls, dtype, optimizer, n=130, batch=40):
    """``fit`` for one epoch, and ``partial_fit`` on consecutive chunks of ``batch`` rows."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, 5))
    if cls is MLPClassifier:
        # The first chunk holds no "eel": the classes come from ``classes=``.
        y = np.array(["ant", "bee", "eel"])[np.where(np.arange(n) < batch, np.arange(n) % 2,
                                                     rng.integers(0, 3, n))]
    else:
        y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])
    params = dict(hidden_layer_sizes=(16, 8), activation="tanh", optimizer=optimizer,
                  learning_rate=0.01, batch_size=batch, shuffle=False, random_state=3, epochs=1,
                  dtype=dtype)
    whole = cls(**params).fit(X, y)
    chunks = cls(**params)
    for start in range(0, n, batch):
        first = {"classes": ["eel", "bee", "ant"]} if cls is MLPClassifier and start == 0 else {}
        chunks.partial_fit(X[start:start + batch], y[start:start + batch], **first)
    assert chunks.model_.optimizer.iterations == whole.model_.optimizer.iterations == -(-n // batch)
    return whole, chunks


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_partial_fit_over_all_batches_equals_one_fit_epoch(non_fused_update_kernels, cls, dtype,
                                                          optimizer):
    whole, chunks = _one_epoch_both_ways(cls, dtype, optimizer)
    for a, b in zip(whole.coefs_ + whole.intercepts_, chunks.coefs_ + chunks.intercepts_):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)
    if cls is MLPClassifier:
        assert chunks.classes_.tolist() == whole.classes_.tolist() == ["ant", "bee", "eel"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_partial_fit_over_all_batches_is_one_fit_epoch_with_the_default_kernels(cls, dtype):
    whole, chunks = _one_epoch_both_ways(cls, dtype, "adam")
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(whole.coefs_ + whole.intercepts_, chunks.coefs_ + chunks.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(a).max())


def test_regressor_learns_xyz_and_handles_multiple_outputs():
    X, y = xyz_regression(2000, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(64, 64), activation="tanh", learning_rate=0.005, batch_size=32,
                       epochs=40, random_state=0).fit(X, y)
    X_test, y_test = xyz_regression(500, random_state=1)
    assert reg.predict(X_test).shape == (500,)
    assert np.mean((reg.predict(X_test) - y_test) ** 2) < 0.03
    assert reg.score(X_test, y_test) > 0.99
    two = MLPRegressor(hidden_layer_sizes=(16,), epochs=5, random_state=0).fit(X, np.c_[y, -y])
    assert two.predict(X).shape == (2000, 2) and two.n_outputs_ == 2


def test_get_params_set_params_and_repr():
    clf = MLPClassifier(hidden_layer_sizes=(5, 3), dropout=0.1)
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (5, 3) and params["dropout"] == 0.1
    assert set(params) >= {"activation", "optimizer", "learning_rate", "batch_size", "epochs", "weight_decay",
                           "early_stopping", "validation_fraction", "random_state"}
    clf.set_params(learning_rate=0.1, epochs=3)
    assert clf.learning_rate == 0.1
    with pytest.raises(ValueError, match="Invalid parameter"):
        clf.set_params(alpha=1)
    assert "dropout=0.1" in repr(clf) and "epochs=3" in repr(clf)


@pytest.mark.parametrize("est", [MLPClassifier, MLPRegressor])
def test_save_load_round_trip_predicts_identically(tmp_path, est):
    X, y = blobs()
    target = np.array(["a", "b", "c"])[y] if est is MLPClassifier else X[:, 0] * 2.0
    model = est(hidden_layer_sizes=(6,), epochs=5, random_state=0).fit(X, target)
    model.save(tmp_path / "m.nnf")
    loaded = nnfast.load_model(tmp_path / "m.nnf")
    assert type(loaded) is est and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if est is MLPClassifier:
        assert loaded.classes_.tolist() == ["a", "b", "c"]
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_bad_input_gets_clear_errors():
    X, y = blobs(50)
    clf = MLPClassifier(epochs=2)
    with pytest.raises(NotFittedError, match="not fitted"):
        clf.predict(X)
    with pytest.raises(ValueError, match="2-D"):
        clf.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="different numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(50))
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(np.where(X > 3, np.nan, X), y)
    with pytest.raises(ValueError, match="at least 1 sample"):
        clf.fit(np.zeros((0, 2)), [])
    with pytest.raises(TypeError, match="numbers"):
        clf.fit(np.array([["a", "b"]] * 50), y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="expects 2"):
        clf.predict(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        MLPClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(dropout=1.5).fit(X, y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_validators_only_accept_finite_2d_input(X):
    """Whatever arrives, fit either trains or raises ValueError/TypeError before compiled code runs."""
    reg = MLPRegressor(hidden_layer_sizes=(2,), epochs=1, batch_size=4)
    y = np.zeros(X.shape[0] if X.ndim else 0)
    ok_shape = X.ndim == 2 and X.shape[0] >= 1 and X.shape[1] >= 1
    if ok_shape and np.isfinite(X).all() and np.abs(X).max(initial=0) < 1e30:
        reg.fit(X, y)
        assert reg.predict(X).shape == (X.shape[0],)
    elif not ok_shape or not np.isfinite(X).all():
        with pytest.raises((ValueError, TypeError)):
            reg.fit(X, y)


def test_scikit_learn_clone_and_grid_search():
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is optional; this checks compatibility")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    X, y = blobs(150)
    est = MLPClassifier(hidden_layer_sizes=(4,), epochs=5)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est
    search = GridSearchCV(MLPClassifier(epochs=20, random_state=0),
                          {"hidden_layer_sizes": [(4,), (8,)], "learning_rate": [0.01]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.8 and sklearn.__version__


def test_values_beyond_float32_are_named():
    with pytest.raises(ValueError, match="too large for float32"):
        MLPRegressor(epochs=1).fit(np.array([[1e300, 1.0], [0.0, 1.0]]), [0.0, 1.0])
    # float64 models take them as they are.
    MLPRegressor(hidden_layer_sizes=(2,), epochs=1, dtype="float64").fit(np.array([[1e30, 1.0], [0.0, 1.0]]), [0, 1])
