"""Reference 2-D convolution: the definition of what the convolution ops compute.

Images are channels last (NHWC): a batch is ``(n, height, width, channels)``
and a kernel ``(kh, kw, c_in, c_out)``, which is also a ``(kh * kw * c_in,
c_out)`` matrix.  The ops gather every output position's receptive field
into a row of a patch matrix (``im2col``: one strided copy per kernel
offset, never a loop over samples), so that the convolution is one matrix
product and its gradients two more.  Written against ``self.xp``, so the
same code runs on numpy and cupy; the compiled
:class:`~nnfast.backend.cpu_conv.CpuConvOps` is tested against it.
"""
from ._base import BaseOps


def conv_output_size(size, kernel, stride, pad_before, pad_after):
    """Positions of a window of ``kernel`` moved by ``stride`` along a padded axis.

    Parameters
    ----------
    size : int
        Length of the axis before padding.
    kernel, stride : int
        Window length and step (``stride >= 1``).
    pad_before, pad_after : int
        Zeros added at each end.

    Returns
    -------
    int
        ``(size + pad_before + pad_after - kernel) // stride + 1``, or 0 when
        the window is longer than the padded axis.
    """
    padded = size + pad_before + pad_after
    if padded < kernel:
        return 0
    return (padded - kernel) // stride + 1


class ConvOps(BaseOps):
    """2-D convolution (cross-correlation, as Keras and PyTorch) and its gradients."""

    def _geometry(self, x_shape, kernel_shape, strides, padding):
        n, h, w, c = x_shape
        kh, kw = kernel_shape[:2]
        top, bottom, left, right = padding
        ho = conv_output_size(h, kh, strides[0], top, bottom)
        wo = conv_output_size(w, kw, strides[1], left, right)
        return n, h, w, c, kh, kw, ho, wo

    def _patches(self, x, kh, kw, ho, wo, strides, padding):
        """The patch matrix of ``x``: ndarray of shape (n * ho * wo, kh * kw * c).

        Row ``(s * ho + i) * wo + j`` holds the window of output position
        ``(i, j)`` of sample ``s``, ordered as the kernel's rows: offset
        ``(di, dj)``, then channel.
        """
        xp = self.xp
        n, c = x.shape[0], x.shape[3]
        sh, sw = strides
        top, bottom, left, right = padding
        if top or bottom or left or right:
            x = xp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        cols = self.alloc((n, ho, wo, kh, kw, c), dtype=x.dtype, zeros=False)
        for di in range(kh):
            for dj in range(kw):
                cols[:, :, :, di, dj, :] = x[:, di:di + sh * (ho - 1) + 1:sh,
                                             dj:dj + sw * (wo - 1) + 1:sw, :]
        return cols.reshape(n * ho * wo, kh * kw * c)

    def conv2d(self, x, kernel, bias=None, strides=(1, 1), padding=(0, 0, 0, 0), out=None):
        """Cross-correlate a batch of images with a bank of kernels.

        Parameters
        ----------
        x : ndarray of shape (n, h, w, c)
        kernel : ndarray of shape (kh, kw, c, f)
        bias : ndarray of shape (f,), optional
        strides : tuple of 2 int
            Steps ``(sh, sw)`` of the window, each at least 1.
        padding : tuple of 4 int
            Rows or columns of zeros added (top, bottom, left, right).
        out : ndarray of shape (n, ho, wo, f), optional
            Written in place and returned.

        Returns
        -------
        ndarray of shape (n, ho, wo, f)
            ``ho = (h + top + bottom - kh) // sh + 1``, ``wo`` likewise.
        """
        n, h, w, c, kh, kw, ho, wo = self._geometry(x.shape, kernel.shape, strides, padding)
        f = kernel.shape[3]
        cols = self._patches(x, kh, kw, ho, wo, strides, padding)
        y = cols @ kernel.reshape(kh * kw * c, f)
        if bias is not None:
            y += bias
        y = y.reshape(n, ho, wo, f)
        if out is None:
            return y
        out[...] = y
        return out

    def conv2d_backward(self, dy, x, kernel, strides=(1, 1), padding=(0, 0, 0, 0),
                        dkernel=None, dbias=None, dx=None):
        """Gradients of :meth:`conv2d` with respect to the kernel, the bias and the input.

        Parameters
        ----------
        dy : ndarray of shape (n, ho, wo, f)
            Gradient with respect to the output.
        x : ndarray of shape (n, h, w, c)
            The input of the forward pass.
        kernel : ndarray of shape (kh, kw, c, f)
        strides, padding
            As given to :meth:`conv2d`.
        dkernel : ndarray of shape (kh, kw, c, f), optional
            Receives the kernel gradient (skipped when None).
        dbias : ndarray of shape (f,), optional
            Receives the bias gradient, ``dy`` summed over all but its last
            axis (skipped when None).
        dx : ndarray of shape (n, h, w, c), None or False
            Receives the input gradient; None allocates it, False skips it.

        Returns
        -------
        ndarray of shape (n, h, w, c) or None
            The input gradient, None when ``dx`` is False.
        """
        xp = self.xp
        n, h, w, c, kh, kw, ho, wo = self._geometry(x.shape, kernel.shape, strides, padding)
        f = kernel.shape[3]
        dy2 = dy.reshape(n * ho * wo, f)
        if dkernel is not None:
            cols = self._patches(x, kh, kw, ho, wo, strides, padding)
            dkernel[...] = (cols.T @ dy2).reshape(kernel.shape)
        if dbias is not None:
            dbias[...] = dy2.sum(axis=0)
        if dx is False:
            return None
        sh, sw = strides
        top, bottom, left, right = padding
        dcols = (dy2 @ kernel.reshape(kh * kw * c, f).T).reshape(n, ho, wo, kh, kw, c)
        dpad = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=dy.dtype)
        # Windows overlap when a stride is smaller than the kernel: each offset
        # adds its share, one offset at a time, so no two writes of one
        # assignment hit the same element.
        for di in range(kh):
            for dj in range(kw):
                dpad[:, di:di + sh * (ho - 1) + 1:sh, dj:dj + sw * (wo - 1) + 1:sw, :] += \
                    dcols[:, :, :, di, dj, :]
        grad = dpad[:, top:top + h, left:left + w, :]
        if dx is None:
            return xp.ascontiguousarray(grad)
        dx[...] = grad
        return dx
