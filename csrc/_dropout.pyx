"""Dropout masks drawn in compiled code (kernels in ``_dropout.pxd``).

Behind :mod:`nnfast.backend.cpu_dropout`, which has checked the arrays.
"""
from cython cimport floating
from libc.stdint cimport uint64_t

cimport _dropout as k
from _simd cimport nnf_simd_attach

nnf_simd_attach()


def dropout(const floating[::1] x,   # IN  (size,)
            floating[::1] out,       # OUT (size,), may be x
            floating[::1] mask,      # OUT (size,)
            double rate, uint64_t key, uint64_t draw, int num_threads):
    """Inverted dropout of ``x``: ``mask`` holds ``1 / (1 - rate)`` or 0, ``out = x * mask``."""
    with nogil:
        k.dropout(&x[0], &out[0], &mask[0], x.shape[0], rate, key, draw, num_threads)
