"""The input checks' pass over the data: its smallest and largest value at once.

Every estimator checks its inputs before training: that they are finite,
and for some losses that they lie in a range.  Done with numpy that is a
pass for the finiteness and one each for the minimum and the maximum, over
data that training itself reads once an epoch; here it is one parallel
pass, without a temporary.

The pass reads the floats' bits as integers, mapped so that integer order
is float order (a negative float's magnitude bits are flipped): integer
minima and maxima vectorise where float comparisons, which may trap on a
NaN, do not.  A NaN maps above +inf or below -inf, so the same two values
also say whether every value is finite.
"""
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t

from _parallel cimport chunk_size, n_chunks

ctypedef fused bits_t:
    int32_t
    int64_t


cdef inline bits_t ordered(bits_t b) noexcept nogil:
    """The float with bits ``b`` as an integer of the same order (its own inverse)."""
    if bits_t is int32_t:
        return b ^ ((b >> 31) & 0x7FFFFFFF)
    else:
        return b ^ ((b >> 63) & <int64_t> 0x7FFFFFFFFFFFFFFFLL)


cdef void chunk_range(const bits_t* x, Py_ssize_t n, bits_t* lo, bits_t* hi) noexcept nogil:
    """``lo[0]``, ``hi[0]``: the least and the greatest ``ordered`` key of ``x[0:n]``."""
    cdef bits_t low = ordered(x[0])
    cdef bits_t high = low
    cdef bits_t k
    cdef Py_ssize_t i
    for i in range(n):
        k = ordered(x[i])
        low = k if k < low else low
        high = k if k > high else high
    lo[0], hi[0] = low, high


def ordered_range(const bits_t[::1] bits, int num_threads):
    """The least and the greatest ``ordered`` key of the float bits ``bits``.

    Parameters
    ----------
    bits : ndarray of shape (n,), int32 or int64, n >= 1
        A float32 or float64 array viewed as integers of its size.
    num_threads : int

    Returns
    -------
    (int, int)
        Keys, which :func:`value_range` turns back into floats.
    """
    cdef Py_ssize_t n = bits.shape[0]
    cdef Py_ssize_t c, start, chunks, chunk
    cdef bits_t lows[64]
    cdef bits_t highs[64]
    cdef bits_t low, high
    if n == 0:
        raise ValueError("ordered_range: the array is empty")
    num_threads = max(1, min(num_threads, 64))
    chunk = chunk_size(n, num_threads)
    chunks = n_chunks(n, chunk)
    with nogil:
        if chunks == 1:
            chunk_range(&bits[0], n, lows, highs)
        else:
            for c in prange(chunks, num_threads=num_threads, schedule="static"):
                start = c * chunk
                chunk_range(&bits[start], min(chunk, n - start), lows + c, highs + c)
    low, high = lows[0], highs[0]
    for c in range(1, chunks):
        low = min(low, lows[c])
        high = max(high, highs[c])
    return ordered(low), ordered(high)
