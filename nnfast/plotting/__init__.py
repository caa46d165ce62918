"""Figures for looking inside models and their training.

Every function returns a :class:`matplotlib.figure.Figure` built without
pyplot (so no window opens and no global backend is changed) and, given
``path``, also writes it as a PNG.
"""
from ._autoencoder import (
    plot_latent_before_after, plot_latent_grid, plot_latent_scatter,
    plot_reconstruction_error_curve, plot_reconstructions, plot_vae_vs_pca,
)
from ._cnn import plot_conv_filters, plot_feature_maps
from ._evaluation import plot_decision_regions, plot_hardest_samples, plot_image_grid, plot_regression
from ._experiments import plot_lr_finder, plot_sweep
from ._perceptron import plot_capacity, plot_decision_line, plot_gate_exercise, plot_perceptron_errors
from ._rbm import plot_rbm_filters, plot_rbm_history, plot_rbm_reconstructions, plot_rbm_samples
from ._training import (
    overfitting_epoch, plot_confusion_matrix, plot_history, plot_image_predictions,
    plot_learning_curves,
)

__all__ = ["plot_history", "plot_confusion_matrix", "plot_image_predictions"]
__all__ += ["plot_perceptron_errors", "plot_decision_line", "plot_gate_exercise", "plot_capacity"]
__all__ += ["plot_rbm_filters", "plot_rbm_reconstructions", "plot_rbm_history", "plot_rbm_samples"]
__all__ += ["plot_conv_filters", "plot_feature_maps"]
__all__ += ["plot_learning_curves", "overfitting_epoch", "plot_decision_regions", "plot_image_grid",
            "plot_hardest_samples", "plot_regression", "plot_lr_finder", "plot_sweep"]
__all__ += ["plot_reconstructions", "plot_latent_scatter", "plot_latent_before_after",
            "plot_latent_grid", "plot_vae_vs_pca", "plot_reconstruction_error_curve"]
