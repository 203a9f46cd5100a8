import anndata as ad
import matplotlib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

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
    # k was not given: None, not the text "None" (anndata >= 0.11 writes None; older, "None")
    assert back.uns["sclstm"]["params"]["n_clusters"] == (None if sclstm.tl._anndata_writes_none() else "None")


def test_a_run_whose_record_concat_dropped_is_not_called_the_users(clustered):
    """anndata.concat keeps obs['sclstm'] and obsm['X_sclstm'] and drops uns: a refit, as the
    README advises, was refused with "which no sclstm run wrote" (audit helper-55)."""
    joined = ad.concat([clustered, clustered], index_unique="-")
    with pytest.raises(sclstm.InputError, match=r"without their run record uns\['sclstm'\] \(anndata.concat drops "
                                                r"uns\).*sclstm.tl.clear_run\(adata, 'sclstm'\)"):
        sclstm.tl.sclstm(joined, n_clusters=4, n_steps=5)
    sclstm.tl.clear_run(joined)
    sclstm.tl.check_key("sclstm", None, joined)  # nothing left in the way


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
    """Nothing is written into adata: not its obs columns (a categorical kept categorical), nor
    colours in uns, nor an embedding in obsm."""
    obs, uns_keys = clustered.obs.copy(), set(clustered.uns)
    obsm = {key: np.array(value, copy=True) for key, value in clustered.obsm.items()}
    fig = sclstm.pl.embedding(clustered, color=["cell_type", "sclstm"], save=tmp_path / "emb.png")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    assert (tmp_path / "emb.png").stat().st_size > 10_000
    fig2 = sclstm.pl.k_curve(clustered, save=tmp_path / "k.png")
    assert isinstance(fig2, matplotlib.figure.Figure)
    pd.testing.assert_frame_equal(clustered.obs, obs)
    assert set(clustered.uns) == uns_keys
    assert set(clustered.obsm) == set(obsm)
    for key, value in obsm.items():
        np.testing.assert_array_equal(clustered.obsm[key], value)


@pytest.mark.parametrize("key", ["", "a/b", None, 3])
def test_key_added_must_be_a_name_h5ad_can_store(blakeley, key):
    a = blakeley.copy()
    with pytest.raises(sclstm.InputError, match="key_added must be a non-empty string"):
        sclstm.tl.sclstm(a, key_added=key, n_steps=5)


def test_key_added_may_not_overwrite_the_labels(blakeley):
    a = blakeley.copy()
    with pytest.raises(sclstm.InputError, match="would overwrite the labels it was trained on"):
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


def test_predicted_types_keep_the_labels_dtype(blakeley):
    """The labels' own categories (unused ones too), order and ordered flag, as R keeps a
    factor's levels, so that obs[labels] == obs["sclstm_predicted"] works (before: the model's
    sorted classes, and that comparison raised pandas' TypeError)."""
    a = blakeley.copy()
    order = list(a.obs["cell_type"].cat.categories)[::-1] + ["never seen"]
    a.obs["cell_type"] = a.obs["cell_type"].cat.set_categories(order, ordered=True)
    sclstm.tl.sclstm(a, labels_key="cell_type", n_steps=5)
    assert a.obs["sclstm_predicted"].dtype == a.obs["cell_type"].dtype
    assert 0 <= (a.obs["cell_type"] == a.obs["sclstm_predicted"]).mean() <= 1


@pytest.mark.parametrize("slot, name, key", [("obs", "sclstm_predicted", "sclstm"), ("obs", "sclstm_labelled", "sclstm"),
                                             ("obsm", "X_pca", "pca"), ("obsp", "sclstm_similarity", "sclstm")])
