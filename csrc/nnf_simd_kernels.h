/* Kernels compiled for three instruction sets, chosen at import; compiled
 * into the module nnfast._simd only (every other module reaches the table
 * through nnf_simd.h).
 *
 * Some elementwise work runs at the speed of the vector unit rather than
 * of memory, so it gains from wider vectors: the exponential (softmax,
 * cross-entropy, sigmoid), tanh, the optimizer updates with a square root and a
 * division per element (Adam, AdamW, RMSprop, Adagrad, Adadelta), the
 * squared error and the activations' derivatives (whose baseline loops
 * were scalar: a float reduction, a float select), and the
 * rows of uniform random numbers (dropout masks, RBM samples), and the
 * RBM's sparse row kernels (below).  Each kernel is written
 * once below as a C macro and compiled as a baseline function and, with GCC
 * or Clang on x86-64, as AVX2 and AVX-512 versions; nnf_simd_select()
 * copies the widest set the CPU (and the OS) supports into nnf_simd_table.
 * Every version performs the same IEEE operations in the same order (the
 * build turns off the fusing of multiplies and adds) and gives bit-identical
 * results.
 *
 * The optimizer arithmetic follows the reference formulas of the ops term
 * by term (weight decay added to the gradient first, ``(1 - beta) * g * g``
 * as ``((1 - beta) * g) * g``), with the scalars already rounded to the
 * array's dtype by the caller.
 *
 * The exponential is written without libm (whose calls keep a loop scalar)
 * and without selects in its arithmetic (which GCC will not vectorise under
 * the default -ftrapping-math): with ``x = k ln2 + r``, ``|r| <= ln2 / 2``,
 * ``exp(x) = 2^k e^r``.  Adding 1.5 * 2^mantissa_bits rounds ``x / ln2`` to
 * the integer ``k`` and leaves it in the low mantissa bits, from which the
 * power of two is assembled as exponent bits; ``ln2`` is split in two
 * (Cody-Waite) so that ``r`` is exact, and ``e^r`` is its Taylor series
 * truncated below half an ulp.  ``2^k`` is applied as two factors, each a
 * normal number, so that results below the normal range underflow gradually
 * to subnormals and 0 as numpy's do.  Arguments are first clamped (by a
 * plain select stored to memory, which does vectorise) to where ``k`` stays
 * in range; NaN passes through. */
#ifndef NNF_SIMD_KERNELS_H
#define NNF_SIMD_KERNELS_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nnf_simd.h"

#define NNF_DECAYED(T)                                                   \
    T gi = g[i];                                                         \
    if (wd != 0) gi = gi + wd * p[i];

#define NNF_ADAM(T, SQRT) {                                              \
    Py_ssize_t i;                                                        \
    for (i = 0; i < n; i++) {                                            \
        NNF_DECAYED(T)                                                   \
        T mi = m[i] * b1 + omb1 * gi;                                    \
        T vi = v[i] * b2 + omb2 * gi * gi;                               \
        m[i] = mi;                                                       \
        v[i] = vi;                                                       \
        p[i] = p[i] - lr_c1 * mi / (SQRT(vi * c2) + eps);                \
    }                                                                    \
}
/* AdamW: the parameter first shrinks by keep = 1 - lr * weight_decay, then
 * Adam's step on the gradient alone. */
#define NNF_ADAMW(T, SQRT) {                                             \
    Py_ssize_t i;                                                        \
    for (i = 0; i < n; i++) {                                            \
        T gi = g[i];                                                     \
        T mi = m[i] * b1 + omb1 * gi;                                    \
        T vi = v[i] * b2 + omb2 * gi * gi;                               \
        m[i] = mi;                                                       \
        v[i] = vi;                                                       \
        p[i] = p[i] * keep - lr_c1 * mi / (SQRT(vi * c2) + eps);         \
    }                                                                    \
}
#define NNF_RMSPROP(T, SQRT) {                                           \
    Py_ssize_t i;                                                        \
    for (i = 0; i < n; i++) {                                            \
        NNF_DECAYED(T)                                                   \
        T si = sq[i] * rho + omrho * gi * gi;                            \
        sq[i] = si;                                                      \
        p[i] = p[i] - lr * gi / (SQRT(si) + eps);                        \
    }                                                                    \
}
#define NNF_ADAGRAD(T, SQRT) {                                           \
    Py_ssize_t i;                                                        \
    for (i = 0; i < n; i++) {                                            \
        NNF_DECAYED(T)                                                   \
        T ai = acc[i] + gi * gi;                                         \
        acc[i] = ai;                                                     \
        p[i] = p[i] - lr * gi / (SQRT(ai) + eps);                        \
    }                                                                    \
}
#define NNF_ADADELTA(T, SQRT) {                                          \
    Py_ssize_t i;                                                        \
    for (i = 0; i < n; i++) {                                            \
        NNF_DECAYED(T)                                                   \
        T egi = eg[i] * rho + omrho * gi * gi;                           \
        eg[i] = egi;                                                     \
        T di = SQRT(ed[i] + eps) / SQRT(egi + eps) * gi;                 \
        ed[i] = ed[i] * rho + omrho * di * di;                           \
        p[i] = p[i] - lr * di;                                           \
    }                                                                    \
}

/* exp(x) for NaN or LO <= x <= 0, where exp(LO) underflows to 0. */
static inline float nnf_exp_core_f32(float x) {
    union { float f; uint32_t u; } t, h, s1, s2;
    float kf, r, p;
    t.f = x * 1.44269504088896341f + 12582912.0f;     /* 1.5 * 2^23 */
    kf = t.f - 12582912.0f;
    r = (x - kf * 0.693145751953125f) - kf * 1.42860682030941723e-6f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (
        1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    h.f = kf * 0.5f + 12582912.0f;                    /* round(k / 2) */
    s1.u = (h.u - 0x4B400000u + 127u) << 23;          /* 2^round(k/2) */
    s2.u = (t.u - h.u + 127u) << 23;                  /* 2^(k - round(k/2)) */
    return p * s1.f * s2.f;
}
static inline double nnf_exp_core_f64(double x) {
    union { double f; uint64_t u; } t, h, s1, s2;
    double kf, r, p;
    t.f = x * 1.44269504088896341 + 6755399441055744.0; /* 1.5 * 2^52 */
    kf = t.f - 6755399441055744.0;
    r = (x - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120
        + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880
        + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600
        + r * (1.0 / 6227020800.0)))))))))))));
    h.f = kf * 0.5 + 6755399441055744.0;
    s1.u = (h.u - 0x4338000000000000ull + 1023u) << 52;
    s2.u = (t.u - h.u + 1023u) << 52;
    return p * s1.f * s2.f;
}
/* Below LO the clamped result is 0 after rounding: exp(-175) < 2^-252. */
#define NNF_EXP_LO_f32 (-175.0f)
#define NNF_EXP_LO_f64 (-1416.0)

