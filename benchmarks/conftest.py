"""Shared settings for the performance suite.

Run with ``pytest benchmarks/ --benchmark-only``.  ``NNFAST_BENCH_QUICK=1``
shrinks every workload so the suite can run once in CI (with
``--benchmark-disable``) and cannot rot; figures in RESULTS.md come from
full-size runs.
"""
import os

import pytest

import nnfast

QUICK = os.environ.get("NNFAST_BENCH_QUICK", "").strip() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def quick():
    """True when workloads should be shrunk to a smoke test."""
    return QUICK


@pytest.fixture(scope="session")
def size():
    """``size(full, small)``: the full workload size, or the small one in quick mode."""
    return lambda full, small: small if QUICK else full


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record what decides the speed of the products: BLAS builds, their kernels, threads.

    ``architecture`` is the kernel set each OpenBLAS runs (``OPENBLAS_CORETYPE``
    overrides the one it detects).
    """
    from threadpoolctl import threadpool_info

    machine_info["nnfast_threads"] = nnfast.get_num_threads()
    machine_info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE")
    machine_info["blas"] = [
        {key: lib.get(key) for key in ("internal_api", "version", "architecture", "num_threads",
                                       "filepath")}
        for lib in threadpool_info() if lib.get("user_api") == "blas"]
