/* The transforms of the Winograd convolution F(2x2, 3x3) (see _conv.pxd).
 *
 * A 4x4 tile of input d gives a 2x2 tile of output through
 *     V = B^T d B,  U = G g G^T,  M = V * U (elementwise, summed over
 *     channels by the products),  Y = A^T M A,
 * with, applied along one axis of four (or three) values,
 *     B^T: v0 = d0 - d2, v1 = d1 + d2, v2 = d2 - d1, v3 = d1 - d3
 *     G:   u0 = g0, u1 = (g0 + g1 + g2) / 2, u2 = (g0 - g1 + g2) / 2, u3 = g2
 *     A^T: y0 = m0 + m1 + m2, y1 = m1 - m2 - m3
 * and their adjoints for the gradients.  The 16 values of a tile are the 16
 * matrices ``xi = 4 * a + b`` (a the row, b the column), ``stride`` elements
 * apart; every function runs along the channels (or filters, or kernel
 * entries), the innermost and contiguous axis, so that the compiler
 * vectorises it: the arrays a function writes never overlap the ones it
 * reads, which ``restrict`` states.  Written as plain C (not Cython) for that
 * promise alone. */
#ifndef NNF_WINOGRAD_H
#define NNF_WINOGRAD_H
#include <Python.h>

/* Each transform is compiled for AVX-512, AVX2 and the baseline, the best
 * the CPU runs chosen when the module loads (GCC on x86-64 Linux; elsewhere
 * the baseline alone).  The operations are additions and halvings only, so
 * every version gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NNF_WINO_FN __attribute__((target_clones("avx512f", "avx2", "default"))) static void
#else
#define NNF_WINO_FN static inline void
#endif

/* The rows a loop writes are a runtime stride apart, which the compiler
 * cannot prove distinct; they are (the callers keep stride >= n). */
#if defined(__clang__)
#define NNF_NO_ALIAS _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define NNF_NO_ALIAS _Pragma("GCC ivdep")
#else
#define NNF_NO_ALIAS
#endif

/* One axis of each transform, on four (or three) scalars. */
#define NNF_BT(x0, x1, x2, x3, o0, o1, o2, o3)                                         \
    o0 = x0 - x2; o1 = x1 + x2; o2 = x2 - x1; o3 = x1 - x3;
#define NNF_B(x0, x1, x2, x3, o0, o1, o2, o3)                                          \
    o0 = x0; o1 = x1 - x2 + x3; o2 = x1 + x2 - x0; o3 = -x3;
#define NNF_G(x0, x1, x2, o0, o1, o2, o3)                                              \
    o0 = x0; o1 = half * (x0 + x1 + x2); o2 = half * (x0 - x1 + x2); o3 = x2;
#define NNF_GT(x0, x1, x2, x3, o0, o1, o2)                                             \
    o0 = x0 + half * (x1 + x2); o1 = half * (x1 - x2); o2 = half * (x1 + x2) + x3;
#define NNF_AT(x0, x1, x2, x3, o0, o1)                                                 \
    o0 = x0 + x1 + x2; o1 = x1 - x2 - x3;
#define NNF_A(x0, x1, o0, o1, o2, o3)                                                  \
    o0 = x0; o1 = x0 + x1; o2 = x0 - x1; o3 = -x1;

#define NNF_WINO_DEFINE(T, SUF)                                                          \
/* V = B^T d B of one tile: rows r0..r3 of the input hold 4 pixels of n channels   \
 * each; v[xi * stride + c]. */                                                         \
