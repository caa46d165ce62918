"""Crafted model files are rejected quickly and within memory tied to the file's size.

A model file's config declares sizes (hidden units, features, classes, fantasy
chains) and its payload holds the arrays.  ``_from_state`` must compare the
two before it builds or allocates anything, so that no file can make
:func:`~nnfast.io.load_model` use more than a small multiple of the file's
own size, whatever its config says.  These tests save a real model, edit the
saved file as a forger would -- config values, arrays, or both, with every
digest, offset and size recomputed so that the file is otherwise intact --
and check that ``load_model`` raises ``ModelFileError`` naming what is wrong,
within ``MAX_SECONDS``, at a peak of traced memory below
:func:`memory_bound`.  Intact files must still load and predict identically.

Adding cases
------------
A case is ``Case(make_model, mutate, match)``:

``make_model()``
    Returns the model to save (keep it small; the saved bytes are cached per
    factory, so reuse a factory across cases).
``mutate(parts)``
    Edits a :class:`FileParts` in place: ``parts.config`` (the decoded JSON
    config), ``parts.arrays`` (name to ndarray, in stored order) or
    ``parts.header`` (the whole header).  :func:`setting`,
    :func:`deleting`, :func:`changing_array`, :func:`adding_array`,
    :func:`removing_array` and :func:`together` build common mutations.
``match``
    Regular expression the error message must contain; name the config
    entry or array at fault.

Append cases to a list and parametrize a test over ``case_params(cases)``,
which calls :func:`assert_rejected`; for example, for a model whose first
layer's config holds ``units``::

    MLP_CASES = [
        Case(make_mlp, setting(("layers", 0, "config", "units"), 40_000), r"units"),
        Case(make_mlp, removing_array("layers/0/0"), r"layers/0/0"),
    ]

    @pytest.mark.parametrize("case", case_params(MLP_CASES))
    def test_crafted_mlp_file_is_rejected(tmp_path, case):
        assert_rejected(tmp_path, case)

:func:`assert_round_trip` checks that an intact file loads into a model that
predicts identically.
"""
import functools
import hashlib
import json
import os
import re
import struct
import tempfile
import time
import tracemalloc
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

import nnfast
from nnfast.io import ModelFileError, load_model, read_model_file, save_model
from nnfast.layers import Dense, Dropout, Flatten, Reshape
from nnfast.models import BernoulliRBM, MLPClassifier, MLPRegressor, Perceptron

_PREFIX = struct.Struct("<6sHQ32s")
_ALIGN = 64

MAX_SECONDS = 2.0
"""A rejection must come this fast (the reported file took 55 s to be rejected)."""

# The bound on the loader's peak of traced memory, in three parts:
# - the payload: reading allocates each array once (1x), and the checks add
#   temporaries of at most one byte per element (finiteness and 0/1 masks);
#   2x the payload covers both;
# - the header: decoding JSON makes Python objects, which take more room than
#   their text: about 8x for a list of short numbers ("0.1," becomes a
#   24-byte float and an 8-byte slot, 10x measured with the list's spare
#   room) and at most 24x for a list of empty objects ("{}," becomes 72
#   bytes); 32x covers any JSON;
# - a constant for the fixed cost of a load (interpreter allocations, error
#   messages): loading an intact test file peaks near 17 KiB.
# A config trusted as it is breaks the bound more than ten times over: the
# 40,000 hidden units of the reported file, on the test models' 12 inputs,
# are 3.7 MB of float64 weights, against a bound of 0.32 MB for their 2.7 KB
# file (and on 784 inputs, 250 MB).
PAYLOAD_FACTOR = 2
HEADER_FACTOR = 32
CONSTANT_BYTES = 256 * 1024


def memory_bound(path):
    """Largest peak of traced memory allowed while loading the model file ``path``."""
    with open(path, "rb") as f:
        header_len = _PREFIX.unpack(f.read(_PREFIX.size))[2]
        payload = os.fstat(f.fileno()).st_size - _PREFIX.size - header_len
    return PAYLOAD_FACTOR * payload + HEADER_FACTOR * (_PREFIX.size + header_len) + CONSTANT_BYTES


# --------------------------------------------------------------------------
# Reading and rewriting model files (format version 1, see nnfast.io)
# --------------------------------------------------------------------------

@dataclass
class FileParts:
    """A model file taken apart: its header and its arrays.

    Attributes
    ----------
    version : int
        Format version from the prefix.
    header : dict
        The decoded JSON header (``class``, ``config``, ``arrays``, ...).
    arrays : dict of str to ndarray
        The stored arrays, in stored order.  :func:`write_parts` rewrites
        the header's array entries from them.
    """

    version: int
    header: dict
    arrays: dict

    @property
    def config(self):
        """The model's config (part of ``header``; edit it in place)."""
        return self.header["config"]


def read_parts(data):
    """Take apart the bytes ``data`` of an intact model file into :class:`FileParts`."""
    magic, version, header_len, digest = _PREFIX.unpack_from(data)
    assert magic == b"NNFAST"
    header_bytes = data[_PREFIX.size:_PREFIX.size + header_len]
    assert hashlib.sha256(header_bytes).digest() == digest
    header = json.loads(header_bytes)
    payload = data[_PREFIX.size + header_len:]
    arrays = {}
    for item in header["arrays"]:
        dtype = np.dtype(item["dtype"]).newbyteorder("<")
        raw = payload[item["offset"]:item["offset"] + item["nbytes"]]
        arrays[item["name"]] = np.frombuffer(raw, dtype=dtype).reshape(item["shape"]).copy()
    return FileParts(version, header, arrays)


