"""Models and estimators (each in its own private module, re-exported here)."""
from ._autoencoder import Autoencoder
from ._cnn import CNNClassifier
from ._capacity import CapacityResult, cover_fraction, perceptron_capacity
from ._mlp import MLPClassifier, MLPRegressor
from ._pca import PCA
from ._perceptron import GateExercise, Perceptron, logic_gate_exercise
from ._rbm import BernoulliRBM
from ._sequential import Sequential
from ._stacked import StackedAutoencoder, classifier_from_encoders
from ._vae import VAE

__all__ = ["Sequential", "MLPClassifier", "MLPRegressor"]
__all__ += ["Perceptron", "logic_gate_exercise", "GateExercise", "perceptron_capacity", "CapacityResult", "cover_fraction"]
__all__ += ["BernoulliRBM"]
__all__ += ["CNNClassifier"]
__all__ += ["PCA"]
__all__ += ["Autoencoder", "StackedAutoencoder", "classifier_from_encoders", "VAE"]
