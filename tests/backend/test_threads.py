"""Thread control: BLAS held to one thread while the kernels share products out."""
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import nnfast
from nnfast.backend import _threads, get_ops
from nnfast.backend import own_threads, products_on_own_threads

CPU = get_ops("cpu")
REF = get_ops("numpy")


def blas_threads():
    """Thread counts of the BLAS libraries in the process, by file."""
    return {info["filepath"]: info["num_threads"] for info in threadpool_info()
            if info["user_api"] == "blas"}


def scipy_blas(counts):
    return {path: n for path, n in counts.items() if "scipy.libs" in path or "scipy" in path.split("/")[-2]}


@pytest.fixture
def no_controllable_blas(monkeypatch):
    """As on a machine where threadpoolctl finds no BLAS it can limit."""
    monkeypatch.setattr(_threads._hold, "_controller", False)


def test_hold_sets_one_blas_thread_and_restores_it():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with own_threads() as held:
            inside = blas_threads()
            assert products_on_own_threads() == held
        after = blas_threads()
    assert after == before
    assert not products_on_own_threads()
    if not held:
        pytest.skip("threadpoolctl finds no BLAS library to limit here")
    changed = {p for p in before if inside[p] != before[p]}
    assert changed and all(inside[p] == 1 for p in changed)
    # Where scipy ships its own OpenBLAS beside numpy's, only scipy's is limited:
    # nnfast's kernels call scipy's, and numpy's threads are not nnfast's business.
    if scipy_blas(before) and len(before) > 1:
        assert changed == set(scipy_blas(before))


def test_hold_is_counted_across_nesting_and_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        entered, release = threading.Event(), threading.Event()

        def other():
            with own_threads():
                entered.set()
                release.wait(10)

        with own_threads() as held:
            worker = threading.Thread(target=other)
            worker.start()
            assert entered.wait(10)
            with own_threads():
                pass
        # The other thread still holds it: the limit stays.
        assert products_on_own_threads() == held
        release.set()
        worker.join(10)
        assert not products_on_own_threads()
        assert blas_threads() == before


def test_products_share_threads_only_inside_the_hold(monkeypatch):
    monkeypatch.setitem(_threads._state, "n_threads", 2)
    assert _threads.product_threads(500, 500, 500) == 1
    with own_threads() as held:
        assert _threads.product_threads(500, 500, 500) == (2 if held else 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_without_a_controllable_blas(no_controllable_blas, dtype):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((137, 210), (210, 90), (90,)))
    dz = rng.standard_normal((137, 90)).astype(dtype)
    with own_threads() as held:
        assert not held and not products_on_own_threads()
        assert _threads.product_threads(500, 500, 500) == 1
        np.testing.assert_allclose(CPU.affine(x, w, b), REF.affine(x, w, b), rtol=1e-4, atol=1e-4)
        dw, db = np.empty_like(w), np.empty_like(b)
        ref_dw, ref_db = np.empty_like(w), np.empty_like(b)
        np.testing.assert_allclose(CPU.backprop_affine(dz, x, w, dw, db),
                                   REF.backprop_affine(dz, x, w, ref_dw, ref_db), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dw, ref_dw, rtol=1e-4, atol=1e-3)


def test_set_num_threads_caps_blas_and_kernels():
    try:
        nnfast.set_num_threads(1)
        assert nnfast.get_num_threads() == 1
        assert all(n == 1 for n in blas_threads().values())
        with own_threads():
            assert _threads.product_threads(500, 500, 500) == 1
    finally:
        nnfast.set_num_threads(None)
