"""Turn a pytest-benchmark JSON file into the Markdown tables of RESULTS.md.

    pytest benchmarks/ --benchmark-only --benchmark-json=bench.json
    python benchmarks/report.py bench.json

Each group becomes a table of median times with the ratio to the first
nnfast row of the group, plus the machine and thread count of the run.
"""
import json
import sys


def report(path):
    data = json.load(open(path))
    info = data["machine_info"]
    lines = [f"Machine: {info.get('cpu', {}).get('brand_raw', info.get('processor'))}, "
             f"{info.get('cpu', {}).get('count', '?')} cores; Python {info.get('python_version')}; "
             f"run {data.get('datetime', '')[:16]}; nnfast threads "
             f"{info.get('nnfast_threads', '?')}; OPENBLAS_CORETYPE "
             f"{info.get('OPENBLAS_CORETYPE') or 'unset'}."]
    for lib in info.get("blas", []):
        lines.append(f"- {lib['internal_api']} {lib['version']} ({lib['architecture']} kernels, "
                     f"{lib['num_threads']} threads): {lib['filepath']}")
    lines.append("")
    groups = {}
    for bench in data["benchmarks"]:
        groups.setdefault(bench["group"], []).append(bench)
    for group, benches in groups.items():
        base = next((b for b in benches if "nnfast" in b["name"]), benches[0])
        lines += [f"### {group}", "", "| benchmark | median | rounds | time / nnfast |", "|---|---|---|---|"]
        for b in sorted(benches, key=lambda b: b["stats"]["median"]):
            med = b["stats"]["median"]
            lines.append(f"| {b['name']} | {med:.4g} s | {b['stats']['rounds']} | "
                         f"{med / base['stats']['median']:.2f}× |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(sys.argv[1]))
