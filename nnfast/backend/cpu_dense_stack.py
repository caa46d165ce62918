"""One compiled training step for a stack of dense layers.

:class:`CpuDenseStack` runs what ``Sequential`` otherwise asks of each
``Dense`` layer, of the loss and of the optimizer one call at a time: the
affine maps and activations forward, the loss and its gradient, then every
layer's weight, bias and input gradients backward, each layer's parameters
updated as soon as their gradients are known.  It calls the same kernels
with the same thread counts in the same order, so the gradients equal the
layer-by-layer ones (up to BLAS, which may round a product differently
depending on where its operands lie in memory); what it saves is a dozen
trips through Python (and their argument checks) per batch, and the copy of
the batch's rows, which it gathers itself.

The arrays are checked once, when the stack is made; each step checks only
the batch.
"""
import numpy as np

from .. import _dense
from ._threads import get_num_threads, own_threads, products_on_own_threads
from .cpu_dense import _ACTIVATION_CODES, _F32, _F64, _INTP, _product_threads, _threads

#: Loss codes of ``nnfast._dense.DenseStack``.
_LOSS_CODES = {"cross_entropy": 0, "binary_cross_entropy": 2, "mean_squared_error": 3}

#: Update rules of ``nnfast._dense.DenseStack.step`` and their number of state arrays.
_RULES = {"sgd": (1, 0), "momentum": (2, 1), "nesterov": (3, 1), "adam": (4, 2),
          "rmsprop": (5, 1), "adagrad": (6, 1), "adadelta": (7, 2)}

#: Activations the stack applies to hidden and unfused output layers.  tanh
#: runs numpy's ``np.tanh`` in the layers (see ``nnfast._dense``), softmax
#: only fused with the cross-entropy.
_ELEMENTWISE = ("identity", "sigmoid", "relu")

#: Output activations a cross-entropy absorbs.
_FUSED = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def make_dense_stack(weights, biases, weight_grads, bias_grads, activations, loss, fused):
    """A :class:`CpuDenseStack`, or None when the kernels cannot take these arrays.

    See :meth:`nnfast.backend.ops_dense.DenseOps.dense_stack` for the parameters.
    """
    n_layers = len(weights)
    if (n_layers == 0 or loss not in _LOSS_CODES
            or not len(biases) == len(weight_grads) == len(bias_grads) == len(activations) == n_layers):
        return None
    hidden, output = list(activations[:-1]), activations[-1]
    if any(a not in _ELEMENTWISE for a in hidden):
        return None
    if fused:
        if _FUSED.get(loss) != output:
            return None
    elif output not in _ELEMENTWISE:
        return None
    dtype = weights[0].dtype
    dtype = _F32 if dtype == _F32 else _F64 if dtype == _F64 else None
    if dtype is None:
        return None
    arrays = list(weights) + list(biases) + list(weight_grads) + list(bias_grads)
    if any(type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous
           or a.size == 0 for a in arrays):
        return None
    n_in = weights[0].shape[0]
    for w, b, dw, db in zip(weights, biases, weight_grads, bias_grads):
        if (w.ndim != 2 or w.shape[0] != n_in or b.shape != (w.shape[1],)
                or dw.shape != w.shape or db.shape != b.shape):
            return None
        n_in = w.shape[1]
    written = list(weight_grads) + list(bias_grads)
    for a in written:
        if any(np.may_share_memory(a, other) for other in arrays if other is not a):
            return None
    return CpuDenseStack(weights, biases, weight_grads, bias_grads, activations, loss, fused)


