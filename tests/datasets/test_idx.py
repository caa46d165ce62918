import gzip
import io
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfast.datasets import IDX_DTYPES, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(0,), (7,), (3, 5), (2, 3, 4), (2, 1, 3, 2), (1, 2, 1, 2, 1)]


def _header(code, shape):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, dtype, shape, compress):
    original = _sample(dtype, shape)
    path = tmp_path / "array.idx"
    write_idx(path, original, compress=compress)
    assert path.read_bytes().startswith(b"\x1f\x8b") == compress
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, original)
    assert result.flags.c_contiguous and result.flags.writeable


def test_layout_matches_the_format():
    array = np.array([[1, 2, 3], [256, -1, 7]], dtype=np.int16)
    buf = io.BytesIO()
    write_idx(buf, array, compress=False)
    expected = _header(0x0B, (2, 3)) + array.astype(">i2").tobytes()
    assert buf.getvalue() == expected


def test_every_documented_type_code():
    assert sorted(IDX_DTYPES) == [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]
    for code, dtype in IDX_DTYPES.items():
        values = np.arange(6).astype(dtype)
        data = _header(code, (2, 3)) + values.tobytes()
        result = read_idx(io.BytesIO(data))
        np.testing.assert_array_equal(result, np.arange(6).reshape(2, 3))
        assert result.dtype == dtype.newbyteorder("=")


def test_file_objects_and_non_contiguous_input(tmp_path):
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    view = base[:, ::2]
    buf = io.BytesIO()
    write_idx(buf, view)
    buf.seek(0)
    np.testing.assert_array_equal(read_idx(buf), view)
    swapped = base.astype(">f4")
    write_idx(tmp_path / "swapped", swapped)
    np.testing.assert_array_equal(read_idx(tmp_path / "swapped"), base)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    compressed = tmp_path / "plain-looking.idx"
    raw = tmp_path / "looks-compressed.gz"
    write_idx(compressed, array, compress=True)
    write_idx(raw, array, compress=False)
    np.testing.assert_array_equal(read_idx(compressed), array)
    np.testing.assert_array_equal(read_idx(raw), array)


def test_compressed_output_is_deterministic(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_write_replaces_atomically_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(b"old")
    write_idx(path, np.zeros(3, dtype=np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["x.idx"]
    with pytest.raises(TypeError):
        write_idx(path, np.zeros(3, dtype=np.uint64))
    assert [p.name for p in tmp_path.iterdir()] == ["x.idx"]
    np.testing.assert_array_equal(read_idx(path), np.zeros(3, dtype=np.uint8))


@pytest.mark.parametrize("array", [np.zeros(3, dtype=np.uint16), np.zeros(3, dtype=bool),
                                   np.zeros(3, dtype=np.complex64), np.array(["a"])])
def test_write_rejects_unsupported_dtypes(array):
    with pytest.raises(TypeError, match="cannot hold dtype"):
        write_idx(io.BytesIO(), array)


def test_write_rejects_scalars():
    with pytest.raises(ValueError, match="at least one dimension"):
        write_idx(io.BytesIO(), np.uint8(3))


def _errors(data, name="bad.idx"):
    """Return the ValueError message read_idx gives for ``data``."""
    with pytest.raises(ValueError) as info:
        read_idx(_Named(data, name))
    return str(info.value)


class _Named(io.BytesIO):
    def __init__(self, data, name):
        super().__init__(data)
        self.name = name


def test_bad_magic():
    message = _errors(b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05")
    assert "bad.idx" in message and "not an IDX file" in message


def test_unknown_type_code():
    message = _errors(_header(0x0A, (1,)) + b"\x00")
    assert "unsupported IDX element type 0x0A" in message


def test_zero_dimensions():
    assert "0 dimensions" in _errors(b"\x00\x00\x08\x00\x07")


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x08"])
def test_too_short_for_a_header(data):
    assert "too short" in _errors(data)


def test_truncated_dimension_list():
    message = _errors(_header(0x08, (2, 3))[:10])
    assert "truncated IDX header" in message and "12 header bytes" in message


def test_truncated_payload_names_file_and_sizes(tmp_path):
    path = tmp_path / "short-images-idx3-ubyte"
    path.write_bytes(_header(0x08, (2, 2, 2)) + bytes(7))
    with pytest.raises(ValueError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "truncated" in message and "(2, 2, 2)" in message
    assert "needs 24 bytes" in message and "holds 23" in message


def test_trailing_bytes():
    message = _errors(_header(0x0C, (2,)) + bytes(9))
    assert "trailing bytes" in message and "needs 16 bytes" in message


def test_dimensions_that_disagree_with_the_payload():
    assert "truncated" in _errors(_header(0x08, (60000, 28, 28)) + bytes(784))


def test_damaged_gzip_stream(tmp_path):
    good = gzip.compress(_header(0x08, (4,)) + bytes(4))
    path = tmp_path / "broken.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="broken.gz.*gzip"):
        read_idx(path)


def test_text_mode_file_is_rejected(tmp_path):
    path = tmp_path / "x"
    path.write_text("abc")
    with open(path) as handle, pytest.raises(TypeError, match="binary mode"):
        read_idx(handle)


def _check_read(data):
    """read_idx either returns an array that the header fully explains, or raises ValueError."""
    try:
        result = read_idx(io.BytesIO(data))
    except ValueError:
        return None
    payload = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    ndim = payload[3]
    shape = struct.unpack(f">{ndim}I", payload[4:4 + 4 * ndim])
    assert result.shape == shape
    assert len(payload) == 4 + 4 * ndim + result.size * result.dtype.itemsize
    return result


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_random_bytes(data):
    _check_read(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(IDX_DTYPES)),
       st.lists(st.integers(0, 4), min_size=1, max_size=4),
       st.binary(max_size=4096),
       st.booleans())
def test_fuzz_header_with_random_payload(code, shape, payload, compress):
    data = _header(code, tuple(shape)) + payload
    if compress:
        data = gzip.compress(data)
    _check_read(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(DTYPES),
       st.lists(st.integers(1, 5), min_size=1, max_size=3),
       st.data(),
       st.booleans())
def test_fuzz_truncation_and_extension(dtype, shape, data, compress):
    buf = io.BytesIO()
    write_idx(buf, _sample(dtype, tuple(shape)), compress=compress)
    good = buf.getvalue()
    cut = data.draw(st.integers(0, len(good) - 1), label="cut")
    with pytest.raises(ValueError):
        read_idx(io.BytesIO(good[:cut]))
    extra = data.draw(st.binary(min_size=1, max_size=8), label="extra")
    tail = gzip.compress(extra) if compress else extra
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(io.BytesIO(good + tail))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=5, max_size=40), st.data())
def test_fuzz_corrupted_valid_file(payload, data):
    good = _header(0x08, (len(payload),)) + payload
    position = data.draw(st.integers(0, len(good) - 1))
    value = data.draw(st.integers(0, 255))
    corrupted = bytearray(good)
    corrupted[position] = value
    result = _check_read(bytes(corrupted))
    if position >= 8 and result is not None:
        assert result[position - 8] == value
