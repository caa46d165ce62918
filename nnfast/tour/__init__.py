"""``nnfast tour``: every classic exercise of the course, run end to end into one report.

:func:`run_tour` trains each model that this installation has (the
perceptron, MLPs, the RBM, the CNN, autoencoders) on its exercise or on an
image data set, and writes PNG figures, ``index.html`` (one page that works
offline), ``report.md`` and ``summary.json`` into one folder.  Each section
of the tour is a module of this package with ``KEY``, ``TITLE``, ``NEEDS``
(what it uses of nnfast, as (module, name) pairs), ``n_steps(ctx)`` and
``run(ctx)``; a section that needs what the installation lacks is left out.
"""
import importlib
import os
import tempfile
import time
from dataclasses import dataclass, field

from ._common import SectionContext, SectionResult, progress_bar
from ._data import DATASETS, load_tour_data

__all__ = ["run_tour", "TourResult", "SECTIONS", "DATASETS", "available_sections"]

#: Training images of a quick tour on a full-size data set (the first ones).
QUICK_TRAIN_IMAGES = 10_000

#: Every section of the tour in the order it runs: command-line name to module.
SECTIONS = {
    "perceptron": "_perceptron",
    "mlp": "_mlp_exercises",
    "classifier": "_classifier",
    "lr-finder": "_lr_finder",
    "sweep": "_sweep",
    "rbm": "_rbm",
    "cnn": "_cnn",
    "autoencoder": "_autoencoder",
    "vae": "_vae",
}


def _module(key):
    return importlib.import_module(f".{SECTIONS[key]}", __name__)


def _lacks(section):
    """The first of a section module's ``NEEDS`` that nnfast lacks, as a dotted name, or None."""
    for module, name in section.NEEDS:
        if not hasattr(importlib.import_module(f"nnfast.{module}"), name):
            return f"nnfast.{module}.{name}"
    return None


def available_sections():
    """The sections this installation can run, and what the others lack.

    Returns
    -------
    available : list of str
        Section names, in tour order.
    missing : dict of str to str
        For each section left out, what it needs.
    """
    available, missing = [], {}
    for key in SECTIONS:
        lack = _lacks(_module(key))
        if lack:
            missing[key] = lack
        else:
            available.append(key)
    return available, missing


@dataclass
class TourResult:
    """What :func:`run_tour` did.

    Attributes
    ----------
    out_dir : str
        The output folder (absolute).
    dataset : str
    quick : bool
    sections : list of SectionResult
        In the order they ran.
    left_out : dict of str to str
        Sections this installation cannot run, with what they need.
    machine : dict of str to str
        CPU, cores, threads and versions.
    seconds : float
        Wall-clock time of the whole tour.
    files : list of str
        Every file written, relative to ``out_dir``.
    """

    out_dir: str
    dataset: str
    quick: bool
    sections: list = field(default_factory=list)
    left_out: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    seconds: float = 0.0
    files: list = field(default_factory=list)

    @property
    def index_html(self):
        """Path of the HTML report."""
        return os.path.join(self.out_dir, "index.html")

    @property
    def report_md(self):
        """Path of the Markdown report."""
        return os.path.join(self.out_dir, "report.md")


def _parse_sections(sections):
    available, missing = available_sections()
    if sections is None:
        return available, missing
    if isinstance(sections, str):
        sections = [sections]
    chosen = []
    for entry in sections:
        if not isinstance(entry, str):
            raise TypeError(f"sections must be names (str), got {entry!r}")
        for name in (part.strip() for part in entry.split(",")):
            if not name:
                continue
            if name not in SECTIONS:
                raise ValueError(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
            if name in missing:
                raise ValueError(f"section {name!r} needs {missing[name]}, which this "
                                 f"installation lacks; available: {', '.join(available)}")
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise ValueError(f"no section given; choose from {', '.join(available)}")
    return [key for key in SECTIONS if key in chosen], missing


def _check_out_dir(out_dir):
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f"the output folder {out_dir} exists and is not a folder")
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise PermissionError(f"cannot write into the output folder {out_dir}: "
                              f"{exc.strerror or exc}") from exc
    return out_dir


def _run_section(key, out_dir, data, quick, progress):
    """Run one section with its progress bar; return its filled-in result."""
    module = _module(key)
    result = SectionResult(key, module.TITLE)
    ctx = SectionContext(out_dir, data, quick, result)
    bar = ctx.bar = progress_bar(module.n_steps(ctx), key, progress)
    start = time.perf_counter()
    try:
        module.run(ctx)
    finally:
        if bar is not None:
            bar.close()
    result.seconds = time.perf_counter() - start
    return result


def run_tour(out_dir, dataset="sample", quick=False, sections=None, echo=print, *,
             data_dir=None, progress=True):
    """Run the tour and write its report.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for the figures and reports; created when missing.
    dataset : {"sample", "mnist", "fashion-mnist"}, default="sample"
        The images of the classifier, RBM, CNN and later sections: the 2,000
        digits bundled with nnfast (no files needed), or the full-size data
        sets (60,000 training and 10,000 test images, larger models).
    quick : bool, default=False
        Smaller models and fewer epochs, and on a full-size data set only
        the first :data:`QUICK_TRAIN_IMAGES` training images: a smoke test
        (with the sample it takes well under a minute on two cores).
    sections : list of str, str or None
        Which sections to run (names of :data:`SECTIONS`, comma-separated
        strings allowed); None runs every section this installation has.
    echo : callable, default=print
        Receives one line per section (its summary) and the closing lines;
        pass ``lambda line: None`` for silence.
    data_dir : str or None
        A folder searched first for the MNIST or Fashion-MNIST files.
    progress : bool, default=True
        Show a progress bar per section on stderr.

    Returns
    -------
    TourResult

    Raises
    ------
    ValueError
        For an unknown data set or section, or a section whose models this
        installation lacks.
    PermissionError, NotADirectoryError
        When ``out_dir`` cannot be created or written.
    nnfast.datasets.DatasetNotFoundError
        When a full-size data set's files are missing.
    """
    from threadpoolctl import threadpool_limits

    from ._machine import machine_info
    from ._report import write_reports

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    keys, left_out = _parse_sections(sections)
    out_dir = _check_out_dir(out_dir)
    data = load_tour_data(dataset, data_dir)
    if quick:
        data = data.head(QUICK_TRAIN_IMAGES)
    tour = TourResult(out_dir, dataset, bool(quick), left_out=left_out, machine=machine_info())
    tour.machine["BLAS in the tour"] = ("one thread for the decompositions and products outside "
                                        "nnfast's models, which train on nnfast's threads")
    start = time.perf_counter()
    # nnfast's models hold BLAS to one thread while they train.  The tour's own linear algebra
    # (PCA of a few thousand images, projections) is small: on one thread it costs little
    # more, and on a machine whose cores are busy it spares BLAS threads spinning while they
    # wait for each other (a PCA of 1,600 images took 15 s instead of 1 s at a load of 12).
    with threadpool_limits(limits=1, user_api="blas"):
        for key in keys:
            tour.sections.append(_run_section(key, out_dir, data, bool(quick), progress))
            section = tour.sections[-1]
            echo(f"[{key}] {section.summary} ({section.seconds:.1f} s)")
    tour.seconds = time.perf_counter() - start
    tour.files = write_reports(tour, data)
    return tour
