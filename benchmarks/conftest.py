"""Shared settings for the performance suite.

Run with ``pytest benchmarks/ --benchmark-only``.  ``NNFAST_BENCH_QUICK=1``
shrinks every workload so the suite can run once in CI (with
``--benchmark-disable``) and cannot rot; figures in RESULTS.md come from
full-size runs.
"""
import os

import pytest

QUICK = os.environ.get("NNFAST_BENCH_QUICK", "").strip() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def quick():
    """True when workloads should be shrunk to a smoke test."""
    return QUICK


@pytest.fixture(scope="session")
def size():
    """``size(full, small)``: the full workload size, or the small one in quick mode."""
    return lambda full, small: small if QUICK else full
