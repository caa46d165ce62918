"""Callbacks: hooks into :meth:`nnfast.Sequential.fit`, as in Keras.

A callback sees the model through ``self.model`` and may set
``model.stop_training = True`` to end training after the current batch or
epoch.  ``logs`` dicts hold the epoch's ``loss``, metrics, and their
``val_`` counterparts.
"""
import csv
import math
import numbers
import os
import warnings
import weakref

import numpy as np


class Callback:
    """Base class; every hook does nothing unless overridden."""

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        """Called once before the first epoch."""

    def on_train_end(self, logs=None):
        """Called once after the last epoch (also when training stops early)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called before each epoch (``epoch`` counts from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch with the epoch's training and validation logs."""

    def on_batch_end(self, batch, logs=None):
        """Called after each training batch with ``{'loss': batch_loss, 'size': n}``."""


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
            cb.set_model(model)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)
        return call


class History(Callback):
    """Records each epoch's logs; returned by ``fit``.

    Attributes
    ----------
    history : dict of str to list of float
        ``loss``, metrics, ``val_loss``, ``val_<metric>`` and ``lr``, one value per epoch.
    epoch : list of int
    stopped_reason : str or None
        Why training stopped before its last epoch, if it did.
    """

    def __init__(self):
        self.history, self.epoch, self.stopped_reason = {}, [], None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _monitor_mode(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if any(k in monitor for k in ("acc", "r2", "score")) else "min"
    return mode


class _Monitor:
    """Tracks the best value of a logged quantity."""

    def __init__(self, monitor, mode, min_delta):
        self.monitor, self.mode, self.min_delta = monitor, _monitor_mode(monitor, mode), abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{self.monitor!r} is not in the logs (available: {sorted(logs or {})})",
                          RuntimeWarning, stacklevel=3)
        return value

    def improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stops training when a monitored quantity has stopped improving.

    Parameters
    ----------
    monitor : str
        Key in the epoch logs, e.g. 'val_loss', 'loss', 'val_accuracy'.
    min_delta : float
        Smallest change that counts as an improvement.
    patience : int
        Epochs without improvement before stopping.
    mode : {'auto', 'min', 'max'}
        'auto' maximises accuracies and scores and minimises everything else.
    restore_best_weights : bool
        Put back the weights of the best epoch when training stops.

    Attributes
    ----------
    stopped_epoch : int or None
    best_epoch : int or None
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False):
        if not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"patience must be a non-negative integer, got {patience!r}")
        self.monitor, self.min_delta, self.patience = monitor, min_delta, int(patience)
        self.mode, self.restore_best_weights = mode, restore_best_weights

    def on_train_begin(self, logs=None):
        self._tracker = _Monitor(self.monitor, self.mode, self.min_delta)
        self.wait, self.stopped_epoch, self.best_epoch, self.best_weights = 0, None, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = self._tracker.value(logs)
        if value is None:
            return
        if self._tracker.improved(value):
            self._tracker.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model.stop_reason = (f"early stopping: {self.monitor} did not improve for "
                                      f"{self.wait} epochs (best {self._tracker.best:.6g} at epoch "
                                      f"{self.best_epoch + 1 if self.best_epoch is not None else '-'})")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    @property
    def best(self):
        return self._tracker.best


