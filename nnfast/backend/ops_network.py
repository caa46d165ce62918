"""The whole model as one compiled step: none in the reference.

The reference runs a model's layers one at a time; that is the definition
that :class:`~nnfast.backend.cpu_network.CpuNetwork` is tested against.
"""
from ._base import BaseOps


class NetworkOps(BaseOps):
    """A model's layers, loss and update as one step per batch, where a backend has it."""

    def network(self, nodes, loss, fused, classes, updates, dtype):
        """A compiled training step for a whole chain of layers, or None.

        Backends that can run every layer's forward and backward pass, the
        loss and the optimizer's update in one call per batch return an
        object with ``train_step(x, targets, rows=None, update=None)`` and
        ``evaluate(x, targets)``, which do exactly what the layers, the loss
        and the optimizer do one after the other.  The reference returns
        None: its layers, called one at a time, are the definition that
        compiled networks are tested against.

        Parameters
        ----------
        nodes : list of dict
            One per layer, as :meth:`nnfast.layers.Layer.node_spec` describes
            it (``kind`` and that kind's arrays and settings), with the
            layer's ``in_shape``, ``out_shape`` and ``need_dx`` added.
        loss : {'cross_entropy', 'binary_cross_entropy', 'mean_squared_error'}
        fused : bool
            Whether the output activation (softmax or sigmoid) is folded into
            the cross-entropy, which then takes the last layer's logits.
        classes : int
            Classes of the cross-entropy (the output's last axis).
        updates : list of tuple (int, ndarray, ndarray, bool)
            For each trained parameter: the lowest layer that uses it, the
            parameter, its gradient, and whether weight decay applies.
        dtype : {'float32', 'float64'}

        Returns
        -------
        object or None
        """
        return None
