"""Reference matrix products of the dense layers: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_products.CpuProductOps` overrides them and is
tested against these methods.  Conventions: matrices are row-major with
samples along the first axis; ``out=`` lets callers reuse buffers (``out``
may alias an input where a docstring says so).
"""
from ._base import BaseOps


class ProductOps(BaseOps):
    """Matrix products: ``gemm``, the affine map of a layer and its gradients."""

    def gemm(self, a, b, out=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """``out = alpha * op(a) @ op(b) + beta * out``.

        Parameters
        ----------
        a : ndarray of shape (m, k), or (k, m) when ``trans_a``
        b : ndarray of shape (k, n), or (n, k) when ``trans_b``
        out : ndarray of shape (m, n), optional
            Required when ``beta`` is not 0.

        Returns
        -------
        ndarray of shape (m, n)
        """
        a = a.T if trans_a else a
        b = b.T if trans_b else b
        prod = a @ b
        if alpha != 1.0:
            prod *= alpha
        if out is None:
            return prod
        if beta == 0.0:
            out[...] = prod
        else:
            out *= beta
            out += prod
        return out

    def affine(self, x, w, b, out=None):
        """``out = x @ w + b``.

        Parameters
        ----------
        x : ndarray of shape (n_samples, n_in)
        w : ndarray of shape (n_in, n_out)
        b : ndarray of shape (n_out,)
        out : ndarray of shape (n_samples, n_out), optional

        Returns
        -------
        ndarray of shape (n_samples, n_out)
        """
        if out is None:
            out = self.alloc((x.shape[0], w.shape[1]), dtype=x.dtype, zeros=False)
        out[...] = b
        return self.gemm(x, w, out=out, beta=1.0)

    def backprop_affine(self, dz, x, w, dw, db, dx=None):
        """Gradients of ``z = x @ w + b`` given ``dz``.

        Writes ``dw = x.T @ dz`` and ``db = dz.sum(0)`` in place and returns
        ``dx = dz @ w.T`` (into ``dx`` when given; skipped when ``dx`` is
        False, as for the first layer).

        Parameters
        ----------
        dz : ndarray of shape (n_samples, n_out)
        x : ndarray of shape (n_samples, n_in)
        w : ndarray of shape (n_in, n_out)
        dw : ndarray of shape (n_in, n_out)
        db : ndarray of shape (n_out,)
        dx : ndarray of shape (n_samples, n_in), None or False

        Returns
        -------
        ndarray of shape (n_samples, n_in), or None when ``dx`` is False
        """
        self.gemm(x, dz, out=dw, trans_a=True)
        self.sum_rows(dz, out=db)
        if dx is False:
            return None
        return self.gemm(dz, w, out=dx, trans_b=True)

    def sum_rows(self, x, out=None):
        """Column sums of ``x`` (sum over samples): ndarray of shape (n_cols,)."""
        if out is None:
            return x.sum(axis=0)
        out[...] = x.sum(axis=0)
        return out
