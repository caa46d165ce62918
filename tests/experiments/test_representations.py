"""The comparison of representations on the bundled digits: its rows, its table, its checks."""
import numpy as np
import pytest

from nnfast.datasets import load_digits_sample
from nnfast.experiments._representations import METHODS, compare_representations


@pytest.fixture(scope="module")
def split():
    x, y = load_digits_sample(as_float=True, flatten=True)
    test = np.arange(len(x)) % 4 == 0  # 500 test digits, 1,500 for training
    return x[~test], y[~test], x[test], y[test]


@pytest.fixture(scope="module")
def result(split):
    return compare_representations(*split, width=16, epochs=3, random_state=0)


def test_rows_hold_each_representation(result, split):
    assert [row["method"] for row in result.rows] == list(METHODS)
    assert [row["features"] for row in result.rows] == [784, 16, 16, 16]
    for row in result.rows:
        assert row["train_seconds"] == pytest.approx(row["representation_seconds"]
                                                     + row["classifier_seconds"])
        assert row["classifier_seconds"] > 0
        assert 0.0 <= row["test_accuracy"] <= 1.0
    assert result.rows[0]["representation_seconds"] == 0.0
    assert all(row["representation_seconds"] > 0 for row in result.rows[1:])
    assert result.settings["stacked_layers"] == (256, 128, 16)
    assert result.settings["n_train"] == 1500 and result.settings["n_test"] == 500


def test_accuracies_beat_chance_clearly(result):
    # Three epochs on 1,500 digits: runs reach about 0.85 on pixels, 0.64 on
    # 16 principal components, 0.34 on the ReLU autoencoder's codes and 0.44
    # through the transferred sigmoid encoder; chance is 0.10.
    accuracy = {row["method"]: row["test_accuracy"] for row in result.rows}
    assert accuracy["raw pixels"] > 0.75
    assert accuracy["PCA components"] > 0.45
    assert accuracy["autoencoder codes"] > 0.2
    assert accuracy["stacked encoder (transferred)"] > 0.25


def test_markdown_table(result):
    lines = result.to_markdown().splitlines()
    assert lines[0].startswith("| representation | features | test accuracy")
    assert len(lines) == 2 + len(METHODS)
    for line, row in zip(lines[2:], result.rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == row["method"] and int(cells[1]) == row["features"]
        assert float(cells[2]) == pytest.approx(row["test_accuracy"], abs=5e-5)
        assert float(cells[3]) == pytest.approx(row["train_seconds"], abs=5e-3)
    assert str(result) == result.to_markdown()
    assert "best:" in repr(result)


def test_string_labels_are_kept(split):
    x, y, xt, yt = split
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    small = compare_representations(x[:300], names[y[:300]], xt[:100], names[yt[:100]],
                                    width=4, epochs=1, classifier_hidden=(8,),
                                    autoencoder_layers=(8,), stacked_layers=(16, 4))
    assert [row["features"] for row in small.rows] == [784, 4, 4, 4]


@pytest.mark.parametrize("change, message", [
    ({"X_test": np.zeros((5, 10))}, "X_test has 10 features, but X_train has 784"),
    ({"y_train": np.zeros(3)}, "different numbers of samples"),
    ({"y_train": np.zeros(1500)}, "at least two classes"),
    ({"y_test": np.full(500, 11)}, "labels that y_train does not"),
    ({"width": 900}, "width=900 must be at most"),
    ({"width": 0}, "width must be > 0"),
    ({"epochs": 0}, "epochs must be > 0"),
    ({"X_train": np.full((1500, 784), np.nan)}, "NaN"),
    ({"classifier_hidden": (0,)}, "classifier_hidden must hold positive integers"),
])
def test_bad_input_is_refused_before_training(split, change, message):
    args = dict(zip(("X_train", "y_train", "X_test", "y_test"), split))
    args.update(change)
    with pytest.raises(ValueError, match=message):
        compare_representations(**args)
