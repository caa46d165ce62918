"""The course's comparison of representations for a classifier.

One classifier, trained with the same budget every time, on four inputs:
the raw pixels, the codes of a deep autoencoder, as many principal
components as the code has values, and a stacked encoder pretrained layer
by layer and transferred, already trained, into the classifier (which then
fine-tunes it).  Each row reports the test accuracy and the training time,
the representation's own training included, so that what a code buys in
accuracy can be set against what it costs to learn.
"""
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .._validation import check_array, check_consistent_length, check_labels, check_positive
from ..models import PCA, Autoencoder, MLPClassifier, StackedAutoencoder

__all__ = ["RepresentationComparison", "compare_representations"]

#: The methods of the comparison, in the order of its rows.
METHODS = ("raw pixels", "autoencoder codes", "PCA components", "stacked encoder (transferred)")


@dataclass(eq=False)
class RepresentationComparison:
    """What :func:`compare_representations` measured.

    Attributes
    ----------
    rows : list of dict
        One per method, in the order raw pixels, autoencoder codes, PCA
        components, transferred stacked encoder, each with the keys
        ``method`` (str), ``features`` (int, the classifier's input width),
        ``test_accuracy`` (float), ``train_seconds`` (float, the whole
        training: representation and classifier), ``representation_seconds``
        (float, the representation's share; 0 for raw pixels) and
        ``classifier_seconds`` (float).
    settings : dict
        The settings the comparison ran with (widths, epochs, batch size,
        classifier, training set size).
    """

    rows: list
    settings: dict = field(default_factory=dict)

    def to_markdown(self):
        """The rows as a Markdown table.

        Returns
        -------
        str
        """
        lines = ["| representation | features | test accuracy | training time (s) | "
                 "of which the representation (s) |",
                 "|---|---:|---:|---:|---:|"]
        for row in self.rows:
            lines.append(f"| {row['method']} | {row['features']} | {row['test_accuracy']:.4f} | "
                         f"{row['train_seconds']:.2f} | {row['representation_seconds']:.2f} |")
        return "\n".join(lines)

    def __str__(self):
        return self.to_markdown()

    def __repr__(self):
        best = max(self.rows, key=lambda r: r["test_accuracy"])
        return (f"RepresentationComparison({len(self.rows)} rows, best: {best['method']!r} at "
                f"{best['test_accuracy']:.4f})")


def _check_sizes(value, name):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of positive integers, got {value!r}") from None
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        raise ValueError(f"{name} must hold positive integers, got {value!r}")
    return tuple(int(s) for s in sizes)


def _timed(fit):
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


