/* The table of kernels compiled for three instruction sets (see
 * nnf_simd_kernels.h, which the module nnfast._simd compiles once).
 *
 * Every other module includes this header and calls nnf_simd_attach() at
 * import: it points the module's nnf_simd at the one table of nnfast._simd
 * (shared through a PyCapsule), so that nnfast._simd.select_simd_kernels
 * switches every module at once. */
#ifndef NNF_SIMD_H
#define NNF_SIMD_H
#include <Python.h>
#include <stdint.h>

#define NNF_EXP_SHIFT_ARGS(T) (const T* x, T shift, T* y, Py_ssize_t n)
#define NNF_EXP_NEGABS_ARGS(T) (const T* x, T* y, Py_ssize_t n)
#define NNF_TANH_ARGS(T) (const T* x, T* y, Py_ssize_t n)

#define NNF_ADAM_ARGS(T) (T* p, const T* g, T* m, T* v, Py_ssize_t n,    \
    T lr_c1, T b1, T omb1, T b2, T omb2, T c2, T eps, T wd)
#define NNF_RMSPROP_ARGS(T) (T* p, const T* g, T* sq, Py_ssize_t n,      \
    T lr, T rho, T omrho, T eps, T wd)
#define NNF_ADAGRAD_ARGS(T) (T* p, const T* g, T* acc, Py_ssize_t n,     \
    T lr, T eps, T wd)
#define NNF_ADAMW_ARGS(T) (T* p, const T* g, T* m, T* v, Py_ssize_t n,   \
    T lr_c1, T b1, T omb1, T b2, T omb2, T c2, T eps, T keep)
#define NNF_ADADELTA_ARGS(T) (T* p, const T* g, T* eg, T* ed,            \
    Py_ssize_t n, T lr, T rho, T omrho, T eps, T wd)

#define NNF_SIGMOID_ARGS(T) (const T* x, const T* bias, T* y, Py_ssize_t n)
#define NNF_BCE_ARGS(T) (const T* z, const T* t, T* g, Py_ssize_t n, T size)
#define NNF_MSE_ARGS(T) (const T* p, const T* t, T* g, Py_ssize_t n, T scale)
#define NNF_BP_ACT_ARGS(T) (const T* dy, const T* y, T* dz, Py_ssize_t n, int kind)
#define NNF_CONV_POOL_ARGS(T)                                            \
    (const T* x, Py_ssize_t h, Py_ssize_t w, const T* kp, const T* bp,   \
     Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t f, Py_ssize_t fp,          \
     Py_ssize_t top, Py_ssize_t left, int relu, Py_ssize_t p0,           \
     Py_ssize_t p1, Py_ssize_t wp, T* y, uint8_t* pos, T* rows)
#define NNF_CONV_POOL_GRAD_ARGS(T)                                       \
    (const T* x, Py_ssize_t h, Py_ssize_t w, const T* dy, const T* y,    \
     const uint8_t* pos, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t f,     \
     Py_ssize_t fp, Py_ssize_t top, Py_ssize_t left, int relu,           \
     Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t wp, T* dk, T* db, T* rows)
#define NNF_UNIFORM_ROW_ARGS (uint64_t key, uint64_t stream, float* out, Py_ssize_t n)
#define NNF_UNION_ARGS                                                   \
    (const uint8_t* f0, const uint8_t* f1, Py_ssize_t n, int32_t* __restrict idx)
#define NNF_NONZERO_ARGS(T)                                              \
    (const T* a, Py_ssize_t n, uint8_t* __restrict flags, int32_t* __restrict idx, \
     int* binary)
#define NNF_BERNOULLI_ARGS(T)                                            \
    (const T* p, const T* u, T* sample, Py_ssize_t n, uint8_t* __restrict flags, \
     int32_t* __restrict idx)
#define NNF_SUM_ROWS_ARGS(T)                                             \
    (const T* __restrict wt, Py_ssize_t ld, const T* v, const int32_t* idx, \
     Py_ssize_t n, int ones, T* __restrict out)
