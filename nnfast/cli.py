"""The ``nnfast`` command line (also ``python -m nnfast``).

Subcommands: ``tour`` (every exercise of the course, written up as an HTML
report), ``demo`` (train each model on the bundled sample and write
figures), ``info`` (versions, threads, OpenMP, BLAS), ``train`` (fit a model
on a dataset and save it), ``evaluate`` (test a saved model, with a
confidence interval and a per-class report), ``datasets`` (where each
dataset is found, and how to get a missing one) and ``bench`` (run the
benchmark suite of a source checkout and print its ratio table).

Exit status: 0 on success, 2 when the command line is wrong (an unknown
subcommand, model, dataset, option or hyperparameter value), 1 when the
command could not be carried out (missing data, an unwritable output folder,
an unreadable model file, no benchmark suite).

Each subcommand is registered by one function ``add_<name>_command(subparsers)``
listed in :data:`COMMANDS`; it adds its parser and sets the parser's ``func``
default to the function that runs it (parsed arguments in, exit status out).
"""
import argparse
import ast
import importlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time

from .tour._cli import add_tour_command

DEMOS = ("mlp", "perceptron", "rbm", "cnn")

#: The datasets ``train`` and ``evaluate`` take.
DATASETS = ("sample", "mnist", "fashion-mnist")

#: The models ``train`` fits: name -> (module, class).
MODELS = {"mlp": ("nnfast.models", "MLPClassifier"), "cnn": ("nnfast.models", "CNNClassifier")}

#: Parameters the command line sets itself (``--verbose`` shows progress bars).
_FIXED_PARAMS = ("verbose",)

_FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot")


