"""Where the landmark path loses accuracy (issue 6): each stage scored against planted types.

Run:  .venv/bin/python benchmarks/diagnose_landmark.py [--cells 30000] [--seeds 0,1]
                        [--params '{"hidden_size": 128}'] [--teacher sample|all-cells] [--tag NAME]

Data: the scale benchmark's simulated file (bench_scale.ensure_data: 16 planted types, 2,000
genes, seed 0). Per seed, one unsupervised ``ScLSTM(kernel="landmark", random_state=seed,
**params)`` fit with k estimated; labels are read only to score. Reported, ARI unless said:

* ``view:<name>``    each training view on the training sample (the teacher the network copies);
* ``separable:input`` / ``separable:embedding``  accuracy of a logistic regression fitted with the
  true types on the training sample and scored on 5,000 other cells, on the LSTM's input
  (the flattened landmark-kernel sequence) and on its output embedding: how much type
  information the encoder keeps (at most 300 solver iterations: a lower bound);
* ``micro-bound``    ARI if every micro-cluster of the merge took its majority type (the best the
  merge could do with these micro-clusters);
* ``final``          the fitted labels (k estimated), and ``cut@16`` the same tree cut at the true k.

``--teacher all-cells`` replaces the training views by one view — the package's ``leiden_pca`` view
(Leiden on the 15-NN graph of 50 PCs) computed on *all* cells, as scanpy does — restricted to the
training sample. It is an
experiment, not an option of the package: it shows what the network does with a better teacher.

Writes benchmarks/results/landmark_diagnosis/<tag>.tsv (header line: date and command).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import RESULTS  # noqa: E402
from bench_scale import ensure_data  # noqa: E402
from all_cells_teacher import all_cells_leiden  # noqa: E402

N_TRUE = 16
N_HELD = 5000


def separability(X_train, y_train, X_test, y_test) -> float:
    """Held-out accuracy of a logistic regression on standardised features."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a lower bound is what we report
        return float(clf.fit(X_train, y_train).score(X_test, y_test))


def micro_majority(truth: np.ndarray, micro: np.ndarray) -> np.ndarray:
    """The majority type of each micro-cluster 0 .. micro.max() (ties: the first type in sorted order)."""
    types, codes = np.unique(truth, return_inverse=True)
    return types[[np.bincount(codes[micro == g]).argmax() for g in range(micro.max() + 1)]]


def micro_bound(truth: np.ndarray, micro: np.ndarray) -> float:
    """ARI if every micro-cluster of a merge took its majority type: the best any merge of them could do."""
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(truth, micro_majority(truth, micro)[micro])


def diagnose(adata, truth: np.ndarray, seed: int, params: dict, teacher: str) -> list[dict]:
    import sclstm
    import sclstm.estimator as estimator_module
    import sclstm.landmark as lm
    from sclstm.chunks import RowSource
    from sclstm.metrics import score
    from sclstm.pairs import label_free_views
    from sklearn.metrics import adjusted_rand_score

    est = sclstm.ScLSTM(kernel="landmark", random_state=seed, **params)
    sample = lm.sample_cells(adata.n_obs, est.sample_size, seed)  # the rule the fit uses
    rows = []
    original_views = estimator_module.label_free_views
    if teacher == "all-cells":
        big = all_cells_leiden(adata, seed)
        rows.append(dict(stage="teacher:leiden_all_cells", value=adjusted_rand_score(truth, big),
                         groups=int(big.max() + 1)))
        estimator_module.label_free_views = lambda *a, **k: {"leiden_all_cells": big[sample]}
    try:
        est.fit(adata)
    finally:
        estimator_module.label_free_views = original_views

    source = RowSource(adata)
    L_sample = est.preprocessor_.transform(source.rows(sample))
    K_sample = est.kernel_.transform(L_sample)
    if teacher == "sample":
        for name, lab in label_free_views(L_sample, K_sample, est.n_clusters_, random_state=seed).items():
            rows.append(dict(stage=f"view:{name}", value=adjusted_rand_score(truth[sample], lab),
                             groups=int(lab.max() + 1)))

    rest = np.setdiff1d(np.arange(adata.n_obs), sample)
    held = np.sort(np.random.default_rng([seed, 7]).choice(rest, size=min(N_HELD, len(rest)), replace=False))
    K_held = est.kernel_.transform(est.preprocessor_.transform(source.rows(held)))
    flat = lambda K: est.sequencer_.transform(K).reshape(len(K), -1)  # noqa: E731
    rows.append(dict(stage="separable:input", value=separability(flat(K_sample), truth[sample],
                                                                 flat(K_held), truth[held])))
    E = est.embedding_
    rows.append(dict(stage="separable:embedding", value=separability(E[sample], truth[sample],
                                                                     E[held], truth[held])))

    micro = est.merge_.micro_
    rows.append(dict(stage="micro-bound", value=micro_bound(truth, micro), groups=int(micro.max() + 1)))
    final = score(truth, est.labels_)
    rows.append(dict(stage="final", value=final["ARI"], groups=int(est.n_clusters_),
                     NMI=final["NMI"], ACC=final["ACC"], BAS=final["BAS"]))
    rows.append(dict(stage=f"cut@{N_TRUE}", value=adjusted_rand_score(truth, est.merge_.cut(N_TRUE)), groups=N_TRUE))
    for r in rows:
        r.update(seed=seed, teacher=teacher, params=json.dumps(params, sort_keys=True))
        print(f"seed {seed}  {r['stage']:<28} {r['value']:.3f}" + (f"  ({r['groups']} groups)" if "groups" in r else ""),
              flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=30000, help="size of the simulated file (default 30000)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1)")
    parser.add_argument("--params", default="{}", help="JSON dict of ScLSTM parameters (default none)")
    parser.add_argument("--teacher", choices=("sample", "all-cells"), default="sample",
                        help="training views: the package's (on the training sample) or Leiden on all cells")
    parser.add_argument("--tag", default=None, help="name of the output file (default from the arguments)")
    parser.add_argument("--cache", type=Path, default=RESULTS / "scale" / "cache", help="folder of the simulated files")
    args = parser.parse_args()

    import anndata as ad

    path, _ = ensure_data(args.cache, args.cells)
    adata = ad.read_h5ad(path)
    truth = adata.obs["cell_type"].astype(str).to_numpy()
    params = json.loads(args.params)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows += diagnose(adata, truth, seed, params, args.teacher)

    tag = args.tag or f"{args.cells}cells_{args.teacher}"
    out = RESULTS / "landmark_diagnosis" / f"{tag}.tsv"
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = ["seed", "teacher", "params", "stage", "value", "groups", "NMI", "ACC", "BAS"]
    with open(out, "w") as fh:
        fh.write(f"# {datetime.date.today()}  command: python benchmarks/diagnose_landmark.py {' '.join(sys.argv[1:])}\n")
        fh.write("\t".join(columns) + "\n")
        for r in rows:
            fh.write("\t".join("" if r.get(c) is None else (f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]))
                               for c in columns) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
