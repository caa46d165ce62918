"""Image layers (Conv2D, pooling, batch normalisation) inside models.

The ops themselves are tested against plain loops in ``tests/backend``;
here: shapes and their errors, gradients through a whole small CNN by finite
differences, the compiled network against layer-by-layer training and the
reference backend, the other image layout, and saving.
"""
import numpy as np
import pytest

import nnfast
from nnfast.backend.cpu_network import CpuNetwork
from nnfast.layers import (
    Activation, AvgPool2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
    GlobalAveragePooling2D, MaxPool2D,
)
from nnfast.optimizers import SGD, Adam

IMAGE = (9, 8, 2)
N_OUT = 3


def every_layer():
    """A small CNN that holds every image layer."""
    return [Conv2D(4, 3, padding="same", activation="tanh"), BatchNormalization(momentum=0.9),
            Conv2D(5, (3, 2), strides=2, activation="relu"), MaxPool2D(2, strides=1),
            Dropout(0.2, seed=3), AvgPool2D((2, 1)), Conv2D(6, 1, use_bias=False),
            BatchNormalization(), Activation("relu"), GlobalAveragePooling2D(),
            Dense(7, activation="tanh"), BatchNormalization(), Dense(N_OUT, activation="softmax")]


def classic():
    return [Conv2D(4, 3, activation="relu"), MaxPool2D(2), Conv2D(6, 2, activation="relu"),
            MaxPool2D(2, strides=1), Flatten(), Dense(8, activation="relu"),
            Dense(N_OUT, activation="softmax")]


def grey():
    return [Conv2D(3, 3, strides=(2, 1), padding=1, activation="sigmoid"), MaxPool2D(3, strides=2),
            Flatten(), Dense(N_OUT, activation="softmax")]


MODELS = {"every-layer": (every_layer, IMAGE), "classic": (classic, IMAGE),
          "grey": (grey, IMAGE[:2])}


def data(shape, n=23, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + shape), rng.integers(0, N_OUT, n)


def model(name, device="cpu", dtype="float64", optimizer=None, seed=0):
    make_layers, shape = MODELS[name]
    m = nnfast.Sequential(make_layers(), device=device, dtype=dtype, random_state=seed)
    m.compile(optimizer=optimizer or Adam(learning_rate=0.01), loss="cross_entropy")
    m.build(shape)
    m._prepare_training()
    return m


def layer_by_layer(m):
    m._make_network = lambda: None
    m._network = m._network_key = None
    return m


@pytest.mark.parametrize("name", MODELS)
def test_image_models_train_through_the_compiled_network(name):
    assert isinstance(model(name)._network, CpuNetwork)
    assert isinstance(model(name, dtype="float32")._network, CpuNetwork)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", MODELS)
def test_compiled_training_equals_layer_by_layer_training(name, dtype):
    x, y = data(MODELS[name][1])
    compiled, plain = model(name, dtype=dtype), layer_by_layer(model(name, dtype=dtype))
    h1 = compiled.fit(x, y, epochs=2, batch_size=8, validation_split=0.2)
    h2 = plain.fit(x, y, epochs=2, batch_size=8, validation_split=0.2)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h1.history[key], h2.history[key], **tol)
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, **tol)
    np.testing.assert_allclose(compiled.predict(x), plain.predict(x), **tol)