class CommandError(Exception):
    """A failure reported as ``nnfast <command>: error: <message>`` with exit ``status``."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------ demo
def _available_demos():
    found = []
    for name in DEMOS:
        try:
            importlib.import_module(f"nnfast.demos.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nnfast.demos.{name}":
                raise
            continue
        found.append(name)
    return found


def run_demos(names, output_dir, quick=False, echo=print):
    """Run the named demos, write ``summary.json`` and ``summary.md``; return the summaries."""
    os.makedirs(output_dir, exist_ok=True)
    results = {}
    for name in names:
        module = importlib.import_module(f"nnfast.demos.{name}")
        echo(f"[{name}] running ...")
        start = time.perf_counter()
        results[name] = module.run(output_dir, quick=quick)
        results[name]["wall_seconds"] = round(time.perf_counter() - start, 2)
        echo(f"[{name}] done in {results[name]['wall_seconds']} s")
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output_dir, "summary.md"), "w") as f:
        f.write(_markdown(results))
    return results


def _markdown(results):
    lines = ["# nnfast demo", ""]
    for name, summary in results.items():
        lines += [f"## {name}", ""]
        for key, value in summary.items():
            if key != "files":
                lines.append(f"- **{key.replace('_', ' ')}**: {value}")
        for label, path in summary.get("files", {}).items():
            lines.append(f"- ![{label}]({os.path.basename(path)})")
        lines.append("")
    return "\n".join(lines)


def add_demo_command(subparsers):
    """Register ``nnfast demo``."""
    parser = subparsers.add_parser("demo",
                                   help="train the models on the bundled sample and write figures",
                                   description="Train each model on the bundled digits sample (or "
                                               "its classic exercise) and write figures and a summary.")
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help=f"which demos to run ({', '.join(DEMOS)}); all by default")
    parser.add_argument("-o", "--output", default="nnfast-output",
                        help="folder for figures and summary (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="shorter training, for a smoke test")
    parser.set_defaults(func=run_demo_command)
    return parser


def run_demo_command(args):
    """Run ``nnfast demo`` for parsed ``args``; returns the exit status."""
    names = args.models or _available_demos()
    unknown = [n for n in names if n not in DEMOS]
    if unknown:
        raise CommandError(f"unknown demo(s) {unknown}; choose from {list(DEMOS)}", status=2)
    _check_output_folder(args.output)
    results = run_demos(names, args.output, quick=args.quick)
    print(f"\nFigures and summary written to {os.path.abspath(args.output)}/")
    for name, summary in results.items():
        scalars = [(k, v) for k, v in summary.items()
                   if isinstance(v, (int, float, str)) and k != "model" and len(str(v)) < 40]
        print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in scalars[:8]))
    return 0


# ------------------------------------------------------------------ info
def add_info_command(subparsers):
    """Register ``nnfast info``."""
    parser = subparsers.add_parser("info", help="versions, threads, OpenMP and BLAS in use",
                                   description="Describe this installation: versions, threads, "
                                               "OpenMP, vector kernels and BLAS libraries.")
    parser.set_defaults(func=run_info_command)
    return parser


def run_info_command(args):
    """Run ``nnfast info`` for parsed ``args``; returns the exit status."""
    import numpy
    import scipy
    from threadpoolctl import threadpool_info

    import nnfast
    from nnfast import _openmp, _simd

    print(f"nnfast {nnfast.__version__} (numpy {numpy.__version__}, scipy {scipy.__version__})")
    print(f"threads: {nnfast.get_num_threads()}; OpenMP compiled in: {_openmp.openmp_enabled()}; "
          f"vector kernels: {_simd.simd_level()}")
    for pool in threadpool_info():
        print(f"  {pool['user_api']}: {pool['internal_api']} {pool.get('version') or ''} "
              f"({pool['num_threads']} threads) {pool['filepath']}")
    return 0


# ---------------------------------------------------------- data and files
def _check_output_folder(folder):
    """Create ``folder`` if needed; fail now, before any work, if it cannot be written."""
    folder = os.path.abspath(folder or ".")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise CommandError(f"{folder} exists and is not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise CommandError(f"cannot create the output folder {folder}: {reason}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"the output folder {folder} is not writable")


def _load_split(name, split, data_dir=None):
    """Images (float32 in [0, 1], one row of 784 per image) and labels of a dataset's split.

    The bundled sample is split as the demos and the tour split it: 1,600
    training and 400 test images, shuffled with seed 0.
    """
    import numpy as np

    from .datasets import (
        DatasetIntegrityError, DatasetNotFoundError, load_digits_sample, load_fashion_mnist,
        load_mnist,
    )

    if name == "sample":
        images, labels = load_digits_sample(as_float=True, flatten=True)
        order = np.random.default_rng(0).permutation(len(images))
        rows = order[:1600] if split == "train" else order[1600:]
        return images[rows], labels[rows]
    loader = load_mnist if name == "mnist" else load_fashion_mnist
    try:
        return loader(data_dir, subset=split, as_float=True, flatten=True)
    except DatasetNotFoundError as exc:
        raise CommandError(f"{exc}\nRun `nnfast datasets` to see what is found where; "
                           f"`--dataset sample` needs no files.") from None
    except DatasetIntegrityError as exc:
        raise CommandError(f"{name}: {exc}") from None


def _class_names(dataset):
    return list(_FASHION_CLASSES) if dataset == "fashion-mnist" else [str(d) for d in range(10)]


# ------------------------------------------------------------------ train
def _model_class(name):
    module, cls = MODELS[name]
    return getattr(importlib.import_module(module), cls)


def _model_params():
    """``{parameter: {model: default}}`` over every model ``train`` knows."""
    params = {}
    for name in MODELS:
        signature = inspect.signature(_model_class(name).__init__).parameters
        for param in _model_class(name)._param_names():
            if param not in _FIXED_PARAMS:
                params.setdefault(param, {})[name] = signature[param].default
    return params


def _param_help(param, defaults):
    if param == "random_state":
        return f"{', '.join(defaults)} (default here: 0, so that runs repeat)"
    values = list(defaults.values())
    if all(v == values[0] for v in values):
        return f"{', '.join(defaults)} (default: {values[0]!r})"
    return "; ".join(f"{model} (default: {value!r})" for model, value in defaults.items())


def parse_value(text):
    """A hyperparameter from the command line: a number, tuple, bool, None or string.

    ``true``/``false``/``none`` (any case), Python literals (``0.01``,
    ``1e-3``, ``(256, 128)``), comma-separated numbers (``256,128`` is a
    tuple), anything else a string.

    Examples
    --------
    >>> [parse_value(t) for t in ["64", "1e-3", "256,128", "True", "none", "adam"]]
    [64, 0.001, (256, 128), True, None, 'adam']
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(value, (int, float, tuple)) and not isinstance(value, bool):
        return value
    return text


