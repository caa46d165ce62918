"""CNNs on real data (needs Fashion-MNIST and the MNIST test set; see tests/conftest.py)."""
import numpy as np

import nnfast
from nnfast import CNNClassifier
from nnfast.callbacks import LearningRateScheduler
from nnfast.layers import Conv2D, Dense, Flatten, MaxPool2D


def test_fashion_mnist_classic_cnn_reaches_090(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    x_train = x_train.astype(np.float32) / 255
    x_test = x_test.astype(np.float32) / 255
    # The classic CNN (CNNClassifier's default architecture) on grey images (n, 28, 28).
    model = nnfast.Sequential([
        Conv2D(32, 3, activation="relu"), MaxPool2D(2), Conv2D(64, 3, activation="relu"),
        MaxPool2D(2), Flatten(), Dense(128, activation="relu"), Dense(10, activation="softmax"),
    ], random_state=0)
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    # Four epochs, the rate annealed over them (about 0.906; ten epochs at a
    # constant rate reach about 0.92, see benchmarks/RESULTS.md).
    schedule = LearningRateScheduler("cosine", epochs=4, min_lr=1e-5)
    history = model.fit(x_train, y_train, epochs=4, batch_size=64, callbacks=[schedule])
    loss, accuracy = model.evaluate(x_test, y_test)
    assert accuracy >= 0.90, (accuracy, history.history)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_mnist_digits_tinyvgg_on_the_split_test_set(mnist_test):
    images, labels = mnist_test
    X = images.astype(np.float32) / 255
    clf = CNNClassifier(architecture="tinyvgg", epochs=3, random_state=0)
    clf.fit(X[:8000], labels[:8000])
    assert clf.score(X[8000:], labels[8000:]) > 0.95
