"""The compiled perceptron ops against the reference ops."""
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfast.backend import get_ops
from nnfast.backend.cpu_perceptron import CpuPerceptronOps
from nnfast.backend.ops_perceptron import PerceptronOps, Xoshiro256

CPU = get_ops("cpu")
REF = get_ops("numpy")


def _gpu_ops():
    try:
        return get_ops("gpu")
    except RuntimeError as exc:
        pytest.skip(f"the gpu backend is unavailable here: {exc}")


def test_every_reference_op_is_compiled_with_the_same_signature():
    public = [n for n in vars(PerceptronOps) if not n.startswith("_")]
    assert sorted(public) == sorted(n for n in vars(CpuPerceptronOps) if not n.startswith("_"))
    for name in public:
        ref = inspect.signature(getattr(PerceptronOps, name))
        assert inspect.signature(getattr(CpuPerceptronOps, name)) == ref, name
        assert type(CPU).__dict__.get(name) is None  # comes from the mixin
        assert getattr(type(CPU), name) is getattr(CpuPerceptronOps, name)


@pytest.mark.parametrize("n_samples", [1, 2, 3, 10, 257])
@pytest.mark.parametrize("seed", [0, 1, 2**64 - 1])
def test_epoch_orders_match_and_are_permutations(n_samples, seed):
    orders = CPU.perceptron_orders(n_samples, 6, seed)
    assert np.array_equal(orders, REF.perceptron_orders(n_samples, 6, seed))
    assert np.all(np.sort(orders, axis=1) == np.arange(n_samples))
    if n_samples >= 10:
        assert len({tuple(o) for o in orders}) == 6


def test_bounded_integers_are_uniform():
    rng = Xoshiro256(seed=12345, stream=3)
    counts = np.bincount([rng.below(7) for _ in range(70000)], minlength=7)
    assert counts.sum() == 70000 and np.all(np.abs(counts - 10000) < 400)
    big = [rng.below(3 * 2**40) for _ in range(1000)]
    assert max(big) < 3 * 2**40 and min(big) >= 0 and len(set(big)) == 1000
    assert rng.below(1) == 0


def _problem(seed, n_samples, n_features, separable):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    if separable:
        t = np.where(X @ rng.normal(size=n_features) + 0.2 > 0, 1.0, -1.0)
    else:
        t = rng.choice([-1.0, 1.0], size=n_samples)
    return X, t


def _run(ops, X, t, w0, b0, **kwargs):
    w, b = w0.copy(), b0.copy()
    errors = ops.perceptron_fit(X, t, w, b, **kwargs)
    return w, b, errors


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32), n_samples=st.integers(1, 40), n_features=st.integers(1, 9),
    separable=st.booleans(), rule=st.sampled_from(["online", "batch"]), shuffle=st.booleans(),
    fit_intercept=st.booleans(), lr=st.sampled_from([1.0, 0.5, 0.013]),
    max_epochs=st.integers(1, 60), start=st.sampled_from(["zero", "random"]),
)
def test_fit_matches_reference_bit_for_bit(seed, n_samples, n_features, separable, rule, shuffle,
                                           fit_intercept, lr, max_epochs, start):
    X, t = _problem(seed, n_samples, n_features, separable)
    rng = np.random.default_rng(seed + 1)
    w0 = rng.normal(size=n_features) if start == "random" else np.zeros(n_features)
    b0 = rng.normal(size=1) if start == "random" else np.zeros(1)
    kwargs = dict(lr=lr, max_epochs=max_epochs, rule=rule, shuffle=shuffle, seed=seed,
                  fit_intercept=fit_intercept)
    w_c, b_c, e_c = _run(CPU, X, t, w0, b0, **kwargs)
    w_r, b_r, e_r = _run(REF, X, t, w0, b0, **kwargs)
    assert e_c.dtype == e_r.dtype == np.int64
    assert np.array_equal(e_c, e_r)
    assert np.array_equal(w_c, w_r) and np.array_equal(b_c, b_r)
    assert 1 <= len(e_c) <= max_epochs
    assert len(e_c) == max_epochs or e_c[-1] == 0
    if not fit_intercept:
        assert np.array_equal(b_c, b0)


def test_fit_accepts_float32_and_strided_inputs():
    X, t = _problem(0, 31, 5, True)
    X32 = X.astype(np.float32)
    Xs = np.asfortranarray(X)[:, ::1]
    for data in (X32, Xs):
        w_c, b_c, e_c = _run(CPU, data, t, np.zeros(5), np.zeros(1), seed=4)
        w_r, b_r, e_r = _run(REF, data.astype(np.float64), t, np.zeros(5), np.zeros(1), seed=4)
        assert np.array_equal(w_c, w_r) and np.array_equal(e_c, e_r)


