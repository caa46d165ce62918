"""The capacity of the perceptron: how many random patterns it can learn.

A perceptron with ``N`` weights and no bias can realise a random labelling
(dichotomy) of ``p`` random patterns only while ``p`` is not much larger than
``2 N``.  Cover's function counting theorem (1965) makes this exact for
points in general position: of the ``2**p`` dichotomies of ``p`` points in
``R**D``, exactly

    C(p, D) = 2 * sum_{k=0}^{D-1} binom(p - 1, k)

are separable by a hyperplane through the origin, so a random one is
separable with probability ``C(p, D) / 2**p``, which is 1 for ``p <= D``,
exactly 1/2 at ``p = 2 D`` and falls to 0 beyond.  A bias adds a constant
input, so a perceptron with a bias has ``D = N + 1``.
"""
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

from .._validation import check_positive
from ..backend import get_num_threads, resolve_ops
from ._perceptron import _seed_from

__all__ = ["CapacityResult", "cover_fraction", "perceptron_capacity"]


def cover_fraction(n_patterns, n_dims):
    """Fraction of dichotomies of ``p`` points that a hyperplane can separate.

    Cover's function counting theorem: for ``p`` points in general position
    in ``R**n_dims``, the fraction of their ``2**p`` labellings that are
    separable by a hyperplane through the origin is

        C(p, D) / 2**p = 2**(1 - p) * sum_{k=0}^{D-1} binom(p - 1, k),

    the probability that a Binomial(p - 1, 1/2) variable is at most
    ``D - 1``.  It is computed as that distribution function, so large ``p``
    neither overflows nor loses precision.  For a perceptron with a bias pass
    ``n_dims = n_features + 1``.

    Parameters
    ----------
    n_patterns : int or array-like of int
        Numbers of points ``p`` (>= 1).
    n_dims : int
        Dimension ``D`` (>= 1).

    Returns
    -------
    float or ndarray of the shape of ``n_patterns``

    Examples
    --------
    >>> from nnfast.models import cover_fraction
    >>> cover_fraction([10, 50, 100, 150], 50).round(3).tolist()
    [1.0, 1.0, 0.5, 0.0]
    """
    check_positive(n_dims, "n_dims", integer=True)
    p = np.asarray(n_patterns)
    if p.dtype.kind not in "iu" or (p.size and p.min() < 1):
        raise ValueError(f"n_patterns must be integers >= 1, got {n_patterns!r}")
    p = p.astype(np.int64)
    out = np.ones(p.shape)
    big = p > n_dims
    # P(Binomial(p - 1, 1/2) <= N - 1), through the regularised incomplete beta function.
    k = n_dims - 1
    out[big] = betainc((p[big] - 1 - k).astype(float), k + 1.0, 0.5)
    return float(out) if out.ndim == 0 else out


