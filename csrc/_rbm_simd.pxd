# Kernels of the RBM's online rule, compiled for three instruction sets.
#
# The online rule (csrc/_rbm_online.pyx) keeps the weights transposed, WT of
# shape (n_visible, ld): row i holds visible unit i's weights to the
# n_hidden hidden units, padded with zeros to ld, a multiple of 16 entries,
# so that rows start on a cache line when WT does and the loops need no
# tail.  Its products with a visible vector v add up the rows of the nonzero
# v[i] only, its product with a hidden vector is a BLAS gemv, and its update
# adds to the rows where the data or the chain is nonzero.  These loops read
# rows of WT from the L2 cache and gain from wide vectors, as do the float
# sigmoid, the rows of uniforms (which every sampling pass of the RBM draws)
# and the search for nonzero entries: each kernel is written once below as a
# C macro and compiled as a baseline function and, with GCC or Clang on
# x86-64, as AVX2 and AVX-512 versions (the AVX-512 searches over floats are
# written with intrinsics); nnf_rbm_select() points ``nnf_rbm_simd`` at the
# widest set the CPU supports.  The table is a static variable of the C
# code: every module that cimports this file holds its own copy and sets it
# with its own call.  No version fuses a multiply and an add (AVX-512 has
# FMA, so contraction is turned off), and all perform the same operations in
# the same order: they give bit-identical results.
from libc.stdint cimport int32_t, uint8_t, uint64_t

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

    /* 1 / (1 + exp(-x)) in float, written with integer selects instead of
     * branches or float comparisons so that loops over it vectorise.  With
     * a = min(|x|, 87) and e = exp(-a) (2^n * p(r), the Cephes minimax
     * polynomial), the result is 1 / (1 + e) for x >= 0 and e / (1 + e) for
     * x < 0, accurate to a relative 2e-7 on both tails. */
    static inline float nnf_sigmoidf(float x) {
        int32_t xb, ab, bits, n, sbits, qb, eqb, sb, neg;
        float a, t, r, fn, g, y, scale, e, q, eq, s;
        memcpy(&xb, &x, sizeof xb);
        ab = xb & 0x7FFFFFFF;                        /* |x| */
        ab = ab < 0x42AE0000 ? ab : 0x42AE0000;      /* min(|x|, 87.0f) */
        memcpy(&a, &ab, sizeof a);
        t = -a;
        r = t * 1.44269504088896341f + 12582912.0f;  /* round(t / ln 2) + 1.5 * 2^23 */
        memcpy(&bits, &r, sizeof bits);
        n = bits - 0x4B400000;
        fn = r - 12582912.0f;
        g = t - fn * 0.693359375f + fn * 2.12194440e-4f;
        y = 1.9875691500e-4f;
        y = y * g + 1.3981999507e-3f;
        y = y * g + 8.3334519073e-3f;
        y = y * g + 4.1665795894e-2f;
        y = y * g + 1.6666665459e-1f;
        y = y * g + 5.0000001201e-1f;
        y = y * g * g + g + 1.0f;
        sbits = (n + 127) << 23;                     /* 2^n */
        memcpy(&scale, &sbits, sizeof scale);
        e = y * scale;
        q = 1.0f / (1.0f + e);
        eq = e * q;
        memcpy(&qb, &q, sizeof qb);
        memcpy(&eqb, &eq, sizeof eqb);
        neg = -(int32_t) ((uint32_t) xb >> 31);      /* all ones when x < 0 */
        sb = (qb & ~neg) | (eqb & neg);
        memcpy(&s, &sb, sizeof s);
        return s;
    }

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

    /* The table pass shared by the kernels below: the indices from i (on
     * entry) to n whose flag byte (0 or 1) is set, appended to idx[0:m] in
     * increasing order.  Eight flags at a time become a bit mask whose set
     * bits a table lists: no branch depends on where the ones fall.
     * FLAG8(i) is the uint64_t of the eight flag bytes from i, FLAG1(i) the
     * flag of i alone. */
    #define NNF_FLAGS_TO_IDX(FLAG8, FLAG1)                                   \\
        for (; i + 8 <= n; i += 8) {                                         \\
            uint64_t f8 = FLAG8(i);                                          \\
            const uint8_t* pos;                                              \\
            int mask, l;                                                     \\
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
            m += FLAG1(i);                                                   \\
        }

    static inline uint64_t nnf_load8(const uint8_t* p) {
        uint64_t x;
        memcpy(&x, p, sizeof x);
        return x;
    }
    #define NNF_FLAG8(i) nnf_load8(flags + (i))
    #define NNF_FLAG1(i) flags[i]
    #define NNF_UNION8(i) (nnf_load8(f0 + (i)) | nnf_load8(f1 + (i)))
    #define NNF_UNION1(i) (f0[i] | f1[i])

    /* The indices i < n where a[i] is nonzero, written to idx; returns how
     * many.  flags[i] (n bytes) is set to 1 there and to 0 elsewhere, and
     * *binary to 1 when every a[i] is +0.0 or 1.0, else to 0.  The tests
     * are on the bits (U is the unsigned integer of T's size, ONE the bits
     * of 1.0): -0.0 counts as zero, NaN as nonzero, as with a[i] != 0.  The
     * flag loop vectorises. */
    #define NNF_NONZERO(T, U, ONE)                                           \\
        Py_ssize_t i, m = 0, nb = 0;                                         \\
        U x;                                                                 \\
        for (i = 0; i < n; i++) {                                            \\
            memcpy(&x, a + i, sizeof x);                                     \\
            flags[i] = (x << 1) != 0;                                        \\
            nb += (x == 0) | (x == ONE);                                     \\
        }                                                                    \\
        *binary = nb == n;                                                   \\
        i = 0;                                                               \\
        NNF_FLAGS_TO_IDX(NNF_FLAG8, NNF_FLAG1)                               \\
        return m;

    /* The Bernoulli sample sample[i] = (u[i] < p[i]) (1 or 0; u may be
     * sample itself), its flags (as NNF_NONZERO's) and the indices of its
     * ones in idx; returns how many ones.  Flags first, so that both loops
     * vectorise even when u is sample. */
    #define NNF_BERNOULLI(T)                                                 \\
        Py_ssize_t i, m = 0;                                                 \\
        for (i = 0; i < n; i++) flags[i] = u[i] < p[i];                      \\
        for (i = 0; i < n; i++) sample[i] = (T) flags[i];                    \\
        i = 0;                                                               \\
        NNF_FLAGS_TO_IDX(NNF_FLAG8, NNF_FLAG1)                               \\
        return m;

    /* The indices i < n where f0[i] or f1[i] is set (flags of two vectors),
     * written to idx; returns how many. */
    #define NNF_UNION                                                        \\
        Py_ssize_t i = 0, m = 0;                                             \\
        NNF_FLAGS_TO_IDX(NNF_UNION8, NNF_UNION1)                             \\
        return m;

    /* out[0:ld] = the sum over t < n of v[idx[t]] * WT[idx[t]], four rows
     * at a time: out[j] starts at 0 and adds
     * (a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j]) for each group of
     * four rows, then a0 * w0[j] for each of the last n % 4.  When ``ones``
     * (every v[idx[t]] is exactly 1, as for binary v) nothing is
     * multiplied: 1 * w is w.
     *
     * With GCC or Clang the columns go by blocks of eight vectors of VT
     * (the width of the instruction set), whose sums stay in registers while
     * the rows go by, then any last columns one vector at a time.  Other
     * compilers run the same arithmetic on scalars. */
    #if defined(__GNUC__) || defined(__clang__)
    #define NNF_VECTORS 1
    typedef float nnf_vf4 __attribute__((vector_size(16)));
    typedef float nnf_vf8 __attribute__((vector_size(32)));
    typedef float nnf_vf16 __attribute__((vector_size(64)));
    typedef double nnf_vd2 __attribute__((vector_size(16)));
    typedef double nnf_vd4 __attribute__((vector_size(32)));
    typedef double nnf_vd8 __attribute__((vector_size(64)));

    /* acc[0:NV] += the rows of group t (columns from jb), NV vectors of VT;
     * ONES (a constant) says that every coefficient is 1. */
    #define NNF_SUM_GROUP(T, VT, NV, ONES)                                   \\
        {                                                                    \\
            const T* w0 = wt + idx[t] * ld + jb;                             \\
            const T* w1 = wt + idx[t + 1] * ld + jb;                         \\
            const T* w2 = wt + idx[t + 2] * ld + jb;                         \\
            const T* w3 = wt + idx[t + 3] * ld + jb;                         \\
            for (q = 0; q < NV; q++) {                                       \\
                VT x0, x1, x2, x3;                                           \\
                memcpy(&x0, w0 + q * L, sizeof x0);                          \\
                memcpy(&x1, w1 + q * L, sizeof x1);                          \\
                memcpy(&x2, w2 + q * L, sizeof x2);                          \\
                memcpy(&x3, w3 + q * L, sizeof x3);                          \\
                if (ONES)                                                    \\
                    acc[q] += (x0 + x1) + (x2 + x3);                         \\
                else                                                         \\
                    acc[q] += (v[idx[t]] * x0 + v[idx[t + 1]] * x1)          \\
                        + (v[idx[t + 2]] * x2 + v[idx[t + 3]] * x3);         \\
            }                                                                \\
        }
    #define NNF_SUM_ONE(T, VT, NV, ONES)                                     \\
        {                                                                    \\
            const T* w0 = wt + idx[t] * ld + jb;                             \\
            for (q = 0; q < NV; q++) {                                       \\
                VT x0;                                                       \\
                memcpy(&x0, w0 + q * L, sizeof x0);                          \\
                acc[q] += ONES ? x0 : v[idx[t]] * x0;                        \\
            }                                                                \\
        }
    #define NNF_SUM_COLUMNS(T, VT, NV, ONES)                                 \\
        {                                                                    \\
            VT acc[NV];                                                      \\
            for (q = 0; q < NV; q++) acc[q] = (VT) {0};                      \\
            for (t = 0; t + 4 <= n; t += 4) NNF_SUM_GROUP(T, VT, NV, ONES)   \\
            for (; t < n; t++) NNF_SUM_ONE(T, VT, NV, ONES)                  \\
            memcpy(out + jb, acc, sizeof acc);                               \\
        }
    #define NNF_SUM_BLOCKS(T, VT, ONES)                                      \\
        for (jb = 0; jb + 8 * L <= ld; jb += 8 * L) NNF_SUM_COLUMNS(T, VT, 8, ONES) \\
        for (; jb < ld; jb += L) NNF_SUM_COLUMNS(T, VT, 1, ONES)
    #define NNF_SUM_ROWS(T, VT)                                              \\
        enum { L = sizeof(VT) / sizeof(T) };                                 \\
        Py_ssize_t t, jb;                                                    \\
        int q;                                                               \\
        if (ones) {                                                          \\
            NNF_SUM_BLOCKS(T, VT, 1)                                         \\
        } else {                                                             \\
            NNF_SUM_BLOCKS(T, VT, 0)                                         \\
        }
    #else
    #define NNF_SUM_ROWS(T, VT)                                              \\
        Py_ssize_t t = 0, j;                                                 \\
        for (j = 0; j < ld; j++) out[j] = 0;                                 \\
        for (; t + 4 <= n; t += 4) {                                         \\
            const T* w0 = wt + idx[t] * ld;                                  \\
            const T* w1 = wt + idx[t + 1] * ld;                              \\
            const T* w2 = wt + idx[t + 2] * ld;                              \\
            const T* w3 = wt + idx[t + 3] * ld;                              \\
            T a0 = v[idx[t]], a1 = v[idx[t + 1]];                            \\
            T a2 = v[idx[t + 2]], a3 = v[idx[t + 3]];                        \\
            for (j = 0; j < ld; j++)                                         \\
                out[j] += (a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j]); \\
        }                                                                    \\
        for (; t < n; t++) {                                                 \\
            const T* w0 = wt + idx[t] * ld;                                  \\
            T a0 = v[idx[t]];                                                \\
            for (j = 0; j < ld; j++) out[j] += a0 * w0[j];                   \\
        }
    #endif


    /* WT[i] += (lr * v0[i]) * h0 + (lr * vk[i]) * neg_hk for the n rows i
     * in rows (h0 and neg_hk have ld entries).  Where v0[i] and vk[i] are
     * each +0.0 or 1.0 (binary data; U is the unsigned integer of T's size,
     * ONE the bits of 1.0), the row adds one of three vectors computed first
     * into tab (scratch of 3 * ld entries) by the same operations: the same
     * bits for a quarter of the arithmetic. */
    #define NNF_ADD_ROWS(T, U, ONE)                                          \\
        Py_ssize_t t, j;                                                     \\
        const T one = 1, zero = 0;                                           \\
        const T a1 = lr * one, a0 = lr * zero;                               \\
        for (j = 0; j < ld; j++) {                                           \\
            tab[j] = a1 * h0[j] + a0 * neg_hk[j];          /* (1, 0) */      \\
            tab[ld + j] = a0 * h0[j] + a1 * neg_hk[j];     /* (0, 1) */      \\
            tab[2 * ld + j] = a1 * h0[j] + a1 * neg_hk[j]; /* (1, 1) */      \\
        }                                                                    \\
        for (t = 0; t < n; t++) {                                            \\
            T* __restrict w = wt + rows[t] * ld;                             \\
            U x, y;                                                          \\
            int bx, by;                                                      \\
            memcpy(&x, v0 + rows[t], sizeof x);                              \\
            memcpy(&y, vk + rows[t], sizeof y);                              \\
            bx = x == ONE;                                                   \\
            by = y == ONE;                                                   \\
            /* Bit operations, not && or ||: no branch on each value. */     \\
            if ((bx | (x == 0)) & (by | (y == 0)) & (bx | by)) {             \\
                const T* __restrict g = tab + (bx + 2 * by - 1) * ld;        \\
                for (j = 0; j < ld; j++) w[j] += g[j];                       \\
            } else {                                                         \\
                T a = lr * v0[rows[t]], b = lr * vk[rows[t]];                \\
                for (j = 0; j < ld; j++) w[j] += a * h0[j] + b * neg_hk[j];  \\
            }                                                                \\
        }

    /* p[j] = sigmoid(p[j] + bias[j]) for j < n (float; the double sigmoid
     * calls exp). */
    #define NNF_SIGMOID_ROW                                                  \\
        Py_ssize_t j;                                                        \\
        for (j = 0; j < n; j++) p[j] = nnf_sigmoidf(p[j] + bias[j]);

    /* out[:n] = uniforms in [0, 1) of the stream (key, stream): eight
     * interleaved xoshiro128+ generators (one per lane), seeded by splitmix64
     * from (key, stream); the top 24 bits of each 32-bit output make a float.
     * Integer arithmetic and an exact scaling: every instruction set gives
     * the same floats. */
    static inline uint64_t nnf_splitmix64(uint64_t* x) {
        uint64_t z;
        *x += 0x9E3779B97F4A7C15ULL;
        z = *x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    #define NNF_LANES_SEED                                                   \\
        uint64_t x = key ^ (stream * 0xD1B54A32D192ED03ULL);                 \\
        int l;                                                               \\
        x = nnf_splitmix64(&x) ^ stream;                                     \\
        for (l = 0; l < 8; l++) {                                            \\
            uint64_t a = nnf_splitmix64(&x), b = nnf_splitmix64(&x);         \\
            s0[l] = (uint32_t) a; s1[l] = (uint32_t) (a >> 32);              \\
            s2[l] = (uint32_t) b; s3[l] = (uint32_t) (b >> 32) | 1u;         \\
        }
    #if defined(__GNUC__) || defined(__clang__)
    typedef uint32_t nnf_u32x8 __attribute__((vector_size(32)));
    typedef int32_t nnf_i32x8 __attribute__((vector_size(32)));
    typedef float nnf_f32x8 __attribute__((vector_size(32)));
    #define NNF_UNIFORM_ROW                                                  \\
        nnf_u32x8 s0, s1, s2, s3, r, t;                                      \\
        nnf_f32x8 f;                                                         \\
        Py_ssize_t j;                                                        \\
        NNF_LANES_SEED                                                       \\
        for (j = 0; j < n; j += 8) {                                         \\
            r = s0 + s3;                                                     \\
            f = __builtin_convertvector((nnf_i32x8) (r >> 8), nnf_f32x8)     \\
                * 5.9604644775390625e-08f;                                   \\
            memcpy(out + j, &f, (j + 8 <= n ? 8 : n - j) * sizeof(float));   \\
            t = s1 << 9;                                                     \\
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;                 \\
            s3 = (s3 << 11) | (s3 >> 21);                                    \\
        }
    #else
    #define NNF_UNIFORM_ROW                                                  \\
        uint32_t s0[8], s1[8], s2[8], s3[8], t;                              \\
        Py_ssize_t j;                                                        \\
        NNF_LANES_SEED                                                       \\
        for (j = 0; j < n; j += 8) {                                         \\
            for (l = 0; l < 8; l++) {                                        \\
                if (j + l < n)                                               \\
                    out[j + l] = (float) (int32_t) ((s0[l] + s3[l]) >> 8)    \\
                        * 5.9604644775390625e-08f;                           \\
                t = s1[l] << 9;                                              \\
                s2[l] ^= s0[l]; s3[l] ^= s1[l]; s1[l] ^= s2[l];              \\
                s0[l] ^= s3[l]; s2[l] ^= t;                                  \\
                s3[l] = (s3[l] << 11) | (s3[l] >> 21);                       \\
            }                                                                \\
        }
    #endif
    #define NNF_UNIFORM_ROW_ARGS (uint64_t key, uint64_t stream, float* out, Py_ssize_t n)

    #define NNF_UNION_ARGS                                                   \\
        (const uint8_t* f0, const uint8_t* f1, Py_ssize_t n, int32_t* __restrict idx)
    #define NNF_NONZERO_ARGS(T)                                              \\
        (const T* a, Py_ssize_t n, uint8_t* __restrict flags, int32_t* __restrict idx, \\
         int* binary)
    #define NNF_BERNOULLI_ARGS(T)                                            \\
        (const T* p, const T* u, T* sample, Py_ssize_t n, uint8_t* __restrict flags, \\
         int32_t* __restrict idx)
    #define NNF_SUM_ROWS_ARGS(T)                                             \\
        (const T* __restrict wt, Py_ssize_t ld, const T* v, const int32_t* idx, \\
         Py_ssize_t n, int ones, T* __restrict out)
    #define NNF_ADD_ROWS_ARGS(T)                                             \\
        (T* __restrict wt, Py_ssize_t ld, const int32_t* rows, Py_ssize_t n, \\
         T lr, const T* v0, const T* vk, const T* __restrict h0,             \\
         const T* __restrict neg_hk, T* __restrict tab)

    /* The kernels of one instruction set; VF and VD are its float and
     * double vectors. */
    #define NNF_RBM_KERNELS(TAG, ATTR, VF, VD)                               \\
        ATTR static void nnf_sigmoid_row_f32_##TAG                           \\
            (float* p, const float* bias, Py_ssize_t n) { NNF_SIGMOID_ROW }  \\
        ATTR static void nnf_uniform_row_f32_##TAG NNF_UNIFORM_ROW_ARGS      \\
            { NNF_UNIFORM_ROW }                                              \\
        ATTR static Py_ssize_t nnf_nonzero_f32_##TAG NNF_NONZERO_ARGS(float) \\
            { NNF_NONZERO(float, uint32_t, 0x3F800000u) }                    \\
        ATTR static Py_ssize_t nnf_nonzero_f64_##TAG NNF_NONZERO_ARGS(double) \\
            { NNF_NONZERO(double, uint64_t, 0x3FF0000000000000ull) }         \\
        ATTR static Py_ssize_t nnf_bernoulli_f32_##TAG NNF_BERNOULLI_ARGS(float) \\
            { NNF_BERNOULLI(float) }                                         \\
        ATTR static Py_ssize_t nnf_bernoulli_f64_##TAG NNF_BERNOULLI_ARGS(double) \\
            { NNF_BERNOULLI(double) }                                        \\
        ATTR static void nnf_sum_rows_f32_##TAG NNF_SUM_ROWS_ARGS(float)     \\
            { NNF_SUM_ROWS(float, VF) }                                      \\
        ATTR static void nnf_sum_rows_f64_##TAG NNF_SUM_ROWS_ARGS(double)    \\
            { NNF_SUM_ROWS(double, VD) }                                     \\
        ATTR static void nnf_add_rows_f32_##TAG NNF_ADD_ROWS_ARGS(float)     \\
            { NNF_ADD_ROWS(float, uint32_t, 0x3F800000u) }                   \\
        ATTR static void nnf_add_rows_f64_##TAG NNF_ADD_ROWS_ARGS(double)    \\
            { NNF_ADD_ROWS(double, uint64_t, 0x3FF0000000000000ull) }        \\
        ATTR static Py_ssize_t nnf_union_##TAG NNF_UNION_ARGS { NNF_UNION }

    typedef struct {
        void (*sigmoid_row_f32)(float* p, const float* bias, Py_ssize_t n);
        void (*uniform_row_f32) NNF_UNIFORM_ROW_ARGS;
        Py_ssize_t (*nonzero_f32) NNF_NONZERO_ARGS(float);
        Py_ssize_t (*nonzero_f64) NNF_NONZERO_ARGS(double);
        Py_ssize_t (*bernoulli_f32) NNF_BERNOULLI_ARGS(float);
        Py_ssize_t (*bernoulli_f64) NNF_BERNOULLI_ARGS(double);
        void (*sum_rows_f32) NNF_SUM_ROWS_ARGS(float);
        void (*sum_rows_f64) NNF_SUM_ROWS_ARGS(double);
        void (*add_rows_f32) NNF_ADD_ROWS_ARGS(float);
        void (*add_rows_f64) NNF_ADD_ROWS_ARGS(double);
        Py_ssize_t (*union_idx) NNF_UNION_ARGS;
    } nnf_rbm_simd_t;

    /* The table of the kernels of TAG, with the float searches (nonzero
     * entries, visible sample, union of flags) of SEARCH. */
    #define NNF_RBM_TABLE(TAG, SEARCH) {                                     \\
        nnf_sigmoid_row_f32_##TAG, nnf_uniform_row_f32_##TAG,                \\
        nnf_nonzero_f32_##SEARCH, nnf_nonzero_f64_##TAG,                     \\
        nnf_bernoulli_f32_##SEARCH, nnf_bernoulli_f64_##TAG,                 \\
        nnf_sum_rows_f32_##TAG, nnf_sum_rows_f64_##TAG,                      \\
        nnf_add_rows_f32_##TAG, nnf_add_rows_f64_##TAG,                      \\
        nnf_union_##SEARCH }

    #ifdef NNF_VECTORS
    NNF_RBM_KERNELS(base, NNF_NO_CONTRACT, nnf_vf4, nnf_vd2)
    #else
    NNF_RBM_KERNELS(base, NNF_NO_CONTRACT, float, double)
    #endif
    static const nnf_rbm_simd_t nnf_rbm_simd_base = NNF_RBM_TABLE(base, base);

    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #define NNF_RBM_DISPATCH 1
    NNF_RBM_KERNELS(avx2, __attribute__((target("avx2"))) NNF_NO_CONTRACT, nnf_vf8, nnf_vd4)
    NNF_RBM_KERNELS(avx512, __attribute__((target("avx512f"))) NNF_NO_CONTRACT, nnf_vf16,
                    nnf_vd8)

    /* AVX-512 searches over floats: sixteen entries at a time, a compare
     * giving a bit mask, the indices of its set bits packed together by a
     * compress instruction; the last n % 16 one at a time.  The flags,
     * samples, indices and counts are those of the table pass. */
    #include <immintrin.h>
    #define NNF_AVX512 __attribute__((target("avx512f,popcnt")))
    /* Flags (bytes 0 or 1) of the mask s at flags + i; the indices of its set
     * bits (iota holds i .. i + 15) appended to idx[0:m]. */
    #define NNF_MASK_TO_IDX(s)                                               \\
        _mm_storeu_si128((__m128i*) (flags + i),                             \\
                         _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(s, one32))); \\
        /* m <= i: the sixteen entries stored stay below n. */              \\
        _mm512_storeu_si512(idx + m, _mm512_maskz_compress_epi32(s, iota));  \\
        m += __builtin_popcount((unsigned) s);                               \\
        iota = _mm512_add_epi32(iota, sixteen);
    #define NNF_AVX512_SETUP                                                 \\
        const __m512i one32 = _mm512_set1_epi32(1);                          \\
        const __m512i sixteen = _mm512_set1_epi32(16);                       \\
        __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, \\
                                         12, 13, 14, 15);                    \\
        Py_ssize_t i = 0, m = 0;

    NNF_AVX512 static Py_ssize_t nnf_nonzero_f32_avx512c NNF_NONZERO_ARGS(float) {
        NNF_AVX512_SETUP
        const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
        const __m512i one_bits = _mm512_set1_epi32(0x3F800000);
        Py_ssize_t nb = 0;
        uint32_t x;
        for (; i + 16 <= n; i += 16) {
            __m512i v = _mm512_loadu_si512(a + i);
            __mmask16 s = _mm512_test_epi32_mask(v, magnitude);
            __mmask16 b = _mm512_cmpeq_epi32_mask(v, _mm512_setzero_si512())
                | _mm512_cmpeq_epi32_mask(v, one_bits);
            nb += __builtin_popcount((unsigned) b);
            NNF_MASK_TO_IDX(s)
        }
        for (; i < n; i++) {
            memcpy(&x, a + i, sizeof x);
            flags[i] = (x << 1) != 0;
            nb += (x == 0) | (x == 0x3F800000u);
            idx[m] = (int32_t) i;
            m += flags[i];
        }
        *binary = nb == n;
        return m;
    }

    NNF_AVX512 static Py_ssize_t nnf_bernoulli_f32_avx512c NNF_BERNOULLI_ARGS(float) {
        NNF_AVX512_SETUP
        const __m512 one = _mm512_set1_ps(1.0f);
        for (; i + 16 <= n; i += 16) {
            /* u < p, false for NaN as in C. */
            __mmask16 s = _mm512_cmp_ps_mask(_mm512_loadu_ps(u + i), _mm512_loadu_ps(p + i),
                                             _CMP_LT_OQ);
            _mm512_storeu_ps(sample + i, _mm512_maskz_mov_ps(s, one));
            NNF_MASK_TO_IDX(s)
        }
        for (; i < n; i++) {
            flags[i] = u[i] < p[i];
            sample[i] = (float) flags[i];
            idx[m] = (int32_t) i;
            m += flags[i];
        }
        return m;
    }

    NNF_AVX512 static Py_ssize_t nnf_union_avx512c NNF_UNION_ARGS {
        NNF_AVX512_SETUP
        for (; i + 16 <= n; i += 16) {
            __m128i f = _mm_or_si128(_mm_loadu_si128((const __m128i*) (f0 + i)),
                                     _mm_loadu_si128((const __m128i*) (f1 + i)));
            __mmask16 s = _mm512_test_epi32_mask(_mm512_cvtepu8_epi32(f), one32);
            _mm512_storeu_si512(idx + m, _mm512_maskz_compress_epi32(s, iota));
            m += __builtin_popcount((unsigned) s);
            iota = _mm512_add_epi32(iota, sixteen);
        }
        for (; i < n; i++) {
            idx[m] = (int32_t) i;
            m += f0[i] | f1[i];
        }
        return m;
    }

    static const nnf_rbm_simd_t nnf_rbm_simd_avx2 = NNF_RBM_TABLE(avx2, avx2);
    static const nnf_rbm_simd_t nnf_rbm_simd_avx512 = NNF_RBM_TABLE(avx512, avx512c);
    #endif

    static nnf_rbm_simd_t nnf_rbm_simd = NNF_RBM_TABLE(base, base);

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
    ctypedef void (*nnf_sigmoid_row_f32_t)(float*, const float*, Py_ssize_t) noexcept nogil
    ctypedef void (*nnf_uniform_row_f32_t)(uint64_t, uint64_t, float*, Py_ssize_t) noexcept nogil
    ctypedef Py_ssize_t (*nnf_nonzero_f32_t)(const float*, Py_ssize_t, uint8_t*, int32_t*,
                                             int*) noexcept nogil
    ctypedef Py_ssize_t (*nnf_nonzero_f64_t)(const double*, Py_ssize_t, uint8_t*, int32_t*,
                                             int*) noexcept nogil
    ctypedef Py_ssize_t (*nnf_bernoulli_f32_t)(const float*, const float*, float*, Py_ssize_t,
                                               uint8_t*, int32_t*) noexcept nogil
    ctypedef Py_ssize_t (*nnf_bernoulli_f64_t)(const double*, const double*, double*,
                                               Py_ssize_t, uint8_t*, int32_t*) noexcept nogil
    ctypedef void (*nnf_sum_rows_f32_t)(const float*, Py_ssize_t, const float*, const int32_t*,
                                        Py_ssize_t, int, float*) noexcept nogil
    ctypedef void (*nnf_sum_rows_f64_t)(const double*, Py_ssize_t, const double*,
                                        const int32_t*, Py_ssize_t, int, double*) noexcept nogil
    ctypedef void (*nnf_add_rows_f32_t)(float*, Py_ssize_t, const int32_t*, Py_ssize_t, float,
                                        const float*, const float*, const float*,
                                        const float*, float*) noexcept nogil
    ctypedef void (*nnf_add_rows_f64_t)(double*, Py_ssize_t, const int32_t*, Py_ssize_t,
                                        double, const double*, const double*, const double*,
                                        const double*, double*) noexcept nogil

    ctypedef Py_ssize_t (*nnf_union_t)(const uint8_t*, const uint8_t*, Py_ssize_t,
                                       int32_t*) noexcept nogil

    ctypedef struct nnf_rbm_simd_t:
        nnf_sigmoid_row_f32_t sigmoid_row_f32
        nnf_uniform_row_f32_t uniform_row_f32
        nnf_nonzero_f32_t nonzero_f32
        nnf_nonzero_f64_t nonzero_f64
        nnf_bernoulli_f32_t bernoulli_f32
        nnf_bernoulli_f64_t bernoulli_f64
        nnf_sum_rows_f32_t sum_rows_f32
        nnf_sum_rows_f64_t sum_rows_f64
        nnf_add_rows_f32_t add_rows_f32
        nnf_add_rows_f64_t add_rows_f64
        nnf_union_t union_idx

    nnf_rbm_simd_t nnf_rbm_simd
    float nnf_sigmoidf(float x) noexcept nogil
    int nnf_rbm_select(int max_level) noexcept nogil
    void nnf_prefetch(const void* p, Py_ssize_t n) noexcept nogil
