/* The transforms of the Winograd convolutions F(2x2, 3x3) and F(4x4, 3x3) (see
 * _conv.pxd).
 *
 * F(2x2, 3x3): a 4x4 tile of input d gives a 2x2 tile of output through
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
 * the baseline alone).  Every version does the same operations in the same
 * order (the build turns off fused multiply-adds), so all give the same
 * bits. */
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
#define NNF_BT(x0, x1, x2, x3, o0, o1, o2, o3)                                          \
    o0 = x0 - x2; o1 = x1 + x2; o2 = x2 - x1; o3 = x1 - x3;
#define NNF_B(x0, x1, x2, x3, o0, o1, o2, o3)                                           \
    o0 = x0; o1 = x1 - x2 + x3; o2 = x1 + x2 - x0; o3 = -x3;
#define NNF_G(x0, x1, x2, o0, o1, o2, o3)                                               \
    o0 = x0; o1 = half * (x0 + x1 + x2); o2 = half * (x0 - x1 + x2); o3 = x2;
#define NNF_GT(x0, x1, x2, x3, o0, o1, o2)                                              \
    o0 = x0 + half * (x1 + x2); o1 = half * (x1 - x2); o2 = half * (x1 + x2) + x3;
#define NNF_AT(x0, x1, x2, x3, o0, o1)                                                  \
    o0 = x0 + x1 + x2; o1 = x1 - x2 - x3;
#define NNF_A(x0, x1, o0, o1, o2, o3)                                                   \
    o0 = x0; o1 = x0 + x1; o2 = x0 - x1; o3 = -x1;

#define NNF_WINO_DEFINE(T, SUF)                                                         \
/* V = B^T d B of one tile: rows r0..r3 of the input hold 4 pixels of n channels        \
 * each; v[xi * stride + c]. */                                                         \
