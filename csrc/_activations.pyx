"""Activations and their gradients (kernels in ``_activations.pxd``).

Behind :mod:`nnfast.backend.cpu_activations`, which has checked the arrays.
"""
from cython cimport floating

cimport _activations as k
from _simd cimport nnf_simd_attach

nnf_simd_attach()


def activation(const floating[:, ::1] z,  # IN  (n_samples, n_units)
               floating[:, ::1] out,      # OUT (n_samples, n_units), may be z
               int kind, int num_threads):
    """Apply activation ``kind`` to ``z``."""
    with nogil:
        k.activation(&z[0, 0], &out[0, 0], z.shape[0], z.shape[1], kind, num_threads)


def backprop_activation(const floating[:, ::1] dy,  # IN  (n_samples, n_units)
                        const floating[:, ::1] y,   # IN  (n_samples, n_units)
                        floating[:, ::1] out,       # OUT (n_samples, n_units), may be dy
                        int kind, int num_threads):
    """Gradient with respect to the pre-activation of activation ``kind``."""
    with nogil:
        k.backprop_activation(&dy[0, 0], &y[0, 0], &out[0, 0], dy.shape[0], dy.shape[1], kind,
                              num_threads)
