"""Reference input noise: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_noise.CpuNoiseOps` overrides it and is
tested against these methods.  Each op's noise is draw number ``draw`` of the
stream ``seed``: the same pair gives the same noise.  The compiled backend
draws from its own generator, so its noise differs from this reference's
(in its values, not in its distribution).
"""
import numpy

from ._base import BaseOps


def _stream(seed, draw):
    """The seed of the reference generator for draw ``draw`` of the stream ``seed``."""
    return int(numpy.random.SeedSequence([int(seed), int(draw)]).generate_state(1, numpy.uint64)[0])


class NoiseOps(BaseOps):
    """Gaussian and masking noise on a layer's input, and standard normal draws."""

    def standard_normal(self, shape, seed, draw, dtype="float32", out=None):
        """Standard normal values: draw number ``draw`` of the stream ``seed``.

        Parameters
        ----------
        shape : tuple of int
        seed, draw : int
        dtype : {'float32', 'float64'}
        out : ndarray of ``shape`` and ``dtype``, optional

        Returns
        -------
        ndarray of shape ``shape``
        """
        values = self.random_normal(self.rng(_stream(seed, draw)), shape, dtype="float64")
        if out is None:
            return values.astype(dtype, copy=False)
        out[...] = values
        return out

    def gaussian_noise(self, x, stddev, seed, draw, out=None):
        """``x`` plus normal noise of standard deviation ``stddev``.

        Parameters
        ----------
        x : ndarray of any shape
        stddev : float, at least 0
        seed, draw : int
            The noise is draw number ``draw`` of the stream ``seed``.
        out : ndarray of the shape and dtype of ``x``, optional
            May be ``x``.

        Returns
        -------
        ndarray of the shape of ``x``
        """
        noise = self.standard_normal(x.shape, seed, draw, dtype=x.dtype)
        noise *= x.dtype.type(stddev)
        return self.xp.add(x, noise, out=out)

    def masking_noise(self, x, rate, seed, draw, out=None, mask_out=None):
        """``x`` with each value set to 0 with probability ``rate`` (the others unchanged).

        The corruption of a denoising autoencoder: unlike dropout, the
        values kept are not rescaled.

        Parameters
        ----------
        x : ndarray of any shape
        rate : float in [0, 1)
        seed, draw : int
            The mask is draw number ``draw`` of the stream ``seed``.
        out, mask_out : ndarray of the shape and dtype of ``x``, optional
            ``out`` may be ``x``.

        Returns
        -------
        y : ndarray
            ``x * mask``.
        mask : ndarray
            1 where a value is kept, 0 where it is masked.
        """
        keep = self.random_uniform(self.rng(_stream(seed, draw)), x.shape, dtype="float32") >= rate
        mask = keep.astype(x.dtype)
        if mask_out is not None:
            mask_out[...] = mask
            mask = mask_out
        return self.xp.multiply(x, mask, out=out), mask
