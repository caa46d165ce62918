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

    python benchmarks/interleaved.py --cnn --rounds 3

``--cnn`` runs the classic CNN of ``benchmarks/bench_cnn.py`` instead: a
full epoch (60,000 images, batch 64) in nnfast and in PyTorch, its matrix
products alone, nnfast's numpy reference on ``--numpy-batches`` batches,
prediction on 10,000 images, and each op of the training step on its own
(nnfast's ops, PyTorch's operators and the op's products alone) for
``--layer-batches`` batches.  Partial workloads are scaled to the 938
batches of an epoch; the per-op table sets them beside the epochs.
``--padding valid`` times the course's unpadded convolutions instead of
``CNNClassifier``'s default 'same' ones.

    python benchmarks/interleaved.py --ae --rounds 7

``--ae`` runs the deep autoencoder and the VAE of
``benchmarks/bench_autoencoder.py`` instead: an epoch of each through
nnfast's estimator (when this checkout has it) and through ``Sequential``,
in PyTorch, as its matrix products alone, and in textbook numpy on
``--numpy-batches`` batches (scaled to the epoch's 938); and each part of
a training step through nnfast's ops (forward, sampler, loss, backward,
Adam) with the products of the forward and backward parts alone, on
``--layer-batches`` batches.
"""
import argparse
import contextlib
import functools
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
CNN_FAMILIES = ("cnn", "cnnpredict", "cnnop")
AE_FAMILIES = ("ae", "vae", "aeop", "vaeop")
AE_RATIOS = [(f"{m}:{a}", f"{m}:{b}") for m in ("ae", "vae")
             for a, b in [("nnfast", "torch"), ("nnfast", "products"), ("nnfast", "numpy"),
                          ("sequential", "torch"), ("sequential", "products"),
                          ("nnfast", "sequential"), ("torch", "products")]]
RATIOS = [("mlp:dropout", "mlp:relu"), ("mlp:tanh", "mlp:relu"), ("mlp:relu", "torch:relu"),
          ("mlp:dropout", "torch:dropout"), ("mlp:tanh", "torch:tanh"),
          ("mlp:relu", "mlp:products"), ("rbm:nnfast", "rbm:torch"), ("rbm:nnfast", "rbm:products")]


def workloads(benchmarks, names, numpy_batches=100, layer_batches=100):
    """One epoch of each named workload, as a function of no arguments.

    ``numpy_batches`` and ``layer_batches`` are the batches that the CNN's
    numpy reference and each CNN op run per round.

    Returns
    -------
    runs : dict of str to callable
    scales : dict of str to float
        What each run's time is multiplied by to give an epoch's (1 unless
        the run covers part of one).
    """
    sys.path.insert(0, benchmarks)
    runs, scales = {}, {}
    cnn = [name for name in names if name.split(":")[0] in CNN_FAMILIES]
    if cnn:
        runs, scales = cnn_workloads(cnn, numpy_batches, layer_batches)
    autoencoders = [name for name in names if name.split(":")[0] in AE_FAMILIES]
    if autoencoders:
        more, more_scales = ae_workloads(autoencoders, numpy_batches, layer_batches)
        runs.update(more)
        scales.update(more_scales)
    others = [name for name in names if name not in runs]
    if others:
        runs.update(mlp_rbm_workloads(others))
    return runs, scales


def mlp_rbm_workloads(names):
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


def cnn_workloads(names, numpy_batches, layer_batches):
    """The classic CNN's workloads: ``cnn:*`` epochs, ``cnnpredict:*``, ``cnnop:WHO:OP`` ops."""
    import nnfast
    import torch

    import bench_cnn as b

    torch.set_num_threads(nnfast.get_num_threads())
    x, y, x_test = b.load_images(b.N_TRAIN, b.N_TEST)
    warm = slice(0, 2 * b.BATCH)
    layer_steps, runs, scales = {}, {}, {}
    for name in names:
        family, kind = name.split(":", 1)
        if name == "cnn:nnfast":
            model = b.make_nnfast()
            b.nnfast_fit(model, x[warm], y[warm])()  # builds buffers
            runs[name] = b.nnfast_fit(model, x, y)
        elif name == "cnn:numpy":
            model = b.make_nnfast(device="numpy")
            b.nnfast_fit(model, x[warm], y[warm])()
            part = slice(0, numpy_batches * b.BATCH)
            runs[name], scales[name] = b.nnfast_fit(model, x[part], y[part]), \
                b.EPOCH_BATCHES / numpy_batches
        elif name == "cnn:torch":
            net = b.make_torch(torch)
            b.torch_fit(torch, net, x[warm], y[warm])()
            runs[name] = b.torch_fit(torch, net, x, y)
        elif name == "cnn:products":
            runs[name] = b.products_floor(b.EPOCH_BATCHES)
            print("products by route:", ", ".join(f"{op} {route}"
                                                  for op, route in runs[name].routes),
                  file=sys.stderr)
        elif name == "cnnpredict:nnfast":
            model = b.make_nnfast()
            model.build(b.IMAGE)
            runs[name] = lambda m=model: m.predict(x_test)
        elif name == "cnnpredict:torch":
            runs[name] = b.torch_predict(torch, b.make_torch(torch), x_test)
        elif family == "cnnop":
            who, op = kind.split(":")
            scales[name] = b.EPOCH_BATCHES / layer_batches
            if who == "products":
                runs[name] = b.products_floor(layer_batches, op)
                continue
            if who not in layer_steps:
                layer_steps[who] = (b.nnfast_layer_steps() if who == "nnfast"
                                    else (None, b.torch_layer_steps(torch)))
            ops, steps = layer_steps[who]
            runs[name] = repeat(steps[op], layer_batches, ops)
        else:
            raise SystemExit(f"unknown workload {name!r}")
    for name in names:
        if name.split(":")[0] != "cnn":
            runs[name]()  # the epochs warmed up on two batches above
    return runs, scales


def ae_workloads(names, numpy_batches, layer_batches):
    """The autoencoder's and the VAE's epochs (``ae:*``, ``vae:*``) and ops (``aeop:WHO:OP``)."""
    import nnfast
    import torch

    import bench_autoencoder as b

    torch.set_num_threads(nnfast.get_num_threads())
    x = b.load_images(b.N_TRAIN)
    part = x[:numpy_batches * b.BATCH]
    epoch_batches = len(b.batch_sizes(len(x)))
    runs, scales, op_steps = {}, {}, {}
    for name in names:
        family, kind = name.split(":", 1)
        vae = family.startswith("vae")
        if family in ("aeop", "vaeop"):
            who, op = kind.split(":")
            if vae not in op_steps:
                op_steps[vae] = b.op_steps(vae)
            ops, steps, products = op_steps[vae]
            runs[name] = repeat((steps if who == "nnfast" else products)[op], layer_batches, ops)
            scales[name] = epoch_batches / layer_batches
            continue
        if kind in ("nnfast", "sequential"):
            make = {("ae", "nnfast"): b.make_ae_estimator,
                    ("ae", "sequential"): b.make_ae_sequential,
                    ("vae", "nnfast"): b.make_vae_estimator,
                    ("vae", "sequential"): b.make_vae_sequential}[family, kind]
            model = make()
            runs[name] = b.nnfast_epoch(model, x)
            b.nnfast_epoch(model, x[:4 * b.BATCH])()  # builds buffers
        elif kind == "torch":
            runs[name] = (b.torch_vae_epoch if vae else b.torch_ae_epoch)(torch, x)
        elif kind == "products":
            runs[name] = b.products_epoch(b.VAE_PRODUCTS if vae else b.AE_PRODUCTS, len(x))
        elif kind == "numpy":
            net, rng = (b.TextbookVAE() if vae else b.TextbookAutoencoder()), \
                np.random.default_rng(0)
            runs[name] = lambda net=net, rng=rng: net.epoch(part, rng)
            scales[name] = epoch_batches / numpy_batches
        else:
            raise SystemExit(f"unknown workload {name!r}")
    for name in names:
        if name.split(":")[1] not in ("nnfast", "sequential"):
            runs[name]()  # warms caches (the nnfast models warmed up on four batches)
    return runs, scales


def ae_plan(numpy_batches, layer_batches):
    """The autoencoder mode's workloads that this checkout can run, alternatives side by side."""
    import nnfast

    from bench_autoencoder import STEP_OPS

    plan = []
    for family, estimator in (("ae", "Autoencoder"), ("vae", "VAE")):
        if hasattr(nnfast, estimator):
            plan.append(f"{family}:nnfast")
        has_sampler = hasattr(nnfast.layers, "GaussianSampler")
        if family == "ae" or has_sampler:
            plan.append(f"{family}:sequential")
        plan += [f"{family}:torch", f"{family}:products"]
        if numpy_batches > 0:
            plan.append(f"{family}:numpy")
        if layer_batches > 0 and (family == "ae" or has_sampler):
            for op in STEP_OPS:
                if op == "sampler" and family == "ae":
                    continue
                plan.append(f"{family}op:nnfast:{op}")
                if op in ("forward", "backward"):
                    plan.append(f"{family}op:products:{op}")
    return plan


def median_of(times, name):
    """The median of a workload's times (s)."""
    return float(np.median(times[name]))


def ratio_of(times, a, b):
    """The median of the per-round ratios ``a / b`` and their range, as text."""
    r = np.array(times[a]) / np.array(times[b])
    return f"{np.median(r):.3f} ({r.min():.2f}-{r.max():.2f})"


def ae_report(times):
    """Print the autoencoder mode's medians, ratios and per-op tables (times in s per epoch)."""
    from bench_autoencoder import STEP_OPS

    median, ratio = functools.partial(median_of, times), functools.partial(ratio_of, times)

    for name in times:
        if "op:" not in name:
            print(f"{name:20s} median {median(name):8.3f} s")
    for a, b in AE_RATIOS:
        if a in times and b in times:
            print(f"{a:16s} / {b:16s} {ratio(a, b)}")
    for family in ("ae", "vae"):
        rows = [op for op in STEP_OPS if f"{family}op:nnfast:{op}" in times]
        if not rows:
            continue
        epoch = median(f"{family}:sequential")
        print(f"\n{family}: per op, scaled to an epoch (s); share of the Sequential epoch; "
              "the op's products alone")
        total = 0.0
        for op in rows:
            mine = median(f"{family}op:nnfast:{op}")
            total += mine
            line = f"{op:10s} {mine:7.3f}  {mine / epoch:6.1%}"
            floor = f"{family}op:products:{op}"
            if floor in times:
                line += (f"  products {median(floor):7.3f}  ops / products "
                         f"{ratio(f'{family}op:nnfast:{op}', floor)}")
            print(line)
        print(f"ops together {total:.3f} s, epoch {epoch:.3f} s, the rest (the loop, shuffling, "
              f"batch copies, Python) {epoch - total:.3f} s")


def repeat(step, times, ops=None):
    """``step`` called ``times`` times, inside ``ops.kernel_threads()`` when ``ops`` is given."""
    def run():
        with ops.kernel_threads() if ops is not None else contextlib.nullcontext():
            for _ in range(times):
                step()
    return run


def cnn_plan():
    """The CNN mode's workloads in the order of a round (alternatives next to each other)."""
    from bench_cnn import LAYER_OPS, product_shapes

    with_products = {name for name, *_ in product_shapes()}
    plan = ["cnn:nnfast", "cnn:torch", "cnn:products", "cnn:numpy", "cnnpredict:nnfast",
            "cnnpredict:torch"]
    for op in LAYER_OPS:
        plan += [f"cnnop:nnfast:{op}", f"cnnop:torch:{op}"]
        if op in with_products:
            plan.append(f"cnnop:products:{op}")
    return plan


def cnn_report(times):
    """Print the CNN mode's medians, ratios and per-op table (times in s per epoch)."""
    from bench_cnn import LAYER_OPS

    median, ratio = functools.partial(median_of, times), functools.partial(ratio_of, times)

    for name in times:
        if not name.startswith("cnnop"):
            print(f"{name:20s} median {median(name):8.3f} s")
    for a, b in [("cnn:nnfast", "cnn:torch"), ("cnnpredict:nnfast", "cnnpredict:torch"),
                 ("cnn:nnfast", "cnn:products"), ("cnn:torch", "cnn:products"),
                 ("cnn:numpy", "cnn:nnfast")]:
        if a in times and b in times:
            print(f"{a:18s} / {b:18s} {ratio(a, b)}")
    rows = [op for op in LAYER_OPS if f"cnnop:nnfast:{op}" in times]
    if not rows:
        return
    print("\nPer op, scaled to an epoch (s); share of nnfast's epoch; nnfast / torch; "
          "nnfast / its products")
    totals = {"nnfast": 0.0, "torch": 0.0}
    epoch = median("cnn:nnfast") if "cnn:nnfast" in times else float("nan")
    for op in rows:
        mine, theirs = median(f"cnnop:nnfast:{op}"), median(f"cnnop:torch:{op}")
        totals["nnfast"] += mine
        totals["torch"] += theirs
        floor = f"cnnop:products:{op}"
        line = (f"{op:16s} nnfast {mine:7.3f}  torch {theirs:7.3f}  {mine / epoch:6.1%}  "
                f"{ratio(f'cnnop:nnfast:{op}', f'cnnop:torch:{op}')}")
        if floor in times:
            line += (f"  products {median(floor):7.3f}  "
                     f"{ratio(f'cnnop:nnfast:{op}', floor)}")
        print(line)
    for who in ("nnfast", "torch"):
        if f"cnn:{who}" in times:
            whole = median(f"cnn:{who}")
            print(f"{who}: ops together {totals[who]:.3f} s, epoch {whole:.3f} s, the rest "
                  f"(the loop, shuffling, batch copies, framework) {whole - totals[who]:.3f} s")


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


def worker(benchmarks, names, numpy_batches, layer_batches):
    """Serve epochs: read a workload's name per line, answer its time in seconds."""
    runs, scales = workloads(benchmarks, names, numpy_batches, layer_batches)
    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        # Threads the last workload left waiting for work (OpenBLAS's spin
        # for a while after a product) would take a core from this one.
        time.sleep(0.25)
        start = time.perf_counter()
        runs[name]()
        print((time.perf_counter() - start) * scales.get(name, 1.0), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", help="PYTHON:CHECKOUT of another built nnfast")
    parser.add_argument("--json", help="write every time to this file")
    parser.add_argument("--cnn", action="store_true",
                        help="the classic CNN's epochs, prediction and ops instead")
    parser.add_argument("--padding", choices=("same", "valid"), default="same",
                        help="padding of the CNN's convolutions (same: CNNClassifier's default; "
                             "valid: the course's original shapes)")
    parser.add_argument("--ae", action="store_true",
                        help="the deep autoencoder's and the VAE's epochs instead")
    parser.add_argument("--numpy-batches", type=int, default=100,
                        help="batches of the CNN's numpy reference (or the autoencoders' textbook "
                             "numpy) per round (0: leave it out)")
    parser.add_argument("--layer-batches", type=int, default=100,
                        help="batches of each CNN (or autoencoder) op per round (0: leave the "
                             "ops out)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1:], args.numpy_batches, args.layer_batches)
    if (args.cnn or args.ae) and args.against:
        parser.error("--against compares the MLP and the RBM; leave it out with --cnn or --ae")
    if args.cnn and args.ae:
        parser.error("choose one of --cnn and --ae")
    ours, options = OURS, []
    if args.ae:
        sys.path.insert(0, HERE)
        ours = ae_plan(args.numpy_batches, args.layer_batches)
        options = [f"--numpy-batches={args.numpy_batches}",
                   f"--layer-batches={args.layer_batches}"]
    if args.cnn:
        os.environ["NNFAST_BENCH_CNN_PADDING"] = args.padding  # read by bench_cnn, in the worker too
        sys.path.insert(0, HERE)
        ours = [name for name in cnn_plan()
                if not (name == "cnn:numpy" and args.numpy_batches <= 0)
                and not (name.startswith("cnnop") and args.layer_batches <= 0)]
        options = [f"--numpy-batches={args.numpy_batches}",
                   f"--layer-batches={args.layer_batches}"]
    procs = {"now": subprocess.Popen(
        [sys.executable, __file__, "--worker", HERE] + ours + options,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)}
    plan = [("now", name) for name in ours]
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
    if args.cnn:
        return cnn_report({name.split(" ", 1)[1]: values for name, values in times.items()})
    if args.ae:
        return ae_report({name.split(" ", 1)[1]: values for name, values in times.items()})
    for key in times:
        print(f"{key:20s} median {median_of(times, key):.3f} s")
    pairs = [(f"now {a}", f"now {b}") for a, b in RATIOS
             if f"now {a}" in times and f"now {b}" in times]
    if args.against:
        pairs = [("now mlp:relu", "before mlp:relu"), ("now rbm:nnfast", "before rbm:nnfast"),
                 ("before mlp:relu", "before mlp:products"), ("before mlp:relu", "now torch:relu"),
                 ("before rbm:nnfast", "now rbm:torch")] + pairs
    for a, b in pairs:
        print(f"{a:20s} / {b:20s} {ratio_of(times, a, b)}")


if __name__ == "__main__":
    main()
