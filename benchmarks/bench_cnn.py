"""Training and prediction of the classic CNN, and its training step taken apart op by op.

The model is :class:`nnfast.CNNClassifier`'s default ("classic") on 28x28
grey images: Conv2D(32, 3, ReLU) -> MaxPool2D(2) -> Conv2D(64, 3, ReLU) ->
MaxPool2D(2) -> Flatten -> Dense(128, ReLU) -> Dense(10, softmax), trained by
Adam (learning rate 1e-3) on softmax cross-entropy in batches of 64, float32.
Its convolutions are 'same'-padded, the estimator's default (maps of 28x28
and 14x14); ``NNFAST_BENCH_CNN_PADDING=valid`` times the course's original
'valid' ones instead (26x26 and 11x11).
Images are Fashion-MNIST when ``NNFAST_DATA`` points at it, random images of
the same shape otherwise.  All implementations run on the same number of
threads (``nnfast.get_num_threads()``).

A full epoch (60,000 images, 938 batches) takes minutes here, so the suite
times a fraction of one and says so in each name:

- ``cnn-epoch``: the first ``EPOCH_SLICE`` batches (6,400 images) of an
  epoch, in nnfast (``Sequential.fit``), in PyTorch on the CPU (NCHW, He
  uniform weights, ``Adam``, ``CrossEntropyLoss``, a plain loop over
  shuffled batches), in nnfast's numpy reference backend (``device="numpy"``:
  im2col by strided copies and ``matmul``, the textbook way), and as the
  matrix products alone that an im2col scheme needs for those batches (the
  floor; each product by the faster of nnfast's ``gemm`` and numpy's
  ``matmul``);
- ``cnn-predict``: prediction on 10,000 images, in blocks of 4,096 for both;
- ``cnn-layers``: each op of the training step on its own, ``LAYER_SLICE``
  batches of 64, through nnfast's public ops and through the PyTorch
  operators its autograd runs (convolution, max pooling with indices, the
  dense products, the loss, Adam's step).

``benchmarks/interleaved.py --cnn`` runs whole epochs of nnfast and PyTorch
in turn and scales the op timings to an epoch.  Run this file with
``pytest benchmarks/bench_cnn.py --benchmark-only``.
"""
import math
import os
import time

import numpy as np
import pytest

import nnfast
from nnfast.datasets import DatasetNotFoundError, load_fashion_mnist
from nnfast.layers import Conv2D, Dense, Flatten, MaxPool2D

IMAGE = (28, 28, 1)
N_CLASSES = 10
BATCH = 64
N_TRAIN, N_TEST = 60000, 10000
#: Batches of a full epoch (the last one short).
EPOCH_BATCHES = math.ceil(N_TRAIN / BATCH)
#: Batches timed per round by the suite's epoch and layer groups (quick mode: 3).
EPOCH_SLICE = 100
LAYER_SLICE = 100
#: Images per call of prediction, nnfast's default.
PREDICT_BLOCK = 4096

#: Padding of both convolutions, and the pixels it adds on each side.
PADDING = os.environ.get("NNFAST_BENCH_CNN_PADDING", "same")
if PADDING not in ("same", "valid"):
    raise ValueError(f"NNFAST_BENCH_CNN_PADDING must be 'same' or 'valid', got {PADDING!r}")
PAD = 1 if PADDING == "same" else 0

