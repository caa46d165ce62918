"""The compiled network's pooling and batch-normalisation nodes, in a chain of three.

Each node runs between two dense nodes (so that its backward pass is needed
and its input gradient is used), in a network made by
:func:`nnfast.backend.cpu_network.make_network` from node specs as the layers
give them; the parameter gradients, the output and the moving statistics
must be what the reference ops give one call at a time.
"""
import math

import numpy as np
import pytest

import nnfast
from nnfast.backend import get_ops
from nnfast.backend.cpu_network import make_network

REF = get_ops("numpy")
get_ops("cpu")  # imports the families, which register their node makers
IN_SHAPE = (6, 5, 3)
N_FEATURES, N_OUT = 4, 2
MOMENTUM, EPSILON = 0.9, 1e-3


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request, monkeypatch):
    previous = nnfast.get_num_threads()
    nnfast.set_num_threads(request.param)
    if request.param > 1:
        monkeypatch.setattr(nnfast.backend._threads, "PARALLEL_MIN_WORK", 1)
        monkeypatch.setattr(nnfast.backend._threads, "PRODUCT_WORK_DIVISOR", 1)
    yield request.param
    nnfast.set_num_threads(previous)


def dense_spec(n_in, n_out, in_shape, out_shape, need_dx, rng, dtype):
    W = rng.normal(size=(n_in, n_out)).astype(dtype)
    b = rng.normal(size=n_out).astype(dtype)
    return {"kind": "dense", "W": W, "b": b, "dW": np.zeros_like(W), "db": np.zeros_like(b),
            "transposed": False, "add_w": False, "add_b": False, "activation": "identity",
            "in_shape": in_shape, "out_shape": out_shape, "need_dx": need_dx}


def batch_norm_spec(c, rng, dtype, use_batch_stats, frozen=False):
    gamma = rng.uniform(0.5, 2, c).astype(dtype)
    beta = rng.normal(size=c).astype(dtype)
    return {"kind": "batch_norm", "gamma": gamma, "beta": beta,
            "dgamma": None if frozen else np.zeros_like(gamma),
            "dbeta": None if frozen else np.zeros_like(beta),
            "moving_mean": rng.normal(size=c).astype(dtype),
            "moving_variance": rng.uniform(0.5, 2, c).astype(dtype),
            "momentum": MOMENTUM, "epsilon": EPSILON, "use_batch_stats": use_batch_stats}


# (spec of the middle node, its output shape per sample)
MIDDLE = {
    "max-3s2": ({"kind": "max_pool2d", "pool_size": (3, 3), "strides": (2, 2)}, (2, 2, 3)),
    "max-2s2": ({"kind": "max_pool2d", "pool_size": (2, 2), "strides": (2, 2)}, (3, 2, 3)),
    "avg-2s1": ({"kind": "avg_pool2d", "pool_size": (2, 2), "strides": (2, 1)}, (3, 4, 3)),
    "global-avg": ({"kind": "global_avg_pool2d"}, (3,)),
    "batch-norm": ("batch_stats", IN_SHAPE),
    "batch-norm-moving": ("moving_stats", IN_SHAPE),
    "batch-norm-frozen": ("frozen", IN_SHAPE),
}


def chain(name, dtype, seed=0):
    """Node specs: dense -> the middle node -> dense; and the middle spec alone."""
    rng = np.random.default_rng(seed)
    middle, out_shape = MIDDLE[name]
    if isinstance(middle, str):
        middle = batch_norm_spec(IN_SHAPE[-1], rng, dtype, middle == "batch_stats",
                                 frozen=middle == "frozen")
    else:
        middle = dict(middle)
    middle.update(in_shape=IN_SHAPE, out_shape=out_shape, need_dx=True)
    size = math.prod(IN_SHAPE)
    first = dense_spec(N_FEATURES, size, (N_FEATURES,), IN_SHAPE, False, rng, dtype)
    last = dense_spec(math.prod(out_shape), N_OUT, out_shape, (N_OUT,), True, rng, dtype)
    return [first, middle, last]


