"""k from the eigengap of the learned similarity instead of the kernel's, on the exact path? (issue 3)

Run:  .venv/bin/python benchmarks/learned_k.py --simulated [--part 0|1]   (decide here; ~4 min a half)
      .venv/bin/python benchmarks/learned_k.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/learned_k.py --combine simulated|real   (both halves' table)

One unsupervised exact fit per case with k estimated (``ScLSTM(kernel="exact")``, guard on): the
package's k₀ (eigengap of the 5-NN graph of the kernel S, before training) and its partition.
From the same fit, the candidate: k₁ = the same estimator on the learned similarity P, and the
partition the package would make at k₁ (average linkage on 1 − P against Ward on S, the guard
keeping whichever agrees more with the guard views computed at k₁). Labels only score.

Data: ``--simulated`` is the 54-dataset grid of the k estimators' decision
(``acc_common.simulated_grid(first_seeds=(11, 41, 71))``), fit seed 0; ``--real`` the seven
datasets, seeds 0–2. The rule was written before the runs (benchmarks/results/learned_k/decision.md).
Writes benchmarks/results/learned_k/<run>.tsv and .md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from acc_common import add_split_run_arguments, combine_parts, simulated_grid, split_cases, write_run  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402
from sclstm.clustering import estimate_k, relabel_by_size  # noqa: E402
from sclstm.pairs import GUARD_VIEWS, guard_agreement  # noqa: E402

RESULTS = HERE / "results" / "learned_k"
PACKAGE_VIEWS = est_mod.label_free_views
CURRENT, CANDIDATE = "k0 from S (package)", "k1 from learned P"


def fit_capturing_inputs(adata, seed: int):
    """The package's exact fit with k estimated, and the L and S its views were built from."""
    seen = {}

    def views(L, S, k, random_state=0, names=None):
        seen.update(L=L, S=S)
        return PACKAGE_VIEWS(L, S, k, random_state=random_state, names=names)

    est_mod.label_free_views = views
    try:
        est = est_mod.ScLSTM(kernel="exact", random_state=seed).fit(adata)
    finally:
        est_mod.label_free_views = PACKAGE_VIEWS
    return est, seen["L"], seen["S"]


def partition_at(est, L, S, k: int, seed: int) -> tuple[np.ndarray, str]:
    """The package's final partition at k: learned (average linkage on 1 − P) or kernel (Ward on
    S), whichever agrees more with the guard views at k (the package's rule, ``_fit_exact``)."""
    views = PACKAGE_VIEWS(L, S, k, random_state=seed, names=("ward_kernel",) + tuple(GUARD_VIEWS))
    learned = est._cluster(est.similarity_, est.embedding_, k)
    kernel = relabel_by_size(views["ward_kernel"])
    if guard_agreement(kernel, views) > guard_agreement(learned, views):
        return kernel, "kernel"
    return learned, "learned similarity"


def case_rows(name: str, adata, truth: np.ndarray, k_true: int, seed: int) -> list[dict]:
    t0 = time.perf_counter()
    est, L, S = fit_capturing_inputs(adata, seed)
    fit_seconds = time.perf_counter() - t0
    k0 = int(est.n_clusters_)
    t0 = time.perf_counter()
    k1 = estimate_k(est.similarity_, k_max=est.k_max)[0]
    labels1, from1 = partition_at(est, L, S, k1, seed)
    extra_seconds = time.perf_counter() - t0
    rows = []
    for label, k, labels, source in ((CURRENT, k0, est.labels_, est.summary_["partition_from"]),
                                     (CANDIDATE, k1, labels1, from1)):
        row = {"dataset": name, "seed": seed, "k_true": k_true, "estimator": label, "k_used": k,
               "ARI": adjusted_rand_score(truth, labels), "partition_from": source,
               "fit_seconds": round(fit_seconds, 1), "extra_seconds": round(extra_seconds if label == CANDIDATE else 0.0, 2)}
        print(row, flush=True)
        rows.append(row)
    return rows