# Per-sample shapes along the classic network, channels last.
CONV1_OUT = (28 - 2 + 2 * PAD, 28 - 2 + 2 * PAD, 32)
POOL1_OUT = (CONV1_OUT[0] // 2, CONV1_OUT[1] // 2, 32)
CONV2_OUT = (POOL1_OUT[0] - 2 + 2 * PAD, POOL1_OUT[1] - 2 + 2 * PAD, 64)
POOL2_OUT = (CONV2_OUT[0] // 2, CONV2_OUT[1] // 2, 64)
FLAT, HIDDEN = POOL2_OUT[0] * POOL2_OUT[1] * 64, 128

#: The ops of one training step, in the order a step runs them.
LAYER_OPS = ("conv1.forward", "pool1.forward", "conv2.forward", "pool2.forward", "dense.forward",
             "loss", "dense.backward", "pool2.backward", "conv2.backward", "pool1.backward",
             "conv1.backward", "adam.update")


def load_images(n_train, n_test):
    """Training images, labels and test images of the workload.

    Returns
    -------
    x : ndarray of shape (n_train, 28, 28, 1), float32 in [0, 1]
    y : ndarray of shape (n_train,) of int64 class indices
    x_test : ndarray of shape (n_test, 28, 28, 1), float32
    """
    try:
        (x, y), (xt, _) = load_fashion_mnist(as_float=True, download=False)
        x, y, xt = x[:n_train], y[:n_train].astype(np.int64), xt[:n_test]
    except DatasetNotFoundError:
        rng = np.random.default_rng(0)
        x = rng.random((n_train, 28, 28), dtype=np.float32)
        y = rng.integers(0, N_CLASSES, n_train)
        xt = rng.random((n_test, 28, 28), dtype=np.float32)
    return (np.ascontiguousarray(x).reshape((-1,) + IMAGE), y,
            np.ascontiguousarray(xt).reshape((-1,) + IMAGE))


def make_nnfast(device=None):
    """The classic CNN as a :class:`nnfast.Sequential`; ``device="numpy"`` gives the reference."""
    model = nnfast.Sequential([
        Conv2D(32, 3, padding=PADDING, activation="relu", input_shape=IMAGE), MaxPool2D(2),
        Conv2D(64, 3, padding=PADDING, activation="relu"), MaxPool2D(2), Flatten(),
        Dense(HIDDEN, activation="relu"), Dense(N_CLASSES, activation="softmax"),
    ], device=device, random_state=0)
    model.compile(optimizer="adam", loss="cross_entropy")
    return model


def nnfast_fit(model, x, y):
    """One epoch of ``model`` over ``x`` as a function of no arguments."""
    return lambda: model.fit(x, y, epochs=1, batch_size=BATCH)


def make_torch(torch):
    """The classic CNN in PyTorch (NCHW), with He uniform weights and zero biases like nnfast's."""
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=PAD), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=PAD), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(FLAT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_CLASSES))
    for layer in net:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return net


def torch_fit(torch, net, x, y):
    """One PyTorch epoch of ``net`` over ``x`` (NHWC numpy) as a function of no arguments."""
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype(np.int64))
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), BATCH):
            idx = order[start:start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xt[idx]), yt[idx]).backward()
            opt.step()
    return epoch


def torch_predict(torch, net, x):
    """PyTorch's class probabilities for ``x`` (NHWC numpy), in blocks as nnfast predicts."""
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    net.eval()

    def predict():
        with torch.inference_mode():
            return torch.cat([torch.softmax(net(xt[s:s + PREDICT_BLOCK]), dim=1)
                              for s in range(0, len(xt), PREDICT_BLOCK)])
    return predict


