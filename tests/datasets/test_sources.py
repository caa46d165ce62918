import gzip
import shutil

import numpy as np
import pytest

from nnfast.datasets import (
    DatasetIntegrityError,
    DatasetNotFoundError,
    _sources,
    dataset_search_path,
    get_cache_dir,
    load_fashion_mnist,
    load_mnist,
    write_idx,
)

pytestmark = pytest.mark.usefixtures("clean_env")


def _assert_split(loaded, fake, split):
    images, labels = loaded
    np.testing.assert_array_equal(images, fake.arrays[split][0])
    np.testing.assert_array_equal(labels, fake.arrays[split][1])
    assert images.dtype == np.uint8 and labels.dtype == np.uint8


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# Where datasets are looked for ----------------------------------------------

def test_search_path_order(clean_env, tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "env"))
    expected = [tmp_path / "given", tmp_path / "given" / "mnist", tmp_path / "env" / "mnist",
                tmp_path / "env", clean_env.cache / "mnist", clean_env.system / "mnist"]
    assert dataset_search_path("mnist", tmp_path / "given") == expected
    assert dataset_search_path("mnist") == expected[2:]


def test_search_path_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset"):
        dataset_search_path("cifar10")


def test_cache_dir_follows_environment(clean_env, tmp_path, monkeypatch):
    assert get_cache_dir("mnist") == clean_env.home / ".cache" / "nnfast" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert get_cache_dir() == clean_env.home / ".cache" / "nnfast"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_cache_dir("fashion-mnist") == tmp_path / "xdg" / "nnfast" / "fashion-mnist"
    monkeypatch.setenv("NNFAST_CACHE", str(tmp_path / "own"))
    assert get_cache_dir("mnist") == tmp_path / "own" / "mnist"


def test_precedence_path_env_cache_system(clean_env, tmp_path, monkeypatch, make_fake):
    places = [tmp_path / "given", tmp_path / "env" / "fashion-mnist",
              clean_env.cache / "fashion-mnist", clean_env.system / "fashion-mnist"]
    fakes = [make_fake("fashion-mnist", seed=i, verify=False) for i in range(len(places))]
    for fake, place in zip(fakes, places, strict=True):
        fake.write(place)
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "env"))
    for fake, place in zip(fakes, places, strict=True):
        loaded = load_fashion_mnist(tmp_path / "given", subset="test", download=False)
        _assert_split(loaded, fake, "test")
        shutil.rmtree(place)
    with pytest.raises(DatasetNotFoundError):
        load_fashion_mnist(tmp_path / "given", subset="test", download=False)


def test_files_directly_in_nnfast_data(tmp_path, monkeypatch, make_fake):
    fake = make_fake("mnist")
    fake.write(tmp_path / "flat")
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "flat"))
    (train, test) = load_mnist(download=False)
    _assert_split(train, fake, "train")
    _assert_split(test, fake, "test")


def test_explicit_path_may_hold_a_dataset_subfolder(tmp_path, make_fake):
    fake = make_fake("mnist")
    fake.write(tmp_path / "root" / "mnist", splits=("test",))
    _assert_split(load_mnist(tmp_path / "root", subset="test", download=False), fake, "test")


def test_uncompressed_files_are_accepted(tmp_path, make_fake):
    fake = make_fake("fashion-mnist")
    fake.write(tmp_path / "raw", compress=False)
    (train, test) = load_fashion_mnist(tmp_path / "raw", download=False)
    _assert_split(train, fake, "train")
    _assert_split(test, fake, "test")


def test_each_split_is_found_on_its_own(clean_env, tmp_path, monkeypatch, make_fake):
    fake = make_fake("mnist")
    fake.write(tmp_path / "data" / "mnist", splits=("test",))
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "data"))
    _assert_split(load_mnist(subset="test", download=False), fake, "test")
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(download=False)
    fake.write(clean_env.cache / "mnist", splits=("train",))
    (train, test) = load_mnist(download=False)
    _assert_split(train, fake, "train")
    _assert_split(test, fake, "test")


# Loader options -------------------------------------------------------------

