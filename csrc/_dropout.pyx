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
            double rate, uint64_t key, uint64_t draw, int num_threads, bint rescale=True):
    """Dropout of ``x``: ``mask`` holds 0 with probability ``rate``, else ``1 / (1 - rate)``
    (or 1 without ``rescale``: masking noise); ``out = x * mask``."""
    with nogil:
        k.dropout(&x[0], &out[0], &mask[0], x.shape[0], rate, rescale, key, draw, num_threads)
