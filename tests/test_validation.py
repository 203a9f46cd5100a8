"""Every bad input gets a one-line InputError naming the problem; nothing the user gave is modified."""
import anndata as ad
import numpy as np
import pandas as pd
import warnings
import pytest
import scipy.sparse as sp

import sclstm
from sclstm import InputError, ScLSTM

FAST = dict(n_steps=30, progress=False)


def small_counts(blakeley):
    return sp.csr_matrix(blakeley.X).toarray()


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (-1.0, "negative value")])
def test_non_finite_and_negative_values(blakeley, bad, message):
    """Counted and located, in memory as in chunks (one check serves both): the first cell is named."""
    X = small_counts(blakeley)
    X[2, 5] = bad
    X[7, 1] = bad
    with pytest.raises(InputError, match=rf"has 2 {message}.*\(the first in cell 2\)"):
        ScLSTM(**FAST).fit(X)
    named = pd.DataFrame(X, index=[f"cell_{i}" for i in range(len(X))])
    with pytest.raises(InputError, match=r"\(the first in cell 'cell_2'\)"):  # by name where cells have names
        ScLSTM(**FAST).fit(named)


@pytest.mark.parametrize("damage, message", [
    ("past_last_gene", r"column indices must lie in 0–\d+, found (\d+)"),
    ("far_past", r"column indices must lie in 0–\d+, found 1000000"),
    ("negative", r"column indices must lie in 0–\d+, found -1"),
    ("pointer_decreases", "its index pointer decreases"),
    ("pointer_past_values", r"its index pointer ends at \d+, past its \d+ stored values"),
])
def test_a_malformed_sparse_matrix_is_refused_before_any_work(blakeley, damage, message):
    """Index arrays scipy trusts (a damaged file): before, an index equal to the number of genes
    crashed the process (segmentation fault in the normalisation's matrix product), a decreasing
    pointer corrupted the heap, and an index far past the genes gave a silently wrong result."""
    X = sp.csr_matrix(small_counts(blakeley))
    bad = X.copy()
    if damage == "past_last_gene":
        bad.indices[5] = X.shape[1]
    elif damage == "far_past":
        bad.indices[5] = 10**6
    elif damage == "negative":
        bad.indices[5] = -1
    elif damage == "pointer_decreases":
        bad.indptr[3] = bad.indptr[5] + 3
    else:
        bad.indptr[-1] += 1000
    before = (bad.indices.copy(), bad.indptr.copy(), bad.data.copy())
    for kernel in ("exact", "landmark"):
        with pytest.raises(InputError, match=f"the sparse expression matrix is malformed: {message}"):
            ScLSTM(kernel=kernel, **FAST).fit(bad)
    for kept, now in zip(before, (bad.indices, bad.indptr, bad.data)):  # read, not pruned (scipy's check_format prunes)
        np.testing.assert_array_equal(kept, now)
    lil = sp.lil_matrix(X)  # its rows set by hand, past the last gene
    lil.rows[0], lil.data[0] = [X.shape[1] + 3], [1.0]
    with pytest.raises(InputError, match=rf"malformed: column indices must lie in 0–{X.shape[1] - 1}, found {X.shape[1] + 3}"):
        ScLSTM(**FAST).fit(lil)
    coo = X.tocoo()
    coo.col[0] = X.shape[1] + 7
    with pytest.raises(InputError, match=rf"malformed: column indices must lie in 0–{X.shape[1] - 1}, found {X.shape[1] + 7}"):
        ScLSTM(**FAST).fit(coo)


def test_a_malformed_sparse_matrix_in_a_backed_file_is_refused(blakeley, tmp_path):
    """Read chunk by chunk (the out-of-core path) as in memory."""
    import h5py

    a = ad.AnnData(sp.csr_matrix(small_counts(blakeley)))
    a.write_h5ad(tmp_path / "bad.h5ad")
    with h5py.File(tmp_path / "bad.h5ad", "a") as f:
        f["X/indices"][7] = a.n_vars
    backed = ad.read_h5ad(tmp_path / "bad.h5ad", backed="r")
    with pytest.raises(InputError, match=r"malformed: column indices must lie in 0–\d+, found \d+"):
        ScLSTM(kernel="landmark", **FAST).fit(backed)
    backed.file.close()


def test_duplicate_entries_count_once_and_sum_in_float64(blakeley):
    """A sparse matrix may hold a cell's count of a gene in several entries (scipy sums them).
    Before: a duplicate counted as a second cell for min_cells (other genes kept, other clusters:
    audit helper-65), and uint8 entries were summed in uint8 by the format change (400 → 144)."""
    D = np.minimum(small_counts(blakeley), 400)
    reference = ScLSTM(n_clusters=3, n_steps=20).fit(sp.csr_matrix(D))
    C = sp.coo_matrix(D)
    half = np.floor(C.data / 2)
    rows, cols = np.r_[C.row, C.row], np.r_[C.col, C.col]
    split_csr = sp.csr_matrix((np.r_[half, C.data - half], (rows, cols)), shape=D.shape)  # duplicates kept
    order = np.lexsort((cols, rows))
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=D.shape[0]))]
    with_duplicates = sp.csr_matrix((np.r_[half, C.data - half][order], cols[order], indptr), shape=D.shape)
    assert not with_duplicates.has_canonical_format and split_csr.shape == D.shape
    small = sp.coo_matrix((np.r_[half, C.data - half].astype(np.uint8), (rows, cols)), shape=D.shape)
    assert (C.data > 255).any()  # sums past what uint8 holds
    for X in (with_duplicates, small):
        before = X.copy()
        for kernel in ("exact", "landmark"):
            est = ScLSTM(n_clusters=3, n_steps=20, kernel=kernel).fit(X)
            expected = reference if kernel == "exact" else ScLSTM(n_clusters=3, n_steps=20, kernel=kernel).fit(D)
            np.testing.assert_array_equal(est.labels_, expected.labels_)
            np.testing.assert_allclose(est.embedding_, expected.embedding_, atol=1e-6)
        assert (X != before).nnz == 0 and X.format == before.format  # the user's matrix as it was


