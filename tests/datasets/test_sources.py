import dataclasses
import gzip
import hashlib
import http.server
import shutil
import threading
import time
import tracemalloc
import types
import urllib.request

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


# Downloads stop at the published size -------------------------------------------

def _published(monkeypatch, fake):
    """Record the sizes of ``fake``'s ``.gz`` files as their published sizes; return them."""
    sizes = {}
    for stem, data in fake.gz.items():
        record = _sources.FILE_RECORDS[fake.name][stem]
        monkeypatch.setitem(_sources.FILE_RECORDS[fake.name], stem,
                            dataclasses.replace(record, gz_size=len(data)))
        sizes[stem] = len(data)
    return sizes


def _big_fake(make_fake):
    """MNIST stand-in whose test images (random pixels) take several download chunks."""
    fake = make_fake("mnist", sizes={"test": 400})
    assert len(fake.gz["t10k-images-idx3-ubyte"]) > 4 * _sources._DOWNLOAD_CHUNK
    return fake


class _StreamHandler(http.server.BaseHTTPRequestHandler):
    """Answers each path with the behaviour registered for it on the server."""

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up, as it should on an oversized body
        finally:
            self.server.finished.set()


def _send(handler, data, *, length=None, chunked=False):
    """Send status and headers, then ``data`` (bytes or an iterable of bytes)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/gzip")
    if length is not None:
        handler.send_header("Content-Length", str(length))
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    # The server runs in the test's process, where tracemalloc sees its
    # allocations too: pieces are written as they are, never joined.
    for piece in [data] if isinstance(data, bytes) else data:
        if chunked:
            handler.wfile.write(b"%x\r\n" % len(piece))
        handler.wfile.write(piece)
        if chunked:
            handler.wfile.write(b"\r\n")
        handler.wfile.flush()
    if chunked:
        handler.wfile.write(b"0\r\n\r\n")


def _endless(piece=bytes(range(256)) * 256, most=1 << 30):
    """Bytes without end (to ``most``, so that a failing client cannot hang the test)."""
    for _ in range(most // len(piece)):
        yield piece


@pytest.fixture
def stream_server():
    """An HTTP server on 127.0.0.1 whose answers the test writes.

    Returns a namespace with ``url`` (ending in "/"), ``routes`` (path to a
    function of the request handler, see ``_send``) and ``finished`` (an
    event set when a handler returns, also after the client hung up).
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StreamHandler)
    server.routes = {}
    server.finished = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield types.SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/",
                                    routes=server.routes, finished=server.finished)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _CountingResponse:
    """Wraps an HTTP response and counts the body bytes handed to the reader."""

    def __init__(self, response, counts):
        self._response = response
        self._counts = counts

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._response.close()

    def __getattr__(self, name):
        return getattr(self._response, name)

    def read(self, *args):
        data = self._response.read(*args)
        self._counts.append(len(data))
        return data

    def readinto(self, buffer):
        n = self._response.readinto(buffer)
        self._counts.append(n)
        return n


@pytest.fixture
def body_bytes_read(monkeypatch):
    """List whose sum is the number of body bytes the downloader has read."""
    counts = []
    real = urllib.request.urlopen
    monkeypatch.setattr(_sources.urllib.request, "urlopen",
                        lambda *a, **k: _CountingResponse(real(*a, **k), counts))
    return counts


