"""CNNClassifier: the course's convolutional networks as a scikit-learn estimator."""
import numpy as np
import pytest

import nnfast
from nnfast import CNNClassifier
from nnfast.backend.cpu_network import CpuNetwork
from nnfast.layers import MaxPool2D


def bars(n=240, size=10, seed=0):
    """Grey images holding a horizontal or a vertical bar, with noise: labels 'h' and 'v'."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.2, (n, size, size)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    where = rng.integers(1, size - 1, n)
    for i in range(n):
        if labels[i]:
            X[i, :, where[i]] += 1
        else:
            X[i, where[i], :] += 1
    return X, np.array(["h", "v"])[labels]


@pytest.mark.parametrize("padding, maps", [
    ("same", [(28, 28, 32), (14, 14, 32), (14, 14, 64), (7, 7, 64)]),
    ("valid", [(26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64)]),
])
def test_the_classic_architecture_for_28x28_images(padding, maps):
    kwargs = {} if padding == "same" else {"padding": padding}  # 'same' is the default
    clf = CNNClassifier(epochs=1, random_state=0, **kwargs)
    X = np.random.default_rng(0).random((20, 28, 28)).astype(np.float32)
    clf.partial_fit(X, np.arange(20) % 10, classes=np.arange(10))
    shapes = [(type(layer).__name__, layer.output_shape) for layer in clf.model_.layers]
    assert shapes == [("Conv2D", maps[0]), ("MaxPool2D", maps[1]), ("Conv2D", maps[2]),
                      ("MaxPool2D", maps[3]), ("Flatten", (int(np.prod(maps[3])),)),
                      ("Dense", (128,)), ("Dense", (10,))]
    assert all(layer.padding == padding for layer in clf.model_.layers[::2][:2])
    assert clf.input_shape_ == (28, 28, 1) and clf.n_features_in_ == 784
    assert isinstance(clf.model_._network, CpuNetwork)


def test_tinyvgg_infers_its_flattened_width():
    clf = CNNClassifier(architecture="tinyvgg", epochs=1, random_state=0)
    X = np.random.default_rng(0).random((12, 28, 28, 1)).astype(np.float32)
    clf.fit(X, np.arange(12) % 3)
    layers = clf.model_.layers
    assert [type(layer).__name__ for layer in layers] == [
        "Conv2D", "Conv2D", "MaxPool2D", "Conv2D", "Conv2D", "MaxPool2D", "Flatten", "Dense"]
    assert layers[-2].output_shape == (7 * 7 * 10,)
    assert layers[-1].W.shape == (490, 3)


def test_batch_norm_and_dropout_variants():
    clf = CNNClassifier(batch_norm=True, dropout=0.25, epochs=1, random_state=0)
    X, y = bars(40, size=12)
    clf.fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    assert kinds == ["Conv2D", "BatchNormalization", "Activation", "MaxPool2D",
                     "Conv2D", "BatchNormalization", "Activation", "MaxPool2D", "Dropout",
                     "Flatten", "Dense", "BatchNormalization", "Activation", "Dropout", "Dense"]
    assert not clf.model_.layers[0].use_bias
    assert isinstance(clf.model_._network, CpuNetwork)


@pytest.mark.parametrize("params", [{}, {"architecture": "tinyvgg", "filters": 6},
                                    {"batch_norm": True, "dropout": 0.1}])
def test_learns_bars(params):
    X, y = bars()
    clf = CNNClassifier(filters=params.pop("filters", (6,)), dense_units=16, epochs=15,
                        batch_size=32, learning_rate=0.01, random_state=0, **params)
    clf.fit(X[:180], y[:180])
    assert clf.score(X[180:], y[180:]) >= 0.9
    proba = clf.predict_proba(X[180:])
    assert proba.shape == (60, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_every_input_layout_gives_the_same_model():
    X, y = bars(60, size=8)
    reference = CNNClassifier(filters=(4,), dense_units=8, epochs=2, random_state=0).fit(X, y)
    layouts = {"grey": (X, {}), "flat": (X.reshape(60, 64), {}),
               "channels_last": (X[..., None], {}),
               "channels_first": (X[:, None], {"data_format": "channels_first"}),
               "rows with image_shape": (X.reshape(60, 64), {"image_shape": (8, 8)})}
    for name, (data, params) in layouts.items():
        clf = CNNClassifier(filters=(4,), dense_units=8, epochs=2, random_state=0, **params)
        clf.fit(data, y)
        np.testing.assert_allclose(clf.predict_proba(data), reference.predict_proba(X),
                                   rtol=1e-5, atol=1e-6, err_msg=name)


def test_small_inputs_shrink_kernels_and_windows():
    X = np.random.default_rng(0).random((30, 5)).astype(np.float32)  # one row of 5 pixels
    clf = CNNClassifier(epochs=2, random_state=0).fit(X, np.arange(30) % 2)
    assert clf.input_shape_ == (1, 5, 1)
    conv = clf.model_.layers[0]
    assert conv.kernel_size == (1, 3)
    assert not any(isinstance(layer, MaxPool2D) and layer.pool_size == (1, 1)
                   for layer in clf.model_.layers)


def test_bad_input_is_refused_with_a_clear_message():
    X, y = bars(30, size=8)
    clf = CNNClassifier(filters=(4,), epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"images of shape \(9, 9, 1\).*fitted on images of "
                                         r"shape \(8, 8, 1\)"):
        clf.predict(np.zeros((2, 9, 9)))
    with pytest.raises(ValueError, match=r"X must be a 2, 3 or 4-D array, got 5-D"):
        clf.predict(np.zeros((2, 8, 8, 1, 1)))
    with pytest.raises(ValueError, match=r"looks like images laid out \(n, channels, height, "
                                         r"width\).*data_format='channels_first'"):
        CNNClassifier(epochs=1).fit(np.zeros((4, 3, 16, 16)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"looks like images laid out \(n, height, width, "
                                         r"channels\)"):
        CNNClassifier(epochs=1, data_format="channels_first").fit(np.zeros((4, 16, 16, 3)),
                                                                  [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"rows of 10 values, which are not images of shape "
                                         r"\(3, 3, 1\)"):
        CNNClassifier(epochs=1, image_shape=(3, 3)).fit(np.zeros((4, 10)), [0, 1, 0, 1])
    for params, message in [({"architecture": "resnet"}, "architecture must be one of"),
                            ({"filters": (4, 0)}, "filters must be a positive integer"),
                            ({"kernel_size": 0}, "kernel_size must be a positive integer"),
                            ({"padding": "full"}, r"padding must be one of \('same', 'valid'\)"),
                            ({"dense_units": -1}, "dense_units must be a non-negative"),
                            ({"dropout": 1.0}, "dropout"),
                            ({"data_format": "NCHW"}, "data_format must be one of"),
                            ({"image_shape": (0, 4)}, "image_shape must be")]:
        with pytest.raises(ValueError, match=message):
            CNNClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="NaN|infinity|finite"):
        clf.predict(np.full((2, 8, 8), np.nan))


def test_saving_and_loading_predicts_identically(tmp_path):
    X, y = bars(60, size=8)
    clf = CNNClassifier(filters=(4, 6), kernel_size=2, dense_units=8, batch_norm=True,
                        dropout=0.2, epochs=3, random_state=0).fit(X, y)
    path = tmp_path / "cnn.nnf"
    clf.save(path)
    loaded = nnfast.load_model(path)
    assert isinstance(loaded, CNNClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params() == clf.get_params()
    assert loaded.input_shape_ == (8, 8, 1)
    # Training goes on where it stopped, in both copies alike.
    clf.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("architecture, padding", [("classic", "valid"), ("tinyvgg", "same")])
def test_files_saved_before_padding_existed_load_with_the_padding_they_had(architecture,
                                                                            padding):
    X, y = bars(30, size=8)
    clf = CNNClassifier(architecture=architecture, padding=padding, filters=(3,),
                        dense_units=4, epochs=1, random_state=0).fit(X, y)
    config, arrays = clf._get_state()
    del config["params"]["padding"]
    loaded = CNNClassifier._from_state(config, arrays)
    assert loaded.padding == padding
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_early_stopping_restores_the_best_weights():
    X, y = bars(120, size=8)
    clf = CNNClassifier(filters=(4,), dense_units=8, epochs=40, early_stopping=True, patience=2,
                        learning_rate=0.05, random_state=0).fit(X, y)
    assert clf.n_iter_ < 40 and len(clf.validation_scores_) == clf.n_iter_


def test_the_reference_backend_trains_the_same_model():
    X, y = bars(40, size=8)
    params = dict(filters=(3,), dense_units=6, epochs=2, batch_size=8, dtype="float64",
                  random_state=0)
    cpu = CNNClassifier(**params).fit(X, y)
    ref = CNNClassifier(device="numpy", **params).fit(X, y)
    np.testing.assert_allclose(cpu.loss_curve_, ref.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(cpu.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_pictures_of_filters_and_feature_maps(tmp_path):
    from nnfast.plotting import plot_conv_filters, plot_feature_maps

    X, y = bars(40, size=10)
    clf = CNNClassifier(filters=(5, 3), dense_units=8, epochs=1, random_state=0).fit(X, y)
    fig = plot_conv_filters(clf, path=tmp_path / "filters.png")
    assert (tmp_path / "filters.png").stat().st_size > 0
    assert "5 of 5 filters, 3x3x1" in fig._suptitle.get_text()
    fig = plot_conv_filters(clf.model_, layer=1, n_filters=2)
    assert "2 of 3 filters, 3x3x5" in fig._suptitle.get_text()
    fig = plot_feature_maps(clf, X[0], n_maps=4, path=tmp_path / "maps.png")
    # The input, then both convolutions and both poolings: four maps at most per row.
    assert len(fig.axes) == 1 + 4 + 4 + 3 + 3
    labels = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert labels == ["input", "0: Conv2D (10, 10, 5)", "1: MaxPool2D (5, 5, 5)",
                      "2: Conv2D (5, 5, 3)", "3: MaxPool2D (2, 2, 3)"]
    outputs = clf.model_.layer_outputs(X[:3, :, :, None])
    np.testing.assert_allclose(outputs[-1], clf.predict_proba(X[:3]), rtol=1e-6)
    with pytest.raises(ValueError, match="must be in \\[0, 2\\)"):
        plot_conv_filters(clf, layer=2)
    with pytest.raises(ValueError, match="fitted CNNClassifier or a built Sequential"):
        plot_feature_maps(CNNClassifier(), X[0])


def test_the_cosine_schedule_lowers_the_rate_epoch_by_epoch():
    X, y = bars(60, size=8)
    params = dict(filters=(3,), dense_units=6, epochs=4, batch_size=16, learning_rate=0.01,
                  random_state=0)
    clf = CNNClassifier(**params).fit(X, y)
    rates = clf.history_["lr"]
    expected = [0.0001 + 0.5 * (0.01 - 0.0001) * (1 + np.cos(np.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    clf.partial_fit(X, y)  # later calls train at learning_rate again
    assert clf.model_.optimizer.learning_rate == 0.01
    flat = CNNClassifier(lr_schedule="constant", **params).fit(X, y)
    assert flat.history_["lr"] == [0.01] * 4
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        CNNClassifier(lr_schedule="linear").fit(X, y)
