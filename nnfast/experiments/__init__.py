"""Experiments around training: the learning-rate range test, sweeps, representations.

:func:`find_learning_rate` runs the range test on a network and suggests a
learning rate; :func:`sweep` trains an estimator over a grid (or a random
sample of it) of parameters, locally in parallel processes or on a Dask
cluster, and keeps each run's validation error per epoch;
:func:`compare_representations` trains one classifier on raw pixels, on
autoencoder codes, on PCA components and on a transferred stacked encoder.
"""
from ._lr_finder import LRFinderResult, find_learning_rate
from ._representations import RepresentationComparison, compare_representations
from ._sweep import SweepResult, expand_grid, sweep

__all__ = ["LRFinderResult", "find_learning_rate", "SweepResult", "sweep", "expand_grid",
           "RepresentationComparison", "compare_representations"]
