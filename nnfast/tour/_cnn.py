"""Tour section: the classic CNN against an MLP, in accuracy and in time."""
import time

import numpy as np

from ._published import published_rows

KEY = "cnn"
TITLE = "CNN against MLP: accuracy and time"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = (("models", "CNNClassifier"),)


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 3


def _comparison_figure(rows, path):
    from matplotlib.ticker import FuncFormatter

    from ..plotting._style import PALETTE, new_figure, save, style_axes

    names = [r["name"] for r in rows]
    panels = (("test_accuracy", "Test accuracy", "accuracy", "{:.1%}"),
              ("seconds_per_epoch", "Training time per epoch", "seconds", "{:.2f} s"),
              ("predict_ms_per_1000", "Prediction time", "ms per 1,000 images", "{:.1f} ms"),
              ("parameters", "Parameters", "weights and biases", "{:,}"))
    fig = new_figure(12.0, 3.5)
    axes = fig.subplots(1, len(panels))
    for ax, (key, title, ylabel, label) in zip(axes, panels):
        values = [r[key] for r in rows]
        bars = ax.bar(names, values, color=PALETTE[:len(rows)], width=0.6)
        ax.bar_label(bars, [label.format(v) for v in values], fontsize=8, padding=2)
        if key == "test_accuracy":
            low = min(values)
            ax.set_ylim(max(0.0, low - 2 * (1 - low) - 0.02), 1.0)
        else:
            ax.set_ylim(0, max(values) * 1.2)
        if key == "parameters":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
        style_axes(ax, title=title, ylabel=ylabel)
        ax.grid(False, axis="x")
    fig.suptitle("Classic CNN against MLP on the same images", fontsize=12, fontweight="bold")
    return save(fig, path)


def _train(model, X_train, y_train, X_test, y_test):
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    pred = model.predict(X_test)
    predict_seconds = time.perf_counter() - start
    return {"seconds": seconds, "epochs": model.n_iter_,
            "seconds_per_epoch": seconds / max(model.n_iter_, 1),
            "predict_ms_per_1000": 1e6 * predict_seconds / len(X_test),
            "test_accuracy": float(np.mean(pred == y_test)),
            "parameters": int(model.model_.count_params()), "pred": pred}


def run(ctx):
    """Train the MLP and the CNN on the same data, compare, fill ``ctx.result``."""
    from ..metrics import confusion_matrix
    from ..models import CNNClassifier, MLPClassifier
    from ..plotting import plot_confusion_matrix, plot_conv_filters, plot_feature_maps

    data, res = ctx.data, ctx.result
    epochs = ctx.size(2, 12, 8)
    res.intro = (
        f"The same {len(data.X_train):,} training images train a multilayer perceptron "
        "(784-256-128-10, ReLU, Adam), which sees each image as a list of pixels, and the classic "
        "convolutional network (3x3 convolution with 32 filters, 2x2 max pooling, 3x3 convolution "
        "with 64 filters, pooling, a dense layer of 128 and the output; ReLU, Adam), which sees "
        f"it as an image. Both run {epochs} epochs with mini-batches of 64 and are tested on the "
        f"same {len(data.X_test):,} images.")
    mlp = MLPClassifier(hidden_layer_sizes=(256, 128), batch_size=64, epochs=epochs, tol=0.0,
                        patience=epochs, random_state=0)
    rows = [dict(name="MLP 784-256-128-10",
                 **_train(mlp, data.X_train, data.y_train, data.X_test, data.y_test))]
    ctx.step("CNN")
    cnn = CNNClassifier(batch_size=64, epochs=epochs, tol=0.0, patience=epochs, random_state=0)
    rows.append(dict(name="classic CNN",
                     **_train(cnn, data.images_train, data.y_train, data.images_test,
                              data.y_test)))
    ctx.step("figures")
    _comparison_figure(rows, ctx.figure(
        "cnn_vs_mlp.png", "Accuracy on the test images, training time per epoch, prediction "
                          "time and size of each network (measured in this run)."))
    mlp_row, cnn_row = rows
    plot_confusion_matrix(confusion_matrix(data.y_test, cnn_row["pred"], len(data.class_names)),
                          class_names=data.class_names, path=ctx.figure(
                              "cnn_confusion_matrix.png",
                              "The CNN's test predictions: rows are the true classes.",
                              wide=True),
                          title=f"CNN on the test images: {cnn_row['test_accuracy']:.1%} correct")
    plot_conv_filters(cnn, n_cols=8, path=ctx.figure(
        "cnn_filters.png", "The 32 learned 3x3 kernels of the first convolution."),
        title="First convolution: 32 filters (red +, blue -)")
    plot_feature_maps(cnn, data.images_test[0], path=ctx.figure(
        "cnn_feature_maps.png", "One test image through the network: the first channels of each "
                                "layer's output."),
        title=f"A test image ({data.class_names[data.y_test[0]]}) through the CNN")
    ctx.table("CNN against MLP", ["model", "parameters", "epochs", "training seconds",
                                  "seconds per epoch", "prediction ms per 1,000 images",
                                  "test accuracy"],
              [[r["name"], r["parameters"], r["epochs"], r["seconds"], r["seconds_per_epoch"],
                r["predict_ms_per_1000"], f"{r['test_accuracy']:.2%}"] for r in rows])
    published = [(m, "MLP", acc, src) for m, acc, src in published_rows(data.name, "mlp")]
    published += [(m, "CNN", acc, src) for m, acc, src in published_rows(data.name, "cnn")]
    if published:
        ctx.table(f"Published test accuracies on {data.title}",
                  ["published model", "compare with", "published accuracy",
                   "nnfast, this run", "source"],
                  [[m, kind, f"{acc:.1%}",
                    f"{(mlp_row if kind == 'MLP' else cnn_row)['test_accuracy']:.1%}", src]
                   for m, kind, acc, src in published],
                  note="Published figures as their sources print them; nnfast's column is this "
                       f"run ({epochs} epochs on {len(data.X_train):,} training images, no "
                       "augmentation).")
    ratio = cnn_row["seconds_per_epoch"] / mlp_row["seconds_per_epoch"]
    res.notes.append(
        f"The CNN has {cnn_row['parameters'] / mlp_row['parameters']:.1f} times the MLP's "
        f"parameters and takes {ratio:.1f} times as long per epoch here; it makes "
        f"{(1 - cnn_row['test_accuracy']) / max(1 - mlp_row['test_accuracy'], 1e-12):.2f} times "
        "the MLP's test errors.")
    res.summary = (f"CNN {cnn_row['test_accuracy']:.1%} vs MLP {mlp_row['test_accuracy']:.1%} "
                   f"test accuracy; {cnn_row['seconds_per_epoch']:.2f} vs "
                   f"{mlp_row['seconds_per_epoch']:.2f} s per epoch")
    res.numbers = {r["name"]: {k: v for k, v in r.items() if k not in ("pred", "name")}
                   for r in rows}
    ctx.step()