def summarise(df: pd.DataFrame) -> str:
    return summarise_k_candidates(df, CURRENT, (CANDIDATE,))


def summarise_k_candidates(df: pd.DataFrame, current: str, candidates) -> str:
    """Hits within 1 of the true k, log error and final ARI of the package's k and each candidate's,
    from rows with columns dataset, seed, k_true, estimator, k_used, ARI, partition_from."""
    df = df.assign(within_1=(df.k_used - df.k_true).abs() <= 1,
                   abs_log_ratio=np.abs(np.log(df.k_used / df.k_true)))
    wide = df.pivot_table(index=["dataset", "seed"], columns="estimator", values="ARI")
    lines = [f"\n{len(wide)} fits (unsupervised, exact path, k estimated, all cells scored).\n",
             "| k from | within 1 of the true k | mean abs log(k / k true) | mean ARI (final, guarded) | "
             "fits where the guard kept the learned partition |",
             "|---|---:|---:|---:|---:|"]
    for c in (current, *candidates):
        sub = df[df.estimator == c]
        lines.append(f"| {c} | {int(sub.within_1.sum())} of {len(sub)} | {sub.abs_log_ratio.mean():.3f} | "
                     f"{sub.ARI.mean():.4f} | {int((sub.partition_from != 'kernel').sum())} |")
    for c in candidates:
        diff = wide[c] - wide[current]
        lines.append(f"\nARI difference {c} − {current}: mean {diff.mean():+.4f}; better by > 0.02 in "
                     f"{int((diff > 0.02).sum())} fits, worse by > 0.02 in {int((diff < -0.02).sum())}.")
    names = (current, *candidates)
    lines.append("\nPer types planted or published (true k: within 1, then the median estimate, in the order "
                 + "; ".join(names) + "):\n")
    lines.append("| true k | datasets × seeds | " + " | ".join(f"within 1 ({i})" for i in range(len(names)))
                 + " | " + " | ".join(f"median ({i})" for i in range(len(names))) + " |")
    lines.append("|---:|---:|" + "---:|" * (2 * len(names)))
    for kt, sub in df.groupby("k_true"):
        per = [sub[sub.estimator == c] for c in names]
        lines.append(f"| {kt} | {len(per[0])} | " + " | ".join(str(int(p.within_1.sum())) for p in per) + " | "
                     + " | ".join(f"{p.k_used.median():g}" for p in per) + " |")
    return "\n".join(lines)


def run_k_candidates(argv, doc: str, title: str, results: Path, case_rows, summarise) -> None:
    """The command line shared by the k-candidate benchmarks: ``--simulated`` / ``--real`` /
    ``--combine``, ``--part``, ``--seeds``, ``--only``; one exact fit per case and seed."""
    import torch

    torch.set_num_threads(1)  # two halves run side by side on the two cores
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_split_run_arguments(ap, choose="decide here", check="check here")
    ap.add_argument("--seeds", default=None, help="comma-separated fit seeds (default 0 simulated; 0,1,2 real)")
    ap.add_argument("--only", default=None, help="run only the case of this name and write nothing (smoke test)")
    args = ap.parse_args(argv)
    if args.combine:
        print(combine_parts(results, args.combine, title, summarise))
        return
    seeds = [int(s) for s in (args.seeds or ("0" if args.simulated else "0,1,2")).split(",")]
    cases = simulated_grid(args.part, first_seeds=(11, 41, 71)) if args.simulated else split_cases(args)
    rows = [row for name, adata, truth, k in cases if args.only in (None, name)
            for seed in seeds for row in case_rows(name, adata, truth, k, seed)]
    if not args.only:
        print(write_run(results, args, rows, title, summarise, argv))


def main(argv=None) -> None:
    run_k_candidates(argv, __doc__, "k from the learned similarity's eigengap, exact path", RESULTS, case_rows, summarise)


if __name__ == "__main__":
    main()
