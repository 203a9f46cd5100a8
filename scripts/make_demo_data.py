"""Build the demo dataset shipped in python/sclstm/data/pollen_demo.h5ad.

Pollen et al. 2014 (SRP041736), as in ../shared/data/pollen.h5ad: 299 cells, 11 published
types, raw counts unchanged. To keep the package small, only the 3,000 genes with the
largest variance of log depth-normalised expression (among genes detected in ≥ 3 cells)
are kept. Run: .venv/bin/python scripts/make_demo_data.py ../shared/data/pollen.h5ad
"""
import sys

import anndata as ad
import numpy as np
import scipy.sparse as sp

from sclstm.preprocessing import filter_genes, normalise_log

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/pollen.h5ad"
out = sys.argv[2] if len(sys.argv) > 2 else "python/sclstm/data/pollen_demo.h5ad"
a = ad.read_h5ad(src)
X = sp.csr_matrix(a.X)
kept = filter_genes(X, 3)
logX = normalise_log(X[:, kept])
mean = np.asarray(logX.mean(axis=0)).ravel()
var = np.asarray(logX.multiply(logX).mean(axis=0)).ravel() - mean**2
genes = np.sort(kept[np.argsort(-var, kind="stable")[:3000]])
demo = ad.AnnData(X=sp.csr_matrix(X[:, genes], dtype=np.float32), obs=a.obs[["cell_type"]].copy(), var=a.var.iloc[genes].copy())
demo.uns["citation"] = str(a.uns.get("citation", "Pollen et al. 2014"))
demo.uns["accession"] = str(a.uns.get("accession", "SRP041736"))
demo.uns["notes"] = "sclstm demo: 299 cells, raw counts, the 3000 most variable of the genes detected in >= 3 cells"
demo.write_h5ad(out, compression="gzip", compression_opts=9)
print(out, demo.shape)
