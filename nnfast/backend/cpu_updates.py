"""Compiled optimizer updates, one pass over each parameter (kernels in ``nnfast._updates``).

The updates with a square root per element run code compiled for the widest
instruction set the CPU has (``nnfast._simd``).  See
:mod:`nnfast.backend.cpu_arrays` for the checks made before a kernel runs.
"""
from .. import _updates
from ._threads import elementwise_threads
from .cpu_arrays import c_order, flat, float_dtype


def _state_ok(op, dtype, param, grad, *state):
    """True when a compiled optimizer update can run; raises on mismatched shapes.

    ``state`` holds ``(name, array)`` pairs of optimizer state updated in place.
    """
    if dtype is None or param.size == 0:
        return False
    for name, x in (("grad", grad),) + state:
        if x.shape != param.shape:
            raise ValueError(f"{op}: {name} has shape {x.shape} but param has shape "
                             f"{param.shape}; they must be equal")
    if not param.flags.c_contiguous:
        return False
    for _, x in state:
        if not x.flags.c_contiguous:
            return False
    return True


class CpuUpdateOps:
    """Compiled overrides of :class:`~nnfast.backend.ops_updates.UpdateOps`, a mixin of ``CpuOps``.

    Every method falls back to the reference through ``super()`` when the
    kernels cannot take the arguments as given.
    """

    # Each update is one pass over the parameter: weight decay, state update
    # and parameter update for an element happen together.  The parameter and
    # state arrays are updated in place, so they must be C-contiguous (the
    # reference runs otherwise); a non-contiguous gradient is copied.
    def sgd_update(self, param, grad, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        """Stochastic gradient descent step, with optional (Nesterov) momentum, in one pass.

        See Also
        --------
        nnfast.backend.ops_updates.UpdateOps.sgd_update : parameters.
        """
        if momentum == 0.0:
            dtype = float_dtype(param, grad)
            state = ()
        else:
            dtype = float_dtype(param, grad, velocity)
            state = (("velocity", velocity),)
        if not _state_ok("sgd_update", dtype, param, grad, *state):
            return super().sgd_update(param, grad, velocity, lr, momentum=momentum,
                                      nesterov=nesterov, weight_decay=weight_decay)
        _updates.sgd_update(flat(param), flat(c_order(grad)),
                          None if momentum == 0.0 else flat(velocity),
                          lr, momentum, nesterov, weight_decay, elementwise_threads(param.size))

    def adam_update(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        """Adam step in one pass, with the bias corrections folded into two scalars.

        See Also
        --------
        nnfast.backend.ops_updates.UpdateOps.adam_update : parameters.
        """
        if not self._adam("adam_update", param, grad, m, v, lr, beta1, beta2, eps, step,
                          weight_decay, decoupled=False):
            super().adam_update(param, grad, m, v, lr, beta1, beta2, eps, step,
                                weight_decay=weight_decay)

    def adamw_update(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        """AdamW step in one pass: the parameter shrinks, then Adam's step on the gradient.

        See Also
        --------
        nnfast.backend.ops_updates.UpdateOps.adamw_update : parameters.
        """
        if not self._adam("adamw_update", param, grad, m, v, lr, beta1, beta2, eps, step,
                          weight_decay, decoupled=True):
            super().adamw_update(param, grad, m, v, lr, beta1, beta2, eps, step,
                                 weight_decay=weight_decay)

    def _adam(self, op, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
        """Run the compiled Adam (or AdamW); False when the reference must run instead."""
        dtype = float_dtype(param, grad, m, v)
        bias1 = 1.0 - beta1 ** step
        bias2 = 1.0 - beta2 ** step
        if (bias1 == 0.0 or bias2 == 0.0
                or not _state_ok(op, dtype, param, grad, ("m", m), ("v", v))):
            return False
        _updates.adam_update(flat(param), flat(c_order(grad)), flat(m), flat(v), lr, beta1,
                             beta2, eps, bias1, bias2, weight_decay, decoupled,
                             elementwise_threads(param.size))
        return True

    def rmsprop_update(self, param, grad, sq, lr, rho, eps, weight_decay=0.0):
        """RMSprop step in one pass.

        See Also
        --------
        nnfast.backend.ops_updates.UpdateOps.rmsprop_update : parameters.
        """
        dtype = float_dtype(param, grad, sq)
        if not _state_ok("rmsprop_update", dtype, param, grad, ("sq", sq)):
            return super().rmsprop_update(param, grad, sq, lr, rho, eps,
                                          weight_decay=weight_decay)
        _updates.rmsprop_update(flat(param), flat(c_order(grad)), flat(sq), lr, rho, eps,
                              weight_decay, elementwise_threads(param.size))

    def adagrad_update(self, param, grad, acc, lr, eps, weight_decay=0.0):
        """Adagrad step in one pass.

        See Also
        --------
        nnfast.backend.ops_updates.UpdateOps.adagrad_update : parameters.
        """
        dtype = float_dtype(param, grad, acc)
        if not _state_ok("adagrad_update", dtype, param, grad, ("acc", acc)):
            return super().adagrad_update(param, grad, acc, lr, eps, weight_decay=weight_decay)
        _updates.adagrad_update(flat(param), flat(c_order(grad)), flat(acc), lr, eps,
                              weight_decay, elementwise_threads(param.size))

    def adadelta_update(self, param, grad, acc_grad, acc_delta, lr, rho, eps, weight_decay=0.0):
        """Adadelta step in one pass.

        See Also
        --------
        nnfast.backend.ops_updates.UpdateOps.adadelta_update : parameters.
        """
        dtype = float_dtype(param, grad, acc_grad, acc_delta)
        if not _state_ok("adadelta_update", dtype, param, grad,
                              ("acc_grad", acc_grad), ("acc_delta", acc_delta)):
            return super().adadelta_update(param, grad, acc_grad, acc_delta, lr, rho, eps,
                                           weight_decay=weight_decay)
        _updates.adadelta_update(flat(param), flat(c_order(grad)), flat(acc_grad),
                               flat(acc_delta), lr, rho, eps, weight_decay,
                               elementwise_threads(param.size))
