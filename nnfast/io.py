"""Model files: a model's configuration and learned arrays in one file.

A model file holds the model's class name and hyperparameters as JSON and
every array the model needs (weights, biases, optimizer state) as raw
little-endian bytes.  Nothing in a file is unpickled or executed, so the worst
a damaged or hostile file can do is make :func:`load_model` raise
:class:`ModelFileError`.

Making a class saveable
-----------------------
A class implements ``_get_state()``, returning ``(config, arrays)``, and the
classmethod ``_from_state(config, arrays)``, which rebuilds an instance from
them, and is decorated with :func:`register_model`.  ``config`` is a dict that
JSON can hold (see :func:`save_model` for the conversions applied);
``arrays`` maps names (any non-empty string, ``"layers/0/W"`` included) to
arrays of a boolean, integer, floating or complex dtype.

File layout (format version 1)
------------------------------
All integers are little-endian::

    offset   size  content
    0        6     magic bytes b"NNFAST"
    6        2     format version (uint16)
    8        8     header length H in bytes (uint64)
    16       32    SHA-256 digest of the H header bytes
    48       H     header: a UTF-8 JSON object, padded with spaces so that the
                   payload starts at a multiple of 64 bytes
    48 + H   P     payload: the bytes of each array in C order, each array
                   starting at a multiple of 64 bytes from the start of the
                   payload, with zero bytes in the gaps

The file ends where the payload ends.  The header object has the keys

``class``
    Name under which the model class is registered.
``config``
    The model's configuration (a JSON object).  Non-finite floats are written
    as ``NaN``, ``Infinity`` and ``-Infinity``, as Python's ``json`` does.
``nnfast_version``
    Version of nnfast that wrote the file.
``payload_nbytes``
    P, the size of the payload in bytes.
``arrays``
    One object per array, in the order the model gave them: ``name``,
    ``dtype`` (a numpy dtype name such as ``"float32"`` or ``"bool"``),
    ``shape`` (list of int), ``offset`` (from the start of the payload),
    ``nbytes`` and ``sha256`` (hex digest of the array's bytes).

Readers ignore header keys they do not know; a change that an older reader
could not handle increases the format version.  Every byte of a file is
checked when it is read: the header against its digest, each array against
its own digest, the gaps for zeros, and all declared sizes against the size of
the file before any memory is allocated for them.

Examples
--------
>>> import numpy as np
>>> from nnfast.io import register_model, save_model, load_model
>>> @register_model
... class Scaler:
...     def __init__(self, factor):
...         self.factor = factor
...         self.offsets_ = None
...     def _get_state(self):
...         return {"factor": self.factor}, {"offsets": self.offsets_}
...     @classmethod
...     def _from_state(cls, config, arrays):
...         model = cls(config["factor"])
...         model.offsets_ = arrays["offsets"]
...         return model
>>> model = Scaler(2.0)
>>> model.offsets_ = np.arange(3, dtype=np.float32)
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "scaler.nnf")
>>> save_model(model, path)
>>> load_model(path).offsets_
array([0., 1., 2.], dtype=float32)
"""
import collections
import contextlib
import hashlib
import importlib
import json
import math
import os
import secrets
import struct
from collections.abc import Mapping

import numpy as np

from ._version import __version__

__all__ = ["FORMAT_VERSION", "ModelFileError", "load_model", "read_model_file",
           "register_model", "save_model"]

FORMAT_VERSION = 1
"""Newest file format version this nnfast writes and reads."""

MAGIC = b"NNFAST"
_PREFIX = struct.Struct("<6sHQ32s")
_ALIGN = 64
_MAX_NDIM = 32
_CHUNK = 1 << 20
_DTYPES = frozenset([
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
])

_registry = {}
_names = {}


class ModelFileError(ValueError):
    """Raised when a file cannot be read as an nnfast model file.

    The message names the file and what is wrong with it: not a model file,
    truncated, corrupted, written in a newer format, or holding a model class
    that is not registered.
    """


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------

