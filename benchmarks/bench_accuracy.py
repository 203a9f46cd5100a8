"""Accuracy benchmark (issue 3): ScLSTM, its ablations and its peers on every dataset in
../shared/data (override with SCLSTM_DATA), 5 seeds each, in one run on the same
gene-filtered matrix (genes expressed in >= 3 cells). Truth: obs["cell_type"].

Run:  make bench-accuracy          (or: .venv/bin/python benchmarks/bench_accuracy.py)
      .venv/bin/python benchmarks/bench_accuracy.py --quick     (1 seed, 4 small datasets, ~5 min)

Units of work (``--methods``; one fit serves several rows where it can):
  sclstm          ScLSTM unsupervised defaults, k given; + KM/SC/AG on the same representation
  sclstm_kest     the same with k estimated (and KM/SC/AG at that k)
  labelled        ScLSTM labelled mode, labels of a stratified 80 %, scored on the other 20 %
  paper           ScLSTM paper configuration (literal kernel, concat head, 80 % labels), scored on 20 %
  kernel          the kernel alone: Ward on S, k given and estimated
  siglstm         sigLSTM: one LSTM branch, no pairs (LSTM autoencoder) + Ward, k given and estimated
  peers           scanpy Leiden (default resolution; resolution bisected to the true k), Ward / k-means on 50 PCs
  sc3s            SC3s consensus, k given
  peers_labelled  logistic regression and kNN on PCA, same 80/20 split as ScLSTM labelled

Every (dataset, unit, seed) result is cached in <results>/cache/ with a fingerprint of the
sclstm sources and the benchmark module; a rerun resumes and recomputes only what changed.
Outputs (in benchmarks/results/accuracy/ for the full default run, quick/ for --quick,
partial/ for any other selection, or --out): accuracy_long.tsv, accuracy_summary.tsv,
heatmap_{ARI,NMI,ACC,BAS}.png, tsne_<dataset>.png, REPORT.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from acc_common import COLUMNS, DATASETS, HELDOUT, dataset_path, fingerprint, load_dataset, score_row  # noqa: E402

UNITS = {  # name: (module file, function)
    "sclstm": ("sclstm_runs.py", "unit_sclstm"),
    "sclstm_kest": ("sclstm_runs.py", "unit_sclstm_kest"),
    "labelled": ("sclstm_runs.py", "unit_labelled"),
    "paper": ("sclstm_runs.py", "unit_paper"),
    "kernel": ("ablations.py", "unit_kernel"),
    "siglstm": ("ablations.py", "unit_siglstm"),
    "peers": ("peers.py", "unit_peers"),
    "sc3s": ("peers.py", "unit_sc3s"),
    "peers_labelled": ("peers.py", "unit_peers_labelled"),
}
QUICK_DATASETS = ["biase", "yan", "goolam", "blakeley"]
RESULTS = HERE / "results" / "accuracy"
THREADS = 1


def unit_function(unit: str):
    import importlib

    module, fn = UNITS[unit]
    return getattr(importlib.import_module(module[:-3]), fn)


def cache_paths(cache: Path, dataset: str, unit: str, seed: int):
    stem = cache / f"{dataset}__{unit}__s{seed}"
    return stem.with_suffix(".json"), stem.with_suffix(".npz")


def run_unit(cache: Path, dataset: str, unit: str, seed: int, data, fresh: bool):
    """Rows for one (dataset, unit, seed): from the cache when its fingerprint matches, else computed."""
    fp = fingerprint(UNITS[unit][0])
    jpath, npath = cache_paths(cache, dataset, unit, seed)
    if not fresh and jpath.exists():
        try:
            cached = json.loads(jpath.read_text())
            if cached.get("fingerprint") == fp:
                return cached["rows"], True
        except (ValueError, KeyError):
            pass
    adata, truth, k_true = data
    if THREADS:  # scanpy/numba reset torch's thread count; set it again before every unit
        import torch

        torch.set_num_threads(THREADS)
    t0 = time.perf_counter()
    try:
        raw, extra = unit_function(unit)(adata, truth, k_true, seed)
    except Exception as exc:  # a failed unit gives rows that say so; it is not cached
        traceback.print_exc()
        return [dict(dataset=dataset, method=f"[{unit}]", mode="", k="", k_true=k_true, k_used=np.nan, seed=seed,
                     cells_scored=0, ARI=np.nan, NMI=np.nan, ACC=np.nan, BAS=np.nan, BAS_label=np.nan,
                     seconds=np.nan, note=f"failed: {type(exc).__name__}: {exc}", unit=unit)], False
    rows, arrays = [], {}
    for i, r in enumerate(raw):
        s = score_row(truth, r)
        rows.append(dict(dataset=dataset, method=r["method"], mode=r["mode"], k=r["k"], k_true=k_true,
                         k_used=r["k_used"], seed=seed, cells_scored=s["cells_scored"],
                         ARI=s["ARI"], NMI=s["NMI"], ACC=s["ACC"], BAS=s["BAS"], BAS_label=s["BAS_label"],
                         seconds=r.get("seconds", np.nan), note=r.get("note", ""), unit=unit))
        if r.get("labels") is not None:
            arrays[f"labels_{i}"] = np.asarray(r["labels"]).astype(str)
    for key, val in extra.items():
        if isinstance(val, np.ndarray):
            arrays[f"extra_{key}"] = val
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(npath, **arrays)
    meta = {k: v for k, v in extra.items() if not isinstance(v, np.ndarray)}
    payload = {"fingerprint": fp, "dataset": dataset, "unit": unit, "seed": seed, "meta": meta,
               "unit_seconds": time.perf_counter() - t0,
               "rows": [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
                        for r in rows]}
    tmp = jpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    os.replace(tmp, jpath)
    return rows, False


def header_line(argv, threads=0) -> str:
    import sclstm
    from provenance import git_version

    cmd = "python benchmarks/bench_accuracy.py" + ("" if not argv else " " + " ".join(shlex.quote(a) for a in argv))
    return (f"# {datetime.date.today().isoformat()}  command: {cmd}  (sclstm {sclstm.__version__}, "
            f"{git_version()}, {os.cpu_count()} CPU cores, "
            f"torch threads {threads or 'default'})")


def write_tsv(df: pd.DataFrame, path: Path, header: str, float_format="%.4f"):
    with open(path, "w") as fh:
        fh.write(header + "\n")
        df.to_csv(fh, sep="\t", index=False, float_format=float_format)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true",
                   help=f"1 seed on {','.join(QUICK_DATASETS)} (results into quick/); under ~5 min on 2 cores")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 5; 1 with --quick)")
    p.add_argument("--datasets", default=None,
                   help=f"comma-separated subset of {','.join(DATASETS)}, or the held-out {','.join(HELDOUT)} "
                        "(write it first with benchmarks/heldout_data.py)")
    p.add_argument("--methods", default=None, help=f"comma-separated subset of units: {','.join(UNITS)}")
    p.add_argument("--out", default=None, help="output folder (default: see above)")
    p.add_argument("--fresh", action="store_true", help="ignore cached results (recompute everything selected)")
    p.add_argument("--report-only", action="store_true", help="rebuild tables/pictures/REPORT.md from the cache")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch, BLAS and OpenMP (default 1: on a shared 2-core machine more "
                        "threads oversubscribe and run many times slower; 0 = the libraries' defaults)")
    p.add_argument("--no-tsne", action="store_true", help="skip the t-SNE pictures")
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    seeds = list(range(args.seeds if args.seeds is not None else (1 if args.quick else 5)))
    datasets = args.datasets.split(",") if args.datasets else (QUICK_DATASETS if args.quick else DATASETS)
    units = args.methods.split(",") if args.methods else list(UNITS)
    bad = [d for d in datasets if d not in DATASETS + HELDOUT] + [u for u in units if u not in UNITS]
    if bad:
        sys.exit(f"unknown dataset or method: {', '.join(bad)} (datasets: {', '.join(DATASETS + HELDOUT)}; "
                 f"methods: {', '.join(UNITS)})")
    missing = [str(dataset_path(d)) for d in datasets if not dataset_path(d).exists()]
    if missing:
        sys.exit(f"data not found: {', '.join(missing)} (set SCLSTM_DATA for the seven; "
                 "benchmarks/heldout_data.py writes the held-out ones)")
    full = (datasets == DATASETS and units == list(UNITS) and len(seeds) == 5 and not args.quick)
    out = Path(args.out) if args.out else (RESULTS if full else RESULTS / ("quick" if args.quick else "partial"))
    out.mkdir(parents=True, exist_ok=True)
    cache = RESULTS / "cache"
    global THREADS
    import warnings

    if args.threads:  # BLAS and OpenMP pools too (sklearn's t-SNE, k-means): no oversubscription
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)

    warnings.filterwarnings("ignore", category=FutureWarning)
    THREADS = args.threads
    header = header_line(argv, args.threads)
    print(header, flush=True)

    rows = []
    t_all = time.perf_counter()
    for dataset in datasets:
        data = None
        for seed in seeds:
            for unit in units:
                if args.report_only:
                    jpath, _ = cache_paths(cache, dataset, unit, seed)
                    if jpath.exists():
                        rows += json.loads(jpath.read_text())["rows"]
                    continue
                if data is None:
                    data = load_dataset(dataset)
                t = time.perf_counter()
                got, hit = run_unit(cache, dataset, unit, seed, data, args.fresh)
                rows += got
                msg = "; ".join(f"{r['method']} k={r['k']}:{r['k_used']} ARI "
                                + ("nan" if r["ARI"] is None or r["ARI"] != r["ARI"] else f"{r['ARI']:.3f}")
                                for r in got)
                print(f"[{time.perf_counter() - t_all:6.0f}s] {dataset} {unit} seed {seed}"
                      f" {'(cached)' if hit else f'{time.perf_counter() - t:.1f}s'}: {msg}", flush=True)
    long = pd.DataFrame(rows, columns=COLUMNS)
    write_tsv(long, out / "accuracy_long.tsv", header)
    import report

    report.build(long, out, cache, header, datasets=datasets, seeds=seeds, tsne=not args.no_tsne)
    print(f"wrote {out} in {time.perf_counter() - t_all:.0f}s", flush=True)


if __name__ == "__main__":
    main()
