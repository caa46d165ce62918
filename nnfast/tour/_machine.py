"""A description of the machine and the software a tour ran on."""
import os
import platform


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _load():
    try:
        return f"{os.getloadavg()[0]:.2f} over the minute before the tour"
    except (AttributeError, OSError):
        return "unknown"


def _version(module_name):
    import importlib

    try:
        return importlib.import_module(module_name).__version__
    except (ImportError, AttributeError):
        return "not installed"


def machine_info():
    """CPU, cores, nnfast's threads, BLAS and versions, as a dict of str to str.

    Returns
    -------
    dict
        Keys in display order: ``cpu``, ``cores``, ``load average``,
        ``nnfast threads``, ``OpenMP``, ``vector kernels``, ``BLAS``,
        ``platform``, ``python``, ``nnfast``, ``numpy``, ``scipy``,
        ``matplotlib``.  The load average (processes wanting a core, over
        the last minute, when the tour started) says whether other work
        shared the cores and slowed the timings.
    """
    import nnfast
    from nnfast import _openmp, _simd

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{p['internal_api']} {p.get('version') or ''} "
                         f"({p['num_threads']} threads)".replace("  ", " ")
                         for p in threadpool_info() if p["user_api"] == "blas") or "unknown"
    except ImportError:
        blas = "unknown"
    return {
        "cpu": _cpu_model(),
        "cores": f"{usable} usable of {os.cpu_count()}",
        "load average": _load(),
        "nnfast threads": str(nnfast.get_num_threads()),
        "OpenMP": "compiled in" if _openmp.openmp_enabled() else "not compiled in",
        "vector kernels": str(_simd.simd_level()),
        "BLAS": blas,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nnfast": nnfast.__version__,
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "matplotlib": _version("matplotlib"),
    }
