# Perceptron kernels: the online and batch rules over a whole training run,
# the sample orders they use, and the capacity experiment.
#
# The Python wrappers in nnfast/backend/cpu_perceptron.py check every shape,
# dtype and value range before calling in; these functions trust their inputs
# and run without the GIL.
#
# Sample orders: an online run with shuffling seeds one xoshiro256** stream
# with rng_seed(seed, 0) and, at the start of every epoch, Fisher-Yates
# shuffles the index array left by the previous epoch (starting from
# 0..n-1).  The reference implementation in ops_perceptron.py replays the
# same stream in Python, so both visit the samples in the same order.
from libc.stdint cimport int8_t, int32_t, int64_t, uint32_t, uint64_t
from cython.parallel cimport parallel, prange

from _rng cimport rng_t, rng_seed, rng_next, rng_below
from _omp cimport omp_get_thread_num


# --------------------------------------------------------------------------
# Shuffling
# --------------------------------------------------------------------------
#
# The online rule shuffles once per epoch, so drawing an index costs about as
# much as a short dot product; below 2**32 it is drawn by multiplying the top
# 32 bits of a word by n (Lemire's method), which needs a division only in
# the rare case where rejection has to be checked.

cdef inline uint64_t _below(rng_t* r, uint64_t n) noexcept nogil:
    """Uniform integer in [0, n) without bias."""
    cdef uint64_t m
    cdef uint32_t threshold
    if n > 0xFFFFFFFFULL:
        return rng_below(r, n)
    m = (rng_next(r) >> 32) * n
    if <uint32_t> m < n:
        threshold = (<uint32_t> (0 - <uint32_t> n)) % <uint32_t> n
        while <uint32_t> m < threshold:
            m = (rng_next(r) >> 32) * n
    return m >> 32


cdef inline void _shuffle(rng_t* r, Py_ssize_t* idx, Py_ssize_t n) noexcept nogil:
    """Fisher-Yates shuffle of ``idx[0:n]`` in place."""
    cdef Py_ssize_t i, j, tmp
    for i in range(n - 1, 0, -1):
        j = <Py_ssize_t> _below(r, <uint64_t> (i + 1))
        tmp = idx[i]
        idx[i] = idx[j]
        idx[j] = tmp


# --------------------------------------------------------------------------
# Sample orders
# --------------------------------------------------------------------------

def epoch_orders(uint64_t seed,                   # IN
                 Py_ssize_t[:, ::1] orders):      # OUT (n_epochs, n_samples)
    """Fill ``orders[e]`` with the sample order of epoch ``e`` of a shuffled run."""
    cdef Py_ssize_t n_epochs = orders.shape[0], n = orders.shape[1], e, i
    cdef rng_t r
    with nogil:
        rng_seed(&r, seed, 0)
        for e in range(n_epochs):
            if e == 0:
                for i in range(n):
                    orders[0, i] = i
            else:
                for i in range(n):
                    orders[e, i] = orders[e - 1, i]
            _shuffle(&r, &orders[e, 0], n)


# --------------------------------------------------------------------------
# Training on real-valued data
# --------------------------------------------------------------------------

cdef inline double _dot(const double* a, const double* b, Py_ssize_t n) noexcept nogil:
    # Left to right, as written: no reassociation, so the result is the same
    # at every optimisation level.
    cdef double s = 0.0
    cdef Py_ssize_t j
    for j in range(n):
        s += a[j] * b[j]
    return s


cdef inline void _add_scaled(double* w, double c, const double* x, double* step,
                             Py_ssize_t n) noexcept nogil:
    # w += c * x, with the product rounded on its own (through ``step``) so the
    # compiler cannot fuse it with the addition: the result matches numpy's
    # ``w += c * x`` bit for bit on every target.
    cdef Py_ssize_t j
    for j in range(n):
        step[j] = c * x[j]
    for j in range(n):
        w[j] += step[j]


