"""The contract every layer follows, and the arrays a layer holds."""
import abc
import math
import numbers

import numpy as np


class Variable:
    """One array of a layer: a parameter the optimizer updates, or saved state.

    Parameters
    ----------
    name : str
        Unique within its layer ('kernel', 'bias', 'moving_mean', ...).
    value : ndarray
        The array itself, of the layer's backend and dtype; updated in place.
    trainable : bool
        False for state that is saved with the model but never optimised
        (batch normalisation's running statistics, for instance).
    decay : bool
        Whether weight decay applies (kernels yes, biases no).
    owner : Layer
        The layer that made it.  Other layers may use it too (tied weights);
        it is trained only while its owner is trainable.

    Attributes
    ----------
    grad : ndarray or None
        The gradient of the loss with respect to ``value`` (trainable
        variables only), written by the layers that use the variable.
    """

    def __init__(self, name, value, trainable=True, decay=False, owner=None):
        self.name = name
        self.value = value
        self.trainable = bool(trainable)
        self.decay = bool(decay)
        self.owner = owner
        self.grad = None

    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def trained(self):
        """True when an optimizer updates this variable now."""
        return self.trainable and (self.owner is None or self.owner.trainable)

    def __repr__(self):
        kind = "trainable" if self.trainable else "state"
        return f"Variable({self.name!r}, shape={self.shape}, {kind})"


class VariableSpec:
    """What a layer builds for a given input shape: one variable's name, shape and start.

    Declaring variables as data lets a model check a saved file's shapes
    before it allocates anything, and lets :meth:`Layer.build` make them all
    the same way.

    Parameters
    ----------
    name : str
    shape : tuple of int
    initializer : callable or None
        ``initializer(rng, shape, dtype) -> ndarray``; None starts at zeros.
    trainable, decay : bool
        As for :class:`Variable`.
    """

    def __init__(self, name, shape, initializer=None, trainable=True, decay=False):
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.initializer = initializer
        self.trainable = trainable
        self.decay = decay

    @property
    def size(self):
        return math.prod(self.shape)


