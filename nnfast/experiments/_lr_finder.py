"""The learning-rate range test: train briefly while the rate grows, watch the loss.

Starting from a tiny rate, every batch multiplies the optimizer's learning
rate by ``factor`` and records the batch loss.  The loss first barely moves,
then falls faster and faster, reaches a minimum and finally explodes; the
test stops there.  A good rate for training lies well below the rate of the
minimum: half of it is the classic suggestion, and the rate where the
(smoothed) loss falls most steeply is shown beside it.  Everything the test
changed (weights, saved state such as batch-norm statistics, the
optimizer's state, step count and rate, the random streams) is put back
afterwards.
"""
import copy
import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_consistent_length, check_labels, check_positive
from ..models._estimator import NetworkClassifier, NetworkEstimator
from ..models._sequential import Sequential

__all__ = ["LRFinderResult", "find_learning_rate"]


@dataclass(frozen=True, eq=False)
class LRFinderResult:
    """What :func:`find_learning_rate` measured.

    Attributes
    ----------
    rates : ndarray of shape (n_batches,)
        The learning rate of each batch, growing geometrically.
    losses : ndarray of shape (n_batches,)
        The loss smoothed by a bias-corrected exponential moving average.
    raw_losses : ndarray of shape (n_batches,)
        The loss of each batch, before its update.
    suggestion : float
        Half of :attr:`min_rate`: the rate to train with.
    steepest : float
        The rate at which the smoothed loss falls fastest (per unit of
        log rate), searched from the end of the moving average's warm-up
        (``1 / smoothing`` batches) to the minimum.
    min_rate : float
        The rate at which the smoothed loss is lowest.
    stop_reason : str
        Why the test ended: the loss diverged or was not finite,
        ``max_lr`` or ``max_batches`` was reached.
    """

    rates: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float
    steepest: float
    min_rate: float
    stop_reason: str

    def __repr__(self):
        return (f"LRFinderResult(suggestion={self.suggestion:.3g}, steepest={self.steepest:.3g}, "
                f"min_rate={self.min_rate:.3g}, batches={len(self.rates)}, "
                f"stop_reason={self.stop_reason!r})")


def find_learning_rate(model, X, y, start_lr=1e-7, factor=1.005, max_lr=10.0, batch_size=None,
                       smoothing=0.05, diverge=4.0, max_batches=None):
    """Run the learning-rate range test on a network and suggest a learning rate.

    Parameters
    ----------
    model : MLPClassifier, MLPRegressor, CNNClassifier or Sequential
        A network estimator (fitted or not) or a compiled :class:`Sequential`.
        An unfitted estimator is tested on the model its ``fit`` would start
        from (same parameters and seed) and stays unfitted; a fitted one, or
        a Sequential, is tested on its own weights, which are restored.
    X : array-like of shape (n_samples, ...)
        Training inputs, as the model's ``fit`` takes them.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Labels or targets, as the model's ``fit`` takes them.
    start_lr : float
        Rate of the first batch.
    factor : float > 1
        The rate is multiplied by this after each batch (1.005: about 3,700
        batches from 1e-7 to 10).
    max_lr : float
        The test stops before a rate above this.
    batch_size : int, optional
        Samples per batch; by default the estimator's own batch size (32 for
        a Sequential).  The data is reshuffled for each pass over it.
    smoothing : float in (0, 1]
        Weight of the newest batch in the moving average of the loss.
    diverge : float > 1
        The test stops once the smoothed loss exceeds ``diverge`` times the
        lowest smoothed loss seen (or a batch loss is not finite).
    max_batches : int, optional
        The most batches to run.

    Returns
    -------
    LRFinderResult

    Raises
    ------
    ValueError
        If a setting is out of range, or the loss is not finite already at
        ``start_lr``.
    TypeError
        If ``model`` is not a network.

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import MLPClassifier
    >>> from nnfast.experiments import find_learning_rate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(256, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), batch_size=32, random_state=0)
    >>> result = find_learning_rate(clf, X, y, factor=1.05)
    >>> 1e-7 < result.suggestion < 10
    True
    >>> hasattr(clf, "model_")  # still unfitted
    False
    """
    check_positive(start_lr, "start_lr")
    check_positive(max_lr, "max_lr")
    check_positive(factor, "factor")
    check_positive(diverge, "diverge")
    if factor <= 1:
        raise ValueError(f"factor must be > 1 so that the rate grows, got {factor!r}")
    if max_lr <= start_lr:
        raise ValueError(f"max_lr ({max_lr!r}) must be above start_lr ({start_lr!r})")
    if not 0 < smoothing <= 1 or isinstance(smoothing, bool):
        raise ValueError(f"smoothing must be in (0, 1], got {smoothing!r}")
    if diverge <= 1:
        raise ValueError(f"diverge must be > 1, got {diverge!r}")
    for value, name in ((batch_size, "batch_size"), (max_batches, "max_batches")):
        if value is not None:
            check_positive(value, name, integer=True)

    net, x, targets, default_batch = _network_and_data(model, X, y)
    batch = min(int(batch_size or default_batch), len(x))
    net._prepare_training()
    saved = _save(net)
    try:
        with net.ops.kernel_threads():
            rates, raw, smooth, reason = _range_test(
                net, x, targets, batch, float(start_lr), float(factor), float(max_lr),
                float(smoothing), float(diverge), max_batches)
    finally:
        _restore(net, saved)
    if not rates:
        raise ValueError(f"the loss was not finite at the first rate ({start_lr:g}); check the "
                         f"inputs and targets, or start lower")
    rates, raw, smooth = np.array(rates), np.array(raw), np.array(smooth)
    best = int(np.argmin(smooth))
    # The moving average needs about 1 / smoothing batches to forget its
    # start; slopes over those first batches are noise.
    warm = min(int(math.ceil(1 / smoothing)), best)
    if best - warm >= 1:
        slope = np.gradient(smooth[warm:best + 1], np.log(rates[warm:best + 1]))
        steepest = float(rates[warm + int(np.argmin(slope))])
    else:
        steepest = float(rates[best])
    min_rate = float(rates[best])
    return LRFinderResult(rates=rates, losses=smooth, raw_losses=raw, suggestion=min_rate / 2,
                          steepest=steepest, min_rate=min_rate, stop_reason=reason)