/* y = sigmoid(x + bias) (x alone when bias is NULL; y may be x): 1 / (1 + e)
 * where x + bias >= 0 and e / (1 + e) below, e = exp(-|x + bias|), in blocks. */
#define NNF_SIGMOID(T, SUF, FABS) {                                      \
    T a[256], e[256];                                                    \
    Py_ssize_t s, i, m;                                                  \
    for (s = 0; s < n; s += 256) {                                       \
        m = n - s < 256 ? n - s : 256;                                   \
        if (bias != NULL)                                                \
            for (i = 0; i < m; i++) a[i] = x[s + i] + bias[s + i];       \
        else                                                             \
            for (i = 0; i < m; i++) a[i] = x[s + i];                     \
        for (i = 0; i < m; i++) {                                        \
            T t = -FABS(a[i]);                                           \
            e[i] = t < NNF_EXP_LO_##SUF ? NNF_EXP_LO_##SUF : t;          \
        }                                                                \
        for (i = 0; i < m; i++) e[i] = nnf_exp_core_##SUF(e[i]);         \
        for (i = 0; i < m; i++)                                          \
            y[s + i] = (a[i] >= 0 ? (T) 1 : e[i]) / (1 + e[i]);          \
    }                                                                    \
}

/* y = tanh(x) (y may be x), in blocks: sign(x) (1 - e) / (1 + e) with
 * e = exp(-2|x|), whose error is that of 1 - e, a few ulps of y once
 * |x| > 1/8; at or below 1/8, the odd Taylor series cut below half an ulp.
 * Both are computed and the result chosen on the bits of |x| (an integer
 * select vectorises where a float one does not under -ftrapping-math). */
#define NNF_TANH_POLY_f32(q) ((-1.0f / 3) + q * ((2.0f / 15) + q * ((-17.0f / 315)         \
    + q * (62.0f / 2835))))
#define NNF_TANH_POLY_f64(q) ((-1.0 / 3) + q * ((2.0 / 15) + q * ((-17.0 / 315)            \
    + q * ((62.0 / 2835) + q * ((-1382.0 / 155925) + q * ((21844.0 / 6081075)            \
    + q * (-929569.0 / 638512875)))))))
#define NNF_TANH(T, U, SUF, FABS, COPYSIGN, ABS_BITS, SMALL_BITS) {          \
    T e[256];                                                            \
    Py_ssize_t s, i, m;                                                  \
    for (s = 0; s < n; s += 256) {                                       \
        m = n - s < 256 ? n - s : 256;                                   \
        for (i = 0; i < m; i++) {                                        \
            T a = -2 * FABS(x[s + i]);                                   \
            e[i] = a < NNF_EXP_LO_##SUF ? NNF_EXP_LO_##SUF : a;          \
        }                                                                \
        for (i = 0; i < m; i++) e[i] = nnf_exp_core_##SUF(e[i]);         \
        for (i = 0; i < m; i++) {                                        \
            T xi = x[s + i], q = xi * xi, p, t;                          \
            U xb, pb, tb, mask;                                          \
            p = COPYSIGN(xi + xi * q * NNF_TANH_POLY_##SUF(q), xi);     \
            t = COPYSIGN((1 - e[i]) / (1 + e[i]), xi);                   \
            memcpy(&xb, &xi, sizeof xb);                                 \
            memcpy(&pb, &p, sizeof pb);                                  \
            memcpy(&tb, &t, sizeof tb);                                  \
            mask = (U) 0 - (U) ((xb & ABS_BITS) <= SMALL_BITS);          \
            xb = (pb & mask) | (tb & ~mask);                             \
            memcpy(y + s + i, &xb, sizeof xb);                           \
        }                                                                \
    }                                                                    \
}

/* The binary cross-entropy of sigmoid(z) against t, summed in double:
 * max(z, 0) - z t + log(1 + e), e = exp(-|z|); and its gradient
 * g = (sigmoid(z) - t) / size (g may be z or t).  log(1 + e) for e in
 * [0, 1] is 2 atanh(s), s = e / (2 + e) <= 1/3, its series cut below half
 * an ulp.  In blocks: the exponentials, then one loop writing the gradient
 * and each element's term, then the terms added into 16 partial sums (the
 * same order for every instruction set). */
#define NNF_LOG1P_SERIES_f32(q) (1.0f + q * ((1.0f / 3) + q * ((1.0f / 5) + q * ((1.0f / 7)    \
    + q * ((1.0f / 9) + q * ((1.0f / 11) + q * ((1.0f / 13) + q * (1.0f / 15))))))))
#define NNF_LOG1P_SERIES_f64(q) (1.0 + q * (1.0 / 3 + q * (1.0 / 5 + q * (1.0 / 7             \
    + q * (1.0 / 9 + q * (1.0 / 11 + q * (1.0 / 13 + q * (1.0 / 15 + q * (1.0 / 17       \
    + q * (1.0 / 19 + q * (1.0 / 21 + q * (1.0 / 23 + q * (1.0 / 25 + q * (1.0 / 27      \
    + q * (1.0 / 29 + q * (1.0 / 31 + q * (1.0 / 33)))))))))))))))))
