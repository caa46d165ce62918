"""The convolution ops of every backend against plain loops, and the compiled node.

``loops_conv`` computes each output value (and each gradient) one at a time
from the definition; the reference ops (im2col by strided copies) and the
compiled ones (``nnfast._conv``: im2col blocks and BLAS, short window rows
gathered value by value and long ones copied whole, one-channel patches of
stride 1 gathered as columns, 1x1 kernels without a copy,
and Winograd F(4x4, 3x3) or F(2x2, 3x3) for 3x3 kernels of stride 1 over several
channels)
must agree with it on odd sizes, strides, asymmetric padding, one and many
channels and batches of one, in float32 and float64, on one thread and on
two.  The gradients are also checked by finite differences, and the compiled
network node against the ops called one after the other.
"""
import numpy as np
import pytest

import nnfast.backend._threads as threads_module
from nnfast import _conv
from nnfast.backend import get_ops
from nnfast.backend.cpu_network import make_network
from nnfast.backend.ops_conv import conv_output_size

from . import loops_conv as loops
from .gradcheck import assert_gradients_by_finite_differences

CPU = get_ops("cpu")
REF = get_ops("numpy")
BACKENDS = {"cpu": CPU, "numpy": REF}
DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}

# (x shape (n, h, w, c), kernel (kh, kw), filters, strides, padding (top, bottom, left, right))
CASES = {
    "one-channel-3x3": ((2, 9, 7, 1), (3, 3), 5, (1, 1), (0, 0, 0, 0)),
    "one-channel-same": ((3, 8, 11, 1), (3, 3), 4, (1, 1), (1, 1, 1, 1)),
    "one-channel-stride2-asym": ((2, 10, 9, 1), (4, 3), 3, (2, 2), (1, 2, 0, 1)),
    # One channel, stride 1 along rows: patches gathered as columns.
    "one-channel-row-stride2": ((2, 11, 10, 1), (2, 4), 5, (2, 1), (1, 0, 2, 3)),
    "batch1-one-filter": ((1, 5, 6, 2), (2, 3), 1, (1, 1), (0, 0, 0, 0)),
    "rgb-stride2-same": ((3, 11, 9, 3), (3, 3), 6, (2, 2), (1, 1, 1, 1)),
    "many-channels": ((2, 7, 8, 16), (3, 3), 24, (1, 1), (0, 0, 0, 0)),
    "asym-pad-strides": ((2, 9, 10, 5), (3, 2), 7, (2, 3), (2, 0, 1, 3)),
    "pad-wider-than-kernel": ((2, 4, 5, 3), (2, 2), 4, (1, 1), (3, 1, 0, 4)),
    "pointwise": ((3, 6, 5, 7), (1, 1), 9, (1, 1), (0, 0, 0, 0)),
    "pointwise-stride2": ((2, 7, 6, 4), (1, 1), 3, (2, 2), (0, 0, 0, 0)),
    "kernel-covers-input": ((2, 5, 4, 3), (5, 4), 6, (1, 1), (0, 0, 0, 0)),
    # More positions than a block holds: several blocks per thread.
    "many-blocks": ((3, 31, 29, 8), (3, 3), 10, (1, 1), (0, 1, 1, 0)),
    "many-blocks-one-channel": ((2, 50, 47, 1), (3, 3), 8, (1, 1), (1, 1, 1, 1)),
    # Winograd F(4x4, 3x3): outputs of every size modulo 4 (tiles partly
    # outside), padding on some sides only, tiles wholly in the padding,
    # several blocks a thread, more channels and filters than the transforms
    # take at once (32).
    "winograd-7x9-valid": ((2, 7, 9, 3), (3, 3), 5, (1, 1), (0, 0, 0, 0)),
    "winograd-11x11-same": ((2, 11, 11, 8), (3, 3), 16, (1, 1), (1, 1, 1, 1)),
    "winograd-13x13-asym": ((3, 13, 13, 4), (3, 3), 6, (1, 1), (2, 0, 0, 1)),
    "winograd-batch1-one-filter": ((1, 9, 7, 2), (3, 3), 1, (1, 1), (0, 2, 1, 0)),
    "winograd-pad-beyond-tiles": ((2, 3, 4, 5), (3, 3), 7, (1, 1), (3, 2, 2, 3)),
    "winograd-many-blocks": ((4, 30, 33, 24), (3, 3), 40, (1, 1), (1, 1, 1, 1)),
    "winograd-wide": ((2, 8, 10, 37), (3, 3), 33, (1, 1), (1, 0, 1, 1)),
    # Fewer than 4 rows of output: F(2x2, 3x3).
    "winograd-2x2-tiles": ((2, 5, 9, 6), (3, 3), 5, (1, 1), (0, 0, 1, 0)),
    # A single row or column of output stays on im2col.
    "3x3-one-output": ((3, 3, 3, 6), (3, 3), 5, (1, 1), (0, 0, 0, 0)),
    "3x3-one-output-row": ((2, 3, 8, 4), (3, 3), 3, (1, 1), (0, 0, 1, 0)),
}
#: The cases that the compiled ops run by Winograd.
WINOGRAD = [name for name in CASES if name.startswith("winograd")] + ["many-channels",
                                                                      "many-blocks"]