def reference_step(specs, x, targets, train):
    """What the layers compute one call at a time: output, loss gradients, moving statistics."""
    first, middle, last = specs
    n = x.shape[0]
    h0 = REF.affine(x, first["W"], first["b"]).reshape((n,) + IN_SHAPE)
    kind = middle["kind"]
    moving = None
    if kind == "max_pool2d":
        p, argmax = REF.max_pool2d(h0, middle["pool_size"], middle["strides"])
    elif kind == "avg_pool2d":
        p = REF.avg_pool2d(h0, middle["pool_size"], middle["strides"])
    elif kind == "global_avg_pool2d":
        p = REF.global_avg_pool2d(h0)
    else:
        rows = h0.reshape(-1, IN_SHAPE[-1])
        moving = middle["moving_mean"].copy(), middle["moving_variance"].copy()
        c = IN_SHAPE[-1]
        mean, invstd = np.empty(c, rows.dtype), np.empty(c, rows.dtype)
        if train and middle["use_batch_stats"]:
            p = REF.batch_norm_train(rows, middle["gamma"], middle["beta"], EPSILON, MOMENTUM,
                                     *moving, mean, invstd)
        else:
            p = REF.batch_norm_inference(rows, middle["gamma"], middle["beta"], *moving, EPSILON)
    p = p.reshape(n, -1)
    out = REF.affine(p, last["W"], last["b"])
    _, g = REF.mean_squared_error(out, targets)
    grads = {"dW2": np.zeros_like(last["W"]), "db2": np.zeros_like(last["b"])}
    dp = REF.backprop_affine(g, p, last["W"], grads["dW2"], grads["db2"])
    if kind == "max_pool2d":
        dh0 = REF.max_pool2d_backward(dp.reshape(argmax.shape), argmax, IN_SHAPE)
    elif kind == "avg_pool2d":
        dh0 = REF.avg_pool2d_backward(dp.reshape((n,) + middle["out_shape"]), IN_SHAPE,
                                      middle["pool_size"], middle["strides"])
    elif kind == "global_avg_pool2d":
        dh0 = REF.global_avg_pool2d_backward(dp, IN_SHAPE)
    else:
        c = IN_SHAPE[-1]
        grads["dgamma"], grads["dbeta"] = np.zeros(c, x.dtype), np.zeros(c, x.dtype)
        if middle["use_batch_stats"]:
            dh0 = REF.batch_norm_backward(dp.reshape(-1, c), rows, middle["gamma"], mean, invstd,
                                          grads["dgamma"], grads["dbeta"])
        else:
            dh0 = REF.batch_norm_inference_backward(dp.reshape(-1, c), rows, middle["gamma"],
                                                    middle["moving_mean"],
                                                    middle["moving_variance"], EPSILON,
                                                    grads["dgamma"], grads["dbeta"])
    grads["dW0"], grads["db0"] = np.zeros_like(first["W"]), np.zeros_like(first["b"])
    REF.backprop_affine(dh0.reshape(n, -1), x, first["W"], grads["dW0"], grads["db0"], dx=False)
    return out, grads, moving


def compiled(specs, dtype):
    updates = [(0, specs[0]["W"], specs[0]["dW"], False), (0, specs[0]["b"], specs[0]["db"], False),
               (2, specs[2]["W"], specs[2]["dW"], False), (2, specs[2]["b"], specs[2]["db"], False)]
    if specs[1]["kind"] == "batch_norm" and specs[1]["dgamma"] is not None:
        updates += [(1, specs[1]["gamma"], specs[1]["dgamma"], False),
                    (1, specs[1]["beta"], specs[1]["dbeta"], False)]
    return make_network(specs, "mean_squared_error", False, 1, updates, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", MIDDLE)
def test_node_in_a_network_matches_the_reference_ops(name, dtype, threads):
    specs = chain(name, dtype)
    network = compiled(specs, dtype)
    assert network is not None, "the node specs have a compiled network"
    rng = np.random.default_rng(1)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for n in (7, 3, 7):  # a smaller batch between two larger ones reuses the buffers
        x = rng.normal(size=(n, N_FEATURES)).astype(dtype)
        targets = rng.normal(size=(n, N_OUT)).astype(dtype)
        out, grads, moving = reference_step(specs, x, targets, train=True)
        _, output = network.train_step(x, targets)
        np.testing.assert_allclose(output, out, **tol)
        np.testing.assert_allclose(specs[0]["dW"], grads["dW0"], **tol)
        np.testing.assert_allclose(specs[0]["db"], grads["db0"], **tol)
        np.testing.assert_allclose(specs[2]["dW"], grads["dW2"], **tol)
        np.testing.assert_allclose(specs[2]["db"], grads["db2"], **tol)
        middle = specs[1]
        if middle["kind"] == "batch_norm":
            if middle["dgamma"] is not None:
                np.testing.assert_allclose(middle["dgamma"], grads["dgamma"], **tol)
                np.testing.assert_allclose(middle["dbeta"], grads["dbeta"], **tol)
            # The network updated the moving statistics in place (or left them).
            np.testing.assert_allclose(middle["moving_mean"], moving[0], **tol)
            np.testing.assert_allclose(middle["moving_variance"], moving[1], **tol)
        # Inference: dropout-like switches off, the moving statistics are used and kept.
        out, _, moving = reference_step(specs, x, targets, train=False)
        _, output = network.evaluate(x, targets)
        np.testing.assert_allclose(output, out, **tol)
        if middle["kind"] == "batch_norm":
            np.testing.assert_array_equal(middle["moving_mean"], moving[0])
            np.testing.assert_array_equal(middle["moving_variance"], moving[1])


def test_settings_without_a_compiled_form_give_no_network():
    specs = chain("max-2s2", "float64")
    specs[1]["pool_size"] = (7, 2)  # larger than the image: the layer reports it
    assert compiled(specs, "float64") is None
    specs = chain("batch-norm", "float64")
    specs[1]["gamma"] = specs[1]["gamma"].astype(np.float32)
    assert compiled(specs, "float64") is None
