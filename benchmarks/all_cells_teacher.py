"""A teacher and a k from all cells, for the landmark path? (issue 6)

Run:  .venv/bin/python benchmarks/all_cells_teacher.py [--sizes 30000,100000] [--files-seeds 1,2]
                        [--seeds 0,1]      (about 25 minutes)

For every tuning file and fit seed: the package's ``leiden_pca`` view (Leiden on the fuzzy 15-NN
graph of 50 PCs) computed on *all* cells (``all_cells_leiden``, PCA fitted in memory), then two
landmark fits (``ScLSTM(kernel="landmark")``) that train on that view alone, restricted to the
training sample, with k = its number of communities: the default network and a wider one trained
longer. The current package on the same files is in ``results/hard_negatives/tuning.tsv``
(h = 0). By the rule (``benchmarks/results/all_cells_teacher/decision.md``, written before the
runs) neither candidate was adopted.

Writes benchmarks/results/all_cells_teacher/tuning.tsv and prints the means.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import RESULTS  # noqa: E402
from tuning_files import add_arguments, fit_seeds, scores, tuning_files, write_and_summarise  # noqa: E402

OUT = RESULTS / "all_cells_teacher"
CANDIDATES = {"all-cells": {}, "all-cells, wider": dict(hidden_size=128, embedding_dim=64, n_steps=1200)}


def all_cells_leiden(adata, seed: int):
    """The package's ``leiden_pca`` view on every cell (the preprocessing the fit uses)."""
    from sclstm.pairs import label_free_views
    from sclstm.preprocessing import Preprocessor

    L = Preprocessor().fit_transform(adata.X)
    return label_free_views(L, None, 0, random_state=seed, names=("leiden_pca",))["leiden_pca"]


def fit_with_teacher(adata, teacher, seed: int, params: dict, view_name: str = "leiden_all_cells",
                     class_loss_weight: float | None = None):
    """Landmark fit whose only training view is ``teacher`` on the sample, k its community count.
    Named ``leiden_pca``, the view also drives the class loss, with ``class_loss_weight`` if given
    (else the package's ``PSEUDO_CLASS_WEIGHT``)."""
    import sclstm
    import sclstm.estimator as estimator_module
    import sclstm.landmark as lm

    est = sclstm.ScLSTM(kernel="landmark", random_state=seed, n_clusters=int(teacher.max()) + 1, **params)
    sample = lm.sample_cells(adata.n_obs, est.sample_size, seed)  # the rule the fit uses
    original = estimator_module.label_free_views, lm.PSEUDO_CLASS_WEIGHT
    estimator_module.label_free_views = lambda *a, **k: {view_name: teacher[sample]}
    if class_loss_weight is not None:
        lm.PSEUDO_CLASS_WEIGHT = class_loss_weight
    try:
        return est.fit(adata.X)
    finally:
        estimator_module.label_free_views, lm.PSEUDO_CLASS_WEIGHT = original


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    args = ap.parse_args()

    from sklearn.metrics import adjusted_rand_score

    rows = []
    for n, file_seed, adata, truth, reference in tuning_files(args):
        for seed in fit_seeds(args):
            t0 = time.perf_counter()
            teacher = all_cells_leiden(adata, seed)
            teacher_seconds = time.perf_counter() - t0
            teacher_ari = adjusted_rand_score(truth, teacher)
            for name, params in CANDIDATES.items():
                t0 = time.perf_counter()
                est = fit_with_teacher(adata, teacher, seed, params)
                row = dict(cells=n, file_seed=file_seed, seed=seed, candidate=name, k=int(est.n_clusters_),
                           **scores(truth, reference, est.labels_, est.kept_cells_),
                           teacher_ARI=teacher_ari,
                           teacher_seconds=teacher_seconds, fit_seconds=time.perf_counter() - t0)
                print(row, flush=True)
                rows.append(row)
    write_and_summarise(rows, OUT, "all_cells_teacher.py", "candidate")


if __name__ == "__main__":
    main()
