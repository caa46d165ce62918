"""The GPU backend: the reference ops running on cupy arrays."""
from .ops import Ops


def _import_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(
            "the 'gpu' backend needs cupy: `pip install \"nnfast[gpu]\"` installs the wheel for "
            "CUDA 12 (cupy-cuda12x), `pip install \"nnfast[gpu-cuda13]\"` the one for CUDA 13 "
            "(cupy-cuda13x); `nvidia-smi` shows the CUDA version of your driver") from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, or driver too old
        raise RuntimeError(f"the 'gpu' backend found no usable CUDA GPU ({exc}); check that "
                           f"`nvidia-smi` lists one and that the cupy wheel matches the driver's "
                           f"CUDA version, or use device='cpu'") from exc
    if n < 1:
        raise RuntimeError("the 'gpu' backend found no CUDA GPU (is CUDA_VISIBLE_DEVICES empty?); "
                           "use device='cpu'")
    return cupy


class CupyOps(Ops):
    """Reference :class:`Ops` over cupy (imported only when this backend is created)."""

    name = "gpu"

    def __init__(self):
        super().__init__(xp=_import_cupy())
