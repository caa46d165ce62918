"""Every example in a docstring runs and prints what it shows."""
import doctest
import importlib
import pkgutil

import pytest

import nnfast


def _modules():
    names = ["nnfast"]
    for info in pkgutil.walk_packages(nnfast.__path__, prefix="nnfast."):
        if not info.name.rsplit(".", 1)[-1].startswith("__"):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_public_classes_have_examples():
    missing = []
    for name in nnfast.__all__:
        obj = getattr(nnfast, name)
        if isinstance(obj, type) and not issubclass(obj, Exception) and ">>>" not in (obj.__doc__ or ""):
            missing.append(name)
    assert not missing, f"public classes without an example: {missing}"