@dataclass(repr=False)
class CapacityResult:
    """Outcome of :func:`perceptron_capacity`.

    Attributes
    ----------
    n_features : int
        Dimension N of the patterns.
    n_patterns : ndarray of shape (n_counts,)
        Pattern counts p tried.
    learned : ndarray of shape (n_counts, n_trials), dtype bool
        Whether each trial's perceptron learned all its patterns.
    epochs : ndarray of shape (n_counts, n_trials), dtype int64
        Epochs each trial ran (``max_epochs`` when not learned).
    max_epochs : int
    fit_intercept : bool
        Whether the perceptrons learned a bias.
    shuffle : bool
    random_state : int or None
        The ``random_state`` the experiment was run with, when an int.

    Examples
    --------
    >>> from nnfast.models import perceptron_capacity
    >>> result = perceptron_capacity(n_features=10, n_patterns=[5, 20, 40], n_trials=8)
    >>> print(result)
         p    p/N  learned   Cover   epochs
         5   0.50    1.000   1.000      2.2
        20   2.00    0.500   0.500     76.5
        40   4.00    0.000   0.001        -
    >>> result.table()["alpha"].tolist()
    [0.5, 2.0, 4.0]
    """

    n_features: int
    n_patterns: np.ndarray
    learned: np.ndarray
    epochs: np.ndarray
    max_epochs: int
    fit_intercept: bool
    shuffle: bool
    random_state: object = None

    @property
    def n_trials(self):
        """Trials per pattern count."""
        return self.learned.shape[1]

    @property
    def n_dims(self):
        """Free parameters of the perceptron: N, plus 1 with a bias."""
        return self.n_features + int(self.fit_intercept)

    @property
    def alpha(self):
        """Load ``p / N``: ndarray of shape (n_counts,)."""
        return self.n_patterns / self.n_features

    @property
    def fraction_learned(self):
        """Fraction of trials learned for each p: ndarray of shape (n_counts,)."""
        return self.learned.mean(axis=1)

    @property
    def mean_epochs(self):
        """Mean epochs of the learned trials for each p (NaN where none learned)."""
        n = self.learned.sum(axis=1)
        total = np.where(self.learned, self.epochs, 0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    @property
    def theory(self):
        """Cover's fraction ``C(p, D) / 2**p`` of separable dichotomies, D = :attr:`n_dims`."""
        return cover_fraction(self.n_patterns, self.n_dims)

    def table(self):
        """The results as columns.

        Returns
        -------
        dict of str to ndarray of shape (n_counts,)
            ``"p"``, ``"alpha"`` (p / N), ``"fraction_learned"``,
            ``"mean_epochs"`` (of the learned trials) and ``"cover"``
            (Cover's fraction).
        """
        return {
            "p": self.n_patterns.copy(),
            "alpha": self.alpha,
            "fraction_learned": self.fraction_learned,
            "mean_epochs": self.mean_epochs,
            "cover": self.theory,
        }

    def to_dict(self):
        """Settings and table as plain Python values (JSON-able).

        ``"mean_epochs"`` holds None where no trial was learned.
        """
        columns = {k: v.tolist() for k, v in self.table().items()}
        columns["mean_epochs"] = [None if np.isnan(e) else e for e in columns["mean_epochs"]]
        return {
            "n_features": self.n_features, "n_trials": self.n_trials,
            "max_epochs": self.max_epochs, "fit_intercept": self.fit_intercept,
            "shuffle": self.shuffle, "random_state": self.random_state, **columns,
        }

    def plot(self, path=None, title=None):
        """Draw the fraction learned against p / N with Cover's curve.

        See :func:`nnfast.plotting.plot_capacity`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plotting._perceptron import plot_capacity

        return plot_capacity(self, path=path, title=title)

    def __str__(self):
        lines = [f"{'p':>6} {'p/N':>6} {'learned':>8} {'Cover':>7} {'epochs':>8}"]
        for p, a, f, e, c in zip(*self.table().values()):
            epochs = "-" if np.isnan(e) else f"{e:.1f}"
            lines.append(f"{p:>6d} {a:>6.2f} {f:>8.3f} {c:>7.3f} {epochs:>8}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"CapacityResult(n_features={self.n_features}, "
                f"n_patterns={self.n_patterns.tolist()}, n_trials={self.n_trials}, "
                f"max_epochs={self.max_epochs})")


def perceptron_capacity(n_features=50, n_patterns=range(10, 151, 10), n_trials=20,
                        max_epochs=1000, *, fit_intercept=False, shuffle=True, random_state=0,
                        n_jobs=None, device=None):
    """Measure how often a perceptron learns random labels of random patterns.

    For each pattern count ``p`` and each of ``n_trials`` trials: draw ``p``
    patterns with ``n_features`` independent entries in {-1, +1} and
    independent labels in {-1, +1}, train a perceptron on them from zero
    weights with the online rule, and record whether an epoch without errors
    came within ``max_epochs``.  Trial ``k`` with ``p`` patterns has its own
    random stream (a function of ``random_state``, ``p`` and ``k``), so the
    result does not depend on ``n_jobs`` or on the other pattern counts of the
    sweep, and the same ``random_state`` gives the same result.

    Cover's theorem (:func:`cover_fraction`) gives the probability that such
    a labelling can be learned at all: it falls from 1 to 0 around
    ``p = 2 N`` (``2 (N + 1)`` with a bias).  The measured fraction follows it
    but lies somewhat below it just under ``p = 2 N``: the number of epochs
    the perceptron needs grows without bound as ``p`` approaches capacity,
    so some learnable trials run out of epochs, and +-1 patterns are not
    quite in general position.

    Parameters
    ----------
    n_features : int, default=50
        Dimension N of the patterns (weights of the perceptron).
    n_patterns : int or iterable of int, default=range(10, 151, 10)
        Pattern counts p to try.
    n_trials : int, default=20
        Trials per pattern count.
    max_epochs : int, default=1000
        Most passes over the patterns per trial.
    fit_intercept : bool, default=False
        Also learn a bias (Cover's curve is then drawn for N + 1 dimensions).
        The classic experiment has no bias.
    shuffle : bool, default=True
        Visit the patterns in a new random order every epoch.
    random_state : int, numpy.random.Generator or None, default=0
    n_jobs : int or None, default=None
        Threads to run trials on: None or -1 for
        :func:`nnfast.get_num_threads`.
    device : str or None, default=None
        Backend; the ``"cpu"`` backend runs the trials in parallel in
        compiled code, ``"numpy"`` runs the (slow) reference.

    Returns
    -------
    CapacityResult
        ``result.table()`` has the columns p, p/N, fraction learned, mean
        epochs and Cover's fraction; ``result.plot()`` draws them.

    Examples
    --------
    >>> from nnfast.models import perceptron_capacity
    >>> result = perceptron_capacity(n_features=20, n_patterns=[10, 40, 80], n_trials=10)
    >>> result.fraction_learned.tolist()
    [1.0, 0.4, 0.0]
    >>> result.theory.round(2).tolist()
    [1.0, 0.5, 0.0]
    """
    check_positive(n_features, "n_features", integer=True)
    check_positive(n_trials, "n_trials", integer=True)
    check_positive(max_epochs, "max_epochs", integer=True)
    if isinstance(n_patterns, numbers.Integral):
        n_patterns = [n_patterns]
    counts = np.asarray(list(n_patterns))
    if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind not in "iu" or counts.min() < 1:
        raise ValueError(f"n_patterns must be a positive integer or a non-empty sequence of "
                         f"them, got {n_patterns!r}")
    counts = counts.astype(np.int64)
    if n_jobs is None or n_jobs == -1:
        n_threads = get_num_threads()
    else:
        n_threads = check_positive(n_jobs, "n_jobs", integer=True)
    for name, value in (("fit_intercept", fit_intercept), ("shuffle", shuffle)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    ops = resolve_ops(device)
    learned, epochs = ops.perceptron_capacity(
        int(n_features), counts, int(n_trials), max_epochs=int(max_epochs),
        seed=_seed_from(random_state), fit_intercept=bool(fit_intercept), shuffle=bool(shuffle),
        n_threads=int(n_threads))
    return CapacityResult(
        n_features=int(n_features), n_patterns=counts, learned=np.asarray(learned, dtype=bool),
        epochs=np.asarray(epochs, dtype=np.int64), max_epochs=int(max_epochs),
        fit_intercept=bool(fit_intercept), shuffle=bool(shuffle),
        random_state=int(random_state) if isinstance(random_state, numbers.Integral) else None)
