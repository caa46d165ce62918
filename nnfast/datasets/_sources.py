"""Finding, downloading and verifying MNIST and Fashion-MNIST.

A dataset is a folder holding the four standard IDX files (gzip-compressed
``*.gz`` or not).  :func:`dataset_search_path` lists the folders tried, in
order; the first one that holds both files of a split (images and labels)
provides that split.  When no folder has them, the files can be downloaded
into the user cache.

Every file is checked against :data:`FILE_RECORDS`:

* the MD5 of the ``.gz`` as published by the dataset's authors, which
  identifies an untouched download;
* the SHA-256 of the decompressed IDX content, which identifies the data
  whatever the compression (Debian's ``dataset-fashion-mnist`` package, for
  one, ships re-compressed files whose ``.gz`` digests differ from the
  published ones);
* the shape the arrays must have;
* the size of the ``.gz`` as published, which caps what a download may
  send: reading stops as soon as more arrives.
"""
import hashlib
import http.client
import logging
import math
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._idx import _GZIP_MAGIC, _parse_idx, atomic_output

__all__ = [
    "DatasetNotFoundError", "DatasetIntegrityError", "FileRecord", "FILE_RECORDS",
    "DEFAULT_URLS", "SYSTEM_DATA_DIRS", "get_cache_dir", "dataset_search_path",
    "load_mnist", "load_fashion_mnist",
]

