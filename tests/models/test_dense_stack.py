"""The fused training step of a stack of dense layers (``Ops.dense_stack``).

On the CPU a model made only of ``Dense`` layers trains through one compiled
call per batch.  It must give what the layers and the loss give one call at a
time (the same kernels: equal but for BLAS rounding a product differently
depending on where its operands lie in memory), and agree with the reference
numpy backend.
"""
import numpy as np
import pytest

import nnfast
from nnfast.backend.cpu_dense_stack import CpuDenseStack
from nnfast.layers import Dense, Dropout
from nnfast.optimizers import SGD, Adadelta, Adagrad, Adam, RMSprop

# (hidden activations, output activation, loss, target kind)
CONFIGS = [
    (("relu", "relu"), "softmax", "cross_entropy", "labels"),
    (("sigmoid",), "softmax", "cross_entropy", "onehot"),
    (("relu", "identity"), "identity", "cross_entropy", "labels"),
    (("relu",), "sigmoid", "binary_cross_entropy", "binary"),
    (("sigmoid", "relu"), "identity", "mean_squared_error", "real"),
    (("relu",), "sigmoid", "mean_squared_error", "binary"),
    ((), "softmax", "cross_entropy", "labels"),
]
CONFIG_IDS = ["relu-softmax-xent", "softmax-onehot", "logits-xent", "sigmoid-bce", "mse-linear",
              "mse-sigmoid", "single-layer"]
N_FEATURES, N_OUT = 13, 3


def data(kind, n=61, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    if kind == "labels":
        y = rng.integers(0, N_OUT, n)
    elif kind == "onehot":
        y = np.eye(N_OUT)[rng.integers(0, N_OUT, n)]
    elif kind == "binary":
        y = (rng.random((n, N_OUT)) < 0.4).astype(float)
    else:
        y = rng.normal(size=(n, N_OUT))
    return x, y


def model(config, device="cpu", dtype="float64", optimizer=None, seed=0):
    hidden, out, loss, _ = config
    widths = [7, 5][:len(hidden)]
    layers = [Dense(w, activation=a) for w, a in zip(widths, hidden)] + [Dense(N_OUT, activation=out)]
    m = nnfast.Sequential(layers, device=device, dtype=dtype, random_state=seed)
    m.compile(optimizer=optimizer or Adam(learning_rate=0.01), loss=loss)
    m.build(N_FEATURES)
    m._prepare_training()
    return m


def layer_by_layer(m):
    """The same model with its fused step switched off."""
    m._make_stack = lambda: None
    m._stack = m._stack_key = None
    return m


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    yield request.param
    nnfast.set_num_threads(previous)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_cpu_models_of_dense_layers_get_a_fused_step(config, dtype):
    assert isinstance(model(config, dtype=dtype)._stack, CpuDenseStack)
    assert model(config, device="numpy", dtype=dtype)._stack is None


@pytest.mark.parametrize("batch_size", [1, 16, None], ids=["online", "batches", "full"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_fused_training_equals_layer_by_layer_training(config, dtype, batch_size, threads):
    x, y = data(config[3])
    fused, plain = model(config, dtype=dtype), layer_by_layer(model(config, dtype=dtype))
    h1 = fused.fit(x, y, epochs=2, batch_size=batch_size)
    h2 = plain.fit(x, y, epochs=2, batch_size=batch_size)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == "float32" else dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], **tol)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_fused_training_agrees_with_the_reference_backend(config):
    x, y = data(config[3])
    fused, ref = model(config), model(config, device="numpy")
    h1 = fused.fit(x, y, epochs=3, batch_size=8)
    h2 = ref.fit(x, y, epochs=3, batch_size=8)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-9)
    for a, b in zip(fused.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_fused_gradients_match_finite_differences(config):
    x, y = data(config[3], n=9, seed=1)
    m = model(config, optimizer=SGD(learning_rate=0.1))
    # Random biases keep every pre-activation away from ReLU's kink at 0
    # (with zero biases a sample whose first-layer units are all off puts
    # the next layer's pre-activations exactly there).
    rng = np.random.default_rng(2)
    m.set_weights([w if w.ndim == 2 else rng.normal(scale=0.3, size=w.shape)
                   for w in m.get_weights()])
    loss, grads = m.compute_gradients(x, y)
    weights = m.get_weights()
    eps = 1e-6
    for i, w in enumerate(weights):
        for flat in rng.choice(w.size, size=min(6, w.size), replace=False):
            shifted = []
            for sign in (1, -1):
                trial = [a.copy() for a in weights]
                trial[i].flat[flat] += sign * eps
                m.set_weights(trial)
                shifted.append(m.compute_gradients(x, y)[0])
            numeric = (shifted[0] - shifted[1]) / (2 * eps)
            assert grads[i].flat[flat] == pytest.approx(numeric, rel=1e-5, abs=1e-8)
        m.set_weights(weights)


def test_fused_training_uses_its_own_batch_buffers_for_a_larger_batch():
    config = CONFIGS[0]
    x, y = data("labels", n=40)
    fused, plain = model(config), layer_by_layer(model(config))
    for batch_size in (4, 40, 7):
        fused.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False)
        plain.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("layers", [
    [Dense(5, activation="tanh"), Dense(N_OUT, activation="softmax")],
    [Dense(5, activation="relu"), Dropout(0.5, seed=0), Dense(N_OUT, activation="softmax")],
    [Dense(5, activation="relu", use_bias=False), Dense(N_OUT, activation="softmax")],
    [Dense(5, activation="softmax"), Dense(N_OUT, activation="softmax")],
], ids=["tanh", "dropout", "no-bias", "hidden-softmax"])
def test_other_models_train_layer_by_layer(layers):
    m = nnfast.Sequential(layers, random_state=0)
    m.compile(optimizer="adam", loss="cross_entropy")
    m.build(N_FEATURES)
    assert m._stack is None
    x, y = data("labels")
    assert np.isfinite(m.fit(x, y, epochs=1, batch_size=16).history["loss"][0])


