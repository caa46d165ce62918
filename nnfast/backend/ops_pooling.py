"""Reference pooling over images: the definition of what each op computes.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_pooling.CpuPoolingOps` overrides them and
is tested against these methods.  Images are channels last, a batch of shape
(n, height, width, channels); windows are valid only (no padding), so a
window of ``ph`` rows at stride ``sh`` gives ``(height - ph) // sh + 1`` rows.
"""
import operator

from ._base import BaseOps


def _pair(op, name, value):
    """``value`` as a pair of positive ints, or a ValueError naming ``name``."""
    try:
        pair = tuple(operator.index(v) for v in value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{op}: {name} must be two integers >= 1, got {value!r}")
    return pair


def pool_output_shape(op, shape, pool_size, strides):
    """The output shape of pooling a batch of ``shape`` (n, h, w, c), checked.

    Parameters
    ----------
    op : str
        The operation's name, for error messages.
    shape : tuple of int
        (n, h, w, c).
    pool_size, strides : pair of int
        Each at least 1; the window must fit in the image.

    Returns
    -------
    tuple of int
        (n, ho, wo, c).
    """
    ph, pw = _pair(op, "pool_size", pool_size)
    sh, sw = _pair(op, "strides", strides)
    if len(shape) != 4:
        raise ValueError(f"{op}: expected a batch of images of shape (n, height, width, "
                         f"channels), got shape {tuple(shape)}")
    n, h, w, c = shape
    if ph > h or pw > w:
        raise ValueError(f"{op}: a pool window of {ph}x{pw} does not fit in images of "
                         f"{h}x{w}; windows are valid only (no padding)")
    return n, (h - ph) // sh + 1, (w - pw) // sw + 1, c


def sample_shape(op, x_shape):
    """``x_shape`` (h, w, c) of one input image as a tuple of ints >= 1, checked."""
    try:
        shape = tuple(operator.index(v) for v in x_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{op}: x_shape must be the shape (height, width, channels) of one "
                         f"input image, got {x_shape!r}")
    return shape


def _window(offset, stride, count):
    """The slice of input positions that window offset ``offset`` takes from ``count`` windows."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


class PoolingOps(BaseOps):
    """Max, average and global average pooling of NHWC images, and their gradients."""

    def max_pool2d(self, x, pool_size, strides, out=None, argmax=None):
        """The largest value of each window, per channel, and where it was.

        Parameters
        ----------
        x : ndarray of shape (n, h, w, c)
        pool_size : pair of int (ph, pw)
        strides : pair of int (sh, sw)
        out : ndarray of shape (n, ho, wo, c), optional
        argmax : int32 ndarray of shape (n, ho, wo, c), optional

        Returns
        -------
        out : ndarray of shape (n, ho, wo, c)
        argmax : int32 ndarray of shape (n, ho, wo, c)
            Index within its sample of each chosen value, ``(i * w + j) * c +
            channel``; a tie goes to the first value in row-major window order.
        """
        xp = self.xp
        n, ho, wo, c = pool_output_shape("max_pool2d", x.shape, pool_size, strides)
        (ph, pw), (sh, sw) = pool_size, strides
        w = x.shape[2]
        best = x[:, _window(0, sh, ho), _window(0, sw, wo), :].copy()
        # Index of each window's first position, per output position and channel.
        first = ((xp.arange(ho, dtype=xp.int32)[:, None, None] * sh * w
                  + xp.arange(wo, dtype=xp.int32)[None, :, None] * sw) * c
                 + xp.arange(c, dtype=xp.int32)[None, None, :])
        where = xp.broadcast_to(first, best.shape).copy()
        for di in range(ph):
            for dj in range(pw):
                if di == 0 and dj == 0:
                    continue
                candidate = x[:, _window(di, sh, ho), _window(dj, sw, wo), :]
                better = candidate > best
                xp.copyto(best, candidate, where=better)
                xp.copyto(where, first + xp.int32((di * w + dj) * c), where=better)
        if out is None:
            out = best
        else:
            out[...] = best
        if argmax is None:
            argmax = where
        else:
            argmax[...] = where
        return out, argmax

    def max_pool2d_backward(self, dy, argmax, x_shape, dx=None):
        """Gradient of :meth:`max_pool2d`: ``dy`` added at the positions in ``argmax``.

        Parameters
        ----------
        dy : ndarray of shape (n, ho, wo, c)
        argmax : int32 ndarray of shape (n, ho, wo, c)
            As returned by :meth:`max_pool2d`.
        x_shape : tuple (h, w, c)
            Shape of one input image.
        dx : ndarray of shape (n, h, w, c), optional

        Returns
        -------
        ndarray of shape (n, h, w, c)
            Zero except at the chosen positions; a position chosen by several
            (overlapping) windows gets the sum of their gradients.
        """
        xp = self.xp
        h, w, c = sample_shape("max_pool2d_backward", x_shape)
        if argmax.shape != dy.shape or dy.ndim != 4 or dy.shape[3] != c:
            raise ValueError(f"max_pool2d_backward: dy has shape {dy.shape} and argmax "
                             f"{argmax.shape}; they must be equal, (n, ho, wo, {c})")
        n = dy.shape[0]
        size = h * w * c
        index = (argmax.reshape(n, -1).astype(xp.intp)
                 + xp.arange(n, dtype=xp.intp)[:, None] * size).ravel()
        total = xp.bincount(index, weights=dy.ravel(), minlength=n * size)
        total = total.reshape(n, h, w, c).astype(dy.dtype, copy=False)
        if dx is None:
            return total
        dx[...] = total
        return dx

    def avg_pool2d(self, x, pool_size, strides, out=None):
        """The mean of each window, per channel.

        Parameters
        ----------
        x : ndarray of shape (n, h, w, c)
        pool_size : pair of int (ph, pw)
        strides : pair of int (sh, sw)
        out : ndarray of shape (n, ho, wo, c), optional

        Returns
        -------
        ndarray of shape (n, ho, wo, c)
        """
        n, ho, wo, c = pool_output_shape("avg_pool2d", x.shape, pool_size, strides)
        (ph, pw), (sh, sw) = pool_size, strides
        total = self.xp.zeros((n, ho, wo, c), dtype=x.dtype)
        for di in range(ph):
            for dj in range(pw):
                total += x[:, _window(di, sh, ho), _window(dj, sw, wo), :]
        total *= x.dtype.type(1.0 / (ph * pw))
        if out is None:
            return total
        out[...] = total
        return out

    def avg_pool2d_backward(self, dy, x_shape, pool_size, strides, dx=None):
        """Gradient of :meth:`avg_pool2d`: each window's ``dy`` spread evenly over it.

        Parameters
        ----------
        dy : ndarray of shape (n, ho, wo, c)
        x_shape : tuple (h, w, c)
            Shape of one input image.
        pool_size, strides : pair of int
            As given to :meth:`avg_pool2d`.
        dx : ndarray of shape (n, h, w, c), optional

        Returns
        -------
        ndarray of shape (n, h, w, c)
        """
        h, w, c = sample_shape("avg_pool2d_backward", x_shape)
        n, ho, wo, _ = pool_output_shape("avg_pool2d_backward", (dy.shape[0], h, w, c),
                                         pool_size, strides)
        if dy.shape != (n, ho, wo, c):
            raise ValueError(f"avg_pool2d_backward: dy has shape {dy.shape}, expected "
                             f"{(n, ho, wo, c)} for images of shape {(h, w, c)}")
        (ph, pw), (sh, sw) = pool_size, strides
        share = dy * dy.dtype.type(1.0 / (ph * pw))
        total = self.xp.zeros((n, h, w, c), dtype=dy.dtype)
        for di in range(ph):
            for dj in range(pw):
                total[:, _window(di, sh, ho), _window(dj, sw, wo), :] += share
        if dx is None:
            return total
        dx[...] = total
        return dx

    def global_avg_pool2d(self, x, out=None):
        """The mean of each image, per channel (summed in float64).

        Parameters
        ----------
        x : ndarray of shape (n, h, w, c)
        out : ndarray of shape (n, c), optional

        Returns
        -------
        ndarray of shape (n, c)
        """
        if x.ndim != 4:
            raise ValueError(f"global_avg_pool2d: expected a batch of images of shape "
                             f"(n, height, width, channels), got shape {x.shape}")
        mean = self.xp.mean(x, axis=(1, 2), dtype=self.xp.float64).astype(x.dtype, copy=False)
        if out is None:
            return mean
        out[...] = mean
        return out

    def global_avg_pool2d_backward(self, dy, x_shape, dx=None):
        """Gradient of :meth:`global_avg_pool2d`: ``dy / (h * w)`` at every position.

        Parameters
        ----------
        dy : ndarray of shape (n, c)
        x_shape : tuple (h, w, c)
            Shape of one input image.
        dx : ndarray of shape (n, h, w, c), optional

        Returns
        -------
        ndarray of shape (n, h, w, c)
        """
        h, w, c = sample_shape("global_avg_pool2d_backward", x_shape)
        share = dy * dy.dtype.type(1.0 / (h * w))
        if dx is None:
            dx = self.xp.empty((dy.shape[0], h, w, c), dtype=dy.dtype)
        dx[...] = share[:, None, None, :]
        return dx
