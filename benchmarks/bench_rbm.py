"""Bernoulli RBM training: nnfast's compiled CD-1 against PyTorch, scikit-learn and numpy.

The model is the seed exercise's: 784 visible and 120 hidden units, CD-1,
learning rate 0.1, no momentum or weight decay.  The data are the 60,000
Fashion-MNIST training images binarised at half intensity when the dataset
is found (``NNFAST_DATA``), else 60,000 random binary images of the same
shape with 31% of the pixels on (Fashion-MNIST's rate).

Group ``rbm-minibatch``: one epoch in batches of 100.

- nnfast: ``BernoulliRBM(...).fit(X)`` with ``epochs=1``: input checks,
  initialisation, shuffling and the epoch (all batches in compiled code);
- PyTorch: the same CD-1 written straightforwardly on CPU tensors
  (``torch.matmul``, ``torch.sigmoid``, ``torch.bernoulli``, in-place
  updates; the reconstruction error read every batch), with
  ``torch.set_num_threads`` set to nnfast's thread count;
- scikit-learn: ``BernoulliRBM.partial_fit`` on each batch of 100 (float32
  data), and ``BernoulliRBM.fit`` with ``n_iter=1, batch_size=100`` on the
  data as float32 and as float64 (the dtype of images divided by 255);
  scikit-learn's rule is PCD-1 with the hidden probabilities of the previous
  batch as chains, the same products as CD-1;
- the products alone: the four matrix products of a CD-1 step (up, down,
  up, and the weight gradient ``H.T @ V`` of the stacked positive and
  negative statistics) for every batch, numpy ``matmul`` into preallocated
  buffers: the floor for any implementation built on BLAS.

Group ``rbm-online``: the online rule (``batch_size=1``).  nnfast runs a
whole epoch over all 60,000 images; the textbook numpy loop (one sample at a
time, float64 arrays as numpy creates them) runs over the first 6,000 and
its time is multiplied by 10 (``extra_info["seconds_per_60000"]``).

nnfast's two benchmarks run first, the others after them.

Run with ``pytest benchmarks/bench_rbm.py --benchmark-only``.
"""
import time

import numpy as np
import pytest

from nnfast import get_num_threads
from nnfast.datasets import DatasetNotFoundError, load_fashion_mnist
from nnfast.models import BernoulliRBM

N_VISIBLE, N_HIDDEN, LR, BATCH = 784, 120, 0.1, 100
ONLINE_LR = 0.01


@pytest.fixture(scope="module")
def data(size):
    n = size(60000, 2000)
    try:
        (images, _), _ = load_fashion_mnist(download=False, flatten=True)
        X = (images[:n] > 127).astype(np.float32)
        source = "Fashion-MNIST training images, binarised"
    except DatasetNotFoundError:
        X = (np.random.default_rng(0).random((n, N_VISIBLE)) < 0.31).astype(np.float32)
        source = "random binary images, 31% of pixels on"
    return {"X": X, "source": source, "n": n}


def _info(benchmark, data, **extra):
    benchmark.extra_info.update(samples=data["n"], data=data["source"], **extra)


def _check_error(error):
    # Mean squared reconstruction error per pixel: a run that learned nothing
    # stays near p(1 - p), 0.21 for 31% of pixels on (and random images cannot
    # be learned); a diverged run is near 0.5 or not finite.
    assert 0.0 < error < 0.25


# ---------------------------------------------------------------------- nnfast
@pytest.mark.benchmark(group="rbm-minibatch")
def test_nnfast_epoch(benchmark, data):
    _info(benchmark, data, threads=get_num_threads())

    def run():
        return BernoulliRBM(n_hidden=N_HIDDEN, learning_rate=LR, batch_size=BATCH, epochs=1,
                            random_state=0).fit(data["X"])

    rbm = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["epoch_seconds"] = rbm.history_["epoch_time"][-1]
    _check_error(rbm.history_["reconstruction_error"][-1])


@pytest.mark.benchmark(group="rbm-online")
def test_nnfast_online_epoch(benchmark, data):
    _info(benchmark, data, threads=get_num_threads())

    def run():
        return BernoulliRBM(n_hidden=N_HIDDEN, learning_rate=ONLINE_LR, batch_size=1, epochs=1,
                            random_state=0).fit(data["X"])

    rbm = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["epoch_seconds"] = rbm.history_["epoch_time"][-1]
    _check_error(rbm.history_["reconstruction_error"][-1])


# ------------------------------------------------------- mini-batch baselines
def torch_cd1_epoch(torch, X, W, b, c, lr, batch_size, generator):
    """One epoch of CD-1 on CPU tensors, written as a PyTorch user would."""
    n = X.shape[0]
    perm = torch.randperm(n, generator=generator)
    error = 0.0
    for start in range(0, n, batch_size):
        v0 = X[perm[start:start + batch_size]]
        h0 = torch.sigmoid(v0 @ W.T + c)
        h0_sample = torch.bernoulli(h0, generator=generator)
        v1_prob = torch.sigmoid(h0_sample @ W + b)
        v1 = torch.bernoulli(v1_prob, generator=generator)
        h1 = torch.sigmoid(v1 @ W.T + c)
        m = v0.shape[0]
        W.add_(h0.T @ v0 - h1.T @ v1, alpha=lr / m)
        b.add_((v0 - v1).sum(0), alpha=lr / m)
        c.add_((h0 - h1).sum(0), alpha=lr / m)
        error += float(((v0 - v1_prob) ** 2).sum())
    return error / X.numel()


