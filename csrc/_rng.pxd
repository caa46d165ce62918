# A small, fast random generator usable without the GIL: xoshiro256** seeded
# through splitmix64.  Each thread or trial owns an ``rng_t``; streams seeded
# with the same seed and different stream numbers are independent for all
# practical purposes and reproducible.
from libc.stdint cimport uint64_t, uint32_t

ctypedef struct rng_t:
    uint64_t s0
    uint64_t s1
    uint64_t s2
    uint64_t s3


cdef inline uint64_t splitmix64(uint64_t* x) noexcept nogil:
    x[0] += <uint64_t> 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = x[0]
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline void rng_seed(rng_t* r, uint64_t seed, uint64_t stream) noexcept nogil:
    """Seed ``r`` from (seed, stream); different streams give independent sequences."""
    cdef uint64_t x = seed ^ (stream * <uint64_t> 0xD1B54A32D192ED03ULL)
    x = splitmix64(&x) ^ stream
    r.s0 = splitmix64(&x)
    r.s1 = splitmix64(&x)
    r.s2 = splitmix64(&x)
    r.s3 = splitmix64(&x)


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t rng_next(rng_t* r) noexcept nogil:
    cdef uint64_t result = _rotl(r.s1 * 5, 7) * 9
    cdef uint64_t t = r.s1 << 17
    r.s2 ^= r.s0
    r.s3 ^= r.s1
    r.s1 ^= r.s2
    r.s0 ^= r.s3
    r.s2 ^= t
    r.s3 = _rotl(r.s3, 45)
    return result


cdef inline double rng_uniform(rng_t* r) noexcept nogil:
    """Uniform double in [0, 1) with 53 random bits."""
    return (rng_next(r) >> 11) * (1.0 / 9007199254740992.0)


cdef inline float rng_uniformf(rng_t* r) noexcept nogil:
    """Uniform float in [0, 1) with 24 random bits."""
    return <float> ((rng_next(r) >> 40) * (1.0 / 16777216.0))


cdef inline uint64_t rng_below(rng_t* r, uint64_t n) noexcept nogil:
    """Uniform integer in [0, n) without modulo bias (rejection sampling)."""
    cdef uint64_t threshold, x
    if n <= 1:
        return 0
    threshold = (-n) % n
    while True:
        x = rng_next(r)
        if x >= threshold:
            return x % n


cdef inline void rng_shuffle(rng_t* r, Py_ssize_t* idx, Py_ssize_t n) noexcept nogil:
    """Fisher-Yates shuffle of ``idx[0:n]`` in place."""
    cdef Py_ssize_t i, j, tmp
    for i in range(n - 1, 0, -1):
        j = <Py_ssize_t> rng_below(r, <uint64_t> (i + 1))
        tmp = idx[i]
        idx[i] = idx[j]
        idx[j] = tmp