#define NNF_BCE(T, SUF, FABS) {                                          \
    T e[512], term[512];                                                 \
    double acc[16], total = 0;                                           \
    Py_ssize_t s, i, j, m;                                               \
    for (j = 0; j < 16; j++) acc[j] = 0;                                 \
    for (s = 0; s < n; s += 512) {                                       \
        m = n - s < 512 ? n - s : 512;                                   \
        for (i = 0; i < m; i++) {                                        \
            T a = -FABS(z[s + i]);                                       \
            e[i] = a < NNF_EXP_LO_##SUF ? NNF_EXP_LO_##SUF : a;          \
        }                                                                \
        for (i = 0; i < m; i++) e[i] = nnf_exp_core_##SUF(e[i]);         \
        for (i = 0; i < m; i++) {                                        \
            T zi = z[s + i], ti = t[s + i], ei = e[i];                   \
            T pos = zi < 0 ? (T) 0 : zi;                                 \
            T p = (zi >= 0 ? (T) 1 : ei) / (1 + ei);                     \
            T h = ei / (2 + ei), q = h * h;                              \
            g[s + i] = (p - ti) / size;                                  \
            term[i] = pos - zi * ti + 2 * h * NNF_LOG1P_SERIES_##SUF(q); \
        }                                                                \
        for (i = 0; i + 16 <= m; i += 16)                                \
            for (j = 0; j < 16; j++) acc[j] += (double) term[i + j];     \
        for (; i < m; i++) total += (double) term[i];                    \
    }                                                                    \
    for (j = 0; j < 16; j++) total += acc[j];                            \
    return total;                                                        \
}

/* Summed (p - t)^2 and g = (p - t) * scale (g may be p or t): sixteen
 * partial sums in double over the whole blocks of sixteen, then the rest. */
#define NNF_MSE(T) {                                                     \
    double acc[16], total = 0;                                           \
    Py_ssize_t i, j;                                                     \
    for (j = 0; j < 16; j++) acc[j] = 0;                                 \
    for (i = 0; i + 16 <= n; i += 16)                                    \
        for (j = 0; j < 16; j++) {                                       \
            T d = p[i + j] - t[i + j];                                   \
            g[i + j] = d * scale;                                        \
            acc[j] += (double) (d * d);                                  \
        }                                                                \
    for (j = 0; j < 16; j++) total += acc[j];                            \
    for (; i < n; i++) {                                                 \
        T d = p[i] - t[i];                                               \
        g[i] = d * scale;                                                \
        total += (double) (d * d);                                       \
    }                                                                    \
    return total;                                                        \
}

/* dz = dy * f'(.) written in terms of the output y, for the sigmoid (kind
 * 1), tanh (2) and ReLU (3); dz may be dy or y.  The ReLU's factor is a
 * product by 1 or 0, not a select, so that NaN and infinite gradients
 * behind a dead unit still give NaN; it is picked on the bits of y (y > 0:
 * positive bits up to those of +inf, which leaves out -0 and NaN), an
 * integer select that vectorises where a float compare does not under the
 * default -ftrapping-math. */
#define NNF_BP_ACT(T, S, ONE_BITS, INF_BITS) {                           \
    Py_ssize_t i;                                                        \
    if (kind == 1) {                                                     \
        for (i = 0; i < n; i++) dz[i] = dy[i] * y[i] * (1 - y[i]);       \
    } else if (kind == 2) {                                              \
        for (i = 0; i < n; i++) dz[i] = dy[i] * (1 - y[i] * y[i]);       \
    } else {                                                             \
        for (i = 0; i < n; i++) {                                        \
            S b;                                                         \
            T one;                                                       \
            memcpy(&b, &y[i], sizeof b);                                 \
            b = (b > 0 && b <= INF_BITS) ? ONE_BITS : 0;                 \
            memcpy(&one, &b, sizeof one);                                \
            dz[i] = dy[i] * one;                                         \
        }                                                                \
    }                                                                    \
}

/* y = exp(x - shift) where x - shift <= 0 (y may be x). */
#define NNF_EXP_SHIFT(T, SUF) {                                          \
    Py_ssize_t i;                                                        \
    for (i = 0; i < n; i++) {                                            \
        T a = x[i] - shift;                                              \
        y[i] = a < NNF_EXP_LO_##SUF ? NNF_EXP_LO_##SUF : a;              \
    }                                                                    \
    for (i = 0; i < n; i++) y[i] = nnf_exp_core_##SUF(y[i]);             \
}
/* y = exp(-|x|) (y may be x). */
#define NNF_EXP_NEGABS(T, SUF, FABS) {                                   \
    Py_ssize_t i;                                                        \
    for (i = 0; i < n; i++) {                                            \
        T a = -FABS(x[i]);                                               \
        y[i] = a < NNF_EXP_LO_##SUF ? NNF_EXP_LO_##SUF : a;              \
    }                                                                    \
    for (i = 0; i < n; i++) y[i] = nnf_exp_core_##SUF(y[i]);             \
}

/* out[:n] = uniforms in [0, 1) of the stream (key, stream): eight
 * interleaved xoshiro128+ generators (one per lane), seeded by splitmix64
 * from (key, stream); the top 24 bits of each 32-bit output make a float.
 * Integer arithmetic and an exact scaling: every instruction set gives the
 * same floats. */
