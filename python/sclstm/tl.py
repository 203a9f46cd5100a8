"""scanpy-style entry point: ``sclstm.tl.sclstm(adata)`` writes its results into the AnnData."""
from __future__ import annotations

import functools
import inspect
import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .clustering import cluster_similarity
from .estimator import ScLSTM
from .validation import InputError, check_flag, check_n_clusters, warn_user

__all__ = ["sclstm", "recluster", "clear_run"]  # the rest serves the command line and the R package


@functools.lru_cache(maxsize=1)
def _anndata_writes_none() -> bool:
    """anndata 0.11 and newer write None into .h5ad; older ones refuse it."""
    from importlib.metadata import version

    major, minor = (int(p) for p in re.findall(r"\d+", version("anndata"))[:2])
    return (major, minor) >= (0, 11)


def h5ad_safe(value):
    """Make a nested summary writable to .h5ad: tuples → lists, dict keys → str, and None kept
    (→ "None" only with an anndata older than 0.11, which cannot write None)."""
    if value is None:
        return None if _anndata_writes_none() else "None"
    if isinstance(value, dict):
        return {str(k): h5ad_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [h5ad_safe(v) for v in value]
        if items and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in items):
            return np.asarray(items)
        if items and all(isinstance(v, str) for v in items):
            return np.asarray(items, dtype=object)
        return {str(i): v for i, v in enumerate(items)} if items else np.asarray([])
    return value


RAW = "raw"  # layer=RAW reads adata.raw.X (where some workflows keep the counts) when no layer has that name


def _reads_raw(adata, layer) -> bool:
    return layer == RAW and layer not in adata.layers and getattr(adata, "raw", None) is not None


def _matrix(adata, layer):
    raw_hint = (f"; adata.raw holds {adata.raw.n_vars} genes: layer={RAW!r} reads them"
                if getattr(adata, "raw", None) is not None else "")
    if layer is not None and not isinstance(layer, str):  # before: "unhashable type" from a list
        raise InputError(f"layer must be the name of one layer (a string), got {layer!r}.")
    if layer is None:
        if adata.X is None:  # e.g. an AnnData built from layers only
            raise InputError(f"adata.X is empty (None); pass layer= naming the counts "
                             f"(layers: {', '.join(adata.layers) or 'none'}{raw_hint}).")
        return adata.X
    if _reads_raw(adata, layer):
        return adata.raw.X
    if layer not in adata.layers:
        raise InputError(f"layer {layer!r} is not in adata.layers (found: {', '.join(adata.layers) or 'none'}"
                         f"{raw_hint}).")
    return adata.layers[layer]


def named_counts(adata, layer):
    """The counts to fit or apply, carrying the cells' and genes' names so that a saved model
    matches genes by name: ``adata`` itself (backed too) for X, else an AnnData of the layer
    (of ``adata.raw`` for ``layer="raw"``, with its own genes)."""
    X = _matrix(adata, layer)
    if layer is None:
        return adata
    import anndata as ad

    genes = adata.raw.var_names if _reads_raw(adata, layer) else adata.var_names
    return ad.AnnData(X=X, obs=pd.DataFrame(index=adata.obs_names), var=pd.DataFrame(index=genes))


def _labels(adata, labels_key):
    if labels_key is None:
        return None
    if not isinstance(labels_key, str):
        raise InputError(f"labels_key must be the name of one obs column (a string), got {labels_key!r}.")
    if labels_key not in adata.obs:
        raise InputError(f"labels_key {labels_key!r} is not a column of adata.obs (columns: {', '.join(adata.obs.columns)}).")
    # as objects: a nullable Int64 column with pd.NA would become floats (0.0, 1.0) with to_numpy()
    return adata.obs[labels_key].astype(object).to_numpy()


def _check_kwargs(kwargs) -> None:
    """Extra keywords must be ScLSTM parameters: a typo (n_step=) or ``labels=`` gets one line
    naming what to pass, not a TypeError from ``ScLSTM.__init__``."""
    valid = ScLSTM().get_params()
    for name in kwargs:
        if name == "labels":
            raise InputError("sclstm.tl.sclstm reads labels from adata.obs: pass labels_key= (the obs column).")
        if name == "use_raw":  # scanpy's parameter; here the counts' place is named by layer=
            raise InputError("sclstm.tl.sclstm has no use_raw: it reads counts from X, or from layer= "
                             "(layer='raw' reads adata.raw.X).")
        if name not in valid:
            own = ", ".join(p for p in inspect.signature(sclstm).parameters
                            if p not in ("adata", "kwargs") and p not in valid)
            raise InputError(f"unknown parameter {name!r}; valid ones: {own}, and the estimator's "
                             f"{', '.join(sorted(valid))}.")