logger = logging.getLogger("nnfast.datasets")


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a dataset's files are neither on disk nor downloadable.

    Attributes
    ----------
    dataset : str
        The dataset's name, such as ``"fashion-mnist"``.
    searched : list of pathlib.Path
        Every folder that was looked in, in search order.
    """

    def __init__(self, message, dataset=None, searched=()):
        super().__init__(message)
        self.dataset = dataset
        self.searched = list(searched)


class DatasetIntegrityError(ValueError):
    """Raised when a dataset file does not match its known digest or shape.

    The file is corrupt, incomplete, or not the file its name claims.
    """


@dataclass(frozen=True)
class FileRecord:
    """What a dataset file must be.

    Attributes
    ----------
    gz_md5 : str or None
        MD5 of the ``.gz`` file as published.
    sha256 : str or None
        SHA-256 of the decompressed IDX content, or None where it is not
        recorded.
    shape : tuple of int
        Shape of the array the file holds (of uint8).
    gz_size : int or None
        Size in bytes of the ``.gz`` file as published, or None where it is
        not recorded.  A download stops with an error as soon as more bytes
        than this arrive; without it, the most a gzip file of the content
        can take is the limit (see :func:`_download_limit`).
    """

    gz_md5: str | None
    sha256: str | None
    shape: tuple
    gz_size: int | None = None


_TRAIN_IMAGES, _TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
_TEST_IMAGES, _TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"

#: The (images, labels) files of each split.
SPLIT_FILES = {
    "train": (_TRAIN_IMAGES, _TRAIN_LABELS),
    "test": (_TEST_IMAGES, _TEST_LABELS),
}

#: Known digests, shapes and published sizes, by dataset and file name
#: (without ``.gz``).  MNIST's training files have no recorded content
#: digest: a local copy of them is accepted when its ``.gz`` is the published
#: one, or otherwise on the strength of the IDX structure and shape checks
#: alone.  Each size is that of the file whose MD5 is recorded.
FILE_RECORDS = {
    "mnist": {
        _TRAIN_IMAGES: FileRecord("f68b3c2dcbeaaa9fbdd348bbdeb94873", None, (60000, 28, 28),
                                  9912422),
        _TRAIN_LABELS: FileRecord("d53e105ee54ea40749a09fcbcd1e9432", None, (60000,), 28881),
        _TEST_IMAGES: FileRecord(
            "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", (10000, 28, 28),
            1648877),
        _TEST_LABELS: FileRecord(
            "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", (10000,), 4542),
    },
    "fashion-mnist": {
        _TRAIN_IMAGES: FileRecord(
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", (60000, 28, 28),
            26421880),
        _TRAIN_LABELS: FileRecord(
            "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", (60000,), 29515),
        _TEST_IMAGES: FileRecord(
            "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", (10000, 28, 28),
            4422102),
        _TEST_LABELS: FileRecord(
            "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", (10000,), 5148),
    },
}

#: Where each dataset is published.
DEFAULT_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}

#: System-wide folders holding one sub-folder per dataset, tried last.
SYSTEM_DATA_DIRS = ["/usr/local/share/datasets", "/usr/share/datasets"]

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_DOWNLOAD_TIMEOUT = 60.0
#: Bytes read from a download at a time.
_DOWNLOAD_CHUNK = 1 << 16
_TRUE = {"1", "true", "yes", "on"}


def get_cache_dir(name=None):
    """Return the folder that downloads go to.

    Parameters
    ----------
    name : str or None
        A dataset name; None gives the root of the cache.

    Returns
    -------
    pathlib.Path
        ``$NNFAST_CACHE`` if set, else ``$XDG_CACHE_HOME/nnfast`` (when that
        variable holds an absolute path), else ``~/.cache/nnfast``; followed
        by ``name`` when given.  The folder is not created.
    """
    root = os.environ.get("NNFAST_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "nnfast"
    return base / name if name else base


def _candidates(name, path=None):
    """Return ``[(folder, origin), ...]`` in search order."""
    found = []
    if path is not None:
        root = Path(path).expanduser()
        found += [(root, "path argument"), (root / name, "path argument")]
    for entry in os.environ.get("NNFAST_DATA", "").split(os.pathsep):
        if entry:
            root = Path(entry).expanduser()
            found += [(root / name, "$NNFAST_DATA"), (root, "$NNFAST_DATA")]
    found.append((get_cache_dir(name), "user cache"))
    for entry in SYSTEM_DATA_DIRS:
        found.append((Path(entry) / name, "system folder"))
    unique, seen = [], set()
    for folder, origin in found:
        if folder not in seen:
            seen.add(folder)
            unique.append((folder, origin))
    return unique


def dataset_search_path(name, path=None):
    """List the folders searched for a dataset, first to last.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
        The dataset.
    path : str, path-like or None
        A folder given by the caller; it is searched first, then its
        sub-folder ``name``.

    Returns
    -------
    list of pathlib.Path
        ``path`` and ``path/name``; then for each entry of ``$NNFAST_DATA``
        (several may be joined with ``os.pathsep``) its sub-folder ``name``
        and the entry itself; then ``get_cache_dir(name)``; then ``name``
        under each of :data:`SYSTEM_DATA_DIRS`.  Duplicates are dropped.
    """
    _check_name(name)
    return [folder for folder, _ in _candidates(name, path)]


def _check_name(name):
    if name not in FILE_RECORDS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(FILE_RECORDS)}")


def _find_file(folder, stem):
    """Return ``folder/stem.gz`` or ``folder/stem``, whichever exists, or None."""
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _locate_split(candidates, stems):
    """Return the files of the first folder that has all of ``stems``, and a report.

    Returns
    -------
    files : dict or None
        File path by stem, or None if no folder has them all.
    report : list of str
        One line per folder looked in, saying what was missing.
    """
    report = []
    for folder, origin in candidates:
        if not folder.is_dir():
            report.append(f"{folder} ({origin}): no such folder")
            continue
        files = {stem: _find_file(folder, stem) for stem in stems}
        missing = [stem + "[.gz]" for stem, file in files.items() if file is None]
        if not missing:
            return files, report
        report.append(f"{folder} ({origin}): missing {', '.join(missing)}")
    return None, report


def _identify(sha256):
    """Name the dataset file whose content digest is ``sha256``, if any."""
    for name, records in FILE_RECORDS.items():
        for stem, record in records.items():
            if record.sha256 == sha256:
                return f"{_TITLES.get(name, name)} {stem}"
    return None


def _verified_payload(name, stem, raw, where):
    """Check ``raw`` (file bytes) against the record of ``stem``; return the IDX bytes.

    Parameters
    ----------
    name, stem : str
        Dataset and file.
    raw : bytes
        The bytes as stored (gzip or not).
    where : str
        File name or URL for messages.

    Returns
    -------
    payload : bytes
        Decompressed IDX content.
    strong : bool
        True if a digest was checked (content SHA-256 or published MD5),
        False if only the structure can vouch for the file.
    """
    record = FILE_RECORDS[name][stem]
    payload, compressed = _decompress_at_most(raw, _content_size(record), where)
    if record.sha256 is not None:
        digest = hashlib.sha256(payload).hexdigest()
        if digest != record.sha256:
            other = _identify(digest)
            hint = f"; it holds {other}" if other else ""
            raise DatasetIntegrityError(
                f"{where}: corrupt or not the expected file{hint}: SHA-256 of the decompressed "
                f"content is {digest}, expected {record.sha256} for "
                f"{_TITLES.get(name, name)} {stem}. Delete or replace the file.")
        return payload, True
    if compressed and record.gz_md5 is not None:
        return payload, hashlib.md5(raw, usedforsecurity=False).hexdigest() == record.gz_md5
    return payload, False


def _content_size(record):
    """Bytes of the IDX content of a record's file: header, dimensions, one byte per pixel."""
    return 4 + 4 * len(record.shape) + math.prod(record.shape)


