"""Pooling layers: the largest or the mean value of each window, or of the whole image."""
from ._spatial import ImageLayer, pair, window_output_size


class _Pool2D(ImageLayer):
    """A window of ``pool_size`` moved by ``strides`` over each channel (no padding)."""

    def __init__(self, pool_size=2, strides=None, data_format="channels_last", name=None,
                 input_shape=None):
        super().__init__(data_format=data_format, name=name, input_shape=input_shape)
        self.pool_size = pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else pair(strides, "strides")

    def _image_output_shape(self, image_shape):
        h, w, c = image_shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        if ph > h or pw > w:
            raise ValueError(f"{type(self).__name__}: the window {ph}x{pw} is larger than the "
                             f"input {h}x{w}")
        return (window_output_size(h, ph, sh), window_output_size(w, pw, sw), c)

    def _node_spec(self):
        return {"kind": self._kind, "pool_size": self.pool_size, "strides": self.strides}

    def get_config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides),
                **super().get_config()}


class MaxPool2D(_Pool2D):
    """Max pooling: the largest value of each window, per channel.

    The position of each maximum is kept for the backward pass, which sends
    the gradient to it alone.

    Parameters
    ----------
    pool_size : int or (int, int)
    strides : int or (int, int), optional
        Defaults to ``pool_size`` (windows side by side).
    data_format : {'channels_last', 'channels_first'}
    name : str, optional
    input_shape : tuple of int, optional

    Examples
    --------
    >>> from nnfast.layers import MaxPool2D
    >>> MaxPool2D(2).compute_output_shape((26, 26, 32))
    (13, 13, 32)
    >>> MaxPool2D(3, strides=2).compute_output_shape((11, 11, 64))
    (5, 5, 64)
    """

    _kind = "max_pool2d"

    def _forward(self, x, training):
        n = x.shape[0]
        shape = (n,) + self._image_out
        y, self._argmax = self.ops.max_pool2d(
            x, self.pool_size, self.strides, out=self._buffer("y", shape),
            argmax=self._buffer("argmax", shape, dtype="int32"))
        return y

    def _backward(self, dy):
        if not self.needs_input_grad:
            return None
        n = dy.shape[0]
        return self.ops.max_pool2d_backward(dy, self._argmax, self._image_in,
                                            dx=self._buffer("dx", (n,) + self._image_in))


class AvgPool2D(_Pool2D):
    """Average pooling: the mean of each window, per channel.

    Parameters are those of :class:`MaxPool2D`.

    Examples
    --------
    >>> from nnfast.layers import AvgPool2D
    >>> AvgPool2D(2).compute_output_shape((7, 7, 3))
    (3, 3, 3)
    """

    _kind = "avg_pool2d"

    def _forward(self, x, training):
        return self.ops.avg_pool2d(x, self.pool_size, self.strides,
                                   out=self._buffer("y", (x.shape[0],) + self._image_out))

    def _backward(self, dy):
        if not self.needs_input_grad:
            return None
        return self.ops.avg_pool2d_backward(dy, self._image_in, self.pool_size, self.strides,
                                            dx=self._buffer("dx", (dy.shape[0],) + self._image_in))


class GlobalAveragePooling2D(ImageLayer):
    """The mean of each channel over the whole image: (n, h, w, c) -> (n, c).

    Parameters
    ----------
    data_format : {'channels_last', 'channels_first'}
    name : str, optional
    input_shape : tuple of int, optional

    Examples
    --------
    >>> from nnfast.layers import GlobalAveragePooling2D
    >>> GlobalAveragePooling2D().compute_output_shape((5, 5, 64))
    (64,)
    """

    image_output = False

    def _image_output_shape(self, image_shape):
        return (image_shape[2],)

    def _forward(self, x, training):
        return self.ops.global_avg_pool2d(x, out=self._buffer("y", (x.shape[0],) + self._image_out))

    def _backward(self, dy):
        if not self.needs_input_grad:
            return None
        return self.ops.global_avg_pool2d_backward(
            dy, self._image_in, dx=self._buffer("dx", (dy.shape[0],) + self._image_in))

    def _node_spec(self):
        return {"kind": "global_avg_pool2d"}
