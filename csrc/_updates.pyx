"""Optimizer updates in one pass over each parameter (kernels in ``_updates.pxd``).

Behind :mod:`nnfast.backend.cpu_updates`, which has checked the arrays (all
of one shape, parameter and state C-contiguous).
"""
from cython cimport floating

cimport _updates as k
from _simd cimport nnf_simd_attach

nnf_simd_attach()


def sgd_update(floating[::1] param,       # IN/OUT (size,)
               const floating[::1] grad,  # IN     (size,)
               floating[::1] velocity,    # IN/OUT (size,), None without momentum
               double lr, double momentum, bint nesterov, double weight_decay,
               int num_threads):
    """SGD step, with (Nesterov) momentum when ``momentum`` is not 0."""
    cdef double h[2]
    cdef int rule = k.RULE_SGD if momentum == 0 else (
        k.RULE_NESTEROV if nesterov else k.RULE_MOMENTUM)
    h[0] = lr
    h[1] = momentum
    with nogil:
        k.update(rule, &param[0], &grad[0], &velocity[0] if momentum != 0 else NULL,
                 <floating*> NULL, param.shape[0], h, weight_decay, num_threads)


def adam_update(floating[::1] param,       # IN/OUT (size,)
                const floating[::1] grad,  # IN     (size,)
                floating[::1] m,           # IN/OUT (size,)
                floating[::1] v,           # IN/OUT (size,)
                double lr, double beta1, double beta2, double eps,
                double bias1, double bias2, double weight_decay, bint decoupled,
                int num_threads):
    """Adam step (AdamW's when ``decoupled``); ``bias1 = 1 - beta1**t``, ``bias2 = 1 - beta2**t``.

    ``param -= (lr / bias1) * m / (sqrt(v / bias2) + eps)``, after
    ``param *= 1 - lr * weight_decay`` when ``decoupled``.
    """
    cdef double h[6]
    h[0], h[1], h[2], h[3], h[4], h[5] = lr, beta1, beta2, eps, bias1, bias2
    with nogil:
        k.update(k.RULE_ADAMW if decoupled else k.RULE_ADAM, &param[0], &grad[0], &m[0], &v[0],
                 param.shape[0], h, weight_decay, num_threads)


def rmsprop_update(floating[::1] param,       # IN/OUT (size,)
                   const floating[::1] grad,  # IN     (size,)
                   floating[::1] sq,          # IN/OUT (size,)
                   double lr, double rho, double eps, double weight_decay,
                   int num_threads):
    """RMSprop step."""
    cdef double h[3]
    h[0], h[1], h[2] = lr, rho, eps
    with nogil:
        k.update(k.RULE_RMSPROP, &param[0], &grad[0], &sq[0], <floating*> NULL, param.shape[0],
                 h, weight_decay, num_threads)


def adagrad_update(floating[::1] param,       # IN/OUT (size,)
                   const floating[::1] grad,  # IN     (size,)
                   floating[::1] acc,         # IN/OUT (size,)
                   double lr, double eps, double weight_decay, int num_threads):
    """Adagrad step."""
    cdef double h[2]
    h[0], h[1] = lr, eps
    with nogil:
        k.update(k.RULE_ADAGRAD, &param[0], &grad[0], &acc[0], <floating*> NULL, param.shape[0],
                 h, weight_decay, num_threads)


def adadelta_update(floating[::1] param,       # IN/OUT (size,)
                    const floating[::1] grad,  # IN     (size,)
                    floating[::1] acc_grad,    # IN/OUT (size,)
                    floating[::1] acc_delta,   # IN/OUT (size,)
                    double lr, double rho, double eps, double weight_decay,
                    int num_threads):
    """Adadelta step scaled by ``lr``."""
    cdef double h[3]
    h[0], h[1], h[2] = lr, rho, eps
    with nogil:
        k.update(k.RULE_ADADELTA, &param[0], &grad[0], &acc_grad[0], &acc_delta[0],
                 param.shape[0], h, weight_decay, num_threads)