def register_model(name=None):
    """Register a model class so that :func:`load_model` can rebuild it.

    Usable bare (``@register_model``, registering under the class name),
    with no arguments (``@register_model()``) or with an explicit name
    (``@register_model("MLPClassifier")``).

    Parameters
    ----------
    name : str or type, optional
        Name written into model files for this class.  Defaults to the class's
        ``__name__``.

    Returns
    -------
    type or callable
        The class itself when used bare, otherwise a decorator that registers
        and returns the class.

    Raises
    ------
    TypeError
        If the class lacks ``_get_state`` or a ``_from_state`` classmethod, or
        ``name`` is not a non-empty string.
    ValueError
        If ``name`` is already taken by a different class.
    """
    if isinstance(name, type):
        return _register(name, name.__name__)
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"register_model takes a non-empty class name, got {name!r}")

    def decorate(cls):
        return _register(cls, cls.__name__ if name is None else name)

    return decorate


def _register(cls, name):
    if not isinstance(cls, type):
        raise TypeError(f"register_model decorates classes, got {cls!r}")
    missing = [m for m in ("_get_state", "_from_state") if not callable(getattr(cls, m, None))]
    if missing:
        raise TypeError(f"{cls.__qualname__} cannot be registered: it does not define "
                        f"{' or '.join(missing)}")
    previous = _registry.get(name)
    if previous is not None and previous is not cls:
        # Re-executing the defining module (a reload) creates a new class object
        # for the same definition; that replaces the old entry.
        same = (previous.__module__, previous.__qualname__) == (cls.__module__, cls.__qualname__)
        if not same:
            raise ValueError(f"model name {name!r} is already registered to "
                             f"{previous.__module__}.{previous.__qualname__}")
        _names.pop(previous, None)
    _registry[name] = cls
    _names[cls] = name
    return cls


def _lookup(path, name):
    cls = _registry.get(name)
    if cls is None:
        # The built-in models register themselves when their package is imported.
        importlib.import_module(f"{__package__}.models")
        cls = _registry.get(name)
    if cls is None:
        known = ", ".join(sorted(_registry)) or "none"
        raise ModelFileError(
            f"{path!r} holds a model of class {name!r}, which is not registered; "
            f"registered classes: {known}.  Import the module that defines {name!r} "
            f"before loading")
    return cls


# --------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------

def save_model(model, path):
    """Write ``model`` to ``path`` as an nnfast model file.

    The file is first written to a temporary file in the same directory,
    flushed to disk and then moved over ``path`` in one step, so ``path``
    either keeps its previous contents or holds the complete new file, even
    if saving fails or is interrupted.

    Parameters
    ----------
    model : object
        Instance of a class registered with :func:`register_model`.
    path : str or os.PathLike
        Destination.  It is used exactly as given; no suffix is added.

    Raises
    ------
    TypeError
        If the model's class is not registered, or its state holds a config
        value that JSON cannot represent (the message names the key), an
        array of an unsupported dtype, or a name that is not a string.

    Notes
    -----
    Config values are converted as follows: numpy integer, floating and bool
    scalars become Python ``int``, ``float`` and ``bool``; tuples and numeric
    numpy arrays become (nested) lists; dicts must have string keys.  So
    ``_from_state`` receives lists where ``_get_state`` gave tuples.  Arrays
    may be any array-like of a bool, integer, floating or complex dtype,
    including cupy arrays; they are stored little-endian in C order.
    """
    path = _fspath(path)
    name = _names.get(type(model))
    if name is None:
        raise TypeError(f"{type(model).__qualname__} is not a registered model class; "
                        f"decorate it with @register_model so that load_model can rebuild it")
    state = model._get_state()
    if not (isinstance(state, tuple) and len(state) == 2):
        raise TypeError(f"{type(model).__qualname__}._get_state must return a (config, arrays) "
                        f"tuple, got {type(state).__name__}")
    config, arrays = state
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    config = _to_json(config, "config")
    prepared = _prepare_arrays(arrays)

    entries = []
    offset = 0
    for array_name, arr in prepared:
        offset += -offset % _ALIGN
        entries.append({
            "name": array_name,
            "dtype": arr.dtype.name,
            "shape": list(arr.shape),
            "offset": offset,
            "nbytes": arr.nbytes,
            "sha256": hashlib.sha256(_bytes_of(arr)).hexdigest(),
        })
        offset += arr.nbytes
    header = {
        "class": name,
        "nnfast_version": __version__,
        "config": config,
        "payload_nbytes": offset,
        "arrays": entries,
    }
    text = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    text += b" " * (-(_PREFIX.size + len(text)) % _ALIGN)
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(text), hashlib.sha256(text).digest())

    def write(f):
        f.write(prefix)
        f.write(text)
        _write_payload(f, prepared, entries)

    _atomic_write(path, write)


