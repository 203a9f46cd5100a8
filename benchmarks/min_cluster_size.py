"""Should the landmark path's cut ignore tiny clusters, and below what size? (issue 6)

Run:  .venv/bin/python benchmarks/min_cluster_size.py [--sizes 30000,100000] [--files-seeds 1,2]
                        [--seeds 0,1]      (about 5 minutes with the defaults)

Each fit is the package's landmark path (``ScLSTM(kernel="landmark")``, unsupervised, k
estimated); its micro-cluster merge tree is then cut at the same k with every candidate
minimum cluster size f · n (``cut_with_minimum`` below; f = 0 is the package's plain cut). The
candidate cut is an experiment here, not part of the package: by the rule it was not adopted.

Data: the tuning files of ``landmark_views.py`` (random_state 1 and 2, never the scale
benchmark's file). The rule that decides was written before the deciding runs:
``benchmarks/results/min_cluster_size/decision.md``.

Writes benchmarks/results/min_cluster_size/tuning.tsv (one row per fit and candidate) and
prints the mean per candidate.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import RESULTS  # noqa: E402
from tuning_files import add_arguments, fit_seeds, scores, tuning_files, write_and_summarise  # noqa: E402

CANDIDATES = (0.0, 0.001, 0.0025, 0.005)
OUT = RESULTS / "min_cluster_size"


def cut_with_minimum(merge, k: int, min_size: float):
    """k clusters from the merge tree, clusters of fewer than ``min_size`` cells not counted:
    the tree is cut further until k clusters reach that size, and each micro-cluster of the
    smaller ones joins the counted cluster with the highest size-weighted mean P(same) to it.
    Returns the cell labels and what happened (tree cut at, cells reassigned)."""
    import numpy as np
    from sclstm.clustering import cut_tree, relabel_by_size

    c = len(merge.sizes_)
    for k_tree in range(k, c + 1):
        groups = np.arange(c) if k_tree == c else cut_tree(merge.tree_, k_tree)
        counted = np.bincount(groups, weights=merge.sizes_) >= min_size
        if counted.sum() == k:
            break
    else:  # no cut has k clusters that large: the plain cut
        return merge.cut(k), dict(tree_cut_at=k, cells_reassigned=0)
    keep = counted[groups]
    owners = np.flatnonzero(counted)
    member = (groups[keep][:, None] == owners[None, :]) * merge.sizes_[keep][:, None].astype(np.float64)
    affinity = merge.micro_similarity_[:, keep] @ member / member.sum(0)
    groups = groups.copy()
    groups[~keep] = owners[np.argmax(affinity[~keep], axis=1)]
    return (relabel_by_size(groups[merge.micro_]),
            dict(tree_cut_at=k_tree, cells_reassigned=int(merge.sizes_[~keep].sum())))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--fractions", default=",".join(map(str, CANDIDATES)), help="candidate minimum sizes, fractions of the cells")
    args = ap.parse_args()

    import numpy as np
    import sclstm

    rows = []
    for n, file_seed, adata, truth, reference in tuning_files(args):
        for seed in fit_seeds(args):
            t0 = time.perf_counter()
            est = sclstm.ScLSTM(kernel="landmark", random_state=seed).fit(adata.X)
            seconds = time.perf_counter() - t0
            for fraction in map(float, args.fractions.split(",")):
                labels, report = cut_with_minimum(est.merge_, est.n_clusters_, fraction * est.n_cells_)
                row = dict(cells=n, file_seed=file_seed, seed=seed, fraction=fraction, k=int(est.n_clusters_),
                           **scores(truth, reference, labels, est.kept_cells_),
                           smallest=int(np.bincount(labels).min()), tree_cut_at=report["tree_cut_at"],
                           cells_reassigned=report["cells_reassigned"], fit_seconds=seconds)
                print(row, flush=True)
                rows.append(row)
    write_and_summarise(rows, OUT, "min_cluster_size.py", "fraction")


if __name__ == "__main__":
    main()
