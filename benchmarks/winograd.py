"""Winograd F(4x4, 3x3) and F(2x2, 3x3) against im2col on the classic CNN, interleaved.

Two comparisons, each taking turns round after round so that a slow spell
of a shared host hits every alternative alike, reported as medians:

- each convolution of the classic CNN's training step on its own, a batch
  of 64, padded as ``bench_cnn.PADDING`` says (conv1: 28x28x1 -> 28x28x32,
  which stays on im2col; conv2: 14x14x32 -> 14x14x64, with its input
  gradient; 26x26x32 and 13x13x32 -> 11x11x64 unpadded), forward and backward,
  through ``CpuOps.conv2d`` and ``conv2d_backward`` under
  :func:`nnfast.backend.own_threads`, with each Winograd tile and with
  every shape sent through im2col (``nnfast._conv.set_winograd``);
- the first ``bench_cnn.EPOCH_SLICE`` batches of an epoch of the classic CNN
  (``Sequential.fit``) with each scheme, and in PyTorch
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
#: Name and ``set_winograd`` setting of each scheme.
SCHEMES = {"F(4x4,3x3)": 4, "F(2x2,3x3)": 2, "im2col": 0}


def time_passes(rounds, calls):
    """Median milliseconds per call of each convolution's passes under each scheme."""
    ops = get_ops("cpu")
    rng = np.random.default_rng(0)
    table = {}
    for name, (x_shape, k_shape, want_dx) in PASSES.items():
        x = rng.random(x_shape, dtype=np.float32)
        kernel = (rng.standard_normal(k_shape) * 0.1).astype(np.float32)
        bias = np.zeros(k_shape[3], np.float32)
        pads = (bench_cnn.PAD,) * 4
        y = ops.conv2d(x, kernel, bias, padding=pads)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        dkernel, dbias = np.empty_like(kernel), np.empty_like(bias)
        dx = np.empty_like(x) if want_dx else False
        passes = {"forward": lambda: ops.conv2d(x, kernel, bias, padding=pads, out=y),
                  "backward": lambda: ops.conv2d_backward(dy, x, kernel, padding=pads,
                                                          dkernel=dkernel, dbias=dbias, dx=dx)}
        times = {}
        with own_threads():
            for _ in range(rounds):
                for scheme, tile in SCHEMES.items():
                    _conv.set_winograd(tile)
                    for pass_name, run in passes.items():
                        start = time.perf_counter()
                        for _ in range(calls):
                            run()
                        times.setdefault((scheme, pass_name), []).append(
                            (time.perf_counter() - start) / calls * 1e3)
        _conv.set_winograd("auto")
        taken = _conv.uses_winograd(x_shape, k_shape, y.shape[1], y.shape[2], (1, 1))
        table[name] = (taken, {key: float(np.median(t)) for key, t in times.items()})
    return table


def time_epochs(rounds):
    """Median milliseconds of the epoch slice for each scheme and PyTorch."""
    x, y, _ = bench_cnn.load_images(bench_cnn.EPOCH_SLICE * bench_cnn.BATCH, 1)
    runs = {}
    for scheme, tile in SCHEMES.items():
        _conv.set_winograd(tile)  # the network's nodes are made by the first fit
        model = bench_cnn.make_nnfast()
        model.fit(x[:bench_cnn.BATCH * 2], y[:bench_cnn.BATCH * 2], epochs=1,
                  batch_size=bench_cnn.BATCH)
        runs[scheme] = bench_cnn.nnfast_fit(model, x, y)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: the epoch runs without it")
    else:
        torch.set_num_threads(nnfast.get_num_threads())
        runs["pytorch"] = bench_cnn.torch_fit(torch, bench_cnn.make_torch(torch), x, y)
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1e3)
    _conv.set_winograd("auto")
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20, help="calls of a pass per round")
    parser.add_argument("--skip-epoch", action="store_true")
    args = parser.parse_args(argv)
    print(f"{nnfast.get_num_threads()} threads, medians of {args.rounds} interleaved rounds")
    for name, (taken, t) in time_passes(args.rounds, args.calls).items():
        default = {4: "F(4x4,3x3)", 2: "F(2x2,3x3)", 0: "im2col"}[taken]
        print(f"{name} ({default} by default), ms per batch of {bench_cnn.BATCH}:")
        for pass_name in ("forward", "backward"):
            cells = "  ".join(f"{scheme} {t[(scheme, pass_name)]:7.3f}" for scheme in SCHEMES)
            print(f"  {pass_name:8s} {cells}  F(4x4,3x3) / F(2x2,3x3) "
                  f"{t[('F(4x4,3x3)', pass_name)] / t[('F(2x2,3x3)', pass_name)]:.2f}")
    if args.skip_epoch:
        return
    epoch = time_epochs(args.rounds)
    print(f"epoch slice ({bench_cnn.EPOCH_SLICE} batches), ms:")
    for name, ms in epoch.items():
        line = f"  {name:10s} {ms:8.1f}"
        if "pytorch" in epoch:
            line += f"  x PyTorch {ms / epoch['pytorch']:.2f}"
        print(line)
    print(f"  F(4x4,3x3) / F(2x2,3x3) {epoch['F(4x4,3x3)'] / epoch['F(2x2,3x3)']:.3f}, "
          f"F(4x4,3x3) / im2col {epoch['F(4x4,3x3)'] / epoch['im2col']:.3f}")


if __name__ == "__main__":
    main()
