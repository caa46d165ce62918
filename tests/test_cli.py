"""The ``nnfast`` command: demos write their figures and a summary."""
import json

from nnfast import cli


def test_demo_quick_writes_figures_and_summary(tmp_path, capsys):
    assert cli.main(["demo", "--quick", "-o", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == {"mlp", "perceptron", "rbm", "cnn"}
    assert summary["mlp"]["test_accuracy"] > 0.8
    assert summary["cnn"]["test_accuracy"] > 0.8
    for result in summary.values():
        for path in result["files"].values():
            with open(path, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "summary.md" in {p.name for p in tmp_path.iterdir()}
    assert "Figures and summary written" in capsys.readouterr().out


def test_info_describes_the_installation(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "OpenMP compiled in" in out and "threads" in out


def test_the_tour_is_the_first_command(capsys):
    assert cli.COMMANDS[0].__name__ == "add_tour_command"
    assert "tour" in cli.build_parser().format_help()
    assert cli.main(["tour", "--dataset", "nowhere"]) == 2
    assert "unknown dataset 'nowhere'" in capsys.readouterr().err