def _decompress_at_most(raw, limit, where):
    """Gunzip ``raw`` (when it is gzip data), stopping once the output passes ``limit`` bytes.

    Returns ``(payload, was_compressed)`` as ``_idx._decompress`` does, but a
    stream that inflates beyond the content's known size raises
    ``ValueError`` before more than ``limit + 1`` bytes are produced, so a
    small file cannot expand into gigabytes.  Damaged or truncated data and
    anything but further gzip members after the first raise ``ValueError``.
    """
    if raw[:2] != _GZIP_MAGIC:
        return raw, False
    members = []
    produced = 0
    rest = raw
    while rest:
        if rest[:2] != _GZIP_MAGIC:
            raise ValueError(f"{where}: damaged gzip data (unexpected bytes after a member)")
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            members.append(inflater.decompress(rest, limit + 1 - produced))
        except zlib.error as exc:
            raise ValueError(f"{where}: damaged or truncated gzip data ({exc})") from None
        produced += len(members[-1])
        if produced > limit:
            raise ValueError(f"{where}: the gzip data inflates to more than the {limit} bytes "
                             f"the file's content takes")
        if not inflater.eof:
            raise ValueError(f"{where}: damaged or truncated gzip data (the stream ends early)")
        rest = inflater.unused_data
    return (members[0] if len(members) == 1 else b"".join(members)), True


def _read_checked(name, stem, file):
    """Read, verify and decode one local dataset file."""
    where = str(file)
    with open(file, "rb") as handle:
        raw = handle.read()
    try:
        payload, _ = _verified_payload(name, stem, raw, where)
        array = _parse_idx(payload, where)
    except DatasetIntegrityError:
        raise
    except ValueError as exc:
        raise DatasetIntegrityError(f"corrupt dataset file: {exc}") from None
    record = FILE_RECORDS[name][stem]
    if array.dtype != np.uint8 or array.shape != tuple(record.shape):
        raise DatasetIntegrityError(
            f"{where}: holds an array of shape {array.shape} and dtype {array.dtype}, expected "
            f"shape {tuple(record.shape)} of uint8 for {_TITLES.get(name, name)} {stem}")
    return array


def _offline():
    return os.environ.get("NNFAST_OFFLINE", "").strip().lower() in _TRUE


def _download_url(name, base_url):
    """Return the base URL to download ``name`` from."""
    if base_url:
        return base_url.rstrip("/") + "/"
    mirror = os.environ.get("NNFAST_DATASETS_URL")
    if mirror:
        return f"{mirror.rstrip('/')}/{name}/"
    return DEFAULT_URLS[name]


def _download_limit(record):
    """Most bytes a download of ``record``'s ``.gz`` may have.

    The published size where it is recorded.  Otherwise the most any gzip
    file of the content can take: deflate adds at most 5 bytes per 16 KiB
    block to incompressible data (zlib's ``deflateBound`` is below
    ``n + n / 2048 + 13``), plus the gzip header and trailer, for which 1 KiB
    leaves room for a stored file name; an uncompressed copy fits as well.
    """
    if record.gz_size is not None:
        return record.gz_size
    size = _content_size(record)
    return size + size // 2048 + 1024