def add_train_command(subparsers):
    """Register ``nnfast train``; every hyperparameter of every model is an option."""
    params = _model_params()
    lines = [f"  {name}: nnfast.{_model_class(name).__name__}" for name in MODELS]
    parser = subparsers.add_parser(
        "train", help="train a model on a dataset and save it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train MODEL on the training split of a dataset and save it to a model file "
                    "(nnfast's own format; no pickle).  Hyperparameters are the model's "
                    "constructor parameters, written --name-with-dashes VALUE: numbers, "
                    "true/false, none, tuples as 256,128, or names.",
        epilog="models:\n" + "\n".join(lines) + "\n\nexample:\n  nnfast train mlp --dataset sample "
               "--hidden-layer-sizes 256,128 --epochs 20 --save mlp.nnf\n  nnfast evaluate mlp.nnf "
               "--dataset sample")
    parser.add_argument("model", choices=list(MODELS), metavar="MODEL",
                        help=f"the model: {', '.join(MODELS)}")
    parser.add_argument("--dataset", required=True, choices=DATASETS, metavar="NAME",
                        help=f"training data: {', '.join(DATASETS)} (sample: the 2,000 digits "
                             "bundled with nnfast, of which 1,600 train)")
    parser.add_argument("--save", required=True, metavar="FILE",
                        help="where to write the trained model")
    parser.add_argument("--data-dir", metavar="FOLDER",
                        help="folder searched first for the MNIST or Fashion-MNIST files")
    parser.add_argument("--limit", type=_positive_int, metavar="N",
                        help="train on the first N training images only")
    parser.add_argument("--verbose", action="store_true", help="a progress bar per epoch")
    group = parser.add_argument_group("hyperparameters (each for the models named)")
    for param, models in params.items():
        group.add_argument(_option(param), dest=f"param_{param}", metavar="VALUE",
                           type=parse_value, default=argparse.SUPPRESS,
                           help=_param_help(param, models))
    parser.set_defaults(func=run_train_command)
    return parser


def _option(param):
    return "--" + param.replace("_", "-")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def run_train_command(args):
    """Run ``nnfast train`` for parsed ``args``; returns the exit status."""
    cls = _model_class(args.model)
    given = {k[len("param_"):]: v for k, v in vars(args).items() if k.startswith("param_")}
    valid = set(cls._param_names())
    foreign = sorted(p for p in given if p not in valid)
    if foreign:
        options = ", ".join(_option(p) for p in sorted(valid - set(_FIXED_PARAMS)))
        raise CommandError(f"{args.model} ({cls.__name__}) has no parameter(s) "
                           f"{', '.join(_option(p) for p in foreign)}; its parameters are {options}",
                           status=2)
    params = {"random_state": 0, **given, "verbose": int(args.verbose)}
    model = cls(**params)
    try:
        model._validate_params()
    except (TypeError, ValueError) as exc:
        raise CommandError(f"bad hyperparameter: {exc}", status=2) from None
    save = os.path.abspath(args.save)
    if os.path.isdir(save):
        raise CommandError(f"--save {args.save} is a folder; give a file name")
    _check_output_folder(os.path.dirname(save))

    X, y = _load_split(args.dataset, "train", args.data_dir)
    if args.limit:
        X, y = X[:args.limit], y[:args.limit]
    print(f"Training {cls.__name__}({', '.join(f'{k}={v!r}' for k, v in given.items())}) on "
          f"{len(X):,} {args.dataset} images ...", flush=True)
    start = time.perf_counter()
    try:
        model.fit(X, y)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"training failed: {exc}", status=2) from None
    seconds = time.perf_counter() - start
    accuracy = float(model.score(X, y))
    epochs = f"{model.n_iter_} epoch{'s' if model.n_iter_ != 1 else ''}"
    print(f"{epochs} in {seconds:.1f} s; training accuracy {accuracy:.2%}")
    if getattr(model, "stopped_reason_", None):
        print(f"Stopped early: {model.stopped_reason_}")
    try:
        model.save(save)
    except OSError as exc:
        raise CommandError(f"cannot write {save}: {exc.strerror or exc}") from None
    print(f"Saved to {save}\nEvaluate it with: nnfast evaluate {args.save} --dataset {args.dataset}")
    return 0


