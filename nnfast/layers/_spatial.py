"""What the image layers share: the image layout, window sizes, and their checks.

Images are channels last throughout nnfast: a batch is (n, height, width,
channels).  An image layer also accepts grey images without a channel axis,
(n, height, width), and, with ``data_format="channels_first"``, images laid
out (n, channels, height, width), which it transposes to channels last on
the way in and back on the way out (so it runs layer by layer, not in the
compiled network).
"""
import numbers

from ._base import Layer

DATA_FORMATS = ("channels_last", "channels_first")


def pair(value, name, allow_zero=False):
    """``value`` (an int or two ints) as a pair of positive ints, or a clear error."""
    values = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    low = 0 if allow_zero else 1
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                               or v < low for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} integer or a pair of them, got {value!r}")
    return tuple(int(v) for v in values)


def check_data_format(data_format):
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be one of {DATA_FORMATS}, got {data_format!r}")
    return data_format


def window_output_size(size, window, stride, pad_before=0, pad_after=0):
    """Positions of a window sliding over ``size`` values padded on both sides."""
    return (size + pad_before + pad_after - window) // stride + 1


class ImageLayer(Layer):
    """Base of the layers that take images: the layout conversions.

    Subclasses compute on channels-last batches (n, h, w, c) in
    :meth:`_forward` and :meth:`_backward`, and describe channels-last output
    shapes in :meth:`_image_output_shape`; once planned, ``_image_in`` and
    ``_image_out`` hold the channels-last shapes of one input and output.

    Parameters
    ----------
    data_format : {'channels_last', 'channels_first'}
    name : str, optional
    input_shape : tuple of int, optional
    """

    #: Whether the output is an image (False for global pooling, whose output is (n, c)).
    image_output = True

    def __init__(self, data_format="channels_last", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.data_format = check_data_format(data_format)

    def image_shape(self, input_shape):
        """The channels-last shape (h, w, c) of one input image."""
        shape = tuple(input_shape)
        kind = type(self).__name__
        if len(shape) == 2:
            return shape + (1,)
        if len(shape) != 3:
            layout = "(channels, height, width)" if self.data_format == "channels_first" \
                else "(height, width, channels)"
            raise ValueError(f"{kind} takes images of shape {layout} or (height, width) per "
                             f"sample, got samples of shape {shape}")
        if self.data_format == "channels_first":
            return (shape[1], shape[2], shape[0])
        return shape

    def compute_output_shape(self, input_shape):
        self._image_in = self.image_shape(input_shape)
        out = self._image_out = self._image_output_shape(self._image_in)
        if self.data_format == "channels_first" and self.image_output:
            return (out[2], out[0], out[1])
        return out

    def _image_output_shape(self, image_shape):
        return image_shape

    def forward(self, x, training=False):
        n = x.shape[0]
        if self.data_format == "channels_first" and x.ndim == 4:
            x = self.ops.permute(x, (0, 2, 3, 1), out=self._buffer("x_last", (n,) + self._image_in))
        else:
            x = x.reshape((n,) + self._image_in)
        y = self._forward(x, training)
        if self.data_format == "channels_first" and self.image_output:
            y = self.ops.permute(y, (0, 3, 1, 2), out=self._buffer("y_first", (n,) + self.output_shape))
        return y

    def backward(self, dy, from_logits=False):
        n = dy.shape[0]
        if self.data_format == "channels_first" and self.image_output:
            dy = self.ops.permute(dy, (0, 2, 3, 1), out=self._buffer("dy_last", (n,) + self._image_out))
        dx = self._backward(dy)
        if dx is None:
            return None
        if self.data_format == "channels_first" and len(self.input_shape) == 3:
            return self.ops.permute(dx, (0, 3, 1, 2),
                                    out=self._buffer("dx_first", (n,) + self.input_shape))
        return dx.reshape((n,) + self.input_shape)

    def node_spec(self):
        if self.data_format != "channels_last":
            return None
        spec = self._node_spec()
        if spec is not None:
            spec["in_shape"], spec["out_shape"] = self._image_in, self._image_out
        return spec

    def _node_spec(self):
        return None

    def get_config(self):
        config = super().get_config()
        if self.data_format != "channels_last":
            config["data_format"] = self.data_format
        return config
