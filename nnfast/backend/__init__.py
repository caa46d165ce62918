"""Backends: where nnfast's array operations run.

``"cpu"`` (the default) runs the compiled kernels, ``"numpy"`` the reference
implementation, ``"gpu"`` the reference implementation on cupy arrays.

Examples
--------
>>> import nnfast
>>> nnfast.get_current_ops().name
'cpu'
>>> with nnfast.use_backend("numpy"):
...     nnfast.get_current_ops().name
'numpy'
"""
import contextlib
import contextvars

from ._base import BaseOps
from ._threads import (
    get_num_threads, own_threads, products_on_own_threads, set_num_threads, threads_for,
)
from .ops import Ops

BACKENDS = ("cpu", "numpy", "gpu")
_ALIASES = {"cupy": "gpu", "cuda": "gpu"}
_instances = {}
_current = contextvars.ContextVar("nnfast_backend", default="cpu")


def get_ops(name):
    """Return the (shared) ops object for backend ``name``.

    Parameters
    ----------
    name : {'cpu', 'numpy', 'gpu'} or Ops
        An :class:`Ops` instance is returned unchanged.

    Returns
    -------
    Ops
    """
    if isinstance(name, BaseOps):
        return name
    if not isinstance(name, str):
        raise TypeError(f"backend must be one of {BACKENDS} or an Ops instance, got {name!r}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")
    if key not in _instances:
        if key == "cpu":
            from .cpu_ops import CpuOps

            _instances[key] = CpuOps()
        elif key == "numpy":
            _instances[key] = Ops()
        else:
            from .cupy_ops import CupyOps

            _instances[key] = CupyOps()
    return _instances[key]


def set_backend(name):
    """Make ``name`` the backend used by models created without ``device=``."""
    get_ops(name)  # fail now, not at the first fit
    _current.set(name.lower() if isinstance(name, str) else name)


def get_current_ops():
    """Return the ops of the current backend."""
    return get_ops(_current.get())


@contextlib.contextmanager
def use_backend(name):
    """Use backend ``name`` inside a ``with`` block."""
    get_ops(name)
    token = _current.set(name)
    try:
        yield get_ops(name)
    finally:
        _current.reset(token)


def resolve_ops(device):
    """Ops for a model's ``device`` argument (None means the current backend)."""
    return get_current_ops() if device is None else get_ops(device)


__all__ = [
    "BACKENDS", "Ops", "get_ops", "set_backend", "get_current_ops", "use_backend",
    "resolve_ops", "get_num_threads", "set_num_threads", "threads_for", "own_threads",
    "products_on_own_threads",
]
