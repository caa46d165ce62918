"""Tour section: the learning-rate range test, and training with the rate it suggests."""
import numpy as np

from ._figures import integer_axis

KEY = "lr-finder"
TITLE = "Learning-rate finder"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = (("experiments", "find_learning_rate"), ("plotting", "plot_lr_finder"))


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 4


def _rates_figure(curves, path):
    from ..plotting._style import PALETTE, new_figure, save, style_axes

    fig = new_figure(10.0, 3.8)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for i, (label, history) in enumerate(curves.items()):
        epochs = np.arange(1, len(history["loss"]) + 1)
        loss_ax.plot(epochs, history["loss"], color=PALETTE[i], marker="o", markersize=3,
                     label=label)
        acc_ax.plot(epochs, 100 * np.asarray(history["val_accuracy"]), color=PALETTE[i],
                    marker="o", markersize=3, label=label)
    # A diverging rate's first losses can be enormous; the scale follows the other two runs.
    top = max(np.nanmax(np.asarray(h["loss"], dtype=float)) for h in list(curves.values())[:2])
    loss_ax.set_ylim(0, 1.3 * top)
    integer_axis(loss_ax)
    integer_axis(acc_ax)
    style_axes(loss_ax, title="Training loss (larger values cut off)", xlabel="epoch",
               ylabel="cross-entropy")
    style_axes(acc_ax, title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    acc_ax.set_ylim(0, 100)
    for ax in (loss_ax, acc_ax):
        ax.legend(frameon=False, fontsize=9)
    fig.suptitle("Training with the suggested rate, a hundredth of it and ten times it (SGD)",
                 fontsize=12, fontweight="bold")
    return save(fig, path)


def run(ctx):
    """Run the range test on an MLP, train with three rates, fill ``ctx.result``."""
    from ..experiments import find_learning_rate
    from ..models import MLPClassifier
    from ..plotting import plot_lr_finder

    data, res = ctx.data, ctx.result
    factor = ctx.size(1.02, 1.005, 1.005)
    epochs = ctx.size(5, 12, 8)
    batch = 32 if not ctx.full else 128

    def make(rate):
        return MLPClassifier(hidden_layer_sizes=(256, 128), optimizer="sgd", learning_rate=rate,
                             batch_size=batch, epochs=epochs, early_stopping=True,
                             validation_fraction=0.15, patience=epochs, tol=0.0, random_state=0)

    res.intro = (
        "The range test trains an untrained MLP (784-256-128-10, plain SGD) for one run of "
        f"batches while the learning rate grows by a factor {factor} per batch from 1e-7, and "
        "records the loss until it explodes. The suggested rate is half the rate at the lowest "
        "(smoothed) loss; the steepest fall is marked too. The model's weights and optimizer "
        "state are left as they were.")
    found = find_learning_rate(make(1e-3), data.X_train, data.y_train, factor=factor)
    ctx.step("training")
    plot_lr_finder(found, path=ctx.figure(
        "lr_finder.png", "Loss of each batch (faint) and smoothed (bold) against the learning "
                         "rate, on a log axis, with the suggested rate and the steepest descent."),
        title=f"Learning-rate range test: MLP 784-256-128-10, SGD, batch {batch}")
    tried = {f"suggested {found.suggestion:.2g}": found.suggestion,
             f"a hundredth, {found.suggestion / 100:.2g}": found.suggestion / 100,
             f"ten times, {found.suggestion * 10:.2g}": found.suggestion * 10}
    curves, rows = {}, []
    for label, rate in tried.items():
        clf = make(rate)
        with np.errstate(all="ignore"):
            clf.fit(data.X_train, data.y_train)
        curves[label] = clf.history_
        val = clf.history_["val_accuracy"]
        rows.append([label.split(" ")[0].rstrip(","), rate, clf.n_iter_,
                     float(clf.history_["loss"][-1]), float(max(val)),
                     float(np.mean(clf.predict(data.X_test) == data.y_test))])
        ctx.step("training")
    _rates_figure(curves, ctx.figure(
        "lr_finder_training.png",
        f"The same network trained for {epochs} epochs with each rate: too small a rate barely "
        "moves, too large a one is unstable."))
    ctx.table("Range test", ["batches", "stopped because", "lowest loss at rate",
                             "steepest descent at rate", "suggested rate"],
              [[len(found.rates), found.stop_reason, found.min_rate, found.steepest,
                found.suggestion]])
    ctx.table("Training with three rates", ["rate", "learning rate", "epochs",
                                            "final training loss", "best validation accuracy",
                                            "test accuracy"], rows,
              note="Early stopping restores the weights of the best validation epoch before "
                   "the test.")
    suggested = rows[0]
    res.summary = (f"suggested rate {found.suggestion:.3g} (steepest {found.steepest:.3g}); "
                   f"trained with it: test accuracy {suggested[5]:.1%}")
    res.numbers = {"suggestion": found.suggestion, "steepest": found.steepest,
                   "min_rate": found.min_rate, "batches": len(found.rates),
                   "test_accuracy": {r[0]: r[5] for r in rows}}
