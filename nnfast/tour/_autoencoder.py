"""Tour section: autoencoders, denoising, PCA and the transfer of a stacked encoder.

The comparison of representations (raw pixels, autoencoder codes, PCA, a
transferred stacked encoder) is part of the section when
``compare_representations`` (``nnfast/experiments/_representations.py``)
and the stacked autoencoder exist.
"""
import time

import numpy as np

KEY = "autoencoder"
TITLE = "Autoencoders: reconstruction, denoising, PCA and transfer"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = (("models", "Autoencoder"), ("models", "PCA"), ("plotting", "plot_reconstructions"),
         ("plotting", "plot_latent_before_after"),
         ("plotting", "plot_reconstruction_error_curve"))


def _transfer_available():
    import importlib.util

    from .. import models

    return (hasattr(models, "StackedAutoencoder")
            and importlib.util.find_spec("nnfast.experiments._representations") is not None)


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 4 if _transfer_available() else 3


def _mask(X, rate, seed):
    """``X`` with each value set to 0 with probability ``rate`` (the denoising corruption)."""
    keep = np.random.default_rng(seed).random(X.shape) >= rate
    return (X * keep).astype(X.dtype)


def _pca_errors(pca, X, widths):
    """Mean squared error per pixel of ``X`` rebuilt from the first k components, for each k."""
    centred = X.astype(np.float64) - pca.mean_
    errors = {}
    for k in widths:
        V = pca.components_[:k]
        errors[k] = float(np.mean((centred - (centred @ V.T) @ V) ** 2))
    return errors


