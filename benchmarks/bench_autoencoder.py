"""One training epoch of the course's deep autoencoder and of its variational autoencoder.

Group ``ae-epoch``: the autoencoder 784-128-64-12-20-12-64-128-784 (ReLU
hidden units and code, sigmoid output), mean squared error, Adam, batch 64.
Group ``vae-epoch``: the VAE 784-64 (ReLU) to a 2-D Gaussian code (a linear
layer gives the means and log-variances, z = mu + sigma * eps), decoder
2-64 (ReLU)-784 (sigmoid), binary cross-entropy summed over the pixels plus
the KL divergence to N(0, 1), averaged over the batch, Adam, batch 64.

Both train on the 60,000 Fashion-MNIST training images (float32 in [0, 1])
when ``NNFAST_DATA`` points at them, on random images of that shape
otherwise.  Each epoch runs in nnfast (through the public estimator, and
through ``Sequential`` with the same layers), in plain numpy written the way
a textbook would, in PyTorch on the CPU when it is installed (with as many
threads as nnfast), and as the matrix products alone: the floor that the
others are measured against.

Run with ``pytest benchmarks/bench_autoencoder.py --benchmark-only``;
``python benchmarks/interleaved.py --ae`` runs the same workloads in turns,
which is how RESULTS.md measures them.
"""
import numpy as np
import pytest

import nnfast
from nnfast.datasets import DatasetNotFoundError, load_fashion_mnist
from nnfast.layers import Dense, GaussianSampler

AE_SIZES = (784, 128, 64, 12, 20, 12, 64, 128, 784)
VAE_HIDDEN = 64
VAE_LATENT = 2
N_FEATURES = 784
BATCH = 64
N_TRAIN = 60000


def load_images(n):
    """``n`` Fashion-MNIST training images as float32 rows in [0, 1] (random ones when absent)."""
    try:
        x, _ = load_fashion_mnist(subset="train", as_float=True, flatten=True,
                                  download=False)
        return np.ascontiguousarray(x[:n])
    except DatasetNotFoundError:
        return np.random.default_rng(0).random((n, N_FEATURES), dtype=np.float32)


@pytest.fixture(scope="module")
def images(size):
    return load_images(size(N_TRAIN, 2 * 640))


def batch_sizes(n):
    """The sizes of the batches of one epoch over ``n`` samples."""
    return [min(BATCH, n - start) for start in range(0, n, BATCH)]


# ------------------------------------------------------------------- nnfast
def make_ae_estimator():
    """``nnfast.Autoencoder`` for one epoch."""
    return nnfast.Autoencoder(hidden_layer_sizes=AE_SIZES[1:4], latent_dim=AE_SIZES[4],
                              activation="relu", output_activation="sigmoid", loss="mse",
                              optimizer="adam", batch_size=BATCH, epochs=1, random_state=0)


def make_ae_sequential():
    """The autoencoder as a compiled ``Sequential`` of Dense layers."""
    layers = [Dense(units, activation="relu", input_dim=None if i else AE_SIZES[0])
              for i, units in enumerate(AE_SIZES[1:-1])]
    model = nnfast.Sequential(layers + [Dense(AE_SIZES[-1], activation="sigmoid")],
                              random_state=0)
    model.compile(optimizer="adam", loss="mse")
    return model


def make_vae_estimator():
    """``nnfast.VAE`` for one epoch."""
    return nnfast.VAE(hidden_layer_sizes=(VAE_HIDDEN,), latent_dim=VAE_LATENT, activation="relu",
                      loss="binary_cross_entropy", optimizer="adam", batch_size=BATCH, epochs=1,
                      random_state=0)


def make_vae_sequential():
    """The VAE as a compiled ``Sequential`` of the estimator's layers."""
    # The objective of the textbook ELBO divided by the pixels, as the VAE sets it.
    sampler = GaussianSampler(penalty_scale=1.0 / N_FEATURES)
    model = nnfast.Sequential([
        Dense(VAE_HIDDEN, activation="relu", input_dim=N_FEATURES),
        Dense(2 * VAE_LATENT), sampler,
        Dense(VAE_HIDDEN, activation="relu"), Dense(N_FEATURES, activation="sigmoid"),
    ], random_state=0)
    model.compile(optimizer="adam", loss="binary_cross_entropy")
    return model


