import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from sclstm.metrics import accuracy, balanced_accuracy, score
from sclstm.validation import InputError


def test_ari_nmi_match_scikit_learn(pollen):
    truth = pollen.obs["cell_type"].astype(str).to_numpy()
    rng = np.random.default_rng(1)
    pred = np.where(rng.random(len(truth)) < 0.3, rng.integers(0, 11, len(truth)).astype(str), truth)
    m = score(truth, pred)
    assert m["ARI"] == pytest.approx(adjusted_rand_score(truth, pred))
    assert m["NMI"] == pytest.approx(normalized_mutual_info_score(truth, pred))


def test_hungarian_accuracy_by_hand():
    # classes a (4 cells), b (3), c (1); clusters renamed and one a-cell misplaced.
    truth = ["a", "a", "a", "a", "b", "b", "b", "c"]
    pred = [7, 7, 7, 9, 9, 9, 9, 5]
    # best matching: a→7 (3), b→9 (3), c→5 (1): 7 of 8 correct.
    assert accuracy(truth, pred) == pytest.approx(7 / 8)
    # per class recall: a 3/4, b 3/3, c 1/1
    assert balanced_accuracy(truth, pred) == pytest.approx((0.75 + 1 + 1) / 3)


def test_predicted_types_are_scored_by_name_not_matched():
    """matched=False (the predicted types of the labelled mode): every cell given the other
    type's name is all wrong, though a matching would call it perfect."""
    truth = ["A"] * 2 + ["B"] * 10
    swapped = ["B"] * 2 + ["A"] * 10
    assert score(truth, swapped)["ACC"] == 1.0
    by_name = score(truth, swapped, matched=False)
    assert by_name["ACC"] == 0.0 and by_name["BAS"] == 0.0 and by_name["ARI"] == 1.0
    some = score(truth, ["A"] * 9 + ["B"] * 3, matched=False)  # A: 2 of 2, B: 3 of 10
    assert some["ACC"] == pytest.approx(5 / 12) and some["BAS"] == pytest.approx((1 + 0.3) / 2)
    assert score([1, 2, 2], [1.0, 2.0, 1.0], matched=False)["ACC"] == pytest.approx(2 / 3)  # by value


def test_fewer_clusters_than_classes_counts_unmatched_as_wrong():
    truth = ["a", "a", "b", "b", "c", "c"]
    pred = [0, 0, 1, 1, 1, 1]
    assert accuracy(truth, pred) == pytest.approx(4 / 6)
    assert balanced_accuracy(truth, pred) == pytest.approx(2 / 3)


def test_bas_does_not_depend_on_the_order_of_the_cells():
    """Before: among matchings with equal diagonals the solver's first won, so reversing the
    cells changed BAS from 0.50 to 0.67 here (audit of 2026-12-07; 426 of 3,000 random cases)."""
    truth, pred = list("AABBC"), list("xxxyy")
    # A→x with B→y or with C→y: 3 cells on the diagonal either way; recalls (1, 1/2, 0) or (1, 0, 1)
    assert balanced_accuracy(truth, pred) == balanced_accuracy(truth[::-1], pred[::-1]) == pytest.approx(2 / 3)
    assert accuracy(truth, pred) == accuracy(truth[::-1], pred[::-1]) == pytest.approx(3 / 5)
    rng = np.random.default_rng(0)
    for _ in range(200):
        t, p = rng.integers(0, 4, 12), rng.integers(0, 3, 12)
        order = rng.permutation(12)
        first, shuffled = score(t, p), score(t[order], p[order])
        assert first == pytest.approx(shuffled)


def test_perfect_and_relabelled_partition_scores_one():
    truth = ["x", "y", "y", "z", "z", "z"]
    m = score(truth, [2, 0, 0, 1, 1, 1])
    assert m == pytest.approx({"ARI": 1.0, "NMI": 1.0, "ACC": 1.0, "BAS": 1.0})


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(InputError, match="3 labels but the clustering has 2"):
        score(["a", "b", "a"], [0, 1])


