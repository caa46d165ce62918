"""BernoulliRBM: exact checks on tiny models, learning on digits, the estimator contract."""
import itertools
import json
import os

import numpy as np
import pytest

import nnfast
from nnfast.datasets import load_digits_sample
from nnfast.io import load_model, save_model
from nnfast.models import BernoulliRBM
from nnfast.plotting import (
    plot_rbm_filters, plot_rbm_history, plot_rbm_reconstructions, plot_rbm_samples,
)

PATTERNS = np.array([
    [1, 1, 1, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 1, 1, 1],
    [1, 0, 1, 0, 1, 0, 1, 0],
    [0, 1, 0, 1, 0, 1, 0, 1],
], dtype=np.float64)


def _states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _brute_force(W, b, c):
    """Free energy of every visible state and log Z, from the energy of every joint state."""
    n_hidden, n_visible = W.shape
    V, Hs = _states(n_visible), _states(n_hidden)
    # -E(v, h) = b.v + c.h + h.W.v for every (v, h) pair.
    neg_energy = (V @ b)[:, None] + (Hs @ c)[None, :] + V @ W.T @ Hs.T
    m = neg_energy.max()
    free_energy = -(m + np.log(np.exp(neg_energy - m).sum(axis=1)))
    log_z = m + np.log(np.exp(neg_energy - m).sum())
    return V, free_energy, log_z