def test_no_entry_a_run_writes_or_removes_is_taken_from_the_user(blakeley, slot, name, key):
    """Before: only obs[key_added] and uns[key_added] were checked, so a run deleted the user's
    obs['sclstm_predicted'] and replaced a PCA read from Seurat (obsm['X_pca'], no uns['pca'])
    with key_added='pca' (audit of 2026-12-07)."""
    a = blakeley.copy()
    value = {"obs": lambda: np.ones(a.n_obs), "obsm": lambda: np.ones((a.n_obs, 3)),
             "obsp": lambda: sp.identity(a.n_obs, format="csr")}[slot]()
    getattr(a, slot)[name] = value
    with pytest.raises(sclstm.InputError, match=rf"{slot} already has '{name}', which no sclstm run wrote"):
        sclstm.tl.sclstm(a, key_added=key, n_clusters=3, n_steps=5)
    assert name in getattr(a, slot) and key not in a.obs


def test_use_raw_is_pointed_to_layer(blakeley):
    with pytest.raises(sclstm.InputError, match="has no use_raw.*layer='raw' reads adata.raw.X"):
        sclstm.tl.sclstm(blakeley.copy(), use_raw=True)


def test_key_added_never_replaces_what_no_sclstm_run_wrote(blakeley):
    """Before: key_added='cell_type' replaced the truth labels, key_added='neighbors' scanpy's
    uns['neighbors'], and labels_key='sclstm_predicted' the labels the run trained on."""
    a = blakeley.copy()
    a.uns["neighbors"] = {"params": {"method": "umap"}}
    for key, slot in (("cell_type", "obs"), ("neighbors", "uns")):
        with pytest.raises(sclstm.InputError, match=rf"{slot} already has '{key}', which no sclstm run wrote"):
            sclstm.tl.sclstm(a, key_added=key, n_steps=5)
    a.obs["sclstm_predicted"] = a.obs["cell_type"]
    with pytest.raises(sclstm.InputError, match="labels_key='sclstm_predicted' is a column the run"):
        sclstm.tl.sclstm(a, labels_key="sclstm_predicted", n_steps=5)
    assert a.obs["cell_type"].equals(blakeley.obs["cell_type"]) and "sclstm" not in a.obs


def test_a_users_record_with_n_clusters_is_not_taken_for_a_run(blakeley):
    """Before: any uns[key] holding n_clusters counted as an sclstm run's record, so key_added=
    "kmeans" replaced the user's own k-means clusters, embedding and record (audit helper-40).
    An sclstm run's record still lets a re-run replace it."""
    a = blakeley.copy()
    a.uns["kmeans"] = {"n_clusters": 3, "seed": 0}
    a.obs["kmeans"] = pd.Categorical(np.arange(a.n_obs) % 3)
    a.obsm["X_kmeans"] = np.ones((a.n_obs, 2))
    with pytest.raises(sclstm.InputError, match="obs already has 'kmeans', which no sclstm run wrote"):
        sclstm.tl.sclstm(a, key_added="kmeans", n_clusters=3, n_steps=5)
    assert a.uns["kmeans"] == {"n_clusters": 3, "seed": 0} and (a.obsm["X_kmeans"] == 1).all()
    sclstm.tl.sclstm(a, key_added="mine", n_clusters=3, n_steps=5)
    sclstm.tl.sclstm(a, key_added="mine", n_clusters=2, n_steps=5)
    assert a.uns["mine"]["n_clusters"] == 2


@pytest.mark.parametrize("flag", ["copy", "store_similarity"])
def test_yes_no_options_of_tl_sclstm_must_be_bools(blakeley, flag):
    """Before: copy="False" is truthy, so the run went to a copy and the input got no results."""
    a = blakeley.copy()
    with pytest.raises(sclstm.InputError, match=f"{flag} must be True or False, got 'False'"):
        sclstm.tl.sclstm(a, n_clusters=3, n_steps=5, **{flag: "False"})
    assert "sclstm" not in a.obs


