"""The perceptron capacity sweep: nnfast's compiled trials against a numpy loop.

The sweep is the classic exercise, larger: N = 50 inputs, p = 10, 20, ...,
150 random +-1 patterns with random +-1 labels, 20 trials per p, at most
1000 epochs of the online rule in shuffled order per trial.  The baseline is
the textbook implementation: numpy arrays, a Python loop over epochs and,
inside it, over the samples of a fresh permutation.  Both run the whole sweep
(the baseline is not extrapolated from a subset).

nnfast runs the trials on :func:`nnfast.get_num_threads` threads, and once more
on one thread to separate the compiled loop's speed from the parallelism.

Run with ``pytest benchmarks/bench_perceptron.py --benchmark-only``.
"""
import numpy as np
import pytest

from nnfast import get_num_threads
from nnfast.models import perceptron_capacity


def textbook_capacity(n_features, n_patterns, n_trials, max_epochs, seed):
    """Fraction of trials learned for each p, one sample at a time in numpy."""
    rng = np.random.default_rng(seed)
    fractions = []
    for p in n_patterns:
        learned = 0
        for _ in range(n_trials):
            X = rng.choice([-1.0, 1.0], size=(p, n_features))
            t = rng.choice([-1.0, 1.0], size=p)
            w = np.zeros(n_features)
            for _ in range(max_epochs):
                errors = 0
                for i in rng.permutation(p):
                    if t[i] * (w @ X[i]) <= 0:
                        w += t[i] * X[i]
                        errors += 1
                if errors == 0:
                    learned += 1
                    break
        fractions.append(learned / n_trials)
    return np.array(fractions)


@pytest.fixture(scope="module")
def sweep(size):
    n_features = size(50, 10)
    return {
        "n_features": n_features,
        "n_patterns": list(range(n_features // 5, 3 * n_features + 1, n_features // 5)),
        "n_trials": size(20, 3),
        "max_epochs": size(1000, 50),
    }


def _check(fractions, sweep):
    p = np.asarray(sweep["n_patterns"])
    assert np.all(fractions[p <= sweep["n_features"] // 2] == 1.0)
    assert fractions[-1] <= 0.1


@pytest.mark.benchmark(group="perceptron-capacity")
def test_capacity_nnfast(benchmark, sweep):
    benchmark.extra_info.update(threads=get_num_threads(), **sweep)
    result = benchmark.pedantic(perceptron_capacity, kwargs=dict(random_state=0, **sweep),
                                rounds=5, iterations=1, warmup_rounds=1)
    _check(result.fraction_learned, sweep)


@pytest.mark.benchmark(group="perceptron-capacity")
def test_capacity_nnfast_one_thread(benchmark, sweep):
    benchmark.extra_info.update(threads=1, **sweep)
    result = benchmark.pedantic(perceptron_capacity,
                                kwargs=dict(random_state=0, n_jobs=1, **sweep),
                                rounds=5, iterations=1, warmup_rounds=1)
    _check(result.fraction_learned, sweep)


@pytest.mark.benchmark(group="perceptron-capacity")
def test_capacity_numpy_textbook(benchmark, sweep):
    benchmark.extra_info.update(threads=1, **sweep)
    fractions = benchmark.pedantic(textbook_capacity, kwargs=dict(seed=0, **sweep),
                                   rounds=1, iterations=1)
    _check(fractions, sweep)
