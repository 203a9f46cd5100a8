"""Do group-balanced training pairs help? (issues 3 and 6)

Run:  .venv/bin/python benchmarks/balanced_pairs.py --simulated [--part 0|1]   # decide here
      .venv/bin/python benchmarks/balanced_pairs.py --landmark                 # the rule's (3)
      .venv/bin/python benchmarks/balanced_pairs.py --real                     # then check here
      .venv/bin/python benchmarks/balanced_pairs.py --combine simulated

Each fit is the package's ``ScLSTM`` (unsupervised, default settings) with one change: its
:class:`~sclstm.pairs.PairSource` draws cells with weight ∝ (size of the cell's atom)^(−b),
where the atom is the combination of its view labels (``BalancedPairs`` below). b = 0 is the
package's sampling. The candidate lives here, not in the package, until the rule of
``benchmarks/results/balanced_pairs/decision.md`` (written before the runs) adopts it.

Writes benchmarks/results/balanced_pairs/<run>.tsv and <run>.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from acc_common import add_split_run_arguments, combine_parts, run_tag, score_row, split_cases  # noqa: E402
from bench_core import RESULTS, write_tsv  # noqa: E402

from sclstm.pairs import PairSource  # noqa: E402

OUT = RESULTS / "balanced_pairs"
BALANCES = (0.0, 0.5, 1.0)


class BalancedPairs(PairSource):
    """PairSource drawing cells with weight ∝ atom size^(−b) (b = 0: the package's draw)."""

    def __init__(self, views, balance: float):
        super().__init__(views)
        self.balance = float(balance)
        sizes = np.bincount(self._atom).astype(np.float64)
        w = sizes[self._atom] ** -self.balance
        self._p_cells = w / w.sum()
        pos = sizes[self._atom] >= 2
        self._p_pos = w[pos] / w[pos].sum()
        # the atoms' members laid end to end, and each cell's rank within its atom: fixed, so
        # computed once here rather than for every batch
        self._order = self.cells[np.argsort(self._atom, kind="stable")]
        self._sizes = np.bincount(self._atom)
        self._start = np.concatenate([[0], np.cumsum(self._sizes)[:-1]])
        self._rank = np.empty(len(self.V), dtype=np.int64)
        self._rank[self._order] = np.arange(len(self._order)) - np.repeat(self._start, self._sizes)

    def _partners(self, rng, anchors):
        """Another member of each anchor's atom, drawn uniformly (vectorised)."""
        atom = self._atom_of[anchors]
        size = self._sizes[atom]
        return self._order[self._start[atom] + (self._rank[anchors] + 1 + rng.integers(size - 1)) % size]

    def sample(self, rng, n_pairs):
        if self.balance == 0:
            return super().sample(rng, n_pairs)
        n_pos = n_pairs // 2
        n_neg = n_pairs - n_pos
        a_pos = rng.choice(self._pos_anchor, size=n_pos, p=self._p_pos)
        b_pos = self._partners(rng, a_pos)
        a_neg = rng.choice(self.cells, size=n_neg, p=self._p_cells)
        b_neg = rng.choice(self.cells, size=n_neg, p=self._p_cells)
        for _ in range(self.max_tries):
            bad = (self.V[a_neg] == self.V[b_neg]).any(axis=1)
            if not bad.any():
                break
            b_neg[bad] = rng.choice(self.cells, size=int(bad.sum()), p=self._p_cells)
        ok = ~(self.V[a_neg] == self.V[b_neg]).any(axis=1)
        a = np.concatenate([a_pos, a_neg[ok]])
        b = np.concatenate([b_pos, b_neg[ok]])
        y = np.concatenate([np.ones(n_pos, np.float32), np.zeros(int(ok.sum()), np.float32)])
        return a, b, y


def patch(balance: float) -> None:
    """Make ScLSTM train on BalancedPairs with this b."""
    import sclstm.estimator as est_mod

    est_mod.ScLSTM._pair_source = lambda self, views: BalancedPairs(list(views.values()), balance)


def fit_row(name, adata, truth, k, seed, balance, **params) -> dict:
    import sclstm

    patch(balance)
    t0 = time.perf_counter()
    est = sclstm.ScLSTM(random_state=seed, **params).fit(adata)
    seconds = time.perf_counter() - t0
    kept = est.kept_cells_
    labels = np.full(len(truth), "dropped", dtype=object)
    labels[kept] = est.labels_.astype(str)
    row = dict(dataset=name, k_true=k, k_used=int(est.n_clusters_), seed=seed, balance=balance,
               partition_from=est.summary_.get("partition_from", ""),
               **{m: v for m, v in score_row(truth, {"labels": labels}).items() if m != "BAS_label"},
               seconds=round(seconds, 1))
    print(row, flush=True)
    return row


def summarise(df: pd.DataFrame) -> str:
    wide = df.pivot_table(index=["dataset", "seed"], columns="balance", values="ARI")
    base = wide[0.0]
    lines = ["", "ARI against the planted / published types, final labels; mean and median over fits, "
             "and the median per-fit difference from b = 0:", "",
             "| b | fits | mean ARI | median ARI | median difference from b = 0 | mean NMI | mean ACC | mean BAS |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for b in sorted(df["balance"].unique()):
        d = df[df["balance"] == b]
        lines.append(f"| {b:g} | {len(d)} | {d.ARI.mean():.4f} | {d.ARI.median():.4f} | "
                     f"{(wide[b] - base).median():+.4f} | {d.NMI.mean():.4f} | {d.ACC.mean():.4f} | {d.BAS.mean():.4f} |")
    per = df.groupby(["dataset", "balance"])["ARI"].median().unstack()
    lines += ["", "Per dataset, median ARI over seeds:", "",
              "| dataset | " + " | ".join(f"b = {b:g}" for b in per.columns) + " |",
              "|---|" + "---:|" * len(per.columns)]
    lines += [f"| {ds} | " + " | ".join(f"{v:.3f}" for v in r) + " |" for ds, r in per.iterrows()]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landmark", action="store_true", help="the 30,000-cell tuning files, landmark path, k estimated")
    if "--landmark" not in argv:
        add_split_run_arguments(ap, choose="decide here", check="check here")
    ap.add_argument("--seeds", default="0,1", help="fit seeds (default 0,1)")
    ap.add_argument("--balances", default=",".join(map(str, BALANCES)))
    args = ap.parse_args(argv)
    if getattr(args, "combine", None):
        print(combine_parts(OUT, args.combine, "Group-balanced pairs", summarise))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    balances = [float(b) for b in args.balances.split(",")]
    rows = []
    if args.landmark:
        from tuning_files import tuning_files

        tag = "landmark"
        targs = argparse.Namespace(sizes="30000", files_seeds="1,2", seeds=args.seeds, cache=RESULTS / "scale" / "cache")
        for n, file_seed, adata, truth, _reference in tuning_files(targs):
            for seed in seeds:
                for b in balances:
                    rows.append(fit_row(f"tuning_{n}cells_file{file_seed}", adata, truth, 16, seed, b,
                                        kernel="landmark"))
    else:
        tag = run_tag(args)
        for name, adata, truth, k in split_cases(args):
            for seed in seeds:
                for b in balances:
                    rows.append(fit_row(name, adata, truth, k, seed, b, n_clusters=k))
    OUT.mkdir(parents=True, exist_ok=True)
    cmd = "python benchmarks/balanced_pairs.py " + " ".join(argv)
    write_tsv(rows, OUT / f"{tag}.tsv", cmd, digits=4)
    text = summarise(pd.DataFrame(rows))
    (OUT / f"{tag}.md").write_text(f"# Group-balanced pairs, {tag}\n\n`{cmd}`\n{text}\n")
    print(text)


if __name__ == "__main__":
    main()
