"""Callbacks: early stopping, checkpoints, NaN termination, schedules, CSV logs, progress."""
import csv
import gc
import io
import math

import numpy as np
import pytest

import nnfast
from nnfast.callbacks import (
    Callback, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, TerminateOnNaN,
    cosine_decay, exponential_decay, step_decay,
)
from nnfast.layers import Dense
from nnfast.optimizers import SGD


def data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] - X[:, 2] > 0).astype(int)


def model(lr=0.05, seed=0):
    m = nnfast.Sequential([Dense(6, activation="tanh", input_dim=4), Dense(2, activation="softmax")],
                          random_state=seed)
    m.compile(optimizer=SGD(lr), loss="cross_entropy", metrics=["accuracy"])
    return m


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.calls.append("batch")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_hooks_are_called_in_order():
    X, y = data()
    rec = Recorder()
    model().fit(X, y, epochs=2, batch_size=60, callbacks=[rec])
    assert rec.calls == ["train_begin", "epoch_begin 0", "batch", "batch",
                         "epoch_end 0 ['accuracy', 'loss', 'lr']", "epoch_begin 1", "batch", "batch",
                         "epoch_end 1 ['accuracy', 'loss', 'lr']", "train_end"]


class Scripted(Callback):
    """Replaces the logged quantity with a scripted sequence."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_early_stopping_patience_min_delta_and_restore():
    X, y = data()
    m = model()
    values = [1.0, 0.8, 0.79, 0.85, 0.9, 0.95, 0.5, 0.4]
    weights_at = {}

    class Keep(Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights_at[epoch] = self.model.get_weights()

    stopper = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.05, restore_best_weights=True)
    history = m.fit(X, y, epochs=8, batch_size=30, callbacks=[Scripted(values), Keep(), stopper])
    # 0.79 is not better than 0.8 by min_delta: epochs 2 and 3 are waits and epoch 3 stops.
    assert stopper.best_epoch == 1 and stopper.stopped_epoch == 3
    assert len(history.epoch) == 4 and "early stopping" in history.stopped_reason
    for u, v in zip(m.get_weights(), weights_at[1]):
        np.testing.assert_array_equal(u, v)


def test_early_stopping_maximises_accuracy_in_auto_mode():
    X, y = data()
    stopper = EarlyStopping(monitor="accuracy", patience=1)
    model(lr=1e-9).fit(X, y, epochs=10, batch_size=120, callbacks=[stopper])
    assert stopper.stopped_epoch == 1 and stopper._tracker.mode == "max"


def test_model_checkpoint_each_epoch_and_best_only(tmp_path):
    X, y = data()
    every = ModelCheckpoint(tmp_path / "m-{epoch:02d}.nnf", monitor="loss")
    m = model()
    m.fit(X, y, epochs=3, callbacks=[every])
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["m-01.nnf", "m-02.nnf", "m-03.nnf"]
    best = ModelCheckpoint(tmp_path / "best.nnf", monitor="val_loss", save_best_only=True)
    values = [0.5, 0.7, 0.4, 0.6]
    m.fit(X, y, epochs=4, callbacks=[Scripted(values), best])
    assert len(best.saved) == 2  # epochs 1 and 3 improved
    loaded = nnfast.load_model(tmp_path / "best.nnf")
    assert loaded.count_params() == m.count_params()


def test_terminate_on_nan_stops_at_the_bad_batch():
    X, y = data()
    m = model(lr=1e40)
    term = TerminateOnNaN()
    with pytest.warns(RuntimeWarning):
        history = m.fit(X * 1e20, y, epochs=5, batch_size=10, callbacks=[term])
    assert "TerminateOnNaN" in m.stop_reason or "loss became" in history.stopped_reason
    assert all(np.isfinite(w).all() for w in m.get_weights())


@pytest.mark.parametrize("schedule,kwargs,expected", [
    ("step", dict(drop=0.5, every=2), [0.1, 0.1, 0.05, 0.05, 0.025]),
    ("exponential", dict(rate=0.5), [0.1, 0.05, 0.025, 0.0125, 0.00625]),
    ("cosine", dict(epochs=4, min_lr=0.0), [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05,
                                            0.1 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0]),
])
def test_learning_rate_schedules(schedule, kwargs, expected):
    X, y = data()
    m = model(lr=0.1)
    if schedule == "cosine":
        expected[-1] = 1e-12  # a zero rate is rejected; the floor must stay positive
        kwargs["min_lr"] = 1e-12
    history = m.fit(X, y, epochs=5, callbacks=[LearningRateScheduler(schedule, **kwargs)])
    np.testing.assert_allclose(history.history["lr"], expected, rtol=1e-9, atol=1e-12)


def test_schedule_functions_and_custom_callable():
    assert step_decay(1.0, 0.1, 3)(7) == pytest.approx(0.01)
    assert exponential_decay(2.0, 0.5)(3) == pytest.approx(0.25)
    assert cosine_decay(1.0, 10)(10) == pytest.approx(0.0)
    X, y = data()
    history = model().fit(X, y, epochs=3, callbacks=[LearningRateScheduler(lambda e, lr: 0.01 * (e + 1))])
    np.testing.assert_allclose(history.history["lr"], [0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match="unknown schedule"):
        LearningRateScheduler("warp")
    with pytest.raises(ValueError, match="invalid learning rate"):
        model().fit(X, y, epochs=1, callbacks=[LearningRateScheduler(lambda e, lr: -1.0)])


@pytest.mark.parametrize("schedule,kwargs", [
    ("step", dict(drop=0.5, every=2)),
    ("exponential", dict(rate=0.5)),
    ("cosine", dict(epochs=6, min_lr=1e-4)),
    (lambda epoch, lr: lr * 0.8, {}),
    (lambda epoch, lr: 0.1 / (epoch + 1), {}),
], ids=["step", "exponential", "cosine", "scales-lr", "epoch-only"])
def test_schedule_restarts_from_the_initial_rate_in_a_second_fit(schedule, kwargs):
    X, y = data()
    m = model(lr=0.1)
    callback = LearningRateScheduler(schedule, **kwargs)
    first = m.fit(X, y, epochs=4, callbacks=[callback]).history["lr"]
    assert first[0] != first[-1]
    # The same callback, then a new one on the same model: the rates repeat.
    assert m.fit(X, y, epochs=4, callbacks=[callback]).history["lr"] == first
    assert m.fit(X, y, epochs=4, callbacks=[LearningRateScheduler(schedule, **kwargs)]).history["lr"] == first
    # Resuming at initial_epoch continues the uninterrupted run, rate by rate.
    whole = model(lr=0.1).fit(X, y, epochs=6, callbacks=[LearningRateScheduler(schedule, **kwargs)])
    assert whole.history["lr"][:4] == first
    resumed = m.fit(X, y, epochs=6, initial_epoch=4, callbacks=[callback])
    assert resumed.history["lr"] == whole.history["lr"][4:]


def test_schedule_starts_from_a_rate_set_by_hand_between_fits():
    X, y = data()
    m = model(lr=0.1)
    callback = LearningRateScheduler("exponential", rate=0.5)
    np.testing.assert_allclose(m.fit(X, y, epochs=3, callbacks=[callback]).history["lr"], [0.1, 0.05, 0.025])
    m.optimizer.learning_rate = 0.3
    np.testing.assert_allclose(m.fit(X, y, epochs=2, callbacks=[callback]).history["lr"], [0.3, 0.15])
    # A newly compiled optimizer starts from its own rate.
    m.compile(optimizer=SGD(0.02), loss="cross_entropy")
    np.testing.assert_allclose(m.fit(X, y, epochs=2, callbacks=[callback]).history["lr"], [0.02, 0.01])


def test_csv_logger_writes_and_appends(tmp_path):
    X, y = data()
    path = tmp_path / "log.csv"
    m = model()
    m.fit(X, y, epochs=2, validation_split=0.25, callbacks=[CSVLogger(path)])
    m.fit(X, y, epochs=1, validation_split=0.25, callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 3
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert float(rows[2]["loss"]) > 0


def _open_files_named(path):
    return [f for f in gc.get_objects()
            if isinstance(f, io.IOBase) and getattr(f, "name", None) == str(path) and not f.closed]


class RaiseAt(Callback):
    def __init__(self, epoch, hook):
        self.epoch, self.hook, self.current = epoch, hook, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_batch_end(self, batch, logs=None):
        if self.hook == "batch" and self.current == self.epoch and batch == 1:
            raise KeyboardInterrupt("stopped by hand")

    def on_epoch_end(self, epoch, logs=None):
        if self.hook == "epoch" and epoch == self.epoch:
            raise RuntimeError("a callback failed")


@pytest.mark.parametrize("hook,error,rows", [("batch", KeyboardInterrupt, 2), ("epoch", RuntimeError, 3)])
def test_csv_logger_closes_its_file_when_training_raises(tmp_path, hook, error, rows):
    X, y = data()
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    with pytest.raises(error):
        model().fit(X, y, epochs=5, batch_size=30, callbacks=[logger, RaiseAt(2, hook)])
    assert _open_files_named(path) == []
    with open(path, newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == [str(e) for e in range(rows)]
    # The same logger starts a new file cleanly in the next fit.
    model().fit(X, y, epochs=1, callbacks=[logger])
    with open(path, newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0"]


def test_verbose_modes_report_progress(capsys):
    X, y = data()
    model().fit(X, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out
    model().fit(X, y, epochs=1, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "120/120" in err


def test_callbacks_must_be_callback_instances():
    X, y = data()
    with pytest.raises(TypeError, match="Callback"):
        model().fit(X, y, callbacks=[print])
