"""Pooling ops (max, average, global average; NHWC) against plain loops, on every backend.

The reference ops (``"numpy"``) and the compiled ones (``"cpu"``) are held to
the loops of :mod:`loops_pooling` on odd sizes, overlapping windows, strides
larger than the window, one and many channels, batches of one, in both
dtypes; every backward pass is checked against finite differences in float64.
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
TOL = {np.dtype(np.float32): dict(rtol=2e-6, atol=2e-6),
       np.dtype(np.float64): dict(rtol=1e-13, atol=1e-13)}

# (n, h, w, c, pool_size, strides)
CASES = [
    pytest.param(2, 7, 9, 3, (2, 2), (2, 2), id="odd-stride2"),
    pytest.param(3, 9, 8, 5, (3, 3), (2, 2), id="overlapping-3s2"),
    pytest.param(2, 10, 11, 4, (2, 2), (3, 3), id="stride-past-window"),
    pytest.param(1, 6, 7, 1, (2, 3), (1, 2), id="batch1-one-channel"),
    pytest.param(3, 13, 13, 32, (2, 2), (2, 2), id="many-channels"),
    pytest.param(2, 5, 4, 17, (5, 4), (1, 1), id="whole-image"),
    pytest.param(2, 6, 5, 3, (1, 1), (1, 1), id="1x1"),
    pytest.param(1, 8, 3, 19, (3, 1), (2, 1), id="column-windows"),
]


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


def images(shape, dtype, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def assert_close(actual, expected, dtype):
    assert actual.dtype == np.dtype(dtype)
    np.testing.assert_allclose(actual, expected, **TOL[np.dtype(dtype)])


def out_shape(n, h, w, c, pool_size, strides):
    return n, (h - pool_size[0]) // strides[0] + 1, (w - pool_size[1]) // strides[1] + 1, c


# ------------------------------------------------------------------ forward and backward
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n, h, w, c, pool_size, strides", CASES)
def test_max_pool2d_matches_loops(backend, dtype, n, h, w, c, pool_size, strides, threads):
    ops = get_ops(backend)
    x = images((n, h, w, c), dtype)
    out, argmax = ops.max_pool2d(x, pool_size, strides)
    want, want_arg = loops.max_pool2d(x, pool_size, strides)
    assert out.dtype == x.dtype and argmax.dtype == np.int32
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(argmax, want_arg)
    dy = images(out.shape, dtype, seed=1)
    dx = ops.max_pool2d_backward(dy, argmax, (h, w, c))
    assert_close(dx, loops.max_pool2d_backward(dy, want_arg, (h, w, c)), dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n, h, w, c, pool_size, strides", CASES)
def test_avg_pool2d_matches_loops(backend, dtype, n, h, w, c, pool_size, strides, threads):
    ops = get_ops(backend)
    x = images((n, h, w, c), dtype)
    out = ops.avg_pool2d(x, pool_size, strides)
    assert_close(out, loops.avg_pool2d(x, pool_size, strides), dtype)
    dy = images(out.shape, dtype, seed=1)
    dx = ops.avg_pool2d_backward(dy, (h, w, c), pool_size, strides)
    assert_close(dx, loops.avg_pool2d_backward(dy, (h, w, c), pool_size, strides), dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (3, 13, 11, 32), (1, 26, 26, 2)],
                         ids=lambda s: "x".join(map(str, s)))
def test_global_avg_pool2d_matches_loops(backend, dtype, shape, threads):
    ops = get_ops(backend)
    x = images(shape, dtype)
    out = ops.global_avg_pool2d(x)
    assert_close(out, loops.global_avg_pool2d(x), dtype)
    dy = images(out.shape, dtype, seed=1)
    dx = ops.global_avg_pool2d_backward(dy, shape[1:])
    assert_close(dx, loops.global_avg_pool2d_backward(dy, shape[1:]), dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("pool_size, strides", [((2, 2), (2, 2)), ((3, 3), (2, 2)),
                                                ((3, 2), (1, 1))], ids=["2s2", "3s2", "3x2s1"])
def test_max_pool2d_ties_go_to_the_first_in_window_order(backend, dtype, pool_size, strides,
                                                         threads):
    ops = get_ops(backend)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=(3, 9, 10, 6)).astype(dtype)
    x[0] = 1.0  # every window all ties
    out, argmax = ops.max_pool2d(x, pool_size, strides)
    want, want_arg = loops.max_pool2d(x, pool_size, strides)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(argmax, want_arg)
    dy = images(out.shape, dtype, seed=1)
    assert_close(ops.max_pool2d_backward(dy, argmax, x.shape[1:]),
                 loops.max_pool2d_backward(dy, want_arg, x.shape[1:]), dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_outputs_given_are_written_and_returned(backend, dtype):
    ops = get_ops(backend)
    x = images((2, 9, 8, 5), dtype)
    shape = out_shape(2, 9, 8, 5, (3, 3), (2, 2))
    out = np.full(shape, np.nan, dtype)
    argmax = np.full(shape, -1, np.int32)
    got, got_arg = ops.max_pool2d(x, (3, 3), (2, 2), out=out, argmax=argmax)
    assert got is out and got_arg is argmax
    want, want_arg = loops.max_pool2d(x, (3, 3), (2, 2))
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(argmax, want_arg)
    dy = images(shape, dtype, seed=1)
    dx = np.full(x.shape, np.nan, dtype)
    assert ops.max_pool2d_backward(dy, argmax, x.shape[1:], dx=dx) is dx
    assert_close(dx, loops.max_pool2d_backward(dy, want_arg, x.shape[1:]), dtype)
    out = np.full(shape, np.nan, dtype)
    assert ops.avg_pool2d(x, (3, 3), (2, 2), out=out) is out
    assert_close(out, loops.avg_pool2d(x, (3, 3), (2, 2)), dtype)
    dx = np.full(x.shape, np.nan, dtype)
    assert ops.avg_pool2d_backward(dy, x.shape[1:], (3, 3), (2, 2), dx=dx) is dx
    assert_close(dx, loops.avg_pool2d_backward(dy, x.shape[1:], (3, 3), (2, 2)), dtype)
    out = np.full((2, 5), np.nan, dtype)
    assert ops.global_avg_pool2d(x, out=out) is out
    assert_close(out, loops.global_avg_pool2d(x), dtype)
    dx = np.full(x.shape, np.nan, dtype)
    assert ops.global_avg_pool2d_backward(out, x.shape[1:], dx=dx) is dx
    assert_close(dx, loops.global_avg_pool2d_backward(out, x.shape[1:]), dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_inputs_give_the_same_results(backend):
    ops = get_ops(backend)
    x = images((3, 9, 8, 10), np.float64)[:, :, :, ::2]
    out, argmax = ops.max_pool2d(x, (3, 3), (2, 2))
    want, want_arg = loops.max_pool2d(x, (3, 3), (2, 2))
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(argmax, want_arg)
    dy = images((3, 4, 3, 10), np.float64)[..., ::2]
    assert_close(ops.max_pool2d_backward(dy, argmax, x.shape[1:]),
                 loops.max_pool2d_backward(dy, want_arg, x.shape[1:]), np.float64)
    assert_close(ops.avg_pool2d(x, (3, 3), (2, 2)), loops.avg_pool2d(x, (3, 3), (2, 2)),
                 np.float64)
    assert_close(ops.avg_pool2d_backward(dy, x.shape[1:], (3, 3), (2, 2)),
                 loops.avg_pool2d_backward(dy, x.shape[1:], (3, 3), (2, 2)), np.float64)
    assert_close(ops.global_avg_pool2d(x), loops.global_avg_pool2d(x), np.float64)
    assert_close(ops.global_avg_pool2d_backward(dy[:, 0, 0, :], x.shape[1:]),
                 loops.global_avg_pool2d_backward(dy[:, 0, 0, :], x.shape[1:]), np.float64)


# ------------------------------------------------------------------ finite differences
def numerical_gradient(f, x, eps=1e-6):
    """Central differences of the scalar ``f`` at every element of ``x``."""
    grad = np.empty_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + eps
        up = f(x)
        flat[k] = keep - eps
        down = f(x)
        flat[k] = keep
        g[k] = (up - down) / (2 * eps)
    return grad


def spaced_images(shape, seed):
    """Values at least 0.01 apart, so that no window's maximum changes under a small step."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.01 + rng.uniform(0, 1e-3, size)).reshape(shape)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pool_size, strides", [((2, 2), (2, 2)), ((3, 3), (2, 2)),
                                                ((2, 3), (3, 1))], ids=["2s2", "3s2", "2x3s3x1"])