def _range_test(net, x, targets, batch, start_lr, factor, max_lr, smoothing, diverge, max_batches):
    """The batches of the test; returns rates, raw and smoothed losses, and why it stopped."""
    optimizer, ops = net.optimizer, net.ops
    compiled = net._network is not None
    xbuf = None if compiled else np.empty((batch,) + x.shape[1:], dtype=x.dtype)
    tbuf = None if compiled else np.empty((batch,) + targets.shape[1:], dtype=targets.dtype)
    rates, raw, smooth = [], [], []
    average, best, lr, step = 0.0, math.inf, start_lr, 0
    n = len(x)
    # Passes over the data; batches that would hold a remainder smaller than
    # ``batch`` are skipped so that every loss is over the same number of samples.
    while True:
        order = net._rng.permutation(n)
        for start in range(0, n - batch + 1, batch):
            if max_batches is not None and step >= max_batches:
                return rates, raw, smooth, f"max_batches ({max_batches}) reached"
            if lr > max_lr:
                return rates, raw, smooth, f"max_lr ({max_lr:g}) reached"
            optimizer.learning_rate = lr
            idx = order[start:start + batch]
            if compiled:
                loss, _ = net._train_step(x, targets, rows=idx)
            else:
                xb = np.take(x, idx, axis=0, out=xbuf)
                tb = np.take(targets, idx, axis=0, out=tbuf)
                loss, _ = net._train_step(ops.asarray(xb), ops.asarray(tb))
            loss = float(loss)
            if not math.isfinite(loss):
                return rates, raw, smooth, f"the loss was {loss} at rate {lr:.3g}"
            step += 1
            average = (1 - smoothing) * average + smoothing * loss
            smoothed = average / (1 - (1 - smoothing) ** step)
            rates.append(lr)
            raw.append(loss)
            smooth.append(smoothed)
            best = min(best, smoothed)
            if smoothed > diverge * best:
                return rates, raw, smooth, (f"the loss diverged at rate {lr:.3g} (smoothed loss "
                                            f"{smoothed:.3g} > {diverge:g} x best {best:.3g})")
            lr *= factor


def _network_and_data(model, X, y):
    """The Sequential to test, the checked inputs and targets, and the default batch size."""
    if isinstance(model, Sequential):
        model._check_compiled()
        x, targets = model._prepare(X, y)
        return model, x, targets, 32
    if not isinstance(model, NetworkEstimator):
        raise TypeError(f"model must be a network estimator (MLPClassifier, MLPRegressor, "
                        f"CNNClassifier) or a compiled Sequential, got {type(model).__name__}")
    model._validate_params()
    fitted = hasattr(model, "model_")
    # A shallow copy takes whatever checking the targets or building a model
    # records on the estimator, so that an unfitted one stays unfitted.
    probe = copy.copy(model)
    X = model._check_X(X) if fitted else model._check_fit_X(X)
    if isinstance(model, NetworkClassifier):
        y = check_labels(y, column_warning=True)
        check_consistent_length(X, y)
        if fitted:
            targets, n_outputs = model._encode(y), len(model.classes_)
        else:
            classes, targets = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(f"y must hold at least 2 classes, got only {classes.tolist()}")
            n_outputs = len(classes)
    elif hasattr(model, "_targets"):
        targets = probe._targets(y, len(X))
        n_outputs = targets.shape[1]
        if fitted and n_outputs != model.n_outputs_:
            raise ValueError(f"y has {n_outputs} outputs, but the model was fitted with "
                             f"{model.n_outputs_}")
    else:
        raise TypeError(f"find_learning_rate does not know the targets of {type(model).__name__}")
    net = model.model_ if fitted else probe._build_model(X.shape[1:], n_outputs)
    x, targets = net._prepare(X, targets)
    return net, x, targets, model._batch(len(x))


def _save(net):
    """Copies of everything the test changes.

    Not :meth:`Sequential._snapshot`, whose buffers the next fit reuses.
    """
    optimizer = net.optimizer
    return {
        "arrays": [a.copy() for a in net._changing_arrays()],
        "optimizer": [[s.copy() for s in slots] for slots in (optimizer._state or [])],
        "iterations": optimizer.iterations,
        "learning_rate": optimizer.learning_rate,
        "rng": copy.deepcopy(net._rng.bit_generator.state),
        "layer_rngs": [copy.deepcopy(layer.random_state()) for layer in net.layers],
    }


def _restore(net, saved):
    for array, copied in zip(net._changing_arrays(), saved["arrays"]):
        array[...] = copied
    for slots, copied_slots in zip(net.optimizer._state or [], saved["optimizer"]):
        for s, copied in zip(slots, copied_slots):
            s[...] = copied
    net.optimizer.iterations = saved["iterations"]
    net.optimizer.learning_rate = saved["learning_rate"]
    net._rng.bit_generator.state = saved["rng"]
    for layer, state in zip(net.layers, saved["layer_rngs"]):
        if state is not None:
            layer.set_random_state(state)