static inline uint64_t nnf_splitmix64(uint64_t* x) {
    uint64_t z;
    *x += 0x9E3779B97F4A7C15ULL;
    z = *x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
#define NNF_LANES_SEED                                                   \
    uint64_t x = key ^ (stream * 0xD1B54A32D192ED03ULL);                 \
    int l;                                                               \
    x = nnf_splitmix64(&x) ^ stream;                                     \
    for (l = 0; l < 8; l++) {                                            \
        uint64_t a = nnf_splitmix64(&x), b = nnf_splitmix64(&x);         \
        s0[l] = (uint32_t) a; s1[l] = (uint32_t) (a >> 32);              \
        s2[l] = (uint32_t) b; s3[l] = (uint32_t) (b >> 32) | 1u;         \
    }
#if defined(__GNUC__) || defined(__clang__)
typedef uint32_t nnf_u32x8 __attribute__((vector_size(32)));
typedef int32_t nnf_i32x8 __attribute__((vector_size(32)));
typedef float nnf_f32x8 __attribute__((vector_size(32)));
#define NNF_UNIFORM_ROW                                                  \
    nnf_u32x8 s0, s1, s2, s3, r, t;                                      \
    nnf_f32x8 f;                                                         \
    Py_ssize_t j;                                                        \
    NNF_LANES_SEED                                                       \
    for (j = 0; j < n; j += 8) {                                         \
        r = s0 + s3;                                                     \
        f = __builtin_convertvector((nnf_i32x8) (r >> 8), nnf_f32x8)     \
            * 5.9604644775390625e-08f;                                   \
        memcpy(out + j, &f, (j + 8 <= n ? 8 : n - j) * sizeof(float));   \
        t = s1 << 9;                                                     \
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;                 \
        s3 = (s3 << 11) | (s3 >> 21);                                    \
    }
#else
#define NNF_UNIFORM_ROW                                                  \
    uint32_t s0[8], s1[8], s2[8], s3[8], t;                              \
    Py_ssize_t j;                                                        \
    NNF_LANES_SEED                                                       \
    for (j = 0; j < n; j += 8) {                                         \
        for (l = 0; l < 8; l++) {                                        \
            if (j + l < n)                                               \
                out[j + l] = (float) (int32_t) ((s0[l] + s3[l]) >> 8)    \
                    * 5.9604644775390625e-08f;                           \
            t = s1[l] << 9;                                              \
            s2[l] ^= s0[l]; s3[l] ^= s1[l]; s1[l] ^= s2[l];              \
            s0[l] ^= s3[l]; s2[l] ^= t;                                  \
            s3[l] = (s3[l] << 11) | (s3[l] >> 21);                       \
        }                                                                \
    }
#endif

/* ------------------------------------------------------------------------
 * The RBM's sparse row kernels (csrc/_rbm_online.pyx and _rbm_common.pxd).
 *
 * The online rule keeps the weights transposed, WT of shape (n_visible, ld):
 * row i holds visible unit i's weights to the n_hidden hidden units, padded
 * with zeros to ld, a multiple of 16 entries, so that rows start on a cache
 * line when WT does and the loops need no tail.  Its products with a
 * visible vector v add up the rows of the nonzero v[i] only, and its update
 * adds to the rows where the data or the chain is nonzero.  These loops
 * read rows of WT from the L2 cache and gain from wide vectors, as does the
 * search for nonzero entries (written with intrinsics for AVX-512).
 * ------------------------------------------------------------------------ */
/* Byte k of the integer X as byte k in memory (a no-op but on
 * big-endian machines). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NNF_LITTLE_ENDIAN(X) ((X) = __builtin_bswap64(X))
#else
#define NNF_LITTLE_ENDIAN(X) ((void) 0)
#endif

/* nnf_bit_pos[m] lists the positions of the set bits of the byte m,
 * nnf_bit_count[m] how many there are (filled by nnf_simd_select). */
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
#define NNF_FLAGS_TO_IDX(FLAG8, FLAG1)                                   \
    for (; i + 8 <= n; i += 8) {                                         \
        uint64_t f8 = FLAG8(i);                                          \
        const uint8_t* pos;                                              \
        int mask, l;                                                     \
        NNF_LITTLE_ENDIAN(f8);                                           \
        /* Byte k (0 or 1) of f8 moves to bit 56 + k. */                 \
        mask = (int) ((f8 * 0x0102040810204080ULL) >> 56);               \
        pos = nnf_bit_pos[mask];                                         \
        /* m <= i, so the eight writes stay below n. */                  \
        for (l = 0; l < 8; l++) idx[m + l] = (int32_t) i + pos[l];       \
        m += nnf_bit_count[mask];                                        \
    }                                                                    \
    for (; i < n; i++) {                                                 \
        idx[m] = (int32_t) i;                                            \
        m += FLAG1(i);                                                   \
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
#define NNF_NONZERO(T, U, ONE)                                           \
    Py_ssize_t i, m = 0, nb = 0;                                         \
    U x;                                                                 \
    for (i = 0; i < n; i++) {                                            \
        memcpy(&x, a + i, sizeof x);                                     \
        flags[i] = (x << 1) != 0;                                        \
        nb += (x == 0) | (x == ONE);                                     \
    }                                                                    \
    *binary = nb == n;                                                   \
    i = 0;                                                               \
    NNF_FLAGS_TO_IDX(NNF_FLAG8, NNF_FLAG1)                               \
    return m;

/* The Bernoulli sample sample[i] = (u[i] < p[i]) (1 or 0; u may be
 * sample itself), its flags (as NNF_NONZERO's) and the indices of its
 * ones in idx; returns how many ones.  Flags first, so that both loops
 * vectorise even when u is sample. */
#define NNF_BERNOULLI(T)                                                 \
    Py_ssize_t i, m = 0;                                                 \
    for (i = 0; i < n; i++) flags[i] = u[i] < p[i];                      \
    for (i = 0; i < n; i++) sample[i] = (T) flags[i];                    \
    i = 0;                                                               \
    NNF_FLAGS_TO_IDX(NNF_FLAG8, NNF_FLAG1)                               \
    return m;

/* The indices i < n where f0[i] or f1[i] is set (flags of two vectors),
 * written to idx; returns how many. */
#define NNF_UNION                                                        \
    Py_ssize_t i = 0, m = 0;                                             \
    NNF_FLAGS_TO_IDX(NNF_UNION8, NNF_UNION1)                             \
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
#define NNF_SUM_GROUP(T, VT, NV, ONES)                                   \
    {                                                                    \
        const T* w0 = wt + idx[t] * ld + jb;                             \
        const T* w1 = wt + idx[t + 1] * ld + jb;                         \
        const T* w2 = wt + idx[t + 2] * ld + jb;                         \
        const T* w3 = wt + idx[t + 3] * ld + jb;                         \
        for (q = 0; q < NV; q++) {                                       \
            VT x0, x1, x2, x3;                                           \
            memcpy(&x0, w0 + q * L, sizeof x0);                          \
            memcpy(&x1, w1 + q * L, sizeof x1);                          \
            memcpy(&x2, w2 + q * L, sizeof x2);                          \
            memcpy(&x3, w3 + q * L, sizeof x3);                          \
            if (ONES)                                                    \
                acc[q] += (x0 + x1) + (x2 + x3);                         \
            else                                                         \
                acc[q] += (v[idx[t]] * x0 + v[idx[t + 1]] * x1)          \
                    + (v[idx[t + 2]] * x2 + v[idx[t + 3]] * x3);         \
        }                                                                \
    }
#define NNF_SUM_ONE(T, VT, NV, ONES)                                     \
    {                                                                    \
        const T* w0 = wt + idx[t] * ld + jb;                             \
        for (q = 0; q < NV; q++) {                                       \
            VT x0;                                                       \
            memcpy(&x0, w0 + q * L, sizeof x0);                          \
            acc[q] += ONES ? x0 : v[idx[t]] * x0;                        \
        }                                                                \
    }
#define NNF_SUM_COLUMNS(T, VT, NV, ONES)                                 \
    {                                                                    \
        VT acc[NV];                                                      \
        for (q = 0; q < NV; q++) acc[q] = (VT) {0};                      \
        for (t = 0; t + 4 <= n; t += 4) NNF_SUM_GROUP(T, VT, NV, ONES)   \
        for (; t < n; t++) NNF_SUM_ONE(T, VT, NV, ONES)                  \
        memcpy(out + jb, acc, sizeof acc);                               \
    }
#define NNF_SUM_BLOCKS(T, VT, ONES)                                      \
    for (jb = 0; jb + 8 * L <= ld; jb += 8 * L) NNF_SUM_COLUMNS(T, VT, 8, ONES) \
    for (; jb < ld; jb += L) NNF_SUM_COLUMNS(T, VT, 1, ONES)
#define NNF_SUM_ROWS(T, VT)                                              \
    enum { L = sizeof(VT) / sizeof(T) };                                 \
    Py_ssize_t t, jb;                                                    \
    int q;                                                               \
    if (ones) {                                                          \
        NNF_SUM_BLOCKS(T, VT, 1)                                         \
    } else {                                                             \
        NNF_SUM_BLOCKS(T, VT, 0)                                         \
    }
#else
#define NNF_SUM_ROWS(T, VT)                                              \
    Py_ssize_t t = 0, j;                                                 \
    for (j = 0; j < ld; j++) out[j] = 0;                                 \
    for (; t + 4 <= n; t += 4) {                                         \
        const T* w0 = wt + idx[t] * ld;                                  \
        const T* w1 = wt + idx[t + 1] * ld;                              \
        const T* w2 = wt + idx[t + 2] * ld;                              \
        const T* w3 = wt + idx[t + 3] * ld;                              \
        T a0 = v[idx[t]], a1 = v[idx[t + 1]];                            \
        T a2 = v[idx[t + 2]], a3 = v[idx[t + 3]];                        \
        for (j = 0; j < ld; j++)                                         \
            out[j] += (a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j]); \
    }                                                                    \
    for (; t < n; t++) {                                                 \
        const T* w0 = wt + idx[t] * ld;                                  \
        T a0 = v[idx[t]];                                                \
        for (j = 0; j < ld; j++) out[j] += a0 * w0[j];                   \
    }
#endif


/* WT[i] += (lr * v0[i]) * h0 + (lr * vk[i]) * neg_hk for the n rows i
 * in rows (h0 and neg_hk have ld entries).  Where v0[i] and vk[i] are
 * each +0.0 or 1.0 (binary data; U is the unsigned integer of T's size,
 * ONE the bits of 1.0), the row adds one of three vectors computed first
 * into tab (scratch of 3 * ld entries) by the same operations: the same
 * bits for a quarter of the arithmetic. */
#define NNF_ADD_ROWS(T, U, ONE)                                          \
    Py_ssize_t t, j;                                                     \
    const T one = 1, zero = 0;                                           \
    const T a1 = lr * one, a0 = lr * zero;                               \
    for (j = 0; j < ld; j++) {                                           \
        tab[j] = a1 * h0[j] + a0 * neg_hk[j];          /* (1, 0) */      \
        tab[ld + j] = a0 * h0[j] + a1 * neg_hk[j];     /* (0, 1) */      \
        tab[2 * ld + j] = a1 * h0[j] + a1 * neg_hk[j]; /* (1, 1) */      \
    }                                                                    \
    for (t = 0; t < n; t++) {                                            \
        T* __restrict w = wt + rows[t] * ld;                             \
        U x, y;                                                          \
        int bx, by;                                                      \
        memcpy(&x, v0 + rows[t], sizeof x);                              \
        memcpy(&y, vk + rows[t], sizeof y);                              \
        bx = x == ONE;                                                   \
        by = y == ONE;                                                   \
        /* Bit operations, not && or ||: no branch on each value. */     \
        if ((bx | (x == 0)) & (by | (y == 0)) & (bx | by)) {             \
            const T* __restrict g = tab + (bx + 2 * by - 1) * ld;        \
            for (j = 0; j < ld; j++) w[j] += g[j];                       \
        } else {                                                         \
            T a = lr * v0[rows[t]], b = lr * vk[rows[t]];                \
            for (j = 0; j < ld; j++) w[j] += a * h0[j] + b * neg_hk[j];  \
        }                                                                \
    }


/* A one-channel convolution (stride 1), its bias, ReLU or no activation, and
 * 2x2 max pooling of stride 2, in one pass each way (see _conv_pool.pxd).
 *
 * A one-channel image has one value per pixel: as a product, the
 * convolution has a depth of kh * kw (9 for 3x3), which BLAS runs at a
 * fraction of its speed, and the (h, w, f) map it writes (6.4 MB for a batch
 * of 64 images of 28x28 and 32 filters) is read again by the pooling and,
 * in the backward pass, zeroed, scattered into and read twice more.  Here
 * each 2x2 window's four outputs are worked out in registers, the largest
 * kept, and only the pooled map and the window position of each maximum
 * (a byte) are written.  The backward pass takes the kernel and bias
 * gradients straight from the pooled gradient: only the window position
 * that won contributes, so each pooled value's gradient goes to the four
 * candidate positions masked by that byte.
 *
 * Pooling first and applying the activation after is exact for ReLU (and
 * for no activation): ReLU does not decrease, so the largest of four
 * outputs after it is ReLU of the largest before it.  Windows whose four
 * outputs tie take the first in row-major order, as MaxPoolNode does;
 * where the ReLU makes them tie at zero, the gradient is zero whichever
 * position is recorded.
 *
 * Filters are handled a vector at a time (16 floats or 8 doubles; the
 * caller pads the kernel and bias to whole vectors with zeros), the pixels
 * one at a time, broadcast.  Written with the vector extensions of GCC
 * and Clang, a vector of the instruction set's width at a time (each lane
 * does the same operations in the same order at every width); other
 * compilers leave these entries of the table NULL and the layers run
 * unfused. */

#ifdef NNF_VECTORS
/* Rows kh + 1 of one image x (h, w) around pooled row pi, zero outside the
 * image, each ``width`` values from column -left: row a is image row
 * 2 * pi - top + a. */
#define NNF_CP_ROWS(T)                                                   \
    {                                                                    \
        Py_ssize_t a_, ii_, hi_;                                         \
        for (a_ = 0; a_ <= kh; a_++) {                                   \
            T* row_ = rows + a_ * width;                                 \
            ii_ = 2 * pi - top + a_;                                     \
            memset(row_, 0, width * sizeof(T));                          \
            if (ii_ < 0 || ii_ >= h) continue;                           \
            hi_ = w + left < width ? w + left : width;                   \
            if (hi_ > left)                                              \
                memcpy(row_ + left, x + ii_ * w, (hi_ - left) * sizeof(T)); \
        }                                                                \
    }

/* The vector types of both kernels: M, masks of the lanes of VT (IT
 * integers), B, a byte per lane; L lanes. */
#define NNF_CP_LOCALS(T, VT, IT)                                         \
    typedef IT M __attribute__((vector_size(sizeof(VT))));               \
    typedef uint8_t B __attribute__((vector_size(sizeof(VT) / sizeof(T)))); \
    enum { L = sizeof(VT) / sizeof(T) };                                 \
    const Py_ssize_t width = 2 * wp + kw - 1;                            \
    const VT zero = {0};                                                 \
    Py_ssize_t pi, pj, c, di, dj;

/* Pooled rows p0:p1 of one image x (h, w): y (hp, wp, f) and the winners'
 * window positions pos (hp, wp, f), 0 to 3 for (0, 0), (0, 1), (1, 0),
 * (1, 1).  kp is the kernel (kh * kw, fp) and bp the bias (fp,), fp = f
 * rounded up to a whole number of the widest vectors (16 floats), zero past
 * f; rows has room for (kh + 1) * (2 * wp + kw - 1) values. */
#define NNF_CONV_POOL(T, VT, IT) {                                       \
    NNF_CP_LOCALS(T, VT, IT)                                             \
    const M none = {0}, first = none + 1, second = none + 2, third = none + 3; \
    for (pi = p0; pi < p1; pi++) {                                       \
        NNF_CP_ROWS(T)                                                   \
        for (c = 0; c < f; c += L) {                                     \
            const Py_ssize_t n_out = f - c < L ? f - c : L;              \
            VT bias;                                                     \
            memcpy(&bias, bp + c, sizeof bias);                          \
            for (pj = 0; pj < wp; pj++) {                                \
                VT z00 = bias, z01 = bias, z10 = bias, z11 = bias, m, k; \
                M where, gt;                                             \
                B bytes;                                                 \
                for (di = 0; di < kh; di++) {                            \
                    const T* r0 = rows + di * width + 2 * pj;            \
                    const T* r1 = r0 + width;                            \
                    for (dj = 0; dj < kw; dj++) {                        \
                        memcpy(&k, kp + (di * kw + dj) * fp + c, sizeof k); \
                        z00 += r0[dj] * k;                               \
                        z01 += r0[dj + 1] * k;                           \
                        z10 += r1[dj] * k;                               \
                        z11 += r1[dj + 1] * k;                           \
                    }                                                    \
                }                                                        \
                /* Strictly larger replaces: ties go to the first. */    \
                m = z00;                                                 \
                gt = z01 > m;                                            \
                m = (VT) (((M) z01 & gt) | ((M) m & ~gt));               \
                where = first & gt;                                      \
                gt = z10 > m;                                            \
                m = (VT) (((M) z10 & gt) | ((M) m & ~gt));               \
                where = (where & ~gt) | (second & gt);                   \
                gt = z11 > m;                                            \
                m = (VT) (((M) z11 & gt) | ((M) m & ~gt));               \
                where = (where & ~gt) | (third & gt);                    \
                if (relu)                                                \
                    m = (VT) ((M) m & (m > zero));                       \
                bytes = __builtin_convertvector(where, B);               \
                memcpy(y + (pi * wp + pj) * f + c, &m, n_out * sizeof(T)); \
                memcpy(pos + (pi * wp + pj) * f + c, &bytes, n_out);     \
            }                                                            \
        }                                                                \
    }                                                                    \
}