NNF_WINO_FN nnf_wino_input_##SUF(const T* r0, const T* r1, const T* r2,                 \
                                        const T* r3, Py_ssize_t n,                      \
                                        T* __restrict v, Py_ssize_t stride)             \
{                                                                                       \
    Py_ssize_t c;                                                                       \
    NNF_NO_ALIAS                                                                        \
    for (c = 0; c < n; c++) {                                                           \
        T e00, e01, e02, e03, e10, e11, e12, e13, e20, e21, e22, e23, e30, e31, e32, e33; \
        NNF_BT(r0[c], r0[n + c], r0[2 * n + c], r0[3 * n + c], e00, e01, e02, e03)      \
        NNF_BT(r1[c], r1[n + c], r1[2 * n + c], r1[3 * n + c], e10, e11, e12, e13)      \
        NNF_BT(r2[c], r2[n + c], r2[2 * n + c], r2[3 * n + c], e20, e21, e22, e23)      \
        NNF_BT(r3[c], r3[n + c], r3[2 * n + c], r3[3 * n + c], e30, e31, e32, e33)      \
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
/* The adjoint of nnf_wino_input: dd = B dV B^T added to rows r0..r3. */                \
NNF_WINO_FN nnf_wino_input_add_##SUF(const T* __restrict dv, Py_ssize_t stride,         \
                                            Py_ssize_t n, T* __restrict r0,             \
                                            T* __restrict r1, T* __restrict r2,         \
                                            T* __restrict r3)                           \
{                                                                                       \
    const T* q = dv;                                                                    \
    Py_ssize_t c, s = stride;                                                           \
    NNF_NO_ALIAS                                                                        \
    for (c = 0; c < n; c++) {                                                           \
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
/* U = G g G^T of n entries of a 3x3 kernel (g[(3 * i + j) * s + k], the rows s         \
 * apart); u[xi * s + k]. */                                                            \
NNF_WINO_FN nnf_wino_kernel_##SUF(const T* __restrict g, Py_ssize_t n,                  \
                                         Py_ssize_t s, T* __restrict u)                 \
{                                                                                       \
    const T half = (T) 0.5;                                                             \
    Py_ssize_t k;                                                                       \
    NNF_NO_ALIAS                                                                        \
    for (k = 0; k < n; k++) {                                                           \
        T e00, e01, e02, e03, e10, e11, e12, e13, e20, e21, e22, e23;                   \
        NNF_G(g[k], g[s + k], g[2 * s + k], e00, e01, e02, e03)                         \
        NNF_G(g[3 * s + k], g[4 * s + k], g[5 * s + k], e10, e11, e12, e13)             \
        NNF_G(g[6 * s + k], g[7 * s + k], g[8 * s + k], e20, e21, e22, e23)             \
        NNF_G(e00, e10, e20, u[k], u[4 * s + k], u[8 * s + k], u[12 * s + k])           \
        NNF_G(e01, e11, e21, u[s + k], u[5 * s + k], u[9 * s + k], u[13 * s + k])       \
        NNF_G(e02, e12, e22, u[2 * s + k], u[6 * s + k], u[10 * s + k], u[14 * s + k])  \
        NNF_G(e03, e13, e23, u[3 * s + k], u[7 * s + k], u[11 * s + k], u[15 * s + k])  \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* The adjoint of nnf_wino_kernel: dg = G^T dU G, rows s apart. */                      \
NNF_WINO_FN nnf_wino_kernel_adjoint_##SUF(const T* __restrict du, Py_ssize_t n,         \
                                                 Py_ssize_t s, T* __restrict dg)        \
{                                                                                       \
    const T half = (T) 0.5;                                                             \
    Py_ssize_t k;                                                                       \
    NNF_NO_ALIAS                                                                        \
    for (k = 0; k < n; k++) {                                                           \
        T e00, e01, e02, e10, e11, e12, e20, e21, e22, e30, e31, e32;                   \
        NNF_GT(du[k], du[s + k], du[2 * s + k], du[3 * s + k], e00, e01, e02)           \
        NNF_GT(du[4 * s + k], du[5 * s + k], du[6 * s + k], du[7 * s + k], e10, e11, e12) \
        NNF_GT(du[8 * s + k], du[9 * s + k], du[10 * s + k], du[11 * s + k],            \
               e20, e21, e22)                                                           \
        NNF_GT(du[12 * s + k], du[13 * s + k], du[14 * s + k], du[15 * s + k],          \
               e30, e31, e32)                                                           \
        NNF_GT(e00, e10, e20, e30, dg[k], dg[3 * s + k], dg[6 * s + k])                 \
        NNF_GT(e01, e11, e21, e31, dg[s + k], dg[4 * s + k], dg[7 * s + k])             \
        NNF_GT(e02, e12, e22, e32, dg[2 * s + k], dg[5 * s + k], dg[8 * s + k])         \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* Y = A^T M A + bias of one tile: m[xi * stride + f]; the four outputs y00 (top        \
 * left), y01, y10, y11 of n filters each. */                                           \
NNF_WINO_FN nnf_wino_output_##SUF(const T* __restrict m, Py_ssize_t stride,             \
                                  Py_ssize_t n, const T* __restrict bias,               \
                                  T* __restrict y00, T* __restrict y01,                 \
                                  T* __restrict y10, T* __restrict y11)                 \
{                                                                                       \
    Py_ssize_t f, s = stride;                                                           \
    NNF_NO_ALIAS                                                                        \
    for (f = 0; f < n; f++) {                                                           \
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
/* The adjoint of nnf_wino_output: dM = A dY A^T of one tile; dm[xi * stride + f]. */   \
NNF_WINO_FN nnf_wino_output_adjoint_##SUF(const T* dy00, const T* dy01,                 \
                                                 const T* dy10, const T* dy11,          \
                                                 Py_ssize_t n, T* __restrict dm,        \
                                                 Py_ssize_t stride)                     \
{                                                                                       \
    Py_ssize_t f, s = stride;                                                           \
    NNF_NO_ALIAS                                                                        \
    for (f = 0; f < n; f++) {                                                           \
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

/* Winograd F(4x4, 3x3): a 6x6 tile of input gives a 4x4 tile of output, by
 * the matrices of the points 0, 1, -1, 2, -2 and infinity, along one axis:
 *     B^T: v0 = 4 d0 - 5 d2 + d4,  v1 = (d4 - 4 d2) + (d3 - 4 d1),
 *          v2 = (d4 - 4 d2) - (d3 - 4 d1),  v3 = (d4 - d2) + 2 (d3 - d1),
 *          v4 = (d4 - d2) - 2 (d3 - d1),  v5 = 4 d1 - 5 d3 + d5
 *     G:   u0 = g0 / 4,  u1 = -(g0 + g1 + g2) / 6,  u2 = -(g0 - g1 + g2) / 6,
 *          u3 = g0 / 24 + g1 / 12 + g2 / 6,  u4 = g0 / 24 - g1 / 12 + g2 / 6,  u5 = g2
 *     A^T: y0 = m0 + (m1 + m2) + (m3 + m4),  y1 = (m1 - m2) + 2 (m3 - m4),
 *          y2 = (m1 + m2) + 4 (m3 + m4),  y3 = (m1 - m2) + 8 (m3 - m4) + m5
 * and their adjoints.  The 36 values of a tile are the matrices
 * ``xi = 6 * a + b``.  Six values per channel along two axes do not fit in
 * registers, so each function runs in two passes over a chunk of channels:
 * one axis into a small buffer on the stack, then the other. */
#define NNF_W4_CHUNK 32
#define NNF_BT6(T, x0, x1, x2, x3, x4, x5, o0, o1, o2, o3, o4, o5) {                    \
    T p_ = x4 - (T) 4 * x2, q_ = x3 - (T) 4 * x1, r_ = x4 - x2, s_ = (T) 2 * (x3 - x1); \
    o0 = (T) 4 * x0 - (T) 5 * x2 + x4; o1 = p_ + q_; o2 = p_ - q_;                      \
    o3 = r_ + s_; o4 = r_ - s_; o5 = (T) 4 * x1 - (T) 5 * x3 + x5; }
/* The adjoint of NNF_BT6 (B applied to six values). */
#define NNF_B6(T, x0, x1, x2, x3, x4, x5, o0, o1, o2, o3, o4, o5) {                     \
    T p_ = x2 - x1, q_ = x4 - x3, r_ = x1 + x2, s_ = x3 + x4;                           \
    o0 = (T) 4 * x0; o1 = (T) 4 * (p_ + x5) + (T) 2 * q_;                               \
    o2 = -((T) 5 * x0 + (T) 4 * r_ + s_); o3 = -p_ - (T) 2 * q_ - (T) 5 * x5;           \
    o4 = x0 + r_ + s_; o5 = x5; }
#define NNF_G6(T, x0, x1, x2, o0, o1, o2, o3, o4, o5) {                                 \
    T e_ = x0 + x2, f_ = x0 * (T) (1.0 / 24) + x2 * (T) (1.0 / 6), h_ = x1 * (T) (1.0 / 12); \
    o0 = x0 * (T) 0.25; o1 = -(e_ + x1) * (T) (1.0 / 6); o2 = -(e_ - x1) * (T) (1.0 / 6); \
    o3 = f_ + h_; o4 = f_ - h_; o5 = x2; }
/* The adjoint of NNF_G6 (G^T applied to six values). */
#define NNF_GT6(T, x0, x1, x2, x3, x4, x5, o0, o1, o2) {                                \
    T s12_ = (x1 + x2) * (T) (1.0 / 6), s34_ = x3 + x4;                                 \
    o0 = x0 * (T) 0.25 - s12_ + s34_ * (T) (1.0 / 24);                                  \
    o1 = (x2 - x1) * (T) (1.0 / 6) + (x3 - x4) * (T) (1.0 / 12);                        \
    o2 = s34_ * (T) (1.0 / 6) - s12_ + x5; }
#define NNF_AT6(T, x0, x1, x2, x3, x4, x5, o0, o1, o2, o3) {                            \
    T p_ = x1 + x2, q_ = x1 - x2, r_ = x3 + x4, s_ = x3 - x4;                           \
    o0 = x0 + p_ + r_; o1 = q_ + (T) 2 * s_; o2 = p_ + (T) 4 * r_;                      \
    o3 = q_ + (T) 8 * s_ + x5; }
/* The adjoint of NNF_AT6 (A applied to four values). */
#define NNF_A6(T, x0, x1, x2, x3, o0, o1, o2, o3, o4, o5) {                             \
    T p_ = x0 + x2, q_ = x1 + x3, r_ = x0 + (T) 4 * x2, s_ = (T) 2 * x1 + (T) 8 * x3;   \
    o0 = x0; o1 = p_ + q_; o2 = p_ - q_; o3 = r_ + s_; o4 = r_ - s_; o5 = x3; }

#define NNF_WINO4_DEFINE(T, SUF)                                                        \
/* V = B^T d B of one tile: rows[a] (a < 6) holds 6 pixels of n channels;               \
 * v[xi * stride + c]. */                                                               \
NNF_WINO_FN nnf_wino4_input_##SUF(const T* const* rows, Py_ssize_t n,                   \
                                  T* __restrict v, Py_ssize_t stride)                   \
{                                                                                       \
    T t[36 * NNF_W4_CHUNK];                                                             \
    Py_ssize_t c0, l, a, b, len, s = stride;                                            \
    for (c0 = 0; c0 < n; c0 += NNF_W4_CHUNK) {                                          \
        len = n - c0 < NNF_W4_CHUNK ? n - c0 : NNF_W4_CHUNK;                            \
        for (a = 0; a < 6; a++) {                                                       \
            const T* r = rows[a] + c0;                                                  \
            T* __restrict o = t + 6 * a * NNF_W4_CHUNK;                                 \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_BT6(T, r[l], r[n + l], r[2 * n + l], r[3 * n + l], r[4 * n + l],    \
                        r[5 * n + l], o[l], o[NNF_W4_CHUNK + l], o[2 * NNF_W4_CHUNK + l], \
                        o[3 * NNF_W4_CHUNK + l], o[4 * NNF_W4_CHUNK + l],               \
                        o[5 * NNF_W4_CHUNK + l])                                        \
        }                                                                               \
        for (b = 0; b < 6; b++) {                                                       \
            const T* r = t + b * NNF_W4_CHUNK;                                          \
            T* o = v + b * s + c0;                                                      \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_BT6(T, r[l], r[6 * NNF_W4_CHUNK + l], r[12 * NNF_W4_CHUNK + l],     \
                        r[18 * NNF_W4_CHUNK + l], r[24 * NNF_W4_CHUNK + l],             \
                        r[30 * NNF_W4_CHUNK + l], o[l], o[6 * s + l], o[12 * s + l],    \
                        o[18 * s + l], o[24 * s + l], o[30 * s + l])                    \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* The adjoint of nnf_wino4_input: dd = B dV B^T added to rows[a] (a < 6). */           \
NNF_WINO_FN nnf_wino4_input_add_##SUF(const T* __restrict dv, Py_ssize_t stride,        \
                                      Py_ssize_t n, T* const* rows)                     \
{                                                                                       \
    T t[36 * NNF_W4_CHUNK];                                                             \
    Py_ssize_t c0, l, a, b, len, s = stride;                                            \
    for (c0 = 0; c0 < n; c0 += NNF_W4_CHUNK) {                                          \
        len = n - c0 < NNF_W4_CHUNK ? n - c0 : NNF_W4_CHUNK;                            \
        /* Along the tile's rows: t[(6 * a + b) * CHUNK] for pixel row a, column b. */  \
        for (b = 0; b < 6; b++) {                                                       \
            const T* q = dv + b * s + c0;                                               \
            T* __restrict o = t + b * NNF_W4_CHUNK;                                     \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_B6(T, q[l], q[6 * s + l], q[12 * s + l], q[18 * s + l], q[24 * s + l], \
                       q[30 * s + l], o[l], o[6 * NNF_W4_CHUNK + l],                    \
                       o[12 * NNF_W4_CHUNK + l], o[18 * NNF_W4_CHUNK + l],              \
                       o[24 * NNF_W4_CHUNK + l], o[30 * NNF_W4_CHUNK + l])              \
        }                                                                               \
        for (a = 0; a < 6; a++) {                                                       \
            const T* q = t + 6 * a * NNF_W4_CHUNK;                                      \
            T* __restrict r = rows[a] + c0;                                             \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++) {                                                 \
                T o0, o1, o2, o3, o4, o5;                                               \
                NNF_B6(T, q[l], q[NNF_W4_CHUNK + l], q[2 * NNF_W4_CHUNK + l],           \
                       q[3 * NNF_W4_CHUNK + l], q[4 * NNF_W4_CHUNK + l],                \
                       q[5 * NNF_W4_CHUNK + l], o0, o1, o2, o3, o4, o5)                 \
                r[l] += o0; r[n + l] += o1; r[2 * n + l] += o2;                         \
                r[3 * n + l] += o3; r[4 * n + l] += o4; r[5 * n + l] += o5;             \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* U = G g G^T of n entries of a 3x3 kernel (g[(3 * i + j) * s + k], the rows s         \
 * apart); u[xi * s + k].  In two passes over chunks of entries, as the tiles. */       \
NNF_WINO_FN nnf_wino4_kernel_##SUF(const T* __restrict g, Py_ssize_t n,                 \
                                   Py_ssize_t s, T* __restrict u)                       \
{                                                                                       \
    T t[18 * NNF_W4_CHUNK];                                                             \
    Py_ssize_t k0, l, i, b, len;                                                        \
    for (k0 = 0; k0 < n; k0 += NNF_W4_CHUNK) {                                          \
        len = n - k0 < NNF_W4_CHUNK ? n - k0 : NNF_W4_CHUNK;                            \
        /* Along the kernel's rows: t[(6 * i + b) * CHUNK] for kernel row i. */         \
        for (i = 0; i < 3; i++) {                                                       \
            const T* q = g + 3 * i * s + k0;                                            \
            T* __restrict o = t + 6 * i * NNF_W4_CHUNK;                                 \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_G6(T, q[l], q[s + l], q[2 * s + l], o[l], o[NNF_W4_CHUNK + l],      \
                       o[2 * NNF_W4_CHUNK + l], o[3 * NNF_W4_CHUNK + l],                \
                       o[4 * NNF_W4_CHUNK + l], o[5 * NNF_W4_CHUNK + l])                \
        }                                                                               \
        for (b = 0; b < 6; b++) {                                                       \
            const T* q = t + b * NNF_W4_CHUNK;                                          \
            T* o = u + b * s + k0;                                                      \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_G6(T, q[l], q[6 * NNF_W4_CHUNK + l], q[12 * NNF_W4_CHUNK + l], o[l], \
                       o[6 * s + l], o[12 * s + l], o[18 * s + l], o[24 * s + l],       \
                       o[30 * s + l])                                                   \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* The adjoint of nnf_wino4_kernel: dg = G^T dU G, rows s apart. */                     \
NNF_WINO_FN nnf_wino4_kernel_adjoint_##SUF(const T* __restrict du, Py_ssize_t n,        \
                                           Py_ssize_t s, T* __restrict dg)              \
{                                                                                       \
    T t[18 * NNF_W4_CHUNK];                                                             \
    Py_ssize_t k0, l, a, j, len;                                                        \
    for (k0 = 0; k0 < n; k0 += NNF_W4_CHUNK) {                                          \
        len = n - k0 < NNF_W4_CHUNK ? n - k0 : NNF_W4_CHUNK;                            \
        /* Along the tile's rows: t[(3 * a + j) * CHUNK] for tile row a. */             \
        for (a = 0; a < 6; a++) {                                                       \
            const T* q = du + 6 * a * s + k0;                                           \
            T* __restrict o = t + 3 * a * NNF_W4_CHUNK;                                 \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_GT6(T, q[l], q[s + l], q[2 * s + l], q[3 * s + l], q[4 * s + l],    \
                        q[5 * s + l], o[l], o[NNF_W4_CHUNK + l], o[2 * NNF_W4_CHUNK + l]) \
        }                                                                               \
        for (j = 0; j < 3; j++) {                                                       \
            const T* q = t + j * NNF_W4_CHUNK;                                          \
            T* o = dg + j * s + k0;                                                     \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_GT6(T, q[l], q[3 * NNF_W4_CHUNK + l], q[6 * NNF_W4_CHUNK + l],      \
                        q[9 * NNF_W4_CHUNK + l], q[12 * NNF_W4_CHUNK + l],              \
                        q[15 * NNF_W4_CHUNK + l], o[l], o[3 * s + l], o[6 * s + l])     \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* Y = A^T M A + bias of one tile: m[xi * stride + f]; the 16 outputs ys[4 * i + j]     \
 * (row i, column j of the tile) of n filters each. */                                  \
NNF_WINO_FN nnf_wino4_output_##SUF(const T* __restrict m, Py_ssize_t stride,            \
                                   Py_ssize_t n, const T* __restrict bias,              \
                                   T* const* ys)                                        \
{                                                                                       \
    T t[24 * NNF_W4_CHUNK];                                                             \
    Py_ssize_t f0, l, a, j, len, s = stride;                                            \
    for (f0 = 0; f0 < n; f0 += NNF_W4_CHUNK) {                                          \
        len = n - f0 < NNF_W4_CHUNK ? n - f0 : NNF_W4_CHUNK;                            \
        /* Along the tile's rows: t[(4 * a + j) * CHUNK] for row a, output column j. */ \
        for (a = 0; a < 6; a++) {                                                       \
            const T* q = m + 6 * a * s + f0;                                            \
            T* __restrict o = t + 4 * a * NNF_W4_CHUNK;                                 \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_AT6(T, q[l], q[s + l], q[2 * s + l], q[3 * s + l], q[4 * s + l],    \
                        q[5 * s + l], o[l], o[NNF_W4_CHUNK + l], o[2 * NNF_W4_CHUNK + l], \
                        o[3 * NNF_W4_CHUNK + l])                                        \
        }                                                                               \
        for (j = 0; j < 4; j++) {                                                       \
            const T* q = t + j * NNF_W4_CHUNK;                                          \
            T* y0 = ys[j] + f0;                                                         \
            T* y1 = ys[4 + j] + f0;                                                     \
            T* y2 = ys[8 + j] + f0;                                                     \
            T* y3 = ys[12 + j] + f0;                                                    \
            const T* bb = bias + f0;                                                    \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++) {                                                 \
                T o0, o1, o2, o3;                                                       \
                NNF_AT6(T, q[l], q[4 * NNF_W4_CHUNK + l], q[8 * NNF_W4_CHUNK + l],      \
                        q[12 * NNF_W4_CHUNK + l], q[16 * NNF_W4_CHUNK + l],             \
                        q[20 * NNF_W4_CHUNK + l], o0, o1, o2, o3)                       \
                y0[l] = o0 + bb[l]; y1[l] = o1 + bb[l];                                 \
                y2[l] = o2 + bb[l]; y3[l] = o3 + bb[l];                                 \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* The adjoint of nnf_wino4_output: dM = A dY A^T of one tile, from the 16 output       \
 * gradients dys[4 * i + j]; dm[xi * stride + f]. */                                    \
NNF_WINO_FN nnf_wino4_output_adjoint_##SUF(const T* const* dys, Py_ssize_t n,           \
                                           T* __restrict dm, Py_ssize_t stride)         \
{                                                                                       \
    T t[24 * NNF_W4_CHUNK];                                                             \
    Py_ssize_t f0, l, i, b, len, s = stride;                                            \
    for (f0 = 0; f0 < n; f0 += NNF_W4_CHUNK) {                                          \
        len = n - f0 < NNF_W4_CHUNK ? n - f0 : NNF_W4_CHUNK;                            \
        /* Along the output's rows: t[(6 * i + b) * CHUNK] for output row i. */         \
        for (i = 0; i < 4; i++) {                                                       \
            const T* d0 = dys[4 * i] + f0;                                              \
            const T* d1 = dys[4 * i + 1] + f0;                                          \
            const T* d2 = dys[4 * i + 2] + f0;                                          \
            const T* d3 = dys[4 * i + 3] + f0;                                          \
            T* __restrict o = t + 6 * i * NNF_W4_CHUNK;                                 \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_A6(T, d0[l], d1[l], d2[l], d3[l], o[l], o[NNF_W4_CHUNK + l],        \
                       o[2 * NNF_W4_CHUNK + l], o[3 * NNF_W4_CHUNK + l],                \
                       o[4 * NNF_W4_CHUNK + l], o[5 * NNF_W4_CHUNK + l])                \
        }                                                                               \
        for (b = 0; b < 6; b++) {                                                       \
            const T* q = t + b * NNF_W4_CHUNK;                                          \
            T* o = dm + b * s + f0;                                                     \
            NNF_NO_ALIAS                                                                \
            for (l = 0; l < len; l++)                                                   \
                NNF_A6(T, q[l], q[6 * NNF_W4_CHUNK + l], q[12 * NNF_W4_CHUNK + l],      \
                       q[18 * NNF_W4_CHUNK + l], o[l], o[6 * s + l], o[12 * s + l],     \
                       o[18 * s + l], o[24 * s + l], o[30 * s + l])                     \
        }                                                                               \
    }                                                                                   \
}

NNF_WINO4_DEFINE(float, f32)
NNF_WINO4_DEFINE(double, f64)

#undef NNF_WINO4_DEFINE
#undef NNF_W4_CHUNK
#undef NNF_BT6
#undef NNF_B6
#undef NNF_G6
#undef NNF_GT6
#undef NNF_AT6
#undef NNF_A6
#undef NNF_BT
#undef NNF_B
#undef NNF_G
#undef NNF_GT
#undef NNF_AT
#undef NNF_A
#undef NNF_NO_ALIAS
#undef NNF_WINO_FN
#endif
