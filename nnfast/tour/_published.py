"""Published test accuracies the tour sets its full-size results beside.

Each entry: (model as published, test accuracy, source).  The figures are
quoted from their sources as printed; none is a result of nnfast.
"""

_FASHION_README = ("Fashion-MNIST README, benchmark table "
                   "(github.com/zalandoresearch/fashion-mnist#benchmark)")
_LECUN_1998 = ("LeCun, Bottou, Bengio, Haffner (1998), Gradient-based learning applied to "
               "document recognition, Proc. IEEE 86(11); the table of yann.lecun.com/exdb/mnist")

PUBLISHED = {
    ("fashion-mnist", "mlp"): [
        ("MLP 256-128-64, no preprocessing", 0.900, _FASHION_README),
    ],
    ("fashion-mnist", "cnn"): [
        ("2 conv layers with max pooling (Keras), no preprocessing", 0.876, _FASHION_README),
        ("2 conv layers with max pooling (TensorFlow), over 300 epochs", 0.916, _FASHION_README),
        ("3 conv layers + pooling + batch norm", 0.903, _FASHION_README),
    ],
    ("mnist", "mlp"): [
        ("2-layer NN, 300 hidden units, mean squared error (4.7 % error)", 0.953, _LECUN_1998),
        ("3-layer NN, 500+150 hidden units (2.95 % error)", 0.9705, _LECUN_1998),
    ],
    ("mnist", "cnn"): [
        ("LeNet-5, no distortions (0.95 % error)", 0.9905, _LECUN_1998),
        ("2 conv layers, under 100K parameters", 0.992, _FASHION_README),
    ],
}


def published_rows(dataset, model):
    """The published (model, accuracy, source) rows for ``dataset`` and ``model`` ('mlp' or 'cnn')."""
    return PUBLISHED.get((dataset, model), [])
