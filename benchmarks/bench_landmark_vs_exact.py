"""Landmark against exact kernel on human_kidney_top2000 (issue 6: within 0.02 ARI).

Run:  .venv/bin/python benchmarks/bench_landmark_vs_exact.py [--seeds 5]

Unsupervised, all 5,685 cells, k given (11) and estimated, seeds 0..n−1, the same default
settings otherwise. Labels are read only to score. Writes
benchmarks/results/landmark_vs_exact.tsv (one row per run) and landmark_vs_exact.md
(median and range over seeds, and the median difference landmark − exact).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import DATA, RESULTS, write_tsv  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    import sclstm
    from sclstm.metrics import score

    adata = ad.read_h5ad(DATA / "human_kidney_top2000.h5ad")
    truth = adata.obs["cell_type"].astype(str).to_numpy()
    k_true = len(set(truth))
    rows = []
    for seed in range(args.seeds):
        for k in (k_true, None):
            for kernel in ("exact", "landmark"):
                t = time.perf_counter()
                est = sclstm.ScLSTM(n_clusters=k, kernel=kernel, random_state=seed).fit(adata)
                rows.append(dict(kernel=kernel, k="given" if k else "estimated", seed=seed, k_used=est.n_clusters_,
                                 seconds=time.perf_counter() - t, partition_from=est.summary_["partition_from"],
                                 **score(truth, est.labels_)))
                print(rows[-1], flush=True)
    command = "python benchmarks/bench_landmark_vs_exact.py " + " ".join(sys.argv[1:])
    write_tsv(rows, RESULTS / "landmark_vs_exact.tsv", command)
    lines = [f"human_kidney_top2000, unsupervised, all cells, seeds 0–{args.seeds - 1}: ARI median [min, max]", "",
             "| k | exact | landmark | median of (landmark − exact) per seed | k used (exact / landmark) |",
             "|---|---|---|---|---|"]
    for k in ("given", "estimated"):
        ex = [r for r in rows if r["k"] == k and r["kernel"] == "exact"]
        lm = [r for r in rows if r["k"] == k and r["kernel"] == "landmark"]
        a = np.array([r["ARI"] for r in ex])
        b = np.array([r["ARI"] for r in lm])
        fmt = lambda v: f"{np.median(v):.3f} [{v.min():.3f}, {v.max():.3f}]"  # noqa: E731
        lines.append(f"| {k} | {fmt(a)} | {fmt(b)} | {np.median(b - a):+.3f} | "
                     f"{'/'.join(str(r['k_used']) for r in ex)} ; {'/'.join(str(r['k_used']) for r in lm)} |")
    (RESULTS / "landmark_vs_exact.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
