"""Row chunks of a counts matrix that may not fit in memory.

:class:`RowSource` gives the landmark path one way to read cells, whatever holds them: a
numpy array, a scipy sparse matrix, an AnnData (in memory or opened with
``backed="r"``, whose ``X`` stays on disk), a Zarr array or a Dask array (each block is
computed by whatever Dask scheduler is active, so a ``dask.distributed.Client`` makes the
cluster do the reading). Every chunk is checked as it is read (finite, non-negative), so a
file larger than memory is validated without ever being loaded whole. Nothing the user
passed is modified: chunks are copies.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import scipy.sparse as sp

from .validation import InputError, as_csr

DEFAULT_CHUNK_CELLS = 8192


def _is_dask(X) -> bool:
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


def counts_of(X):
    """The matrix itself: ``X.X`` of an AnnData (in memory or backed), else X."""
    return X.X if hasattr(X, "obs_names") and hasattr(X, "X") else X


def check_chunk(M: sp.csr_matrix, start: int) -> None:
    """Reject NaN/inf and negative values, naming the first offending cell."""
    if M.data.size == 0:
        return
    bad = ~np.isfinite(M.data)
    if bad.any():
        row = int(np.searchsorted(M.indptr, np.flatnonzero(bad)[0], side="right") - 1)
        raise InputError(f"the expression matrix has NaN or infinite values (first in cell {start + row}); "
                         "remove or impute them first.")
    if M.data.min() < 0:
        row = int(np.searchsorted(M.indptr, np.flatnonzero(M.data < 0)[0], side="right") - 1)
        raise InputError(f"the expression matrix has negative values (first in cell {start + row}); sclstm "
                         "expects raw counts (or non-negative expression), not scaled or centred data.")


class RowSource:
    """Read a cells × genes matrix chunk by chunk, checked, restricted to the kept cells."""

    def __init__(self, X, chunk_cells: int = DEFAULT_CHUNK_CELLS):
        if X is None:
            raise InputError("no expression matrix was given.")
        X = counts_of(X)
        if isinstance(X, (list, tuple)):
            X = np.asarray(X)
        if not hasattr(X, "shape") or len(X.shape) != 2:
            raise InputError("the expression matrix must be 2-dimensional (cells × genes).")
        self.X = X
        self.n_rows, self.n_genes = (int(s) for s in X.shape)
        if self.n_rows == 0 or self.n_genes == 0:
            raise InputError(f"the expression matrix is empty ({self.n_rows} cells × {self.n_genes} genes).")
        self.chunk_cells = int(chunk_cells)
        self.kept = np.ones(self.n_rows, dtype=bool)

    @property
    def n_cells(self) -> int:
        """Number of kept cells (rows of every chunk together)."""
        return int(self.kept.sum())

    def _spans(self) -> Iterator[tuple[int, int]]:
        for start in range(0, self.n_rows, self.chunk_cells):
            yield start, min(self.n_rows, start + self.chunk_cells)

    def _read(self, start: int, stop: int) -> sp.csr_matrix:
        block = self.X[start:stop]
        if hasattr(block, "compute"):  # a Dask block: computed by the active scheduler
            block = block.compute()
        M = as_csr(block)
        check_chunk(M, start)
        return M

    def chunks(self) -> Iterator[sp.csr_matrix]:
        """Kept rows, in order, as float64 CSR chunks of at most ``chunk_cells`` rows."""
        for start, stop in self._spans():
            M = self._read(start, stop)
            keep = self.kept[start:stop]
            yield M if keep.all() else M[keep]

    def rows(self, idx: np.ndarray) -> sp.csr_matrix:
        """The kept cells with the given (kept-cell) indices, in the given order."""
        original = np.flatnonzero(self.kept)[np.asarray(idx)]
        order = np.argsort(original)
        sorted_rows = original[order]
        parts = []
        for start, stop in self._spans():
            lo, hi = np.searchsorted(sorted_rows, [start, stop])
            if hi > lo:
                M = self._read(start, stop)
                parts.append(M[sorted_rows[lo:hi] - start])
        out = sp.vstack(parts, format="csr")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return out[inverse]

    def scan_empty(self, drop_empty: bool) -> tuple[int, np.ndarray]:
        """Check every chunk; find all-zero cells. Returns (number of empty cells, non-zeros per gene)."""
        empty = np.zeros(self.n_rows, dtype=bool)
        gene_nnz = np.zeros(self.n_genes, dtype=np.int64)
        for start, stop in self._spans():
            M = self._read(start, stop)
            M.eliminate_zeros()
            empty[start:stop] = np.diff(M.indptr) == 0
            gene_nnz += np.bincount(M.indices, minlength=self.n_genes)
        n_empty = int(empty.sum())
        if n_empty == self.n_rows:
            raise InputError("every cell has zero counts; the matrix holds no expression.")
        if n_empty and not drop_empty:
            raise InputError(f"{n_empty} of {self.n_rows} cells have zero counts in every gene; remove them or "
                             "pass drop_empty=True (CLI: --drop-empty) to drop them.")
        self.kept = ~empty
        if self.n_cells < 3:
            raise InputError(f"at least 3 cells are needed to cluster, got {self.n_cells}.")
        return n_empty, gene_nnz


def is_out_of_core(X) -> bool:
    """True for inputs whose values are not in memory: backed AnnData, Zarr and Dask arrays."""
    if hasattr(X, "isbacked") and getattr(X, "isbacked", False):
        return True
    inner = counts_of(X)
    return _is_dask(inner) or type(inner).__module__.startswith(("zarr", "h5py", "anndata._core.sparse_dataset",
                                                                  "anndata.abc"))
