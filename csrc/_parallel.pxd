# How the kernels share a loop out among threads.

# Chunks handed to threads start on multiples of this many elements (one
# 64-byte cache line of float32), so two threads never write the same line.
cdef enum:
    ALIGN = 16


cdef inline Py_ssize_t chunk_size(Py_ssize_t n, int num_threads) noexcept nogil:
    """Elements per thread: ``n / num_threads`` rounded up to a multiple of ALIGN."""
    cdef Py_ssize_t chunk = (n + num_threads - 1) // num_threads
    return ((chunk + ALIGN - 1) // ALIGN) * ALIGN


cdef inline Py_ssize_t n_chunks(Py_ssize_t n, Py_ssize_t chunk) noexcept nogil:
    return (n + chunk - 1) // chunk


cdef struct thread_plan:
    # What ``nnfast.backend.threads_for`` decides, for kernels that choose
    # their own thread counts as a batch goes through (the network step).
    int max_threads        # nnfast.get_num_threads()
    Py_ssize_t min_work    # PARALLEL_MIN_WORK: smaller loops run on one thread
    Py_ssize_t elem_divisor     # elementwise work is divided by this first
    Py_ssize_t product_divisor  # a product's multiply-adds are divided by this first
    bint share_products    # BLAS is held at one thread: products are shared out


cdef inline int threads_for(const thread_plan* plan, Py_ssize_t work) noexcept nogil:
    """``nnfast.backend.threads_for(work)``: 1 for small loops, else up to ``max_threads``."""
    cdef Py_ssize_t half = plan.min_work // 2
    cdef Py_ssize_t t
    if work < plan.min_work:
        return 1
    if half < 1:
        half = 1
    t = work // half
    if t > plan.max_threads:
        t = plan.max_threads
    return <int> t if t > 1 else 1


cdef inline int elementwise_threads(const thread_plan* plan, Py_ssize_t n) noexcept nogil:
    """Threads for an elementwise loop over ``n`` elements."""
    return threads_for(plan, n // plan.elem_divisor)


cdef inline int product_threads(const thread_plan* plan, Py_ssize_t m, Py_ssize_t n,
                                Py_ssize_t k) noexcept nogil:
    """Threads for a product of ``m * n * k`` multiply-adds (1 while BLAS runs its own)."""
    if not plan.share_products:
        return 1
    return threads_for(plan, m * n * k // plan.product_divisor)
