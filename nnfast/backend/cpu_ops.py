"""The compiled CPU backend: the reference ops with the hot paths overridden."""
from ._threads import own_threads
from .cpu_activations import CpuActivationOps
from .cpu_conv import CpuConvOps
from .cpu_dropout import CpuDropoutOps
from .cpu_latent import CpuLatentOps
from .cpu_losses import CpuLossOps
from .cpu_network import CpuNetworkOps
from .cpu_noise import CpuNoiseOps
from .cpu_normalization import CpuNormalizationOps
from .cpu_perceptron import CpuPerceptronOps
from .cpu_pooling import CpuPoolingOps
from .cpu_products import CpuProductOps
from .cpu_rbm import CpuRBMOps
from .cpu_updates import CpuUpdateOps
from .ops import Ops


class CpuOps(CpuProductOps, CpuActivationOps, CpuLossOps, CpuUpdateOps, CpuDropoutOps,
             CpuNetworkOps, CpuPerceptronOps, CpuRBMOps, CpuConvOps, CpuPoolingOps,
             CpuNormalizationOps, CpuNoiseOps, CpuLatentOps, Ops):
    """Reference :class:`Ops` on numpy whose hot paths run compiled kernels.

    Each family's overrides live in their own mixin (``cpu_<family>.py``,
    beside the reference ``ops_<family>.py``); anything not overridden falls
    back to the reference implementation.
    """

    name = "cpu"

    def kernel_threads(self):
        """BLAS held at one thread while the kernels share products out.

        See :func:`~nnfast.backend.own_threads`.
        """
        return own_threads()
