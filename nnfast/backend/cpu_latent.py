"""Compiled activity penalties and Gaussian sampler (kernels in ``nnfast._latent``), and their nodes.

Penalties are summed in double, in a fixed order, so that they do not
depend on the number of threads.  Each op checks its shapes and the arrays
it writes and raises ``ValueError`` naming what was expected; inputs that
are not float32 or float64 numpy arrays go to the reference implementation.
The ops return penalties as 0-d float64 arrays, as the reference does.
"""
import math

import numpy as np

from .. import _latent
from ._threads import elementwise_threads
from .cpu_arrays import F64, c_order, float_dtype
from .cpu_network import register_node_maker
from .cpu_noise import check_written


def _check_matrix(op, x):
    if x.ndim != 2:
        raise ValueError(f"{op}: expected a 2-D array (n_samples, n_values), got shape {x.shape}")


def _check_pair(op, x):
    _check_matrix(op, x)
    if x.shape[1] % 2:
        raise ValueError(f"{op}: x must hold [mu, log_var] in an even number of columns, got "
                         f"shape {x.shape}")


class CpuLatentOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_latent.LatentOps`.

    A mixin of ``CpuOps``.
    """

    def activity_penalty(self, h, l1, kl, target, mean_out=None):
        """The sparsity penalty of ``h``, summed in double in one pass.

        See Also
        --------
        nnfast.backend.ops_latent.LatentOps.activity_penalty : parameters and return value.
        """
        dtype = float_dtype(h)
        if dtype is None or h.size == 0:
            return super().activity_penalty(h, l1, kl, target, mean_out=mean_out)
        _check_matrix("activity_penalty", h)
        check_written("activity_penalty", "mean_out", mean_out, F64, (h.shape[1],), h)
        mean = np.zeros(h.shape[1]) if mean_out is None else mean_out
        value = _latent.activity_penalty(c_order(h), float(l1), float(kl), float(target), mean)
        return np.asarray(value), mean

    def backprop_activity_penalty(self, dy, h, mean, l1, kl, target, scale, out=None):
        """``dy`` plus ``scale`` times the penalty's gradient, in one pass.

        See Also
        --------
        nnfast.backend.ops_latent.LatentOps.backprop_activity_penalty : parameters and return value.
        """
        dtype = float_dtype(dy, h)
        if dtype is None or dy.size == 0 or float_dtype(mean) != F64:
            return super().backprop_activity_penalty(dy, h, mean, l1, kl, target, scale, out=out)
        _check_matrix("backprop_activity_penalty", h)
        if dy.shape != h.shape or mean.shape != (h.shape[1],):
            raise ValueError(f"backprop_activity_penalty: dy {dy.shape}, h {h.shape} and mean "
                             f"{mean.shape} must be (n, m), (n, m) and (m,)")
        dy, h, mean = c_order(dy), c_order(h), c_order(mean)
        if out is not dy:
            check_written("backprop_activity_penalty", "out", out, dtype, dy.shape, dy, h)
        out = np.empty_like(dy) if out is None else out
        _latent.backprop_activity_penalty(dy, h, mean, out, float(l1), float(kl), float(target),
                                          float(scale), elementwise_threads(dy.size))
        return out

    def gaussian_sample(self, x, seed, draw, training=True, out=None, eps_out=None):
        """The reparameterised sample, ``eps`` from the compiled generator's stream ``(seed, draw)``.

        See Also
        --------
        nnfast.backend.ops_latent.LatentOps.gaussian_sample : parameters and return value.
        """
        dtype = float_dtype(x)
        if dtype is None or x.size == 0:
            return super().gaussian_sample(x, seed, draw, training=training, out=out,
                                           eps_out=eps_out)
        _check_pair("gaussian_sample", x)
        x = c_order(x)
        shape = (x.shape[0], x.shape[1] // 2)
        check_written("gaussian_sample", "out", out, dtype, shape, x)
        out = np.empty(shape, dtype) if out is None else out
        if not training:
            _latent.gaussian_mean(x, out)
            return out, None
        check_written("gaussian_sample", "eps_out", eps_out, dtype, shape, x, out)
        eps = np.empty(shape, dtype) if eps_out is None else eps_out
        _latent.gaussian_sample(x, out, eps, int(seed) % 2**64, int(draw) % 2**64)
        return out, eps

    def gaussian_kl(self, x):
        """The KL term of the code ``x = [mu, log_var]``, summed in double.

        See Also
        --------
        nnfast.backend.ops_latent.LatentOps.gaussian_kl : parameters and return value.
        """
        dtype = float_dtype(x)
        if dtype is None or x.size == 0:
            return super().gaussian_kl(x)
        _check_pair("gaussian_kl", x)
        return np.asarray(_latent.gaussian_kl(c_order(x)))

    def backprop_gaussian_sample(self, dz, x, eps, scale, out=None):
        """The gradient of the sample and of ``scale`` times the KL term, in one pass.

        See Also
        --------
        nnfast.backend.ops_latent.LatentOps.backprop_gaussian_sample : parameters and return value.
        """
        dtype = float_dtype(dz, x) if eps is None else float_dtype(dz, x, eps)
        if dtype is None or dz.size == 0:
            return super().backprop_gaussian_sample(dz, x, eps, scale, out=out)
        _check_pair("backprop_gaussian_sample", x)
        shape = (x.shape[0], x.shape[1] // 2)
        if dz.shape != shape or (eps is not None and eps.shape != shape):
            raise ValueError(f"backprop_gaussian_sample: dz and eps must have shape {shape} for "
                             f"x of shape {x.shape}, got {dz.shape} and "
                             f"{None if eps is None else eps.shape}")
        dz, x = c_order(dz), c_order(x)
        eps = None if eps is None else c_order(eps)
        check_written("backprop_gaussian_sample", "out", out, dtype, x.shape,
                      *(a for a in (dz, x, eps) if a is not None))
        out = np.empty_like(x) if out is None else out
        _latent.backprop_gaussian_sample(dz, x, eps, out, float(scale))
        return out


def _io_ok(io):
    return type(io) is np.ndarray and io.dtype == F64 and io.shape == (3,) and io.flags.c_contiguous


def _activity_node(spec, dtype, fused_output):
    if not _io_ok(spec["penalty_io"]):
        return None
    return _latent.ActivityNode(math.prod(spec["out_shape"]), spec["l1"], spec["kl"],
                                spec["target"], spec["penalty_io"], dtype.itemsize)


def _sampler_node(spec, dtype, fused_output):
    draws = spec["draws"]
    if not (_io_ok(spec["penalty_io"]) and type(draws) is np.ndarray
            and draws.dtype == np.uint64 and draws.shape == (1,)):
        return None
    return _latent.SamplerNode(math.prod(spec["out_shape"]), spec["seed"] % 2**64, draws,
                               spec["penalty_io"], dtype.itemsize)


register_node_maker("activity_regularization", _activity_node)
register_node_maker("gaussian_sampler", _sampler_node)
