"""The simulated files that the landmark path's defaults are decided on, and the loop over them.

Shared by the experiments that tune the landmark path (``landmark_views.py``,
``min_cluster_size.py``, ``hard_negatives.py``, ``all_cells_teacher.py``, ``pseudo_classes.py``): files made by ``bench_scale.ensure_data`` with
random_state 1 and 2 (never the scale benchmark's own, random_state 0), at 30k and 100k cells,
fitted with seeds 0 and 1 unless the command line says otherwise.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import RESULTS, write_tsv  # noqa: E402
from bench_scale import ensure_data  # noqa: E402


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--sizes", default="30000,100000")
    ap.add_argument("--files-seeds", default="1,2", help="random_state of the simulated tuning files")
    ap.add_argument("--seeds", default="0,1", help="fit seeds")
    ap.add_argument("--cache", type=Path, default=RESULTS / "scale" / "cache")


def fit_seeds(args) -> list[int]:
    return [int(s) for s in args.seeds.split(",")]


def tuning_files(args):
    """Yield (cells, file_seed, adata, planted types, reference types) for every tuning file,
    simulating the files not yet in the cache."""
    import anndata as ad
    from sclstm.datasets import reference_types

    for n in map(int, args.sizes.split(",")):
        for file_seed in map(int, args.files_seeds.split(",")):
            adata = ad.read_h5ad(ensure_data(args.cache, n, file_seed)[0])
            yield n, file_seed, adata, adata.obs["cell_type"].astype(str).to_numpy(), reference_types(adata)


def scores(truth, reference, labels, kept=slice(None)) -> dict:
    """ARI of ``labels`` against the planted and the reference types of the cells ``kept``."""
    from sklearn.metrics import adjusted_rand_score

    return dict(ARI=adjusted_rand_score(truth[kept], labels), ARI_reference=adjusted_rand_score(reference[kept], labels))


def fit_candidates(args, column: str, values, setup) -> list[dict]:
    """One landmark fit of the package (``ScLSTM(kernel="landmark")``, unsupervised, k estimated)
    per tuning file, fit seed and candidate ``value``, after ``setup(value)`` has put the package
    in that candidate's state. ``setup`` may return a function that gives extra columns once the fit
    is done. One row per fit (printed as it comes): ``column`` holds the value."""
    import sclstm

    rows = []
    for n, file_seed, adata, truth, reference in tuning_files(args):
        for seed in fit_seeds(args):
            for value in values:
                extra = setup(value)
                t0 = time.perf_counter()
                est = sclstm.ScLSTM(kernel="landmark", random_state=seed).fit(adata.X)
                seconds = time.perf_counter() - t0
                row = dict(cells=n, file_seed=file_seed, seed=seed, **{column: value}, k=int(est.n_clusters_),
                           **scores(truth, reference, est.labels_, est.kept_cells_),
                           **(extra() if extra else {}), fit_seconds=seconds)
                print(row, flush=True)
                rows.append(row)
    return rows


def write_and_summarise(rows: list[dict], out: Path, script: str, by: str) -> None:
    """tuning.tsv under ``out`` (with the command line), and the mean ARIs per candidate printed."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    write_tsv(rows, out / "tuning.tsv", f"python benchmarks/{script} " + " ".join(sys.argv[1:]), digits=4)
    print(pd.DataFrame(rows).groupby(by)[["ARI", "ARI_reference"]].mean().round(4).to_string())