def test_float_and_flat_images(tmp_path, make_fake):
    fake = make_fake("mnist")
    fake.write(tmp_path)
    x, y = load_mnist(tmp_path, subset="train", as_float=True, flatten=True, download=False)
    assert x.shape == (6, 784) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x * 255, fake.arrays["train"][0].reshape(6, -1), atol=1e-4)
    np.testing.assert_array_equal(y, fake.arrays["train"][1])
    x, _ = load_mnist(tmp_path, subset="test", flatten=True, download=False)
    assert x.shape == (4, 784) and x.dtype == np.uint8


def test_bad_subset(tmp_path):
    with pytest.raises(ValueError, match="subset"):
        load_mnist(tmp_path, subset="validation", download=False)


# When nothing is found -------------------------------------------------------

def test_not_found_error_lists_every_place(clean_env, tmp_path, monkeypatch, web_server):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "env"))
    (tmp_path / "env").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist(tmp_path / "given", download=False)
    error = info.value
    assert isinstance(error, FileNotFoundError)
    message = str(error)
    assert error.searched == dataset_search_path("fashion-mnist", tmp_path / "given")
    for folder in error.searched:
        assert str(folder) in message
    assert "no such folder" in message and "missing train-images-idx3-ubyte[.gz]" in message
    assert "download=False" in message
    assert "NNFAST_DATA" in message and "path=" in message
    assert "dataset-fashion-mnist" in message
    assert web_server.requests == []


