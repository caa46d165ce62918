"""Winograd F(2x2, 3x3) against im2col on the classic CNN, interleaved.

Two comparisons, each taking turns round after round so that a slow spell
of a shared host hits every alternative alike, reported as medians:

- each convolution of the classic CNN's training step on its own, a batch
  of 64 (conv1: 28x28x1 -> 26x26x32, which stays on im2col; conv2:
  13x13x32 -> 11x11x64, with its input gradient), forward and backward,
  through ``CpuOps.conv2d`` and ``conv2d_backward`` under
  :func:`nnfast.backend.own_threads`, with Winograd and with every shape
  sent through im2col (``nnfast._conv.set_winograd(False)``);
- the first ``bench_cnn.EPOCH_SLICE`` batches of an epoch of the classic CNN
  (``Sequential.fit``) with Winograd, with im2col only, and in PyTorch
  (skipped when torch is not installed).

    python benchmarks/winograd.py --rounds 9

``NNFAST_DATA`` should point at Fashion-MNIST (random images otherwise).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_cnn  # noqa: E402
import nnfast  # noqa: E402
from nnfast import _conv  # noqa: E402
from nnfast.backend import get_ops, own_threads  # noqa: E402

#: (input shape, kernel shape, input gradient wanted) of the classic CNN's convolutions.
PASSES = {
    "conv1": ((bench_cnn.BATCH,) + bench_cnn.IMAGE, (3, 3, 1, 32), False),
    "conv2": ((bench_cnn.BATCH,) + bench_cnn.POOL1_OUT, (3, 3, 32, 64), True),
}
SCHEMES = {"winograd": True, "im2col": False}


def time_passes(rounds, calls):
    """Median milliseconds per call of each convolution's passes under each scheme."""
    ops = get_ops("cpu")
    rng = np.random.default_rng(0)
    table = {}
    for name, (x_shape, k_shape, want_dx) in PASSES.items():
        x = rng.random(x_shape, dtype=np.float32)
        kernel = (rng.standard_normal(k_shape) * 0.1).astype(np.float32)
        bias = np.zeros(k_shape[3], np.float32)
        y = ops.conv2d(x, kernel, bias)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        dkernel, dbias = np.empty_like(kernel), np.empty_like(bias)
        dx = np.empty_like(x) if want_dx else False
        passes = {"forward": lambda: ops.conv2d(x, kernel, bias, out=y),
                  "backward": lambda: ops.conv2d_backward(dy, x, kernel, dkernel=dkernel,
                                                          dbias=dbias, dx=dx)}
        times = {}
        with own_threads():
            for _ in range(rounds):
                for scheme, on in SCHEMES.items():
                    _conv.set_winograd(on)
                    for pass_name, run in passes.items():
                        start = time.perf_counter()
                        for _ in range(calls):
                            run()
                        times.setdefault((scheme, pass_name), []).append(
                            (time.perf_counter() - start) / calls * 1e3)
        _conv.set_winograd(True)
        taken = _conv.uses_winograd(x_shape, k_shape, y.shape[1], y.shape[2], (1, 1))
        table[name] = (taken, {key: float(np.median(t)) for key, t in times.items()})
    return table


def time_epochs(rounds):
    """Median milliseconds of the epoch slice for each scheme and PyTorch."""
    x, y, _ = bench_cnn.load_images(bench_cnn.EPOCH_SLICE * bench_cnn.BATCH, 1)
    runs = {}
    for scheme, on in SCHEMES.items():
        _conv.set_winograd(on)  # the network's nodes are made by the first fit
        model = bench_cnn.make_nnfast()
        model.fit(x[:bench_cnn.BATCH * 2], y[:bench_cnn.BATCH * 2], epochs=1,
                  batch_size=bench_cnn.BATCH)
        runs[scheme] = (on, bench_cnn.nnfast_fit(model, x, y))
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: the epoch runs without it")
    else:
        torch.set_num_threads(nnfast.get_num_threads())
        runs["pytorch"] = (True, bench_cnn.torch_fit(torch, bench_cnn.make_torch(torch), x, y))
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (on, run) in runs.items():
            _conv.set_winograd(on)
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1e3)
    _conv.set_winograd(True)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20, help="calls of a pass per round")
    parser.add_argument("--skip-epoch", action="store_true")
    args = parser.parse_args(argv)
    print(f"{nnfast.get_num_threads()} threads, medians of {args.rounds} interleaved rounds")
    for name, (taken, t) in time_passes(args.rounds, args.calls).items():
        print(f"{name} ({'Winograd' if taken else 'im2col'} by default), ms per batch of "
              f"{bench_cnn.BATCH}:")
        for pass_name in ("forward", "backward"):
            wino, im2col = t[("winograd", pass_name)], t[("im2col", pass_name)]
            print(f"  {pass_name:8s} Winograd {wino:7.3f}  im2col {im2col:7.3f}  "
                  f"ratio {wino / im2col:.2f}")
    if args.skip_epoch:
        return
    epoch = time_epochs(args.rounds)
    print(f"epoch slice ({bench_cnn.EPOCH_SLICE} batches), ms:")
    for name, ms in epoch.items():
        line = f"  {name:9s} {ms:8.1f}"
        if "pytorch" in epoch:
            line += f"  x PyTorch {ms / epoch['pytorch']:.2f}"
        print(line)
    print(f"  Winograd / im2col {epoch['winograd'] / epoch['im2col']:.2f}")


if __name__ == "__main__":
    main()
