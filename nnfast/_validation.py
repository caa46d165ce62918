"""Input checks shared by every public entry point.

Each check runs before any compiled code sees the data and raises a
``ValueError`` or ``TypeError`` that names what was expected.  The messages
also carry the phrases scikit-learn's estimator checks look for, and once a
program has imported scikit-learn, :class:`NotFittedError` and
:class:`DataConversionWarning` are raised as subclasses of its classes of the
same names (see :func:`sklearn_compatible`), so nnfast's estimators behave as
scikit-learn's own do without nnfast depending on it.
"""
import numbers
import sys
import warnings

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


class NotFittedError(ValueError, AttributeError):
    """Raised when a model is used for prediction before it was fitted."""


class DataConversionWarning(UserWarning):
    """Warned when input is accepted in a form other than the one expected."""


#: Subclasses made by sklearn_compatible, by nnfast class.
_COMPATIBLE = {}


def sklearn_compatible(cls):
    """``cls``, or a subclass of it that is also scikit-learn's class of the same name.

    scikit-learn counts as loaded when ``sklearn.exceptions`` is imported: a
    program that has not imported it cannot name its classes in an
    ``except`` clause or a warning filter, so nnfast never imports it.

    Parameters
    ----------
    cls : type
        :class:`NotFittedError` or :class:`DataConversionWarning`.

    Returns
    -------
    type
        The class to raise or warn with.
    """
    theirs = getattr(sys.modules.get("sklearn.exceptions"), cls.__name__, None)
    if theirs is None:
        return cls
    both = _COMPATIBLE.get(cls)
    if both is None or both.__bases__[1] is not theirs:
        both = type(cls.__name__, (cls, theirs), {
            "__module__": cls.__module__, "__doc__": cls.__doc__,
            "__reduce__": _reduce_compatible})
        _COMPATIBLE[cls] = both
    return both


def _reduce_compatible(exc):
    # The class made above cannot be found by name, so a pickled instance is
    # rebuilt through the nnfast class (exceptions cross process boundaries
    # in parallel cross-validation).
    return _rebuild_compatible, (type(exc).__bases__[0], exc.args)


def _rebuild_compatible(cls, args):
    return sklearn_compatible(cls)(*args)


_DLPACK_CPU = 1


def _is_device_array(X):
    """True for an array held by an accelerator (a cupy array, a CUDA tensor), by its DLPack device."""
    if isinstance(X, np.ndarray) or not hasattr(X, "__dlpack_device__"):
        return False
    try:
        return X.__dlpack_device__()[0] != _DLPACK_CPU
    except Exception:  # a library's own refusal to say: treat it as host data
        return False


def host_input(X, name="X", ops=None):
    """``X`` on the host, for checking: a device array only when the model runs on its device.

    Parameters
    ----------
    X : array-like
    name : str
        Name used in error messages.
    ops : Ops or None
        The backend of the model that takes ``X``; None for host-only code.

    Returns
    -------
    array-like
        ``X`` itself, or a host copy of a device array of ``ops``'s array module.
    """
    xp = getattr(ops, "xp", np)
    if xp is not np and isinstance(X, xp.ndarray):
        return ops.to_numpy(X)
    if not _is_device_array(X):
        return X
    kind = type(X).__module__.split(".")[0]
    where = "the numpy ('cpu' or 'numpy') backend" if xp is np else f"the {ops.name!r} backend"
    raise TypeError(f"{name} is a {kind} array held on an accelerator, but this model runs on "
                    f"{where}: pass a numpy copy ({name}.get() for cupy), or make the model with "
                    f"device='gpu' to train and predict on the GPU")


