"""Losses with their gradients in one pass (kernels in ``_losses.pxd``).

Behind :mod:`nnfast.backend.cpu_losses`, which has checked the arrays.  Each
function returns the summed loss; the caller divides it by the number of
terms of the mean.
"""
from cython cimport floating

cimport _losses as k
from _simd cimport nnf_simd_attach

nnf_simd_attach()


def softmax_cross_entropy_labels(const floating[:, ::1] logits,   # IN  (n_samples, n_classes)
                                 const Py_ssize_t[::1] labels,     # IN  (n_samples,)
                                 floating[:, ::1] grad,            # OUT (n_samples, n_classes), may be logits
                                 int num_threads):
    """Summed cross-entropy of softmax(logits) against integer labels; gradient into ``grad``.

    Raises ``ValueError`` (before anything is written) when a label lies
    outside ``[0, n_classes)``.
    """
    cdef Py_ssize_t n_rows = logits.shape[0]
    cdef Py_ssize_t n_cols = logits.shape[1]
    cdef Py_ssize_t bad
    cdef double loss
    with nogil:
        bad = k.label_outside(&labels[0], n_rows, n_cols)
    if bad != -1:
        raise_bad_label(labels[bad], n_cols)
    with nogil:
        loss = k.xent_labels(&logits[0, 0], &labels[0], &grad[0, 0], n_rows, n_cols, num_threads)
    return loss


def raise_bad_label(Py_ssize_t label, Py_ssize_t n_classes):
    """Raise the ``ValueError`` of a label outside ``[0, n_classes)``."""
    raise ValueError(f"softmax_cross_entropy: label {label} is outside [0, {n_classes}) "
                     f"for logits with {n_classes} classes")


def softmax_cross_entropy_probs(const floating[:, ::1] logits,   # IN  (n_samples, n_classes)
                                const floating[:, ::1] targets,  # IN  (n_samples, n_classes)
                                floating[:, ::1] grad,           # OUT (n_samples, n_classes), may be logits
                                int num_threads):
    """Summed cross-entropy of softmax(logits) against target probabilities; gradient into ``grad``."""
    cdef double loss
    with nogil:
        loss = k.xent_probs(&logits[0, 0], &targets[0, 0], &grad[0, 0], logits.shape[0],
                            logits.shape[1], num_threads)
    return loss


def sigmoid_binary_cross_entropy(const floating[::1] logits,   # IN  (size,)
                                 const floating[::1] targets,  # IN  (size,)
                                 floating[::1] grad,           # OUT (size,), may be logits
                                 int num_threads):
    """Summed binary cross-entropy of sigmoid(logits); gradient ``(sigmoid(z) - t) / size``."""
    cdef double loss
    with nogil:
        loss = k.pointwise_loss(k.LOSS_BCE, &logits[0], &targets[0], &grad[0], logits.shape[0],
                                num_threads)
    return loss


def mean_squared_error(const floating[::1] pred,     # IN  (size,)
                       const floating[::1] targets,  # IN  (size,)
                       floating[::1] grad,           # OUT (size,), may be pred
                       int num_threads):
    """Summed squared error; gradient ``2 (pred - targets) / size``."""
    cdef double loss
    with nogil:
        loss = k.pointwise_loss(k.LOSS_MSE, &pred[0], &targets[0], &grad[0], pred.shape[0],
                                num_threads)
    return loss
