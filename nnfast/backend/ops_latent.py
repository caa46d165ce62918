"""Reference penalties on activity and the Gaussian sampler of a variational autoencoder.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_latent.CpuLatentOps` overrides it and is
tested against these methods.  Penalties are means over the batch's samples
and come back as 0-d arrays of the backend, so that nothing waits for a
device to finish before the caller asks for the number.
"""
from ._base import BaseOps

#: Column means of the KL sparsity penalty are kept this far from 0 and 1.
KL_CLIP = 1e-7


class LatentOps(BaseOps):
    """Sparsity penalties on activity, and sampling a Gaussian code with its KL term."""

    def activity_penalty(self, h, l1, kl, target, mean_out=None):
        """The sparsity penalty of the activity ``h``, averaged over samples.

        ``l1 * sum(|h|) / n + kl * sum_j KL(target || rho_j)``, where
        ``rho_j`` is the mean of column ``j`` over the batch and
        ``KL(t || r) = t log(t / r) + (1 - t) log((1 - t) / (1 - r))``, the
        divergence between Bernoulli distributions of means ``t`` and ``r``.
        The KL form expects ``h`` in (0, 1), as after a sigmoid; ``rho`` is
        clipped to ``[1e-7, 1 - 1e-7]``.

        Parameters
        ----------
        h : ndarray of shape (n_samples, n_units)
        l1, kl : float, at least 0
        target : float in (0, 1)
        mean_out : float64 ndarray of shape (n_units,), optional
            Receives the clipped column means (needed by the gradient).

        Returns
        -------
        value : 0-d float64 ndarray
        mean : float64 ndarray of shape (n_units,)
        """
        xp = self.xp
        n = h.shape[0]
        h64 = h.astype(xp.float64, copy=False)
        rho = xp.clip(h64.mean(axis=0), KL_CLIP, 1.0 - KL_CLIP)
        value = xp.zeros((), dtype=xp.float64)
        if l1:
            value = value + l1 * xp.abs(h64).sum() / n
        if kl:
            value = value + kl * (target * xp.log(target / rho)
                                  + (1 - target) * xp.log((1 - target) / (1 - rho))).sum()
        if mean_out is not None:
            mean_out[...] = rho
            rho = mean_out
        return value, rho

    def backprop_activity_penalty(self, dy, h, mean, l1, kl, target, scale, out=None):
        """``dy`` plus ``scale`` times the gradient of :meth:`activity_penalty` with respect to ``h``.

        Parameters
        ----------
        dy, h : ndarray of shape (n_samples, n_units)
        mean : float64 ndarray of shape (n_units,)
            The column means :meth:`activity_penalty` returned for ``h``.
        l1, kl, target : float
            As for :meth:`activity_penalty`.
        scale : float
            The penalty's coefficient in the objective.
        out : ndarray of the shape and dtype of ``dy``, optional
            May be ``dy``.

        Returns
        -------
        ndarray of shape (n_samples, n_units)
        """
        xp = self.xp
        n = h.shape[0]
        grad = (scale * l1 / n) * xp.sign(h.astype(xp.float64, copy=False))
        if kl:
            grad = grad + (scale * kl / n) * (-target / mean + (1 - target) / (1 - mean))
        return xp.add(dy, grad.astype(dy.dtype, copy=False), out=out)

    def gaussian_sample(self, x, seed, draw, training=True, out=None, eps_out=None):
        """The reparameterised sample ``z = mu + exp(log_var / 2) * eps`` of ``x = [mu, log_var]``.

        Parameters
        ----------
        x : ndarray of shape (n_samples, 2 * n_latent)
            Means in the first half of each row, log-variances in the second.
        seed, draw : int
            ``eps`` is draw number ``draw`` of the stream ``seed``
            (:meth:`standard_normal`).
        training : bool
            False returns the means, ``z = mu``, and draws nothing.
        out, eps_out : ndarray of shape (n_samples, n_latent), optional

        Returns
        -------
        z : ndarray of shape (n_samples, n_latent)
        eps : ndarray of shape (n_samples, n_latent), or None when not training
        """
        xp = self.xp
        m = x.shape[1] // 2
        mu, log_var = x[:, :m], x[:, m:]
        if not training:
            if out is None:
                return xp.ascontiguousarray(mu), None
            out[...] = mu
            return out, None
        eps = self.standard_normal((x.shape[0], m), seed, draw, dtype=x.dtype, out=eps_out)
        z = (mu.astype(xp.float64) + xp.exp(0.5 * log_var.astype(xp.float64)) * eps)
        if out is None:
            return z.astype(x.dtype), eps
        out[...] = z
        return out, eps

    def gaussian_kl(self, x):
        """``KL(N(mu, exp(log_var)) || N(0, 1))``, summed over the latent dimensions, averaged over samples.

        ``0.5 * sum_j (exp(log_var_j) + mu_j**2 - 1 - log_var_j)`` per sample.

        Parameters
        ----------
        x : ndarray of shape (n_samples, 2 * n_latent)

        Returns
        -------
        0-d float64 ndarray
        """
        xp = self.xp
        m = x.shape[1] // 2
        mu = x[:, :m].astype(xp.float64)
        log_var = x[:, m:].astype(xp.float64)
        return 0.5 * (xp.exp(log_var) + mu * mu - 1.0 - log_var).sum() / x.shape[0]

    def backprop_gaussian_sample(self, dz, x, eps, scale, out=None):
        """The gradient with respect to ``x = [mu, log_var]`` of the sample and ``scale`` times the KL term.

        Parameters
        ----------
        dz : ndarray of shape (n_samples, n_latent)
            The gradient with respect to ``z``.
        x : ndarray of shape (n_samples, 2 * n_latent)
        eps : ndarray of shape (n_samples, n_latent), or None
            The draws of :meth:`gaussian_sample`; None when ``z`` was ``mu``.
        scale : float
            The KL term's coefficient in the objective.
        out : ndarray of the shape and dtype of ``x``, optional

        Returns
        -------
        ndarray of shape (n_samples, 2 * n_latent)
        """
        xp = self.xp
        n, m = dz.shape
        mu = x[:, :m].astype(xp.float64)
        sigma = xp.exp(0.5 * x[:, m:].astype(xp.float64))
        c = scale / n
        d_mu = dz + c * mu
        d_log_var = c * 0.5 * (sigma * sigma - 1.0)
        if eps is not None:
            d_log_var = d_log_var + 0.5 * sigma * dz * eps
        if out is None:
            out = xp.empty(x.shape, dtype=x.dtype)
        out[:, :m] = d_mu
        out[:, m:] = d_log_var
        return out
