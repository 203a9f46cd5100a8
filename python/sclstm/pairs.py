"""Where the siamese network's same/different training pairs come from.

A pair source holds one or more *views*: label vectors over the cells (-1 = no label).
A pair is **positive** when both cells carry the same label in every view and **negative**
when their labels differ in every view; pairs on which the views disagree are never used.

* Unsupervised (default): the views are label-free clusterings of the data itself
  (:func:`label_free_views`) — never the user's labels.
* Labelled: a single view, the labels of the cells whose labels may be used.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from .clustering import agglomerative, cluster_features, cosine_distances
from .graph import fuzzy_graph, leiden


TRAINING_VIEWS = ("leiden_pca", "ward_kernel")
"""The views whose agreement gives the unsupervised training pairs of the exact path."""
LANDMARK_TRAINING_VIEWS = ("leiden_pca", "ward_pca")
"""The landmark path's views, on its training sample. There Ward runs on landmark-kernel rows,
which merged reference types that Leiden and Ward on PCs keep apart; these two views won on
simulated tuning files (benchmarks/results/landmark_views/decision.md)."""
GUARD_VIEWS = ("average_cosine", "ward_pca")
"""Views kept out of training that judge learned against kernel partitions (estimator)."""
VIEWS = ("ward_kernel", "leiden_pca", "average_cosine", "ward_pca")


def label_free_views(L: np.ndarray, S: np.ndarray, k: int, random_state: int = 0,
                     names=TRAINING_VIEWS) -> dict:
    """Label-free clusterings of the cells that look at the data differently, by name:

    * ``ward_kernel``: Ward with k clusters on the kernel rows S;
    * ``leiden_pca``: Leiden communities (resolution 1, as many as the graph gives) of the
      fuzzy 15-nearest-neighbour graph (:func:`~sclstm.graph.fuzzy_graph`, scanpy's default
      weights) on 50 principal components of L — follows the data's density, so types of
      very different sizes are neither split nor merged to reach k;
    * ``average_cosine``: average linkage with k clusters on cosine distance of L;
    * ``ward_pca``: Ward with k clusters on the principal components.

    Pairs on which such views agree were the best training source found (../shared/DESIGN.md §2.6).
    """
    unknown = set(names) - set(VIEWS)
    if unknown:
        raise ValueError(f"unknown views {sorted(unknown)}; choose from {VIEWS}")
    Ld = np.asarray(L.toarray() if hasattr(L, "toarray") else L, dtype=np.float64)
    pcs = principal_components(Ld, random_state) if {"leiden_pca", "ward_pca"} & set(names) else None
    make = {
        "ward_kernel": lambda: cluster_features(S, k),
        "leiden_pca": lambda: leiden(fuzzy_graph(pcs), random_state=random_state),
        "average_cosine": lambda: np.asarray(agglomerative(cosine_distances(Ld), k, "average")),
        "ward_pca": lambda: cluster_features(pcs, k),
    }
    return {name: make[name]() for name in names}


def principal_components(Ld: np.ndarray, random_state: int = 0) -> np.ndarray:
    """The 50 (at most n − 1) principal components of L that the PCA-based views cluster."""
    n = Ld.shape[0]
    n_pc = int(min(50, n - 1, Ld.shape[1]))
    return PCA(n_components=n_pc, random_state=random_state,
               svd_solver="full" if n < 500 else "auto").fit_transform(Ld)


def guard_agreement(labels, views: dict, names=GUARD_VIEWS) -> float:
    """Mean ARI of ``labels`` with the ``names`` views: the guard keeps whichever of the learned
    and the kernel's partition scores higher."""
    return float(np.mean([adjusted_rand_score(views[name], labels) for name in names]))


def informative_views(views: dict) -> dict:
    """The views that split the cells into at least two groups. A view with one group
    (Leiden on a handful of cells finds one community) would forbid every negative pair."""
    kept = {name: v for name, v in views.items() if len(np.unique(np.asarray(v)[np.asarray(v) >= 0])) > 1}
    return kept or views


class PairSource:
    """Samples balanced batches of positive and negative pairs from agreeing views."""

    def __init__(self, views, max_tries: int = 50):
        V = np.column_stack([np.asarray(v) for v in views]).astype(np.int64)
        self.V = V
        usable = (V >= 0).all(axis=1)
        self.cells = np.flatnonzero(usable)
        _, atom = np.unique(V[self.cells], axis=0, return_inverse=True)
        atom = atom.ravel()
        sizes = np.bincount(atom)
        self._atom = atom
        self._members = [self.cells[atom == a] for a in range(len(sizes))]
        self._pos_anchor = self.cells[sizes[atom] >= 2]
        self.max_tries = max_tries
        single_group = any(len(np.unique(V[self.cells, j])) < 2 for j in range(V.shape[1]))
        if len(self._pos_anchor) == 0 or single_group:  # one group in a view forbids every negative
            raise ValueError("the views give no positive or no negative pairs")
        self._atom_of = np.full(V.shape[0], -1)
        self._atom_of[self.cells] = atom

    @property
    def n_confident_cells(self) -> int:
        return int(len(self._pos_anchor))

    def sample(self, rng: np.random.Generator, n_pairs: int):
        """Return arrays (a, b, same): half the pairs positive, half negative, less the negatives
        still joined by some view after ``max_tries`` redraws (dropped, not kept as wrong)."""
        n_pos = n_pairs // 2
        n_neg = n_pairs - n_pos
        a_pos = rng.choice(self._pos_anchor, size=n_pos)
        b_pos = np.empty(n_pos, dtype=np.int64)
        for t, i in enumerate(a_pos):
            members = self._members[self._atom_of[i]]
            j = i
            while j == i:
                j = members[rng.integers(len(members))]
            b_pos[t] = j
        a_neg = rng.choice(self.cells, size=n_neg)
        b_neg = rng.choice(self.cells, size=n_neg)
        for _ in range(self.max_tries):
            bad = (self.V[a_neg] == self.V[b_neg]).any(axis=1)
            if not bad.any():
                break
            b_neg[bad] = rng.choice(self.cells, size=int(bad.sum()))
        ok = ~(self.V[a_neg] == self.V[b_neg]).any(axis=1)
        a = np.concatenate([a_pos, a_neg[ok]])
        b = np.concatenate([b_pos, b_neg[ok]])
        y = np.concatenate([np.ones(n_pos, np.float32), np.zeros(int(ok.sum()), np.float32)])
        return a, b, y