def write_parts(parts):
    """Assemble :class:`FileParts` into file bytes, every digest and offset recomputed."""
    entries, chunks, offset = [], [], 0
    for name, arr in parts.arrays.items():
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        gap = -offset % _ALIGN
        chunks.append(bytes(gap))
        offset += gap
        raw = arr.tobytes()
        entries.append({"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape),
                        "offset": offset, "nbytes": len(raw),
                        "sha256": hashlib.sha256(raw).hexdigest()})
        chunks.append(raw)
        offset += len(raw)
    header = dict(parts.header, arrays=entries, payload_nbytes=offset)
    text = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    text += b" " * (-(_PREFIX.size + len(text)) % _ALIGN)
    prefix = _PREFIX.pack(b"NNFAST", parts.version, len(text), hashlib.sha256(text).digest())
    return prefix + text + b"".join(chunks)


# --------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------

def _walk(config, path):
    """The container holding the last key of ``path`` inside ``config``."""
    node = config
    for key in path[:-1]:
        node = node[key]
    return node


def setting(path, value):
    """Mutation: set the config value at ``path`` (a tuple of keys and list indices)."""
    def mutate(parts):
        _walk(parts.config, path)[path[-1]] = value
    mutate.__name__ = f"set {'.'.join(map(str, path))}={_label(value)}"
    return mutate


def deleting(path):
    """Mutation: delete the config entry at ``path``."""
    def mutate(parts):
        del _walk(parts.config, path)[path[-1]]
    mutate.__name__ = f"delete {'.'.join(map(str, path))}"
    return mutate


def changing_array(name, change, label="changed"):
    """Mutation: replace the stored array ``name`` by ``change(array)``."""
    def mutate(parts):
        parts.arrays[name] = np.asarray(change(parts.arrays[name]))
    mutate.__name__ = f"{label} array {name}"
    return mutate


def adding_array(name, arr):
    """Mutation: store one more array."""
    def mutate(parts):
        parts.arrays[name] = np.asarray(arr)
    mutate.__name__ = f"add array {name}"
    return mutate


def removing_array(name):
    """Mutation: drop the stored array ``name``."""
    def mutate(parts):
        del parts.arrays[name]
    mutate.__name__ = f"remove array {name}"
    return mutate


def together(*mutations):
    """Mutation: apply ``mutations`` in order."""
    def mutate(parts):
        for m in mutations:
            m(parts)
    mutate.__name__ = " & ".join(m.__name__ for m in mutations)
    return mutate


def _label(value):
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 20 else f"{text[:8]}..[{len(text)} chars]"


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------

Case = namedtuple("Case", "make_model mutate match")
Case.__doc__ = "A crafted file: the model saved, the mutation of its file, the error expected."


