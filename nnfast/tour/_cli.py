"""The ``tour`` subcommand of the ``nnfast`` command line."""
import argparse
import os
import sys

from . import DATASETS, SECTIONS

__all__ = ["add_tour_command", "run_tour_command"]

_DESCRIPTION = """\
Run every classic exercise of the course and write a report: the perceptron on
logic gates and its capacity, MLPs on XOR, parity and a regression, an MLP
classifier with its learning curves and errors, an RBM, the CNN against the
MLP, and whatever else this installation has.  Writes PNG figures, index.html
(open it in any browser, offline), report.md and summary.json into --out.
"""


def add_tour_command(subparsers):
    """Register ``nnfast tour`` on an argparse subparsers object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``tour`` parser; its ``func`` default is :func:`run_tour_command`,
        which takes the parsed arguments and returns the exit status.
    """
    parser = subparsers.add_parser(
        "tour", help="run every exercise of the course and write an HTML report",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", "-o", default="nnfast-tour", metavar="DIR",
                        help="folder for the figures and reports (default: %(default)s)")
    parser.add_argument("--dataset", default="sample", metavar="NAME",
                        help=f"images to train on: {', '.join(DATASETS)} (default: sample, the "
                             "2,000 digits bundled with nnfast; the others are the full-size "
                             "sets and train full-size models)")
    parser.add_argument("--data-dir", metavar="FOLDER",
                        help="folder searched first for the MNIST or Fashion-MNIST files")
    parser.add_argument("--quick", action="store_true",
                        help="smaller models and fewer epochs (under a minute on the sample)")
    parser.add_argument("--sections", nargs="+", metavar="SECTION",
                        help=f"run only these sections (names or a comma-separated list): "
                             f"{', '.join(SECTIONS)}; all available ones by default")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars on stderr")
    parser.set_defaults(func=run_tour_command)
    return parser


def run_tour_command(args, echo=print):
    """Run the tour for parsed ``args``; report errors on stderr.

    Parameters
    ----------
    args : argparse.Namespace
        From a parser set up by :func:`add_tour_command`.
    echo : callable, default=print

    Returns
    -------
    int
        0 on success, 2 for a wrong command line (an unknown section or
        dataset), 1 when the tour cannot be carried out (a missing data set,
        an output folder that cannot be written), as for every ``nnfast``
        subcommand.
    """
    from ..datasets import DatasetNotFoundError
    from . import available_sections, run_tour

    try:
        tour = run_tour(args.out, dataset=args.dataset, quick=args.quick, sections=args.sections,
                        echo=echo, data_dir=args.data_dir, progress=not args.no_progress)
    except DatasetNotFoundError as exc:
        print(f"nnfast tour: error: {exc}\nHere --data-dir FOLDER gives the folder (path=FOLDER "
              "above); `--dataset sample` needs no files.", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"nnfast tour: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"nnfast tour: error: {exc}", file=sys.stderr)
        return 2
    _, left_out = available_sections()
    for key, needs in left_out.items():
        echo(f"[{key}] left out: this installation has no {needs}")
    echo(f"\nThe tour took {tour.seconds:.1f} s. Report: {os.path.join(tour.out_dir, 'index.html')}")
    return 0


def main(argv=None):
    """Parse ``argv`` as ``nnfast tour`` would and run it; returns the exit status."""
    parser = argparse.ArgumentParser(prog="nnfast")
    add_tour_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["tour", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