def _fetch(url, limit, what):
    """Return the body of ``url``, reading at most ``limit`` bytes of it.

    The body goes into one buffer of ``limit`` bytes, filled
    ``_DOWNLOAD_CHUNK`` bytes at a time; when it is full, reading one more
    byte tells whether the server sends more, and then the transfer is
    abandoned.  A server that announces more than ``limit`` bytes is refused
    before any is read, and one that closes the connection before sending all
    it announced is reported as a cut transfer.

    Parameters
    ----------
    url : str
    limit : int
        Most bytes accepted.
    what : str
        The file's name for messages, such as ``"MNIST t10k-images-idx3-ubyte.gz"``.

    Returns
    -------
    bytearray
        The body, of at most ``limit`` bytes.

    Raises
    ------
    DatasetIntegrityError
        When the server sends or announces more than ``limit`` bytes, or
        fewer than it announced.
    """
    rejected = "download rejected, nothing was saved"
    buffer = bytearray(limit)
    received = 0
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
        announced = response.headers.get("Content-Length")
        announced = int(announced) if announced and announced.strip().isdigit() else None
        if announced is not None and announced > limit:
            raise DatasetIntegrityError(
                f"{rejected}: {url} announces {announced} bytes, more than the {limit} of "
                f"{what}")
        with memoryview(buffer) as view:
            while received < limit:
                got = response.readinto(view[received:received + _DOWNLOAD_CHUNK])
                if not got:
                    break
                received += got
        if received == limit and response.read(1):
            raise DatasetIntegrityError(
                f"{rejected}: {url} sent more than the {limit} bytes of {what}; stopped reading")
    if announced is not None and received < announced:
        raise DatasetIntegrityError(
            f"{rejected}: the transfer of {url} was cut after {received} of the {announced} "
            f"bytes announced")
    del buffer[received:]
    return buffer


