"""Core benchmark (issue "Python core"): accuracy and speed of ScLSTM on every dataset in
../shared/data, and time/peak memory on human_kidney_top2000 beside scanpy's standard pipeline.

Run:  make bench            (or: .venv/bin/python benchmarks/bench_core.py [--quick])

Every number is unsupervised (labels are read only to score), on all cells, seed 0.
Rows: ScLSTM with k given (true number of types) and k estimated, both pair heads, and the
kernel alone (Ward on S, no network) as the reference the learned similarity must not fall
below. Writes benchmarks/results/core.tsv and core_memory.tsv with a header line naming
the date and command.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np

from provenance import git_version

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = Path(os.environ.get("SCLSTM_DATA", REPO.parent / "shared" / "data"))
RESULTS = HERE / "results"
DATASETS = ["biase", "yan", "goolam", "pollen", "blakeley", "ting", "human_kidney_top2000"]


def accuracy_rows(quick: bool):
    import sclstm
    from sclstm.clustering import cluster_features
    from sclstm.kernel import sigmoid_kernel
    from sclstm.metrics import score
    from sclstm.preprocessing import Preprocessor
    from sclstm.validation import check_counts

    rows = []
    for name in DATASETS:
        adata = ad.read_h5ad(DATA / f"{name}.h5ad")
        truth = adata.obs["cell_type"].astype(str).to_numpy()
        k_true = len(set(truth))
        t = time.perf_counter()
        S = sigmoid_kernel(Preprocessor().fit_transform(check_counts(adata.X).X))
        lab = cluster_features(S, k_true)
        rows.append(dict(dataset=name, method="kernel only (Ward on S)", k="given", k_used=k_true,
                         seconds=time.perf_counter() - t, partition_from="kernel", **score(truth, lab)))
        configs = [("absdiff", k_true), ("concat", k_true), ("absdiff", None)]
        if quick:
            configs = configs[:1]
        for head, k in configs:
            t = time.perf_counter()
            est = sclstm.ScLSTM(n_clusters=k, head=head, random_state=0).fit(adata)
            rows.append(dict(dataset=name, method=f"ScLSTM unsupervised, head={head}",
                             k="given" if k else "estimated", k_used=est.n_clusters_,
                             seconds=time.perf_counter() - t, partition_from=est.summary_["partition_from"],
                             **score(truth, est.labels_)))
            print(name, rows[-1]["method"], rows[-1]["k"], est.n_clusters_, f"ARI {rows[-1]['ARI']:.3f}",
                  f"{rows[-1]['seconds']:.1f}s", flush=True)
    return rows


CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
which, path = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0  # 0: the benchmarks' own runs
import anndata as ad
from sclstm.metrics import score
adata = ad.read_h5ad(path)
truth = adata.obs["cell_type"].astype(str).to_numpy()
t1 = time.perf_counter()
if which == "sclstm":
    import sclstm
    est = sclstm.ScLSTM(n_clusters=None, random_state=seed).fit(adata)
    labels, k = est.labels_, est.n_clusters_
else:
    import scanpy as sc
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    sc.pp.highly_variable_genes(adata, n_top_genes=2000)
    adata = adata[:, adata.var.highly_variable].copy()
    sc.pp.scale(adata, max_value=10)
    sc.tl.pca(adata, n_comps=50, random_state=seed)
    sc.pp.neighbors(adata, random_state=seed)
    sc.tl.leiden(adata, random_state=seed, flavor="igraph", n_iterations=2, directed=False)
    labels = adata.obs["leiden"].to_numpy()
    k = len(set(labels))
m = score(truth, labels)
if "simulation" in adata.uns:  # simulated data: also against the reference types (perturbed ones folded in)
    from sklearn.metrics import adjusted_rand_score
    from sclstm.datasets import reference_types
    m["ARI_reference"] = adjusted_rand_score(reference_types(adata), labels)
print(json.dumps(dict(method=which, seconds_total=time.perf_counter() - t0, seconds_method=time.perf_counter() - t1,
                      k=k, **m)))
"""


