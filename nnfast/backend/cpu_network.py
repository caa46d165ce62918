"""A whole model's training step as one compiled call per batch.

:class:`CpuNetwork` turns the node specs of a model's layers (see
:meth:`nnfast.layers.Layer.node_spec`) into the nodes of ``nnfast._network``
and chains them: the batch's rows are gathered, every layer runs forward,
the loss and its gradient are taken, every layer runs backward, and each
parameter gets the optimizer's update as soon as its last gradient is known.
It runs the kernels that the layers, the loss and the optimizer run one call
at a time, with the same thread counts, so it computes what they compute;
what it saves is the trips through Python between them and the copy of the
batch.

The arrays are checked once, when the network is made; each step checks
only the batch.  Any kind of layer with a compiled node joins through
:data:`NODE_MAKERS`; two consecutive layers that a compiled node runs
together more cheaply than one after the other (a one-channel convolution
and the max pooling after it) join through :data:`NODE_FUSERS`.
"""
import math

import numpy as np

from .. import _network
from . import _threads
from ._threads import get_num_threads, own_threads, products_on_own_threads
from .cpu_activations import ACTIVATION_CODES
from .cpu_arrays import is_out

#: Loss codes of ``nnfast._network.Network``.
_LOSS_CODES = {"cross_entropy": 0, "binary_cross_entropy": 2, "mean_squared_error": 3}

#: Update rules of ``Network.step`` and their number of state arrays.
RULES = {"sgd": (1, 0), "momentum": (2, 1), "nesterov": (3, 1), "adam": (4, 2),
         "rmsprop": (5, 1), "adagrad": (6, 1), "adadelta": (7, 2), "adamw": (8, 2)}

#: Output activations a cross-entropy absorbs.
_FUSED = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}

_F32, _F64, _INTP = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.intp)


def _plain(array, dtype, shape=None):
    """True for an array a kernel may write (see :func:`~.cpu_arrays.is_out`), of ``shape`` if given."""
    return is_out(array, dtype) and (shape is None or array.shape == shape)


def _dense_node(spec, dtype, fused_output):
    W, b, dW, db = spec["W"], spec["b"], spec["dW"], spec["db"]
    if not _plain(W, dtype) or W.ndim != 2 or W.size == 0:
        return None
    n_out = W.shape[0] if spec["transposed"] else W.shape[1]
    for array, shape in ((b, (n_out,)), (dW, W.shape), (db, (n_out,))):
        if array is not None and not _plain(array, dtype, shape):
            return None
    activation = "identity" if fused_output else spec["activation"]
    return _network.DenseNode(W, b, dW, db, ACTIVATION_CODES[activation], spec["transposed"],
                              spec["add_w"], spec["add_b"])


def _activation_node(spec, dtype, fused_output):
    activation = "identity" if fused_output else spec["activation"]
    return _network.ActivationNode(math.prod(spec["out_shape"]), spec["out_shape"][-1],
                                   ACTIVATION_CODES[activation], dtype.itemsize)


def _dropout_node(spec, dtype, fused_output):
    draws = spec["draws"]
    if not (type(draws) is np.ndarray and draws.dtype == np.uint64 and draws.shape == (1,)):
        return None
    return _network.DropoutNode(math.prod(spec["out_shape"]), spec["rate"], spec["seed"], draws,
                                dtype.itemsize)


def _reshape_node(spec, dtype, fused_output):
    return _network.ReshapeNode(math.prod(spec["out_shape"]), dtype.itemsize)


#: The compiled node of each kind of layer: ``maker(spec, dtype, fused_output)``
#: returns a node, or None when these arrays or settings have none.
NODE_MAKERS = {"dense": _dense_node, "activation": _activation_node, "dropout": _dropout_node,
               "reshape": _reshape_node}


#: Compiled nodes that do the work of two consecutive layers:
#: ``fuser(spec, next_spec, dtype)`` returns a node whose output is the second
#: layer's, or None when these layers, arrays or settings have none.
NODE_FUSERS = {}


def register_node_maker(kind, maker):
    """Give the layers whose node spec has ``kind`` a compiled node made by ``maker``.

    A family of compiled kernels whose nodes live in their own module (a
    subclass of ``_network.Node``, cimported from ``csrc/_network.pxd``)
    registers its makers when its ``cpu_<family>.py`` is imported.
    """
    NODE_MAKERS[kind] = maker


def register_node_fuser(kinds, fuser):
    """Run a layer of kind ``kinds[0]`` and the next, of kind ``kinds[1]``, as one node made by ``fuser``.

    The fused node takes the first layer's place (its parameters' updates
    wait for it as for that layer) and the second layer becomes an alias of
    its output.  Only where the first layer's input gradient is not wanted
    and the second layer is not the one a loss absorbs.
    """
    NODE_FUSERS[tuple(kinds)] = fuser