def product_shapes(batch=BATCH):
    """The matrix products of one training step of an im2col scheme.

    The first convolution needs no input gradient (its input is the data),
    so a step makes 11 products: per convolution the forward one and the
    kernel gradient, the second convolution's patch gradient, and three per
    dense layer.

    Returns
    -------
    list of (str, (m, k), (k, n), bool, bool)
        The op of ``LAYER_OPS`` the product belongs to, the shapes of the
        operands as stored, and whether each is transposed in the product
        (``gemm``'s ``trans_a``, ``trans_b``).
    """
    p1, p2 = batch * CONV1_OUT[0] * CONV1_OUT[1], batch * CONV2_OUT[0] * CONV2_OUT[1]
    k1, k2 = 3 * 3 * IMAGE[2], 3 * 3 * POOL1_OUT[2]
    f1, f2 = CONV1_OUT[2], CONV2_OUT[2]
    return [
        ("conv1.forward", (p1, k1), (k1, f1), False, False),  # patches @ kernel
        ("conv1.backward", (p1, k1), (p1, f1), True, False),  # patches.T @ dy
        ("conv2.forward", (p2, k2), (k2, f2), False, False),
        ("conv2.backward", (p2, k2), (p2, f2), True, False),
        ("conv2.backward", (p2, f2), (k2, f2), False, True),  # dy @ kernel.T, the patch gradient
        ("dense.forward", (batch, FLAT), (FLAT, HIDDEN), False, False),
        ("dense.forward", (batch, HIDDEN), (HIDDEN, N_CLASSES), False, False),
        ("dense.backward", (batch, HIDDEN), (batch, N_CLASSES), True, False),
        ("dense.backward", (batch, N_CLASSES), (HIDDEN, N_CLASSES), False, True),
        ("dense.backward", (batch, FLAT), (batch, HIDDEN), True, False),
        ("dense.backward", (batch, HIDDEN), (FLAT, HIDDEN), False, True),
    ]


def products_floor(n_batches, op=None, seed=0):
    """The products of ``n_batches`` training steps alone, each by the faster of two routes.

    A product runs either through nnfast's ``gemm`` inside
    ``ops.kernel_threads()`` (BLAS at one thread, the product shared out
    among nnfast's threads, as in ``fit``) or as numpy's ``matmul`` on
    BLAS's own threads; neither is the faster for every shape here, so each
    product takes the route that was faster in a few trial calls made now.
    The im2col and col2im copies around them are not counted.

    Parameters
    ----------
    n_batches : int
    op : str, optional
        Only the products of this op of ``LAYER_OPS`` (None: all 11).

    Returns
    -------
    callable
        Runs the products; ``run.routes`` lists (op, route) per product.
    """
    rng = np.random.default_rng(seed)
    ops = nnfast.get_ops("cpu")
    held, free, routes = [], [], []
    for name, a_shape, b_shape, trans_a, trans_b in product_shapes():
        if op is not None and name != op:
            continue
        a, b = rng.random(a_shape, dtype=np.float32), rng.random(b_shape, dtype=np.float32)
        a_op, b_op = (a.T if trans_a else a), (b.T if trans_b else b)
        out = np.empty((a_op.shape[0], b_op.shape[1]), np.float32)
        with ops.kernel_threads():
            by_nnfast = _fastest(lambda: ops.gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b))
        by_numpy = _fastest(lambda: np.matmul(a_op, b_op, out=out))
        if by_nnfast <= by_numpy:
            held.append((a, b, out, trans_a, trans_b))
            routes.append((name, "nnfast gemm"))
        else:
            free.append((a_op, b_op, out))
            routes.append((name, "numpy matmul"))

    def run():
        with ops.kernel_threads():
            for _ in range(n_batches):
                for a, b, out, trans_a, trans_b in held:
                    ops.gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b)
        for _ in range(n_batches):
            for a, b, out in free:
                np.matmul(a, b, out=out)
    run.routes = routes
    return run


