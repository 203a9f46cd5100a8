"""A community-detection view of the cells: Leiden on a k-nearest-neighbour graph.

Ward and average linkage with k clusters split large types and merge small ones when types
differ in size; a neighbour graph follows the data's own density instead. On the 5,000-cell
training sample of the 30,000-cell kidney simulation (16 planted types) Leiden on an
unweighted 15-NN graph of 50 principal components reached ARI 0.79 against 0.63–0.66 for Ward
on the kernel, average-linkage cosine and Ward on PCA (benchmarks/results/EXPERIMENTS.md,
"What moved it: the training pairs"). The graph now carries UMAP's fuzzy weights, as scanpy's
does (:func:`fuzzy_graph`): on the small datasets the unweighted graph merged distinct types
(Biase: 2 communities for 4 types), and the weighted one made a better teacher
(benchmarks/results/EXPERIMENTS.md, "What changed in the run of 2026-12-02, and why"). The
number of communities is whatever the graph gives; it is a source of training pairs, not the
final partition.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DEFAULT_GRAPH_NEIGHBOURS = 15
EXACT_NEIGHBOURS_MAX_CELLS = 50_000  # exact nearest neighbours up to this many rows, HNSW above


def nearest_neighbours(X: np.ndarray, k: int, exact_max_cells: int = EXACT_NEIGHBOURS_MAX_CELLS,
                       return_distances: bool = False):
    """Indices of each row's k nearest rows (itself included) by Euclidean distance, with
    faiss: exact up to ``exact_max_cells`` rows, an HNSW graph (approximate, 16 links) above;
    with ``return_distances``, also the distances. Slots faiss could not fill hold -1."""
    import faiss

    X = np.ascontiguousarray(X, dtype=np.float32)
    index = faiss.IndexFlatL2(X.shape[1]) if len(X) <= exact_max_cells else faiss.IndexHNSWFlat(X.shape[1], 16)
    index.add(X)
    squared, idx = index.search(X, int(min(k, len(X))))
    if return_distances:
        return idx, np.sqrt(np.maximum(squared, 0.0, where=idx >= 0, out=np.full(squared.shape, np.inf)))
    return idx


def neighbour_pairs(X: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) index pairs joining every row to its ``n_neighbors`` nearest other rows
    (:func:`nearest_neighbours`; the row itself and slots faiss could not fill are dropped)."""
    idx = nearest_neighbours(X, n_neighbors + 1)
    rows = np.repeat(np.arange(X.shape[0]), idx.shape[1])
    cols = idx.ravel()
    keep = (rows != cols) & (cols >= 0)
    return rows[keep], cols[keep]


def symmetric_graph(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> sp.csr_matrix:
    """n × n sparse graph with the given directed edge weights, made symmetric by keeping the
    larger weight of (i, j) and (j, i)."""
    W = sp.csr_matrix((values, (rows, cols)), shape=(n, n))
    return W.maximum(W.T).tocsr()


def fuzzy_graph(X: np.ndarray, n_neighbors: int = DEFAULT_GRAPH_NEIGHBOURS) -> sp.csr_matrix:
    """UMAP's fuzzy neighbour graph of the rows of X — the weights scanpy's ``pp.neighbors``
    gives Leiden by default (``n_neighbors`` counts the row itself, as there).

    Row i's ``n_neighbors`` − 1 nearest other rows get weight exp(−(d − ρᵢ)/σᵢ), where ρᵢ is
    the distance to its nearest row and σᵢ is found by bisection so that the weights sum to
    log₂(n_neighbors); the directed weights A are made symmetric as A + Aᵀ − A∘Aᵀ (fuzzy
    union). Unlike an unweighted kNN graph, weights fall off with local distance, so on a few
    dozen cells Leiden does not merge distinct types into one community.
    """
    n = X.shape[0]
    idx, dist = nearest_neighbours(X, n_neighbors, return_distances=True)
    usable = (idx >= 0) & (idx != np.arange(n)[:, None])
    d = np.where(usable, dist, np.inf)
    positive = np.where(usable & (d > 0), d, np.inf).min(axis=1)
    rho = np.where(np.isfinite(positive), positive, 0.0)
    excess = np.maximum(d - rho[:, None], 0.0)  # inf where unusable: weight 0
    target = np.log2(n_neighbors)
    lo, hi, sigma = np.zeros(n), np.full(n, np.inf), np.ones(n)
    for _ in range(64):
        too_wide = np.exp(-excess / sigma[:, None]).sum(axis=1) > target
        hi, lo = np.where(too_wide, sigma, hi), np.where(too_wide, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2.0, (lo + hi) / 2.0)
    mean_distance = np.where(usable, dist, 0.0).sum(axis=1) / n_neighbors  # as UMAP: self's 0 counted
    sigma = np.maximum(sigma, 1e-3 * mean_distance)
    weight = np.exp(-excess / np.where(sigma > 0, sigma, 1.0)[:, None])
    rows = np.repeat(np.arange(n), idx.shape[1])
    keep = usable.ravel()
    A = sp.csr_matrix((weight.ravel()[keep], (rows[keep], idx.ravel()[keep])), shape=(n, n))
    return (A + A.T - A.multiply(A.T)).tocsr()


def leiden(W: sp.spmatrix, resolution: float = 1.0, random_state: int = 0) -> np.ndarray:
    """Leiden communities (modularity with a resolution, as scanpy's default) of a graph."""
    import igraph
    import leidenalg

    U = sp.triu(W, 1).tocoo()
    g = igraph.Graph(n=W.shape[0], edges=np.column_stack([U.row, U.col]).tolist())
    part = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition, weights=U.data.tolist(),
                                    resolution_parameter=resolution, seed=int(random_state), n_iterations=-1)
    return np.asarray(part.membership, dtype=np.int64)
