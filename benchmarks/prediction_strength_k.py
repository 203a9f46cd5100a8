"""k from prediction strength on the kernel S or the learned similarity P, exact path? (issue 3)

Run:  .venv/bin/python benchmarks/prediction_strength_k.py --simulated [--part 0|1]   (decide here)
      .venv/bin/python benchmarks/prediction_strength_k.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/prediction_strength_k.py --combine simulated|real   (both halves' table)

One unsupervised exact fit per case with k estimated (``ScLSTM(kernel="exact")``, guard on): the
package's k₀ and its partition. From the same fit, two candidates: k̂ = the largest k whose
prediction strength (Tibshirani & Walther 2005) on S, or on P, is at least 0.8, and the partition
the package would make at k̂ (``learned_k.partition_at``). Labels only score.

Data: ``--simulated`` is the 54-dataset grid of the k decisions, fit seed 0; ``--real`` the seven
datasets, seeds 0–2. The rule was written before the runs
(benchmarks/results/prediction_strength_k/decision.md). Writes
benchmarks/results/prediction_strength_k/<run>.tsv and .md.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import linkage
from sklearn.metrics import adjusted_rand_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from learned_k import CURRENT, fit_capturing_inputs, partition_at, run_k_candidates, summarise_k_candidates  # noqa: E402

from sclstm.clustering import condensed, cut_tree, similarity_distances  # noqa: E402

RESULTS = HERE / "results" / "prediction_strength_k"
ON_S, ON_P = "prediction strength on S", "prediction strength on learned P"
HALVINGS, THRESHOLD = 5, 0.8


def average_linkage_tree(M: np.ndarray) -> np.ndarray:
    """The tree ``cluster_similarity`` cuts: average linkage on the distances 1 − M."""
    return linkage(condensed(similarity_distances(M)), method="average")


def pair_agreement(test: np.ndarray, assigned: np.ndarray) -> float:
    """min over test clusters of ≥ 2 cells of the fraction of their pairs the assignment keeps together."""
    worst = 1.0
    for j in np.unique(test):
        a = assigned[test == j]
        n = len(a)
        if n < 2:
            continue
        counts = np.bincount(a)
        worst = min(worst, float((counts * (counts - 1)).sum()) / (n * (n - 1)))
    return worst


def prediction_strength(M: np.ndarray, k_max: int, seed: int) -> tuple[int, np.ndarray]:
    """The largest k in 2..k_max whose prediction strength, averaged over five random halvings, is
    ≥ 0.8 (2 when none is), and the curve PS(2..k_max)."""
    n = M.shape[0]
    k_max = int(min(k_max, n // 2 - 1))
    rng = np.random.default_rng(seed)
    ps = np.zeros(k_max - 1)
    for _ in range(HALVINGS):
        perm = rng.permutation(n)
        train, test = perm[: n // 2], perm[n // 2:]
        tree_train, tree_test = average_linkage_tree(M[np.ix_(train, train)]), average_linkage_tree(M[np.ix_(test, test)])
        cross = np.asarray(M[np.ix_(test, train)], dtype=np.float64)
        for i, k in enumerate(range(2, k_max + 1)):
            lab_train, lab_test = cut_tree(tree_train, k), cut_tree(tree_test, k)
            onehot = np.zeros((len(train), k))
            onehot[np.arange(len(train)), lab_train] = 1.0
            assigned = np.argmax((cross @ onehot) / onehot.sum(0), axis=1)
            ps[i] += pair_agreement(lab_test, assigned) / HALVINGS
    passing = np.flatnonzero(ps >= THRESHOLD)
    return (int(passing.max()) + 2 if len(passing) else 2), ps


def case_rows(name: str, adata, truth: np.ndarray, k_true: int, seed: int) -> list[dict]:
    t0 = time.perf_counter()
    est, L, S = fit_capturing_inputs(adata, seed)
    fit_seconds = time.perf_counter() - t0
    rows = [dict(estimator=CURRENT, k_used=int(est.n_clusters_), ARI=adjusted_rand_score(truth, est.labels_),
                 partition_from=est.summary_["partition_from"], extra_seconds=0.0, ps_curve="")]
    for label, M in ((ON_S, S), (ON_P, est.similarity_)):
        t0 = time.perf_counter()
        k, curve = prediction_strength(M, est.k_max, seed)
        labels, source = partition_at(est, L, S, k, seed)
        rows.append(dict(estimator=label, k_used=k, ARI=adjusted_rand_score(truth, labels), partition_from=source,
                         extra_seconds=round(time.perf_counter() - t0, 2), ps_curve=" ".join(f"{v:.2f}" for v in curve)))
    rows = [{"dataset": name, "seed": seed, "k_true": k_true, **r, "fit_seconds": round(fit_seconds, 1)} for r in rows]
    for r in rows:
        print(r, flush=True)
    return rows


def summarise(df: pd.DataFrame) -> str:
    return summarise_k_candidates(df, CURRENT, (ON_S, ON_P))


def main(argv=None) -> None:
    run_k_candidates(argv, __doc__, "k from prediction strength, exact path", RESULTS, case_rows, summarise)


if __name__ == "__main__":
    main()
