# Optimizer updates: one pass over each parameter, in which weight decay,
# state update and parameter update for an element happen together.  The
# arithmetic follows the reference formulas term by term (same order of
# operations, scalars rounded to the array dtype), so results agree with
# numpy to within an ulp or two.  SGD is bound by memory and stays here; the
# updates with a square root and a division per element run the
# instruction-set specific kernels of nnf_simd.h.
from cython cimport floating
from cython.parallel cimport prange

from _parallel cimport chunk_size, n_chunks
from _simd cimport nnf_simd

# Update rules of ``update``; ``h`` holds their scalars as doubles (rounded to
# the arrays' dtype where the update uses them).  ``wd`` is the L2 term added
# to the gradient, except for AdamW, where it decays the parameter directly.
cdef enum:
    RULE_NONE = 0
    RULE_SGD = 1        # h: lr
    RULE_MOMENTUM = 2   # lr, momentum
    RULE_NESTEROV = 3   # lr, momentum
    RULE_ADAM = 4       # lr, beta1, beta2, eps, 1 - beta1**t, 1 - beta2**t
    RULE_RMSPROP = 5    # lr, rho, eps
    RULE_ADAGRAD = 6    # lr, eps
    RULE_ADADELTA = 7   # lr, rho, eps
    RULE_ADAMW = 8      # as Adam


cdef inline void sgd_range(floating* p, const floating* g, Py_ssize_t n, floating lr,
                           floating wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi
    for i in range(n):
        gi = g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        p[i] = p[i] - lr * gi


cdef inline void momentum_range(floating* p, const floating* g, floating* v, Py_ssize_t n,
                                floating lr, floating mu, bint nesterov,
                                floating wd) noexcept nogil:
    # Two loops rather than a test of ``nesterov`` per element: the compiler
    # takes only the weight-decay test out of the loop by itself.
    cdef Py_ssize_t i
    cdef floating gi, vi
    if nesterov:
        for i in range(n):
            gi = g[i]
            if wd != 0:
                gi = gi + wd * p[i]
            vi = v[i] * mu - lr * gi
            v[i] = vi
            p[i] = p[i] + (mu * vi - lr * gi)
    else:
        for i in range(n):
            gi = g[i]
            if wd != 0:
                gi = gi + wd * p[i]
            vi = v[i] * mu - lr * gi
            v[i] = vi
            p[i] = p[i] + vi


cdef inline void update_range(int rule, floating* p, const floating* g, floating* s0,
                              floating* s1, Py_ssize_t n, const double* h,
                              double weight_decay) noexcept nogil:
    """Update rule ``rule`` on ``n`` elements; ``s0``, ``s1`` its state (or NULL)."""
    cdef floating wd = <floating> weight_decay
    if rule == RULE_SGD:
        sgd_range(p, g, n, <floating> h[0], wd)
    elif rule == RULE_MOMENTUM or rule == RULE_NESTEROV:
        momentum_range(p, g, s0, n, <floating> h[0], <floating> h[1], rule == RULE_NESTEROV, wd)
    elif rule == RULE_ADAM or rule == RULE_ADAMW:
        if rule == RULE_ADAMW:
            # The decay never joins the gradient: it shrinks the parameter.
            wd = <floating> (1.0 - h[0] * weight_decay)
        if floating is float:
            (nnf_simd.adamw_f32 if rule == RULE_ADAMW else nnf_simd.adam_f32)(
                p, g, s0, s1, n, <float> (h[0] / h[4]), <float> h[1], <float> (1.0 - h[1]),
                <float> h[2], <float> (1.0 - h[2]), <float> (1.0 / h[5]), <float> h[3], wd)
        else:
            (nnf_simd.adamw_f64 if rule == RULE_ADAMW else nnf_simd.adam_f64)(
                p, g, s0, s1, n, h[0] / h[4], h[1], 1.0 - h[1], h[2], 1.0 - h[2], 1.0 / h[5],
                h[3], wd)
    elif rule == RULE_RMSPROP:
        if floating is float:
            nnf_simd.rmsprop_f32(p, g, s0, n, <float> h[0], <float> h[1], <float> (1.0 - h[1]),
                                 <float> h[2], wd)
        else:
            nnf_simd.rmsprop_f64(p, g, s0, n, h[0], h[1], 1.0 - h[1], h[2], wd)
    elif rule == RULE_ADAGRAD:
        if floating is float:
            nnf_simd.adagrad_f32(p, g, s0, n, <float> h[0], <float> h[1], wd)
        else:
            nnf_simd.adagrad_f64(p, g, s0, n, h[0], h[1], wd)
    elif rule == RULE_ADADELTA:
        if floating is float:
            nnf_simd.adadelta_f32(p, g, s0, s1, n, <float> h[0], <float> h[1],
                                  <float> (1.0 - h[1]), <float> h[2], wd)
        else:
            nnf_simd.adadelta_f64(p, g, s0, s1, n, h[0], h[1], 1.0 - h[1], h[2], wd)


cdef inline void update(int rule, floating* p, const floating* g, floating* s0, floating* s1,
                        Py_ssize_t n, const double* h, double weight_decay,
                        int num_threads) noexcept nogil:
    """Update rule ``rule`` over a whole parameter, in contiguous chunks per thread."""
    cdef Py_ssize_t c, start, chunk
    if num_threads <= 1:
        update_range(rule, p, g, s0, s1, n, h, weight_decay)
    else:
        chunk = chunk_size(n, num_threads)
        for c in prange(n_chunks(n, chunk), num_threads=num_threads, schedule="static"):
            start = c * chunk
            update_range(rule, p + start, g + start, s0 + start if s0 != NULL else NULL,
                         s1 + start if s1 != NULL else NULL, min(chunk, n - start), h,
                         weight_decay)
