"""Label-free views and the training pairs they give (sclstm.pairs, sclstm.graph)."""
import numpy as np
import pytest

from sclstm.graph import fuzzy_graph, leiden
from sclstm.kernel import sigmoid_kernel
from sclstm.pairs import TRAINING_VIEWS, VIEWS, PairSource, informative_views, label_free_views
from sclstm.preprocessing import Preprocessor
from sclstm.validation import check_counts


@pytest.fixture(scope="module")
def pollen_views(pollen):
    truth = pollen.obs["cell_type"].astype(str).to_numpy()
    L = Preprocessor().fit_transform(check_counts(pollen.X).X)
    S = sigmoid_kernel(L)
    return truth, L, S, label_free_views(L, S, len(set(truth)), random_state=0, names=VIEWS)


def test_views_are_named_seeded_and_cover_every_cell(pollen_views):
    truth, L, S, views = pollen_views
    assert list(views) == list(VIEWS)
    assert all(len(v) == len(truth) and (np.asarray(v) >= 0).all() for v in views.values())
    again = label_free_views(L, S, len(set(truth)), random_state=0)
    assert list(again) == list(TRAINING_VIEWS)
    for name in TRAINING_VIEWS:
        assert np.array_equal(again[name], views[name])
    # and the seed reaches the one view drawn at random (Leiden; Ward and PCA are deterministic)
    other = label_free_views(L, S, len(set(truth)), random_state=1)
    assert not np.array_equal(other["leiden_pca"], views["leiden_pca"])


def test_k_views_have_k_clusters_and_leiden_finds_its_own_number(pollen_views):
    truth, _, _, views = pollen_views
    k = len(set(truth))
    for name in ("ward_kernel", "average_cosine", "ward_pca"):
        assert len(set(views[name])) == k
    assert 2 <= len(set(views["leiden_pca"])) < len(truth) // 5


def test_unknown_view_is_rejected(pollen_views):
    _, L, S, _ = pollen_views
    with pytest.raises(ValueError, match="unknown views"):
        label_free_views(L, S, 3, names=("ward_kernel", "spectral"))


def test_training_pairs_from_agreeing_views_match_the_published_types(pollen_views):
    """Pollen, seed 0: 94% of positive pairs join cells of one published type, 100% of
    negative pairs join different types (measured when this test was written)."""
    truth, _, _, views = pollen_views
    pairs = PairSource([views[name] for name in TRAINING_VIEWS])
    a, b, same = pairs.sample(np.random.default_rng(0), 4000)
    same_type = truth[a] == truth[b]
    assert same_type[same == 1].mean() >= 0.9
    assert (~same_type[same == 0]).mean() >= 0.98


def test_fuzzy_graph_is_symmetric_weighted_and_without_self_loops():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 5)), rng.normal(8, 1, (40, 5))])
    W = fuzzy_graph(X, n_neighbors=6)
    assert abs(W - W.T).max() < 1e-12
    assert W.diagonal().sum() == 0
    assert (np.asarray((W > 0).sum(axis=1)).ravel() >= 5).all()
    assert W.data.min() > 0 and W.data.max() <= 1 + 1e-12
    # each row's nearest other row is at its local distance ρ: weight exp(0) = 1
    d = np.linalg.norm(X[:, None] - X[None], axis=2) + np.eye(len(X)) * 1e9
    assert np.allclose(W[np.arange(len(X)), d.argmin(axis=1)], 1.0)
    communities = leiden(W, random_state=0)
    # two far-apart blobs are never joined in one community
    assert not set(communities[:60]) & set(communities[60:])
    assert np.array_equal(communities, leiden(W, random_state=0))


def test_a_view_with_one_group_is_dropped_not_allowed_to_forbid_negatives(blakeley):
    """Leiden finds one community among Blakeley's first 8 cells: training must go on with
    Ward alone, with negative pairs, rather than on positives only."""
    L = Preprocessor().fit_transform(check_counts(blakeley[:8].X).X)
    views = label_free_views(L, sigmoid_kernel(L), 2, random_state=0)
    assert len(set(views["leiden_pca"])) == 1
    with pytest.raises(ValueError, match="no positive or no negative"):
        PairSource(list(views.values()))
    kept = informative_views(views)
    assert list(kept) == ["ward_kernel"]
    _, _, same = PairSource(list(kept.values())).sample(np.random.default_rng(0), 200)
    assert (same == 0).sum() > 0 and (same == 1).sum() > 0