def _fastest(call, trials=5):
    """The shortest of ``trials`` timings of ``call()`` after one untimed call."""
    call()
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _he(rng, shape, fan_in):
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def nnfast_layer_steps(seed=0):
    """Each op of one training step of the classic CNN at batch 64, through nnfast's public ops.

    The arrays are those of a step on random images; every op writes into
    buffers made once, as the layers do.  Activations are timed with the op
    before them (the convolutions and the dense layers fuse them).

    Returns
    -------
    ops : CpuOps
        Hold ``ops.kernel_threads()`` around the calls, as ``fit`` does.
    steps : dict of str to callable
        One function of no arguments per name of ``LAYER_OPS``.
    """
    ops = nnfast.get_ops("cpu")
    rng = np.random.default_rng(seed)
    f32 = np.float32

    def empty(*shape):
        return np.empty(shape, f32)

    x = rng.random((BATCH,) + IMAGE, dtype=f32)
    targets = rng.integers(0, N_CLASSES, BATCH)
    params = {"k1": _he(rng, (3, 3, 1, 32), 9), "b1": np.zeros(32, f32),
              "k2": _he(rng, (3, 3, 32, 64), 288), "b2": np.zeros(64, f32),
              "w1": _he(rng, (FLAT, HIDDEN), FLAT), "c1": np.zeros(HIDDEN, f32),
              "w2": _he(rng, (HIDDEN, N_CLASSES), HIDDEN), "c2": np.zeros(N_CLASSES, f32)}
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in params.items()}
    p = params
    z1, p1, z2, p2 = (empty(BATCH, *s) for s in (CONV1_OUT, POOL1_OUT, CONV2_OUT, POOL2_OUT))
    i1 = np.empty((BATCH,) + POOL1_OUT, np.int32)
    i2 = np.empty((BATCH,) + POOL2_OUT, np.int32)
    flat = p2.reshape(BATCH, FLAT)
    h, logits, dlogits, dh = empty(BATCH, HIDDEN), empty(BATCH, N_CLASSES), \
        empty(BATCH, N_CLASSES), empty(BATCH, HIDDEN)
    dflat = empty(BATCH, FLAT)
    dp2 = dflat.reshape((BATCH,) + POOL2_OUT)
    dy2, dz2, dp1, dy1, dz1 = (empty(BATCH, *s) for s in (CONV2_OUT, CONV2_OUT, POOL1_OUT,
                                                          CONV1_OUT, CONV1_OUT))
    step = [0]

    def conv1_forward():
        ops.conv2d(x, p["k1"], p["b1"], padding=(PAD,) * 4, out=z1)
        ops.activation(z1, "relu", out=z1)

    def pool1_forward():
        ops.max_pool2d(z1, (2, 2), (2, 2), out=p1, argmax=i1)

    def conv2_forward():
        ops.conv2d(p1, p["k2"], p["b2"], padding=(PAD,) * 4, out=z2)
        ops.activation(z2, "relu", out=z2)

    def pool2_forward():
        ops.max_pool2d(z2, (2, 2), (2, 2), out=p2, argmax=i2)

    def dense_forward():
        ops.affine(flat, p["w1"], p["c1"], out=h)
        ops.activation(h, "relu", out=h)
        ops.affine(h, p["w2"], p["c2"], out=logits)

    def loss():
        ops.softmax_cross_entropy(logits, targets, grad_out=dlogits)

    def dense_backward():
        ops.backprop_affine(dlogits, h, p["w2"], grads["w2"], grads["c2"], dx=dh)
        ops.backprop_activation(dh, h, "relu", out=dh)
        ops.backprop_affine(dh, flat, p["w1"], grads["w1"], grads["c1"], dx=dflat)

    def pool2_backward():
        ops.max_pool2d_backward(dp2, i2, CONV2_OUT, dx=dy2)

    def conv2_backward():
        ops.backprop_activation(dy2, z2, "relu", out=dz2)
        ops.conv2d_backward(dz2, p1, p["k2"], padding=(PAD,) * 4, dkernel=grads["k2"],
                            dbias=grads["b2"], dx=dp1)

    def pool1_backward():
        ops.max_pool2d_backward(dp1, i1, CONV1_OUT, dx=dy1)

    def conv1_backward():
        ops.backprop_activation(dy1, z1, "relu", out=dz1)
        ops.conv2d_backward(dz1, x, p["k1"], padding=(PAD,) * 4, dkernel=grads["k1"],
                            dbias=grads["b1"], dx=False)

    def adam_update():
        step[0] += 1
        for name, param in params.items():
            m, v = moments[name]
            ops.adam_update(param, grads[name], m, v, 1e-3, 0.9, 0.999, 1e-8, step[0])

    steps = dict(zip(LAYER_OPS, (conv1_forward, pool1_forward, conv2_forward, pool2_forward,
                                 dense_forward, loss, dense_backward, pool2_backward,
                                 conv2_backward, pool1_backward, conv1_backward, adam_update)))
    with ops.kernel_threads():
        for run in steps.values():  # fills every buffer and gradient once
            run()
    return ops, steps