#define NNF_ADD_ROWS_ARGS(T)                                             \
    (T* __restrict wt, Py_ssize_t ld, const int32_t* rows, Py_ssize_t n, \
     T lr, const T* v0, const T* vk, const T* __restrict h0,             \
     const T* __restrict neg_hk, T* __restrict tab)

typedef struct {
    void (*exp_shift_f32) NNF_EXP_SHIFT_ARGS(float);
    void (*exp_shift_f64) NNF_EXP_SHIFT_ARGS(double);
    void (*exp_negabs_f32) NNF_EXP_NEGABS_ARGS(float);
    void (*exp_negabs_f64) NNF_EXP_NEGABS_ARGS(double);
    void (*sigmoid_f32) NNF_SIGMOID_ARGS(float);
    void (*sigmoid_f64) NNF_SIGMOID_ARGS(double);
    void (*tanh_f32) NNF_TANH_ARGS(float);
    void (*tanh_f64) NNF_TANH_ARGS(double);
    void (*adam_f32) NNF_ADAM_ARGS(float);
    void (*adam_f64) NNF_ADAM_ARGS(double);
    void (*adamw_f32) NNF_ADAMW_ARGS(float);
    void (*adamw_f64) NNF_ADAMW_ARGS(double);
    void (*rmsprop_f32) NNF_RMSPROP_ARGS(float);
    void (*rmsprop_f64) NNF_RMSPROP_ARGS(double);
    void (*adagrad_f32) NNF_ADAGRAD_ARGS(float);
    void (*adagrad_f64) NNF_ADAGRAD_ARGS(double);
    void (*adadelta_f32) NNF_ADADELTA_ARGS(float);
    void (*adadelta_f64) NNF_ADADELTA_ARGS(double);
    void (*uniform_row_f32) NNF_UNIFORM_ROW_ARGS;
    /* The RBM's sparse row kernels (see nnf_simd_kernels.h). */
    Py_ssize_t (*nonzero_f32) NNF_NONZERO_ARGS(float);
    Py_ssize_t (*nonzero_f64) NNF_NONZERO_ARGS(double);
    Py_ssize_t (*bernoulli_f32) NNF_BERNOULLI_ARGS(float);
    Py_ssize_t (*bernoulli_f64) NNF_BERNOULLI_ARGS(double);
    void (*sum_rows_f32) NNF_SUM_ROWS_ARGS(float);
    void (*sum_rows_f64) NNF_SUM_ROWS_ARGS(double);
    void (*add_rows_f32) NNF_ADD_ROWS_ARGS(float);
    void (*add_rows_f64) NNF_ADD_ROWS_ARGS(double);
    Py_ssize_t (*union_idx) NNF_UNION_ARGS;
    double (*bce_f32) NNF_BCE_ARGS(float);
    double (*bce_f64) NNF_BCE_ARGS(double);
    double (*mse_f32) NNF_MSE_ARGS(float);
    double (*mse_f64) NNF_MSE_ARGS(double);
    void (*bp_act_f32) NNF_BP_ACT_ARGS(float);
    void (*bp_act_f64) NNF_BP_ACT_ARGS(double);
    /* The one-channel convolution with 2x2 max pooling (NULL where the
     * compiler has no vector extensions). */
    void (*conv_pool_f32) NNF_CONV_POOL_ARGS(float);
    void (*conv_pool_f64) NNF_CONV_POOL_ARGS(double);
    void (*conv_pool_grad_f32) NNF_CONV_POOL_GRAD_ARGS(float);
    void (*conv_pool_grad_f64) NNF_CONV_POOL_GRAD_ARGS(double);
} nnf_simd_t;


static const nnf_simd_t* nnf_simd = NULL;

#define NNF_SIMD_CAPSULE "nnfast._simd._table"

static int nnf_simd_attach(void) {
    PyObject* module = PyImport_ImportModule("nnfast._simd");
    PyObject* capsule;
    if (module == NULL) return -1;
    capsule = PyObject_GetAttrString(module, "_table");
    Py_DECREF(module);
    if (capsule == NULL) return -1;
    nnf_simd = (const nnf_simd_t*) PyCapsule_GetPointer(capsule, NNF_SIMD_CAPSULE);
    Py_DECREF(capsule);
    return nnf_simd == NULL ? -1 : 0;
}
#endif
