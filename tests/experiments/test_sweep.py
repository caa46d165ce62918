"""Sweeps on this machine: the grid, the table, the curves, the stopping rules, the processes."""
import csv

import numpy as np
import pytest

import nnfast
from nnfast import MLPClassifier, MLPRegressor, Perceptron
from nnfast.datasets import load_digits_sample
from nnfast.experiments import SweepResult, expand_grid, sweep
from nnfast.experiments._sweep import MEASURES


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_sample(as_float=True, flatten=True)
    return X[:500], y[:500]


def _table(result):
    """The rows without the timings, which no two runs share."""
    return [{k: v for k, v in row.items() if k != "fit_seconds"} for row in result.rows]


def test_grid_expands_in_order_and_unions_lists():
    grid = {"a": [1, 2], "b": ["x", "y", "z"]}
    combos = expand_grid(grid)
    assert combos[:3] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}]
    assert len(combos) == 6
    assert expand_grid([{"a": [1]}, {"b": [2, 3]}]) == [{"a": 1}, {"b": 2}, {"b": 3}]
    for bad in ({}, [], {"a": []}, {"a": "abc"}, {"a": 3}, [{"a": [1]}, 5]):
        with pytest.raises(TypeError):
            expand_grid(bad)


def test_table_curves_and_best_run(digits, tmp_path):
    X, y = digits
    grid = {"optimizer": ["adam", "sgd"], "hidden_layer_sizes": [(8,), (16,)]}
    result = sweep(MLPClassifier(epochs=4, batch_size=32, learning_rate=0.01), grid, X, y)
    assert isinstance(result, SweepResult)
    assert result.params == expand_grid(grid)
    assert result.param_names == ["optimizer", "hidden_layer_sizes"]
    assert result.columns == ["optimizer", "hidden_layer_sizes", *MEASURES]
    for params, row, curve in zip(result.params, result.rows, result.curves):
        assert {k: row[k] for k in params} == params
        assert row["epochs"] == len(curve) == 4
        assert row["val_error"] == curve[-1]  # no early stopping: the last epoch's model
        assert 0 <= row["train_error"] <= 1 and row["fit_seconds"] > 0
        # 100 validation samples: errors are multiples of 1/100.
        assert np.allclose(np.array(curve) * 100, np.round(np.array(curve) * 100))
    errors = [row["val_error"] for row in result.rows]
    assert result.best_params == result.params[int(np.argmin(errors))]
    # Adam at 0.01 learns the digits in 4 epochs; SGD at 0.01 barely starts.
    assert result.best_params["optimizer"] == "adam" and min(errors) < 0.3

    path = result.to_csv(tmp_path / "sweep.csv")
    with open(path) as f:
        read = list(csv.DictReader(f))
    assert [r["optimizer"] for r in read] == ["adam", "adam", "sgd", "sgd"]
    assert [float(r["val_error"]) for r in read] == errors
    assert read[0]["hidden_layer_sizes"] == "(8,)"

    text = result.to_markdown()
    lines = text.splitlines()
    assert lines[0] == "| " + " | ".join(result.columns) + " |"
    assert len(lines) == 2 + len(result.rows)
    assert lines[2 + result.best_index].startswith("| **")
    assert sum("**" in line for line in lines) == 1


def test_same_seeds_same_table_and_a_sample_of_the_grid(digits):
    X, y = digits
    grid = {"activation": ["relu", "tanh", "sigmoid"], "hidden_layer_sizes": [(4,), (8,)],
            "learning_rate": [0.003, 0.01]}
    est = MLPClassifier(epochs=2, batch_size=50)
    first = sweep(est, grid, X, y, n_iter=5, random_state=4)
    again = sweep(est, grid, X, y, n_iter=5, random_state=4)
    assert len(first.rows) == 5 and _table(first) == _table(again)
    assert first.curves == again.curves
    everything = expand_grid(grid)
    assert all(p in everything for p in first.params)
    assert len({tuple(sorted(p.items())) for p in first.params}) == 5
    assert sweep(est, grid, X, y, n_iter=5, random_state=5).params != first.params
    assert len(sweep(est, {"activation": ["relu"]}, X, y, n_iter=9).rows) == 1
    assert est.random_state is None and not hasattr(est, "model_")


def test_processes_give_the_same_table_and_share_the_cores(digits):
    X, y = digits
    grid = {"hidden_layer_sizes": [(4,), (8,), (16,)]}
    est = MLPClassifier(epochs=3, batch_size=50)
    local = sweep(est, grid, X, y)
    parallel = sweep(est, grid, X, y, n_jobs=2)
    assert _table(parallel) == _table(local) and parallel.curves == local.curves
    # A scoring function that reports each run's thread count as its "error".
    threads = sweep(est, grid, X, y, n_jobs=2, scoring=lambda e, X, y: float(nnfast.get_num_threads()))
    cores = len(__import__("os").sched_getaffinity(0))
    assert all(2 * row["val_error"] <= max(cores, 2) for row in threads.rows)


