"""Row chunks of a counts matrix that may not fit in memory.

:class:`RowSource` gives the landmark path one way to read cells, whatever holds them: a
numpy array, a scipy sparse matrix, an AnnData (in memory or opened with
``backed="r"``, whose ``X`` stays on disk), a Zarr array or a Dask array (each block is
computed by whatever Dask scheduler is active). Every chunk is checked as it is read (finite,
non-negative), so a file larger than memory is validated without ever being loaded whole.
Nothing the user passed is modified: chunks are copies.

:meth:`RowSource.map_chunks` is how the landmark path passes over the cells (the scan, the
gene statistics, the kernel's bounds, the training sample, the embedding). For a Dask array
every chunk is one Dask task that reads the block, checks it and applies the work to it, so
with a ``dask.distributed.Client`` the cluster's workers do that work and send back only its
(small) result; for anything else the chunks are processed here, one after the other.
"""
from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from functools import partial
from typing import Iterator

import numpy as np
import scipy.sparse as sp

from .validation import InputError, as_csr, check_empty_cells, check_sparse_structure, float64_copy, check_values, check_two_dimensional, check_unread_cells

DEFAULT_CHUNK_CELLS = 8192


@contextmanager
def _blocks_read_by_rows():
    """Dask blocks scipy cannot slice by rows (COO, DIA, BSR) fail inside dask with "'coo_matrix'
    object is not subscriptable": one line saying how to convert them instead."""
    try:
        yield
    except TypeError as exc:
        if not re.search(r"'(coo|dia|bsr)_(matrix|array)' object is not subscriptable", str(exc)):
            raise
        raise InputError(f"the Dask array's blocks cannot be read by rows ({exc}); make them CSR first: "
                         "X.map_blocks(lambda block: block.tocsr()).") from None


def _is_dask(X) -> bool:
    """A Dask array, anndata's view of one too (a DaskArrayView, of anndata's module: before, a
    subset of an AnnData with Dask X was read as a 0-d object array, "got dtype object")."""
    dask_array = sys.modules.get("dask.array")  # loaded wherever a Dask array exists
    if dask_array is not None and isinstance(X, dask_array.Array):
        return True
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


def counts_of(X):
    """The matrix itself: ``X.X`` of an AnnData (in memory or backed), else X; refused, with
    what to pass instead, where it is no matrix (:func:`refuse_non_matrix`)."""
    M = X.X if hasattr(X, "obs_names") and hasattr(X, "X") else X
    refuse_non_matrix(M)
    return M


def refuse_non_matrix(M) -> None:
    """A file name, an HDF5 or Zarr group (a file's root, or a sparse X on disk) and a Dask array
    whose number of rows is unknown are not matrices yet: each gets a line saying how to make
    one, where before they got "must be numeric, got dtype <U21" or "got no dimension(s)", or a
    ValueError from int(nan)."""
    if isinstance(M, (str, os.PathLike)):
        raise InputError(f"got a file name ({os.fspath(M)!r}), not counts: open it first, e.g. "
                         "anndata.read_h5ad(path, backed='r') (the counts stay on disk), or run "
                         "'sclstm cluster FILE'.")
    if not hasattr(M, "shape") and hasattr(M, "keys") and type(M).__module__.startswith(("h5py", "zarr")):
        kind = "an HDF5" if type(M).__module__.startswith("h5py") else "a Zarr"
        raise InputError(f"got {kind} group, not a matrix (a file's root, or a sparse X, is a group): open the "
                         "file with anndata.read_h5ad(path, backed='r') (or anndata.read_zarr), or read a sparse "
                         "X lazily with anndata.experimental.read_elem_lazy(group['X'], chunks=(8192, -1)).")
    if type(M).__module__.startswith("torch") and str(getattr(M, "layout", "torch.strided")) != "torch.strided":
        raise InputError(f"got a sparse torch tensor ({M.layout}); pass X.to_dense(), or the counts as a scipy "
                         "sparse matrix.")
    shape = getattr(M, "shape", None)
    if shape is not None and any(isinstance(s, float) and np.isnan(s) for s in shape):
        raise InputError("the Dask array's number of cells is unknown (NaN in its shape, as after boolean "
                         "indexing); call X.compute_chunk_sizes() first.")