@pytest.mark.parametrize("name", ["classic", "grey"])
def test_compiled_training_agrees_with_the_reference_backend(name):
    x, y = data(MODELS[name][1])
    compiled, ref = model(name), model(name, device="numpy")
    h1 = compiled.fit(x, y, epochs=2, batch_size=8)
    h2 = ref.fit(x, y, epochs=2, batch_size=8)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-9)
    for a, b in zip(compiled.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("device", ["cpu", "numpy"])
@pytest.mark.parametrize("name", MODELS)
def test_gradients_through_a_cnn_match_finite_differences(name, device):
    x, y = data(MODELS[name][1], n=6, seed=1)
    m = model(name, device=device, optimizer=SGD(learning_rate=0.1))
    rng = np.random.default_rng(2)
    # Random biases and batch-norm shifts keep pre-activations off ReLU's kink
    # and the pooling windows free of ties.
    m.set_weights([w if w.ndim > 1 else rng.normal(scale=0.3, size=w.shape)
                   for w in m.get_weights()])
    for layer in m.layers:
        if isinstance(layer, BatchNormalization):
            layer.gamma[...] = rng.uniform(0.5, 1.5, layer.gamma.shape)

    def loss_and_gradients():
        for layer in m.layers:  # the same dropout masks for every evaluation
            if isinstance(layer, Dropout):
                layer._draws[0] = 0
        return m.compute_gradients(x, y)

    loss, grads = loss_and_gradients()
    grads = [g.copy() for g in grads]
    eps = 1e-6
    for param, grad in zip(m.params, grads):
        for flat in rng.choice(param.size, size=min(6, param.size), replace=False):
            saved = param.flat[flat]
            shifted = []
            for sign in (1, -1):
                param.flat[flat] = saved + sign * eps
                shifted.append(loss_and_gradients()[0])
            param.flat[flat] = saved
            numeric = (shifted[0] - shifted[1]) / (2 * eps)
            assert grad.flat[flat] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_batch_norm_keeps_moving_statistics_and_uses_them_at_inference(tmp_path):
    x, y = data(IMAGE, n=40)
    m = model("every-layer")
    bn = m.layers[1]
    assert np.all(bn.moving_mean == 0) and np.all(bn.moving_variance == 1)
    m.fit(x, y, epochs=2, batch_size=10)
    assert not np.allclose(bn.moving_mean, 0) and not np.allclose(bn.moving_variance, 1)
    # Inference normalises with the moving statistics: one sample alone gives
    # what it gives within a batch.
    np.testing.assert_allclose(m.predict(x[:1]), m.predict(x)[:1], rtol=1e-12)
    path = tmp_path / "cnn.nnf"
    m.save(path)
    loaded = nnfast.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    np.testing.assert_array_equal(loaded.layers[1].moving_variance, bn.moving_variance)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in m.layers]


def test_a_frozen_batch_norm_uses_its_moving_statistics_in_training():
    x, y = data(IMAGE, n=24)
    m = model("every-layer")
    m.fit(x, y, epochs=1, batch_size=8)
    bn = m.layers[1]
    bn.trainable = False
    before = [bn.moving_mean.copy(), bn.moving_variance.copy(), bn.gamma.copy()]
    compiled = m.fit(x, y, epochs=1, batch_size=8, shuffle=False).history["loss"]
    for a, b in zip(before, [bn.moving_mean, bn.moving_variance, bn.gamma]):
        np.testing.assert_array_equal(a, b)
    # Layer by layer it trains the same way.
    m2 = layer_by_layer(model("every-layer"))
    m2.fit(x, y, epochs=1, batch_size=8)
    m2.layers[1].trainable = False
    plain = m2.fit(x, y, epochs=1, batch_size=8, shuffle=False).history["loss"]
    np.testing.assert_allclose(compiled, plain, rtol=1e-9)


