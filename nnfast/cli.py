"""The ``nnfast`` command line.

``nnfast demo`` trains each model on the bundled digits sample or its classic
exercise and writes figures plus a summary; ``nnfast info`` describes the
installation (versions, threads, OpenMP, BLAS).
"""
import argparse
import importlib
import json
import os
import sys
import time

DEMOS = ("mlp", "perceptron", "rbm", "cnn")


def _available_demos():
    found = []
    for name in DEMOS:
        try:
            importlib.import_module(f"nnfast.demos.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nnfast.demos.{name}":
                raise
            continue
        found.append(name)
    return found


def run_demos(names, output_dir, quick=False, echo=print):
    """Run the named demos, write ``summary.json`` and ``summary.md``; return the summaries."""
    os.makedirs(output_dir, exist_ok=True)
    results = {}
    for name in names:
        module = importlib.import_module(f"nnfast.demos.{name}")
        echo(f"[{name}] running ...")
        start = time.perf_counter()
        results[name] = module.run(output_dir, quick=quick)
        results[name]["wall_seconds"] = round(time.perf_counter() - start, 2)
        echo(f"[{name}] done in {results[name]['wall_seconds']} s")
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output_dir, "summary.md"), "w") as f:
        f.write(_markdown(results))
    return results


def _markdown(results):
    lines = ["# nnfast demo", ""]
    for name, summary in results.items():
        lines += [f"## {name}", ""]
        for key, value in summary.items():
            if key != "files":
                lines.append(f"- **{key.replace('_', ' ')}**: {value}")
        for label, path in summary.get("files", {}).items():
            lines.append(f"- ![{label}]({os.path.basename(path)})")
        lines.append("")
    return "\n".join(lines)


def _info():
    import numpy
    import scipy
    from threadpoolctl import threadpool_info

    import nnfast
    from nnfast import _openmp, _simd

    print(f"nnfast {nnfast.__version__} (numpy {numpy.__version__}, scipy {scipy.__version__})")
    print(f"threads: {nnfast.get_num_threads()}; OpenMP compiled in: {_openmp.openmp_enabled()}; "
          f"vector kernels: {_simd.simd_level()}")
    for pool in threadpool_info():
        print(f"  {pool['user_api']}: {pool['internal_api']} {pool.get('version') or ''} "
              f"({pool['num_threads']} threads) {pool['filepath']}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="nnfast", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train the models on the bundled sample and write figures")
    demo.add_argument("models", nargs="*", metavar="MODEL",
                      help=f"which demos to run ({', '.join(DEMOS)}); all by default")
    demo.add_argument("-o", "--output", default="nnfast-output", help="folder for figures and summary")
    demo.add_argument("--quick", action="store_true", help="shorter training, for a smoke test")
    sub.add_parser("info", help="versions, threads, OpenMP and BLAS in use")
    args = parser.parse_args(argv)
    if args.command == "info":
        _info()
        return 0
    names = args.models or _available_demos()
    unknown = [n for n in names if n not in DEMOS]
    if unknown:
        parser.error(f"unknown demo(s) {unknown}; choose from {list(DEMOS)}")
    results = run_demos(names, args.output, quick=args.quick)
    print(f"\nFigures and summary written to {os.path.abspath(args.output)}/")
    for name, summary in results.items():
        scalars = [(k, v) for k, v in summary.items()
                   if isinstance(v, (int, float, str)) and k != "model" and len(str(v)) < 40]
        print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in scalars[:8]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
