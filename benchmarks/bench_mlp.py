"""One training epoch and one prediction pass of the 784-500-300-10 MLP.

Workload: Adam, batch 100, softmax cross-entropy, float32, 60,000 samples of
784 features (Fashion-MNIST when ``NNFAST_DATA`` points at it, random data of
the same shape otherwise); prediction on 10,000 samples.  The same epoch runs
in nnfast, in plain numpy written the way a textbook would, in PyTorch on the
CPU when it is installed, and as the matrix multiplies alone (the floor that
everything else is measured against).  All use the same number of threads.

Group ``mlp-epoch``: ReLU hidden units.  Groups ``mlp-epoch-dropout``
(dropout 0.2 after each hidden layer) and ``mlp-epoch-tanh`` (tanh hidden
units): the course's variants, in nnfast and in PyTorch; their products are
those of the ReLU epoch.

Run with ``pytest benchmarks/bench_mlp.py --benchmark-only``;
``python benchmarks/report.py`` turns a ``--benchmark-json`` file into the
tables of RESULTS.md.
"""
import numpy as np
import pytest

import nnfast
from nnfast.datasets import DatasetNotFoundError, load_fashion_mnist
from nnfast.layers import Dense, Dropout

SIZES = (784, 500, 300, 10)
BATCH = 100


@pytest.fixture(scope="module")
def data(size):
    n_train, n_test = size(60000, 2000), size(10000, 1000)
    try:
        (x, y), (xt, _) = load_fashion_mnist(as_float=True, flatten=True, download=False)
        return x[:n_train], y[:n_train].astype(np.intp), xt[:n_test]
    except DatasetNotFoundError:
        rng = np.random.default_rng(0)
        x = rng.random((n_train, SIZES[0]), dtype=np.float32)
        return x, rng.integers(0, SIZES[-1], n_train), rng.random((n_test, SIZES[0]), dtype=np.float32)


def make_nnfast(activation="relu", dropout=0.0):
    layers = []
    for units in SIZES[1:-1]:
        layers.append(Dense(units, activation=activation, input_dim=None if layers else SIZES[0]))
        if dropout:
            layers.append(Dropout(dropout))
    model = nnfast.Sequential(layers + [Dense(SIZES[-1], activation="softmax")], random_state=0)
    model.compile(optimizer="adam", loss="cross_entropy")
    return model


