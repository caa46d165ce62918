/* Kernels compiled for three instruction sets, chosen at import; compiled
 * into the module nnfast._simd only (every other module reaches the table
 * through nnf_simd.h).
 *
 * Some elementwise work runs at the speed of the vector unit rather than
 * of memory, so it gains from wider vectors: the exponential (softmax,
 * cross-entropy, sigmoid), tanh, the optimizer updates with a square root and a
 * division per element (Adam, AdamW, RMSprop, Adagrad, Adadelta) and the
 * rows of uniform random numbers (dropout masks).  Each kernel is written
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

/* y = exp(x - shift) where x - shift <= 0 (y may be x). */
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

/* Every kernel in float and double, for one instruction set TAG. */
#define NNF_KERNELS(TAG, ATTR)                                     \
    ATTR static void nnf_exp_shift_f32_##TAG NNF_EXP_SHIFT_ARGS(float)   \
        NNF_EXP_SHIFT(float, f32)                                        \
    ATTR static void nnf_exp_shift_f64_##TAG NNF_EXP_SHIFT_ARGS(double)  \
        NNF_EXP_SHIFT(double, f64)                                       \
    ATTR static void nnf_exp_negabs_f32_##TAG NNF_EXP_NEGABS_ARGS(float) \
        NNF_EXP_NEGABS(float, f32, fabsf)                                \
    ATTR static void nnf_exp_negabs_f64_##TAG NNF_EXP_NEGABS_ARGS(double) \
        NNF_EXP_NEGABS(double, f64, fabs)                                \
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
        { NNF_UNIFORM_ROW }

#define NNF_TABLE(TAG) {                                                 \
    nnf_exp_shift_f32_##TAG, nnf_exp_shift_f64_##TAG,                    \
    nnf_exp_negabs_f32_##TAG, nnf_exp_negabs_f64_##TAG,                  \
    nnf_tanh_f32_##TAG, nnf_tanh_f64_##TAG,                              \
    nnf_adam_f32_##TAG, nnf_adam_f64_##TAG,                              \
    nnf_adamw_f32_##TAG, nnf_adamw_f64_##TAG,                            \
    nnf_rmsprop_f32_##TAG, nnf_rmsprop_f64_##TAG,                        \
    nnf_adagrad_f32_##TAG, nnf_adagrad_f64_##TAG,                        \
    nnf_adadelta_f32_##TAG, nnf_adadelta_f64_##TAG,                      \
    nnf_uniform_row_f32_##TAG }

NNF_KERNELS(base, )
static const nnf_simd_t nnf_simd_base = NNF_TABLE(base);

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define NNF_DISPATCH 1
NNF_KERNELS(avx2, __attribute__((target("avx2"))))
NNF_KERNELS(avx512, __attribute__((target("avx512f"))))
static const nnf_simd_t nnf_simd_avx2 = NNF_TABLE(avx2);
static const nnf_simd_t nnf_simd_avx512 = NNF_TABLE(avx512);
#endif

/* The table every module reaches through nnf_simd (see nnf_simd.h). */
static nnf_simd_t nnf_simd_table = NNF_TABLE(base);

/* Use the widest kernels up to max_level (0 baseline, 1 AVX2, 2 AVX-512)
 * that the CPU supports; return the level chosen. */
static int nnf_simd_select(int max_level) {
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
