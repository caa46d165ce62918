"""Tour section: the MLP classifier, its learning curves, its errors and how sure it is."""
import time

import numpy as np

from ._published import published_rows

KEY = "classifier"
TITLE = "MLP classifier: overfitting, errors and the hardest images"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = (("metrics", "precision_recall_fscore"), ("metrics", "classification_error"),
         ("metrics", "predictive_entropy"),
         ("plotting", "plot_learning_curves"), ("plotting", "plot_hardest_samples"),
         ("plotting", "overfitting_epoch"))


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 2


def run(ctx):
    """Train a deliberately large MLP with a validation set, evaluate it, fill ``ctx.result``."""
    from ..metrics import (
        classification_error, confusion_matrix, precision_recall_fscore, predictive_entropy,
    )
    from ..models import MLPClassifier
    from ..plotting import (
        overfitting_epoch, plot_confusion_matrix, plot_hardest_samples, plot_learning_curves,
    )

    data, res = ctx.data, ctx.result
    epochs, patience = ctx.size((15, 15), (40, 40), (30, 10))
    sizes = (512, 256)
    res.intro = (
        f"A large multilayer perceptron (784-{sizes[0]}-{sizes[1]}-10, ReLU, Adam, no dropout) "
        f"trains on {len(data.X_train):,} images with 15 % of them held out for validation. Its "
        "training loss keeps falling while the validation loss turns upwards: the network "
        "starts to learn its training images by heart. Early stopping then restores the "
        "weights of the epoch with the lowest validation loss, which are tested on images the "
        "network has never seen.")
    clf = MLPClassifier(hidden_layer_sizes=sizes, activation="relu", learning_rate=1e-3,
                        batch_size=32 if not ctx.full else 128, epochs=epochs,
                        early_stopping=True, validation_fraction=0.15, patience=patience,
                        tol=0.0, random_state=0)
    start = time.perf_counter()
    clf.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    ctx.step("evaluation")
    proba = clf.predict_proba(data.X_test)
    pred = clf.classes_[np.argmax(proba, axis=1)]
    y = data.y_test
    names = data.class_names
    val_loss = np.asarray(clf.history_["val_loss"])
    best_epoch = int(np.argmin(val_loss)) + 1
    turn = overfitting_epoch(val_loss)
    plot_learning_curves(clf.history_, title=f"MLP 784-{sizes[0]}-{sizes[1]}-10: training "
                         "against validation", path=ctx.figure(
                             "classifier_learning_curves.png",
                             "Loss and accuracy per epoch on the training and the validation "
                             "images; the dashed line marks the epoch of the lowest validation "
                             "loss, after which the network overfits."))
    matrix = confusion_matrix(y, pred, len(names))
    plot_confusion_matrix(matrix, class_names=names, path=ctx.figure(
        "classifier_confusion_matrix.png",
        "Test images by true class (rows) and predicted class (columns): counts, and the "
        "percentage of the row.", wide=True))
    plot_hardest_samples(data.images_test, proba, y, class_names=names, k=24,
                         classes=clf.classes_, path=ctx.figure(
                             "classifier_hardest_samples.png",
                             "The test images the network is least sure about, mistakes first: "
                             "the predicted class with its probability, the true class and the "
                             "entropy H of the predicted distribution (in nats).", wide=True))
    wilson = classification_error(y, pred, method="wilson")
    normal = classification_error(y, pred, method="normal")
    accuracy = 1.0 - wilson.error
    entropy = predictive_entropy(proba)
    wrong = pred != y
    n_val = int(0.15 * len(data.X_train))
    ctx.table("Training", ["network", "training images", "validation images", "epochs run",
                           "lowest validation loss at epoch", "seconds",
                           "validation loss: lowest / last"],
              [[f"784-{sizes[0]}-{sizes[1]}-10", len(data.X_train) - n_val, n_val, clf.n_iter_,
                best_epoch, seconds, f"{val_loss.min():.4f} / {val_loss[-1]:.4f}"]])
    ctx.table("Test error with its 95 % confidence interval",
              ["method", "test images", "errors", "error", "interval low", "interval high"],
              [[m.method, m.n, int(wrong.sum()), f"{m.error:.2%}", f"{m.low:.2%}",
                f"{m.high:.2%}"] for m in (wilson, normal)],
              note="Wilson's interval stays inside [0, 1] and keeps its coverage for few "
                   "errors; the normal approximation is e \u00b1 1.96 \u221a(e(1-e)/n).")
    per_class = precision_recall_fscore(y, pred, labels=np.arange(len(names)))
    rows = [[names[k], f"{per_class.precision[k]:.3f}", f"{per_class.recall[k]:.3f}",
             f"{per_class.f1[k]:.3f}", int(per_class.support[k])] for k in range(len(names))]
    for average in ("macro", "weighted"):
        avg = precision_recall_fscore(y, pred, average=average)
        rows.append([f"{average} average", f"{avg.precision:.3f}", f"{avg.recall:.3f}",
                     f"{avg.f1:.3f}", int(avg.support)])
    ctx.table("Per-class report on the test images",
              ["class", "precision", "recall", "F1", "test images"], rows)
    published = published_rows(data.name, "mlp")
    if published:
        ctx.table(f"Published MLP test accuracies on {data.title}",
                  ["published model", "published accuracy", "nnfast, this run", "source"],
                  [[m, f"{acc:.1%}", f"{accuracy:.1%}", src] for m, acc, src in published],
                  note="Published figures as their sources print them; nnfast's column is this "
                       f"run ({clf.n_iter_} epochs on {len(data.X_train) - n_val:,} training "
                       "images, no augmentation).")
    off = matrix - np.diag(np.diag(matrix))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    if turn is not None:
        res.notes.append(
            f"The validation loss is lowest at epoch {turn} and rises afterwards (to "
            f"{val_loss[-1]:.3f} from {val_loss.min():.3f}) while the training loss falls to "
            f"{clf.history_['loss'][-1]:.2g}: overfitting.")
    res.notes.append(
        f"The most frequent confusion is {names[i]} taken for {names[j]} ({off[i, j]} test "
        f"images). The mean entropy of the predictions is {entropy[wrong].mean():.2f} nats on "
        f"the mistakes and {entropy[~wrong].mean():.2f} on the correct answers: the network is "
        "less sure where it is wrong.")
    res.summary = (f"test error {wilson.error:.1%} (95 % interval {wilson.low:.1%} to "
                   f"{wilson.high:.1%}, {len(y):,} images); validation loss lowest at epoch "
                   f"{best_epoch} of {clf.n_iter_}")
    res.numbers = {"test_accuracy": accuracy, "test_error": wilson.error,
                   "wilson_interval": [wilson.low, wilson.high],
                   "normal_interval": [normal.low, normal.high], "best_epoch": best_epoch,
                   "overfitting_epoch": turn, "epochs": clf.n_iter_, "seconds": seconds}
    ctx.step()
