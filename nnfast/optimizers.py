"""Optimizers: update rules applied in place through the backend's ops.

Every optimizer takes an optional ``weight_decay`` for the weights (not the
biases).  In all of them but :class:`AdamW` it is an L2 penalty: ``weight_decay
* w`` is added to the gradient before the update, so adaptive methods (Adam,
RMSprop, ...) rescale it with the gradient.  :class:`AdamW` decays the
weights directly instead (decoupled weight decay, Loshchilov & Hutter).
"""
import functools
import numbers


class Optimizer:
    """Base class: holds hyperparameters, per-parameter state and the step count.

    Parameters
    ----------
    learning_rate : float
        May be changed between steps (learning-rate schedules do).
    weight_decay : float
        L2 penalty coefficient: ``weight_decay * w`` is added to the gradient
        of each weight before the update (see :class:`AdamW` for the
        decoupled kind).
    """

    #: Names of the per-parameter state arrays, in the order ``_update`` takes them.
    slots = ()

    def __init__(self, learning_rate=0.01, weight_decay=0.0):
        _check_nonneg(learning_rate, "learning_rate", positive=True)
        _check_nonneg(weight_decay, "weight_decay")
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.iterations = 0
        self._state = None
        self._params = []

    def build(self, ops, params):
        """Allocate zeroed state for ``params`` (a list of arrays).

        Parameters already known to this optimizer (the same array objects,
        as when a model unfreezes a layer between two fits) keep their state.
        """
        self.ops = ops
        known = {id(p): slots for p, slots in zip(self._params, self._state or [])}
        self._state = [known.get(id(p)) or [ops.alloc(p.shape, dtype=p.dtype) for _ in self.slots]
                       for p in params]
        self._params = list(params)

    @property
    def built(self):
        return self._state is not None

    def step(self, params, grads, decay):
        """Apply one update to every parameter in place.

        Parameters
        ----------
        params, grads : list of ndarray
        decay : list of bool
            Whether weight decay applies to each parameter.
        """
        self.iterations += 1
        for param, grad, state, dec in zip(params, grads, self._state, decay):
            self._update(param, grad, state, self.weight_decay if dec else 0.0)

    def fused_rule(self, step):
        """The update of step ``step`` as ``(rule, scalars)`` for fused kernels, or None.

        Backends that run a whole training step in one call (see
        ``Ops.network``) apply the rule themselves instead of calling
        :meth:`step`, and the caller counts the step in ``iterations``.
        Rules: ``('sgd', (lr,))``, ``('momentum' | 'nesterov', (lr,
        momentum))``, ``('adam' | 'adamw', (lr, beta_1, beta_2, epsilon,
        1 - beta_1**step, 1 - beta_2**step))``, ``('rmsprop', (lr, rho, epsilon))``,
        ``('adagrad', (lr, epsilon))``, ``('adadelta', (lr, rho, epsilon))``.
        None when a subclass changes the update (overrides ``_update`` or
        ``step`` without saying which rule it applies): the caller then uses
        :meth:`step`.
        """
        return self._fused_rule(step) if _rule_is_known(type(self)) else None

    def _fused_rule(self, step):
        return None

    def get_config(self):
        """Hyperparameters as a JSON-serialisable dict (with the class name)."""
        return {"class_name": type(self).__name__, "learning_rate": self.learning_rate,
                "weight_decay": self.weight_decay, **self._extra_config()}

    def _extra_config(self):
        return {}

    def state_arrays(self):
        """The state as ``{"<param index>/<slot>": array}`` for saving."""
        if self._state is None:
            return {}
        return {f"{i}/{slot}": arr for i, arrs in enumerate(self._state)
                for slot, arr in zip(self.slots, arrs)}

    def load_state_arrays(self, ops, params, arrays):
        """Restore state saved by :meth:`state_arrays` for ``params``."""
        self.build(ops, params)
        for i, arrs in enumerate(self._state):
            for j, slot in enumerate(self.slots):
                key = f"{i}/{slot}"
                if key not in arrays:
                    raise ValueError(f"optimizer state {key!r} is missing")
                if arrays[key].shape != arrs[j].shape:
                    raise ValueError(f"optimizer state {key!r} has shape {arrays[key].shape}, "
                                     f"expected {arrs[j].shape}")
                arrs[j][...] = ops.asarray(arrays[key])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and Nesterov momentum.

    ``v = momentum * v - lr * g``; ``w += v`` (or ``w += momentum * v - lr * g``
    with ``nesterov=True``); plain ``w -= lr * g`` without momentum.

    Examples
    --------
    >>> from nnfast.optimizers import SGD
    >>> SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    SGD(learning_rate=0.1, weight_decay=0.0, momentum=0.9, nesterov=True)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slots = ("velocity",) if self.momentum else ()

    def _update(self, param, grad, state, weight_decay):
        self.ops.sgd_update(param, grad, state[0] if state else None, self.learning_rate,
                            momentum=self.momentum, nesterov=self.nesterov, weight_decay=weight_decay)

    def _fused_rule(self, step):
        if not self.momentum:
            return "sgd", (self.learning_rate,)
        return ("nesterov" if self.nesterov else "momentum"), (self.learning_rate, self.momentum)

    def _extra_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015)."""

    slots = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        for value, name in ((beta_1, "beta_1"), (beta_2, "beta_2")):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        _check_nonneg(epsilon, "epsilon", positive=True)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, param, grad, state, weight_decay):
        self.ops.adam_update(param, grad, state[0], state[1], self.learning_rate, self.beta_1,
                             self.beta_2, self.epsilon, self.iterations, weight_decay=weight_decay)

    def _fused_rule(self, step):
        bias1, bias2 = 1.0 - self.beta_1 ** step, 1.0 - self.beta_2 ** step
        if bias1 == 0.0 or bias2 == 0.0:
            return None
        return "adam", (self.learning_rate, self.beta_1, self.beta_2, self.epsilon, bias1, bias2)

    def _extra_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Each step first shrinks every weight (not the biases) by ``learning_rate
    * weight_decay * w``, then applies Adam to the gradient alone, so the
    decay is not rescaled by Adam's second moment as an L2 penalty would be.

    Examples
    --------
    >>> from nnfast.optimizers import AdamW
    >>> AdamW(learning_rate=0.001, weight_decay=0.01)
    AdamW(learning_rate=0.001, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-08)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.01):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay)

    def _update(self, param, grad, state, weight_decay):
        self.ops.adamw_update(param, grad, state[0], state[1], self.learning_rate, self.beta_1,
                              self.beta_2, self.epsilon, self.iterations, weight_decay=weight_decay)

    def _fused_rule(self, step):
        rule = super()._fused_rule(step)
        return None if rule is None else ("adamw", rule[1])


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton, 2012)."""

    slots = ("sq",)

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        if not 0 <= rho < 1:
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        _check_nonneg(epsilon, "epsilon", positive=True)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, param, grad, state, weight_decay):
        self.ops.rmsprop_update(param, grad, state[0], self.learning_rate, self.rho, self.epsilon,
                                weight_decay=weight_decay)

    def _fused_rule(self, step):
        return "rmsprop", (self.learning_rate, self.rho, self.epsilon)

    def _extra_config(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer, 2011)."""

    slots = ("acc",)

    def __init__(self, learning_rate=0.01, epsilon=1e-7, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        _check_nonneg(epsilon, "epsilon", positive=True)
        self.epsilon = float(epsilon)

    def _update(self, param, grad, state, weight_decay):
        self.ops.adagrad_update(param, grad, state[0], self.learning_rate, self.epsilon,
                                weight_decay=weight_decay)

    def _fused_rule(self, step):
        return "adagrad", (self.learning_rate, self.epsilon)

    def _extra_config(self):
        return {"epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), its step scaled by ``learning_rate`` (1.0 is the original)."""

    slots = ("acc_grad", "acc_delta")

    def __init__(self, learning_rate=1.0, rho=0.95, epsilon=1e-6, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        if not 0 <= rho < 1:
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        _check_nonneg(epsilon, "epsilon", positive=True)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, param, grad, state, weight_decay):
        self.ops.adadelta_update(param, grad, state[0], state[1], self.learning_rate, self.rho,
                                 self.epsilon, weight_decay=weight_decay)

    def _fused_rule(self, step):
        return "adadelta", (self.learning_rate, self.rho, self.epsilon)

    def _extra_config(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
              "adadelta": Adadelta}


