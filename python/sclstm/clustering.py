"""Cells → clusters, from a feature matrix or a similarity matrix, and the estimate of k.

Agglomerative clustering is the paper's choice and the default; k-means and spectral
clustering are the alternatives the paper's Table 2 compares. Cluster ids are renumbered
so that 0 is the largest cluster (ties: the one whose first cell comes first), making
outputs comparable run to run.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import laplacian
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering

from .validation import InputError

CLUSTER_METHODS = ("agglomerative", "kmeans", "spectral")


def relabel_by_size(labels) -> np.ndarray:
    """Renumber clusters 0..k-1 by decreasing size, ties by first appearance."""
    labels = np.asarray(labels)
    uniq, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    mapping = {uniq[i]: new for new, i in enumerate(order)}
    return np.array([mapping[x] for x in labels], dtype=np.int64)


def cluster_features(Z: np.ndarray, k: int, method: str = "agglomerative", random_state: int = 0):
    """Cluster rows of a feature matrix (Ward linkage for agglomerative)."""
    if method == "agglomerative":
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(Z)
    elif method == "kmeans":
        labels = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(Z)
    elif method == "spectral":
        labels = SpectralClustering(
            n_clusters=k, affinity="nearest_neighbors", n_neighbors=min(10, Z.shape[0] - 1),
            random_state=random_state, assign_labels="cluster_qr",
        ).fit_predict(Z)
    else:
        raise InputError(f"cluster_method must be one of {CLUSTER_METHODS}, got {method!r}.")
    return relabel_by_size(labels)


def cluster_similarity(P: np.ndarray, k: int, linkage: str = "average") -> np.ndarray:
    """Agglomerative clustering of a symmetric similarity in [0, 1] (distance 1 − P)."""
    D = 1.0 - np.asarray(P, dtype=np.float64)
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0.0)
    np.clip(D, 0.0, None, out=D)
    labels = AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage=linkage).fit_predict(D)
    return relabel_by_size(labels)


def knn_graph(S: np.ndarray, n_neighbors: int = 10) -> sp.csr_matrix:
    """Symmetric kNN graph of a similarity matrix, weights = similarities (self excluded)."""
    n = S.shape[0]
    kk = min(n_neighbors, n - 1)
    S = np.array(S, dtype=np.float64)
    np.fill_diagonal(S, -np.inf)
    idx = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
    rows = np.repeat(np.arange(n), kk)
    vals = np.maximum(S[rows, idx.ravel()], 0) + 1e-12
    W = sp.csr_matrix((vals, (rows, idx.ravel())), shape=(n, n))
    return W.maximum(W.T).tocsr()


def estimate_k(S: np.ndarray, k_max: int = 30, n_neighbors: int = 10) -> tuple[int, dict]:
    """Number of clusters from the largest eigengap of the kNN-sparsified similarity.

    Eigenvalues λ₁ ≤ λ₂ ≤ … of the normalised Laplacian of the kNN graph of S; k is the
    argmax over k ≥ 2 of λ_{k+1} − λ_k. Returns k and the curve it came from.
    """
    n = S.shape[0]
    k_max = int(min(k_max, n - 1))
    if k_max < 2:
        return 2, {"k": [2], "eigengap": [0.0], "eigenvalue": [0.0, 0.0], "method": "eigengap"}
    W = knn_graph(S, n_neighbors)
    Lap = laplacian(W, normed=True).toarray()
    evals = np.sort(np.linalg.eigvalsh((Lap + Lap.T) / 2))[: k_max + 1]
    gaps = np.diff(evals)  # gaps[i] = λ_{i+2} − λ_{i+1} (1-based): gap after i+1 clusters
    ks = np.arange(1, len(gaps) + 1)
    valid = ks >= 2
    k = int(ks[valid][np.argmax(gaps[valid])])
    curve = {
        "method": "eigengap of the normalised Laplacian of the 10-NN graph of S",
        "k": ks[valid].tolist(),
        "eigengap": gaps[valid].astype(float).tolist(),
        "eigenvalue": evals.astype(float).tolist(),
    }
    return k, curve