NNF_WINO_FN nnf_wino_input_##SUF(const T* r0, const T* r1, const T* r2,          \
                                        const T* r3, Py_ssize_t n,                      \
                                        T* __restrict v, Py_ssize_t stride)             \
{                                                                                       \
    Py_ssize_t c;                                                                       \
    NNF_NO_ALIAS                                                                        \
    for (c = 0; c < n; c++) {                                                          \
        T e00, e01, e02, e03, e10, e11, e12, e13, e20, e21, e22, e23, e30, e31, e32, e33; \
        NNF_BT(r0[c], r0[n + c], r0[2 * n + c], r0[3 * n + c], e00, e01, e02, e03)       \
        NNF_BT(r1[c], r1[n + c], r1[2 * n + c], r1[3 * n + c], e10, e11, e12, e13)       \
        NNF_BT(r2[c], r2[n + c], r2[2 * n + c], r2[3 * n + c], e20, e21, e22, e23)       \
        NNF_BT(r3[c], r3[n + c], r3[2 * n + c], r3[3 * n + c], e30, e31, e32, e33)       \
        NNF_BT(e00, e10, e20, e30, v[c], v[4 * stride + c], v[8 * stride + c],          \
               v[12 * stride + c])                                                      \
        NNF_BT(e01, e11, e21, e31, v[stride + c], v[5 * stride + c], v[9 * stride + c], \
               v[13 * stride + c])                                                      \
        NNF_BT(e02, e12, e22, e32, v[2 * stride + c], v[6 * stride + c],                \
               v[10 * stride + c], v[14 * stride + c])                                  \
        NNF_BT(e03, e13, e23, e33, v[3 * stride + c], v[7 * stride + c],                \
               v[11 * stride + c], v[15 * stride + c])                                  \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* The adjoint of nnf_wino_input: dd = B dV B^T added to rows r0..r3. */               \
NNF_WINO_FN nnf_wino_input_add_##SUF(const T* __restrict dv, Py_ssize_t stride,  \
                                            Py_ssize_t n, T* __restrict r0,             \
                                            T* __restrict r1, T* __restrict r2,         \
                                            T* __restrict r3)                           \
{                                                                                       \
    const T* q = dv;                                                                    \
    Py_ssize_t c, s = stride;                                                          \
    NNF_NO_ALIAS                                                                        \
    for (c = 0; c < n; c++) {                                                          \
        T e00, e01, e02, e03, e10, e11, e12, e13, e20, e21, e22, e23, e30, e31, e32, e33; \
        T o0, o1, o2, o3;                                                               \
        NNF_B(q[c], q[s + c], q[2 * s + c], q[3 * s + c], e00, e01, e02, e03)           \
        NNF_B(q[4 * s + c], q[5 * s + c], q[6 * s + c], q[7 * s + c], e10, e11, e12, e13) \
        NNF_B(q[8 * s + c], q[9 * s + c], q[10 * s + c], q[11 * s + c],                 \
              e20, e21, e22, e23)                                                       \
        NNF_B(q[12 * s + c], q[13 * s + c], q[14 * s + c], q[15 * s + c],               \
              e30, e31, e32, e33)                                                       \
        NNF_B(e00, e10, e20, e30, o0, o1, o2, o3)                                       \
        r0[c] += o0; r1[c] += o1; r2[c] += o2; r3[c] += o3;                             \
        NNF_B(e01, e11, e21, e31, o0, o1, o2, o3)                                       \
        r0[n + c] += o0; r1[n + c] += o1; r2[n + c] += o2; r3[n + c] += o3;             \
        NNF_B(e02, e12, e22, e32, o0, o1, o2, o3)                                       \
        r0[2 * n + c] += o0; r1[2 * n + c] += o1; r2[2 * n + c] += o2;                  \
        r3[2 * n + c] += o3;                                                            \
        NNF_B(e03, e13, e23, e33, o0, o1, o2, o3)                                       \
        r0[3 * n + c] += o0; r1[3 * n + c] += o1; r2[3 * n + c] += o2;                  \
        r3[3 * n + c] += o3;                                                            \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* U = G g G^T of a 3x3 kernel of n entries per position (g[(3 * i + j) * n + k]);  \
 * u[xi * n + k]. */                                                                    \
NNF_WINO_FN nnf_wino_kernel_##SUF(const T* __restrict g, Py_ssize_t n,           \
                                         T* __restrict u)                               \
{                                                                                       \
    const T half = (T) 0.5;                                                             \
    Py_ssize_t k;                                                                       \
    NNF_NO_ALIAS                                                                        \
    for (k = 0; k < n; k++) {                                                          \
        T e00, e01, e02, e03, e10, e11, e12, e13, e20, e21, e22, e23;                   \
        NNF_G(g[k], g[n + k], g[2 * n + k], e00, e01, e02, e03)                         \
        NNF_G(g[3 * n + k], g[4 * n + k], g[5 * n + k], e10, e11, e12, e13)             \
        NNF_G(g[6 * n + k], g[7 * n + k], g[8 * n + k], e20, e21, e22, e23)             \
        NNF_G(e00, e10, e20, u[k], u[4 * n + k], u[8 * n + k], u[12 * n + k])           \
        NNF_G(e01, e11, e21, u[n + k], u[5 * n + k], u[9 * n + k], u[13 * n + k])       \
        NNF_G(e02, e12, e22, u[2 * n + k], u[6 * n + k], u[10 * n + k], u[14 * n + k])  \
        NNF_G(e03, e13, e23, u[3 * n + k], u[7 * n + k], u[11 * n + k], u[15 * n + k])  \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* The adjoint of nnf_wino_kernel: dg = G^T dU G. */                                   \
NNF_WINO_FN nnf_wino_kernel_adjoint_##SUF(const T* __restrict du, Py_ssize_t n,  \
                                                 T* __restrict dg)                      \
{                                                                                       \
    const T half = (T) 0.5;                                                             \
    Py_ssize_t k;                                                                       \
    NNF_NO_ALIAS                                                                        \
    for (k = 0; k < n; k++) {                                                          \
        T e00, e01, e02, e10, e11, e12, e20, e21, e22, e30, e31, e32;                   \
        NNF_GT(du[k], du[n + k], du[2 * n + k], du[3 * n + k], e00, e01, e02)           \
        NNF_GT(du[4 * n + k], du[5 * n + k], du[6 * n + k], du[7 * n + k], e10, e11, e12) \
        NNF_GT(du[8 * n + k], du[9 * n + k], du[10 * n + k], du[11 * n + k],            \
               e20, e21, e22)                                                           \
        NNF_GT(du[12 * n + k], du[13 * n + k], du[14 * n + k], du[15 * n + k],          \
               e30, e31, e32)                                                           \
        NNF_GT(e00, e10, e20, e30, dg[k], dg[3 * n + k], dg[6 * n + k])                 \
        NNF_GT(e01, e11, e21, e31, dg[n + k], dg[4 * n + k], dg[7 * n + k])             \
        NNF_GT(e02, e12, e22, e32, dg[2 * n + k], dg[5 * n + k], dg[8 * n + k])         \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* Y = A^T M A + bias of one tile: m[xi * stride + f]; the four outputs y00 (top   \
 * left), y01, y10, y11 of n filters each. */                                           \
NNF_WINO_FN nnf_wino_output_##SUF(const T* __restrict m, Py_ssize_t stride,             \
                                  Py_ssize_t n, const T* __restrict bias,               \
                                  T* __restrict y00, T* __restrict y01,                 \
                                  T* __restrict y10, T* __restrict y11)                 \
{                                                                                       \
    Py_ssize_t f, s = stride;                                                          \
    NNF_NO_ALIAS                                                                        \
    for (f = 0; f < n; f++) {                                                          \
        T e00, e01, e02, e03, e10, e11, e12, e13, o00, o01, o10, o11;                   \
        NNF_AT(m[f], m[4 * s + f], m[8 * s + f], m[12 * s + f], e00, e10)               \
        NNF_AT(m[s + f], m[5 * s + f], m[9 * s + f], m[13 * s + f], e01, e11)           \
        NNF_AT(m[2 * s + f], m[6 * s + f], m[10 * s + f], m[14 * s + f], e02, e12)      \
        NNF_AT(m[3 * s + f], m[7 * s + f], m[11 * s + f], m[15 * s + f], e03, e13)      \
        NNF_AT(e00, e01, e02, e03, o00, o01)                                            \
        NNF_AT(e10, e11, e12, e13, o10, o11)                                            \
        y00[f] = o00 + bias[f]; y01[f] = o01 + bias[f];                                 \
        y10[f] = o10 + bias[f]; y11[f] = o11 + bias[f];                                 \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* The adjoint of nnf_wino_output: dM = A dY A^T of one tile; dm[xi * stride + f]. */  \
NNF_WINO_FN nnf_wino_output_adjoint_##SUF(const T* dy00, const T* dy01,          \
                                                 const T* dy10, const T* dy11,          \
                                                 Py_ssize_t n, T* __restrict dm,        \
                                                 Py_ssize_t stride)                     \
{                                                                                       \
    Py_ssize_t f, s = stride;                                                          \
    NNF_NO_ALIAS                                                                        \
    for (f = 0; f < n; f++) {                                                          \
        T e00, e01, e02, e03, e10, e11, e12, e13;                                       \
        NNF_A(dy00[f], dy01[f], e00, e01, e02, e03)                                     \
        NNF_A(dy10[f], dy11[f], e10, e11, e12, e13)                                     \
        NNF_A(e00, e10, dm[f], dm[4 * s + f], dm[8 * s + f], dm[12 * s + f])            \
        NNF_A(e01, e11, dm[s + f], dm[5 * s + f], dm[9 * s + f], dm[13 * s + f])        \
        NNF_A(e02, e12, dm[2 * s + f], dm[6 * s + f], dm[10 * s + f], dm[14 * s + f])   \
        NNF_A(e03, e13, dm[3 * s + f], dm[7 * s + f], dm[11 * s + f], dm[15 * s + f])   \
    }                                                                                   \
}

NNF_WINO_DEFINE(float, f32)
NNF_WINO_DEFINE(double, f64)

#undef NNF_WINO_DEFINE
#undef NNF_BT
#undef NNF_B
#undef NNF_G
#undef NNF_GT
#undef NNF_AT
#undef NNF_A
#undef NNF_NO_ALIAS
#undef NNF_WINO_FN
#endif
