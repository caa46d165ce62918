"""Checks on the real Fashion-MNIST and MNIST files, through the shared fixtures."""
import numpy as np
import pytest

from nnfast.datasets import load_mnist

pytestmark = pytest.mark.dataset

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_fashion_mnist_shapes_and_labels(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    assert 60 < x_train.mean() < 85 and x_test.max() == 255


def test_fashion_mnist_classes_differ(fashion_mnist):
    (x_train, y_train), _ = fashion_mnist
    ink = x_train.reshape(len(x_train), -1).mean(axis=1)
    by_class = np.array([ink[y_train == c].mean() for c in range(10)])
    # Sandals (5) are the sparsest articles, pullovers (2) and coats (4) among the fullest.
    assert by_class.argmin() == 5
    assert by_class[2] > 2 * by_class[5] and by_class[4] > 2 * by_class[5]


def test_mnist_test_set(mnist_test):
    x, y = mnist_test
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y, minlength=10), MNIST_TEST_COUNTS)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert 25 < x.mean() < 40


def test_mnist_test_as_float(mnist_test):
    x, y = load_mnist(subset="test", as_float=True, flatten=True, download=False)
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.rint(x * 255).astype(np.uint8),
                                  mnist_test[0].reshape(10000, -1))
    np.testing.assert_array_equal(y, mnist_test[1])
