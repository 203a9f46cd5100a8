"""Agreement between a clustering and reference labels: ARI, NMI, ACC and BAS.

Two pandas Series are paired by their index (as pandas would pair them); arrays and lists
by position. ACC and BAS first match clusters to classes one-to-one with the Hungarian algorithm
(maximising the number of cells on the diagonal, and among the matchings that do, the mean
recall of the classes, so that the result does not depend on the order of the cells); ACC is
then the fraction of cells whose matched cluster equals their class, BAS the mean over classes
of that fraction (balanced accuracy). Clusters left without a class count as wrong.
Predicted types (the labelled mode's) are scored by name instead: ``score(..., matched=False)``.

The paper writes BAS = (TPR + TNR) / 2, the two-class form; for k classes this is the mean
class recall (scikit-learn's ``balanced_accuracy_score`` after the matching), equal to it for
two classes. Averaging (TPR + TNR) / 2 one class against the rest gives higher numbers (Yan,
7 clusters: 0.72 against 0.49), so our BAS is not comparable with figures computed that way.
NMI is scikit-learn's, arithmetic mean of the entropies: the paper's 2I(T;P)/(H(T)+H(P)).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .validation import InputError, check_not_continuous, check_one_type, label_text, missing_labels, reindex_by_name

__all__ = ["score", "ari", "nmi", "accuracy", "balanced_accuracy"]


_PANDAS_1 = int(pd.__version__.split(".")[0]) < 2  # whose factorize warns of what pandas 2 does


def _codes(x) -> np.ndarray:
    """One code per distinct label, by value: 1 and 1.0 are one class (before, coded by their
    text, they were two)."""
    series = pd.Series(np.asarray(x, dtype=object), dtype=object)
    if not _PANDAS_1:
        return pd.factorize(series)[0]
    import warnings

    # pandas 1.5 announces what pandas 2 does (no numeric inference); catch_warnings is not
    # thread-safe, so only where the warning comes
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "In a future version, the Index constructor", FutureWarning)
        return pd.factorize(series)[0]


def _aligned(truth, pred):
    """Two pandas Series are paired by index, as pandas pairs them; anything else by position.

    Series whose indexes hold different cells are refused rather than paired by position.
    """
    if (not (isinstance(truth, pd.Series) and isinstance(pred, pd.Series)) or len(truth) != len(pred)
            or truth.index.equals(pred.index)):
        return truth, pred  # (a length mismatch is refused by _check_pair)
    return truth, reindex_by_name(pred, truth.index, "the clustering", "the truth",
                                  "score the same cells (e.g. both from one adata.obs).")


def _one_label_per_cell(x, what: str) -> np.ndarray:
    """A 1-D object array of labels; None, a single value or a table is refused."""
    if x is None:
        raise InputError(f"no {what} given.")
    if isinstance(x, pd.DataFrame):
        raise InputError(f"{what} is a table ({x.shape[1]} columns); pass one column, e.g. adata.obs['cell_type'].")
    arr = np.asarray(x, dtype=object)
    if arr.ndim != 1:
        raise InputError(f"{what} must be one label per cell (1-dimensional), got {arr.ndim} dimension(s).")
    return arr


def _check_pair(truth, pred):
    """Codes of the checked truth and clustering, each numbered by its own values."""
    truth, pred = _checked_labels(truth, pred)
    return _codes(truth), _codes(pred)


def _checked_labels(truth, pred):
    """The truth and the clustering as object arrays, paired and checked (see :func:`score`)."""
    for what, x in (("truth", truth), ("the clustering", pred)):
        if isinstance(x, str):  # scanpy's habit of naming obs columns (before: "got 0 dimension(s)")
            raise InputError(f"{what} is the text {x!r}, not one label per cell; pass the labels themselves, e.g. "
                             f"adata.obs[{x!r}], not a column's name.")
    truth, pred = _aligned(truth, pred)
    truth = _one_label_per_cell(truth, "truth")
    pred = _one_label_per_cell(pred, "the clustering")
    if truth.shape[0] != pred.shape[0]:
        raise InputError(
            f"truth has {truth.shape[0]} labels but the clustering has {pred.shape[0]}; they must match."
        )
    if truth.shape[0] == 0:
        raise InputError("no cells to score.")
    missing = missing_labels(pd.Series(truth))
    if missing.any():  # as the labelled mode reads labels: an empty or blank one is no label
        raise InputError(f"truth labels contain {int(missing.sum())} missing value(s) (None, NaN, an empty or "
                         "blank string, or a text such as 'nan' or 'NA'); score only cells with a label.")
    check_not_continuous(truth, "truth labels")
    check_not_continuous(pred, "the clustering's labels")
    if pd.isna(pred).any():
        raise InputError(f"the clustering has {int(pd.isna(pred).sum())} missing value(s) (cells dropped as "
                         "empty are NaN); score only the clustered cells, e.g. those where obs['sclstm'].notna().")
    check_one_type(truth, "truth labels")  # 1 and "1": two classes for ARI, one name for matched=False
    check_one_type(pred, "the clustering's labels")
    return truth, pred


def matched_confusion(truth, pred):
    """Contingency table (classes × clusters) and the Hungarian column for each class.

    Returns ``(table, match)`` where ``match[i]`` is the cluster index assigned to class
    ``i`` or -1 when there are fewer clusters than classes. The matching puts the most cells
    on the diagonal (ACC); among those that do, it has the highest mean class recall (BAS).
    Before, ties went to whichever matching the solver met first, so BAS changed with the
    order of the cells (truth AABBC, clusters xxxyy: 0.50; the same cells reversed: 0.67).
    """
    t, p = _check_pair(truth, pred)
    table = np.zeros((t.max() + 1, p.max() + 1), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    # a matching's recall sum is at most the number of classes, so scaled by less than
    # 1 / classes it adds under one cell: it only orders matchings with equal diagonals
    recall = table / table.sum(axis=1, keepdims=True)
    rows, cols = linear_sum_assignment(-(table + recall / (table.shape[0] + 1)))
    match = np.full(table.shape[0], -1)
    match[rows] = cols
    return table, match


def _matched_hits(table: np.ndarray, match: np.ndarray) -> np.ndarray:
    """Cells of each class that landed in the cluster matched to it (0 if unmatched)."""
    return np.array([table[i, j] if j >= 0 else 0 for i, j in enumerate(match)])


def accuracy(truth, pred) -> float:
    """ACC: the fraction of cells whose cluster is the one matched to their class."""
    table, match = matched_confusion(truth, pred)
    return float(_matched_hits(table, match).sum() / table.sum())


def balanced_accuracy(truth, pred) -> float:
    """BAS: balanced accuracy, the fraction of a class's cells whose cluster is the one matched
    to the class (as :func:`accuracy` counts them), averaged over the classes (rare types
    count as much)."""
    table, match = matched_confusion(truth, pred)
    return float(np.mean(_matched_hits(table, match) / table.sum(axis=1)))


def ari(truth, pred) -> float:
    """Adjusted Rand index (scikit-learn's); 0 for chance, 1 for the same partition."""
    t, p = _check_pair(truth, pred)
    return float(adjusted_rand_score(t, p))


def nmi(truth, pred) -> float:
    """Normalised mutual information (scikit-learn's, arithmetic mean normalisation)."""
    t, p = _check_pair(truth, pred)
    return float(normalized_mutual_info_score(t, p))


def score(truth, pred, matched: bool = True) -> dict:
    """All four metrics as ``{"ARI", "NMI", "ACC", "BAS"}`` (one matching serves ACC and BAS).

    ARI: adjusted Rand index; NMI: normalised mutual information; ACC: the fraction of cells
    whose cluster is the one matched to their class (Hungarian matching, one cluster per
    class); BAS: balanced accuracy, that fraction within each class averaged over the
    classes, so a rare type counts as much as a common one. ``truth`` and ``pred`` are the
    labels (Series are paired by index, arrays by position), not obs column names.

    ``matched=False`` scores predicted *types* (the labelled mode's ``sclstm_predicted``):
    ACC and BAS then count a cell right only where its predicted type is its class, by name,
    with no matching (a matching would count a type predicted under another's name as right).
    Names are compared as text, whole numbers as R writes them (2, 2.0 and "2" are one name),
    since a result read from R holds its types as factor levels, text, beside numeric labels."""
    truth, pred = _checked_labels(truth, pred)
    t, p = _codes(truth), _codes(pred)
    if matched:
        table, match = matched_confusion(t, p)
        hits = _matched_hits(table, match)
    else:
        both = _codes([label_text(v) for v in np.concatenate([truth, pred])])  # one code per name across the two
        t_shared, p_shared = both[:len(truth)], both[len(truth):]
        table = np.bincount(t, minlength=t.max() + 1)[:, None]  # cells per class
        hits = np.bincount(t, weights=(t_shared == p_shared), minlength=t.max() + 1)
    return {
        "ARI": float(adjusted_rand_score(t, p)),
        "NMI": float(normalized_mutual_info_score(t, p)),
        "ACC": float(hits.sum() / table.sum()),
        "BAS": float(np.mean(hits / table.sum(axis=1))),
    }
