"""The shared input checks: finiteness of large arrays."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnfast import _validation
from nnfast._validation import check_array

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
def test_the_sum_first_check_agrees_with_isfinite_on_any_array(x):
    assert _validation._all_finite(x) == bool(np.isfinite(x).all())