RUN_COLUMNS = ("", "_labelled", "_predicted", "_predicted_confidence")  # obs[key + suffix] of a run


def run_entries(key: str) -> dict[str, list[str]]:
    """Slot → names of what a run under ``key`` writes, and what a re-run under it removes
    (``uns[key + "_apply"]``: the record of a saved model applied, ``sclstm apply``)."""
    return {"obs": [key + suffix for suffix in RUN_COLUMNS], "obsm": [f"X_{key}"],
            "obsp": [f"{key}_similarity"], "uns": [key, f"{key}_apply"]}


def check_key(key_added, labels_key, adata=None, entries=None) -> None:
    """key_added names obs/obsm/obsp/uns entries: a non-empty string that .h5ad can store
    (no '/'), never naming the labels column the run reads, and (given ``adata``) never an
    entry that no sclstm run wrote (the user's labels or ``X_pca``, scanpy's ``neighbors``).
    ``entries`` (slot → names): what the call writes or removes, by default a run's
    (:func:`run_entries`); they belong to sclstm where ``uns[key_added]`` is an sclstm run."""
    if not isinstance(key_added, str) or not key_added or "/" in key_added:
        raise InputError(f"key_added must be a non-empty string without '/', got {key_added!r}.")
    if labels_key is not None and labels_key in [key_added + suffix for suffix in RUN_COLUMNS]:
        raise InputError(f"labels_key={labels_key!r} is a column the run with key_added={key_added!r} writes; it "
                         "would overwrite the labels it was trained on; choose another key_added.")
    if adata is None or _is_sclstm_entry(adata.uns.get(key_added)) or \
            _is_apply_record(adata.uns.get(f"{key_added}_apply")):
        return
    for slot, names in (run_entries(key_added) if entries is None else entries).items():
        store = getattr(adata, slot)
        for name in names:
            if name in store:
                if key_added in adata.obs and f"X_{key_added}" in adata.obsm and key_added not in adata.uns:
                    # before: "which no sclstm run wrote", of an sclstm run whose record anndata.concat dropped
                    raise InputError(
                        f"obs[{key_added!r}] and obsm['X_{key_added}'] are here without their run record "
                        f"uns[{key_added!r}] (anndata.concat drops uns), so sclstm cannot tell them from the user's "
                        f"own; if they are an earlier sclstm run's, remove them first "
                        f"(sclstm.tl.clear_run(adata, {key_added!r})), or choose another key_added.")
                raise InputError(f"{slot} already has {name!r}, which no sclstm run wrote; choose another key_added "
                                 f"(or remove it first: del adata.{slot}[{name!r}]).")


def _is_sclstm_entry(entry) -> bool:
    """uns[key] of an sclstm run (its n_clusters and the sclstm version in its versions; R's
    record also names the R package's) or of a recluster (n_clusters and its source_key and
    linkage). Before, n_clusters alone counted, so a user's own uns["kmeans"] = {"n_clusters": 3}
    let a run under key_added="kmeans" replace the user's obs["kmeans"] and obsm["X_kmeans"]."""
    if not (hasattr(entry, "get") and "n_clusters" in entry):
        return False
    versions = entry.get("versions")
    return (hasattr(versions, "get") and "sclstm" in versions) or "r_package_version" in entry or \
        ("source_key" in entry and "linkage" in entry)


def _is_apply_record(entry) -> bool:
    """uns[key + "_apply"] of ``sclstm apply`` (or R's applyScLSTM): it records n_cells_fitted."""
    return hasattr(entry, "get") and "n_cells_fitted" in entry