@pytest.mark.benchmark(group="rbm-minibatch")
def test_torch_epoch(benchmark, data):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    threads = torch.get_num_threads()
    torch.set_num_threads(get_num_threads())
    _info(benchmark, data, threads=get_num_threads(), version=torch.__version__)
    try:
        X = torch.from_numpy(data["X"])
        gen = torch.Generator().manual_seed(0)

        def run():
            W = torch.randn(N_HIDDEN, N_VISIBLE, generator=gen) * 0.01
            b, c = torch.zeros(N_VISIBLE), torch.zeros(N_HIDDEN)
            return torch_cd1_epoch(torch, X, W, b, c, LR, BATCH, gen)

        error = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    finally:
        torch.set_num_threads(threads)
    _check_error(error)


@pytest.mark.benchmark(group="rbm-minibatch")
def test_sklearn_partial_fit_epoch(benchmark, data):
    sklearn_rbm = pytest.importorskip("sklearn.neural_network", reason="scikit-learn is not installed")
    _info(benchmark, data, dtype="float32")
    X = data["X"]

    def run():
        rbm = sklearn_rbm.BernoulliRBM(n_components=N_HIDDEN, learning_rate=LR,
                                       batch_size=BATCH, random_state=0)
        for start in range(0, len(X), BATCH):
            rbm.partial_fit(X[start:start + BATCH])
        return rbm

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="rbm-minibatch")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sklearn_fit_one_iteration(benchmark, data, dtype):
    sklearn_rbm = pytest.importorskip("sklearn.neural_network", reason="scikit-learn is not installed")
    _info(benchmark, data, dtype=dtype)
    X = data["X"].astype(dtype)

    def run():
        return sklearn_rbm.BernoulliRBM(n_components=N_HIDDEN, learning_rate=LR,
                                        batch_size=BATCH, n_iter=1, random_state=0).fit(X)

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="rbm-minibatch")
def test_products_alone(benchmark, data):
    _info(benchmark, data, what="numpy matmul into preallocated buffers, 4 products per batch")
    X = data["X"]
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((N_HIDDEN, N_VISIBLE)) * 0.01).astype(np.float32)
    V = np.zeros((2 * BATCH, N_VISIBLE), np.float32)
    H = np.zeros((2 * BATCH, N_HIDDEN), np.float32)
    grad = np.zeros_like(W)
    v0, v1, h0, h1 = V[:BATCH], V[BATCH:], H[:BATCH], H[BATCH:]

    def run():
        for start in range(0, len(X) - BATCH + 1, BATCH):
            v0[...] = X[start:start + BATCH]
            np.matmul(v0, W.T, out=h0)
            np.matmul(h0, W, out=v1)
            np.matmul(v1, W.T, out=h1)
            np.matmul(H.T, V, out=grad)

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)


# ------------------------------------------------------------ online baseline
def numpy_online_epoch(X, W, b, c, lr, rng):
    """The textbook CD-1 online rule: one sample at a time, numpy on float64 arrays."""
    error = 0.0
    for i in rng.permutation(len(X)):
        v0 = X[i]
        h0 = 1.0 / (1.0 + np.exp(-(W @ v0 + c)))
        h0_sample = (rng.random(h0.shape) < h0).astype(np.float64)
        v1_prob = 1.0 / (1.0 + np.exp(-(h0_sample @ W + b)))
        v1 = (rng.random(v1_prob.shape) < v1_prob).astype(np.float64)
        h1 = 1.0 / (1.0 + np.exp(-(W @ v1 + c)))
        W += lr * (np.outer(h0, v0) - np.outer(h1, v1))
        b += lr * (v0 - v1)
        c += lr * (h0 - h1)
        error += ((v0 - v1_prob) ** 2).sum()
    return error / X.size


@pytest.mark.benchmark(group="rbm-online")
def test_numpy_online_loop(benchmark, data, size):
    n = min(size(6000, 200), data["n"])
    X = data["X"][:n].astype(np.float64)
    _info(benchmark, data, samples_timed=n, scale_to_60000=60000 / n)
    rng = np.random.default_rng(0)

    def run():
        W = rng.standard_normal((N_HIDDEN, N_VISIBLE)) * 0.01
        b, c = np.zeros(N_VISIBLE), np.zeros(N_HIDDEN)
        start = time.perf_counter()
        error = numpy_online_epoch(X, W, b, c, ONLINE_LR, rng)
        return error, time.perf_counter() - start

    error, seconds = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["seconds_per_60000"] = seconds * 60000 / n
    _check_error(error)
