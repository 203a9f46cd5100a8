"""sclstm.datasets.simulate: planted-type counts, deterministic, chunked, written incrementally."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sclstm import datasets
from sclstm.datasets import load_demo, simulate
from sclstm.validation import InputError


@pytest.fixture(scope="module")
def demo():
    return load_demo()


@pytest.fixture(scope="module")
def small_ref():
    """4 types × 50 genes, 40 cells; genes named g0.. so that var_names can be traced."""
    rng = np.random.default_rng(0)
    means = rng.gamma(0.5, 2.0, size=(4, 50))
    labels = np.repeat(["a", "b", "c", "d"], [16, 12, 8, 4])
    X = rng.poisson(means[np.searchsorted(["a", "b", "c", "d"], labels)] * 3).astype(np.float32)
    X[:, 0] += 1  # no empty cell
    obs = pd.DataFrame({"cell_type": pd.Categorical(labels), "other": labels}, index=[f"c{i}" for i in range(40)])
    return ad.AnnData(sp.csr_matrix(X), obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(50)]))


@pytest.fixture(scope="module")
def sim(small_ref):
    return simulate(3000, n_types=6, reference=small_ref, n_genes=50, random_state=3)


def test_same_seed_same_counts(small_ref, sim):
    again = simulate(3000, n_types=6, reference=small_ref, n_genes=50, random_state=3)
    assert (again.X != sim.X).nnz == 0
    np.testing.assert_array_equal(again.obs["cell_type"], sim.obs["cell_type"])
    other = simulate(3000, n_types=6, reference=small_ref, n_genes=50, random_state=4)
    assert (other.X != sim.X).nnz > 0
    # the same arguments name the cells alike; another simulation's cells share no name with them
    # (before: cell_0, cell_1, ... in every file, so apply took new cells for trained-on ones)
    assert list(again.obs_names) == list(sim.obs_names)
    assert not set(other.obs_names) & set(sim.obs_names)


def test_shapes_labels_counts(small_ref, sim):
    assert sim.shape == (3000, 50)
    assert sp.isspmatrix_csr(sim.X) and sim.X.dtype == np.float32
    assert np.all(sim.X.data > 0) and np.all(sim.X.data == np.round(sim.X.data))
    assert np.all(np.asarray(sim.X.sum(axis=1)).ravel() > 0)  # no empty cell
    lab = sim.obs["cell_type"]
    assert isinstance(lab.dtype, pd.CategoricalDtype)
    assert list(lab.cat.categories) == [f"type_{i}" for i in range(6)]
    sizes = lab.value_counts()
    assert sizes.min() >= 0.2 / 6 * 3000 * 0.9 and sizes.max() > 1.5 * sizes.min()  # unequal, none tiny
    assert list(sim.var_names) == list(small_ref.var_names)
    rec = sim.uns["simulation"]
    assert rec["n_cells"] == 3000 and rec["n_types"] == 6 and rec["random_state"] == 3
    np.testing.assert_array_equal(rec["type_sizes"], [sizes[f"type_{i}"] for i in range(6)])
    # 4 reference types, largest first, then 2 perturbed ones
    assert list(rec["source_type"][:4]) == ["a", "b", "c", "d"]
    assert all(s.endswith("*") for s in rec["source_type"][4:])


def test_types_follow_their_profiles(small_ref, sim):
    """Mean profile per simulated base type correlates best with its own reference type."""
    X = sim.X.toarray()
    X = X / X.sum(axis=1, keepdims=True)
    R = small_ref.X.toarray()
    R = R / R.sum(axis=1, keepdims=True)
    lab = sim.obs["cell_type"].to_numpy()
    ref_lab = small_ref.obs["cell_type"].to_numpy()
    for i, name in enumerate("abcd"):
        m = X[lab == f"type_{i}"].mean(axis=0)
        corr = [np.corrcoef(m, R[ref_lab == other].mean(axis=0))[0, 1] for other in "abcd"]
        assert int(np.argmax(corr)) == i


def test_chunk_size_does_not_change_counts(small_ref, sim):
    chunked = simulate(3000, n_types=6, reference=small_ref, n_genes=50, random_state=3, chunk_size=37)
    assert (chunked.X != sim.X).nnz == 0


def test_written_file_equals_in_memory(tmp_path, small_ref, sim):
    path = tmp_path / "sub" / "sim.h5ad"
    out = simulate(3000, n_types=6, reference=small_ref, n_genes=50, random_state=3, path=path, chunk_size=1000)
    assert out == str(path) and sorted(p.name for p in path.parent.iterdir()) == ["sim.h5ad"]  # no partial file left
    back = ad.read_h5ad(path)
    assert back.shape == sim.shape and (back.X != sim.X).nnz == 0 and back.X.dtype == np.float32
    np.testing.assert_array_equal(back.obs["cell_type"], sim.obs["cell_type"])
    assert list(back.obs_names) == list(sim.obs_names) and list(back.var_names) == list(sim.var_names)
    assert back.uns["simulation"]["n_cells"] == 3000
    # one index dtype, as scipy makes it (before: int64 indptr, int32 indices, and tocoo() failed)
    assert back.X.indptr.dtype == back.X.indices.dtype
    assert back.X.tocoo().nnz == sim.X.nnz
    backed = ad.read_h5ad(path, backed="r")
    try:
        assert backed.shape == (3000, 50)
        part = backed.X[100:200]
        assert (sp.csr_matrix(part) != sim.X[100:200]).nnz == 0
    finally:
        backed.file.close()


def test_gzip_file(tmp_path, small_ref, sim):
    path = simulate(3000, n_types=6, reference=small_ref, n_genes=50, random_state=3,
                    path=tmp_path / "z.h5ad", chunk_size=500, compression="gzip")
    assert (ad.read_h5ad(path).X != sim.X).nnz == 0


def test_default_reference_is_the_demo(demo):
    a = simulate(200, n_types=3, n_genes=100, random_state=0)
    assert a.shape == (200, 100)
    assert set(a.var_names) <= set(demo.var_names)  # the 100 most variable demo genes
    rec = a.uns["simulation"]
    assert rec["depth_median"] == datasets.DEMO_DEPTH and rec["reference"].startswith("sclstm demo")
    assert len(set(rec["source_type"])) == 3 and not any(s.endswith("*") for s in rec["source_type"])


def test_reference_from_path_labels_key_and_depth(tmp_path, small_ref):
    p = tmp_path / "ref.h5ad"
    small_ref.write_h5ad(p)
    a = simulate(100, n_types=2, reference=str(p), labels_key="other", n_genes=20, depth=1000, random_state=1)
    assert a.shape == (100, 20) and a.uns["simulation"]["depth_median"] == 1000
    assert abs(np.log(np.median(np.asarray(a.X.sum(axis=1)))) - np.log(1000)) < 0.5


def test_poisson_and_per_gene_dispersion(small_ref):
    pois = simulate(500, n_types=3, reference=small_ref, n_genes=50, dispersion=0)
    per_gene = simulate(500, n_types=3, reference=small_ref, n_genes=50, dispersion=np.linspace(0, 2, 50))
    assert pois.shape == per_gene.shape == (500, 50)
    # each gene its own dispersion (before, only the shape was checked): the genes of dispersion
    # 1.4–2 gain zeros over Poisson (measured +0.15 to +0.17 of their cells, seeds 0–3), the
    # genes near 0 hardly (within 0.11)
    extra_zeros = (per_gene.X.toarray() == 0).mean(0) - (pois.X.toarray() == 0).mean(0)
    assert extra_zeros[-15:].mean() > 0.1 and abs(extra_zeros[:5].mean()) < 0.05
    nb = simulate(500, n_types=3, reference=small_ref, n_genes=50, dispersion=2.0)
    # overdispersion: more zeros than Poisson at the same means
    assert nb.X.nnz < pois.X.nnz


def test_n_cells_equal_n_types(small_ref):
    a = simulate(5, n_types=5, reference=small_ref, n_genes=50)
    assert sorted(a.obs["cell_type"].astype(str)) == [f"type_{i}" for i in range(5)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_cells=3, n_types=4), r"n_cells \(3\) must be at least n_types \(4\)"),
        (dict(n_cells=10, n_types=1), "n_types must be at least 2"),
        (dict(n_cells=10.5), "n_cells must be an integer"),
        (dict(n_cells=10, n_genes=51), "fewer than n_genes=51"),
        (dict(n_cells=10, labels_key="nope"), r"no obs\['nope'\]"),
        (dict(n_cells=10, dispersion=-1), "dispersion must be a non-negative"),
        (dict(n_cells=10, dispersion=[0.1, 0.2]), "dispersion has 2 values"),
        (dict(n_cells=10, chunk_size=0), "chunk_size must be at least 1"),
        (dict(n_cells=10, random_state=-1), "random_state must be at least 0"),
        (dict(n_cells=10, depth=0), "depth must be a positive number"),
        (dict(n_cells=10, depth=True), "depth must be a positive number"),
        (dict(n_cells=10, random_state=2**64), r"random_state must be at most 2\*\*63 - 1"),
        (dict(n_cells=10, path=123), "path must be a file name"),
        (dict(n_cells=10, path="cells.zarr"), r"writes an \.h5ad file; name it so \(got 'cells.zarr'\)"),
        (dict(n_cells=10, perturb_genes=2), "perturb_genes must be a fraction"),
        (dict(n_cells=10, compression="zstd"), "compression must be"),
    ],
)
def test_bad_input(small_ref, kwargs, match):
    kwargs = dict(dict(reference=small_ref, n_genes=50, n_types=2), **kwargs)
    with pytest.raises(InputError, match=match):
        simulate(**kwargs)


def test_bad_reference(tmp_path, small_ref):
    with pytest.raises(InputError, match="reference file not found"):
        simulate(10, n_types=2, reference=tmp_path / "missing.h5ad")
    with pytest.raises(InputError, match="reference must be an AnnData"):
        simulate(10, n_types=2, reference=np.zeros((3, 3)))
    one = small_ref[small_ref.obs["cell_type"] == "a"].copy()
    with pytest.raises(InputError, match="at least 2 types"):
        simulate(10, n_types=2, reference=one, n_genes=50)


def test_in_memory_limit(small_ref, monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "IN_MEMORY_LIMIT_GIB", 1e-6)
    with pytest.raises(InputError, match="pass path="):
        simulate(2000, n_types=2, reference=small_ref, n_genes=50)
    # a file is not limited
    assert ad.read_h5ad(simulate(2000, n_types=2, reference=small_ref, n_genes=50, path=tmp_path / "x.h5ad")).n_obs == 2000


def test_reference_types_fold_perturbed_types_into_their_parent(sim):
    ref = datasets.reference_types(sim)
    planted = sim.obs["cell_type"].astype(str).to_numpy()
    source = sim.uns["simulation"]["source_type"]
    assert set(ref) <= {"a", "b", "c", "d"}
    for i, s in enumerate(source):  # type_i's cells all carry type_i's reference (parent) type
        assert set(ref[planted == f"type_{i}"]) == {s.rstrip("*")}
    with pytest.raises(InputError, match="not made by sclstm.datasets.simulate"):
        datasets.reference_types(ad.AnnData(np.ones((3, 2), dtype=np.float32)))


def test_the_output_is_checked_before_any_work_and_never_the_reference(tmp_path, small_ref):
    """Before: path = the reference file replaced the user's data with the simulation; a file
    in the way of the folder, or a folder at path, gave a traceback (the latter after all the
    work); "~" made a folder named "~"."""
    ref = tmp_path / "ref.h5ad"
    small_ref.write_h5ad(ref)
    before = ref.read_bytes()
    with pytest.raises(InputError, match="is the reference's own file"):
        simulate(100, n_genes=50, reference=str(ref), path=ref)
    with pytest.raises(InputError, match="is the reference's own file"):
        simulate(100, n_genes=50, reference=ad.read_h5ad(ref, backed="r"), path=ref)
    assert ref.read_bytes() == before
    (tmp_path / "afile").write_text("")
    with pytest.raises(InputError, match="afile is a file, not a folder"):
        simulate(100, n_genes=50, reference=small_ref, path=tmp_path / "afile" / "deeper" / "sim.h5ad")
    (tmp_path / "adir.h5ad").mkdir()
    with pytest.raises(InputError, match="it is a folder"):
        simulate(100, n_genes=50, reference=small_ref, path=tmp_path / "adir.h5ad")


def test_a_missing_drive_is_named_not_looped_on(small_ref, monkeypatch):
    """An unplugged drive or unreachable share (E:\\, \\\\server\\share): a root's parent is the
    root, so the search for an existing folder never ended. Here every path is made missing."""
    import pathlib

    monkeypatch.setattr(pathlib.Path, "exists", lambda self: False)
    with pytest.raises(InputError, match=r"cannot write .*sim.h5ad: \S+ does not exist"):
        simulate(100, n_genes=50, reference=small_ref, path="/gone/sim.h5ad")


def test_a_folder_where_no_folder_can_be_made_is_refused_before_any_work(tmp_path, small_ref, monkeypatch):
    """The folders path names are made in the nearest existing one, which is tried as an
    output's folder is, by making a file: os.access alone says yes to every folder on Windows."""
    import tempfile

    def refused(*a, dir=None, **k):
        raise PermissionError(13, "Access is denied", str(dir))

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with pytest.raises(InputError, match=rf"no permission to write in {tmp_path}, where its folders would be made"):
        simulate(100, n_genes=50, reference=small_ref, path=tmp_path / "new" / "sim.h5ad")
    assert not (tmp_path / "new").exists()


def test_home_is_expanded(tmp_path, small_ref, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    out = simulate(100, n_genes=50, reference=small_ref, path="~/made/sim.h5ad")
    assert out == str(tmp_path / "made" / "sim.h5ad") and not (tmp_path / "~").exists()


def test_two_references_under_one_name_give_other_cell_names(small_ref, sim):
    """The name tag covers the reference's content: before, a reference with its genes in
    another order gave other counts under the same cell names (which `sclstm apply` would
    take for cells a model had trained on)."""
    reordered = small_ref[:, ::-1].copy()
    other = simulate(3000, n_types=6, reference=reordered, n_genes=50, random_state=3)
    assert not set(other.obs_names) & set(sim.obs_names)