def run_measured(args) -> tuple[str, float]:
    """Run a child process; return its stdout and its peak resident memory (GiB), sampled every 20 ms.

    (ru_maxrss is not used: Linux carries it across fork/exec, so a child would report its
    parent's high-water mark.)
    """
    out, peak, _ = run_sampled(args)
    return out, peak


def run_sampled(args) -> tuple[str, float, float]:
    """Run a child process; return its stdout, its own peak resident memory and the peak of
    its descendants' summed resident memory (GiB; e.g. Dask worker processes), every 20 ms."""
    import psutil

    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    own = kids = 0
    while proc.poll() is None:
        try:
            own = max(own, ps.memory_info().rss)
            kids = max(kids, sum(_rss(c) for c in ps.children(recursive=True)))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err[-2000:])
    return out, own / 2**30, kids / 2**30


def _rss(proc) -> int:
    """Resident memory of a process, 0 if it has just ended."""
    import psutil

    try:
        return proc.memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def memory_rows():
    path = DATA / "human_kidney_top2000.h5ad"
    rows = []
    for which in ("sclstm", "scanpy"):
        out, peak = run_measured([sys.executable, "-c", CHILD, which, str(path)])
        rows.append(dict(json.loads(out.strip().splitlines()[-1]), peak_rss_gib=peak))
        print(rows[-1], flush=True)
    a, b = rows
    ratio = dict(method="ratio sclstm / scanpy", seconds_total=a["seconds_total"] / b["seconds_total"],
                 seconds_method=a["seconds_method"] / b["seconds_method"], peak_rss_gib=a["peak_rss_gib"] / b["peak_rss_gib"])
    return rows + [ratio]


def write_tsv(rows, path: Path, command: str, digits: int = 3) -> None:
    """Rows (dicts) as a TSV whose first line holds the date, the command, the code's commit and
    the thread count."""
    cols = list(dict.fromkeys(c for r in rows for c in r))
    with open(path, "w") as fh:
        fh.write(f"# {datetime.date.today().isoformat()}  command: {command}  ({git_version()}, {os.cpu_count()}-core CPU, "
                 f"torch threads={__import__('torch').get_num_threads()})\n")
        fh.write("\t".join(cols) + "\n")
        for r in rows:
            fh.write("\t".join(f"{r[c]:.{digits}f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols) + "\n")
    print(f"wrote {path}")


def markdown_table(rows) -> str:
    """Datasets × configurations, ARI (and the k used), plus the mean over datasets."""
    configs = list(dict.fromkeys((r["method"], r["k"]) for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    head = "| method | k | " + " | ".join(datasets) + " | mean ARI |"
    lines = [head, "|" + "---|" * (len(datasets) + 3)]
    for method, k in configs:
        cells, aris = [], []
        for d in datasets:
            r = next(x for x in rows if x["dataset"] == d and x["method"] == method and x["k"] == k)
            aris.append(r["ARI"])
            cells.append(f"{r['ARI']:.2f}" + (f" (k={r['k_used']})" if k == "estimated" else ""))
        lines.append(f"| {method} | {k} | " + " | ".join(cells) + f" | {np.mean(aris):.3f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the default configuration with k given")
    parser.add_argument("--memory-only", action="store_true", help="only the kidney time/memory comparison with scanpy")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    command = " ".join(["python", "benchmarks/bench_core.py", *sys.argv[1:]])
    if not args.memory_only:
        rows = accuracy_rows(args.quick)
        write_tsv(rows, RESULTS / "core.tsv", command)
        (RESULTS / "core.md").write_text(markdown_table(rows))
        print(markdown_table(rows))
    write_tsv(memory_rows(), RESULTS / "core_memory.tsv", command)


if __name__ == "__main__":
    main()
