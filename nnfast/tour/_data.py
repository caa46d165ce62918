"""The image data the tour trains on: the bundled digits sample, MNIST or Fashion-MNIST."""
from dataclasses import dataclass

import numpy as np

from ..datasets import load_digits_sample, load_fashion_mnist, load_mnist

__all__ = ["DATASETS", "TourData", "load_tour_data"]

#: The data sets ``nnfast tour --dataset`` accepts.
DATASETS = ("sample", "mnist", "fashion-mnist")

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


@dataclass
class TourData:
    """Training and test images (flattened, float32 in [0, 1]) with their labels.

    Attributes
    ----------
    name : str
        One of :data:`DATASETS`.
    title : str
        How the report names the data.
    X_train : ndarray of shape (n_train, 784)
    y_train : ndarray of shape (n_train,)
    X_test : ndarray of shape (n_test, 784)
    y_test : ndarray of shape (n_test,)
    class_names : list of str
    image_shape : tuple of int
        (28, 28).
    full : bool
        True for the full-size data sets.
    source : str
        Where the images come from.
    """

    name: str
    title: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    image_shape: tuple
    full: bool
    source: str

    def head(self, n_train):
        """The same data with only the first ``n_train`` training images (all test images)."""
        if n_train >= len(self.X_train):
            return self
        return TourData(self.name, self.title, self.X_train[:n_train], self.y_train[:n_train],
                        self.X_test, self.y_test, self.class_names, self.image_shape, self.full,
                        f"{self.source}; this run trains on the first {n_train:,} training images")

    @property
    def images_train(self):
        """The training images as (n_train, 28, 28)."""
        return self.X_train.reshape(-1, *self.image_shape)

    @property
    def images_test(self):
        """The test images as (n_test, 28, 28)."""
        return self.X_test.reshape(-1, *self.image_shape)


def load_tour_data(name, data_dir=None):
    """Load the tour's data set ``name``.

    Parameters
    ----------
    name : {"sample", "mnist", "fashion-mnist"}
        ``"sample"``: the 2,000 digits bundled with nnfast, split into 1,600
        training and 400 test images (200 of each digit, shuffled with seed
        0).  ``"mnist"`` and ``"fashion-mnist"``: the full 60,000 training and
        10,000 test images, found as :func:`nnfast.datasets.load_mnist` finds
        them (``data_dir``, ``$NNFAST_DATA``, the cache, system folders; a
        download unless ``NNFAST_OFFLINE=1``).
    data_dir : str or None
        A folder searched first for the IDX files.

    Returns
    -------
    TourData

    Raises
    ------
    ValueError
        For an unknown name.
    nnfast.datasets.DatasetNotFoundError
        When the files of a full-size data set cannot be found.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    if name == "sample":
        images, labels = load_digits_sample(as_float=True, flatten=True)
        order = np.random.default_rng(0).permutation(len(images))
        train, test = order[:1600], order[1600:]
        return TourData("sample", "the bundled sample of 2,000 MNIST digits", images[train],
                        labels[train], images[test], labels[test], [str(d) for d in range(10)],
                        (28, 28), False,
                        "nnfast's bundled digits (200 of each digit from the MNIST test set), "
                        "1,600 for training and 400 for testing")
    loader = load_mnist if name == "mnist" else load_fashion_mnist
    (x_train, y_train), (x_test, y_test) = loader(data_dir, as_float=True, flatten=True)
    if name == "mnist":
        return TourData(name, "MNIST", x_train, y_train, x_test, y_test,
                        [str(d) for d in range(10)], (28, 28), True,
                        "MNIST handwritten digits: 60,000 training and 10,000 test images")
    return TourData(name, "Fashion-MNIST", x_train, y_train, x_test, y_test, FASHION_CLASSES,
                    (28, 28), True,
                    "Fashion-MNIST (Zalando article images): 60,000 training and 10,000 test images")