/* The kernel and bias gradients of pooled rows p0:p1 of one image, added
 * to dk (kh * kw, fp) and db (fp,), from the pooled gradient dy (hp, wp,
 * f), the pooled output y (for ReLU's derivative) and the positions pos. */
#define NNF_CONV_POOL_GRAD(T, VT, IT) {                                  \
    NNF_CP_LOCALS(T, VT, IT)                                             \
    const VT unit = zero + 1;                                            \
    for (pi = p0; pi < p1; pi++) {                                       \
        NNF_CP_ROWS(T)                                                   \
        for (c = 0; c < f; c += L) {                                     \
            const Py_ssize_t n_in = f - c < L ? f - c : L;               \
            VT bias_grad;                                                \
            memcpy(&bias_grad, db + c, sizeof bias_grad);                \
            for (pj = 0; pj < wp; pj++) {                                \
                const Py_ssize_t at = (pi * wp + pj) * f + c;            \
                VT g = zero, out = zero, g00, g01, g10, g11, acc;        \
                B bytes = {0};                                           \
                M where;                                                 \
                /* Lanes past the last filter stay zero. */              \
                memcpy(&g, dy + at, n_in * sizeof(T));                   \
                memcpy(&out, y + at, n_in * sizeof(T));                  \
                memcpy(&bytes, pos + at, n_in);                          \
                where = __builtin_convertvector(bytes, M);               \
                /* ReLU's derivative as a product: NaN stays NaN. */     \
                if (relu)                                                \
                    g = g * (VT) ((M) unit & (out > zero));              \
                bias_grad += g;                                          \
                g00 = (VT) ((M) g & (where == 0));                       \
                g01 = (VT) ((M) g & (where == 1));                       \
                g10 = (VT) ((M) g & (where == 2));                       \
                g11 = (VT) ((M) g & (where == 3));                       \
                for (di = 0; di < kh; di++) {                            \
                    const T* r0 = rows + di * width + 2 * pj;            \
                    const T* r1 = r0 + width;                            \
                    for (dj = 0; dj < kw; dj++) {                        \
                        T* dst = dk + (di * kw + dj) * fp + c;           \
                        memcpy(&acc, dst, sizeof acc);                   \
                        acc += ((r0[dj] * g00 + r0[dj + 1] * g01)        \
                                + (r1[dj] * g10 + r1[dj + 1] * g11));    \
                        memcpy(dst, &acc, sizeof acc);                   \
                    }                                                    \
                }                                                        \
            }                                                            \
            memcpy(db + c, &bias_grad, sizeof bias_grad);                \
        }                                                                \
    }                                                                    \
}
#define NNF_CONV_POOL_KERNELS(TAG, ATTR, VF, VD)                         \
    ATTR static void nnf_conv_pool_f32_##TAG NNF_CONV_POOL_ARGS(float)   \
        NNF_CONV_POOL(float, VF, int32_t)                                \
    ATTR static void nnf_conv_pool_f64_##TAG NNF_CONV_POOL_ARGS(double)  \
        NNF_CONV_POOL(double, VD, int64_t)                               \
    ATTR static void nnf_conv_pool_grad_f32_##TAG NNF_CONV_POOL_GRAD_ARGS(float) \
        NNF_CONV_POOL_GRAD(float, VF, int32_t)                           \
    ATTR static void nnf_conv_pool_grad_f64_##TAG NNF_CONV_POOL_GRAD_ARGS(double) \
        NNF_CONV_POOL_GRAD(double, VD, int64_t)
