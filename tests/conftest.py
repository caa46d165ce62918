"""Shared fixtures: the real Fashion-MNIST and MNIST data.

The fixtures load the datasets with ``download=False``, so tests never touch
the network.  When the files are absent the tests that use them are skipped,
or fail when ``NNFAST_REQUIRE_DATA=1``.  Every test that uses one of them is
marked ``dataset`` automatically, so ``-m "not dataset"`` leaves them out.
"""
import os

import pytest

from nnfast.datasets import DatasetNotFoundError, load_fashion_mnist, load_mnist

DATASET_FIXTURES = ("fashion_mnist", "mnist_test")


def _data_required():
    return os.environ.get("NNFAST_REQUIRE_DATA", "").strip().lower() in {"1", "true", "yes", "on"}


def _load_or_skip(title, loader, **kwargs):
    try:
        return loader(download=False, **kwargs)
    except DatasetNotFoundError as exc:
        if _data_required():
            pytest.fail(f"{title} is required (NNFAST_REQUIRE_DATA=1) but was not found.\n{exc}",
                        pytrace=False)
        pytest.skip(f"{title} not found (set NNFAST_DATA)")


@pytest.fixture(scope="session")
def fashion_mnist():
    """Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8 images (n, 28, 28)."""
    return _load_or_skip("Fashion-MNIST", load_fashion_mnist)


@pytest.fixture(scope="session")
def mnist_test():
    """The MNIST test set as ``(x, y)``: uint8 images (10000, 28, 28), uint8 labels (10000,)."""
    return _load_or_skip("MNIST test set", load_mnist, subset="test")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in DATASET_FIXTURES):
            item.add_marker(pytest.mark.dataset)
