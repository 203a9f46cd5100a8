"""The "improved sigmoid kernel" of Jiang et al.: S = tanh((I − min I) / (max I − min I)), I = L Lᵀ.

Both kernels share one interface: ``fit_transform(L)`` returns the n × c matrix of
similarities of every cell to the c *column cells* (``columns_``, row indices into L), and
``transform(L_new)`` the same for new cells with the fitted scaling. :class:`ExactKernel` is
the paper's n × n kernel; :class:`LandmarkKernel` (n × m against m landmark cells, chosen in
:mod:`sclstm.landmark`) serves large data, whose path differs beyond the kernel (training
sample, sparse similarity, micro-cluster merge).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .validation import InputError


def _inner(L, Y) -> np.ndarray:
    out = L @ Y.T
    if sp.issparse(out):
        out = out.toarray()
    return np.asarray(out, dtype=np.float64)


def minmax_tanh(I: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """tanh of I min–max scaled with the given bounds (all zeros if the bounds coincide)."""
    span = hi - lo
    scaled = (I - lo) / span if span > 0 else np.zeros_like(I)
    return np.tanh(scaled).astype(np.float32)


def sigmoid_kernel(L) -> np.ndarray:
    """The exact n × n kernel of the rows of L (dense or sparse)."""
    I = _inner(L, L)
    return minmax_tanh(I, I.min(), I.max())


class _FittedKernel:
    """What both kernels share: rows against ``reference_`` scaled with the fitted bounds."""

    def _set_bounds(self, lo: float, hi: float) -> None:
        """Keep the min–max bounds; equal bounds mean every similarity is the same."""
        if not hi > lo:
            raise InputError("every pair of cells is equally similar: no gene varies between the cells "
                             "after preprocessing, so there is nothing to cluster.")
        self.lo_, self.hi_ = float(lo), float(hi)

    def transform(self, L_new) -> np.ndarray:
        """Similarities of (new) cells to the column cells, scaled with the fitted min and max."""
        return minmax_tanh(_inner(L_new, self.reference_), self.lo_, self.hi_)


class ExactKernel(_FittedKernel):
    """Every cell against every cell (n × n, 4n² bytes in float32)."""

    name = "exact"

    def fit_transform(self, L) -> np.ndarray:
        I = _inner(L, L)
        self._set_bounds(I.min(), I.max())
        self.reference_ = L
        self.columns_ = np.arange(I.shape[0])
        return minmax_tanh(I, self.lo_, self.hi_)


def choose_landmarks(n_cells: int, n_landmarks: int, random_state: int = 0) -> np.ndarray:
    """The landmark rule: ``n_landmarks`` cells drawn uniformly without replacement with a
    generator seeded by ``random_state`` (all cells when there are fewer), in increasing order.

    A uniform draw keeps every type in proportion to its size; with 1024 landmarks a type of
    0.5% of the cells is expected to hold about 5 of them.
    """
    m = int(min(n_landmarks, n_cells))
    rng = np.random.default_rng([random_state, 1])
    return np.sort(rng.choice(n_cells, size=m, replace=False))


class LandmarkKernel(_FittedKernel):
    """Every cell against m landmark cells (n × m): the same formula, min–max scaled over n × m.

    Built in two steps so that the n × m matrix never has to be held: :meth:`chunk_bounds`
    of every row chunk of L, combined by :meth:`fit_bounds`, give the minimum and maximum inner
    product, after which :meth:`transform` gives any chunk's kernel rows with those bounds.
    """

    name = "landmark"

    def __init__(self, landmark_rows, landmark_cells: np.ndarray):
        self.reference_ = landmark_rows
        self.columns_ = np.asarray(landmark_cells)

    def chunk_bounds(self, L) -> tuple[float, float]:
        """The smallest and largest inner product of the rows of L with the landmarks."""
        I = _inner(L, self.reference_)
        return float(I.min()), float(I.max())

    def fit_bounds(self, bounds) -> "LandmarkKernel":
        """Scale by the overall min and max of the (lo, hi) pairs of :meth:`chunk_bounds`."""
        lo, hi = np.inf, -np.inf
        for chunk_lo, chunk_hi in bounds:
            lo, hi = min(lo, chunk_lo), max(hi, chunk_hi)
        self._set_bounds(lo, hi)
        return self

    def fit_transform(self, L) -> np.ndarray:
        """For data in memory: bounds from all rows of L, then its n × m kernel."""
        self.fit_bounds([self.chunk_bounds(L)])
        return self.transform(L)