#define NNF_CONV_POOL_ENTRIES(TAG)                                       \
    nnf_conv_pool_f32_##TAG, nnf_conv_pool_f64_##TAG,                    \
    nnf_conv_pool_grad_f32_##TAG, nnf_conv_pool_grad_f64_##TAG
#else
#define NNF_CONV_POOL_KERNELS(TAG, ATTR, VF, VD)
#define NNF_CONV_POOL_ENTRIES(TAG) NULL, NULL, NULL, NULL
#endif


/* Every kernel in float and double, for one instruction set TAG; VF and VD
 * are its float and double vectors (for the sums of rows). */
#define NNF_KERNELS(TAG, ATTR, VF, VD)                               \
    ATTR static void nnf_exp_shift_f32_##TAG NNF_EXP_SHIFT_ARGS(float)   \
        NNF_EXP_SHIFT(float, f32)                                        \
    ATTR static void nnf_exp_shift_f64_##TAG NNF_EXP_SHIFT_ARGS(double)  \
        NNF_EXP_SHIFT(double, f64)                                       \
    ATTR static void nnf_exp_negabs_f32_##TAG NNF_EXP_NEGABS_ARGS(float) \
        NNF_EXP_NEGABS(float, f32, fabsf)                                \
    ATTR static void nnf_exp_negabs_f64_##TAG NNF_EXP_NEGABS_ARGS(double) \
        NNF_EXP_NEGABS(double, f64, fabs)                                \
    ATTR static void nnf_sigmoid_f32_##TAG NNF_SIGMOID_ARGS(float)       \
        NNF_SIGMOID(float, f32, fabsf)                                   \
    ATTR static void nnf_sigmoid_f64_##TAG NNF_SIGMOID_ARGS(double)      \
        NNF_SIGMOID(double, f64, fabs)                                   \
    ATTR static void nnf_tanh_f32_##TAG NNF_TANH_ARGS(float)             \
        NNF_TANH(float, uint32_t, f32, fabsf, copysignf, 0x7FFFFFFFu, 0x3E000000u) \
    ATTR static void nnf_tanh_f64_##TAG NNF_TANH_ARGS(double)            \
        NNF_TANH(double, uint64_t, f64, fabs, copysign, 0x7FFFFFFFFFFFFFFFull,     \
                 0x3FC0000000000000ull)                                  \
    ATTR static void nnf_adam_f32_##TAG NNF_ADAM_ARGS(float)             \
        NNF_ADAM(float, sqrtf)                                           \
    ATTR static void nnf_adam_f64_##TAG NNF_ADAM_ARGS(double)            \
        NNF_ADAM(double, sqrt)                                           \
    ATTR static void nnf_adamw_f32_##TAG NNF_ADAMW_ARGS(float)           \
        NNF_ADAMW(float, sqrtf)                                          \
    ATTR static void nnf_adamw_f64_##TAG NNF_ADAMW_ARGS(double)          \
        NNF_ADAMW(double, sqrt)                                          \
    ATTR static void nnf_rmsprop_f32_##TAG NNF_RMSPROP_ARGS(float)       \
        NNF_RMSPROP(float, sqrtf)                                        \
    ATTR static void nnf_rmsprop_f64_##TAG NNF_RMSPROP_ARGS(double)      \
        NNF_RMSPROP(double, sqrt)                                        \
    ATTR static void nnf_adagrad_f32_##TAG NNF_ADAGRAD_ARGS(float)       \
        NNF_ADAGRAD(float, sqrtf)                                        \
    ATTR static void nnf_adagrad_f64_##TAG NNF_ADAGRAD_ARGS(double)      \
        NNF_ADAGRAD(double, sqrt)                                        \
    ATTR static void nnf_adadelta_f32_##TAG NNF_ADADELTA_ARGS(float)     \
        NNF_ADADELTA(float, sqrtf)                                       \
    ATTR static void nnf_adadelta_f64_##TAG NNF_ADADELTA_ARGS(double)    \
        NNF_ADADELTA(double, sqrt)                                       \
    ATTR static void nnf_uniform_row_f32_##TAG NNF_UNIFORM_ROW_ARGS      \
        { NNF_UNIFORM_ROW }                                              \
    ATTR static Py_ssize_t nnf_nonzero_f32_##TAG NNF_NONZERO_ARGS(float) \
        { NNF_NONZERO(float, uint32_t, 0x3F800000u) }                    \
    ATTR static Py_ssize_t nnf_nonzero_f64_##TAG NNF_NONZERO_ARGS(double) \
        { NNF_NONZERO(double, uint64_t, 0x3FF0000000000000ull) }         \
    ATTR static Py_ssize_t nnf_bernoulli_f32_##TAG NNF_BERNOULLI_ARGS(float) \
        { NNF_BERNOULLI(float) }                                         \
    ATTR static Py_ssize_t nnf_bernoulli_f64_##TAG NNF_BERNOULLI_ARGS(double) \
        { NNF_BERNOULLI(double) }                                        \
    ATTR static void nnf_sum_rows_f32_##TAG NNF_SUM_ROWS_ARGS(float)     \
        { NNF_SUM_ROWS(float, VF) }                                      \
    ATTR static void nnf_sum_rows_f64_##TAG NNF_SUM_ROWS_ARGS(double)    \
        { NNF_SUM_ROWS(double, VD) }                                     \
    ATTR static void nnf_add_rows_f32_##TAG NNF_ADD_ROWS_ARGS(float)     \
        { NNF_ADD_ROWS(float, uint32_t, 0x3F800000u) }                   \
    ATTR static void nnf_add_rows_f64_##TAG NNF_ADD_ROWS_ARGS(double)    \
        { NNF_ADD_ROWS(double, uint64_t, 0x3FF0000000000000ull) }        \
    ATTR static Py_ssize_t nnf_union_##TAG NNF_UNION_ARGS { NNF_UNION }  \
    ATTR static double nnf_bce_f32_##TAG NNF_BCE_ARGS(float)             \
        NNF_BCE(float, f32, fabsf)                                       \
    ATTR static double nnf_bce_f64_##TAG NNF_BCE_ARGS(double)            \
        NNF_BCE(double, f64, fabs)                                       \
    ATTR static double nnf_mse_f32_##TAG NNF_MSE_ARGS(float)             \
        NNF_MSE(float)                                                   \
    ATTR static double nnf_mse_f64_##TAG NNF_MSE_ARGS(double)            \
        NNF_MSE(double)                                                  \
    ATTR static void nnf_bp_act_f32_##TAG NNF_BP_ACT_ARGS(float)         \
        NNF_BP_ACT(float, int32_t, 0x3F800000, 0x7F800000)               \
    ATTR static void nnf_bp_act_f64_##TAG NNF_BP_ACT_ARGS(double)        \
        NNF_BP_ACT(double, int64_t, 0x3FF0000000000000LL, 0x7FF0000000000000LL) \
    NNF_CONV_POOL_KERNELS(TAG, ATTR, VF, VD)

