"""The shared input checks: finiteness of large arrays, messages, scikit-learn's classes."""
import pickle
import sys
import types
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnfast
from nnfast import _validation
from nnfast._validation import NotFittedError, check_array, check_labels

#: Rows of 100 columns in the large test arrays (2 million elements).
LARGE_ROWS = 20_000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 1_234_567, -1])
def test_large_arrays_with_a_non_finite_value_are_refused(dtype, bad, where):
    x = np.ones((LARGE_ROWS, 100), dtype)
    x.reshape(-1)[where] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        check_array(x, dtype=dtype)


def test_large_finite_arrays_pass_even_when_their_sum_overflows():
    big = np.finfo(np.float32).max / 2
    x = np.full((LARGE_ROWS, 64), big, np.float32)
    assert check_array(x) is x


def test_infinities_of_both_signs_are_refused_although_their_sum_is_nan():
    x = np.ones((4, 3))
    x[0, 0], x[3, 2] = np.inf, -np.inf
    assert not _validation._all_finite(x)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), st.integers(1, 200),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=32)))
def test_the_finite_check_agrees_with_isfinite_on_any_array(x):
    assert _validation._all_finite(x) == bool(np.isfinite(x).all())


def _numpy_range(x):
    with np.errstate(invalid="ignore"):
        return float(np.min(x)), float(np.max(x))


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), st.integers(1, 300),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=32)))
def test_value_range_is_numpys_min_and_max(x):
    low, high = _validation.value_range(x)
    np.testing.assert_array_equal([low, high], _numpy_range(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("special", [None, np.nan, -np.nan, np.inf, -np.inf, -0.0])
@pytest.mark.parametrize("where", [0, 777_777, -1])
def test_value_range_of_large_arrays_on_every_thread_count(dtype, threads, special, where):
    # 1,000,003 values: chunks of unequal size for two threads, a tail after the lanes.
    x = np.random.default_rng(where % 7).normal(size=1_000_003).astype(dtype)
    if special is not None:
        x[where] = special
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(threads)
    try:
        got = _validation.value_range(x.reshape(1, -1))
    finally:
        nnfast.set_num_threads(previous)
    np.testing.assert_array_equal(got, _numpy_range(x))


def test_value_range_of_other_arrays_goes_through_numpy():
    assert _validation.value_range(np.array([[3, -2], [7, 1]])) == (-2, 7)
    strided = np.arange(10.0, dtype=np.float32)[::3]
    assert _validation.value_range(strided) == (0.0, 9.0)
    assert _validation.value_range(np.array([2.5])) == (2.5, 2.5)


# ------------------------------------------------------------ messages
def test_complex_input_is_refused_as_such():
    with pytest.raises(ValueError, match="Complex data not supported"):
        check_array(np.ones((3, 2)) + 1j)
    with pytest.raises(ValueError, match="Complex data not supported"):
        check_labels(np.array([1, 2]) + 1j)


def test_unconvertible_objects_name_the_value_numpy_could_not_read():
    X = np.ones((2, 2), dtype=object)
    X[0, 0] = {"a": 1}
    with pytest.raises(TypeError, match=r"X must hold numbers, got dtype object \(.*argument must "
                                        r"be a string or a real number, not 'dict'\)"):
        check_array(X)
    with pytest.raises(TypeError, match="got dtype <U1 \\(could not convert string to float"):
        check_array([["a", "b"]])


@pytest.mark.parametrize("X, message", [
    (np.ones(3), r"must be a 2-D array of shape \(n_samples, n_features\), got 1-D with shape "
                 r"\(3,\)\. Reshape your data: X.reshape\(-1, 1\)"),
    (np.ones((2, 3, 4)), r"must be a 2-D array of shape \(n_samples, n_features\), got 3-D"),
    (np.ones((0, 3)), r"at least 1 sample\(s\), got 0 sample\(s\) \(shape=\(0, 3\)\)"),
    (np.ones((4, 0)), r"X has 0 feature\(s\) \(shape=\(4, 0\)\) while a minimum of 1 is required"),
])
def test_shape_errors(X, message):
    with pytest.raises(ValueError, match=message):
        check_array(X)


def test_the_feature_count_error_names_the_model():
    class Model:
        pass

    with pytest.raises(ValueError, match=r"^X has 2 features, but the model expects 3$"):
        check_array(np.ones((1, 2)), n_features=3)
    with pytest.raises(ValueError, match="X has 2 features, but Model is expecting 3 features as "
                                         "input"):
        check_array(np.ones((1, 2)), n_features=3, model=Model())
    model = Model()
    model.n_features_in_ = 5
    with pytest.raises(ValueError, match="X has 2 features, but the model expects 5: "):
        _validation.check_n_features(model, np.ones((1, 2)))
    _validation.check_n_features(model, np.ones((1, 5)))


def test_a_missing_target_is_named():
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        check_labels(None)
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        _validation.check_target_given(None)


def test_fractional_labels_are_classes_unless_every_sample_has_its_own():
    y = check_labels([2.5, 7.0, 2.5, 7.0])
    assert y.tolist() == [2.5, 7.0, 2.5, 7.0]
    assert check_labels([0.0, 1.0, 2.0]).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="Unknown label type: y looks continuous"):
        check_labels([0.1, 0.2, 0.3, 0.4])


def test_a_column_of_labels_is_flattened_with_a_warning_only_when_asked():
    column = np.array([[1], [0], [1]])
    with pytest.warns(_validation.DataConversionWarning, match="A column-vector y was passed"):
        assert check_labels(column, column_warning=True).shape == (3,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_labels(column).shape == (3,)


# -------------------------------------------- the classes scikit-learn can catch
def _fake_sklearn_exceptions():
    module = types.ModuleType("sklearn.exceptions")

    class NotFittedError(ValueError, AttributeError):
        pass

    class DataConversionWarning(UserWarning):
        pass

    module.NotFittedError, module.DataConversionWarning = NotFittedError, DataConversionWarning
    return module


def test_without_sklearn_loaded_the_classes_are_nnfasts_own(monkeypatch):
    monkeypatch.delitem(sys.modules, "sklearn.exceptions", raising=False)
    assert _validation.sklearn_compatible(NotFittedError) is NotFittedError
    with pytest.raises(NotFittedError) as info:
        _validation.check_is_fitted(object(), "coef_")
    assert type(info.value) is NotFittedError


@pytest.mark.parametrize("cls", [NotFittedError, _validation.DataConversionWarning])
def test_with_sklearn_loaded_the_classes_are_also_sklearns(monkeypatch, cls):
    fake = _fake_sklearn_exceptions()
    monkeypatch.setitem(sys.modules, "sklearn.exceptions", fake)
    both = _validation.sklearn_compatible(cls)
    assert issubclass(both, cls) and issubclass(both, getattr(fake, cls.__name__))
    assert both.__name__ == cls.__name__
    assert _validation.sklearn_compatible(cls) is both
    error = pickle.loads(pickle.dumps(both("message")))
    assert type(error) is both and error.args == ("message",)
    # Another scikit-learn module (a reload) gets a class of its own.
    other = _fake_sklearn_exceptions()
    monkeypatch.setitem(sys.modules, "sklearn.exceptions", other)
    assert issubclass(_validation.sklearn_compatible(cls), getattr(other, cls.__name__))