# --------------------------------------------------------------- evaluate
def add_evaluate_command(subparsers):
    """Register ``nnfast evaluate``."""
    parser = subparsers.add_parser(
        "evaluate", help="test a saved classifier on a dataset's test split",
        description="Load a model file written by `nnfast train` (or by a model's save()) and "
                    "report its accuracy and error on the test split of a dataset, with a "
                    "confidence interval, and precision, recall and F1 per class.")
    parser.add_argument("file", metavar="FILE", help="the model file")
    parser.add_argument("--dataset", required=True, choices=DATASETS, metavar="NAME",
                        help=f"test data: {', '.join(DATASETS)} (sample: the 400 bundled digits "
                             "that `nnfast train --dataset sample` leaves out)")
    parser.add_argument("--data-dir", metavar="FOLDER",
                        help="folder searched first for the MNIST or Fashion-MNIST files")
    parser.add_argument("--confidence", type=float, default=0.95, metavar="LEVEL",
                        help="confidence level of the interval (default: %(default)s)")
    parser.add_argument("--method", choices=("wilson", "normal"), default="wilson",
                        help="confidence interval: Wilson score or normal approximation "
                             "(default: %(default)s)")
    parser.set_defaults(func=run_evaluate_command)
    return parser


def run_evaluate_command(args):
    """Run ``nnfast evaluate`` for parsed ``args``; returns the exit status."""
    from .io import ModelFileError, load_model
    from .metrics import classification_error, classification_report

    if not 0 < args.confidence < 1:
        raise CommandError(f"--confidence must be between 0 and 1, got {args.confidence}", status=2)
    if not os.path.isfile(args.file):
        raise CommandError(f"no model file {args.file}")
    try:
        model = load_model(args.file)
    except (ModelFileError, OSError, ValueError) as exc:
        raise CommandError(f"cannot read {args.file} as a model: {exc}") from None
    if not hasattr(model, "classes_") or not hasattr(model, "predict"):
        raise CommandError(f"{args.file} holds a {type(model).__name__}, not a fitted classifier; "
                           f"evaluate tests classifiers")
    X, y = _load_split(args.dataset, "test", args.data_dir)
    expected = getattr(model, "n_features_in_", X.shape[1])
    if expected != X.shape[1]:
        raise CommandError(f"the model takes {expected} values per sample, but {args.dataset} "
                           f"images have {X.shape[1]}")
    unknown = sorted(set(y.tolist()) - set(model.classes_.tolist()))
    if unknown:
        raise CommandError(f"{args.dataset} has labels {unknown} the model never saw "
                           f"(it knows {model.classes_.tolist()})")
    start = time.perf_counter()
    pred = model.predict(X)
    seconds = time.perf_counter() - start
    estimate = classification_error(y, pred, confidence=args.confidence, method=args.method)
    level = f"{args.confidence:.0%}"
    print(f"{type(model).__name__} from {args.file} on the {args.dataset} test split "
          f"({estimate.n:,} images, predicted in {seconds:.2f} s)")
    print(f"accuracy {1 - estimate.error:.2%} ({level} {args.method} interval "
          f"{1 - estimate.high:.2%} to {1 - estimate.low:.2%})")
    print(f"error    {estimate.error:.2%} ({level} {args.method} interval "
          f"{estimate.low:.2%} to {estimate.high:.2%})\n")
    names = _class_names(args.dataset) if len(model.classes_) == 10 else None
    print(classification_report(y, pred, class_names=names))
    return 0


