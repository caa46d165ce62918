"""Choosing backends and thread counts."""
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import nnfast
from nnfast.backend import Ops, get_ops, resolve_ops, threads_for
from nnfast.backend import _threads
from nnfast.backend.cpu_ops import CpuOps
from nnfast.layers import Dense


def test_default_backend_is_the_compiled_cpu_one():
    assert isinstance(nnfast.get_current_ops(), CpuOps)
    assert get_ops("cpu") is get_ops("CPU")
    assert type(get_ops("numpy")) is Ops


def test_use_backend_is_temporary_and_set_backend_persists():
    with nnfast.use_backend("numpy") as ops:
        assert ops.name == "numpy" and nnfast.get_current_ops() is ops
    assert nnfast.get_current_ops().name == "cpu"
    nnfast.set_backend("numpy")
    try:
        assert nnfast.get_current_ops().name == "numpy"
        model = nnfast.Sequential([Dense(2, input_dim=3)])
        model.build(3)
        assert model.ops.name == "numpy"
    finally:
        nnfast.set_backend("cpu")


def test_per_model_device_and_ops_instances():
    model = nnfast.Sequential([Dense(2, input_dim=3)], device="numpy")
    model.build(3)
    assert model.ops.name == "numpy"
    ops = Ops()
    assert resolve_ops(ops) is ops and resolve_ops(None) is nnfast.get_current_ops()


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        nnfast.set_backend("tpu")
    with pytest.raises(TypeError, match="backend must be"):
        get_ops(3)


def test_gpu_without_cupy_or_gpu_is_a_clear_error():
    try:
        import cupy  # noqa: F401
        has_gpu = cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        has_gpu = False
    if has_gpu:
        assert get_ops("gpu").xp.__name__ == "cupy"
    else:
        with pytest.raises(RuntimeError, match="cupy|CUDA|GPU"):
            get_ops("gpu")


def test_set_num_threads_caps_blas_and_kernels():
    before = nnfast.get_num_threads()
    try:
        nnfast.set_num_threads(1)
        assert nnfast.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
        assert threads_for(10**8) == 1
    finally:
        nnfast.set_num_threads(None)
    assert nnfast.get_num_threads() == before
    with pytest.raises(ValueError, match="positive integer"):
        nnfast.set_num_threads(0)


def test_small_loops_run_on_one_thread(monkeypatch):
    monkeypatch.setattr(_threads, "_state", {"n_threads": 4, "limiter": None})
    assert threads_for(100) == 1
    assert threads_for(_threads.PARALLEL_MIN_WORK * 100) == 4


def test_omp_num_threads_is_respected(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert _threads._default_threads() == 3


def test_openmp_status_is_reported():
    from nnfast import _openmp

    assert isinstance(_openmp.openmp_enabled(), bool)
    assert _openmp.max_threads() >= 1


@pytest.mark.parametrize("activation,scheme_std", [("relu", lambda fi, fo: np.sqrt(2 / fi)),
                                                   ("tanh", lambda fi, fo: np.sqrt(2 / (fi + fo)))])
def test_weight_initialisation_follows_the_activation(activation, scheme_std):
    layer = Dense(400, activation=activation)
    layer.build((600,), get_ops("cpu"), np.dtype("float64"), np.random.default_rng(0))
    assert layer.W.std() == pytest.approx(scheme_std(600, 400), rel=0.02)
    assert np.all(layer.b == 0)
