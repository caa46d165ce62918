"""Datasets: MNIST and Fashion-MNIST loaders, a bundled digits sample, IDX files
and small synthetic problems.

The loaders look for the standard IDX files on disk (an explicit folder,
``$NNFAST_DATA``, the user cache, system folders such as Debian's
``/usr/share/datasets``), download them into the cache when allowed, and
verify them against known digests.  :func:`load_digits_sample` needs no
files at all.
"""
from ._idx import IDX_DTYPES, read_idx, write_idx
from ._sample import load_digits_sample
from ._sources import (
    DEFAULT_URLS,
    FILE_RECORDS,
    SYSTEM_DATA_DIRS,
    DatasetIntegrityError,
    DatasetNotFoundError,
    FileRecord,
    dataset_search_path,
    get_cache_dir,
    load_fashion_mnist,
    load_mnist,
)
from ._synthetic import LOGIC_GATES, logic_gate, parity, xyz_function, xyz_regression

__all__ = [
    "load_mnist", "load_fashion_mnist", "load_digits_sample",
    "read_idx", "write_idx", "IDX_DTYPES",
    "logic_gate", "parity", "xyz_regression", "xyz_function", "LOGIC_GATES",
    "DatasetNotFoundError", "DatasetIntegrityError", "FileRecord", "FILE_RECORDS",
    "DEFAULT_URLS", "SYSTEM_DATA_DIRS", "dataset_search_path", "get_cache_dir",
]