@functools.cache
def saved_bytes(make_model):
    """The bytes of the file ``save_model`` writes for ``make_model()`` (cached).

    The file is also loaded once, so that whatever a first load imports is
    not counted against the crafted files.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.nnf")
        save_model(make_model(), path)
        load_model(path)
        with open(path, "rb") as f:
            return f.read()


def crafted_file(directory, make_model, mutate):
    """Write the saved file of ``make_model()`` edited by ``mutate``; return its path."""
    parts = read_parts(saved_bytes(make_model))
    mutate(parts)
    path = directory / "crafted.nnf"
    path.write_bytes(write_parts(parts))
    return path


def measure_load(path):
    """Load ``path``; return ``(exception or None, seconds, peak traced bytes)``."""
    tracemalloc.start()
    try:
        error = None
        start = time.perf_counter()
        try:
            load_model(path)
        except Exception as exc:  # handed to the caller, which checks its type
            error = exc
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return error, elapsed, peak


def assert_rejected(directory, case):
    """Check that the file crafted by ``case`` is refused quickly, cheaply and clearly."""
    path = crafted_file(directory, case.make_model, case.mutate)
    # The file is intact as a file, so the rejection comes from the model's
    # own check of its state.
    read_model_file(path)
    error, elapsed, peak = measure_load(path)
    assert isinstance(error, ModelFileError), f"loaded, or raised {error!r}"
    assert "does not hold a valid" in str(error)
    cause = error.__cause__
    assert type(cause) is ValueError, f"the model's check raised {cause!r}"
    assert re.search(case.match, str(cause)), f"{str(cause)!r} does not match {case.match!r}"
    assert peak < memory_bound(path), (
        f"peak of {peak} bytes loading a {path.stat().st_size}-byte file")
    assert elapsed < MAX_SECONDS, f"took {elapsed:.2f} s"


def case_params(cases):
    """``pytest.param`` objects for ``cases``, named after the model and the mutation."""
    return [pytest.param(case, id=f"{case.make_model.__name__}: {case.mutate.__name__}")
            for case in cases]


def assert_round_trip(directory, make_model, compare):
    """Save ``make_model()``, load it within the memory bound, and ``compare(model, loaded)``.

    Returns the loaded model.
    """
    model = make_model()
    path = directory / "intact.nnf"
    save_model(model, path)
    # Once without tracing, so that first-use imports are not counted.
    load_model(path)
    error, _, peak = measure_load(path)
    assert error is None, repr(error)
    assert peak < memory_bound(path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    if hasattr(model, "get_params"):
        assert loaded.get_params() == model.get_params()
    compare(model, loaded)
    return loaded


# --------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------

def _separable(n=30, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    return X, X @ rng.normal(size=n_features) + 0.1 > 0


def _binary(n=40, n_features=12, seed=0):
    return (np.random.default_rng(seed).random((n, n_features)) < 0.3).astype(np.float32)


def perceptron():
    X, positive = _separable()
    return Perceptron(learning_rate=0.5, random_state=0).fit(X, np.where(positive, "spam", "ham"))


def perceptron_int_labels():
    X, positive = _separable(seed=1)
    return Perceptron(rule="batch", random_state=1).fit(X, np.where(positive, 1, -1))


def perceptron_unfitted():
    return Perceptron(max_epochs=7)


def rbm():
    return BernoulliRBM(n_hidden=8, epochs=2, batch_size=5, random_state=0,
                        track_pseudo_likelihood=True).fit(_binary())


def rbm_pcd():
    return BernoulliRBM(n_hidden=8, persistent=True, n_chains=5, momentum=0.5, weight_decay=1e-4,
                        epochs=2, batch_size=5, random_state=0).fit(_binary())


def rbm_unfitted():
    return BernoulliRBM(n_hidden=8, persistent=True)


# --------------------------------------------------------------------------
# Crafted files
# --------------------------------------------------------------------------

def _params(key, value):
    return setting(("params", key), value)


def _bad_values(make_model, path, values, match):
    return [Case(make_model, setting(path, value), match) for value in values]


_SIZES_WRONG = [-3, 0, 2.5, True, "8", None, [8]]

PERCEPTRON_CASES = [
    # Sizes the config declares, arrays untouched.
    *_bad_values(perceptron, ("n_features_in",), [10**9, 4, 6] + _SIZES_WRONG, "n_features_in"),
    Case(perceptron, setting(("classes",), list(range(100_000))), r"classes'\] must have 2"),
    Case(perceptron, setting(("classes",), [f"label {i}" for i in range(20_000)]),
         r"classes'\] must have 2"),
    Case(perceptron, setting(("classes",), ["ham"]), r"classes'\] must have 2"),
    Case(perceptron, setting(("classes",), ["ham", "spam", "eggs"]), r"classes'\] must have 2"),
    Case(perceptron, setting(("classes",), ["spam", "ham"]), "increasing order"),
    Case(perceptron, setting(("classes",), ["ham", "ham"]), "different labels"),
    Case(perceptron, setting(("classes",), "hamspam"), r"classes'\] must be a JSON array"),
    Case(perceptron, setting(("classes",), [1, 2]), r"classes'\]\[0\].*not a label of dtype"),
    Case(perceptron, setting(("classes",), ["ham", "spa\x00"]), "change when held"),
    Case(perceptron, setting(("classes",), ["ham", "spammer"]), "longest label has 7"),
    *_bad_values(perceptron, ("classes_dtype",),
                 ["<U1000000000", "<U999999999", "(1000000000,)f8", "O", "V8", "i4,i4", "M8",
                  "S4", 4, None], "classes_dtype"),
    *_bad_values(perceptron_int_labels, ("classes",), [[-1, 1.5], [-1, True], [-1, "1"]],
                 r"classes'\]\[1\]"),
    Case(perceptron_int_labels, together(setting(("classes_dtype",), "<i1"),
                                         setting(("classes",), [-1, 300])),
         r"classes'\] cannot be held in dtype <i1"),
    Case(perceptron_int_labels, together(setting(("classes_dtype",), "<f4"),
                                         setting(("classes",), [-1, 0.1])),
         r"classes'\] .* change when held"),
    Case(perceptron_int_labels, together(setting(("classes_dtype",), "<f8"),
                                         setting(("classes",), [-1, float("inf")])),
         r"classes'\]\[1\]"),
    # Counts and flags of a fitted model.
    *_bad_values(perceptron, ("n_epochs",), [10**18, 0, -1, 1.0, False], "n_epochs|errors"),
    *_bad_values(perceptron, ("errors",), [[], [-1, 0], [1, "0"], [1, 0.0], {"0": 1}],
                 "errors"),
    Case(perceptron, setting(("converged",), False), "converged"),
    Case(perceptron, setting(("converged",), 1), "converged"),
    *_bad_values(perceptron, ("intercept",), [float("nan"), float("inf"), "0.5", None],
                 "intercept"),
    # Hyperparameters.
    *[Case(perceptron, _params(key, value), key) for key, value in [
        ("learning_rate", 0), ("learning_rate", -1.0), ("learning_rate", "fast"),
        ("learning_rate", float("inf")), ("max_epochs", 0), ("max_epochs", 1.5),
        ("max_epochs", True), ("max_epochs", 2**64), ("rule", "bogus"), ("rule", None),
        ("shuffle", "yes"), ("shuffle", 1), ("fit_intercept", None), ("random_state", -5),
        ("random_state", 1.5), ("random_state", "0"), ("device", 3)]],
    Case(perceptron, _params("n_features", 10**9), "unexpected key 'n_features'"),
    Case(perceptron, deleting(("params", "rule")), "lacks the key 'rule'"),
    Case(perceptron, setting(("params",), [0.5, 100]), r"config\['params'\] must be"),
    # Keys and arrays.
    *[Case(perceptron, deleting((key,)), f"lacks the key '{key}'") for key in [
        "classes", "classes_dtype", "n_features_in", "n_epochs", "converged", "errors",
        "intercept"]],
    Case(perceptron, deleting(("params",)), "lacks the key 'params'"),
    Case(perceptron, setting(("n_classes",), 10**9), "unexpected key 'n_classes'"),
    Case(perceptron, changing_array("coef", lambda a: a[:3], "shortened"),
         r"'coef' has shape \(3,\).*\(5,\) from config\['n_features_in'\]"),
    Case(perceptron, changing_array("coef", lambda a: np.tile(a, 100), "lengthened"), "'coef'"),
    Case(perceptron, changing_array("coef", lambda a: a.reshape(1, -1), "2-D"), "'coef'"),
    Case(perceptron, changing_array("coef", lambda a: a.astype(np.float32), "float32"),
         "'coef' has dtype float32"),
    Case(perceptron, changing_array("coef", lambda a: np.where(a == a[0], np.nan, a), "NaN in"),
         "'coef' holds NaN"),
    Case(perceptron, removing_array("coef"), "lacks the array 'coef'"),
    Case(perceptron, adding_array("coef/velocity", np.zeros(5)), "unexpected array"),
    Case(perceptron_unfitted, adding_array("coef", np.zeros(10**5)), "unexpected array 'coef'"),
    Case(perceptron_unfitted, _params("max_epochs", -7), "max_epochs"),
    Case(perceptron_unfitted, setting(("n_features_in",), 10**9), "lacks the key"),
]

_W = ("components", "intercept_visible", "intercept_hidden", "velocity/components",
      "velocity/intercept_visible", "velocity/intercept_hidden")

RBM_CASES = [
    # The reported file: 40,000 hidden units declared, arrays untouched.
    Case(rbm, _params("n_hidden", 40_000),
         r"'components' has shape \(8, 12\).*\(40000, 12\) from config\['params'\]\['n_hidden'\]"),
    Case(rbm_pcd, _params("n_hidden", 40_000), "n_hidden"),
    Case(rbm, together(_params("n_hidden", 40_000), setting(("n_features_in",), 10**9)),
         "n_hidden"),
    *_bad_values(rbm, ("params", "n_hidden"), [7, 9] + _SIZES_WRONG, "n_hidden"),
    *_bad_values(rbm, ("n_features_in",), [10**9, 2**63, 11] + _SIZES_WRONG, "n_features_in"),
    # Fantasy chains: their number comes from n_chains, or batch_size without it.
    *_bad_values(rbm_pcd, ("params", "n_chains"), [10**9, 4, 0, 1.5, "5", True], "n_chains"),
    Case(rbm_pcd, together(_params("n_chains", None), _params("batch_size", 10**9)),
         r"'chains' has shape \(5, 12\).*batch_size"),
    Case(rbm, _params("persistent", True), "lacks the array 'chains'.*batch_size"),
    Case(rbm_pcd, removing_array("chains"), "lacks the array 'chains'"),
    Case(rbm_pcd, changing_array("chains", lambda a: a[:, :6], "narrowed"), "'chains'"),
    Case(rbm_pcd, changing_array("chains", lambda a: np.tile(a, (1000, 1)), "grown"), "'chains'"),
    Case(rbm_pcd, changing_array("chains", lambda a: a * 2, "non-binary"), "binary"),
    Case(rbm_pcd, changing_array("chains", lambda a: a.astype(np.float64), "float64"), "'chains'"),
    Case(rbm_pcd, together(_params("persistent", False),
                           changing_array("chains", lambda a: a[:, :3], "narrowed")),
         r"'chains' has shape \(5, 3\)"),
    # Other hyperparameters: types and ranges.
    *[Case(rbm, _params(key, value), key) for key, value in [
        ("batch_size", 0), ("batch_size", 2**64), ("batch_size", 10.0), ("k", 0), ("k", True),
        ("epochs", -1), ("momentum", 1.0), ("momentum", -0.5), ("weight_decay", -0.1),
        ("weight_decay", float("nan")), ("learning_rate", "0.1"), ("learning_rate", 0),
        ("learning_rate", float("inf")), ("persistent", "yes"), ("persistent", 1),
        ("shuffle", None), ("verbose", "loud"), ("verbose", -1),
        ("track_pseudo_likelihood", 0), ("random_state", -1), ("random_state", 2.5),
        ("dtype", "float16"), ("dtype", "object"), ("dtype", "int8"), ("dtype", 32),
        ("device", ["cpu"])]],
    Case(rbm, _params("dtype", "float64"), "'components' has dtype float32, expected float64"),
    Case(rbm, _params("n_visible", 10**9), "unexpected key 'n_visible'"),
    Case(rbm, deleting(("params", "k")), "lacks the key 'k'"),
    Case(rbm, setting(("params",), None), r"config\['params'\] must be a JSON object"),
    # Counters, seed and history of a fitted model.
    *_bad_values(rbm, ("seed",), [-1, 2**63, 7.0, "7", None], "seed"),
    *_bad_values(rbm, ("n_iter",), [-1, 10**9, 3, 1.0], "n_iter|history"),
    *_bad_values(rbm, ("n_updates",), [-1, 2**64, 16.5, None], "n_updates"),
    Case(rbm, setting(("history",), [[0.1, 0.2]]), r"config\['history'\] must be"),
    Case(rbm, setting(("history", "loss"), [1.0, 2.0]), "unexpected key 'loss'"),
    Case(rbm, deleting(("history", "epoch_time")), "lacks the key 'epoch_time'"),
    Case(rbm, setting(("history", "epoch_time"), [0.1] * 10**5), "epoch_time"),
    Case(rbm, setting(("history", "epoch_time"), [0.1, "0.1"]), r"epoch_time'\]\[1\]"),
    Case(rbm, setting(("history", "reconstruction_error"), [0.1, float("nan")]),
         "reconstruction_error"),
    Case(rbm, setting(("history", "reconstruction_error"), [0.1, -0.1]), "reconstruction_error"),
    Case(rbm, setting(("history", "pseudo_likelihood"), [-1.0, -2.0, -3.0]),
         "pseudo_likelihood"),
    Case(rbm, setting(("history", "pseudo_likelihood"), [-1.0, 2.0]), "pseudo_likelihood"),
    # Keys and arrays.
    *[Case(rbm, deleting((key,)), f"lacks the key '{key}'")
      for key in ["n_features_in", "n_iter", "n_updates", "seed", "history"]],
    Case(rbm, setting(("n_visible",), 10**9), "unexpected key 'n_visible'"),
    *[Case(rbm, removing_array(name), f"lacks the array '{name}'") for name in _W],
    Case(rbm, changing_array("components", lambda a: a.T.copy(), "transposed"),
         r"'components' has shape \(12, 8\)"),
    Case(rbm, changing_array("components", lambda a: a.ravel(), "flattened"), "'components'"),
    Case(rbm, changing_array("components", lambda a: a.astype(np.float64), "float64"),
         "'components' has dtype float64"),
    Case(rbm, changing_array("components", lambda a: np.where(a > 0, np.inf, a), "inf in"),
         "'components' holds NaN or infinite"),
    Case(rbm, changing_array("intercept_hidden", lambda a: a[:4], "shortened"),
         r"'intercept_hidden'.*n_hidden"),
    Case(rbm, changing_array("intercept_visible", lambda a: np.zeros(10**4, a.dtype), "grown"),
         r"'intercept_visible'.*n_features_in"),
    Case(rbm, changing_array("velocity/components", lambda a: a[:, :1], "narrowed"),
         "'velocity/components'"),
    Case(rbm, changing_array("velocity/intercept_hidden", lambda a: a * np.nan, "NaN"),
         "'velocity/intercept_hidden' holds NaN"),
    Case(rbm, adding_array("chains", np.ones((0, 12), np.float32)), "'chains' holds no"),
    Case(rbm, adding_array("extra", np.zeros(3, np.float32)), "unexpected array 'extra'"),
    Case(rbm_unfitted, adding_array("components", np.zeros((8, 12), np.float32)),
         "unexpected array 'components'"),
    Case(rbm_unfitted, _params("n_hidden", 0), "n_hidden"),
    Case(rbm_unfitted, _params("n_chains", -1), "n_chains"),
    Case(rbm_unfitted, setting(("seed",), 3), "lacks the key"),
]


def sequential():
    rng = np.random.default_rng(7)
    encoder = Dense(6, activation="tanh")
    model = nnfast.Sequential([Flatten(input_shape=(3, 4)), Dense(10, activation="relu"), Dropout(0.1),
                               encoder, Dense(10, activation="sigmoid", tied_to=encoder),
                               Dense(6), Reshape((2, 3))], random_state=0)
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(rng.normal(size=(20, 3, 4)), rng.integers(0, 3, (20, 2)), epochs=1, batch_size=5)
    return model


def sequential_uncompiled():
    model = nnfast.Sequential([Dense(5, activation="relu", input_dim=12), Dense(2)], random_state=0)
    model.build(12)
    return model


def mlp_classifier():
    X, y = _separable(n=30, n_features=5)
    return MLPClassifier(hidden_layer_sizes=(8,), epochs=2, batch_size=10,
                         random_state=0).fit(X, np.where(y > 0, "yes", "no"))


def mlp_regressor():
    X, y = _separable(n=30, n_features=5)
    y = y.astype(float)
    return MLPRegressor(hidden_layer_sizes=(8, 4), epochs=2, batch_size=10,
                        random_state=0).fit(X, np.c_[y, -y])


def _layer(i, *path):
    return ("layers", i, "config") + path


SEQUENTIAL_CASES = [
    # The reported file: a 40,000-unit layer declared, arrays untouched.
    Case(sequential, setting(_layer(1, "units"), 40_000),
         r"'layers/1/0' \(kernel of layer 1\) is float32 of shape \(12, 10\); .*\(12, 40000\)"),
    Case(sequential_uncompiled, setting(_layer(0, "units"), 40_000), "layers/0/0"),
    Case(sequential, setting(("input_shape",), [3, 4000]), "layers/1/0"),
    Case(sequential, setting(("input_shape",), [10**9, 10**9]), "layers/1/0"),
    Case(sequential, setting(_layer(6, "target_shape"), [4, 2]), "cannot reshape"),
    Case(sequential, setting(_layer(4, "tied_to"), {"layer": 1}), "must map|layers/"),
    Case(sequential, setting(_layer(4, "tied_to"), {"layer": 5}), "only earlier layers"),
    Case(sequential, setting(_layer(4, "tied_to"), {"layer": True}), "only earlier layers"),
    Case(sequential, setting(_layer(2, "rate"), 1.5), "rate"),
    Case(sequential, setting(_layer(1, "units"), -3), "units"),
    Case(sequential, setting(_layer(1, "units"), 2.5), "units"),
    Case(sequential, setting(("layers", 1, "class_name"), "Conv9D"), "unknown layer type"),
    Case(sequential, setting(("layers", 1, "trainable"), "no"), "trainable"),
    Case(sequential, setting(("layers",), []), "non-empty list of layers"),
    Case(sequential, setting(("dtype",), "float16"), "dtype"),
    Case(sequential, setting(("input_shape",), [0, 4]), "input_shape"),
    Case(sequential, removing_array("layers/1/0"), "lacks the array 'layers/1/0'"),
    Case(sequential, adding_array("layers/9/0", np.zeros(10**4, np.float32)),
         "no place for.*layers/9/0"),
    Case(sequential, changing_array("layers/3/0", lambda a: np.tile(a, (100, 1)), "grown"),
         "layers/3/0"),
    Case(sequential, changing_array("layers/1/1", lambda a: a.astype(np.int64), "int64"),
         "layers/1/1"),
    # The optimizer: its settings and its state arrays.
    Case(sequential, setting(("compile", "optimizer", "class_name"), "Lion"), "unknown optimizer"),
    Case(sequential, setting(("compile", "optimizer", "learning_rate"), -1.0), "learning_rate"),
    Case(sequential, setting(("compile", "iterations"), -4), "iterations"),
    Case(sequential, setting(("compile", "metrics"), "accuracy"), "metrics"),
    Case(sequential, changing_array("optimizer/0/m", lambda a: np.tile(a, (50, 1)), "grown"),
         "optimizer state '0/m'"),
    Case(sequential, removing_array("optimizer/2/v"), "optimizer's state arrays"),
    Case(sequential, adding_array("optimizer/99/m", np.zeros(10**4, np.float32)),
         "optimizer's state arrays"),
    Case(sequential, setting(("rng_states", "9"), {"seed": 1, "draws": 0}), "rng_states"),
    Case(sequential, setting(("rng_states", "2"), {"seed": -1, "draws": 0}),
         "Dropout's random stream"),
]

MLP_CASES = [
    Case(mlp_classifier, setting(("model",) + _layer(0, "units"), 40_000), "layers/0/0"),
    Case(mlp_classifier, setting(("n_features_in",), 10**9), r"fitted on inputs of shape \(1000000000,\)"),
    Case(mlp_classifier, setting(("n_features_in",), -1), "n_features_in"),
    Case(mlp_classifier, together(setting(("classes",), ["no", "yes", "maybe"]),
                                  setting(("classes_dtype",), "<U5")), "increasing order"),
    Case(mlp_classifier, together(setting(("classes",), ["maybe", "no", "yes"]),
                                  setting(("classes_dtype",), "<U5")), "3 outputs"),
    Case(mlp_classifier, together(setting(("classes",), [f"c{i:06d}" for i in range(20_000)]),
                                  setting(("classes_dtype",), "<U7")), "20000 outputs"),
    Case(mlp_classifier, setting(("classes_dtype",), "<U1000000000"), "classes_dtype"),
    Case(mlp_classifier, setting(("classes",), ["no"]), "at least 2"),
    Case(mlp_classifier, setting(("loss_curve",), [0.5] * 10**4), "loss_curve"),
    Case(mlp_classifier, setting(("loss_curve",), ["low", "high"]), "loss_curve"),
    Case(mlp_classifier, setting(("params", "dropout"), 2.0), "dropout"),
    Case(mlp_classifier, setting(("params", "epochs"), "many"), "epochs"),
    Case(mlp_classifier, setting(("params", "width"), 10), "unexpected key 'width'"),
    Case(mlp_classifier, deleting(("n_iter",)), "lacks the key 'n_iter'"),
    Case(mlp_regressor, setting(("n_outputs",), 10**9), "1000000000 outputs"),
    Case(mlp_regressor, setting(("n_outputs",), 0), "n_outputs"),
    Case(mlp_regressor, setting(("y_1d",), "no"), "y_1d"),
]


@pytest.mark.parametrize("case", case_params(PERCEPTRON_CASES + RBM_CASES + SEQUENTIAL_CASES
                                             + MLP_CASES))
def test_crafted_file_is_rejected(tmp_path, case):
    assert_rejected(tmp_path, case)


@pytest.mark.parametrize("make_model", [sequential, sequential_uncompiled, mlp_classifier,
                                        mlp_regressor])
def test_intact_networks_predict_identically(tmp_path, make_model):
    X = np.random.default_rng(6).normal(size=(15, 5))

    def compare(model, loaded):
        net = getattr(model, "model_", model)
        x = X if net is not model else np.random.default_rng(6).normal(
            size=(15,) + net.input_shape)
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
        for a, b in zip(getattr(loaded, "model_", loaded).get_weights(), net.get_weights()):
            np.testing.assert_array_equal(a, b)

    assert_round_trip(tmp_path, make_model, compare)


# --------------------------------------------------------------------------
# Intact files
# --------------------------------------------------------------------------

@pytest.mark.parametrize("make_model", [perceptron, perceptron_int_labels, perceptron_unfitted,
                                        rbm, rbm_pcd, rbm_unfitted])
def test_harness_rewrites_a_file_byte_for_byte(make_model):
    data = saved_bytes(make_model)
    assert write_parts(read_parts(data)) == data


@pytest.mark.parametrize("make_model", [perceptron, perceptron_int_labels])
def test_intact_perceptron_predicts_identically(tmp_path, make_model):
    X = np.random.default_rng(5).normal(size=(50, 5))

    def compare(model, loaded):
        assert loaded.classes_.dtype == model.classes_.dtype
        np.testing.assert_array_equal(loaded.classes_, model.classes_)
        np.testing.assert_array_equal(loaded.coef_, model.coef_)
        assert loaded.intercept_ == model.intercept_ and loaded.history_ == model.history_
        assert (loaded.n_features_in_, loaded.n_epochs_, loaded.converged_) == (
            model.n_features_in_, model.n_epochs_, model.converged_)
        np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))

    assert_round_trip(tmp_path, make_model, compare)


def test_wide_label_dtype_is_kept(tmp_path):
    X, positive = _separable()
    y = np.where(positive, "spam", "ham").astype("<U40")

    def make_model():
        return Perceptron(random_state=0).fit(X, y)

    def compare(model, loaded):
        assert loaded.classes_.dtype == np.dtype("<U40")
        assert loaded.predict(X).tolist() == model.predict(X).tolist()

    assert_round_trip(tmp_path, make_model, compare)


@pytest.mark.parametrize("make_model", [rbm, rbm_pcd])
def test_intact_rbm_transforms_and_trains_on_identically(tmp_path, make_model):
    X = _binary(seed=3)

    def compare(model, loaded):
        for name in ("components_", "intercept_visible_", "intercept_hidden_", "chains_"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        for mine, theirs in zip(loaded._velocity, model._velocity, strict=True):
            np.testing.assert_array_equal(mine, theirs)
        assert loaded.history_ == model.history_
        assert (loaded.n_iter_, loaded.n_updates_) == (model.n_iter_, model.n_updates_)
        np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
        np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))
        model.partial_fit(X)
        loaded.partial_fit(X)
        np.testing.assert_array_equal(loaded.components_, model.components_)

    assert_round_trip(tmp_path, make_model, compare)


@pytest.mark.parametrize("change", [
    {"n_chains": 3}, {"n_chains": None, "batch_size": 7}, {"persistent": True, "n_chains": 4}])
def test_rbm_saved_before_its_chains_are_redrawn_trains_on_identically(tmp_path, change):
    # After set_params the next pass draws new fantasy chains; the file holds
    # those, so the loader can check their number and training goes on alike.
    X = _binary(seed=4)

    def make_model():
        model = BernoulliRBM(n_hidden=6, persistent="persistent" not in change, epochs=1,
                             batch_size=5, random_state=2).fit(_binary())
        return model.set_params(**change)

    def compare(model, loaded):
        n_chains = loaded.n_chains or loaded.batch_size
        assert loaded.chains_.shape == (n_chains, 12)
        model.partial_fit(X)
        loaded.partial_fit(X)
        np.testing.assert_array_equal(loaded.chains_, model.chains_)
        np.testing.assert_array_equal(loaded.components_, model.components_)

    assert_round_trip(tmp_path, make_model, compare)


@pytest.mark.parametrize("make_model", [perceptron_unfitted, rbm_unfitted])
def test_intact_unfitted_model_loads_unfitted(tmp_path, make_model):
    def compare(model, loaded):
        assert not any(name.endswith("_") and not name.startswith("_") for name in vars(loaded))

    assert_round_trip(tmp_path, make_model, compare)


def test_trusting_the_config_would_break_the_bound(tmp_path):
    # The bound has teeth: building the model the reported file describes
    # (40,000 hidden units) allocates far more than the bound allows.
    path = crafted_file(tmp_path, rbm, _params("n_hidden", 40_000))
    tracemalloc.start()
    try:
        BernoulliRBM(n_hidden=40_000, epochs=0, random_state=0).fit(_binary())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak > 10 * memory_bound(path)


# --------------------------------------------------------------------------
# PCA and the autoencoders
# --------------------------------------------------------------------------

def _unit(n=40, n_features=12, seed=0):
    return np.random.default_rng(seed).random((n, n_features)).astype(np.float32)


def pca():
    return nnfast.PCA(n_components=3, whiten=True).fit(_unit())


def pca_unfitted():
    return nnfast.PCA(n_components=0.9)


def autoencoder():
    return nnfast.Autoencoder(hidden_layer_sizes=(6,), latent_dim=3, noise=0.2, sparsity=1e-3,
                              tied_weights=True, epochs=2, batch_size=10,
                              random_state=0).fit(_unit())


def autoencoder_plain():
    return nnfast.Autoencoder(hidden_layer_sizes=(6,), latent_dim=3, loss="bce", epochs=2,
                              batch_size=10, random_state=0).fit(_unit())


def stacked_autoencoder():
    return nnfast.StackedAutoencoder(hidden_layer_sizes=(6, 3), epochs=2, batch_size=10,
                                     random_state=0).fit(_unit())


def stacked_unfitted():
    return nnfast.StackedAutoencoder(hidden_layer_sizes=(6, 3))


def vae():
    return nnfast.VAE(hidden_layer_sizes=(6,), latent_dim=2, epochs=2, batch_size=10,
                      random_state=0).fit(_unit())


PCA_CASES = [
    Case(pca, setting(("n_components_",), 10**9), "n_components_"),
    Case(pca, setting(("n_features_in",), 10**9), r"'components' has shape \(3, 12\)"),
    Case(pca, setting(("n_samples",), 1), "n_samples"),
    Case(pca, setting(("total_variance",), -1.0), "total_variance"),
    Case(pca, setting(("total_variance",), float("nan")), "total_variance"),
    Case(pca, _params("n_components", 4), "the parameters ask for 4"),
    Case(pca, _params("n_components", "all"), "n_components"),
    Case(pca, _params("whiten", "yes"), "whiten"),
    Case(pca, _params("svd_solver", "full"), "unexpected key 'svd_solver'"),
    Case(pca, deleting(("n_samples",)), "lacks the key 'n_samples'"),
    Case(pca, removing_array("mean"), "lacks the array 'mean'"),
    Case(pca, adding_array("noise_variance", np.zeros(1)), "unexpected array"),
    Case(pca, changing_array("components", lambda a: np.tile(a, (1000, 1)), "grown"),
         r"'components' has shape \(3000, 12\)"),
    Case(pca, changing_array("components", lambda a: a.astype(np.float32), "float32"),
         "'components' has dtype float32"),
    Case(pca, changing_array("components", lambda a: a * np.nan, "NaN"), "'components' holds NaN"),
    Case(pca, changing_array("explained_variance", lambda a: -a, "negative"), "must not be negative"),
    Case(pca_unfitted, adding_array("components", np.zeros((3, 12))), "unexpected array"),
    Case(pca_unfitted, _params("n_components", -2), "n_components"),
]

_MODEL = ("model",)

AUTOENCODER_CASES = [
    # The network the parameters describe against the one stored: checked before building.
    Case(autoencoder, setting(_MODEL + _layer(1, "units"), 40_000), "parameters describe"),
    Case(autoencoder, _params("latent_dim", 40_000), "parameters describe"),
    Case(autoencoder, _params("hidden_layer_sizes", [6, 6]), "holds 6 layers, .* network of 8"),
    Case(autoencoder, _params("tied_weights", False), "parameters describe"),
    Case(autoencoder, setting(_MODEL + _layer(3, "l1"), 10.0), "layer 3 .* parameters describe"),
    Case(autoencoder, setting(("n_features_in",), 10**9), "parameters describe"),
    Case(autoencoder_plain, _params("latent_dim", 13), "larger than the input"),
    Case(autoencoder_plain, setting(("n_features_in",), 2), "larger than the input"),
    Case(autoencoder_plain, setting(_MODEL + ("layers",), []), "holds 0 layers, .* network of 4"),
    # Parameters out of range.
    Case(autoencoder, _params("noise", 1.5), "noise"),
    Case(autoencoder, _params("noise_type", "salt"), "noise_type"),
    Case(autoencoder, _params("sparsity", -1.0), "sparsity"),
    Case(autoencoder, _params("loss", "hinge"), "loss"),
    Case(autoencoder, _params("loss", "bce"), "compiled with the loss"),
    Case(autoencoder_plain, _params("output_activation", "tanh"), "output_activation"),
    Case(autoencoder, _params("width", 3), "unexpected key 'width'"),
    # History, arrays and streams.
    Case(autoencoder, setting(("history",), [1.0]), r"config\['history'\] must be a JSON object"),
    Case(autoencoder, setting(("history", "loss"), [0.1] * 10**4), "history"),
    Case(autoencoder, setting(("history", "loss"), ["low", "high"]), "must hold numbers"),
    Case(autoencoder, deleting(("history",)), "lacks the key 'history'"),
    Case(autoencoder, changing_array("layers/1/0", lambda a: np.tile(a, (1, 100)), "grown"),
         "layers/1/0"),
    Case(autoencoder, removing_array("layers/4/0"), "lacks the array 'layers/4/0'"),
    Case(autoencoder, setting(_MODEL + ("rng_states", "0"), {"seed": -1, "draws": 0}),
         "random stream"),
]

STACKED_CASES = [
    Case(stacked_autoencoder, _params("hidden_layer_sizes", [6, 40_000]),
         r"hidden_layer_sizes\[1\]=40000 is larger"),
    Case(stacked_autoencoder, _params("hidden_layer_sizes", [6, 3, 2]), "must have 3 items"),
    Case(stacked_autoencoder, setting(("stages",), []), "must have 2 items"),
    Case(stacked_autoencoder, setting(("stages", 1, "params", "latent_dim"), 2),
         "are not those stage 1"),
    Case(stacked_autoencoder, setting(("stages", 1, "n_features_in"), 10**9),
         r"stages'\]\[1\]\['n_features_in'\] must be 6"),
    Case(stacked_autoencoder, setting(("stages", 0) + _MODEL + _layer(0, "units"), 40_000),
         "stage 0: .*parameters describe"),
    Case(stacked_autoencoder, setting(("n_features_in",), 5), "larger than the layer before"),
    Case(stacked_autoencoder, removing_array("stages/1/layers/0/0"),
         "stage 1: .*lacks the array 'layers/0/0'"),
    Case(stacked_autoencoder, adding_array("stages/7/layers/0/0", np.zeros(10**4, np.float32)),
         "unexpected array 'stages/7"),
    Case(stacked_autoencoder, adding_array("extra", np.zeros(3)), "unexpected array 'extra'"),
    Case(stacked_autoencoder, _params("random_state", -3), "random_state"),
    Case(stacked_unfitted, adding_array("stages/0/layers/0/0", np.zeros((12, 6), np.float32)),
         "no fitted stages"),
]


VAE_CASES = [
    Case(vae, _params("latent_dim", 40_000), "latent_dim=40000 is larger than the layer before"),
    Case(vae, _params("latent_dim", 3), "parameters describe"),
    Case(vae, _params("beta", 2.0), "layer 2 .* parameters describe"),
    Case(vae, setting(_MODEL + _layer(2, "penalty_scale"), 1.0), "parameters describe"),
    Case(vae, setting(_MODEL + _layer(1, "units"), 40_000), "parameters describe"),
    Case(vae, setting(("n_features_in",), 10**9), "parameters describe"),
    Case(vae, _params("beta", -1.0), "beta"),
    Case(vae, _params("loss", "mse"), "compiled with the loss \"binary_cross_entropy\", but the "
                                      "parameters name 'mean_squared_error'"),
    Case(vae, setting(("history", "kl"), [0.1] * 1000), "history"),
    Case(vae, changing_array("layers/1/0", lambda a: a[:, :2], "narrowed"), "layers/1/0"),
    Case(vae, setting(_MODEL + ("rng_states", "2"), {"seed": 1}), "random stream"),
]


@pytest.mark.parametrize("case", case_params(PCA_CASES + AUTOENCODER_CASES + STACKED_CASES
                                             + VAE_CASES))
def test_crafted_autoencoder_or_pca_file_is_rejected(tmp_path, case):
    assert_rejected(tmp_path, case)


@pytest.mark.parametrize("make_model", [pca, pca_unfitted, autoencoder, autoencoder_plain,
                                        stacked_autoencoder, stacked_unfitted, vae])
def test_intact_autoencoder_or_pca_file_transforms_identically(tmp_path, make_model):
    X = _unit(seed=5)

    def compare(model, loaded):
        if make_model in (pca_unfitted, stacked_unfitted):
            assert not any(name.endswith("_") and not name.startswith("_")
                           for name in vars(loaded))
            return
        np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
        if hasattr(model, "reconstruct"):
            np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))

    assert_round_trip(tmp_path, make_model, compare)
