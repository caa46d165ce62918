"""The compiled network: a whole model's training step in one call per batch (``Ops.network``).

On the CPU every model whose layers all have a compiled node (dense layers of
any activation, with or without bias, frozen or tied; activation layers;
dropout; reshapes) trains through one compiled call per batch.  It must give
what the layers, the loss and the optimizer give one call at a time, and
agree with the reference numpy backend.
"""
import copy
import pickle

import numpy as np
import pytest

import nnfast
from nnfast.backend.cpu_network import CpuNetwork
from nnfast.layers import Activation, Dense, Dropout, Flatten, Layer, Reshape
from nnfast.optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop

N_FEATURES, N_OUT = 13, 3


def relu_mlp():
    return [Dense(7, activation="relu"), Dense(5, activation="relu"),
            Dense(N_OUT, activation="softmax")]


def tied():
    encoder = Dense(6, activation="tanh")
    return [Dense(9, activation="sigmoid"), encoder, Dropout(0.2, seed=1),
            Dense(9, activation="relu", tied_to=encoder), Dense(N_OUT, activation="softmax")]


def frozen():
    layers = [Dense(7, activation="relu"), Dense(5, activation="tanh"),
              Dense(N_OUT, activation="softmax")]
    layers[1].trainable = False
    return layers


def frozen_bottom():
    layers = relu_mlp()
    layers[0].trainable = False
    return layers


# (layers, loss, target kind)
CONFIGS = {
    "relu-softmax-xent": (relu_mlp, "cross_entropy", "labels"),
    "tanh-onehot": (lambda: [Dense(8, activation="tanh"), Dense(N_OUT, activation="softmax")],
                    "cross_entropy", "onehot"),
    "dropout": (lambda: [Dense(8, activation="relu"), Dropout(0.3, seed=0), Dense(6, activation="tanh"),
                         Dropout(0.1), Dense(N_OUT, activation="softmax")], "cross_entropy", "labels"),
    "no-bias-logits": (lambda: [Dense(8, activation="sigmoid", use_bias=False),
                                Dense(N_OUT, use_bias=False)], "cross_entropy", "labels"),
    "hidden-softmax": (lambda: [Dense(6, activation="softmax"), Dense(N_OUT, activation="sigmoid")],
                       "binary_cross_entropy", "binary"),
    "activation-layers": (lambda: [Dense(8), Activation("tanh"), Dense(N_OUT), Activation("softmax")],
                          "cross_entropy", "labels"),
    "mse-linear": (lambda: [Dense(8, activation="sigmoid"), Dense(N_OUT)], "mean_squared_error", "real"),
    "frozen-middle": (frozen, "cross_entropy", "labels"),
    "frozen-bottom": (frozen_bottom, "cross_entropy", "labels"),
    "tied": (tied, "cross_entropy", "labels"),
    "single-layer": (lambda: [Dense(N_OUT, activation="softmax")], "cross_entropy", "labels"),
    "reshaped-classes": (lambda: [Dense(8, activation="relu"), Dense(2 * N_OUT), Reshape((2, N_OUT))],
                         "cross_entropy", "labels2"),
    "flatten-images": (lambda: [Reshape((1, N_FEATURES)), Flatten(), Dense(6, activation="relu"),
                                Dense(N_OUT, activation="sigmoid")], "mean_squared_error", "binary"),
}


