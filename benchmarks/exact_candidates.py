"""Two versions of the exact path, fitted on the same cases and compared: the loop, the table and
the command line shared by the experiments that decide on the simulated grid and then check on
the seven datasets (seed_consensus.py, similarity_blend.py, exact_views.py).

A candidate is a label and a function that puts the package in that state (patching it, or
undoing a patch) before each fit. Every case is fitted once per candidate and k mode
(``ScLSTM(kernel="exact")``, unsupervised, guard on); labels only score. Data: ``--simulated`` is
the guard benchmark's grid (``acc_common.simulated_grid``, data seeds 11–28, where the rules
decide), ``--real`` the seven datasets (the check afterwards); ``--part 0|1`` runs every other
case, so two halves share the two cores, and ``--combine`` writes both halves' table.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from acc_common import add_split_run_arguments, combine_parts, split_cases, write_run

import sclstm.estimator as est_mod


def candidate_rows(name: str, adata, truth: np.ndarray, k_true: int, seed: int,
                   candidates: dict[str, Callable[[], None]], column: str) -> list[dict]:
    """One row per k mode and candidate: the final (guarded) ARI and the learned similarity's alone."""
    rows = []
    for k_mode in ("given", "estimated"):
        for label, setup in candidates.items():
            setup()
            t0 = time.perf_counter()
            est = est_mod.ScLSTM(n_clusters=k_true if k_mode == "given" else None, kernel="exact",
                                 random_state=seed).fit(adata)
            seconds = time.perf_counter() - t0
            learned_alone = est._cluster(est.similarity_, est.embedding_, est.n_clusters_)
            row = {"dataset": name, "k": k_mode, "k_used": int(est.n_clusters_), "seed": seed, column: label,
                   "ARI": adjusted_rand_score(truth, est.labels_),
                   "ARI learned alone": adjusted_rand_score(truth, learned_alone),
                   "partition_from": est.summary_["partition_from"],
                   "seconds": round(seconds, 1)}
            print(row, flush=True)
            rows.append(row)
    return rows


def summarise(df: pd.DataFrame, column: str, current, candidate) -> str:
    """Per k mode: mean final and learned-alone ARI of both candidates, and the fit-by-fit difference."""
    lines = []
    for k_mode in ("given", "estimated"):
        sub = df[df.k == k_mode]
        wide = sub.pivot_table(index=["dataset", "seed"], columns=column, values="ARI")
        diff = wide[candidate] - wide[current]
        alone = sub.groupby(column)["ARI learned alone"].mean()
        secs = sub.groupby(column)["seconds"].mean()
        kept = sub[sub.partition_from != "kernel"].groupby(column).size()
        lines += [f"\nk {k_mode}: {len(wide)} fits per candidate.\n",
                  f"| {column} | mean ARI (final, guarded) | mean ARI, learned similarity alone | "
                  "fits where the guard kept the learned partition | mean seconds per fit |",
                  "|---|---:|---:|---:|---:|"]
        for c in (current, candidate):
            lines.append(f"| {c} | {wide[c].mean():.4f} | {alone[c]:.4f} | {int(kept.get(c, 0))} | {secs[c]:.1f} |")
        lines.append(f"\nDifference {candidate} − {current}: mean {diff.mean():+.4f}; better by > 0.02 in "
                     f"{int((diff > 0.02).sum())} fits, worse by > 0.02 in {int((diff < -0.02).sum())}.")
    return "\n".join(lines)


def main(doc: str, results: Path, title: str, column: str, candidates: Callable[[argparse.Namespace], dict],
         extra_arguments: Callable[[argparse.ArgumentParser], None] = lambda ap: None, argv=None) -> None:
    """The command line: ``--simulated`` / ``--real`` [``--part``] [``--seeds``], or ``--combine``.
    ``candidates(args)`` gives the {label: setup} of the run, the current package first."""
    import torch

    torch.set_num_threads(1)  # the guard benchmark's setting: two halves run side by side on two cores
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_split_run_arguments(ap, choose="decide here", check="check here")
    ap.add_argument("--seeds", default=None, help="comma-separated fit seeds (default 0,1 simulated; 0,1,2 real)")
    extra_arguments(ap)
    args = ap.parse_args(argv)
    run = candidates(args)
    current, candidate = run

    def table(df):
        df[column] = df[column].astype(type(current))
        return summarise(df, column, current, candidate)

    if args.combine:
        print(combine_parts(results, args.combine, title, table))
        return
    seeds = [int(s) for s in (args.seeds or ("0,1" if args.simulated else "0,1,2")).split(",")]
    rows = [row for name, adata, truth, k in split_cases(args) for seed in seeds
            for row in candidate_rows(name, adata, truth, k, seed, run, column)]
    print(write_run(results, args, rows, title, table, argv))