def test_pool_gradients_match_finite_differences(backend, pool_size, strides):
    ops = get_ops(backend)
    x = spaced_images((2, 7, 6, 3), seed=4)
    r = images(out_shape(*x.shape, pool_size, strides), np.float64, seed=5)

    def max_loss(x):
        return float(np.sum(ops.max_pool2d(x, pool_size, strides)[0] * r))

    def avg_loss(x):
        return float(np.sum(ops.avg_pool2d(x, pool_size, strides) * r))

    _, argmax = ops.max_pool2d(x, pool_size, strides)
    np.testing.assert_allclose(ops.max_pool2d_backward(r, argmax, x.shape[1:]),
                               numerical_gradient(max_loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ops.avg_pool2d_backward(r, x.shape[1:], pool_size, strides),
                               numerical_gradient(avg_loss, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_pool_gradient_matches_finite_differences(backend):
    ops = get_ops(backend)
    x = images((2, 4, 3, 5), np.float64, seed=6)
    r = images((2, 5), np.float64, seed=7)
    numeric = numerical_gradient(lambda x: float(np.sum(ops.global_avg_pool2d(x) * r)), x)
    np.testing.assert_allclose(ops.global_avg_pool2d_backward(r, x.shape[1:]), numeric,
                               rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pool_size, strides, match", [
    ((0, 2), (2, 2), "pool_size must be two integers >= 1"),
    ((2, 2), (2, 0), "strides must be two integers >= 1"),
    ((2,), (2, 2), "pool_size must be two integers >= 1"),
    ((2, 2), (1.5, 2), "strides must be two integers >= 1"),
    ((6, 2), (1, 1), "does not fit in images of 5x4"),
    ((2, 5), (1, 1), "does not fit in images of 5x4"),
])
def test_bad_windows_are_rejected(backend, pool_size, strides, match):
    ops = get_ops(backend)
    x = images((2, 5, 4, 3), np.float64)
    with pytest.raises(ValueError, match=match):
        ops.max_pool2d(x, pool_size, strides)
    with pytest.raises(ValueError, match=match):
        ops.avg_pool2d(x, pool_size, strides)
    with pytest.raises(ValueError, match=match):
        ops.avg_pool2d_backward(np.zeros((2, 2, 2, 3)), (5, 4, 3), pool_size, strides)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_that_are_not_batches_of_images_are_rejected(backend):
    ops = get_ops(backend)
    x = images((5, 4, 3), np.float64)
    with pytest.raises(ValueError, match=r"shape \(n, height, width, channels\)"):
        ops.max_pool2d(x, (2, 2), (2, 2))
    with pytest.raises(ValueError, match=r"shape \(n, height, width, channels\)"):
        ops.avg_pool2d(x, (2, 2), (2, 2))
    with pytest.raises(ValueError, match=r"shape \(n, height, width, channels\)"):
        ops.global_avg_pool2d(x)
    with pytest.raises(ValueError, match=r"x_shape must be the shape \(height, width, channels\)"):
        ops.global_avg_pool2d_backward(np.zeros((2, 3)), (2, 5, 4, 3))
    with pytest.raises(ValueError, match=r"x_shape must be the shape \(height, width, channels\)"):
        ops.max_pool2d_backward(np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 2, 3), np.int32),
                                (5, 0, 3))


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
    from nnfast.backend import cpu_pooling
    spy = Spy(cpu_pooling._pooling)
    monkeypatch.setattr(cpu_pooling, "_pooling", spy)
    return spy


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_compiled_kernels_run(spy, dtype):
    ops = get_ops("cpu")
    x = images((2, 6, 6, 4), dtype)
    out, argmax = ops.max_pool2d(x, (2, 2), (2, 2))
    ops.max_pool2d_backward(out, argmax, x.shape[1:])
    ops.avg_pool2d_backward(ops.avg_pool2d(x, (2, 2), (2, 2)), x.shape[1:], (2, 2), (2, 2))
    ops.global_avg_pool2d_backward(ops.global_avg_pool2d(x), x.shape[1:])
    assert spy.calls == ["max_pool2d", "max_pool2d_backward", "avg_pool2d",
                         "avg_pool2d_backward", "global_avg_pool2d", "global_avg_pool2d_backward"]


