"""CNN demo: the classic convolutional network on the bundled MNIST sample."""
import os
import time

import numpy as np

from ..datasets import load_digits_sample
from ..metrics import confusion_matrix
from ..models import CNNClassifier
from ..plotting import (
    plot_confusion_matrix, plot_conv_filters, plot_feature_maps, plot_history,
)


def run(output_dir, quick=False):
    """Train the classic CNN (conv 32 -> pool -> conv 64 -> pool -> dense 128) on 1,600 digits.

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
    images, labels = load_digits_sample(as_float=True)
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1600], order[1600:]
    clf = CNNClassifier(epochs=2 if quick else 12, batch_size=64, early_stopping=True,
                        validation_fraction=0.15, patience=3, random_state=0)
    start = time.perf_counter()
    clf.fit(images[train], labels[train])
    seconds = time.perf_counter() - start
    pred = clf.predict(images[test])
    accuracy = float(np.mean(pred == labels[test]))
    files = {
        "learning_curves": os.path.join(output_dir, "cnn_learning_curves.png"),
        "confusion_matrix": os.path.join(output_dir, "cnn_confusion_matrix.png"),
        "filters": os.path.join(output_dir, "cnn_filters.png"),
        "feature_maps": os.path.join(output_dir, "cnn_feature_maps.png"),
    }
    plot_history(clf.history_, path=files["learning_curves"],
                 title="Classic CNN on 1,600 MNIST digits")
    plot_confusion_matrix(confusion_matrix(labels[test], pred, 10), path=files["confusion_matrix"],
                          title=f"CNN, test digits: {accuracy:.1%} correct")
    plot_conv_filters(clf, n_cols=8, path=files["filters"], title="The first convolution's 32 filters")
    plot_feature_maps(clf, images[test][0], path=files["feature_maps"],
                      title=f"One test digit through the network (a {labels[test][0]})")
    return {
        "model": "CNNClassifier classic: conv 32 -> pool -> conv 64 -> pool -> dense 128 (ReLU, Adam)",
        "train_samples": len(train), "test_samples": len(test),
        "epochs": clf.n_iter_, "seconds": round(seconds, 3),
        "seconds_per_epoch": round(seconds / max(clf.n_iter_, 1), 4),
        "test_accuracy": round(accuracy, 4), "files": files,
    }
