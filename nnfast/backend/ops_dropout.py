"""Reference dropout: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_dropout.CpuDropoutOps` overrides it and is
tested against these methods.  Conventions: matrices are row-major with
samples along the first axis; ``out=`` lets callers reuse buffers (``out``
may alias an input where a docstring says so).
"""
import numpy

from ._base import BaseOps


class DropoutOps(BaseOps):
    """Inverted dropout, and the elementwise product its gradient needs."""

    def dropout(self, x, rate, seed, draw, out=None, mask_out=None):
        """Inverted dropout of ``x``: mask number ``draw`` of the stream ``seed``.

        Parameters
        ----------
        x : ndarray of any shape
        rate : float in [0, 1)
            Probability that a value is dropped.
        seed, draw : int
            The mask depends on these alone (and on the shape): the same
            pair draws the same mask.  The compiled backend draws from its
            own generator, so its masks differ from this reference's.
        out, mask_out : ndarray of the shape of ``x``, optional
            ``out`` may be ``x``.

        Returns
        -------
        y : ndarray
            ``x * mask``.
        mask : ndarray
            ``1 / (1 - rate)`` where a value is kept, 0 where it is dropped.
        """
        key = int(numpy.random.SeedSequence([int(seed), int(draw)]).generate_state(1, numpy.uint64)[0])
        keep = self.random_uniform(self.rng(key), x.shape, dtype="float32") >= rate
        mask = (keep * (1.0 / (1.0 - rate))).astype(x.dtype, copy=False)
        if mask_out is not None:
            mask_out[...] = mask
            mask = mask_out
        return self.multiply(x, mask, out=out), mask

    def multiply(self, a, b, out=None):
        """Elementwise product ``a * b`` (``out`` may be ``a``)."""
        return self.xp.multiply(a, b, out=out)
