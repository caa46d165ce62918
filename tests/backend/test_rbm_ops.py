"""The compiled RBM kernels against the reference operations."""
import inspect
import types

import numpy as np
import pytest

import nnfast
from nnfast import _simd
from nnfast.backend import _threads, cpu_rbm, get_ops, own_threads, products_on_own_threads
from nnfast.backend.cpu_rbm import CpuRBMOps
from nnfast.backend.ops_rbm import RBMOps
from nnfast.models import BernoulliRBM

CPU = get_ops("cpu")
REF = get_ops("numpy")
DTYPES = [np.float32, np.float64]
# (batch, visible, hidden): odd sizes, a single row, a row count that splits unevenly.
SHAPES = [(1, 9, 4), (7, 13, 5), (33, 31, 17), (100, 784, 120), (1, 784, 120)]


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def _model(rng, n_visible, n_hidden, dtype, scale=0.5):
    W = (rng.standard_normal((n_hidden, n_visible)) * scale).astype(dtype)
    b = (rng.standard_normal(n_visible) * 0.3).astype(dtype)
    c = (rng.standard_normal(n_hidden) * 0.3).astype(dtype)
    return W, b, c


def _binary(rng, shape, dtype, p=0.4):
    return (rng.random(shape) < p).astype(dtype)