def _download_file(name, stem, url, destination):
    """Fetch ``url`` to ``destination`` if it matches the record of ``stem``.

    At most :func:`_download_limit` bytes are read (the published size of
    the ``.gz`` where recorded): a server sending more is cut off.  The file
    is written to a temporary name and moved into place only after the
    published MD5 of the ``.gz`` or the content SHA-256 matched; a shorter
    body can only pass the second, as a complete re-compressed copy.
    """
    logger.info("downloading %s to %s", url, destination)
    record = FILE_RECORDS[name][stem]
    what = f"{_TITLES.get(name, name)} {stem}.gz"
    raw = _fetch(url, _download_limit(record), what)
    published = (record.gz_md5 is not None
                 and hashlib.md5(raw, usedforsecurity=False).hexdigest() == record.gz_md5)
    if not published:
        short = ""
        if record.gz_size is not None and len(raw) < record.gz_size:
            short = f" (received {len(raw)} bytes; the published file has {record.gz_size})"
        try:
            _, strong = _verified_payload(name, stem, raw, url)
        except ValueError as exc:
            raise DatasetIntegrityError(
                f"download rejected, nothing was saved: {exc}{short}") from None
        if not strong:
            raise DatasetIntegrityError(
                f"download rejected, nothing was saved: {url} does not match the published "
                f"MD5 {record.gz_md5} of {what}{short}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(destination) as handle:
        handle.write(raw)


def _download_split(name, stems, base_url):
    """Download the missing ``stems`` of ``name`` into the cache; return their paths."""
    folder = get_cache_dir(name)
    url = _download_url(name, base_url)
    files = {}
    for stem in stems:
        present = _find_file(folder, stem)
        if present is None:
            present = folder / (stem + ".gz")
            _download_file(name, stem, url + stem + ".gz", present)
        files[stem] = present
    return files


def _not_found(name, splits, report, download_note, candidates):
    title = _TITLES.get(name, name)
    wanted = ", ".join(f"{stem}[.gz]" for split in splits for stem in SPLIT_FILES[split])
    lines = [f"{title} not found: no folder holds {wanted}.", "Searched, in order:"]
    lines += [f"  {line}" for line in report]
    lines.append(download_note)
    lines.append("To provide the files, do one of:")
    lines.append(f"  - pass path=FOLDER, a folder holding them (or its '{name}' sub-folder);")
    lines.append(f"  - set NNFAST_DATA=FOLDER, a folder holding them or a '{name}' sub-folder;")
    lines.append(f"  - put them in {get_cache_dir(name)};")
    if name == "fashion-mnist":
        lines.append("  - install the Debian package dataset-fashion-mnist "
                     "(files in /usr/share/datasets/fashion-mnist);")
    lines.append(f"  - allow a download (download=True, NNFAST_OFFLINE unset) from "
                 f"{_download_url(name, None)} or a mirror given by base_url= or "
                 "NNFAST_DATASETS_URL.")
    searched = [folder for folder, _ in candidates]
    return DatasetNotFoundError("\n".join(lines), dataset=name, searched=searched)


def _split_files(name, split, path, download, base_url):
    """Return the file paths of one split, searching then downloading."""
    stems = SPLIT_FILES[split]
    candidates = _candidates(name, path)
    files, report = _locate_split(candidates, stems)
    if files is not None:
        return files
    if not download:
        note = "Downloading is off (download=False)."
    elif _offline():
        note = "Downloading is off (NNFAST_OFFLINE is set)."
    else:
        try:
            return _download_split(name, stems, base_url)
        except DatasetIntegrityError:
            raise
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # URLError, HTTPError and timeouts are OSErrors; a malformed URL is a ValueError.
            note = f"Download from {_download_url(name, base_url)} failed: {exc}"
    raise _not_found(name, [split], report, note, candidates)


def _load(name, path, subset, as_float, flatten, download, base_url):
    _check_name(name)
    splits = {"both": ("train", "test"), "train": ("train",), "test": ("test",)}.get(subset)
    if splits is None:
        raise ValueError(f"subset must be 'both', 'train' or 'test', got {subset!r}")
    result = []
    for split in splits:
        files = _split_files(name, split, path, download, base_url)
        image_stem, label_stem = SPLIT_FILES[split]
        images = _read_checked(name, image_stem, files[image_stem])
        labels = _read_checked(name, label_stem, files[label_stem])
        if len(images) != len(labels):
            raise DatasetIntegrityError(
                f"{files[image_stem]} holds {len(images)} images but {files[label_stem]} "
                f"holds {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise DatasetIntegrityError(
                f"{files[label_stem]}: labels must be 0 to 9, found {labels.max()}")
        if flatten:
            images = images.reshape(len(images), -1)
        if as_float:
            images = np.divide(images, np.float32(255), dtype=np.float32)
        result.append((images, labels))
    return tuple(result) if subset == "both" else result[0]


def load_mnist(path=None, *, subset="both", as_float=False, flatten=False, download=True,
               base_url=None):
    """Load the MNIST handwritten digits, searching local folders before downloading.

    Parameters
    ----------
    path : str, path-like or None
        A folder holding the IDX files, or a ``mnist`` sub-folder that
        holds them; searched first.
    subset : {"both", "train", "test"}, default="both"
        Which split(s) to load.  Only the files of the requested split are
        needed, so ``subset="test"`` works without the training files.
    as_float : bool, default=False
        Return images as float32 scaled to [0, 1] instead of uint8.
    flatten : bool, default=False
        Return images of shape (n_samples, 784) instead of (n_samples, 28, 28).
    download : bool, default=True
        Download missing files into the user cache.  The environment
        variable ``NNFAST_OFFLINE=1`` turns downloading off as well.
    base_url : str or None
        Folder URL to download the ``*.gz`` files from; by default
        ``$NNFAST_DATASETS_URL/mnist/`` when that variable is set, else
        https://ossci-datasets.s3.amazonaws.com/mnist/.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuples
        When ``subset="both"``.  Images are ndarray of shape
        (n_samples, 28, 28) (or (n_samples, 784) with ``flatten=True``),
        uint8 (or float32 with ``as_float=True``); labels are uint8 ndarray of
        shape (n_samples,) with values 0 to 9.  The training split has 60,000
        samples, the test split 10,000.
    x, y : tuple of ndarray
        When ``subset`` is "train" or "test": that split only.

    Raises
    ------
    DatasetNotFoundError
        If the files are in none of the searched folders and could not be
        downloaded; the message lists every folder and what was missing.
    DatasetIntegrityError
        If a file does not match its known digest, or a download does not.

    Notes
    -----
    Folders are searched in the order of :func:`dataset_search_path`:
    ``path``, ``$NNFAST_DATA/mnist``, ``$NNFAST_DATA``, the user cache
    (``$NNFAST_CACHE/mnist``, ``$XDG_CACHE_HOME/nnfast/mnist`` or
    ``~/.cache/nnfast/mnist``), then the system folders
    ``/usr/local/share/datasets/mnist`` and ``/usr/share/datasets/mnist``.
    File names are the standard ones (``train-images-idx3-ubyte.gz`` and so
    on), gzip-compressed or not.

    A file is verified by the SHA-256 of its decompressed content where that
    is recorded in ``FILE_RECORDS``, so re-compressed copies are recognised;
    hashing the decompressed content takes a few hundredths of a second,
    small next to decompressing it.
    No content digest is recorded for the MNIST training files: a local copy
    of them is trusted on the published MD5 when it is the original ``.gz``,
    and otherwise on the structure and shape checks alone.
    Downloads are accepted only if they match the published MD5 of the
    ``.gz`` or the recorded content SHA-256, and land under their final name
    only once verified.  A download stops with ``DatasetIntegrityError`` as
    soon as the server sends more than the published size of the ``.gz``, so
    no server can make it hold more than that.
    Every file must also have the exact IDX structure and shape expected.
    """
    return _load("mnist", path, subset, as_float, flatten, download, base_url)


def load_fashion_mnist(path=None, *, subset="both", as_float=False, flatten=False,
                       download=True, base_url=None):
    """Load Fashion-MNIST (Zalando's article images), searching local folders first.

    Parameters
    ----------
    path : str, path-like or None
        A folder holding the IDX files, or a ``fashion-mnist`` sub-folder that
        holds them; searched first.
    subset : {"both", "train", "test"}, default="both"
        Which split(s) to load.  Only the files of the requested split are
        needed, so ``subset="test"`` works without the training files.
    as_float : bool, default=False
        Return images as float32 scaled to [0, 1] instead of uint8.
    flatten : bool, default=False
        Return images of shape (n_samples, 784) instead of (n_samples, 28, 28).
    download : bool, default=True
        Download missing files into the user cache.  The environment
        variable ``NNFAST_OFFLINE=1`` turns downloading off as well.
    base_url : str or None
        Folder URL to download the ``*.gz`` files from; by default
        ``$NNFAST_DATASETS_URL/fashion-mnist/`` when that variable is set,
        else http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuples
        When ``subset="both"``.  Images are ndarray of shape
        (n_samples, 28, 28) (or (n_samples, 784) with ``flatten=True``),
        uint8 (or float32 with ``as_float=True``); labels are uint8 ndarray of
        shape (n_samples,) with values 0 to 9.  The training split has 60,000
        samples, the test split 10,000.
    x, y : tuple of ndarray
        When ``subset`` is "train" or "test": that split only.

    Raises
    ------
    DatasetNotFoundError
        If the files are in none of the searched folders and could not be
        downloaded; the message lists every folder and what was missing.
    DatasetIntegrityError
        If a file does not match its known digest, or a download does not.

    Notes
    -----
    Folders are searched in the order of :func:`dataset_search_path`:
    ``path``, ``$NNFAST_DATA/fashion-mnist``, ``$NNFAST_DATA``, the user
    cache (``$NNFAST_CACHE/fashion-mnist``,
    ``$XDG_CACHE_HOME/nnfast/fashion-mnist`` or
    ``~/.cache/nnfast/fashion-mnist``), then the system folders
    ``/usr/local/share/datasets/fashion-mnist`` and
    ``/usr/share/datasets/fashion-mnist``, where Debian's
    ``dataset-fashion-mnist`` package installs the files.
    File names are the standard ones (``train-images-idx3-ubyte.gz`` and so
    on), gzip-compressed or not.

    A file is verified by the SHA-256 of its decompressed content where that
    is recorded in ``FILE_RECORDS``, so re-compressed copies are recognised;
    hashing the decompressed content takes a few hundredths of a second,
    small next to decompressing it.
    Content digests are recorded for all four Fashion-MNIST files.
    Downloads are accepted only if they match the published MD5 of the
    ``.gz`` or the recorded content SHA-256, and land under their final name
    only once verified.  A download stops with ``DatasetIntegrityError`` as
    soon as the server sends more than the published size of the ``.gz``, so
    no server can make it hold more than that.
    Every file must also have the exact IDX structure and shape expected.
    """
    return _load("fashion-mnist", path, subset, as_float, flatten, download, base_url)
