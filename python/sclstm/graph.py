"""A community-detection view of the cells: Leiden on a k-nearest-neighbour graph.

Ward and average linkage with k clusters split large types and merge small ones when types
differ in size; a neighbour graph follows the data's own density instead. On the 5,000-cell
training sample of the 30,000-cell kidney simulation (16 planted types) Leiden on a 15-NN
graph of 50 principal components reached ARI 0.79 against 0.63–0.66 for Ward on the kernel,
average-linkage cosine and Ward on PCA (README, "Large data"). The number of communities is
whatever the graph gives; it is a source of training pairs, not the final partition.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DEFAULT_GRAPH_NEIGHBOURS = 15


def nearest_neighbours(X: np.ndarray, k: int, exact_max_cells: int = 50_000) -> np.ndarray:
    """Indices of each row's k nearest rows (itself included) by Euclidean distance, with
    faiss: exact up to ``exact_max_cells`` rows, an HNSW graph (approximate, 16 links) above."""
    import faiss

    X = np.ascontiguousarray(X, dtype=np.float32)
    index = faiss.IndexFlatL2(X.shape[1]) if len(X) <= exact_max_cells else faiss.IndexHNSWFlat(X.shape[1], 16)
    index.add(X)
    return index.search(X, int(min(k, len(X))))[1]


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


def knn_graph(X: np.ndarray, n_neighbors: int = DEFAULT_GRAPH_NEIGHBOURS) -> sp.csr_matrix:
    """Symmetric unweighted graph joining every row to its ``n_neighbors`` nearest rows."""
    rows, cols = neighbour_pairs(X, n_neighbors)
    return symmetric_graph(rows, cols, np.ones(len(rows)), X.shape[0])


def leiden(W: sp.spmatrix, resolution: float = 1.0, random_state: int = 0) -> np.ndarray:
    """Leiden communities (modularity with a resolution, as scanpy's default) of a graph."""
    import igraph
    import leidenalg

    U = sp.triu(W, 1).tocoo()
    g = igraph.Graph(n=W.shape[0], edges=np.column_stack([U.row, U.col]).tolist())
    part = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition, weights=U.data.tolist(),
                                    resolution_parameter=resolution, seed=int(random_state), n_iterations=-1)
    return np.asarray(part.membership, dtype=np.int64)
