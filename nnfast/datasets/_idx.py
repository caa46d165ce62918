"""Reading and writing IDX files, the format MNIST and Fashion-MNIST use.

An IDX file is a four-byte magic number, one big-endian 32-bit unsigned size
per dimension, then the elements in C order, big-endian::

    0x00 0x00 <type code> <number of dimensions>
    <size 0> <size 1> ... <size ndim-1>      (uint32, big-endian)
    <data>

Files may be gzip-compressed; compression is recognised by the gzip magic
bytes, never by the file name.
"""
import contextlib
import gzip
import os
import struct
import tempfile
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]

#: Element types of the IDX format, by type code, as big-endian numpy dtypes.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**32 - 1


def _source_name(source):
    """Return a printable name for a path or a file object."""
    if isinstance(source, (str, bytes, os.PathLike)):
        return os.fsdecode(source)
    name = getattr(source, "name", None)
    if isinstance(name, (str, bytes)):
        return os.fsdecode(name)
    return f"<{type(source).__name__} object>"


def _read_bytes(source):
    """Return the whole content of ``source`` (a path or a binary file object)."""
    if isinstance(source, (str, bytes, os.PathLike)):
        with open(source, "rb") as handle:
            return handle.read()
    if not hasattr(source, "read"):
        raise TypeError(f"expected a path or a binary file object, got {type(source).__name__}")
    data = source.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{_source_name(source)} must be opened in binary mode")
    return bytes(data)


def _decompress(data, name):
    """Gunzip ``data`` when it starts with the gzip magic bytes.

    Returns ``(payload, was_compressed)``; a damaged or truncated gzip stream
    raises ``ValueError``.
    """
    if not data.startswith(_GZIP_MAGIC):
        return data, False
    try:
        return gzip.decompress(data), True
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{name}: damaged or truncated gzip data ({exc})") from None


def _parse_idx(payload, name):
    """Decode the IDX bytes ``payload`` into a native-endian array.

    Parameters
    ----------
    payload : bytes
        Uncompressed IDX content.
    name : str
        File name used in error messages.

    Returns
    -------
    ndarray of shape given by the header
        A writable, C-contiguous copy in native byte order.
    """
    if len(payload) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(payload)} bytes, "
                         "expected at least 4)")
    zero0, zero1, code, ndim = payload[0], payload[1], payload[2], payload[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(f"{name}: not an IDX file (magic number {payload[:4].hex()}, "
                         "expected 0000 followed by a type code and a dimension count)")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unsupported IDX element type 0x{code:02X} (supported: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions, expected at least 1")
    header_len = 4 + 4 * ndim
    if len(payload) < header_len:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need "
                         f"{header_len} header bytes, the file has {len(payload)}")
    shape = struct.unpack(f">{ndim}I", payload[4:header_len])
    dtype = IDX_DTYPES[code]
    count = 1
    for size in shape:
        count *= size
    expected = header_len + count * dtype.itemsize
    if len(payload) != expected:
        what = "truncated" if len(payload) < expected else "trailing bytes after the data"
        raise ValueError(
            f"{name}: {what}: header declares shape {shape} of {dtype.newbyteorder('=').name}, "
            f"which needs {expected} bytes in all, but the file holds {len(payload)}")
    flat = np.frombuffer(payload, dtype=dtype, count=count, offset=header_len)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def read_idx(source):
    """Read an IDX file, gzip-compressed or not.

    Parameters
    ----------
    source : str, path-like or binary file object
        The file to read.  Gzip compression is detected from the first two
        bytes (``1f 8b``), so the name does not matter.

    Returns
    -------
    ndarray of shape (d0, d1, ...)
        The array, with the shape from the header and the dtype from the
        type code (uint8, int8, int16, int32, float32 or float64), in native
        byte order, writable and C-contiguous.

    Raises
    ------
    ValueError
        If the content is not a well-formed IDX file: wrong magic number,
        unknown type code, zero dimensions, truncated header or a payload
        whose length differs from what the header declares (truncated or
        with trailing bytes), or damaged gzip data.  The message names the
        file.

    Examples
    --------
    >>> import io, numpy as np
    >>> buf = io.BytesIO()
    >>> write_idx(buf, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> _ = buf.seek(0)
    >>> read_idx(buf)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    name = _source_name(source)
    payload, _ = _decompress(_read_bytes(source), name)
    return _parse_idx(payload, name)


def _encode_idx(array):
    """Return the uncompressed IDX bytes of ``array``."""
    arr = np.asarray(array)
    code = _CODE_OF_KIND.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        names = ", ".join(dt.newbyteorder("=").name for dt in IDX_DTYPES.values())
        raise TypeError(f"IDX files cannot hold dtype {arr.dtype}; supported: {names}")
    if arr.ndim == 0:
        raise ValueError("IDX files hold arrays with at least one dimension, got a 0-d array")
    if arr.ndim > 255:
        raise ValueError(f"IDX files hold at most 255 dimensions, got {arr.ndim}")
    if any(size > _MAX_DIM for size in arr.shape):
        raise ValueError(f"IDX dimensions are at most {_MAX_DIM}, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    body = np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    return header + body


def write_idx(destination, array, compress=True):
    """Write ``array`` as an IDX file.

    Parameters
    ----------
    destination : str, path-like or binary file object
        Where to write.  A path is written atomically: the data goes to a
        temporary file in the same folder, which then replaces
        ``destination``.
    array : array-like of shape (d0, d1, ...)
        Data of dtype uint8, int8, int16, int32, float32 or float64, with at
        least one dimension and every size below 2**32.
    compress : bool, default=True
        Gzip the file (deterministically: the gzip header carries no time
        stamp, so equal arrays give equal files).

    Raises
    ------
    TypeError
        If the dtype has no IDX type code.
    ValueError
        If the array is 0-d, has more than 255 dimensions, or a size that
        does not fit in 32 bits.
    """
    data = _encode_idx(array)
    if compress:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    if not isinstance(destination, (str, bytes, os.PathLike)):
        destination.write(data)
        return
    with atomic_output(destination) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_output(path, mode=0o644):
    """Open a temporary file next to ``path`` that replaces it on success.

    Parameters
    ----------
    path : str or path-like
        Final location.  Its folder must exist.
    mode : int, default=0o644
        Permission bits of the finished file.

    Yields
    ------
    file object
        A binary file open for writing.  When the ``with`` block ends
        without an exception the file is closed and moved onto ``path`` with
        ``os.replace`` (so readers see either the old file or the complete
        new one); otherwise it is deleted.
    """
    path = os.fsdecode(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
