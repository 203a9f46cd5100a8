"""GPU check (issue 6): the same ScLSTM fits on the CPU and on CUDA, compared.

Run (on a machine whose torch sees a CUDA GPU):
    SCLSTM_DATA=... python benchmarks/bench_gpu.py --out DIR [--budget-s 420]
Dry run of the harness without a GPU: ``--gpu cpu`` (then "CUDA" rows are CPU rows).

Unsupervised mode, seed 0, default settings; labels are read only to score. Stages, in this
order, each skipped once ``--budget-s`` seconds have passed so that the tables are always
written:

1. exact path, k given, on the seven real datasets: a CPU fit, a CUDA fit and a second CUDA
   fit with the same seed;
2. landmark path, k estimated, on a simulated file of ``--sim-cells`` cells (16 types, 2000
   genes, the human kidney reference, data seed 0, as bench_scale): CPU, CUDA, CUDA again;
3. exact path, k estimated, on the seven: CPU and CUDA.

Per fit: ARI/NMI/ACC/BAS against the labels, k used, seconds of the fit, peak CUDA memory
allocated by torch (``torch.cuda.max_memory_allocated``; host memory is not measured per fit).
Per pair of fits: ARI between the two partitions, whether the embeddings are identical, and
for CPU-trained models the largest difference between the embedding computed on the CPU and
the same model's embedding computed on CUDA (inference alone, same weights).

Writes DIR/gpu_fits.tsv, DIR/gpu_pairs.tsv and DIR/gpu.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from acc_common import DATASETS, load_dataset  # noqa: E402
from bench_accuracy import write_tsv  # noqa: E402
from bench_scale import N_GENES, N_TYPES, REFERENCE, SEED  # noqa: E402  (the scale benchmark's simulation)

FIT_COLUMNS = ["stage", "dataset", "cells", "kernel", "k", "device", "run", "k_used", "ARI", "NMI", "ACC", "BAS",
               "seconds", "cuda_peak_gib", "error"]
PAIR_COLUMNS = ["stage", "dataset", "k", "pair", "ARI_between", "same_k", "embeddings_identical",
                "inference_max_abs_diff"]

class Clock:
    def __init__(self, budget_s: float):
        self.t0, self.budget_s = time.perf_counter(), budget_s

    def left(self) -> bool:
        return time.perf_counter() - self.t0 < self.budget_s


def fit_once(adata, truth, k, kernel: str, device: str):
    """One unsupervised fit; returns (row fields, estimator or None)."""
    import sclstm
    from sclstm.metrics import score

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    try:
        est = sclstm.ScLSTM(n_clusters=k, random_state=0, kernel=kernel, device=device).fit(adata)
    except Exception as exc:  # one failure must not lose the other rows
        return dict(error=f"{type(exc).__name__}: {exc}"[:300]), None
    seconds = time.perf_counter() - t
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    return dict(k_used=int(est.n_clusters_), seconds=seconds, cuda_peak_gib=peak, error="",
                **score(truth, est.labels_)), est


def compare(a, b, adata, gpu: str, check_inference: bool) -> dict:
    from sklearn.metrics import adjusted_rand_score

    out = dict(ARI_between=float(adjusted_rand_score(a.labels_, b.labels_)), same_k=a.n_clusters_ == b.n_clusters_,
               embeddings_identical=bool(np.array_equal(a.embedding_, b.embedding_)), inference_max_abs_diff="")
    if check_inference:  # a's model (trained on the CPU): the cells' embedding on the CPU and on the GPU
        device = a.device
        try:
            a.device = "cpu"
            on_cpu = a.transform(adata)
            a.device = gpu
            on_gpu = a.transform(adata)
        finally:
            a.device = device
        out["inference_max_abs_diff"] = float(np.max(np.abs(on_gpu - on_cpu)))
    return out


def run_pairs(stage, name, adata, truth, k, kernel, gpu, repeat, fits, pairs, log):
    """CPU fit, GPU fit, and (``repeat``) a second GPU fit; rows appended to fits/pairs."""
    kmode = "given" if k is not None else "estimated"
    shown = {"cpu": f"cpu ({torch.get_num_threads()} threads)",
             "gpu": "cuda" if gpu.startswith("cuda") else f"{gpu} standing in for cuda"}
    ests = {}
    for role, run in [("cpu", 1), ("gpu", 1)] + ([("gpu", 2)] if repeat else []):
        row, est = fit_once(adata, truth, k, kernel, "cpu" if role == "cpu" else gpu)
        row = dict(stage=stage, dataset=name, cells=adata.n_obs, kernel=kernel, k=kmode, device=shown[role], run=run,
                   **row)
        fits.append(row)
        log(row)
        ests[role, run] = est
    for x, y, label in [(("cpu", 1), ("gpu", 1), "cpu vs cuda"), (("gpu", 1), ("gpu", 2), "cuda vs cuda (same seed)")]:
        if ests.get(x) is not None and ests.get(y) is not None:
            p = dict(stage=stage, dataset=name, k=kmode, pair=label,
                     **compare(ests[x], ests[y], adata, gpu, check_inference=(label == "cpu vs cuda" and kernel == "exact")))
            pairs.append(p)
            log(p)


def markdown(fits, pairs, header) -> str:
    lines = [f"# GPU check: CPU and CUDA fits compared\n\n{header}\n",
             "Unsupervised, seed 0, all cells scored; seconds are the fit alone; CUDA peak is torch's "
             "max_memory_allocated (host memory not measured).\n",
             "| stage | dataset | cells | kernel | k | device | run | k used | ARI | NMI | ACC | BAS | s | CUDA GiB |",
             "|---|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in fits:
        if r.get("error"):
            lines.append(f"| {r['stage']} | {r['dataset']} | {r['cells']} | {r['kernel']} | {r['k']} | {r['device']} | "
                         f"{r['run']} | failed: {r['error']} | | | | | | |")
            continue
        gib = "" if np.isnan(r["cuda_peak_gib"]) else f"{r['cuda_peak_gib']:.2f}"
        lines.append(f"| {r['stage']} | {r['dataset']} | {r['cells']} | {r['kernel']} | {r['k']} | {r['device']} | "
                     f"{r['run']} | {r['k_used']} | {r['ARI']:.3f} | {r['NMI']:.3f} | {r['ACC']:.3f} | {r['BAS']:.3f} | "
                     f"{r['seconds']:.1f} | {gib} |")
    lines += ["", "| stage | dataset | k | pair | ARI between | same k | embeddings identical | inference max abs diff |",
              "|---|---|---|---|---:|---|---|---:|"]
    for p in pairs:
        inf = p["inference_max_abs_diff"]
        lines.append(f"| {p['stage']} | {p['dataset']} | {p['k']} | {p['pair']} | {p['ARI_between']:.3f} | "
                     f"{p['same_k']} | {p['embeddings_identical']} | {'' if inf == '' else f'{inf:.2e}'} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "gpu")
    ap.add_argument("--gpu", default="cuda", help="the device compared with the CPU (default cuda; cpu = dry run)")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--sim-cells", type=int, default=100_000, help="cells of the landmark stage (0: skip it)")
    ap.add_argument("--budget-s", type=float, default=420.0, help="start no stage after this many seconds")
    args = ap.parse_args()

    import sclstm

    if args.gpu.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("torch sees no CUDA GPU here; use --gpu cpu for a dry run")
    args.out.mkdir(parents=True, exist_ok=True)
    gpu_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    header = (f"{time.strftime('%Y-%m-%d')}  command: python benchmarks/bench_gpu.py {' '.join(sys.argv[1:])}  "
              f"(sclstm {sclstm.__version__}, torch {torch.__version__}, GPU {gpu_name}, "
              f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, Python {platform.python_version()})")
    print(header, flush=True)
    clock = Clock(args.budget_s)
    fits, pairs = [], []

    def log(row):
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
        write_tsv(pd.DataFrame(fits, columns=FIT_COLUMNS), args.out / "gpu_fits.tsv", f"# {header}")
        write_tsv(pd.DataFrame(pairs, columns=PAIR_COLUMNS), args.out / "gpu_pairs.tsv", f"# {header}",
                  float_format="%.6g")  # the inference difference is ~1e-5

    names = [n for n in args.datasets.split(",") if n]
    loaded = {n: load_dataset(n) for n in names}
    for name in names:  # stage 1
        if clock.left():
            adata, truth, k = loaded[name]
            run_pairs("1 exact", name, adata, truth, k, "exact", args.gpu, True, fits, pairs, log)
    if args.sim_cells and clock.left():  # stage 2
        import anndata as ad

        from sclstm.datasets import simulate

        path = Path(tempfile.gettempdir()) / f"sclstm_gpu_sim_{args.sim_cells}.h5ad"
        t = time.perf_counter()
        simulate(args.sim_cells, n_types=N_TYPES, reference=str(REFERENCE), n_genes=N_GENES, path=str(path),
                 random_state=SEED)
        print(f"simulated {args.sim_cells} cells in {time.perf_counter() - t:.1f} s", flush=True)
        sim = ad.read_h5ad(path)
        run_pairs("2 landmark", f"simulated {args.sim_cells}", sim, sim.obs["cell_type"].astype(str).to_numpy(), None,
                  "landmark", args.gpu, True, fits, pairs, log)
        del sim
        path.unlink(missing_ok=True)
    for name in names:  # stage 3
        if clock.left():
            adata, truth, _ = loaded[name]
            run_pairs("3 exact", name, adata, truth, None, "exact", args.gpu, False, fits, pairs, log)
    table = markdown(fits, pairs, header)
    (args.out / "gpu.md").write_text(table)
    print(table, flush=True)

if __name__ == "__main__":
    main()