def _fuse(nodes, made, fused, dtype):
    """``made`` with every pair of nodes that a fuser runs as one replaced by it and an alias."""
    made = list(made)
    i = 0
    while i + 1 < len(nodes):
        spec, after = nodes[i], nodes[i + 1]
        fuser = NODE_FUSERS.get((spec["kind"], after["kind"]))
        last = i + 1 == len(nodes) - 1
        node = None
        if fuser is not None and not spec["need_dx"] and not (fused and last):
            node = fuser(spec, after, dtype)
        if node is None:
            i += 1
            continue
        made[i] = node
        made[i + 1] = _network.ReshapeNode(node.out_size, dtype.itemsize)
        i += 2
    return made


class CpuNetworkOps:
    """Compiled override of :meth:`~nnfast.backend.ops_network.NetworkOps.network`.

    A mixin of ``CpuOps``.
    """

    def network(self, nodes, loss, fused, classes, updates, dtype):
        """The model as one compiled step per batch (:class:`CpuNetwork`), or None.

        See Also
        --------
        nnfast.backend.ops_network.NetworkOps.network : parameters and return value.
        """
        return make_network(nodes, loss, fused, classes, updates, dtype)


def make_network(nodes, loss, fused, classes, updates, dtype):
    """A :class:`CpuNetwork`, or None when some layer or array has no compiled form.

    See :meth:`nnfast.backend.ops_network.NetworkOps.network` for the parameters.
    """
    if not nodes or loss not in _LOSS_CODES or (fused and loss not in _FUSED):
        return None
    first = nodes[0]
    dtype = np.dtype(dtype)
    if dtype != _F32 and dtype != _F64:
        return None
    dtype = _F32 if dtype == _F32 else _F64
    made = []
    for i, spec in enumerate(nodes):
        maker = NODE_MAKERS.get(spec["kind"])
        fused_output = fused and i == len(nodes) - 1
        if fused_output and spec["kind"] not in ("dense", "activation"):
            return None
        node = None if maker is None else maker(spec, dtype, fused_output)
        if node is None:
            return None
        made.append(node)
    made = _fuse(nodes, made, fused, dtype)
    if all(node.alias for node in made):
        return None
    for param, grad in ((p, g) for _, p, g, _ in updates):
        if not (_plain(param, dtype) and _plain(grad, dtype, param.shape)):
            return None
    stop = min((i for i, _, _, _ in updates), default=len(nodes) - 1)
    out_shape = tuple(nodes[-1]["out_shape"])
    fused_act = ACTIVATION_CODES[_FUSED[loss]] if fused else -1
    network = _network.Network(made, _LOSS_CODES[loss], fused_act,
                               classes if loss == "cross_entropy" else 1, stop,
                               [spec["need_dx"] for spec in nodes], dtype)
    return CpuNetwork(network, dtype, tuple(first["in_shape"]), out_shape, loss, classes, updates)


