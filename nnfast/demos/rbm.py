"""RBM demo: a 784x120 Bernoulli RBM trained by CD-1 on the bundled digits sample."""
import os
import time

import numpy as np

from ..datasets import load_digits_sample
from ..models import BernoulliRBM
from ..plotting import (
    plot_rbm_filters, plot_rbm_history, plot_rbm_reconstructions, plot_rbm_samples,
)


def run(output_dir, quick=False):
    """Train on 1,800 binarised digits, look at 200 held-out ones, draw samples.

    The seed exercise's model (784 visible, 120 hidden units, CD-1) with
    mini-batches of 10, momentum 0.5 and a little weight decay.

    Parameters
    ----------
    output_dir : str or os.PathLike
        Where the figures are written (created if needed).
    quick : bool
        Fewer epochs and Gibbs steps, for smoke tests.

    Returns
    -------
    dict
        JSON-serialisable summary: final reconstruction error (training and
        held-out), time per epoch, mean pseudo-log-likelihood, figure paths.
    """
    os.makedirs(output_dir, exist_ok=True)
    images, _ = load_digits_sample(as_float=True, flatten=True)
    binary = (images > 0.5).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(binary))
    train, held_out = binary[order[:1800]], binary[order[1800:]]
    epochs = 5 if quick else 40
    rbm = BernoulliRBM(n_hidden=120, learning_rate=0.05, k=1, momentum=0.5, weight_decay=1e-4,
                       batch_size=10, epochs=epochs, random_state=0,
                       track_pseudo_likelihood=True)
    start = time.perf_counter()
    rbm.fit(train)
    seconds = time.perf_counter() - start
    recon_error = float(np.mean((held_out - rbm.reconstruct(held_out)) ** 2))
    files = {
        "filters": os.path.join(output_dir, "rbm_filters.png"),
        "reconstructions": os.path.join(output_dir, "rbm_reconstructions.png"),
        "training": os.path.join(output_dir, "rbm_training.png"),
        "samples": os.path.join(output_dir, "rbm_samples.png"),
    }
    plot_rbm_filters(rbm, path=files["filters"],
                     title="Filters of the 120 hidden units (red +, blue -)")
    plot_rbm_reconstructions(rbm, held_out, n_images=12, path=files["reconstructions"],
                             title="Held-out digits (top) and their reconstructions (bottom)")
    plot_rbm_history(rbm, path=files["training"],
                     title=f"RBM 784x120, CD-1, {len(train)} digits")
    steps = 100 if quick else 1000
    plot_rbm_samples(rbm, n_samples=36, steps=steps, path=files["samples"],
                     title=f"Samples from the model ({steps} Gibbs steps from noise)")
    history = rbm.history_
    return {
        "model": "BernoulliRBM 784x120 (CD-1, batch 10, momentum 0.5)",
        "train_samples": len(train), "held_out_samples": len(held_out), "epochs": rbm.n_iter_,
        "seconds": round(seconds, 3),
        "seconds_per_epoch": round(float(np.mean(history["epoch_time"])), 4),
        "reconstruction_error": round(history["reconstruction_error"][-1], 5),
        "held_out_reconstruction_error": round(recon_error, 5),
        "pseudo_log_likelihood": round(history["pseudo_likelihood"][-1], 3),
        "files": files,
    }
