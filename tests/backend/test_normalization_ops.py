"""Batch normalisation ops against plain loops, on every backend.

The reference ops (``"numpy"``) and the compiled ones (``"cpu"``) are held to
the loops of :mod:`loops_pooling`: the batch statistics, the moving
statistics' update, the output, the inference output and the gradients, for
one and many channels, a single row and many, both dtypes; the gradients
also against finite differences in float64.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import nnfast
from nnfast.backend import get_ops


def _load_loops():
    # The tests import in importlib mode: a helper beside them is loaded by its path.
    spec = importlib.util.spec_from_file_location(
        "loops_pooling", Path(__file__).with_name("loops_pooling.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


loops = _load_loops()

BACKENDS = ["numpy", "cpu"]
DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-5),
       np.dtype(np.float64): dict(rtol=1e-12, atol=1e-12)}
SHAPES = [(1, 1), (2, 1), (7, 3), (64, 32), (200, 5), (1000, 64), (3, 130)]
EPSILON, MOMENTUM = 1e-3, 0.9


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request, monkeypatch):
    """One thread, or OpenMP forced onto these small arrays."""
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    if request.param > 1:
        monkeypatch.setattr(nnfast.backend._threads, "PARALLEL_MIN_WORK", 1)
        monkeypatch.setattr(nnfast.backend._threads, "PRODUCT_WORK_DIVISOR", 1)
    yield request.param
    nnfast.set_num_threads(previous)


def arrays(shape, dtype, seed=0):
    """``x`` off centre and spread unevenly per column, with ``gamma``, ``beta`` and moving stats."""
    rng = np.random.default_rng(seed)
    m, c = shape
    x = (rng.normal(size=shape) * rng.uniform(0.5, 3, c) + rng.uniform(-4, 4, c)).astype(dtype)
    gamma = rng.uniform(0.5, 2, c).astype(dtype)
    beta = rng.normal(size=c).astype(dtype)
    moving_mean = rng.normal(size=c).astype(dtype)
    moving_variance = rng.uniform(0.5, 2, c).astype(dtype)
    return x, gamma, beta, moving_mean, moving_variance


def assert_close(actual, expected, dtype, scale=1.0):
    assert actual.dtype == np.dtype(dtype)
    tol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"] * scale)


def shape_id(shape):
    return "x".join(map(str, shape))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_batch_norm_train_matches_loops(backend, dtype, shape, threads):
    ops = get_ops(backend)
    x, gamma, beta, moving_mean, moving_variance = arrays(shape, dtype)
    old_mean, old_variance = moving_mean.copy(), moving_variance.copy()
    mean, invstd = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
    out = ops.batch_norm_train(x, gamma, beta, EPSILON, MOMENTUM, moving_mean, moving_variance,
                               mean, invstd)
    want_mean, want_var = loops.batch_stats(x)
    assert_close(mean, want_mean, dtype, scale=4)
    assert_close(invstd, 1 / np.sqrt(want_var + EPSILON), dtype)
    assert_close(moving_mean, MOMENTUM * old_mean + (1 - MOMENTUM) * want_mean, dtype, scale=4)
    assert_close(moving_variance, MOMENTUM * old_variance + (1 - MOMENTUM) * want_var, dtype,
                 scale=4)
    assert_close(out, loops.batch_norm(x, gamma, beta, want_mean, want_var, EPSILON), dtype,
                 scale=4)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_batch_norm_inference_matches_loops(backend, dtype, shape, threads):
    ops = get_ops(backend)
    x, gamma, beta, moving_mean, moving_variance = arrays(shape, dtype)
    out = ops.batch_norm_inference(x, gamma, beta, moving_mean, moving_variance, EPSILON)
    want = loops.batch_norm(x, gamma, beta, moving_mean.astype(float),
                            moving_variance.astype(float), EPSILON)
    assert_close(out, want, dtype, scale=8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_batch_norm_backward_matches_loops(backend, dtype, shape, threads):
    ops = get_ops(backend)
    x, gamma, _, _, _ = arrays(shape, dtype)
    rng = np.random.default_rng(1)
    dy = rng.normal(size=shape).astype(dtype)
    mean = x.mean(0, dtype=np.float64).astype(dtype)
    invstd = (1 / np.sqrt(x.var(0, dtype=np.float64) + EPSILON)).astype(dtype)
    dgamma, dbeta = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
    dx = ops.batch_norm_backward(dy, x, gamma, mean, invstd, dgamma=dgamma, dbeta=dbeta)
    want_dx, want_dgamma, want_dbeta = loops.batch_norm_backward(dy, x, gamma, mean, invstd)
    m = shape[0]
    assert_close(dgamma, want_dgamma, dtype, scale=np.sqrt(m) * 4)
    assert_close(dbeta, want_dbeta, dtype, scale=np.sqrt(m) * 4)
    assert_close(dx, want_dx, dtype, scale=8)
    # The sums are taken for dx even when nobody wants them; dx=False skips dx.
    assert_close(ops.batch_norm_backward(dy, x, gamma, mean, invstd), want_dx, dtype, scale=8)
    dgamma2, dbeta2 = np.empty_like(dgamma), np.empty_like(dbeta)
    assert ops.batch_norm_backward(dy, x, gamma, mean, invstd, dgamma2, dbeta2, dx=False) is None
    np.testing.assert_array_equal(dgamma2, dgamma)
    np.testing.assert_array_equal(dbeta2, dbeta)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_outputs_given_are_written_and_returned(backend, dtype):
    ops = get_ops(backend)
    x, gamma, beta, moving_mean, moving_variance = arrays((50, 6), dtype)
    mean, invstd = np.empty(6, dtype), np.empty(6, dtype)
    want = ops.batch_norm_train(x, gamma, beta, EPSILON, MOMENTUM, moving_mean.copy(),
                                moving_variance.copy(), mean, invstd)
    out = np.full_like(x, np.nan)
    assert ops.batch_norm_train(x, gamma, beta, EPSILON, MOMENTUM, moving_mean.copy(),
                                moving_variance.copy(), mean, invstd, out=out) is out
    np.testing.assert_array_equal(out, want)
    inplace = x.copy()
    assert ops.batch_norm_train(inplace, gamma, beta, EPSILON, MOMENTUM, moving_mean.copy(),
                                moving_variance.copy(), mean, invstd, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, want)
    want = ops.batch_norm_inference(x, gamma, beta, moving_mean, moving_variance, EPSILON)
    out = np.full_like(x, np.nan)
    assert ops.batch_norm_inference(x, gamma, beta, moving_mean, moving_variance, EPSILON,
                                    out=out) is out
    np.testing.assert_array_equal(out, want)
    dy = arrays((50, 6), dtype, seed=2)[0]
    want = ops.batch_norm_backward(dy, x, gamma, mean, invstd)
    dx = np.full_like(x, np.nan)
    assert ops.batch_norm_backward(dy, x, gamma, mean, invstd, dx=dx) is dx
    np.testing.assert_array_equal(dx, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_statistics_of_a_large_batch_stay_accurate(backend):
    # 400 000 rows far from zero: float32 sums taken in float32 drift by far more.
    ops = get_ops(backend)
    rng = np.random.default_rng(5)
    m, c = 400_000, 3
    x64 = rng.normal(size=(m, c)) * 0.5 + np.array([1000.0, -20.0, 0.0])
    x = x64.astype(np.float32)
    mean, invstd = np.empty(c, np.float32), np.empty(c, np.float32)
    ops.batch_norm_train(x, np.ones(c, np.float32), np.zeros(c, np.float32), 1e-5, 0.99,
                         np.zeros(c, np.float32), np.ones(c, np.float32), mean, invstd)
    exact = x.astype(np.float64)
    np.testing.assert_allclose(mean, exact.mean(0), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(exact.var(0) + 1e-5), rtol=1e-5)


# ------------------------------------------------------------------ finite differences
def numerical_gradient(f, x, eps=1e-6):
    grad = np.empty_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + eps
        up = f()
        flat[k] = keep - eps
        down = f()
        flat[k] = keep
        g[k] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(9, 4), (2, 3), (30, 1)], ids=shape_id)
def test_batch_norm_gradients_match_finite_differences(backend, shape):
    ops = get_ops(backend)
    x, gamma, beta, moving_mean, moving_variance = arrays(shape, np.float64, seed=8)
    r = np.random.default_rng(9).normal(size=shape)

    def loss():
        out = ops.batch_norm_train(x, gamma, beta, EPSILON, MOMENTUM, moving_mean.copy(),
                                   moving_variance.copy(), None, None)
        return float(np.sum(out * r))

    mean, invstd = np.empty(shape[1]), np.empty(shape[1])
    ops.batch_norm_train(x, gamma, beta, EPSILON, MOMENTUM, moving_mean.copy(),
                         moving_variance.copy(), mean, invstd)
    dgamma, dbeta = np.empty(shape[1]), np.empty(shape[1])
    dx = ops.batch_norm_backward(r, x, gamma, mean, invstd, dgamma, dbeta)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgamma, numerical_gradient(loss, gamma), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, numerical_gradient(loss, beta), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ frozen statistics
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_batch_norm_inference_backward_matches_loops(backend, dtype, shape, threads):
    ops = get_ops(backend)
    x, gamma, _, moving_mean, moving_variance = arrays(shape, dtype)
    dy = np.random.default_rng(1).normal(size=shape).astype(dtype)
    invstd = 1 / np.sqrt(moving_variance.astype(float) + EPSILON)
    xhat = (x - moving_mean.astype(float)) * invstd
    dgamma, dbeta = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
    dx = ops.batch_norm_inference_backward(dy, x, gamma, moving_mean, moving_variance, EPSILON,
                                           dgamma=dgamma, dbeta=dbeta)
    m = shape[0]
    assert_close(dx, dy * gamma * invstd, dtype, scale=4)
    assert_close(dgamma, (dy * xhat).sum(0), dtype, scale=np.sqrt(m) * 8)
    assert_close(dbeta, dy.astype(float).sum(0), dtype, scale=np.sqrt(m) * 4)
    assert ops.batch_norm_inference_backward(dy, x, gamma, moving_mean, moving_variance, EPSILON,
                                             dx=False) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_inference_gradients_match_finite_differences(backend):
    ops = get_ops(backend)
    x, gamma, beta, moving_mean, moving_variance = arrays((7, 3), np.float64, seed=10)
    r = np.random.default_rng(11).normal(size=x.shape)

    def loss():
        return float(np.sum(ops.batch_norm_inference(x, gamma, beta, moving_mean,
                                                     moving_variance, EPSILON) * r))

    dgamma, dbeta = np.empty(3), np.empty(3)
    dx = ops.batch_norm_inference_backward(r, x, gamma, moving_mean, moving_variance, EPSILON,
                                           dgamma, dbeta)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgamma, numerical_gradient(loss, gamma), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, numerical_gradient(loss, beta), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ the compiled ops
class Spy:
    """Stands in for a kernel module and records which of its functions ran."""

    def __init__(self, module):
        self._module = module
        self.calls = []

    def __getattr__(self, name):
        function = getattr(self._module, name)

        def call(*args, **kwargs):
            self.calls.append(name)
            return function(*args, **kwargs)
        return call


@pytest.fixture
def spy(monkeypatch):
    from nnfast.backend import cpu_normalization
    spy = Spy(cpu_normalization._normalization)
    monkeypatch.setattr(cpu_normalization, "_normalization", spy)
    return spy


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_compiled_kernels_run(spy, dtype):
    ops = get_ops("cpu")
    x, gamma, beta, moving_mean, moving_variance = arrays((20, 4), dtype)
    mean, invstd = np.empty(4, dtype), np.empty(4, dtype)
    out = ops.batch_norm_train(x, gamma, beta, EPSILON, MOMENTUM, moving_mean, moving_variance,
                               mean, invstd)
    ops.batch_norm_backward(out, x, gamma, mean, invstd)
    ops.batch_norm_inference(x, gamma, beta, moving_mean, moving_variance, EPSILON)
    ops.batch_norm_inference_backward(out, x, gamma, moving_mean, moving_variance, EPSILON)
    kernels = [name for name in spy.calls if name != "work_size"]
    assert kernels == ["batch_norm_train", "batch_norm_backward", "batch_norm_inference",
                       "batch_norm_backward"]


def _bad_calls():
    ops = get_ops("cpu")
    x, gamma, beta, moving_mean, moving_variance = arrays((10, 4), np.float32)
    c4 = np.empty(4, np.float32)

    def train(**changes):
        args = dict(x=x, gamma=gamma, beta=beta, epsilon=EPSILON, momentum=MOMENTUM,
                    moving_mean=moving_mean.copy(), moving_variance=moving_variance.copy(),
                    mean=np.empty(4, np.float32), invstd=np.empty(4, np.float32))
        args.update(changes)
        return lambda: ops.batch_norm_train(**args)

    def backward(**changes):
        args = dict(dy=x.copy(), x=x, gamma=gamma, mean=c4, invstd=c4)
        args.update(changes)
        return lambda: ops.batch_norm_backward(**args)

    return [
        ("x-3d", train(x=x.reshape(10, 2, 2)), r"x must be a 2-D array of rows of channels"),
        ("x-empty", train(x=x[:0]), r"m, c >= 1, got shape \(0, 4\)"),
        ("gamma-shape", train(gamma=gamma[:3]),
         r"gamma must be a float32 array of shape \(4,\), got a float32 array of shape \(3,\)"),
        ("beta-dtype", train(beta=beta.astype(np.float64)),
         r"beta must be a float32 array of shape \(4,\), got a float64"),
        ("moving-strided", train(moving_mean=np.zeros(8, np.float32)[::2]),
         r"moving_mean must be a C-contiguous float32 array of shape \(4,\).*not C-contiguous"),
        ("moving-list", train(moving_variance=[1.0] * 4),
         r"moving_variance must be a C-contiguous float32 array of shape \(4,\), got list"),
        ("mean-is-invstd", train(mean=c4, invstd=c4), "invstd must not overlap"),
        ("out-shape", train(out=np.empty((10, 5), np.float32)),
         r"out must be a C-contiguous float32 array of shape \(10, 4\)"),
        ("inference-moving", lambda: ops.batch_norm_inference(x, gamma, beta, moving_mean[:2],
                                                              moving_variance, EPSILON),
         r"moving_mean must be a float32 array of shape \(4,\)"),
        ("backward-dy", backward(dy=x[:5]), r"dy must be a float32 array of the shape of x"),
        ("backward-dgamma", backward(dgamma=np.empty(4)),
         r"dgamma must be a C-contiguous float32 array of shape \(4,\), got a float64"),
        ("backward-dx-is-x", backward(dx=x), "dx must not overlap"),
        ("backward-invstd", backward(invstd=np.empty((4, 1), np.float32)),
         r"invstd must be a float32 array of shape \(4,\)"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_calls())),
                         ids=[name for name, _, _ in _bad_calls()])
def test_compiled_ops_reject_bad_arguments(case, spy):
    _, call, match = _bad_calls()[case]
    with pytest.raises(ValueError, match=match):
        call()
    assert [name for name in spy.calls if name != "work_size"] == []


def test_out_overlapping_x_in_part_is_rejected():
    ops = get_ops("cpu")
    buffer = np.zeros((11, 4), np.float32)
    x, out = buffer[:10], buffer[1:]
    gamma, beta = np.ones(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="out must not overlap the other arrays"):
        ops.batch_norm_inference(x, gamma, beta, np.zeros(4, np.float32),
                                 np.ones(4, np.float32), EPSILON, out=out)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_results_do_not_depend_on_the_threads(dtype, monkeypatch):
    # Partial sums over fixed blocks of rows, added in block order.
    ops = get_ops("cpu")
    x, gamma, beta, moving_mean, moving_variance = arrays((5000, 7), dtype)
    dy = arrays((5000, 7), dtype, seed=3)[0]
    results = []
    for n_threads in (1, 2):
        previous = nnfast.get_num_threads()
        nnfast.set_num_threads(n_threads)
        monkeypatch.setattr(nnfast.backend._threads, "PARALLEL_MIN_WORK", 1)
        monkeypatch.setattr(nnfast.backend._threads, "PRODUCT_WORK_DIVISOR", 1)
        try:
            mean, invstd = np.empty(7, dtype), np.empty(7, dtype)
            mm, mv = moving_mean.copy(), moving_variance.copy()
            out = ops.batch_norm_train(x, gamma, beta, EPSILON, MOMENTUM, mm, mv, mean, invstd)
            dgamma, dbeta = np.empty(7, dtype), np.empty(7, dtype)
            dx = ops.batch_norm_backward(dy, x, gamma, mean, invstd, dgamma, dbeta)
            results.append([out, mean, invstd, mm, mv, dx, dgamma, dbeta])
        finally:
            nnfast.set_num_threads(previous)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