def test_a_multiindex_frame_and_a_view_of_dask_counts_are_read(blakeley):
    """Before (audit helper-65): a DataFrame with MultiIndex columns failed in numpy ("setting an
    array element with a sequence"); a subset of an AnnData whose X is Dask was refused as
    "dtype object" (anndata's view of a Dask array was not recognised as Dask)."""
    da = pytest.importorskip("dask.array")
    D = small_counts(blakeley)
    reference = ScLSTM(n_clusters=3, n_steps=20).fit(D)
    frame = pd.DataFrame(D, columns=pd.MultiIndex.from_arrays([blakeley.var_names, np.arange(D.shape[1])]))
    np.testing.assert_array_equal(ScLSTM(n_clusters=3, n_steps=20).fit(frame).labels_, reference.labels_)
    a = ad.AnnData(da.from_array(sp.csr_matrix(D), chunks=(8, -1), asarray=False),
                   var=pd.DataFrame(index=blakeley.var_names))
    perm = np.random.default_rng(0).permutation(D.shape[0])
    est = ScLSTM(n_clusters=3, n_steps=20).fit(a[perm])
    np.testing.assert_array_equal(est.labels_, ScLSTM(n_clusters=3, n_steps=20).fit(D[perm]).labels_)


def test_sparse_torch_tensors_and_dask_coo_blocks_are_refused_in_one_line(blakeley):
    """Before: torch's NotImplementedError (aten::as_strided) on the landmark path, and dask's
    "'coo_matrix' object is not subscriptable" (audit helper-65)."""
    import torch

    da = pytest.importorskip("dask.array")
    D = small_counts(blakeley)
    with pytest.raises(InputError, match=r"got a sparse torch tensor \(torch.sparse_coo\); pass X.to_dense\(\)"):
        ScLSTM(kernel="landmark", **FAST).fit(torch.from_numpy(D).to_sparse())
    blocks = da.from_array(sp.coo_matrix(D), chunks=(8, -1), asarray=False)
    with pytest.raises(InputError, match=r"blocks cannot be read by rows \('coo_matrix' object is not subscriptable\); "
                                         r"make them CSR first: X.map_blocks\(lambda block: block.tocsr\(\)\)"):
        ScLSTM(kernel="landmark", **FAST).fit(blocks)


def test_empty_matrix():
    with pytest.raises(InputError, match="empty"):
        ScLSTM(**FAST).fit(np.zeros((0, 10)))


def test_too_few_cells(blakeley):
    with pytest.raises(InputError, match="at least 3 cells"):
        ScLSTM(**FAST).fit(small_counts(blakeley)[:2])


def test_non_numeric_matrix():
    with pytest.raises(InputError, match="numeric"):
        ScLSTM(**FAST).fit(np.array([["a", "b"], ["c", "d"], ["e", "f"]]))


def test_boolean_matrices_are_refused_dense_or_sparse(blakeley):
    """Before: a dense boolean matrix was refused, the same matrix sparse was fitted as 0/1 counts."""
    present = small_counts(blakeley) > 0
    for X in (present, sp.csr_matrix(present)):
        with pytest.raises(InputError, match="must be numeric, got dtype bool"):
            ScLSTM(**FAST).fit(X)


def test_a_nullable_integer_frame_is_read_as_its_numbers(blakeley):
    """Before: pandas' Int64 columns were refused as "dtype object"; a missing value is named."""
    import pandas as pd

    X = small_counts(blakeley)
    plain = pd.DataFrame(X.astype(np.int64))
    nullable = plain.astype("Int64")
    np.testing.assert_array_equal(ScLSTM(**FAST).fit(nullable).labels_, ScLSTM(**FAST).fit(plain).labels_)
    nullable.iloc[0, 0] = pd.NA
    with pytest.raises(InputError, match="1 NaN or infinite value"):
        ScLSTM(**FAST).fit(nullable)


@pytest.mark.parametrize("kernel", ["exact", "landmark"])
def test_matrix_of_wrong_dimension(blakeley, kernel, caplog):
    X = small_counts(blakeley)
    for bad, dims in ((X[0], 1), (X[None], 3)):
        caplog.clear()
        with caplog.at_level("INFO", logger="sclstm"), pytest.raises(InputError, match=f"2-dimensional .*got {dims} dimension"):
            ScLSTM(kernel=kernel, **FAST).fit(bad)
        assert "kernel for" not in caplog.text  # no memory plan for a matrix that is not one