def data(kind, n=61, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    if kind == "labels":
        y = rng.integers(0, N_OUT, n)
    elif kind == "labels2":
        y = rng.integers(0, N_OUT, (n, 2))
    elif kind == "onehot":
        y = np.eye(N_OUT)[rng.integers(0, N_OUT, n)]
    elif kind == "binary":
        y = (rng.random((n, N_OUT)) < 0.4).astype(float)
    else:
        y = rng.normal(size=(n, N_OUT))
    return x, y


def model(name, device="cpu", dtype="float64", optimizer=None, seed=0):
    make_layers, loss, _ = CONFIGS[name]
    m = nnfast.Sequential(make_layers(), device=device, dtype=dtype, random_state=seed)
    m.compile(optimizer=optimizer or Adam(learning_rate=0.01), loss=loss)
    m.build(N_FEATURES)
    m._prepare_training()
    return m


def layer_by_layer(m):
    """The same model with its compiled network switched off."""
    m._make_network = lambda: None
    m._network = m._network_key = None
    return m


def close(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-11, atol=1e-13)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    yield request.param
    nnfast.set_num_threads(previous)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_kind_of_model_gets_a_compiled_network(name):
    assert isinstance(model(name)._network, CpuNetwork)
    assert isinstance(model(name, dtype="float32")._network, CpuNetwork)
    assert model(name, device="numpy")._network is None


def test_a_layer_without_a_compiled_form_makes_the_model_train_layer_by_layer():
    class Scale(Layer):
        def forward(self, x, training=False):
            return x * 2.0

        def backward(self, dy, from_logits=False):
            return dy * 2.0

    m = nnfast.Sequential([Dense(5, activation="relu"), Scale(), Dense(N_OUT, activation="softmax")],
                          random_state=0)
    m.compile(optimizer="adam", loss="cross_entropy")
    x, y = data("labels")
    assert np.isfinite(m.fit(x, y, epochs=1, batch_size=16).history["loss"][0])
    assert m._network is None


@pytest.mark.parametrize("batch_size", [1, 16, None], ids=["online", "batches", "full"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", CONFIGS)
def test_compiled_training_equals_layer_by_layer_training(name, dtype, batch_size, threads):
    x, y = data(CONFIGS[name][2])
    compiled, plain = model(name, dtype=dtype), layer_by_layer(model(name, dtype=dtype))
    h1 = compiled.fit(x, y, epochs=2, batch_size=batch_size, validation_split=0.2)
    h2 = plain.fit(x, y, epochs=2, batch_size=batch_size, validation_split=0.2)
    assert isinstance(compiled._network, CpuNetwork) and plain._network is None
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h1.history[key], h2.history[key], **close(dtype))
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, **close(dtype))


@pytest.mark.parametrize("name", [n for n in CONFIGS if "dropout" not in n and n != "tied"])
def test_compiled_training_agrees_with_the_reference_backend(name):
    # (Dropout draws its masks from another generator in the reference.)
    x, y = data(CONFIGS[name][2])
    compiled, ref = model(name), model(name, device="numpy")
    h1 = compiled.fit(x, y, epochs=3, batch_size=8)
    h2 = ref.fit(x, y, epochs=3, batch_size=8)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-9)
    for a, b in zip(compiled.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", CONFIGS)
def test_compiled_gradients_match_finite_differences(name):
    x, y = data(CONFIGS[name][2], n=9, seed=1)
    m = model(name, optimizer=SGD(learning_rate=0.1))

    def loss_and_gradients():
        for layer in m.layers:  # the same dropout masks for every evaluation
            if isinstance(layer, Dropout):
                layer._draws[0] = 0
        return m.compute_gradients(x, y)

    # Random biases keep every pre-activation away from ReLU's kink at 0.
    rng = np.random.default_rng(2)
    m.set_weights([w if w.ndim == 2 else rng.normal(scale=0.3, size=w.shape)
                   for w in m.get_weights()])
    loss, grads = loss_and_gradients()
    assert isinstance(m._network, CpuNetwork)
    eps = 1e-6
    for param, grad in zip(m.params, grads):
        for flat in rng.choice(param.size, size=min(5, param.size), replace=False):
            saved = param.flat[flat]
            shifted = []
            for sign in (1, -1):
                param.flat[flat] = saved + sign * eps
                shifted.append(loss_and_gradients()[0])
            param.flat[flat] = saved
            numeric = (shifted[0] - shifted[1]) / (2 * eps)
            assert grad.flat[flat] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_the_network_keeps_its_buffers_for_smaller_batches():
    x, y = data("labels", n=40)
    compiled, plain = model("dropout"), layer_by_layer(model("dropout"))
    for batch_size in (4, 40, 7):
        compiled.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False)
        plain.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False)
    assert compiled._network._net.capacity == 40
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_frozen_layers_keep_their_weights_in_the_network():
    m = model("frozen-middle")
    before = m.get_weights()
    m.fit(*data("labels"), epochs=1, batch_size=8)
    after = m.get_weights()
    np.testing.assert_array_equal(after[2], before[2])
    np.testing.assert_array_equal(after[3], before[3])
    assert not np.array_equal(after[0], before[0])


def network_and_batch(name="relu-softmax-xent"):
    m = model(name)
    x, y = data(CONFIGS[name][2], n=10)
    return m._network, x, m.loss.prepare_targets(y, m.output_shape, m.dtype), m


