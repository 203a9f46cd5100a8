"""Shared pieces of the accuracy benchmark: datasets, scoring, cache fingerprints."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = Path(os.environ.get("SCLSTM_DATA", REPO.parent / "shared" / "data"))
DATASETS = ["biase", "yan", "goolam", "pollen", "blakeley", "ting", "human_kidney_top2000"]
# Real labelled data outside the seven, never used to choose anything (heldout_data.py writes it).
HELDOUT_DATA = HERE / "heldout-data"
HELDOUT = ["pbmc68k_reduced", "zeisel", "cbmc"]
MIN_CELLS = 3  # genes expressed in >= 3 cells: the one gene filter every method sees

METRICS = ["ARI", "NMI", "ACC", "BAS"]
COLUMNS = ["dataset", "method", "mode", "k", "k_true", "k_used", "seed", "cells_scored", "ARI", "NMI", "ACC",
           "BAS", "BAS_label", "seconds", "note", "unit"]


def dataset_path(name: str) -> Path:
    """Where a dataset's file is: ../shared/data (SCLSTM_DATA) for the seven, benchmarks/heldout-data for
    the held-out ones."""
    return (HELDOUT_DATA if name in HELDOUT else DATA) / f"{name}.h5ad"


def load_dataset(name: str):
    """The dataset with genes expressed in >= 3 cells (the same matrix for every method), and its truth."""
    import anndata as ad
    import scipy.sparse as sp
    from sclstm.preprocessing import filter_genes

    adata = ad.read_h5ad(dataset_path(name))
    X = sp.csr_matrix(adata.X)
    kept = filter_genes(X, MIN_CELLS)
    adata = adata[:, kept].copy()
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    truth = adata.obs["cell_type"].astype(str).to_numpy()
    return adata, truth, int(len(np.unique(truth)))


SIM_CELLS = (100, 300, 1000)
SIM_TYPES = (6, 12, 16)
SIM_REFERENCES = ("kidney", "demo")


def simulated_grid(part: int | None = None, first_seeds=(11,)):
    """Simulated datasets for choosing a rule away from the seven scored ones: every
    reference (human kidney, the package's demo) × cells × types, data seed ``first + i`` for
    the grid's i-th point and each ``first`` in ``first_seeds``; ``part`` 0 / 1 keeps every other
    point. Yields (name, AnnData, truth, number of types)."""
    import itertools

    import anndata as ad
    from sclstm.datasets import simulate

    kidney = ad.read_h5ad(DATA / "human_kidney_top2000.h5ad")
    grid = list(itertools.product(SIM_REFERENCES, SIM_CELLS, SIM_TYPES))
    for first in first_seeds:
        for i, (ref, n, t) in enumerate(grid):
            if part is not None and i % 2 != part:
                continue
            a = simulate(n, n_types=t, reference=kidney if ref == "kidney" else None, random_state=first + i)
            truth = a.obs["cell_type"].astype(str).to_numpy()
            suffix = "" if first == 11 else f"_seed{first + i}"
            yield f"sim_{ref}_{n}cells_{t}types{suffix}", a, truth, len(np.unique(truth))


def real_cases(part: int | None = None, names=None):
    """The seven datasets (or ``names``, e.g. ``HELDOUT``) as (name, AnnData, truth, number of
    types); ``part`` 0 / 1 keeps every other one (to split a run over two processes)."""
    for i, name in enumerate(DATASETS if names is None else names):
        if part is None or i % 2 == part:
            adata, truth, k = load_dataset(name)
            yield name, adata, truth, k


def add_split_run_arguments(ap, choose: str, check: str) -> None:
    """``--simulated`` (decide on the grid) / ``--real`` (then check on the seven) / ``--combine``,
    and ``--part``: the options of the scripts that decide away from the seven datasets."""
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--simulated", action="store_true", help=f"the simulated grid ({choose})")
    which.add_argument("--real", action="store_true", help=f"the seven datasets ({check})")
    which.add_argument("--heldout", action="store_true",
                       help=f"the held-out real datasets ({', '.join(HELDOUT)}; benchmarks/heldout_data.py "
                            "writes them): evidence from real data no default was chosen on")
    which.add_argument("--combine", choices=("simulated", "real", "heldout"),
                       help="merge the two --part TSVs of that run into one table (<run>.md)")
    ap.add_argument("--part", type=int, choices=(0, 1), help="every other case, to split the run over two processes")


def split_cases(args):
    """The cases an ``add_split_run_arguments`` run covers."""
    if args.simulated:
        return simulated_grid(args.part)
    return real_cases(args.part, HELDOUT if getattr(args, "heldout", False) else None)


def run_tag(args) -> str:
    """The name of an ``add_split_run_arguments`` run's files: simulated / real / heldout[_part<p>]."""
    tag = "simulated" if args.simulated else "heldout" if getattr(args, "heldout", False) else "real"
    return tag + ("" if args.part is None else f"_part{args.part}")


def write_run(results: Path, args, rows: list[dict], title: str, summarise, argv=None) -> str:
    """Write one ``add_split_run_arguments`` run's ``<run>[_part<p>].tsv`` (header: date and
    command) and its summary ``.md``; returns the summary."""
    import sys

    import pandas as pd
    from bench_core import write_tsv

    tag = run_tag(args)
    results.mkdir(parents=True, exist_ok=True)
    cmd = f"benchmarks/{Path(sys.argv[0]).name} " + " ".join(argv if argv is not None else sys.argv[1:])
    write_tsv(rows, results / f"{tag}.tsv", cmd, digits=4)
    text = summarise(pd.DataFrame(rows))
    (results / f"{tag}.md").write_text(f"# {title}, {tag}\n\n`{cmd}`\n{text}\n")
    return text


def combine_parts(results: Path, run: str, title: str, summarise) -> str:
    """Write ``<run>.md`` from the two ``<run>_part{0,1}.tsv`` halves; returns the summary."""
    import pandas as pd

    parts = [results / f"{run}_part{p}.tsv" for p in (0, 1)]
    df = pd.concat([pd.read_csv(p, sep="\t", comment="#") for p in parts], ignore_index=True)
    heads = "\n".join(f"- `{p.name}`: {p.read_text().splitlines()[0].lstrip('# ')}" for p in parts)
    text = summarise(df)
    (results / f"{run}.md").write_text(f"# {title}, {run}\n\nBoth halves of the run together:\n{heads}\n{text}\n")
    return text


def _balanced_recall(truth: np.ndarray, pred: np.ndarray) -> float:
    classes = np.unique(truth)
    return float(np.mean([np.mean(pred[truth == c] == c) for c in classes]))


def predicted_classes(labels: np.ndarray, truth: np.ndarray, train_mask: np.ndarray) -> np.ndarray:
    """Clusters → class names using only the training cells: each cluster takes the majority
    label of its training cells (ties: alphabetical); a cluster without one predicts nothing."""
    labels = np.asarray(labels).astype(str)
    out = np.full(len(labels), "(cluster without labelled cells)", dtype=object)
    for c in np.unique(labels):
        in_c = labels == c
        tr = truth[in_c & train_mask]
        if len(tr):
            vals, counts = np.unique(tr, return_counts=True)
            out[in_c] = vals[np.argmax(counts)]
    return out


def score_row(truth: np.ndarray, row: dict) -> dict:
    """ARI/NMI/ACC/BAS (sclstm.metrics) on the scored cells: ACC and BAS after Hungarian matching
    for clusterings, by name for rows that predict types (``predicts="classes"``: a matching would
    count a type predicted under another's name as right; before 2026-12-07 they were matched too).
    BAS_label for labelled modes = balanced accuracy of predicted class names (no matching on
    scored cells). A cell without a cluster (NaN) is refused by ``score``, not scored as "nan"."""
    from sclstm.metrics import score

    out = {m: np.nan for m in METRICS}
    out["BAS_label"] = np.nan
    scored = row.get("scored")
    scored = np.ones(len(truth), dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    out["cells_scored"] = int(scored.sum())
    labels = row.get("labels")
    if labels is None:
        return out
    lab = np.where(pd.isna(labels), None, np.asarray(labels).astype(str)).astype(object)
    out.update(score(truth[scored], lab[scored], matched=row.get("predicts") != "classes"))
    train = row.get("train_mask")
    if train is not None:
        pred = lab if row.get("predicts") == "classes" else predicted_classes(lab, truth, train)
        out["BAS_label"] = _balanced_recall(truth[scored], np.asarray(pred)[scored])
    return out


def _hash_files(paths) -> str:
    h = hashlib.sha1()
    for p in sorted(paths):
        h.update(Path(p).name.encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:12]


def fingerprint(module_file: str) -> str:
    """Changes when the sclstm package's code, the unit's module or this file change."""
    import sclstm

    pkg = Path(sclstm.__file__).resolve().parent
    files = list(pkg.glob("*.py")) + [HERE / module_file, HERE / "acc_common.py"]
    return _hash_files(files)
