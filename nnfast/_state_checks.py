"""Checks of a saved model state before a model is rebuilt from it.

A model file's config is JSON written by ``_get_state``; a damaged or forged
file may hold any JSON value in its place.  ``_from_state`` methods read every
config value through these functions and compare every size with the arrays
actually stored, so that a value of the wrong type, out of range, or
disagreeing with the stored arrays is reported by name before anything is
built or allocated from it.  Each check raises ``ValueError`` naming the
offending entry, such as ``config['params']['n_hidden']``;
:func:`nnfast.io.load_model` turns it into a ``ModelFileError``.

Every function works on what JSON decodes to (dict, list, str, int, float,
bool, None), so the checks are exact: ``True`` is not an integer here, and
neither is ``3.0``.
"""
import math
import re

import numpy as np

INT64_MAX = 2**63 - 1
"""Largest value any count or seed read from a file may take."""

#: Class label dtypes a file may name: bool, integers, floats, strings.
_LABEL_DTYPE = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248]|U[0-9]{1,9})")
#: Widest string dtype a file may give its labels beyond the longest of them, in
#: characters; any wider would make a few labels allocate more than the file holds.
_SPARE_LABEL_WIDTH = 4096


def describe(value, limit=40):
    """``repr(value)`` cut to ``limit`` characters, followed by its type name."""
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


def entry(where, key):
    """Name of ``key`` inside the entry named ``where``: ``where[key]``."""
    return f"{where}[{key!r}]"


def check_keys(mapping, where, required, optional=()):
    """Raise unless ``mapping`` is a dict holding every required key and no others.

    Parameters
    ----------
    mapping : object
        The decoded JSON value.
    where : str
        Its name in messages, such as ``"config"``.
    required, optional : iterable of str
        Keys that must be present, and keys that may be.

    Returns
    -------
    dict
        ``mapping``.
    """
    if type(mapping) is not dict:
        raise ValueError(f"{where} must be a JSON object, got {describe(mapping)}")
    missing = [key for key in required if key not in mapping]
    if missing:
        raise ValueError(f"{where} lacks the key {missing[0]!r}")
    known = set(required) | set(optional)
    unknown = sorted(key for key in mapping if key not in known)
    if unknown:
        raise ValueError(f"{where} has the unexpected key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}")
    return mapping