def test_all_zero_cells_are_reported_and_dropped_only_when_asked(blakeley):
    X = small_counts(blakeley)
    X[[3, 7]] = 0
    with pytest.raises(InputError, match=r"2 of 30 cells have zero counts in every gene \(e.g. 3, 7\)"):
        ScLSTM(**FAST).fit(X)
    adata = blakeley.copy()
    adata.X = sp.csr_matrix(X)
    # named, as the cells of the other checks are (before: no cell named; audit helper-56)
    names = ", ".join(blakeley.obs_names[[3, 7]])
    with pytest.raises(InputError, match=rf"2 of 30 cells have zero counts in every gene \(e.g. {names}\)"):
        ScLSTM(**FAST).fit(adata)
    sclstm.tl.sclstm(adata, n_clusters=3, drop_empty=True, **FAST)
    assert adata.obs["sclstm"].isna().sum() == 2
    assert adata.obs["sclstm"].iloc[[3, 7]].isna().all()
    assert adata.uns["sclstm"]["n_empty_cells_dropped"] == 2


def test_all_zero_genes_are_counted_not_fatal(blakeley):
    X = np.hstack([small_counts(blakeley), np.zeros((30, 4))])
    est = ScLSTM(n_clusters=3, **FAST).fit(X)
    assert est.summary_["n_empty_genes"] >= 4
    assert est.summary_["n_genes_in"] == X.shape[1]


@pytest.mark.parametrize("k, message", [(1, "at least 2"), (0, "at least 2"), (31, "larger than the number of cells"),
                                        (30, "equals the number of cells"), (2.5, "whole number"), ("3", "whole number")])
def test_bad_n_clusters(blakeley, k, message):
    with pytest.raises(InputError, match=message):
        ScLSTM(n_clusters=k, **FAST).fit(small_counts(blakeley))


def test_labels_of_wrong_length(blakeley):
    with pytest.raises(InputError, match="labels have length 29 but there are 30 cells"):
        ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley), labels=["a"] * 29)


def test_all_labels_missing(blakeley):
    with pytest.raises(InputError, match="all labels are missing"):
        ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley), labels=[None] * 30)


def test_labelled_mode_needs_labels(blakeley):
    with pytest.raises(InputError, match="needs labels"):
        ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley))


def test_unsupervised_mode_refuses_labels(blakeley):
    with pytest.raises(InputError, match="never reads labels"):
        ScLSTM(**FAST).fit(small_counts(blakeley), labels=blakeley.obs["cell_type"])


def test_labels_key_not_in_obs(blakeley):
    with pytest.raises(InputError, match="labels_key 'nope' is not a column"):
        sclstm.tl.sclstm(blakeley.copy(), labels_key="nope", **FAST)


def test_missing_layer(blakeley):
    with pytest.raises(InputError, match="layer 'spliced' is not in adata.layers"):
        sclstm.tl.sclstm(blakeley.copy(), layer="spliced", **FAST)


@pytest.mark.parametrize("param, value", [("mode", "semi"), ("head", "cosine"), ("cluster_method", "dbscan"),
                                          ("n_steps", 0), ("labelled_fraction", 1.5), ("preprocess", "scran"),
                                          ("random_state", -1), ("random_state", None), ("random_state", 1.5),
                                          ("hidden_size", 0), ("embedding_dim", 0), ("k_max", 1),
                                          ("learning_rate", -1), ("learning_rate", float("nan")), ("device", "gpu")])
def test_bad_parameters(blakeley, param, value):
    with pytest.raises(InputError, match=param):
        ScLSTM(**{**FAST, param: value}).fit(small_counts(blakeley))


def test_cuda_asked_without_a_gpu(blakeley):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(InputError, match="torch sees no CUDA GPU"):
        ScLSTM(device="cuda", **FAST).fit(small_counts(blakeley))