class CpuNetwork:
    """A model's layers, loss and optimizer update as one compiled step per batch.

    Made by :func:`make_network`, which has checked the arrays.
    """

    def __init__(self, network, dtype, in_shape, out_shape, loss, classes, updates):
        self._net = network
        self._dtype = dtype
        self.in_shape, self.out_shape = in_shape, out_shape
        self.n_inputs, self.n_outputs = math.prod(in_shape), math.prod(out_shape)
        self._loss = loss
        self._positions = self.n_outputs // classes if loss == "cross_entropy" else self.n_outputs
        self._updates = updates
        self._bound = (None, None)

    @property
    def capacity(self):
        """The largest batch the network's buffers hold now (0 before its first step)."""
        return self._net.capacity

    @staticmethod
    def supports(rule):
        """Whether :meth:`train_step` applies the update rule ``rule`` itself."""
        return rule in RULES

    def _bind_state(self, rule, state):
        """Check the optimizer's state arrays and hand their addresses to the network."""
        n_slots = RULES[rule][1]
        if len(state) != len(self._updates):
            raise ValueError(f"train_step: the optimizer has state for {len(state)} parameters, "
                             f"the network trains {len(self._updates)}")
        entries = []
        for (node, param, grad, decay), slots in zip(self._updates, state):
            if len(slots) != n_slots:
                raise ValueError(f"train_step: rule {rule!r} needs {n_slots} state arrays per "
                                 f"parameter, got {len(slots)}")
            for a in slots:
                if not _plain(a, self._dtype, param.shape) or any(
                        np.may_share_memory(a, other) for _, p, g, _ in self._updates
                        for other in (p, g)):
                    raise ValueError(f"train_step: optimizer state must be C-contiguous "
                                     f"{self._dtype.name} arrays shaped like their parameters, "
                                     f"apart from every other array")
            slots = list(slots) + [None] * (2 - n_slots)
            entries.append((node, param, grad, slots[0], slots[1], decay))
        self._net.bind_updates(entries, state)
        self._bound = (rule, state)

    def _check_batch(self, x, targets, rows):
        dtype = self._dtype
        # Any sample shape of the right size: the model has checked the shape
        # (a grey image (h, w) is an image (h, w, 1) to the first node).
        if not _plain(x, dtype) or x.ndim < 2 or math.prod(x.shape[1:]) != self.n_inputs:
            raise ValueError(f"train_step: x must be a C-contiguous {dtype.name} array of shape "
                             f"(n_samples, {', '.join(map(str, self.in_shape))})")
        if rows is None:
            n = x.shape[0]
        else:
            if not _plain(rows, _INTP) or rows.ndim != 1:
                raise ValueError("train_step: rows must be a C-contiguous 1-D intp array")
            n = rows.shape[0]
        if n == 0:
            raise ValueError("train_step: the batch is empty")
        n_targets = x.shape[0]
        labels = type(targets) is np.ndarray and targets.dtype.kind in "iu"
        if self._loss == "cross_entropy" and labels:
            if not _plain(targets, _INTP) or targets.size != n_targets * self._positions:
                raise ValueError(f"train_step: labels must be a C-contiguous intp array of shape "
                                 f"({n_targets}, ...) with {self._positions} per sample")
        elif not _plain(targets, dtype) or targets.size != n_targets * self.n_outputs \
                or targets.shape[0] != n_targets:
            raise ValueError(f"train_step: targets must be a C-contiguous {dtype.name} array of "
                             f"shape ({n_targets}, {', '.join(map(str, self.out_shape))})")
        return n

    def _step(self, x, targets, rows, n, train, rule=None, hyper=None, weight_decay=0.0,
              want_output=True):
        self._net.reserve(n)
        with own_threads():
            total = self._net.step(
                x, rows, n, targets, get_num_threads(), _threads.PARALLEL_MIN_WORK,
                1 if products_on_own_threads() else _threads.PARALLEL_WORK_DIVISOR,
                _threads.PRODUCT_WORK_DIVISOR, products_on_own_threads(), train,
                0 if rule is None else RULES[rule][0], hyper, weight_decay)
        terms = n * self._positions
        # The nodes' penalties are means over the batch already.
        loss = total / terms + self._net.penalty
        if not want_output:
            return loss, None
        return loss, self._net.output(n).reshape((n,) + self.out_shape)

    def train_step(self, x, targets, rows=None, update=None, want_output=True):
        """Forward pass, loss, backward pass and (optionally) the update on one batch.

        Parameters
        ----------
        x : ndarray of shape (n_samples, *in_shape)
            The batch, or with ``rows`` every sample.
        targets : ndarray
            For the rows of ``x``: intp labels (one per position of the
            output but its last axis) for the cross-entropy, else an array of
            the output's shape per sample, of the network's dtype.
        rows : intp ndarray of shape (n,), optional
            Rows of ``x`` and ``targets`` that make the batch, gathered in
            compiled code.
        update : tuple (rule, hyper, weight_decay, state), optional
            An optimizer step to apply as well: ``rule`` and ``hyper`` as
            :meth:`nnfast.optimizers.Optimizer.fused_rule` returns them,
            ``weight_decay`` for the parameters it applies to, ``state`` the
            optimizer's state arrays, one list per trained parameter.
        want_output : bool
            False skips the output (None is returned in its place), which
            saves a fused softmax or sigmoid over the whole output when
            nothing reads it.

        Returns
        -------
        loss : float
            Mean loss over the batch, plus the penalties of the layers that
            add one (each penalty's coefficient times its value, which the
            node also leaves in its layer's ``penalty``).
        output : ndarray of shape (n, *out_shape)
            The network's output (after a fused output activation), valid
            until the next step.
        """
        n = self._check_batch(x, targets, rows)
        if update is None:
            return self._step(x, targets, rows, n, True, want_output=want_output)
        rule, hyper, weight_decay, state = update
        if rule not in RULES:
            raise ValueError(f"train_step: unknown update rule {rule!r}")
        if rule != self._bound[0] or state is not self._bound[1]:
            self._bind_state(rule, state)
        return self._step(x, targets, rows, n, True, rule, np.asarray(hyper, dtype=np.float64),
                          weight_decay, want_output)

    def evaluate(self, x, targets):
        """Loss and output on a batch in inference mode (dropout off), nothing learned."""
        n = self._check_batch(x, targets, None)
        return self._step(x, targets, None, n, False)

