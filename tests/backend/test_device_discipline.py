"""Host and device kept apart, checked on the CPU with a strict stand-in for cupy.

``strict_xp`` arrays refuse every implicit conversion and scalar read, so any
code below that would stall or fail on a GPU fails here.  Training may read
a result once per epoch, explicitly; these tests count those reads.
"""
import numpy as np
import pytest

import nnfast
from nnfast._validation import check_array

from . import strict_xp
from .strict_xp import HostTransferError, StrictArray, StrictOps

OPS = StrictOps()


@pytest.fixture(autouse=True)
def _count_from_zero():
    strict_xp.transfers.reset()


def test_the_stand_in_refuses_what_cupy_refuses():
    a = OPS.xp.asarray(np.arange(6.0).reshape(2, 3))
    total = (a * 2 + 1).sum()
    assert type(total) is StrictArray and total.shape == ()
    for read in (float, int, bool, np.asarray, lambda x: x.item()):
        with pytest.raises(HostTransferError):
            read(total)
    with pytest.raises(HostTransferError):
        a + np.ones((2, 3))  # a host array mixed into a device operation
    with pytest.raises(AttributeError):
        OPS.xp.random.default_rng(0).bit_generator
    assert OPS.to_numpy(total) == 36.0
    assert (strict_xp.transfers.to_device, strict_xp.transfers.to_host) == (1, 1)


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "sigmoid_binary_cross_entropy",
                                  "mean_squared_error"])
def test_reference_losses_leave_the_loss_on_the_device(loss):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 3)).astype(np.float32)
    t = rng.integers(0, 3, 5) if loss == "softmax_cross_entropy" else rng.random((5, 3)).astype(np.float32)
    value, grad = getattr(OPS, loss)(OPS.xp.asarray(z), OPS.xp.asarray(t))
    assert type(value) is StrictArray and value.shape == ()
    assert type(grad) is StrictArray and grad.shape == z.shape
    assert strict_xp.transfers.to_host == 0
    ref_value, ref_grad = getattr(nnfast.get_ops("numpy"), loss)(z, t)
    np.testing.assert_allclose(OPS.to_numpy(value), ref_value, rtol=1e-6)
    np.testing.assert_allclose(OPS.to_numpy(grad), ref_grad, rtol=1e-6)


@pytest.mark.parametrize("rule", ["online", "batch"])
def test_the_perceptron_reads_one_error_count_per_epoch(rule):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = (X @ [1.0, -2.0, 0.5] > 0).astype(int)
    model = nnfast.Perceptron(device=OPS, rule=rule, max_epochs=30, random_state=0).fit(X, y)
    epochs = model.n_epochs_
    assert strict_xp.transfers.to_host <= epochs + 3
    assert strict_xp.transfers.to_device <= 4
    reference = nnfast.Perceptron(device="numpy", rule=rule, max_epochs=30, random_state=0).fit(X, y)
    assert model.history_ == reference.history_
    np.testing.assert_allclose(model.coef_, reference.coef_)
    assert type(model.predict(X)) is np.ndarray


def test_the_rbm_reads_one_error_per_epoch():
    rng = np.random.default_rng(2)
    X = (rng.random((64, 12)) < 0.3).astype(np.float32)
    model = nnfast.BernoulliRBM(n_hidden=5, epochs=3, batch_size=8, device=OPS, random_state=0).fit(X)
    assert strict_xp.transfers.to_host <= 3 * 1 + 2
    reference = nnfast.BernoulliRBM(n_hidden=5, epochs=3, batch_size=8, device="numpy",
                                    random_state=0).fit(X)
    np.testing.assert_allclose(model.history_["reconstruction_error"],
                               reference.history_["reconstruction_error"], rtol=1e-5)
    assert type(model.transform(X)) is np.ndarray


def test_a_device_array_given_to_a_host_model_is_refused_with_the_fix():
    x = OPS.xp.asarray(np.ones((4, 2), dtype=np.float32))
    with pytest.raises(TypeError, match=r"held on an accelerator.*device='gpu'"):
        check_array(x)
    with pytest.raises(TypeError, match="accelerator"):
        nnfast.Perceptron().fit(x, [0, 1, 0, 1])
    # The model's own device: accepted, copied to the host once for checking.
    checked = check_array(x, ops=OPS)
    assert type(checked) is np.ndarray and checked.shape == (4, 2)


def test_a_model_loads_on_another_device(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4))
    y = (X[:, 0] > 0).astype(int)
    model = nnfast.Perceptron(device="numpy", random_state=0).fit(X, y)
    model.save(tmp_path / "p.nnf")
    loaded = nnfast.load_model(tmp_path / "p.nnf", device="cpu")
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="unknown backend"):
        nnfast.load_model(tmp_path / "p.nnf", device="tpu")


