"""Which rule should decide between the learned partition and the kernel's (the exact path's guard)?

The guard keeps Ward-on-S when the learned partition agrees less with label-free views kept out of
training. On Yan those views (average-linkage cosine, Ward on PCA) share Ward's taste for equal-sized
groups and side with the kernel although the learned partition is better. A new rule must be chosen
on data other than the seven scored datasets, so this script first scores candidate rules on
simulated data (``--simulated``, :func:`sclstm.datasets.simulate`, a fixed grid of sizes, type
numbers and two references, seeds 11+), and only then, once the rule is chosen, reports the same
rules on the seven datasets (``--real``) so the choice can be checked, not made, there.

Every candidate is evaluated on the same fit: ScLSTM unsupervised with the guard off gives the
learned partition; Ward on S (the guard's fallback) is recomputed from the same L and S.

    .venv/bin/python benchmarks/guard_criteria.py --simulated --seeds 0,1   # choose here
    .venv/bin/python benchmarks/guard_criteria.py --real --seeds 0,1,2      # then look here
    (each also as --part 0 and --part 1, which split the work in two, as the results were run)

``--part 0`` / ``--part 1`` split a run over two processes; ``--combine simulated`` (or ``real``)
then writes the table of both halves.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, silhouette_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from acc_common import add_split_run_arguments, combine_parts, run_tag, split_cases  # noqa: E402
from bench_core import write_tsv  # noqa: E402
from sclstm.pairs import guard_agreement  # noqa: E402

RESULTS = HERE / "results" / "guard_criteria"


def modularity(W, labels: np.ndarray) -> float:
    """Newman's modularity of ``labels`` on the symmetric weighted graph ``W``."""
    import scipy.sparse as sp

    codes = np.unique(labels, return_inverse=True)[1]
    M = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))))
    inside = (M @ W @ M.T).diagonal()
    degree = M @ np.asarray(W.sum(axis=1)).ravel()
    total = W.sum()
    return float(np.sum(inside / total - (degree / total) ** 2))


def partitions_and_views(adata, k: int, seed: int) -> dict:
    """The learned partition (guard off), the kernel's, and every label-free view, on one fit."""
    import scipy.sparse as sp
    from sclstm import ScLSTM
    from sclstm.clustering import relabel_by_size
    from sclstm.graph import fuzzy_graph
    from sclstm.kernel import ExactKernel
    from sclstm.pairs import VIEWS, label_free_views, principal_components
    from sclstm.preprocessing import Preprocessor

    est = ScLSTM(n_clusters=k, fallback=False, kernel="exact", random_state=seed).fit(adata)
    # L and S as fit() computes them (fit_transform): est.preprocessor_.transform and
    # est.kernel_.transform differ from them in the last bits (1e-6 on Yan).
    X = sp.csr_matrix(adata.X, dtype=np.float32)
    L = Preprocessor(est.preprocess, est.min_cells, est.n_top_genes).fit_transform(X)
    S = ExactKernel().fit_transform(L)
    k_used = est.n_clusters_
    views = label_free_views(L, S, k_used, random_state=seed, names=VIEWS)
    pcs = principal_components(np.asarray(L.toarray() if hasattr(L, "toarray") else L, dtype=np.float64), seed)
    return {"learned": est.labels_, "kernel": relabel_by_size(views["ward_kernel"]), "views": views,
            "pcs": pcs, "graph": fuzzy_graph(pcs), "k_used": k_used}


CRITERIA = {
    # score(partition, fit) -> larger is better; the guard keeps the kernel's when it scores higher
    "current: ARI with avg-cosine, Ward-PCA": lambda lab, f: guard_agreement(lab, f["views"]),
    "ARI with avg-cosine, Ward-PCA, Leiden": lambda lab, f: guard_agreement(lab, f["views"], ("average_cosine", "ward_pca", "leiden_pca")),
    "ARI with avg-cosine only": lambda lab, f: guard_agreement(lab, f["views"], ("average_cosine",)),
    "modularity on the fuzzy PCA graph": lambda lab, f: modularity(f["graph"], lab),
    "silhouette on 50 PCs": lambda lab, f: float(silhouette_score(f["pcs"], lab)) if len(np.unique(lab)) > 1 else -1.0,
}


def rows_for(name: str, adata, truth: np.ndarray, k_true: int, seed: int) -> list[dict]:
    rows = []
    for k_mode in ("given", "estimated"):
        t0 = time.perf_counter()
        fit = partitions_and_views(adata, k_true if k_mode == "given" else None, seed)
        ari = {p: adjusted_rand_score(truth, fit[p]) for p in ("learned", "kernel")}
        base = {"dataset": name, "k": k_mode, "k_used": fit["k_used"], "seed": seed,
                "ARI learned": ari["learned"], "ARI kernel": ari["kernel"],
                "seconds": round(time.perf_counter() - t0, 1)}
        for crit, score in CRITERIA.items():
            keep_kernel = score(fit["kernel"], fit) > score(fit["learned"], fit)
            rows.append({**base, "criterion": crit, "kept": "kernel" if keep_kernel else "learned",
                         "ARI kept": ari["kernel"] if keep_kernel else ari["learned"]})
        print(name, k_mode, {k: round(v, 3) for k, v in ari.items()}, flush=True)
    return rows


def summarise(df: pd.DataFrame) -> str:
    lines = []
    always = df.drop_duplicates(["dataset", "k", "seed"])
    for k_mode in ("given", "estimated"):
        a = always[always.k == k_mode]
        lines.append(f"\nk {k_mode}: {len(a)} fits. Mean ARI: always learned {a['ARI learned'].mean():.3f}, "
                     f"always kernel {a['ARI kernel'].mean():.3f}, "
                     f"better of the two (oracle) {np.maximum(a['ARI learned'], a['ARI kernel']).mean():.3f}\n")
        lines.append("| criterion | mean ARI kept | fits where it kept the worse by > 0.02 |")
        lines.append("|---|---:|---:|")
        sub = df[df.k == k_mode]
        for crit, g in sub.groupby("criterion", sort=False):
            best = np.maximum(g["ARI learned"], g["ARI kernel"])
            lines.append(f"| {crit} | {g['ARI kept'].mean():.3f} | {int((best - g['ARI kept'] > 0.02).sum())} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_split_run_arguments(ap, choose="choose a rule here", check="check the chosen rule")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    args = ap.parse_args(argv)
    if args.combine:
        print(combine_parts(RESULTS, args.combine, "Guard criteria", summarise))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    tag = run_tag(args)
    rows = []
    for name, adata, truth, k in split_cases(args):
        for seed in seeds:
            rows.extend(rows_for(name, adata, truth, k, seed))
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    cmd = "benchmarks/guard_criteria.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_tsv(rows, RESULTS / f"{tag}.tsv", cmd)
    text = summarise(df)
    (RESULTS / f"{tag}.md").write_text(f"# Guard criteria, {tag}\n\n`{cmd}`\n{text}\n")
    print(text)


if __name__ == "__main__":
    main()
