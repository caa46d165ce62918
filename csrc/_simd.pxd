# The kernels compiled for several instruction sets (csrc/nnf_simd_kernels.h),
# reached by every module through one table that nnfast._simd owns.  A module
# that uses them calls ``attach_simd()`` once at import.
from libc.stdint cimport int32_t, uint8_t, uint64_t

cdef extern from "nnf_simd.h":
    ctypedef struct nnf_simd_t:
        void (*exp_shift_f32)(const float*, float, float*, Py_ssize_t) noexcept nogil
        void (*exp_shift_f64)(const double*, double, double*, Py_ssize_t) noexcept nogil
        void (*exp_negabs_f32)(const float*, float*, Py_ssize_t) noexcept nogil
        void (*exp_negabs_f64)(const double*, double*, Py_ssize_t) noexcept nogil
        void (*sigmoid_f32)(const float*, const float*, float*, Py_ssize_t) noexcept nogil
        void (*sigmoid_f64)(const double*, const double*, double*, Py_ssize_t) noexcept nogil
        void (*tanh_f32)(const float*, float*, Py_ssize_t) noexcept nogil
        void (*tanh_f64)(const double*, double*, Py_ssize_t) noexcept nogil
        void (*adam_f32)(float*, const float*, float*, float*, Py_ssize_t, float, float, float,
                         float, float, float, float, float) noexcept nogil
        void (*adam_f64)(double*, const double*, double*, double*, Py_ssize_t, double, double,
                         double, double, double, double, double, double) noexcept nogil
        void (*adamw_f32)(float*, const float*, float*, float*, Py_ssize_t, float, float, float,
                          float, float, float, float, float) noexcept nogil
        void (*adamw_f64)(double*, const double*, double*, double*, Py_ssize_t, double, double,
                          double, double, double, double, double, double) noexcept nogil
        void (*rmsprop_f32)(float*, const float*, float*, Py_ssize_t, float, float, float, float,
                            float) noexcept nogil
        void (*rmsprop_f64)(double*, const double*, double*, Py_ssize_t, double, double, double,
                            double, double) noexcept nogil
        void (*adagrad_f32)(float*, const float*, float*, Py_ssize_t, float, float,
                            float) noexcept nogil
        void (*adagrad_f64)(double*, const double*, double*, Py_ssize_t, double, double,
                            double) noexcept nogil
        void (*adadelta_f32)(float*, const float*, float*, float*, Py_ssize_t, float, float,
                             float, float, float) noexcept nogil
        void (*adadelta_f64)(double*, const double*, double*, double*, Py_ssize_t, double,
                             double, double, double, double) noexcept nogil
        void (*uniform_row_f32)(uint64_t, uint64_t, float*, Py_ssize_t) noexcept nogil
        Py_ssize_t (*nonzero_f32)(const float*, Py_ssize_t, uint8_t*, int32_t*,
                                  int*) noexcept nogil
        Py_ssize_t (*nonzero_f64)(const double*, Py_ssize_t, uint8_t*, int32_t*,
                                  int*) noexcept nogil
        Py_ssize_t (*bernoulli_f32)(const float*, const float*, float*, Py_ssize_t, uint8_t*,
                                    int32_t*) noexcept nogil
        Py_ssize_t (*bernoulli_f64)(const double*, const double*, double*, Py_ssize_t,
                                    uint8_t*, int32_t*) noexcept nogil
        void (*sum_rows_f32)(const float*, Py_ssize_t, const float*, const int32_t*, Py_ssize_t,
                             int, float*) noexcept nogil
        void (*sum_rows_f64)(const double*, Py_ssize_t, const double*, const int32_t*,
                             Py_ssize_t, int, double*) noexcept nogil
        void (*add_rows_f32)(float*, Py_ssize_t, const int32_t*, Py_ssize_t, float,
                             const float*, const float*, const float*, const float*,
                             float*) noexcept nogil
        void (*add_rows_f64)(double*, Py_ssize_t, const int32_t*, Py_ssize_t, double,
                             const double*, const double*, const double*, const double*,
                             double*) noexcept nogil
        Py_ssize_t (*union_idx)(const uint8_t*, const uint8_t*, Py_ssize_t,
                                int32_t*) noexcept nogil
        double (*bce_f32)(const float*, const float*, float*, Py_ssize_t, float) noexcept nogil
        double (*bce_f64)(const double*, const double*, double*, Py_ssize_t,
                          double) noexcept nogil
        double (*mse_f32)(const float*, const float*, float*, Py_ssize_t, float) noexcept nogil
        double (*mse_f64)(const double*, const double*, double*, Py_ssize_t,
                          double) noexcept nogil
        void (*bp_act_f32)(const float*, const float*, float*, Py_ssize_t, int) noexcept nogil
        void (*bp_act_f64)(const double*, const double*, double*, Py_ssize_t,
                           int) noexcept nogil
        void (*conv_pool_f32)(const float*, Py_ssize_t, Py_ssize_t, const float*, const float*,
                              Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                              Py_ssize_t, int, Py_ssize_t, Py_ssize_t, Py_ssize_t, float*,
                              uint8_t*, float*) noexcept nogil
        void (*conv_pool_f64)(const double*, Py_ssize_t, Py_ssize_t, const double*,
                              const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                              Py_ssize_t, Py_ssize_t, int, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                              double*, uint8_t*, double*) noexcept nogil
        void (*conv_pool_grad_f32)(const float*, Py_ssize_t, Py_ssize_t, const float*,
                                   const float*, const uint8_t*, Py_ssize_t, Py_ssize_t,
                                   Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, int,
                                   Py_ssize_t, Py_ssize_t, Py_ssize_t, float*, float*,
                                   float*) noexcept nogil
        void (*conv_pool_grad_f64)(const double*, Py_ssize_t, Py_ssize_t, const double*,
                                   const double*, const uint8_t*, Py_ssize_t, Py_ssize_t,
                                   Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, int,
                                   Py_ssize_t, Py_ssize_t, Py_ssize_t, double*, double*,
                                   double*) noexcept nogil

    const nnf_simd_t* nnf_simd
    int nnf_simd_attach() except -1
