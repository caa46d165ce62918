"""Models and estimators (each in its own private module, re-exported here)."""
__all__ = []