# --------------------------------------------------------------- datasets
def add_datasets_command(subparsers):
    """Register ``nnfast datasets``."""
    parser = subparsers.add_parser(
        "datasets", help="where each dataset is found, and how to get what is missing",
        description="List the datasets nnfast knows, the folder each split is found in (or every "
                    "folder searched, when it is missing) and how to provide a missing one.")
    parser.add_argument("--data-dir", metavar="FOLDER", help="a folder to search first")
    parser.add_argument("--verify", action="store_true",
                        help="also read the files found and check them against their known digests")
    parser.set_defaults(func=run_datasets_command)
    return parser


def run_datasets_command(args):
    """Run ``nnfast datasets`` for parsed ``args``; returns the exit status."""
    from .datasets import DatasetIntegrityError, get_cache_dir, load_digits_sample
    from .datasets._sources import (
        SPLIT_FILES, _candidates, _download_url, _locate_split, _not_found, _offline,
    )

    images, _ = load_digits_sample()
    print(f"sample: bundled with nnfast, {len(images):,} MNIST digits (200 of each, taken from the "
          f"MNIST test set: do not test a model trained on them on mnist)")
    downloads = ("off (NNFAST_OFFLINE is set)" if _offline()
                 else f"on first use, into {get_cache_dir()}")
    status = 0
    for name in ("mnist", "fashion-mnist"):
        candidates = _candidates(name, args.data_dir)
        missing = []
        lines = []
        for split, stems in SPLIT_FILES.items():
            files, report = _locate_split(candidates, stems)
            if files is None:
                missing.append((split, report))
                lines.append(f"  {split}: missing")
                continue
            folder = os.path.dirname(files[stems[0]])
            origin = next(o for f, o in candidates if os.fspath(f) == folder)
            lines.append(f"  {split}: {folder} ({origin})")
            if args.verify:
                lines.append(f"    {_verify(name, split, folder, DatasetIntegrityError)}")
                status = status or int("FAILED" in lines[-1])
        print(f"{name}: " + ("found" if not missing else
                             "partly found" if len(missing) < len(SPLIT_FILES) else "not found"))
        print("\n".join(lines))
        if missing:
            note = f"Downloads: {downloads} from {_download_url(name, None)}"
            report = list(dict.fromkeys(line for _, searched in missing for line in searched))
            message = str(_not_found(name, [s for s, _ in missing], report, note, candidates))
            print("\n".join("  " + line for line in message.splitlines()[1:]))
            print("    - on the command line, pass --data-dir FOLDER.")
    return status


def _verify(name, split, folder, integrity_error):
    from .datasets import DatasetNotFoundError, load_fashion_mnist, load_mnist

    loader = load_mnist if name == "mnist" else load_fashion_mnist
    try:
        images, _ = loader(folder, subset=split, download=False)
    except (integrity_error, DatasetNotFoundError, OSError, ValueError) as exc:
        return f"FAILED: {exc}"
    return f"verified: {len(images):,} images"


# ------------------------------------------------------------------ bench
def add_bench_command(subparsers):
    """Register ``nnfast bench``."""
    parser = subparsers.add_parser(
        "bench", help="run the benchmark suite and print the ratio table",
        description="Run the benchmark suite of an nnfast source checkout (its benchmarks/ "
                    "folder) with pytest-benchmark, then print each group's median times and "
                    "their ratio to nnfast, as benchmarks/report.py does.")
    parser.add_argument("--checkout", metavar="FOLDER",
                        help="the source checkout (default: the one holding the current folder)")
    parser.add_argument("--quick", action="store_true",
                        help="small workloads (NNFAST_BENCH_QUICK=1): a smoke test, not figures")
    parser.add_argument("-k", metavar="EXPRESSION", dest="select",
                        help="run only the benchmarks matching this pytest -k expression")
    parser.add_argument("--json", metavar="FILE", help="keep pytest-benchmark's JSON results here")
    parser.set_defaults(func=run_bench_command)
    return parser


