"""ScLSTM for many cells: nothing n × n is ever held.

The exact path needs the n × n kernel and learned similarity (4n² bytes each). This path:

1. preprocessing fitted from row chunks (:meth:`Preprocessor.fit_chunks`);
2. a :class:`~sclstm.kernel.LandmarkKernel` against m seeded landmark cells — bounds from one
   pass over the chunks, kernel rows recomputed chunk by chunk when needed;
3. a seeded *training sample* of s cells (s = ``sample_size``, all cells when fewer): on it the
   exact machinery runs at s × s cost — k estimated from its exact kernel, the label-free
   views (or the labels) that give training pairs — and the siamese LSTM trains on its
   landmark-kernel rows (unsupervised, with a class loss on the Leiden view's communities as
   well, :data:`PSEUDO_CLASS_WEIGHT`); training costs the same whatever n is;
4. every cell embedded chunk by chunk;
5. clustering by an equivalent hierarchical merge: the embedding is cut into ``n_micro``
   k-means micro-clusters, the learned P(same) is averaged over sampled member pairs of every
   two micro-clusters, and size-weighted average linkage merges them (the paper's average
   linkage on 1 − P, with micro-clusters as the units);
6. the learned similarity for each cell's nearest neighbours in the embedding (faiss: exact,
   or an HNSW graph above graph.EXACT_NEIGHBOURS_MAX_CELLS cells) kept as a sparse matrix.

Every pass over the cells (steps 1, 2 and 4) goes through
:meth:`~sclstm.chunks.RowSource.map_chunks`: for a Dask array each chunk is a Dask task, so a
``dask.distributed`` cluster's workers read, preprocess, take kernel rows and embed their
chunks, and send back only bounds, statistics and embeddings.

Memory: the counts as given, O(n · (embedding + neighbours)), one chunk of kernel rows, and
O(s² + n_micro²) for the sample and the merge.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.cluster import MiniBatchKMeans

from .chunks import RowSource
from .graph import neighbour_pairs, symmetric_graph
from .clustering import cut_tree, estimate_k, relabel_by_size, weighted_average_linkage
from .kernel import LandmarkKernel, choose_landmarks, sigmoid_kernel
from .sequences import fit_sequencer
from .training import class_probabilities, embed, full_float32
from .validation import InputError, warn_if_log_scale

DEFAULT_LANDMARKS = 1024
DEFAULT_SAMPLE = 5000
DEFAULT_MICRO = 500
SIMILARITY_NEIGHBOURS = 15  # the learned P(same) kept for each cell's nearest neighbours
MICRO_MEMBERS = 8  # cells of each micro-cluster (at most) whose pairs score two micro-clusters in the merge
MIN_SAMPLE = 50  # the training views cluster 50 principal components of the sample (pairs.py)
PSEUDO_CLASS_WEIGHT = 0.3
"""Unsupervised: weight of the class loss on the ``leiden_pca`` view's communities of the training
sample, added to the pair loss (:func:`~sclstm.training.train_siamese`'s ``pseudo_classes``), so
that the encoder keeps more of the groups its teacher shows it. Adopted on simulated tuning files
by a rule written before the runs (benchmarks/results/pseudo_classes/decision.md)."""


def check_k_fits(k: int, n_micro: int, exact_possible: bool) -> None:
    """The landmark path's clusters are unions of its ``n_micro`` micro-clusters: no more than
    that many. ``exact_possible``: whether the exact kernel could take these cells instead."""
    if k > n_micro:
        advice = ("use kernel='exact' for so many clusters" if exact_possible else
                  "that is the most it gives, and these cells are too many for the exact kernel")
        raise InputError(f"k = {k} is more than the {n_micro} micro-clusters the landmark path merges; {advice}.")


def sample_cells(n_cells: int, size: int, random_state: int) -> np.ndarray:
    """The training sample: ``size`` cells drawn uniformly with a seeded generator, sorted."""
    if size >= n_cells:
        return np.arange(n_cells)
    rng = np.random.default_rng([random_state, 2])
    return np.sort(rng.choice(n_cells, size=size, replace=False))


def read_landmarks_and_sample(source: RowSource, preprocessor, n_landmarks: int, sample_size: int,
                              random_state: int):
    """The landmark cells and the training sample with their preprocessed rows, read in one
    pass over the data (for counts on disk, every pass reads the whole file)."""
    landmarks = choose_landmarks(source.n_cells, n_landmarks, random_state)
    sample = sample_cells(source.n_cells, sample_size, random_state)
    rows = source.rows(np.concatenate([landmarks, sample]))
    warn_if_log_scale(rows.data)  # judged on these cells: the other chunks are never all in one place
    L = preprocessor.transform(rows)
    return landmarks, L[:len(landmarks)], sample, L[len(landmarks):]


def _chunk_bounds(preprocessor, kernel: LandmarkKernel, M, first: int) -> tuple[float, float]:
    return kernel.chunk_bounds(preprocessor.transform(M))


def fit_landmark_kernel(source: RowSource, preprocessor, landmarks: np.ndarray, L_landmarks) -> LandmarkKernel:
    """The kernel against the landmarks, min–max bounds from one pass over every chunk."""
    kernel = LandmarkKernel(L_landmarks, landmarks)
    return kernel.fit_bounds(source.map_chunks(partial(_chunk_bounds, preprocessor, kernel)))


def landmark_sequencer(kernel: LandmarkKernel, K_sample: np.ndarray, n_steps: int, random_state: int):
    """All landmark columns, ordered by average linkage on the landmark × landmark kernel."""
    block = kernel.transform(kernel.reference_)
    return fit_sequencer(K_sample, None, n_steps, max_columns=K_sample.shape[1],
                         random_state=random_state, column_block=block)


def _embed_chunk(preprocessor, kernel, sequencer, model, device: str, M, first: int):
    """Embedding of a chunk's cells and, for a model with a class head, their class probabilities."""
    seqs = sequencer.transform(kernel.transform(preprocessor.transform(M)))
    emb = embed(model, seqs, device)
    return emb, (class_probabilities(model, seqs, emb, device) if model.classifier is not None else None)


def embed_all(source: RowSource, preprocessor, kernel, sequencer, model, device: str):
    """The encoder's embedding of every cell, one chunk of kernel rows at a time, and, for a
    model with a class head (labelled mode), every cell's class probabilities (else None)."""
    parts = source.map_chunks(partial(_embed_chunk, preprocessor, kernel, sequencer, model, device))
    probabilities = [p for _, p in parts if p is not None]
    return np.vstack([e for e, _ in parts]), (np.vstack(probabilities) if probabilities else None)


@full_float32
@torch.no_grad()
def mean_pair_probability(model, emb: np.ndarray, groups: list[np.ndarray], device: str) -> np.ndarray:
    """c × c mean learned P(same) between the given member sets of c groups."""
    members = np.concatenate(groups)
    owner = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    E = torch.from_numpy(emb[members]).to(device)
    c = len(groups)
    onehot = np.zeros((len(members), c), dtype=np.float64)
    onehot[np.arange(len(members)), owner] = 1.0
    sums = np.zeros((c, c))
    rows = max(1, 1_000_000 // len(members))
    for start in range(0, len(members), rows):
        stop = min(len(members), start + rows)
        a = E[start:stop, None, :].expand(stop - start, len(members), E.shape[1])
        b = E[None, :, :].expand(stop - start, len(members), E.shape[1])
        P = model.pair_probability(a, b).cpu().numpy().astype(np.float64)
        sums += onehot[start:stop].T @ P @ onehot
    counts = np.outer(onehot.sum(0), onehot.sum(0))
    M = sums / counts
    return (M + M.T) / 2


class MicroClusterMerge:
    """The hierarchical merge over micro-clusters; cut at any k without recomputing."""

    def __init__(self, model, emb: np.ndarray, n_micro: int, per_micro: int, random_state: int, device: str):
        n = emb.shape[0]
        c = int(min(n_micro, n))
        km = MiniBatchKMeans(n_clusters=c, random_state=random_state, batch_size=4096, n_init=3)
        micro = km.fit_predict(emb)
        _, micro = np.unique(micro, return_inverse=True)  # drop empty micro-clusters
        c = int(micro.max()) + 1
        rng = np.random.default_rng([random_state, 3])
        groups = []
        for g in range(c):
            idx = np.flatnonzero(micro == g)
            groups.append(idx if len(idx) <= per_micro else np.sort(rng.choice(idx, per_micro, replace=False)))
        P = mean_pair_probability(model, emb, groups, device)
        self.micro_ = micro
        self.sizes_ = np.bincount(micro)
        self.micro_similarity_ = P  # c × c mean P(same): what the tree merges on, kept for diagnostics
        self.tree_ = weighted_average_linkage(np.clip(1.0 - P, 0.0, None), self.sizes_) if c > 1 else None

    def cut(self, k: int) -> np.ndarray:
        c = len(self.sizes_)
        if k > c:  # the estimator says why first (check_k_fits)
            raise ValueError(f"k = {k} is more than the {c} micro-clusters.")
        if k == c:
            return relabel_by_size(self.micro_)
        return relabel_by_size(cut_tree(self.tree_, k)[self.micro_])


@full_float32
@torch.no_grad()
def knn_similarity(model, emb: np.ndarray, n_neighbors: int, device: str) -> sp.csr_matrix:
    """Sparse symmetric learned P(same) on each cell's nearest neighbours (graph.nearest_neighbours:
    exact up to graph.EXACT_NEIGHBOURS_MAX_CELLS cells, approximate above)."""
    rows, cols = neighbour_pairs(emb, n_neighbors)
    E = torch.from_numpy(emb).to(device)
    vals = np.concatenate([
        model.pair_probability(E[torch.from_numpy(rows[s:s + 1_000_000])], E[torch.from_numpy(cols[s:s + 1_000_000])]).cpu().numpy()
        for s in range(0, len(rows), 1_000_000)
    ])
    return symmetric_graph(rows, cols, vals.astype(np.float32), emb.shape[0])


def estimate_k_on_sample(L_sample, k_max: int) -> tuple[int, dict]:
    k, curve = estimate_k(sigmoid_kernel(L_sample), k_max=k_max)  # exact kernel, s × s
    curve = dict(curve, method=curve["method"] + " (exact kernel of the training sample)")
    return k, curve


def memory_estimate(n_cells: int, n_genes: int, n_landmarks: int, sample: int,
                    n_micro: int, chunk: int) -> int:
    """Bytes the landmark path holds at its peak, roughly (the input itself not counted).
    Landmarks, micro-clusters (and the cells scoring them) and a chunk are at most the cells
    there are (before: 0.27 GiB said for 40 cells, from 1,024 landmarks and 500 micro-clusters).
    ``n_genes``: the genes the kernel reads (with preprocess="paper" every gene of the input, an
    upper bound; before, counted as n_top_genes: 1.02 GiB said where 6,000 cells × 19,625 genes
    passed 2.4 GiB, audit helper-48; counted, 3,000 such cells: 1.50 GiB said, 1.38 measured)."""
    s = min(sample, n_cells)
    n_landmarks, n_micro, chunk = min(n_landmarks, n_cells), min(n_micro, n_cells), min(chunk, n_cells)
    per_cell = 4 * 32 + 3 * 12 * SIMILARITY_NEIGHBOURS + 8 * 4  # embedding, kNN graph, labels/bookkeeping
    sample_bytes = 8 * s * s * 3 + 4 * s * (n_genes + n_landmarks)
    chunk_bytes = chunk * (8 * n_genes + 8 * n_landmarks) * 2
    micro = 8 * n_micro * n_micro * 2 + 8 * min(MICRO_MEMBERS * n_micro, n_cells) ** 2
    return int(n_cells * per_cell + sample_bytes + chunk_bytes + micro + 4 * n_landmarks * n_genes)