#: The first convolution and pooling, forward and backward, as the ops of ``LAYER_OPS``.
FIRST_BLOCK = ("conv1.forward", "pool1.forward", "pool1.backward", "conv1.backward")


def nnfast_fused_first_block(seed=0):
    """The first convolution, its ReLU and the first pooling in one pass each way.

    What the compiled network runs for them (``nnfast._conv.ConvPoolNode``):
    the kernels ``conv_pool2d`` and ``conv_pool2d_backward`` on a batch of 64,
    with the first pooling's gradient as input.  Hold ``ops.kernel_threads()``
    around the call.

    Returns
    -------
    ops, callable
    """
    from nnfast import _conv
    from nnfast.backend import get_num_threads

    ops = nnfast.get_ops("cpu")
    rng = np.random.default_rng(seed)
    f32 = np.float32
    x = rng.random((BATCH, IMAGE[0], IMAGE[1]), dtype=f32)
    kernel, bias = _he(rng, (9, 32), 9), np.zeros(32, f32)
    out = np.empty((BATCH,) + POOL1_OUT, f32)
    pos = np.empty((BATCH,) + POOL1_OUT, np.uint8)
    dy = rng.standard_normal(out.shape).astype(f32)
    dkernel, dbias = np.empty_like(kernel), np.empty_like(bias)
    threads = get_num_threads()
    work = np.empty(_conv.conv_pool_work(3, 3, 32, POOL1_OUT[1], threads), f32)

    def step():
        _conv.conv_pool2d(x, kernel, bias, out, pos, work, 3, 3, PAD, PAD, True, threads)
        _conv.conv_pool2d_backward(dy, x, out, pos, dkernel, dbias, work, 3, 3, PAD, PAD, True,
                                   threads)
    return ops, step