def test_step_rejects_rows_and_labels_out_of_range_before_writing():
    net, x, y, m = network_and_batch()
    before = [l.dW.copy() for l in m.layers]
    with pytest.raises(ValueError, match="row index 10 is outside"):
        net.train_step(x, y, rows=np.array([0, 10, 2], dtype=np.intp))
    with pytest.raises(ValueError, match="row index -1 is outside"):
        net.train_step(x, y, rows=np.array([-1], dtype=np.intp))
    bad = y.copy()
    bad[7] = N_OUT
    with pytest.raises(ValueError, match=f"label {N_OUT} is outside"):
        net.train_step(x, bad, rows=np.array([1, 7], dtype=np.intp))
    with pytest.raises(ValueError, match=f"label {N_OUT} is outside"):
        net.train_step(x, bad)
    for layer, saved in zip(m.layers, before):
        np.testing.assert_array_equal(layer.dW, saved)


@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x.astype(np.float32), y, None), "float64 array"),
    (lambda x, y: (x[:, :5], y, None), r"\(n_samples, 13\)"),
    (lambda x, y: (np.asfortranarray(x), y, None), "C-contiguous"),
    (lambda x, y: (x, y.astype(np.int32), None), "intp"),
    (lambda x, y: (x, y[:4], None), r"\(10, \.\.\.\)"),
    (lambda x, y: (x, y, np.array([0, 1], dtype=np.int32)), "rows"),
    (lambda x, y: (x, y, np.array([], dtype=np.intp)), "empty"),
    (lambda x, y: (x, np.eye(N_OUT)[y][:, :2].copy(), None), r"shape \(10, 3\)"),
])
def test_step_checks_the_batch(change, message):
    net, x, y, _ = network_and_batch()
    x, y, rows = change(x, y)
    with pytest.raises(ValueError, match=message):
        net.train_step(x, y, rows)


@pytest.mark.parametrize("name", ["dropout", "reshaped-classes", "mse-linear", "tied"])
def test_the_network_gathers_rows_like_taking_them_first(name):
    net, x, y, m = network_and_batch(name)
    rows = np.array([3, 3, 9, 0], dtype=np.intp)
    draws = [l._draws.copy() for l in m.layers if isinstance(l, Dropout)]
    loss1, out1 = net.train_step(x, y, rows)
    out1 = out1.copy()
    grads1 = [g.copy() for g in m._train_grads]
    for layer, d in zip([l for l in m.layers if isinstance(l, Dropout)], draws):
        layer._draws[...] = d  # the same masks again
    loss2, out2 = net.train_step(np.ascontiguousarray(x[rows]), np.ascontiguousarray(y[rows]))
    assert loss1 == loss2
    np.testing.assert_array_equal(out1, out2)
    for g, saved in zip(m._train_grads, grads1):
        np.testing.assert_array_equal(g, saved)


@pytest.mark.parametrize("loss", ["mean_squared_error", "binary_cross_entropy"])
def test_targets_that_are_the_inputs_train_like_a_copy_of_them(loss):
    # An autoencoder's step gathers the rows once for input and target.
    x = np.random.default_rng(3).random((37, N_FEATURES))
    weights = []
    for targets in (x, x.copy()):
        m = nnfast.Sequential([Dense(5, activation="relu"), Dense(N_FEATURES, activation="sigmoid")],
                              dtype="float64", random_state=0)
        m.compile(optimizer=Adam(learning_rate=0.01), loss=loss)
        history = m.fit(x, targets, epochs=3, batch_size=8)
        assert m._network is not None
        weights.append([w.copy() for w in m.get_weights()] + [history.history["loss"]])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["dropout", "reshaped-classes", "mse-linear"])
def test_evaluation_runs_the_network_in_inference_mode(name):
    x, y = data(CONFIGS[name][2])
    m = model(name)
    m.compile(optimizer=m.optimizer, loss=m.loss, metrics=["mae" if "mse" in name else "accuracy"])
    m.fit(x, y, epochs=1, batch_size=16)
    plain = layer_by_layer(copy.deepcopy(m))
    draws = [int(l._draws[0]) for l in m.layers if isinstance(l, Dropout)]
    targets = m.loss.prepare_targets(y, m.output_shape, m.dtype)
    loss, out = m._network.evaluate(np.ascontiguousarray(x[:16]), targets[:16])
    np.testing.assert_allclose(out, m.predict(x[:16]), rtol=1e-12)
    assert m._network.capacity == 16
    np.testing.assert_allclose(m.evaluate(x, y), plain.evaluate(x, y), rtol=1e-12)
    assert [int(l._draws[0]) for l in m.layers if isinstance(l, Dropout)] == draws