def nnfast_epoch(model, x):
    """One epoch of ``model`` (an estimator or a Sequential) on ``x``, as a function."""
    if isinstance(model, nnfast.Sequential):
        return lambda: model.fit(x, x, epochs=1, batch_size=BATCH)
    return lambda: model.fit(x)


# -------------------------------------------------------------------- numpy
class _Adam:
    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m[...] = self.b1 * m + (1 - self.b1) * g
            v[...] = self.b2 * v + (1 - self.b2) * g ** 2
            m_hat = m / (1 - self.b1 ** self.t)
            v_hat = v / (1 - self.b2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def _glorot(rng, a, b):
    return (rng.standard_normal((a, b)) * np.sqrt(2.0 / (a + b))).astype(np.float32)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class TextbookAutoencoder:
    """The deep autoencoder in plain numpy: ReLU, sigmoid output, MSE, Adam."""

    def __init__(self, sizes=AE_SIZES, seed=0):
        rng = np.random.default_rng(seed)
        self.W = [_glorot(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]
        self.adam = _Adam(self.W + self.b)

    def step(self, x):
        acts = [x]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W + b
            acts.append(np.maximum(z, 0) if i < len(self.W) - 1 else _sigmoid(z))
        out = acts[-1]
        delta = 2.0 * (out - x) / out.size * out * (1 - out)
        grads_W, grads_b = [None] * len(self.W), [None] * len(self.W)
        for i in reversed(range(len(self.W))):
            grads_W[i] = acts[i].T @ delta
            grads_b[i] = delta.sum(axis=0)
            if i:
                delta = (delta @ self.W[i].T) * (acts[i] > 0)
        self.adam.step(grads_W + grads_b)

    def epoch(self, x, rng):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            self.step(x[order[start:start + BATCH]])


class TextbookVAE:
    """The VAE in plain numpy: Bernoulli decoder, reparameterised Gaussian code, Adam."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        shapes = [(N_FEATURES, VAE_HIDDEN), (VAE_HIDDEN, 2 * VAE_LATENT),
                  (VAE_LATENT, VAE_HIDDEN), (VAE_HIDDEN, N_FEATURES)]
        self.W = [_glorot(rng, a, b) for a, b in shapes]
        self.b = [np.zeros(b, np.float32) for _, b in shapes]
        self.adam = _Adam(self.W + self.b)
        self.rng = rng

    def step(self, x):
        (W1, W2, W3, W4), (b1, b2, b3, b4) = self.W, self.b
        n = len(x)
        h = np.maximum(x @ W1 + b1, 0)
        stats = h @ W2 + b2
        mu, log_var = stats[:, :VAE_LATENT], stats[:, VAE_LATENT:]
        sigma = np.exp(0.5 * log_var)
        eps = self.rng.standard_normal(mu.shape).astype(np.float32)
        z = mu + sigma * eps
        g = np.maximum(z @ W3 + b3, 0)
        p = _sigmoid(g @ W4 + b4)
        # Loss per batch: mean over samples of (sum of pixel BCE + KL).
        d_logits = (p - x) / n
        d_g = (d_logits @ W4.T) * (g > 0)
        d_z = d_g @ W3.T
        d_mu = d_z + mu / n
        d_log_var = d_z * eps * sigma * 0.5 + 0.5 * (sigma ** 2 - 1) / n
        d_stats = np.concatenate([d_mu, d_log_var], axis=1)
        d_h = (d_stats @ W2.T) * (h > 0)
        grads_W = [x.T @ d_h, h.T @ d_stats, z.T @ d_g, g.T @ d_logits]
        grads_b = [d.sum(axis=0) for d in (d_h, d_stats, d_g, d_logits)]
        self.adam.step(grads_W + grads_b)

    def epoch(self, x, rng):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            self.step(x[order[start:start + BATCH]])


# ------------------------------------------------------------------ PyTorch
def import_torch():
    """PyTorch with nnfast's thread count, or a skip when it is not installed."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    torch.set_num_threads(nnfast.get_num_threads())
    return torch


def make_torch_ae(torch):
    torch.manual_seed(0)
    layers = []
    for n_in, n_out in zip(AE_SIZES[:-2], AE_SIZES[1:-1]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(AE_SIZES[-2], AE_SIZES[-1]),
                               torch.nn.Sigmoid())


def torch_ae_epoch(torch, x):
    net = make_torch_ae(torch).train()
    xt = torch.from_numpy(x)
    opt, loss_fn = torch.optim.Adam(net.parameters(), lr=1e-3), torch.nn.MSELoss()

    def epoch():
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), BATCH):
            xb = xt[order[start:start + BATCH]]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xb), xb).backward()
            opt.step()
    return epoch