def torch_layer_steps(torch, seed=0):
    """The operators PyTorch's autograd runs for each op of the same step (NCHW).

    Forward ops run under ``no_grad``; backward ops call the ATen backward
    operators directly (``convolution_backward``,
    ``max_pool2d_with_indices_backward``, ``threshold_backward``, ``mm``);
    the loss is ``cross_entropy`` with its gradient, the update
    ``torch.optim.Adam.step`` over the eight parameter tensors.

    Returns
    -------
    dict of str to callable
        One function of no arguments per name of ``LAYER_OPS``.
    """
    aten, F = torch.ops.aten, torch.nn.functional
    gen = torch.Generator().manual_seed(seed)
    net = make_torch(torch)
    conv1, conv2, dense1, dense2 = (m for m in net if isinstance(m, (torch.nn.Conv2d,
                                                                   torch.nn.Linear)))
    params = [t for m in (conv1, conv2, dense1, dense2) for t in (m.weight, m.bias)]
    opt = torch.optim.Adam(params, lr=1e-3)
    for t in params:
        t.grad = torch.randn(t.shape, generator=gen) * 1e-3
    x = torch.rand((BATCH, 1, 28, 28), generator=gen)
    targets = torch.randint(0, N_CLASSES, (BATCH,), generator=gen)
    window, none, one, pad = [2, 2], [0, 0], [1, 1], [PAD, PAD]
    s = {}

    @torch.no_grad()
    def conv1_forward():
        s["a1"] = F.relu(F.conv2d(x, conv1.weight, conv1.bias, padding=PAD))

    @torch.no_grad()
    def pool1_forward():
        s["p1"], s["i1"] = aten.max_pool2d_with_indices(s["a1"], window, window)

    @torch.no_grad()
    def conv2_forward():
        s["a2"] = F.relu(F.conv2d(s["p1"], conv2.weight, conv2.bias, padding=PAD))

    @torch.no_grad()
    def pool2_forward():
        s["p2"], s["i2"] = aten.max_pool2d_with_indices(s["a2"], window, window)

    @torch.no_grad()
    def dense_forward():
        s["flat"] = s["p2"].flatten(1)
        s["h"] = F.relu(F.linear(s["flat"], dense1.weight, dense1.bias))
        s["logits"] = F.linear(s["h"], dense2.weight, dense2.bias)

    def loss():
        logits = s["logits"].detach().requires_grad_()
        F.cross_entropy(logits, targets).backward()
        s["dlogits"] = logits.grad

    @torch.no_grad()
    def dense_backward():
        d = s["dlogits"]
        dense2.weight.grad = d.t().mm(s["h"])
        dense2.bias.grad = d.sum(0)
        dh = aten.threshold_backward(d.mm(dense2.weight), s["h"], 0)
        dense1.weight.grad = dh.t().mm(s["flat"])
        dense1.bias.grad = dh.sum(0)
        s["dp2"] = dh.mm(dense1.weight).view(s["p2"].shape)

    @torch.no_grad()
    def pool2_backward():
        s["da2"] = aten.max_pool2d_with_indices_backward(s["dp2"], s["a2"], window, window,
                                                          none, one, False, s["i2"])

    @torch.no_grad()
    def conv2_backward():
        dz = aten.threshold_backward(s["da2"], s["a2"], 0)
        s["dp1"], conv2.weight.grad, conv2.bias.grad = aten.convolution_backward(
            dz, s["p1"], conv2.weight, [conv2.out_channels], one, pad, one, False, none, 1,
            [True, True, True])

    @torch.no_grad()
    def pool1_backward():
        s["da1"] = aten.max_pool2d_with_indices_backward(s["dp1"], s["a1"], window, window,
                                                          none, one, False, s["i1"])

    @torch.no_grad()
    def conv1_backward():
        dz = aten.threshold_backward(s["da1"], s["a1"], 0)
        _, conv1.weight.grad, conv1.bias.grad = aten.convolution_backward(
            dz, x, conv1.weight, [conv1.out_channels], one, pad, one, False, none, 1,
            [False, True, True])

    steps = dict(zip(LAYER_OPS, (conv1_forward, pool1_forward, conv2_forward, pool2_forward,
                                 dense_forward, loss, dense_backward, pool2_backward,
                                 conv2_backward, pool1_backward, conv1_backward, opt.step)))
    for run in steps.values():
        run()
    return steps


def _torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    torch.set_num_threads(nnfast.get_num_threads())
    return torch


@pytest.fixture(scope="module")
def data(size):
    return load_images(size(EPOCH_SLICE, 3) * BATCH, size(N_TEST, 500))


@pytest.fixture(scope="module")
def layer_batches(size):
    return size(LAYER_SLICE, 3)


@pytest.mark.benchmark(group="cnn-epoch")
def test_cnn_epoch_slice_nnfast(benchmark, data):
    """The first EPOCH_SLICE batches of an epoch (input checks and shuffling included)."""
    x, y, _ = data
    model = make_nnfast()
    model.fit(x[:BATCH * 2], y[:BATCH * 2], epochs=1, batch_size=BATCH)  # builds buffers
    benchmark.pedantic(nnfast_fit(model, x, y), rounds=3, iterations=1)
    assert np.isfinite(model.history.history["loss"][-1])


@pytest.mark.benchmark(group="cnn-epoch")
def test_cnn_epoch_slice_pytorch(benchmark, data):
    torch = _torch()
    x, y, _ = data
    benchmark.pedantic(torch_fit(torch, make_torch(torch), x, y), rounds=3, iterations=1)