def test_frozen_layer_keeps_its_weights():
    m = model(CONFIGS[0])
    m.layers[0].trainable = False
    m.compile(optimizer="adam", loss="cross_entropy")
    assert m._stack is None
    before = m.layers[0].W.copy()
    m.fit(*data("labels"), epochs=1, batch_size=8)
    np.testing.assert_array_equal(m.layers[0].W, before)


def stack_and_batch():
    m = model(CONFIGS[0])
    x, y = data("labels", n=10)
    return m._stack, x, y.astype(np.intp), m


def test_step_rejects_rows_and_labels_out_of_range_before_writing():
    stack, x, y, m = stack_and_batch()
    before = [l.dW.copy() for l in m.layers]
    with pytest.raises(ValueError, match="row index 10 is outside"):
        stack.train_step(x, y, rows=np.array([0, 10, 2], dtype=np.intp))
    with pytest.raises(ValueError, match="row index -1 is outside"):
        stack.train_step(x, y, rows=np.array([-1], dtype=np.intp))
    with pytest.raises(ValueError, match=f"label {N_OUT} is outside"):
        bad = y.copy()
        bad[7] = N_OUT
        stack.train_step(x, bad, rows=np.array([1, 7], dtype=np.intp))
    bad = y.copy()
    bad[4] = N_OUT
    with pytest.raises(ValueError, match=f"label {N_OUT} is outside"):
        stack.train_step(x, bad)
    for layer, saved in zip(m.layers, before):
        np.testing.assert_array_equal(layer.dW, saved)