def make_torch_vae(torch):
    torch.manual_seed(0)

    class VAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(N_FEATURES, VAE_HIDDEN)
            self.stats = torch.nn.Linear(VAE_HIDDEN, 2 * VAE_LATENT)
            self.expand = torch.nn.Linear(VAE_LATENT, VAE_HIDDEN)
            self.out = torch.nn.Linear(VAE_HIDDEN, N_FEATURES)

        def forward(self, x):
            mu, log_var = self.stats(torch.relu(self.hidden(x))).chunk(2, dim=1)
            z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
            return torch.sigmoid(self.out(torch.relu(self.expand(z)))), mu, log_var

    return VAE()


def torch_vae_epoch(torch, x):
    net = make_torch_vae(torch).train()
    xt = torch.from_numpy(x)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    bce = torch.nn.functional.binary_cross_entropy

    def epoch():
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), BATCH):
            xb = xt[order[start:start + BATCH]]
            opt.zero_grad(set_to_none=True)
            recon, mu, log_var = net(xb)
            kl = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
            ((bce(recon, xb, reduction="sum") + kl) / len(xb)).backward()
            opt.step()
    return epoch


# ----------------------------------------------------------------- products
def products_epoch(layer_shapes, n, seed=0):
    """The matrix products of one epoch of a chain of dense layers, alone.

    Per batch: each layer's forward product, its weight gradient, and its
    input gradient except for the first layer's.  ``layer_shapes`` lists
    ``(n_in, n_out)``; a layer's input gradient has its input's width (for
    the VAE's sampler, the code's, not the statistics').
    """
    rng = np.random.default_rng(seed)
    ops = nnfast.get_ops("cpu")
    sizes = batch_sizes(n)
    W = [rng.random(shape, dtype=np.float32) for shape in layer_shapes]
    x_in = [rng.random((BATCH, a), dtype=np.float32) for a, _ in layer_shapes]
    y_out = [rng.random((BATCH, b), dtype=np.float32) for _, b in layer_shapes]
    dW = [np.empty_like(w) for w in W]
    dx = [np.empty_like(a) for a in x_in]
    views = {m: ([a[:m] for a in x_in], [y[:m] for y in y_out], [d[:m] for d in dx])
             for m in set(sizes)}

    def run():
        # Held as a fit holds it: BLAS at one thread, products shared out.
        with ops.kernel_threads():
            for m in sizes:
                xs, ys, ds = views[m]
                for i in range(len(W)):
                    ops.gemm(xs[i], W[i], out=ys[i])
                for i in reversed(range(len(W))):
                    ops.gemm(xs[i], ys[i], out=dW[i], trans_a=True)
                    if i:
                        ops.gemm(ys[i], W[i], out=ds[i], trans_b=True)
    return run


AE_PRODUCTS = list(zip(AE_SIZES[:-1], AE_SIZES[1:]))
VAE_PRODUCTS = [(N_FEATURES, VAE_HIDDEN), (VAE_HIDDEN, 2 * VAE_LATENT), (VAE_LATENT, VAE_HIDDEN),
                (VAE_HIDDEN, N_FEATURES)]


# ------------------------------------------------------------ ops one by one
#: The parts of a training step that ``op_steps`` times one by one.
STEP_OPS = ("forward", "sampler", "loss", "backward", "adam")