def run(ctx):
    """Train the autoencoders and PCA, compare the representations, fill ``ctx.result``."""
    from ..models import PCA, Autoencoder
    from ..plotting import (
        plot_latent_before_after, plot_reconstruction_error_curve, plot_reconstructions,
    )
    from ..plotting._style import save

    data, res = ctx.data, ctx.result
    epochs = ctx.size(6, 20, 10)
    batch = 64 if not ctx.full else 128
    X, X_test, y_test, names = data.X_train, data.X_test, data.y_test, data.class_names
    res.intro = (
        "An autoencoder learns to copy its input through a narrow code: the course's deep "
        f"autoencoder (784-128-64-12, a code of 20, and back; ReLU, a sigmoid output, mean "
        f"squared error, Adam) trains for {epochs} epochs on the training images. A denoising "
        "autoencoder of the same shape sees its inputs with 30 % of the pixels set to zero and "
        "learns to give back the clean image. PCA is the linear baseline: its error for codes "
        "of the same width is set beside the autoencoders'.")
    transfer = _transfer_available()
    if transfer:
        res.intro += (" Finally one classifier is trained on four representations of the "
                      "images: the raw pixels, the autoencoder's codes, as many principal "
                      "components, and a stacked autoencoder's pretrained encoder, transferred "
                      "and fine-tuned.")

    def autoencoder(**params):
        settings = dict(epochs=epochs, batch_size=batch, random_state=0)
        settings.update(params)
        model = Autoencoder(**settings)
        start = time.perf_counter()
        model.fit(X)
        return model, time.perf_counter() - start

    plain, plain_seconds = autoencoder()
    plain_error = float(np.mean(plain.score_samples(X_test)))
    plot_reconstructions(X_test, plain.reconstruct(X_test), n=12, image_shape=data.image_shape,
                         title="Deep autoencoder: test images (top) and reconstructions",
                         path=ctx.figure("autoencoder_reconstructions.png",
                                         "Test images and what the autoencoder makes of them "
                                         "through its code of 20 numbers."))
    # Components from 10,000 images are those of 60,000 to the precision that matters here,
    # for a sixth of the decomposition's time and memory.
    pca = PCA(n_components=128).fit(X[:10_000])
    pixels_2d = pca.transform(X_test)[:, :2]
    fig = plot_latent_before_after(pixels_2d, plain.transform(X_test), y_test, class_names=names,
                                   title="Test images projected on two principal components",
                                   panel_titles=("The 784 pixels",
                                                 "The autoencoder's 20-number codes"))
    share = pca.explained_variance_ratio_
    fig.axes[0].set_xlabel(f"principal component 1 of the pixels ({share[0]:.0%} of variance)")
    fig.axes[0].set_ylabel(f"principal component 2 of the pixels ({share[1]:.0%} of variance)")
    save(fig, ctx.figure(
        "autoencoder_codes.png",
        "Each test image as a point, coloured by class: its pixels (left) and its autoencoder "
        "code (right), both projected on their first two principal components. The accuracy "
        "under each title is that of a nearest-class-mean rule on these two coordinates."))
    ctx.step("denoising")

    denoising, denoising_seconds = autoencoder(noise=0.3, noise_type="masking")
    noisy = _mask(X_test, 0.3, seed=1)
    cleaned = denoising.reconstruct(noisy)
    denoising_error = float(np.mean((cleaned - X_test) ** 2))
    plain_on_noisy = float(np.mean((plain.reconstruct(noisy) - X_test) ** 2))
    plot_reconstructions(X_test, cleaned, noisy=noisy, n=12, image_shape=data.image_shape,
                         title="Denoising autoencoder: corrupted input, clean image, output",
                         path=ctx.figure("autoencoder_denoising.png",
                                         "Test images with 30 % of their pixels set to zero "
                                         "(top), the clean images and the denoising "
                                         "autoencoder's output."))
    ctx.table("Deep and denoising autoencoders",
              ["model", "training seconds", "test error, clean input", "test error, 30 % masked"],
              [["deep autoencoder", plain_seconds, plain_error, plain_on_noisy],
               ["denoising autoencoder", denoising_seconds,
                float(np.mean(denoising.score_samples(X_test))), denoising_error]],
              note="Mean squared error per pixel against the clean test image.")
    ctx.step("PCA")

    sizes = ctx.size((2, 8, 32), (2, 4, 8, 16, 32), (2, 4, 8, 16, 32))
    pca_errors = _pca_errors(pca, X_test, sorted({*sizes, 20, 64, 128}))
    ae_errors = {}
    for k in sizes:
        model, _ = autoencoder(hidden_layer_sizes=(128,), latent_dim=k)
        ae_errors[k] = float(np.mean(model.score_samples(X_test)))
    plot_reconstruction_error_curve(pca_errors, ae_errors, path=ctx.figure(
        "autoencoder_vs_pca.png",
        "Mean squared error per pixel on the test images for codes of each width: PCA against "
        "an autoencoder 784-128-k-128-784."))
    ctx.table("Reconstruction error on the test images (mean squared error per pixel)",
              ["code width", "PCA", "autoencoder 784-128-k-128-784"],
              [[k, pca_errors[k], ae_errors.get(k, float("nan"))] for k in pca_errors],
              note=f"PCA fitted on {min(len(X), 10_000):,} training images, the autoencoders on "
                   f"{len(X):,}.")
    res.summary = (f"test reconstruction error {plain_error:.4f} (PCA, 20 components: "
                   f"{pca_errors[20]:.4f})")
    res.numbers = {"reconstruction_error": plain_error, "denoising_error": denoising_error,
                   "plain_error_on_noisy": plain_on_noisy, "pca_errors": pca_errors,
                   "autoencoder_errors": ae_errors}
    if transfer:
        ctx.step("transfer")
        _transfer(ctx, batch)
    res.notes.append(
        f"On masked inputs the denoising autoencoder's error is {denoising_error:.4f} against "
        f"{plain_on_noisy:.4f} for the plain one. PCA with {max(sizes)} components reconstructs "
        f"with error {pca_errors[max(sizes)]:.4f}, the autoencoder with a code as wide "
        f"{ae_errors[max(sizes)]:.4f}.")
    ctx.step()


def _transfer(ctx, batch):
    """One classifier on four representations of the images: the comparison's table."""
    # The module itself: nnfast.experiments may not list the function among its exports.
    from ..experiments._representations import compare_representations

    data, res = ctx.data, ctx.result
    X = data.X_train
    n_compare, compare_epochs = ctx.size((len(X), 4), (len(X), 10), (10_000, 5))
    comparison = compare_representations(X[:n_compare], data.y_train[:n_compare], data.X_test,
                                         data.y_test, width=20, epochs=compare_epochs,
                                         batch_size=batch, random_state=0)
    ctx.table("One classifier on four representations",
              ["representation", "features", "test accuracy", "training seconds",
               "of which the representation"],
              [[r["method"], r["features"], f"{r['test_accuracy']:.1%}", r["train_seconds"],
                r["representation_seconds"]] for r in comparison.rows],
              note=f"The same MLP classifier (one hidden layer of 64 ReLU units) in each row, "
                   f"{compare_epochs} epochs on {n_compare:,} training images; the stacked "
                   "encoder (256-128-20, sigmoid units) is pretrained greedily, layer by layer, "
                   "then fine-tuned with the classifier's head.")
    best = max(comparison.rows, key=lambda r: r["test_accuracy"])
    res.summary += (f"; best representation for the classifier: {best['method']} "
                    f"({best['test_accuracy']:.1%})")
    res.numbers["representations"] = comparison.rows