def sclstm(
    adata,
    n_clusters=None,
    key_added: str = "sclstm",
    layer=None,
    labels_key=None,
    copy: bool = False,
    random_state: int = 0,
    mode=None,
    labelled_fraction=None,
    store_similarity: bool = True,
    **kwargs,
):
    """Cluster the cells of ``adata`` (counts in ``X`` or ``layers[layer]``; ``layer="raw"``:
    ``adata.raw.X``, unless a layer has that name) with ScLSTM.

    Writes ``obs[key_added]`` (categorical cluster ids "0".."k-1", 0 the largest),
    ``obsm["X_" + key_added]`` (the embedding), ``obsp[key_added + "_similarity"]`` (the
    learned P(same type)) and ``uns[key_added]`` (parameters, seed, k and how it was chosen,
    its curve, training history, package versions). With ``labels_key`` the labelled mode
    trains on the labels in that obs column (missing, empty, blank, or the text "nan", "NA", "<NA>", "None" or "null" = unknown) — or on a stratified
    ``labelled_fraction`` of them — and ``obs[key_added + "_labelled"]`` marks the cells
    whose labels were used; score only the others. Labelled mode also writes every cell's
    class predicted by the network, ``obs[key_added + "_predicted"]``, and its probability,
    ``obs[key_added + "_predicted_confidence"]``. ``mode`` defaults to ``"labelled"`` when
    ``labels_key`` is given, else ``"unsupervised"``; ``random_state`` seeds every random
    choice. ``store_similarity=False`` leaves out the obsp similarity (n × n on the exact path);
    :func:`recluster` needs it. Returns a new AnnData if ``copy``, otherwise modifies
    ``adata`` in place and returns None. Extra keywords go to :class:`~sclstm.ScLSTM`.
    """
    check_flag("store_similarity", store_similarity)
    est = fit_anndata(adata, n_clusters, key_added, layer, labels_key, copy, random_state, mode,
                      labelled_fraction, **kwargs)
    target = adata.copy() if copy else adata
    write_results(target, est, key_added, layer=layer, labels_key=labels_key, store_similarity=store_similarity)
    return target if copy else None


def fit_anndata(adata, n_clusters=None, key_added: str = "sclstm", layer=None, labels_key=None, copy: bool = False,
                random_state: int = 0, mode=None, labelled_fraction=None, **kwargs) -> ScLSTM:
    """The fitted :class:`~sclstm.ScLSTM` behind :func:`sclstm` (which writes it into ``adata``):
    the same checks, made before training; the command line keeps the model to save it."""
    if not (hasattr(adata, "obs") and hasattr(adata, "obsm")):
        raise InputError(f"expected an AnnData object, got {type(adata).__name__}; use sclstm.ScLSTM for arrays.")
    check_key(key_added, labels_key, adata)
    check_flag("copy", copy)
    _check_kwargs(kwargs)
    if copy and getattr(adata, "isbacked", False):
        raise InputError("copy=True cannot copy an AnnData opened backed (its counts stay on disk); "
                         "use copy=False, or adata.to_memory() first.")
    if getattr(adata, "is_view", False) and getattr(adata, "isbacked", False):
        # results are written into the view, which anndata then copies: impossible when backed,
        # and it would fail only after training
        raise InputError("adata is a subset (view) of an AnnData opened backed, and results cannot be written "
                         "into it; subset in memory first: adata[mask].to_memory().")
    if labels_key is None and mode == "labelled":  # before: "pass labels= (or labels_key=)", and labels= is refused here
        raise InputError("mode='labelled' needs labels: pass labels_key= (the obs column holding them).")
    if labels_key is None and labelled_fraction is not None and mode is None:
        raise InputError("labelled_fraction applies only to a labelled run: pass labels_key= (the obs column of "
                         "labels) too, or leave labelled_fraction out.")
    X = named_counts(adata, layer)
    labels = _labels(adata, labels_key)
    if mode is None:
        mode = "labelled" if labels_key is not None else "unsupervised"
    est = ScLSTM(n_clusters=n_clusters, mode=mode, random_state=random_state,
                 labelled_fraction=labelled_fraction, **kwargs)
    return est.fit(X, labels=labels)


def _expand_square(P, kept: np.ndarray):
    """The kept cells' similarity placed in an all-cells square matrix (zeros for dropped cells).

    Dense for the exact kernel (n × n), sparse CSR for the landmark path's kNN similarity.
    """
    n = len(kept)
    if sp.issparse(P):
        where = np.flatnonzero(kept)
        C = P.tocoo()
        return sp.csr_matrix((C.data, (where[C.row], where[C.col])), shape=(n, n))
    out = np.zeros((n, n), dtype=np.float32)
    out[np.ix_(kept, kept)] = P
    return out


