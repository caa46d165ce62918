"""Metrics on labels, probabilities and regression targets: worked examples, scikit-learn, formulas."""
import math
import pickle
import warnings

import numpy as np
import pytest

from nnfast import metrics
from nnfast.metrics import (
    ErrorEstimate, accuracy_score, classification_error, classification_report, confusion_matrix,
    error_interval, f1_score, hardest_samples, mean_absolute_error, mean_squared_error,
    precision_recall_fscore, precision_score, predictive_entropy, r2_score, recall_score,
)

# Hand-worked: classes 0, 1, 2.
#   class 0: predicted {0, 3}, true {0, 1}  -> tp 1, precision 1/2, recall 1/2
#   class 1: predicted {1, 2, 4}, true {2, 3} -> tp 1, precision 1/3, recall 1/2
#   class 2: predicted {5}, true {4, 5}      -> tp 1, precision 1,   recall 1/2
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 1, 1, 0, 1, 2])


class FakeDeviceArray:
    """Looks like a cupy array to the metrics: a CUDA interface and ``get()``."""

    __cuda_array_interface__ = {}

    def __init__(self, values):
        self._values = np.asarray(values)
        self.got = 0

    def get(self):
        self.got += 1
        return self._values.copy()


def test_precision_recall_f1_by_hand():
    p, r, f, s = precision_recall_fscore(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(p, [1 / 2, 1 / 3, 1.0])
    np.testing.assert_allclose(r, [1 / 2, 1 / 2, 1 / 2])
    np.testing.assert_allclose(f, [1 / 2, 2 / 5, 2 / 3])
    assert s.tolist() == [2, 2, 2]
    macro = precision_recall_fscore(Y_TRUE, Y_PRED, average="macro")
    assert macro.precision == pytest.approx((1 / 2 + 1 / 3 + 1) / 3)
    assert macro.f1 == pytest.approx((1 / 2 + 2 / 5 + 2 / 3) / 3)
    assert macro.support == 6
    micro = precision_recall_fscore(Y_TRUE, Y_PRED, average="micro")
    assert micro.precision == micro.recall == micro.f1 == pytest.approx(accuracy_score(Y_TRUE, Y_PRED))


def test_weighted_average_weights_by_support():
    y_true = [0, 0, 0, 1]
    y_pred = [0, 0, 1, 1]
    # class 0: precision 1, recall 2/3; class 1: precision 1/2, recall 1.
    assert precision_score(y_true, y_pred, average="weighted") == pytest.approx(0.75 * 1 + 0.25 * 0.5)
    assert recall_score(y_true, y_pred, average="weighted") == pytest.approx(0.75 * 2 / 3 + 0.25)


def test_binary_average_reports_the_positive_class():
    y_true, y_pred = ["no", "yes", "yes", "no"], ["yes", "yes", "no", "no"]
    assert precision_score(y_true, y_pred, average="binary", pos_label="yes") == 0.5
    with pytest.raises(ValueError, match="pos_label"):
        precision_score(y_true, y_pred, average="binary", pos_label=1)
    with pytest.raises(ValueError, match="at most two classes"):
        f1_score(Y_TRUE, Y_PRED, average="binary")


def test_zero_division_is_silent_and_follows_the_setting():
    y_true, y_pred = [0, 0, 1], [0, 0, 0]  # class 1 is never predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = precision_score(y_true, y_pred, average=None)
        assert p.tolist() == [2 / 3, 0.0]
        assert precision_score(y_true, y_pred, average=None, zero_division=1.0)[1] == 1.0
        assert math.isnan(precision_score(y_true, y_pred, average=None, zero_division=np.nan)[1])
        # A class only in ``labels`` has no support and no predictions.
        assert f1_score(y_true, y_pred, average=None, labels=[0, 1, 2])[2] == 0.0
    with pytest.raises(ValueError, match="zero_division"):
        precision_score(y_true, y_pred, zero_division=0.5)


def test_string_labels_and_explicit_order():
    p = precision_score(["b", "a", "b"], ["b", "b", "b"], average=None, labels=["b", "a"])
    assert p.tolist() == [2 / 3, 0.0]


@pytest.mark.parametrize("average", [None, "macro", "weighted", "micro"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scikit_learn(average, seed):
    sk = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed")
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 5, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 6, size=200))
    ours = precision_recall_fscore(y_true, y_pred, average=average)
    theirs = sk.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
    for a, b in zip(ours[:3], theirs[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    if average is None:
        np.testing.assert_array_equal(ours.support, theirs[3])
    assert accuracy_score(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred))


def test_regression_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed")
    rng = np.random.default_rng(3)
    y = rng.normal(size=(50, 3))
    pred = y + rng.normal(scale=0.5, size=y.shape)
    assert mean_squared_error(y, pred) == pytest.approx(sk.mean_squared_error(y, pred))
    assert mean_absolute_error(y, pred) == pytest.approx(sk.mean_absolute_error(y, pred))
    assert r2_score(y, pred) == pytest.approx(sk.r2_score(y, pred))
    assert r2_score(y[:, 0], pred[:, 0]) == pytest.approx(sk.r2_score(y[:, 0], pred[:, 0]))


def test_regression_by_hand():
    y, pred = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 3.0, 2.0]
    assert mean_squared_error(y, pred) == pytest.approx((0 + 1 + 0 + 4) / 4)
    assert mean_absolute_error(y, pred) == pytest.approx((0 + 1 + 0 + 2) / 4)
    assert r2_score(y, pred) == pytest.approx(1 - 5 / 5)
    assert r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert r2_score([2.0, 2.0], [2.0, 3.0]) == 0.0
    # A column vector and a flat vector are the same single output.
    assert mean_squared_error(np.array(y)[:, None], pred) == pytest.approx(1.25)


def test_classification_report_layout():
    text = classification_report(Y_TRUE, Y_PRED, class_names=["cat", "dog", "bird"])
    lines = text.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert rows["cat"] == ["0.500", "0.500", "0.500", "2"]
    assert rows["dog"] == ["0.333", "0.500", "0.400", "2"]
    assert rows["bird"] == ["1.000", "0.500", "0.667", "2"]
    assert lines[6].split() == ["accuracy", "0.500", "6"]
    assert lines[7].split()[:2] == ["macro", "avg"]
    assert lines[8].split()[:2] == ["weighted", "avg"]
    # Every numeric column lines up.
    assert len({line.rfind(".") for line in lines[2:5]}) == 1


def test_classification_report_names_integer_labels_by_value():
    text = classification_report([0, 9, 9], [0, 9, 0], class_names=[f"c{i}" for i in range(10)])
    assert [line.split()[0] for line in text.splitlines()[2:4]] == ["c0", "c9"]
    with pytest.raises(ValueError, match="class_names has 3 names"):
        classification_report([0, 9], [0, 9], class_names=["a", "b", "c"])


@pytest.mark.parametrize("n_errors, n", [(0, 10), (3, 10), (10, 10), (120, 1000), (1, 7)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_intervals_follow_their_formulas(n_errors, n, confidence):
    z = {0.9: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}[confidence]
    e = n_errors / n
    normal = error_interval(n_errors, n, confidence, method="normal")
    half = z * math.sqrt(e * (1 - e) / n)
    assert normal.low == pytest.approx(max(0.0, e - half), abs=1e-12)
    assert normal.high == pytest.approx(min(1.0, e + half), abs=1e-12)
    wilson = error_interval(n_errors, n, confidence, method="wilson")
    denom = 1 + z * z / n
    centre = (e + z * z / (2 * n)) / denom
    spread = z / denom * math.sqrt(e * (1 - e) / n + z * z / (4 * n * n))
    assert wilson.low == pytest.approx(centre - spread, abs=1e-12)
    assert wilson.high == pytest.approx(centre + spread, abs=1e-12)
    assert 0.0 <= wilson.low <= e <= wilson.high <= 1.0
    assert wilson.error == normal.error == e and wilson.n == n and wilson.confidence == confidence


def test_wilson_interval_is_wider_than_zero_with_no_errors():
    est = classification_error([1] * 20, [1] * 20)
    assert est.error == 0.0 and est.low == 0.0
    assert est.high == pytest.approx(1.959963984540054 ** 2 / (20 + 1.959963984540054 ** 2))
    assert classification_error([1] * 20, [1] * 20, method="normal").high == 0.0


def test_error_estimate_reads_well_and_unpacks():
    est = classification_error(Y_TRUE, Y_PRED, method="normal")
    error, low, high, n, method = est
    assert (error, n, method) == (0.5, 6, "normal") and low < error < high
    assert repr(est).startswith("ErrorEstimate(error=0.5000, low=0.")
    assert str(est).startswith("error 50.00% (95% normal interval")
    assert isinstance(est, ErrorEstimate) and isinstance(est, tuple)
    assert pickle.loads(pickle.dumps(est._replace(confidence=0.9))).confidence == 0.9


def test_error_interval_rejects_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        classification_error([0], [0], method="exact")
    with pytest.raises(ValueError, match="confidence"):
        classification_error([0], [0], confidence=95)
    with pytest.raises(ValueError, match="n_errors"):
        error_interval(5, 4)


def test_predictive_entropy():
    proba = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(predictive_entropy(proba), [0.0, math.log(3), math.log(2)])
    np.testing.assert_allclose(predictive_entropy(proba, base=2), [0.0, math.log2(3), 1.0])
    assert predictive_entropy(proba.astype(np.float32)).dtype == np.float64


def test_hardest_samples_ranks_by_entropy_then_mistakes_first():
    proba = np.array([[0.95, 0.05], [0.55, 0.45], [0.2, 0.8], [0.7, 0.3], [0.5, 0.5]])
    assert hardest_samples(proba, k=None).tolist() == [4, 1, 3, 2, 0]
    assert hardest_samples(proba, k=2).tolist() == [4, 1]
    # Sample 0 and 3 are wrong (true class 1): they come first, most uncertain first.
    y_true = [1, 0, 1, 1, 0]
    assert hardest_samples(proba, k=None, y_true=y_true).tolist() == [3, 0, 4, 1, 2]
    assert hardest_samples(proba, k=10, y_true=np.array(["b", "a", "b", "b", "a"]),
                           classes=["a", "b"]).tolist() == [3, 0, 4, 1, 2]
    with pytest.raises(ValueError, match="class index 2"):
        hardest_samples(proba, y_true=[0, 1, 2, 0, 0])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        hardest_samples(proba, k=0)
    with pytest.raises(ValueError, match="4 labels for 5 rows"):
        hardest_samples(proba, y_true=[0, 1, 1, 0])


@pytest.mark.parametrize("proba, match", [
    ([[0.2, 0.3], [0.5, 0.5]], "row 0 sums to 0.5"),
    ([[2.0, -1.0]], "non-negative"),
    ([[np.nan, 1.0]], "finite"),
    ([0.2, 0.8], "np.column_stack"),
    ([[1.0]], "at least two classes"),
    (np.zeros((0, 3)), "empty"),
])
def test_probabilities_are_checked(proba, match):
    with pytest.raises(ValueError, match=match):
        predictive_entropy(proba)


@pytest.mark.parametrize("func", [accuracy_score, precision_score, recall_score, f1_score,
                                  classification_error, classification_report, confusion_matrix])
def test_label_inputs_are_checked(func):
    with pytest.raises(ValueError, match="different (lengths|shapes)"):
        func([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        func([], [])
    if func is not accuracy_score:  # accuracy also compares multi-output labels
        with pytest.raises(ValueError, match=r"shape \(n_samples,\).*argmax"):
            func(np.eye(3), [0, 1, 2])


@pytest.mark.parametrize("func", [mean_squared_error, mean_absolute_error, r2_score])
def test_regression_inputs_are_checked(func):
    with pytest.raises(ValueError, match="different shapes"):
        func([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="empty"):
        func([], [])
    with pytest.raises(ValueError, match="n_outputs"):
        func(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_confusion_matrix_checks_labels():
    assert confusion_matrix([0, 1], [1, 1], n_classes=3).shape == (3, 3)
    assert confusion_matrix([0.0, 1.0], [1.0, 1.0]).tolist() == [[0, 1], [0, 1]]
    with pytest.raises(ValueError, match="beyond n_classes=2"):
        confusion_matrix([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="negative"):
        confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match="integer class indices"):
        confusion_matrix(["a", "b"], ["a", "b"])
    with pytest.raises(ValueError, match="integer class indices"):
        confusion_matrix([0.5, 1.0], [0, 1])


def test_device_arrays_are_copied_to_the_host():
    y_true, y_pred = FakeDeviceArray(Y_TRUE), FakeDeviceArray(Y_PRED)
    assert f1_score(y_true, y_pred) == pytest.approx(f1_score(Y_TRUE, Y_PRED))
    assert confusion_matrix(y_true, y_pred).sum() == 6
    assert classification_error(y_true, y_pred).error == 0.5
    assert y_true.got == 3 and y_pred.got == 3
    proba = FakeDeviceArray([[0.9, 0.1], [0.5, 0.5]])
    assert hardest_samples(proba, k=1).tolist() == [1]
    assert mean_squared_error(FakeDeviceArray([1.0, 2.0]), FakeDeviceArray([1.0, 4.0])) == 2.0
    assert isinstance(r2_score(FakeDeviceArray([1.0, 2.0]), [1.0, 2.0]), float)


def test_public_names_are_exported():
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
