"""A real labelled dataset outside the seven, for a check no default was chosen on.

scanpy's wheel ships ``pbmc68k_reduced`` (700 PBMCs from Zheng et al. 2017, 10x, 765 highly
variable genes; ``obs["bulk_labels"]``: the 10 labels Zheng et al. gave each cell by
correlation with FACS-purified populations). Its ``raw.X`` holds log1p of counts scaled to
10,000 per cell over all genes, and ``obs["n_counts"]`` the cells' totals, so the counts of
the 765 genes are ``expm1(raw.X) * n_counts / 1e4``, rounded: whole numbers to within 0.12.
This writes them in the layout of ``../shared/data`` (X counts, CSR float32;
``obs["cell_type"]``) so the accuracy benchmark reads the file like the others.

Run:  .venv/bin/python benchmarks/heldout_data.py [--out DIR]   (default benchmarks/heldout-data/)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "heldout-data"
NAME = "pbmc68k_reduced"


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="folder to write pbmc68k_reduced.h5ad into")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    a = pbmc68k_counts()
    a.write_h5ad(out / f"{NAME}.h5ad", compression="gzip")
    print(f"wrote {out / (NAME + '.h5ad')}: {a.n_obs} cells x {a.n_vars} genes, "
          f"{a.obs['cell_type'].nunique()} types; {a.uns['notes']}")


if __name__ == "__main__":
    main()
