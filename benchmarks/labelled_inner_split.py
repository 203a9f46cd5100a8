"""Labelled mode against logistic regression on cells the benchmark never scores (issue 3).

Run:  .venv/bin/python benchmarks/labelled_inner_split.py [datasets] [n_seeds] > benchmarks/results/labelled_inner_split.txt
      (default: all 7 datasets in $SCLSTM_DATA, seeds 0-4; about 30 minutes on 2 cores)

For each dataset and seed, the accuracy benchmark's training cells (the stratified 80 % of
``sclstm_runs.split_mask``) are split again, 75 / 25 stratified (seeded by [seed, 99]). Every
method gets the labels of the inner 75 % only and is scored (balanced accuracy of predicted
classes) on the inner 25 %. The benchmark's own 20 % get no labels and are never scored here,
so choosing among these candidates does not look at the cells the benchmark reports.

Methods: ScLSTM labelled mode as shipped (``predicted_labels_``: the mean of the class head's
and a class-balanced logistic regression's probabilities, the second fitted on the input
sequence); its class head alone (what was shipped before 2026-12-02); logistic regression
refitted on the fitted model's features (its input sequence, with or without the embedding;
plain or class-balanced), alone and averaged with the head; and the benchmark's peer, logistic
regression on 50 PCs of scanpy's standard preprocessing.
Prints one line per dataset and seed and the mean over seeds per dataset. Torch runs with
one thread, as the accuracy benchmark's default: on Yan's 18 scored cells the head's
mean was 0.876 with one thread and 0.790 with two (float sums in another order, other weights).
"""
import argparse
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score as bas

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sclstm  # noqa: E402
from bench_core import DATA, DATASETS  # noqa: E402
from peers import standard_pca  # noqa: E402
from sclstm.estimator import stratified_subset  # noqa: E402
from sclstm_runs import split_mask  # noqa: E402


def run(name: str, seeds) -> dict:
    a = ad.read_h5ad(DATA / f"{name}.h5ad")
    y = np.asarray(a.obs["cell_type"], dtype=object).astype(str)
    means = {}
    for seed in seeds:
        outer = split_mask(y, seed)  # the benchmark's training cells
        inner = outer & stratified_subset(np.where(outer, y, None).astype(object), 0.75,
                                          np.random.default_rng([seed, 99]))
        held = outer & ~inner
        est = sclstm.ScLSTM(mode="labelled", random_state=seed).fit(a, labels=np.where(inner, y, None).astype(object))
        L = est.preprocessor_.transform(sp.csr_matrix(a.X))
        seq3 = est.sequencer_.transform(est.kernel_.transform(L))
        seq = seq3.reshape(len(y), -1)
        with torch.no_grad():  # the class head alone, without the sequence classifier
            head_prob = torch.softmax(est.model_.class_logits(torch.from_numpy(est.embedding_),
                                                              torch.from_numpy(seq3)), -1).numpy()
        emb = est.embedding_ / est.embedding_[inner].std(0, keepdims=True).clip(1e-6)
        out = {"shipped (head + LR on sequence, balanced, mean)": bas(y[held], est.predicted_labels_[held].astype(str)),
               "class head alone": bas(y[held], est.classes_[head_prob[held].argmax(1)].astype(str))}
        for fname, F in (("sequence+embedding", np.hstack([seq, emb])), ("sequence", seq)):
            for weight in (None, "balanced"):
                clf = LogisticRegression(max_iter=5000, class_weight=weight).fit(F[inner], y[inner])
                out[f"LR on {fname}, {weight or 'plain'}"] = bas(y[held], clf.predict(F[held]))
                if weight == "balanced":  # the head's and this refit's probabilities averaged
                    assert list(clf.classes_) == [str(c) for c in est.classes_]
                    mean_prob = (head_prob[held] + clf.predict_proba(F[held])) / 2
                    out[f"head + LR on {fname}, balanced, mean"] = bas(y[held], clf.classes_[mean_prob.argmax(1)])
        pcs = standard_pca(a, seed).obsm["X_pca"]
        out["LR on 50 PCs (peer)"] = bas(y[held], LogisticRegression(max_iter=5000).fit(pcs[inner], y[inner]).predict(pcs[held]))
        print(name, seed, f"scored {held.sum()} cells;", "  ".join(f"{m}: {v:.3f}" for m, v in out.items()), flush=True)
        for m, v in out.items():
            means.setdefault(m, []).append(v)
    print("MEAN", name, "  ".join(f"{m}: {np.mean(v):.3f}" for m, v in means.items()), flush=True)
    return {m: float(np.mean(v)) for m, v in means.items()}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="?", default=",".join(DATASETS), help="comma-separated (default: all 7)")
    ap.add_argument("n_seeds", nargs="?", type=int, default=5, help="seeds 0..n_seeds-1 (default 5)")
    cli = ap.parse_args()
    torch.set_num_threads(1)
    names, n_seeds = cli.datasets.split(","), cli.n_seeds
    for name in names:
        run(name, range(n_seeds))