@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x.astype(np.float32), y, None), "float64 array"),
    (lambda x, y: (x[:, :5], y, None), r"\(n_samples, 13\)"),
    (lambda x, y: (np.asfortranarray(x), y, None), "C-contiguous"),
    (lambda x, y: (x, y.astype(np.int32), None), "intp"),
    (lambda x, y: (x, y[:4], None), r"shape \(10,\)"),
    (lambda x, y: (x, y, np.array([0, 1], dtype=np.int32)), "rows"),
    (lambda x, y: (x, y[:4], np.array([0, 1], dtype=np.intp)), r"shape \(10,\)"),
    (lambda x, y: (x, y, np.array([], dtype=np.intp)), "empty"),
])
def test_step_checks_the_batch(change, message):
    stack, x, y, _ = stack_and_batch()
    x, y, rows = change(x, y)
    with pytest.raises(ValueError, match=message):
        stack.train_step(x, y, rows)


def test_stack_gathers_rows_like_taking_them_first():
    stack, x, y, m = stack_and_batch()
    rows = np.array([3, 3, 9, 0], dtype=np.intp)
    loss1, out1 = stack.train_step(x, y, rows)
    grads1 = [l.dW.copy() for l in m.layers]
    loss2, out2 = stack.train_step(np.ascontiguousarray(x[rows]), y[rows])
    assert loss1 == loss2
    np.testing.assert_array_equal(out1, out2)
    for layer, g in zip(m.layers, grads1):
        np.testing.assert_array_equal(layer.dW, g)


OPTIMIZERS = [
    lambda: SGD(learning_rate=0.05),
    lambda: SGD(learning_rate=0.05, momentum=0.9, weight_decay=1e-3),
    lambda: SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
    lambda: Adam(learning_rate=0.01, weight_decay=1e-2),
    lambda: RMSprop(learning_rate=0.01, weight_decay=1e-3),
    lambda: Adagrad(learning_rate=0.05),
    lambda: Adadelta(weight_decay=1e-3),
]
OPTIMIZER_IDS = ["sgd", "momentum-decay", "nesterov", "adam-decay", "rmsprop", "adagrad", "adadelta"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_fused_updates_equal_the_optimizers_steps(make_optimizer, dtype, threads):
    x, y = data("labels")
    fused = model(CONFIGS[0], dtype=dtype, optimizer=make_optimizer())
    plain = layer_by_layer(model(CONFIGS[0], dtype=dtype, optimizer=make_optimizer()))
    assert fused.optimizer.fused_rule(1) is not None
    h1 = fused.fit(x, y, epochs=2, batch_size=16)
    h2 = plain.fit(x, y, epochs=2, batch_size=16)
    assert fused.optimizer.iterations == plain.optimizer.iterations == 8
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == "float32" else dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], **tol)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, **tol)
    for (k, a), (_, b) in zip(sorted(fused.optimizer.state_arrays().items()),
                              sorted(plain.optimizer.state_arrays().items())):
        np.testing.assert_allclose(a, b, err_msg=k, **tol)


