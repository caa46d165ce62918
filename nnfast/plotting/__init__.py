"""Figures for looking inside models and their training.

Every function returns a matplotlib ``Figure`` and, given ``path``, also
writes it as a PNG; nothing here opens a window.
"""
import matplotlib

matplotlib.use("Agg", force=False)

__all__ = []
