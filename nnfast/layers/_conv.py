"""The two-dimensional convolution layer."""
import numbers

from ..backend.ops_activations import check_activation
from ._activation import normalize_activation
from ._base import VariableSpec
from ._dense import INITIALIZERS, init_weights
from ._spatial import ImageLayer, pair, window_output_size

_CONV_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu")


def conv_padding(padding, image_shape, kernel_size, strides):
    """Zeros added on each side, (top, bottom, left, right), for a ``padding`` argument.

    'same' pads so that the output has ``ceil(size / stride)`` positions
    along each axis, the extra zero (when the total is odd) going after, as
    Keras and TensorFlow do.
    """
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for size, k, s in zip(image_shape[:2], kernel_size, strides):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = (padding,) * 4
    values = tuple(padding) if isinstance(padding, (tuple, list)) else ()
    if len(values) == 2:
        values = (values[0], values[0], values[1], values[1])
    if len(values) != 4 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                               or v < 0 for v in values):
        raise ValueError("padding must be 'valid', 'same', a non-negative integer, a pair "
                         "(rows, columns) or (top, bottom, left, right), got " + repr(padding))
    return tuple(int(v) for v in values)


class Conv2D(ImageLayer):
    """Two-dimensional convolution ``y = activation(conv(x, kernel) + bias)``.

    Slides ``filters`` kernels of ``kernel_size`` over the image; each output
    position is the sum over the window and all input channels (a cross-
    correlation, as in Keras and PyTorch).

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or (int, int)
    strides : int or (int, int)
    padding : 'valid', 'same', int, (int, int) or (int, int, int, int)
        'valid' adds nothing; 'same' adds zeros so that the output has
        ``ceil(size / stride)`` positions; an integer adds that many zeros on
        every side, a pair (rows, columns) on each side of each axis, a
        4-tuple (top, bottom, left, right).
    activation : {'identity', 'relu', 'tanh', 'sigmoid'} or None
        Applied to each output, fused with the bias.
    use_bias : bool
    kernel_initializer : str
        As for :class:`Dense` ('auto': He uniform for ReLU, Glorot uniform
        otherwise), with fans counted over the window:
        ``kh * kw * channels_in`` and ``kh * kw * filters``.
    data_format : {'channels_last', 'channels_first'}
        Layout of the input and output images.
    name : str, optional
    input_shape : tuple of int, optional
        (height, width, channels), or (height, width) for grey images.

    Attributes
    ----------
    kernel : ndarray of shape (kh, kw, channels_in, filters)
    bias : ndarray of shape (filters,) or None

    Examples
    --------
    >>> from nnfast.layers import Conv2D
    >>> Conv2D(32, 3).compute_output_shape((28, 28))
    (26, 26, 32)
    >>> Conv2D(8, 5, strides=2, padding="same").compute_output_shape((28, 28, 3))
    (14, 14, 8)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="auto", data_format="channels_last",
                 name=None, input_shape=None):
        super().__init__(data_format=data_format, name=name, input_shape=input_shape)
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters < 1:
            raise ValueError(f"filters must be a positive integer, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.strides = pair(strides, "strides")
        if not isinstance(padding, str):
            conv_padding(padding, (1, 1), self.kernel_size, self.strides)  # checks its form
        elif padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid', 'same' or a number of zeros, got {padding!r}")
        self.padding = list(padding) if isinstance(padding, tuple) else padding
        self.activation = normalize_activation(activation)
        check_activation(self.activation)
        if self.activation not in _CONV_ACTIVATIONS:
            raise ValueError(f"Conv2D fuses one of {_CONV_ACTIVATIONS}; put an Activation layer "
                             f"after it for {self.activation!r}")
        if kernel_initializer != "auto" and kernel_initializer not in INITIALIZERS:
            raise ValueError(f"unknown kernel_initializer {kernel_initializer!r}; expected one of "
                             f"{INITIALIZERS}")
        self.kernel_initializer = kernel_initializer
        self.use_bias = bool(use_bias)

    def _image_output_shape(self, image_shape):
        h, w, _ = image_shape
        self.pads = conv_padding(self.padding, image_shape, self.kernel_size, self.strides)
        top, bottom, left, right = self.pads
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if kh > h + top + bottom or kw > w + left + right:
            raise ValueError(f"Conv2D: the kernel {kh}x{kw} is larger than the padded input "
                             f"{h + top + bottom}x{w + left + right} (images {h}x{w}, padding "
                             f"{self.padding!r})")
        return (window_output_size(h, kh, sh, top, bottom),
                window_output_size(w, kw, sw, left, right), self.filters)

    def variable_specs(self, input_shape):
        kh, kw = self.kernel_size
        channels = self.image_shape(input_shape)[2]
        scheme = self.kernel_initializer
        if scheme == "auto":
            scheme = "he_uniform" if self.activation == "relu" else "glorot_uniform"
        fan_in, fan_out = kh * kw * channels, kh * kw * self.filters

        def start(rng, shape, dtype):
            return init_weights(rng, fan_in, fan_out, scheme, dtype, shape)

        specs = [VariableSpec("kernel", (kh, kw, channels, self.filters), start, decay=True)]
        if self.use_bias:
            specs.append(VariableSpec("bias", (self.filters,)))
        return specs

    @property
    def kernel(self):
        return self.variable("kernel").value

    @property
    def bias(self):
        return self.variable("bias").value if self.use_bias else None

    def _forward(self, x, training):
        ops = self.ops
        self._x = x
        z = ops.conv2d(x, self.kernel, self.bias, self.strides, self.pads,
                       out=self._buffer("z", (x.shape[0],) + self._image_out))
        # Elementwise activations run in place: their derivatives need only the output.
        self._y = ops.activation(z, self.activation, out=z)
        return self._y

    def _backward(self, dy):
        ops = self.ops
        if self.activation != "identity":
            dy = ops.backprop_activation(dy, self._y, self.activation,
                                         out=self._buffer("dz", dy.shape))
        kernel = self.variable("kernel")
        bias = self.variable("bias") if self.use_bias else None
        x = self._x
        dx = self._buffer("dx", x.shape) if self.needs_input_grad else False
        return ops.conv2d_backward(
            dy, x, kernel.value, self.strides, self.pads,
            dkernel=kernel.grad if self.wants_grad(kernel) else None,
            dbias=bias.grad if bias is not None and self.wants_grad(bias) else None, dx=dx)

    def _node_spec(self):
        kernel = self.variable("kernel")
        bias = self.variable("bias") if self.use_bias else None
        return {"kind": "conv2d", "kernel": kernel.value,
                "bias": None if bias is None else bias.value,
                "dkernel": kernel.grad if self.wants_grad(kernel) else None,
                "dbias": bias.grad if bias is not None and self.wants_grad(bias) else None,
                "strides": self.strides, "padding": self.pads, "activation": self.activation}

    def get_config(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, **super().get_config()}