/* The table of the kernels of TAG, with the float searches (nonzero
 * entries, Bernoulli samples, union of flags) of SEARCH. */
#define NNF_TABLE(TAG, SEARCH) {                                         \
    nnf_exp_shift_f32_##TAG, nnf_exp_shift_f64_##TAG,                    \
    nnf_exp_negabs_f32_##TAG, nnf_exp_negabs_f64_##TAG,                  \
    nnf_sigmoid_f32_##TAG, nnf_sigmoid_f64_##TAG,                        \
    nnf_tanh_f32_##TAG, nnf_tanh_f64_##TAG,                              \
    nnf_adam_f32_##TAG, nnf_adam_f64_##TAG,                              \
    nnf_adamw_f32_##TAG, nnf_adamw_f64_##TAG,                            \
    nnf_rmsprop_f32_##TAG, nnf_rmsprop_f64_##TAG,                        \
    nnf_adagrad_f32_##TAG, nnf_adagrad_f64_##TAG,                        \
    nnf_adadelta_f32_##TAG, nnf_adadelta_f64_##TAG,                      \
    nnf_uniform_row_f32_##TAG,                                           \
    nnf_nonzero_f32_##SEARCH, nnf_nonzero_f64_##TAG,                     \
    nnf_bernoulli_f32_##SEARCH, nnf_bernoulli_f64_##TAG,                 \
    nnf_sum_rows_f32_##TAG, nnf_sum_rows_f64_##TAG,                      \
    nnf_add_rows_f32_##TAG, nnf_add_rows_f64_##TAG,                      \
    nnf_union_##SEARCH,                                                  \
    nnf_bce_f32_##TAG, nnf_bce_f64_##TAG,                               \
    nnf_mse_f32_##TAG, nnf_mse_f64_##TAG,                               \
    nnf_bp_act_f32_##TAG, nnf_bp_act_f64_##TAG,                          \
    NNF_CONV_POOL_ENTRIES(TAG) }