@pytest.mark.benchmark(group="cnn-epoch")
def test_cnn_epoch_slice_numpy_reference(benchmark, data):
    """nnfast's reference backend: im2col by strided copies, numpy ``matmul`` on BLAS's threads."""
    x, y, _ = data
    model = make_nnfast(device="numpy")
    benchmark.pedantic(nnfast_fit(model, x, y), rounds=1, iterations=1)
    assert np.isfinite(model.history.history["loss"][-1])


@pytest.mark.benchmark(group="cnn-epoch")
def test_cnn_epoch_slice_products_only(benchmark, data):
    benchmark.pedantic(products_floor(len(data[0]) // BATCH), rounds=3, iterations=1)


@pytest.mark.benchmark(group="cnn-predict")
def test_cnn_predict_nnfast(benchmark, data):
    model = make_nnfast()
    model.build(IMAGE)
    out = benchmark.pedantic(model.predict, (data[2],), rounds=3, iterations=1)
    assert out.shape == (len(data[2]), N_CLASSES)


@pytest.mark.benchmark(group="cnn-predict")
def test_cnn_predict_pytorch(benchmark, data):
    torch = _torch()
    out = benchmark.pedantic(torch_predict(torch, make_torch(torch), data[2]), rounds=3,
                             iterations=1)
    assert out.shape == (len(data[2]), N_CLASSES)


@pytest.mark.benchmark(group="cnn-layers")
@pytest.mark.parametrize("op", LAYER_OPS)
def test_cnn_layer_slice_nnfast(benchmark, op, layer_batches):
    """One op of the step, LAYER_SLICE times at batch 64 (scale by EPOCH_BATCHES / LAYER_SLICE)."""
    ops, steps = nnfast_layer_steps()
    run = steps[op]

    def repeat():
        with ops.kernel_threads():
            for _ in range(layer_batches):
                run()
    benchmark.pedantic(repeat, rounds=3, iterations=1)


@pytest.mark.benchmark(group="cnn-layers")
@pytest.mark.parametrize("op", LAYER_OPS)
def test_cnn_layer_slice_pytorch(benchmark, op, layer_batches):
    run = torch_layer_steps(_torch())[op]

    def repeat():
        for _ in range(layer_batches):
            run()
    benchmark.pedantic(repeat, rounds=3, iterations=1)


@pytest.mark.benchmark(group="cnn-layers")
@pytest.mark.parametrize("op", sorted({name for name, *_ in product_shapes()},
                                      key=LAYER_OPS.index))
def test_cnn_layer_slice_products_only(benchmark, op, layer_batches):
    """The products an im2col scheme makes in that op, LAYER_SLICE times."""
    benchmark.pedantic(products_floor(layer_batches, op), rounds=3, iterations=1)


@pytest.mark.benchmark(group="cnn-first-block")
def test_cnn_first_block_fused_nnfast(benchmark, layer_batches):
    """Conv1, ReLU and pool1 forward and backward in one pass each way, LAYER_SLICE times."""
    ops, step = nnfast_fused_first_block()

    def repeat():
        with ops.kernel_threads():
            for _ in range(layer_batches):
                step()
    benchmark.pedantic(repeat, rounds=3, iterations=1)


@pytest.mark.benchmark(group="cnn-first-block")
@pytest.mark.parametrize("who", ["nnfast", "pytorch"])
def test_cnn_first_block_separate(benchmark, who, layer_batches):
    """The same four ops of ``FIRST_BLOCK`` one after the other, LAYER_SLICE times."""
    if who == "nnfast":
        ops, steps = nnfast_layer_steps()
    else:
        ops, steps = None, torch_layer_steps(_torch())
    runs = [steps[op] for op in FIRST_BLOCK]

    def repeat():
        for _ in range(layer_batches):
            for run in runs:
                run()
    if ops is None:
        benchmark.pedantic(repeat, rounds=3, iterations=1)
        return

    def held():
        with ops.kernel_threads():
            repeat()
    benchmark.pedantic(held, rounds=3, iterations=1)