def _tiny_model(n_visible, n_hidden, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    rbm = BernoulliRBM(n_hidden=n_hidden, epochs=1, batch_size=4, random_state=seed, dtype=dtype)
    rbm.fit((rng.random((8, n_visible)) < 0.5).astype(dtype))
    rbm.components_[...] = rng.normal(0, 1.0, (n_hidden, n_visible))
    rbm.intercept_visible_[...] = rng.normal(0, 0.5, n_visible)
    rbm.intercept_hidden_[...] = rng.normal(0, 0.5, n_hidden)
    return rbm


@pytest.fixture(scope="module")
def digits():
    images, _ = load_digits_sample(as_float=True, flatten=True)
    return (images > 0.5).astype(np.float32)


# --------------------------------------------------------------- exact checks
@pytest.mark.parametrize("n_visible, n_hidden", [(6, 4), (5, 9), (10, 10)])
def test_free_energy_and_partition_function_match_enumeration(n_visible, n_hidden):
    rbm = _tiny_model(n_visible, n_hidden)
    V, free_energy, log_z = _brute_force(rbm.components_, rbm.intercept_visible_,
                                         rbm.intercept_hidden_)
    np.testing.assert_allclose(rbm.free_energy(V), free_energy, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(rbm.log_partition(), log_z, rtol=1e-10)
    log_p = rbm.log_likelihood(V)
    np.testing.assert_allclose(log_p, -free_energy - log_z, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-10)


def test_float32_free_energy_matches_enumeration():
    rbm = _tiny_model(7, 5, dtype="float32")
    V, free_energy, log_z = _brute_force(rbm.components_.astype(np.float64),
                                         rbm.intercept_visible_.astype(np.float64),
                                         rbm.intercept_hidden_.astype(np.float64))
    np.testing.assert_allclose(rbm.free_energy(V), free_energy, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rbm.log_partition(), log_z, rtol=1e-6)


def test_pseudo_likelihood_matches_its_definition():
    rbm = _tiny_model(6, 4, seed=1)
    V, free_energy, _ = _brute_force(rbm.components_, rbm.intercept_visible_,
                                     rbm.intercept_hidden_)
    index = np.arange(len(V)) % 6
    pll = nnfast.get_ops("cpu").rbm_pseudo_likelihood(V, rbm.components_, rbm.intercept_visible_,
                                                      rbm.intercept_hidden_, index)
    # p(v_i | v_-i) = p(v) / (p(v) + p(v with v_i flipped)), from the enumerated free energies.
    flipped = V.copy()
    flipped[np.arange(len(V)), index] = 1 - flipped[np.arange(len(V)), index]
    rows = (flipped * 2 ** np.arange(5, -1, -1)).sum(axis=1).astype(int)
    conditional = 1 / (1 + np.exp(free_energy - free_energy[rows]))
    np.testing.assert_allclose(pll, 6 * np.log(conditional), rtol=1e-10)


def test_exact_quantities_refuse_large_models(digits):
    rbm = BernoulliRBM(n_hidden=30, epochs=1, random_state=0).fit(digits[:50])
    with pytest.raises(ValueError, match="enumerates"):
        rbm.log_partition()


@pytest.mark.parametrize("params, gain", [
    (dict(k=1, learning_rate=0.3), 2.5),
    (dict(k=3, momentum=0.5), 2.0),
    (dict(k=1, persistent=True, n_chains=8, momentum=0.5), 1.0),
    (dict(k=1, batch_size=1), 0.3),
], ids=["CD-1", "CD-3-momentum", "PCD-1", "CD-1-online"])
def test_training_raises_the_exact_log_likelihood(params, gain):
    rng = np.random.default_rng(0)
    X = PATTERNS[rng.integers(0, 4, 40)]
    kw = dict(n_hidden=6, learning_rate=0.1, batch_size=4, epochs=0, random_state=0,
              dtype="float64")
    kw.update(params)
    rbm = BernoulliRBM(**kw).fit(X)  # initialised, not trained
    start = rbm.log_likelihood(PATTERNS).mean()
    # The start is the independent model of the pixels: 8 * log(1/2) for these patterns.
    np.testing.assert_allclose(start, 8 * np.log(0.5), atol=0.1)
    while rbm.n_updates_ < 300:
        rbm.partial_fit(X[rng.permutation(len(X))])
    end = rbm.log_likelihood(PATTERNS).mean()
    # Runs with other seeds gain between 1.5 and 2 times ``gain``; the best
    # possible model of four equally likely patterns reaches log(1/4).
    assert end > start + gain, (start, end)
    assert end < np.log(0.25) + 1e-9


# ------------------------------------------------------------------- digits
def test_digits_reconstruction_error_falls_steadily(digits):
    rbm = BernoulliRBM(n_hidden=64, learning_rate=0.1, batch_size=10, epochs=8, random_state=0)
    rbm.fit(digits)
    errors = np.array(rbm.history_["reconstruction_error"])
    assert len(errors) == 8
    assert np.all(np.diff(errors) < 0), errors
    # Real runs end near 0.042; an untrained model is near 0.10.
    assert errors[-1] < 0.05, errors
    held_out = float(np.mean((digits[:200] - rbm.reconstruct(digits[:200])) ** 2))
    assert held_out < 0.06
    # The filters differ from one another: not one shape learned 64 times.
    corr = np.corrcoef(rbm.components_)
    off_diagonal = np.abs(corr[~np.eye(64, dtype=bool)])
    assert off_diagonal.mean() < 0.3 and np.median(off_diagonal) < 0.3
    assert rbm.components_.std(axis=1).min() > 0.05
    features = rbm.transform(digits[:500])
    assert features.shape == (500, 64)
    assert 0.02 < features.std(axis=0).mean()


# --------------------------------------------------------- estimator contract
def test_bad_input_raises_clear_errors():
    rbm = BernoulliRBM(n_hidden=3, epochs=1)
    X = np.full((4, 5), 0.5)
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[1, 2] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            rbm.fit(Xb)
    with pytest.raises(ValueError, match="2-D"):
        rbm.fit(np.zeros(5))
    with pytest.raises(ValueError, match="2-D"):
        rbm.fit(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="at least 1 sample"):
        rbm.fit(np.zeros((0, 5)))
    with pytest.raises(TypeError, match="numbers"):
        rbm.fit([["a", "b"]])
    with pytest.raises(nnfast.NotFittedError):
        rbm.transform(X)
    rbm.fit(X)  # probabilities in [0, 1] are valid input
    # Values outside [0, 1] are taken, with a warning: most often unscaled pixels.
    with pytest.warns(UserWarning, match=r"from 1.5 to 1.5.*\[0, 1\]"):
        BernoulliRBM(n_hidden=3, epochs=1).fit(X * 3)
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        rbm.transform(X - 1)
    with pytest.raises(ValueError, match="6 features, but the model expects 5"):
        rbm.transform(np.zeros((2, 6)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        rbm.transform(np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="expects 5"):
        rbm.partial_fit(np.zeros((2, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_interval_check_reads_the_bits(dtype):
    # One pass over the bits accepts most valid input; the rest (-0.0) goes
    # through min and max, as does anything out of range, NaN or infinite.
    from nnfast.models._rbm import check_unit_interval

    tiny = np.finfo(dtype).smallest_subnormal
    good = np.array([[0.0, 1.0, 0.5, tiny], [1.0, -0.0, 0.25, 0.0]], dtype)
    assert check_unit_interval(good) is good
    assert check_unit_interval(good[:, ::2]) is not None
    for outside in (-tiny, np.nextafter(dtype(1), dtype(2)), 3.0, 255.0):
        with pytest.warns(UserWarning, match="binary"):
            assert check_unit_interval(np.array([[0.5, outside]], dtype)) is not None
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="NaN or infinite"):
            check_unit_interval(np.array([[0.5, bad]], dtype))


@pytest.mark.parametrize("params, error", [
    (dict(n_hidden=0), ValueError), (dict(n_hidden=2.5), TypeError),
    (dict(k=0), ValueError), (dict(momentum=1.0), ValueError),
    (dict(learning_rate=-0.1), ValueError), (dict(batch_size=0), ValueError),
    (dict(weight_decay=-1e-4), ValueError), (dict(dtype="int32"), ValueError),
    (dict(n_chains=0, persistent=True), ValueError), (dict(device="tpu"), ValueError),
])
def test_bad_hyperparameters_raise(params, error):
    with pytest.raises(error):
        BernoulliRBM(**params).fit(np.zeros((4, 3)))


def test_same_random_state_same_model_and_partial_fit_equals_fit(digits):
    X = digits[:300]
    kw = dict(n_hidden=20, learning_rate=0.05, batch_size=7, momentum=0.5, random_state=3)
    a = BernoulliRBM(epochs=2, **kw).fit(X)
    b = BernoulliRBM(epochs=2, **kw).fit(X)
    c = BernoulliRBM(epochs=2, **{**kw, "random_state": 4}).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert not np.allclose(a.components_, c.components_)
    # One unshuffled epoch of fit is the sequence of partial_fit calls on its batches.
    fitted = BernoulliRBM(epochs=1, shuffle=False, **kw).fit(X)
    partial = BernoulliRBM(epochs=0, **kw).fit(X)  # initialised from X, not trained
    assert partial.n_updates_ == 0
    for start in range(0, len(X), 7):
        partial.partial_fit(X[start:start + 7])
    for name in ("components_", "intercept_visible_", "intercept_hidden_"):
        np.testing.assert_allclose(getattr(partial, name), getattr(fitted, name), rtol=1e-6,
                                   atol=1e-7)
    assert partial.n_updates_ == fitted.n_updates_ == 43


@pytest.mark.parametrize("batch_size", [1, 16])
def test_partial_fit_initialises_lazily_and_counts_updates(digits, batch_size):
    rbm = BernoulliRBM(n_hidden=10, batch_size=batch_size, random_state=0)
    assert not hasattr(rbm, "components_")
    rbm.partial_fit(digits[:32])
    assert rbm.components_.shape == (10, 784)
    assert rbm.n_updates_ == 32 // batch_size and rbm.n_iter_ == 1
    rbm.partial_fit(digits[32:48])
    assert rbm.n_updates_ == 48 // batch_size and rbm.n_iter_ == 2
    assert len(rbm.history_["reconstruction_error"]) == 2


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_online_partial_fit_one_sample_at_a_time_equals_fit(digits, momentum):
    # The online rule makes the same updates whether the samples come in one
    # epoch or one partial_fit call each.
    X = digits[:120]
    kw = dict(n_hidden=24, learning_rate=0.05, batch_size=1, momentum=momentum, random_state=5)
    fitted = BernoulliRBM(epochs=1, shuffle=False, **kw).fit(X)
    partial = BernoulliRBM(epochs=0, **kw).fit(X)
    for row in X:
        partial.partial_fit(row[None])
    for name in ("components_", "intercept_visible_", "intercept_hidden_"):
        np.testing.assert_array_equal(getattr(partial, name), getattr(fitted, name))
    assert partial.n_updates_ == fitted.n_updates_ == 120


def test_online_mode_learns(digits):
    rbm = BernoulliRBM(n_hidden=32, learning_rate=0.02, batch_size=1, epochs=3, random_state=0)
    rbm.fit(digits[:600])
    errors = rbm.history_["reconstruction_error"]
    assert rbm.n_updates_ == 1800
    assert errors[-1] < errors[0] < 0.1


def test_sampling_reproduces_the_training_patterns():
    rng = np.random.default_rng(0)
    X = np.repeat(PATTERNS[:2], 50, axis=0)[rng.permutation(100)]
    rbm = BernoulliRBM(n_hidden=4, learning_rate=0.2, batch_size=5, epochs=60, random_state=0)
    rbm.fit(X)
    np.testing.assert_array_equal(rbm.reconstruct(PATTERNS[:2]).round(), PATTERNS[:2])
    samples = rbm.sample(50, steps=20)
    assert samples.shape == (50, 8) and set(np.unique(samples)) <= {0.0, 1.0}
    hits = [(s == PATTERNS[0]).all() or (s == PATTERNS[1]).all() for s in samples]
    assert np.mean(hits) > 0.8
    prob = rbm.sample(5, steps=5, return_probabilities=True)
    assert prob.min() >= 0 and prob.max() <= 1 and not set(np.unique(prob)) <= {0.0, 1.0}
    chained = rbm.gibbs(PATTERNS[:2], steps=3)
    assert chained.shape == (2, 8)
    started = rbm.sample(2, steps=1, init=PATTERNS[:2])
    assert started.shape == (2, 8)
    with pytest.raises(ValueError, match="rows"):
        rbm.sample(3, init=PATTERNS[:2])
    # The trained patterns are far more likely than the others.
    pll = rbm.score_samples(np.vstack([PATTERNS[:2], PATTERNS[2:]]))
    assert pll[:2].min() > pll[2:].max()


def test_persistent_chains_and_history(digits):
    rbm = BernoulliRBM(n_hidden=16, persistent=True, n_chains=5, batch_size=20, epochs=2,
                       track_pseudo_likelihood=True, random_state=0)
    rbm.fit(digits[:200])
    assert rbm.chains_.shape == (5, 784) and set(np.unique(rbm.chains_)) <= {0.0, 1.0}
    assert len(rbm.history_["pseudo_likelihood"]) == 2
    assert len(rbm.history_["epoch_time"]) == 2
    rbm.set_params(n_chains=3)
    rbm.partial_fit(digits[:20])
    assert rbm.chains_.shape == (3, 784)


def test_save_and_load_continue_training_identically(tmp_path, digits):
    X = digits[:120]
    rbm = BernoulliRBM(n_hidden=12, persistent=True, momentum=0.5, weight_decay=1e-4,
                       batch_size=10, epochs=2, random_state=0, track_pseudo_likelihood=True)
    rbm.fit(X)
    path = tmp_path / "rbm.nnf"
    rbm.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, BernoulliRBM)
    assert loaded.get_params() == rbm.get_params()
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "chains_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(rbm, name))
    assert loaded.history_ == rbm.history_ and loaded.n_updates_ == rbm.n_updates_
    np.testing.assert_array_equal(loaded.transform(X[:5]), rbm.transform(X[:5]))
    rbm.partial_fit(X[:30])
    loaded.partial_fit(X[:30])
    np.testing.assert_array_equal(loaded.components_, rbm.components_)
    np.testing.assert_array_equal(loaded.chains_, rbm.chains_)
    unfitted = tmp_path / "unfitted.nnf"
    save_model(BernoulliRBM(n_hidden=3), unfitted)
    assert not hasattr(load_model(unfitted), "components_")


def test_float64_numpy_backend_and_thread_count(digits):
    X = digits[:100]
    ref = BernoulliRBM(n_hidden=8, epochs=3, batch_size=10, dtype="float64", device="numpy",
                       random_state=0).fit(X)
    assert ref.components_.dtype == np.float64
    errors = ref.history_["reconstruction_error"]
    assert errors[-1] < errors[0]
    kw = dict(n_hidden=24, epochs=1, batch_size=50, random_state=0)
    try:
        nnfast.set_num_threads(1)
        one = BernoulliRBM(**kw).fit(digits[:400])
    finally:
        nnfast.set_num_threads(None)
    two = BernoulliRBM(**kw).fit(digits[:400])
    np.testing.assert_allclose(one.components_, two.components_, rtol=1e-5, atol=1e-7)


def test_params_clone_and_pipeline(digits):
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is optional")
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    rbm = BernoulliRBM(n_hidden=64, epochs=10, random_state=0)
    assert clone(rbm).get_params() == rbm.get_params()
    assert "n_hidden=64" in repr(rbm)
    _, labels = load_digits_sample()
    pipe = Pipeline([("rbm", rbm), ("clf", LogisticRegression(max_iter=200))])
    pipe.fit(digits[:300], labels[:300])
    assert pipe.score(digits[300:500], labels[300:500]) > 0.5
    assert sklearn.__version__


def test_fit_transform_and_free_energy_shapes(digits):
    rbm = BernoulliRBM(n_hidden=5, epochs=1, random_state=0)
    features = rbm.fit_transform(digits[:30])
    assert features.shape == (30, 5) and features.dtype == np.float32
    assert rbm.free_energy(digits[:4]).shape == (4,)
    assert rbm.score_samples(digits[:4]).shape == (4,)


# ------------------------------------------------------------- plots and demo
def test_plots_write_pngs(tmp_path, digits):
    rbm = BernoulliRBM(n_hidden=10, epochs=2, random_state=0,
                       track_pseudo_likelihood=True).fit(digits[:100])
    figures = {
        "filters.png": plot_rbm_filters(rbm, path=tmp_path / "filters.png"),
        "filters_global.png": plot_rbm_filters(rbm.components_, scale="global", n_filters=6,
                                               path=tmp_path / "filters_global.png"),
        "recon.png": plot_rbm_reconstructions(rbm, digits[:6], path=tmp_path / "recon.png"),
        "history.png": plot_rbm_history(rbm, path=tmp_path / "history.png"),
        "samples.png": plot_rbm_samples(rbm, n_samples=4, steps=5, path=tmp_path / "samples.png"),
    }
    for name, fig in figures.items():
        assert (tmp_path / name).stat().st_size > 1000
        assert fig.axes
    assert len(figures["history.png"].axes) == 2  # error and pseudo-likelihood
    assert len(figures["filters_global.png"].axes) == 2  # image and colour bar
    with pytest.raises(ValueError, match="image_shape"):
        plot_rbm_filters(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="no reconstruction errors"):
        plot_rbm_history({})


def test_demo_runs_quickly(tmp_path):
    from nnfast.demos import rbm as demo

    summary = demo.run(tmp_path, quick=True)
    json.dumps(summary)
    assert summary["reconstruction_error"] < 0.1
    for path in summary["files"].values():
        assert os.path.getsize(path) > 1000


def test_pseudo_likelihood_of_a_sample_does_not_depend_on_the_others(digits):
    rbm = BernoulliRBM(n_hidden=16, epochs=1, random_state=0).fit(digits[:100])
    X = digits[100:160]
    scores = rbm.score_samples(X)
    np.testing.assert_array_equal(rbm.score_samples(X), scores)
    order = np.random.default_rng(1).permutation(len(X))
    # (Equal up to rounding: the products of a batch of 2 rows and one of 60
    # may add their terms in another order.)
    np.testing.assert_allclose(rbm.score_samples(X[order]), scores[order], rtol=1e-7)
    np.testing.assert_allclose(rbm.score_samples(X[7:9]), scores[7:9], rtol=1e-7)
    assert rbm.score(X) == pytest.approx(scores.mean())
    # The flipped units vary from sample to sample.
    assert len(np.unique(rbm._flipped_units(X))) > 20
