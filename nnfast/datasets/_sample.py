"""A small sample of real MNIST digits shipped with the package.

The sample is 2,000 images of the MNIST test set, 200 of each digit.  The
MNIST test set has two halves of different origin: the first 5,000 images
come from NIST's original training set (written by Census Bureau employees,
the cleaner half), the last 5,000 from NIST's test set (written by high-school
students).  The selection therefore takes, within each half and in file
order, the first 100 images of each digit.  No randomness is involved:
:func:`select_balanced` on the MNIST test labels always gives the same
indices, and :func:`_build_sample` rebuilds the bundled file from a copy of
the MNIST test set.
"""
from importlib import resources

import numpy as np

from ._idx import atomic_output

__all__ = ["load_digits_sample", "select_balanced", "SAMPLE_FILE"]

#: Name of the bundled file in ``nnfast/datasets/data/``.
SAMPLE_FILE = "mnist_digits_sample.npz"


def select_balanced(labels, per_class=200, n_blocks=2):
    """Pick the same number of samples of each class, spread over blocks of the data.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Integer class labels.
    per_class : int, default=200
        How many samples of each class to keep; a multiple of ``n_blocks``.
    n_blocks : int, default=2
        The data is cut into this many contiguous blocks of (nearly) equal
        length, and ``per_class // n_blocks`` samples of each class are taken
        from each block: the first ones in order.

    Returns
    -------
    ndarray of shape (n_classes * per_class,)
        Sorted indices into ``labels``.

    Raises
    ------
    ValueError
        If ``per_class`` is not a multiple of ``n_blocks`` or a block holds
        too few samples of some class.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if n_blocks < 1 or per_class < 1 or per_class % n_blocks:
        raise ValueError(f"per_class ({per_class}) must be a positive multiple of "
                         f"n_blocks ({n_blocks})")
    take = per_class // n_blocks
    bounds = np.linspace(0, len(labels), n_blocks + 1).astype(int)
    chosen = []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        block = labels[start:stop]
        for cls in np.unique(labels):
            where = np.flatnonzero(block == cls)
            if len(where) < take:
                raise ValueError(f"rows {start}:{stop} hold {len(where)} samples of class "
                                 f"{cls}, fewer than {take}")
            chosen.append(where[:take] + start)
    return np.sort(np.concatenate(chosen))


def _build_sample(path=None, destination=None):
    """Rebuild the bundled digits sample from the MNIST test set.

    Parameters
    ----------
    path : str, path-like or None
        Where the MNIST test files are, searched as by
        :func:`nnfast.datasets.load_mnist` (nothing is downloaded).
    destination : str, path-like or None
        File to write; by default the bundled file in the package.

    Returns
    -------
    pathlib.Path
        The file written: a compressed ``.npz`` with ``images`` (uint8, shape
        (2000, 28, 28)), ``labels`` (uint8, shape (2000,)) and ``indices``
        (int32, shape (2000,), positions in the MNIST test set).
    """
    from pathlib import Path

    from ._sources import load_mnist

    images, labels = load_mnist(path, subset="test", download=False)
    indices = select_balanced(labels, per_class=200, n_blocks=2)
    if destination is None:
        destination = Path(__file__).with_name("data") / SAMPLE_FILE
    destination = Path(destination)
    with atomic_output(destination) as handle:
        np.savez_compressed(handle, images=images[indices], labels=labels[indices],
                            indices=indices.astype(np.int32))
    return destination


def load_digits_sample(as_float=False, flatten=False):
    """Load 2,000 real handwritten digits bundled with nnfast (no download).

    A class-balanced subset of the MNIST test set, 200 images of each digit
    (see the module notes and ``nnfast/datasets/data/README.md`` for how it
    was selected and for the MNIST licence).

    Parameters
    ----------
    as_float : bool, default=False
        Return images as float32 scaled to [0, 1] instead of uint8.
    flatten : bool, default=False
        Return images of shape (2000, 784) instead of (2000, 28, 28).

    Returns
    -------
    images : ndarray of shape (2000, 28, 28) or (2000, 784)
        uint8 in [0, 255], or float32 in [0, 1] with ``as_float=True``.
    labels : ndarray of shape (2000,)
        uint8 digits 0 to 9, in MNIST test-set order.

    Examples
    --------
    >>> from nnfast.datasets import load_digits_sample
    >>> x, y = load_digits_sample(flatten=True)
    >>> x.shape, y.shape
    ((2000, 784), (2000,))
    """
    source = resources.files(__package__).joinpath("data", SAMPLE_FILE)
    with source.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        images = archive["images"]
        labels = archive["labels"]
    if flatten:
        images = images.reshape(len(images), -1)
    if as_float:
        images = np.divide(images, np.float32(255), dtype=np.float32)
    return images, labels
