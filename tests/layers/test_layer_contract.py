"""The layer contract: variables and saved state, tied weights, frozen layers, any shape."""
import copy
import pickle

import numpy as np
import pytest

import nnfast
from nnfast.layers import Dense, Dropout, Flatten, Layer, Reshape, VariableSpec, register_layer
from nnfast.optimizers import SGD, Adam, AdamW

BACKENDS = ["cpu", "numpy"]


def numeric_grad(f, param, eps=1e-6):
    """Central differences of the scalar ``f()`` with respect to ``param`` (changed in place)."""
    grad = np.zeros_like(param)
    for idx in np.ndindex(param.shape):
        old = param[idx]
        param[idx] = old + eps
        up = f()
        param[idx] = old - eps
        down = f()
        param[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


@register_layer
class RunningMean(Layer):
    """Passes its input through and keeps a running mean of it, saved but never optimised."""

    def __init__(self, momentum=0.5, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.momentum = momentum

    def variable_specs(self, input_shape):
        return [VariableSpec("moving_mean", input_shape, trainable=False)]

    def forward(self, x, training=False):
        if training:
            mean = self.variable("moving_mean").value
            mean *= self.momentum
            mean += (1 - self.momentum) * x.mean(axis=0)
        return x

    def backward(self, dy, from_logits=False):
        return dy

    def get_config(self):
        return {"momentum": self.momentum, **super().get_config()}


def test_state_is_saved_with_the_model_but_never_optimised(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)) + 3.0, rng.integers(0, 2, 40)
    model = nnfast.Sequential([Dense(6, activation="relu", input_dim=4), RunningMean(),
                               Dense(2, activation="softmax")], random_state=0)
    model.compile(optimizer="adam", loss="cross_entropy")
    summary = model.summary(print_fn=None)
    assert "Non-trainable params: 6" in summary
    model.fit(x, y, epochs=3, batch_size=8)
    mean = model.layers[1].variable("moving_mean")
    assert not mean.trainable and mean.grad is None
    assert np.abs(mean.value).sum() > 0
    assert len(model.optimizer.state_arrays()) == 2 * 4  # two slots for each of the 4 parameters
    assert len(model.get_weights()) == 5
    path = tmp_path / "state.nnf"
    model.save(path)
    loaded = nnfast.load_model(path)
    np.testing.assert_array_equal(loaded.layers[1].variable("moving_mean").value, mean.value)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_state_changed_by_a_diverging_epoch_is_restored():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    model = nnfast.Sequential([RunningMean(input_shape=(3,)), Dense(1)], random_state=0)
    model.compile(optimizer=SGD(0.01), loss="mse")
    model.fit(x, y, epochs=1, batch_size=10)
    saved = model.get_weights()
    model.optimizer.learning_rate = 1e30
    with pytest.warns(RuntimeWarning, match="loss became"):
        model.fit(x * 1e10, y, epochs=1, batch_size=10)
    for w, s in zip(model.get_weights(), saved):
        np.testing.assert_array_equal(w, s)


def tied_autoencoder(backend, dtype="float64", seed=0, bias=True):
    encoder = Dense(3, activation="tanh", input_dim=5, use_bias=bias)
    decoder = Dense(5, activation="sigmoid", tied_to=encoder, use_bias=bias)
    model = nnfast.Sequential([encoder, decoder], device=backend, dtype=dtype, random_state=seed)
    model.compile(optimizer=Adam(0.01), loss="mse")
    return model


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bias", [True, False])
def test_tied_weights_collect_both_gradients(backend, bias):
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(7, 5))
    model = tied_autoencoder(backend, bias=bias)
    model.build(5)
    encoder, decoder = model.layers
    assert np.shares_memory(decoder.W, encoder.W) and decoder.W.shape == (3, 5)
    assert [v.name for v in decoder.variables] == (["bias"] if bias else [])
    _, grads = model.compute_gradients(x, x)
    params = model.params
    assert len(grads) == len(params) == (3 if bias else 1)
    for param, grad in zip(params, grads):
        np.testing.assert_allclose(grad, numeric_grad(lambda: model.evaluate(x, x), param),
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tied_weights_keep_one_optimizer_state_and_survive_saving(backend, tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(64, 5))
    model = tied_autoencoder(backend)
    history = model.fit(x, x, epochs=30, batch_size=16)
    assert history.history["loss"][-1] < history.history["loss"][0]
    encoder, decoder = model.layers
    assert np.shares_memory(decoder.W, encoder.W)
    assert sorted(model.optimizer.state_arrays()) == ["0/m", "0/v", "1/m", "1/v", "2/m", "2/v"]
    path = tmp_path / "tied.nnf"
    model.save(path)
    with nnfast.use_backend(backend):
        loaded = nnfast.load_model(path)
    assert loaded.layers[1].tied_to is loaded.layers[0]
    assert np.shares_memory(loaded.layers[1].W, loaded.layers[0].W)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    model.fit(x, x, epochs=1, batch_size=64, shuffle=False)
    loaded.fit(x, x, epochs=1, batch_size=64, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_tied_layers_are_checked():
    encoder = Dense(3, input_dim=5)
    with pytest.raises(ValueError, match="must map 3 -> 5"):
        nnfast.Sequential([encoder, Dense(4, tied_to=encoder)]).build(5)
    with pytest.raises(ValueError, match="after the layer it is tied to"):
        other = Dense(5)
        nnfast.Sequential([Dense(3, input_dim=5, tied_to=other), other]).build(5)
    with pytest.raises(TypeError, match="tied_to must be a Dense layer"):
        Dense(3, tied_to=Dropout(0.1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_frozen_layers_keep_their_weights_and_can_be_unfrozen(backend):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    model = nnfast.Sequential([Dense(8, activation="relu", input_dim=4), Dense(6, activation="tanh"),
                               Dense(3, activation="softmax")], device=backend, random_state=0)
    model.compile(optimizer="adam", loss="cross_entropy")
    model.layers[0].trainable = False
    model.layers[2].trainable = False
    assert "Trainable params: 54" in model.summary(print_fn=None)
    before = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=10)
    after = model.get_weights()
    for i in (0, 1, 4, 5):
        np.testing.assert_array_equal(after[i], before[i])
    assert not np.array_equal(after[2], before[2])
    assert len(model.optimizer.state_arrays()) == 2 * 2
    opt = model.optimizer
    middle = dict(zip(map(id, opt._params), opt._state))[id(model.layers[1].W)]
    m_before = middle[0].copy()
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, batch_size=60, shuffle=False)
    assert not np.array_equal(model.get_weights()[0], before[0])
    assert len(opt.state_arrays()) == 2 * 4
    # The middle layer's moments went on from where they were.
    assert dict(zip(map(id, opt._params), opt._state))[id(model.layers[1].W)] is middle
    assert not np.array_equal(middle[0], m_before) and np.abs(m_before).sum() > 0
    np.testing.assert_array_equal(model.get_weights()[4], before[4])


@pytest.mark.parametrize("backend", BACKENDS)
def test_frozen_layer_gradients_are_not_computed_but_pass_through(backend):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    model = nnfast.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(5, activation="sigmoid"),
                               Dense(2)], device=backend, dtype="float64", random_state=0)
    model.compile(optimizer="sgd", loss="mse")
    model.layers[1].trainable = False
    _, grads = model.compute_gradients(x, y)
    trained = [model.layers[0].W, model.layers[0].b, model.layers[2].W, model.layers[2].b]
    assert len(grads) == 4
    for param, grad in zip(trained, grads):
        np.testing.assert_allclose(grad, numeric_grad(lambda: model.evaluate(x, y), param),
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_of_any_shape(backend):
    """A model whose output is (n, 3, 4): classes along the last axis, or values to regress."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(9, 5))
    labels = rng.integers(0, 4, size=(9, 3))
    model = nnfast.Sequential([Dense(12, input_dim=5), Reshape((3, 4))], device=backend,
                              dtype="float64", random_state=0)
    model.compile(optimizer="sgd", loss="cross_entropy", metrics=["accuracy"])
    assert model.predict(x).shape == (9, 3, 4)
    loss, grads = model.compute_gradients(x, labels)
    logits = model.predict(x).reshape(-1, 4)
    expected = np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(27), labels.ravel()])
    assert loss == pytest.approx(expected)
    np.testing.assert_allclose(grads[0], numeric_grad(lambda: model.evaluate(x, labels)[0],
                                                      model.layers[0].W), rtol=1e-6, atol=1e-9)
    acc = model.evaluate(x, labels)[1]
    assert acc == pytest.approx(np.mean(model.predict(x).argmax(-1) == labels))
    one_hot = np.eye(4)[labels]
    assert model.evaluate(x, one_hot)[0] == pytest.approx(expected)

    targets = rng.normal(size=(9, 3, 4))
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    loss, grads = model.compute_gradients(x, targets)
    assert loss == pytest.approx(np.mean((model.predict(x) - targets) ** 2))
    np.testing.assert_allclose(grads[0], numeric_grad(lambda: model.evaluate(x, targets)[0],
                                                      model.layers[0].W), rtol=1e-6, atol=1e-9)
    model.fit(x, targets.reshape(9, 12), epochs=1)  # flat targets are reshaped
    with pytest.raises(ValueError, match=r"\(n_samples, 3, 4\)"):
        model.fit(x, targets[:, :2], epochs=1)


def test_reshape_and_flatten():
    layer = Reshape((-1, 2))
    assert layer.compute_output_shape((3, 4)) == (6, 2)
    with pytest.raises(ValueError, match="cannot reshape"):
        Reshape((5,)).compute_output_shape((3, 4))
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))
    model = nnfast.Sequential([Flatten(input_shape=(2, 3)), Dense(6), Reshape((3, 2))], random_state=0)
    x = np.arange(24.0).reshape(4, 2, 3)
    assert model.predict(x).shape == (4, 3, 2)
    assert "(None, 3, 2)" in model.summary(print_fn=None)


def test_summary_builds_a_model_whose_input_is_declared():
    model = nnfast.Sequential([Dense(300, activation="relu", input_dim=784), Dense(10)])
    assert not model.built
    assert "Total params: 238,510" in model.summary(print_fn=None)
    assert model.built
    with pytest.raises(RuntimeError, match="not built"):
        nnfast.Sequential([Dense(3)]).summary(print_fn=None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_buffers_are_sized_for_the_largest_batch(backend):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(45, 4)), rng.integers(0, 2, 45)
    model = nnfast.Sequential([Dense(5, activation="tanh", input_dim=4), Dropout(0.2),
                               Dense(2, activation="softmax")], device=backend, random_state=0)
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=20, validation_split=0.2)  # batches of 20, 16; validation 9
    model.predict(x)  # 45 rows, layer by layer
    first = dict(model.layers[0]._buffers)
    network = model._network
    if backend == "cpu":
        assert network is not None and network._net.capacity == 20
    else:
        assert network is None
    model.fit(x, y, epochs=2, batch_size=20, validation_split=0.2)
    model.predict(x[:3])
    assert first and all(model.layers[0]._buffers[k] is buf for k, buf in first.items())
    assert model._network is network
    if network is not None:
        assert network._net.capacity == 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_adamw_decays_weights_apart_from_the_gradient(backend):
    ops = nnfast.get_ops(backend)
    w = np.array([1.0, -2.0, 0.5])
    b = np.array([1.0])
    opt = AdamW(learning_rate=0.1, weight_decay=0.2)
    opt.build(ops, [w, b])
    opt.step([w, b], [np.zeros(3), np.zeros(1)], [True, False])
    np.testing.assert_allclose(w, [1.0 * 0.98, -2.0 * 0.98, 0.5 * 0.98])
    np.testing.assert_array_equal(b, [1.0])
    g = np.array([0.3, -0.1, 0.0])
    w2 = np.array([1.0, -2.0, 0.5])
    adam = Adam(learning_rate=0.1)
    adam.build(ops, [w2])
    adam.step([w2], [g], [True])
    w3 = np.array([1.0, -2.0, 0.5])
    adamw = AdamW(learning_rate=0.1, weight_decay=0.2)
    adamw.build(ops, [w3])
    adamw.step([w3], [g], [True])
    # Adam's step on the decayed weights: the decay never enters the moments.
    np.testing.assert_allclose(w3, w2 - 0.1 * 0.2 * np.array([1.0, -2.0, 0.5]), rtol=1e-12)


def test_adamw_trains_and_saves(tmp_path):
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(50, 3)), rng.integers(0, 2, 50)
    model = nnfast.Sequential([Dense(4, activation="relu", input_dim=3), Dense(2, activation="softmax")],
                              random_state=0)
    model.compile(optimizer="adamw", loss="cross_entropy")
    model.fit(x, y, epochs=2, batch_size=10)
    model.save(tmp_path / "adamw.nnf")
    loaded = nnfast.load_model(tmp_path / "adamw.nnf")
    assert type(loaded.optimizer) is AdamW and loaded.optimizer.weight_decay == 0.01


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
                         ids=["deepcopy", "pickle"])
def test_copies_predict_identically_and_train_on_the_compiled_path(copier):
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(80, 6)).astype(np.float32), rng.integers(0, 3, 80)
    clf = nnfast.MLPClassifier(hidden_layer_sizes=(16, 8), epochs=2, batch_size=16,
                               random_state=0).fit(x, y)
    twin = copier(clf)
    np.testing.assert_array_equal(twin.predict_proba(x), clf.predict_proba(x))
    twin.partial_fit(x, y)
    clf.partial_fit(x, y)
    np.testing.assert_array_equal(twin.predict_proba(x), clf.predict_proba(x))
    assert twin.model_._network is not None and twin.model_._network is not clf.model_._network
