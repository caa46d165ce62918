"""Thread counts for the compiled kernels and for BLAS.

nnfast's kernels share each matrix product out among their own OpenMP
threads, one BLAS call per block, with BLAS held to one thread: two pools of
threads (OpenBLAS's and OpenMP's), each as large as the machine and each
spinning for a while after its work, would otherwise take turns stalling
each other between a product and the elementwise pass after it.

:func:`own_threads` is the one place where BLAS is held to one thread: a
threadpoolctl limit (threadpoolctl's documented ``limit`` of a
``ThreadpoolController``), taken when the first kernel call or model ``fit``
of the process enters it and released when the last one leaves, so a whole
``fit`` sets it once.  Where no BLAS library can be limited, the kernels call
BLAS from one thread and let it run its own threads.

OpenBLAS's ``openblas_set_num_threads_local`` would be the per-thread
alternative, but in the pthreads builds that numpy and scipy ship it sets
the process-wide count, exactly as ``openblas_set_num_threads`` does.
"""
import os
import threading

import threadpoolctl
from threadpoolctl import ThreadpoolController, threadpool_limits

_state = {"n_threads": None, "limiter": None}

#: Loops over fewer elements than this run on one thread: waking a team of
#: threads costs more than it saves on small layers.  The team's threads
#: spin between the regions of a training step, so an elementwise pass over
#: a batch of 64 rows of 784 values already pays for two (an autoencoder's
#: epoch 0.91x and a VAE's 0.79x of what a limit of 65,536 gave; see
#: ``benchmarks/RESULTS.md``).
PARALLEL_MIN_WORK = 1 << 14


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads():
    """Return the number of threads nnfast's kernels and BLAS may use."""
    if _state["n_threads"] is None:
        _state["n_threads"] = _default_threads()
    return _state["n_threads"]


def set_num_threads(n):
    """Cap the threads used by nnfast's kernels and by BLAS at ``n``.

    Parameters
    ----------
    n : int or None
        Number of threads (>= 1); None restores the default (OMP_NUM_THREADS,
        else the cores available to this process).
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    _release_openblas_control()
    if _state["limiter"] is not None:
        _state["limiter"].restore_original_limits()
        _state["limiter"] = None
    _state["n_threads"] = n if n is not None else _default_threads()
    if n is not None:
        _state["limiter"] = threadpool_limits(limits=n, user_api="blas")
    _release_openblas_control()


def threads_for(work):
    """Threads worth using for a loop over ``work`` elements (1 for small loops)."""
    if work < PARALLEL_MIN_WORK:
        return 1
    return max(1, min(get_num_threads(), int(work // max(1, PARALLEL_MIN_WORK // 2))))


#: While BLAS runs its own threads (outside :func:`own_threads`), the
#: kernels' elementwise loops ask :func:`threads_for` about their work
#: divided by this factor, going parallel only where one thread would need
#: tens of milliseconds: an OpenMP team woken between two products of BLAS's
#: own pool makes each wait for the other's spinning threads.
PARALLEL_WORK_DIVISOR = 4096

#: A multiply-add of a matrix product weighs this much less than an element
#: of an elementwise loop when asking :func:`threads_for` for threads (see
#: ``benchmarks/RESULTS.md``: sharing a float32 product between two threads
#: pays from about 2 million multiply-adds and costs below 1 million).
PRODUCT_WORK_DIVISOR = 128


def elementwise_threads(work):
    """Threads for a compiled elementwise loop over ``work`` elements."""
    return threads_for(work if _hold.active else work // PARALLEL_WORK_DIVISOR)


def product_threads(m, n, k):
    """Threads for a compiled product of ``m * n * k`` multiply-adds.

    1 (one call, which BLAS may run on its own threads) unless BLAS is held
    to one thread by :func:`own_threads`.
    """
    return threads_for(m * n * k // PRODUCT_WORK_DIVISOR) if _hold.active else 1


# ----------------------------------------------------------------- BLAS threads
class _BlasHold:
    """Holds the BLAS libraries nnfast's kernels call at one thread, for as long as needed.

    Entries are counted (under a lock), so nested and concurrent holders
    share one limit: the first to enter sets it, the last to leave restores
    what was there before.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._count = 0
        self._controller = None
        self._limiter = None
        self.active = False

    def _libraries(self):
        """A controller of the BLAS libraries behind scipy's ``cython_blas``, or None.

        numpy may load a second copy of OpenBLAS, whose threads are none of
        nnfast's business; it is left alone when another BLAS library is found.
        """
        if self._controller is None:
            try:
                import numpy
                import scipy.linalg.cython_blas  # noqa: F401  (loads the library)

                blas = ThreadpoolController().select(user_api="blas")
                numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
                others = [lib for lib in blas.lib_controllers
                          if not os.path.realpath(lib.filepath).startswith(numpy_dir)]
                if others:
                    blas = blas.select(filepath=[lib.filepath for lib in others])
                self._controller = blas if blas.lib_controllers else False
            except Exception:  # no BLAS that threadpoolctl knows: leave BLAS alone
                self._controller = False
        return self._controller or None

    def __enter__(self):
        with self._lock:
            if self._count == 0:
                controller = self._libraries()
                if controller is not None:
                    _release_openblas_control()
                    self._limiter = controller.limit(limits=1)
                self.active = controller is not None
            self._count += 1
        return self.active

    def __exit__(self, *exc):
        with self._lock:
            self._count -= 1
            if self._count == 0:
                if self._limiter is not None:
                    # The last holder may not be the thread that set the limit.
                    _release_openblas_control()
                    self._limiter.restore_original_limits()
                    self._limiter = None
                    _release_openblas_control()
                self.active = False
        return False


def _release_openblas_control():
    """Let the calling thread set OpenBLAS's thread count, and leave it free afterwards.

    threadpoolctl (3.8 and later) lets only one Python thread at a time set
    the count of an OpenBLAS with a process-wide pool, ignoring the others
    without a word; nnfast's hold is shared between threads, so it clears
    that ownership (threadpoolctl's documented ``clear_controlling_thread``)
    around its own changes.
    """
    clear = getattr(getattr(threadpoolctl, "OpenBLASController", None),
                    "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


_hold = _BlasHold()


def own_threads():
    """Context in which the kernels share matrix products among their own threads.

    Inside it, BLAS is held to one thread (see the module docstring); the
    value of the ``with`` statement is whether that limit could be set.
    Entering it when it is already held costs a lock and a counter, so
    models hold it for a whole ``fit`` and the kernels' own entries are
    nearly free.

    Examples
    --------
    >>> from nnfast.backend import own_threads, products_on_own_threads
    >>> with own_threads() as held:
    ...     products_on_own_threads() == held
    True
    """
    return _hold


def products_on_own_threads():
    """Whether products are shared among nnfast's own threads right now (see :func:`own_threads`)."""
    return _hold.active