def _to_json(value, where):
    """Return ``value`` converted to plain JSON types; ``where`` names it in errors."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where} is an array of dtype {value.dtype}, which cannot be "
                            f"written as JSON; store it as an array instead")
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r} of type {type(key).__name__}; "
                                f"config keys must be strings")
            out[str(key)] = _to_json(v, f"{where}[{key!r}]")
        return out
    raise TypeError(f"{where} = {_short_repr(value)} of type {type(value).__name__} "
                    f"is not JSON-serialisable")


def _short_repr(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _prepare_arrays(arrays):
    """Return ``[(name, little-endian C-contiguous ndarray), ...]`` or raise TypeError."""
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a dict of name -> array, got {type(arrays).__name__}")
    prepared = []
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"array names must be non-empty strings, got {name!r}")
        if hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):
            value = value.get()
        arr = np.asarray(value)
        if arr.dtype.name not in _DTYPES:
            raise TypeError(f"array {name!r} has dtype {arr.dtype}; only bool, integer, "
                            f"floating and complex dtypes can be saved")
        arr = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")
        prepared.append((str(name), arr))
    return prepared


def _bytes_of(arr):
    """Return a 1-D uint8 view of the C-contiguous array ``arr``."""
    return arr.reshape(-1).view(np.uint8)


def _write_payload(f, prepared, entries):
    position = 0
    for (_, arr), entry in zip(prepared, entries):
        f.write(bytes(entry["offset"] - position))
        f.write(_bytes_of(arr))
        position = entry["offset"] + entry["nbytes"]


def _atomic_write(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    tmp, fd = _create_temp(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _create_temp(directory, base):
    # os.open with mode 0o666 lets the umask decide the permissions, as for any
    # newly created file (tempfile.mkstemp would force 0o600).
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL
             | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    for _ in range(100):
        tmp = os.path.join(directory, f".{base[:100]}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory!r}")


def _fsync_directory(directory):
    """Make the rename durable where the platform allows syncing a directory."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fspath(path):
    path = os.fspath(path)
    return os.fsdecode(path) if isinstance(path, bytes) else path


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

def load_model(path, device=None):
    """Read a model written by :func:`save_model`.

    Files hold plain arrays, whatever backend wrote them, so a model saved
    from the GPU loads on the CPU and the reverse.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    device : {'cpu', 'numpy', 'gpu'} or None
        Where the loaded model lives.  None keeps an estimator's own
        ``device`` parameter as saved (a :class:`~nnfast.Sequential` goes to
        the current backend); a name overrides it, so that a model trained
        on a GPU can be used on a machine without one.

    Returns
    -------
    object
        A new instance of the class named in the file, built by its
        ``_from_state``.

    Raises
    ------
    ModelFileError
        If the file is not an nnfast model file, is truncated or corrupted,
        was written in a newer format version, names a class that is not
        registered, or holds a state that the class cannot be rebuilt from.
    OSError
        If the file cannot be opened or read.
    """
    path = _fspath(path)
    if device is not None:
        from .backend import get_ops

        get_ops(device)  # an unknown or unavailable device fails here, before the file is read
    class_name, config, arrays, metadata = read_model_file(path)
    cls = _lookup(path, class_name)
    if device is not None and isinstance(config.get("params"), dict) and "device" in config["params"]:
        config = {**config, "params": {**config["params"], "device": device}}
    try:
        if device is None:
            return cls._from_state(config, arrays)
        from .backend import use_backend

        with use_backend(device):
            return cls._from_state(config, arrays)
    except Exception as exc:
        raise ModelFileError(
            f"{path!r} (written by nnfast {metadata['nnfast_version']}) does not hold a valid "
            f"{class_name} state: {type(exc).__name__}: {exc}") from exc


