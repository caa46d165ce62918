"""``nnfast tour``: the quick tour end to end, its self-contained report, its error paths."""
import json
import os
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest

from nnfast import tour
from nnfast.datasets import _sources
from nnfast.tour import _cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Links(HTMLParser):
    """Every URL an HTML page refers to, the ids it defines and the tags it uses."""

    def __init__(self):
        super().__init__()
        self.urls, self.ids, self.tags, self.styles = [], set(), set(), []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action") and value is not None:
                self.urls.append(value)
            if name == "id":
                self.ids.add(value)
            if name == "style":
                self.styles.append(value)

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


@pytest.fixture(scope="module")
def quick_tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    lines = []
    result = tour.run_tour(out, quick=True, echo=lines.append, progress=False)
    return result, out, lines


def test_quick_tour_runs_every_available_section(quick_tour):
    result, out, lines = quick_tour
    available, left_out = tour.available_sections()
    assert [s.key for s in result.sections] == available
    assert set(available) | set(left_out) == set(tour.SECTIONS)
    assert {"perceptron", "rbm"} <= set(available)
    # One summary line per section on the terminal, naming it and its time.
    assert len(lines) == len(available)
    for line, section in zip(lines, result.sections):
        assert line.startswith(f"[{section.key}] ") and line.endswith(" s)")
        assert section.summary and section.intro and section.seconds > 0


def test_quick_tour_writes_every_expected_file(quick_tour):
    result, out, _ = quick_tour
    figures = [f.file for s in result.sections for f in s.figures]
    assert len(figures) == len(set(figures)) >= 2 * len(result.sections)
    data_files = [name for s in result.sections for name in s.files]
    assert set(result.files) == set(figures) | set(data_files) | {"index.html", "report.md",
                                                                   "summary.json"}
    assert sorted(os.listdir(out)) == sorted(result.files)
    for name in figures:
        with open(out / name, "rb") as f:
            assert f.read(8) == PNG_MAGIC, name
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["sections"]) == [s.key for s in result.sections]
    assert summary["quick"] is True and summary["dataset"] == "sample"
    assert 0.5 < summary["sections"]["classifier"]["numbers"]["test_accuracy"] <= 1.0


def test_html_refers_only_to_files_inside_its_folder(quick_tour):
    result, out, _ = quick_tour
    page = (out / "index.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    assert not {"script", "link", "iframe", "object", "embed"} & parser.tags
    assert not any("url(" in css or "@import" in css for css in parser.styles)
    referenced = set()
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        if not parts.path:
            assert parts.fragment in parser.ids, url
            continue
        path = unquote(parts.path)
        assert not os.path.isabs(path) and ".." not in path.split("/"), url
        assert (out / path).is_file(), url
        referenced.add(path)
    # Every file of the tour is linked from the page (the page itself aside).
    assert referenced == set(os.listdir(out)) - {"index.html"}
    # The page names each section and the machine it ran on.
    for section in result.sections:
        assert f'id="{section.key}"' in page
    assert result.machine["cpu"] in page


def test_markdown_report_has_numbers_timings_and_machine(quick_tour):
    result, out, _ = quick_tour
    text = (out / "report.md").read_text(encoding="utf-8")
    for section in result.sections:
        assert f"## {section.title}" in text and f"{section.seconds:.1f}" in text
        for figure in section.figures:
            assert f"]({figure.file})" in text
    for key in ("cpu", "cores", "nnfast threads", "numpy"):
        assert f"| {key} | {result.machine[key]} |" in text


def test_a_section_whose_model_is_missing_is_left_out(monkeypatch, tmp_path):
    module = tour._module("cnn")
    monkeypatch.setattr(module, "NEEDS", module.NEEDS + (("models", "NoSuchModel"),))
    available, left_out = tour.available_sections()
    assert "cnn" not in available and left_out["cnn"] == "nnfast.models.NoSuchModel"
    with pytest.raises(ValueError, match="section 'cnn' needs nnfast.models.NoSuchModel"):
        tour.run_tour(tmp_path / "out", sections=["cnn"], echo=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_sections_may_be_listed_with_commas_and_run_in_tour_order():
    keys, _ = tour._parse_sections(["rbm,perceptron", "mlp", "perceptron"])
    assert keys == ["perceptron", "mlp", "rbm"]


@pytest.mark.parametrize("args, message", [
    (["--sections", "perceptron", "gan"], "unknown section 'gan'"),
    (["--dataset", "cifar10"], "unknown dataset 'cifar10'"),
    (["--sections", ","], "no section given"),
])
def test_bad_arguments_fail_before_anything_is_written(args, message, tmp_path, capsys):
    out = tmp_path / "report"
    assert _cli.main(["--out", str(out), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnfast tour: error: ") and message in err
    assert not out.exists()


def test_unwritable_output_folder_fails_clearly(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert _cli.main(["--out", str(blocker / "report"), "--sections", "perceptron"]) == 1
    err = capsys.readouterr().err
    assert "cannot write into the output folder" in err and "a-file" in err
    assert _cli.main(["--out", str(blocker), "--sections", "perceptron"]) == 1
    assert "exists and is not a folder" in capsys.readouterr().err


def test_missing_data_fails_clearly(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("NNFAST_DATA", str(empty))
    monkeypatch.setenv("NNFAST_CACHE", str(empty))
    monkeypatch.setenv("NNFAST_OFFLINE", "1")
    monkeypatch.setattr(_sources, "SYSTEM_DATA_DIRS", [])
    out = tmp_path / "report"
    code = _cli.main(["--out", str(out), "--dataset", "fashion-mnist", "--data-dir", str(empty),
                      "--sections", "classifier"])
    assert code == 1
    err = capsys.readouterr().err
    assert "nnfast tour: error:" in err and "train-images-idx3-ubyte" in err
    assert "--dataset sample" in err
    assert not any(name.endswith((".png", ".html")) for name in os.listdir(out))


def test_help_lists_sections_and_datasets(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in (*tour.SECTIONS, *tour.DATASETS):
        assert name in text


def test_quick_mode_trains_on_the_first_images_of_a_full_size_set():
    from nnfast.tour._data import load_tour_data

    data = load_tour_data("sample")
    head = data.head(100)
    assert head.X_train.shape == (100, 784) and len(head.y_train) == 100
    assert head.X_test is data.X_test and "first 100 training images" in head.source
    assert data.head(len(data.X_train)) is data
    assert data.images_test.shape == (400, 28, 28)


def test_each_section_shows_a_progress_bar_on_stderr(tmp_path, capsys):
    result = tour.run_tour(tmp_path, quick=True, sections="perceptron")
    captured = capsys.readouterr()
    assert "perceptron" in captured.err and "2/2" in captured.err
    assert captured.out.startswith("[perceptron] learned AND-2")
    assert [s.key for s in result.sections] == ["perceptron"]