def test_missing_predictions_are_refused_not_counted_as_a_cluster():
    """Cells dropped as empty are NaN in obs['sclstm']; scoring them as a cluster "nan" would be wrong."""
    with pytest.raises(InputError, match="clustering has 1 missing value"):
        score(["a", "b", "a"], pd.Categorical(["0", None, "0"]))


@pytest.mark.parametrize("truth", [["a", None, "a"], ["a", "", "a"], ["a", "  ", "a"]])
def test_missing_truth_labels_are_refused_not_counted_as_a_class(truth):
    """An empty or blank truth label is no label, as the labelled mode reads labels (before: a class "")."""
    with pytest.raises(InputError, match="truth labels contain 1 missing value"):
        score(truth, [0, 1, 0])


def test_two_series_are_paired_by_cell_not_by_position(pollen):
    """A clustering Series in another cell order is scored against the right cells."""
    truth = pollen.obs["cell_type"]
    rng = np.random.default_rng(0)
    pred = pd.Series(np.where(rng.random(len(truth)) < 0.2, "x", truth.astype(str)), index=truth.index)
    shuffled = pred.iloc[rng.permutation(len(pred))]
    assert score(truth, shuffled) == score(truth, pred)
    # arrays carry no cell names: by position, as before
    assert score(truth.to_numpy(), pred.to_numpy()) == score(truth, pred)


@pytest.mark.parametrize("truth, pred, match", [
    (None, None, "no truth given"),
    ("a", "0", "one label per cell"),
    (np.zeros((3, 2)), [0, 1, 0], r"got 2 dimension\(s\)"),
    (pd.DataFrame({"a": [1, 2], "b": [1, 2]}), [0, 1], "is a table"),
    ([0.13, 0.52, 0.3], [0, 1, 1], "truth labels look continuous"),
])
def test_labels_that_are_not_one_type_per_cell_are_refused(truth, pred, match):
    with pytest.raises(InputError, match=match):
        score(truth, pred)


def test_float_codes_are_labels(pollen):
    codes = pollen.obs["cell_type"].cat.codes.to_numpy()
    assert score(codes.astype(float), codes)["ARI"] == 1.0


def test_series_of_different_cells_are_refused(pollen):
    truth = pollen.obs["cell_type"]
    other = pd.Series(truth.to_numpy(), index=[f"cell{i}" for i in range(len(truth))])
    with pytest.raises(InputError, match="indexed by different cells"):
        score(truth, other)


def test_labels_are_classes_by_value_not_by_text():
    """1 and 1.0 are one class (before: two, ARI 0.57 for a perfect clustering)."""
    truth = pd.Series([1, 1.0, 2, 2], dtype=object).to_numpy()
    assert score(truth, [0, 0, 1, 1])["ARI"] == 1.0


@pytest.mark.parametrize("truth, pred, what", [
    ([1, "1", 2, "2"], ["1", "1", "2", "2"], "truth labels"),
    (["a", "a", "b", "b"], [1, "1", 2, 2], "the clustering's labels"),
])
def test_labels_mixing_numbers_and_text_are_refused(truth, pred, what):
    """1 and "1" were two classes for ARI and NMI but one name for ACC and BAS by name: ARI 0.0
    beside ACC 1.0 for one clustering (audit helper-47). Refused, as the labelled mode refuses them."""
    for matched in (True, False):
        with pytest.raises(InputError, match=rf"{what} mix int and str values \(e.g. 1, '1'\)"):
            score(truth, pred, matched=matched)


def test_labels_of_one_type_that_cannot_be_ordered_are_not_called_a_mix():
    """Review helper-49: complex labels read "truth labels mix complex values"."""
    with pytest.raises(InputError, match=r"truth labels are complex values, which cannot be ordered \(e.g. 1j\); "
                                         r"make them text first"):
        score([1j, 2j, 1j, 2j], [0, 1, 0, 1])


def test_column_names_are_refused_with_what_to_pass():
    """scanpy names obs columns; score takes the labels. Before: "got 0 dimension(s)"."""
    with pytest.raises(InputError, match=r"truth is the text 'cell_type', not one label per cell; pass the "
                                         r"labels themselves, e.g. adata.obs\['cell_type'\]"):
        score("cell_type", "sclstm")