def op_steps(vae=False, seed=0):
    """Each part of one training step at batch 64, through nnfast's public ops.

    ``forward``: every dense layer's ``affine`` and activation; ``sampler``
    (VAE only): the reparameterised sample and its gradient with the KL
    term; ``loss``: the output's loss and its gradient (fused with the
    sigmoid for binary cross-entropy); ``backward``: every layer's
    ``backprop_affine`` (weight, bias and input gradients) and activation
    derivative; ``adam``: the update of every weight and bias.  Each writes
    into buffers made once, as the layers do.

    Returns
    -------
    ops : CpuOps
        Hold ``ops.kernel_threads()`` around the calls, as ``fit`` does.
    steps : dict of str to callable
    products : dict of str to callable
        The matrix products of ``forward`` and of ``backward`` alone.
    """
    ops = nnfast.get_ops("cpu")
    rng = np.random.default_rng(seed)
    f32 = np.float32
    shapes = VAE_PRODUCTS if vae else AE_PRODUCTS
    acts = ["relu"] * (len(shapes) - 1) + ["sigmoid"]
    if vae:
        acts[1] = "identity"  # the layer of means and log-variances
    x = rng.random((BATCH, N_FEATURES), dtype=f32)
    W = [_glorot(rng, a, b) for a, b in shapes]
    b = [np.zeros(n, f32) for _, n in shapes]
    grads = [np.zeros_like(p) for p in W + b]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in W + b]
    outs = [np.empty((BATCH, n), f32) for _, n in shapes]
    deltas = [np.empty((BATCH, n), f32) for _, n in shapes]
    inputs = [x] + outs[:-1]
    if vae:  # the sampler sits between the statistics and the decoder
        z, eps = np.zeros((BATCH, VAE_LATENT), f32), np.zeros((BATCH, VAE_LATENT), f32)
        inputs[2] = z
        dz = np.empty((BATCH, VAE_LATENT), f32)
    in_grads = [None] + [np.empty_like(a) for a in inputs[1:]]
    if vae:
        in_grads[2] = dz
    step = [0]

    def forward():
        for i in range(len(W)):
            ops.affine(inputs[i], W[i], b[i], out=outs[i])
            # The VAE's statistics stay linear; its logits go to the fused loss.
            if acts[i] != "identity" and not (vae and i == len(W) - 1):
                ops.activation(outs[i], acts[i], out=outs[i])

    def sampler():
        step[0] += 1
        ops.gaussian_sample(outs[1], 7, step[0], out=z, eps_out=eps)
        ops.gaussian_kl(outs[1])
        ops.backprop_gaussian_sample(dz, outs[1], eps, 1.0 / N_FEATURES, out=deltas[1])

    def loss():
        if vae:
            ops.sigmoid_binary_cross_entropy(outs[-1], x, grad_out=deltas[-1])
        else:
            ops.mean_squared_error(outs[-1], x, grad_out=deltas[-1])

    def backward():
        top = len(W) - 1
        if not vae:
            ops.backprop_activation(deltas[top], outs[top], "sigmoid", out=deltas[top])
        for i in range(top, -1, -1):
            if vae and i == 1:  # its delta comes from the sampler
                ops.backprop_affine(deltas[1], inputs[1], W[1], grads[1], grads[len(W) + 1],
                                    dx=in_grads[1])
                ops.backprop_activation(in_grads[1], outs[0], "relu", out=deltas[0])
                continue
            ops.backprop_affine(deltas[i], inputs[i], W[i], grads[i], grads[len(W) + i],
                                dx=in_grads[i])
            if i and not (vae and i == 2):
                ops.backprop_activation(in_grads[i], outs[i - 1], acts[i - 1],
                                        out=deltas[i - 1])

    def adam():
        step[0] += 1
        for param, grad, (m, v) in zip(W + b, grads, moments):
            ops.adam_update(param, grad, m, v, 1e-3, 0.9, 0.999, 1e-8, step[0])

    steps = {"forward": forward, "loss": loss, "backward": backward, "adam": adam}
    if vae:
        steps["sampler"] = sampler
    forward_products = [(inputs[i], W[i], outs[i]) for i in range(len(W))]

    def forward_only():
        for a, w, out in forward_products:
            ops.gemm(a, w, out=out)

    def backward_only():
        for i in range(len(W) - 1, -1, -1):
            ops.gemm(inputs[i], deltas[i], out=grads[i], trans_a=True)
            if i:
                ops.gemm(deltas[i], W[i], out=in_grads[i], trans_b=True)

    with ops.kernel_threads():
        for name in ("forward", "sampler", "loss", "backward", "adam"):
            if name in steps:
                steps[name]()  # fills every buffer and gradient once
    return ops, steps, {"forward": forward_only, "backward": backward_only}


# -------------------------------------------------------------- benchmarks
def _bench_nnfast(benchmark, model, x):
    nnfast_epoch(model, x[:BATCH * 4])()  # builds buffers
    benchmark.pedantic(nnfast_epoch(model, x), rounds=5, iterations=1)
    history = model.history.history if isinstance(model, nnfast.Sequential) else model.history_
    assert np.isfinite(history["loss"][-1])


