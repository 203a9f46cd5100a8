"""Does a consensus of several networks beat one on the exact path? (issue 3)

Run:  .venv/bin/python benchmarks/seed_consensus.py --simulated [--part 0|1]   (decide here)
      .venv/bin/python benchmarks/seed_consensus.py --real [--part 0|1]        (then check here)
      .venv/bin/python benchmarks/seed_consensus.py --combine simulated|real   (both halves' table)

Each case is fitted twice with the package's exact path (``ScLSTM(kernel="exact")``,
unsupervised, guard on): once as it is (one network), once with ``--networks`` networks trained
on the same pairs and sequences — the first is the package's own, the others use
``random_state + 1000 r`` — whose P(same) matrices are averaged before the package's clustering
and guard (``use_networks`` below). The candidate lives here, not in the package; the rule for
adopting it was written before the runs (``benchmarks/results/seed_consensus/decision.md``).

Data: ``--simulated`` is the guard benchmark's grid (``acc_common.simulated_grid``, data seeds
11–28), ``--real`` the seven datasets. Labels only score. Writes
benchmarks/results/seed_consensus/<run>.tsv and a summary .md.
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
from acc_common import add_split_run_arguments, combine_parts, split_cases  # noqa: E402
from bench_core import write_tsv  # noqa: E402

import sclstm.estimator as est_mod  # noqa: E402
from sclstm.training import embed, pair_probabilities  # noqa: E402

RESULTS = HERE / "results" / "seed_consensus"
PACKAGE_TRAIN = est_mod.ScLSTM._train


def use_networks(n_networks: int) -> None:
    """Make the exact path train ``n_networks`` networks and cluster the mean of their P(same)."""
    extra = []

    def train(self, seqs, pairs, views):
        PACKAGE_TRAIN(self, seqs, pairs, views)  # network 1: the package's, pair for pair
        first, seed = (self.model_, self.history_), self.random_state
        extra.clear()
        for r in range(1, n_networks):  # the package's own training, with another seed
            self.random_state = seed + 1000 * r
            PACKAGE_TRAIN(self, seqs, pairs, views)
            extra.append((self.model_, embed(self.model_, seqs, self._device())))
        self.random_state = seed
        self.model_, self.history_ = first

    def mean_pair_probabilities(model, emb, device="cpu"):
        P = pair_probabilities(model, emb, device)
        for other, other_emb in extra:
            P += pair_probabilities(other, other_emb, device)
        return P / (1 + len(extra))

    est_mod.ScLSTM._train = train
    est_mod.pair_probabilities = mean_pair_probabilities


def rows_for(name: str, adata, truth: np.ndarray, k_true: int, seed: int, n_networks: int) -> list[dict]:
    rows = []
    for k_mode in ("given", "estimated"):
        for networks in (1, n_networks):
            use_networks(networks)
            t0 = time.perf_counter()
            est = est_mod.ScLSTM(n_clusters=k_true if k_mode == "given" else None, kernel="exact",
                                 random_state=seed).fit(adata)
            seconds = time.perf_counter() - t0
            learned_alone = est._cluster(est.similarity_, est.embedding_, est.n_clusters_)
            row = {"dataset": name, "k": k_mode, "k_used": int(est.n_clusters_), "seed": seed, "networks": networks,
                   "ARI": adjusted_rand_score(truth, est.labels_),
                   "ARI learned alone": adjusted_rand_score(truth, learned_alone),
                   "partition_from": est.summary_["partition_from"],
                   "seconds": round(seconds, 1)}
            print(row, flush=True)
            rows.append(row)
    return rows


def summarise(df: pd.DataFrame) -> str:
    lines = []
    for k_mode in ("given", "estimated"):
        sub = df[df.k == k_mode]
        wide = sub.pivot_table(index=["dataset", "seed"], columns="networks", values="ARI")
        one, many = wide.columns.min(), wide.columns.max()
        diff = wide[many] - wide[one]
        alone = sub.groupby("networks")["ARI learned alone"].mean()
        secs = sub.groupby("networks")["seconds"].mean()
        lines += [f"\nk {k_mode}: {len(wide)} fits per candidate.\n",
                  "| networks | mean ARI (final, guarded) | mean ARI, learned similarity alone | mean seconds per fit |",
                  "|---:|---:|---:|---:|"]
        for nets in (one, many):
            lines.append(f"| {nets} | {wide[nets].mean():.4f} | {alone[nets]:.4f} | {secs[nets]:.1f} |")
        lines.append(f"\nDifference {many} − {one}: mean {diff.mean():+.4f}; better by > 0.02 in "
                     f"{int((diff > 0.02).sum())} fits, worse by > 0.02 in {int((diff < -0.02).sum())}.")
    return "\n".join(lines)


def main(argv=None):
    import torch

    torch.set_num_threads(1)  # the guard benchmark's setting: two halves run side by side on two cores
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_split_run_arguments(ap, choose="decide here", check="check here")
    ap.add_argument("--seeds", default=None, help="comma-separated fit seeds (default 0,1 simulated; 0,1,2 real)")
    ap.add_argument("--networks", type=int, default=3, help="networks in the consensus (default 3)")
    args = ap.parse_args(argv)
    if args.combine:
        print(combine_parts(RESULTS, args.combine, "Consensus of networks", summarise))
        return
    seeds = [int(s) for s in (args.seeds or ("0,1" if args.simulated else "0,1,2")).split(",")]
    tag = ("simulated" if args.simulated else "real") + ("" if args.part is None else f"_part{args.part}")
    rows = [row for name, adata, truth, k in split_cases(args) for seed in seeds
            for row in rows_for(name, adata, truth, k, seed, args.networks)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    cmd = "benchmarks/seed_consensus.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_tsv(rows, RESULTS / f"{tag}.tsv", cmd, digits=4)
    text = summarise(pd.DataFrame(rows))
    (RESULTS / f"{tag}.md").write_text(f"# Consensus of networks, {tag}\n\n`{cmd}`\n{text}\n")
    print(text)


if __name__ == "__main__":
    main()
