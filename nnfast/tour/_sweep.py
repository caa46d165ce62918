"""Tour section: a small sweep over optimizer, activation, depth and width."""
import numpy as np

KEY = "sweep"
TITLE = "Sweep: optimizer x activation x depth x width"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = (("experiments", "sweep"), ("plotting", "plot_sweep"))

_SIZES = ((32,), (128,), (32, 32), (128, 128))
#: Each optimizer with a learning rate that suits it (plain SGD needs a far larger one).
_OPTIMIZERS = (("sgd", 0.05), ("adam", 1e-3))


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 2


def _curves_figure(result, path):
    from ..plotting._style import PALETTE, new_figure, save, style_axes
    from ._figures import integer_axis

    fig = new_figure(10.0, 3.9)
    axes = fig.subplots(1, len(_OPTIMIZERS), sharey=True)
    styles = {"relu": "-", "tanh": "--"}
    for ax, (optimizer, _) in zip(axes, _OPTIMIZERS):
        for params, curve in zip(result.params, result.curves):
            if params["optimizer"] != optimizer:
                continue
            sizes = params["hidden_layer_sizes"]
            colour = PALETTE[_SIZES.index(tuple(sizes))]
            ax.plot(np.arange(1, len(curve) + 1), 100 * np.asarray(curve), color=colour,
                    linestyle=styles[params["activation"]], linewidth=1.5,
                    label=f"{'-'.join(map(str, sizes))}, {params['activation']}")
        integer_axis(ax)
        style_axes(ax, title=f"{optimizer} (learning rate {dict(_OPTIMIZERS)[optimizer]:g})",
                   xlabel="epoch", ylabel="validation error (%)" if ax is axes[0] else None)
    axes[-1].legend(frameon=False, fontsize=8.5, title="hidden layers, activation",
                    title_fontsize=8.5, loc="upper right")
    fig.suptitle("Validation error after each epoch of every run", fontsize=12,
                 fontweight="bold")
    return save(fig, path)


def run(ctx):
    """Run the sweep in worker processes, chart it, fill ``ctx.result``."""
    from ..experiments import sweep
    from ..models import MLPClassifier
    from ..plotting import plot_sweep

    data, res = ctx.data, ctx.result
    epochs = ctx.size(4, 10, 5)
    n_train = ctx.size(min(1600, len(data.X_train)), len(data.X_train), 12000)
    n_jobs = ctx.size(1, -1, -1)
    grid = [{"optimizer": [name], "learning_rate": [rate], "activation": ["relu", "tanh"],
             "hidden_layer_sizes": list(_SIZES)} for name, rate in _OPTIMIZERS]
    n_runs = 2 * 2 * len(_SIZES)
    res.intro = (
        f"{n_runs} MLPs, one for each combination of optimizer (plain SGD or Adam, each with "
        "its usual learning rate), hidden activation (ReLU or tanh), depth (one or two hidden "
        "layers) and width (32 or 128 units), train for "
        f"{epochs} epochs on {n_train:,} images; 20 % of them are held out to measure the "
        "validation error after every epoch. "
        + ("The runs share the machine's cores as separate worker processes (joblib), each "
           "with its share of nnfast's threads." if n_jobs != 1 else
           "In quick mode the runs go one after the other in this process."))
    result = sweep(MLPClassifier(batch_size=32 if not ctx.full else 128, epochs=epochs,
                                 random_state=0), grid, data.X_train[:n_train],
                   data.y_train[:n_train], n_jobs=n_jobs, random_state=0)
    ctx.step("charts")
    rows = [dict(row, depth=len(row["hidden_layer_sizes"]), width=row["hidden_layer_sizes"][0])
            for row in result.rows]
    plot_sweep(rows, x="width", hue="depth", path=ctx.figure(
        "sweep_depth_width.png", "Validation error against the width of the hidden layers, one "
                                 "line per depth; each point is the mean over optimizers and "
                                 "activations, its bar spans the best to the worst run."),
        title="Validation error: width and depth")
    plot_sweep(rows, x="activation", hue="optimizer", path=ctx.figure(
        "sweep_optimizer_activation.png", "Validation error for each activation, one line per "
                                          "optimizer (mean, best and worst over the four "
                                          "architectures)."),
        title="Validation error: optimizer and activation")
    _curves_figure(result, ctx.figure(
        "sweep_curves.png", "The validation error of each run after every epoch; colour: "
                            "hidden layers, line style: activation."))
    best = result.best_index
    ctx.table("Every run of the sweep",
              ["optimizer", "learning rate", "activation", "hidden layers", "validation error",
               "training error", "seconds", "epochs"],
              [[r["optimizer"], r["learning_rate"], r["activation"],
                "-".join(map(str, r["hidden_layer_sizes"])) + (" (best)" if i == best else ""),
                f"{r['val_error']:.1%}", f"{r['train_error']:.1%}", r["fit_seconds"], r["epochs"]]
               for i, r in enumerate(result.rows)],
              note="Also in sweep.csv (nnfast.experiments.SweepResult.to_csv).")
    result.to_csv(ctx.path("sweep.csv"))
    b = result.rows[best]
    res.summary = (f"{len(result.rows)} runs; best: {b['optimizer']}, {b['activation']}, "
                   f"{'-'.join(map(str, b['hidden_layer_sizes']))} with validation error "
                   f"{b['val_error']:.1%}")
    res.numbers = {"runs": len(result.rows), "best_params": result.best_params,
                   "best_val_error": b["val_error"],
                   "val_errors": [r["val_error"] for r in result.rows]}
    ctx.step()