def test_a_gpu_number_torch_does_not_see_is_named(blakeley, monkeypatch):
    """cuda:1 on a one-GPU machine: our message, before torch's "invalid device ordinal" mid-fit."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(InputError, match=r"device='cuda:1' but torch sees 1 CUDA GPU\(s\), numbered from 0"):
        ScLSTM(device="cuda:1", **FAST).fit(small_counts(blakeley))


def test_labels_must_be_one_dimensional(blakeley):
    lab = blakeley.obs["cell_type"].to_numpy()
    with pytest.raises(InputError, match="labels must be one-dimensional"):
        ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley), labels=np.c_[lab, lab])


def test_integer_labels_give_integer_predictions(blakeley):
    """Predicted types compare equal to the label column they were learned from."""
    codes = blakeley.obs["cell_type"].cat.codes.to_numpy().astype(np.int64)
    labels = codes.astype(object)
    labels[[0, 10, 20]] = None
    est = ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley), labels=labels)
    assert list(est.classes_) == sorted(set(codes.tolist()))
    assert est.predicted_labels_.dtype.kind == "i"  # an integer array, as scikit-learn's metrics need
    assert np.mean(est.predicted_labels_ == codes) > 0.5


def test_too_few_classes_are_explained_by_the_labels_not_n_clusters(blakeley):
    """Before: 1 and 1.0 were two classes to the check and one to the fit, and a class lost to
    drop_empty left one; both ended in "n_clusters must be at least 2", a parameter not set."""
    X = small_counts(blakeley)
    with pytest.raises(InputError, match=r"only one class \(1\)"):
        ScLSTM(mode="labelled", **FAST).fit(X, labels=[1] * 15 + [1.0] * 15)
    labels = np.array(["A"] * 27 + ["B"] * 3, dtype=object)
    X[27:] = 0  # the only B cells are empty, and dropped
    with pytest.raises(InputError, match="the labels used hold 1 class\\(es\\) where at least two cell types"):
        ScLSTM(mode="labelled", drop_empty=True, **FAST).fit(X, labels=labels)


def test_labels_of_mixed_types_are_refused(blakeley):
    """Before: turned into text, so the predicted types ('1') compared equal to no label (1)."""
    labels = pd.Categorical([1, 2, 3, "zero", "zero", "zero"] * 5)
    with pytest.raises(InputError, match=r"labels mix int and str values \(e.g. 1, 'zero'\); make them one type"):
        ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley), labels=labels)


def test_no_training_pairs_advice_fits_labelled_fraction(blakeley):
    """labelled_fraction keeps a cell of every class out, so classes of 2 leave no pair: the advice
    is to leave it out (before: "or raise labelled_fraction", which cannot help)."""
    labels = np.full(30, None, dtype=object)
    labels[:8] = ["a", "a", "b", "b", "c", "c", "d", "d"]
    with pytest.raises(InputError, match="no training pairs.*leave labelled_fraction out"):
        ScLSTM(mode="labelled", labelled_fraction=0.9, **FAST).fit(small_counts(blakeley), labels=labels)


def test_identical_cells_have_nothing_to_cluster():
    for kernel in ("exact", "landmark"):
        with pytest.raises(InputError, match="no gene varies between the cells"):
            ScLSTM(kernel=kernel, **FAST).fit(np.ones((20, 50)))


def test_log_transformed_input_is_warned_about(blakeley):
    """scanpy's normalize_total + log1p output given as X: sclstm would log it twice."""
    X = sp.csr_matrix(blakeley.X, dtype=np.float64)
    X = sp.diags(1e4 / np.asarray(X.sum(axis=1)).ravel()) @ X
    X.data = np.log1p(X.data)
    with pytest.warns(UserWarning, match="look log-transformed") as caught:
        ScLSTM(n_clusters=3, **FAST).fit(X)
    # the warning points at the user's line, from every entry point (before: at sclstm's own
    # validation.py, the depth of the check differing between ScLSTM.fit and tl.sclstm)
    assert {w.filename for w in caught} == {__file__}
    adata = ad.AnnData(X)
    with pytest.warns(UserWarning, match="look log-transformed") as caught:
        with pytest.raises(InputError, match="n_clusters"):
            sclstm.tl.sclstm(adata, n_clusters=10**6, **FAST)
    assert {w.filename for w in caught} == {__file__}


def test_input_is_not_modified(blakeley):
    adata = blakeley.copy()
    before = adata.X.copy()
    obs_before = adata.obs.copy()
    out = sclstm.tl.sclstm(adata, n_clusters=3, copy=True, **FAST)
    assert "sclstm" not in adata.obs and "sclstm" not in adata.uns and "X_sclstm" not in adata.obsm
    assert (adata.X != before).nnz == 0
    assert adata.obs.equals(obs_before)
    assert "sclstm" in out.obs
    # copy=False writes results but leaves the counts alone
    sclstm.tl.sclstm(adata, n_clusters=3, **FAST)
    assert (adata.X != before).nnz == 0 and "sclstm" in adata.obs


def test_transform_before_fit():
    with pytest.raises(InputError, match="not fitted"):
        ScLSTM().transform(np.ones((3, 3)))
    # scikit-learn's NotFittedError too, which its users and check_is_fitted catch
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    with pytest.raises(NotFittedError):
        ScLSTM().predict(np.ones((3, 3)))
    with pytest.raises(NotFittedError):  # before: AttributeError, no __sklearn_tags__
        check_is_fitted(ScLSTM())


def test_labelled_fraction_without_labelled_mode(blakeley):
    with pytest.raises(InputError, match="labelled_fraction applies only to mode='labelled'"):
        ScLSTM(labelled_fraction=0.5, **FAST).fit(small_counts(blakeley))


def test_labelled_mode_with_one_cell_per_class_says_what_is_missing(blakeley):
    labels = np.full(30, None, dtype=object)
    labels[[0, 15]] = ["a", "b"]
    with pytest.raises(InputError, match="labels used cover 2 cells in 2 classes.*at least 2 labelled cells"):
        ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley), labels=labels)


def test_read_only_labels_with_gaps_are_read_not_written():
    """Missing labels become None in a copy: a read-only object array (what pandas 3's
    to_numpy hands out) is accepted and left as it was."""
    from sclstm.validation import check_labels

    labels = np.array(["a", "", "b", None, "a"], dtype=object)
    labels.flags.writeable = False
    out = check_labels(labels, 5)
    assert list(out) == ["a", None, "b", None, "a"]
    assert list(labels) == ["a", "", "b", None, "a"]