def read_model_file(path):
    """Read and check a model file without building the model.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    class_name : str
        Name under which the model class was registered.
    config : dict
        The model's configuration, as decoded from JSON.
    arrays : dict of str to ndarray
        The arrays, in the order they were saved; each is a new writable,
        C-contiguous array of the saved dtype (native byte order) and shape.
    metadata : dict
        ``format_version`` (int), ``nnfast_version`` (str, the version that
        wrote the file), ``header_sha256`` (str) and ``file_size`` (int).

    Raises
    ------
    ModelFileError
        If the file is not a complete, intact nnfast model file of a format
        version this nnfast can read.
    OSError
        If the file cannot be opened or read.
    """
    path = _fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        version, header_len, digest = _read_prefix(path, f.read(_PREFIX.size))
        if header_len > size - _PREFIX.size:
            raise ModelFileError(
                f"{path!r} is truncated: its header should be {header_len} bytes long but only "
                f"{size - _PREFIX.size} bytes follow the {_PREFIX.size}-byte prefix")
        header_bytes = _read_exact(path, f, header_len)
        if hashlib.sha256(header_bytes).digest() != digest:
            raise ModelFileError(f"{path!r} is corrupted: the header does not match its "
                                 f"SHA-256 digest")
        class_name, config, writer, payload_nbytes, entries = _parse_header(path, header_bytes)
        expected = _PREFIX.size + header_len + payload_nbytes
        if size < expected:
            raise ModelFileError(f"{path!r} is truncated: it should be {expected} bytes long "
                                 f"but is {size} bytes")
        if size > expected:
            raise ModelFileError(f"{path!r} is corrupted: it has {size - expected} unexpected "
                                 f"bytes after the end of its payload")
        arrays = _read_payload(path, f, entries, payload_nbytes)
    metadata = {
        "format_version": version,
        "nnfast_version": writer,
        "header_sha256": digest.hex(),
        "file_size": size,
    }
    return class_name, config, arrays, metadata


def _read_prefix(path, prefix):
    if not prefix:
        raise ModelFileError(f"{path!r} is empty, not an nnfast model file")
    head = prefix[:len(MAGIC)]
    if head != MAGIC[:len(head)]:
        raise ModelFileError(f"{path!r} is not an nnfast model file: it starts with "
                             f"{prefix[:8]!r} instead of {MAGIC!r}")
    if len(prefix) < _PREFIX.size:
        raise ModelFileError(f"{path!r} is truncated: it is {len(prefix)} bytes long, shorter "
                             f"than the {_PREFIX.size}-byte prefix of a model file")
    _, version, header_len, digest = _PREFIX.unpack(prefix)
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} was written by a newer nnfast, format version {version}; this version "
            f"reads up to {FORMAT_VERSION} (nnfast {__version__}).  Upgrade nnfast to load it")
    if version < 1:
        raise ModelFileError(f"{path!r} declares format version {version}, which does not exist")
    return version, header_len, digest


def _read_exact(path, f, n):
    data = f.read(n)
    if len(data) != n:
        raise ModelFileError(f"{path!r} is truncated: it ended while being read")
    return data


def _reject_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


_Entry = collections.namedtuple("_Entry", "name dtype shape offset nbytes sha256")


def _is_count(value):
    """True for a JSON integer >= 0 (not a bool, not a float)."""
    return type(value) is int and value >= 0


