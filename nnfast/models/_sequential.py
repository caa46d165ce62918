"""The Keras-style sequential model: a stack of layers trained by backpropagation."""
import math
import numbers
import warnings

import numpy as np

from .._validation import check_array, check_consistent_length, check_fraction
from ..backend import resolve_ops
from ..callbacks import CallbackList, EpochPrinter, History, ProgressBar
from ..io import register_model
from ..layers import Conv2D, Dense, Layer, PenaltyLayer, layer_from_config
from ..losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError, get_loss
from ..metrics import batch_metric, normalize_metric
from ..optimizers import get_optimizer, optimizer_from_config

#: Rows per forward pass in predict/evaluate when no batch size is given.
INFERENCE_BATCH = 4096

#: Losses a backend may run inside a compiled network (see ``Ops.network``).
_NETWORK_LOSSES = (CrossEntropy, BinaryCrossEntropy, MeanSquaredError)


@register_model
class Sequential:
    """A linear stack of layers, with ``compile``/``fit``/``evaluate``/``predict``.

    Parameters
    ----------
    layers : list of Layer, optional
    name : str, optional
    device : {'cpu', 'numpy', 'gpu'} or Ops, optional
        Where the arrays live and the operations run; the current backend
        (``nnfast.set_backend``) by default.
    dtype : {'float32', 'float64'}
    random_state : int, optional
        Seed of the initial weights, dropout masks and shuffling.

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import Sequential
    >>> from nnfast.layers import Dense
    >>> model = Sequential([Dense(8, activation="tanh", input_dim=2),
    ...                     Dense(2, activation="softmax")], random_state=0)
    >>> model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    >>> history = model.fit(X, [0, 1, 1, 0], epochs=3, batch_size=4)
    >>> sorted(history.history)
    ['accuracy', 'loss', 'lr']
    >>> model.predict(X).shape
    (4, 2)
    """

    def __init__(self, layers=None, name=None, device=None, dtype="float32", random_state=None):
        self.layers = []
        self.name = name
        self.device = device
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.random_state = random_state
        self.input_shape = None
        self.optimizer = self.loss = None
        self.metrics = []
        self.stop_training = False
        self.stop_reason = None
        self._fused = False
        self._network = None
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------- structure
    def add(self, layer):
        """Append ``layer`` (only before the model is built)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"expected a Layer, got {layer!r}")
        if self.built:
            raise RuntimeError("cannot add layers to a model that is already built")
        self.layers.append(layer)

    @property
    def built(self):
        return self.input_shape is not None

    def build(self, input_shape):
        """Create every layer's variables for samples of ``input_shape``.

        Parameters
        ----------
        input_shape : int or tuple of int
            Shape of one sample (without the batch axis).
        """
        self._build(input_shape, initialize=True)

    def _build(self, input_shape, initialize):
        if not self.layers:
            raise ValueError("the model has no layers; add some before building it")
        shape = (int(input_shape),) if isinstance(input_shape, numbers.Integral) else tuple(input_shape)
        self.ops = resolve_ops(self.device)
        seeds = np.random.SeedSequence(self.random_state).spawn(len(self.layers) + 1)
        self._rng = np.random.default_rng(seeds[-1])
        for layer, seed in zip(self.layers, seeds):
            shape = layer.build(shape, self.ops, self.dtype, np.random.default_rng(seed),
                                initialize=initialize)
        self.input_shape = tuple(self.layers[0].input_shape)
        self.output_shape = shape
        self._link_variables()
        self._configure_loss()

    def _link_variables(self):
        """Tell each layer which gradients it adds to, and whether its input gradient is needed.

        Walking the layers as the backward pass does (last first), the first
        layer to reach a variable writes its gradient and any later one
        (a layer tied to it) adds to it.  A layer's input gradient is needed
        only when some layer before it has variables to train.
        """
        seen = set()
        for layer in reversed(self.layers):
            used = [v for v in layer.used_variables() if v.grad is not None]
            layer.accumulate = frozenset(v for v in used if v in seen)
            seen.update(used)
        trained_before = False
        for layer in self.layers:
            layer.needs_input_grad = trained_before
            trained_before = trained_before or any(v.trained for v in layer.used_variables())

    def _ensure_built(self):
        """Build now if the first layer declares its input shape (as Keras does)."""
        if not self.built and self.layers and self.layers[0].declared_input_shape is not None:
            self.build(self.layers[0].declared_input_shape)

    def _auto_build(self, x_shape):
        if not self.built:
            declared = self.layers[0].declared_input_shape if self.layers else None
            self.build(declared if declared is not None else x_shape)
        if tuple(x_shape) != self.input_shape:
            raise ValueError(f"the model expects samples of shape {self.input_shape}, got {tuple(x_shape)}")

    def _unique_variables(self, used=False):
        """Every variable of the model once, in layer order (``used``: shared ones too)."""
        out, seen = [], set()
        for layer in self.layers:
            for var in (layer.used_variables() if used else layer.variables):
                if var not in seen:
                    seen.add(var)
                    out.append(var)
        return out

    @property
    def variables(self):
        """Every variable of the model (parameters and saved state), once each, in layer order."""
        self._check_built()
        return self._unique_variables()

    @property
    def params(self):
        """The arrays an optimizer updates now (trainable variables of trainable layers)."""
        return [v.value for v in self._unique_variables(used=True) if v.trained]

    def count_params(self):
        """Total number of scalars in the model's variables (parameters and state)."""
        self._ensure_built()
        return sum(v.value.size for v in self._unique_variables()) if self.built else 0

    def get_weights(self):
        """Copies of every variable (parameters and state), in layer order (numpy arrays)."""
        self._ensure_built()
        self._check_built()
        return [self.ops.to_numpy(v.value).copy() for v in self._unique_variables()]

    def set_weights(self, weights):
        """Set every variable from a list like :meth:`get_weights` returns."""
        self._ensure_built()
        self._check_built()
        variables = self._unique_variables()
        if len(weights) != len(variables):
            raise ValueError(f"expected {len(variables)} arrays, got {len(weights)}")
        for i, (var, w) in enumerate(zip(variables, weights)):
            w = np.asarray(w)
            if w.shape != var.shape:
                raise ValueError(f"weight {i} ({var.name} of layer {self.layers.index(var.owner)}) "
                                 f"has shape {w.shape}, expected {var.shape}")
            var.value[...] = self.ops.asarray(w, dtype=var.value.dtype)

    def summary(self, print_fn=print):
        """Print (and return) a table of layers, output shapes and parameter counts.

        A model whose first layer declares its input shape is built first, as
        in Keras; any other model must be built or fitted before.
        """
        self._ensure_built()
        self._check_built()
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for i, layer in enumerate(self.layers):
            label = layer.name or f"{type(layer).__name__.lower()}_{i}"
            act = getattr(layer, "activation", None)
            details = [act] if act and isinstance(layer, (Dense, Conv2D)) else []
            if isinstance(layer, Dense) and layer.tied_to is not None:
                details.append(f"tied to {self.layers.index(layer.tied_to)}")
            if not layer.trainable:
                details.append("frozen")
            kind = ", ".join([type(layer).__name__] + details)
            rows.append((f"{label} ({kind})", str((None,) + tuple(layer.output_shape)),
                         f"{layer.count_params():,}"))
        widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
        rule = "=" * sum(widths)
        lines = [f'Model: "{self.name or "sequential"}"', rule,
                 "".join(t.ljust(w) for t, w in zip(rows[0], widths)), rule]
        lines += ["".join(t.ljust(w) for t, w in zip(r, widths)) for r in rows[1:]]
        variables = self._unique_variables()
        total = sum(v.value.size for v in variables)
        trainable = sum(v.value.size for v in variables if v.trained)
        lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}"]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer="adam", loss="cross_entropy", metrics=None):
        """Choose the optimizer, loss and metrics.

        Parameters
        ----------
        optimizer : str or Optimizer
            'sgd', 'adam', 'rmsprop', 'adagrad', 'adadelta' (default
            hyperparameters) or a configured instance.
        loss : str or Loss
            'cross_entropy' (integer labels or one-hot rows),
            'binary_cross_entropy' or 'mean_squared_error'.
        metrics : list of str, optional
            'accuracy', 'mae', 'mse'.
        """
        self.optimizer = get_optimizer(optimizer)
        self.loss = get_loss(loss)
        self.metrics = [normalize_metric(m) for m in (metrics or [])]
        if "accuracy" in self.metrics and self.loss.name == "mean_squared_error":
            raise ValueError("the 'accuracy' metric needs a cross-entropy loss")
        if self.built:
            self._configure_loss()

    def _configure_loss(self):
        if self.loss is None:
            return
        last = self.layers[-1]
        activation = last.output_activation or "identity"
        self.loss.check_output_activation(activation)
        self._output_activation = activation
        self._fused = self.loss.fuses is not None and activation == self.loss.fuses
        last.keep_preactivation = self._fused
        self._network = self._network_key = None

    def __getstate__(self):
        # The compiled network holds raw addresses of this model's arrays: a
        # copy (copy.deepcopy, or pickling between processes) makes its own.
        state = self.__dict__.copy()
        state["_network"] = None
        state.pop("_saved_arrays", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._network_key = None  # the next fit makes this copy's own network

    def _make_network(self):
        """The backend's compiled step for the whole model, or None.

        Every layer describes itself as a node (:meth:`Layer.node_spec`);
        when all of them have a compiled form, a training step is a single
        call that runs every layer's forward and backward pass, the loss and
        the optimizer's update, with the results of the layers run one at a
        time.  Otherwise the layers run one by one.
        """
        if type(self.loss) not in _NETWORK_LOSSES:
            return None
        nodes = []
        for layer in self.layers:
            spec = layer.node_spec()
            if spec is None:
                return None
            # A layer's spec may state its shapes itself (images as (h, w, c)).
            nodes.append({"in_shape": layer.input_shape, "out_shape": layer.output_shape,
                          "need_dx": layer.needs_input_grad, **spec})
        first_user = {}
        for i, layer in enumerate(self.layers):
            for var in layer.used_variables():
                first_user.setdefault(var, i)
        updates = [(first_user[v], v.value, v.grad, v.decay)
                   for v in self._unique_variables(used=True) if v.trained]
        return self.ops.network(nodes, self.loss.name, self._fused, self.output_shape[-1],
                                updates, self.dtype)

    def _check_built(self):
        if not self.built:
            raise RuntimeError("the model is not built yet: call fit() or build(input_shape) first")

    def _check_compiled(self):
        if self.optimizer is None:
            raise RuntimeError("the model must be compiled before training or evaluation: call compile()")

    # ------------------------------------------------------------------ inputs
    def _input_ops(self):
        """The ops inputs are checked against: the model's, or those it will be built with."""
        ops = getattr(self, "ops", None)
        return ops if ops is not None else resolve_ops(self.device)

    def _host_float(self, value):
        """``value`` (a float, or a 0-d array of the backend) as a float: an explicit read."""
        return value if type(value) is float else float(self.ops.to_numpy(value))

    def _prepare(self, x, y=None, name="x", checked=False):
        """``x`` checked (unless ``checked``: an estimator has) and ``y`` as the loss needs it.

        When ``checked`` and ``y`` is ``x`` (an autoencoder's targets), the
        estimator has checked the values for the loss as well.
        """
        if not checked:
            x = check_array(x, name=name, ndim=(2, 3, 4), dtype=self.dtype, ops=self._input_ops())
        self._auto_build(x.shape[1:])
        if y is None:
            return x, None
        targets = self.loss.prepare_targets(y, self.output_shape, self.dtype,
                                            check_values=not (checked and y is x))
        check_consistent_length(x, targets, names=(name, "y"))
        return x, targets

    # -------------------------------------------------------------------- core
    def _forward(self, x, training):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def _loss_of_output(self, output, targets, grad_out=None):
        """The objective on the batch (the loss plus the penalties of the last forward pass)."""
        logits = self.layers[-1].preactivation if self._fused else output
        loss, grad = self.loss(self.ops, logits, targets, grad_out=grad_out)
        for layer in self._penalty_layers():
            loss = loss + layer.penalty_coefficient * layer.penalty_value
        return loss, grad

    def _penalty_layers(self):
        """The layers that add a penalty to the objective (:class:`~nnfast.layers.PenaltyLayer`)."""
        return [layer for layer in self.layers if isinstance(layer, PenaltyLayer)]

    def _penalty_sums(self):
        """A zero for each penalty name of the model, in layer order."""
        return dict.fromkeys((layer.penalty_name for layer in self._penalty_layers()), 0.0)

    @staticmethod
    def _add_penalties(sums, layers, weight):
        """Add each layer's last penalty, times ``weight``, to ``sums`` under its name (no host read)."""
        for layer in layers:
            sums[layer.penalty_name] = sums[layer.penalty_name] + layer.penalty_value * weight

    def _backprop(self, xb, tb, rows=None):
        """Forward and backward pass on one batch; fills the trained variables' gradients.

        The batch is ``xb``, or ``xb[rows]`` when ``rows`` is given (only
        with a compiled network, which gathers the rows itself).
        """
        if self._network is not None:
            return self._network.train_step(xb, tb, rows)
        output = self._forward(xb, training=True)
        loss, grad = self._loss_of_output(output, tb, grad_out=self._grad_buffer(output.shape))
        last = self.layers[-1]
        for layer in reversed(self.layers):
            if not (layer.needs_input_grad or any(v.trained for v in layer.used_variables())):
                break  # nothing below this layer needs a gradient
            grad = layer.backward(grad, from_logits=self._fused and layer is last)
        return loss, output

    def _train_step(self, xb, tb, rows=None, want_output=True):
        optimizer = self.optimizer
        rule = optimizer.fused_rule(optimizer.iterations + 1) if self._network is not None else None
        if rule is not None and self._network.supports(rule[0]):
            optimizer.iterations += 1
            return self._network.train_step(xb, tb, rows,
                                          update=(*rule, optimizer.weight_decay, optimizer._state),
                                          want_output=want_output)
        loss, output = self._backprop(xb, tb, rows)
        optimizer.step(self._train_params, self._train_grads, self._train_decay)
        return loss, output

    def compute_gradients(self, x, y):
        """Loss and parameter gradients on one batch, without updating anything.

        Dropout layers draw masks as in training.

        Returns
        -------
        loss : float
        grads : list of ndarray
            Copies, one per trained variable, in the order of :attr:`params`.
        """
        self._check_compiled()
        x, targets = self._prepare(x, y)
        self._prepare_training()
        with self.ops.kernel_threads():
            loss, _ = self._backprop(self.ops.asarray(x), self.ops.asarray(targets))
        return self._host_float(loss), [self.ops.to_numpy(g).copy() for g in self._train_grads]

    def _grad_buffer(self, shape):
        buf = getattr(self, "_grad_buf", None)
        if buf is None or buf.shape[1:] != tuple(shape[1:]) or buf.shape[0] < shape[0]:
            buf = self._grad_buf = self.ops.alloc(shape, dtype=self.dtype, zeros=False)
        return buf if buf.shape[0] == shape[0] else buf[:shape[0]]

    def _prepare_training(self):
        """Settle what trains (layers may have been frozen or unfrozen since the last fit)."""
        self._link_variables()
        trained = [v for v in self._unique_variables(used=True) if v.trained]
        self._train_params = [v.value for v in trained]
        self._train_grads = [v.grad for v in trained]
        self._train_decay = [v.decay for v in trained]
        optimizer = self.optimizer
        if not optimizer.built or [id(p) for p in optimizer._params] != [id(p) for p in self._train_params]:
            optimizer.build(self.ops, self._train_params)
        key = tuple(id(v) for v in trained)
        if key != getattr(self, "_network_key", None):
            self._network = self._make_network()
            self._network_key = key

    def train_on_batch(self, x, y):
        """One gradient step on a single batch; returns the batch loss."""
        self._check_compiled()
        x, targets = self._prepare(x, y)
        self._prepare_training()
        with self.ops.kernel_threads():
            loss, _ = self._train_step(self.ops.asarray(x), self.ops.asarray(targets))
        return self._host_float(loss)

    # ----------------------------------------------------------------- fitting
    def fit(self, x, y, epochs=1, batch_size=32, verbose=0, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0):
        """Train the model.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_features) or (n_samples, *sample_shape)
        y : array-like
            Class indices of shape (n_samples,) or one-hot rows for
            cross-entropy; targets of shape (n_samples, n_outputs) otherwise.
        epochs : int
            Index of the last epoch to run (training starts at ``initial_epoch``).
        batch_size : int or None
            Samples per gradient step: 1 is the classic online rule; a value
            at least the number of samples (or None) uses the full set as one
            batch.
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar, 2 one line per epoch.
        callbacks : list of Callback, optional
        validation_split : float in [0, 1)
            Fraction of the data, taken from the end before shuffling, held out
            for validation.
        validation_data : tuple (x_val, y_val), optional
            Overrides ``validation_split``.
        shuffle : bool
            Shuffle the training samples before each epoch.
        initial_epoch : int

        Returns
        -------
        History
            ``history.history`` maps 'loss', each metric, the name of each
            penalty (``penalty_name`` of the model's
            :class:`~nnfast.layers.PenaltyLayer` layers: 'sparsity', 'kl'),
            their 'val_' versions and 'lr' to one value per epoch.  'loss'
            is the whole objective: the loss plus every penalty's
            ``penalty_scale * penalty_weight * penalty``; a penalty's own
            entry is its mean value, without those factors.

        Notes
        -----
        When a batch loss becomes NaN or infinite, training stops with a
        warning and the weights (and optimizer state) from the end of the
        last complete epoch are restored.
        """
        self._check_compiled()
        x, targets = self._prepare(x, y)
        with self.ops.kernel_threads():
            return self._fit(x, targets, epochs, batch_size, verbose, callbacks, validation_split,
                             validation_data, shuffle, initial_epoch)

    def _fit_checked(self, x, y, epochs, batch_size, verbose, callbacks, validation_split=0.0,
                     shuffle=True):
        """:meth:`fit` on inputs an estimator has checked for this model already.

        ``x`` is a C-contiguous array of the model's dtype, finite; when ``y``
        is ``x`` its values also suit the loss.  Skipping the checks saves
        passes over the whole data, which a one-epoch ``fit`` of a small
        network would notice.
        """
        self._check_compiled()
        x, targets = self._prepare(x, y, checked=True)
        with self.ops.kernel_threads():
            return self._fit(x, targets, epochs, batch_size, verbose, callbacks, validation_split,
                             None, shuffle, 0)

    def _fit(self, x, targets, epochs, batch_size, verbose, callbacks, validation_split,
             validation_data, shuffle, initial_epoch):
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        check_fraction(validation_split, "validation_split")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            x_val, t_val = self._prepare(*validation_data, name="x_val")
        elif validation_split:
            n_val = int(math.floor(len(x) * validation_split))
            if n_val == 0 or n_val == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no samples for "
                                 f"{'validation' if n_val == 0 else 'training'} out of {len(x)}")
            x, x_val = x[:-n_val], x[-n_val:]
            targets, t_val = targets[:-n_val], targets[-n_val:]
        else:
            x_val = t_val = None
        n = len(x)
        if batch_size is None:
            batch_size = n
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        batch_size = min(int(batch_size), n)
        self._prepare_training()

        history = History()
        extra = {1: [ProgressBar()], 2: [EpochPrinter()]}.get(verbose, [])
        cbs = CallbackList([history] + extra + list(callbacks or []), self)
        self.history = history
        self.stop_training, self.stop_reason, self._bad_loss = False, None, False
        self._n_train_samples, self._n_epochs = n, epochs
        ops = self.ops
        network = self._network
        penalty_layers = self._penalty_layers()
        # On a device (cupy) the data moves there once per fit, each epoch's order once per
        # epoch, and the losses stay there until the epoch ends: no batch waits for the host.
        on_device = ops.xp is not np
        if on_device:
            x, targets = ops.asarray(x), ops.asarray(targets)
            if x_val is not None:
                x_val, t_val = ops.asarray(x_val), ops.asarray(t_val)
        xbuf = None if network or on_device else np.empty((batch_size,) + x.shape[1:], dtype=x.dtype)
        tbuf = None if on_device else np.empty((batch_size,) + targets.shape[1:], dtype=targets.dtype)
        snapshot = self._snapshot()

        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            order = self._rng.permutation(n) if shuffle else np.arange(n)
            if on_device:
                order = ops.asarray(order)
            loss_sum, metric_sums = 0.0, dict.fromkeys(self.metrics, 0.0)
            penalty_sums = self._penalty_sums()
            for batch, start in enumerate(range(0, n, batch_size)):
                idx = order[start:start + batch_size]
                nb = len(idx)
                if network:
                    # The network gathers the batch's rows of x and targets itself.
                    loss, output = self._train_step(x, targets, rows=idx,
                                                    want_output=bool(self.metrics))
                    if self.metrics:
                        tb_dev = np.take(targets, idx, axis=0, out=tbuf[:nb])
                elif on_device:
                    tb_dev = ops.xp.take(targets, idx, axis=0)
                    loss, output = self._train_step(ops.xp.take(x, idx, axis=0), tb_dev)
                else:
                    tb = np.take(targets, idx, axis=0, out=tbuf[:nb])
                    xb = np.take(x, idx, axis=0, out=xbuf[:nb])
                    xb_dev, tb_dev = ops.asarray(xb), ops.asarray(tb)
                    loss, output = self._train_step(xb_dev, tb_dev)
                cbs.on_batch_end(batch, {"loss": loss, "size": nb})
                if not on_device and not math.isfinite(loss):
                    self._stop_on_bad_loss(loss, snapshot, epoch, initial_epoch, batch)
                    break
                loss_sum = loss_sum + loss * nb
                if penalty_layers:
                    self._add_penalties(penalty_sums, penalty_layers, nb)
                for m in self.metrics:
                    metric_sums[m] += batch_metric(ops.xp, m, output, tb_dev, self.loss.name,
                                                   self._output_activation)
                if self.stop_training:
                    break
            if self._bad_loss:
                break
            seen = max(1, min(n, (batch + 1) * batch_size))
            logs = {"loss": self._host_float(loss_sum) / seen}
            if not math.isfinite(logs["loss"]):  # on a device, found once the epoch is over
                self._stop_on_bad_loss(logs["loss"], snapshot, epoch, initial_epoch)
                break
            logs.update({m: self._host_float(s) / seen for m, s in metric_sums.items()})
            logs.update({k: self._host_float(s) / seen for k, s in penalty_sums.items()})
            if x_val is not None:
                val = self._evaluate_arrays(x_val, t_val, None)
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = self.optimizer.learning_rate
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training or epoch + 1 == epochs:
                break
            snapshot = self._snapshot()
        history.stopped_reason = self.stop_reason
        cbs.on_train_end()
        return history

    def _stop_on_bad_loss(self, loss, snapshot, epoch, initial_epoch, batch=None):
        """Put back the weights of the last complete epoch and stop, with a warning."""
        self._restore(snapshot)
        self.stop_training = self._bad_loss = True
        where = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
        before = f"epoch {epoch}" if epoch > initial_epoch else "the previous fit"
        self.stop_reason = (f"the loss became {loss} at {where}; training stopped and the weights "
                            f"from the end of {before} were restored (a lower learning rate may help)")
        warnings.warn(self.stop_reason, RuntimeWarning, stacklevel=4)  # at fit()'s caller

    def _snapshot(self):
        """Copies of the parameters, optimizer state and step count, for :meth:`_restore`.

        The copies go into the arrays of the previous snapshot when they fit:
        fresh arrays of this size come from the system as new pages, and
        faulting them in cost about 1% of an epoch of the 784-500-300-10 MLP.
        """
        groups = [self._changing_arrays()] + list(self.optimizer._state or [])
        saved = getattr(self, "_saved_arrays", None)
        if saved is None or [[a.shape for a in g] for g in saved] != [[a.shape for a in g] for g in groups]:
            saved = self._saved_arrays = [[a.copy() for a in group] for group in groups]
        else:
            for group, saved_group in zip(groups, saved):
                for a, copy in zip(group, saved_group):
                    copy[...] = a
        return saved[0], saved[1:], self.optimizer.iterations

    def _changing_arrays(self):
        """The arrays training changes: trained variables and saved state (running statistics)."""
        return [v.value for v in self._unique_variables(used=True) if v.trained or not v.trainable]

    def _restore(self, snapshot):
        params, state, iterations = snapshot
        for p, saved in zip(self._changing_arrays(), params):
            p[...] = saved
        for slots, saved_slots in zip(self.optimizer._state or [], state):
            for s, saved in zip(slots, saved_slots):
                s[...] = saved
        self.optimizer.iterations = iterations

    # -------------------------------------------------------------- inference
    def _batches(self, n, batch_size):
        step = batch_size or INFERENCE_BATCH
        return ((s, min(s + step, n)) for s in range(0, n, step))

    def predict(self, x, batch_size=None, to_numpy=True):
        """Outputs of the model for ``x`` (probabilities after a softmax layer).

        Parameters
        ----------
        x : array-like of shape (n_samples, *input_shape)
            A numpy array, or an array of the model's device.
        batch_size : int, optional
            Samples per forward pass (by default large chunks).
        to_numpy : bool
            False leaves the result where the model runs (a cupy array on
            the GPU backend), for code that goes on computing there.

        Returns
        -------
        ndarray of shape (n_samples, *output_shape)
        """
        x = check_array(x, name="x", ndim=(2, 3, 4), dtype=self.dtype, ops=self._input_ops())
        self._auto_build(x.shape[1:])
        shape = (len(x),) + tuple(self.output_shape)
        out = np.empty(shape, dtype=self.dtype) if to_numpy else self.ops.alloc(shape, self.dtype)
        with self.ops.kernel_threads():
            for s, e in self._batches(len(x), batch_size):
                y = self._forward(self.ops.asarray(x[s:e]), training=False)
                out[s:e] = self.ops.to_numpy(y) if to_numpy else y
        return out

    def layer_outputs(self, x):
        """The output of every layer for ``x``, in inference mode (feature maps, codes, ...).

        Parameters
        ----------
        x : array-like of shape (n_samples, *input_shape)

        Returns
        -------
        list of ndarray
            One array per layer, of shape (n_samples, *layer.output_shape).
        """
        x = check_array(x, name="x", ndim=(2, 3, 4), dtype=self.dtype, ops=self._input_ops())
        self._auto_build(x.shape[1:])
        outputs = []
        with self.ops.kernel_threads():
            out = self.ops.asarray(x)
            for layer in self.layers:
                out = layer.forward(out, training=False)
                # Copied: a layer's output is its buffer, which the next call reuses.
                outputs.append(np.array(self.ops.to_numpy(out)).reshape(
                    (len(x),) + tuple(layer.output_shape)))
        return outputs

    def _evaluate_arrays(self, x, targets, batch_size):
        sums = dict.fromkeys(["loss"] + self.metrics, 0.0)
        penalty_layers = self._penalty_layers()
        sums.update(self._penalty_sums())
        ops = self.ops
        network = self._network
        if network is not None and batch_size is None and not penalty_layers:
            # The network's buffers already hold this many rows.  (Not with
            # penalties: a sparsity penalty's value depends on the batch, so
            # both paths evaluate in batches of the same size.)
            batch_size = max(network.capacity, 1)
        for s, e in self._batches(len(x), batch_size):
            tb = ops.asarray(targets[s:e])
            if network is not None:
                loss, output = network.evaluate(x[s:e], tb)
            else:
                output = self._forward(ops.asarray(x[s:e]), training=False)
                loss, _ = self._loss_of_output(output, tb)
            sums["loss"] = sums["loss"] + loss * (e - s)
            self._add_penalties(sums, penalty_layers, e - s)
            for m in self.metrics:
                sums[m] = sums[m] + batch_metric(ops.xp, m, output, tb, self.loss.name,
                                                 self._output_activation)
        return {k: self._host_float(v) / len(x) for k, v in sums.items()}

    def evaluate(self, x, y, batch_size=None, return_dict=False):
        """Loss (and metrics) on ``x``, ``y`` in inference mode.

        Returns
        -------
        float, list of float or dict
            The loss alone when no metrics were compiled, else
            ``[loss, *metrics]``; a dict with ``return_dict=True``, which
            also holds each penalty's mean under its name.  The loss
            includes the penalties, as in :meth:`fit`.
        """
        self._check_compiled()
        x, targets = self._prepare(x, y)
        with self.ops.kernel_threads():
            result = self._evaluate_arrays(x, targets, batch_size)
        if return_dict:
            return result
        return result["loss"] if not self.metrics else [result[k] for k in ["loss"] + self.metrics]

    # ------------------------------------------------------------------ saving
    def save(self, path):
        """Write architecture, weights and optimizer state to one file (no pickle)."""
        from ..io import save_model

        save_model(self, path)

    def _get_state(self):
        self._check_built()
        index = {id(layer): i for i, layer in enumerate(self.layers)}
        config = {
            "name": self.name, "dtype": self.dtype.name, "random_state": self.random_state,
            "input_shape": list(self.input_shape),
            "layers": [{"class_name": type(l).__name__, "trainable": l.trainable,
                        "config": _config_with_references(l.get_config(), index)}
                       for l in self.layers],
            "compile": None,
            # Generator states, so that training resumes exactly where it stopped.
            "rng_states": {"shuffle": self._rng.bit_generator.state,
                           **{str(i): l.random_state() for i, l in enumerate(self.layers)
                              if l.random_state() is not None}},
        }
        arrays = {}
        for i, layer in enumerate(self.layers):
            for j, var in enumerate(layer.variables):
                arrays[f"layers/{i}/{j}"] = self.ops.to_numpy(var.value)
        if self.optimizer is not None:
            config["compile"] = {"optimizer": self.optimizer.get_config(), "loss": self.loss.name,
                                 "metrics": list(self.metrics), "iterations": self.optimizer.iterations}
            if self.optimizer.built:
                self._prepare_training()
                for key, arr in self.optimizer.state_arrays().items():
                    arrays[f"optimizer/{key}"] = self.ops.to_numpy(arr)
        return config, arrays

    @classmethod
    def _from_state(cls, config, arrays):
        """Rebuild a model, checking every size in ``config`` against ``arrays`` first.

        Nothing is allocated until the shapes the configuration implies
        (layer by layer, variable by variable, and the optimizer's state)
        agree with the arrays stored in the file, so a file cannot make the
        loader use much more memory than its own size.
        """
        layers = _layers_from_config(config.get("layers"))
        dtype = config.get("dtype")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        input_shape = _check_positive_ints(config.get("input_shape"), "input_shape")
        specs = _check_layer_arrays(layers, input_shape, arrays)
        compiled = config.get("compile")
        if compiled is not None:
            optimizer = _check_optimizer_arrays(compiled, layers, specs, arrays)
        model = cls(layers, name=config.get("name"), dtype=dtype,
                    random_state=config.get("random_state"))
        model._build(input_shape, initialize=False)
        model.set_weights([arrays[f"layers/{i}/{j}"] for i, layer_specs in enumerate(specs)
                           for j in range(len(layer_specs))])
        states = config.get("rng_states") or {}
        if not isinstance(states, dict):
            raise ValueError("rng_states must be an object")
        for key, state in states.items():
            if key == "shuffle":
                model._rng.bit_generator.state = state
            elif key.isdigit() and int(key) < len(model.layers):
                model.layers[int(key)].set_random_state(state)
            else:
                raise ValueError(f"rng_states names no layer: {key!r}")
        if compiled is not None:
            model.compile(optimizer=optimizer, loss=compiled["loss"], metrics=compiled["metrics"])
            state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
            if state:
                model._prepare_training()
                model.optimizer.load_state_arrays(model.ops, model._train_params, state)
            model.optimizer.iterations = compiled["iterations"]
        return model

    def __repr__(self):
        return f"Sequential({self.layers!r})"


