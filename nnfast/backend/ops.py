"""The complete reference backend: every array operation nnfast uses."""
from .ops_dense import DenseOps
from .ops_perceptron import PerceptronOps
from .ops_rbm import RBMOps


class Ops(DenseOps, PerceptronOps, RBMOps):
    """Reference implementation of every operation, over numpy (or cupy).

    Each family of operations lives in its own module; this class joins them.
    Compiled backends subclass it and override only the hot paths.
    """

    name = "numpy"
