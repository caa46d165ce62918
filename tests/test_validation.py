"""The shared input checks: finiteness of large arrays, summed in blocks by threads."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnfast
from nnfast import _validation
from nnfast._validation import check_array


@pytest.fixture(params=[1, 2, 3], ids=["1-thread", "2-threads", "3-threads"])
def threads(request):
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    yield request.param
    nnfast.set_num_threads(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 1_234_567, -1])
def test_large_arrays_with_a_non_finite_value_are_refused(dtype, bad, where, threads):
    x = np.ones((_validation.PARALLEL_SUM_SIZE // 100 + 7, 100), dtype)
    x.reshape(-1)[where] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        check_array(x, dtype=dtype)


def test_large_finite_arrays_pass_even_when_their_sum_overflows(threads):
    big = np.finfo(np.float32).max / 2
    x = np.full((_validation.PARALLEL_SUM_SIZE // 64 + 1, 64), big, np.float32)
    assert check_array(x) is x


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), st.integers(1, 200),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
       st.integers(1, 4))
def test_blocks_agree_with_isfinite_on_any_array(x, n_threads):
    previous, size = nnfast.get_num_threads(), _validation.PARALLEL_SUM_SIZE
    nnfast.set_num_threads(n_threads)
    _validation.PARALLEL_SUM_SIZE = 1
    try:
        assert _validation._all_finite(x) == bool(np.isfinite(x).all())
    finally:
        _validation.PARALLEL_SUM_SIZE = size
        nnfast.set_num_threads(previous)


def test_a_forked_process_checks_large_arrays_too(threads):
    multiprocessing = pytest.importorskip("multiprocessing")
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("this platform cannot fork")
    x = np.ones((_validation.PARALLEL_SUM_SIZE // 100 + 1, 100), np.float32)
    check_array(x)  # the parent makes its pool first
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_validation._all_finite, (x,)).get(timeout=60) is True
