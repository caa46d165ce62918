"""Reference batch normalisation: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_normalization.CpuNormalizationOps`
overrides them and is tested against these methods.  Features lie on the last
axis and ``x`` is passed as rows: (m, c), where m is the number of samples
after a dense layer and ``n * height * width`` after a convolution (NHWC).
Sums are taken in float64 whatever the dtype of ``x``.
"""
from ._base import BaseOps


def _write(dest, value):
    """``value`` written into ``dest`` when ``dest`` is an array, else ``value``."""
    if dest is None:
        return value
    dest[...] = value
    return dest


class NormalizationOps(BaseOps):
    """Batch normalisation of the columns of a matrix, and its gradients."""

    def batch_norm_train(self, x, gamma, beta, epsilon, momentum, moving_mean, moving_variance,
                         mean, invstd, out=None):
        """Normalise each column by the batch's statistics; update the moving ones.

        Parameters
        ----------
        x : ndarray of shape (m, c)
        gamma, beta : ndarray of shape (c,)
            Scale and offset applied after normalising.
        epsilon : float
            Added to the variance.
        momentum : float
            Weight of the old moving statistics in their update.
        moving_mean, moving_variance : ndarray of shape (c,)
            Updated in place: ``moving = momentum * moving + (1 - momentum) *
            batch``, with the batch's biased variance.
        mean, invstd : ndarray of shape (c,) or None
            Receive the batch mean and ``1 / sqrt(var + epsilon)``, which
            :meth:`batch_norm_backward` needs (None: not kept).
        out : ndarray of shape (m, c), optional
            May be ``x``.

        Returns
        -------
        ndarray of shape (m, c)
            ``gamma * (x - mean) * invstd + beta``.
        """
        xp = self.xp
        dtype = x.dtype
        batch_mean = xp.mean(x, axis=0, dtype=xp.float64)
        centred = x - batch_mean.astype(dtype)
        variance = xp.mean(centred * centred, axis=0, dtype=xp.float64)
        scale = 1.0 / xp.sqrt(variance + epsilon)
        mean = _write(mean, batch_mean)
        invstd = _write(invstd, scale)
        moving_mean *= momentum
        moving_mean += (1.0 - momentum) * batch_mean
        moving_variance *= momentum
        moving_variance += (1.0 - momentum) * variance
        result = centred * (gamma * scale).astype(dtype) + beta
        return _write(out, result.astype(dtype, copy=False))

    def batch_norm_inference(self, x, gamma, beta, moving_mean, moving_variance, epsilon,
                             out=None):
        """Normalise each column by the moving statistics.

        Parameters
        ----------
        x : ndarray of shape (m, c)
        gamma, beta, moving_mean, moving_variance : ndarray of shape (c,)
        epsilon : float
        out : ndarray of shape (m, c), optional
            May be ``x``.

        Returns
        -------
        ndarray of shape (m, c)
            ``gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta``.
        """
        xp = self.xp
        scale = gamma / xp.sqrt(moving_variance.astype(xp.float64) + epsilon)
        result = (x - moving_mean) * scale.astype(x.dtype) + beta
        return _write(out, result.astype(x.dtype, copy=False))

    def batch_norm_backward(self, dy, x, gamma, mean, invstd, dgamma=None, dbeta=None, dx=None):
        """Gradients of :meth:`batch_norm_train` given ``dy``.

        With ``xhat = (x - mean) * invstd``: ``dbeta = sum(dy)``, ``dgamma =
        sum(dy * xhat)`` (sums over rows) and ``dx = gamma * invstd / m * (m
        * dy - dbeta - xhat * dgamma)``.

        Parameters
        ----------
        dy, x : ndarray of shape (m, c)
        gamma, mean, invstd : ndarray of shape (c,)
            ``mean`` and ``invstd`` as :meth:`batch_norm_train` wrote them.
        dgamma, dbeta : ndarray of shape (c,) or None
            Written when given; the sums are taken either way, since ``dx``
            needs them.
        dx : ndarray of shape (m, c), None or False
            None allocates, False skips the input gradient.

        Returns
        -------
        ndarray of shape (m, c), or None when ``dx`` is False
        """
        xp = self.xp
        dtype = x.dtype
        m = x.shape[0]
        xhat = (x - mean) * invstd
        sum_dy = xp.sum(dy, axis=0, dtype=xp.float64)
        sum_dy_xhat = xp.sum(dy * xhat, axis=0, dtype=xp.float64)
        if dgamma is not None:
            dgamma[...] = sum_dy_xhat
        if dbeta is not None:
            dbeta[...] = sum_dy
        if dx is False:
            return None
        scale = (gamma * invstd / m).astype(dtype)
        result = scale * (m * dy - sum_dy.astype(dtype) - xhat * sum_dy_xhat.astype(dtype))
        return _write(dx, result.astype(dtype, copy=False))

    def batch_norm_inference_backward(self, dy, x, gamma, moving_mean, moving_variance, epsilon,
                                      dgamma=None, dbeta=None, dx=None):
        """Gradients of :meth:`batch_norm_inference` given ``dy`` (a frozen layer in training).

        The statistics are constants here, so the map is affine per column:
        with ``invstd = 1 / sqrt(moving_variance + epsilon)`` and ``xhat = (x
        - moving_mean) * invstd``, ``dbeta = sum(dy)``, ``dgamma = sum(dy *
        xhat)`` and ``dx = dy * gamma * invstd``.

        Parameters
        ----------
        dy, x : ndarray of shape (m, c)
        gamma, moving_mean, moving_variance : ndarray of shape (c,)
        epsilon : float
        dgamma, dbeta : ndarray of shape (c,) or None
            Written when given.
        dx : ndarray of shape (m, c), None or False
            None allocates, False skips the input gradient.

        Returns
        -------
        ndarray of shape (m, c), or None when ``dx`` is False
        """
        xp = self.xp
        dtype = x.dtype
        invstd = (1.0 / xp.sqrt(moving_variance.astype(xp.float64) + epsilon)).astype(dtype)
        if dgamma is not None:
            dgamma[...] = xp.sum(dy * ((x - moving_mean) * invstd), axis=0, dtype=xp.float64)
        if dbeta is not None:
            dbeta[...] = xp.sum(dy, axis=0, dtype=xp.float64)
        if dx is False:
            return None
        return _write(dx, (dy * (gamma * invstd)).astype(dtype, copy=False))
