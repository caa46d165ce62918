"""Fixtures for the dataset tests: an isolated environment, fake datasets, a local web server."""
import functools
import gzip
import hashlib
import http.server
import threading
import types

import numpy as np
import pytest

from nnfast.datasets import _sources
from nnfast.datasets._idx import _encode_idx

ENV_VARS = ("NNFAST_DATA", "NNFAST_CACHE", "XDG_CACHE_HOME", "NNFAST_OFFLINE",
            "NNFAST_DATASETS_URL")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No dataset variables, a fresh home folder and one empty system folder.

    Returns a namespace with ``home``, ``cache`` (where downloads go) and
    ``system`` (the only entry of ``SYSTEM_DATA_DIRS``).
    """
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    system = tmp_path / "system"
    monkeypatch.setattr(_sources, "SYSTEM_DATA_DIRS", [str(system)])
    monkeypatch.setenv("no_proxy", "*")
    return types.SimpleNamespace(home=home, cache=home / ".cache" / "nnfast", system=system)


class FakeDataset:
    """Small random IDX files standing in for a dataset, registered in FILE_RECORDS.

    Parameters
    ----------
    name : str
        The dataset they replace ("mnist" or "fashion-mnist").
    monkeypatch : pytest.MonkeyPatch
        Used to put their digests and shapes into ``FILE_RECORDS``.
    sizes : dict
        Number of samples per split.
    seed : int
        Seed of the pixel and label values.
    verify : bool
        Record their digests; when False only their shapes are recorded, so
        any well-formed files of those shapes pass.
    """

    def __init__(self, name, monkeypatch, sizes=None, seed=0, verify=True):
        self.name = name
        rng = np.random.default_rng(seed)
        self.arrays = {}
        self.content = {}
        self.gz = {}
        for split, n in (sizes or {"train": 6, "test": 4}).items():
            images_stem, labels_stem = _sources.SPLIT_FILES[split]
            images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            labels = rng.integers(0, 10, size=n, dtype=np.uint8)
            self.arrays[split] = (images, labels)
            for stem, array in ((images_stem, images), (labels_stem, labels)):
                self.content[stem] = _encode_idx(array)
                self.gz[stem] = gzip.compress(self.content[stem], mtime=0)
                if verify:
                    record = _sources.FileRecord(
                        hashlib.md5(self.gz[stem]).hexdigest(),
                        hashlib.sha256(self.content[stem]).hexdigest(), array.shape)
                else:
                    record = _sources.FileRecord(None, None, array.shape)
                monkeypatch.setitem(_sources.FILE_RECORDS[name], stem, record)

    def write(self, folder, splits=("train", "test"), compress=True):
        """Write the files of ``splits`` into ``folder`` (created); return ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for split in splits:
            for stem in _sources.SPLIT_FILES[split]:
                if compress:
                    (folder / (stem + ".gz")).write_bytes(self.gz[stem])
                else:
                    (folder / stem).write_bytes(self.content[stem])
        return folder


@pytest.fixture
def make_fake(monkeypatch):
    """Factory ``make_fake(name, seed=0, sizes=None, verify=True)`` of FakeDataset objects."""
    def make(name, seed=0, sizes=None, verify=True):
        return FakeDataset(name, monkeypatch, sizes=sizes, seed=seed, verify=verify)
    return make


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests = None

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def web_server(tmp_path):
    """Serve a temporary folder over HTTP on 127.0.0.1 from a background thread.

    Returns a namespace with ``root`` (the folder), ``url`` (ending in "/")
    and ``requests`` (the paths asked for, in order).
    """
    root = tmp_path / "www"
    root.mkdir()
    requests = []
    handler = type("Handler", (_QuietHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield types.SimpleNamespace(root=root, url=f"http://127.0.0.1:{server.server_port}/",
                                    requests=requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
