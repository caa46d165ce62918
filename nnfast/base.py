"""Conventions shared by every nnfast estimator.

``__init__`` only stores hyperparameters, so :meth:`BaseEstimator.get_params`
and :meth:`BaseEstimator.set_params` can be derived from its signature (this
is what lets ``sklearn.base.clone`` and ``GridSearchCV`` work), and
:meth:`BaseEstimator.__sklearn_tags__` tells scikit-learn what kind of
estimator it has.  Learned state ends in ``_``; ``fit`` returns ``self``.
"""
import inspect

import numpy as np


class BaseEstimator:
    """Base class giving scikit-learn compatible parameter handling and saving."""

    @classmethod
    def _param_names(cls):
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args")
        return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """Return the constructor arguments as a dict.

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn compatibility; nnfast estimators hold no
            nested estimators.

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments; unknown names raise ``ValueError``.

        Returns
        -------
        self
        """
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}; valid parameters are {sorted(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self):
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            same = default is not inspect.Parameter.empty and _equal(value, default)
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        """Describe the estimator to scikit-learn (1.6 or later), which alone calls this.

        The base describes an estimator of no particular kind that takes a
        2-D array of numbers and needs no target; each estimator refines it.
        scikit-learn is imported here, so nnfast itself never needs it.

        Returns
        -------
        sklearn.utils.Tags
        """
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    input_tags=InputTags())

    def _device_ops(self):
        """The ops of this estimator's ``device`` (the current backend when it has none)."""
        from .backend import resolve_ops

        return resolve_ops(getattr(self, "device", None))

    def save(self, path):
        """Write the model to ``path`` (architecture as JSON, weights as arrays; no pickle).

        See :func:`nnfast.save_model`.
        """
        from .io import save_model

        save_model(self, path)


def _equal(a, b):
    try:
        result = a == b
        return bool(np.all(result))
    except Exception:
        return a is b
