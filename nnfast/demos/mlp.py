"""MLP demo: a digit classifier trained on the bundled MNIST sample."""
import os
import time

import numpy as np

from ..datasets import load_digits_sample
from ..metrics import confusion_matrix
from ..models import MLPClassifier
from ..plotting import plot_confusion_matrix, plot_history, plot_image_predictions


def run(output_dir, quick=False):
    """Train a 784-256-128-10 ReLU MLP with Adam on 1,600 digits, test on 400.

    Parameters
    ----------
    output_dir : str or os.PathLike
        Where the figures are written (created if needed).
    quick : bool
        Fewer epochs, for smoke tests.

    Returns
    -------
    dict
        JSON-serialisable summary: test accuracy, epochs, time per epoch,
        figure paths.
    """
    os.makedirs(output_dir, exist_ok=True)
    images, labels = load_digits_sample(as_float=True, flatten=True)
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1600], order[1600:]
    clf = MLPClassifier(hidden_layer_sizes=(256, 128), activation="relu", optimizer="adam",
                        learning_rate=1e-3, batch_size=32, epochs=4 if quick else 30, dropout=0.2,
                        early_stopping=True, validation_fraction=0.15, patience=5, random_state=0)
    start = time.perf_counter()
    clf.fit(images[train], labels[train])
    seconds = time.perf_counter() - start
    pred = clf.predict(images[test])
    accuracy = float(np.mean(pred == labels[test]))
    files = {
        "learning_curves": os.path.join(output_dir, "mlp_learning_curves.png"),
        "confusion_matrix": os.path.join(output_dir, "mlp_confusion_matrix.png"),
        "predictions": os.path.join(output_dir, "mlp_predictions.png"),
    }
    plot_history(clf.history_, path=files["learning_curves"],
                 title="MLP 784-256-128-10 on 1,600 MNIST digits")
    plot_confusion_matrix(confusion_matrix(labels[test], pred, 10), path=files["confusion_matrix"],
                          title=f"Test digits: {accuracy:.1%} correct")
    wrong = np.flatnonzero(pred != labels[test])[:8]
    right = np.flatnonzero(pred == labels[test])[:32 - len(wrong)]
    shown = np.concatenate([wrong, right])
    plot_image_predictions(images[test][shown], labels[test][shown], pred[shown], path=files["predictions"],
                           title="Test digits: prediction (true label when wrong)")
    return {
        "model": "MLPClassifier 784-256-128-10 (ReLU, dropout 0.2, Adam)",
        "train_samples": len(train), "test_samples": len(test),
        "epochs": clf.n_iter_, "seconds": round(seconds, 3),
        "seconds_per_epoch": round(seconds / max(clf.n_iter_, 1), 4),
        "test_accuracy": round(accuracy, 4), "files": files,
    }