def clear_run(adata, key: str = "sclstm") -> list[str]:
    """Remove an earlier run's results under ``key`` from ``adata``; the names of what was removed.

    A labelled run's ``_labelled`` mask or predictions left beside another run's results would be
    read as that run's (``sclstm score`` would score only the cells the old run did not train on),
    and a :func:`recluster` of it would cut a similarity that is gone, so they go too.
    """
    removed = []
    reclusters = [name for name, entry in adata.uns.items()  # cut from the similarity that goes now
                  if hasattr(entry, "get") and entry.get("source_key") == key]
    entries = run_entries(key)
    entries["obs"] += reclusters
    entries["uns"] += reclusters
    for slot, names in entries.items():
        store = getattr(adata, slot)
        for name in names:
            if name in store:
                del store[name]
                removed.append(f"{slot}[{name!r}]")
    return removed


def predicted_dtype(adata, labels_key, est) -> pd.CategoricalDtype:
    """The predicted types' dtype: the labels column's own where it is categorical (all its
    categories, in its order, ordered or not, as R keeps a factor's levels), so the two compare
    with ``==``; else the model's (sorted) classes."""
    classes = list(est.classes_)
    column = adata.obs[labels_key] if labels_key is not None and labels_key in adata.obs else None
    if column is None or not isinstance(column.dtype, pd.CategoricalDtype):
        return pd.CategoricalDtype(classes)
    categories = set(column.cat.categories)
    if set(classes) <= categories:
        return column.dtype
    return pd.CategoricalDtype(list(column.cat.categories) + [c for c in classes if c not in categories],
                               ordered=column.cat.ordered)


CLASS_LEVELS = "class_levels"  # summary_ key: the predicted types' categories, kept in a saved model
R_CLASS_LEVELS = "r_class_levels"  # the same, written by the R package's runScLSTM(save.model = )


def model_class_levels(est) -> list:
    """The categories of a labelled model's predicted types on new cells: those its fit wrote
    (the labels column's, recorded by :func:`write_results` or by R's runScLSTM), so that
    ``sclstm apply`` gives the categories ``sclstm cluster`` gave; else the model's classes."""
    classes = list(est.classes_)
    for key in (CLASS_LEVELS, R_CLASS_LEVELS):
        levels = est.summary_.get(key)
        if isinstance(levels, list) and len(set(levels)) == len(levels) and set(classes) <= set(levels):
            return levels
    return classes


def write_results(adata, est: ScLSTM, key_added: str = "sclstm", layer=None, labels_key=None,
                  store_similarity: bool = True) -> None:
    """Put a fitted estimator's results into ``adata`` (cells dropped as empty get NaN).

    An earlier run's results under the same key are replaced whole (:func:`clear_run`).
    """
    n = adata.n_obs
    clear_run(adata, key_added)
    kept = est.kept_cells_
    cats = [str(i) for i in range(est.n_clusters_)]
    codes = np.full(n, -1)
    codes[kept] = est.labels_
    adata.obs[key_added] = pd.Categorical.from_codes(codes, categories=cats)
    emb = np.full((n, est.embedding_.shape[1]), np.nan, dtype=np.float32)
    emb[kept] = est.embedding_
    adata.obsm[f"X_{key_added}"] = emb
    if store_similarity and hasattr(est, "similarity_"):
        adata.obsp[f"{key_added}_similarity"] = _expand_square(est.similarity_, kept)
    if est.labelled_mask_ is not None:
        used = np.zeros(n, dtype=bool)
        used[kept] = est.labelled_mask_
        adata.obs[f"{key_added}_labelled"] = used
    if est.predicted_labels_ is not None:
        predicted = np.full(n, None, dtype=object)
        predicted[kept] = est.predicted_labels_
        dtype = predicted_dtype(adata, labels_key, est)
        adata.obs[f"{key_added}_predicted"] = pd.Categorical(predicted, dtype=dtype)
        est.summary_[CLASS_LEVELS] = list(dtype.categories)  # a model saved now predicts with these
        confidence = np.full(n, np.nan, dtype=np.float32)
        confidence[kept] = est.predicted_confidence_
        adata.obs[f"{key_added}_predicted_confidence"] = confidence
    summary = dict(est.summary_, layer=layer, labels_key=labels_key, key_added=key_added)
    adata.uns[key_added] = h5ad_safe(summary)
    if not kept.all():  # NaN rows break sc.pp.neighbors(use_rep=...) with an error far from here
        warn_user(
            f"{int((~kept).sum())} cells with no counts (in the genes read) were dropped (drop_empty): they have no cluster in "
            f"obs[{key_added!r}] and NaN rows in obsm['X_{key_added}']; before sc.pp.neighbors(adata, "
            f"use_rep='X_{key_added}') keep the others: adata = adata[adata.obs[{key_added!r}].notna()].copy()")