def compare_representations(X_train, y_train, X_test, y_test, width=20, epochs=10,
                            random_state=0, batch_size=64, classifier_hidden=(64,),
                            autoencoder_layers=(128, 64, 12), stacked_layers=None,
                            verbose=0):
    """Train one classifier on four representations of the data and compare them.

    The classifier is an :class:`~nnfast.MLPClassifier` (ReLU hidden layers
    ``classifier_hidden``, softmax output, Adam) trained for ``epochs``
    epochs of ``batch_size`` on each input:

    1. the raw features;
    2. the codes of an :class:`~nnfast.Autoencoder` (``autoencoder_layers``,
       a code of ``width`` values, ReLU, sigmoid output, mean squared
       error) trained for ``epochs`` epochs on ``X_train``;
    3. the first ``width`` components of a :class:`~nnfast.PCA` of ``X_train``;
    4. a :class:`~nnfast.StackedAutoencoder` (``stacked_layers``, sigmoid
       units) pretrained greedily, ``epochs`` epochs per layer, whose encoder
       is transferred (``to_classifier``) under the same hidden layers and
       softmax as the other rows' classifier, the whole fine-tuned for
       ``epochs`` epochs.

    The training time of a row is the wall-clock time of everything trained
    for it (representation and classifier); encoding the sets is not
    counted.  Every model is seeded from ``random_state``.

    Parameters
    ----------
    X_train : array-like of shape (n_samples, n_features)
        Training data, scaled to [0, 1] (the autoencoders have sigmoid outputs).
    y_train : array-like of shape (n_samples,)
        Class labels.
    X_test : array-like of shape (n_test, n_features)
    y_test : array-like of shape (n_test,)
    width : int, default=20
        Values of the autoencoder's code and PCA components kept.
    epochs : int, default=10
        Epochs of every training: the autoencoder, each stacked layer, each
        classifier.
    random_state : int, default=0
    batch_size : int, default=64
    classifier_hidden : tuple of int, default=(64,)
        Hidden layers of the classifier (ReLU), in every row.
    autoencoder_layers : tuple of int, default=(128, 64, 12)
        The autoencoder's encoder layers before its code (the course's).
    stacked_layers : tuple of int, optional
        The stacked encoder's layers; ``(256, 128, width)`` by default, so
        that it also hands ``width`` values to its head.
    verbose : int, default=0
        1 prints each row when it is done.

    Returns
    -------
    RepresentationComparison
        ``rows`` (method, features, test_accuracy, train_seconds, ...) and
        ``to_markdown()``.

    Examples
    --------
    >>> from nnfast.datasets import load_digits_sample
    >>> x, y = load_digits_sample(as_float=True, flatten=True)
    >>> result = compare_representations(x[:300], y[:300], x[300:400], y[300:400], width=8,
    ...                                  epochs=1, classifier_hidden=(16,),
    ...                                  autoencoder_layers=(32,), stacked_layers=(32, 8))
    >>> [(row["method"], row["features"]) for row in result.rows]
    [('raw pixels', 784), ('autoencoder codes', 8), ('PCA components', 8),
     ('stacked encoder (transferred)', 8)]
    >>> print(result.to_markdown().splitlines()[0])
    | representation | features | test accuracy | training time (s) |
      of which the representation (s) |
    """
    X_train = check_array(X_train, name="X_train")
    X_test = check_array(X_test, name="X_test")
    if X_test.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features, but X_train has "
                         f"{X_train.shape[1]}: they must describe the same features")
    y_train = check_labels(y_train, name="y_train")
    y_test = check_labels(y_test, name="y_test")
    check_consistent_length(X_train, y_train, ("X_train", "y_train"))
    check_consistent_length(X_test, y_test, ("X_test", "y_test"))
    n_samples, n_features = X_train.shape
    check_positive(width, "width", integer=True)
    check_positive(epochs, "epochs", integer=True)
    check_positive(batch_size, "batch_size", integer=True)
    if width > min(n_samples, n_features):
        raise ValueError(f"width={width} must be at most the number of features ({n_features}) "
                         f"and of training samples ({n_samples}): PCA keeps no more components")
    classes, y_index = np.unique(y_train, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y_train must hold at least two classes, got {classes.tolist()}")
    unknown = np.setdiff1d(np.unique(y_test), classes)
    if unknown.size:
        raise ValueError(f"y_test holds labels that y_train does not: {unknown.tolist()[:5]}")
    classifier_hidden = _check_sizes(classifier_hidden, "classifier_hidden")
    autoencoder_layers = _check_sizes(autoencoder_layers, "autoencoder_layers")
    stacked_layers = (_check_sizes(stacked_layers, "stacked_layers") if stacked_layers is not None
                      else (256, 128, width))
    if not stacked_layers:
        raise ValueError("stacked_layers must hold at least one layer")

    def classifier():
        return MLPClassifier(hidden_layer_sizes=classifier_hidden, activation="relu",
                             optimizer="adam", batch_size=batch_size, epochs=epochs,
                             random_state=random_state)

    rows = []

    def report(method, features, accuracy, representation_seconds, classifier_seconds):
        rows.append({"method": method, "features": int(features),
                     "test_accuracy": float(accuracy),
                     "train_seconds": representation_seconds + classifier_seconds,
                     "representation_seconds": representation_seconds,
                     "classifier_seconds": classifier_seconds})
        if verbose:
            print(f"{method}: accuracy {accuracy:.4f}, "
                  f"{representation_seconds + classifier_seconds:.2f} s")

    def on_features(method, train, test, representation_seconds):
        clf, seconds = _timed(lambda: classifier().fit(train, y_train))
        report(method, train.shape[1], np.mean(clf.predict(test) == y_test),
               representation_seconds, seconds)

    on_features(METHODS[0], X_train, X_test, 0.0)

    autoencoder, seconds = _timed(lambda: Autoencoder(
        hidden_layer_sizes=autoencoder_layers, latent_dim=width, activation="relu",
        output_activation="sigmoid", loss="mse", batch_size=batch_size, epochs=epochs,
        random_state=random_state).fit(X_train))
    on_features(METHODS[1], autoencoder.transform(X_train), autoencoder.transform(X_test),
                seconds)

    pca, seconds = _timed(lambda: PCA(n_components=width).fit(X_train))
    on_features(METHODS[2], pca.transform(X_train), pca.transform(X_test), seconds)

    stacked, seconds = _timed(lambda: StackedAutoencoder(
        hidden_layer_sizes=stacked_layers, activation="sigmoid", output_activation="sigmoid",
        batch_size=batch_size, epochs=epochs, random_state=random_state).fit(X_train))
    # The classifier of the other rows, on top of the transferred encoder.
    transferred, classifier_seconds = _timed(lambda: _fitted(stacked.to_classifier(
        len(classes), freeze=False, hidden_layer_sizes=classifier_hidden, activation="relu",
        random_state=random_state), X_train, y_index, epochs, batch_size))
    predicted = classes[transferred.predict(X_test).argmax(axis=1)]
    report(METHODS[3], stacked_layers[-1], np.mean(predicted == y_test), seconds,
           classifier_seconds)

    settings = {"width": int(width), "epochs": int(epochs), "batch_size": int(batch_size),
                "classifier_hidden": classifier_hidden, "autoencoder_layers": autoencoder_layers,
                "stacked_layers": stacked_layers, "n_train": int(n_samples),
                "n_test": int(len(X_test)), "random_state": random_state}
    return RepresentationComparison(rows, settings)


def _fitted(network, X, y_index, epochs, batch_size):
    network.fit(X, y_index, epochs=epochs, batch_size=batch_size)
    return network
