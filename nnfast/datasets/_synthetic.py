"""Small synthetic problems: logic gates, parity and a 3-input regression."""
import math
import numbers

import numpy as np

from .._validation import check_positive, check_random_state

__all__ = ["logic_gate", "parity", "xyz_regression", "xyz_function", "LOGIC_GATES"]

_MAX_INPUTS = 20


def _ones(bits):
    return bits.sum(axis=1)


#: Truth functions by gate name: each maps a (2**n, n) array of 0/1 bits to booleans.
LOGIC_GATES = {
    "and": lambda bits: bits.all(axis=1),
    "or": lambda bits: bits.any(axis=1),
    "xor": lambda bits: _ones(bits) % 2 == 1,
    "nand": lambda bits: ~bits.all(axis=1),
    "nor": lambda bits: ~bits.any(axis=1),
    "xnor": lambda bits: _ones(bits) % 2 == 0,
}

_CODINGS = {"pm1": (-1.0, 1.0), "01": (0.0, 1.0)}


def logic_gate(name, n_inputs=2, coding="pm1", dtype=np.float64):
    """Return the full truth table of a logic gate with ``n_inputs`` inputs.

    Parameters
    ----------
    name : {"and", "or", "xor", "nand", "nor", "xnor"}
        The gate (case-insensitive).  With more than two inputs "xor" is the
        parity function (true for an odd number of true inputs) and "xnor"
        its negation.
    n_inputs : int, default=2
        Number of inputs, from 1 to 20.
    coding : {"pm1", "01"}, default="pm1"
        How false and true are written, in inputs and targets alike: -1 and
        +1 (the perceptron's bipolar coding) or 0 and 1.
    dtype : numpy dtype, default=numpy.float64
        Dtype of both returned arrays.

    Returns
    -------
    X : ndarray of shape (2**n_inputs, n_inputs)
        Every input pattern once, in binary counting order with the first
        column as the most significant bit (false, ..., false first).
    y : ndarray of shape (2**n_inputs,)
        The gate's output for each row of ``X``.

    Examples
    --------
    >>> X, y = logic_gate("xor", coding="01", dtype=int)
    >>> X.tolist(), y.tolist()
    ([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0])
    """
    if not isinstance(name, str) or name.lower() not in LOGIC_GATES:
        raise ValueError(f"unknown gate {name!r}; choose from {', '.join(LOGIC_GATES)}")
    check_positive(n_inputs, "n_inputs", integer=True)
    if n_inputs > _MAX_INPUTS:
        raise ValueError(f"n_inputs must be at most {_MAX_INPUTS} "
                         f"(2**n_inputs rows are returned), got {n_inputs}")
    if coding not in _CODINGS:
        raise ValueError(f"coding must be 'pm1' or '01', got {coding!r}")
    rows = np.arange(2**n_inputs)
    shifts = np.arange(n_inputs - 1, -1, -1)
    bits = ((rows[:, None] >> shifts) & 1).astype(bool)
    truth = LOGIC_GATES[name.lower()](bits)
    false, true = _CODINGS[coding]
    X = np.where(bits, true, false).astype(dtype)
    y = np.where(truth, true, false).astype(dtype)
    return X, y


def parity(n_inputs, coding="pm1", dtype=np.float64):
    """Return the truth table of the ``n_inputs``-bit parity function.

    The same as ``logic_gate("xor", n_inputs, coding, dtype)``: the target is
    true when an odd number of inputs are true.

    Parameters
    ----------
    n_inputs : int
        Number of inputs, from 1 to 20.
    coding : {"pm1", "01"}, default="pm1"
        How false and true are written.
    dtype : numpy dtype, default=numpy.float64
        Dtype of both returned arrays.

    Returns
    -------
    X : ndarray of shape (2**n_inputs, n_inputs)
        Every input pattern once, in binary counting order.
    y : ndarray of shape (2**n_inputs,)
        The parity of each row of ``X``.
    """
    return logic_gate("xor", n_inputs, coding, dtype)


def xyz_function(X):
    """Evaluate f(x, y, z) = sin(x) + cos(y) + z row by row.

    Parameters
    ----------
    X : array-like of shape (n_samples, 3)
        Columns x, y and z.

    Returns
    -------
    ndarray of shape (n_samples,)
        The function's values, in the floating dtype of ``X`` (float64 for
        integer input).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 3:
        raise ValueError(f"X must have shape (n_samples, 3), got {X.shape}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    return np.sin(X[:, 0]) + np.cos(X[:, 1]) + X[:, 2]


def xyz_regression(n_samples, noise=0.0, random_state=None, low=-math.pi, high=math.pi):
    """Sample the regression problem f(x, y, z) = sin(x) + cos(y) + z.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to the targets.
    random_state : None, int or numpy.random.Generator
        Seed or generator; equal seeds give equal data.
    low, high : float, default=-pi, pi
        The inputs are drawn uniformly from [low, high) in each coordinate.

    Returns
    -------
    X : ndarray of shape (n_samples, 3)
        float64 inputs, columns x, y and z.
    y : ndarray of shape (n_samples,)
        float64 targets, ``xyz_function(X)`` plus noise.

    Examples
    --------
    >>> X, y = xyz_regression(5, random_state=0)
    >>> X.shape, y.shape
    ((5, 3), (5,))
    """
    check_positive(n_samples, "n_samples", integer=True)
    check_positive(noise, "noise", allow_zero=True)
    for value, label in ((low, "low"), (high, "high")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value):
            raise ValueError(f"{label} must be a finite number, got {value!r}")
    if not low < high:
        raise ValueError(f"low must be smaller than high, got low={low!r}, high={high!r}")
    rng = check_random_state(random_state)
    X = rng.uniform(low, high, size=(n_samples, 3))
    y = xyz_function(X)
    if noise:
        y = y + rng.normal(0.0, noise, size=n_samples)
    return X, y
