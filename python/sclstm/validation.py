"""Input checks at the boundary: every problem a user can act on becomes one clear line.

Nothing here modifies what the user passed; functions return new objects.
"""
from __future__ import annotations

import numbers
import os
import sys
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class InputError(ValueError):
    """A problem with the user's input, explained in one line with what to do about it."""


class NotFittedError(InputError, _SklearnNotFittedError):
    """A fitted model's method called before ``fit``: an InputError, and scikit-learn's
    NotFittedError, which ``check_is_fitted`` and scikit-learn users catch."""


@dataclass
class CountMatrix:
    """A validated cells × genes matrix (CSR, float64) with names and zero-row/column facts."""

    X: sp.csr_matrix
    cell_names: np.ndarray
    gene_names: np.ndarray
    n_empty_cells: int
    n_empty_genes: int
    kept: np.ndarray  # boolean, over the input cells: False for dropped all-zero cells


def first_line(error, limit: int | None = None) -> str:
    """The first line of an error (an exception or its text), for a one-line message: the
    exception's type when it has no text; cut to ``limit`` characters when given. A first line
    that ends in a colon (torch's "Error(s) in loading state_dict for ...:") gets the next one."""
    text = str(error).strip()
    if text:
        lines = [x.strip() for x in text.splitlines() if x.strip()]
        line = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    else:
        line = type(error).__name__ if isinstance(error, BaseException) else "unknown error"
    return line if limit is None or len(line) <= limit else line[:limit] + "…"


def check_flag(name: str, value) -> None:
    """A yes/no option must be a bool: "False" or 0.5 would act as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r}.")


def check_two_dimensional(ndim) -> None:
    """Refuse a matrix that is not cells × genes (``ndim`` None: it has no shape at all)."""
    if ndim != 2:
        raise InputError("the expression matrix must be 2-dimensional (cells × genes), "
                         f"got {'no' if ndim is None else ndim} dimension(s).")


def frame_values(df: pd.DataFrame) -> np.ndarray:
    """A DataFrame's values: floats where every column is numeric, pandas' nullable Int64 and
    Float64 too (a missing value becomes NaN, refused by name later; before, such a frame was
    refused as "dtype object"); else as they are, to be refused as not numeric."""
    if df.shape[1] and all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                           for t in df.dtypes):
        return df.to_numpy(dtype=np.float64, na_value=np.nan)
    return df.to_numpy()


def check_numeric(dtype) -> None:
    """Counts are real numbers: object, string, boolean and complex matrices are refused, dense or
    sparse alike (before: complex values lost their imaginary part without a word)."""
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):  # bool is neither
        raise InputError(f"the expression matrix must be numeric, got dtype {dtype}; pass counts as numbers.")


def _structure_problem(X) -> str | None:
    """What is wrong with a sparse matrix's index arrays, or None. scipy trusts them: an index
    past the last gene made its matrix product crash the process (segmentation fault) or,
    further out, give a silently wrong result. Read only: scipy's own check_format prunes."""
    fmt = X.format
    if fmt in ("csr", "csc"):
        major, minor = X.shape if fmt == "csr" else X.shape[::-1]
        indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
        if indptr.ndim != 1 or len(indptr) != major + 1:
            return f"its index pointer has {indptr.size} entries for {major} {'rows' if fmt == 'csr' else 'columns'}"
        if indptr[0] != 0:
            return f"its index pointer starts at {int(indptr[0])}, not 0"
        if (np.diff(indptr) < 0).any():
            return "its index pointer decreases"
        nnz = int(indptr[-1])
        if nnz > len(indices) or nnz > len(np.asarray(X.data)):
            return f"its index pointer ends at {nnz}, past its {min(len(indices), len(np.asarray(X.data)))} stored values"
        return _outside(indices[:nnz], minor, "column" if fmt == "csr" else "row")
    if fmt == "coo":
        data = np.asarray(X.data)
        for index, size, what in ((np.asarray(X.row), X.shape[0], "row"), (np.asarray(X.col), X.shape[1], "column")):
            if len(index) != len(data):
                return f"it has {len(index)} {what} indices for {len(data)} values"
            problem = _outside(index, size, what)
            if problem is not None:
                return problem
        return None
    if fmt == "bsr":
        try:
            X.copy().check_format(full_check=True)
        except ValueError as exc:
            return first_line(exc)
    return None  # lil, dok, dia: as_csr checks the CSR made from them (a LIL's rows can be set by hand)