def test_integer_images_go_to_the_reference(spy):
    x = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    out, argmax = get_ops("cpu").max_pool2d(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(out, loops.max_pool2d(x, (2, 2), (2, 2))[0])
    assert spy.calls == []


def _bad_calls():
    ops = get_ops("cpu")
    x = images((2, 6, 5, 3), np.float32)
    dy = images((2, 3, 2, 3), np.float32)
    argmax = ops.max_pool2d(x, (2, 2), (2, 2))[1]
    f64 = np.zeros((2, 3, 2, 3))
    strided = np.zeros((2, 3, 2, 6), np.float32)[..., ::2]
    return [
        ("out-dtype", lambda: ops.max_pool2d(x, (2, 2), (2, 2), out=f64),
         r"out must be a C-contiguous float32 array of shape \(2, 3, 2, 3\), got a float64"),
        ("out-shape", lambda: ops.avg_pool2d(x, (2, 2), (2, 2), out=np.zeros((2, 3, 3, 3),
                                                                              np.float32)),
         r"out must be a C-contiguous float32 array of shape \(2, 3, 2, 3\)"),
        ("out-strided", lambda: ops.max_pool2d(x, (2, 2), (2, 2), out=strided),
         "not C-contiguous"),
        ("out-overlaps-x", lambda: ops.avg_pool2d(x, (2, 2), (2, 2),
                                                  out=x.reshape(-1)[:36].reshape(2, 3, 2, 3)),
         "out must not overlap the inputs"),
        ("argmax-dtype", lambda: ops.max_pool2d(x, (2, 2), (2, 2),
                                                argmax=np.zeros((2, 3, 2, 3), np.int64)),
         r"argmax must be a C-contiguous int32 array of shape \(2, 3, 2, 3\), got a int64"),
        ("backward-argmax-dtype", lambda: ops.max_pool2d_backward(dy, argmax.astype(np.int64),
                                                                  (6, 5, 3)),
         "argmax must be an int32 array of the shape of dy"),
        ("backward-argmax-shape", lambda: ops.max_pool2d_backward(dy, argmax[:1], (6, 5, 3)),
         "argmax must be an int32 array of the shape of dy"),
        ("backward-argmax-range", lambda: ops.max_pool2d_backward(dy, argmax + 60, (6, 5, 3)),
         r"argmax holds indices outside \[0, 90\)"),
        ("backward-negative-index", lambda: ops.max_pool2d_backward(dy, argmax - 100,
                                                                     (6, 5, 3)),
         r"argmax holds indices outside \[0, 90\)"),
        ("backward-channels", lambda: ops.max_pool2d_backward(dy, argmax, (6, 5, 4)),
         r"dy must have shape \(n, ho, wo, 4\)"),
        ("backward-dx", lambda: ops.max_pool2d_backward(dy, argmax, (6, 5, 3),
                                                        dx=np.zeros((2, 6, 5, 3))),
         r"dx must be a C-contiguous float32 array of shape \(2, 6, 5, 3\)"),
        ("avg-backward-dy", lambda: ops.avg_pool2d_backward(dy, (6, 6, 3), (2, 2), (2, 2)),
         r"dy has shape \(2, 3, 2, 3\), expected \(2, 3, 3, 3\)"),
        ("avg-backward-dx", lambda: ops.avg_pool2d_backward(dy, (6, 5, 3), (2, 2), (2, 2),
                                                            dx=np.zeros((2, 6, 5, 3), np.int32)),
         "dx must be a C-contiguous float32 array"),
        ("global-out", lambda: ops.global_avg_pool2d(x, out=np.zeros((2, 4), np.float32)),
         r"out must be a C-contiguous float32 array of shape \(2, 3\)"),
        ("global-backward-dy", lambda: ops.global_avg_pool2d_backward(dy, (6, 5, 3)),
         r"dy must have shape \(n, 3\)"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_calls())),
                         ids=[name for name, _, _ in _bad_calls()])
def test_compiled_ops_reject_bad_arguments(case, spy):
    _, call, match = _bad_calls()[case]
    with pytest.raises(ValueError, match=match):
        call()
    assert spy.calls in ([], ["max_pool2d"])  # only the argmax made for the case


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_results_do_not_depend_on_the_threads(dtype, monkeypatch):
    ops = get_ops("cpu")
    x = images((5, 11, 12, 7), dtype)
    dy = images((5, 5, 5, 7), dtype, seed=1)
    results = []
    for n_threads in (1, 2):
        previous = nnfast.get_num_threads()
        nnfast.set_num_threads(n_threads)
        monkeypatch.setattr(nnfast.backend._threads, "PARALLEL_MIN_WORK", 1)
        monkeypatch.setattr(nnfast.backend._threads, "PRODUCT_WORK_DIVISOR", 1)
        try:
            out, argmax = ops.max_pool2d(x, (3, 3), (2, 2))
            results.append([out, argmax, ops.max_pool2d_backward(dy, argmax, x.shape[1:]),
                            ops.avg_pool2d(x, (3, 3), (2, 2)),
                            ops.avg_pool2d_backward(dy, x.shape[1:], (3, 3), (2, 2))])
        finally:
            nnfast.set_num_threads(previous)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
