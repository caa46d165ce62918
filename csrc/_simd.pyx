"""The instruction-set specific kernels of every compiled module, chosen at import.

The kernels (``csrc/nnf_simd_kernels.h``) are compiled once, here, for the
baseline x86-64 instruction set, AVX2 and AVX-512; this module owns the one
table through which every other module calls them (``csrc/nnf_simd.h``), so
:func:`select_simd_kernels` switches them all.
"""
from cpython.pycapsule cimport PyCapsule_New

cdef extern from "nnf_simd_kernels.h":
    ctypedef struct nnf_simd_t:
        pass
    nnf_simd_t nnf_simd_table
    const nnf_simd_t* nnf_simd
    const char* NNF_SIMD_CAPSULE
    int nnf_simd_select(int max_level) noexcept nogil

_table = PyCapsule_New(&nnf_simd_table, NNF_SIMD_CAPSULE, NULL)
nnf_simd = &nnf_simd_table

_LEVELS = ("baseline", "avx2", "avx512")
cdef int _level = 0


def select_simd_kernels(int max_level=2):
    """Use the widest kernels the CPU supports, up to ``max_level``, in every module.

    Parameters
    ----------
    max_level : {0, 1, 2}
        0 for the baseline instruction set, 1 for AVX2, 2 for AVX-512.

    Returns
    -------
    int
        The level now in use (made at import with ``max_level=2``).
    """
    global _level
    if not 0 <= max_level <= 2:
        raise ValueError(f"max_level must be 0, 1 or 2, got {max_level}")
    _level = nnf_simd_select(max_level)
    return _level


def simd_level():
    """Name of the instruction set whose kernels run now: 'baseline', 'avx2' or 'avx512'."""
    return _LEVELS[_level]


select_simd_kernels()