def test_fit_rejects_what_the_kernel_cannot_take():
    X, t = _problem(0, 6, 3, True)
    w, b = np.zeros(3), np.zeros(1)
    with pytest.raises(TypeError, match="float64"):
        CPU.perceptron_fit(X, t, np.zeros(3, np.float32), b)
    with pytest.raises(TypeError, match="float64"):
        CPU.perceptron_fit(X, t, [0.0, 0.0, 0.0], b)
    with pytest.raises(ValueError, match="shape"):
        CPU.perceptron_fit(X, t, np.zeros(4), b)
    with pytest.raises(ValueError, match="shape"):
        CPU.perceptron_fit(X, t, w, np.zeros(2))
    with pytest.raises(ValueError, match="C-contiguous"):
        CPU.perceptron_fit(X, t, np.zeros(6)[::2], b)
    with pytest.raises(ValueError, match="t must have shape"):
        CPU.perceptron_fit(X, t[:4], w, b)
    with pytest.raises(ValueError, match="2-D"):
        CPU.perceptron_fit(X[0], t, w, b)
    with pytest.raises(ValueError, match="max_epochs"):
        CPU.perceptron_fit(X, t, w, b, max_epochs=0)
    with pytest.raises(ValueError, match="seed"):
        CPU.perceptron_fit(X, t, w, b, seed=-1)
    for ops in (CPU, REF):
        with pytest.raises(ValueError, match="unknown perceptron rule"):
            ops.perceptron_fit(X, t, w, b, rule="pocket")


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_capacity_matches_reference(fit_intercept, shuffle):
    counts = np.array([1, 3, 9, 16, 23, 31])
    kwargs = dict(max_epochs=30, seed=77, fit_intercept=fit_intercept, shuffle=shuffle)
    learned_c, epochs_c = CPU.perceptron_capacity(11, counts, 5, n_threads=2, **kwargs)
    learned_r, epochs_r = REF.perceptron_capacity(11, counts, 5, **kwargs)
    assert learned_c.dtype == bool and epochs_c.dtype == np.int64
    assert learned_c.shape == epochs_c.shape == (6, 5)
    assert np.array_equal(learned_c, learned_r) and np.array_equal(epochs_c, epochs_r)
    # One pattern: an update in the first epoch, none in the second.
    assert learned_c[0].all() and np.all(epochs_c[0] == 2)
    assert np.all(epochs_c[~learned_c] == 30)


def test_capacity_does_not_depend_on_thread_count():
    counts = np.arange(5, 61, 5)
    runs = [CPU.perceptron_capacity(20, counts, 9, max_epochs=200, seed=5, n_threads=n)
            for n in (1, 2, 3, 8)]
    for learned, epochs in runs[1:]:
        assert np.array_equal(learned, runs[0][0]) and np.array_equal(epochs, runs[0][1])


def test_capacity_rejects_bad_arguments():
    with pytest.raises(ValueError, match="pattern counts"):
        CPU.perceptron_capacity(5, [0, 3], 2)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        CPU.perceptron_capacity(5, [], 2)
    with pytest.raises(ValueError, match="n_threads"):
        CPU.perceptron_capacity(5, [3], 2, n_threads=0)
    with pytest.raises(ValueError, match="2\\*\\*31"):
        CPU.perceptron_capacity(10**6, [10**5], 1, max_epochs=10**8)


def test_reference_runs_on_the_gpu_backend():
    gpu = _gpu_ops()
    X, t = _problem(3, 25, 4, True)
    w, b = gpu.alloc((4,), dtype="float64"), gpu.alloc((1,), dtype="float64")
    errors = gpu.perceptron_fit(gpu.asarray(X), gpu.asarray(t), w, b, seed=9)
    w_c, b_c, e_c = _run(CPU, X, t, np.zeros(4), np.zeros(1), seed=9)
    assert np.array_equal(errors, e_c)
    np.testing.assert_allclose(gpu.to_numpy(w), w_c, rtol=1e-12, atol=1e-12)
    learned, epochs = gpu.perceptron_capacity(6, [3, 12], 2, max_epochs=20, seed=1)
    assert np.array_equal(epochs, CPU.perceptron_capacity(6, [3, 12], 2, max_epochs=20, seed=1)[1])
