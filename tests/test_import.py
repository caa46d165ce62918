"""Importing nnfast stays light: matplotlib loads only when a figure is wanted."""
import subprocess
import sys
import tempfile

import pytest


def _run(code):
    """Run ``code`` in a fresh interpreter (this one has matplotlib loaded already).

    It runs outside the checkout, so that it imports the installed package
    (with its compiled modules), not the source tree.
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir())
    assert done.returncode == 0, done.stderr


def test_import_nnfast_does_not_import_matplotlib():
    _run("import nnfast, sys; assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules "
         "if m.startswith('matplotlib'))")


def test_info_command_does_not_import_matplotlib():
    _run("import sys, contextlib, io\n"
         "from nnfast import cli\n"
         "with contextlib.redirect_stdout(io.StringIO()):\n"
         "    cli.main(['info'])\n"
         "assert 'matplotlib' not in sys.modules")


def test_plotting_is_an_attribute_on_first_use():
    _run("import sys, nnfast\n"
         "fig = nnfast.plotting.plot_history({'loss': [1.0, 0.5]})\n"
         "assert type(fig).__module__ == 'matplotlib.figure'\n"
         "assert sys.modules['nnfast.plotting'] is nnfast.plotting")


@pytest.mark.parametrize("statement", [
    "from nnfast.plotting import plot_history, plot_rbm_filters",
    "from nnfast import plotting; plotting.plot_capacity",
    "import nnfast.plotting; nnfast.plotting.plot_confusion_matrix",
])
def test_plotting_imports_by_every_spelling(statement):
    _run(statement)


def test_unknown_attribute_still_raises():
    import nnfast

    with pytest.raises(AttributeError, match="no attribute 'plotter'"):
        nnfast.plotter


def test_the_heavier_modules_load_on_first_use():
    import nnfast

    assert nnfast.experiments.sweep is not None
    assert nnfast.plotting.plot_history is not None
