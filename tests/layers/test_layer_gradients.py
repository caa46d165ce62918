"""Finite-difference gradient checks (float64) for every layer, activation and loss."""
import numpy as np
import pytest

import nnfast
from nnfast.layers import Activation, Dense, Dropout, Flatten
from nnfast.losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError

BACKENDS = ["numpy", "cpu"]
ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "softmax"]
EPS = 1e-6


def numeric_grad(f, x):
    """Central differences of the scalar function ``f`` with respect to ``x`` (in place)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + EPS
        up = f()
        x[i] = old - EPS
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * EPS)
    return grad


def build(layer, shape, backend, seed=0):
    layer.build(shape, nnfast.get_ops(backend), np.dtype("float64"), np.random.default_rng(seed))
    return layer


def away_from_kinks(x):
    """Move values away from 0, where ReLU is not differentiable."""
    return np.where(np.abs(x) < 0.05, 0.1 * np.sign(x) + 0.05, x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradients(backend, activation):
    rng = np.random.default_rng(1)
    layer = build(Dense(4, activation=activation), (5,), backend)
    layer.b[...] = rng.normal(size=4)
    x = rng.normal(size=(3, 5))
    if activation == "relu":
        # Keep pre-activations away from the kink at 0.
        layer.W[...] = np.abs(layer.W) * np.sign(rng.normal(size=layer.W.shape))
    r = rng.normal(size=(3, 4))

    def f():
        return float((layer.forward(x, training=True) * r).sum())

    f()
    dx = layer.backward(r.copy()).copy()
    dW, db = layer.dW.copy(), layer.db.copy()
    np.testing.assert_allclose(dx, numeric_grad(f, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dW, numeric_grad(f, layer.W), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(db, numeric_grad(f, layer.b), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_without_bias_and_first_layer(backend):
    rng = np.random.default_rng(2)
    layer = build(Dense(3, activation="tanh", use_bias=False), (4,), backend)
    layer.needs_input_grad = False
    x, r = rng.normal(size=(2, 4)), rng.normal(size=(2, 3))

    def f():
        return float((layer.forward(x, training=True) * r).sum())

    f()
    assert layer.backward(r.copy()) is None
    assert layer.params == [layer.W]
    np.testing.assert_allclose(layer.dW, numeric_grad(f, layer.W), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer_gradients(backend, activation):
    rng = np.random.default_rng(3)
    layer = build(Activation(activation), (6,), backend)
    x = away_from_kinks(rng.normal(size=(4, 6)))
    r = rng.normal(size=(4, 6))

    def f():
        return float((layer.forward(x, training=True) * r).sum())

    f()
    np.testing.assert_allclose(layer.backward(r.copy()), numeric_grad(f, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_is_a_fixed_linear_mask_while_training(backend):
    rng = np.random.default_rng(4)
    layer = build(Dropout(0.3, seed=5), (1000,), backend)
    x = rng.normal(size=(20, 1000))
    y = layer.forward(x, training=True).copy()
    mask = layer._mask.copy()  # the layer draws its next mask into the same buffer
    assert set(np.unique(mask)) <= {0.0, 1 / 0.7}
    assert abs((mask == 0).mean() - 0.3) < 0.02
    np.testing.assert_allclose(y, x * mask)
    dy = rng.normal(size=x.shape)
    np.testing.assert_allclose(layer.backward(dy), dy * mask)
    # Inference is the identity; a second training pass draws a new mask.
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    layer.forward(x, training=True)
    assert not np.array_equal(layer._mask, mask)


def test_dropout_masks_are_seeded():
    a = build(Dropout(0.5, seed=7), (50,), "cpu")
    b = build(Dropout(0.5, seed=7), (50,), "cpu")
    x = np.ones((4, 50))
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))


def test_flatten_round_trip():
    layer = build(Flatten(), (2, 3, 4), "cpu")
    x = np.arange(48.0).reshape(2, 2, 3, 4)
    y = layer.forward(x)
    assert y.shape == (2, 24)
    assert layer.backward(y).shape == x.shape


def _loss_cases():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    soft = rng.dirichlet(np.ones(4), size=5)
    bin_targets = rng.integers(0, 2, size=(5, 4)).astype(float)
    return [
        ("ce-labels", CrossEntropy(), logits, labels),
        ("ce-probabilities", CrossEntropy(), logits, soft),
        ("bce", BinaryCrossEntropy(), logits, bin_targets),
        ("bce-soft", BinaryCrossEntropy(), logits, rng.uniform(size=(5, 4))),
        ("mse", MeanSquaredError(), logits, rng.normal(size=(5, 4))),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", _loss_cases(), ids=lambda c: c[0])
def test_loss_gradients(backend, case):
    _, loss, output, targets = case
    ops = nnfast.get_ops(backend)
    output = output.copy()

    def f():
        return loss(ops, output, targets)[0]

    value, grad = loss(ops, output, targets)
    assert np.isfinite(value)
    np.testing.assert_allclose(grad, numeric_grad(f, output), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_values_match_definitions(backend):
    ops = nnfast.get_ops(backend)
    z = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ce, _ = CrossEntropy()(ops, z, np.array([0, 2]))
    assert ce == pytest.approx(-(np.log(p[0, 0]) + np.log(p[1, 2])) / 2)
    t = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    s = 1 / (1 + np.exp(-z))
    bce, _ = BinaryCrossEntropy()(ops, z, t)
    assert bce == pytest.approx(-(t * np.log(s) + (1 - t) * np.log(1 - s)).mean())
    mse, _ = MeanSquaredError()(ops, z, t)
    assert mse == pytest.approx(((z - t) ** 2).mean())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("identity", "cross_entropy"),
                                         ("sigmoid", "binary_cross_entropy"),
                                         ("identity", "binary_cross_entropy"),
                                         ("tanh", "mse"), ("softmax", "mse")])
def test_whole_model_gradients(backend, output, loss):
    """Backpropagation through a small network, including the fused output losses."""
    rng = np.random.default_rng(6)
    model = nnfast.Sequential([Dense(5, activation="tanh", input_dim=3), Dense(4, activation="sigmoid"),
                               Dense(3, activation=output)], device=backend, dtype="float64", random_state=0)
    model.compile(optimizer="sgd", loss=loss)
    x = rng.normal(size=(6, 3))
    y = rng.integers(0, 3, size=6) if loss == "cross_entropy" else rng.uniform(size=(6, 3))
    _, grads = model.compute_gradients(x, y)
    params = [p for layer in model.layers for p in layer.params]
    for param, grad in zip(params, grads):
        np.testing.assert_allclose(grad, numeric_grad(lambda: model.evaluate(x, y), param),
                                   rtol=1e-5, atol=1e-8)
