"""Each optimizer against its textbook update, written out element by element."""
import math

import numpy as np
import pytest

import nnfast
from nnfast.optimizers import SGD, Adadelta, Adagrad, Adam, RMSprop, get_optimizer

BACKENDS = ["numpy", "cpu"]
GRADS = [[0.5, -1.0, 2.0], [0.1, 0.3, -0.7], [-0.4, 0.0, 1.5], [0.2, -0.2, 0.9]]
W0 = [1.0, -2.0, 0.5]


def textbook(name, steps, wd=0.0, **hp):
    """Plain-Python reference of each rule (one scalar parameter at a time)."""
    out = []
    for k in range(len(W0)):
        w, s1, s2 = W0[k], 0.0, 0.0
        for t, grads in enumerate(GRADS[:steps], start=1):
            g = grads[k] + wd * w
            lr = hp["lr"]
            if name == "sgd":
                w -= lr * g
            elif name == "momentum":
                s1 = hp["mu"] * s1 - lr * g
                w += s1
            elif name == "nesterov":
                s1 = hp["mu"] * s1 - lr * g
                w += hp["mu"] * s1 - lr * g
            elif name == "adam":
                s1 = hp["b1"] * s1 + (1 - hp["b1"]) * g
                s2 = hp["b2"] * s2 + (1 - hp["b2"]) * g * g
                w -= lr * (s1 / (1 - hp["b1"] ** t)) / (math.sqrt(s2 / (1 - hp["b2"] ** t)) + hp["eps"])
            elif name == "rmsprop":
                s1 = hp["rho"] * s1 + (1 - hp["rho"]) * g * g
                w -= lr * g / (math.sqrt(s1) + hp["eps"])
            elif name == "adagrad":
                s1 += g * g
                w -= lr * g / (math.sqrt(s1) + hp["eps"])
            elif name == "adadelta":
                s1 = hp["rho"] * s1 + (1 - hp["rho"]) * g * g
                d = math.sqrt(s2 + hp["eps"]) / math.sqrt(s1 + hp["eps"]) * g
                s2 = hp["rho"] * s2 + (1 - hp["rho"]) * d * d
                w -= lr * d
        out.append(w)
    return np.array(out)


CASES = [
    ("sgd", lambda wd: SGD(0.1, weight_decay=wd), dict(lr=0.1)),
    ("momentum", lambda wd: SGD(0.1, momentum=0.9, weight_decay=wd), dict(lr=0.1, mu=0.9)),
    ("nesterov", lambda wd: SGD(0.1, momentum=0.8, nesterov=True, weight_decay=wd), dict(lr=0.1, mu=0.8)),
    ("adam", lambda wd: Adam(0.01, weight_decay=wd), dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8)),
    ("rmsprop", lambda wd: RMSprop(0.01, weight_decay=wd), dict(lr=0.01, rho=0.9, eps=1e-7)),
    ("adagrad", lambda wd: Adagrad(0.1, weight_decay=wd), dict(lr=0.1, eps=1e-7)),
    ("adadelta", lambda wd: Adadelta(1.0, weight_decay=wd), dict(lr=1.0, rho=0.95, eps=1e-6)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_update_matches_textbook(case, weight_decay, dtype, backend):
    name, make, hp = case
    ops = nnfast.get_ops(backend)
    opt = make(weight_decay)
    w = np.array(W0, dtype=dtype)
    opt.build(ops, [w])
    for step, grads in enumerate(GRADS, start=1):
        opt.step([w], [np.array(grads, dtype=dtype)], [True])
        rtol = 1e-12 if dtype == "float64" else 2e-5
        np.testing.assert_allclose(w, textbook(name, step, wd=weight_decay, **hp), rtol=rtol, atol=rtol)
    assert opt.iterations == len(GRADS)


def test_adam_first_step_worked_example():
    # With bias correction, Adam's first step moves each weight by about lr * sign(g).
    w = np.array([1.0, 1.0])
    opt = Adam(learning_rate=0.1)
    opt.build(nnfast.get_ops("cpu"), [w])
    opt.step([w], [np.array([0.5, -3.0])], [True])
    np.testing.assert_allclose(w, [0.9, 1.1], atol=1e-6)


def test_weight_decay_skips_biases():
    w, b = np.array([1.0]), np.array([1.0])
    opt = SGD(0.1, weight_decay=0.5)
    opt.build(nnfast.get_ops("cpu"), [w, b])
    opt.step([w, b], [np.zeros(1), np.zeros(1)], [True, False])
    assert w[0] == pytest.approx(0.95) and b[0] == 1.0


@pytest.mark.parametrize("bad", [
    lambda: SGD(learning_rate=0), lambda: SGD(momentum=1.0), lambda: SGD(nesterov=True),
    lambda: Adam(beta_1=1.0), lambda: Adam(epsilon=0), lambda: RMSprop(rho=-0.1),
    lambda: Adam(learning_rate="fast"), lambda: get_optimizer("lbfgs"),
])
def test_bad_hyperparameters(bad):
    with pytest.raises((ValueError, TypeError)):
        bad()


def test_config_round_trip():
    from nnfast.optimizers import optimizer_from_config

    for opt in [SGD(0.2, momentum=0.5, nesterov=True), Adam(0.003, beta_2=0.99), RMSprop(), Adagrad(),
                Adadelta(weight_decay=0.1)]:
        again = optimizer_from_config(opt.get_config())
        assert type(again) is type(opt) and again.get_config() == opt.get_config()