def test_a_batch_larger_than_the_distinct_pairs_warns_and_the_default_does_not(blakeley):
    """batch_size=100000 on 150 cells took 7.6 minutes without a word (audit of 2026-12-06);
    the default batch on 20 cells (190 distinct pairs) stays quiet."""
    X = small_counts(blakeley)
    with pytest.warns(UserWarning, match=r"batch_size=5000 pairs per step exceeds the 435 distinct pairs of the 30 training cells"):
        ScLSTM(n_clusters=2, n_steps=2, batch_size=5000).fit(X[:30])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ScLSTM(n_clusters=2, n_steps=2).fit(X[:20])


def test_an_exact_kernel_larger_than_the_available_memory_warns(blakeley, monkeypatch):
    """Forcing kernel='exact' on 10,000-30,000 cells could exhaust the machine without a word."""
    import sclstm.estimator as estimator

    monkeypatch.setattr(estimator, "available_memory_bytes", lambda: 1000)
    with pytest.warns(UserWarning, match=r"the exact kernel needs about 0.2 GiB, more than the 0.0 GiB this machine "
                                         r"has available now; the fit goes on, and the system may stop it; "
                                         r"kernel='landmark' bounds it\.$"):
        ScLSTM(n_clusters=2, n_steps=2, kernel="exact").fit(small_counts(blakeley))


def test_the_landmark_path_warns_too_and_no_warning_advises_what_was_asked(blakeley, monkeypatch):
    """Before (audit helper-48): the landmark path never compared its estimate with the free
    memory (36.8 GiB said for sample_size=40,000, no warning), and kernel='auto' was told that
    "kernel='landmark' (or 'auto') bounds it"."""
    import sclstm.estimator as estimator

    monkeypatch.setattr(estimator, "available_memory_bytes", lambda: 1000)
    X = small_counts(blakeley)
    with pytest.warns(UserWarning, match=r"the landmark kernel needs about .* GiB, more than the 0.0 GiB .* a smaller "
                                         r"sample_size lowers it\.$"):
        ScLSTM(kernel="landmark", n_clusters=2, n_steps=2)._choose_kernel(X)
    with pytest.warns(UserWarning) as said:
        ScLSTM(kernel="auto", n_clusters=2, n_steps=2)._choose_kernel(X)
    assert "'auto'" not in str(said[0].message)


def test_the_memory_estimate_follows_the_measurements_at_small_sizes_and_many_genes():
    """Measured beyond the input (audit helper-48, simulated, one thread): 0.22, 0.53 and 0.89 GiB
    at 500, 1,000 and 1,400 cells, where 1.2 GiB was said at any size; 1.71 GiB for 3,000 cells
    of 19,625 genes with preprocess="paper", where 1.2 was said (its genes were not counted).
    From 1,415 cells at 2,000 genes the formula is the one fitted before, unchanged."""
    from sclstm.estimator import exact_memory_bytes

    gib = lambda b: b / 2**30  # noqa: E731
    for n, measured in ((500, 0.22), (1000, 0.53), (1400, 0.89)):
        assert measured <= gib(exact_memory_bytes(n)) <= 1.6 * measured
    assert 1.71 <= gib(exact_memory_bytes(3000, 19625)) <= 1.6 * 1.71
    for n in (1415, 2000, 5000, 10000, 30000):
        assert exact_memory_bytes(n) == pytest.approx(max(1.2 * 2**30, 30 * n * n + 0.2 * 2**30), abs=2)
    # the fit's own choice counts the genes "paper" reads (all) and the default reads (2,000 at most)
    import scipy.sparse as sp

    X = sp.random(100, 5000, density=0.1, format="csr", random_state=0) * 10
    for kernel, rows in (("exact", 100), ("landmark", 100)):
        _, _, paper = ScLSTM(kernel=kernel, preprocess="paper")._choose_kernel(X)
        _, _, scaled = ScLSTM(kernel=kernel)._choose_kernel(X)
        assert paper - scaled >= 16 * rows * 3000


# ---- found by the code review of 2026-12-07; each failed (or passed silently) before ----

def test_a_failed_refit_leaves_the_fitted_estimator_as_it_was(blakeley):
    """Before: fit() set the new data's gene names before failing, and transform() of the first
    data then gave other embeddings (max |Δ| 0.69) without a word."""
    import pandas as pd

    df = pd.DataFrame(small_counts(blakeley), index=blakeley.obs_names, columns=blakeley.var_names)
    est = ScLSTM(n_clusters=3, **FAST).fit(df)
    before, genes = est.transform(df), est.gene_names_.copy()
    with pytest.raises(InputError, match="n_clusters"):
        est.set_params(n_clusters=1000).fit(df.iloc[:, ::-1])
    np.testing.assert_array_equal(est.gene_names_, genes)
    np.testing.assert_array_equal(est.transform(df), before)
    assert est.n_clusters == 1000  # the parameter asked for stays: only the fitted state is restored


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_counts_are_refused(blakeley, dtype):
    """Before: accepted, and the imaginary part dropped."""
    X = small_counts(blakeley).astype(dtype)
    with pytest.raises(InputError, match="must be numeric"):
        ScLSTM(**FAST).fit(X)
    with pytest.raises(InputError, match="must be numeric"):
        ScLSTM(**FAST).fit(sp.csr_matrix(X))


