"""Axis helpers shared by the figures the tour draws itself."""
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

__all__ = ["log_axis", "integer_axis"]


def log_axis(ax, axis="y", subs=(1.0, 2.0, 5.0)):
    """A log scale labelled 0.01, 0.02, 0.05, 0.1 ... (``subs`` of each decade), not powers of ten."""
    getattr(ax, f"set_{axis}scale")("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def integer_axis(ax, axis="x"):
    """Ticks at whole numbers only (epochs, counts)."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
