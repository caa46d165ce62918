"""Demonstrations run by ``nnfast demo``: each trains a model on the bundled
digits sample (or a synthetic exercise), writes its figures and returns a
summary dict."""
