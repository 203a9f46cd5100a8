"""How much the scale benchmark's ARI moves with the seed, for ScLSTM and for scanpy.

The scale target (issue 6) compares one ScLSTM fit with one scanpy run on the same simulated
file; across runs of the benchmark scanpy's ARI on the 100,000-cell file has read 0.816-0.854
and ScLSTM's 0.800-0.813. This runs both several times on one file, each in its own process
as bench_scale does: ScLSTM unsupervised with k estimated, random_state 0..S-1 (landmark path,
as the benchmark), and scanpy's standard pipeline (bench_core's, unchanged) with random_state
0..R-1 for PCA, neighbours and Leiden. It prints and writes every run's ARI, NMI, k, seconds and
peak memory, and the median [min-max] per method. Planted types are read only to score.
Seconds are the whole child as in bench_scale (ScLSTM's stop before scoring, scanpy's include
it, a second or two); on a machine doing other work they are not a timing.

Run:  .venv/bin/python benchmarks/scale_repeats.py [--cells 100000] [--sclstm-seeds 5]
                                                   [--scanpy-seeds 3] [--results DIR] [--cache DIR]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import RESULTS, write_tsv  # noqa: E402
from bench_scale import CORE_CHILD, REFERENCE, SCLSTM_CHILD, ensure_data, measure  # noqa: E402


def summary(rows, method: str) -> str:
    tried = [r for r in rows if r["method"] == method]
    got = [r for r in tried if "ARI" in r]
    if not got:
        return f"{method}: none of {len(tried)} runs finished"
    aris = [r["ARI"] for r in got]
    ks = sorted(r["k"] for r in got)
    return (f"{method}: ARI median {statistics.median(aris):.3f} [{min(aris):.3f}-{max(aris):.3f}] over "
            f"{len(got)} of {len(tried)} runs (seeds) finished; k {ks}; NMI median {statistics.median(r['NMI'] for r in got):.3f}; "
            f"seconds median {statistics.median(r['seconds_total'] for r in got):.1f}; "
            f"peak GiB max {max(r['peak_rss_gib'] for r in got):.2f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=100_000)
    p.add_argument("--sclstm-seeds", type=int, default=5)
    p.add_argument("--scanpy-seeds", type=int, default=3)
    p.add_argument("--results", type=Path, default=RESULTS / "scale_repeats")
    p.add_argument("--cache", type=Path, default=RESULTS / "scale" / "cache")
    args = p.parse_args(argv)
    command = " ".join(["python benchmarks/scale_repeats.py", *(argv if argv is not None else sys.argv[1:])])
    if not REFERENCE.exists():
        sys.exit(f"reference data missing: {REFERENCE} (set SCLSTM_DATA to the folder with the .h5ad files)")
    path, _ = ensure_data(args.cache, args.cells)
    rows = []
    for seed in range(args.sclstm_seeds):
        row = measure("sclstm (k estimated)", args.cells,
                      [SCLSTM_CHILD, str(path), "landmark", "estimated", "0", str(seed)])
        rows.append(dict(row, seed=seed))
    for seed in range(args.scanpy_seeds):
        row = measure("scanpy", args.cells, [CORE_CHILD, "scanpy", str(path), str(seed)])
        rows.append(dict(row, seed=seed))
    args.results.mkdir(parents=True, exist_ok=True)
    write_tsv(rows, args.results / "scale_repeats.tsv", command)
    lines = [summary(rows, m) for m in ("sclstm (k estimated)", "scanpy")]
    (args.results / "summary.txt").write_text(f"# {command}\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
