from importlib import resources

import numpy as np
import pytest

from nnfast.datasets import load_digits_sample
from nnfast.datasets._sample import SAMPLE_FILE, select_balanced


@pytest.fixture(scope="module")
def sample():
    return load_digits_sample()


def _bundled():
    path = resources.files("nnfast.datasets").joinpath("data", SAMPLE_FILE)
    with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def test_shapes_and_dtypes(sample):
    images, labels = sample
    assert images.shape == (2000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (2000,) and labels.dtype == np.uint8


def test_class_balance(sample):
    np.testing.assert_array_equal(np.bincount(sample[1], minlength=10), [200] * 10)


def test_pixels_look_like_centred_digits(sample):
    images = sample[0].astype(np.float64)
    assert 25 < images.mean() < 45
    assert 0.7 < (images == 0).mean() < 0.9
    assert (images.max(axis=(1, 2)) >= 200).all()
    frame = np.ones((28, 28), dtype=bool)
    frame[3:-3, 3:-3] = False
    assert images[:, frame].mean() < 2
    ink = images.sum(axis=(1, 2))
    grid = np.arange(28)
    rows = (images.sum(axis=2) @ grid) / ink
    cols = (images.sum(axis=1) @ grid) / ink
    assert np.abs(rows - 13.5).max() < 3 and np.abs(cols - 13.5).max() < 3
    per_digit_ink = np.array([ink[sample[1] == d].mean() for d in range(10)])
    assert per_digit_ink.argmin() == 1


def test_float_and_flat(sample):
    x, y = load_digits_sample(as_float=True, flatten=True)
    assert x.shape == (2000, 784) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x * 255, sample[0].reshape(2000, -1), atol=1e-4)
    np.testing.assert_array_equal(y, sample[1])


def test_calls_return_independent_arrays():
    images, labels = load_digits_sample()
    images[:] = 0
    labels[:] = 0
    fresh = load_digits_sample()
    assert fresh[0].any() and fresh[1].any()


def test_bundled_file_is_small_and_consistent(sample):
    path = resources.files("nnfast.datasets").joinpath("data", SAMPLE_FILE)
    assert len(path.read_bytes()) < 1_000_000
    data = _bundled()
    assert sorted(data) == ["images", "indices", "labels"]
    indices = data["indices"]
    assert (np.diff(indices) > 0).all() and indices[0] >= 0 and indices[-1] < 10000
    labels = data["labels"]
    for half in (indices < 5000, indices >= 5000):
        np.testing.assert_array_equal(np.bincount(labels[half], minlength=10), [100] * 10)


def test_attribution_is_shipped():
    text = resources.files("nnfast.datasets").joinpath("data", "README.md").read_text()
    for words in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0", "select_balanced"):
        assert words in text


def test_sample_is_the_documented_selection_of_mnist(mnist_test):
    images, labels = mnist_test
    data = _bundled()
    np.testing.assert_array_equal(select_balanced(labels, 200, 2), data["indices"])
    np.testing.assert_array_equal(images[data["indices"]], data["images"])
    np.testing.assert_array_equal(labels[data["indices"]], data["labels"])


def test_select_balanced_takes_the_first_of_each_class_per_block():
    labels = np.array([0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0])
    chosen = select_balanced(labels, per_class=2, n_blocks=2)
    np.testing.assert_array_equal(chosen, [0, 1, 6, 7])
    np.testing.assert_array_equal(select_balanced(labels, per_class=4, n_blocks=1),
                                  [0, 1, 2, 3, 4, 5, 6, 7])


@pytest.mark.parametrize("kwargs, match", [
    ({"per_class": 3, "n_blocks": 2}, "multiple"),
    ({"per_class": 0, "n_blocks": 1}, "multiple"),
    ({"per_class": 8, "n_blocks": 2}, "fewer than 4"),
])
def test_select_balanced_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_balanced(np.array([0, 1] * 6), **kwargs)
