"""Figures for looking inside models and their training.

Every function returns a :class:`matplotlib.figure.Figure` built without
pyplot (so no window opens and no global backend is changed) and, given
``path``, also writes it as a PNG.
"""
__all__ = []
