"""Dask benchmark (issue 6): the landmark path on a Zarr store, fitted in one process and on a
``dask.distributed`` cluster, with the memory of the calling process and of the workers apart.

Run:  .venv/bin/python benchmarks/bench_dask.py [--cells 100000] [--workers 2]

Data: the scale benchmark's simulated file (``bench_scale``: human-kidney reference, 16 types,
2000 genes, seed 0; simulated when not cached), copied once into a Zarr store of 8,192-cell
chunks in benchmarks/results/scale/cache. Each run is a child process that opens the store with
``dask.array.from_zarr`` and calls ``ScLSTM(kernel="landmark", random_state=0).fit``:

* ``in-process``: no Client, Dask's threaded scheduler in the fitting process;
* ``cluster``: ``LocalCluster(n_workers=--workers, threads_per_worker=1)`` worker processes and
  a Client; the workers read, preprocess, take kernel rows and embed the chunks
  (``RowSource.map_chunks``), the calling process trains and clusters.

Memory is the resident set sampled every 20 ms: of the fitting process itself ("caller") and,
for the cluster run, of the worker processes together ("workers", the sum at each sample).
ARI, NMI, ACC and BAS are against the planted types; the two runs are also compared with each other (workers
embed with one thread, the caller with two, so the embeddings differ in the last bits).
Writes benchmarks/results/dask.tsv and dask.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import RESULTS, run_sampled, write_tsv  # noqa: E402
from bench_scale import ensure_data  # noqa: E402

FIT_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
zarr_path, workers, labels_out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import numpy as np
import dask.array as da
import sclstm
client = cluster = None
if workers:
    from dask.distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=50)
    client = Client(cluster)
X = da.from_zarr(zarr_path)
t1 = time.perf_counter()
est = sclstm.ScLSTM(kernel="landmark", random_state=0).fit(X)
t2 = time.perf_counter()
np.save(labels_out, est.labels_)
if client is not None:
    client.close(); cluster.close()
print(json.dumps(dict(seconds_total=t2 - t0, seconds_method=t2 - t1, k=int(est.n_clusters_))))
"""


def ensure_zarr(h5ad: Path) -> Path:
    """The counts of ``h5ad`` as a dense float32 Zarr array of 8,192-cell chunks (written once)."""
    import anndata as ad
    import numpy as np
    import zarr

    path = h5ad.with_suffix(".zarr")
    if path.exists():
        return path
    adata = ad.read_h5ad(h5ad, backed="r")
    n, g = adata.shape
    z = zarr.open_array(str(path), mode="w", shape=(n, g), chunks=(8192, g), dtype="float32")
    for start in range(0, n, 8192):
        block = adata.X[start:start + 8192]
        z[start:start + 8192] = np.asarray(block.toarray() if hasattr(block, "toarray") else block, dtype=np.float32)
    adata.file.close()
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    import anndata as ad
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    from sclstm.metrics import score

    h5ad, _ = ensure_data(RESULTS / "scale" / "cache", args.cells)
    store = ensure_zarr(h5ad)
    truth = ad.read_h5ad(h5ad, backed="r").obs["cell_type"].astype(str).to_numpy()
    rows, labels = [], {}
    for name, workers in (("in-process", 0), ("cluster", args.workers)):
        out_labels = RESULTS / "scale" / "cache" / f"dask_{name}_{args.cells}cells_labels.npy"
        out, own, kids = run_sampled([sys.executable, "-c", FIT_CHILD, str(store), str(workers), str(out_labels)])
        res = json.loads(out.strip().splitlines()[-1])
        labels[name] = np.load(out_labels)
        rows.append(dict(cells=args.cells, run=name, workers=workers, **res, caller_peak_gib=own,
                         workers_peak_gib=kids if workers else None, **score(truth, labels[name])))
        print(rows[-1], flush=True)
    agreement = adjusted_rand_score(labels["in-process"], labels["cluster"])
    command = "python benchmarks/bench_dask.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_tsv(rows, RESULTS / "dask.tsv", command)
    fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"# The landmark path on Dask ({time.strftime('%Y-%m-%d')})", "",
             f"`{command.strip()}`: {args.cells:,} simulated cells (16 planted types, 2000 genes) in a Zarr store "
             "of 8,192-cell chunks, `ScLSTM(kernel='landmark', random_state=0).fit(dask.array.from_zarr(...))`, "
             "unsupervised, k estimated, all cells scored. 2-core machine: the cluster's worker processes and "
             "the caller share the same two cores.", "",
             "| run | seconds (fit) | seconds (process) | caller peak GiB | workers' peak GiB (together) | k "
             "| ARI | NMI | ACC | BAS |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['run']} ({r['workers']} worker processes) | {r['seconds_method']:.1f} | {r['seconds_total']:.1f} | "
              f"{r['caller_peak_gib']:.2f} | {fmt(r['workers_peak_gib'])} | {r['k']} | {r['ARI']:.3f} | {r['NMI']:.3f} | "
              f"{r['ACC']:.3f} | {r['BAS']:.3f} |" for r in rows]
    lines += ["", f"ARI between the two runs' clusters: {agreement:.3f}."]
    (RESULTS / "dask.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