class Layer(abc.ABC):
    """Base class of all layers.

    A layer is built once for the shape of one sample (``build``), then maps
    a batch forward and a gradient backward, touching arrays only through its
    ``ops``.  Its variables are declared by :meth:`variable_specs`; any
    number of axes per sample is allowed.  Work buffers are sized for the
    largest batch seen and handed out as views of their first rows, so the
    arrays a layer returns are valid only until its next call.

    Parameters
    ----------
    name : str, optional
    input_shape : tuple of int, optional
        Shape of one sample; needed only on a model's first layer when the
        model should be built before it sees data.

    Attributes
    ----------
    trainable : bool
        Whether an optimizer updates this layer's variables (set False to
        freeze a layer; the model picks the change up at its next ``fit``).
    variables : list of Variable
        The variables this layer made (parameters and state), in the order
        of :meth:`variable_specs`.
    output_activation : str or None
        The activation applied last, if the layer ends with one; lets a model
        fuse softmax or sigmoid with its cross-entropy loss.
    """

    output_activation = None

    def __init__(self, name=None, input_shape=None):
        self.name = name
        self.declared_input_shape = _check_shape(input_shape, "input_shape")
        self.trainable = True
        self.ops = None
        self.input_shape = None
        self.output_shape = None
        self.variables = []
        self.needs_input_grad = True
        self.keep_preactivation = False
        self.accumulate = frozenset()
        self._buffers = {}

    # Building ----------------------------------------------------------------
    def build(self, input_shape, ops, dtype, rng, initialize=True):
        """Create the variables for samples of ``input_shape`` (without the batch axis).

        Parameters
        ----------
        input_shape : tuple of int
        ops : Ops
        dtype : numpy dtype
        rng : numpy.random.Generator
            Source of initial weights and of any randomness the layer needs.
        initialize : bool
            False leaves every variable at zero (their values are about to be
            overwritten, as when a model is loaded), drawing nothing.

        Returns
        -------
        tuple of int
            The output shape without the batch axis.
        """
        specs = self.plan(input_shape)
        self.ops, self.dtype = ops, np.dtype(dtype)
        self._buffers = {}
        self.variables = []
        for spec in specs:
            if spec.initializer is None or not initialize:
                value = ops.alloc(spec.shape, dtype=self.dtype)
            else:
                value = ops.asarray(spec.initializer(rng, spec.shape, self.dtype), dtype=self.dtype)
            var = Variable(spec.name, value, spec.trainable, spec.decay, owner=self)
            if spec.trainable:
                var.grad = ops.alloc(spec.shape, dtype=self.dtype)
            self.variables.append(var)
        self._build(rng)
        return self.output_shape

    def plan(self, input_shape):
        """Settle the input and output shapes and the variables to make, allocating nothing.

        Parameters
        ----------
        input_shape : tuple of int

        Returns
        -------
        list of VariableSpec
        """
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        return self.variable_specs(self.input_shape)

    def variable_specs(self, input_shape):
        """The variables this layer makes for samples of ``input_shape``: list of VariableSpec."""
        return []

    def _build(self, rng):
        """Anything else the layer needs once its variables exist (random streams, views)."""

    def compute_output_shape(self, input_shape):
        """Output shape (without the batch axis) for ``input_shape``."""
        return tuple(input_shape)

    @property
    def built(self):
        return self.ops is not None

    def variable(self, name):
        """This layer's variable called ``name``."""
        for var in self.variables:
            if var.name == name:
                return var
        raise KeyError(f"{type(self).__name__} has no variable {name!r}")

    def used_variables(self):
        """Every variable this layer's computation uses: its own, and any it shares."""
        return list(self.variables)

    @property
    def params(self):
        """Values of this layer's own trainable variables."""
        return [v.value for v in self.variables if v.trainable]

    @property
    def grads(self):
        """Gradients of this layer's own trainable variables, in the order of :attr:`params`."""
        return [v.grad for v in self.variables if v.trainable]

    def _buffer(self, key, shape, dtype=None):
        """A reusable uninitialised buffer of ``shape`` (batch first), kept under ``key``.

        The buffer grows to the largest batch asked for; smaller batches get
        a view of its first rows (still C-contiguous), so the last short
        batch of an epoch and validation passes allocate nothing.  The
        layer's dtype unless ``dtype`` is given (indices, for instance).
        """
        shape = tuple(shape)
        buf = self._buffers.get(key)
        if buf is None or buf.shape[1:] != shape[1:] or buf.shape[0] < shape[0]:
            buf = self.ops.alloc(shape, dtype=self.dtype if dtype is None else dtype, zeros=False)
            self._buffers[key] = buf
        return buf if buf.shape[0] == shape[0] else buf[:shape[0]]

    def _write_grad(self, var, compute):
        """Run ``compute(out, beta)`` so that it writes ``var.grad``, or adds to it.

        A variable used by several layers (tied weights) collects their
        gradients: the first layer to reach it in the backward pass writes
        (``beta`` 0), the others add (``beta`` 1).  The model sets
        :attr:`accumulate` to the variables this layer adds to.
        """
        compute(var.grad, 1.0 if var in self.accumulate else 0.0)

    def wants_grad(self, var):
        """Whether the backward pass must compute the gradient of ``var`` now."""
        return var.grad is not None and var.trained

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

    def node_spec(self):
        """This layer as a node of a compiled network, or None when it has no compiled form.

        A backend that runs a whole model in compiled code
        (:meth:`nnfast.backend.Ops.network`) asks every layer for this: a
        dict with ``kind`` (the kind of node) and what that kind needs
        (arrays, gradients to write, settings).  A model with a layer that
        answers None trains layer by layer, through :meth:`forward` and
        :meth:`backward`.
        """
        return None

    def random_state(self):
        """The state of this layer's random stream as JSON data, or None without one."""
        return None

    def set_random_state(self, state):
        """Restore what :meth:`random_state` returned."""

    # Describing --------------------------------------------------------------
    def count_params(self):
        """Number of scalars in this layer's own variables (parameters and state)."""
        return int(sum(v.value.size for v in self.variables))

    def get_config(self):
        """Constructor arguments as a JSON-serialisable dict.

        A subclass adds its own arguments to ``super().get_config()``.
        Arguments that refer to another layer of the model (such as
        ``Dense(tied_to=...)``) may hold that layer: the model saves it as a
        reference.
        """
        config = {"name": self.name}
        if self.declared_input_shape is not None:
            config["input_shape"] = list(self.declared_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        """Rebuild an (unbuilt) layer from :meth:`get_config`'s output."""
        return cls(**config)

    def __getstate__(self):
        # Work buffers are scratch: a copy (deepcopy, pickle) makes its own.
        state = self.__dict__.copy()
        state["_buffers"] = {}
        return state

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


def _check_shape(shape, name):
    """``shape`` as a tuple of positive ints, or None."""
    if shape is None:
        return None
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of positive integers, got {shape!r}") from None
    if not shape or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
                        for s in shape):
        raise ValueError(f"{name} must be a non-empty tuple of positive integers, got {shape!r}")
    return tuple(int(s) for s in shape)