def _blobs(n=96, d=8, classes=3, seed=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = (rng.normal(size=(n, d)) + 2.0 * np.eye(classes, d)[y]).astype(np.float32)
    return X, y


def test_a_network_trains_without_a_host_read_inside_an_epoch():
    from nnfast.layers import Dense, Dropout

    X, y = _blobs()
    epochs, batches = 3, 72 // 4  # 96 samples, a quarter held out for validation

    def model(device):
        m = nnfast.Sequential([Dense(16, activation="relu"), Dropout(0.25, seed=1),
                               Dense(3, activation="softmax")], device=device, random_state=0)
        m.compile("adam", "cross_entropy", metrics=["accuracy"])
        return m

    strict = model(OPS)
    history = strict.fit(X, y, epochs=epochs, batch_size=4, validation_split=0.25)
    # The data moved once, plus one order per epoch and the initial weights; the
    # host read a handful of numbers per epoch (loss, accuracy and their validation
    # twins), never one per batch.
    assert strict_xp.transfers.to_device <= 2 + 2 + epochs + 4
    assert strict_xp.transfers.to_host <= 4 * epochs < epochs * batches
    reference = model("numpy")
    expected = reference.fit(X, y, epochs=epochs, batch_size=4, validation_split=0.25)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history.history[key], expected.history[key], rtol=1e-5)
        assert all(type(v) is float for v in history.history[key])
    prediction = strict.predict(X)
    assert type(prediction) is np.ndarray
    on_device = strict.predict(X, to_numpy=False)
    assert type(on_device) is StrictArray
    np.testing.assert_array_equal(OPS.to_numpy(on_device), prediction)
    np.testing.assert_allclose(prediction, reference.predict(X), rtol=1e-5, atol=1e-7)


def test_estimators_train_on_the_device_and_return_numpy():
    X, y = _blobs()
    images = np.random.default_rng(5).random((24, 8, 8)).astype(np.float32)
    labels = np.arange(24) % 2
    cases = [
        (nnfast.MLPClassifier(hidden_layer_sizes=(8,), epochs=3, dropout=0.2, device=OPS,
                              random_state=0), X, y),
        (nnfast.CNNClassifier(filters=(3,), dense_units=4, epochs=2, batch_norm=True,
                              dropout=0.2, batch_size=8, device=OPS, random_state=0), images,
         labels),
        (nnfast.Autoencoder(hidden_layer_sizes=(6,), latent_dim=3, epochs=2, noise=0.2,
                            sparsity=1e-3, device=OPS, random_state=0), images.reshape(24, -1),
         None),
        (nnfast.VAE(hidden_layer_sizes=(6,), latent_dim=2, epochs=2, device=OPS, random_state=0),
         images.reshape(24, -1), None),
    ]
    for estimator, data, target in cases:
        strict_xp.transfers.reset()
        estimator.fit(data, target) if target is not None else estimator.fit(data)
        assert strict_xp.transfers.to_host <= 8 * estimator.n_iter_ + 10, type(estimator).__name__
        out = estimator.predict(data) if target is not None else estimator.transform(data)
        assert type(out) is np.ndarray, type(estimator).__name__


def test_a_bad_loss_on_the_device_stops_training_at_the_end_of_its_epoch():
    from nnfast.layers import Dense

    X, _ = _blobs()
    target = X[:, :1] * 3.0
    model = nnfast.Sequential([Dense(1)], device=OPS, random_state=0)
    model.compile(nnfast.optimizers.SGD(learning_rate=0.01), "mean_squared_error")
    model.fit(X, target, epochs=1, batch_size=32)
    weights = [w.copy() for w in model.get_weights()]
    model.optimizer.learning_rate = 1e20  # the weights overflow within the first epoch
    with np.errstate(over="ignore", invalid="ignore"), pytest.warns(
            RuntimeWarning, match=r"the loss became (nan|inf) at epoch 1;.*restored"):
        history = model.fit(X, target, epochs=3, batch_size=32, shuffle=False)
    assert history.history.get("loss", []) == [] and model.stop_training
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_a_model_trained_on_the_device_loads_on_the_cpu(tmp_path):
    from nnfast.layers import Dense, Dropout

    X, y = _blobs()
    model = nnfast.Sequential([Dense(8, activation="tanh"), Dropout(0.2, seed=3),
                               Dense(3, activation="softmax")], device=OPS, random_state=0)
    model.compile("adam", "cross_entropy")
    model.fit(X, y, epochs=2, batch_size=16)
    model.save(tmp_path / "m.nnf")
    on_cpu = nnfast.load_model(tmp_path / "m.nnf", device="cpu")
    assert on_cpu.ops.name == "cpu"
    np.testing.assert_allclose(on_cpu.predict(X), model.predict(X), rtol=1e-5, atol=1e-7)
    back = nnfast.load_model(tmp_path / "m.nnf", device=OPS)
    assert back.ops is OPS
    np.testing.assert_allclose(back.predict(X), model.predict(X), rtol=1e-6)
    # Training goes on where it stopped, on either side.
    on_cpu.fit(X, y, epochs=1, batch_size=16)
    back.fit(X, y, epochs=1, batch_size=16)
