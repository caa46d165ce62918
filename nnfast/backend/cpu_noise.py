"""Compiled input noise (kernels in ``nnfast._noise``), and its network nodes.

The noise comes from the xoshiro256** generator of ``csrc/_rng.pxd``
(normals by the ziggurat method, ``csrc/nnf_ziggurat.h``) and the uniform
rows that dropout uses (masks), one stream per block of values, so that it depends on the
seed, the draw and each value's position, not on the number of threads.
Each op checks the arrays it writes (C-contiguous, of the input's dtype and
shape, apart from the input unless a docstring allows it) and raises
``ValueError`` naming what was expected; inputs that are not float32 or
float64 numpy arrays go to the reference implementation.
"""
import math

import numpy as np

from .. import _dropout, _network, _noise
from ._threads import elementwise_threads
from .cpu_arrays import c_order, float_dtype, is_out, shares
from .cpu_network import register_node_maker


def check_written(op, name, array, dtype, shape, *inputs):
    """``array`` as an output: None, or a C-contiguous ndarray of ``dtype`` and ``shape`` apart from ``inputs``."""
    if array is None:
        return
    if not (is_out(array, dtype) and array.shape == shape):
        raise ValueError(f"{op}: {name} must be a C-contiguous {dtype.name} array of shape "
                         f"{shape}, got {getattr(array, 'dtype', type(array).__name__)} of shape "
                         f"{getattr(array, 'shape', None)}")
    if shares(array, *inputs):
        raise ValueError(f"{op}: {name} must not overlap the inputs")


def _key(seed, draw):
    return int(seed) % 2**64, int(draw) % 2**64


class CpuNoiseOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_noise.NoiseOps`.

    A mixin of ``CpuOps``.
    """

    def standard_normal(self, shape, seed, draw, dtype="float32", out=None):
        """Standard normals of the compiled generator's stream ``(seed, draw)``.

        See Also
        --------
        nnfast.backend.ops_noise.NoiseOps.standard_normal : parameters and return value.
        """
        dtype = np.dtype(dtype)
        shape = tuple(shape)
        if dtype not in (np.float32, np.float64) or math.prod(shape) == 0:
            return super().standard_normal(shape, seed, draw, dtype=dtype, out=out)
        check_written("standard_normal", "out", out, dtype, shape)
        out = np.empty(shape, dtype) if out is None else out
        _noise.normals(out.reshape(-1), *_key(seed, draw))
        return out

    def gaussian_noise(self, x, stddev, seed, draw, out=None):
        """``x`` plus normal noise of standard deviation ``stddev``, in one pass.

        See Also
        --------
        nnfast.backend.ops_noise.NoiseOps.gaussian_noise : parameters and return value.
        """
        dtype = float_dtype(x)
        if dtype is None or x.size == 0:
            return super().gaussian_noise(x, stddev, seed, draw, out=out)
        if not stddev >= 0:
            raise ValueError(f"gaussian_noise: stddev must be at least 0, got {stddev!r}")
        x = c_order(x)
        if out is not x:
            check_written("gaussian_noise", "out", out, dtype, x.shape, x)
        out = np.empty_like(x) if out is None else out
        _noise.gaussian_noise(x.reshape(-1), out.reshape(-1), float(stddev), *_key(seed, draw),
                              elementwise_threads(x.size))
        return out

    def masking_noise(self, x, rate, seed, draw, out=None, mask_out=None):
        """Masking noise in one pass, its mask from the compiled generator's stream ``(seed, draw)``.

        See Also
        --------
        nnfast.backend.ops_noise.NoiseOps.masking_noise : parameters and return value.
        """
        dtype = float_dtype(x)
        if dtype is None or x.size == 0:
            return super().masking_noise(x, rate, seed, draw, out=out, mask_out=mask_out)
        if not 0 <= rate < 1:
            raise ValueError(f"masking_noise: rate must be in [0, 1), got {rate!r}")
        x = c_order(x)
        if out is not x:
            check_written("masking_noise", "out", out, dtype, x.shape, x)
        check_written("masking_noise", "mask_out", mask_out, dtype, x.shape,
                      *(a for a in (x, out) if a is not None))
        out = np.empty_like(x) if out is None else out
        mask = np.empty_like(x) if mask_out is None else mask_out
        # Dropout's kernel, without the rescaling of kept values.
        _dropout.dropout(x.reshape(-1), out.reshape(-1), mask.reshape(-1), float(rate),
                         *_key(seed, draw), elementwise_threads(x.size), rescale=False)
        return out, mask


def _draws_ok(draws):
    return type(draws) is np.ndarray and draws.dtype == np.uint64 and draws.shape == (1,)


def _gaussian_noise_node(spec, dtype, fused_output):
    if not _draws_ok(spec["draws"]) or not spec["stddev"] >= 0:
        return None
    return _noise.GaussianNoiseNode(math.prod(spec["out_shape"]), spec["stddev"],
                                    spec["seed"] % 2**64, spec["draws"], dtype.itemsize)


def _masking_noise_node(spec, dtype, fused_output):
    if not _draws_ok(spec["draws"]) or not 0 <= spec["rate"] < 1:
        return None
    return _network.DropoutNode(math.prod(spec["out_shape"]), spec["rate"],
                                spec["seed"] % 2**64, spec["draws"], dtype.itemsize,
                                rescale=False)


register_node_maker("gaussian_noise", _gaussian_noise_node)
register_node_maker("masking_noise", _masking_noise_node)
