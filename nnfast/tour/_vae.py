"""Tour section: the variational autoencoder, its latent plane and PCA's."""
import time

import numpy as np

KEY = "vae"
TITLE = "Variational autoencoder: a 2-D latent plane against PCA"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = (("models", "VAE"), ("models", "PCA"), ("plotting", "plot_vae_vs_pca"),
         ("plotting", "plot_latent_grid"), ("plotting", "plot_reconstructions"),
         ("plotting", "plot_image_grid"))


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 2


def _training_figure(history, path):
    from ..plotting._style import PALETTE, new_figure, save, style_axes
    from ._figures import integer_axis

    fig = new_figure(10.0, 3.6)
    axes = fig.subplots(1, 3)
    panels = (("loss", "Objective (negative ELBO)"), ("reconstruction", "Reconstruction term"),
              ("kl", "KL term"))
    for i, (ax, (key, title)) in enumerate(zip(axes, panels)):
        values = history[key]
        ax.plot(np.arange(1, len(values) + 1), values, color=PALETTE[i], marker="o",
                markersize=3 if len(values) <= 40 else 0)
        integer_axis(ax)
        style_axes(ax, title=title, xlabel="epoch", ylabel="nats per image" if i == 0 else None)
    fig.suptitle("VAE training: the objective and its two terms per epoch", fontsize=12,
                 fontweight="bold")
    return save(fig, path)


def run(ctx):
    """Train the VAE, draw its latent plane beside PCA's, fill ``ctx.result``."""
    from ..models import PCA, VAE
    from ..plotting import plot_image_grid, plot_latent_grid, plot_reconstructions, plot_vae_vs_pca

    data, res = ctx.data, ctx.result
    epochs = ctx.size(20, 60, 20)
    X, X_test, y_test = data.X_train, data.X_test, data.y_test
    res.intro = (
        "A variational autoencoder (784-64 ReLU to a 2-D Gaussian code and back to 784 "
        f"sigmoid outputs; binary cross-entropy, Adam) trains for {epochs} epochs on the "
        "training images. Its objective is the negative evidence lower bound: how well the "
        "decoder rebuilds each image from a code drawn around the encoder's mean, plus how far "
        "the code's distribution is from the standard normal prior (the KL term). Because the "
        "codes fill the prior, decoding a grid over the plane or codes drawn from the prior "
        "gives new images. Beside it, the two first principal components of the same images.")
    vae = VAE(hidden_layer_sizes=(64,), latent_dim=2, epochs=epochs,
              batch_size=64 if not ctx.full else 128, random_state=0)
    start = time.perf_counter()
    vae.fit(X)
    seconds = time.perf_counter() - start
    ctx.step("figures")
    codes = vae.encode(X_test)
    pca = PCA(n_components=2).fit(X[:10_000])  # as in the autoencoder section
    plot_vae_vs_pca(codes, pca.transform(X_test), y_test, class_names=data.class_names,
                    title="Test images in two dimensions: VAE latent means and PCA",
                    path=ctx.figure("vae_vs_pca.png",
                                    "Each test image as a point coloured by its class: the VAE's "
                                    "latent mean (left) and its first two principal components "
                                    "(right). The accuracy under each title is that of a "
                                    "nearest-class-mean rule on these two coordinates."))
    images, coordinates = vae.latent_grid(15, span=2.5)
    plot_latent_grid(images, 15, coordinates=coordinates, image_shape=data.image_shape,
                     title="Images decoded from a 15 x 15 grid over the latent plane",
                     path=ctx.figure("vae_latent_grid.png",
                                     "The decoder's image for each point of a grid over "
                                     "[-2.5, 2.5]\u00b2 in the latent plane: the classes blend "
                                     "into one another."))
    plot_image_grid(vae.sample(32, random_state=0), n_cols=8, image_shape=data.image_shape,
                    title="New images: 32 codes drawn from the prior N(0, I), decoded",
                    path=ctx.figure("vae_samples.png",
                                    "Codes drawn from the standard normal prior and decoded "
                                    "(pixel probabilities)."))
    plot_reconstructions(X_test, vae.reconstruct(X_test), n=12, image_shape=data.image_shape,
                         title="VAE: test images (top) and their reconstructions from the mean "
                               "code", path=ctx.figure(
                             "vae_reconstructions.png",
                             "A code of only two numbers keeps the class and the slant, not the "
                             "details."))
    _training_figure(vae.history_, ctx.figure(
        "vae_training.png", "The objective and its two terms per epoch, in nats per image."))
    history = vae.history_
    pca_error = float(np.mean(pca.reconstruction_error(X_test)))
    vae_error = float(np.mean((vae.reconstruct(X_test) - X_test) ** 2))
    ctx.table("VAE", ["model", "epochs", "seconds", "objective (last epoch)",
                      "reconstruction term", "KL term", "test objective",
                      "test mean squared error per pixel"],
              [["VAE 784-64-2", vae.n_iter_, seconds, float(history["loss"][-1]),
                float(history["reconstruction"][-1]), float(history["kl"][-1]),
                float(np.mean(vae.score_samples(X_test))), vae_error]],
              note="Objective terms in nats per image (sums over the pixels and the two "
                   "latent dimensions, averaged over the images).")
    ctx.table("Two numbers per image: VAE against PCA",
              ["representation", "test mean squared error per pixel of the reconstruction"],
              [["VAE, latent mean", vae_error], ["PCA, two components", pca_error]])
    res.summary = (f"2-D VAE in {seconds:.1f} s: test objective "
                   f"{float(np.mean(vae.score_samples(X_test))):.1f} nats per image; "
                   f"reconstruction error {vae_error:.4f} against PCA's {pca_error:.4f}")
    res.numbers = {"epochs": vae.n_iter_, "seconds": seconds,
                   "loss": float(history["loss"][-1]), "kl": float(history["kl"][-1]),
                   "test_mse": vae_error, "pca_test_mse": pca_error}
    ctx.step()