def _parse_header(path, header_bytes):
    """Decode and check the header; nothing the file declares is allocated here."""
    def bad(what):
        return ModelFileError(f"{path!r} is corrupted: {what}")

    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path!r} has a malformed JSON header: {exc}") from None
    if not isinstance(header, dict):
        raise bad(f"the header is a JSON {type(header).__name__}, not an object")
    for key, kind, json_name in (("class", str, "string"), ("nnfast_version", str, "string"),
                                 ("config", dict, "object"), ("payload_nbytes", int, "integer"),
                                 ("arrays", list, "array")):
        if key not in header:
            raise bad(f"the header has no {key!r} field")
        if type(header[key]) is not kind:
            raise bad(f"the header field {key!r} is not a JSON {json_name}")
    if not header["class"]:
        raise bad("the header names no model class")
    payload_nbytes = header["payload_nbytes"]
    if payload_nbytes < 0:
        raise bad(f"the payload size {payload_nbytes} is negative")

    entries = []
    seen = set()
    for i, item in enumerate(header["arrays"]):
        where = f"array entry {i}"
        if not isinstance(item, dict):
            raise bad(f"{where} is not a JSON object")
        missing = [k for k in _Entry._fields if k not in item]
        if missing:
            raise bad(f"{where} has no {missing[0]!r} field")
        name = item["name"]
        if not isinstance(name, str) or not name:
            raise bad(f"{where} has no valid name")
        if name in seen:
            raise bad(f"the array name {name!r} appears twice")
        seen.add(name)
        where = f"array {name!r}"
        dtype_name = item["dtype"]
        if not isinstance(dtype_name, str) or dtype_name not in _DTYPES:
            raise bad(f"{where} has the unsupported dtype {_short_repr(dtype_name)}")
        dtype = np.dtype(dtype_name).newbyteorder("<")
        shape = item["shape"]
        if not (isinstance(shape, list) and len(shape) <= _MAX_NDIM
                and all(_is_count(n) for n in shape)):
            raise bad(f"{where} has an invalid shape {_short_repr(shape)}")
        if math.prod(n for n in shape if n) * dtype.itemsize > np.iinfo(np.intp).max:
            raise bad(f"{where} has a shape too large for any array")
        offset, nbytes, digest = item["offset"], item["nbytes"], item["sha256"]
        if not (_is_count(offset) and _is_count(nbytes)):
            raise bad(f"{where} has an invalid offset or size")
        if nbytes != math.prod(shape) * dtype.itemsize:
            raise bad(f"{where} declares {nbytes} bytes, but shape {tuple(shape)} of "
                      f"{dtype_name} takes {math.prod(shape) * dtype.itemsize}")
        if offset + nbytes > payload_nbytes:
            raise bad(f"{where} extends past the end of the {payload_nbytes}-byte payload")
        if not (isinstance(digest, str) and len(digest) == 64
                and all(c in "0123456789abcdef" for c in digest)):
            raise bad(f"{where} has an invalid SHA-256 digest")
        entries.append(_Entry(name, dtype, tuple(shape), offset, nbytes, digest))

    ordered = sorted(entries, key=lambda e: (e.offset, e.nbytes))
    for before, after in zip(ordered, ordered[1:]):
        if after.offset < before.offset + before.nbytes:
            raise bad(f"arrays {before.name!r} and {after.name!r} overlap")
    return header["class"], header["config"], header["nnfast_version"], payload_nbytes, entries


def _skip_zeros(path, f, n):
    """Read ``n`` bytes of padding, which must all be zero."""
    while n > 0:
        chunk = _read_exact(path, f, min(n, _CHUNK))
        if chunk.count(0) != len(chunk):
            raise ModelFileError(f"{path!r} is corrupted: the padding between arrays is not zero")
        n -= len(chunk)


def _read_payload(path, f, entries, payload_nbytes):
    loaded = {}
    position = 0
    for entry in sorted(entries, key=lambda e: (e.offset, e.nbytes)):
        _skip_zeros(path, f, entry.offset - position)
        arr = np.empty(entry.shape, dtype=entry.dtype)
        view = memoryview(_bytes_of(arr))
        done = 0
        while done < entry.nbytes:
            got = f.readinto(view[done:])
            if not got:
                raise ModelFileError(f"{path!r} is truncated: it ended while being read")
            done += got
        if hashlib.sha256(view).hexdigest() != entry.sha256:
            raise ModelFileError(f"{path!r} is corrupted: array {entry.name!r} does not match "
                                 f"its SHA-256 digest")
        if entry.dtype.kind == "b" and entry.nbytes and int(_bytes_of(arr).max()) > 1:
            raise ModelFileError(f"{path!r} is corrupted: bool array {entry.name!r} holds "
                                 f"values other than 0 and 1")
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        loaded[entry.name] = arr
        position = entry.offset + entry.nbytes
    _skip_zeros(path, f, payload_nbytes - position)
    return {entry.name: loaded[entry.name] for entry in entries}