class CpuDenseStack:
    """Parameters, gradients and work buffers of a stack of dense layers.

    Made by :func:`make_dense_stack`, which has checked the arrays.  Buffers
    for the activations and deltas grow to the largest batch seen and are
    reused.
    """

    def __init__(self, weights, biases, weight_grads, bias_grads, activations, loss, fused):
        self._weights, self._biases = list(weights), list(biases)
        self._weight_grads, self._bias_grads = list(weight_grads), list(bias_grads)
        self._dtype = weights[0].dtype
        self._loss = loss
        self._fused_act = _ACTIVATION_CODES[activations[-1]] if fused else -1
        # The output layer of a fused loss keeps its logits; the loss takes them.
        acts = list(activations[:-1]) + ["identity" if fused else activations[-1]]
        self._sizes = [(w.shape[0], w.shape[1], _ACTIVATION_CODES[a])
                       for w, a in zip(weights, acts)]
        self.n_inputs, self.n_outputs = weights[0].shape[0], weights[-1].shape[1]
        self._capacity = 0
        self._kernel = None
        self._thread_plans = {}
        self._bound_state = self._bound_rule = None

    def _allocate(self, n):
        dtype = self._dtype
        self._outputs = [np.empty((n, n_out), dtype) for _, n_out, _ in self._sizes]
        self._deltas = [np.empty((n, n_out), dtype) for _, n_out, _ in self._sizes]
        self._x_buffer = np.empty((n, self.n_inputs), dtype)
        self._probs = np.empty((n, self.n_outputs), dtype) if self._fused_act != -1 else None
        self._labels = np.empty(n, _INTP)
        self._targets = np.empty((n, self.n_outputs), dtype)
        addresses = [tuple(a.ctypes.data for a in arrays) for arrays in zip(
            self._weights, self._biases, self._weight_grads, self._bias_grads, self._outputs,
            self._deltas)]
        self._kernel = _dense.DenseStack(
            addresses, self._sizes, self._x_buffer.ctypes.data,
            0 if self._probs is None else self._probs.ctypes.data, self._labels.ctypes.data,
            self._targets.ctypes.data, self._fused_act, _LOSS_CODES[self._loss],
            self._dtype.itemsize)
        self._capacity = n
        self._bound_state = self._bound_rule = None

    def _bind_state(self, rule, state):
        """Check the optimizer's state arrays and hand their addresses to the kernel."""
        n_slots = _RULES[rule][1]
        params = [p for pair in zip(self._weights, self._biases) for p in pair]
        if len(state) != len(params):
            raise ValueError(f"train_step: the optimizer has state for {len(state)} parameters, "
                             f"the stack has {len(params)}")
        everything = params + self._weight_grads + self._bias_grads + self._outputs + self._deltas
        for param, slots in zip(params, state):
            if len(slots) != n_slots:
                raise ValueError(f"train_step: rule {rule!r} needs {n_slots} state arrays per "
                                 f"parameter, got {len(slots)}")
            for a in slots:
                if (type(a) is not np.ndarray or a.dtype != self._dtype or a.shape != param.shape
                        or not a.flags.c_contiguous
                        or any(np.may_share_memory(a, other) for other in everything)):
                    raise ValueError(f"train_step: optimizer state must be C-contiguous "
                                     f"{self._dtype.name} arrays shaped like their parameters, "
                                     f"apart from every other array")
        addresses = []
        for w_slots, b_slots in zip(state[0::2], state[1::2]):
            pad = [0] * (2 - n_slots)
            addresses.append([a.ctypes.data for a in w_slots] + pad
                             + [a.ctypes.data for a in b_slots] + pad)
        self._kernel.bind_state(addresses)
        self._bound_state, self._bound_rule = state, rule

    def _thread_plan(self, n):
        """Threads of every loop for a batch of ``n`` rows, as the layers would choose them."""
        key = (n, get_num_threads(), products_on_own_threads())
        plan = self._thread_plans.get(key)
        if plan is None:
            counts = []
            for n_in, n_out, _ in self._sizes:
                counts += [_product_threads(n, n_in, n_out), _threads(n * n_out),
                           _threads(n_in * n_out), _threads(n_out)]
            counts += [_threads(n * self.n_outputs)] * 2 + [_threads(n * self.n_inputs)]
            plan = self._thread_plans[key] = np.array(counts, dtype=np.intc)
        return plan

    @staticmethod
    def supports(rule):
        """Whether :meth:`train_step` can apply the update rule ``rule`` itself."""
        return rule in _RULES

    def train_step(self, x, targets, rows=None, update=None):
        """Forward pass, loss, backward pass and (optionally) the update on one batch.

        Parameters
        ----------
        x : ndarray of shape (n_samples, n_inputs)
            The batch, or with ``rows`` every sample.
        targets : ndarray
            Targets for the rows of ``x``: intp labels of shape
            (n_samples,) for the cross-entropy, else an array of shape
            (n_samples, n_outputs) of the stack's dtype.
        rows : intp ndarray of shape (n,), optional
            Rows of ``x`` and ``targets`` that make the batch, gathered in
            the kernel.
        update : tuple (rule, hyper, weight_decay, state), optional
            An optimizer step to apply as well: ``rule`` and ``hyper`` as
            :meth:`nnfast.optimizers.Optimizer.fused_rule` returns them,
            ``weight_decay`` added to the weights' gradients, ``state`` the
            optimizer's state arrays for the parameters in the order
            ``w0, b0, w1, b1, ...``.

        Returns
        -------
        loss : float
            Mean loss over the batch.
        output : ndarray of shape (n, n_outputs)
            The network's output (after the activation of a fused output
            layer), valid until the next step.
        """
        dtype = self._dtype
        if (type(x) is not np.ndarray or x.dtype != dtype or x.ndim != 2
                or x.shape[1] != self.n_inputs or not x.flags.c_contiguous):
            raise ValueError(f"train_step: x must be a C-contiguous {dtype.name} array of shape "
                             f"(n_samples, {self.n_inputs})")
        if rows is None:
            n = x.shape[0]
        else:
            if (type(rows) is not np.ndarray or rows.dtype != _INTP or rows.ndim != 1
                    or not rows.flags.c_contiguous):
                raise ValueError("train_step: rows must be a C-contiguous 1-D intp array")
            n = rows.shape[0]
        if n == 0:
            raise ValueError("train_step: the batch is empty")
        n_targets = x.shape[0]
        labels = targets.ndim == 1 if type(targets) is np.ndarray else False
        if labels and self._loss == "cross_entropy":
            if (targets.dtype != _INTP or targets.shape[0] != n_targets
                    or not targets.flags.c_contiguous):
                raise ValueError(f"train_step: labels must be a C-contiguous intp array of shape "
                                 f"({n_targets},)")
        elif (type(targets) is not np.ndarray or targets.dtype != dtype
              or targets.shape != (n_targets, self.n_outputs) or not targets.flags.c_contiguous):
            raise ValueError(f"train_step: targets must be a C-contiguous {dtype.name} array of "
                             f"shape ({n_targets}, {self.n_outputs})")
        if n > self._capacity:
            self._allocate(n)
        if update is not None:
            rule, hyper, weight_decay, state = update
            if rule not in _RULES:
                raise ValueError(f"train_step: unknown update rule {rule!r}")
            if state is not self._bound_state or rule != self._bound_rule:
                self._bind_state(rule, state)
        with own_threads():
            if update is None:
                total = self._kernel.step(x, rows, n, targets, self._thread_plan(n))
            else:
                total = self._kernel.step(x, rows, n, targets, self._thread_plan(n),
                                          _RULES[rule][0], np.asarray(hyper, dtype=np.float64),
                                          weight_decay)
        output = self._outputs[-1] if self._probs is None else self._probs
        scale = n if self._loss == "cross_entropy" else n * self.n_outputs
        return total / scale, output[:n]
