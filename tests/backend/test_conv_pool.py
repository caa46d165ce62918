"""The one-channel convolution fused with 2x2 max pooling, against the layers' ops one by one.

``nnfast._conv.conv_pool2d`` runs a one-channel convolution of stride 1, its
bias and ReLU (or no activation), and 2x2 max pooling of stride 2 in one
pass; ``conv_pool2d_backward`` takes the kernel and bias gradients from the
pooled gradient; ``ConvPoolNode`` runs both in the compiled network in place
of a convolution node and a pooling node.  The reference is the numpy ops
(convolution, activation, pooling and their gradients) one after the other,
on odd sizes (pooling that drops a row or column), asymmetric padding,
several kernel shapes, filter counts that do not fill a vector, batches of
one, float32 and float64, one thread and two, and at every instruction-set
level, which must all give the same bits.
"""
import numpy as np
import pytest

import nnfast.backend._threads as threads_module
from nnfast import _conv, _simd
from nnfast.backend import cpu_network, get_ops
from nnfast.backend.cpu_network import make_network
from nnfast.backend.ops_conv import conv_output_size

from .gradcheck import assert_gradients_by_finite_differences
from .test_conv_ops import conv_spec

REF = get_ops("numpy")
DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}

pytestmark = pytest.mark.skipif(not _conv.conv_pool_supported(),
                                reason="this build's compiler has no vector extensions")

# (n, h, w, (kh, kw), filters, padding (top, bottom, left, right))
CASES = {
    "classic-same": ((3, 28, 28), (3, 3), 32, (1, 1, 1, 1)),
    # An 11x10 output: the pooling drops its last row.
    "valid-odd": ((2, 13, 12), (3, 3), 10, (0, 0, 0, 0)),
    "wide-kernel-asym": ((2, 9, 11), (2, 4), 33, (2, 0, 1, 3)),
    "5x5-one-filter": ((1, 7, 6), (5, 5), 1, (2, 2, 2, 2)),
    "pointwise": ((2, 6, 5), (1, 1), 17, (0, 0, 0, 0)),
    "batch1-2x2-out": ((1, 4, 4), (3, 3), 16, (0, 0, 0, 0)),
}


