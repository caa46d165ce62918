"""The GPU backend: the reference ops running on cupy arrays."""
from .ops import Ops


def _import_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(
            "the 'gpu' backend needs cupy; install it with `pip install nnfast[gpu]` "
            "(or the cupy wheel matching your CUDA version)") from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, or driver too old
        raise RuntimeError(f"the 'gpu' backend found no usable CUDA GPU: {exc}") from exc
    if n < 1:
        raise RuntimeError("the 'gpu' backend found no CUDA GPU")
    return cupy


class CupyOps(Ops):
    """Reference :class:`Ops` over cupy (imported only when this backend is created)."""

    name = "gpu"

    def __init__(self):
        super().__init__(xp=_import_cupy())