# ------------------------------------------------------------------ model files
def _config_with_references(config, index):
    """A layer config with the layers it refers to (``tied_to``) replaced by their positions."""
    return {k: {"layer": index[id(v)]} if isinstance(v, Layer) else v for k, v in config.items()}


def _layers_from_config(specs):
    """Unbuilt layers from the saved configs, references to earlier layers resolved."""
    if not isinstance(specs, list) or not specs:
        raise ValueError("the configuration must hold a non-empty list of layers")
    layers = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
                or not isinstance(spec.get("config"), dict):
            raise ValueError(f"layer {i} must be described by a class_name and a config")
        config = {}
        for key, value in spec["config"].items():
            if isinstance(value, dict) and set(value) == {"layer"}:
                ref = value["layer"]
                if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < i:
                    raise ValueError(f"layer {i} refers to layer {ref!r}; only earlier layers "
                                     f"(0 to {i - 1}) can be referred to")
                value = layers[ref]
            config[key] = value
        layer = layer_from_config(spec["class_name"], config)
        trainable = spec.get("trainable", True)
        if not isinstance(trainable, bool):
            raise ValueError(f"layer {i}: trainable must be true or false, got {trainable!r}")
        layer.trainable = trainable
        layers.append(layer)
    return layers


def _check_positive_ints(value, name):
    if (not isinstance(value, list) or not value
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)):
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {value!r}")
    return tuple(value)


