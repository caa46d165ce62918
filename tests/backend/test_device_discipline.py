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