@pytest.mark.benchmark(group="ae-epoch")
def test_ae_epoch_nnfast(benchmark, images):
    _bench_nnfast(benchmark, make_ae_estimator(), images)


@pytest.mark.benchmark(group="ae-epoch")
def test_ae_epoch_nnfast_sequential(benchmark, images):
    model = make_ae_sequential()
    _bench_nnfast(benchmark, model, images)
    assert model._network is not None  # the compiled network ran


@pytest.mark.benchmark(group="ae-epoch")
def test_ae_epoch_matmuls_only(benchmark, images):
    benchmark.pedantic(products_epoch(AE_PRODUCTS, len(images)), rounds=5, iterations=1)


@pytest.mark.benchmark(group="ae-epoch")
def test_ae_epoch_numpy_textbook(benchmark, images):
    net, rng = TextbookAutoencoder(), np.random.default_rng(0)
    benchmark.pedantic(lambda: net.epoch(images, rng), rounds=2, iterations=1)


@pytest.mark.benchmark(group="ae-epoch")
def test_ae_epoch_pytorch(benchmark, images):
    benchmark.pedantic(torch_ae_epoch(import_torch(), images), rounds=5, iterations=1)


@pytest.mark.benchmark(group="vae-epoch")
def test_vae_epoch_nnfast(benchmark, images):
    _bench_nnfast(benchmark, make_vae_estimator(), images)


@pytest.mark.benchmark(group="vae-epoch")
def test_vae_epoch_nnfast_sequential(benchmark, images):
    model = make_vae_sequential()
    _bench_nnfast(benchmark, model, images)
    assert model._network is not None


@pytest.mark.benchmark(group="vae-epoch")
def test_vae_epoch_matmuls_only(benchmark, images):
    benchmark.pedantic(products_epoch(VAE_PRODUCTS, len(images)), rounds=5, iterations=1)


@pytest.mark.benchmark(group="vae-epoch")
def test_vae_epoch_numpy_textbook(benchmark, images):
    net, rng = TextbookVAE(), np.random.default_rng(0)
    benchmark.pedantic(lambda: net.epoch(images, rng), rounds=2, iterations=1)


@pytest.mark.benchmark(group="vae-epoch")
def test_vae_epoch_pytorch(benchmark, images):
    benchmark.pedantic(torch_vae_epoch(import_torch(), images), rounds=5, iterations=1)


# ------------------------------------------------ the textbook code is right
def test_textbook_vae_gradient_matches_torch():
    """The numpy VAE's step moves its weights as PyTorch's autograd does (same eps)."""
    torch = import_torch()
    rng = np.random.default_rng(1)
    x = rng.random((8, N_FEATURES), dtype=np.float32)
    net = TextbookVAE(seed=2)
    W0 = [w.copy() for w in net.W]
    eps = np.random.default_rng(3).standard_normal((8, VAE_LATENT)).astype(np.float32)
    net.rng = type("Fixed", (), {"standard_normal": staticmethod(lambda shape: eps)})()
    net.adam.step = lambda grads: setattr(net, "grads", grads)  # keep them, update nothing
    net.step(x)
    params = [torch.tensor(w, requires_grad=True) for w in W0 + net.b]
    tw, tb = params[:4], params[4:]
    xt = torch.from_numpy(x)
    stats = torch.relu(xt @ tw[0] + tb[0]) @ tw[1] + tb[1]
    mu, log_var = stats[:, :VAE_LATENT], stats[:, VAE_LATENT:]
    z = mu + torch.exp(0.5 * log_var) * torch.from_numpy(eps)
    p = torch.sigmoid(torch.relu(z @ tw[2] + tb[2]) @ tw[3] + tb[3])
    kl = -0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp())
    ((torch.nn.functional.binary_cross_entropy(p, xt, reduction="sum") + kl) / 8).backward()
    for mine, theirs in zip(net.grads, params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=2e-3, atol=1e-5)


@pytest.mark.parametrize("vae", [False, True], ids=["ae", "vae"])
def test_op_steps_run_a_whole_step(vae):
    """The ops timed one by one make a step: every part runs on the buffers of the others."""
    ops, steps, products = op_steps(vae)
    assert set(steps) == set(STEP_OPS) - ({"sampler"} if not vae else set())
    with ops.kernel_threads():
        for _ in range(3):
            for name in STEP_OPS:
                if name in steps:
                    steps[name]()
        for run in products.values():
            run()