def make_case(name, dtype, seed=0):
    (n, h, w), (kh, kw), f, padding = CASES[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, 1)).astype(dtype)
    kernel = rng.standard_normal((kh, kw, 1, f)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    ho = conv_output_size(h, kh, 1, padding[0], padding[1])
    wo = conv_output_size(w, kw, 1, padding[2], padding[3])
    dy = rng.standard_normal((n, ho // 2, wo // 2, f)).astype(dtype)
    return x, kernel, bias, padding, dy


def reference(x, kernel, bias, padding, activation, dy):
    """Pooled output, window positions, kernel and bias gradients by the numpy ops."""
    a = REF.activation(REF.conv2d(x, kernel, bias, (1, 1), padding), activation)
    out, argmax = REF.max_pool2d(a, (2, 2), (2, 2))
    dz = REF.backprop_activation(REF.max_pool2d_backward(dy, argmax, a.shape[1:]), a, activation)
    dkernel, dbias = np.empty_like(kernel), np.empty_like(bias)
    REF.conv2d_backward(dz, x, kernel, (1, 1), padding, dkernel=dkernel, dbias=dbias, dx=False)
    # argmax: (row * wo + col) * f + filter within the sample -> window position.
    _, hp, wp, f = out.shape
    wo = a.shape[2]
    rows, cols = argmax // f // wo, argmax // f % wo
    pi, pj = np.arange(hp)[:, None, None], np.arange(wp)[None, :, None]
    position = 2 * (rows - 2 * pi) + (cols - 2 * pj)
    return out, position.astype(np.uint8), dkernel, dbias


def fused(x, kernel, bias, padding, activation, dy, threads=1, relu=None):
    n, h, w, _ = x.shape
    kh, kw, _, f = kernel.shape
    hp, wp = dy.shape[1:3]
    out = np.full(dy.shape, np.nan, x.dtype)
    pos = np.full(dy.shape, 9, np.uint8)
    work = np.empty(_conv.conv_pool_work(kh, kw, f, wp, threads), x.dtype)
    relu = activation == "relu" if relu is None else relu
    _conv.conv_pool2d(x.reshape(n, h, w), kernel.reshape(kh * kw, f), bias, out, pos, work, kh,
                      kw, padding[0], padding[2], relu, threads)
    dkernel = np.full((kh * kw, f), np.nan, x.dtype)
    dbias = np.full(f, np.nan, x.dtype)
    _conv.conv_pool2d_backward(dy, x.reshape(n, h, w), out, pos, dkernel, dbias, work, kh, kw,
                               padding[0], padding[2], relu, threads)
    return out, pos, dkernel.reshape(kernel.shape), dbias


def assert_close(actual, expected, dtype):
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL[np.dtype(dtype)] * scale)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("activation", ["relu", "identity"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES)
def test_matches_the_layers_one_by_one(case, dtype, activation, threads, simd):
    x, kernel, bias, padding, dy = make_case(case, dtype)
    out, pos, dkernel, dbias = fused(x, kernel, bias, padding, activation, dy, threads)
    want, want_pos, want_dkernel, want_dbias = reference(x, kernel, bias, padding, activation,
                                                         dy)
    assert_close(out, want, dtype)
    # Where ReLU leaves a window at zero, any position gives the same gradient.
    counts = want > 0 if activation == "relu" else np.ones(want.shape, bool)
    np.testing.assert_array_equal(pos[counts], want_pos[counts])
    assert pos.max() <= 3
    assert_close(dkernel, want_dkernel, dtype)
    assert_close(dbias, want_dbias, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_same_bits_at_every_simd_level_and_thread_count(dtype):
    x, kernel, bias, padding, dy = make_case("wide-kernel-asym", dtype, seed=3)
    results = {}
    for level in range(3):
        if _simd.select_simd_kernels(level) != level:
            continue
        try:
            for threads in (1, 2):
                results[level, threads] = fused(x, kernel, bias, padding, "relu", dy, threads)
        finally:
            _simd.select_simd_kernels()
    first = results[0, 1]
    for key, result in results.items():
        if key[1] == 1:
            for got, want in zip(result, first):
                np.testing.assert_array_equal(got, want)
        else:  # two threads' partial gradients: the same forward pass, close gradients
            for got, want in zip(result[:2], first[:2]):
                np.testing.assert_array_equal(got, want)
            assert_close(result[2], first[2], dtype)


def test_ties_go_to_the_first_window_position(simd):
    x = np.zeros((2, 6, 6, 1), np.float32)
    kernel = np.ones((3, 3, 1, 20), np.float32)
    bias = np.full(20, 0.5, np.float32)
    dy = np.ones((2, 3, 3, 20), np.float32)
    out, pos, dkernel, dbias = fused(x, kernel, bias, (1, 1, 1, 1), "identity", dy)
    np.testing.assert_array_equal(out, 0.5)
    np.testing.assert_array_equal(pos, 0)
    np.testing.assert_array_equal(dbias, 18.0)
    np.testing.assert_array_equal(dkernel, 0.0)


def test_nan_gradient_behind_a_dead_unit_stays_nan():
    x, kernel, bias, padding, dy = make_case("batch1-2x2-out", np.float64)
    bias[:] = -100.0  # every unit dead: ReLU outputs 0
    dy[...] = np.nan
    out, _, dkernel, dbias = fused(x, kernel, bias, padding, "relu", dy)
    np.testing.assert_array_equal(out, 0.0)
    assert np.isnan(dbias).all() and np.isnan(dkernel).all()


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_gradients_by_finite_differences(activation):
    x, kernel, bias, padding, weights = make_case("wide-kernel-asym", np.float64, seed=5)
    _, _, dkernel, dbias = fused(x, kernel, bias, padding, activation, weights)

    def loss(kernel_, bias_):
        return float((fused(x, kernel_, bias_, padding, activation, weights)[0] * weights).sum())

    assert_gradients_by_finite_differences(loss, (kernel, bias), (dkernel, dbias), seed=6)


# --------------------------------------------------------------- network node
def pool_spec(in_shape, need_dx=True, pool_size=(2, 2), strides=(2, 2)):
    h, w, f = in_shape
    out = ((h - pool_size[0]) // strides[0] + 1, (w - pool_size[1]) // strides[1] + 1, f)
    return {"kind": "max_pool2d", "pool_size": pool_size, "strides": strides,
            "in_shape": in_shape, "out_shape": out, "need_dx": need_dx}


def network_parts(dtype, c=1, strides=(1, 1), activation="relu", need_dx=False,
                  pool=((2, 2), (2, 2)), seed=0):
    """A convolution, a pooling and a dense layer; their parameters, gradients and specs."""
    rng = np.random.default_rng(seed)
    kernel = (rng.standard_normal((3, 3, c, 12)) / 3).astype(dtype)
    bias = rng.standard_normal(12).astype(dtype) / 4
    conv = conv_spec(kernel, bias, np.empty_like(kernel), np.empty_like(bias), (11, 10, c),
                     strides, (1, 1, 1, 1), activation, need_dx)
    pool = pool_spec(conv["out_shape"], pool_size=pool[0], strides=pool[1])
    size = int(np.prod(pool["out_shape"]))
    W = (rng.standard_normal((size, 5)) / np.sqrt(size)).astype(dtype)
    b = np.zeros(5, dtype)
    reshape = {"kind": "reshape", "in_shape": pool["out_shape"], "out_shape": (size,),
               "need_dx": True}
    dense = {"kind": "dense", "W": W, "b": b, "dW": np.empty_like(W), "db": np.empty_like(b),
             "activation": "identity", "transposed": False, "add_w": False, "add_b": False,
             "in_shape": (size,), "out_shape": (5,), "need_dx": True}
    updates = [(0, kernel, conv["dkernel"], False), (0, bias, conv["dbias"], False),
               (3, W, dense["dW"], False), (3, b, dense["db"], False)]
    return [conv, pool, reshape, dense], updates


def node_kinds(net):
    return [type(node).__name__ for node in net._net.nodes]


@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("activation", ["relu", "identity"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_node_matches_the_unfused_network(dtype, activation, threads, monkeypatch):
    if threads == "parallel":
        monkeypatch.setattr(threads_module, "PARALLEL_MIN_WORK", 2)
        monkeypatch.setattr(threads_module, "PRODUCT_WORK_DIVISOR", 1)
        monkeypatch.setitem(threads_module._state, "n_threads", 2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 11, 10, 1)).astype(dtype)
    targets = rng.standard_normal((7, 5)).astype(dtype)
    results = []
    for fusers in (dict(cpu_network.NODE_FUSERS), {}):
        monkeypatch.setattr(cpu_network, "NODE_FUSERS", fusers)
        specs, updates = network_parts(dtype, activation=activation)
        net = make_network(specs, "mean_squared_error", False, 1, updates, np.dtype(dtype))
        assert node_kinds(net)[:2] == (["ConvPoolNode", "ReshapeNode"] if fusers
                                       else ["ConvNode", "MaxPoolNode"])
        loss, out = net.train_step(x, targets)
        results.append((loss, out.copy(), [grad.copy() for _, _, grad, _ in updates]))
    (loss, out, grads), (want_loss, want_out, want_grads) = results
    assert loss == pytest.approx(want_loss, rel=1e-5 if dtype == np.float32 else 1e-12)
    assert_close(out, want_out, dtype)
    for grad, want in zip(grads, want_grads):
        assert_close(grad, want, dtype)


@pytest.mark.parametrize("change", [{"c": 3}, {"strides": (2, 1)}, {"activation": "tanh"},
                                    {"need_dx": True}, {"pool": ((3, 3), (2, 2))},
                                    {"pool": ((2, 2), (1, 1))}])
def test_other_layers_are_not_fused(change):
    specs, updates = network_parts(np.float32, **change)
    net = make_network(specs, "mean_squared_error", False, 1, updates, np.dtype(np.float32))
    assert "ConvPoolNode" not in node_kinds(net)


@pytest.mark.parametrize("change, message", [
    ({"kernel": np.zeros((8, 4))}, "kernel must have kh \\* kw = 9 rows"),
    ({"out": np.zeros((2, 2, 2, 5))}, "pooled arrays must have shape \\(2, hp, wp, 4\\)"),
    ({"pos": np.zeros((2, 2, 3, 4), np.uint8)}, "pooled arrays must have shape"),
    ({"work": np.zeros(3)}, "work must have conv_pool_work"),
    ({"bias": np.zeros(5)}, "bias must have 4 values"),
    ({"top": -1}, "top and left must be at least 0"),
])
def test_shapes_are_checked_before_the_kernels_run(change, message):
    args = {"x": np.zeros((2, 6, 6)), "kernel": np.zeros((9, 4)), "bias": np.zeros(4),
            "out": np.zeros((2, 2, 2, 4)), "pos": np.zeros((2, 2, 2, 4), np.uint8),
            "work": np.zeros(_conv.conv_pool_work(3, 3, 4, 2, 1)), "kh": 3, "kw": 3, "top": 0,
            "left": 0, "relu": True, "num_threads": 1}
    args.update(change)
    with pytest.raises(ValueError, match=message):
        _conv.conv_pool2d(*args.values())
    back = {"dy": args["out"], "x": args["x"], "y": np.zeros((2, 2, 2, 4)), "pos": args["pos"],
            "dkernel": np.zeros((9, 4)), "dbias": np.zeros(4), "work": args["work"],
            "kh": 3, "kw": 3, "top": args["top"], "left": 0, "relu": True, "num_threads": 1}
    if "kernel" in change or "bias" in change:
        back["dkernel" if "kernel" in change else "dbias"] = change.get("kernel",
                                                                        change.get("bias"))
        message = "dkernel must have shape"
    elif "out" in change:
        message = "pooled arrays must have shape"
    with pytest.raises(ValueError, match=message):
        _conv.conv_pool2d_backward(*back.values())
