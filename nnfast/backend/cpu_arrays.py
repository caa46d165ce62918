"""Checks shared by the compiled CPU ops before a kernel runs.

Each compiled override checks in Python that

- every array is a numpy ``ndarray`` of one dtype, float32 or float64;
- arrays written to (``out``, gradients, parameters, optimizer state) are
  C-contiguous and do not overlap the inputs, except as exactly the same
  array where that is safe (each op's docstring says where);
- shapes agree; a mismatch raises ``ValueError`` naming the shapes.

Inputs that are merely non-contiguous are copied; anything else the kernels
do not handle (other dtypes, mixed dtypes, empty arrays, subclasses of
``ndarray``) goes to the reference implementation, so results never depend on
which path ran.
"""
import numpy as np

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
INTP = np.dtype(np.intp)
#: BLAS takes its dimensions as C ints.
INT_MAX = 2**31 - 1
_ndarray = np.ndarray
#: Array types whose buffers the kernels may read.
_READABLE = (np.ndarray, np.memmap)
_contiguous = np.ascontiguousarray
_overlap = np.may_share_memory


def float_dtype(a, *others):
    """The dtype of ``a`` when it and ``others`` are numpy arrays of one float dtype, else None.

    Plain arrays and memory maps (a model loaded with ``joblib.load(...,
    mmap_mode="r")`` holds its weights in them) qualify; other subclasses,
    whose elements may not mean what their buffer holds (masked arrays),
    do not.  Dtypes are compared by value, not identity: an array that was
    pickled or deep-copied carries an equal dtype object that is not
    numpy's own.
    """
    if type(a) not in _READABLE:
        return None
    dtype = a.dtype
    if dtype == F32:
        dtype = F32
    elif dtype == F64:
        dtype = F64
    else:
        return None
    for x in others:
        if type(x) not in _READABLE or x.dtype != dtype:
            return None
    return dtype


def is_out(out, dtype):
    """True when ``out`` can be written by a kernel: a C-contiguous ndarray of ``dtype``."""
    return type(out) is _ndarray and out.dtype == dtype and out.flags.c_contiguous


def c_order(x):
    """``x`` itself when C-contiguous, else a C-contiguous copy."""
    return x if x.flags.c_contiguous else _contiguous(x)


def flat(x):
    """A 1-D view of the C-contiguous array ``x``."""
    return x if x.ndim == 1 else x.reshape(-1)


def rows_of(x):
    """A 2-D view of the C-contiguous array ``x`` with its last axis as columns."""
    if x.ndim == 2:
        return x
    return x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(1, -1)


def check_same_shape(op, name, x, ref_name, ref):
    if x.shape != ref.shape:
        raise ValueError(f"{op}: {name} has shape {x.shape} but {ref_name} has shape "
                         f"{ref.shape}; they must be equal")


def check_out_shape(op, name, out, shape):
    if out.shape != shape:
        raise ValueError(f"{op}: {name} has shape {out.shape}, expected {shape}")


def shares(out, *inputs):
    """True when ``out`` may overlap one of ``inputs`` (numpy's cheap bounds test)."""
    for x in inputs:
        if _overlap(out, x):
            return True
    return False
