# OpenMP queries that compile with or without OpenMP (see nnfast_openmp.h).
cdef extern from "nnfast_openmp.h":
    int NNFAST_OPENMP
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