class TextbookMLP:
    """A ReLU MLP with softmax cross-entropy and Adam in plain numpy."""

    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.W = [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32)
                  for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]
        self.m = [np.zeros_like(p) for p in self.W + self.b]
        self.v = [np.zeros_like(p) for p in self.W + self.b]
        self.t = 0

    def forward(self, x):
        acts = [x]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W + b
            acts.append(np.maximum(z, 0) if i < len(self.W) - 1 else z)
        return acts

    def step(self, x, y, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        acts = self.forward(x)
        z = acts[-1]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = p
        delta[np.arange(len(y)), y] -= 1
        delta /= len(y)
        grads_W, grads_b = [], []
        for i in reversed(range(len(self.W))):
            grads_W.insert(0, acts[i].T @ delta)
            grads_b.insert(0, delta.sum(axis=0))
            if i:
                delta = (delta @ self.W[i].T) * (acts[i] > 0)
        self.t += 1
        for k, (param, grad) in enumerate(zip(self.W + self.b, grads_W + grads_b)):
            self.m[k] = b1 * self.m[k] + (1 - b1) * grad
            self.v[k] = b2 * self.v[k] + (1 - b2) * grad ** 2
            m_hat = self.m[k] / (1 - b1 ** self.t)
            v_hat = self.v[k] / (1 - b2 ** self.t)
            param -= lr * m_hat / (np.sqrt(v_hat) + eps)

    def epoch(self, x, y, rng):
        order = rng.permutation(len(x))
        for s in range(0, len(x), BATCH):
            idx = order[s:s + BATCH]
            self.step(x[idx], y[idx])

    def predict(self, x):
        return self.forward(x)[-1]


def gemm_only_epoch(n, rng_seed=0):
    """The eight matrix products of one epoch (3 forward, 3 weight gradients, 2 input gradients)."""
    rng = np.random.default_rng(rng_seed)
    ops = nnfast.get_ops("cpu")
    acts = [rng.random((BATCH, s), dtype=np.float32) for s in SIZES]
    W = [rng.random((a, b), dtype=np.float32) for a, b in zip(SIZES[:-1], SIZES[1:])]
    dW = [np.empty_like(w) for w in W]
    dx = [np.empty_like(a) for a in acts]

    def run():
        # Held as a fit holds it: BLAS at one thread, products shared out.
        with ops.kernel_threads():
            for _ in range(n // BATCH):
                for i in range(3):
                    ops.gemm(acts[i], W[i], out=acts[i + 1])
                for i in reversed(range(3)):
                    ops.gemm(acts[i], acts[i + 1], out=dW[i], trans_a=True)
                    if i:
                        ops.gemm(acts[i + 1], W[i], out=dx[i], trans_b=True)
    return run


def nnfast_epoch(benchmark, data, **variant):
    x, y, _ = data
    model = make_nnfast(**variant)
    model.fit(x[:BATCH * 10], y[:BATCH * 10], epochs=1, batch_size=BATCH)  # allocate buffers
    benchmark.pedantic(lambda: model.fit(x, y, epochs=1, batch_size=BATCH), rounds=5, iterations=1)
    assert np.isfinite(model.history.history["loss"][-1])
    assert model._network is not None  # the compiled network ran


@pytest.mark.benchmark(group="mlp-epoch")
def test_epoch_nnfast(benchmark, data):
    nnfast_epoch(benchmark, data)


@pytest.mark.benchmark(group="mlp-epoch-dropout")
def test_epoch_dropout_nnfast(benchmark, data):
    nnfast_epoch(benchmark, data, dropout=0.2)


@pytest.mark.benchmark(group="mlp-epoch-tanh")
def test_epoch_tanh_nnfast(benchmark, data):
    nnfast_epoch(benchmark, data, activation="tanh")


@pytest.mark.benchmark(group="mlp-epoch")
def test_epoch_matmuls_only(benchmark, data):
    run = gemm_only_epoch(len(data[0]))
    benchmark.pedantic(run, rounds=5, iterations=1)


@pytest.mark.benchmark(group="mlp-epoch")
def test_epoch_numpy_textbook(benchmark, data):
    x, y, _ = data
    net, rng = TextbookMLP(SIZES), np.random.default_rng(0)
    benchmark.pedantic(lambda: net.epoch(x, y, rng), rounds=2, iterations=1)


def _torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    torch.set_num_threads(nnfast.get_num_threads())
    return torch


def make_torch(torch, activation="relu", dropout=0.0):
    torch.manual_seed(0)
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]
    layers = []
    for n_in, n_out in zip(SIZES[:-2], SIZES[1:-1]):
        layers += [torch.nn.Linear(n_in, n_out), act()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers, torch.nn.Linear(SIZES[-2], SIZES[-1]))


def torch_epoch(benchmark, data, **variant):
    torch = _torch()
    x, y, _ = data
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    net = make_torch(torch, **variant)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        order = torch.randperm(len(xt))
        for s in range(0, len(xt), BATCH):
            idx = order[s:s + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    benchmark.pedantic(epoch, rounds=5, iterations=1)


@pytest.mark.benchmark(group="mlp-epoch")
def test_epoch_pytorch(benchmark, data):
    torch_epoch(benchmark, data)


@pytest.mark.benchmark(group="mlp-epoch-dropout")
def test_epoch_dropout_pytorch(benchmark, data):
    torch_epoch(benchmark, data, dropout=0.2)


@pytest.mark.benchmark(group="mlp-epoch-tanh")
def test_epoch_tanh_pytorch(benchmark, data):
    torch_epoch(benchmark, data, activation="tanh")


@pytest.mark.benchmark(group="mlp-predict")
def test_predict_nnfast(benchmark, data):
    model = make_nnfast()
    model.build(SIZES[0])
    out = benchmark(model.predict, data[2])
    assert out.shape == (len(data[2]), SIZES[-1])


@pytest.mark.benchmark(group="mlp-predict")
def test_predict_numpy_textbook(benchmark, data):
    benchmark(TextbookMLP(SIZES).predict, data[2])


@pytest.mark.benchmark(group="mlp-predict")
def test_predict_pytorch(benchmark, data):
    torch = _torch()
    net, xt = make_torch(torch).eval(), torch.from_numpy(data[2])

    def predict():
        with torch.inference_mode():
            return torch.softmax(net(xt), dim=1)

    benchmark(predict)
