"""Which label-free views should train the landmark path? (issue 6)

Run:  .venv/bin/python benchmarks/landmark_views.py [--sizes 30000,100000] [--files-seeds 1,2]
                        [--seeds 0,1]      (about 15 minutes with the defaults)

The landmark path trains on the cell pairs of its 5,000-cell sample on which label-free views
agree (``sclstm.pairs.LANDMARK_TRAINING_VIEWS``). Each candidate set of views here replaces them
for a whole fit (``ScLSTM(kernel="landmark")``, unsupervised, k estimated); everything else is
the package's default. It is an experiment, not an option of the package.

Data: tuning files simulated like the scale benchmark's (16 planted types from human kidney,
2,000 genes; ``bench_scale.ensure_data``) but with ``random_state`` 1 and 2, never the benchmark's own file (random_state 0),
so the choice is not tuned on the cells the scale table scores. The rule that decides was
written before the deciding runs: ``benchmarks/results/landmark_views/decision.md``.

Writes benchmarks/results/landmark_views/tuning.tsv (one row per fit: ARI against the planted
and against the reference types, k, seconds) and prints the mean per candidate.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import RESULTS  # noqa: E402
from tuning_files import add_arguments, fit_seeds, scores, tuning_files, write_and_summarise  # noqa: E402

CANDIDATES = ("leiden_pca+ward_kernel", "leiden_pca+ward_pca", "leiden_pca", "ward_pca")
OUT = RESULTS / "landmark_views"


def fit_with_views(adata, names: tuple, seed: int):
    import sclstm
    import sclstm.estimator as estimator_module

    original = estimator_module.LANDMARK_TRAINING_VIEWS
    estimator_module.LANDMARK_TRAINING_VIEWS = names
    try:
        return sclstm.ScLSTM(kernel="landmark", random_state=seed).fit(adata.X)
    finally:
        estimator_module.LANDMARK_TRAINING_VIEWS = original


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="view sets, views joined by '+'")
    args = ap.parse_args()

    rows = []
    for n, file_seed, adata, truth, reference in tuning_files(args):
        for candidate in args.candidates.split(","):
            for seed in fit_seeds(args):
                t0 = time.perf_counter()
                est = fit_with_views(adata, tuple(candidate.split("+")), seed)
                row = dict(cells=n, file_seed=file_seed, views=candidate, seed=seed, k=int(est.n_clusters_),
                           **scores(truth, reference, est.labels_),
                           seconds=time.perf_counter() - t0)
                print(row, flush=True)
                rows.append(row)
    write_and_summarise(rows, OUT, "landmark_views.py", "views")


if __name__ == "__main__":
    main()
