"""A stand-in for cupy on the CPU: numpy arrays that never leave the "device" implicitly.

cupy refuses to turn its arrays into numpy arrays behind the caller's back
(``numpy.asarray(cupy_array)`` raises ``TypeError``) and every scalar read
(``float(x)``, ``bool(x)``, ``x.item()``) waits for the GPU.  Code that is
right on the CPU can therefore stall or fail on a GPU.  :data:`xp` is an array
module over numpy with cupy's manners, made stricter so that such code fails
on the CPU too:

- its arrays (:class:`StrictArray`) refuse implicit conversion to numpy and
  every scalar read, in or out of a training step;
- the only ways back to the host are ``array.get()`` and ``xp.asnumpy``,
  and the only way onto the "device" is ``xp.asarray``/``xp.array`` (or the
  ``*_like``/creation functions); :data:`transfers` counts both;
- mixing a host ndarray into an operation on device arrays raises, as cupy does;
- its random generators have no ``bit_generator`` (cupy's have none either).

:class:`StrictOps` is the reference :class:`~nnfast.backend.ops.Ops` over
:data:`xp`: a model given ``device=StrictOps()`` trains as it would on a GPU.
"""
import operator
import types

import numpy

from nnfast.backend.ops import Ops


class HostTransferError(TypeError):
    """An array tried to leave the device without ``get()`` or ``asnumpy``."""


class _Transfers:
    """How many arrays went each way since the last :meth:`reset`."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.to_host = 0
        self.to_device = 0


transfers = _Transfers()


def _unwrap(value):
    """The numpy values inside ``value`` (recursing into lists, tuples and dicts)."""
    if type(value) is StrictArray:
        return value._a
    if type(value) is numpy.ndarray and value.ndim > 0:
        raise HostTransferError(
            f"a host numpy array of shape {value.shape} was mixed into a device operation; "
            "move it with xp.asarray first")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    """Device arrays for the numpy arrays (and numpy scalars) in ``value``."""
    if isinstance(value, numpy.ndarray):
        return StrictArray(value)
    if isinstance(value, numpy.generic) and not isinstance(value, (numpy.str_, numpy.bytes_)):
        return StrictArray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _on_device(func):
    """``func`` taking and returning device arrays."""
    def call(*args, **kwargs):
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    call.__name__ = getattr(func, "__name__", "call")
    return call


def _refuse(what):
    def method(self, *args, **kwargs):
        raise HostTransferError(
            f"{what} of a device array {self._a.shape} would wait for the device; "
            "read results once, explicitly, with .get() or xp.asnumpy")
    return method


class StrictArray:
    """A numpy array on the pretend device.

    Arithmetic, indexing, methods and numpy functions work as on numpy
    arrays and return device arrays; reading values on the host does not.
    """

    __slots__ = ("_a",)

    def __init__(self, array):
        self._a = array

    # Leaving the device: only explicitly.
    __array__ = _refuse("implicit conversion to numpy")
    __float__ = _refuse("float()")
    __int__ = _refuse("int()")
    __index__ = _refuse("use as an index")
    __bool__ = _refuse("bool()")
    __complex__ = _refuse("complex()")
    item = _refuse(".item()")
    tolist = _refuse(".tolist()")

    def __dlpack_device__(self):
        return (2, 0)  # a CUDA device, as far as anyone asking knows

    def get(self):
        """A host copy (the one sanctioned way back, like cupy's ``get``)."""
        transfers.to_host += 1
        return self._a.copy()

    # What describes an array is known on the host without a transfer.
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: StrictArray(self._a.T))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (StrictArray(numpy.asarray(row)) for row in self._a)

    def __repr__(self):
        return f"StrictArray(shape={self._a.shape}, dtype={self._a.dtype})"

    def __getattr__(self, name):
        if name.startswith("__"):  # __array_interface__ and the like would hand numpy the data
            raise AttributeError(name)
        attr = getattr(self._a, name)
        return _on_device(attr) if callable(attr) else _wrap(attr)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        out = kwargs.get("out")
        if out is not None:
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        result = func(*_unwrap(args), **_unwrap(kwargs))
        out = kwargs.get("out")
        return out if out is not None else _wrap(result)


def _binary(op, reflected=False):
    if reflected:
        return lambda self, other: _wrap(op(_unwrap(other), self._a))
    return lambda self, other: _wrap(op(self._a, _unwrap(other)))


def _inplace(op):
    def method(self, other):
        op(self._a, _unwrap(other))
        return self
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    _op = getattr(operator, _name if _name not in ("and", "or") else _name + "_")
    setattr(StrictArray, f"__{_name}__", _binary(_op))
    setattr(StrictArray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(StrictArray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(StrictArray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_name}__",
            (lambda op: lambda self: _wrap(op(self._a)))(getattr(operator, _name)))
StrictArray.__hash__ = None


class _Generator:
    """A seeded generator on the device; like cupy's, it exposes no ``bit_generator``."""

    def __init__(self, seed=None):
        self._g = numpy.random.default_rng(_unwrap(seed))

    def __getattr__(self, name):
        if name in ("bit_generator", "__getstate__", "__setstate__"):
            raise AttributeError(f"device generators have no {name!r}")
        return _on_device(getattr(self._g, name))


def _asarray(a, dtype=None, order=None, copy=None):
    if type(a) is StrictArray:
        return StrictArray(numpy.asarray(a._a, dtype=dtype, order=order))
    transfers.to_device += 1
    return StrictArray(numpy.array(a, dtype=dtype, order=order if order is not None else "K",
                                   copy=True))


def _ascontiguousarray(a, dtype=None):
    if type(a) is StrictArray:
        return StrictArray(numpy.ascontiguousarray(a._a, dtype=dtype))
    return StrictArray(numpy.ascontiguousarray(_asarray(a, dtype=dtype)._a))


def _asnumpy(a):
    return a.get() if type(a) is StrictArray else numpy.asarray(a)


class _Module(types.SimpleNamespace):
    """numpy's namespace, with every function taking and returning device arrays."""

    def __init__(self, source, **overrides):
        super().__init__(**overrides)
        object.__setattr__(self, "_source", source)

    def __getattr__(self, name):
        attr = getattr(self._source, name)
        if isinstance(attr, types.ModuleType):
            return _Module(attr)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes and constants
        return _on_device(attr)


xp = _Module(numpy, asarray=_asarray, array=_asarray, ascontiguousarray=_ascontiguousarray,
             asnumpy=_asnumpy, ndarray=StrictArray,
             random=_Module(numpy.random, default_rng=_Generator))


class StrictOps(Ops):
    """The reference ops over :data:`xp`: a pretend GPU backend for tests."""

    name = "strict"

    def __init__(self):
        super().__init__(xp=xp)

