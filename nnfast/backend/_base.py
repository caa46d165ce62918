"""Array plumbing shared by every backend: allocation, conversion, random numbers."""
import contextlib

import numpy


class BaseOps:
    """Allocation and conversion over an array module ``xp`` (numpy or cupy).

    Parameters
    ----------
    xp : module, optional
        The array module; numpy unless a subclass says otherwise.
    """

    name = "numpy"
    xp = numpy

    def __init__(self, xp=None):
        if xp is not None:
            self.xp = xp

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"

    def kernel_threads(self):
        """Context that models hold around a whole ``fit``, ``predict`` or ``evaluate``.

        The compiled backend holds BLAS to one thread inside it, once, while
        its kernels share the products out among their own threads (see
        :func:`nnfast.backend.own_threads`); the reference holds nothing.
        """
        return contextlib.nullcontext()

    def alloc(self, shape, dtype="float32", zeros=True):
        """Return a new C-contiguous array of ``shape`` (zero-filled unless ``zeros`` is False)."""
        if zeros:
            return self.xp.zeros(shape, dtype=dtype)
        return self.xp.empty(shape, dtype=dtype)

    def asarray(self, x, dtype=None):
        """Return ``x`` as a C-contiguous array of this backend (no copy when possible)."""
        return self.xp.ascontiguousarray(self.xp.asarray(x, dtype=dtype))

    def to_numpy(self, x):
        """Return ``x`` as a numpy array on the host."""
        if isinstance(x, numpy.ndarray):
            return x
        return x.get() if hasattr(x, "get") else numpy.asarray(x)

    def permute(self, x, axes, out=None):
        """``x`` with its axes reordered as ``axes``, copied into C order (into ``out`` if given)."""
        view = x.transpose(axes)
        if out is None:
            return self.xp.ascontiguousarray(view)
        out[...] = view
        return out

    def rng(self, seed=None):
        """Return a random generator of this backend seeded by ``seed``."""
        return self.xp.random.default_rng(seed)

    def random_uniform(self, rng, shape, dtype="float32", out=None):
        """Uniform samples in [0, 1) drawn from ``rng``."""
        if out is None:
            return rng.random(shape, dtype=dtype)
        rng.random(out.shape, dtype=out.dtype, out=out)
        return out

    def random_normal(self, rng, shape, dtype="float32", scale=1.0):
        """Normal samples with mean 0 and standard deviation ``scale``."""
        return (rng.standard_normal(shape, dtype=dtype) * scale).astype(dtype, copy=False)

    # Numerically stable elementwise helpers shared by the op families.
    def _sigmoid(self, z):
        """``1 / (1 + exp(-z))``, split by sign so ``exp`` never overflows."""
        xp = self.xp
        e = xp.exp(-xp.abs(z))
        return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)

    def _softplus(self, z):
        """``log(1 + exp(z))`` without overflow."""
        xp = self.xp
        return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))