def _is_checkout(folder):
    return all(os.path.isfile(os.path.join(folder, "benchmarks", name))
               for name in ("report.py", "conftest.py"))


def find_checkout(start=None):
    """The source checkout holding ``start`` (default: the current folder), or None."""
    folder = os.path.abspath(start or os.getcwd())
    while True:
        if _is_checkout(folder):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def run_bench_command(args):
    """Run ``nnfast bench`` for parsed ``args``; returns the exit status."""
    if args.checkout is not None:
        checkout = os.path.abspath(args.checkout)
        if not _is_checkout(checkout):
            raise CommandError(f"{checkout} is not an nnfast source checkout: it has no "
                               f"benchmarks/report.py and benchmarks/conftest.py")
    else:
        checkout = find_checkout()
        if checkout is None:
            installed = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            hint = (f"nnfast is installed from the checkout {installed}: run it there or pass "
                    f"--checkout {installed}" if _is_checkout(installed) else
                    "run it inside a clone of nnfast's repository, or pass --checkout FOLDER")
            raise CommandError(f"nnfast bench runs the benchmark suite of a source checkout (the "
                               f"benchmarks/ folder beside nnfast/), and {os.getcwd()} is not in "
                               f"one; {hint}")
    if importlib.util.find_spec("pytest_benchmark") is None:
        raise CommandError('nnfast bench needs pytest-benchmark: pip install "nnfast[test]"')
    if args.json:
        _check_output_folder(os.path.dirname(os.path.abspath(args.json)))
        json_path, scratch = os.path.abspath(args.json), None
    else:
        scratch = tempfile.TemporaryDirectory(prefix="nnfast-bench-")
        json_path = os.path.join(scratch.name, "bench.json")
    env = dict(os.environ)
    if args.quick:
        env["NNFAST_BENCH_QUICK"] = "1"
    pytest_args = ["benchmarks", "--benchmark-only", f"--benchmark-json={json_path}", "-q",
                   "-p", "no:cacheprovider"]
    if args.select:
        pytest_args += ["-k", args.select]
    # Not `python -m pytest`, which puts the checkout first on sys.path: its
    # nnfast/ (without compiled modules unless built in place) would then
    # shadow the installed package that the suite is meant to measure.
    command = [sys.executable, "-c", _RUN_PYTEST, *pytest_args]
    print(f"Running pytest {' '.join(pytest_args)} in {checkout}", flush=True)
    try:
        done = subprocess.run(command, cwd=checkout, env=env)
        if done.returncode == 5:
            matching = f" -k {args.select!r}" if args.select else ""
            raise CommandError(f"no benchmark matched{matching}")
        if done.returncode != 0:
            raise CommandError(f"the benchmark suite failed (pytest exit status {done.returncode})")
        print()
        print(_load_report(checkout).report(json_path))
    finally:
        if scratch is not None:
            scratch.cleanup()
    if args.json:
        print(f"\nResults kept in {json_path}")
    return 0


_RUN_PYTEST = "import sys, pytest; sys.path.remove(''); sys.exit(pytest.main(sys.argv[1:]))"


def _load_report(checkout):
    """The checkout's ``benchmarks/report.py`` as a module."""
    path = os.path.join(checkout, "benchmarks", "report.py")
    spec = importlib.util.spec_from_file_location("nnfast_benchmarks_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------- main
#: One registration function per subcommand, in the order ``--help`` lists them.
COMMANDS = [add_tour_command, add_demo_command, add_train_command, add_evaluate_command,
            add_datasets_command, add_bench_command, add_info_command]


def build_parser():
    """The ``nnfast`` argument parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="nnfast", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv=None):
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"nnfast {args.command}: error: {exc}", file=sys.stderr)
        return exc.status


if __name__ == "__main__":
    sys.exit(main())
