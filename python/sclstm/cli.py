"""The ``sclstm`` command: ``cluster``, ``apply``, ``score`` and ``demo``."""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .estimator import AUTO_EXACT_MAX_CELLS, KERNEL_CHOICES, MAX_EXACT_CELLS, ScLSTM
from .io._files import check_replaceable
from .model import HEADS
from .preprocessing import PREPROCESS_METHODS
from .validation import InputError, missing_labels

DEFAULTS = ScLSTM().get_params()  # the options' defaults are the estimator's, never typed twice


def _add_model_options(p: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    p.add_argument("--n-clusters", type=int, default=None, metavar="K",
                   help="number of cell types (default: estimated from the data; with --labels-key, the number "
                        "of classes among the labels used)")
    p.add_argument("--seed", type=int, default=d["random_state"],
                   help=f"random seed; the same seed gives the same clusters at the same OMP_NUM_THREADS "
                        f"(default {d['random_state']})")
    p.add_argument("--n-steps", type=int, default=d["n_steps"],
                   help=f"training steps of the siamese LSTM (default {d['n_steps']})")
    p.add_argument("--head", choices=HEADS, default=d["head"],
                   help=f"pair head: absdiff (measured better) or concat (the paper's); default {d['head']}")
    p.add_argument("--preprocess", choices=PREPROCESS_METHODS, default=d["preprocess"],
                   help="scaled (normalised log expression of variable genes, each gene scaled to unit variance), "
                        "normalised (centred, not scaled) or paper: log(A+1) of all kept genes as Jiang et al.; "
                        f"default {d['preprocess']}")
    p.add_argument("--kernel", choices=KERNEL_CHOICES, default=d["kernel"],
                   help=f"exact (n × n, up to {MAX_EXACT_CELLS:,} cells), landmark (n × {d['n_landmarks']} "
                        f"landmarks, memory linear in n) or auto (exact up to {AUTO_EXACT_MAX_CELLS:,} cells, "
                        f"landmark above); default {d['kernel']}")
    p.add_argument("--quiet", action="store_true", help="no progress bar (notes and warnings still go to stderr)")


def _add_input_options(p: argparse.ArgumentParser) -> None:
    """--layer for .h5ad, --assay and --cells-in-rows for R files: how the counts are read."""
    p.add_argument("--layer", default=None, help="use adata.layers[LAYER] instead of X ('raw': adata.raw.X, "
                   "where some workflows keep the counts, unless a layer has that name)")
    p.add_argument("--assay", default=None, help="R files: the assay with the counts (default: 'counts', else the "
                   "first; Seurat: the default assay)")
    p.add_argument("--cells-in-rows", action="store_true", help="R files holding a bare matrix or data.frame: "
                   "its rows are cells (default: rows are genes, R's convention; SingleCellExperiment and "
                   "Seurat objects say which are cells themselves, and ignore it)")


def _read_counts_file(args):
    """INPUT as ``cluster`` and ``apply`` read it (--assay, --cells-in-rows), with what an .rds
    output needs (R through rpy2, unique names) checked before any work, not after it."""
    from .io import check_names_for_r, output_is_r, read_input

    r_out = output_is_r(args.out)
    if r_out:  # before: found when writing, after the whole fit
        from .io._r import _R

        _R.get()
    adata = read_input(args.input, args.assay, False if args.cells_in_rows else None)
    if r_out:
        check_names_for_r(adata)
    return adata


def _summary_lines(adata, est_summary: dict, seconds: float, key: str) -> list[str]:
    s = est_summary
    k_line = f"k = {s['n_clusters']} ({s['k_method']})"
    lines = [
        f"cells: {s['n_cells']}   genes in: {s['n_genes_in']}   kept (>= {s['params']['min_cells']} cells): "
        f"{s['n_genes_kept']}   used: {s['n_genes_used']}",
        f"mode: {s['mode']}   {k_line}   partition from: {s['partition_from']}",
        f"kernel: {cli_spelling(s['kernel_choice'])}   estimated peak memory beyond the input: "
        f"{s['memory_estimate_gib']:.2f} GiB",
    ]
    if s["mode"] == "labelled":
        others = int((~adata.obs[f"{key}_labelled"].to_numpy(dtype=bool)).sum())
        advice = f"score the other {others}" if others else "no cell is left to score honestly"
        lines.append(f"labels used for training: {s['n_labelled_cells_used']} cells (obs['{key}_labelled']); {advice}")
        lines.append(f"predicted type of every cell: obs['{key}_predicted'] (probability: obs['{key}_predicted_confidence'])")
    if s["n_empty_cells_dropped"]:
        lines.append(f"dropped {s['n_empty_cells_dropped']} cells with no counts in the genes read (their cluster is empty)")
    sizes = adata.obs[key].value_counts().sort_index()
    lines.append("cluster sizes: " + ", ".join(f"{c}:{n}" for c, n in sizes.items()))
    lines.append(f"seconds: {seconds:.1f}")
    return lines


def check_model_path(path: str, *others: str) -> None:
    """--save-model: a .pt file in an existing folder, not one of the command's other files;
    checked before training, which takes minutes."""
    target = Path(path).expanduser()
    if target.suffix.lower() != ".pt":
        raise InputError(f"--save-model {path}: name the model file with the .pt suffix (a torch file).")
    check_replaceable(target, f"--save-model {path}")
    if any(target.resolve() == Path(o).expanduser().resolve() for o in others):
        raise InputError(f"--save-model {path} names the input or output file; give the model its own file.")


def cmd_cluster(args) -> int:
    from .io import check_not_input, check_writable, output_is_r, write_output
    from .tl import fit_anndata, write_results

    check_writable(args.out)
    check_not_input(args.out, args.input)
    if args.save_model:
        check_model_path(args.save_model, args.input, args.out)
    if args.plot:
        from .pl import check_picture_path

        check_picture_path(args.plot, "--plot")
    t0 = time.perf_counter()
    adata = _read_counts_file(args)
    labelled_fraction = args.labelled_fraction
    if args.labelled_fraction is not None and args.labels_key is None:
        raise InputError("--labelled-fraction needs --labels-key (the obs column holding the labels).")
    est = fit_anndata(adata, n_clusters=args.n_clusters, layer=args.layer, labels_key=args.labels_key,
                      labelled_fraction=labelled_fraction, random_state=args.seed, n_steps=args.n_steps,
                      head=args.head, preprocess=args.preprocess, drop_empty=args.drop_empty, kernel=args.kernel,
                      progress=not args.quiet)
    # an .rds (SingleCellExperiment) has no place for an n × n cell-cell matrix
    write_results(adata, est, "sclstm", layer=args.layer, labels_key=args.labels_key,
                  store_similarity=not args.no_similarity and not output_is_r(args.out))
    write_output(adata, args.out)
    seconds = time.perf_counter() - t0
    for line in _summary_lines(adata, adata.uns["sclstm"], seconds, "sclstm"):
        print(line)
    classes = getattr(est, "classes_", None)
    if classes is not None and est.n_clusters_ != len(classes):  # allowed, but say it: two answers differ
        print(f"note: {est.n_clusters_} clusters (--n-clusters) for {len(classes)} classes in the labels used; "
              f"obs['sclstm_predicted'] holds the {len(classes)} classes")
    print(f"wrote {args.out}")
    if args.save_model:
        est.save(args.save_model)
        print(f"wrote {args.save_model} (use it on new cells: sclstm apply {args.save_model} NEW.h5ad --out OUT)")
    if args.plot:
        from .pl import embedding

        t_plot = time.perf_counter()
        embedding(adata, color="sclstm", save=args.plot)
        # t-SNE of every cell: its own time, which "seconds" above leaves out (105 s on 12,000 cells)
        print(f"wrote {args.plot} (t-SNE: {time.perf_counter() - t_plot:.1f} s)")
    return 0


def cmd_apply(args) -> int:
    """A saved model on new cells: their embedding and, for a labelled model, their predicted types."""
    import numpy as np
    import pandas as pd

    from .estimator import ScLSTM, class_codes
    from .io import check_not_input, check_writable, write_output
    from .tl import check_key, clear_run, h5ad_safe, model_class_levels, named_counts

    check_writable(args.out)
    check_not_input(args.out, args.input)
    t0 = time.perf_counter()
    est = ScLSTM.load(args.model)
    adata = _read_counts_file(args)
    check_key("sclstm", None, adata)  # a column of the user's called sclstm is not removed
    X = named_counts(adata, args.layer)
    labelled = getattr(est, "classes_", None) is not None
    emb, prob = est._new_cells(X, args.drop_empty, with_probabilities=labelled)
    lines = [f"cells: {adata.n_obs}   model: {args.model} ({est.mode}, fitted on {est.n_cells_} cells)"]
    removed = clear_run(adata, "sclstm")  # another fit's clusters, mask and similarity would sit beside these
    if removed:
        lines.append(f"removed an earlier run's {', '.join(removed)}: they described another fit")
    adata.obsm["X_sclstm"] = emb.astype(np.float32)
    kept = ~np.isnan(emb).any(axis=1)
    if labelled:
        codes, confidence = class_codes(prob)
        predicted = pd.Categorical.from_codes(codes, categories=list(est.classes_))
        adata.obs["sclstm_predicted"] = predicted.set_categories(model_class_levels(est))
        adata.obs["sclstm_predicted_confidence"] = confidence
        seen = trained_on(est, adata.obs_names)
        if seen is None:
            lines.append("the model's cells had no names (row numbers), so which of these cells it trained on "
                         "cannot be told: score only cells you know it never saw (`sclstm score` refuses the "
                         "file without --all-cells)")
        elif seen.any():  # so that `sclstm score --key sclstm_predicted` leaves them out
            adata.obs["sclstm_labelled"] = seen
            lines.append(f"{int(seen.sum())} cells have the name of a cell whose label the model trained on: "
                         "obs['sclstm_labelled'] marks them and `sclstm score` leaves them out")
        sizes = adata.obs["sclstm_predicted"].value_counts()
        lines.append("predicted types (obs['sclstm_predicted']): "
                     + ", ".join(f"{c}:{n}" for c, n in sizes.items() if n))
    else:
        lines.append("unsupervised model: embedding only (obsm['X_sclstm']); its clusters are not defined for "
                     "new cells (cluster them with 'sclstm cluster', or fit a labelled model to transfer types)")
    if not kept.all():
        lines.append(f"dropped {int((~kept).sum())} cells with no counts in the genes the model reads "
                     "(NaN rows, no predicted type)")
    adata.uns["sclstm_apply"] = h5ad_safe({"model": str(args.model), "model_mode": est.mode, "layer": args.layer,
                                           "n_cells_fitted": int(est.n_cells_),
                                           # read by `sclstm score`, which then refuses to score them all
                                           "trained_cells_unknown": bool(labelled and seen is None)})
    write_output(adata, args.out)
    lines.append(f"seconds: {time.perf_counter() - t0:.1f}")
    for line in lines:
        print(line)
    print(f"wrote {args.out}")
    return 0


def trained_on(est, cell_names) -> "np.ndarray | None":
    """Mask of the cells named as a cell whose label a labelled model trained on; None when the
    model's cells had no names (an array, or an AnnData made from one: "0", "1", ...), whose
    row numbers would match any other file's by chance (before: 16 of 16 new cells marked)."""
    import numpy as np

    if est.labelled_mask_ is None:
        return np.zeros(len(cell_names), dtype=bool)
    fitted = np.asarray(est.cell_names_).astype(str)
    if all(name.isdigit() for name in fitted):  # by the cells' names alone: genes numbered 0, 1, ...
        return None  # (AnnData(X), an R matrix without row names) say nothing of the cells' names
    return np.isin(np.asarray(cell_names).astype(str), fitted[est.labelled_mask_])


def score_adata(adata, truth_key: str, key: str = "sclstm", all_cells: bool = False):
    """Metrics of obs[key] against obs[truth_key]; in labelled mode only on cells whose labels were not used.
    Predicted types (a key ending in ``_predicted``) are scored by name, clusters by matching."""
    from .metrics import score

    for k in (truth_key, key):
        if k not in adata.obs:
            hint = ""
            if k == key:
                hint = ("; a labelled fit writes it (sclstm cluster --labels-key KEY, or sclstm apply with a "
                        "labelled model)" if key.endswith("_predicted") else "; cluster the file first (sclstm cluster)")
            raise InputError(f"obs has no column {k!r} (columns: {', '.join(adata.obs.columns) or 'none'}){hint}.")
    # an empty or blank truth label (or "nan"/"NA" text) is no label, as --labels-key reads it (before: a class of its own)
    mask = ~missing_labels(adata.obs[truth_key], "truth labels")
    scope = "all cells with a truth label"
    # the mask of cells whose labels were used sits beside the clusters: obs["sclstm_labelled"]
    # serves obs["sclstm"], the class head's obs["sclstm_predicted"] and a recluster of the run,
    # obs["sclstm_k3"] (its uns names the run it was cut from; before: every cell was scored)
    record = adata.uns.get(key)
    _check_trained_cells_known(adata, key, all_cells)
    source_key = record.get("source_key") if hasattr(record, "get") else None
    if not isinstance(source_key, str):  # an R run's clusters under its reduction.name, e.g. "k4_clusters"
        source_key = next((name for name, rec in adata.uns.items()
                           if name != key and _wrote(rec, key) and "n_clusters" in rec), None)
    candidates = [f"{key}_labelled", key.removesuffix("_predicted") + "_labelled"]
    candidates += [f"{source_key}_labelled"] if isinstance(source_key, str) else []
    used_key = next((k for k in candidates if k in adata.obs), f"{key}_labelled")
    applied = _applied_by_r(adata, key)
    if applied is not None and not all_cells:
        mask &= ~applied
        scope = (f"cells not named as one whose label the model trained on "
                 f"(uns['{key.removesuffix('_predicted')}_apply']['labelled_mask'] == False)")
    elif used_key in adata.obs and not all_cells:
        # NA (as after an R merge with other cells): status unknown, so left out
        mask &= ~_used_mask(adata.obs[used_key], used_key)
        scope = f"cells whose labels were not used in training (obs['{used_key}'] == False)"
    elif not all_cells:
        run_key = source_key if isinstance(source_key, str) else key.removesuffix("_predicted")
        used = _used_by_labelled_run(adata, run_key)
        if used.any():
            mask &= ~used
            scope = f"cells whose labels were not used in training (uns['{run_key}']['labelled_mask'] == False)"
    # counted among the cells the scope keeps (before: cells whose labels were used counted too)
    unclustered = mask & adata.obs[key].isna().to_numpy()
    mask &= ~unclustered
    if mask.sum() == 0:
        if used_key in adata.obs and not all_cells:
            raise InputError(f"no cells left to score: every labelled cell's label was used in training "
                             f"(obs['{used_key}']); fit with a labelled fraction below 1 (--labelled-fraction) "
                             "to keep cells to score, or pass --all-cells (not an honest accuracy).")
        raise InputError("no cells left to score: none has both a truth label and a cluster.")
    truth = adata.obs[truth_key].to_numpy()[mask]
    pred = adata.obs[key].to_numpy()[mask]
    if unclustered.any():  # before: the scope line did not say it (helper-47)
        scope += (f"; {int(unclustered.sum())} cell(s) without a cluster (obs['{key}'] NA, e.g. dropped as empty) "
                  "left out")
    by_name = key.endswith("_predicted")
    if by_name:
        scope += "; ACC and BAS by name (the predicted type is the cell's own), no matching"
    scope += _joined_runs_note(adata, key, record)
    return score(truth, pred, matched=not by_name), int(mask.sum()), scope


def _check_trained_cells_known(adata, key: str, all_cells: bool) -> None:
    """Predicted types that ``sclstm apply`` wrote with a model whose cells had no names: which
    of these cells it trained on cannot be told, so scoring them all is refused unless asked.
    Before: a file with cells named "0", "1", ... scored the training cells too, and said nothing."""
    if all_cells or not key.endswith("_predicted"):
        return
    record = adata.uns.get(key.removesuffix("_predicted") + "_apply")
    if hasattr(record, "get") and bool(record.get("trained_cells_unknown", False)):
        raise InputError(f"obs['{key}'] was written by `sclstm apply` with a model whose cells had no names (row "
                         "numbers), so which of these cells it trained on cannot be told; score a file of cells "
                         "you know it never saw, or pass --all-cells (not an honest accuracy).")


def _joined_runs_note(adata, key: str, record) -> str:
    """For the scope line: sclstm's clusters (its embedding beside them) without their run's
    record, or with a record of fewer cells than have a cluster, as after ``anndata.concat`` of
    two runs, whose cluster "0"s are not one cluster. Said, not refused: the user may know what
    they joined."""
    if key.endswith("_predicted") or f"{key}_apply" in adata.uns:
        return ""
    if not hasattr(record, "get"):
        if f"X_{key}" not in adata.obsm or any(_wrote(rec, key) for rec in adata.uns.values()):
            return ""  # not sclstm's (a user's or Seurat's clusters), or an R run's, under its reduction.name
        return (f"; note: no run record uns['{key}'] beside these clusters (as after anndata.concat, which drops "
                "uns): if this file joins several runs, their clusters are not one clustering")
    n_cells = record.get("n_cells")
    clustered = int(adata.obs[key].notna().sum())  # not the cells a run dropped as empty
    if isinstance(n_cells, (int, np.integer)) and n_cells < clustered:
        return (f"; note: the run clustered {int(n_cells)} cells and the file has {clustered} with a cluster "
                "(as after anndata.concat): if this file joins several runs, their clusters are not one clustering")
    return ""


_TRUTH_TEXT = {"true": True, "false": False}


def _used_mask(column, name: str) -> "np.ndarray":
    """obs[name], the True/False mark of the cells whose labels a run used, as a mask; NA (as
    after an R merge with other cells: status unknown) counts as used. Text "True"/"FALSE" (a
    column that went through a CSV or R as text) is read as such; anything else is refused
    (before: any text, "False" too, counted as True, and the message blamed the fit)."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=bool, na_value=True)
    present = column.notna().to_numpy()
    known = column[present]
    if pd.api.types.is_numeric_dtype(column.dtype) and known.isin([0, 1]).all():  # 0/1, as after as.integer()
        used = known.to_numpy() == 1
    else:
        text = known.astype(str).str.strip().str.lower()  # True/False objects read as "true"/"false" too
        if not text.isin(list(_TRUTH_TEXT)).all():
            examples = ", ".join(map(repr, pd.unique(known[~text.isin(list(_TRUTH_TEXT))])[:3]))
            raise InputError(f"obs[{name!r}] should mark with True/False the cells whose labels the run used; it "
                             f"holds {examples}; fix or remove it (or pass --all-cells, not an honest accuracy).")
        used = text.map(_TRUTH_TEXT).to_numpy(dtype=bool)
    out = np.ones(len(column), dtype=bool)  # NA: used
    out[present] = used
    return out


def _used_by_labelled_run(adata, run_key: str) -> np.ndarray:
    """Where obs has no mask of the cells whose labels a run used: none for an unsupervised run;
    for a labelled one, the mask its record keeps (an R result's details carry one), or a refusal
    (before: a labelled R result was scored on its training cells too)."""
    record = adata.uns.get(run_key)
    if not hasattr(record, "get") or str(record.get("mode")) != "labelled":
        return np.zeros(adata.n_obs, dtype=bool)
    used = _mask_of_cells(record.get("labelled_mask"), adata.obs_names)
    if used is not None:
        return used
    raise InputError(f"uns['{run_key}'] is a labelled run's, but nothing says which cells' labels it used "
                     f"(no obs['{run_key}_labelled'], and its record's mask does not name these cells, as "
                     "after merging with other cells); re-run it, or pass --all-cells (not an honest accuracy).")


def _applied_by_r(adata, key: str):
    """For predicted types that R's applyScLSTM() wrote (its record lists the column): the cells
    named as one whose label the model trained on, from that record; else None (a run's, or
    Python's apply, which marks them in obs). Before, R's predictions were scored with the mask
    of an earlier run beside them, or none."""
    if not key.endswith("_predicted"):
        return None
    record = adata.uns.get(key.removesuffix("_predicted") + "_apply")
    if not _wrote(record, key):
        return None
    used = _mask_of_cells(record.get("labelled_mask"), adata.obs_names)
    if used is None:
        raise InputError(f"obs['{key}'] was written by applyScLSTM(), but its record does not say which of these "
                         "cells the model trained on (as after merging with other cells); apply the model again, "
                         "or pass --all-cells (not an honest accuracy).")
    return used


def _wrote(record, column: str) -> bool:
    """Whether a run's or apply's record (an R result's, read into uns) lists ``column`` among the
    columns it wrote (``columns_written``)."""
    if not hasattr(record, "get"):
        return False
    return column in np.atleast_1d(np.asarray(record.get("columns_written", []), dtype=object))


def _mask_of_cells(mask, cell_names):
    """A record's mask over these cells: one named by cell (R keeps a named vector; read back as a
    dict, it follows a subset) is aligned by name, an unnamed one taken in order when its length is
    the cells'; None when it does not cover every cell."""
    if mask is None:
        return None
    if hasattr(mask, "keys"):
        named = pd.Series({str(k): v for k, v in mask.items()}, dtype=object)
        aligned = named.reindex(pd.Index(cell_names).astype(str))
        return None if aligned.isna().any() else aligned.to_numpy(dtype=bool)
    mask = np.asarray(mask)
    return mask.astype(bool) if mask.ndim == 1 and len(mask) == len(cell_names) else None


def cmd_score(args) -> int:
    from .io import read_input

    adata = read_input(args.input)
    metrics, n, scope = score_adata(adata, args.truth_key, args.key, args.all_cells)
    print(f"scored {n} cells: {scope}")
    for name, value in metrics.items():
        print(f"{name}\t{value:.4f}")
    return 0


def cmd_demo(args) -> int:
    from .datasets import demo_path, load_demo
    from .pl import check_picture_path, embedding
    from .tl import sclstm as run

    out = Path(args.out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, a read-only parent
        raise InputError(f"--out-dir {args.out_dir}: cannot make that folder ({exc.strerror}).") from None
    png = out / "demo_embedding.png"
    check_picture_path(png, "--out-dir")  # before the fit, not after it
    adata = load_demo()
    n_types = adata.obs["cell_type"].nunique()
    print(f"demo data: {demo_path()}")
    print(f"Pollen et al. 2014: {adata.n_obs} cells × {adata.n_vars} genes, {n_types} published cell types")
    t0 = time.perf_counter()
    run(adata, n_clusters=args.n_clusters, random_state=args.seed, progress=not args.quiet)
    seconds = time.perf_counter() - t0
    for line in _summary_lines(adata, adata.uns["sclstm"], seconds, "sclstm"):
        print(line)
    metrics, n, scope = score_adata(adata, "cell_type")
    print(f"agreement with the published labels (unsupervised, {n} cells, "
          f"k {adata.uns['sclstm']['k_method']} = {adata.uns['sclstm']['n_clusters']}, published {n_types}):")
    for name, value in metrics.items():
        print(f"  {name} {value:.3f}")
    embedding(adata, color=["cell_type", "sclstm"], save=png)
    print(f"picture: {png.resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sclstm",
        description="Single-cell type detection with a siamese LSTM and hierarchical clustering "
                    "(after Jiang et al., BMC Bioinformatics 2023). Unsupervised by default.",
    )
    parser.add_argument("--version", action="version", version=f"sclstm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("cluster", help="cluster the cells of a file and write the result",
                       description="Cluster cells (rows) of INPUT with ScLSTM and write OUT with obs['sclstm'], "
                                   "obsm['X_sclstm'], uns['sclstm'] and (for .h5ad, unless --no-similarity) "
                                   "obsp['sclstm_similarity']; an .rds OUT is a SingleCellExperiment with colData "
                                   "sclstm_clusters, reducedDim SCLSTM and metadata sclstm.")
    c.add_argument("input", help="counts: .h5ad (cells × genes), or .rds / .RData or .rda[:object] (an R "
                   "object: genes × cells, R's convention)")
    c.add_argument("--out", required=True, help="output file (.h5ad, or .rds for a SingleCellExperiment)")
    _add_model_options(c)
    _add_input_options(c)
    c.add_argument("--labels-key", default=None, metavar="KEY",
                   help="labelled mode: train on the labels in obs[KEY] (missing, empty, blank, or the text 'nan', "
                        "'NA', '<NA>', 'None' or 'null' in any case = unknown)")
    c.add_argument("--labelled-fraction", type=float, default=None, metavar="F",
                   help="labelled mode: use the labels of only this stratified fraction of cells (on the "
                        "landmark path, of those only the ones in its training sample); "
                        "obs['sclstm_labelled'] marks them so the rest can be scored")
    c.add_argument("--drop-empty", action="store_true", help="drop all-zero cells, and cells with counts only in "
                   "genes below min_cells, instead of stopping (they get no cluster)")
    c.add_argument("--no-similarity", action="store_true", help="do not store the learned similarity in obsp (n × n; sparse kNN with the landmark kernel)")
    c.add_argument("--plot", default=None, metavar="PNG", help="also write a t-SNE picture of the embedding "
                   "(of every cell: minutes above about 10,000 cells)")
    c.add_argument("--save-model", default=None, metavar="PT",
                   help="also save the fitted model to this .pt file, for 'sclstm apply' on new cells")
    c.set_defaults(func=cmd_cluster)

    a = sub.add_parser("apply", help="a saved model on new cells: embedding, and predicted types if labelled",
                       description="Embed the cells of INPUT with a model saved by 'sclstm cluster --save-model' "
                                   "(obsm['X_sclstm']); a labelled model also predicts their types "
                                   "(obs['sclstm_predicted'], probability obs['sclstm_predicted_confidence']). "
                                   "Genes are matched to the model by name. An unsupervised model's clusters "
                                   "are not defined for new cells: it gives the embedding only. Cells named as "
                                   "one whose label the model trained on are marked in obs['sclstm_labelled'] "
                                   "(score leaves them out); an earlier cluster run's entries are removed.")
    a.add_argument("model", help="a .pt file written by 'sclstm cluster --save-model'")
    a.add_argument("input", help="counts of new cells: .h5ad (cells × genes), or .rds / .RData or "
                   ".rda[:object] (genes × cells, R's convention)")
    a.add_argument("--out", required=True, help="output file (.h5ad, or .rds for a SingleCellExperiment)")
    _add_input_options(a)
    a.add_argument("--drop-empty", action=argparse.BooleanOptionalAction, default=None,
                   help="give all-zero cells, and cells with counts only in genes the model does not read, NaN "
                        "instead of stopping (--no-drop-empty: stop); default: as the model was fitted "
                        "(cluster --drop-empty), as Python's transform and predict do")
    a.set_defaults(func=cmd_apply)

    s = sub.add_parser("score", help="ARI, NMI, ACC and BAS of a clustered file against true labels",
                       description="Score obs[KEY] (default sclstm) of a clustered file against "
                                   "obs[TRUTH_KEY]. Cells without a truth label (NA, empty or blank, or the "
                                   "text 'nan', 'NA', '<NA>', 'None' or 'null' in any case) or without a "
                                   "cluster (NA, e.g. dropped as empty) are left out. In labelled mode only "
                                   "cells whose labels were not used in training are scored.")
    s.add_argument("input", help="an .h5ad or .rds written by 'sclstm cluster' or 'sclstm apply' (or by R's "
                   "runScLSTM / applyScLSTM)")
    s.add_argument("--truth-key", required=True, help="obs column with the reference labels")
    s.add_argument("--key", default="sclstm",
                   help="obs column with the clusters (default sclstm), or sclstm_predicted for the "
                        "types a labelled fit predicted")
    s.add_argument("--all-cells", action="store_true",
                   help="in labelled mode, also score cells whose labels were used (not an honest accuracy)")
    s.set_defaults(func=cmd_score)

    d = sub.add_parser("demo", help="run ScLSTM on the shipped Pollen dataset and score it",
                       description="Cluster the shipped Pollen et al. 2014 dataset (unsupervised), print "
                                   "the metrics against its published labels and write a picture.")
    d.add_argument("--out-dir", default="sclstm_demo_output", help="folder for the picture (default sclstm_demo_output)")
    d.add_argument("--n-clusters", type=int, default=None, metavar="K", help="number of types (default: estimated)")
    d.add_argument("--seed", type=int, default=DEFAULTS["random_state"], help=f"random seed (default {DEFAULTS['random_state']})")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)
    return parser


# The library's messages name its parameters; on the command line, name the options instead.
CLI_SPELLING = {
    "drop_empty=True (CLI: --drop-empty)": "--drop-empty",
    "(drop_empty)": "(--drop-empty)",
    "and drop_empty would": "and --drop-empty would",
    # --labels-key naming a column the run writes (tl.check_key)
    "the run with key_added='sclstm' writes; it would overwrite the labels it was trained on; choose another "
    "key_added.": "the command line writes its results into; pass another --labels-key (or rename that column "
                  "in the file).",
    "leave it out (None) to estimate it": "leave it out to estimate it",
    "n_clusters=": "--n-clusters ",
    "n_clusters": "--n-clusters",
    "random_state": "--seed",
    "labels_key": "--labels-key",
    "labelled_fraction": "--labelled-fraction",
    "n_steps": "--n-steps",
    "kernel='landmark'": "--kernel landmark",
    "kernel='exact'": "--kernel exact",
    "(e.g. layer='counts')": "(e.g. --layer counts; for an R file, --assay counts)",
    "genes_by_cells=False": "--cells-in-rows",
    "assay= and genes_by_cells= are": "--assay and --cells-in-rows are",
    "use layer= to": "use --layer to",
    "pass layer= naming": "pass --layer naming",
    "kernel='auto'": "--kernel auto",
    "choose another key_added (or remove it first: ": "the command line writes under 'sclstm': rename or remove "
                                                      "it first (in Python: ",
    "choose another key_added.": "rename that column in the file (the command line writes under 'sclstm').",
    "assay=": "--assay ",
}


# The estimator's parameters the command line sets (the others keep their defaults there).
CLI_PARAMS = {"n_clusters", "random_state", "n_steps", "head", "preprocess", "kernel", "mode", "labelled_fraction",
              "drop_empty", "progress"}
PYTHON_ONLY = sorted(set(DEFAULTS) - CLI_PARAMS)


def cli_spelling(message: str) -> str:
    for python_name, option in CLI_SPELLING.items():
        message = message.replace(python_name, option)
    # a message naming a setting the command line lacks says so (before: "lower min_cells", with no
    # option of that name; carried from stop 42, audit helper-50)
    named = [p for p in PYTHON_ONLY if re.search(rf"\b{p}\b", message)]
    if named:
        message += (f" ({', '.join(named)}: {'a setting' if len(named) == 1 else 'settings'} of the Python API "
                    "only, sclstm.ScLSTM or sclstm.tl.sclstm; the command line keeps the default)")
    return message


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with warnings.catch_warnings(), _terminate_as_interrupt(), _unencodable_as_escapes(sys.stdout):
        warnings.showwarning = _show_warning
        try:
            code = args.func(args)
            sys.stdout.flush()  # here, not in Python's flush at exit, where a closed pipe gave "Exception ignored"
            return code
        except InputError as exc:
            print(f"sclstm: error: {cli_spelling(str(exc))}", file=sys.stderr)
            return 2
        except _Terminated:
            print("sclstm: terminated", file=sys.stderr)
            return 143
        except KeyboardInterrupt:  # Ctrl-C: one line, not torch's traceback (outputs are renamed into place whole)
            print("sclstm: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `sclstm score ... | head`: the reader left; what is left to print goes nowhere
            if not _stdout_is_broken():
                raise  # another pipe than standard output: not ours to hide
            _stdout_to_devnull()
            return 141  # 128 + SIGPIPE, as a shell tool killed by it


def _stdout_is_broken() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll says so without writing;
    a flush alone does not, once the failed write's buffer was dropped)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        return False
    import select

    if not hasattr(select, "poll"):  # Windows: no poll on pipes; the error is taken to be the output's
        return True
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))  # pipe; socket, macOS
    except (AttributeError, OSError, ValueError):  # no file behind standard output (a notebook)
        return False


def _stdout_to_devnull() -> None:
    """Point standard output at the null device, so that Python's own flush at exit does not
    fail on the closed pipe once more (with "Exception ignored ... BrokenPipeError"). Only once
    that pipe is closed for good: a caller of main() in the same process could not print to it
    anyway."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a stream without a file (a notebook)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


@contextlib.contextmanager
def _unencodable_as_escapes(stream):
    """While the command runs, print what the stream's encoding lacks as escapes, not die on
    it: on Windows, output sent to a file or pipe is encoded in the ANSI code page (cp1252),
    which has no α or ≥, and a class name or path with one ended the command after its result
    was written, before the model was saved. Put back after (main() may run in a notebook)."""
    if getattr(stream, "errors", None) != "strict" or not hasattr(stream, "reconfigure"):
        yield
        return
    stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        stream.reconfigure(errors="strict")


class _Terminated(KeyboardInterrupt):
    """SIGTERM (kill, a batch system's time limit), raised like Ctrl-C so that what is being
    written is removed, not left as a hidden partial file beside the output."""


def _terminate_as_interrupt():
    """SIGTERM raises _Terminated while the command runs, unless the caller has its own handler."""
    import signal

    from .signals import handling

    def terminated(signum, frame):
        raise _Terminated()

    # SIGBREAK: Ctrl+Break on Windows, which has no SIGTERM to receive
    signals = [signal.SIGTERM] + ([signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else [])
    return handling(signals, terminated, replaces=lambda current: current == signal.SIG_DFL)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line in the options' names, like the errors (not Python's source line)."""
    print(f"sclstm: warning: {cli_spelling(str(message))}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