def _outside(index: np.ndarray, size: int, what: str) -> str | None:
    """The first index array problem: a value below 0 or from ``size`` on, named."""
    if not index.size:
        return None
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= size:
        return f"{what} indices must lie in 0–{size - 1}, found {low if low < 0 else high}"
    return None


def check_sparse_structure(X) -> None:
    """Refuse a sparse matrix whose index arrays are inconsistent (a damaged file, or a bug in
    the program that wrote it), before anything converts or multiplies it."""
    problem = _structure_problem(X)
    if problem is not None:
        raise InputError(f"the sparse expression matrix is malformed: {problem}; it may come from a damaged "
                         "file or a bug in the program that wrote it, so rebuild it from its source.")


def float64_copy(X):
    """A float64 copy of a sparse matrix, its entries as they are: a format change sums duplicate
    entries in the input's dtype (uint8 counts summing past 255 wrapped, 400 became 144; float16
    COO was refused by scipy). COO is rebuilt from its arrays, as COO's own astype sums its
    duplicates, sorting every entry (measured by review helper-66 on a 100,000 × 2,000 COO with
    2e7 entries, scipy 1.13: 4.8 s and 1.1 GB, against 0.15 s)."""
    if X.format == "coo":
        return sp.coo_matrix((np.asarray(X.data, dtype=np.float64), (X.row, X.col)), shape=X.shape)
    return X.astype(np.float64)  # a cast of the stored values, nothing summed


def as_csr(X) -> sp.csr_matrix:
    """A float64 CSR copy of a numeric 2-D matrix (sparse, DataFrame or array-like)."""
    if sp.issparse(X):
        check_numeric(X.dtype)
        check_sparse_structure(X)
        M = sp.csr_matrix(float64_copy(X))
        if X.format not in ("csr", "csc", "coo", "bsr"):  # lil, dok, dia: their own arrays can be set by hand
            check_sparse_structure(M)
        # one entry per cell and gene: a duplicate counted as a second cell in the genes' cell counts
        # (min_cells kept 13,897 genes of Blakeley against 12,451), so other clusters than the summed matrix's
        M.sum_duplicates()
        return M
    if isinstance(X, pd.DataFrame):
        X = frame_values(X)
    if np.ma.isMaskedArray(X) and np.ma.getmask(X) is not np.ma.nomask and np.ma.getmask(X).any():
        raise InputError(f"the expression matrix is a masked array with {int(np.ma.getmask(X).sum())} masked "
                         "value(s), which sclstm would read as their hidden values; fill them first "
                         "(X.filled(0)) or pass the data without a mask.")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic array-likes
        raise InputError(f"could not read the expression matrix as an array ({exc}).") from None
    check_numeric(arr.dtype)
    check_two_dimensional(arr.ndim)
    return sp.csr_matrix(arr.astype(np.float64))


LOG_SCALE_MAX = 30.0


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _inside(filename: str) -> bool:
    """A frame of sclstm, or of scikit-learn's wrapper of transform (set_output), which sits
    between the user's ``est.transform(X)`` and sclstm's."""
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR) or path.endswith(os.path.join("sklearn", "utils", "_set_output.py"))


