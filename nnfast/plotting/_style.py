"""Shared figure helpers: one look for every nnfast figure."""
import os

from matplotlib.figure import Figure

#: Colours used across figures (colour-blind safe).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def new_figure(width=6.4, height=4.0, **kwargs):
    """A pyplot-free figure with constrained layout."""
    return Figure(figsize=(width, height), dpi=110, layout="constrained", **kwargs)


def style_axes(ax, title=None, xlabel=None, ylabel=None, grid=True):
    """Titles, labels, a light grid and no top/right spines."""
    if title:
        ax.set_title(title, fontsize=11, fontweight="bold")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if grid:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def save(fig, path):
    """Write ``fig`` as a PNG when ``path`` is given; return the figure."""
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=fig.dpi, facecolor="white")
    return fig
