"""Sweeps on a Dask cluster of worker processes that the tests start on 127.0.0.1."""
import os
import sys

import pytest

distributed = pytest.importorskip(
    "distributed", reason='the Dask backend needs dask.distributed: pip install "nnfast[dask]"')

from nnfast import MLPClassifier  # noqa: E402
from nnfast.datasets import load_digits_sample  # noqa: E402
from nnfast.experiments import sweep  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two single-threaded worker processes, and the folder the killing estimator uses.

    The worker processes are started after this folder is on ``sys.path`` and
    the marker folder in the environment, so they inherit both.
    """
    folder = tmp_path_factory.mktemp("dask-sweep")
    sys.path.insert(0, HERE)
    os.environ["NNFAST_SWEEP_TEST_FOLDER"] = str(folder)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    try:
        yield cluster, folder
    finally:
        cluster.close()
        os.environ.pop("NNFAST_SWEEP_TEST_FOLDER", None)
        sys.path.remove(HERE)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_sample(as_float=True, flatten=True)
    return X[:300], y[:300]


def _table(result):
    return [{k: v for k, v in row.items() if k != "fit_seconds"} for row in result.rows]


def test_the_cluster_gives_the_local_table(cluster, digits):
    X, y = digits
    est = MLPClassifier(epochs=3, batch_size=30)
    grid = {"activation": ["relu", "tanh"], "hidden_layer_sizes": [(4,), (8,)]}
    local = sweep(est, grid, X, y, random_state=2)
    with distributed.Client(cluster[0]) as client:
        remote = sweep(est, grid, X, y, random_state=2, backend="dask")
        pids = client.run(os.getpid)
    assert _table(remote) == _table(local)
    assert remote.curves == local.curves
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()


def test_a_killed_worker_costs_only_its_run(cluster, digits):
    from sweep_dask_helpers import DOOMED, KillOnceMLP

    X, y = digits
    _, folder = cluster
    grid = {"hidden_layer_sizes": [(3,), (4,), (5,), DOOMED, (8,), (9,)]}
    est = KillOnceMLP(epochs=2, batch_size=30)
    with distributed.Client(cluster[0]) as client:
        before = set(client.run(os.getpid).values())
        result = sweep(est, grid, X, y, backend="dask")
        after = set(client.run(os.getpid).values())
    assert (folder / "killed").exists()
    assert len(before - after) == 1  # one worker process died and was replaced
    attempts = (folder / "attempts.log").read_text().split()
    assert attempts.count(str(DOOMED)) == 2  # killed once, then retried
    # Others ran once, or twice when their finished result was still on the dead worker.
    assert sorted(set(attempts)) == sorted(str(size) for size in grid["hidden_layer_sizes"])
    assert all(attempts.count(a) <= 2 for a in attempts)
    # Every run finished with its full row, equal to a local sweep of the same runs.
    assert [row["hidden_layer_sizes"] for row in result.rows] == grid["hidden_layer_sizes"]
    local = sweep(MLPClassifier(epochs=2, batch_size=30), grid, X, y)
    assert _table(result) == _table(local)
    assert all(len(curve) == 2 for curve in result.curves)


def test_dask_without_a_client_says_how_to_start_one(digits):
    X, y = digits
    with pytest.raises(RuntimeError, match="no.*client|Client"):
        sweep(MLPClassifier(epochs=1), {"epochs": [1]}, X, y, backend="dask")