def warn_user(message: str) -> None:
    """A UserWarning attributed to the first line outside sclstm (the user's call), whatever
    the path through the package: a fixed stacklevel pointed inside sclstm from some entry
    points (``tl.sclstm`` and ``ScLSTM.fit`` reach a check at different depths)."""
    frame, level = sys._getframe(0), 1
    while frame is not None and _inside(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def warn_if_log_scale(values: np.ndarray) -> None:
    """Warn when non-zero expression values look log-transformed: all below 30 and most of
    them not whole numbers (raw counts are whole; FPKM/TPM reach far above 30). sclstm
    normalises and takes logs itself, so such data would be logged twice (on Biase, ARI
    1.00 from counts against 0.78 from scanpy's normalize_total + log1p of them)."""
    values = np.asarray(values)
    if values.size and values.max() < LOG_SCALE_MAX and np.mean(values != np.round(values)) > 0.5:
        warn_user("the expression values look log-transformed (all below 30, most not whole numbers); "
                  "sclstm expects raw counts and normalises and logs them itself: pass the counts "
                  "(e.g. layer='counts').")


def check_values(M: sp.csr_matrix, first_cell: int = 0, whole: bool = True, cell_names=None) -> None:
    """Refuse NaN/inf and negative values, counting them and naming the first offending cell
    (by its name when ``cell_names``, the names of M's rows, are given, else by its row number
    from 0).

    ``M`` is the whole matrix, or (``whole=False``) a chunk of it whose first row is cell
    ``first_cell``: the count is then the chunk's, and the message says so.
    """
    if M.data.size == 0:
        return
    where = "" if whole else f" in cells {first_cell}–{first_cell + M.shape[0] - 1}"
    for bad, what, advice in ((~np.isfinite(M.data), "NaN or infinite", "remove or impute them first"),
                              (M.data < 0, "negative", "sclstm expects raw counts (or non-negative expression "
                                                       "such as FPKM/RPKM), not scaled or centred data")):
        if bad.any():
            offset = int(np.searchsorted(M.indptr, np.flatnonzero(bad)[0], side="right") - 1)
            cell = repr(str(cell_names[offset])) if cell_names is not None else first_cell + offset
            raise InputError(f"the expression matrix has {int(bad.sum())} {what} value(s){where} (the first "
                             f"in cell {cell}); {advice}.")


def check_counts(X, cell_names=None, gene_names=None, drop_empty: bool = False,
                 min_cells: int = 3) -> CountMatrix:
    """Check a cells × genes matrix and return a CSR copy.

    Rejects NaN/inf, negative values, empty matrices and fewer than 3 cells. All-zero cells
    or genes are counted; all-zero *cells* are an error unless ``drop_empty`` is set, in which
    case they are removed (the caller learns how many). All-zero genes are always harmless:
    the gene filter removes them. ``min_cells``: 3 to fit (clustering needs them); embedding
    new cells with a fitted model needs only 1.
    """
    if X is None:
        raise InputError("no expression matrix was given.")
    M = as_csr(X)
    n, g = M.shape
    if n == 0 or g == 0:
        raise InputError(f"the expression matrix is empty ({n} cells × {g} genes).")
    check_values(M, cell_names=cell_names if cell_names is not None and len(cell_names) == n else None)
    data = M.data
    warn_if_log_scale(data)
    cell_names = np.asarray(
        [str(i) for i in range(n)] if cell_names is None else list(map(str, cell_names))
    )
    gene_names = np.asarray(
        [str(j) for j in range(g)] if gene_names is None else list(map(str, gene_names))
    )
    if len(cell_names) != n or len(gene_names) != g:
        raise InputError(
            f"names do not match the matrix: {len(cell_names)} cell names for {n} cells, "
            f"{len(gene_names)} gene names for {g} genes."
        )
    M.eliminate_zeros()
    cell_nnz = np.diff(M.indptr)
    gene_nnz = np.bincount(M.indices, minlength=g)
    empty_cells = cell_nnz == 0
    n_empty_cells = int(empty_cells.sum())
    n_empty_genes = int((gene_nnz == 0).sum())
    check_empty_cells(n_empty_cells, n, drop_empty, min_cells, examples=cell_names[empty_cells][:3])
    keep = ~empty_cells
    if n_empty_cells:
        M = M[keep]
        cell_names = cell_names[keep]
    return CountMatrix(M, cell_names, gene_names, n_empty_cells, n_empty_genes, keep)


def check_empty_cells(n_empty: int, n_cells: int, drop_empty: bool, min_cells: int = 3, examples=()) -> None:
    """All-zero cells are an error unless ``drop_empty``; at least ``min_cells`` must remain.
    ``examples``: the first few of them, by name (or row number), for the message.
    Shared by the in-memory check and the chunked scan (:meth:`RowSource.scan_empty`)."""
    if n_empty == n_cells:
        raise InputError("every cell has zero counts; the matrix holds no expression.")
    if n_empty and not drop_empty:
        named = f" (e.g. {', '.join(map(str, list(examples)[:3]))})" if len(examples) else ""
        raise InputError(
            f"{n_empty} of {n_cells} cells have zero counts in every gene{named}; remove them or "
            "pass drop_empty=True (CLI: --drop-empty) to drop them."
        )
    if n_cells - n_empty < min_cells:
        raise InputError(f"at least {min_cells} cells are needed to cluster, got {n_cells - n_empty}.")


def check_unread_cells(unread: np.ndarray, names, genes_read: str, drop_empty: bool, min_cells: int = 3) -> None:
    """Cells with counts only in genes that are not read (``genes_read`` says which are) carry
    nothing to place them: every one would get the same profile, and a cluster or type from
    nothing. Like all-zero cells, an error unless ``drop_empty``; at least ``min_cells`` must remain.
    ``unread`` is a mask over the cells checked, ``names`` their names (or row numbers)."""
    n_unread, n = int(unread.sum()), len(unread)
    if not n_unread:
        return
    if n_unread == n:  # dropping them would leave nothing: the genes read are what to change
        advice = "lower min_cells" if "min_cells" in genes_read else "check that these are the genes the model was fitted on"
        raise InputError(f"none of the {n} cells has counts in {genes_read}, so nothing places any of them "
                         f"and drop_empty would leave no cell; {advice}.")
    what = (f"{n_unread} of {n} cells have no counts in any of {genes_read} "
            f"(e.g. {', '.join(map(str, np.asarray(names)[unread][:3]))}), so nothing places them")
    if not drop_empty:
        raise InputError(f"{what}; remove them or pass drop_empty=True (CLI: --drop-empty) to leave them out "
                         "(no cluster or type, NaN embedding rows).")
    if n - n_unread < min_cells:
        raise InputError(f"{what}, and fewer than {min_cells} cells are left.")


def drop_unread_cells(counts: "CountMatrix", genes: np.ndarray, genes_read: str, drop_empty: bool,
                      min_cells: int = 3) -> "CountMatrix":
    """``counts`` without the cells that have counts only outside ``genes`` (see
    :func:`check_unread_cells`); they count as empty cells and are marked False in ``kept``."""
    reads = np.diff(sp.csr_matrix(counts.X[:, genes]).indptr) > 0
    check_unread_cells(~reads, counts.cell_names, genes_read, drop_empty, min_cells)
    if reads.all():
        return counts
    kept = counts.kept.copy()
    kept[np.flatnonzero(kept)[~reads]] = False
    return replace(counts, X=counts.X[reads], cell_names=counts.cell_names[reads],
                   n_empty_cells=counts.n_empty_cells + int((~reads).sum()), kept=kept)


def check_n_clusters(n_clusters, n_cells: int):
    """``None`` (estimate k) or an integer 2 ≤ k < number of cells."""
    if n_clusters is None:
        return None
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral):
        if isinstance(n_clusters, (float, np.floating)) and float(n_clusters).is_integer():
            n_clusters = int(n_clusters)
        else:
            raise InputError(f"n_clusters must be a whole number or None, got {n_clusters!r}.")
    k = int(n_clusters)
    if k < 2:
        raise InputError(f"n_clusters must be at least 2, got {k}; leave it out (None) to estimate it.")
    if k > n_cells:
        raise InputError(
            f"n_clusters={k} is larger than the number of cells ({n_cells}); choose k < {n_cells}."
        )
    if k == n_cells:
        raise InputError(
            f"n_clusters={k} equals the number of cells: every cell would be its own cluster; "
            f"choose k < {n_cells}."
        )
    return k


