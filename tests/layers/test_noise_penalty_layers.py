"""GaussianNoise, MaskingNoise, ActivityRegularization and GaussianSampler as layers and in models.

Each layer on both backends and dtypes, with finite-difference checks in
float64; small tied + sparse autoencoders and a variational autoencoder
checked by finite differences through the compiled network; the compiled
network against the layer-by-layer path; penalties in the objective and the
history; saving and loading (outputs, noise streams, frozen and tied layers).
"""
import copy

import numpy as np
import pytest

import nnfast
from nnfast.backend.cpu_network import CpuNetwork
from nnfast.layers import (
    ActivityRegularization, Dense, GaussianNoise, GaussianSampler, MaskingNoise, PenaltyLayer,
    layer_from_config,
)
from nnfast.optimizers import SGD, Adam

BACKENDS = ["cpu", "numpy"]
N_FEATURES = 11


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    yield request.param
    nnfast.set_num_threads(previous)


def _data(n=45, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.05, 0.95, size=(n, N_FEATURES))


# -------------------------------------------------------------- arguments
@pytest.mark.parametrize("make,message", [
    (lambda: MaskingNoise(1.0), r"rate must be a number in \[0, 1\)"),
    (lambda: MaskingNoise(-0.1), r"rate must be a number in \[0, 1\)"),
    (lambda: MaskingNoise("0.5"), r"rate must be a number in \[0, 1\)"),
    (lambda: GaussianNoise(-0.5), "stddev must be a finite number at least 0"),
    (lambda: GaussianNoise(float("nan")), "stddev must be a finite number at least 0"),
    (lambda: GaussianNoise(0.1, seed=-1), "seed must be a non-negative integer"),
    (lambda: ActivityRegularization(l1=-1e-3), "l1 must be a finite number at least 0"),
    (lambda: ActivityRegularization(kl=float("inf")), "kl must be a finite number at least 0"),
    (lambda: ActivityRegularization(kl=1.0, target=0.0), r"target must be a number in \(0, 1\)"),
    (lambda: ActivityRegularization(kl=1.0, target=1.0), r"target must be a number in \(0, 1\)"),
    (lambda: ActivityRegularization(l1=1.0, penalty_scale=-1), "penalty_scale must be a finite"),
    (lambda: GaussianSampler(beta=-1.0), "beta must be a finite number at least 0"),
    (lambda: GaussianSampler(seed=1.5), "seed must be a non-negative integer"),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_sampler_needs_an_even_input_width():
    model = nnfast.Sequential([Dense(5), GaussianSampler()])
    with pytest.raises(ValueError, match=r"2 \* L values \[mu, log_var\], got per-sample shape \(5,\)"):
        model.build(4)
    with pytest.raises(ValueError, match="penalty_scale must be a finite number"):
        GaussianSampler().penalty_scale = -2.0
    with pytest.raises(ValueError, match="beta must be a finite number"):
        GaussianSampler().beta = float("nan")


@pytest.mark.parametrize("layer", [
    GaussianNoise(0.2, seed=3), MaskingNoise(0.4), ActivityRegularization(l1=0.1, kl=0.2, target=0.3),
    GaussianSampler(beta=2.0, seed=5, penalty_scale=0.25, name="z"),
], ids=lambda l: type(l).__name__)
def test_configs_rebuild_the_layer(layer):
    again = layer_from_config(type(layer).__name__, layer.get_config())
    assert type(again) is type(layer) and again.get_config() == layer.get_config()
    assert repr(again) == repr(layer)


def test_penalty_layers_declare_their_names_and_weights():
    sampler, sparse = GaussianSampler(beta=3.0, penalty_scale=0.5), ActivityRegularization(l1=2.0)
    assert isinstance(sampler, PenaltyLayer) and isinstance(sparse, PenaltyLayer)
    assert (sampler.penalty_name, sparse.penalty_name) == ("kl", "sparsity")
    assert sampler.penalty_weight == 3.0 and sampler.penalty_coefficient == 1.5
    sampler.beta = 1.0
    assert sampler.penalty_coefficient == 0.5
    assert sparse.penalty_weight == 1.0 and sparse.penalty == 0.0


# ------------------------------------------------------- layers one by one
def _built(layer, backend, dtype, in_dim, seed=0):
    model = nnfast.Sequential([layer], device=backend, dtype=dtype, random_state=seed)
    model.build(in_dim)
    return layer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_noise_is_applied_in_training_only(backend, dtype):
    x = _data(7).astype(dtype)
    for layer in (_built(GaussianNoise(0.3), backend, dtype, N_FEATURES),
                  _built(MaskingNoise(0.5), backend, dtype, N_FEATURES)):
        np.testing.assert_array_equal(layer.forward(x, training=False), x)
        noisy = np.array(layer.forward(x, training=True))
        assert not np.array_equal(noisy, x) and layer.random_state()["draws"] == 1
        second = np.array(layer.forward(x, training=True))
        assert not np.array_equal(second, noisy)
    masked = _built(MaskingNoise(0.5), backend, dtype, N_FEATURES)
    y = np.array(masked.forward(x, training=True))
    assert np.all((y == 0) | (y == x))  # masked, never rescaled
    np.testing.assert_array_equal(masked.backward(np.ones_like(x)), (y == x).astype(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_sampler_outputs_its_means_at_prediction_and_samples_in_training(backend, dtype):
    layer = _built(GaussianSampler(seed=2), backend, dtype, 6)
    x = np.random.default_rng(0).normal(size=(9, 6)).astype(dtype)
    np.testing.assert_array_equal(layer.forward(x, training=False), x[:, :3])
    kl = layer.penalty
    mu, lv = x[:, :3].astype(float), x[:, 3:].astype(float)
    assert kl == pytest.approx(0.5 * (np.exp(lv) + mu ** 2 - 1 - lv).sum() / 9,
                               rel=1e-6 if dtype == "float32" else 1e-12)
    z = layer.forward(x, training=True)
    eps = layer._eps
    np.testing.assert_allclose(z, mu + np.exp(lv / 2) * eps, rtol=1e-5 if dtype == "float32" else 1e-12)
    assert layer.penalty == kl


def _layer_objective_check(layer, x, backend):
    """Finite differences of ``<w, forward(x)> + penalty term`` against ``backward(w)``."""
    w = np.random.default_rng(7).normal(size=(len(x),) + layer.output_shape)
    if isinstance(layer, PenaltyLayer):
        # The penalty is a batch mean; the term ``n * coefficient * penalty`` keeps both
        # parts of the objective of the same size.
        layer.penalty_scale = layer.penalty_scale * len(x)

    def objective():
        if hasattr(layer, "_draws"):
            layer._draws[0] = 0  # the same draw every time
        y = np.array(layer.forward(x, training=True))
        return float((w * y).sum()) + (layer.penalty_term if isinstance(layer, PenaltyLayer) else 0)

    objective()
    grad = np.array(layer.backward(w.copy()))
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + 1e-6
        up = objective()
        x[idx] = saved - 1e-6
        down = objective()
        x[idx] = saved
        numeric[idx] = (up - down) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make,width", [
    (lambda: GaussianNoise(0.4), 5),
    (lambda: MaskingNoise(0.3), 5),
    (lambda: ActivityRegularization(l1=0.05), 5),
    (lambda: ActivityRegularization(kl=0.5, target=0.2), 5),
    (lambda: ActivityRegularization(l1=0.03, kl=0.2, target=0.1, penalty_scale=0.5), 5),
    (lambda: GaussianSampler(beta=0.7, penalty_scale=0.3), 6),
], ids=["gaussian-noise", "masking", "l1", "kl", "l1+kl", "sampler"])
def test_layer_gradients_match_finite_differences(backend, make, width):
    layer = _built(make(), backend, "float64", width)
    x = np.random.default_rng(1).uniform(0.1, 0.9, size=(4, width))
    _layer_objective_check(layer, x, backend)


# --------------------------------------------------------------- models
def tied_sparse(kind="l1"):
    first = Dense(8, activation="sigmoid")
    code = Dense(5, activation="sigmoid")
    regular = {"l1": ActivityRegularization(l1=0.02),
               "kl": ActivityRegularization(kl=0.3, target=0.1),
               "both": ActivityRegularization(l1=0.01, kl=0.2, target=0.2)}[kind]
    return [first, code, regular, Dense(8, activation="sigmoid", tied_to=code),
            Dense(N_FEATURES, activation="sigmoid", tied_to=first)]


def vae(beta=1.0):
    return [Dense(9, activation="relu"), Dense(4), GaussianSampler(beta=beta, seed=3),
            Dense(9, activation="relu"), Dense(N_FEATURES, activation="sigmoid")]


def denoising(noise):
    return [noise, Dense(6, activation="relu"), Dense(N_FEATURES, activation="sigmoid")]


CONFIGS = {
    "tied-sparse-l1": (lambda: tied_sparse("l1"), "mean_squared_error"),
    "tied-sparse-kl": (lambda: tied_sparse("kl"), "binary_cross_entropy"),
    "tied-sparse-both": (lambda: tied_sparse("both"), "mean_squared_error"),
    "vae": (vae, "binary_cross_entropy"),
    "vae-beta": (lambda: vae(beta=4.0), "mean_squared_error"),
    "masking": (lambda: denoising(MaskingNoise(0.3, seed=1)), "mean_squared_error"),
    "gaussian": (lambda: denoising(GaussianNoise(0.2)), "binary_cross_entropy"),
}


def model(name, device="cpu", dtype="float64", optimizer=None, seed=0, scale=None):
    make_layers, loss = CONFIGS[name]
    m = nnfast.Sequential(make_layers(), device=device, dtype=dtype, random_state=seed)
    for layer in m.layers:
        if isinstance(layer, PenaltyLayer) and scale is not None:
            layer.penalty_scale = scale
    m.compile(optimizer=optimizer or Adam(learning_rate=0.01), loss=loss)
    m.build(N_FEATURES)
    m._prepare_training()
    return m


def layer_by_layer(m):
    m._make_network = lambda: None
    m._network = m._network_key = None
    return m


def close(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CONFIGS)
def test_models_with_these_layers_train_as_one_compiled_network(name):
    assert isinstance(model(name)._network, CpuNetwork)
    assert isinstance(model(name, dtype="float32")._network, CpuNetwork)


@pytest.mark.parametrize("batch_size", [1, 16, None], ids=["online", "batches", "full"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", CONFIGS)
def test_compiled_training_equals_layer_by_layer_training(name, dtype, batch_size, threads):
    x = _data()
    compiled, plain = model(name, dtype=dtype, scale=0.5), layer_by_layer(model(name, dtype=dtype, scale=0.5))
    h1 = compiled.fit(x, x, epochs=2, batch_size=batch_size, validation_split=0.2)
    h2 = plain.fit(x, x, epochs=2, batch_size=batch_size, validation_split=0.2)
    assert isinstance(compiled._network, CpuNetwork) and plain._network is None
    assert set(h1.history) == set(h2.history)
    for key in h1.history:
        np.testing.assert_allclose(h1.history[key], h2.history[key], **close(dtype))
    for a, b in zip(compiled.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, **close(dtype))
    assert compiled.layers[0].random_state() == plain.layers[0].random_state()


@pytest.mark.parametrize("name", ["tied-sparse-l1", "tied-sparse-kl", "tied-sparse-both"])
def test_compiled_training_agrees_with_the_reference_backend(name):
    # (The noisy layers draw from another generator in the reference.)
    x = _data()
    h1 = (compiled := model(name)).fit(x, x, epochs=3, batch_size=8)
    h2 = (ref := model(name, device="numpy")).fit(x, x, epochs=3, batch_size=8)
    for key in ("loss", "sparsity"):
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=1e-9)
    for a, b in zip(compiled.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("device", BACKENDS)
@pytest.mark.parametrize("name", ["tied-sparse-l1", "tied-sparse-kl", "tied-sparse-both", "vae",
                                  "masking", "gaussian"])
def test_model_gradients_match_finite_differences(name, device):
    x = _data(n=7, seed=1)
    m = model(name, device=device, optimizer=SGD(learning_rate=0.1), scale=0.3)

    def loss_and_gradients():
        for layer in m.layers:  # the same draws for every evaluation
            if hasattr(layer, "_draws"):
                layer._draws[0] = 0
        return m.compute_gradients(x, x)

    # Random biases keep every pre-activation away from ReLU's kink at 0.
    rng = np.random.default_rng(2)
    m.set_weights([w if w.ndim == 2 else rng.normal(scale=0.3, size=w.shape)
                   for w in m.get_weights()])
    _, grads = loss_and_gradients()
    assert isinstance(m._network, CpuNetwork) == (device == "cpu")
    for param, grad in zip(m.params, grads):
        for flat in rng.choice(param.size, size=min(6, param.size), replace=False):
            saved = param.flat[flat]
            shifted = []
            for sign in (1, -1):
                param.flat[flat] = saved + sign * 1e-6
                shifted.append(loss_and_gradients()[0])
            param.flat[flat] = saved
            numeric = (shifted[0] - shifted[1]) / 2e-6
            assert grad.flat[flat] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("device", BACKENDS)
def test_the_objective_is_the_loss_plus_the_scaled_weighted_penalty(device):
    x = _data()
    m = model("vae-beta", device=device, scale=1 / N_FEATURES)
    m.fit(x, x, epochs=2, batch_size=16)
    sampler = m.layers[2]
    result = m.evaluate(x, x, return_dict=True)
    reconstruction = ((m.predict(x) - x) ** 2).mean()  # the sampler gives mu at prediction
    mu_logvar = m.layer_outputs(x)[1]
    mu, log_var = mu_logvar[:, :2], mu_logvar[:, 2:]
    kl = 0.5 * (np.exp(log_var) + mu ** 2 - 1 - log_var).sum(1).mean()
    assert result["kl"] == pytest.approx(kl, rel=1e-10)
    assert result["loss"] == pytest.approx(reconstruction + 4.0 / N_FEATURES * kl, rel=1e-10)
    history = m.fit(x, x, epochs=1, batch_size=16, validation_split=0.2).history
    assert {"loss", "kl", "val_loss", "val_kl"} <= set(history)
    assert history["loss"][0] > 4.0 / N_FEATURES * history["kl"][0] > 0
    # A change of scale reaches a network made before it.
    sampler.penalty_scale = 0.0
    reconstruction = ((m.predict(x) - x) ** 2).mean()
    assert m.evaluate(x, x, return_dict=True)["loss"] == pytest.approx(reconstruction, rel=1e-10)


def test_a_batch_step_reports_each_penalty_on_its_layer():
    x = _data()
    m = model("tied-sparse-both")
    layer = m.layers[2]
    loss = m.train_on_batch(x[:10], x[:10])
    h = m.layer_outputs(x[:10])[1]  # the weights have moved by one step: recompute the value
    assert layer.penalty > 0
    assert isinstance(layer.penalty, float)
    again = m.evaluate(x[:10], x[:10], return_dict=True)
    rho = np.clip(h.mean(0), 1e-7, 1 - 1e-7)
    expected = 0.01 * np.abs(h).sum(1).mean() + 0.2 * (
        0.2 * np.log(0.2 / rho) + 0.8 * np.log(0.8 / (1 - rho))).sum()
    assert again["sparsity"] == pytest.approx(expected, rel=1e-10)
    assert np.isfinite(loss)


# ---------------------------------------------------------- saving, loading
@pytest.mark.parametrize("name", ["vae", "masking", "gaussian", "tied-sparse-both"])
@pytest.mark.parametrize("device", BACKENDS)
def test_saving_and_loading_reproduces_outputs_and_the_noise_stream(name, device, tmp_path):
    x = _data()
    m = model(name, device=device, scale=0.2)
    first = next(i for i, layer in enumerate(m.layers) if isinstance(layer, Dense))
    m.layers[first].trainable = False  # a frozen layer, saved frozen
    m.fit(x, x, epochs=2, batch_size=16)
    path = tmp_path / "model.nnf"
    m.save(path)
    with nnfast.backend.use_backend(device):
        loaded = nnfast.load_model(path)
    assert not loaded.layers[first].trainable
    for a, b in zip(loaded.layers, m.layers):
        assert a.get_config().keys() == b.get_config().keys()
        if isinstance(a, PenaltyLayer):
            assert a.penalty_scale == b.penalty_scale == 0.2
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    frozen = loaded.get_weights()[:2]
    # Training goes on with the same draws, and the frozen layer stays as it was.
    h1 = m.fit(x, x, epochs=1, batch_size=16).history
    h2 = loaded.fit(x, x, epochs=1, batch_size=16).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-12)
    for a, b in zip(loaded.get_weights(), m.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for a, b in zip(loaded.get_weights()[:2], frozen):
        np.testing.assert_array_equal(a, b)


def test_tied_layers_stay_tied_after_loading_and_train_once(tmp_path):
    x = _data()
    m = model("tied-sparse-kl")
    m.fit(x, x, epochs=1, batch_size=8)
    m.save(tmp_path / "tied.nnf")
    loaded = nnfast.load_model(tmp_path / "tied.nnf")
    encoder, decoder = loaded.layers[1], loaded.layers[3]
    assert decoder.tied_to is encoder
    assert np.shares_memory(decoder.W, encoder.W)
    loaded.fit(x, x, epochs=1, batch_size=8)
    assert isinstance(loaded._network, CpuNetwork)
    np.testing.assert_array_equal(decoder.W, encoder.W.T)
    # One kernel per tied pair: 2 kernels and 4 biases are trained.
    assert len(loaded.params) == 6


def test_copies_train_their_own_noise_streams():
    x = _data()
    m = model("masking")
    twin = copy.deepcopy(m)
    h1 = m.fit(x, x, epochs=1, batch_size=8).history
    h2 = twin.fit(x, x, epochs=1, batch_size=8).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-12)
    assert m.layers[0].random_state() == twin.layers[0].random_state()