def test_bad_preprocess_is_refused_before_the_counts_are_read():
    with pytest.raises(InputError, match="preprocess must be one of"):
        ScLSTM(preprocess="log").fit(None)  # before: "no expression matrix was given" came first


def test_transform_drop_empty_must_be_a_switch(blakeley):
    est = ScLSTM(n_clusters=3, **FAST).fit(small_counts(blakeley))
    with pytest.raises(InputError, match="drop_empty must be True, False or None"):
        est.transform(small_counts(blakeley), drop_empty="no")  # before: acted as True


def test_load_says_what_is_wrong_with_the_file(tmp_path):
    import torch
    from sclstm.estimator import MODEL_FORMAT

    with pytest.raises(InputError, match="the model file's name"):
        ScLSTM.load(None)
    torch.save({"format": MODEL_FORMAT}, tmp_path / "cut.pt")
    with pytest.raises(InputError, match="incomplete sclstm model: it lacks 'params'"):
        ScLSTM.load(tmp_path / "cut.pt")


def test_a_model_saved_on_a_gpu_loads_on_a_cpu_machine(blakeley, tmp_path, monkeypatch):
    """Before: device='cuda' came back with the model, and every transform was refused."""
    import torch

    est = ScLSTM(n_clusters=3, **FAST).fit(small_counts(blakeley))
    est.device = "cuda"  # as a model trained on a GPU is saved
    est.save(tmp_path / "gpu.pt")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    back = ScLSTM.load(tmp_path / "gpu.pt")
    assert back.device == "auto"
    np.testing.assert_allclose(back.transform(small_counts(blakeley)), est.embedding_, atol=1e-5)


def test_a_model_saved_on_a_second_gpu_loads_where_there_is_one(blakeley, tmp_path, monkeypatch):
    """Before: only a machine with no GPU at all dropped the saved device, so a model fitted on
    "cuda:1" refused every transform on a one-GPU machine (and `sclstm apply` has no --device).
    A device that exists here is kept."""
    import torch

    est = ScLSTM(n_clusters=3, **FAST).fit(small_counts(blakeley))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for saved, loaded in [("cuda:1", "auto"), ("cuda:0", "cuda:0"), ("cuda", "cuda"), ("cpu", "cpu")]:
        est.device = saved
        est.save(tmp_path / "m.pt")
        assert ScLSTM.load(tmp_path / "m.pt").device == loaded


def test_layer_and_labels_key_must_be_names(blakeley):
    with pytest.raises(InputError, match="layer must be the name of one layer"):
        sclstm.tl.sclstm(blakeley.copy(), layer=["counts"], **FAST)
    with pytest.raises(InputError, match="labels_key must be the name of one obs column"):
        sclstm.tl.sclstm(blakeley.copy(), labels_key=["cell_type"], **FAST)


def test_what_is_not_a_matrix_yet_says_how_to_make_one(biase, tmp_path):
    """A file name, an HDF5 group (an .h5ad's root or its sparse X) and a Dask array of unknown
    length. Before: "must be numeric, got dtype <U21", "got no dimension(s)", and a ValueError
    from int(nan)."""
    import h5py

    path = tmp_path / "b.h5ad"
    biase.write_h5ad(path)
    with pytest.raises(InputError, match=r"got a file name .*read_h5ad\(path, backed='r'\)"):
        ScLSTM(**FAST).fit(str(path))
    with h5py.File(path, "r") as f:
        for group in (f, f["X"]) if isinstance(f["X"], h5py.Group) else (f,):
            with pytest.raises(InputError, match="got an HDF5 group, not a matrix.*read_elem_lazy"):
                ScLSTM(**FAST).fit(group)
    da = pytest.importorskip("dask.array")
    X = da.from_array(small_counts(biase), chunks=(10, -1))
    with pytest.raises(InputError, match=r"number of cells is unknown.*compute_chunk_sizes\(\)"):
        ScLSTM(**FAST).fit(X[X.sum(axis=1) > 0])


def test_missing_labels_written_as_text_are_missing(blakeley):
    """pandas' astype(str) turns NaN into "nan" (R's as.character into NA, CSVs into "NA").
    Before: the "nan" cells were a cell type of their own, trained on and counted in k (audit
    helper-41: 5 classes for Biase's 4)."""
    labels = blakeley.obs["cell_type"].astype(object).to_numpy()
    labels[::2] = np.nan
    texts = pd.Series(labels).astype(str).to_numpy()
    texts[1] = " NA "
    with pytest.warns(UserWarning, match=r"labels are the text 'NA' or 'nan', taken as missing"):
        est = ScLSTM(mode="labelled", **FAST).fit(small_counts(blakeley), texts)
    assert list(est.classes_) == sorted(set(blakeley.obs["cell_type"]))
    assert est.labelled_mask_.sum() == (~pd.isna(labels)).sum() - 1
    with pytest.raises(InputError, match=r"truth labels contain \d+ missing value.*a text such as 'nan'"):
        sclstm.metrics.score(texts, est.labels_)