OPTIMIZERS = {
    "sgd": lambda: SGD(learning_rate=0.05),
    "momentum-decay": lambda: SGD(learning_rate=0.05, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda: SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
    "adam-decay": lambda: Adam(learning_rate=0.01, weight_decay=1e-2),
    "adamw": lambda: AdamW(learning_rate=0.01, weight_decay=0.1),
    "rmsprop": lambda: RMSprop(learning_rate=0.01, weight_decay=1e-3),
    "adagrad": lambda: Adagrad(learning_rate=0.05),
    "adadelta": lambda: Adadelta(weight_decay=1e-3),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_compiled_updates_equal_the_optimizers_steps(make_optimizer, dtype, threads):
    x, y = data("labels")
    compiled = model("tied", dtype=dtype, optimizer=make_optimizer())
    plain = layer_by_layer(model("tied", dtype=dtype, optimizer=make_optimizer()))
    assert compiled.optimizer.fused_rule(1) is not None
    h1 = compiled.fit(x, y, epochs=2, batch_size=16)
    h2 = plain.fit(x, y, epochs=2, batch_size=16)
    assert compiled.optimizer.iterations == plain.optimizer.iterations == 8
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], **close(dtype))
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, **close(dtype))
    for (k, a), (_, b) in zip(sorted(compiled.optimizer.state_arrays().items()),
                              sorted(plain.optimizer.state_arrays().items())):
        np.testing.assert_allclose(a, b, err_msg=k, **close(dtype))


