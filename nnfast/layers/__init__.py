"""Layers: the building blocks of :class:`nnfast.Sequential` models."""
from ._activation import Activation
from ._base import Layer
from ._dense import Dense
from ._dropout import Dropout, Flatten

LAYERS = {cls.__name__: cls for cls in (Dense, Activation, Dropout, Flatten)}


def layer_from_config(class_name, config):
    """Rebuild a layer from its class name and :meth:`Layer.get_config` output."""
    try:
        cls = LAYERS[class_name]
    except KeyError:
        raise ValueError(f"unknown layer type {class_name!r}; known: {sorted(LAYERS)}") from None
    return cls.from_config(config)


__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "layer_from_config"]