def test_channels_first_layers_compute_what_channels_last_ones_do():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5,) + IMAGE)

    def net(fmt):
        return nnfast.Sequential(
            [Conv2D(3, 3, padding="same", activation="relu", data_format=fmt),
             MaxPool2D(2, data_format=fmt), AvgPool2D(2, strides=1, data_format=fmt),
             GlobalAveragePooling2D(data_format=fmt), Dense(N_OUT, activation="softmax")],
            dtype="float64", random_state=0)

    last, first = net("channels_last"), net("channels_first")
    y = rng.integers(0, N_OUT, 5)
    for m in (last, first):
        m.compile(optimizer=SGD(learning_rate=0.1), loss="cross_entropy")
    xf = x.transpose(0, 3, 1, 2).copy()
    last.build(IMAGE)
    first.build(xf.shape[1:])
    assert first.layers[0].output_shape == (3, 9, 8) and last.layers[0].output_shape == (9, 8, 3)
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first.predict(xf), last.predict(x), rtol=1e-12)
    last.fit(x, y, epochs=2, batch_size=5)
    first.fit(xf, y, epochs=2, batch_size=5)
    for a, b in zip(first.get_weights(), last.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_output_shapes_and_parameter_counts():
    m = nnfast.Sequential([Conv2D(32, 3, activation="relu", input_shape=(28, 28)), MaxPool2D(2),
                           Conv2D(64, 3, activation="relu"), MaxPool2D(2), Flatten(),
                           Dense(128, activation="relu"), Dense(10, activation="softmax")])
    text = m.summary(print_fn=None)
    shapes = [layer.output_shape for layer in m.layers]
    assert shapes == [(26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64), (1600,), (128,), (10,)]
    assert [layer.count_params() for layer in m.layers] == [320, 0, 18496, 0, 0, 204928, 1290]
    assert "(None, 5, 5, 64)" in text and "18,496" in text and "Total params: 225,034" in text
    bn = nnfast.Sequential([Conv2D(8, 3, use_bias=False, input_shape=(6, 6, 1)),
                            BatchNormalization()])
    assert "Non-trainable params: 16" in bn.summary(print_fn=None)
    same = Conv2D(5, 4, strides=3, padding="same")
    assert same.compute_output_shape((10, 7, 2)) == (4, 3, 5)
    assert same.pads == (1, 2, 1, 2)
    assert Conv2D(2, 3, padding=(1, 0)).compute_output_shape((5, 5, 1)) == (5, 3, 2)


@pytest.mark.parametrize("make, shape, message", [
    (lambda: Conv2D(4, 5), (4, 9, 1), r"kernel 5x5 is larger than the padded input 4x9"),
    (lambda: Conv2D(4, 5, padding=1), (2, 9, 1), r"larger than the padded input 4x11"),
    (lambda: MaxPool2D(3), (2, 9, 4), r"window 3x3 is larger than the input 2x9"),
    (lambda: Conv2D(4, 3), (9, 9, 1, 1), r"takes images of shape \(height, width, channels\)"),
    (lambda: AvgPool2D(2), (16,), r"takes images of shape"),
])
def test_shapes_that_do_not_fit_are_refused(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make().compute_output_shape(shape)


@pytest.mark.parametrize("make, message", [
    (lambda: Conv2D(0, 3), "filters must be a positive integer"),
    (lambda: Conv2D(4, 0), "kernel_size must be a positive integer"),
    (lambda: Conv2D(4, 3, strides=0), "strides must be a positive integer"),
    (lambda: Conv2D(4, 3, strides=(1, -2)), "strides must be a positive integer"),
    (lambda: Conv2D(4, 3, padding="full"), "padding must be 'valid', 'same'"),
    (lambda: Conv2D(4, 3, padding=-1), "padding must be"),
    (lambda: Conv2D(4, 3, activation="softmax"), "put an Activation layer after it"),
    (lambda: Conv2D(4, 3, data_format="NCHW"), "data_format must be one of"),
    (lambda: MaxPool2D(0), "pool_size must be a positive integer"),
    (lambda: AvgPool2D(2, strides=-1), "strides must be a positive integer"),
    (lambda: BatchNormalization(momentum=1.0), r"momentum must be a number in \[0, 1\)"),
    (lambda: BatchNormalization(epsilon=0), "epsilon must be a positive number"),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_images_of_the_wrong_size_are_refused_before_any_kernel_runs():
    m = model("classic")
    with pytest.raises(ValueError, match=r"shape"):
        m.predict(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match=r"shape"):
        m.fit(np.zeros((2, 9, 8, 3)), [0, 1])
