"""Noise, activity-penalty and Gaussian-sampler ops, on every backend.

The compiled ops (``"cpu"``) draw their noise from another generator than
the reference (``"numpy"``), so the noisy ops are held to what they must
satisfy on any stream (the output is the input with that noise, the noise
has its distribution, the same draw repeats, the thread count changes
nothing); the deterministic ones (penalties, gradients given the draws) are
held to the reference and to closed forms.  Shapes are odd, batches of one
included, in both dtypes; gradients are checked by finite differences in
float64.
"""
import numpy as np
import pytest
from scipy import stats

import nnfast
from nnfast.backend import get_ops

BACKENDS = ["numpy", "cpu"]
DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): dict(rtol=2e-6, atol=2e-6),
       np.dtype(np.float64): dict(rtol=1e-12, atol=1e-13)}
SHAPES = [(1, 1), (1, 7), (5, 13), (3, 2, 5), (64, 784)]


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    yield request.param
    nnfast.set_num_threads(previous)


def _x(shape, dtype, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


# ------------------------------------------------------------------ masking
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_masking_noise_masks_without_rescaling(backend, dtype, shape, threads):
    ops = get_ops(backend)
    x = _x(shape, dtype)
    y, mask = ops.masking_noise(x, 0.3, seed=7, draw=2)
    assert y.dtype == x.dtype and y.shape == x.shape and mask.shape == x.shape
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y, x * mask)
    again, again_mask = ops.masking_noise(x, 0.3, seed=7, draw=2)
    np.testing.assert_array_equal(again_mask, mask)
    if x.size > 10_000:
        # 50,176 values: the masked fraction's standard error is 0.002.
        assert abs(1 - mask.mean() - 0.3) < 0.01
        assert not np.array_equal(ops.masking_noise(x, 0.3, seed=7, draw=3)[1], mask)
        assert not np.array_equal(ops.masking_noise(x, 0.3, seed=8, draw=2)[1], mask)


