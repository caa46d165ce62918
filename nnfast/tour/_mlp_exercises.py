"""Tour section: the MLP on XOR and parity, and on the regression of sin x + cos y + z."""
import time

import numpy as np

from ._figures import integer_axis, log_axis

KEY = "mlp"
TITLE = "MLP: XOR, parity and a regression, online against mini-batch"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = (("plotting", "plot_decision_regions"), ("plotting", "plot_regression"))

_PARITY_BITS = (2, 3, 4, 5)


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 2


def _parity_figure(curves, path):
    from ..plotting._style import PALETTE, new_figure, save, style_axes

    fig = new_figure(6.4, 4.0)
    ax = fig.subplots()
    for i, (bits, loss) in enumerate(curves.items()):
        label = "XOR (2 bits)" if bits == 2 else f"parity, {bits} bits"
        ax.plot(np.arange(1, len(loss) + 1), loss, color=PALETTE[i], linewidth=1.6, label=label)
    log_axis(ax, subs=(1.0,))
    integer_axis(ax)
    style_axes(ax, title="MLP on XOR and parity: training loss (full batch, Adam)",
               xlabel="epoch", ylabel="cross-entropy (log scale)")
    ax.legend(frameon=False)
    return save(fig, path)


def _online_figure(runs, path):
    from ..plotting._style import PALETTE, new_figure, save, style_axes

    fig = new_figure(10.0, 3.9)
    by_epoch, by_time = fig.subplots(1, 2)
    for i, (label, run) in enumerate(runs.items()):
        epochs = np.arange(1, len(run["test_mse"]) + 1)
        marker = dict(marker="o", markersize=3) if len(epochs) <= 30 else {}
        by_epoch.plot(epochs, run["test_mse"], color=PALETTE[i], label=label, **marker)
        by_time.plot(np.cumsum(run["epoch_seconds"]), run["test_mse"], color=PALETTE[i],
                     label=label, **marker)
    for ax, xlabel, title in ((by_epoch, "epoch", "Per epoch"),
                              (by_time, "training time (s)", "Per second of training")):
        log_axis(ax)
        style_axes(ax, title=title, xlabel=xlabel, ylabel="test mean squared error (log scale)")
        ax.legend(frameon=False)
    log_axis(by_epoch, "x")
    by_epoch.set_xlabel("epoch (log scale)")
    fig.suptitle("Regression of sin x + cos y + z: online (batch 1) against mini-batch SGD",
                 fontsize=12, fontweight="bold")
    return save(fig, path)


