"""The complete reference backend: every array operation nnfast uses."""
from .ops_activations import ActivationOps
from .ops_conv import ConvOps
from .ops_dropout import DropoutOps
from .ops_latent import LatentOps
from .ops_losses import LossOps
from .ops_network import NetworkOps
from .ops_noise import NoiseOps
from .ops_normalization import NormalizationOps
from .ops_perceptron import PerceptronOps
from .ops_pooling import PoolingOps
from .ops_products import ProductOps
from .ops_rbm import RBMOps
from .ops_updates import UpdateOps


class Ops(ProductOps, ActivationOps, LossOps, UpdateOps, DropoutOps, NetworkOps, PerceptronOps,
          RBMOps, ConvOps, PoolingOps, NormalizationOps, NoiseOps, LatentOps):
    """Reference implementation of every operation, over numpy (or cupy).

    Each family of operations lives in its own module (``ops_<family>.py``);
    this class joins them.  Compiled backends subclass it and override only
    the hot paths.
    """

    name = "numpy"
