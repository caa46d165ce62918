"""Checks shared by the figure tests: a real PNG on disk, no text outside the figure or overlapping."""
from matplotlib.backends.backend_agg import FigureCanvasAgg

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.stat().st_size > 2000, f"{path.name} is nearly empty"
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE


def assert_nothing_clipped(fig, tolerance=2.0):
    """Every axes (with its labels, tick labels, legends and texts) and figure text lies inside the figure."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox
    parts = [(f"axes {ax.get_title() or ax.get_ylabel()!r}", ax.get_tightbbox(renderer))
             for ax in fig.axes if ax.get_visible()]
    parts += [(f"text {t.get_text()!r}", t.get_window_extent(renderer))
              for t in fig.texts if t.get_visible() and t.get_text()]
    parts += [("a figure legend", legend.get_window_extent(renderer)) for legend in fig.legends]
    for what, ext in parts:
        assert (ext.x0 >= box.x0 - tolerance and ext.y0 >= box.y0 - tolerance
                and ext.x1 <= box.x1 + tolerance and ext.y1 <= box.y1 + tolerance), \
            f"{what} is cut off at the figure's edge: {ext} outside {box}"


def assert_tick_labels_apart(ax, axis="x"):
    """The tick labels of one axis do not overlap each other."""
    FigureCanvasAgg(ax.figure).draw()
    labels = [t for t in getattr(ax, f"get_{axis}ticklabels")() if t.get_text()]
    boxes = [t.get_window_extent() for t in labels]
    for a, b, ta, tb in zip(boxes, boxes[1:], labels, labels[1:]):
        assert not a.overlaps(b), f"tick labels {ta.get_text()!r} and {tb.get_text()!r} overlap"
