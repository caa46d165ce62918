"""Reference perceptron operations: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy (on cupy
it runs, one sample at a time, slowly).  The compiled
:class:`~nnfast.backend.cpu_perceptron.CpuPerceptronOps` overrides every
method here and is tested against it: given the same arguments both give the
same weights, bit for bit.

Random streams
--------------
Shuffled sample orders and the random patterns of the capacity experiment
come from xoshiro256** streams seeded through splitmix64, the generator the
compiled kernels use.  :class:`Xoshiro256` replays those streams in Python,
which is what lets the reference and the kernels visit samples in exactly the
same order.
"""
import numpy

from ._base import BaseOps

PERCEPTRON_RULES = ("online", "batch")

_MASK64 = (1 << 64) - 1


def check_rule(rule):
    """Raise ``ValueError`` unless ``rule`` is a known perceptron rule."""
    if rule not in PERCEPTRON_RULES:
        raise ValueError(f"unknown perceptron rule {rule!r}; expected one of {PERCEPTRON_RULES}")
    return rule


def _splitmix64(state):
    """One splitmix64 step: return ``(new_state, output)``."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & _MASK64


class Xoshiro256:
    """The xoshiro256** generator of the compiled kernels, in pure Python.

    Seeded from ``(seed, stream)`` exactly as ``rng_seed`` in
    ``csrc/_rng.pxd``, it produces the same 64-bit words as the kernels, and
    the same bounded integers and shuffles as the perceptron kernels
    (``csrc/_perceptron.pyx``).

    Parameters
    ----------
    seed : int
        Seed in [0, 2**64).
    stream : int, default=0
        Stream number in [0, 2**64); streams of one seed are independent.

    Examples
    --------
    >>> from nnfast.backend.ops_perceptron import Xoshiro256
    >>> order = list(range(5))
    >>> Xoshiro256(seed=7).shuffle(order)
    >>> sorted(order)
    [0, 1, 2, 3, 4]
    """

    def __init__(self, seed, stream=0):
        seed = int(seed) & _MASK64
        stream = int(stream) & _MASK64
        x = seed ^ ((stream * 0xD1B54A32D192ED03) & _MASK64)
        x, z = _splitmix64(x)
        x = z ^ stream
        state = []
        for _ in range(4):
            x, z = _splitmix64(x)
            state.append(z)
        self._s = state

    def next(self):
        """Return the next 64-bit word as a Python int."""
        s0, s1, s2, s3 = self._s
        result = (_rotl((s1 * 5) & _MASK64, 7) * 9) & _MASK64
        t = (s1 << 17) & _MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self._s = [s0, s1, s2, s3]
        return result

    def below(self, n):
        """Uniform integer in [0, n) without bias, drawn as the kernels draw it.

        Below 2**32 the top 32 bits of a word are multiplied by ``n`` and the
        high half of the product is kept (Lemire's method, rejecting the few
        products that would bias it); larger bounds reject words above the
        last multiple of ``n`` and reduce modulo ``n``.
        """
        if n <= 1:
            return 0
        if n >= 1 << 32:
            threshold = (-n) % n  # (2**64 - n) mod n
            while True:
                x = self.next()
                if x >= threshold:
                    return x % n
        m = (self.next() >> 32) * n
        if m & 0xFFFFFFFF < n:
            threshold = ((1 << 32) - n) % n
            while m & 0xFFFFFFFF < threshold:
                m = (self.next() >> 32) * n
        return m >> 32

    def shuffle(self, seq):
        """Fisher-Yates shuffle of the mutable sequence ``seq`` in place."""
        for i in range(len(seq) - 1, 0, -1):
            j = self.below(i + 1)
            seq[i], seq[j] = seq[j], seq[i]

    def signs(self, n):
        """``n`` values in {-1, +1} as an int64 ndarray of shape (n,).

        Bits are taken from successive words, least significant first; a set
        bit is +1.
        """
        n_words = -(-n // 64)
        words = numpy.array([self.next() for _ in range(n_words)], dtype="<u8")
        bits = numpy.unpackbits(words.view(numpy.uint8), bitorder="little")[:n]
        return bits.astype(numpy.int64) * 2 - 1


def capacity_stream(n_patterns, trial):
    """Stream number of trial ``trial`` with ``n_patterns`` patterns."""
    return (int(n_patterns) << 32) | int(trial)


class PerceptronOps(BaseOps):
    """Rosenblatt's perceptron rule and the capacity experiment."""

    def perceptron_orders(self, n_samples, n_epochs, seed):
        """Sample orders of the first ``n_epochs`` epochs of a shuffled online run.

        The index array starts as ``0, ..., n_samples - 1`` and is shuffled in
        place at the start of every epoch by stream ``(seed, 0)``.

        Parameters
        ----------
        n_samples, n_epochs : int
        seed : int
            Seed in [0, 2**64).

        Returns
        -------
        ndarray of shape (n_epochs, n_samples), dtype intp
            Row ``e`` lists the samples in the order epoch ``e`` visits them.
        """
        rng = Xoshiro256(seed, 0)
        order = list(range(n_samples))
        orders = numpy.empty((n_epochs, n_samples), dtype=numpy.intp)
        for epoch in range(n_epochs):
            rng.shuffle(order)
            orders[epoch] = order
        return orders

    def perceptron_fit(self, X, t, w, b, lr=1.0, max_epochs=100, rule="online",
                       shuffle=True, seed=0, fit_intercept=True):
        """Train a perceptron in place until an epoch makes no error.

        A sample is an *error* when ``t_i * (w . x_i + b) <= 0`` (so zero
        weights get everything wrong); it then moves the weights by
        ``w += lr * t_i * x_i`` and ``b += lr * t_i``.

        The ``"online"`` rule applies each update as soon as its sample is
        seen, visiting the samples in order ``0, ..., n_samples - 1``, or in
        the orders of :meth:`perceptron_orders` when ``shuffle`` is true.  The
        ``"batch"`` rule finds every error under the weights held at the start
        of the epoch and then applies all their updates (in sample order);
        ``shuffle`` does not change it.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Converted to the dtype of ``w``.
        t : ndarray of shape (n_samples,)
            Targets in {-1, +1}.
        w : ndarray of shape (n_features,)
            Initial weights, updated in place.
        b : ndarray of shape (1,)
            Initial bias, updated in place (left alone unless
            ``fit_intercept``).
        lr : float
            Learning rate.
        max_epochs : int
            Most passes over the data.
        rule : {'online', 'batch'}
        shuffle : bool
            Visit the samples in a new random order every epoch (online rule).
        seed : int
            Seed in [0, 2**64) of the shuffling stream.
        fit_intercept : bool
            Learn the bias.

        Returns
        -------
        ndarray of shape (n_epochs,), dtype int64
            Errors made in each epoch.  Training stops after the first epoch
            without errors, or after ``max_epochs``.
        """
        xp = self.xp
        check_rule(rule)
        X = xp.asarray(X, dtype=w.dtype)
        t = xp.asarray(t, dtype=w.dtype)
        n_samples = X.shape[0]
        order = list(range(n_samples))
        rng = Xoshiro256(seed, 0)
        errors = []
        for _ in range(max_epochs):
            if rule == "online":
                if shuffle:
                    rng.shuffle(order)
                # Branch-free, so that a device never waits for a decision:
                # a sample that is right moves the weights by zero.
                wrong_count = xp.zeros((), dtype=xp.int64)
                for i in order:
                    wrong = t[i] * (X[i] @ w + b[0]) <= 0
                    step = (lr * t[i]) * wrong
                    w += step * X[i]
                    if fit_intercept:
                        b += step
                    wrong_count += wrong
                n_errors = int(self.to_numpy(wrong_count))
            else:
                wrong = self.to_numpy(t * (X @ w + b[0]) <= 0)
                for i in numpy.flatnonzero(wrong):
                    w += lr * t[i] * X[i]
                    if fit_intercept:
                        b += lr * t[i]
                n_errors = int(wrong.sum())
            errors.append(n_errors)
            if n_errors == 0:
                break
        return numpy.asarray(errors, dtype=numpy.int64)

    def perceptron_capacity(self, n_features, n_patterns, n_trials, max_epochs=1000, seed=0,
                            fit_intercept=False, shuffle=True, n_threads=1):
        """Train perceptrons on random dichotomies of random +-1 patterns.

        Trial ``k`` with ``p`` patterns draws, from stream
        ``(seed, p * 2**32 + k)`` (see :class:`Xoshiro256`), ``p`` patterns of
        ``n_features`` entries in {-1, +1} (row by row) and then ``p`` labels
        in {-1, +1}, and runs the online rule from zero weights (learning rate
        1, which is no loss: from zero weights the rule makes the same
        decisions at every learning rate), shuffled by the same stream when
        ``shuffle``, until an epoch makes no error or ``max_epochs``.

        Parameters
        ----------
        n_features : int
            Dimension N of the patterns.
        n_patterns : ndarray of shape (n_counts,), dtype int64
            Pattern counts p to try, each in [1, 2**31).
        n_trials : int
            Trials per pattern count.
        max_epochs : int
        seed : int
            Seed in [0, 2**64).
        fit_intercept : bool
            Learn a bias as well as the N weights.
        shuffle : bool
            Visit the patterns in a new random order every epoch.
        n_threads : int
            Threads to run trials on (results do not depend on it).

        Returns
        -------
        learned : ndarray of shape (n_counts, n_trials), dtype bool
            Whether the trial ended with an epoch without errors.
        epochs : ndarray of shape (n_counts, n_trials), dtype int64
            Epochs run (including the error-free one when learned).
        """
        xp = self.xp
        n_patterns = numpy.asarray(n_patterns, dtype=numpy.int64)
        learned = numpy.zeros((len(n_patterns), n_trials), dtype=bool)
        epochs = numpy.zeros((len(n_patterns), n_trials), dtype=numpy.int64)
        for c, p in enumerate(n_patterns.tolist()):
            for k in range(n_trials):
                rng = Xoshiro256(seed, capacity_stream(p, k))
                signs = rng.signs(p * n_features + p)
                patterns = signs[:p * n_features].reshape(p, n_features)
                labels = signs[p * n_features:]
                if fit_intercept:
                    patterns = numpy.hstack([patterns, numpy.ones((p, 1), dtype=numpy.int64)])
                # Each pattern times its label: an error is then y_i . w <= 0.
                y = xp.asarray(patterns * labels[:, None])
                w = xp.zeros(y.shape[1], dtype=xp.int64)
                order = list(range(p))
                for epoch in range(1, max_epochs + 1):
                    if shuffle:
                        rng.shuffle(order)
                    wrong_count = xp.zeros((), dtype=xp.int64)
                    for i in order:
                        wrong = (y[i] @ w <= 0).astype(xp.int64)
                        w += y[i] * wrong
                        wrong_count += wrong
                    if int(self.to_numpy(wrong_count)) == 0:
                        learned[c, k] = True
                        break
                epochs[c, k] = epoch
        return learned, epochs