def reindex_by_name(values: pd.Series, names: pd.Index, what: str, other: str, advice: str) -> pd.Series:
    """``values`` put in the order of ``names`` by its index, as pandas pairs Series.

    Used wherever a Series meets cells in a known order (labels and the cells of X, a truth and a
    clustering), so that cells in another order are paired by name, never by position; a Series
    whose index is not unique, or holds cells ``names`` lacks, is refused with ``advice``.
    """
    if not (values.index.is_unique and names.is_unique):
        raise InputError(f"{what} and {other} do not list the cells in the same order, and their names are "
                         f"not unique, so they cannot be paired; {advice}")
    if not values.index.isin(names).all():
        extra = values.index.difference(names)
        raise InputError(f"{what} is indexed by different cells than {other} ({len(extra)} of {len(values)} "
                         f"are not in it, e.g. {', '.join(map(str, extra[:3]))}); {advice}")
    return values.reindex(names)


MISSING_TEXTS = ("", "nan", "na", "<na>", "none", "null")  # compared stripped and in lower case


def missing_labels(values: pd.Series, what: str | None = None) -> np.ndarray:
    """Where a label is missing: None, NaN, NA, an empty or blank string, or the text a missing
    value becomes when a column is turned into text ("nan" from pandas' ``astype(str)``, "NA",
    "<NA>", "None", "null"). Before, those texts were a cell type of their own: trained on, and
    counted in k. ``what`` (e.g. "labels"): warn, naming it, when such texts were read as missing."""
    text = values.astype(str).str.strip().str.lower()
    written = text.isin(MISSING_TEXTS[1:]).to_numpy() & values.notna().to_numpy()
    if what is not None and written.any():
        found = sorted(set(values[written].astype(str).str.strip()))
        warn_user(f"{int(written.sum())} {what} are the text {' or '.join(map(repr, found[:3]))}, taken as "
                  "missing (no type known); if that is a cell type's name, rename it.")
    return values.isna().to_numpy() | (text == "").to_numpy() | written