def test_same_methods_and_signatures():
    public = [name for name in vars(CpuRBMOps) if not name.startswith("_")]
    assert public, "CpuRBMOps overrides nothing"
    for name in public:
        assert inspect.signature(getattr(CpuRBMOps, name)) == \
            inspect.signature(getattr(RBMOps, name)), name
    assert type(CPU).rbm_cd_update is CpuRBMOps.rbm_cd_update


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_bernoulli_matches_reference(dtype, shape):
    rng = np.random.default_rng(0)
    n, m, _ = shape
    pre = (rng.standard_normal((n, m)) * 4).astype(dtype)
    bias = rng.standard_normal(m).astype(dtype)
    u = rng.random((n, m)).astype(dtype)
    p1, s1 = CPU.sigmoid_bernoulli(pre, bias, uniform=u)
    p2, s2 = REF.sigmoid_bernoulli(pre, bias, uniform=u)
    np.testing.assert_allclose(p1, p2, **_tol(dtype))
    np.testing.assert_array_equal(s1, s2)
    assert s1.dtype == dtype and set(np.unique(s1)) <= {0.0, 1.0}


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_accurate_on_both_tails(dtype):
    x = np.linspace(-80, 80, 20001).astype(dtype)[None, :]
    prob, _ = CPU.sigmoid_bernoulli(x, uniform=np.zeros_like(x))
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    rel = np.abs(prob - exact) / exact
    assert rel.max() < (1e-6 if dtype == np.float32 else 1e-14)
    # Saturation, not overflow, far out.
    far, _ = CPU.sigmoid_bernoulli(np.array([[-1e4, 1e4]], dtype), uniform=np.zeros((1, 2), dtype))
    assert far[0, 0] < 1e-30 and far[0, 1] == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_seeded_samples_have_the_right_mean_and_repeat(dtype):
    p = np.full((40, 1000), 0.3, dtype)
    pre = np.log(p / (1 - p))
    _, s1 = CPU.sigmoid_bernoulli(pre, seed=5)
    _, s2 = CPU.sigmoid_bernoulli(pre, seed=5)
    _, s3 = CPU.sigmoid_bernoulli(pre, seed=6)
    np.testing.assert_array_equal(s1, s2)
    assert not np.array_equal(s1, s3)
    assert abs(s1.mean() - 0.3) < 0.01
    # Rows and columns are independent streams: no two rows alike, no drift along a row.
    assert len({row.tobytes() for row in s1}) == len(s1)
    assert abs(s1[:, :500].mean() - s1[:, 500:].mean()) < 0.02


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_layer_probabilities_match_reference(dtype, shape):
    rng = np.random.default_rng(1)
    n, nv, nh = shape
    W, b, c = _model(rng, nv, nh, dtype)
    v = _binary(rng, (n, nv), dtype)
    h = rng.random((n, nh)).astype(dtype)
    np.testing.assert_allclose(CPU.rbm_hidden_probs(v, W, c), REF.rbm_hidden_probs(v, W, c),
                               **_tol(dtype))
    np.testing.assert_allclose(CPU.rbm_visible_probs(h, W, b), REF.rbm_visible_probs(h, W, b),
                               **_tol(dtype))
    out = np.empty((n, nh), dtype)
    assert CPU.rbm_hidden_probs(v, W, c, out=out) is out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_free_energy_and_pseudo_likelihood_match_reference(dtype, shape):
    rng = np.random.default_rng(11)
    n, nv, nh = shape
    W, b, c = _model(rng, nv, nh, dtype)
    v = _binary(rng, (n, nv), dtype)
    fe = CPU.rbm_free_energy(v, W, b, c)
    assert fe.dtype == np.float64 and fe.shape == (n,)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fe, REF.rbm_free_energy(v, W, b, c), rtol=rtol)
    index = rng.integers(0, nv, n)
    # A difference of two free energies, times n_visible: float32 keeps about 4 digits.
    np.testing.assert_allclose(CPU.rbm_pseudo_likelihood(v, W, b, c, index),
                               REF.rbm_pseudo_likelihood(v, W, b, c, index),
                               rtol=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_gibbs_matches_reference_with_the_same_draws(dtype, shape):
    rng = np.random.default_rng(2)
    n, nv, nh = shape
    W, b, c = _model(rng, nv, nh, dtype)
    v = _binary(rng, (n, nv), dtype)
    steps = 3
    uh = rng.random((steps, n, nh)).astype(dtype)
    uv = rng.random((steps, n, nv)).astype(dtype)
    s1, p1 = CPU.rbm_gibbs(v, W, b, c, steps=steps, uniform_hid=uh, uniform_vis=uv)
    s2, p2 = REF.rbm_gibbs(v, W, b, c, steps=steps, uniform_hid=uh, uniform_vis=uv)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_allclose(p1, p2, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_seeded_gibbs_samples_the_hidden_units(dtype):
    # Hidden units that are surely on: a seeded step gives the visible
    # probabilities of all of them on (drawing the uniforms must not
    # overwrite the probabilities they are compared with).
    rng = np.random.default_rng(24)
    W, b, _ = _model(rng, 30, 12, dtype)
    c = np.full(12, 40, dtype)
    v = _binary(rng, (6, 30), dtype)
    _, prob = CPU.rbm_gibbs(v, W, b, c, steps=2, seed=5)
    expected = REF.rbm_visible_probs(np.ones((6, 12), dtype), W, b)
    np.testing.assert_allclose(prob, expected, **_tol(dtype))


def _update_both(dtype, n, nv, nh, k, chains, momentum, weight_decay, seed=3):
    """One update by each backend from the same state and the same uniform draws."""
    rng = np.random.default_rng(seed)
    W, b, c = _model(rng, nv, nh, dtype)
    v0 = _binary(rng, (n, nv), dtype)
    v0[0] = rng.random(nv)  # probabilities are valid data too
    m = n if chains is None else chains
    chain = None if chains is None else _binary(rng, (chains, nv), dtype, 0.5)
    uh = rng.random((k, m, nh)).astype(dtype)
    uv = rng.random((k, m, nv)).astype(dtype)
    vel = tuple((rng.standard_normal(a.shape) * 0.01).astype(dtype) for a in (W, b, c))
    results = []
    for ops in (CPU, REF):
        params = [W.copy(), b.copy(), c.copy()]
        velocity = tuple(x.copy() for x in vel)
        ch = None if chain is None else chain.copy()
        err = ops.rbm_cd_update(v0, *params, 0.1, k=k, momentum=momentum,
                                weight_decay=weight_decay, velocity=velocity, chain=ch,
                                uniform_hid=uh, uniform_vis=uv)
        results.append((err, params, velocity, ch))
    return results


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_cd1_step_matches_reference_with_the_same_draws(dtype, shape):
    (e1, p1, _, _), (e2, p2, _, _) = _update_both(dtype, *shape, k=1, chains=None,
                                                  momentum=0.0, weight_decay=0.0)
    np.testing.assert_allclose(e1, e2, rtol=1e-5 if dtype == np.float32 else 1e-12)
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(a, b, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, nv, nh", [(7, 13, 5), (1, 784, 120)], ids=["batch", "online"])
@pytest.mark.parametrize("k, chains, momentum, weight_decay", [
    (3, None, 0.5, 0.01),   # CD-3 with momentum and decay
    (1, 4, 0.0, 0.0),       # PCD-1, fewer chains than rows
    (2, 11, 0.9, 0.001),    # PCD-2, more chains than rows
])
def test_cdk_and_pcd_match_reference(dtype, n, nv, nh, k, chains, momentum, weight_decay):
    (e1, p1, v1, c1), (e2, p2, v2, c2) = _update_both(dtype, n, nv, nh, k, chains, momentum,
                                                      weight_decay)
    np.testing.assert_allclose(e1, e2, rtol=1e-5 if dtype == np.float32 else 1e-12)
    for a, b in zip(p1 + list(v1), p2 + list(v2)):
        np.testing.assert_allclose(a, b, **_tol(dtype))
    if chains is not None:
        np.testing.assert_array_equal(c1, c2)


def _online_data(rng, kind, n_visible, dtype):
    """One data row of the given kind for the online rule."""
    if kind == "binary":      # sparse: its product adds up rows of W.T
        return _binary(rng, (1, n_visible), dtype, 0.3)
    if kind == "grey":        # sparse, values in (0, 1) and exact zeros
        return (rng.random((1, n_visible)) * _binary(rng, (1, n_visible), np.float64, 0.2)
                ).astype(dtype)
    if kind == "dense":       # over half nonzero: its product is a gemv
        return _binary(rng, (1, n_visible), dtype, 0.8)
    return np.zeros((1, n_visible), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_visible, n_hidden", [(37, 5), (784, 120)])
@pytest.mark.parametrize("kind", ["binary", "grey", "dense", "zeros"])
@pytest.mark.parametrize("k, momentum, weight_decay, b_vis_shift", [
    (1, 0.0, 0.0, -2.0),    # the sparse update: only rows where v0 or vk is nonzero
    (2, 0.0, 0.0, 4.0),     # the chain's samples mostly ones: their products are gemvs
    (1, 0.0, 0.01, -2.0),   # weight decay: every row
    (2, 0.5, 0.0, -2.0),    # momentum: every row, and the velocity
    (1, 0.9, 0.001, 0.0),   # both
])
def test_online_update_matches_reference(dtype, n_visible, n_hidden, kind, k, momentum,
                                         weight_decay, b_vis_shift):
    rng = np.random.default_rng(20)
    W, b, c = _model(rng, n_visible, n_hidden, dtype)
    b += dtype(b_vis_shift)
    v0 = _online_data(rng, kind, n_visible, dtype)
    uh = rng.random((k, 1, n_hidden)).astype(dtype)
    uv = rng.random((k, 1, n_visible)).astype(dtype)
    vel = tuple((rng.standard_normal(a.shape) * 0.01).astype(dtype) for a in (W, b, c))
    results = []
    for ops in (CPU, REF):
        params = [W.copy(), b.copy(), c.copy()]
        velocity = tuple(x.copy() for x in vel)
        err = ops.rbm_cd_update(v0, *params, 0.1, k=k, momentum=momentum,
                                weight_decay=weight_decay, velocity=velocity,
                                uniform_hid=uh, uniform_vis=uv)
        results.append((err, params, velocity))
    (e1, p1, v1), (e2, p2, v2) = results
    np.testing.assert_allclose(e1, e2, rtol=1e-5 if dtype == np.float32 else 1e-12)
    for a, b_ in zip(p1 + list(v1), p2 + list(v2)):
        np.testing.assert_allclose(a, b_, **_tol(dtype))
    if not momentum:
        np.testing.assert_array_equal(v1[0], vel[0])  # velocities untouched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.5, 1e-3)])
def test_online_updates_follow_the_reference_step_by_step(dtype, momentum, weight_decay):
    # 200 updates of the 784x120 model on image-like rows (strokes of ones):
    # each update of the compiled rule from the reference's state, with the
    # same draws, lands where the reference's does.
    rng = np.random.default_rng(21)
    W, b, c = _model(rng, 784, 120, dtype, scale=0.05)
    X = np.zeros((200, 784), dtype)
    for row in X:
        lo = rng.integers(0, 500)
        row[lo:lo + rng.integers(50, 280)] = 1
    vel = [np.zeros_like(a) for a in (W, b, c)]
    for v0 in X:
        uh = rng.random((1, 1, 120)).astype(dtype)
        uv = rng.random((1, 1, 784)).astype(dtype)
        state = [a.copy() for a in (W, b, c)], [a.copy() for a in vel]
        e1 = CPU.rbm_cd_update(v0[None], *state[0], 0.05, momentum=momentum,
                               weight_decay=weight_decay, velocity=state[1], uniform_hid=uh,
                               uniform_vis=uv)
        e2 = REF.rbm_cd_update(v0[None], W, b, c, 0.05, momentum=momentum,
                               weight_decay=weight_decay, velocity=vel, uniform_hid=uh,
                               uniform_vis=uv)
        np.testing.assert_allclose(e1, e2, rtol=1e-5 if dtype == np.float32 else 1e-12)
        for a, b_ in zip(state[0] + state[1], [W, b, c] + vel):
            np.testing.assert_allclose(a, b_, **_tol(dtype))


def _update_key(seed, step):
    """The random key of update ``step`` of ``seed`` in the compiled kernels (splitmix64)."""
    mask = (1 << 64) - 1
    z = (seed + (step + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2])
def test_single_sample_update_draws_as_the_first_row_of_a_batch(dtype, k):
    # Sampling pass j of an update draws row i from the stream (key_j, i),
    # key_j derived from the update's key as rbm_gibbs derives the key of its
    # pass j from its seed.  The online rule draws its one row from stream
    # 0, like the first row of a batch.  Weights and biases on a coarse grid
    # make every product exact, so that all paths compute the same
    # probabilities and the samples compare exactly.
    rng = np.random.default_rng(23)
    n, nv, nh = 5, 784, 120
    W = (rng.integers(-8, 9, (nh, nv)) / 64).astype(dtype)
    b = (rng.integers(-8, 9, nv) / 8).astype(dtype)
    c = (rng.integers(-8, 9, nh) / 8).astype(dtype)
    v0 = _binary(rng, (n, nv), dtype, 0.3)
    seed, step = 11, 7
    gibbs, _ = CPU.rbm_gibbs(v0, W, b, c, steps=k, seed=_update_key(seed, step))
    assert len({row.tobytes() for row in gibbs}) == n
    # Persistent chains started at the data end at the batch's samples.
    chain = v0.copy()
    CPU.rbm_cd_update(v0, W.copy(), b.copy(), c.copy(), 0.5, k=k, chain=chain, seed=seed,
                      step=step)
    np.testing.assert_array_equal(chain, gibbs)
    # A single-sample update (the online rule) on row 0: on this grid
    # b_vis + lr * (v0 - vk) is exact, so the visible biases give vk back.
    b1 = b.copy()
    CPU.rbm_cd_update(v0[:1], W.copy(), b1, c.copy(), 0.5, k=k, seed=seed, step=step)
    vk = v0[0] - (b1 - b) / dtype(0.5)
    np.testing.assert_array_equal(vk, gibbs[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_online_kernels_give_identical_results_on_every_instruction_set(dtype):
    # The kernels of the online rule (products, update, sigmoid, searches for
    # nonzero entries) exist for the baseline instruction set, AVX2 and
    # AVX-512; which one runs depends on the CPU, never the result.
    rng = np.random.default_rng(22)
    X = _binary(rng, (300, 200), dtype, 0.3)
    X[::3] *= rng.random((100, 200)).astype(dtype)
    X[1::6, ::7] = -0.0  # zeros, though not the bits of binary data
    start = _model(rng, 200, 45, dtype, scale=0.1)
    results = []
    try:
        for level in (0, 1, 2):
            _simd.select_simd_kernels(level)
            params = [a.copy() for a in start]
            err = CPU.rbm_cd_epoch(X, np.arange(300), *params, 0.1, batch_size=1, k=2, seed=2)
            results.append((err, params))
    finally:
        _simd.select_simd_kernels()
    for err, params in results[1:]:
        assert err == results[0][0]
        for a, b in zip(params, results[0][1]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_visible, n_hidden, batch_size, n_chains, momentum, weight_decay", [
    (40, 12, 10, 6, 0.5, 1e-3),      # PCD in mini-batches
    (600, 128, 1, None, 0.5, 1e-3),  # the online rule, updating every row
    (600, 128, 1, None, 0.0, 0.0),   # the online rule, updating the rows of nonzero units
    (37, 5, 1, None, 0.0, 0.0),
])
def test_epoch_equals_its_sequence_of_updates(n_visible, n_hidden, batch_size, n_chains,
                                              momentum, weight_decay):
    rng = np.random.default_rng(4)
    X = _binary(rng, (53, n_visible), np.float32)
    order = rng.permutation(53)
    W, b, c = _model(rng, n_visible, n_hidden, np.float32, scale=0.1)
    vel = tuple(np.zeros_like(a) for a in (W, b, c))
    chain = None if n_chains is None else _binary(rng, (n_chains, n_visible), np.float32)

    def state():
        return ([W.copy(), b.copy(), c.copy()], tuple(x.copy() for x in vel),
                None if chain is None else chain.copy())

    one, two = state(), state()
    kw = dict(k=2, momentum=momentum, weight_decay=weight_decay)
    err = CPU.rbm_cd_epoch(X, order, *one[0], 0.05, batch_size=batch_size, velocity=one[1],
                           chain=one[2], seed=9, first_step=3, **kw)
    total = 0.0
    for i, start in enumerate(range(0, 53, batch_size)):
        total += CPU.rbm_cd_update(X[order[start:start + batch_size]], *two[0], 0.05,
                                   velocity=two[1], chain=two[2], seed=9, step=3 + i, **kw)
    np.testing.assert_allclose(err, total, rtol=1e-6)
    for a, b_ in zip(one[0] + list(one[1]), two[0] + list(two[1])):
        np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-7)
    if chain is not None:
        np.testing.assert_array_equal(one[2], two[2])
    if batch_size == 1:
        # The online rule runs the same kernel either way: the same bits.
        assert err == total
        for a, b_ in zip(one[0] + list(one[1]), two[0] + list(two[1])):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("batch_size, n_rows, n_visible, n_hidden", [
    (2, 140, 20, 8),
    (1, 4200, 20, 8),
])
def test_long_epochs_equal_their_sequence_of_updates(batch_size, n_rows, n_visible, n_hidden):
    # Many batches in one call (one parallel region for the mini-batches)
    # continue the step count and the state exactly.
    rng = np.random.default_rng(13)
    X = _binary(rng, (n_rows, n_visible), np.float32)
    order = rng.permutation(n_rows)
    start = _model(rng, n_visible, n_hidden, np.float32, scale=0.05)
    one, two = [a.copy() for a in start], [a.copy() for a in start]
    err = CPU.rbm_cd_epoch(X, order, *one, 0.05, batch_size=batch_size, seed=5, first_step=2)
    total = sum(
        CPU.rbm_cd_update(X[order[i:i + batch_size]], *two, 0.05, seed=5, step=2 + j)
        for j, i in enumerate(range(0, n_rows, batch_size)))
    np.testing.assert_allclose(err, total, rtol=1e-5)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_online_rule_gives_the_same_result_on_one_or_two_threads():
    # The online rule runs on one thread whatever the setting: the same bits.
    rng = np.random.default_rng(14)
    X = _binary(rng, (4300, 600), np.float32, 0.2)
    order = rng.permutation(4300)
    start = _model(rng, 600, 128, np.float32, scale=0.05)
    results = []
    try:
        for threads in (1, 2):
            nnfast.set_num_threads(threads)
            params = [a.copy() for a in start]
            err = CPU.rbm_cd_epoch(X, order, *params, 0.02, batch_size=1, seed=8)
            err += CPU.rbm_cd_update(X[:1], *params, 0.02, k=2, seed=8, step=4300)
            results.append((err, params))
    finally:
        nnfast.set_num_threads(None)
    (e1, p1), (e2, p2) = results
    assert e1 == e2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_size", [1, 100])
def test_results_do_not_depend_on_the_number_of_threads(batch_size):
    rng = np.random.default_rng(5)
    X = _binary(rng, (400, 784), np.float32, 0.15)
    order = rng.permutation(400)
    start = _model(rng, 784, 64, np.float32, scale=0.01)
    results = []
    try:
        for threads in (1, 2):
            nnfast.set_num_threads(threads)
            params = [a.copy() for a in start]
            err = CPU.rbm_cd_epoch(X, order, *params, 0.05, batch_size=batch_size, seed=1)
            results.append((err, params))
    finally:
        nnfast.set_num_threads(None)
    (e1, p1), (e2, p2) = results
    np.testing.assert_allclose(e1, e2, rtol=1e-6)
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_reference_runs_an_epoch_and_learns():
    rng = np.random.default_rng(6)
    patterns = _binary(rng, (4, 12), np.float64, 0.5)
    X = patterns[rng.integers(0, 4, 200)]
    W, b, c = _model(rng, 12, 6, np.float64, scale=0.01)
    errors = [REF.rbm_cd_epoch(X, rng.permutation(200), W, b, c, 0.1, batch_size=5, seed=s)
              for s in range(15)]
    assert errors[-1] < 0.5 * errors[0]


def test_non_contiguous_parameters_fall_back_to_the_reference():
    rng = np.random.default_rng(7)
    W, b, c = _model(rng, 13, 5, np.float64)
    v0 = _binary(rng, (7, 13), np.float64)
    uh, uv = rng.random((1, 7, 5)), rng.random((1, 7, 13))
    W_f = np.asfortranarray(W)
    b1, c1, b2, c2 = b.copy(), c.copy(), b.copy(), c.copy()
    W_c = W.copy()
    CPU.rbm_cd_update(v0, W_f, b1, c1, 0.1, uniform_hid=uh, uniform_vis=uv)
    CPU.rbm_cd_update(v0, W_c, b2, c2, 0.1, uniform_hid=uh, uniform_vis=uv)
    np.testing.assert_allclose(W_f, W_c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b1, b2, rtol=1e-12, atol=1e-14)


def test_bad_arguments_raise_clear_errors():
    rng = np.random.default_rng(8)
    W, b, c = _model(rng, 10, 4, np.float32)
    v = _binary(rng, (3, 10), np.float32)
    with pytest.raises(ValueError, match="uniform draws or a seed"):
        CPU.rbm_cd_update(v, W, b, c, 0.1)
    with pytest.raises(ValueError, match="uniform draws or a seed"):
        REF.rbm_cd_update(v, W, b, c, 0.1)
    with pytest.raises(ValueError, match="v0 must have shape"):
        CPU.rbm_cd_update(v[:, :9], W, b, c, 0.1, seed=1)
    with pytest.raises(ValueError, match="b_hid has shape"):
        CPU.rbm_cd_update(v, W, b, c[:3], 0.1, seed=1)
    with pytest.raises(ValueError, match="uniform_hid has shape"):
        CPU.rbm_cd_update(v, W, b, c, 0.1, uniform_hid=np.zeros((1, 3, 5), np.float32),
                          uniform_vis=np.zeros((1, 3, 10), np.float32))
    with pytest.raises(ValueError, match="momentum needs velocity"):
        CPU.rbm_cd_update(v, W, b, c, 0.1, momentum=0.5, seed=1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        CPU.rbm_cd_update(v, W, b, c, 0.1, k=0, seed=1)
    with pytest.raises(ValueError, match="outside"):
        CPU.rbm_cd_epoch(v, np.array([0, 3]), W, b, c, 0.1, seed=1)
    with pytest.raises(ValueError, match="seed must be an integer"):
        CPU.sigmoid_bernoulli(v, seed=-1)


def test_instruction_sets_give_identical_mini_batch_results():
    # The float sigmoid and uniform row kernels of every sampling pass exist
    # for each instruction set; which one runs depends on the CPU, never the
    # result.
    rng = np.random.default_rng(10)
    X = _binary(rng, (64, 100), np.float32)
    pre = (rng.standard_normal((9, 333)) * 6).astype(np.float32)
    start = _model(rng, 100, 40, np.float32, scale=0.1)
    results = []
    try:
        for level in (0, 1, 2):
            _simd.select_simd_kernels(level)
            params = [a.copy() for a in start]
            err = CPU.rbm_cd_epoch(X, np.arange(64), *params, 0.1, batch_size=16, seed=2)
            results.append((CPU.sigmoid_bernoulli(pre, seed=4), err, params))
    finally:
        _simd.select_simd_kernels()
    (s1, e1, p1) = results[0]
    for s2, e2, p2 in results[1:]:
        np.testing.assert_array_equal(s1[0], s2[0])
        np.testing.assert_array_equal(s1[1], s2[1])
        assert e1 == e2
        for a, b in zip(p1, p2):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ threads
@pytest.fixture
def no_controllable_blas(monkeypatch):
    """As on a machine where threadpoolctl finds no BLAS it can limit."""
    monkeypatch.setattr(_threads._hold, "_controller", False)


def test_products_share_rows_only_while_blas_is_held(monkeypatch):
    monkeypatch.setitem(_threads._state, "n_threads", 2)
    assert cpu_rbm._row_threads(100, 784, 120) == 1
    with own_threads() as held:
        assert cpu_rbm._row_threads(100, 784, 120) == (2 if held else 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_without_a_controllable_blas(no_controllable_blas, monkeypatch, dtype):
    # BLAS keeps its own threads: every kernel that calls it runs on one
    # thread of ours, and the results are those of the reference.
    monkeypatch.setitem(_threads._state, "n_threads", 2)
    rng = np.random.default_rng(15)
    n, nv, nh = 100, 784, 120
    W, b, c = _model(rng, nv, nh, dtype, scale=0.05)
    v = _binary(rng, (n, nv), dtype)
    h = rng.random((n, nh)).astype(dtype)
    with own_threads() as held:
        assert not held and cpu_rbm._row_threads(n, nv, nh) == 1
    tol = _tol(dtype)
    np.testing.assert_allclose(CPU.rbm_hidden_probs(v, W, c), REF.rbm_hidden_probs(v, W, c),
                               **tol)
    np.testing.assert_allclose(CPU.rbm_visible_probs(h, W, b), REF.rbm_visible_probs(h, W, b),
                               **tol)
    np.testing.assert_allclose(CPU.rbm_free_energy(v, W, b, c), REF.rbm_free_energy(v, W, b, c),
                               rtol=1e-6 if dtype == np.float32 else 1e-12)
    uh, uv = rng.random((2, n, nh)).astype(dtype), rng.random((2, n, nv)).astype(dtype)
    sample, prob = CPU.rbm_gibbs(v, W, b, c, steps=2, uniform_hid=uh, uniform_vis=uv)
    ref_sample, ref_prob = REF.rbm_gibbs(v, W, b, c, steps=2, uniform_hid=uh, uniform_vis=uv)
    np.testing.assert_allclose(prob, ref_prob, **tol)
    assert (sample != ref_sample).mean() < 1e-3
    one, two = [a.copy() for a in (W, b, c)], [a.copy() for a in (W, b, c)]
    e1 = CPU.rbm_cd_update(v, *one, 0.05, uniform_hid=uh[:1], uniform_vis=uv[:1])
    e2 = REF.rbm_cd_update(v, *two, 0.05, uniform_hid=uh[:1], uniform_vis=uv[:1])
    np.testing.assert_allclose(e1, e2, rtol=1e-4)
    for a, b_ in zip(one, two):
        np.testing.assert_allclose(a, b_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 50])
def test_epochs_without_a_controllable_blas_equal_those_on_one_thread(monkeypatch, batch_size):
    rng = np.random.default_rng(16)
    X = _binary(rng, (300, 784), np.float32, 0.2)
    order = rng.permutation(300)
    start = _model(rng, 784, 120, np.float32, scale=0.05)
    results = []
    for threads, controllable in ((1, True), (2, False)):
        with monkeypatch.context() as m:
            m.setitem(_threads._state, "n_threads", threads)
            if not controllable:
                m.setattr(_threads._hold, "_controller", False)
            params = [a.copy() for a in start]
            err = CPU.rbm_cd_epoch(X, order, *params, 0.05, batch_size=batch_size, k=2, seed=4)
            results.append((err, params))
    (e1, p1), (e2, p2) = results
    np.testing.assert_allclose(e1, e2, rtol=1e-6)
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


class _CountingController:
    """Stands in for threadpoolctl's controller: counts the limits set."""

    def __init__(self):
        self.limits = 0

    def limit(self, limits):
        assert limits == 1
        self.limits += 1
        return types.SimpleNamespace(restore_original_limits=lambda: None)


def test_the_model_holds_blas_once_per_call(monkeypatch):
    # BernoulliRBM takes the hold around each method that runs kernels, so
    # that the many kernel calls inside do not set and restore the limit
    # each time.
    counter = _CountingController()
    monkeypatch.setattr(_threads._hold, "_controller", counter)
    rng = np.random.default_rng(17)
    X = _binary(rng, (120, 30), np.float32)
    rbm = BernoulliRBM(n_hidden=8, batch_size=10, epochs=3, random_state=0,
                       track_pseudo_likelihood=True)
    calls = [
        lambda: rbm.fit(X),
        lambda: rbm.partial_fit(X),
        lambda: rbm.transform(X),
        lambda: rbm.reconstruct(X),
        lambda: rbm.gibbs(X, steps=3),
        lambda: rbm.sample(4, steps=3),
        lambda: rbm.free_energy(X),
        lambda: rbm.score_samples(X),
        lambda: rbm.score(X),
    ]
    for i, call in enumerate(calls):
        before = counter.limits
        call()
        assert counter.limits == before + 1, i
    assert not products_on_own_threads()
