"""Model files: round trips, atomic writes, and rejection of bad files."""
import hashlib
import json
import math
import os
import pathlib
import pickle
import struct
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnfast.io as nio
from nnfast.io import (
    FORMAT_VERSION, ModelFileError, load_model, read_model_file, register_model, save_model,
)

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@register_model("IoTestModel")
class TinyModel:
    """Holds whatever config and arrays it is given."""

    def __init__(self, config=None, arrays=None):
        self.config = {} if config is None else config
        self.arrays = {} if arrays is None else arrays

    def _get_state(self):
        return self.config, self.arrays

    @classmethod
    def _from_state(cls, config, arrays):
        return cls(config, arrays)


def sample_model():
    arrays = {
        "layers/0/W": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
        "layers/0/b": np.array([-1.5, 0.0, np.inf]),
        "mask": np.array([True, False, True, True]),
        "steps": np.array(12345678901, dtype=np.int64),
        "pixels": np.array([[0, 255], [7, 128]], dtype=np.uint8),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "optimizer/m/layers/0/W": np.full((2, 3), -0.25, dtype=np.float64),
    }
    config = {"alpha": 0.5, "hidden": [3], "activation": "relu", "seed": None, "shuffle": True}
    return TinyModel(config, arrays)


# The reference file is written once per session.  It is small (about 1 KiB) so
# that every byte and every cut point of it can be tried.
_SMALL = {}


