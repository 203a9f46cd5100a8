"""R data files ↔ AnnData (sclstm.io.read_rds / read_rdata / write_rds) on real data.

The R objects are made by R itself (tests/r_fixtures/make_fixtures.R) from exact binaries of
the datasets in ../shared/data; what write_rds writes is read back by a fresh R
(tests/r_fixtures/check_written.R). Values, names, order, sparsity and dtypes are compared
exactly. Needs R (with SingleCellExperiment, SeuratObject, jsonlite) and rpy2; skipped with
the reason when R or rpy2 is absent.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import dataset_path, load
from sclstm.io import read_input
from sclstm.validation import InputError

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "r_fixtures"
NA_INT = np.iinfo(np.int32).min


def _r_available():
    if shutil.which("Rscript") is None:
        return "R (Rscript) is not installed"
    from sclstm.io._r import _R

    try:
        _R.get()  # the package's own start of R
    except InputError as exc:  # rpy2 missing, or R not loadable
        return f"rpy2 is not usable ({exc})"
    return None


_WHY = _r_available()
needs_r = pytest.mark.skipif(_WHY is not None, reason=f"{_WHY}; install with make venv-r")


def _rscript(*args, timeout=300):
    res = subprocess.run(["Rscript", *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"Rscript {args[0]} failed:\n{res.stdout}\n{res.stderr}"
    return res


def _rscript_expr(expr, *args):
    return _rscript("-e", expr, *args)


def _dump_csr(folder, name, a, xlog=True):
    X = sp.csr_matrix(a.X)
    X.sort_indices()
    X.indices.astype(np.int32).tofile(folder / f"{name}_i.bin")
    X.indptr.astype(np.int32).tofile(folder / f"{name}_p.bin")
    X.data.astype(np.float64).tofile(folder / f"{name}_x.bin")
    if xlog:
        np.log1p(X.data.astype(np.float64)).tofile(folder / f"{name}_logx.bin")
    (folder / f"{name}_cells.txt").write_text("\n".join(a.obs_names) + "\n", encoding="utf-8")
    (folder / f"{name}_genes.txt").write_text("\n".join(a.var_names) + "\n", encoding="utf-8")
    return X


def _codes(folder, name, cats: pd.Categorical, na_at=()):
    """Write a factor as 0-based codes (-1 = NA) and levels (reversed, so order matters)."""
    levels = list(cats.categories)[::-1]
    codes = pd.Categorical(cats, categories=levels).codes.astype(np.int32)
    for j in na_at:
        codes[j] = -1
    codes.tofile(folder / f"{name}_celltype_codes.bin")
    (folder / f"{name}_celltype_levels.txt").write_text("\n".join(levels) + "\n", encoding="utf-8")
    return pd.Categorical.from_codes(codes, categories=levels)


@pytest.fixture(scope="session")
def fx(tmp_path_factory):
    """Inputs written from Python, R objects made by Rscript, and what the test expects."""
    if _WHY is not None:
        pytest.skip(_WHY)
    src = tmp_path_factory.mktemp("r_in")
    out = tmp_path_factory.mktemp("r_out")
    rng = np.random.default_rng(0)
    e = {}
    # biase -> SingleCellExperiment
    b = load("biase")
    n = b.n_obs
    e["biase"] = b
    e["biase_X"] = _dump_csr(src, "biase", b)
    e["biase_celltype"] = _codes(src, "biase", b.obs["cell_type"].values, na_at=(3,))
    stage = b.obs["cell_type"].astype(str).tolist()
    (src / "biase_stage.txt").write_text("\n".join(stage) + "\n", encoding="utf-8")
    e["biase_stage_levels"] = list(dict.fromkeys(stage))[::-1]
    label = b.obs["label_icm_te"].astype(str).tolist()
    label[5] = "<NA>"
    (src / "biase_label.txt").write_text("\n".join(label) + "\n", encoding="utf-8")
    e["biase_label"] = label
    nint = np.arange(n, dtype=np.int32) * 1000 - 7
    nint[1] = NA_INT
    nint.tofile(src / "biase_nint.bin")
    e["biase_nint"] = nint
    flag = (np.arange(n) % 2).astype(np.int32)
    flag[0] = NA_INT
    flag.tofile(src / "biase_flag.bin")
    e["biase_flag"] = flag
    score = rng.normal(size=n)
    score[4] = np.nan
    score.tofile(src / "biase_score.bin")
    e["biase_score"] = score
    glen = rng.integers(100, 10**6, size=b.n_vars).astype(np.int32)
    glen.tofile(src / "biase_genelen.bin")
    e["biase_genelen"] = glen
    for key, k in (("pca", 3), ("umap", 2)):
        m = rng.normal(size=(n, k))
        m.ravel(order="F").tofile(src / f"biase_{key}.bin")
        e[f"biase_{key}"] = m
    # pollen -> Seurat v4
    p = load("pollen")
    e["pollen"] = p
    e["pollen_X"] = _dump_csr(src, "pollen", p)
    e["pollen_celltype"] = _codes(src, "pollen", p.obs["cell_type"].values)
    hvg = np.sort(rng.choice(p.n_vars, size=50, replace=False)).astype(np.int32)
    hvg.tofile(src / "pollen_hvg.bin")
    e["pollen_hvg"] = hvg
    scale = rng.normal(size=(50, p.n_obs))  # genes x cells, as Seurat keeps it
    scale.ravel(order="F").tofile(src / "pollen_scale.bin")
    e["pollen_scale"] = scale
    pca = rng.normal(size=(p.n_obs, 5))
    pca.ravel(order="F").tofile(src / "pollen_pca.bin")
    e["pollen_pca"] = pca
    # blakeley -> bare matrices
    bl = load("blakeley")
    e["blakeley"] = bl
    e["blakeley_X"] = _dump_csr(src, "blakeley", bl, xlog=False)
    t0 = time.perf_counter()
    _rscript(FIXTURES / "make_fixtures.R", src, out)
    print(f"\nR fixtures made in {time.perf_counter() - t0:.1f} s")
    e["out"] = out
    return e


def _same_csr(A, B):
    A, B = sp.csr_matrix(A), sp.csr_matrix(B)
    assert A.shape == B.shape
    np.testing.assert_array_equal(A.indptr, B.indptr)
    np.testing.assert_array_equal(A.indices, B.indices)
    np.testing.assert_array_equal(A.data, B.data)


# ---------------------------------------------------------------------------------------
# reading what R made
# ---------------------------------------------------------------------------------------

@needs_r
def test_sce_reads_exactly(fx):
    from sclstm.io import read_rds

    a = read_rds(fx["out"] / "biase_sce.rds")
    b = fx["biase"]
    assert a.shape == b.shape
    assert list(a.obs_names) == list(b.obs_names) and list(a.var_names) == list(b.var_names)
    # counts: sparse, float64 (R's double), the same structure and values as the h5ad's float32
    assert isinstance(a.X, sp.csr_matrix) and a.X.dtype == np.float64
    _same_csr(a.X, fx["biase_X"].astype(np.float64))
    assert list(a.layers.keys()) == ["logcounts"]
    L = a.layers["logcounts"]
    assert sp.issparse(L) and L.dtype == np.float64
    np.testing.assert_array_equal(L.data, np.log1p(fx["biase_X"].data.astype(np.float64)))
    # colData: types, NA and level order kept
    assert list(a.obs.columns) == ["cell_type", "stage", "label", "n_int", "flag", "score"]
    ct = a.obs["cell_type"]
    assert isinstance(ct.dtype, pd.CategoricalDtype) and not ct.cat.ordered
    assert list(ct.cat.categories) == list(fx["biase_celltype"].categories)
    np.testing.assert_array_equal(ct.cat.codes.to_numpy(), fx["biase_celltype"].codes)
    assert ct.isna().to_numpy().nonzero()[0].tolist() == [3]
    st = a.obs["stage"]
    assert st.cat.ordered and list(st.cat.categories) == fx["biase_stage_levels"]
    assert a.obs["label"].dtype == object
    want = [np.nan if v == "<NA>" else v for v in fx["biase_label"]]
    assert a.obs["label"].isna().tolist() == [v is np.nan for v in want]
    assert [v for v in a.obs["label"] if isinstance(v, str)] == [v for v in want if isinstance(v, str)]
    assert a.obs["n_int"].dtype == "Int32"
    nint = fx["biase_nint"]
    assert a.obs["n_int"].isna().tolist() == (nint == NA_INT).tolist()
    np.testing.assert_array_equal(a.obs["n_int"].dropna().to_numpy(dtype=np.int32), nint[nint != NA_INT])
    assert a.obs["flag"].dtype == "boolean"
    flag = fx["biase_flag"]
    assert a.obs["flag"].isna().tolist() == (flag == NA_INT).tolist()
    assert a.obs["flag"].dropna().tolist() == [bool(v) for v in flag[flag != NA_INT]]
    sc = a.obs["score"].to_numpy()
    want = fx["biase_score"].copy()
    want[1] = np.nan  # R set NA_real_ there (cd$score[2], 1-based)
    assert sc.dtype == np.float64
    np.testing.assert_array_equal(sc, want)  # NaN at the same places, other values bitwise equal
    # rowData
    assert a.var["gene_len"].dtype == np.int32
    np.testing.assert_array_equal(a.var["gene_len"].to_numpy(), fx["biase_genelen"])
    assert a.var["symbol"].tolist() == [g.upper() for g in b.var_names]
    # reducedDims → obsm, metadata → uns
    assert set(a.obsm.keys()) == {"X_pca", "X_umap"}
    np.testing.assert_array_equal(a.obsm["X_pca"], fx["biase_pca"])
    np.testing.assert_array_equal(a.obsm["X_umap"], fx["biase_umap"])
    assert a.obsm["X_pca"].dtype == np.float64 and a.obsm["X_pca"].flags.c_contiguous
    s = a.uns["sclstm"]
    assert s["n_clusters"] == 4 and s["seed"] == 7 and s["method"] == "test"
    np.testing.assert_array_equal(s["curve"], [0.5, 0.25, 0.125])
    # named vectors (c(name = value)) keep their names: a versions record stays a record
    assert s["versions"] == {"sclstm": "0.1.0", "torch": "2.13.0"}
    assert s["guard"] == {"kernel": 0.5, "learned": 0.75}
    assert a.uns["note"] == "made by make_fixtures.R"


@needs_r
def test_assay_choice_and_summarized_experiment(fx):
    from sclstm.io import read_rds

    a = read_rds(fx["out"] / "biase_sce.rds", assay="logcounts")
    assert list(a.layers.keys()) == ["counts"]
    np.testing.assert_array_equal(a.X.data, np.log1p(fx["biase_X"].data.astype(np.float64)))
    _same_csr(a.layers["counts"], fx["biase_X"].astype(np.float64))
    with pytest.raises(InputError, match=r"no assay 'spliced' \(assays: counts, logcounts\)"):
        read_rds(fx["out"] / "biase_sce.rds", assay="spliced")
    with pytest.warns(UserWarning, match="no 'counts' assay; X holds the assay 'logcounts'"):
        se = read_rds(fx["out"] / "biase_se.rds")  # no counts assay: the first one, said aloud
    assert se.shape == fx["biase"].shape and len(se.obsm) == 0
    np.testing.assert_array_equal(se.X.data, np.log1p(fx["biase_X"].data.astype(np.float64)))
    assert list(se.obs["cell_type"].cat.categories) == list(fx["biase_celltype"].categories)


@needs_r
def test_seurat_reads_exactly(fx):
    from sclstm.io import read_rds

    a = read_rds(fx["out"] / "pollen_seurat.rds")
    p = fx["pollen"]
    assert a.shape == p.shape
    assert list(a.obs_names) == list(p.obs_names)
    # Seurat itself replaced '_' by '-' in feature names when the object was made
    assert list(a.var_names) == [g.replace("_", "-") for g in p.var_names]
    assert isinstance(a.X, sp.csr_matrix) and a.X.dtype == np.float64
    _same_csr(a.X, fx["pollen_X"].astype(np.float64))
    assert list(a.layers.keys()) == ["data"]
    np.testing.assert_array_equal(a.layers["data"].data, np.log1p(fx["pollen_X"].data.astype(np.float64)))
    # meta.data: Seurat's own columns and ours; the identities equal cell_type, so no 'ident' column
    assert list(a.obs.columns) == ["orig.ident", "nCount_RNA", "nFeature_RNA", "cell_type"]
    ct = a.obs["cell_type"]
    assert list(ct.cat.categories) == list(fx["pollen_celltype"].categories)
    np.testing.assert_array_equal(ct.cat.codes.to_numpy(), fx["pollen_celltype"].codes)
    np.testing.assert_allclose(a.obs["nCount_RNA"].to_numpy(), np.asarray(p.X.sum(axis=1), dtype=np.float64).ravel(),
                               rtol=1e-6)
    np.testing.assert_array_equal(a.obs["nFeature_RNA"].to_numpy(), np.diff(fx["pollen_X"].indptr))
    assert a.obs["nFeature_RNA"].dtype == np.int32
    # variable features, pca, partial scale.data, misc
    assert a.var["highly_variable"].dtype == bool
    assert np.flatnonzero(a.var["highly_variable"].to_numpy()).tolist() == fx["pollen_hvg"].tolist()
    np.testing.assert_array_equal(a.obsm["X_pca"], fx["pollen_pca"])
    sd = a.obsm["scale.data"]
    assert isinstance(sd, pd.DataFrame) and list(sd.index) == list(a.obs_names)
    assert list(sd.columns) == [a.var_names[j] for j in fx["pollen_hvg"]]
    np.testing.assert_array_equal(sd.to_numpy(), fx["pollen_scale"].T)
    assert a.uns["sclstm"] == {"n_clusters": 11}


@needs_r
def test_seurat_identities_keep_their_level_order(fx):
    from sclstm.io import read_rds

    a = read_rds(fx["out"] / "pollen_seurat_idents.rds")
    ident = a.obs["ident"]
    assert list(ident.cat.categories) == ["t2", "t0", "t1"]  # Idents' order, not sorted
    codes = fx["pollen_celltype"].codes + 1  # R's as.integer() of the factor
    assert ident.astype(str).tolist() == [f"t{c % 3}" for c in codes]


@needs_r
def test_variable_features_keep_their_order(fx, tmp_path):
    """VariableFeatures' order (most variable first) is read as scanpy's highly_variable_rank
    and written back in that order; not in the genes' order."""
    from sclstm.io import read_rds, write_rds

    a = read_rds(fx["out"] / "pollen_seurat_idents.rds")
    hvg = fx["pollen_hvg"][::-1]  # the fixture set them reversed
    rank = a.var["highly_variable_rank"].to_numpy()
    np.testing.assert_array_equal(rank[hvg], np.arange(len(hvg)))
    assert np.isnan(np.delete(rank, hvg)).all()
    write_rds(a, tmp_path / "again.rds", kind="Seurat")
    res = subprocess.run(["Rscript", "-e", f"cat(SeuratObject::VariableFeatures(readRDS('{tmp_path / 'again.rds'}')), "
                          "sep = '\\n')"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [a.var_names[j] for j in hvg]


@needs_r
def test_seurat_v5_on_seuratobject4_is_a_clear_error(fx):
    from sclstm.io import read_rds

    with pytest.raises(InputError) as err:
        read_rds(fx["out"] / "pollen_seurat_v5.rds")
    msg = str(err.value)
    assert "\n" not in msg
    assert "Seurat v5 Assay5" in msg and "SeuratObject 5.0.1" in msg and "SeuratObject >= 5" in msg
    assert "as(obj[['RNA']], 'Assay')" in msg


@needs_r
def test_bare_matrices_and_data_frame(fx):
    from sclstm.io import read_rds

    out, X, bl = fx["out"], fx["blakeley_X"].astype(np.float64), fx["blakeley"]
    a = read_rds(out / "blakeley_dgc.rds")
    assert isinstance(a.X, sp.csr_matrix) and a.X.dtype == np.float64
    _same_csr(a.X, X)
    assert list(a.obs_names) == list(bl.obs_names) and list(a.var_names) == list(bl.var_names)
    assert a.obs.shape[1] == 0 and a.var.shape[1] == 0
    t = read_rds(out / "blakeley_dgc_cells_by_genes.rds", genes_by_cells=False)
    _same_csr(t.X, X)
    assert list(t.obs_names) == list(bl.obs_names)
    g = read_rds(out / "blakeley_dgt.rds")  # a triplet matrix: converted to CSR, still sparse
    assert sp.issparse(g.X)
    _same_csr(g.X, X)
    d = read_rds(out / "blakeley_dense.rds")
    assert isinstance(d.X, np.ndarray) and d.X.dtype == np.float64 and d.X.flags.c_contiguous
    np.testing.assert_array_equal(d.X, X.toarray())
    i = read_rds(out / "blakeley_int.rds")
    assert i.X.dtype == np.int32 and i.shape == (bl.n_obs, 200)
    np.testing.assert_array_equal(i.X, X[:, :200].toarray().astype(np.int32))
    f = read_rds(out / "blakeley_df.rds")
    assert f.shape == (bl.n_obs, 300) and f.X.dtype == np.float64
    np.testing.assert_array_equal(f.X, X[:, :300].toarray())
    assert list(f.var_names) == list(bl.var_names[:300])


@needs_r
def test_rdata_object_choice(fx):
    from sclstm.io import read_rdata, read_rds

    out = fx["out"]
    with pytest.raises(InputError) as err:
        read_rdata(out / "two.RData")
    msg = str(err.value)
    assert "holds 2 objects" in msg and "sce (SingleCellExperiment 17917 × 56)" in msg
    assert "bx (dgCMatrix 23794 × 30)" in msg and "note" not in msg.split("e.g.")[0]
    a = read_rdata(out / "two.RData", name="bx")
    _same_csr(a.X, fx["blakeley_X"].astype(np.float64))
    s = read_rdata(out / "two.RData", name="sce")
    assert s.shape == fx["biase"].shape and "X_pca" in s.obsm
    one = read_rdata(out / "one.RData")  # bx is the only count-like object (annot has text columns)
    assert one.shape == fx["blakeley"].shape
    with pytest.raises(InputError, match=r"no object 'counts' in .*two\.RData; it holds: sce .*, bx .*, note \(character\)"):
        read_rdata(out / "two.RData", name="counts")
    with pytest.raises(InputError, match=r"objects of class 'character' are not supported"):
        read_rdata(out / "two.RData", name="note")
    with pytest.raises(InputError, match=r"holds no object sclstm can read \(annot \(data.frame 30 × 2\), note"):
        read_rdata(out / "none.RData")
    with pytest.raises(InputError, match=r"holds 2 objects"):  # read_rds on an .RData reads it as one
        read_rds(out / "two.RData")
    # the lead's dispatch: FILE.RData:name
    via = read_input(f"{out / 'two.RData'}:bx")
    _same_csr(via.X, a.X)


@needs_r
def test_rdata_listing_has_sizes_in_a_fresh_process(fx):
    """In a new R session SingleCellExperiment's dim() method is not loaded until asked for."""
    code = ("import sclstm.io as io\n"
            f"try: io.read_rdata({str(fx['out'] / 'two.RData')!r})\n"
            "except Exception as e: print(e)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "sce (SingleCellExperiment 17917 × 56)" in res.stdout, res.stdout + res.stderr


@needs_r
def test_errors_are_one_line(fx, tmp_path):
    from sclstm.io import read_rds

    out = fx["out"]
    text = tmp_path / "notes.rds"
    text.write_text("hello, this is not R\n")
    h5 = tmp_path / "data.rds"
    shutil.copy(dataset_path("biase"), h5)
    cut = tmp_path / "cut.rds"
    cut.write_bytes((out / "biase_sce.rds").read_bytes()[:5000])
    empty = tmp_path / "empty.rds"
    empty.write_bytes(b"")
    cases = [
        (text, r"is not an R data file"),
        (h5, r"is not an R data file .*HDF5"),
        (empty, r"is not an R data file .*empty"),
        (cut, r"(damaged or truncated|R failed reading.*truncated or damaged)"),
        (out / "list.rds", r"class 'list' are not supported"),
        (out / "lm.rds", r"class 'lm' are not supported"),
        (tmp_path / "missing.rds", r"input file not found"),
    ]
    for path, pattern in cases:
        with pytest.raises(InputError, match=pattern) as err:
            read_rds(path)
        assert "\n" not in str(err.value), str(err.value)
    with pytest.raises(InputError, match=r"not an R data file"):
        read_input(str(text))


# ---------------------------------------------------------------------------------------
# edge cases on small R objects made at test time (tests/r_fixtures/make_edge_cases.R)
# ---------------------------------------------------------------------------------------

def _edge_counts():
    g, c = np.meshgrid(np.arange(1, 7), np.arange(1, 9))  # cells × genes
    return ((g * 7 + c * 3) % 11).astype(np.float64)


@pytest.fixture(scope="session")
def edge(tmp_path_factory):
    if _WHY is not None:
        pytest.skip(_WHY)
    out = tmp_path_factory.mktemp("r_edge")
    _rscript(FIXTURES / "make_edge_cases.R", out)
    return out


@needs_r
def test_na_in_integer_and_logical_matrices_is_nan(edge):
    """R's integer NA is the int32 minimum: it was read as the count -2147483648."""
    from sclstm.io import read_rds

    want = _edge_counts()
    want[2, 1] = np.nan  # m[2, 3] in R: gene 2, cell 3
    with pytest.warns(UserWarning, match=r"has 1 NA values; they are NaN"):
        a = read_rds(edge / "int_na.rds", genes_by_cells=True)
    assert a.X.dtype == np.float64
    np.testing.assert_array_equal(a.X, want)
    with pytest.warns(UserWarning, match=r"assay 'counts' has 1 NA values"):
        s = read_rds(edge / "sce_int_na.rds")
    np.testing.assert_array_equal(s.X, want)
    with pytest.warns(UserWarning, match=r"has 1 NA values"):
        lg = read_rds(edge / "lgl_na.rds", genes_by_cells=True)
    wl = (_edge_counts() > 4).astype(np.float64)
    wl[0, 0] = np.nan
    np.testing.assert_array_equal(lg.X, wl)


@needs_r
def test_bare_matrix_orientation_is_said(edge):
    from sclstm.io import read_rds

    with pytest.warns(UserWarning, match=r"read as genes × cells .*6 cells × 8 genes.*genes_by_cells=False"):
        wrong = read_rds(edge / "df_cells_in_rows.rds")  # rows are cells here: the warning says what was done
    assert wrong.shape == (6, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said by the caller: nothing to warn about
        a = read_rds(edge / "df_cells_in_rows.rds", genes_by_cells=False)
    assert list(a.obs_names) == [f"c{i}" for i in range(1, 9)] and list(a.var_names) == [f"g{i}" for i in range(1, 7)]
    np.testing.assert_array_equal(a.X, _edge_counts())


@needs_r
def test_seurat_meta_data_is_matched_to_cells_by_name(edge):
    """meta.data rows in another order than the cells: each cell keeps its own row."""
    from sclstm.io import read_rds

    a = read_rds(edge / "seurat_meta_reversed.rds")
    assert list(a.obs_names) == [f"c{i}" for i in range(1, 9)]
    assert a.obs["label"].tolist() == [f"L{i}" for i in range(1, 9)]
    np.testing.assert_array_equal(a.obs["nCount_RNA"].to_numpy(), _edge_counts().sum(axis=1))


@needs_r
def test_seurat_own_ident_column_is_kept(edge):
    from sclstm.io import read_rds

    with pytest.warns(UserWarning, match=r"own 'ident' column; the active identities .* obs\['active.ident'\]"):
        a = read_rds(edge / "seurat_ident_column.rds")
    assert a.obs["ident"].astype(str).tolist() == ["mine1", "mine2"] * 4
    assert a.obs["active.ident"].astype(str).tolist() == ["A"] * 4 + ["B"] * 4


@needs_r
def test_x_from_another_assay_is_written_back_under_its_name(edge, tmp_path):
    """Before: X read from 'logcounts' came back as the assay 'counts' (log values under the name
    of counts), and 'logcounts' was gone."""
    from sclstm.io import read_rds, write_rds

    with pytest.warns(UserWarning, match="no 'counts' assay; X holds the assay 'logcounts'"):
        a = read_rds(edge / "sce_logcounts_raw.rds")
    assert list(a.layers) == ["raw"]
    write_rds(a, tmp_path / "back.rds")
    res = _rscript_expr("suppressMessages(library(SingleCellExperiment)); x <- readRDS(commandArgs(TRUE)[1]); "
                        "cat(assayNames(x), names(metadata(x)), sep = ' ')", tmp_path / "back.rds")
    assert res.stdout.split() == ["logcounts", "raw"]  # and no trace of the record in metadata


@needs_r
def test_na_level_reduction_names_and_ident_order(edge):
    """A factor with NA as a level read as missing values (before: a pandas traceback);
    reducedDims PCA and pca both kept (before: one silently lost); Idents equal to a column in
    another level order kept in obs['ident'] with their own order (before: lost)."""
    from sclstm.io import read_rds

    a = read_rds(edge / "sce_na_level_pca_case.rds")
    f = a.obs["with_na"]
    assert list(f.cat.categories) == ["a", "b"] and f.isna().tolist() == [False, True, False, False] * 2
    assert f.astype(str).tolist()[:4] == ["a", "nan", "b", "a"]
    assert a.obsm["X_PCA"].shape == (8, 2) and a.obsm["X_pca"].shape == (8, 3)
    s = read_rds(edge / "seurat_ident_levels.rds")
    assert list(s.obs["cl"].cat.categories) == ["y", "x"]
    assert list(s.obs["ident"].cat.categories) == ["x", "y"]


@needs_r
def test_reductions_whose_names_differ_only_in_case_are_both_written(edge, tmp_path):
    """Read as X_PCA and X_pca, they were written to R as one name, and one was dropped with a
    warning (both to an SCE and to Seurat); now both round-trip."""
    from sclstm.io import read_rds, write_rds

    a = read_rds(edge / "sce_na_level_pca_case.rds")
    for kind in ("SingleCellExperiment", "Seurat"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            write_rds(a, tmp_path / f"{kind}.rds", kind=kind)
        back = read_rds(tmp_path / f"{kind}.rds")
        np.testing.assert_array_equal(back.obsm["X_PCA"], a.obsm["X_PCA"])
        np.testing.assert_array_equal(back.obsm["X_pca"], a.obsm["X_pca"])


@needs_r
def test_cli_reads_r_files_as_told_and_checks_names_before_fitting(edge, tmp_path, capsys):
    """--assay and --cells-in-rows, which the readers' warnings advise, exist on the command
    line; an .RData saved as .rds is read as file.rds:name; names an .rds output cannot hold
    are refused before the fit (before: after it, with Python advice)."""
    from sclstm import cli

    code = cli.main(["cluster", str(edge / "sce_dup_genes.rds"), "--out", str(tmp_path / "o.rds")])
    err = capsys.readouterr().err
    assert code == 2 and "gene (var) names are not unique (g1)" in err and "make.unique()" in err
    assert "Traceback" not in err and "training" not in err
    code = cli.main(["cluster", str(edge / "two_objects_saved_as.rds"), "--out", str(tmp_path / "o.h5ad")])
    err = capsys.readouterr().err
    assert code == 2 and "two_objects_saved_as.rds:x1" in err
    code = cli.main(["cluster", str(edge / "two_objects_saved_as.rds") + ":x2", "--out", str(tmp_path / "o.h5ad"),
                     "--cells-in-rows", "--n-steps", "5", "--quiet", "--n-clusters", "2"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert ad.read_h5ad(tmp_path / "o.h5ad").shape == (6, 8)  # rows of x2 taken as the cells
    code = cli.main(["cluster", str(edge / "seurat_two_assays.rds"), "--out", str(tmp_path / "a.h5ad"),
                     "--assay", "nope"])
    assert code == 2 and "no assay 'nope'" in capsys.readouterr().err
    code = cli.main(["cluster", str(dataset_path("biase")), "--out", str(tmp_path / "b.h5ad"), "--assay", "RNA"])
    assert code == 2 and "--assay and --cells-in-rows are for R files" in capsys.readouterr().err


@needs_r
def test_seurat_other_assays_are_named(edge):
    from sclstm.io import read_rds

    with pytest.warns(UserWarning, match=r"X holds Seurat assay 'ADT'; assays not converted: RNA .*assay='RNA'"):
        adt = read_rds(edge / "seurat_two_assays.rds")
    assert adt.shape == (8, 3)
    np.testing.assert_array_equal(adt.X.toarray(), _edge_counts()[:, :3] * 2)
    with pytest.warns(UserWarning, match=r"assays not converted: ADT"):
        rna = read_rds(edge / "seurat_two_assays.rds", assay="RNA")
    np.testing.assert_array_equal(rna.X.toarray(), _edge_counts())


@needs_r
def test_errors_name_what_to_do(edge, tmp_path, monkeypatch):
    from sclstm.io import read_rds

    listed = (r"class 'list' are not supported \(this one holds 2: first \(SingleCellExperiment\), second "
              r".*saveRDS\(x\[\[\"first\"\]\], path\)")
    with pytest.raises(InputError, match=listed) as err:
        read_rds(edge / "list_of_sce.rds")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"non-numeric columns \('gene'\).*rownames\(df\) <- df\[\['gene'\]\]"):
        read_rds(edge / "df_gene_column.rds")
    # '~' is the home folder, as on writing
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copy(edge / "sce_int_na.rds", tmp_path / "home.rds")
    with pytest.warns(UserWarning, match="NA values"):
        assert read_rds("~/home.rds").shape == (8, 6)
    with pytest.warns(UserWarning, match="NA values"):
        assert read_input("~/home.rds").shape == (8, 6)


@needs_r
def test_starting_r_leaves_child_processes_their_environment(fx):
    # R's startup sets LD_LIBRARY_PATH to R's library folders; Python child processes (Dask
    # workers, multiprocessing) inherited it and, on this Debian machine with pyenv's Python,
    # loaded the system's libpython and failed to import ssl
    from conftest import LD_LIBRARY_PATH_AT_START
    from sclstm.io import read_rds

    read_rds(fx["out"] / "biase_sce.rds")
    assert os.environ.get("LD_LIBRARY_PATH") == LD_LIBRARY_PATH_AT_START
    child = subprocess.run([sys.executable, "-c", "import ssl"], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr


def test_missing_rpy2_says_what_to_install(tmp_path, monkeypatch):
    """Runs without R too: with rpy2 unimportable the error names what to install."""
    from sclstm.io import _r

    f = tmp_path / "x.rds"
    with gzip.open(f, "wb") as fh:
        fh.write(b"X\n\x00\x00\x00\x03")
    monkeypatch.setattr(_r._R, "_instance", None)
    monkeypatch.setitem(sys.modules, "rpy2.rinterface", None)
    with pytest.raises(InputError) as err:
        _r.read_rds(f)
    msg = str(err.value)
    assert "pip install 'rpy2>=3.5'" in msg and "rpy2-rinterface" in msg and "r-base-core" in msg and "\n" not in msg


# ---------------------------------------------------------------------------------------
# writing, round trips, and R reading what Python wrote
# ---------------------------------------------------------------------------------------

def _with_results(a: ad.AnnData, seed=0):
    """An AnnData shaped like sclstm.tl.sclstm's output (clusters, embedding, similarity, parameters)."""
    a = a.copy()
    rng = np.random.default_rng(seed)
    k = 4
    codes = rng.integers(0, k, size=a.n_obs)
    codes[2] = -1  # a cell left out (NaN cluster)
    a.obs["sclstm"] = pd.Categorical.from_codes(codes, categories=[str(i) for i in range(k)])
    a.obs["sclstm_labelled"] = rng.random(a.n_obs) < 0.5
    a.obs["depth"] = rng.integers(0, 10**6, size=a.n_obs)  # int64 → R integer → int32
    a.obsm["X_sclstm"] = rng.normal(size=(a.n_obs, 8)).astype(np.float32)
    a.obsm["X_pca"] = rng.normal(size=(a.n_obs, 3))
    a.obsp["sclstm_similarity"] = rng.random((a.n_obs, a.n_obs)).astype(np.float32)
    a.uns["sclstm"] = {"n_clusters": k, "seed": seed, "k_method": "given", "head": "absdiff",
                       "curve": np.linspace(0, 1, 5), "versions": {"sclstm": "0.1.0", "torch": "2"},
                       "history": {"loss": [0.7, 0.5, 0.4]}, "layer": None, "flags": [True, False]}
    return a


def _check_roundtrip(a, b, extra_obs=()):
    assert list(b.obs_names) == list(a.obs_names) and list(b.var_names) == list(a.var_names)
    assert sp.issparse(b.X) and b.X.dtype == np.float64
    _same_csr(b.X, sp.csr_matrix(a.X).astype(np.float64))
    want_cols = [c for c in a.obs.columns]
    assert [c for c in b.obs.columns if c not in extra_obs] == want_cols
    for c in a.obs.columns:
        x, y = a.obs[c], b.obs[c]
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert list(y.cat.categories) == [str(v) for v in x.cat.categories], c
            np.testing.assert_array_equal(y.cat.codes.to_numpy(), x.cat.codes.to_numpy())
        elif x.dtype == bool:
            assert y.dtype == bool and y.tolist() == x.tolist()
        elif np.issubdtype(x.dtype, np.integer):
            assert y.dtype == np.int32
            np.testing.assert_array_equal(y.to_numpy(), x.to_numpy())
        elif np.issubdtype(x.dtype, np.floating):
            assert y.dtype == np.float64
            np.testing.assert_array_equal(y.to_numpy(), x.to_numpy().astype(np.float64))
        else:
            assert y.tolist() == x.tolist(), c
    for key in ("X_sclstm", "X_pca"):
        assert b.obsm[key].dtype == np.float64
        np.testing.assert_array_equal(b.obsm[key], a.obsm[key].astype(np.float64))
    s = b.uns["sclstm"]
    assert s["n_clusters"] == 4 and s["k_method"] == "given" and s["versions"] == {"sclstm": "0.1.0", "torch": "2"}
    np.testing.assert_array_equal(s["curve"], np.linspace(0, 1, 5))
    np.testing.assert_array_equal(s["history"]["loss"], [0.7, 0.5, 0.4])
    np.testing.assert_array_equal(s["flags"], [True, False])
    assert "layer" in s and s["layer"] is None
    for key in ("accession", "citation", "source"):
        assert b.uns[key] == a.uns[key]


@needs_r
def test_roundtrip_sce_and_r_reads_it(fx, tmp_path):
    from sclstm.io import read_rds, write_rds

    a = _with_results(fx["biase"])
    a.layers["logcounts"] = a.X.copy()
    a.layers["logcounts"].data = np.log1p(a.layers["logcounts"].data)
    f = tmp_path / "biase_out.rds"
    with pytest.warns(UserWarning, match=r"not written .*obsp\['sclstm_similarity'\]"):
        write_rds(a, f)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["biase_out.rds"]  # written whole, then renamed
    b = read_rds(f)
    _check_roundtrip(a, b)
    assert list(b.layers.keys()) == ["logcounts"]
    np.testing.assert_array_equal(b.layers["logcounts"].data, a.layers["logcounts"].data.astype(np.float64))
    assert set(b.obsm.keys()) == {"X_sclstm", "X_pca"}
    # a fresh R sees a valid SCE with the R package's names
    _rscript(FIXTURES / "check_written.R", f, tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["class"] == "SingleCellExperiment" and s["valid"]
    assert s["dim"] == [a.n_vars, a.n_obs] and s["counts_class"] == "dgCMatrix"
    assert s["assays"] == ["counts", "logcounts"]
    assert s["reduced"] == ["SCLSTM", "PCA"] and s["reduced_dims"] == {"SCLSTM": [a.n_obs, 8], "PCA": [a.n_obs, 3]}
    assert s["coldata"] == ["cell_type", "label_icm_te", "sclstm_clusters", "sclstm_labelled", "depth"]
    assert s["coldata_classes"] == {"cell_type": "factor", "label_icm_te": "factor", "sclstm_clusters": "factor",
                                    "sclstm_labelled": "logical", "depth": "integer"}
    assert s["cluster_levels"] == ["0", "1", "2", "3"]
    want = [None if v != v else v for v in a.obs["sclstm"].astype(object)]
    assert [None if v in (None, "NA") else v for v in s["cluster_values"]] == want
    assert s["metadata_sclstm"]["n_clusters"] == 4
    assert s["versions_class"] == "character" and s["versions"] == {"sclstm": "0.1.0", "torch": "2"}
    assert s["cells"] == list(a.obs_names) and s["genes"] == list(a.var_names) and s["emb_rownames_ok"]
    assert s["emb_colnames"] == [f"SCLSTM_{j}" for j in range(1, 9)]  # as the R package names them
    X = sp.csr_matrix(a.X)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "i.bin", dtype=np.int32), X.indices)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "p.bin", dtype=np.int32), X.indptr)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "x.bin"), X.data.astype(np.float64))
    emb = np.fromfile(tmp_path / "emb.bin").reshape(s["emb_dim"], order="F")
    np.testing.assert_array_equal(emb, a.obsm["X_sclstm"].astype(np.float64))


@needs_r
def test_roundtrip_seurat_and_r_reads_it(fx, tmp_path):
    from sclstm.io import read_rds, write_rds

    a = _with_results(fx["biase"], seed=1)
    f = tmp_path / "biase_seurat.rds"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        write_rds(a, f, kind="Seurat")
    b = read_rds(f)
    _check_roundtrip(a, b, extra_obs=("orig.ident", "nCount_RNA", "nFeature_RNA"))
    assert "ident" not in b.obs.columns  # the identities are the clusters, already a column
    _rscript(FIXTURES / "check_written.R", f, tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["class"] == "Seurat" and s["valid"] and s["counts_class"] == "dgCMatrix"
    assert s["dim"] == [a.n_vars, a.n_obs]
    assert s["reductions"] == ["sclstm", "pca"] and s["keys"] == {"sclstm": "SCLSTM_", "pca": "PC_"}
    assert "sclstm_clusters" in s["coldata"] and s["coldata_classes"]["sclstm_clusters"] == "factor"
    assert s["idents_equal_clusters"] and s["cluster_levels"] == ["0", "1", "2", "3"]
    assert s["misc_sclstm"]["n_clusters"] == 4
    assert s["reduction_misc_sclstm"]["n_clusters"] == 4  # where the R package keeps them too
    emb = np.fromfile(tmp_path / "emb.bin").reshape(s["emb_dim"], order="F")
    np.testing.assert_array_equal(emb, a.obsm["X_sclstm"].astype(np.float64))
    np.testing.assert_array_equal(np.fromfile(tmp_path / "x.bin"), sp.csr_matrix(a.X).data.astype(np.float64))


@needs_r
def test_cell_graphs_travel_between_obsp_and_seurat_graphs_or_sce_colpairs(fx, tmp_path):
    """Sparse obsp (scanpy's neighbour graphs) → Seurat graphs / SCE colPairs, and back; R's
    own graphs → obsp. Before: every obsp was left out, and an SCE's colPairs were not read."""
    from sklearn.neighbors import kneighbors_graph
    from sclstm.io import read_rds, write_rds

    a = fx["biase"].copy()
    a.obsp["distances"] = kneighbors_graph(np.log1p(sp.csr_matrix(a.X).toarray()), 5, mode="distance")
    a.obsp["connectivities"] = (a.obsp["distances"] > 0).astype(np.float32)
    a.obsp["sclstm_similarity"] = np.full((a.n_obs, a.n_obs), 0.5)  # dense: no graph
    a.obsp["cell_type"] = a.obsp["connectivities"].copy()  # a meta.data column's name in Seurat
    sce, seu = tmp_path / "sce.rds", tmp_path / "seu.rds"
    with pytest.warns(UserWarning, match=r"obsp\['sclstm_similarity'\] \(dense: only sparse graphs are written\)"):
        write_rds(a, sce)
    with pytest.warns(UserWarning, match=r"obsp\['cell_type'\] \(name taken\)"):
        write_rds(a, seu, kind="Seurat")
    # R sees them as its own kinds, and adds graphs of its own (the distances transposed)
    res = _rscript_expr(
        "suppressMessages({library(SeuratObject); library(SingleCellExperiment)}); a <- commandArgs(TRUE); "
        "s <- readRDS(a[1]); sce <- readRDS(a[2]); g <- s[['distances']]; "
        "cat(Graphs(s), class(g), DefaultAssay(g), identical(colnames(g), colnames(s)), "
        "colPairNames(sce), length(colPair(sce, 'distances')), sep = ' '); "
        "t_dist <- t(as(g, 'dgCMatrix')); snn <- as.Graph(t_dist); DefaultAssay(snn) <- 'RNA'; "
        "s[['RNA_snn']] <- snn; saveRDS(s, a[1]); colPair(sce, 'knn') <- unname(t_dist); saveRDS(sce, a[2])", seu, sce)
    assert res.stdout.split() == ["distances", "connectivities", "Graph", "RNA", "TRUE",
                                  "distances", "connectivities", "cell_type", str(a.obsp["distances"].nnz)]
    for f, want in ((seu, ["distances", "connectivities", "RNA_snn"]),
                    (sce, ["distances", "connectivities", "cell_type", "knn"])):
        b = read_rds(f)
        assert list(b.obsp.keys()) == want
        for key in want:
            expected = a.obsp["distances"].T if key in ("RNA_snn", "knn") else a.obsp[key]
            _same_csr(b.obsp[key], sp.csr_matrix(expected).astype(np.float64))


@needs_r
def test_seurat_details_only_in_the_dimreduc_are_read(fx, tmp_path):
    """Older R package versions kept the run's details only in the sclstm DimReduc's misc."""
    from sclstm.io import read_rds, write_rds

    f = tmp_path / "older.rds"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        write_rds(_with_results(fx["biase"]), f, kind="Seurat")
    _rscript("-e", f"x <- readRDS('{f}'); x@misc <- list(); saveRDS(x, '{f}')")
    assert read_rds(f).uns["sclstm"]["n_clusters"] == 4


@needs_r
def test_seurat_to_anndata_to_seurat(fx, tmp_path):
    """A Seurat object read and written again keeps counts, data, scale.data, variable features, pca."""
    from sclstm.io import read_rds, write_rds

    a = read_rds(fx["out"] / "pollen_seurat.rds")
    f = tmp_path / "again.rds"
    write_rds(a, f, kind="Seurat")
    b = read_rds(f)
    assert list(b.obs_names) == list(a.obs_names) and list(b.var_names) == list(a.var_names)
    _same_csr(b.X, a.X)
    _same_csr(b.layers["data"], a.layers["data"])
    pd.testing.assert_frame_equal(b.obsm["scale.data"], a.obsm["scale.data"])
    np.testing.assert_array_equal(b.obsm["X_pca"], a.obsm["X_pca"])
    np.testing.assert_array_equal(b.var["highly_variable"].to_numpy(), a.var["highly_variable"].to_numpy())
    pd.testing.assert_frame_equal(b.obs, a.obs)
    assert b.uns["sclstm"] == a.uns["sclstm"]


@needs_r
def test_seurat_idents_and_data_slot_keep_their_r_names_when_written_again(fx, tmp_path):
    """Before: Idents equal to a meta.data column (cell_type) came back as orig.ident from
    write_rds(kind="Seurat"), and the data slot became an SCE assay 'data', not 'logcounts'."""
    from sclstm.io import read_rds, write_rds

    a = read_rds(fx["out"] / "pollen_seurat.rds")
    write_rds(a, tmp_path / "s.rds", kind="Seurat")
    write_rds(a, tmp_path / "sce.rds")
    res = _rscript_expr("suppressMessages({library(SeuratObject); library(SingleCellExperiment)}); "
                        "s <- readRDS(commandArgs(TRUE)[1]); sce <- readRDS(commandArgs(TRUE)[2]); "
                        "cat(identical(Idents(s), setNames(s$cell_type, colnames(s))), assayNames(sce), "
                        "names(metadata(sce)), sep = ' ')", tmp_path / "s.rds", tmp_path / "sce.rds")
    assert res.stdout.split() == ["TRUE", "counts", "logcounts", "sclstm"]


@needs_r
@pytest.mark.parametrize("fixture, idents_are", [("pollen_seurat.rds", "s$cell_type"),
                                                 ("pollen_seurat_idents.rds", "Idents(readRDS(commandArgs(TRUE)[2]))")])
def test_seurat_idents_read_from_r_are_not_replaced_by_sclstm_clusters(fx, tmp_path, fixture, idents_are):
    """Before: write_rds(kind="Seurat") made sclstm_clusters the identities whenever the AnnData had
    ScLSTM clusters, so a read → write round trip of a Seurat object with a runScLSTM() result
    and its own Idents replaced them (audit of 2026-12-07). runScLSTM() itself leaves Idents
    unless set.ident = TRUE."""
    from sclstm.io import read_rds, write_rds

    a = read_rds(fx["out"] / fixture)
    a.obs["sclstm"] = pd.Categorical(np.arange(a.n_obs) % 3).astype(str)  # as a run would leave them
    write_rds(a, tmp_path / "s.rds", kind="Seurat")
    res = _rscript_expr("suppressMessages(library(SeuratObject)); s <- readRDS(commandArgs(TRUE)[1]); "
                        f"want <- {idents_are}; "
                        "cat(identical(as.character(Idents(s)), as.character(want)), "
                        "identical(levels(Idents(s)), levels(want)), 'sclstm_clusters' %in% colnames(s[[]]))",
                        tmp_path / "s.rds", fx["out"] / fixture)
    assert res.stdout.split() == ["TRUE", "TRUE", "TRUE"]


@needs_r
def test_dense_and_seurat_name_changes(fx, tmp_path):
    from sclstm.io import read_rds, write_rds

    bl = fx["blakeley"].copy()
    bl.X = bl.X.toarray()  # dense stays dense: an R matrix, not a dgCMatrix
    f = tmp_path / "dense.rds"
    write_rds(bl, f)
    d = read_rds(f)
    assert isinstance(d.X, np.ndarray) and d.X.dtype == np.float64
    np.testing.assert_array_equal(d.X, bl.X.astype(np.float64))
    # Seurat renames features with '_' (2 genes in Blakeley); R's warning reaches Python
    g = tmp_path / "seurat.rds"
    with pytest.warns(UserWarning, match=r"R: Feature names cannot have underscores"):
        write_rds(fx["blakeley"], g, kind="Seurat")
    s = read_rds(g)
    assert list(s.var_names) == [v.replace("_", "-") for v in bl.var_names]


@needs_r
def test_write_errors(fx, tmp_path):
    from sclstm.io import write_rds

    a = fx["blakeley"]
    with pytest.raises(InputError, match=r"kind must be 'SingleCellExperiment' or 'Seurat'"):
        write_rds(a, tmp_path / "x.rds", kind="loom")
    dup = a.copy()
    dup.obs_names = ["c"] * dup.n_obs
    with pytest.raises(InputError, match=r"obs_names_make_unique"):
        write_rds(dup, tmp_path / "x.rds")
    with pytest.raises(InputError, match=r"folder .* does not exist"):
        write_rds(a, tmp_path / "nope" / "x.rds")



@needs_r
def test_write_seurat_counts_layer_fills_the_counts_slot(fx, tmp_path):
    """scanpy keeps normalised values in X and counts in layers['counts']: Seurat's counts slot
    takes the counts (it took X, and dropped the counts with only a warning)."""
    from sclstm.io import read_rds, write_rds

    a = fx["blakeley"][:, :200].copy()
    a.layers["counts"] = a.X.copy()
    a.X = a.X.copy()
    a.X.data = np.log1p(a.X.data)
    before = a.copy()
    f = tmp_path / "norm.rds"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left out
        write_rds(a, f, kind="Seurat")
    res = subprocess.run(["Rscript", "-e", f"x <- readRDS('{f}'); "
                          "cat(sum(SeuratObject::GetAssayData(x, slot = 'counts')), "
                          "sum(SeuratObject::GetAssayData(x, slot = 'data')), sum(x$nCount_RNA), sep = '\\n')"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    counts_sum, data_sum, ncount_sum = map(float, res.stdout.split())
    want = float(a.layers["counts"].astype(np.float64).sum())
    assert counts_sum == pytest.approx(want) and ncount_sum == pytest.approx(want)
    assert data_sum == pytest.approx(float(a.X.astype(np.float64).sum()))
    b = read_rds(f)
    _same_csr(b.X, a.layers["counts"].astype(np.float64))
    _same_csr(b.layers["data"], a.X.astype(np.float64))
    # nothing the user gave is modified
    _same_csr(a.X, before.X)
    _same_csr(a.layers["counts"], before.layers["counts"])
    # with a data layer as well, X has no slot: said
    a.layers["data"] = a.X.copy()
    with pytest.warns(UserWarning, match=r"not written .*X \(layers\['counts'\] and layers\['data'\]"):
        write_rds(a, tmp_path / "both.rds", kind="Seurat")


@needs_r
def test_write_object_column_of_booleans_is_logical(fx, tmp_path):
    """True / False / None in an object column is an R logical with NA, not the text "True"."""
    from sclstm.io import read_rds, write_rds

    a = fx["blakeley"][:5, :50].copy()
    a.obs["passed"] = pd.Series([True, False, None, True, np.nan], index=a.obs_names, dtype=object)
    f = tmp_path / "bool.rds"
    write_rds(a, f)
    res = subprocess.run(["Rscript", "-e", f"suppressPackageStartupMessages(library(SingleCellExperiment)); "
                          f"v <- readRDS('{f}')$passed; cat(class(v), as.character(v), sep = ' ')"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["logical", "TRUE", "FALSE", "NA", "TRUE", "NA"]
    b = read_rds(f)
    assert b.obs["passed"].dtype == "boolean"
    assert b.obs["passed"].tolist() == [True, False, pd.NA, True, pd.NA]
    assert a.obs["passed"].dtype == object  # the user's column is unchanged


@needs_r
def test_written_levels_and_clusters_column_are_what_r_writes(fx, tmp_path):
    """Whole-number float categories are written as R writes them ("2", not "2.0", which an R run
    on the same column gives); the sclstm DimReduc records its clusters column, as the R package
    does, so that a later run under another reduction.name warns before replacing them."""
    from sclstm.io import write_rds

    a = _with_results(fx["biase"], seed=1)
    a.obs["code"] = pd.Categorical(np.where(np.arange(a.n_obs) % 2, 2.0, 10.0))
    f = tmp_path / "codes.rds"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        write_rds(a, f, kind="Seurat")
    res = subprocess.run(["Rscript", "-e", f"suppressPackageStartupMessages(library(SeuratObject)); s <- readRDS('{f}'); "
                          "cat(levels(s$code), s[['sclstm']]@misc$clusters_column, sep = ' ')"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["2", "10", "sclstm_clusters"]


@needs_r
def test_kidney_converts_in_seconds(tmp_path):
    from sclstm.io import read_rds, write_rds

    k = load("human_kidney_top2000")
    f = tmp_path / "kidney.rds"
    write_rds(k, tmp_path / "warm.rds")  # the first call loads R packages; time the conversion itself
    t0 = time.perf_counter()
    write_rds(k, f)
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = read_rds(f)
    t_read = time.perf_counter() - t0
    print(f"\nkidney {k.n_obs} cells x {k.n_vars} genes, nnz {k.X.nnz}: write_rds {t_write:.2f} s, "
          f"read_rds {t_read:.2f} s")
    _same_csr(b.X, k.X.astype(np.float64))
    assert list(b.obs["cell_type"].cat.categories) == list(k.obs["cell_type"].cat.categories)
    assert t_write + t_read < 60


# ---------------------------------------------------------------------------------------
# the CLI on R files
# ---------------------------------------------------------------------------------------

@needs_r
def test_cli_cluster_on_rds(fx, tmp_path):
    """`sclstm cluster IN.rds --out OUT.rds` (.RData:name input is covered by read_input above)."""
    from sclstm.io import read_rds

    exe = Path(sys.executable).parent / "sclstm"
    if not exe.exists():
        pytest.skip(f"{exe} is not installed")
    out = tmp_path / "clustered.rds"
    cmd = [str(exe), "cluster", str(fx["out"] / "biase_sce.rds"), "--out", str(out), "--n-clusters", "4",
           "--seed", "0", "--quiet", "--n-steps", "20"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    a = read_rds(out)
    assert a.shape == fx["biase"].shape
    assert isinstance(a.obs["sclstm"].dtype, pd.CategoricalDtype) and len(a.obs["sclstm"].cat.categories) == 4
    assert a.obsm["X_sclstm"].shape[0] == a.n_obs and a.uns["sclstm"]["n_clusters"] == 4
    # what was read is kept: colData, reducedDims
    assert "X_pca" in a.obsm and "cell_type" in a.obs.columns
    _rscript(FIXTURES / "check_written.R", out, tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["class"] == "SingleCellExperiment" and "SCLSTM" in s["reduced"]
    assert s["cluster_levels"] == list(a.obs["sclstm"].cat.categories)
    assert s["cluster_values"] == a.obs["sclstm"].astype(str).tolist()
    # an .RData with two candidates and no name: one clear line, exit status non-zero
    res = subprocess.run([str(exe), "cluster", str(fx["out"] / "two.RData"), "--out", str(tmp_path / "x.h5ad")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "holds 2 objects" in res.stderr
    assert len([line for line in res.stderr.splitlines() if line.strip()]) == 1, res.stderr



@needs_r
def test_logical_and_text_matrices_are_not_read_as_counts(tmp_path):
    """Before: a TRUE/FALSE matrix (dense or sparse) became 0/1 counts that sclstm clustered without
    a word, while a boolean array from Python was refused; a text matrix was "objects of class
    'matrix' are not supported". Also: read_rds's arguments are checked ("no" read as True)."""
    from sclstm import ScLSTM
    from sclstm.io import read_rds

    _rscript_expr("suppressPackageStartupMessages(library(Matrix)); set.seed(1); "
                  "m <- matrix(rpois(200, 2), 20, 10, dimnames = list(paste0('g', 1:20), paste0('c', 1:10))); "
                  f"saveRDS(m > 1, '{tmp_path / 'lgl.rds'}'); "
                  f"saveRDS(as(m > 1, 'CsparseMatrix'), '{tmp_path / 'lgc.rds'}'); "
                  f"saveRDS(as(as(m > 1, 'CsparseMatrix'), 'nMatrix'), '{tmp_path / 'ngc.rds'}'); "
                  f"m2 <- m; storage.mode(m2) <- 'character'; saveRDS(m2, '{tmp_path / 'chr.rds'}')")
    for name in ("lgl", "lgc", "ngc"):
        a = read_rds(tmp_path / f"{name}.rds", genes_by_cells=True)
        assert a.X.dtype == bool and a.shape == (10, 20), name
        with pytest.raises(InputError, match="must be numeric, got dtype bool"):
            ScLSTM(n_clusters=2, n_steps=5).fit(a)
    with pytest.raises(InputError, match=r"a matrix of character values, not numbers; counts must be numeric"):
        read_rds(tmp_path / "chr.rds", genes_by_cells=True)
    with pytest.raises(InputError, match="genes_by_cells must be True, False or None, got 'no'"):
        read_rds(tmp_path / "lgl.rds", genes_by_cells="no")
    with pytest.raises(InputError, match=r"the file to read must be a path \(str or Path\), got NoneType"):
        read_rds(None)


def _promise_file(path: Path, mark: Path, rdata: bool, compiled: bool, names=("x",)) -> None:
    """An R file (ASCII serialization) whose object is a stored promise to run
    file.create(mark): the form of CVE-2024-27322, which R before 4.4 runs when the object is
    used. ``compiled``: the promise's code byte-compiled, with a constant where substitute()
    looks for its expression (a first check, by substitute(), let it through: review helper-64)."""
    escaped = "".join(c if c.isalnum() or c in "/._-" else "\\%03o" % ord(c) for c in str(mark))
    head = "A\n3\n262658\n197888\n5\nUTF-8\n"
    if compiled:
        made = _rscript_expr(
            f'b <- compiler::compile(quote(file.create("{mark}"))); d <- .Internal(disassemble(b)); '
            "consts <- list(42, d[[3]][[2]], d[[3]][[3]], d[[3]][[1]], d[[3]][[4]]); code <- d[[2]]; code[7] <- 3L; "
            "cat(rawToChar(serialize(.Internal(mkCode(code, consts)), NULL, ascii = TRUE)))").stdout
        code = made.split("\n", 6)[6]  # the serialized code, after the 6 header lines
    else:
        code = f"6\n1\n262153\n11\nfile.create\n2\n16\n1\n262153\n{len(str(mark).encode())}\n{escaped}\n254\n"
    promise = "1029\n253\n252\n" + code
    bindings = "".join(f"1026\n1\n262153\n{len(n)}\n{n}\n{promise.rstrip(chr(10))}\n" for n in names)
    text = f"RDA3\n{head}{bindings}254\n" if rdata else head + promise
    path.write_text(text)


@needs_r
@pytest.mark.parametrize("compiled", [False, True], ids=["plain", "byte-compiled"])
@pytest.mark.parametrize("name", ["evil.rds", "evil.RData"])
def test_an_r_file_holding_code_is_refused_without_running_it(tmp_path, name, compiled):
    """Before: reading such a file (sclstm cluster evil.rds) created the marker, i.e. ran the
    file's code, then failed on the value (audit helper-60). The file does run in plain R 4.2."""
    mark = tmp_path / "ran"
    _promise_file(tmp_path / name, mark, rdata=name.endswith("RData"), compiled=compiled)
    old_r = _rscript_expr('cat(getRversion() < "4.4.0")').stdout.strip() == "TRUE"
    with pytest.raises(InputError) as refused:
        read_input(str(tmp_path / name))
    assert not mark.exists()
    if not old_r and name.endswith("rds"):  # R 4.4 refuses a promise atop an .rds itself, in its own words
        return
    what = "the file" if name.endswith("rds") else "its object 'x'"
    assert re.search(rf"{what} holds a stored promise, R code that R runs when the object is used \(CVE-2024-27322\); "
                     r"it was not read",
                     str(refused.value)), refused.value
    use = f"x <- readRDS('{tmp_path / name}'); print(x)" if name.endswith("rds") else f"print(get(load('{tmp_path / name}')))"
    _rscript_expr(use)
    assert mark.exists()  # the same file in R itself: the check is not vacuous
    if name.endswith("RData"):  # several, under names base R has too (inspect adds "(has value)" to those)
        _promise_file(tmp_path / "two.RData", mark, rdata=True, compiled=compiled, names=("c", "matrix"))
        with pytest.raises(InputError, match="its objects 'c', 'matrix' hold a stored promise"):
            read_input(str(tmp_path / "two.RData:c"))


@needs_r
def test_an_rdata_with_a_formula_or_a_call_beside_the_data_is_read(tmp_path):
    """Language objects are data too (a DESeq2 design formula saved beside the counts): a first
    check, by the code substitute() finds, refused the whole file (review helper-64)."""
    path = tmp_path / "with_design.RData"
    _rscript_expr(f"m <- matrix(as.numeric(1:200), 20, dimnames = list(paste0('g', 1:20), paste0('c', 1:10))); "
                  f"design <- ~ batch + condition; step <- quote(runPCA(sce)); save(m, design, step, file = '{path}')")
    a = read_input(f"{path}:m")
    assert a.shape == (10, 20) and a.X[0, 0] == 1