def test_a_model_file_from_another_version_or_damaged_is_named(blakeley, tmp_path):
    """Before: ScLSTM's TypeError for a parameter this version lacks, json's JSONDecodeError,
    torch's load_state_dict RuntimeError (and the CLI printed their tracebacks)."""
    import json

    import torch

    est = ScLSTM(n_clusters=3, **FAST).fit(small_counts(blakeley))
    est.save(tmp_path / "m.pt")
    good = torch.load(tmp_path / "m.pt", weights_only=True)
    newer = dict(good, params=json.dumps({**json.loads(good["params"]), "bogus": 1}))
    broken = dict(good, summary="{not json")
    other = dict(good, model_state={k: v[..., :1] for k, v in good["model_state"].items()})
    for name, state, message in [("newer", newer, r"has parameters this sclstm .* does not know \(bogus\): it was "
                                                  r"written by another sclstm version"),
                                 ("broken", broken, "is damaged or was written by another sclstm version"),
                                 ("other", other, "is damaged or was written by another sclstm version")]:
        torch.save(state, tmp_path / f"{name}.pt")
        with pytest.raises(InputError, match=message):
            ScLSTM.load(tmp_path / f"{name}.pt")


def test_a_model_file_that_contradicts_itself_is_refused_at_load(blakeley, tmp_path):
    """Files from someone else, consistent enough to pass the checksums (audit helper-60). Before:
    a hidden_size of 8000 in a 28 KB file took 1.3 GB before refusal; NaN weights loaded and
    apply called every cell empty; 10 labels for 60 cells loaded; out-of-range gene indices, a
    depth target "x" and a preprocessing entry named "transform" failed later with tracebacks."""
    import json

    import torch

    est = ScLSTM(n_clusters=3, **FAST).fit(small_counts(blakeley))
    est.save(tmp_path / "m.pt")
    good = torch.load(tmp_path / "m.pt", weights_only=True)
    weights = good["model_state"]
    pre = good["preprocessor"]
    cases = {
        "big": (dict(good, params=json.dumps({**json.loads(good["params"]), "hidden_size": 8000})),
                r"its weights encoder.lstm.weight_ih_l0 are \(\d+, \d+\), not the \(32000, \d+\)"),
        "nan": (dict(good, model_state={k: v * float("nan") for k, v in weights.items()}),
                "its weights hold NaN or infinite values"),
        "labels": (dict(good, labels=good["labels"][:10]), r"it has \d+ embedding rows for its 10 cells"),
        "genes": (dict(good, preprocessor=dict(pre, genes_used_=pre["genes_used_"] + 10**6)),
                  r"its genes used are numbered \d+–\d+, outside its \d+ genes"),
        "target": (dict(good, preprocessor=dict(pre, target_sum_="x")), "its depth target 'x' is not a positive number"),
        "entry": (dict(good, preprocessor=dict(pre, transform=1)),
                  "its preprocessing has entries sclstm does not write: transform"),
        "steps": (dict(good, sequencer=dict(good["sequencer"], n_steps=0)), "its sequence length 0 does not hold"),
    }
    for name, (state, message) in cases.items():
        torch.save(state, tmp_path / f"{name}.pt")
        with pytest.raises(InputError, match=rf"{name}.pt is damaged or was written by another sclstm version: {message}"):
            ScLSTM.load(tmp_path / f"{name}.pt")
    assert ScLSTM.load(tmp_path / "m.pt").n_cells_ == est.n_cells_  # the file they came from loads