def get_optimizer(optimizer, **kwargs):
    """Return an :class:`Optimizer` for a name (with ``kwargs``) or an instance.

    Names: 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'adadelta'.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()](**kwargs)
    raise ValueError(f"unknown optimizer {optimizer!r}; expected an Optimizer or one of {sorted(OPTIMIZERS)}")


def optimizer_from_config(config):
    """Rebuild an optimizer from :meth:`Optimizer.get_config` output."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"an optimizer config must be an object with a class_name, got {config!r}")
    config = dict(config)
    name = config.pop("class_name")
    classes = {cls.__name__: cls for cls in OPTIMIZERS.values()}
    if name not in classes:
        raise ValueError(f"unknown optimizer class {name!r}")
    return classes[name](**config)


def _owner(cls, name):
    """The class in ``cls``'s MRO that defines ``name``."""
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


@functools.lru_cache(maxsize=None)
def _rule_is_known(cls):
    """Whether ``cls._fused_rule`` describes the update that ``cls.step`` applies.

    Asked once per class, not at every training step.
    """
    return _owner(cls, "step") is Optimizer and _owner(cls, "_update") is _owner(cls, "_fused_rule")


def _check_nonneg(value, name, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise TypeError(f"{name} must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "get_optimizer",
           "optimizer_from_config"]
