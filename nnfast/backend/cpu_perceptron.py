"""Compiled perceptron operations (the kernels in ``csrc/_perceptron.pyx``).

Each method has the signature and defaults of the reference method in
:mod:`nnfast.backend.ops_perceptron` that it replaces and gives the same
results; it checks its arguments here, in Python, because the kernels trust
theirs.  The kernels compute in float64: ``X`` and ``t`` are converted, and
``w`` and ``b`` must already be float64 (they are updated in place).
"""
import math
import numbers

import numpy as np

from .ops_perceptron import check_rule

_MAX_PATTERNS = 2**31 - 1


def _kernels():
    from .. import _perceptron

    return _perceptron


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def _check_count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_param(arr, name, shape):
    if not isinstance(arr, np.ndarray) or arr.dtype != np.float64:
        raise TypeError(f"{name} must be a float64 numpy array (it is updated in place), got "
                        f"{type(arr).__name__} of dtype {getattr(arr, 'dtype', None)}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        raise ValueError(f"{name} must be a writeable C-contiguous array")


class CpuPerceptronOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_perceptron.PerceptronOps`."""

    def perceptron_orders(self, n_samples, n_epochs, seed):
        """Compiled :meth:`~nnfast.backend.ops_perceptron.PerceptronOps.perceptron_orders`."""
        n_samples = _check_count(n_samples, "n_samples")
        n_epochs = _check_count(n_epochs, "n_epochs", minimum=0)
        orders = np.empty((n_epochs, n_samples), dtype=np.intp)
        if n_epochs:
            _kernels().epoch_orders(_check_seed(seed), orders)
        return orders

    def perceptron_fit(self, X, t, w, b, lr=1.0, max_epochs=100, rule="online",
                       shuffle=True, seed=0, fit_intercept=True):
        """Compiled :meth:`~nnfast.backend.ops_perceptron.PerceptronOps.perceptron_fit`."""
        check_rule(rule)
        X = np.ascontiguousarray(X, dtype=np.float64)
        t = np.ascontiguousarray(t, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
        n_samples, n_features = X.shape
        if t.shape != (n_samples,):
            raise ValueError(f"t must have shape ({n_samples},), got {t.shape}")
        _check_param(w, "w", (n_features,))
        _check_param(b, "b", (1,))
        max_epochs = _check_count(max_epochs, "max_epochs")
        errors = np.zeros(max_epochs, dtype=np.int64)
        n_epochs = _kernels().train(
            X, t, w, b, float(lr), rule == "batch", bool(shuffle), _check_seed(seed),
            bool(fit_intercept),
            np.empty(n_samples, dtype=np.intp), np.empty(n_features, dtype=np.float64),
            np.empty(n_samples, dtype=np.int8), errors)
        return errors[:n_epochs].copy()

    def perceptron_capacity(self, n_features, n_patterns, n_trials, max_epochs=1000, seed=0,
                            fit_intercept=False, shuffle=True, n_threads=1):
        """Compiled :meth:`~nnfast.backend.ops_perceptron.PerceptronOps.perceptron_capacity`.

        Trials run in parallel on ``n_threads`` threads.
        """
        n_features = _check_count(n_features, "n_features")
        n_trials = _check_count(n_trials, "n_trials")
        max_epochs = _check_count(max_epochs, "max_epochs")
        n_threads = _check_count(n_threads, "n_threads")
        counts = np.ascontiguousarray(n_patterns, dtype=np.int64)
        if counts.ndim != 1 or counts.size == 0:
            raise ValueError(f"n_patterns must be a non-empty 1-D array, got shape {counts.shape}")
        if counts.min() < 1 or counts.max() > _MAX_PATTERNS:
            raise ValueError(f"pattern counts must be in [1, {_MAX_PATTERNS}]")
        max_p = int(counts.max())
        n_inputs = n_features + bool(fit_intercept)
        # The kernel keeps weights and dot products in int32.  Each of the at
        # most U = max_p * max_epochs updates adds a +-1 vector y with
        # w . y <= 0, so |w|^2 <= U * n_inputs and every partial dot product
        # is at most n_inputs * sqrt(U) in magnitude.
        if n_inputs * math.sqrt(max_p * max_epochs) >= 2**31 - 1:
            raise ValueError("n_features * sqrt(max(n_patterns) * max_epochs) must stay below "
                             "2**31 for the exact integer arithmetic of the kernel")
        n_threads = min(n_threads, counts.size * n_trials)
        learned = np.zeros((counts.size, n_trials), dtype=np.int8)
        epochs = np.zeros((counts.size, n_trials), dtype=np.int64)
        _kernels().capacity(
            n_features, counts, max_epochs, _check_seed(seed), bool(fit_intercept),
            bool(shuffle), n_threads,
            np.empty((n_threads, max_p * n_inputs), dtype=np.int32),
            np.empty((n_threads, n_inputs), dtype=np.int32),
            np.empty((n_threads, max_p), dtype=np.intp),
            learned, epochs)
        return learned.astype(bool), epochs