class ModelCheckpoint(Callback):
    """Saves the model after epochs.

    Parameters
    ----------
    filepath : str or os.PathLike
        May hold format fields filled from the epoch logs, e.g.
        ``'model-{epoch:02d}-{val_loss:.3f}.nnf'`` (``epoch`` counts from 1).
    monitor : str
        Quantity compared when ``save_best_only``.
    save_best_only : bool
        Save only when ``monitor`` improves; otherwise after every epoch.
    mode : {'auto', 'min', 'max'}
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        self.filepath, self.monitor, self.save_best_only, self.mode = filepath, monitor, save_best_only, mode

    def on_train_begin(self, logs=None):
        self._tracker = _Monitor(self.monitor, self.mode, 0.0)
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._tracker.value(logs)
            if value is None or not self._tracker.improved(value):
                return
            self._tracker.best = value
        path = os.fspath(self.filepath).format(epoch=epoch + 1, **logs)
        self.model.save(path)
        self.saved.append(path)


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True
            self.model.stop_reason = f"TerminateOnNaN: batch {batch} had loss {loss}"


def step_decay(initial_lr, drop=0.5, every=10):
    """Schedule multiplying the rate by ``drop`` every ``every`` epochs."""
    return lambda epoch, lr=None: initial_lr * drop ** (epoch // every)


def exponential_decay(initial_lr, rate=0.96):
    """Schedule ``initial_lr * rate ** epoch``."""
    return lambda epoch, lr=None: initial_lr * rate ** epoch


def cosine_decay(initial_lr, epochs, min_lr=0.0):
    """Schedule falling from ``initial_lr`` to ``min_lr`` along half a cosine over ``epochs``."""
    def schedule(epoch, lr=None):
        t = min(epoch, epochs) / max(epochs, 1)
        return min_lr + 0.5 * (initial_lr - min_lr) * (1 + math.cos(math.pi * t))
    return schedule


# For each optimizer a schedule has driven: (its rate before any schedule, the last rate a
# schedule gave it).  Kept beside the optimizer rather than in one callback, so that a new
# scheduler on the same model also starts from the original rate.
_SCHEDULED_RATES = weakref.WeakKeyDictionary()


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch.

    Parameters
    ----------
    schedule : callable or {'step', 'exponential', 'cosine'}
        A function ``schedule(epoch, lr) -> new_lr`` (``epoch`` from 0), or
        the name of a built-in schedule configured by ``**kwargs`` and
        starting from the optimizer's initial rate: 'step' (``drop``,
        ``every``), 'exponential' (``rate``), 'cosine' (``epochs``,
        ``min_lr``).

    Notes
    -----
    The schedule always starts from the optimizer's initial rate: the rate it
    had the first time a scheduler drove it, or the rate you set yourself
    since then (any value other than the one the schedule left).  A fit that
    starts at ``initial_epoch=k`` first replays epochs 0 to k-1 of the schedule
    without training, so every fit, the first or a later one, with this
    callback or a new one, gets at epoch ``e`` the same rate as one
    uninterrupted run; ``schedule(epoch, lr)`` functions that scale ``lr``
    step by step are replayed the same way.

    Examples
    --------
    >>> import numpy as np
    >>> import nnfast
    >>> from nnfast.layers import Dense
    >>> model = nnfast.Sequential([Dense(1, input_dim=2)], random_state=0)
    >>> model.compile(optimizer=nnfast.optimizers.SGD(0.1), loss="mse")
    >>> X, y = np.ones((4, 2)), np.ones(4)
    >>> halve = LearningRateScheduler("exponential", rate=0.5)
    >>> model.fit(X, y, epochs=3, callbacks=[halve]).history["lr"]
    [0.1, 0.05, 0.025]
    >>> model.fit(X, y, epochs=2, callbacks=[halve]).history["lr"]
    [0.1, 0.05]
    >>> model.fit(X, y, epochs=4, initial_epoch=2, callbacks=[halve]).history["lr"]
    [0.025, 0.0125]
    """

    _NAMED = {"step": step_decay, "exponential": exponential_decay, "cosine": cosine_decay}

    def __init__(self, schedule, **kwargs):
        if isinstance(schedule, str):
            if schedule not in self._NAMED:
                raise ValueError(f"unknown schedule {schedule!r}; expected a callable or one of "
                                 f"{sorted(self._NAMED)}")
        elif not callable(schedule):
            raise TypeError(f"schedule must be callable or a name, got {schedule!r}")
        self.schedule, self.kwargs = schedule, kwargs

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        current = float(optimizer.learning_rate)
        initial, last_set = _SCHEDULED_RATES.get(optimizer, (current, current))
        if current != last_set:
            initial = current
        _SCHEDULED_RATES[optimizer] = (initial, current)
        self._initial = initial
        fn = self.schedule
        if isinstance(fn, str):
            fn = self._NAMED[fn](initial, **self.kwargs)
        self._fn, self._next_epoch = fn, None

    def on_epoch_begin(self, epoch, logs=None):
        if self._next_epoch is None:
            lr, first = self._initial, 0
        else:
            lr, first = self.model.optimizer.learning_rate, self._next_epoch
        for e in range(first, epoch + 1):
            lr = float(self._fn(e, lr))
            if not (lr > 0 and math.isfinite(lr)):
                raise ValueError(f"the schedule returned an invalid learning rate {lr!r} at epoch {e}")
        self._next_epoch = epoch + 1
        self.model.optimizer.learning_rate = lr
        _SCHEDULED_RATES[self.model.optimizer] = (self._initial, lr)


class CSVLogger(Callback):
    """Writes each epoch's logs as a row of a CSV file.

    The file is opened, appended to and closed at the end of every epoch,
    so it is never left open, even when training stops with an exception,
    and the rows of the epochs finished so far are on disk.

    Parameters
    ----------
    filename : str or os.PathLike
    separator : str
    append : bool
        Append to an existing file instead of replacing it.

    Examples
    --------
    >>> import csv, os, tempfile
    >>> import numpy as np
    >>> import nnfast
    >>> from nnfast.layers import Dense
    >>> model = nnfast.Sequential([Dense(1, input_dim=2)], random_state=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, callbacks=[CSVLogger(path)])
    >>> with open(path) as f:
    ...     [row["epoch"] for row in csv.DictReader(f)]
    ['0', '1']
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = filename, separator, append

    def on_train_begin(self, logs=None):
        exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        if not self.append:
            open(self.filename, "w").close()
        self._keys = None
        self._write_header = not (self.append and exists)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        with open(self.filename, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if self._keys is None:
                self._keys = ["epoch"] + sorted(logs)
                if self._write_header:
                    writer.writerow(self._keys)
            logs["epoch"] = epoch
            writer.writerow([_fmt(logs.get(k, "")) for k in self._keys])


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value


class ProgressBar(Callback):
    """A tqdm progress bar over batches, with the running loss (``verbose=1``)."""

    def on_epoch_begin(self, epoch, logs=None):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.model._n_train_samples, unit="sample", leave=True,
                         desc=f"Epoch {epoch + 1}/{self.model._n_epochs}")

    def on_batch_end(self, batch, logs=None):
        self._bar.update(logs["size"])
        if batch % 20 == 0:
            self._bar.set_postfix(loss=f"{logs['loss']:.4f}")

    def on_epoch_end(self, epoch, logs=None):
        self._bar.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items() if k != "lr"})
        self._bar.close()


class EpochPrinter(Callback):
    """Prints one line per epoch (``verbose=2``)."""

    def on_epoch_end(self, epoch, logs=None):
        parts = " - ".join(f"{k}: {v:.4f}" for k, v in (logs or {}).items() if k != "lr")
        print(f"Epoch {epoch + 1}/{self.model._n_epochs} - {parts}", flush=True)


__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "TerminateOnNaN",
           "LearningRateScheduler", "CSVLogger", "ProgressBar", "EpochPrinter",
           "step_decay", "exponential_decay", "cosine_decay"]
