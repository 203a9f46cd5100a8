"""Datasets: the small demo dataset shipped with the package."""
from __future__ import annotations

from importlib import resources

import anndata as ad


def demo_path() -> str:
    return str(resources.files("sclstm") / "data" / "pollen_demo.h5ad")


def load_demo() -> ad.AnnData:
    """Pollen et al. 2014: 299 cells × 3000 genes (raw counts), 11 published types in ``obs["cell_type"]``.

    The 3000 genes are the most variable of those detected in ≥ 3 cells (see
    scripts/make_demo_data.py); counts are unchanged.
    """
    return ad.read_h5ad(demo_path())
