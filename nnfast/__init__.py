"""nnfast: classic neural networks with compiled CPU kernels.

The perceptron, multilayer perceptrons, restricted Boltzmann machines and
convolutional networks,
with scikit-learn and Keras style interfaces.
"""
from . import callbacks, datasets, layers, losses, metrics, optimizers
from ._validation import DataConversionWarning, NotFittedError
from ._version import __version__
from .backend import (
    get_current_ops, get_num_threads, get_ops, set_backend, set_num_threads, use_backend,
)
from .io import ModelFileError, load_model, save_model
from .models import (
    Autoencoder, BernoulliRBM, CapacityResult, CNNClassifier, GateExercise, MLPClassifier, MLPRegressor, PCA, Perceptron, Sequential, StackedAutoencoder, VAE, cover_fraction,
    logic_gate_exercise, perceptron_capacity,
)

__all__ = [
    "__version__", "get_ops", "get_current_ops", "set_backend", "use_backend",
    "get_num_threads", "set_num_threads", "Sequential", "MLPClassifier", "MLPRegressor",
    "Perceptron", "logic_gate_exercise", "GateExercise", "perceptron_capacity", "CapacityResult",
    "cover_fraction", "BernoulliRBM", "CNNClassifier", "PCA", "Autoencoder", "StackedAutoencoder", "VAE",
    "save_model", "load_model", "ModelFileError", "NotFittedError", "DataConversionWarning",
    "callbacks", "datasets", "layers", "losses", "metrics", "optimizers", "plotting", "experiments",
]


def __getattr__(name):
    # plotting pulls in matplotlib (about half a second) and experiments joblib, so they
    # load on first use.
    if name in ("plotting", "experiments"):
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