def _check_layer_arrays(layers, input_shape, arrays):
    """Each layer's variable specs, once every stored array is shown to match them."""
    specs, shape = [], input_shape
    for i, layer in enumerate(layers):
        layer_specs = layer.plan(shape)
        shape = layer.output_shape
        for j, spec in enumerate(layer_specs):
            key = f"layers/{i}/{j}"
            if key not in arrays:
                raise ValueError(f"the file lacks the array {key!r} ({spec.name} of layer {i})")
            stored = arrays[key]
            if stored.shape != spec.shape or stored.dtype.kind != "f":
                raise ValueError(f"array {key!r} ({spec.name} of layer {i}) is {stored.dtype} of "
                                 f"shape {stored.shape}; the configuration needs floats of shape "
                                 f"{spec.shape}")
        specs.append(layer_specs)
    expected = {f"layers/{i}/{j}" for i, s in enumerate(specs) for j in range(len(s))}
    extra = sorted(k for k in arrays if k.startswith("layers/") and k not in expected)
    if extra:
        raise ValueError(f"the file holds arrays the configuration has no place for: {extra[:5]}")
    for layer in layers:  # planning is not building: the layers get built afresh
        layer.input_shape = layer.output_shape = None
    return specs


def _check_optimizer_arrays(compiled, layers, specs, arrays):
    """The saved optimizer, once its settings and state arrays are shown to fit the layers."""
    if not isinstance(compiled, dict):
        raise ValueError("'compile' must be an object")
    optimizer = optimizer_from_config(compiled.get("optimizer"))
    iterations = compiled.get("iterations", 0)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be a non-negative integer, got {iterations!r}")
    compiled["iterations"] = iterations
    if not isinstance(compiled.get("loss"), str):
        raise ValueError(f"loss must be a name, got {compiled.get('loss')!r}")
    metrics = compiled.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ValueError(f"metrics must be a list of names, got {metrics!r}")
    compiled["metrics"] = metrics
    # Trained variables in the order the model lists them: each layer's own,
    # in layer order (a tied layer's shared weights belong to the earlier layer).
    trained = [spec.shape for layer, layer_specs in zip(layers, specs) if layer.trainable
               for spec in layer_specs if spec.trainable]
    state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
    if state:
        expected = {f"{i}/{slot}": shape for i, shape in enumerate(trained)
                    for slot in optimizer.slots}
        if set(state) != set(expected):
            raise ValueError(f"the optimizer's state arrays {sorted(state)[:6]} do not match the "
                             f"{len(trained)} trained variables of the model")
        for key, shape in expected.items():
            if state[key].shape != shape or state[key].dtype.kind != "f":
                raise ValueError(f"optimizer state {key!r} is {state[key].dtype} of shape "
                                 f"{state[key].shape}, expected floats of shape {shape}")
    return optimizer
