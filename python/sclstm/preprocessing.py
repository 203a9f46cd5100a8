"""Counts → the log-expression matrix L that the kernel is built from.

Three recipes:

* ``"scaled"`` (default): genes expressed in ≥ ``min_cells`` cells, library-size
  normalisation to the median depth, log1p, the ``n_top_genes`` most variable genes
  (dispersion z-scored within mean bins, as Seurat/scanpy), then every gene centred and
  scaled to unit variance, clipped at ±10 (Seurat's ScaleData, scanpy's ``pp.scale``).
  Inner products of raw log counts are dominated by sequencing depth (../shared/DESIGN.md §2.2);
  normalisation removes that, and scaling stops a few highly expressed genes from
  deciding the kernel. Kernel alone, Ward, true k, ARI over the 7 datasets in
  ``../shared/data``: mean 0.831 scaled against 0.779 centred only (README).
* ``"normalised"``: the same without the scaling (genes centred only).
* ``"paper"``: log(A + 1) of every gene expressed in ≥ ``min_cells`` cells, exactly as
  Jiang et al. write it.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import scipy.sparse as sp

from .validation import InputError

PREPROCESS_METHODS = ("scaled", "normalised", "paper")
FLAT_SD = 1e-6  # a gene's log values varying by less than this (relative to their size) are constant
SCALE_CLIP = 10.0


def filter_genes(X: sp.csr_matrix, min_cells: int = 3) -> np.ndarray:
    """Indices of genes with a non-zero value in at least ``min_cells`` cells."""
    X = sp.csr_matrix(X)
    return kept_genes(np.bincount(X.indices[X.data != 0], minlength=X.shape[1]), min_cells)


def kept_genes(gene_nnz: np.ndarray, min_cells: int) -> np.ndarray:
    """The expression filter from non-zero cells per gene: indices of genes in ≥ ``min_cells`` cells."""
    return np.flatnonzero(gene_nnz >= min_cells)


def normalise_log(X: sp.csr_matrix, target_sum: float | None = None) -> sp.csr_matrix:
    """Scale every cell to the same total (median depth by default), then log1p."""
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    totals = np.asarray(X.sum(axis=1)).ravel()
    if target_sum is None:
        target_sum = float(np.median(totals[totals > 0]))
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    X = sp.diags(scale) @ X
    X = sp.csr_matrix(X)
    np.log1p(X.data, out=X.data)
    return X


def highly_variable_genes(logX: sp.csr_matrix, n_top_genes: int, n_bins: int = 20) -> np.ndarray:
    """Indices of the ``n_top_genes`` genes with the largest normalised dispersion.

    Dispersion = variance / mean of the log-normalised values, z-scored within bins of
    mean expression so that highly expressed genes do not win by being expressed.
    """
    if n_top_genes >= logX.shape[1]:
        return np.arange(logX.shape[1])
    mean = np.asarray(logX.mean(axis=0)).ravel()
    sq = np.asarray(logX.multiply(logX).mean(axis=0)).ravel()
    return select_variable(mean, sq, logX.shape[0], n_top_genes, n_bins)


def unbiased_variance(mean: np.ndarray, sq: np.ndarray, n_cells: int) -> np.ndarray:
    """Per-gene variance (ddof = 1) from the mean and the mean square over n_cells cells."""
    return np.maximum(sq - mean**2, 0) * n_cells / max(n_cells - 1, 1)


def select_variable(mean: np.ndarray, sq: np.ndarray, n_cells: int, n_top_genes: int, n_bins: int = 20) -> np.ndarray:
    """The HVG rule of :func:`highly_variable_genes` from per-gene mean and mean square."""
    n_genes = len(mean)
    if n_top_genes >= n_genes:
        return np.arange(n_genes)
    var = unbiased_variance(mean, sq, n_cells)
    disp = np.log(np.divide(var, mean, out=np.full_like(var, 1e-12), where=mean > 0) + 1e-12)
    edges = np.quantile(mean, np.linspace(0, 1, n_bins + 1))
    bins = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, n_bins - 1)
    z = np.zeros_like(disp)
    for b in np.unique(bins):
        idx = bins == b
        sd = disp[idx].std()
        z[idx] = (disp[idx] - disp[idx].mean()) / sd if sd > 0 else 0.0
    # stable order: highest z first, ties broken by gene index
    order = np.lexsort((np.arange(n_genes), -z))
    return np.sort(order[:n_top_genes])


def _depths(kept: np.ndarray, M: sp.csr_matrix, first: int) -> np.ndarray:
    """Total counts over the kept genes of each cell of a chunk."""
    return np.asarray(M[:, kept].sum(axis=1)).ravel()


def _log_moments(kept: np.ndarray, target_sum: float, M: sp.csr_matrix, first: int):
    """Per-gene sums of the log-normalised values of a chunk and of their squares."""
    logX = normalise_log(M[:, kept], target_sum)
    return np.asarray(logX.sum(axis=0)).ravel(), np.asarray(logX.multiply(logX).sum(axis=0)).ravel()


def check_method(method) -> None:
    """``preprocess`` names one of the recipes (checked by the estimator before any counts are read)."""
    if method not in PREPROCESS_METHODS:
        raise InputError(f"preprocess must be one of {PREPROCESS_METHODS}, got {method!r}.")


class Preprocessor:
    """Fitted preprocessing: remembers genes, depth target and gene means to apply to new cells."""

    def __init__(self, method: str = "scaled", min_cells: int = 3, n_top_genes: int = 2000):
        check_method(method)
        self.method = method
        self.min_cells = min_cells
        self.n_top_genes = n_top_genes

    def _keep_genes(self, kept: np.ndarray, n_genes_in: int) -> None:
        """Record the genes passing the expression filter; the "paper" recipe uses them all."""
        if kept.size < 2:
            raise InputError(
                f"only {kept.size} gene(s) are expressed in at least {self.min_cells} cells; "
                "there is not enough signal to compare cells (lower min_cells or add cells)."
            )
        self.n_genes_in_ = n_genes_in
        self.genes_kept_ = kept
        self.genes_used_, self.target_sum_, self.gene_mean_, self.gene_scale_ = kept, None, None, None
        self.gene_flat_ = None

    def fit_transform(self, X: sp.csr_matrix):
        X = sp.csr_matrix(X)
        kept = filter_genes(X, min_cells=self.min_cells)
        self._keep_genes(kept, X.shape[1])
        Xk = X[:, kept]
        if self.method == "paper":
            return self._log_only(Xk)
        totals = np.asarray(Xk.sum(axis=1)).ravel()
        self.target_sum_ = float(np.median(totals[totals > 0]))
        logX = normalise_log(Xk, self.target_sum_)
        hvg = highly_variable_genes(logX, self.n_top_genes)
        self.genes_used_ = kept[hvg]
        L = logX[:, hvg].toarray()
        self.gene_mean_ = L.mean(axis=0)
        var = L.var(axis=0, ddof=1) if L.shape[0] > 1 else np.zeros(L.shape[1])
        self.gene_scale_ = self._scale(var)
        self._note_flat(var)
        return self._centre_scale(L)

    def fit_chunks(self, source, gene_nnz: np.ndarray, depths: np.ndarray | None = None) -> "Preprocessor":
        """Fit the same recipe from row chunks (:class:`~sclstm.chunks.RowSource`), never
        holding more than one chunk: one pass for depths, one for the gene statistics (each
        chunk's share computed where :meth:`~sclstm.chunks.RowSource.map_chunks` runs it).

        ``gene_nnz`` (non-zero cells per gene) comes from the source's first scan; ``depths``
        (each kept cell's total over the kept genes), when the caller has them, saves a pass.
        Gives the same genes, depth target and gene means as :meth:`fit_transform` on the whole
        matrix.
        """
        kept = kept_genes(gene_nnz, self.min_cells)
        self._keep_genes(kept, source.n_genes)
        if self.method == "paper":
            return self
        totals = np.concatenate(source.map_chunks(partial(_depths, kept))) if depths is None else depths
        self.target_sum_ = float(np.median(totals[totals > 0]))
        moments = source.map_chunks(partial(_log_moments, kept, self.target_sum_))
        s1 = np.sum([m[0] for m in moments], axis=0)
        s2 = np.sum([m[1] for m in moments], axis=0)
        n = source.n_cells
        hvg = select_variable(s1 / n, s2 / n, n, self.n_top_genes)
        self.genes_used_ = kept[hvg]
        mean = s1[hvg] / n
        self.gene_mean_ = mean
        var = unbiased_variance(mean, s2[hvg] / n, n)
        self.gene_scale_ = self._scale(var)
        self._note_flat(var)
        return self

    def transform(self, X: sp.csr_matrix):
        """Apply the fitted recipe to (new) cells with the same genes as the fitted data."""
        X = sp.csr_matrix(X)
        self.check_gene_count(X.shape[1])
        if self.method == "paper":
            return self._log_only(X[:, self.genes_used_])
        logX = normalise_log(X[:, self.genes_kept_], self.target_sum_)
        hvg = np.searchsorted(self.genes_kept_, self.genes_used_)
        return self._centre_scale(logX[:, hvg].toarray())

    def check_gene_count(self, n_genes: int) -> None:
        """Data matched to the fitted genes by position must have as many genes."""
        if n_genes != self.n_genes_in_:
            raise InputError(
                f"the data has {n_genes} genes but the model was fitted on {self.n_genes_in_}; "
                "give the same genes in the same order."
            )

    def _scale(self, var: np.ndarray):
        """Per-gene divisor: the standard deviation for "scaled" (1 where it is 0), None otherwise."""
        if self.method != "scaled":
            return None
        sd = np.sqrt(var)
        sd[sd == 0] = 1.0
        return sd

    def _note_flat(self, var: np.ndarray) -> None:
        """Genes whose log values do not vary beyond rounding (sd at most FLAT_SD of their size):
        read as constant, 0 after centring. Before, their rounding noise (sd 6e-15 where every
        cell is a multiple of one profile) was scaled up to ±2 and clustered; now such data has
        no varying gene and is refused as such."""
        flat = np.sqrt(np.maximum(var, 0)) <= FLAT_SD * np.maximum(np.abs(self.gene_mean_), 1.0)
        self.gene_flat_ = flat if flat.any() else None

    def _centre_scale(self, L: np.ndarray) -> np.ndarray:
        L = L - self.gene_mean_
        if getattr(self, "gene_scale_", None) is not None:
            L /= self.gene_scale_
            np.clip(L, -SCALE_CLIP, SCALE_CLIP, out=L)
        flat = getattr(self, "gene_flat_", None)  # absent from models saved before it was kept
        if flat is not None:
            L[:, flat] = 0.0
        return L.astype(np.float32)

    @staticmethod
    def _log_only(X):
        L = sp.csr_matrix(X, dtype=np.float64, copy=True)
        np.log1p(L.data, out=L.data)
        return L

    def get_state(self) -> dict:
        return {k: v for k, v in vars(self).items()}

    STATE = ("method", "min_cells", "n_top_genes", "n_genes_in_", "genes_kept_", "genes_used_", "target_sum_",
             "gene_mean_", "gene_scale_", "gene_flat_")

    @classmethod
    def from_state(cls, state: dict) -> "Preprocessor":
        """The fitted preprocessing as :meth:`get_state` gave it; a name it never gives (a file
        written by hand, e.g. one naming ``transform``) is refused, not set as an attribute."""
        unknown = sorted(set(state) - set(cls.STATE))
        if unknown:
            raise ValueError(f"its preprocessing has entries sclstm does not write: {', '.join(map(str, unknown))}")
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        return obj