def check_array(X, *, name="X", ndim=2, dtype=np.float32, allow_nan=False,
                min_samples=1, n_features=None, model=None, copy=False, ops=None):
    """Return ``X`` as a C-contiguous floating array, or raise a clear error.

    Parameters
    ----------
    X : array-like
        Input data. Lists, integer and boolean arrays and non-contiguous
        views are converted, not rejected.
    name : str
        Name used in error messages.
    ndim : int or tuple of int
        Accepted numbers of dimensions.
    dtype : numpy dtype or None
        Target floating dtype; float arrays that are already float32 or
        float64 keep their dtype when ``dtype`` is None.
    allow_nan : bool
        Accept NaN and infinite values.
    min_samples : int
        Smallest accepted length of the first axis.
    n_features : int or None
        Required length of the last axis (for 2-D input).
    model : estimator or None
        The fitted model ``n_features`` comes from, named in the error.
    ops : Ops or None
        The backend of the model that takes ``X``: arrays of its device are
        accepted (and copied to the host for checking); any other device
        array is refused with an error that says how to move it.

    Returns
    -------
    ndarray
        C-contiguous array of the requested dtype.
    """
    if X is None:
        raise TypeError(f"{name} must be an array, got None")
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a dense array; call .toarray() on sparse input first")
    arr = np.asarray(host_input(X, name, ops))
    if arr.dtype == object or arr.dtype.kind in "USV":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype} ({exc})") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}: "
                         f"Complex data not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    ndims = (ndim,) if isinstance(ndim, numbers.Integral) else tuple(ndim)
    if arr.ndim not in ndims:
        want = ", ".join(str(d) for d in ndims[:-1]) + (" or " if len(ndims) > 1 else "") + str(ndims[-1])
        shape_hint = " of shape (n_samples, n_features)" if ndims == (2,) else ""
        reshape = ""
        if 2 in ndims and arr.ndim == 1:
            reshape = (f". Reshape your data: {name}.reshape(-1, 1) if it holds a single feature, "
                       f"{name}.reshape(1, -1) if it holds a single sample")
        raise ValueError(f"{name} must be a {want}-D array{shape_hint}, got {arr.ndim}-D with "
                         f"shape {arr.shape}{reshape}")
    if arr.ndim and arr.shape[0] < min_samples:
        raise ValueError(f"{name} must have at least {min_samples} sample(s), got {arr.shape[0]} "
                         f"sample(s) (shape={arr.shape})")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                         f"required: each sample needs at least one value")
    if n_features is not None and arr.ndim >= 2 and arr.shape[-1] != n_features:
        raise ValueError(_feature_count_message(name, arr.shape[-1], n_features, model))
    if dtype is None:
        target = arr.dtype if arr.dtype in FLOAT_DTYPES else np.dtype(np.float32)
    else:
        target = np.dtype(dtype)
    original = arr
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=target)
    if copy and np.shares_memory(arr, X if isinstance(X, np.ndarray) else arr[:0]):
        arr = arr.copy()
    if not allow_nan and arr.size and not _all_finite(arr):
        if original.dtype.kind == "f" and np.isfinite(original).all():
            raise ValueError(f"{name} has values too large for {target.name} "
                             f"(largest magnitude {np.finfo(target).max:.3g})")
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _feature_count_message(name, got, expected, model):
    message = f"{name} has {got} features, but the model expects {expected}"
    if model is not None:
        # The second wording is the one scikit-learn's checks look for.
        message += (f": {name} has {got} features, but {type(model).__name__} is expecting "
                    f"{expected} features as input, the number it was fitted on")
    return message


def check_n_features(model, X, name="X"):
    """Raise unless the 2-D array ``X`` has the ``n_features_in_`` of the fitted ``model``."""
    if X.shape[-1] != model.n_features_in_:
        raise ValueError(_feature_count_message(name, X.shape[-1], model.n_features_in_, model))