#ifdef NNF_VECTORS
NNF_KERNELS(base, , nnf_vf4, nnf_vd2)
#else
NNF_KERNELS(base, , float, double)
#endif
static const nnf_simd_t nnf_simd_base = NNF_TABLE(base, base);

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define NNF_DISPATCH 1
NNF_KERNELS(avx2, __attribute__((target("avx2"))), nnf_vf8, nnf_vd4)
NNF_KERNELS(avx512, __attribute__((target("avx512f"))), nnf_vf16, nnf_vd8)

/* AVX-512 searches over floats: sixteen entries at a time, a compare
 * giving a bit mask, the indices of its set bits packed together by a
 * compress instruction; the last n % 16 one at a time.  The flags,
 * samples, indices and counts are those of the table pass. */
#include <immintrin.h>
#define NNF_AVX512 __attribute__((target("avx512f,popcnt")))
/* Flags (bytes 0 or 1) of the mask s at flags + i; the indices of its set
 * bits (iota holds i .. i + 15) appended to idx[0:m]. */
#define NNF_MASK_TO_IDX(s)                                               \
    _mm_storeu_si128((__m128i*) (flags + i),                             \
                     _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(s, one32))); \
    /* m <= i: the sixteen entries stored stay below n. */              \
    _mm512_storeu_si512(idx + m, _mm512_maskz_compress_epi32(s, iota));  \
    m += __builtin_popcount((unsigned) s);                               \
    iota = _mm512_add_epi32(iota, sixteen);
#define NNF_AVX512_SETUP                                                 \
    const __m512i one32 = _mm512_set1_epi32(1);                          \
    const __m512i sixteen = _mm512_set1_epi32(16);                       \
    __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, \
                                     12, 13, 14, 15);                    \
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

static const nnf_simd_t nnf_simd_avx2 = NNF_TABLE(avx2, avx2);
static const nnf_simd_t nnf_simd_avx512 = NNF_TABLE(avx512, avx512c);
#endif

/* The table every module reaches through nnf_simd (see nnf_simd.h). */
static nnf_simd_t nnf_simd_table = NNF_TABLE(base, base);

/* Use the widest kernels up to max_level (0 baseline, 1 AVX2, 2 AVX-512)
 * that the CPU supports; return the level chosen. */
static int nnf_simd_select(int max_level) {
    nnf_fill_bit_tables();
#ifdef NNF_DISPATCH
    __builtin_cpu_init();
    if (max_level >= 2 && __builtin_cpu_supports("avx512f")) {
        nnf_simd_table = nnf_simd_avx512;
        return 2;
    }
    if (max_level >= 1 && __builtin_cpu_supports("avx2")) {
        nnf_simd_table = nnf_simd_avx2;
        return 1;
    }
#endif
    nnf_simd_table = nnf_simd_base;
    return 0;
}
#endif