def test_early_stopping_keeps_the_best_epoch(digits):
    X, y = digits
    est = MLPClassifier(hidden_layer_sizes=(32,), learning_rate=0.05, epochs=40, batch_size=25,
                        early_stopping=True, patience=2, random_state=0)
    result = sweep(est, {"tol": [0.0, 0.05]}, X, y)
    for row, curve in zip(result.rows, result.curves):
        assert row["epochs"] == len(curve) < 40
        assert row["val_error"] == min(curve)  # the best epoch's weights are kept
    # A larger tolerance counts fewer epochs as improvements, so it stops sooner.
    assert result.rows[1]["epochs"] <= result.rows[0]["epochs"]


def test_training_loss_rule_matches_fit(digits):
    X, y = digits
    est = MLPClassifier(hidden_layer_sizes=(8,), epochs=30, batch_size=50, tol=0.2, patience=3,
                        random_state=1)
    result = sweep(est, {"learning_rate": [0.001, 0.01]}, X, y)
    # The sweep's split: its generator draws the runs' seed, then the held-out rows.
    rng = np.random.default_rng(0)
    rng.integers(2**31 - 1)
    train = rng.permutation(len(X))[100:]
    for params, row in zip(result.params, result.rows):
        fitted = MLPClassifier(**{**est.get_params(), **params}).fit(X[train], y[train])
        assert row["epochs"] == fitted.n_iter_ < 30


def test_regressor_scorings_and_other_estimators(digits):
    rng = np.random.default_rng(0)
    Xr = rng.uniform(-1, 1, size=(300, 2))
    yr = Xr[:, 0] * Xr[:, 1]
    est = MLPRegressor(hidden_layer_sizes=(8,), epochs=3, batch_size=30)
    mse = sweep(est, {"activation": ["tanh", "relu"]}, Xr, yr)
    mae = sweep(est, {"activation": ["tanh", "relu"]}, Xr, yr, scoring="mae")
    assert all(r["val_error"] >= 0 for r in mse.rows + mae.rows)
    assert [r["val_error"] for r in mse.rows] != [r["val_error"] for r in mae.rows]
    # Explicit validation data; runs are seeded from random_state as the sweep documents.
    held = sweep(est, {"activation": ["tanh"]}, Xr[:200], yr[:200], X_val=Xr[200:], y_val=yr[200:])
    seed = int(np.random.default_rng(0).integers(2**31 - 1))
    twin = MLPRegressor(**{**est.get_params(), "activation": "tanh", "random_state": seed})
    twin.fit(Xr[:200], yr[:200])
    assert held.rows[0]["val_error"] == pytest.approx(np.mean((twin.predict(Xr[200:]) - yr[200:]) ** 2))
    # An estimator without epochs: trained once, one point per curve.
    X, y = digits
    binary = np.where(y[:200] < 5, "low", "high")
    result = sweep(Perceptron(max_epochs=5), {"learning_rate": [0.1, 1.0]}, X[:200], binary)
    assert [len(c) for c in result.curves] == [1, 1]
    assert all(0 <= r["val_error"] <= 1 for r in result.rows)


def test_bad_sweeps_are_refused_before_any_run(digits):
    X, y = digits
    est = MLPClassifier(epochs=1)
    with pytest.raises(ValueError, match="Invalid parameter 'depth'"):
        sweep(est, {"depth": [1, 2]}, X, y)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        sweep(est, {"optimizer": ["adam", "nope"]}, X, y)
    with pytest.raises(ValueError, match="backend"):
        sweep(est, {"epochs": [1]}, X, y, backend="threads")
    with pytest.raises(ValueError, match="n_jobs"):
        sweep(est, {"epochs": [1]}, X, y, n_jobs=0)
    with pytest.raises(ValueError, match="n_iter"):
        sweep(est, {"epochs": [1]}, X, y, n_iter=0)
    with pytest.raises(ValueError, match="scoring"):
        sweep(est, {"epochs": [1]}, X, y, scoring="accuracy")
    with pytest.raises(ValueError, match="for regressors"):
        sweep(est, {"epochs": [1]}, X, y, scoring="mse")
    with pytest.raises(ValueError, match="validation_fraction"):
        sweep(est, {"epochs": [1]}, X[:3], y[:3], validation_fraction=0.1)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        sweep(est, {"epochs": [1]}, X, y, X_val=X)
    with pytest.raises(ValueError, match="targets y"):
        sweep(est, {"epochs": [1]}, X, None)
    with pytest.raises(TypeError, match="nnfast estimator"):
        sweep(object(), {"epochs": [1]}, X, y)