def value_range(arr):
    """The smallest and the largest value of a non-empty numeric array, in one pass.

    Both are NaN when ``arr`` holds a NaN; an infinite value is its own
    minimum or maximum, so ``arr`` is finite exactly when both are.
    Contiguous float32 and float64 arrays take one parallel compiled pass
    without a temporary; others go through numpy.

    Returns
    -------
    (float, float)
    """
    if arr.dtype in FLOAT_DTYPES and arr.flags.c_contiguous:
        from ._checks import ordered_range
        from .backend._threads import threads_for
        ints = np.int32 if arr.dtype == np.float32 else np.int64
        # The least and greatest values, as their bits: a NaN, which lies beyond the
        # infinities, comes out as one of them.
        low, high = np.array(ordered_range(arr.reshape(-1).view(ints),
                                           threads_for(arr.size)), ints).view(arr.dtype)
        if np.isnan(low) or np.isnan(high):
            return float("nan"), float("nan")
        return float(low), float(high)
    with np.errstate(invalid="ignore"):
        return float(np.min(arr)), float(np.max(arr))


def _all_finite(arr):
    """Whether every element of the non-empty float array ``arr`` is finite."""
    low, high = value_range(arr)
    return bool(np.isfinite(low) and np.isfinite(high))


def check_consistent_length(X, y, names=("X", "y")):
    """Raise when ``X`` and ``y`` do not have the same number of samples."""
    if len(X) != len(y):
        raise ValueError(
            f"{names[0]} and {names[1]} have different numbers of samples: {len(X)} and {len(y)}")


def check_target_given(y, name="y"):
    """Raise ``ValueError`` when a model that learns from targets is given none."""
    if y is None:
        raise ValueError(f"the model requires {name} to be passed, but the target {name} is None; "
                         f"give one target per sample")


def check_labels(y, *, name="y", column_warning=False):
    """Return class labels as a 1-D array (any dtype), or raise a clear error.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
        Labels of any dtype but complex.  Fractional floats are refused as
        continuous targets when every sample has its own.
    name : str
        Name used in error messages.
    column_warning : bool
        Warn (:class:`DataConversionWarning`) when ``y`` is a column vector
        of shape (n_samples, 1); it is flattened either way.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    check_target_given(y, name)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        if column_warning:
            warnings.warn(sklearn_compatible(DataConversionWarning)(
                f"A column-vector {name} was passed when a 1d array was expected: {name} of shape "
                f"{y.shape} is taken as labels of shape ({y.shape[0]},)"), stacklevel=3)
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels of shape (n_samples,), got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty")
    if y.dtype.kind == "c":
        raise ValueError(f"{name} must hold class labels, got dtype {y.dtype}: Complex data not supported")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        # Fractional labels are fine (2.5 and 7.0 are two classes) unless no
        # two samples share one, which is what continuous targets look like.
        if y.size > 2 and (y != np.round(y)).any() and np.unique(y).size == y.size:
            raise ValueError(
                f"Unknown label type: {name} looks continuous ({y.size} different fractional "
                f"values, one per sample), but a classifier needs class labels that samples "
                f"share; continuous targets call for a regressor")
    return y


def check_positive(value, name, *, integer=False, allow_zero=False):
    """Raise unless ``value`` is a positive (or non-negative) number."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or (not integer and not np.isfinite(value)):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return value


def check_fraction(value, name, *, allow_zero=True, allow_one=False):
    """Raise unless ``value`` is a number in [0, 1) (bounds as requested)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    low_ok = value > 0 or (allow_zero and value == 0)
    high_ok = value < 1 or (allow_one and value == 1)
    if not (low_ok and high_ok):
        lo = "[0" if allow_zero else "(0"
        hi = "1]" if allow_one else "1)"
        raise ValueError(f"{name} must be in {lo}, {hi}, got {value!r}")
    return value


def check_is_fitted(model, attribute):
    """Raise :class:`NotFittedError` unless ``model`` has ``attribute``."""
    if not hasattr(model, attribute):
        raise sklearn_compatible(NotFittedError)(
            f"This {type(model).__name__} is not fitted yet; call fit() before using it")


def check_random_state(seed):
    """Turn ``seed`` (None, int or Generator) into a ``numpy.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, numbers.Integral):
        return np.random.default_rng(seed)
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got {seed!r}")
