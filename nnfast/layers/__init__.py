"""Layers: the building blocks of :class:`nnfast.Sequential` models."""
from ._activation import Activation
from ._base import Layer, Variable, VariableSpec
from ._conv import Conv2D
from ._dense import Dense
from ._dropout import Dropout
from ._normalization import BatchNormalization
from ._noise import GaussianNoise, MaskingNoise
from ._pooling import AvgPool2D, GlobalAveragePooling2D, MaxPool2D
from ._regularization import ActivityRegularization, PenaltyLayer
from ._reshape import Flatten, Reshape
from ._sampling import GaussianSampler

LAYERS = {}


def register_layer(cls):
    """Make a layer class known to model files, so that saved models using it load again.

    Use as a class decorator on a :class:`Layer` subclass; the built-in
    layers are registered already.  The class is saved under its
    ``__name__``, which must not be taken by another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer decorates Layer subclasses, got {cls!r}")
    previous = LAYERS.get(cls.__name__)
    if previous is not None and previous is not cls and (
            previous.__module__, previous.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"a layer class named {cls.__name__!r} is already registered "
                         f"({previous.__module__}.{previous.__qualname__})")
    LAYERS[cls.__name__] = cls
    return cls


for _cls in (Dense, Activation, Dropout, Flatten, Reshape, Conv2D, MaxPool2D, AvgPool2D,
             GlobalAveragePooling2D, BatchNormalization, GaussianNoise, MaskingNoise,
             ActivityRegularization, GaussianSampler):
    register_layer(_cls)


def layer_from_config(class_name, config):
    """Rebuild a layer from its class name and :meth:`Layer.get_config` output."""
    try:
        cls = LAYERS[class_name]
    except KeyError:
        raise ValueError(f"unknown layer type {class_name!r}; known: {sorted(LAYERS)}") from None
    return cls.from_config(config)


__all__ = ["Layer", "Variable", "VariableSpec", "Dense", "Activation", "Dropout", "Flatten",
           "Reshape", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAveragePooling2D",
           "BatchNormalization", "GaussianNoise", "MaskingNoise", "ActivityRegularization",
           "GaussianSampler", "PenaltyLayer", "register_layer", "layer_from_config"]
