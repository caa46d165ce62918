"""What every section of the tour shares: its result, its context and its progress bar."""
import numbers
import os
import sys
from dataclasses import dataclass, field

__all__ = ["FigureRecord", "Table", "SectionResult", "SectionContext", "fmt"]


@dataclass
class FigureRecord:
    """One PNG of a section: its file name inside the output folder, a caption, its width.

    ``wide`` True gives the figure the whole width of the page (pictures with
    small print, such as a confusion matrix of long class names); None lets
    the report decide from the picture's shape.
    """

    file: str
    caption: str
    wide: bool = None


@dataclass
class Table:
    """A table of a section: a title, column names and rows of already formatted cells."""

    title: str
    columns: list
    rows: list
    note: str = ""


@dataclass
class SectionResult:
    """What a section leaves for the report.

    Attributes
    ----------
    key, title : str
        The section's name on the command line and its heading.
    summary : str
        One line for the terminal and the summary table.
    intro : str
        What the section shows, in a few sentences (plain text).
    figures : list of FigureRecord
    tables : list of Table
    notes : list of str
        Paragraphs after the tables: what to look for, caveats.
    files : list of str
        Data files the section wrote besides its figures (such as a CSV table).
    numbers : dict
        The headline figures, JSON-serialisable, for ``summary.json``.
    seconds : float
        Wall-clock time of the whole section.
    """

    key: str
    title: str
    summary: str = ""
    intro: str = ""
    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    files: list = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    seconds: float = 0.0


def fmt(value, digits=4):
    """A number as a table shows it: integers plainly, floats to ``digits`` significant digits."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != value:
            return "-"
        if value != 0 and (abs(value) >= 10 ** digits or abs(value) < 10 ** -(digits - 1)):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


class SectionContext:
    """Handed to each section's ``run``: where to write, which data, how big, and progress.

    Parameters
    ----------
    out_dir : str
        The tour's output folder (exists and is writable).
    data : TourData
        The image data set of the run.
    quick : bool
        Smaller models and fewer epochs.
    result : SectionResult
        The section's result, filled in by the section.
    bar : tqdm.tqdm or None
        The section's progress bar; ``step`` advances it.
    """

    def __init__(self, out_dir, data, quick, result, bar=None):
        self.out_dir = out_dir
        self.data = data
        self.quick = quick
        self.result = result
        self.bar = bar

    @property
    def full(self):
        """True on a full-size data set (MNIST or Fashion-MNIST rather than the sample)."""
        return self.data.full

    def size(self, quick, sample, full):
        """This run's setting: ``quick`` (on any data), ``sample`` or ``full`` (full-size data)."""
        if self.quick:
            return quick
        return full if self.full else sample

    def path(self, name):
        """The path of the output file ``name`` (a data file the report links to)."""
        self.result.files.append(name)
        return os.path.join(self.out_dir, name)

    def figure(self, name, caption, wide=None):
        """Register the PNG ``name`` with its caption; return the path to write it to."""
        self.result.figures.append(FigureRecord(name, caption, wide))
        return os.path.join(self.out_dir, name)

    def table(self, title, columns, rows, note=""):
        """Add a table of rows (cells are formatted with :func:`fmt`)."""
        self.result.tables.append(Table(title, list(columns), [[fmt(c) for c in row] for row in rows],
                                        note))

    def step(self, label=None):
        """Mark one step of the section done; ``label`` names the step that starts next."""
        if self.bar is not None:
            if label:
                self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(1)


def progress_bar(total, desc, enabled=True):
    """A tqdm bar on stderr for one stage of the tour (None when disabled)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True,
                bar_format="{desc:<14} {percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}] {postfix}")
