"""The compiled CPU backend: the reference ops with the hot paths overridden."""
from .cpu_dense import CpuDenseOps
from .cpu_perceptron import CpuPerceptronOps
from .cpu_rbm import CpuRBMOps
from ._threads import own_threads
from .ops import Ops


class CpuOps(CpuDenseOps, CpuPerceptronOps, CpuRBMOps, Ops):
    """Reference :class:`Ops` on numpy whose hot paths run compiled kernels.

    Each family's overrides live in their own mixin (``cpu_*.py``); anything
    not overridden falls back to the reference implementation.
    """

    name = "cpu"

    def kernel_threads(self):
        """BLAS held to one thread while the kernels share products out (:func:`~nnfast.backend.own_threads`)."""
        return own_threads()
