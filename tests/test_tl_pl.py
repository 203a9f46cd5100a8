import anndata as ad
import matplotlib
import numpy as np
import pandas as pd
import pytest

import sclstm


@pytest.fixture(scope="module")
def clustered(biase):
    adata = biase.copy()
    sclstm.tl.sclstm(adata, n_steps=100)  # k estimated
    return adata


def test_results_are_written_where_scanpy_users_look(clustered):
    a = clustered
    k = a.uns["sclstm"]["n_clusters"]
    assert isinstance(a.obs["sclstm"].dtype, pd.CategoricalDtype)
    assert list(a.obs["sclstm"].cat.categories) == [str(i) for i in range(k)]
    assert a.obsm["X_sclstm"].shape == (a.n_obs, 32)
    assert a.obsp["sclstm_similarity"].shape == (a.n_obs, a.n_obs)
    info = a.uns["sclstm"]
    for key in ("mode", "k_method", "k_curve", "history", "params", "random_state", "versions", "partition_from"):
        assert key in info, key
    assert info["mode"] == "unsupervised" and info["k_method"] == "estimated"
    assert info["versions"]["torch"].startswith("2.")


def test_results_survive_h5ad(clustered, tmp_path):
    path = tmp_path / "out.h5ad"
    clustered.write_h5ad(path)
    back = ad.read_h5ad(path)
    assert back.obs["sclstm"].equals(clustered.obs["sclstm"])
    np.testing.assert_array_equal(back.obsm["X_sclstm"], clustered.obsm["X_sclstm"])
    assert back.uns["sclstm"]["n_clusters"] == clustered.uns["sclstm"]["n_clusters"]


def test_key_added_and_copy(biase):
    out = sclstm.tl.sclstm(biase, n_clusters=4, key_added="lstm", copy=True, n_steps=50)
    assert "lstm" in out.obs and "X_lstm" in out.obsm and "lstm_similarity" in out.obsp and "lstm" in out.uns
    assert "lstm" not in biase.obs


def test_a_rerun_replaces_an_earlier_labelled_run_whole(blakeley):
    """An unsupervised re-run under the same key leaves no labelled mask or predictions behind,
    so `sclstm score` scores it on every cell, not on the old run's unseen cells."""
    from sclstm.cli import score_adata

    a = blakeley.copy()
    sclstm.tl.sclstm(a, labels_key="cell_type", labelled_fraction=0.5, n_steps=30)
    assert {"sclstm_labelled", "sclstm_predicted", "sclstm_predicted_confidence"} <= set(a.obs)
    sclstm.tl.sclstm(a, n_clusters=3, n_steps=30, store_similarity=False)
    assert not {"sclstm_labelled", "sclstm_predicted", "sclstm_predicted_confidence"} & set(a.obs)
    assert "sclstm_similarity" not in a.obsp  # not stored this time: the old one is not kept either
    _, n_scored, scope = score_adata(a, "cell_type")
    assert n_scored == a.n_obs and scope == "all cells with a truth label"


def test_plots_return_figures_and_leave_adata_alone(clustered, tmp_path):
    before = set(clustered.obsm)
    fig = sclstm.pl.embedding(clustered, color=["cell_type", "sclstm"], save=tmp_path / "emb.png")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    assert (tmp_path / "emb.png").stat().st_size > 10_000
    fig2 = sclstm.pl.k_curve(clustered, save=tmp_path / "k.png")
    assert isinstance(fig2, matplotlib.figure.Figure)
    assert set(clustered.obsm) == before


@pytest.mark.parametrize("key", ["", "a/b", None, 3])
def test_key_added_must_be_a_name_h5ad_can_store(blakeley, key):
    a = blakeley.copy()
    with pytest.raises(sclstm.InputError, match="key_added must be a non-empty string"):
        sclstm.tl.sclstm(a, key_added=key, n_steps=5)


def test_key_added_may_not_overwrite_the_labels(blakeley):
    a = blakeley.copy()
    with pytest.raises(sclstm.InputError, match="is the labels column"):
        sclstm.tl.sclstm(a, labels_key="cell_type", key_added="cell_type", n_steps=5)
    assert a.obs["cell_type"].equals(blakeley.obs["cell_type"])


def test_copy_of_a_backed_anndata_is_refused_before_fitting(blakeley, tmp_path, monkeypatch):
    path = tmp_path / "b.h5ad"
    blakeley.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    monkeypatch.setattr(sclstm.ScLSTM, "fit", lambda *a, **k: pytest.fail("fitted before refusing"))
    with pytest.raises(sclstm.InputError, match="copy=True cannot copy an AnnData opened backed"):
        sclstm.tl.sclstm(backed, copy=True)
    backed.file.close()


def test_label_columns_that_are_no_cell_types_are_refused(blakeley):
    a = blakeley.copy()
    a.obs["qc"] = np.round(np.random.default_rng(0).random(a.n_obs), 2) + 0.001
    with pytest.raises(sclstm.InputError, match="labels look continuous"):
        sclstm.tl.sclstm(a, labels_key="qc", n_steps=5)
    a.obs["cell_id"] = np.arange(a.n_obs)  # whole numbers, but one per cell
    with pytest.raises(sclstm.InputError, match=r"every labelled cell has a label of its own \(30 classes"):
        sclstm.tl.sclstm(a, labels_key="cell_id", n_steps=5)


def test_nullable_integer_labels_give_integer_predictions(blakeley):
    a = blakeley.copy()
    codes = pd.array(a.obs["cell_type"].cat.codes.to_numpy(), dtype="Int64")
    codes[[0, 5]] = pd.NA
    a.obs["code"] = codes
    sclstm.tl.sclstm(a, labels_key="code", n_steps=30)
    assert list(a.obs["sclstm_predicted"].cat.categories) == [0, 1, 2]
    assert all(type(c) is int for c in a.obs["sclstm_predicted"].cat.categories)


def test_plot_save_is_checked_before_drawing_and_color_none_draws_cells(clustered, tmp_path, monkeypatch):
    with pytest.raises(sclstm.InputError, match="must end in .png, .pdf or .svg"):
        sclstm.pl.embedding(clustered, save=tmp_path / "x.txt")
    with pytest.raises(sclstm.InputError, match="folder .* does not exist"):
        sclstm.pl.k_curve(clustered, save=tmp_path / "no" / "k.png")
    with pytest.raises(sclstm.InputError, match="empty list"):
        sclstm.pl.embedding(clustered, color=[])
    fig = sclstm.pl.embedding(clustered, color=None)
    assert len(fig.axes) == 1 and fig.axes[0].get_title().startswith("cells")


def test_plot_errors_are_clear(biase, clustered):
    with pytest.raises(sclstm.InputError, match="run sclstm.tl.sclstm"):
        sclstm.pl.embedding(biase)
    with pytest.raises(sclstm.InputError, match="color 'nope'"):
        sclstm.pl.embedding(clustered, color="nope")
    with pytest.raises(sclstm.InputError, match="umap|tsne"):
        sclstm.pl.embedding(clustered, basis="pca")


def test_k_curve_refuses_when_k_was_given(biase):
    a = sclstm.tl.sclstm(biase, n_clusters=4, copy=True, n_steps=30)
    with pytest.raises(sclstm.InputError, match="not estimated"):
        sclstm.pl.k_curve(a)
