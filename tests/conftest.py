"""Shared fixtures: the real labelled datasets in ../shared/data (beside the repository)."""
from pathlib import Path

import anndata as ad
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__import__("os").environ.get("SCLSTM_DATA", REPO.parent / "shared" / "data"))
# as the session began, before anything started R (tests/test_io_r.py checks R leaves it so)
LD_LIBRARY_PATH_AT_START = __import__("os").environ.get("LD_LIBRARY_PATH")


def dataset_path(name: str) -> Path:
    path = DATA / f"{name}.h5ad"
    if not path.exists():
        pytest.fail(f"test data missing: {path} (set SCLSTM_DATA to the folder with the .h5ad files)")
    return path


def load(name: str) -> ad.AnnData:
    return ad.read_h5ad(dataset_path(name))


@pytest.fixture(scope="session")
def biase():
    return load("biase")


@pytest.fixture(scope="session")
def blakeley():
    return load("blakeley")


@pytest.fixture(scope="session")
def pollen():
    return load("pollen")