def small_file_bytes(tmp_dir):
    if "data" not in _SMALL:
        path = tmp_dir / "small.nnf"
        save_model(sample_model(), path)
        _SMALL["data"] = path.read_bytes()
    return _SMALL["data"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("io")


@pytest.fixture(scope="module")
def small(scratch):
    return small_file_bytes(scratch)


def load_bytes(data, directory, name="candidate.nnf"):
    path = directory / name
    path.write_bytes(data)
    return load_model(path)


def split(data):
    """Split a file into (version, header dict, payload) following the documented layout."""
    magic, version, header_len, digest = struct.unpack_from("<6sHQ32s", data)
    assert magic == b"NNFAST"
    header_bytes = data[48:48 + header_len]
    assert hashlib.sha256(header_bytes).digest() == digest
    return version, json.loads(header_bytes), data[48 + header_len:]


def pack(header, payload=b"", version=FORMAT_VERSION, header_bytes=None):
    """Assemble a file with a correct header digest (what a deliberate forger would do)."""
    if header_bytes is None:
        header_bytes = json.dumps(header).encode()
        header_bytes += b" " * (-(48 + len(header_bytes)) % 64)
    prefix = struct.pack("<6sHQ32s", b"NNFAST", version, len(header_bytes),
                         hashlib.sha256(header_bytes).digest())
    return prefix + header_bytes + payload


def assert_same_array(loaded, original):
    original = np.asarray(original)
    assert loaded.dtype == original.dtype.newbyteorder("=")
    assert loaded.dtype.isnative
    assert loaded.shape == original.shape
    assert loaded.flags.c_contiguous and loaded.flags.writeable
    expected = original.astype(original.dtype.newbyteorder("="))
    assert loaded.tobytes() == expected.tobytes()


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------

def test_round_trip_config_and_arrays(tmp_path):
    model = sample_model()
    path = tmp_path / "model.nnf"
    save_model(model, path)
    loaded = load_model(path)
    assert type(loaded) is TinyModel
    assert loaded.config == model.config
    assert list(loaded.arrays) == list(model.arrays)
    for name, arr in model.arrays.items():
        assert_same_array(loaded.arrays[name], arr)
    assert loaded.arrays["steps"].ndim == 0
    assert loaded.arrays["empty"].shape == (0, 3)


def test_loaded_arrays_are_independent_copies(tmp_path):
    model = sample_model()
    save_model(model, tmp_path / "m.nnf")
    arrays = load_model(tmp_path / "m.nnf").arrays
    arrays["layers/0/W"][...] = 99
    arrays["mask"][0] = False
    assert np.all(arrays["optimizer/m/layers/0/W"] == -0.25)
    assert model.arrays["layers/0/W"][0, 1] == np.float32(1 / 7)
    assert all(arr.flags.owndata for arr in arrays.values())


def test_strided_and_big_endian_arrays_round_trip(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    arrays = {
        "transposed": base.T,
        "strided": base[::2, 1::3],
        "big_endian": np.arange(5, dtype=">i4") - 2,
        "big_endian_float": np.linspace(0, 1, 3).astype(">f8"),
    }
    save_model(TinyModel({}, arrays), tmp_path / "m.nnf")
    loaded = load_model(tmp_path / "m.nnf").arrays
    for name, arr in arrays.items():
        assert_same_array(loaded[name], arr)
        np.testing.assert_array_equal(loaded[name], arr)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
array_dtypes = st.sampled_from(["?", "u1", "i1", "<u2", ">i2", "<i4", "<u4", "<i8", ">u8",
                                "<f2", "<f4", ">f4", "<f8", "<c8", ">c16"])
array_names = st.text(st.characters(codec="utf-8") | st.just("/"), min_size=1, max_size=10)


@FUZZ
@given(config=st.dictionaries(st.text(), json_values, max_size=4),
       arrays=st.dictionaries(array_names, hnp.arrays(
           array_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
           max_size=5))
def test_round_trip_property(scratch, config, arrays):
    path = scratch / "property.nnf"
    save_model(TinyModel(config, arrays), path)
    name, config_back, arrays_back, _ = read_model_file(path)
    assert name == "IoTestModel"
    assert config_back == config
    assert list(arrays_back) == list(arrays)
    for key, arr in arrays.items():
        assert_same_array(arrays_back[key], arr)


def test_config_values_are_converted_to_json_types(tmp_path):
    config = {
        "int": np.int64(3), "float": np.float32(0.25), "flag": np.bool_(True),
        "sizes": (100, np.int32(50)), "grid": np.array([[1, 2], [3, 4]], dtype=np.int16),
        "scalar_array": np.array(1.5), "nested": {"pair": (np.float64(-0.0), "x"), "empty": ()},
        "inf": float("inf"), "text": np.str_("tanh"), "unicode": "\u00e9\u4e2d\U0001f600",
    }
    save_model(TinyModel(config, {}), tmp_path / "m.nnf")
    back = load_model(tmp_path / "m.nnf").config
    assert back == {
        "int": 3, "float": 0.25, "flag": True, "sizes": [100, 50], "grid": [[1, 2], [3, 4]],
        "scalar_array": 1.5, "nested": {"pair": [-0.0, "x"], "empty": []},
        "inf": float("inf"), "text": "tanh", "unicode": "\u00e9\u4e2d\U0001f600",
    }
    assert type(back["int"]) is int and type(back["flag"]) is bool
    assert math.copysign(1, back["nested"]["pair"][0]) == -1


@pytest.mark.parametrize("config, where", [
    ({"solver": object()}, r"config\['solver'\]"),
    ({"layers": [{"act": {1, 2}}]}, r"config\['layers'\]\[0\]\['act'\]"),
    ({"table": {1: "a"}}, r"config\['table'\] has the key 1"),
    ({"z": 1 + 2j}, r"config\['z'\]"),
    ({"objs": np.array([None, 1], dtype=object)}, r"config\['objs'\]"),
    ({"path": pathlib.Path("x")}, r"config\['path'\]"),
])
def test_unserialisable_config_names_the_key(tmp_path, config, where):
    with pytest.raises(TypeError, match=where):
        save_model(TinyModel(config, {}), tmp_path / "m.nnf")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("arrays, match", [
    ({"objs": np.array([1, None], dtype=object)}, r"'objs' has dtype object"),
    ({"text": np.array(["a", "b"])}, r"'text' has dtype <U1"),
    ({"when": np.array(["2020-01-01"], dtype="datetime64[D]")}, r"'when'"),
    ({"rec": np.zeros(2, dtype=[("a", "f4")])}, r"'rec'"),
    ({"long": np.zeros(2, dtype=np.longdouble)}, r"'long'"),
    ({3: np.zeros(2)}, r"names must be non-empty strings"),
    ({"": np.zeros(2)}, r"names must be non-empty strings"),
])
def test_unsupported_arrays_are_refused(tmp_path, arrays, match):
    if arrays.get("long") is not None and np.dtype(np.longdouble) == np.float64:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match=match):
        save_model(TinyModel({}, arrays), tmp_path / "m.nnf")
    assert os.listdir(tmp_path) == []


def test_bad_state_shapes_are_refused(tmp_path):
    class Broken(TinyModel):
        def _get_state(self):
            return self.config

    register_model("IoBrokenState")(Broken)
    with pytest.raises(TypeError, match="must return a"):
        save_model(Broken({"a": 1}), tmp_path / "m.nnf")
    with pytest.raises(TypeError, match="config must be a dict"):
        save_model(TinyModel([1, 2], {}), tmp_path / "m.nnf")
    with pytest.raises(TypeError, match="arrays must be a dict"):
        save_model(TinyModel({}, [np.zeros(2)]), tmp_path / "m.nnf")


def test_path_is_used_exactly_as_given(tmp_path):
    save_model(sample_model(), str(tmp_path / "weights"))
    save_model(sample_model(), tmp_path / "other.bin")
    assert sorted(os.listdir(tmp_path)) == ["other.bin", "weights"]
    assert load_model(str(tmp_path / "weights")).config == sample_model().config
    assert load_model(tmp_path / "other.bin").config == sample_model().config


def test_save_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "m.nnf"
    save_model(TinyModel({"version": 1}, {"w": np.zeros(1000)}), path)
    save_model(TinyModel({"version": 2}, {}), path)
    assert load_model(path).config == {"version": 2}
    assert os.listdir(tmp_path) == ["m.nnf"]


def test_read_model_file_inspects_without_building(tmp_path):
    path = tmp_path / "m.nnf"
    save_model(sample_model(), path)
    name, config, arrays, metadata = read_model_file(path)
    assert name == "IoTestModel"
    assert config == sample_model().config
    assert set(arrays) == set(sample_model().arrays)
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["nnfast_version"] == nio.__version__
    assert metadata["file_size"] == path.stat().st_size
    assert len(metadata["header_sha256"]) == 64


def test_file_layout_matches_documentation(small):
    version, header, payload = split(small)
    assert version == FORMAT_VERSION
    assert (len(small) - len(payload)) % 64 == 0
    assert header["class"] == "IoTestModel"
    assert header["nnfast_version"] == nio.__version__
    assert header["payload_nbytes"] == len(payload)
    assert header["config"] == sample_model().config
    originals = sample_model().arrays
    assert [e["name"] for e in header["arrays"]] == list(originals)
    covered = bytearray(len(payload))
    for entry in header["arrays"]:
        original = originals[entry["name"]]
        raw = payload[entry["offset"]:entry["offset"] + entry["nbytes"]]
        assert entry["offset"] % 64 == 0
        assert entry["dtype"] == original.dtype.name
        assert entry["shape"] == list(original.shape)
        assert raw == original.astype(original.dtype.newbyteorder("<")).tobytes()
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest()
        covered[entry["offset"]:entry["offset"] + entry["nbytes"]] = b"\1" * entry["nbytes"]
    assert all(payload[i] == 0 for i in range(len(payload)) if not covered[i])


def test_no_pickle_is_used(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle must not be used")

    for name in ("load", "loads", "dump", "dumps", "Unpickler", "Pickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    save_model(sample_model(), tmp_path / "m.nnf")
    assert load_model(tmp_path / "m.nnf").config == sample_model().config


# --------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------

def test_register_model_forms(tmp_path):
    class Base(TinyModel):
        pass

    bare = register_model(type("IoBare", (Base,), {}))
    empty_call = register_model()(type("IoEmptyCall", (Base,), {}))
    named = register_model("IoCustomName")(type("IoNamed", (Base,), {}))
    for cls, name in [(bare, "IoBare"), (empty_call, "IoEmptyCall"), (named, "IoCustomName")]:
        save_model(cls({"k": 1}), tmp_path / "m.nnf")
        assert read_model_file(tmp_path / "m.nnf")[0] == name
        assert type(load_model(tmp_path / "m.nnf")) is cls


def test_register_model_refuses_bad_input():
    class NoState:
        pass

    with pytest.raises(TypeError, match="_get_state or _from_state"):
        register_model(NoState)
    with pytest.raises(TypeError, match="non-empty class name"):
        register_model("")
    with pytest.raises(TypeError, match="non-empty class name"):
        register_model(42)
    with pytest.raises(TypeError, match="decorates classes"):
        register_model("IoFunction")(lambda: None)


def test_name_conflicts_and_redefinitions():
    def define():
        class Same(TinyModel):
            pass
        return register_model("IoSame")(Same)

    first, second = define(), define()
    assert first is not second
    assert nio._registry["IoSame"] is second

    class Other(TinyModel):
        pass

    with pytest.raises(ValueError, match="'IoSame' is already registered"):
        register_model("IoSame")(Other)


def test_unregistered_classes_cannot_be_saved(tmp_path):
    class Subclass(TinyModel):
        pass

    class Plain:
        pass

    for model in (Subclass(), Plain()):
        with pytest.raises(TypeError, match="not a registered model class"):
            save_model(model, tmp_path / "m.nnf")
    assert os.listdir(tmp_path) == []


def test_unknown_class_is_named_with_the_registered_ones(tmp_path, small):
    _, header, payload = split(small)
    header["class"] = "NoSuchModel"
    with pytest.raises(ModelFileError, match=r"'NoSuchModel'.*registered classes: .*IoTestModel"):
        load_bytes(pack(header, payload), tmp_path)
    assert read_model_file(tmp_path / "candidate.nnf")[0] == "NoSuchModel"


def test_state_the_class_rejects_is_a_model_file_error(tmp_path):
    @register_model("IoPicky")
    class Picky(TinyModel):
        @classmethod
        def _from_state(cls, config, arrays):
            return cls(config, {"W": arrays["W"]})

    save_model(Picky({}, {"V": np.zeros(2)}), tmp_path / "m.nnf")
    with pytest.raises(ModelFileError, match="not hold a valid IoPicky state: KeyError") as info:
        load_model(tmp_path / "m.nnf")
    assert isinstance(info.value.__cause__, KeyError)


# --------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_while_writing_keeps_the_old_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "m.nnf"
    save_model(sample_model(), path)
    before = path.read_bytes()

    def write_half(f, prepared, entries):
        f.write(b"\0" * 100)
        raise failure

    monkeypatch.setattr(nio, "_write_payload", write_half)
    with pytest.raises(type(failure)):
        save_model(TinyModel({"new": True}, {"w": np.ones(10)}), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.nnf"]


def test_failure_to_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.nnf"
    save_model(sample_model(), path)
    before = path.read_bytes()
    calls = []

    def refuse(src, dst):
        calls.append((src, dst))
        assert os.path.getsize(src) > 0
        raise PermissionError("refused")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        save_model(TinyModel({"new": True}, {}), path)
    assert len(calls) == 1 and os.path.dirname(calls[0][0]) == str(tmp_path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.nnf"]


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    def fail(f, prepared, entries):
        raise OSError("boom")

    monkeypatch.setattr(nio, "_write_payload", fail)
    with pytest.raises(OSError, match="boom"):
        save_model(sample_model(), tmp_path / "m.nnf")
    assert os.listdir(tmp_path) == []


def test_saving_onto_a_directory_fails_cleanly(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):
        save_model(sample_model(), tmp_path / "taken")
    assert os.listdir(tmp_path) == ["taken"]


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_new_files_get_permissions_from_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save_model(sample_model(), tmp_path / "m.nnf")
    finally:
        os.umask(old)
    assert (tmp_path / "m.nnf").stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------------------
# Damaged and foreign files
# --------------------------------------------------------------------------

def test_every_truncation_is_rejected(tmp_path, small):
    for cut in range(len(small)):
        with pytest.raises(ModelFileError, match="truncated|empty"):
            load_bytes(small[:cut], tmp_path)


def test_every_single_byte_flip_is_rejected(tmp_path, small):
    for position in range(len(small)):
        damaged = bytearray(small)
        damaged[position] ^= 0xFF
        with pytest.raises(ModelFileError):
            load_bytes(bytes(damaged), tmp_path)


def test_flip_inside_a_json_string_is_caught_by_the_digest(tmp_path, small):
    position = small.index(b'"relu"') + 2
    damaged = small[:position] + b"x" + small[position + 1:]
    with pytest.raises(ModelFileError, match="header does not match its SHA-256"):
        load_bytes(damaged, tmp_path)


def test_flip_inside_an_array_names_the_array(tmp_path, small):
    _, header, payload = split(small)
    entry = next(e for e in header["arrays"] if e["name"] == "layers/0/b")
    position = len(small) - len(payload) + entry["offset"] + 3
    damaged = bytearray(small)
    damaged[position] ^= 0x01
    with pytest.raises(ModelFileError, match="array 'layers/0/b' does not match"):
        load_bytes(bytes(damaged), tmp_path)


@FUZZ
@given(data=st.data())
def test_random_mutations_raise_only_model_file_errors(scratch, data):
    small = small_file_bytes(scratch)
    flips = data.draw(st.dictionaries(st.integers(0, len(small) - 1), st.integers(1, 255),
                                      min_size=1, max_size=8))
    damaged = bytearray(small)
    for position, mask in flips.items():
        damaged[position] ^= mask
    cut = data.draw(st.integers(0, len(small)))
    tail = data.draw(st.binary(max_size=16))
    candidate = bytes(damaged[:cut]) + tail
    assume(candidate != small)
    with pytest.raises(ModelFileError):
        load_bytes(candidate, scratch)


@FUZZ
@given(prefix=st.sampled_from([b"", b"NNFAST", b"NNFAST\x01\x00"]), garbage=st.binary(max_size=300))
def test_garbage_raises_only_model_file_errors(scratch, prefix, garbage):
    with pytest.raises(ModelFileError):
        load_bytes(prefix + garbage, scratch)


header_fields = st.sampled_from(["class", "nnfast_version", "config", "payload_nbytes", "arrays"])
entry_fields = st.sampled_from(["name", "dtype", "shape", "offset", "nbytes", "sha256"])
odd_values = st.one_of(
    json_values, st.integers(-2**70, 2**70), st.sampled_from(["object", "float128", "<f4", "V8"]),
    st.lists(st.integers(-3, 2**65), max_size=40),
)


@FUZZ
@given(data=st.data())
def test_forged_headers_with_valid_digests_fail_cleanly(scratch, data):
    _, header, payload = split(small_file_bytes(scratch))
    entries = list(header["arrays"])
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            target, keys = header, header_fields
        else:
            target, keys = data.draw(st.sampled_from(entries)), entry_fields
        key = data.draw(keys)
        if data.draw(st.integers(0, 5)) == 0:
            target.pop(key, None)
        else:
            target[key] = data.draw(odd_values)
    try:
        model = load_bytes(pack(header, payload), scratch)
    except ModelFileError:
        return
    assert type(model) is TinyModel


def _entry(header, name):
    return next(e for e in header["arrays"] if e["name"] == name)


def set_entry(target, **fields):
    def mutate(header, payload):
        _entry(header, target).update(fields)
        return payload
    return mutate


def set_header(**fields):
    def mutate(header, payload):
        header.update(fields)
        return payload
    return mutate


def drop(key, name=None):
    def mutate(header, payload):
        (header if name is None else _entry(header, name)).pop(key)
        return payload
    return mutate


def grow_payload_claim(header, payload):
    header["payload_nbytes"] += 64
    return payload


def trailing_byte(header, payload):
    return payload + b"\0"


def dirty_padding(header, payload):
    entry = _entry(header, "layers/0/W")
    gap = entry["offset"] + entry["nbytes"]
    return payload[:gap] + b"\1" + payload[gap + 1:]


def bool_holding_two(header, payload):
    entry = _entry(header, "mask")
    start = entry["offset"]
    raw = b"\2" + payload[start + 1:start + entry["nbytes"]]
    entry["sha256"] = hashlib.sha256(raw).hexdigest()
    return payload[:start] + raw + payload[start + entry["nbytes"]:]


@pytest.mark.parametrize("mutate, message", [
    (set_entry("mask", nbytes=5), "declares 5 bytes"),
    (set_entry("layers/0/b", offset=0), "overlap"),
    (set_entry("steps", offset=10**6), "extends past the end"),
    (set_entry("mask", name="steps"), "'steps' appears twice"),
    (set_entry("mask", dtype="object"), "unsupported dtype 'object'"),
    (set_entry("mask", dtype="<f4"), "unsupported dtype"),
    (set_entry("layers/0/W", shape=[-2, -3]), "invalid shape"),
    (set_entry("pixels", shape=[True, 4]), "invalid shape"),
    (set_entry("empty", shape=[1] * 33 + [0]), "invalid shape"),
    (set_entry("empty", shape=[0, 2**62, 2**62]), "too large for any array"),
    (set_entry("steps", offset=192.0), "invalid offset"),
    (set_entry("steps", sha256="zz" * 32), "invalid SHA-256"),
    (drop("name", "steps"), "no 'name' field"),
    (drop("class"), "no 'class' field"),
    (set_header(config=[1, 2]), "'config' is not a JSON object"),
    (set_header(arrays={"W": 1}), "'arrays' is not a JSON array"),
    (set_header(payload_nbytes=-1), "negative"),
    (set_header(payload_nbytes=True), "'payload_nbytes' is not a JSON integer"),
    (set_header(**{"class": ""}), "names no model class"),
    (grow_payload_claim, "truncated"),
    (trailing_byte, "1 unexpected bytes after the end"),
    (dirty_padding, "padding between arrays is not zero"),
    (bool_holding_two, "values other than 0 and 1"),
])
def test_forged_files_are_rejected(tmp_path, small, mutate, message):
    _, header, payload = split(small)
    payload = mutate(header, payload)
    with pytest.raises(ModelFileError, match=message):
        load_bytes(pack(header, payload), tmp_path)


@pytest.mark.parametrize("header_bytes, message", [
    (b'{"class": "IoTestModel", ', "malformed JSON header"),
    (b"\xff\xfe{}", "malformed JSON header"),
    (b'{"class": "a", "class": "b"}', "duplicate key 'class'"),
    (b"[" * 100000, "malformed JSON header"),
    (b"[1, 2]", "header is a JSON list, not an object"),
    (b"", "malformed JSON header"),
])
def test_malformed_headers_are_rejected(tmp_path, header_bytes, message):
    with pytest.raises(ModelFileError, match=message):
        load_bytes(pack(None, header_bytes=header_bytes), tmp_path)


def test_arrays_may_be_listed_out_of_offset_order(tmp_path, small):
    _, header, payload = split(small)
    header["arrays"].reverse()
    name, _, arrays, _ = read_model_file(_write(tmp_path, pack(header, payload)))
    originals = sample_model().arrays
    assert list(arrays) == list(reversed(originals))
    for key, arr in originals.items():
        assert_same_array(arrays[key], arr)


def _write(directory, data):
    path = directory / "candidate.nnf"
    path.write_bytes(data)
    return path


def test_newer_format_version_is_explained(tmp_path, small):
    newer = small[:6] + struct.pack("<H", FORMAT_VERSION + 1) + small[8:]
    expected = (f"written by a newer nnfast, format version {FORMAT_VERSION + 1}; "
                f"this version reads up to {FORMAT_VERSION}")
    with pytest.raises(ModelFileError, match=expected):
        load_bytes(newer, tmp_path)
    with pytest.raises(ModelFileError, match="format version 0, which does not exist"):
        load_bytes(small[:6] + b"\0\0" + small[8:], tmp_path)


class _CreatesFile:
    """Unpickling this calls ``open(path, "w")``, which creates ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_pickles_are_never_unpickled(tmp_path):
    witness = tmp_path / "witness"
    pickle.loads(pickle.dumps(_CreatesFile(witness))).close()
    assert witness.exists(), "the payload must really run code when unpickled"

    marker = tmp_path / "marker"
    payload = pickle.dumps(_CreatesFile(marker))
    npy = tmp_path / "object.npy"
    np.save(npy, np.array([_CreatesFile(marker)], dtype=object), allow_pickle=True)
    for name, data in [("model.pkl", payload), ("model.nnf", payload),
                       ("model.npy", npy.read_bytes())]:
        with pytest.raises(ModelFileError, match="not an nnfast model file"):
            load_bytes(data, tmp_path, name)
    assert not marker.exists()


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(40),
    b"PK\x03\x04" + bytes(60),
    b'{"class": "IoTestModel"}',
    b"NNFASX" + bytes(60),
    b"nnfast" + bytes(60),
])
def test_foreign_files_are_not_model_files(tmp_path, data):
    with pytest.raises(ModelFileError, match="not an nnfast model file: it starts with"):
        load_bytes(data, tmp_path)


def test_empty_file(tmp_path):
    with pytest.raises(ModelFileError, match="is empty"):
        load_bytes(b"", tmp_path)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.nnf")


def _huge(payload_nbytes):
    entry = {"name": "W", "dtype": "float64", "shape": [125_000, 1_000_000_000],
             "offset": 0, "nbytes": 10**15, "sha256": "0" * 64}
    return pack({"class": "IoTestModel", "nnfast_version": "0", "config": {},
                 "payload_nbytes": payload_nbytes, "arrays": [entry]})


@pytest.mark.parametrize("payload_nbytes, message", [
    (10**15, "is truncated: it should be"),
    (0, "extends past the end"),
])
def test_huge_declared_arrays_fail_fast_without_allocating(tmp_path, payload_nbytes, message):
    path = _write(tmp_path, _huge(payload_nbytes))
    tracemalloc.start()
    try:
        np.empty(10**7, dtype=np.uint8)
        _, baseline_peak = tracemalloc.get_traced_memory()
        assert baseline_peak >= 10**7, "numpy allocations must be visible to tracemalloc"
        tracemalloc.reset_peak()
        start = time.perf_counter()
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10**6
    assert elapsed < 1.0
