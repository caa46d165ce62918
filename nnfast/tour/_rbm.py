"""Tour section: a Bernoulli RBM trained by contrastive divergence."""
import time

import numpy as np

KEY = "rbm"
TITLE = "Restricted Boltzmann machine: filters, reconstructions and samples"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = ()


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 3


def run(ctx):
    """Train the RBM on binarised images, draw its figures, fill ``ctx.result``."""
    from ..models import BernoulliRBM
    from ..plotting import (
        plot_rbm_filters, plot_rbm_history, plot_rbm_reconstructions, plot_rbm_samples,
    )

    data, res = ctx.data, ctx.result
    n_train, n_hidden, epochs = ctx.size((1600, 64, 5), (1600, 120, 30), (60000, 200, 10))
    train = (data.X_train[:n_train] > 0.5).astype(np.float32)
    test = (data.X_test > 0.5).astype(np.float32)
    res.intro = (
        f"A restricted Boltzmann machine with {train.shape[1]} visible and {n_hidden} hidden "
        "binary units learns the distribution of the binarised training images by contrastive "
        "divergence (CD-1): no labels are used. Its filters are what each hidden unit responds "
        "to; a reconstruction goes up to the hidden units and back once; samples come from a "
        "long Gibbs chain started from noise.")
    rbm = BernoulliRBM(n_hidden=n_hidden, learning_rate=0.05, k=1, momentum=0.5,
                       weight_decay=1e-4, batch_size=10 if not ctx.full else 50, epochs=epochs,
                       random_state=0, track_pseudo_likelihood=True)
    start = time.perf_counter()
    rbm.fit(train)
    seconds = time.perf_counter() - start
    ctx.step("figures")
    held_out_error = float(np.mean((test - rbm.reconstruct(test)) ** 2))
    shape = data.image_shape
    n_filters = min(n_hidden, 120)
    plot_rbm_filters(rbm, image_shape=shape, n_filters=n_filters, path=ctx.figure(
        "rbm_filters.png", f"The weights of {n_filters} hidden units, each drawn as an image "
                           "(red: positive, blue: negative, each on its own scale)."),
        title=f"RBM filters: {n_filters} of {n_hidden} hidden units")
    plot_rbm_reconstructions(rbm, test, n_images=12, image_shape=shape, path=ctx.figure(
        "rbm_reconstructions.png", "Binarised test images (top) and their reconstructions "
                                   "(bottom): up to the hidden units and back once, with the "
                                   "squared error per pixel of each."),
        title="RBM: test images and their one-step reconstructions")
    plot_rbm_history(rbm, path=ctx.figure(
        "rbm_training.png", "Reconstruction error and pseudo-log-likelihood of the training "
                            "images per epoch."), title=f"RBM {train.shape[1]}x{n_hidden}, CD-1")
    ctx.step("sampling")
    steps = ctx.size(100, 1000, 1000)
    plot_rbm_samples(rbm, n_samples=36, steps=steps, image_shape=shape, path=ctx.figure(
        "rbm_samples.png", f"36 independent Gibbs chains of {steps} steps each, started from "
                           "noise (the last step's probabilities)."),
        title=f"Samples from the RBM ({steps} Gibbs steps from noise)")
    history = rbm.history_
    ctx.table("RBM training", ["visible x hidden", "training images", "epochs", "seconds",
                               "seconds per epoch", "reconstruction error (training)",
                               "reconstruction error (test)", "pseudo-log-likelihood"],
              [[f"{train.shape[1]} x {n_hidden}", len(train), rbm.n_iter_, seconds,
                float(np.mean(history["epoch_time"])), float(history["reconstruction_error"][-1]),
                held_out_error, float(history["pseudo_likelihood"][-1])]],
              note="Reconstruction errors are mean squared errors per pixel; the "
                   "pseudo-log-likelihood is per image, in nats.")
    res.summary = (f"{train.shape[1]}x{n_hidden} RBM, {rbm.n_iter_} epochs in {seconds:.1f} s; "
                   f"test reconstruction error {held_out_error:.4f}")
    res.numbers = {"epochs": rbm.n_iter_, "seconds": seconds,
                   "test_reconstruction_error": held_out_error,
                   "pseudo_log_likelihood": float(history["pseudo_likelihood"][-1])}
    ctx.step()
