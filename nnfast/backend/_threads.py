"""Thread counts for the compiled kernels and for BLAS.

nnfast runs BLAS calls and its own OpenMP loops one after the other, never
nested, so both may use every core; :func:`set_num_threads` caps both together
so that neither oversubscribes the machine.
"""
import os

from threadpoolctl import threadpool_limits

_state = {"n_threads": None, "limiter": None}

#: Loops over fewer elements than this run on one thread: waking a team of
#: threads costs more than it saves on small layers.
PARALLEL_MIN_WORK = 1 << 16


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
    if _state["limiter"] is not None:
        _state["limiter"].restore_original_limits()
        _state["limiter"] = None
    _state["n_threads"] = n if n is not None else _default_threads()
    if n is not None:
        _state["limiter"] = threadpool_limits(limits=n, user_api="blas")


def threads_for(work):
    """Threads worth using for a loop over ``work`` elements (1 for small loops)."""
    if work < PARALLEL_MIN_WORK:
        return 1
    return max(1, min(get_num_threads(), int(work // max(1, PARALLEL_MIN_WORK // 2))))
