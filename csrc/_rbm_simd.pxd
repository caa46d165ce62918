# Kernels of the RBM's online rule, compiled for three instruction sets.
#
# The online rule (csrc/_rbm.pyx) keeps the weights transposed, WT of shape
# (n_visible, ld): row i holds visible unit i's weights to the n_hidden
# hidden units, padded with zeros to ld, a multiple of 16 entries, so that
# rows start on a cache line when WT does and the loops need no tail.  Its
# products with a visible vector v add up the rows of the nonzero v[i] only,
# and its update adds to the rows where the data or the chain is nonzero.
# These loops read rows of WT from the L2 cache and gain from wide vectors
# (one epoch of a 784x120 model on Fashion-MNIST, for instance, takes about
# 0.76 s with the baseline x86-64 instructions, 0.6 s with AVX2 and 0.57 s
# with AVX-512): each kernel is written once below as a C macro and
# compiled as a baseline function and, with GCC or Clang on x86-64, as AVX2
# and AVX-512 versions; nnf_rbm_select() points ``nnf_rbm_simd`` at the
# widest set the CPU supports.  No version fuses a multiply and an add
# (AVX-512 has FMA, so contraction is turned off), and all perform the same
# operations in the same order: they give bit-identical results.
from libc.stdint cimport int32_t, uint8_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>

    #if defined(__clang__)
    #pragma STDC FP_CONTRACT OFF
    #define NNF_NO_CONTRACT
    #elif defined(__GNUC__)
    #define NNF_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
    #else
    #define NNF_NO_CONTRACT
    #endif

    /* Byte k of the integer X as byte k in memory (a no-op but on
     * big-endian machines). */
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    #define NNF_LITTLE_ENDIAN(X) ((X) = __builtin_bswap64(X))
    #else
    #define NNF_LITTLE_ENDIAN(X) ((void) 0)
    #endif

    /* nnf_bit_pos[m] lists the positions of the set bits of the byte m,
     * nnf_bit_count[m] how many there are (filled by nnf_rbm_select). */
    static uint8_t nnf_bit_pos[256][8];
    static uint8_t nnf_bit_count[256];

    static void nnf_fill_bit_tables(void) {
        int m, b, c;
        for (m = 0; m < 256; m++) {
            for (b = c = 0; b < 8; b++)
                if (m >> b & 1) nnf_bit_pos[m][c++] = (uint8_t) b;
            nnf_bit_count[m] = (uint8_t) c;
        }
    }

    /* The indices i < n where a[i] (or b[i], when b is not NULL) is nonzero,
     * written to idx; returns how many.  The test is on the bits but the
     * sign: -0.0 counts as zero, NaN as nonzero, as with a[i] != 0.  First a
     * flag byte per entry (a loop that vectorises), then eight flags at a
     * time become a bit mask whose set bits a table lists: no branch
     * depends on where the zeros fall.  flags has room for n bytes. */
    #define NNF_NONZERO(T, U)                                                \\
        Py_ssize_t i, m = 0;                                                 \\
        int l;                                                               \\
        U x, y;                                                              \\
        if (b == NULL) {                                                     \\
            for (i = 0; i < n; i++) {                                        \\
                memcpy(&x, a + i, sizeof x);                                 \\
                flags[i] = (x << 1) != 0;                                    \\
            }                                                                \\
        } else {                                                             \\
            for (i = 0; i < n; i++) {                                        \\
                memcpy(&x, a + i, sizeof x);                                 \\
                memcpy(&y, b + i, sizeof y);                                 \\
                flags[i] = ((x | y) << 1) != 0;                              \\
            }                                                                \\
        }                                                                    \\
        for (i = 0; i + 8 <= n; i += 8) {                                    \\
            uint64_t f8;                                                     \\
            const uint8_t* pos;                                              \\
            int mask;                                                        \\
            memcpy(&f8, flags + i, sizeof f8);                               \\
            NNF_LITTLE_ENDIAN(f8);                                           \\
            /* Byte k (0 or 1) of f8 moves to bit 56 + k. */                 \\
            mask = (int) ((f8 * 0x0102040810204080ULL) >> 56);               \\
            pos = nnf_bit_pos[mask];                                         \\
            /* m <= i, so the eight writes stay below n. */                  \\
            for (l = 0; l < 8; l++) idx[m + l] = (int32_t) i + pos[l];       \\
            m += nnf_bit_count[mask];                                        \\
        }                                                                    \\
        for (; i < n; i++) {                                                 \\
            idx[m] = (int32_t) i;                                            \\
            m += flags[i];                                                   \\
        }                                                                    \\
        return m;

    /* out[0:ld] = the sum over t < n of v[idx[t]] * WT[idx[t]], four rows
     * at a time (so that out is loaded and stored once per four rows). */
    #define NNF_SUM_ROWS(T)                                                  \\
        Py_ssize_t t = 0, j;                                                 \\
        for (j = 0; j < ld; j++) out[j] = 0;                                 \\
        for (; t + 4 <= n; t += 4) {                                         \\
            const T* __restrict w0 = wt + idx[t] * ld;                       \\
            const T* __restrict w1 = wt + idx[t + 1] * ld;                   \\
            const T* __restrict w2 = wt + idx[t + 2] * ld;                   \\
            const T* __restrict w3 = wt + idx[t + 3] * ld;                   \\
            T a0 = v[idx[t]], a1 = v[idx[t + 1]];                            \\
            T a2 = v[idx[t + 2]], a3 = v[idx[t + 3]];                        \\
            for (j = 0; j < ld; j++)                                         \\
                out[j] += (a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j]); \\
        }                                                                    \\
        for (; t < n; t++) {                                                 \\
            const T* __restrict w0 = wt + idx[t] * ld;                       \\
            T a0 = v[idx[t]];                                                \\
            for (j = 0; j < ld; j++) out[j] += a0 * w0[j];                   \\
        }

    /* WT[i] += (lr * v0[i]) * h0 + (lr * vk[i]) * neg_hk for the n rows i
     * in rows (h0 and neg_hk have ld entries). */
    #define NNF_ADD_ROWS(T)                                                  \\
        Py_ssize_t t, j;                                                     \\
        for (t = 0; t < n; t++) {                                            \\
            T* __restrict w = wt + rows[t] * ld;                             \\
            T a = lr * v0[rows[t]], b = lr * vk[rows[t]];                    \\
            for (j = 0; j < ld; j++) w[j] += a * h0[j] + b * neg_hk[j];      \\
        }

    #define NNF_NONZERO_ARGS(T)                                              \\
        (const T* a, const T* b, Py_ssize_t n, uint8_t* flags, int32_t* idx)
    #define NNF_SUM_ROWS_ARGS(T)                                             \\
        (const T* __restrict wt, Py_ssize_t ld, const T* v, const int32_t* idx, \\
         Py_ssize_t n, T* __restrict out)
    #define NNF_ADD_ROWS_ARGS(T)                                             \\
        (T* __restrict wt, Py_ssize_t ld, const int32_t* rows, Py_ssize_t n, \\
         T lr, const T* v0, const T* vk, const T* __restrict h0,             \\
         const T* __restrict neg_hk)

    #define NNF_RBM_KERNELS(TAG, ATTR)                                       \\
        ATTR static Py_ssize_t nnf_nonzero_f32_##TAG NNF_NONZERO_ARGS(float) \\
            { NNF_NONZERO(float, uint32_t) }                                 \\
        ATTR static Py_ssize_t nnf_nonzero_f64_##TAG NNF_NONZERO_ARGS(double) \\
            { NNF_NONZERO(double, uint64_t) }                                \\
        ATTR static void nnf_sum_rows_f32_##TAG NNF_SUM_ROWS_ARGS(float)     \\
            { NNF_SUM_ROWS(float) }                                          \\
        ATTR static void nnf_sum_rows_f64_##TAG NNF_SUM_ROWS_ARGS(double)    \\
            { NNF_SUM_ROWS(double) }                                         \\
        ATTR static void nnf_add_rows_f32_##TAG NNF_ADD_ROWS_ARGS(float)     \\
            { NNF_ADD_ROWS(float) }                                          \\
        ATTR static void nnf_add_rows_f64_##TAG NNF_ADD_ROWS_ARGS(double)    \\
            { NNF_ADD_ROWS(double) }

    typedef struct {
        Py_ssize_t (*nonzero_f32) NNF_NONZERO_ARGS(float);
        Py_ssize_t (*nonzero_f64) NNF_NONZERO_ARGS(double);
        void (*sum_rows_f32) NNF_SUM_ROWS_ARGS(float);
        void (*sum_rows_f64) NNF_SUM_ROWS_ARGS(double);
        void (*add_rows_f32) NNF_ADD_ROWS_ARGS(float);
        void (*add_rows_f64) NNF_ADD_ROWS_ARGS(double);
    } nnf_rbm_simd_t;

    #define NNF_RBM_TABLE(TAG) {                                             \\
        nnf_nonzero_f32_##TAG, nnf_nonzero_f64_##TAG,                        \\
        nnf_sum_rows_f32_##TAG, nnf_sum_rows_f64_##TAG,                      \\
        nnf_add_rows_f32_##TAG, nnf_add_rows_f64_##TAG }

    NNF_RBM_KERNELS(base, NNF_NO_CONTRACT)
    static const nnf_rbm_simd_t nnf_rbm_simd_base = NNF_RBM_TABLE(base);

    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #define NNF_RBM_DISPATCH 1
    NNF_RBM_KERNELS(avx2, __attribute__((target("avx2"))) NNF_NO_CONTRACT)
    NNF_RBM_KERNELS(avx512, __attribute__((target("avx512f"))) NNF_NO_CONTRACT)
    static const nnf_rbm_simd_t nnf_rbm_simd_avx2 = NNF_RBM_TABLE(avx2);
    static const nnf_rbm_simd_t nnf_rbm_simd_avx512 = NNF_RBM_TABLE(avx512);
    #endif

    static nnf_rbm_simd_t nnf_rbm_simd = NNF_RBM_TABLE(base);

    /* Use the widest kernels up to max_level (0 baseline, 1 AVX2, 2 AVX-512)
     * that the CPU supports; return the level chosen. */
    static int nnf_rbm_select(int max_level) {
        nnf_fill_bit_tables();
    #ifdef NNF_RBM_DISPATCH
        __builtin_cpu_init();
        if (max_level >= 2 && __builtin_cpu_supports("avx512f")) {
            nnf_rbm_simd = nnf_rbm_simd_avx512;
            return 2;
        }
        if (max_level >= 1 && __builtin_cpu_supports("avx2")) {
            nnf_rbm_simd = nnf_rbm_simd_avx2;
            return 1;
        }
    #endif
        nnf_rbm_simd = nnf_rbm_simd_base;
        return 0;
    }

    /* Ask for the n bytes at p to be brought into the caches. */
    static inline void nnf_prefetch(const void* p, Py_ssize_t n) {
    #if defined(__GNUC__) || defined(__clang__)
        const char* c = (const char*) p;
        Py_ssize_t i;
        for (i = 0; i < n; i += 64) __builtin_prefetch(c + i);
    #else
        (void) p; (void) n;
    #endif
    }
    """
    ctypedef Py_ssize_t (*nnf_nonzero_f32_t)(const float*, const float*, Py_ssize_t, uint8_t*,
                                             int32_t*) noexcept nogil
    ctypedef Py_ssize_t (*nnf_nonzero_f64_t)(const double*, const double*, Py_ssize_t,
                                             uint8_t*, int32_t*) noexcept nogil
    ctypedef void (*nnf_sum_rows_f32_t)(const float*, Py_ssize_t, const float*, const int32_t*,
                                        Py_ssize_t, float*) noexcept nogil
    ctypedef void (*nnf_sum_rows_f64_t)(const double*, Py_ssize_t, const double*,
                                        const int32_t*, Py_ssize_t, double*) noexcept nogil
    ctypedef void (*nnf_add_rows_f32_t)(float*, Py_ssize_t, const int32_t*, Py_ssize_t, float,
                                        const float*, const float*, const float*,
                                        const float*) noexcept nogil
    ctypedef void (*nnf_add_rows_f64_t)(double*, Py_ssize_t, const int32_t*, Py_ssize_t,
                                        double, const double*, const double*, const double*,
                                        const double*) noexcept nogil

    ctypedef struct nnf_rbm_simd_t:
        nnf_nonzero_f32_t nonzero_f32
        nnf_nonzero_f64_t nonzero_f64
        nnf_sum_rows_f32_t sum_rows_f32
        nnf_sum_rows_f64_t sum_rows_f64
        nnf_add_rows_f32_t add_rows_f32
        nnf_add_rows_f64_t add_rows_f64

    nnf_rbm_simd_t nnf_rbm_simd
    int nnf_rbm_select(int max_level) noexcept nogil
    void nnf_prefetch(const void* p, Py_ssize_t n) noexcept nogil
