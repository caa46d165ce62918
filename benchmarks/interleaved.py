"""Interleaved timings: alternatives that take turns, so that a slow spell of the host hits them all.

pytest-benchmark runs the rounds of one benchmark back to back; on a shared
machine whose speed drifts over minutes, two benchmarks run minutes apart can
differ by more than the difference being measured.  This script builds each
workload once, then runs one epoch of each in turn, round after round, and
reports the medians of the per-round ratios that ``benchmarks/RESULTS.md``
quotes: the MLP with dropout and with tanh against the plain ReLU MLP, each
against PyTorch's same model, and each training workload against its own
matrix products alone.

    python benchmarks/interleaved.py --rounds 7
    python benchmarks/interleaved.py --against /path/to/python:/path/to/other/checkout

``--against`` also runs the ReLU MLP, its products and the RBM of another
built checkout (with its own Python), in a second process that takes turns
with this one.  ``NNFAST_DATA`` must point at the Fashion-MNIST files.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OURS = ["mlp:relu", "mlp:dropout", "mlp:tanh", "mlp:products", "torch:relu", "torch:dropout",
        "torch:tanh", "rbm:nnfast", "rbm:torch", "rbm:products"]
THEIRS = ["mlp:relu", "mlp:products", "rbm:nnfast"]
RATIOS = [("mlp:dropout", "mlp:relu"), ("mlp:tanh", "mlp:relu"), ("mlp:relu", "torch:relu"),
          ("mlp:dropout", "torch:dropout"), ("mlp:tanh", "torch:tanh"),
          ("mlp:relu", "mlp:products"), ("rbm:nnfast", "rbm:torch"), ("rbm:nnfast", "rbm:products")]


def workloads(benchmarks, names):
    """One epoch of each named workload, as a function of no arguments."""
    sys.path.insert(0, benchmarks)
    import nnfast
    from nnfast.datasets import load_fashion_mnist

    (x, y), _ = load_fashion_mnist(as_float=True, flatten=True, download=False)
    y = y.astype(np.intp)
    binary = (x > 0.5).astype(np.float32)
    runs = {}
    for name in names:
        family, kind = name.split(":")
        if family == "mlp" and kind == "products":
            from bench_mlp import gemm_only_epoch
            runs[name] = gemm_only_epoch(len(x))
        elif family == "mlp":
            from bench_mlp import make_nnfast
            variant = {"dropout": {"dropout": 0.2}, "tanh": {"activation": "tanh"}}.get(kind, {})
            model = make_nnfast(**variant) if variant else make_nnfast()
            runs[name] = lambda m=model: m.fit(x, y, epochs=1, batch_size=100)
        elif family == "torch":
            runs[name] = torch_epoch(nnfast, x, y, kind)
        elif kind == "nnfast":
            from nnfast.models import BernoulliRBM
            runs[name] = lambda: BernoulliRBM(n_hidden=120, learning_rate=0.1, batch_size=100,
                                              epochs=1, random_state=0).fit(binary)
        elif kind == "torch":
            runs[name] = torch_rbm_epoch(nnfast, binary)
        else:
            runs[name] = rbm_products(binary)
    for run in runs.values():
        run()  # builds buffers and warms caches
    return runs


def torch_epoch(nnfast, x, y, kind):
    import torch
    from bench_mlp import make_torch

    torch.set_num_threads(nnfast.get_num_threads())
    variant = {"dropout": {"dropout": 0.2}, "tanh": {"activation": "tanh"}}.get(kind, {})
    net = make_torch(torch, **variant).train()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    opt, loss_fn = torch.optim.Adam(net.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()

    def epoch():
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), 100):
            idx = order[start:start + 100]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xt[idx]), yt[idx]).backward()
            opt.step()
    return epoch


def torch_rbm_epoch(nnfast, binary):
    import torch
    from bench_rbm import torch_cd1_epoch

    torch.set_num_threads(nnfast.get_num_threads())
    X, gen = torch.from_numpy(binary), torch.Generator().manual_seed(0)

    def epoch():
        W = torch.randn(120, 784, generator=gen) * 0.01
        return torch_cd1_epoch(torch, X, W, torch.zeros(784), torch.zeros(120), 0.1, 100, gen)
    return epoch


def rbm_products(binary):
    """The four products of a CD-1 step for every batch (numpy ``matmul``), as in bench_rbm."""
    W = (np.random.default_rng(0).standard_normal((120, 784)) * 0.01).astype(np.float32)
    V, H, grad = np.zeros((200, 784), np.float32), np.zeros((200, 120), np.float32), np.zeros_like(W)
    v0, v1, h0, h1 = V[:100], V[100:], H[:100], H[100:]

    def epoch():
        for start in range(0, len(binary) - 99, 100):
            v0[...] = binary[start:start + 100]
            np.matmul(v0, W.T, out=h0)
            np.matmul(h0, W, out=v1)
            np.matmul(v1, W.T, out=h1)
            np.matmul(H.T, V, out=grad)
    return epoch


def worker(benchmarks, names):
    """Serve epochs: read a workload's name per line, answer its time in seconds."""
    runs = workloads(benchmarks, names)
    print("ready", flush=True)
    for line in sys.stdin:
        start = time.perf_counter()
        runs[line.strip()]()
        print(time.perf_counter() - start, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", help="PYTHON:CHECKOUT of another built nnfast")
    parser.add_argument("--json", help="write every time to this file")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1:])
    procs = {"now": subprocess.Popen([sys.executable, __file__, "--worker", HERE] + OURS,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)}
    plan = [("now", name) for name in OURS]
    if args.against:
        python, checkout = args.against.split(":", 1)
        env = dict(os.environ, PYTHONPATH=checkout)
        procs["before"] = subprocess.Popen(
            [python, __file__, "--worker", os.path.join(checkout, "benchmarks")] + THEIRS,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=checkout)
        plan = [("before", name) for name in THEIRS] + plan
    for proc in procs.values():
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("a worker failed to start")
    times = {f"{who} {name}": [] for who, name in plan}
    for _ in range(args.rounds):
        for who, name in plan:
            procs[who].stdin.write(name + "\n")
            procs[who].stdin.flush()
            times[f"{who} {name}"].append(float(procs[who].stdout.readline()))
    for proc in procs.values():
        proc.stdin.close()
        proc.wait()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(times, f)
    for key, values in times.items():
        print(f"{key:20s} median {np.median(values):.3f} s")
    pairs = [(f"now {a}", f"now {b}") for a, b in RATIOS]
    if args.against:
        pairs = [("now mlp:relu", "before mlp:relu"), ("now rbm:nnfast", "before rbm:nnfast"),
                 ("before mlp:relu", "before mlp:products"), ("before mlp:relu", "now torch:relu"),
                 ("before rbm:nnfast", "now rbm:torch")] + pairs
    for a, b in pairs:
        ratios = np.array(times[a]) / np.array(times[b])
        print(f"{a:20s} / {b:20s} {np.median(ratios):.3f} ({ratios.min():.2f}-{ratios.max():.2f})")


if __name__ == "__main__":
    main()
