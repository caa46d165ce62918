"""What the compiled kernels know about OpenMP."""
from _omp cimport NNFAST_OPENMP, omp_get_max_threads


def openmp_enabled():
    """Return True when the kernels were compiled with OpenMP support."""
    return bool(NNFAST_OPENMP)


def max_threads():
    """The number of threads an OpenMP parallel region uses by default."""
    return omp_get_max_threads()