def wide_ends():
    # The third layer's weights (4,500 values: two pieces) and bias wait
    # while the two layers below go backward.
    return [Dense(6, activation="tanh"), Dense(5, activation="relu"), Dense(900, activation="relu"),
            Dropout(0.1, seed=2), Dense(N_OUT, activation="softmax")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make_layers", [relu_mlp, tied, frozen, wide_ends],
                         ids=["relu-mlp", "tied", "frozen-middle", "wide-ends"])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_updates_beside_the_backward_pass_change_nothing(make_optimizer, make_layers, dtype,
                                                         monkeypatch):
    # With two threads, updates that wait run beside the single-threaded
    # backward passes of the dense layers below; the weights, losses and
    # optimizer states are those of running them one after the other.
    monkeypatch.setitem(nnfast.backend._threads._state, "n_threads", 2)
    x, y = data("labels")
    fits = []
    for overlap in (True, False):
        m = nnfast.Sequential(make_layers(), dtype=dtype, random_state=0)
        m.compile(optimizer=make_optimizer(), loss="cross_entropy")
        m.build(N_FEATURES)
        m._prepare_training()
        m._network._net.overlap_updates = overlap
        history = m.fit(x, y, epochs=2, batch_size=16)
        overlapped = m._network._net.overlapped
        fits.append((history.history["loss"], m.get_weights(),
                     [a for _, a in sorted(m.optimizer.state_arrays().items())], overlapped))
    assert fits[0][3] > 0 and fits[1][3] == 0
    np.testing.assert_array_equal(fits[0][0], fits[1][0])
    for a, b in zip(fits[0][1] + fits[0][2], fits[1][1] + fits[1][2]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threads, blas_held", [(1, True), (2, False), (2, True)])
def test_updates_run_beside_only_two_threads_with_blas_held(threads, blas_held, monkeypatch):
    # Where BLAS cannot be held at one thread (no library threadpoolctl
    # knows), a product on one thread could wake BLAS's own pool beside the
    # other: the updates then wait their turn.
    monkeypatch.setitem(nnfast.backend._threads._state, "n_threads", threads)
    if not blas_held:
        monkeypatch.setattr(nnfast.backend._threads._hold, "_controller", False)
    x, y = data("labels")
    m = model("relu-softmax-xent")
    m.fit(x, y, epochs=1, batch_size=16)
    assert (m._network._net.overlapped > 0) == (threads == 2 and blas_held)


def test_the_784_500_300_10_network_agrees_with_the_reference():
    rng = np.random.default_rng(3)
    x, y = rng.random((300, 784), dtype=np.float32), rng.integers(0, 10, 300)

    def mlp(device):
        m = nnfast.Sequential([Dense(500, activation="relu", input_dim=784),
                               Dense(300, activation="relu"), Dense(10, activation="softmax")],
                              device=device, random_state=0)
        m.compile(optimizer="adam", loss="cross_entropy")
        return m

    compiled, ref = mlp("cpu"), mlp("numpy")
    h1 = compiled.fit(x, y, epochs=2, batch_size=100)
    h2 = ref.fit(x, y, epochs=2, batch_size=100)
    assert isinstance(compiled._network, CpuNetwork)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-4)
    for a, b in zip(compiled.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_subclasses_that_change_the_update_are_not_compiled():
    class SignSGD(SGD):
        def _update(self, param, grad, state, weight_decay):
            param -= self.learning_rate * np.sign(grad)

    class CountingAdam(Adam):
        def step(self, params, grads, decay):
            self.calls = getattr(self, "calls", 0) + 1
            super().step(params, grads, decay)

    assert SignSGD().fused_rule(1) is None and CountingAdam().fused_rule(1) is None
    x, y = data("labels")
    m = model("relu-softmax-xent", optimizer=CountingAdam())
    m.fit(x, y, epochs=1, batch_size=16)
    assert m.optimizer.calls == 4
    compiled = model("relu-softmax-xent", optimizer=SignSGD())
    plain = layer_by_layer(model("relu-softmax-xent", optimizer=SignSGD()))
    compiled.fit(x, y, epochs=1, batch_size=16)
    plain.fit(x, y, epochs=1, batch_size=16)
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compiled_updates_follow_a_rebuilt_optimizer_state(tmp_path):
    # Loading a model rebuilds the optimizer's state arrays; training must
    # update the new arrays, and resume exactly where the saved model was.
    x, y = data("labels")
    m = model("dropout")
    m.fit(x, y, epochs=1, batch_size=16)
    m.save(tmp_path / "m.nnf")
    loaded = nnfast.load_model(tmp_path / "m.nnf")
    m.fit(x, y, epochs=1, batch_size=16, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False)
    assert isinstance(loaded._network, CpuNetwork)
    for a, b in zip(m.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    for (k, a), (_, b) in zip(sorted(m.optimizer.state_arrays().items()),
                              sorted(loaded.optimizer.state_arrays().items())):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_bad_optimizer_state_is_refused():
    net, x, y, m = network_and_batch()
    params = m._train_params
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    with pytest.raises(ValueError, match="needs 1 state arrays"):
        net.train_step(x, y, update=("rmsprop", (0.1, 0.9, 1e-7), 0.0, state))
    state[3][1] = np.zeros(state[3][1].shape, dtype=np.float32)
    with pytest.raises(ValueError, match="C-contiguous float64 arrays shaped like"):
        net.train_step(x, y, update=("adam", (0.1, 0.9, 0.99, 1e-7, 0.1, 0.01), 0.0, state))
    state[3][1] = params[3]  # a parameter is not state
    with pytest.raises(ValueError, match="apart from every other array"):
        net.train_step(x, y, update=("adam", (0.1, 0.9, 0.99, 1e-7, 0.1, 0.01), 0.0, state))
    with pytest.raises(ValueError, match="state for 5 parameters"):
        net.train_step(x, y, update=("sgd", (0.1,), 0.0, [[]] * 5))
    with pytest.raises(ValueError, match="unknown update rule"):
        net.train_step(x, y, update=("lion", (0.1,), 0.0, state))


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
                         ids=["deepcopy", "pickle"])
def test_copies_of_a_model_train_their_own_arrays_on_their_own_network(copier):
    x, y = data("labels")
    m = model("dropout")
    m.fit(x, y, epochs=1, batch_size=16)
    twin = copier(m)
    np.testing.assert_array_equal(twin.predict(x), m.predict(x))
    before = m.get_weights()
    twin.fit(x, y, epochs=1, batch_size=16, shuffle=False)
    assert isinstance(twin._network, CpuNetwork) and twin._network is not m._network
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    m.fit(x, y, epochs=1, batch_size=16, shuffle=False)
    for a, b in zip(twin.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", [n for n in CONFIGS if "dropout" not in n])
def test_a_training_step_gives_its_output_on_request_only(name):
    # A fused softmax or sigmoid is applied only when the output is asked for,
    # after the backward pass and the update: it must still be the step's.
    x, y = data(CONFIGS[name][2], n=16)
    compiled = model(name, optimizer=SGD(learning_rate=0.1))
    plain = layer_by_layer(copy.deepcopy(compiled))
    targets = compiled.loss.prepare_targets(y, compiled.output_shape, compiled.dtype)
    loss, out = compiled._train_step(np.ascontiguousarray(x), targets)
    expected_loss, expected = plain._train_step(x, targets)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-14)
    loss_only, nothing = compiled._train_step(np.ascontiguousarray(x), targets, want_output=False)
    assert nothing is None
    assert np.isfinite(loss_only)
