"""Bernoulli restricted Boltzmann machine trained by contrastive divergence."""
import copy
import math
import numbers
import time
import warnings

import numpy as np

from .._state_checks import (
    check_array_names, check_keys, entry, read_array, read_bool, read_float, read_int, read_list,
    read_str,
)
from .._validation import (
    check_array, check_fraction, check_is_fitted, check_positive, check_random_state,
)
from ..backend import resolve_ops
from ..backend.ops_rbm import MAX_ENUMERATED_UNITS
from ..base import BaseEstimator
from ..io import register_model

__all__ = ["BernoulliRBM", "check_unit_interval"]

_SEED_BOUND = 2**63
#: Visible biases start at logit(mean); means are clipped away from 0 and 1.
_MEAN_CLIP = 1e-3
#: Samples in the tracked pseudo-log-likelihood.
_PLL_SAMPLES = 1000


#: Unsigned integers of the float dtypes' sizes, and the bits of 1.0 in them.
_UNIT_BITS = {np.dtype(np.float32): (np.uint32, 0x3F800000),
              np.dtype(np.float64): (np.uint64, 0x3FF0000000000000)}


def check_unit_interval(X, name="X"):
    """Return ``X``; raise unless it is finite, and warn when it leaves [0, 1].

    The visible units are binary: binary data and probabilities (grey levels
    scaled to [0, 1]) are what the model means.  Other values train and
    transform all the same (as scikit-learn's RBM takes them), with a
    ``UserWarning``, since they are most often unscaled pixels.
    """
    if X.size == 0:
        return X
    bits = _UNIT_BITS.get(X.dtype) if type(X) in (np.ndarray, np.memmap) else None
    if bits is not None and X.view(bits[0]).max() <= bits[1]:
        # Non-negative floats order as their bits, and NaN, infinities and
        # negative numbers (-0.0 too, checked below) have bits above those
        # of 1.0: one pass instead of the two of min and max.
        return X
    lo, hi = X.min(), X.max()
    if lo >= 0 and hi <= 1:  # False for NaN as well
        return X
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ValueError(f"{name} contains NaN or infinite values")
    warnings.warn(
        f"{name} holds values from {lo:g} to {hi:g}; BernoulliRBM's visible units are binary, "
        f"so it means values in [0, 1] (binary data, or probabilities such as grey levels "
        f"divided by 255), and uses these as given", UserWarning, stacklevel=3)
    return X


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@register_model
class BernoulliRBM(BaseEstimator):
    """Restricted Boltzmann machine with binary visible and hidden units.

    Trained by contrastive divergence (CD-k) or persistent contrastive
    divergence (PCD-k) with momentum and L2 weight decay, one sample at a
    time (``batch_size=1``, the classic online rule) or in mini-batches.  On
    the default ``"cpu"`` backend the whole update (the products through
    BLAS, sigmoids fused with Bernoulli sampling, gradient fused with the
    parameter update) runs in compiled code, and so does the loop over the
    batches of an epoch.

    The chain of the negative phase is driven by sampled binary states; the
    statistics use the hidden probabilities (Hinton, "A practical guide to
    training restricted Boltzmann machines", 2010).  Weights start as
    Gaussian noise of standard deviation 0.01, hidden biases at 0 and visible
    biases at ``log(p / (1 - p))`` where ``p`` is the mean of each visible unit
    over the data seen at initialisation (the whole ``X`` of :meth:`fit`, the
    first batch of :meth:`partial_fit`), clipped to [0.001, 0.999]: the model
    starts as the best independent model of the pixels.

    Parameters
    ----------
    n_hidden : int, default=128
        Number of hidden units.
    learning_rate : float, default=0.1
        Step size; gradients are averaged over a batch.
    k : int, default=1
        Gibbs steps of the negative phase (CD-k or PCD-k).
    persistent : bool, default=False
        Persistent contrastive divergence: the negative phase continues a set
        of fantasy chains from update to update instead of starting at the
        data.
    n_chains : int or None, default=None
        Number of fantasy chains for PCD (``batch_size`` when None).  Ignored
        when ``persistent`` is False.
    momentum : float in [0, 1), default=0.0
        ``velocity = momentum * velocity + learning_rate * (gradient - weight_decay * W)``;
        ``parameter += velocity``.
    weight_decay : float, default=0.0
        L2 penalty on the weights (not on the biases).
    batch_size : int, default=10
        Samples per update; 1 gives the classic online rule.
    epochs : int, default=10
        Passes over the data made by :meth:`fit` (0 only initialises).
    shuffle : bool, default=True
        Visit the samples in a new random order each epoch of :meth:`fit`.
    random_state : int, numpy Generator or None, default=None
        Seeds the initial weights, the shuffling and every Gibbs sample, so a
        fixed value gives identical models (on a given backend).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the parameters and of the computations.
    device : str or None, default=None
        Backend ("cpu", "numpy", "gpu"); None uses the current backend.
    verbose : bool, default=False
        Print the reconstruction error and the time of each epoch.
    track_pseudo_likelihood : bool, default=False
        Also record, after each epoch, the mean pseudo-log-likelihood (see
        :meth:`score_samples`) of a fixed subset of at most 1,000 training
        samples, flipping the same units every time.

    Attributes
    ----------
    components_ : ndarray of shape (n_hidden, n_features)
        Weights; row ``j`` is the filter of hidden unit ``j``.
    intercept_visible_ : ndarray of shape (n_features,)
    intercept_hidden_ : ndarray of shape (n_hidden,)
    chains_ : ndarray of shape (n_chains, n_features) or None
        States of the PCD fantasy chains (None for CD).
    n_features_in_ : int
    n_iter_ : int
        Passes over data made so far (epochs of :meth:`fit` plus calls of
        :meth:`partial_fit`).
    n_updates_ : int
        Parameter updates made so far.
    history_ : dict of list
        One entry per pass: ``"reconstruction_error"`` (mean over samples and
        visible units of ``(v - r)**2``, ``r`` the reconstruction made during
        the update, see :meth:`~nnfast.backend.ops_rbm.RBMOps.rbm_cd_update`),
        ``"epoch_time"`` (seconds) and, when tracked, ``"pseudo_likelihood"``.

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast.models import BernoulliRBM
    >>> X = np.array([[0, 0, 1, 1], [1, 1, 0, 0]] * 50, dtype=np.float32)
    >>> rbm = BernoulliRBM(n_hidden=2, learning_rate=0.5, epochs=30, random_state=0).fit(X)
    >>> rbm.transform(X[:2]).shape
    (2, 2)
    >>> bool(rbm.history_["reconstruction_error"][-1] < rbm.history_["reconstruction_error"][0])
    True
    >>> rbm.reconstruct(X[:2]).round()
    array([[0., 0., 1., 1.],
           [1., 1., 0., 0.]], dtype=float32)
    """

    def __init__(self, n_hidden=128, learning_rate=0.1, k=1, persistent=False, n_chains=None,
                 momentum=0.0, weight_decay=0.0, batch_size=10, epochs=10, shuffle=True,
                 random_state=None, dtype="float32", device=None, verbose=False,
                 track_pseudo_likelihood=False):
        self.n_hidden = n_hidden
        self.learning_rate = learning_rate
        self.k = k
        self.persistent = persistent
        self.n_chains = n_chains
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.random_state = random_state
        self.dtype = dtype
        self.device = device
        self.verbose = verbose
        self.track_pseudo_likelihood = track_pseudo_likelihood

    # ------------------------------------------------------------- checks
    def _check_params(self):
        check_positive(self.n_hidden, "n_hidden", integer=True)
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.k, "k", integer=True)
        if self.n_chains is not None:
            check_positive(self.n_chains, "n_chains", integer=True)
        check_fraction(self.momentum, "momentum")
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        check_positive(self.batch_size, "batch_size", integer=True)
        check_positive(self.epochs, "epochs", integer=True, allow_zero=True)
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return resolve_ops(self.device)

    def _check_X(self, X, reset=False):
        """Validate ``X``: 2-D, finite, with the fitted number of features (see :func:`check_unit_interval`)."""
        n_features = None if reset else self.n_features_in_
        X = check_array(X, dtype=self.dtype if reset else self._dtype, allow_nan=True,
                        n_features=n_features, model=self, ops=self._device_ops())
        return check_unit_interval(X)

    def _fitted(self):
        check_is_fitted(self, "components_")

    # -------------------------------------------------------------- setup
    def _initialize(self, X, ops):
        dtype = np.dtype(self.dtype)
        rng = check_random_state(self.random_state)
        n_features = X.shape[1]
        self._seed = int(rng.integers(_SEED_BOUND))
        W = rng.standard_normal((self.n_hidden, n_features)) * 0.01
        # Column means summed in X's dtype: several times faster than in float64
        # and exact for binary data (no BLAS call, whose idle threads would
        # keep spinning on the cores the first epoch needs).
        p = X.sum(axis=0, dtype=X.dtype).astype(np.float64) / X.shape[0]
        p = np.clip(p, _MEAN_CLIP, 1 - _MEAN_CLIP)
        self._ops = ops
        self._dtype = dtype
        self.components_ = ops.asarray(W, dtype=dtype)
        self.intercept_visible_ = ops.asarray(np.log(p / (1 - p)), dtype=dtype)
        self.intercept_hidden_ = ops.alloc((self.n_hidden,), dtype=dtype)
        self._velocity = tuple(ops.alloc(a.shape, dtype=dtype) for a in (
            self.components_, self.intercept_visible_, self.intercept_hidden_))
        self.chains_ = None
        if self.persistent:
            # Start the fantasy chains at binary samples of random training rows.
            n_chains = self.batch_size if self.n_chains is None else self.n_chains
            rows = rng.integers(0, X.shape[0], n_chains)
            chains = (rng.random((n_chains, n_features)) < X[rows]).astype(dtype)
            self.chains_ = ops.asarray(chains, dtype=dtype)
        self.n_features_in_ = n_features
        self.n_iter_ = 0
        self.n_updates_ = 0
        self.history_ = {"reconstruction_error": [], "epoch_time": []}
        if self.track_pseudo_likelihood:
            self.history_["pseudo_likelihood"] = []
        self._workspace = None
        self._sampling_rng = np.random.default_rng([self._seed, 1])

    def _chain_state(self):
        """The fantasy chains to update, (re)made when ``persistent`` or ``n_chains`` changed."""
        if not self.persistent:
            return None
        n_chains = self.batch_size if self.n_chains is None else self.n_chains
        if self.chains_ is None or self.chains_.shape[0] != n_chains:
            rng = self._sampling_rng
            p = 1.0 / (1.0 + np.exp(-self._ops.to_numpy(self.intercept_visible_).astype(np.float64)))
            chains = (rng.random((n_chains, self.n_features_in_)) < p).astype(self._dtype)
            self.chains_ = self._ops.asarray(chains, dtype=self._dtype)
        return self.chains_

    # ----------------------------------------------------------- training
    def fit(self, X, y=None):
        """Train from scratch for ``epochs`` passes over ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Binary data or probabilities, all in [0, 1].
        y : ignored

        Returns
        -------
        self
        """
        ops = self._check_params()
        X = self._check_X(X, reset=True)
        self._initialize(X, ops)
        Xd = ops.asarray(X)
        with ops.kernel_threads():
            for _ in range(self.epochs):
                self._pass(Xd, shuffle=self.shuffle)
        return self

    def partial_fit(self, X, y=None):
        """One pass over ``X`` in the given order, in batches of ``batch_size``.

        The first call initialises the model from ``X``; with
        ``len(X) <= batch_size`` a call is exactly one update.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        ops = self._check_params()
        first = not hasattr(self, "components_")
        X = self._check_X(X, reset=first)
        if first:
            self._initialize(X, ops)
        with ops.kernel_threads():
            self._pass(ops.asarray(X), shuffle=False)
        return self

    def _pass(self, X, shuffle):
        ops = self._ops
        n = X.shape[0]
        if shuffle:
            order = np.random.default_rng([self._seed, 2, self.n_iter_]).permutation(n)
        else:
            order = np.arange(n)
        chains = self._chain_state()
        batch = min(self.batch_size, n)
        n_chains = batch if chains is None else chains.shape[0]
        ws = self._workspace
        if ws is None or ws.get("_key") != (batch, n_chains):
            ws = ops.rbm_workspace(batch, self.n_features_in_, self.n_hidden, n_chains=n_chains,
                                   dtype=self._dtype)
            ws["_key"] = (batch, n_chains)
            self._workspace = ws
        start = time.perf_counter()
        error = ops.rbm_cd_epoch(
            X, order, self.components_, self.intercept_visible_, self.intercept_hidden_,
            float(self.learning_rate), batch_size=int(self.batch_size), k=int(self.k),
            momentum=float(self.momentum), weight_decay=float(self.weight_decay),
            velocity=self._velocity, chain=chains, seed=self._seed, first_step=self.n_updates_,
            workspace=ws)
        elapsed = time.perf_counter() - start
        error = float(ops.to_numpy(error)) / (n * self.n_features_in_)
        if not math.isfinite(error):
            raise FloatingPointError(
                "training diverged (the reconstruction error is not finite); "
                "lower learning_rate or momentum")
        self.n_iter_ += 1
        self.n_updates_ += -(-n // self.batch_size)
        self.history_["reconstruction_error"].append(error)
        self.history_["epoch_time"].append(elapsed)
        if self.track_pseudo_likelihood:
            self.history_.setdefault("pseudo_likelihood", []).append(self._tracked_pll(X))
        if self.verbose:
            extra = (f", pseudo-likelihood {self.history_['pseudo_likelihood'][-1]:.3f}"
                     if self.track_pseudo_likelihood else "")
            print(f"[BernoulliRBM] pass {self.n_iter_}: reconstruction error {error:.5f}"
                  f"{extra}, {elapsed:.2f} s")

    def _tracked_pll(self, X):
        """Mean pseudo-log-likelihood of a fixed subset of ``X``, flipping fixed units.

        The same (at most 1,000) samples and units every epoch, so that the
        curve shows the model changing rather than the draw.
        """
        ops = self._ops
        rng = np.random.default_rng([self._seed, 3, X.shape[0]])
        rows = np.sort(rng.permutation(X.shape[0])[:_PLL_SAMPLES])
        index = rng.integers(0, self.n_features_in_, len(rows))
        pll = ops.rbm_pseudo_likelihood(X[ops.asarray(rows)], *self._params(), ops.asarray(index))
        return float(ops.to_numpy(pll).mean())

    # -------------------------------------------------------------- using
    def _params(self):
        return self.components_, self.intercept_visible_, self.intercept_hidden_

    def _next_seed(self):
        return int(self._sampling_rng.integers(_SEED_BOUND))

    def transform(self, X):
        """Hidden-unit probabilities ``p(h = 1 | v)``: the features the model extracts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_hidden)
        """
        self._fitted()
        X = self._ops.asarray(self._check_X(X))
        W, _, c = self._params()
        with self._ops.kernel_threads():
            return self._ops.to_numpy(self._ops.rbm_hidden_probs(X, W, c))

    def fit_transform(self, X, y=None):
        """:meth:`fit`, then :meth:`transform` of the same data.

        Returns
        -------
        ndarray of shape (n_samples, n_hidden)
        """
        return self.fit(X).transform(X)

    def reconstruct(self, X):
        """One deterministic up-down pass: ``p(v = 1 | h = p(h = 1 | X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Visible probabilities.
        """
        self._fitted()
        ops = self._ops
        X = ops.asarray(self._check_X(X))
        W, b, c = self._params()
        with ops.kernel_threads():
            return ops.to_numpy(ops.rbm_visible_probs(ops.rbm_hidden_probs(X, W, c), W, b))

    def gibbs(self, X, steps=1):
        """Run ``steps`` block-Gibbs steps from each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        steps : int, default=1

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Binary visible states after the last step.
        """
        self._fitted()
        check_positive(steps, "steps", integer=True)
        ops = self._ops
        X = ops.asarray(self._check_X(X))
        with ops.kernel_threads():
            sample, _ = ops.rbm_gibbs(X, *self._params(), steps=int(steps),
                                      seed=self._next_seed())
        return ops.to_numpy(sample)

    def sample(self, n_samples=16, steps=1000, init=None, return_probabilities=False):
        """Draw samples from the model by block-Gibbs sampling.

        Parameters
        ----------
        n_samples : int, default=16
            Number of independent chains.
        steps : int, default=1000
            Gibbs steps per chain.
        init : array-like of shape (n_samples, n_features), optional
            Starting states; by default each unit starts on with probability
            ``sigmoid(intercept_visible_)`` (the model without its hidden units).
        return_probabilities : bool, default=False
            Return ``p(v = 1 | h)`` of the last step instead of the binary
            states (smoother pictures).

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        self._fitted()
        check_positive(steps, "steps", integer=True)
        ops = self._ops
        if init is None:
            check_positive(n_samples, "n_samples", integer=True)
            p = 1.0 / (1.0 + np.exp(-ops.to_numpy(self.intercept_visible_).astype(np.float64)))
            init = (self._sampling_rng.random((n_samples, self.n_features_in_)) < p)
            init = init.astype(self._dtype)
        else:
            init = self._check_X(init)
            if init.shape[0] != n_samples:
                raise ValueError(f"init has {init.shape[0]} rows but n_samples is {n_samples}")
        with ops.kernel_threads():
            sample, prob = ops.rbm_gibbs(ops.asarray(init), *self._params(), steps=int(steps),
                                         seed=self._next_seed())
        return ops.to_numpy(prob if return_probabilities else sample)

    def free_energy(self, X):
        """Free energy ``F(v) = -b . v - sum_j softplus(W_j . v + c_j)``; ``p(v) ∝ exp(-F(v))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) of float64
        """
        self._fitted()
        X = self._ops.asarray(self._check_X(X))
        with self._ops.kernel_threads():
            return self._ops.to_numpy(self._ops.rbm_free_energy(X, *self._params()))

    def score_samples(self, X):
        """Pseudo-log-likelihood of each sample (as in scikit-learn's BernoulliRBM).

        For each sample one visible unit ``i`` is flipped and ``n_features *
        log p(v_i | v_-i)`` is returned, an unbiased estimate of ``sum_i log
        p(v_i | v_-i)``.  Meaningful for binary data.  The unit is chosen by
        a hash of the sample and the model's seed, so a sample scores the
        same whatever else is scored with it, and in any order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) of float64
        """
        self._fitted()
        ops = self._ops
        X = self._check_X(X)
        index = self._flipped_units(X)
        with ops.kernel_threads():
            return ops.to_numpy(ops.rbm_pseudo_likelihood(
                ops.asarray(X), *self._params(), ops.asarray(index)))

    def _flipped_units(self, X):
        """The unit :meth:`score_samples` flips in each row of ``X``: a hash of the row, mod n_features.

        Each row's bits, weighted by odd 64-bit numbers drawn from the
        model's seed and summed modulo 2**64, then mixed; a pass over ``X``.
        """
        n, d = X.shape
        weights = np.random.default_rng([self._seed, 5]).integers(
            0, 2**63, d, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        bits = np.ascontiguousarray(X).view(np.uint32 if X.dtype.itemsize == 4 else np.uint64)
        h = bits.astype(np.uint64, copy=False) @ weights
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
        return (h % np.uint64(d)).astype(np.intp)

    def score(self, X, y=None):
        """Mean pseudo-log-likelihood of ``X``: higher is better (for model selection).

        The mean of :meth:`score_samples`: the same model scores the same
        data the same way every time, and scoring changes nothing in the
        model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        float
        """
        return float(self.score_samples(X).mean())

    def log_partition(self):
        """Exact log partition function ``log Z``, by enumeration.

        Enumerates the ``2**min(n_features, n_hidden)`` states of the smaller
        layer, so it is only available for small models.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            When both layers have more than 24 units.
        """
        self._fitted()
        if min(self.n_hidden, self.n_features_in_) > MAX_ENUMERATED_UNITS:
            raise ValueError(
                f"log_partition enumerates 2**min(n_features, n_hidden) states; both layers "
                f"have more than {MAX_ENUMERATED_UNITS} units here")
        return self._ops.rbm_log_partition(*self._params())

    def log_likelihood(self, X):
        """Exact ``log p(v) = -F(v) - log Z`` of each sample (small models only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) of float64
        """
        log_z = self.log_partition()
        return -self.free_energy(X) - log_z

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        # transform returns the model's dtype, whatever the dtype of X.
        tags.transformer_tags = TransformerTags(preserves_dtype=[np.dtype(self.dtype).name])
        return tags

    # ------------------------------------------------------------- saving
    def _get_state(self):
        params = self.get_params()
        if not (params["device"] is None or isinstance(params["device"], str)):
            params["device"] = None
        if not (params["random_state"] is None or _is_int(params["random_state"])):
            params["random_state"] = None
        params["dtype"] = np.dtype(params["dtype"]).name
        config = {"params": params}
        arrays = {}
        if hasattr(self, "components_"):
            to_np = self._ops.to_numpy
            config.update(n_features_in=self.n_features_in_, n_iter=self.n_iter_,
                          n_updates=self.n_updates_, seed=self._seed,
                          history={k: list(v) for k, v in self.history_.items()})
            arrays = {
                "components": to_np(self.components_),
                "intercept_visible": to_np(self.intercept_visible_),
                "intercept_hidden": to_np(self.intercept_hidden_),
                "velocity/components": to_np(self._velocity[0]),
                "velocity/intercept_visible": to_np(self._velocity[1]),
                "velocity/intercept_hidden": to_np(self._velocity[2]),
            }
            chains = _chains_to_save(self)
            if chains is not None:
                arrays["chains"] = to_np(chains)
        return config, arrays

    @classmethod
    def _from_state(cls, config, arrays):
        params, state = _read_state(config, arrays)
        model = cls(**params)
        if state is None:
            return model
        ops = resolve_ops(model.device)
        dtype = np.dtype(model.dtype)
        model._ops = ops
        model._dtype = dtype
        model.components_, model.intercept_visible_, model.intercept_hidden_ = (
            ops.asarray(a, dtype=dtype) for a in state["params"])
        model._velocity = tuple(ops.asarray(a, dtype=dtype) for a in state["velocity"])
        chains = state["chains"]
        model.chains_ = None if chains is None else ops.asarray(chains, dtype=dtype)
        model.n_features_in_ = state["n_features_in"]
        model.n_iter_ = state["n_iter"]
        model.n_updates_ = state["n_updates"]
        model._seed = state["seed"]
        model.history_ = state["history"]
        model._workspace = None
        model._sampling_rng = np.random.default_rng([model._seed, 1])
        return model


# --------------------------------------------------------------------------
# Saved states
# --------------------------------------------------------------------------

def _chains_to_save(model):
    """The fantasy chains a file stores: those the model's next pass would run.

    With ``persistent`` on, a pass draws new chains from the model's sampling
    stream when ``chains_`` is missing or has another number of rows than
    ``n_chains`` (or ``batch_size``) asks for, as after ``set_params``.  Those
    chains are drawn here from a copy of the stream, which leaves the model
    untouched and gives the chains its own next pass will draw: the file then
    holds every chain a loaded model runs, so the loader can check their
    number against the config instead of allocating whatever it says.
    """
    if not model.persistent:
        return model.chains_
    n_chains = model.batch_size if model.n_chains is None else model.n_chains
    if not (_is_int(n_chains) and n_chains > 0):
        return model.chains_  # invalid parameters: the loader reports them
    twin = copy.copy(model)
    twin._sampling_rng = copy.deepcopy(model._sampling_rng)
    return twin._chain_state()


_PARAM_KEYS = ("n_hidden", "learning_rate", "k", "persistent", "n_chains", "momentum",
               "weight_decay", "batch_size", "epochs", "shuffle", "random_state", "dtype",
               "device", "verbose", "track_pseudo_likelihood")
_FITTED_KEYS = ("n_features_in", "n_iter", "n_updates", "seed", "history")
_PARAM_ARRAYS = ("components", "intercept_visible", "intercept_hidden")


def _read_state(config, arrays):
    """Check a saved :class:`BernoulliRBM` state before anything is built from it.

    Every size the model would allocate from, now or in a later
    ``partial_fit``, ``transform`` or ``sample``, is compared with the stored
    arrays: ``n_hidden`` and ``n_features_in`` with ``components``, the number
    of fantasy chains with ``chains``.  Training hyperparameters that only
    take effect together with new data (``batch_size`` without PCD,
    ``epochs``, ``k``) are checked for type and range.

    Parameters
    ----------
    config : dict
        The decoded JSON config written by ``BernoulliRBM._get_state``.
    arrays : dict of str to ndarray
        The stored arrays.

    Returns
    -------
    params : dict
        Keyword arguments of :class:`BernoulliRBM`.
    state : dict or None
        None for an unfitted model; otherwise ``params`` (components,
        visible and hidden intercepts), ``velocity`` (their three velocity
        arrays), ``chains`` (ndarray of shape (n_chains, n_features) or
        None), ``n_features_in``, ``n_iter``, ``n_updates``, ``seed`` and
        ``history``.

    Raises
    ------
    ValueError
        Naming the first entry of the wrong type, out of range, or
        disagreeing with the stored arrays.
    """
    check_keys(config, "config", ("params",), _FITTED_KEYS)
    where = "config['params']"
    p = check_keys(config["params"], where, _PARAM_KEYS)
    params = {
        "n_hidden": read_int(p, "n_hidden", where, low=1),
        "learning_rate": read_float(p, "learning_rate", where, low=0, low_open=True),
        "k": read_int(p, "k", where, low=1),
        "persistent": read_bool(p, "persistent", where),
        "n_chains": read_int(p, "n_chains", where, low=1, allow_none=True),
        "momentum": read_float(p, "momentum", where, low=0, high=1, high_open=True),
        "weight_decay": read_float(p, "weight_decay", where, low=0),
        "batch_size": read_int(p, "batch_size", where, low=1),
        "epochs": read_int(p, "epochs", where, low=0),
        "shuffle": read_bool(p, "shuffle", where),
        "random_state": read_int(p, "random_state", where, high=math.inf, allow_none=True),
        "dtype": read_str(p, "dtype", where, choices=("float32", "float64")),
        "device": read_str(p, "device", where, allow_none=True),
        # Verbosity is tested for truth only; sklearn-style integer levels are fine.
        "verbose": (p["verbose"] if type(p["verbose"]) is bool
                    else read_int(p, "verbose", where)),
        "track_pseudo_likelihood": read_bool(p, "track_pseudo_likelihood", where),
    }
    if not any(key in config for key in _FITTED_KEYS):
        check_array_names(arrays, ())
        return params, None
    check_keys(config, "config", ("params",) + _FITTED_KEYS)
    check_array_names(arrays, _PARAM_ARRAYS + tuple(f"velocity/{n}" for n in _PARAM_ARRAYS),
                      ("chains",))
    n_hidden = params["n_hidden"]
    n_features = read_int(config, "n_features_in", "config", low=1)
    dtype = params["dtype"]
    shapes = {
        "components": ((n_hidden, n_features),
                       "config['params']['n_hidden'] and config['n_features_in']"),
        "intercept_visible": ((n_features,), "config['n_features_in']"),
        "intercept_hidden": ((n_hidden,), "config['params']['n_hidden']"),
    }
    weights = tuple(read_array(arrays, name, shape=shapes[name][0], dtype=dtype, finite=True,
                               sizes=shapes[name][1]) for name in _PARAM_ARRAYS)
    velocity = tuple(read_array(arrays, f"velocity/{name}", shape=shapes[name][0], dtype=dtype,
                                finite=True, sizes=shapes[name][1]) for name in _PARAM_ARRAYS)
    if params["persistent"]:
        if params["n_chains"] is None:
            n_chains, source = params["batch_size"], "config['params']['batch_size']"
        else:
            n_chains, source = params["n_chains"], "config['params']['n_chains']"
        if "chains" not in arrays:
            raise ValueError(f"the file lacks the array 'chains' of the {n_chains} fantasy "
                             f"chains ({source}) that persistent=True runs")
        chains = read_array(arrays, "chains", shape=(n_chains, n_features), dtype=dtype,
                            sizes=f"{source} and config['n_features_in']")
    elif "chains" in arrays:
        chains = read_array(arrays, "chains", shape=(None, n_features), dtype=dtype,
                            sizes="config['n_features_in']")
        if not chains.shape[0]:
            raise ValueError("array 'chains' holds no chain")
    else:
        chains = None
    if chains is not None and not ((chains == 0) | (chains == 1)).all():
        raise ValueError("array 'chains' must hold binary unit states (0 and 1)")
    n_iter = read_int(config, "n_iter", "config")
    state = {
        "params": weights,
        "velocity": velocity,
        "chains": chains,
        "n_features_in": n_features,
        "n_iter": n_iter,
        "n_updates": read_int(config, "n_updates", "config"),
        "seed": read_int(config, "seed", "config", high=_SEED_BOUND - 1),
        "history": _read_history(config, n_iter),
    }
    return params, state


def _read_history(config, n_iter):
    """The training history of a saved state: one value per pass for each record."""
    where = "config['history']"
    history = check_keys(config["history"], where, ("reconstruction_error", "epoch_time"),
                         ("pseudo_likelihood",))
    out = {}
    for key, values in history.items():
        # Pseudo-likelihoods are recorded only for the passes made while tracked.
        values = read_list(history, key, where, **(
            {"max_length": n_iter} if key == "pseudo_likelihood" else {"length": n_iter}))
        name = entry(where, key)
        if key == "pseudo_likelihood":  # a log-probability: at most 0, possibly -inf
            out[key] = [float(read_float(values, i, name, high=0, finite=False))
                        for i in range(len(values))]
        else:
            out[key] = [float(read_float(values, i, name, low=0)) for i in range(len(values))]
    return out