def train(const double[:, ::1] X,          # IN  (n_samples, n_features)
          const double[::1] t,             # IN  (n_samples,) targets in {-1, +1}
          double[::1] w,                   # IN/OUT (n_features,)
          double[::1] b,                   # IN/OUT (1,) bias
          double lr,
          bint batch,
          bint shuffle,
          uint64_t seed,
          bint fit_intercept,
          Py_ssize_t[::1] idx,             # scratch (n_samples,)
          double[::1] step,                # scratch (n_features,)
          int8_t[::1] wrong,               # scratch (n_samples,)
          int64_t[::1] errors):            # OUT (max_epochs,) errors per epoch
    """Run the perceptron rule until an epoch makes no error; return the epochs run.

    A sample is an error when ``t_i * (w . x_i + b) <= 0``; it then adds
    ``lr * t_i * x_i`` to ``w`` (and ``lr * t_i`` to ``b``).  The online rule
    updates after each sample; the batch rule first finds every error under
    the weights of the epoch's start and then adds their updates in sample
    order.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], max_epochs = errors.shape[0]
    cdef Py_ssize_t epoch, k, i, n_epochs = 0
    cdef int64_t n_err
    cdef double s, c, bias = b[0]
    cdef rng_t r
    with nogil:
        rng_seed(&r, seed, 0)
        for i in range(n):
            idx[i] = i
        for epoch in range(max_epochs):
            n_err = 0
            if not batch:
                if shuffle:
                    _shuffle(&r, &idx[0], n)
                for k in range(n):
                    i = idx[k]
                    s = _dot(&X[i, 0], &w[0], d) + bias
                    if t[i] * s <= 0.0:
                        c = lr * t[i]
                        _add_scaled(&w[0], c, &X[i, 0], &step[0], d)
                        if fit_intercept:
                            bias = bias + c
                        n_err += 1
            else:
                for i in range(n):
                    s = _dot(&X[i, 0], &w[0], d) + bias
                    wrong[i] = t[i] * s <= 0.0
                    n_err += wrong[i]
                for i in range(n):
                    if wrong[i]:
                        c = lr * t[i]
                        _add_scaled(&w[0], c, &X[i, 0], &step[0], d)
                        if fit_intercept:
                            bias = bias + c
            errors[epoch] = n_err
            n_epochs = epoch + 1
            if n_err == 0:
                break
    b[0] = bias
    return n_epochs


# --------------------------------------------------------------------------
# Capacity experiment
# --------------------------------------------------------------------------
#
# Trial ``k`` for ``p`` patterns seeds its own stream with
# rng_seed(seed, (p << 32) | k), so its result depends on neither the thread
# that runs it nor the other pattern counts in the sweep.  From that stream it
# draws p * n_features pattern entries (row-major) and then p labels, one bit
# each from successive 64-bit words, least significant bit first (1 is +1,
# 0 is -1); the shuffles of the online rule continue on the same stream.
#
# Patterns are stored already multiplied by their label, with the label
# appended as an extra input when the bias is learned, so a sample is an
# error when w . y_i <= 0 and then w += y_i.  With +-1 data and weights
# starting at zero every weight stays an integer, so the arithmetic is exact
# integer arithmetic.  Entries are stored as masks (0 for +1, -1 for -1):
# (w ^ m) - m is w or -w and (m | 1) is +1 or -1, which vectorises without
# integer multiplies.

cdef inline rng_t _seeded(uint64_t seed, uint64_t stream) noexcept nogil:
    cdef rng_t r
    rng_seed(&r, seed, stream)
    return r


cdef int64_t _capacity_trial(rng_t* r, Py_ssize_t n_features, Py_ssize_t p,
                             Py_ssize_t max_epochs, bint fit_intercept, bint shuffle,
                             int32_t* y, int32_t* w, Py_ssize_t* idx,
                             bint* learned) noexcept nogil:
    cdef Py_ssize_t m = n_features + fit_intercept
    cdef Py_ssize_t n_bits = p * n_features + p
    cdef Py_ssize_t bit, i, j, k, epoch
    cdef uint64_t word = 0
    cdef int32_t s, mask
    cdef int64_t n_err
    cdef int32_t* row
    # Draw the patterns (as masks) and labels.
    for bit in range(n_bits):
        if bit % 64 == 0:
            word = rng_next(r)
        mask = <int32_t> ((word >> (bit % 64)) & 1) - 1
        if bit < p * n_features:
            i = bit // n_features
            y[i * m + bit % n_features] = mask
        else:
            i = bit - p * n_features
            # Multiply the row by its label: flip every mask when the label is -1.
            for j in range(n_features):
                y[i * m + j] ^= mask
            if fit_intercept:
                y[i * m + n_features] = mask
    for j in range(m):
        w[j] = 0
    for i in range(p):
        idx[i] = i
    for epoch in range(max_epochs):
        if shuffle:
            _shuffle(r, idx, p)
        n_err = 0
        for k in range(p):
            row = y + idx[k] * m
            s = 0
            for j in range(m):
                s += (w[j] ^ row[j]) - row[j]
            if s <= 0:
                for j in range(m):
                    w[j] += row[j] | 1
                n_err += 1
        if n_err == 0:
            learned[0] = True
            return epoch + 1
    learned[0] = False
    return max_epochs


def capacity(Py_ssize_t n_features,
             const int64_t[::1] n_patterns,   # IN  (n_counts,)
             Py_ssize_t max_epochs,
             uint64_t seed,
             bint fit_intercept,
             bint shuffle,
             int n_threads,
             int32_t[:, ::1] y_scratch,       # scratch (n_threads, max_p * (n_features + 1))
             int32_t[:, ::1] w_scratch,       # scratch (n_threads, n_features + 1)
             Py_ssize_t[:, ::1] idx_scratch,  # scratch (n_threads, max_p)
             int8_t[:, ::1] learned,          # OUT (n_counts, n_trials)
             int64_t[:, ::1] epochs):         # OUT (n_counts, n_trials)
    """Run every (pattern count, trial) of the capacity experiment, in parallel."""
    cdef Py_ssize_t n_counts = learned.shape[0], n_trials = learned.shape[1]
    cdef Py_ssize_t n_jobs = n_counts * n_trials
    cdef Py_ssize_t job, c, k, tid
    cdef uint64_t p
    cdef rng_t r
    cdef bint ok
    with nogil, parallel(num_threads=n_threads):
        for job in prange(n_jobs, schedule="dynamic", chunksize=1):
            # The last pattern counts first: sweeps usually ascend, and the
            # largest counts take longest.
            c = n_counts - 1 - job // n_trials
            k = job % n_trials
            p = <uint64_t> n_patterns[c]
            tid = omp_get_thread_num()
            # Assigned (not only addressed) in the loop, so private to each thread.
            r = _seeded(seed, (p << 32) | <uint64_t> k)
            ok = False
            epochs[c, k] = _capacity_trial(
                &r, n_features, <Py_ssize_t> p, max_epochs, fit_intercept, shuffle,
                &y_scratch[tid, 0], &w_scratch[tid, 0], &idx_scratch[tid, 0], &ok)
            learned[c, k] = ok