def test_compiled_masks_do_not_depend_on_the_thread_count():
    ops = get_ops("cpu")
    x = _x((64, 784), np.float32)
    masks = []
    for n in (1, 2):
        previous = nnfast.get_num_threads()
        nnfast.set_num_threads(n)
        try:
            masks.append(ops.masking_noise(x, 0.25, 3, 9)[1])
            masks.append(ops.gaussian_noise(x, 0.5, 3, 9))
        finally:
            nnfast.set_num_threads(previous)
    np.testing.assert_array_equal(masks[0], masks[2])
    np.testing.assert_array_equal(masks[1], masks[3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_masking_noise_writes_into_the_buffers_given(backend):
    ops = get_ops(backend)
    x = _x((4, 9), np.float64)
    out, mask_out = np.empty_like(x), np.empty_like(x)
    y, mask = ops.masking_noise(x, 0.5, 1, 0, out=out, mask_out=mask_out)
    assert y is out and mask is mask_out
    y, mask = ops.masking_noise(x, 0.0, 1, 0)
    np.testing.assert_array_equal(y, x)


def test_compiled_noise_refuses_bad_arguments():
    ops = get_ops("cpu")
    x = _x((4, 9), np.float32)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        ops.masking_noise(x, 1.0, 0, 0)
    with pytest.raises(ValueError, match="mask_out must be a C-contiguous float32 array of shape"):
        ops.masking_noise(x, 0.5, 0, 0, mask_out=np.empty((4, 8), np.float32))
    with pytest.raises(ValueError, match="stddev must be at least 0"):
        ops.gaussian_noise(x, -1.0, 0, 0)
    with pytest.raises(ValueError, match="out must be a C-contiguous float32 array"):
        ops.gaussian_noise(x, 1.0, 0, 0, out=np.empty((4, 9), np.float64))


# ------------------------------------------------------------------ normals
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_gaussian_noise_adds_the_stream_of_normals(backend, dtype, shape, threads):
    ops = get_ops(backend)
    x = _x(shape, dtype)
    y = ops.gaussian_noise(x, 0.5, seed=4, draw=1)
    noise = ops.standard_normal(shape, 4, 1, dtype=dtype)
    np.testing.assert_allclose(y, x + dtype(0.5) * noise, rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(ops.gaussian_noise(x, 0.0, 4, 1), x)
    inplace = x.copy()
    assert ops.gaussian_noise(inplace, 0.5, 4, 1, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_standard_normals_have_the_right_moments(backend):
    ops = get_ops(backend)
    z = ops.standard_normal((400_000,), 11, 0, dtype="float64")
    se = 1 / np.sqrt(z.size)
    # Mean, variance, skewness and excess kurtosis within five standard errors.
    assert abs(z.mean()) < 5 * se
    assert abs(z.var() - 1) < 5 * np.sqrt(2) * se
    assert abs((z ** 3).mean()) < 5 * np.sqrt(15) * se
    assert abs((z ** 4).mean() - 3) < 5 * np.sqrt(96) * se
    # Tails: the fraction beyond 2 is 0.0455.
    assert abs((np.abs(z) > 2).mean() - 0.0455) < 5 * np.sqrt(0.0455 * 0.9545) * se
    assert not np.array_equal(ops.standard_normal((100,), 11, 1), ops.standard_normal((100,), 11, 0))


def test_compiled_normals_follow_the_normal_distribution_into_the_tails():
    # The ziggurat's layers, wedges and tail each carry part of the distribution.
    z = get_ops("cpu").standard_normal((1_000_000,), 5, 0, dtype="float64")
    assert stats.kstest(z, "norm").pvalue > 1e-3
    se = np.sqrt(z.size)
    for edge in (0.5, 1.5, 2.5, 3.4426, 4.0):  # 3.4426: where the tail begins
        p = 2 * stats.norm.sf(edge)
        assert abs((np.abs(z) > edge).mean() - p) < 5 * np.sqrt(p * (1 - p)) / se


# --------------------------------------------------------- activity penalty
def _activity_closed_form(h, l1, kl, target):
    h = h.astype(np.float64)
    rho = np.clip(h.mean(axis=0), 1e-7, 1 - 1e-7)
    value = l1 * np.abs(h).sum() / len(h)
    value += kl * sum(target * np.log(target / r) + (1 - target) * np.log((1 - target) / (1 - r))
                      for r in rho)
    return value


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (7, 13), (64, 20)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("l1,kl", [(0.01, 0.0), (0.0, 0.5), (0.02, 0.3)])
def test_activity_penalty_and_its_gradient(backend, dtype, shape, l1, kl, threads):
    ops, ref = get_ops(backend), get_ops("numpy")
    h = _x(shape, dtype, low=0.01, high=0.99)
    h.flat[0] = -0.5  # a negative value for the L1 term's sign
    value, mean = ops.activity_penalty(h, l1, kl, 0.1)
    assert np.ndim(value) == 0
    np.testing.assert_allclose(float(value), _activity_closed_form(h, l1, kl, 0.1), rtol=1e-12)
    dy = _x(shape, dtype, seed=1)
    dx = ops.backprop_activity_penalty(dy, h, mean, l1, kl, 0.1, scale=0.7)
    ref_value, ref_mean = ref.activity_penalty(h, l1, kl, 0.1)
    expected = ref.backprop_activity_penalty(dy, h, ref_mean, l1, kl, 0.1, scale=0.7)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, expected, **TOL[np.dtype(dtype)])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("l1,kl", [(0.01, 0.0), (0.0, 0.5), (0.02, 0.3)])
def test_activity_penalty_gradient_matches_finite_differences(backend, l1, kl):
    ops = get_ops(backend)
    h = _x((6, 5), np.float64, low=0.05, high=0.95)
    _, mean = ops.activity_penalty(h, l1, kl, 0.2)
    grad = ops.backprop_activity_penalty(np.zeros_like(h), h, mean, l1, kl, 0.2, scale=1.0)
    numeric = np.zeros_like(h)
    for idx in np.ndindex(h.shape):
        saved = h[idx]
        values = []
        for step in (1e-6, -1e-6):
            h[idx] = saved + step
            values.append(float(ops.activity_penalty(h, l1, kl, 0.2)[0]))
        h[idx] = saved
        numeric[idx] = (values[0] - values[1]) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------- Gaussian sample
def _code(n, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return np.hstack([rng.normal(size=(n, m)), rng.uniform(-2, 1, size=(n, m))]).astype(dtype)


def _kl_closed_form(x):
    m = x.shape[1] // 2
    mu, lv = x[:, :m].astype(np.float64), x[:, m:].astype(np.float64)
    # KL(N(mu, s^2) || N(0, 1)) = log(1 / s) + (s^2 + mu^2) / 2 - 1/2 per dimension.
    s = np.exp(lv / 2)
    return (np.log(1 / s) + (s ** 2 + mu ** 2) / 2 - 0.5).sum() / len(x)


@pytest.mark.parametrize("n,m", [(1, 1), (1, 3), (9, 2), (64, 20)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_gaussian_sample_is_mu_plus_sigma_times_its_draws(backend, dtype, n, m):
    ops, ref = get_ops(backend), get_ops("numpy")
    x = _code(n, m, dtype)
    z, eps = ops.gaussian_sample(x, 5, 3)
    assert z.shape == eps.shape == (n, m) and z.dtype == eps.dtype == dtype
    mu, lv = x[:, :m].astype(np.float64), x[:, m:].astype(np.float64)
    np.testing.assert_allclose(z, mu + np.exp(lv / 2) * eps, **TOL[np.dtype(dtype)])
    np.testing.assert_array_equal(eps, ops.standard_normal((n, m), 5, 3, dtype=dtype))
    mean, none = ops.gaussian_sample(x, 5, 3, training=False)
    assert none is None
    np.testing.assert_array_equal(mean, x[:, :m])
    kl = ops.gaussian_kl(x)
    assert np.ndim(kl) == 0
    np.testing.assert_allclose(float(kl), _kl_closed_form(x), rtol=1e-6 if dtype == np.float32 else 1e-12)
    dz = _x((n, m), dtype, seed=2)
    for draws in (eps, None):
        np.testing.assert_allclose(ops.backprop_gaussian_sample(dz, x, draws, 0.3),
                                   ref.backprop_gaussian_sample(dz, x, draws, 0.3),
                                   **TOL[np.dtype(dtype)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_kl_gradient_is_the_closed_form_and_finite_differences(backend):
    ops = get_ops(backend)
    x = _code(5, 3, np.float64)
    grad = ops.backprop_gaussian_sample(np.zeros((5, 3)), x, None, 1.0)
    mu, lv = x[:, :3], x[:, 3:]
    # d/dmu = mu / n, d/dlog_var = (exp(log_var) - 1) / (2 n).
    np.testing.assert_allclose(grad[:, :3], mu / 5, rtol=1e-13)
    np.testing.assert_allclose(grad[:, 3:], (np.exp(lv) - 1) / 10, rtol=1e-12, atol=1e-15)
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + 1e-6
        up = float(ops.gaussian_kl(x))
        x[idx] = saved - 1e-6
        down = float(ops.gaussian_kl(x))
        x[idx] = saved
        numeric[idx] = (up - down) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_gradient_matches_finite_differences_with_the_draws_fixed(backend):
    ops = get_ops(backend)
    x = _code(4, 3, np.float64, seed=3)
    w = np.random.default_rng(4).normal(size=(4, 3))

    def objective():  # <w, z> + 0.4 * KL, the same draw every time
        z, _ = ops.gaussian_sample(x, 1, 0)
        return float((w * z).sum() + 0.4 * float(ops.gaussian_kl(x)) * len(x))

    _, eps = ops.gaussian_sample(x, 1, 0)
    grad = ops.backprop_gaussian_sample(w, x, eps, 0.4 * len(x))
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + 1e-6
        up = objective()
        x[idx] = saved - 1e-6
        down = objective()
        x[idx] = saved
        numeric[idx] = (up - down) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reparameterised_samples_have_mean_mu_and_variance_exp_log_var(backend):
    ops = get_ops(backend)
    mu, lv = np.array([0.5, -1.0, 2.0]), np.array([0.0, -1.5, 1.0])
    n = 40_000
    x = np.tile(np.hstack([mu, lv]), (n, 1))
    z = np.vstack([ops.gaussian_sample(x, 21, draw)[0] for draw in range(3)])
    var = np.exp(lv)
    se_mean = np.sqrt(var / len(z))
    se_var = var * np.sqrt(2 / len(z))
    # Within five standard errors of the mean (0.013 at most here) and of the variance.
    np.testing.assert_array_less(np.abs(z.mean(axis=0) - mu), 5 * se_mean)
    np.testing.assert_array_less(np.abs(z.var(axis=0) - var), 5 * se_var)


def test_compiled_sampler_refuses_bad_shapes():
    ops = get_ops("cpu")
    with pytest.raises(ValueError, match="even number of columns"):
        ops.gaussian_sample(np.zeros((3, 5)), 0, 0)
    with pytest.raises(ValueError, match="even number of columns"):
        ops.gaussian_kl(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"dz and eps must have shape \(3, 2\)"):
        ops.backprop_gaussian_sample(np.zeros((3, 3)), np.zeros((3, 4)), None, 1.0)
    with pytest.raises(ValueError, match="out must be a C-contiguous float64 array of shape"):
        ops.gaussian_sample(np.zeros((3, 4)), 0, 0, out=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"must be \(n, m\), \(n, m\) and \(m,\)"):
        ops.backprop_activity_penalty(np.zeros((3, 4)), np.zeros((3, 4)), np.zeros(3), 1, 0,
                                      0.1, 1.0)


# ------------------------------------------------------------ on a device
def _strict():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("strict_xp", Path(__file__).with_name("strict_xp.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_ops_keep_everything_on_the_device():
    # A strict stand-in for cupy refuses every implicit transfer and scalar read.
    strict = _strict()
    ops = strict.StrictOps()
    rng = np.random.default_rng(0)
    x = ops.xp.asarray(rng.uniform(0.1, 0.9, size=(5, 6)).astype(np.float32))
    strict.transfers.reset()
    y = ops.gaussian_noise(x, 0.3, 1, 2)
    y, mask = ops.masking_noise(y, 0.3, 1, 2)
    value, mean = ops.activity_penalty(y, 0.1, 0.2, 0.1)
    dx = ops.backprop_activity_penalty(x, y, mean, 0.1, 0.2, 0.1, 1.0)
    z, eps = ops.gaussian_sample(x, 3, 0)
    kl = ops.gaussian_kl(x)
    d = ops.backprop_gaussian_sample(z, x, eps, 0.5)
    for a in (y, mask, value, mean, dx, z, eps, kl, d):
        assert type(a) is strict.StrictArray
    assert strict.transfers.to_host == 0


def test_penalty_layers_read_their_value_only_when_asked():
    from nnfast.layers import ActivityRegularization, GaussianSampler

    strict = _strict()
    ops = strict.StrictOps()
    x = ops.xp.asarray(np.random.default_rng(1).uniform(0.1, 0.9, size=(4, 6)))
    for layer in (GaussianSampler(seed=0), ActivityRegularization(l1=0.1, kl=0.2)):
        nnfast.Sequential([layer], device=ops, dtype="float64").build(6)
        strict.transfers.reset()
        y = layer.forward(x, training=True)
        layer.backward(ops.xp.ones_like(y))
        assert strict.transfers.to_host == 0
        assert type(layer.penalty_value) is strict.StrictArray
        expected = float(ops.to_numpy(ops.gaussian_kl(x) if isinstance(layer, GaussianSampler)
                                      else ops.activity_penalty(x, 0.1, 0.2, 0.05)[0]))
        assert layer.penalty == expected
