# Kernels compiled for three instruction sets, chosen at import.
#
# Two kinds of elementwise work run at the speed of the vector unit rather
# than of memory, so they gain from wider vectors: the exponential (softmax,
# cross-entropy, sigmoid) and the optimizer updates with a square root and a
# division per element (Adam, RMSprop, Adagrad, Adadelta).  Adam over a
# 784x500 float32 weight, for instance, takes about 170 us with the baseline
# x86-64 instructions (SSE2, 4 lanes), 90 us with AVX2 and 65 us with
# AVX-512.  Each kernel is written once below as a C macro and compiled as a
# baseline function and, with GCC or Clang on x86-64, as AVX2 and AVX-512
# versions; nnf_dense_select() points ``nnf_dense_simd`` at the widest set
# the CPU (and the OS) supports.  The baseline and AVX2 versions perform the
# same IEEE operations in the same order and give bit-identical results; the
# AVX-512 versions may fuse a multiply and an add, which can change the last
# bit.
#
# The optimizer arithmetic follows the reference formulas of ``DenseOps``
# term by term (weight decay added to the gradient first, ``(1 - beta) * g *
# g`` as ``((1 - beta) * g) * g``), with the scalars already rounded to the
# array's dtype by the caller.
#
# The exponential is written without libm (whose calls keep a loop scalar)
# and without selects in its arithmetic (which GCC will not vectorise under
# the default -ftrapping-math): with ``x = k ln2 + r``, ``|r| <= ln2 / 2``,
# ``exp(x) = 2^k e^r``.  Adding 1.5 * 2^mantissa_bits rounds ``x / ln2`` to
# the integer ``k`` and leaves it in the low mantissa bits, from which the
# power of two is assembled as exponent bits; ``ln2`` is split in two
# (Cody-Waite) so that ``r`` is exact, and ``e^r`` is its Taylor series
# truncated below half an ulp.  ``2^k`` is applied as two factors, each a
# normal number, so that results below the normal range underflow gradually
# to subnormals and 0 as numpy's do.  Arguments are first clamped (by a
# plain select stored to memory, which does vectorise) to where ``k`` stays
# in range; NaN passes through.

cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>

    #define NNF_DECAYED(T)                                                   \\
        T gi = g[i];                                                         \\
        if (wd != 0) gi = gi + wd * p[i];

    #define NNF_ADAM(T, SQRT) {                                              \\
        Py_ssize_t i;                                                        \\
        for (i = 0; i < n; i++) {                                            \\
            NNF_DECAYED(T)                                                   \\
            T mi = m[i] * b1 + omb1 * gi;                                    \\
            T vi = v[i] * b2 + omb2 * gi * gi;                               \\
            m[i] = mi;                                                       \\
            v[i] = vi;                                                       \\
            p[i] = p[i] - lr_c1 * mi / (SQRT(vi * c2) + eps);                \\
        }                                                                    \\
    }
    #define NNF_RMSPROP(T, SQRT) {                                           \\
        Py_ssize_t i;                                                        \\
        for (i = 0; i < n; i++) {                                            \\
            NNF_DECAYED(T)                                                   \\
            T si = sq[i] * rho + omrho * gi * gi;                            \\
            sq[i] = si;                                                      \\
            p[i] = p[i] - lr * gi / (SQRT(si) + eps);                        \\
        }                                                                    \\
    }
    #define NNF_ADAGRAD(T, SQRT) {                                           \\
        Py_ssize_t i;                                                        \\
        for (i = 0; i < n; i++) {                                            \\
            NNF_DECAYED(T)                                                   \\
            T ai = acc[i] + gi * gi;                                         \\
            acc[i] = ai;                                                     \\
            p[i] = p[i] - lr * gi / (SQRT(ai) + eps);                        \\
        }                                                                    \\
    }
    #define NNF_ADADELTA(T, SQRT) {                                          \\
        Py_ssize_t i;                                                        \\
        for (i = 0; i < n; i++) {                                            \\
            NNF_DECAYED(T)                                                   \\
            T egi = eg[i] * rho + omrho * gi * gi;                           \\
            eg[i] = egi;                                                     \\
            T di = SQRT(ed[i] + eps) / SQRT(egi + eps) * gi;                 \\
            ed[i] = ed[i] * rho + omrho * di * di;                           \\
            p[i] = p[i] - lr * di;                                           \\
        }                                                                    \\
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
    #define NNF_EXP_SHIFT(T, SUF) {                                          \\
        Py_ssize_t i;                                                        \\
        for (i = 0; i < n; i++) {                                            \\
            T a = x[i] - shift;                                              \\
            y[i] = a < NNF_EXP_LO_##SUF ? NNF_EXP_LO_##SUF : a;              \\
        }                                                                    \\
        for (i = 0; i < n; i++) y[i] = nnf_exp_core_##SUF(y[i]);             \\
    }
    /* y = exp(-|x|) (y may be x). */
    #define NNF_EXP_NEGABS(T, SUF, FABS) {                                   \\
        Py_ssize_t i;                                                        \\
        for (i = 0; i < n; i++) {                                            \\
            T a = -FABS(x[i]);                                               \\
            y[i] = a < NNF_EXP_LO_##SUF ? NNF_EXP_LO_##SUF : a;              \\
        }                                                                    \\
        for (i = 0; i < n; i++) y[i] = nnf_exp_core_##SUF(y[i]);             \\
    }
    #define NNF_EXP_SHIFT_ARGS(T) (const T* x, T shift, T* y, Py_ssize_t n)
    #define NNF_EXP_NEGABS_ARGS(T) (const T* x, T* y, Py_ssize_t n)

    #define NNF_ADAM_ARGS(T) (T* p, const T* g, T* m, T* v, Py_ssize_t n,    \\
        T lr_c1, T b1, T omb1, T b2, T omb2, T c2, T eps, T wd)
    #define NNF_RMSPROP_ARGS(T) (T* p, const T* g, T* sq, Py_ssize_t n,      \\
        T lr, T rho, T omrho, T eps, T wd)
    #define NNF_ADAGRAD_ARGS(T) (T* p, const T* g, T* acc, Py_ssize_t n,     \\
        T lr, T eps, T wd)
    #define NNF_ADADELTA_ARGS(T) (T* p, const T* g, T* eg, T* ed,            \\
        Py_ssize_t n, T lr, T rho, T omrho, T eps, T wd)

    /* Every kernel in float and double, for one instruction set TAG. */
    #define NNF_DENSE_KERNELS(TAG, ATTR)                                     \\
        ATTR static void nnf_exp_shift_f32_##TAG NNF_EXP_SHIFT_ARGS(float)   \\
            NNF_EXP_SHIFT(float, f32)                                        \\
        ATTR static void nnf_exp_shift_f64_##TAG NNF_EXP_SHIFT_ARGS(double)  \\
            NNF_EXP_SHIFT(double, f64)                                       \\
        ATTR static void nnf_exp_negabs_f32_##TAG NNF_EXP_NEGABS_ARGS(float) \\
            NNF_EXP_NEGABS(float, f32, fabsf)                                \\
        ATTR static void nnf_exp_negabs_f64_##TAG NNF_EXP_NEGABS_ARGS(double) \\
            NNF_EXP_NEGABS(double, f64, fabs)                                \\
        ATTR static void nnf_adam_f32_##TAG NNF_ADAM_ARGS(float)             \\
            NNF_ADAM(float, sqrtf)                                           \\
        ATTR static void nnf_adam_f64_##TAG NNF_ADAM_ARGS(double)            \\
            NNF_ADAM(double, sqrt)                                           \\
        ATTR static void nnf_rmsprop_f32_##TAG NNF_RMSPROP_ARGS(float)       \\
            NNF_RMSPROP(float, sqrtf)                                        \\
        ATTR static void nnf_rmsprop_f64_##TAG NNF_RMSPROP_ARGS(double)      \\
            NNF_RMSPROP(double, sqrt)                                        \\
        ATTR static void nnf_adagrad_f32_##TAG NNF_ADAGRAD_ARGS(float)       \\
            NNF_ADAGRAD(float, sqrtf)                                        \\
        ATTR static void nnf_adagrad_f64_##TAG NNF_ADAGRAD_ARGS(double)      \\
            NNF_ADAGRAD(double, sqrt)                                        \\
        ATTR static void nnf_adadelta_f32_##TAG NNF_ADADELTA_ARGS(float)     \\
            NNF_ADADELTA(float, sqrtf)                                       \\
        ATTR static void nnf_adadelta_f64_##TAG NNF_ADADELTA_ARGS(double)    \\
            NNF_ADADELTA(double, sqrt)

    typedef struct {
        void (*exp_shift_f32) NNF_EXP_SHIFT_ARGS(float);
        void (*exp_shift_f64) NNF_EXP_SHIFT_ARGS(double);
        void (*exp_negabs_f32) NNF_EXP_NEGABS_ARGS(float);
        void (*exp_negabs_f64) NNF_EXP_NEGABS_ARGS(double);
        void (*adam_f32) NNF_ADAM_ARGS(float);
        void (*adam_f64) NNF_ADAM_ARGS(double);
        void (*rmsprop_f32) NNF_RMSPROP_ARGS(float);
        void (*rmsprop_f64) NNF_RMSPROP_ARGS(double);
        void (*adagrad_f32) NNF_ADAGRAD_ARGS(float);
        void (*adagrad_f64) NNF_ADAGRAD_ARGS(double);
        void (*adadelta_f32) NNF_ADADELTA_ARGS(float);
        void (*adadelta_f64) NNF_ADADELTA_ARGS(double);
    } nnf_dense_simd_t;

    #define NNF_DENSE_TABLE(TAG) {                                           \\
        nnf_exp_shift_f32_##TAG, nnf_exp_shift_f64_##TAG,                    \\
        nnf_exp_negabs_f32_##TAG, nnf_exp_negabs_f64_##TAG,                  \\
        nnf_adam_f32_##TAG, nnf_adam_f64_##TAG,                              \\
        nnf_rmsprop_f32_##TAG, nnf_rmsprop_f64_##TAG,                        \\
        nnf_adagrad_f32_##TAG, nnf_adagrad_f64_##TAG,                        \\
        nnf_adadelta_f32_##TAG, nnf_adadelta_f64_##TAG }

    NNF_DENSE_KERNELS(base, )
    static const nnf_dense_simd_t nnf_dense_simd_base = NNF_DENSE_TABLE(base);

    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #define NNF_DENSE_DISPATCH 1
    NNF_DENSE_KERNELS(avx2, __attribute__((target("avx2"))))
    NNF_DENSE_KERNELS(avx512, __attribute__((target("avx512f"))))
    static const nnf_dense_simd_t nnf_dense_simd_avx2 = NNF_DENSE_TABLE(avx2);
    static const nnf_dense_simd_t nnf_dense_simd_avx512 = NNF_DENSE_TABLE(avx512);
    #endif

    static nnf_dense_simd_t nnf_dense_simd = NNF_DENSE_TABLE(base);

    /* Use the widest kernels up to max_level (0 baseline, 1 AVX2, 2 AVX-512)
     * that the CPU supports; return the level chosen. */
    static int nnf_dense_select(int max_level) {
    #ifdef NNF_DENSE_DISPATCH
        __builtin_cpu_init();
        if (max_level >= 2 && __builtin_cpu_supports("avx512f")) {
            nnf_dense_simd = nnf_dense_simd_avx512;
            return 2;
        }
        if (max_level >= 1 && __builtin_cpu_supports("avx2")) {
            nnf_dense_simd = nnf_dense_simd_avx2;
            return 1;
        }
    #endif
        nnf_dense_simd = nnf_dense_simd_base;
        return 0;
    }
    """
    ctypedef void (*nnf_exp_shift_f32_t)(const float*, float, float*, Py_ssize_t) noexcept nogil
    ctypedef void (*nnf_exp_shift_f64_t)(const double*, double, double*, Py_ssize_t) noexcept nogil
    ctypedef void (*nnf_exp_negabs_f32_t)(const float*, float*, Py_ssize_t) noexcept nogil
    ctypedef void (*nnf_exp_negabs_f64_t)(const double*, double*, Py_ssize_t) noexcept nogil
    ctypedef void (*nnf_adam_f32_t)(float*, const float*, float*, float*, Py_ssize_t,
                                    float, float, float, float, float, float, float,
                                    float) noexcept nogil
    ctypedef void (*nnf_adam_f64_t)(double*, const double*, double*, double*, Py_ssize_t,
                                    double, double, double, double, double, double, double,
                                    double) noexcept nogil
    ctypedef void (*nnf_rmsprop_f32_t)(float*, const float*, float*, Py_ssize_t,
                                       float, float, float, float, float) noexcept nogil
    ctypedef void (*nnf_rmsprop_f64_t)(double*, const double*, double*, Py_ssize_t,
                                       double, double, double, double, double) noexcept nogil
    ctypedef void (*nnf_adagrad_f32_t)(float*, const float*, float*, Py_ssize_t,
                                       float, float, float) noexcept nogil
    ctypedef void (*nnf_adagrad_f64_t)(double*, const double*, double*, Py_ssize_t,
                                       double, double, double) noexcept nogil
    ctypedef void (*nnf_adadelta_f32_t)(float*, const float*, float*, float*, Py_ssize_t,
                                        float, float, float, float, float) noexcept nogil
    ctypedef void (*nnf_adadelta_f64_t)(double*, const double*, double*, double*,
                                        Py_ssize_t, double, double, double, double,
                                        double) noexcept nogil

    ctypedef struct nnf_dense_simd_t:
        nnf_exp_shift_f32_t exp_shift_f32
        nnf_exp_shift_f64_t exp_shift_f64
        nnf_exp_negabs_f32_t exp_negabs_f32
        nnf_exp_negabs_f64_t exp_negabs_f64
        nnf_adam_f32_t adam_f32
        nnf_adam_f64_t adam_f64
        nnf_rmsprop_f32_t rmsprop_f32
        nnf_rmsprop_f64_t rmsprop_f64
        nnf_adagrad_f32_t adagrad_f32
        nnf_adagrad_f64_t adagrad_f64
        nnf_adadelta_f32_t adadelta_f32
        nnf_adadelta_f64_t adadelta_f64

    nnf_dense_simd_t nnf_dense_simd
    int nnf_dense_select(int max_level) noexcept nogil