def test_a_model_file_that_is_empty_cut_short_or_holds_code_is_named(blakeley, tmp_path):
    """Before: "(EOFError)", "(OSError)", "(UnpicklingError)": the type of torch's error only."""
    import pickle

    est = ScLSTM(n_clusters=3, **FAST).fit(small_counts(blakeley))
    est.save(tmp_path / "m.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "m.pt").read_bytes()[:5000])
    (tmp_path / "text.pt").write_text("hello")

    class RunsCode:  # unpickled, it would call os.getcwd (harmless here; any callable in a real attack)
        def __reduce__(self):
            import os
            return (os.getcwd, ())

    (tmp_path / "code.pt").write_bytes(pickle.dumps({"format": "sclstm-model-1", "x": RunsCode()}, protocol=2))
    whole = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(whole[:len(whole) // 2])  # torch's RuntimeError "central directory"
    for name, message in [("empty", r"empty.pt is empty \(0 bytes\)"),
                          ("cut", r"cut.pt as an sclstm model \(\w+\): it is cut short or damaged"),
                          ("half", r"half.pt as an sclstm model \(\w+\): it is cut short or damaged"),
                          ("text", r"text.pt as an sclstm model \(\w+\): it is not a file that ScLSTM.save writes"),
                          ("code", r"code.pt holds objects other than tensors and plain values, which sclstm does "
                                   r"not load \(numpy values, as an sclstm before 2026-12-07 could save, or code")]:
        with pytest.raises(InputError, match=message):
            ScLSTM.load(tmp_path / f"{name}.pt")


def test_genes_numbered_by_anndata_are_matched_by_position(blakeley):
    """AnnData(X) names genes "0", "1", ...; those names say nothing. Before: a model fitted with
    gene names refused the same genes in the same order as "1500 of the 1500 genes ... are not
    in the data", and a model fitted on AnnData(X) kept "0", "1", ... as names."""
    X = small_counts(blakeley)
    named = ad.AnnData(X, var=pd.DataFrame(index=blakeley.var_names.astype(str)))
    est = ScLSTM(n_clusters=3, **FAST).fit(named)
    with pytest.warns(UserWarning, match="the data has no gene names, so genes are matched by position") as seen:
        emb = est.transform(ad.AnnData(X))
    assert seen[0].filename == __file__  # the user's line, not scikit-learn's wrapper of transform
    np.testing.assert_allclose(emb, est.embedding_, atol=1e-5)
    assert ScLSTM(n_clusters=3, **FAST).fit(ad.AnnData(X)).gene_names_ is None


def test_a_gene_filter_that_leaves_no_cell_says_to_lower_min_cells(blakeley):
    """Before: "pass drop_empty=True", which then said "fewer than 3 cells are left"."""
    X = small_counts(blakeley)
    for drop_empty in (False, True):
        with pytest.raises(InputError, match=rf"none of the {len(X)} cells has counts in the genes expressed in at "
                                             r"least 500 cells .*; lower min_cells"):
            ScLSTM(min_cells=500, drop_empty=drop_empty, **FAST).fit(X)


def test_masked_arrays_numpy_k_and_lists_of_rows(blakeley):
    """Before: a masked array's mask was ignored (the hidden values clustered), np.float32(3) was
    refused as k while 3.0 was taken, and a list of rows was planned as "0 cells"."""
    X = small_counts(blakeley)
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    masked.mask[:, :10] = True
    with pytest.raises(InputError, match=rf"masked array with {10 * len(X)} masked value\(s\).*X.filled\(0\)"):
        ScLSTM(**FAST).fit(masked)
    assert ScLSTM(n_clusters=np.float32(3), **FAST).fit(X).n_clusters_ == 3
    est = ScLSTM(n_clusters=3, **FAST).fit(X.tolist())
    assert est.summary_["kernel_choice"].endswith(f"; {len(X)} cells)")


@pytest.mark.parametrize("preprocess", ["scaled", "normalised"])
def test_cells_that_are_multiples_of_one_profile_have_nothing_to_cluster(blakeley, preprocess):
    """Identical after depth normalisation, up to rounding. Before: the rounding noise (sd 6e-15)
    was scaled up to ±2.2 and clustered into k = 2 of sizes 32 and 8 (audit helper-42)."""
    profile = small_counts(blakeley)[0] + 1
    X = np.outer(np.arange(1, 41), profile)
    with pytest.raises(InputError, match="no gene varies between the cells after preprocessing"):
        ScLSTM(preprocess=preprocess, **FAST).fit(X)


def test_more_sequence_steps_than_cells_read_one_cell_a_step(blakeley):
    """Before: 100 steps over 30 kernel columns padded 70 all-zero steps, which washed out the
    LSTM's state (embedding sd 7e-8, against 0.37 at 16 steps; audit helper-42)."""
    est = ScLSTM(n_clusters=3, sequence_length=100, **FAST).fit(small_counts(blakeley))
    assert est.sequencer_.n_steps == blakeley.n_obs
    assert est.embedding_.std(axis=0).max() > 1e-3


def test_landmark_memory_estimate_counts_only_the_cells_there_are():
    """Before: 0.27 GiB for 40 cells, from 1,024 landmarks and 500 micro-clusters of 8 cells."""
    from sclstm import landmark as lm
    from sclstm.chunks import DEFAULT_CHUNK_CELLS

    small = lm.memory_estimate(40, 2000, 1024, 5000, lm.DEFAULT_MICRO, DEFAULT_CHUNK_CELLS)
    assert small < 16 * 2**20
    assert lm.memory_estimate(100_000, 2000, 1024, 5000, lm.DEFAULT_MICRO, DEFAULT_CHUNK_CELLS) > 2**30


def test_loading_a_model_leaves_the_callers_torch_generator_as_it_was(blakeley, tmp_path):
    """Before: the network built to take the saved weights drew its first weights from torch's
    global generator, so `ScLSTM.load` (and `sclstm apply`) moved the caller's random numbers."""
    import torch

    ScLSTM(n_clusters=3, **FAST).fit(small_counts(blakeley)).save(tmp_path / "m.pt")
    torch.manual_seed(7)
    state = torch.get_rng_state().clone()
    ScLSTM.load(tmp_path / "m.pt")
    assert torch.equal(torch.get_rng_state(), state)


def test_notes_are_printed_once_when_the_application_configures_logging(tmp_path):
    """Before: after logging.basicConfig() every note came twice, from sclstm's own handler and
    from the application's (audit helper-44); without it, sclstm's handler prints it."""
    import subprocess
    import sys

    fit = ("import numpy as np, sclstm; rng = np.random.default_rng(0); "
           "sclstm.ScLSTM(n_clusters=2, n_steps=5).fit(rng.poisson(2, (30, 50)))")
    for configure, prefix in (("import logging; logging.basicConfig(format='APP %(message)s'); ", "APP "), ("", "")):
        err = subprocess.run([sys.executable, "-c", configure + fit], capture_output=True, text=True, check=True).stderr
        notes = [line for line in err.splitlines() if "kernel for 30 cells" in line]
        assert len(notes) == 1 and notes[0].startswith(prefix + "sclstm: exact kernel"), err
