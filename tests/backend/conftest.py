"""Fixtures shared by the backend tests."""
import pytest

from nnfast import _simd


@pytest.fixture(params=[0, 1, 2], ids=["baseline", "avx2", "avx512"])
def simd(request):
    """Run the kernels of ``nnfast._simd`` compiled for one instruction set."""
    level = _simd.select_simd_kernels(request.param)
    try:
        if level != request.param:
            pytest.skip(f"the CPU lacks instruction-set level {request.param}")
        yield level
    finally:
        _simd.select_simd_kernels()