def test_legend_lists_numbers_by_value_then_text():
    """Before: by length, then text: ['2', 'b', '10', 'aa'] and '-1' after '2'."""
    from sclstm.pl import _categories

    values = np.array(["10", "b", "2", "aa", "-1", "2.5", "nan"])
    assert _categories(None, values, np.zeros(len(values), bool)) == ["-1", "2", "2.5", "10", "aa", "b", "nan"]


def test_a_rerun_removes_the_reclusters_of_the_run_it_replaces(blakeley):
    """They were cut from a similarity that is gone (before: kept, ARI 0.13 with a recluster of
    the new run in the audit's example); another key's reclusters stay."""
    a = blakeley.copy()
    sclstm.tl.sclstm(a, n_clusters=3, n_steps=5)
    sclstm.tl.sclstm(a, n_clusters=3, n_steps=5, key_added="other")
    sclstm.tl.recluster(a, 4)
    sclstm.tl.recluster(a, 4, key="other")
    sclstm.tl.sclstm(a, n_clusters=3, n_steps=5, random_state=1)
    assert "sclstm_k4" not in a.obs and "sclstm_k4" not in a.uns
    assert "other_k4" in a.obs and a.uns["other_k4"]["source_key"] == "other"


def test_plot_save_is_checked_before_drawing_and_color_none_draws_cells(clustered, tmp_path, monkeypatch):
    with pytest.raises(sclstm.InputError, match="must end in .png, .pdf or .svg"):
        sclstm.pl.embedding(clustered, save=tmp_path / "x.txt")
    with pytest.raises(sclstm.InputError, match="folder .* does not exist"):
        sclstm.pl.k_curve(clustered, save=tmp_path / "no" / "k.png")
    with pytest.raises(sclstm.InputError, match="empty list"):
        sclstm.pl.embedding(clustered, color=[])
    fig = sclstm.pl.embedding(clustered, color=None)
    assert len(fig.axes) == 1 and fig.axes[0].get_title().startswith("cells")


def test_a_picture_saved_under_the_home_folder_is_written_there(clustered, tmp_path, monkeypatch):
    """save="~/e.png" was checked with ~ expanded but written unexpanded (FileNotFoundError)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    sclstm.pl.embedding(clustered, save="~/e.png")
    assert (tmp_path / "e.png").stat().st_size > 0


def test_a_plot_whose_drawing_fails_closes_its_figure(clustered, monkeypatch):
    """Before: each failed call (here a scatter that fails, as a bad stored palette makes it)
    left one more figure open in pyplot (audit helper-57)."""
    import matplotlib.axes
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    monkeypatch.setattr(matplotlib.axes.Axes, "scatter", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad")))
    for _ in range(2):
        with pytest.raises(ValueError, match="bad"):
            sclstm.pl.embedding(clustered, color="sclstm")
    assert plt.get_fignums() == before


def test_plot_errors_are_clear(biase, clustered):
    with pytest.raises(sclstm.InputError, match="run sclstm.tl.sclstm"):
        sclstm.pl.embedding(biase)
    with pytest.raises(sclstm.InputError, match="color 'nope'"):
        sclstm.pl.embedding(clustered, color="nope")
    with pytest.raises(sclstm.InputError, match="umap|tsne"):
        sclstm.pl.embedding(clustered, basis="pca")


def test_pictures_say_what_is_wrong_with_their_input(clustered):
    """Before: TypeError for color=5, AttributeError for a uns entry that is no run's record,
    scikit-learn's PCA error for a one-dimensional embedding."""
    with pytest.raises(sclstm.InputError, match="color must be an obs column's name"):
        sclstm.pl.embedding(clustered, color=5)
    odd = clustered.copy()
    odd.uns["sclstm"] = "x"
    with pytest.raises(sclstm.InputError, match=r"uns\['sclstm'\] is a str, not an sclstm run's record"):
        sclstm.pl.k_curve(odd)
    odd.obsm["X_sclstm"] = odd.obsm["X_sclstm"][:, :1]
    with pytest.raises(sclstm.InputError, match="1 dimension"):
        sclstm.pl.embedding(odd)


