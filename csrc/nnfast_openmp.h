/* OpenMP functions that also exist, as single-thread fallbacks, when the
 * compiler has no OpenMP support. */
#ifndef NNFAST_OPENMP_H
#define NNFAST_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
#define NNFAST_OPENMP 1
#else
#define NNFAST_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif
#endif
