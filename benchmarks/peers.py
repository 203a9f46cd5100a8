"""Peer methods for the accuracy benchmark, on the same gene-filtered matrix as ScLSTM.

scanpy-standard preprocessing (``standard_pca``): normalize_total, log1p, 2000 highly
variable genes (scanpy's default ``seurat`` flavour), scale (max 10), PCA with 50 components
(fewer when the data has fewer cells), seeded. Then:

* ``peers``: Leiden (igraph flavour, 2 iterations, on the 15-NN graph of the PCs) at the
  default resolution 1.0 — it chooses k itself — and at the resolution found by bisection
  (log scale) to give the true k; Ward and k-means (10 starts) on the PCs with k given.
* ``sc3s``: SC3s consensus (``sc3s.tl.consensus``, its defaults: 25 PCs, 5 runs) with k
  given. SC3s has no estimator of k, so it has no k-estimated row.
* ``peers_labelled``: logistic regression and kNN (5 neighbours) on the PCs, trained on the
  same stratified 80 % of cells ScLSTM's labelled mode uses for the seed, scored on the 20 %.

Labels are read only to give the true k (k-given rows) and, for ``peers_labelled``, the
labels of the training 80 %.
"""
from __future__ import annotations

import time
import warnings

import numpy as np


def standard_pca(adata, seed: int):
    import scanpy as sc

    a = adata.copy()
    a.X = a.X.astype(np.float32)
    sc.pp.normalize_total(a)
    sc.pp.log1p(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.highly_variable_genes(a, n_top_genes=min(2000, a.n_vars))
    a = a[:, a.var["highly_variable"].to_numpy()].copy()
    if hasattr(a.X, "toarray"):  # scale centres the genes: dense anyway (and no sparse warning)
        a.X = a.X.toarray()
    sc.pp.scale(a, max_value=10)
    n_comps = int(min(50, a.n_obs - 1, a.n_vars - 1))
    sc.tl.pca(a, n_comps=n_comps, random_state=seed)
    return a


def _leiden(a, resolution: float, seed: int) -> np.ndarray:
    import scanpy as sc

    sc.tl.leiden(a, resolution=resolution, random_state=seed, key_added="_leiden", flavor="igraph",
                 n_iterations=2, directed=False)
    return a.obs["_leiden"].astype(int).to_numpy()


def leiden_to_k(a, k: int, seed: int, max_iter: int = 30):
    """Resolution bisection (log scale) until Leiden gives k clusters; closest found otherwise."""
    found = {}

    def run(r):
        lab = _leiden(a, r, seed)
        found[r] = lab
        return len(np.unique(lab))

    lo, hi = None, None
    r = 1.0
    n = run(r)
    if n == k:
        return found[r], r, n
    # bracket
    if n < k:
        lo = r
        while n < k and r < 1e3:
            r *= 2
            n = run(r)
            if n == k:
                return found[r], r, n
            if n < k:
                lo = r
        hi = r
    else:
        hi = r
        while n > k and r > 1e-4:
            r /= 2
            n = run(r)
            if n == k:
                return found[r], r, n
            if n > k:
                hi = r
        lo = r
    for _ in range(max_iter):
        r = float(np.sqrt(lo * hi))
        n = run(r)
        if n == k:
            return found[r], r, n
        if n < k:
            lo = r
        else:
            hi = r
    best = min(found, key=lambda x: (abs(len(np.unique(found[x])) - k), x))
    return found[best], best, len(np.unique(found[best]))


def unit_peers(adata, truth, k_true, seed):
    import scanpy as sc
    from sclstm.clustering import cluster_features

    t0 = time.perf_counter()
    a = standard_pca(adata, seed)
    sc.pp.neighbors(a, n_neighbors=int(min(15, a.n_obs - 1)), random_state=seed)
    t_pre = time.perf_counter() - t0
    pcs = a.obsm["X_pca"]
    rows = []
    t = time.perf_counter()
    lab = _leiden(a, 1.0, seed)
    rows.append(dict(method="Leiden (scanpy)", mode="unsupervised", k="estimated", k_used=len(np.unique(lab)),
                     labels=lab, seconds=t_pre + time.perf_counter() - t, note="default resolution 1.0"))
    t = time.perf_counter()
    lab, res, n = leiden_to_k(a, k_true, seed)
    rows.append(dict(method="Leiden (scanpy)", mode="unsupervised", k="given", k_used=int(n), labels=lab,
                     seconds=t_pre + time.perf_counter() - t,
                     note=f"resolution {res:.4g} by bisection" + ("" if n == k_true else f"; closest k {n}")))
    t = time.perf_counter()
    rows.append(dict(method="Ward on PCA", mode="unsupervised", k="given", k_used=k_true,
                     labels=cluster_features(pcs, k_true), seconds=t_pre + time.perf_counter() - t,
                     note=f"{pcs.shape[1]} PCs"))
    t = time.perf_counter()
    rows.append(dict(method="k-means on PCA", mode="unsupervised", k="given", k_used=k_true,
                     labels=cluster_features(pcs, k_true, "kmeans", seed), seconds=t_pre + time.perf_counter() - t,
                     note=f"{pcs.shape[1]} PCs, 10 starts"))
    return rows, {}


def unit_sc3s(adata, truth, k_true, seed):
    import logging

    t0 = time.perf_counter()
    try:
        import sc3s
    except Exception as exc:
        return [dict(method="SC3s", mode="unsupervised", k="given", k_used=k_true, labels=None, seconds=np.nan,
                     note=f"not run: sc3s cannot be imported ({type(exc).__name__}: {exc})")], {}
    try:
        a = standard_pca(adata, seed)
        root = logging.getLogger()
        if not root.handlers:  # sc3s calls logging.basicConfig(level=INFO), which is a no-op once a handler exists
            root.addHandler(logging.NullHandler())
        root.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc3s.tl.consensus(a, n_clusters=[k_true], random_state=seed)
        lab = a.obs[f"sc3s_{k_true}"].astype(str).to_numpy()
        note = "sc3s.tl.consensus defaults (25 PCs, 5 runs)"
    except Exception as exc:
        return [dict(method="SC3s", mode="unsupervised", k="given", k_used=k_true, labels=None, seconds=np.nan,
                     note=f"not run: sc3s failed ({type(exc).__name__}: {exc})")], {}
    return [dict(method="SC3s", mode="unsupervised", k="given", k_used=len(np.unique(lab)), labels=lab,
                 seconds=time.perf_counter() - t0, note=note)], {}


def unit_peers_labelled(adata, truth, k_true, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    from sclstm_runs import split_mask

    t0 = time.perf_counter()
    a = standard_pca(adata, seed)
    t_pre = time.perf_counter() - t0
    pcs = a.obsm["X_pca"]
    train = split_mask(truth, seed)
    y = np.asarray(truth, dtype=object).astype(str)
    rows = []
    for name, clf in (("logistic regression on PCA", LogisticRegression(max_iter=5000)),
                      ("kNN on PCA", KNeighborsClassifier(n_neighbors=int(min(5, train.sum()))))):
        t = time.perf_counter()
        clf.fit(pcs[train], y[train])
        pred = np.asarray(clf.predict(pcs), dtype=object)
        pred[train] = y[train]  # cells whose labels were given keep them (they are not scored)
        rows.append(dict(method=name, mode="labelled 80%", k="from labels", k_used=len(np.unique(y[train])),
                         labels=pred, scored=~train, train_mask=train, predicts="classes",
                         seconds=t_pre + time.perf_counter() - t, note="same split as ScLSTM labelled"))
    return rows, {}
