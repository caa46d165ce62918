"""The Perceptron estimator, the logic-gate exercises and the capacity experiment."""
import json
import os

import numpy as np
import pytest
from matplotlib.figure import Figure

from nnfast._validation import NotFittedError
from nnfast.backend import get_ops
from nnfast.datasets import logic_gate
from nnfast.io import load_model
from nnfast.models import (
    CapacityResult, Perceptron, cover_fraction, logic_gate_exercise, perceptron_capacity,
)
from nnfast.models._perceptron import _seed_from
from nnfast.plotting import (
    plot_capacity, plot_decision_line, plot_gate_exercise, plot_perceptron_errors,
)


def separable(n_samples, n_features, seed, margin=0.05):
    """Gaussian points labelled +-1 by a random hyperplane, none closer than ``margin``."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n_features)
    u /= np.linalg.norm(u)
    offset = rng.uniform(-0.5, 0.5)
    X = rng.normal(size=(4 * n_samples, n_features))
    s = X @ u + offset
    keep = np.abs(s) > margin
    X, s = X[keep][:n_samples], s[keep][:n_samples]
    return X, np.where(s > 0, 1.0, -1.0)


def textbook_online(X, t, orders, lr, fit_intercept=True):
    """The perceptron rule written out plainly, visiting samples in the given orders."""
    w, b = np.zeros(X.shape[1]), 0.0
    errors = []
    for order in orders:
        n_errors = 0
        for i in order:
            if t[i] * (X[i] @ w + b) <= 0:
                w += lr * t[i] * X[i]
                if fit_intercept:
                    b += lr * t[i]
                n_errors += 1
        errors.append(n_errors)
        if n_errors == 0:
            break
    return w, b, errors


def textbook_batch(X, t, lr, max_epochs):
    w, b = np.zeros(X.shape[1]), 0.0
    errors = []
    for _ in range(max_epochs):
        wrong = np.flatnonzero(t * (X @ w + b) <= 0)
        for i in wrong:
            w += lr * t[i] * X[i]
            b += lr * t[i]
        errors.append(len(wrong))
        if len(wrong) == 0:
            break
    return w, b, errors


# --------------------------------------------------------------- the exercises
@pytest.mark.parametrize("gate", ["and", "or"])
@pytest.mark.parametrize("n_inputs", [2, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_and_or_are_learned_with_zero_training_errors(gate, n_inputs, shuffle):
    ex = logic_gate_exercise(gate, n_inputs, shuffle=shuffle, random_state=1)
    X, y = logic_gate(gate, n_inputs)
    assert ex.learned and ex.training_errors == 0
    assert np.array_equal(ex.model.predict(X), y)
    assert ex.model.converged_ and ex.errors[-1] == 0 and ex.n_epochs == len(ex.errors)
    assert ex.model.score(X, y) == 1.0


@pytest.mark.parametrize("rule", ["online", "batch"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_xor_is_not_learned_and_errs_in_every_epoch(rule, shuffle):
    ex = logic_gate_exercise("xor", 2, max_epochs=37, rule=rule, shuffle=shuffle, random_state=0)
    assert not ex.learned and not ex.model.converged_
    assert ex.n_epochs == 37 and len(ex.errors) == 37
    assert min(ex.errors) > 0


def test_parity_of_three_inputs_is_not_learned():
    ex = logic_gate_exercise("xor", 3, max_epochs=50)
    assert not ex.learned and min(ex.errors) > 0


def test_exercise_writes_its_picture(tmp_path):
    path = tmp_path / "and2.png"
    ex = logic_gate_exercise("and", 2, path=path)
    assert path.stat().st_size > 5000
    assert "gate='and'" in repr(ex)
    assert isinstance(ex.plot(), Figure)


# ------------------------------------------------ agreement with the plain rule
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("lr", [1.0, 0.1])
def test_fixed_order_gives_exactly_the_textbook_weights(fit_intercept, lr):
    X, t = separable(150, 7, seed=3)
    model = Perceptron(learning_rate=lr, shuffle=False, max_epochs=1000,
                       fit_intercept=fit_intercept).fit(X, t)
    orders = [np.arange(len(X))] * 1000
    w, b, errors = textbook_online(X, t, orders, lr, fit_intercept)
    assert model.converged_ == (errors[-1] == 0)
    assert model.history_["errors"] == errors
    assert np.array_equal(model.coef_, w)
    assert model.intercept_ == b


@pytest.mark.parametrize("seed", [0, 1])
def test_shuffled_order_gives_exactly_the_textbook_weights(seed):
    X, t = separable(120, 5, seed=10 + seed)
    model = Perceptron(learning_rate=0.3, random_state=seed, max_epochs=500).fit(X, t)
    assert model.converged_
    # The same orders, drawn by the reference generator.
    orders = get_ops("numpy").perceptron_orders(len(X), model.n_epochs_, _seed_from(seed))
    w, b, errors = textbook_online(X, t, orders, 0.3)
    assert model.history_["errors"] == errors
    assert np.array_equal(model.coef_, w)
    assert model.intercept_ == b


def test_batch_rule_gives_exactly_the_textbook_weights():
    X, t = separable(100, 4, seed=5, margin=0.2)
    model = Perceptron(rule="batch", learning_rate=0.5, max_epochs=2000).fit(X, t)
    w, b, errors = textbook_batch(X, t, 0.5, 2000)
    assert model.converged_ and errors[-1] == 0
    assert model.history_["errors"] == errors
    assert np.array_equal(model.coef_, w) and model.intercept_ == b
    assert model.score(X, t) == 1.0


def test_numpy_backend_gives_the_same_model():
    X, t = separable(60, 3, seed=8)
    a = Perceptron(learning_rate=0.7, random_state=4).fit(X, t)
    b = Perceptron(learning_rate=0.7, random_state=4, device="numpy").fit(X, t)
    assert np.array_equal(a.coef_, b.coef_) and a.intercept_ == b.intercept_
    assert a.history_ == b.history_


# ------------------------------------------------------------------ behaviour
def test_learning_rate_only_scales_the_weights():
    X, y = logic_gate("or", 4)
    a = Perceptron(learning_rate=1.0, shuffle=False).fit(X, y)
    b = Perceptron(learning_rate=0.25, shuffle=False).fit(X, y)
    assert a.history_ == b.history_
    np.testing.assert_allclose(b.coef_, 0.25 * a.coef_)
    assert b.intercept_ == pytest.approx(0.25 * a.intercept_)


def test_fitted_attributes_and_decision_function():
    X, t = separable(80, 3, seed=2)
    model = Perceptron(random_state=0).fit(X, t)
    assert model.fit(X, t) is model
    assert model.coef_.shape == (3,) and model.coef_.dtype == np.float64
    assert isinstance(model.intercept_, float)
    assert model.n_features_in_ == 3
    assert model.n_epochs_ == len(model.history_["errors"])
    scores = model.decision_function(X)
    assert scores.shape == (80,)
    np.testing.assert_allclose(scores, X @ model.coef_ + model.intercept_)
    assert np.array_equal(model.predict(X), np.where(scores > 0, 1.0, -1.0))


def test_without_intercept_the_line_goes_through_the_origin():
    X, y = logic_gate("and", 2)
    model = Perceptron(fit_intercept=False, shuffle=False, max_epochs=20).fit(X, y)
    assert model.intercept_ == 0.0
    assert not model.converged_  # AND needs a bias in +-1 coding


@pytest.mark.parametrize("labels", [
    (-1, 1), (0, 1), ("no", "yes"), (False, True), (2.5, 7.0), ("cat", "ant"),
])
def test_any_two_labels(labels):
    X, t = separable(60, 2, seed=4)
    y = np.where(t > 0, labels[1], labels[0])
    model = Perceptron(random_state=0).fit(X, y.tolist())
    assert sorted(model.classes_.tolist()) == sorted(labels)
    assert np.array_equal(model.predict(X), y)
    assert model.score(X, y) == 1.0
    # classes_[1] is the class of positive scores.
    positive = model.decision_function(X) > 0
    assert np.all(y[positive] == model.classes_[1])


def test_same_random_state_same_model_other_state_other_order():
    X, t = separable(200, 6, seed=6)
    a = Perceptron(random_state=11).fit(X, t)
    b = Perceptron(random_state=11).fit(X, t)
    c = Perceptron(random_state=12).fit(X, t)
    assert np.array_equal(a.coef_, b.coef_) and a.history_ == b.history_
    assert not np.array_equal(a.coef_, c.coef_)


def test_get_and_set_params():
    model = Perceptron(learning_rate=0.5, rule="batch")
    params = model.get_params()
    assert params == {"learning_rate": 0.5, "max_epochs": 100, "rule": "batch", "shuffle": True,
                      "fit_intercept": True, "random_state": None, "device": None}
    assert model.set_params(max_epochs=7, shuffle=False) is model
    assert model.max_epochs == 7 and model.shuffle is False
    assert repr(model) == ("Perceptron(learning_rate=0.5, max_epochs=7, rule='batch', "
                           "shuffle=False)")
    with pytest.raises(ValueError, match="Invalid parameter 'epochs'"):
        model.set_params(epochs=3)


def test_save_and_load_round_trip(tmp_path):
    X, t = separable(50, 3, seed=9)
    y = np.where(t > 0, "spam", "ham")
    model = Perceptron(learning_rate=0.2, random_state=5).fit(X, y)
    model.save(tmp_path / "p.nnf")
    loaded = load_model(tmp_path / "p.nnf")
    assert isinstance(loaded, Perceptron) and loaded.get_params() == model.get_params()
    assert loaded.classes_.tolist() == ["ham", "spam"]
    assert np.array_equal(loaded.coef_, model.coef_) and loaded.intercept_ == model.intercept_
    assert loaded.history_ == model.history_ and loaded.n_epochs_ == model.n_epochs_
    assert np.array_equal(loaded.predict(X), y)
    Perceptron(max_epochs=3).save(tmp_path / "unfitted.nnf")
    unfitted = load_model(tmp_path / "unfitted.nnf")
    assert unfitted.max_epochs == 3 and not hasattr(unfitted, "coef_")


# ------------------------------------------------------------------ bad input
def test_bad_input_raises_clear_errors():
    X, t = separable(20, 3, seed=1)
    model = Perceptron()
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.fit(np.where(np.arange(60).reshape(20, 3) == 7, np.nan, X), t)
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.fit(np.where(np.arange(60).reshape(20, 3) == 7, np.inf, X), t)
    with pytest.raises(ValueError, match="single class"):
        model.fit(X, np.ones(20))
    with pytest.raises(ValueError, match="3 classes"):
        model.fit(X, np.arange(20) % 3)
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.fit(X, t[:-1])
    with pytest.raises(ValueError, match="2-D"):
        model.fit(X[:, 0], t)
    with pytest.raises(NotFittedError):
        model.predict(X)
    model.fit(X, t)
    with pytest.raises(ValueError, match="has 2 features, but the model expects 3"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="has 4 features"):
        model.decision_function(np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.score(X, t[:5])


@pytest.mark.parametrize("params, error", [
    ({"learning_rate": 0.0}, ValueError), ({"learning_rate": -1.0}, ValueError),
    ({"learning_rate": np.nan}, ValueError), ({"max_epochs": 0}, ValueError),
    ({"max_epochs": 2.5}, TypeError), ({"rule": "pocket"}, ValueError),
    ({"shuffle": "yes"}, TypeError), ({"random_state": "seed"}, TypeError),
    ({"device": "tpu"}, ValueError),
])
def test_bad_hyperparameters_raise_at_fit(params, error):
    X, y = logic_gate("and", 2)
    with pytest.raises(error):
        Perceptron(**params).fit(X, y)


# ------------------------------------------------------------------- capacity
@pytest.fixture(scope="module")
def capacity_n50():
    return perceptron_capacity(n_features=50, n_patterns=range(10, 151, 10), n_trials=40,
                               max_epochs=2000, random_state=0)


def test_capacity_below_n_is_always_learned_and_at_3n_almost_never(capacity_n50):
    table = capacity_n50.table()
    assert np.all(table["fraction_learned"][table["p"] <= 50] == 1.0)
    assert table["fraction_learned"][table["p"] == 150][0] <= 0.05
    assert np.all(np.diff(table["fraction_learned"]) <= 0.1)  # falls, up to sampling noise


def test_capacity_follows_cover(capacity_n50):
    f, cover = capacity_n50.fraction_learned, capacity_n50.theory
    # Close everywhere, and closest away from p = 2N, where a perceptron can
    # need more than max_epochs epochs for a learnable dichotomy.
    assert np.max(np.abs(f - cover)) < 0.25
    assert np.mean(np.abs(f - cover)) < 0.05
    # The fraction crosses one half between p = 1.6 N and p = 2.2 N.
    alpha = capacity_n50.alpha
    assert alpha[f >= 0.5].max() >= 1.6 and alpha[f < 0.5].min() <= 2.2


def test_capacity_table_and_summary(capacity_n50):
    assert isinstance(capacity_n50, CapacityResult)
    table = capacity_n50.table()
    assert list(table) == ["p", "alpha", "fraction_learned", "mean_epochs", "cover"]
    np.testing.assert_allclose(table["alpha"], np.arange(10, 151, 10) / 50)
    learned, epochs = capacity_n50.learned, capacity_n50.epochs
    assert learned.shape == epochs.shape == (15, 40)
    assert np.all(epochs[~learned] == 2000) and np.all(epochs[learned] < 2000)
    np.testing.assert_allclose(table["mean_epochs"][0], epochs[0].mean())
    assert np.isnan(table["mean_epochs"][-1])
    summary = json.loads(json.dumps(capacity_n50.to_dict(), allow_nan=False))
    assert summary["mean_epochs"][-1] is None and summary["n_trials"] == 40
    text = str(capacity_n50)
    assert text.splitlines()[0].split() == ["p", "p/N", "learned", "Cover", "epochs"]
    assert len(text.splitlines()) == 16


def test_capacity_is_reproducible_and_independent_of_threads_and_sweep():
    kw = dict(n_features=15, n_trials=12, max_epochs=300)
    a = perceptron_capacity(n_patterns=[5, 20, 30, 40], random_state=3, n_jobs=1, **kw)
    b = perceptron_capacity(n_patterns=[5, 20, 30, 40], random_state=3, n_jobs=2, **kw)
    c = perceptron_capacity(n_patterns=[30], random_state=3, **kw)
    d = perceptron_capacity(n_patterns=[5, 20, 30, 40], random_state=4, **kw)
    assert np.array_equal(a.learned, b.learned) and np.array_equal(a.epochs, b.epochs)
    assert np.array_equal(c.epochs[0], a.epochs[2])
    assert not np.array_equal(a.epochs, d.epochs)


def test_capacity_with_bias_uses_n_plus_one_dimensions():
    result = perceptron_capacity(n_features=20, n_patterns=[10, 42], n_trials=60,
                                 max_epochs=2000, fit_intercept=True, random_state=1)
    assert result.n_dims == 21
    np.testing.assert_allclose(result.theory, [1.0, 0.5])
    assert result.fraction_learned[0] == 1.0
    assert abs(result.fraction_learned[1] - 0.5) < 0.25


def test_capacity_on_the_reference_backend_matches():
    kw = dict(n_features=8, n_patterns=[4, 12, 20], n_trials=3, max_epochs=40, random_state=2)
    a = perceptron_capacity(**kw)
    b = perceptron_capacity(device="numpy", **kw)
    assert np.array_equal(a.learned, b.learned) and np.array_equal(a.epochs, b.epochs)


@pytest.mark.parametrize("kwargs, error", [
    ({"n_features": 0}, ValueError), ({"n_patterns": []}, ValueError),
    ({"n_patterns": [10, 0]}, ValueError), ({"n_patterns": [2.5]}, ValueError),
    ({"n_trials": 0}, ValueError), ({"max_epochs": -1}, ValueError),
    ({"n_jobs": 0}, ValueError), ({"fit_intercept": 1}, TypeError),
])
def test_capacity_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        perceptron_capacity(**{"n_features": 5, "n_patterns": [5], "n_trials": 2, **kwargs})


def test_cover_fraction_values():
    assert cover_fraction(50, 50) == 1.0
    assert cover_fraction(100, 50) == pytest.approx(0.5)
    assert cover_fraction(3, 2) == pytest.approx(0.75)    # 6 of the 8 dichotomies of 3 points
    p = np.arange(1, 400)
    f = cover_fraction(p, 100)
    assert np.all(np.diff(f) <= 0) and f[-1] < 1e-10 and np.all(np.isfinite(f))
    # Against the sum written out, in exact integers.
    from math import comb
    exact = [2 * sum(comb(q - 1, k) for k in range(10)) / 2**q for q in range(1, 40)]
    np.testing.assert_allclose(cover_fraction(np.arange(1, 40), 10), exact, rtol=1e-12)
    with pytest.raises(ValueError):
        cover_fraction([0, 3], 2)


# ---------------------------------------------------------------------- plots
def test_plots_return_figures_and_write_pngs(tmp_path, capacity_n50):
    ex = logic_gate_exercise("or", 2)
    figures = {
        "errors.png": plot_perceptron_errors(ex.model, path=tmp_path / "errors.png"),
        "line.png": plot_decision_line(ex.model, ex.X, ex.y, path=tmp_path / "line.png"),
        "gate.png": plot_gate_exercise(ex, path=tmp_path / "gate.png"),
        "capacity.png": plot_capacity(capacity_n50, path=tmp_path / "capacity.png"),
        "long.png": plot_perceptron_errors(list(range(200, 0, -1)) + [0],
                                           path=tmp_path / "long.png"),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert isinstance(capacity_n50.plot(), Figure)
    with pytest.raises(ValueError, match="two features"):
        plot_decision_line(logic_gate_exercise("or", 3).model, *logic_gate("or", 3))
    with pytest.raises(ValueError, match="errors"):
        plot_perceptron_errors({"loss": [1.0]})


def test_demo_runs_quickly_and_summarises(tmp_path):
    from nnfast.demos import perceptron

    summary = perceptron.run(tmp_path, quick=True)
    json.dumps(summary, allow_nan=False)
    assert [(g["gate"], g["n_inputs"], g["learned"]) for g in summary["gates"]] == [
        ("and", 2, True), ("and", 4, True), ("or", 2, True), ("or", 4, True), ("xor", 2, False)]
    assert len(summary["files"]) == 6
    for path in summary["files"].values():
        assert os.path.dirname(path) == str(tmp_path) and os.path.getsize(path) > 5000
    assert summary["cover_fraction_at_p_2N"] == pytest.approx(0.5)
    assert 0.1 <= summary["fraction_learned_at_p_2N"] <= 0.7
    assert summary["capacity_table"]["p"][-1] == 60