def run(ctx):
    """Train the XOR, parity and regression exercises, fill ``ctx.result``."""
    from ..datasets import parity, xyz_regression
    from ..models import MLPClassifier, MLPRegressor
    from ..plotting import plot_decision_regions, plot_regression

    res = ctx.result
    res.intro = (
        "One hidden layer is enough for what a perceptron cannot do: XOR and the parity of n "
        "bits (n tanh units in the hidden layer suffice; the tour gives 2n). A regression "
        "network learns f(x, y, z) = sin x + cos y + z from samples, once with the online rule "
        "(one update per sample) and once with mini-batches of 32 for ten times as many epochs.")
    epochs = ctx.size(600, 1500, 1500)
    curves, rows = {}, []
    for bits in _PARITY_BITS:
        X, y = parity(bits, coding="01")
        clf = MLPClassifier(hidden_layer_sizes=(2 * bits,), activation="tanh", learning_rate=0.05,
                            batch_size=None, epochs=epochs, tol=0.0, patience=epochs,
                            random_state=0)
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
        curves[bits] = clf.loss_curve_
        if bits == 2:
            plot_decision_regions(clf, X, y, class_names=["0 (false)", "1 (true)"],
                                  feature_names=["x1", "x2"],
                                  title="XOR: the regions of a 2-4-2 tanh MLP",
                                  path=ctx.figure("mlp_xor_regions.png",
                                                  "The plane coloured by the MLP's answer on XOR: "
                                                  "two hidden units' lines combine into a band "
                                                  "that no single perceptron can draw."))
        rows.append([f"{'XOR' if bits == 2 else 'parity'} ({bits} bits)", 2 ** bits,
                     f"{bits}-{2 * bits}-2", clf.n_iter_, float(clf.loss_curve_[-1]),
                     f"{clf.score(X, y):.0%}", seconds])
    _parity_figure(curves, ctx.figure(
        "mlp_parity.png", "Training loss per epoch on the full truth tables: every problem is "
                          "learned; more bits take longer."))
    ctx.table("XOR and parity", ["problem", "patterns", "network", "epochs", "final loss",
                                 "accuracy", "seconds"], rows)
    ctx.step("regression")

    n_train, n_epochs = ctx.size((1000, 10), (2000, 25), (2000, 25))
    X, y = xyz_regression(n_train, random_state=0)
    X_test, y_test = xyz_regression(500, random_state=1)
    runs = {}
    # Mini-batches run ten times the epochs: about the time the online rule takes.
    for label, batch, rate, epochs in (("online (batch 1, lr 0.01)", 1, 0.01, n_epochs),
                                       ("mini-batch (32, lr 0.01)", 32, 0.01, 10 * n_epochs)):
        reg = MLPRegressor(hidden_layer_sizes=(32, 32), activation="tanh", optimizer="sgd",
                           learning_rate=rate, batch_size=batch, random_state=0)
        run = {"test_mse": [], "epoch_seconds": []}
        for _ in range(epochs):
            start = time.perf_counter()
            reg.partial_fit(X, y)
            run["epoch_seconds"].append(time.perf_counter() - start)
            run["test_mse"].append(float(np.mean((reg.predict(X_test) - y_test) ** 2)))
        run["model"] = reg
        runs[label] = run
    online, mini = runs.values()
    plot_regression(y_test, mini["model"].predict(X_test), output_names=["sin x + cos y + z"],
                    title="Test samples, mini-batch network",
                    path=ctx.figure("mlp_regression.png",
                                    "Each test sample's prediction against its true value; "
                                    "perfect predictions lie on the diagonal."))
    _online_figure(runs, ctx.figure(
        "mlp_online_vs_minibatch.png",
        "Test error of the 3-32-32-1 tanh network after each epoch (left) and against "
        "training time (right). Online learning makes 32 times as many updates per epoch; "
        "mini-batches run ten times as many epochs."))
    ctx.table("sin x + cos y + z: online against mini-batch",
              ["rule", "epochs", "updates per epoch", "test MSE", "test R\u00b2",
               "seconds per epoch", "total seconds"],
              [[label, len(run["test_mse"]), -(-n_train // (1 if label.startswith("online") else 32)),
                run["test_mse"][-1], float(run["model"].score(X_test, y_test)),
                float(np.median(run["epoch_seconds"])), float(np.sum(run["epoch_seconds"]))]
               for label, run in runs.items()],
              note=f"{n_train:,} training and 500 test samples drawn uniformly from "
                   "[-\u03c0, \u03c0]\u00b3; plain SGD for both.")
    res.notes.append(
        "Per epoch the online rule gets ahead, since it updates the weights after every sample; "
        "per second of computer time mini-batches catch up, because one product over 32 samples "
        "costs far less than 32 products over one.")
    solved = sum(r[5] == "100%" for r in rows)
    res.summary = (f"{solved} of {len(rows)} parity problems (2 to {_PARITY_BITS[-1]} bits) "
                   f"learned; regression test MSE online "
                   f"{online['test_mse'][-1]:.4f} vs mini-batch {mini['test_mse'][-1]:.4f}")
    res.numbers = {"parity_learned": {str(b): r[5] == "100%" for b, r in zip(_PARITY_BITS, rows)},
                   "online_test_mse": online["test_mse"][-1],
                   "minibatch_test_mse": mini["test_mse"][-1],
                   "online_seconds": float(np.sum(online["epoch_seconds"])),
                   "minibatch_seconds": float(np.sum(mini["epoch_seconds"]))}
    ctx.step()