def _load_traced(**kwargs):
    """``load_mnist(subset="test", **kwargs)``: (exception, peak traced bytes, seconds)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        load_mnist(subset="test", **kwargs)
        error = None
    except Exception as exc:  # handed to the caller, which checks it
        error = exc
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak, elapsed


# The download's buffer holds the published size; HTTP machinery, the chunk
# being read and the error message add far less than this.
_SLACK = 3 * _sources._DOWNLOAD_CHUNK


def test_every_official_file_has_a_published_size():
    for records in _sources.FILE_RECORDS.values():
        for record in records.values():
            assert type(record.gz_size) is int and record.gz_size > 0
            # A gzip of the content takes less than the content plus deflate's overhead.
            content = 4 + 4 * len(record.shape) + int(np.prod(record.shape))
            assert record.gz_size < content + content // 2048 + 1024


@pytest.mark.parametrize("stream", ["close-delimited", "chunked"])
def test_endless_body_is_cut_off_after_the_published_size(
        clean_env, monkeypatch, stream_server, body_bytes_read, make_fake, stream):
    fake = _big_fake(make_fake)
    limit = _published(monkeypatch, fake)["t10k-images-idx3-ubyte"]
    published = fake.gz["t10k-images-idx3-ubyte"]
    stream_server.routes["/t10k-images-idx3-ubyte.gz"] = lambda h: _send(
        h, [published, *_endless()], chunked=stream == "chunked")
    error, peak, elapsed = _load_traced(base_url=stream_server.url)
    assert isinstance(error, DatasetIntegrityError), repr(error)
    message = str(error)
    assert "nothing was saved" in message and f"more than the {limit} bytes" in message
    assert "MNIST t10k-images-idx3-ubyte.gz" in message
    assert limit < sum(body_bytes_read) <= limit + _sources._DOWNLOAD_CHUNK
    assert peak < limit + _SLACK
    assert elapsed < 10
    # The transfer was abandoned: the server's writes failed once the client hung up.
    assert stream_server.finished.wait(10)
    assert _files(clean_env.cache / "mnist") == []


def test_announced_oversized_body_is_refused_before_reading(
        clean_env, monkeypatch, stream_server, body_bytes_read, make_fake):
    fake = _big_fake(make_fake)
    limit = _published(monkeypatch, fake)["t10k-images-idx3-ubyte"]
    stream_server.routes["/t10k-images-idx3-ubyte.gz"] = lambda h: _send(
        h, _endless(), length=10**12)
    error, peak, _ = _load_traced(base_url=stream_server.url)
    assert isinstance(error, DatasetIntegrityError), repr(error)
    assert f"announces {10**12} bytes, more than the {limit}" in str(error)
    assert sum(body_bytes_read) == 0
    assert peak < limit + _SLACK
    assert _files(clean_env.cache / "mnist") == []


def test_file_larger_than_published_is_refused(clean_env, monkeypatch, web_server, make_fake,
                                               body_bytes_read):
    fake = _big_fake(make_fake)
    fake.write(web_server.root, splits=("test",))
    limit = _published(monkeypatch, fake)["t10k-images-idx3-ubyte"]
    path = web_server.root / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes() + bytes(20 * 2**20))
    with pytest.raises(DatasetIntegrityError, match=f"more than the {limit}"):
        load_mnist(subset="test", base_url=web_server.url)
    assert sum(body_bytes_read) <= limit + _sources._DOWNLOAD_CHUNK
    assert _files(clean_env.cache / "mnist") == []


@pytest.mark.parametrize("extra", [0, 1])
def test_body_of_exactly_the_published_size_passes_and_one_byte_more_does_not(
        clean_env, monkeypatch, stream_server, make_fake, extra):
    fake = _big_fake(make_fake)
    _published(monkeypatch, fake)
    for stem in _sources.SPLIT_FILES["test"]:
        body = fake.gz[stem] + b"\0" * extra
        stream_server.routes[f"/{stem}.gz"] = lambda h, body=body: _send(h, body)
    if extra:
        with pytest.raises(DatasetIntegrityError, match="sent more than"):
            load_mnist(subset="test", base_url=stream_server.url)
        assert _files(clean_env.cache / "mnist") == []
    else:
        _assert_split(load_mnist(subset="test", base_url=stream_server.url), fake, "test")
        for stem in _sources.SPLIT_FILES["test"]:
            assert (clean_env.cache / "mnist" / (stem + ".gz")).read_bytes() == fake.gz[stem]


def test_short_body_is_rejected(clean_env, monkeypatch, web_server, make_fake):
    fake = _big_fake(make_fake)
    fake.write(web_server.root, splits=("test",))
    limit = _published(monkeypatch, fake)["t10k-labels-idx1-ubyte"]
    path = web_server.root / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetIntegrityError) as info:
        load_mnist(subset="test", base_url=web_server.url)
    message = str(info.value)
    assert "nothing was saved" in message and "t10k-labels-idx1-ubyte" in message
    assert f"received {limit - 1} bytes; the published file has {limit}" in message
    assert _files(clean_env.cache / "mnist") == ["t10k-images-idx3-ubyte.gz"]


def test_transfer_cut_before_its_announced_length_is_rejected(
        clean_env, monkeypatch, stream_server, make_fake):
    fake = _big_fake(make_fake)
    published = fake.gz["t10k-images-idx3-ubyte"]
    _published(monkeypatch, fake)
    stream_server.routes["/t10k-images-idx3-ubyte.gz"] = lambda h: _send(
        h, published[:1000], length=len(published))
    with pytest.raises(DatasetIntegrityError,
                       match=f"cut after 1000 of the {len(published)} bytes announced"):
        load_mnist(subset="test", base_url=stream_server.url)
    assert _files(clean_env.cache / "mnist") == []


def test_shorter_copy_passes_on_its_content_digest(clean_env, monkeypatch, web_server,
                                                   make_fake):
    # The published Fashion-MNIST files store their names in the gzip header;
    # Debian's copies lack them and are shorter.  A mirror serving such copies
    # is read to the end and accepted on the content SHA-256.
    fake = make_fake("mnist")
    for stem, copy in fake.gz.items():
        published = copy[:3] + b"\x08" + copy[4:10] + stem.encode() + b"\0" + copy[10:]
        assert gzip.decompress(published) == fake.content[stem]
        record = _sources.FILE_RECORDS["mnist"][stem]
        monkeypatch.setitem(_sources.FILE_RECORDS["mnist"], stem, dataclasses.replace(
            record, gz_md5=hashlib.md5(published).hexdigest(), gz_size=len(published)))
        (web_server.root / (stem + ".gz")).write_bytes(copy)
    _assert_split(load_mnist(subset="test", base_url=web_server.url), fake, "test")


def test_record_without_size_is_capped_by_its_content(clean_env, monkeypatch, stream_server,
                                                      make_fake, body_bytes_read):
    fake = make_fake("mnist")  # its records carry no published size
    record = _sources.FILE_RECORDS["mnist"]["t10k-images-idx3-ubyte"]
    assert record.gz_size is None
    limit = _sources._download_limit(record)
    assert len(fake.content["t10k-images-idx3-ubyte"]) < limit < 2 * len(
        fake.content["t10k-images-idx3-ubyte"]) + 2048
    stream_server.routes["/t10k-images-idx3-ubyte.gz"] = lambda h: _send(h, _endless())
    with pytest.raises(DatasetIntegrityError, match=f"more than the {limit} bytes"):
        load_mnist(subset="test", base_url=stream_server.url)
    assert sum(body_bytes_read) <= limit + _sources._DOWNLOAD_CHUNK


def test_gzip_bomb_is_stopped_at_the_content_size(clean_env, web_server, make_fake):
    # 20 MiB of zeros compress to 20 kB, well under the download limit, but
    # inflating stops once the 314 kB of the content are passed.
    fake = _big_fake(make_fake)
    fake.write(web_server.root, splits=("test",))
    record = _sources.FILE_RECORDS["mnist"]["t10k-images-idx3-ubyte"]
    bomb = gzip.compress(bytes(20 * 2**20), mtime=0)
    assert len(bomb) < _sources._download_limit(record)
    (web_server.root / "t10k-images-idx3-ubyte.gz").write_bytes(bomb)
    error, peak, _ = _load_traced(base_url=web_server.url)
    assert isinstance(error, DatasetIntegrityError), repr(error)
    assert f"inflates to more than the {_sources._content_size(record)} bytes" in str(error)
    assert peak < _sources._download_limit(record) + _sources._content_size(record) + _SLACK
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