def recluster(adata, n_clusters, key: str = "sclstm", key_added=None, copy: bool = False):
    """Cut the learned similarity of an earlier :func:`sclstm` run at another number of clusters,
    in seconds (2.7 s for 5,685 cells here) and without training again (as ``sc.tl.leiden`` is re-run at another
    resolution): average linkage on 1 − ``obsp[key + "_similarity"]``, as the fit clusters by default
    (``cluster_method="agglomerative"``).

    Writes ``obs[key_added]`` (default ``f"{key}_k{n_clusters}"``; categorical "0".."k-1", 0 the
    largest) and ``uns[key_added]``. Cells the run dropped as empty stay unclustered. Needs the
    exact path's dense similarity (``store_similarity=True``); the landmark path clusters by a
    merge tree that is not stored, so there refit with ``n_clusters=``. When the run's guard kept
    the kernel's partition (``uns[key]["partition_from"]``), this still cuts the learned
    similarity, and ``uns[key_added]`` says so. Returns a new AnnData if ``copy`` (the input
    left as it was), otherwise modifies ``adata`` and returns None, as :func:`sclstm` does.
    """
    if not (hasattr(adata, "obs") and hasattr(adata, "obsp")):
        raise InputError(f"expected an AnnData object, got {type(adata).__name__}.")
    check_flag("copy", copy)
    name = f"{key}_similarity"
    if key not in adata.obs or name not in adata.obsp:
        raise InputError(f"adata has no {key!r} run with its similarity (obs[{key!r}] and obsp[{name!r}]); "
                         f"run sclstm.tl.sclstm(adata, key_added={key!r}) first (store_similarity=True).")
    P = adata.obsp[name]
    if sp.issparse(P):
        run = adata.uns.get(key)
        if hasattr(run, "get") and run.get("kernel") == "landmark":
            raise InputError(f"obsp[{name!r}] is the landmark path's sparse neighbour similarity; its clusters come "
                             "from a merge tree that is not stored; refit with sclstm.tl.sclstm(adata, n_clusters=...).")
        # e.g. anndata.concat of two runs' results: a block matrix, no one run's similarity
        raise InputError(f"obsp[{name!r}] is sparse, and uns[{key!r}] does not say it is a landmark run's: it is not "
                         "one run's dense similarity (anndata.concat of two runs' results gives such a block "
                         "matrix); refit on these cells with sclstm.tl.sclstm(adata, n_clusters=...).")
    kept = adata.obs[key].notna().to_numpy()
    k = check_n_clusters(n_clusters, int(kept.sum()))
    if k is None:
        raise InputError("n_clusters must be given: recluster cuts at a number of clusters you choose "
                         "(the estimate and its curve are in uns[key]['k_curve']).")
    key_added = f"{key}_k{k}" if key_added is None else key_added
    if key_added in (key, name):
        raise InputError(f"key_added={key_added!r} would overwrite the run it reclusters; choose another key_added.")
    earlier = adata.uns.get(key_added)
    if _is_sclstm_entry(earlier) and "source_key" not in earlier:
        raise InputError(f"key_added={key_added!r} is another sclstm run; choose another key_added.")
    check_key(key_added, None, adata, {"obs": [key_added], "uns": [key_added]})  # an earlier recluster's are replaced, no one else's
    P = np.asarray(P)
    labels = cluster_similarity(P[np.ix_(kept, kept)], k)
    codes = np.full(adata.n_obs, -1)
    codes[kept] = labels
    target = adata.copy() if copy else adata
    target.obs[key_added] = pd.Categorical.from_codes(codes, categories=[str(i) for i in range(k)])
    run = adata.uns.get(key, {})
    target.uns[key_added] = h5ad_safe({
        "n_clusters": k, "from": f"obsp[{name!r}]", "linkage": "average", "source_key": key,
        "source_partition_from": run.get("partition_from") if hasattr(run, "get") else None,
    })
    return target if copy else None
