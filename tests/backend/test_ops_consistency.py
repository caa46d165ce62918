"""Backends cannot drift: each has exactly the reference Ops's public methods.

The classes are inspected, never instantiated, so the GPU backend is checked
on machines without cupy.  Methods are collected when the tests are
collected, so every family of operations (dense, perceptron, RBM, ...) is
covered as soon as it is joined into the classes.
"""
import inspect

import pytest

from nnfast.backend.cpu_ops import CpuOps
from nnfast.backend.cupy_ops import CupyOps
from nnfast.backend.ops import Ops

BACKENDS = [CpuOps, CupyOps]


def public_methods(cls):
    """Names of the public callables ``cls`` has, inherited ones included."""
    return {
        name for name in dir(cls)
        if not name.startswith("_")
        and callable(getattr(cls, name))
        and not inspect.isclass(getattr(cls, name))
    }


def own_classes(cls):
    """The classes in ``cls``'s MRO that the reference Ops does not have (its mixins)."""
    return [klass for klass in cls.__mro__ if klass not in Ops.__mro__]


def _method_cases():
    cases = []
    for cls in BACKENDS:
        for klass in own_classes(cls):
            for name, value in vars(klass).items():
                if not name.startswith("_") and callable(value):
                    cases.append(pytest.param(klass, name, id=f"{klass.__name__}.{name}"))
    return cases


def test_reference_has_methods():
    # The comparisons below are only meaningful if there is something to compare.
    assert {"gemm", "affine", "activation", "adam_update"} <= public_methods(Ops)


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_same_public_methods_as_reference(cls):
    extra = public_methods(cls) - public_methods(Ops)
    missing = public_methods(Ops) - public_methods(cls)
    assert not extra, f"{cls.__name__} has public methods Ops lacks: {sorted(extra)}"
    assert not missing, f"{cls.__name__} lacks {sorted(missing)}"


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_backend_subclasses_reference(cls):
    assert issubclass(cls, Ops)


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_every_public_method_has_the_reference_signature(cls):
    mismatched = {}
    for name in sorted(public_methods(cls) & public_methods(Ops)):  # extras: see above
        ours = inspect.signature(getattr(cls, name))
        reference = inspect.signature(getattr(Ops, name))
        if ours != reference:
            mismatched[name] = f"{ours} != {reference}"
    assert not mismatched, f"{cls.__name__} signatures differ from Ops: {mismatched}"


@pytest.mark.parametrize("klass, name", _method_cases())
def test_override_matches_reference(klass, name):
    # Checked per defining class: a mixin's method shadowed by an earlier
    # mixin in the MRO must not drift either.
    assert hasattr(Ops, name), f"{klass.__name__}.{name} overrides nothing in Ops"
    method = inspect.getattr_static(klass, name)
    reference = inspect.getattr_static(Ops, name)
    assert type(method) is type(reference), (
        f"{klass.__name__}.{name} is a {type(method).__name__}, Ops's a "
        f"{type(reference).__name__}")
    assert inspect.signature(getattr(klass, name)) == inspect.signature(getattr(Ops, name))