def check_one_type(values, what: str) -> None:
    """Refuse labels that mix types which cannot be ordered (numbers and text, e.g. 1 and "1"):
    counted by value they are two classes, compared by name one. Reads the distinct values of
    an object array only (an array of one numpy type cannot mix)."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.dtype != object:
        return
    try:
        distinct = pd.unique(arr.ravel())
    except TypeError:  # unhashable entries: sorting them below says so
        distinct = arr.ravel()
    distinct = [v.item() if isinstance(v, np.generic) else v for v in distinct]
    try:
        sorted(set(distinct))
    except TypeError:
        first = {}
        for v in distinct:
            first.setdefault(type(v), v)
        kinds = sorted(first, key=lambda t: t.__name__)
        examples = ", ".join(repr(first[t]) for t in kinds)
        if len(kinds) > 1:
            problem, remedy = f"mix {' and '.join(t.__name__ for t in kinds)} values", "make them one type first"
        else:
            problem, remedy = f"are {kinds[0].__name__} values, which cannot be ordered", "make them text first"
        raise InputError(f"{what} {problem} (e.g. {examples}); {remedy}, e.g. {what.split()[-1]}.astype(str).") from None


def check_labels(labels, n_cells: int) -> np.ndarray:
    """Labels for the labelled mode: one entry per cell, missing (None/NaN/"", or "nan"/"NA"
    text: :func:`missing_labels`) = unknown.

    Returns an object array with ``None`` for unknown cells. Known labels keep their values
    (integer codes stay integers, so predictions compare equal to the column they came
    from); labels of mixed types (numbers and text), which cannot be ordered, are refused.
    """
    if labels is None:
        raise InputError("mode='labelled' needs labels: pass labels= (or labels_key=).")
    ndim = getattr(labels, "ndim", None)
    if ndim is None:
        try:
            ndim = np.asarray(labels, dtype=object).ndim
        except ValueError:  # ragged nesting
            ndim = 2
    if ndim != 1:
        raise InputError(f"labels must be one-dimensional (one label per cell), got {ndim} dimension(s).")
    # a list of integer codes with None stays integers (pandas would make them floats, NaN for None)
    values = pd.Series(labels, dtype=object if isinstance(labels, (list, tuple)) else None).reset_index(drop=True)
    if len(values) != n_cells:
        raise InputError(
            f"labels have length {len(values)} but there are {n_cells} cells; give one label per cell."
        )
    missing = missing_labels(values, "labels")
    if missing.all():
        raise InputError("all labels are missing; give labels for at least some cells.")
    out = values.astype(object).to_numpy(copy=True)  # written to below; pandas 3 hands out read-only views
    out[missing] = None
    known_values = [v.item() if isinstance(v, np.generic) else v for v in out[~missing]]
    check_not_continuous(known_values, "labels")
    # refused: turned into text, the predictions compared equal to no label of theirs
    check_one_type(known_values, "labels")
    # classes by value, as classes_ will hold them (1 and 1.0 are one; before, counted by their
    # text, they were two here and one class in the fit, whose error then blamed n_clusters)
    n_classes = pd.Series(known_values, dtype=object).nunique()
    if n_classes < 2:
        raise InputError(
            f"the known labels have only one class ({known_values[0]!r}); at least two cell types are needed."
        )
    if n_classes == len(known_values) and n_classes > 2:
        raise InputError(
            f"every labelled cell has a label of its own ({n_classes} classes for {n_classes} cells): that is no "
            "cell type (is the labels column a per-cell value, such as an ID?); same-type pairs need a class "
            "with at least 2 cells.")
    result = np.full(n_cells, None, dtype=object)
    result[~missing] = known_values
    return result


def label_text(value) -> str:
    """A label as R writes it, a factor level: whole numbers without a decimal point (2.0 → "2",
    as R's as.character(2)), the rest as str(). Labels are compared by this text where one side
    went through R (an R factor's levels are text) and the other kept its numbers."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def check_not_continuous(values, what: str) -> None:
    """Refuse labels that are fractional numbers (a QC metric, a score): cell types are names
    or whole-number codes, and a continuous column would be taken as one class per value."""
    fractional = [v for v in values if isinstance(v, (float, np.floating)) and np.isfinite(v) and v != int(v)]
    if not fractional and len(values) and all(isinstance(v, str) for v in values):
        fractional = _fractional_texts(values)  # a QC metric kept as text or categories ("93.7")
    if fractional:
        raise InputError(f"{what} look continuous ({len(fractional)} fractional values, e.g. {fractional[0]!r}); "
                         "give cell types as names or whole-number codes.")


def _fractional_texts(values) -> list:
    """Where every label is a number written as text and most are distinct (a per-cell value such
    as a QC metric, not types), those with a fractional part; else none. Few distinct texts such
    as "2.1" and "2.2" can be subcluster names, and are kept."""
    if len(set(values)) <= len(values) / 2:
        return []
    numbers_ = []
    for v in values:
        try:
            numbers_.append(float(v))
        except ValueError:
            return []
    return [v for v, x in zip(values, numbers_) if np.isfinite(x) and x != int(x)]


def check_fraction(fraction: float) -> float:
    if not (isinstance(fraction, numbers.Real) and 0 < float(fraction) < 1):
        raise InputError(f"labelled_fraction must be between 0 and 1 (exclusive), got {fraction!r}.")
    return float(fraction)
