"""CNNs on real data (needs Fashion-MNIST and the MNIST test set; see tests/conftest.py)."""
import numpy as np

from nnfast import CNNClassifier


def test_fashion_mnist_classic_cnn_reaches_090(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    x_train = x_train.astype(np.float32) / 255
    x_test = x_test.astype(np.float32) / 255
    # The classic CNN on grey images (n, 28, 28), four epochs with the rate
    # annealed over them (about 0.906; ten epochs reach 0.917, see
    # benchmarks/RESULTS.md).
    clf = CNNClassifier(epochs=4, random_state=0).fit(x_train, y_train)
    assert [type(layer).__name__ for layer in clf.model_.layers] == [
        "Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "Dense"]
    accuracy = clf.score(x_test, y_test)
    assert accuracy >= 0.90, (accuracy, clf.history_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.history_["lr"][0] == 0.001 and clf.history_["lr"][-1] < 0.0002


def test_mnist_digits_tinyvgg_on_the_split_test_set(mnist_test):
    images, labels = mnist_test
    X = images.astype(np.float32) / 255
    clf = CNNClassifier(architecture="tinyvgg", epochs=3, random_state=0)
    clf.fit(X[:8000], labels[:8000])
    assert clf.score(X[8000:], labels[8000:]) > 0.95