def test_fused_training_of_the_784_500_300_10_network_agrees_with_the_reference():
    rng = np.random.default_rng(3)
    x, y = rng.random((300, 784), dtype=np.float32), rng.integers(0, 10, 300)

    def mlp(device):
        m = nnfast.Sequential([Dense(500, activation="relu", input_dim=784),
                               Dense(300, activation="relu"), Dense(10, activation="softmax")],
                              device=device, random_state=0)
        m.compile(optimizer="adam", loss="cross_entropy")
        return m

    fused, ref = mlp("cpu"), mlp("numpy")
    h1 = fused.fit(x, y, epochs=2, batch_size=100)
    h2 = ref.fit(x, y, epochs=2, batch_size=100)
    assert isinstance(fused._stack, CpuDenseStack)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-4)
    for a, b in zip(fused.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_subclasses_that_change_the_update_are_not_fused():
    class SignSGD(SGD):
        def _update(self, param, grad, state, weight_decay):
            param -= self.learning_rate * np.sign(grad)

    class CountingAdam(Adam):
        def step(self, params, grads, decay):
            self.calls = getattr(self, "calls", 0) + 1
            super().step(params, grads, decay)

    assert SignSGD().fused_rule(1) is None and CountingAdam().fused_rule(1) is None
    x, y = data("labels")
    m = model(CONFIGS[0], optimizer=CountingAdam())
    m.fit(x, y, epochs=1, batch_size=16)
    assert m.optimizer.calls == 4
    fused, plain = model(CONFIGS[0], optimizer=SignSGD()), layer_by_layer(model(CONFIGS[0], optimizer=SignSGD()))
    fused.fit(x, y, epochs=1, batch_size=16)
    plain.fit(x, y, epochs=1, batch_size=16)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fused_updates_follow_a_rebuilt_optimizer_state(tmp_path):
    # Loading a model rebuilds the optimizer's state arrays; training must
    # update the new arrays, and resume exactly where the saved model was.
    x, y = data("labels")
    m = model(CONFIGS[0])
    m.fit(x, y, epochs=1, batch_size=16)
    m.save(tmp_path / "m.nnf")
    loaded = nnfast.load_model(tmp_path / "m.nnf")
    assert isinstance(loaded._stack, CpuDenseStack)
    m.fit(x, y, epochs=1, batch_size=16, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False)
    for a, b in zip(m.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    for (k, a), (_, b) in zip(sorted(m.optimizer.state_arrays().items()),
                              sorted(loaded.optimizer.state_arrays().items())):
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=k)


def test_bad_optimizer_state_is_refused():
    stack, x, y, m = stack_and_batch()
    params = [p for layer in m.layers for p in layer.params]
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    with pytest.raises(ValueError, match="needs 1 state arrays"):
        stack.train_step(x, y, update=("rmsprop", (0.1, 0.9, 1e-7), 0.0, state))
    state[3][1] = np.zeros(state[3][1].shape, dtype=np.float32)
    with pytest.raises(ValueError, match="C-contiguous float64 arrays shaped like"):
        stack.train_step(x, y, update=("adam", (0.1, 0.9, 0.99, 1e-7, 0.1, 0.01), 0.0, state))
    state[3][1] = params[3]  # a parameter is not state
    with pytest.raises(ValueError, match="apart from every other array"):
        stack.train_step(x, y, update=("adam", (0.1, 0.9, 0.99, 1e-7, 0.1, 0.01), 0.0, state))
    with pytest.raises(ValueError, match="unknown update rule"):
        stack.train_step(x, y, update=("lion", (0.1,), 0.0, state))


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_stack_gathers_target_rows_of_every_kind(config):
    x, y = data(config[3], n=30)
    m = model(config)
    targets = m.loss.prepare_targets(y, (N_OUT,), m.dtype)
    rows = np.array([29, 0, 5, 5, 17], dtype=np.intp)
    loss1, out1 = m._stack.train_step(x, targets, rows)
    grads1 = [g.copy() for layer in m.layers for g in layer.grads]
    loss2, out2 = m._stack.train_step(np.ascontiguousarray(x[rows]),
                                      np.ascontiguousarray(targets[rows]))
    assert loss1 == loss2
    np.testing.assert_array_equal(out1, out2)
    for g, saved in zip([g for layer in m.layers for g in layer.grads], grads1):
        np.testing.assert_array_equal(g, saved)


def test_a_deep_copy_gets_its_own_fused_step():
    import copy

    m = model(CONFIGS[0])
    twin = copy.deepcopy(m)
    twin._prepare_training()
    assert isinstance(twin._stack, CpuDenseStack) and twin._stack is not m._stack


def test_copies_of_a_model_train_their_own_arrays():
    import copy
    import pickle

    x, y = data("labels")
    m = model(CONFIGS[0])
    m.fit(x, y, epochs=1, batch_size=16)
    for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        # (Unpickled arrays carry dtype objects of their own, which the kernels
        # do not take: such a copy trains through the layers, as correctly.)
        assert twin._stack is not m._stack
        before = m.get_weights()
        twin.fit(x, y, epochs=1, batch_size=16, shuffle=False)
        for a, b in zip(m.get_weights(), before):
            np.testing.assert_array_equal(a, b)
        reference = layer_by_layer(copy.deepcopy(m))
        reference.fit(x, y, epochs=1, batch_size=16, shuffle=False)
        for a, b in zip(twin.get_weights(), reference.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
