"""Compare two runs of the accuracy benchmark, fit by fit: which rows came out the same.

    .venv/bin/python benchmarks/compare_runs.py OLD/accuracy_long.tsv NEW/accuracy_long.tsv

For each method present in both (same dataset, mode, k and seed), prints how many fits gave the
same ARI (|Δ| < 1e-4), the largest change, the change of each dataset's median, and, where the
partition is unchanged, whether BAS moved (it depends on the matching's tie rule, not the fit).
"""
from __future__ import annotations

import argparse

import pandas as pd

KEYS = ["dataset", "method", "mode", "k", "seed"]


def compare(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    m = new.merge(old, on=KEYS, suffixes=("_new", "_old"))
    m["dARI"] = m["ARI_new"] - m["ARI_old"]
    m["same"] = m["dARI"].abs() < 1e-4
    return m


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    args = p.parse_args(argv)
    read = lambda path: pd.read_csv(path, sep="\t", comment="#")  # noqa: E731
    m = compare(read(args.old), read(args.new))
    for (method, k), g in m.groupby(["method", "k"], sort=False):
        medians = g.groupby("dataset")[["ARI_old", "ARI_new"]].median()
        moved = {d: round(v, 3) for d, v in (medians["ARI_new"] - medians["ARI_old"]).items() if abs(v) >= 5e-4}
        print(f"{method}, k {k}: {int(g['same'].sum())} of {len(g)} fits the same ARI, largest change "
              f"{g['dARI'].abs().max():.4f}; medians moved: {moved or 'none'}")
        changed = g[~g["same"]]
        for _, r in changed.iterrows():
            if method == "ScLSTM":
                print(f"    {r['dataset']} seed {r['seed']}: {r['ARI_old']:.4f} -> {r['ARI_new']:.4f}")
        same = g[g["same"]]
        bas = (same["BAS_new"] - same["BAS_old"]).abs()
        if (bas > 1e-4).any():
            print(f"    BAS moved on {int((bas > 1e-4).sum())} unchanged partitions (largest {bas.max():.4f})")


if __name__ == "__main__":
    main()
