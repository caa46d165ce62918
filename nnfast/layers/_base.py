"""The contract every layer follows."""
import abc


class Layer(abc.ABC):
    """Base class of all layers.

    A layer is built once for an input width, then maps a batch forward and a
    gradient backward, touching arrays only through its ``ops``.  Buffers for
    outputs and gradients are allocated once per batch size and reused, so the
    arrays a layer returns are only valid until its next call.

    Attributes
    ----------
    trainable : bool
        Whether an optimizer updates this layer's parameters.
    params, grads : list of ndarray
        Parameters and their gradients, in matching order (empty when the
        layer has none).
    decay : list of bool
        For each parameter, whether weight decay applies to it (weights yes,
        biases no).
    output_activation : str or None
        The activation applied last, if the layer ends with one; lets a model
        fuse softmax or sigmoid with its cross-entropy loss.
    """

    trainable = True
    output_activation = None

    def __init__(self, name=None):
        self.name = name
        self.ops = None
        self.input_shape = None
        self.output_shape = None
        self.params, self.grads, self.decay = [], [], []
        self.needs_input_grad = True
        self.keep_preactivation = False
        self._buffers = {}

    # Building ----------------------------------------------------------------
    def build(self, input_shape, ops, dtype, rng):
        """Create parameters for inputs of ``input_shape`` (without the batch axis).

        Parameters
        ----------
        input_shape : tuple of int
        ops : Ops
        dtype : numpy dtype
        rng : numpy.random.Generator
            Source of initial weights and of any randomness the layer needs.

        Returns
        -------
        tuple of int
            The output shape without the batch axis.
        """
        self.ops, self.dtype = ops, dtype
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self._buffers = {}
        self._build(rng)
        return self.output_shape

    def _build(self, rng):
        """Allocate parameters (subclasses with parameters override this)."""

    def compute_output_shape(self, input_shape):
        """Output shape (without the batch axis) for ``input_shape``."""
        return tuple(input_shape)

    @property
    def built(self):
        return self.ops is not None

    def _buffer(self, key, shape):
        """A reusable uninitialised buffer of ``shape``, kept under ``key``."""
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self.ops.alloc(shape, dtype=self.dtype, zeros=False)
            self._buffers[key] = buf
        return buf

    # Computing ---------------------------------------------------------------
    @abc.abstractmethod
    def forward(self, x, training=False):
        """Map a batch ``x`` of shape (n_samples, *input_shape) to the output."""

    @abc.abstractmethod
    def backward(self, dy, from_logits=False):
        """Given the gradient of the loss with respect to the last output,
        compute parameter gradients and return the gradient with respect to
        the last input (None when ``needs_input_grad`` is False).

        ``from_logits=True`` means ``dy`` is already the gradient with respect
        to the input of ``output_activation`` (used for fused losses).
        """

    @property
    def preactivation(self):
        """The input of ``output_activation`` from the last forward pass."""
        raise AttributeError(f"{type(self).__name__} has no output activation")

    # Describing --------------------------------------------------------------
    def count_params(self):
        """Number of scalar parameters."""
        return int(sum(p.size for p in self.params))

    def get_config(self):
        """Constructor arguments as a JSON-serialisable dict."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        """Rebuild an (unbuilt) layer from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"
