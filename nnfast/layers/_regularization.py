"""Layers that add a penalty to the objective: the base class, and activity regularisation."""
import math
import numbers

import numpy as np

from ._base import Layer


def check_weight(value, name):
    """``value`` as a finite float at least 0, or a ValueError naming ``name``."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"{name} must be a finite number at least 0, got {value!r}")
    return float(value)


class PenaltyLayer(Layer):
    """A layer that adds a penalty to the model's objective.

    After every forward pass (training or evaluation) the layer holds the
    penalty's value for the batch in :attr:`penalty`: a mean over the
    batch's samples, without the layer's weight or ``penalty_scale``.  The
    objective the model minimises is its loss plus, for each such layer,
    ``penalty_scale * penalty_weight * penalty``; the layer's backward pass
    adds that term's gradient.  :meth:`nnfast.Sequential.fit` writes each
    epoch's mean of :attr:`penalty` to the history under
    :attr:`penalty_name` (the values of layers sharing a name are added).

    Parameters
    ----------
    penalty_scale : float, at least 0
        A factor on the penalty's term in the objective.  The model's losses
        are means over every output value, so a model whose objective should
        be a per-sample sum (the evidence lower bound of a variational
        autoencoder) sets it to ``1 / n_outputs``.
    name : str, optional
    input_shape : tuple of int, optional

    Attributes
    ----------
    penalty_name : str
        The history key of the penalty (a class attribute).
    penalty : float
        The penalty of the last forward pass (0 before the first).
    penalty_weight : float
        The penalty's own weight (1 unless the subclass says otherwise).
    """

    penalty_name = "penalty"

    def __init__(self, penalty_scale=1.0, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        # [coefficient in the objective, value of the last batch, 1 when the
        # value is rather the layer's own]: shared with a compiled network,
        # which reads the first and writes the others.  The layer's own value
        # (a 0-d array of its backend) is read only when asked for.
        self._penalty_io = np.zeros(3)
        self._penalty_array = None
        self.penalty_scale = penalty_scale

    @property
    def penalty_weight(self):
        """The penalty's own weight in the objective (1 here)."""
        return 1.0

    @property
    def penalty_scale(self):
        """A factor on the penalty's term in the objective (settable; a compiled network follows)."""
        return self._penalty_scale

    @penalty_scale.setter
    def penalty_scale(self, value):
        self._penalty_scale = check_weight(value, "penalty_scale")
        self._update_coefficient()

    def _update_coefficient(self):
        self._penalty_io[0] = self._penalty_scale * self.penalty_weight

    @property
    def penalty_coefficient(self):
        """``penalty_scale * penalty_weight``: the penalty's factor in the objective."""
        return float(self._penalty_io[0])

    @property
    def penalty(self):
        """The penalty of the last forward pass: a batch mean, without weight or scale."""
        return float(self.ops.to_numpy(self.penalty_value) if self._penalty_io[2]
                     else self._penalty_io[1])

    @property
    def penalty_value(self):
        """:attr:`penalty` as the layer holds it: a 0-d array of its backend, or a number.

        Adding it to a loss on a device keeps the sum there.
        """
        return self._penalty_array if self._penalty_io[2] else self._penalty_io[1]

    @property
    def penalty_term(self):
        """The penalty's term in the objective for the last batch."""
        return self.penalty_coefficient * self.penalty

    def _report(self, value):
        """Record the batch's penalty (a 0-d array of the backend, not read here)."""
        self._penalty_array = value
        self._penalty_io[2] = 1.0

    def __getstate__(self):
        state = super().__getstate__()
        state["_penalty_array"] = None
        state["_penalty_io"] = state["_penalty_io"].copy()
        state["_penalty_io"][2] = 0.0
        return state

    def get_config(self):
        return {"penalty_scale": self.penalty_scale, **super().get_config()}


class ActivityRegularization(PenaltyLayer):
    """The identity on its input, with a sparsity penalty on it added to the objective.

    ``l1 * mean_over_batch(sum_j |h_j|) + kl * sum_j KL(target || rho_j)``,
    where ``rho_j`` is the mean of unit ``j`` over the batch and
    ``KL(t || r) = t log(t / r) + (1 - t) log((1 - t) / (1 - r))``.  The L1
    form pushes codes towards zero; the KL form pushes each unit's average
    activation towards ``target`` and needs inputs in (0, 1), as after a
    sigmoid (``rho`` is clipped to ``[1e-7, 1 - 1e-7]``).  Put it after the
    code layer of a sparse autoencoder.

    Parameters
    ----------
    l1 : float, at least 0
        Weight of the L1 term.
    kl : float, at least 0
        Weight of the KL term.
    target : float in (0, 1)
        The mean activation the KL term aims for.
    penalty_scale : float, at least 0
        See :class:`PenaltyLayer`.
    name : str, optional
    input_shape : tuple of int, optional

    Attributes
    ----------
    penalty : float
        The last batch's ``l1 * L1 + kl * KL`` (the weights are part of the
        penalty; ``penalty_weight`` is 1), reported under ``"sparsity"``.

    Notes
    -----
    Input and output: ndarray of shape (n_samples, *input_shape); each
    sample's values are the units ``h_j``.

    Examples
    --------
    >>> from nnfast.layers import ActivityRegularization
    >>> ActivityRegularization(l1=1e-3)
    ActivityRegularization(l1=0.001, kl=0.0, target=0.05, penalty_scale=1.0)
    """

    penalty_name = "sparsity"

    def __init__(self, l1=0.0, kl=0.0, target=0.05, penalty_scale=1.0, name=None,
                 input_shape=None):
        self.l1 = check_weight(l1, "l1")
        self.kl = check_weight(kl, "kl")
        if (isinstance(target, bool) or not isinstance(target, numbers.Real)
                or not 0 < target < 1):
            raise ValueError(f"target must be a number in (0, 1), got {target!r}")
        self.target = float(target)
        super().__init__(penalty_scale=penalty_scale, name=name, input_shape=input_shape)

    def _build(self, rng):
        self._units = math.prod(self.input_shape)
        self._mean = self.ops.alloc((self._units,), dtype="float64")

    def forward(self, x, training=False):
        self._h = x.reshape(x.shape[0], self._units)
        value, _ = self.ops.activity_penalty(self._h, self.l1, self.kl, self.target,
                                             mean_out=self._mean)
        self._report(value)
        return x

    def backward(self, dy, from_logits=False):
        dx = self.ops.backprop_activity_penalty(
            dy.reshape(self._h.shape), self._h, self._mean, self.l1, self.kl, self.target,
            self.penalty_coefficient, out=self._buffer("dx", self._h.shape))
        return dx.reshape(dy.shape)

    def node_spec(self):
        return {"kind": "activity_regularization", "l1": self.l1, "kl": self.kl,
                "target": self.target, "penalty_io": self._penalty_io}

    def get_config(self):
        return {"l1": self.l1, "kl": self.kl, "target": self.target, **super().get_config()}
