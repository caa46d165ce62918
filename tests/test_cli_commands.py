"""The ``nnfast`` subcommands train, evaluate, datasets and bench: their results and every error path."""
import os
import subprocess
import sys

import numpy as np
import pytest

from nnfast import MLPClassifier, MLPRegressor, cli, load_model
from nnfast.datasets import _sources, load_digits_sample

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, capsys):
    """``(exit status, stdout, stderr)`` of ``nnfast argv``."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse: --help, or a wrong command line
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No dataset anywhere: an empty NNFAST_DATA folder, an empty cache, no system folders, offline."""
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    monkeypatch.setenv("NNFAST_DATA", str(empty))
    monkeypatch.setenv("NNFAST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NNFAST_OFFLINE", "1")
    monkeypatch.setattr(_sources, "SYSTEM_DATA_DIRS", [])
    return empty


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small MLP trained on the bundled sample by ``nnfast train``, and its output."""
    path = tmp_path_factory.mktemp("cli") / "models" / "mlp.nnf"
    argv = ["train", "mlp", "--dataset", "sample", "--hidden-layer-sizes", "32", "--epochs", "8",
            "--batch-size", "32", "--learning-rate", "3e-3", "--save", str(path)]
    status = cli.main(argv)
    return path, status


def test_help_everywhere(capsys):
    for argv in ([], ["train"], ["evaluate"], ["datasets"], ["bench"], ["demo"], ["info"]):
        status, out, _ = run(argv + ["--help"], capsys)
        assert status == 0 and out.startswith("usage: nnfast"), argv
    _, out, _ = run(["train", "--help"], capsys)
    assert "--hidden-layer-sizes" in out and "--filters" in out and "mlp (default: (100,))" in out
    done = subprocess.run([sys.executable, "-m", "nnfast", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("demo", "train", "evaluate", "datasets", "bench", "info"):
        assert command in done.stdout


def test_wrong_command_lines_exit_2_with_a_message(tmp_path, capsys):
    save = str(tmp_path / "m.nnf")
    cases = [
        ([], "required"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "svm", "--dataset", "sample", "--save", save], "invalid choice: 'svm'"),
        (["train", "mlp", "--dataset", "cifar", "--save", save], "invalid choice: 'cifar'"),
        (["train", "mlp", "--dataset", "sample"], "--save"),
        (["train", "mlp", "--save", save], "--dataset"),
        (["train", "mlp", "--dataset", "sample", "--save", save, "--frobnicate", "3"],
         "unrecognized arguments: --frobnicate"),
        (["train", "mlp", "--dataset", "sample", "--save", save, "--filters", "8"],
         "mlp (MLPClassifier) has no parameter(s) --filters"),
        (["train", "mlp", "--dataset", "sample", "--save", save, "--optimizer", "nope"],
         "bad hyperparameter: optimizer must be one of"),
        (["train", "cnn", "--dataset", "sample", "--save", save, "--epochs", "0"],
         "bad hyperparameter: epochs must be > 0"),
        (["train", "mlp", "--dataset", "sample", "--save", save, "--limit", "-5"],
         "expected a positive integer"),
        (["evaluate", save, "--dataset", "kmnist"], "invalid choice: 'kmnist'"),
        (["evaluate", save, "--dataset", "sample", "--confidence", "1.5"], "--confidence"),
        (["evaluate", save, "--dataset", "sample", "--method", "bootstrap"], "invalid choice"),
        (["demo", "svm"], "unknown demo"),
        (["datasets", "--everything"], "unrecognized arguments"),
    ]
    for argv, message in cases:
        status, out, err = run(argv, capsys)
        assert status == 2, argv
        assert message in err, (argv, err)
    assert not os.path.exists(save)


def test_output_folder_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status, _, err = run(["train", "mlp", "--dataset", "sample", "--epochs", "1",
                          "--save", str(blocker / "sub" / "m.nnf")], capsys)
    assert status == 1 and "cannot create the output folder" in err
    status, _, err = run(["train", "mlp", "--dataset", "sample", "--epochs", "1",
                          "--save", str(tmp_path)], capsys)
    assert status == 1 and "is a folder" in err
    status, _, err = run(["demo", "--quick", "-o", str(blocker)], capsys)
    assert status == 1 and "not a folder" in err
    status, _, err = run(["bench", "--json", str(blocker / "b.json"), "--checkout", ROOT], capsys)
    assert status == 1 and "is not a folder" in err


def test_missing_data_says_where_it_looked(no_data, tmp_path, capsys):
    for dataset in ("mnist", "fashion-mnist"):
        status, _, err = run(["train", "mlp", "--dataset", dataset, "--save",
                              str(tmp_path / "m.nnf")], capsys)
        assert status == 1
        assert "not found" in err and str(no_data) in err and "nnfast datasets" in err
    status, _, err = run(["evaluate", str(tmp_path / "m.nnf"), "--dataset", "mnist"], capsys)
    assert status == 1 and "no model file" in err


def test_train_then_evaluate_on_the_bundled_sample(trained, capsys):
    path, status = trained
    assert status == 0 and path.is_file()
    model = load_model(path)
    assert isinstance(model, MLPClassifier) and model.hidden_layer_sizes == 32
    assert model.random_state == 0 and model.epochs == 8
    status, out, err = run(["evaluate", str(path), "--dataset", "sample"], capsys)
    assert status == 0, err
    assert "400 images" in out and "95% wilson interval" in out
    # The printed accuracy is the model's own on the 400 held-out digits.
    images, labels = load_digits_sample(as_float=True, flatten=True)
    test = np.random.default_rng(0).permutation(len(images))[1600:]
    accuracy = np.mean(model.predict(images[test]) == labels[test])
    assert accuracy > 0.8
    assert f"accuracy {accuracy:.2%}" in out
    for digit in "0123456789":
        assert any(line.split()[:1] == [digit] for line in out.splitlines())
    assert "macro avg" in out
    status, out, _ = run(["evaluate", str(path), "--dataset", "sample", "--confidence", "0.9",
                          "--method", "normal"], capsys)
    assert status == 0 and "90% normal interval" in out


def test_evaluate_refuses_what_it_cannot_test(tmp_path, capsys):
    junk = tmp_path / "junk.nnf"
    junk.write_bytes(b"this is not a model")
    status, _, err = run(["evaluate", str(junk), "--dataset", "sample"], capsys)
    assert status == 1 and "cannot read" in err
    rng = np.random.default_rng(0)
    regressor = tmp_path / "reg.nnf"
    MLPRegressor(hidden_layer_sizes=(2,), epochs=1).fit(rng.normal(size=(20, 3)),
                                                         rng.normal(size=20)).save(regressor)
    status, _, err = run(["evaluate", str(regressor), "--dataset", "sample"], capsys)
    assert status == 1 and "not a fitted classifier" in err
    narrow = tmp_path / "narrow.nnf"
    MLPClassifier(hidden_layer_sizes=(2,), epochs=1).fit(rng.normal(size=(20, 4)),
                                                         np.arange(20) % 10).save(narrow)
    status, _, err = run(["evaluate", str(narrow), "--dataset", "sample"], capsys)
    assert status == 1 and "takes 4 values per sample" in err


def test_datasets_lists_what_is_found_and_how_to_get_the_rest(no_data, capsys):
    status, out, _ = run(["datasets"], capsys)
    assert status == 0
    assert "sample: bundled with nnfast, 2,000" in out
    assert "mnist: not found" in out and "fashion-mnist: not found" in out
    assert f"{no_data / 'mnist'} ($NNFAST_DATA): no such folder" in out
    assert "NNFAST_OFFLINE is set" in out and "--data-dir FOLDER" in out
    assert "dataset-fashion-mnist" in out  # the Debian package
    # Files of the test split in place: listed where found; --verify reads and refuses them.
    folder = no_data / "mnist"
    folder.mkdir()
    for stem in _sources.SPLIT_FILES["test"]:
        (folder / stem).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    status, out, _ = run(["datasets"], capsys)
    assert status == 0 and "mnist: partly found" in out
    assert f"test: {folder} ($NNFAST_DATA)" in out and "train: missing" in out
    status, out, _ = run(["datasets", "--verify"], capsys)
    assert status == 1 and "FAILED" in out


def test_datasets_verifies_real_files(fashion_mnist, capsys):
    status, out, _ = run(["datasets", "--verify"], capsys)
    assert status in (0, 1)  # MNIST's training files may be absent; Fashion-MNIST is present
    assert "fashion-mnist: found" in out and "verified: 60,000 images" in out


def test_bench_needs_a_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(["bench"], capsys)
    assert status == 1 and "source checkout" in err and "--checkout" in err
    status, _, err = run(["bench", "--checkout", str(tmp_path)], capsys)
    assert status == 1 and "not an nnfast source checkout" in err


def test_bench_runs_a_benchmark_and_prints_the_ratio_table(tmp_path, capsys):
    json_path = tmp_path / "bench.json"
    status, out, err = run(["bench", "--checkout", ROOT, "--quick", "-k",
                            "capacity_nnfast_one_thread", "--json", str(json_path)], capsys)
    assert status == 0, err
    assert "### perceptron-capacity" in out
    assert "| test_capacity_nnfast_one_thread |" in out and "1.00×" in out
    assert json_path.is_file()


def test_train_and_evaluate_a_cnn(tmp_path, capsys):
    path = tmp_path / "cnn.nnf"
    status, out, err = run(["train", "cnn", "--dataset", "sample", "--architecture", "tinyvgg",
                            "--filters", "4", "--epochs", "1", "--limit", "300",
                            "--save", str(path)], capsys)
    assert status == 0, err
    assert "on 300 sample images" in out and "1 epoch in" in out
    status, out, err = run(["evaluate", str(path), "--dataset", "sample"], capsys)
    assert status == 0, err
    assert "CNNClassifier" in out and "macro avg" in out