def read_int(mapping, key, where, *, low=0, high=INT64_MAX, allow_none=False):
    """Return ``mapping[key]``, an integer in ``[low, high]`` (or None when allowed)."""
    value = mapping[key]
    if value is None and allow_none:
        return None
    name = entry(where, key)
    if type(value) is not int:
        expected = "an integer or null" if allow_none else "an integer"
        raise ValueError(f"{name} must be {expected}, got {describe(value)}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def read_float(mapping, key, where, *, low=-math.inf, high=math.inf, low_open=False,
               high_open=False, finite=True):
    """Return ``mapping[key]``, a number checked against the given bounds.

    Integers are accepted and returned unchanged (a user may have given
    ``learning_rate=1``); booleans and NaN are not; infinities only when
    ``finite`` is False.
    """
    value = mapping[key]
    name = entry(where, key)
    if type(value) not in (int, float):
        raise ValueError(f"{name} must be a number, got {describe(value)}")
    number = float(value)
    if math.isnan(number) or (finite and math.isinf(number)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def read_bool(mapping, key, where):
    """Return ``mapping[key]``, which must be ``true`` or ``false``."""
    value = mapping[key]
    if type(value) is not bool:
        raise ValueError(f"{entry(where, key)} must be true or false, got {describe(value)}")
    return value


def read_str(mapping, key, where, *, choices=None, allow_none=False):
    """Return ``mapping[key]``, a string (one of ``choices`` when given) or None when allowed."""
    value = mapping[key]
    if value is None and allow_none:
        return None
    name = entry(where, key)
    if type(value) is not str:
        expected = "a string or null" if allow_none else "a string"
        raise ValueError(f"{name} must be {expected}, got {describe(value)}")
    if choices is not None and value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {describe(value)}")
    return value


def read_list(mapping, key, where, *, length=None, max_length=None):
    """Return ``mapping[key]``, a list of exactly ``length`` (or at most ``max_length``) items."""
    value = mapping[key]
    name = entry(where, key)
    if type(value) is not list:
        raise ValueError(f"{name} must be a JSON array, got {describe(value)}")
    if length is not None and len(value) != length:
        raise ValueError(f"{name} must have {length} items, got {len(value)}")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{name} must have at most {max_length} items, got {len(value)}")
    return value


def check_array_names(arrays, required, optional=()):
    """Raise unless the stored arrays are exactly ``required`` plus some of ``optional``."""
    missing = [name for name in required if name not in arrays]
    if missing:
        raise ValueError(f"the file lacks the array {missing[0]!r}")
    known = set(required) | set(optional)
    unknown = sorted(name for name in arrays if name not in known)
    if unknown:
        raise ValueError(f"the file holds the unexpected array{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}")


def read_array(arrays, name, *, shape, dtype, finite=False, sizes=""):
    """Return the stored array ``name`` after checking its dtype, shape and values.

    Parameters
    ----------
    arrays : dict of str to ndarray
        The arrays read from the file.
    name : str
        The array to check.
    shape : tuple of int
        The shape the config implies; ``None`` in a position accepts any size
        there (only the number of dimensions is checked).
    dtype : numpy dtype or str
        The exact dtype required.
    finite : bool, default=False
        Also require every value to be finite.
    sizes : str
        Which config entries gave ``shape``, for the message.

    Returns
    -------
    ndarray
        The stored array itself (no copy).
    """
    arr = arrays[name]
    dtype = np.dtype(dtype)
    if arr.dtype != dtype:
        raise ValueError(f"array {name!r} has dtype {arr.dtype}, expected {dtype}")
    fits = arr.ndim == len(shape) and all(
        want is None or have == want for have, want in zip(arr.shape, shape))
    if not fits:
        wanted = "(" + ", ".join("any" if n is None else str(n) for n in shape) \
                 + ("," if len(shape) == 1 else "") + ")"
        because = f" from {sizes}" if sizes else ""
        raise ValueError(f"array {name!r} has shape {arr.shape}, but the config gives "
                         f"{wanted}{because}")
    if finite and arr.size and not np.isfinite(arr).all():
        raise ValueError(f"array {name!r} holds NaN or infinite values")
    return arr


def read_labels(mapping, key, dtype_key, where, *, length=None):
    """Return class labels ``mapping[key]`` as an array of the dtype named by ``mapping[dtype_key]``.

    The labels must be JSON values of that dtype, strictly increasing (as
    ``np.unique`` leaves them), ``length`` of them when given; a string dtype
    may be no wider than the longest label plus a little, so that a file
    cannot make a few labels take more memory than the file holds.
    """
    text = read_str(mapping, dtype_key, where)
    form = _LABEL_DTYPE.fullmatch(text)
    if not form:
        raise ValueError(f"{entry(where, dtype_key)} must name a bool, integer, floating or "
                         f"string dtype such as '<i8' or '<U4', got {describe(text)}")
    kind = form.group(1)[0]
    labels = read_list(mapping, key, where, length=length)
    if not labels:
        raise ValueError(f"{entry(where, key)} holds no labels")
    accepts = {
        "b": lambda v: type(v) is bool,
        "i": lambda v: type(v) is int,
        "u": lambda v: type(v) is int,
        "f": lambda v: type(v) in (int, float) and math.isfinite(v),
        "U": lambda v: type(v) is str,
    }[kind]
    for i, label in enumerate(labels):
        if not accepts(label):
            raise ValueError(f"{entry(where, key)}[{i}] = {describe(label)} is not a label of "
                             f"dtype {text}")
    if kind == "U":
        longest = max(len(label) for label in labels)
        width = int(form.group(1)[1:])
        if not longest <= width <= max(longest, _SPARE_LABEL_WIDTH):
            raise ValueError(f"{entry(where, dtype_key)} {text!r} holds strings of {width} "
                             f"characters, but the longest label has {longest}")
    dtype = np.dtype(text)
    try:
        classes = np.array(labels, dtype=dtype)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{entry(where, key)} cannot be held in dtype {text}: {exc}") from None
    if classes.tolist() != labels:
        raise ValueError(f"{entry(where, key)} {describe(labels)} change when held in dtype {text}")
    if not np.all(classes[:-1] < classes[1:]):
        raise ValueError(f"{entry(where, key)} must be different labels in increasing order, "
                         f"got {describe(labels)}")
    return classes