def test_score_of_a_recluster_leaves_out_the_cells_the_run_trained_on(biase):
    """A recluster of a labelled run (obs['sclstm_k3']) is scored on the cells whose labels were
    not used, as obs['sclstm'] is. Before: on every cell, the trained-on ones too."""
    from sclstm.cli import score_adata

    a = sclstm.tl.sclstm(biase, labels_key="cell_type", labelled_fraction=0.5, copy=True, n_steps=30)
    sclstm.tl.recluster(a, 3)
    unseen = int((~a.obs["sclstm_labelled"]).sum())
    assert score_adata(a, "cell_type", "sclstm")[1] == unseen
    assert score_adata(a, "cell_type", "sclstm_k3")[1] == unseen < a.n_obs


def test_a_logger_level_set_before_import_is_kept():
    import subprocess
    import sys

    code = ("import logging; logging.getLogger('sclstm').setLevel(logging.WARNING); import sclstm; "
            "print(logging.getLogger('sclstm').level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(30)  # before: reset to INFO (20), and the notes printed


def test_k_curve_refuses_when_k_was_given(biase):
    a = sclstm.tl.sclstm(biase, n_clusters=4, copy=True, n_steps=30)
    with pytest.raises(sclstm.InputError, match="not estimated"):
        sclstm.pl.k_curve(a)


def test_k_curve_of_a_recluster_points_to_its_run(clustered):
    """Before: "k was given, not estimated", though the run it cut may have estimated k."""
    a = clustered.copy()
    sclstm.tl.recluster(a, n_clusters=2)
    with pytest.raises(sclstm.InputError, match=r"a recluster of the run 'sclstm' .*k_curve\(adata, key='sclstm'\)"):
        sclstm.pl.k_curve(a, key="sclstm_k2")
    sclstm.pl.k_curve(a, key="sclstm")


def test_an_anndata_without_x_or_with_unknown_keywords_gets_one_line(blakeley):
    b = ad.AnnData(obs=blakeley.obs.copy(), var=blakeley.var.copy())
    b.layers["counts"] = blakeley.X.copy()
    with pytest.raises(sclstm.InputError, match=r"adata.X is empty \(None\); pass layer= .*layers: counts"):
        sclstm.tl.sclstm(b)
    a = blakeley.copy()
    with pytest.raises(sclstm.InputError, match="unknown parameter 'n_step'"):
        sclstm.tl.sclstm(a, n_step=5)
    with pytest.raises(sclstm.InputError, match="pass labels_key="):
        sclstm.tl.sclstm(a, labels=a.obs["cell_type"])
    assert "sclstm" not in a.obs


def test_saved_plots_are_closed_so_a_loop_keeps_no_figures_open(clustered, tmp_path):
    import warnings

    import matplotlib.pyplot as plt

    plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "More than 20 figures"
        for i in range(25):
            fig = sclstm.pl.k_curve(clustered, save=tmp_path / f"k{i}.png")
    assert plt.get_fignums() == []
    fig.savefig(tmp_path / "again.png")  # the returned figure is still usable
    sclstm.pl.embedding(clustered, save=tmp_path / "e.png")
    assert plt.get_fignums() == []


def test_embedding_colours_by_its_own_key_and_draws_numbers_on_a_scale(blakeley, tmp_path):
    a = blakeley.copy()
    sclstm.tl.sclstm(a, n_clusters=3, key_added="other", n_steps=20, store_similarity=False)
    a.obs["sclstm"] = pd.Categorical(["x"] * a.n_obs)  # another column named like the default key
    fig = sclstm.pl.embedding(a, key="other")
    assert fig.axes[0].get_title().startswith("other (")
    depth = pd.array(np.arange(a.n_obs), dtype="Int64")  # continuous: a colour bar, not 30 cycled colours
    depth[:4] = pd.NA
    a.obs["depth"] = depth
    fig = sclstm.pl.embedding(a, key="other", color="depth")
    assert len(fig.axes) == 2 and fig.axes[0].get_legend() is None
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == a.n_obs  # missing ones drawn grey
    with pytest.raises(sclstm.InputError, match="is a gene, and sclstm.pl.embedding colours by obs columns"):
        sclstm.pl.embedding(a, key="other", color=a.var_names[0])


def test_embedding_draws_missing_categories_grey_and_refuses_too_few_cells(blakeley):
    """Before: missing labels became a coloured category "nan", and 2 cells raised
    scikit-learn's perplexity error from t-SNE."""
    a = blakeley.copy()
    sclstm.tl.sclstm(a, n_clusters=3, n_steps=20, store_similarity=False)
    a.obs["known"] = a.obs["cell_type"].astype(object)
    a.obs.iloc[:5, a.obs.columns.get_loc("known")] = np.nan
    fig = sclstm.pl.embedding(a, color="known")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "nan" not in legend and legend[-1] == "NA"
    grey = [c for c in fig.axes[0].collections if c.get_label() == "NA"]
    assert len(grey) == 1 and len(grey[0].get_offsets()) == 5
    with pytest.raises(sclstm.InputError, match="needs at least 3 cells with an embedding, got 2"):
        sclstm.pl.embedding(a[:2])


def test_a_view_of_a_backed_anndata_is_refused_before_fitting(blakeley, tmp_path, monkeypatch):
    """anndata cannot turn a backed view into an object to write results to; without the check
    that failed with anndata's ValueError after the whole fit."""
    path = tmp_path / "b.h5ad"
    blakeley.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    monkeypatch.setattr(sclstm.ScLSTM, "fit", lambda *a, **k: pytest.fail("fitted before refusing"))
    with pytest.raises(sclstm.InputError, match=r"view\) of an AnnData opened backed.*to_memory\(\)"):
        sclstm.tl.sclstm(backed[:20])
    backed.file.close()


def test_a_view_gets_the_results_and_its_parent_is_untouched(blakeley):
    a = blakeley.copy()
    view = a[a.obs["cell_type"] != "PE"]
    with pytest.warns(ad.ImplicitModificationWarning):  # as scanpy's tools: the view becomes its own AnnData
        sclstm.tl.sclstm(view, n_clusters=2, n_steps=20)
    assert not view.is_view and view.obs["sclstm"].notna().all() and "X_sclstm" in view.obsm
    assert "sclstm" not in a.obs and "X_sclstm" not in a.obsm and "sclstm" not in a.uns


def test_dropped_empty_cells_are_named_with_the_subset_that_scanpy_needs(blakeley):
    """Cells dropped by drop_empty get NaN embedding rows, which sc.pp.neighbors cannot take:
    the warning says so and gives the subset; that subset has no NaN."""
    adata = blakeley.copy()
    X = adata.X.toarray() if hasattr(adata.X, "toarray") else np.array(adata.X)
    X[[0, 5]] = 0
    adata.X = X
    with pytest.warns(UserWarning, match=r"2 cells with no counts \(in the genes read\) were dropped .*adata\[adata.obs\['sclstm'\].notna\(\)\]"):
        sclstm.tl.sclstm(adata, n_clusters=3, drop_empty=True, n_steps=20)
    assert adata.obs["sclstm"].isna().sum() == 2 and np.isnan(adata.obsm["X_sclstm"][[0, 5]]).all()
    kept = adata[adata.obs["sclstm"].notna()].copy()
    assert kept.n_obs == adata.n_obs - 2 and not np.isnan(kept.obsm["X_sclstm"]).any()


def test_recluster_cuts_the_stored_similarity_at_another_k_without_training(pollen):
    """At the run's own k it gives the run's clusters back (the guard kept the learned partition);
    at another k, that many clusters; the run itself is left as it was."""
    adata = pollen.copy()
    sclstm.tl.sclstm(adata, n_clusters=11)  # default training: the guard keeps the learned partition
    assert adata.uns["sclstm"]["partition_from"] == "learned similarity"
    before = adata.obs["sclstm"].copy()
    sclstm.tl.recluster(adata, 11)
    assert (adata.obs["sclstm_k11"].astype(str) == before.astype(str)).all()
    sclstm.tl.recluster(adata, 14, key_added="finer")
    assert list(adata.obs["finer"].cat.categories) == [str(i) for i in range(14)]
    assert adata.obs["finer"].notna().all() and adata.obs["sclstm"].equals(before)
    assert adata.uns["finer"]["n_clusters"] == 14 and adata.uns["finer"]["source_key"] == "sclstm"
    scores = sclstm.metrics.score(adata.obs["cell_type"], adata.obs["finer"])
    assert scores["ARI"] > 0.8  # a finer cut of a good similarity is still a good partition


def test_recluster_errors_name_what_is_missing(blakeley):
    adata = blakeley.copy()
    with pytest.raises(sclstm.InputError, match=r"no 'sclstm' run with its similarity .*run sclstm.tl.sclstm"):
        sclstm.tl.recluster(adata, 3)
    sclstm.tl.sclstm(adata, n_clusters=3, n_steps=20)
    with pytest.raises(sclstm.InputError, match="n_clusters must be given"):
        sclstm.tl.recluster(adata, None)
    with pytest.raises(sclstm.InputError, match="larger than the number of cells"):
        sclstm.tl.recluster(adata, 31)
    with pytest.raises(sclstm.InputError, match="would overwrite the run it reclusters"):
        sclstm.tl.recluster(adata, 4, key_added="sclstm")
    with pytest.raises(sclstm.InputError, match="obs already has 'cell_type', which no sclstm run wrote"):
        sclstm.tl.recluster(adata, 4, key_added="cell_type")  # before: the truth labels were overwritten
    adata.obsm["X_sclstm_k4"] = np.ones((adata.n_obs, 2))  # a recluster writes no obsm: not in its way
    sclstm.tl.recluster(adata, 4)
    sclstm.tl.recluster(adata, 4)  # an earlier recluster's column is replaced
    assert adata.obs["sclstm_k4"].nunique() == 4
    adata.obsp["sclstm_similarity"] = sp.csr_matrix(adata.obsp["sclstm_similarity"])
    # sparse but not a landmark run's (anndata.concat of two runs makes such a block matrix);
    # before, the message blamed the landmark path
    with pytest.raises(sclstm.InputError, match="not one run's dense similarity .*anndata.concat"):
        sclstm.tl.recluster(adata, 4)
    adata.uns["sclstm"]["kernel"] = "landmark"
    with pytest.raises(sclstm.InputError, match="landmark path's sparse neighbour similarity"):
        sclstm.tl.recluster(adata, 4)


def test_counts_in_adata_raw_are_read_with_layer_raw(biase):
    """scanpy leaves the counts in adata.raw under a log-normalised X. Before: --layer counts and
    --layer raw both failed with 'not in adata.layers (found: none)', and nothing named .raw."""
    logged = biase.copy()
    logged.raw = biase.copy()
    X = np.asarray(sp.csr_matrix(biase.X).todense())
    logged.X = np.log1p(X / X.sum(axis=1, keepdims=True) * 1e4)
    with pytest.raises(sclstm.InputError, match=r"layer 'counts' is not in adata.layers \(found: none; adata.raw "
                                                r"holds \d+ genes: layer='raw' reads them\)"):
        sclstm.tl.sclstm(logged, layer="counts")
    sclstm.tl.sclstm(logged, layer="raw", n_clusters=4, n_steps=60)
    direct = sclstm.tl.sclstm(biase, n_clusters=4, n_steps=60, copy=True)
    np.testing.assert_array_equal(logged.obs["sclstm"], direct.obs["sclstm"])
    assert logged.uns["sclstm"]["layer"] == "raw"


def test_embedding_keeps_scanpy_colours_and_order_and_draws_into_an_ax(clustered):
    """Before: tab20 in order (clusters 0 and 1 two blues), categories sorted as text, colours
    repeated past 20 groups with no legend, and no ax=."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    a = clustered.copy()
    order = ["zygote", "2cell", "4cell", "blast"]
    a.obs["stage"] = pd.Categorical(a.obs["cell_type"].astype(str), categories=order, ordered=True)
    stored = ["#111111", "#222222", "#333333", "#444444"]
    a.uns["stage_colors"] = stored
    fig = sclstm.pl.embedding(a, color="stage")
    dots = [c for c in fig.axes[0].collections if c.get_label() in order]
    assert [c.get_label() for c in dots] == order
    assert [to_hex(c.get_facecolor()[0]) for c in dots] == stored
    clusters = sclstm.pl.embedding(a).axes[0].collections
    assert len({to_hex(c.get_facecolor()[0]) for c in clusters}) == len(clusters)
    a.obs["many"] = pd.Categorical([f"t{i % 25}" for i in range(a.n_obs)])
    many = sclstm.pl.embedding(a, color="many").axes[0]
    assert len({to_hex(c.get_facecolor()[0]) for c in many.collections}) == 25
    assert many.get_legend() is not None
    fig, ax = plt.subplots()
    assert sclstm.pl.embedding(a, color="stage", ax=ax) is fig and ax.get_title().startswith("stage")
    with pytest.raises(sclstm.InputError, match="ax= draws one panel"):
        sclstm.pl.embedding(a, color=["stage", "many"], ax=ax)
    plt.close("all")


def test_recluster_copy_leaves_the_input_as_it_was(clustered):
    """scanpy's convention, as tl.sclstm has it (before: no copy=)."""
    a = clustered.copy()
    out = sclstm.tl.recluster(a, 2, copy=True)
    assert "sclstm_k2" in out.obs and "sclstm_k2" in out.uns
    assert "sclstm_k2" not in a.obs and "sclstm_k2" not in a.uns
    assert sclstm.tl.recluster(a, 2) is None and a.obs["sclstm_k2"].equals(out.obs["sclstm_k2"])


def test_a_picture_save_that_fails_keeps_the_earlier_picture_and_closes_the_figure(clustered, tmp_path, monkeypatch):
    """Before: the picture was written in place (an interrupted save left 0 bytes where the earlier
    one was) and the figure stayed open in pyplot after a failed save (audit helper-44)."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    target = tmp_path / "k.png"
    target.write_bytes(b"earlier picture")

    def fails_midway(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", fails_midway)
    open_before = plt.get_fignums()
    with pytest.raises(RuntimeError, match="disk full"):
        sclstm.pl.k_curve(clustered, save=target)
    assert target.read_bytes() == b"earlier picture" and [p.name for p in tmp_path.iterdir()] == ["k.png"]
    assert plt.get_fignums() == open_before


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode="labelled"), r"mode='labelled' needs labels: pass labels_key= \(the obs column holding them\)"),
    (dict(labelled_fraction=0.5), r"labelled_fraction applies only to a labelled run: pass labels_key="),
    (dict(n_step=5), r"unknown parameter 'n_step'; valid ones: key_added, layer, labels_key, copy, "
                     r"store_similarity, and the estimator's"),
])
def test_tl_errors_name_what_tl_takes(biase, kwargs, message):
    """Before (audit helper-50): "pass labels= (or labels_key=)", and tl.sclstm refuses labels=;
    "applies only to mode='labelled'"; an unknown keyword listed only the estimator's parameters."""
    with pytest.raises(sclstm.InputError, match=message):
        sclstm.tl.sclstm(biase.copy(), **kwargs)
