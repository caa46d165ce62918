"""Principal component analysis by a thin singular value decomposition."""
import numbers

import numpy as np
import scipy.linalg

from .._state_checks import (
    check_array_names, check_keys, read_array, read_float, read_int,
)
from .._validation import check_array, check_is_fitted
from ..base import BaseEstimator
from ..io import register_model


@register_model
class PCA(BaseEstimator):
    """Principal component analysis: the directions of largest variance of centred data.

    ``fit`` centres ``X`` and takes the thin singular value decomposition
    ``X - mean = U S V^T`` (LAPACK's divide-and-conquer ``gesdd`` through
    scipy); the rows of ``V^T`` are the components, in decreasing order of
    the variance they explain.  Each component's sign is fixed so that its
    entry of largest magnitude is positive, so that fits of the same data
    agree.

    Parameters
    ----------
    n_components : int, float or None
        Components to keep: an int in [1, min(n_samples, n_features)]; a
        float in (0, 1), the fewest components whose explained variance
        ratios add up to more than it; None keeps min(n_samples,
        n_features).
    whiten : bool
        Divide the projections by the square root of each component's
        variance, so that they have unit variance on the training data
        (components of zero variance are left unscaled).
        :meth:`inverse_transform` undoes the scaling.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        Unit-length principal axes, one per row.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance of the training data along each component (divided by
        n_samples - 1).
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Fraction of the total variance each component explains.
    singular_values_ : ndarray of shape (n_components_,)
    mean_ : ndarray of shape (n_features,)
    n_components_ : int
    n_samples_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import PCA
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)) @ np.array([[3.0, 0.0], [0.0, 0.5]])
    >>> pca = PCA(n_components=1).fit(X)
    >>> np.round(np.abs(pca.components_), 1)
    array([[1., 0.]])
    >>> bool(pca.explained_variance_ratio_[0] > 0.95)
    True
    >>> pca.transform(X).shape
    (200, 1)
    """

    def __init__(self, n_components=None, whiten=False):
        self.n_components = n_components
        self.whiten = whiten

    def _check_params(self):
        n = self.n_components
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, numbers.Real):
                raise TypeError(f"n_components must be an int, a float in (0, 1) or None, got {n!r}")
            if isinstance(n, numbers.Integral):
                if n < 1:
                    raise ValueError(f"n_components must be at least 1, got {n!r}")
            elif not 0 < n < 1:
                raise ValueError(f"n_components given as a fraction of the variance must be in "
                                 f"(0, 1), got {n!r}")
        if not isinstance(self.whiten, (bool, np.bool_)):
            raise TypeError(f"whiten must be True or False, got {self.whiten!r}")

    # ------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Find the principal components of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            At least 2 samples, finite.
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its projections (from the same decomposition).

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
        """
        U, S = self._fit(X)
        k = self.n_components_
        out = U[:, :k] * S[:k]
        if self.whiten:
            out /= self._scale
        return out

    def _fit(self, X):
        self._check_params()
        X = check_array(X, dtype=np.float64, min_samples=2)
        n, d = X.shape
        rank = min(n, d)
        if isinstance(self.n_components, numbers.Integral) and self.n_components > rank:
            raise ValueError(f"n_components={self.n_components} must be at most min(n_samples, "
                             f"n_features) = {rank} for X of shape {X.shape}")
        mean = X.mean(axis=0)
        U, S, Vt = scipy.linalg.svd(X - mean, full_matrices=False, lapack_driver="gesdd",
                                    check_finite=False)
        # Sign of each component: its entry of largest magnitude is positive.
        signs = np.sign(Vt[np.arange(len(Vt)), np.argmax(np.abs(Vt), axis=1)])
        signs[signs == 0] = 1.0
        U *= signs
        Vt *= signs[:, None]
        variance = S ** 2 / (n - 1)
        total = variance.sum()
        if self.n_components is None:
            k = rank
        elif isinstance(self.n_components, numbers.Integral):
            k = int(self.n_components)
        else:
            ratio = variance / total if total > 0 else np.zeros_like(variance)
            k = min(int(np.searchsorted(np.cumsum(ratio), self.n_components, side="right")) + 1,
                    rank)
        self.components_ = np.ascontiguousarray(Vt[:k])
        self.singular_values_ = S[:k].copy()
        self.explained_variance_ = variance[:k].copy()
        self._total_variance = float(total)
        self.mean_ = mean
        self.n_components_ = k
        self.n_samples_ = n
        self.n_features_in_ = d
        self._set_derived()
        return U, S

    def _set_derived(self):
        total = self._total_variance
        self.explained_variance_ratio_ = (self.explained_variance_ / total if total > 0
                                          else np.zeros_like(self.explained_variance_))
        var = self.explained_variance_
        # A component whose variance is rounding noise of the largest is not scaled.
        flat = var <= var.max(initial=0.0) * np.finfo(np.float64).eps * self.n_features_in_
        self._scale = np.sqrt(np.where(flat, 1.0, var))

    # ---------------------------------------------------------- projecting
    def _check_X(self, X):
        check_is_fitted(self, "components_")
        return check_array(X, dtype=np.float64, n_features=self.n_features_in_, model=self)

    def transform(self, X):
        """Project ``X`` on the components (divided by their standard deviations with ``whiten``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
        """
        X = self._check_X(X)
        out = (X - self.mean_) @ self.components_.T
        if self.whiten:
            out /= self._scale
        return out

    def inverse_transform(self, Z):
        """Map projections back to the input space (the reconstruction from ``n_components_``).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components_)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "components_")
        Z = check_array(Z, name="Z", dtype=np.float64)
        if Z.shape[1] != self.n_components_:
            raise ValueError(f"Z has {Z.shape[1]} columns, but the model has "
                             f"{self.n_components_} components")
        if self.whiten:
            Z = Z * self._scale
        return Z @ self.components_ + self.mean_

    def reconstruction_error(self, X):
        """Mean squared error of reconstructing ``X`` from its projections, per sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Mean over the features of ``(X - inverse_transform(transform(X))) ** 2``.
        """
        X = self._check_X(X)
        centred = X - self.mean_
        residual = centred - (centred @ self.components_.T) @ self.components_
        return np.mean(residual ** 2, axis=1)

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64"])
        return tags

    # -------------------------------------------------------------- saving
    def _get_state(self):
        config = {"params": {"n_components": self.n_components, "whiten": bool(self.whiten)}}
        arrays = {}
        if hasattr(self, "components_"):
            config.update(n_components_=self.n_components_, n_features_in=self.n_features_in_,
                          n_samples=self.n_samples_, total_variance=self._total_variance)
            arrays = {"components": self.components_, "mean": self.mean_,
                      "explained_variance": self.explained_variance_,
                      "singular_values": self.singular_values_}
        return config, arrays

    _FITTED_KEYS = ("n_components_", "n_features_in", "n_samples", "total_variance")

    @classmethod
    def _from_state(cls, config, arrays):
        check_keys(config, "config", ("params",), cls._FITTED_KEYS)
        params = check_keys(config["params"], "config['params']", ("n_components", "whiten"))
        n = params["n_components"]
        if not (n is None or type(n) in (int, float)):
            raise ValueError(f"config['params']['n_components'] must be a number or null, got {n!r}")
        if type(params["whiten"]) is not bool:
            raise ValueError(f"config['params']['whiten'] must be true or false, got "
                             f"{params['whiten']!r}")
        model = cls(**params)
        try:
            model._check_params()
        except TypeError as exc:
            raise ValueError(f"config['params']: {exc}") from None
        names = ("components", "mean", "explained_variance", "singular_values")
        if not any(key in config for key in cls._FITTED_KEYS):
            check_array_names(arrays, ())
            return model
        check_keys(config, "config", ("params",) + cls._FITTED_KEYS)
        check_array_names(arrays, names)
        k = read_int(config, "n_components_", "config", low=1)
        d = read_int(config, "n_features_in", "config", low=1)
        n_samples = read_int(config, "n_samples", "config", low=2)
        if k > min(n_samples, d):
            raise ValueError(f"config['n_components_'] is {k}, more than min(n_samples, "
                             f"n_features_in) = {min(n_samples, d)}")
        if (isinstance(n, int) and n != k) or (n is None and k != min(n_samples, d)):
            raise ValueError(f"config['n_components_'] is {k}, but the parameters ask for "
                             f"{min(n_samples, d) if n is None else n}")
        total = read_float(config, "total_variance", "config", low=0.0)
        sizes = "config['n_components_'] and config['n_features_in']"
        model.components_ = read_array(arrays, "components", shape=(k, d), dtype=np.float64,
                                       finite=True, sizes=sizes)
        model.mean_ = read_array(arrays, "mean", shape=(d,), dtype=np.float64, finite=True,
                                 sizes="config['n_features_in']")
        model.explained_variance_ = read_array(arrays, "explained_variance", shape=(k,),
                                               dtype=np.float64, finite=True,
                                               sizes="config['n_components_']")
        model.singular_values_ = read_array(arrays, "singular_values", shape=(k,),
                                            dtype=np.float64, finite=True,
                                            sizes="config['n_components_']")
        if (model.explained_variance_ < 0).any() or (model.singular_values_ < 0).any():
            raise ValueError("arrays 'explained_variance' and 'singular_values' must not be "
                             "negative")
        model.n_components_, model.n_features_in_, model.n_samples_ = k, d, n_samples
        model._total_variance = float(total)
        model._set_derived()
        return model


__all__ = ["PCA"]