def test_mnist_error_does_not_suggest_the_fashion_package(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(tmp_path, download=False)
    assert "dataset-fashion-mnist" not in str(info.value)


def test_offline_variable_blocks_downloads(clean_env, monkeypatch, web_server, make_fake):
    fake = make_fake("mnist")
    fake.write(web_server.root)
    monkeypatch.setenv("NNFAST_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="NNFAST_OFFLINE"):
        load_mnist(subset="test", base_url=web_server.url)
    assert web_server.requests == []
    assert _files(clean_env.cache / "mnist") == []


# Downloads -------------------------------------------------------------------

def test_download_into_cache(clean_env, web_server, make_fake):
    fake = make_fake("fashion-mnist")
    fake.write(web_server.root)
    (train, test) = load_fashion_mnist(base_url=web_server.url)
    _assert_split(train, fake, "train")
    _assert_split(test, fake, "test")
    cache = clean_env.cache / "fashion-mnist"
    assert _files(cache) == sorted(stem + ".gz" for stem in fake.gz)
    for stem, data in fake.gz.items():
        assert (cache / (stem + ".gz")).read_bytes() == data
    served = len(web_server.requests)
    assert served == 4
    load_fashion_mnist(base_url=web_server.url)
    assert len(web_server.requests) == served


def test_download_only_the_requested_split(clean_env, web_server, make_fake):
    fake = make_fake("mnist")
    fake.write(web_server.root)
    _assert_split(load_mnist(subset="test", base_url=web_server.url), fake, "test")
    assert sorted(web_server.requests) == ["/t10k-images-idx3-ubyte.gz",
                                           "/t10k-labels-idx1-ubyte.gz"]


def test_download_from_mirror_variable(clean_env, monkeypatch, web_server, make_fake):
    fake = make_fake("mnist")
    fake.write(web_server.root / "mnist")
    monkeypatch.setenv("NNFAST_DATASETS_URL", web_server.url.rstrip("/"))
    _assert_split(load_mnist(subset="train"), fake, "train")
    assert all(path.startswith("/mnist/") for path in web_server.requests)


def test_recompressed_download_is_verified_by_content(clean_env, web_server, make_fake):
    fake = make_fake("mnist")
    for stem, content in fake.content.items():
        (web_server.root / (stem + ".gz")).write_bytes(
            gzip.compress(content, compresslevel=1, mtime=12345))
    _assert_split(load_mnist(subset="test", base_url=web_server.url), fake, "test")


def test_download_with_wrong_digest_leaves_nothing(clean_env, web_server, make_fake):
    fake = make_fake("mnist")
    fake.write(web_server.root)
    images, _ = fake.arrays["test"]
    tampered = fake.content["t10k-images-idx3-ubyte"][:-1] + bytes([images.flat[-1] ^ 1])
    (web_server.root / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(tampered))
    with pytest.raises(DatasetIntegrityError, match="nothing was saved") as info:
        load_mnist(subset="test", base_url=web_server.url)
    assert "t10k-images-idx3-ubyte" in str(info.value)
    assert _files(clean_env.cache / "mnist") == []


def test_download_without_content_digest_needs_the_published_file(
        clean_env, monkeypatch, web_server, make_fake):
    fake = make_fake("mnist")
    fake.write(web_server.root)
    stem = "train-labels-idx1-ubyte"
    record = _sources.FILE_RECORDS["mnist"][stem]
    monkeypatch.setitem(_sources.FILE_RECORDS["mnist"], stem,
                        _sources.FileRecord(record.gz_md5, None, record.shape))
    _assert_split(load_mnist(subset="train", base_url=web_server.url), fake, "train")
    shutil.rmtree(clean_env.cache)
    (web_server.root / (stem + ".gz")).write_bytes(gzip.compress(fake.content[stem], mtime=1))
    with pytest.raises(DatasetIntegrityError, match="published MD5"):
        load_mnist(subset="train", base_url=web_server.url)
    assert _files(clean_env.cache / "mnist") == ["train-images-idx3-ubyte.gz"]


def test_failed_download_is_reported_as_not_found(clean_env, web_server):
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(subset="test", base_url=web_server.url)
    message = str(info.value)
    assert f"Download from {web_server.url} failed" in message and "404" in message
    assert web_server.requests == ["/t10k-images-idx3-ubyte.gz"]
    assert _files(clean_env.cache / "mnist") == []


# Verification of local files ---------------------------------------------------

def test_local_file_with_wrong_content_is_rejected(tmp_path, make_fake):
    fake = make_fake("mnist")
    folder = fake.write(tmp_path)
    stem = "t10k-labels-idx1-ubyte"
    labels = fake.arrays["test"][1].copy()
    labels[0] = (labels[0] + 1) % 10
    write_idx(folder / (stem + ".gz"), labels)
    with pytest.raises(DatasetIntegrityError) as info:
        load_mnist(folder, subset="test", download=False)
    message = str(info.value)
    assert str(folder / (stem + ".gz")) in message and "corrupt" in message


def test_wrong_dataset_is_named(tmp_path, make_fake):
    make_fake("fashion-mnist", seed=1)
    mnist = make_fake("mnist", seed=2)
    mnist.write(tmp_path / "fashion-mnist")
    with pytest.raises(DatasetIntegrityError, match="it holds MNIST t10k-images-idx3-ubyte"):
        load_fashion_mnist(tmp_path, subset="test", download=False)


def test_recompressed_local_copy_is_accepted(tmp_path, make_fake):
    fake = make_fake("fashion-mnist")
    for stem, content in fake.content.items():
        (tmp_path / (stem + ".gz")).write_bytes(gzip.compress(content, compresslevel=9, mtime=7))
    _assert_split(load_fashion_mnist(tmp_path, subset="train", download=False), fake, "train")


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("verify", [True, False])
def test_truncated_local_file_is_rejected(tmp_path, make_fake, verify, compress):
    fake = make_fake("mnist", verify=verify)
    folder = fake.write(tmp_path, compress=compress)
    path = folder / ("t10k-images-idx3-ubyte" + (".gz" if compress else ""))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetIntegrityError, match="t10k-images-idx3-ubyte"):
        load_mnist(folder, subset="test", download=False)


def test_wrong_shape_is_rejected_without_digests(tmp_path, make_fake):
    fake = make_fake("mnist", verify=False)
    fake.write(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((4, 27, 28), dtype=np.uint8))
    with pytest.raises(DatasetIntegrityError, match=r"shape \(4, 27, 28\)"):
        load_mnist(tmp_path, subset="test", download=False)


def test_labels_out_of_range_are_rejected(tmp_path, make_fake):
    fake = make_fake("mnist", verify=False)
    fake.write(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 10, 2], dtype=np.uint8))
    with pytest.raises(DatasetIntegrityError, match="labels must be 0 to 9"):
        load_mnist(tmp_path, subset="test", download=False)