def _checked_rows(block, start: int, keep: np.ndarray, names=None) -> sp.csr_matrix:
    """A block of rows as a checked float64 CSR copy, restricted to the rows in ``keep``;
    ``names`` (the block's cell names, or None) name a bad value's cell."""
    M = as_csr(block)
    check_values(M, start, whole=False, cell_names=names)
    return M if keep.all() else M[keep]


def _apply_to_block(block, start: int, keep: np.ndarray, names, first: int, fn):
    """One Dask task of :meth:`RowSource.map_chunks`: check the block, then ``fn`` on its kept rows."""
    return fn(_checked_rows(block, start, keep, names), first)


def _select_rows(wanted: np.ndarray, M: sp.csr_matrix, first: int) -> sp.csr_matrix:
    """The rows of chunk M whose kept-cell indices (M's first row is ``first``) are in the sorted ``wanted``."""
    lo, hi = np.searchsorted(wanted, [first, first + M.shape[0]])
    return M[wanted[lo:hi] - first]


def _empty_rows_and_gene_nnz(M: sp.csr_matrix, first: int) -> tuple[np.ndarray, np.ndarray]:
    M.eliminate_zeros()
    return np.diff(M.indptr) == 0, np.bincount(M.indices, minlength=M.shape[1])


class RowSource:
    """Read a cells × genes matrix chunk by chunk, checked, restricted to the kept cells.

    ``cell_names`` (one per row: the caller's, e.g. ``estimator.names_of(X)``) name the cell
    of a bad value in the error; without them, its row number does."""

    def __init__(self, X, chunk_cells: int = DEFAULT_CHUNK_CELLS, cell_names=None):
        if X is None:
            raise InputError("no expression matrix was given.")
        X = counts_of(X)
        if isinstance(X, (list, tuple)):
            X = np.asarray(X)
        check_two_dimensional(len(X.shape) if hasattr(X, "shape") else None)
        if sp.issparse(X):  # in memory: its index arrays checked once, before any slicing trusts them
            check_sparse_structure(X)
        if sp.issparse(X) and X.format in ("coo", "dia", "bsr"):  # no row slicing: read as CSR (a copy)
            X = float64_copy(X).tocsr()  # float64 first: duplicates summed in uint8 wrapped
        self.X = X
        self.n_rows, self.n_genes = (int(s) for s in X.shape)
        if self.n_rows == 0 or self.n_genes == 0:
            raise InputError(f"the expression matrix is empty ({self.n_rows} cells × {self.n_genes} genes).")
        self.chunk_cells = int(chunk_cells)
        self.kept = np.ones(self.n_rows, dtype=bool)
        self.cell_names = None if cell_names is None or len(cell_names) != self.n_rows else np.asarray(cell_names)

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
            with _blocks_read_by_rows():
                block = block.compute()
        return _checked_rows(block, start, self.kept[start:stop], self._names(start, stop))

    def _names(self, start: int, stop: int):
        """The names of rows start..stop (None without names)."""
        return None if self.cell_names is None else self.cell_names[start:stop]

    def chunks(self) -> Iterator[sp.csr_matrix]:
        """Kept rows, in order, as float64 CSR chunks of at most ``chunk_cells`` rows, read here."""
        for start, stop in self._spans():
            yield self._read(start, stop)

    def _kept_before(self, spans) -> np.ndarray:
        """Kept-cell index of each span's first row, and the number of kept cells at the end."""
        return np.concatenate([[0], np.cumsum([self.kept[a:b].sum() for a, b in spans])]).astype(np.int64)

    def map_chunks(self, fn, only=None) -> list:
        """``[fn(chunk, first), ...]`` over the chunks of :meth:`chunks`, in order; ``first`` is
        the kept-cell index of the chunk's first row. ``only`` (a boolean per chunk) restricts
        the pass to those chunks: the others are not read.

        For a Dask array each chunk is one task of the active Dask scheduler (``fn`` must then
        be picklable: a module-level function or a ``functools.partial`` of one): the block is
        read, checked and given to ``fn`` where the task runs, on a ``dask.distributed``
        cluster's workers when a Client is active. Otherwise the chunks are processed here.
        """
        spans = list(self._spans())
        kept_before = self._kept_before(spans)
        chosen = range(len(spans)) if only is None else np.flatnonzero(only)
        if not _is_dask(self.X):
            return [fn(self._read(*spans[i]), int(kept_before[i])) for i in chosen]
        import dask

        X = self.X.rechunk((self.chunk_cells, -1))  # the same row chunks as here, genes whole
        work = dask.delayed(fn, traverse=False)  # one copy of fn (and the model it may hold) per graph
        tasks = [dask.delayed(_apply_to_block)(X.blocks[i, 0], spans[i][0], self.kept[slice(*spans[i])],
                                               self._names(*spans[i]), int(kept_before[i]), work)
                 for i in chosen]
        with _blocks_read_by_rows():
            return list(dask.compute(*tasks))

    def rows(self, idx: np.ndarray) -> sp.csr_matrix:
        """The kept cells with the given (kept-cell) indices, in the given order; only the
        chunks that hold them are read."""
        idx = np.asarray(idx)
        order = np.argsort(idx, kind="stable")
        wanted = idx[order]
        if len(wanted) and (wanted[0] < 0 or wanted[-1] >= self.n_cells):
            raise IndexError(f"cell indices must lie in [0, {self.n_cells}); got {wanted[0]}..{wanted[-1]}.")
        kept_before = self._kept_before(list(self._spans()))
        holds = np.diff(np.searchsorted(wanted, kept_before)) > 0  # chunk i holds wanted cells
        parts = self.map_chunks(partial(_select_rows, wanted), only=holds)
        out = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, self.n_genes))
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return out[inverse]

    def scan_empty(self, drop_empty: bool) -> tuple[int, np.ndarray]:
        """Check every chunk; find all-zero cells. Returns (number of empty cells, non-zeros per gene)."""
        self.kept = np.ones(self.n_rows, dtype=bool)
        parts = self.map_chunks(_empty_rows_and_gene_nnz)
        empty = np.concatenate([e for e, _ in parts])
        gene_nnz = np.sum([nnz for _, nnz in parts], axis=0).astype(np.int64)
        n_empty = int(empty.sum())
        rows = np.flatnonzero(empty)[:3]
        check_empty_cells(n_empty, self.n_rows, drop_empty,
                          examples=rows if self.cell_names is None else self.cell_names[rows])
        self.kept = ~empty
        return n_empty, gene_nnz

    def drop_unread(self, genes: np.ndarray, genes_read: str, drop_empty: bool) -> np.ndarray:
        """Leave out (``kept`` False) the cells with counts only outside ``genes``, as all-zero
        cells are (:func:`~sclstm.validation.check_unread_cells`; an error unless ``drop_empty``).
        One pass; returns each remaining cell's total over ``genes`` (its depth)."""
        from .preprocessing import _depths

        depths = np.concatenate(self.map_chunks(partial(_depths, genes)))
        unread = depths == 0
        rows = np.flatnonzero(self.kept)
        check_unread_cells(unread, rows if self.cell_names is None else self.cell_names[rows], genes_read,
                           drop_empty)
        if unread.any():
            self.kept = self.kept.copy()
            self.kept[rows[unread]] = False
            depths = depths[~unread]
        return depths


def is_out_of_core(X) -> bool:
    """True for inputs whose values are not in memory: backed AnnData, Zarr and Dask arrays."""
    if hasattr(X, "isbacked") and getattr(X, "isbacked", False):
        return True
    inner = counts_of(X)
    return _is_dask(inner) or type(inner).__module__.startswith(("zarr", "h5py", "anndata._core.sparse_dataset",
                                                                  "anndata.abc"))