@pytest.fixture(params=["serial", "parallel"])
def threads(request, monkeypatch):
    """One thread, or two forced onto the small products of these tests."""
    if request.param == "parallel":
        monkeypatch.setattr(threads_module, "PARALLEL_MIN_WORK", 2)
        monkeypatch.setattr(threads_module, "PRODUCT_WORK_DIVISOR", 1)
        monkeypatch.setitem(threads_module._state, "n_threads", 2)
        with threads_module.own_threads() as held:
            if held:
                assert threads_module.product_threads(4, 4, 4) == 2
    return request.param


def make_case(name, dtype, seed=0):
    (n, h, w, c), (kh, kw), f, strides, padding = CASES[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    kernel = rng.standard_normal((kh, kw, c, f)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    ho = conv_output_size(h, kh, strides[0], padding[0], padding[1])
    wo = conv_output_size(w, kw, strides[1], padding[2], padding[3])
    dy = rng.standard_normal((n, ho, wo, f)).astype(dtype)
    return x, kernel, bias, strides, padding, dy


def assert_close(actual, expected, dtype):
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL[np.dtype(dtype)] * scale)


def test_output_size():
    assert conv_output_size(28, 3, 1, 0, 0) == 26
    assert conv_output_size(28, 3, 2, 1, 1) == 14
    assert conv_output_size(5, 2, 2, 0, 0) == 2
    assert conv_output_size(2, 3, 1, 0, 0) == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_loops(backend, dtype, case, threads):
    ops = BACKENDS[backend]
    x, kernel, bias, strides, padding, dy = make_case(case, dtype)
    expected = loops.conv2d(x, kernel, bias, strides, padding)
    y = ops.conv2d(x, kernel, bias, strides, padding)
    assert y.dtype == dtype and y.shape == expected.shape
    assert_close(y, expected, dtype)
    no_bias = ops.conv2d(x, kernel, None, strides, padding)
    assert_close(no_bias, expected - bias, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES)
def test_conv2d_backward_matches_loops(backend, dtype, case, threads):
    ops = BACKENDS[backend]
    x, kernel, bias, strides, padding, dy = make_case(case, dtype)
    dk_expected, db_expected, dx_expected = loops.conv2d_backward(dy, x, kernel, strides,
                                                                  padding)
    dkernel = np.full_like(kernel, np.nan)
    dbias = np.full_like(bias, np.nan)
    dx = ops.conv2d_backward(dy, x, kernel, strides, padding, dkernel=dkernel, dbias=dbias)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert_close(dkernel, dk_expected, dtype)
    assert_close(dbias, db_expected, dtype)
    assert_close(dx, dx_expected, dtype)
    # Each gradient alone, the input gradient into a given array or not at all.
    dkernel_only = np.full_like(kernel, np.nan)
    assert ops.conv2d_backward(dy, x, kernel, strides, padding, dkernel=dkernel_only,
                               dx=False) is None
    assert_close(dkernel_only, dk_expected, dtype)
    dbias_only = np.full_like(bias, np.nan)
    assert ops.conv2d_backward(dy, x, kernel, strides, padding, dbias=dbias_only,
                               dx=False) is None
    assert_close(dbias_only, db_expected, dtype)
    dx_given = np.full_like(x, np.nan)
    assert ops.conv2d_backward(dy, x, kernel, strides, padding, dx=dx_given) is dx_given
    assert_close(dx_given, dx_expected, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_is_written_in_place(backend):
    ops = BACKENDS[backend]
    x, kernel, bias, strides, padding, dy = make_case("rgb-stride2-same", np.float32)
    out = np.full(dy.shape, np.nan, np.float32)
    assert ops.conv2d(x, kernel, bias, strides, padding, out=out) is out
    assert_close(out, loops.conv2d(x, kernel, bias, strides, padding), np.float32)


@pytest.mark.parametrize("case", ["one-channel-stride2-asym", "asym-pad-strides", "pointwise",
                                  "many-channels"])
def test_compiled_equals_reference_across_threads(case, monkeypatch):
    # The partial kernel gradients of two threads add up to what one thread sums.
    x, kernel, bias, strides, padding, dy = make_case(case, np.float64)
    dk1, db1 = np.empty_like(kernel), np.empty_like(bias)
    dx1 = CPU.conv2d_backward(dy, x, kernel, strides, padding, dk1, db1)
    monkeypatch.setattr(threads_module, "PARALLEL_MIN_WORK", 2)
    monkeypatch.setattr(threads_module, "PRODUCT_WORK_DIVISOR", 1)
    monkeypatch.setitem(threads_module._state, "n_threads", 2)
    dk2, db2 = np.empty_like(kernel), np.empty_like(bias)
    dx2 = CPU.conv2d_backward(dy, x, kernel, strides, padding, dk2, db2)
    np.testing.assert_allclose(dk2, dk1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db2, db1, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(dx2, dx1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["one-channel-stride2-asym", "asym-pad-strides",
                                  "pad-wider-than-kernel", "pointwise-stride2",
                                  "winograd-7x9-valid", "winograd-13x13-asym",
                                  "winograd-pad-beyond-tiles"])
def test_gradients_by_finite_differences(backend, case):
    ops = BACKENDS[backend]
    x, kernel, bias, strides, padding, _ = make_case(case, np.float64, seed=3)
    weights = np.random.default_rng(4).standard_normal(
        ops.conv2d(x, kernel, bias, strides, padding).shape)

    def loss(x_, kernel_, bias_):
        return float((ops.conv2d(x_, kernel_, bias_, strides, padding) * weights).sum())

    dkernel, dbias = np.empty_like(kernel), np.empty_like(bias)
    dx = ops.conv2d_backward(weights, x, kernel, strides, padding, dkernel=dkernel, dbias=dbias)
    assert_gradients_by_finite_differences(loss, (x, kernel, bias), (dx, dkernel, dbias), seed=5)


@pytest.fixture
def winograd():
    """A function that sets the Winograd tile (``_conv.set_winograd``) until the test ends."""
    before = []

    def choose(tile):
        before.append(_conv.set_winograd(tile))
    yield choose
    if before:
        _conv.set_winograd(before[0])


def uses_winograd(case):
    (n, h, w, c), (kh, kw), f, strides, padding = CASES[case]
    ho = conv_output_size(h, kh, strides[0], padding[0], padding[1])
    wo = conv_output_size(w, kw, strides[1], padding[2], padding[3])
    return _conv.uses_winograd((n, h, w, c), (kh, kw, c, f), ho, wo, strides)


@pytest.mark.parametrize("case", CASES)
def test_winograd_runs_3x3_kernels_of_stride_1_over_several_channels(case, winograd):
    """Over two channels or more, and for outputs of two rows and two columns or more.

    F(4x4, 3x3) where the output has four rows and four columns or more,
    F(2x2, 3x3) where it has fewer; either where chosen.
    """
    (n, h, w, c), (kh, kw), f, strides, padding = CASES[case]
    ho = conv_output_size(h, kh, strides[0], padding[0], padding[1])
    wo = conv_output_size(w, kw, strides[1], padding[2], padding[3])
    fits = (kh, kw) == (3, 3) and strides == (1, 1) and c >= 2 and min(ho, wo) >= 2
    assert fits == (case in WINOGRAD)
    assert uses_winograd(case) == (0 if not fits else 4 if min(ho, wo) >= 4 else 2)
    for tile in (2, 4, 0):
        winograd(tile)
        assert uses_winograd(case) == (tile if fits else 0)
    winograd("auto")
    assert uses_winograd(case) == (0 if not fits else 4 if min(ho, wo) >= 4 else 2)


@pytest.mark.parametrize("tile", ["auto", 1, 3, True, "4", None])
def test_set_winograd_takes_a_tile(tile, winograd):
    if tile == "auto":
        winograd(tile)
        assert _conv.set_winograd(2) == "auto"
        assert _conv.set_winograd(0) == 2
        assert _conv.set_winograd("auto") == 0
        return
    with pytest.raises(ValueError, match="tile must be 'auto', 4, 2 or 0"):
        _conv.set_winograd(tile)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("tile", [4, 2])
@pytest.mark.parametrize("case", WINOGRAD)
def test_winograd_matches_im2col(dtype, tile, case, threads, winograd):
    """Both compiled schemes agree to rounding in float32: ~1e-6 of the values' size for
    F(2x2, 3x3), a few times that for F(4x4, 3x3), whose transforms have larger entries."""
    x, kernel, bias, strides, padding, dy = make_case(case, dtype, seed=11)
    results = []
    for setting in (tile, 0):
        winograd(setting)
        assert uses_winograd(case) == setting
        dkernel, dbias = np.empty_like(kernel), np.empty_like(bias)
        y = CPU.conv2d(x, kernel, bias, strides, padding)
        dx = CPU.conv2d_backward(dy, x, kernel, strides, padding, dkernel=dkernel, dbias=dbias)
        results.append((y, dkernel, dbias, dx))
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    for by_winograd, im2col in zip(*results):
        scale = float(np.abs(im2col).max())
        np.testing.assert_allclose(by_winograd, im2col, rtol=rtol, atol=rtol / 10 * scale)


def test_non_contiguous_inputs_are_copied():
    x, kernel, bias, strides, padding, dy = make_case("many-channels", np.float32)
    x_f = np.asfortranarray(x)
    kernel_view = np.ascontiguousarray(kernel[::-1])[::-1]
    assert not x_f.flags.c_contiguous and not kernel_view.flags.c_contiguous
    assert_close(CPU.conv2d(x_f, kernel_view, bias, strides, padding),
                 loops.conv2d(x, kernel, bias, strides, padding), np.float32)
    dkernel = np.empty_like(kernel)
    dx = CPU.conv2d_backward(np.asfortranarray(dy), x_f, kernel_view, strides, padding,
                             dkernel=dkernel)
    dk_expected, _, dx_expected = loops.conv2d_backward(dy, x, kernel, strides, padding)
    assert_close(dkernel, dk_expected, np.float32)
    assert_close(dx, dx_expected, np.float32)


def test_empty_batch_falls_back_to_the_reference():
    x = np.zeros((0, 5, 5, 2), np.float32)
    kernel = np.ones((3, 3, 2, 4), np.float32)
    assert CPU.conv2d(x, kernel).shape == (0, 3, 3, 4)


# ------------------------------------------------------------------- errors
X = np.zeros((2, 6, 6, 3), np.float32)
K = np.zeros((3, 3, 3, 4), np.float32)
B = np.zeros(4, np.float32)


@pytest.mark.parametrize("kwargs, message", [
    ({"x": X[0]}, r"x must have 4 dimensions \(n, h, w, c\)"),
    ({"kernel": K[0]}, r"kernel must have 4 dimensions"),
    ({"kernel": np.zeros((3, 3, 2, 4), np.float32)}, r"expected kernel.shape\[2\] == 3"),
    ({"bias": np.zeros(5, np.float32)}, r"bias has shape \(5,\), expected \(4,\)"),
    ({"x": X.astype(np.float64)}, r"kernel has dtype float32 but the other arrays have float64"),
    ({"x": X.astype(np.int32)}, r"x must be a float32 or float64 numpy array, got int32"),
    ({"x": [[1.0]]}, r"x must be a float32 or float64 numpy array, got list"),
    ({"strides": (0, 1)}, r"strides must be 2 integers, each at least 1"),
    ({"strides": (1,)}, r"strides must be 2 integers"),
    ({"padding": (1, 1, 1)}, r"padding must be 4 integers, each at least 0"),
    ({"padding": (0, -1, 0, 0)}, r"padding must be 4 integers, each at least 0"),
    ({"kernel": np.zeros((7, 3, 3, 4), np.float32)},
     r"the kernel \(7, 3\) is larger than the padded input \(6, 6\)"),
    ({"out": np.zeros((2, 4, 4, 4), np.float64)},
     r"out must be a writeable C-contiguous float32 array of shape \(2, 4, 4, 4\)"),
    ({"out": np.zeros((2, 4, 4, 5), np.float32)}, r"out must be .* of shape \(2, 4, 4, 4\)"),
    ({"out": np.zeros((2, 4, 4, 8), np.float32)[..., ::2]}, r"out must be a writeable C-contig"),
])
def test_conv2d_rejects_bad_arguments(kwargs, message):
    args = {"x": X, "kernel": K, "bias": B, "strides": (1, 1), "padding": (0, 0, 0, 0)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        CPU.conv2d(**args)


def test_conv2d_rejects_out_overlapping_input():
    x = np.zeros((1, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match="out must not overlap"):
        CPU.conv2d(x, np.zeros((1, 1, 4, 4), np.float32), out=x)


DY = np.zeros((2, 4, 4, 4), np.float32)


@pytest.mark.parametrize("kwargs, message", [
    ({"dy": DY[:, :3]}, r"dy has shape \(2, 3, 4, 4\), expected \(2, 4, 4, 4\)"),
    ({"dy": DY.astype(np.float64)}, r"x has dtype float32 but the other arrays have float64"),
    ({"dkernel": np.zeros((3, 3, 3, 5), np.float32)},
     r"dkernel must be a writeable C-contiguous float32 array of shape \(3, 3, 3, 4\)"),
    ({"dbias": np.zeros(4, np.float64)}, r"dbias must be .* float32 array of shape \(4,\)"),
    ({"dx": np.zeros((2, 6, 6, 3), np.float32).T},
     r"dx must be a writeable C-contiguous float32 array of shape \(2, 6, 6, 3\)"),
    ({"dkernel": DY}, r"dkernel must be .* of shape \(3, 3, 3, 4\)"),
    ({"strides": (1, 0)}, r"strides must be 2 integers, each at least 1"),
])
def test_conv2d_backward_rejects_bad_arguments(kwargs, message):
    args = {"dy": DY, "x": X, "kernel": K, "dkernel": np.zeros_like(K), "dbias": np.zeros(4,
            np.float32), "dx": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        CPU.conv2d_backward(**args)


def test_conv2d_backward_rejects_overlapping_gradients():
    dkernel = np.zeros(K.size + 4, np.float32)
    with pytest.raises(ValueError, match="must not overlap one another"):
        CPU.conv2d_backward(DY, X, K, dkernel=dkernel[:K.size].reshape(K.shape),
                            dbias=dkernel[K.size - 4:K.size], dx=False)


# --------------------------------------------------------------------- node
def conv_spec(kernel, bias, dkernel, dbias, in_shape, strides, padding, activation, need_dx):
    h, w, _ = in_shape
    kh, kw, _, f = kernel.shape
    out_shape = (conv_output_size(h, kh, strides[0], padding[0], padding[1]),
                 conv_output_size(w, kw, strides[1], padding[2], padding[3]), f)
    return {"kind": "conv2d", "kernel": kernel, "bias": bias, "dkernel": dkernel,
            "dbias": dbias, "strides": strides, "padding": padding, "activation": activation,
            "in_shape": in_shape, "out_shape": out_shape, "need_dx": need_dx}


#: Two chained convolutions: (channels in, second kernel (kh, kw), second strides,
#: the Winograd tile set and the one each convolution takes).
NODE_CHAINS = {
    "im2col": (1, (3, 2), (2, 1), "auto", 0),
    # Both by Winograd, the second with its input gradient.
    "winograd": (3, (3, 3), (1, 1), "auto", 4),
    "winograd-2x2": (3, (3, 3), (1, 1), 2, 2),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("activation", ["relu", "tanh", "identity"])
@pytest.mark.parametrize("chain", NODE_CHAINS)
def test_node_matches_the_ops(dtype, activation, chain, threads, winograd):
    """Two convolution nodes chained in the compiled network against the ops one by one."""
    rng = np.random.default_rng(7)
    n = 5
    c, (kh2, kw2), strides2, setting, tile = NODE_CHAINS[chain]
    winograd(setting)
    x = rng.standard_normal((n, 12, 11, c)).astype(dtype)
    k1 = rng.standard_normal((3, 3, c, 6)).astype(dtype)
    b1 = rng.standard_normal(6).astype(dtype)
    k2 = (rng.standard_normal((kh2, kw2, 6, 4)) / 4).astype(dtype)
    b2 = rng.standard_normal(4).astype(dtype)
    pads1, pads2 = (1, 1, 0, 2), (0, 1, 1, 0)
    grads = [np.full_like(a, np.nan) for a in (k1, b1, k2, b2)]
    spec1 = conv_spec(k1, b1, grads[0], grads[1], (12, 11, c), (1, 1), pads1, activation, False)
    spec2 = conv_spec(k2, b2, grads[2], grads[3], spec1["out_shape"], strides2, pads2,
                      activation, True)
    tiles = [_conv.uses_winograd((n,) + spec["in_shape"], spec["kernel"].shape,
                                 *spec["out_shape"][:2], spec["strides"])
             for spec in (spec1, spec2)]
    assert tiles == [tile, tile]
    updates = [(0, k1, grads[0], False), (0, b1, grads[1], False), (1, k2, grads[2], False),
               (1, b2, grads[3], False)]
    net = make_network([spec1, spec2], "mean_squared_error", False, 1, updates, np.dtype(dtype))
    assert net is not None
    targets = rng.standard_normal((n,) + spec2["out_shape"]).astype(dtype)
    loss, out = net.train_step(x, targets)

    h1 = REF.activation(REF.conv2d(x, k1, b1, (1, 1), pads1), activation)
    y = REF.activation(REF.conv2d(h1, k2, b2, strides2, pads2), activation)
    ref_loss, g = REF.mean_squared_error(y.reshape(n, -1), targets.reshape(n, -1))
    assert_close(out, y, dtype)
    assert loss == pytest.approx(ref_loss, rel=1e-4 if dtype == np.float32 else 1e-10)
    g = REF.backprop_activation(g.reshape(y.shape), y, activation)
    dk2, db2 = np.empty_like(k2), np.empty_like(b2)
    dh1 = REF.conv2d_backward(g, h1, k2, strides2, pads2, dkernel=dk2, dbias=db2)
    dh1 = REF.backprop_activation(dh1, h1, activation)
    dk1, db1 = np.empty_like(k1), np.empty_like(b1)
    REF.conv2d_backward(dh1, x, k1, (1, 1), pads1, dkernel=dk1, dbias=db1, dx=False)
    for actual, expected in zip(grads, (dk1, db1, dk2, db2)):
        assert_close(actual, expected, dtype)


def test_node_maker_declines_what_it_cannot_run():
    kernel = np.zeros((3, 3, 2, 4), np.float32)
    spec = conv_spec(kernel, None, None, None, (6, 6, 2), (1, 1), (0, 0, 0, 0), "relu", False)
    assert make_network([spec], "mean_squared_error", False, 1, [], np.dtype(np.float32))
    for change in ({"kernel": kernel.astype(np.float64)}, {"activation": "softmax"},
                   {"out_shape": (4, 4, 5)}, {"bias": np.zeros(3, np.float32)},
                   {"kernel": np.zeros((3, 3, 4, 2), np.float32)[..., ::2, :]}):
        assert make_network([{**spec, **change}], "mean_squared_error", False, 1, [],
                            np.dtype(np.float32)) is None


def test_scratch_covers_every_thread():
    one = _conv.scratch_elements((64, 13, 13, 32), (3, 4, 32, 64), 11, 10, (1, 1), 4, 1)
    assert _conv.scratch_elements((64, 13, 13, 32), (3, 4, 32, 64), 11, 10, (1, 1), 4, 2) == 2 * one
    # By Winograd: the transformed kernel once, then as much again for every thread.
    wino = [_conv.scratch_elements((64, 13, 13, 32), (3, 3, 32, 64), 11, 11, (1, 1), 4, t)
            for t in (1, 2, 3)]
    assert wino[2] - wino[1] == wino[1] - wino[0] < wino[0]
