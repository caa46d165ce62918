import math

import numpy as np
import pytest

from nnfast.datasets import LOGIC_GATES, logic_gate, parity, xyz_function, xyz_regression

TRUTH_TABLES = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "xor": [0, 1, 1, 0],
    "nand": [1, 1, 1, 0],
    "nor": [1, 0, 0, 0],
    "xnor": [1, 0, 0, 1],
}


def test_every_gate_has_a_table():
    assert set(LOGIC_GATES) == set(TRUTH_TABLES)


@pytest.mark.parametrize("name", sorted(TRUTH_TABLES))
def test_two_input_truth_tables_01(name):
    X, y = logic_gate(name, coding="01")
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == TRUTH_TABLES[name]
    assert X.dtype == np.float64 and y.dtype == np.float64


@pytest.mark.parametrize("name", sorted(TRUTH_TABLES))
def test_two_input_truth_tables_pm1(name):
    X, y = logic_gate(name.upper())
    assert X.tolist() == [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    assert y.tolist() == [2 * t - 1 for t in TRUTH_TABLES[name]]


@pytest.mark.parametrize("n", [1, 3, 5])
def test_many_inputs(n):
    X, y = logic_gate("xor", n_inputs=n, coding="01", dtype=np.int64)
    assert X.shape == (2**n, n) and y.shape == (2**n,)
    assert X.dtype == np.int64
    weights = 2 ** np.arange(n - 1, -1, -1)
    np.testing.assert_array_equal(X @ weights, np.arange(2**n))
    np.testing.assert_array_equal(y, X.sum(axis=1) % 2)
    np.testing.assert_array_equal(logic_gate("and", n, "01")[1], X.all(axis=1))
    np.testing.assert_array_equal(logic_gate("or", n, "01")[1], X.any(axis=1))
    np.testing.assert_array_equal(logic_gate("xnor", n, "01")[1], 1 - y)


def test_parity_is_xor():
    for coding in ("pm1", "01"):
        X1, y1 = parity(4, coding=coding, dtype=np.float32)
        X2, y2 = logic_gate("xor", 4, coding=coding, dtype=np.float32)
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_array_equal(y1, y2)
        assert y1.dtype == np.float32
    X, y = parity(3)
    np.testing.assert_array_equal(y, -np.prod(-X, axis=1))


@pytest.mark.parametrize("kwargs, error", [
    ({"name": "implies"}, ValueError),
    ({"name": 3}, ValueError),
    ({"name": "and", "n_inputs": 0}, ValueError),
    ({"name": "and", "n_inputs": 21}, ValueError),
    ({"name": "and", "n_inputs": 2.0}, TypeError),
    ({"name": "and", "n_inputs": True}, TypeError),
    ({"name": "and", "coding": "bipolar"}, ValueError),
])
def test_logic_gate_errors(kwargs, error):
    with pytest.raises(error):
        logic_gate(**kwargs)


def test_xyz_formula_and_range():
    X, y = xyz_regression(500, random_state=0)
    assert X.shape == (500, 3) and y.shape == (500,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert X.min() >= -math.pi and X.max() < math.pi
    expected = [math.sin(a) + math.cos(b) + c for a, b, c in X]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(xyz_function(X), expected, rtol=0, atol=1e-12)


def test_xyz_known_values():
    X = np.array([[0.0, 0.0, 0.0], [math.pi / 2, math.pi, 2.0], [-math.pi / 2, math.pi / 2, -1.0]])
    np.testing.assert_allclose(xyz_function(X), [1.0, 2.0, -2.0], atol=1e-12)
    assert xyz_function(np.array([[0, 0, 3]])).dtype == np.float64
    with pytest.raises(ValueError, match=r"\(n_samples, 3\)"):
        xyz_function(np.zeros((4, 2)))


def test_xyz_bounds_seed_and_noise():
    X, _ = xyz_regression(1000, random_state=1, low=2.0, high=3.0)
    assert X.min() >= 2.0 and X.max() < 3.0 and X.max() - X.min() > 0.9
    a = xyz_regression(50, noise=0.3, random_state=7)
    b = xyz_regression(50, noise=0.3, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], xyz_regression(50, random_state=8)[0])
    X, y = xyz_regression(20000, noise=0.1, random_state=3)
    residual = y - xyz_function(X)
    assert abs(residual.std() - 0.1) < 0.005 and abs(residual.mean()) < 0.005


@pytest.mark.parametrize("kwargs, error", [
    ({"n_samples": 0}, ValueError),
    ({"n_samples": 2.5}, TypeError),
    ({"n_samples": 5, "noise": -0.1}, ValueError),
    ({"n_samples": 5, "low": 1.0, "high": 1.0}, ValueError),
    ({"n_samples": 5, "low": 0.0, "high": math.inf}, ValueError),
    ({"n_samples": 5, "random_state": "seed"}, TypeError),
])
def test_xyz_errors(kwargs, error):
    with pytest.raises(error):
        xyz_regression(**kwargs)
